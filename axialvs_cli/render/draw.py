"""Drawing segment id maps over video frames: colours, blending, contours and labels.

Pure numpy / PIL. A frame's segmentation is an (H, W) integer id map (0 = void, not drawn) plus,
where known, the category of every id. Colours:

* **stuff**: the class colour itself, so a stuff class looks the same in every video;
* **things**: the class colour with a deterministic per-id change of lightness (and a small
  change of hue): id k moves the lightness to ``0.28 + 0.44 * frac(k * 0.618...)`` (the golden
  ratio sequence, so ids k and k + 1 always differ by at least 0.17 in lightness);
* **ids of unknown category**: a hue from the same sequence, ``frac(k * 0.618...)``;
* **classes without a colour** (YouTube-VIS / OVIS tables): a hue from their category id.

A colour is a function of (id, category) only: it never changes over a video, and two runs give
the same picture.
"""

from __future__ import annotations

import colorsys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "ClassInfo",
    "Styler",
    "blend",
    "boundaries",
    "class_colour",
    "draw_labels",
    "factorize",
    "label_points",
    "overlay",
    "side_by_side",
    "thing_colour",
    "unknown_colour",
]

RGB = tuple[int, int, int]
GOLDEN = 0.6180339887498949  # frac(k * GOLDEN): neighbouring k land far apart
PLASTIC = 0.7548776662466927  # second axis of the R2 low-discrepancy sequence
GAP = 4  # pixels between the panels of a side-by-side frame
MIN_LABEL_FRACTION = 0.001  # segments smaller than this fraction of the frame get no label


@dataclass(frozen=True)
class ClassInfo:
    """One category: its name, whether it is a thing class, and its colour (None: derived)."""

    name: str
    isthing: bool
    colour: RGB | None = None


def _hls_to_rgb(hue: float, light: float, sat: float) -> RGB:
    r, g, b = colorsys.hls_to_rgb(hue % 1.0, light, sat)
    return round(r * 255), round(g * 255), round(b * 255)


def class_colour(category_id: int) -> RGB:
    """The colour of a class that has none in its table: a hue from its category id."""
    return _hls_to_rgb(0.08 + category_id * GOLDEN, 0.5, 0.65)


def unknown_colour(seg_id: int) -> RGB:
    """The colour of an id whose category is unknown (a bare id map): a hue from the id."""
    return _hls_to_rgb(seg_id * GOLDEN, 0.5, 0.8)


def thing_colour(base: RGB, seg_id: int) -> RGB:
    """Thing id `seg_id` of a class coloured `base`: base hue (+-18 degrees) and saturation,
    lightness from the golden-ratio sequence of the id (distinct for neighbouring ids)."""
    hue, _, sat = colorsys.rgb_to_hls(*(c / 255 for c in base))
    u = (seg_id * GOLDEN) % 1.0
    v = (seg_id * PLASTIC) % 1.0
    return _hls_to_rgb(hue + (v - 0.5) * 0.1, 0.28 + 0.44 * u, sat)


class Styler:
    """Colours and label texts of the ids of one video.

    Args:
        classes: category id -> `ClassInfo` (the categories a prediction uses; ids of other
            categories get a derived colour and the name ``class <id>``).

    Label texts are ``<class> #<n>`` for things, ``<class>`` for stuff and ``#<n>`` for ids of
    unknown category, where n numbers the video's tracks in the order they first appear.
    """

    def __init__(self, classes: Mapping[int, ClassInfo]) -> None:
        self.classes = dict(classes)
        self._colours: dict[tuple[int, int | None], RGB] = {}
        self._numbers: dict[int, int] = {}

    def info(self, category_id: int) -> ClassInfo:
        known = self.classes.get(category_id)
        return known if known is not None else ClassInfo(f"class {category_id}", True)

    def colour(self, seg_id: int, category_id: int | None) -> RGB:
        """The colour of `seg_id` (of category `category_id`, None: unknown)."""
        key = (seg_id, category_id)
        if key not in self._colours:
            if category_id is None:
                colour = unknown_colour(seg_id)
            else:
                info = self.info(category_id)
                base = info.colour or class_colour(category_id)
                colour = thing_colour(base, seg_id) if info.isthing else base
            self._colours[key] = colour
        return self._colours[key]

    def label(self, seg_id: int, category_id: int | None) -> str:
        """The label of `seg_id`; numbers the id on its first call."""
        if category_id is not None and not self.info(category_id).isthing:
            return self.info(category_id).name
        number = self._numbers.setdefault(seg_id, len(self._numbers) + 1)
        name = "" if category_id is None else f"{self.info(category_id).name} "
        return f"{name}#{number}"


