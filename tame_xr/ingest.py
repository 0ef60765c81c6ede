"""``tame_xr.ingest``: raw files → store groups, with a report of what was added and skipped.

Images are decoded eagerly here, in batches of whole chunks along time, by a pool of threads
(Pillow releases the GIL while decoding), and each batch is written with
:meth:`tame_xr.Store.write`. A file that fails to decode is reported and its cell stays
invalid; every good file is still ingested. Cells already stored with the same exposure time
are not decoded again, so re-ingesting the same files changes nothing and costs only a scan.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pandas as pd
import xarray as xr

from .io.decode import decode_image, decode_stack
from .io.images import ImageScan, expand_files, restrict_scan, scan_images, scan_to_dataset
from .io.patterns import UIO_PATTERN, FilenamePattern
from .report import IngestReport, warn_skipped
from .store import Store

BATCH_BYTES = 128 * 2**20
#: kind → (module, reader function, default group). Each reader takes ``(files, report=...)``.
READERS = {
    "themis": (".io.themis", "read_themis", "asim/themis"),
    "oath": (".io.oath", "read_oath", "oath"),
    "iaga2002": (".io.magnetometer", "read_iaga2002", "magnetometer"),
    "image_magnetometer": (".io.magnetometer", "read_image_magnetometer", "magnetometer"),
    "pangaea_ceilometer": (".io.ceilometer", "read_pangaea_ceilometer", "ceilometer"),
    "chm15k": (".io.ceilometer", "read_chm15k", "ceilometer"),
}
IMAGE_KINDS = ("images", "asim")
#: Kinds whose ``cadence`` attribute is the time grid of the group (a group holds one grid).
GRIDDED = IMAGE_KINDS + ("themis", "iaga2002", "image_magnetometer")


def _as_store(store: Store | str | os.PathLike) -> Store:
    return store if isinstance(store, Store) else Store(store)


def ingest(
    kind: str,
    files,
    store: Store | str | os.PathLike,
    group: str | None = None,
    *,
    progress: bool = False,
    **kw,
) -> IngestReport:
    """Read raw files of ``kind`` and write them into ``store``.

    Parameters
    ----------
    kind
        ``"images"`` (alias ``"asim"``, UiO/KHO/TREx-style image files), or one of
        :data:`READERS`: ``"themis"`` (raw THEMIS PGM), ``"oath"`` (OATH directory or
        tarball), ``"iaga2002"``, ``"image_magnetometer"``, ``"pangaea_ceilometer"``,
        ``"chm15k"``.
    files
        Paths, a glob pattern or a directory (for ``"oath"``: the OATH root or its tarball).
    store
        A :class:`~tame_xr.Store` or its path.
    group
        Target group; default ``"asim/<product>"`` for images, else the reader's group
        (``"oath"``, ``"magnetometer"``, ``"ceilometer"``, ``"asim/themis"``).
    progress
        Show a progress bar.
    **kw
        Passed to the reader (e.g. ``pattern``, ``station``, ``product``, ``cadence``).

    Returns
    -------
    IngestReport
        ``added`` (files written), ``skipped`` (path and reason), ``unchanged`` (files whose
        data were already stored). Skipped inputs are also listed in one
        :class:`~tame_xr.report.SkippedInputWarning`.

    Raises
    ------
    ValueError
        No usable file (the message lists the files and reasons), a bad label or split file
        (OATH), or data whose time step differs from the ``cadence`` of the existing group of
        images, THEMIS frames or magnetometer data (a group holds one time grid). Nothing is
        written then.
    """
    store = _as_store(store)
    if kind in IMAGE_KINDS:
        report = ingest_images(files, store, group, progress=progress, **kw)
    elif kind in READERS:
        module, function, default_group = READERS[kind]
        reader = getattr(importlib.import_module(module, __package__), function)
        report = IngestReport(group=group or default_group)
        existing = store.open(report.group) if store.exists(report.group) else None
        if existing is not None and "image" in existing and "shape" not in kw:
            if "shape" in inspect.signature(reader).parameters:  # frames must fit the group
                kw["shape"] = tuple(existing["image"].shape[2:])
        ds = reader(files, report=report, **kw)
        if kind in GRIDDED:
            _check_cadence(existing, report.group, ds.attrs.get("cadence"), report.added)
        store.write(ds, report.group, history=f"ingested {kind} files")
    else:
        raise ValueError(f"unknown kind {kind!r}; expected one of {IMAGE_KINDS + tuple(READERS)}")
    warn_skipped(report.skipped, "inputs")
    return report


def _check_cadence(existing: xr.Dataset | None, group: str, cadence, paths: list[str]) -> None:
    """Refuse data on another time grid than the stored group's (naming the files)."""
    stored = existing.attrs.get("cadence") if existing is not None else None
    try:
        old, new = (pd.Timedelta(str(c).replace(" ", "")) for c in (stored, cadence))
    except ValueError:  # no cadence (one record) or none stored: nothing to compare
        return
    if old == new:
        return
    shown = "".join(f"\n  {p}" for p in paths[:10])
    more = f"\n  ... and {len(paths) - 10} more" if len(paths) > 10 else ""
    raise ValueError(
        f"time step {cadence} differs from the {stored} of group {group!r} in the store (a "
        f"group holds one time grid): ingest these files into another group:{shown}{more}"
    )


