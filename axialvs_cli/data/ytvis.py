"""YouTube-VIS 2019 / 2021 / 2022 and OVIS training data as a torch Dataset.

Annotations come from the project's YouTube-VIS reader (COCO RLE, compressed or not); frame
paths from each video's ``file_names`` under `image_root` (``train/JPEGImages`` in the official
layouts). Every item is a sampled clip (or K clips for stage 2) of one video, and only the
masks of the sampled frames are decoded. Instances may overlap; pixels outside every instance
are background (there are no stuff classes), which the VIS losses treat as negatives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import FormatError, InputError
from ..formats import rle, ytvis
from ..formats._io import load_json
from .sampling import ClipDataset, item_rng
from .targets import VOID, Sample, Target
from .transforms import (
    AugmentConfig,
    apply_image,
    apply_labels,
    valid_mask,
)
from .vipseg import read_rgb


def _file_names(json_path: Path) -> dict[int, list[str]]:
    data = load_json(json_path, "annotation JSON")
    out = {}
    for v in data.get("videos", []) if isinstance(data, dict) else []:
        names = v.get("file_names") if isinstance(v, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise FormatError(f"{json_path}: video {v.get('id')!r} has no 'file_names' list")
        out[int(v["id"])] = names
    return out


class YtvisClips(ClipDataset):
    """Clips (or videos of K clips) of a YouTube-VIS / OVIS annotation file.

    Args:
        json_path: the annotation JSON (e.g. ``train.json``).
        image_root: folder the ``file_names`` are relative to; default: ``JPEGImages`` next to
            the JSON.
        Other arguments as for `VipsegClips`.
    """

    def __init__(
        self, json_path: Path | str, image_root: Path | str | None = None, *,
        clip_length: int = 2, num_clips: int = 1, sampling_range: int = 1,
        augment: AugmentConfig | None = None, random_reverse: bool = False, stride: int = 4,
        repeats: int = 1,
    ) -> None:  # fmt: skip
        super().__init__(
            clip_length=clip_length, num_clips=num_clips, sampling_range=sampling_range,
            augment=augment, random_reverse=random_reverse, stride=stride, repeats=repeats,
        )  # fmt: skip
        json_path = Path(json_path)
        gt = ytvis.read_ground_truth(json_path)
        self.image_root = Path(image_root) if image_root else json_path.parent / "JPEGImages"
        if not self.image_root.is_dir():
            raise InputError(
                f"{self.image_root}: frame folder not found; pass the folder of the frames as the image root"
            )
        self.files = _file_names(json_path)
        self.class_index = {cid: i for i, cid in enumerate(gt.category_ids)}
        self.classes: list[dict[str, Any]] = [
            {"id": cid, "name": gt.category_names[cid], "isthing": 1, "color": c}
            for cid, c in zip(gt.category_ids, np.random.default_rng(0).integers(0, 256, (len(gt.category_ids), 3)).tolist(), strict=True)
        ]  # fmt: skip
        self.tracks: dict[int, list[ytvis.Track]] = {vid: [] for vid in gt.videos}
        for tr in gt.annotations:
            if tr.video_id not in self.tracks:
                raise FormatError(f"{tr.where}: video_id {tr.video_id} is not among the videos")
            if not tr.iscrowd:
                self.tracks[tr.video_id].append(tr)
        self.videos = gt.videos
        self.video_ids = [v for v in gt.videos if self.files.get(v)]
        if not self.video_ids:
            raise InputError(f"{json_path}: no videos with frames")

    def __getitem__(self, index: int) -> Sample:
        vid = self._video(index)
        names = self.files[vid]
        rng = item_rng()
        idx = self._frames(len(names), rng)
        images = [read_rgb(self.image_root / names[i]) for i in idx]
        h, w = images[0].shape[:2]
        params = self._params(h, w, rng)
        frames = [apply_image(im, params) for im in images]
        s = self.stride
        labels, masks, ids = [], [], []
        grid = apply_labels(np.zeros((h, w), np.uint8), params)[::s, ::s].shape
        semantic = np.full((len(idx), *grid), VOID, np.int64)
        for tr in self.tracks[vid]:
            cls = self.class_index[tr.category_id]
            tube = np.zeros((len(idx), *grid), bool)
            for j, i in enumerate(idx):
                seg = tr.segmentations[i] if i < len(tr.segmentations) else None
                if seg is None:
                    continue
                m = rle.decode(seg)
                if m.shape != (h, w):
                    raise FormatError(
                        f"{tr.where}: mask of frame {i} is {m.shape}, the frame {(h, w)}"
                    )
                tube[j] = apply_labels(m.view(np.uint8), params)[::s, ::s].astype(bool)
            if tube.any():
                semantic[tube] = cls
                labels.append(cls)
                masks.append(tube)
                ids.append(tr.id)
        valid = np.broadcast_to(valid_mask(params)[::s, ::s], semantic.shape)
        target = Target(
            labels=torch.tensor(labels, dtype=torch.int64),
            masks=torch.from_numpy(np.stack(masks))
            if masks
            else torch.zeros(0, len(idx), *grid, dtype=torch.bool),
            ids=torch.tensor(ids, dtype=torch.int64),
            semantic=torch.from_numpy(semantic),
            valid=torch.from_numpy(np.ascontiguousarray(valid)),
        )
        clip = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).contiguous()
        return Sample(clip, target, str(vid), idx)
