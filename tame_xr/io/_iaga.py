r"""Helpers of :mod:`tame_xr.io.magnetometer`: one IAGA-2002 or IMAGE file → :class:`Part`\s.

Every reader turns one file into one :class:`Part` per station (times, and the components
``X, Y, Z, H, D, F`` and optionally ``G`` as float64 arrays). Problems raise
:class:`~tame_xr.report.BadInputError` naming the file and, where there is one, the line.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..report import BadInputError
from ..stations import Station

#: Values at or above this magnitude are IAGA/IMAGE missing-value markers (99999.00,
#: 88888.00, 99999.9 ...). No real field component (|B| < 70,000 nT) or declination
#: (|D| <= 10,800 arc-minutes) comes near it.
SENTINEL = 88888.0

_VECTOR_SETS = {frozenset("XYZ"), frozenset("HDZ"), frozenset("HDI")}
_SCALARS = "FGS"
_KNOWN_KEYS = (
    "Format",
    "Source of Data",
    "Station Name",
    "IAGA Code",
    "Geodetic Latitude",
    "Geodetic Longitude",
    "Elevation",
    "Reported",
    "Sensor Orientation",
    "Digital Sampling",
    "Data Interval Type",
    "Data Type",
    "Publication Date",
)
_INTERVAL = re.compile(r"(\d+(?:\.\d+)?)?\s*-?\s*(second|sec|minute|min|hour|day)", re.I)
_UNITS = {"sec": "s", "second": "s", "min": "min", "minute": "min", "hour": "h", "day": "D"}


@dataclass
class Part:
    """The records of one station in one file."""

    path: str
    station: str
    times: np.ndarray  # datetime64[ns], strictly increasing
    values: dict[str, np.ndarray]  # X, Y, Z, H, D, F (and G): float64, NaN where missing
    reported: str
    cadence: pd.Timedelta | None = None
    meta: dict = field(default_factory=dict)  # header station metadata (name, latitude ...)
    source: str = ""
    data_type: str = ""


def clean(values: np.ndarray) -> np.ndarray:
    """Missing-value markers (``|v| >= 88888``) and non-finite values → NaN (float64)."""
    out = np.asarray(values, dtype="float64").copy()
    out[~np.isfinite(out) | (np.abs(out) >= SENTINEL)] = np.nan
    return out


def from_xyz(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> dict[str, np.ndarray]:
    """X, Y, Z as given, with H = hypot(X, Y) and D = atan2(Y, X) in degrees."""
    return {"X": x, "Y": y, "Z": z, "H": np.hypot(x, y), "D": np.degrees(np.arctan2(y, x))}


def from_hd(h: np.ndarray, d_arcmin: np.ndarray, z: np.ndarray) -> dict[str, np.ndarray]:
    """X = H cos D, Y = H sin D from H (nT) and D (minutes of arc); D returned in degrees."""
    d = d_arcmin / 60.0
    rad = np.radians(d)
    return {"X": h * np.cos(rad), "Y": h * np.sin(rad), "Z": z, "H": h, "D": d}


def check_times(path: str, times: np.ndarray, lines: np.ndarray) -> None:
    """Raise when times within a file are not strictly increasing (naming both lines)."""
    if times.size < 2:
        return
    bad = np.flatnonzero(np.diff(times) <= np.timedelta64(0, "ns"))
    if bad.size:
        i = int(bad[0])
        when = pd.Timestamp(times[i + 1])
        what = (
            f"time {when} repeats line {lines[i]}"
            if times[i + 1] == times[i]
            else f"time {when} is earlier than {pd.Timestamp(times[i])} on line {lines[i]}"
        )
        raise BadInputError(path, f"line {lines[i + 1]}: {what}; times in a file must increase")


def infer_cadence(times: np.ndarray) -> pd.Timedelta | None:
    """Median time step (None for fewer than two records)."""
    if times.size < 2:
        return None
    return pd.Timedelta(np.median(np.diff(times).astype("int64")), "ns").round("ms")


def read_lines(path: str) -> list[str]:
    """The file's lines (CRLF, LF or CR ends); raise for binary or unreadable files."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BadInputError(path, f"cannot read the file ({exc.strerror or exc})") from exc
    if not data:
        raise BadInputError(path, "empty file (0 bytes)")
    if b"\x00" in data[:4096]:
        raise BadInputError(path, "binary file, not a magnetometer text file")
    return data.decode("utf-8", errors="replace").splitlines()


