"""Class tables of the datasets the official checkpoints were trained on.

The tables are data files (`assets/classes_*.json`): `categories[c]` describes class index `c`
of a model (`id` is the dataset's category id, `name`, `isthing`).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from .errors import InputError

TABLES = {
    "vipseg": "classes_vipseg.json",
    "ytvis2021": "classes_ytvis2021.json",
    "ytvis2022": "classes_ytvis2021.json",  # the 2022 challenge uses the 2021 classes
    "ovis": "classes_ovis.json",
    "coco-panoptic": "classes_coco_panoptic.json",
}
# (variant, number of classes) -> the table its official checkpoints were trained with
DEFAULT_TABLES = {
    ("video-kmax", 124): "vipseg",
    ("tube-link", 40): "ytvis2021",
    ("tube-link", 25): "ovis",
    ("video-kmax", 133): "coco-panoptic",  # the COCO kMaX-DeepLab initialisations
}


def load_table(name: str) -> dict[str, Any]:
    """The table called `name` (a key of `TABLES`): {"dataset", "note", "categories"}."""
    if name not in TABLES:
        raise InputError(f"unknown class table {name!r}; choose one of {', '.join(TABLES)}")
    text = resources.files("axialvs_cli").joinpath("assets", TABLES[name]).read_text("utf-8")
    return json.loads(text)


def default_table(variant: str, num_classes: int) -> str | None:
    """The table the official `variant` checkpoints with `num_classes` classes use, if known."""
    return DEFAULT_TABLES.get((variant, num_classes))
