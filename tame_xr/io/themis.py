"""THEMIS all-sky imager raw files (``*.pgm.gz``) → a lazy ``image(time, station, y, x)`` Dataset.

Layout (as found in e.g. ``20140310_0600_gill_themis19_full.pgm.gz``): a gzip stream of binary PGM
frames one after the other, normally 20 frames of 256×256 per one-minute file. Each frame is
``P5``, comment lines ``#"Key" value``, ``width height``, ``maxval``, one whitespace byte, then
big-endian 16-bit samples. Only the first frame's header names the site, imager and geodetic
position; every frame has its own ``Image request start`` (the exposure time), ``Image readout
start`` and ``Exposure plus initial readout``. Frames start every 3 s (5–65 ms after a 3-s
mark), hence the default ``cadence="3s"``. Headers are scanned at read time (each file is
decompressed once, pixels discarded); pixels are decoded lazily, each dask task reading only
the files whose frames fall in its chunk.
"""

from __future__ import annotations

import functools
import gzip
import os
import re
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from ..attrs import TIME_ATTRS, group_attrs
from ..report import BadInputError, IngestReport, Skipped, warn_skipped
from ..stations import BUILTIN_STATIONS, Station, normalise_station, station_coords, station_table
from .images import expand_files

THEMIS_CHUNK = 60  # frames per dask chunk along time: three one-minute files
LICENSE = (
    "THEMIS ASI data: see https://themis.ssl.berkeley.edu/ "
    "(files here via ucalgary-srs/themis-imager-readfile, MIT)"
)
_IMAGE_ATTRS = {"long_name": "all-sky image (THEMIS ASI, white light)", "units": "1"}
_IMAGE_ATTRS["comment"] = "raw CCD counts as recorded; fisheye, y from top, x from left"
_EXPOSURE = "exact exposure start time (UTC): the header's Image request start"
_VALID = "an image exists for this time and station"
_POSITION = ("Geodetic latitude", "Geodetic Longitude")  # sic: capital L in the files
_WHITESPACE = b" \t\r\n\v\f"
_KEYED = re.compile(r'^"([^"]*)"\s*(.*)$')


def _open(path: str | Path) -> BinaryIO:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if not magic:
        raise BadInputError(path, "empty file (0 bytes)")
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if str(path).endswith(".gz"):
        raise BadInputError(path, f"not gzip-compressed (file starts with {magic!r})")
    return open(path, "rb")


def _token(fh: BinaryIO, header: dict[str, str]) -> bytes:
    """Next PGM header token (and the one whitespace byte after it); ``#`` lines → ``header``."""
    while (c := fh.read(1)) and (c in _WHITESPACE or c == b"#"):
        if c == b"#":  # '#"Key" value'; of a key repeated within one header the first wins
            m = _KEYED.match(line := fh.readline().decode("latin-1").strip())
            header.setdefault(*((m.group(1), m.group(2).strip()) if m else ("comment", line)))
    tok = bytearray(c)
    while (c := fh.read(1)) and c not in _WHITESPACE:
        tok += c
    return bytes(tok)


def _frame(fh: BinaryIO, path: str | Path, n: int, pixels: bool) -> tuple | None:
    """Read frame ``n`` at the stream position: ``(array or None, header, shape)``; None at end."""
    magic = fh.read(2)
    if not magic or (magic != b"P5" and n and not (magic + fh.read(64)).strip()):
        return None  # end of file, or only whitespace after the last frame
    if magic != b"P5":
        where = "not a binary PGM file" if n == 0 else f"frame {n}: no PGM header"
        raise BadInputError(path, f"{where} (expected 'P5', found {magic!r})")
    header: dict[str, str] = {}
    tokens = [_token(fh, header) for _ in range(3)]
    try:
        width, height, maxval = (int(t) for t in tokens)
    except ValueError:
        raise BadInputError(path, f"frame {n}: bad PGM header {tokens}") from None
    if not (width > 0 and height > 0 and 0 < maxval < 65536):
        raise BadInputError(path, f"frame {n}: bad PGM size {width}x{height}, maxval {maxval}")
    nbytes = width * height * (2 if maxval > 255 else 1)
    data = fh.read(nbytes)
    if len(data) < nbytes:
        raise BadInputError(path, f"truncated: frame {n} has {len(data)} of {nbytes} pixel bytes")
    dtype = ">u2" if maxval > 255 else "u1"
    arr = np.frombuffer(data, dtype).reshape(height, width).astype(np.uint16) if pixels else None
    return arr, header, (height, width)


