"""MSDeformAttn (grid_sample) against a literal bilinear reference; encoder layer and helpers."""

from __future__ import annotations

import math

import pytest
import torch

from models.layers.msdeform_attn import MSDeformAttn, ms_deform_attn_core
from models.layers.msdeform_encoder import (
    MSDeformEncoderLayer,
    flatten_levels,
    get_reference_points,
    split_levels,
)

SHAPES = [(5, 7), (3, 4), (1, 3)]  # odd sizes, one level a single row


def bilinear_literal(value_map: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """value_map (D, H, W) read at normalised (x, y): pixel (x*W - 0.5, y*H - 0.5), zero outside."""
    _, h, w = value_map.shape
    px, py = x * w - 0.5, y * h - 0.5
    x0, y0 = math.floor(px), math.floor(py)
    fx, fy = px - x0, py - y0
    out = torch.zeros(value_map.shape[0], dtype=value_map.dtype)
    for yi, xi, weight in (
        (y0, x0, (1 - fy) * (1 - fx)),
        (y0, x0 + 1, (1 - fy) * fx),
        (y0 + 1, x0, fy * (1 - fx)),
        (y0 + 1, x0 + 1, fy * fx),
    ):
        if 0 <= yi < h and 0 <= xi < w:
            out += weight * value_map[:, yi, xi]
    return out


def core_literal(value, shapes, locations, weights):
    """Loops over batch, queries, heads, levels and points. Shapes as `ms_deform_attn_core`."""
    b, _, m, d = value.shape
    lq = locations.shape[1]
    out = torch.zeros(b, lq, m, d, dtype=torch.float64)
    starts = [0]
    for h, w in shapes:
        starts.append(starts[-1] + h * w)
    for bi in range(b):
        for q in range(lq):
            for head in range(m):
                for level, (h, w) in enumerate(shapes):
                    flat = value[bi, starts[level] : starts[level + 1], head]  # (H*W, D)
                    value_map = flat.T.reshape(d, h, w).double()
                    for point in range(locations.shape[4]):
                        x, y = locations[bi, q, head, level, point].tolist()
                        sample = bilinear_literal(value_map, x, y)
                        out[bi, q, head] += weights[bi, q, head, level, point].item() * sample
    return out.reshape(b, lq, m * d)


def random_inputs(b=2, lq=6, m=2, d=3, p=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = sum(h * w for h, w in SHAPES)
    value = torch.randn(b, s, m, d, generator=g)
    locations = torch.rand(b, lq, m, len(SHAPES), p, 2, generator=g) * 1.6 - 0.3
    if p >= 2:
        locations[0, 0, 0, :, 0] = torch.tensor([0.0, 1.0])  # on the border of the map
        locations[0, 0, 0, :, 1] = torch.tensor([-0.2, 1.25])  # beyond the border
    weights = torch.rand(b, lq, m, len(SHAPES), p, generator=g)
    return value, locations, weights


def test_core_matches_literal_reference():
    value, locations, weights = random_inputs()
    outside = ((locations < 0) | (locations > 1)).any(-1)
    assert outside.any() and (~outside).any()
    fast = ms_deform_attn_core(value, torch.tensor(SHAPES), locations, weights)
    slow = core_literal(value, SHAPES, locations, weights)
    assert fast.shape == (2, 6, 2 * 3)
    assert (fast.double() - slow).abs().max().item() < 1e-5


def test_pixel_centre_reads_the_pixel():
    value, _, _ = random_inputs(b=1, lq=1, m=1, d=4, p=1)
    h, w = SHAPES[0]
    i, j = 3, 5
    locations = torch.zeros(1, 1, 1, len(SHAPES), 1, 2)
    locations[..., 0, 0, :] = torch.tensor([(j + 0.5) / w, (i + 0.5) / h])
    weights = torch.zeros(1, 1, 1, len(SHAPES), 1)
    weights[..., 0, 0] = 1.0
    out = ms_deform_attn_core(value, SHAPES, locations, weights)
    torch.testing.assert_close(out[0, 0], value[0, i * w + j, 0])


def make_module(seed=0, d_model=16, n_heads=4, n_points=3):
    torch.manual_seed(seed)
    attn = MSDeformAttn(d_model=d_model, n_levels=len(SHAPES), n_heads=n_heads, n_points=n_points)
    with torch.no_grad():  # leave the init so that offsets and weights vary with the query
        attn.sampling_offsets.weight.normal_(0, 0.5)
        attn.attention_weights.weight.normal_(0, 0.5)
    return attn


def module_inputs(b=2, lq=5, c=16, seed=1):
    g = torch.Generator().manual_seed(seed)
    s = sum(h * w for h, w in SHAPES)
    query = torch.randn(b, lq, c, generator=g)
    ref = torch.rand(b, lq, len(SHAPES), 2, generator=g)
    src = torch.randn(b, s, c, generator=g)
    shapes = torch.tensor(SHAPES)
    starts = torch.tensor([0, 35, 47])  # 5*7, + 3*4; S = 50
    return query, ref, src, shapes, starts


def test_module_matches_literal_reference():
    attn = make_module()
    query, ref, src, shapes, starts = module_inputs()
    out = attn(query, ref, src, shapes, starts)
    b, lq, c = query.shape
    m, n_levels, p = attn.n_heads, attn.n_levels, attn.n_points
    with torch.no_grad():
        value = attn.value_proj(src).view(b, -1, m, c // m)
        offsets = attn.sampling_offsets(query).view(b, lq, m, n_levels, p, 2)
        weights = attn.attention_weights(query).view(b, lq, m, -1).softmax(-1)
        weights = weights.view(b, lq, m, n_levels, p)
        locations = torch.empty_like(offsets)
        for level, (h, w) in enumerate(SHAPES):  # offsets are in pixels of their level
            locations[..., level, :, 0] = (
                ref[:, :, None, level, None, 0] + offsets[..., level, :, 0] / w
            )
            locations[..., level, :, 1] = (
                ref[:, :, None, level, None, 1] + offsets[..., level, :, 1] / h
            )
        assert ((locations < 0) | (locations > 1)).any()
        expected = attn.output_proj(core_literal(value, SHAPES, locations, weights).float())
    assert out.shape == (b, lq, c)
    assert (out - expected).abs().max().item() < 1e-5


def test_standard_initialisation():
    attn = MSDeformAttn(d_model=32, n_levels=2, n_heads=4, n_points=3)
    bias = attn.sampling_offsets.bias.view(4, 2, 3, 2)
    assert torch.count_nonzero(attn.sampling_offsets.weight) == 0
    torch.testing.assert_close(bias[0, 1, :, :], torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]))
    torch.testing.assert_close(bias[1, 0, 1], torch.tensor([0.0, 2.0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(bias[2, 0, 2], torch.tensor([-3.0, 0.0]), atol=1e-6, rtol=0)
    assert torch.count_nonzero(attn.attention_weights.weight) == 0
    assert torch.count_nonzero(attn.attention_weights.bias) == 0
    assert torch.count_nonzero(attn.value_proj.bias) == 0
    bound = math.sqrt(6 / (32 + 32))  # Xavier-uniform
    assert attn.output_proj.weight.abs().max() <= bound


def test_padding_mask_zeroes_contributions():
    attn = make_module()
    query, ref, src, shapes, starts = module_inputs()
    mask = torch.zeros(src.shape[:2], dtype=torch.bool)
    mask[0, 10:30] = True
    mask[1, 40:] = True
    out = attn(query, ref, src, shapes, starts, mask)
    changed = src.clone()
    changed[mask] = torch.randn(int(mask.sum()), src.shape[-1]) * 10
    torch.testing.assert_close(attn(query, ref, changed, shapes, starts, mask), out)
    assert not torch.allclose(attn(query, ref, src, shapes, starts), out)
    everything = torch.ones_like(mask)  # nothing to read: only the output bias is left
    empty = attn(query, ref, src, shapes, starts, everything)
    torch.testing.assert_close(empty, attn.output_proj.bias.expand_as(empty))


def test_gradient_reaches_every_parameter_and_input():
    attn = MSDeformAttn(d_model=16, n_levels=len(SHAPES), n_heads=4, n_points=2)  # default init
    query, ref, src, shapes, starts = module_inputs()
    query.requires_grad_(True)
    src.requires_grad_(True)
    attn(query, ref, src, shapes, starts).square().sum().backward()
    for name, param in attn.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert src.grad.abs().sum() > 0
    # at init the offset and weight projections ignore the query; once trained they do not
    trained = make_module()
    query.grad = None
    trained(query, ref, src, shapes, starts).square().sum().backward()
    assert query.grad.abs().sum() > 0


def test_reference_points_broadcast_over_batch_and_shape_errors():
    attn = make_module()
    query, ref, src, shapes, starts = module_inputs()
    shared = ref[:1]
    torch.testing.assert_close(
        attn(query, shared, src, shapes, starts),
        attn(query, shared.expand_as(ref), src, shapes, starts),
    )
    with pytest.raises(ValueError):
        attn(query, ref, src[:, :-1], shapes, starts)
    with pytest.raises(ValueError):
        attn(query, ref[:, :, :2], src, shapes, starts)


def test_flatten_split_round_trip_and_reference_points():
    maps = [torch.randn(2, 8, h, w) for h, w in SHAPES]
    flat, shapes, starts = flatten_levels(maps)
    assert flat.shape == (2, 50, 8)
    assert shapes.tolist() == [list(s) for s in SHAPES] and starts.tolist() == [0, 35, 47]
    for a, b in zip(split_levels(flat, shapes), maps, strict=True):
        torch.testing.assert_close(a, b)
    ref = get_reference_points(shapes)
    assert ref.shape == (1, 50, 3, 2)
    torch.testing.assert_close(ref[0, 0, 1], torch.tensor([0.5 / 7, 0.5 / 5]))
    torch.testing.assert_close(ref[0, 35 + 4 * 2 + 3, 0], torch.tensor([3.5 / 4, 2.5 / 3]))
    ratios = torch.tensor([[[1.0, 1.0]] * 3, [[0.5, 0.8]] * 3])  # (B, L, 2)
    padded = get_reference_points(shapes, ratios)
    assert padded.shape == (2, 50, 3, 2)
    torch.testing.assert_close(padded[0], ref[0])
    torch.testing.assert_close(padded[1, 0, 0], torch.tensor([0.5 / 7, 0.5 / 5]))


def test_encoder_layer_keys_and_forward():
    layer = MSDeformEncoderLayer(d_model=16, d_ffn=32, n_levels=3, n_heads=4, n_points=2)
    keys = set(layer.state_dict())
    for key in (
        "self_attn.sampling_offsets.weight",
        "self_attn.attention_weights.bias",
        "self_attn.value_proj.weight",
        "self_attn.output_proj.bias",
        "norm1.weight",
        "linear1.weight",
        "linear2.bias",
        "norm2.bias",
    ):
        assert key in keys
    maps = [torch.randn(2, 16, h, w) for h, w in SHAPES]
    src, shapes, starts = flatten_levels(maps)
    pos = torch.randn_like(src)
    out = layer(src, pos, get_reference_points(shapes), shapes, starts)
    assert out.shape == src.shape and torch.isfinite(out).all()
    torch.testing.assert_close(out.mean(-1), torch.zeros(out.shape[:2]), atol=1e-5, rtol=0)


def test_core_gradients_match_finite_differences():
    value, locations, weights = random_inputs(b=1, lq=3, m=2, d=2, p=2, seed=3)
    inputs = tuple(t.double().requires_grad_(True) for t in (value, locations, weights))
    assert torch.autograd.gradcheck(
        lambda v, loc, w: ms_deform_attn_core(v, SHAPES, loc, w), inputs, eps=1e-6, atol=1e-5
    )
