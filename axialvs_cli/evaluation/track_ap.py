"""Track AP / AR of YouTube-VIS and OVIS, as the youtubevos ``YTVOSeval`` computes them.

- Tube IoU(d, g) = sum_t |d_t ∩ g_t| / sum_t |d_t ∪ g_t| over the frames both lists have
  (a shorter list silently ends the sum), 0 when the union is empty. Masks of different
  sizes in one frame add nothing (the COCO merge of unequal sizes is empty).
- Per (video, category): detections sorted by score (stable), the first 100 kept; per IoU
  threshold t in 0.50:0.05:0.95, each detection in turn takes the unmatched ground truth with
  the highest IoU >= t, preferring ground truth inside the area range.
- Area of an object: the mean of its non-zero per-frame areas (GT: the file's ``areas``);
  ranges all [0, 1e10], small [0, 128^2], medium [128^2, 256^2], large [256^2, 1e10], inclusive.
- Precision at 101 recall points per category, pooled over videos with the first maxDets
  (1, 10, 100) detections of every (video, category); categories without ground truth stay -1.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ..errors import FormatError
from ..formats import rle
from ..formats.ytvis import GroundTruth, Track

IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
MAX_DETS = [1, 10, 100]
AREA_RANGES = [[0**2, 1e5**2], [0**2, 128**2], [128**2, 256**2], [256**2, 1e5**2]]
AREA_LABELS = ["all", "small", "medium", "large"]
STAT_NAMES = [
    "AP",
    "AP50",
    "AP75",
    "APs",
    "APm",
    "APl",
    "AR1",
    "AR10",
    "AR100",
    "ARs",
    "ARm",
    "ARl",
]


@dataclass
class Tube:
    """A decoded track. L frames; k intervals of set pixels in a video-wide pixel index.

    Attributes:
        area: [L] int64 pixels per frame (0 where null).
        present: [L] bool, the frame has a mask.
        shape: [L] int64 code h * 2^32 + w of each mask (-1 where null).
        starts / ends / frame: [k] intervals [start, end) and the frame of each.
        avg_area: mean of the non-zero per-frame areas (0 if none).
    """

    area: np.ndarray
    present: np.ndarray
    shape: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    frame: np.ndarray
    avg_area: float


def _counts(track: Track) -> list[np.ndarray | None]:
    masks = [s for s in track.segmentations if s is not None]
    try:
        decoded = iter(rle.counts_many(masks))
    except rle.RleError:
        for t, s in enumerate(track.segmentations):
            if s is not None:
                try:
                    rle.counts(s)
                except rle.RleError as err:
                    raise FormatError(f"{track.where}: frame {t}: {err}") from None
        raise
    return [None if s is None else next(decoded) for s in track.segmentations]


def make_tube(track: Track, counts: list[np.ndarray | None], stride: int) -> Tube:
    """Build a `Tube`; frame t occupies pixel indices [t * stride, t * stride + h * w)."""
    n = len(counts)
    area = np.zeros(n, dtype=np.int64)
    shape = np.full(n, -1, dtype=np.int64)
    pieces, frames = [], []
    for t, (seg, cnt) in enumerate(zip(track.segmentations, counts, strict=True)):
        if cnt is None:
            continue
        h, w = rle.size(seg)  # type: ignore[arg-type]
        shape[t] = (h << 32) + w
        starts, ends = rle.ones_intervals(cnt)
        area[t] = int((ends - starts).sum())
        pieces.append((starts + t * stride, ends + t * stride))
        frames.append(np.full(starts.size, t, dtype=np.int64))
    empty = np.zeros(0, dtype=np.int64)
    starts = np.concatenate([p[0] for p in pieces]) if pieces else empty
    ends = np.concatenate([p[1] for p in pieces]) if pieces else empty
    frame = np.concatenate(frames) if frames else empty
    nonzero = area[area > 0]
    avg = float(np.array(nonzero).mean()) if nonzero.size else 0.0
    return Tube(area, shape >= 0, shape, starts, ends, frame, avg)


def tube_iou(d: Tube, g: Tube) -> float:
    """Spatio-temporal IoU of two tubes of one video (see the module docstring)."""
    n = min(d.area.size, g.area.size)
    both = d.present[:n] & g.present[:n]
    clash = both & (d.shape[:n] != g.shape[:n])
    if clash.any():
        bad = np.flatnonzero(clash)
        keep_d, keep_g = ~np.isin(d.frame, bad), ~np.isin(g.frame, bad)
        inter = rle.interval_overlap(
            d.starts[keep_d], d.ends[keep_d], g.starts[keep_g], g.ends[keep_g]
        )
    else:
        inter = rle.interval_overlap(d.starts, d.ends, g.starts, g.ends)
    union = int(((d.area[:n] + g.area[:n]) * ~clash).sum()) - inter
    return inter / union if union > 0 else 0.0


def _match(ious: np.ndarray, gt_ignore: list[bool], crowd: list[bool], gt_ids: list[int]):
    """Greedy matching of score-sorted detections. Returns ([T, D] matched GT id or 0,
    [T, D] detection ignored because its match is)."""
    n_det, n_gt = ious.shape
    dtm = np.zeros((IOU_THRS.size, n_det), dtype=np.int64)
    dt_ig = np.zeros((IOU_THRS.size, n_det), dtype=bool)
    if n_gt == 0 or n_det == 0:
        return dtm, dt_ig
    rows = ious.tolist()
    for ti, thr in enumerate(IOU_THRS.tolist()):
        taken = [False] * n_gt
        for di in range(n_det):
            best, m = min(thr, 1 - 1e-10), -1
            row = rows[di]
            for gi in range(n_gt):
                if taken[gi] and not crowd[gi]:
                    continue
                if m > -1 and not gt_ignore[m] and gt_ignore[gi]:
                    break
                if row[gi] < best:
                    continue
                best, m = row[gi], gi
            if m == -1:
                continue
            dt_ig[ti, di] = gt_ignore[m]
            dtm[ti, di] = gt_ids[m]
            taken[m] = True
    return dtm, dt_ig


@dataclass
class _Eval:
    scores: np.ndarray  # [D]
    dtm: np.ndarray  # [T, D]
    dt_ig: np.ndarray  # [T, D]
    gt_ig: np.ndarray  # [G]


def _evaluate_pair(
    gt_avg: list[float],
    gts: list[Track],
    gt_tubes: list[Tube],
    dts: list[Track],
    dt_tubes: list[Tube],
) -> list[_Eval | None]:
    """One (video, category): an `_Eval` per area range (None when neither side has tracks)."""
    if not gts and not dts:
        return [None] * len(AREA_RANGES)
    ious = np.array([[tube_iou(d, g) for g in gt_tubes] for d in dt_tubes]).reshape(
        len(dts), len(gts)
    )
    scores = np.array([d.score for d in dts], dtype=np.float64)
    crowd = [bool(g.iscrowd) for g in gts]
    out: list[_Eval | None] = []
    for lo, hi in AREA_RANGES:
        ignore = [c or a < lo or a > hi for c, a in zip(crowd, gt_avg, strict=True)]
        order = np.argsort(np.array(ignore, dtype=np.int64), kind="mergesort")  # ignored last
        gt_ig = [ignore[i] for i in order]
        dtm, dt_ig = _match(
            ious[:, order], gt_ig, [crowd[i] for i in order], [gts[i].id for i in order]
        )
        outside = np.array([t.avg_area < lo or t.avg_area > hi for t in dt_tubes], dtype=bool)
        dt_ig = dt_ig | ((dtm == 0) & outside[None, :])
        out.append(_Eval(scores, dtm, dt_ig, np.array(gt_ig, dtype=bool)))
    return out


def _gt_avg_area(track: Track) -> float:
    """Mean of the file's non-null, non-zero per-frame areas (0 if none)."""
    vals = [a for a in (track.areas or []) if a]
    return float(np.array(vals).mean()) if vals else 0.0


