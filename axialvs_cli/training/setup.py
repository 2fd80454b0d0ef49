"""Preparing a run: the model of a stage (fresh, from --init, or from the run folder on
--resume) with the right parts frozen, the metadata that travels with its weights, and small
helpers of the trainer."""

from __future__ import annotations

import dataclasses
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch

from models.axialvs import AxialVS
from models.build import build_axialvs
from models.config import AxialVSConfig, apply_overrides, get_preset
from models.weights import load_checkpoint

from ..errors import InputError
from . import distributed as dist_lib
from .config import TrainConfig
from .nets import copy_segmenter_heads, freeze_for_stage


def prepare_model(
    cfg: TrainConfig, classes: list[dict[str, Any]], info: dist_lib.DistInfo
) -> tuple[AxialVS, AxialVSConfig, dict[str, Any]]:
    """The model to train, its config and its checkpoint metadata.

    Stage 1 builds `cfg.preset` for the data set's classes (or loads --init); stage 2 loads the
    stage-1 checkpoint given as --init and, unless told not to, starts the cross-clip heads from
    the segmenter's. On --resume the weights come from OUT/last.pt.
    """
    source = cfg.out / "last.pt" if cfg.resume else cfg.init
    if cfg.backbone_init is not None and cfg.init is not None:
        raise InputError(
            "--backbone-init starts a fresh stage-1 model; with --init the backbone's weights "
            "come from that checkpoint (drop one of the two)"
        )
    if cfg.stage == 2 and source is None:
        raise InputError(
            "stage 2 needs --init CHECKPOINT (a stage-1 checkpoint of `axialvs train --stage 1`)"
        )
    if source is not None:
        model, model_cfg, init_meta = load_checkpoint(source)
        if cfg.model_overrides and apply_overrides(model_cfg, cfg.model_overrides) != model_cfg:
            raise InputError(
                f"--set {' '.join(cfg.model_overrides)} changes the architecture of {source}; "
                "--set applies to a fresh stage-1 model (without --init), and --resume needs "
                "the options of the run"
            )
        if model_cfg.num_classes != len(classes):
            if cfg.stage == 2 or cfg.resume:
                raise InputError(
                    f"{source} predicts {model_cfg.num_classes} classes but the data set has "
                    f"{len(classes)}; stage 2 continues a stage-1 model of the same data"
                )
            model, model_cfg = _new_classes(model, model_cfg, len(classes), source, info)
        if cfg.stage == 2 and model.cross_clip is None:
            raise InputError(
                f"{source} has no cross-clip module (cross_clip.enabled=False); stage 2 trains it"
            )
        if (
            cfg.stage == 1
            and not cfg.resume
            and cfg.loss.semantic_weight > 0
            and not model_cfg.decoder.aux_semantic
        ):
            model, model_cfg = _with_semantic_head(model, model_cfg, source, info)
        first_stage2 = cfg.stage == 2 and not cfg.resume and init_meta.get("stage", 1) == 1
        if first_stage2 and cfg.copy_heads:
            copy_segmenter_heads(model)
    else:
        preset = apply_overrides(get_preset(cfg.preset), cfg.model_overrides)
        model_cfg = preset.replace(num_classes=len(classes), clip_length=cfg.clip_length)
        model = build_axialvs(model_cfg)
        if cfg.backbone_init is not None:
            _load_backbone(model, cfg.backbone_init, info)
    if cfg.clip_length != model_cfg.clip_length:
        raise InputError(
            f"--clip-length {cfg.clip_length} differs from the model's {model_cfg.clip_length}"
        )
    freeze_for_stage(model, cfg.stage, semantic=cfg.loss.semantic_weight > 0)
    if info.distributed and info.device.type == "cuda" and cfg.sync_bn:
        dist_lib.convert_sync_batchnorm(model)
    model.to(info.device).train()
    d = cfg.data
    meta = {
        "classes": classes,
        "thing_ids": [c["id"] for c in classes if c["isthing"]],
        "dataset": d.format,
        "trained_on": f"{d.format} {d.root} (split {d.split}), stage {cfg.stage}"
        + (f", people pasted from {d.paste_people}" if d.paste_people else "")
        + (", its cyclists pasted in" if d.paste_bicyclists else ""),
        "paste_people": str(d.paste_people) if d.paste_people else None,
        "paste_bicyclists": d.paste_bicyclists,
        "stage": cfg.stage,
        "clip_length": model_cfg.clip_length,
        "num_clips": cfg.num_clips,
        "crop": list(cfg.augment.crop),
        "init": str(cfg.init) if cfg.init else None,
        "backbone_init": str(cfg.backbone_init) if cfg.backbone_init else None,
    }
    return model, model_cfg, meta


