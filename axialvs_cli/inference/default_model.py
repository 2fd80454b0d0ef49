"""What the shipped models are, for `axialvs info` and the documentation.

Shipped checkpoints are package data (``assets/NAME.axialvs.pt``, see `model_cards`); each
carries in its ``meta`` what it was trained on (``trained_on``) and what was measured with it
(``benchmark``): CamVid test class IoU / mIoU for the street model, VPQ on the synthetic
benchmark for the synthetic one.
"""

from __future__ import annotations

from typing import Any

from ..model_cards import installed_names, shipped_card

__all__ = ["describe_default_model", "score_line"]


def _num(x: Any) -> bool:
    return isinstance(x, (int, float))


def score_line(bench: dict[str, Any]) -> str | None:
    """One line of what a shipped model's meta says it scored."""
    camvid = bench.get("camvid_test")
    if isinstance(camvid, dict) and _num(camvid.get("mIoU")):
        line = f"CamVid test (233 frames, 11 classes): mIoU {camvid['mIoU']:.1f}"
        if _num(camvid.get("PQ")):
            line += f", PQ {camvid['PQ']:.1f}"
        return line
    parts = []
    for mode, label in (("near_online", "near-online"), ("offline", "offline")):
        scores = bench.get(mode)
        if isinstance(scores, dict) and _num(scores.get("VPQ")):
            parts.append(f"{label} {scores['VPQ']:.1f}")
    return f"VPQ on the synthetic validation split: {', '.join(parts)}" if parts else None


def describe_default_model() -> str:
    """A few lines per shipped model: file, preset, classes, training data, measured scores."""
    names = installed_names()
    if not names:
        return (
            "default model: none installed; pass --checkpoint (train one with `axialvs train` "
            "or convert official weights with `axialvs convert`)"
        )
    lines = []
    for k, name in enumerate(names):
        try:
            found = shipped_card(name)
        except Exception as err:  # a damaged checkpoint: say so rather than fail `info`
            lines.append(f"{name}: cannot be read ({err})")
            continue
        if found is None:
            continue
        path, card = found
        head = "default model" if k == 0 else "also shipped"
        size = card.get("input_size") or [None, None]
        runs_at = f", input {size[0]}x{size[1]}" if None not in size else ""
        lines.append(
            f"{head} ({name}): {path} ({card.get('size_mib')} MiB), preset "
            f"{card.get('preset')}{runs_at}, classes: {', '.join(card.get('classes', []))}"
        )
        lines.append(f"  trained on {card.get('trained_on', 'unknown data')}")
        score = score_line(card.get("benchmark") or {})
        if score:
            lines.append(f"  {score}")
    lines.append(
        f"shipped names for --checkpoint: {', '.join(names)}; the default model is {names[0]}"
    )
    return "\n".join(lines)
