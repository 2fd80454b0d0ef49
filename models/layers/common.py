"""Small building blocks shared by the kMaX parts: conv + norm + activation, drop-path, norms."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# kMaX follows TensorFlow's batch-norm defaults.
BN_EPS = 1e-3
BN_MOMENTUM = 0.01


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of a (B, C, ...) tensor."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        x = x.movedim(1, -1)  # (B, ..., C)
        x = F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)
        return x.movedim(-1, 1)


def make_norm(kind: str | None, channels: int, dims: int = 2) -> nn.Module:
    """`bn` (TF-style eps/momentum), `ln` (channel LayerNorm) or None (identity)."""
    if kind is None:
        return nn.Identity()
    if kind == "bn":
        cls = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
        return cls(channels, eps=BN_EPS, momentum=BN_MOMENTUM)
    if kind == "ln":
        return LayerNorm2d(channels)
    raise ValueError(f"unknown norm {kind!r}; choose bn, ln or None")


def trunc_normal_(tensor: Tensor, std: float) -> Tensor:
    """Truncated normal at two standard deviations (TensorFlow's definition)."""
    return nn.init.trunc_normal_(tensor, mean=0.0, std=std, a=-2.0 * std, b=2.0 * std)


class ConvNorm(nn.Module):
    """Convolution (1-D or 2-D), then norm, then activation.

    `init` is "he" (truncated normal with std sqrt(2 / fan_in channels), kMaX's default),
    "xavier" or "normal"; `norm_init` sets the norm's initial scale (0 makes a residual branch
    start as identity).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        *,
        padding: int = 0,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = False,
        norm: str | None = "bn",
        act: bool = False,
        dims: int = 2,
        init: str = "he",
        norm_init: float = 1.0,
    ) -> None:
        super().__init__()
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        self.conv = conv(
            in_channels,
            out_channels,
            kernel_size,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
        )
        self.norm = make_norm(norm, out_channels, dims)
        self.act = nn.GELU() if act else nn.Identity()
        if init == "he":
            trunc_normal_(self.conv.weight, std=math.sqrt(2.0 / in_channels))
        elif init == "xavier":
            nn.init.xavier_uniform_(self.conv.weight)
        elif init == "normal":
            nn.init.normal_(self.conv.weight, std=0.02)
        else:
            raise ValueError(f"unknown init {init!r}")
        if bias:
            nn.init.zeros_(self.conv.bias)
        if norm is not None:
            nn.init.constant_(self.norm.weight, norm_init)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.norm(self.conv(x)))


class DropPath(nn.Module):
    """Stochastic depth: drops the whole residual branch of a sample with probability `p`."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        return x * x.new_empty(shape).bernoulli_(keep) / keep


CORNER_RULES = ("target", "source")


def resize_like(
    x: Tensor, size: tuple[int, int], corners: str = "target", width: int | None = None
) -> Tensor:
    """Bilinear resize of (B, C, H, W) to `size`.

    Corners are aligned when a width is odd: the target width (`corners="target"`), or, as the
    official kMaX code does, the source width (`"source"`; `width` overrides which width).
    At input sizes 32k + 1 with k even both agree; with k odd the stride-32 width k + 1 is
    even and the rules differ.
    """
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if width is None:
        width = size[-1] if corners == "target" else x.shape[-1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=width % 2 == 1)


def group_norm(channels: int, groups: int = 32) -> nn.GroupNorm:
    """GroupNorm with 32 groups, or fewer when `channels` is not a multiple of 32."""
    return nn.GroupNorm(math.gcd(groups, channels), channels)
