"""What a training dataset returns: frames and per-tube targets, and how a batch is made.

Targets live at the stride of the model's masks (4): a label map of H x W is subsampled to
ceil(H / 4) x ceil(W / 4) by taking every 4th pixel, so target and prediction grids coincide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

VOID = -1  # semantic label of pixels without a ground-truth segment


@dataclass
class Target:
    """Ground-truth tubes of one sample (a clip of T frames, or a video of K clips).

    labels: (M,) int64 class index (position in the dataset's class list).
    masks: (M, T, h, w) bool, at the target stride.
    ids: (M,) int64 the dataset's segment / object id of each tube.
    semantic: (T, h, w) int64 class index per pixel, `VOID` where nothing is labelled.
    valid: (T, h, w) bool, False on padding added by the crop.
    """

    labels: Tensor
    masks: Tensor
    ids: Tensor
    semantic: Tensor
    valid: Tensor

    def to(self, device: torch.device | str) -> Target:
        return Target(*(getattr(self, f).to(device) for f in _FIELDS))


_FIELDS = ("labels", "masks", "ids", "semantic", "valid")


@dataclass
class Sample:
    """One training item: frames (L, 3, H, W) uint8 RGB and the targets of those L frames."""

    frames: Tensor
    target: Target
    video_id: str
    frame_indices: list[int] = field(default_factory=list)


@dataclass
class Batch:
    """A batch: frames (B, L, 3, H, W) uint8 and one `Target` per sample."""

    frames: Tensor
    targets: list[Target]
    video_ids: list[str]
    frame_indices: list[list[int]]

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            self.frames.to(device, non_blocking=True),
            [t.to(device) for t in self.targets],
            self.video_ids,
            self.frame_indices,
        )


def collate(samples: Sequence[Sample]) -> Batch:
    """Stack samples whose frames share one size (the augmentation's crop size)."""
    sizes = {tuple(s.frames.shape) for s in samples}
    if len(sizes) != 1:
        raise ValueError(f"samples of one batch must share a shape, got {sorted(sizes)}")
    return Batch(
        torch.stack([s.frames for s in samples]),
        [s.target for s in samples],
        [s.video_id for s in samples],
        [list(s.frame_indices) for s in samples],
    )


def target_grid(size: tuple[int, int], stride: int) -> tuple[int, int]:
    """(h, w) of the target grid for an input of `size` (H, W): ceil(H / stride)."""
    return -(-size[0] // stride), -(-size[1] // stride)
