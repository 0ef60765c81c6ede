"""join_nearest equals a brute-force nearest search (ties → later), per station, any order."""

from __future__ import annotations

import cftime
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from tame_xr.join import join_nearest

MIDNIGHT = pd.Timestamp("2014-12-01T23:59:00")


def brute_force(left_times, right_times, right_values, tolerance_s):
    """Nearest right value per left time by looking at every pair; ties go to the later time."""
    out = np.full(len(left_times), np.nan)
    diff = np.full(len(left_times), np.nan)
    ok = ~np.isnan(right_values)
    rt, rv = right_times[ok], right_values[ok]
    for i, t in enumerate(left_times):
        if not len(rt):
            continue
        d = np.abs(rt - t)
        best = d.min()
        if best > tolerance_s:
            continue
        j = np.flatnonzero(d == best).max()  # the later of equally near times
        out[i], diff[i] = rv[j], rt[j] - t
    return out, diff


def as_time(seconds):
    return (MIDNIGHT + pd.to_timedelta(np.asarray(seconds), unit="s")).values


@settings(max_examples=60, deadline=None)
@given(
    left_s=st.lists(st.integers(-300, 300), min_size=1, max_size=30, unique=True),
    right_s=st.lists(st.integers(-400, 400), min_size=1, max_size=60, unique=True),
    tolerance=st.integers(0, 120),
    data=st.data(),
)
def test_join_equals_brute_force(left_s, right_s, tolerance, data):
    stations = ["nya", "lyr"]
    values = {
        s: np.array(
            data.draw(
                st.lists(
                    st.one_of(st.floats(-1e3, 1e3, allow_nan=False), st.just(np.nan)),
                    min_size=len(right_s),
                    max_size=len(right_s),
                )
            )
        )
        for s in stations
    }
    right = xr.Dataset(
        {"X": (("time", "station"), np.stack([values[s] for s in stations], axis=1))},
        coords={"time": as_time(right_s), "station": stations},  # unsorted on purpose
    )
    left = xr.Dataset(
        {"image_mean": (("time", "station"), np.zeros((len(left_s), 3)))},
        coords={"time": as_time(left_s), "station": ["lyr", "hor", "nya"]},  # caller's order
    )
    out = join_nearest(left, right, f"{tolerance}s")
    assert list(out.indexes["time"]) == list(left.indexes["time"])
    for code in ["lyr", "nya"]:
        want, want_diff = brute_force(np.array(left_s), np.array(right_s), values[code], tolerance)
        got = out["X"].sel(station=code).values
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)])
        got_diff = out["time_difference"].sel(station=code).values / np.timedelta64(1, "s")
        np.testing.assert_allclose(got_diff[~np.isnan(want)], want_diff[~np.isnan(want)])
    assert out["X"].sel(station="hor").isnull().all()


def test_station_mapping_and_stationless_right():
    times = as_time([0, 60, 120])
    left = xr.Dataset(
        {"a": (("time", "station"), np.zeros((3, 2)))},
        coords={"time": times, "station": ["nya", "lyr"]},
    )
    ceil = xr.Dataset(
        {"cbh": (("time", "station"), [[100.0], [200.0], [300.0]])},
        coords={"time": times + np.timedelta64(5, "s"), "station": ["nya"]},
    )
    out = join_nearest(left, ceil, "10s", stations={"nya": "nya", "lyr": "nya"})
    np.testing.assert_array_equal(out["cbh"].values, [[100, 100], [200, 200], [300, 300]])
    flat = ceil.isel(station=0, drop=True)
    out2 = join_nearest(left, flat, "10s")
    xr.testing.assert_equal(out2["cbh"], out["cbh"])
    assert (out["time_difference"] == np.timedelta64(5, "s")).all()


def test_duplicates_and_conflicting_names():
    left = xr.Dataset({"X": ("time", [1.0, 2.0])}, coords={"time": as_time([0, 60])})
    right = xr.Dataset({"X": ("time", [5.0, 6.0, 7.0])}, coords={"time": as_time([0, 0, 60])})
    with pytest.raises(ValueError, match="duplicate time"):
        join_nearest(left, right, "1s")
    out = join_nearest(left, right, "1s", duplicates="first")
    np.testing.assert_array_equal(out["X_right"].values, [5.0, 7.0])
    np.testing.assert_array_equal(out["X"].values, [1.0, 2.0])


def test_cftime_index():
    cal = "noleap"
    lt = xr.date_range("2000-02-28", periods=4, freq="12h", calendar=cal, use_cftime=True)
    rt = xr.date_range("2000-02-28T00:10", periods=8, freq="6h", calendar=cal, use_cftime=True)
    left = xr.Dataset({"a": ("time", np.zeros(4))}, coords={"time": lt})
    right = xr.Dataset({"b": ("time", np.arange(8.0))}, coords={"time": rt})
    out = join_nearest(left, right, "1h")
    np.testing.assert_array_equal(out["b"].values, [0.0, 2.0, 4.0, 6.0])
    assert isinstance(out.indexes["time"][0], cftime.datetime)


def test_lazy_inputs_stay_lazy():
    left = xr.Dataset({"a": ("time", np.zeros(50))}, coords={"time": as_time(np.arange(50) * 60)})
    right = xr.Dataset(
        {"b": ("time", np.arange(100.0))}, coords={"time": as_time(np.arange(100) * 30 + 1)}
    ).chunk(time=10)
    out = left.tame.join_nearest(right, "5s")
    assert out["b"].chunks is not None
    np.testing.assert_array_equal(out["b"].values, np.arange(0, 100, 2.0))
