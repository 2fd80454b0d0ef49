"""`axialvs evaluate` through the Typer app: output, --json, and one-line errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from evalkit import box, edit_json, write_json, write_vipseg, ytvis_gt, ytvis_result
from PIL import Image
from typer.testing import CliRunner

from axialvs_cli.formats import ytvis
from axialvs_cli.main import app

runner = CliRunner()
W, P = (1, 0), (300, 2)
PW, PA, PB = (11, 0), (310, 2), (320, 2)


@pytest.fixture
def vipseg(tmp_path) -> tuple[Path, Path]:
    # the ID-switch case of test_vpq: VPQ_1 = 100, VPQ_2 = 50 (person PQ 0, wall PQ 1)
    return write_vipseg(tmp_path, {"v": [["PPWW"], ["PPWW"]]}, {"v": [["AAWW"], ["BBWW"]]},
                        {"P": P, "W": W}, {"A": PA, "B": PB, "W": PW})  # fmt: skip


def invoke(*args: str | Path):
    return runner.invoke(app, ["evaluate", *map(str, args)])


def listing(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_vipseg_table_and_json(vipseg, tmp_path):
    gt_dir, pred_dir = vipseg
    before = listing(pred_dir)
    out = tmp_path / "scores.json"
    res = invoke("--dataset", "vipseg", "--gt", gt_dir, "--pred", pred_dir, "--json", out,
                 "--vpq-windows", "1,2", "--per-class")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    assert "VPQ" in res.stdout and "STQ" in res.stdout and "person" in res.stdout
    data = json.loads(out.read_text())
    # (100 + 50) / 2, things (100 + 0) / 2, stuff 100
    assert (data["VPQ"], data["VPQ_th"], data["VPQ_st"]) == (75.0, 50.0, 100.0)
    assert data["VPQ_per_window"] == {"1": 100.0, "2": 50.0}
    # STQ of the same case: AQ 1/4 * (2*2/4 + 2*2/4) = 0.5, SQ 1
    assert (data["AQ"], data["SQ"]) == (0.5, 1.0)
    assert data["STQ"] == pytest.approx(0.5**0.5, abs=1e-15)
    assert data["per_class"]["2"]["windows"]["2"]["FN"] == 1
    assert listing(pred_dir) == before  # nothing written into the prediction folder


def test_gt_json_path_and_default_windows(vipseg):
    gt_dir, pred_dir = vipseg
    gt_json = gt_dir / "panoptic_gt_VIPSeg_val.json"
    res = invoke("--dataset", "vipseg", "--gt", gt_json, "--pred", pred_dir, "--metrics", "vpq")
    assert res.exit_code == 0, res.stderr
    # default windows 1,2,4,6,8: the 2-frame video has no window for n >= 4, so no class is
    # active there and VPQ is undefined, with a warning
    assert "n/a" in res.stdout and "undefined" in res.stderr


def test_ytvis_table_and_json(tmp_path):
    m = box(8, 8, 0, 4, 0, 4)
    gt = write_json(tmp_path / "valid.json", ytvis_gt([(1, 8, 8, 1)], [(1, 1, [m])]))
    results = ytvis.write_results(tmp_path / "results.json", [ytvis.result_entry(1, 1, 0.9, [m])])
    out = tmp_path / "ap.json"
    res = invoke("--dataset", "ovis", "--gt", gt, "--pred", results, "--json", out)
    assert res.exit_code == 0, res.stderr
    assert "AP50" in res.stdout
    data = json.loads(out.read_text())
    keys = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
    assert all(k in data for k in keys)
    assert data["AP"] == pytest.approx(1.0, abs=1e-12) and data["APl"] == -1


def _error(res) -> str:
    assert res.exit_code == 1, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    return lines[0]


def _vipseg_error(gt_dir: Path, pred_dir: Path) -> str:
    return _error(invoke("--dataset", "vipseg", "--gt", gt_dir, "--pred", pred_dir))


def test_missing_prediction_folder(vipseg, tmp_path):
    assert "prediction folder not found" in _vipseg_error(vipseg[0], tmp_path / "nope")


def test_missing_ground_truth(vipseg, tmp_path):
    assert "no such ground-truth folder" in _vipseg_error(tmp_path / "nope", vipseg[1])
    (vipseg[0] / "panoptic_gt_VIPSeg_val.json").rename(vipseg[0] / "other.json")
    assert "JSON files there: other.json" in _vipseg_error(vipseg[0], vipseg[1])


def test_missing_prediction_png(vipseg):
    gt_dir, pred_dir = vipseg
    (pred_dir / "pan_pred" / "v" / "00001.png").unlink()
    assert "00001.png: prediction PNG not found" in _vipseg_error(gt_dir, pred_dir)


def test_frame_count_differs(vipseg):
    gt_dir, pred_dir = vipseg
    edit_json(pred_dir / "pred.json", lambda o: o["annotations"][0]["annotations"].pop())
    msg = _vipseg_error(gt_dir, pred_dir)
    assert "pred.json" in msg and "has 1 frames but the ground truth has 2" in msg


def test_unknown_category(vipseg):
    gt_dir, pred_dir = vipseg

    def bad(obj):
        obj["annotations"][0]["annotations"][0]["segments_info"][0]["category_id"] = 999

    edit_json(pred_dir / "pred.json", bad)
    assert "unknown category_id 999" in _vipseg_error(gt_dir, pred_dir)


def test_malformed_json(vipseg):
    gt_dir, pred_dir = vipseg
    (pred_dir / "pred.json").write_text('{"annotations": [')
    assert "pred.json: prediction JSON is not valid JSON" in _vipseg_error(gt_dir, pred_dir)


def test_png_of_wrong_size(vipseg):
    gt_dir, pred_dir = vipseg
    png = pred_dir / "pan_pred" / "v" / "00000.png"
    Image.fromarray(np.zeros((2, 4, 3), np.uint8)).save(png)
    assert "prediction PNG is 4x2 but the ground-truth frame is 4x1" in _vipseg_error(
        gt_dir, pred_dir
    )


def test_png_id_missing_from_json(vipseg):
    gt_dir, pred_dir = vipseg
    png = pred_dir / "pan_pred" / "v" / "00000.png"
    Image.fromarray(np.full((1, 4, 3), 7, np.uint8)).save(png)  # id 7 + 7*256 + 7*65536
    assert "is in the PNG but not in pred.json" in _vipseg_error(gt_dir, pred_dir)


def test_grayscale_png(vipseg):
    gt_dir, pred_dir = vipseg
    Image.fromarray(np.zeros((1, 4), np.uint8)).save(pred_dir / "pan_pred" / "v" / "00000.png")
    assert "has mode L, expected an RGB PNG" in _vipseg_error(gt_dir, pred_dir)


def test_bad_windows(vipseg):
    assert "--vpq-windows" in _error(invoke("--dataset", "vipseg", "--gt", vipseg[0],
                                            "--pred", vipseg[1], "--vpq-windows", "1,x"))  # fmt: skip


@pytest.fixture
def ytvis_files(tmp_path) -> tuple[Path, list]:
    m = box(8, 8, 0, 4, 0, 4)
    gt = write_json(tmp_path / "valid.json", ytvis_gt([(1, 8, 8, 1)], [(1, 1, [m])]))
    return gt, [ytvis_result(1, 1, 0.9, [m])]


def _ytvis_error(gt: Path, results) -> str:
    path = write_json(gt.parent / "results.json", results)
    return _error(invoke("--dataset", "ytvis", "--gt", gt, "--pred", path))


def test_malformed_rle(ytvis_files):
    gt, results = ytvis_files
    results[0]["segmentations"][0]["counts"] = "T"  # ends inside a number
    msg = _ytvis_error(gt, results)
    assert "results.json: entry 0: frame 0" in msg and "middle of a number" in msg


def test_unknown_video(ytvis_files):
    gt, results = ytvis_files
    results[0]["video_id"] = 5
    assert "entry 0: video_id 5 is not in the ground truth" in _ytvis_error(gt, results)


def test_results_not_a_list(ytvis_files):
    assert "must be a JSON list" in _ytvis_error(ytvis_files[0], {"annotations": []})


def test_unknown_category_is_dropped_with_a_warning(ytvis_files, tmp_path):
    gt, results = ytvis_files
    results.append(ytvis_result(1, 77, 0.99, [box(8, 8, 0, 8, 0, 8)]))
    path = write_json(tmp_path / "results.json", results)
    res = invoke("--dataset", "ytvis", "--gt", gt, "--pred", path)
    assert res.exit_code == 0 and "category_id not in the ground truth are ignored" in res.stderr


def test_long_video_subset_with_skip_unknown_videos(tmp_path):
    # YouTube-VIS 2022 long-video AP: score against the long videos' GT file only (video 2);
    # the results also hold video 1, which the flag leaves out
    m = box(8, 8, 0, 4, 0, 4)
    gt = write_json(tmp_path / "valid_long.json", ytvis_gt([(2, 8, 8, 1)], [(2, 1, [m])]))
    path = write_json(
        tmp_path / "results.json",
        [ytvis_result(1, 1, 0.99, [m]), ytvis_result(2, 1, 0.5, [box(8, 8, 0, 4, 0, 2)])],
    )
    out = tmp_path / "long.json"
    assert "--skip-unknown-videos" in _error(
        invoke("--dataset", "ytvis", "--gt", gt, "--pred", path)
    )
    res = invoke("--dataset", "ytvis", "--gt", gt, "--pred", path, "--skip-unknown-videos",
                 "--json", out)  # fmt: skip
    assert res.exit_code == 0, res.stderr
    assert "1 track(s) of videos not in valid_long.json are skipped" in res.stderr
    # video 2: IoU 8/16 = 0.5 -> matched at t = 0.50 only: AP = 1/10 (see test_track_ap)
    assert json.loads(out.read_text())["AP"] == pytest.approx(0.1, abs=1e-12)
