"""EfficientNet-Lite0 (Tan and Le 2019; the "Lite" variant for mobile CPUs).

Lite differs from EfficientNet-B0 in three ways: no squeeze-and-excitation, ReLU6 instead of
swish, and a stem / head that are not scaled. Convolutions use TensorFlow's "same" padding
(for a stride-2 conv of kernel k the extra pixel goes to the bottom / right), so a side of
length S becomes ceil(S / s) at stride s, and batch norms use eps 1e-3, as the ImageNet weights
were trained with.

Parameter names follow the layout of the `efficientnet_pytorch` family (`_conv_stem`,
`_blocks.{i}._expand_conv`, ...), so an ImageNet state dict of that layout loads after
`imagenet_remap` drops the classifier. Stage outputs: res2 = block 2 (24 channels, stride 4),
res3 = block 4 (40, stride 8), res4 = block 10 (112, stride 16), res5 = block 15 (320, stride
32). The 1280-channel classification head is not built.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .resnet import LEVEL_NAMES

# (repeats, kernel, stride, expand ratio, output channels) per stage; input 32 channels.
LITE0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM_CHANNELS = 32
BN_EPS = 1e-3
BN_MOMENTUM = 0.01
# stage index (0-based, in LITE0_STAGES) whose output is each level
_LEVEL_STAGES = {"res2": 1, "res3": 2, "res4": 4, "res5": 6}


class SameConv2d(nn.Conv2d):
    """A bias-free conv with TensorFlow "same" padding: output ceil(S / stride)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(c_in, c_out, kernel, stride=stride, padding=0, groups=groups, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        if k == 1 and s == 1:
            return F.conv2d(x, self.weight, None, 1, 0, 1, self.groups)
        pads = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad order: last dim first
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        if pads[0] == pads[1] == pads[2] == pads[3]:
            return F.conv2d(x, self.weight, None, s, pads[0], 1, self.groups)
        return F.conv2d(F.pad(x, pads), self.weight, None, s, 0, 1, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand (if ratio > 1), k x k depthwise, 1x1 project; identity
    skip when the shape is kept."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(c_in, hidden, 1)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride, groups=hidden)
        self._bn1 = _bn(hidden)
        self._project_conv = SameConv2d(hidden, c_out, 1)
        self._bn2 = _bn(c_out)
        self.skip = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.skip else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite0 feature extractor.

    Attributes:
        out_channels: {"res2": 24, "res3": 40, "res4": 112, "res5": 320}.
        out_strides: {"res2": 4, "res3": 8, "res4": 16, "res5": 32}.
    """

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, 2)
        self._bn0 = _bn(STEM_CHANNELS)
        blocks: list[nn.Module] = []
        self._level_block: dict[str, int] = {}
        c_in = STEM_CHANNELS
        for stage, (repeats, kernel, stride, expand, c_out) in enumerate(LITE0_STAGES):
            for r in range(repeats):
                blocks.append(MBConv(c_in, c_out, kernel, stride if r == 0 else 1, expand))
                c_in = c_out
            for name, level_stage in _LEVEL_STAGES.items():
                if level_stage == stage:
                    self._level_block[name] = len(blocks) - 1
        self._blocks = nn.ModuleList(blocks)
        self._block_level = {i: name for name, i in self._level_block.items()}
        self.out_channels = {name: LITE0_STAGES[s][4] for name, s in _LEVEL_STAGES.items()}
        self.out_strides = {name: 4 * 2**i for i, name in enumerate(LEVEL_NAMES)}
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Args:
            x: normalised images (B, 3, H, W).

        Returns:
            {"res2".."res5"}: (B, C, ceil(H / s), ceil(W / s)) for stride s.
        """
        x = F.relu6(self._bn0(self._conv_stem(x)))
        out = {}
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in self._block_level:
                out[self._block_level[i]] = x
        return out


# keys of an ImageNet state dict that the feature extractor has no place for
_HEAD_PREFIXES = ("_conv_head.", "_bn1.", "_fc.")


def imagenet_remap(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Map an `efficientnet_pytorch`-layout EfficientNet-Lite0 state dict onto
    `EfficientNetLite`: drop the classification head (`_conv_head`, `_bn1`, `_fc`) and keep
    every other key unchanged. Pure: the input is not modified."""
    return {k: v for k, v in state.items() if not k.startswith(_HEAD_PREFIXES)}


def is_imagenet_layout(state: dict[str, Tensor]) -> bool:
    """True for an EfficientNet-Lite0 state dict in the `efficientnet_pytorch` layout."""
    stem = state.get("_conv_stem.weight")
    return (
        isinstance(stem, torch.Tensor)
        and tuple(stem.shape) == (STEM_CHANNELS, 3, 3, 3)
        and "_blocks.15._project_conv.weight" in state
        and "_blocks.0._se_reduce.weight" not in state  # B0 has squeeze-and-excitation
    )


__all__ = ["LITE0_STAGES", "EfficientNetLite", "imagenet_remap", "is_imagenet_layout"]
