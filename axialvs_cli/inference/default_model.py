"""What the shipped default model is, for `axialvs info` and the documentation.

The default model (package data ``assets/default.axialvs.pt``) is a `tiny` Axial-VS trained on
the synthetic benchmark of docs/RESULTS.md only; its ``meta`` says so (``trained_on``) and
carries the scores measured with it on the benchmark's validation split (``benchmark``).
"""

from __future__ import annotations

from typing import Any

from ..model_cards import default_card

__all__ = ["describe_default_model"]


def _vpq(scores: Any) -> str | None:
    if isinstance(scores, dict) and isinstance(scores.get("VPQ"), (int, float)):
        return f"{scores['VPQ']:.1f}"
    return None


def _shipped_names() -> list[str]:
    from ..model_cards import SHIPPED_FILES, asset

    return [name for name, file in SHIPPED_FILES.items() if asset(file).is_file()]


def describe_default_model() -> str:
    """A few lines: where the default model is, what it was trained on, its measured VPQ."""
    try:
        found = default_card()
    except Exception as err:  # a damaged checkpoint: say so rather than fail `info`
        return f"default model: cannot be read ({err})"
    if found is None:
        return (
            "default model: none installed; pass --checkpoint (train one with `axialvs train` "
            "or convert official weights with `axialvs convert`)"
        )
    path, card = found
    names = ", ".join(card.get("classes", []))
    lines = [
        f"default model: {path} ({card.get('size_mib')} MiB), preset {card.get('preset')}, "
        f"classes: {names}",
        f"  trained on {card.get('trained_on', 'unknown data')}",
        f"  shipped names for --checkpoint: {', '.join(_shipped_names())}; the default model is synthetic",
    ]
    bench = card.get("benchmark") or {}
    near, off = _vpq(bench.get("near_online")), _vpq(bench.get("offline"))
    if near or off:
        parts = [f"near-online {near}" if near else "", f"offline {off}" if off else ""]
        lines.append(f"  VPQ on the synthetic validation split: {', '.join(p for p in parts if p)}")
    return "\n".join(lines)
