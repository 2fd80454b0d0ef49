"""Copy-paste into CamVid training frames (`--paste-people`, `--paste-bicyclists`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from axialvs_cli.data.camvid import (
    BICYCLIST,
    PEDESTRIAN,
    CamvidClips,
    bicyclist_cutouts,
    split_files,
)
from axialvs_cli.data.paste import (
    Cutout,
    PasteConfig,
    PasteSource,
    cutouts_from,
    load_people,
    paste_cutouts,
)
from axialvs_cli.data.transforms import AugmentConfig
from axialvs_cli.errors import FormatError, InputError


def _photo() -> tuple[np.ndarray, np.ndarray]:
    """A 60 x 50 photo with two people: id 1 (rows 5..44, cols 3..12, red) and id 2 (rows
    10..49, cols 10..19, green, overlapping 1's box), and id 3, 6 rows tall."""
    image = np.zeros((60, 50, 3), np.uint8)
    ids = np.zeros((60, 50), np.uint8)
    ids[5:45, 3:13] = 1
    ids[10:50, 13:20] = 2
    ids[10:30, 10:13] = 2  # inside 1's box, over 1: not 1's pixels
    ids[52:58, 30:40] = 3
    image[ids == 1] = (255, 0, 0)
    image[ids == 2] = (0, 255, 0)
    return image, ids


def test_cutouts_are_boxes_with_their_own_mask_and_short_people_are_dropped() -> None:
    image, ids = _photo()
    people = cutouts_from(image, ids, min_height=20)
    assert len(people) == 2  # id 3 is 6 rows tall
    one = people[0]
    assert one.rgb.shape == (40, 10, 3) and one.mask.shape == (40, 10)
    assert one.mask[0:5].all() and not one.mask[5:25, 7:10].any()  # 2's pixels left out
    assert (one.rgb[one.mask] == (255, 0, 0)).all()
    assert people[1].mask.shape == (40, 10)


def test_paste_marks_the_person_and_leaves_the_rest() -> None:
    person = Cutout(np.full((40, 10, 3), (250, 10, 10), np.uint8), np.ones((40, 10), bool))
    image = np.full((100, 120, 3), 100, np.uint8)
    label = np.full((100, 120), 3, np.uint8)  # road
    cfg = PasteConfig(prob=1.0, max_count=1, height=(0.5, 0.5), bottom=(0.9, 0.9))
    out, lab = paste_cutouts(image, label, [person], PEDESTRIAN, cfg, np.random.default_rng(0))
    assert (image == 100).all() and (label == 3).all()  # inputs unchanged
    rows, cols = np.nonzero(lab == PEDESTRIAN)
    assert set(np.unique(lab)) == {3, PEDESTRIAN}
    assert (rows.min(), rows.max() + 1) == (40, 90)  # 50 rows, feet at row 90
    assert cols.max() + 1 - cols.min() == 12  # 10 * 50 / 40 columns, inside the frame
    inner = np.zeros_like(lab, bool)
    inner[rows.min() + 1 : rows.max(), cols.min() + 1 : cols.max()] = True
    assert (out[inner] == (250, 10, 10)).all()  # inside: the person's pixels
    far = np.ones_like(lab, bool)
    far[rows.min() - 1 : rows.max() + 2, cols.min() - 1 : cols.max() + 2] = False
    assert (out[far] == 100).all()  # beyond the one-pixel soft edge: untouched
    edge = out[rows.min() - 1, cols.min() : cols.max() + 1, 0]
    assert (edge > 100).all() and (edge < 250).all()  # the blended edge row


def test_paste_probability_count_and_cut_at_the_bottom() -> None:
    person = Cutout(np.full((30, 10, 3), 200, np.uint8), np.ones((30, 10), bool))
    image = np.zeros((60, 80, 3), np.uint8)
    label = np.zeros((60, 80), np.uint8)
    never = PasteConfig(prob=0.0)
    out, lab = paste_cutouts(image, label, [person], PEDESTRIAN, never, np.random.default_rng(0))
    assert out is image and lab is label
    cut = PasteConfig(prob=1.0, max_count=1, height=(1.0, 1.0), bottom=(1.5, 1.5))
    _, lab = paste_cutouts(image, label, [person], PEDESTRIAN, cut, np.random.default_rng(1))
    rows = np.nonzero((lab == PEDESTRIAN).any(axis=1))[0]
    assert rows.min() == 30 and rows.max() == 59  # top half shown, legs below the frame
    counts = set()
    for seed in range(30):
        many = PasteConfig(prob=1.0, max_count=3, height=(0.3, 0.3), bottom=(0.5, 0.5))
        _, lab = paste_cutouts(
            image, label, [person], PEDESTRIAN, many, np.random.default_rng(seed)
        )
        counts.add(int((lab == PEDESTRIAN).sum()) // (18 * 6))
    assert counts <= {0, 1, 2, 3} and len(counts) >= 2  # 1..3 people (overlaps count less)
    with pytest.raises(ValueError, match="probability"):
        PasteConfig(prob=1.5)


def _pennfudan(root: Path, n: int = 2) -> Path:
    (root / "PNGImages").mkdir(parents=True)
    (root / "PedMasks").mkdir()
    image, ids = _photo()
    for k in range(n):
        Image.fromarray(image).save(root / "PNGImages" / f"FudanPed{k:05d}.png")
        Image.fromarray(ids).save(root / "PedMasks" / f"FudanPed{k:05d}_mask.png")
    return root


def test_load_people_reads_the_folder_and_names_what_is_wrong(tmp_path: Path) -> None:
    root = _pennfudan(tmp_path / "PennFudanPed")
    assert len(load_people(root, min_height=20)) == 4
    assert load_people(root, min_height=20)[0].mask.sum() == 40 * 10 - 20 * 3
    with pytest.raises(InputError, match="no PNGImages/ and PedMasks/"):
        load_people(tmp_path)
    with pytest.raises(InputError, match="no person"):
        load_people(root, min_height=100)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / "PedMasks" / "FudanPed00001_mask.png")
    with pytest.raises(FormatError, match="one-channel mask of its photo's size"):
        load_people(root, min_height=20)
    (root / "PedMasks" / "FudanPed00001_mask.png").unlink()
    with pytest.raises(FormatError, match="no mask"):
        load_people(root, min_height=20)


def _camvid(root: Path) -> Path:
    for split in ("train", "trainannot"):
        (root / split).mkdir(parents=True)
    label = np.full((48, 64), 3, np.uint8)  # road
    label[:20] = 0  # sky
    Image.fromarray(np.full((48, 64, 3), 90, np.uint8)).save(root / "train" / "0001TP_000000.png")
    Image.fromarray(label).save(root / "trainannot" / "0001TP_000000.png")
    return root


def test_camvid_items_get_pedestrian_tubes_only_when_augmented(tmp_path: Path) -> None:
    root = _camvid(tmp_path / "CamVid")
    person = Cutout(np.full((40, 10, 3), 250, np.uint8), np.ones((40, 10), bool))
    cfg = PasteConfig(prob=1.0, max_count=1, height=(0.6, 0.6), bottom=(0.95, 0.95))
    aug = AugmentConfig(crop=(48, 64), min_scale=1.0, max_scale=1.0, color_jitter=False)
    pastes = (PasteSource([person], PEDESTRIAN, cfg),)
    data = CamvidClips(root, "train", augment=aug, pastes=pastes, stride=1)
    sample = data[0]
    t = sample.target
    assert PEDESTRIAN in t.labels.tolist()
    tube = t.masks[t.labels.tolist().index(PEDESTRIAN)]
    assert tube.any(dim=(1, 2)).all()  # in both frames of the clip
    assert abs(int(tube[0].sum()) - round(0.6 * 48) * 6) <= 2 * round(0.6 * 48)
    plain = CamvidClips(root, "train", augment=None, pastes=pastes)
    assert PEDESTRIAN not in plain[0].target.labels.tolist()


def test_paste_people_is_a_camvid_option(tmp_path: Path) -> None:
    from axialvs_cli.training.config import build_config

    def cfg(fmt: str, **o):
        return build_config(
            data=tmp_path, out=tmp_path / "run", stage=1, fmt=fmt, preset="tiny", init=None,
            overrides={"paste_people": tmp_path, **o},
        )  # fmt: skip

    assert cfg("camvid").data.paste_people == tmp_path and cfg("camvid").data.paste_prob == 0.5
    assert cfg("camvid", paste_prob=0.25).data.paste_prob == 0.25
    with pytest.raises(ValueError, match="camvid only"):
        cfg("vipseg")
    with pytest.raises(ValueError, match="must be in"):
        cfg("camvid", paste_prob=2.0)


def test_bicyclist_cutouts_are_the_tall_cyclist_components(tmp_path: Path) -> None:
    root = _camvid(tmp_path / "CamVid")
    label = np.asarray(Image.open(root / "trainannot" / "0001TP_000000.png")).copy()
    label[10:40, 5:15] = BICYCLIST  # 30 rows
    label[10:20, 30:40] = BICYCLIST  # 10 rows, apart from the first
    Image.fromarray(label).save(root / "trainannot" / "0001TP_000000.png")
    files = split_files(root, "train")
    cyclists = bicyclist_cutouts(files, min_height=20)
    assert len(cyclists) == 1 and cyclists[0].mask.shape == (30, 10) and cyclists[0].mask.all()
    assert len(bicyclist_cutouts(files, min_height=5)) == 2


def test_paste_options_build_the_sources_in_order(tmp_path: Path, monkeypatch) -> None:
    from axialvs_cli.data import paste
    from axialvs_cli.training.config import build_config
    from axialvs_cli.training.datasets import build_dataset

    root = _camvid(tmp_path / "CamVid")
    people = _pennfudan(tmp_path / "PennFudanPed")

    def dataset(train: bool = True, **o):
        cfg = build_config(
            data=root, out=tmp_path / "run", stage=1, fmt="camvid", preset="tiny", init=None,
            overrides={"crop": "33x41", **o},
        )  # fmt: skip
        return build_dataset(cfg, train=train)

    with pytest.raises(InputError, match="has no cyclist 60 px or taller"):
        dataset(paste_bicyclists=True)
    with pytest.raises(InputError, match="no person of 80 px or taller"):
        dataset(paste_people=people)
    label = np.asarray(Image.open(root / "trainannot" / "0001TP_000000.png")).copy()
    label[10:40, 5:15] = BICYCLIST
    Image.fromarray(label).save(root / "trainannot" / "0001TP_000000.png")
    monkeypatch.setattr(paste, "BICYCLIST_MIN_HEIGHT", 20)  # the toy frames are 48 rows
    monkeypatch.setattr(paste, "MIN_HEIGHT", 20)
    data = dataset(paste_bicyclists=True, paste_people=people, paste_prob=0.25)
    assert [s.class_id for s in data.pastes] == [BICYCLIST, PEDESTRIAN]
    assert [len(s.cutouts) for s in data.pastes] == [1, 4]
    assert data.pastes[0].cfg == paste.BICYCLIST_PASTE and data.pastes[1].cfg.prob == 0.25
    assert dataset(train=False, paste_bicyclists=True, paste_people=people).pastes == ()
    assert data[0].frames.shape[-2:] == (33, 41)
