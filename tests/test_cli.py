"""The Typer application: version, info, and the one-line error format."""

from __future__ import annotations

import json

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


def test_info_cards_equal_what_the_code_and_checkpoint_give() -> None:
    """`info` prints stored cards (so that it does not import PyTorch); they must be current:
    regenerate with `python -m axialvs_cli.model_cards` after changing a preset or the model."""
    from axialvs_cli import model_cards

    assert model_cards.preset_cards() == model_cards.compute_preset_cards()
    names = model_cards.installed_names()
    assert names, "no shipped model is installed"
    for name in names:
        path, card = model_cards.shipped_card(name)
        stored = model_cards.asset(model_cards.card_file(model_cards.SHIPPED_FILES[name]))
        assert json.loads(stored.read_text()) == card == model_cards.compute_card(path)


def test_info_and_help_do_not_import_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from typer.testing import CliRunner; from axialvs_cli.main import app; "
        "r = CliRunner().invoke(app, ['info']); assert r.exit_code == 0, r.output; "
        "CliRunner().invoke(app, ['--help']); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    # `--help` needs neither numpy nor PyAV (their import is most of its start-up time)
    code = (
        "import sys; from typer.testing import CliRunner; from axialvs_cli.main import app; "
        "CliRunner().invoke(app, ['--help']); "
        "print(sorted(m for m in ('numpy', 'av', 'torch', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_evaluate_windows_default_matches_the_evaluator() -> None:
    from axialvs_cli.commands import evaluate
    from axialvs_cli.evaluation import api

    assert evaluate.VIPSEG_WINDOWS == api.VIPSEG_WINDOWS


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


def test_help_text_reflows_prose_and_keeps_examples() -> None:
    from axialvs_cli.main import reflow_help

    doc = """Do a thing.

    First line of a paragraph
    that goes on here.

    - item one
    - item two

    Examples:

      axialvs synth --out x
    """
    assert reflow_help(doc).split("\n\n") == [
        "Do a thing.",
        "First line of a paragraph that goes on here.",
        "- item one\n- item two",
        "Examples:",
        "  axialvs synth --out x",
    ]


def test_command_help_wraps_to_the_terminal() -> None:
    res = runner.invoke(app, ["synth", "--help"], terminal_width=80)
    assert res.exit_code == 0
    # the source breaks its line after "unlabelled": the paragraph must flow past it
    assert any("unlabelled poles (void)" in line for line in res.output.splitlines())
    assert "  axialvs synth --out data/synth --videos 16" in res.output
