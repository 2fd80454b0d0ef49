"""Trajectory attention (Patrick et al.) and the paper's axial-trajectory attention (eqs. 2-6).

A sequence of F frames x P positions, flattened frame-major to F*P tokens, is attended in two
stages:

1. (eq. 2) every query token compares itself with the keys of each frame f' separately and
   pools that frame's values: one "trajectory point" per query and frame, the softmax running
   over the P positions of f' only.
2. (eqs. 3-4) the trajectory point at the query's own frame, projected by W_q, attends over the
   query's F trajectory points projected by W_k / W_v: a 1-D attention along time.

Axial-trajectory attention runs this twice per layer: along the height axis (P = H, one
sequence per column) and then along the width axis (P = W, one sequence per row).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class TrajectoryAttention(nn.Module):
    """Multi-head trajectory attention over sequences of `frames` x P tokens.

    Args:
        dim: channels C.
        heads: number of heads M (C must be divisible by M).
        fused_qkv: one `qkv` projection of a single input (the cross-clip module's
            parameterisation) instead of separate `q`, `k`, `v` of (query/key, value) inputs.
        attn_drop: dropout on the stage-1 attention weights.
    """

    def __init__(self, dim: int, heads: int, *, fused_qkv: bool = False, attn_drop: float = 0.0):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim**-0.5
        self.fused_qkv = fused_qkv
        if fused_qkv:
            self.qkv = nn.Linear(dim, 3 * dim)
        else:
            self.q = nn.Linear(dim, dim)
            self.k = nn.Linear(dim, dim)
            self.v = nn.Linear(dim, dim)
        self.proj_q = nn.Linear(dim, dim)  # W_q of eq. 3
        self.proj_kv = nn.Linear(dim, 2 * dim)  # W_k, W_v of eq. 3
        self.proj = nn.Linear(dim, dim)
        self.attn_drop = attn_drop

    def _split_heads(self, x: Tensor) -> Tensor:
        s, n, _ = x.shape
        return x.view(s, n, self.heads, self.head_dim).transpose(1, 2)  # (S, M, n, d)

    def forward(
        self, x: Tensor, value: Tensor | None = None, *, frames: int, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """Attend along trajectories.

        Args:
            x: (S, F*P, C) tokens, frame-major. Queries and keys are projected from it (and,
                with `fused_qkv`, values too).
            value: (S, F*P, C) tokens the values are projected from (default: `x`).
            frames: F.
            need_weights: also return the stage-1 attention (slower: no fused kernel).

        Returns:
            (S, F*P, C) outputs, and the stage-1 weights (S, M, F*P, F, P) or None.
        """
        s, n, c = x.shape
        if n % frames:
            raise ValueError(f"sequence of {n} tokens is not {frames} frames of equal length")
        p = n // frames
        if self.fused_qkv:
            q, k, v = self.qkv(x).chunk(3, dim=-1)
        else:
            q, k, v = self.q(x), self.k(x), self.v(x if value is None else value)
        q, k, v = self._split_heads(q), self._split_heads(k), self._split_heads(v)  # (S, M, FP, d)
        k = k.reshape(s, self.heads, frames, p, self.head_dim)  # (S, M, F, P, d)
        v = v.reshape(s, self.heads, frames, p, self.head_dim)
        drop = self.attn_drop if self.training else 0.0

        # Stage 1 (eq. 2): one trajectory point per query and key frame.
        weights = None
        if need_weights or drop > 0.0:
            logits = torch.einsum("smqd,smfpd->smqfp", q * self.scale, k)  # (S, M, FP, F, P)
            weights = logits.softmax(dim=-1)
            attn = F.dropout(weights, drop, self.training) if drop > 0.0 else weights
            points = torch.einsum("smqfp,smfpd->smqfd", attn, v)  # (S, M, FP, F, d)
        else:
            # The same computation as F independent attentions (one per key frame), which the
            # fused kernel runs without materialising the (FP x F x P) weights.
            sm = s * self.heads
            q_f = q.reshape(sm, 1, n, self.head_dim).expand(sm, frames, n, self.head_dim)
            k_f = k.reshape(sm, frames, p, self.head_dim)
            v_f = v.reshape(sm, frames, p, self.head_dim)
            points = F.scaled_dot_product_attention(q_f, k_f, v_f)  # (SM, F, FP, d)
            points = points.view(s, self.heads, frames, n, self.head_dim).transpose(2, 3)
        points = points.permute(0, 2, 3, 1, 4).reshape(s, n, frames, c)  # (S, FP, F, C)

        # Stage 2 (eqs. 3-4): the point at the query's own frame attends over its F points.
        own = torch.diagonal(points.view(s, frames, p, frames, c), dim1=1, dim2=3)  # (S, P, C, F)
        own = own.permute(0, 3, 1, 2).reshape(s, n, c)  # (S, FP, C)
        q2 = self.proj_q(own).view(s, n, self.heads, self.head_dim) * self.scale
        k2, v2 = self.proj_kv(points).chunk(2, dim=-1)  # (S, FP, F, C) each
        k2 = k2.reshape(s, n, frames, self.heads, self.head_dim)
        v2 = v2.reshape(s, n, frames, self.heads, self.head_dim)
        attn2 = torch.einsum("sqmd,sqfmd->sqmf", q2, k2).softmax(dim=-1)  # (S, FP, M, F)
        out = torch.einsum("sqmf,sqfmd->sqmd", attn2, v2).reshape(s, n, c)
        return self.proj(out), weights


class PostNormLayer(nn.Module):
    """Shared tail of the temporal layers: LayerNorm, FFN (ReLU) with residual, LayerNorm."""

    def __init__(self, dim: int, ffn_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(dim)
        self.linear1 = nn.Linear(dim, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, dim)
        self.norm2 = nn.LayerNorm(dim)

    def finish(self, x: Tensor) -> Tensor:
        x = self.norm1(x)
        x = x + self.dropout(self.linear2(self.dropout(F.relu(self.linear1(x)))))
        return self.norm2(x)


@dataclass
class AxialAttentionMaps:
    """Stage-1 weights of one axial-trajectory layer, for visualisation.

    height[b, w, m, t, h, t2, h2]: weight of key (t2, h2) for query (t, h) in column w, head m.
    width[b, h, m, t, w, t2, w2]: the same for the width pass in row h.
    """

    height: Tensor  # (B, W, M, T, H, T, H)
    width: Tensor  # (B, H, M, T, W, T, W)


class AxialTrajectoryLayer(PostNormLayer):
    """Axial-trajectory attention layer: height pass, width pass, LN, FFN, LN (post-norm)."""

    def __init__(
        self, dim: int, heads: int, ffn_dim: int, dropout: float = 0.0, attn_drop: float = 0.0
    ):
        super().__init__(dim, ffn_dim, dropout)
        self.height_attn = TrajectoryAttention(dim, heads, attn_drop=attn_drop)
        self.width_attn = TrajectoryAttention(dim, heads, attn_drop=attn_drop)

    def forward(
        self, x: Tensor, pos: Tensor, need_weights: bool = False
    ) -> tuple[Tensor, AxialAttentionMaps | None]:
        """x, pos: (B, T, H, W, C) -> (B, T, H, W, C) and the attention maps if asked."""
        b, t, h, w, c = x.shape
        # Height pass: one sequence of T*H tokens per (batch, column).
        xs = x.permute(0, 3, 1, 2, 4).reshape(b * w, t * h, c)  # (B W) (T H) C
        ps = pos.permute(0, 3, 1, 2, 4).reshape(b * w, t * h, c)
        out, wh = self.height_attn(xs + ps, xs, frames=t, need_weights=need_weights)
        xs = xs + self.dropout(out)
        # Width pass: one sequence of T*W tokens per (batch, row).
        xs = xs.view(b, w, t, h, c).permute(0, 3, 2, 1, 4).reshape(b * h, t * w, c)  # (B H) (T W) C
        ps = pos.permute(0, 2, 1, 3, 4).reshape(b * h, t * w, c)
        out, ww = self.width_attn(xs + ps, xs, frames=t, need_weights=need_weights)
        xs = xs + self.dropout(out)
        x = xs.view(b, h, t, w, c).permute(0, 2, 1, 3, 4)  # (B, T, H, W, C)
        maps = None
        if need_weights:
            m = wh.shape[1]
            maps = AxialAttentionMaps(
                height=wh.view(b, w, m, t, h, t, h), width=ww.view(b, h, m, t, w, t, w)
            )
        return self.finish(x), maps


class FullTrajectoryLayer(PostNormLayer):
    """Trajectory attention over all H*W positions of each frame (paper Table 5, 'TrjAttn')."""

    def __init__(
        self, dim: int, heads: int, ffn_dim: int, dropout: float = 0.0, attn_drop: float = 0.0
    ):
        super().__init__(dim, ffn_dim, dropout)
        self.temporal_attn = TrajectoryAttention(dim, heads, attn_drop=attn_drop)

    def forward(
        self, x: Tensor, pos: Tensor, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """x, pos: (B, T, H, W, C) -> (B, T, H, W, C), and the stage-1 weights
        (B, M, T*H*W, T, H*W) when `need_weights`."""
        b, t, h, w, c = x.shape
        xs = x.reshape(b, t * h * w, c)
        qk = xs + pos.reshape(b, t * h * w, c)
        out, weights = self.temporal_attn(qk, xs, frames=t, need_weights=need_weights)
        return self.finish(x + self.dropout(out).view(b, t, h, w, c)), weights
