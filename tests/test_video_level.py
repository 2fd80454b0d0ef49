"""`--post video`: the streamed video-level panoptic rule equals a literal whole-video
transcription of the official mask-wise inference (all frames' probabilities held at once)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from literalkit import literal_probabilities, sparse_from_dense
from PIL import Image
from typer.testing import CliRunner

from axialvs_cli.inference.preprocess import FrameInfo, plan_geometry
from axialvs_cli.inference.video_level import VideoLevelPanoptic
from axialvs_cli.main import app
from axialvs_cli.outputs.masks import clip_masks, cover_pieces
from axialvs_cli.outputs.postprocess import Thresholds, decide_painting

SAMPLE = Path(__file__).parents[1] / "examples" / "sample.mp4"


def official_video_rule(mask_logits, class_logits, geometry, is_thing, thr: Thresholds):
    """The official whole-video rule, written out literally: (T, H, W) segment keys (0 void),
    a key being ("thing", slot) or ("stuff", class)."""
    probs = torch.cat([literal_probabilities(m, geometry) for m in mask_logits])  # (T, N, H, W)
    probs = probs.transpose(0, 1)  # (N, T, H, W)
    cls = class_logits.softmax(-1)[:, :-1]
    scores, labels = cls.max(-1)
    binary = probs > thr.pixel
    area = binary.flatten(1).sum(1)
    mask_scores = (probs * binary).flatten(1).sum(1) / area.clamp(min=1)
    order = torch.argsort(scores * mask_scores, descending=True, stable=True).tolist()
    seg = torch.zeros(probs.shape[1:], dtype=torch.int64)
    keys = {}
    stuff_ids = {}
    next_id = 0
    for slot in order:
        label = int(labels[slot])
        thing = bool(is_thing[label])
        confident = scores[slot] > (thr.thing if thing else thr.stuff)
        new = binary[slot] & (seg == 0)
        if not (confident and new.sum() > area[slot] * thr.overlap):
            continue
        if not thing and label in stuff_ids:
            seg[new] = stuff_ids[label]
            continue
        next_id += 1
        if not thing:
            stuff_ids[label] = next_id
        keys[next_id] = ("stuff", label) if not thing else ("thing", slot)
        seg[new] = next_id
    return seg, keys, labels


@pytest.mark.parametrize("queries", [12, 70], ids=["one-word", "two-words"])
def test_streamed_video_rule_equals_the_whole_video_rule(tmp_path, queries: int) -> None:
    torch.manual_seed(0)
    geometry = plan_geometry(21, 30, 17, 26)  # scaled and padded: both resizes are exercised
    classes = 5
    is_thing = torch.tensor([True, True, False, False, True])
    thr = Thresholds(thing=0.25, stuff=0.25, pixel=0.2, overlap=0.6)
    h4, w4 = (geometry.padded_height + 3) // 4, (geometry.padded_width + 3) // 4
    clips = [torch.randn(queries, t, h4, w4) * 3 for t in (2, 2, 1)]
    class_logits = torch.randn(queries, classes + 1) * 2
    video = VideoLevelPanoptic(geometry, thr, is_thing, torch.device("cpu"), "softmax", tmp_path)
    frames = 0
    for logits in clips:
        infos = [FrameInfo(frames + i, f"{frames + i:08d}", 0.0) for i in range(logits.shape[1])]
        video.add_clip(logits, infos, clip_masks(logits, geometry, thr.pixel))
        frames += logits.shape[1]
    owners = []
    for painting, _ in video.paint(class_logits):
        owners.append(painting.owner_maps())
    video.close()
    assert not any(tmp_path.iterdir())  # the temporary file is gone
    ours = torch.cat(owners)  # (T, H, W) slots
    seg, keys, labels = official_video_rule(clips, class_logits, geometry, is_thing, thr)
    assert len(keys) >= 3  # the case paints several segments

    def key_of(slot: int):
        label = int(labels[slot])
        return ("thing", slot) if is_thing[label] else ("stuff", label)

    expected = np.array([keys.get(int(v), None) for v in seg.flatten()], dtype=object)
    got = np.array([None if s < 0 else key_of(int(s)) for s in ours.flatten()], dtype=object)
    assert (expected == got).all()


def test_cover_sets_and_decisions() -> None:
    probs = torch.zeros(1, 3, 1, 4)
    probs[0, 0, 0, :3] = 0.5  # slot 0 covers pixels 0..2
    probs[0, 1, 0, 2:] = 0.5  # slot 1 covers pixels 2..3
    frame = sparse_from_dense(probs, 0.3).frames[0]
    keys, lengths = cover_pieces(frame, 3, 4)
    assert keys[:, 0].tolist() == [1, 3, 2] and lengths.tolist() == [2, 1, 1]  # {0}, {0, 1}, {1}
    members = torch.tensor([[True, False, False], [True, True, False], [False, True, False]])
    counts = torch.tensor([2, 1, 1])
    # slot 1 first: 2 new of 2; then slot 0: 2 new of 3 (> 0.6 * 3)
    assert decide_painting(members, counts, [1, 0, 2], [True] * 3, [3, 2, 0], 0.6) == [1, 0]
    # with overlap 0.7, slot 0's 2 of 3 pixels are too few
    assert decide_painting(members, counts, [1, 0, 2], [True] * 3, [3, 2, 0], 0.7) == [1]
    assert decide_painting(members, counts, [1, 0], [False, True, True], [3, 2, 0], 0.6) == [1]


def test_video_rule_on_one_clip_equals_the_streamed_rule_and_runs_from_the_cli(tmp_path) -> None:
    """On a video of one clip the clip is the video: both rules must write the same files."""
    out = {}
    for post in ("stream", "video"):
        out[post] = tmp_path / post
        args = ["segment", str(SAMPLE), "-o", str(out[post]), "--max-frames", "2"]
        result = CliRunner().invoke(app, [*args, "--post", post, "--pixel-threshold", "0.05"])
        assert result.exit_code == 0, result.output
    pngs = sorted((out["stream"] / "pan_pred").rglob("*.png"))
    assert len(pngs) == 2
    for png in pngs:
        other = out["video"] / png.relative_to(out["stream"])
        assert np.array_equal(np.asarray(Image.open(png)), np.asarray(Image.open(other)))
    assert json.loads((out["video"] / "summary.json").read_text())["post"] == "video"
    assert not list(out["video"].rglob(".video-logits-*"))
    bad = CliRunner().invoke(
        app, ["segment", str(SAMPLE), "-o", str(tmp_path / "r"), "--post", "video", "--render"]
    )
    assert bad.exit_code != 0 and "axialvs render" in bad.output + (bad.stderr or "")
