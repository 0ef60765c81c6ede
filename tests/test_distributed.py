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
        dashboard_address=None,
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
