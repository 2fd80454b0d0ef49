"""Display orientation: turn the coded picture into the picture a player shows.

Containers store orientation as a 3x3 *display matrix* (FFmpeg's ``AV_PKT_DATA_DISPLAYMATRIX``
layout, nine int32 values, 16.16 fixed point in the 2x2 part). PyAV reports its angle as
``VideoFrame.rotation``: degrees *counter-clockwise*, so a phone's portrait clip tagged
``-90`` is shown after turning the coded picture 90 degrees clockwise. PyAV does not rotate the
pixels itself, and ``rotation`` alone cannot express mirroring (a horizontally mirrored,
unrotated clip reads back as ``-180``), so the matrix is decoded here in full.

An orientation is ``(rotation, mirrored)``: rotate counter-clockwise by ``rotation`` degrees
(one of 0, 90, 180, -90), then mirror left-right if ``mirrored``. The eight combinations cover
every EXIF-style orientation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["apply_orientation", "orientation_from_matrix", "oriented_size"]

_ROTATIONS = (0, 90, 180, -90)


def apply_orientation(rgb: np.ndarray, rotation: int, mirrored: bool = False) -> np.ndarray:
    """Rotate an image counter-clockwise by ``rotation`` degrees, then mirror it if asked.

    Args:
        rgb: image (H, W) or (H, W, C).
        rotation: a multiple of 90 (any sign; 270 is the same as -90).
        mirrored: flip left-right after the rotation.

    Returns:
        The displayed image, C-contiguous: (W, H, ...) for +-90, else (H, W, ...).
        The input array itself when there is nothing to do.
    """
    if rotation % 90:
        raise ValueError(f"rotation must be a multiple of 90 degrees, got {rotation}")
    k = (rotation // 90) % 4
    if k == 0 and not mirrored:
        return rgb
    out = np.rot90(rgb, k)  # np.rot90 turns counter-clockwise as an image is shown
    if mirrored:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def oriented_size(width: int, height: int, rotation: int) -> tuple[int, int]:
    """(width, height) after the rotation: swapped for +-90 degrees."""
    return (height, width) if rotation % 180 else (width, height)


def _transform(rgb: np.ndarray, transpose: bool, flip_rows: bool, flip_cols: bool) -> np.ndarray:
    out = rgb.swapaxes(0, 1) if transpose else rgb
    if flip_rows:
        out = out[::-1]
    if flip_cols:
        out = out[:, ::-1]
    return out


def _build_table() -> dict[tuple[bool, bool, bool], tuple[int, bool]]:
    """Name each transpose/flip combination by the (rotation, mirrored) pair that equals it."""
    probe = np.arange(6).reshape(2, 3)  # asymmetric, so every transform gives a new array
    table = {}
    for rotation in _ROTATIONS:
        for mirrored in (False, True):
            target = apply_orientation(probe, rotation, mirrored)
            for key in np.ndindex(2, 2, 2):
                flags = tuple(bool(v) for v in key)
                candidate = _transform(probe, *flags)
                if candidate.shape == target.shape and np.array_equal(candidate, target):
                    table[flags] = (rotation, mirrored)
    return table


_TABLE = _build_table()


def orientation_from_matrix(matrix: Sequence[int]) -> tuple[int, bool]:
    """Decode a display matrix into ``(rotation, mirrored)``.

    The matrix maps a coded pixel (x, y) to the displayed one by ``x' = a*x + c*y``,
    ``y' = b*x + d*y`` with ``a, b, c, d = matrix[0], matrix[1], matrix[3], matrix[4]``.
    Angles that are not a multiple of 90 degrees snap to the nearest one.

    Args:
        matrix: nine integers in FFmpeg's display-matrix layout.

    Returns:
        (rotation in {0, 90, 180, -90} counter-clockwise, mirrored left-right).
    """
    if len(matrix) < 5:
        raise ValueError(f"a display matrix has 9 values, got {len(matrix)}")
    a, b, c, d = matrix[0], matrix[1], matrix[3], matrix[4]
    if abs(a) + abs(d) >= abs(b) + abs(c):
        flags = (False, d < 0, a < 0)
    else:
        flags = (True, b < 0, c < 0)
    return _TABLE[flags]
