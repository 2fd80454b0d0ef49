"""Loss curve of the tiny preset on synthetic data: does training learn within minutes on a CPU?

Generates a small synthetic VIPSeg-layout data set (`axialvs synth`), trains stage 1 of the
`tiny` preset on it with the tiny recipe, optionally stage 2 on top, and prints the loss curve
(step, loss and its parts, seconds per step) and the validation numbers at the end.

    python benchmarks/train_curve.py --steps 400            # about 3-5 minutes on 2 CPU cores
    python benchmarks/train_curve.py --steps 400 --stage2-steps 100
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from axialvs_cli.data.synth import SynthConfig, generate
from axialvs_cli.training.config import build_config
from axialvs_cli.training.loop import train


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"


def _curve(history: list[dict], title: str) -> None:
    rows = [h for h in history if "loss" in h]
    keys = [k for k in ("class", "mask", "dice", "insdis", "semantic", "quality") if k in rows[0]]
    print(f"\n{title}")
    print(f"{'step':>6} {'loss':>8} " + " ".join(f"{k:>8}" for k in keys) + f" {'s/step':>7}")
    for h in rows:
        print(
            f"{h['step']:>6} {h['loss']:>8.3f} "
            + " ".join(f"{h[k]:>8.3f}" for k in keys)
            + f" {h['s_per_step']:>7.2f}"
        )
    for h in history:
        if "val" in h:
            print(
                f"validation at step {h['step']}: "
                + ", ".join(f"{k} {v:.3f}" for k, v in h["val"].items() if v is not None)
            )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--videos", type=int, default=12)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", default="144x256")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--stage2-steps", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--crop", default="129x225")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    work = args.out or Path(tempfile.mkdtemp(prefix="axialvs_curve_"))
    h, w = (int(v) for v in args.size.split("x"))
    data = work / "data"
    t0 = time.perf_counter()
    generate(
        data, SynthConfig(args.videos, args.frames, (h, w), 0, "vipseg", "train"), overwrite=True
    )
    generate(
        data,
        SynthConfig(max(2, args.videos // 4), args.frames, (h, w), 1, "vipseg", "val"),
        overwrite=True,
    )
    print(f"machine: {_machine()}")
    print(
        f"data: {args.videos} train videos x {args.frames} frames of {args.size} ({time.perf_counter() - t0:.1f} s)"
    )
    common = dict(
        batch_size=args.batch_size, crop=args.crop, log_every=args.log_every, workers=1,
        progress=False, overwrite=True, val=data, device="cpu",
    )  # fmt: skip
    cfg = build_config(
        data=data, out=work / "stage1", stage=1, fmt="vipseg", preset="tiny", init=None,
        overrides=dict(common, steps=args.steps, lr=args.lr, val_every=args.steps),
    )  # fmt: skip
    t0 = time.perf_counter()
    result = train(cfg)
    _curve(
        result.history,
        f"stage 1: tiny preset, {args.steps} steps, batch {args.batch_size}, crop {args.crop}, lr {args.lr} ({time.perf_counter() - t0:.0f} s)",
    )
    if args.stage2_steps:
        cfg2 = build_config(
            data=data, out=work / "stage2", stage=2, fmt="vipseg", preset="tiny", init=Path(result.checkpoint),
            overrides=dict(common, steps=args.stage2_steps, val_every=args.stage2_steps),
        )  # fmt: skip
        t0 = time.perf_counter()
        result2 = train(cfg2)
        _curve(
            result2.history,
            f"stage 2: {args.stage2_steps} steps, {cfg2.num_clips} clips ({time.perf_counter() - t0:.0f} s)",
        )
    print(f"\nrun folder: {work}")


if __name__ == "__main__":
    main()
