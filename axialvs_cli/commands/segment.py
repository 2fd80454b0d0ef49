"""`axialvs segment` (near-online, or offline with --offline) and `axialvs refine` (offline)."""

from __future__ import annotations

import contextlib
import os
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

if TYPE_CHECKING:
    from ..inference.runner import ProgressUpdate, SegmentOptions, SegmentResult


class TaskChoice(str, Enum):
    panoptic = "panoptic"
    instance = "instance"
    both = "both"


class DeviceChoice(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


Inputs = Annotated[
    list[str],
    typer.Argument(
        help="Video files, folders of JPEG/PNG frames (sorted by name), folders of videos, "
        'quoted glob patterns ("clips/**/*.mp4") or @list.txt (one input a line).'
    ),
]
OutputOpt = Annotated[
    Path, typer.Option("--output", "-o", help="Output folder (written atomically).")
]
CheckpointOpt = Annotated[
    Path | None,
    typer.Option(
        help="axialvs checkpoint (.pt) or a shipped model's name (`axialvs info` lists them). Default: the installed default model."
    ),
]
TaskOpt = Annotated[
    TaskChoice,
    typer.Option(
        help="panoptic: VIPSeg pred.json + pan_pred/; instance: YouTube-VIS results.json; both."
    ),
]
DeviceOpt = Annotated[
    DeviceChoice, typer.Option(help="auto: CUDA if PyTorch sees a GPU, else CPU.")
]
ClipLengthOpt = Annotated[
    int | None, typer.Option(min=1, help="Frames per clip (default: the model's).")
]
StrideOpt = Annotated[
    int,
    typer.Option(
        min=1,
        help="Keep every K-th frame (long footage); kept frames keep their timestamps and "
        "their frame numbers in the output names.",
    ),
]
MaxFramesOpt = Annotated[int | None, typer.Option(min=1, help="Segment at most this many frames.")]
StartOpt = Annotated[float | None, typer.Option(min=0.0, help="Start time in seconds.")]
EndOpt = Annotated[float | None, typer.Option(help="End time in seconds (exclusive).")]
ThreadsOpt = Annotated[int, typer.Option(min=0, help="PyTorch and decoder threads (0: automatic).")]
StreamOpt = Annotated[
    int | None,
    typer.Option(
        min=0, help="Video stream of files with several (0 = first; default: the main video)."
    ),
]
FpsOpt = Annotated[float | None, typer.Option(help="Frame rate of frame folders (default 30).")]
ThingOpt = Annotated[
    float | None, typer.Option(help="Class score a thing needs (default: model's, 0.2).")
]
StuffOpt = Annotated[
    float | None,
    typer.Option(help="Class score stuff needs (default: 0.3 near-online, 0.45 offline)."),
]
PixelOpt = Annotated[
    float | None,
    typer.Option(help="Mask probability of a mask pixel (default: 0.3 near-online, 0.2 offline)."),
]
OverlapOpt = Annotated[
    float | None,
    typer.Option(help="Fraction of a mask that must be unpainted to keep it (default 0.8)."),
]
InputSizeOpt = Annotated[
    str | None,
    typer.Option(
        metavar="SHORTxLONG",
        help="Model input size: frames are shrunk (never enlarged) so the shorter side fits "
        "SHORT and the longer LONG, e.g. 257x449. Default: the model's (`axialvs info`).",
    ),
]
TopKOpt = Annotated[int, typer.Option(min=1, help="Instance tracks kept per video.")]
WindowOpt = Annotated[
    int,
    typer.Option(
        min=0,
        help="Offline: clips refined together; 0 (default): the whole video, as the paper, "
        "when it fits --refine-memory, else windows of as many clips as fit.",
    ),
]
MemoryOpt = Annotated[
    float,
    typer.Option(
        "--refine-memory",
        min=0.0,
        help="Offline: GiB the whole-video refinement may take (0: no limit).",
    ),
]


class PostChoice(str, Enum):
    stream = "stream"
    video = "video"


PostOpt = Annotated[
    PostChoice,
    typer.Option(
        help="Panoptic post-processing: stream = clip by clip, class logits averaged over the "
        "clips so far; video = the official rule over the whole video (class logits averaged "
        "over all clips, one painting decision per query for the video; mask logits kept in a "
        "temporary file, frames written after the last clip).",
    ),
]
OverwriteOpt = Annotated[bool, typer.Option(help="Replace an existing output folder.")]
ResumeOpt = Annotated[
    bool,
    typer.Option(
        help="Continue an interrupted run of the same command: videos it finished are kept, "
        "the rest are redone (another checkpoint or options: an error unless --overwrite)."
    ),
]
RenderOpt = Annotated[
    bool,
    typer.Option(
        help="Also draw the panoptic result over each video in the same pass: "
        "OUTPUT/overlay/<video>.mp4 (as `axialvs render`)."
    ),
]


EXAMPLES = """Examples:

  axialvs {name} video.mp4 --output out/ --checkpoint model.axialvs.pt

  axialvs {name} frames_dir/ clip2.mov --output out/ --task instance --top-k 20

  axialvs {name} long.mp4 --output out/ --start 10 --end 40 --device cuda
"""


class FramesPerSecond(ProgressColumn):
    """Frames per second of the current pass."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.1f} frames/s", style="cyan")


def _progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), FramesPerSecond(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True,
    )  # fmt: skip


def _run(inputs: list[str], output: Path, checkpoint: Path | None, options: SegmentOptions) -> None:
    from ..inference.runner import segment_videos  # here: keeps `axialvs --help` fast

    console = Console(stderr=True, highlight=False)
    with contextlib.suppress(AttributeError):
        import av.logging

        av.logging.set_libav_level(av.logging.PANIC)  # FFmpeg's own log lines
    tasks: dict[tuple[int, str], int] = {}
    main = int(os.environ.get("RANK", "0")) == 0  # under torchrun only rank 0 reports
    with _progress_bar(console) if main else contextlib.nullcontext() as bar:

        def update(event: ProgressUpdate) -> None:
            key = (event.index, event.stage)
            if key not in tasks:
                where = f"[{event.index + 1}/{event.count}] " if event.count > 1 else ""
                label = f"{where}{event.video} ({event.stage})"
                tasks[key] = bar.add_task(label, total=event.total)
            bar.update(tasks[key], completed=event.done)

        result = segment_videos(
            inputs, output, checkpoint, options, progress=update if main else None
        )
    if main:
        _print(console, result)
    result.raise_for_errors()


def _print(console: Console, result: SegmentResult) -> None:
    if result.complete:
        console.print(
            f"{result.output} is already complete ({len(result.videos)} videos); nothing to do"
        )
        return
    if result.resumed:
        n = result.resumed
        console.print(
            f"resumed: {n} video{'s were' if n != 1 else ' was'} already done, "
            f"{len(result.videos) - n} segmented now"
        )
    for video in result.videos:
        note = stream_note(video)
        if note:
            console.print(note, soft_wrap=True)
        fps = video["timing"]["frames_per_s"]
        tracks = video["panoptic_thing_tracks"]
        console.print(
            f"{video['video']}: {video['frames']} frames, {video['clips']} clips"
            + (f", {tracks} thing tracks" if tracks is not None else "")
            + (
                f", {video['instance_tracks']} instance tracks"
                if video["instance_tracks"] is not None
                else ""
            )
            + (f", {fps} frames/s" if fps else "")
        )
    console.print(f"wrote {result.output}")


def parse_input_size(text: str | None) -> tuple[int, int] | None:
    """--input-size "257x449" -> (257, 449); None stays None (the model's size)."""
    if text is None:
        return None
    parts = text.lower().replace(" ", "").split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise typer.BadParameter(
            f"{text!r} is not SHORTxLONG; give two integers, e.g. 257x449",
            param_hint="--input-size",
        )
    short, long = int(parts[0]), int(parts[1])
    return short, long


def stream_note(video: dict) -> str | None:
    """For a file with several video streams: which one was segmented, and how to pick another."""
    streams = video.get("streams") or []
    if len(streams) < 2 or video.get("stream") is None:
        return None
    others = "; ".join(s for i, s in enumerate(streams) if i != video["stream"])
    return (
        f"{video['video']}: segmented video stream {streams[video['stream']]} "
        f"(other video streams: {others}); --stream N picks another"
    )


def segment(
    inputs: Inputs,
    output: OutputOpt,
    checkpoint: CheckpointOpt = None,
    offline: Annotated[
        bool, typer.Option(help="Refine with the cross-clip module (same as `axialvs refine`).")
    ] = False,
    task: TaskOpt = TaskChoice.both,
    device: DeviceOpt = DeviceChoice.auto,
    clip_length: ClipLengthOpt = None,
    max_frames: MaxFramesOpt = None,
    stride: StrideOpt = 1,
    start: StartOpt = None,
    end: EndOpt = None,
    threads: ThreadsOpt = 0,
    folder_fps: FpsOpt = None,
    stream: StreamOpt = None,
    thing_threshold: ThingOpt = None,
    stuff_threshold: StuffOpt = None,
    pixel_threshold: PixelOpt = None,
    overlap_threshold: OverlapOpt = None,
    input_size: InputSizeOpt = None,
    top_k: TopKOpt = 10,
    refine_window: WindowOpt = 0,
    refine_memory: MemoryOpt = 2.0,
    post: PostOpt = PostChoice.stream,
    overwrite: OverwriteOpt = False,
    resume: ResumeOpt = False,
    render: RenderOpt = False,
) -> None:
    """Segment videos near-online: clip by clip, queries linked by Hungarian matching."""
    from ..inference.runner import SegmentOptions  # here: keeps `axialvs --help` fast

    options = SegmentOptions(
        offline=offline, task=task.value, device=device.value, clip_length=clip_length,
        start=start, end=end, max_frames=max_frames, stride=stride, threads=threads,
        folder_fps=folder_fps,
        stream=stream, thing_threshold=thing_threshold, stuff_threshold=stuff_threshold,
        pixel_threshold=pixel_threshold, overlap_threshold=overlap_threshold,
        input_size=parse_input_size(input_size), top_k=top_k,
        refine_window=refine_window, refine_memory_gib=refine_memory, post=post.value,
        overwrite=overwrite, resume=resume, render=render,
    )  # fmt: skip
    _run(inputs, output, checkpoint, options)


def refine(
    inputs: Inputs,
    output: OutputOpt,
    checkpoint: CheckpointOpt = None,
    task: TaskOpt = TaskChoice.both,
    device: DeviceOpt = DeviceChoice.auto,
    clip_length: ClipLengthOpt = None,
    max_frames: MaxFramesOpt = None,
    stride: StrideOpt = 1,
    start: StartOpt = None,
    end: EndOpt = None,
    threads: ThreadsOpt = 0,
    folder_fps: FpsOpt = None,
    stream: StreamOpt = None,
    thing_threshold: ThingOpt = None,
    stuff_threshold: StuffOpt = None,
    pixel_threshold: PixelOpt = None,
    overlap_threshold: OverlapOpt = None,
    input_size: InputSizeOpt = None,
    top_k: TopKOpt = 10,
    refine_window: WindowOpt = 0,
    refine_memory: MemoryOpt = 2.0,
    post: PostOpt = PostChoice.stream,
    overwrite: OverwriteOpt = False,
    resume: ResumeOpt = False,
    render: RenderOpt = False,
) -> None:
    """Segment videos offline: two passes, all clip queries refined by the cross-clip module."""
    segment(
        inputs, output, checkpoint, True, task, device, clip_length, max_frames, stride, start, end,
        threads, folder_fps, stream, thing_threshold, stuff_threshold, pixel_threshold,
        overlap_threshold, input_size, top_k, refine_window, refine_memory, post, overwrite,
        resume, render,
    )  # fmt: skip


segment.__doc__ = f"{segment.__doc__}\n\n{EXAMPLES.format(name='segment')}"
refine.__doc__ = f"{refine.__doc__}\n\n{EXAMPLES.format(name='refine')}"
