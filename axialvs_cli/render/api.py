"""`render_video`: draw a video's segmentation over its frames (H.264 mp4 and/or PNG frames).

The video is streamed frame by frame (`open_video`) next to the prediction's id maps
(`inputs.open_labels`), which pair with the frames by position, as `segment` writes
them. The mp4 keeps the source frames' own timestamps (variable frame rate included) and
their size (odd sizes are padded by `VideoWriter`). Nothing is left half-written: the mp4 is
renamed into place at the end, PNG frames are written into a temporary folder renamed at
the end. `SegmentOverlay` is the same drawing for `segment --render`, fed while segmenting.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..classes import TABLES, load_table
from ..errors import InputError, OutputExistsError, VideoError
from ..formats._io import load_json
from ..inference.preprocess import FrameInfo
from ..outputs.writers import ClassTable, check_output_folder, commit_folder, make_partial
from ..video import Frame, VideoWriter, open_video
from .draw import ClassInfo, Styler, overlay, side_by_side
from .inputs import LabelFrames, classes_from_json, open_labels, parse_frames

__all__ = [
    "RenderOptions",
    "RenderResult",
    "SegmentOverlay",
    "load_classes",
    "overlay_classes",
    "render_video",
]

VIDEO_OUTPUTS = (".mp4", ".m4v", ".mov", ".mkv")


@dataclass(frozen=True)
class RenderOptions:
    """Options of `render_video`."""

    alpha: float = 0.5  # weight of the segment colours, 0..1
    contours: bool = True
    labels: bool = True
    classes: str | None = None  # vipseg | ytvis2021 | ytvis2022 | ovis | a JSON file
    video_id: str | None = None  # which video of the prediction (default: the video's name)
    frames: str | None = None  # "N" or "A:B" (0-based, B excluded): only these frames
    start: float | None = None  # the cut `segment` was given (seconds)
    end: float | None = None
    folder_fps: float | None = None
    stream: int | None = None
    overwrite: bool = False

    def check(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise InputError(f"--alpha must lie in [0, 1], got {self.alpha}")


@dataclass
class RenderResult:
    """What `render_video` wrote."""

    outputs: list[Path]
    frames: int
    size: tuple[int, int]  # (width, height) of the written images
    source: str  # the prediction, as named in messages
    frame_range: tuple[int, int] = field(default=(0, 0))  # [first, last + 1)


def load_classes(spec: str | None, labels: LabelFrames) -> dict[int, ClassInfo]:
    """Category id -> `ClassInfo`: the `--classes` table or file if given, else the source's
    own categories, else vipseg (panoptic) or ytvis2021 (results)."""
    if spec is None and labels.classes is not None:
        return labels.classes
    spec = spec or ("ytvis2021" if labels.kind == "results" else "vipseg")
    if spec in TABLES:
        return classes_from_json(load_table(spec), spec)
    if not spec.lower().endswith(".json"):
        raise InputError(
            f"--classes {spec!r} is neither a class table ({', '.join(TABLES)}) nor a .json file"
        )
    return classes_from_json(load_json(Path(spec), "class table"), spec)


def overlay_classes(table: ClassTable) -> dict[int, ClassInfo]:
    """Category id -> `ClassInfo` of a model's classes (checkpoint meta)."""
    return {
        cid: ClassInfo(name, thing, colour)
        for cid, name, thing, colour in zip(
            table.ids, table.names, table.is_thing, table.colours, strict=True
        )
    }


