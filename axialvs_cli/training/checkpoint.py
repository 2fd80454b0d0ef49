"""Files of a training run (written by rank 0 only, each one atomically).

OUT/config.json         the training configuration
OUT/log.jsonl           one JSON object per logged step / validation
OUT/last.pt             the latest weights (an axialvs checkpoint, loadable by every command)
OUT/last_state.pt       optimizer, schedule, AMP scaler, step and RNG state, for --resume
OUT/model_<step>.pt     a snapshot every --ckpt-every steps
OUT/model_final.pt      the weights at the end of training
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.config import AxialVSConfig
from models.weights import atomic_torch_save, save_checkpoint

from ..errors import CheckpointError

STATE_FORMAT = "axialvs-train-state"


@dataclass
class TrainState:
    """Progress of a run: the next step to take, the epoch of the data sampler, time spent."""

    step: int = 0
    epoch: int = 0
    elapsed_s: float = 0.0


def save_run(
    out: Path, model: nn.Module, cfg: AxialVSConfig, meta: dict[str, Any], optimizer: torch.optim.Optimizer,
    scheduler: Any, scaler: Any, state: TrainState, snapshot: bool,
) -> Path:  # fmt: skip
    """Write last.pt + last_state.pt (and a step snapshot); returns the weights' path."""
    meta = {**meta, "step": state.step}
    save_checkpoint(out / "last.pt", model, cfg, meta)
    payload = {
        "format": STATE_FORMAT,
        "state": dataclasses.asdict(state),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else {},
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    atomic_torch_save(payload, out / "last_state.pt")
    if snapshot:
        save_checkpoint(out / f"model_{state.step:07d}.pt", model, cfg, meta)
    return out / "last.pt"


def load_state(out: Path) -> dict[str, Any]:
    """The resume payload of a run folder, checked."""
    path = out / "last_state.pt"
    if not path.is_file() or not (out / "last.pt").is_file():
        raise CheckpointError(
            f"{out} has no last.pt + last_state.pt to resume from; drop --resume to start afresh"
        )
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path} is not an axialvs training state")
    return payload


def restore_rng(payload: dict[str, Any]) -> None:
    torch.set_rng_state(payload["rng_cpu"])
    if torch.cuda.is_available() and payload.get("rng_cuda"):
        torch.cuda.set_rng_state_all(payload["rng_cuda"])


def write_json(path: Path, obj: Any) -> None:
    from ..formats._io import atomic_write_json

    atomic_write_json(path, obj)


def append_log(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line (a line is written whole, so readers never see half a record)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, separators=(",", ":")) + "\n")
