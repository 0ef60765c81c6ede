"""Ceilometer cloud base heights → ``cbh(time, station)`` Datasets (DESIGN §2).

:func:`read_pangaea_ceilometer` reads PANGAEA tab files, :func:`read_chm15k` Lufft CHM15k
netCDF; both return the same layout, meant for ``Store.write(ds, "ceilometer")``.

**Three states per (time, station) cell**, with Zarr-friendly dtypes:

==============  =========  ==================  =================================
state           ``valid``  ``cloud_detected``  ``cbh`` (float32, m)
==============  =========  ==================  =================================
no measurement  False      False               NaN
no cloud        True       False               NaN
cloud           True       True                height of the lowest cloud base
==============  =========  ==================  =================================

``valid`` is also :class:`tame_xr.Store`'s presence flag: a write replaces only the cells
where it is True, so a missing measurement never overwrites stored data.

**Height reference.** ``cbh`` is the height above the instrument, as ceilometers measure
it (TAME's 2000 m threshold is meant so). CF's only name, ``cloud_base_altitude``, is
above sea level, so ``cbh`` has no ``standard_name``; add ``altitude`` for an altitude.

**Time axis.** Within a file, times must increase strictly: an out-of-order or repeated
time is an error naming the line (record for netCDF), since both formats write sorted
files and disorder means a damaged or hand-merged one. When a file's times lie on a
regular grid (its median step), grid times missing from the file become "no measurement"
rows. Files combine on the union of their times (a station without a row at a time gets
``valid`` False). Where files overlap, a measurement beats "no measurement" and, among
measurements, the first file wins (in the order given; globs and folders are sorted);
each discarded measurement is reported with both file names. Attr ``cadence`` is the
median time step (``"60 s"``).

**Stations.** Codes are lower case. PANGAEA: ``station=``, else whichever of the file-name
prefix (before the first ``_``: ``nya_ceilometer_2014-12.tab``) and the Event label
prefix (``NYA_ceilometer``) is a known station (two different ones are an error), else the
Event label prefix, else the file-name prefix. CHM15k: ``station=``, else the ``location``
attribute (``"Magurele"`` → ``"magurele"``). Position: a ``stations=`` override for the code
wins; else each of latitude, longitude and altitude comes from the first file giving it
(PANGAEA Event or Coverage, CHM15k variables), else the built-in table, else NaN.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..attrs import TIME_ATTRS, group_attrs
from ..report import BadInputError, IngestReport, Skipped, warn_skipped
from ..stations import Station, normalise_station, station_coords, station_table
from .images import expand_files

__all__ = ["read_chm15k", "read_pangaea_ceilometer"]

CHM15K_NO_CLOUD = -1
"""CHM15k ``cbh`` value for "no cloud base detected"; other negatives, NaN and the
``_FillValue`` mean no measurement."""
#: Highest believable PANGAEA CBH (m; ceilometers reach 15.4 km): above, a missing-value marker.
MAX_CBH = 20000.0

_TAB = (".tab", ".txt", ".tsv")
_NC = (".nc", ".nc4", ".cdf", ".netcdf")
_UNITS = {"m": 1.0, "km": 1000.0, "ft": 0.3048}
_CBH_NAME = re.compile(r"^(?:cbh|cloud base)\b.*\[(\w+)\]$", re.IGNORECASE)
_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9]*)")
_VARIABLE_ATTRS = {
    "cbh": {
        "units": "m",
        "long_name": "cloud base height of the lowest cloud layer",
        "comment": "height above the instrument; NaN where no cloud was detected or no "
        "measurement exists (see cloud_detected and valid). No CF standard_name: "
        "cloud_base_altitude is above sea level (add the altitude coordinate).",
    },
    "cloud_detected": {
        "units": "1",
        "long_name": "a cloud base was detected",
        "comment": "False for a clear sky and where no measurement exists: see valid",
    },
    "valid": {"units": "1", "long_name": "a ceilometer measurement exists"},
}


@dataclass
class _Part:
    """One file's data: rows in time order; ``cbh`` NaN where no cloud or no measurement."""

    path: str
    station: str
    time: np.ndarray
    cbh: np.ndarray
    valid: np.ndarray
    position: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)


