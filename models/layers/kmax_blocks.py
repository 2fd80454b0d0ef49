"""Residual blocks of the kMaX pixel decoder: axial-attention blocks and bottleneck blocks.

The axial attention here is the spatial one of Axial-DeepLab (content + relative-position
terms, batch-normalised), applied per frame; it is unrelated to the temporal axial-trajectory
attention of the within-clip module.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .common import BN_EPS, BN_MOMENTUM, ConvNorm, DropPath, trunc_normal_

MAX_SPAN = 255  # relative positions -254..254 have their own embedding; farther ones are clipped


def relative_index(length: int, device: torch.device) -> Tensor:
    """(L, L) indices into a table of 2 * MAX_SPAN - 1 relative-position embeddings."""
    pos = torch.arange(length, device=device)
    dist = (pos[None, :] - pos[:, None]).clamp(-(MAX_SPAN - 1), MAX_SPAN - 1)
    return dist + MAX_SPAN - 1


class AxialAttention1D(nn.Module):
    """Multi-head attention along one spatial axis with relative positional encodings.

    Args:
        in_channels: input channels.
        key_depth: total query/key channels (all heads).
        value_depth: total value channels (all heads) = output channels.
        heads: number of heads.
    """

    def __init__(self, in_channels: int, key_depth: int, value_depth: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.key_depth = key_depth
        self.value_depth = value_depth
        self.qkv = nn.Conv1d(in_channels, 2 * key_depth + value_depth, 1, bias=False)
        trunc_normal_(self.qkv.weight, std=in_channels**-0.5)
        self.query_rpe = nn.Embedding(2 * MAX_SPAN - 1, key_depth // heads)
        self.key_rpe = nn.Embedding(2 * MAX_SPAN - 1, key_depth // heads)
        self.value_rpe = nn.Embedding(2 * MAX_SPAN - 1, value_depth // heads)
        for emb in (self.query_rpe, self.key_rpe, self.value_rpe):
            trunc_normal_(emb.weight, std=1.0)
        bn = dict(eps=BN_EPS, momentum=BN_MOMENTUM)
        self.bn_qkv = nn.BatchNorm1d(2 * key_depth + value_depth, **bn)
        self.bn_similarity = nn.BatchNorm2d(3 * heads, **bn)
        self.bn_output = nn.BatchNorm1d(2 * value_depth, **bn)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, C, L) -> (N, value_depth, L)."""
        n, _, length = x.shape
        m = self.heads
        qkv = self.bn_qkv(self.qkv(x))
        q, k, v = qkv.split([self.key_depth, self.key_depth, self.value_depth], dim=1)
        q = q.reshape(n, m, -1, length)  # (N, M, dk, L)
        k = k.reshape(n, m, -1, length)
        v = v.reshape(n, m, -1, length)  # (N, M, dv, L)
        idx = relative_index(length, x.device)
        q_rpe = self.query_rpe(idx)  # (L, L, dk)
        k_rpe = self.key_rpe(idx)
        v_rpe = self.value_rpe(idx)  # (L, L, dv)
        sim = torch.cat(
            [
                torch.einsum("nmdl,nmdj->nmlj", q, k),
                torch.einsum("nmdl,ljd->nmlj", q, q_rpe),
                torch.einsum("nmdj,ljd->nmlj", k, k_rpe),
            ],
            dim=1,
        )  # (N, 3M, L, L)
        sim = self.bn_similarity(sim).view(n, 3, m, length, length).sum(1)
        weights = sim.float().softmax(dim=-1).to(v.dtype)  # (N, M, L, L)
        out = torch.cat(
            [
                torch.einsum("nmlj,nmdj->nmdl", weights, v),
                torch.einsum("nmlj,ljd->nmdl", weights, v_rpe),
            ],
            dim=1,
        ).reshape(n, 2 * self.value_depth, length)
        return self.bn_output(out).view(n, 2, self.value_depth, length).sum(1)


class AxialAttention2D(nn.Module):
    """Height-axis then width-axis attention of a (N, C, H, W) map."""

    def __init__(self, in_channels: int, filters: int, heads: int) -> None:
        super().__init__()
        self.value_depth = 2 * filters
        self.height = AxialAttention1D(in_channels, filters, 2 * filters, heads)
        self.width = AxialAttention1D(2 * filters, filters, 2 * filters, heads)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, C, H, W) -> (N, 2 * filters, H, W)."""
        n, c, h, w = x.shape
        v = self.value_depth
        y = self.height(x.permute(0, 3, 1, 2).reshape(n * w, c, h))  # (N W) C H
        y = y.view(n, w, v, h).permute(0, 3, 2, 1).reshape(n * h, v, w)  # (N H) C W
        y = self.width(y)
        return y.view(n, h, v, w).permute(0, 2, 1, 3)  # (N, C, H, W)


class DecoderBlock(nn.Module):
    """Residual block: GELU, 1x1 conv, axial attention or 3x3 conv, 1x1 conv (zero-init norm).

    Output channels are 4 * `filters`; an axial block widens its first conv to 2 * `filters`.
    """

    def __init__(
        self, in_channels: int, filters: int, kind: str, heads: int = 8, drop_path: float = 0.0
    ) -> None:
        super().__init__()
        if kind not in ("axial", "bottleneck"):
            raise ValueError(f"unknown block {kind!r}; choose axial or bottleneck")
        self.kind = kind
        out_channels = 4 * filters
        mid = 2 * filters if kind == "axial" else filters
        self.conv1 = ConvNorm(in_channels, mid, act=True)
        if kind == "axial":
            self.attention = AxialAttention2D(mid, filters, heads)
            inner = 2 * filters
        else:
            self.conv2 = ConvNorm(mid, filters, 3, padding=1, act=True)
            inner = filters
        self.conv3 = ConvNorm(inner, out_channels, norm_init=0.0)
        self.shortcut = (
            ConvNorm(in_channels, out_channels) if in_channels != out_channels else nn.Identity()
        )
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, C_in, H, W) -> (N, 4 * filters, H, W)."""
        x = nn.functional.gelu(x)
        shortcut = self.shortcut(x)
        y = self.conv1(x)
        if self.kind == "axial":
            y = nn.functional.gelu(self.attention(y))
        else:
            y = self.conv2(y)
        return self.drop_path(self.conv3(y)) + shortcut
