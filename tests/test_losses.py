"""Matching and losses on tiny tensors, checked against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from axialvs_cli.data.targets import VOID, Target
from axialvs_cli.training.losses import LOSS_PRESETS, Criterion, LayerOutput, LossConfig
from axialvs_cli.training.matcher import hungarian_match, mask_similarity

ONLY_SET = dict(insdis_weight=0.0, semantic_weight=0.0)


def _target(masks: list[list[list[int]]], labels: list[int]) -> Target:
    """One frame; masks (M, H, W) of 0/1."""
    m = torch.tensor(masks, dtype=torch.bool)[:, None]  # M 1 H W
    semantic = torch.full(m.shape[1:], VOID, dtype=torch.int64)
    for k, c in enumerate(labels):
        semantic[m[k]] = c
    return Target(
        torch.tensor(labels),
        m,
        torch.arange(1, len(labels) + 1),
        semantic,
        torch.ones(m.shape[1:], dtype=torch.bool),
    )


def _perfect(target: Target, n: int, c: int) -> LayerOutput:
    """Logits +-20 that reproduce the target with queries 0..M-1; the rest predict void."""
    m = target.labels.numel()
    cls = torch.full((1, n, c + 1), -20.0)
    cls[0, torch.arange(n), c] = 20.0
    cls[0, torch.arange(m), c] = -20.0
    cls[0, torch.arange(m), target.labels] = 20.0
    masks = torch.full((1, n, *target.masks.shape[1:]), -20.0)
    masks[0, :m][target.masks] = 20.0
    return LayerOutput(cls, masks)


def test_perfect_prediction_has_near_zero_losses() -> None:
    t = _target([[[1, 0], [1, 0]], [[0, 1], [0, 1]]], [0, 1])
    out = Criterion(LossConfig(**ONLY_SET), num_classes=2)(_perfect(t, 3, 2), [], [t])
    assert out["dice"].item() < 1e-6 and out["mask"].item() < 1e-6 and out["class"].item() < 1e-6
    vis = Criterion(LOSS_PRESETS["vis"], num_classes=2)(_perfect(t, 3, 2), [], [t])
    assert vis["loss"].item() < 1e-6


def test_known_two_by_two_case() -> None:
    """One tube (class 0) on the left column, the right column void; N = 2 queries, C = 1.

    All logits 0: every mask probability is 1/2 and p(class 0) = 1/2. Query 0 is matched:
    - mask similarity on non-void pixels: probs [.5, 0, .5, 0] vs target [1, 0, 1, 0]:
      intersection 1 / mean size ((1 + 2) / 2) = 2/3;
    - dice: 1 - (2*1 + 1) / (1 + 2 + 1) = 1/4, times p(class) 1/2, times alpha 3/4, over N = 2;
    - mask: -log(1/2) on the two tube pixels;
    - class: query 0 CE log 2 x alpha 3/4 x similarity 2/3; query 1 (void target) CE log 2 x
      (1 - alpha) x its share on void pixels (1/2); mean over the 2 queries.
    """
    t = _target([[[1, 0], [1, 0]]], [0])
    pred = LayerOutput(torch.zeros(1, 2, 2), torch.zeros(1, 2, 1, 2, 2))
    out = Criterion(LossConfig(**ONLY_SET), num_classes=1)(pred, [], [t])
    ln2 = math.log(2)
    assert out["dice"].item() == pytest.approx(5.0 * 0.25 * 0.5 * 0.75 / 2, rel=1e-4)
    assert out["mask"].item() == pytest.approx(0.1 * ln2, rel=1e-4)
    expected_class = 4.0 * (ln2 * 0.75 * (2 / 3) + ln2 * 0.25 * 0.5) / 2
    assert out["class"].item() == pytest.approx(expected_class, rel=1e-3)
    assert out["loss"].item() == pytest.approx(
        out["dice"].item() + out["mask"].item() + out["class"].item()
    )


def test_void_pixels_do_not_change_mask_losses() -> None:
    t = _target([[[1, 0], [1, 0]]], [0])
    torch.manual_seed(0)
    logits = torch.randn(1, 3, 1, 2, 2)
    changed = logits.clone()
    changed[..., 1] = torch.randn(1, 3, 1, 2) * 5  # right column = void
    crit = Criterion(LossConfig(**ONLY_SET, class_weight=0.0), num_classes=1)
    a = crit(LayerOutput(torch.zeros(1, 3, 2), logits), [], [t])
    b = crit(LayerOutput(torch.zeros(1, 3, 2), changed), [], [t])
    assert a["mask"].item() == pytest.approx(b["mask"].item(), rel=1e-6)
    assert a["dice"].item() == pytest.approx(b["dice"].item(), rel=1e-6)


def test_matcher_recovers_a_permutation() -> None:
    t = _target([[[1, 1], [0, 0]], [[0, 0], [1, 1]]], [1, 0])
    pred = _perfect(_target([[[0, 0], [1, 1]], [[1, 1], [0, 0]]], [0, 1]), 3, 2)  # swapped order
    m = hungarian_match(
        pred.class_logits[0], pred.mask_logits[0].flatten(1), t.labels, t.masks.flatten(1).float()
    )
    assert dict(zip(m.pred.tolist(), m.gt.tolist(), strict=True)) == {0: 1, 1: 0}
    assert m.mask_similarity.min().item() > 0.99 and m.class_prob.min().item() > 0.99


def test_mask_similarity_values() -> None:
    probs = torch.tensor([[0.5, 0.5, 0.0, 0.0]])
    targets = torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    sim = mask_similarity(probs, targets)  # inter / mean size
    assert sim[0, 0].item() == pytest.approx(0.5 / 1.0, rel=1e-4)
    assert sim[0, 1].item() == pytest.approx(1.0 / 1.5, rel=1e-4)


@pytest.mark.parametrize("mode", ["vps", "vis"])
def test_no_ground_truth_is_finite_and_differentiable(mode: str) -> None:
    empty = Target(
        torch.zeros(0, dtype=torch.int64),
        torch.zeros(0, 1, 2, 2, dtype=torch.bool),
        torch.zeros(0, dtype=torch.int64),
        torch.full((1, 2, 2), VOID),
        torch.ones(1, 2, 2, dtype=torch.bool),
    )
    cls = torch.randn(1, 3, 3, requires_grad=True)
    masks = torch.randn(1, 3, 1, 2, 2, requires_grad=True)
    feats = torch.randn(1, 4, 1, 2, 2)
    out = Criterion(LOSS_PRESETS[mode], num_classes=2)(
        LayerOutput(cls, masks, feats), [], [empty], torch.randn(1, 3, 1, 2, 2)
    )
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    assert cls.grad is not None and torch.isfinite(cls.grad).all()


def test_deep_supervision_shares_the_final_matching_and_upsamples() -> None:
    t = _target([[[1, 1, 0, 0]] * 4, [[0, 0, 1, 1]] * 4], [0, 1])
    final = _perfect(t, 3, 2)
    aux = LayerOutput(final.class_logits, final.mask_logits[..., ::2, ::2])  # lower resolution
    crit = Criterion(LossConfig(**ONLY_SET), num_classes=2)
    one = crit(final, [], [t])
    two = crit(final, [final, aux], [t])
    assert two["class"].item() == pytest.approx(3 * one["class"].item(), abs=1e-6)
    assert torch.isfinite(two["loss"])
    no_ds = Criterion(LossConfig(**ONLY_SET, deep_supervision=False), num_classes=2)(
        final, [final], [t]
    )
    assert no_ds["class"].item() == pytest.approx(one["class"].item(), abs=1e-9)


def test_insdis_prefers_features_that_separate_tubes() -> None:
    t = _target([[[1, 0], [1, 0]], [[0, 1], [0, 1]]], [0, 1])
    good = torch.zeros(1, 2, 1, 2, 2)
    good[0, 0, 0, :, 0] = 1.0
    good[0, 1, 0, :, 1] = 1.0
    bad = torch.zeros(1, 2, 1, 2, 2)
    bad[0, 0] = 1.0
    crit = Criterion(
        LossConfig(class_weight=0, mask_weight=0, dice_weight=0, semantic_weight=0), num_classes=2
    )
    pred = _perfect(t, 3, 2)
    low = crit(LayerOutput(pred.class_logits, pred.mask_logits, good), [], [t])["insdis"].item()
    high = crit(LayerOutput(pred.class_logits, pred.mask_logits, bad), [], [t])["insdis"].item()
    # good: each pixel's similar pixels (itself + 1) get e^(1/0.3) against 2 x e^0
    assert low == pytest.approx(
        -math.log(math.exp(1 / 0.3) / (2 * math.exp(1 / 0.3) + 2)), rel=1e-4
    )
    assert high == pytest.approx(math.log(4), rel=1e-4)  # all features equal: uniform over 4 pixels


def test_category_weights_scale_the_terms_of_their_class_only() -> None:
    """The known 2x2 case with a weight of 3 on class 0: the matched query's class and dice
    terms triple, the void query's class term is unchanged, and the mask cross-entropy (a
    weighted mean over the tube's pixels, all of class 0) stays the same."""
    t = _target([[[1, 0], [1, 0]]], [0])
    pred = LayerOutput(torch.zeros(1, 2, 2), torch.zeros(1, 2, 1, 2, 2))
    plain = Criterion(LossConfig(**ONLY_SET), num_classes=1)(pred, [], [t])
    heavy = Criterion(LossConfig(**ONLY_SET, category_weights=(3.0,)), num_classes=1)(pred, [], [t])
    ln2 = math.log(2)
    assert heavy["dice"].item() == pytest.approx(3 * plain["dice"].item(), rel=1e-5)
    assert heavy["mask"].item() == pytest.approx(plain["mask"].item(), rel=1e-5)
    expected = 4.0 * (3 * ln2 * 0.75 * (2 / 3) + ln2 * 0.25 * 0.5) / 2
    assert heavy["class"].item() == pytest.approx(expected, rel=1e-3)


