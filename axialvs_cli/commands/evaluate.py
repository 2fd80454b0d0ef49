"""`axialvs evaluate`: VPQ / STQ on VIPSeg, track AP / AR on YouTube-VIS and OVIS."""

from __future__ import annotations

import json
import math
import os
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..errors import InputError
from ..formats._io import atomic_write_bytes

VIPSEG_WINDOWS = (1, 2, 4, 6, 8)  # = evaluation.api.VIPSEG_WINDOWS (imported only when run)


class Dataset(str, Enum):
    vipseg = "vipseg"
    ytvis = "ytvis"
    ovis = "ovis"


EXAMPLES = """Examples:

  axialvs evaluate --dataset vipseg --gt VIPSeg/VIPSeg_720P --pred out/vipseg_val --json vpq.json

  axialvs evaluate --dataset vipseg --gt VIPSeg/VIPSeg_720P --pred out/vipseg_val --vpq-windows 1,2,4,6

  axialvs evaluate --dataset ytvis --gt ytvis_2021/valid.json --pred out/results.json
"""


def evaluate(
    dataset: Annotated[
        Dataset, typer.Option(help="Benchmark: vipseg (VPQ, STQ), ytvis or ovis (track AP).")
    ],
    gt: Annotated[
        Path,
        typer.Option(
            help="vipseg: the VIPSeg_720P folder (panoptic_gt_VIPSeg_val.json + panomasksRGB/) or a "
            "ground-truth JSON beside panomasksRGB/. ytvis/ovis: the annotation JSON (valid.json)."
        ),
    ],
    pred: Annotated[
        Path,
        typer.Option(
            help="vipseg: the submission folder (pred.json + pan_pred/), only read. "
            "ytvis/ovis: results.json (a list of tracks with RLE masks)."
        ),
    ],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the numbers to this JSON file.")
    ] = None,
    vpq_windows: Annotated[
        str,
        typer.Option(
            help="Window lengths n (annotated frames) for VPQ; VIPSeg's script uses 1,2,4,6,8, "
            "the Axial-VS paper 1,2,4,6."
        ),
    ] = ",".join(map(str, VIPSEG_WINDOWS)),
    per_class: Annotated[
        bool, typer.Option(help="Print (and save) the per-class VPQ table.")
    ] = False,
    metrics: Annotated[str, typer.Option(help="vipseg: which of vpq,stq to compute.")] = "vpq,stq",
    workers: Annotated[
        int, typer.Option(min=0, help="vipseg: processes over videos (0: one per CPU core).")
    ] = 1,
    skip_unknown_videos: Annotated[
        bool,
        typer.Option(
            help="ytvis/ovis: leave out result tracks of videos that the GT file lacks (to score "
            "a subset such as YouTube-VIS 2022's long videos) instead of stopping."
        ),
    ] = False,
) -> None:
    """Score predictions against ground truth, exactly as the official evaluators do."""
    console = Console(stderr=True, highlight=False)

    def warn(msg: str) -> None:
        console.print(f"[yellow]Warning:[/] {msg}", soft_wrap=True)

    if dataset is Dataset.vipseg:
        windows = _parse_ints(vpq_windows, "--vpq-windows")
        chosen = [m.strip().lower() for m in metrics.split(",") if m.strip()]
        with _progress(console) as bar:
            task = bar.add_task("videos", total=None)
            from ..evaluation.api import evaluate_vipseg

            result = evaluate_vipseg(
                gt, pred, windows=windows, workers=workers or (os.cpu_count() or 1),
                metrics=chosen, warn=warn,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )  # fmt: skip
        if not per_class:
            result.pop("per_class", None)
        _print_vipseg(result)
    else:
        from ..evaluation.api import evaluate_ytvis

        result = evaluate_ytvis(gt, pred, warn=warn, skip_unknown_videos=skip_unknown_videos)
        result["dataset"] = dataset.value
        _print_ytvis(result)
    if json_out is not None:
        text = json.dumps(_finite(result), indent=2)
        atomic_write_bytes(json_out, (text + "\n").encode("utf-8"))
        console.print(f"wrote {json_out}")


evaluate.__doc__ = f"{evaluate.__doc__}\n\n{EXAMPLES}"


def _parse_ints(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise InputError(f"{option} must be positive integers separated by commas, e.g. 1,2,4,6")
    return values


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, transient=True,
    )  # fmt: skip


def _fmt(value: float | None, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _print_vipseg(result: dict[str, Any]) -> None:
    out = Console()
    videos = result.get("videos", 0)
    if "VPQ" in result:
        windows = [str(n) for n in result["windows"]]
        table = Table(title=f"VIPSeg VPQ ({videos} videos, 0-100)")
        table.add_column("metric")
        table.add_column("mean", justify="right", style="bold")
        for n in windows:
            table.add_column(f"n={n}", justify="right")
        for key in ("VPQ", "VPQ_th", "VPQ_st"):
            row = [_fmt(result[f"{key}_per_window"][n], 2) for n in windows]
            table.add_row(key, _fmt(result[key], 2), *row)
        out.print(table)
    if "per_class" in result:
        table = Table(title="VPQ per class (PQ, 0-100; n/a: no TP/FP/FN in that window)")
        for col in ("id", "name", "kind", *[f"n={n}" for n in result["windows"]]):
            table.add_column(
                col, justify="right" if col.startswith("n=") or col == "id" else "left"
            )
        for cid, info in result["per_class"].items():
            cells = []
            for stats in info["windows"].values():
                active = stats["TP"] + stats["FP"] + stats["FN"] > 0
                cells.append(_fmt(100 * stats["PQ"], 1) if active else "n/a")
            table.add_row(cid, info["name"], "thing" if info["isthing"] else "stuff", *cells)
        out.print(table)
    if "STQ" in result:
        table = Table(title=f"VIPSeg STQ ({videos} videos, 0-1)")
        for key in ("STQ", "AQ", "SQ"):
            table.add_column(key, justify="right")
        table.add_row(*(_fmt(result[k], 4) for k in ("STQ", "AQ", "SQ")))
        out.print(table)


def _print_ytvis(result: dict[str, Any]) -> None:
    name = {"ytvis": "YouTube-VIS", "ovis": "OVIS"}[result["dataset"]]
    table = Table(
        title=f"{name} track AP ({result['videos']} videos, {result['detections']} tracks, 0-1)",
        caption="-1: undefined (no ground truth in that area range)",
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    from ..evaluation.track_ap import STAT_NAMES

    for key in STAT_NAMES:
        table.add_row(key, f"{result[key]:.4f}" if result[key] != -1 else "-1")
    Console().print(table)


def _finite(obj: Any) -> Any:
    """JSON-safe copy: NaN and infinities become null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj
