"""SIGKILL during ingest and feature writing: the store still opens, holds only what a clean
run has, a rerun completes, and the result equals a clean run.

Ingest: killed at fixed times after the start of the process (2.6-4.4 s: inside the ingest
on the 2-core development machine, 0-950 of 950 cells stored when killed). Features: the
child prints "ready" after its imports and model load; it is killed at a fraction of the
duration of the same write done cleanly in this process, once while it creates the feature
group (staged copy swapped in) and twice while it appends in place to a group that holds the
first half of the times; the rerun runs here. Features are computed on the CPU (float32,
the same batches in every run), so partial and final groups equal the clean run exactly. On
a faster or slower machine some kills fall before the first write or after the last, which
the assertions cover too. ``bench/faults.py`` runs many such trials at random kill points.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr

import tame_xr

INGEST = """
import importlib
import sys
ingest = importlib.import_module("tame_xr.ingest")  # the module (tame_xr.ingest is the function)
ingest.BATCH_BYTES = 64 * 64 * 2 * 64  # one chunk of rows per batch: many appends
ingest.ingest("images", sys.argv[1], sys.argv[2])
print("done", flush=True)
"""


def run_ingest(files, store_path, kill_after: float | None):
    proc = subprocess.Popen(
        [sys.executable, "-c", INGEST, str(files), str(store_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if kill_after is None:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        return True
    time.sleep(kill_after)
    finished = proc.poll() is not None
    if not finished:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    return finished


@pytest.fixture(scope="module")
def clean(sample_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("clean") / "s.zarr"
    run_ingest(sample_dir["asim"][0].parents[4], path, None)
    return tame_xr.Store(path).open("asim/5577").load()


@pytest.mark.parametrize("kill_after", [2.6, 3.2, 3.8, 4.4])
def test_sigkill_during_ingest(sample_dir, clean, tmp_path, kill_after):
    files = sample_dir["asim"][0].parents[4]
    path = tmp_path / "s.zarr"
    run_ingest(files, path, kill_after)
    store = tame_xr.Store(path)
    if store.exists("asim/5577"):
        partial = store.open("asim/5577").load()  # opens (recovering first)
        assert partial.indexes["time"].is_monotonic_increasing
        # what is there is exactly what a clean run has at those cells
        want = clean.sel(time=partial["time"], station=partial["station"])
        ok = partial["valid"].values
        np.testing.assert_array_equal(partial["image"].values[ok], want["image"].values[ok])
    run_ingest(files, path, None)
    final = store.open("asim/5577").load()
    xr.testing.assert_equal(
        final.sortby("station").drop_attrs(), clean.sortby("station").drop_attrs()
    )


FEATURES = """
import sys
import warnings

import tame_xr
from tame_xr.backbones import load_backbone

warnings.filterwarnings("ignore")
load_backbone(device="cpu")
print("ready", flush=True)
store = tame_xr.Store(sys.argv[1])
images = store.open("asim/5577", chunks={"time": 16}, end=sys.argv[2])
store.write(tame_xr.extract_features(images, device="cpu"), "features/asim/5577")
print("done", flush=True)
"""
N_TIMES = 32  # features of the first 32 times (64 images), in dask chunks of 16 times


def write_features(store_path, end) -> None:
    """What FEATURES does, in this process."""
    import warnings

    store = tame_xr.Store(store_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        images = store.open("asim/5577", chunks={"time": 16}, end=end)
        store.write(tame_xr.extract_features(images, device="cpu"), "features/asim/5577")


def kill_features(store_path, end, kill_after: float) -> bool:
    """Run FEATURES in a subprocess; SIGKILL it ``kill_after`` s after it is ready."""
    proc = subprocess.Popen(
        [sys.executable, "-c", FEATURES, str(store_path), str(end)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if line.strip() != "ready":
        _, err = proc.communicate(timeout=60)
        raise AssertionError(f"child failed before its work: {line}{err}")
    time.sleep(kill_after)
    finished = proc.poll() is not None
    if not finished:
        os.kill(proc.pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert finished or proc.returncode == -signal.SIGKILL, err
    assert not finished or proc.returncode == 0, err
    return finished


@pytest.fixture(scope="module")
def feature_runs(sample_dir, tmp_path_factory):
    """Starting stores (images only; images and the first half of the features) and the clean
    result of writing the features of the first N_TIMES times, with its duration."""
    import shutil

    base = tmp_path_factory.mktemp("features")
    images = base / "images.zarr"
    tame_xr.ingest("images", sample_dir["asim"][0].parents[4], images)
    times = tame_xr.Store(images).open("asim/5577").indexes["time"]
    end, half_end = times[N_TIMES - 1], times[N_TIMES // 2 - 1]
    half = base / "half.zarr"
    shutil.copytree(images, half)
    # Half the times in whole chunks of 16: the network sees the same batches as in the full
    # write, so the stored half equals the clean run exactly.
    write_features(half, half_end)
    clean = base / "clean.zarr"
    shutil.copytree(images, clean)
    started = time.perf_counter()
    write_features(clean, end)
    seconds = time.perf_counter() - started
    result = tame_xr.Store(clean).open("features/asim/5577").load()
    return {"create": images, "append": half, "end": end, "clean": result, "seconds": seconds}


@pytest.mark.parametrize(("start", "fraction"), [("create", 0.6), ("append", 0.3), ("append", 0.8)])
def test_sigkill_during_feature_writing(feature_runs, tmp_path, start, fraction):
    import shutil

    path = tmp_path / "s.zarr"
    shutil.copytree(feature_runs[start], path)
    clean = feature_runs["clean"]
    kill_features(path, feature_runs["end"], fraction * feature_runs["seconds"])
    store = tame_xr.Store(path)
    group = "features/asim/5577"
    if start == "append" or store.exists(group):
        partial = store.open(group).load()  # opens (recovering first)
        index = partial.indexes["time"]
        assert index.is_unique and index.is_monotonic_increasing
        assert index.isin(clean.indexes["time"]).all()
        # what is there is exactly what a clean run has at those cells
        want = clean.sel(time=partial["time"], station=partial["station"])
        ok = partial["valid"].values
        assert not (ok & ~want["valid"].values).any()
        for name in ("features", "statistics"):
            np.testing.assert_array_equal(partial[name].values[ok], want[name].values[ok])
    else:
        store.recover()  # killed before the swap: nothing to finish
        assert not store.exists(group), "open() would have missed a pending swap"
    write_features(path, feature_runs["end"])  # the rerun completes
    final = store.open(group).load()
    xr.testing.assert_equal(
        final.sortby("station").drop_attrs(), clean.sortby("station").drop_attrs()
    )


# Kills at exact points of the protocol (the child replaces one library call, or one of our
# file operations, with SIGKILL of itself): windows too narrow for random kills to hit.
EXACT = r"""
import os, pickle, signal, sys
import xarray as xr, zarr
import tame_xr
from tame_xr import _journal
from tame_xr._files import StoreFiles

