"""Panoptic (VPS) and instance (VIS) post-processing of one clip: pure tensor functions.

The panoptic rule is the official mask-wise one of Axial-VS / kMaX-DeepLab:

- class score of a query = the largest softmax probability among the non-void classes;
- mask probabilities = softmax over the queries at every pixel; binary mask = prob > pixel
  threshold; mask score = mean probability inside the binary mask;
- queries are visited by class score x mask score (highest first) and paint the still unpainted
  part of their binary mask when their class score passes the thing / stuff threshold and that
  new part is larger than ``overlap`` x the whole binary mask;
- stuff queries of one class form one segment (the caller gives every stuff query of a class
  the same segment id).

The official code post-processes a whole video at once; the runners here call these functions
clip by clip (see `tracking`), so the mask score and the overlap test are per clip;
`video_level` applies the rule over the whole video (`--post video`).

The binary masks come from `masks.clip_masks` as runs of pixels; painting works on the sets of
slots that cover each piece of a frame ("cover sets"): the overlap test of a slot needs only
how many pixels each set covers, and a pixel's owner is the first accepted slot of its set, so
no step makes a pass per query over the frame.
Shapes: N queries, C classes (+1 void), T frames, h, w stride-4 size, H, W output size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .masks import ClipMasks, cover_pieces

__all__ = [
    "ClipPainting",
    "Thresholds",
    "class_scores",
    "count_sets",
    "decide_painting",
    "members_of",
    "owner_maps",
    "paint_clip",
    "paint_panoptic",
    "set_owners",
]


@dataclass(frozen=True)
class Thresholds:
    """Post-processing thresholds (official VIPSeg values by default: near-online)."""

    thing: float = 0.2  # class score a thing query needs
    stuff: float = 0.3  # class score a stuff query needs (0.45 offline)
    pixel: float = 0.3  # mask probability of a pixel in a binary mask (0.2 offline)
    overlap: float = 0.8  # fraction of a mask that must still be unpainted

    def __post_init__(self) -> None:
        for name in ("thing", "stuff", "pixel", "overlap"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"the {name} threshold must lie in [0, 1], got {value}")


def class_scores(class_logits: Tensor) -> tuple[Tensor, Tensor]:
    """(N, C+1) logits (last = void) -> (scores (N,), labels (N,)): best non-void class."""
    probs = class_logits.float().softmax(dim=-1)[..., :-1]
    return probs.max(dim=-1)


def decide_painting(
    members: Tensor,
    counts: Tensor,
    order: list[int],
    confident: list[bool],
    areas: list[int],
    overlap: float,
) -> list[int]:
    """Which slots paint, in painting order, from the pixel counts of the cover sets.

    Visiting slots in `order`, a slot's new pixels are those of the sets that contain it and
    no slot accepted before it; this equals the painting loop over whole binary masks.

    Args:
        members: (M, N) bool, the slots of each distinct cover set.
        counts: (M,) pixels covered by exactly that set.
        order: slots by decreasing class score x mask score.
        confident: per slot, whether its class score passes its threshold.
        areas: per slot, the pixels of its binary mask.
        overlap: the overlap threshold.
    """
    blocked = torch.zeros(members.shape[0], dtype=torch.bool)
    accepted = []
    counts = counts.to(torch.int64)
    for slot in order:
        if not confident[slot] or areas[slot] == 0:
            continue
        mine = members[:, slot]
        new = int(counts[mine & ~blocked].sum())
        if new > overlap * areas[slot]:
            accepted.append(slot)
            blocked |= mine
    return accepted


def members_of(keys: np.ndarray, n: int) -> Tensor:
    """(M, words) int64 cover-set keys -> (M, N) bool membership."""
    bits = np.arange(63, dtype=np.int64)
    expanded = (keys[:, :, None] >> bits) & 1  # (M, words, 63)
    return torch.from_numpy(expanded.reshape(keys.shape[0], -1)[:, :n].astype(bool))


def count_sets(keys: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows of (P, words) keys: (distinct (M, words), pixels (M,), inverse (P,))."""
    if keys.shape[1] == 1:  # torch's sorted unique: the same result, ~5x faster than numpy's
        found, where = torch.unique(torch.from_numpy(keys[:, 0]), return_inverse=True)
        values, inverse = found.numpy()[:, None], where.numpy()
    else:
        values, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse, weights=lengths, minlength=values.shape[0]).astype(np.int64)
    return values, counts, inverse


def set_owners(members: Tensor, accepted: list[int]) -> np.ndarray:
    """(M,) int64: the first accepted slot (in painting order) of each cover set, -1 none."""
    n = members.shape[1]
    rank = torch.full((n,), n, dtype=torch.int64)
    if accepted:
        rank[torch.tensor(accepted)] = torch.arange(len(accepted))
    ranks = torch.where(members, rank[None, :], n)
    best = ranks.amin(dim=1) if n else torch.full((members.shape[0],), n)
    lut = torch.tensor([*accepted, -1], dtype=torch.int64)
    return lut[best.clamp(max=len(accepted))].numpy()


