"""Training of Axial-VS: stage 1 (clip segmenter + within-clip tracking), stage 2 (cross-clip).

    from axialvs_cli.training import build_config, train
    cfg = build_config(data=..., out=..., stage=1, fmt="vipseg", preset="tiny", init=None, overrides={})
    result = train(cfg)          # also under torchrun: DDP, rank 0 writes

Parts: `matcher` (Hungarian matching of tubes), `losses` (kMaX / Mask2Former set losses),
`optim` (parameter groups, warm-up + poly), `loop` (the trainer), `distributed` (torchrun / DDP),
`validate` (periodic VPQ / STQ or track AP with the evaluator's code).
"""

from .config import DataConfig, TrainConfig, build_config
from .loop import TrainingError, TrainResult, train
from .losses import LOSS_PRESETS, Criterion, LayerOutput, LossConfig
from .optim import OptimConfig

__all__ = [
    "LOSS_PRESETS",
    "Criterion",
    "DataConfig",
    "LayerOutput",
    "LossConfig",
    "OptimConfig",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "build_config",
    "train",
]