def read_pangaea_ceilometer(
    files,
    *,
    station: str | None = None,
    stations: Mapping[str, Station | Mapping] | None = None,
    report: IngestReport | None = None,
) -> xr.Dataset:
    """Read PANGAEA tab-separated ceilometer files (``Date/Time`` and ``CBH [m]`` columns).

    Parameters
    ----------
    files
        Paths, a glob pattern or a folder (searched recursively for ``.tab``, ``.txt`` and
        ``.tsv`` files; ``.nc``, ``.nc4``, ``.cdf`` for :func:`read_chm15k`).
    station
        Station code for all files (default: from the file name or the Event label, see
        the module docstring).
    stations
        Station table overrides (see :func:`tame_xr.stations.station_table`).
    report
        Receives the files used and, with the reason, every file skipped and every
        overlapping measurement discarded. Without it a bad file raises
        :class:`~tame_xr.report.BadInputError` and overlaps are listed in one
        :class:`~tame_xr.report.SkippedInputWarning`.

    Returns
    -------
    xarray.Dataset
        ``cbh``, ``cloud_detected``, ``valid`` along ``(time, station)``; group attrs with
        the files' ``citation`` and ``license``. The ``/* … */`` block is optional; the
        columns are found by name (``Date/Time``, ``CBH [m]``; ``[km]``, ``[ft]`` are
        converted) among others in any order; an empty CBH field means no cloud. A negative
        CBH, or one above :data:`MAX_CBH` (a missing-value marker), makes the file bad.
    """
    return _read(files, _pangaea_part, station, stations, report, "PANGAEA tab files", _TAB)


def read_chm15k(
    files,
    *,
    station: str | None = None,
    stations: Mapping[str, Station | Mapping] | None = None,
    report: IngestReport | None = None,
    above_instrument: bool = True,
) -> xr.Dataset:
    """Read Lufft CHM15k netCDF files: the lowest layer of ``cbh(time, layer)``.

    The first element along ``layer`` (labelled 1 in the files) is used: the CHM15k lists
    its up to three cloud bases from the lowest up.

    Parameters
    ----------
    files, station, stations, report
        As for :func:`read_pangaea_ceilometer` (station default: the ``location`` attr).
    above_instrument
        The CHM15k adds its cloud height offset ``cho`` (set to the site altitude for
        heights above sea level) to ``cbh``; True subtracts it again so that ``cbh`` is
        the height above the instrument like every other reader's. False keeps the
        values as recorded.

    Notes
    -----
    ``-1`` (:data:`CHM15K_NO_CLOUD`) is "no cloud"; NaN, the ``_FillValue`` and other
    negative values are "no measurement". netCDF-3 (the CHM15k's own format) and
    netCDF-4 files are read with whichever of h5netcdf, netCDF4 or scipy can open them.
    """

    def parse(path: str, given: str | None, table: Mapping[str, Station]) -> _Part:
        return _chm15k_part(path, given, table, above_instrument)

    return _read(files, parse, station, stations, report, "Lufft CHM15k netCDF files", _NC)


# ------------------------------------------------------------------------ shared
def _read(files, parse: Callable, station, stations, report, what: str, suffixes) -> xr.Dataset:
    table = station_table(stations)
    paths = expand_files(files)
    if isinstance(files, (str, os.PathLike)) and os.path.isdir(files):  # a folder: by suffix
        paths = [p for p in paths if p.lower().endswith(suffixes)]
    parts: list[_Part] = []
    skipped: list[Skipped] = []
    for path in paths:
        try:
            parts.append(_fill_grid(parse(path, station, table)))
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            if not isinstance(exc, BadInputError):
                exc = BadInputError(path, f"cannot read: {exc}")
            if report is None:
                raise exc from None
            skipped.append(Skipped(exc.path, exc.reason))
    if not parts:
        raise ValueError(
            f"no usable {what} in {files!r}" + "".join(f"\n  {s}" for s in skipped[:10])
        )
    ds, overlaps = _combine(parts, table, {k.lower() for k in stations or {}}, what)
    if report is not None:
        report.added.extend(p.path for p in parts)
        for entry in skipped + overlaps:
            report.skip(entry.path, entry.reason)
    else:
        warn_skipped(overlaps, "overlapping ceilometer records", stacklevel=4)
    return ds


def _fill_grid(part: _Part) -> _Part:
    """Insert the missing times of a file's regular grid as "no measurement" rows."""
    if part.time.size < 3:
        return part
    t = part.time.astype("int64")
    step = int(np.median(np.diff(t)))
    if step <= 0 or np.any((t - t[0]) % step):
        return part
    grid = np.arange(t[0], t[-1] + 1, step)
    if grid.size == t.size:
        return part
    pos = np.searchsorted(grid, t)
    cbh = np.full(grid.size, np.nan, np.float32)
    valid = np.zeros(grid.size, bool)
    cbh[pos], valid[pos] = part.cbh, part.valid
    part.time, part.cbh, part.valid = grid.astype("datetime64[ns]"), cbh, valid
    return part


