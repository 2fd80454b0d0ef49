"""CamVid test scores of a checkpoint: class IoU, mIoU (11 classes, void ignored) at 480x360.

Segments the CamVid test frames (SegNet tutorial layout: CamVid/test, CamVid/testannot) as one
frame folder with `axialvs segment --task panoptic`, turns every panoptic segment into its
class, and accumulates a confusion matrix against the annotations (label 11 = void, ignored).

    python benchmarks/camvid_eval.py --data /path/CamVid --checkpoint model.pt [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from axialvs_cli.inference.runner import SegmentOptions, segment_videos

NAMES = ["Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car",
         "Pedestrian", "Bicyclist"]  # fmt: skip
VOID = 11


def confusion(data: Path, out: Path) -> tuple[np.ndarray, np.ndarray]:
    """(confusion matrix [true, predicted], unlabelled predictions per true class)."""
    pred = json.loads((out / "pred.json").read_text())["annotations"][0]
    video = pred["video_id"]
    k = len(NAMES)
    matrix = np.zeros((k, k), dtype=np.int64)
    missed = np.zeros(k, dtype=np.int64)
    for frame in pred["annotations"]:
        rgb = np.asarray(Image.open(out / "pan_pred" / video / frame["file_name"]), np.int64)
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
        sem = np.full(ids.shape, -1, np.int64)
        for seg in frame["segments_info"]:
            sem[ids == seg["id"]] = seg["category_id"]
        gt = np.asarray(Image.open(data / "testannot" / frame["file_name"]), np.int64)
        keep = gt != VOID
        p, g = sem[keep], gt[keep]
        counted = p >= 0  # unlabelled pixels count as wrong for their true class
        matrix += np.bincount(g[counted] * k + p[counted], minlength=k * k).reshape(k, k)
        missed += np.bincount(g[~counted], minlength=k)
    return matrix, missed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        t0 = time.perf_counter()
        segment_videos(
            [str(args.data / "test")], str(out),
            checkpoint=str(args.checkpoint) if args.checkpoint else None,
            options=SegmentOptions(task="panoptic", threads=args.threads),
        )  # fmt: skip
        wall = time.perf_counter() - t0
        m, missed = confusion(args.data, out)
    tp = np.diag(m).astype(float)
    union = m.sum(0) + m.sum(1) - tp + missed
    iou = tp / np.maximum(union, 1)
    print("| class | IoU |\n|---|---:|")
    for name, v in zip(NAMES, iou, strict=True):
        print(f"| {name} | {100 * v:.1f} |")
    print(f"| **mIoU** | **{100 * iou.mean():.1f}** |")
    print(f"pixel accuracy {100 * tp.sum() / (m.sum() + missed.sum()):.1f}; "
          f"{wall:.1f} s for 233 frames")  # fmt: skip


if __name__ == "__main__":
    main()
