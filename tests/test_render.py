"""`axialvs render` and `segment --render`: colours, exact masks, timing, sizes and errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from axialvs_cli.formats import rle
from axialvs_cli.formats.vipseg import PanopticWriter
from axialvs_cli.main import app
from axialvs_cli.render.draw import ClassInfo, Styler, boundaries, factorize, thing_colour
from axialvs_cli.video import VideoWriter, open_video
from models.build import build_axialvs
from models.config import get_preset
from models.weights import save_checkpoint

runner = CliRunner()
GREY = (90, 90, 90)
DOOR = 2  # a VIPSeg thing class, colour (6, 230, 230)
WALL = 0  # a VIPSeg stuff class, colour (120, 120, 120)
OBJECT = 7001  # the object's segment id
FRAMES = 4


def box(t: int, h: int = 30, w: int = 40) -> np.ndarray:
    """The known object of frame t: a 9 x 12 box moving right by 3 pixels per frame."""
    mask = np.zeros((h, w), bool)
    mask[10:19, 5 + 3 * t : 17 + 3 * t] = True
    return mask


def frame_folder(folder: Path, n: int = FRAMES, h: int = 30, w: int = 40) -> Path:
    """A lossless video: grey PNG frames named 00000000.png, ..."""
    folder.mkdir(parents=True)
    for t in range(n):
        Image.fromarray(np.full((h, w, 3), GREY, np.uint8)).save(folder / f"{t:08d}.png")
    return folder


def submission(root: Path, video: str, n: int = FRAMES, h: int = 30, w: int = 40) -> Path:
    """pred.json + pan_pred/<video>/: the box (a door) over a wall in the bottom rows."""
    with PanopticWriter(root) as writer:
        for t in range(n):
            ids = np.where(box(t, h, w), OBJECT, 0)
            ids[-5:] = 3
            writer.add_frame(video, f"{t:08d}.png", ids, {OBJECT: DOOR, 3: WALL})
    return root


def render(*args: object):
    return runner.invoke(app, ["render", *map(str, args)])


def read_png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_thing_colours_are_stable_and_distinct_for_neighbouring_ids():
    for base in [(220, 20, 60), (120, 120, 120), (6, 230, 230)]:
        colours = [thing_colour(base, k) for k in range(1, 21)]
        assert len(set(colours)) == 20  # ids 1..20 of one class: all different
        for a, b in zip(colours, colours[1:], strict=False):
            assert sum(abs(x - y) for x, y in zip(a, b, strict=True)) >= 60  # clearly apart
        assert colours == [thing_colour(base, k) for k in range(1, 21)]  # deterministic
    styler = Styler(
        {
            DOOR: ClassInfo("door", True, (6, 230, 230)),
            WALL: ClassInfo("wall", False, (120, 120, 120)),
        }
    )
    assert styler.colour(5, WALL) == (120, 120, 120)  # stuff: the class colour itself
    assert styler.label(900, DOOR) == "door #1" and styler.label(77, DOOR) == "door #2"
    assert styler.label(900, DOOR) == "door #1" and styler.label(3, WALL) == "wall"


def test_factorize_matches_numpy_unique():
    ids = np.random.default_rng(0).integers(0, 5, (20, 30)) * 1000003
    uniq, inverse = factorize(ids)
    expected = np.unique(ids, return_inverse=True)
    assert np.array_equal(uniq, expected[0])
    assert np.array_equal(inverse, expected[1].reshape(ids.shape))


def test_boundaries_are_the_edge_pixels_of_each_segment():
    ids = np.zeros((6, 6), int)
    ids[1:5, 1:5] = 4
    edge = boundaries(ids)
    assert edge.sum() == 12 and not edge[2:4, 2:4].any() and not edge[0].any()


def test_opaque_overlay_colours_exactly_the_mask(tmp_path):
    video = frame_folder(tmp_path / "clip")
    pred = submission(tmp_path / "out", "clip")
    res = render(video, "--pred", pred, "--alpha", "1", "--no-contours", "--no-labels",
                 "--frames-dir", tmp_path / "png")  # fmt: skip
    assert res.exit_code == 0, res.output
    expected = thing_colour((6, 230, 230), OBJECT)
    for t in range(FRAMES):
        out = read_png(tmp_path / "png" / f"{t:08d}.png")
        coloured = np.any(out != GREY, axis=-1)
        wall = np.zeros_like(coloured)
        wall[-5:] = True
        assert np.array_equal(coloured, box(t) | wall)
        assert (out[box(t)] == expected).all()  # the same colour in every frame
        assert (out[wall] == (120, 120, 120)).all()


def test_results_json_overlay_equals_the_track_masks(tmp_path):
    video = frame_folder(tmp_path / "clip")
    track = {"video_id": 1, "category_id": 1, "score": 0.9,
             "segmentations": [rle.encode(box(t)) for t in range(FRAMES)]}  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps([track]))
    res = render(video, "--pred", tmp_path / "results.json", "--alpha", "1", "--no-contours",
                 "--no-labels", "--frames-dir", tmp_path / "png")  # fmt: skip
    assert res.exit_code == 0, res.output
    colours = set()
    for t in range(FRAMES):
        out = read_png(tmp_path / "png" / f"{t:08d}.png")
        assert np.array_equal(np.any(out != GREY, axis=-1), box(t))
        colours |= {tuple(c) for c in out[box(t)].tolist()}
    assert len(colours) == 1  # one track, one colour over the video


def test_mp4_keeps_frame_count_and_timestamps(tmp_path):
    times = [0.0, 0.05, 0.15, 0.2]  # variable frame rate
    with VideoWriter(tmp_path / "clip.mp4", 20, 40, 30, preset="ultrafast") as writer:
        for t in times:
            writer.write(np.full((30, 40, 3), GREY, np.uint8), t)
    pred = submission(tmp_path / "out", "clip")
    res = render(tmp_path / "clip.mp4", "--pred", pred, "-o", tmp_path / "overlay.mp4")
    assert res.exit_code == 0, res.output
    with open_video(tmp_path / "overlay.mp4") as source:
        decoded = list(source)
    assert [f.pts_seconds for f in decoded] == pytest.approx(times, abs=1e-4)
    assert decoded[0].rgb.shape == (30, 40, 3) and source.codec == "h264"


def test_odd_size_is_padded_and_side_by_side_doubles_the_width(tmp_path):
    video = frame_folder(tmp_path / "clip", h=29, w=39)
    pred = submission(tmp_path / "out", "clip", h=29, w=39)
    res = render(video, "--pred", pred, "-o", tmp_path / "o.mp4")
    assert res.exit_code == 0, res.output
    with open_video(tmp_path / "o.mp4") as source:
        assert (source.width, source.height) == (40, 30)  # 39 x 29 padded for yuv420p
        assert len(list(source)) == FRAMES
    res = render(video, "--pred", pred, "--side-by-side", pred / "pan_pred" / "clip",
                 "--frames-dir", tmp_path / "png")  # fmt: skip
    assert res.exit_code == 0, res.output
    both = read_png(tmp_path / "png" / "00000002.png")
    assert both.shape == (29, 2 * 39 + 4, 3)  # prediction | 4 px | ground truth
    assert np.array_equal(np.any(both[:, :39] != GREY, -1), np.any(both[:, 43:] != GREY, -1))


@pytest.mark.parametrize(
    ("video_frames", "pred_frames", "extra", "words"),
    [
        (3, 4, [], ["has 4 frames", "ends after 3"]),  # prediction longer than the video
        (5, 4, [], ["video frame 4 has no prediction", "has 4"]),  # video longer
        (4, 4, ["--frames", "2:9"], ["beyond the end", "4 frames"]),
        (4, 4, ["--video-id", "other"], ["has no video 'other'", "clip"]),
    ],
)
def test_mismatches_are_one_line_errors(tmp_path, video_frames, pred_frames, extra, words):
    video = frame_folder(tmp_path / "clip", n=video_frames)
    pred = submission(tmp_path / "out", "clip", n=pred_frames)
    res = render(video, "--pred", pred, "-o", tmp_path / "o.mp4", *extra)
    assert res.exit_code == 1
    line = res.output.strip()
    assert line.startswith("Error:") and "\n" not in line
    assert all(w in line for w in words), line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip", "out"]  # nothing half-written


def test_existing_output_needs_overwrite(tmp_path):
    video = frame_folder(tmp_path / "clip")
    pred = submission(tmp_path / "out", "clip")
    (tmp_path / "o.mp4").write_bytes(b"old")
    assert "--overwrite" in render(video, "--pred", pred, "-o", tmp_path / "o.mp4").output
    res = render(video, "--pred", pred, "-o", tmp_path / "o.mp4", "--overwrite")
    assert res.exit_code == 0 and (tmp_path / "o.mp4").stat().st_size > 100


def test_segment_render_writes_the_overlay(tmp_path):
    torch.manual_seed(0)
    cfg = get_preset("tiny").replace(inference={"short_side": 33, "long_side": 49})
    classes = [{"id": i, "name": f"c{i}", "isthing": i % 2} for i in range(cfg.num_classes)]
    ckpt = save_checkpoint(tmp_path / "m.pt", build_axialvs(cfg), cfg, {"classes": classes})
    video = frame_folder(tmp_path / "clip", n=3, h=29, w=39)
    res = runner.invoke(app, ["segment", str(video), "-o", str(tmp_path / "seg"), "--checkpoint",
                              str(ckpt), "--render", "--task", "panoptic", "--pixel-threshold",
                              "0.02", "--thing-threshold", "0", "--stuff-threshold", "0"])  # fmt: skip
    assert res.exit_code == 0, res.output
    with open_video(tmp_path / "seg" / "overlay" / "clip.mp4") as source:
        assert len(list(source)) == 3 and (source.width, source.height) == (40, 30)
    res = render(video, "--pred", tmp_path / "seg", "--frames", "1", "--frames-dir", tmp_path / "p")
    assert res.exit_code == 0, res.output
    assert [p.name for p in (tmp_path / "p").iterdir()] == ["00000001.png"]
    bad = runner.invoke(app, ["segment", str(video), "-o", str(tmp_path / "x"), "--checkpoint",
                              str(ckpt), "--render", "--task", "instance"])  # fmt: skip
    assert bad.exit_code == 1 and "--render" in bad.output


def test_segment_outputs_are_drawn_with_the_models_classes(tmp_path):
    """pred.json and results.json carry no categories: the summary.json beside them names the
    model's classes (a street model's class 2 is not VIPSeg's "door")."""
    from axialvs_cli.render.inputs import open_labels

    root = submission(tmp_path / "seg", "clip")
    cats = [{"id": 2, "name": "pole", "isthing": 0, "color": [1, 2, 3]}]
    track = {"video_id": 1, "category_id": 2, "score": 0.9,
             "segmentations": [rle.encode(box(t)) for t in range(FRAMES)]}  # fmt: skip
    (root / "results.json").write_text(json.dumps([track]))
    (root / "summary.json").write_text(
        json.dumps({"categories": cats, "videos": [{"video": "clip", "video_id": 1}]})
    )
    for path in (root, root / "results.json"):
        labels = open_labels(path, "clip")
        assert labels.classes == {2: ClassInfo("pole", False, (1, 2, 3))}, path
    (root / "summary.json").unlink()
    assert open_labels(root, "clip").classes is None  # the VIPSeg table, as before
