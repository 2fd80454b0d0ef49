"""The distribution ships exactly `axialvs_cli` and `models`, and guards the `models` name."""

from __future__ import annotations

import subprocess
import sys
import types
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

import models
from axialvs_cli._guard import check_models_package

ROOT = Path(__file__).resolve().parents[1]


def test_models_is_ours() -> None:
    assert models.__axialvs__ is True
    assert set(packages_distributions().get("models", [])) == {"axialvs"}
    assert Path(models.__file__).resolve().parent == ROOT / "models"


def test_shadowing_models_package_is_reported(monkeypatch) -> None:
    fake = types.ModuleType("models")
    fake.__file__ = "/somewhere/else/models/__init__.py"
    monkeypatch.setitem(sys.modules, "models", fake)
    with pytest.raises(SystemExit, match="shadows the axialvs network package"):
        check_models_package()


def test_wheel_contains_only_the_two_packages(tmp_path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("axialvs-*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    tops = {t for t in tops if not t.endswith(".dist-info")}
    assert tops == {"axialvs_cli", "models"}
    names = zipfile.ZipFile(wheel).namelist()
    assert "models/layers/trajectory.py" in names
    assert not any(n.startswith(("tests/", "examples/", "benchmarks/")) for n in names)
