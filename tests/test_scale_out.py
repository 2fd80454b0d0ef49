"""Whole data sets: shares of the videos for torchrun processes, and resumable runs.

The outputs of a sharded run and of a resumed run must be the files of one uninterrupted
one-process run (same ids, same order, same bytes), apart from timing and host fields.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from faultkit import small_video

from axialvs_cli.inference.run_folder import describe_change, shares
from models.build import build_axialvs
from models.config import get_preset
from models.weights import save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
LENGTHS = (5, 9, 3, 14, 7, 11)  # six videos of different lengths
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("scale")
    torch.manual_seed(0)
    cfg = get_preset("tiny").replace(inference={"short_side": 33, "long_side": 65})
    classes = [
        {"id": i, "name": f"class{i}", "isthing": int(i % 3 == 0)} for i in range(cfg.num_classes)
    ]
    ckpt = save_checkpoint(root / "tiny.axialvs.pt", build_axialvs(cfg), cfg, {"classes": classes})
    videos = [small_video(root / f"v{k}.mp4", n=n, size=(40, 56)) for k, n in enumerate(LENGTHS)]
    single = root / "single"
    run_segment(videos, single, ckpt)
    return root, ckpt, videos, single


def segment_args(videos, out, ckpt, *extra) -> list[str]:
    return ["segment", *map(str, videos), "-o", str(out), "--checkpoint", str(ckpt),
            "--threads", "1", "--render", *extra]  # fmt: skip


def run_segment(videos, out, ckpt, *extra, check=True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "axialvs_cli", *segment_args(videos, out, ckpt, *extra)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
    if check:
        assert res.returncode == 0, res.stderr
    return res


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def markers(part: Path) -> list[str]:
    """The committed videos of a partial folder (``.done/<i>.json``)."""
    return sorted(p.name for p in part.glob(".done/*.json") if p.stem.isdigit())


def assert_same_outputs(a: Path, b: Path) -> None:
    """Identical files; summary.json equal but for the manifest, timing and host fields."""
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    assert any(str(p).startswith("pan_pred/") for p in files_a)
    for rel in files_a:
        if rel.name == "summary.json" or rel.suffix == ".mp4":
            continue
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel

    def neutral(path: Path) -> dict:
        s = json.loads(path.read_text())
        s.pop("manifest")
        for v in s["videos"]:
            v.pop("timing")
        return s

    assert neutral(a / "summary.json") == neutral(b / "summary.json")


def test_shares_balance_by_frames_and_are_deterministic():
    frames = [100, 10, 10, 10, 50, 40, None, 0]
    out = shares(frames, 2)
    assert sorted(i for s in out for i in s) == list(range(len(frames)))
    assert out == shares(frames, 2) and all(s == sorted(s) for s in out)
    # unknown (None) and 0 count as the mean of the known, 37; longest first to the lighter
    assert out == [[0, 2, 7], [1, 3, 4, 5, 6]]
    assert [sum(frames[i] or 37 for i in s) for s in out] == [147, 147]
    assert shares([5, 5, 5], 4)[3] == [] and shares([], 3) == [[], [], []]


def test_torchrun_two_processes_match_one_process(setup):
    root, ckpt, videos, single = setup
    out = root / "ranks2"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node",
           "2", "--master-addr", "127.0.0.1", "--master-port", str(free_port()), "-m",
           "axialvs_cli", *segment_args(videos, out, ckpt)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert_same_outputs(single, out)
    hosts = json.loads((out / "summary.json").read_text())["videos"]
    assert len(hosts) == len(LENGTHS)
    assert not list(root.glob(".ranks2.*"))  # no partial folder left
    assert res.stderr.count("wrote ") == 1  # only rank 0 reports


def test_sigkill_then_resume_matches_uninterrupted(setup):
    root, ckpt, videos, single = setup
    slow = [
        *videos[:2],
        *(small_video(root / f"long{k}.mp4", n=120, size=(40, 56)) for k in range(2)),
    ]
    reference = root / "slow_single"
    run_segment(slow, reference, ckpt)
    out = root / "killed"
    part = root / ".killed.partial"
    cmd = [sys.executable, "-m", "axialvs_cli", *segment_args(slow, out, ckpt)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    deadline = time.time() + 300
    while time.time() < deadline and len(markers(part)) < 2:
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    done = markers(part)
    assert proc.returncode == -signal.SIGKILL and len(done) in (2, 3), done
    assert not out.exists()
    names = [json.loads((part / ".done" / m).read_text())["video"] for m in done]
    written = {n: (part / "pan_pred" / n / "00000000.png").stat().st_mtime_ns for n in names}

    res = run_segment(slow, out, ckpt, check=False)  # without --resume: refused, nothing lost
    assert res.returncode == 1 and "--resume" in res.stderr and "Traceback" not in res.stderr
    assert markers(part) == done

    res = run_segment(slow, out, ckpt, "--pixel-threshold", "0.5", "--resume", check=False)
    assert res.returncode == 1 and "pixel_threshold" in res.stderr, res.stderr

    res = run_segment(slow, out, ckpt, "--resume")
    assert f"resumed: {len(done)} videos were already done" in res.stderr
    assert_same_outputs(reference, out)
    assert not part.exists()
    summary = json.loads((out / "summary.json").read_text())
    assert [v["video"] for v in summary["videos"]] == ["v0", "v1", "long0", "long1"]
    for n in names:  # the videos done before the kill were kept, not segmented again
        assert (out / "pan_pred" / n / "00000000.png").stat().st_mtime_ns == written[n]

    res = run_segment(slow, out, ckpt, "--resume")  # again: already complete, nothing done
    assert "already complete" in res.stderr
    assert_same_outputs(reference, out)


def test_sigterm_keeps_finished_videos_for_resume(setup):
    root, ckpt, videos, _ = setup
    slow = [videos[0], small_video(root / "term_long.mp4", n=150, size=(40, 56))]
    out = root / "termed"
    part = root / ".termed.partial"
    cmd = [sys.executable, "-m", "axialvs_cli", *segment_args(slow, out, ckpt)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    deadline = time.time() + 300
    while time.time() < deadline and not markers(part) and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "Traceback" not in err.decode(), err
    assert markers(part) == ["0.json"]  # the finished video stays; the one in progress does not
    assert not (part / ".work").exists() and not out.exists()
    res = run_segment(slow, out, ckpt, "--resume")
    assert "resumed: 1 video was already done, 1 segmented now" in res.stderr
    assert len(list((out / "pan_pred" / "term_long").glob("*.png"))) == 150


def test_interrupted_run_without_finished_videos_is_discarded(setup, tmp_path):
    root, ckpt, videos, _ = setup
    part = tmp_path / ".out.partial"
    (part / ".work" / "0" / "pan_pred").mkdir(parents=True)
    (part / "run.json").write_text("{}")
    (part / "owner").write_text(json.dumps({"host": "elsewhere", "pid": 1}))
    run_segment(videos[:1], tmp_path / "out", ckpt)
    assert not part.exists() and (tmp_path / "out" / "summary.json").exists()


def test_describe_change_names_what_differs():
    a = {"inputs": ["x"], "checkpoint_sha256": "1", "options": {"top_k": 10}}
    assert describe_change(a, {**a, "checkpoint_sha256": "2"}) == "another checkpoint"
    assert describe_change(a, {**a, "inputs": ["y"]}) == "other inputs"
    assert "top_k 10 -> 5" in describe_change(a, {**a, "options": {"top_k": 5}})
    assert describe_change(None, a) == "an unreadable run.json"


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path):
    yield
    shutil.rmtree(tmp_path, ignore_errors=True)
