"""COCO RLE: strings worked out by hand from the format's definition, round trips, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from axialvs_cli.errors import FormatError
from axialvs_cli.formats import rle

DAVIS = Path("/work/shared/data/annotated/davis2016_blackswan/Annotations")


def test_column_major_order():
    # [[1, 0],      column-major pixels: (0,0)=1 (1,0)=0 (0,1)=0 (1,1)=0
    #  [0, 0]]  ->  runs: 0 zeros, 1 one, 3 zeros
    assert rle.counts_from_mask(np.array([[1, 0], [0, 0]])).tolist() == [0, 1, 3]
    # [[0, 1], [0, 0]] -> pixels 0, 0, 1, 0 -> 2 zeros, 1 one, 1 zero
    assert rle.counts_from_mask(np.array([[0, 1], [0, 0]])).tolist() == [2, 1, 1]


@pytest.mark.parametrize(
    ("counts", "text"),
    [
        # 2, 3, 7 are single 5-bit groups below 16: chr(48 + v)
        ([2, 3, 7], "237"),
        # the 4th number is stored as 1 - 2 = -1: low 5 bits 31 (sign bit 0x10 set), the rest
        # is -1 so no more groups: chr(48 + 31) = "O"
        ([1, 2, 2, 1], "122O"),
        # 100 = 3 * 32 + 4: group 4 with the "more" bit 0x20 -> chr(48 + 36) = "T", then "3"
        ([100], "T3"),
        # 30 = 0b11110 has bit 0x10 set, so it needs a second group (0) to read as positive:
        # chr(48 + 30 + 32) = "n", then "0"; 40 = 32 + 8 -> "X" (8 + 32 + 48), "1"
        ([40, 30, 30], "X1n0n0"),
    ],
)
def test_string_by_hand(counts, text):
    assert rle.string_from_counts(np.array(counts)) == text
    assert rle.counts_from_string(text).tolist() == counts
    assert rle.counts_from_string(text.encode()).tolist() == counts


def test_encode_decode_round_trip():
    rng = np.random.default_rng(0)
    for h, w in [(1, 1), (3, 5), (17, 9), (0, 4)]:
        for density in (0.0, 0.3, 1.0):
            mask = rng.random((h, w)) < density
            enc = rle.encode(mask)
            assert enc["size"] == [h, w]
            assert isinstance(enc["counts"], str)
            assert np.array_equal(rle.decode(enc), mask)
            assert rle.area(enc) == int(mask.sum())


def test_uncompressed_accepted_like_compressed():
    # 2x3 mask, column-major runs: 1 zero, 2 ones, 2 zeros, 1 one
    # -> columns (0,1), (1,0), (0,1)
    un = {"size": [2, 3], "counts": [1, 2, 2, 1]}
    assert rle.decode(un).astype(int).tolist() == [[0, 1, 0], [1, 0, 1]]
    assert rle.compress(un) == {"size": [2, 3], "counts": "122O"}
    assert rle.area(un) == 3


def test_intersection_and_iou_by_hand():
    a = np.zeros((4, 4), bool)
    a[:, :2] = True  # 8 pixels, columns 0-1
    b = np.zeros((4, 4), bool)
    b[:2, :] = True  # 8 pixels, rows 0-1
    # overlap: rows 0-1 x columns 0-1 = 4; union 8 + 8 - 4 = 12
    assert rle.intersection_area(rle.encode(a), rle.encode(b)) == 4
    assert rle.iou(rle.encode(a), rle.encode(b)) == 4 / 12
    # masks of different sizes do not overlap (the COCO merge of unequal sizes is empty)
    assert rle.intersection_area(rle.encode(a), rle.encode(np.ones((4, 5), bool))) == 0
    assert rle.iou(rle.encode(a[:0]), rle.encode(b[:0])) == 0.0


def test_counts_many_matches_counts():
    rng = np.random.default_rng(1)
    rles = [rle.encode(rng.random((9, 7)) < p) for p in np.linspace(0, 1, 12)]
    rles.append({"size": [2, 3], "counts": [1, 2, 2, 1]})
    for got, one in zip(rle.counts_many(rles), rles, strict=True):
        assert got.tolist() == rle.counts(one).tolist()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"size": [2, 2], "counts": "4!"}, "outside"),  # "!" is below "0"
        ({"size": [2, 2], "counts": "T"}, "middle of a number"),  # "T" has the "more" bit
        ({"size": [2, 2], "counts": "3"}, "cover 3 pixels"),  # 3 != 2 * 2
        ({"size": [2, 2], "counts": [2, -1, 3]}, "negative"),
        ({"size": [2], "counts": "4"}, "size"),
        ({"size": [2, 2], "counts": 4}, "string or a list"),
        ({"counts": "4"}, "'size' and 'counts'"),
        ({"size": [2, 2], "counts": "4é"}, "non-ASCII"),
    ],
)
def test_malformed_rle(bad, message):
    with pytest.raises(FormatError, match=message):
        rle.decode(bad)


@pytest.mark.skipif(not DAVIS.is_dir(), reason="shared DAVIS annotations not available")
def test_real_masks_round_trip():
    for name in ("00000.png", "00025.png", "00049.png"):
        mask = np.asarray(Image.open(DAVIS / name)) > 127
        enc = rle.encode(mask)
        assert np.array_equal(rle.decode(enc), mask)
        assert rle.area(enc) == int(mask.sum())
        shifted = np.roll(mask, 7, axis=1)
        inter = int((mask & shifted).sum())
        union = int((mask | shifted).sum())
        assert rle.intersection_area(enc, rle.encode(shifted)) == inter
        assert rle.iou(enc, rle.encode(shifted)) == inter / union
