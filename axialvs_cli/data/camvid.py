"""CamVid (the 11-class version distributed with the SegNet tutorial) as training clips.

Layout: ``<root>/<split>/<name>.png`` frames (480 x 360 RGB) and ``<root>/<split>annot/<name>.png``
labels (one channel, 0..10 = the 11 classes, 11 = void), for the splits train, val and test;
``--split train+val`` joins several. File names carry the sequence and the 30 fps frame number
(``0001TP_006690``); one frame a second is labelled.

Panoptic targets are derived from the semantic labels, an approximation stated wherever the
figures are reported: every stuff class is one segment per frame, and every 4-connected
component of a thing class (Car, Pedestrian, Bicyclist) is one instance. Touching cars are
therefore one instance, and an occluded car cut in two is two.

Clips: the labelled frames are a second apart and connected-component ids do not correspond
between them, so a clip of T frames (and a stage-2 video of K clips) is made from ONE labelled
frame seen by a moving virtual camera: frame j of the item is the frame resized by
(1 + j * zoom) and cropped at offset + j * velocity, with one draw of zoom (|zoom| <= 2 %)
and velocity (|v| <= 12 px per frame) per item; flip and colour jitter are shared. Every
instance keeps its id through the item, which is what the tracking modules learn from.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from ..errors import FormatError, InputError
from .paste import Cutout, PasteSource, cutouts_from, paste_cutouts
from .sampling import ClipDataset, item_rng
from .targets import Sample
from .transforms import AugmentConfig, ClipParams, apply_image, apply_labels, valid_mask
from .vipseg import build_target, read_rgb

CLASSES: tuple[tuple[str, bool, tuple[int, int, int]], ...] = (
    ("sky", False, (128, 128, 128)),
    ("building", False, (128, 0, 0)),
    ("pole", False, (192, 192, 128)),
    ("road", False, (128, 64, 128)),
    ("pavement", False, (60, 40, 222)),
    ("tree", False, (128, 128, 0)),
    ("sign", False, (192, 128, 128)),
    ("fence", False, (64, 64, 128)),
    ("car", True, (64, 0, 128)),
    ("pedestrian", True, (64, 64, 0)),
    ("bicyclist", True, (0, 128, 192)),
)
VOID_LABEL = 11
PEDESTRIAN = 9
BICYCLIST = 10
SPLITS = ("train", "val", "test")
MAX_ZOOM = 0.02
MAX_VELOCITY = 12.0
# segment ids of the derived panoptic map: stuff class c -> c + 1; things from THING_BASE
THING_BASE = 1000


def class_meta() -> list[dict[str, Any]]:
    """{id, name, isthing, color} per class, id = label value."""
    return [
        {"id": i, "name": name, "isthing": int(thing), "color": list(color)}
        for i, (name, thing, color) in enumerate(CLASSES)
    ]


def split_files(root: Path, split: str) -> list[tuple[Path, Path]]:
    """(frame, label) paths of one split or of several joined by '+' ("train+val")."""
    root = Path(root)
    parts = [p.strip() for p in split.split("+") if p.strip()]
    bad = [p for p in parts if p not in SPLITS]
    if not parts or bad:
        raise InputError(f"--split {split!r}: CamVid splits are {', '.join(SPLITS)} (join with +)")
    out = []
    for part in parts:
        images, labels = root / part, root / f"{part}annot"
        if not images.is_dir() or not labels.is_dir():
            raise InputError(
                f"{root}: no {part}/ and {part}annot/ folders; pass the CamVid folder of the "
                "SegNet tutorial (it holds train/, trainannot/, val/, ...)"
            )
        for image in sorted(images.glob("*.png")):
            label = labels / image.name
            if not label.is_file():
                raise FormatError(f"{image}: no label {label}")
            out.append((image, label))
    if not out:
        raise InputError(f"{root}: split {split!r} has no PNG frames")
    return out


def class_frequencies(root: Path, split: str) -> np.ndarray:
    """Each class's share of the labelled (non-void) pixels of a split, (11,) float64."""
    counts = np.zeros(len(CLASSES), np.int64)
    for _, label_path in split_files(root, split):
        counts += np.bincount(read_label(label_path).ravel(), minlength=VOID_LABEL + 1)[:VOID_LABEL]
    return counts / max(int(counts.sum()), 1)


def balanced_weights(freq: np.ndarray, cap: float = 4.0) -> tuple[float, ...]:
    """Per-class loss factors sqrt(median frequency / frequency), kept in [1, cap]: classes
    rarer than the median get up to `cap` times the weight, the others keep 1 (the square root
    of SegNet's median-frequency balancing, never below 1 so common classes are not starved)."""
    freq = np.asarray(freq, np.float64)
    present = freq[freq > 0]
    if not present.size:
        return tuple(1.0 for _ in freq)
    median = float(np.median(present))
    w = np.sqrt(median / np.maximum(freq, 1e-12))
    return tuple(round(float(v), 3) for v in np.clip(w, 1.0, cap))


def read_label(path: Path) -> np.ndarray:
    """A CamVid label PNG as (H, W) uint8 with values 0..11."""
    try:
        with Image.open(path) as img:
            if img.mode not in ("L", "P", "I;16", "I"):
                raise FormatError(
                    f"{path}: a CamVid label is a one-channel PNG, got mode {img.mode}"
                )
            label = np.asarray(img).astype(np.int64)
    except OSError as err:
        raise FormatError(f"{path}: cannot be read as a label PNG ({err})") from None
    if label.size and int(label.max()) > VOID_LABEL:
        raise FormatError(f"{path}: label values above {VOID_LABEL} (11 classes + void)")
    return label.astype(np.uint8)


