"""Track AP / AR on hand-made YouTube-VIS files; expected numbers worked out in the comments.

With one ground-truth track and one detection, precision is 1 at every recall point for the
IoU thresholds t <= IoU (t in 0.50, 0.55, ..., 0.95) and 0 for the others, so
AP = (number of thresholds <= IoU) / 10 and AR100 the same. Precision is tp / (tp + fp + eps)
with eps = 2.2e-16 (numpy's spacing(1), as in the official code), so "1" reads 1 - 2.2e-16.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from evalkit import box, write_json, ytvis_gt, ytvis_result
from PIL import Image

from axialvs_cli.evaluation.api import evaluate_ytvis

DAVIS = Path("/work/shared/data/annotated/davis2016_blackswan/Annotations")


def near(x: float):
    return pytest.approx(x, abs=1e-12)


def run(tmp_path, gt, results):
    return evaluate_ytvis(
        write_json(tmp_path / "gt.json", gt), write_json(tmp_path / "res.json", results),
        warn=lambda m: None,
    )  # fmt: skip


def test_perfect_tracks(tmp_path):
    m0, m1 = box(8, 8, 0, 4, 0, 4), box(8, 8, 2, 6, 2, 6)
    res = run(
        tmp_path, ytvis_gt([(1, 8, 8, 2)], [(1, 1, [m0, m1])]), [ytvis_result(1, 1, 0.9, [m0, m1])]
    )
    for key in ("AP", "AP50", "AP75", "APs", "AR1", "AR10", "AR100", "ARs"):
        assert res[key] == near(1.0), key
    # area 16 px is "small" only: medium and large have no ground truth -> -1
    for key in ("APm", "APl", "ARm", "ARl"):
        assert res[key] == -1.0, key


def test_iou_exactly_one_half_matches(tmp_path):
    # GT 4x4 = 16 px; detection the left half, 8 px: IoU = 8/16 = 0.5 >= 0.50 only
    gt = ytvis_gt([(1, 8, 8, 1)], [(1, 1, [box(8, 8, 0, 4, 0, 4)])])
    res = run(tmp_path, gt, [ytvis_result(1, 1, 0.9, [box(8, 8, 0, 4, 0, 2)])])
    assert res["AP50"] == near(1.0)
    assert res["AP75"] == 0.0
    # 1 threshold of 10 with precision 1 at all 101 recall points: 101 / 1010
    assert res["AP"] == near(0.1)
    assert res["AR100"] == near(0.1)


def test_spatio_temporal_iou_is_one_ratio(tmp_path):
    # frame 0: GT 16 px, detection identical; frame 1: GT 5 px, no detection mask.
    # IoU = 16 / (16 + 5) = 0.762 (a per-frame mean would be (1 + 0) / 2 = 0.5)
    # thresholds <= 0.762: 0.50 .. 0.75 -> 6 -> AP 0.6
    g1 = np.zeros((8, 8), bool)
    g1[0, :5] = True
    gt = ytvis_gt([(1, 8, 8, 2)], [(1, 1, [box(8, 8, 0, 4, 0, 4), g1])])
    res = run(tmp_path, gt, [ytvis_result(1, 1, 0.9, [box(8, 8, 0, 4, 0, 4), None])])
    assert res["AP"] == near(0.6)


def test_short_segmentation_list_drops_later_frames(tmp_path):
    # the detection lists 1 frame of 2: the official loop stops there, so the GT's frame 1
    # (5 px) is left out of the union: IoU = 16/16 = 1 -> AP 1
    g1 = np.zeros((8, 8), bool)
    g1[0, :5] = True
    gt = ytvis_gt([(1, 8, 8, 2)], [(1, 1, [box(8, 8, 0, 4, 0, 4), g1])])
    res = run(tmp_path, gt, [ytvis_result(1, 1, 0.9, [box(8, 8, 0, 4, 0, 4)])])
    assert res["AP"] == near(1.0)


def test_two_objects_one_class_cap_ar1(tmp_path):
    a, b = box(8, 8, 0, 3, 0, 3), box(8, 8, 4, 8, 4, 8)
    gt = ytvis_gt([(1, 8, 8, 1)], [(1, 1, [a]), (1, 1, [b])])
    res = run(tmp_path, gt, [ytvis_result(1, 1, 0.9, [a]), ytvis_result(1, 1, 0.8, [b])])
    assert res["AP"] == near(1.0)
    # maxDets=1 keeps one detection per (video, class): recall 1/2
    assert res["AR1"] == 0.5
    assert res["AR10"] == 1.0


def test_false_positive_in_another_video_and_class_without_gt(tmp_path):
    m = box(8, 8, 0, 4, 0, 4)
    gt = ytvis_gt([(1, 8, 8, 1), (2, 8, 8, 1)], [(1, 1, [m])])
    results = [
        ytvis_result(1, 1, 0.8, [m]),  # the true positive
        ytvis_result(2, 1, 0.9, [m]),  # class 1 in video 2, which has no class-1 object: FP
        ytvis_result(1, 2, 0.95, [m]),  # class 2 has no GT anywhere: ignored entirely
    ]
    res = run(tmp_path, gt, results)
    # pooled by score: FP (0.9), TP (0.8): precision [0, 1/2] -> made non-increasing [1/2, 1/2];
    # recall [0, 1]: every recall point reads 1/2 -> AP 0.5 at every threshold
    assert res["AP"] == near(0.5)
    assert res["AR100"] == 1.0


def test_area_bucket_ends_are_inclusive(tmp_path):
    # a 128 x 128 object: area 16384 = 128^2 is both "small" [0, 128^2] and "medium"
    m = box(130, 130, 0, 128, 0, 128)
    res = run(tmp_path, ytvis_gt([(1, 130, 130, 1)], [(1, 1, [m])]), [ytvis_result(1, 1, 0.9, [m])])
    assert (res["APs"], res["APm"], res["APl"]) == (near(1.0), near(1.0), -1.0)


@pytest.mark.parametrize(("extra", "expected_ap"), [(99, 0.01), (100, 0.0)])
def test_at_most_100_detections_per_video_and_class(tmp_path, extra, expected_ap):
    # `extra` false positives outscore the one true positive (all in video 1, class 1)
    m, wrong = box(8, 8, 0, 4, 0, 4), box(8, 8, 5, 8, 5, 8)
    results = [ytvis_result(1, 1, 0.9, [wrong]) for _ in range(extra)]
    results.append(ytvis_result(1, 1, 0.1, [m]))
    res = run(tmp_path, ytvis_gt([(1, 8, 8, 1)], [(1, 1, [m])]), results)
    # 99 FPs: the TP is detection 100, kept: precision 1/100 at recall 1, at every recall point
    # 100 FPs: the TP is detection 101, cut: nothing matched -> AP 0
    assert res["AP"] == near(expected_ap)


def test_crowd_only_class_is_undefined(tmp_path):
    m = box(8, 8, 0, 4, 0, 4)
    gt = ytvis_gt([(1, 8, 8, 1)], [(1, 1, [m])], crowd=[0])
    res = run(tmp_path, gt, [ytvis_result(1, 1, 0.9, [m])])
    assert res["AP"] == -1.0 and res["AR100"] == -1.0


def test_no_detections_score_zero(tmp_path):
    res = run(tmp_path, ytvis_gt([(1, 8, 8, 1)], [(1, 1, [box(8, 8, 0, 4, 0, 4)])]), [])
    assert res["AP"] == 0.0 and res["AR100"] == 0.0


@pytest.mark.skipif(not DAVIS.is_dir(), reason="shared DAVIS annotations not available")
def test_real_masks(tmp_path):
    masks = [np.asarray(Image.open(DAVIS / f"{t:05d}.png")) > 127 for t in range(0, 50, 10)]
    pred = [np.roll(m, 12, axis=1) for m in masks]
    h, w = masks[0].shape
    gt = ytvis_gt([(7, h, w, len(masks))], [(7, 1, masks)])
    res = run(tmp_path, gt, [ytvis_result(7, 1, 0.5, pred)])
    inter = sum(int((m & p).sum()) for m, p in zip(masks, pred, strict=True))
    union = sum(int((m | p).sum()) for m, p in zip(masks, pred, strict=True))
    thresholds = [0.5 + 0.05 * k for k in range(10)]
    assert all(abs(inter / union - t) > 1e-9 for t in thresholds)  # no tie at a threshold
    expected = sum(t <= inter / union for t in thresholds) / 10
    assert res["AP"] == near(expected)
    avg_area = np.mean([m.sum() for m in masks])
    assert 128**2 < avg_area < 256**2  # so the object is "medium" only
    assert res["APm"] == res["AP"] and res["APs"] == res["APl"] == -1.0
