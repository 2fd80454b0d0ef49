"""Entry points for inputs: `open_video` (file or frame folder) and `expand_inputs`."""

from __future__ import annotations

import glob
import re
from collections.abc import Iterable
from pathlib import Path

from ..errors import InputError, VideoError
from .folder import list_frames, natural_key, open_folder
from .reader import open_video_file
from .source import VideoSource

__all__ = ["VIDEO_SUFFIXES", "URLInput", "expand_inputs", "is_url", "open_video"]

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts"}
    | {".wmv", ".flv", ".3gp", ".ogv", ".gif"}
)


def _check_options(
    start: float | None, end: float | None, max_frames: int | None, threads: int
) -> None:
    if start is not None and start < 0:
        raise InputError(f"start must be >= 0 seconds, got {start}")
    if end is not None and end <= (start or 0.0):
        raise InputError(f"end ({end} s) must be after start ({start or 0.0} s)")
    if max_frames is not None and max_frames < 1:
        raise InputError(f"max_frames must be at least 1, got {max_frames}")
    if threads < 0:
        raise InputError(f"threads must be >= 0 (0 = automatic), got {threads}")


def open_video(
    path: str | Path,
    stream: int | None = None,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
    threads: int = 0,
    folder_fps: float | None = None,
    stride: int = 1,
) -> VideoSource:
    """Open a video file or a folder of JPEG/PNG frames for streaming.

    Args:
        path: a video file (any container/codec FFmpeg decodes) or a folder of frames
            (natural name order: ``2.png`` before ``10.png``).
        stream: which video stream, counted among the file's video streams from 0. Default:
            the largest one that is not cover art. Ignored for folders.
        start: skip frames whose timestamp is before this (seconds on the stream's clock; the
            decoder seeks to the keyframe before it).
        end: stop before the first frame whose timestamp is at or after this.
        max_frames: stop after this many frames.
        threads: decoder threads (0 = let FFmpeg choose).
        folder_fps: frame rate of a folder (default 30); ignored for video files.
        stride: keep every stride-th frame (after the start cut); kept frames keep their
            timestamps and, for videos, names by their position among all frames.

    Returns:
        A `VideoSource`; use it as a context manager and iterate it for `Frame` objects.

    Raises:
        VideoError: missing path, not a video, no video stream, no decodable frame, empty
            folder or frames of different sizes.
        InputError: an invalid option value.
    """
    path = path if isinstance(path, URLInput) else _url(path) if is_url(path) else Path(path)
    _check_options(start, end, max_frames, threads)
    if stream is not None and stream < 0:
        raise InputError(f"stream must be >= 0 (the first video stream is 0), got {stream}")
    if folder_fps is not None and folder_fps <= 0:
        raise InputError(f"the frame rate of a folder must be > 0, got {folder_fps}")
    if not path.exists():
        raise VideoError(f"{path}: no such file or folder; check the path")
    if stride < 1:
        raise InputError(f"the stride must be >= 1 (1 keeps every frame), got {stride}")
    if path.is_dir():
        source = open_folder(path, folder_fps, start, end, max_frames)
    else:
        source = open_video_file(path, stream, start, end, max_frames, threads)
    source.stride = stride
    return source


def _folder_videos(folder: Path) -> list[Path]:
    videos = [
        p
        for p in folder.iterdir()
        if p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith(".") and p.is_file()
    ]
    return sorted(videos, key=lambda p: natural_key(p.name))


_GLOB = re.compile(r"[*?\[]")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
NETWORK_SCHEMES = frozenset(
    {"http", "https", "rtsp", "rtsps", "rtmp", "rtmps", "udp", "tcp", "srt"}
)


