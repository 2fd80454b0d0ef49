"""Small generated files for the fault tests and the fuzz harness."""

from __future__ import annotations

import sys
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from fuzz import _video_bytes as video_bytes  # noqa: E402


def motion_photo(path: Path, frames: int = 58, video=(24, 32), still=(48, 64)) -> Path:
    """A phone "motion photo": a short video track and a second, larger one-frame still track
    (the still comes second, as the phones write it)."""
    rng = np.random.default_rng(1)
    with av.open(str(path), "w") as out:
        streams = []
        for h, w in (video, still):
            s = out.add_stream("libx264", rate=30)
            s.height, s.width, s.pix_fmt = h, w, "yuv420p"
            streams.append(s)
        for i in range(frames):
            for s, count in zip(streams, (frames, 1), strict=True):
                if i >= count:
                    continue
                rgb = rng.integers(0, 256, (s.height, s.width, 3), dtype=np.uint8)
                for pkt in s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    out.mux(pkt)
        for s in streams:
            for pkt in s.encode():
                out.mux(pkt)
    return path


def small_video(path: Path, n: int = 6, size=(24, 32), codec: str = "libx264") -> Path:
    """`n` frames of moving blocks (the fuzz harness's seed video), as mp4, mkv or webm."""
    fmt = {".mkv": "matroska", ".webm": "webm"}.get(path.suffix.lower(), "mp4")
    path.write_bytes(video_bytes(fmt, codec, n, size))
    return path
