"""`axialvs info`: the model presets and their parameter counts."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

PARTS = ("backbone", "within_clip", "pixel_decoder", "decoder", "semantic_head", "cross_clip")


def _millions(n: int) -> str:
    return f"{n / 1e6:.2f}M"


def preset_rows() -> list[dict[str, str]]:
    """One row per preset: description and parameter counts (built on the meta device, so
    nothing is allocated or initialised)."""
    import torch  # here: keeps `axialvs --help` fast

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


def info() -> None:
    """List the model presets with their parameter counts, and the installed default model."""
    table = Table(title="axialvs model presets (parameters)")
    rows = preset_rows()
    for column in rows[0]:
        table.add_column(column, justify="left" if column in ("preset", "network") else "right")
    for row in rows:
        table.add_row(*row.values())
    Console(width=200).print(table)
    typer.echo("semantic_head is an auxiliary training head; cross_clip runs in offline mode only.")
    from ..default_model import describe_default_model

    typer.echo(describe_default_model())
