"""VPQ on hand-made VIPSeg folders; every expected number is worked out in the comments.

Grids: one string per row; "." is id 0 (void in the GT, unlabelled in the prediction).
Classes (evalkit.CATEGORIES): 0 wall, 1 road (stuff); 2 person, 3 car (things).
"""

from __future__ import annotations

import pytest
from evalkit import edit_json, write_vipseg

from axialvs_cli.evaluation.api import evaluate_vipseg

W, R, P, C = (1, 0), (2, 1), (300, 2), (400, 3)  # ground truth: (segment id, class)
PW, PR = (11, 0), (12, 1)  # predicted stuff ids
PA, PB, PC = (310, 2), (320, 2), (410, 3)  # predicted things


def vpq(tmp_path, gt, pred, gt_legend, pred_legend, windows=(1,), **kw):
    gt_dir, pred_dir = write_vipseg(tmp_path, gt, pred, gt_legend, pred_legend, **kw)
    return evaluate_vipseg(gt_dir, pred_dir, windows=windows, metrics=("vpq",), warn=lambda m: None)


def test_perfect_prediction_scores_100(tmp_path):
    frames = [["WWPP", "RRPP"], ["WWWP", "RRPP"], ["WPPW", "RRRR"]]
    pred = [[row.replace("P", "A") for row in f] for f in frames]
    res = vpq(tmp_path, {"v": frames}, {"v": pred}, {"W": W, "R": R, "P": P},
              {"W": PW, "R": PR, "A": PA}, windows=(1, 2, 3))  # fmt: skip
    # every tube in every window is matched with IoU 1: PQ 1 for wall, road and person
    assert res["VPQ"] == res["VPQ_th"] == res["VPQ_st"] == 100.0
    assert res["VPQ_per_window"] == {"1": 100.0, "2": 100.0, "3": 100.0}


def test_id_switch_breaks_the_two_frame_tube(tmp_path):
    # person P in both frames; the prediction calls it A, then B
    res = vpq(tmp_path, {"v": [["PPWW"], ["PPWW"]]}, {"v": [["AAWW"], ["BBWW"]]},
              {"P": P, "W": W}, {"A": PA, "B": PB, "W": PW}, windows=(1, 2))  # fmt: skip
    # n=1: each frame matches P with IoU 1 (A, then B) and W with IoU 1 -> PQ 1, 1 -> 100
    assert res["VPQ_per_window"]["1"] == 100.0
    # n=2: |P| = 2 + 2 = 4, |A| = |B| = 2, IoU(P, A) = 2 / (2 + 4 - 2) = 0.5, not > 0.5:
    # person TP 0, FN 1 (P), FP 2 (A, B) -> PQ 0; wall tube IoU 1 -> PQ 1; VPQ_2 = 50
    assert res["VPQ_per_window"]["2"] == 50.0
    assert res["VPQ_th_per_window"]["2"] == 0.0
    assert res["VPQ_st_per_window"]["2"] == 100.0
    person = res["per_class"]["2"]["windows"]["2"]
    assert (person["TP"], person["FP"], person["FN"]) == (0, 2, 1)
    # mean over windows: (100 + 50) / 2, things (100 + 0) / 2, stuff 100
    assert (res["VPQ"], res["VPQ_th"], res["VPQ_st"]) == (75.0, 50.0, 100.0)


@pytest.mark.parametrize(
    ("pred_row", "expected"),
    [
        # A covers 2 of P's 4 pixels: IoU 2 / (2 + 4 - 2) = 0.5 -> not a match (strict);
        # person: FN 1 + FP 1 -> PQ 0; wall PQ 1 -> VPQ (0 + 100) / 2 = 50
        ("AA..", 50.0),
        # A covers 3 of 4: IoU 3 / (3 + 4 - 3) = 0.75 -> TP; PQ 0.75 -> (75 + 100) / 2
        ("AAA.", 87.5),
    ],
)
def test_iou_exactly_one_half_is_not_a_match(tmp_path, pred_row, expected):
    res = vpq(tmp_path, {"v": [["PPPP", "WWWW"]]}, {"v": [[pred_row, "WWWW"]]},
              {"P": P, "W": W}, {"A": PA, "W": PW})  # fmt: skip
    assert res["VPQ"] == expected


def test_prediction_on_void_is_not_a_false_positive(tmp_path):
    # car C lies only on void (column 3): 2 of its 2 pixels on void, 2/2 > 0.5 -> ignored;
    # the car class stays inactive (no TP/FP/FN) and wall matches with IoU 1
    res = vpq(tmp_path, {"v": [["WWW.", "WWW."]]}, {"v": [["WWWC", "WWWC"]]},
              {"W": W}, {"W": PW, "C": PC})  # fmt: skip
    assert res["VPQ"] == 100.0
    assert res["VPQ_th"] is None  # no thing class is active: undefined


