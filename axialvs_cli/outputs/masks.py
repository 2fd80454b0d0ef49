"""Binary masks of a clip at the displayed size, as sparse (query, pixel) pairs.

The official rule (`postprocess`): the stride-4 mask logits are resized bilinearly to the
padded model input, cropped to the scaled frame, resized bilinearly to the displayed frame, and
normalised over the queries (softmax, Video-kMaX) or per query (sigmoid, Tube-Link); a query's
binary mask is where its probability exceeds the pixel threshold. Written literally, that holds
N x T x H x W probabilities (530 MB for a 2-frame 1080p clip of 32 queries) and makes every
later step a pass over all queries and pixels. Here:

1. Both resizes are one separable linear map per axis (`Resampler`): the weights of the two
   bilinear resizes applied to unit impulses, in float64. A frame's logits at the displayed
   size are two matrix products: rows at the model's size, then the columns of one band of
   the frame at a time, so only a band of N x H x B values exists at once.
2. The probabilities are evaluated in float32 (logits shifted by their per-cell maximum, which
   interpolates to an upper bound of the pixel's maximum, so exp never overflows), and only the
   (query, pixel) pairs above threshold - margin are kept. Pairs within the margin of the
   threshold, and pixels whose float32 sum underflows, are evaluated again in float64 from the
   logits; the margin exceeds the float32 error, so the binary masks are those of the rule
   evaluated in float64.
3. Everything after that (mask statistics, painting, RLE, cover sets) works on the pairs, at a
   cost that grows with the masks' area, not with queries x pixels.

Pixels are indexed column-major (``x * H + y``), the order of COCO RLE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..formats.rle import string_from_counts
from ..inference.preprocess import FrameGeometry

__all__ = [
    "ClipMasks",
    "FrameMasks",
    "Resampler",
    "clip_masks",
    "cover_pieces",
    "exact_probabilities",
    "resampler",
    "rle_strings",
]

BAND_VALUES = 1 << 21  # values of one band (N x H x B) of the dense evaluation: ~8 MB
MARGIN = 1e-4  # probabilities this close to the threshold are evaluated again in float64
SERIES_TERMS = 16  # Taylor terms of exp(d (a - centre)) per row segment
SERIES_BLOCK_VALUES = 1 << 18  # (query, segment, column) terms of one column block: ~1 MB
SERIES_REACH = 2.0  # |d| x half-height of a segment up to which the series is used
NEGLIGIBLE = 30.0  # a term below e^-30 (1e-13) of a denominator's lower bound is left out


@dataclass(frozen=True)
class _Segments:
    """Display rows grouped by the pair of stride-4 rows (i, i + 1) they interpolate."""

    pair: Tensor  # (S,) int64 stride-4 row i of each segment
    y: Tensor  # (S, C) int64 display row of each place, padding 0
    valid: Tensor  # (S, C) bool
    offset: Tensor  # (S, C) float32 a - centre (padding 0)
    centre: Tensor  # (S,) float32
    reach: Tensor  # (S,) float32 half-height of the a range
    powers: Tensor  # (S, M + 1, C) float32 (a - centre)^n / n!, padding 0
    padding: Tensor  # (S, C) float32: 0 at a segment's rows, +inf beyond
    first: int | None = None  # pair == first, first + 1, ...: the rows are a slice, not a gather


def _segments(rows: Tensor, device: torch.device) -> _Segments | None:
    """The row segments of (H, h) float64 weights; None unless every display row interpolates
    (at most) two neighbouring stride-4 rows (the Video-kMaX geometry: corners aligned, 4x)."""
    height, h = rows.shape
    if h < 2:
        return None
    nonzero = rows != 0
    count = nonzero.sum(dim=1)
    first = nonzero.to(torch.int8).argmax(dim=1)
    if bool((count == 0).any()) or bool((count > 2).any()):
        return None
    second = torch.where(count == 2, first + 1, first)
    if not bool(nonzero[torch.arange(height), second].all()):
        return None  # two taps that are not neighbours
    at_end = first == h - 1
    left = torch.where(at_end, h - 2, first)
    a = torch.where(at_end, 1.0, rows[torch.arange(height), (left + 1).clamp(max=h - 1)])
    a = torch.where((count == 1) & ~at_end, 0.0, a)
    if bool((torch.diff(left) < 0).any()):
        return None
    # segments: runs of display rows with the same pair (pairs without rows have none)
    seg_of = torch.cumsum(
        torch.cat((torch.zeros(1, dtype=torch.int64), (torch.diff(left) != 0).long())), 0
    )
    s = int(seg_of[-1]) + 1
    counts = torch.bincount(seg_of, minlength=s)
    pair = torch.zeros(s, dtype=torch.int64)
    pair[seg_of] = left
    c = max(1, int(counts.max()))
    place = torch.arange(height) - (torch.cumsum(counts, 0) - counts)[seg_of]
    ys = torch.zeros(s, c, dtype=torch.int64)
    valid = torch.zeros(s, c, dtype=torch.bool)
    av = torch.zeros(s, c, dtype=torch.float64)
    ys[seg_of, place] = torch.arange(height)
    valid[seg_of, place] = True
    av[seg_of, place] = a
    lo = torch.where(valid, av, torch.inf).amin(1)
    hi = torch.where(valid, av, -torch.inf).amax(1)
    lo, hi = torch.where(counts > 0, lo, 0.0), torch.where(counts > 0, hi, 0.0)
    centre, reach = (lo + hi) / 2, (hi - lo) / 2
    offset = torch.where(valid, av - centre[:, None], 0.0)
    n = torch.arange(SERIES_TERMS + 1, dtype=torch.float64)
    powers = offset[:, None, :] ** n[None, :, None] / torch.exp(torch.lgamma(n + 1))[None, :, None]
    powers = torch.where(valid[:, None, :], powers, 0.0)
    return _Segments(
        pair.to(device),
        ys.to(device),
        valid.to(device),
        offset.float().to(device),
        centre.float().to(device),
        reach.float().to(device),
        powers.float().to(device),
        torch.where(valid, 0.0, torch.inf).float().to(device),
        int(pair[0]) if bool((pair == pair[0] + torch.arange(s)).all()) else None,
    )


@dataclass(frozen=True)
class Resampler:
    """The composite bilinear resize of one geometry, per axis.

    Attributes:
        rows: (H, h) float32 weights (display row <- stride-4 row).
        cols: (W, w) float32 weights.
        row_taps, col_taps: (H, K) / (W, K) int64 source indices of the non-zero weights.
        row_weights, col_weights: (H, K) / (W, K) float64 weights of those taps (0 = unused).
        series: the row segments of the series evaluation, or None (dense evaluation).
    """

    rows: Tensor
    cols: Tensor
    row_taps: Tensor
    row_weights: Tensor
    col_taps: Tensor
    col_weights: Tensor
    series: _Segments | None

    @property
    def height(self) -> int:
        return self.rows.shape[0]

    @property
    def width(self) -> int:
        return self.cols.shape[0]


def _axis(n: int, padded: int, scaled: int, out: int, corners: bool, resize: bool) -> Tensor:
    """(out, n) float64: the two resizes of `postprocess`'s rule applied to unit impulses."""
    x = torch.eye(n, dtype=torch.float64).reshape(1, n, n, 1)  # impulses as channels
    if n != padded:
        x = F.interpolate(x, size=(padded, 1), mode="bilinear", align_corners=corners)
    x = x[:, :, :scaled]
    if resize and scaled != out:
        x = F.interpolate(x, size=(out, 1), mode="bilinear", align_corners=corners)
    return x[0, :, :, 0].t().contiguous()