def evaluate_tracks(gt: GroundTruth, dets: list[Track]) -> dict[str, float]:
    """The 12 summary numbers (``STAT_NAMES``), on 0-1, -1 where undefined."""
    vid_ids = sorted(gt.videos)
    cat_ids = gt.category_ids
    gts_by: dict[tuple[int, int], list[Track]] = defaultdict(list)
    dts_by: dict[tuple[int, int], list[Track]] = defaultdict(list)
    cat_set = set(cat_ids)
    for a in gt.annotations:
        if a.video_id in gt.videos and a.category_id in cat_set:
            gts_by[a.video_id, a.category_id].append(a)
    for d in dets:
        dts_by[d.video_id, d.category_id].append(d)
    evals: dict[tuple[int, int, int], _Eval | None] = {}
    for vi, vid in enumerate(vid_ids):
        pairs = {}
        for cid in cat_ids:
            ds = dts_by.get((vid, cid), [])
            keep = np.argsort([-d.score for d in ds], kind="mergesort")[: MAX_DETS[-1]]
            pairs[cid] = (gts_by.get((vid, cid), []), [ds[i] for i in keep])
        tracks = [t for g, d in pairs.values() for t in (*g, *d)]
        counts = [_counts(t) for t in tracks]
        stride = max(
            [
                h * w
                for t in tracks
                for s in t.segmentations
                if s is not None
                for h, w in [rle.size(s)]
            ]
            or [1]
        )
        tubes = {id(t): make_tube(t, c, stride) for t, c in zip(tracks, counts, strict=True)}
        for ki, cid in enumerate(cat_ids):
            g, d = pairs[cid]
            per_area = _evaluate_pair(
                [_gt_avg_area(t) for t in g],
                g,
                [tubes[id(t)] for t in g],
                d,
                [tubes[id(t)] for t in d],
            )
            for ai, e in enumerate(per_area):
                evals[ki, ai, vi] = e
    precision, recall = _accumulate(evals, len(cat_ids), len(vid_ids))
    return _summarize(precision, recall)


