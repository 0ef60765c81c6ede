"""Broken inputs for every reader (corpus: ``tests/bad_inputs.py``): each is a clear error or a
report entry naming the file and the reason, the good files still land in the right cells, and
nothing already stored changes. Plus the CLI on some of them: no traceback, exit status 1 or 3.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import bad_inputs as B
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import tame_xr
from tame_xr.ingest import READERS
from tame_xr.io.themis import read_pgm_frames
from tame_xr.report import SkippedInputWarning
from tame_xr.stations import normalise_station

CASES = B.all_cases()


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file below ``root``."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def n_cells(ds: xr.Dataset) -> int:
    """Cells holding data: ``valid`` ones, or the samples of a labelled set."""
    return int(ds["valid"].sum()) if "valid" in ds else ds.sizes["sample"]


@pytest.fixture(scope="module")
def baselines(tmp_path_factory):
    """kind -> (store path, stored group loaded): each kind's baseline ingested once."""
    cache: dict[str, tuple[Path, xr.Dataset]] = {}

    def get(kind: str) -> tuple[Path, xr.Dataset]:
        if kind not in cache:
            root = tmp_path_factory.mktemp(f"baseline_{kind}")
            store = tame_xr.Store(root / "store.zarr")
            report = tame_xr.ingest(kind, B.baseline(kind, root / "files"), store)
            assert report.ok, report.summary()
            cache[kind] = (store.path, store.open(B.GROUPS[kind]).load())
        return cache[kind]

    return get


# ------------------------------------------------------------------------- expected cells
def _at(ds: xr.Dataset, var: str, station: str, times) -> np.ndarray:
    return ds[var].sel(station=station, time=pd.DatetimeIndex(times).values).values


def _nan_mask(times, station, var, nan) -> np.ndarray:
    return np.array([(str(t), station, var) in nan for t in pd.DatetimeIndex(times)])


def landed(kind: str, ds: xr.Dataset, good: list[Path], nan=frozenset()) -> None:
    """Every good file's values are stored under its own station and time (NaN in ``nan``:
    ``(time, station, variable)``), computed from the generator, not from the readers."""
    for path in good:
        name = path.name
        if kind == "images":
            station, day, hms = name.split("_")[:3]
            when = pd.Timestamp(f"{day}T{hms}")
            cell = ds.sel(station=normalise_station(station), time=when.floor("1min"))
            assert bool(cell["valid"]) and cell["exposure_time"].values == when.asm8
            np.testing.assert_array_equal(cell["image"].values, B.pixels(name))
        elif kind == "themis":
            frames, headers = read_pgm_frames(path)
            station = headers[0]["Site unique ID"]
            for frame, header in zip(frames, headers, strict=True):
                when = pd.Timestamp(header["Image request start"].replace(" UTC", ""))
                cell = ds.sel(station=station, time=when.floor("3s"))
                assert cell["exposure_time"].values == when.asm8
                np.testing.assert_array_equal(cell["image"].values, frame)
        elif kind == "oath":
            num = int(path.stem)
            cell = ds.sel(sample=num)
            np.testing.assert_array_equal(cell["image"].values, B.oath_image(num)[..., 1])
            assert int(cell["class6"]) == num % 6 and int(cell["rot_ang"]) == 40 * num % 360
        elif kind == "iaga2002":
            code, start = name[:3], pd.Timestamp(f"{name[3:11]}T{name[11:15]}")
            times = pd.date_range(start, periods=30, freq="1min")
            expected = B.iaga_values(code.upper(), times)
            for k, var in enumerate("XYZF"):
                want = np.where(_nan_mask(times, code.lower(), var, nan), np.nan, expected[:, k])
                got = _at(ds, var, code.lower(), times)
                np.testing.assert_allclose(got, want, atol=0.006)
            assert _at(ds, "valid", code.lower(), times).all()
        elif kind == "image_magnetometer":
            start = pd.Timestamp(f"2014-12-01T{name[6:8]}:{name[8:10]}")
            times = pd.date_range(start, periods=40, freq="1min")
            words = path.read_text().splitlines()[1].split()[6:]
            for code, comp in zip(words[::2], words[1::2], strict=True):
                mask = _nan_mask(times, code.lower(), comp, nan)
                want = np.where(mask, np.nan, B.image_values(code, comp, times))
                got = _at(ds, comp, code.lower(), times)
                np.testing.assert_allclose(got, want, atol=0.051)
                assert np.isnan(_at(ds, "F", code.lower(), times)).all()  # IMAGE has no F
        elif kind == "pangaea_ceilometer":
            code, hhmm = name.split("_")[0], name.split("_")[2][:4]
            times = pd.date_range(f"2014-12-01T{hhmm[:2]}:{hhmm[2:]}", periods=10, freq="1min")
            texts = B.cbh_texts(code, times)
            want = np.array([float(t) if t else np.nan for t in texts])
            np.testing.assert_array_equal(_at(ds, "cbh", code, times), want)
            assert _at(ds, "valid", code, times).all()
            np.testing.assert_array_equal(_at(ds, "cloud_detected", code, times), want > 0)
        elif kind == "chm15k":
            location, hhmm = name.split("_")[1], name.split("_")[2][:4]
            times = pd.date_range(f"2020-10-22T{hhmm[:2]}:{hhmm[2:]}", periods=5, freq="1min")
            raw = B.chm_values(location, times)
            want = np.where(raw >= 0, raw - 70.0, np.nan)  # cho subtracted: above instrument
            np.testing.assert_array_equal(_at(ds, "cbh", location, times), want)
            assert _at(ds, "valid", location, times).all()


