"""Bad-input cases of the image readers: UiO images, THEMIS PGM, OATH (see ``bad_inputs.py``)."""

from __future__ import annotations

import gzip
import tarfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from bad_inputs_files import (
    A_PNG,
    HTML,
    OK,
    E,
    S,
    _rng,
    alone,
    cut_last_line,
    edit_line,
    good_file,
    only,
    pixels,
    png_bytes,
    put,
    repeat,
    truncate,
    zero,
)


# ------------------------------------------------------------------------- UiO images
def png(d: Path, station: str, hhmmss: str, shape=(24, 20), dtype=np.uint8, name=None) -> Path:
    """A UiO-named gray PNG ``{station}_20141201_{hhmmss}_5577_cal.png``."""
    name = name or f"{station}_20141201_{hhmmss}_5577_cal.png"
    return put(d / name, png_bytes(pixels(name, shape, dtype)))


def _damage_idat(path: Path) -> Path:
    data = bytearray(path.read_bytes())
    at = data.index(b"IDAT") + 8
    data[at : at + 30] = b"\x00" * 30
    return put(path, bytes(data))


_ib = partial(png, station="lyr6", hhmmss="171004")
_GOOD, _BAD_TIME = "nya6_20141201_171005_5577_cal.png", "lyr6_20141301_171004_5577_cal.png"
_MISSING = "lyr6_20141201_171004_5577_cal.png"  # named in the list, absent on disk
_TEN_S = [f"nya6_20141201_1710{s}_5577_cal.png" for s in (15, 25)]


IMAGES = {
    "zero_byte": (S, "empty file (0 bytes)", lambda d: zero(_ib(d))),
    "truncated": (S, "truncated PNG", lambda d: truncate(_ib(d), 0.6)),
    "text_in_png": (S, "not an image file", lambda d: put(_ib(d), HTML)),
    "pixel_data_damaged": (S, "cannot decode image", lambda d: _damage_idat(_ib(d))),
    "wrong_size": (S, "differs from the product", lambda d: _ib(d, shape=(30, 30))),
    "wrong_dtype": (S, "differs from the product", lambda d: _ib(d, dtype=np.uint16)),
    "bad_time_in_name": (S, "not a valid time", lambda d: _ib(d, name=_BAD_TIME)),
    "name_not_matching": (S, "does not match pattern", lambda d: _ib(d, name="a.png")),
    "missing_file": (S, "cannot read the file (No such file", lambda d: d / _MISSING),
    # of two equal exposure times the first path in sort order is kept
    "duplicate_time": (S, "duplicate: same exposure time", lambda d: _ib(d / "z", name=_GOOD)),
    # 10-s images in a 1-min product: the first of each minute is kept
    "mixed_cadence": (S, "duplicate: grid cell", lambda d: [_ib(d, name=n) for n in _TEN_S]),
    "cadence_vs_store": (
        E,
        "differs from the 60 s",
        alone(lambda d: [_ib(d, name=_GOOD)], kw={"cadence": "10s"}),
    ),
    "unsorted_files": (OK, "", only(lambda d: [png(d, "nya6", f"17{m}05") for m in (13, 11, 12)])),
    "unknown_station": (OK, "", only(lambda d: [png(d, "xyz9", "171005")])),
    "station_order": (OK, "", only(lambda d: [png(d, s, "171005") for s in ("lyr6", "hor6")])),
}


# ------------------------------------------------------------------------- THEMIS PGM
def pgm_frames(site: str, start: str, n: int = 3, shape=(8, 8)) -> np.ndarray:
    return _rng("themis", site, start).integers(0, 65535, (n, *shape), dtype=np.uint16)


def pgm(d: Path, site: str, start: str, *, shape=(8, 8), times=None, header=None) -> Path:
    """A THEMIS-like gzip multi-frame 16-bit PGM, three frames 3 s apart from ``start``."""
    t0 = pd.Timestamp(start)
    times = times or [str(t0 + pd.Timedelta(seconds=3 * k + 0.06)) for k in range(3)]
    if header is None:
        header = f'#"Site unique ID" {site}\n#"Imager unique ID" themis77\n'
        header += '#"Geodetic latitude" 56.38\n#"Geodetic Longitude" -94.64\n'
    out = b""
    for i, (frame, when) in enumerate(
        zip(pgm_frames(site, start, len(times), shape), times, strict=True)
    ):
        head = "P5\n" + (header if i == 0 else "")
        head += f'#"Image request start" {when} UTC\n{shape[1]} {shape[0]}\n65535\n'
        out += head.encode() + frame.astype(">u2").tobytes()
    return put(d / f"{t0:%Y%m%d_%H%M%S}_{site}_themis77_full.pgm.gz", gzip.compress(out, mtime=0))


