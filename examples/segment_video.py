"""Segment a video from Python with the library API (what `axialvs segment` does).

    python examples/segment_video.py                          # examples/sample.mp4 -> out/sample
    python examples/segment_video.py my.mp4 -o out/my --checkpoint model.axialvs.pt --offline

Without --checkpoint the installed default model is used: the street model trained on CamVid
(11 classes, research / non-commercial terms; docs/RESULTS.md). `--checkpoint synthetic` is
the tiny model of the synthetic benchmark, 5x faster, which knows nothing about real scenes. The outputs are the VIPSeg submission (pred.json + pan_pred/), the
YouTube-VIS results (results.json) and summary.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from axialvs_cli.formats.palette import read_id_png
from axialvs_cli.inference.device import load_model
from axialvs_cli.inference.runner import SegmentOptions, segment_videos

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path, nargs="?", default=HERE / "sample.mp4")
    parser.add_argument("-o", "--output", type=Path, default=Path("out") / "sample")
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: shipped model")
    parser.add_argument("--offline", action="store_true", help="cross-clip refinement")
    parser.add_argument("--max-frames", type=int, default=None)
    args = parser.parse_args()

    model = load_model(args.checkpoint, device="auto")  # load once, reuse for many calls
    print(f"model: {model.source} ({len(model.classes.names)} classes, T = {model.clip_length})")
    options = SegmentOptions(offline=args.offline, max_frames=args.max_frames, overwrite=True)
    result = segment_videos([args.video], args.output, options=options, model=model)
    result.raise_for_errors()

    video = result.videos[0]
    print(f"{video['video']}: {video['frames']} frames, {video['clips']} clips")
    # Each pan_pred PNG holds segment ids (R + 256 G + 256^2 B); pred.json says what they are.
    first = sorted((result.output / "pan_pred" / video["video"]).glob("*.png"))[0]
    ids = read_id_png(first)
    print(f"{first.name}: {len(np.unique(ids[ids > 0]))} segments")
    print(f"classes seen: {', '.join(video['classes'])}")
    print(f"thing tracks: {video['panoptic_thing_tracks']}")
    print(f"wrote {result.output}")


if __name__ == "__main__":
    main()
