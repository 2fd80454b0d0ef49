"""Video input on tiny synthetic files: codecs, orientation, streams, damage, cuts, folders."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from av.stream import Disposition
from PIL import Image

from axialvs_cli.errors import InputError, VideoError
from axialvs_cli.video import (
    apply_orientation,
    expand_inputs,
    natural_key,
    open_video,
    orientation_from_matrix,
)

MS = Fraction(1, 1000)


def pattern(height: int, width: int, value: int = 0) -> np.ndarray:
    """Asymmetric test picture: white top-left quarter, grey top-right, dark bottom."""
    rgb = np.full((height, width, 3), 20 + value % 40, np.uint8)
    rgb[: height // 2, : width // 2] = 235
    rgb[: height // 2, width // 2 :] = 128
    return rgb


def noise(height: int, width: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def encode(
    path: Path,
    frames: list[np.ndarray],
    *,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    times: list[float] | None = None,
    rotation: tuple[int, bool, bool] | None = None,
    gop: int | None = None,
    container_options: dict[str, str] | None = None,
) -> Path:
    """Write frames with PyAV directly (independent of VideoWriter)."""
    if codec not in av.codecs_available:
        pytest.skip(f"encoder {codec} is not in this PyAV build")
    height, width = frames[0].shape[:2]
    options = {"x265-params": "log-level=none"} if codec == "libx265" else {}
    with av.open(str(path), "w", options=container_options or {}) as out:
        stream = out.add_stream(codec, rate=30, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if gop:
            stream.gop_size = gop
        if times is not None:
            stream.time_base = stream.codec_context.time_base = MS
        if rotation is not None:
            stream.set_display_rotation(rotation[0], hflip=rotation[1], vflip=rotation[2])
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if times is not None:
                frame.pts, frame.time_base = round(Fraction(times[i]) / MS), MS
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def read_all(path: Path, **kwargs) -> tuple[list, object]:
    with open_video(path, **kwargs) as source:
        frames = list(source)
    return frames, source


# -- codecs, sizes, lengths -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("codec", "pix_fmt", "suffix", "size"),
    [
        ("libx264", "yuv420p", ".mp4", (48, 64)),
        ("libx264", "yuv444p", ".mp4", (47, 65)),  # odd size
        ("mpeg4", "yuv420p", ".avi", (48, 64)),
        ("libvpx-vp9", "yuv420p", ".webm", (47, 65)),
        ("libx265", "yuv420p10le", ".mp4", (48, 64)),  # 10-bit HEVC
        ("libsvtav1", "yuv420p", ".mkv", (64, 64)),
    ],
)
def test_codecs_decode_to_rgb(tmp_path, codec, pix_fmt, suffix, size):
    frames = [pattern(*size, i) for i in range(3)]
    path = encode(tmp_path / f"v{suffix}", frames, codec=codec, pix_fmt=pix_fmt)
    decoded, source = read_all(path)
    assert len(decoded) == 3 and source.error is None and source.frames_read == 3
    assert (source.height, source.width) == size and source.rotation == 0
    for i, frame in enumerate(decoded):
        assert frame.index == i and frame.name == f"{i:08d}"
        assert frame.rgb.dtype == np.uint8 and frame.rgb.shape == (*size, 3)
        assert frame.rgb.flags.c_contiguous
        assert np.abs(frame.rgb.astype(int) - frames[i]).mean() < 8
    assert [f.pts_seconds for f in decoded] == pytest.approx([0, 1 / 30, 2 / 30], abs=1e-3)
    assert source.fps == pytest.approx(30)


def test_single_frame_video(tmp_path):
    path = encode(tmp_path / "one.mp4", [pattern(48, 64)])
    decoded, source = read_all(path)
    assert len(decoded) == 1 and decoded[0].pts_seconds == 0.0 and source.error is None


def test_variable_frame_rate_keeps_each_timestamp(tmp_path):
    times = [0.0, 0.04, 0.1, 0.11, 0.3, 0.5]
    for suffix in (".mp4", ".mkv"):
        path = encode(
            tmp_path / f"vfr{suffix}", [pattern(48, 64, i) for i in range(6)], times=times
        )
        decoded, _ = read_all(path)
        assert [f.pts_seconds for f in decoded] == pytest.approx(times, abs=1e-6)


# -- orientation ------------------------------------------------------------------------------
def test_apply_orientation_is_counter_clockwise():
    a = np.array([[1, 2], [3, 4]])
    assert apply_orientation(a, 90).tolist() == [[2, 4], [1, 3]]
    assert apply_orientation(a, -90).tolist() == [[3, 1], [4, 2]]
    assert apply_orientation(a, 270).tolist() == [[3, 1], [4, 2]]
    assert apply_orientation(a, 180).tolist() == [[4, 3], [2, 1]]
    assert apply_orientation(a, 0, mirrored=True).tolist() == [[2, 1], [4, 3]]
    assert apply_orientation(a, 0) is a
    with pytest.raises(ValueError):
        apply_orientation(a, 45)


def test_orientation_from_matrix():
    one = 1 << 16
    assert orientation_from_matrix([0, one, 0, -one, 0, 0, 0, 0, 1 << 30]) == (-90, False)
    assert orientation_from_matrix([0, -one, 0, one, 0, 0, 0, 0, 1 << 30]) == (90, False)
    assert orientation_from_matrix([-one, 0, 0, 0, -one, 0, 0, 0, 1 << 30]) == (180, False)
    assert orientation_from_matrix([-one, 0, 0, 0, one, 0, 0, 0, 1 << 30]) == (0, True)


@pytest.mark.parametrize("degrees", [0, 90, 180, -90])
@pytest.mark.parametrize(("hflip", "vflip"), [(False, False), (True, False), (False, True)])
def test_display_matrix_applied(tmp_path, degrees, hflip, vflip):
    # PyAV documents set_display_rotation as: turn counter-clockwise, then mirror.
    src = pattern(48, 64)
    path = encode(tmp_path / "rot.mp4", [src, src], rotation=(degrees, hflip, vflip))
    expected = np.rot90(src, degrees // 90)
    expected = expected[:, ::-1] if hflip else expected
    expected = expected[::-1] if vflip else expected
    decoded, source = read_all(path)
    assert (source.coded_width, source.coded_height) == (64, 48)
    assert (source.height, source.width) == expected.shape[:2]
    assert decoded[0].rgb.shape == expected.shape and decoded[0].rgb.flags.c_contiguous
    assert np.abs(decoded[0].rgb.astype(int) - expected).mean() < 8


# -- streams ----------------------------------------------------------------------------------
def multi_stream_file(path: Path, cover: bool) -> Path:
    """Two H.264 streams (32x24, 64x48), AAC audio and optionally a 200x200 PNG cover."""
    with av.open(str(path), "w") as out:
        videos = []
        for width, height in ((32, 24), (64, 48)):
            stream = out.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            videos.append(stream)
        audio = out.add_stream("aac", rate=8000)
        audio.layout = "mono"
        if cover:
            art = out.add_stream("png")
            art.width, art.height, art.pix_fmt = 200, 200, "rgb24"
            art.disposition = Disposition.attached_pic
            for pkt in [*art.encode(av.VideoFrame.from_ndarray(pattern(200, 200))), *art.encode()]:
                out.mux(pkt)
        for i in range(4):
            for stream in videos:
                frame = av.VideoFrame.from_ndarray(pattern(stream.height, stream.width, i))
                frame.pts = i
                for pkt in stream.encode(frame):
                    out.mux(pkt)
            sound = av.AudioFrame.from_ndarray(
                np.zeros((1, 800), np.float32), format="fltp", layout="mono"
            )
            sound.sample_rate, sound.pts = 8000, i * 800
            for pkt in audio.encode(sound):
                out.mux(pkt)
        for stream in [*videos, audio]:
            for pkt in stream.encode():
                out.mux(pkt)
    return path


def test_stream_choice(tmp_path):
    path = multi_stream_file(tmp_path / "multi.mp4", cover=True)
    # default: the main video; equal frame counts, so the default disposition (stream 0) wins
    decoded, source = read_all(path)
    assert source.stream_index == 0 and (source.width, source.height) == (32, 24)
    assert len(decoded) == 4
    decoded, source = read_all(path, stream=0)
    assert (source.width, source.height) == (32, 24) and len(decoded) == 4
    with pytest.raises(VideoError, match=r"no video stream 7.*0: h264 32x24.*cover art"):
        open_video(path, stream=7)


def test_cover_art_alone_is_not_a_video(tmp_path):
    path = tmp_path / "song.mp4"
    with av.open(str(path), "w") as out:
        audio = out.add_stream("aac", rate=8000)
        audio.layout = "mono"
        art = out.add_stream("png")
        art.width, art.height, art.pix_fmt = 20, 20, "rgb24"
        art.disposition = Disposition.attached_pic
        for pkt in [*art.encode(av.VideoFrame.from_ndarray(pattern(20, 20))), *art.encode()]:
            out.mux(pkt)
        sound = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), "fltp", "mono")
        sound.sample_rate, sound.pts = 8000, 0
        for pkt in [*audio.encode(sound), *audio.encode()]:
            out.mux(pkt)
    with pytest.raises(VideoError, match=r"song\.mp4: no video stream \(only cover art: 0: png"):
        open_video(path)


def test_audio_only_is_not_a_video(tmp_path):
    path = tmp_path / "sound.m4a"
    with av.open(str(path), "w") as out:
        audio = out.add_stream("aac", rate=8000)
        audio.layout = "mono"
        sound = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), "fltp", "mono")
        sound.sample_rate, sound.pts = 8000, 0
        for pkt in [*audio.encode(sound), *audio.encode()]:
            out.mux(pkt)
    with pytest.raises(VideoError, match=r"sound\.m4a: no video stream \(it holds: audio\)"):
        open_video(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", b"hello\n" * 50, "not a video file"),
        ("empty.mp4", b"", "not a video file"),
        ("still.png", None, "still image"),
    ],
)
def test_not_a_video(tmp_path, name, content, message):
    path = tmp_path / name
    if content is None:
        Image.fromarray(pattern(10, 12)).save(path)
    else:
        path.write_bytes(content)
    with pytest.raises(VideoError, match=message) as info:
        open_video(path)
    assert name in str(info.value)


def test_missing_file_and_bad_options(tmp_path):
    with pytest.raises(VideoError, match=r"nope\.mp4: no such file"):
        open_video(tmp_path / "nope.mp4")
    with pytest.raises(InputError, match="end"):
        open_video(tmp_path, start=2.0, end=1.0)
    with pytest.raises(InputError, match="max_frames"):
        open_video(tmp_path, max_frames=0)


# -- damaged files ----------------------------------------------------------------------------
def damaged(tmp_path: Path, suffix: str, n: int, how: str, **kwargs) -> tuple[Path, int]:
    frames = [noise(48, 64, i) for i in range(n)]
    path = encode(tmp_path / f"full{suffix}", frames, gop=10, **kwargs)
    data = bytearray(path.read_bytes())
    if how == "cut":
        data = data[: len(data) // 2]
    else:
        start = len(data) // 3
        data[start : start + 2000] = np.random.default_rng(0).bytes(2000)
    bad = tmp_path / f"{how}{suffix}"
    bad.write_bytes(bytes(data))
    return bad, n


@pytest.mark.parametrize(
    ("suffix", "n", "how", "kwargs"),
    [
        (".mp4", 120, "cut", {"container_options": {"movflags": "+faststart"}}),
        (".mp4", 120, "corrupt", {}),
        (".avi", 60, "corrupt", {"codec": "mpeg4"}),
        (".mkv", 120, "cut", {}),  # no decoder error: found by the container's duration
    ],
)
def test_broken_stream_keeps_frames_and_records_error(tmp_path, suffix, n, how, kwargs):
    path, total = damaged(tmp_path, suffix, n, how, **kwargs)
    with open_video(path) as source:
        kept = [frame.index for frame in source]
    assert 0 < len(kept) < total and kept == list(range(len(kept)))
    assert source.frames_read == len(kept)
    assert source.error and path.name in source.error and f"after {len(kept)} frame" in source.error


def test_complete_mkv_has_no_error(tmp_path):
    path = encode(tmp_path / "ok.mkv", [noise(48, 64, i) for i in range(120)], gop=10)
    decoded, source = read_all(path)
    assert len(decoded) == 120 and source.error is None


# -- cuts and passes --------------------------------------------------------------------------
def test_start_end_max_frames_and_second_pass(tmp_path):
    path = encode(tmp_path / "v.mp4", [pattern(48, 64, i) for i in range(60)], gop=10)
    with open_video(path, start=1.0, end=1.5) as source:
        first = list(source)
        second = list(source)  # each iteration starts again
    assert [round(f.pts_seconds * 30) for f in first] == list(range(30, 45))
    assert [f.index for f in first] == list(range(15)) and source.estimated_frames == 15
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(first, second, strict=True))
    decoded, _ = read_all(path, start=0.5, max_frames=4)
    assert [round(f.pts_seconds * 30) for f in decoded] == [15, 16, 17, 18]
    with pytest.raises(VideoError, match=r"no frame at or after 9.0 s \(the video ends at about 2"):
        open_video(path, start=9.0)


def test_start_on_mpegts_lands_on_the_right_frame(tmp_path):
    # MPEG-TS seeking lands after the wanted time; the reader must seek again earlier.
    frames = [np.roll(noise(48, 64, 0), 3 * i, axis=1) for i in range(90)]
    path = encode(tmp_path / "v.ts", frames, gop=25)
    everything, _ = read_all(path)
    for i in (10, 40, 85):
        cut, _ = read_all(path, start=everything[i].pts_seconds, max_frames=2)
        assert [f.pts_seconds for f in cut] == [f.pts_seconds for f in everything[i : i + 2]]
        assert np.array_equal(cut[0].rgb, everything[i].rgb)


def test_early_stop_closes_cleanly(tmp_path):
    path = encode(tmp_path / "v.mp4", [pattern(48, 64, i) for i in range(10)])
    with open_video(path) as source:
        for frame in source:
            if frame.index == 2:
                break
    assert source.frames_read == 3 and source.error is None


# -- frame folders ----------------------------------------------------------------------------
def test_folder_natural_order_and_timing(tmp_path):
    for stem in ("10", "2", "1"):
        Image.fromarray(pattern(20, 30, int(stem))).save(tmp_path / f"{stem}.png")
    (tmp_path / "._2.png").write_bytes(b"junk")  # hidden metadata file, skipped
    (tmp_path / "notes.txt").write_text("ignored")
    decoded, source = read_all(tmp_path, folder_fps=10)
    assert source.is_folder and (source.width, source.height) == (30, 20)
    assert [f.name for f in decoded] == ["1", "2", "10"]
    assert [f.pts_seconds for f in decoded] == pytest.approx([0.0, 0.1, 0.2])
    assert np.array_equal(decoded[2].rgb, pattern(20, 30, 10))
    decoded, _ = read_all(tmp_path, folder_fps=10, start=0.1, max_frames=1)
    assert [(f.index, f.name) for f in decoded] == [(0, "2")]
    assert sorted(["a10.png", "a2.png", "a1.png"], key=natural_key) == [
        "a1.png",
        "a2.png",
        "a10.png",
    ]


def test_folder_errors(tmp_path):
    with pytest.raises(VideoError, match="no JPEG or PNG frames"):
        open_video(tmp_path)
    Image.fromarray(pattern(20, 30)).save(tmp_path / "00001.jpg")
    Image.fromarray(pattern(21, 30)).save(tmp_path / "00002.jpg")
    with pytest.raises(VideoError, match=r"frame 00002\.jpg is 30x21 but 00001\.jpg is 30x20"):
        open_video(tmp_path)


def test_folder_broken_frame_keeps_earlier_frames(tmp_path):
    for i in range(3):
        Image.fromarray(noise(20, 30, i)).save(tmp_path / f"{i}.jpg", quality=95)
    data = (tmp_path / "2.jpg").read_bytes()
    (tmp_path / "2.jpg").write_bytes(data[: len(data) // 2])  # header intact, data cut
    decoded, source = read_all(tmp_path)
    assert len(decoded) == 2 and "2.jpg" in source.error


def test_expand_inputs(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    Image.fromarray(pattern(8, 8)).save(frames / "0.png")
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("b10.mp4", "b2.mkv", "readme.txt"):
        (videos / name).write_bytes(b"x")
    got = expand_inputs([frames, videos, frames, videos / "b2.mkv"])
    assert got == [frames, videos / "b2.mkv", videos / "b10.mp4"]
    with pytest.raises(InputError, match=r"not found: .*m1\.mp4, .*m2\.mp4"):
        expand_inputs([frames, tmp_path / "m1.mp4", tmp_path / "m2.mp4"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="neither JPEG/PNG frames nor video"):
        expand_inputs([tmp_path / "empty"])
