"""VIPSeg training data (the VIPSeg_720P layout, EVAL.md section 1) as a torch Dataset.

Reads ``panoptic_gt_VIPSeg_<split>.json`` with the project's VIPSeg reader; frames come from
``images/<video>/<stem>.jpg`` and labels from ``panomasksRGB/<video>/<stem>.png``. Every item
is one sampled clip (or a video of K clips for stage 2) of one video; only that item's frames
are ever read. Tubes: every non-crowd segment id of the item's frames, with the category of its
``segments_info`` entry; crowd segments and pixels without an entry are void.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..errors import FormatError, InputError
from ..formats import vipseg
from ..formats._io import load_json
from ..formats.palette import read_id_png
from .sampling import ClipDataset, item_rng
from .targets import VOID, Sample, Target
from .transforms import (
    AugmentConfig,
    apply_image,
    apply_labels,
    valid_mask,
)


def read_rgb(path: Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB; a missing or broken file is an InputError."""
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except FileNotFoundError:
        raise InputError(f"{path}: frame not found; check the data set folder") from None
    except OSError as err:
        raise FormatError(f"{path}: cannot be read as an image ({err})") from None


def build_target(
    id_maps: list[np.ndarray], valid: np.ndarray, segments: dict[int, tuple[int, bool]], stride: int
) -> Target:
    """Tubes of L augmented id maps.

    Args:
        id_maps: L maps (H, W) of segment ids (0 = void).
        valid: (H, W) or (L, H, W) bool, False on padding.
        segments: segment id -> (class index, is crowd), over the L frames.
        stride: target stride (4 = the model's mask stride).
    """
    ids = np.stack([m[::stride, ::stride] for m in id_maps])  # L h w
    valid_s = np.broadcast_to(valid[..., ::stride, ::stride], ids.shape)
    semantic = np.full(ids.shape, VOID, np.int64)
    labels, masks, tube_ids = [], [], []
    for sid in np.unique(ids).tolist():
        if sid == 0 or sid not in segments:
            continue
        cls, crowd = segments[sid]
        mask = ids == sid
        if crowd:
            continue
        semantic[mask] = cls
        labels.append(cls)
        masks.append(mask)
        tube_ids.append(sid)
    h, w = ids.shape[1:]
    return Target(
        labels=torch.tensor(labels, dtype=torch.int64),
        masks=torch.from_numpy(np.stack(masks))
        if masks
        else torch.zeros(0, len(id_maps), h, w, dtype=torch.bool),
        ids=torch.tensor(tube_ids, dtype=torch.int64),
        semantic=torch.from_numpy(semantic),
        valid=torch.from_numpy(np.ascontiguousarray(valid_s)),
    )


class VipsegClips(ClipDataset):
    """Clips (or videos of K clips) of a VIPSeg-layout data set.

    Args:
        root: the VIPSeg_720P folder.
        split: picks ``panoptic_gt_VIPSeg_<split>.json``; `json_path` overrides it.
        clip_length: T. num_clips: K (1 = stage 1; K > 1 samples K*T consecutive frames).
        sampling_range: largest gap between neighbouring clip frames (paper Table 7b).
        augment: augmentation, or None for whole frames (sizes must then agree in a batch).
        random_reverse: reverse the sampled frames with probability 1/2.
        stride: target stride. repeats: items per video and epoch.
    """

    def __init__(
        self, root: Path | str, split: str = "train", *, json_path: Path | str | None = None,
        clip_length: int = 2, num_clips: int = 1, sampling_range: int = 1,
        augment: AugmentConfig | None = None, random_reverse: bool = False, stride: int = 4,
        repeats: int = 1,
    ) -> None:  # fmt: skip
        super().__init__(
            clip_length=clip_length, num_clips=num_clips, sampling_range=sampling_range,
            augment=augment, random_reverse=random_reverse, stride=stride, repeats=repeats,
        )  # fmt: skip
        self.root = Path(root)
        json_path = Path(json_path) if json_path else self.root / f"panoptic_gt_VIPSeg_{split}.json"
        if not json_path.is_file():
            raise InputError(
                f"{json_path}: not found; pass a VIPSeg_720P folder that has it (or make one with `axialvs synth`)"
            )
        gt = vipseg.read_ground_truth(json_path)
        self.image_dir = json_path.parent / "images"
        if not self.image_dir.is_dir():
            raise InputError(f"{self.image_dir}: frame folder not found next to {json_path.name}")
        self.gt = gt
        cats = sorted(gt.categories, key=lambda c: c.id)
        self.class_index = {c.id: i for i, c in enumerate(cats)}
        self.classes = _class_meta(json_path, cats)
        self.video_ids = [v for v, frames in gt.videos.items() if frames]
        if not self.video_ids:
            raise InputError(f"{json_path}: no annotated videos")

    def __getitem__(self, index: int) -> Sample:
        vid = self._video(index)
        frames = self.gt.videos[vid]
        rng = item_rng()
        idx = self._frames(len(frames), rng)
        images, id_maps, params = [], [], None
        segments: dict[int, tuple[int, bool]] = {}
        for i in idx:
            frame = frames[i]
            image = read_rgb(self.image_dir / str(vid) / (Path(frame.file_name).stem + ".jpg"))
            ids = read_id_png(self.gt.mask_path(vid, frame.file_name), "ground-truth PNG")
            if ids.shape != image.shape[:2]:
                raise FormatError(
                    f"{self.gt.mask_path(vid, frame.file_name)}: size {ids.shape} differs from its frame {image.shape[:2]}"
                )
            if params is None:
                params = self._params(*image.shape[:2], rng)
            images.append(apply_image(image, params))
            id_maps.append(apply_labels(ids, params))
            for s in frame.segments:
                if s.category_id not in self.class_index:
                    raise FormatError(
                        f"video {vid!r} frame {frame.file_name}: category {s.category_id} is not in 'categories'"
                    )
                segments[s.id] = (self.class_index[s.category_id], bool(s.iscrowd))
        assert params is not None
        target = build_target(id_maps, valid_mask(params), segments, self.stride)
        clip = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()  # L 3 H W
        return Sample(clip, target, str(vid), idx)


def _class_meta(json_path: Path, cats: list[vipseg.Category]) -> list[dict[str, Any]]:
    """{id, name, isthing, color} per class; colours from ``panoVIPSeg_categories.json`` next to
    the JSON when it is there (the ground-truth reader keeps no colours), else a fixed palette."""
    colors: dict[int, list[int]] = {}
    path = json_path.parent / "panoVIPSeg_categories.json"
    if path.is_file():
        for c in load_json(path, "category list"):
            if isinstance(c, dict) and isinstance(c.get("color"), list):
                colors[c.get("id")] = [int(v) for v in c["color"]]
    fallback = np.random.default_rng(0).integers(0, 256, (len(cats), 3)).tolist()
    return [
        {
            "id": c.id,
            "name": c.name,
            "isthing": int(c.isthing),
            "color": colors.get(c.id, fallback[i]),
        }
        for i, c in enumerate(cats)
    ]
