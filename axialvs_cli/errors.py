"""Errors of the application. Every one becomes a single line on stderr and a non-zero exit."""

import errno
import os

from models.errors import AxialVSError, CheckpointError, ConfigError

__all__ = [
    "AxialVSError",
    "CheckpointError",
    "ConfigError",
    "InputError",
    "VideoError",
    "FormatError",
    "OutputExistsError",
    "OutputError",
    "os_error_line",
    "Terminated",
]


class InputError(AxialVSError):
    """A missing or unusable input file or option value."""


class VideoError(AxialVSError):
    """A video that cannot be opened or decoded."""


class FormatError(AxialVSError):
    """A file in a dataset / result format that does not follow that format."""


class OutputExistsError(AxialVSError):
    """An output that exists already and would be overwritten."""


class OutputError(AxialVSError):
    """An output that cannot be written (missing or read-only folder, no space, bad name)."""


_HINTS = {
    errno.ENOSPC: "free some space or write elsewhere",
    errno.EDQUOT: "free some space or write elsewhere",
    errno.EACCES: "the place is not writable for this user; choose another output",
    errno.EPERM: "the place is not writable for this user; choose another output",
    errno.EROFS: "the file system is read-only; choose another output",
    errno.ENAMETOOLONG: "use a shorter output name",
    errno.ENOENT: "the folder above it does not exist and cannot be made; check the path",
    errno.ENOTDIR: "a part of the path is a file, not a folder; check the path",
    errno.EISDIR: "a folder has that name; choose another output",
}


def os_error_line(err: OSError, path: object | None = None, verb: str = "cannot write") -> str:
    """One line naming the file and the cause of an OSError, with what to do about it."""
    where = err.filename if err.filename is not None else path
    reason = err.strerror or str(err) or type(err).__name__
    hint = _HINTS.get(err.errno or -1)
    name = os.fsdecode(where) if isinstance(where, (str, bytes, os.PathLike)) else where
    head = f"{verb} {name}: {reason}" if name is not None else f"{verb}: {reason}"
    return f"{head}; {hint}" if hint else head


class Terminated(BaseException):  # noqa: N818 - like KeyboardInterrupt, not an error
    """SIGTERM arrived: unwinds like KeyboardInterrupt (partial outputs are removed), exit 143."""

    exit_code = 143
