"""CF-style attributes shared by every product (DESIGN §2)."""

from __future__ import annotations

import datetime as _dt

import xarray as xr

from ._version import __version__

TIME_ATTRS = {"standard_name": "time", "long_name": "nominal time (UTC)"}


def now_utc() -> str:
    """Current UTC time as an ISO-8601 string (seconds)."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def group_attrs(title: str, source: str, license: str, history: str | None = None) -> dict:
    """Group attributes every product carries: title, source, history, version, licence."""
    return {
        "title": title,
        "source": source,
        "history": history or f"{now_utc()} created by tame_xr {__version__}",
        "tame_xr_version": __version__,
        "license": license,
        "Conventions": "CF-1.10",
    }


def add_history(ds: xr.Dataset, line: str) -> xr.Dataset:
    """Append a timestamped line to ``ds.attrs['history']`` (returns a shallow copy)."""
    out = ds.copy()
    previous = out.attrs.get("history", "")
    entry = f"{now_utc()} {line}"
    out.attrs["history"] = f"{previous}\n{entry}" if previous else entry
    return out
