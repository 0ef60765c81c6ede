"""Built-in station table and station-code normalisation.

Station codes in every tame_xr Dataset are lower case (``"nya"``, ``"lyr"``, ``"gill"``).
Instrument codes found in file names (``nya6``, ``LYR``, ``themis19``) are mapped to station
codes by :func:`normalise_station`. Users override or extend the table by passing a mapping of
:class:`Station` (or plain dicts) wherever a ``stations=`` argument is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import xarray as xr


@dataclass(frozen=True)
class Station:
    """One observing site: code, name and geodetic position."""

    code: str
    name: str
    latitude: float
    longitude: float
    altitude: float = float("nan")


_BUILTIN = [
    Station("nya", "Ny-Ålesund", 78.9230, 11.9290, 50.0),
    Station("nal", "Ny-Ålesund (magnetometer)", 78.9200, 11.9500, 7.0),
    Station("lyr", "Longyearbyen (KHO)", 78.1478, 16.0431, 520.0),
    Station("hor", "Hornsund", 77.0000, 15.5500, 10.0),
    Station("bjn", "Bjørnøya", 74.5000, 19.2000, 10.0),
    Station("tro", "Tromsø", 69.6600, 18.9400, 100.0),
    Station("and", "Andøya", 69.3000, 16.0300, 380.0),
    Station("sod", "Sodankylä", 67.3700, 26.6300, 180.0),
    Station("bou", "Boulder", 40.1370, -105.2370, 1682.0),
    Station("gill", "Gillam", 56.3764, -94.6436, 139.0),
]

BUILTIN_STATIONS: dict[str, Station] = {s.code: s for s in _BUILTIN}


def station_table(overrides: Mapping[str, Station | Mapping] | None = None) -> dict[str, Station]:
    """Return the built-in station table updated with ``overrides``.

    Parameters
    ----------
    overrides
        Mapping of station code to :class:`Station` or to a dict with the fields ``name``,
        ``latitude``, ``longitude`` and optionally ``altitude``.
    """
    table = dict(BUILTIN_STATIONS)
    for code, value in (overrides or {}).items():
        code = code.lower()
        if isinstance(value, Station):
            table[code] = value
        else:
            fields = dict(value)
            fields.setdefault("name", code)
            fields.setdefault("altitude", float("nan"))
            table[code] = Station(code=code, **fields)
    return table


_TRAILING_DIGITS = re.compile(r"^([a-z]+?)\d+$")


def normalise_station(code: str, table: Mapping[str, Station] | None = None) -> str:
    """Map an instrument code from a file name to a station code.

    ``"LYR"`` → ``"lyr"``; ``"nya6"`` (camera 6 at Ny-Ålesund) → ``"nya"`` when ``nya`` is a
    known station and ``nya6`` is not; unknown codes are returned lower-cased.
    """
    table = BUILTIN_STATIONS if table is None else table
    low = code.strip().lower()
    if low in table:
        return low
    match = _TRAILING_DIGITS.match(low)
    if match and match.group(1) in table:
        return match.group(1)
    return low


def station_coords(codes: list[str], table: Mapping[str, Station] | None = None) -> dict:
    """Per-station coordinates (``station_name``, ``latitude``, ``longitude``, ``altitude``).

    Unknown stations get their code as name and NaN positions, so that nothing is dropped.
    """
    table = BUILTIN_STATIONS if table is None else table
    rows = [table.get(c, Station(c, c, float("nan"), float("nan"))) for c in codes]
    station = np.array(codes, dtype=object)
    return {
        "station": ("station", station, {"long_name": "station code"}),
        "station_name": (
            "station",
            np.array([r.name for r in rows], dtype=object),
            {"long_name": "station name"},
        ),
        "latitude": (
            "station",
            np.array([r.latitude for r in rows], dtype="float64"),
            {"units": "degrees_north", "standard_name": "latitude", "long_name": "latitude"},
        ),
        "longitude": (
            "station",
            np.array([r.longitude for r in rows], dtype="float64"),
            {"units": "degrees_east", "standard_name": "longitude", "long_name": "longitude"},
        ),
        "altitude": (
            "station",
            np.array([r.altitude for r in rows], dtype="float64"),
            {"units": "m", "standard_name": "altitude", "long_name": "altitude above sea level"},
        ),
    }


def with_station_coords(ds: xr.Dataset, table: Mapping[str, Station] | None = None) -> xr.Dataset:
    """Attach the per-station coordinates of the table to ``ds`` (keeps existing ones)."""
    codes = [str(c) for c in ds["station"].values]
    coords = station_coords(codes, table)
    coords.pop("station")
    missing = {k: v for k, v in coords.items() if k not in ds.coords}
    return ds.assign_coords(missing)


def as_dict(station: Station) -> dict:
    """Plain-dict form of a :class:`Station` (for JSON attributes)."""
    return asdict(station)
