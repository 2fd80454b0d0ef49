"""Objects cut out along their masks and pasted into training frames (copy-paste).

CamVid's pedestrians are small and far away; a person walking past the camera at a few metres
is taller than any of them. Pasting whole people, cut out along their instance masks, into the
street frames at sizes up to the frame height shows the model close-up people in street
context while every other pixel keeps its CamVid label.

The source is the Penn-Fudan pedestrian data set (``PNGImages/<name>.png`` photos and
``PedMasks/<name>_mask.png`` masks, 0 = background, k > 0 = pedestrian k): 170 photos of 423
pedestrians on campus and city streets.

A pasted person covers what was under it: its pixels take the pedestrian label, and its image
pixels are blended in along a one-pixel soft edge so that no hard cut-out seam is left for the
network to key on. Pasting happens on the full frame before the clip's augmentation, so the
virtual camera moves the person with the scene.

The same code pastes CamVid's own cyclists (`BICYCLIST_PASTE`): once close-up people are
Pedestrian, a rider on a bicycle is easily taken for one, and more, larger cyclists keep the
two classes apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from ..errors import FormatError, InputError
from .vipseg import read_rgb

MIN_HEIGHT = 80  # people shorter than this (in source pixels) are too blurry when enlarged


@dataclass(frozen=True)
class Cutout:
    """One object: its bounding-box crop (h, w, 3) uint8 and its mask (h, w) bool."""

    rgb: np.ndarray
    mask: np.ndarray


@dataclass(frozen=True)
class PasteConfig:
    """How cut-outs are pasted into one frame (defaults: Penn-Fudan people).

    Args:
        prob: chance that an item gets anything pasted.
        max_count: up to this many cut-outs per item (uniform 1..max_count).
        height: range of a pasted cut-out's height as a fraction of the frame height.
        bottom: range of its bottom row as a fraction of the frame height (> 1: cut at the
            bottom edge, as a person close to the camera is).
    """

    prob: float = 0.5
    max_count: int = 2
    height: tuple[float, float] = (0.3, 1.0)
    bottom: tuple[float, float] = (0.65, 1.25)

    def __post_init__(self) -> None:
        if not 0.0 <= self.prob <= 1.0:
            raise ValueError(f"paste probability must be in [0, 1], got {self.prob}")
        if self.max_count < 1:
            raise ValueError(f"max_count must be >= 1, got {self.max_count}")
        if not 0 < self.height[0] <= self.height[1]:
            raise ValueError(f"need 0 < min height <= max height, got {self.height}")
        if not self.bottom[0] <= self.bottom[1]:
            raise ValueError(f"need min bottom <= max bottom, got {self.bottom}")


# CamVid's cyclists: 60 px or taller at 360 px, pasted at 0.15-0.6 of the frame height
BICYCLIST_MIN_HEIGHT = 60
BICYCLIST_PASTE = PasteConfig(prob=0.5, max_count=1, height=(0.15, 0.6), bottom=(0.7, 1.1))


@dataclass(frozen=True)
class PasteSource:
    """What one item may get pasted: these cut-outs, labelled `class_id`, as `cfg` says."""

    cutouts: list[Cutout]
    class_id: int
    cfg: PasteConfig


def cutouts_from(
    image: np.ndarray, instances: np.ndarray, min_height: int = MIN_HEIGHT
) -> list[Cutout]:
    """The people of one photo: every non-zero id of `instances` at least `min_height` tall,
    cropped to its bounding box (pixels of other people inside the box are not in its mask)."""
    out = []
    for k in np.unique(instances):
        if k == 0:
            continue
        mask = instances == k
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        if y1 - y0 < min_height:
            continue
        out.append(Cutout(image[y0:y1, x0:x1].copy(), mask[y0:y1, x0:x1].copy()))
    return out


def load_people(root: Path | str, min_height: int | None = None) -> list[Cutout]:
    """Every person of a Penn-Fudan folder (PNGImages/, PedMasks/) as a cut-out (people
    shorter than `min_height`, default MIN_HEIGHT, are left out)."""
    root = Path(root)
    min_height = MIN_HEIGHT if min_height is None else min_height
    images, masks = root / "PNGImages", root / "PedMasks"
    if not images.is_dir() or not masks.is_dir():
        raise InputError(
            f"--paste-people {root}: no PNGImages/ and PedMasks/ folders; pass the PennFudanPed "
            "folder of the Penn-Fudan pedestrian data set"
        )
    people: list[Cutout] = []
    for image_path in sorted(images.glob("*.png")):
        mask_path = masks / f"{image_path.stem}_mask.png"
        if not mask_path.is_file():
            raise FormatError(f"{image_path}: no mask {mask_path}")
        image = read_rgb(image_path)
        try:
            with Image.open(mask_path) as img:
                instances = np.asarray(img)
        except OSError as err:
            raise FormatError(f"{mask_path}: cannot be read as a mask PNG ({err})") from None
        if instances.ndim != 2 or instances.shape != image.shape[:2]:
            raise FormatError(
                f"{mask_path}: a one-channel mask of its photo's size {image.shape[:2]} is "
                f"expected, got {instances.shape}"
            )
        people.extend(cutouts_from(image, instances, min_height))
    if not people:
        raise InputError(f"--paste-people {root}: no person of {min_height} px or taller found")
    return people


def _resize(cutout: Cutout, height: int, flip: bool) -> tuple[np.ndarray, np.ndarray]:
    """(rgb, alpha) of `cutout` resized to `height` rows, with one pixel of margin all round
    (alpha 0 there) so that the soft edge can reach outside the cut-out's box."""
    h, w = cutout.mask.shape
    size = (max(1, round(w * height / h)), height)
    rgb = np.asarray(Image.fromarray(cutout.rgb).resize(size, Image.BILINEAR))
    soft = Image.fromarray(cutout.mask.astype(np.uint8) * 255).resize(size, Image.BILINEAR)
    alpha = np.asarray(soft).astype(np.float32) / 255.0
    if flip:
        rgb, alpha = rgb[:, ::-1], alpha[:, ::-1]
    return np.pad(rgb, ((1, 1), (1, 1), (0, 0)), mode="edge"), np.pad(alpha, 1)


