"""Pre- and post-processing: geometry, clip padding, mask resizing and panoptic painting."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from literalkit import literal_masks, literal_probabilities, sparse_from_dense

from axialvs_cli.errors import CheckpointError
from axialvs_cli.formats import rle
from axialvs_cli.inference.preprocess import (
    ClipBuffer,
    FrameInfo,
    frame_tensor,
    padded_length,
    plan_geometry,
)
from axialvs_cli.outputs.masks import clip_masks, rle_strings
from axialvs_cli.outputs.postprocess import (
    Thresholds,
    class_scores,
    paint_clip,
    paint_panoptic,
)
from axialvs_cli.outputs.writers import classes_from_meta, unique_names


def test_padded_length_is_32k_plus_1():
    assert [padded_length(n) for n in (1, 33, 34, 129, 130, 270)] == [33, 33, 65, 129, 161, 289]
    # Tube-Link (Mask2Former) models take multiples of 32
    assert [padded_length(n, False) for n in (1, 32, 33, 128, 270)] == [32, 32, 64, 128, 288]
    g = plan_geometry(720, 1080, 128, 224, plus_one=False)
    assert (g.scaled_height, g.scaled_width, g.padded_height, g.padded_width) == (
        128,
        192,
        128,
        192,
    )


@pytest.mark.parametrize(
    ("size", "limits", "scaled", "padded"),
    [
        ((270, 480), (129, 225), (127, 225), (129, 225)),  # landscape: long side binds
        ((568, 320), (129, 225), (225, 127), (225, 129)),  # portrait: same scale, turned
        ((720, 1280), (769, 1345), (720, 1280), (737, 1281)),  # fits: never enlarged
        ((1080, 720), (769, 1345), (1080, 720), (1089, 737)),  # portrait fits oriented
        ((48, 64), (129, 225), (48, 64), (65, 65)),  # small: kept, padded
    ],
)
def test_plan_geometry(size, limits, scaled, padded):
    g = plan_geometry(*size, *limits)
    assert (g.height, g.width) == size
    assert (g.scaled_height, g.scaled_width) == scaled
    assert (g.padded_height, g.padded_width) == padded
    assert g.scaled == (scaled != size)


def test_frame_tensor_pads_with_the_mean():
    g = plan_geometry(40, 50, 129, 225)
    rgb = np.full((40, 50, 3), 200, np.uint8)
    x = frame_tensor(rgb, g, (1.0, 2.0, 3.0))
    assert x.shape == (3, 65, 65) and x.dtype == torch.float32
    assert torch.all(x[:, :40, :50] == 200)
    assert torch.all(x[:, 40:, :] == torch.tensor([1.0, 2.0, 3.0]).view(3, 1, 1))
    with pytest.raises(ValueError):
        frame_tensor(np.zeros((10, 10, 3), np.uint8), g, (0, 0, 0))


def test_clip_buffer_pads_the_last_clip_by_repetition():
    buffer = ClipBuffer(3)
    frames = [torch.full((3, 5, 5), float(i)) for i in range(4)]
    out = [buffer.add(f, FrameInfo(i, str(i), i / 30)) for i, f in enumerate(frames)]
    assert out[0] is None and out[1] is None and out[3] is None
    clip, infos = out[2]
    assert clip.shape == (1, 3, 3, 5, 5) and [i.index for i in infos] == [0, 1, 2]
    clip, infos = buffer.flush()
    assert [i.index for i in infos] == [3]  # only the real frame
    assert [float(clip[0, t, 0, 0, 0]) for t in range(3)] == [3.0, 3.0, 3.0]
    assert buffer.flush() is None


def test_clip_masks_crop_and_resize():
    # a 100x60 frame scaled by 0.5 to 50x30, padded to 65x33; query 0 owns the left half
    g = plan_geometry(100, 60, 30, 100)
    assert (g.scaled_height, g.scaled_width, g.padded_height, g.padded_width) == (50, 30, 65, 33)
    h, w = 17, 9  # stride 4 of 65 x 33
    logits = torch.zeros(2, 1, h, w)
    logits[0, :, :, :4] = 10.0  # columns 0..12 of the scaled frame (left ~ 40 %)
    logits[1, :, :, 4:] = 10.0
    masks = clip_masks(logits, g, 0.5)
    dense = masks.frames[0].dense(100, 60)
    assert dense.shape == (2, 100, 60) and not (dense[0] & dense[1]).any()
    assert dense[0, :, :20].all() and dense[1, :, 32:].all()
    assert masks.frame_area.tolist() == [[int(dense[0].sum()), int(dense[1].sum())]]
    assert 0.99 < float(masks.mask_scores.min()) <= 1.0


def _agree(logits, geometry, threshold, normalise):
    """The sparse masks equal the literal float64 rule: masks, areas, sums and RLE."""
    masks = clip_masks(logits, geometry, threshold, normalise)
    probs = literal_probabilities(logits, geometry, normalise)
    ref = literal_masks(probs, threshold)
    t, n, h, w = probs.shape
    for f in range(t):
        assert np.array_equal(masks.frames[f].dense(h, w), ref.binary[f].numpy())
        strings = rle_strings(masks.frames[f], h, w)
        expected = {
            s: rle.encode(ref.binary[f, s].numpy())["counts"]
            for s in range(n)
            if ref.frame_area[f, s] > 0
        }
        assert strings == expected
    assert torch.equal(masks.frame_area, ref.frame_area)
    assert torch.allclose(masks.prob_sum, ref.prob_sum, rtol=1e-6, atol=1e-9)
    return masks


@pytest.mark.parametrize(
    ("size", "limits", "plus_one", "normalise"),
    [
        ((270, 480), (129, 225), True, "softmax"),  # Video-kMaX geometry: the series path
        ((300, 170), (129, 225), True, "softmax"),  # portrait, other scale
        ((48, 64), (129, 225), True, "softmax"),  # not scaled, only padded
        ((270, 480), (128, 224), False, "softmax"),  # Tube-Link geometry: the dense path
        ((270, 480), (128, 224), False, "sigmoid"),
    ],
)
@pytest.mark.parametrize("threshold", [0.3, 0.2])
def test_clip_masks_equal_the_literal_float64_rule(size, limits, plus_one, normalise, threshold):
    torch.manual_seed(1)
    g = plan_geometry(*size, *limits, plus_one=plus_one)
    h4 = g.padded_height // 4 + (1 if plus_one else 0)
    w4 = g.padded_width // 4 + (1 if plus_one else 0)
    # smooth blobs plus noise: large masks, boundaries, and queries near the threshold
    logits = torch.randn(12, 2, h4, w4) * 2.5
    logits = torch.nn.functional.avg_pool2d(logits, 3, 1, 1) * 3
    masks = _agree(logits, g, threshold, normalise)
    assert int(masks.area.sum()) > 0


def test_clip_masks_with_sharp_and_huge_logits():
    """Steep logits (slow series, direct sums) and +-1e4 logits (float32 underflow) still give
    the float64 rule's masks."""
    g = plan_geometry(270, 480, 129, 225)
    torch.manual_seed(2)
    logits = torch.randn(8, 1, 33, 57) * 40
    _agree(logits, g, 0.3, "softmax")
    huge = torch.zeros(3, 1, 33, 57)
    huge[0, :, :, :20] = 1e4
    huge[1, :, :, 20:] = 1e4
    huge[2] = -1e4
    _agree(huge, g, 0.3, "softmax")


