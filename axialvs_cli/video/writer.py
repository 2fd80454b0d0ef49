"""`VideoWriter`: RGB frames to an H.264 (yuv420p, BT.709) MP4, written atomically."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import VideoError
from ..formats._io import pid_alive

__all__ = ["TIME_BASE", "VideoWriter"]

TIME_BASE = Fraction(1, 90000)  # 90 kHz: exact for 24, 25, 30, 60 and 30000/1001 fps
_CRF_CODECS = ("libx264", "libx265")


def _as_rate(fps: float | Fraction) -> Fraction:
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    return rate


class VideoWriter:
    """Write RGB uint8 frames as a video (default H.264 yuv420p MP4) with chosen timestamps.

    yuv420p needs even sizes: an odd width or height is padded by repeating the last column or
    row once, so a 65x47 video is stored as 66x48 (`padded_width`, `padded_height`).
    Frames are encoded at their ``pts_seconds`` when given (variable frame rate is kept), else
    one ``1/fps`` after the previous frame. Timestamps must increase; a repeated one moves one
    tick (1/90000 s) later. The file is written under a hidden temporary name in the same
    folder and renamed on a successful `close()`, so an error or exception leaves no
    half-written video (and an existing file at ``path`` is replaced only then).

    Example:
        >>> with VideoWriter("out.mp4", 30, 640, 360) as out:  # doctest: +SKIP
        ...     for frame in source:
        ...         out.write(frame.rgb, frame.pts_seconds)
    """

    def __init__(
        self,
        path: str | Path,
        fps: float | Fraction,
        width: int,
        height: int,
        codec: str = "libx264",
        crf: int = 18,
        preset: str = "medium",
    ) -> None:
        if width < 1 or height < 1:
            raise ValueError(f"width and height must be positive, got {width}x{height}")
        self.path = Path(path)
        self.width, self.height = width, height
        self.padded_width, self.padded_height = width + width % 2, height + height % 2
        self.rate = _as_rate(fps)
        self.frames_written = 0
        if codec not in av.codecs_available:
            raise VideoError(
                f"{self.path}: the encoder {codec!r} is not in this PyAV build; install PyAV "
                "from PyPI (its wheels include libx264) or choose codec='mpeg4'"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        suffix = self.path.suffix or ".mp4"
        for stale in self.path.parent.glob(f".{self.path.stem}.*.partial{suffix}"):
            pid = stale.name[len(self.path.stem) + 2 : -len(f".partial{suffix}")]
            if pid.isdigit() and not pid_alive(int(pid)):  # left by a killed run
                stale.unlink(missing_ok=True)
        self._tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.partial{suffix}")
        options = {"movflags": "+faststart"} if suffix.lower() in (".mp4", ".mov", ".m4v") else {}
        try:
            self._container = av.open(str(self._tmp), "w", options=options)
        except (av.error.FFmpegError, ValueError, OSError) as err:
            self._tmp.unlink(missing_ok=True)
            raise VideoError(f"{self.path}: cannot write a {suffix} video here ({err})") from None
        try:
            self._stream = self._container.add_stream(codec, rate=self.rate)
            self._setup_stream(codec, crf, preset)
        except (av.error.FFmpegError, ValueError) as err:
            self._container.close()
            self._tmp.unlink(missing_ok=True)
            raise VideoError(f"{self.path}: cannot encode {codec} into {suffix} ({err})") from None
        self._held: av.VideoFrame | None = None  # encoded once the next timestamp is known
        self._last_tick: int | None = None
        self._last_step: int | None = None  # the last frame is shown this long
        self._closed = False

    def _setup_stream(self, codec: str, crf: int, preset: str) -> None:
        stream = self._stream
        stream.width, stream.height = self.padded_width, self.padded_height
        stream.pix_fmt = "yuv420p"
        stream.time_base = TIME_BASE
        stream.codec_context.time_base = TIME_BASE
        if codec in _CRF_CODECS:
            stream.options = {"crf": str(crf), "preset": preset}
        cc = stream.codec_context
        cc.colorspace = cc.color_primaries = cc.color_trc = 1  # BT.709, matching the conversion
        cc.color_range = 1  # limited ("MPEG") range

    def write(self, rgb: np.ndarray, pts_seconds: float | None = None) -> None:
        """Add a frame: (height, width, 3) uint8, shown at ``pts_seconds`` (default: next slot)."""
        if self._closed:
            raise ValueError(f"{self.path}: the writer is closed")
        if rgb.dtype != np.uint8 or rgb.shape != (self.height, self.width, 3):
            raise ValueError(
                f"expected a ({self.height}, {self.width}, 3) uint8 frame, got {rgb.shape} {rgb.dtype}"
            )
        if pts_seconds is None:
            step = round(1 / (self.rate * TIME_BASE))
            tick = 0 if self._last_tick is None else self._last_tick + step
        else:
            tick = round(Fraction(pts_seconds) / TIME_BASE)
        if self._last_tick is not None and tick <= self._last_tick:
            tick = self._last_tick + 1
        pad = ((0, self.padded_height - self.height), (0, self.padded_width - self.width), (0, 0))
        padded = np.pad(rgb, pad, mode="edge") if any(p[1] for p in pad) else rgb
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(padded), format="rgb24")
        frame = frame.reformat(format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG")
        frame.pts, frame.time_base = tick, TIME_BASE
        if self._held is not None:
            self._last_step = tick - self._last_tick
            self._encode(self._held, self._last_step)
        self._held, self._last_tick = frame, tick
        self.frames_written += 1

    def _encode(self, frame: av.VideoFrame | None, duration: int = 0) -> None:
        if frame is not None:
            frame.duration = duration
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except av.error.FFmpegError as err:
            raise VideoError(f"{self.path}: encoding failed ({err})") from None

    def close(self) -> None:
        """Finish the file and move it to ``path``. Raises VideoError if no frame was written."""
        if self._closed:
            return
        if self._held is None:
            self.abort()
            raise VideoError(f"{self.path}: no frames were written, so no video was saved")
        try:
            self._encode(self._held, self._last_step or round(1 / (self.rate * TIME_BASE)))
            self._encode(None)
            self._container.close()
        except BaseException:
            self.abort()
            raise
        self._closed = True
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Stop and delete the temporary file; ``path`` is left untouched."""
        if self._closed:
            return
        self._closed = True
        try:
            self._container.close()
        except av.error.FFmpegError:
            pass
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
