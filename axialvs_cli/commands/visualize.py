"""`axialvs visualize-attention`: axial-trajectory attention maps of reference points."""

from __future__ import annotations

from pathlib import Path

import typer


def visualize_attention_command(
    video: Path = typer.Argument(..., help="Video file or folder of frames."),
    ref_point: list[str] = typer.Option(
        ..., "--ref-point", help="Reference point X,Y in pixels of the frame (repeatable)."
    ),
    output: Path = typer.Option(..., "-o", "--output", help="Figure to write (.png)."),
    frame: int = typer.Option(0, "--frame", help="Frame (0-based) the reference point is on."),
    layer: str = typer.Option(
        None,
        "--layer",
        help="Within-clip layer BLOCK.LAYER or LAYER of the last block "
        "[default: the last axial-trajectory layer].",
    ),
    level: str = typer.Option("res4", "--level", help="Feature level: res4 (stride 16), res5."),
    head: str = typer.Option("mean", "--head", help="Attention head index, or mean."),
    checkpoint: Path = typer.Option(
        None,
        "--checkpoint",
        help="Checkpoint file or shipped model name [default: shipped default].",
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    stream: int = typer.Option(None, "--stream", help="Video stream index."),
    gif: bool = typer.Option(False, "--gif", help="Also write an animated GIF over the clip."),
    mp4: bool = typer.Option(False, "--mp4", help="Also write an MP4 over the clip."),
) -> None:
    """Draw where a point's axial-trajectory attention goes in each frame of its clip.

    The figure has one column per frame of the clip: the input frames (reference point in
    red), then for each reference point its attention map and the map over the frame. A map
    is the product of the point's H-axis and W-axis attention (paper Fig. 1), normalised so
    that each frame's maximum is 1.
    """
    from ..render.attention import (
        parse_point,
        visualize_attention,
    )  # here: keeps `axialvs --help` fast

    points = [parse_point(p) for p in ref_point]
    head_index = None if head == "mean" else _head(head)
    result = visualize_attention(
        video, points, output, frame=frame, layer=layer, level=level, head=head_index,
        checkpoint=checkpoint, device=device, stream=stream, gif=gif, mp4=mp4,
    )  # fmt: skip
    frames = f"{result.clip_frames[0]}-{result.clip_frames[-1]}"
    typer.echo(f"frames {frames}, grid {result.grid[0]}x{result.grid[1]}, cells {result.cells}")
    for path in result.outputs:
        typer.echo(f"wrote {path}")


def _head(text: str) -> int:
    from ..errors import InputError

    try:
        return int(text)
    except ValueError:
        raise InputError(f"--head {text!r} is not a head index or 'mean'") from None