def test_series_in_column_blocks_gives_the_same_masks(monkeypatch):
    """Blocks of a few columns (ragged last block, steep and underflowing places inside some
    blocks) give the float64 rule's masks, as one block does."""
    import axialvs_cli.outputs.masks as masks_module

    g = plan_geometry(270, 480, 129, 225)
    torch.manual_seed(3)
    logits = torch.nn.functional.avg_pool2d(torch.randn(12, 2, 33, 57) * 2.5, 3, 1, 1) * 3
    logits[:, :, :, 40:] *= 12  # steep terms in the right-hand blocks only
    logits[0, :, 5:9, 20:30] = 1e4  # underflow in the middle blocks
    whole = clip_masks(logits, g, 0.3)
    monkeypatch.setattr(masks_module, "SERIES_BLOCK_VALUES", 1)  # 16 columns per block
    blocked = _agree(logits, g, 0.3, "softmax")
    for a, b in zip(whole.frames, blocked.frames, strict=True):
        assert np.array_equal(a.starts, b.starts) and np.array_equal(a.slots, b.slots)
    assert torch.equal(whole.frame_area, blocked.frame_area)


def test_clip_painting_frames_match_its_owner_maps():
    torch.manual_seed(4)
    g = plan_geometry(36, 50, 129, 225)
    logits = torch.randn(70, 2, 10, 13) * 3  # 70 queries: cover keys of two words
    masks = clip_masks(logits, g, 0.2)
    scores, labels = torch.rand(70) * 0.5 + 0.3, torch.randint(0, 5, (70,))
    is_thing = torch.tensor([True, False, True, False, True])
    painting = paint_clip(masks, scores, labels, is_thing, Thresholds(overlap=0.5))
    owner = painting.owner_maps()
    assert owner.shape == (2, 36, 50) and len(painting.accepted) > 3
    assert set(owner.unique().tolist()) <= {-1, *painting.accepted}
    lut = np.append(np.arange(70, dtype=np.int32) * 10 + 7, np.int32(3))
    for t, (plane, owned) in enumerate(painting.frames(lut)):
        slots = owner[t].numpy()
        assert plane.flags.c_contiguous
        assert np.array_equal(plane, np.where(slots < 0, 3, slots * 10 + 7))
        assert np.array_equal(owned, np.bincount(slots.ravel() + 1, minlength=71)[1:])
    again, painted = paint_panoptic(masks, scores, labels, is_thing, Thresholds(overlap=0.5))
    assert torch.equal(again, owner) and painted == painting.accepted


