"""Per-video pixel counts shared by VPQ and STQ.

Each video is read once. Segment ids of each side (ground truth, prediction) are mapped to
dense indices sorted by id, index 0 always being id 0 (void on the ground-truth side) and the
last index collecting ids that no ``segments_info`` of the video lists. Per frame, one
``bincount`` of ``gt_index * P + pred_index`` gives the [G, P] table of pixel intersections;
every quantity of both metrics is a function of these tables and of the JSON entries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FormatError
from ..formats.vipseg import Frame

_UNSET = np.uint16(0xFFFF)
_LUTS: dict[str, np.ndarray] = {}


@dataclass
class SideInfo:
    """What the JSON says about one side's segments in one video. T frames, N dense ids.

    Attributes:
        ids: [N] segment ids, sorted; ids[0] == 0; the last entry is a placeholder (-1)
            for ids that the video's JSON never lists.
        listed: [T, N] bool, the id is in that frame's ``segments_info``.
        cat_first: [T, N] category index of the id's first entry in the frame (-1: unlisted).
        cat_last: [T, N] category index of its last entry in the frame (-1: unlisted).
        crowd: [T, N] bool, ``iscrowd == 1`` in the first entry.
        area: [T, N] int64, sum of the JSON ``area`` of the id's entries in the frame.
        pos: [T, N] position of the first entry within the frame's ``segments_info``.
        order: [N] rank of first appearance walking ``segments_info`` frame by frame (-1: never).
    """

    ids: np.ndarray
    listed: np.ndarray
    cat_first: np.ndarray
    cat_last: np.ndarray
    crowd: np.ndarray
    area: np.ndarray
    pos: np.ndarray
    order: np.ndarray


@dataclass
class VideoCounts:
    """Pixel intersections of one video. ``inter``: [T, G, P] int64."""

    video_id: object
    gt: SideInfo
    pred: SideInfo
    inter: np.ndarray

    @property
    def pred_pixels(self) -> np.ndarray:
        """[T, P] pixels of each predicted id per frame, from the PNGs."""
        return self.inter.sum(axis=1)


def side_info(frames: Sequence[Frame], cat_index: dict[int, int], where: str) -> SideInfo:
    """Dense arrays of a side's ``segments_info`` (see `SideInfo`)."""
    order: dict[int, int] = {}
    for frame in frames:
        for seg in frame.segments:
            order.setdefault(seg.id, len(order))
    ids = np.array(sorted(set(order) | {0}) + [-1], dtype=np.int64)
    col = {int(v): i for i, v in enumerate(ids[:-1])}
    t_count, n = len(frames), ids.size
    listed = np.zeros((t_count, n), dtype=bool)
    cat_first = np.full((t_count, n), -1, dtype=np.int64)
    cat_last = np.full((t_count, n), -1, dtype=np.int64)
    crowd = np.zeros((t_count, n), dtype=bool)
    area = np.zeros((t_count, n), dtype=np.int64)
    pos = np.zeros((t_count, n), dtype=np.int64)
    for t, frame in enumerate(frames):
        for k, seg in enumerate(frame.segments):
            if seg.category_id not in cat_index:
                raise FormatError(
                    f"{where}: frame {frame.file_name}: segment id {seg.id} has unknown "
                    f"category_id {seg.category_id} (not in the ground truth's categories)"
                )
            j = col[seg.id]
            c = cat_index[seg.category_id]
            if not listed[t, j]:
                listed[t, j] = True
                cat_first[t, j] = c
                crowd[t, j] = seg.iscrowd == 1
                pos[t, j] = k
            cat_last[t, j] = c
            area[t, j] += seg.area
    rank = np.full(n, -1, dtype=np.int64)
    for seg_id, r in order.items():
        rank[col[seg_id]] = r
    return SideInfo(ids, listed, cat_first, cat_last, crowd, area, pos, rank)


