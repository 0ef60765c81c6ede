"""The same calls on a dask.distributed LocalCluster (2 worker processes) give the same results."""

from __future__ import annotations

import dask
import numpy as np
import pytest

import tame_xr

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        memory_limit="3GiB",
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def test_features_and_classes_equal_local(sample_dir, sample_classifier, client):
    images = tame_xr.read_images(sample_dir["asim"]).isel(time=slice(0, 64)).chunk(time=16)
    local = tame_xr.extract_features(images).compute(scheduler="threads")
    remote = tame_xr.extract_features(images).compute()  # the client is the default scheduler
    np.testing.assert_allclose(
        remote["features"].values, local["features"].values, rtol=1e-4, atol=1e-4, equal_nan=True
    )
    clf, _ = sample_classifier
    got = clf.classify(tame_xr.extract_features(images)).compute()
    want = clf.classify(local)
    np.testing.assert_array_equal(got["predicted"].values, want["predicted"].values)
    # each worker process loaded the model itself, once (nothing shipped with the tasks)
    counts = client.run(lambda: __import__("tame_xr.backbones").backbones.load_count())
    assert set(counts.values()) <= {0, 1} and 1 in counts.values()


def test_cluster_analysis_equals_local(sample_store, client):
    """The chunk-wise PCA and k-means give the same result on the cluster as locally."""
    from sklearn.metrics import adjusted_rand_score

    from tame_xr.analysis.clusters import cluster_features

    feats, classes = sample_store.open("features/5577"), sample_store.open("classes/5577")
    with dask.config.set(scheduler="threads"):
        local = cluster_features(feats, classes, n_components=10)
    with distributed.get_task_stream(client) as stream:
        remote = cluster_features(feats, classes, n_components=10)  # the client's workers
    assert len({t["worker"] for t in stream.data}) == 2  # the work ran on both workers
    np.testing.assert_array_equal(remote["time"].values, local["time"].values)
    assert adjusted_rand_score(remote["cell_cluster"], local["cell_cluster"]) == 1.0
    np.testing.assert_allclose(remote["explained_variance"], local["explained_variance"], rtol=1e-6)
    np.testing.assert_allclose(remote["embedding"], local["embedding"], rtol=1e-4, atol=1e-4)
    assert float(remote["ari"]) == pytest.approx(float(local["ari"]), abs=1e-9)


def test_cli_runs_on_a_scheduler(sample_dir, client, tmp_path):
    """`tame-xr --scheduler ADDRESS features ...` runs the extraction on that cluster."""
    import subprocess
    import sys

    store = tame_xr.Store(tmp_path / "s.zarr")
    tame_xr.ingest("images", sorted(sample_dir["asim"])[:48], store)
    address = client.scheduler.address
    base = [sys.executable, "-m", "tame_xr", "--no-progress", "--store", str(store.path)]
    with distributed.get_task_stream(client) as stream:  # the scheduler's, any client's tasks
        run = subprocess.run(
            [*base, "--scheduler", address, "features", "--group", "asim/5577"],
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert run.returncode == 0, run.stderr
    assert stream.data  # the work ran on the cluster
    want = tame_xr.extract_features(store.open("asim/5577")).compute(scheduler="threads")
    got = store.open("features/5577")
    np.testing.assert_allclose(
        got["features"].values, want["features"].values, rtol=1e-4, atol=1e-4, equal_nan=True
    )
    loads = client.run(lambda: __import__("tame_xr.backbones").backbones.load_count())
    assert set(loads.values()) <= {0, 1} and 1 in loads.values()
    bad = subprocess.run(
        [*base, "--scheduler", "tcp://127.0.0.1:9", "features", "--group", "asim/5577"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode != 0 and "cannot reach the dask scheduler" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_gpu_resource_routes_extraction(sample_dir):
    """Tasks annotated with resources={"GPU": 1} run only on the worker that declares it
    (CPU workers standing in for GPU ones: the plumbing, not the device)."""
    from distributed import Client, Nanny, Scheduler, SpecCluster

    workers = {
        "gpu": {"cls": Nanny, "options": {"nthreads": 1, "resources": {"GPU": 1}}},
        "cpu": {"cls": Nanny, "options": {"nthreads": 1}},
    }
    scheduler = {"cls": Scheduler, "options": {"dashboard_address": ":0"}}
    images = tame_xr.read_images(sample_dir["asim"]).isel(time=slice(0, 32)).chunk(time=8)
    with SpecCluster(workers=workers, scheduler=scheduler) as cluster, Client(cluster) as client:
        client.wait_for_workers(2)
        feats = tame_xr.extract_features(images, resources={"GPU": 1})
        with dask.config.set({"optimization.fuse.active": False}):
            values = feats["features"].compute()
        loads = client.run(lambda: __import__("tame_xr.backbones").backbones.load_count())
        names = {w["name"]: addr for addr, w in client.scheduler_info()["workers"].items()}
    assert np.isfinite(values.values[images["valid"].values]).all()
    assert loads[names["gpu"]] == 1 and loads[names["cpu"]] == 0
