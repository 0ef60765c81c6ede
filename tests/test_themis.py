"""THEMIS ASI raw PGM reader: the two real Gillam files and broken inputs."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from tame_xr.io import themis
from tame_xr.io.themis import read_pgm_frames, read_themis
from tame_xr.report import BadInputError, IngestReport, SkippedInputWarning

THEMIS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "asim" / "themis_pgm"


@pytest.fixture(scope="module")
def themis_files() -> list[Path]:
    """The two one-minute Gillam files of ../shared/data (skip when they are not there)."""
    files = sorted(THEMIS_DIR.glob("*.pgm.gz"))
    if len(files) < 2:
        pytest.skip(f"THEMIS sample files not found in {THEMIS_DIR} (clone beside ../shared)")
    return files


def _pgm(frames: np.ndarray, times: list[str], site: str | None = "test") -> bytes:
    """Multi-frame 16-bit PGM bytes with THEMIS-like headers (site only in frame 0)."""
    out = b""
    for i, (frame, when) in enumerate(zip(frames, times, strict=True)):
        head = f'P5\n#"Site unique ID" {site}\n' if i == 0 and site else "P5\n"
        head += f'#"Image request start" {when} UTC\n{frame.shape[1]} {frame.shape[0]}\n65535\n'
        out += head.encode() + frame.astype(">u2").tobytes()
    return out


def test_real_files(themis_files):
    report = IngestReport()
    ds = read_themis(themis_files, report=report)
    assert report.ok and sorted(report.added) == [str(f) for f in themis_files]
    assert ds.sizes == {"time": 40, "station": 1, "y": 256, "x": 256}
    assert ds["station"].values.tolist() == ["gill"]
    assert ds["image"].dtype == np.uint16
    exposure = pd.DatetimeIndex(ds["exposure_time"].values[:, 0])
    assert exposure[0] == pd.Timestamp("2014-03-10 06:00:00.063119")
    assert exposure.is_monotonic_increasing and exposure.is_unique
    assert exposure.min() >= pd.Timestamp("2014-03-10 06:00")
    assert exposure.max() < pd.Timestamp("2014-03-10 06:02")
    # nominal grid: exposure floored to the 3 s cadence, one frame per cell
    np.testing.assert_array_equal(ds["time"].values, exposure.floor("3s").values)
    assert (np.diff(ds["time"].values) == np.timedelta64(3, "s")).all()
    assert ds["valid"].all()
    assert ds.attrs["product"] == "themis" and ds.attrs["cadence"] == "3 s"
    assert "THEMIS" in ds.attrs["source"] and themis_files[0].name in ds.attrs["source"]
    assert "themis.ssl.berkeley.edu" in ds.attrs["license"]
    assert ds.attrs["instrument_codes"] == "gill: themis19"
    # position from the header, not the built-in table
    assert float(ds["latitude"][0]) == pytest.approx(56.3539)
    assert float(ds["longitude"][0]) == pytest.approx(-94.6557)
    assert str(ds["station_name"].values[0]) == "Gillam"


def test_lazy_and_matches_low_level_reader(themis_files, monkeypatch):
    calls: list[str] = []
    real = themis.read_pgm_frames

    def counting(path):
        calls.append(str(path))
        return real(path)

    monkeypatch.setattr(themis, "read_pgm_frames", counting)
    ds = read_themis(themis_files)
    assert isinstance(ds["image"].data, da.Array)
    assert calls == []  # no pixels decoded yet
    image = ds["image"].compute().values
    assert sorted(calls) == [str(f) for f in themis_files]  # each file decoded once
    frames = np.concatenate([real(f)[0] for f in themis_files])
    np.testing.assert_array_equal(image[:, 0], frames)
    assert image.max() > image.min()


def test_read_pgm_frames_headers(themis_files):
    frames, headers = read_pgm_frames(themis_files[0])
    assert frames.shape == (20, 256, 256) and frames.dtype == np.uint16
    assert len(headers) == 20
    assert headers[0]["Site unique ID"] == "gill"
    assert headers[0]["Image request start"] == "2014-03-10 06:00:00.063119 UTC"
    assert "Site unique ID" not in headers[1]  # only the first frame has the site header
    assert headers[1]["Image request start"].startswith("2014-03-10 06:00:03")


def test_synthetic_files_station_and_plain_pgm(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 65535, (3, 4, 5), dtype=np.uint16)
    times = ["2020-01-01 00:00:00.5", "2020-01-01 00:00:03.25", "2020-01-01 00:00:06.1"]
    plain = tmp_path / "a.pgm"
    plain.write_bytes(_pgm(frames, times, site=None))
    got, headers = read_pgm_frames(plain)
    np.testing.assert_array_equal(got, frames)
    report = IngestReport()
    with pytest.raises(ValueError, match="no usable THEMIS files"):
        read_themis([plain], report=report)  # no site and no station=
    assert "pass station=" in report.skipped[0].reason
    ds = read_themis([plain], station="XYZ").compute()
    assert ds["station"].values.tolist() == ["xyz"]
    assert np.isnan(ds["latitude"].values[0])  # unknown station, no position in the header
    np.testing.assert_array_equal(ds["image"].values[:, 0], frames)


def _bad_files(tmp_path: Path, good: Path) -> dict[str, Path]:
    raw = gzip.decompress(good.read_bytes())
    files = {
        "empty": b"",
        "truncated_gzip": good.read_bytes()[:200_000],
        "truncated_frame": gzip.compress(raw[:-1000]),
        "text": b"this is not an image\n",
        "magic": gzip.compress(b"P2\n4 4\n255\n" + b"0 " * 16),
        "not_pgm": gzip.compress(b"hello world, no PGM here"),
    }
    paths = {}
    for name, data in files.items():
        paths[name] = tmp_path / f"{name}.pgm.gz"
        paths[name].write_bytes(data)
    return paths


REASONS = {
    "empty": "empty file",
    "truncated_gzip": "truncated gzip",
    "truncated_frame": "truncated: frame 19",
    "text": "not gzip-compressed",
    "magic": "not a binary PGM",
    "not_pgm": "not a binary PGM",
}


def test_bad_files_reported(tmp_path, themis_files):
    bad = _bad_files(tmp_path, themis_files[0])
    for name, path in bad.items():
        with pytest.raises(BadInputError, match=REASONS[name]) as info:
            read_pgm_frames(path)
        assert info.value.path == str(path)
    report = IngestReport()
    ds = read_themis([*bad.values(), themis_files[1]], report=report)
    assert ds.sizes["time"] == 20
    assert report.added == [str(themis_files[1])]
    reasons = {s.path: s.reason for s in report.skipped}
    assert set(reasons) == {str(p) for p in bad.values()}
    for name, path in bad.items():
        assert REASONS[name] in reasons[str(path)]
    with pytest.warns(SkippedInputWarning, match="6 THEMIS files skipped"):
        ds = read_themis([*bad.values(), themis_files[1]])
    assert ds.sizes["time"] == 20
    with pytest.raises(ValueError, match="no usable THEMIS files"), warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedInputWarning)
        read_themis(list(bad.values()))


def test_duplicate_file_reported(themis_files, tmp_path):
    copy = tmp_path / themis_files[0].name
    copy.write_bytes(themis_files[0].read_bytes())
    report = IngestReport()
    ds = read_themis([themis_files[0], copy], report=report)
    assert ds.sizes["time"] == 20
    assert len(report.skipped) == 1 and "duplicate: 20 of 20 frames" in report.skipped[0].reason


def test_zarr_round_trip_without_warnings(themis_files, tmp_path):
    ds = read_themis(themis_files)
    store = tmp_path / "themis.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds.to_zarr(store, zarr_format=3, consolidated=False)
        back = xr.open_zarr(store, consolidated=False).load()
    xr.testing.assert_identical(back.drop_attrs(deep=False), ds.load().drop_attrs(deep=False))
    assert back.attrs["license"] == ds.attrs["license"]
    assert back["exposure_time"].values[0, 0] == np.datetime64("2014-03-10T06:00:00.063119")


def test_two_stations_chunks_straddle_files(tmp_path):
    """Five 20-frame files per station: chunks of 60 frames cut through a file, still exact."""
    rng = np.random.default_rng(2)
    truth = {}
    for offset, site in enumerate(("gill", "abc")):
        stack = []
        for minute in range(5):
            t0 = pd.Timestamp("2020-01-01") + pd.Timedelta(minutes=minute, milliseconds=9 * offset)
            frames = rng.integers(0, 65535, (20, 8, 6), dtype=np.uint16)
            times = [str(t0 + pd.Timedelta(seconds=3 * i)) for i in range(20)]
            path = tmp_path / f"2020_{minute}_{site}.pgm.gz"
            path.write_bytes(gzip.compress(_pgm(frames, times, site=site)))
            stack.append(frames)
        truth[site] = np.concatenate(stack)
    ds = read_themis(tmp_path)
    assert ds["station"].values.tolist() == ["abc", "gill"]
    assert ds["image"].data.chunks[:2] == ((60, 40), (1, 1))
    image = ds["image"].values
    for j, site in enumerate(ds["station"].values):
        np.testing.assert_array_equal(image[:, j], truth[site])
    assert float(ds["latitude"].sel(station="gill")) == pytest.approx(56.3764)  # built-in table
