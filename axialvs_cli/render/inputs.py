"""What `axialvs render` draws: one video's id maps from a prediction or a ground truth.

Accepted sources (`open_labels`):

* a submission folder (``pred.json`` + ``pan_pred/<video>/``, what `axialvs segment` writes);
* a VIPSeg ground-truth folder (``panoptic_gt_VIPSeg_*.json`` + ``panomasksRGB/<video>/``) or
  the JSON itself;
* one video's folder of RGB-id PNGs (``pan_pred/<video>/``, ``panomasksRGB/<video>/`` or any
  folder; the categories are read from the JSON two levels up when there is one), or a folder
  holding ``<video>/``;
* a YouTube-VIS results file (``results.json``): each track is painted with its position in
  the file (1, 2, ...) as id, lower scores first so the best track ends on top.

Frames pair with the video's frames by position, as `segment` writes them (one entry per
decoded frame, named after the frame).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FormatError, InputError
from ..formats import rle
from ..formats._io import load_json
from ..formats.palette import read_id_png
from ..formats.vipseg import (
    GT_JSON,
    GT_MASKS,
    PRED_JSON,
    PRED_MASKS,
    read_ground_truth,
    read_submission,
)
from ..formats.vipseg import Frame as VipsegFrame
from ..video import list_frames
from .draw import ClassInfo

__all__ = ["LabelFrames", "classes_from_json", "open_labels", "parse_frames"]

IdFrame = tuple[np.ndarray, dict[int, int] | None]  # (H, W) ids, id -> category id (None: unknown)


@dataclass
class LabelFrames:
    """One video's id maps, read one frame at a time.

    Attributes:
        where: the source, for messages (``out/pred.json, video 'clip'``).
        names: frame stems in order (None: not named, e.g. results.json).
        kind: "panoptic", "results" or "ids" (bare PNGs).
        classes: category id -> `ClassInfo` from the source's own JSON, or None.
    """

    where: str
    names: list[str] | None
    kind: str
    classes: dict[int, ClassInfo] | None
    read: Callable[[int], IdFrame]
    count: int

    def __len__(self) -> int:
        return self.count


def classes_from_json(data: Any, where: str) -> dict[int, ClassInfo]:
    """``{"categories": [...]}`` or a list of ``{"id", "name", "isthing", "color"}`` entries ->
    category id -> `ClassInfo` (``isthing`` missing: thing; ``color`` missing: derived)."""
    cats = data.get("categories") if isinstance(data, dict) else data
    if not isinstance(cats, list):
        raise FormatError(f"{where}: expected a list of categories or an object with 'categories'")
    out = {}
    for entry in cats:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), int):
            raise FormatError(f"{where}: every category needs an integer 'id' (and 'name')")
        colour = entry.get("color")
        ok = (
            isinstance(colour, list)
            and len(colour) == 3
            and all(isinstance(c, int) for c in colour)
        )
        out[entry["id"]] = ClassInfo(
            str(entry.get("name", entry["id"])),
            bool(entry.get("isthing", True)),
            tuple(c % 256 for c in colour) if ok else None,  # type: ignore[arg-type]
        )
    return out


def open_labels(path: Path, video: str, video_id: str | None = None) -> LabelFrames:
    """The id maps of `video` (its file stem or folder name) in `path`; `video_id` overrides
    the name. Raises a one-line error when `path` holds no such video."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such prediction / ground-truth file or folder")
    if path.is_file():
        if path.name == PRED_JSON:
            return _submission(path.parent, video_id or video)
        data = load_json(path, "JSON")
        if isinstance(data, list):
            return _results(path, data, video, video_id)
        return _ground_truth(path, video_id or video)
    if (path / PRED_JSON).is_file():
        return _submission(path, video_id or video)
    gt_json = _gt_json(path)
    if gt_json is not None and (path / GT_MASKS).is_dir():
        return _ground_truth(gt_json, video_id or video)
    pngs = [p for p in list_frames(path) if p.suffix.lower() == ".png"]
    if pngs:
        return _png_folder(path, pngs)
    inner = path / (video_id or video)
    if inner.is_dir():
        return open_labels(inner, video, video_id)
    raise InputError(
        f"{path}: neither a submission folder (pred.json + pan_pred/), a VIPSeg ground truth "
        f"({GT_JSON} + {GT_MASKS}/), a folder of id PNGs, nor a folder holding "
        f"{video_id or video}/"
    )


def _gt_json(folder: Path) -> Path | None:
    if (folder / GT_JSON).is_file():
        return folder / GT_JSON
    found = sorted(folder.glob("panoptic_gt_*.json"))
    return found[0] if len(found) == 1 else None


def _pick_video(available: list[Any], wanted: str, where: str) -> Any:
    for key in available:
        if str(key) == wanted:
            return key
    shown = ", ".join(map(str, available[:8])) + (", ..." if len(available) > 8 else "")
    raise InputError(
        f"{where} has no video {wanted!r} (it has {shown or 'none'}); these are the "
        "predictions of another video, or pass --video-id"
    )


def _vipseg(
    where: str, frames: list[VipsegFrame], mask: Callable[[str], Path], classes: Any
) -> LabelFrames:
    def read(i: int) -> IdFrame:
        frame = frames[i]
        ids = read_id_png(mask(frame.file_name), "id PNG")
        return ids, {s.id: s.category_id for s in frame.segments}

    names = [Path(f.file_name).stem for f in frames]
    return LabelFrames(where, names, "panoptic", classes, read, len(frames))