@dataclass
class ClipPainting:
    """Who owns each pixel of a clip, kept as cover pieces: full frames are made one at a time
    (`frames`), so a clip never holds more than one frame-sized map.

    Attributes:
        pieces: per frame, the (keys, lengths) of `masks.cover_pieces`.
        inverse: (P,) the cover set of every piece, frames concatenated.
        owners: (M,) int64 the slot that owns each cover set, -1 none.
        accepted: the painted slots in painting order.
        height, width: the displayed frame.
    """

    pieces: list[tuple[np.ndarray, np.ndarray]]
    inverse: np.ndarray
    owners: np.ndarray
    accepted: list[int]
    height: int
    width: int

    def frames(self, lut: np.ndarray):
        """Yield, frame by frame, ((H, W) C-contiguous map of ``lut[owner]``, where owner -1
        reads lut's last entry; (N,) int64 pixels owned by each slot). `lut`: (N + 1,)."""
        per_set = lut[self.owners]  # owner -1: the last entry
        n = lut.shape[0] - 1
        start = 0
        for keys, lengths in self.pieces:
            part = self.inverse[start : start + keys.shape[0]]
            start += keys.shape[0]
            column_major = np.repeat(per_set[part], lengths)
            plane = np.ascontiguousarray(column_major.reshape(self.width, self.height).T)
            del column_major
            owned = np.bincount(self.owners[part] + 1, weights=lengths, minlength=n + 1)
            yield plane, owned[1:].astype(np.int64)
            del plane  # a consumer that lets go of the map frees it before the next one

    def owner_maps(self) -> Tensor:
        """(T, H, W) int32 slot maps, -1 unpainted (tests and small clips)."""
        n = int(self.owners.max(initial=-1)) + 1
        lut = np.append(np.arange(n, dtype=np.int32), np.int32(-1))
        maps = [plane for plane, _ in self.frames(lut)]
        return (
            torch.from_numpy(np.stack(maps))
            if maps
            else torch.zeros(0, self.height, self.width, dtype=torch.int32)
        )


def owner_maps(
    masks: ClipMasks,
    pieces: list[tuple[np.ndarray, np.ndarray]],
    values: np.ndarray,
    inverse: np.ndarray,
    owners_of_sets: np.ndarray,
) -> Tensor:
    """(T, H, W) int32 slot maps (-1: unpainted) from the frames' cover pieces and each set's
    owner."""
    return ClipPainting(pieces, inverse, owners_of_sets, [], masks.height, masks.width).owner_maps()


def clip_pieces(masks: ClipMasks) -> list[tuple[np.ndarray, np.ndarray]]:
    """The cover pieces (`masks.cover_pieces`) of every frame of a clip."""
    total = masks.height * masks.width
    return [cover_pieces(f, masks.num_slots, total) for f in masks.frames]


def paint_panoptic(
    masks: ClipMasks,
    scores: Tensor,
    labels: Tensor,
    is_thing: Tensor,
    thresholds: Thresholds,
) -> tuple[Tensor, list[int]]:
    """`paint_clip` as (slot map (T, H, W) int32, -1 = unlabelled; the painted queries in
    painting order)."""
    painting = paint_clip(masks, scores, labels, is_thing, thresholds)
    return painting.owner_maps(), painting.accepted


def paint_clip(
    masks: ClipMasks,
    scores: Tensor,
    labels: Tensor,
    is_thing: Tensor,
    thresholds: Thresholds,
) -> ClipPainting:
    """Mask-wise panoptic painting of one clip.

    Args:
        masks: the clip's binary masks (`masks.clip_masks` at ``thresholds.pixel``).
        scores, labels: (N,) class scores and class indices (`class_scores`).
        is_thing: (C,) bool, which class indices are things.
        thresholds: thing / stuff / overlap thresholds.

    Returns:
        the painting: which query owns each pixel (`ClipPainting.frames`), and the painted
        queries in painting order.
    """
    pieces = clip_pieces(masks)
    values, counts, inverse = count_sets(
        np.concatenate([k for k, _ in pieces]), np.concatenate([n for _, n in pieces])
    )
    members = members_of(values, masks.num_slots)
    order = torch.argsort(scores.cpu().float() * masks.mask_scores, descending=True, stable=True)
    thing = is_thing.cpu()[labels.cpu()]
    needed = torch.where(thing, thresholds.thing, thresholds.stuff)
    confident = (scores.cpu() > needed).tolist()
    accepted = decide_painting(
        members,
        torch.from_numpy(counts),
        order.tolist(),
        confident,
        masks.area.tolist(),
        thresholds.overlap,
    )
    return ClipPainting(
        pieces, inverse, set_owners(members, accepted), accepted, masks.height, masks.width
    )
