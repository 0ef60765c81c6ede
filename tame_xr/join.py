"""Nearest-time joins with a tolerance (DESIGN §5).

:func:`join_nearest` puts on every time of ``left`` the nearest-in-time value of ``right``
within ``tolerance`` — per station when both have stations, or through an explicit station
mapping — with the signed time difference ``right time − left time`` as a variable. It is
built on xarray's nearest selection with a tolerance (``reindex(method="nearest")``) over
sorted query times; results come back in the caller's order. The whole time axis is searched
at once, so there are no day-boundary artefacts.

Rules:

* ties (two right times equally near) go to the later right time (pandas' rule);
* per station, only right times where the station has data are candidates (``valid`` True
  when ``right`` has it, else any joined variable not NaN);
* duplicate right times are an error (``duplicates="first"`` keeps the first of each);
  unsorted right times are sorted;
* beyond ``tolerance`` the values are missing (NaN, NaT, or False for booleans made float).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr


def _tolerance(tolerance, index: pd.Index):
    if isinstance(index, xr.CFTimeIndex):
        return pd.Timedelta(tolerance).to_pytimedelta()
    return pd.Timedelta(tolerance)


def _prepare_right(right: xr.Dataset, dim: str, duplicates: str) -> xr.Dataset:
    index = right.indexes[dim]
    if index.has_duplicates:
        if duplicates != "first":
            dup = index[index.duplicated()].unique()[:5]
            raise ValueError(
                f"right has duplicate {dim} values {list(map(str, dup))}; resolve them or pass "
                "duplicates='first'"
            )
        right = right.isel({dim: ~index.duplicated(keep="first")})
    if not right.indexes[dim].is_monotonic_increasing:
        right = right.sortby(dim)
    return right


def _candidates(right: xr.Dataset, dim: str, names: list[str]) -> np.ndarray | None:
    """Boolean mask along ``dim`` of rows with data (None: all rows)."""
    other = [d for d in right.dims if d != dim]
    if "valid" in right and right["valid"].dims == (dim,):
        mask = right["valid"].values.astype(bool)
    else:
        masks = [
            right[n].notnull().any([d for d in right[n].dims if d != dim])
            if other
            else right[n].notnull()
            for n in names
            if dim in right[n].dims
        ]
        if not masks:
            return None
        mask = np.logical_or.reduce([np.asarray(m.values) for m in masks])
    return None if mask.all() else mask


def _nearest_one(
    left_index: pd.Index,
    right: xr.Dataset,
    dim: str,
    tolerance,
    names: list[str],
    difference_name: str,
) -> xr.Dataset:
    """Join a station-less ``right`` onto the times ``left_index`` (any order)."""
    mask = _candidates(right, dim, names)
    if mask is not None:
        right = right.isel({dim: np.flatnonzero(mask)})
    right = right[names]
    if right.sizes[dim] == 0:
        return _empty_like(left_index, right, dim, names, difference_name)
    right_index = right.indexes[dim]
    if left_index.is_monotonic_increasing:
        order, query = None, left_index
    else:
        order = np.argsort(np.asarray(left_index), kind="quicksort")
        query = left_index[order]
    # The index engine behind xarray's sel/reindex(method="nearest", tolerance=...), asked
    # once: the same positions give the values and the times they come from.
    position = right_index.get_indexer(
        query, method="nearest", tolerance=_tolerance(tolerance, query)
    )
    if order is not None:
        restored = np.empty_like(position)
        restored[order] = position
        position = restored
    found = position >= 0
    take = np.where(found, position, 0)
    joined = right.isel({dim: take}).drop_vars(dim).assign_coords({dim: left_index})
    if not found.all():
        joined = joined.where(xr.DataArray(found, dims=dim, coords={dim: left_index}))
    source = np.asarray(right_index)[take]
    diff = source - np.asarray(left_index)
    if not found.all():
        diff = np.where(found, diff, np.timedelta64("NaT"))
    attrs = {"long_name": f"time of the joined value minus {dim}"}
    return joined.assign({difference_name: (dim, np.asarray(diff), attrs)})


def join_nearest(
    left: xr.Dataset,
    right: xr.Dataset,
    tolerance: str | pd.Timedelta | dt.timedelta,
    variables: Sequence[str] | None = None,
    *,
    stations: Mapping[str, str] | None = None,
    dim: str = "time",
    suffix: str = "_right",
    difference_name: str = "time_difference",
    duplicates: str = "raise",
) -> xr.Dataset:
    """Put the nearest-in-time values of ``right`` on the times of ``left``.

    Parameters
    ----------
    left, right
        Datasets with a ``time`` (``dim``) index: datetime64 or cftime.
    tolerance
        Largest accepted ``|right time − left time|`` (e.g. ``"60s"``; TAME: 60 s for
        magnetometers, 86400 s in general).
    variables
        Variables of ``right`` to join (default: all data variables but ``valid``).
    stations
        Mapping from ``left`` station to ``right`` station (e.g. one ceilometer for imagers at
        several sites). Default: same station codes when both have ``station``; the same
        right values for every left station when ``right`` has none.
    suffix
        Appended to joined variable names that ``left`` already uses.
    difference_name
        Name of the signed time-difference variable.
    duplicates
        ``"raise"`` (default) or ``"first"`` for duplicate right times.

    Returns
    -------
    xarray.Dataset
        ``left`` with the joined variables and ``time_difference`` added.
    """
    right = _prepare_right(right, dim, duplicates)
    names = (
        list(variables)
        if variables is not None
        else [n for n in right.data_vars if n != "valid" and dim in right[n].dims]
    )
    missing = [n for n in names if n not in right]
    if missing:
        raise KeyError(f"right has no variables {missing}; it has {list(right.data_vars)}")
    left_index = left.indexes[dim]
    left_has = "station" in left.dims
    right_has = "station" in right.dims
    if right_has and not left_has and stations is None:
        raise ValueError("right has stations and left has none: pass stations={None: code}")
    if not right_has:
        joined = _nearest_one(left_index, right, dim, tolerance, names, difference_name)
        if left_has:
            joined = joined.expand_dims(station=left["station"].values).transpose(
                dim, "station", ...
            )
    else:
        codes = list(left["station"].values) if left_has else [None]
        mapping = dict(stations) if stations is not None else {c: c for c in codes}
        parts = []
        available = set(right["station"].values)
        for code in codes:
            target = mapping.get(code, code)
            if target in available:
                sub = right.sel(station=target, drop=True)
            else:
                sub = right.isel(station=0, drop=True).isel({dim: slice(0, 0)})
            part = _nearest_one(left_index, sub, dim, tolerance, names, difference_name)
            parts.append(part)
        joined = (
            xr.concat(parts, dim="station", coords="minimal", compat="override", join="override")
            if left_has
            else parts[0]
        )
        if left_has:
            joined = joined.assign_coords(station=left["station"].values).transpose(
                dim, "station", ...
            )
    rename = {n: f"{n}{suffix}" for n in names if n in left.variables}
    joined = joined.rename(rename)
    keep = [n for n in joined.data_vars]
    coords_to_drop = [c for c in joined.coords if c not in (dim, "station") and c in left.coords]
    out = left.assign({n: joined[n].drop_vars(coords_to_drop, errors="ignore") for n in keep})
    out[difference_name].attrs["tolerance"] = str(pd.Timedelta(tolerance))
    return out


def _empty_like(left_index, sub: xr.Dataset, dim: str, names, difference_name) -> xr.Dataset:
    """All-missing result for a left station the right side does not have."""
    data = {}
    for n in names:
        var = sub[n]
        shape = [len(left_index) if d == dim else var.sizes[d] for d in var.dims]
        dtype = np.result_type(var.dtype, np.float32) if var.dtype.kind in "biuf" else var.dtype
        fill = np.datetime64("NaT") if dtype.kind == "M" else np.nan
        data[n] = (var.dims, np.full(shape, fill, dtype=dtype), var.attrs)
    data[difference_name] = (dim, np.full(len(left_index), np.timedelta64("NaT"), "m8[ns]"))
    return xr.Dataset(data, coords={dim: left_index})