def _parse(path: str | Path, pixels: bool) -> tuple[list, list[dict], list[tuple]]:
    """All frames of a file (see :func:`read_pgm_frames`); pixels only when asked."""
    frames = []
    with _open(path) as fh:
        try:
            while (frame := _frame(fh, path, len(frames), pixels)) is not None:
                frames.append(frame)
        except EOFError as exc:
            raise BadInputError(path, f"truncated gzip stream ({exc})") from None
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise BadInputError(path, f"corrupt gzip data ({exc})") from None
    if not frames:
        raise BadInputError(path, "no PGM frames in the file")
    arrays, headers, shapes = (list(x) for x in zip(*frames, strict=True))
    if len(set(shapes)) > 1:
        raise BadInputError(path, f"frames of different sizes {sorted(set(shapes))}")
    return arrays, headers, shapes


def read_pgm_frames(path: str | Path) -> tuple[np.ndarray, list[dict[str, str]]]:
    """Decode every frame of a (gzip-compressed or plain) multi-frame binary PGM file.

    Parameters
    ----------
    path
        A THEMIS ``*.pgm.gz`` (or uncompressed ``*.pgm``) file.

    Returns
    -------
    frames : numpy.ndarray
        ``(n, height, width)`` uint16 (8-bit files are widened).
    headers : list of dict
        Per frame, that frame's own ``#"Key" value`` comment fields as strings (site fields
        appear only in the first frame's header; nothing is carried forward).

    Raises
    ------
    BadInputError
        Empty file, not gzip, truncated or corrupt stream, wrong magic, short pixel data, or
        frames of different sizes.
    """
    arrays, headers, _ = _parse(path, pixels=True)
    return np.stack(arrays), headers


@dataclass
class _FileScan:
    path: str
    station: str
    imager: str
    exposures: list[pd.Timestamp]
    shape: tuple[int, int]
    site: tuple[str, float, float]  # the header's site name, latitude, longitude


def _scan_file(path: str, station: str | None, table: dict[str, Station]) -> _FileScan:
    """Headers of one file (pixels decompressed and discarded): times, site, shape."""
    _, headers, shapes = _parse(path, pixels=False)
    exposures = []
    for i, h in enumerate(headers):
        text = h.get("Image request start", "").replace("UTC", "").strip()
        exposures.append(pd.to_datetime(text, errors="coerce"))
        if exposures[-1] is pd.NaT:
            raise BadInputError(path, f"frame {i}: no valid 'Image request start' ({text!r})")
    first = headers[0]
    code = station or first.get("Site unique ID")
    if not code:
        raise BadInputError(path, "no 'Site unique ID' in the header; pass station=...")
    lat, lon = (float(pd.to_numeric(first.get(k, ""), errors="coerce")) for k in _POSITION)
    site, imager = (first.get("Site name", code), lat, lon), first.get("Imager unique ID", "?")
    return _FileScan(path, normalise_station(code, table), imager, exposures, shapes[0], site)


