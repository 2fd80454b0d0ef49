"""Convert an official Axial-VS checkpoint file into an axialvs checkpoint.

The key remapping itself is `models.convert`; this adds what belongs to the application: the
output file rules, the class table and preprocessing recorded in the checkpoint meta.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.build import build_axialvs
from models.config import AxialVSConfig
from models.convert import (
    ConversionReport,
    convert_state_dict,
    infer_config,
    official_clip_length,
    read_official_checkpoint,
)
from models.weights import load_state_dict_strict, save_checkpoint

from .classes import TABLES, default_table, load_table
from .errors import InputError, OutputExistsError
from .model_cards import sha256

TASKS = {"video-kmax": "vps", "tube-link": "vis"}


@dataclass
class ConvertResult:
    path: Path
    config: AxialVSConfig
    report: ConversionReport
    meta: dict[str, Any]


def _norm_name(name: Any) -> str:
    return str(name).strip().lower().replace(" ", "_")


def _table_from_names(variant: str, names: list[Any]) -> dict | None:
    """The shipped table whose names are `names` (in order), or None."""
    wanted = [_norm_name(n) for n in names]
    for name in TABLES:
        data = load_table(name)
        if [_norm_name(c["name"]) for c in data["categories"]] == wanted:
            return {"table": name, "dataset": data["dataset"], "categories": data["categories"]}
    return None


def _classes(variant: str, num_classes: int, table: str | None, official_names: Any) -> dict:
    names = list(official_names) if isinstance(official_names, (list, tuple)) else None
    if table is None and names is not None and len(names) == num_classes:
        known = _table_from_names(variant, names)
        if known is not None:
            return known
        if variant == "tube-link":  # a VIS model of another data set: its own class list
            categories = [
                {"id": i + 1, "name": str(n), "isthing": True} for i, n in enumerate(names)
            ]
            return {
                "table": "checkpoint",
                "dataset": "the checkpoint's CLASSES",
                "categories": categories,
            }
    name = table or default_table(variant, num_classes)
    if name is None:
        raise InputError(
            f"no known class table has {num_classes} classes for a {variant} model; "
            "choose one with --classes"
        )
    data = load_table(name)
    categories = data["categories"]
    if len(categories) != num_classes:
        raise InputError(
            f"class table {name} has {len(categories)} classes but the checkpoint predicts "
            f"{num_classes}; choose another --classes"
        )
    if isinstance(official_names, (list, tuple)) and len(official_names) != num_classes:
        raise InputError(
            f"the checkpoint's own class list has {len(official_names)} names for {num_classes} "
            "classes; the file looks inconsistent"
        )
    return {"table": name, "dataset": data["dataset"], "categories": categories}


def convert_checkpoint(
    source: Path,
    output: Path,
    *,
    variant: str,
    classes: str | None = None,
    clip_length: int | None = None,
    overwrite: bool = False,
) -> ConvertResult:
    """Read `source`, convert it, check it loads strictly, and write `output` atomically."""
    if output.exists() and not overwrite:
        raise OutputExistsError(f"{output} exists; pass --force to replace it")
    official, file_meta = read_official_checkpoint(source)
    cfg = infer_config({k.removeprefix("module."): v for k, v in official.items()}, variant)
    clip_length = clip_length or official_clip_length(file_meta)
    if clip_length is not None:
        cfg = cfg.replace(clip_length=clip_length)
    state, report = convert_state_dict(official, variant, config=cfg)
    model = build_axialvs(cfg)
    load_state_dict_strict(model, state, str(source))
    table = _classes(variant, cfg.num_classes, classes, file_meta.get("CLASSES"))
    categories = table["categories"]
    meta = {
        "task": TASKS[variant],
        "trained_on": table["dataset"],
        "classes": [{k: c[k] for k in ("id", "name", "isthing")} for c in categories],
        "thing_ids": [c["id"] for c in categories if c["isthing"]],
        "pixel_mean": list(cfg.pixel_mean),
        "pixel_std": list(cfg.pixel_std),
        "source": {"file": source.name, "sha256": sha256(source), "variant": variant},
    }
    path = save_checkpoint(output, model, cfg, meta)
    return ConvertResult(path, cfg, report, meta)
