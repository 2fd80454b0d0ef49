"""Sine position embeddings (2-D and 3-D) against the formula written out per element."""

from __future__ import annotations

import math

import pytest
import torch

from models.layers.position import PositionEmbeddingSine, PositionEmbeddingSine3D

EPS = 1e-6
SCALE = 2 * math.pi


def sine(u: float, k: int, feats: int, temperature: float = 10000.0) -> float:
    """Channel k of the encoding of coordinate u over `feats` channels."""
    angle = u / temperature ** (2 * (k // 2) / feats)
    return math.sin(angle) if k % 2 == 0 else math.cos(angle)


def test_2d_matches_formula():
    feats, h, w = 6, 3, 5
    pos = PositionEmbeddingSine(num_pos_feats=feats)(torch.zeros(2, 12, h, w))
    assert pos.shape == (2, 2 * feats, h, w) and pos.dtype == torch.float32
    for i in range(h):
        for j in range(w):
            y = (i + 1) / (h + EPS) * SCALE
            x = (j + 1) / (w + EPS) * SCALE
            expected = [sine(y, k, feats) for k in range(feats)]
            expected += [sine(x, k, feats) for k in range(feats)]
            torch.testing.assert_close(pos[1, :, i, j], torch.tensor(expected), atol=1e-5, rtol=0)
    torch.testing.assert_close(pos[0], pos[1])


def test_2d_mask_normalises_over_the_valid_region():
    feats = 4
    mask = torch.zeros(1, 4, 6, dtype=torch.bool)
    mask[:, :, 4:] = True  # the two right columns are padding
    pos = PositionEmbeddingSine(num_pos_feats=feats)(torch.zeros(1, 8, 4, 6), mask)
    x_last_valid = torch.tensor([sine(4 / (4 + EPS) * SCALE, k, feats) for k in range(feats)])
    torch.testing.assert_close(pos[0, feats:, 2, 3], x_last_valid, atol=1e-5, rtol=0)


def test_2d_unnormalised_and_dtype():
    pos = PositionEmbeddingSine(num_pos_feats=4, normalize=False)(torch.zeros(1, 8, 2, 3).double())
    assert pos.dtype == torch.float64
    torch.testing.assert_close(
        pos[0, 4:, 1, 2],
        torch.tensor([sine(3.0, k, 4) for k in range(4)]).double(),
        atol=1e-5,
        rtol=0,
    )


def test_3d_matches_formula():
    feats, t, h, w = 4, 3, 2, 3
    pos = PositionEmbeddingSine3D(num_pos_feats=feats)(torch.zeros(1, t, 8, h, w))
    assert pos.shape == (1, t, 2 * feats, h, w)
    for f in range(t):
        for i in range(h):
            for j in range(w):
                tt = (f + 1) / (t + EPS) * SCALE
                y = (i + 1) / (h + EPS) * SCALE
                x = (j + 1) / (w + EPS) * SCALE
                spatial = [sine(y, k, feats) for k in range(feats)]
                spatial += [sine(x, k, feats) for k in range(feats)]
                expected = [s + sine(tt, k, 2 * feats) for k, s in enumerate(spatial)]
                torch.testing.assert_close(
                    pos[0, f, :, i, j], torch.tensor(expected), atol=1e-5, rtol=0
                )


def test_3d_spatial_part_matches_2d():
    x = torch.zeros(2, 2, 16, 5, 7)
    pos3 = PositionEmbeddingSine3D(num_pos_feats=8)(x)
    pos2 = PositionEmbeddingSine(num_pos_feats=8)(x[:, 0])
    # frames differ only by the temporal term, which is constant over (y, x)
    diff = pos3[:, 1] - pos3[:, 0]  # (B, C, H, W)
    torch.testing.assert_close(diff, diff[..., :1, :1].expand_as(diff))
    temporal0 = pos3[:, 0] - pos2
    torch.testing.assert_close(temporal0, temporal0[..., :1, :1].expand_as(temporal0))


def test_invalid_arguments():
    with pytest.raises(ValueError):
        PositionEmbeddingSine(num_pos_feats=5)
    with pytest.raises(ValueError):
        PositionEmbeddingSine(num_pos_feats=4, normalize=False, scale=1.0)
    with pytest.raises(ValueError):
        PositionEmbeddingSine3D(num_pos_feats=4)(torch.zeros(1, 8, 3, 3))


def test_embeddings_without_a_mask_are_kept_per_shape():
    """A second call of the same shape returns the kept tensor (equal to a masked call with an
    all-valid mask); another shape or dtype gets its own; masked calls are never kept."""
    for module, x, mask_shape in (
        (PositionEmbeddingSine(4), torch.zeros(1, 8, 3, 5), (1, 3, 5)),
        (PositionEmbeddingSine3D(4), torch.zeros(1, 2, 8, 3, 5), (1, 2, 3, 5)),
    ):
        first = module(x)
        assert module(x) is first
        torch.testing.assert_close(first, module(x, torch.zeros(mask_shape, dtype=torch.bool)))
        other = module(torch.zeros(*x.shape[:-1], 6))
        assert other.shape[-1] == 6 and module(x) is first
        assert module(x.double()).dtype == torch.float64
        masked = torch.zeros(mask_shape, dtype=torch.bool)
        masked[..., -1] = True
        assert module(x, masked) is not module(x, masked)
        assert len(module._cache) == 3
