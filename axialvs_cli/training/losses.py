"""Training losses: set prediction over tubes, as Video-kMaX (VPS) and Tube-Link (VIS) train.

``kmax`` mode (kMaX-DeepLab's PQ-style loss, over a tube of all frames of a sample):
- class: cross-entropy of each query against its matched tube's class (void when unmatched),
  weighted by the matched mask similarity ("the class term of PQ is weighted by the mask
  quality"); an unmatched query's weight is the share of its mask on void pixels, at least
  `void_weight` (1e-5); positives are weighted `focal_alpha`, void targets 1 - `focal_alpha`;
- mask: per pixel, a softmax over the queries and cross-entropy against the query matched to
  the pixel's tube (void pixels and pixels of unmatched tubes are ignored);
- dice: 1 - dice of each matched query's softmax mask, weighted by its class probability (the
  mask term of PQ weighted by recognition quality), times `focal_alpha`, averaged over queries;
- pixel instance discrimination: pixels sampled with probability growing with the inverse area
  of their tube (Gumbel top-k, `insdis_sample_temperature`); their unit pixel embeddings learn to
  be similar within a tube and dissimilar across tubes (softmax at `insdis_temperature`);
- auxiliary semantic: cross-entropy of the semantic head on pixels sampled the same way.
Deep supervision: the class, mask, dice and instance terms of every k-means layer (masks
upsampled to stride 4), with the matching of the final output shared by all layers.

``m2f`` mode (Mask2Former / Tube-Link): class cross-entropy with void weight `void_weight`
(0.1), sigmoid mask binary cross-entropy and dice over the tube, both averaged over the tubes of
the batch and evaluated on at most `points` uniformly sampled pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.targets import VOID, Target
from .matcher import Match, hungarian_match, softmax_probs

MODES = ("kmax", "m2f")


@dataclass(frozen=True)
class LossConfig:
    """Loss weights and options; the defaults are the official Video-kMaX VIPSeg stage 1."""

    mode: str = "kmax"
    class_weight: float = 4.0
    mask_weight: float = 0.1
    dice_weight: float = 5.0
    insdis_weight: float = 1.0
    semantic_weight: float = 1.0
    void_weight: float = 1e-5
    focal_alpha: float = 0.75
    insdis_temperature: float = 0.3
    insdis_sample_temperature: float = 1.8
    insdis_samples: int = 4096
    semantic_sample_temperature: float = 2.4
    semantic_samples: int = 4096
    deep_supervision: bool = True
    points: int = 12544  # m2f: sampled pixels per tube
    # kmax: per-class factors (one per class, () = all 1) of the class and dice weights of the
    # queries matched to that class's segments, of the mask cross-entropy of its pixels and of
    # the auxiliary semantic loss: rare, thin classes (poles, signs) get more of the gradient
    category_weights: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"loss mode {self.mode!r} is not valid; use one of {', '.join(MODES)}")
        weights = (
            self.class_weight,
            self.mask_weight,
            self.dice_weight,
            self.insdis_weight,
            self.semantic_weight,
        )
        if min(weights) < 0:
            raise ValueError("loss weights must be >= 0")
        if self.category_weights and min(self.category_weights) <= 0:
            raise ValueError("category weights must be > 0")


LOSS_PRESETS: dict[str, LossConfig] = {
    "vps": LossConfig(),
    "vps-stage2": LossConfig(
        dice_weight=4.0, mask_weight=0.0, insdis_weight=0.0, semantic_weight=0.0
    ),
    "vis": LossConfig(
        mode="m2f",
        class_weight=2.0,
        mask_weight=5.0,
        dice_weight=5.0,
        insdis_weight=0.0,
        semantic_weight=0.0,
        void_weight=0.1,
    ),
}
LOSS_PRESETS["vis-stage2"] = replace(LOSS_PRESETS["vis"])


@dataclass
class LayerOutput:
    """One prediction layer: class_logits (B, N, C+1), mask_logits (B, N, L, h, w), and
    pixel_features (B, E, L, h, w) or None."""

    class_logits: Tensor
    mask_logits: Tensor
    pixel_features: Tensor | None = None


def resize_layer(layer: LayerOutput, size: tuple[int, int, int]) -> LayerOutput:
    """Upsample a layer's masks and pixel features to (L, h, w) (trilinear; corners aligned
    for odd widths, as kMaX's 32k + 1 sizes want)."""
    if tuple(layer.mask_logits.shape[-3:]) == tuple(size):
        return layer
    corners = size[-1] % 2 == 1

    def up(x: Tensor | None) -> Tensor | None:
        return (
            None
            if x is None
            else F.interpolate(x, size=size, mode="trilinear", align_corners=corners)
        )

    return LayerOutput(layer.class_logits, up(layer.mask_logits), up(layer.pixel_features))


