"""tame_xr.ingest: files → store, reports, idempotence, real files."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import write_png

import tame_xr
from tame_xr.io.images import read_images


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_ingest_uio_then_reingest_changes_nothing(uio_files, tmp_path):
    store = tame_xr.Store(tmp_path / "s.zarr")
    report = tame_xr.ingest("images", uio_files, store)
    assert report.ok and len(report.added) == 12 and report.group == "asim/5577"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stored = xr.open_zarr(store.path, group="asim/5577").load()
    expected = read_images(uio_files).load()
    np.testing.assert_array_equal(stored["image"].values, expected["image"].values)
    np.testing.assert_array_equal(stored["exposure_time"].values, expected["exposure_time"].values)
    assert stored["image"].encoding["chunks"] == (64, 1, 24, 20)
    before = snapshot(store.path)
    again = tame_xr.ingest("images", uio_files, store)
    assert again.added == [] and len(again.unchanged) == 12
    assert snapshot(store.path) == before


def test_ingest_reports_decode_failures_and_keeps_good_files(uio_files, tmp_path):
    broken = uio_files[2]
    data = bytearray(broken.read_bytes())
    start = data.index(b"IDAT") + 8
    data[start : start + 40] = b"\x00" * 40
    broken.write_bytes(bytes(data))
    (broken.parent / "lyr6_20141201_175900_5577_cal.png").write_bytes(b"")
    store = tame_xr.Store(tmp_path / "s.zarr")
    with pytest.warns(tame_xr.SkippedInputWarning, match="2 inputs skipped"):
        report = tame_xr.ingest("images", uio_files[0].parent, store)
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert "cannot decode" in reasons[broken.name]
    assert "0 bytes" in reasons["lyr6_20141201_175900_5577_cal.png"]
    assert len(report.added) == 11
    ds = store.open("asim/5577")
    assert int(ds["valid"].sum()) == 11
    # the broken cell is invalid and its exposure time missing, the rest of its row is kept
    cell = ds.sel(station="nya").isel(time=2)
    assert not bool(cell["valid"]) and np.isnat(cell["exposure_time"].values)


def test_ingest_appends_later_night_and_new_station(uio_files, tmp_path):
    store = tame_xr.Store(tmp_path / "s.zarr")
    tame_xr.ingest("images", uio_files[:6], store)  # nya only
    later = [
        write_png(
            tmp_path / "late" / f"hor6_20141202_0100{s:02d}_5577_cal.png",
            np.full((24, 20), s, np.uint8),
        )
        for s in (1, 2)
    ]
    with pytest.warns(tame_xr.SkippedInputWarning, match="duplicate: grid cell"):
        report = tame_xr.ingest("images", uio_files[6:] + later, store)
    assert len(report.skipped) == 1  # the second hor file falls in the same minute
    ds = store.open("asim/5577")
    assert sorted(ds["station"].values) == ["hor", "lyr", "nya"]
    assert int(ds["valid"].sum()) == 13
    assert ds.indexes["time"].is_monotonic_increasing


def test_ingest_several_wavelengths_make_groups(uio_files, tmp_path):
    write_png(uio_files[0].parent / "nya6_20141201_170000_6300_cal.png", np.ones((8, 8), np.uint8))
    store = tame_xr.Store(tmp_path / "s.zarr")
    report = tame_xr.ingest("images", uio_files[0].parent, store)
    assert report.ok, report.summary()
    assert store.groups() == ["asim/5577", "asim/6300"]


def test_size_mismatch_with_store_is_skipped(uio_files, tmp_path):
    store = tame_xr.Store(tmp_path / "s.zarr")
    tame_xr.ingest("images", uio_files, store)
    other = write_png(
        tmp_path / "x" / "nya6_20141203_000000_5577_cal.png", np.ones((30, 30), np.uint8)
    )
    before = snapshot(store.path)
    with pytest.warns(tame_xr.SkippedInputWarning, match="differs from the product"):
        report = tame_xr.ingest("images", [other], store)
    assert "differs from the product" in report.skipped[0].reason
    assert snapshot(store.path) == before


def test_ingest_real_kho_and_trex_with_patterns(shared_data, tmp_path):
    store = tame_xr.Store(tmp_path / "s.zarr")
    kho = tame_xr.ingest(
        "images",
        shared_data / "asim" / "kho",
        store,
        pattern="{station}-Sony-{%y%m%d}_{%H%M%S}.jpg",
        product="kho_sony",
    )
    trex = tame_xr.ingest(
        "images",
        shared_data / "asim" / "trex",
        store,
        pattern="{%Y%m%d}_{%H%M%S}_{%f}_{station}_{*}.png",
        product="trex_rgb",
    )
    assert kho.ok and trex.ok
    assert store.groups() == ["asim/kho_sony", "asim/trex_rgb"]
    ds = xr.open_zarr(store.path, group="asim/trex_rgb")
    assert ds["image"].shape == (1, 1, 480, 553, 3)


def test_ingest_oath_mini(shared_data, tmp_path):
    store = tame_xr.Store(tmp_path / "s.zarr")
    with pytest.warns(tame_xr.SkippedInputWarning, match="image file missing"):
        report = tame_xr.ingest("oath", shared_data / "oath_mini", store)
    assert len(report.added) == 10 and len(report.skipped) == 5814
    assert all("missing" in s.reason for s in report.skipped)
    ds = xr.open_zarr(store.path, group="oath")
    assert ds.sizes["sample"] == 10
    assert "CC BY 4.0" in ds.attrs["license"]


def test_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match="unknown kind"):
        tame_xr.ingest("radar", [], tmp_path / "s.zarr")


def test_ingest_real_themis(shared_data, tmp_path):
    store = tame_xr.Store(tmp_path / "s.zarr")
    report = tame_xr.ingest("themis", shared_data / "asim" / "themis_pgm", store)
    assert report.ok
    ds = xr.open_zarr(store.path, group="asim/themis")
    assert ds.sizes["time"] == 40 and ds["image"].dtype == np.uint16


def test_ingest_generated_sample_matches_truth(tmp_path):
    import pandas as pd

    from tame_xr.sample import write_sample

    paths = write_sample(tmp_path / "sample", seed=3, nights=1, image_size=48, oath_per_class=2)
    truth = pd.read_csv(paths["truth"][0], parse_dates=["time", "exposure_time"])
    store = tame_xr.Store(tmp_path / "s.zarr")
    report = tame_xr.ingest("images", paths["asim"], store)
    assert report.ok and len(report.added) == len(truth)
    ds = store.open("asim/5577").load()
    assert sorted(ds["station"].values) == sorted(truth["station"].unique())
    for row in truth.sample(40, random_state=0).itertuples():
        cell = ds.sel(time=row.time, station=row.station)
        assert (
            bool(cell["valid"])
            and cell["exposure_time"].values == row.exposure_time.to_datetime64()
        )
    # the gap the generator leaves is a gap in the store, not a silent fill
    assert int(ds["valid"].sum()) == len(truth) < ds["valid"].size
    oath = tame_xr.ingest("oath", paths["oath"][0], store)
    assert oath.ok and store.open("oath").sizes["sample"] == 12


def test_ingest_real_iaga2002(shared_data, tmp_path):
    store = tame_xr.Store(tmp_path / "s.zarr")
    report = tame_xr.ingest("iaga2002", shared_data / "magn" / "iaga2002", store)
    assert report.ok and report.group == "magnetometer"
    ds = xr.open_zarr(store.path, group="magnetometer")
    assert ds.sizes["time"] == 2880 and list(ds["station"].values) == ["bou"]
    assert ds["X"].attrs["units"] == "nT"


def test_ingest_real_chm15k(shared_data, tmp_path):
    store = tame_xr.Store(tmp_path / "s.zarr")
    report = tame_xr.ingest("chm15k", shared_data / "ceil" / "chm15k", store)
    assert report.ok and report.group == "ceilometer"
    ds = store.open("ceilometer")
    assert ds.sizes["time"] == 10 and bool(ds["valid"].all())
    assert not bool(ds["cloud_detected"].any())  # the file has no cloud: -1 is "no cloud"
