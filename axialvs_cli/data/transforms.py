"""Clip-consistent augmentation: one set of random parameters, applied to every frame.

The order follows kMaX-DeepLab / Video-kMaX: random resize, colour jitter, random crop, random
horizontal flip; a crop larger than the resized frame is padded at the bottom and right (image
value 128, i.e. about 0 after the 127.5 mean/std normalisation; label 0 = void). Two resize
rules exist:

- ``scale`` (VPS, kMaX): the frame is resized to fit the crop size times a random scale in
  [min_scale, max_scale] (VIPSeg: crop 769 x 1345, scale 0.3 .. 1.7);
- ``short_sides`` (VIS, Tube-Link): the shorter side is resized to a random choice from a list
  (YouTube-VIS: 288 .. 512 in steps of 32), then the crop is taken.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

PAD_VALUE = 128


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation options. `crop` is (height, width) of every training frame."""

    crop: tuple[int, int] = (129, 225)
    min_scale: float = 0.5
    max_scale: float = 1.5
    short_sides: tuple[int, ...] = ()  # non-empty: VIS-style shorter-side resize
    flip: bool = True
    color_jitter: bool = True

    def __post_init__(self) -> None:
        if min(self.crop) <= 0:
            raise ValueError(f"crop size must be positive, got {self.crop}")
        if not 0 < self.min_scale <= self.max_scale:
            raise ValueError(
                f"need 0 < min_scale <= max_scale, got {self.min_scale}, {self.max_scale}"
            )
        if any(s <= 0 for s in self.short_sides):
            raise ValueError(f"short sides must be positive, got {self.short_sides}")


@dataclass(frozen=True)
class ClipParams:
    """The random draw for one clip. `size` is the resized (h, w); `offset` the crop corner."""

    size: tuple[int, int]
    offset: tuple[int, int]
    crop: tuple[int, int]
    flip: bool
    brightness: float = 0.0  # added, in 0..255 units
    contrast: float = 1.0
    saturation: float = 1.0


def sample_params(
    height: int, width: int, cfg: AugmentConfig, rng: np.random.Generator
) -> ClipParams:
    """Draw resize, crop, flip and colour parameters for frames of `height` x `width`."""
    ch, cw = cfg.crop
    if cfg.short_sides:
        short = int(rng.choice(cfg.short_sides))
        scale = short / min(height, width)
    else:
        scale = float(rng.uniform(cfg.min_scale, cfg.max_scale)) * min(ch / height, cw / width)
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    oy = int(rng.integers(0, h - ch + 1)) if h > ch else 0
    ox = int(rng.integers(0, w - cw + 1)) if w > cw else 0
    flip = bool(cfg.flip and rng.random() < 0.5)
    if not cfg.color_jitter:
        return ClipParams((h, w), (oy, ox), (ch, cw), flip)
    return ClipParams(
        (h, w), (oy, ox), (ch, cw), flip,
        brightness=float(rng.uniform(-32, 32)) if rng.random() < 0.5 else 0.0,
        contrast=float(rng.uniform(0.5, 1.5)) if rng.random() < 0.5 else 1.0,
        saturation=float(rng.uniform(0.5, 1.5)) if rng.random() < 0.5 else 1.0,
    )  # fmt: skip


def identity_params(height: int, width: int) -> ClipParams:
    """No augmentation (validation): the frame as it is."""
    return ClipParams((height, width), (0, 0), (height, width), False)


def _crop_pad(x: np.ndarray, p: ClipParams, fill: int) -> np.ndarray:
    oy, ox = p.offset
    ch, cw = p.crop
    part = x[oy : oy + ch, ox : ox + cw]
    if part.shape[:2] != (ch, cw):
        out = np.full((ch, cw, *x.shape[2:]), fill, dtype=x.dtype)
        out[: part.shape[0], : part.shape[1]] = part
        part = out
    return part[:, ::-1] if p.flip else part


def apply_image(frame: np.ndarray, p: ClipParams) -> np.ndarray:
    """frame (H, W, 3) uint8 RGB -> (crop_h, crop_w, 3) uint8."""
    h, w = p.size
    if frame.shape[:2] != (h, w):
        frame = np.asarray(Image.fromarray(frame).resize((w, h), Image.BILINEAR))
    if p.brightness or p.contrast != 1.0 or p.saturation != 1.0:
        x = frame.astype(np.float32)
        x = (x - 127.5) * p.contrast + 127.5 + p.brightness
        gray = x.mean(axis=2, keepdims=True)
        x = gray + (x - gray) * p.saturation
        frame = np.clip(x + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(_crop_pad(frame, p, PAD_VALUE))


def apply_labels(ids: np.ndarray, p: ClipParams) -> np.ndarray:
    """ids (H, W) integer map -> (crop_h, crop_w), nearest-neighbour resize, padding = 0."""
    h, w = p.size
    H, W = ids.shape
    if (H, W) != (h, w):
        rows = np.minimum(((np.arange(h) + 0.5) * H / h).astype(np.int64), H - 1)
        cols = np.minimum(((np.arange(w) + 0.5) * W / w).astype(np.int64), W - 1)
        ids = ids[rows[:, None], cols[None, :]]
    return np.ascontiguousarray(_crop_pad(ids, p, 0))


def valid_mask(p: ClipParams) -> np.ndarray:
    """(crop_h, crop_w) bool: True on resized-frame pixels, False on padding."""
    return apply_labels(np.ones(p.size, dtype=np.uint8), p).astype(bool)
