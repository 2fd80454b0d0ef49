"""Opening a file with PyAV and choosing its video stream."""

from __future__ import annotations

from pathlib import Path

import av
from av.stream import Disposition

from ..errors import VideoError

__all__ = ["FIX", "open_container", "pick_stream"]

FIX = "re-encode it, e.g. `ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4`"


def open_container(path: Path) -> av.container.InputContainer:
    """Open ``path`` with PyAV; VideoError for unreadable files and still images."""
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise VideoError(
            f"{path}: not a video file FFmpeg can read ({reason}); check that it is a complete "
            f"video (mp4, mkv, mov, webm, avi...) or {FIX}"
        ) from None
    fmt = container.format.name
    if fmt.endswith("_pipe") or fmt in ("image2", "image2pipe"):
        container.close()
        raise VideoError(
            f"{path}: this is a still image, not a video; to segment a sequence of frames, "
            "put them (JPEG/PNG, named in order) in a folder and pass the folder"
        )
    return container


def _describe(stream: av.VideoStream, number: int) -> str:
    cc = stream.codec_context
    rate = f" {float(stream.average_rate):.3g} fps" if stream.average_rate else ""
    cover = " (cover art)" if stream.disposition & Disposition.attached_pic else ""
    return f"{number}: {cc.name} {cc.width}x{cc.height}{rate}{cover}"


def pick_stream(
    container: av.container.InputContainer, path: Path, wanted: int | None
) -> tuple[int, av.VideoStream]:
    """(number among the video streams, stream): the wanted one, else the largest video stream
    that is not cover art (the first of equal ones)."""
    videos = list(container.streams.video)
    listing = "; ".join(_describe(s, i) for i, s in enumerate(videos))
    if wanted is not None:
        if 0 <= wanted < len(videos):
            return wanted, videos[wanted]
        found = f"its video streams are {listing}" if videos else "it has no video stream"
        raise VideoError(
            f"{path}: there is no video stream {wanted}; {found}. Pass --stream with one of these"
        )
    usable = [(i, s) for i, s in enumerate(videos) if not s.disposition & Disposition.attached_pic]
    if not usable:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "nothing"
        detail = f" (only cover art: {listing})" if videos else f" (it holds: {kinds})"
        raise VideoError(f"{path}: no video stream{detail}; pass a file that contains video")
    return max(usable, key=lambda item: item[1].codec_context.width * item[1].codec_context.height)
