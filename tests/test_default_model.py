"""The shipped models: load strictly, describe themselves, and the default segments with no flags.

The synthetic model (``--checkpoint synthetic``) is always shipped; the default model is the
first installed of `model_cards.SHIPPED_FILES`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import axialvs_cli.inference.device as device_lib
from axialvs_cli import model_cards
from axialvs_cli.inference.device import default_checkpoint
from axialvs_cli.main import app
from models.weights import load_checkpoint, read_checkpoint

runner = CliRunner()
SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample.mp4"


@pytest.fixture(scope="module")
def default() -> Path:
    path = default_checkpoint()
    assert path is not None, "no shipped model is installed"
    return path


@pytest.fixture(scope="module")
def synthetic() -> Path:
    path = device_lib.shipped_checkpoints().get("synthetic")
    assert path is not None, "axialvs_cli/assets/synthetic.axialvs.pt is not installed"
    return path


def test_synthetic_model_loads_strictly_and_carries_its_meta(synthetic: Path) -> None:
    assert synthetic.stat().st_size < 6 * 2**20  # a few MB of package data
    model, cfg, meta = load_checkpoint(synthetic)  # strict: no missing or unexpected keys
    assert cfg.name == "tiny" and not cfg.decoder.aux_semantic and model.semantic_head is None
    classes = meta["classes"]
    assert len(classes) == cfg.num_classes == 8
    assert all({"id", "name", "isthing", "color"} <= set(c) for c in classes)
    assert [c["name"] for c in classes if c["isthing"]] == ["person", "car", "ball", "dog"]
    assert "synthetic" in meta["trained_on"] and "VIPSeg" in meta["trained_on"]
    for mode in ("near_online", "offline"):
        assert 0 < meta["benchmark"][mode]["VPQ"] <= 100
    stored = read_checkpoint(synthetic)["state_dict"]
    assert {str(v.dtype) for v in stored.values()} <= {"torch.float16", "torch.int64"}


def test_the_default_is_the_first_installed_shipped_model(default: Path) -> None:
    installed = model_cards.installed_names()
    assert "synthetic" in installed
    assert default == device_lib.shipped_checkpoints()[installed[0]]
    assert sorted(device_lib.shipped_checkpoints()) == sorted(installed)


def test_segment_sample_with_no_flags(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = runner.invoke(app, ["segment", str(SAMPLE), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == [
        "pan_pred",
        "pred.json",
        "results.json",
        "summary.json",
    ]
    assert len(list((out / "pan_pred" / "sample").glob("*.png"))) == 48
    summary = json.loads((out / "summary.json").read_text())
    assert summary["checkpoint"] == str(default_checkpoint())
    assert summary["videos"][0]["classes"]  # it found something


def test_info_describes_the_shipped_models() -> None:
    res = runner.invoke(app, ["info"])
    assert res.exit_code == 0, res.output
    names = model_cards.installed_names()
    assert f"default model ({names[0]}):" in res.output
    for name in names[1:]:
        assert f"also shipped ({name}):" in res.output
    assert "VPQ on the synthetic validation split" in res.output


def test_shipped_names_resolve_and_a_file_of_that_name_wins(
    synthetic: Path, tmp_path: Path, monkeypatch
) -> None:
    assert device_lib.shipped_checkpoints()["synthetic"] == synthetic
    assert device_lib.resolve_checkpoint("synthetic") == synthetic
    assert device_lib.resolve_checkpoint(Path("synthetic")) == synthetic  # as typer passes it
    monkeypatch.chdir(tmp_path)
    (tmp_path / "synthetic").write_bytes(b"not a checkpoint")
    assert device_lib.resolve_checkpoint("synthetic") == "synthetic"  # a path is never shadowed
    res = runner.invoke(app, ["info"])
    names = ", ".join(model_cards.installed_names())
    assert f"shipped names for --checkpoint: {names}" in res.output


def test_segment_with_a_shipped_name(tmp_path: Path, synthetic: Path) -> None:
    out = tmp_path / "out"
    args = ["segment", str(SAMPLE), "-o", str(out), "--checkpoint", "synthetic"]
    res = runner.invoke(app, [*args, "--max-frames", "4", "--task", "panoptic"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["checkpoint"] == str(synthetic)
    assert {"person", "grass"} <= set(summary["videos"][0]["classes"])  # it sees the scene


def test_a_shipped_name_that_is_not_installed_says_so(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(device_lib, "_asset", lambda name: None)
    res = runner.invoke(
        app, ["segment", str(SAMPLE), "-o", str(tmp_path / "o"), "--checkpoint", "synthetic"]
    )
    assert res.exit_code == 1 and "not installed" in res.stderr
    assert not (tmp_path / "o").exists()


def test_without_default_model_segment_says_how_to_get_one(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(device_lib, "default_checkpoint", lambda: None)
    res = runner.invoke(app, ["segment", str(SAMPLE), "-o", str(tmp_path / "out")])
    assert res.exit_code == 1
    assert "axialvs train" in res.stderr and "axialvs convert" in res.stderr


def test_synthetic_model_reproduces_its_benchmark_vpq(synthetic: Path, tmp_path: Path) -> None:
    """The benchmark's val split, regenerated, segmented near-online with the synthetic model
    and evaluated, gives the VPQ its meta (and docs/RESULTS.md) states."""
    meta = read_checkpoint(synthetic)["meta"]
    data, pred = tmp_path / "data", tmp_path / "pred"
    synth = ["synth", "--out", str(data), "--videos", "10", "--frames", "24"]
    res = runner.invoke(app, [*synth, "--size", "144x256", "--seed", "1", "--split", "val"])
    assert res.exit_code == 0, res.output
    videos = [str(data / "images" / n) for n in (data / "val.txt").read_text().split()]
    seg = ["segment", *videos, "-o", str(pred), "--task", "panoptic", "--checkpoint", "synthetic"]
    res = runner.invoke(app, seg)
    assert res.exit_code == 0, res.output
    scores = tmp_path / "scores.json"
    gt = data / "panoptic_gt_VIPSeg_val.json"
    res = runner.invoke(
        app, ["evaluate", "--dataset", "vipseg", "--gt", str(gt), "--pred", str(pred),
              "--json", str(scores)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    measured = json.loads(scores.read_text())
    stated = meta["benchmark"]["near_online"]
    assert abs(measured["VPQ"] - stated["VPQ"]) < 0.3
    assert abs(measured["STQ"] - stated["STQ"]) < 0.01


DATA = Path(
    os.environ.get("AXIALVS_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
CAMVID_NAMES = ["sky", "building", "pole", "road", "pavement", "tree", "sign", "fence", "car",
                "pedestrian", "bicyclist"]  # fmt: skip
# the class names of benchmarks/camvid_eval.py's table
CAMVID_TABLE = ["Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence",
                "Car", "Pedestrian", "Bicyclist"]  # fmt: skip


@pytest.fixture(scope="module")
def camvid() -> Path:
    path = device_lib.shipped_checkpoints().get("camvid")
    if path is None:
        pytest.skip(
            "the CamVid street model (axialvs_cli/assets/camvid.axialvs.pt) is not installed"
        )
    return path


def test_camvid_model_loads_strictly_and_states_data_and_terms(camvid: Path) -> None:
    assert camvid.stat().st_size < 24 * 2**20
    model, cfg, meta = load_checkpoint(camvid)
    assert cfg.name == "lite0" and model.semantic_head is None
    assert [c["name"] for c in meta["classes"]] == CAMVID_NAMES
    assert [c["name"] for c in meta["classes"] if c["isthing"]] == CAMVID_NAMES[8:]
    assert "CamVid" in meta["trained_on"] and "non-commercial" in meta["trained_on"]
    assert "Penn-Fudan" in meta["trained_on"]  # the pasted close-up people
    scores = meta["benchmark"]["camvid_test"]
    assert 0 < scores["mIoU"] <= 100 and list(scores["class_IoU"]) == CAMVID_TABLE
    stored = read_checkpoint(camvid)["state_dict"]
    assert {str(v.dtype) for v in stored.values()} <= {"torch.float16", "torch.int64"}


def test_camvid_model_sees_a_real_outdoor_scene(camvid: Path, tmp_path: Path) -> None:
    """A person walking a dog on a paved path between trees (sam2_01_dog.mp4): the street
    model finds the trees, the path and the person (as pedestrian, not car)."""
    video = DATA / "videos" / "sam2_01_dog.mp4"
    if not video.is_file():
        pytest.skip(f"{video} is not here (the shared test data)")
    out = tmp_path / "out"
    args = ["segment", str(video), "-o", str(out), "--checkpoint", "camvid", "--max-frames", "4"]
    res = runner.invoke(app, [*args, "--task", "panoptic"])
    assert res.exit_code == 0, res.output
    pred = json.loads((out / "pred.json").read_text())["annotations"][0]["annotations"]
    area: dict[str, int] = {}
    for frame in pred:
        for seg in frame["segments_info"]:
            name = CAMVID_NAMES[seg["category_id"]]
            area[name] = area.get(name, 0) + seg["area"]
    total = sum(area.values())
    ground = area.get("road", 0) + area.get("pavement", 0)
    # measured at 257x449, share of the frames: road 42 %, tree 38 %, building 11 %,
    # pedestrian 5.3 % (the person, and the dog), pavement 1.3 %, car 0.3 %, no sky
    assert area.get("tree", 0) > 0.25 * total and ground > 0.25 * total, area
    assert area.get("pedestrian", 0) > 0.03 * total, area  # the person (and the dog)
    assert area.get("car", 0) < 0.01 * total, area  # the person was "car" before pasted people
    assert area.get("sky", 0) < 0.1 * total, area


def test_with_the_env_unset_the_default_is_the_camvid_model(camvid: Path, monkeypatch) -> None:
    monkeypatch.delenv(model_cards.DEFAULT_ENV, raising=False)
    assert model_cards.installed_names()[0] == "camvid"
    assert default_checkpoint() == camvid
    res = runner.invoke(app, ["info"])
    assert res.exit_code == 0 and "default model (camvid):" in res.output, res.output


def test_the_env_names_the_default_and_an_unknown_name_is_an_error(
    synthetic: Path, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(model_cards.DEFAULT_ENV, "synthetic")
    assert default_checkpoint() == synthetic
    monkeypatch.setenv(model_cards.DEFAULT_ENV, "streets")
    res = runner.invoke(app, ["segment", str(SAMPLE), "-o", str(tmp_path / "o")])
    assert res.exit_code == 1, res.output
    assert "AXIALVS_DEFAULT_MODEL=streets" in res.stderr and "synthetic" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
    res = runner.invoke(app, ["info"])  # the error alone, not after the preset table
    assert res.exit_code == 1 and res.stdout == "", res.stdout
    assert "AXIALVS_DEFAULT_MODEL=streets" in res.stderr


def test_camvid_runs_at_its_training_crop_size(camvid: Path) -> None:
    _, cfg, _ = load_checkpoint(camvid)
    assert (cfg.inference.short_side, cfg.inference.long_side) == (257, 449)
