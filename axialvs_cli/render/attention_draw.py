"""Axial-trajectory attention maps of a reference point, as in the paper's Figs. 1 and 12-14.

For a reference point (t0, y0, x0) on the feature grid of one within-clip layer, the H-axis pass
gives, for every frame t, a distribution over the rows h of column x0 and the W-axis pass a
distribution over the columns w of row y0. Their product is the 2-D map of frame t:

    map[t, h, w] = A_H[x0][t0, y0 -> t, h] * A_W[y0][t0, x0 -> t, w]

(averaged over heads, or of one head). Each frame's map is then divided by its maximum, so
every frame shows its own peak at 1 ("normalised per frame"): the maps compare locations within
a frame, not strengths across frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from models.layers.trajectory import AxialAttentionMaps

RED = (255, 0, 0)

# Anchor colours of a perceptually ordered dark-to-bright map (black-purple-red-yellow-white).
_ANCHORS = np.array(
    [
        [0, 0, 4],
        [40, 11, 84],
        [101, 21, 110],
        [159, 42, 99],
        [212, 72, 66],
        [245, 125, 21],
        [250, 193, 39],
        [252, 255, 164],
    ],
    dtype=np.float64,
)


def colorize(values: np.ndarray) -> np.ndarray:
    """(H, W) values in [0, 1] -> (H, W, 3) uint8 colours."""
    v = np.clip(values, 0.0, 1.0) * (len(_ANCHORS) - 1)
    lo = np.floor(v).astype(int).clip(0, len(_ANCHORS) - 2)
    frac = (v - lo)[..., None]
    rgb = _ANCHORS[lo] * (1 - frac) + _ANCHORS[lo + 1] * frac
    return rgb.round().astype(np.uint8)


def trajectory_map(
    maps: AxialAttentionMaps, ref_frame: int, ref_cell: tuple[int, int], head: int | None = None
) -> np.ndarray:
    """The per-frame 2-D attention of a reference point.

    Args:
        maps: stage-1 maps of one axial-trajectory layer (batch element 0 is used).
        ref_frame: t0, the frame of the reference point within the clip.
        ref_cell: (row, column) of the reference point on the feature grid.
        head: one head, or None for the mean over heads.

    Returns:
        (T, H, W) float array, each frame divided by its maximum.
    """
    y0, x0 = ref_cell
    height = maps.height[0, x0, :, ref_frame, y0].double()  # (M, T, H)
    width = maps.width[0, y0, :, ref_frame, x0].double()  # (M, T, W)
    per_head = height[..., :, None] * width[..., None, :]  # (M, T, H, W)
    out = per_head.mean(0) if head is None else per_head[head]
    out = out.cpu().numpy()
    peak = out.reshape(out.shape[0], -1).max(axis=1).reshape(-1, 1, 1)
    return out / np.maximum(peak, 1e-12)


@dataclass(frozen=True)
class GridMapping:
    """How original frame pixels map onto the model input and a feature grid."""

    scale: float | tuple[float, float]  # original -> model input, one or (y, x)
    stride: int  # model input -> feature grid
    grid: tuple[int, int]  # (rows, columns) of the feature grid
    frame_size: tuple[int, int]  # original (height, width)

    def cell(self, x: float, y: float) -> tuple[int, int]:
        """(row, column) of the original pixel (x, y)."""
        h, w = self.frame_size
        if not (0 <= x < w and 0 <= y < h):
            from ..errors import InputError

            raise InputError(
                f"reference point ({x:g}, {y:g}) is outside the {w}x{h} frame; "
                f"use 0 <= X < {w} and 0 <= Y < {h}"
            )
        sy, sx = self._scales()
        row = min(int(y * sy) // self.stride, self.grid[0] - 1)
        col = min(int(x * sx) // self.stride, self.grid[1] - 1)
        return row, col

    def _scales(self) -> tuple[float, float]:
        return self.scale if isinstance(self.scale, tuple) else (self.scale, self.scale)

    def to_frame(self, grid_map: np.ndarray) -> np.ndarray:
        """(rows, cols) map -> (H, W) map over the original frame (nearest, padding cropped)."""
        h, w = self.frame_size
        sy, sx = self._scales()
        ys = np.minimum((np.arange(h) * sy).astype(int) // self.stride, self.grid[0] - 1)
        xs = np.minimum((np.arange(w) * sx).astype(int) // self.stride, self.grid[1] - 1)
        return grid_map[ys[:, None], xs[None, :]]


def overlay(frame: np.ndarray, heat: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a colourised (H, W) map in [0, 1] over an RGB frame."""
    mixed = frame.astype(np.float32) * (1 - alpha) + colorize(heat).astype(np.float32) * alpha
    return mixed.round().astype(np.uint8)


def mark(image: np.ndarray, points: list[tuple[float, float]], radius: int = 5) -> np.ndarray:
    """Draw red reference points (x, y) on a copy of an RGB image."""
    img = Image.fromarray(image)
    draw = ImageDraw.Draw(img)
    for x, y in points:
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=RED, width=2)
        draw.ellipse((x - 1.5, y - 1.5, x + 1.5, y + 1.5), fill=RED)
    return np.asarray(img)


def figure(
    frames: list[np.ndarray],
    heats: list[np.ndarray],
    points: list[tuple[float, float]],
    ref_index: int,
    gap: int = 4,
) -> np.ndarray:
    """Rows: input frames, then for each reference point its attention maps and overlays; one
    column per frame of the clip.

    frames: T RGB frames (H, W, 3); heats: one (T, H, W) array in [0, 1] per reference point;
    points: the reference points (x, y), marked in red on frame `ref_index`.
    """
    h, w = frames[0].shape[:2]
    t = len(frames)
    rows = 1 + 2 * len(points)
    canvas = np.full((rows * h + (rows - 1) * gap, t * w + (t - 1) * gap, 3), 255, np.uint8)

    def put(row: int, col: int, image: np.ndarray) -> None:
        y0, x0 = row * (h + gap), col * (w + gap)
        canvas[y0 : y0 + h, x0 : x0 + w] = image

    for i, frame in enumerate(frames):
        put(0, i, mark(frame, points) if i == ref_index else frame)
        for p, (heat, point) in enumerate(zip(heats, points, strict=True)):
            put(1 + 2 * p, i, colorize(heat[i]))
            over = overlay(frame, heat[i])
            put(2 + 2 * p, i, mark(over, [point]) if i == ref_index else over)
    return canvas


def animation_frames(
    frames: list[np.ndarray],
    heats: list[np.ndarray],
    points: list[tuple[float, float]],
    ref_index: int,
    gap: int = 4,
) -> list[np.ndarray]:
    """One image per clip frame: the input and one overlay per reference point, side by side."""
    out = []
    for i, frame in enumerate(frames):
        panels = [mark(frame, points) if i == ref_index else frame]
        panels += [overlay(frame, heat[i]) for heat in heats]
        h, w = frame.shape[:2]
        canvas = np.full((h, len(panels) * w + (len(panels) - 1) * gap, 3), 255, np.uint8)
        for j, panel in enumerate(panels):
            canvas[:, j * (w + gap) : j * (w + gap) + w] = panel
        out.append(canvas)
    return out
