"""What `axialvs info` prints, kept as package data so that it runs without importing PyTorch.

``assets/presets.json`` holds every preset's parameter counts, and ``assets/NAME.axialvs.json``
describes the shipped checkpoint ``assets/NAME.axialvs.pt`` (with its SHA-256). They are made by
`write_cards` (``python -m axialvs_cli.model_cards``); the tests rebuild them and compare, so
they cannot drift from the code. A checkpoint whose SHA-256 differs from its card's is
described from the checkpoint itself (slower: that reads it with PyTorch).

The default model is the first installed of `SHIPPED_FILES` (in that order).
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["PARTS", "default_card", "default_name", "preset_cards", "shipped_card", "write_cards"]

PARTS = ("backbone", "within_clip", "pixel_decoder", "decoder", "semantic_head", "cross_clip")
PRESETS_FILE = "presets.json"
SHIPPED_FILES = {"camvid": "camvid.axialvs.pt", "synthetic": "synthetic.axialvs.pt"}
"""Shipped checkpoints by the name `--checkpoint` accepts (``device.SHIPPED`` is this table);
the first installed one is the default model, unless `DEFAULT_ENV` names another."""

DEFAULT_ENV = "AXIALVS_DEFAULT_MODEL"
"""Environment variable naming the shipped model to use when no --checkpoint is given."""


def asset(name: str) -> Path:
    return Path(str(resources.files("axialvs_cli").joinpath("assets", name)))


def _millions(n: int) -> str:
    return f"{n / 1e6:.2f}M"


def compute_preset_cards() -> list[dict[str, str]]:
    """One row per preset: description and parameter counts (models built on the meta device)."""
    import torch

    from models.build import build_axialvs, count_parameters
    from models.config import PRESETS

    rows = []
    for name, cfg in PRESETS.items():
        with torch.device("meta"):
            model = build_axialvs(cfg)
        row = {
            "preset": name,
            "network": cfg.backbone.name,
            "T": str(cfg.clip_length),
            "queries": str(cfg.num_queries),
            "classes": str(cfg.num_classes),
            "N_w": str(cfg.within_clip.num_blocks if cfg.within_clip.enabled else 0),
            "N_c": str(cfg.cross_clip.num_layers if cfg.cross_clip.enabled else 0),
            "total": _millions(count_parameters(model)),
        }
        for part in PARTS:
            module = getattr(model, part)
            row[part] = _millions(count_parameters(module)) if module is not None else "-"
        rows.append(row)
    return rows


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def card_file(checkpoint_file: str) -> str:
    """``NAME.axialvs.pt`` -> ``NAME.axialvs.json``."""
    return checkpoint_file.rsplit(".", 1)[0] + ".json"


def compute_card(path: Path) -> dict[str, Any]:
    """The card of a checkpoint: preset, classes, training data and benchmark scores."""
    from models.weights import read_checkpoint

    payload = read_checkpoint(path)
    meta, cfg = payload["meta"], payload["config"]
    return {
        "sha256": sha256(path),
        "size_mib": round(path.stat().st_size / 2**20, 1),
        "preset": cfg.get("name"),
        "input_size": [
            (cfg.get("inference") or {}).get("short_side"),
            (cfg.get("inference") or {}).get("long_side"),
        ],
        "classes": [str(c.get("name")) for c in meta.get("classes", [])],
        "trained_on": meta.get("trained_on", "unknown data"),
        "benchmark": meta.get("benchmark") or {},
    }


def preset_cards() -> list[dict[str, str]]:
    """The stored preset rows (see `compute_preset_cards`)."""
    return json.loads(asset(PRESETS_FILE).read_text("utf-8"))


def installed_names() -> list[str]:
    """The shipped names whose checkpoint is installed, default first (`DEFAULT_ENV`, if set,
    moves its model to the front; a name that is not installed is a one-line error)."""
    names = [name for name, file in SHIPPED_FILES.items() if asset(file).is_file()]
    wanted = os.environ.get(DEFAULT_ENV, "").strip()
    if wanted:
        if wanted not in names:
            from .errors import CheckpointError

            raise CheckpointError(
                f"{DEFAULT_ENV}={wanted}: no installed shipped model of that name; use one of "
                f"{', '.join(names) or '(none installed)'} or unset it"
            )
        names.remove(wanted)
        names.insert(0, wanted)
    return names


def default_name() -> str | None:
    names = installed_names()
    return names[0] if names else None


def shipped_card(name: str) -> tuple[Path, dict[str, Any]] | None:
    """The checkpoint of shipped `name` and its card, or None when it is not installed; the
    card is rebuilt from the checkpoint when the stored one describes another file."""
    path = asset(SHIPPED_FILES[name])
    if not path.is_file():
        return None
    card_path = asset(card_file(SHIPPED_FILES[name]))
    if card_path.is_file():
        card = json.loads(card_path.read_text("utf-8"))
        if card.get("sha256") == sha256(path):
            return path, card
    return path, compute_card(path)


def default_card() -> tuple[Path, dict[str, Any]] | None:
    """The default model's checkpoint and card, or None when no shipped model is installed."""
    name = default_name()
    return shipped_card(name) if name is not None else None


def write_cards() -> None:
    """Rebuild the cards from the code and the shipped checkpoints."""
    asset(PRESETS_FILE).write_text(json.dumps(compute_preset_cards(), indent=1) + "\n", "utf-8")
    for file in SHIPPED_FILES.values():
        path = asset(file)
        if path.is_file():
            card = compute_card(path)
            asset(card_file(file)).write_text(json.dumps(card, indent=1) + "\n", "utf-8")


if __name__ == "__main__":
    write_cards()
