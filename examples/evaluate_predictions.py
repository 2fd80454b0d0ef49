"""Segment the synthetic benchmark's validation split and score it (VPQ, STQ) from Python.

This is the check behind the shipped `synthetic` model's numbers in docs/RESULTS.md: it regenerates the
validation split exactly (`axialvs synth --videos 10 --frames 24 --size 144x256 --seed 1
--split val`), segments every frame folder with the model (near-online, or offline with
--offline), and evaluates the submission with VIPSeg's windows (1, 2, 4, 6, 8) and the paper's
(1, 2, 4, 6).

    python examples/evaluate_predictions.py                      # the synthetic model, ~1 min
    python examples/evaluate_predictions.py --offline
    python examples/evaluate_predictions.py --checkpoint runs/x/model_final.pt --work /tmp/ev
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from axialvs_cli.data.synth import SynthConfig, generate
from axialvs_cli.evaluation.api import AXIALVS_WINDOWS, VIPSEG_WINDOWS, evaluate_vipseg
from axialvs_cli.inference.device import load_model
from axialvs_cli.inference.runner import SegmentOptions, segment_videos


def evaluate(
    work: Path,
    checkpoint: str | Path = "synthetic",
    offline: bool = False,
    videos: int = 10,
    frames: int = 24,
    threads: int = 0,
) -> dict[str, float | None]:
    """Generate the validation split under `work`, segment it, return the scores."""
    data = work / "data"
    if not (data / "panoptic_gt_VIPSeg_val.json").exists():
        generate(data, SynthConfig(videos, frames, (144, 256), seed=1, split="val"))
    names = (data / "val.txt").read_text().split()
    inputs = [data / "images" / name for name in names]  # frame folders: GT frame names kept
    model = load_model(checkpoint, device="auto", threads=threads)
    options = SegmentOptions(offline=offline, task="panoptic", threads=threads, overwrite=True)
    pred = work / ("pred_offline" if offline else "pred")
    segment_videos(inputs, pred, options=options, model=model).raise_for_errors()
    vipseg = evaluate_vipseg(data, pred, windows=VIPSEG_WINDOWS)
    paper = evaluate_vipseg(data, pred, windows=AXIALVS_WINDOWS, metrics=("vpq",))
    return {
        "VPQ": vipseg["VPQ"],
        "VPQ (1,2,4,6)": paper["VPQ"],
        "VPQ_th": vipseg["VPQ_th"],
        "VPQ_st": vipseg["VPQ_st"],
        "STQ": vipseg["STQ"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoint", default="synthetic", help="a file or a shipped name (default: synthetic)"
    )
    parser.add_argument("--offline", action="store_true", help="cross-clip refinement")
    parser.add_argument("--work", type=Path, default=None, help="keep data and predictions here")
    parser.add_argument("--videos", type=int, default=10, help="10 = the benchmark's val split")
    parser.add_argument("--frames", type=int, default=24, help="24 = the benchmark's val split")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        scores = evaluate(
            work, args.checkpoint, args.offline, args.videos, args.frames, args.threads
        )
    mode = "offline" if args.offline else "near-online"
    print(f"{mode}, {args.videos} videos x {args.frames} frames:")
    for key, value in scores.items():
        scale = 100.0 if key == "STQ" else 1.0
        print(f"  {key:14s} {'n/a' if value is None else f'{value * scale:.1f}'}")


if __name__ == "__main__":
    main()
