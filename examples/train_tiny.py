"""Train a tiny model on synthetic data from Python (what `axialvs train` does).

Generates a small synthetic VIPSeg-format data set, trains stage 1 (clip segmenter +
within-clip tracking, the near-online model) and optionally stage 2 (the cross-clip module,
the offline model) of the `tiny` preset, and prints the losses. A real model needs real data:
the same calls with `data=` a VIPSeg_720P folder and `preset="r50"` (see README.md, "Train").

    python examples/train_tiny.py                          # 100 steps, about a minute on a CPU
    python examples/train_tiny.py --steps 500 --stage2-steps 100 --out runs/example
    python examples/train_tiny.py --set within_clip.enabled=false   # the clip-level baseline
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from axialvs_cli.data.synth import SynthConfig, generate
from axialvs_cli.training import build_config, train


def train_tiny(
    out: Path,
    steps: int = 100,
    stage2_steps: int = 0,
    videos: int = 4,
    frames: int = 12,
    overrides: tuple[str, ...] = (),
    crop: str | None = None,
) -> Path:
    """Train under `out` (data in `out/data`); returns the last model checkpoint."""
    data = out / "data"
    if not (data / "panoptic_gt_VIPSeg_train.json").exists():
        generate(data, SynthConfig(videos, frames, (144, 256), seed=0, split="train"))
    common = dict(threads=1, workers=0, progress=False, overwrite=True, crop=crop)
    cfg = build_config(
        data=data, out=out / "stage1", stage=1, fmt="vipseg", preset="tiny", init=None,
        overrides=dict(common, steps=steps, log_every=max(1, steps // 5),
                       model_overrides=list(overrides) or None),
    )  # fmt: skip
    result = train(cfg)
    for record in result.history:
        if "loss" in record:
            print(f"stage 1 step {record['step']:5d}  loss {record['loss']:.3f}  "
                  f"quality {record['quality']:.3f}")  # fmt: skip
    checkpoint = Path(str(result.checkpoint))
    if stage2_steps:
        cfg = build_config(
            data=data, out=out / "stage2", stage=2, fmt="vipseg", preset="tiny",
            init=checkpoint, overrides=dict(common, steps=stage2_steps, clips=2,
                                            log_every=max(1, stage2_steps // 5)),
        )  # fmt: skip
        result = train(cfg)
        for record in result.history:
            if "loss" in record:
                print(f"stage 2 step {record['step']:5d}  loss {record['loss']:.3f}")
        checkpoint = Path(str(result.checkpoint))
    return checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--stage2-steps", type=int, default=0)
    parser.add_argument("--videos", type=int, default=4, help="synthetic training videos")
    parser.add_argument("--frames", type=int, default=12, help="frames per video")
    parser.add_argument("--crop", default=None, help="training crop HxW (default 129x225)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="KEY=VALUE change of the preset (repeatable)")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        checkpoint = train_tiny(
            out, args.steps, args.stage2_steps, args.videos, args.frames,
            tuple(args.overrides), args.crop,
        )  # fmt: skip
        print(f"weights: {checkpoint}" + ("" if args.out else " (temporary; pass --out to keep)"))


if __name__ == "__main__":
    main()
