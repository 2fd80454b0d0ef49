"""kMaX pixel decoder: axial-attention and bottleneck stages from stride 32 up to stride 4.

Runs per frame on (B*T, C, H, W) features. Its stride-32/16/8 outputs feed the k-means
transformer decoder; the stride-4 output is the pixel feature the masks are made from.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from .layers.common import ConvNorm, LayerNorm2d, resize_like
from .layers.kmax_blocks import DecoderBlock

LEVELS_TOP_DOWN = ("res5", "res4", "res3", "res2")


class ResizedFuse(nn.Module):
    """Project a coarse and a fine map to `out_channels`, upsample the coarse one, add."""

    def __init__(
        self, low_channels: int, high_channels: int, out_channels: int, corners: str = "target"
    ) -> None:
        super().__init__()
        self.corners = corners
        self.low_proj = (
            ConvNorm(low_channels, out_channels) if low_channels != out_channels else None
        )
        self.high_proj = (
            ConvNorm(high_channels, out_channels) if high_channels != out_channels else None
        )

    def forward(self, low: Tensor, high: Tensor) -> Tensor:
        """low: (N, C_low, h, w), high: (N, C_high, H, W) -> (N, C_out, H, W)."""
        if self.low_proj is not None:
            low = self.low_proj(nn.functional.gelu(low))
        low = resize_like(low, high.shape[-2:], self.corners)
        if self.high_proj is not None:
            high = self.high_proj(nn.functional.gelu(high))
        return low + high


@dataclass
class PixelDecoderOutput:
    multi_scale: list[Tensor]  # strides 32, 16, 8: (B*T, C_i, H_i, W_i)
    pixel: Tensor  # stride 4: (B*T, C, H/4, W/4)


class KMaXPixelDecoder(nn.Module):
    """Four stages (strides 32, 16, 8, 4), each a group of residual blocks.

    Args:
        in_channels: backbone channels of res2..res5.
        layers: blocks per stage; blocks: "axial" or "bottleneck" per stage.
        channels: base filters per stage (a stage outputs 4x this).
        heads: heads of the axial attention.
        drop_path: stochastic depth of every block.
        corners: which width's parity aligns the corners of the 2x resizes: "target" or
            "source" (the official kMaX code; see `resize_like`).
    """

    def __init__(
        self,
        in_channels: dict[str, int],
        *,
        layers: tuple[int, ...],
        blocks: tuple[str, ...],
        channels: tuple[int, ...],
        heads: int,
        drop_path: float = 0.0,
        corners: str = "target",
    ) -> None:
        super().__init__()
        ins = [in_channels[level] for level in LEVELS_TOP_DOWN]
        self.in_norms = nn.ModuleList(LayerNorm2d(c) for c in ins)
        self.stages = nn.ModuleList()
        self.fuses = nn.ModuleList()
        for i, (n, kind, c) in enumerate(zip(layers, blocks, channels, strict=True)):
            first_in = ins[0] if i == 0 else c
            self.stages.append(
                nn.Sequential(
                    *(
                        DecoderBlock(first_in if j == 0 else 4 * c, c, kind, heads, drop_path)
                        for j in range(n)
                    )
                )
            )
            if i > 0:
                self.fuses.append(ResizedFuse(4 * channels[i - 1], ins[i], c, corners))
        self.out_channels = tuple(4 * c for c in channels)

    def forward(self, features: dict[str, Tensor]) -> PixelDecoderOutput:
        """features: res2..res5, each (B*T, C, H, W)."""
        x = self.in_norms[0](features["res5"])
        outs = []
        for i, stage in enumerate(self.stages):
            if i > 0:
                x = self.fuses[i - 1](x, self.in_norms[i](features[LEVELS_TOP_DOWN[i]]))
            x = stage(x)
            outs.append(x)
        return PixelDecoderOutput(multi_scale=outs[:3], pixel=outs[3])
