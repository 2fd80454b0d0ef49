"""A folder of JPEG/PNG frames as a video: natural name order, one size, a chosen frame rate."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..errors import VideoError
from .source import DecodeFailure, RawFrame, VideoSource

__all__ = ["FRAME_SUFFIXES", "FolderVideoSource", "list_frames", "natural_key", "open_folder"]

FRAME_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
DEFAULT_FOLDER_FPS = 30.0
MAX_FRAME_PIXELS = 2**28  # 16K x 16K
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})  # EXIF orientations that turn by 90 degrees


def natural_key(name: str) -> tuple:
    """Sort key that orders digits by value: ``2.png`` before ``10.png``."""
    parts = re.split(r"(\d+)", name)
    # re.split with a group alternates text and digits, so equal positions hold equal types.
    key = tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts))
    return key, name


def list_frames(folder: Path) -> list[Path]:
    """The JPEG/PNG files of a folder in natural order (hidden files such as ``._x.jpg`` skipped)."""
    files = [
        p
        for p in folder.iterdir()
        if p.suffix.lower() in FRAME_SUFFIXES and not p.name.startswith(".") and p.is_file()
    ]
    return sorted(files, key=lambda p: natural_key(p.name))


def _displayed_size(path: Path) -> tuple[int, int]:
    """(width, height) after EXIF orientation, from the header only."""
    try:
        with Image.open(path) as img:
            width, height = img.size
            orientation = img.getexif().get(0x0112, 1)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise VideoError(
            f"{path}: this frame cannot be read as an image ({err}); replace or remove it"
        ) from None
    if width * height > MAX_FRAME_PIXELS:  # a decompression bomb: refuse before decoding
        raise VideoError(
            f"{path}: this frame claims {width}x{height} pixels, more than any video frame "
            f"(limit {MAX_FRAME_PIXELS}); replace or remove it"
        )
    return (height, width) if orientation in _SWAPPING_ORIENTATIONS else (width, height)


def _load(path: Path, size: tuple[int, int]) -> np.ndarray:
    try:
        with Image.open(path) as img:
            rgb = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise DecodeFailure(f"frame {path.name} cannot be decoded ({err})") from None
    if (rgb.shape[1], rgb.shape[0]) != size:
        raise DecodeFailure(f"frame {path.name} changed size while reading")
    return np.ascontiguousarray(rgb)


class FolderVideoSource(VideoSource):
    """Frames of a folder (see `VideoSource`); timestamps are position / fps."""

    def __init__(self, *, files: list[Path], **meta) -> None:
        super().__init__(**meta)
        self._files = files

    def _raw_frames(self) -> Iterator[RawFrame]:
        size = (self.width, self.height)
        for position, path in enumerate(self._files):
            pts = position / self.fps
            if self.start is not None and pts < self.start - 1e-6:
                continue
            yield pts, path.stem, partial(_load, path, size)


def open_folder(
    folder: Path,
    fps: float | None,
    start: float | None,
    end: float | None,
    max_frames: int | None,
) -> FolderVideoSource:
    """Open a frame folder after checking that every frame has the first one's size."""
    files = list_frames(folder)
    if not files:
        raise VideoError(
            f"{folder}: no JPEG or PNG frames in this folder (looked for "
            f"{', '.join(sorted(FRAME_SUFFIXES))}); put the frames there or pass a video file"
        )
    width, height = _displayed_size(files[0])
    for path in files[1:]:
        size = _displayed_size(path)
        if size != (width, height):
            raise VideoError(
                f"{folder}: frame {path.name} is {size[0]}x{size[1]} but {files[0].name} is "
                f"{width}x{height}; every frame of a video needs one size (resize or remove "
                f"{path.name})"
            )
    suffixes = {p.suffix.lower() for p in files}
    codecs = sorted({"png" if s == ".png" else "jpeg" for s in suffixes})
    return FolderVideoSource(
        files=files,
        path=folder,
        name=folder.resolve().name or str(folder),
        width=width,
        height=height,
        coded_width=width,
        coded_height=height,
        rotation=0,
        mirrored=False,
        fps=fps or DEFAULT_FOLDER_FPS,
        num_frames_hint=len(files),
        time_base=None,
        codec="+".join(codecs),
        stream_index=None,
        is_folder=True,
        start=start,
        end=end,
        max_frames=max_frames,
    )
