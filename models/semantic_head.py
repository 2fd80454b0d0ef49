"""Auxiliary semantic head (training only): ASPP on stride 32, fused with strides 8 and 4.

kMaX adds a per-pixel semantic loss on this head; it is not used at inference.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .layers.common import ConvNorm, resize_like, trunc_normal_


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: 1x1, three dilated 3x3, image pooling; then 1x1."""

    def __init__(self, in_channels: int, channels: int, rates: tuple[int, int, int]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [ConvNorm(in_channels, channels, act=True)]
            + [ConvNorm(in_channels, channels, 3, padding=r, dilation=r, act=True) for r in rates]
        )
        self.pool = ConvNorm(in_channels, channels, act=True)
        self.project = ConvNorm(5 * channels, channels, act=True)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, C_in, H, W) -> (N, channels, H, W)."""
        outs = [branch(x) for branch in self.branches]
        pooled = self.pool(x.mean(dim=(2, 3), keepdim=True))
        outs.append(pooled.expand(-1, -1, *x.shape[-2:]))
        return self.dropout(self.project(torch.cat(outs, dim=1)))


class SemanticHead(nn.Module):
    """Per-frame semantic logits at stride 4 from backbone features at strides 32, 8, 4."""

    def __init__(
        self,
        in_channels: dict[str, int],
        num_classes: int,
        channels: int = 256,
        corners: str = "target",
    ) -> None:
        super().__init__()
        self.corners = corners
        low8, low4 = channels // 4, channels // 8
        self.aspp = ASPP(in_channels["res5"], channels, (6, 12, 18))
        self.proj8 = ConvNorm(in_channels["res3"], low8, act=True)
        self.fuse8 = nn.Sequential(
            ConvNorm(
                channels + low8,
                channels + low8,
                5,
                padding=2,
                groups=channels + low8,
                act=True,
                init="xavier",
            ),
            ConvNorm(channels + low8, channels, act=True),
        )
        self.proj4 = ConvNorm(in_channels["res2"], low4, act=True)
        self.fuse4 = nn.Sequential(
            ConvNorm(
                channels + low4,
                channels + low4,
                5,
                padding=2,
                groups=channels + low4,
                act=True,
                init="xavier",
            ),
            ConvNorm(channels + low4, channels, act=True),
        )
        self.head = nn.Sequential(
            ConvNorm(channels, channels, 5, padding=2, groups=channels, act=True, init="xavier"),
            ConvNorm(channels, channels, act=True),
        )
        self.classifier = nn.Conv2d(channels, num_classes + 1, 1)
        trunc_normal_(self.classifier.weight, std=0.01)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, features: dict[str, Tensor]) -> Tensor:
        """features: res2, res3, res5 of shape (B*T, C, H, W) -> (B*T, C+1, H/4, W/4)."""
        x = self.aspp(features["res5"])
        # "source": both resizes align by the stride-32 width's parity, as the official head
        width = x.shape[-1] if self.corners == "source" else None
        low = self.proj8(features["res3"])
        x = self.fuse8(torch.cat([resize_like(x, low.shape[-2:], width=width), low], dim=1))
        low = self.proj4(features["res2"])
        x = self.fuse4(torch.cat([resize_like(x, low.shape[-2:], width=width), low], dim=1))
        return self.classifier(self.head(x))