def test_prediction_half_on_void_is_a_false_positive(tmp_path):
    # car C: columns 2-3 = 4 pixels, 2 on void (column 3): 2/4 = 0.5, not > 0.5 -> FP;
    # wall: |GT| = 6, |pred| = 4, I = 4, IoU = 4 / (4 + 6 - 4) = 2/3 -> TP
    res = vpq(tmp_path, {"v": [["WWW.", "WWW."]]}, {"v": [["WWCC", "WWCC"]]},
              {"W": W}, {"W": PW, "C": PC})  # fmt: skip
    # car PQ = 0 / (0 + 0.5) = 0; wall PQ = (2/3) / 1; VPQ = 100 * (2/3 + 0) / 2
    assert res["VPQ"] == pytest.approx(100 * (2 / 3) / 2, abs=1e-12)
    assert res["VPQ_st"] == pytest.approx(100 * 2 / 3, abs=1e-12)
    assert res["VPQ_th"] == 0.0


def test_void_pixels_of_a_prediction_leave_the_union(tmp_path):
    # A covers P (2 px) and 2 void px: IoU = 2 / (4 + 2 - 2 - 2) = 1 -> PQ 1
    res = vpq(tmp_path, {"v": [["PP..", "WWWW"]]}, {"v": [["AAAA", "WWWW"]]},
              {"P": P, "W": W}, {"A": PA, "W": PW})  # fmt: skip
    assert res["VPQ_th"] == 100.0


def test_missed_object_is_a_false_negative(tmp_path):
    # car C unpredicted: car FN 1 -> PQ 0; wall PQ 1 -> VPQ 50
    res = vpq(tmp_path, {"v": [["WWCC"]]}, {"v": [["WW.."]]}, {"W": W, "C": C}, {"W": PW})
    assert (res["VPQ"], res["VPQ_th"], res["VPQ_st"]) == (50.0, 0.0, 100.0)


def test_video_shorter_than_the_window(tmp_path):
    gt = {"a": [["RRRR"]], "b": [["WWWW"], ["WWWW"]]}
    pred = {"a": [["RRRR"]], "b": [["WWWW"], ["WWW."]]}
    res = vpq(tmp_path, gt, pred, {"R": R, "W": W}, {"R": PR, "W": PW}, windows=(1, 2, 3))
    # n=1: road IoU 1 -> PQ 1; wall: IoU 1 (frame 0) and 3 / (3 + 4 - 3) = 0.75 (frame 1)
    #      -> PQ (1 + 0.75) / 2 = 0.875; VPQ_1 = 100 * (1 + 0.875) / 2 = 93.75
    assert res["VPQ_per_window"]["1"] == 93.75
    # n=2: video a (1 frame) has no window, so road is inactive; wall tube: |GT| 8, |pred| 7,
    #      IoU 7/8 -> VPQ_2 = 87.5 (the mean is over wall only)
    assert res["VPQ_per_window"]["2"] == 87.5
    # n=3: no video is long enough: no active class, undefined (the official script divides by 0)
    assert res["VPQ_per_window"]["3"] is None
    assert res["VPQ"] is None


def test_crowd_region_absorbs_a_prediction(tmp_path):
    # GT car C is crowd: never matched, no FN; predicted car D lies on it: (0 void + 2 crowd) / 2
    # > 0.5 -> ignored. Only wall is active, with IoU 1.
    res = vpq(tmp_path, {"v": [["CCWW"]]}, {"v": [["DDWW"]]}, {"C": C, "W": W},
              {"D": PC, "W": PW}, crowd=frozenset({C[0]}))  # fmt: skip
    assert res["VPQ"] == 100.0
    assert res["per_class"]["3"]["windows"]["1"]["FP"] == 0


def test_ground_truth_area_comes_from_the_json(tmp_path):
    gt_dir, pred_dir = write_vipseg(tmp_path, {"v": [["PPPP"]]}, {"v": [["AAAA"]]}, {"P": P},
                                    {"A": PA})  # fmt: skip

    def bigger_area(obj):
        obj["annotations"][0]["annotations"][0]["segments_info"][0]["area"] = 6

    edit_json(gt_dir / "panoptic_gt_VIPSeg_val.json", bigger_area)
    res = evaluate_vipseg(gt_dir, pred_dir, windows=(1,), metrics=("vpq",), warn=lambda m: None)
    # IoU = 4 / (4 + 6 - 4) = 2/3 although the PNGs agree pixel for pixel
    assert res["VPQ"] == pytest.approx(100 * 2 / 3, abs=1e-12)


def test_workers_give_the_same_numbers(tmp_path):
    gt = {f"v{i}": [["WWPP", "RRPP"], ["WWWP", "RRP."]] for i in range(3)}
    pred = {f"v{i}": [["WWAA", "RRAA"], ["WWBB" if i else "WWWA", "RRA."]] for i in range(3)}
    gt_dir, pred_dir = write_vipseg(tmp_path, gt, pred, {"W": W, "R": R, "P": P},
                                    {"W": PW, "R": PR, "A": PA, "B": PB})  # fmt: skip
    one = evaluate_vipseg(gt_dir, pred_dir, windows=(1, 2), workers=1)
    two = evaluate_vipseg(gt_dir, pred_dir, windows=(1, 2), workers=2)
    assert one == two
