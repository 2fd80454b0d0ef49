"""YouTube-VIS (2019 / 2021 / 2022) and OVIS instance-tracking JSON: ground truth and results.

Ground truth: ``{"videos": [{"id", "width", "height", "length", "file_names"}],
"categories": [{"id", "name"}], "annotations": [{"id", "video_id", "category_id", "iscrowd",
"segmentations": [RLE | null per frame], "areas": [int | null per frame]}]}``.

Results (what the evaluation servers take, zipped): a JSON list of tracks
``{"video_id", "category_id", "score", "segmentations": [RLE | null per frame]}`` with
compressed COCO RLE masks (see `rle`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FormatError, InputError
from . import rle
from ._io import atomic_write_bytes, load_json

Warn = Callable[[str], None]


@dataclass
class Video:
    id: int
    height: int
    width: int
    length: int


@dataclass
class Track:
    """One object over a whole video (a GT annotation or a result).

    ``segmentations``: one RLE dict or None per frame, as in the file. ``areas``: per frame
    pixel counts or None (GT: the file's ``areas``; results: filled in by the evaluator).
    ``where``: "file: entry i" for error messages.
    """

    video_id: int
    category_id: int
    segmentations: list[dict[str, Any] | None]
    areas: list[float | None] | None
    score: float
    iscrowd: int
    id: int
    where: str


@dataclass
class GroundTruth:
    path: Path
    videos: dict[int, Video]
    category_ids: list[int]
    category_names: dict[int, str]
    annotations: list[Track]


def read_ground_truth(path: Path | str, warn: Warn | None = None) -> GroundTruth:
    """Read a YouTube-VIS / OVIS annotation file (val / test style, with masks)."""
    path = Path(path)
    data = load_json(path, "ground-truth JSON")
    where = str(path)
    if not isinstance(data, dict):
        raise FormatError(f"{where}: expected a JSON object with videos, categories, annotations")
    for key in ("videos", "categories", "annotations"):
        if not isinstance(data.get(key), list):
            raise FormatError(
                f"{where}: '{key}' is missing or not a list"
                + (
                    "; a ground truth with masks is needed (not an image-list file)"
                    if key == "annotations"
                    else ""
                )
            )
    videos = {}
    for v in data["videos"]:
        vid = _int(v, "id", where)
        videos[vid] = Video(
            vid, _int(v, "height", where), _int(v, "width", where),
            _int(v, "length", where) if "length" in v else len(v.get("file_names") or []),
        )  # fmt: skip
    names = {_int(c, "id", where): str(c.get("name", "")) for c in data["categories"]}
    anns = []
    missing_crowd = 0
    for i, a in enumerate(data["annotations"]):
        ctx = f"{where}: annotation {i}"
        segs = _segmentations(a, ctx)
        if any(isinstance(s, list) for s in segs):
            raise FormatError(
                f"{ctx}: polygon segmentations are not supported; convert them to RLE"
            )
        areas = a.get("areas") if isinstance(a, dict) else None
        if not isinstance(areas, list) or not all(_is_area(x) for x in areas):
            raise FormatError(f"{ctx}: 'areas' must be a list of numbers or null, one per frame")
        if "iscrowd" not in a:
            missing_crowd += 1
        anns.append(
            Track(
                _int(a, "video_id", ctx), _int(a, "category_id", ctx), segs, list(areas), 0.0,
                int(bool(a.get("iscrowd", 0))), _int(a, "id", ctx), ctx,
            )
        )  # fmt: skip
    if warn and missing_crowd:
        warn(f"{where}: {missing_crowd} annotation(s) without 'iscrowd' are taken as iscrowd=0")
    stray = sum(a.video_id not in videos or a.category_id not in names for a in anns)
    if warn and stray:
        warn(f"{where}: {stray} annotation(s) of unlisted videos or categories are ignored")
    return GroundTruth(path, videos, sorted(set(names)), names, anns)


def read_results(
    path: Path | str, gt: GroundTruth, warn: Warn | None = None, skip_unknown_videos: bool = False
) -> list[Track]:
    """Read a results file against its ground truth.

    Tracks of categories absent from the GT are dropped (the official loader does so silently;
    we warn). A video absent from the GT is an error, as in the official loader, unless
    ``skip_unknown_videos`` (to score a subset, e.g. YouTube-VIS 2022's long videos). Tracks are
    numbered 1..N in file order, as the official loader does.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; pass the results JSON file (results.json)")
    data = load_json(path, "results JSON")
    where = str(path)
    if not isinstance(data, list):
        raise FormatError(f"{where}: results must be a JSON list of tracks")
    warn = warn or (lambda msg: None)
    if not data:
        warn(f"{where}: no tracks; every category with ground truth scores 0")
    cats = set(gt.category_ids)
    tracks: list[Track] = []
    dropped, unknown, wrong_length, wrong_size = 0, 0, 0, 0
    for i, r in enumerate(data):
        ctx = f"{where}: entry {i}"
        vid = _int(r, "video_id", ctx)
        if vid not in gt.videos:
            if skip_unknown_videos:
                unknown += 1
                continue
            raise FormatError(
                f"{ctx}: video_id {vid} is not in the ground truth {gt.path.name} "
                "(use --skip-unknown-videos to score a subset of videos)"
            )
        score = r.get("score")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or math.isnan(score):
            raise FormatError(f"{ctx}: 'score' must be a number, got {score!r}")
        cat = _int(r, "category_id", ctx)
        segs = _segmentations(r, ctx)
        if any(isinstance(s, list) for s in segs):
            raise FormatError(f"{ctx}: results must use RLE masks, not polygons")
        if cat not in cats:
            dropped += 1
            continue
        video = gt.videos[vid]
        wrong_length += len(segs) != video.length
        wrong_size += any(s is not None and s["size"] != [video.height, video.width] for s in segs)
        tracks.append(Track(vid, cat, segs, None, float(score), 0, i + 1, ctx))
    if dropped:
        warn(f"{where}: {dropped} track(s) with a category_id not in the ground truth are ignored")
    if unknown:
        warn(f"{where}: {unknown} track(s) of videos not in {gt.path.name} are skipped")
    if wrong_length:
        warn(
            f"{where}: {wrong_length} track(s) do not have one mask entry per video frame; as in "
            "the official evaluator, frames past the shorter list are left out of the IoU"
        )
    if wrong_size:
        warn(
            f"{where}: {wrong_size} track(s) have masks of another size than their video; as in "
            "the official evaluator, such a frame adds nothing where the ground truth has a mask"
        )
    return tracks


def result_entry(
    video_id: int, category_id: int, score: float, masks: Sequence[np.ndarray | None]
) -> dict[str, Any]:
    """One results entry. ``masks``: per frame an [H, W] bool mask, or None (no mask)."""
    return {
        "video_id": int(video_id),
        "category_id": int(category_id),
        "score": float(score),
        "segmentations": [None if m is None else rle.encode(m) for m in masks],
    }


def write_results(path: Path | str, entries: Iterable[dict[str, Any]]) -> Path:
    """Write a results list (see `result_entry`) atomically; returns the path."""
    path = Path(path)
    atomic_write_bytes(path, json.dumps(list(entries), separators=(",", ":")).encode("utf-8"))
    return path


def _segmentations(obj: Any, ctx: str) -> list:
    segs = obj.get("segmentations") if isinstance(obj, dict) else None
    if not isinstance(segs, list):
        raise FormatError(f"{ctx}: 'segmentations' must be a list with one RLE or null per frame")
    out = []
    for t, s in enumerate(segs):
        if not s:  # null (or an empty object, which the official loader also skips)
            out.append(None)
        elif isinstance(s, list) or (isinstance(s, dict) and "counts" in s and "size" in s):
            out.append(s)
        else:
            raise FormatError(f"{ctx}: frame {t}: a mask must be an RLE {{size, counts}} or null")
    return out


def _is_area(x: Any) -> bool:
    return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool))


def _int(obj: Any, key: str, ctx: str) -> int:
    value = obj.get(key) if isinstance(obj, dict) else None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or int(value) != value
    ):
        raise FormatError(f"{ctx}: '{key}' must be an integer, got {value!r}")
    return int(value)
