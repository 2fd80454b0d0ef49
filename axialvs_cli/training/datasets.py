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
        people = None
        if d.paste_people is not None and train:
            from ..data.paste import PasteConfig, load_people

            people = load_people(d.paste_people)
            common["paste"] = PasteConfig(prob=d.paste_prob)
        return CamvidClips(d.root, d.split, people=people, **common)
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