def factorize(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct ids of an (H, W) map and each pixel's index among them.

    Same result as ``np.unique(ids, return_inverse=True)``, much faster on label maps: only the
    first pixel of every run of equal ids is sorted.

    Returns:
        (K,) distinct ids, (H, W) int64 indices into them.
    """
    flat = ids.ravel()
    starts = np.empty(flat.shape, dtype=bool)
    starts[:1] = True
    np.not_equal(flat[1:], flat[:-1], out=starts[1:])
    uniq = np.unique(flat[starts])
    return uniq, np.searchsorted(uniq, ids)


def blend(frame: np.ndarray, ids: np.ndarray, colours: np.ndarray, alpha: float) -> np.ndarray:
    """Mix `colours` over the labelled pixels of `frame`.

    Args:
        frame: (H, W, 3) uint8.
        ids: (H, W) ids; 0 (void) pixels keep the frame.
        colours: (H, W, 3) uint8 colour of every pixel.
        alpha: weight of the colour, 0..1 (1: the colour alone).

    Returns:
        (H, W, 3) uint8.
    """
    out = frame.copy()
    mask = ids != 0
    mixed = frame[mask].astype(np.float32) * (1.0 - alpha) + colours[mask] * np.float32(alpha)
    out[mask] = np.floor(mixed + 0.5).clip(0, 255).astype(np.uint8)
    return out


def boundaries(ids: np.ndarray) -> np.ndarray:
    """(H, W) bool: labelled pixels with a 4-neighbour of another id (the frame edge is not
    a boundary). Two touching segments each get their own one-pixel line."""
    edge = np.zeros(ids.shape, dtype=bool)
    rows = ids[1:, :] != ids[:-1, :]
    edge[1:, :] |= rows
    edge[:-1, :] |= rows
    cols = ids[:, 1:] != ids[:, :-1]
    edge[:, 1:] |= cols
    edge[:, :-1] |= cols
    return edge & (ids != 0)


def label_points(
    ids: np.ndarray, min_area: int = 1, factors: tuple[np.ndarray, np.ndarray] | None = None
) -> dict[int, tuple[int, int]]:
    """Where to write each segment's label: its centroid, or the segment's pixel nearest to
    the centroid when the centroid lies outside it (a ring, a C shape).

    Args:
        ids: (H, W) ids.
        min_area: smaller segments get no point.
        factors: ``factorize(ids)`` if already computed.

    Returns:
        id -> (x, y) for every non-zero id of at least `min_area` pixels.
    """
    uniq, inverse = factors if factors is not None else factorize(ids)
    ys, xs = np.indices(ids.shape)
    area = np.bincount(inverse.ravel(), minlength=len(uniq))
    cx = np.bincount(inverse.ravel(), xs.ravel(), len(uniq)) / np.maximum(area, 1)
    cy = np.bincount(inverse.ravel(), ys.ravel(), len(uniq)) / np.maximum(area, 1)
    points = {}
    for k, seg_id in enumerate(uniq.tolist()):
        if seg_id == 0 or area[k] < min_area:
            continue
        x, y = int(round(cx[k])), int(round(cy[k]))
        if inverse[y, x] != k:
            py, px = np.nonzero(inverse == k)
            nearest = int(np.argmin((px - cx[k]) ** 2 + (py - cy[k]) ** 2))
            x, y = int(px[nearest]), int(py[nearest])
        points[seg_id] = (x, y)
    return points


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def draw_labels(image: np.ndarray, labels: list[tuple[int, int, str]]) -> np.ndarray:
    """Write texts centred at (x, y), white with a black outline, PIL's default font sized to
    the frame (kept inside the frame). Returns a new (H, W, 3) uint8 image."""
    h, w = image.shape[:2]
    font = _font(max(9, min(h, w) // 28))
    img = Image.fromarray(image)
    draw = ImageDraw.Draw(img)
    for x, y, text in labels:
        left, top, right, bottom = draw.textbbox((x, y), text, font=font, anchor="mm")
        dx = max(0, 1 - left) - max(0, right - (w - 1))
        dy = max(0, 1 - top) - max(0, bottom - (h - 1))
        draw.text((x + dx, y + dy), text, font=font, anchor="mm", fill=(255, 255, 255),
                  stroke_width=2, stroke_fill=(0, 0, 0))  # fmt: skip
    return np.asarray(img)


def overlay(
    frame: np.ndarray,
    ids: np.ndarray,
    categories: Mapping[int, int] | None,
    styler: Styler,
    alpha: float = 0.5,
    contours: bool = True,
    labels: bool = True,
) -> np.ndarray:
    """One frame with its segments drawn over it.

    Args:
        frame: (H, W, 3) uint8.
        ids: (H, W) segment ids, 0 = void.
        categories: id -> category id (ids missing here, or all ids when None, are of
            unknown category).
        styler: the video's colours and labels.
        alpha: weight of the segment colours (1: opaque).
        contours: draw each segment's boundary pixels in its colour, opaque.
        labels: write ``class #n`` at each segment.

    Returns:
        (H, W, 3) uint8.
    """
    if ids.shape != frame.shape[:2]:
        raise ValueError(f"id map {ids.shape} does not match the frame {frame.shape[:2]}")
    categories = categories or {}
    uniq, inverse = factorize(ids)
    table = np.zeros((len(uniq), 3), dtype=np.uint8)
    for k, seg_id in enumerate(uniq.tolist()):
        if seg_id:
            table[k] = styler.colour(seg_id, categories.get(seg_id))
    colours = table[inverse]  # (H, W, 3)
    out = blend(frame, ids, colours, alpha)
    if contours:
        edge = boundaries(ids)
        out[edge] = colours[edge]
    if labels:
        min_area = max(1, round(MIN_LABEL_FRACTION * ids.size))
        points = label_points(ids, min_area, (uniq, inverse))
        texts = [(x, y, styler.label(i, categories.get(i))) for i, (x, y) in points.items()]
        out = draw_labels(out, texts)
    return out


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = GAP) -> np.ndarray:
    """(H, W, 3) | (H, W, 3) -> (H, 2 W + gap, 3), white between the panels."""
    h, w = left.shape[:2]
    canvas = np.full((h, 2 * w + gap, 3), 255, dtype=np.uint8)
    canvas[:, :w] = left
    canvas[:, w + gap :] = right
    return canvas
