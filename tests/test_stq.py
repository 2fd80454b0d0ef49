"""STQ on hand-made VIPSeg folders; expected numbers worked out in the comments.

Classes (evalkit.CATEGORIES): 0 wall, 1 road (stuff); 2 person, 3 car (things). Ground-truth
``segments_info`` lists ids in increasing order, so wall (id 1) comes before the things and
gets instance number 0, as stuff does in the official files.
"""

from __future__ import annotations

import math

import pytest
from evalkit import write_vipseg

from axialvs_cli.evaluation.api import evaluate_vipseg

W, P, Q, C = (1, 0), (300, 2), (301, 2), (400, 3)
PW, PA, PB, PC, PD, PK = (11, 0), (310, 2), (320, 2), (330, 2), (340, 2), (410, 3)


def stq(tmp_path, gt, pred, gt_legend, pred_legend):
    gt_dir, pred_dir = write_vipseg(tmp_path, gt, pred, gt_legend, pred_legend)
    return evaluate_vipseg(gt_dir, pred_dir, metrics=("stq",), warn=lambda m: None)


def test_perfect_prediction(tmp_path):
    frames = [["WWPP", "WCCP"], ["WPPW", "CCWW"]]
    pred = [[r.replace("P", "A").replace("C", "K") for r in f] for f in frames]
    res = stq(tmp_path, {"v": frames}, {"v": pred}, {"W": W, "P": P, "C": C},
              {"W": PW, "A": PA, "K": PK})  # fmt: skip
    assert (res["STQ"], res["AQ"], res["SQ"]) == (1.0, 1.0, 1.0)


def test_id_switch_halves_association(tmp_path):
    res = stq(tmp_path, {"v": [["WPP"], ["WPP"]]}, {"v": [["WAA"], ["WBB"]]},
              {"W": W, "P": P}, {"W": PW, "A": PA, "B": PB})  # fmt: skip
    # GT tube P: 4 px. Pred tubes A, B: 2 px each, each overlapping P on 2 px.
    # AQ(P) = 1/4 * (2 * 2/(2 + 4 - 2) + 2 * 2/(2 + 4 - 2)) = 1/4 * (1 + 1) = 0.5
    assert res["AQ"] == 0.5
    # classes are all right: wall IoU 1, person IoU 1 -> SQ 1
    assert res["SQ"] == 1.0
    assert res["STQ"] == math.sqrt(0.5)


def test_unlabelled_prediction_adds_a_phantom_void_class(tmp_path):
    res = stq(tmp_path, {"v": [["WWWW", "PPPP"]]}, {"v": [["WW..", "AAAA"]]},
              {"W": W, "P": P}, {"W": PW, "A": PA})  # fmt: skip
    # wall: TP 2, FN 2 (predicted void) -> IoU 2/4; person IoU 1; the void column has
    # 2 px with TP 0 -> IoU 0 and is counted: SQ = (0.5 + 1 + 0) / 3 (not (0.5 + 1) / 2)
    assert res["SQ"] == pytest.approx(0.5, abs=1e-15)
    assert res["AQ"] == 1.0  # 1/4 * 4 * 4/4
    assert res["STQ"] == pytest.approx(math.sqrt(0.5), abs=1e-15)


def test_first_listed_thing_counts_as_crowd(tmp_path):
    # no stuff: person P (id 300) is the video's first listed segment -> instance 0 -> crowd:
    # its pixels leave both the GT tubes and the predicted tubes
    res = stq(tmp_path, {"v": [["PPCC"]]}, {"v": [["AKKK"]]}, {"P": P, "C": C},
              {"A": PA, "K": PK})  # fmt: skip
    # AQ: only tube C (2 px); pred K without the crowd pixel: 2 px, overlap 2
    # AQ(C) = 1/2 * (2 * 2/2) = 1 -> AQ = 1 / 1 tube = 1 although P is half wrong
    assert res["AQ"] == 1.0
    # SQ: person: TP 1, FN 1 -> 1/2; car: TP 2, FP 1 -> 2/3; SQ = (1/2 + 2/3) / 2 = 7/12
    assert res["SQ"] == pytest.approx(7 / 12, abs=1e-15)
    assert res["STQ"] == pytest.approx(math.sqrt(7 / 12), abs=1e-15)


def test_association_is_pooled_over_tubes_not_videos(tmp_path):
    gt = {"a": [["WPP"]], "b": [["WPPQQ"], ["WPPQQ"]]}
    pred = {"a": [["WAA"]], "b": [["WAABB"], ["WCCDD"]]}
    res = stq(tmp_path, gt, pred, {"W": W, "P": P, "Q": Q},
              {"W": PW, "A": PA, "B": PB, "C": PC, "D": PD})  # fmt: skip
    # video a: 1 tube, AQ 1. video b: P and Q are split in two (2 + 2 px of 4):
    # AQ = 1/4 * (2 * 2/4 + 2 * 2/4) = 0.5 each. Pooled: (1 + 0.5 + 0.5) / 3 tubes = 2/3
    # (the mean of per-video values would be (1 + 0.5) / 2 = 0.75)
    assert res["AQ"] == pytest.approx(2 / 3, abs=1e-15)
    assert res["SQ"] == 1.0