# ----------------------------------------------------------------------------- IAGA-2002
def _header_field(body: str) -> tuple[str, str]:
    low = body.lower()
    for key in _KNOWN_KEYS:
        if low.startswith(key.lower()):
            return key, body[len(key) :].strip()
    key, *rest = re.split(r"\s{2,}", body, maxsplit=1)
    return key.strip(), rest[0].strip() if rest else ""


def _number(path: str, n: int, key: str, value: str) -> float:
    match = re.match(r"^[-+]?(\d+(\.\d*)?|\.\d+)", value)
    if not match:
        raise BadInputError(path, f"line {n}: {key} {value!r} is not a number")
    return float(match.group(0))


def _station_meta(path: str, header: dict[str, tuple[int, str]]) -> dict:
    meta: dict = {}
    if header.get("Station Name", (0, ""))[1]:
        meta["name"] = header["Station Name"][1]
    for key, name in (
        ("Geodetic Latitude", "latitude"),
        ("Geodetic Longitude", "longitude"),
        ("Elevation", "altitude"),
    ):
        n, value = header.get(key, (0, ""))
        if value:
            meta[name] = _number(path, n, key, value)
    if "longitude" in meta:  # IAGA allows 0..360 east: report -180..180
        meta["longitude"] = round((meta["longitude"] + 180.0) % 360.0 - 180.0, 6)
    return meta


def _cadence(text: str) -> pd.Timedelta | None:
    match = _INTERVAL.search(text)
    if not match:
        return None
    return pd.Timedelta(float(match.group(1) or 1), _UNITS[match.group(2).lower()])


def _components(path: str, n: int, letters: str, reported: tuple[int, str] | None) -> str:
    """Validate the element letters of the column header against ``Reported``."""
    if reported and reported[1]:
        declared = re.sub(r"\s", "", reported[1]).upper()
        if declared[: len(letters)] != letters[: len(declared)]:
            raise BadInputError(
                path,
                f"line {reported[0]}: Reported {declared!r} disagrees with the column header "
                f"(line {n}) elements {letters!r}",
            )
    vector = frozenset(c for c in letters if c not in _SCALARS)
    scalars = [c for c in letters if c in _SCALARS]
    if len(letters) != 4 or len(scalars) != 1 or vector not in _VECTOR_SETS:
        hint = ""
        if set(letters) & set("EV"):
            hint = (
                " (E and V are variation components in nT relative to an approximate "
                "declination/inclination given only in the comments; convert them first)"
            )
        raise BadInputError(
            path,
            f"line {n}: unknown reported components {letters!r}: expected XYZ, HDZ or HDI in "
            f"any order and one of F, G, S{hint}",
        )
    return letters


def _times(path: str, stamps: list[str], lines: list[int]) -> np.ndarray:
    try:
        return np.array(stamps, dtype="datetime64[ns]")
    except ValueError:
        pass
    out = np.empty(len(stamps), dtype="datetime64[ns]")
    for k, (stamp, n) in enumerate(zip(stamps, lines, strict=True)):
        day, _, clock = stamp.partition("T")
        try:
            if clock.startswith("24:") and not clock[3:].strip("0:."):  # IAGA allows 24:00:00
                out[k] = np.datetime64(dt.date.fromisoformat(day) + dt.timedelta(days=1), "ns")
            else:
                out[k] = np.datetime64(stamp, "ns")
        except ValueError:
            raise BadInputError(
                path, f"line {n}: {stamp.replace('T', ' ')!r} is not a valid date and time"
            ) from None
    return out


