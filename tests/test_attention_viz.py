"""Attention maps of a reference point: the product of the H- and W-axis maps, per frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from axialvs_cli.errors import InputError
from axialvs_cli.render.attention_draw import GridMapping, colorize, figure, trajectory_map
from models.layers.trajectory import AxialAttentionMaps


def one_hot_maps(t: int, h: int, w: int, heads: int, target: dict) -> AxialAttentionMaps:
    """Maps where every query attends to (row target[t2][0]) in the H pass and to
    (column target[t2][1]) in the W pass of frame t2."""
    height = torch.zeros(1, w, heads, t, h, t, h)
    width = torch.zeros(1, h, heads, t, w, t, w)
    for t2, (row, col) in target.items():
        height[..., t2, row] = 1.0
        width[..., t2, col] = 1.0
    return AxialAttentionMaps(height=height, width=width)


def test_one_hot_trajectory_peaks_where_constructed() -> None:
    maps = one_hot_maps(3, 5, 7, 2, {0: (1, 2), 1: (3, 5), 2: (4, 0)})
    out = trajectory_map(maps, ref_frame=0, ref_cell=(1, 2))
    assert out.shape == (3, 5, 7)
    for t, (row, col) in {0: (1, 2), 1: (3, 5), 2: (4, 0)}.items():
        assert np.unravel_index(out[t].argmax(), out[t].shape) == (row, col)
        assert out[t].max() == 1.0 and np.count_nonzero(out[t]) == 1


def test_product_of_axis_maps_and_head_choice() -> None:
    torch.manual_seed(0)
    h, w, t, m = 4, 6, 2, 3
    height = torch.rand(1, w, m, t, h, t, h).softmax(-1)
    width = torch.rand(1, h, m, t, w, t, w).softmax(-1)
    maps = AxialAttentionMaps(height=height, width=width)
    y0, x0 = 2, 5
    got = trajectory_map(maps, 1, (y0, x0), head=1)
    want = np.einsum("th,tw->thw", height[0, x0, 1, 1, y0].numpy(), width[0, y0, 1, 1, x0].numpy())
    want = want / want.reshape(t, -1).max(1)[:, None, None]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    mean = trajectory_map(maps, 1, (y0, x0))
    per_head = np.einsum(
        "mth,mtw->mthw", height[0, x0, :, 1, y0].numpy(), width[0, y0, :, 1, x0].numpy()
    )
    want = per_head.mean(0)
    np.testing.assert_allclose(mean, want / want.reshape(t, -1).max(1)[:, None, None], rtol=1e-6)


def test_grid_mapping_and_out_of_frame_points() -> None:
    # A 100 x 60 frame scaled by 0.5 to 50 x 30 and padded to 65 x 33: the stride-16 grid has
    # ceil(33 / 16) = 3 rows and ceil(65 / 16) = 5 columns.
    mapping = GridMapping(scale=0.5, stride=16, grid=(3, 5), frame_size=(60, 100))
    assert mapping.cell(0, 0) == (0, 0)
    assert mapping.cell(99, 59) == (1, 3)  # (int(29.5) // 16, int(49.5) // 16)
    assert mapping.cell(32, 40) == (1, 1)  # (20 // 16, 16 // 16)
    with pytest.raises(InputError, match="outside the 100x60 frame"):
        mapping.cell(100, 10)
    grid = np.arange(15, dtype=float).reshape(3, 5)
    full = mapping.to_frame(grid)
    assert full.shape == (60, 100)  # padding cropped: rows/columns 2 and 4 never show
    assert full[0, 0] == grid[0, 0] and full[59, 99] == grid[1, 3]
    assert set(np.unique(full)) == {0, 1, 2, 3, 5, 6, 7, 8}


def test_figure_layout_and_colours() -> None:
    frames = [np.full((10, 12, 3), 50 * i, np.uint8) for i in range(2)]
    heats = [np.zeros((2, 10, 12)), np.ones((2, 10, 12))]
    img = figure(frames, heats, [(3.0, 4.0), (8.0, 2.0)], ref_index=0, gap=4)
    assert img.shape == (5 * 10 + 4 * 4, 2 * 12 + 4, 3)
    assert tuple(img[0, 0]) != (255, 255, 255)
    assert (colorize(np.array([[0.0, 1.0]])) == [[[0, 0, 4], [252, 255, 164]]]).all()