def _combine(parts: list[_Part], table, overrides: set[str], what: str):
    codes = sorted({p.station for p in parts})
    per: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    overlaps: list[Skipped] = []
    steps = []
    for code in codes:
        ps = [p for p in parts if p.station == code]
        t = np.concatenate([p.time for p in ps])
        valid = np.concatenate([p.valid for p in ps])
        cbh = np.concatenate([p.cbh for p in ps])
        src = np.repeat(np.arange(len(ps)), [p.time.size for p in ps])
        order = np.lexsort((src, ~valid, t))  # by time; measurements, then file order first
        first = np.r_[True, t[order][1:] != t[order][:-1]]
        owner = order[np.maximum.accumulate(np.where(first, np.arange(order.size), 0))]
        dropped = ~first & valid[order]  # measurements discarded for a duplicate time
        lost, kept_by = order[dropped], owner[dropped]
        for k, j in sorted(set(zip(src[lost].tolist(), src[kept_by].tolist(), strict=True))):
            tt = t[lost][(src[lost] == k) & (src[kept_by] == j)]
            overlaps.append(
                Skipped(
                    ps[k].path,
                    f"{tt.size} times ({_iso(tt.min())} to {_iso(tt.max())}) also in "
                    f"{ps[j].path}: the values of {ps[j].path} are kept",
                )
            )
        keep = order[first]
        per[code] = (t[keep], cbh[keep], valid[keep])
        steps.extend(np.diff(p.time).astype("int64") for p in ps if p.time.size > 1)
    time = np.unique(np.concatenate([v[0] for v in per.values()]))
    cbh = np.full((time.size, len(codes)), np.nan, np.float32)
    valid = np.zeros(cbh.shape, bool)
    for j, code in enumerate(codes):
        t, c, v = per[code]
        i = np.searchsorted(time, t)
        cbh[i, j], valid[i, j] = c, v
    cbh[~valid] = np.nan
    coords = station_coords(codes, table)
    for j, code in enumerate(codes):
        if code in overrides:
            continue
        found = [p.position for p in parts if p.station == code]
        name = next((f["name"] for f in found if f.get("name")), None)
        if name:
            coords["station_name"][1][j] = name
        for key in ("latitude", "longitude", "altitude"):
            value = next((f[key] for f in found if np.isfinite(f.get(key, np.nan))), None)
            if value is not None:
                coords[key][1][j] = value
    coords["time"] = ("time", time.astype("datetime64[ns]"), TIME_ATTRS)
    dims = ("time", "station")
    ds = xr.Dataset(
        {
            "cbh": (dims, cbh, _VARIABLE_ATTRS["cbh"]),
            "cloud_detected": (dims, valid & np.isfinite(cbh), _VARIABLE_ATTRS["cloud_detected"]),
            "valid": (dims, valid, _VARIABLE_ATTRS["valid"]),
        },
        coords=coords,
    )
    metas = [p.meta for p in parts]
    licences = list(dict.fromkeys(m["license"] for m in metas if m.get("license")))
    sources = list(dict.fromkeys(m["source"] for m in metas if m.get("source")))
    ds.attrs = group_attrs(
        title="Ceilometer cloud base height",
        source=f"{what} read by tame_xr" + (": " + "; ".join(sources) if sources else ""),
        license="; ".join(licences) or "see the data provider",
    )
    citations = list(dict.fromkeys(m["citation"] for m in metas if m.get("citation")))
    if citations:
        ds.attrs["citation"] = "\n".join(citations)
    if steps:
        ds.attrs["cadence"] = f"{np.median(np.concatenate(steps)) / 1e9:g} s"
    return ds, overlaps


def _iso(t: np.datetime64) -> str:
    return str(np.datetime_as_string(t, unit="s"))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


