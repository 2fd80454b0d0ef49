"""Video-level panoptic post-processing (`--post video`): the official rule over a whole video,
streamed through a temporary file.

The official Video-kMaX inference ("video-wise") keeps every clip's masks, averages the class
logits of each query over all clips, and runs the mask-wise panoptic rule once over the whole
video: mask scores, the painting order and the overlap test are computed over all frames, and
a query that passes paints its pixels in every frame. Holding N x T x H x W probabilities of a
long video is out of the question; here

1. while the network runs, each clip's stride-4 mask logits (N x T x h x w, float32, slot
   order) go to a temporary file, and from the clip's probabilities at the displayed size
   (the ones the instance output computes anyway) each slot's probability sum and area inside
   its binary mask are added up, and how many pixels are covered by each distinct set of slots
   (the binary masks of a pixel, e.g. {3}, {3, 17});
2. after the last clip, the final class logits decide the class of every slot, and the
   painting decisions follow from those counts exactly: visiting slots by class score x mask
   score, a slot's new pixels are those of the sets that contain it and no slot accepted
   before it;
3. one pass over the file paints each pixel with the first accepted slot (in painting order)
   whose binary mask covers it.

The result equals the official whole-video computation; its cost is one extra pass of
upsampling over the video and the temporary file (4 N h w bytes per frame).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .postprocess import ClipMasks, Thresholds, class_scores, frame_probabilities
from .preprocess import FrameGeometry, FrameInfo

__all__ = ["VideoLevelPanoptic", "cover_set_keys", "decide_painting"]


def cover_set_keys(binary: Tensor) -> Tensor:
    """(T, N, H, W) bool -> (T*H*W, words) int64: each pixel's set of covering slots as bits
    (slot n is bit n % 63 of word n // 63)."""
    t, n, h, w = binary.shape
    words = (n + 62) // 63
    flat = binary.permute(0, 2, 3, 1).reshape(-1, n)  # (P, N)
    keys = torch.zeros(flat.shape[0], words, dtype=torch.int64, device=binary.device)
    for word in range(words):
        part = flat[:, word * 63 : (word + 1) * 63].to(torch.int64)
        bits = torch.arange(part.shape[1], device=binary.device, dtype=torch.int64)
        keys[:, word] = (part << bits).sum(dim=1)
    return keys


def _count_sets(keys: Tensor) -> list[tuple[tuple[int, ...], int]]:
    """Distinct rows of (P, words) int64 keys with their counts."""
    if keys.shape[1] == 1:  # up to 63 slots: one integer per pixel
        values, counts = torch.unique(keys[:, 0], return_counts=True)
        return [((v,), c) for v, c in zip(values.tolist(), counts.tolist(), strict=True)]
    rows = np.ascontiguousarray(keys.cpu().numpy())
    packed = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    values, first, counts = np.unique(packed, return_index=True, return_counts=True)
    return [(tuple(rows[i].tolist()), int(c)) for i, c in zip(first, counts, strict=True)]


def _members(keys: Tensor, n: int) -> Tensor:
    """(M, words) int64 cover-set keys -> (M, N) bool membership."""
    bits = torch.arange(63, dtype=torch.int64)
    expanded = (keys.unsqueeze(-1) >> bits) & 1  # (M, words, 63)
    return expanded.flatten(1)[:, :n].bool()


def decide_painting(
    members: Tensor,
    counts: Tensor,
    order: list[int],
    confident: list[bool],
    areas: list[int],
    overlap: float,
) -> list[int]:
    """Which slots paint, in painting order, from the pixel counts of the cover sets.

    Args:
        members: (M, N) bool, the slots of each distinct cover set.
        counts: (M,) pixels of the video covered by exactly that set.
        order: slots by decreasing class score x mask score.
        confident: per slot, whether its class score passes its threshold.
        areas: per slot, the pixels of its binary mask over the video.
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


class VideoLevelPanoptic:
    """Collects a video's clips, then paints all its frames with the official video-level rule.

    Args:
        geometry: the video's frame geometry.
        thresholds: post-processing thresholds.
        is_thing: (C,) bool per class index.
        device: where the upsampling runs.
        normalise: "softmax" (Video-kMaX) or "sigmoid" (Tube-Link).
        folder: where the temporary file goes (removed by `close`).
    """

    def __init__(
        self,
        geometry: FrameGeometry,
        thresholds: Thresholds,
        is_thing: Tensor,
        device: torch.device,
        normalise: str,
        folder: Path,
    ) -> None:
        self.geometry = geometry
        self.thresholds = thresholds
        self.is_thing = is_thing
        self.device = device
        self.normalise = normalise
        fd, name = tempfile.mkstemp(prefix=".video-logits-", suffix=".f32", dir=folder)
        self._path = Path(name)
        self._file = os.fdopen(fd, "w+b")
        self._clips: list[tuple[tuple[int, ...], list[FrameInfo]]] = []
        self._prob_sum: Tensor | None = None  # (N,) float64
        self._area: Tensor | None = None  # (N,) int64
        self._histogram: dict[tuple[int, ...], int] = {}

    def add_clip(
        self, mask_logits: Tensor, frames: list[FrameInfo], probs: Tensor, masks: ClipMasks
    ) -> None:
        """Keep the (N, T', h, w) mask logits of a clip's real frames and add up the statistics
        of their probabilities `probs` (T', N, H, W) and binary masks `masks`."""
        logits = mask_logits.detach().float().cpu().contiguous()
        self._file.write(logits.numpy().tobytes())
        self._clips.append((tuple(logits.shape), list(frames)))
        stats = (masks.prob_sum.double().cpu(), masks.area.to(torch.int64).cpu())
        if self._prob_sum is None:
            self._prob_sum, self._area = stats
        else:
            self._prob_sum, self._area = self._prob_sum + stats[0], self._area + stats[1]
        for key, count in _count_sets(cover_set_keys(masks.binary)):
            self._histogram[key] = self._histogram.get(key, 0) + count

    def _read(self):
        self._file.flush()
        self._file.seek(0)
        for shape, frames in self._clips:
            size = int(np.prod(shape)) * 4
            data = np.frombuffer(self._file.read(size), dtype=np.float32).reshape(shape)
            yield torch.from_numpy(data.copy()).to(self.device), frames

    def paint(self, class_logits: Tensor):
        """Yield (slot map (T', H, W) int64, -1 = unlabelled; painted slots in order; frames)
        clip by clip, from the video's final class logits (N, C+1)."""
        thr = self.thresholds
        scores, labels = class_scores(class_logits.to(self.device))
        n = scores.shape[0]
        if self._prob_sum is None or self._area is None:
            return
        prob_sum, area, histogram = self._prob_sum, self._area, self._histogram
        mask_scores = (prob_sum / area.clamp(min=1).double()).float()
        order = torch.argsort(scores.cpu().float() * mask_scores, descending=True, stable=True)
        thing = self.is_thing.cpu()[labels.cpu()]
        needed = torch.where(thing, thr.thing, thr.stuff)
        confident = (scores.cpu() > needed).tolist()
        keys = list(histogram)
        members = _members(torch.tensor(keys, dtype=torch.int64).view(len(keys), -1), n)
        counts = torch.tensor([histogram[k] for k in keys], dtype=torch.int64)
        accepted = decide_painting(
            members, counts, order.tolist(), confident, area.tolist(), thr.overlap
        )
        rank = torch.full((n,), n, dtype=torch.int64, device=self.device)
        rank[torch.tensor(accepted, dtype=torch.int64, device=self.device)] = torch.arange(
            len(accepted), device=self.device
        )
        for logits, frames in self._read():
            binary = frame_probabilities(logits, self.geometry, self.normalise) > thr.pixel
            ranks = torch.where(binary, rank.view(1, -1, 1, 1), n)  # (T', N, H, W)
            best, slot = ranks.min(dim=1)
            owner = torch.where(best < n, slot, -1)
            yield owner, accepted, frames

    def close(self) -> None:
        self._file.close()
        self._path.unlink(missing_ok=True)
