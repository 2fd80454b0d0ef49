"""Small generated files for the fault tests and the fuzz harness."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


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
    """`n` frames of moving blocks, in any container PyAV writes (mp4, mkv, webm...)."""
    h, w = size
    with av.open(str(path), "w") as out:
        s = out.add_stream(codec, rate=10)
        s.height, s.width, s.pix_fmt = h, w, "yuv420p"
        for i in range(n):
            rgb = np.full((h, w, 3), 30, np.uint8)
            rgb[:, (3 * i) % w : (3 * i) % w + 8] = (200, 40, 40)
            for pkt in s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    return path
