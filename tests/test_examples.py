"""The example scripts run (with small arguments) and the sample video is what they expect."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(script: str, *args: object) -> str:
    cmd = [sys.executable, str(EXAMPLES / script), *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_sample_video_is_small_and_complete() -> None:
    path = EXAMPLES / "sample.mp4"
    assert path.stat().st_size < 400 * 1024
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (stream.codec_context.width, stream.codec_context.height, frames) == (256, 144, 48)


def test_make_sample_video(tmp_path: Path) -> None:
    out = run("make_sample_video.py", "-o", tmp_path / "s.mp4", "--frames", 4)
    assert "4 frames" in out and (tmp_path / "s.mp4").stat().st_size > 0


def test_segment_video(tmp_path: Path) -> None:
    out = run("segment_video.py", "-o", tmp_path / "out", "--max-frames", 4)
    assert "sample: 4 frames, 2 clips" in out
    pred = json.loads((tmp_path / "out" / "pred.json").read_text())
    assert len(pred["annotations"][0]["annotations"]) == 4


def test_evaluate_predictions(tmp_path: Path) -> None:
    out = run("evaluate_predictions.py", "--videos", 1, "--frames", 4, "--work", tmp_path)
    assert "VPQ (1,2,4,6)" in out and "STQ" in out
    assert (tmp_path / "pred" / "pred.json").is_file()


def test_train_tiny(tmp_path: Path) -> None:
    out = run(
        "train_tiny.py", "--out", tmp_path, "--steps", 1, "--stage2-steps", 1,
        "--videos", 2, "--frames", 4, "--crop", "65x97",
    )  # fmt: skip
    assert "stage 2 step" in out
    assert (tmp_path / "stage2" / "model_final.pt").is_file()
