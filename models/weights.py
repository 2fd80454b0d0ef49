"""Checkpoints: one file `{format, version, config, state_dict, meta}`, loaded strictly.

Only tensors and plain Python values are stored, so files load with `weights_only=True` and
never bind to module paths. `meta` carries what travels with weights: class names, which
classes are things, the training data, preprocessing.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .config import AxialVSConfig, config_from_dict, config_to_dict
from .errors import CheckpointError, ConfigError

FORMAT = "axialvs"
VERSION = 1


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    cfg: AxialVSConfig,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": config_to_dict(cfg),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": dict(meta or {}),
    }
    atomic_torch_save(payload, path)
    return path


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """`torch.save` through a temporary file in the same folder and `os.replace`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_GLOBAL = re.compile(r"(?:GLOBAL|refusing to build) ([\w.]+)")


def holds_code(err: pickle.UnpicklingError) -> bool:
    """Whether a `weights_only` load failed because the pickle names a Python object."""
    text = str(err)
    return _GLOBAL.search(text) is not None


def refused_pickle(path: Path, err: pickle.UnpicklingError) -> str:
    """The one-line refusal of a pickle that would build Python objects (never PyTorch's
    advice to load it unchecked)."""
    found = _GLOBAL.search(str(err))
    what = f" (it names {found.group(1).replace(' ', '')})" if found else ""
    return (
        f"{path} holds pickled Python objects{what} besides tensors; loading such a file can run "
        "code, so axialvs refuses it. Use a checkpoint of tensors and plain values: one written "
        "by `axialvs train` or `axialvs convert`, or the official weights file as released"
    )


def load_failure_reason(err: BaseException) -> str:
    """The cause of a failed `torch.load`, without PyTorch's advice to load unchecked."""
    text = str(err).strip()
    if "WeightsUnpickler error:" in text:
        detail = text.split("WeightsUnpickler error:", 1)[1].strip().split("\n\n")[0]
        return f"pickle content refused by the safe loader: {detail.strip()[:160]}"
    first = text.splitlines()[0] if text else type(err).__name__
    if "weights_only" in first:
        return "pickle content refused by the safe loader"
    return first[:200]


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load and validate a checkpoint file's dict (tensors on the CPU)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; check the path")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - a damaged file can make torch.load raise anything
        if isinstance(err, pickle.UnpicklingError) and holds_code(err):
            raise CheckpointError(refused_pickle(path, err)) from None
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint ({load_failure_reason(err)}); "
            "is the file complete and made by `axialvs train` or `axialvs convert`?"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        hint = ""
        if isinstance(payload, dict) and ("model" in payload or "state_dict" in payload):
            hint = " It looks like a training checkpoint of another code base: convert it first."
        raise CheckpointError(f"{path} is not an axialvs checkpoint.{hint}")
    version = payload.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(
            f"{path} has checkpoint version {version!r}; this axialvs reads up to {VERSION}: "
            "upgrade axialvs"
        )
    for key in ("config", "state_dict"):
        if not isinstance(payload.get(key), dict):
            raise CheckpointError(f"{path} has no {key!r} dict; the file is damaged")
    payload.setdefault("meta", {})
    return payload


def _describe(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def load_state_dict_strict(model: nn.Module, state_dict: dict[str, Tensor], source: str) -> None:
    """`load_state_dict(strict=True)` with an error that names missing, unexpected and
    wrongly-shaped keys (instead of a wall of text)."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    wrong = sorted(
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}"
        for k in set(own) & set(state_dict)
        if tuple(own[k].shape) != tuple(state_dict[k].shape)
    )
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {_describe(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {_describe(unexpected)}")
    if wrong:
        problems.append(f"{len(wrong)} shape mismatch(es) (file vs model): {_describe(wrong)}")
    if problems:
        raise CheckpointError(
            f"{source} does not match the model: "
            + "; ".join(problems)
            + ". Use the config stored with the weights, or the matching preset."
        )
    model.load_state_dict(state_dict, strict=True)


def load_checkpoint(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[nn.Module, AxialVSConfig, dict[str, Any]]:
    """Build the model described by a checkpoint and load its weights (eval mode).

    Returns (model, config, meta).
    """
    from .build import build_axialvs  # here to keep `weights` importable without the parts

    payload = read_checkpoint(path)
    try:
        cfg = config_from_dict(payload["config"])
    except (ConfigError, TypeError) as err:
        raise CheckpointError(f"{path} holds an invalid model config: {err}") from None
    model = build_axialvs(cfg)
    load_state_dict_strict(model, payload["state_dict"], str(path))
    return model.to(device).eval(), cfg, payload["meta"]