def count_video(
    video_id: object,
    gt_frames: Sequence[Frame],
    pred_frames: Sequence[Frame],
    gt_path: Callable[[str], Path],
    pred_path: Callable[[str], Path],
    read_png: Callable[[Path, str], np.ndarray],
    cat_index: dict[int, int],
    where: tuple[str, str],
) -> VideoCounts:
    """Read the video's PNGs and count pixel intersections, checking the prediction.

    Args:
        gt_path / pred_path: map a ground-truth ``file_name`` to the PNG paths.
        read_png: reads an RGB id PNG -> [H, W] uint32 ids.
        where: (ground-truth JSON, prediction JSON) names for messages.
    """
    gt = side_info(gt_frames, cat_index, f"{where[0]}: video {video_id!r}")
    pred = side_info(pred_frames, cat_index, f"{where[1]}: video {video_id!r}")
    g_n, p_n = gt.ids.size, pred.ids.size
    inter = np.zeros((len(gt_frames), g_n, p_n), dtype=np.int64)
    with _Lookup("gt", gt.ids) as gt_lut, _Lookup("pred", pred.ids) as pred_lut:
        for t, frame in enumerate(gt_frames):
            gt_file, pred_file = gt_path(frame.file_name), pred_path(frame.file_name)
            gt_ids = read_png(gt_file, "ground-truth PNG")
            pred_ids = read_png(pred_file, "prediction PNG")
            if gt_ids.shape != pred_ids.shape:
                raise FormatError(
                    f"{pred_file}: prediction PNG is {pred_ids.shape[1]}x{pred_ids.shape[0]} "
                    f"but the ground-truth frame is {gt_ids.shape[1]}x{gt_ids.shape[0]}"
                )
            joint = gt_lut(gt_ids).astype(np.intp) * p_n
            joint += pred_lut(pred_ids)
            inter[t] = np.bincount(joint.ravel(), minlength=g_n * p_n).reshape(g_n, p_n)
            _check_prediction(inter[t].sum(axis=0), pred, t, pred_ids, pred_file)
    return VideoCounts(video_id, gt, pred, inter)


def _check_prediction(
    pixels: np.ndarray, pred: SideInfo, t: int, pred_ids: np.ndarray, path: Path
) -> None:
    """The official checks: every non-zero PNG id is listed, every listed id is in the PNG."""
    if pixels[-1] > 0:
        known = np.isin(pred_ids, pred.ids[:-1])
        bad = int(pred_ids[~known].flat[0])
        raise FormatError(
            f"{path}: segment id {bad} {_rgb(bad)} is in the PNG but not in pred.json"
        )
    listed = pred.listed[t]
    present = pixels > 0
    unlisted = present & ~listed
    unlisted[0] = False  # id 0 without an entry means "unlabelled"
    if unlisted.any():
        bad = int(pred.ids[np.flatnonzero(unlisted)[0]])
        raise FormatError(
            f"{path}: segment id {bad} {_rgb(bad)} is in the PNG but not in this frame's "
            "segments_info in pred.json"
        )
    missing = listed & ~present
    if missing.any():
        bad = int(pred.ids[np.flatnonzero(missing)[0]])
        raise FormatError(
            f"{path}: segment id {bad} {_rgb(bad)} is in this frame's segments_info in pred.json "
            "but not in the PNG"
        )


def _rgb(seg_id: int) -> str:
    return f"(RGB {seg_id & 255},{(seg_id >> 8) & 255},{seg_id >> 16})"


class _Lookup:
    """Maps 24-bit ids to dense indices through a reusable 2^24-entry table.

    Ids missing from ``ids`` map to the last index. Tables are cached per process and reset
    on exit, so each video costs only the writes of its own ids.
    """

    def __init__(self, name: str, ids: np.ndarray) -> None:
        self.name = name
        self.known = ids[:-1]
        self.last = ids.size - 1

    def __enter__(self) -> Callable[[np.ndarray], np.ndarray]:
        if self.last >= int(_UNSET):
            return self._search
        lut = _LUTS.get(self.name)
        if lut is None:
            lut = _LUTS[self.name] = np.full(2**24, _UNSET, dtype=np.uint16)
        lut[self.known] = np.arange(self.known.size, dtype=np.uint16)
        self.lut = lut
        return self._table

    def __exit__(self, *exc: object) -> None:
        if hasattr(self, "lut"):
            self.lut[self.known] = _UNSET

    def _table(self, ids: np.ndarray) -> np.ndarray:
        idx = self.lut[ids]
        np.minimum(idx, self.last, out=idx)
        return idx

    def _search(self, ids: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.known, ids)
        idx = np.minimum(idx, self.last)
        hit = self.known[np.minimum(idx, self.last - 1)] == ids
        return np.where(hit, idx, self.last)
