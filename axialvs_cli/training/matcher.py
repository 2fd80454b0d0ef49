"""Hungarian matching of predicted tubes to ground-truth tubes (paper section 3.1).

A tube is a mask over all frames of a clip (stage 1) or of a whole video (stage 2), flattened to
P = frames x h x w pixels. Two costs are offered, after the two clip segmenters of the paper:

- ``kmax`` (Video-kMaX, VPS): masks are a softmax over the N queries at each pixel; the cost of
  (query i, tube j) is -(mask similarity x class probability), where mask similarity is
  intersection / mean size computed on non-void pixels only;
- ``m2f`` (Mask2Former / Tube-Link, VIS): per-query sigmoid masks; cost = class weight x
  (-class probability) + mask weight x binary cross-entropy + dice weight x dice loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor

EPS = 1e-5


@dataclass
class Match:
    """Matched pairs of one sample: query `pred[k]` <-> tube `gt[k]` (K = min(N, M) pairs)."""

    pred: Tensor  # (K,) int64 query index
    gt: Tensor  # (K,) int64 tube index
    mask_similarity: Tensor  # (K,) kMaX mask similarity of each pair (no gradient)
    class_prob: Tensor  # (K,) predicted probability of the tube's class (no gradient)


def softmax_probs(mask_logits: Tensor, void: Tensor | None) -> Tensor:
    """(N, P) logits -> (N, P) probabilities, a softmax over the queries, zero on void pixels."""
    probs = mask_logits.float().softmax(dim=0)
    return probs if void is None else probs.masked_fill(void[None], 0.0)


def mask_similarity(probs: Tensor, targets: Tensor) -> Tensor:
    """kMaX mask similarity: (N, P) probabilities x (M, P) binary targets -> (N, M) in [0, 1]."""
    inter = probs @ targets.T
    mean_size = (probs.sum(1)[:, None] + targets.sum(1)[None, :]) / 2.0
    return inter / (mean_size + EPS)


def dice_cost(probs: Tensor, targets: Tensor) -> Tensor:
    """Smoothed dice loss of every pair: (N, P), (M, P) -> (N, M)."""
    inter = 2.0 * (probs @ targets.T) + 1.0
    return 1.0 - inter / (probs.sum(1)[:, None] + targets.sum(1)[None, :] + 1.0)


def bce_cost(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean binary cross-entropy of every pair: (N, P) logits, (M, P) targets -> (N, M)."""
    pos = F.softplus(-logits)  # loss where the target is 1
    neg = F.softplus(logits)  # loss where the target is 0
    return (pos @ targets.T + neg @ (1.0 - targets).T) / max(logits.shape[1], 1)


@torch.no_grad()
def hungarian_match(
    class_logits: Tensor,
    mask_logits: Tensor,
    labels: Tensor,
    masks: Tensor,
    *,
    mode: str = "kmax",
    weights: tuple[float, float, float] = (2.0, 5.0, 5.0),
) -> Match:
    """Match N predicted tubes of one sample to its M ground-truth tubes.

    Args:
        class_logits: (N, C+1), last = void.
        mask_logits: (N, P) flattened tube logits.
        labels: (M,) class indices. masks: (M, P) binary (float or bool).
        mode: "kmax" or "m2f" (see the module docstring).
        weights: (class, mask, dice) cost weights of "m2f".
    """
    device = class_logits.device
    m = labels.numel()
    if m == 0:
        empty = torch.zeros(0, dtype=torch.int64, device=device)
        return Match(empty, empty, empty.float(), empty.float())
    targets = masks.float()
    class_prob = class_logits.float().softmax(-1)[:, :-1][:, labels]  # (N, M)
    if mode == "kmax":
        void = targets.sum(0) == 0
        sim = mask_similarity(softmax_probs(mask_logits, void), targets)
        cost = -(sim * class_prob)
    elif mode == "m2f":
        logits = mask_logits.float()
        sim = mask_similarity(logits.sigmoid(), targets)
        wc, wm, wd = weights
        cost = (
            -wc * class_prob
            + wm * bce_cost(logits, targets)
            + wd * dice_cost(logits.sigmoid(), targets)
        )
    else:
        raise ValueError(f"unknown matching mode {mode!r}; use kmax or m2f")
    rows, cols = linear_sum_assignment(cost.cpu().numpy())
    pred = torch.as_tensor(rows, dtype=torch.int64, device=device)
    gt = torch.as_tensor(cols, dtype=torch.int64, device=device)
    return Match(pred, gt, sim[pred, gt], class_prob[pred, gt])
