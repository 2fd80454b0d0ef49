"""Conversion of the official Axial-VS checkpoints into axialvs state dicts.

`convert_state_dict(official, variant)` is a pure key remap driven by the rule tables in
`convert_rules.py`: every official key is converted, dropped with a stated reason, or an error
(`CheckpointError` naming the unknown keys). The target architecture is read off the official
keys (backbone family, classes, queries, layer counts, which modules exist) on top of the
matching preset, the model is built on the meta device, and every converted tensor's shape is
checked against it; model keys that nothing fills are an error too.

`read_official_checkpoint(path)` reads the official files: detectron2 `.pth` (`{"model": ...}`)
and mmdetection `.pth` (`{"state_dict": ..., "meta": ...}`) with `torch.load(weights_only=True)`
(numpy arrays allowed), and detectron2 `.pkl` pickles of numpy arrays with a restricted
unpickler that builds nothing but arrays and plain containers.
"""

from __future__ import annotations

import os
import pickle
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .config import AxialVSConfig, get_preset
from .convert_rules import VARIANTS, Rule, fill, match, rules_for
from .errors import CheckpointError
from .weights import holds_code, load_failure_reason, refused_pickle


@dataclass
class ConversionReport:
    """What happened to every key."""

    variant: str
    config: AxialVSConfig
    converted: list[tuple[str, str]] = field(default_factory=list)  # (official, ours)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (official, reason)

    def summary(self) -> str:
        reasons: dict[str, int] = {}
        for _, why in self.dropped:
            reasons[why] = reasons.get(why, 0) + 1
        lines = [f"{len(self.converted)} tensors converted ({self.variant}, {self.config.name})"]
        lines += [f"{n} dropped: {why}" for why, n in reasons.items()]
        return "\n".join(lines)


def _describe(keys: list[str], limit: int = 3) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _count(keys: list[str], pattern: str) -> int:
    found = {m.group(1) for k in keys if (m := re.match(pattern, k))}
    return len(found)


def _shape(sd: dict[str, Tensor], key: str) -> tuple[int, ...]:
    if key not in sd:
        raise CheckpointError(f"the official checkpoint has no {key!r}; is --variant right?")
    return tuple(sd[key].shape)


def _backbone_family(keys: list[str], variant: str) -> str:
    if any(k.startswith("backbone.patch_embed.") for k in keys):
        if variant == "tube-link" and "backbone.patch_embed.projection.weight" in keys:
            return "swin"
        raise CheckpointError(
            "this checkpoint has a Swin backbone in a layout axialvs does not convert; "
            "Swin converts for --variant tube-link in mmdetection's layout "
            "(backbone.patch_embed.projection.*, backbone.stages.N.blocks.M.attn.w_msa.*)"
        )
    if any(k.startswith("backbone.downsample_layers.") for k in keys) and variant == "video-kmax":
        return "convnextv2" if any(".grn." in k for k in keys) else "convnext"
    if "backbone.stem.conv1.weight" in keys and variant == "video-kmax":
        return "resnet"
    if "backbone.conv1.weight" in keys and variant == "tube-link":
        return "resnet"
    other = "tube-link" if variant == "video-kmax" else "video-kmax"
    raise CheckpointError(
        f"no backbone this converter knows for --variant {variant} (first keys: "
        f"{_describe(sorted(keys))}); is it a {other} checkpoint?"
    )


