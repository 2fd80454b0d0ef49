"""Small file helpers shared by the format readers and writers."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import FormatError, InputError


def load_json(path: Path, what: str) -> Any:
    """Parse a JSON file; a missing or malformed file becomes a one-line error naming it."""
    if not path.is_file():
        raise InputError(f"{path}: {what} not found (no such file)")
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise FormatError(
            f"{path}: {what} is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})"
        ) from None
    except UnicodeDecodeError:
        raise FormatError(f"{path}: {what} is not UTF-8 text") from None


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file through a temporary file in the same folder and `os.replace`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """`atomic_write_bytes` of compact JSON."""
    atomic_write_bytes(path, json.dumps(obj, separators=(",", ":")).encode("utf-8"))


def pid_alive(pid: int) -> bool:
    """Whether process `pid` still runs (a temporary file named after it may still be used)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    except OverflowError:
        return False
    return True