def _load_backbone(model: AxialVS, path: Path, info: Any) -> None:
    """--backbone-init: ImageNet weights into the fresh model's backbone."""
    from models.backbones.pretrained import load_imagenet, read_state_dict
    from models.errors import ConfigError

    try:
        layout, missing = load_imagenet(model.backbone, read_state_dict(path))
    except ConfigError as err:
        raise InputError(f"--backbone-init {path}: {err}") from None
    if info.is_main and missing:
        warnings.warn(
            f"--backbone-init {path} ({layout}): {len(missing)} backbone tensors are not in "
            f"the file and keep their initialisation, e.g. {', '.join(missing[:3])}",
            stacklevel=2,
        )


def _new_classes(
    model: AxialVS, model_cfg: AxialVSConfig, num_classes: int, source: Path, info: Any
) -> tuple[AxialVS, AxialVSConfig]:
    """Stage 1 from weights of another label set (e.g. COCO-pretrained): every tensor whose
    shape still fits is kept, the class heads start afresh."""
    new_cfg = model_cfg.replace(num_classes=num_classes)
    fresh = build_axialvs(new_cfg)
    own = fresh.state_dict()
    kept = {k: v for k, v in model.state_dict().items() if k in own and own[k].shape == v.shape}
    fresh.load_state_dict(kept, strict=False)
    if info.is_main:
        warnings.warn(
            f"--init {source}: {model_cfg.num_classes} classes there, {num_classes} here; "
            f"{len(own) - len(kept)} class-head tensors start afresh, {len(kept)} are loaded",
            stacklevel=2,
        )
    return fresh, new_cfg


def _with_semantic_head(
    model: AxialVS, model_cfg: AxialVSConfig, source: Path, info: Any
) -> tuple[AxialVS, AxialVSConfig]:
    """Stage 1 from an inference-only checkpoint (a shipped model has no auxiliary semantic
    head): every stored tensor is kept and a fresh semantic head is added, so that the
    semantic loss of the recipe supervises every pixel again (without it, thin classes such
    as CamVid's poles fade while the rest is trained)."""
    new_cfg = model_cfg.replace(decoder={"aux_semantic": True})
    fresh = build_axialvs(new_cfg)
    missing, unexpected = fresh.load_state_dict(model.state_dict(), strict=False)
    if unexpected or any(not k.startswith("semantic_head.") for k in missing):
        raise InputError(f"--init {source}: its tensors do not fit the model of its config")
    if info.is_main:
        warnings.warn(
            f"--init {source} has no auxiliary semantic head (an inference-only file); "
            "a fresh one is added for the semantic loss (--semantic-weight 0 trains without)",
            stacklevel=2,
        )
    return fresh, new_cfg


def as_float(layer: Any) -> Any:
    """A copy of a prediction dataclass with its tensors in float32 (losses run in fp32)."""
    return dataclasses.replace(
        layer,
        **{
            f.name: getattr(layer, f.name).float()
            for f in dataclasses.fields(layer)
            if isinstance(getattr(layer, f.name), torch.Tensor)
        },
    )


def copy_file(src: Path, dst: Path) -> None:
    """Copy through a temporary name, so `dst` is never half written."""
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)


def plain(obj: Any) -> Any:
    """JSON-ready copy of a nested config dict (paths and other objects become strings)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, (int, float, str, bool)) or obj is None:
        return obj
    return str(obj)


def progress_bar(cfg: TrainConfig, info: dist_lib.DistInfo, start: int) -> Any:
    """A tqdm bar on rank 0 (steps/s, loss), or None."""
    if not (cfg.progress and info.is_main):
        return None
    from tqdm import tqdm

    desc = f"stage {cfg.stage}"
    return tqdm(total=cfg.optim.steps, initial=start, desc=desc, unit="step", dynamic_ncols=True)
