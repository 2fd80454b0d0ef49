"""Small blocks of the Mask2Former parts: conv + GroupNorm (+ ReLU), the mask-embedding MLP."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ..layers.common import group_norm


class ConvGN(nn.Module):
    """Conv2d, GroupNorm (32 groups), optional ReLU. Input (N, C_in, H, W) -> (N, C_out, H, W)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 1, *, bias: bool, act: bool
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias
        )
        self.norm = group_norm(out_channels)
        self.act = act

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(self.conv(x))
        return F.relu(x) if self.act else x


def mask_mlp(dim: int, out_dim: int) -> nn.Sequential:
    """Linear -> ReLU -> Linear -> ReLU -> Linear: query (..., dim) -> mask embedding (..., out_dim).

    Indices 0, 2, 4 hold the linear layers (the layout of Mask2Former's `mask_embed`).
    """
    return nn.Sequential(
        nn.Linear(dim, dim),
        nn.ReLU(),
        nn.Linear(dim, dim),
        nn.ReLU(),
        nn.Linear(dim, out_dim),
    )
