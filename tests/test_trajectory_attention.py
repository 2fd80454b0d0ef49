"""Trajectory attention against a literal transcription of the paper's eqs. 2-4."""

from __future__ import annotations

import pytest
import torch

from models.layers.trajectory import AxialTrajectoryLayer, TrajectoryAttention


def literal_trajectory_attention(
    mod: TrajectoryAttention, x: torch.Tensor, value: torch.Tensor, frames: int
) -> torch.Tensor:
    """Eqs. 2-4 written out token by token, frame by frame, head by head."""
    s_count, n, c = x.shape
    p = n // frames
    m_count, d = mod.heads, mod.head_dim
    scale = d**-0.5
    if mod.fused_qkv:
        wq, wk, wv = mod.qkv.weight.chunk(3, dim=0)
        bq, bk, bv = mod.qkv.bias.chunk(3, dim=0)
    else:
        wq, wk, wv = mod.q.weight, mod.k.weight, mod.v.weight
        bq, bk, bv = mod.q.bias, mod.k.bias, mod.v.bias
    wq2 = mod.proj_q.weight
    wk2, wv2 = mod.proj_kv.weight.chunk(2, dim=0)
    bk2, bv2 = mod.proj_kv.bias.chunk(2, dim=0)
    out = torch.zeros(s_count, n, c, dtype=torch.float64)
    for s in range(s_count):
        q = x[s] @ wq.T + bq  # (n, C)
        k = x[s] @ wk.T + bk
        v = value[s] @ wv.T + bv
        for i in range(n):
            t = i // p  # the query's own frame
            y = torch.zeros(frames, c, dtype=torch.float64)  # trajectory points y~_{t t' h}
            for m in range(m_count):
                hs = slice(m * d, (m + 1) * d)
                for tp in range(frames):
                    keys = range(tp * p, (tp + 1) * p)
                    logits = torch.stack([(q[i, hs] * k[j, hs]).sum() * scale for j in keys])
                    a = torch.softmax(logits, dim=0)  # eq. 2: softmax over h' of frame t'
                    y[tp, hs] = sum(a[jj] * v[j, hs] for jj, j in enumerate(keys))
            q2 = wq2 @ y[t] + mod.proj_q.bias  # eq. 3: q~ from the point at frame t
            k2 = y @ wk2.T + bk2  # (F, C)
            v2 = y @ wv2.T + bv2
            o = torch.zeros(c, dtype=torch.float64)
            for m in range(m_count):
                hs = slice(m * d, (m + 1) * d)
                logits = torch.stack([(q2[hs] * k2[tp, hs]).sum() * scale for tp in range(frames)])
                a = torch.softmax(logits, dim=0)  # eq. 4: softmax over t'
                o[hs] = sum(a[tp] * v2[tp, hs] for tp in range(frames))
            out[s, i] = mod.proj.weight @ o + mod.proj.bias
    return out


@pytest.mark.parametrize("fused_qkv", [False, True])
@pytest.mark.parametrize("need_weights", [False, True])
def test_matches_literal_equations(fused_qkv: bool, need_weights: bool) -> None:
    torch.manual_seed(0)
    mod = TrajectoryAttention(8, 2, fused_qkv=fused_qkv).double()
    for prm in mod.parameters():  # non-trivial biases too
        torch.nn.init.normal_(prm, std=0.5)
    frames, p = 3, 5
    x = torch.randn(2, frames * p, 8, dtype=torch.float64)
    value = x if fused_qkv else torch.randn_like(x)
    got, weights = mod(x, value, frames=frames, need_weights=need_weights)
    want = literal_trajectory_attention(mod, x, value, frames)
    assert (got - want).abs().max().item() < 1e-5
    if need_weights:
        assert weights.shape == (2, 2, frames * p, frames, p)
        torch.testing.assert_close(
            weights.sum(-1), torch.ones(2, 2, frames * p, frames, dtype=torch.float64)
        )


def test_float32_fused_path_matches_literal() -> None:
    torch.manual_seed(1)
    mod = TrajectoryAttention(16, 4)
    x = torch.randn(3, 2 * 7, 16)
    got, _ = mod(x, frames=2)
    want = literal_trajectory_attention(mod.double(), x.double(), x.double(), 2)
    assert (got.double() - want).abs().max().item() < 1e-5


def test_axial_layer_is_height_pass_then_width_pass() -> None:
    """The layer equals: height-axis trajectory attention per column, residual, then the
    width-axis one per row, residual, then LN / FFN / LN - checked with the literal form."""
    torch.manual_seed(2)
    b, t, h, w, c = 1, 2, 3, 4, 8
    layer = AxialTrajectoryLayer(c, 2, 16).double().eval()
    x = torch.randn(b, t, h, w, c, dtype=torch.float64)
    pos = torch.randn_like(x)
    got, maps = layer(x, pos, need_weights=True)

    y = x.clone()
    for col in range(w):
        seq = y[0, :, :, col].reshape(1, t * h, c)
        qk = seq + pos[0, :, :, col].reshape(1, t * h, c)
        upd = literal_trajectory_attention(layer.height_attn, qk, seq, t)
        y[0, :, :, col] = (seq + upd).view(t, h, c)
    z = y.clone()
    for row in range(h):
        seq = y[0, :, row].reshape(1, t * w, c)
        qk = seq + pos[0, :, row].reshape(1, t * w, c)
        upd = literal_trajectory_attention(layer.width_attn, qk, seq, t)
        z[0, :, row] = (seq + upd).view(t, w, c)
    want = layer.finish(z)
    assert (got - want).abs().max().item() < 1e-5
    assert maps.height.shape == (b, w, 2, t, h, t, h)
    assert maps.width.shape == (b, h, 2, t, w, t, w)


def test_permuting_frames_permutes_outputs() -> None:
    torch.manual_seed(3)
    layer = AxialTrajectoryLayer(8, 2, 16).eval()
    x = torch.randn(2, 3, 5, 7, 8)
    pos = torch.randn_like(x)
    perm = torch.tensor([2, 0, 1])
    out, _ = layer(x, pos)
    out_p, _ = layer(x[:, perm], pos[:, perm])
    torch.testing.assert_close(out_p, out[:, perm], atol=1e-5, rtol=1e-5)
