"""The same calls on a dask.distributed LocalCluster (2 worker processes) give the same results."""

from __future__ import annotations

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
