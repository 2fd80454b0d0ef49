"""`axialvs render`: a video's segmentation drawn over its frames (mp4 or PNG frames)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def render(
    video: Annotated[
        Path, typer.Argument(help="The video file or frame folder that was segmented.")
    ],
    pred: Annotated[
        Path,
        typer.Option(
            "--pred",
            help="segment output folder (pred.json + pan_pred/), a VIPSeg ground truth, a "
            "folder of id PNGs, or a YouTube-VIS results.json.",
        ),
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Overlay video to write (H.264 .mp4).")
    ] = None,
    frames_dir: Annotated[
        Path | None,
        typer.Option(help="Write one PNG per frame into this folder (also or instead)."),
    ] = None,
    side_by_side: Annotated[
        Path | None,
        typer.Option(help="Ground truth (VIPSeg folder or id PNGs) drawn right of the prediction."),
    ] = None,
    alpha: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Weight of the colours (1: opaque).")
    ] = 0.5,
    labels: Annotated[bool, typer.Option(help="Write 'class #n' at each segment.")] = True,
    contours: Annotated[bool, typer.Option(help="Draw segment boundaries.")] = True,
    classes: Annotated[
        str | None,
        typer.Option(
            help="Class names / colours: vipseg, ytvis2021, ovis or a JSON file (default: the "
            "prediction's categories, else vipseg; ytvis2021 for results.json)."
        ),
    ] = None,
    video_id: Annotated[
        str | None,
        typer.Option(help="Which video of the prediction (default: the video's name)."),
    ] = None,
    frames: Annotated[
        str | None, typer.Option(help="Only frames N or A:B (0-based, B excluded).")
    ] = None,
    start: Annotated[
        float | None, typer.Option(min=0.0, help="Start time given to segment (seconds).")
    ] = None,
    end: Annotated[float | None, typer.Option(help="End time given to segment (seconds).")] = None,
    folder_fps: Annotated[
        float | None, typer.Option(help="Frame rate of frame folders (default 30).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace existing outputs.")] = False,
) -> None:
    """Draw a segmentation over its video: one colour per track, contours and labels.

    Stuff takes its class colour (VIPSeg palette), things a colour derived from their class
    colour that changes with the track id (never over the video). Frames pair with the
    prediction by position, as `axialvs segment` writes them. The mp4 (H.264) keeps the
    source's size and frame timestamps; --frames-dir writes PNGs; --side-by-side puts the
    prediction left and the ground truth right.

    Examples:

      axialvs render video.mp4 --pred out/ -o overlay.mp4

      axialvs render frames/ --pred out/ --side-by-side VIPSeg_720P/ -o both.mp4

      axialvs render video.mp4 --pred out/results.json --alpha 0.7 --no-labels -o inst.mp4

      axialvs render video.mp4 --pred out/ --frames 10:20 --frames-dir pngs/
    """
    from ..render.api import RenderOptions, render_video  # here: keeps `axialvs --help` fast

    options = RenderOptions(
        alpha=alpha, contours=contours, labels=labels, classes=classes, video_id=video_id,
        frames=frames, start=start, end=end, folder_fps=folder_fps, overwrite=overwrite,
    )  # fmt: skip
    console = Console(stderr=True, highlight=False)
    bar = Progress(TextColumn("rendering"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=console, transient=True)  # fmt: skip
    with bar:
        task = bar.add_task("render", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = render_video(video, pred, output, frames_dir, side_by_side, options, update)
    first, stop = result.frame_range
    w, h = result.size
    console.print(f"{result.source}: frames {first}..{stop - 1} drawn at {w}x{h}", soft_wrap=True)
    for path in result.outputs:
        console.print(f"wrote {path}", soft_wrap=True)