def _cut_frame(path: Path) -> Path:
    return put(path, gzip.compress(gzip.decompress(path.read_bytes())[:-20]))


_tb = partial(pgm, site="gill", start="2014-03-10 06:00:27")


def _th_copy(d: Path) -> dict:  # of identical files the first given is kept
    good = good_file("themis", d)
    copy = put(d / "copy" / good.name, good.read_bytes())
    return {"bad": [copy], "good": [good], "files": [good, copy]}


_T18 = "2014-03-10 06:00:18"
_SHUFFLED = ["2014-03-10 06:00:24.06", "2014-03-10 06:00:18.06", "2014-03-10 06:00:21.06"]
_GARBAGE = ["2014-03-10 06:00:27", "garbage", "2014-03-10 06:00:33"]
_QQQQ = '#"Site unique ID" qqqq\n'
_STATIONS = [("kuuj", _T18), ("gill", _T18), ("atha", "2014-03-10 06:00:09")]
THEMIS = {
    "zero_byte": (S, "empty file (0 bytes)", lambda d: zero(_tb(d))),
    "truncated_gzip": (S, "truncated gzip", lambda d: truncate(_tb(d), 0.7)),
    "truncated_frame": (S, "truncated: frame 2", lambda d: _cut_frame(_tb(d))),
    "png_in_pgm_gz": (S, "not gzip-compressed", lambda d: put(_tb(d), A_PNG)),
    "png_in_pgm": (S, "not a binary PGM", lambda d: put(d / "gill.pgm", A_PNG)),
    "text_in_gzip": (S, "not a binary PGM", lambda d: put(_tb(d), gzip.compress(HTML))),
    "wrong_size": (S, "frames (16, 16) not (8, 8)", lambda d: _tb(d, shape=(16, 16))),
    "wrong_size_alone": (
        E,
        "frames (16, 16) not (8, 8)",
        alone(lambda d: [_tb(d, shape=(16, 16))]),
    ),
    "bad_request_time": (S, "no valid 'Image request start'", lambda d: _tb(d, times=_GARBAGE)),
    "no_site": (S, "pass station=", lambda d: _tb(d, header="")),
    "duplicate_file": (S, "duplicate: 3 of 3 frames", _th_copy),
    "cadence_vs_store": (
        E,
        "differs from the 3 s",
        alone(lambda d: [_tb(d)], kw={"cadence": "1s"}),
    ),
    "unsorted_frames": (OK, "", only(lambda d: [pgm(d, "gill", _T18, times=_SHUFFLED)])),
    "unknown_station": (OK, "", only(lambda d: [pgm(d, "qqqq", _T18, header=_QQQQ)])),
    "station_order": (OK, "", only(lambda d: [pgm(d, s, t) for s, t in _STATIONS])),
}


# ------------------------------------------------------------------------- OATH
OATH_TYPES = ("arc", "diffuse", "discrete", "cloudy", "moon", "noaurora")


def oath_image(num: int) -> np.ndarray:
    rgb = np.zeros((256, 256, 3), np.uint8)
    rgb[..., 1] = (np.add.outer(np.arange(256), np.arange(256)) + 37 * num) % 251
    return rgb


def oath_root(d: Path, nums=(1, 2, 3, 4), split: list[int] | None = None) -> Path:
    """An OATH root: labels (class6 = picNum % 6), split file, a 256x256 RGB PNG per picture.

    The default split keeps the train/test assignment of pictures 1-4 whatever ``nums``.
    """
    root = d / "oath"
    rows = [f"{int(n % 6 >= 3)},{n % 6},{n:05d},{OATH_TYPES[n % 6]},{40 * n % 360}" for n in nums]
    text = "Licence: CC BY 4.0 (test data)\n---\nclass2,class6,picNum,picType,rotAng\n"
    put(root / "classifications" / "classifications.csv", text + "\n".join(rows) + "\n")
    order = split or [0, 1, 2, *range(4, len(nums)), 3][: len(nums)]
    put(root / "classifications" / "train_test_split.csv", ",".join(f"{i}.0" for i in order))
    for n in nums:
        put(root / "images" / "cropped_scaled" / f"{n:05d}.png", png_bytes(oath_image(n)))
    return root


