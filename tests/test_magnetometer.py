"""Magnetometer readers: real IAGA-2002 files, the synthetic sample, IMAGE files, bad input."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tame_xr import BadInputError, IngestReport, SkippedInputWarning, Store
from tame_xr.io.magnetometer import read_iaga2002, read_image_magnetometer

BOU = ("bou20141101vmin.min", "bou20141102vmin.min")


@pytest.fixture(scope="module")
def bou(shared_data) -> list[Path]:
    return [shared_data / "magn" / "iaga2002" / name for name in BOU]


@pytest.fixture(scope="module")
def bou_ds(bou):
    return read_iaga2002(bou)


def data_line(path: Path, when: str) -> list[float]:
    """The four values of the data record starting with ``when`` (``YYYY-MM-DD HH:MM``)."""
    for line in path.read_text().splitlines():
        if line.startswith(when):
            return [float(v) for v in line.split()[3:]]
    raise KeyError(when)


def check_model(ds) -> None:
    """The data model of DESIGN §2 for the magnetometer group."""
    assert ds["time"].dtype == np.dtype("datetime64[ns]")
    index = ds.indexes["time"]
    assert index.is_monotonic_increasing and index.is_unique
    for name in ("X", "Y", "Z", "H", "D", "F"):
        var = ds[name]
        assert var.dims == ("time", "station") and var.dtype == np.float32
        assert var.attrs["units"] == ("degree" if name == "D" else "nT")
        assert var.attrs["long_name"]
    assert ds["valid"].dtype == bool
    assert all(s == s.lower() for s in ds["station"].values)
    for coord in ("station_name", "latitude", "longitude", "altitude"):
        assert ds[coord].dims == ("station",)
    for key in ("title", "source", "history", "tame_xr_version", "license", "cadence"):
        assert ds.attrs[key]


# ----------------------------------------------------------------------- real BOU files
def test_bou_two_days(bou_ds, bou):
    ds = bou_ds
    check_model(ds)
    assert list(ds["station"].values) == ["bou"]
    assert ds.sizes["time"] == 2880
    assert ds["time"].values[0] == np.datetime64("2014-11-01T00:00")
    assert ds["time"].values[-1] == np.datetime64("2014-11-02T23:59")
    assert ds.attrs["reported"] == "HDZF" and ds.attrs["cadence"] == "60 s"
    assert ds.attrs["license"].startswith("IAGA-2002 data")
    assert "USGS" in ds.attrs["source"] and ds.attrs["data_type"] == "variation"
    # header metadata (Geodetic Longitude 254.764 east → -105.236), overriding the table
    assert ds["station_name"].item() == "Boulder"
    assert ds["latitude"].item() == pytest.approx(40.137)
    assert ds["longitude"].item() == pytest.approx(254.764 - 360)
    assert ds["altitude"].item() == 1682
    # no missing-value markers in these files: everything is finite
    assert all("99999" not in p.read_text() and "88888" not in p.read_text() for p in bou)
    assert all(np.isfinite(ds[v]).all() for v in ("X", "Y", "Z", "H", "D", "F"))
    assert ds["valid"].all()


@pytest.mark.parametrize("when", ["2014-11-01 00:00", "2014-11-02 23:59"])
def test_bou_hd_converted_by_hand(bou_ds, bou, when):
    h, d_arcmin, z, f = data_line(bou[0] if when.startswith("2014-11-01") else bou[1], when)
    d = math.radians(d_arcmin / 60.0)
    row = bou_ds.sel(station="bou", time=pd.Timestamp(when))
    assert float(row["X"]) == pytest.approx(h * math.cos(d), abs=0.01)
    assert float(row["Y"]) == pytest.approx(h * math.sin(d), abs=0.001)
    assert float(row["Z"]) == pytest.approx(z, abs=0.01)
    assert float(row["F"]) == pytest.approx(f, abs=0.01)
    assert float(row["H"]) == pytest.approx(h, abs=0.01)  # the reported H and D are kept
    assert float(row["D"]) == pytest.approx(d_arcmin / 60.0, abs=1e-6)
    if when == "2014-11-01 00:00":  # 20873.75 nT at -9.99': X 20873.66, Y -60.66
        assert float(row["X"]) == pytest.approx(20873.662, abs=0.01)
        assert float(row["Y"]) == pytest.approx(-60.658, abs=0.01)


def test_bou_lf_line_ends_and_file_order(bou, bou_ds, tmp_path):
    lf = []
    for path in bou[::-1]:
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes().replace(b"\r\n", b"\n"))
        lf.append(copy)
    ds = read_iaga2002(lf)  # LF ends, day 2 given first
    assert ds["X"].equals(bou_ds["X"]) and ds["time"].equals(bou_ds["time"])


def test_stations_argument_overrides_header(bou):
    ds = read_iaga2002(bou[0], stations={"bou": {"name": "B", "latitude": 1.0, "longitude": 2.0}})
    assert ds["station_name"].item() == "B" and ds["longitude"].item() == 2.0


def test_overlapping_files_keep_the_first(bou, tmp_path):
    day1 = bou[0].read_text()
    lines = day1.splitlines()
    header_end = next(i for i, ln in enumerate(lines) if ln.startswith("DATE")) + 1
    # a part-day file 12:00-13:59 of day 1 with other values, read after the full day
    part = lines[:header_end] + [
        ln[:31] + f"{float(ln[31:41]) + 5:10.2f}" + ln[41:]
        for ln in lines[header_end + 720 : header_end + 840]
    ]
    part_path = tmp_path / "bou201411011200vmin.min"
    part_path.write_text("\n".join(part) + "\n")
    report = IngestReport()
    ds = read_iaga2002([bou[0], part_path, bou[0]], report=report)
    assert ds.sizes["time"] == 1440
    expected = read_iaga2002(bou[0])
    assert ds["H"].equals(expected["H"])  # the first file's values were kept
    reasons = {s.path: s.reason for s in report.skipped}
    assert "120 records of station bou" in reasons[str(part_path)]
    assert "values differ" in reasons[str(part_path)]
    assert "1440 records" in reasons[str(bou[0])] and "same values" in reasons[str(bou[0])]
    assert report.added == [str(bou[0])]  # the others gave nothing new
    with pytest.warns(SkippedInputWarning, match="overlapping"):
        read_iaga2002([bou[0], part_path])


# ----------------------------------------------------------------------- synthetic sample
def test_sample_xyzf_crlf_with_sentinels(sample_dir):
    paths = sample_dir["magnetometer"]
    assert b"\r\n" in paths[0].read_bytes()
    ds = read_iaga2002(paths)
    check_model(ds)
    assert list(ds["station"].values) == ["lyr", "nya"]
    assert ds.attrs["reported"] == "XYZF"
    assert ds.sizes["time"] == 1440 * (len(paths) // 2)
    nya = ds.sel(station="nya")
    gap = slice("2014-12-01T10:00", "2014-12-01T10:02")
    for v in ("X", "Y", "Z", "F", "H", "D"):  # 99999.00 in all four columns
        assert nya[v].sel(time=gap).isnull().all()
    assert int(nya["X"].isnull().sum()) == 3
    f_gap = nya.sel(time="2014-12-01T11:40")  # 99999.00 in F only
    assert np.isnan(f_gap["F"]) and np.isfinite(f_gap["X"])
    assert int(nya["F"].isnull().sum()) == 4
    assert ds.sel(station="lyr")[["X", "F"]].notnull().all().to_array().all()
    x, y, z, f = data_line(paths[0], "2014-12-01 05:07")
    row = nya.sel(time="2014-12-01T05:07")
    assert float(row["X"]) == pytest.approx(x, abs=0.01)
    assert float(row["H"]) == pytest.approx(math.hypot(x, y), abs=0.01)
    assert float(row["D"]) == pytest.approx(math.degrees(math.atan2(y, x)), abs=1e-4)
    assert ds["latitude"].sel(station="nya").item() == pytest.approx(78.92)


# ----------------------------------------------------------------------- IAGA variants
def iaga_text(
    rows: list[tuple[str, list[float]]],
    letters: str = "XYZF",
    *,
    code: str = "TST",
    interval: str = "filtered 1-minute (00:15-01:45)",
    reported: str | None = None,
    longitude: str = "350.500",
) -> str:
    """A small IAGA-2002 file (70-character records)."""
    fields = [
        ("Format", "IAGA-2002"),
        ("Source of Data", "tame_xr tests"),
        ("Station Name", "Test Station"),
        ("IAGA CODE", code),
        ("Geodetic Latitude", "60.000"),
        ("Geodetic Longitude", longitude),
        ("Elevation", "12"),
        ("Reported", reported or letters),
        ("Sensor Orientation", "XYZF"),
        ("Digital Sampling", "1 second"),
        ("Data Interval Type", interval),
        ("Data Type", "variation"),
    ]
    out = [f" {k:<23}{v:<45}|" for k, v in fields]
    out.append(f" # {'a comment':<66}|")
    names = "".join(f"{code}{c:<6}" for c in letters)
    out.append(f"{'DATE       TIME         DOY     ' + names:<69}|")
    for stamp, values in rows:
        when = pd.Timestamp(stamp)
        out.append(
            f"{when:%Y-%m-%d %H:%M:%S}.{when.microsecond // 1000:03d} {when.day_of_year:03d}   "
            + "".join(f"{v:10.2f}" for v in values)
        )
    return "\n".join(out) + "\n"


def minutes(n: int, start: str = "2015-03-17 00:00", freq: str = "1min") -> list[str]:
    return [str(t) for t in pd.date_range(start, periods=n, freq=freq)]


def test_dhzg_second_data(tmp_path):
    rows = [(t, [30.0, 15000.0, 50000.0, -1.5]) for t in minutes(5, freq="1s")]
    rows[2] = (rows[2][0], [99999.0, 15000.0, 88888.0, 99999.9])
    path = tmp_path / "tst20150317vsec.sec"
    path.write_text(iaga_text(rows, "DHZG", interval="1-second (00:00-01:00)"))
    ds = read_iaga2002(path)
    check_model(ds)
    assert ds.attrs["cadence"] == "1 s" and ds.attrs["reported"] == "DHZG"
    assert list(ds["station"].values) == ["tst"]
    assert ds["longitude"].item() == pytest.approx(-9.5)
    x = ds["X"].isel(station=0).values
    assert x[0] == pytest.approx(15000.0 * math.cos(math.radians(0.5)))
    assert ds["D"].values[0, 0] == pytest.approx(0.5)
    assert np.isnan(x[2]) and np.isnan(ds["Z"].values[2, 0]) and np.isnan(ds["G"].values[2, 0])
    assert ds["G"].values[0, 0] == -1.5 and ds["G"].attrs["units"] == "nT"
    assert ds["F"].isnull().all()  # G is not F


def test_hdif_gives_z_from_inclination(tmp_path):
    path = tmp_path / "tst.min"
    path.write_text(iaga_text([(minutes(1)[0], [15000.0, 0.0, 60.0 * 70, 48000.0])], "HDIF"))
    ds = read_iaga2002(path)
    assert ds["Z"].values[0, 0] == pytest.approx(15000.0 * math.tan(math.radians(70)), rel=1e-6)


def test_mixed_cadence_is_reported(tmp_path):
    sec = tmp_path / "a.sec"
    sec.write_text(
        iaga_text([(t, [1.0, 2.0, 3.0, 4.0]) for t in minutes(3, freq="1s")], interval="1-second")
    )
    mins = [tmp_path / f"m{i}.min" for i in range(2)]
    for i, p in enumerate(mins):
        p.write_text(
            iaga_text([(t, [1.0, 2.0, 3.0, 4.0]) for t in minutes(3, f"2015-03-1{i} 00:00")])
        )
    report = IngestReport()
    ds = read_iaga2002([sec, *mins], report=report)
    assert ds.attrs["cadence"] == "60 s" and ds.sizes["time"] == 6
    assert [s.path for s in report.skipped] == [str(sec)]
    assert "time step 1 s differs" in report.skipped[0].reason
    with pytest.raises(BadInputError, match="time step"):
        read_iaga2002([sec, *mins])


# ----------------------------------------------------------------------- bad IAGA input
GOOD = [(t, [100.0, 20.0, 50000.0, 50100.0]) for t in minutes(4)]


def _replace_line(text: str, n: int, new: str) -> str:
    lines = text.splitlines()
    lines[n - 1] = new
    return "\n".join(lines) + "\n"


HEADER_LINES = 14  # 12 header records, one comment, the column header
BROKEN = {
    "truncated": (
        lambda: _replace_line(iaga_text(GOOD), 16, "2015-03-17 00:01:00.000 076     100.00  20."),
        "line 16: truncated data line",
    ),
    "columns": (
        lambda: _replace_line(
            iaga_text(GOOD), 17, "2015-03-17 00:02:00.000 076 1.0 2.0 3.0 4.0 5.0"
        ),
        "line 17: wrong column count",
    ),
    "garbage": (
        lambda: _replace_line(iaga_text(GOOD), 18, "2015-03-17 00:03:00.000 076 1.0 abc 3.0 4.0"),
        "line 18: 'abc' is not a number",
    ),
    "bad time": (
        lambda: _replace_line(iaga_text(GOOD), 15, "2015-13-17 00:00:00.000 076 1 2 3 4"),
        "line 15: .* not a valid date",
    ),
    "no data": (lambda: iaga_text([]), "line 14: header without any data lines"),
    "not iaga": (lambda: "time,x,y,z\n2015-03-17,1,2,3\n", "line 1: .*not an IAGA-2002 file"),
    "no column header": (
        lambda: "\n".join(iaga_text(GOOD).splitlines()[:12]) + "\n",
        "no column header line",
    ),
    "format": (
        lambda: iaga_text(GOOD).replace("IAGA-2002 ", "IAGA-1999 ", 1),
        "line 1: Format 'IAGA-1999' is not IAGA-2002",
    ),
    "components": (lambda: iaga_text(GOOD, "ABCF"), "line 14: unknown reported components"),
    "E and V": (lambda: iaga_text(GOOD, "HEZF"), "unknown reported components 'HEZF'.*E and V"),
    "reported": (
        lambda: iaga_text(GOOD, "XYZF", reported="HDZF"),
        "line 8: Reported 'HDZF' disagrees",
    ),
    "duplicate": (
        lambda: iaga_text(GOOD[:2] + GOOD[1:]),
        "line 17: time 2015-03-17 00:01:00 repeats line 16",
    ),
    "order": (
        lambda: iaga_text([GOOD[0], GOOD[2], GOOD[1], GOOD[3]]),
        "line 17: time 2015-03-17 00:01:00 is earlier",
    ),
    "binary": (lambda: "\x00\x01PNG", "binary file"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_bad_iaga_files(case, tmp_path):
    make, message = BROKEN[case]
    bad = tmp_path / "bad.min"
    bad.write_text(make())
    with pytest.raises(BadInputError, match=message) as info:
        read_iaga2002(bad)
    assert info.value.path == str(bad) and str(bad) in str(info.value)
    good = tmp_path / "good.min"
    good.write_text(iaga_text(GOOD))
    report = IngestReport()
    ds = read_iaga2002([bad, good], report=report)
    assert ds.sizes["time"] == 4 and report.added == [str(good)]
    assert [s.path for s in report.skipped] == [str(bad)]
    with pytest.raises(ValueError, match="no usable magnetometer files"):
        read_iaga2002([bad], report=IngestReport())


def test_hour_24_is_next_midnight(tmp_path):
    path = tmp_path / "t.min"
    text = iaga_text([("2015-03-17 23:59", [1.0, 2.0, 3.0, 4.0]), ("2015-03-18", [1, 2, 3, 4])])
    path.write_text(text.replace("2015-03-18 00:00:00.000", "2015-03-17 24:00:00.000"))
    ds = read_iaga2002(path)
    assert ds["time"].values[-1] == np.datetime64("2015-03-18T00:00")


# ----------------------------------------------------------------------- IMAGE files
def write_image_file(
    path: Path,
    times: pd.DatetimeIndex,
    data: dict[tuple[str, str], np.ndarray],
    *,
    fixed: bool = True,
) -> Path:
    """An IMAGE-network text file: header row, dashed separator, one row per time.

    ``fixed``: TAME's fixed widths (4, 3, 3, 3, 3, 3, then 11 and 8 per value, so that a
    value like -12345.6 touches its neighbour); otherwise values separated by two blanks.
    """
    labels = list(data)
    if fixed:
        head = "YYYY MM DD HH MM SS" + "".join(
            f"{s} {c}".rjust(11 if k == 0 else 8) for k, (s, c) in enumerate(labels)
        )
    else:
        head = "YYYY MM DD HH MM SS  " + "  ".join(f"{s} {c}" for s, c in labels)
    out = ["IMAGE magnetometer network (test file)", head, "-" * len(head)]
    for i, t in enumerate(times):
        stamp = f"{t.year:4d} {t.month:02d} {t.day:02d} {t.hour:02d} {t.minute:02d} {t.second:02d}"
        values = [data[label][i] for label in labels]
        if fixed:
            row = stamp + "".join(f"{v:{11 if k == 0 else 8}.1f}" for k, v in enumerate(values))
        else:
            row = stamp + "  " + "  ".join(f"{v:.1f}" for v in values)
        out.append(row)
    path.write_bytes(("\r\n".join(out) + "\r\n").encode("ascii"))
    return path


def image_data(times, stations=("NAL", "LYR", "HOR"), seed=0):
    rng = np.random.default_rng(seed)
    data = {}
    for k, s in enumerate(stations):
        base = {"X": 8000.0 + 100 * k, "Y": -12345.6 if s == "LYR" else 400.0, "Z": 52000.0}
        for c in "XYZ":
            data[(s, c)] = np.round(base[c] + rng.normal(0, 5, len(times)), 1)
    return data


@pytest.mark.parametrize("fixed", [True, False])
def test_image_files_multi_station(tmp_path, fixed):
    t1 = pd.date_range("2014-12-01 17:00", periods=30, freq="10s")
    t2 = pd.date_range("2014-12-01 17:05", periods=30, freq="10s")
    d1, d2 = image_data(t1), image_data(t2, ("NAL", "LYR"), seed=1)
    d1[("NAL", "Z")][3] = 99999.9
    d1[("LYR", "Y")][4] = -12345.6  # fills its 8-character field
    f1 = write_image_file(tmp_path / "a.txt", t1, d1, fixed=fixed)
    f2 = write_image_file(tmp_path / "b.txt", t2, d2, fixed=fixed)
    report = IngestReport()
    ds = read_image_magnetometer([f1, f2], report=report)
    check_model(ds)
    assert list(ds["station"].values) == ["hor", "lyr", "nal"]
    assert ds.attrs["cadence"] == "10 s" and ds.attrs["reported"] == "XYZ"
    assert ds.sizes["time"] == 60  # 17:00:00 .. 17:09:50
    nal = ds.sel(station="nal")
    assert np.isnan(nal["Z"].values[3]) and np.isfinite(nal["X"].values[3])
    np.testing.assert_allclose(nal["X"].values[:30], d1[("NAL", "X")], atol=0.01)
    np.testing.assert_allclose(ds.sel(station="lyr")["Y"].values[30:], d2[("LYR", "Y")], atol=0.01)
    assert ds.sel(station="lyr")["Y"].values[4] == pytest.approx(-12345.6)
    assert ds.sel(station="hor")["X"].isel(time=slice(30, None)).isnull().all()
    assert not ds["valid"].sel(station="hor").values[30:].any()
    assert ds["F"].isnull().all()
    assert ds["latitude"].sel(station="nal").item() == pytest.approx(78.92)  # built-in table
    assert report.ok and report.added == [str(f1), str(f2)]


IMAGE_BROKEN = {
    "no header": ("2014 12 01 00 00 00 1.0 2.0 3.0\n", "no header row"),
    "label": ("YYYY MM DD HH MM SS NAL X NAL F\n2014 12 01 00 00 00 1 2\n", "line 1: cannot read"),
    "truncated": (
        "YYYY MM DD HH MM SS NAL X NAL Y NAL Z\n---\n2014 12 01 00 00 00 1.0 2.0\n",
        "line 3: truncated data line",
    ),
    "garbage": (
        "YYYY MM DD HH MM SS NAL X NAL Y NAL Z\n2014 12 01 00 00 00 1.0 abc 3.0\n",
        "line 2: 'abc' is not a number",
    ),
    "no data": ("YYYY MM DD HH MM SS NAL X NAL Y NAL Z\n-----\n", "line 1: header without"),
    "duplicate": (
        "YYYY MM DD HH MM SS NAL X\n2014 12 01 00 00 00 1.0\n2014 12 01 00 00 00 2.0\n",
        "line 3: time 2014-12-01 00:00:00 repeats line 2",
    ),
    "bad date": ("YYYY MM DD HH MM SS NAL X\n2014 02 30 00 00 00 1.0\n", "line 2: not a valid"),
}


@pytest.mark.parametrize("case", sorted(IMAGE_BROKEN))
def test_bad_image_files(case, tmp_path):
    text, message = IMAGE_BROKEN[case]
    bad = tmp_path / "bad.txt"
    bad.write_text(text)
    with pytest.raises(BadInputError, match=message):
        read_image_magnetometer(bad)
    t = pd.date_range("2014-12-01", periods=3, freq="10s")
    good = write_image_file(tmp_path / "good.txt", t, image_data(t, ("NAL",)))
    report = IngestReport()
    assert read_image_magnetometer([bad, good], report=report).sizes["time"] == 3
    assert [s.path for s in report.skipped] == [str(bad)]


# ----------------------------------------------------------------------- store round trip
def test_store_day_by_day(bou, bou_ds, tmp_path):
    store = Store(tmp_path / "store.zarr")
    day1, day2 = read_iaga2002(bou[0]), read_iaga2002(bou[1])
    assert set(day1.data_vars) == set(day2.data_vars)
    assert all(day1[v].dtype == day2[v].dtype for v in day1.variables)
    assert store.write(day1, "magnetometer")["mode"] == "created"
    assert store.write(day2, "magnetometer")["mode"] == "appended"
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkippedInputWarning)
        assert store.write(read_iaga2002(bou[0]), "magnetometer")["mode"] == "unchanged"
    stored = store.open("magnetometer").load()
    assert stored.sizes["time"] == 2880 and list(stored["station"].values) == ["bou"]
    for name in ("X", "Y", "Z", "H", "D", "F"):
        np.testing.assert_array_equal(stored[name].values, bou_ds[name].values)
        assert stored[name].dtype == np.float32
    assert stored["longitude"].item() == pytest.approx(-105.236)
    assert stored.attrs["reported"] == "HDZF"


def test_store_other_stations_leave_bou_alone(bou, sample_dir, tmp_path):
    store = Store(tmp_path / "store.zarr")
    store.write(read_iaga2002(bou), "magnetometer")
    sample = read_iaga2002(sample_dir["magnetometer"])  # nya, lyr in December: XYZF
    assert set(sample.data_vars) == {"X", "Y", "Z", "H", "D", "F", "valid"}
    store.write(sample, "magnetometer")
    stored = store.open("magnetometer").load()
    assert list(stored["station"].values) == ["bou", "lyr", "nya"]
    assert stored.sizes["time"] == 2880 + sample.sizes["time"]
    nov = stored.sel(time=slice("2014-11-01", "2014-11-02"))
    np.testing.assert_array_equal(nov["X"].sel(station="bou"), read_iaga2002(bou)["X"][:, 0])
    assert nov["X"].sel(station="nya").isnull().all()
    dec = stored.sel(time=sample["time"], station=["lyr", "nya"])
    np.testing.assert_array_equal(dec["X"].values, sample["X"].values)
    assert dec["latitude"].sel(station="nya").item() == pytest.approx(78.92)
