"""`segment_videos`: near-online or offline segmentation of video files and frame folders.

Output folder (written under a temporary name beside it and renamed at the end, so it never
holds a partial result; an existing non-empty folder is replaced only with ``overwrite``)::

    pred.json                  VIPSeg submission JSON: one entry per video, one per frame
    pan_pred/<video>/<frame>.png   RGB segment ids (id = R + 256 G + 256^2 B, 0 = void);
                               the same id in two frames is the same tube
    results.json               YouTube-VIS results: top-k tracks per video, COCO RLE per frame
    summary.json               per video: frames, clips, tracks, classes, timing, error
    overlay/<video>.mp4        with ``render``: the panoptic segments drawn over the video

``<frame>`` is ``00000000``, ``00000001``... for video files and the image stem for frame
folders. ``video_id`` in results.json is the input's position (1, 2, ...), listed in summary.json.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import (
    AxialVSError,
    InputError,
    OutputError,
    OutputExistsError,
    VideoError,
    os_error_line,
)
from ..formats._io import atomic_write_json
from ..formats.vipseg import PanopticWriter
from ..formats.ytvis import write_results
from ..model_cards import sha256
from ..outputs.postprocess import Thresholds
from ..outputs.writers import VideoOutputs, check_output_folder, commit_folder, unique_names
from ..render.api import SegmentOverlay, overlay_classes
from ..video import VideoSource, expand_inputs, open_video
from . import run_folder
from .device import LoadedModel, load_model
from .preprocess import plan_geometry, stream_clips
from .run_folder import Ranks, chain
from .tracking import NearOnlineRunner, OfflineRunner
from .video_level import VideoLevelPanoptic

PNG_LEVEL = 1  # zlib level of the id PNGs: read by programs, so speed over size

__all__ = ["ProgressUpdate", "SegmentOptions", "SegmentResult", "segment_videos"]

TASKS = ("panoptic", "instance", "both")
POSTS = ("stream", "video")


@dataclass(frozen=True)
class SegmentOptions:
    """Options of `segment_videos` (None: the checkpoint's value)."""

    offline: bool = False  # two-pass cross-clip refinement (`axialvs refine`)
    task: str = "both"  # panoptic | instance | both
    device: str = "auto"
    clip_length: int | None = None
    start: float | None = None  # seconds
    end: float | None = None
    max_frames: int | None = None
    stride: int = 1  # keep every stride-th frame (timestamps and frame names kept)
    threads: int = 0  # torch and decoder threads (0: automatic)
    folder_fps: float | None = None
    stream: int | None = None  # video stream of every file (default: the main video)
    thing_threshold: float | None = None
    stuff_threshold: float | None = None
    pixel_threshold: float | None = None
    overlap_threshold: float | None = None
    input_size: tuple[int, int] | None = None  # (short, long) the frames are shrunk to fit
    top_k: int = 10  # instance tracks per video
    refine_window: int = 0  # clips per cross-clip refinement window (0: whole video in budget)
    refine_memory_gib: float = 2.0  # memory the whole-video refinement may take (0: no limit)
    post: str = "stream"  # panoptic post-processing: "stream" (per clip) or "video" (official)
    overwrite: bool = False
    resume: bool = False  # continue an interrupted run of the same command (see run_folder)
    render: bool = False  # also draw the panoptic result over each video (overlay/<video>.mp4)

    def check(self) -> None:
        if self.task not in TASKS:
            raise InputError(f"--task {self.task!r} is not known; use one of {', '.join(TASKS)}")
        if self.render and self.task == "instance":
            raise InputError("--render draws the panoptic result; use --task panoptic or both")
        if self.clip_length is not None and self.clip_length < 1:
            raise InputError(f"--clip-length must be >= 1, got {self.clip_length}")
        if self.stride < 1:
            raise InputError(f"--stride must be >= 1 (1 keeps every frame), got {self.stride}")
        if self.top_k < 1:
            raise InputError(f"--top-k must be >= 1, got {self.top_k}")
        if self.refine_window != 0 and self.refine_window < 2:
            raise InputError(
                f"--refine-window must be 0 (whole video) or >= 2 clips, got {self.refine_window}"
            )
        if self.refine_memory_gib < 0:
            raise InputError(f"--refine-memory must be >= 0 GiB, got {self.refine_memory_gib}")
        if self.post not in POSTS:
            raise InputError(f"--post {self.post!r} is not known; use one of {', '.join(POSTS)}")
        if self.post == "video" and self.render:
            raise InputError(
                "--render draws frames while they stream, --post video paints them after the "
                "last clip: drop --render and run `axialvs render` on the output"
            )
        if self.input_size is not None:
            short, long = self.input_size
            if short < 33 or long < short:
                raise InputError(
                    f"--input-size {short}x{long} is not valid: give SHORTxLONG with "
                    "33 <= SHORT <= LONG, e.g. 257x449"
                )
        for name in ("thing", "stuff", "pixel", "overlap"):
            value = getattr(self, f"{name}_threshold")
            if value is not None and not 0.0 <= value <= 1.0:
                raise InputError(f"--{name}-threshold must lie in [0, 1], got {value}")

    def sides(self, loaded: LoadedModel) -> tuple[int, int]:
        """(short, long): frames are shrunk (never enlarged) to fit; the checkpoint's default."""
        inf = loaded.inference
        return self.input_size or (inf.short_side, inf.long_side)

    def thresholds(self, loaded: LoadedModel) -> Thresholds:
        inf = loaded.inference
        return Thresholds(
            thing=_pick(self.thing_threshold, inf.thing_threshold),
            stuff=_pick(
                self.stuff_threshold,
                inf.stuff_threshold_offline if self.offline else inf.stuff_threshold,
            ),
            pixel=_pick(self.pixel_threshold, _pixel_default(loaded, self.offline)),
            overlap=_pick(self.overlap_threshold, inf.overlap_threshold),
        )


def _pick(value: float | None, default: float) -> float:
    return default if value is None else value


def _pixel_default(loaded: LoadedModel, offline: bool) -> float:
    """The checkpoint's pixel threshold; 0.5 (mask logit > 0, as Mask2Former) for the sigmoid
    masks of Tube-Link models, whose config carries the Video-kMaX values."""
    if loaded.segmenter == "mask2former":
        return 0.5
    inf = loaded.inference
    return inf.pixel_threshold_offline if offline else inf.pixel_threshold


@dataclass(frozen=True)
class ProgressUpdate:
    """Reported after every clip: `done` of about `total` frames of video `index` (0-based)."""

    video: str
    index: int
    count: int
    stage: str  # "segmenting", "pass 1/2", "pass 2/2"
    done: int
    total: int | None


@dataclass
class SegmentResult:
    """What `segment_videos` wrote; `errors` lists videos whose decoding stopped early."""

    output: Path
    videos: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    resumed: int = 0  # videos found done by --resume
    complete: bool = False  # --resume found the whole output done: nothing was run

    def raise_for_errors(self) -> None:
        """Raise `VideoError` (one line) if a video could not be decoded to its end."""
        if self.errors:
            raise VideoError("; ".join(self.errors))


def segment_videos(
    inputs: Sequence[str | Path],
    output: str | Path,
    checkpoint: str | Path | None = None,
    options: SegmentOptions | None = None,
    *,
    model: LoadedModel | None = None,
    progress: Callable[[ProgressUpdate], None] | None = None,
) -> SegmentResult:
    """Segment every input (video file or frame folder) and write the outputs to `output`.

    Launched by ``torchrun``, every process takes its share of the videos (see `run_folder`)
    and rank 0 merges the outputs; the files are those of a one-process run.

    Args:
        inputs: video files, frame folders, or folders of videos (see `expand_inputs`).
        output: the output folder.
        checkpoint: an axialvs checkpoint (default: the installed default model).
        options: see `SegmentOptions`.
        model: an already loaded model (then `checkpoint` and `options.device` are unused).
        progress: called after every clip (of this process's videos).

    Returns:
        A `SegmentResult` of all videos; a stream that breaks part-way is recorded in `errors`
        (the frames decoded before are segmented and written).
    """
    options = options or SegmentOptions()
    options.check()
    paths = expand_inputs(inputs)
    output = Path(output)
    ranks = Ranks.from_env()
    try:
        return _segment(paths, output, checkpoint, options, model, progress, ranks)
    finally:
        ranks.close()


def _segment(
    paths: list[Path],
    output: Path,
    checkpoint: str | Path | None,
    options: SegmentOptions,
    model: LoadedModel | None,
    progress: Callable[[ProgressUpdate], None] | None,
    ranks: Ranks,
) -> SegmentResult:
    if not options.resume:
        ranks.on_main(lambda: check_output_folder(output, options.overwrite))
    options = _share_machine(options, ranks)
    loaded = model or load_model(checkpoint, options.device, options.threads, reserve_core=True)
    identity = run_identity(paths, loaded, options)
    if options.resume:
        finished = ranks.on_main(lambda: _finished(output, identity, options.overwrite))
        if finished is not None:
            return finished
    names = unique_names([p.name if p.is_dir() else p.stem for p in paths])
    part, done = ranks.on_main(
        lambda: run_folder.prepare(output, identity, len(paths), options.resume, options.overwrite)
    )
    todo = [i for i in range(len(paths)) if i not in done]
    try:
        # every input is opened before any work (each rank probes some), so that a missing or
        # broken file fails the run at once; the frame counts balance the shares
        probed = chain(
            ranks.gather([_probe(i, paths[i], options) for i in todo[ranks.rank :: ranks.world]])
        )
        errors = sorted((i, err) for i, _, err in probed if err is not None)
        if errors:
            raise errors[0][1]
        frames = dict((i, n) for i, n, _ in probed)
        mine = [
            todo[k] for k in run_folder.shares([frames[i] for i in todo], ranks.world)[ranks.rank]
        ]
        for index in mine:
            _segment_video(
                index, paths[index], names[index], len(paths), part, loaded, options, progress
            )
        ranks.gather(None)  # every share done
        result = ranks.on_main(lambda: _merge(part, output, len(paths), loaded, options, identity))
    except BaseException:
        if ranks.world == 1:
            run_folder.abandon(part)  # done videos stay for --resume
        raise
    result.resumed = len(done)
    return result


def _share_machine(options: SegmentOptions, ranks: Ranks) -> SegmentOptions:
    """Under torchrun: rank r on its local GPU, or on its share of the CPU cores."""
    if ranks.world == 1:
        return options
    import torch

    device = options.device
    if device in ("auto", "cuda") and torch.cuda.is_available():
        device = f"cuda:{ranks.local_rank % torch.cuda.device_count()}"
    threads = options.threads
    if threads == 0 and not device.startswith("cuda"):
        threads = max(1, (os.cpu_count() or 1) // ranks.local_world)
    return replace(options, device=device, threads=threads)


def _probe(
    index: int, path: Path, options: SegmentOptions
) -> tuple[int, int | None, Exception | None]:
    try:
        with _open(path, options) as source:
            return index, source.estimated_frames, None
    except AxialVSError as err:
        return index, None, err


RESULT_NEUTRAL = ("threads", "device", "overwrite", "resume")  # options that do not change outputs


def run_identity(
    paths: Sequence[Path], loaded: LoadedModel, options: SegmentOptions
) -> dict[str, Any]:
    """What makes a run's outputs what they are: inputs, checkpoint and options (a resumed run
    must match it)."""
    source = Path(loaded.source)
    inputs = [str(p.resolve()) if isinstance(p, Path) and p.exists() else str(p) for p in paths]
    opts = {k: v for k, v in asdict(options).items() if k not in RESULT_NEUTRAL}
    opts = json.loads(json.dumps(opts))  # as run.json reads back (tuples become lists)
    return {
        "inputs": inputs,
        "checkpoint_sha256": sha256(source) if source.is_file() else loaded.source,
        "options": opts,
    }


def _finished(output: Path, identity: dict[str, Any], overwrite: bool) -> SegmentResult | None:
    """With --resume: the result of a complete output folder of the same run, else None
    (an error if the folder holds another run's outputs, unless `overwrite`)."""
    summary_path = output / "summary.json"
    if not output.is_dir() or not any(output.iterdir()):
        return None
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        summary = None
    old = summary.get("run") if isinstance(summary, dict) else None
    if old == identity:
        videos = summary.get("videos") or []
        result = SegmentResult(output, videos, [v["error"] for v in videos if v.get("error")])
        result.complete = True
        return result
    if overwrite:
        return None
    raise OutputExistsError(
        f"{output} holds the outputs of a run with {run_folder.describe_change(old, identity)}; "
        "pass --overwrite to replace them or choose another --output"
    )


def _segment_video(
    index: int,
    path: Path,
    name: str,
    count: int,
    part: Path,
    loaded: LoadedModel,
    options: SegmentOptions,
    progress: Callable[[ProgressUpdate], None] | None,
) -> None:
    """Segment one video in its stage folder and commit it to the run folder."""
    try:
        where = run_folder.stage(part, index, name)
        panoptic = None
        if options.task in ("panoptic", "both"):
            panoptic = PanopticWriter(where, compress_level=PNG_LEVEL)
        spill = where / ".instances.jsonl" if options.task in ("instance", "both") else None
        with _open(path, options) as source:
            summary, tracks = _segment_one(
                source, name, index, count, loaded, options, options.thresholds(loaded),
                panoptic, spill, progress,
            )  # fmt: skip
        if spill is not None:
            spill.unlink(missing_ok=True)
        if panoptic is not None:
            panoptic.close()
        run_folder.commit(part, where, index, {"video": name, "summary": summary, "tracks": tracks})
    except OSError as err:
        raise OutputError(
            os_error_line(err, part.parent / part.name[1 : -len(".partial")])
        ) from None


def _merge(
    part: Path, output: Path, count: int, loaded: LoadedModel, options: SegmentOptions,
    identity: dict[str, Any],
) -> SegmentResult:  # fmt: skip
    """Rank 0, after every video is committed: the run's JSON files, then the rename."""
    try:
        records = run_folder.records(part, count)
        if options.task in ("panoptic", "both"):
            run_folder.merge_predictions(part, count)
        if options.task in ("instance", "both"):
            write_results(part / "results.json", chain(r["tracks"] for r in records))
        videos = [r["summary"] for r in records]
        atomic_write_json(part / "summary.json", _summary(loaded, options, identity, videos))
        run_folder.tidy(part)
        commit_folder(part, output)
    except OSError as err:
        raise OutputError(os_error_line(err, output)) from None
    return SegmentResult(output, videos, [v["error"] for v in videos if v["error"]])


def _open(path: Path, options: SegmentOptions) -> VideoSource:
    return open_video(
        path,
        stream=options.stream,
        start=options.start,
        end=options.end,
        max_frames=options.max_frames,
        threads=options.threads,
        folder_fps=options.folder_fps,
        stride=options.stride,
    )


def run_manifest(loaded: LoadedModel, options: SegmentOptions) -> dict[str, Any]:
    """What a run's results can be traced to: the checkpoint (path and SHA-256), the package
    versions, the options, the host and the device."""
    import platform
    import socket

    import av
    import numpy
    import torch

    from .. import __version__

    path = Path(loaded.source)
    return {
        "checkpoint": loaded.source,
        "checkpoint_sha256": sha256(path) if path.is_file() else None,
        "versions": {
            "axialvs": __version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "av": av.__version__,
            "numpy": numpy.__version__,
        },
        "options": asdict(options),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "device": str(loaded.device),
    }


def _summary(
    loaded: LoadedModel, options: SegmentOptions, identity: dict[str, Any], videos: list[dict]
) -> dict[str, Any]:
    thresholds = options.thresholds(loaded)
    c = loaded.classes
    table = (c.ids, c.names, c.is_thing, c.colours)
    return {
        "manifest": run_manifest(loaded, options),
        "run": identity,
        "checkpoint": loaded.source,
        "mode": "offline" if options.offline else "near-online",
        "task": options.task,
        "device": str(loaded.device),
        "clip_length": options.clip_length or loaded.clip_length,
        "thresholds": asdict(thresholds),
        "input_size": list(options.sides(loaded)),
        "cut": {
            "start": options.start,
            "end": options.end,
            "max_frames": options.max_frames,
            "stride": options.stride,
        },
        "top_k": options.top_k if options.task in ("instance", "both") else None,
        "refine_window": options.refine_window if options.offline else None,
        "post": options.post,
        "categories": [
            {"id": cid, "name": name, "isthing": int(thing), "color": list(colour)}
            for cid, name, thing, colour in zip(*table, strict=True)
        ],
        "videos": videos,
    }


def _segment_one(
    source: VideoSource,
    name: str,
    index: int,
    count: int,
    loaded: LoadedModel,
    options: SegmentOptions,
    thresholds: Thresholds,
    panoptic: PanopticWriter | None,
    spill: Path | None,
    progress: Callable[[ProgressUpdate], None] | None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    started = time.perf_counter()
    kmax = loaded.segmenter == "kmax"
    geometry = plan_geometry(source.height, source.width, *options.sides(loaded), kmax)
    length = options.clip_length or loaded.clip_length
    total = source.estimated_frames
    overlay = _overlay(options, panoptic, name, source, loaded)
    frames_in = overlay.tap(source) if overlay is not None else source  # keeps frames to draw
    outputs = VideoOutputs(
        name, index + 1, geometry, loaded.classes, thresholds, panoptic, spill, loaded.device,
        "softmax" if kmax else "sigmoid", overlay.add if overlay is not None else None,
    )  # fmt: skip
    timing = {"model_s": 0.0, "postprocess_s": 0.0}
    video_level = None
    if options.post == "video" and panoptic is not None:
        video_level = VideoLevelPanoptic(
            geometry, thresholds, outputs.is_thing, loaded.device,
            "softmax" if kmax else "sigmoid", panoptic.root,
        )  # fmt: skip

    outputs.video_level = video_level

    def report(stage: str, done: int) -> None:
        if progress is not None:
            progress(ProgressUpdate(name, index, count, stage, done, total))

    def timed(key: str, fn: Callable, *args: Any) -> Any:
        t0 = time.perf_counter()
        value = fn(*args)
        timing[key] += time.perf_counter() - t0
        return value

    clips = 0
    window_used = None
    # post-processing on its own thread; where it outweighs the network (large frames, and
    # the second pass of refine, which runs no network) in two stages, each on its own
    # thread: masks, then painting and writing
    if options.offline or geometry.height * geometry.width > TWO_STAGE_PIXELS:
        worker = _ClipWorker(outputs.masks_of, then=_ClipWorker(outputs.add_masks))
    else:
        worker = _ClipWorker(outputs.add_clip)
    try:
        if options.offline:
            runner = OfflineRunner(
                loaded.model, options.refine_window, memory_gib=options.refine_memory_gib
            )
            for clip, frames in stream_clips(source, geometry, length, loaded.pixel_mean):
                timed("model_s", runner.collect, clip)
                report("pass 1/2", frames[-1].index + 1)
            error, read = source.error, source.frames_read
            if read:
                timed("model_s", runner.refine)
                for clip, frames in stream_clips(
                    frames_in, geometry, length, loaded.pixel_mean, read
                ):
                    pred = timed("model_s", runner.decode, clips, clip, len(frames))
                    worker.submit(pred, frames)
                    clips += 1
                    report("pass 2/2", frames[-1].index + 1)
                worker.join()
                if outputs.frames != read:
                    raise VideoError(
                        f"{source.path}: the second pass decoded {outputs.frames} frames, the "
                        f"first {read}; the decoder is not repeatable on this file: {FIX_HINT}"
                    )
            worker.join()
            final_logits = runner.refined.class_logits if runner.refined is not None else None
            window_used = runner.used_window
        else:
            runner = NearOnlineRunner(loaded.model)
            for clip, frames in stream_clips(frames_in, geometry, length, loaded.pixel_mean):
                pred = timed("model_s", runner.step, clip, len(frames))
                worker.submit(pred, frames)
                clips += 1
                report("segmenting", frames[-1].index + 1)
            worker.join()
            error = source.error
            state = runner.state
            final_logits = state.mean_logits if state.clips else None
        if video_level is not None and final_logits is not None:
            timed("postprocess_s", outputs.paint_video, final_logits)
        tracks = timed("postprocess_s", outputs.finish, final_logits, options.top_k)
        if overlay is not None:
            overlay.close()
    except BaseException:
        worker.close()
        outputs.abort()
        if overlay is not None:
            overlay.abort()
        raise
    finally:
        if video_level is not None:
            video_level.close()
    timing["postprocess_s"] += worker.total_busy_s  # both stages' busy time, summed
    elapsed = time.perf_counter() - started
    message = None
    if error:
        reason = error.split("frame(s): ", 1)[-1]
        message = (
            f"{source.path.name}: segmented {outputs.frames} frames of "
            f"{total if total is not None else 'an unknown number'}; decoding stopped: {reason}"
        )
    summary = {
        "video": name,
        "input": str(source.path),
        "stream": source.stream_index,
        "streams": source.streams,
        "frames_expected": total,
        "clips": clips,
        "padded_frames": clips * length - outputs.frames,
        "fps": source.fps,
        "host": socket.gethostname(),
        "device": str(loaded.device),
        **({"refine_window": window_used} if options.offline else {}),
        **outputs.describe(tracks),
        "timing": {
            **{k: round(v, 3) for k, v in timing.items()},
            "total_s": round(elapsed, 3),
            "frames_per_s": round(outputs.frames / elapsed, 2) if elapsed > 0 else None,
        },
        "error": message,
    }
    return summary, tracks


TWO_STAGE_PIXELS = 600_000  # displayed pixels above which near-online post runs in two stages


class _ClipWorker:
    """Runs `fn` on the submitted clips on one background thread, in order, while the caller
    decodes and runs the network on the next ones; at most `depth` clips wait (bounded memory).
    With `then`, each result (a tuple) is submitted to that worker: a pipeline of stages, one
    thread each, so that (say) the masks of one clip are computed while the previous one is
    painted and written.

    An error of a worker is raised in the caller at its next `submit` or at `join`.
    """

    def __init__(
        self, fn: Callable[..., Any], depth: int = 2, then: _ClipWorker | None = None
    ) -> None:
        self._fn = fn
        self._then = then
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._stop = False
        self.busy_s = 0.0
        self._thread: threading.Thread | None = None

    @property
    def total_busy_s(self) -> float:
        return self.busy_s + (self._then.total_busy_s if self._then is not None else 0.0)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None or self._stop:
                continue
            t0 = time.perf_counter()
            try:
                result = self._fn(*item)
                self.busy_s += time.perf_counter() - t0
                if self._then is not None:
                    self._then.submit(*result)
            except BaseException as err:  # handed to the caller
                self._error = err
                self.busy_s += time.perf_counter() - t0

    def _check(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def submit(self, *args: Any) -> None:
        self._check()
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="axialvs-post", daemon=True)
            self._thread.start()
        self._queue.put(args)

    def join(self) -> None:
        """Wait until every submitted clip has gone through every stage (raises the first
        error)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        try:
            self._check()
        finally:
            if self._then is not None:
                self._then.join()

    def close(self) -> None:
        """Stop after the clip in progress, dropping the waiting ones (on an error)."""
        self._stop = True
        if self._then is not None:
            self._then._stop = True  # it drops what this stage still hands it
        if self._thread is not None:
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._then is not None:
            self._then.close()


def _overlay(
    options: SegmentOptions,
    panoptic: PanopticWriter | None,
    name: str,
    source: VideoSource,
    loaded: LoadedModel,
) -> SegmentOverlay | None:
    """With ``render``: the overlay of this video, ``overlay/<name>.mp4`` in the output."""
    if not options.render or panoptic is None:
        return None
    path = panoptic.root / "overlay" / f"{name}.mp4"
    classes = overlay_classes(loaded.classes)
    return SegmentOverlay(path, source.fps, classes, shift=options.start is not None)


FIX_HINT = "re-encode it, e.g. `ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4`"
