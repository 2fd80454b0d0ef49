"""Fuzz every reader of untrusted input with mutated files; the property is checked per input.

Readers: COCO RLE (results.json, decoded), RGB-id PNGs, VIPSeg JSON (ground truth and
submission), YouTube-VIS JSON (ground truth), axialvs checkpoints, official checkpoints,
frame folders and video containers (mp4 / webm / mkv, decoded to the end).

The property: a reader returns, or raises an `AxialVSError` whose message is one line (the CLI
prints it as ``Error: ...`` and exits 1). Anything else is a failure: another exception (the
CLI would show a traceback), a multi-line message, an input that runs past ``--timeout``
seconds, or one that needs more than ``--memory-gib`` of address space (a decompression bomb
or an RLE claiming 10^12 pixels must be refused before allocating).

    python benchmarks/fuzz.py --count 200 --seed 1        # 200 mutated inputs per reader
    python benchmarks/fuzz.py --count 20 --json out.json  # what tests/test_fuzz.py runs

Prints per reader: inputs tried, accepted, refused with a one-line error, failures; exits 1 if
any input failed (each failure is listed with its mutation, so it can be replayed).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
import zlib
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from axialvs_cli.errors import AxialVSError  # noqa: E402
from axialvs_cli.formats import rle, vipseg, ytvis  # noqa: E402
from axialvs_cli.formats._io import load_json  # noqa: E402
from axialvs_cli.formats.palette import read_id_png, write_id_png  # noqa: E402
from axialvs_cli.video import open_video  # noqa: E402


class Hang(Exception):
    """An input ran past the time limit."""


# -- seed files ---------------------------------------------------------------------------------
def _video_bytes(fmt: str, codec: str, n: int = 6, size=(24, 32)) -> bytes:
    buf = io.BytesIO()
    h, w = size
    with av.open(buf, "w", format=fmt) as out:
        s = out.add_stream(codec, rate=10)
        s.height, s.width, s.pix_fmt = h, w, "yuv420p"
        for i in range(n):
            rgb = np.full((h, w, 3), 30, np.uint8)
            rgb[:, (3 * i) % w : (3 * i) % w + 8] = (200, 40, 40)
            for pkt in s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    return buf.getvalue()


def _png_bytes(ids: np.ndarray, tmp: Path) -> bytes:
    path = tmp / "seed.png"
    write_id_png(path, ids)
    return path.read_bytes()


def _bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming width x height RGB pixels, with a tiny compressed body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    row = b"\x00" + b"\x00" * 3 * min(width, 4096)
    data = zlib.compress(row * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def _vipseg_json() -> bytes:
    return json.dumps(
        {
            "videos": [
                {"video_id": "v1", "images": [{"file_name": "0.png"}, {"file_name": "1.png"}]}
            ],
            "annotations": [
                {
                    "video_id": "v1",
                    "annotations": [
                        {
                            "file_name": "0.png",
                            "segments_info": [{"id": 5, "category_id": 1, "area": 10}],
                        },
                        {
                            "file_name": "1.png",
                            "segments_info": [{"id": 5, "category_id": 1, "iscrowd": 0, "area": 4}],
                        },
                    ],
                }
            ],
            "categories": [{"id": 1, "name": "thing", "isthing": 1}],
        }
    ).encode()


def _ytvis_gt(mask: np.ndarray) -> dict:
    seg = rle.encode(mask)
    return {
        "videos": [{"id": 1, "height": mask.shape[0], "width": mask.shape[1], "length": 2,
                    "file_names": ["v/0.jpg", "v/1.jpg"]}],
        "annotations": [{"id": 1, "video_id": 1, "category_id": 1, "iscrowd": 0,
                         "segmentations": [seg, None], "areas": [int(mask.sum()), None],
                         "bboxes": [[0, 0, 4, 4], None]}],
        "categories": [{"id": 1, "name": "person"}],
    }  # fmt: skip


# -- mutations ----------------------------------------------------------------------------------
def mutate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One random damage: truncation, flipped bytes, inserted or removed bytes, a copied
    chunk, or (for text) a number replaced by a huge or negative one."""
    b = bytearray(data)
    kind = rng.choice(["truncate", "flip", "insert", "delete", "duplicate", "number", "zero"])
    if not b:
        return bytes(rng.randbytes(8)), "random"
    if kind == "truncate":
        cut = rng.randrange(len(b))
        return bytes(b[:cut]), f"truncate at {cut}"
    if kind == "flip":
        where = []
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
            where.append(i)
        return bytes(b), f"flip bits at {where}"
    if kind == "insert":
        i = rng.randrange(len(b) + 1)
        extra = rng.randbytes(rng.randint(1, 64))
        return bytes(b[:i] + extra + b[i:]), f"insert {len(extra)} bytes at {i}"
    if kind == "delete":
        i = rng.randrange(len(b))
        n = rng.randint(1, 64)
        return bytes(b[:i] + b[i + n :]), f"delete {n} bytes at {i}"
    if kind == "duplicate":
        i = rng.randrange(len(b))
        n = rng.randint(1, 256)
        j = rng.randrange(len(b))
        return bytes(b[:j] + b[i : i + n] + b[j:]), f"copy {n} bytes from {i} to {j}"
    if kind == "zero":
        i = rng.randrange(len(b))
        n = rng.randint(1, 32)
        b[i : i + n] = bytes(len(b[i : i + n]))
        return bytes(b), f"zero {n} bytes at {i}"
    digits = [i for i, c in enumerate(b) if 48 <= c <= 57]
    if not digits:
        return bytes(b), "unchanged"
    i = rng.choice(digits)
    value = rng.choice([b"1000000000000", b"-1", b"99999999999999999999", b"0", b"1e308", b"-0.5"])
    return bytes(b[:i] + value + b[i + 1 :]), f"number {value.decode()} at {i}"


