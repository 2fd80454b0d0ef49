"""VIPSeg panoptic video layouts: the VIPSeg_720P ground truth and the submission format.

Ground truth (``GT_DIR``)::

    panoptic_gt_VIPSeg_val.json        videos / annotations / categories
    panomasksRGB/<video>/<frame>.png   RGB ids, id = R + 256 G + 256^2 B, 0 = void

Submission (``PRED_DIR``)::

    pred.json                          {"annotations": [{"video_id", "annotations": [
                                          {"file_name", "segments_info": [{"id", "category_id"}]}]}]}
    pan_pred/<video>/<frame>.png       RGB ids as above, under the ground truth's file name

The same id in different frames of one video is the same segment (track). Frames pair with
the ground truth by their position in the list, and PNGs are opened under the ground truth's
``file_name``, as the official scripts do.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FormatError, InputError
from ._io import atomic_write_bytes, atomic_write_json, load_json
from .palette import check_id_map, encode_id_png, read_id_png

GT_JSON = "panoptic_gt_VIPSeg_val.json"
GT_MASKS = "panomasksRGB"
PRED_JSON = "pred.json"
PRED_MASKS = "pan_pred"

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Segment:
    """One entry of a frame's ``segments_info``."""

    id: int
    category_id: int
    iscrowd: int = 0
    area: int = 0


@dataclass
class Frame:
    """One annotated frame: its PNG name and its segments, in JSON order."""

    file_name: str
    segments: list[Segment]


@dataclass
class Category:
    """One entry of the ground truth's ``categories``."""

    id: int
    name: str
    isthing: bool


@dataclass
class GroundTruth:
    """A parsed ground-truth JSON with the folder of its RGB masks."""

    json_path: Path
    mask_dir: Path
    categories: list[Category]
    videos: dict[Any, list[Frame]]  # video_id -> frames, in the JSON's video order

    def mask_path(self, video_id: Any, file_name: str) -> Path:
        return self.mask_dir / str(video_id) / file_name


@dataclass
class Submission:
    """A parsed ``pred.json`` with the folder of its RGB masks."""

    root: Path
    videos: dict[Any, list[Frame]]

    @property
    def json_path(self) -> Path:
        return self.root / PRED_JSON

    def mask_path(self, video_id: Any, file_name: str) -> Path:
        return self.root / PRED_MASKS / str(video_id) / file_name


def read_ground_truth(gt: Path | str, warn: Warn | None = None) -> GroundTruth:
    """Read a VIPSeg ground truth: a VIPSeg_720P folder, or the JSON inside one."""
    gt = Path(gt)
    if gt.is_dir():
        json_path = gt / GT_JSON
        if not json_path.is_file():
            found = ", ".join(sorted(p.name for p in gt.glob("*.json"))) or "none"
            raise InputError(
                f"{json_path}: not found (JSON files there: {found}); pass the ground-truth JSON itself as --gt"
            )
    elif gt.is_file():
        json_path = gt
    else:
        raise InputError(f"{gt}: no such ground-truth folder or JSON file")
    mask_dir = json_path.parent / GT_MASKS
    if not mask_dir.is_dir():
        raise InputError(f"{mask_dir}: ground-truth mask folder not found next to {json_path.name}")
    data = load_json(json_path, "ground-truth JSON")
    where = str(json_path)
    if not isinstance(data, dict):
        raise FormatError(f"{where}: expected a JSON object with videos, annotations, categories")
    categories = [_category(c, where) for c in _list(data, "categories", where)]
    annotations = {}
    for entry in _list(data, "annotations", where):
        vid = _field(entry, "video_id", where)
        annotations[vid] = _list(entry, "annotations", f"{where}: video {vid!r}")
    videos: dict[Any, list[Frame]] = {}
    for entry in _list(data, "videos", where):
        vid = _field(entry, "video_id", where)
        ctx = f"{where}: video {vid!r}"
        images = _list(entry, "images", ctx)
        if vid not in annotations:
            raise FormatError(f"{ctx} has no entry in 'annotations'")
        frames = annotations[vid]
        if len(frames) != len(images):
            (warn or _no_warn)(
                f"{ctx}: {len(images)} images but {len(frames)} annotated frames; "
                f"using the first {min(len(images), len(frames))}, as the official scripts do"
            )
        videos[vid] = [
            Frame(_str(img, "file_name", ctx), _segments(ann, ctx, gt_side=True))
            for img, ann in zip(images, frames, strict=False)
        ]
    return GroundTruth(json_path, mask_dir, categories, videos)