class URLInput(str):
    """A network source FFmpeg opens (http(s) files and HLS playlists, rtsp, rtmp, udp...),
    with the few `Path` attributes the runners use: `name` / `stem` from the URL's last path
    part (``stream`` when it has none)."""

    @property
    def stem(self) -> str:
        from urllib.parse import urlparse

        last = Path(urlparse(str(self)).path).stem
        return last or "stream"

    @property
    def name(self) -> str:
        return self.stem

    def is_dir(self) -> bool:
        return False

    def is_file(self) -> bool:
        return False

    def exists(self) -> bool:
        return True  # only opening it tells

    def resolve(self) -> URLInput:
        return self


def is_url(value: object) -> bool:
    return isinstance(value, URLInput) or (isinstance(value, str) and bool(_URL.match(value)))


def _url(entry: str) -> URLInput:
    scheme = entry.split("://", 1)[0].lower()
    if scheme not in NETWORK_SCHEMES:
        raise InputError(
            f"{entry}: {scheme}:// sources are not read; use http(s), rtsp, rtmp, udp, tcp or "
            "srt, or a local file"
        )
    return URLInput(entry)


def _list_file(entry: str) -> list[str]:
    """The inputs of ``@list.txt``: one a line; blank lines and lines starting with # are
    skipped; relative paths are relative to the list's folder."""
    listing = Path(entry[1:])
    try:
        lines = listing.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        raise InputError(
            f"input list {listing}: cannot be read ({reason}); check the path"
        ) from None
    out = []
    for line in lines:
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        if _URL.match(item) or Path(item).is_absolute():
            out.append(item)
        else:
            out.append(str(listing.parent / item))
    return out


def _expand_patterns(paths: Iterable[str | Path]) -> list[str | URLInput]:
    """``@list.txt`` entries and glob patterns (``*``, ``?``, ``[...]``, ``**``) that do not
    name an existing path, in the given order; patterns expand in natural name order."""
    out: list[str | URLInput] = []
    for raw in paths:
        entry = str(raw)
        if entry.startswith("@") and not Path(entry).exists():
            for item in _list_file(entry):
                out.extend(_expand_patterns([item]))
            continue
        if _URL.match(entry):
            out.append(_url(entry))
            continue
        if _GLOB.search(entry) and not Path(entry).exists():
            matches = sorted(glob.glob(entry, recursive=True), key=natural_key)
            if not matches:
                raise InputError(f"{entry}: the pattern matches no file or folder")
            out.extend(matches)
            continue
        out.append(entry)
    return out


def expand_inputs(paths: Iterable[str | Path]) -> list[Path | URLInput]:
    """Turn command-line inputs into the list of videos to process, in order, once each.

    A file stays as it is (opening it tells whether it is a video). A folder that holds JPEG/PNG
    frames is one video; a folder without frames stands for the video files inside it (natural
    order, not recursive). Glob patterns (quoted, so that the shell leaves them: ``"clips/**/
    *.mp4"``) and ``@list.txt`` (one input a line) expand to what they name; URLs of network
    sources (http(s), HLS, rtsp...) stay as `URLInput`.

    Raises:
        InputError: one message naming every missing path, or a folder with neither frames nor
            videos, a pattern that matches nothing, an unreadable list, or no input at all.
    """
    given = [p if isinstance(p, URLInput) else Path(p) for p in _expand_patterns(paths)]
    if not given:
        raise InputError("no input given; pass one or more video files or frame folders")
    missing = [str(p) for p in given if not p.exists()]
    if missing:
        raise InputError(
            f"input not found: {', '.join(missing)}; check the path"
            + ("s" if len(missing) > 1 else "")
        )
    out: list[Path | URLInput] = []
    seen: set[Path | URLInput] = set()
    for path in given:
        items = [path]
        if path.is_dir() and not list_frames(path):
            items = _folder_videos(path)
            if not items:
                raise InputError(
                    f"{path}: this folder holds neither JPEG/PNG frames nor video files "
                    f"({', '.join(sorted(VIDEO_SUFFIXES))}); pass a video or a frame folder"
                )
        for item in items:
            key = item.resolve()
            if key not in seen:
                seen.add(key)
                out.append(item)
    return out
