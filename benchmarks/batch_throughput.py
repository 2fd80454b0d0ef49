"""Throughput over a set of videos: one process with all threads vs torchrun processes.

Makes `--videos` H.264 videos of different lengths (cut from a real video of the test data when
present, else a synthetic moving pattern), then segments the whole set with the shipped default
model, panoptic + instance outputs, in one run of this script:

- 1 process x 2 threads: ``axialvs segment VIDEOS -o OUT --threads 2``
- 2 processes x 1 thread: ``torchrun --nproc-per-node 2 -m axialvs_cli segment VIDEOS -o OUT
  --threads 1`` (each rank takes a share of the videos balanced by frame count)

and prints videos/s and frames/s of each (wall time of the command, start-up included), their
ratio, and how many id-PNG pixels of the two runs agree.

    python benchmarks/batch_throughput.py [--videos 8] [--size 360x640] [--out docs/benchmarks]

Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from segment_speed import SOURCE, make_video  # same folder: run as a script


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def agreement(a: Path, b: Path) -> float:
    """Fraction of equal pixels of the id PNGs of two output folders (the thread counts
    differ, so float sums may round differently at a few boundary pixels)."""
    from axialvs_cli.formats.palette import read_id_png

    equal = total = 0
    files = sorted(p.relative_to(a / "pan_pred") for p in (a / "pan_pred").rglob("*.png"))
    if files != sorted(p.relative_to(b / "pan_pred") for p in (b / "pan_pred").rglob("*.png")):
        return 0.0
    for rel in files:
        x, y = read_id_png(a / "pan_pred" / rel), read_id_png(b / "pan_pred" / rel)
        equal += int((x == y).sum())
        total += x.size
    return equal / max(total, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--size", default="360x640", help="HxW of the videos")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks"))
    args = parser.parse_args()
    h, w = (int(x) for x in args.size.split("x"))
    lengths = [12 + 12 * (k % 4) for k in range(args.videos)]  # 12, 24, 36, 48 frames, ...
    frames = sum(lengths)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        videos = [
            str(make_video(work / f"v{k}.mp4", (h, w), n, 5 * k)) for k, n in enumerate(lengths)
        ]
        one = [sys.executable, "-m", "axialvs_cli", "segment", *videos, "-o", str(work / "one"),
               "--threads", "2"]  # fmt: skip
        two = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1",
               "--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port",
               str(free_port()), "-m", "axialvs_cli", "segment", *videos, "-o",
               str(work / "two"), "--threads", "1"]  # fmt: skip
        t_one, t_two = timed(one), timed(two)
        agree = agreement(work / "one", work / "two")
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    source = SOURCE.name if SOURCE.is_file() else "a synthetic pattern"
    rows = [
        f"| 1 process x 2 threads | {args.videos / t_one:.3f} | {frames / t_one:.1f} | {t_one:.1f} |",
        f"| 2 processes x 1 thread (torchrun) | {args.videos / t_two:.3f} | {frames / t_two:.1f} "
        f"| {t_two:.1f} |",
    ]
    text = "\n".join(
        [
            f"# Batch throughput ({args.videos} H.264 videos of {h}x{w} from {source}, "
            f"{frames} frames in all, shipped default model, panoptic + instance; {machine})",
            "",
            "| run | videos/s | frames/s | wall (s) |",
            "|---|---:|---:|---:|",
            *rows,
            "",
            f"2 processes / 1 process: {t_one / t_two:.2f}x. Equal id-PNG pixels of the two "
            f"runs: {100 * agree:.4f} % (different thread counts round float sums differently; "
            "at equal thread counts a sharded run is byte-identical, tests/test_scale_out.py).",
            "",
            "Made by `python benchmarks/batch_throughput.py`.",
            "",
        ]
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "batch_throughput.md").write_text(text, encoding="utf-8")
    print(text)
    if agree < 0.999:
        sys.exit("the two runs disagree on more than 0.1 % of the pixels")


if __name__ == "__main__":
    main()
