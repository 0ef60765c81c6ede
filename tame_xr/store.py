"""A Zarr v3 hierarchy holding a project's data: one group per instrument product.

:class:`Store` keeps the promises of DESIGN §2 when writing (see :meth:`Store.write`):

* the record coordinate (``time``, or ``sample`` for labelled sets) is sorted and unique
  after any sequence of writes, including writes of earlier times (those rebuild the group);
* the data of a station land under that station whatever order stations come in; a new
  station is added at the end of the ``station`` dimension;
* a write replaces exactly the cells ``(time, station)`` it covers — where the data carry a
  boolean ``valid`` variable, only the cells where it is True — and leaves all others as
  they were; writing the same data again changes nothing (no bytes, no history line);
* an interrupted write (killed process, full disk, exception) never leaves a group that
  cannot be opened: see :mod:`tame_xr._journal`; opening or writing recovers first, and a
  rerun of the same write completes it.

Groups open with plain ``xarray.open_zarr(path, group=name)``: the root carries consolidated
metadata, refreshed after every write.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from . import _journal
from ._files import StoreFiles, is_url
from ._layout import (
    PRESENCE_VAR,
    RECORD_DIMS,
    _align_dask,
    _as_object_strings,
    _encoding,
    _equal,
    _fill_value,
    _fills,
    _merge,
    _merged_coords,
    _stored_chunk,
    _sync_fill_values,
    _write_index,
    prepare,
    presence,
    record_chunk,
    record_dim,
)
from ._version import __version__
from .attrs import now_utc


class Store:
    """A Zarr v3 hierarchy of instrument groups, local or on any fsspec file system.

    Parameters
    ----------
    path
        Directory of the store (created on the first write), or an fsspec URL such as
        ``"s3://bucket/season.zarr"`` (needs the matching fsspec backend, e.g. ``s3fs``).
    storage_options
        For URLs: passed to fsspec (credentials, ``endpoint_url``, ...).

    Attributes
    ----------
    path
        A :class:`pathlib.Path` for a local store, else the URL as given.
    """

    def __init__(self, path: str | os.PathLike, storage_options: dict | None = None):
        self.path: Path | str = (
            str(path) if is_url(path) else Path(str(path).removeprefix("file://"))
        )
        self.files = StoreFiles(path, storage_options)

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}, groups={self.groups()})"

    def __reduce__(self):  # workers of a distributed cluster rebuild it from path + options
        return (Store, (self.path, self.files.storage_options or None))

    @property
    def zarr_store(self):
        """What :func:`xarray.open_zarr` / :func:`zarr.open_group` take for this store."""
        return self.files.zarr_store()

    # ----------------------------------------------------------------- reading
    def groups(self) -> list[str]:
        """Names of the groups that hold arrays (e.g. ``["asim/5577", "oath"]``)."""
        self.recover()
        files = self.files
        types = {}
        for meta in files.metadata(files.root):
            rel = files.relative(meta, files.root).removesuffix("zarr.json").rstrip("/")
            if not rel.startswith("."):
                types[rel] = _node_type(files, meta)
        if types.get("") is None:
            return []
        parents = {name.rpartition("/")[0] for name, kind in types.items() if kind == "array"}
        return sorted(n for n in parents if n and types.get(n) == "group")

    def exists(self, group: str) -> bool:
        """Whether ``group`` holds data (as committed: call :meth:`recover` first to finish
        an interrupted write)."""
        return self.files.exists(self.files.join(self.files.root, group, "zarr.json"))

    def recover(self, group: str | None = None) -> list[str]:
        """Finish or undo interrupted writes (all groups by default); returns those fixed."""
        fixed = []
        for name in sorted(_journal.journals(self.files)):
            if (group is None or name == group) and _journal.recover(self.files, name):
                fixed.append(name)
        if fixed:
            self._consolidate()
        _journal.clean_orphans(self.files)
        return fixed

    def open(
        self,
        group: str,
        *,
        start=None,
        end=None,
        station: str | Sequence[str] | None = None,
        chunks: dict | str | None = None,
    ) -> xr.Dataset:
        """Open ``group`` lazily.

        Parameters
        ----------
        group
            Group name, e.g. ``"asim/5577"``.
        start, end
            Inclusive bounds on ``time`` (anything pandas parses as a time).
        station
            One station code or a list of them.
        chunks
            Passed to :func:`xarray.open_zarr` (default: the stored chunks).
        """
        self.recover(group)  # first: a pending swap may be what makes the group exist
        if not self.exists(group):
            raise KeyError(f"{self.path}: no group {group!r}; groups are {self.groups()}")
        ds = xr.open_zarr(self.zarr_store, group=group, consolidated=False, chunks=chunks or {})
        ds = _as_object_strings(ds)
        small = [c for c, v in ds.coords.items() if v.ndim == 1 and v.dims[0] not in RECORD_DIMS]
        ds = ds.assign_coords({c: ds[c].load() for c in small})  # station tables: tiny, used often
        return select(ds, start=start, end=end, station=station)

    # ----------------------------------------------------------------- writing
    def write(self, ds: xr.Dataset, group: str, *, history: str | None = None) -> dict:
        """Create ``group`` from ``ds`` or merge ``ds`` into it.

        Returns a summary: ``{"group", "mode", "new_records", "new_stations"}`` where mode is
        ``"created"``, ``"appended"`` (in place), ``"rebuilt"`` (earlier records or new
        variables: the group is rewritten through a staged copy) or ``"unchanged"``.
        """
        ds = prepare(ds)
        rdim = record_dim(ds)
        self.files.makedirs(self.files.root)
        self.recover(group)
        if not self.exists(group):
            self._write_staged(ds, group, rdim)
            return {
                "group": group,
                "mode": "created",
                "new_records": ds.sizes[rdim],
                "new_stations": ds.sizes.get("station", 0),
            }
        old = self.open(group)
        if record_dim(old) != rdim:
            raise ValueError(f"{group}: stored along {record_dim(old)!r}, data along {rdim!r}")
        self._check_compatible(old, ds, group)
        old_index = old.indexes[rdim]
        new_records = ds.indexes[rdim].difference(old_index)
        new_stations = []
        if "station" in ds.dims:
            new_stations = [s for s in ds["station"].values if s not in set(old["station"].values)]
        new_vars = [v for v in ds.data_vars if v not in old.data_vars]
        needs_rebuild = bool(new_vars) or (
            len(new_records) and len(old_index) and new_records.min() < old_index.max()
        )
        summary = {
            "group": group,
            "new_records": len(new_records),
            "new_stations": len(new_stations),
        }
        line = history or f"wrote {ds.sizes[rdim]} {rdim} records"
        if needs_rebuild:
            merged = self._merge_all(old, ds, rdim)
            self._write_staged(merged, group, rdim, history=line, attrs=old.attrs)
            summary["mode"] = "rebuilt"
        else:
            changed = self._write_inplace(old, ds, group, rdim, new_records, new_stations, line)
            summary["mode"] = "appended" if changed else "unchanged"
        return summary

    # ----------------------------------------------------------------- internals
    def _check_compatible(self, old: xr.Dataset, new: xr.Dataset, group: str) -> None:
        steps = [_cadence(ds) for ds in (old, new)]
        if None not in steps and steps[0] != steps[1]:
            raise ValueError(
                f"{group}: time step {new.attrs['cadence']} differs from the stored "
                f"{old.attrs['cadence']} (a group holds one time grid); write to another group"
            )
        for name, var in new.data_vars.items():
            if name not in old:
                continue
            other = old[name]
            if other.dims != var.dims:
                raise ValueError(f"{group}/{name}: dims {var.dims} differ from stored {other.dims}")
            for dim in var.dims:
                if dim in (record_dim(new), "station"):
                    continue
                if other.sizes[dim] != var.sizes[dim]:
                    raise ValueError(
                        f"{group}/{name}: size {var.sizes[dim]} along {dim!r} differs from the "
                        f"stored {other.sizes[dim]}; write it to another group"
                    )
            if np.dtype(other.dtype).kind != np.dtype(var.dtype).kind or (
                var.dtype.kind in "iub" and other.dtype != var.dtype
            ):
                raise ValueError(
                    f"{group}/{name}: dtype {var.dtype} differs from stored {other.dtype}"
                )

    def _merge_all(self, old: xr.Dataset, new: xr.Dataset, rdim: str) -> xr.Dataset:
        index = old.indexes[rdim].union(new.indexes[rdim])
        target = {rdim: index}
        if "station" in new.dims:
            stations = sorted(set(old["station"].values) | set(new["station"].values))
            target["station"] = np.array(stations, dtype=object)
        fills = {name: _fill_value(var.dtype) for name, var in {**old.variables}.items()}
        old_r = old.reindex(target, fill_value=fills)
        new_r = new.reindex(
            target, fill_value={n: _fill_value(v.dtype) for n, v in new.variables.items()}
        )
        mask = presence(new, rdim).reindex({k: v for k, v in target.items()}, fill_value=False)
        merged = _merge(new_r, old_r, mask, rdim)
        for name in old_r.data_vars:  # variables only the store has
            if name not in merged:
                merged[name] = old_r[name]
        station_coords = [
            c for c in old_r.coords if old_r[c].dims == ("station",) and c != "station"
        ]
        for name in station_coords:
            # station metadata: stored values, new stations' values from the new data
            if name in new_r.coords:
                merged = merged.assign_coords(
                    {
                        name: xr.where(
                            old_r[name].isin(["", np.nan]) | old_r[name].isnull(),
                            new_r[name],
                            old_r[name],
                        )
                    }
                )
        return merged

    def _write_staged(
        self,
        ds: xr.Dataset,
        group: str,
        rdim: str,
        history: str | None = None,
        attrs: dict | None = None,
    ) -> None:
        ds = ds.copy()
        ds.attrs = {**(attrs or {}), **ds.attrs}
        if history:
            prev = ds.attrs.get("history", "")
            ds.attrs["history"] = (prev + "\n" if prev else "") + f"{now_utc()} {history}"
        ds.attrs.setdefault("tame_xr_version", __version__)
        rchunk = record_chunk(ds, rdim)
        ds = _align_dask(ds, rdim, rchunk)
        enc = _encoding(ds, rdim)
        staged = _journal.staging_dir(self.files)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=xr.SerializationWarning)
            ds.to_zarr(
                self.files.zarr_store(staged),
                mode="w-",
                zarr_format=3,
                consolidated=False,
                encoding=enc,
            )
        _sync_fill_values(self.files, staged)
        self._ensure_parents(group)
        journal, entry = _journal.begin_swap(self.files, group, staged)
        _journal.finish_swap(self.files, entry)
        self._consolidate()
        _journal.commit(self.files, journal)

    def _write_inplace(self, old, ds, group, rdim, new_records, new_stations, line) -> bool:
        import zarr

        old_index = old.indexes[rdim]
        index = old_index.append(pd.Index(new_records)) if len(new_records) else old_index
        positions = index.get_indexer(ds.indexes[rdim])
        t0, t1 = int(positions.min()), int(positions.max()) + 1
        stations = (
            list(old["station"].values) + sorted(new_stations) if "station" in ds.dims else None
        )
        if len(new_records):
            # Partial chunks may hold stale bytes beyond the old shape: the region covers every
            # new row of every station, so those cells get their fill value explicitly.
            t0, t1 = min(t0, len(old_index)), len(index)
        target = {rdim: index[t0:t1]}
        region = {rdim: slice(t0, t1)}
        if stations is not None:
            if len(new_records):
                s0, s1 = 0, len(stations)
            else:
                spos = [stations.index(s) for s in ds["station"].values]
                s0, s1 = min(spos), max(spos) + 1
            target["station"] = np.array(stations[s0:s1], dtype=object)
            region["station"] = slice(s0, s1)
        same_cells = all(ds.indexes[d].equals(pd.Index(v)) for d, v in target.items())
        # reindex copies even onto an equal index; a batch of images is worth not copying
        new_r = ds if same_cells else ds.reindex(target, fill_value=_fills(ds))
        old_r = old.reindex(target, fill_value=_fills(old))
        mask = presence(ds, rdim).reindex(target, fill_value=False)
        # A region wholly beyond the stored extent holds only fill values: no need to read it.
        unstored = t0 >= len(old_index) or (
            stations is not None and region["station"].start >= old.sizes["station"]
        )
        merged = _merge(new_r, None if unstored else old_r, mask, rdim)
        for name in old_r.data_vars:
            if name not in merged:
                merged[name] = old_r[name]
        merged = merged.assign_coords(_merged_coords(old_r, new_r, old, target))
        keep = [n for n in merged.variables if set(merged[n].dims) & set(region)]
        merged = merged[[n for n in keep if n in merged.data_vars]].assign_coords(
            {c: merged[c] for c in merged.coords if set(merged[c].dims) & set(region)}
        )
        # Index coordinates along other dims (feature, statistic) come along with the data
        # variables; they are stored already, and a region write refuses them.
        merged = merged.drop_vars(
            [n for n in merged.variables if not set(merged[n].dims) & set(region)]
        )
        grow = bool(len(new_records) or new_stations)
        if not grow:
            # Compare once, and write the computed values rather than computing them again.
            merged = merged.compute()
            if _equal(merged, old_r[list(merged.data_vars)].compute()):
                return False
        journal = _journal.begin_inplace(self.files, group)
        try:
            zgroup = zarr.open_group(self.zarr_store, path=group, mode="r+")
            if grow:
                sizes = {rdim: len(index)}
                if stations is not None:
                    sizes["station"] = len(stations)
                for _, arr in zgroup.arrays():
                    names = arr.metadata.dimension_names or ()
                    shape = tuple(sizes.get(d, n) for d, n in zip(names, arr.shape, strict=True))
                    if shape != arr.shape:
                        arr.resize(shape)
                # xarray's region writes leave index coordinates alone: write them here.
                _write_index(zgroup[rdim], index, len(old_index))
                if stations is not None and new_stations:
                    n_old = old.sizes["station"]
                    zgroup["station"][n_old:] = np.array(stations[n_old:], dtype=str)
            merged = _align_dask(merged, rdim, _stored_chunk(zgroup, rdim), offset=t0)
            kw = dict(group=group, region=region, mode="r+", consolidated=False, safe_chunks=False)
            # The presence flag goes last: a cell is never marked valid before its data exist.
            merged.drop_vars([PRESENCE_VAR], errors="ignore").to_zarr(self.zarr_store, **kw)
            if PRESENCE_VAR in merged:
                merged[[PRESENCE_VAR]].to_zarr(self.zarr_store, **kw)
            prev = zgroup.attrs.get("history", "")
            zgroup.attrs.update({"history": (prev + "\n" if prev else "") + f"{now_utc()} {line}"})
        except BaseException:
            # Undo the resize and the new metadata (see _journal), then re-raise.
            _journal.recover(self.files, group)
            raise
        self._consolidate()
        _journal.commit(self.files, journal)
        return True

    def _ensure_parents(self, group: str) -> None:
        import zarr

        zarr.open_group(self.zarr_store, mode="a", zarr_format=3)
        parts = group.split("/")[:-1]
        for i in range(len(parts)):
            zarr.open_group(self.zarr_store, path="/".join(parts[: i + 1]), mode="a", zarr_format=3)

    def _consolidate(self) -> None:
        import zarr

        with warnings.catch_warnings():
            # Consolidated metadata is deliberate: it lets xr.open_zarr open without warnings.
            warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
            zarr.consolidate_metadata(self.zarr_store, zarr_format=3)


def select(
    ds: xr.Dataset,
    *,
    start=None,
    end=None,
    station: str | Sequence[str] | None = None,
) -> xr.Dataset:
    """Times between ``start`` and ``end`` (both inclusive) and the given station(s), lazily.

    Bounds are anything pandas parses as a time (``"2014-12-01T20:00"``); a bound of just a
    date (``"2014-12-01"``) as ``end`` includes that whole day, as in pandas. A single station
    code keeps the ``station`` dimension (length 1).
    """
    if start is not None or end is not None:
        ds = ds.sel(time=slice(start, end))
    if station is not None:
        codes = [station] if isinstance(station, str) else list(station)
        unknown = [c for c in codes if c not in set(ds["station"].values)]
        if unknown:
            raise KeyError(f"no station {unknown}; stations are {list(ds['station'].values)}")
        ds = ds.sel(station=codes)
    return ds


def _cadence(ds: xr.Dataset) -> pd.Timedelta | None:
    """The ``cadence`` attribute as a time step (None when absent or not a duration)."""
    try:
        step = pd.Timedelta(str(ds.attrs["cadence"]).replace(" ", ""))
    except (KeyError, ValueError):
        return None
    return None if pd.isna(step) else step


def _node_type(files: StoreFiles, meta: str) -> str | None:
    import json

    try:
        return json.loads(files.read_text(meta)).get("node_type")
    except (OSError, ValueError):
        return None


def open_group(
    path: str | os.PathLike, group: str, *, storage_options: dict | None = None, **kw
) -> xr.Dataset:
    """Shortcut for ``Store(path, storage_options).open(group, **kw)``."""
    return Store(path, storage_options).open(group, **kw)


def write_groups(store: Store, datasets: Iterable[tuple[str, xr.Dataset]]) -> list[dict]:
    """Write several ``(group, dataset)`` pairs in order; returns their summaries."""
    return [store.write(ds, group) for group, ds in datasets]