def _taps(weights: Tensor) -> tuple[Tensor, Tensor]:
    nonzero = weights != 0
    k = max(1, int(nonzero.sum(dim=1).max()))
    order = torch.argsort(nonzero.to(torch.int8), dim=1, descending=True, stable=True)[:, :k]
    return order, torch.gather(weights, 1, order)


@lru_cache(maxsize=8)
def _resampler(key: tuple[int, ...], h: int, w: int, device: str) -> Resampler:
    height, width, sh, sw, ph, pw = key
    corners = pw % 2 == 1
    resize = (sh, sw) != (height, width)
    stage1 = (h, w) != (ph, pw)
    rows = _axis(h, ph if stage1 else h, sh, height, corners, resize)
    cols = _axis(w, pw if stage1 else w, sw, width, corners, resize)
    rt, rw = _taps(rows)
    ct, cw = _taps(cols)
    dev = torch.device(device)
    return Resampler(
        rows.float().to(dev),
        cols.float().to(dev),
        rt.to(dev),
        rw.to(dev),
        ct.to(dev),
        cw.to(dev),
        _segments(rows, dev),
    )


def resampler(geometry: FrameGeometry, h: int, w: int, device: torch.device) -> Resampler:
    """The composite resize from (h, w) stride-4 logits to `geometry`'s displayed frame."""
    g = geometry
    key = (g.height, g.width, g.scaled_height, g.scaled_width, g.padded_height, g.padded_width)
    return _resampler(key, h, w, str(device))


