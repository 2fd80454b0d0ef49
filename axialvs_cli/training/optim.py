"""AdamW with the Video-kMaX parameter groups and the warm-up + poly learning-rate schedule.

Learning-rate multipliers (official VIPSeg recipe): backbone x0.1, the within-clip temporal
(axial-trajectory) layers and their level embeddings x2, and in stage 2 the cross-clip
prediction heads (initialised from the segmenter's heads) x0.1. No weight decay on biases,
normalisation parameters, the learnable cluster centres and relative-position tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

HEAD_PARTS = (
    "cross_clip.class_proj.",
    "cross_clip.mask_proj.",
    "cross_clip.mask_head.",
    "cross_clip.class_head.",
    "cross_clip.mask_norm.",
)


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser and schedule. `steps` is the length of the poly decay."""

    lr: float = 5e-5
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    backbone_mult: float = 0.1
    temporal_mult: float = 2.0
    head_mult: float = 0.1  # stage 2: cross-clip heads copied from the segmenter
    warmup: int = 2000
    warmup_factor: float = 1e-3
    poly_power: float = 0.9
    steps: int = 40000
    clip_grad: float = 0.0  # max global gradient norm; 0 = off (the official default)

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.steps <= 0 or self.warmup < 0 or self.weight_decay < 0:
            raise ValueError("lr and steps must be > 0, warmup and weight decay >= 0")


def lr_multiplier(name: str, cfg: OptimConfig, stage: int) -> float:
    """The learning-rate factor of parameter `name` (a `model.named_parameters()` name)."""
    if name.startswith("backbone."):
        return cfg.backbone_mult
    if name.startswith("within_clip.") and (".temporal." in name or "level_embed_3d" in name):
        return cfg.temporal_mult
    if stage == 2 and name.startswith(HEAD_PARTS):
        return cfg.head_mult
    return 1.0


def no_weight_decay(name: str, param: nn.Parameter) -> bool:
    return param.ndim <= 1 or "cluster_centers" in name or "_rpe" in name


def param_groups(model: nn.Module, cfg: OptimConfig, stage: int) -> list[dict]:
    """Trainable parameters grouped by (lr multiplier, weight decay), names kept for logs."""
    groups: dict[tuple[float, float], dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        mult = lr_multiplier(name, cfg, stage)
        wd = 0.0 if no_weight_decay(name, p) else cfg.weight_decay
        g = groups.setdefault(
            (mult, wd),
            {"params": [], "names": [], "lr": cfg.lr * mult, "lr_mult": mult, "weight_decay": wd},
        )
        g["params"].append(p)
        g["names"].append(name)
    return [groups[k] for k in sorted(groups)]


def build_optimizer(model: nn.Module, cfg: OptimConfig, stage: int) -> torch.optim.AdamW:
    groups = param_groups(model, cfg, stage)
    if not groups:
        raise ValueError("the model has no trainable parameters")
    for g in groups:
        g.pop("names")
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


def warmup_poly(step: int, cfg: OptimConfig) -> float:
    """Learning-rate factor at `step` (0-based): a linear warm-up from `warmup_factor` to 1 over
    `warmup` steps, times the poly decay (1 - step / steps) ** power."""
    poly = max(0.0, 1.0 - step / cfg.steps) ** cfg.poly_power
    if step < cfg.warmup:
        alpha = step / cfg.warmup
        return poly * (cfg.warmup_factor * (1 - alpha) + alpha)
    return poly


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: OptimConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_poly(step, cfg))
