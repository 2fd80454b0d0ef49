"""Make `examples/sample.mp4`: a short synthetic street scene rendered by `axialvs synth`.

The frames come from the project's own scene generator (the same one as the synthetic
benchmark of docs/RESULTS.md, with a seed and split name that neither its training nor its
validation split uses) and are encoded as H.264 with `axialvs_cli.video.VideoWriter`.

    python examples/make_sample_video.py                    # writes examples/sample.mp4
    python examples/make_sample_video.py -o clip.mp4 --frames 24 --seed 3
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from axialvs_cli.data.synth import SynthConfig, generate
from axialvs_cli.video import VideoWriter, list_frames

HERE = Path(__file__).resolve().parent


def make_sample_video(
    path: Path, frames: int = 48, size: tuple[int, int] = (144, 256), seed: int = 7, fps: int = 12
) -> Path:
    """Render one synthetic video of `frames` frames (height x width `size`) to `path`."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = SynthConfig(videos=1, frames=frames, size=size, seed=seed, split="sample")
        generate(tmp, cfg)
        folder = Path(tmp) / "images" / "sample_0000"
        height, width = size
        with VideoWriter(path, fps, width, height, crf=23, preset="slow") as out:
            for frame in list_frames(folder):
                out.write(np.asarray(Image.open(frame).convert("RGB")))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=HERE / "sample.mp4")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fps", type=int, default=12)
    args = parser.parse_args()
    path = make_sample_video(args.output, args.frames, seed=args.seed, fps=args.fps)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB, {args.frames} frames)")


if __name__ == "__main__":
    main()