def _wavelengths(paths: list[str], pattern: str | None) -> list[str]:
    compiled = FilenamePattern.compile(pattern or UIO_PATTERN)
    if "wavelength" not in compiled.names:
        return []
    found = set()
    for path in paths:
        try:
            parsed = compiled.parse(os.path.basename(path))
        except ValueError:
            continue
        if parsed is not None:
            found.add(parsed[1]["wavelength"])
    return sorted(found)


def ingest_images(
    files,
    store: Store | str | os.PathLike,
    group: str | None = None,
    *,
    pattern: str | None = None,
    station: str | None = None,
    product: str | None = None,
    cadence: str | pd.Timedelta = "1min",
    stations: Mapping | None = None,
    license: str = "see the data provider",
    threads: int | None = None,
    progress: bool = False,
) -> IngestReport:
    """Ingest all-sky images (see :func:`ingest`); one group per product."""
    store = _as_store(store)
    paths = expand_files(files)
    products = [product] if product else (_wavelengths(paths, pattern) or [None])
    report = IngestReport()
    for prod in products:
        sub = IngestReport()
        _ingest_product(
            paths,
            store,
            group,
            pattern,
            station,
            prod,
            cadence,
            stations,
            license,
            threads,
            progress,
            sub,
        )
        report.group = sub.group if report.group is None else f"{report.group}, {sub.group}"
        report.extend(sub)
    if len(products) > 1:
        # A file skipped for "other wavelength" in one pass was ingested in another.
        added = set(report.added)
        report.skipped = [
            s for s in report.skipped if not (s.path in added and "is not product" in s.reason)
        ]
        seen = set()
        report.skipped = [s for s in report.skipped if not (s in seen or seen.add(s))]
    return report


