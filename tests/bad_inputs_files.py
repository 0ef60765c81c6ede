"""File helpers of the bad-input corpus (see ``bad_inputs.py``): write, cut and edit files."""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

S, E, OK = "skipped", "error", "ok"
HTML = b"<html><body>404 Not Found</body></html>\n"  # what a failed download leaves


# ------------------------------------------------------------------------- file helpers
def only(fn: Callable[[Path], list[Path]], **spec) -> Callable[[Path], dict]:
    """An "ok" case: these good files and no bad one (``new_cells`` when not the default)."""
    return lambda d: {"bad": [], "good": fn(d), **spec}


def alone(fn: Callable[[Path], list[Path]], kw: dict | None = None) -> Callable[[Path], dict]:
    """Bad files without a good file to go with them (and ``ingest`` keywords)."""
    return lambda d: {"bad": fn(d), "good": [], "kw": kw or {}}


def _rng(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def put(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def zero(path: Path) -> Path:
    return put(path, b"")


def truncate(path: Path, keep: float = 0.5) -> Path:
    """Cut a file to the fraction ``keep`` of its bytes."""
    return put(path, path.read_bytes()[: int(path.stat().st_size * keep)])


def cut_last_line(path: Path, keep: int) -> Path:
    """Truncate a text file inside its last record: ``keep`` characters of it remain."""
    lines = path.read_text().rstrip("\n").split("\n")
    return put(path, "\n".join([*lines[:-1], lines[-1][:keep]]))


def edit_line(path: Path, n: int, fn: Callable[[list[str]], str]) -> Path:
    """Line ``n`` (1-based) becomes ``fn(all lines)``."""
    lines = path.read_text().split("\n")
    lines[n - 1] = fn(lines)
    return put(path, "\n".join(lines))


def swap(path: Path, n: int) -> Path:
    """Swap lines ``n`` and ``n + 1`` (two records out of order)."""
    lines = path.read_text().split("\n")
    lines[n - 1], lines[n] = lines[n], lines[n - 1]
    return put(path, "\n".join(lines))


def repeat(path: Path, n: int) -> Path:
    """Line ``n + 1`` becomes a copy of line ``n`` (a repeated record)."""
    return edit_line(path, n + 1, lambda ls: ls[n - 1])


def set_fields(path: Path, n: int, fields: dict[int, str]) -> Path:
    """Replace blank-separated fields (0-based index -> text) of line ``n``."""
    return edit_line(
        path, n, lambda ls: " ".join(fields.get(k, w) for k, w in enumerate(ls[n - 1].split()))
    )


def png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def pixels(name: str, shape=(24, 20), dtype=np.uint8) -> np.ndarray:
    """The deterministic pixel values of the image file called ``name``."""
    return _rng(name).integers(0, np.iinfo(dtype).max, shape, dtype=dtype)


A_PNG = png_bytes(pixels("x"))


def good_file(kind: str, folder: Path) -> Path:
    """One new good file of ``kind`` (:data:`bad_inputs.GOOD`), looked up when called: the
    tables in ``bad_inputs.py`` import the case modules, which use this."""
    from bad_inputs import GOOD

    return GOOD[kind](folder)
