"""From one video's clip predictions to the output files (used by `inference.runner`).

`VideoOutputs` post-processes every clip (`postprocess`), gives panoptic segments their stable
ids (`tracking.SegmentIds`) and writes them with the VIPSeg submission writer; for instances it
accumulates per-query mask statistics over the video and spills each frame's RLE masks to a
temporary file, so that only the chosen top-k tracks are ever gathered in memory.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import CheckpointError, OutputError, OutputExistsError, os_error_line
from ..formats._io import pid_alive
from ..formats.vipseg import PanopticWriter
from ..inference.preprocess import FrameGeometry, FrameInfo
from ..inference.tracking import ClipPrediction, SegmentIds
from ..inference.video_level import VideoLevelPanoptic
from .masks import ClipMasks, clip_masks, rle_strings
from .postprocess import ClipPainting, Thresholds, class_scores, paint_clip

__all__ = [
    "ClassTable",
    "VideoOutputs",
    "check_output_folder",
    "classes_from_meta",
    "commit_folder",
    "make_partial",
    "unique_names",
]


SCORE_DIGITS = 4  # decimals of the scores in results.json: mask scores are evaluated in
# float32 (about 1e-8 relative), so further digits would not be significant


@dataclass(frozen=True)
class ClassTable:
    """The model's classes in class-index order (from the checkpoint's ``meta["classes"]``)."""

    ids: list[int]  # dataset category id written to the outputs
    names: list[str]
    is_thing: list[bool]
    colours: list[tuple[int, int, int]]

    def name_of(self, index: int) -> str:
        return self.names[index]


def _colour(entry: dict[str, Any], index: int) -> tuple[int, int, int]:
    value = entry.get("color")
    if (
        isinstance(value, (list, tuple))
        and len(value) == 3
        and all(isinstance(c, int) for c in value)
    ):
        return (value[0] % 256, value[1] % 256, value[2] % 256)
    return (40 + (index * 67) % 200, 40 + (index * 131) % 200, 40 + (index * 199) % 200)


def classes_from_meta(meta: dict[str, Any], num_classes: int, source: str) -> ClassTable:
    """Read ``meta["classes"]``: a list of ``num_classes`` dicts in class-index order with
    ``id`` (int, the dataset's category id), ``name`` (str), ``isthing`` (0/1 or bool) and
    optionally ``color`` ([r, g, b])."""
    classes = meta.get("classes") if isinstance(meta, dict) else None
    if not isinstance(classes, list) or len(classes) != num_classes:
        found = "none" if not isinstance(classes, list) else f"{len(classes)} entries"
        raise CheckpointError(
            f"{source}: meta['classes'] must list the model's {num_classes} classes "
            f"(found {found}); save the checkpoint with meta={{'classes': [{{'id', 'name', "
            "'isthing', 'color'}, ...]}} (axialvs train / axialvs convert do)"
        )
    ids, names, things, colours = [], [], [], []
    for index, entry in enumerate(classes):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), int):
            raise CheckpointError(
                f"{source}: meta['classes'][{index}] needs an integer 'id' (and 'name', 'isthing')"
            )
        ids.append(int(entry["id"]))
        names.append(str(entry.get("name", entry["id"])))
        things.append(bool(entry.get("isthing", 0)))
        colours.append(_colour(entry, index))
    if len(set(ids)) != len(ids):
        raise CheckpointError(f"{source}: meta['classes'] repeats a category id")
    return ClassTable(ids, names, things, colours)


class VideoOutputs:
    """Post-processing and writing for one video.

    Args:
        video_name: folder name under ``pan_pred/`` and ``video_id`` in ``pred.json``.
        video_id: integer ``video_id`` of the YouTube-VIS results.
        geometry: the video's frame geometry.
        classes: the model's classes.
        thresholds: post-processing thresholds.
        panoptic: the submission writer, or None (no panoptic output).
        spill: temporary file for instance masks, or None (no instance output).
        device: where post-processing runs.
        normalise: "softmax" over queries (Video-kMaX) or "sigmoid" per query (Tube-Link).
        on_frame: called with every written panoptic frame: (frame, (H, W) ids, id ->
            category id); `segment --render` draws it.
    """

    def __init__(
        self,
        video_name: str,
        video_id: int,
        geometry: FrameGeometry,
        classes: ClassTable,
        thresholds: Thresholds,
        panoptic: PanopticWriter | None,
        spill: Path | None,
        device: torch.device,
        normalise: str = "softmax",
        on_frame: Callable[[FrameInfo, np.ndarray, Mapping[int, int]], None] | None = None,
    ) -> None:
        self.video_name = video_name
        self.video_id = video_id
        self.geometry = geometry
        self.classes = classes
        self.thresholds = thresholds
        self.panoptic = panoptic
        self.ids = SegmentIds(classes.is_thing, classes.colours)
        self.is_thing = torch.tensor(classes.is_thing, dtype=torch.bool, device=device)
        self.device = device
        self.normalise = normalise
        self.on_frame = on_frame
        self.frames = 0
        self.present: set[int] = set()  # class indices painted somewhere
        self._spill_path = spill
        self._spill = open(spill, "w", encoding="utf-8") if spill is not None else None  # noqa: SIM115
        self._prob_sum: Tensor | None = None
        self._area: Tensor | None = None
        self.video_level: VideoLevelPanoptic | None = None  # `--post video`, set by the caller

    def add_clip(self, pred: ClipPrediction, frames: list[FrameInfo]) -> None:
        """Post-process and write the real frames of one clip (padding frames are dropped);
        with `video_level` set (`--post video`) the clip goes to it and is painted by
        `paint_video` after the last one."""
        self.add_masks(*self.masks_of(pred, frames))

    def masks_of(
        self, pred: ClipPrediction, frames: list[FrameInfo]
    ) -> tuple[ClipPrediction, list[FrameInfo], ClipMasks]:
        """The first half of `add_clip`: the clip's binary masks. It reads nothing that
        `add_masks` changes, so the masks of the next clip may be computed on another thread
        while this one is painted and written."""
        valid = min(pred.valid, len(frames))
        logits = pred.mask_logits[:, :valid].to(self.device)  # (N, T', h, w)
        return (
            pred,
            frames,
            clip_masks(logits, self.geometry, self.thresholds.pixel, self.normalise),
        )

    def add_masks(self, pred: ClipPrediction, frames: list[FrameInfo], masks: ClipMasks) -> None:
        """The second half of `add_clip`, in clip order: paint, write, accumulate."""
        valid = min(pred.valid, len(frames))
        if self.video_level is not None:
            self.video_level.add_clip(pred.mask_logits[:, :valid], frames[:valid], masks)
        if self.panoptic is not None and self.video_level is None:
            scores, labels = class_scores(pred.class_logits.to(self.device))
            painting = paint_clip(masks, scores, labels, self.is_thing, self.thresholds)
            self._write_panoptic(painting, labels.tolist(), frames[:valid])
        if self._spill is not None:
            self._accumulate(masks)
            self._spill_frames(masks)
        self.frames += valid

    def paint_video(self, class_logits: Tensor) -> None:
        """`--post video`: paint and write every frame from the video's final class logits."""
        if self.video_level is None:
            return
        labels = class_scores(class_logits.cpu())[1].tolist()
        for painting, frames in self.video_level.paint(class_logits):
            self._write_panoptic(painting, labels, frames)

    def _write_panoptic(
        self, painting: ClipPainting, labels: list[int], frames: list[FrameInfo]
    ) -> None:
        n = len(labels)
        lut = np.zeros(n + 1, dtype=np.int32)  # slot -> id; the last entry (owner -1): void
        categories: dict[int, int] = {}
        for slot in painting.accepted:
            seg_id = self.ids.lookup(slot, labels[slot])
            lut[slot] = seg_id
            categories[seg_id] = self.classes.ids[labels[slot]]
            self.present.add(labels[slot])
        lut_ids = lut.tolist()
        for info, (id_map, owned) in zip(frames, painting.frames(lut), strict=True):
            areas: dict[int, int] = {}
            for slot in np.flatnonzero(owned).tolist():
                if lut_ids[slot]:
                    areas[lut_ids[slot]] = areas.get(lut_ids[slot], 0) + int(owned[slot])
            self.panoptic.add_frame(
                self.video_name, f"{info.name}.png", id_map, categories, areas=areas
            )
            if self.on_frame is not None:
                self.on_frame(info, id_map, categories)
            del id_map  # one frame-sized map at a time

    def _accumulate(self, masks: ClipMasks) -> None:
        prob_sum, area = masks.prob_sum.double().cpu(), masks.area.cpu()
        self._prob_sum = prob_sum if self._prob_sum is None else self._prob_sum + prob_sum
        self._area = area if self._area is None else self._area + area

    def _spill_frames(self, masks: ClipMasks) -> None:
        for frame in masks.frames:
            strings = rle_strings(frame, masks.height, masks.width)
            line = {str(s): counts for s, counts in strings.items()}
            self._spill.write(json.dumps(line, separators=(",", ":")) + "\n")

    def finish(self, class_logits: Tensor | None, top_k: int) -> list[dict[str, Any]]:
        """Close the video; returns its YouTube-VIS result entries (the top-k thing tracks by
        class score x mask score over the whole video), or [] without instance output.

        Args:
            class_logits: (N, C+1) the video's final class logits (None: no clip was seen).
            top_k: tracks to keep.
        """
        if self._spill is None:
            return []
        self._spill.close()
        self._spill = None
        if class_logits is None or self._area is None:
            return []
        scores, labels = class_scores(class_logits.cpu())
        mask_scores = self._prob_sum / self._area.clamp(min=1).double()
        total = scores.double() * mask_scores
        things = torch.tensor(self.classes.is_thing)[labels]
        keep = (things & (self._area > 0)).nonzero().flatten()
        order = keep[torch.argsort(total[keep], descending=True, stable=True)][:top_k].tolist()
        return self._gather(order, labels.tolist(), total.tolist())

    def _gather(self, slots: list[int], labels: list[int], scores: list[float]) -> list[dict]:
        h, w = self.geometry.height, self.geometry.width
        tracks: dict[int, list[dict | None]] = {s: [] for s in slots}
        with open(self._spill_path, encoding="utf-8") as f:
            for line in f:
                frame = json.loads(line)
                for s in slots:
                    counts = frame.get(str(s))
                    tracks[s].append(None if counts is None else {"size": [h, w], "counts": counts})
        return [
            {
                "video_id": self.video_id,
                "category_id": self.classes.ids[labels[s]],
                "score": round(float(scores[s]), SCORE_DIGITS),
                "segmentations": tracks[s],
            }
            for s in slots
        ]

    def describe(self, tracks: list[dict[str, Any]]) -> dict[str, Any]:
        """Summary fields of the written outputs (`tracks`: what `finish` returned)."""
        g = self.geometry
        return {
            "video": self.video_name,
            "video_id": self.video_id,
            "frames": self.frames,
            "size": [g.width, g.height],
            "model_size": [g.scaled_width, g.scaled_height],  # the frames as the network saw them
            "model_input": [g.padded_width, g.padded_height],  # ... padded to 32k (+ 1)
            "panoptic_thing_tracks": self.ids.thing_tracks if self.panoptic is not None else None,
            "instance_tracks": len(tracks) if self._spill_path is not None else None,
            "classes": sorted(self.classes.names[c] for c in self.present),
        }

    def abort(self) -> None:
        if self._spill is not None:
            self._spill.close()
            self._spill = None


def unique_names(names: list[str]) -> list[str]:
    """Make video names unique for output folders: ``clip``, ``clip_2``, ..."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        out.append(name if count == 1 else f"{name}_{count}")
    return out


def check_output_folder(output: Path, overwrite: bool) -> None:
    """Refuse a file, or a non-empty folder unless `overwrite`."""
    if output.exists() and not output.is_dir():
        raise OutputExistsError(f"{output} exists and is not a folder; choose another --output")
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        raise OutputExistsError(
            f"{output} exists and is not empty; pass --overwrite to replace it or choose "
            "another --output"
        )


def commit_folder(tmp: Path, output: Path) -> None:
    """Move the finished folder into place (replacing an old one only now)."""
    if output.exists():
        old = output.parent / f".{output.name}.old-{os.getpid()}"
        os.replace(output, old)
        os.replace(tmp, output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, output)


def remove_stale_partials(output: Path) -> list[Path]:
    """Remove ``.NAME.partial-PID`` / ``.NAME.old-PID`` folders beside `output` whose process
    is gone (a run killed with SIGKILL or by a power loss); returns what was removed."""
    removed = []
    for kind in ("partial", "old"):
        for path in output.parent.glob(f".{output.name}.{kind}-*"):
            pid = path.name.rsplit("-", 1)[-1]
            if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)
                if path.is_file():
                    path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def make_partial(output: Path) -> Path:
    """The empty temporary folder ``.NAME.partial-PID`` beside `output` that a run writes into
    (stale ones of dead processes are removed first); OutputError if it cannot be made."""
    tmp = output.parent / f".{output.name}.partial-{os.getpid()}"
    try:
        if output.parent.is_dir():
            remove_stale_partials(output)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    except OSError as err:
        raise OutputError(os_error_line(err, output)) from None
    return tmp
