"""The Typer application: version, info, and the one-line error format."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from axialvs_cli import __version__
from axialvs_cli.errors import InputError
from axialvs_cli.main import _Group, app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"axialvs {__version__}"


def test_info_lists_presets_with_parameter_counts() -> None:
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    for name in ("tiny", "r50", "convnext-large"):
        assert name in result.output
    # r50: 86.72M parameters in total, 23.51M of them the ResNet-50 backbone.
    r50 = next(line for line in result.output.splitlines() if " r50 " in line)
    assert "86.72M" in r50 and "23.51M" in r50


def test_library_errors_become_one_line_and_exit_1(monkeypatch) -> None:
    demo = typer.Typer(cls=_Group)

    @demo.command()
    def fail() -> None:
        raise InputError("input clip.mp4 does not exist; check the path")

    @demo.command()
    def ok() -> None:
        typer.echo("fine")

    monkeypatch.delenv("AXIALVS_DEBUG", raising=False)
    result = runner.invoke(demo, ["fail"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: input clip.mp4 does not exist; check the path"
    monkeypatch.setenv("AXIALVS_DEBUG", "1")
    result = runner.invoke(demo, ["fail"])
    assert isinstance(result.exception, InputError)  # traceback kept for debugging
