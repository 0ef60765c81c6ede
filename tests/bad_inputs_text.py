"""Bad-input cases of the text readers: IAGA-2002, IMAGE, PANGAEA, CHM15k (see ``bad_inputs.py``)."""

from __future__ import annotations

import gzip
import zlib
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from bad_inputs_files import (
    A_PNG,
    HTML,
    OK,
    E,
    S,
    alone,
    cut_last_line,
    good_file,
    only,
    put,
    repeat,
    set_fields,
    swap,
    truncate,
    zero,
)

# ------------------------------------------------------------------------- IAGA-2002
IAGA_START = "2014-11-01 00:00"
IAGA_DATA = 12  # line of the first data record (10 header records, the column header)


def iaga_values(code: str, times: pd.DatetimeIndex) -> np.ndarray:
    """X, Y, Z, F per record: distinct for every station and time."""
    x = 1000.0 * (1 + zlib.crc32(code.encode()) % 40)
    x = x + np.asarray((times - pd.Timestamp(IAGA_START)).total_seconds()) / 60.0
    return np.stack([x, x / 10, x / 2, np.hypot(x, x / 2)], axis=1).round(2)


def iaga(d: Path, code: str, start=IAGA_START, n=30, *, step="1min", cols=None, head=None):
    """An IAGA-2002 XYZF file of ``n`` records ``step`` apart (values: :func:`iaga_values`)."""
    fields = {
        "Format": "IAGA-2002",
        "Source of Data": "tame_xr tests (SYNTHETIC)",
        "Station Name": f"Station {code}",
        "IAGA CODE": code,
        "Geodetic Latitude": "60.000",
        "Geodetic Longitude": f"{zlib.crc32(code.encode()) % 360:.3f}",
        "Elevation": "10",
        "Reported": "XYZF",
        "Data Interval Type": "1-second" if step == "1s" else "1-minute",
        "Data Type": "variation",
    } | (head or {})
    lines = [f" {k:<23}{v:<45}|" for k, v in fields.items() if v is not None]
    lines.append(
        f"DATE       TIME         DOY     {cols or '  '.join(code + c for c in 'XYZF')}  |"
    )
    times = pd.date_range(start, periods=n, freq=step)
    for t, row in zip(times, iaga_values(code, times), strict=True):
        lines.append(
            f"{t:%Y-%m-%d %H:%M:%S}.000 {t.day_of_year:03d}  " + "".join(f"{v:10.2f}" for v in row)
        )
    name = f"{code.lower()}{pd.Timestamp(start):%Y%m%d%H%M}{'s' if step == '1s' else 'm'}.min"
    return put(d / name, "\n".join(lines) + "\n")


_gb = partial(iaga, code="FRD", start="2014-11-01 00:30")


def _iaga_sentinels(d: Path) -> Path:
    path = set_fields(good_file("iaga2002", d), IAGA_DATA, {3: "99999.00", 4: "88888.00"})
    return set_fields(path, IAGA_DATA + 1, {6: "99999.90"})


