"""Soak test: a generated two-hour video through `segment`; resident memory must stay flat.

    python benchmarks/soak.py                       # 2 h at 2 fps, 48x64 (14,400 frames)
    python benchmarks/soak.py --hours 0.1 --fps 10  # a quick look

The video is encoded once (H.264, moving blocks, a scene change every minute) into a temporary
folder. `segment_videos` runs near-online (and with --offline, two passes) with panoptic and
instance outputs; the resident set size (VmRSS) is sampled after every clip. Printed: frames/s,
the RSS at 5 %, 50 % and 95 % of the run and its maximum, and the growth from the 5 % sample
to the end as a ratio. A leak of one small tensor per clip shows up as a ratio well above 1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from axialvs_cli.inference.runner import SegmentOptions, segment_videos  # noqa: E402


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_video(path: Path, frames: int, fps: int, height: int, width: int) -> None:
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        stream.height, stream.width, stream.pix_fmt = height, width, "yuv420p"
        background = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        for i in range(frames):
            if i % (60 * fps) == 0:  # a scene change every minute
                background = rng.integers(0, 256, (height, width, 3), dtype=np.uint8) // 2
            rgb = background.copy()
            x = (2 * i) % width
            rgb[height // 4 : height // 2, x : x + width // 4] = (230, 60, 40)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--fps", type=int, default=2)
    parser.add_argument("--size", default="48x64", help="HxW")
    parser.add_argument("--offline", action="store_true")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    height, width = map(int, args.size.split("x"))
    frames = round(args.hours * 3600 * args.fps)
    with tempfile.TemporaryDirectory(prefix="axialvs-soak-") as tmp_name:
        tmp = Path(tmp_name)
        video = tmp / "soak.mp4"
        t0 = time.perf_counter()
        make_video(video, frames, args.fps, height, width)
        print(f"encoded {frames} frames ({args.hours} h at {args.fps} fps, {width}x{height}) "
              f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip
        samples: list[tuple[int, float]] = []

        def progress(update) -> None:
            samples.append((update.done, rss_mib()))

        options = SegmentOptions(offline=args.offline, threads=args.threads)
        t0 = time.perf_counter()
        result = segment_videos([video], tmp / "out", options=options, progress=progress)
        elapsed = time.perf_counter() - t0
    done = result.videos[0]["frames"]
    rss = [r for _, r in samples]

    def at(fraction: float) -> float:
        return rss[min(len(rss) - 1, int(fraction * len(rss)))]

    mode = "offline" if args.offline else "near-online"
    print(f"{mode}: {done} frames in {elapsed:.1f} s ({done / elapsed:.1f} frames/s)")
    print(f"RSS MiB at 5 %: {at(0.05):.1f}, 50 %: {at(0.5):.1f}, 95 %: {at(0.95):.1f}, "
          f"end: {rss[-1]:.1f}, max: {max(rss):.1f}")  # fmt: skip
    print(f"growth end / 5 %: {rss[-1] / at(0.05):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
