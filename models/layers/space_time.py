"""Space-time attention layers compared with axial-trajectory attention (paper Tables 4, 5, 8).

All temporal layers share one interface: `forward(x, pos, need_weights) -> (x, maps)` with
x, pos of shape (B, T, H, W, C), so the within-clip module can swap them by name.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .trajectory import AxialTrajectoryLayer, FullTrajectoryLayer, PostNormLayer


class MultiHeadAttention(nn.Module):
    """Plain multi-head self-attention; queries/keys from `x`, values from `value`."""

    def __init__(self, dim: int, heads: int, attn_drop: float = 0.0) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop = attn_drop

    def forward(self, x: Tensor, value: Tensor) -> Tensor:
        """x, value: (S, L, C) -> (S, L, C)."""
        s, n, c = x.shape

        def split(t: Tensor) -> Tensor:
            return t.view(s, n, self.heads, c // self.heads).transpose(1, 2)  # (S, M, L, d)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(value))
        drop = self.attn_drop if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=drop)  # (S, M, L, d)
        return self.proj(out.transpose(1, 2).reshape(s, n, c))


class JointSpaceTimeLayer(PostNormLayer):
    """Every token attends to every token of the clip (Vaswani et al.): O((T H W)^2)."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float = 0.0) -> None:
        super().__init__(dim, ffn_dim, dropout)
        self.attn = MultiHeadAttention(dim, heads)

    def forward(self, x: Tensor, pos: Tensor, need_weights: bool = False) -> tuple[Tensor, None]:
        b, t, h, w, c = x.shape
        xs = x.reshape(b, t * h * w, c)
        out = self.attn(xs + pos.reshape(b, t * h * w, c), xs)
        return self.finish(x + self.dropout(out).view(b, t, h, w, c)), None


class DividedSpaceTimeLayer(PostNormLayer):
    """Time attention at each pixel, then space attention within each frame (Bertasius et al.)."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float = 0.0) -> None:
        super().__init__(dim, ffn_dim, dropout)
        self.time_attn = MultiHeadAttention(dim, heads)
        self.space_attn = MultiHeadAttention(dim, heads)

    def forward(self, x: Tensor, pos: Tensor, need_weights: bool = False) -> tuple[Tensor, None]:
        b, t, h, w, c = x.shape
        xs = x.permute(0, 2, 3, 1, 4).reshape(b * h * w, t, c)  # (B H W) T C
        ps = pos.permute(0, 2, 3, 1, 4).reshape(b * h * w, t, c)
        xs = xs + self.dropout(self.time_attn(xs + ps, xs))
        xs = xs.view(b, h, w, t, c).permute(0, 3, 1, 2, 4).reshape(b * t, h * w, c)  # (B T) (H W) C
        ps = pos.reshape(b * t, h * w, c)
        xs = xs + self.dropout(self.space_attn(xs + ps, xs))
        return self.finish(xs.view(b, t, h, w, c)), None


def make_temporal_layer(kind: str, dim: int, heads: int, ffn_dim: int, dropout: float) -> nn.Module:
    """A temporal layer by name (see `models.config.TEMPORAL_ATTENTIONS`)."""
    if kind == "axial_trajectory":
        return AxialTrajectoryLayer(dim, heads, ffn_dim, dropout)
    if kind == "trajectory":
        return FullTrajectoryLayer(dim, heads, ffn_dim, dropout)
    if kind == "joint":
        return JointSpaceTimeLayer(dim, heads, ffn_dim, dropout)
    if kind == "divided":
        return DividedSpaceTimeLayer(dim, heads, ffn_dim, dropout)
    raise ValueError(
        f"unknown temporal attention {kind!r}; choose axial_trajectory, trajectory, joint, divided"
    )
