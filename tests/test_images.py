"""All-sky image reading: name patterns, real KHO/TREx files, grid rules, bad files."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import write_png
from PIL import Image

from tame_xr.io.images import read_images, scan_images
from tame_xr.io.patterns import FilenamePattern
from tame_xr.report import IngestReport, SkippedInputWarning

KHO = "{station}-Sony-{%y%m%d}_{%H%M%S}.jpg"
TREX = "{%Y%m%d}_{%H%M%S}_{%f}_{station}_{*}.png"


def test_uio_pattern_fields():
    when, fields = FilenamePattern.compile(
        "{station}_{%Y%m%d}_{%H%M%S}_{wavelength}_cal.png"
    ).parse("nya6_20141018_174307_5577_cal.png")
    assert when == pd.Timestamp("2014-10-18T17:43:07")
    assert fields == {"station": "nya6", "wavelength": "5577"}
    assert FilenamePattern.compile(TREX).parse("x.png") is None
    with pytest.raises(ValueError, match="no time field"):
        FilenamePattern.compile("{station}.png")
    with pytest.raises(ValueError, match="unsupported directive"):
        FilenamePattern.compile("{%Q}.png")


def test_kho_real_files(shared_data):
    ds = read_images(shared_data / "asim" / "kho" / "*.jpg", KHO, product="sony")
    assert list(ds["station"].values) == ["lyr"]
    assert ds["image"].dims == ("time", "station", "y", "x", "channel")
    assert ds["image"].shape == (2, 1, 2832, 2832, 3) and ds["image"].dtype == np.uint8
    assert list(ds["exposure_time"].values[:, 0]) == [
        np.datetime64("2011-12-20T20:09:33"),
        np.datetime64("2021-11-21T17:07:51"),
    ]
    assert list(ds["time"].values) == [
        np.datetime64("2011-12-20T20:09"),
        np.datetime64("2021-11-21T17:07"),
    ]
    assert float(ds["latitude"][0]) == pytest.approx(78.1478)
    assert ds.attrs["product"] == "sony" and ds.attrs["cadence"] == "60 s"


def test_trex_real_file_keeps_microseconds(shared_data):
    ds = read_images(shared_data / "asim" / "trex" / "*.png", TREX, product="trex_rgb")
    assert list(ds["station"].values) == ["gill"]
    assert ds["exposure_time"].values[0, 0] == np.datetime64("2021-10-30T06:05:00.149606")
    image = ds["image"].isel(time=0, station=0).values
    with Image.open(next((shared_data / "asim" / "trex").glob("*.png"))) as img:
        expected = np.asarray(img.convert("RGB"))
    np.testing.assert_array_equal(image, expected)


def test_uio_lazy_read_matches_files(uio_files):
    ds = read_images(uio_files)
    assert ds.attrs["product"] == "5577"
    assert ds.sizes == {"time": 6, "station": 2, "y": 24, "x": 20}
    assert ds["image"].chunks is not None  # lazy
    assert ds["valid"].all()
    nya = ds.sel(station="nya")
    for path in [p for p in uio_files if p.name.startswith("nya6")]:
        exposure = pd.to_datetime(path.name[5:20], format="%Y%m%d_%H%M%S")
        i = int(np.flatnonzero(nya["exposure_time"].values == exposure.to_datetime64())[0])
        assert nya["time"].values[i] == exposure.floor("1min").to_datetime64()
        np.testing.assert_array_equal(nya["image"][i].values, np.asarray(Image.open(path)))


def test_sixteen_bit_gray(tmp_path):
    image = (np.arange(30 * 30, dtype=np.uint16).reshape(30, 30) * 70).astype(np.uint16)
    write_png(tmp_path / "hor1_20150101_000005_6300_cal.png", image)
    ds = read_images(tmp_path)
    assert ds["image"].dtype == np.uint16
    np.testing.assert_array_equal(ds["image"][0, 0].values, image)
    assert list(ds["station"].values) == ["hor"]


def _copy(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)
    return dst


def test_bad_files_are_reported_with_reasons(uio_files, tmp_path):
    folder = uio_files[0].parent
    good = uio_files[0]
    (folder / "nya6_20141201_180000_5577_cal.png").write_bytes(b"")
    (folder / "nya6_20141201_180100_5577_cal.png").write_text("this is text, not a PNG")
    data = good.read_bytes()
    (folder / "nya6_20141201_180200_5577_cal.png").write_bytes(data[: len(data) // 2])
    (folder / "nya6_2014-12-01_180300.png").write_bytes(data)
    (folder / "nya6_20141301_180400_5577_cal.png").write_bytes(data)  # month 13
    dup = _copy(good, tmp_path / "other" / good.name)  # same station and exposure time
    same_minute = good.name[:18] + "59" + good.name[20:]  # later exposure in the same minute
    _copy(good, folder / same_minute)
    write_png(folder / "lyr6_20141201_181000_5577_cal.png", np.zeros((10, 10), np.uint8))
    report = IngestReport()
    ds = read_images([folder, dup], report=report)
    reasons = {
        p.split("/")[-1] + ("@other" if "/other/" in p else ""): r
        for p, r in ((s.path, s.reason) for s in report.skipped)
    }
    assert "0 bytes" in reasons["nya6_20141201_180000_5577_cal.png"]
    assert "not an image" in reasons["nya6_20141201_180100_5577_cal.png"]
    assert "truncated PNG" in reasons["nya6_20141201_180200_5577_cal.png"]
    assert "does not match pattern" in reasons["nya6_2014-12-01_180300.png"]
    assert "not a valid time" in reasons["nya6_20141301_180400_5577_cal.png"]
    assert "duplicate: same exposure time" in reasons[good.name + "@other"] or (
        "duplicate: same exposure time" in reasons[good.name]
    )
    assert "grid cell" in reasons[same_minute]
    assert "differs from the product" in reasons["lyr6_20141201_181000_5577_cal.png"]
    assert len(report.skipped) == 8
    assert int(ds["valid"].sum()) == 12  # every good file is still there
    with pytest.warns(SkippedInputWarning, match="8 image files skipped"):
        read_images([folder, dup])


def test_several_wavelengths_need_a_product(uio_files):
    folder = uio_files[0].parent
    write_png(folder / "nya6_20141201_170000_6300_cal.png", np.zeros((24, 20), np.uint8))
    with pytest.raises(ValueError, match="several wavelengths"):
        scan_images(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedInputWarning)
        red = read_images(folder, product="6300")
    assert red.sizes["time"] == 1 and red.attrs["product"] == "6300"


def test_corrupt_pixel_data_fails_naming_the_file(uio_files):
    path = uio_files[3]
    data = bytearray(path.read_bytes())
    start = data.index(b"IDAT") + 8
    data[start : start + 40] = b"\x00" * 40
    path.write_bytes(bytes(data))
    ds = read_images(uio_files)
    with pytest.raises(ValueError, match=path.name):
        ds["image"].compute()
