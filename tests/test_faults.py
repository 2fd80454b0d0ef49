"""Faults and hostile input: stream choice, render after a cut, unwritable outputs, killed
runs, checkpoints holding code, and a short fixed-seed run of the fuzz harness."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from faultkit import motion_photo, small_video
from typer.testing import CliRunner

from axialvs_cli.formats.palette import read_id_png
from axialvs_cli.main import app
from axialvs_cli.outputs.writers import make_partial
from axialvs_cli.video import open_video
from models.build import build_axialvs
from models.config import get_preset
from models.weights import save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    cfg = get_preset("tiny").replace(inference={"short_side": 33, "long_side": 65})
    classes = [
        {"id": i, "name": f"class{i}", "isthing": int(i % 3 == 0)} for i in range(cfg.num_classes)
    ]
    path = tmp_path_factory.mktemp("ckpt") / "tiny.axialvs.pt"
    return save_checkpoint(path, build_axialvs(cfg), cfg, {"classes": classes})


def one_line_error(res) -> str:
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.output
    return lines[0]


# 1 -- a phone motion photo: the video, not the larger one-frame still --------------------------
def test_motion_photo_picks_the_video_track(tmp_path, checkpoint):
    path = motion_photo(tmp_path / "motion.mp4", frames=12)
    with open_video(path) as source:
        assert source.stream_index == 0 and (source.width, source.height) == (32, 24)
        assert sum(1 for _ in source) == 12
    res = runner.invoke(app, ["segment", str(path), "-o", str(tmp_path / "out"),
                              "--checkpoint", str(checkpoint), "--task", "panoptic"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "segmented video stream 0: h264 32x24" in res.output and "--stream N" in res.output
    video = json.loads((tmp_path / "out" / "summary.json").read_text())["videos"][0]
    assert video["frames"] == 12 and video["stream"] == 0 and len(video["streams"]) == 2
    res = runner.invoke(app, ["segment", str(path), "-o", str(tmp_path / "still"), "--stream",
                              "1", "--checkpoint", str(checkpoint), "--task", "panoptic"])  # fmt: skip
    assert res.exit_code == 0, res.output
    still = json.loads((tmp_path / "still" / "summary.json").read_text())["videos"][0]
    assert still["frames"] == 1 and still["size"] == [64, 48]


# 2 -- render what a cut segment run wrote ---------------------------------------------------
def test_render_after_max_frames(tmp_path, checkpoint):
    video = small_video(tmp_path / "clip.mp4", n=12)
    out = tmp_path / "out"
    res = runner.invoke(app, ["segment", str(video), "-o", str(out), "--max-frames", "4",
                              "--checkpoint", str(checkpoint), "--task", "panoptic"])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app, ["render", str(video), "--pred", str(out), "-o", str(tmp_path / "o.mp4")]
    )
    assert res.exit_code == 0, res.output
    with open_video(tmp_path / "o.mp4") as drawn:
        assert sum(1 for _ in drawn) == 4
    res = runner.invoke(app, ["render", str(video), "--pred", str(out), "--frames-dir",
                              str(tmp_path / "png"), "--frames", "0:4"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "png").iterdir())[-1] == "00000003.png"


def test_render_of_another_video_still_refused(tmp_path, checkpoint):
    video = small_video(tmp_path / "clip.mp4", n=4)
    out = tmp_path / "out"
    res = runner.invoke(app, ["segment", str(video), "-o", str(out), "--checkpoint",
                              str(checkpoint), "--task", "panoptic"])  # fmt: skip
    assert res.exit_code == 0, res.output
    (tmp_path / "other").mkdir()
    other = small_video(tmp_path / "other" / "clip.mp4", n=9)  # same name, longer
    line = one_line_error(runner.invoke(app, ["render", str(other), "--pred", str(out), "-o",
                                              str(tmp_path / "o.mp4")]))  # fmt: skip
    assert "has no prediction" in line


# 3 -- outputs that cannot be written --------------------------------------------------------
@pytest.mark.parametrize("target", ["/proc/axialvs-out", "/dev/null/out", "LONG"])
def test_unwritable_output_is_one_line(tmp_path, checkpoint, target):
    video = small_video(tmp_path / "clip.mp4", n=2)
    if target == "LONG":
        target = str(tmp_path / ("x" * 300))
    res = runner.invoke(app, ["segment", str(video), "-o", target, "--checkpoint", str(checkpoint)])
    line = one_line_error(res)
    assert target.rsplit("/", 1)[-1][:50] in line
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


# 4 -- SIGTERM before any video is done cleans up; stale partials of dead processes are removed --------------------------
def test_sigterm_leaves_no_partial(tmp_path, checkpoint):
    video = small_video(tmp_path / "long.mp4", n=400, size=(48, 64))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "axialvs_cli", "segment", str(video), "-o", str(out),
         "--checkpoint", str(checkpoint), "--threads", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, text=True,
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and not list(
        tmp_path.glob(".out.partial/.work/0/pan_pred/long/*.png")
    ):
        time.sleep(0.05)
    assert list(tmp_path.glob(".out.partial")), "the run never started writing"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert not list(tmp_path.glob(".out.*")) and not out.exists()


def test_stale_partials_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".out.partial-{dead.pid}"
    (stale / "pan_pred").mkdir(parents=True)
    live = tmp_path / f".out.partial-{os.getppid()}"  # a running process: kept
    live.mkdir()
    tmp = make_partial(tmp_path / "out")
    assert not stale.exists() and live.exists() and tmp.is_dir()


# 5 -- a checkpoint holding code ------------------------------------------------------------
class _Payload:
    def __reduce__(self):
        return (os.system, ("echo owned > /dev/null",))


def test_checkpoint_with_code_is_refused_without_unsafe_advice(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "axialvs", "x": _Payload()}, path)
    video = small_video(tmp_path / "clip.mp4", n=2)
    line = one_line_error(runner.invoke(app, ["segment", str(video), "-o", str(tmp_path / "o"),
                                              "--checkpoint", str(path)]))  # fmt: skip
    assert "could run code" in line or "can run code" in line
    assert "refuses" in line and "system" in line
    assert "weights_only" not in line and "False" not in line
    pkl = tmp_path / "evil.pkl"
    pkl.write_bytes(pickle.dumps({"model": _Payload()}))
    line = one_line_error(runner.invoke(app, ["convert", str(pkl), "-o", str(tmp_path / "c.pt"),
                                              "--variant", "video-kmax"]))  # fmt: skip
    assert "can run code" in line and "weights_only" not in line


# the readers' limits, directly --------------------------------------------------------------
def test_decompression_bomb_png_is_refused_before_decoding(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from fuzz import _bomb_png

    path = tmp_path / "bomb.png"
    path.write_bytes(_bomb_png(100_000, 100_000))
    from axialvs_cli.errors import FormatError

    with pytest.raises(FormatError, match="more pixels than any video frame"):
        read_id_png(path)


def test_rle_claiming_a_terapixel_is_refused():
    from axialvs_cli.formats import rle

    with pytest.raises(rle.RleError, match="more than any video frame"):
        rle.decode({"size": [1_000_000, 1_000_000], "counts": [10**12]})


# the harness, a short fixed-seed run --------------------------------------------------------
def test_fuzz_harness_short_run(tmp_path):
    figures = tmp_path / "fuzz.json"
    res = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fuzz.py"), "--count", "12", "--seed", "0",
         "--timeout", "30", "--json", str(figures)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    readers = json.loads(figures.read_text())["readers"]
    assert set(readers) >= {"rle", "id-png", "vipseg-json", "ytvis-gt", "checkpoint",
                            "frame-folder", "mp4", "webm", "mkv"}  # fmt: skip
    for name, entry in readers.items():
        assert entry["tried"] >= 13 and not entry["failures"], name
        assert entry["refused"] > 0, f"{name}: no damaged input was refused"


def test_streamed_pred_json_equals_the_plain_dump(tmp_path):
    """The submission writer spills frame entries to disk (flat memory on long videos); the
    pred.json it streams together is byte for byte the compact dump, interleaved videos too."""
    import numpy as np

    from axialvs_cli.formats import vipseg
    from axialvs_cli.formats._io import atomic_write_json

    writer = vipseg.PanopticWriter(tmp_path / "sub", compress_level=1)
    expected: dict[str, list] = {}
    for i, video in enumerate(["a", "b", "a", "c", "c"]):
        ids = np.zeros((4, 5), np.uint32)
        ids[: i + 1, :2] = 7 + i
        entry = writer.add_frame(video, f"{i:08d}.png", ids, {7 + i: 3})
        expected.setdefault(video, []).append(entry)
    writer.close()
    atomic_write_json(
        tmp_path / "plain.json",
        {"annotations": [{"video_id": v, "annotations": f} for v, f in expected.items()]},
    )
    assert (tmp_path / "sub" / "pred.json").read_bytes() == (tmp_path / "plain.json").read_bytes()
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["pan_pred", "pred.json"]
