"""Opening a file with PyAV and choosing its video stream."""

from __future__ import annotations

from pathlib import Path

import av
from av.stream import Disposition

from ..errors import VideoError

__all__ = ["FIX", "describe_stream", "open_container", "pick_stream"]

FIX = "re-encode it, e.g. `ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4`"


def open_container(path: Path) -> av.container.InputContainer:
    """Open ``path`` with PyAV; VideoError for unreadable files and still images."""
    try:
        network = "://" in str(path)  # a URLInput: give up on a silent server
        options = {"timeout": 30.0} if network else {}
        container = av.open(str(path), metadata_errors="ignore", **options)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise VideoError(
            f"{path}: not a video FFmpeg can read ({reason}); check the URL and that the server "
            "answers"
            if network
            else f"{path}: not a video file FFmpeg can read ({reason}); check that it is a "
            f"complete video (mp4, mkv, mov, webm, avi...) or {FIX}"
        ) from None
    fmt = container.format.name
    if fmt.endswith("_pipe") or fmt in ("image2", "image2pipe"):
        container.close()
        raise VideoError(
            f"{path}: this is a still image, not a video; to segment a sequence of frames, "
            "put them (JPEG/PNG, named in order) in a folder and pass the folder"
        )
    return container


def _frames(stream: av.VideoStream) -> int:
    return int(stream.frames or 0)


def _duration(stream: av.VideoStream) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return 0.0


def describe_stream(stream: av.VideoStream, number: int) -> str:
    """``0: h264 1024x768 30 fps, 58 frames`` (for messages and summaries)."""
    cc = stream.codec_context
    if cc is None:  # FFmpeg has no decoder for it (or the header is damaged)
        return f"{number}: unknown codec"
    rate = f" {float(stream.average_rate):.3g} fps" if stream.average_rate else ""
    frames = f", {_frames(stream)} frames" if _frames(stream) else ""
    cover = " (cover art)" if stream.disposition & Disposition.attached_pic else ""
    return f"{number}: {cc.name} {cc.width}x{cc.height}{rate}{frames}{cover}"


def _rank(stream: av.VideoStream) -> tuple:
    """Main-video rank: default disposition, then most frames, then longest duration; the
    picture size only breaks ties (a phone "motion photo" holds a short video and a larger
    one-frame still, and the video is what is wanted)."""
    default = bool(stream.disposition & Disposition.default)
    cc = stream.codec_context
    return (default, _frames(stream), _duration(stream), cc.width * cc.height)


def pick_stream(
    container: av.container.InputContainer, path: Path, wanted: int | None
) -> tuple[int, av.VideoStream]:
    """(number among the video streams, stream): the wanted one, else the main video: a stream
    that is not cover art with the default disposition, the most frames, the longest duration,
    then the largest picture (the first of equal ones)."""
    videos = list(container.streams.video)
    listing = "; ".join(describe_stream(s, i) for i, s in enumerate(videos))
    if wanted is not None:
        if 0 <= wanted < len(videos) and videos[wanted].codec_context is None:
            raise VideoError(f"{path}: video stream {wanted} cannot be decoded ({listing}); {FIX}")
        if 0 <= wanted < len(videos):
            return wanted, videos[wanted]
        found = f"its video streams are {listing}" if videos else "it has no video stream"
        raise VideoError(
            f"{path}: there is no video stream {wanted}; {found}. Pass --stream with one of these"
        )
    usable = [
        (i, s)
        for i, s in enumerate(videos)
        if s.codec_context is not None and not s.disposition & Disposition.attached_pic
    ]
    if not usable:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "nothing"
        detail = f" (it holds: {kinds})"
        if videos and all(s.disposition & Disposition.attached_pic for s in videos):
            detail = f" (only cover art: {listing})"
        elif videos:
            detail = f" FFmpeg can decode (found: {listing})"
        raise VideoError(
            f"{path}: no video stream{detail}; pass a file that contains video, or {FIX}"
        )
    best = max(_rank(s) for _, s in usable)
    return next(item for item in usable if _rank(item[1]) == best)
