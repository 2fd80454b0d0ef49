"""Near-online and offline runners on a synthetic video whose objects are known.

A stub network recognises coloured squares exactly and returns its queries in a different
random order in every clip, so only the Hungarian matching can keep the identities.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor, nn

from axialvs_cli.formats.palette import read_id_png
from axialvs_cli.inference.device import LoadedModel
from axialvs_cli.inference.runner import SegmentOptions, segment_videos
from axialvs_cli.inference.tracking import (
    NearOnlineRunner,
    OfflineRunner,
    SegmentIds,
    refine_in_windows,
    window_starts,
)
from axialvs_cli.outputs.writers import ClassTable
from models.axialvs import ClipOutput
from models.build import build_axialvs
from models.config import InferenceConfig, get_preset
from models.cross_clip import RefineOutput
from models.matching import align_clips

# prototypes: colour -> class index; class 0 and 1 are things, 2 is stuff
PROTOTYPES = [((230, 30, 30), 0), ((30, 230, 30), 1), ((30, 30, 230), 0), ((128, 128, 128), 2)]
N, E, C = 6, 6, 3  # queries (4 objects + 2 empty), embedding size, classes
CLASSES = ClassTable(
    ids=[10, 11, 12],
    names=["red-ish", "green", "ground"],
    is_thing=[True, True, False],
    colours=[(200, 0, 0), (0, 200, 0), (128, 128, 128)],
)


class StubSegmenter(nn.Module):
    """Recognises the prototype colours at stride 4; queries come in a random order per clip."""

    cross_clip = True

    def _indicators(self, clip: Tensor) -> Tensor:
        small = clip[0, :, :, ::4, ::4]  # (T, 3, h, w)
        maps = [
            ((small - torch.tensor(c, dtype=small.dtype).view(3, 1, 1)).abs().sum(1) < 60).float()
            for c, _ in PROTOTYPES
        ]
        zeros = torch.zeros_like(maps[0])
        return torch.stack([*maps, zeros, zeros])  # (E, T, h, w)

    def forward_clip(self, clip: Tensor) -> ClipOutput:
        features = self._indicators(clip)
        seed = zlib.crc32(clip.numpy().tobytes())
        perm = torch.randperm(N, generator=torch.Generator().manual_seed(seed))
        emb = torch.eye(N)[perm]  # query j is object perm[j]
        logits = torch.full((N, C + 1), -5.0)
        for j, obj in enumerate(perm.tolist()):
            logits[j, PROTOTYPES[obj][1] if obj < len(PROTOTYPES) else C] = 5.0
        masks = self.decode_masks(emb[None] * 100, features[None])  # sharp edges
        return ClipOutput(emb[None], emb[None], logits[None], masks, features[None])

    def refine(self, queries: Tensor) -> RefineOutput:
        obj = queries[0].mean(0).argmax(-1)  # (N,) aligned slots -> object
        logits = torch.full((1, N, C + 1), -5.0)
        for j, o in enumerate(obj.tolist()):
            logits[0, j, PROTOTYPES[o][1] if o < len(PROTOTYPES) else C] = 5.0
        return RefineOutput(queries, logits, queries * 100, None)

    def decode_masks(self, kernels: Tensor, pixel_features: Tensor) -> Tensor:
        return torch.einsum("bethw,bne->bnthw", pixel_features, kernels) - 50.0


def square_video(folder: Path, frames: int = 7) -> list[dict[str, tuple[slice, slice]]]:
    """PNG frames 64x96: grey ground, a red square moving right, a green one moving left, a
    blue one from frame 3. Returns each frame's square positions."""
    folder.mkdir()
    positions = []
    for t in range(frames):
        rgb = np.full((64, 96, 3), 128, np.uint8)
        where = {"red": (slice(4, 20), slice(2 + 3 * t, 18 + 3 * t))}
        where["green"] = (slice(44, 60), slice(70 - 3 * t, 86 - 3 * t))
        if t >= 3:
            where["blue"] = (slice(24, 40), slice(40, 56))
        for name, colour in (("red", 0), ("green", 1), ("blue", 2)):
            if name in where:
                rgb[where[name]] = PROTOTYPES[colour][0]
        Image.fromarray(rgb).save(folder / f"{t:03d}.png")
        positions.append(where)
    return positions


def stub_model(clip_length: int = 2) -> LoadedModel:
    inference = InferenceConfig(short_side=64, long_side=96)
    return LoadedModel(
        StubSegmenter(), clip_length, inference, (127.5,) * 3, CLASSES, "stub", torch.device("cpu")
    )


