"""CamVid test scores of a checkpoint: class IoU, mIoU (11 classes, void ignored) at 480x360,
and PQ on the connected-component panoptic targets.

Segments the CamVid test frames (SegNet tutorial layout: CamVid/test, CamVid/testannot) as one
frame folder with `axialvs segment --task panoptic`, turns every panoptic segment into its
class, and accumulates a confusion matrix against the annotations (label 11 = void, ignored;
pixels the model leaves unlabelled count as wrong). PQ follows the COCO panoptic rule per
frame (a match is the same class with IoU > 0.5, void pixels left out of the union; a predicted
segment mostly on void is no false positive), with the ground-truth segments of the training
targets: every stuff class one segment, every 4-connected component of Car, Pedestrian,
Bicyclist one instance (`axialvs_cli.data.camvid.panoptic_ids`).

    python benchmarks/camvid_eval.py --data /path/CamVid [--checkpoint NAME|FILE] [--json OUT]
        [--input-size SHORTxLONG]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from axialvs_cli.commands.segment import parse_input_size
from axialvs_cli.inference.runner import SegmentOptions, segment_videos

NAMES = ["Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car",
         "Pedestrian", "Bicyclist"]  # fmt: skip
VOID = 11


class PQ:
    """Per-class TP / FP / FN counts and the IoU sum of the matches."""

    def __init__(self, k: int) -> None:
        self.tp, self.fp, self.fn = np.zeros(k), np.zeros(k), np.zeros(k)
        self.iou = np.zeros(k)
        self.frames = 0

    def add(self, gt_ids, gt_cls: dict[int, int], pred_ids, pred_cls: dict[int, int]) -> None:
        self.frames += 1
        g_keys = [0, *gt_cls]  # index 0: void
        p_keys = [0, *pred_cls]  # index 0: unlabelled
        g_idx = np.searchsorted(np.array(sorted(g_keys)), gt_ids)
        p_idx = np.searchsorted(np.array(sorted(p_keys)), pred_ids)
        g_sorted, p_sorted = sorted(g_keys), sorted(p_keys)
        n_g, n_p = len(g_sorted), len(p_sorted)
        table = np.bincount(g_idx.ravel() * n_p + p_idx.ravel(), minlength=n_g * n_p)
        table = table.reshape(n_g, n_p)
        g_area, p_area = table.sum(1), table.sum(0)
        matched_g, matched_p = set(), set()
        for gi in range(1, n_g):
            for pi in np.flatnonzero(table[gi]):
                if pi == 0 or pred_cls[p_sorted[pi]] != gt_cls[g_sorted[gi]]:
                    continue
                inter = table[gi, pi]
                union = g_area[gi] + p_area[pi] - inter - table[0, pi]
                if union > 0 and inter / union > 0.5:
                    c = gt_cls[g_sorted[gi]]
                    self.tp[c] += 1
                    self.iou[c] += inter / union
                    matched_g.add(gi)
                    matched_p.add(pi)
        for gi in range(1, n_g):
            if gi not in matched_g:
                self.fn[gt_cls[g_sorted[gi]]] += 1
        for pi in range(1, n_p):
            if pi not in matched_p and table[0, pi] <= 0.5 * p_area[pi]:
                self.fp[pred_cls[p_sorted[pi]]] += 1

    def per_class(self) -> np.ndarray:
        """PQ per class (nan for classes never seen on either side)."""
        den = self.tp + 0.5 * self.fp + 0.5 * self.fn
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, self.iou / np.maximum(den, 1e-12), np.nan)


def confusion(data: Path, out: Path, pq: PQ | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(confusion matrix [true, predicted], unlabelled predictions per true class); adds every
    frame's segments to `pq` when given."""
    from axialvs_cli.data.camvid import panoptic_ids

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
        if pq is not None:
            gt_ids, gt_cls = panoptic_ids(gt)
            pq.add(gt_ids, gt_cls, ids, {s["id"]: s["category_id"] for s in frame["segments_info"]})
        keep = gt != VOID
        p, g = sem[keep], gt[keep]
        counted = p >= 0  # unlabelled pixels count as wrong for their true class
        matrix += np.bincount(g[counted] * k + p[counted], minlength=k * k).reshape(k, k)
        missed += np.bincount(g[~counted], minlength=k)
    return matrix, missed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--checkpoint", default=None, help="a file or a shipped name (default model)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--input-size", default=None, help="SHORTxLONG (default: the model's)")
    ap.add_argument("--json", type=Path, default=None, help="write the scores here too")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        t0 = time.perf_counter()
        segment_videos(
            [str(args.data / "test")], str(out),
            checkpoint=args.checkpoint,
            options=SegmentOptions(
                task="panoptic", threads=args.threads, input_size=parse_input_size(args.input_size)
            ),
        )  # fmt: skip
        wall = time.perf_counter() - t0
        pq = PQ(len(NAMES))
        m, missed = confusion(args.data, out, pq)
    tp = np.diag(m).astype(float)
    union = m.sum(0) + m.sum(1) - tp + missed
    iou = tp / np.maximum(union, 1)
    pq_class = pq.per_class()
    print("| class | IoU | PQ |\n|---|---:|---:|")
    for name, v, q in zip(NAMES, iou, pq_class, strict=True):
        print(f"| {name} | {100 * v:.1f} | {100 * q:.1f} |")
    pq_all = float(np.nanmean(pq_class))
    print(f"| **mean** | **{100 * iou.mean():.1f}** | **{100 * pq_all:.1f}** |")
    accuracy = tp.sum() / (m.sum() + missed.sum())
    print(f"mIoU {100 * iou.mean():.1f}, PQ {100 * pq_all:.1f}, pixel accuracy "
          f"{100 * accuracy:.1f}; {wall:.1f} s for {pq.frames} frames")  # fmt: skip
    if args.json is not None:
        scores = {
            "split": "CamVid test (SegNet tutorial), 233 frames, 480x360, 11 classes, void ignored",
            "mIoU": round(100 * float(iou.mean()), 2),
            "PQ": round(100 * pq_all, 2),
            "pixel_accuracy": round(100 * float(accuracy), 2),
            "class_IoU": {n: round(100 * float(v), 2) for n, v in zip(NAMES, iou, strict=True)},
            "class_PQ": {n: round(100 * float(q), 2) for n, q in zip(NAMES, pq_class, strict=True)},
            "input_size": args.input_size,
            "seconds": round(wall, 1),
            # pixels per [true class][predicted class], and per true class left unlabelled
            "confusion": m.tolist(),
            "unlabelled": missed.tolist(),
        }
        args.json.write_text(json.dumps(scores, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