# ------------------------------------------------------------------------ PANGAEA
def _pangaea_part(path: str, given: str | None, table: Mapping[str, Station]) -> _Part:
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise BadInputError(path, "not UTF-8 text (expected a PANGAEA tab file)") from None
    except OSError as exc:
        raise BadInputError(path, f"cannot read: {exc}") from None
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if not filled:
        raise BadInputError(path, "empty file")
    meta, start = _pangaea_meta(path, lines, filled[0])
    head = next((i for i in filled if i >= start), None)
    cols = [c.strip() for c in lines[head].split("\t")] if head is not None else []
    t_col = next((k for k, c in enumerate(cols) if c.lower() == "date/time"), None)
    c_col = next((k for k, c in enumerate(cols) if c.upper() == "CBH [M]"), None)
    if c_col is None:
        c_col = next((k for k, c in enumerate(cols) if _CBH_NAME.match(c)), None)
    if t_col is None or c_col is None:
        where = f"line {head + 1}" if head is not None else f"line {len(lines)}"
        raise BadInputError(
            path, f"{where}: no header row with 'Date/Time' and 'CBH [m]' columns (found {cols})"
        )
    unit = _CBH_NAME.match(cols[c_col]).group(1).lower()
    if unit not in _UNITS:
        raise BadInputError(
            path, f"line {head + 1}: CBH unit [{unit}] is not one of {list(_UNITS)}"
        )
    rows = [i for i in filled if i > head]
    times, values = [], []
    for i in rows:
        fields = lines[i].split("\t")
        if len(fields) != len(cols):
            hint = " (truncated line?)" if len(fields) < len(cols) else ""
            raise BadInputError(
                path, f"line {i + 1}: {len(fields)} columns, the header has {len(cols)}{hint}"
            )
        times.append(fields[t_col].strip())
        values.append(fields[c_col].strip())
    if not rows:
        raise BadInputError(path, f"line {head + 1}: header row but no data rows")
    where = [f"line {i + 1}" for i in rows]
    parsed = pd.to_datetime(pd.Series(times), format="ISO8601", errors="coerce", utc=True)
    _fail(path, where, parsed.isna().to_numpy(), lambda k: f"time {times[k]!r} is not ISO")
    time = parsed.dt.tz_localize(None).to_numpy().astype("datetime64[ns]")
    _check_increasing(path, time, where)
    text = pd.Series(values)
    number = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    bad = (text != "").to_numpy() & ~np.isfinite(number)
    _fail(path, where, bad, lambda k: f"CBH {values[k]!r} is not a number")
    _fail(path, where, number < 0, lambda k: f"negative CBH {values[k]} (no cloud: empty field)")
    high = number * _UNITS[unit] > MAX_CBH
    _fail(path, where, high, lambda k: f"CBH {values[k]} {unit} is above {MAX_CBH:g} m (a marker?)")
    event = meta.get("Event(s)", "").split("\n")[0].split("*")[0].strip()
    position = _pangaea_position(meta.get("Event(s)", "") + "\n" + meta.get("Coverage", ""))
    meta = {
        "citation": meta.get("Citation"),
        "license": meta.get("License"),
        "source": f"event {event}" if event else None,
    }
    code = _pangaea_station(path, given, event, table)
    cbh = (number * _UNITS[unit]).astype(np.float32)
    return _Part(path, code, time, cbh, np.ones(time.size, bool), position, meta)


