"""`axialvs synth`: deterministic, real VIPSeg / YouTube-VIS files that the evaluator reads."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from axialvs_cli.data.synth import SynthConfig, generate
from axialvs_cli.errors import OutputExistsError
from axialvs_cli.evaluation.api import evaluate_vipseg, evaluate_ytvis
from axialvs_cli.formats import vipseg, ytvis
from axialvs_cli.formats.palette import read_id_png
from axialvs_cli.main import app

CFG = SynthConfig(videos=2, frames=6, size=(64, 96), seed=3, split="val")


@pytest.fixture(scope="module")
def vip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vip")
    generate(root, CFG)
    return root


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_files(vip: Path, tmp_path: Path) -> None:
    generate(tmp_path, CFG)
    assert _digest(tmp_path) == _digest(vip)
    other = tmp_path / "other"
    generate(other, SynthConfig(**{**CFG.__dict__, "seed": 4}))
    assert _digest(other) != _digest(vip)


def test_vipseg_layout_and_evaluator_round_trip(vip: Path, tmp_path: Path) -> None:
    for name in ("panoptic_gt_VIPSeg_val.json", "panoVIPSeg_categories.json", "val.txt"):
        assert (vip / name).is_file()
    gt = vipseg.read_ground_truth(vip)  # the evaluator's own reader
    assert len(gt.videos) == 2 and [c.isthing for c in gt.categories] == [False] * 4 + [True] * 4
    # the ground truth scored as a submission is perfect
    sub = tmp_path / "sub"
    shutil.copytree(vip / "panomasksRGB", sub / "pan_pred")
    data = json.loads((vip / "panoptic_gt_VIPSeg_val.json").read_text())
    (sub / "pred.json").write_text(json.dumps({"annotations": data["annotations"]}))
    r = evaluate_vipseg(vip, sub, windows=(1, 2, 4, 6))  # videos of 6 frames
    assert r["VPQ"] == pytest.approx(100.0) and r["STQ"] == pytest.approx(1.0)


def test_vipseg_ids_are_tubes_and_match_raw_labels(vip: Path) -> None:
    gt = vipseg.read_ground_truth(vip)
    vid, frames = next(iter(gt.videos.items()))
    seen: dict[int, int] = {}
    presence: dict[int, list[bool]] = {}
    for t, frame in enumerate(frames):
        ids = read_id_png(gt.mask_path(vid, frame.file_name))
        raw = np.asarray(Image.open(vip / "panomasks" / vid / frame.file_name))
        assert raw.dtype == np.uint16 or raw.max() < 2**16
        cats = [s.category_id for s in frame.segments]
        assert cats == sorted(cats)  # stuff (0..3) before things (4..7)
        for s in frame.segments:
            r = np.unique(raw[ids == s.id])
            assert len(r) == 1  # one raw label per segment id ...
            assert seen.setdefault(s.id, int(r[0])) == int(r[0])  # ... for the whole video
            assert s.area == int((ids == s.id).sum())
            presence.setdefault(s.id, [False] * len(frames))[t] = True
        assert ((raw == 0) == (ids == 0)).all()  # void agrees
    things = [sid for sid, raw in seen.items() if raw >= 125]
    assert len(things) >= 2


def test_ytvis_files_pass_the_reader_and_score_perfectly(tmp_path: Path) -> None:
    generate(
        tmp_path,
        SynthConfig(videos=2, frames=5, size=(64, 96), seed=1, format="ytvis", split="valid"),
    )
    gt = ytvis.read_ground_truth(tmp_path / "valid.json")
    assert gt.category_ids == [1, 2, 3, 4] and len(gt.videos) == 2
    data = json.loads((tmp_path / "valid.json").read_text())
    for v in data["videos"]:
        assert all((tmp_path / "JPEGImages" / n).is_file() for n in v["file_names"])
    res = [
        {
            "video_id": a["video_id"],
            "category_id": a["category_id"],
            "score": 1.0,
            "segmentations": a["segmentations"],
        }
        for a in data["annotations"]
    ]
    (tmp_path / "res.json").write_text(json.dumps(res))
    assert evaluate_ytvis(tmp_path / "valid.json", tmp_path / "res.json")["AP"] == pytest.approx(
        1.0
    )


def test_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["synth", "--out", str(tmp_path), "--videos", "1", "--frames", "2", "--size", "48x64"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "panoptic_gt_VIPSeg_train.json" in result.output
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "--overwrite" in again.stderr
    bad = runner.invoke(app, ["synth", "--out", str(tmp_path), "--size", "48-64"])
    assert bad.exit_code == 1 and "HEIGHTxWIDTH" in bad.stderr
    with pytest.raises(OutputExistsError):
        generate(tmp_path, SynthConfig(videos=1, frames=2, size=(48, 64)))