def infer_config(official: dict[str, Tensor], variant: str) -> AxialVSConfig:
    """The axialvs config of an official checkpoint: the matching preset, with class and
    query counts, layer counts and present modules read off the keys."""
    keys = sorted(official)
    family = _backbone_family(keys, variant)
    if variant == "video-kmax":
        if family.startswith("convnext"):
            dims = _shape(official, "backbone.downsample_layers.0.0.weight")[0]
            if dims != 192:
                raise CheckpointError(
                    f"ConvNeXt with {dims} stem channels: only the large (192-channel stem) "
                    "ConvNeXt and ConvNeXt-V2 models convert"
                )
        preset = {"convnext": "convnext-large", "convnextv2": "convnextv2-large"}
        cfg = get_preset(preset.get(family, "r50"))
        head = "sem_seg_head.predictor."
        wc = "sem_seg_head.wc_module.within_clip_tracking_module.transformer.encoder."
        blocks = _count(keys, re.escape(wc) + r"spatial_layers\.(\d+)\.")
        temporal = _count(keys, re.escape(wc) + r"temporal_layers\.0\.temporal_layers\.(\d+)\.")
        return cfg.replace(
            name=f"{cfg.name}-official",
            num_classes=_shape(official, head + "_predictor._transformer_class_head.conv.weight")[0]
            - 1,
            within_clip={
                "enabled": blocks > 0,
                "num_blocks": max(blocks, 1),
                "temporal_layers": temporal,
                "temporal_attention": "axial_trajectory" if temporal else "none",
            },
            decoder={
                "num_queries": _shape(official, head + "_cluster_centers.weight")[1],
                "aux_semantic": any(k.startswith(head + "_auxiliary_semantic") for k in keys),
            },
            cross_clip={
                "enabled": any(k.startswith("cross_clip_tracking_module.") for k in keys),
                "num_layers": max(
                    1, _count(keys, r"cross_clip_tracking_module\.conv_norms\.(\d+)\.")
                ),
            },
        )
    if family == "swin":
        cfg = get_preset("tubelink-swin-large")
        dims = _shape(official, "backbone.patch_embed.projection.weight")[0]
        depths = tuple(_count(keys, rf"backbone\.stages\.{i}\.blocks\.(\d+)\.") for i in range(4))
        sizes = {
            (96, (2, 2, 6, 2)): "tiny",
            (96, (2, 2, 18, 2)): "small",
            (128, (2, 2, 18, 2)): "base",
            (192, (2, 2, 18, 2)): "large",
        }
        size = sizes.get((dims, depths))
        if size is None:
            raise CheckpointError(
                f"unrecognised Swin ({dims} channels, depths {depths}): Swin-T/S/B/L convert"
            )
        table = _shape(
            official, "backbone.stages.0.blocks.0.attn.w_msa.relative_position_bias_table"
        )
        window = (int(round(table[0] ** 0.5)) + 1) // 2
        backbone = {"name": f"swin_{size}", "window": window}
        name = f"tubelink-swin-{size}-official"
    else:
        cfg = get_preset("tubelink-r50")
        depth = {6: "resnet50", 23: "resnet101"}.get(_count(keys, r"backbone\.layer3\.(\d+)\."))
        if depth is None:
            raise CheckpointError(
                "unrecognised ResNet depth: only ResNet-50 / 101 checkpoints convert"
            )
        backbone = {"name": depth}
        name = "tubelink-r50-official" if depth == "resnet50" else "tubelink-r101-official"
    enc = "panoptic_head.pixel_decoder.encoder.layers."
    temporal = _count(
        keys, re.escape(enc) + r"0\.attentions\.0\.temporal_layer\.temporal_layers\.(\d+)\."
    )
    cc_layers = _count(keys, r"panoptic_head\.conv_norms\.(\d+)\.")
    return cfg.replace(
        name=name,
        num_classes=_shape(official, "panoptic_head.cls_embed.weight")[0] - 1,
        backbone=backbone,
        within_clip={
            "enabled": temporal > 0,
            "num_blocks": _count(keys, re.escape(enc) + r"(\d+)\."),
            "temporal_layers": max(temporal, 1),
        },
        mask2former={
            "num_queries": _shape(official, "panoptic_head.query_feat.weight")[0],
            "dec_layers": _count(keys, r"panoptic_head\.transformer_decoder\.layers\.(\d+)\."),
            "temporal_residual": f"{enc}0.attentions.0.gamma" in official or not temporal,
        },
        cross_clip={"enabled": cc_layers > 0, "num_layers": max(cc_layers, 1)},
    )


def official_clip_length(meta: dict[str, Any]) -> int | None:
    """Frames per clip at test time from an mmdetection file's `meta["config"]` (the config
    text: `test_num_frames=5` for the YouTube-VIS R50 near-online model, 3 for the offline one,
    which refines 9 frames as 3 clips, 4 for OVIS); None when the file does not say."""
    text = meta.get("config") if isinstance(meta, dict) else None
    if not isinstance(text, str):
        return None
    found = re.findall(r"\btest_num_frames\s*=\s*(\d+)", text)
    if not found or len(set(found)) != 1:
        return None  # absent, or set to different values in different places
    value = int(found[0])
    return value if 1 <= value <= 64 else None


def _model_shapes(cfg: AxialVSConfig) -> dict[str, tuple[int, ...]]:
    from .build import build_axialvs  # here: the builder imports the parts, not the converter

    with torch.device("meta"):
        model = build_axialvs(cfg)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _first_rule(rules: list[Rule], key: str) -> tuple[Rule, dict[str, str]] | None:
    for rule in rules:
        values = match(rule.official, key)
        if values is not None:
            return rule, values
    return None


def _family(cfg: AxialVSConfig) -> str:
    if cfg.backbone.name.startswith("swin_"):
        return "swin"
    return "convnext" if cfg.backbone.name.startswith("convnext") else "resnet"  # V2 too