def parse_iaga2002(path: str) -> Part:
    """Read one IAGA-2002 file (see :func:`tame_xr.io.magnetometer.read_iaga2002`)."""
    lines = read_lines(path)
    header: dict[str, tuple[int, str]] = {}
    start = None
    for n, raw in enumerate(lines, start=1):
        body = raw.rstrip()
        bar = body.endswith("|")
        body = body[:-1].rstrip() if bar else body
        text = body.strip()
        if not text or text.startswith("#"):
            continue
        if text.upper().startswith("DATE"):
            start = n
            break
        if not (raw.startswith(" ") or bar):  # header records: " Keyword   value   |"
            raise BadInputError(
                path,
                f"line {n}: {raw[:40]!r} is not an IAGA-2002 header record (a space, a keyword, "
                "its value, '|'): not an IAGA-2002 file",
            )
        key, value = _header_field(text)
        header[key] = (n, value)
        if key == "Format" and "IAGA2002" not in value.upper().replace("-", "").replace(" ", ""):
            raise BadInputError(path, f"line {n}: Format {value!r} is not IAGA-2002")
    if start is None:
        raise BadInputError(
            path, "no column header line (DATE TIME DOY ...): not an IAGA-2002 file"
        )
    columns = lines[start - 1].replace("|", " ").split()
    names = columns[3:]
    if [c.upper() for c in columns[:3]] != ["DATE", "TIME", "DOY"] or len(names) != 4:
        raise BadInputError(
            path,
            f"line {start}: column header {' '.join(columns)!r} is not DATE TIME DOY and four "
            "element columns",
        )
    letters = _components(
        path, start, "".join(c[-1].upper() for c in names), header.get("Reported")
    )
    code = header.get("IAGA Code", (0, ""))[1] or names[0][:-1]
    if not code:
        raise BadInputError(path, f"line {start}: no IAGA CODE in the header or column names")
    prefixes = {c[:-1].upper() for c in names}
    if len(prefixes) == 1 and "" not in prefixes and prefixes != {code.strip().upper()}:
        raise BadInputError(
            path,
            f"line {start}: the columns are named for station {prefixes.pop()} but the header's "
            f"IAGA CODE (line {header['IAGA Code'][0]}) is {code.strip()}: which station is it?",
        )

    stamps, numbers, where = [], [], []
    for n, raw in enumerate(lines[start:], start=start + 1):
        parts = raw.split()
        if not parts:
            continue
        if len(parts) != 7:
            what = "truncated data line" if len(parts) < 7 else "wrong column count"
            raise BadInputError(
                path,
                f"line {n}: {what}: {len(parts)} fields, expected 7 (DATE TIME DOY and four "
                f"values): {raw.strip()[:70]!r}",
            )
        try:
            numbers.append([float(p) for p in parts[3:]])
            int(parts[2])
        except ValueError:
            bad = next(p for p in parts[2:] if not _is_number(p))
            raise BadInputError(path, f"line {n}: {bad!r} is not a number") from None
        stamps.append(f"{parts[0]}T{parts[1]}")
        where.append(n)
    if not stamps:
        raise BadInputError(path, f"line {start}: header without any data lines")
    line_no = np.asarray(where)
    times = _times(path, stamps, where)
    check_times(path, times, line_no)
    table = clean(np.asarray(numbers))
    col = {c: table[:, i] for i, c in enumerate(letters)}
    if "X" in col:
        values = from_xyz(col["X"], col["Y"], col["Z"])
    else:
        z = col["Z"] if "Z" in col else col["H"] * np.tan(np.radians(col["I"] / 60.0))
        values = from_hd(col["H"], col["D"], z)
    nan = np.full(times.size, np.nan)
    values["F"] = col.get("F", col.get("S", nan))
    if "G" in col:
        values["G"] = col["G"]
    cadence = _cadence(header.get("Data Interval Type", (0, ""))[1]) or infer_cadence(times)
    return Part(
        path=path,
        station=code.strip().lower(),
        times=times,
        values=values,
        reported=letters,
        cadence=cadence,
        meta=_station_meta(path, header),
        source=header.get("Source of Data", (0, ""))[1],
        data_type=header.get("Data Type", (0, ""))[1],
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def station_from_meta(code: str, meta: dict, base: Station | None) -> Station:
    """A :class:`Station` from header metadata, missing fields from ``base``."""
    nan = float("nan")
    return Station(
        code=code,
        name=meta.get("name", base.name if base else code),
        latitude=meta.get("latitude", base.latitude if base else nan),
        longitude=meta.get("longitude", base.longitude if base else nan),
        altitude=meta.get("altitude", base.altitude if base else nan),
    )


# ----------------------------------------------------------------------------- IMAGE
_TIME_WORDS = ["YYYY", "MM", "DD", "HH", "MM", "SS"]
_TIME_WIDTHS = (4, 3, 3, 3, 3, 3)
_FIRST_WIDTH, _NEXT_WIDTH = 11, 8
_JOINED_LABEL = re.compile(r"^([A-Za-z0-9]+)[_:-]([XYZxyz])$")


def _image_labels(path: str, n: int, words: list[str]) -> list[tuple[str, str]]:
    labels: list[tuple[str, str]] = []
    i = 0
    while i < len(words):
        joined = _JOINED_LABEL.match(words[i])
        if joined:
            labels.append((joined.group(1).lower(), joined.group(2).upper()))
            i += 1
        elif i + 1 < len(words) and words[i + 1].upper() in ("X", "Y", "Z"):
            labels.append((words[i].lower(), words[i + 1].upper()))
            i += 2
        else:
            raise BadInputError(
                path,
                f"line {n}: cannot read column label {' '.join(words[i : i + 2])!r}: expected a "
                "station code and a component X, Y or Z (like 'NAL X')",
            )
    if not labels:
        raise BadInputError(path, f"line {n}: header row names no station columns")
    if len(set(labels)) != len(labels):
        dup = next(lab for lab, k in Counter(labels).items() if k > 1)
        raise BadInputError(path, f"line {n}: column {dup[0].upper()} {dup[1]} appears twice")
    return labels


def _image_row(line: str, ncols: int) -> list[float] | None:
    """Time fields and values of one data row, blank-separated or fixed-width (or None)."""
    words = line.split()
    if len(words) == 6 + ncols:
        try:
            return [float(w) for w in words]
        except ValueError:
            pass
    widths = [*_TIME_WIDTHS, _FIRST_WIDTH] + [_NEXT_WIDTH] * (ncols - 1)
    if len(line.rstrip()) <= sum(widths[:-1]):
        return None
    out, pos = [], 0
    for width in widths:
        try:
            out.append(float(line[pos : pos + width]))
        except ValueError:
            return None
        pos += width
    return out


def parse_image(path: str) -> list[Part]:
    """Read one IMAGE text file (see :func:`tame_xr.io.magnetometer.read_image_magnetometer`)."""
    lines = read_lines(path)
    start = next(
        (n for n, ln in enumerate(lines, 1) if [w.upper() for w in ln.split()[:6]] == _TIME_WORDS),
        None,
    )
    if start is None:
        raise BadInputError(
            path, "no header row 'YYYY MM DD HH MM SS NAL X ...': not an IMAGE magnetometer file"
        )
    labels = _image_labels(path, start, lines[start - 1].split()[6:])
    rows, where = [], []
    for n, line in enumerate(lines[start:], start=start + 1):
        text = line.strip()
        if not text or set(text) <= {"-", " "}:
            continue
        row = _image_row(line, len(labels))
        if row is None:
            words = text.split()
            bad = [w for w in words if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)", w)]
            what = (
                f"{bad[0]!r} is not a number"
                if bad
                else f"{'truncated data line' if len(words) < 6 + len(labels) else 'wrong column count'}"
                f": {len(words)} fields, expected {6 + len(labels)} (6 time fields and "
                f"{len(labels)} values)"
            )
            raise BadInputError(path, f"line {n}: {what}")
        rows.append(row)
        where.append(n)
    if not rows:
        raise BadInputError(path, f"line {start}: header without any data lines")
    table = np.asarray(rows)
    fields = table[:, :6]
    if np.any(fields != np.round(fields)):
        k = int(np.flatnonzero(np.any(fields != np.round(fields), axis=1))[0])
        raise BadInputError(path, f"line {where[k]}: time fields must be whole numbers")
    parts = dict(zip(["year", "month", "day", "hour", "minute", "second"], fields.T, strict=True))
    times = pd.to_datetime(pd.DataFrame(parts).astype("int64"), errors="coerce")
    if times.isna().any():
        k = int(np.flatnonzero(times.isna().to_numpy())[0])
        raise BadInputError(path, f"line {where[k]}: not a valid date and time")
    times = times.to_numpy().astype("datetime64[ns]")
    check_times(path, times, np.asarray(where))
    values = clean(table[:, 6:])
    nan = np.full(times.size, np.nan)
    out = []
    for code in dict.fromkeys(code for code, _ in labels):
        comp = {c: values[:, k] for k, (s, c) in enumerate(labels) if s == code}
        xyz = from_xyz(comp.get("X", nan), comp.get("Y", nan), comp.get("Z", nan))
        xyz["F"] = nan
        out.append(Part(path, code, times, xyz, reported="XYZ", cadence=infer_cadence(times)))
    return out
