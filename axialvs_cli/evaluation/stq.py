"""Segmentation and Tracking Quality (STQ) as VIPSeg's ``eval_stq_vspw.py`` computes it.

The script turns every frame into deeplab2 labels ``category << 16 | instance`` (void: 255 for
both) and feeds them to deeplab2's numpy ``STQuality`` with one sequence per video:

- instance = rank of the id's first appearance walking ``segments_info`` frame by frame
  (stuff ids included; ground truth and prediction numbered separately);
- AQ: over ground-truth "thing" tubes g (one label over the whole video; instance 0 counts as
  crowd and is removed from both sides) and predicted thing tubes p,
  AQ(g) = 1/|g| * sum_p |g∩p|^2 / |g∪p|, pooled: sum over all videos / number of tubes;
- SQ: mean IoU over classes of one confusion matrix of all frames, ground-truth void row
  removed but the void *column* kept (it becomes a class with IoU 0 whenever labelled pixels
  are predicted void);
- STQ = sqrt(AQ * SQ).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import FormatError
from .counts import SideInfo, VideoCounts

VOID = 255
_EPS = 1e-15


@dataclass
class STQVideo:
    """One video's share: [C+1, C+1] confusion, AQ sum over its tubes, its tube count."""

    confusion: np.ndarray
    aq_sum: float
    tubes: int


def _labels(side: SideInfo, t: np.ndarray, j: np.ndarray, cat_ids: np.ndarray):
    """(semantic, instance) of dense ids j at frames t, 255 where the frame does not list them."""
    listed = side.listed[t, j]
    sem = np.where(listed, cat_ids[np.maximum(side.cat_last[t, j], 0)], VOID)
    inst = np.where(listed, side.order[j], VOID)
    return sem, inst


def video_stq(
    counts: VideoCounts, category_ids: Sequence[int], thing_ids: Sequence[int]
) -> STQVideo:
    """STQ statistics of one video."""
    cat_ids = np.asarray(category_ids, dtype=np.int64)
    num_classes = int(cat_ids.max()) + 1
    if num_classes > VOID:
        raise FormatError(f"STQ needs category ids below {VOID}, got {num_classes - 1}")
    is_thing = np.zeros(VOID + 1, dtype=bool)
    is_thing[np.asarray(thing_ids, dtype=np.int64)] = True

    t, g, p = np.nonzero(counts.inter)
    pixels = counts.inter[t, g, p]
    g_sem, g_inst = _labels(counts.gt, t, g, cat_ids)
    p_sem, p_inst = _labels(counts.pred, t, p, cat_ids)

    confusion = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    row = np.where(g_sem == VOID, num_classes, g_sem)
    col = np.where(p_sem == VOID, num_classes, p_sem)
    np.add.at(confusion, (row, col), pixels)
    confusion[num_classes, :] = 0  # the ground-truth void row is left out

    gt_thing = is_thing[g_sem]
    crowd = gt_thing & (g_inst == 0)
    gt_tube = gt_thing & ~crowd
    pred_tube = is_thing[p_sem] & ~crowd
    g_key = (g_sem << 16) + g_inst
    p_key = (p_sem << 16) + p_inst

    gt_size, gt_order = _tally(g_key[gt_tube], t[gt_tube], pixels[gt_tube])
    pred_size, pred_order = _tally(p_key[pred_tube], t[pred_tube], pixels[pred_tube])
    both = gt_tube & pred_tube
    pair_px: dict[int, dict[int, int]] = {}
    for gk, pk, px in zip(
        g_key[both].tolist(), p_key[both].tolist(), pixels[both].tolist(), strict=True
    ):
        row_px = pair_px.setdefault(gk, {})
        row_px[pk] = row_px.get(pk, 0) + px
    rank = {k: i for i, k in enumerate(pred_order)}

    outer = 0.0
    for gk in gt_order:
        size = gt_size[gk]
        inner = 0.0
        for pk in sorted(pair_px.get(gk, {}), key=rank.__getitem__):
            tpa = pair_px[gk][pk]
            union = pred_size[pk] + size - tpa
            inner += tpa * (tpa / union)
        outer += 1.0 / size * inner
    return STQVideo(confusion, outer, len(gt_order))


def _tally(keys: np.ndarray, frames: np.ndarray, pixels: np.ndarray) -> tuple[dict, list]:
    """Pixel totals per key and the keys in order of first frame, then key (dict insertion
    order of the reference implementation, which adds each frame's sorted unique labels)."""
    totals: dict[int, int] = {}
    first: dict[int, int] = {}
    for k, f, px in zip(keys.tolist(), frames.tolist(), pixels.tolist(), strict=True):
        totals[k] = totals.get(k, 0) + px
        if k not in first or f < first[k]:
            first[k] = f
    return totals, sorted(totals, key=lambda k: (first[k], k))


def stq_result(videos: Sequence[STQVideo]) -> dict[str, float]:
    """Pool the videos: ``{"STQ", "AQ", "SQ"}`` (SQ is the script's printed ``IoU``)."""
    if not videos:
        return {"STQ": 0.0, "AQ": 0.0, "SQ": 0.0}
    aq_per_video = np.array([v.aq_sum for v in videos], dtype=np.float64)
    tubes = np.array([v.tubes for v in videos], dtype=np.int64)
    aq = float(np.sum(aq_per_video) / np.maximum(np.sum(tubes), _EPS))
    total = np.zeros_like(videos[0].confusion)
    for v in videos:
        total += v.confusion
    tp = total.diagonal()
    union = total.sum(axis=0) + total.sum(axis=1) - tp
    present = np.count_nonzero(union)
    ious = tp.astype(np.double) / np.maximum(union, _EPS).astype(np.double)
    sq = float(np.sum(ious) / present) if present else float("nan")
    return {"STQ": float(np.sqrt(aq * sq)), "AQ": aq, "SQ": sq}