def panoptic_ids(label: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """Segment ids (0 = void) of a semantic label map and each id's class: stuff class c is
    id c + 1, thing components are THING_BASE + 1, +2, ... (4-connectivity)."""
    ids = np.zeros(label.shape, np.int64)
    classes: dict[int, int] = {}
    next_thing = THING_BASE + 1
    for c, (_, thing, _) in enumerate(CLASSES):
        mask = label == c
        if not mask.any():
            continue
        if not thing:
            ids[mask] = c + 1
            classes[c + 1] = c
            continue
        comp, n = ndimage.label(mask)
        for k in range(1, n + 1):
            ids[comp == k] = next_thing
            classes[next_thing] = c
            next_thing += 1
    return ids, classes


def bicyclist_cutouts(files: list[tuple[Path, Path]], min_height: int) -> list[Cutout]:
    """Every 4-connected Bicyclist component of these (frame, label) files at least
    `min_height` tall, as a cut-out of its frame."""
    out: list[Cutout] = []
    for image_path, label_path in files:
        label = read_label(label_path)
        comp, n = ndimage.label(label == BICYCLIST)
        if n:
            out.extend(cutouts_from(read_rgb(image_path), comp, min_height))
    return out


def semantic_from_panoptic(pan: np.ndarray, segments: dict[int, int]) -> np.ndarray:
    """(H, W) class index from a segment-id map (VOID_LABEL where no segment)."""
    out = np.full(pan.shape, VOID_LABEL, np.uint8)
    for sid, cls in segments.items():
        out[pan == sid] = cls
    return out


def camera_params(
    base: ClipParams, j: int, zoom: float, velocity: tuple[float, float]
) -> ClipParams:
    """The augmentation of frame j of an item: `base` zoomed by (1 + j zoom), moved j steps."""
    f = 1.0 + j * zoom
    h, w = max(1, round(base.size[0] * f)), max(1, round(base.size[1] * f))
    oy = round(base.offset[0] * f + j * velocity[0])
    ox = round(base.offset[1] * f + j * velocity[1])
    oy = int(min(max(oy, 0), max(h - base.crop[0], 0)))
    ox = int(min(max(ox, 0), max(w - base.crop[1], 0)))
    return dataclasses.replace(base, size=(h, w), offset=(oy, ox))


class CamvidClips(ClipDataset):
    """Items of T frames (stage 1) or K x T frames (stage 2), each from one labelled frame.

    Args:
        root: the CamVid folder (train/, trainannot/, ...).
        split: "train", "val", "test" or several joined by "+".
        augment: augmentation, or None for the frame as it is (no camera motion either).
        pastes: what augmented items may get pasted in (`data.paste.PasteSource`), in order.
        Other arguments as for `VipsegClips` (sampling_range is not used: see the module).
    """

    def __init__(
        self, root: Path | str, split: str = "train", *, clip_length: int = 2,
        num_clips: int = 1, sampling_range: int = 1, augment: AugmentConfig | None = None,
        random_reverse: bool = False, stride: int = 4, repeats: int = 1,
        pastes: tuple[PasteSource, ...] = (),
    ) -> None:  # fmt: skip
        super().__init__(
            clip_length=clip_length, num_clips=num_clips, sampling_range=sampling_range,
            augment=augment, random_reverse=random_reverse, stride=stride, repeats=repeats,
        )  # fmt: skip
        self.root = Path(root)
        self.files = split_files(self.root, split)
        self.video_ids = [image.stem for image, _ in self.files]
        self.classes = class_meta()
        self.pastes = tuple(pastes)

    def __getitem__(self, index: int) -> Sample:
        image_path, label_path = self.files[index % len(self.files)]
        image = read_rgb(image_path)
        label = read_label(label_path)
        if label.shape != image.shape[:2]:
            raise FormatError(
                f"{label_path}: size {label.shape} differs from its frame {image.shape[:2]}"
            )
        rng = item_rng()
        if self.augment is not None:
            for src in self.pastes:
                image, label = paste_cutouts(image, label, src.cutouts, src.class_id, src.cfg, rng)
        ids, segments = panoptic_ids(label)
        length = self.clip_length * self.num_clips
        base = self._params(*image.shape[:2], rng)
        if self.augment is not None:
            zoom = float(rng.uniform(-MAX_ZOOM, MAX_ZOOM))
            velocity = (float(rng.uniform(-1, 1)), float(rng.uniform(-1, 1)))
            velocity = (velocity[0] * MAX_VELOCITY, velocity[1] * MAX_VELOCITY)
        else:
            zoom, velocity = 0.0, (0.0, 0.0)
        order = list(range(length))
        if self.random_reverse and rng.random() < 0.5:
            order.reverse()
        images, id_maps, valids = [], [], []
        for j in order:
            p = camera_params(base, j, zoom, velocity)
            images.append(apply_image(image, p))
            id_maps.append(apply_labels(ids, p))
            valids.append(valid_mask(p))
        no_crowd = {k: (c, False) for k, c in segments.items()}
        target = build_target(id_maps, np.stack(valids), no_crowd, self.stride)
        clip = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()  # L 3 H W
        return Sample(clip, target, self.video_ids[index % len(self.files)], [0] * length)


__all__ = [
    "CLASSES",
    "bicyclist_cutouts",
    "CamvidClips",
    "class_meta",
    "panoptic_ids",
    "read_label",
    "semantic_from_panoptic",
    "split_files",
]