def convert_state_dict(
    official: dict[str, Tensor], variant: str, *, config: AxialVSConfig | None = None
) -> tuple[dict[str, Tensor], ConversionReport]:
    """Map an official state dict onto ours.

    Args:
        official: the official model state dict (a "module." prefix is removed).
        variant: "video-kmax" (MaXTron_Video-kMaX, VPS) or "tube-link" (MaXTron_Tube-Link, VIS).
        config: the target config; by default read off the keys (`infer_config`).

    Returns:
        Our state dict (float tensors as float32) and the report.

    Raises:
        CheckpointError: an unknown variant, unknown official keys, wrong shapes, or model keys
            that no official key fills; the message names them.
    """
    if variant not in VARIANTS:
        raise CheckpointError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    official = {k.removeprefix("module."): v for k, v in official.items()}
    cfg = config if config is not None else infer_config(official, variant)
    shapes = _model_shapes(cfg)
    rules = rules_for(variant, _family(cfg))
    report = ConversionReport(variant, cfg)
    ours: dict[str, Tensor] = {}
    unknown, wrong = [], []
    for key, value in official.items():
        found = _first_rule(rules, key)
        if found is None:
            unknown.append(key)
            continue
        rule, values = found
        if not rule.ours:
            report.dropped.append((key, rule.reason))
            continue
        targets = [fill(t, values) for t in rule.ours if not t.startswith("?")]
        targets += [
            fill(t, values) for t in rule.ours if t.startswith("?") and fill(t, values) in shapes
        ]
        for target in targets:
            if target not in shapes:
                unknown.append(f"{key} (-> {target}, which this model does not have)")
            elif tuple(value.shape) != shapes[target]:
                wrong.append(f"{key} {tuple(value.shape)} vs {target} {shapes[target]}")
            else:
                tensor = value.float() if value.is_floating_point() else value
                ours[target] = tensor.detach().clone().contiguous()
                report.converted.append((key, target))
    if unknown:
        raise CheckpointError(
            f"{len(unknown)} official key(s) no {variant} rule accounts for: {_describe(sorted(unknown))}"
        )
    if wrong:
        raise CheckpointError(
            f"{len(wrong)} shape mismatch(es) (official vs axialvs {cfg.name}): {_describe(sorted(wrong))}"
        )
    missing = sorted(set(shapes) - set(ours))
    if missing:
        raise CheckpointError(
            f"the official checkpoint lacks {len(missing)} tensor(s) the {cfg.name} model needs: "
            f"{_describe(missing)}"
        )
    return ours, report


def invert_keys(model_keys: list[str], variant: str, backbone: str = "resnet") -> dict[str, str]:
    """The official key each of our keys comes from (one official key may fill several of
    ours): the inverse of the rule table, used to document and test the mapping."""
    out = {}
    for key in model_keys:
        found = (
            (rule, values)
            for rule in rules_for(variant, backbone)
            for target in rule.ours
            if (values := match(target, key)) is not None
        )
        rule, values = next(found, (None, None))
        if rule is None or values is None:
            raise CheckpointError(f"no {variant} rule produces {key!r}")
        out[key] = rule.official.format(**values)
    return out


# ------------------------------------------------------------------------------------------
# Reading official files.

_DTYPES = (np.float16, np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_)
_MULTIARRAY = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray  # numpy 2 / 1
# What an array pickle needs: the array rebuild function, scalars, ndarray and dtypes.
_NUMPY_GLOBALS = [
    _MULTIARRAY._reconstruct,
    _MULTIARRAY.scalar,
    np.ndarray,
    np.dtype,
    *sorted({type(np.dtype(t)) for t in _DTYPES}, key=str),
]


def _numpy_globals() -> list[Any]:
    return list(_NUMPY_GLOBALS)


class _ArrayUnpickler(pickle.Unpickler):
    """Builds numpy arrays, scalars and plain containers; refuses every other global."""

    _NUMPY_NAMES = {g.__name__ for g in _NUMPY_GLOBALS}
    _OTHERS = {("collections", "OrderedDict"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str) -> Any:
        numpy_module = module in {"numpy", "numpy.dtypes"} or module.endswith("core.multiarray")
        if (numpy_module and name in self._NUMPY_NAMES) or (module, name) in self._OTHERS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to build {module}.{name} from a pickle")


def _to_tensor(value: Any) -> Tensor | None:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    return None


def read_official_checkpoint(path: str | os.PathLike) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """The model state dict of an official checkpoint file, and its metadata (mmdetection
    files carry `meta`, e.g. `CLASSES`; detectron2 files do not)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist; check the path")
    try:
        if path.suffix == ".pkl":
            with path.open("rb") as f:
                payload = _ArrayUnpickler(f, encoding="latin1").load()
        else:
            with torch.serialization.safe_globals(_numpy_globals()):
                payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - a damaged file can make torch.load raise anything
        if isinstance(err, pickle.UnpicklingError) and holds_code(err):
            raise CheckpointError(refused_pickle(path, err)) from None
        raise CheckpointError(
            f"{path} cannot be read as a checkpoint of tensors ({load_failure_reason(err)}); "
            "is the file complete "
            "(compare its size or checksum with the model zoo's)?"
        ) from None
    meta = {}
    if isinstance(payload, dict) and isinstance(payload.get("model"), dict):
        state = payload["model"]  # detectron2
    elif isinstance(payload, dict) and isinstance(payload.get("state_dict"), dict):
        state, meta = payload["state_dict"], payload.get("meta") or {}  # mmdetection / mmcv
    else:
        state = payload
    if not isinstance(state, (dict, OrderedDict)):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a state dict")
    tensors = {k: _to_tensor(v) for k, v in state.items()}
    bad = sorted(str(k) for k, v in tensors.items() if v is None)
    if bad:
        raise CheckpointError(f"{path}: entries that are not tensors: {_describe(bad)}")
    return tensors, (meta if isinstance(meta, dict) else {})  # type: ignore[return-value]


__all__ = [
    "ConversionReport",
    "convert_state_dict",
    "infer_config",
    "invert_keys",
    "read_official_checkpoint",
]
