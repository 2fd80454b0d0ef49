"""`Frame` and `VideoSource`: what every input (video file or frame folder) looks like."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

__all__ = ["DecodeFailure", "Frame", "RawFrame", "VideoSource"]


@dataclass(frozen=True)
class Frame:
    """One decoded frame, as displayed.

    Attributes:
        index: 0-based position among the frames this iteration yields (after the start cut
            and the stride).
        rgb: (H, W, 3) uint8, C-contiguous, rotation already applied.
        pts_seconds: presentation time on the stream's own clock (not shifted to start at 0;
            exact for variable-frame-rate video). For frame folders: position / fps.
        name: frame stem for folders (``"00012"``); for videos ``f"{n:08d}"`` with n the frame's
            position among all decoded frames after the start cut (``index`` without a stride).
    """

    index: int
    rgb: np.ndarray
    pts_seconds: float
    name: str


class DecodeFailure(Exception):
    """Raised inside a source when decoding stops early; becomes `VideoSource.error`."""


# What a concrete source produces before the cut by end / max_frames: the timestamp, the frame
# stem (None for videos) and a function that makes the RGB array (only called when kept).
RawFrame = tuple[float, str | None, Callable[[], np.ndarray]]


class VideoSource:
    """A video file or a folder of frames, opened for streaming.

    Iterating yields `Frame` objects one at a time; the whole video is never held in memory.
    Each iteration starts again from the beginning (after the ``start`` cut), so a caller can
    make two passes; do not interleave two iterations of one source.

    When decoding breaks part-way, the iteration stops without raising: the frames already
    yielded stay valid, `error` says what happened and `frames_read` how many frames came out.
    The caller decides the exit code. Use the source as a context manager to close the file.

    Attributes:
        path: the file or folder.
        name: file stem or folder name (used to name outputs).
        width, height: displayed size (after rotation).
        coded_width, coded_height: size as stored in the stream (before rotation).
        rotation: counter-clockwise degrees applied to the coded picture (0, 90, 180, -90).
        mirrored: whether the picture is also flipped left-right (rare; from the display matrix).
        fps: frames per second (average rate; for folders the given or default rate), or None.
        num_frames_hint: frame count from the container or folder; may be wrong or None.
        time_base: the stream's time base (None for folders).
        codec: decoder name (``"h264"``, ``"hevc"``...); ``"png"``/``"jpeg"`` for folders.
        stream_index: index among the file's video streams (None for folders).
        streams: one line per video stream of the file (`describe_stream`); [] for folders.
        is_folder: True for a frame folder.
        start, end, max_frames: the cut this source applies (seconds on the stream clock).
        error: why the last iteration stopped early, or None.
        frames_read: frames yielded by the last (or current) iteration.
    """

    def __init__(
        self,
        *,
        path: Path,
        name: str,
        width: int,
        height: int,
        coded_width: int,
        coded_height: int,
        rotation: int,
        mirrored: bool,
        fps: float | None,
        num_frames_hint: int | None,
        time_base: Fraction | None,
        codec: str,
        stream_index: int | None,
        is_folder: bool,
        start: float | None,
        end: float | None,
        max_frames: int | None,
        streams: list[str] | None = None,
    ) -> None:
        self.path = path
        self.name = name
        self.width = width
        self.height = height
        self.coded_width = coded_width
        self.coded_height = coded_height
        self.rotation = rotation
        self.mirrored = mirrored
        self.fps = fps
        self.num_frames_hint = num_frames_hint
        self.time_base = time_base
        self.codec = codec
        self.stream_index = stream_index
        self.streams = list(streams or [])
        self.is_folder = is_folder
        self.start = start
        self.end = end
        self.max_frames = max_frames
        self.stride = 1  # keep every stride-th frame (set by `open_video`)
        self.error: str | None = None
        self.frames_read = 0

    # -- to provide in a concrete source ------------------------------------------------------
    def _raw_frames(self) -> Iterator[RawFrame]:
        """Frames at or after ``start``, in presentation order; raise DecodeFailure to stop."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the open file, if any. Iterating again later reopens it."""

    # -- shared -------------------------------------------------------------------------------
    @property
    def estimated_frames(self) -> int | None:
        """Frames an iteration is expected to yield (for progress bars), or None if unknown."""
        total = self.num_frames_hint
        if self.fps:
            if self.start and total is not None:
                total = max(0, total - round(self.start * self.fps))
            if self.end is not None:
                span = max(0, round((self.end - (self.start or 0.0)) * self.fps))
                total = span if total is None else min(total, span)
        if total is not None and self.stride > 1:
            total = -(-total // self.stride)
        if self.max_frames is not None:
            total = self.max_frames if total is None else min(total, self.max_frames)
        return total

    def __iter__(self) -> Iterator[Frame]:
        self.error = None
        self.frames_read = 0
        raw = self._raw_frames()
        try:
            for position, (pts, stem, load) in enumerate(raw):
                if self.end is not None and pts >= self.end:
                    break
                if self.max_frames is not None and self.frames_read >= self.max_frames:
                    break
                if position % self.stride:
                    continue  # skipped frames are never converted to RGB
                rgb = load()
                index = self.frames_read
                self.frames_read += 1
                yield Frame(index, rgb, pts, stem if stem is not None else f"{position:08d}")
        except DecodeFailure as err:
            self.error = f"{self.path}: stopped after {self.frames_read} frame(s): {err}"
        finally:
            raw.close()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        kind = "folder" if self.is_folder else self.codec
        return f"<VideoSource {self.path} {kind} {self.width}x{self.height} fps={self.fps}>"
