"""`axialvs segment` / `axialvs refine` end to end with a random tiny checkpoint."""

from __future__ import annotations

import json
import os
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from axialvs_cli.formats import rle, vipseg
from axialvs_cli.formats.palette import read_id_png
from axialvs_cli.main import app
from models.build import build_axialvs
from models.config import get_preset
from models.weights import save_checkpoint

runner = CliRunner()
DECORD = Path(os.environ.get("AXIALVS_TEST_DATA", "/work/shared/data")) / "videos"
DECORD = DECORD / "decord_video_90.mov"
# thresholds low enough that a random network paints segments
PAINT = ["--pixel-threshold", "0.02", "--thing-threshold", "0", "--stuff-threshold", "0"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    cfg = get_preset("tiny").replace(inference={"short_side": 65, "long_side": 97})
    classes = [
        {"id": i, "name": f"class{i}", "isthing": int(i % 3 == 0), "color": [i, 255 - i, 7]}
        for i in range(cfg.num_classes)
    ]
    path = tmp_path_factory.mktemp("ckpt") / "tiny.axialvs.pt"
    return save_checkpoint(path, build_axialvs(cfg), cfg, {"classes": classes})


def encode(path: Path, n: int, size=(48, 64), rotation: int | None = None, gop=None) -> Path:
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.height, stream.width = size
        stream.pix_fmt = "yuv420p"
        if gop:
            stream.gop_size = gop
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for _ in range(n):
            rgb = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def segment(*args: str | Path, command: str = "segment"):
    res = runner.invoke(app, [command, *map(str, args)])
    return res


def check_outputs(out: Path, video: str, frames: int, height: int, width: int) -> None:
    """Read the outputs back with the format readers: frame count and displayed size."""
    sub = vipseg.read_submission(out)
    assert len(sub.videos[video]) == frames
    for frame in sub.videos[video]:
        ids = read_id_png(sub.mask_path(video, frame.file_name))
        assert ids.shape == (height, width)
        assert {s.id for s in frame.segments} == set(np.unique(ids).tolist()) - {0}
    assert len(list((out / "pan_pred" / video).iterdir())) == frames
    summary = json.loads((out / "summary.json").read_text())
    entry = next(v for v in summary["videos"] if v["video"] == video)
    assert entry["frames"] == frames and entry["size"] == [width, height]
    tracks = json.loads((out / "results.json").read_text())
    for track in tracks:
        if track["video_id"] == entry["video_id"]:
            assert len(track["segmentations"]) == frames
            for seg in track["segmentations"]:
                assert seg is None or rle.size(seg) == (height, width)


def test_one_frame_video(tmp_path, checkpoint):
    video = encode(tmp_path / "one.mp4", 1, size=(36, 50))
    res = segment(video, "-o", tmp_path / "out", "--checkpoint", checkpoint, *PAINT)
    assert res.exit_code == 0, res.output
    check_outputs(tmp_path / "out", "one", 1, 36, 50)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())["videos"][0]
    assert summary["clips"] == 1 and summary["padded_frames"] == 1


def test_rotated_video_keeps_the_displayed_size(tmp_path, checkpoint):
    if DECORD.is_file():
        video, frames, (height, width) = DECORD, 3, (568, 320)
    else:
        video, frames, (height, width) = encode(tmp_path / "rot.mp4", 3, rotation=90), 3, (64, 48)
    res = segment(video, "-o", tmp_path / "out", "--checkpoint", checkpoint, "--task", "both")
    assert res.exit_code == 0, res.output
    check_outputs(tmp_path / "out", video.stem, frames, height, width)


