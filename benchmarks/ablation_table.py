"""Markdown tables of the synthetic ablation from the `axialvs evaluate --json` files.

    python benchmarks/ablation_table.py SCORES_DIR

Files are NAME_sSEED.json (VIPSeg windows 1,2,4,6,8) and NAME_sSEED_paper.json (windows
1,2,4,6, the Axial-VS paper's convention).
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

ROWS = (
    ("baseline", "clip-level baseline (no temporal attention)"),
    ("joint", "+ within-clip, joint space-time attention (ablation)"),
    ("divided", "+ within-clip, divided space-time attention (ablation)"),
    ("axial", "+ within-clip tracking, axial-trajectory attention (near-online)"),
    ("offline", "+ cross-clip tracking (offline)"),
)
METRICS = (
    ("VPQ", "VPQ"), ("VPQ_paper", "VPQ (1,2,4,6)"), ("VPQ_th", "VPQ_th"), ("VPQ_st", "VPQ_st"),
    ("STQ", "STQ"), ("AQ", "AQ"), ("SQ", "SQ"),
)  # fmt: skip


def load(folder: Path) -> dict[str, dict[int, dict[str, float]]]:
    scores: dict[str, dict[int, dict[str, float]]] = defaultdict(dict)
    for path in sorted(folder.glob("*_s*.json")):
        m = re.fullmatch(r"(.+)_s(\d+)(_paper)?\.json", path.name)
        if not m:
            continue
        name, seed, paper = m.group(1), int(m.group(2)), bool(m.group(3))
        data = json.loads(path.read_text())
        row = scores[name].setdefault(seed, {})
        if paper:
            row["VPQ_paper"] = data["VPQ"]
        else:
            row.update({k: data[k] for k in ("VPQ", "VPQ_th", "VPQ_st", "STQ", "AQ", "SQ")})
    return scores


def fmt(values: list[float], scale: float) -> str:
    vals = [v * scale for v in values if v is not None]
    if not vals:
        return "n/a"
    if len(vals) == 1:
        return f"{vals[0]:.1f}"
    return f"{statistics.mean(vals):.1f} ± {statistics.stdev(vals):.1f}"


def main() -> None:
    scores = load(Path(sys.argv[1]))
    header = "| variant | " + " | ".join(label for _, label in METRICS) + " |"
    print(header)
    print("|---|" + "---:|" * len(METRICS))
    for name, label in ROWS:
        if name not in scores:
            continue
        seeds = scores[name]
        cells = []
        for key, _ in METRICS:
            scale = 100.0 if key in ("STQ", "AQ", "SQ") else 1.0
            cells.append(fmt([seeds[s].get(key) for s in sorted(seeds)], scale))
        print(f"| {label} (n={len(seeds)}) | " + " | ".join(cells) + " |")
    print("\nPer seed (VPQ / VPQ (1,2,4,6) / STQ x 100):\n")
    for name, _label in ROWS:
        if name not in scores:
            continue
        per = [
            f"s{s}: {v.get('VPQ', float('nan')):.1f} / {v.get('VPQ_paper', float('nan')):.1f} / "
            f"{100 * v.get('STQ', float('nan')):.1f}"
            for s, v in sorted(scores[name].items())
        ]
        print(f"* {name}: " + "; ".join(per))


if __name__ == "__main__":
    main()
