"""Video files through PyAV: stream choice, seeking, orientation, frame timing, broken streams."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from fractions import Fraction
from functools import partial
from pathlib import Path

import av
import numpy as np

from ..errors import VideoError
from .orientation import apply_orientation, orientation_from_matrix, oriented_size
from .source import DecodeFailure, RawFrame, VideoSource
from .streams import FIX, describe_stream, open_container, pick_stream

__all__ = ["FileVideoSource", "open_video_file"]

_PEEK = 5  # frames decoded while opening: orientation, size and a measured frame rate

Decoded = Iterator[tuple[av.VideoFrame, float | None]]  # frames with their pts in seconds
# A container opened while probing, with its stream and the frames already started.
Pending = tuple[av.container.InputContainer, av.VideoStream, Decoded]


def _pts_seconds(frame: av.VideoFrame) -> float | None:
    if frame.pts is None or frame.time_base is None:
        return None
    return float(frame.pts * frame.time_base)


def _all_frames(container: av.container.InputContainer, stream: av.VideoStream) -> Decoded:
    for packet in container.demux(stream):
        for frame in packet.decode():
            yield frame, _pts_seconds(frame)


def _seek(container: av.container.InputContainer, stream: av.VideoStream, start: float) -> Decoded:
    """Frames from the keyframe before ``start``.

    Some formats land after the wanted time or at the end (MPEG-TS, imprecise indexes, a
    keyframe found by decode time but shown later); then seek again earlier: 1, 2, 4 seconds
    before ``start``, and finally from the beginning.
    """
    for target in dict.fromkeys(max(0.0, start - back) for back in (0, 1, 2, 4, start)):
        try:
            container.seek(int(Fraction(target) / stream.time_base), stream=stream, backward=True)
        except av.error.FFmpegError:
            if target == start:
                return _all_frames(container, stream)  # not seekable: decode from the start
            continue
        stream.codec_context.flush_buffers()
        frames = _all_frames(container, stream)
        first = next(frames, None)
        if target == 0.0 or (first is not None and (first[1] is None or first[1] <= start + 1e-6)):
            return frames if first is None else itertools.chain([first], frames)
    return iter(())


def _decoded(
    container: av.container.InputContainer, stream: av.VideoStream, start: float | None
) -> Decoded:
    """Decoded frames with pts >= start; FFmpeg errors become DecodeFailure."""
    try:
        if start and stream.time_base:
            frames = _seek(container, stream, start)
        else:
            frames = _all_frames(container, stream)
        for frame, pts in frames:
            if start is not None and pts is not None and pts < start - 1e-6:
                continue
            yield frame, pts
    except av.error.FFmpegError as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise DecodeFailure(
            f"decoding failed ({reason}); the file is damaged or cut short: {FIX}"
        ) from None


def _raise(message: str) -> Decoded:
    raise DecodeFailure(message)
    yield  # pragma: no cover - makes this a generator


_COMMON_RATES = tuple(
    Fraction(r) for r in ("24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60")
)


def _estimate_fps(stream: av.VideoStream, peeked: list[float | None]) -> float | None:
    """The container's average rate, unless the first frames' timestamps clearly disagree.

    Some containers report nonsense (an MKV with a 1 ms clock can say 1000 fps); then the rate
    measured over the first frames is used, snapped to a common rate within 1 %.
    """
    nominal = stream.average_rate or stream.guessed_rate
    known = [p for p in peeked if p is not None]
    measured = None
    if len(known) >= 2 and known[-1] > known[0]:
        measured = (len(known) - 1) / (known[-1] - known[0])
    if nominal and (measured is None or 1 / 1.5 <= float(nominal) / measured <= 1.5):
        return float(nominal)
    if measured is not None:
        for rate in _COMMON_RATES:
            if abs(measured / float(rate) - 1) < 0.01:
                return float(rate)
    return measured


class FileVideoSource(VideoSource):
    """A video file decoded with PyAV (see `VideoSource`)."""

    def __init__(
        self, *, threads: int, pending: Pending | None, expected_end: float | None, **meta
    ) -> None:
        super().__init__(**meta)
        self._threads = threads
        self._pending = pending
        self._active: av.container.InputContainer | None = None
        self._expected_end = expected_end

    def _open(self) -> tuple[av.container.InputContainer, av.VideoStream]:
        container = open_container(self.path)
        stream = container.streams.video[self.stream_index]
        _configure(stream, self._threads)
        return container, stream

    def _raw_frames(self) -> Iterator[RawFrame]:
        if self._pending is not None:
            container, stream, frames = self._pending
            self._pending = None
        else:
            container, stream = self._open()
            frames = _decoded(container, stream, self.start)
        self._active = container
        step = 1.0 / self.fps if self.fps else 1.0 / 30
        last: float | None = None
        try:
            for frame, pts in frames:
                if pts is None or (last is not None and pts <= last):
                    pts = 0.0 if last is None else last + step  # missing or repeated timestamp
                last = pts
                yield pts, None, partial(self._to_rgb, frame)
            self._check_complete(last, step)
        finally:
            container.close()
            self._active = None

    def _check_complete(self, last: float | None, step: float) -> None:
        """Decoding ended quietly: flag a file that stops well before its stated duration."""
        expected = self._expected_end
        if self.end is not None and expected is not None:
            expected = min(expected, self.end)
        if expected is None or last is None:
            return
        reached = last + step
        if expected - reached > max(1.0, 0.1 * expected):
            raise DecodeFailure(
                f"the video stops at {reached:.2f} s but the container says it lasts "
                f"{expected:.2f} s; the file is probably cut short (re-download it or {FIX})"
            )

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        try:
            rgb = frame.to_ndarray(format="rgb24", width=self.coded_width, height=self.coded_height)
        except (av.error.FFmpegError, ValueError) as err:
            raise DecodeFailure(
                f"cannot convert a {frame.format.name} frame to RGB ({err})"
            ) from None
        return np.ascontiguousarray(apply_orientation(rgb, self.rotation, self.mirrored))

    def close(self) -> None:
        if self._pending is not None:
            self._pending[0].close()
            self._pending = None
        if self._active is not None:
            self._active.close()
            self._active = None


def _configure(stream: av.VideoStream, threads: int) -> None:
    stream.codec_context.thread_type = "AUTO"
    stream.codec_context.thread_count = threads


def _expected_end(container: av.container.InputContainer, stream: av.VideoStream) -> float | None:
    """Where the video should end: the stream's duration, else the container's."""
    tb = stream.time_base
    if stream.duration and tb:
        return float((stream.duration + (stream.start_time or 0)) * tb)
    if container.duration:
        return (container.duration + (container.start_time or 0)) / av.time_base
    return None


def open_video_file(
    path: Path,
    stream: int | None,
    start: float | None,
    end: float | None,
    max_frames: int | None,
    threads: int,
) -> FileVideoSource:
    """Open a video file, decode its first frames to learn size and orientation (see open_video)."""
    container = open_container(path)
    try:
        number, vstream = pick_stream(container, path, stream)
        _configure(vstream, threads)
        frames = _decoded(container, vstream, start)
        peeked: list[tuple[av.VideoFrame, float | None]] = []
        failure: str | None = None
        try:
            peeked.extend(itertools.islice(frames, _PEEK))
        except DecodeFailure as err:
            failure = str(err)
        if not peeked:
            if start and failure is None:
                end_s = _expected_end(container, vstream)
                lasts = f" (the video ends at about {end_s:.2f} s)" if end_s else ""
                raise VideoError(f"{path}: no frame at or after {start} s{lasts}; start earlier")
            reason = failure or "the stream holds no decodable frame"
            raise VideoError(f"{path}: no video frame could be decoded: {reason}")
    except BaseException:
        container.close()
        raise
    first = peeked[0][0]
    rotation, mirrored = 0, False
    for side in first.side_data:
        if side.type.name == "DISPLAYMATRIX":
            rotation, mirrored = orientation_from_matrix(np.frombuffer(bytes(side), "=i4"))
    width, height = oriented_size(first.width, first.height, rotation)
    rest = _raise(failure) if failure else frames
    return FileVideoSource(
        threads=threads,
        pending=(container, vstream, itertools.chain(peeked, rest)),
        expected_end=_expected_end(container, vstream),
        path=path,
        name=path.stem,
        width=width,
        height=height,
        coded_width=first.width,
        coded_height=first.height,
        rotation=rotation,
        mirrored=mirrored,
        fps=_estimate_fps(vstream, [pts for _, pts in peeked]),
        num_frames_hint=vstream.frames or None,
        time_base=vstream.time_base,
        codec=vstream.codec_context.name,
        stream_index=number,
        streams=[describe_stream(s, i) for i, s in enumerate(container.streams.video)],
        is_folder=False,
        start=start,
        end=end,
        max_frames=max_frames,
    )
