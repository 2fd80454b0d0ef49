"""COCO run-length encoding (RLE) of binary masks, in numpy.

A mask of shape [H, W] is flattened in column-major order (down the first column, then the
next). Its RLE is the list of run lengths, alternating 0-runs and 1-runs and always starting
with a 0-run (of length 0 when the first pixel is set). Two spellings exist:

- uncompressed: ``{"size": [h, w], "counts": [int, ...]}``;
- compressed: ``{"size": [h, w], "counts": str}``. Each run length from the third on is
  stored as the difference to the run two places earlier; every number is then written as
  little-endian groups of 5 bits, one character per group (``chr(48 + bits)``), with bit
  0x20 meaning "more groups follow" and bit 0x10 of the last group carrying the sign.

Every reader here accepts both spellings (and ``bytes`` counts); writers produce the
compressed one, byte-for-byte what the COCO API writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import FormatError

Rle = dict[str, Any]

_MAX_GROUPS = 13  # 13 groups of 5 bits hold any int64 difference


MAX_PIXELS = 2**28  # 16K x 16K: larger "masks" are damaged files, refused before allocating


class RleError(FormatError):
    """An RLE that does not follow the COCO format."""


def encode(mask: np.ndarray) -> Rle:
    """Compressed RLE of a binary mask.

    Args:
        mask: [H, W] array; non-zero means set.

    Returns:
        ``{"size": [H, W], "counts": str}``.
    """
    if mask.ndim != 2:
        raise ValueError(f"encode expects a [H, W] mask, got shape {mask.shape}")
    h, w = mask.shape
    return {"size": [int(h), int(w)], "counts": string_from_counts(counts_from_mask(mask))}


def decode(rle: Rle) -> np.ndarray:
    """Binary mask of an RLE (compressed or not).

    Returns:
        [H, W] bool array.
    """
    h, w = size(rle)
    return mask_from_counts(counts(rle), h, w)


def size(rle: Rle) -> tuple[int, int]:
    """The (h, w) of an RLE, checked."""
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise RleError("an RLE must be an object with 'size' and 'counts'")
    sz = rle["size"]
    if (
        not isinstance(sz, (list, tuple))
        or len(sz) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in sz)
    ):
        raise RleError(f"RLE 'size' must be [height, width] of non-negative ints, got {sz!r}")
    h, w = int(sz[0]), int(sz[1])
    if h * w > MAX_PIXELS:
        raise RleError(
            f"RLE 'size' {h}x{w} claims {h * w} pixels, more than any video frame "
            f"(limit {MAX_PIXELS}); the file is damaged or not a segmentation"
        )
    return h, w


def counts(rle: Rle) -> np.ndarray:
    """Run lengths of an RLE (compressed or not), checked to cover exactly h*w pixels.

    Returns:
        [m] int64 array, 0-run first.
    """
    h, w = size(rle)
    raw = rle["counts"]
    if isinstance(raw, (str, bytes)):
        cnts = counts_from_string(raw)
    elif isinstance(raw, (list, tuple)):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in raw):
            raise RleError("uncompressed RLE 'counts' must be a list of ints")
        cnts = np.asarray(raw, dtype=np.int64).reshape(-1)
    else:
        raise RleError(f"RLE 'counts' must be a string or a list, got {type(raw).__name__}")
    _check_counts(cnts, h * w)
    return cnts


def counts_many(rles: Sequence[Rle]) -> list[np.ndarray]:
    """Run lengths of many RLEs at once (one vectorised pass over all compressed strings).

    Returns:
        One [m_i] int64 array per RLE, as `counts` would give.
    """
    out: list[np.ndarray | None] = [None] * len(rles)
    strings: list[bytes] = []
    where: list[int] = []
    for i, rle in enumerate(rles):
        size(rle)
        raw = rle["counts"]
        if isinstance(raw, (str, bytes)) and len(raw) > 0:
            strings.append(_ascii(raw))
            where.append(i)
        else:
            out[i] = counts(rle)
    if strings:
        lengths = np.fromiter((len(s) for s in strings), dtype=np.int64, count=len(strings))
        values, per_string = _decode_strings(np.frombuffer(b"".join(strings), np.uint8), lengths)
        for i, part in zip(where, np.split(values, np.cumsum(per_string)[:-1]), strict=True):
            h, w = size(rles[i])
            _check_counts(part, h * w)
            out[i] = part
    return out  # type: ignore[return-value]


def area(rle: Rle) -> int:
    """Number of set pixels."""
    return int(counts(rle)[1::2].sum())


def compress(rle: Rle) -> Rle:
    """The same RLE with string counts (as the COCO API's ``frPyObjects`` gives)."""
    h, w = size(rle)
    if isinstance(rle["counts"], str):
        counts(rle)
        return {"size": [h, w], "counts": rle["counts"]}
    return {"size": [h, w], "counts": string_from_counts(counts(rle))}


def intersection_area(a: Rle, b: Rle) -> int:
    """Pixels set in both masks; 0 when their sizes differ (as the COCO API's merge gives)."""
    if size(a) != size(b):
        return 0
    return interval_overlap(*ones_intervals(counts(a)), *ones_intervals(counts(b)))


def iou(a: Rle, b: Rle) -> float:
    """Intersection over union of two masks; 0.0 when the union is empty or sizes differ."""
    if size(a) != size(b):
        return 0.0
    inter = intersection_area(a, b)
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


# -- run-length arithmetic -------------------------------------------------------------------


def counts_from_mask(mask: np.ndarray) -> np.ndarray:
    """Run lengths of a [H, W] mask in column-major order, 0-run first. Returns [m] int64."""
    flat = np.asarray(mask).astype(bool, copy=False).ravel(order="F")
    if flat.size == 0:
        return np.zeros(1, dtype=np.int64)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    runs = np.diff(bounds).astype(np.int64)
    return np.concatenate(([0], runs)) if flat[0] else runs


def mask_from_counts(cnts: np.ndarray, h: int, w: int) -> np.ndarray:
    """[H, W] bool mask of run lengths that sum to h*w."""
    values = (np.arange(cnts.size) % 2).astype(bool)
    return np.repeat(values, cnts).reshape(w, h).T


def ones_intervals(cnts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Half-open [start, end) flat positions of the 1-runs. Returns two [k] int64 arrays."""
    ends = np.cumsum(cnts)[1::2]
    starts = ends - cnts[1::2]
    keep = ends > starts
    return starts[keep], ends[keep]


def interval_overlap(sa: np.ndarray, ea: np.ndarray, sb: np.ndarray, eb: np.ndarray) -> int:
    """Total overlap of two sorted lists of disjoint half-open intervals (vectorised)."""
    if sa.size == 0 or sb.size == 0:
        return 0
    covered = np.concatenate(([0], np.cumsum(ea - sa)))

    def ones_before(points: np.ndarray) -> np.ndarray:
        # number of positions of A below each point: whole intervals before it plus a part
        k = np.searchsorted(sa, points, side="right")
        j = np.maximum(k - 1, 0)
        part = np.minimum(points, ea[j]) - sa[j]
        return np.where(k > 0, covered[j] + part, 0)

    return int((ones_before(eb) - ones_before(sb)).sum())


# -- the compressed string ---------------------------------------------------------------------


def string_from_counts(cnts: np.ndarray) -> str:
    """Compressed COCO string of run lengths [m] (the inverse of `counts_from_string`)."""
    cnts = np.asarray(cnts, dtype=np.int64).reshape(-1)
    x = cnts.copy()
    x[3:] -= cnts[1:-2]  # from the 4th number on, store the difference to two places back
    chars = np.zeros((x.size, _MAX_GROUPS), dtype=np.uint8)
    emitted = np.zeros((x.size, _MAX_GROUPS), dtype=bool)
    active = np.ones(x.size, dtype=bool)
    for j in range(_MAX_GROUPS):
        if not active.any():
            break
        group = x & 0x1F
        x = x >> 5  # arithmetic shift: negative numbers end at -1
        more = np.where(group & 0x10, x != -1, x != 0)
        chars[:, j] = (group | np.where(more, 0x20, 0)) + 48
        emitted[:, j] = active
        active &= more
    return chars[emitted].tobytes().decode("ascii")


def counts_from_string(s: str | bytes) -> np.ndarray:
    """Run lengths [m] int64 of a compressed COCO string (not yet checked against a size)."""
    raw = _ascii(s)
    if len(raw) == 0:
        return np.zeros(0, dtype=np.int64)
    values, _ = _decode_strings(np.frombuffer(raw, np.uint8), np.array([len(raw)]))
    return values


def _decode_strings(chars: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decode concatenated compressed strings.

    Args:
        chars: [n] uint8, the strings one after another.
        lengths: [s] characters per string.

    Returns:
        ([m] int64 run lengths of all strings, [s] number of runs per string).
    """
    c = chars.astype(np.int64) - 48
    if c.min() < 0 or c.max() > 63:
        raise RleError("RLE 'counts' string has characters outside '0'..'o'")
    more = (c & 0x20) != 0
    string_end = np.cumsum(lengths) - 1
    if more[string_end].any():
        raise RleError("RLE 'counts' string ends in the middle of a number")
    last = np.flatnonzero(~more)  # last character of every number
    first = np.concatenate(([0], last[:-1] + 1))
    ngroups = last - first + 1
    if ngroups.max() > _MAX_GROUPS:
        raise RleError("RLE 'counts' string holds a number too large for a run length")
    shift = 5 * (np.arange(c.size) - np.repeat(first, ngroups))
    x = np.add.reduceat((c & 0x1F) << shift, first)
    negative = (c[last] & 0x10) != 0
    x[negative] -= np.left_shift(1, 5 * ngroups[negative])
    # undo the differences, string by string
    per_string = np.diff(np.searchsorted(last, np.concatenate(([-1], string_end)), side="right"))
    start = np.repeat(np.cumsum(per_string) - per_string, per_string)
    local = np.arange(x.size) - start
    odd = np.where(local % 2 == 1, x, 0)
    even = np.where((local % 2 == 0) & (local >= 2), x, 0)
    run_odd = np.cumsum(odd)
    run_even = np.cumsum(even)
    before = start - 1
    base_odd = np.where(before >= 0, run_odd[np.maximum(before, 0)], 0)
    base_even = np.where(before >= 0, run_even[np.maximum(before, 0)], 0)
    values = np.where(local % 2 == 1, run_odd - base_odd, x)
    values = np.where((local % 2 == 0) & (local >= 2), run_even - base_even, values)
    return values, per_string


def _ascii(s: str | bytes) -> bytes:
    if isinstance(s, bytes):
        return s
    try:
        return s.encode("ascii")
    except UnicodeEncodeError:
        raise RleError("RLE 'counts' string has non-ASCII characters") from None


def _check_counts(cnts: np.ndarray, pixels: int) -> None:
    if cnts.size and cnts.min() < 0:
        raise RleError("RLE has a negative run length")
    total = int(cnts.sum())
    if total != pixels and not (pixels == 0 and cnts.size == 0):
        raise RleError(f"RLE runs cover {total} pixels but its size holds {pixels}")