def _load_block(paths: np.ndarray, frames: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(paths.shape + shape, dtype=np.uint16)
    for path in {p for p in paths.ravel() if p}:
        stack, _ = read_pgm_frames(path)
        for i, j in np.argwhere(paths == path):
            k = int(frames[i, j])
            if k >= len(stack) or stack.shape[1:] != shape:
                raise BadInputError(path, "file changed since its headers were read")
            out[i, j] = stack[k]
    return out


def read_themis(
    files: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    station: str | None = None,
    cadence: str | pd.Timedelta = "3s",
    stations: dict | None = None,
    report: IngestReport | None = None,
    shape: tuple[int, int] | None = None,
) -> xr.Dataset:
    """Read THEMIS ASI raw ``*.pgm.gz`` files as a lazy Dataset ``image(time, station, y, x)``.

    Parameters
    ----------
    files
        Paths, a glob pattern or a directory.
    station
        Station code for all files; default: the header's ``Site unique ID`` (e.g. ``gill``).
    cadence
        Nominal time step: ``time`` is ``exposure_time`` ("Image request start") floored to it.
        Of several frames in one ``(time, station)`` cell the earliest is kept, and the
        files of the others are reported.
    stations
        Station table overrides (see :func:`tame_xr.stations.station_table`). The header's
        geodetic latitude/longitude replace the built-in table's, not these overrides.
    report
        Unusable files are added to it with the reason; without one, they are listed in a
        :class:`~tame_xr.report.SkippedInputWarning`.
    shape
        Required frame shape ``(height, width)``, e.g. that of an existing store group
        (:func:`tame_xr.ingest` passes it); by default the most common one among the files.
        Files of another shape are skipped.

    Returns
    -------
    xarray.Dataset
        ``image`` uint16 (dask, chunks of 60 frames × 1 station), ``exposure_time``,
        ``valid``, station coordinates (latitude/longitude from the header).
    """
    cadence, table = pd.Timedelta(cadence), station_table(stations)
    skipped: list[Skipped] = []
    scans: list[_FileScan] = []
    for path in expand_files(files):
        try:
            scans.append(_scan_file(path, station, table))
        except (BadInputError, OSError) as exc:
            skipped.append(Skipped(path, getattr(exc, "reason", f"cannot read file ({exc})")))
    if shape is None:
        shape = Counter(s.shape for s in scans).most_common(1)[0][0] if scans else (0, 0)
    shape = tuple(int(n) for n in shape)
    skipped += [Skipped(s.path, f"frames {s.shape} not {shape}") for s in scans if s.shape != shape]
    scans = sorted((s for s in scans if s.shape == shape), key=lambda s: (s.station, s.exposures))
    cells: dict[tuple[pd.Timestamp, str], tuple[str, int, pd.Timestamp]] = {}
    used: dict[str, _FileScan] = {}
    for s in scans:
        dropped = []
        for k, when in sorted(enumerate(s.exposures), key=lambda e: e[1]):
            cell = (when.floor(cadence), s.station)
            if cell in cells:
                dropped.append(f"frame {k} by {cells[cell][0]}")
            else:
                cells[cell] = (s.path, k, when)
        if dropped:
            n = f"{len(dropped)} of {len(s.exposures)} frames"
            skipped.append(Skipped(s.path, f"duplicate: {n} in filled grid cells ({dropped[0]})"))
        if len(dropped) < len(s.exposures):
            used.setdefault(s.path, s)
    if report is not None:
        report.skipped.extend(skipped)
        report.added.extend(used)
    else:
        warn_skipped(skipped, "THEMIS files")
    if not cells:
        raise ValueError("no usable THEMIS files" + "".join(f"\n  {s}" for s in skipped[:10]))

    times, codes = sorted({t for t, _ in cells}), sorted({st for _, st in cells})
    keep = {k.lower() for k in stations or {}}  # user overrides beat the header
    for s in used.values():  # header position replaces the built-in one (first file)
        if s.station not in keep and np.isfinite(s.site[1:]).all():
            known = BUILTIN_STATIONS.get(s.station, Station(s.station, s.site[0], 0, 0, np.nan))
            table[s.station] = Station(s.station, known.name, *s.site[1:], known.altitude)
            keep.add(s.station)
    t_index, s_index = {t: i for i, t in enumerate(times)}, {c: j for j, c in enumerate(codes)}
    paths = np.full((len(times), len(codes)), None, dtype=object)
    frames = np.zeros(paths.shape, dtype=np.int64)
    exposure = np.full(paths.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    for (t, st), (path, k, when) in cells.items():
        i, j = t_index[t], s_index[st]
        paths[i, j], frames[i, j], exposure[i, j] = path, k, when.asm8
    chunks = da.core.normalize_chunks((THEMIS_CHUNK, 1), paths.shape)
    image = da.map_blocks(
        functools.partial(_load_block, shape=shape),
        da.from_array(paths, chunks=chunks, name=False),
        da.from_array(frames, chunks=chunks, name=False),
        dtype=np.uint16,
        new_axis=[2, 3],
        chunks=chunks + ((shape[0],), (shape[1],)),
        meta=np.empty((0, 0, 0, 0), dtype=np.uint16),
    )
    coords = station_coords(codes, table)
    coords["time"] = ("time", pd.DatetimeIndex(times).values.astype("datetime64[ns]"), TIME_ATTRS)
    ts = ("time", "station")
    ds = xr.Dataset(
        {
            "image": (ts + ("y", "x"), image, _IMAGE_ATTRS),
            "exposure_time": (ts, exposure, {"long_name": _EXPOSURE, "standard_name": "time"}),
            "valid": (ts, paths != None, {"long_name": _VALID, "units": "1"}),  # noqa: E711
        },
        coords=coords,
    )
    names = sorted(os.path.basename(p) for p in used)
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    ds.attrs = group_attrs(
        title=f"THEMIS all-sky images ({', '.join(codes)})",
        source=f"THEMIS ASI raw PGM files ({shown}) read by tame_xr.read_themis",
        license=LICENSE,
    )
    ds.attrs["product"] = "themis"
    ds.attrs["cadence"] = f"{cadence.total_seconds():g} s"
    ds.attrs["instrument_codes"] = "; ".join(
        sorted({f"{s.station}: {s.imager}" for s in used.values()})
    )
    return ds