_T30 = "2014-11-01 00:30"
_NO_POSITION = {"Geodetic Latitude": None, "Geodetic Longitude": None, "Elevation": None}
_X, _D, _NAN = {6: "12x45.00"}, {0: "2014-11-31"}, {3: "nan", 4: "-inf"}
_EV = {"cols": "FRDE FRDV FRDZ FRDF", "head": {"Reported": "EVZF"}}
IAGA = {
    "zero_byte": (S, "empty file (0 bytes)", lambda d: zero(_gb(d))),
    "truncated": (S, "truncated data line", lambda d: cut_last_line(_gb(d), 40)),
    "png_in_min": (S, "binary file", lambda d: put(_gb(d), A_PNG)),
    "gzip_in_min": (S, "binary file", lambda d: put(_gb(d), gzip.compress(_gb(d).read_bytes()))),
    "html_in_min": (S, "not an IAGA-2002", lambda d: put(_gb(d), HTML)),
    "garbage_value": (S, "'12x45.00' is not a number", lambda d: set_fields(_gb(d), 15, _X)),
    "unsorted_times": (S, "is earlier than", lambda d: swap(_gb(d), IAGA_DATA + 3)),
    "duplicate_time": (S, "repeats line", lambda d: repeat(_gb(d), IAGA_DATA + 3)),
    "invalid_date": (S, "'2014-11-31 00:32:00.000' is not a", lambda d: set_fields(_gb(d), 14, _D)),
    "ev_components": (S, "unknown reported components 'EVZF'", lambda d: _gb(d, **_EV)),
    "station_not_matching_header": (S, "IAGA CODE", lambda d: _gb(d, cols="BOUX BOUY BOUZ BOUF")),
    "mixed_cadence": (S, "time step 1 s differs from the 60 s", lambda d: _gb(d, step="1s")),
    "cadence_vs_store": (
        E,
        "differs from the 60 s",
        alone(lambda d: [_gb(d, step="1s"), iaga(d, "BOU", step="1s")]),
    ),
    "only_bad_files": (E, "binary file", alone(lambda d: [put(_gb(d), A_PNG)])),
    "sentinels": (OK, "", only(lambda d: [_iaga_sentinels(d)])),
    "nan_inf": (OK, "", only(lambda d: [set_fields(good_file("iaga2002", d), IAGA_DATA, _NAN)])),
    "unknown_station": (OK, "", only(lambda d: [iaga(d, "QQQ", _T30, head=_NO_POSITION)])),
    "station_order": (OK, "", only(lambda d: [iaga(d, c, _T30) for c in ("TRO", "FRD", "ABK")])),
}


# ------------------------------------------------------------------------- IMAGE text
IMAGE_START = "2014-12-01 00:00"
IMAGE_DATA = 4  # line of the first data row


def image_values(code: str, comp: str, times: pd.DatetimeIndex) -> np.ndarray:
    base = 100.0 * (1 + zlib.crc32(f"{code}{comp}".encode()) % 500)
    return base + np.asarray((times - pd.Timestamp(IMAGE_START)).total_seconds()) / 60.0


def image_file(d: Path, start=IMAGE_START, n=40, *, labels=None, step="1min", name=None):
    """An IMAGE network text file with blank-separated columns ``NAL X`` ... (n rows)."""
    labels = labels or [(s, c) for s in ("NAL", "LYR") for c in "XYZ"]
    times = pd.date_range(start, periods=n, freq=step)
    table = np.stack([image_values(s, c, times) for s, c in labels], axis=1)
    lines = ["IMAGE magnetometer network, test data"]
    lines += ["YYYY MM DD HH MM SS " + " ".join(f"{s} {c}" for s, c in labels), "-" * 60]
    for t, row in zip(times, table, strict=True):
        lines.append(f"{t:%Y %m %d %H %M %S} " + " ".join(f"{v:9.1f}" for v in row))
    return put(d / (name or f"image_{pd.Timestamp(start):%H%M}.txt"), "\n".join(lines) + "\n")


_mb = partial(image_file, start="2014-12-01 01:20", name="bad.txt")


def _image_edit(d: Path, fields: dict[int, str]) -> Path:
    return set_fields(good_file("image_magnetometer", d), IMAGE_DATA, fields)


