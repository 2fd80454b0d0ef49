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
Shapes: N queries, C classes (+1 void), T frames, h, w stride-4 size, H, W output size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .preprocess import FrameGeometry

__all__ = [
    "ClipMasks",
    "Thresholds",
    "class_scores",
    "clip_masks",
    "frame_probabilities",
    "paint_panoptic",
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


def frame_probabilities(
    mask_logits: Tensor, geometry: FrameGeometry, normalise: str = "softmax"
) -> Tensor:
    """Mask logits at stride 4 -> per-pixel query probabilities at the displayed size.

    As the official code: bilinear upsampling to the padded input size (corners aligned for
    odd sizes), crop the padding, bilinear resize to the displayed size, then softmax over the
    queries (Video-kMaX) or a sigmoid per query (``normalise="sigmoid"``: Tube-Link).

    Args:
        mask_logits: (N, T, h, w).
        geometry: the video's frame geometry.
        normalise: "softmax" or "sigmoid".

    Returns:
        (T, N, H, W) float32 probabilities (softmax: sum 1 over N at every pixel).
    """
    if normalise not in ("softmax", "sigmoid"):
        raise ValueError(f"normalise must be 'softmax' or 'sigmoid', got {normalise!r}")
    x = mask_logits.float().transpose(0, 1)  # (T, N, h, w)
    corners = geometry.padded_width % 2 == 1
    size = (geometry.padded_height, geometry.padded_width)
    if x.shape[-2:] != size:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=corners)
    x = x[..., : geometry.scaled_height, : geometry.scaled_width]
    if geometry.scaled:
        x = F.interpolate(
            x, size=(geometry.height, geometry.width), mode="bilinear", align_corners=corners
        )
    else:
        x = x.clone(memory_format=torch.contiguous_format)  # never alter the input
    if normalise == "sigmoid":
        return x.sigmoid_()
    # softmax over queries, in place to keep one (T, N, H, W) buffer
    x.sub_(x.amax(dim=1, keepdim=True)).exp_()
    return x.div_(x.sum(dim=1, keepdim=True))


def class_scores(class_logits: Tensor) -> tuple[Tensor, Tensor]:
    """(N, C+1) logits (last = void) -> (scores (N,), labels (N,)): best non-void class."""
    probs = class_logits.float().softmax(dim=-1)[..., :-1]
    return probs.max(dim=-1)


@dataclass
class ClipMasks:
    """Binary masks of one clip and their per-query statistics.

    Attributes:
        binary: (T, N, H, W) bool, prob > pixel threshold.
        prob_sum: (N,) sum of the probabilities inside each binary mask.
        frame_area: (T, N) pixels in each binary mask, per frame.
    """

    binary: Tensor
    prob_sum: Tensor
    frame_area: Tensor

    @property
    def area(self) -> Tensor:
        """(N,) pixels in each binary mask over the clip."""
        return self.frame_area.sum(dim=0)

    @property
    def mask_scores(self) -> Tensor:
        """(N,) mean probability inside each binary mask (0 for an empty mask)."""
        return self.prob_sum / self.area.clamp(min=1).to(self.prob_sum.dtype)


def clip_masks(probs: Tensor, pixel_threshold: float) -> ClipMasks:
    """Binary masks and statistics of (T, N, H, W) probabilities."""
    binary = probs > pixel_threshold
    # (fused and contiguous reductions: several times faster than bool sums over dims 0, 2, 3)
    prob_sum = F.threshold(probs, pixel_threshold, 0.0).flatten(2).sum(-1).sum(0)
    frame_area = binary.view(torch.uint8).flatten(2).sum(-1, dtype=torch.int32)  # (T, N)
    return ClipMasks(binary, prob_sum, frame_area)


def paint_panoptic(
    masks: ClipMasks,
    scores: Tensor,
    labels: Tensor,
    is_thing: Tensor,
    thresholds: Thresholds,
) -> tuple[Tensor, list[int]]:
    """Mask-wise panoptic painting of one clip.

    Args:
        masks: the clip's binary masks (`clip_masks` at ``thresholds.pixel``).
        scores, labels: (N,) class scores and class indices (`class_scores`).
        is_thing: (C,) bool, which class indices are things.
        thresholds: thing / stuff / overlap thresholds.

    Returns:
        (slot map (T, H, W) int64: the query that owns each pixel, -1 = unlabelled;
        the painted queries in painting order).
    """
    binary = masks.binary
    t, n, h, w = binary.shape
    owner = torch.full((t, h, w), -1, dtype=torch.int64, device=binary.device)
    free = torch.ones((t, h, w), dtype=torch.bool, device=binary.device)
    order = torch.argsort(scores.float() * masks.mask_scores, descending=True, stable=True)
    thing = is_thing.to(labels.device)[labels]
    needed = torch.where(thing, thresholds.thing, thresholds.stuff)
    confident = (scores > needed).tolist()
    areas = masks.area.tolist()
    painted: list[int] = []
    for slot in order.tolist():
        if not confident[slot] or areas[slot] == 0:
            continue
        new = binary[:, slot] & free
        if int(new.sum()) > thresholds.overlap * areas[slot]:
            owner[new] = slot
            free &= ~new
            painted.append(slot)
    return owner, painted
