"""What the shipped default model is, for `axialvs info` and the documentation.

The default model (package data ``assets/default.axialvs.pt``) is a `tiny` Axial-VS trained on
the synthetic benchmark of docs/RESULTS.md only; its ``meta`` says so (``trained_on``) and
carries the scores measured with it on the benchmark's validation split (``benchmark``).
"""

from __future__ import annotations

from typing import Any

from models.errors import CheckpointError
from models.weights import read_checkpoint

from .device import default_checkpoint

__all__ = ["describe_default_model"]


def _vpq(scores: Any) -> str | None:
    if isinstance(scores, dict) and isinstance(scores.get("VPQ"), (int, float)):
        return f"{scores['VPQ']:.1f}"
    return None


def describe_default_model() -> str:
    """A few lines: where the default model is, what it was trained on, its measured VPQ."""
    path = default_checkpoint()
    if path is None:
        return (
            "default model: none installed; pass --checkpoint (train one with `axialvs train` "
            "or convert official weights with `axialvs convert`)"
        )
    try:
        payload = read_checkpoint(path)
    except CheckpointError as err:
        return f"default model: {path} cannot be read ({err})"
    meta, cfg = payload["meta"], payload["config"]
    names = ", ".join(str(c.get("name")) for c in meta.get("classes", []))
    size = path.stat().st_size / 2**20
    lines = [
        f"default model: {path} ({size:.1f} MiB), preset {cfg.get('name')}, classes: {names}",
        f"  trained on {meta.get('trained_on', 'unknown data')}",
    ]
    bench = meta.get("benchmark") or {}
    near, off = _vpq(bench.get("near_online")), _vpq(bench.get("offline"))
    if near or off:
        parts = [f"near-online {near}" if near else "", f"offline {off}" if off else ""]
        lines.append(f"  VPQ on the synthetic validation split: {', '.join(p for p in parts if p)}")
    return "\n".join(lines)