def _oath(d: Path, edit: Callable[[Path], object] | str, what: str = "image") -> dict:
    """Pictures 1-6; ``edit`` (or ``_EDIT[edit]``) breaks picture 5 (or the label or split
    file)."""
    root = oath_root(d, nums=(1, 2, 3, 4, 5, 6))
    images = root / "images" / "cropped_scaled"
    target = {
        "image": images / "00005.png",
        "labels": root / "classifications" / "classifications.csv",
        "split": root / "classifications" / "train_test_split.csv",
    }[what]
    (_EDIT[edit] if isinstance(edit, str) else edit)(target)
    if what != "image":
        return {"files": root, "bad": [target], "good": []}
    good = [images / f"{n:05d}.png" for n in (1, 2, 3, 4, 6)]
    return {"files": root, "bad": [target], "good": good, "new_cells": 1}


def _tarball(d: Path, edit: Callable[[Path], object]) -> dict:
    root = oath_root(d / "src", nums=(1, 2, 3, 4, 5, 6))
    tgz = d / "oath_v1.1.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(root, arcname="oath")
    edit(tgz)
    return {"files": tgz, "bad": [tgz], "good": []}


def _oath_unsorted(d: Path) -> dict:
    root = oath_root(d, nums=(6, 2, 5, 1, 4, 3), split=[3, 1, 5, 0, 4, 2])
    good = [root / "images" / "cropped_scaled" / f"{n:05d}.png" for n in (6, 2, 5, 1, 4, 3)]
    return {"files": root, "bad": [], "good": good, "new_cells": 2}


_EDIT: dict[str, Callable[[Path], Path]] = {  # ways to break one OATH file
    "half": lambda p: put(p, png_bytes(oath_image(5)[::2, ::2])),
    "gray": lambda p: put(p, png_bytes(oath_image(5)[..., 1])),
    "html": lambda p: put(p, HTML),
    "png": lambda p: put(p, A_PNG),
    "cut": lambda p: cut_last_line(p, 8),
    "repeat": lambda p: repeat(p, 8),
    # picture 1: class6 1 (aurora) but class2 1 (no aurora)
    "class2": lambda p: edit_line(p, 4, lambda ls: "1" + ls[3][1:]),
    "not_perm": lambda p: put(p, "0.0,1.0,2.0,2.0,3.0,4.0\n"),
}
OATH = {
    "zero_byte_image": (S, "empty file (0 bytes)", lambda d: _oath(d, zero)),
    "truncated_image": (S, "truncated PNG", lambda d: _oath(d, truncate)),
    "text_in_png": (S, "not an image file", lambda d: _oath(d, "html")),
    "wrong_image_size": (S, "image size 128x128, expected 256x256", lambda d: _oath(d, "half")),
    "gray_image": (S, "no 8-bit green channel", lambda d: _oath(d, "gray")),
    "missing_image": (S, "image file missing", lambda d: _oath(d, Path.unlink)),
    "zero_byte_labels": (E, "no header line", lambda d: _oath(d, zero, "labels")),
    "truncated_labels": (E, "expected 5 fields, got 3", lambda d: _oath(d, "cut", "labels")),
    "png_as_labels": (E, "cannot read label file", lambda d: _oath(d, "png", "labels")),
    "duplicate_picnum": (E, "duplicate picNum 5", lambda d: _oath(d, "repeat", "labels")),
    "inconsistent_labels": (E, "disagree", lambda d: _oath(d, "class2", "labels")),
    "zero_byte_split": (E, "empty split file", lambda d: _oath(d, zero, "split")),
    "split_not_a_permutation": (E, "not a permutation", lambda d: _oath(d, "not_perm", "split")),
    "zero_byte_tarball": (E, "cannot read tar archive", lambda d: _tarball(d, zero)),
    "truncated_tarball": (E, "cannot read tar archive", lambda d: _tarball(d, truncate)),
    "text_as_tarball": (E, "cannot read tar archive", lambda d: _tarball(d, _EDIT["html"])),
    "unsorted_rows": (OK, "", _oath_unsorted),
}
