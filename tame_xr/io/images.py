"""All-sky image files → a lazy ``image(time, station, y, x)`` Dataset (DESIGN §2).

Reading happens in two steps. :func:`scan_images` looks at every file's name and header
(no pixel decoding) and decides which files make up the product; everything it cannot use is
listed with the reason. :func:`read_images` turns a scan into a Dataset whose ``image``
variable is a dask array decoding files chunk by chunk, so a season streams through without
being loaded.

Time grid: the nominal time of an image is its exposure time floored to ``cadence`` (default
one minute). The exact time stays in ``exposure_time``. When several images fall in one grid
cell ``(time, station)``, the earliest is kept and the others are reported.
"""

from __future__ import annotations

import glob
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..attrs import TIME_ATTRS, group_attrs
from ..report import BadInputError, IngestReport, Skipped, warn_skipped
from ..stations import Station, normalise_station, station_coords, station_table
from .decode import ImageHeader, image_chunk_rows, lazy_image_stack, read_header
from .patterns import UIO_PATTERN, FilenamePattern


@dataclass(frozen=True)
class ImageEntry:
    """One usable image file."""

    path: str
    station: str
    exposure: pd.Timestamp
    header: ImageHeader
    fields: Mapping[str, str]


@dataclass
class ImageScan:
    """The outcome of :func:`scan_images`: the files that make up one product."""

    entries: list[ImageEntry]
    skipped: list[Skipped]
    product: str
    cadence: pd.Timedelta
    shape: tuple[int, ...] | None
    dtype: np.dtype | None
    instrument_codes: dict[str, list[str]] = field(default_factory=dict)
    #: every file whose name and header were readable, before the shape and grid rules,
    #: and the files skipped before that point (so :func:`restrict_scan` reads nothing again)
    candidates: list[ImageEntry] = field(default_factory=list)
    unreadable: list[Skipped] = field(default_factory=list)


def expand_files(files: str | os.PathLike | Iterable[str | os.PathLike]) -> list[str]:
    """Expand a glob pattern, a directory (searched recursively) or a list of paths."""
    if isinstance(files, (str, os.PathLike)):
        text = os.fspath(files)
        if os.path.isdir(text):
            return sorted(
                str(p) for p in Path(text).rglob("*") if p.is_file() and not p.name.startswith(".")
            )
        if any(ch in text for ch in "*?["):
            return sorted(glob.glob(text, recursive=True))
        return [text]
    out: list[str] = []
    for item in files:
        out.extend(expand_files(item))
    return out


def scan_images(
    files,
    pattern: str | None = None,
    station: str | None = None,
    product: str | None = None,
    *,
    cadence: str | pd.Timedelta = "1min",
    stations: Mapping[str, Station | Mapping] | None = None,
    shape: tuple[int, ...] | None = None,
    dtype: np.dtype | str | None = None,
) -> ImageScan:
    """Decide which image files form one product; list every file that cannot be used.

    Parameters
    ----------
    files
        Paths, a glob pattern or a directory.
    pattern
        File-name pattern (see :mod:`tame_xr.io.patterns`); default: University of Oslo names.
    station
        Station code for all files (required when the pattern has no ``{station}``).
    product
        Product name (default: the ``{wavelength}`` field, else ``"rgb"`` or ``"gray"``).
        With a ``{wavelength}`` field, files of other wavelengths are skipped.
    cadence
        Nominal time step; exposure times are floored to it.
    stations
        Station table overrides (see :func:`tame_xr.stations.station_table`).
    shape, dtype
        Required image shape and dtype (e.g. those of an existing store group). By default
        the most common ones among the files; files that differ are skipped.
    """
    compiled = FilenamePattern.compile(pattern or UIO_PATTERN)
    if station is None and "station" not in compiled.names:
        raise ValueError(f"pattern {compiled.pattern!r} has no {{station}}: pass station=...")
    table = station_table(stations)
    cadence = pd.Timedelta(cadence)
    skipped: list[Skipped] = []
    candidates: list[ImageEntry] = []
    codes: dict[str, set[str]] = {}
    for path in expand_files(files):
        name = os.path.basename(path)
        try:
            parsed = compiled.parse(name)
        except ValueError as exc:
            skipped.append(Skipped(path, f"time fields in the name are not a valid time ({exc})"))
            continue
        if parsed is None:
            skipped.append(Skipped(path, f"name does not match pattern {compiled.pattern!r}"))
            continue
        when, fields = parsed
        if product is not None and "wavelength" in fields and fields["wavelength"] != product:
            skipped.append(
                Skipped(path, f"wavelength {fields['wavelength']} is not product {product}")
            )
            continue
        try:
            header = read_header(path)
        except BadInputError as exc:
            skipped.append(Skipped(path, exc.reason))
            continue
        code = station or fields["station"]
        st = normalise_station(code, table)
        codes.setdefault(st, set()).add(code)
        candidates.append(ImageEntry(path, st, pd.Timestamp(when), header, fields))

    wavelengths = sorted({e.fields["wavelength"] for e in candidates if "wavelength" in e.fields})
    if product is None:
        if len(wavelengths) > 1:
            raise ValueError(
                f"files hold several wavelengths {wavelengths}: read one at a time with "
                "product=<wavelength> (tame_xr.ingest does this for you)"
            )
        if wavelengths:
            product = wavelengths[0]
        elif candidates:
            product = (
                "rgb"
                if candidates[0].header.shape[-1:] == (3,) and len(candidates[0].header.shape) == 3
                else "gray"
            )
        else:
            product = "gray"

    return _select(
        candidates,
        skipped,
        str(product),
        cadence,
        shape,
        dtype,
        {k: sorted(v) for k, v in codes.items()},
    )


