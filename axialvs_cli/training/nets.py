"""What each training stage runs through the network, as modules DDP can wrap.

- `ClipStage` (stage 1): the clip segmenter with within-clip tracking on a clip of T frames,
  with the per-layer predictions for deep supervision and the auxiliary semantic logits.
- `VideoStage` (stage 2, appendix A): a video of K clips. The segmenter and within-clip module
  are frozen (eval mode, no gradients) and run clip by clip; the clip queries are aligned across
  clips by Hungarian matching of their mask embeddings, refined by the cross-clip tracking
  module, and decoded into tubes over all K x T frames for each cross-clip layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from models.axialvs import AxialVS
from models.cross_clip import SEGMENTER_HEADS
from models.matching import align_clips

from .losses import LayerOutput

SEGMENTER_PARTS = ("backbone", "within_clip", "pixel_decoder", "decoder", "semantic_head")


@dataclass
class StageOutput:
    final: LayerOutput
    aux: list[LayerOutput]
    semantic_logits: Tensor | None = None


class ClipStage(nn.Module):
    """Stage 1: frames (B, T, 3, H, W) -> predictions of every k-means layer."""

    def __init__(self, model: AxialVS) -> None:
        super().__init__()
        self.model = model

    def forward(self, frames: Tensor) -> StageOutput:
        out = self.model.forward_clip(frames, return_aux=True)
        final = LayerOutput(out.class_logits, out.mask_logits, out.pixel_features)
        aux = [LayerOutput(p.class_logits, p.mask_logits, p.pixel_features) for p in out.aux or []]
        return StageOutput(final, aux, out.semantic_logits)


class VideoStage(nn.Module):
    """Stage 2: frames (B, K*T, 3, H, W) -> video tubes (B, N, K*T, h, w) of each cross-clip layer.

    With `freeze_norms` the batch norms of the cross-clip heads keep the statistics they were
    copied with (from the segmenter's heads) instead of using batch statistics: training and
    inference then normalise alike, which matters with few videos per GPU (measured on the tiny
    setting: VPQ 45 instead of 0 after 100 steps with 2 videos per batch).
    """

    def __init__(self, model: AxialVS, clip_length: int, freeze_norms: bool = True) -> None:
        super().__init__()
        self.model = model
        self.clip_length = clip_length
        self.freeze_norms = freeze_norms

    def train(self, mode: bool = True) -> VideoStage:
        super().train(mode)
        for part in SEGMENTER_PARTS:  # frozen: batch norms keep their statistics
            module = getattr(self.model, part)
            if module is not None:
                module.eval()
        if self.freeze_norms and self.model.cross_clip is not None:
            for m in self.model.cross_clip.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    @torch.no_grad()
    def clip_predictions(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        """Aligned queries (B, K, N, D) and pixel features (B, K, E, T, h, w) of all clips."""
        b, length = frames.shape[:2]
        t = self.clip_length
        queries, embeddings, pixels = [], [], []
        for k in range(length // t):
            out = self.model.forward_clip(frames[:, k * t : (k + 1) * t])
            queries.append(out.queries)
            embeddings.append(out.match_embeddings)
            pixels.append(out.pixel_features)
        q = torch.stack(queries, 1)  # B K N D
        e = torch.stack(embeddings, 1)  # B K N E
        perms = torch.stack([align_clips(e[i]) for i in range(b)])  # B K N
        q = torch.gather(q, 2, perms[..., None].expand_as(q))
        return q, torch.stack(pixels, 1)

    def forward(self, frames: Tensor) -> StageOutput:
        if frames.shape[1] % self.clip_length:
            raise ValueError(
                f"a video of {frames.shape[1]} frames is not a whole number of clips of {self.clip_length}"
            )
        queries, pixels = self.clip_predictions(frames)
        ref = self.model.refine(queries, return_aux=True)
        layers = [(lg, kn) for lg, kn in ref.aux or []] + [(ref.class_logits, ref.mask_kernels)]
        outs = [
            LayerOutput(logits, self.video_masks(kernels, pixels)) for logits, kernels in layers
        ]
        return StageOutput(outs[-1], outs[:-1])

    def video_masks(self, kernels: Tensor, pixels: Tensor) -> Tensor:
        """kernels (B, K, N, E), pixel features (B, K, E, T, h, w) -> (B, N, K*T, h, w); the mask
        norm sees all clips of the batch at once."""
        b, k, n, _ = kernels.shape
        masks = self.model.decode_masks(
            kernels.flatten(0, 1), pixels.flatten(0, 1)
        )  # (B K) N T h w
        masks = masks.view(b, k, n, *masks.shape[2:]).transpose(1, 2)  # B N K T h w
        return masks.flatten(2, 3)


def freeze_for_stage(model: AxialVS, stage: int, semantic: bool) -> None:
    """Stage 1 trains everything but the cross-clip module (and the semantic head only when its
    loss is on); stage 2 trains the cross-clip module only."""
    for name, p in model.named_parameters():
        part = name.split(".", 1)[0]
        if stage == 1:
            p.requires_grad_(part != "cross_clip" and (semantic or part != "semantic_head"))
        else:
            p.requires_grad_(part == "cross_clip")


@torch.no_grad()
def copy_segmenter_heads(model: AxialVS) -> list[str]:
    """Initialise the cross-clip prediction heads with the segmenter's (as the official stage 2
    does), so refinement starts from the clip-level predictions. Returns the copied names."""
    if model.cross_clip is None:
        return []
    copied = []
    # cross-clip head <- segmenter head, for the kind of heads this module has
    for dst, src in SEGMENTER_HEADS[model.cross_clip.head].items():
        target = getattr(model.cross_clip, dst)
        source = model.get_submodule(src)
        target.load_state_dict(source.state_dict())
        copied.append(f"cross_clip.{dst}")
    return copied


@torch.no_grad()
def recalibrate_batchnorm(
    net: nn.Module, trained: nn.Module, frames: Iterator[Tensor], info: Any
) -> int:
    """Precise BN: replace the running statistics of every batch norm in `trained` by their
    plain average over the given training batches (forward passes of `net` in training mode,
    no gradients), averaged over the processes. Running statistics follow the weights with a
    lag (momentum 0.01); this matters most after short runs, such as a short stage 2 whose
    heads started from the segmenter's statistics. Returns the number of batches used."""
    norms = [
        m
        for m in trained.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training  # not frozen ones
    ]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    used = 0
    for x in frames:
        net(x)
        used += 1
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
        if info.distributed:
            for buf in (m.running_mean, m.running_var):
                torch.distributed.all_reduce(buf)
                buf /= info.world_size
    return used
