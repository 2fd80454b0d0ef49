"""A slow, literal implementation of the official post-processing rule, for comparisons.

Everything at the displayed size and dense, in float64: the stride-4 logits resized to the
padded input, cropped, resized to the displayed frame, softmax over the queries (or a sigmoid),
binary masks by the pixel threshold, mask scores, the mask-wise painting loop over whole
binary masks, and one dense RLE per query and frame. `LiteralVideoOutputs` plugs it into the
writers of `outputs.writers`, so that a run with it and a run with the package's sparse
post-processing must write the same files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from axialvs_cli.formats import rle
from axialvs_cli.inference.preprocess import FrameGeometry
from axialvs_cli.outputs.masks import ClipMasks, _Pieces, _runs
from axialvs_cli.outputs.postprocess import Thresholds, class_scores
from axialvs_cli.outputs.writers import VideoOutputs


def literal_probabilities(
    mask_logits: Tensor, geometry: FrameGeometry, normalise: str = "softmax"
) -> Tensor:
    """(N, T, h, w) logits -> (T, N, H, W) float64 probabilities, step by step."""
    x = mask_logits.double().transpose(0, 1)
    corners = geometry.padded_width % 2 == 1
    size = (geometry.padded_height, geometry.padded_width)
    if x.shape[-2:] != size:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=corners)
    x = x[..., : geometry.scaled_height, : geometry.scaled_width]
    if geometry.scaled:
        x = F.interpolate(
            x, size=(geometry.height, geometry.width), mode="bilinear", align_corners=corners
        )
    return x.sigmoid() if normalise == "sigmoid" else x.softmax(dim=1)


@dataclass
class DenseMasks:
    binary: Tensor  # (T, N, H, W) bool
    prob_sum: Tensor  # (N,) float64
    frame_area: Tensor  # (T, N) int64

    @property
    def area(self) -> Tensor:
        return self.frame_area.sum(dim=0)

    @property
    def mask_scores(self) -> Tensor:
        return self.prob_sum / self.area.clamp(min=1).to(self.prob_sum.dtype)


def literal_masks(probs: Tensor, pixel_threshold: float) -> DenseMasks:
    binary = probs > pixel_threshold
    prob_sum = (probs * binary).sum(dim=(0, 2, 3))
    frame_area = binary.sum(dim=(2, 3)).to(torch.int64)
    return DenseMasks(binary, prob_sum, frame_area)


def literal_paint(
    masks: DenseMasks, scores: Tensor, labels: Tensor, is_thing: Tensor, thr: Thresholds
) -> tuple[Tensor, list[int]]:
    """The mask-wise painting loop over whole binary masks."""
    binary = masks.binary
    t, n, h, w = binary.shape
    owner = torch.full((t, h, w), -1, dtype=torch.int64)
    free = torch.ones((t, h, w), dtype=torch.bool)
    order = torch.argsort(scores.float() * masks.mask_scores, descending=True, stable=True)
    needed = torch.where(is_thing[labels], thr.thing, thr.stuff)
    areas = masks.area.tolist()
    painted = []
    for slot in order.tolist():
        if not bool(scores[slot] > needed[slot]) or areas[slot] == 0:
            continue
        new = binary[:, slot] & free
        if int(new.sum()) > thr.overlap * areas[slot]:
            owner[new] = slot
            free &= ~new
            painted.append(slot)
    return owner, painted


@dataclass
class LiteralPainting:
    """`ClipPainting`'s interface over a dense (T, H, W) slot map (-1 unpainted)."""

    owner: Tensor
    accepted: list[int]

    def frames(self, lut: np.ndarray):
        n = lut.shape[0] - 1
        for slots in self.owner.numpy():
            owned = np.bincount(slots.ravel() + 1, minlength=n + 1)[1:]
            yield np.take(lut, slots, mode="wrap"), owned.astype(np.int64)


class LiteralVideoOutputs(VideoOutputs):
    """`VideoOutputs` with the literal rule in place of the sparse post-processing."""

    def add_clip(self, pred, frames) -> None:
        if self.video_level is not None:
            raise NotImplementedError("the literal outputs cover clip-level post-processing")
        valid = min(pred.valid, len(frames))
        probs = literal_probabilities(
            pred.mask_logits[:, :valid].cpu(), self.geometry, self.normalise
        )
        masks = literal_masks(probs, self.thresholds.pixel)
        del probs
        if self.panoptic is not None:
            scores, labels = class_scores(pred.class_logits.cpu())
            owner, painted = literal_paint(
                masks, scores, labels, self.is_thing.cpu(), self.thresholds
            )
            self._write_panoptic(
                LiteralPainting(owner, painted), labels.tolist(), frames[:valid]
            )
        if self._spill is not None:
            self._accumulate(masks)
            for t in range(masks.binary.shape[0]):
                line = {}
                for s in range(masks.binary.shape[1]):
                    if int(masks.frame_area[t, s]) > 0:
                        line[str(s)] = rle.encode(masks.binary[t, s].numpy())["counts"]
                self._spill.write(json.dumps(line, separators=(",", ":")) + "\n")
        self.frames += valid


def sparse_from_dense(probs: Tensor, pixel_threshold: float) -> ClipMasks:
    """The package's sparse masks of given (T, N, H, W) probabilities (for painting tests)."""
    t, n, h, w = probs.shape
    frames = []
    prob_sum = torch.zeros(n, dtype=torch.float64)
    for f in range(t):
        column_major = probs[f].transpose(1, 2).reshape(n, -1).double()
        slots, pixels = (column_major > pixel_threshold).nonzero(as_tuple=True)
        pieces = _Pieces()
        pieces.add_pairs(slots.numpy(), pixels.numpy(), column_major[slots, pixels].numpy(), n)
        frames.append(_runs(pieces, n, h * w))
        prob_sum += torch.from_numpy(pieces.prob_sum)
    area = torch.stack([torch.from_numpy(f.area) for f in frames])
    return ClipMasks(frames, h, w, prob_sum, area)
