"""Video-level panoptic post-processing (`--post video`): the official rule over a whole video,
streamed through a temporary file.

The official Video-kMaX inference ("video-wise") keeps every clip's masks, averages the class
logits of each query over all clips, and runs the mask-wise panoptic rule once over the whole
video: mask scores, the painting order and the overlap test are computed over all frames, and
a query that passes paints its pixels in every frame. Holding N x T x H x W probabilities of a
long video is out of the question; here

1. while the network runs, each clip's stride-4 mask logits (N x T x h x w, float32, slot
   order) go to a temporary file, and from the clip's probabilities at the displayed size
   (the ones the instance output computes anyway) each slot's probability sum and area inside
   its binary mask are added up, and how many pixels are covered by each distinct set of slots
   (the binary masks of a pixel, e.g. {3}, {3, 17});
2. after the last clip, the final class logits decide the class of every slot, and the
   painting decisions follow from those counts exactly: visiting slots by class score x mask
   score, a slot's new pixels are those of the sets that contain it and no slot accepted
   before it;
3. one pass over the file paints each pixel with the first accepted slot (in painting order)
   whose binary mask covers it.

The result equals the official whole-video computation; its cost is one extra pass of
upsampling over the video and the temporary file (4 N h w bytes per frame).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..outputs.masks import ClipMasks, clip_masks
from ..outputs.postprocess import (
    ClipPainting,
    Thresholds,
    class_scores,
    clip_pieces,
    count_sets,
    decide_painting,
    members_of,
    set_owners,
)
from .preprocess import FrameGeometry, FrameInfo

__all__ = ["VideoLevelPanoptic"]


class VideoLevelPanoptic:
    """Collects a video's clips, then paints all its frames with the official video-level rule.

    Args:
        geometry: the video's frame geometry.
        thresholds: post-processing thresholds.
        is_thing: (C,) bool per class index.
        device: where the upsampling runs.
        normalise: "softmax" (Video-kMaX) or "sigmoid" (Tube-Link).
        folder: where the temporary file goes (removed by `close`).
    """

    def __init__(
        self,
        geometry: FrameGeometry,
        thresholds: Thresholds,
        is_thing: Tensor,
        device: torch.device,
        normalise: str,
        folder: Path,
    ) -> None:
        self.geometry = geometry
        self.thresholds = thresholds
        self.is_thing = is_thing
        self.device = device
        self.normalise = normalise
        fd, name = tempfile.mkstemp(prefix=".video-logits-", suffix=".f32", dir=folder)
        self._path = Path(name)
        self._file = os.fdopen(fd, "w+b")
        self._clips: list[tuple[tuple[int, ...], list[FrameInfo]]] = []
        self._prob_sum: Tensor | None = None  # (N,) float64
        self._area: Tensor | None = None  # (N,) int64
        self._histogram: dict[tuple[int, ...], int] = {}

    def add_clip(self, mask_logits: Tensor, frames: list[FrameInfo], masks: ClipMasks) -> None:
        """Keep the (N, T', h, w) mask logits of a clip's real frames and add up the statistics
        of their binary masks `masks`."""
        logits = mask_logits.detach().float().cpu().contiguous()
        self._file.write(logits.numpy().tobytes())
        self._clips.append((tuple(logits.shape), list(frames)))
        stats = (masks.prob_sum.double().cpu(), masks.area.to(torch.int64).cpu())
        if self._prob_sum is None:
            self._prob_sum, self._area = stats
        else:
            self._prob_sum, self._area = self._prob_sum + stats[0], self._area + stats[1]
        pieces = clip_pieces(masks)
        values, counts, _ = count_sets(
            np.concatenate([k for k, _ in pieces]), np.concatenate([n for _, n in pieces])
        )
        for key, count in zip(map(tuple, values.tolist()), counts.tolist(), strict=True):
            self._histogram[key] = self._histogram.get(key, 0) + count

    def _read(self):
        self._file.flush()
        self._file.seek(0)
        for shape, frames in self._clips:
            size = int(np.prod(shape)) * 4
            data = np.frombuffer(self._file.read(size), dtype=np.float32).reshape(shape)
            yield torch.from_numpy(data.copy()).to(self.device), frames

    def paint(self, class_logits: Tensor):
        """Yield (the painting of a clip's real frames, `ClipPainting`; those frames) clip by
        clip, from the video's final class logits (N, C+1)."""
        thr = self.thresholds
        scores, labels = class_scores(class_logits.to(self.device))
        n = scores.shape[0]
        if self._prob_sum is None or self._area is None:
            return
        prob_sum, area, histogram = self._prob_sum, self._area, self._histogram
        mask_scores = (prob_sum / area.clamp(min=1).double()).float()
        order = torch.argsort(scores.cpu().float() * mask_scores, descending=True, stable=True)
        thing = self.is_thing.cpu()[labels.cpu()]
        needed = torch.where(thing, thr.thing, thr.stuff)
        confident = (scores.cpu() > needed).tolist()
        keys = list(histogram)
        members = members_of(np.array(keys, dtype=np.int64).reshape(len(keys), -1), n)
        counts = torch.tensor([histogram[k] for k in keys], dtype=torch.int64)
        accepted = decide_painting(
            members, counts, order.tolist(), confident, area.tolist(), thr.overlap
        )
        for logits, frames in self._read():
            masks = clip_masks(logits, self.geometry, thr.pixel, self.normalise)
            pieces = clip_pieces(masks)
            values, _, inverse = count_sets(
                np.concatenate([k for k, _ in pieces]), np.concatenate([n for _, n in pieces])
            )
            owners = set_owners(members_of(values, n), accepted)
            yield ClipPainting(pieces, inverse, owners, accepted, masks.height, masks.width), frames

    def close(self) -> None:
        self._file.close()
        self._path.unlink(missing_ok=True)
