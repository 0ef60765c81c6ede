"""Cluster demonstration, magnetic regression and keograms on the processed sample store."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from tame_xr.analysis.clusters import cluster_features
from tame_xr.analysis.keograms import keogram
from tame_xr.analysis.magnetic import magnetic_regression
from tame_xr.plot._common import save_figure
from tame_xr.plot.clusters import plot_clusters
from tame_xr.plot.keogram import plot_keogram
from tame_xr.plot.magnetic import plot_magnetic_regression


@pytest.fixture(scope="module")
def groups(sample_store):
    names = ("features/5577", "classes/5577", "asim/5577", "magnetometer", "ceilometer")
    return {name.split("/")[0]: sample_store.open(name) for name in names}


@pytest.fixture(scope="module")
def clusters(groups):
    return cluster_features(groups["features"], groups["classes"])


@pytest.fixture(scope="module")
def magnetic(groups):
    g = groups
    return magnetic_regression(g["features"], g["classes"], g["magnetometer"], g["ceilometer"])


@pytest.fixture(scope="module")
def keo(groups):
    return keogram(groups["asim"], station="nya", classes=groups["classes"])


def _check_png(fig, path):
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert any(ax.get_xlabel() for ax in axes) and any(ax.get_ylabel() for ax in axes)
    assert any(ax.get_title() for ax in axes) or fig._suptitle is not None
    out = save_figure(fig, path)
    assert out.exists() and out.stat().st_size > 0
    from PIL import Image

    pixels = np.asarray(Image.open(out).convert("L"), dtype=float)
    assert pixels.var() > 10.0


def test_clusters(clusters, groups):
    r = clusters
    valid = groups["features"]["valid"].values
    assert r.sizes["cell"] == int(valid.sum())
    assert set(r.dims) >= {"cell", "component", "cluster", "axis", "label"}
    ari = float(r["ari"])
    assert np.isfinite(ari) and -1 <= ari <= 1
    assert ari > 0.2  # 0.26 on the sample: clusters vs the (imperfect) predicted classes
    ev = r["explained_variance"].values
    assert np.all(np.diff(ev) <= 0) and ev[0] > 0
    assert r["explained_variance_ratio"].sum() <= 1 + 1e-6
    assert r["contingency"].sum() == (r["predicted"] >= 0).sum()
    assert r["cluster_size"].sum() == r.sizes["cell"]
    assert r["embedding"].shape == (r.sizes["cell"], 2)


def test_clusters_chunking(clusters, groups):
    other = cluster_features(groups["features"].chunk(time=50), groups["classes"])
    np.testing.assert_array_equal(other["time"].values, clusters["time"].values)
    labels = clusters["cell_cluster"].values, other["cell_cluster"].values
    assert adjusted_rand_score(*labels) > 0.99  # same partition (labels sorted by size)
    assert abs(float(other["ari"]) - float(clusters["ari"])) < 0.05
    np.testing.assert_allclose(
        other["explained_variance"], clusters["explained_variance"], rtol=1e-3
    )


def test_clusters_umap_missing(groups):
    try:
        import umap  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install umap-learn"):
            cluster_features(groups["features"], umap=True)
    else:
        pytest.skip("umap-learn is installed")


def test_magnetic(magnetic):
    r = magnetic
    assert r.attrs["n_test"] > 0 and r.attrs["n_train"] > 0
    for name in ("mse", "mae", "r2", "mse_smoothed", "mae_smoothed", "r2_smoothed"):
        assert r[name].dims == ("component", "degree")
        assert np.isfinite(r[name].values).all(), name
    assert list(r["component"].values) == ["X", "Y", "Z", "H"]
    # the sample's X bay follows auroral activity: held-out R² 0.80 (smoothed 0.83)
    assert float(r["r2"].sel(component="X").max()) > 0.5
    assert float(r["r2_smoothed"].sel(component="X").max()) > 0.5
    best = int(r["best_degree"].sel(component="X"))
    assert float(r["r2"].sel(component="X", degree=best)) == float(r["r2"].sel(component="X").max())
    assert r["observed"].sizes["sample"] == r.attrs["n_test"]
    # means removed per station
    for code in np.unique(r["station"].values):
        sel = r["observed"].where(r["station"] == code, drop=True)
        np.testing.assert_allclose(sel.mean("sample"), 0, atol=1e-6)


def test_magnetic_last_block(groups):
    g = groups
    r = magnetic_regression(
        g["features"], g["classes"], g["magnetometer"], degrees=(1, 2), test_blocks=[-1]
    )
    assert r.attrs["n_folds"] == 1
    assert 0 < r.attrs["n_test"] < r.attrs["n_train"]
    assert np.isfinite(r["r2"].values).all()


def test_keogram(keo, groups):
    images = groups["asim"]
    assert keo["keogram"].dims == ("time", "y")
    assert keo["keogram"].shape == (images.sizes["time"], images.sizes["y"])
    np.testing.assert_array_equal(keo["time"].values, images["time"].values)
    nx = images.sizes["x"]
    first = nx // 2 - 1
    valid = images["valid"].sel(station="nya").values
    for i in np.flatnonzero(valid)[[0, 10, -1]]:
        stored = images["image"].sel(station="nya").isel(time=i).values.astype(float)
        expected = stored[:, first : first + 3].mean(axis=1)
        np.testing.assert_allclose(keo["keogram"].isel(time=i), expected, rtol=1e-6)
    assert keo["keogram"].isel(time=np.flatnonzero(~valid)).isnull().all()
    predicted = groups["classes"]["predicted"].sel(station="nya").values
    np.testing.assert_array_equal(keo["predicted"].values, predicted)


def test_keogram_default_station(groups):
    k = keogram(groups["asim"], width=1)
    assert k.attrs["station"] == str(groups["asim"]["station"].values[0])
    assert "predicted" not in k


def test_figures(clusters, magnetic, keo, groups, tmp_path):
    _check_png(plot_clusters(clusters, groups["asim"], n_examples=6), tmp_path / "clusters.png")
    _check_png(plot_clusters(clusters.drop_vars(["predicted"])), tmp_path / "clusters_plain.png")
    _check_png(plot_magnetic_regression(magnetic), tmp_path / "magnetic.png")
    _check_png(plot_keogram(keo), tmp_path / "keogram.png")
    _check_png(plot_keogram(keo.drop_vars("predicted")), tmp_path / "keogram_plain.png")
