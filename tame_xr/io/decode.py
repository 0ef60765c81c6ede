"""Image file decoding shared by the readers: header checks, decoding, lazy dask stacks.

Decoding uses Pillow. A file that cannot be used raises :class:`~tame_xr.report.BadInputError`
naming the file and the problem; callers decide whether that is a report entry or an error.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import dask.array as da
import numpy as np

from ..report import BadInputError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TRAILER = b"IEND\xaeB`\x82"
_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = b"\xff\xd9"


IMAGE_CHUNK = 64
MAX_IMAGE_CHUNK_BYTES = 64 * 2**20


def image_chunk_rows(image_bytes: int) -> int:
    """Images per chunk along time: 64, halved until a chunk is at most 64 MiB."""
    rows = IMAGE_CHUNK
    while rows > 1 and rows * image_bytes > MAX_IMAGE_CHUNK_BYTES:
        rows //= 2
    return rows


@dataclass(frozen=True)
class ImageHeader:
    """What a file's header says: array shape as decoded, dtype and Pillow mode."""

    shape: tuple[int, ...]
    dtype: np.dtype
    mode: str


def _dtype_for_mode(mode: str) -> np.dtype:
    if mode in ("L", "P", "RGB", "RGBA", "LA", "1"):
        return np.dtype("uint8")
    if mode.startswith("I;16") or mode == "I":
        return np.dtype("uint16")
    if mode == "F":
        return np.dtype("float32")
    raise ValueError(f"unsupported image mode {mode!r}")


def _shape_for(mode: str, size: tuple[int, int]) -> tuple[int, ...]:
    width, height = size
    if mode in ("RGB", "RGBA", "P"):
        return (height, width, 3)
    return (height, width)


def check_complete(path: str | Path) -> None:
    """Cheap integrity check without decoding: empty files and truncated PNG/JPEG streams.

    Raises
    ------
    BadInputError
        Naming the file and what is wrong with it (also a missing or unreadable file).
    """
    try:
        size = os.path.getsize(path)
        if size == 0:
            raise BadInputError(path, "empty file (0 bytes)")
        with open(path, "rb") as fh:
            head = fh.read(8)
            # IEND/EOI end the stream; some writers append a few bytes after them.
            fh.seek(max(0, size - 1024))
            tail = fh.read()
    except OSError as exc:
        raise BadInputError(path, f"cannot read the file ({exc.strerror or exc})") from None
    if head.startswith(_PNG_SIGNATURE):
        if _PNG_TRAILER not in tail:
            raise BadInputError(path, "truncated PNG (no IEND chunk at the end of the file)")
    elif head.startswith(_JPEG_SOI):
        if _JPEG_EOI not in tail:
            raise BadInputError(path, "truncated JPEG (no end-of-image marker)")


def read_header(path: str | Path) -> ImageHeader:
    """Read an image header (no pixel decoding) after :func:`check_complete`."""
    from PIL import Image, UnidentifiedImageError

    check_complete(path)
    try:
        with Image.open(path) as img:
            mode, size = img.mode, img.size
    except UnidentifiedImageError:
        raise BadInputError(path, "not an image file Pillow can identify") from None
    except OSError as exc:
        raise BadInputError(path, f"cannot read image header ({exc})") from None
    try:
        dtype = _dtype_for_mode(mode)
    except ValueError as exc:
        raise BadInputError(path, str(exc)) from None
    return ImageHeader(_shape_for(mode, size), dtype, mode)


def decode_image(path: str | Path, channel: int | None = None) -> np.ndarray:
    """Decode one image file to a numpy array.

    Gray images give ``(y, x)``; colour images ``(y, x, 3)`` or, with ``channel``, the
    ``(y, x)`` plane of that channel (OATH and TAME use ``channel=1``, green).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if img.mode == "P":
                img = img.convert("RGB")
            elif img.mode in ("RGBA", "LA"):
                img = img.convert("RGB" if img.mode == "RGBA" else "L")
            arr = np.asarray(img)
    except UnidentifiedImageError:
        raise BadInputError(path, "not an image file Pillow can identify") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadInputError(path, f"cannot decode image ({exc})") from None
    if arr.dtype == np.int32:  # mode "I" from 16-bit files
        arr = arr.astype(np.uint16)
    if channel is not None:
        if arr.ndim != 3:
            raise BadInputError(path, f"has no channel {channel} (gray image)")
        arr = arr[..., channel]
    return arr


def decode_stack(
    paths: Sequence[str | None],
    shape: tuple[int, ...],
    dtype: np.dtype,
    decode: Callable[[str], np.ndarray],
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, list[BadInputError]]:
    """Decode ``paths`` into one array; ``None`` entries and failures stay zero.

    ``out`` (zeros, shape ``(len(paths), *shape)``) is filled in place when given, e.g. a
    slice of a larger batch, so that no copy of the batch is needed to assemble it.
    Returns the stack, a boolean mask of decoded entries and the errors met.
    """
    if out is None:
        out = np.zeros((len(paths), *shape), dtype=dtype)
    ok = np.zeros(len(paths), dtype=bool)
    errors: list[BadInputError] = []
    for i, path in enumerate(paths):
        if path is None:
            continue
        try:
            arr = decode(path)
        except BadInputError as exc:
            errors.append(exc)
            continue
        if arr.shape != shape:
            errors.append(BadInputError(path, f"image shape {arr.shape} differs from {shape}"))
            continue
        out[i] = arr
        ok[i] = True
    return out, ok, errors


def _load_block(paths: np.ndarray, shape, dtype, decode) -> np.ndarray:
    flat = [None if (p is None or p == "") else str(p) for p in paths.ravel()]
    stack, _, errors = decode_stack(flat, shape, dtype, decode)
    if errors:
        # Inside a dask task there is no report to add to: fail loudly, naming the file.
        raise errors[0]
    return stack.reshape(*paths.shape, *shape)


def lazy_image_stack(
    paths: np.ndarray,
    shape: tuple[int, ...],
    dtype: np.dtype,
    chunks: tuple[int, ...],
    decode: Callable[[str], np.ndarray] = decode_image,
) -> da.Array:
    """A dask array ``paths.shape + shape`` that decodes files chunk by chunk.

    ``paths`` is an object array of file paths (``None`` where there is no image; those
    cells are zero). Each task receives only the paths of its own chunk.
    """
    path_array = da.from_array(paths, chunks=chunks, name=False)
    new_axes = list(range(paths.ndim, paths.ndim + len(shape)))
    loader = functools.partial(_load_block, shape=shape, dtype=dtype, decode=decode)
    return path_array.map_blocks(
        loader,
        dtype=dtype,
        new_axis=new_axes,
        chunks=path_array.chunks + tuple((n,) for n in shape),
        meta=np.empty((0,) * (paths.ndim + len(shape)), dtype=dtype),
    )
