"""A corpus of broken inputs for every reader of :func:`tame_xr.ingest`, generated on demand.

For each reader kind there is a small valid *baseline* (:data:`BASELINES`) that a test stores
first, and a table of named cases (:data:`CASES`; :func:`build` writes one). A case is the set
of files to ingest after the baseline: the broken ones, and the good ones that must still be
added (by default one new good file of the kind, :data:`GOOD`). Expected outcome:

``"error"``
    :func:`tame_xr.ingest` raises a :class:`ValueError` (often
    :class:`~tame_xr.report.BadInputError`) whose message names every bad file and contains
    ``reason``; nothing is written.
``"skipped"``
    Every bad file is in ``report.skipped`` with a reason containing ``reason``; the good
    files are added and nothing already stored changes.
``"ok"``
    Not an error but a documented correction or a correctness case (sentinels become NaN,
    unknown stations are kept with NaN positions, files and columns in any order land under
    their own station and time); the test checks each such case by name.

Everything is written here (no network, no shared data), deterministic and small.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

#: The store group each kind writes to by default.
GROUPS = {
    "images": "asim/5577",
    "themis": "asim/themis",
    "oath": "oath",
    "iaga2002": "magnetometer",
    "image_magnetometer": "magnetometer",
    "pangaea_ceilometer": "ceilometer",
    "chm15k": "ceilometer",
}
#: Valid cells (OATH: samples) that one good file of each kind adds.
CELLS = {"images": 1, "themis": 3, "oath": 1, "iaga2002": 30, "image_magnetometer": 80}
CELLS |= {"pangaea_ceilometer": 10, "chm15k": 5}
S, E, OK = "skipped", "error", "ok"
HTML = b"<html><body>404 Not Found</body></html>\n"  # what a failed download leaves


@dataclass
class Case:
    """One broken (or awkward) input set; see the module docstring."""

    kind: str
    name: str
    outcome: str
    reason: str
    files: list[Path] | Path
    bad: list[Path] = field(default_factory=list)
    good: list[Path] = field(default_factory=list)
    new_cells: int = 0
    kw: dict = field(default_factory=dict)


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
    good = GOOD["themis"](d)
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


# ------------------------------------------------------------------------- IAGA-2002
IAGA_START = "2014-11-01 00:00"
IAGA_DATA = 12  # line of the first data record (10 header records, the column header)


def iaga_values(code: str, times: pd.DatetimeIndex) -> np.ndarray:
    """X, Y, Z, F per record: distinct for every station and time."""
    x = 1000.0 * (1 + zlib.crc32(code.encode()) % 40)
    x = x + np.asarray((times - pd.Timestamp(IAGA_START)).total_seconds()) / 60.0
    return np.stack([x, x / 10, x / 2, np.hypot(x, x / 2)], axis=1).round(2)


def iaga(d: Path, code: str, start=IAGA_START, n=30, *, step="1min", cols=None, head=None):
    """An IAGA-2002 XYZF file of ``n`` records ``step`` apart (values: :func:`iaga_values`)."""
    fields = {
        "Format": "IAGA-2002",
        "Source of Data": "tame_xr tests (SYNTHETIC)",
        "Station Name": f"Station {code}",
        "IAGA CODE": code,
        "Geodetic Latitude": "60.000",
        "Geodetic Longitude": f"{zlib.crc32(code.encode()) % 360:.3f}",
        "Elevation": "10",
        "Reported": "XYZF",
        "Data Interval Type": "1-second" if step == "1s" else "1-minute",
        "Data Type": "variation",
    } | (head or {})
    lines = [f" {k:<23}{v:<45}|" for k, v in fields.items() if v is not None]
    lines.append(
        f"DATE       TIME         DOY     {cols or '  '.join(code + c for c in 'XYZF')}  |"
    )
    times = pd.date_range(start, periods=n, freq=step)
    for t, row in zip(times, iaga_values(code, times), strict=True):
        lines.append(
            f"{t:%Y-%m-%d %H:%M:%S}.000 {t.day_of_year:03d}  " + "".join(f"{v:10.2f}" for v in row)
        )
    name = f"{code.lower()}{pd.Timestamp(start):%Y%m%d%H%M}{'s' if step == '1s' else 'm'}.min"
    return put(d / name, "\n".join(lines) + "\n")


_gb = partial(iaga, code="FRD", start="2014-11-01 00:30")


def _iaga_sentinels(d: Path) -> Path:
    path = set_fields(GOOD["iaga2002"](d), IAGA_DATA, {3: "99999.00", 4: "88888.00"})
    return set_fields(path, IAGA_DATA + 1, {6: "99999.90"})


_T30 = "2014-11-01 00:30"
_NO_POSITION = {"Geodetic Latitude": None, "Geodetic Longitude": None, "Elevation": None}
_X, _D, _NAN = {6: "12x45.00"}, {0: "2014-11-31"}, {3: "nan", 4: "-inf"}
_EV = {"cols": "FRDE FRDV FRDZ FRDF", "head": {"Reported": "EVZF"}}
IAGA = {
    "zero_byte": (S, "empty file (0 bytes)", lambda d: zero(_gb(d))),
    "truncated": (S, "truncated data line", lambda d: cut_last_line(_gb(d), 40)),
    "png_in_min": (S, "binary file", lambda d: put(_gb(d), A_PNG)),
    "gzip_in_min": (S, "binary file", lambda d: put(_gb(d), gzip.compress(_gb(d).read_bytes()))),
    "html_in_min": (S, "not an IAGA-2002", lambda d: put(_gb(d), HTML)),
    "garbage_value": (S, "'12x45.00' is not a number", lambda d: set_fields(_gb(d), 15, _X)),
    "unsorted_times": (S, "is earlier than", lambda d: swap(_gb(d), IAGA_DATA + 3)),
    "duplicate_time": (S, "repeats line", lambda d: repeat(_gb(d), IAGA_DATA + 3)),
    "invalid_date": (S, "'2014-11-31 00:32:00.000' is not a", lambda d: set_fields(_gb(d), 14, _D)),
    "ev_components": (S, "unknown reported components 'EVZF'", lambda d: _gb(d, **_EV)),
    "station_not_matching_header": (S, "IAGA CODE", lambda d: _gb(d, cols="BOUX BOUY BOUZ BOUF")),
    "mixed_cadence": (S, "time step 1 s differs from the 60 s", lambda d: _gb(d, step="1s")),
    "cadence_vs_store": (
        E,
        "differs from the 60 s",
        alone(lambda d: [_gb(d, step="1s"), iaga(d, "BOU", step="1s")]),
    ),
    "only_bad_files": (E, "binary file", alone(lambda d: [put(_gb(d), A_PNG)])),
    "sentinels": (OK, "", only(lambda d: [_iaga_sentinels(d)])),
    "nan_inf": (OK, "", only(lambda d: [set_fields(GOOD["iaga2002"](d), IAGA_DATA, _NAN)])),
    "unknown_station": (OK, "", only(lambda d: [iaga(d, "QQQ", _T30, head=_NO_POSITION)])),
    "station_order": (OK, "", only(lambda d: [iaga(d, c, _T30) for c in ("TRO", "FRD", "ABK")])),
}


# ------------------------------------------------------------------------- IMAGE text
IMAGE_START = "2014-12-01 00:00"
IMAGE_DATA = 4  # line of the first data row


def image_values(code: str, comp: str, times: pd.DatetimeIndex) -> np.ndarray:
    base = 100.0 * (1 + zlib.crc32(f"{code}{comp}".encode()) % 500)
    return base + np.asarray((times - pd.Timestamp(IMAGE_START)).total_seconds()) / 60.0


def image_file(d: Path, start=IMAGE_START, n=40, *, labels=None, step="1min", name=None):
    """An IMAGE network text file with blank-separated columns ``NAL X`` ... (n rows)."""
    labels = labels or [(s, c) for s in ("NAL", "LYR") for c in "XYZ"]
    times = pd.date_range(start, periods=n, freq=step)
    table = np.stack([image_values(s, c, times) for s, c in labels], axis=1)
    lines = ["IMAGE magnetometer network, test data"]
    lines += ["YYYY MM DD HH MM SS " + " ".join(f"{s} {c}" for s, c in labels), "-" * 60]
    for t, row in zip(times, table, strict=True):
        lines.append(f"{t:%Y %m %d %H %M %S} " + " ".join(f"{v:9.1f}" for v in row))
    return put(d / (name or f"image_{pd.Timestamp(start):%H%M}.txt"), "\n".join(lines) + "\n")


_mb = partial(image_file, start="2014-12-01 01:20", name="bad.txt")


def _image_edit(d: Path, fields: dict[int, str]) -> Path:
    return set_fields(GOOD["image_magnetometer"](d), IMAGE_DATA, fields)


_T40 = "2014-12-01 00:40"
_TWICE = [("NAL", "X"), ("NAL", "Y"), ("NAL", "X")]
_QQQ = [("QQQ", c) for c in "XYZ"]
_PERMUTED = [("HOR", "Z"), ("LYR", "Z"), ("NAL", "Y"), ("HOR", "X"), ("LYR", "X"), ("NAL", "X")]
_PERMUTED += [("LYR", "Y"), ("NAL", "Z"), ("HOR", "Y")]
IMAGE = {
    "zero_byte": (S, "empty file (0 bytes)", lambda d: zero(_mb(d))),
    "truncated": (S, "truncated data line", lambda d: cut_last_line(_mb(d), 35)),
    "png_in_txt": (S, "binary file", lambda d: put(_mb(d), A_PNG)),
    "iaga_file_instead": (S, "not an IMAGE magnetometer file", lambda d: iaga(d, "NAL")),
    "unsorted_times": (S, "is earlier than", lambda d: swap(_mb(d), IMAGE_DATA + 5)),
    "duplicate_time": (S, "repeats line", lambda d: repeat(_mb(d), IMAGE_DATA + 5)),
    "duplicate_column": (S, "column NAL X appears twice", lambda d: _mb(d, labels=_TWICE)),
    "mixed_cadence": (S, "time step 10 s differs from the 60 s", lambda d: _mb(d, step="10s")),
    "cadence_vs_store": (E, "differs from the 60 s", alone(lambda d: [_mb(d, step="10s")])),
    "sentinels": (OK, "", only(lambda d: [_image_edit(d, {6: "99999.9", 10: "88888.0"})])),
    "nan_inf": (OK, "", only(lambda d: [_image_edit(d, {6: "nan", 10: "inf"})])),
    "unknown_station": (OK, "", only(lambda d: [image_file(d, _T40, labels=_QQQ)], new_cells=40)),
    "station_order": (
        OK,
        "",
        only(lambda d: [image_file(d, _T40, labels=_PERMUTED)], new_cells=120),
    ),
}


# ------------------------------------------------------------------------- PANGAEA
PANGAEA_DATA = 7  # line of the first data row


def cbh_texts(code: str, times: pd.DatetimeIndex) -> list[str]:
    """CBH fields: a height in m, or empty (no cloud) every third minute."""
    base = 200 + zlib.crc32(code.encode()) % 1000
    minutes = np.asarray((times - pd.Timestamp("2014-12-01")).total_seconds() // 60, int)
    return ["" if m % 3 == 2 else str(base + 10 * m) for m in minutes]


def pangaea(d: Path, code: str, start="2014-12-01 00:00", n=10, *, event=None, values=None):
    """A PANGAEA ceilometer tab file ``{code}_ceilometer_HHMM.tab`` (metadata, 2 columns)."""
    times = pd.date_range(start, periods=n, freq="1min")
    event = f"{code.upper()}_ceilometer" if event is None else event
    where = "LATITUDE: 70.0 * LONGITUDE: 20.0 * ELEVATION: 5.0 m"
    head = ["/* DATA DESCRIPTION:", "Citation:\ttame_xr tests: SYNTHETIC ceilometer data"]
    head += [f"Event(s):\t{event} * {where}"] if event else []
    head += ["License:\tCC0-1.0", "*/", "Date/Time\tCBH [m]"]
    values = values or cbh_texts(code, times)
    rows = [f"{t:%Y-%m-%dT%H:%M}\t{v}" for t, v in zip(times, values, strict=True)]
    name = f"{code.lower()}_ceilometer_{pd.Timestamp(start):%H%M}.tab"
    return put(d / name, "\n".join(head + rows) + "\n")


_pb = partial(pangaea, code="lyr", start="2014-12-01 00:20")


def _pv(d: Path, text: str) -> Path:
    return _pb(d, values=["500"] * 4 + [text] + ["510"] * 5)


_T10 = "2014-12-01 00:10"
PANGAEA = {
    "zero_byte": (S, "empty file", lambda d: zero(_pb(d))),
    "truncated": (S, "truncated line?", lambda d: cut_last_line(_pb(d), 12)),
    "png_in_tab": (S, "not UTF-8 text", lambda d: put(_pb(d), A_PNG)),
    "html_in_tab": (S, "no header row with 'Date/Time'", lambda d: put(_pb(d), HTML)),
    "nan_value": (S, "line 11: CBH 'NaN' is not a number", lambda d: _pv(d, "NaN")),
    "inf_value": (S, "line 11: CBH 'inf' is not a number", lambda d: _pv(d, "inf")),
    "negative_sentinel": (S, "line 11: negative CBH -9999", lambda d: _pv(d, "-9999")),
    "large_sentinel": (S, "line 11: CBH 99999 m is above", lambda d: _pv(d, "99999")),
    "unsorted_times": (S, "is not after", lambda d: swap(_pb(d), PANGAEA_DATA + 2)),
    "duplicate_time": (S, "is not after", lambda d: repeat(_pb(d), PANGAEA_DATA + 2)),
    # the file name says lyr, the Event label nya
    "station_not_matching_event": (S, "Event label says nya", lambda d: _pb(d, event="NYA_x")),
    "unknown_station": (OK, "", only(lambda d: [pangaea(d, "qqq", _T10, event="")])),
    "station_order": (OK, "", only(lambda d: [pangaea(d, c, _T10) for c in ("lyr", "hor")])),
}


# ------------------------------------------------------------------------- CHM15k netCDF
def chm_values(location: str, times: pd.DatetimeIndex) -> np.ndarray:
    """Layer-0 cbh (m, cho 70 m included): a height, or -1 (no cloud) every third minute."""
    base = 500 + zlib.crc32(location.lower().encode()) % 1000
    minutes = np.asarray((times - pd.Timestamp("2020-10-22")).total_seconds() // 60, int)
    return np.where(minutes % 3 == 2, -1, base + 10 * minutes)


def chm15k(d: Path, location="Magurele", start="2020-10-22 00:00", *, first=None, times=None):
    """A CHM15k-like netCDF-3 file: ``cbh(time, layer)`` int16, ``cho``, position variables."""
    import xarray as xr

    t = pd.DatetimeIndex(times) if times else pd.date_range(start, periods=5, freq="1min")
    cbh = np.full((t.size, 3), -32768, dtype=np.int16)
    cbh[:, 0] = first if first is not None else chm_values(location, t)
    position = {k: ((), np.float32(v)) for k, v in (("latitude", 44.3), ("longitude", 26.0))}
    ds = xr.Dataset(
        {"cbh": (("time", "layer"), cbh, {"units": "m"}), "cho": ((), np.int16(70)), **position},
        coords={"time": t.values, "layer": np.arange(1, 4, dtype=np.int32)},
        attrs={"location": location, "device_name": "CHM000000", "title": "CHM15k Nimbus"},
    )
    path = d / f"chm_{location.lower() or 'x'}_{t[0]:%H%M}.nc"
    path.parent.mkdir(parents=True, exist_ok=True)
    encoding = {
        "cbh": {"_FillValue": np.int16(-32768)},
        "time": {"units": "seconds since 1904-01-01 00:00:00", "dtype": "float64"},
    }
    ds.to_netcdf(path, format="NETCDF3_CLASSIC", engine="scipy", encoding=encoding)
    return path


_cb = partial(chm15k, start="2020-10-22 00:10")


def _no_cbh(d: Path) -> Path:
    import xarray as xr

    xr.Dataset({"beta": ("time", np.zeros(3))}).to_netcdf(d / "beta.nc", engine="scipy")
    return d / "beta.nc"


_M, _T5 = "2020-10-22 00:1", "2020-10-22 00:05"
_CHM_SENTINELS = [1070, -1, -32768, -5, 2570]
CHM15K = {
    "zero_byte": (S, "not a netCDF file (empty)", lambda d: zero(_cb(d))),
    "truncated": (S, "cannot open as netCDF", lambda d: truncate(_cb(d), 0.6)),
    "png_in_nc": (S, "not a netCDF file", lambda d: put(_cb(d), A_PNG)),
    "no_cbh_variable": (S, "no variable 'cbh'", _no_cbh),
    "unsorted_times": (S, "is not after", lambda d: _cb(d, times=[_M + "0", _M + "2", _M + "1"])),
    "duplicate_time": (S, "is not after", lambda d: _cb(d, times=[_M + "0", _M + "1", _M + "1"])),
    "no_location": (S, "pass station=", lambda d: _cb(d, location="")),
    # 1070: cloud at 1000 m; -1: no cloud; the fill value and -5: no measurement
    "sentinels": (
        OK,
        "",
        only(lambda d: [chm15k(d, start=_T5, first=_CHM_SENTINELS)], new_cells=3),
    ),
    "unknown_station": (OK, "", only(lambda d: [chm15k(d, "Qqqville", _T5)])),
    "station_order": (OK, "", only(lambda d: [chm15k(d, s, _T5) for s in ("Hornsund", "Andoya")])),
}

# ------------------------------------------------------------------------- the tables
#: kind -> case name -> (outcome, reason substring, builder(folder) -> bad path(s) or a dict)
CASES = {
    "images": IMAGES,
    "themis": THEMIS,
    "oath": OATH,
    "iaga2002": IAGA,
    "image_magnetometer": IMAGE,
    "pangaea_ceilometer": PANGAEA,
    "chm15k": CHM15K,
}
#: kind -> writer of the valid baseline (what the test stores first)
BASELINES: dict[str, Callable[[Path], list[Path] | Path]] = {
    "images": lambda d: [png(d, s, f"170{m}05") for s in ("nya6", "lyr6") for m in range(3)],
    "themis": lambda d: [pgm(d, "gill", f"2014-03-10 06:00:0{s}") for s in (0, 9)],
    "oath": oath_root,
    "iaga2002": lambda d: [iaga(d, "BOU"), iaga(d, "FRD")],
    "image_magnetometer": lambda d: [image_file(d)],
    "pangaea_ceilometer": lambda d: [pangaea(d, "nya"), pangaea(d, "lyr")],
    "chm15k": lambda d: [chm15k(d)],
}
#: kind -> writer of one new good file (later than the baseline) that a case adds
GOOD: dict[str, Callable[[Path], Path]] = {
    "images": lambda d: png(d / "good", "nya6", "171005"),
    "themis": lambda d: pgm(d / "good", "gill", "2014-03-10 06:00:18"),
    "iaga2002": lambda d: iaga(d / "good", "BOU", "2014-11-01 00:30"),
    "image_magnetometer": lambda d: image_file(d / "good", "2014-12-01 00:40"),
    "pangaea_ceilometer": lambda d: pangaea(d / "good", "nya", "2014-12-01 00:10"),
    "chm15k": lambda d: chm15k(d / "good", start="2020-10-22 00:05"),
}


def all_cases() -> list[tuple[str, str]]:
    """Every ``(kind, name)`` of the corpus."""
    return [(kind, name) for kind, table in CASES.items() for name in table]


def baseline(kind: str, folder: Path) -> list[Path] | Path:
    """Write the valid baseline of ``kind`` into ``folder``; returns what to ingest."""
    folder.mkdir(parents=True, exist_ok=True)
    return BASELINES[kind](folder)


def build(kind: str, name: str, folder: Path) -> Case:
    """Write the files of case ``name`` of ``kind`` into ``folder`` and describe them."""
    outcome, reason, fn = CASES[kind][name]
    folder.mkdir(parents=True, exist_ok=True)
    spec = fn(folder)
    if not isinstance(spec, dict):  # bad file(s) only: one new good file goes with them
        spec = {"bad": spec if isinstance(spec, list) else [spec], "good": [GOOD[kind](folder)]}
    bad, good = spec.pop("bad"), spec.pop("good")
    spec.setdefault("files", [*good, *bad])
    spec.setdefault("new_cells", len(good) * CELLS[kind])
    return Case(kind, name, outcome, reason, bad=bad, good=good, **spec)
