"""Frames to model input: scale down to fit the model's size, pad to 32k + 1, group into clips.

The official inference scales a frame down (never up) so that it fits a fixed canvas
(769 x 1345 for the R50 VIPSeg model) and zero-pads it (after normalisation) to that canvas.
Here the fit is orientation-aware (the shorter side fits ``short_side``, the longer side fits
``long_side``, so portrait videos are not shrunk more than landscape ones) and the padding only
goes to the next size of the form 32k + 1 (the sizes kMaX models are trained with), which is
cheaper than the full canvas when streaming small videos. `masks.clip_masks`
undoes the geometry on the masks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..video import VideoSource, resize_rgb

__all__ = [
    "ClipBuffer",
    "FrameGeometry",
    "FrameInfo",
    "frame_tensor",
    "padded_length",
    "plan_geometry",
    "stream_clips",
]

STRIDE = 32


def padded_length(n: int, plus_one: bool = True) -> int:
    """The smallest 32k + 1 >= n (Video-kMaX), or 32k >= n with `plus_one=False` (Tube-Link /
    Mask2Former); k >= 1, so every backbone stage has a pixel."""
    if n < 1:
        raise ValueError(f"a frame side must be >= 1, got {n}")
    if not plus_one:
        return max(1, -(-n // STRIDE)) * STRIDE
    return max(1, -(-(n - 1) // STRIDE)) * STRIDE + 1


@dataclass(frozen=True)
class FrameGeometry:
    """Sizes of one video's frames on the way into the model and back.

    Attributes:
        height, width: the displayed frame (what outputs are written at).
        scaled_height, scaled_width: after scaling down to fit the model's size.
        padded_height, padded_width: the model input (32k + 1), padding at bottom/right.
    """

    height: int
    width: int
    scaled_height: int
    scaled_width: int
    padded_height: int
    padded_width: int

    @property
    def scaled(self) -> bool:
        return (self.scaled_height, self.scaled_width) != (self.height, self.width)


def plan_geometry(
    height: int, width: int, short_side: int, long_side: int, plus_one: bool = True
) -> FrameGeometry:
    """Fit (height, width) within short_side x long_side, orientation-aware, never enlarging.

    The scale is min(1, short_side / shorter side, long_side / longer side); the scaled sides
    are rounded (at least 1 pixel), then padded to 32k + 1 (`plus_one=False`: to 32k).
    """
    if height < 1 or width < 1:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    if short_side < 1 or long_side < short_side:
        raise ValueError(f"invalid model size {short_side}x{long_side}")
    scale = min(1.0, short_side / min(height, width), long_side / max(height, width))
    sh, sw = max(1, round(height * scale)), max(1, round(width * scale))
    if scale >= 1.0:
        sh, sw = height, width
    ph, pw = padded_length(sh, plus_one), padded_length(sw, plus_one)
    return FrameGeometry(height, width, sh, sw, ph, pw)


def frame_tensor(rgb: np.ndarray, geometry: FrameGeometry, pad_value: Sequence[float]) -> Tensor:
    """One displayed frame (H, W, 3) uint8 -> model input (3, Hp, Wp) float32 in 0..255.

    The frame is resized (bilinear, anti-aliased) to the scaled size and padded at the bottom
    and right with ``pad_value`` (the model's pixel mean, so the padding is 0 after the
    model's normalisation, as in the official code).
    """
    if rgb.shape[:2] != (geometry.height, geometry.width):
        raise ValueError(
            f"frame is {rgb.shape[1]}x{rgb.shape[0]}, expected {geometry.width}x{geometry.height}"
        )
    small = resize_rgb(rgb, (geometry.scaled_height, geometry.scaled_width))
    out = torch.empty(3, geometry.padded_height, geometry.padded_width, dtype=torch.float32)
    out[:] = torch.tensor(pad_value, dtype=torch.float32).view(3, 1, 1)
    if not small.flags.writeable:  # PIL-backed arrays are read-only
        small = small.copy()
    pixels = torch.from_numpy(small).permute(2, 0, 1)  # (3, h, w) uint8
    out[:, : geometry.scaled_height, : geometry.scaled_width] = pixels
    return out


@dataclass
class FrameInfo:
    """What is kept of a frame once it is in a clip: its position and output name."""

    index: int
    name: str
    pts_seconds: float


class ClipBuffer:
    """Collects frames into non-overlapping clips of `clip_length`.

    `add` returns a full clip when one is complete; `flush` returns the last, partial clip
    padded by repeating its last frame (the padded frames are marked and never written).
    """

    def __init__(self, clip_length: int) -> None:
        if clip_length < 1:
            raise ValueError(f"clip length must be >= 1, got {clip_length}")
        self.clip_length = clip_length
        self._tensors: list[Tensor] = []
        self._infos: list[FrameInfo] = []

    def add(self, tensor: Tensor, info: FrameInfo) -> tuple[Tensor, list[FrameInfo]] | None:
        """Add one (3, Hp, Wp) frame; returns (clip (1, T, 3, Hp, Wp), frames) when full."""
        self._tensors.append(tensor)
        self._infos.append(info)
        if len(self._tensors) == self.clip_length:
            return self._take()
        return None

    def flush(self) -> tuple[Tensor, list[FrameInfo]] | None:
        """The partial last clip, padded to T frames by repetition; None when empty.

        Returns (clip (1, T, 3, Hp, Wp), the real frames only: len <= T).
        """
        if not self._tensors:
            return None
        while len(self._tensors) < self.clip_length:
            self._tensors.append(self._tensors[-1])
        return self._take()

    def _take(self) -> tuple[Tensor, list[FrameInfo]]:
        clip = torch.stack(self._tensors)[None]  # (1, T, 3, Hp, Wp)
        infos = self._infos
        self._tensors, self._infos = [], []
        return clip, infos


def stream_clips(
    source: VideoSource, geometry: FrameGeometry, length: int, pad: Sequence[float],
    limit: int | None = None,
) -> Iterator[tuple[Tensor, list[FrameInfo]]]:  # fmt: skip
    """Stream (clip (1, T, 3, Hp, Wp), real frames) from the source; the last clip padded."""
    buffer = ClipBuffer(length)
    for frame in source:
        if limit is not None and frame.index >= limit:
            break
        info = FrameInfo(frame.index, frame.name, frame.pts_seconds)
        full = buffer.add(frame_tensor(frame.rgb, geometry, pad), info)
        if full is not None:
            yield full
    last = buffer.flush()
    if last is not None:
        yield last
