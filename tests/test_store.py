"""Store promises (DESIGN §2): sorted unique times, stations by name, idempotence, safety."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tame_xr.store import Store

T0 = pd.Timestamp("2014-12-01T23:55")  # batches straddle midnight


def grid_dataset(
    cells: dict[tuple[int, str], int],
    station_order: list[str] | None = None,
    time_order: list[int] | None = None,
) -> xr.Dataset:
    """A small image-like dataset holding ``cells`` {(minute, station): value}."""
    minutes = sorted({m for m, _ in cells}) if time_order is None else time_order
    stations = sorted({s for _, s in cells}) if station_order is None else station_order
    shape = (len(minutes), len(stations))
    image = np.zeros(shape + (2, 3), dtype=np.uint8)
    valid = np.zeros(shape, dtype=bool)
    exposure = np.full(shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    level = np.full(shape, np.nan, dtype="float32")
    for i, m in enumerate(minutes):
        for j, s in enumerate(stations):
            if (m, s) in cells:
                v = cells[(m, s)]
                image[i, j] = v
                valid[i, j] = True
                exposure[i, j] = (T0 + pd.Timedelta(minutes=m, seconds=v % 60)).to_datetime64()
                level[i, j] = v / 7
    return xr.Dataset(
        {
            "image": (("time", "station", "y", "x"), image, {"units": "1"}),
            "valid": (("time", "station"), valid),
            "exposure_time": (("time", "station"), exposure),
            "level": (("time", "station"), level, {"units": "1"}),
        },
        coords={
            "time": [T0 + pd.Timedelta(minutes=m) for m in minutes],
            "station": np.array(stations, dtype=object),
        },
    )


def comparable(ds: xr.Dataset) -> xr.Dataset:
    return ds.sortby("station").load().drop_attrs()


cells_strategy = st.dictionaries(
    st.tuples(st.integers(0, 12), st.sampled_from(["nya", "lyr", "hor"])),
    st.integers(1, 250),
    min_size=1,
    max_size=25,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=cells_strategy, k=st.integers(1, 4), data=st.data())
def test_append_batches_equals_one_write(cells, k, data):
    """k batches (shuffled times, permuted station order) == one write of their union."""
    keys = list(cells)
    assignment = data.draw(st.lists(st.integers(0, k - 1), min_size=len(keys), max_size=len(keys)))
    with tempfile.TemporaryDirectory() as tmp:
        batched, whole = Store(Path(tmp) / "a.zarr"), Store(Path(tmp) / "b.zarr")
        for b in range(k):
            part = {key: cells[key] for key, a in zip(keys, assignment, strict=True) if a == b}
            if not part:
                continue
            stations = data.draw(st.permutations(sorted({s for _, s in part})))
            minutes = data.draw(st.permutations(sorted({m for m, _ in part})))
            batched.write(grid_dataset(part, list(stations), list(minutes)), "g")
        whole.write(grid_dataset(cells), "g")
        got, want = batched.open("g"), whole.open("g")
        assert got.indexes["time"].is_monotonic_increasing and got.indexes["time"].is_unique
        xr.testing.assert_equal(comparable(got), comparable(want))


def test_write_is_idempotent_bytes(tmp_path):
    store = Store(tmp_path / "s.zarr")
    ds = grid_dataset({(0, "nya"): 3, (1, "lyr"): 4, (2, "nya"): 5})
    assert store.write(ds, "g")["mode"] == "created"
    before = _snapshot(store.path)
    assert store.write(ds, "g")["mode"] == "unchanged"
    assert store.write(ds.isel(time=[1]), "g")["mode"] == "unchanged"
    assert _snapshot(store.path) == before


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_invalid_cells_do_not_overwrite(tmp_path):
    store = Store(tmp_path / "s.zarr")
    store.write(grid_dataset({(0, "nya"): 3, (0, "lyr"): 4}), "g")
    # A later batch that has lyr at minute 0 invalid must not erase the stored lyr image.
    store.write(grid_dataset({(0, "nya"): 9}, station_order=["nya", "lyr"]), "g")
    got = store.open("g").sel(station="lyr").isel(time=0).load()
    assert bool(got.valid) and int(got.image[0, 0]) == 4
    assert int(store.open("g").sel(station="nya").isel(time=0).image[0, 0]) == 9


def test_duplicate_times_rejected(tmp_path):
    ds = grid_dataset({(0, "nya"): 3, (1, "nya"): 4})
    dup = xr.concat([ds, ds.isel(time=[0])], dim="time")
    with pytest.raises(ValueError, match="duplicate time"):
        Store(tmp_path / "s.zarr").write(dup, "g")
    assert not (tmp_path / "s.zarr" / "g").exists()


def test_new_station_and_earlier_times(tmp_path):
    store = Store(tmp_path / "s.zarr")
    store.write(grid_dataset({(5, "nya"): 1, (6, "nya"): 2}), "g")
    assert store.write(grid_dataset({(6, "hor"): 3}), "g")["mode"] == "appended"
    assert store.write(grid_dataset({(1, "lyr"): 4}), "g")["mode"] == "rebuilt"
    got = store.open("g")
    assert list(got.indexes["time"]) == [T0 + pd.Timedelta(minutes=m) for m in (1, 5, 6)]
    assert int(got.sel(station="hor").isel(time=2).image[0, 0]) == 3
    assert int(got.sel(station="lyr").isel(time=0).image[0, 0]) == 4


def _failing(ds: xr.Dataset) -> xr.Dataset:
    """The same data, but computing the second image chunk raises (a real failure mid-write)."""

    def explode(block, block_info=None):
        if block_info and block_info[0]["chunk-location"][0] == 1:
            raise OSError("disk full (simulated by the data source)")
        return block

    image = da.from_array(ds["image"].values, chunks=(2, 1, 2, 3)).map_blocks(
        explode, dtype=np.uint8
    )
    return ds.assign(image=(ds["image"].dims, image))


@pytest.mark.parametrize("first", [None, {(0, "nya"): 1, (1, "lyr"): 2}, {(20, "nya"): 1}])
def test_failure_part_way_leaves_openable_group(tmp_path, first):
    """Created, appended or rebuilt: a failed write leaves the group as it was; a rerun completes."""
    store = Store(tmp_path / "s.zarr")
    if first:
        store.write(grid_dataset(first), "g")
    before = comparable(store.open("g")) if first else None
    new = grid_dataset({(m, s): m + 1 for m in range(2, 8) for s in ("nya", "lyr")})
    with pytest.raises(OSError, match="disk full"):
        store.write(_failing(new), "g")
    if first:
        xr.testing.assert_equal(comparable(store.open("g")), before)
    else:
        assert not store.exists("g")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xr.open_zarr(store.path, group="g").load() if first else None
    store.write(new, "g")
    want = Store(tmp_path / "clean.zarr")
    if first:
        want.write(grid_dataset(first), "g")
    want.write(new, "g")
    xr.testing.assert_equal(comparable(store.open("g")), comparable(want.open("g")))


def test_groups_and_open_selection(tmp_path):
    store = Store(tmp_path / "s.zarr")
    store.write(grid_dataset({(m, "nya"): m + 1 for m in range(10)}), "asim/5577")
    store.write(grid_dataset({(0, "lyr"): 1}), "asim/6300")
    assert store.groups() == ["asim/5577", "asim/6300"]
    sub = store.open(
        "asim/5577",
        start=T0 + pd.Timedelta(minutes=2),
        end=T0 + pd.Timedelta(minutes=4),
        station="nya",
    )
    assert sub.sizes["time"] == 3  # inclusive bounds
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = xr.open_zarr(tmp_path / "s.zarr", group="asim/5577")
    assert plain.sizes["time"] == 10
    with pytest.raises(KeyError, match="no group"):
        store.open("nope")


def test_select_bounds_inclusive_and_unknown_station(tmp_path):
    from tame_xr import select

    ds = grid_dataset({(m, s): m + 1 for m in range(10) for s in ("nya", "lyr")})
    sub = select(ds, start=T0 + pd.Timedelta(minutes=3), end=T0 + pd.Timedelta(minutes=5))
    assert sub.sizes["time"] == 3
    assert select(ds, station="nya").sizes["station"] == 1
    with pytest.raises(KeyError, match="no station"):
        select(ds, station="xyz")


def test_normal_writes_emit_no_warnings(tmp_path):
    store = Store(tmp_path / "s.zarr")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store.write(grid_dataset({(0, "nya"): 1, (1, "lyr"): 2}), "asim/5577")  # created
        store.write(grid_dataset({(2, "nya"): 3}), "asim/5577")  # appended in place
        store.write(grid_dataset({(0, "hor"): 4}), "asim/5577")  # new station, earlier: rebuilt
        xr.open_zarr(store.path, group="asim/5577").load()


def test_other_time_step_is_refused(tmp_path):
    """A group holds one time grid: data of another cadence are refused, nothing changes."""

    def records(freq: str, start: str) -> xr.Dataset:
        times = pd.date_range(start, periods=5, freq=freq)
        ds = xr.Dataset(
            {"X": (("time", "station"), np.ones((5, 1), "float32"))},
            coords={"time": times.values, "station": np.array(["bou"], dtype=object)},
        )
        ds.attrs["cadence"] = f"{pd.Timedelta(freq).total_seconds():g} s"
        return ds

    store = Store(tmp_path / "s.zarr")
    store.write(records("1min", "2014-11-01 00:00"), "magnetometer")
    before = store.open("magnetometer").load()
    with pytest.raises(
        ValueError, match="magnetometer: time step 1 s differs from the stored 60 s"
    ):
        store.write(records("1s", "2014-11-01 00:10"), "magnetometer")
    xr.testing.assert_identical(store.open("magnetometer").load(), before)
    store.write(records("1min", "2014-11-01 00:10"), "magnetometer")  # same grid: appended
    assert store.open("magnetometer").sizes["time"] == 10