def restrict_scan(scan: ImageScan, shape: tuple[int, ...], dtype) -> ImageScan:
    """The same scan with the product's image shape and dtype imposed (e.g. by an existing
    store group), without reading any file again."""
    return _select(
        scan.candidates,
        scan.unreadable,
        scan.product,
        scan.cadence,
        shape,
        dtype,
        scan.instrument_codes,
    )


def _select(candidates, unreadable, product, cadence, shape, dtype, codes) -> ImageScan:
    """Apply the product's shape/dtype and the one-image-per-grid-cell rule."""
    skipped = list(unreadable)
    if candidates and (shape is None or dtype is None):
        common = Counter((e.header.shape, e.header.dtype.str) for e in candidates).most_common(1)
        (c_shape, c_dtype), _ = common[0]
        shape = shape or c_shape
        dtype = dtype or np.dtype(c_dtype)
    dtype = np.dtype(dtype) if dtype is not None else None
    entries: list[ImageEntry] = []
    for e in candidates:
        if tuple(e.header.shape) != tuple(shape) or e.header.dtype != dtype:
            skipped.append(
                Skipped(
                    e.path,
                    f"image {_describe(e.header.shape, e.header.dtype)} differs from the product's "
                    f"{_describe(shape, dtype)}; read it as a separate product",
                )
            )
        else:
            entries.append(e)

    # One image per grid cell: keep the earliest exposure.
    entries.sort(key=lambda e: (e.station, e.exposure, e.path))
    kept: dict[tuple[pd.Timestamp, str], ImageEntry] = {}
    for e in entries:
        cell = (e.exposure.floor(cadence), e.station)
        if cell in kept:
            first = kept[cell]
            reason = (
                f"same exposure time as {first.path}"
                if first.exposure == e.exposure
                else f"grid cell {cell[0]} {cell[1]} already has {first.path}"
            )
            skipped.append(Skipped(e.path, f"duplicate: {reason}"))
        else:
            kept[cell] = e
    return ImageScan(
        entries=list(kept.values()),
        skipped=skipped,
        product=product,
        cadence=cadence,
        shape=tuple(shape) if shape is not None else None,
        dtype=dtype,
        instrument_codes=codes,
        candidates=candidates,
        unreadable=list(unreadable),
    )


def _describe(shape, dtype) -> str:
    kind = "RGB" if len(shape) == 3 else "gray"
    return f"{shape[1]}x{shape[0]} {kind} {np.dtype(dtype).name}"