def exact_logits(logits: Tensor, res: Resampler, xs: Tensor, ys: Tensor) -> Tensor:
    """(N, P) float64 logits of (N, h, w) `logits` at displayed pixels (xs, ys)."""
    src = logits.double()
    rt, rw = res.row_taps[ys], res.row_weights[ys]  # (P, K)
    ct, cw = res.col_taps[xs], res.col_weights[xs]
    out = torch.zeros(src.shape[0], xs.shape[0], dtype=torch.float64, device=src.device)
    for a in range(rt.shape[1]):
        for b in range(ct.shape[1]):
            out += (rw[:, a] * cw[:, b]) * src[:, rt[:, a], ct[:, b]]
    return out


def exact_probabilities(
    logits: Tensor, res: Resampler, xs: Tensor, ys: Tensor, normalise: str
) -> Tensor:
    """(N, P) float64 probabilities of the rule at displayed pixels (xs, ys)."""
    values = exact_logits(logits, res, xs, ys)
    return values.softmax(dim=0) if normalise == "softmax" else values.sigmoid()


def _exact_pairs(
    logits: Tensor, res: Resampler, normalise: str, slots: np.ndarray, pixels: np.ndarray
) -> np.ndarray:
    """float64 probabilities of (slot, column-major pixel) pairs."""
    if slots.size == 0:
        return np.zeros(0)
    dev = logits.device
    height = res.height
    if normalise == "softmax":
        unique, where = np.unique(pixels, return_inverse=True)
        u = torch.from_numpy(unique).to(dev)
        probs = exact_probabilities(logits, res, u // height, u % height, normalise)
        return _numpy(probs)[slots, where.reshape(-1)]
    px = torch.from_numpy(pixels).to(dev)
    values = exact_logits(logits, res, px // height, px % height)
    picked = values[torch.from_numpy(slots).to(dev), torch.arange(px.shape[0], device=dev)]
    return _numpy(picked.sigmoid())


def _numpy(x: Tensor) -> np.ndarray:
    return x.detach().cpu().numpy()


@dataclass
class FrameMasks:
    """The binary masks of one frame as runs of column-major pixels (``x * H + y``).

    Attributes:
        slots: (R,) int64 slot of each run, ascending.
        starts, stops: (R,) int64 first and one-past-last pixel of each run, ascending within a
            slot; runs of one slot neither overlap nor touch.
        offsets: (N + 1,) int64: slot n's runs are ``offsets[n]:offsets[n + 1]``.
        area: (N,) int64 pixels of each mask.
    """

    slots: np.ndarray
    starts: np.ndarray
    stops: np.ndarray
    offsets: np.ndarray
    area: np.ndarray

    def runs(self, slot: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.offsets[slot], self.offsets[slot + 1]
        return self.starts[a:b], self.stops[a:b]

    def dense(self, height: int, width: int) -> np.ndarray:
        """(N, H, W) bool masks (for tests and small frames)."""
        n = self.offsets.shape[0] - 1
        out = np.zeros((n, width * height), dtype=bool)
        for r in range(self.slots.shape[0]):
            out[self.slots[r], self.starts[r] : self.stops[r]] = True
        return out.reshape(n, width, height).transpose(0, 2, 1)


@dataclass
class ClipMasks:
    """Binary masks of one clip and their per-query statistics.

    Attributes:
        frames: one `FrameMasks` per frame.
        height, width: the displayed frame.
        prob_sum: (N,) float64 sum of the probabilities inside each binary mask.
        frame_area: (T, N) int64 pixels in each binary mask, per frame.
    """

    frames: list[FrameMasks]
    height: int
    width: int
    prob_sum: Tensor
    frame_area: Tensor

    @property
    def num_slots(self) -> int:
        return self.frame_area.shape[1]

    @property
    def area(self) -> Tensor:
        """(N,) pixels in each binary mask over the clip."""
        return self.frame_area.sum(dim=0)

    @property
    def mask_scores(self) -> Tensor:
        """(N,) mean probability inside each binary mask (0 for an empty mask)."""
        return self.prob_sum / self.area.clamp(min=1).to(self.prob_sum.dtype)


def _margin(shifted: Tensor) -> float:
    spread = float(shifted.abs().max()) if shifted.numel() else 0.0
    return MARGIN * max(1.0, spread / 10.0)  # float32 logit errors grow with their size


class _Pieces:
    """What a frame's evaluation found: runs with their probability sums, and single pairs."""

    def __init__(self) -> None:
        self.run_slots: list[np.ndarray] = []
        self.run_starts: list[np.ndarray] = []
        self.run_stops: list[np.ndarray] = []
        self.pair_slots: list[np.ndarray] = []
        self.pair_pixels: list[np.ndarray] = []
        self.prob_sum: np.ndarray | None = None

    def add_sum(self, slots: np.ndarray, probs: np.ndarray, n: int) -> None:
        part = np.bincount(slots, weights=probs, minlength=n)
        self.prob_sum = part if self.prob_sum is None else self.prob_sum + part

    def add_pairs(self, slots: np.ndarray, pixels: np.ndarray, probs: np.ndarray, n: int) -> None:
        self.pair_slots.append(slots.astype(np.int64, copy=False))
        self.pair_pixels.append(pixels.astype(np.int64, copy=False))
        self.add_sum(slots, probs, n)


def _dense(logits: Tensor, res: Resampler, threshold: float, normalise: str, out: _Pieces):
    """All queries at every pixel, in column bands (any geometry, softmax or sigmoid)."""
    n = logits.shape[0]
    height, width = res.height, res.width
    x32 = logits.float()
    shifted = x32 - x32.amax(dim=0, keepdim=True) if normalise == "softmax" else x32
    margin = _margin(shifted)
    rows_t = torch.matmul(res.rows, shifted).transpose(1, 2).contiguous()  # (N, w, H)
    low = threshold - margin
    if normalise == "sigmoid":
        low_logit = -math.inf if low <= 0 else (math.inf if low >= 1 else math.log(low / (1 - low)))
    band = max(1, BAND_VALUES // max(1, n * height))
    check_slots, check_pixels = [], []
    for x0 in range(0, width, band):
        x1 = min(width, x0 + band)
        v = torch.matmul(res.cols[x0:x1], rows_t)  # (N, B, H) logits (softmax: shifted)
        if normalise == "softmax":
            v.exp_()
            total = v.sum(dim=0)  # (B, H)
            keep = v > total * low if low > 0 else torch.ones_like(v, dtype=torch.bool)
            bad = ~(total > 1e-30)  # underflow (or nan): the whole pixel again in float64
            if bool(bad.any()):
                keep &= ~bad
                bpix = _numpy((bad.nonzero()[:, 0] + x0) * height + bad.nonzero()[:, 1])
                check_slots.append(np.repeat(np.arange(n), bpix.size))
                check_pixels.append(np.tile(bpix, n))
            k, xb, y = keep.nonzero(as_tuple=True)
            p = v[k, xb, y] / total[xb, y]
        else:
            keep = v > low_logit
            k, xb, y = keep.nonzero(as_tuple=True)
            p = v[k, xb, y].sigmoid()
        k, pix, p = _numpy(k), _numpy((xb + x0) * height + y), _numpy(p)
        near = p <= threshold + margin
        check_slots.append(k[near])
        check_pixels.append(pix[near])
        sure = ~near
        out.add_pairs(k[sure], pix[sure], p[sure], n)
    ks, ps = np.concatenate(check_slots), np.concatenate(check_pixels)
    probs = _exact_pairs(logits, res, normalise, ks, ps)
    inside = probs > threshold
    out.add_pairs(ks[inside], ps[inside], probs[inside], n)


def _terms(cols: Tensor, seg: _Segments) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Per (query, segment, column): the logit r at the segment's pair's first row, the rise d
    to its second row, the logit at the segment's centre, the largest deviation from it over
    the segment (spread), the largest logit over the segment (middle + spread), and whether the
    term is too steep for the series (spread > SERIES_REACH)."""
    if seg.first is not None:  # consecutive pairs: slices of the rows
        s = seg.pair.shape[0]
        r = cols[:, seg.first : seg.first + s]
        d = cols[:, seg.first + 1 : seg.first + s + 1] - r  # (N, S, W): queries outermost
    else:
        r = cols.index_select(1, seg.pair)
        d = cols.index_select(1, seg.pair + 1) - r
    middle = torch.addcmul(r, d, seg.centre[None, :, None])
    spread = d.abs().mul_(seg.reach[None, :, None])
    upper = middle + spread
    return r, d, middle, spread, upper, spread > SERIES_REACH


def _series(logits: Tensor, res: Resampler, seg: _Segments, threshold: float, out: _Pieces):
    """Softmax masks where every display row interpolates two neighbouring stride-4 rows.

    Down a display column, between stride-4 rows i and i + 1, every logit is linear in the row
    weight a: l_k = r_k + d_k a. The softmax denominator sum_k exp(r_k + d_k a) is a power
    series in (a - centre) whose coefficients are sums over the queries, evaluated for all rows
    of the segment by one matrix product: a cost per pixel that does not grow with the queries.
    The terms of queries too steep in a segment for the series to converge fast (large |d|) are
    summed directly, each over its own segment only. Only the queries whose largest possible probability in a segment passes
    threshold - margin are evaluated per pixel; as log p_k is concave in a, each gives one run
    per segment.
    """
    n = logits.shape[0]
    x32 = logits.float()
    shifted = x32 - x32.amax(dim=0, keepdim=True)  # <= 0: exp never overflows
    margin = _margin(shifted)
    # columns are independent: blocks of them keep the (N, S, B) terms small (cache-sized)
    block = max(16, SERIES_BLOCK_VALUES // max(1, n * seg.pair.shape[0]))
    for x0 in range(0, res.width, block):
        x1 = min(res.width, x0 + block)
        _series_block(logits, shifted, res, seg, threshold, margin, x0, x1, out)


def _series_block(
    logits: Tensor, shifted: Tensor, res: Resampler, seg: _Segments, threshold: float,
    margin: float, x0: int, x1: int, out: _Pieces,
) -> None:  # fmt: skip
    """`_series` on the display columns x0 .. x1 - 1."""
    n = logits.shape[0]
    height = res.height
    low = threshold - margin
    cols = torch.matmul(shifted, res.cols[x0:x1].t())  # (N, h, B)
    r, d, middle, spread, upper, steep = _terms(cols, seg)
    width = middle.shape[2]
    coeffs = torch.empty((SERIES_TERMS + 1,) + middle.shape[1:], dtype=middle.dtype)
    term = torch.exp(middle).masked_fill_(steep, 0.0)
    torch.sum(term, dim=0, out=coeffs[0])
    for i in range(1, SERIES_TERMS + 1):
        term.mul_(d)
        torch.sum(term, dim=0, out=coeffs[i])
    del term
    total = torch.matmul(coeffs.permute(1, 2, 0), seg.powers)  # (S, W, C) denominators
    # the steep terms stay out of the series and are summed directly, each over its own
    # segment, unless negligible: below e^-NEGLIGIBLE of a lower bound of the denominator (the
    # largest smallest term), so that N of them change it far less than the float32 rounding
    f = steep.view(-1).nonzero().squeeze(1)  # flat (k, j, x) of the steep terms
    if f.numel():
        per_k = total.shape[0] * width
        sjx = f % per_k  # their (j, x)
        # the largest smallest term, at the few places (j, x) that hold a steep term only
        places_s, which = torch.unique(sjx, return_inverse=True)
        floor = torch.sub(
            middle.reshape(n, -1).index_select(1, places_s),
            spread.reshape(n, -1).index_select(1, places_s),
        ).amax(dim=0)
        alive = upper.view(-1).index_select(0, f) > floor.index_select(0, which) - NEGLIGIBLE
        f, sjx = f[alive], sjx[alive]
        lin = torch.addcmul(
            r[f // per_k, sjx // width, sjx % width][:, None],  # r may be a view
            d.view(-1).index_select(0, f)[:, None],
            (seg.offset + seg.centre[:, None]).index_select(0, sjx // width),
        )  # (F, C) logits of the steep terms at every place of their segment
        total.view(-1, total.shape[-1]).index_add_(0, sjx, lin.exp_())
    total.add_(seg.padding[:, None, :])  # +inf at the places beyond a segment's rows
    smallest = total.amin(dim=-1)  # (S, W)
    # candidates: the largest exp(l) over the segment, exp(upper), may pass low x the smallest
    # denominator; compared as logarithms (with a slack far above their rounding), a superset
    if low > 0:
        need = upper > torch.log(smallest * low).sub_(1e-3)
    else:
        need = torch.ones_like(upper, dtype=torch.bool)
    bad = ~(smallest > 1e-30)  # underflow: the segment's pixels again in float64
    places = seg.y.shape[1]
    bad_pixels = None
    if bool(bad.any()):
        need &= ~bad
        bj, bx = bad.nonzero(as_tuple=True)
        bj, bx = _numpy(bj), _numpy(bx)
        valid = _numpy(seg.valid)[bj]
        bad_pixels = ((bx[:, None] + x0) * height + _numpy(seg.y)[bj])[valid]
    f = torch.from_numpy(np.flatnonzero(_numpy(need))).to(need.device)  # (k, j, x) triples
    per_k = need.shape[1] * width
    tk, tj, tx = f // per_k, (f % per_k) // width, f % width
    rate = d.flatten().index_select(0, f)[:, None]
    num = torch.exp(rate * seg.offset.index_select(0, tj) + middle.flatten()[f][:, None])
    den = total.view(-1, places).index_select(0, tj * width + tx)
    p = _numpy(num.div_(den))  # (T3, C); places beyond the segment: 0
    tx, tj, tk = _numpy(tx) + x0, _numpy(tj), _numpy(tk)
    inside = p > threshold + margin
    ys = _numpy(seg.y)
    near = np.flatnonzero(p > low)
    near = near[~inside.ravel()[near]]
    if near.size:
        near_t, near_m = np.divmod(near, places)
        near_pix = tx[near_t] * height + ys[tj[near_t], near_m]
        exact = _exact_pairs(logits, res, "softmax", tk[near_t], near_pix)
        p[near_t, near_m] = exact
        inside[near_t, near_m] = exact > threshold
    kept = torch.from_numpy(p) * torch.from_numpy(inside)
    out.add_sum(tk, _numpy(kept @ torch.ones(places)).astype(np.float64), n)
    # runs: places are consecutive display rows, so a run of places is a run of pixels
    edges = np.diff(np.pad(inside, ((0, 0), (1, 1))).view(np.int8), axis=1).ravel()
    st, sm = np.divmod(np.flatnonzero(edges == 1), places + 1)
    et, em = np.divmod(np.flatnonzero(edges == -1), places + 1)
    base = tx[st] * height
    out.run_slots.append(tk[st])
    out.run_starts.append(base + ys[tj[st], sm])
    out.run_stops.append(base + ys[tj[et], em - 1] + 1)
    if bad_pixels is not None:
        ks = np.repeat(np.arange(n), bad_pixels.size)
        ps = np.tile(bad_pixels, n)
        probs = _exact_pairs(logits, res, "softmax", ks, ps)
        keep = probs > threshold
        out.add_pairs(ks[keep], ps[keep], probs[keep], n)


def _runs(out: _Pieces, n: int, total: int) -> FrameMasks:
    """Merge the runs and single pairs of a frame into sorted, non-touching runs per slot."""
    slots = list(out.run_slots)
    starts = list(out.run_starts)
    stops = list(out.run_stops)
    if out.pair_slots:
        ps = np.concatenate(out.pair_slots)
        px = np.concatenate(out.pair_pixels)
        slots.append(ps)
        starts.append(px)
        stops.append(px + 1)
    if slots:
        s, a, b = np.concatenate(slots), np.concatenate(starts), np.concatenate(stops)
    else:
        s = a = b = np.zeros(0, dtype=np.int64)
    order = np.argsort(s * total + a, kind="stable")
    s, a, b = s[order], a[order], b[order]
    if s.size:
        # a run continues the previous one of its slot when it starts where that one stops
        joined = np.concatenate(([False], (s[1:] == s[:-1]) & (a[1:] <= b[:-1])))
        if joined.any():
            first = np.flatnonzero(~joined)
            s, a = s[first], a[first]
            b = np.maximum.reduceat(b, first)
    offsets = np.searchsorted(s, np.arange(n + 1), side="left").astype(np.int64)
    area = np.bincount(s, weights=(b - a), minlength=n).astype(np.int64)
    return FrameMasks(s, a, b, offsets, area)


def clip_masks(
    mask_logits: Tensor, geometry: FrameGeometry, pixel_threshold: float, normalise: str = "softmax"
) -> ClipMasks:
    """Binary masks (prob > pixel threshold) of (N, T, h, w) stride-4 mask logits at the
    displayed size, with their statistics; see the module docstring."""
    if normalise not in ("softmax", "sigmoid"):
        raise ValueError(f"normalise must be 'softmax' or 'sigmoid', got {normalise!r}")
    n, t, h, w = mask_logits.shape
    res = resampler(geometry, h, w, mask_logits.device)
    total_pixels = geometry.height * geometry.width
    series = res.series if normalise == "softmax" and pixel_threshold > 2 * MARGIN else None
    frames = []
    prob_sum = np.zeros(n)
    frame_area = torch.zeros(t, n, dtype=torch.int64)
    with torch.no_grad():
        for f in range(t):
            out = _Pieces()
            if series is not None:
                _series(mask_logits[:, f], res, series, pixel_threshold, out)
            else:
                _dense(mask_logits[:, f], res, pixel_threshold, normalise, out)
            fm = _runs(out, n, total_pixels)
            frames.append(fm)
            frame_area[f] = torch.from_numpy(fm.area)
            if out.prob_sum is not None:
                prob_sum += out.prob_sum
    return ClipMasks(
        frames, geometry.height, geometry.width, torch.from_numpy(prob_sum), frame_area
    )


def rle_strings(frame: FrameMasks, height: int, width: int) -> dict[int, str]:
    """COCO compressed RLE strings of every non-empty mask of a frame, by slot."""
    total = height * width
    out: dict[int, str] = {}
    for slot in np.flatnonzero(frame.area).tolist():
        a, b = frame.runs(slot)
        counts = np.empty(2 * a.size, dtype=np.int64)
        counts[0::2] = a - np.concatenate(([0], b[:-1]))
        counts[1::2] = b - a
        tail = total - int(b[-1])
        if tail > 0:
            counts = np.concatenate((counts, [tail]))
        out[slot] = string_from_counts(counts)
    return out


def cover_pieces(frame: FrameMasks, n: int, total: int) -> tuple[np.ndarray, np.ndarray]:
    """The frame cut into pieces of column-major pixels covered by the same set of slots.

    Only the run ends are visited (the set can change only there), so the cost grows with the
    runs, not with the pixels.

    Returns:
        (keys (P, words) int64: the set of each piece, slot s = bit s % 63 of word s // 63;
        lengths (P,) int64 pixels of each piece, in pixel order, covering the frame).
    """
    words = max(1, (n + 62) // 63)
    ends = np.concatenate(([0], frame.starts, frame.stops))
    places, where = np.unique(ends, return_inverse=True)  # ascending; places[0] == 0
    bits = np.left_shift(1, frame.slots % 63).astype(np.int64)
    word = frame.slots // 63
    runs = frame.slots.shape[0]
    keys = np.zeros((places.shape[0], words), dtype=np.int64)
    np.add.at(keys, (where[1 : 1 + runs], word), bits)  # a run adds its bit where it starts
    np.add.at(keys, (where[1 + runs :], word), -bits)  # and takes it away where it stops
    np.cumsum(keys, axis=0, out=keys)  # the set from each place to the next
    inside = places < total  # a place at the frame's end starts no piece
    keys, places = keys[inside], places[inside]
    change = np.concatenate(([True], (keys[1:] != keys[:-1]).any(axis=1)))
    first = places[change]
    lengths = np.diff(np.concatenate((first, [total])))
    return np.ascontiguousarray(keys[change]), lengths
