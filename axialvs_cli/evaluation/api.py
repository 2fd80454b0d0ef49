"""Library entry points of ``axialvs evaluate``: one call per benchmark, a dict of numbers back.

``evaluate_vipseg`` reads every video once, computes the VPQ statistics for all window lengths
and the STQ statistics from the same pixel counts, optionally in worker processes, and pools
them in video order (so the result does not depend on the number of workers).
"""

from __future__ import annotations

import multiprocessing
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FormatError, InputError
from ..formats import vipseg, ytvis
from ..formats.palette import read_id_png
from .counts import count_video
from .stq import STQVideo, stq_result, video_stq
from .track_ap import evaluate_tracks
from .vpq import PQStats, pq_summary, video_pq_stats

VIPSEG_WINDOWS = (1, 2, 4, 6, 8)
AXIALVS_WINDOWS = (1, 2, 4, 6)
METRICS = ("vpq", "stq")

Warn = Callable[[str], None]
Progress = Callable[[int, int], None]


def _warn(msg: str) -> None:
    warnings.warn(msg, stacklevel=3)


@dataclass
class _VideoTask:
    video_id: Any
    gt_frames: list[vipseg.Frame]
    pred_frames: list[vipseg.Frame]
    gt_dir: Path
    pred_dir: Path
    where: tuple[str, str]
    cat_index: dict[int, int]
    category_ids: list[int]
    thing_ids: list[int]
    windows: tuple[int, ...]
    metrics: tuple[str, ...]


def _run_video(task: _VideoTask) -> tuple[dict[int, PQStats], STQVideo | None]:
    counts = count_video(
        task.video_id,
        task.gt_frames,
        task.pred_frames,
        lambda name: task.gt_dir / str(task.video_id) / name,
        lambda name: task.pred_dir / str(task.video_id) / name,
        read_id_png,
        task.cat_index,
        task.where,
    )
    k = len(task.category_ids)
    pq = {n: video_pq_stats(counts, n, k) for n in task.windows} if "vpq" in task.metrics else {}
    stq = None
    if "stq" in task.metrics and task.gt_frames:  # a video without frames is no STQ sequence
        stq = video_stq(counts, task.category_ids, task.thing_ids)
    return pq, stq


