"""Cloud coverage, cloud ROC and confidence images (tame_xr.analysis) and their figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from tame_xr.analysis import cloud_roc, confidence_images, daily_cloud_coverage, entropy
from tame_xr.plot import (
    plot_cloud_roc,
    plot_confidence_images,
    plot_daily_cloud_coverage,
    save_figure,
)

LABELS = ["arc", "diffuse", "discrete", "cloudy", "moon", "clear"]


@pytest.fixture(scope="module")
def groups(sample_store):
    return {
        "ceilometer": sample_store.open("ceilometer"),
        "classes": sample_store.open("classes/5577"),
        "images": sample_store.open("asim/5577"),
    }


@pytest.fixture(scope="module")
def roc(groups):
    return cloud_roc(groups["classes"], groups["ceilometer"])


def _ceilometer(times, cbh, cloud, valid, station="nya") -> xr.Dataset:
    return xr.Dataset(
        {
            "cbh": (("time", "station"), np.array(cbh, "float32")[:, None]),
            "cloud_detected": (("time", "station"), np.array(cloud, bool)[:, None]),
            "valid": (("time", "station"), np.array(valid, bool)[:, None]),
        },
        coords={"time": pd.to_datetime(times), "station": [station]},
    )


# ---------------------------------------------------------------- daily cloud coverage


def test_daily_coverage_hand_made_exact():
    times = [
        "2014-12-01T00:00",
        "2014-12-01T00:01",
        "2014-12-01T00:02",
        "2014-12-01T00:03",  # no measurement: not clear, not counted
        "2015-01-05T12:00",  # a cloud at 2500 m
        "2014-07-01T00:00",  # outside the months
    ]
    cbh = [np.nan, 800.0, np.nan, np.nan, 2500.0, np.nan]
    cloud = [False, True, False, False, True, False]
    valid = [True, True, True, False, True, True]
    cov = daily_cloud_coverage(_ceilometer(times, cbh, cloud, valid))
    assert list(pd.DatetimeIndex(cov["day"].values).strftime("%Y-%m-%d")) == [
        "2014-12-01",
        "2015-01-05",
    ]
    frac = cov["no_cloud_fraction"].sel(station="nya").values
    np.testing.assert_allclose(frac, [2 / 3, 0.0], rtol=1e-6)
    assert cov["n_measurements"].sel(station="nya").values.tolist() == [3, 1]
    np.testing.assert_allclose(cov["mean_cbh"].sel(station="nya").values, [800.0, 2500.0])
    assert list(cov["season"].values) == ["2014/15", "2014/15"]
    season = cov.sel(season_label="2014/15", station="nya")
    assert float(season["season_no_cloud_fraction"]) == pytest.approx(0.5)
    assert float(season["season_mean_cbh"]) == pytest.approx(1650.0)
    assert int(season["season_n_days"]) == 2
    # clouds at or above clear_cbh count as no cloud
    high = daily_cloud_coverage(_ceilometer(times, cbh, cloud, valid), clear_cbh=2000.0)
    np.testing.assert_allclose(high["no_cloud_fraction"].sel(station="nya").values, [2 / 3, 1])


def test_daily_coverage_no_measurement_day_is_nan():
    times = ["2014-11-03T00:00", "2014-11-03T00:01"]
    cov = daily_cloud_coverage(_ceilometer(times, [np.nan] * 2, [False] * 2, [False] * 2))
    assert cov["n_measurements"].values.item() == 0
    assert np.isnan(cov["no_cloud_fraction"].values.item())


def test_daily_coverage_sample(groups):
    cov = daily_cloud_coverage(groups["ceilometer"])
    frac = cov["no_cloud_fraction"].values
    assert np.all((frac[np.isfinite(frac)] >= 0) & (frac[np.isfinite(frac)] <= 1))
    assert np.isfinite(frac).any()
    days = pd.DatetimeIndex(cov["day"].values)
    assert (days.month == 12).any()
    assert set(cov["season"].values) == {"2014/15"}
    assert list(cov["season_label"].values) == ["2014/15"]
    season = cov["season_no_cloud_fraction"].values
    assert np.all((season >= 0) & (season <= 1))
    cbh = cov["mean_cbh"].values
    assert np.nanmin(cbh) > 0
    assert cov["no_cloud_fraction"].dims == ("day", "station")


# ---------------------------------------------------------------- cloud ROC


def test_cloud_roc_sample(roc):
    # the sample's cloudy images go with ceilometer clouds: the cloudy class finds them
    assert float(roc["auc"]) >= 0.85
    assert int(roc["n_used"]) > 0
    assert int(roc["n_clear"]) > 0 and int(roc["n_cloudy"]) > 0
    assert int(roc["n_used"]) + int(roc["n_dropped"]) == 480 * 2
    fpr, tpr = roc["fpr"].values, roc["tpr"].values
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    thr = roc["threshold"].values
    assert np.all(np.isfinite(thr)) and np.all(np.diff(thr) < 0)
    assert float(roc["fpr_at_tpr95"]) <= 0.5
    assert float(roc["tpr_at_fpr05"]) >= 0.5
    assert 0.5 <= float(roc["best_accuracy"]) <= 1
    assert float(roc["best_accuracy"]) == pytest.approx(float(roc["accuracy"].max()))


def test_cloud_roc_hand_made():
    times = pd.date_range("2014-12-01T18:00", periods=6, freq="60s")
    p_cloudy = np.array([0.9, 0.8, 0.1, 0.2, 0.3, 0.7])
    proba = np.zeros((6, 1, 6), "float32")
    proba[:, 0, 3] = p_cloudy
    proba[:, 0, 5] = 1 - p_cloudy
    classes = xr.Dataset(
        {
            "proba": (("time", "station", "label"), proba),
            "valid": (("time", "station"), np.array([1, 1, 1, 1, 1, 0], bool)[:, None]),
        },
        coords={"time": times, "station": ["nya"], "label": LABELS},
    )
    # ceilometer 10 s later; the 5th cell has no measurement; a 2500 m cloud is clear
    ceil = _ceilometer(
        times + pd.Timedelta("10s"),
        cbh=[500, 900, np.nan, 2500, np.nan, 300],
        cloud=[True, True, False, True, False, True],
        valid=[True, True, True, True, False, True],
    )
    roc = cloud_roc(classes, ceil, tolerance="30s")  # 60 s would reach a neighbour
    assert int(roc["n_used"]) == 4
    assert int(roc["n_dropped"]) == 2
    assert int(roc["n_no_image"]) == 1 and int(roc["n_no_ceilometer"]) == 1
    assert int(roc["n_clear"]) == 2 and int(roc["n_cloudy"]) == 2
    assert float(roc["auc"]) == 1.0
    assert float(roc["best_accuracy"]) == 1.0
    assert 0.2 < float(roc["best_threshold"]) <= 0.9
    # nothing within a 5 s tolerance
    with pytest.raises(ValueError, match="both clear and cloudy"):
        cloud_roc(classes, ceil, tolerance="5s")


# ---------------------------------------------------------------- confidence images


def test_entropy_nats():
    p = xr.DataArray([[1 / 6] * 6, [1, 0, 0, 0, 0, 0]], dims=("cell", "label"))
    np.testing.assert_allclose(entropy(p).values, [np.log(6), 0.0])
    assert np.isnan(entropy(np.array([[0.5, np.nan]]))[0])


def test_confidence_images(groups):
    n = 3
    conf = confidence_images(groups["classes"], groups["images"], n=n)
    images = groups["images"]
    assert conf["probability"].dims == ("label", "kind", "rank")
    assert conf["probability"].shape == (6, 4, n)
    assert conf["image"].shape == (6, 4, n, images.sizes["y"], images.sizes["x"])
    assert list(conf["label"].values) == LABELS
    for label in LABELS:
        c = conf.sel(label=label)
        low = c["probability"].sel(kind="lowest_confidence").values
        high = c["probability"].sel(kind="highest_confidence").values
        lowest = c["probability"].sel(kind="lowest_probability").values
        ok = c["found"].sel(kind="lowest_confidence").values
        if ok.any():
            assert np.nanmax(low) <= np.nanmin(high)
            assert np.nanmax(lowest) <= np.nanmin(low)
            assert set(c["predicted"].sel(kind="highest_confidence").values[ok]) == {label}
        assert np.all(np.diff(low[np.isfinite(low)]) >= 0)
        assert np.all(np.diff(high[np.isfinite(high)]) <= 0)
        ent = c["entropy"].sel(kind="highest_entropy").values
        assert np.all(np.diff(ent[np.isfinite(ent)]) <= 1e-12)
    # the loaded images are the stored ones
    found = conf["found"].values
    assert found.sum() > 0
    checked = 0
    for idx in zip(*np.nonzero(found), strict=True):
        cell = conf.isel(label=idx[0], kind=idx[1], rank=idx[2])
        stored = images["image"].sel(time=cell["time"].values, station=str(cell["station"].values))
        np.testing.assert_array_equal(cell["image"].values, stored.values)
        checked += 1
        if checked >= 12:
            break
    missing = conf["image"].values[~found]
    assert (missing == 0).all()


def test_confidence_images_without_images(groups):
    conf = confidence_images(groups["classes"], n=2)
    assert "image" not in conf
    assert conf["time"].shape == (6, 4, 2)


# ---------------------------------------------------------------- figures


def _check_figure(fig, tmp_path, name):
    titles = [fig.get_suptitle()] + [ax.get_title() for ax in fig.axes]
    assert any(t.strip() for t in titles)
    path = save_figure(fig, tmp_path / name)
    assert path.exists() and path.suffix == ".png"
    import matplotlib.image

    pixels = matplotlib.image.imread(path)
    assert pixels.var() > 1e-3


def test_figures(groups, roc, tmp_path):
    cov = daily_cloud_coverage(groups["ceilometer"])
    fig = plot_daily_cloud_coverage(cov)
    data_axes = [ax for ax in fig.axes if ax.get_images()]
    assert len(data_axes) == 2
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in data_axes)
    _check_figure(fig, tmp_path, "coverage.png")

    fig = plot_cloud_roc(roc)
    assert len(fig.axes) == 2
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    legend = fig.axes[0].get_legend()
    assert any("AUC" in t.get_text() for t in legend.get_texts())
    _check_figure(fig, tmp_path, "roc.png")

    conf = confidence_images(groups["classes"], groups["images"], n=2)
    fig = plot_confidence_images(conf)
    assert fig.get_suptitle()
    assert len(fig.axes) == 6 * 4 * 2
    _check_figure(fig, tmp_path, "confidence")

    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []
