"""`axialvs synth`: write a synthetic VIPSeg / YouTube-VIS data set to train and test with."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError


class SynthFormat(str, Enum):
    vipseg = "vipseg"
    ytvis = "ytvis"


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise InputError(f"--size {text!r} must look like HEIGHTxWIDTH, e.g. 144x256")
    return int(parts[0]), int(parts[1])


def synth(
    out: Annotated[Path, typer.Option(help="Output folder (created).")],
    videos: Annotated[int, typer.Option(min=1, help="Number of videos.")] = 8,
    frames: Annotated[int, typer.Option(min=1, help="Frames per video.")] = 24,
    size: Annotated[str, typer.Option(help="Frame size HEIGHTxWIDTH.")] = "144x256",
    seed: Annotated[
        int, typer.Option(help="Random seed; the output is the same for the same options.")
    ] = 0,
    data_format: Annotated[
        SynthFormat,
        typer.Option(
            "--format", help="vipseg (VIPSeg_720P layout) or ytvis (YouTube-VIS JSON + RLE)."
        ),
    ] = SynthFormat.vipseg,
    split: Annotated[
        str,
        typer.Option(
            help="Split name: vipseg writes panoptic_gt_VIPSeg_<split>.json, ytvis <split>.json."
        ),
    ] = "train",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing split in --out.")] = False,
) -> None:
    """Generate synthetic videos with ground truth in the real VIPSeg / YouTube-VIS formats.

    Scenes: textured stuff (sky, grass, wall, road) under a slowly panning camera, unlabelled
    poles (void), and several instances each of person, car, ball and dog that move, occlude
    each other, enter and leave, under changing illumination. The files pass `axialvs
    evaluate`'s readers; train on one split and validate on another.

    Examples:

      axialvs synth --out data/synth --videos 16 --frames 24 --split train

      axialvs synth --out data/synth --videos 4 --frames 24 --split val --seed 1
    """
    from ..data.synth import SynthConfig, generate  # here: keeps `axialvs --help` fast

    cfg = SynthConfig(videos, frames, _size(size), seed, data_format.value, split)
    summary = generate(out, cfg, overwrite=overwrite)
    typer.echo(
        f"Wrote {summary.videos} videos, {summary.frames} frames, {summary.objects} objects: {summary.annotation}"
    )
