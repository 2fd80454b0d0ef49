"""`axialvs convert`: turn an official Axial-VS checkpoint into an axialvs checkpoint."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..classes import TABLES

EXAMPLES = """Examples:

  axialvs convert maxtron_wc_r50.pth -o vipseg-r50.axialvs.pt --variant video-kmax

  axialvs convert ytvis21_r50_maxtron_cc.pth -o ytvis21-r50.axialvs.pt --variant tube-link
"""

Variant = Enum("Variant", {v.replace("-", "_"): v for v in ("video-kmax", "tube-link")}, type=str)
ClassTable = Enum("ClassTable", {name: name for name in TABLES}, type=str)


def convert(
    official: Annotated[
        Path, typer.Argument(help="Official checkpoint: .pth (detectron2 or mmdetection) or .pkl.")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The axialvs checkpoint to write.")
    ],
    variant: Annotated[
        Variant,
        typer.Option(
            help="video-kmax: MaXTron_Video-kMaX (VIPSeg, VPS); "
            "tube-link: MaXTron_Tube-Link (YouTube-VIS / OVIS, VIS)."
        ),
    ],
    classes: Annotated[
        ClassTable | None,
        typer.Option(
            help="Class table to record (default: the one named by the file's own class "
            "list, else the one matching the class count)."
        ),
    ] = None,
    clip_length: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Frames per clip to record (default: the file's own config, "
            "test_num_frames, else the preset's: 2 Video-kMaX, 4 Tube-Link).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace OUTPUT if it exists.")] = False,
) -> None:
    """Convert an official Axial-VS checkpoint (every key mapped or dropped with a reason)."""
    from ..convert_api import convert_checkpoint  # here: keeps `axialvs --help` fast

    result = convert_checkpoint(
        official,
        output,
        variant=variant.value,
        classes=classes.value if classes is not None else None,
        clip_length=clip_length,
        overwrite=force,
    )
    typer.echo(result.report.summary())
    typer.echo(
        f"wrote {result.path}: {result.config.name}, {result.config.num_classes} classes "
        f"({result.meta['trained_on']}), clips of {result.config.clip_length} frames"
    )


convert.__doc__ = f"{convert.__doc__}\n\n{EXAMPLES}"