def sample_pixels(weight: Tensor, k: int, temperature: float) -> Tensor:
    """Indices of k distinct pixels, drawn with probability ~ weight ** temperature among the
    pixels with weight > 0 (Gumbel top-k). weight: (P,) -> (min(k, #positive),) int64."""
    pos = torch.nonzero(weight > 0).squeeze(1)
    if pos.numel() <= k:
        return pos
    u = torch.rand(pos.numel(), device=weight.device).clamp_(1e-10, 1 - 1e-7)
    scores = weight[pos].log() * temperature - torch.log(-torch.log(u))
    return pos[scores.topk(k).indices]


class Criterion:
    """Callable: (final layer, auxiliary layers, targets, semantic logits) -> named losses.

    The returned dict holds "loss" (the total to minimise), its weighted parts ("class",
    "mask", "dice", "insdis", "semantic"), each summed over the supervised layers, and
    "quality", which is not part of the loss: the mean over ground-truth tubes of mask
    similarity x class probability of their matched query in the final layer, the quantity the
    PQ-style loss pushes up (0 = nothing recognised, 1 = perfect).
    """

    def __init__(self, cfg: LossConfig, num_classes: int) -> None:
        if cfg.category_weights and len(cfg.category_weights) != num_classes:
            raise ValueError(
                f"{len(cfg.category_weights)} category weights for a model of {num_classes} classes"
            )
        self.cfg = cfg
        self.num_classes = num_classes
        self._category = (
            torch.tensor([*cfg.category_weights, 1.0]) if cfg.category_weights else None
        )  # index num_classes: no object / void

    def __call__(
        self, final: LayerOutput, aux: list[LayerOutput], targets: list[Target],
        semantic_logits: Tensor | None = None,
    ) -> dict[str, Tensor]:  # fmt: skip
        size = tuple(final.mask_logits.shape[-3:])
        layers = [final] + (
            [resize_layer(a, size) for a in aux] if self.cfg.deep_supervision else []
        )
        parts: dict[str, Tensor] = {}
        zero = final.class_logits.sum() * 0.0
        num_masks = max(sum(int(t.labels.numel()) for t in targets), 1)
        quality = 0.0
        for b, target in enumerate(targets):
            fn = self._kmax_sample if self.cfg.mode == "kmax" else self._m2f_sample
            sample = fn(b, layers, target, semantic_logits, num_masks)
            quality += float(sample.pop("_quality"))
            for key, value in sample.items():
                parts[key] = parts.get(key, zero) + value
        for key in list(parts) if self.cfg.mode == "kmax" else ["class"]:  # mean over samples
            if key in parts:
                parts[key] = parts[key] / len(targets)
        parts["loss"] = sum(parts.values(), zero)
        parts["quality"] = torch.tensor(quality / num_masks)
        return parts

    # -- kMaX ----------------------------------------------------------------------------------

    def _kmax_sample(
        self,
        b: int,
        layers: list[LayerOutput],
        target: Target,
        semantic_logits: Tensor | None,
        _: int,
    ) -> dict[str, Tensor]:
        cfg, c = self.cfg, self.num_classes
        final = layers[0]
        n = final.class_logits.shape[1]
        masks = target.masks.flatten(1).float()  # (M, P)
        nonvoid = masks.sum(0) > 0
        match = hungarian_match(
            final.class_logits[b], final.mask_logits[b].flatten(1), target.labels, masks
        )
        w_class, w_mask, tgt_class, pixel_query = self._kmax_targets(
            final.mask_logits[b].flatten(1), masks, nonvoid, target.labels, match, n
        )
        alpha = torch.where(tgt_class == c, 1.0 - cfg.focal_alpha, cfg.focal_alpha)
        pixel_w = None
        if self._category is not None:
            cw = self._category.to(w_class.device)
            w_class = w_class * cw[tgt_class]
            w_mask = w_mask * cw[tgt_class]
            sem_all = target.semantic.flatten()
            pixel_w = cw[torch.where(sem_all == VOID, c, sem_all)]
        matched = masks[match.gt]
        area = (masks * masks.sum(1, keepdim=True)).sum(0)  # (P,) area of each pixel's tube
        inv_area = torch.where(
            nonvoid, masks.shape[1] / area.clamp(min=1.0), torch.zeros_like(area)
        )
        out: dict[str, Tensor] = {"_quality": (match.mask_similarity * match.class_prob).sum()}

        def add(key: str, weight: float, value: Tensor) -> None:
            out[key] = out.get(key, value.new_zeros(())) + weight * value

        insdis_idx = (
            sample_pixels(inv_area, cfg.insdis_samples, cfg.insdis_sample_temperature)
            if cfg.insdis_weight
            else None
        )
        for layer in layers:
            if cfg.class_weight:
                ce = F.cross_entropy(layer.class_logits[b].float(), tgt_class, reduction="none")
                add("class", cfg.class_weight, (ce * alpha * w_class).mean())
            logp = layer.mask_logits[b].flatten(1).float().log_softmax(dim=0)  # (N, P)
            if cfg.mask_weight:
                sel = pixel_query >= 0
                nll = -logp.gather(0, pixel_query.clamp(min=0)[None])[0]
                if not sel.any():
                    value = logp.sum() * 0.0
                elif pixel_w is None:
                    value = nll[sel].mean()
                else:  # a weighted mean: the weights shift the gradient between classes
                    value = (nll * pixel_w)[sel].sum() / pixel_w[sel].sum()
                add("mask", cfg.mask_weight, value)
            if cfg.dice_weight:
                probs = logp[match.pred].exp() * nonvoid
                dice = 1.0 - (2.0 * (probs * matched).sum(1) + 1.0) / (
                    probs.sum(1) + matched.sum(1) + 1.0
                )
                add(
                    "dice", cfg.dice_weight, cfg.focal_alpha * (dice * w_mask[match.pred]).sum() / n
                )
            if insdis_idx is not None and layer.pixel_features is not None:
                feats = layer.pixel_features[b].flatten(1).float()  # (E, P)
                add("insdis", cfg.insdis_weight, self._insdis(feats, masks, insdis_idx))
        if cfg.semantic_weight and semantic_logits is not None:
            idx = sample_pixels(inv_area, cfg.semantic_samples, cfg.semantic_sample_temperature)
            sem = target.semantic.flatten()[idx]
            logits = semantic_logits[b].flatten(1)[:, idx].T.float()  # (k, C+1)
            keep = sem != VOID
            weight = None if self._category is None else self._category.to(logits.device)
            loss = (
                F.cross_entropy(logits[keep], sem[keep], weight=weight)
                if keep.any()
                else logits.sum() * 0.0
            )
            add("semantic", cfg.semantic_weight, loss)
        return out

    @torch.no_grad()
    def _kmax_targets(
        self, logits: Tensor, masks: Tensor, nonvoid: Tensor, labels: Tensor, match: Match, n: int
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Per-query class weight, mask weight and class target, and per-pixel target query
        (-1 = ignored), all from the final layer and shared by every layer."""
        probs = softmax_probs(logits, None)
        void_share = (probs * (~nonvoid)).sum(1) / (probs.sum(1) + 1e-5)
        floor = self.cfg.void_weight
        w_class = void_share.clamp(min=floor)
        w_class[match.pred] = match.mask_similarity.clamp(min=floor)
        w_mask = torch.zeros(n, device=logits.device)
        w_mask[match.pred] = match.class_prob.clamp(min=1e-5)
        tgt_class = torch.full((n,), self.num_classes, dtype=torch.int64, device=logits.device)
        tgt_class[match.pred] = labels[match.gt]
        pixel_query = torch.full(nonvoid.shape, -1, dtype=torch.int64, device=logits.device)
        if masks.shape[0]:
            gt_to_query = torch.full((masks.shape[0],), -1, dtype=torch.int64, device=logits.device)
            gt_to_query[match.gt] = match.pred
            pixel_query = torch.where(nonvoid, gt_to_query[masks.argmax(0)], pixel_query)
        return w_class, w_mask, tgt_class, pixel_query

    def _insdis(self, feats: Tensor, masks: Tensor, idx: Tensor) -> Tensor:
        """Pixel-wise instance discrimination on the sampled pixels idx of features (E, P)."""
        if idx.numel() == 0:
            return feats.sum() * 0.0
        member = masks[:, idx]  # (M, k)
        same = member.T @ member  # (k, k)
        same = same / same.sum(1, keepdim=True).clamp(min=1.0)
        f = feats[:, idx]
        logits = (f.T @ f) / self.cfg.insdis_temperature
        return -(same * logits.log_softmax(dim=1)).sum(1).mean()

    # -- Mask2Former ----------------------------------------------------------------------------

    def _m2f_sample(
        self, b: int, layers: list[LayerOutput], target: Target, _: Tensor | None, num_masks: int
    ) -> dict[str, Tensor]:
        cfg, c = self.cfg, self.num_classes
        valid = torch.nonzero(target.valid.flatten()).squeeze(1)
        if valid.numel() > cfg.points:
            valid = valid[torch.randperm(valid.numel(), device=valid.device)[: cfg.points]]
        masks = target.masks.flatten(1)[:, valid].float()
        final = layers[0]
        match = hungarian_match(
            final.class_logits[b], final.mask_logits[b].flatten(1)[:, valid], target.labels, masks,
            mode="m2f", weights=(cfg.class_weight, cfg.mask_weight, cfg.dice_weight),
        )  # fmt: skip
        n = final.class_logits.shape[1]
        tgt_class = torch.full((n,), c, dtype=torch.int64, device=masks.device)
        tgt_class[match.pred] = target.labels[match.gt]
        class_w = torch.ones(c + 1, device=masks.device)
        class_w[c] = cfg.void_weight
        matched = masks[match.gt]
        out: dict[str, Tensor] = {"_quality": (match.mask_similarity * match.class_prob).sum()}
        for layer in layers:
            logits = layer.mask_logits[b].flatten(1)[match.pred][:, valid].float()
            parts = {
                "class": cfg.class_weight * F.cross_entropy(layer.class_logits[b].float(), tgt_class, weight=class_w),
                "mask": cfg.mask_weight * F.binary_cross_entropy_with_logits(logits, matched, reduction="none").mean(1).sum() / num_masks,
                "dice": cfg.dice_weight * (1.0 - (2 * (logits.sigmoid() * matched).sum(1) + 1) / (logits.sigmoid().sum(1) + matched.sum(1) + 1)).sum() / num_masks,
            }  # fmt: skip
            for key, value in parts.items():
                out[key] = out.get(key, value.new_zeros(())) + value
        return out
