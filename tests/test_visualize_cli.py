"""`axialvs visualize-attention`: maps of a forced attention peak where constructed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from axialvs_cli.main import app
from axialvs_cli.render.attention import visualize_attention
from axialvs_cli.video import VideoWriter
from models.build import build_axialvs
from models.config import get_preset
from models.layers.trajectory import AxialAttentionMaps, AxialTrajectoryLayer
from models.weights import save_checkpoint

runner = CliRunner()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    cfg = get_preset("tiny").replace(inference={"short_side": 65, "long_side": 97})
    classes = [{"id": i, "name": f"c{i}", "isthing": i % 2} for i in range(cfg.num_classes)]
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    return save_checkpoint(path, build_axialvs(cfg), cfg, {"classes": classes})


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("video") / "five.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(path, 10, 96, 64) as writer:  # 96 x 64: fits 97 x 65 unscaled
        for _ in range(5):
            writer.write(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8))
    return path


def test_forced_one_hot_attention_peaks_where_constructed(checkpoint, video, tmp_path, monkeypatch):
    """Every query's H pass attends to row 2 in frame 0 and row 1 in frame 1, its W pass to
    column 4 and column 0: the frame maps must peak in those stride-16 cells."""
    original = AxialTrajectoryLayer.forward

    def forced(self, x, pos, need_weights=False):
        out, maps = original(self, x, pos, need_weights)
        if need_weights:
            height, width = torch.zeros_like(maps.height), torch.zeros_like(maps.width)
            height[..., 0, 2], height[..., 1, 1] = 1.0, 1.0
            width[..., 0, 4], width[..., 1, 0] = 1.0, 1.0
            maps = AxialAttentionMaps(height=height, width=width)
        return out, maps

    monkeypatch.setattr(AxialTrajectoryLayer, "forward", forced)
    result = visualize_attention(video, [(50.0, 20.0)], tmp_path / "a.png", frame=3,
                                 checkpoint=checkpoint, device="cpu")  # fmt: skip
    assert result.clip_frames == [2, 3]  # clips of 2 frames: frame 3 is in clip 1
    assert result.cells == [(20 // 16, 50 // 16)]
    assert result.grid == (5, 7)  # res4 of the 65 x 97 input
    heat = result.heats[0]
    assert heat.shape == (2, 64, 96)
    for t, (row, col) in enumerate([(2, 4), (1, 0)]):
        ys, xs = np.nonzero(heat[t] == heat[t].max())
        assert set(ys // 16) == {row} and set(xs // 16) == {col}
        assert heat[t].max() == 1.0  # normalised per frame
    image = Image.open(tmp_path / "a.png")
    assert image.size == (2 * 96 + 4, 3 * 64 + 2 * 4)  # 2 frames; input, map, overlay rows


def test_command_writes_png_gif_and_mp4(checkpoint, video, tmp_path) -> None:
    out = tmp_path / "fig.png"
    res = runner.invoke(app, [
        "visualize-attention", str(video), "--ref-point", "10,10", "--ref-point", "80,50",
        "--frame", "4", "--head", "1", "--layer", "1.0", "--checkpoint", str(checkpoint),
        "-o", str(out), "--gif", "--mp4", "--device", "cpu",
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert out.is_file() and out.with_suffix(".gif").is_file() and out.with_suffix(".mp4").is_file()
    # last clip (frames 4, padded): one real frame shown; input row + 2 rows per point
    assert Image.open(out).size == (96, 5 * 64 + 4 * 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.gif", "fig.mp4", "fig.png"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--ref-point", "96,10"], "outside the 96x64 frame"),
        (["--ref-point", "10,10", "--frame", "5"], "beyond the end of five.mp4 (5 frames)"),
        (["--ref-point", "10,10", "--head", "7"], "heads 0..3"),
        (["--ref-point", "10,10", "--layer", "4.0"], "does not exist"),
        (["--ref-point", "10;10"], "is not X,Y"),
        (["--ref-point", "1,1", "--level", "res3"], "no temporal layers"),
    ],
)
def test_bad_requests_give_one_line_errors(checkpoint, video, tmp_path, args, message) -> None:
    out = tmp_path / "x.png"
    res = runner.invoke(app, ["visualize-attention", str(video), *args, "--checkpoint",
                              str(checkpoint), "-o", str(out)])  # fmt: skip
    assert res.exit_code == 1
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not out.exists()
