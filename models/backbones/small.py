"""A small ResNet-like backbone for CPUs, tests and the `tiny` preset.

Stem: two 3x3 stride-2 convs (3 -> widths[0] // 2 -> widths[0]), then four stages of
BasicBlocks (the first block of stages 2-4 has stride 2). Like the ResNets, a side of length
S becomes ceil(S / s) at stride s (97x131 -> 25x33, 13x17, 7x9, 4x5).
"""

from __future__ import annotations

from torch import Tensor, nn

from ..errors import ConfigError
from .resnet import LEVEL_NAMES, BasicBlock, check_norm, make_norm


class SmallBackbone(nn.Module):
    """Four-stage BasicBlock network.

    Args:
        widths: channels of the four stages (res2..res5).
        depths: BasicBlocks per stage.
        norm: "bn", "frozen_bn" or "gn" (as for `ResNet`).

    Attributes:
        out_channels: {"res2": widths[0], ..., "res5": widths[3]}.
        out_strides: {"res2": 4, "res3": 8, "res4": 16, "res5": 32}.
    """

    def __init__(
        self,
        *,
        widths: tuple[int, ...] = (16, 32, 64, 128),
        depths: tuple[int, ...] = (1, 1, 1, 1),
        norm: str = "bn",
    ) -> None:
        super().__init__()
        widths, depths = tuple(widths), tuple(depths)
        if len(widths) != 4 or len(depths) != 4:
            raise ConfigError(f"small backbone needs 4 widths and 4 depths, got {widths}, {depths}")
        if min(widths) < 2 or min(depths) < 1:
            raise ConfigError(
                f"small backbone widths must be >= 2 and depths >= 1: {widths}, {depths}"
            )
        check_norm(norm)
        half = widths[0] // 2
        self.stem = nn.Sequential(
            nn.Conv2d(3, half, 3, stride=2, padding=1, bias=False),
            make_norm(norm, half),
            nn.ReLU(inplace=True),
            nn.Conv2d(half, widths[0], 3, stride=2, padding=1, bias=False),
            make_norm(norm, widths[0]),
            nn.ReLU(inplace=True),
        )
        self.stages = nn.ModuleList()
        c_in = widths[0]
        for i, (width, depth) in enumerate(zip(widths, depths, strict=True)):
            blocks = []
            for b in range(depth):
                stride = 2 if i > 0 and b == 0 else 1
                blocks.append(BasicBlock(c_in=c_in, planes=width, stride=stride, norm=norm))
                c_in = width
            self.stages.append(nn.Sequential(*blocks))
        self.out_channels = dict(zip(LEVEL_NAMES, widths, strict=True))
        self.out_strides = {name: 4 * 2**i for i, name in enumerate(LEVEL_NAMES)}
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Args:
            x: normalised images (B, 3, H, W).

        Returns:
            {"res2".."res5"}: (B, widths[i], ceil(H / s), ceil(W / s)) for stride s.
        """
        x = self.stem(x)  # (B, widths[0], H/4, W/4)
        out = {}
        for name, stage in zip(LEVEL_NAMES, self.stages, strict=True):
            x = stage(x)
            out[name] = x
        return out
