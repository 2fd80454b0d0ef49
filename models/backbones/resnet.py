"""ResNet-18/34/50/101 feature extractors with torchvision state-dict keys.

The module names follow torchvision's `resnet*` layout (`conv1`, `bn1`, `layer1`..`layer4`,
blocks with `conv1..3` / `bn1..3` and `downsample.0` / `downsample.1`; stride on the 3x3
conv), without the classifier (`fc`). A torchvision ImageNet state dict, minus its `fc.*`
entries, therefore loads with `load_state_dict(..., strict=True)` for `norm="bn"` and
`norm="frozen_bn"` (a frozen norm drops `num_batches_tracked` when it loads).

Output sizes: every stride-2 layer (7x7 conv, 3x3 max-pool, 3x3 / 1x1 strided convs) uses the
standard padding, so a side of length S becomes ceil(S / 2) at each step and the level of
stride s has side ceil(S / s), e.g. 97x131 -> res2 25x33, res3 13x17, res4 7x9, res5 4x5.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import ConfigError

NORMS = ("bn", "frozen_bn", "gn")
LEVEL_NAMES = ("res2", "res3", "res4", "res5")


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d with fixed statistics and affine parameters, all held as buffers.

    Buffers `weight`, `bias`, `running_mean`, `running_var` carry the same names as
    `nn.BatchNorm2d`, so BN checkpoints load into it; their `num_batches_tracked` is ignored.
    Input and output: (B, C, H, W).
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # type: ignore[override]
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()  # (C,)
        shift = self.bias - self.running_mean * scale  # (C,)
        return x * scale.view(1, -1, 1, 1).to(x.dtype) + shift.view(1, -1, 1, 1).to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"


def check_norm(norm: str) -> None:
    """Raise `ConfigError` (a `ValueError`) unless `norm` is one of `NORMS`."""
    if norm not in NORMS:
        raise ConfigError(f"norm={norm!r} is not valid; choose one of {', '.join(NORMS)}")


def make_norm(norm: str, channels: int, eps: float = 1e-5) -> nn.Module:
    """A 2-D normalisation layer over `channels`; `eps` for the batch norms.

    "gn" uses 32 groups when `channels` allows it, else gcd(32, channels) groups.
    """
    check_norm(norm)
    if norm == "bn":
        return nn.BatchNorm2d(channels, eps=eps)
    if norm == "frozen_bn":
        return FrozenBatchNorm2d(channels, eps=eps)
    return nn.GroupNorm(math.gcd(32, channels), channels)


def _conv(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual; (B, c_in, H, W) -> (B, planes, ceil(H/s), ceil(W/s))."""

    expansion = 1

    def __init__(
        self, *, c_in: int, planes: int, stride: int = 1, norm: str = "bn", eps: float = 1e-5
    ) -> None:
        super().__init__()
        self.conv1 = _conv(c_in, planes, 3, stride)
        self.bn1 = make_norm(norm, planes, eps)
        self.conv2 = _conv(planes, planes, 3)
        self.bn2 = make_norm(norm, planes, eps)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(c_in, planes, stride, norm, eps)

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (strided) -> 1x1 x4 with a residual.

    (B, c_in, H, W) -> (B, 4 * planes, ceil(H/s), ceil(W/s)).
    """

    expansion = 4

    def __init__(
        self, *, c_in: int, planes: int, stride: int = 1, norm: str = "bn", eps: float = 1e-5
    ) -> None:
        super().__init__()
        c_out = planes * self.expansion
        self.conv1 = _conv(c_in, planes, 1)
        self.bn1 = make_norm(norm, planes, eps)
        self.conv2 = _conv(planes, planes, 3, stride)
        self.bn2 = make_norm(norm, planes, eps)
        self.conv3 = _conv(planes, c_out, 1)
        self.bn3 = make_norm(norm, c_out, eps)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(c_in, c_out, stride, norm, eps)

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _shortcut(c_in: int, c_out: int, stride: int, norm: str, eps: float) -> nn.Sequential | None:
    """1x1 projection (`downsample.0`) + norm (`downsample.1`) when the shape changes."""
    if stride == 1 and c_in == c_out:
        return None
    return nn.Sequential(_conv(c_in, c_out, 1, stride), make_norm(norm, c_out, eps))


# name -> (block type, blocks per stage)
RESNET_SPECS: dict[str, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
    "resnet101": (Bottleneck, (3, 4, 23, 3)),
}


class ResNet(nn.Module):
    """ResNet backbone returning the outputs of its four stages.

    Args:
        depth: one of 18, 34, 50, 101.
        norm: "bn" (trainable BatchNorm), "frozen_bn" (fixed statistics and affine) or "gn"
            (GroupNorm, 32 groups). Anything else raises `ConfigError` (a `ValueError`).
        freeze_at: 0 trains everything; k >= 1 freezes the stem (k = 1) and also the first
            k - 1 stages (k = 2..5): their parameters get `requires_grad=False` and their
            BatchNorm layers stay in eval mode.
        norm_eps: epsilon of the batch norms (1e-5 as torchvision; the official Video-kMaX
            ResNet uses the TensorFlow value 1e-3).

    Attributes:
        out_channels: {"res2": 256, "res3": 512, "res4": 1024, "res5": 2048} for 50/101
            (64/128/256/512 for 18/34).
        out_strides: {"res2": 4, "res3": 8, "res4": 16, "res5": 32}.
    """

    def __init__(
        self, *, depth: int = 50, norm: str = "bn", freeze_at: int = 0, norm_eps: float = 1e-5
    ) -> None:
        super().__init__()
        name = f"resnet{depth}"
        if name not in RESNET_SPECS:
            known = ", ".join(str(n.removeprefix("resnet")) for n in RESNET_SPECS)
            raise ConfigError(f"ResNet depth={depth} is not available; choose one of {known}")
        check_norm(norm)
        if not 0 <= freeze_at <= 5:
            raise ConfigError(f"freeze_at={freeze_at} must be in 0..5 (0 trains everything)")
        block, counts = RESNET_SPECS[name]
        self.norm = norm
        self.freeze_at = freeze_at

        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = make_norm(norm, 64, norm_eps)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        c_in = 64
        self.out_channels: dict[str, int] = {}
        self.out_strides: dict[str, int] = {}
        for index, (planes, count) in enumerate(zip((64, 128, 256, 512), counts, strict=True)):
            stride = 1 if index == 0 else 2
            blocks = []
            for b in range(count):
                blocks.append(
                    block(
                        c_in=c_in,
                        planes=planes,
                        stride=stride if b == 0 else 1,
                        norm=norm,
                        eps=norm_eps,
                    )
                )
                c_in = planes * block.expansion
            self.add_module(f"layer{index + 1}", nn.Sequential(*blocks))
            self.out_channels[LEVEL_NAMES[index]] = c_in
            self.out_strides[LEVEL_NAMES[index]] = 4 * 2**index

        self._init_weights()
        for part in self._frozen_parts():
            part.requires_grad_(False)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _frozen_parts(self) -> list[nn.Module]:
        parts: list[nn.Module] = []
        if self.freeze_at >= 1:
            parts += [self.conv1, self.bn1]
        parts += [getattr(self, f"layer{i}") for i in range(1, self.freeze_at)]
        return parts

    def train(self, mode: bool = True) -> ResNet:
        """Switch modes; BatchNorm layers of frozen parts always stay in eval mode."""
        super().train(mode)
        for part in self._frozen_parts():
            part.eval()
        return self

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Args:
            x: normalised images (B, 3, H, W).

        Returns:
            {"res2".."res5"}: (B, out_channels[k], ceil(H / s), ceil(W / s)) for stride s.
        """
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (B, 64, H/4, W/4)
        out = {}
        for index, name in enumerate(LEVEL_NAMES):
            x = getattr(self, f"layer{index + 1}")(x)
            out[name] = x
        return out
