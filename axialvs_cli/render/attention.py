"""`visualize_attention`: run a model on one clip and draw a reference point's attention."""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from models.within_clip import AttentionRequest

from ..errors import InputError
from ..formats._io import atomic_write_bytes
from ..inference.device import load_model
from ..inference.preprocess import frame_tensor, plan_geometry
from ..video import VideoWriter, open_video
from .attention_draw import GridMapping, animation_frames, figure, trajectory_map

LEVEL_STRIDES = {"res3": 8, "res4": 16, "res5": 32}


@dataclass
class AttentionFigure:
    """What was drawn: the written files and where the reference points landed."""

    outputs: list[Path]
    clip_frames: list[int]  # video frame indices shown
    cells: list[tuple[int, int]]  # (row, column) of each reference point on the grid
    grid: tuple[int, int]
    heats: list[np.ndarray]  # per point: (frames, H, W) maps over the displayed frames


def parse_point(text: str) -> tuple[float, float]:
    """'X,Y' -> (x, y) in pixels of the displayed frame."""
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"--ref-point {text!r} is not X,Y (two numbers, e.g. 320,180)") from None
    return x, y


def parse_layer(text: str | None) -> tuple[int, int]:
    """'BLOCK.LAYER' (e.g. '1.0'), 'LAYER' (within the last block) or None (the last layer)."""
    if text is None:
        return -1, -1
    try:
        parts = [int(v) for v in text.split(".")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        return -1, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise InputError(f"--layer {text!r} is not BLOCK.LAYER (e.g. 1.0) or LAYER (e.g. 1)")


def _read_clip(video: Path, frame: int, clip_length: int, stream: int | None) -> tuple[list, int]:
    """The frames of the clip holding `frame` (streaming; stops after them)."""
    start = (frame // clip_length) * clip_length
    frames = []
    with open_video(video, stream=stream) as source:
        for f in source:
            if f.index >= start + clip_length:
                break
            if f.index >= start:
                frames.append(f.rgb)
        count = source.frames_read
    if frame < 0 or not frames or frame >= start + len(frames):
        raise InputError(
            f"--frame {frame} is beyond the end of {video.name} ({count} frames); "
            f"use 0 <= F < {count}"
        )
    return frames, start


def visualize_attention(
    video: Path,
    points: list[tuple[float, float]],
    output: Path,
    *,
    frame: int = 0,
    layer: str | None = None,
    level: str = "res4",
    head: int | None = None,
    checkpoint: Path | None = None,
    device: str = "auto",
    stream: int | None = None,
    gif: bool = False,
    mp4: bool = False,
) -> AttentionFigure:
    """Draw the within-clip axial-trajectory attention of reference points (paper Fig. 1).

    The model runs on the clip containing `frame`; the points (pixels of the displayed frame
    `frame`) are mapped onto the feature grid of `level`; each point's map is the product of
    its H-axis and W-axis maps, per frame of the clip, normalised per frame.
    """
    if not points:
        raise InputError("give at least one --ref-point X,Y")
    if level not in LEVEL_STRIDES:
        raise InputError(f"--level {level!r} is not one of {', '.join(LEVEL_STRIDES)}")
    if output.suffix.lower() != ".png":
        raise InputError(f"-o {output}: the figure is written as PNG; use a .png name")
    loaded = load_model(checkpoint, device)
    frames, start = _read_clip(video, frame, loaded.clip_length, stream)
    real = len(frames)
    frames_in = frames + [frames[-1]] * (loaded.clip_length - real)  # pad the last clip
    h, w = frames[0].shape[:2]
    inf = loaded.inference
    geometry = plan_geometry(h, w, inf.short_side, inf.long_side)
    clip = torch.stack([frame_tensor(f, geometry, loaded.pixel_mean) for f in frames_in])
    block, index = parse_layer(layer)
    with torch.no_grad():
        out = loaded.model.forward_clip(
            clip[None].to(loaded.device), attention=AttentionRequest(block, index, level)
        )
    maps = out.attention
    heads, grid = maps.height.shape[2], (maps.height.shape[4], maps.height.shape[1])
    if head is not None and not 0 <= head < heads:
        raise InputError(f"--head {head}: this layer has heads 0..{heads - 1} (or use mean)")
    scale = (geometry.scaled_height / h, geometry.scaled_width / w)
    mapping = GridMapping(scale, LEVEL_STRIDES[level], grid, (h, w))
    ref = frame - start
    cells = [mapping.cell(x, y) for x, y in points]
    heats = [
        np.stack([mapping.to_frame(m) for m in trajectory_map(maps, ref, cell, head)[:real]])
        for cell in cells
    ]
    outputs = [output]
    buffer = io.BytesIO()
    Image.fromarray(figure(frames, heats, points, ref)).save(buffer, format="PNG")
    atomic_write_bytes(output, buffer.getvalue())
    anim = animation_frames(frames, heats, points, ref) if (gif or mp4) else []
    if gif:
        buffer = io.BytesIO()
        images = [Image.fromarray(a) for a in anim]
        images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                       duration=500, loop=0)  # fmt: skip
        atomic_write_bytes(output.with_suffix(".gif"), buffer.getvalue())
        outputs.append(output.with_suffix(".gif"))
    if mp4:
        height, width = anim[0].shape[:2]
        with VideoWriter(output.with_suffix(".mp4"), Fraction(2), width, height) as writer:
            for a in anim:
                writer.write(a)
        outputs.append(output.with_suffix(".mp4"))
    return AttentionFigure(outputs, list(range(start, start + real)), cells, grid, heats)