#: NaN cells of the "ok" cases with sentinels or NaN/inf in the files
NAN = {
    "iaga2002-sentinels": {
        ("2014-11-01 00:30:00", "bou", "X"),
        ("2014-11-01 00:30:00", "bou", "Y"),
        ("2014-11-01 00:31:00", "bou", "F"),
    },
    "iaga2002-nan_inf": {("2014-11-01 00:30:00", "bou", "X"), ("2014-11-01 00:30:00", "bou", "Y")},
    "image_magnetometer-sentinels": {
        ("2014-12-01 00:40:00", "nal", "X"),
        ("2014-12-01 00:40:00", "lyr", "Y"),
    },
}
NAN["image_magnetometer-nan_inf"] = NAN["image_magnetometer-sentinels"]


# ------------------------------------------------------------------------- "ok" checks
def _new_station_unknown(code: str, position: bool = False):
    def check(before: xr.Dataset, after: xr.Dataset) -> None:
        assert code not in before["station"].values and code in after["station"].values
        st = after.sel(station=code)
        assert np.isfinite(float(st["latitude"])) == position  # NaN: nothing invented
        assert int(st["valid"].sum()) > 0

    return check


def _stations_added(*codes: str):
    def check(before: xr.Dataset, after: xr.Dataset) -> None:
        old = list(before["station"].values)
        assert list(after["station"].values[: len(old)]) == old  # stored stations stay put
        assert set(after["station"].values) == set(old) | set(codes)

    return check


def _sorted_index(before: xr.Dataset, after: xr.Dataset) -> None:
    index = after.indexes["sample" if "sample" in after.dims else "time"]
    assert index.is_monotonic_increasing and index.is_unique


def _chm_sentinels(before: xr.Dataset, after: xr.Dataset) -> None:
    cell = after.sel(station="magurele").sel(time=slice("2020-10-22 00:05", "2020-10-22 00:09"))
    np.testing.assert_array_equal(cell["valid"], [True, True, False, False, True])
    np.testing.assert_array_equal(cell["cloud_detected"], [True, False, False, False, True])
    np.testing.assert_array_equal(cell["cbh"], [1000.0, np.nan, np.nan, np.nan, 2500.0])


def _nan_not_dropped(before: xr.Dataset, after: xr.Dataset) -> None:
    assert n_cells(after) > n_cells(before)  # the records stay, valid, with NaN values


CHECKS = {
    "images-unsorted_files": _sorted_index,
    "images-unknown_station": _new_station_unknown("xyz9"),
    "images-station_order": _stations_added("hor"),
    "themis-unsorted_frames": _sorted_index,
    "themis-unknown_station": _new_station_unknown("qqqq"),
    "themis-station_order": _stations_added("kuuj", "atha"),
    "oath-unsorted_rows": _sorted_index,
    "iaga2002-sentinels": _nan_not_dropped,
    "iaga2002-nan_inf": _nan_not_dropped,
    "iaga2002-unknown_station": _new_station_unknown("qqq"),
    "iaga2002-station_order": _stations_added("tro", "abk"),
    "image_magnetometer-sentinels": _nan_not_dropped,
    "image_magnetometer-nan_inf": _nan_not_dropped,
    "image_magnetometer-unknown_station": _new_station_unknown("qqq"),
    "image_magnetometer-station_order": _stations_added("hor"),
    "pangaea_ceilometer-unknown_station": _new_station_unknown("qqq"),
    "pangaea_ceilometer-station_order": _stations_added("hor"),
    "chm15k-sentinels": _chm_sentinels,
    "chm15k-unknown_station": _new_station_unknown("qqqville", position=True),
    "chm15k-station_order": _stations_added("hornsund", "andoya"),
}
CUSTOM = {"chm15k-sentinels"}  # values checked by CHECKS alone