def paste_cutouts(
    image: np.ndarray,
    label: np.ndarray,
    cutouts: list[Cutout],
    class_id: int,
    cfg: PasteConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Paste 1..cfg.max_count random cut-outs into `image` (H, W, 3) uint8 and set their pixels
    of `label` (H, W) to `class_id`; returns new arrays (the inputs are not changed).

    A cut-out's height is drawn from cfg.height (times H), its bottom row from cfg.bottom
    (times H), its column uniformly so that at least half of it is inside; half are mirrored.
    The label takes the pixels where the resized mask is at least one half; the image is
    blended with the mask, softened by a 3 x 3 box filter.
    """
    if not cutouts or rng.random() >= cfg.prob:
        return image, label
    H, W = label.shape
    image = image.copy()
    label = label.copy()
    for _ in range(int(rng.integers(1, cfg.max_count + 1))):
        cutout = cutouts[int(rng.integers(len(cutouts)))]
        height = max(8, round(float(rng.uniform(*cfg.height)) * H))
        rgb, alpha = _resize(cutout, height, bool(rng.random() < 0.5))
        w = alpha.shape[1] - 2  # the cut-out's width, without the margin
        bottom = round(float(rng.uniform(*cfg.bottom)) * H)
        top = bottom - height - 1  # the margin's first row (its last is row `bottom`)
        left = int(rng.integers(-(w // 2), max(W - w // 2, -(w // 2) + 1))) - 1
        y0, y1 = max(top, 0), min(bottom, H)
        x0, x1 = max(left, 0), min(left + w + 2, W)
        if y1 <= y0 or x1 <= x0:
            continue
        a = alpha[y0 - top : y1 - top, x0 - left : x1 - left]
        src = rgb[y0 - top : y1 - top, x0 - left : x1 - left].astype(np.float32)
        hard = a >= 0.5
        soft = ndimage.uniform_filter(hard.astype(np.float32), size=3, mode="nearest")[..., None]
        dst = image[y0:y1, x0:x1].astype(np.float32)
        image[y0:y1, x0:x1] = np.clip(soft * src + (1 - soft) * dst + 0.5, 0, 255).astype(np.uint8)
        label[y0:y1, x0:x1][hard] = class_id
    return image, label


__all__ = [
    "BICYCLIST_PASTE",
    "Cutout",
    "PasteConfig",
    "PasteSource",
    "cutouts_from",
    "load_people",
    "paste_cutouts",
]