@pytest.mark.parametrize("offline", [False, True])
def test_ids_follow_the_objects_across_clips(tmp_path, offline):
    positions = square_video(tmp_path / "squares")
    out = tmp_path / "out"
    options = SegmentOptions(offline=offline, task="both", refine_window=2)
    result = segment_videos([tmp_path / "squares"], out, options=options, model=stub_model())
    assert result.videos[0]["frames"] == 7 and result.videos[0]["clips"] == 4
    pngs = sorted((out / "pan_pred" / "squares").iterdir())
    assert [p.name for p in pngs] == [f"{t:03d}.png" for t in range(7)]  # padding not written
    seen: dict[str, set[int]] = {"red": set(), "green": set(), "blue": set(), "ground": set()}
    for t, png in enumerate(pngs):
        ids = read_id_png(png)
        assert ids.shape == (64, 96)
        for name, (rows, cols) in positions[t].items():
            inner = ids[rows.start + 4 : rows.stop - 4, cols.start + 4 : cols.stop - 4]
            seen[name] |= set(np.unique(inner).tolist())
        seen["ground"] |= set(np.unique(ids[62:, :]).tolist())
    assert all(len(v) == 1 for v in seen.values()), seen  # one id per object, every frame
    ids = [next(iter(v)) for v in seen.values()]
    assert len(set(ids)) == 4 and 0 not in ids  # the blue square (same class as red) is new
    assert seen["ground"] == {128 + 128 * 256 + 128 * 65536}  # stuff: its class colour
    pred = json.loads((out / "pred.json").read_text())["annotations"][0]["annotations"]
    cats = {s["id"]: s["category_id"] for f in pred for s in f["segments_info"]}
    assert cats == dict(zip(ids, [10, 11, 10, 12], strict=True))
    tracks = json.loads((out / "results.json").read_text())
    assert sorted(t["category_id"] for t in tracks) == [10, 10, 11]
    for track in tracks:
        assert len(track["segmentations"]) == 7
        if track["category_id"] == 10 and track["segmentations"][0] is None:
            assert all(s is not None for s in track["segmentations"][3:])  # blue from frame 3


def test_segment_ids_are_stable_and_change_with_the_class():
    ids = SegmentIds([True, True, False], [(200, 0, 0), (0, 200, 0), (9, 9, 9)])
    a = ids.lookup(0, 0)
    assert ids.lookup(0, 0) == a  # same slot, same class: same track
    b = ids.lookup(0, 1)
    assert b != a and ids.lookup(0, 1) == b  # class change: a new track
    assert ids.lookup(1, 0) not in (a, b)  # another slot: another track
    stuff = ids.lookup(2, 2)
    assert stuff == 9 + 9 * 256 + 9 * 65536 and ids.lookup(5, 2) == stuff
    assert ids.thing_tracks == 3 and ids.category[b] == 1


def test_near_online_matching_undoes_the_query_order():
    model = StubSegmenter()
    runner = NearOnlineRunner(model)
    clips = [torch.rand(1, 2, 3, 16, 16) * 255 for _ in range(4)]
    order = []
    for clip in clips:
        runner.step(clip, 2)
        order.append(runner.state.embeddings.argmax(-1).tolist())
    assert all(o == order[0] for o in order)  # slot i is the same object in every clip
    assert runner.state.clips == 4 and runner.state.logit_sum.shape == (N, C + 1)


def test_window_starts():
    assert window_starts(5, 24) == [0]
    assert window_starts(24, 24) == [0]
    assert window_starts(30, 24) == [0, 6]
    assert window_starts(50, 20) == [0, 10, 20, 30]


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    cfg = get_preset("tiny")
    return build_axialvs(cfg).eval()


def test_offline_two_passes_equal_one_pass_over_the_whole_video(tiny):
    torch.manual_seed(1)
    clips = [torch.rand(1, 2, 3, 65, 97) * 255 for _ in range(4)]
    with torch.inference_mode():  # one pass, everything in memory
        outs = [tiny.forward_clip(c) for c in clips]
        perms = align_clips(torch.stack([o.mask_embeddings[0] for o in outs]))
        queries = torch.stack([o.queries[0][p] for o, p in zip(outs, perms, strict=True)])
        whole = tiny.refine(queries[None])
        expected = [
            tiny.decode_masks(whole.mask_kernels[:, k], outs[k].pixel_features)[0] for k in range(4)
        ]
    runner = OfflineRunner(tiny, window=24)
    for clip in clips:  # pass 1
        runner.collect(clip)
    refined = runner.refine()
    assert torch.allclose(refined.class_logits, whole.class_logits[0], atol=1e-5)
    for k, clip in enumerate(clips):  # pass 2
        pred = runner.decode(k, clip, 2)
        assert torch.allclose(pred.mask_logits, expected[k], atol=1e-4)


def test_windowed_refinement_covers_every_clip(tiny):
    queries = torch.randn(7, 32, 64)
    with torch.inference_mode():
        logits, kernels = refine_in_windows(tiny, queries, window=7)
        whole = tiny.refine(queries[None])
        assert torch.allclose(kernels, whole.mask_kernels[0], atol=1e-5)
        logits, kernels = refine_in_windows(tiny, queries, window=4)  # windows at 0, 2, 3
        assert kernels.shape == (7, 32, 32) and logits.shape == (32, 125)
        first = tiny.refine(queries[None, :4])
        assert torch.allclose(kernels[:2], first.mask_kernels[0, :2], atol=1e-5)


def test_offline_needs_the_cross_clip_module():
    with pytest.raises(Exception, match="cross-clip"):
        OfflineRunner(nn.Linear(1, 1))


def test_whole_video_refinement_within_the_memory_budget() -> None:
    from axialvs_cli.inference.tracking import REFINE_BYTES, refine_window_for

    tiny = build_axialvs("tiny").eval()
    heads = tiny.cross_clip.num_heads
    fits = int((2 * 2**30 / (REFINE_BYTES * heads)) ** 0.5 // 32)
    assert 100 < fits < 400  # a 2 GiB budget holds a few hundred clips of 32 queries
    assert refine_window_for(tiny, fits, 32, 2.0) == fits  # the whole video
    assert refine_window_for(tiny, fits + 1, 32, 2.0) == fits  # windows of what fits
    assert refine_window_for(tiny, 10_000, 32, 0.0) == 10_000  # no limit
    assert refine_window_for(tiny, 500, 32, 1e-9) == 2  # never below 2 clips