def test_corpus_covers_every_reader_and_checks_every_ok_case():
    kinds = {k for k, _ in CASES}
    assert kinds == {"images", *READERS}
    ok = {f"{k}-{n}" for k, n in CASES if B.CASES[k][n][0] == "ok"}
    assert ok == set(CHECKS)
    for kind in kinds:  # the issue's list, where it applies to the reader (OATH: no station)
        names = " ".join(B.CASES[kind])
        for word in ("zero_byte", "truncated", "unsorted") + (("station",) * (kind != "oath")):
            assert word in names, (kind, word)


# ------------------------------------------------------------------------- the corpus
@pytest.mark.parametrize(("kind", "name"), CASES, ids=[f"{k}-{n}" for k, n in CASES])
def test_bad_input(kind, name, baselines, tmp_path):
    base_path, before = baselines(kind)
    store = tame_xr.Store(tmp_path / "store.zarr")
    shutil.copytree(base_path, store.path)
    case = B.build(kind, name, tmp_path / "files")
    stored = snapshot(store.path)
    group = B.GROUPS[kind]

    if case.outcome == "error":
        with pytest.raises(ValueError) as info:
            tame_xr.ingest(kind, case.files, store, **case.kw)
        message = str(info.value)
        assert case.reason in message
        assert case.bad and all(str(p) in message for p in case.bad), message
        assert snapshot(store.path) == stored  # not a byte changed
        return

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = tame_xr.ingest(kind, case.files, store, **case.kw)
    shown = [str(w.message) for w in caught if issubclass(w.category, SkippedInputWarning)]
    reasons = {s.path: s.reason for s in report.skipped}
    if case.outcome == "skipped":
        assert case.bad and set(reasons) == {str(p) for p in case.bad}, report.summary()
        for path in case.bad:
            assert case.reason in reasons[str(path)], reasons[str(path)]
        assert len(shown) == 1 and all(str(p) in shown[0] for p in case.bad), shown
    else:
        assert case.outcome == "ok" and report.ok and not shown, report.summary()
    assert sorted(report.added) == sorted(str(p) for p in case.good)

    after = store.open(group).load()
    old = {d: before[d].values for d in ("time", "sample", "station") if d in before.dims}
    xr.testing.assert_equal(after[list(before.data_vars)].sel(old), before)  # stored cells kept
    assert n_cells(after) == n_cells(before) + case.new_cells
    if f"{kind}-{name}" not in CUSTOM:
        landed(kind, after, case.good, NAN.get(f"{kind}-{name}", frozenset()))
    if case.outcome == "ok":
        CHECKS[f"{kind}-{name}"](before, after)


# ------------------------------------------------------------------------- the CLI
#: name -> (kind, case name, exit status): the CLI on corpus cases, in subprocesses
CLI = {
    "images_zero_byte": ("images", "zero_byte", 3),
    "themis_wrong_size_alone": ("themis", "wrong_size_alone", 1),
    "oath_truncated_tarball": ("oath", "truncated_tarball", 1),
    "iaga_cadence_vs_store": ("iaga2002", "cadence_vs_store", 1),
}


@pytest.fixture(scope="module")
def cli_runs(baselines, tmp_path_factory):
    """Every CLI case run at once (separate processes), then collected: name -> result."""
    started = {}
    for key, (kind, name, _) in CLI.items():
        root = tmp_path_factory.mktemp(f"cli_{key}")
        shutil.copytree(baselines(kind)[0], root / "store.zarr")
        case = B.build(kind, name, root / "files")
        files = [case.files] if isinstance(case.files, Path) else case.files
        argv = [sys.executable, "-m", "tame_xr", "--store", str(root / "store.zarr"), "ingest"]
        argv += [kind, *map(str, files), "--no-progress"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        started[key] = (proc, case, snapshot(root / "store.zarr"), root / "store.zarr")
    results = {}
    for key, (proc, case, stored, path) in started.items():
        out, err = proc.communicate(timeout=120)
        results[key] = (proc.returncode, out.decode(), err.decode(), case, stored, path)
    return results


@pytest.mark.parametrize("key", sorted(CLI))
def test_cli_bad_input(key, cli_runs):
    code, out, err, case, stored, path = cli_runs[key]
    assert "Traceback" not in out + err
    assert code == CLI[key][2], (out, err)
    names = [str(p) for p in case.bad]
    if code == 1:  # one error line naming the file(s) and the reason; the store untouched
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("tame-xr ingest: error: "), err
        assert case.reason in lines[0] and all(n in lines[0] for n in names), err
        assert snapshot(path) == stored
    else:  # exit 3: the summary lists every skipped file with its reason (and no warning)
        assert "skipped:" not in err, err
        for n in names:
            line = next(ln for ln in out.splitlines() if f"skipped {n}: " in ln)
            assert case.reason in line
        assert f"{len(case.good)} inputs added" in out
