"""Ceilometer readers: PANGAEA tab files and Lufft CHM15k netCDF → cbh(time, station)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from tame_xr.io.ceilometer import read_chm15k, read_pangaea_ceilometer
from tame_xr.report import BadInputError, IngestReport, SkippedInputWarning
from tame_xr.store import Store

CHM15K = "ceil/chm15k/00100_A202010220005_CHM170137.nc"
HEADER = (
    "/* DATA DESCRIPTION:\n"
    "Citation:\tSomeone (2020): Ceilometer test data.\n"
    "\tPANGAEA, https://doi.org/10.1594/PANGAEA.000000\n"
    "Event(s):\tNYA_ceilometer * LATITUDE: 78.925000 * LONGITUDE: 11.930000 * "
    "ELEVATION: 11.0 m * LOCATION: Ny-Alesund, Spitsbergen\n"
    "License:\tCreative Commons Attribution 4.0 International (CC-BY-4.0)\n"
    "*/\n"
)  # 6 lines: the table header row is line 7, the first data row line 8


def tab(path: Path, body: str, header: str = HEADER) -> Path:
    path.write_text(header + body, encoding="utf-8")
    return path


GOOD = "Date/Time\tCBH [m]\n2014-12-01T00:00\t500\n2014-12-01T00:01\t\n2014-12-01T00:02\t730\n"


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> dict:
    from tame_xr.sample import write_sample

    return write_sample(tmp_path_factory.mktemp("ceil"), nights=1, image_size=32, oath_per_class=1)


@pytest.fixture(scope="module")
def sample_ds(sample) -> xr.Dataset:
    return read_pangaea_ceilometer(sample["ceilometer"])


# ---------------------------------------------------------------------- CHM15k
def test_chm15k_real_file(shared_data):
    ds = read_chm15k(shared_data / CHM15K)
    assert dict(ds.sizes) == {"time": 10, "station": 1}
    assert list(ds.station.values) == ["magurele"]
    assert ds.station_name.item() == "Magurele"
    assert ds.time.dtype == "datetime64[ns]" and ds.indexes["time"].is_monotonic_increasing
    # seconds since 1904-01-01 (the CHM15k epoch), 30 s records
    assert ds.time.values[0] == np.datetime64("2020-10-22T00:05:15")
    assert ds.time.values[-1] == np.datetime64("2020-10-22T00:09:45")
    assert ds.attrs["cadence"] == "30 s"
    # every cbh is -1 in the file: measured, no cloud
    assert ds.valid.all() and not ds.cloud_detected.any() and ds.cbh.isnull().all()
    assert ds.cbh.dtype == np.float32 and ds.cbh.attrs["units"] == "m"
    assert "standard_name" not in ds.cbh.attrs
    assert ds.altitude.item() == 70.0
    assert ds.latitude.item() == pytest.approx(0.443448)  # as written in the file
    assert "CHM170137" in ds.attrs["source"]
    for name in ("title", "source", "history", "tame_xr_version", "license"):
        assert ds.attrs[name]


def _chm_copy(shared_data: Path, path: Path, first_layer: list[int]) -> Path:
    """The real file with new layer-0 cbh values (int16, _FillValue -32768)."""
    with xr.open_dataset(
        shared_data / CHM15K, decode_times=False, mask_and_scale=False, engine="netcdf4"
    ) as nc:
        ds = nc[["cbh", "cho", "latitude", "longitude", "altitude"]].load()
    cbh = ds.cbh.values.copy()
    cbh[:, 0] = first_layer
    ds["cbh"] = ds.cbh.copy(data=cbh)
    ds.to_netcdf(
        path,
        engine="netcdf4",
        format="NETCDF3_CLASSIC",
        encoding={"cbh": {"_FillValue": np.int16(-32768)}},
    )
    return path


def test_chm15k_values_sentinels_and_offset(shared_data, tmp_path):
    values = [1070, -1, -32768, -5, 2570, -1, 1070, 1070, 1070, 1070]
    path = _chm_copy(shared_data, tmp_path / "chm.nc", values)
    ds = read_chm15k(path, station="BUC").isel(station=0)
    assert ds.station.item() == "buc"
    # cho = 70 m is subtracted: heights above the instrument
    np.testing.assert_array_equal(ds.cbh.values[[0, 4]], [1000.0, 2500.0])
    np.testing.assert_array_equal(ds.valid.values[:6], [True, True, False, False, True, True])
    np.testing.assert_array_equal(ds.cloud_detected.values[:6], [1, 0, 0, 0, 1, 0])
    assert ds.cbh[[1, 2, 3, 5]].isnull().all()
    raw = read_chm15k(path, above_instrument=False).isel(station=0)
    assert raw.cbh.values[0] == 1070.0


def test_chm15k_without_cbh(shared_data, tmp_path):
    xr.Dataset({"beta": ("time", np.zeros(3))}).to_netcdf(tmp_path / "no_cbh.nc")
    with pytest.raises(BadInputError, match="no_cbh.nc: no variable 'cbh'"):
        read_chm15k(tmp_path / "no_cbh.nc")
    (tmp_path / "empty.nc").write_bytes(b"")
    report = IngestReport()
    files = [tmp_path / "no_cbh.nc", tmp_path / "empty.nc", shared_data / CHM15K]
    ds = read_chm15k(files, report=report)
    assert ds.sizes["time"] == 10
    assert [Path(s.path).name for s in report.skipped] == ["no_cbh.nc", "empty.nc"]
    assert "not a netCDF file" in report.skipped[1].reason


# ---------------------------------------------------------------------- PANGAEA
def test_sample_no_cloud_vs_no_measurement(sample, sample_ds):
    ds = sample_ds
    assert list(ds.station.values) == ["lyr", "nya"]
    assert ds.attrs["cadence"] == "60 s" and "CC0" in ds.attrs["license"]
    assert "SYNTHETIC" in ds.attrs["citation"]
    assert ds.latitude.sel(station="nya").item() == 78.92  # from the file
    for path in sample["ceilometer"]:
        lines = path.read_text().splitlines()
        rows = lines[lines.index("Date/Time\tCBH [m]") + 1 :]
        code = path.name.split("_")[0]
        st = ds.sel(station=code)
        written = pd.DatetimeIndex([r.split("\t")[0] for r in rows])
        empty = pd.DatetimeIndex([r.split("\t")[0] for r in rows if r.endswith("\t")])
        gap = ds.indexes["time"].difference(written)
        assert 30 <= gap.size <= 60  # the file's stretch without rows: no measurement
        g = st.sel(time=gap)
        assert not g.valid.any() and not g.cloud_detected.any() and g.cbh.isnull().all()
        e = st.sel(time=empty)  # empty CBH: measured, no cloud
        assert e.valid.all() and not e.cloud_detected.any() and e.cbh.isnull().all()
        c = st.sel(time=written.difference(empty))
        assert c.valid.all() and c.cloud_detected.all() and (c.cbh > 0).all()


def test_sample_low_cloud_when_truth_is_cloudy(sample, sample_ds):
    truth = pd.read_csv(sample["truth"][0], parse_dates=["time"])
    for code, rows in truth.groupby("station"):
        st = sample_ds.sel(station=code, time=rows.time.values)
        measured = st.valid.values
        cloudy = rows.cloudy.values.astype(bool)
        assert (cloudy & measured).sum() > 10
        assert st.cloud_detected.values[cloudy & measured].all()
        assert (st.cbh.values[cloudy & measured] <= 1500).all()
        clear = st.cbh.values[~cloudy & measured]
        assert (np.isnan(clear) | (clear >= 3000)).all()  # none or high thin cloud


def test_pangaea_tolerant_layout(tmp_path):
    body = (
        "Height [m]\tCBH [m]\tDate/Time\tFlag\r\n"
        "5\t1200\t2014-12-01T00:00:00\tok\r\n"
        "5\t\t2014-12-01T00:00:30\tok\r\n"
    )
    path = tab(tmp_path / "download.tab", body)
    ds = read_pangaea_ceilometer(path)  # station from the Event label
    assert list(ds.station.values) == ["nya"]
    np.testing.assert_array_equal(ds.cbh.values[:, 0], [1200, np.nan])
    assert ds.station_name.item() == "Ny-Alesund, Spitsbergen"
    assert ds.altitude.item() == 11.0 and ds.latitude.item() == 78.925
    assert "PANGAEA.000000" in ds.attrs["citation"] and "CC-BY-4.0" in ds.attrs["license"]
    assert read_pangaea_ceilometer(path, station="LYR").station.item() == "lyr"
    bare = tab(tmp_path / "lyr_ceil.tab", GOOD, header="")  # no metadata block
    ds = read_pangaea_ceilometer(bare)
    assert ds.station.item() == "lyr" and ds.attrs["license"] == "see the data provider"
    (tmp_path / "README.md").write_text("not a table")  # a folder: only .tab/.txt/.tsv
    assert list(read_pangaea_ceilometer(tmp_path).station.values) == ["lyr", "nya"]


BAD = {
    "truncated": (GOOD + "2014-12-01T00:03\n", "line 11: 1 columns, the header has 2 (truncated"),
    "columns": (GOOD + "2014-12-01T00:03\t500\t1\n", "line 11: 3 columns"),
    "garbage": (GOOD + "2014-12-01T00:03\tabc\n", "line 11: CBH 'abc' is not a number"),
    "negative": (GOOD + "2014-12-01T00:03\t-5\n", "line 11: negative CBH -5"),
    "time": (GOOD + "2014-13-45T00:03\t500\n", "line 11: time '2014-13-45T00:03' is not"),
    "order": (GOOD + "2014-12-01T00:01\t500\n", "line 11: time 2014-12-01T00:01:00 is not after"),
    "repeat": (GOOD + "2014-12-01T00:02\t500\n", "line 11: time 2014-12-01T00:02:00 is not after"),
    "noheader": (GOOD.split("\n", 1)[1], "line 7: no header row with 'Date/Time'"),
    "noend": ("Citation:\tx\n" + GOOD, "line 1: the '/*' metadata block has no end"),
    "empty": ("\n  \n", "empty file"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_pangaea_bad_input(tmp_path, case):
    body, message = BAD[case]
    header = "/* DATA DESCRIPTION:\n" if case == "noend" else HEADER
    bad = tab(tmp_path / "nya_bad.tab", body, header="" if case == "empty" else header)
    with pytest.raises(BadInputError, match=re.escape(f"nya_bad.tab: {message}")):
        read_pangaea_ceilometer(bad)
    good = tab(tmp_path / "nya_good.tab", GOOD)
    report = IngestReport()
    ds = read_pangaea_ceilometer([bad, good], report=report)
    assert ds.sizes["time"] == 3 and int(ds.valid.sum()) == 3
    assert [s.path for s in report.skipped] == [str(bad)]
    assert report.added == [str(good)]


def _split(path: Path, out: Path, start: str, end: str) -> Path:
    """Rows of ``path`` with start <= time < end, under the same header."""
    lines = path.read_text().splitlines()
    h = lines.index("Date/Time\tCBH [m]") + 1
    rows = [r for r in lines[h:] if start <= r.split("\t")[0] < end]
    out.write_text("\n".join(lines[:h] + rows) + "\n")
    return out


def test_overlapping_files_keep_first(sample, sample_ds, tmp_path):
    nya = sample["ceilometer"][0]
    a = _split(nya, tmp_path / "nya_a.tab", "2014-12-01T00", "2014-12-01T12:10")
    b = _split(nya, tmp_path / "nya_b.tab", "2014-12-01T12", "2014-12-03")
    report = IngestReport()
    ds = read_pangaea_ceilometer([a, b], report=report)
    xr.testing.assert_identical(ds.drop_attrs(), sample_ds.sel(station=["nya"]).drop_attrs())
    (entry,) = report.skipped
    assert entry.path == str(b) and str(a) in entry.reason
    assert entry.reason.startswith("10 times (2014-12-01T12:00:00 to 2014-12-01T12:09:00)")
    with pytest.warns(SkippedInputWarning, match="nya_b.tab"):
        read_pangaea_ceilometer([a, b])


def test_store_round_trip(sample, sample_ds, tmp_path):
    nya, lyr = sample["ceilometer"]
    a = _split(nya, tmp_path / "nya_a.tab", "2014-12-01T00", "2014-12-01T20")
    b = _split(nya, tmp_path / "nya_b.tab", "2014-12-01T20", "2014-12-03")
    store = Store(tmp_path / "store.zarr")
    assert store.write(read_pangaea_ceilometer(a), "ceilometer")["mode"] == "created"
    second = read_pangaea_ceilometer([b, lyr])
    assert store.write(second, "ceilometer")["mode"] in ("appended", "rebuilt")
    stored = store.open("ceilometer").load().sortby("station")
    for name in ("cbh", "cloud_detected", "valid", "latitude", "station_name"):
        xr.testing.assert_identical(
            stored[name].drop_attrs(), sample_ds[name].sortby("station").drop_attrs()
        )
    assert store.write(second, "ceilometer")["mode"] == "unchanged"
    xr.testing.assert_identical(store.open("ceilometer").load().sortby("station"), stored)
