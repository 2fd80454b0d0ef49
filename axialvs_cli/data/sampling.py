"""Which frames of a video make one training sample.

- Stage 1 (clip segmenter): a clip of T frames. Consecutive frames of the clip are at most
  `sampling_range` frames apart (paper Table 7b: 1 = continuous frames, the final setting; 3 and
  10 are the ablated ranges).
- Stage 2 (cross-clip tracking): a video of K clips of T frames, K * T consecutive frames,
  reversed in time with probability 1/2 when `random_reverse` is on (the official recipe).

Videos shorter than a sample repeat their last frame, as the official data loader does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .transforms import AugmentConfig, ClipParams, identity_params, sample_params


def clip_indices(
    num_frames: int, length: int, sampling_range: int, rng: np.random.Generator
) -> list[int]:
    """Frame indices of one clip: `length` increasing indices, gaps drawn from 1..range.

    Args:
        num_frames: frames in the video (> 0).
        length: frames in the clip, T.
        sampling_range: largest gap between neighbouring clip frames (>= 1).
        rng: random source.
    """
    if num_frames <= 0 or length <= 0 or sampling_range < 1:
        raise ValueError("num_frames, length and sampling_range must be positive")
    gaps = rng.integers(1, sampling_range + 1, size=length - 1)
    # shrink the gaps of a clip that would not fit (short videos, large ranges)
    while gaps.sum() > num_frames - 1 and gaps.max() > 1:
        gaps = np.maximum(gaps - 1, 1)
    span = int(gaps.sum())
    start = int(rng.integers(0, max(num_frames - span, 1)))
    idx = np.concatenate(([start], start + np.cumsum(gaps)))
    return [int(min(i, num_frames - 1)) for i in idx]


def video_indices(
    num_frames: int, length: int, rng: np.random.Generator, random_reverse: bool = False
) -> list[int]:
    """`length` consecutive frame indices (K * T for stage 2), padded by repeating the last."""
    if num_frames <= 0 or length <= 0:
        raise ValueError("num_frames and length must be positive")
    if num_frames > length:
        start = int(rng.integers(0, num_frames - length + 1))
        idx = list(range(start, start + length))
    else:
        idx = list(range(num_frames)) + [num_frames - 1] * (length - num_frames)
    if random_reverse and rng.random() < 0.5:
        idx.reverse()
    return idx


def sample_indices(
    num_frames: int,
    clip_length: int,
    num_clips: int,
    sampling_range: int,
    rng: np.random.Generator,
    random_reverse: bool = False,
) -> list[int]:
    """A clip (num_clips == 1) or a video of `num_clips` clips (stage 2)."""
    if num_clips == 1:
        idx = clip_indices(num_frames, clip_length, sampling_range, rng)
        if random_reverse and rng.random() < 0.5:
            idx.reverse()
        return idx
    return video_indices(num_frames, clip_length * num_clips, rng, random_reverse)


def item_rng() -> np.random.Generator:
    """A generator seeded from torch's RNG, so `torch.manual_seed` (and per-worker seeding of
    DataLoader workers) makes sampling and augmentation reproducible."""
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))


class ClipDataset(Dataset):
    """What the clip data sets of every format share: `repeats` items per video, the frames an
    item takes (`sample_indices`) and its augmentation. Subclasses set `video_ids`."""

    video_ids: Sequence[Any]

    def __init__(
        self, *, clip_length: int, num_clips: int, sampling_range: int,
        augment: AugmentConfig | None, random_reverse: bool, stride: int, repeats: int,
    ) -> None:  # fmt: skip
        self.clip_length, self.num_clips = clip_length, num_clips
        self.sampling_range, self.augment = sampling_range, augment
        self.random_reverse, self.stride, self.repeats = random_reverse, stride, repeats

    def __len__(self) -> int:
        return len(self.video_ids) * self.repeats

    def _video(self, index: int) -> Any:
        return self.video_ids[index % len(self.video_ids)]

    def _frames(self, num_frames: int, rng: np.random.Generator) -> list[int]:
        """The frame indices of one item of a video of `num_frames` frames."""
        return sample_indices(
            num_frames, self.clip_length, self.num_clips, self.sampling_range, rng,
            self.random_reverse,
        )  # fmt: skip

    def _params(self, h: int, w: int, rng: np.random.Generator) -> ClipParams:
        """The augmentation of one item whose frames are h x w (identity without `augment`)."""
        return sample_params(h, w, self.augment, rng) if self.augment else identity_params(h, w)