def read_submission(pred_dir: Path | str) -> Submission:
    """Read ``pred.json`` of a submission folder (the PNGs are read later, frame by frame)."""
    root = Path(pred_dir)
    if not root.is_dir():
        raise InputError(f"{root}: prediction folder not found (expected pred.json and pan_pred/)")
    json_path = root / PRED_JSON
    data = load_json(json_path, "prediction JSON")
    where = str(json_path)
    if not isinstance(data, dict):
        raise FormatError(f"{where}: expected a JSON object with 'annotations'")
    videos: dict[Any, list[Frame]] = {}
    for entry in _list(data, "annotations", where):
        vid = _field(entry, "video_id", where)
        ctx = f"{where}: video {vid!r}"
        videos[vid] = [
            Frame(
                str(ann.get("file_name", "")) if isinstance(ann, dict) else "", _segments(ann, ctx)
            )
            for ann in _list(entry, "annotations", ctx)
        ]
    return Submission(root, videos)


class PanopticWriter:
    """Writes a VIPSeg-layout folder: RGB id PNGs now, the JSON on `close`.

    ``kind="submission"`` writes ``pred.json`` + ``pan_pred/``; ``kind="ground_truth"`` writes
    ``panoptic_gt_VIPSeg_val.json`` (or ``json_name``) + ``panomasksRGB/``. Each file is written
    to a temporary name first and moved into place, so readers never see half a file.
    ``compress_level`` (0-9) trades PNG size for writing speed.
    """

    def __init__(
        self,
        root: Path | str,
        kind: str = "submission",
        categories: Sequence[Mapping[str, Any]] | None = None,
        json_name: str | None = None,
        compress_level: int = 6,
    ) -> None:
        if kind not in ("submission", "ground_truth"):
            raise ValueError(f"kind must be 'submission' or 'ground_truth', not {kind!r}")
        self.root = Path(root)
        self.kind = kind
        self.compress_level = compress_level
        self.categories = [dict(c) for c in categories or []]
        gt = kind == "ground_truth"
        self.json_path = self.root / (json_name or (GT_JSON if gt else PRED_JSON))
        self.mask_dir = self.root / (GT_MASKS if gt else PRED_MASKS)
        self._videos: dict[Any, list[dict[str, Any]]] = {}
        self._sizes: dict[Any, tuple[int, int]] = {}
        # a submission's frame entries go to a temporary file, not memory: a long video's
        # pred.json is streamed together on `close`
        self._spill_path = self.root / f".{PRED_JSON}.{os.getpid()}.{id(self):x}.jsonl"
        self._spill: Any = None
        self._spilled: dict[Any, int] = {}  # video_id -> frames, in first-seen order

    def add_frame(
        self,
        video_id: Any,
        file_name: str,
        ids: np.ndarray,
        categories: Mapping[int, int],
        crowd: frozenset[int] = frozenset(),
        areas: Mapping[int, int] | None = None,
    ) -> dict[str, Any]:
        """Write one frame.

        Args:
            video_id: the video's id (a folder name).
            file_name: the PNG name, e.g. ``"00000.png"``.
            ids: [H, W] segment ids (0 = void / unlabelled, at most 2^24 - 1).
            categories: category id of every non-zero id in ``ids``; extra keys are dropped.
            crowd: ids to mark ``iscrowd`` (ground truth only).
            areas: the pixel count of every id in ``ids`` when the caller has counted them
                (ids absent from it, or with 0 pixels, are not listed); None: counted here.

        Returns:
            The frame's JSON entry.
        """
        check_id_map(ids)
        if areas is None:
            present, area = np.unique(ids, return_counts=True)
            pairs = zip(present.tolist(), area.tolist(), strict=True)
        else:
            pairs = ((k, int(areas[k])) for k in sorted(areas) if areas[k] > 0)
        segments = []
        for seg_id, seg_area in pairs:
            if seg_id == 0:
                continue
            if seg_id not in categories:
                raise ValueError(f"segment id {seg_id} in frame {file_name} has no category")
            segments.append(
                {
                    "id": seg_id,
                    "category_id": int(categories[seg_id]),
                    "iscrowd": int(seg_id in crowd),
                    "area": seg_area,
                }
            )
        # checked above: written without a second check
        atomic_write_bytes(
            self.mask_dir / str(video_id) / file_name, encode_id_png(ids, self.compress_level)
        )
        stem = Path(file_name).stem
        entry = {"image_id": stem, "file_name": file_name, "segments_info": segments}
        self._sizes.setdefault(video_id, (int(ids.shape[0]), int(ids.shape[1])))
        if self.kind != "submission":
            self._videos.setdefault(video_id, []).append(entry)
            return entry
        if self._spill is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._spill = open(self._spill_path, "w", encoding="utf-8")  # noqa: SIM115
        self._spilled[video_id] = self._spilled.get(video_id, 0) + 1
        line = json.dumps(video_id) + "\t" + json.dumps(entry, separators=(",", ":"))
        self._spill.write(line + "\n")
        return entry

    def _write_submission(self) -> None:
        """pred.json streamed from the spilled entries: byte for byte what
        ``atomic_write_json`` writes for the same object."""
        if self._spill is not None:
            self._spill.close()
            self._spill = None
        self.json_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{PRED_JSON}.", suffix=".tmp", dir=self.json_path.parent
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write('{"annotations":[')
                for k, vid in enumerate(self._spilled):
                    out.write(f'{"," if k else ""}{{"video_id":{json.dumps(vid)},"annotations":[')
                    out.write(",".join(self._entries_of(vid)))
                    out.write("]}")
                out.write("]}")
            os.replace(tmp, self.json_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        finally:
            self._spill_path.unlink(missing_ok=True)

    def _entries_of(self, video_id: Any) -> Iterator[str]:
        """The spilled entries of one video, in order (one pass over the file per video when
        the frames of several videos were interleaved, otherwise one pass in all)."""
        if not self._spilled.get(video_id) or not self._spill_path.exists():
            return
        key = json.dumps(video_id)
        with open(self._spill_path, encoding="utf-8") as f:
            for line in f:
                vid, entry = line.rstrip("\n").split("\t", 1)
                if vid == key:
                    yield entry

    def close(self) -> Path:
        """Write the JSON (atomically) and return its path."""
        if self.kind == "submission":
            self._write_submission()
            return self.json_path
        annotations = [{"video_id": v, "annotations": f} for v, f in self._videos.items()]
        videos = []
        for vid, frames in self._videos.items():
            h, w = self._sizes[vid]
            images = [
                {"id": f["image_id"], "width": w, "height": h, "file_name": f["file_name"]}
                for f in frames
            ]
            videos.append({"video_id": vid, "images": images})
        obj = {"videos": videos, "annotations": annotations, "categories": self.categories}
        atomic_write_json(self.json_path, obj)
        return self.json_path

    def __enter__(self) -> PanopticWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()


__all__ = [
    "Category",
    "Frame",
    "GroundTruth",
    "PanopticWriter",
    "Segment",
    "Submission",
    "read_ground_truth",
    "read_id_png",
    "read_submission",
]


# -- parsing helpers ---------------------------------------------------------------------------


def _no_warn(msg: str) -> None:
    return None


def _field(obj: Any, key: str, ctx: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise FormatError(f"{ctx}: an entry lacks '{key}'")
    return obj[key]


def _list(obj: Any, key: str, ctx: str) -> list:
    value = _field(obj, key, ctx)
    if not isinstance(value, list):
        raise FormatError(f"{ctx}: '{key}' must be a list")
    return value


def _str(obj: Any, key: str, ctx: str) -> str:
    value = _field(obj, key, ctx)
    if not isinstance(value, str) or not value or "/" in value or value.startswith("."):
        raise FormatError(f"{ctx}: '{key}' must be a plain file name, got {value!r}")
    return value


def _int(obj: dict, key: str, ctx: str, default: int | None = None) -> int:
    if key not in obj and default is not None:
        return default
    value = _field(obj, key, ctx)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or int(value) != value
    ):
        raise FormatError(f"{ctx}: '{key}' must be an integer, got {value!r}")
    return int(value)


def _category(obj: Any, ctx: str) -> Category:
    cid = _int(_dict(obj, ctx), "id", ctx)
    return Category(cid, str(obj.get("name", cid)), _int(obj, "isthing", ctx, default=0) == 1)


def _dict(obj: Any, ctx: str) -> dict:
    if not isinstance(obj, dict):
        raise FormatError(f"{ctx}: expected an object, got {type(obj).__name__}")
    return obj


def _segments(ann: Any, ctx: str, gt_side: bool = False) -> list[Segment]:
    segs = _list(_dict(ann, ctx), "segments_info", ctx)
    out = []
    for s in segs:
        s = _dict(s, ctx)
        area = _int(s, "area", ctx) if gt_side else 0
        out.append(
            Segment(
                _int(s, "id", ctx), _int(s, "category_id", ctx), _int(s, "iscrowd", ctx, 0), area
            )
        )
    return out