def die(*args, **kw):
    os.kill(os.getpid(), signal.SIGKILL)

case, path, data = sys.argv[1], sys.argv[2], pickle.loads(bytes.fromhex(sys.argv[3]))
store = tame_xr.Store(path)
if case == "append-then-recover":
    if sys.argv[4] == "append":
        xr.Dataset.to_zarr = die  # after the journal and the resize, before any region write
        store.write(data, "g")
    else:
        zarr.Array.__setitem__ = die  # recovery killed while it rewrites a straddling chunk
        store.recover()
elif case == "swap-new":
    _journal.finish_swap = lambda files, entry: die()  # journal written, staged copy complete
    store.write(data, "g")
elif case == "swap-rebuild":
    move = StoreFiles.move_tree
    def move_then_die(self, src, dst):
        move(self, src, dst)
        if "/trash/" in dst:  # the old group moved away, the new one not yet in place
            die()
    StoreFiles.move_tree = move_then_die
    store.write(data, "g")
"""


def _records(start: str, n: int):
    import pandas as pd

    times = pd.date_range(start, periods=n, freq="1min")
    return xr.Dataset(
        {
            "x": (("time", "station"), np.arange(2 * n, dtype="float64").reshape(n, 2)),
            "valid": (("time", "station"), np.ones((n, 2), bool)),
        },
        coords={"time": times, "station": ["lyr", "nya"]},
    )


def _killed(*args: str, data) -> None:
    import pickle

    argv = [sys.executable, "-c", EXACT, args[0], args[1], pickle.dumps(data).hex(), *args[2:]]
    assert subprocess.run(argv, capture_output=True).returncode == -signal.SIGKILL


def test_kill_during_recovery_keeps_committed_data(tmp_path):
    store = tame_xr.Store(tmp_path / "s.zarr")
    store.write(_records("2014-12-01T17:00", 4), "g")  # one chunk, straddling the shape
    committed = store.open("g").load()
    more = _records("2014-12-01T17:04", 4)
    _killed("append-then-recover", str(store.path), "append", data=more)
    _killed("append-then-recover", str(store.path), "recover", data=more)
    xr.testing.assert_equal(store.open("g").load().drop_attrs(), committed.drop_attrs())
    store.write(more, "g")  # the rerun completes
    assert store.open("g").sizes["time"] == 8


@pytest.mark.parametrize("case", ["swap-new", "swap-rebuild"])
def test_open_finishes_a_pending_swap(case, tmp_path):
    store = tame_xr.Store(tmp_path / "s.zarr")
    later, earlier = _records("2014-12-01T18:00", 4), _records("2014-12-01T17:00", 4)
    if case == "swap-rebuild":
        store.write(later, "g")
    _killed(case, str(store.path), data=earlier if case == "swap-rebuild" else later)
    assert store.groups() == ["g"]  # lists it: the staged copy is committed to
    got = store.open("g").load()  # and opens it
    want = xr.concat([earlier, later], "time") if case == "swap-rebuild" else later
    xr.testing.assert_equal(got.drop_attrs(), want)
