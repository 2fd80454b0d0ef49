"""`axialvs info`: the model presets and their parameter counts."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table


def preset_rows() -> list[dict[str, str]]:
    """One row per preset: description and parameter counts (stored package data, checked
    against the code by the tests; see `axialvs_cli.model_cards`)."""
    from ..model_cards import preset_cards

    return preset_cards()


def info() -> None:
    """List the model presets with their parameter counts, and the installed default model."""
    from ..inference.default_model import describe_default_model

    models = describe_default_model()  # first: a bad AXIALVS_DEFAULT_MODEL fails before output
    table = Table(title="axialvs model presets (parameters)")
    rows = preset_rows()
    for column in rows[0]:
        table.add_column(column, justify="left" if column in ("preset", "network") else "right")
    for row in rows:
        table.add_row(*row.values())
    Console(width=200).print(table)
    typer.echo("semantic_head is an auxiliary training head; cross_clip runs in offline mode only.")
    typer.echo(models)
