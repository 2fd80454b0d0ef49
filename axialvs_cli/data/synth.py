"""`axialvs synth`: a synthetic video segmentation data set in the real VIPSeg / YouTube-VIS formats.

It exists to train and test end to end without downloading anything. Scenes come from
`synth_scene` (textured stuff, a panning camera, moving and occluding things, illumination
changes); this module writes them as

- ``vipseg`` (the VIPSeg_720P layout, EVAL.md section 1): ``images/<video>/<frame>.jpg``,
  ``panomasks/<video>/<frame>.png`` (16-bit raw labels), ``panomasksRGB/<video>/<frame>.png``
  (RGB segment ids), ``panoptic_gt_VIPSeg_<split>.json``, ``panoVIPSeg_categories.json`` and
  ``<split>.txt``. Stuff ids are the category colour, thing ids a unique colour jittered around
  it, fixed for the whole video (so the same id in two frames is the same tube);
- ``ytvis``: ``JPEGImages/<video>/<frame>.jpg`` and ``<split>.json`` with one annotation per
  object and compressed COCO RLE masks (things only, category ids 1..4).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import InputError, OutputExistsError
from ..formats import rle
from ..formats._io import atomic_write_bytes, atomic_write_json
from ..formats.palette import rgb_to_id, write_id_png
from . import synth_scene as scene_lib

FORMATS = ("vipseg", "ytvis")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SynthConfig:
    """videos x frames of height x width, drawn from `seed`; `split` names the files."""

    videos: int = 4
    frames: int = 12
    size: tuple[int, int] = (144, 256)
    seed: int = 0
    format: str = "vipseg"
    split: str = "train"

    def check(self) -> None:
        if self.format not in FORMATS:
            raise InputError(
                f"--format {self.format!r} is not known; use one of {', '.join(FORMATS)}"
            )
        if self.videos < 1 or self.frames < 1:
            raise InputError("--videos and --frames must be at least 1")
        if min(self.size) < 32:
            raise InputError(
                f"--size {self.size[0]}x{self.size[1]} is too small; use at least 32x32"
            )
        if not self.split or not self.split.replace("_", "").replace("-", "").isalnum():
            raise InputError(f"--split {self.split!r} must be a plain name such as train or val")


@dataclass
class SynthSummary:
    root: Path
    annotation: Path  # the JSON a reader takes
    videos: int
    frames: int
    objects: int


def categories() -> list[dict[str, Any]]:
    """The VIPSeg-style category list: ids 0..7, 4 stuff then 4 thing classes."""
    return [
        {"id": i, "name": n, "isthing": int(t), "color": list(c)}
        for i, (n, t, c) in enumerate(scene_lib.CLASSES)
    ]


def generate(
    out: Path | str, cfg: SynthConfig, overwrite: bool = False, progress: Progress | None = None
) -> SynthSummary:
    """Write the data set; returns where its annotation file is. Deterministic for a config."""
    cfg.check()
    root = Path(out)
    ann = root / (
        f"panoptic_gt_VIPSeg_{cfg.split}.json" if cfg.format == "vipseg" else f"{cfg.split}.json"
    )
    if ann.exists() and not overwrite:
        raise OutputExistsError(
            f"{ann} exists; choose another --out or --split, or pass --overwrite"
        )
    writer = _VipsegWriter(root, cfg) if cfg.format == "vipseg" else _YtvisWriter(root, cfg)
    objects = 0
    split_code = zlib.crc32(cfg.split.encode())
    for v in range(cfg.videos):
        rng = np.random.default_rng([cfg.seed, split_code, v])
        h, w = cfg.size
        scene = scene_lib.make_scene(rng, cfg.frames, h, w)
        name = f"{cfg.split}_{v:04d}"
        writer.start_video(name, v, np.random.default_rng([cfg.seed, split_code, v, 1]))
        for t in range(cfg.frames):
            image, raw = scene_lib.render(scene, t, h, w, rng)
            writer.add_frame(t, image, raw)
        objects += writer.end_video()
        if progress:
            progress(v + 1, cfg.videos)
    writer.close(ann)
    return SynthSummary(root, ann, cfg.videos, cfg.videos * cfg.frames, objects)


def _write_jpeg(path: Path, image: np.ndarray) -> None:
    import io

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=92)
    atomic_write_bytes(path, buf.getvalue())


class _VipsegWriter:
    def __init__(self, root: Path, cfg: SynthConfig) -> None:
        self.root, self.cfg = root, cfg
        self.cats = categories()
        self.stuff_ids = {
            c["id"] + 1: int(rgb_to_id(np.array([[c["color"]]], np.uint8))[0, 0]) for c in self.cats
        }
        self.videos: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []

    def start_video(self, name: str, index: int, rng: np.random.Generator) -> None:
        self.name, self.rng = name, rng
        self.ids: dict[int, int] = {}  # raw label -> RGB segment id, fixed for the video
        self.images: list[dict[str, Any]] = []
        self.frames: list[dict[str, Any]] = []

    def _segment_id(self, raw: int) -> int:
        if raw not in self.ids:
            if raw < 125:
                self.ids[raw] = self.stuff_ids[raw]
            else:  # thing: a unique colour near its category's colour
                base = np.array(self.cats[raw // 100 - 1]["color"])
                used = set(self.ids.values()) | set(self.stuff_ids.values()) | {0}
                while True:
                    rgb = np.clip(base + self.rng.integers(-40, 41, 3), 0, 255).astype(np.uint8)
                    sid = int(rgb_to_id(rgb[None, None])[0, 0])
                    if sid not in used:
                        break
                self.ids[raw] = sid
        return self.ids[raw]

    def add_frame(self, t: int, image: np.ndarray, raw: np.ndarray) -> None:
        stem = f"{t:08d}"
        _write_jpeg(self.root / "images" / self.name / f"{stem}.jpg", image)
        buf = _png16(raw)
        atomic_write_bytes(self.root / "panomasks" / self.name / f"{stem}.png", buf)
        values, inverse, counts = np.unique(raw, return_inverse=True, return_counts=True)
        lut = np.array([0 if v == 0 else self._segment_id(int(v)) for v in values], np.uint32)
        write_id_png(
            self.root / "panomasksRGB" / self.name / f"{stem}.png", lut[inverse].reshape(raw.shape)
        )
        segments = [  # increasing raw value: stuff first, as VIPSeg's converter orders them
            {"id": int(lut[i]), "category_id": int(v) - 1 if v < 125 else int(v) // 100 - 1, "iscrowd": 0, "area": int(counts[i])}
            for i, v in enumerate(values.tolist()) if v != 0
        ]  # fmt: skip
        h, w = raw.shape
        self.images.append({"id": stem, "width": w, "height": h, "file_name": f"{stem}.png"})
        self.frames.append(
            {"image_id": stem, "file_name": f"{stem}.png", "segments_info": segments}
        )

    def end_video(self) -> int:
        self.videos.append({"video_id": self.name, "images": self.images})
        self.annotations.append({"video_id": self.name, "annotations": self.frames})
        return sum(1 for raw in self.ids if raw >= 125)

    def close(self, ann: Path) -> None:
        atomic_write_json(
            ann, {"videos": self.videos, "annotations": self.annotations, "categories": self.cats}
        )
        atomic_write_json(self.root / "panoVIPSeg_categories.json", self.cats)
        names = "".join(v["video_id"] + "\n" for v in self.videos)
        atomic_write_bytes(self.root / f"{self.cfg.split}.txt", names.encode())


def _png16(raw: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(raw.astype(np.uint16)).save(buf, format="PNG")
    return buf.getvalue()


class _YtvisWriter:
    def __init__(self, root: Path, cfg: SynthConfig) -> None:
        self.root, self.cfg = root, cfg
        things = [c for c in categories() if c["isthing"]]
        self.cat_of = {c["id"]: k + 1 for k, c in enumerate(things)}  # VIPSeg-style id -> 1..4
        self.cats = [
            {"id": k + 1, "name": c["name"], "supercategory": "object"}
            for k, c in enumerate(things)
        ]
        self.videos: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []

    def start_video(self, name: str, index: int, rng: np.random.Generator) -> None:
        self.name, self.vid = name, index + 1
        self.files: list[str] = []
        self.tracks: dict[int, dict[str, list]] = {}

    def add_frame(self, t: int, image: np.ndarray, raw: np.ndarray) -> None:
        name = f"{self.name}/{5 * t:05d}.jpg"
        _write_jpeg(self.root / "JPEGImages" / name, image)
        for tr in self.tracks.values():  # pad every known object with "absent"
            for key in ("segmentations", "areas", "bboxes"):
                tr[key].append(None)
        for v in np.unique(raw).tolist():
            if v < 125:
                continue
            mask = raw == v
            tr = self.tracks.setdefault(
                v, {k: [None] * (len(self.files) + 1) for k in ("segmentations", "areas", "bboxes")}
            )
            ys, xs = np.nonzero(mask)
            tr["segmentations"][-1] = rle.encode(mask)
            tr["areas"][-1] = int(mask.sum())
            tr["bboxes"][-1] = [
                int(xs.min()),
                int(ys.min()),
                int(xs.max() - xs.min() + 1),
                int(ys.max() - ys.min() + 1),
            ]
        self.files.append(name)
        self.size = raw.shape

    def end_video(self) -> int:
        h, w = self.size
        self.videos.append(
            {
                "id": self.vid,
                "width": w,
                "height": h,
                "length": len(self.files),
                "file_names": self.files,
            }
        )
        for raw in sorted(self.tracks):
            tr = self.tracks[raw]
            self.annotations.append({
                "id": len(self.annotations) + 1, "video_id": self.vid, "category_id": self.cat_of[raw // 100 - 1],
                "iscrowd": 0, "height": h, "width": w, "length": 1, **tr,
            })  # fmt: skip
        return len(self.tracks)

    def close(self, ann: Path) -> None:
        info = {"description": "axialvs synthetic data", "version": "1.0"}
        atomic_write_json(
            ann,
            {
                "info": info,
                "licenses": [],
                "videos": self.videos,
                "categories": self.cats,
                "annotations": self.annotations,
            },
        )
