"""Peak memory of `axialvs segment` / `axialvs refine` on a 3 s and a 30 s video, and speed.

Every measurement runs in a fresh process (peak resident memory = ``ru_maxrss``), on the
first 3 s and on all 30.5 s (901 frames, 480x270) of ``gradio_world_30s.mp4``, with both
runners; the ratio 30 s / 3 s shows whether memory grows with video length. Then the
frames per second of the near-online runner at 480p (the DAVIS ``blackswan`` MP4, 854x480,
or a generated 480p video when the test data is absent), model only and end to end.

The tiny preset with random weights is used unless ``--checkpoint`` is given; low thresholds
make the random network paint segments and instance masks, so the outputs are not empty.

    python benchmarks/segment_memory.py [--checkpoint CKPT] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(os.environ.get("AXIALVS_TEST_DATA", "/work/shared/data"))
LONG = DATA / "videos" / "gradio_world_30s.mp4"
P480 = DATA / "annotated" / "davis2016_blackswan" / "blackswan_derived_24fps.mp4"
LOW = {"thing_threshold": 0.0, "stuff_threshold": 0.0, "pixel_threshold": 0.02}


def tiny_checkpoint(folder: Path) -> Path:
    import torch

    from models.build import build_axialvs
    from models.config import get_preset
    from models.weights import save_checkpoint

    torch.manual_seed(0)
    cfg = get_preset("tiny")
    classes = [{"id": i, "name": f"c{i}", "isthing": i % 2} for i in range(cfg.num_classes)]
    return save_checkpoint(
        folder / "tiny.axialvs.pt", build_axialvs(cfg), cfg, {"classes": classes}
    )


def child(args: argparse.Namespace) -> None:
    """One measurement; prints a JSON line."""
    from axialvs_cli.inference.runner import SegmentOptions, segment_videos

    options = SegmentOptions(
        offline=args.offline, end=args.end, threads=args.threads, device="cpu", overwrite=True,
        **LOW,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        result = segment_videos([args.video], Path(tmp) / "out", args.checkpoint, options)
        elapsed = time.perf_counter() - started
    video = result.videos[0]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_mb": peak_mb, "frames": video["frames"], "seconds": elapsed,
                      "model_s": video["timing"]["model_s"]}))  # fmt: skip


def measure(checkpoint: Path, video: Path, offline: bool, end: float | None, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--child", "--checkpoint", str(checkpoint),
           "--video", str(video), "--threads", str(threads)]  # fmt: skip
    if offline:
        cmd.append("--offline")
    if end is not None:
        cmd += ["--end", str(end)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def make_480p(folder: Path) -> Path:
    import numpy as np

    from axialvs_cli.video import VideoWriter

    path = folder / "synthetic_480p.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(path, 24, 854, 480) as out:
        for _ in range(48):
            out.write(rng.integers(0, 256, (480, 854, 3), dtype=np.uint8))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--video", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--offline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--end", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if not LONG.is_file():
        sys.exit(f"{LONG} is not available; set AXIALVS_TEST_DATA to the test data folder")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
          f"{args.threads} threads; python {platform.python_version()}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.checkpoint or tiny_checkpoint(Path(tmp))
        print(f"model: {ckpt if args.checkpoint else 'tiny preset, random weights'}")
        print(f"video: {LONG.name} (480x270), first 3 s and all of it")
        for offline in (False, True):
            name = "refine (offline)" if offline else "segment (near-online)"
            short = measure(ckpt, LONG, offline, 3.0, args.threads)
            full = measure(ckpt, LONG, offline, None, args.threads)
            ratio = full["peak_mb"] / short["peak_mb"]
            print(f"{name}: peak {short['peak_mb']:.0f} MB for {short['frames']} frames, "
                  f"{full['peak_mb']:.0f} MB for {full['frames']} frames; ratio {ratio:.3f} "
                  f"({'ok' if ratio < 1.15 else 'TOO HIGH'}, limit 1.15); "
                  f"{full['frames'] / full['seconds']:.1f} frames/s")  # fmt: skip
        video = P480 if P480.is_file() else make_480p(Path(tmp))
        speed = measure(ckpt, video, False, None, args.threads)
        print(f"speed at 480p ({video.name}, 854x480, near-online, panoptic + instance): "
              f"{speed['frames'] / speed['seconds']:.1f} frames/s end to end, "
              f"{speed['frames'] / speed['model_s']:.1f} frames/s model only "
              f"({speed['frames']} frames)")  # fmt: skip


if __name__ == "__main__":
    main()
