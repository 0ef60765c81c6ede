"""Store layout: validation, chunking, encodings and the cell-wise merge used by
:class:`tame_xr.Store` (kept apart so that ``store.py`` holds only the write protocol)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .io.decode import IMAGE_CHUNK, image_chunk_rows

RECORD_DIMS = ("time", "sample")
TARGET_CHUNK_BYTES = 2**20
PRESENCE_VAR = "valid"
DATETIME_ENCODING = {"units": "microseconds since 1970-01-01", "dtype": "int64"}


def record_dim(ds: xr.Dataset) -> str:
    """The dimension records are appended along (``time`` or ``sample``)."""
    for dim in RECORD_DIMS:
        if dim in ds.dims:
            return dim
    raise ValueError(f"dataset has none of the record dimensions {RECORD_DIMS}: {dict(ds.sizes)}")


def _is_image(var: xr.Variable) -> bool:
    return "y" in var.dims and "x" in var.dims


def record_chunk(ds: xr.Dataset, rdim: str) -> int:
    """Records per chunk along ``rdim``.

    Image groups: 64 images per chunk, fewer (a power of two) for images so large that a
    chunk would pass 64 MiB (a 2832x2832 RGB camera gets 2). Other groups: about 1 MiB per
    station, a multiple of 64.
    """
    images = [v for v in ds.data_vars.values() if _is_image(v)]
    if images:
        image_bytes = max(
            v.dtype.itemsize
            * int(np.prod([ds.sizes[d] for d in v.dims if d not in (rdim, "station")]))
            for v in images
        )
        return image_chunk_rows(image_bytes)
    row_bytes = 1
    for var in ds.data_vars.values():
        if rdim in var.dims:
            other = [ds.sizes[d] for d in var.dims if d not in (rdim, "station")]
            row_bytes = max(row_bytes, var.dtype.itemsize * int(np.prod(other, dtype=int)))
    rows = max(IMAGE_CHUNK, TARGET_CHUNK_BYTES // row_bytes)
    return int(rows // IMAGE_CHUNK * IMAGE_CHUNK)


def _var_chunks(var: xr.Variable, sizes: dict, rdim: str, rchunk: int) -> tuple[int, ...]:
    chunks = []
    for dim in var.dims:
        if dim == rdim:
            chunks.append(rchunk)
        elif dim == "station":
            chunks.append(1 if var.ndim > 1 else max(1, sizes[dim]))
        else:
            chunks.append(max(1, sizes[dim]))
    return tuple(chunks)


def _clean(ds: xr.Dataset) -> xr.Dataset:
    """Normalise a dataset before writing: strings as objects, no foreign encodings."""
    out = ds.copy()
    for name, var in out.variables.items():
        var.encoding = {}
        if var.dtype.kind in ("U", "T", "S"):
            out[name] = (
                var.astype(object) if var.dtype.kind != "S" else var.astype(str).astype(object)
            )
    if "station" in out.dims:
        stations = [str(s).lower() for s in out["station"].values]
        if len(set(stations)) != len(stations):
            raise ValueError(f"duplicate station codes: {stations}")
        out = out.assign_coords(station=np.array(stations, dtype=object))
    return out


def prepare(ds: xr.Dataset) -> xr.Dataset:
    """Validate and sort a dataset for writing; raises on duplicate record labels."""
    rdim = record_dim(ds)
    ds = _clean(ds)
    index = ds.indexes[rdim]
    if index.has_duplicates:
        dup = index[index.duplicated()].unique()[:5]
        raise ValueError(
            f"duplicate {rdim} values {list(map(str, dup))}: a store keeps {rdim} unique; "
            "resolve them before writing (e.g. ds.drop_duplicates)"
        )
    if not index.is_monotonic_increasing:
        ds = ds.sortby(rdim)
    return ds


def presence(ds: xr.Dataset, rdim: str) -> xr.DataArray:
    """Boolean mask of the cells a write replaces (``valid`` where present, else all)."""
    dims = [d for d in (rdim, "station") if d in ds.dims]
    if PRESENCE_VAR in ds.data_vars and set(ds[PRESENCE_VAR].dims) == set(dims):
        return ds[PRESENCE_VAR].transpose(*dims).astype(bool)
    return xr.DataArray(np.ones([ds.sizes[d] for d in dims], dtype=bool), dims=dims)


def _fill_value(dtype: np.dtype):
    if dtype.kind == "f":
        return np.nan
    if dtype.kind == "M":
        return np.datetime64("NaT")
    if dtype.kind == "m":
        return np.timedelta64("NaT")
    if dtype.kind == "b":
        return False
    if dtype.kind == "O":
        return ""
    return 0


def _encoding(ds: xr.Dataset, rdim: str) -> dict:
    rchunk = record_chunk(ds, rdim)
    enc = {}
    for name, var in ds.variables.items():
        entry: dict = {}
        if rdim in var.dims or "station" in var.dims:
            entry["chunks"] = _var_chunks(var, dict(ds.sizes), rdim, rchunk)
        if _is_image(var) and var.dtype.kind in "iu":
            entry["compressors"] = _image_codec()
        if var.dtype.kind == "M":
            entry.update(DATETIME_ENCODING)
            if name not in ds.indexes:
                entry["_FillValue"] = np.iinfo(np.int64).min
        if entry:
            enc[name] = entry
    return enc


def _image_codec():
    """Images: Blosc LZ4 with bit shuffle — about 4x faster to write than Zarr's default zstd
    on all-sky images, for a slightly larger store (bench/ingest.py)."""
    from zarr.codecs import BloscCodec

    return BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle")


def _align_dask(ds: xr.Dataset, rdim: str, rchunk: int, offset: int = 0) -> xr.Dataset:
    """Rechunk dask-backed variables onto the store's chunk grid (region starting at offset)."""
    n = ds.sizes[rdim]
    first = min(n, rchunk - offset % rchunk) if n else 0
    rest = n - first
    rchunks = tuple(c for c in (first, *([rchunk] * (rest // rchunk)), rest % rchunk) if c)
    out = ds.copy()
    for name, var in ds.variables.items():
        if var.chunks is None:
            continue
        chunks = {}
        for dim in var.dims:
            if dim == rdim:
                chunks[dim] = rchunks or (0,)
            elif dim == "station" and var.ndim > 1:
                chunks[dim] = 1
            else:
                chunks[dim] = -1
        out[name] = var.chunk(chunks)
    return out


def _merge(new: xr.Dataset, old: xr.Dataset | None, mask: xr.DataArray, rdim: str) -> xr.Dataset:
    """Cells where ``mask`` is True from ``new``, the rest from ``old`` (same shapes).

    ``old=None`` means the region holds no stored data yet: the rest is the fill value.
    """
    out = new.copy()
    for name, var in new.data_vars.items():
        if old is not None and name not in old:
            continue
        m = mask
        if "station" in mask.dims and "station" not in var.dims:
            m = mask.any("station")
        if rdim in m.dims and rdim not in var.dims:
            continue
        m = m.variable.set_dims({d: var.sizes[d] for d in var.dims}).transpose(*var.dims)
        import dask.array as da

        if old is None:
            if bool(m.data.all()):
                continue
            old_data = np.asarray(_fill_value(var.dtype), dtype=var.dtype)
        else:
            old_data = old[name].variable.transpose(*var.dims).data
        if isinstance(var.data, da.Array) or isinstance(old_data, da.Array):
            data = da.where(m.data, var.data, old_data)
        else:
            data = np.where(m.data, var.data, old_data)
        out[name] = var.copy(data=data)
    return out


def _fills(ds: xr.Dataset) -> dict:
    return {name: _fill_value(var.dtype) for name, var in ds.variables.items()}


def _stored_chunk(zgroup, rdim: str) -> int:
    """Records per chunk of the stored data variables (the largest, i.e. non-coordinate)."""
    sizes = [
        arr.chunks[list(arr.metadata.dimension_names).index(rdim)]
        for _, arr in zgroup.arrays()
        if rdim in (arr.metadata.dimension_names or ()) and len(arr.shape) > 1
    ]
    return min(sizes) if sizes else IMAGE_CHUNK


def _merged_coords(old_r: xr.Dataset, new_r: xr.Dataset, old: xr.Dataset, target: dict) -> dict:
    """Non-index coordinates: stored values where the store had the label, else the new ones."""
    out = {}
    for name, coord in new_r.coords.items():
        if name in target or coord.ndim != 1 or coord.dims[0] not in target:
            continue
        dim = coord.dims[0]
        if name not in old_r.coords:
            out[name] = coord
            continue
        had = xr.DataArray(np.isin(target[dim], old.indexes[dim]), dims=dim)
        out[name] = (
            old_r[name].where(had, coord)
            if coord.dtype.kind != "O"
            else xr.DataArray(
                np.where(had.values, old_r[name].values, coord.values), dims=dim, attrs=coord.attrs
            )
        )
    return out


def _equal(a: xr.Dataset, b: xr.Dataset) -> bool:
    for name in a.data_vars:
        if name not in b or not a[name].variable.equals(b[name].variable):
            return False
    return True


def _sync_fill_values(files, root: str) -> None:
    """Make Zarr's fill value equal xarray's ``_FillValue`` for integer-encoded variables.

    xarray keeps ``_FillValue`` (e.g. NaT as int64 min) as an attribute and leaves Zarr's own
    fill value at 0; cells added later by resizing would then decode as 1970-01-01 rather
    than missing. The staged copy (under ``root``, a path of the
    :class:`~tame_xr._files.StoreFiles` ``files``) is not live yet, so editing its metadata
    is safe.
    """
    import json

    for meta_path in files.metadata(root):
        meta = json.loads(files.read_text(meta_path))
        fill = meta.get("attributes", {}).get("_FillValue")
        if meta.get("node_type") != "array" or not isinstance(fill, int):
            continue
        if meta.get("data_type", "").startswith(("int", "uint")) and meta["fill_value"] != fill:
            meta["fill_value"] = fill
            files.write_text(meta_path, json.dumps(meta, indent=2))


def _write_index(arr, index: pd.Index, start: int) -> None:
    """Write ``index[start:]`` into the stored index coordinate ``arr`` (encoded as stored)."""
    values = np.asarray(index[start:])
    if values.dtype.kind == "M":
        from xarray.coding.times import encode_cf_datetime

        attrs = arr.attrs.asdict()
        values, _, _ = encode_cf_datetime(
            values, attrs.get("units"), attrs.get("calendar"), dtype=np.dtype(arr.dtype)
        )
    arr[start : len(index)] = np.asarray(values, dtype=arr.dtype)


def _as_object_strings(ds: xr.Dataset) -> xr.Dataset:
    """Zarr v3 strings decode as numpy StringDType; hand users plain object arrays."""
    updates = {}
    for name, var in ds.variables.items():
        if var.dtype.kind == "T":
            updates[name] = var.astype(object)
    if not updates:
        return ds
    coords = {k: v for k, v in updates.items() if k in ds.coords}
    data = {k: v for k, v in updates.items() if k not in ds.coords}
    out = ds.assign_coords(coords) if coords else ds
    return out.assign(data) if data else out