def scan_to_dataset(
    scan: ImageScan,
    *,
    stations: Mapping[str, Station | Mapping] | None = None,
    license: str = "see the data provider",
    source: str | None = None,
) -> xr.Dataset:
    """Build the lazy Dataset for a scan (no file is decoded here)."""
    if not scan.entries:
        raise ValueError("no usable image files" + "".join(f"\n  {s}" for s in scan.skipped[:10]))
    table = station_table(stations)
    times = sorted({e.exposure.floor(scan.cadence) for e in scan.entries})
    station_codes = sorted({e.station for e in scan.entries})
    t_index = {t: i for i, t in enumerate(times)}
    s_index = {s: j for j, s in enumerate(station_codes)}
    paths = np.full((len(times), len(station_codes)), None, dtype=object)
    exposure = np.full(paths.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    for e in scan.entries:
        i, j = t_index[e.exposure.floor(scan.cadence)], s_index[e.station]
        paths[i, j] = e.path
        exposure[i, j] = e.exposure.to_datetime64()
    valid = paths != None  # noqa: E711  (elementwise test on an object array)
    rows = image_chunk_rows(int(np.prod(scan.shape)) * scan.dtype.itemsize)
    image = lazy_image_stack(paths, scan.shape, scan.dtype, chunks=(rows, 1))
    dims = ("time", "station", "y", "x") + (("channel",) if len(scan.shape) == 3 else ())
    wavelength = scan.product if scan.product.isdigit() else None
    image_attrs = {
        "long_name": f"all-sky image ({scan.product})",
        "units": "1",
        "comment": "pixel values as recorded",
        "grid_mapping_note": "fisheye image; y from top, x from left as in the file",
    }
    if wavelength:
        image_attrs["wavelength"] = f"{wavelength} angstrom"
    coords = station_coords(station_codes, table)
    coords["time"] = ("time", pd.DatetimeIndex(times).values.astype("datetime64[ns]"), TIME_ATTRS)
    if len(scan.shape) == 3:
        coords["channel"] = (
            "channel",
            np.array(["R", "G", "B"], dtype=object),
            {"long_name": "colour channel"},
        )
    ds = xr.Dataset(
        {
            "image": (dims, image, image_attrs),
            "exposure_time": (
                ("time", "station"),
                exposure,
                {"long_name": "exact exposure start time (UTC)", "standard_name": "time"},
            ),
            "valid": (
                ("time", "station"),
                valid,
                {"long_name": "an image exists for this time and station", "units": "1"},
            ),
        },
        coords=coords,
    )
    ds.attrs = group_attrs(
        title=f"All-sky images, product {scan.product}",
        source=source or "all-sky imager files read by tame_xr.read_images",
        license=license,
    )
    ds.attrs["product"] = scan.product
    ds.attrs["cadence"] = _cadence_text(scan.cadence)
    ds.attrs["instrument_codes"] = "; ".join(
        f"{k}: {', '.join(v)}" for k, v in sorted(scan.instrument_codes.items())
    )
    return ds


def _cadence_text(cadence: pd.Timedelta) -> str:
    seconds = cadence.total_seconds()
    return f"{seconds:g} s"


def read_images(
    files,
    pattern: str | None = None,
    station: str | None = None,
    product: str | None = None,
    *,
    cadence: str | pd.Timedelta = "1min",
    stations: Mapping[str, Station | Mapping] | None = None,
    license: str = "see the data provider",
    report: IngestReport | None = None,
) -> xr.Dataset:
    """Read all-sky image files as a lazy Dataset ``image(time, station, y, x[, channel])``.

    Parameters are those of :func:`scan_images`. Files that cannot be used are added to
    ``report`` when one is given, otherwise listed in one :class:`SkippedInputWarning`.
    A file that passes the header check but fails to decode raises
    :class:`~tame_xr.report.BadInputError` naming it when its chunk is computed
    (:func:`tame_xr.ingest` decodes eagerly and reports such files instead).

    Examples
    --------
    >>> ds = read_images("asim/nya/5577/**/*.png")                          # doctest: +SKIP
    >>> ds = read_images("kho/*.jpg", "{station}-Sony-{%y%m%d}_{%H%M%S}.jpg",
    ...                  product="sony")                                    # doctest: +SKIP
    """
    scan = scan_images(files, pattern, station, product, cadence=cadence, stations=stations)
    if report is not None:
        report.skipped.extend(scan.skipped)
        report.added.extend(e.path for e in scan.entries)
    else:
        warn_skipped(scan.skipped, "image files")
    return scan_to_dataset(scan, stations=stations, license=license)