_T40 = "2014-12-01 00:40"
_TWICE = [("NAL", "X"), ("NAL", "Y"), ("NAL", "X")]
_QQQ = [("QQQ", c) for c in "XYZ"]
_PERMUTED = [("HOR", "Z"), ("LYR", "Z"), ("NAL", "Y"), ("HOR", "X"), ("LYR", "X"), ("NAL", "X")]
_PERMUTED += [("LYR", "Y"), ("NAL", "Z"), ("HOR", "Y")]
IMAGE = {
    "zero_byte": (S, "empty file (0 bytes)", lambda d: zero(_mb(d))),
    "truncated": (S, "truncated data line", lambda d: cut_last_line(_mb(d), 35)),
    "png_in_txt": (S, "binary file", lambda d: put(_mb(d), A_PNG)),
    "iaga_file_instead": (S, "not an IMAGE magnetometer file", lambda d: iaga(d, "NAL")),
    "unsorted_times": (S, "is earlier than", lambda d: swap(_mb(d), IMAGE_DATA + 5)),
    "duplicate_time": (S, "repeats line", lambda d: repeat(_mb(d), IMAGE_DATA + 5)),
    "duplicate_column": (S, "column NAL X appears twice", lambda d: _mb(d, labels=_TWICE)),
    "mixed_cadence": (S, "time step 10 s differs from the 60 s", lambda d: _mb(d, step="10s")),
    "cadence_vs_store": (E, "differs from the 60 s", alone(lambda d: [_mb(d, step="10s")])),
    "sentinels": (OK, "", only(lambda d: [_image_edit(d, {6: "99999.9", 10: "88888.0"})])),
    "nan_inf": (OK, "", only(lambda d: [_image_edit(d, {6: "nan", 10: "inf"})])),
    "unknown_station": (OK, "", only(lambda d: [image_file(d, _T40, labels=_QQQ)], new_cells=40)),
    "station_order": (
        OK,
        "",
        only(lambda d: [image_file(d, _T40, labels=_PERMUTED)], new_cells=120),
    ),
}


# ------------------------------------------------------------------------- PANGAEA
PANGAEA_DATA = 7  # line of the first data row


