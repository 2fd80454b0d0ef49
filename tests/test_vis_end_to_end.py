"""The Tube-Link preset end to end: train a few steps on a generated YouTube-VIS-format video,
segment it, score the results with `axialvs evaluate --dataset ytvis`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from axialvs_cli.main import app
from models.weights import load_checkpoint

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"axialvs {' '.join(args)}:\n{result.output}"
    return result.output


@pytest.mark.slow
def test_tube_link_tiny_trains_segments_and_is_scored(tmp_path) -> None:
    data, model_dir, seg = tmp_path / "data", tmp_path / "run", tmp_path / "seg"
    run("synth", "--out", str(data), "--format", "ytvis", "--videos", "1", "--frames", "8",
        "--size", "64x96")  # fmt: skip
    run(
        "train", "--data", str(data / "train.json"), "--format", "ytvis", "--out", str(model_dir),
        "--preset", "tubelink-tiny", "--steps", "2", "--batch-size", "1", "--crop", "64x96",
        "--clip-length", "4", "--workers", "0", "--device", "cpu", "--no-progress",
    )  # fmt: skip
    weights = model_dir / "model_final.pt"
    _, cfg, _ = load_checkpoint(weights)
    assert cfg.segmenter == "mask2former" and cfg.clip_length == 4
    frames = data / "JPEGImages" / "train_0000"
    run("segment", str(frames), "-o", str(seg), "--checkpoint", str(weights),
        "--task", "instance", "--device", "cpu")  # fmt: skip
    results = json.loads((seg / "results.json").read_text())
    assert isinstance(results, list)
    scored = run("evaluate", "--dataset", "ytvis", "--gt", str(data / "train.json"),
                 "--pred", str(seg / "results.json"))  # fmt: skip
    assert "AP50" in scored
