"""axialvs: the command-line application over the `models` package."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("axialvs")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
