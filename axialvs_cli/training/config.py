"""Training configuration (frozen dataclasses) and the recipes that give the defaults.

Recipes: ``paper`` follows the official training of the paper's models (VIPSeg: appendix A and
the Video-kMaX configs; YouTube-VIS / OVIS: the Tube-Link protocol); ``tiny`` is a small
setting in which the `tiny` preset learns the synthetic data within minutes on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..data.transforms import AugmentConfig
from .losses import LOSS_PRESETS, LossConfig
from .optim import OptimConfig

FORMATS = ("vipseg", "ytvis", "camvid")
VIS_SHORT_SIDES = (288, 320, 352, 384, 416, 448, 480, 512)

# (recipe, dataset format, stage) -> defaults; batch sizes are global (all processes together).
RECIPES: dict[tuple[str, str, int], dict[str, Any]] = {
    ("paper", "vipseg", 1): dict(crop=(769, 1345), scale=(0.3, 1.7), batch_size=32, lr=5e-5, warmup=2000, steps=40000, clip_length=2, num_clips=1, random_reverse=False, loss="vps", ckpt_every=10000, val_every=5000),
    ("paper", "vipseg", 2): dict(crop=(769, 1345), scale=(0.3, 1.7), batch_size=16, lr=5e-5, warmup=750, steps=15000, clip_length=2, num_clips=12, random_reverse=True, loss="vps-stage2", ckpt_every=5000, val_every=5000),
    ("paper", "ytvis", 1): dict(crop=(385, 673), short_sides=VIS_SHORT_SIDES, batch_size=8, lr=1e-4, warmup=1000, steps=15000, clip_length=4, num_clips=1, random_reverse=False, loss="vis", ckpt_every=5000, val_every=0),
    ("paper", "ytvis", 2): dict(crop=(385, 673), short_sides=VIS_SHORT_SIDES, batch_size=8, lr=1e-4, warmup=500, steps=10000, clip_length=4, num_clips=5, random_reverse=True, loss="vis-stage2", ckpt_every=5000, val_every=0),
    # CamVid (480 x 360 street frames): a CPU recipe for the lite0 preset (the default model)
    ("camvid", "camvid", 1): dict(crop=(289, 385), scale=(0.75, 1.5), batch_size=4, lr=1e-3, warmup=100, steps=1500, clip_length=2, num_clips=1, random_reverse=False, loss="vps", ckpt_every=250, val_every=0),
    ("camvid", "camvid", 2): dict(crop=(289, 385), scale=(0.75, 1.5), batch_size=2, lr=5e-4, warmup=20, steps=200, clip_length=2, num_clips=3, random_reverse=True, loss="vps-stage2", ckpt_every=100, val_every=0),
    ("tiny", "vipseg", 1): dict(crop=(129, 225), scale=(0.5, 1.5), batch_size=2, lr=1e-3, warmup=50, steps=2000, clip_length=2, num_clips=1, random_reverse=False, loss="vps", ckpt_every=500, val_every=0),
    ("tiny", "vipseg", 2): dict(crop=(129, 225), scale=(0.5, 1.5), batch_size=2, lr=5e-4, warmup=50, steps=1000, clip_length=2, num_clips=4, random_reverse=True, loss="vps-stage2", ckpt_every=500, val_every=0),
    ("tiny", "ytvis", 1): dict(crop=(129, 225), scale=(0.5, 1.5), batch_size=2, lr=1e-3, warmup=50, steps=2000, clip_length=2, num_clips=1, random_reverse=False, loss="vis", ckpt_every=500, val_every=0),
    ("tiny", "ytvis", 2): dict(crop=(129, 225), scale=(0.5, 1.5), batch_size=2, lr=5e-4, warmup=50, steps=1000, clip_length=2, num_clips=4, random_reverse=True, loss="vis-stage2", ckpt_every=500, val_every=0),
}  # fmt: skip


# The tiny recipe samples fewer pixels for the pixel-pair losses (their cost is quadratic).
# Short tiny stage-1 runs re-estimate the batch-norm statistics before saving (they follow the
# weights with momentum 0.01: measured VPQ 18 -> 24 after 500 steps on the synthetic data).
for _key in RECIPES:
    if _key[0] in ("tiny", "camvid"):
        RECIPES[_key]["loss_options"] = {
            "insdis_samples": 1024,
            "semantic_samples": 1024,
            "points": 4096,
        }
    RECIPES[_key]["precise_bn"] = 20 if _key[0] in ("tiny", "camvid") and _key[2] == 1 else 0


def recipe(preset: str, fmt: str, stage: int) -> dict[str, Any]:
    """Defaults for a preset (``tiny`` / ``*-tiny`` -> the tiny recipe, any other -> the
    paper's; CamVid data -> the camvid recipe)."""
    if fmt == "camvid":
        return dict(RECIPES[("camvid", fmt, stage)])
    small = preset == "tiny" or preset.endswith("-tiny")
    return dict(RECIPES[("tiny" if small else "paper", fmt, stage)])


@dataclass(frozen=True)
class DataConfig:
    """Where the data are. vipseg: `root` is a VIPSeg_720P folder (``split`` picks the JSON);
    ytvis: `root` is the annotation JSON and `image_root` the frame folder (default
    ``JPEGImages`` next to it). `val` / `val_image_root` likewise for validation."""

    format: str
    root: Path
    split: str = "train"
    image_root: Path | None = None
    val: Path | None = None
    val_split: str = "val"
    val_image_root: Path | None = None
    paste_people: Path | None = None  # camvid: a Penn-Fudan folder of people to paste in
    paste_prob: float = 0.5
    paste_bicyclists: bool = False  # camvid: paste the split's own cyclists, enlarged


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs; `commands/train.py` fills it from the command line."""

    out: Path
    data: DataConfig
    stage: int = 1
    preset: str = "tiny"
    init: Path | None = None
    backbone_init: Path | None = None  # stage 1: ImageNet weights of the backbone
    resume: bool = False
    clip_length: int = 2
    num_clips: int = 1
    sampling_range: int = 1
    random_reverse: bool = False
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    batch_size: int = 2
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    amp: bool = True  # CUDA only; ignored on the CPU
    workers: int = 2
    threads: int = 0  # CPU threads of this process (0 = torch's default)
    device: str = "auto"
    seed: int = 0
    log_every: int = 10
    ckpt_every: int = 1000
    val_every: int = 0
    progress: bool = True
    sync_bn: bool = True
    copy_heads: bool = True
    precise_bn: int = 0  # batches to re-estimate BN statistics with before saving / validating
    freeze_bn: bool = True  # stage 2: cross-clip head batch norms keep their copied statistics
    overwrite: bool = False
    model_overrides: tuple[str, ...] = ()  # stage 1: KEY=VALUE changes of the preset


def category_weights(text: str, fmt: str, data: Path, split: str) -> tuple[float, ...]:
    """--category-weights: "auto" (CamVid: from the split's class frequencies, see
    `data.camvid.balanced_weights`), "none", or one comma-separated factor per class."""
    text = text.strip().lower()
    if text == "none":
        return ()
    if text == "auto":
        if fmt != "camvid":
            raise ValueError(
                "--category-weights auto is computed for --format camvid only; pass one "
                "factor per class instead, e.g. 1,1,2.5,..."
            )
        from ..data import camvid

        return camvid.balanced_weights(camvid.class_frequencies(Path(data), split))
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or min(values) <= 0:
        raise ValueError(
            f"--category-weights {text!r} must be auto, none or positive numbers, one per class"
        )
    return values


def loss_preset(name: str) -> LossConfig:
    if name not in LOSS_PRESETS:
        raise ValueError(f"unknown loss preset {name!r}; known: {', '.join(LOSS_PRESETS)}")
    return LOSS_PRESETS[name]


def _parse_pair(text: str, sep: str, kind: type, what: str, example: str) -> tuple:
    parts = [p.strip() for p in text.lower().split(sep)]
    try:
        values = tuple(kind(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 2:
        raise ValueError(f"{what} {text!r} must look like {example}")
    return values


def build_config(
    *, data: Path, out: Path, stage: int, fmt: str, preset: str, init: Path | None,
    overrides: dict[str, Any],
) -> TrainConfig:  # fmt: skip
    """A `TrainConfig` from the recipe of (preset, format, stage) and explicit options.

    `overrides` takes the command-line names (None = use the recipe): steps, batch_size, lr,
    warmup, weight_decay, clip_length, clips, sampling_range, random_reverse, crop ("HxW"),
    scale ("min,max"), short_sides ("288,320,..."), flip, color_jitter, loss weights
    (class_weight, mask_weight, dice_weight, insdis_weight, semantic_weight), lr multipliers,
    clip_grad, and the DataConfig / run fields of `TrainConfig`.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not known; use one of {', '.join(FORMATS)}")
    if stage not in (1, 2):
        raise ValueError(f"stage {stage} is not valid; use 1 or 2")
    o = {k: v for k, v in overrides.items() if v is not None}
    ckpt_clip_length = None
    if init is not None:  # the model (and so the recipe) is the checkpoint's
        from models.weights import read_checkpoint

        ckpt_cfg = read_checkpoint(init)["config"]
        preset = str(ckpt_cfg.get("name", preset))
        ckpt_clip_length = int(ckpt_cfg.get("clip_length", 2))
    r = recipe(preset, fmt, stage)
    crop = (
        _parse_pair(o["crop"], "x", int, "--crop", "HEIGHTxWIDTH, e.g. 769x1345")
        if "crop" in o
        else r["crop"]
    )
    scale = (
        _parse_pair(o["scale"], ",", float, "--scale", "MIN,MAX, e.g. 0.3,1.7")
        if "scale" in o
        else r.get("scale", (0.5, 1.5))
    )
    short = r.get("short_sides", ())
    if "short_sides" in o:
        try:
            short = tuple(int(s) for s in o["short_sides"].split(",") if s.strip())
        except ValueError:
            raise ValueError(
                f"--short-sides {o['short_sides']!r} must be integers, e.g. 288,320,352"
            ) from None
    augment = AugmentConfig(
        crop=crop,
        min_scale=scale[0],
        max_scale=scale[1],
        short_sides=short,
        flip=o.get("flip", True),
        color_jitter=o.get("color_jitter", True),
    )
    steps = o.get("steps", r["steps"])
    optim = OptimConfig(
        lr=o.get("lr", r["lr"]), weight_decay=o.get("weight_decay", 0.05),
        backbone_mult=o.get("backbone_lr_mult", 0.1), temporal_mult=o.get("temporal_lr_mult", 2.0),
        head_mult=o.get("head_lr_mult", 0.1), warmup=min(o.get("warmup", r["warmup"]), steps),
        steps=steps, clip_grad=o.get("clip_grad", 0.0),
    )  # fmt: skip
    loss = replace(loss_preset(r["loss"]), **r.get("loss_options", {}))
    weights = {
        k: o[k]
        for k in ("class_weight", "mask_weight", "dice_weight", "insdis_weight", "semantic_weight")
        if k in o
    }
    if weights:
        loss = replace(loss, **weights)
    if "category_weights" in o:
        loss = replace(
            loss,
            category_weights=category_weights(
                o["category_weights"], fmt, data, o.get("split", "train")
            ),
        )
    if (o.get("paste_people") is not None or o.get("paste_bicyclists")) and fmt != "camvid":
        raise ValueError("--paste-people and --paste-bicyclists work with --format camvid only")
    paste_prob = o.get("paste_prob", 0.5)
    if not 0.0 <= paste_prob <= 1.0:
        raise ValueError(f"--paste-prob {paste_prob} must be in [0, 1]")
    data_cfg = DataConfig(
        fmt, Path(data), o.get("split", "train"), o.get("image_root"), o.get("val"),
        o.get("val_split", "val"), o.get("val_image_root"), o.get("paste_people"), paste_prob,
        bool(o.get("paste_bicyclists", False)),
    )  # fmt: skip
    run = {
        k: o[k]
        for k in (
            "resume",
            "amp",
            "workers",
            "threads",
            "device",
            "seed",
            "log_every",
            "progress",
            "sync_bn",
            "copy_heads",
            "freeze_bn",
            "overwrite",
        )
        if k in o
    }
    return TrainConfig(
        out=Path(out), data=data_cfg, stage=stage, preset=preset, init=init,
        backbone_init=o.get("backbone_init"),
        clip_length=o.get("clip_length", ckpt_clip_length or r["clip_length"]),
        num_clips=o.get("clips", r["num_clips"]) if stage == 2 else 1,
        sampling_range=o.get("sampling_range", 1), random_reverse=o.get("random_reverse", r["random_reverse"]),
        augment=augment, batch_size=o.get("batch_size", r["batch_size"]), optim=optim, loss=loss,
        ckpt_every=o.get("ckpt_every", r["ckpt_every"]),
        precise_bn=o.get("precise_bn", r["precise_bn"]), val_every=o.get("val_every", r["val_every"]),
        model_overrides=tuple(o.get("model_overrides", ())),
        **run,
    )  # fmt: skip
