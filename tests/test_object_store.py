"""A Store on object storage (an fsspec URL): the same calls, the same results, the same
crash safety. The object store is a local S3 endpoint served by moto's server, spoken to
through s3fs over HTTP like any S3-compatible service."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr

import tame_xr

pytest.importorskip("s3fs", reason="object-storage tests need s3fs (test extra)")
moto_server = pytest.importorskip("moto.server", reason="needs moto[server] (test extra)")


@pytest.fixture(scope="module")
def s3():
    """Storage options of a fresh local S3 endpoint with a bucket called ``bucket``."""
    import boto3

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    ).create_bucket(Bucket="bucket")
    yield {"key": "testkey", "secret": "testsecret", "endpoint_url": endpoint}
    server.stop()


@pytest.fixture(scope="module")
def asim_files(sample_dir):
    return sorted(sample_dir["asim"])


@pytest.fixture(scope="module")
def local(asim_files, tmp_path_factory):
    store = tame_xr.Store(tmp_path_factory.mktemp("local") / "s.zarr")
    tame_xr.ingest("images", asim_files, store)
    return store.open("asim/5577").load()


def test_incremental_writes_equal_local(s3, asim_files, local):
    store = tame_xr.Store("s3://bucket/incremental/s.zarr", s3)
    half = len(asim_files) // 2
    later, earlier = asim_files[half:], asim_files[:half]
    summary = tame_xr.ingest("images", later[: len(later) // 2], store)  # created
    assert summary.ok
    tame_xr.ingest("images", later, store)  # appended in place
    tame_xr.ingest("images", earlier, store)  # earlier times: rebuilt (staged copy, swapped)
    again = tame_xr.ingest("images", asim_files, store)  # nothing new
    assert not again.added and len(again.unchanged) == len(asim_files)
    assert store.groups() == ["asim/5577"]
    got = store.open("asim/5577").load()
    xr.testing.assert_equal(got.drop_attrs(), local.drop_attrs())
    # plain xarray opens it too (consolidated metadata at the root)
    plain = xr.open_zarr("s3://bucket/incremental/s.zarr", group="asim/5577", storage_options=s3)
    np.testing.assert_array_equal(plain["image"].values, local["image"].values)
    # no journal, staging or trash left behind
    assert store.files.find(store.files.work) == []


INGEST = """
import importlib, json, sys
ingest = importlib.import_module("tame_xr.ingest")
ingest.BATCH_BYTES = 64 * 64 * 2 * 64  # one chunk of rows per batch: many appends
from tame_xr import Store
store = Store(sys.argv[2], json.loads(sys.argv[3]))
ingest.ingest("images", sys.argv[1], store)
"""


@pytest.mark.parametrize("kill_after", [3.0, 4.5])
def test_sigkill_during_ingest_to_object_storage(s3, sample_dir, local, kill_after):
    import json

    url = f"s3://bucket/killed-{kill_after}/s.zarr"
    root = sample_dir["asim"][0].parents[4]
    argv = [sys.executable, "-c", INGEST, str(root), url, json.dumps(s3)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(kill_after)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    store = tame_xr.Store(url, s3)
    if store.exists("asim/5577"):
        partial = store.open("asim/5577").load()  # opens, recovering first
        want = local.sel(time=partial["time"], station=partial["station"])
        ok = partial["valid"].values
        np.testing.assert_array_equal(partial["image"].values[ok], want["image"].values[ok])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    final = store.open("asim/5577").load()
    xr.testing.assert_equal(final.drop_attrs(), local.drop_attrs())


def test_catalog_of_remote_store_keeps_no_credentials(s3, asim_files, tmp_path, monkeypatch):
    store = tame_xr.Store("s3://bucket/catalogued/s.zarr", s3)
    tame_xr.ingest("images", asim_files[:20], store)
    path = tame_xr.write_catalog(store, tmp_path / "remote.yaml")
    text = path.read_text()
    assert "s3://bucket/catalogued/s.zarr" in text and "endpoint_url" in text
    assert s3["secret"] not in text and s3["key"] not in text
    # credentials come from the environment, as usual for S3
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3["secret"])
    got = tame_xr.open_entry(path, "asim_5577").load()
    xr.testing.assert_identical(got, store.open("asim/5577").load())


def test_features_on_a_cluster_from_object_storage(s3, asim_files, tmp_path):
    """dask.distributed workers read images from the object store and write features to it;
    the result equals features computed locally from a local store."""
    distributed = pytest.importorskip("distributed")
    files = asim_files[:64]
    remote = tame_xr.Store("s3://bucket/cluster/s.zarr", s3)
    tame_xr.ingest("images", files, remote)
    local = tame_xr.Store(tmp_path / "s.zarr")
    tame_xr.ingest("images", files, local)
    want = tame_xr.extract_features(local.open("asim/5577")).compute(scheduler="threads")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address=":0", memory_limit="3GiB"
        ) as cluster,
        distributed.Client(cluster),
    ):
        remote.write(tame_xr.extract_features(remote.open("asim/5577")), "features/5577")
    got = remote.open("features/5577").load()
    np.testing.assert_allclose(
        got["features"].values, want["features"].values, rtol=1e-4, atol=1e-4, equal_nan=True
    )
    np.testing.assert_array_equal(got["valid"].values, want["valid"].values)


def test_cli_on_object_storage(s3, asim_files, local):
    import json

    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": s3["key"],
        "AWS_SECRET_ACCESS_KEY": s3["secret"],
    }
    url = "s3://bucket/cli/s.zarr"
    options = json.dumps({"endpoint_url": s3["endpoint_url"]})
    base = [sys.executable, "-m", "tame_xr", "--no-progress", "--store", url]
    folder = str(asim_files[0].parents[4])
    run = subprocess.run(
        [*base, "--storage-options", options, "ingest", "images", folder],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    got = tame_xr.Store(url, s3).open("asim/5577").load()
    xr.testing.assert_equal(got.drop_attrs(), local.drop_attrs())
    bad = subprocess.run(
        [*base, "--storage-options", "{endpoint", "ingest", "images", folder],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert bad.returncode != 0 and "--storage-options is not JSON" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_read_only_store_over_http(asim_files, tmp_path):
    """A store published on a plain web server opens through its http:// URL (read only:
    nothing to recover, nothing written)."""
    import functools
    import http.server
    import threading

    pytest.importorskip("aiohttp", reason="fsspec's http file system needs aiohttp")
    store = tame_xr.Store(tmp_path / "web" / "s.zarr")
    tame_xr.ingest("images", asim_files[:40], store)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(tmp_path / "web"))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        remote = tame_xr.Store(f"http://127.0.0.1:{server.server_port}/s.zarr")
        assert remote.groups() == ["asim/5577"]
        got = remote.open("asim/5577", end="2014-12-01T17:20").load()
    finally:
        server.shutdown()
    xr.testing.assert_identical(got, store.open("asim/5577", end="2014-12-01T17:20").load())
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
