"""Datasets, frame sampling and clip-consistent augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from axialvs_cli.data.sampling import clip_indices, sample_indices, video_indices
from axialvs_cli.data.synth import SynthConfig, generate
from axialvs_cli.data.targets import VOID, collate
from axialvs_cli.data.transforms import (
    AugmentConfig,
    apply_image,
    apply_labels,
    sample_params,
    valid_mask,
)
from axialvs_cli.data.vipseg import VipsegClips
from axialvs_cli.data.ytvis import YtvisClips
from axialvs_cli.errors import InputError


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    generate(root, SynthConfig(videos=2, frames=6, size=(72, 112), seed=0))
    generate(root, SynthConfig(videos=2, frames=6, size=(72, 112), seed=0, format="ytvis"))
    return root


def test_clip_sampling_range() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        idx = clip_indices(30, 2, 1, rng)
        assert idx[1] - idx[0] == 1  # range 1: consecutive frames (paper's final setting)
        idx = clip_indices(30, 3, 3, rng)
        gaps = np.diff(idx)
        assert (gaps >= 1).all() and (gaps <= 3).all() and max(idx) < 30
    assert clip_indices(1, 2, 1, rng) == [0, 0]  # a one-frame video repeats its frame
    assert max(clip_indices(3, 2, 10, rng)) <= 2


def test_video_sampling_pads_and_reverses() -> None:
    rng = np.random.default_rng(0)
    assert video_indices(3, 5, rng) == [0, 1, 2, 2, 2]
    seen = {tuple(video_indices(10, 4, rng, random_reverse=True)) for _ in range(40)}
    assert any(s[0] > s[-1] for s in seen) and any(s[0] < s[-1] for s in seen)
    assert all(abs(s[0] - s[-1]) == 3 for s in seen)
    assert len(sample_indices(20, 2, 3, 1, rng)) == 6


def test_augmentation_is_identical_for_every_frame() -> None:
    rng = np.random.default_rng(1)
    h, w = 40, 60
    ids = np.arange(h * w, dtype=np.int64).reshape(h, w) + 1
    frame = np.stack([ids % 256, (ids // 256) % 256, np.zeros_like(ids)], -1).astype(np.uint8)
    cfg = AugmentConfig(crop=(33, 45), min_scale=1.2, max_scale=1.8, color_jitter=False)
    for _ in range(10):
        p = sample_params(h, w, cfg, rng)
        a, b = apply_image(frame, p), apply_image(frame.copy(), p)
        assert (a == b).all()  # deterministic given the parameters: all frames of a clip alike
        lab = apply_labels(ids, p)
        assert lab.shape == (33, 45) and a.shape == (33, 45, 3)
        valid = valid_mask(p)
        assert (lab[~valid] == 0).all() and (lab[valid] > 0).all()
    small = sample_params(h, w, AugmentConfig(crop=(129, 225), min_scale=0.5, max_scale=0.5), rng)
    assert not valid_mask(small).all()  # padded at the bottom / right
    assert (apply_image(frame, small)[~valid_mask(small)] == 128).all()


def test_flip_moves_image_and_labels_together() -> None:
    rng = np.random.default_rng(0)
    frame = np.zeros((20, 30, 3), np.uint8)
    frame[:, :10] = 255
    ids = np.zeros((20, 30), np.int64)
    ids[:, :10] = 7
    cfg = AugmentConfig(crop=(20, 30), min_scale=1.0, max_scale=1.0, color_jitter=False)
    for _ in range(8):
        p = sample_params(20, 30, cfg, rng)
        img, lab = apply_image(frame, p), apply_labels(ids, p)
        assert ((img[..., 0] == 255) == (lab == 7)).all()


def test_vipseg_clips(data: Path) -> None:
    torch.manual_seed(0)
    ds = VipsegClips(data, "train", augment=AugmentConfig(crop=(65, 97)))
    assert [c["name"] for c in ds.classes][:2] == ["sky", "grass"] and len(ds.classes) == 8
    s = ds[0]
    assert s.frames.shape == (2, 3, 65, 97) and s.frames.dtype == torch.uint8
    t = s.target
    assert t.masks.shape[1:] == (2, 17, 25) and t.masks.dtype == torch.bool  # stride 4: ceil(65/4)
    assert t.labels.numel() == t.masks.shape[0] == t.ids.numel() > 0
    assert t.masks.flatten(1).any(1).all()  # no empty tube
    assert (t.masks.sum(0) <= 1).all()  # panoptic: tubes do not overlap
    covered = t.masks.any(0)
    assert ((t.semantic != VOID) == covered).all()
    for k in range(t.labels.numel()):
        assert (t.semantic[t.masks[k]] == t.labels[k]).all()
    video = VipsegClips(
        data, "train", num_clips=2, clip_length=2, augment=AugmentConfig(crop=(65, 97))
    )[1]
    assert video.frames.shape[0] == 4 and video.target.masks.shape[1] == 4
    batch = collate([s, ds[1]])
    assert batch.frames.shape == (2, 2, 3, 65, 97) and len(batch.targets) == 2
    with pytest.raises(InputError):
        VipsegClips(data, "nosuchsplit")


def test_ytvis_clips(data: Path) -> None:
    torch.manual_seed(0)
    ds = YtvisClips(data / "train.json", augment=AugmentConfig(crop=(65, 97)))
    assert [c["id"] for c in ds.classes] == [1, 2, 3, 4]
    s = ds[0]
    assert s.frames.shape == (2, 3, 65, 97)
    assert s.target.masks.shape[1:] == (2, 17, 25) and s.target.valid.all()
    assert set(s.target.labels.tolist()) <= {0, 1, 2, 3}
    whole = YtvisClips(data / "train.json", clip_length=3)[0]  # no augmentation: whole frames
    assert whole.frames.shape == (3, 3, 72, 112) and whole.target.masks.shape[2:] == (18, 28)