# -- readers ------------------------------------------------------------------------------------
def _read_results(path: Path, gt: Path) -> None:
    for track in ytvis.read_results(path, ytvis.read_ground_truth(gt)):
        for seg in getattr(track, "segmentations", []) or []:
            if seg is not None:
                rle.decode(seg) if isinstance(seg, dict) else None


def _read_rle_file(path: Path) -> None:
    data = load_json(path, "RLE JSON")
    for item in data if isinstance(data, list) else [data]:
        rle.decode(item)


def _read_video(path: Path) -> None:
    with open_video(path) as source:
        for frame in source:
            assert frame.rgb.shape == (source.height, source.width, 3)


def _read_checkpoint(path: Path) -> None:
    from models.weights import load_checkpoint

    load_checkpoint(path)


def _read_official(path: Path) -> None:
    from models.convert import read_official_checkpoint

    read_official_checkpoint(path)


def build_cases(
    tmp: Path,
) -> dict[str, tuple[list[tuple[str, bytes]], str, Callable[[Path], None]]]:
    """reader -> (seed files (name, bytes), file suffix, function that reads one file)."""
    import torch

    from models.build import build_axialvs
    from models.config import get_preset
    from models.weights import save_checkpoint

    rng = np.random.default_rng(0)
    mask = np.zeros((12, 16), bool)
    mask[3:9, 4:11] = True
    ids = rng.integers(0, 4, (12, 16)).astype(np.uint32) * 1000

    gt_file = tmp / "ytvis_gt.json"
    gt_file.write_text(json.dumps(_ytvis_gt(mask)))
    results = [{"video_id": 1, "category_id": 1, "score": 0.9,
                "segmentations": [rle.encode(mask), rle.encode(~mask)]}]  # fmt: skip
    rles = [rle.encode(mask), rle.encode(rng.random((40, 30)) > 0.5),
            {"size": [12, 16], "counts": [5, 10, 177]}]  # fmt: skip
    huge = [{"size": [1_000_000, 1_000_000], "counts": [10**12]},
            {"size": [1_000_000, 1_000_000], "counts": "0" * 8}]  # fmt: skip

    cfg = get_preset("tiny").replace(
        num_classes=2,
        decoder={"num_queries": 4, "layers": (1, 1, 1)},
        cross_clip={"enabled": False},
    )
    torch.manual_seed(0)
    classes = [{"id": i + 1, "name": f"c{i}", "isthing": i % 2} for i in range(cfg.num_classes)]
    ckpt = save_checkpoint(tmp / "seed.axialvs.pt", build_axialvs(cfg), cfg, {"classes": classes})
    official = tmp / "official.pth"
    torch.save(
        {"state_dict": {"backbone.conv1.weight": torch.zeros(4, 3, 3, 3)}, "meta": {}}, official
    )

    def folder_reader(path: Path) -> None:
        folder = tmp / "frames"
        folder.mkdir(exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        good = Image.fromarray(np.full((12, 16, 3), 90, np.uint8))
        good.save(folder / "000.png")
        (folder / f"001{path.suffix}").write_bytes(path.read_bytes())
        good.save(folder / "002.png")
        _read_video(folder)

    def png_reader(path: Path) -> None:
        read_id_png(path)

    def vipseg_reader(path: Path) -> None:
        root = tmp / "sub"
        (root / "pan_pred").mkdir(parents=True, exist_ok=True)
        (root / "pred.json").write_bytes(path.read_bytes())
        vipseg.read_submission(root)
        gt = tmp / "gt"
        (gt / "panomasksRGB").mkdir(parents=True, exist_ok=True)
        (gt / "panoptic_gt_VIPSeg_val.json").write_bytes(path.read_bytes())
        vipseg.read_ground_truth(gt)

    jpeg = io.BytesIO()
    Image.fromarray(np.full((12, 16, 3), 90, np.uint8)).save(jpeg, format="JPEG")
    return {
        "rle": ([("rle", json.dumps(rles).encode()), ("huge", json.dumps(huge).encode())],
                ".json", _read_rle_file),
        "ytvis-results": ([("results", json.dumps(results).encode())], ".json",
                          lambda p: _read_results(p, gt_file)),
        "ytvis-gt": ([("gt", gt_file.read_bytes())], ".json", ytvis.read_ground_truth),
        "vipseg-json": ([("pred", _vipseg_json())], ".json", vipseg_reader),
        "id-png": ([("ids", _png_bytes(ids, tmp)), ("bomb", _bomb_png(100_000, 100_000))],
                   ".png", png_reader),
        "frame-folder": ([("png", _png_bytes(ids, tmp)), ("jpeg", jpeg.getvalue()),
                          ("bomb", _bomb_png(60_000, 60_000))], ".png", folder_reader),
        "checkpoint": ([("axialvs", ckpt.read_bytes())], ".pt", _read_checkpoint),
        "official-checkpoint": ([("pth", official.read_bytes())], ".pth", _read_official),
        "mp4": ([("h264", _video_bytes("mp4", "libx264"))], ".mp4", _read_video),
        "webm": ([("vp9", _video_bytes("webm", "libvpx-vp9"))], ".webm", _read_video),
        "mkv": ([("h264", _video_bytes("matroska", "libx264")),
                 ("mpeg4", _video_bytes("matroska", "mpeg4"))], ".mkv", _read_video),
    }  # fmt: skip


# -- the run ------------------------------------------------------------------------------------
def check_one(read: Callable[[Path], None], path: Path, timeout: float) -> tuple[str, str]:
    """("ok" | "refused" | "failure", detail) for one file."""

    def alarm(signum, frame):
        raise Hang(f"ran past {timeout} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        read(path)
        return "ok", ""
    except AxialVSError as err:
        text = str(err)
        if "\n" in text or not text.strip():
            return "failure", f"message is not one line: {text!r}"
        return "refused", text
    except Hang as err:
        return "failure", f"hang: {err}"
    except MemoryError:
        return "failure", "unbounded memory (MemoryError)"
    except Exception as err:  # noqa: BLE001 - any other exception is what we look for
        tb = traceback.extract_tb(err.__traceback__)[-1]
        return "failure", f"{type(err).__name__}: {err} ({Path(tb.filename).name}:{tb.lineno})"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run(count: int, seed: int, timeout: float, only: list[str] | None = None) -> dict:
    rng = random.Random(seed)
    stats: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="axialvs-fuzz-") as tmp_name:
        tmp = Path(tmp_name)
        cases = build_cases(tmp)
        for reader, (seeds, suffix, read) in cases.items():
            if only and reader not in only:
                continue
            entry = {"tried": 0, "ok": 0, "refused": 0, "failures": [], "seconds": 0.0}
            started = time.perf_counter()
            inputs = [(f"{name} (unchanged)", data) for name, data in seeds]
            for i in range(count):
                name, data = seeds[i % len(seeds)]
                damaged, how = mutate(data, rng)
                inputs.append((f"{name}: {how}", damaged))
            for label, data in inputs:
                path = tmp / f"input{suffix}"
                path.write_bytes(data)
                outcome, detail = check_one(read, path, timeout)
                entry["tried"] += 1
                if outcome == "failure":
                    entry["failures"].append(f"{label}: {detail}")
                else:
                    entry[outcome] += 1
            entry["seconds"] = round(time.perf_counter() - started, 2)
            stats[reader] = entry
    return stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="mutated inputs per reader")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per input")
    parser.add_argument("--memory-gib", type=float, default=8.0, help="address-space limit")
    parser.add_argument("--only", nargs="*", help="readers to fuzz (default: all)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    limit = int(args.memory_gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    stats = run(args.count, args.seed, args.timeout, args.only)
    print(f"{'reader':<22}{'tried':>7}{'ok':>7}{'refused':>9}{'failures':>10}{'s':>8}")
    for reader, e in stats.items():
        print(f"{reader:<22}{e['tried']:>7}{e['ok']:>7}{e['refused']:>9}{len(e['failures']):>10}"
              f"{e['seconds']:>8}")  # fmt: skip
    total = sum(e["tried"] for e in stats.values())
    failures = [f"{r}: {f}" for r, e in stats.items() for f in e["failures"]]
    print(f"{total} inputs, {len(failures)} failures (seed {args.seed})")
    for line in failures:
        print("  " + line)
    if args.json:
        args.json.write_text(json.dumps({"seed": args.seed, "count": args.count, "readers": stats}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