def cbh_texts(code: str, times: pd.DatetimeIndex) -> list[str]:
    """CBH fields: a height in m, or empty (no cloud) every third minute."""
    base = 200 + zlib.crc32(code.encode()) % 1000
    minutes = np.asarray((times - pd.Timestamp("2014-12-01")).total_seconds() // 60, int)
    return ["" if m % 3 == 2 else str(base + 10 * m) for m in minutes]


def pangaea(d: Path, code: str, start="2014-12-01 00:00", n=10, *, event=None, values=None):
    """A PANGAEA ceilometer tab file ``{code}_ceilometer_HHMM.tab`` (metadata, 2 columns)."""
    times = pd.date_range(start, periods=n, freq="1min")
    event = f"{code.upper()}_ceilometer" if event is None else event
    where = "LATITUDE: 70.0 * LONGITUDE: 20.0 * ELEVATION: 5.0 m"
    head = ["/* DATA DESCRIPTION:", "Citation:\ttame_xr tests: SYNTHETIC ceilometer data"]
    head += [f"Event(s):\t{event} * {where}"] if event else []
    head += ["License:\tCC0-1.0", "*/", "Date/Time\tCBH [m]"]
    values = values or cbh_texts(code, times)
    rows = [f"{t:%Y-%m-%dT%H:%M}\t{v}" for t, v in zip(times, values, strict=True)]
    name = f"{code.lower()}_ceilometer_{pd.Timestamp(start):%H%M}.tab"
    return put(d / name, "\n".join(head + rows) + "\n")


_pb = partial(pangaea, code="lyr", start="2014-12-01 00:20")


def _pv(d: Path, text: str) -> Path:
    return _pb(d, values=["500"] * 4 + [text] + ["510"] * 5)


_T10 = "2014-12-01 00:10"
PANGAEA = {
    "zero_byte": (S, "empty file", lambda d: zero(_pb(d))),
    "truncated": (S, "truncated line?", lambda d: cut_last_line(_pb(d), 12)),
    "png_in_tab": (S, "not UTF-8 text", lambda d: put(_pb(d), A_PNG)),
    "html_in_tab": (S, "no header row with 'Date/Time'", lambda d: put(_pb(d), HTML)),
    "nan_value": (S, "line 11: CBH 'NaN' is not a number", lambda d: _pv(d, "NaN")),
    "inf_value": (S, "line 11: CBH 'inf' is not a number", lambda d: _pv(d, "inf")),
    "negative_sentinel": (S, "line 11: negative CBH -9999", lambda d: _pv(d, "-9999")),
    "large_sentinel": (S, "line 11: CBH 99999 m is above", lambda d: _pv(d, "99999")),
    "unsorted_times": (S, "is not after", lambda d: swap(_pb(d), PANGAEA_DATA + 2)),
    "duplicate_time": (S, "is not after", lambda d: repeat(_pb(d), PANGAEA_DATA + 2)),
    # the file name says lyr, the Event label nya
    "station_not_matching_event": (S, "Event label says nya", lambda d: _pb(d, event="NYA_x")),
    "unknown_station": (OK, "", only(lambda d: [pangaea(d, "qqq", _T10, event="")])),
    "station_order": (OK, "", only(lambda d: [pangaea(d, c, _T10) for c in ("lyr", "hor")])),
}


# ------------------------------------------------------------------------- CHM15k netCDF
def chm_values(location: str, times: pd.DatetimeIndex) -> np.ndarray:
    """Layer-0 cbh (m, cho 70 m included): a height, or -1 (no cloud) every third minute."""
    base = 500 + zlib.crc32(location.lower().encode()) % 1000
    minutes = np.asarray((times - pd.Timestamp("2020-10-22")).total_seconds() // 60, int)
    return np.where(minutes % 3 == 2, -1, base + 10 * minutes)


def chm15k(d: Path, location="Magurele", start="2020-10-22 00:00", *, first=None, times=None):
    """A CHM15k-like netCDF-3 file: ``cbh(time, layer)`` int16, ``cho``, position variables."""
    import xarray as xr

    t = pd.DatetimeIndex(times) if times else pd.date_range(start, periods=5, freq="1min")
    cbh = np.full((t.size, 3), -32768, dtype=np.int16)
    cbh[:, 0] = first if first is not None else chm_values(location, t)
    position = {k: ((), np.float32(v)) for k, v in (("latitude", 44.3), ("longitude", 26.0))}
    ds = xr.Dataset(
        {"cbh": (("time", "layer"), cbh, {"units": "m"}), "cho": ((), np.int16(70)), **position},
        coords={"time": t.values, "layer": np.arange(1, 4, dtype=np.int32)},
        attrs={"location": location, "device_name": "CHM000000", "title": "CHM15k Nimbus"},
    )
    path = d / f"chm_{location.lower() or 'x'}_{t[0]:%H%M}.nc"
    path.parent.mkdir(parents=True, exist_ok=True)
    encoding = {
        "cbh": {"_FillValue": np.int16(-32768)},
        "time": {"units": "seconds since 1904-01-01 00:00:00", "dtype": "float64"},
    }
    ds.to_netcdf(path, format="NETCDF3_CLASSIC", engine="scipy", encoding=encoding)
    return path


_cb = partial(chm15k, start="2020-10-22 00:10")


def _no_cbh(d: Path) -> Path:
    import xarray as xr

    xr.Dataset({"beta": ("time", np.zeros(3))}).to_netcdf(d / "beta.nc", engine="scipy")
    return d / "beta.nc"


_M, _T5 = "2020-10-22 00:1", "2020-10-22 00:05"
_CHM_SENTINELS = [1070, -1, -32768, -5, 2570]
CHM15K = {
    "zero_byte": (S, "not a netCDF file (empty)", lambda d: zero(_cb(d))),
    "truncated": (S, "cannot open as netCDF", lambda d: truncate(_cb(d), 0.6)),
    "png_in_nc": (S, "not a netCDF file", lambda d: put(_cb(d), A_PNG)),
    "no_cbh_variable": (S, "no variable 'cbh'", _no_cbh),
    "unsorted_times": (S, "is not after", lambda d: _cb(d, times=[_M + "0", _M + "2", _M + "1"])),
    "duplicate_time": (S, "is not after", lambda d: _cb(d, times=[_M + "0", _M + "1", _M + "1"])),
    "no_location": (S, "pass station=", lambda d: _cb(d, location="")),
    # 1070: cloud at 1000 m; -1: no cloud; the fill value and -5: no measurement
    "sentinels": (
        OK,
        "",
        only(lambda d: [chm15k(d, start=_T5, first=_CHM_SENTINELS)], new_cells=3),
    ),
    "unknown_station": (OK, "", only(lambda d: [chm15k(d, "Qqqville", _T5)])),
    "station_order": (OK, "", only(lambda d: [chm15k(d, s, _T5) for s in ("Hornsund", "Andoya")])),
}
