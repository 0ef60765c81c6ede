"""Magnetometer text files → a ``X, Y, Z (time, station)`` Dataset (DESIGN §2).

Two formats: IAGA-2002 (INTERMAGNET, USGS and most observatories; :func:`read_iaga2002`)
and the IMAGE network's text files (:func:`read_image_magnetometer`). Both return the same
data model, so that reads of different days, stations or formats can be written one after
the other into one store group with :meth:`tame_xr.Store.write`:

``X, Y, Z`` (time, station) float32, nT
    Geographic north, east and vertical (down) components. Where a file reports H and D
    they are computed as X = H cos D, Y = H sin D (D converted from minutes of arc); where it
    reports H, D and I, Z = H tan I.
``H`` (nT) and ``D`` (degree), float32
    Horizontal intensity and declination. For stations reporting H and D these are the
    file's values (D converted from minutes of arc to degrees); otherwise they are derived:
    H = hypot(X, Y), D = atan2(Y, X). They are always present, so that every read has the
    same variables. Which components a station reported is in the group attribute
    ``reported`` (``"HDZF"``, or ``"bou: HDZF; nya: XYZF"`` when stations differ).
``F`` (nT), float32
    Total field from an independent scalar magnetometer (IAGA element ``F``, or ``S``); NaN
    where the file has none (IMAGE files, IAGA files reporting ``G``).
``G`` (nT), float32, only when a file reports it
    IAGA ``G`` = ΔF, the vector-computed minus the scalar total field, as reported. It is
    kept as its own variable and not turned into ``F``: for variation data the vector
    components carry arbitrary baselines, so F cannot be recovered from it.
``valid`` (time, station), bool
    A file had a record for this time and station. :meth:`tame_xr.Store.write` replaces
    only these cells, so a read of one station never blanks another.

Missing-value markers (99999.00, 88888.00, 99999.9 …: any ``|value| >= 88888``) become NaN.
``time`` is the union of all files' times (datetime64[ns], sorted, unique), ``station`` the
union of stations (sorted lower-case codes) with ``station_name``, ``latitude``,
``longitude`` (−180..180), ``altitude``.

Bad input. A file that cannot be read raises :class:`~tame_xr.report.BadInputError`
naming the file and the line; with ``report=`` it is recorded there instead and the other
files are still read. Times within one file must increase strictly: a repeated or
out-of-order time makes the file bad (IAGA-2002 and IMAGE files are written in time order;
a file that is not is damaged, and guessing which record is right would hide it). Files
that overlap in time for a station (the same day downloaded twice, or a part-day file)
are not bad: for each (time, station) the first file in the order given keeps its values,
and every file that lost records is listed (``report.skipped`` or one
:class:`~tame_xr.report.SkippedInputWarning`) with the overlapping period and whether the
values differ. Files whose time step (IAGA ``Data Interval Type``, or the median step)
differs from the most common one are bad for that read: read them into another group.

No CF standard names are set: the CF standard-name table has no names for geomagnetic
field components, declination or total field intensity (as far as we know, up to v87),
so the variables carry ``units`` and ``long_name`` only.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import xarray as xr

from ..attrs import TIME_ATTRS, group_attrs
from ..report import BadInputError, IngestReport, Skipped, warn_skipped
from ..stations import BUILTIN_STATIONS, Station, station_coords, station_table
from ._iaga import Part, infer_cadence, parse_iaga2002, parse_image
from ._iaga import station_from_meta as _station_from_meta
from .images import expand_files

__all__ = ["read_iaga2002", "read_image_magnetometer", "MAGNETOMETER_VARIABLES"]

Files = str | os.PathLike | Iterable[str | os.PathLike]

IAGA_LICENSE = "IAGA-2002 data: see the data provider (INTERMAGNET conditions of use)"
IMAGE_LICENSE = "IMAGE data: see the data provider (IMAGE magnetometer network rules of the road)"

_NOTE = {
    "X": "X = H cos D for stations reporting H and D",
    "Y": "Y = H sin D for stations reporting H and D",
    "Z": "Z = H tan I for stations reporting H, D and I",
    "H": "as reported for stations reporting H; else hypot(X, Y)",
    "D": "as reported (minutes of arc / 60) for stations reporting D; else atan2(Y, X)",
}
#: Variables of every magnetometer Dataset, with their attributes (no CF standard names:
#: the CF table has none for geomagnetic components).
MAGNETOMETER_VARIABLES: dict[str, dict[str, str]] = {
    "X": {"units": "nT", "long_name": "geomagnetic north component (geographic north)"},
    "Y": {"units": "nT", "long_name": "geomagnetic east component (geographic east)"},
    "Z": {"units": "nT", "long_name": "geomagnetic vertical component (positive down)"},
    "H": {"units": "nT", "long_name": "geomagnetic horizontal intensity"},
    "D": {"units": "degree", "long_name": "geomagnetic declination (east of geographic north)"},
    "F": {"units": "nT", "long_name": "total field intensity (independent scalar magnetometer)"},
}
_G_ATTRS = {
    "units": "nT",
    "long_name": "delta F: vector-computed minus scalar total field intensity, as reported",
}


# --------------------------------------------------------------------------- public API
def read_iaga2002(
    files: Files,
    *,
    report: IngestReport | None = None,
    stations: Mapping[str, Station | Mapping] | None = None,
) -> xr.Dataset:
    """Read IAGA-2002 files (any days and stations) into one Dataset.

    Accepted: the IAGA-2002 layout (https://www.ngdc.noaa.gov/IAGA/vdat/IAGA2002/
    iaga2002format.html): header records `` Keyword   value |`` (a space in column 1),
    comment records `` # ...|``, the column header ``DATE TIME DOY CODEa CODEb CODEc
    CODEd |`` and data records ``YYYY-MM-DD HH:MM:SS.sss DOY v1 v2 v3 v4`` (fields separated
    by blanks; ``24:00:00`` is the next day's midnight), with CRLF, LF or CR line ends.
    The elements are the last letters of the column names (checked against ``Reported``):
    X, Y, Z or H, D, Z or H, D, I in any order, plus one of F, S (scalar total field) or G
    (ΔF). D and I are in minutes of arc. E and V (variation components in nT) are refused:
    converting them needs a declination that IAGA-2002 gives only in free-text comments.
    Second, minute, hour … data are all read; the time step becomes the ``cadence``
    attribute (``"60 s"``).

    Station metadata come from the header (``IAGA CODE`` → lower-case station code,
    ``Station Name``, ``Geodetic Latitude``, ``Geodetic Longitude`` converted from 0..360
    to −180..180, ``Elevation``) and override the built-in station table; ``stations``
    overrides both.

    Parameters
    ----------
    files
        Paths, a glob pattern or a directory (searched recursively).
    report
        Collects used and skipped files; without one a bad file raises
        :class:`~tame_xr.report.BadInputError` and overlaps give a warning.
    stations
        Station table overrides (see :func:`tame_xr.stations.station_table`).

    Returns
    -------
    xarray.Dataset
        ``X, Y, Z, H, D, F, valid`` (and ``G``) on ``(time, station)``: see
        :mod:`tame_xr.io.magnetometer`.

    Examples
    --------
    >>> ds = read_iaga2002("magn/iaga2002/bou2014110*vmin.min")            # doctest: +SKIP
    >>> ds.X.sel(station="bou")                                            # doctest: +SKIP
    """
    parts = _read_all(files, lambda p: [parse_iaga2002(p)], report)
    sources = sorted({p.source for p in parts if p.source})
    types = sorted({p.data_type for p in parts if p.data_type})
    ds = _to_dataset(
        parts,
        report,
        stations,
        title="Geomagnetic field from IAGA-2002 files",
        source="IAGA-2002 files" + (f" from {'; '.join(sources)}" if sources else ""),
        license=IAGA_LICENSE,
    )
    ds.attrs["references"] = "https://www.ngdc.noaa.gov/IAGA/vdat/IAGA2002/iaga2002format.html"
    if types:
        ds.attrs["data_type"] = "; ".join(types)
    return ds


def read_image_magnetometer(
    files: Files,
    *,
    report: IngestReport | None = None,
    stations: Mapping[str, Station | Mapping] | None = None,
) -> xr.Dataset:
    """Read IMAGE magnetometer network text files (several stations per file).

    Accepted layout (lines may end in CRLF, LF or CR)::

        [any preamble lines, ignored]
        YYYY MM DD HH MM SS   NAL X   NAL Y   NAL Z   LYR X   LYR Y   LYR Z
        -------------------------------------------------------------------
        2014 12 01 00 00 00    8040.1   420.3 52650.2  8430.3  1020.1 52310.4
        ...

    The header row is the first line whose first six words are ``YYYY MM DD HH MM SS``; the
    column labels after them are a station code and a component, ``NAL X`` (or ``NAL_X``),
    the component one of X, Y, Z (nT, geographic). Optional separator rows hold only dashes.
    Each data row holds the six time fields and one value per label, either separated by
    blanks or in the fixed widths TAME read (4, 3, 3, 3, 3, 3 for the time, 11 for the first
    value and 8 for each further value), so that values filling their field (``-12345.6``)
    need no blank between them. 99999.9 (any ``|value| >= 88888``) marks a missing value.
    A station missing one component gets NaN for it. There is no F: ``F`` is NaN; ``H``
    and ``D`` are derived from X and Y.

    Parameters, return value and the handling of bad files, overlaps and station metadata
    (built-in table, overridden by ``stations``) are as for :func:`read_iaga2002`.
    """
    parts = _read_all(files, parse_image, report)
    return _to_dataset(
        parts,
        report,
        stations,
        title="Geomagnetic field from IMAGE magnetometer network files",
        source="IMAGE magnetometer network text files",
        license=IMAGE_LICENSE,
    )


# --------------------------------------------------------------------------- combining
def _read_all(
    files: Files, parse: Callable[[str], list[Part]], report: IngestReport | None
) -> list[Part]:
    paths = expand_files(files)
    if not paths:
        raise ValueError(f"no files found for {files!r}")
    parts: list[Part] = []
    skipped: list[Skipped] = []
    for path in paths:
        try:
            parts.extend(parse(path))
        except BadInputError as exc:
            if report is None:
                raise
            skipped.append(Skipped(path, exc.reason))
    # one time step per read: the most common wins, the others are bad files here
    steps = Counter(p.cadence for p in parts if p.cadence is not None)
    if len(steps) > 1:
        common = steps.most_common(1)[0][0]
        odd = sorted({p.path for p in parts if p.cadence not in (None, common)})
        for path in odd:
            step = next(p.cadence for p in parts if p.path == path)
            exc = BadInputError(
                path,
                f"time step {_cadence_text(step)} differs from the {_cadence_text(common)} of "
                "the other files: read it separately (into its own group)",
            )
            if report is None:
                raise exc
            skipped.append(Skipped(path, exc.reason))
        parts = [p for p in parts if p.path not in odd]
    if report is not None:
        report.skipped.extend(skipped)
    if not parts:
        raise ValueError("no usable magnetometer files" + "".join(f"\n  {s}" for s in skipped[:10]))
    return parts


def _drop_overlaps(parts: list[Part]) -> tuple[list[Part], list[Skipped]]:
    """For each station, records already read from an earlier file are dropped (reported)."""
    kept: list[Part] = []
    notes: list[Skipped] = []
    for part in parts:
        earlier = [p for p in kept if p.station == part.station]
        taken = np.zeros(part.times.size, dtype=bool)
        for other in earlier:
            if other.times[-1] < part.times[0] or other.times[0] > part.times[-1]:
                continue  # no common period (the usual case: one file per day)
            hit = np.isin(part.times, other.times)
            new = hit & ~taken
            if not new.any():
                continue
            taken |= hit
            mine = np.stack([part.values[v][new] for v in "XYZ"])
            idx = np.searchsorted(other.times, part.times[new])
            theirs = np.stack([other.values[v][idx] for v in "XYZ"])
            same = np.allclose(mine, theirs, rtol=0, atol=1e-6, equal_nan=True)
            t = part.times[new]
            notes.append(
                Skipped(
                    part.path,
                    f"{int(new.sum())} records of station {part.station} from "
                    f"{pd.Timestamp(t[0])} to {pd.Timestamp(t[-1])} were already read from "
                    f"{other.path} and kept from there ("
                    + ("same values)" if same else "values differ)"),
                )
            )
        if taken.all():
            continue
        if taken.any():
            keep = ~taken
            part = Part(
                part.path,
                part.station,
                part.times[keep],
                {k: v[keep] for k, v in part.values.items()},
                part.reported,
                part.cadence,
                part.meta,
                part.source,
                part.data_type,
            )
        kept.append(part)
    return kept, notes


def _to_dataset(
    parts: list[Part],
    report: IngestReport | None,
    stations: Mapping[str, Station | Mapping] | None,
    *,
    title: str,
    source: str,
    license: str,
) -> xr.Dataset:
    parts, notes = _drop_overlaps(parts)
    if report is not None:  # a file whose every record was read before is only "skipped"
        report.added.extend(dict.fromkeys(p.path for p in parts))
        report.skipped.extend(notes)
    else:
        warn_skipped(notes, "magnetometer records (overlapping files)", stacklevel=4)
    times = np.unique(np.concatenate([p.times for p in parts]))
    codes = sorted({p.station for p in parts})
    s_index = {c: j for j, c in enumerate(codes)}
    names = [*MAGNETOMETER_VARIABLES] + (["G"] if any("G" in p.values for p in parts) else [])
    arrays = {v: np.full((times.size, len(codes)), np.nan, dtype="float32") for v in names}
    valid = np.zeros((times.size, len(codes)), dtype=bool)
    for part in parts:
        i, j = np.searchsorted(times, part.times), s_index[part.station]
        valid[i, j] = True
        for name, values in part.values.items():
            arrays[name][i, j] = values
    table = dict(BUILTIN_STATIONS)
    for part in reversed(parts):  # the first file's header wins
        table[part.station] = _station_from_meta(
            part.station, part.meta, BUILTIN_STATIONS.get(part.station)
        )
    if stations:  # the caller's overrides win over headers and the built-in table
        given = station_table(stations)
        table.update({c.lower(): given[c.lower()] for c in stations})
    dims = ("time", "station")
    data = {}
    for name in names:
        attrs = dict(MAGNETOMETER_VARIABLES.get(name, _G_ATTRS))
        if name in _NOTE:
            attrs["comment"] = _NOTE[name]
        data[name] = (dims, arrays[name], attrs)
    data["valid"] = (
        dims,
        valid,
        {"long_name": "a file had a record for this time and station", "units": "1"},
    )
    coords = station_coords(codes, table)
    coords["time"] = ("time", times.astype("datetime64[ns]"), TIME_ATTRS)
    ds = xr.Dataset(data, coords=coords)
    ds.attrs = group_attrs(title=title, source=source, license=license)
    steps = {p.cadence for p in parts if p.cadence is not None}
    step = steps.pop() if steps else infer_cadence(times)
    ds.attrs["cadence"] = _cadence_text(step) if step is not None else "unknown"
    reported = {}
    for part in parts:
        reported.setdefault(part.station, [])
        if part.reported not in reported[part.station]:
            reported[part.station].append(part.reported)
    kinds = {"/".join(v) for v in reported.values()}
    ds.attrs["reported"] = (
        kinds.pop()
        if len(kinds) == 1
        else "; ".join(f"{s}: {'/'.join(v)}" for s, v in sorted(reported.items()))
    )
    ds.attrs["missing_values"] = "values with |v| >= 88888 (99999.00, 88888.00 ...) became NaN"
    return ds


def _cadence_text(step: pd.Timedelta) -> str:
    return f"{step.total_seconds():g} s"
