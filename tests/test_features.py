"""Feature extraction over dask chunks: shapes, invalid cells, chunk independence, one load."""

from __future__ import annotations

import dask
import numpy as np
import pytest
import xarray as xr

import tame_xr
from tame_xr import backbones
from tame_xr.features import CUDA_TOLERANCE


@pytest.fixture(scope="module")
def season(sample_dir):
    ds = tame_xr.read_images(sample_dir["asim"])
    return ds.isel(time=slice(0, 20))


def test_features_of_season_images(season, tmp_path):
    feats = tame_xr.extract_features(season)
    assert feats["features"].dims == ("time", "station", "feature")
    assert feats.sizes["feature"] == 1000 and feats.sizes["statistic"] == 9
    assert feats["features"].chunks is not None  # lazy
    assert feats.attrs["backbone"] == "efficientnet_lite0"
    assert len(feats.attrs["weights_sha256"]) == 64
    values = feats.compute()
    valid = season["valid"].values
    assert np.isfinite(values["features"].values[valid]).all()
    assert np.isnan(values["features"].values[~valid]).all()
    store = tame_xr.Store(tmp_path / "s.zarr")
    store.write(feats, "features/5577")
    back = store.open("features/5577")
    np.testing.assert_array_equal(back["features"].values, values["features"].values)
    assert back.attrs["weights_sha256"] == feats.attrs["weights_sha256"]


def test_invalid_cells_are_not_fed_to_the_network(season):
    masked = season.copy()
    masked["valid"] = season["valid"].copy(data=np.zeros_like(season["valid"].values))
    masked["valid"][3, 0] = True
    feats = tame_xr.extract_features(masked).compute()
    assert np.isfinite(feats["features"].values).all(axis=-1).sum() == 1


def test_results_do_not_depend_on_chunks_or_batch_size(season):
    a = tame_xr.extract_features(season.chunk(time=3), batch_size=2).compute()
    b = tame_xr.extract_features(season.chunk(time=20), batch_size=64).compute()
    np.testing.assert_allclose(a["features"].values, b["features"].values, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(a["statistics"].values, b["statistics"].values, rtol=1e-6)


def test_model_loaded_once_per_process_with_threads(season):
    backbones.clear_cache()
    before = backbones.load_count()
    feats = tame_xr.extract_features(season.chunk(time=2))
    with dask.config.set(scheduler="threads", num_workers=4):
        feats.compute()
    # one load by extract_features itself (to size the output), none by the 20 tasks
    assert backbones.load_count() - before == 1


def test_oath_mini_features(shared_data):
    oath = tame_xr.read_oath(shared_data / "oath_mini", report=tame_xr.IngestReport())
    feats = oath.tame.features().compute()
    assert feats["features"].dims == ("sample", "feature")
    assert list(feats["class6"].values) == list(oath["class6"].values)
    assert np.isfinite(feats["features"].values).all()


@pytest.mark.skipif(
    not __import__("torch").cuda.is_available(), reason="needs a CUDA device (none on this machine)"
)
def test_cuda_matches_cpu(season):
    cpu = tame_xr.extract_features(season, device="cpu").compute()["features"].values
    gpu = tame_xr.extract_features(season, device="cuda").compute()["features"].values
    ok = np.isfinite(cpu)
    assert np.abs(gpu[ok] - cpu[ok]).max() / np.abs(cpu[ok]).max() < CUDA_TOLERANCE
    assert (gpu.argmax(-1) == cpu.argmax(-1))[np.isfinite(cpu).all(-1)].mean() > 0.95


def test_bad_dims():
    with pytest.raises(ValueError, match="must end with y, x"):
        tame_xr.extract_features(xr.DataArray(np.zeros((4, 4, 2)), dims=("y", "x", "time")))