def test_class_scores_ignore_void():
    logits = torch.tensor([[0.0, 1.0, 9.0], [3.0, 0.0, 0.0]])
    scores, labels = class_scores(logits)
    assert labels.tolist() == [1, 0]
    assert scores[0] < 0.01 and scores[1] > 0.8


def _masks(*rows: str) -> torch.Tensor:
    """Each argument: one query's mask on a 1x1x8 strip ('x' = set)."""
    return torch.tensor([[c == "x" for c in r] for r in rows]).view(len(rows), 1, 1, 8)


def test_paint_panoptic_order_thresholds_and_overlap():
    # probs: query 0 strong on 0..3, query 1 on 2..7 (overlaps 2 of 6), query 2 weak everywhere
    binary = _masks("xxxx....", "..xxxxxx", "xxxxxxxx", "xxxxxxxx")
    probs = binary.float().transpose(0, 1) * torch.tensor([0.9, 0.8, 0.35, 0.35]).view(1, 4, 1, 1)
    masks = sparse_from_dense(probs, 0.3)
    scores = torch.tensor([0.9, 0.9, 0.9, 0.1])  # query 3 is not confident
    labels = torch.tensor([0, 1, 2, 0])
    is_thing = torch.tensor([True, True, False])
    owner, painted = paint_panoptic(masks, scores, labels, is_thing, Thresholds(overlap=0.6))
    # query 0 first (0.9 x 0.9); query 1 keeps 4 of 6 pixels (> 0.6); query 2 keeps 0 of 8
    assert painted == [0, 1]
    assert owner[0, 0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    owner, painted = paint_panoptic(masks, scores, labels, is_thing, Thresholds(overlap=0.8))
    assert painted == [0] and owner[0, 0].tolist() == [0] * 4 + [-1] * 4
    # a stuff query needs the stuff threshold
    scores = torch.tensor([0.0, 0.0, 0.4, 0.0])
    _, painted = paint_panoptic(masks, scores, labels, is_thing, Thresholds(stuff=0.45))
    assert painted == []
    _, painted = paint_panoptic(masks, scores, labels, is_thing, Thresholds(stuff=0.3))
    assert painted == [2]


def test_thresholds_are_checked():
    with pytest.raises(ValueError):
        Thresholds(pixel=1.5)


def test_classes_from_meta():
    meta = {"classes": [{"id": 5, "name": "a", "isthing": 1, "color": [1, 2, 3]}, {"id": 7}]}
    table = classes_from_meta(meta, 2, "ckpt")
    assert table.ids == [5, 7] and table.is_thing == [True, False]
    assert table.colours[0] == (1, 2, 3) and table.names[1] == "7"
    with pytest.raises(CheckpointError, match="meta\\['classes'\\]"):
        classes_from_meta({}, 2, "ckpt")
    with pytest.raises(CheckpointError, match="3 classes"):
        classes_from_meta(meta, 3, "ckpt")


def test_unique_names():
    assert unique_names(["a", "b", "a", "a"]) == ["a", "b", "a_2", "a_3"]
