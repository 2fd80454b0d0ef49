"""Pure resizing helpers: frames to the model's input size, label maps back to the video's size."""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["resize_labels", "resize_rgb", "resize_shorter_side", "shorter_side_size"]


def shorter_side_size(
    height: int, width: int, target: int, max_longer: int | None = None
) -> tuple[int, int, float]:
    """Size after scaling the shorter side to ``target`` (longer side capped at ``max_longer``).

    Returns:
        (new_height, new_width, scale), each side ``max(1, round(side * scale))``.
    """
    if target < 1 or height < 1 or width < 1:
        raise ValueError(f"sizes must be positive, got {height}x{width} -> {target}")
    scale = target / min(height, width)
    if max_longer is not None and max(height, width) * scale > max_longer:
        scale = max_longer / max(height, width)
    new_h = max(1, round(height * scale))
    new_w = max(1, round(width * scale))
    return new_h, new_w, scale


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear (anti-aliased when shrinking) resize of a (H, W, 3) uint8 image to (h, w)."""
    height, width = size
    if rgb.shape[:2] == (height, width):
        return rgb
    img = Image.fromarray(np.ascontiguousarray(rgb))
    return np.asarray(img.resize((width, height), Image.Resampling.BILINEAR))


def resize_shorter_side(
    rgb: np.ndarray, target: int, max_longer: int | None = None
) -> tuple[np.ndarray, float]:
    """Resize a frame so its shorter side is ``target`` pixels, keeping the aspect ratio.

    Args:
        rgb: (H, W, 3) uint8.
        target: wanted length of the shorter side.
        max_longer: if set, shrink further so the longer side is at most this.

    Returns:
        (resized (h, w, 3) uint8, scale) where h, w = round(H * scale), round(W * scale).
        The input itself when the size does not change.
    """
    new_h, new_w, scale = shorter_side_size(rgb.shape[0], rgb.shape[1], target, max_longer)
    return resize_rgb(rgb, (new_h, new_w)), scale


def resize_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of integer label maps; ids are never blended.

    Args:
        labels: (..., h, w) any integer (or bool) dtype, e.g. (H, W) panoptic ids or (N, H, W)
            masks.
        size: (H0, W0) wanted output size, e.g. the original frame size.

    Returns:
        (..., H0, W0) with the dtype of ``labels``; each output pixel takes the label under its
        centre.
    """
    out_h, out_w = size
    in_h, in_w = labels.shape[-2:]
    if (in_h, in_w) == (out_h, out_w):
        return labels
    rows = np.minimum(((np.arange(out_h) + 0.5) * in_h / out_h).astype(np.int64), in_h - 1)
    cols = np.minimum(((np.arange(out_w) + 0.5) * in_w / out_w).astype(np.int64), in_w - 1)
    return labels[..., rows[:, None], cols[None, :]]
