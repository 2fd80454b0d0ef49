"""Choosing the compute device and CPU threads, and loading a checkpoint onto the device."""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from models.config import InferenceConfig
from models.weights import load_checkpoint

from ..errors import CheckpointError, InputError
from ..model_cards import SHIPPED_FILES, default_name
from ..outputs.writers import ClassTable, classes_from_meta

__all__ = [
    "DEVICES",
    "LoadedModel",
    "default_checkpoint",
    "resolve_checkpoint",
    "shipped_checkpoints",
    "load_model",
    "resolve_device",
    "set_threads",
]

DEVICES = ("auto", "cpu", "cuda")
ASSETS = "assets"  # package data folder of axialvs_cli


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when PyTorch sees a GPU, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    name = name.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise InputError(
                "--device cuda: PyTorch sees no CUDA GPU here (CPU-only build or no driver); "
                "use --device cpu or --device auto"
            )
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(
                f"--device {name}: only {torch.cuda.device_count()} GPU(s) are visible; "
                "pick cuda:0 .. cuda:N-1"
            )
        return device
    raise InputError(f"--device {name!r} is not known; use one of auto, cpu, cuda, cuda:N")


_TORCH_DEFAULT_THREADS = torch.get_num_threads()  # before anything here changes it


def set_threads(threads: int) -> None:
    """Use `threads` CPU threads for PyTorch (0 keeps PyTorch's default)."""
    if threads < 0:
        raise InputError(f"--threads must be >= 0 (0 = automatic), got {threads}")
    if threads:
        torch.set_num_threads(threads)


@dataclass
class LoadedModel:
    """A network ready for inference with what the runners need to know about it.

    Attributes:
        model: an `AxialVS` in eval mode (or any module with `forward_clip`, `refine`,
            `decode_masks` and the same shapes).
        clip_length: frames per clip T the model was trained with.
        inference: thresholds and the resize limits (`short_side`, `long_side`).
        pixel_mean: (3,) RGB 0..255 value the padding gets (0 after normalisation).
        classes: the class table of ``meta["classes"]``.
        source: where the weights came from (for summaries).
        device: where the model runs.
        segmenter: "kmax" (Video-kMaX: inputs padded to 32k + 1, masks softmax-normalised
            over queries) or "mask2former" (Tube-Link: padded to 32k, sigmoid masks).
    """

    model: nn.Module
    clip_length: int
    inference: InferenceConfig
    pixel_mean: tuple[float, ...]
    classes: ClassTable
    source: str
    device: torch.device
    segmenter: str = "kmax"


SHIPPED = SHIPPED_FILES
"""Names `--checkpoint` accepts for the checkpoints shipped as package data (``assets/``)."""


def _asset(name: str) -> Path | None:
    resource = importlib.resources.files("axialvs_cli").joinpath(ASSETS, name)
    path = Path(str(resource))
    return path if isinstance(resource, Path) and path.is_file() else None


def default_checkpoint() -> Path | None:
    """The shipped default model (the first installed of `SHIPPED`, or the one
    ``AXIALVS_DEFAULT_MODEL`` names), if any."""
    name = default_name()
    return None if name is None else _asset(SHIPPED[name])


def shipped_checkpoints() -> dict[str, Path]:
    """The installed shipped checkpoints by name (what `--checkpoint NAME` accepts)."""
    found = {name: _asset(file) for name, file in SHIPPED.items()}
    return {name: path for name, path in found.items() if path is not None}


def resolve_checkpoint(checkpoint: str | Path) -> str | Path:
    """`checkpoint` as given, or the file of a shipped name such as ``synthetic``.

    An existing file of that name wins over the shipped name, so a path is never shadowed.
    """
    text = str(checkpoint)
    if text in SHIPPED and not Path(text).exists():
        path = shipped_checkpoints().get(text)
        if path is None:
            raise CheckpointError(
                f"--checkpoint {text}: the shipped model of that name is not installed; "
                "reinstall axialvs or pass a checkpoint file"
            )
        return path
    return checkpoint


def load_model(
    checkpoint: str | Path | None, device: str = "auto", threads: int = 0,
    reserve_core: bool = False,
) -> LoadedModel:
    """Load `checkpoint` (default: the shipped default model) on `device`.

    threads: PyTorch's CPU threads (0: automatic). With `reserve_core`, automatic on the CPU
    is one thread fewer than PyTorch's default (at least 1): the runners post-process and
    write on a thread of their own, and a network that leaves it a core runs faster end to
    end than one that competes with it (2 cores: 23 against 18 frames/s at 480p).
    """
    target = resolve_device(device)
    if threads == 0 and reserve_core and target.type == "cpu":
        threads = max(1, _TORCH_DEFAULT_THREADS - 1)
    set_threads(threads)
    if checkpoint is None:
        checkpoint = default_checkpoint()
        if checkpoint is None:
            raise CheckpointError(
                "no --checkpoint given and no default model is installed; train one with "
                "`axialvs train ...` or convert official weights with `axialvs convert ...`, "
                "then pass --checkpoint PATH"
            )
    checkpoint = resolve_checkpoint(checkpoint)
    model, cfg, meta = load_checkpoint(checkpoint, target)
    classes = classes_from_meta(meta, cfg.num_classes, str(checkpoint))
    return LoadedModel(
        model, cfg.clip_length, cfg.inference, tuple(cfg.pixel_mean), classes, str(checkpoint),
        target, getattr(cfg, "segmenter", "kmax"),
    )  # fmt: skip
