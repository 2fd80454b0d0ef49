"""Speed of `axialvs evaluate --dataset vipseg` on a generated VIPSeg-sized set.

Writes a synthetic ground truth (VIPSeg_720P layout, 124 classes) and a perturbed submission
(shifted boundaries, jittered boxes, an id switch, a miss, a false positive, unlabelled strips)
into a temporary folder, then times VPQ and STQ, in one process and with worker processes.

    python benchmarks/evaluate.py             # 50 videos x 30 frames x 720x1280
    python benchmarks/evaluate.py --quick     # 4 videos x 8 frames x 180x320
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from axialvs_cli.evaluation.api import evaluate_vipseg
from axialvs_cli.formats.vipseg import PanopticWriter

THING_IDS = (
    [2, 4, 8, 10, 41, 43, 44, 46, 47, *range(48, 53), 54, 55, 56, *range(60, 66), 72, 74]
    + [*range(76, 80), *range(82, 93), 95, 96, 97, *range(99, 103), *range(106, 110)]
    + [*range(114, 119), 122, 123]
)
CATEGORIES = [{"id": c, "name": f"class_{c}", "isthing": int(c in THING_IDS)} for c in range(124)]
STUFF_IDS = [c for c in range(124) if c not in THING_IDS]


def _boxes(rng: np.random.Generator, count: int, h: int, w: int, frames: int) -> np.ndarray:
    """[count, frames, 4] boxes (y0, x0, y1, x1) moving linearly."""
    size = rng.uniform(0.1, 0.35, (count, 2)) * (h, w)
    start = rng.uniform(0, 1, (count, 2)) * ((h, w) - size)
    speed = rng.uniform(-0.01, 0.01, (count, 2)) * (h, w)
    t = np.arange(frames)[None, :, None]
    y0x0 = np.clip(start[:, None] + speed[:, None] * t, 0, (h, w) - size[:, None])
    return np.concatenate([y0x0, y0x0 + size[:, None]], axis=2).round().astype(int)


def _paint(h, w, bands, band_ids, boxes, box_ids, void_rows) -> np.ndarray:
    ids = np.zeros((h, w), dtype=np.int64)
    for (y0, y1), sid in zip(bands, band_ids, strict=True):
        ids[y0:y1] = sid
    for (y0, x0, y1, x1), sid in zip(boxes, box_ids, strict=True):
        if sid:
            ids[y0:y1, x0:x1] = sid
    ids[void_rows[0] : void_rows[1]] = 0
    return ids


def make_dataset(root: Path, videos: int, frames: int, h: int, w: int, seed: int = 0) -> None:
    """Write ``root/gt`` (VIPSeg_720P layout) and ``root/pred`` (submission layout)."""
    rng = np.random.default_rng(seed)
    with (
        PanopticWriter(root / "gt", "ground_truth", CATEGORIES) as gt_out,
        PanopticWriter(root / "pred", "submission") as pred_out,
    ):
        gt_out.compress_level = pred_out.compress_level = 1
        for v in range(videos):
            vid = f"{v:04d}_synthetic"
            stuff = rng.choice(STUFF_IDS, size=int(rng.integers(3, 6)), replace=False)
            things = rng.choice(THING_IDS, size=int(rng.integers(3, 9)))
            ids = rng.choice(np.arange(1, 2**24), size=len(stuff) + len(things) + 1, replace=False)
            stuff_ids, thing_ids, extra_id = ids[: len(stuff)], ids[len(stuff) : -1], int(ids[-1])
            cats = {int(i): int(c) for i, c in zip(ids[:-1], [*stuff, *things], strict=True)}
            boxes = _boxes(rng, len(things), h, w, frames)
            edges = np.sort(rng.uniform(0, 1, len(stuff) - 1))
            for t in range(frames):
                cuts = np.concatenate([[0], (edges + 0.02 * np.sin(t / 5)) * h, [h]]).astype(int)
                bands = list(zip(cuts[:-1], cuts[1:], strict=True))
                void = (int(0.95 * h), h)
                gt = _paint(h, w, bands, stuff_ids, boxes[:, t], thing_ids, void)
                gt_out.add_frame(vid, f"{t:05d}.png", gt, cats)
                # prediction: shifted bands, jittered boxes, an id switch, a miss, an FP
                shift = int(rng.integers(-3, 4))
                p_bands = [(max(a + shift, 0), min(b + shift, h)) for a, b in bands]
                p_boxes = boxes[:, t] + rng.integers(-4, 5, boxes[:, t].shape)
                p_ids = thing_ids.copy()
                if t >= frames // 2:
                    p_ids[0] = extra_id  # id switch halfway
                p_ids[-1] = 0  # a missed object
                pred = _paint(h, w, p_bands, stuff_ids, np.clip(p_boxes, 0, None), p_ids, (0, 0))
                pred[: h // 50] = 0  # an unlabelled strip
                fp = (h // 3, w // 3, h // 3 + h // 10, w // 3 + w // 10)
                pred[fp[0] : fp[2], fp[1] : fp[3]] = extra_id + 1  # a false positive
                p_cats = {**cats, extra_id: cats[int(thing_ids[0])], extra_id + 1: int(things[0])}
                pred_out.add_frame(vid, f"{t:05d}.png", pred, p_cats)


def _time(label: str, videos: int, **kwargs) -> None:
    start = time.perf_counter()
    result = evaluate_vipseg(**kwargs, warn=lambda m: None)
    sec = time.perf_counter() - start
    shown = {k: round(result[k], 4) for k in ("VPQ", "STQ") if result.get(k) is not None}
    print(f"{label:<34} {sec:7.2f} s   {sec / videos:6.3f} s/video   {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=50)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true", help="4 videos x 8 frames x 180x320")
    args = parser.parse_args()
    if args.quick:
        args.videos, args.frames, args.height, args.width = 4, 8, 180, 320
    with tempfile.TemporaryDirectory(prefix="axialvs_bench_") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        make_dataset(root, args.videos, args.frames, args.height, args.width)
        print(
            f"generated {args.videos} videos x {args.frames} frames x {args.height}x{args.width} "
            f"in {time.perf_counter() - start:.1f} s; {os.cpu_count()} CPU cores"
        )
        common = {"gt": root / "gt", "pred_dir": root / "pred", "windows": (1, 2, 4, 6, 8)}
        _time("VPQ only, 1 process", args.videos, metrics=("vpq",), **common)
        _time("STQ only, 1 process", args.videos, metrics=("stq",), **common)
        _time("VPQ + STQ, 1 process", args.videos, **common)
        if args.workers > 1:
            label = f"VPQ + STQ, {args.workers} workers"
            _time(label, args.videos, workers=args.workers, **common)


if __name__ == "__main__":
    main()
