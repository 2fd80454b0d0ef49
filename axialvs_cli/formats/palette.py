"""The RGB encoding of panoptic segment ids: id = R + 256 G + 256^2 B, id 0 (black) = void.

This is the encoding of VIPSeg's ``panomasksRGB`` and of the submission's ``pan_pred`` PNGs
(panopticapi's convention). Ids are 24-bit: 0 .. 2^24 - 1.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import FormatError, InputError
from ._io import atomic_write_bytes

MAX_ID = 2**24 - 1
MAX_PIXELS = 2**28  # 16K x 16K


def rgb_to_id(rgb: np.ndarray) -> np.ndarray:
    """[H, W, 3+] uint8 -> [H, W] uint32 ids (channels past the third are ignored)."""
    h, w = rgb.shape[:2]
    padded = np.zeros((h, w, 4), dtype=np.uint8)
    padded[:, :, :3] = rgb[:, :, :3]
    return padded.view("<u4")[:, :, 0]


def id_to_rgb(ids: np.ndarray) -> np.ndarray:
    """[H, W] ids in 0 .. 2^24 - 1 -> [H, W, 3] uint8."""
    as4 = np.ascontiguousarray(ids, dtype="<u4")[:, :, None].view(np.uint8)
    return np.ascontiguousarray(as4[:, :, :3])


def check_id_map(ids: np.ndarray) -> None:
    """Raise ValueError unless ``ids`` is a [H, W] integer map of 24-bit ids."""
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"an id map must be a [H, W] integer array, got {ids.dtype} {ids.shape}")
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) > MAX_ID):
        raise ValueError(f"segment ids must lie in 0..{MAX_ID}")


def read_id_png(path: Path, what: str = "PNG") -> np.ndarray:
    """Read an RGB id PNG.

    Returns:
        [H, W] uint32 ids.
    """
    try:
        with Image.open(path) as img:
            mode = img.mode
            if mode not in ("RGB", "RGBA"):
                raise FormatError(
                    f"{path}: {what} has mode {mode}, expected an RGB PNG "
                    "(id = R + 256*G + 256^2*B, 0 = void)"
                )
            w, h = img.size
            if w * h > MAX_PIXELS:  # a decompression bomb: refuse before decoding
                raise FormatError(
                    f"{path}: {what} claims {w}x{h} pixels, more than any video frame "
                    f"(limit {MAX_PIXELS}); the file is damaged or not an id map"
                )
            rgba = img.convert("RGBA").tobytes()  # one C pass; faster than numpy channel math
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except Image.DecompressionBombError:
        raise FormatError(
            f"{path}: {what} claims more pixels than any video frame (a decompression bomb or a "
            "damaged file); it is refused before decoding"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise FormatError(f"{path}: {what} cannot be read as an image ({err})") from None
    ids = np.frombuffer(rgba, dtype="<u4").reshape(h, w)
    return ids & np.uint32(MAX_ID)  # drop the alpha byte


def write_id_png(path: Path, ids: np.ndarray, compress_level: int = 6) -> None:
    """Write [H, W] ids as an RGB PNG, atomically."""
    check_id_map(ids)
    buf = io.BytesIO()
    Image.fromarray(id_to_rgb(ids), "RGB").save(buf, format="PNG", compress_level=compress_level)
    atomic_write_bytes(Path(path), buf.getvalue())