def _ingest_product(
    paths,
    store,
    group,
    pattern,
    station,
    product,
    cadence,
    stations,
    license,
    threads,
    progress,
    report: IngestReport,
) -> None:
    scan = scan_images(paths, pattern, station, product, cadence=cadence, stations=stations)
    group = group or f"asim/{scan.product}"
    report.group = group
    existing = store.open(group) if store.exists(group) else None
    if existing is not None:
        # Files must fit the stored product: impose its image shape and dtype.
        scan = restrict_scan(scan, tuple(existing["image"].shape[2:]), existing["image"].dtype)
    report.skipped.extend(scan.skipped)
    if not scan.entries:
        return
    paths = [e.path for e in scan.entries]
    _check_cadence(existing, group, f"{scan.cadence.total_seconds():g} s", paths)
    scan = _drop_unchanged(scan, existing, report)
    if not scan.entries:
        return
    ds = scan_to_dataset(scan, stations=stations, license=license)
    grid = _path_grid(ds, scan)
    row_bytes = int(np.prod(scan.shape)) * scan.dtype.itemsize * ds.sizes["station"]
    rows = max(64, min(1024, BATCH_BYTES // max(row_bytes, 1) // 64 * 64))
    starts = list(range(0, ds.sizes["time"], rows))
    workers = threads or max(1, os.cpu_count() or 1)
    bar = _progress(len(scan.entries), progress, f"ingest {group}")
    # One thread prefetches (decodes the next batch while this one is written); the decoding
    # itself is spread over `workers` threads.
    with ThreadPoolExecutor(1) as prefetch, ThreadPoolExecutor(workers) as pool:

        def submit(start: int) -> Future:
            block = grid[start : start + rows]
            return prefetch.submit(_decode_block, pool, block, scan.shape, scan.dtype, workers)

        pending = submit(starts[0])
        for k, start in enumerate(starts):
            stack, ok, errors = pending.result()
            if k + 1 < len(starts):
                pending = submit(starts[k + 1])
            batch = ds.isel(time=slice(start, start + rows))
            for err in errors:
                report.skip(err.path, err.reason)
            valid = batch["valid"].values & ok
            keep = valid.any(axis=1)
            out = batch.assign(
                image=(batch["image"].dims, stack, batch["image"].attrs),
                valid=(batch["valid"].dims, valid, batch["valid"].attrs),
                exposure_time=batch["exposure_time"].where(valid),
            )
            if not keep.all():  # isel copies the images: only when rows must go
                out = out.isel(time=np.flatnonzero(keep))
            if out.sizes["time"]:
                store.write(out, group, history=f"ingested {int(valid.sum())} images")
            block = grid[start : start + rows]
            report.added.extend(
                p
                for p, good in zip(block.ravel(), ok.ravel(), strict=True)
                if p is not None and good
            )
            bar.update(int((block != None).sum()))  # noqa: E711
    bar.close()


def _path_grid(ds: xr.Dataset, scan: ImageScan) -> np.ndarray:
    t_index = {t: i for i, t in enumerate(pd.DatetimeIndex(ds["time"].values))}
    s_index = {s: j for j, s in enumerate(ds["station"].values)}
    grid = np.full((ds.sizes["time"], ds.sizes["station"]), None, dtype=object)
    for e in scan.entries:
        grid[t_index[e.exposure.floor(scan.cadence)], s_index[e.station]] = e.path
    return grid


def _decode_block(pool: ThreadPoolExecutor, block: np.ndarray, shape, dtype, workers: int):
    """Decode a (time, station) block of paths on ``pool``; failures are returned, not raised."""
    flat = list(block.ravel())
    step = max(1, -(-len(flat) // workers))
    stack = np.zeros((len(flat), *shape), dtype=dtype)  # each thread fills its own slice
    starts = range(0, len(flat), step)
    results = list(
        pool.map(
            lambda i: decode_stack(
                flat[i : i + step], shape, dtype, decode_image, stack[i : i + step]
            ),
            starts,
        )
    )
    stack = stack.reshape(*block.shape, *shape)
    ok = np.concatenate([r[1] for r in results]).reshape(block.shape)
    errors = [e for r in results for e in r[2]]
    return stack, ok, errors


def _drop_unchanged(
    scan: ImageScan, existing: xr.Dataset | None, report: IngestReport
) -> ImageScan:
    if existing is None:
        return scan
    stored = existing[["exposure_time", "valid"]].load()
    station_pos = {s: j for j, s in enumerate(stored["station"].values)}
    i = stored.indexes["time"].get_indexer([e.exposure.floor(scan.cadence) for e in scan.entries])
    j = np.array([station_pos.get(e.station, -1) for e in scan.entries], dtype=int)
    exposure = np.array([e.exposure.to_datetime64() for e in scan.entries], dtype="M8[ns]")
    found = (i >= 0) & (j >= 0)
    same = np.zeros(len(scan.entries), dtype=bool)
    same[found] = stored["valid"].values[i[found], j[found]] & (
        stored["exposure_time"].values[i[found], j[found]] == exposure[found]
    )
    report.unchanged.extend(e.path for e, s in zip(scan.entries, same, strict=True) if s)
    keep = [e for e, s in zip(scan.entries, same, strict=True) if not s]
    scan.entries = keep
    return scan


def _progress(total: int, enabled: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="img")
