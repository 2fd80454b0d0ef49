"""Our RGB PNG encoder: PIL (what the official evaluators read with) decodes it exactly."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from PIL import Image

from axialvs_cli.formats.palette import (
    encode_id_png,
    encode_rgb_png,
    id_to_rgb,
    read_id_png,
    write_id_png,
)


@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (360, 480), (1080, 1920)])
@pytest.mark.parametrize("level", [0, 1, 6])
def test_pil_decodes_exactly(shape: tuple[int, int], level: int) -> None:
    rgb = np.random.default_rng(sum(shape) + level).integers(0, 256, (*shape, 3), dtype=np.uint8)
    data = encode_rgb_png(rgb, level)
    with Image.open(io.BytesIO(data)) as img:
        img.verify()  # chunk CRCs and structure
    with Image.open(io.BytesIO(data)) as img:
        assert img.mode == "RGB" and img.size == (shape[1], shape[0])
        np.testing.assert_array_equal(np.asarray(img), rgb)


def test_id_map_round_trip_and_level(tmp_path) -> None:
    ids = np.zeros((240, 320), dtype=np.uint32)
    ids[40:200, 30:300] = 7 * 1000 + 3
    ids[100:, :50] = 2**24 - 1
    write_id_png(tmp_path / "a.png", ids, 1)
    np.testing.assert_array_equal(read_id_png(tmp_path / "a.png"), ids)
    sizes = [len(encode_rgb_png(np.zeros((64, 64, 3), np.uint8), lvl)) for lvl in (0, 9)]
    assert sizes[0] > 64 * 64 * 3 > 20 * sizes[1]  # level 0 stores, level 9 compresses
    raw = encode_rgb_png(np.full((2, 2, 3), 5, np.uint8), 0)
    idat = raw[raw.index(b"IDAT") + 4 : raw.index(b"IEND") - 8]
    assert zlib.decompress(idat) == bytes([0, 5, 5, 5, 5, 5, 5]) * 2  # filter byte 0 per row


def test_counted_areas_give_the_same_entry(tmp_path) -> None:
    """add_frame with the caller's areas writes the same PNG and JSON entry as counting."""
    from axialvs_cli.formats.vipseg import PanopticWriter

    rng = np.random.default_rng(3)
    ids = rng.choice(np.array([0, 7, 70000, 3]), size=(9, 13)).astype(np.int32)
    categories = {7: 1, 70000: 2, 3: 5}
    values, counts = np.unique(ids, return_counts=True)
    areas = {int(v): int(c) for v, c in zip(values, counts, strict=True)}
    areas[12345] = 0  # listed with no pixels: left out
    entries = []
    for name, given in (("counted", None), ("given", areas)):
        with PanopticWriter(tmp_path / name, "ground_truth") as writer:
            entries.append(writer.add_frame("v", "00000.png", ids, categories, areas=given))
    assert entries[0] == entries[1]
    assert [s["id"] for s in entries[0]["segments_info"]] == [3, 7, 70000]
    a = (tmp_path / "counted" / "panomasksRGB" / "v" / "00000.png").read_bytes()
    assert a == (tmp_path / "given" / "panomasksRGB" / "v" / "00000.png").read_bytes()


@pytest.mark.parametrize("dtype", [np.int32, np.uint32, ">u4", np.int64, np.uint16])
def test_id_png_equals_the_rgb_route(dtype) -> None:
    """encode_id_png writes the bytes of encode_rgb_png(id_to_rgb(ids)) for every id dtype and
    for a non-contiguous map; PIL reads the ids back."""
    rng = np.random.default_rng(1)
    high = 2**16 if dtype == np.uint16 else 2**24
    ids = rng.integers(0, high, (31, 46)).astype(dtype)
    for m in (ids, ids[:, ::3]):
        data = encode_id_png(m, 1)
        assert data == encode_rgb_png(id_to_rgb(m), 1)
        rgb = np.asarray(Image.open(io.BytesIO(data)), np.int64)
        assert np.array_equal(rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2], m)