def test_frame_folder_and_several_inputs_offline(tmp_path, checkpoint):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in (0, 1, 2, 10):  # natural order: 10 after 2
        Image.fromarray(np.full((40, 30, 3), 20 * i, np.uint8)).save(folder / f"f{i}.png")
    video = encode(tmp_path / "clip.mp4", 5)
    out = tmp_path / "out"
    res = segment(folder, video, "-o", out, "--checkpoint", checkpoint, *PAINT, command="refine")
    assert res.exit_code == 0, res.output
    check_outputs(out, "frames", 4, 40, 30)
    check_outputs(out, "clip", 5, 48, 64)
    names = [f.file_name for f in vipseg.read_submission(out).videos["frames"]]
    assert names == ["f0.png", "f1.png", "f2.png", "f10.png"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "offline" and [v["video_id"] for v in summary["videos"]] == [1, 2]


def test_tube_link_model_near_online_and_offline(tmp_path):
    torch.manual_seed(0)
    cfg = get_preset("tubelink-tiny").replace(inference={"short_side": 64, "long_side": 96})
    classes = [{"id": i + 1, "name": f"c{i}", "isthing": 1} for i in range(cfg.num_classes)]
    ckpt = save_checkpoint(tmp_path / "tl.pt", build_axialvs(cfg), cfg, {"classes": classes})
    video = encode(tmp_path / "v.mp4", 6, size=(48, 80))
    for command in ("segment", "refine"):
        out = tmp_path / command
        res = segment(video, "-o", out, "--checkpoint", ckpt, "--thing-threshold", "0",
                      command=command)  # fmt: skip
        assert res.exit_code == 0, res.output
        check_outputs(out, "v", 6, 48, 80)
        summary = json.loads((out / "summary.json").read_text())
        assert summary["thresholds"]["pixel"] == 0.5  # sigmoid masks: logit > 0
        assert (
            summary["videos"][0]["model_input"] == [96, 64] and summary["videos"][0]["clips"] == 2
        )


def test_evaluate_accepts_the_outputs(tmp_path, checkpoint):
    api = pytest.importorskip("axialvs_cli.evaluation.api")
    video = encode(tmp_path / "v.mp4", 4)
    out = tmp_path / "out"
    res = segment(video, "-o", out, "--checkpoint", checkpoint, *PAINT)
    assert res.exit_code == 0, res.output
    # ground truth = the prediction itself: accepted unchanged, and perfect
    sub = vipseg.read_submission(out)
    categories = [{"id": i, "name": f"class{i}", "isthing": int(i % 3 == 0)} for i in range(124)]
    with vipseg.PanopticWriter(tmp_path / "gt", "ground_truth", categories) as gt:
        for frame in sub.videos["v"]:
            ids = read_id_png(sub.mask_path("v", frame.file_name)).astype(np.int64)
            gt.add_frame("v", frame.file_name, ids, {s.id: s.category_id for s in frame.segments})
    scores = api.evaluate_vipseg(tmp_path / "gt", out, windows=(1, 2), warn=lambda msg: None)
    assert scores["VPQ"] == pytest.approx(100.0)
    tracks = json.loads((out / "results.json").read_text())
    gt_json = {
        "videos": [{"id": 1, "width": 64, "height": 48, "length": 4, "file_names": ["a"] * 4}],
        "categories": [{"id": c["id"], "name": c["name"]} for c in categories if c["isthing"]],
        "annotations": [
            {
                "id": i + 1, "video_id": 1, "category_id": t["category_id"], "iscrowd": 0,
                "segmentations": t["segmentations"],
                "areas": [None if s is None else rle.area(s) for s in t["segmentations"]],
            }
            for i, t in enumerate(tracks)
        ],
    }  # fmt: skip
    (tmp_path / "gt.json").write_text(json.dumps(gt_json))
    res = runner.invoke(
        app, ["evaluate", "--dataset", "ytvis", "--gt", str(tmp_path / "gt.json"),
              "--pred", str(out / "results.json")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output


def test_broken_stream_writes_what_decoded_and_exits_1(tmp_path, checkpoint):
    full = encode(tmp_path / "full.mp4", 40, gop=5)
    data = full.read_bytes()
    broken = tmp_path / "broken.mp4"
    start = len(data) // 2
    broken.write_bytes(data[:start] + bytes(4000) + data[start + 4000 :])
    out = tmp_path / "out"
    res = segment(broken, "-o", out, "--checkpoint", checkpoint)
    if res.exit_code == 0:
        pytest.skip("FFmpeg decoded this damage without an error")
    assert res.exit_code == 1
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: broken.mp4: segmented ") and "decoding stopped" in line
    done = int(line.split("segmented ")[1].split()[0])
    assert 0 < done < 40
    check_outputs(out, "broken", done, 48, 64)


def test_existing_output_needs_overwrite(tmp_path, checkpoint):
    video = encode(tmp_path / "v.mp4", 2)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    res = segment(video, "-o", out, "--checkpoint", checkpoint, "--task", "panoptic")
    assert res.exit_code == 1 and "--overwrite" in res.stderr
    assert (out / "keep.txt").exists()
    res = segment(video, "-o", out, "--checkpoint", checkpoint, "--task", "panoptic", "--overwrite")
    assert res.exit_code == 0, res.output
    assert not (out / "keep.txt").exists() and (out / "pred.json").is_file()
    assert not (out / "results.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no leftovers


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.mp4"], "not found"),
        (["{video}", "--device", "cuda"], "cuda"),
        (["{video}", "--end", "0"], "end"),
        (["{video}", "--checkpoint", "{tmp}/nope.pt"], "does not exist"),
        (["{tmp}/not_a_video.mp4"], "not a video"),
    ],
)
def test_bad_inputs_give_one_line_errors(tmp_path, checkpoint, args, message):
    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    video = encode(tmp_path / "v.mp4", 1)
    (tmp_path / "not_a_video.mp4").write_bytes(b"hello")
    args = [a.format(video=video, tmp=tmp_path) for a in args]
    if "--checkpoint" not in args:
        args += ["--checkpoint", str(checkpoint)]
    res = segment(*args, "-o", tmp_path / "out")
    assert res.exit_code != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], res.stderr
    assert not (tmp_path / "out").exists()


def test_stride_keeps_every_kth_frame_with_its_number_and_time(tmp_path, checkpoint) -> None:
    video = encode(tmp_path / "v.mp4", 10)
    out = tmp_path / "out"
    args = ["segment", str(video), "-o", str(out), "--checkpoint", str(checkpoint), "--stride", "3"]
    result = runner.invoke(app, [*args, "--task", "panoptic"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (out / "pan_pred" / "v").iterdir())
    assert names == ["00000000.png", "00000003.png", "00000006.png", "00000009.png"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cut"]["stride"] == 3 and summary["videos"][0]["frames"] == 4
    from axialvs_cli.video import open_video

    with open_video(video, stride=3) as source:
        kept = [(f.index, f.name, round(f.pts_seconds * 30)) for f in source]
    assert kept == [(0, "00000000", 0), (1, "00000003", 3), (2, "00000006", 6), (3, "00000009", 9)]
    bad = runner.invoke(app, [*args[:-1], "0"])
    assert bad.exit_code != 0


def test_glob_patterns_and_input_lists(tmp_path, checkpoint) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    encode(tmp_path / "a" / "x10.mp4", 2)
    encode(tmp_path / "a" / "x2.mp4", 2)
    encode(tmp_path / "b" / "y.mp4", 2)
    listing = tmp_path / "list.txt"
    listing.write_text("# a comment\n\nb/y.mp4\na/x2.mp4\n")
    out = tmp_path / "out"
    pattern = str(tmp_path / "a" / "*.mp4")
    base = ["-o", str(out), "--checkpoint", str(checkpoint), "--task", "panoptic"]
    result = runner.invoke(app, ["segment", pattern, f"@{listing}", *base])
    assert result.exit_code == 0, result.output
    videos = [v["video"] for v in json.loads((out / "summary.json").read_text())["videos"]]
    assert videos == ["x2", "x10", "y"]  # natural order, each input once
    nothing = runner.invoke(app, ["segment", str(tmp_path / "*.mkv"), *base, "--overwrite"])
    assert nothing.exit_code == 1 and "matches no file" in nothing.stderr
    missing = runner.invoke(app, ["segment", f"@{tmp_path / 'none.txt'}", *base, "--overwrite"])
    assert missing.exit_code == 1 and "cannot be read" in missing.stderr


def test_summary_manifest_traces_the_run(tmp_path, checkpoint) -> None:
    import hashlib

    video = encode(tmp_path / "v.mp4", 2)
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["segment", str(video), "-o", str(out), "--checkpoint", str(checkpoint)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    manifest = summary["manifest"]
    assert manifest["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert manifest["versions"]["torch"] == torch.__version__ and manifest["versions"]["av"]
    assert manifest["options"]["stride"] == 1 and manifest["options"]["post"] == "stream"
    assert manifest["host"] and summary["videos"][0]["device"] == "cpu"


def test_network_sources_from_a_local_http_server(tmp_path, checkpoint) -> None:
    import functools
    import http.server
    import threading

    encode(tmp_path / "clip.mp4", 4)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # the server's access log stays out of stderr
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/clip.mp4"
        out = tmp_path / "out"
        base = ["--checkpoint", str(checkpoint), "--task", "panoptic"]
        result = runner.invoke(app, ["segment", url, "-o", str(out), *base])
        assert result.exit_code == 0, result.output
        summary = json.loads((out / "summary.json").read_text())
        assert summary["videos"][0]["video"] == "clip" and summary["videos"][0]["frames"] == 4
        assert summary["videos"][0]["input"] == url
        local = runner.invoke(
            app, ["segment", str(tmp_path / "clip.mp4"), "-o", str(tmp_path / "o2"), *base]
        )
        assert local.exit_code == 0, local.output
        for png in sorted((out / "pan_pred").rglob("*.png")):
            twin = tmp_path / "o2" / png.relative_to(out)
            assert png.read_bytes() == twin.read_bytes()  # the same frames, the same results
        gone = runner.invoke(
            app, ["segment", url.replace("clip", "none"), "-o", str(tmp_path / "o3"), *base]
        )
        assert gone.exit_code == 1 and "check the URL" in gone.stderr
        assert "\n" not in gone.stderr.strip()
    finally:
        server.shutdown()
    odd = runner.invoke(app, ["segment", "ftp://example.org/a.mp4", "-o", str(tmp_path / "o4")])
    assert odd.exit_code == 1 and "ftp:// sources are not read" in odd.stderr


def test_input_size_shrinks_the_frames_the_network_sees(tmp_path, checkpoint) -> None:
    video = encode(tmp_path / "v.mp4", 2, size=(48, 64))
    out = tmp_path / "out"
    res = segment(video, "-o", out, "--checkpoint", checkpoint, "--input-size", "33x40")
    assert res.exit_code == 0, res.output
    check_outputs(out, "v", 2, 48, 64)  # outputs stay at the displayed size
    summary = json.loads((out / "summary.json").read_text())
    assert summary["input_size"] == [33, 40]
    assert summary["videos"][0]["model_size"] == [40, 30]  # 64x48 scaled by min(33/48, 40/64)
    res = segment(video, "-o", tmp_path / "o2", "--checkpoint", checkpoint)
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "o2" / "summary.json").read_text())
    assert summary["input_size"] == [65, 97] and summary["videos"][0]["model_size"] == [64, 48]
    assert [c["name"] for c in summary["categories"]][:2] == ["class0", "class1"]


@pytest.mark.parametrize(
    ("size", "message"), [("257", "SHORTxLONG"), ("axb", "SHORTxLONG"), ("500x300", "SHORT <=")]
)
def test_bad_input_size_is_a_one_line_error(tmp_path, checkpoint, size, message) -> None:
    video = encode(tmp_path / "v.mp4", 1)
    res = segment(video, "-o", tmp_path / "out", "--checkpoint", checkpoint, "--input-size", size)
    assert res.exit_code != 0 and message in res.output, res.output
    assert not (tmp_path / "out").exists()
