"""Errors of the application. Every one becomes a single line on stderr and a non-zero exit."""

from models.errors import AxialVSError, CheckpointError, ConfigError

__all__ = [
    "AxialVSError",
    "CheckpointError",
    "ConfigError",
    "InputError",
    "VideoError",
    "FormatError",
    "OutputExistsError",
]


class InputError(AxialVSError):
    """A missing or unusable input file or option value."""


class VideoError(AxialVSError):
    """A video that cannot be opened or decoded."""


class FormatError(AxialVSError):
    """A file in a dataset / result format that does not follow that format."""


class OutputExistsError(AxialVSError):
    """An output that exists already and would be overwritten."""