def evaluate_vipseg(
    gt: Path | str,
    pred_dir: Path | str,
    windows: Sequence[int] = VIPSEG_WINDOWS,
    workers: int = 0,
    metrics: Sequence[str] = METRICS,
    warn: Warn | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """VPQ (per window and mean) and STQ of a VIPSeg submission folder.

    Args:
        gt: a VIPSeg_720P folder (``panoptic_gt_VIPSeg_val.json`` + ``panomasksRGB/``) or a
            ground-truth JSON next to ``panomasksRGB/``.
        pred_dir: a submission folder (``pred.json`` + ``pan_pred/``); only read.
        windows: window lengths n in annotated frames; VIPSeg uses (1, 2, 4, 6, 8), the Axial-VS
            paper (1, 2, 4, 6).
        workers: processes over videos; 0 or 1 runs in this process.
        metrics: any of "vpq", "stq".

    Returns:
        ``VPQ``, ``VPQ_th``, ``VPQ_st`` (0-100), ``VPQ_per_window`` / ``VPQ_th_per_window`` /
        ``VPQ_st_per_window`` ({"n": value}), ``per_class`` ({category id: {"name", "isthing",
        "windows": {"n": {PQ, SQ, RQ, IoU, TP, FP, FN}}}}), ``STQ``, ``AQ``, ``SQ`` (0-1).
        Values that are undefined (no active class) are None.
    """
    warn = warn or _warn
    windows = tuple(sorted(set(int(n) for n in windows)))
    if not windows or min(windows) < 1:
        raise InputError(f"window lengths must be positive integers, got {list(windows)}")
    unknown = set(metrics) - set(METRICS)
    if unknown or not metrics:
        raise InputError(f"metrics must be among {', '.join(METRICS)}; got {', '.join(metrics)}")
    truth = vipseg.read_ground_truth(gt, warn)
    sub = vipseg.read_submission(pred_dir)
    category_ids = [c.id for c in truth.categories]
    cat_index = {cid: k for k, cid in enumerate(category_ids)}
    thing_ids = [c.id for c in truth.categories if c.isthing]
    tasks = []
    for vid, frames in truth.videos.items():
        if vid not in sub.videos:
            raise FormatError(f"{sub.json_path}: video {vid!r} of the ground truth is missing")
        if len(sub.videos[vid]) != len(frames):
            raise FormatError(
                f"{sub.json_path}: video {vid!r} has {len(sub.videos[vid])} frames but the "
                f"ground truth has {len(frames)}; predict every annotated frame, in order"
            )
        tasks.append(
            _VideoTask(
                vid, frames, sub.videos[vid], truth.mask_dir, sub.root / vipseg.PRED_MASKS,
                (str(truth.json_path), str(sub.json_path)), cat_index, category_ids,
                thing_ids, windows, tuple(metrics),
            )
        )  # fmt: skip
    extra = len(set(sub.videos) - set(truth.videos))
    if extra:
        warn(f"{sub.json_path}: {extra} video(s) not in the ground truth are ignored")

    pooled = {n: PQStats.zeros(len(category_ids)) for n in windows}
    stq_videos: list[STQVideo] = []
    for done, (pq, stq) in enumerate(_map(_run_video, tasks, workers), start=1):
        for n, stats in pq.items():
            pooled[n] += stats
        if stq is not None:
            stq_videos.append(stq)
        if progress:
            progress(done, len(tasks))

    result: dict[str, Any] = {"dataset": "vipseg", "videos": len(tasks)}
    if "vpq" in metrics:
        result.update(_vpq_result(pooled, truth.categories, windows, warn))
    if "stq" in metrics:
        result.update(stq_result(stq_videos))
    return result


def _map(func, tasks: list, workers: int):
    if workers <= 1 or len(tasks) <= 1:
        yield from map(func, tasks)
        return
    # "spawn": the caller may run threads (a progress bar), which do not survive a fork safely
    with multiprocessing.get_context("spawn").Pool(min(workers, len(tasks))) as pool:
        yield from pool.imap(func, tasks, chunksize=1)


def _vpq_result(
    pooled: dict[int, PQStats],
    categories: list[vipseg.Category],
    windows: tuple[int, ...],
    warn: Warn,
) -> dict[str, Any]:
    ids = [c.id for c in categories]
    things = [c.isthing for c in categories]
    summaries = {n: pq_summary(pooled[n], ids, things) for n in windows}
    out: dict[str, Any] = {"windows": list(windows)}
    reported: set[str] = set()
    for key, group in (("VPQ", "All"), ("VPQ_th", "Things"), ("VPQ_st", "Stuff")):
        per_window = {}
        for n in windows:
            pq = summaries[n][group]["PQ"]  # type: ignore[index]
            per_window[str(n)] = None if pq is None else 100 * pq
        empty = [n for n, v in per_window.items() if v is None]
        out[key] = None if empty else sum(per_window.values()) / len(per_window)  # type: ignore[arg-type]
        out[f"{key}_per_window"] = per_window
        if set(empty) - reported:
            kind = {"All": "", "Things": "thing ", "Stuff": "stuff "}[group]
            also = ", VPQ_th and VPQ_st are" if group == "All" else " is"
            hint = (
                " (a video shorter than n frames has no window of length n)" if kind == "" else ""
            )
            warn(
                f"no {kind}class has a TP, FP or FN at window length(s) {', '.join(empty)}"
                f"{hint}: {key}{also} undefined"
            )
            reported |= set(empty)
    out["per_class"] = {
        str(c.id): {
            "name": c.name,
            "isthing": c.isthing,
            "windows": {str(n): summaries[n]["per_class"][c.id] for n in windows},  # type: ignore[index]
        }
        for c in categories
    }
    return out


def evaluate_ytvis(
    gt_json: Path | str,
    results_json: Path | str,
    warn: Warn | None = None,
    skip_unknown_videos: bool = False,
) -> dict[str, Any]:
    """Track AP / AR of a YouTube-VIS or OVIS results file.

    Returns:
        ``AP``, ``AP50``, ``AP75``, ``APs``, ``APm``, ``APl``, ``AR1``, ``AR10``, ``AR100``,
        ``ARs``, ``ARm``, ``ARl`` on 0-1 (-1 where undefined), plus ``videos``, ``detections``.
        For YouTube-VIS 2022's long-video AP, pass the long videos' GT file and
        ``skip_unknown_videos=True`` (results of the other videos are then left out).
    """
    warn = warn or _warn
    truth = ytvis.read_ground_truth(gt_json, warn)
    dets = ytvis.read_results(results_json, truth, warn, skip_unknown_videos)
    out: dict[str, Any] = {"videos": len(truth.videos), "detections": len(dets)}
    out.update(evaluate_tracks(truth, dets))
    return out
