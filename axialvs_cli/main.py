"""The `axialvs` Typer application: command registration and error formatting.

Every `AxialVSError` raised below a command becomes one line on stderr and exit code
`err.exit_code` (1 by default). `AXIALVS_DEBUG=1` shows the full traceback instead.
"""

from __future__ import annotations

import inspect
import os
import signal
import sys

import typer
from typer.core import TyperGroup

from . import __version__
from ._guard import check_models_package
from .errors import AxialVSError, Terminated, os_error_line

check_models_package()

from .commands import convert as _convert  # noqa: E402
from .commands import evaluate as _evaluate  # noqa: E402
from .commands import info as _info  # noqa: E402  (after the guard on purpose)
from .commands import render as _render  # noqa: E402
from .commands import segment as _segment  # noqa: E402
from .commands import synth as _synth  # noqa: E402
from .commands import train as _train  # noqa: E402
from .commands import visualize as _visualize  # noqa: E402


def _debug() -> bool:
    return os.environ.get("AXIALVS_DEBUG", "") not in ("", "0")


class _Group(TyperGroup):
    """Turns library errors into one-line messages with a non-zero exit code."""

    def invoke(self, ctx):  # noqa: D401 - Click hook
        try:
            return super().invoke(ctx)
        except AxialVSError as err:
            if _debug():
                raise
            typer.echo(f"Error: {err}", err=True)
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("Interrupted.", err=True)
            raise typer.Exit(130) from None
        except Terminated:
            typer.echo("Terminated.", err=True)
            raise typer.Exit(Terminated.exit_code) from None
        except OSError as err:  # a file the command could not read or write
            if _debug():
                raise
            typer.echo(f"Error: {os_error_line(err, verb='cannot use')}", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    name="axialvs",
    help="Video panoptic / instance segmentation with Axial-VS (axial-trajectory attention).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"axialvs {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """Video panoptic / instance segmentation with Axial-VS."""


def reflow_help(doc: str | None) -> str:
    """A docstring as `--help` text that wraps to any terminal width: the lines of a prose
    paragraph are joined into one; indented lines (examples) and list items keep their breaks."""
    paragraphs = inspect.cleandoc(doc or "").split("\n\n")
    out = []
    for para in paragraphs:
        lines = para.splitlines()
        keep = any(line[:1].isspace() or line.lstrip().startswith(("- ", "* ")) for line in lines)
        out.append(para if keep else " ".join(line.strip() for line in lines))
    return "\n\n".join(out)


COMMANDS = {
    "segment": _segment.segment,
    "refine": _segment.refine,
    "render": _render.render,
    "visualize-attention": _visualize.visualize_attention_command,
    "evaluate": _evaluate.evaluate,
    "train": _train.train,
    "synth": _synth.synth,
    "convert": _convert.convert,
    "info": _info.info,
}
for _name, _func in COMMANDS.items():
    app.command(_name, help=reflow_help(_func.__doc__))(_func)


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def main() -> None:
    """Console-script entry point; SIGTERM unwinds like Ctrl-C, so no partial output stays."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    sys.exit(app())