def _pangaea_meta(path: str, lines: list[str], first: int) -> tuple[dict[str, str], int]:
    """The ``/* … */`` block as ``{key: value}`` (tab-continued values joined by newlines)."""
    if not lines[first].lstrip().startswith("/*"):
        return {}, first
    end = next((i for i in range(first, len(lines)) if lines[i].rstrip().endswith("*/")), None)
    if end is None:
        raise BadInputError(path, f"line {first + 1}: the '/*' metadata block has no end '*/'")
    meta: dict[str, str] = {}
    key = None
    for i in range(first, end + 1):
        line = lines[i].replace("/*", "", 1) if i == first else lines[i]
        line = line.rstrip()[:-2] if i == end else line
        if line.startswith("\t") and key:
            meta[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip()
            meta[key] = value.strip()
    return meta, end + 1


def _pangaea_position(text: str) -> dict:
    out: dict = {}
    for key, name in (("latitude", "LATITUDE"), ("longitude", "LONGITUDE"), ("altitude", "")):
        name = name or "(?<!MINIMUM )(?<!MAXIMUM )(?:ELEVATION|ALTITUDE)"
        if m := re.search(rf"\b{name}:\s*(-?\d+(?:\.\d*)?)", text):
            out[key] = float(m.group(1))
    if m := re.search(r"\bLOCATION:\s*([^*\n]+)", text):
        out["name"] = m.group(1).strip()
    return out


def _pangaea_station(path: str, given, event: str, table) -> str:
    if given:
        return normalise_station(given, table)
    prefixes = [
        m.group(1) for s in (os.path.basename(path), event) if s and (m := _PREFIX.match(s))
    ]
    known = [c for c in (normalise_station(p, table) for p in prefixes) if c in table]
    if len(set(known)) > 1:
        why = f"the file name says station {known[0]} but the Event label says {known[1]}"
        raise BadInputError(path, f"{why}: pass station=")
    if known:
        return known[0]
    if prefixes:  # the Event label first, then the file name
        return normalise_station(prefixes[-1], table)
    raise BadInputError(path, "cannot tell the station from the file name or Event: pass station=")


def _fail(path: str, where: list[str], bad: np.ndarray, message: Callable[[int], str]) -> None:
    """Raise for the first True of ``bad``, naming its line or record."""
    if (k := np.flatnonzero(bad)).size:
        raise BadInputError(path, f"{where[k[0]]}: {message(int(k[0]))}")


def _check_increasing(path: str, time: np.ndarray, where: list[str]) -> None:
    back = np.r_[False, np.diff(time) <= np.timedelta64(0, "ns")]
    _fail(
        path,
        where,
        back,
        lambda k: (
            f"time {_iso(time[k])} is not after {_iso(time[k - 1])} on {where[k - 1]} "
            "(times must increase; sort the file or split it)"
        ),
    )


# ------------------------------------------------------------------------ CHM15k
def _open_netcdf(path: str) -> xr.Dataset:
    try:
        with open(path, "rb") as fh:
            magic = fh.read(8)
    except OSError as exc:
        raise BadInputError(path, f"cannot read: {exc}") from None
    if magic.startswith(b"CDF"):
        engines = ["netcdf4", "scipy"]
    elif magic.startswith(b"\x89HDF"):
        engines = ["h5netcdf", "netcdf4"]
    else:
        raise BadInputError(path, "not a netCDF file" + (" (empty)" if not magic else ""))
    errors = []
    for engine in engines:
        try:
            return xr.open_dataset(path, engine=engine)
        except Exception as exc:  # damaged headers raise anything (IndexError, struct.error ...)
            errors.append(f"{engine}: {exc or type(exc).__name__}")
    raise BadInputError(path, "cannot open as netCDF (" + "; ".join(errors) + ")")


def _chm15k_part(path: str, given, table, above_instrument: bool) -> _Part:
    with _open_netcdf(path) as nc:
        missing = [v for v in ("cbh", "time") if v not in nc.variables]
        if missing:
            raise BadInputError(path, f"no variable {missing[0]!r} (not a CHM15k cloud file)")
        var = nc["cbh"]
        if "layer" in var.dims:
            var = var.isel(layer=0)
        if var.dims != ("time",):
            raise BadInputError(path, f"cbh has dims {nc['cbh'].dims}, expected (time, layer)")
        values = var.values.astype(np.float64)
        time = nc["time"].values
        if time.dtype == object and time.size:  # cftime objects: standard calendars only
            time = xr.CFTimeIndex(time).to_datetimeindex(time_unit="ns").values
        if time.dtype.kind != "M":
            units = nc["time"].attrs.get("units", nc["time"].encoding.get("units"))
            raise BadInputError(path, f"time cannot be decoded (units {units!r})")
        cho = float(nc["cho"].values) if "cho" in nc.variables else 0.0
        position = {"name": str(nc.attrs.get("location", "")).strip()}
        for key in ("latitude", "longitude", "altitude"):
            src = nc[key].values if key in nc.variables else nc.attrs.get(key)
            if src is not None and np.size(src) == 1:
                position[key] = float(np.asarray(src, float).ravel()[0])
        meta = {
            "license": nc.attrs.get("license"),
            "source": ", ".join(
                f"{k} {nc.attrs[k]}" for k in ("device_name", "institution") if nc.attrs.get(k)
            ),
        }
    time = time.astype("datetime64[ns]")
    _check_increasing(path, time, [f"record {i}" for i in range(time.size)])
    no_cloud = values == CHM15K_NO_CLOUD
    cloud = np.isfinite(values) & (values >= 0)
    if above_instrument and np.isfinite(cho):
        values = values - cho
    cbh = np.where(cloud, values, np.nan).astype(np.float32)
    if given:
        code = normalise_station(given, table)
    elif position["name"]:
        code = normalise_station(_slug(position["name"]), table)
    else:
        raise BadInputError(path, "no 'location' attribute to name the station: pass station=")
    return _Part(path, code, time, cbh, cloud | no_cloud, position, meta)