def _accumulate(evals: dict, n_cat: int, n_vid: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision [T, R, K, A, M] and recall [T, K, A, M], -1 where a category has no GT."""
    shape = (IOU_THRS.size, REC_THRS.size, n_cat, len(AREA_RANGES), len(MAX_DETS))
    precision = -np.ones(shape)
    recall = -np.ones((IOU_THRS.size, n_cat, len(AREA_RANGES), len(MAX_DETS)))
    for k in range(n_cat):
        for a in range(len(AREA_RANGES)):
            found = [evals[k, a, v] for v in range(n_vid)]
            found = [e for e in found if e is not None]
            if not found:
                continue
            gt_ig = np.concatenate([e.gt_ig for e in found])
            npig = np.count_nonzero(gt_ig == 0)
            if npig == 0:
                continue
            for m, max_det in enumerate(MAX_DETS):
                scores = np.concatenate([e.scores[:max_det] for e in found])
                inds = np.argsort(-scores, kind="mergesort")
                dtm = np.concatenate([e.dtm[:, :max_det] for e in found], axis=1)[:, inds]
                dt_ig = np.concatenate([e.dt_ig[:, :max_det] for e in found], axis=1)[:, inds]
                tps = np.logical_and(dtm, np.logical_not(dt_ig))
                fps = np.logical_and(np.logical_not(dtm), np.logical_not(dt_ig))
                tp_sum = np.cumsum(tps, axis=1).astype(dtype=np.float64)
                fp_sum = np.cumsum(fps, axis=1).astype(dtype=np.float64)
                for t, (tp, fp) in enumerate(zip(tp_sum, fp_sum, strict=True)):
                    nd = len(tp)
                    rc = tp / npig
                    pr = tp / (fp + tp + np.spacing(1))
                    recall[t, k, a, m] = rc[-1] if nd else 0
                    pr = np.maximum.accumulate(pr[::-1])[::-1]  # non-increasing from the right
                    idx = np.searchsorted(rc, REC_THRS, side="left")
                    q = np.zeros(REC_THRS.size)
                    ok = idx < nd
                    q[ok] = pr[idx[ok]]
                    precision[t, :, k, a, m] = q
    return precision, recall


def _summarize(precision: np.ndarray, recall: np.ndarray) -> dict[str, float]:
    def one(
        ap: bool, iou_thr: float | None = None, area: str = "all", max_dets: int = 100
    ) -> float:
        aind = [i for i, label in enumerate(AREA_LABELS) if label == area]
        mind = [i for i, m in enumerate(MAX_DETS) if m == max_dets]
        s = precision if ap else recall
        if iou_thr is not None:
            s = s[np.where(iou_thr == IOU_THRS)[0]]
        s = s[:, :, :, aind, mind] if ap else s[:, :, aind, mind]
        return -1.0 if len(s[s > -1]) == 0 else float(np.mean(s[s > -1]))

    values = [
        one(True),
        one(True, iou_thr=0.5),
        one(True, iou_thr=0.75),
        one(True, area="small"),
        one(True, area="medium"),
        one(True, area="large"),
        one(False, max_dets=1),
        one(False, max_dets=10),
        one(False, max_dets=100),
        one(False, area="small"),
        one(False, area="medium"),
        one(False, area="large"),
    ]
    return dict(zip(STAT_NAMES, values, strict=True))
