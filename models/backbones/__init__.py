"""Per-frame feature extractors.

Every backbone maps normalised images (B, 3, H, W) to {"res2", "res3", "res4", "res5"} at
strides 4, 8, 16, 32 (a side of length S gives ceil(S / s) at stride s) and exposes
`out_channels` and `out_strides` dicts keyed by those names.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ..errors import ConfigError
from .convnext import CONVNEXT_SPECS, ConvNeXt, convnext
from .efficientnet import EfficientNetLite
from .resnet import NORMS, RESNET_SPECS, FrozenBatchNorm2d, ResNet
from .small import SmallBackbone
from .swin import SWIN_SPECS, SwinTransformer

# name -> options it accepts
_OPTIONS: dict[str, tuple[str, ...]] = {
    **{name: ("norm", "freeze_at", "norm_eps") for name in RESNET_SPECS},
    **{f"convnext_{size}": ("drop_path", "layer_scale") for size in CONVNEXT_SPECS},
    **{f"convnextv2_{size}": ("drop_path",) for size in CONVNEXT_SPECS},
    **{f"swin_{size}": ("drop_path", "window") for size in SWIN_SPECS},
    "small": ("widths", "depths", "norm"),
    "efficientnet_lite0": (),
}
BACKBONES: tuple[str, ...] = tuple(_OPTIONS)


def build_backbone(name: str, **kwargs: Any) -> nn.Module:
    """Build the backbone called `name` (one of `BACKBONES`).

    Options by family (a value of None or () means "use the default"):
        resnet18/34/50/101: norm ("bn" | "frozen_bn" | "gn"), freeze_at (0..5), norm_eps.
        convnext_tiny/small/base/large: drop_path, layer_scale.
        convnextv2_tiny/small/base/large (GRN, no layer scale): drop_path.
        swin_tiny/small/base/large (mmdetection's key layout): drop_path, window.
        small: widths, depths (4 each), norm.
        efficientnet_lite0 (ImageNet layout of efficientnet_pytorch): no options.

    Raises:
        ConfigError (a ValueError): an unknown name, or an option the family does not take.
    """
    if name not in _OPTIONS:
        raise ConfigError(f"unknown backbone {name!r}; known backbones: {', '.join(BACKBONES)}")
    given = {
        k: v for k, v in kwargs.items() if v is not None and not (isinstance(v, tuple) and v == ())
    }
    extra = sorted(set(given) - set(_OPTIONS[name]))
    if extra:
        raise ConfigError(
            f"backbone {name!r} does not take option(s) {', '.join(extra)}; "
            f"it takes {', '.join(_OPTIONS[name])}"
        )
    if name in RESNET_SPECS:
        return ResNet(depth=int(name.removeprefix("resnet")), **given)
    if name.startswith("convnext_"):
        return convnext(name.removeprefix("convnext_"), **given)
    if name.startswith("convnextv2_"):
        return convnext(name.removeprefix("convnextv2_"), v2=True, **given)
    if name.startswith("swin_"):
        return SwinTransformer(name.removeprefix("swin_"), **given)
    if name == "efficientnet_lite0":
        return EfficientNetLite()
    return SmallBackbone(**given)


__all__ = [
    "BACKBONES",
    "NORMS",
    "ConvNeXt",
    "EfficientNetLite",
    "FrozenBatchNorm2d",
    "ResNet",
    "SmallBackbone",
    "SwinTransformer",
    "build_backbone",
]
