"""Video Panoptic Quality (VPQ) as VIPSeg's ``eval_vpq_vspw.py`` computes it.

For a window length n, every run of n consecutive annotated frames of a video (stride 1, no
padding) is one "image": segments become tubes, and tubes are matched like panoptic segments:

- a (ground truth g, prediction p) pair of the same class, g not crowd, is a true positive when
  IoU = |g∩p| / (|p| + |g| - |g∩p| - |p∩void|) > 0.5 (strictly);
  |g| is the sum of the JSON ``area`` fields, |p| the pixel count of the PNGs;
- unmatched non-crowd ground-truth tubes are false negatives;
- unmatched predicted tubes are false positives unless more than half of them lies on void
  or on the (last listed) crowd tube of their class.

Counts and IoU sums are pooled over all windows of all videos per class. VPQ_n is the mean
PQ over classes with any TP, FP or FN; the final VPQ is the plain mean of the VPQ_n.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import FormatError
from .counts import SideInfo, VideoCounts


@dataclass
class PQStats:
    """Per-class pooled statistics; arrays of length K (classes of the category table)."""

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    iou: np.ndarray

    @classmethod
    def zeros(cls, k: int) -> PQStats:
        z = np.zeros(k, dtype=np.int64)
        return cls(z.copy(), z.copy(), z.copy(), np.zeros(k, dtype=np.float64))

    def __iadd__(self, other: PQStats) -> PQStats:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.iou += other.iou
        return self


def window_sums(x: np.ndarray, n: int) -> np.ndarray:
    """Sums of n consecutive entries along axis 0: [T, ...] -> [T - n + 1, ...]."""
    c = np.cumsum(x, axis=0)
    c = np.concatenate([np.zeros_like(c[:1]), c])
    return c[n:] - c[:-n]


def _first_in_window(side: SideInfo, n: int) -> tuple[np.ndarray, np.ndarray]:
    """For each window start s and id: (listed anywhere in s..s+n-1, first such frame)."""
    t_count = side.listed.shape[0]
    frame = np.where(side.listed, np.arange(t_count)[:, None], t_count)
    nxt = np.minimum.accumulate(frame[::-1], axis=0)[::-1]
    first = nxt[: t_count - n + 1]
    inside = first < (np.arange(first.shape[0])[:, None] + n)
    return inside, np.minimum(first, t_count - 1)


def _at_first(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    return np.take_along_axis(values, first, axis=0)


def video_pq_stats(counts: VideoCounts, n: int, num_classes: int) -> PQStats:
    """VPQ statistics of one video for window length n (zeros when the video is shorter)."""
    stats = PQStats.zeros(num_classes)
    gt, pred = counts.gt, counts.pred
    t_count = counts.inter.shape[0]
    if t_count < n:
        return stats
    inter = window_sums(counts.inter, n)  # [W, G, P]
    gt_area = window_sums(gt.area, n)  # [W, G]
    pred_area = window_sums(counts.pred_pixels * pred.listed, n)  # [W, P]
    gt_in, gt_first = _first_in_window(gt, n)
    pred_in, pred_first = _first_in_window(pred, n)
    gt_cat = _at_first(gt.cat_first, gt_first)
    gt_crowd = _at_first(gt.crowd, gt_first) & gt_in
    pred_cat = _at_first(pred.cat_first, pred_first)
    void = inter[:, 0, :]  # ground-truth id 0 has index 0

    pairs = (
        (inter > 0)
        & (gt_in & ~gt_crowd)[:, :, None]
        & pred_in[:, None, :]
        & (gt_cat[:, :, None] == pred_cat[:, None, :])
    )
    union = pred_area[:, None, :] + gt_area[:, :, None] - inter - void[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(pairs, inter / np.where(pairs, union, 1), 0.0)
    if (iou > 1.0).any():
        w, g, _ = np.argwhere(iou > 1.0)[0]
        raise FormatError(
            f"video {counts.video_id!r}: ground-truth segment {int(gt.ids[g])} has a JSON 'area' "
            f"smaller than its pixels (tube IoU {float(iou.max()):.3f} > 1 in window {w}); "
            "fix the ground-truth areas"
        )
    tp = pairs & (iou > 0.5)
    tp_cat = np.broadcast_to(gt_cat[:, :, None], tp.shape)[tp]
    np.add.at(stats.tp, tp_cat, 1)
    np.add.at(stats.iou, tp_cat, iou[tp])  # in (window, gt id, pred id) order, as pooled there

    gt_hit = tp.any(axis=2)
    pred_hit = tp.any(axis=1)
    missed = gt_in & ~gt_hit & ~gt_crowd
    np.add.at(stats.fn, gt_cat[missed], 1)

    ignored = void.astype(np.float64)
    if gt_crowd.any():
        ignored += _crowd_overlap(inter, gt, gt_crowd, gt_cat, gt_first, pred_cat)
    unmatched = pred_in & ~pred_hit
    with np.errstate(divide="ignore", invalid="ignore"):
        mostly_ignored = ignored / pred_area > 0.5
    false_pos = unmatched & ~mostly_ignored
    np.add.at(stats.fp, pred_cat[false_pos], 1)
    return stats


def _crowd_overlap(
    inter: np.ndarray,
    gt: SideInfo,
    gt_crowd: np.ndarray,
    gt_cat: np.ndarray,
    gt_first: np.ndarray,
    pred_cat: np.ndarray,
) -> np.ndarray:
    """[W, P] pixels of each prediction on the crowd tube of its class (the last one listed)."""
    out = np.zeros(inter.shape[::2], dtype=np.float64)
    pos = _at_first(gt.pos, gt_first)
    for w in np.flatnonzero(gt_crowd.any(axis=1)):
        last: dict[int, tuple[tuple[int, int], int]] = {}
        for g in np.flatnonzero(gt_crowd[w]):
            key = (int(gt_first[w, g]), int(pos[w, g]))
            cat = int(gt_cat[w, g])
            if cat not in last or key > last[cat][0]:
                last[cat] = (key, int(g))
        for p in range(out.shape[1]):
            if int(pred_cat[w, p]) in last:
                out[w, p] = inter[w, last[int(pred_cat[w, p])][1], p]
    return out


def pq_summary(
    stats: PQStats, category_ids: Sequence[int], isthing: Sequence[bool]
) -> dict[str, object]:
    """PQ/SQ/RQ averaged over active classes (All, Things, Stuff) plus the per-class values.

    A group with no active class gets ``None`` (the official script divides by zero there).
    """
    per_class: dict[int, dict[str, float | int]] = {}
    groups: dict[str, list[float]] = {
        name: [0.0, 0.0, 0.0, 0] for name in ("All", "Things", "Stuff")
    }
    for k, (cid, thing) in enumerate(zip(category_ids, isthing, strict=True)):
        tp, fp, fn, iou = int(stats.tp[k]), int(stats.fp[k]), int(stats.fn[k]), float(stats.iou[k])
        if tp + fp + fn == 0:
            per_class[cid] = {
                "PQ": 0.0,
                "SQ": 0.0,
                "RQ": 0.0,
                "IoU": 0.0,
                "TP": 0,
                "FP": 0,
                "FN": 0,
            }
            continue
        pq = iou / (tp + 0.5 * fp + 0.5 * fn)
        sq = iou / tp if tp != 0 else 0
        rq = tp / (tp + 0.5 * fp + 0.5 * fn)
        per_class[cid] = {"PQ": pq, "SQ": sq, "RQ": rq, "IoU": iou, "TP": tp, "FP": fp, "FN": fn}
        for name in ("All", "Things" if thing else "Stuff"):
            acc = groups[name]
            acc[0] += pq
            acc[1] += sq
            acc[2] += rq
            acc[3] += 1
    out: dict[str, object] = {}
    for name, (pq, sq, rq, n) in groups.items():
        out[name] = (
            {"PQ": pq / n, "SQ": sq / n, "RQ": rq / n, "N": int(n)}
            if n
            else {"PQ": None, "SQ": None, "RQ": None, "N": 0}
        )
    out["per_class"] = per_class
    return out