def test_category_weights_of_one_change_nothing_and_bad_ones_are_refused() -> None:
    t = _target([[[1, 0], [0, 0]], [[0, 1], [0, 1]]], [0, 1])
    torch.manual_seed(1)
    pred = LayerOutput(torch.randn(1, 3, 3), torch.randn(1, 3, 1, 2, 2))
    sem = torch.randn(1, 3, 1, 2, 2)
    torch.manual_seed(2)  # the same pixel draws for both
    a = Criterion(LossConfig(), num_classes=2)(pred, [], [t], sem)
    torch.manual_seed(2)
    b = Criterion(LossConfig(category_weights=(1.0, 1.0)), num_classes=2)(pred, [], [t], sem)
    for key in ("class", "mask", "dice", "semantic"):
        assert b[key].item() == pytest.approx(a[key].item(), rel=1e-5), key
    with pytest.raises(ValueError, match="category weights"):
        Criterion(LossConfig(category_weights=(1.0, 2.0, 3.0)), num_classes=2)
    with pytest.raises(ValueError, match="must be > 0"):
        LossConfig(category_weights=(1.0, 0.0))


def test_balanced_weights_lift_rare_classes_only() -> None:
    from axialvs_cli.data.camvid import balanced_weights

    freq = [0.4, 0.3, 0.2, 0.05, 0.0125, 0.0001]
    w = balanced_weights(freq)
    # median 0.125: classes at or above it keep 1; 0.05 -> sqrt(2.5); 0.0125 -> sqrt(10) ;
    # 0.0001 -> capped at 4
    assert w[:3] == (1.0, 1.0, 1.0)
    assert w[3] == pytest.approx(math.sqrt(2.5), abs=1e-3)
    assert w[4] == pytest.approx(math.sqrt(10), abs=1e-3)
    assert w[5] == 4.0