class _Sink:
    """Rendered frames to an mp4 and/or a PNG folder; committed by `close`, removed by `abort`."""

    def __init__(self, video: Path | None, frames_dir: Path | None, fps: float | None) -> None:
        self.video, self.frames_dir, self.fps = video, frames_dir, fps or 30.0
        self._writer: VideoWriter | None = None
        self._tmp: Path | None = None
        if frames_dir is not None:
            self._tmp = make_partial(frames_dir)

    def write(self, image: np.ndarray, pts: float, name: str) -> None:
        if self.video is not None:
            if self._writer is None:
                h, w = image.shape[:2]
                self._writer = VideoWriter(self.video, self.fps, w, h)
            self._writer.write(image, pts)
        if self._tmp is not None:
            Image.fromarray(image).save(self._tmp / f"{name}.png", compress_level=6)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._tmp is not None and self.frames_dir is not None:
            commit_folder(self._tmp, self.frames_dir)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def render_video(
    video: str | Path,
    pred: str | Path,
    output: str | Path | None = None,
    frames_dir: str | Path | None = None,
    side_by_side_gt: str | Path | None = None,
    options: RenderOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RenderResult:
    """Draw the segmentation `pred` of `video` over its frames.

    Args:
        video: the video file or frame folder that was segmented.
        pred: a submission folder, a VIPSeg ground truth, a folder of id PNGs or a
            results.json (see `inputs`).
        output: the mp4 to write (H.264 yuv420p, the source's timestamps), or None.
        frames_dir: a folder for one PNG per frame (named after the frames), or None.
        side_by_side_gt: ground truth drawn right of the prediction (any `pred` kind but
            results), or None.
        options: see `RenderOptions`.
        progress: called with (frames written, frames to write).
    """
    options = options or RenderOptions()
    options.check()
    if output is None and frames_dir is None:
        raise InputError("nothing to write: give -o OVERLAY.mp4 and/or --frames-dir DIR")
    output = Path(output) if output is not None else None
    frames_dir = Path(frames_dir) if frames_dir is not None else None
    if output is not None and output.suffix.lower() not in VIDEO_OUTPUTS:
        raise InputError(f"-o {output}: name the overlay video .mp4 (PNG frames: --frames-dir)")
    if output is not None and output.exists() and not options.overwrite:
        raise OutputExistsError(f"{output} exists; pass --overwrite to replace it")
    if frames_dir is not None:
        check_output_folder(frames_dir, options.overwrite)
    cut = recorded_cut(Path(pred), Path(video))
    start = options.start if options.start is not None else cut.get("start")
    end = options.end if options.end is not None else cut.get("end")
    stream = options.stream if options.stream is not None else cut.get("stream")
    stride = cut.get("stride", 1)
    with open_video(
        video, stream, start, end, folder_fps=options.folder_fps, stride=stride
    ) as source:
        labels = open_labels(Path(pred), source.name, options.video_id)
        panels = [(labels, Styler(load_classes(options.classes, labels)))]
        if side_by_side_gt is not None:
            same_id = options.video_id if labels.kind != "results" else None
            gt = open_labels(Path(side_by_side_gt), source.name, same_id)
            panels.append((gt, Styler(load_classes(options.classes, gt))))
        chosen = parse_frames(options.frames, len(labels), labels.where)
        if chosen is None and cut.get("max_frames") == len(labels):
            chosen = (0, len(labels))  # segment --max-frames: draw what was segmented
        first, stop = chosen or (0, len(labels))
        shift = start is not None or first > 0
        sink = _Sink(output, frames_dir, source.fps)
        try:
            written, size, offset = 0, (0, 0), None
            for frame in source:
                if chosen is not None and frame.index >= stop:
                    break  # --frames (or a recorded cut): the rest is neither read nor drawn
                for lab, _ in panels:
                    _check_frame(lab, frame, source.is_folder, source.estimated_frames)
                if frame.index < first:
                    continue
                images = [_draw(frame, lab, styler, options) for lab, styler in panels]
                image = images[0] if len(images) == 1 else side_by_side(*images)
                offset = frame.pts_seconds if offset is None else offset
                sink.write(image, frame.pts_seconds - (offset if shift else 0.0), frame.name)
                written += 1
                size = (image.shape[1], image.shape[0])
                if progress is not None:
                    progress(written, stop - first)
            if source.error:
                raise VideoError(source.error)
            _check_end(source.frames_read, stop if chosen else None, panels, str(video))
            sink.close()
        except BaseException:
            sink.abort()
            raise
    outputs = [p for p in (output, frames_dir) if p is not None]
    return RenderResult(outputs, written, size, labels.where, (first, first + written))


def recorded_cut(pred: Path, video: Path) -> dict[str, Any]:
    """The cut (start, end, max_frames, stride, stream) that `axialvs segment` recorded in the
    summary.json of a prediction folder for `video`, or {} (another kind of prediction, or an
    older summary)."""
    summary = pred / "summary.json" if pred.is_dir() else None
    if summary is None or not summary.is_file():
        return {}
    try:
        data = json.loads(summary.read_text(encoding="utf-8"))
        entries = [v for v in data.get("videos", []) if isinstance(v, dict)]
        cut = data.get("cut") or {}
    except (OSError, ValueError, AttributeError):
        return {}  # a damaged summary only loses the convenience
    if not isinstance(cut, dict):
        return {}
    for entry in entries:
        if Path(str(entry.get("input", ""))).resolve() == video.resolve():
            found = {k: cut.get(k) for k in ("start", "end", "max_frames", "stride")}
            found["stream"] = entry.get("stream")
            return {k: v for k, v in found.items() if isinstance(v, (int, float))}
    return {}


def _check_frame(labels: LabelFrames, frame: Frame, named: bool, estimate: int | None) -> None:
    if frame.index >= len(labels):
        total = f"about {estimate}" if estimate and estimate > len(labels) else "more"
        raise InputError(
            f"video frame {frame.index} has no prediction: the video has {total} frames, "
            f"{labels.where} has {len(labels)}; render the video that was segmented, with the "
            "same --start / --end (or choose frames with --frames)"
        )
    if named and labels.names is not None and labels.names[frame.index] != frame.name:
        raise InputError(
            f"{labels.where}: frame {frame.index} is {labels.names[frame.index]!r} but the "
            f"video's is {frame.name!r}; these are the predictions of another frame folder"
        )


def _check_end(read: int, stop: int | None, panels: list, video: str) -> None:
    for labels, _ in panels:
        needed = len(labels) if stop is None else stop
        if read < needed:
            raise InputError(
                f"{labels.where} has {len(labels)} frames but {video} ends after {read}; "
                "render the video that was segmented, with the same --start / --end"
            )


def _draw(frame: Frame, labels: LabelFrames, styler: Styler, options: RenderOptions) -> np.ndarray:
    ids, categories = labels.read(frame.index)
    h, w = frame.rgb.shape[:2]
    if ids.size == 0:  # a results frame without any mask
        ids = np.zeros((h, w), np.int64)
    if ids.shape != (h, w):
        raise InputError(
            f"{labels.where}: frame {frame.index} is {ids.shape[1]}x{ids.shape[0]}, the video "
            f"{w}x{h}; these are the predictions of another video"
        )
    return overlay(frame.rgb, ids, categories, styler, options.alpha, options.contours,
                   options.labels)  # fmt: skip


class SegmentOverlay:
    """`segment --render`: the overlay of one video, drawn while its panoptic output is
    written (the frames are kept by `tap` until `add` draws them).

    Args:
        path: the mp4 to write (atomically, on `close`).
        fps: the source's frame rate (the timestamps come from the frames).
        classes: category id -> `ClassInfo` (the model's classes).
        shift: start the timestamps at 0 (the video was cut with --start).
    """

    def __init__(
        self, path: Path, fps: float | None, classes: Mapping[int, ClassInfo], shift: bool = False
    ) -> None:
        self.styler = Styler(classes)
        self.shift = shift
        self._sink = _Sink(path, None, fps)
        self._rgb: dict[int, np.ndarray] = {}
        self._offset: float | None = None

    def tap(self, frames: Iterable[Frame]) -> Iterator[Frame]:
        """Pass the frames through, keeping each one's pixels until it is drawn."""
        for frame in frames:
            self._rgb[frame.index] = frame.rgb
            yield frame

    def add(self, info: FrameInfo, ids: np.ndarray, categories: Mapping[int, int]) -> None:
        """Draw frame `info` with its (H, W) ids; `categories`: id -> category id."""
        rgb = self._rgb.pop(info.index)
        self._offset = info.pts_seconds if self._offset is None else self._offset
        pts = info.pts_seconds - (self._offset if self.shift else 0.0)
        self._sink.write(overlay(rgb, ids, categories, self.styler), pts, info.name)

    def close(self) -> None:
        self._rgb.clear()
        self._sink.close()

    def abort(self) -> None:
        self._rgb.clear()
        self._sink.abort()