def _submission(root: Path, video: str) -> LabelFrames:
    sub = read_submission(root)
    key = _pick_video(list(sub.videos), video, str(sub.json_path))
    data = load_json(sub.json_path, "prediction JSON")
    if "categories" in data:
        classes = classes_from_json(data, str(sub.json_path))
    else:
        classes = _classes_from_summary(sub.json_path)
    where = f"{sub.json_path}, video {key!r}"
    return _vipseg(where, sub.videos[key], lambda name: sub.mask_path(key, name), classes)


def _ground_truth(json_path: Path, video: str) -> LabelFrames:
    gt = read_ground_truth(json_path)
    key = _pick_video(list(gt.videos), video, str(json_path))
    classes = classes_from_json(load_json(json_path, "ground-truth JSON"), str(json_path))
    where = f"{json_path}, video {key!r}"
    return _vipseg(where, gt.videos[key], lambda name: gt.mask_path(key, name), classes)


def _png_folder(folder: Path, pngs: list[Path]) -> LabelFrames:
    """A folder of id PNGs; with the submission / ground-truth JSON two levels up if any."""
    parent, root = folder.parent.name, folder.parent.parent
    if parent == PRED_MASKS and (root / PRED_JSON).is_file():
        return _submission(root, folder.name)
    gt_json = _gt_json(root) if parent == GT_MASKS else None
    if gt_json is not None:
        return _ground_truth(gt_json, folder.name)

    def read(i: int) -> IdFrame:
        return read_id_png(pngs[i], "id PNG"), None

    return LabelFrames(str(folder), [p.stem for p in pngs], "ids", None, read, len(pngs))


def _results(path: Path, data: list, video: str, video_id: str | None) -> LabelFrames:
    """One video's tracks of a YouTube-VIS results list."""
    tracks: dict[int, list[tuple[int, dict]]] = {}  # video_id -> [(position + 1, entry)]
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or not isinstance(entry.get("video_id"), int):
            raise FormatError(f"{path}: entry {i} needs an integer 'video_id'")
        if not isinstance(entry.get("segmentations"), list):
            raise FormatError(f"{path}: entry {i}: 'segmentations' must be a list, one per frame")
        tracks.setdefault(entry["video_id"], []).append((i + 1, entry))
    if video_id is None:
        video_id = _id_from_summary(path, video)
    if video_id is None and len(tracks) > 1:
        raise InputError(
            f"{path} holds {len(tracks)} videos (video_id {', '.join(map(str, sorted(tracks)))}); "
            "choose one with --video-id"
        )
    key = next(iter(tracks), 1) if video_id is None else _int_id(video_id)
    if tracks and key not in tracks:
        raise InputError(f"{path} has no track of video_id {key}; pass another --video-id")
    chosen = sorted(tracks.get(key, []), key=lambda t: float(t[1].get("score", 0.0)))
    count = max((len(e["segmentations"]) for _, e in chosen), default=0)
    if not chosen:
        raise InputError(f"{path}: no tracks to draw")

    def read(i: int) -> IdFrame:
        ids: np.ndarray | None = None
        for number, entry in chosen:  # lowest score first: the best is painted last
            segs = entry["segmentations"]
            if i < len(segs) and segs[i]:
                mask = rle.decode(segs[i])
                ids = np.zeros(mask.shape, np.int64) if ids is None else ids
                if ids.shape != mask.shape:
                    raise FormatError(f"{path}: frame {i}: masks of different sizes")
                ids[mask] = number
        cats = {number: int(entry.get("category_id", 0)) for number, entry in chosen}
        return (ids if ids is not None else np.zeros((0, 0), np.int64)), cats

    classes = _classes_from_summary(path)
    return LabelFrames(f"{path}, video_id {key}", None, "results", classes, read, count)


def _int_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(f"--video-id {text!r}: a results file needs an integer video_id") from None


def _id_from_summary(results: Path, video: str) -> str | None:
    """The video_id `segment` gave `video`, from the summary.json beside the results."""
    summary = results.parent / "summary.json"
    if not summary.is_file():
        return None
    data = load_json(summary, "summary JSON")
    for entry in data.get("videos", []) if isinstance(data, dict) else []:
        if isinstance(entry, dict) and entry.get("video") == video and "video_id" in entry:
            return str(entry["video_id"])
    return None


def _classes_from_summary(beside: Path) -> dict[int, ClassInfo] | None:
    """The model's classes, from the summary.json `segment` writes beside pred.json /
    results.json (None when there is none, or it predates the "categories" entry)."""
    summary = beside.parent / "summary.json"
    if not summary.is_file():
        return None
    data = load_json(summary, "summary JSON")
    if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
        return None
    return classes_from_json(data, str(summary))


def parse_frames(spec: str | None, count: int, where: str) -> tuple[int, int] | None:
    """``"N"`` -> (N, N + 1), ``"A:B"`` -> (A, B), ``"A:"`` -> (A, count); None -> None.
    A range past the `count` frames of `where` is a one-line error."""
    if spec is None:
        return None
    first, sep, last = spec.partition(":")
    try:
        a = int(first) if first else 0
        b = (int(last) if last else count) if sep else a + 1
    except ValueError:
        raise InputError(f"--frames {spec!r} is not N or A:B (frame numbers from 0)") from None
    if not 0 <= a < b:
        raise InputError(f"--frames {spec!r}: need 0 <= A < B")
    if b > count:
        raise InputError(
            f"--frames {spec!r} is beyond the end of the video: {where} has {count} frames "
            f"(0..{count - 1})"
        )
    return a, b
