"""Build the training dataset a `TrainConfig` names (VIPSeg layout or YouTube-VIS / OVIS JSON)."""

from __future__ import annotations

from torch.utils.data import Dataset

from ..data.camvid import CamvidClips
from ..data.vipseg import VipsegClips
from ..data.ytvis import YtvisClips
from ..errors import InputError
from .config import FORMATS, TrainConfig


def build_dataset(cfg: TrainConfig, train: bool = True) -> Dataset:
    """Stage 1: clips of T frames; stage 2: videos of K clips. Items are augmented when `train`."""
    d = cfg.data
    if d.format not in FORMATS:
        raise InputError(f"--format {d.format!r} is not known; use one of {', '.join(FORMATS)}")
    common = dict(
        clip_length=cfg.clip_length, num_clips=cfg.num_clips if cfg.stage == 2 else 1,
        sampling_range=cfg.sampling_range, augment=cfg.augment if train else None,
        random_reverse=cfg.random_reverse and train,
    )  # fmt: skip
    if d.format == "camvid":
        if not d.root.is_dir():
            raise InputError(f"--data {d.root}: no such CamVid folder (train/, trainannot/, ...)")
        return CamvidClips(d.root, d.split, pastes=_camvid_pastes(cfg) if train else (), **common)
    if d.format == "vipseg":
        if d.root.is_file():
            return VipsegClips(d.root.parent, d.split, json_path=d.root, **common)
        if not d.root.is_dir():
            raise InputError(f"--data {d.root}: no such VIPSeg_720P folder or annotation JSON")
        return VipsegClips(d.root, d.split, **common)
    if d.root.is_dir():
        raise InputError(
            f"--data {d.root} is a folder; for --format ytvis pass the annotation JSON (and --image-root)"
        )
    return YtvisClips(d.root, d.image_root, **common)


def _camvid_pastes(cfg: TrainConfig) -> tuple:
    """--paste-bicyclists (the split's own cyclists) and --paste-people (Penn-Fudan), in that
    order, so that a pasted person may stand in front of a pasted cyclist."""
    from ..data import camvid
    from ..data.paste import (
        BICYCLIST_MIN_HEIGHT,
        BICYCLIST_PASTE,
        PasteConfig,
        PasteSource,
        load_people,
    )

    d = cfg.data
    out = []
    if d.paste_bicyclists:
        files = camvid.split_files(d.root, d.split)
        cyclists = camvid.bicyclist_cutouts(files, BICYCLIST_MIN_HEIGHT)
        if not cyclists:
            raise InputError(
                f"--paste-bicyclists: split {d.split!r} of {d.root} has no cyclist "
                f"{BICYCLIST_MIN_HEIGHT} px or taller"
            )
        out.append(PasteSource(cyclists, camvid.BICYCLIST, BICYCLIST_PASTE))
    if d.paste_people is not None:
        people = load_people(d.paste_people)
        out.append(PasteSource(people, camvid.PEDESTRIAN, PasteConfig(prob=d.paste_prob)))
    return tuple(out)
