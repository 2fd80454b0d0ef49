"""End-to-end speed and peak memory of `axialvs segment` / `refine` at 480p, 720p and 1080p.

For every size and mode, one fresh process segments the same 30-frame H.264 video (made from
a real video of the test data when present, else from a synthetic moving pattern) with a
shipped model (`--checkpoints`, default the tiny `synthetic`) and both outputs (panoptic + instance), and reports:

- end-to-end frames/s (decoding, network, post-processing, writing: the wall time of
  `segment_videos` given the loaded model), and the time to load the model before it,
- network-only frames/s (frames / the time spent in the network, from summary.json),
- post-processing + writing time per frame,
- peak resident memory of the process, next to that of a process that only decodes the
  video and runs the near-online network on it (what the network needs), and the difference
  in frames of the video's size.

    python benchmarks/segment_speed.py [--frames 60] [--threads 0] [--out docs/benchmarks]
    # the shipped models side by side at 480p, near-online only
    python benchmarks/segment_speed.py --checkpoints synthetic,camvid --sizes 480p \
        --modes segment --name shipped_models_480p

Prints a Markdown table and writes it to OUT/NAME.md (default segment_speed). The default
checkpoint is the shipped `synthetic` model (the tiny preset). Run it on an otherwise idle
machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import numpy as np

SIZES = {"480p": (480, 854), "720p": (720, 1280), "1080p": (1080, 1920)}
SOURCE = (
    Path(os.environ.get("AXIALVS_TEST_DATA", "/work/shared/data")) / "videos" / "sam2_01_dog.mp4"
)

CHILD = r"""
import json, resource, sys, time
from axialvs_cli.inference.device import load_model
from axialvs_cli.inference.runner import SegmentOptions, segment_videos
video, out, offline, threads = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
checkpoint = sys.argv[5]
t0 = time.perf_counter()
loaded = load_model(checkpoint, "auto", threads, reserve_core=True)  # as segment_videos does
load = time.perf_counter() - t0
t0 = time.perf_counter()
result = segment_videos(
    [video], out, model=loaded, options=SegmentOptions(offline=offline, threads=threads)
)
wall = time.perf_counter() - t0
v = result.videos[0]
print(json.dumps({
    "frames": v["frames"], "wall_s": wall, "load_s": load, "model_s": v["timing"]["model_s"],
    "postprocess_s": v["timing"]["postprocess_s"],
    "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""

# decoding and the network only (no post-processing, no writing): the memory the network needs
NETWORK_CHILD = r"""
import json, resource, sys
from axialvs_cli.inference.device import load_model
from axialvs_cli.inference.preprocess import plan_geometry, stream_clips
from axialvs_cli.inference.runner import SegmentOptions
from axialvs_cli.inference.tracking import NearOnlineRunner
from axialvs_cli.video import open_video
video, threads, checkpoint = sys.argv[1], int(sys.argv[2]), sys.argv[3]
loaded = load_model(checkpoint, "auto", threads, reserve_core=True)
source = open_video(video)
sides = SegmentOptions(threads=threads).sides(loaded)
geometry = plan_geometry(source.height, source.width, *sides, loaded.segmenter == "kmax")
runner = NearOnlineRunner(loaded.model)
for clip, frames in stream_clips(source, geometry, loaded.clip_length, loaded.pixel_mean):
    runner.step(clip, len(frames))
print(json.dumps({"rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_video(path: Path, size: tuple[int, int], frames: int, skip: int = 0) -> Path:
    """A `frames`-frame H.264 video of `size` (H, W): the real test video resized, or a
    synthetic moving pattern when the test data is absent."""
    h, w = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.height, stream.width, stream.pix_fmt = h, w, "yuv420p"
        stream.options = {"crf": "20"}

        def write(frame: av.VideoFrame) -> None:
            for packet in stream.encode(frame.reformat(width=w, height=h, format="yuv420p")):
                out.mux(packet)

        if SOURCE.is_file():
            with av.open(str(SOURCE)) as src:
                for i, frame in enumerate(src.decode(video=0)):
                    if i >= skip + frames:
                        break
                    if i >= skip:
                        write(frame)
        else:
            yy, xx = np.mgrid[0:h, 0:w]
            for i in range(frames):
                rgb = np.stack([(xx + 8 * i) % 256, (yy + 4 * i + skip) % 256, (xx + yy) % 256], -1)
                write(av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24"))
        for packet in stream.encode():
            out.mux(packet)
    return path


def measure(video: Path, offline: bool, threads: int, work: Path, checkpoint: str) -> dict:
    out = work / f"out_{video.stem}_{int(offline)}_{Path(checkpoint).stem}"
    cmd = [sys.executable, "-c", CHILD, str(video), str(out), "1" if offline else "0",
           str(threads), checkpoint]  # fmt: skip
    line = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    return json.loads(line.splitlines()[-1])


def network_rss(video: Path, threads: int, checkpoint: str) -> float:
    cmd = [sys.executable, "-c", NETWORK_CHILD, str(video), str(threads), checkpoint]
    line = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    return float(json.loads(line.splitlines()[-1])["rss_mib"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks"))
    parser.add_argument("--name", default="segment_speed", help="OUT/NAME.md")
    parser.add_argument(
        "--checkpoints", default="synthetic", help="comma-separated: names or files"
    )
    parser.add_argument("--sizes", default=",".join(SIZES), help="of " + ", ".join(SIZES))
    parser.add_argument("--modes", default="segment,refine")
    args = parser.parse_args()
    checkpoints = args.checkpoints.split(",")
    modes = [m == "refine" for m in args.modes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for label in args.sizes.split(","):
            video = make_video(work / f"{label}.mp4", SIZES[label], args.frames)
            frame_mib = SIZES[label][0] * SIZES[label][1] * 3 / 2**20  # one RGB frame
            alone = {c: network_rss(video, args.threads, c) for c in checkpoints}
            for offline in modes:
                for checkpoint in checkpoints:
                    m = measure(video, offline, args.threads, work, checkpoint)
                    n = m["frames"]
                    extra = (m["rss_mib"] - alone[checkpoint]) / frame_mib
                    rows.append(
                        f"| {label} | {'refine' if offline else 'segment'} | {checkpoint} "
                        f"| {n / m['wall_s']:.2f} | {n / m['model_s']:.1f} "
                        f"| {1000 * m['postprocess_s'] / n:.0f} | {m['load_s']:.2f} "
                        f"| {m['rss_mib']:.0f} | {alone[checkpoint]:.0f} | {extra:.1f} |"
                    )
                    print(rows[-1], flush=True)
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    source = SOURCE.name if SOURCE.is_file() else "a synthetic pattern"
    text = "\n".join(
        [
            f"# segment / refine speed ({args.frames}-frame H.264 video from {source}, "
            f"panoptic + instance outputs; {machine})",
            "",
            "| size | command | model | end to end (frames/s) | network (frames/s) | "
            "post-processing + writing (ms/frame) | model load (s) | peak RSS (MiB) | "
            "peak RSS, decoding + network alone (MiB) | above that, in RGB frames |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            "The network-alone run decodes the video and runs the near-online network on it, "
            "nothing else; the last column is the difference in frames of the video's size "
            "(H x W x 3 bytes). Refine keeps every clip's features for its second pass, so it "
            "needs more than the near-online network.",
            "",
            f"Made by `{' '.join(['python benchmarks/segment_speed.py', *sys.argv[1:]])}`.",
            "",
        ]
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
