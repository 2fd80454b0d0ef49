"""Tiny hand-made ground truths and predictions for the evaluation tests.

Id maps are written as small character grids, one string per row, so a test shows its masks:
"." is id 0 (void / unlabelled) and every other character maps to an id through a legend.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from axialvs_cli.formats import rle
from axialvs_cli.formats.vipseg import PanopticWriter

# Two stuff classes and two thing classes, ids as in VIPSeg (0-based, isthing flag).
CATEGORIES = [
    {"id": 0, "name": "wall", "isthing": 0},
    {"id": 1, "name": "road", "isthing": 0},
    {"id": 2, "name": "person", "isthing": 1},
    {"id": 3, "name": "car", "isthing": 1},
]


def grid(rows: Sequence[str], legend: Mapping[str, int]) -> np.ndarray:
    """["AAB.", ...] -> [H, W] int64 ids ('.' -> 0)."""
    return np.array(
        [[0 if ch == "." else legend[ch] for ch in row] for row in rows], dtype=np.int64
    )


def write_vipseg(
    root: Path,
    gt_videos: Mapping[str, Sequence[Sequence[str]]],
    pred_videos: Mapping[str, Sequence[Sequence[str]]],
    gt_legend: Mapping[str, tuple[int, int]],
    pred_legend: Mapping[str, tuple[int, int]],
    crowd: frozenset[int] = frozenset(),
) -> tuple[Path, Path]:
    """Write a VIPSeg ground truth and submission from grids.

    Args:
        gt_videos / pred_videos: video id -> frames -> rows.
        gt_legend / pred_legend: character -> (segment id, category id).
        crowd: ground-truth segment ids to mark iscrowd.

    Returns:
        (ground-truth folder, submission folder).
    """
    ids = {ch: sid for ch, (sid, _) in gt_legend.items()}
    cats = {sid: cat for sid, cat in gt_legend.values()}
    with PanopticWriter(root / "gt", "ground_truth", CATEGORIES) as out:
        for vid, frames in gt_videos.items():
            for t, rows in enumerate(frames):
                out.add_frame(vid, f"{t:05d}.png", grid(rows, ids), cats, crowd)
    p_ids = {ch: sid for ch, (sid, _) in pred_legend.items()}
    p_cats = {sid: cat for sid, cat in pred_legend.values()}
    with PanopticWriter(root / "pred", "submission") as out:
        for vid, frames in pred_videos.items():
            for t, rows in enumerate(frames):
                out.add_frame(vid, f"{t:05d}.png", grid(rows, p_ids), p_cats)
    return root / "gt", root / "pred"


def edit_json(path: Path, change) -> None:
    """Load a JSON file, let ``change(obj)`` modify it in place, write it back."""
    obj = json.loads(path.read_text())
    change(obj)
    path.write_text(json.dumps(obj))


def ytvis_gt(
    videos: Sequence[tuple[int, int, int, int]],
    annotations: Sequence[tuple[int, int, Sequence[np.ndarray | None]]],
    categories: Sequence[int] = (1, 2),
    crowd: Sequence[int] = (),
) -> dict[str, Any]:
    """A YouTube-VIS ground truth.

    Args:
        videos: (id, height, width, length) per video.
        annotations: (video_id, category_id, masks per frame or None) per object.
        crowd: positions in ``annotations`` to mark iscrowd.
    """
    anns = []
    for i, (vid, cat, masks) in enumerate(annotations):
        anns.append(
            {
                "id": i + 1,
                "video_id": vid,
                "category_id": cat,
                "iscrowd": int(i in crowd),
                "segmentations": [None if m is None else rle.encode(m) for m in masks],
                "areas": [None if m is None else int(m.sum()) for m in masks],
            }
        )
    return {
        "videos": [
            {
                "id": v,
                "height": h,
                "width": w,
                "length": n,
                "file_names": [f"{v}/{t:05d}.jpg" for t in range(n)],
            }
            for v, h, w, n in videos
        ],
        "categories": [{"id": c, "name": f"class{c}"} for c in categories],
        "annotations": anns,
    }


def ytvis_result(vid: int, cat: int, score: float, masks: Sequence[np.ndarray | None]) -> dict:
    return {
        "video_id": vid,
        "category_id": cat,
        "score": score,
        "segmentations": [None if m is None else rle.encode(m) for m in masks],
    }


def box(h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """[h, w] bool mask set on rows y0:y1, columns x0:x1."""
    m = np.zeros((h, w), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def write_json(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj))
    return path
