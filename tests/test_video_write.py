"""Video output and resizing helpers on tiny synthetic frames."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from axialvs_cli.errors import VideoError
from axialvs_cli.video import VideoWriter, open_video, resize_labels, resize_shorter_side


def pattern(height: int, width: int, value: int = 0) -> np.ndarray:
    """Asymmetric test picture: white top-left quarter, grey top-right, dark bottom."""
    rgb = np.full((height, width, 3), 20 + value % 40, np.uint8)
    rgb[: height // 2, : width // 2] = 235
    rgb[: height // 2, width // 2 :] = 128
    return rgb


def read_all(path, **kwargs) -> tuple[list, object]:
    with open_video(path, **kwargs) as source:
        frames = list(source)
    return frames, source


# -- resizing ---------------------------------------------------------------------------------
def test_resize_shorter_side():
    rgb = pattern(47, 65)
    out, scale = resize_shorter_side(rgb, 94)
    assert out.shape == (94, 130, 3) and scale == pytest.approx(2.0)
    out, scale = resize_shorter_side(rgb, 94, max_longer=100)
    assert max(out.shape[:2]) == 100 and scale == pytest.approx(100 / 65)
    assert resize_shorter_side(rgb, 47)[0] is rgb


def test_resize_labels_nearest():
    labels = np.array([[1, 2], [3, 40000]], dtype=np.int32)
    up = resize_labels(labels, (4, 6))
    assert up.dtype == np.int32 and up.shape == (4, 6)
    assert up.tolist()[0] == [1, 1, 1, 2, 2, 2] and up.tolist()[3] == [3, 3, 3] + [40000] * 3
    assert np.array_equal(resize_labels(up, (2, 2)), labels)
    masks = np.zeros((3, 5, 7), bool)
    assert resize_labels(masks, (10, 14)).shape == (3, 10, 14)


# -- writing ----------------------------------------------------------------------------------
def test_writer_pads_odd_size_and_keeps_timestamps(tmp_path):
    times = [0.0, 0.04, 0.1, 0.11, 0.3]
    out_path = tmp_path / "sub" / "out.mp4"
    src = [pattern(47, 65, i) for i in range(5)]
    with VideoWriter(out_path, Fraction(30000, 1001), 65, 47, preset="ultrafast") as out:
        for rgb, t in zip(src, times, strict=True):
            out.write(rgb, pts_seconds=t)
    assert (out.padded_width, out.padded_height) == (66, 48)
    assert sorted(p.name for p in out_path.parent.iterdir()) == ["out.mp4"]
    decoded, source = read_all(out_path)
    assert source.codec == "h264" and (source.width, source.height) == (66, 48)
    assert [f.pts_seconds for f in decoded] == pytest.approx(times, abs=1e-4)
    assert np.abs(decoded[0].rgb[:47, :65].astype(int) - src[0]).mean() < 4
    assert np.abs(decoded[0].rgb[47].astype(int) - decoded[0].rgb[46]).mean() < 4  # replicated


def test_writer_default_timing_one_frame(tmp_path):
    with VideoWriter(tmp_path / "one.mp4", 25, 32, 16, preset="ultrafast") as out:
        out.write(pattern(16, 32))
    decoded, source = read_all(tmp_path / "one.mp4")
    assert len(decoded) == 1 and source.fps == pytest.approx(25)


def test_writer_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.mp4"
    target.write_bytes(b"previous")
    with pytest.raises(RuntimeError), VideoWriter(target, 30, 32, 16) as out:
        out.write(pattern(16, 32))
        raise RuntimeError("stop")
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
    with pytest.raises(VideoError, match="no frames were written"), VideoWriter(target, 30, 32, 16):
        pass
    with (
        pytest.raises(ValueError, match=r"\(16, 32, 3\) uint8"),
        VideoWriter(target, 30, 32, 16) as out,
    ):
        out.write(pattern(16, 30))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
