"""SIGKILL at random points of the image ingest and of the feature writing; check recovery.

Data: the SYNTHETIC sample (``tame_xr.sample.write_sample``: one night, two stations, 950
images of 64 px; ``--quick``: 16 px, 350 images of 17-19 UT for the ingest). Features are
written for the first N = 96 times (``--quick``: 16) in dask chunks of C = 16 (8) times, on
the CPU (float32; every run feeds the network the same batches, so every comparison below
is exact). Four phases, each a kind of write into a store:

``ingest``
    ``tame_xr.ingest("images", ...)`` into an empty store with ``ingest.BATCH_BYTES`` set to
    one chunk of rows, so the group is created (staged copy, journal kind "swap") and then
    appended to in place ("inplace") batch after batch.
``features-create``
    ``store.write(extract_features(store.open("asim/5577", chunks={"time": C}, end=...)),
    "features/asim/5577")`` over the first N times, into a store without features: one staged
    write swapped in.
``features-append``
    The same write into a store whose feature group already holds the first N/2 times: one
    in-place append (arrays resized, regions written, presence flag last).
``features-steps``
    The same times written block by block (C times each): a creation, then many in-place
    appends, so the kills fall on every stage of the write protocol, commits included.

The ingest and features-create first run once unkilled (the clean runs): their final groups
are the references (every feature phase must end with features-create's group; without
``--quick`` the other feature phases get a clean run too, checked against it). Every trial
starts a fresh process on a fresh copy of the phase's starting store, waits until it has
imported and loaded the model, tells it to start, sleeps a delay drawn uniformly in
[0, window] (``numpy.random.default_rng(--seed)``) and SIGKILLs it if it is still running.
The window is the median duration of the work (after imports and model load) in the phase's
full runs so far: its clean run, trial runs that ended before their kill, and feature reruns
(which recompute every image); it follows the speed of a machine shared with other work.
The checks, each a failure of the trial when it does not hold (the bench goes on):

1. ``Store(path).open(group)`` works (it recovers first), or the group is absent and stays
   absent after ``Store.recover()`` (killed before the commit point of its creation);
2. what is there is a subset of the clean run: sorted unique times and stations found in it,
   ``valid`` only where the clean run has it, every variable equal (exactly, NaN = NaN) at
   the valid cells;
3. a rerun of the same work (a fresh process, not killed) completes;
4. the final group equals the clean run's (``xr.testing.assert_equal`` after ``sortby
   ("station")`` and ``drop_attrs()``), no journal is left and staging and trash are empty,
   and plain ``xr.open_zarr(store, group=...)`` (consolidated metadata) gives the same times
   and ``valid``.

Processes are forked from a ``multiprocessing`` forkserver that has imported torch, xarray
and tame_xr, so a trial does not pay 4-7 s of imports; each trial process loads the model
itself and is killed with ``os.kill(pid, SIGKILL)`` (``Process.kill``). Leftover
``*.partial`` files (Zarr's atomic-write temporaries) in the final store and ``*.tmp`` files
in the journal folder (a journal killed before its rename) are listed, not failed.
Last line: ``RESULT trials=<n> failures=<n> ingest_trials=<n> feature_trials=<n>
clean_failures=<n>`` (failures: trials with a failed check; clean_failures: clean runs that
failed or differ from features-create's).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

IMAGES = "asim/5577"
FEATURES = "features/asim/5577"
PHASES = ("ingest", "features-create", "features-append", "features-steps")
PRELOAD = ["numpy", "xarray", "zarr", "dask.array", "torch", "tame_xr", "tame_xr.backbones"]


# ------------------------------------------------------------------------------- the work
def _quiet() -> None:
    warnings.filterwarnings("ignore", message="The specified chunks separate")
    warnings.filterwarnings("ignore", category=RuntimeWarning)


def prepare(phase: str) -> None:
    """Imports and model load: done before the kill window opens."""
    import tame_xr  # noqa: F401

    if phase.startswith("features"):
        from tame_xr.backbones import load_backbone

        load_backbone(device="cpu")


def work(phase: str, path: str, cfg: dict) -> None:
    """The write a trial kills (and its rerun repeats)."""
    import importlib

    import tame_xr

    _quiet()
    if phase == "ingest":
        ingest = importlib.import_module("tame_xr.ingest")  # tame_xr.ingest is the function
        ingest.BATCH_BYTES = cfg["batch_bytes"]  # one chunk of rows per batch: many appends
        ingest.ingest("images", cfg["files"], path)
        return
    store = tame_xr.Store(path)
    chunk = cfg["chunk"]
    if phase in ("features-create", "features-append"):
        images = store.open(IMAGES, chunks={"time": chunk}, end=cfg["end"])
        store.write(tame_xr.extract_features(images, device="cpu"), FEATURES)
    elif phase == "features-steps":
        for start in range(0, cfg["n_times"], chunk):
            images = store.open(IMAGES, chunks={"time": chunk}).isel(
                time=slice(start, start + chunk)
            )
            store.write(tame_xr.extract_features(images, device="cpu"), FEATURES)
    else:
        raise ValueError(phase)


def _child(phase: str, path: str, cfg: dict, conn) -> None:
    _quiet()
    prepare(phase)
    conn.send("ready")
    conn.recv()  # go
    started = time.perf_counter()
    try:
        work(phase, path, cfg)
    except BaseException as err:
        conn.send(("error", short(err)))
        raise SystemExit(1) from None
    conn.send(("done", time.perf_counter() - started))


def run_child(ctx, phase: str, path: Path, cfg: dict, delay: float | None, timeout: float = 300):
    """Run the work in a fresh process; SIGKILL it ``delay`` s after it starts working.

    Returns ``(killed, work_seconds or None)``; raises if the process failed on its own.
    """
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(phase, str(path), cfg, child), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout) or parent.recv() != "ready":
            raise RuntimeError("child did not get ready")
        parent.send("go")
        if delay is not None:
            time.sleep(delay)
            if proc.is_alive():
                proc.kill()  # SIGKILL
                proc.join(60)
                return True, None
        if not parent.poll(timeout):
            raise RuntimeError(f"child still working after {timeout} s")
        what, seconds = parent.recv()
        proc.join(60)
        if what == "error":
            raise RuntimeError(f"the work failed in the child: {seconds}")
        if proc.exitcode != 0:
            raise RuntimeError(f"child exited with {proc.exitcode}")
        return False, seconds
    except (EOFError, OSError) as err:
        proc.join(60)
        raise RuntimeError(f"child died (exit code {proc.exitcode}): {err!r}") from None
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(60)
        parent.close()


# ------------------------------------------------------------------------------- checks
def group_of(phase: str) -> str:
    return IMAGES if phase == "ingest" else FEATURES


def reference_of(phase: str) -> str:
    """The clean run a phase's final group must equal."""
    return "ingest" if phase == "ingest" else "features-create"


def short(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {' '.join(lines[:3])[:300]}"


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype.kind in "fc":
        return np.array_equal(a, b, equal_nan=True)
    if a.dtype.kind == "M":
        return np.array_equal(a.astype("int64"), b.astype("int64"))
    return np.array_equal(a, b)


def check_partial(path: Path, group: str, clean) -> int:
    """Checks 1-2 after a kill; returns the valid cells found. Raises AssertionError."""
    import tame_xr

    store = tame_xr.Store(path)
    try:
        part = store.open(group).load()
    except KeyError:
        store.recover()
        assert not store.exists(group), "open() raised KeyError but recover() then made the group"
        return 0
    rdim = "time"
    index = part.indexes[rdim]
    assert index.is_unique and index.is_monotonic_increasing, "times not sorted and unique"
    missing = index.difference(clean.indexes[rdim])
    assert not len(missing), f"times not in the clean run: {list(missing[:3])}"
    stations = set(part["station"].values)
    assert stations <= set(clean["station"].values), f"stations {stations} not in the clean run"
    want = clean.sel(time=part["time"], station=part["station"])
    valid = part["valid"].transpose(rdim, "station").values
    assert not (valid & ~want["valid"].transpose(rdim, "station").values).any(), (
        "valid where the clean run is not"
    )
    for name, var in part.variables.items():
        if name in part.indexes:
            continue
        if rdim in var.dims:
            lead = [d for d in (rdim, "station") if d in var.dims]
            mine = var.transpose(*lead, ...).values
            ref = want[name].transpose(*lead, ...).values
            cells = valid if "station" in var.dims else valid.any(axis=1)
            ok = _same(mine[cells], ref[cells])  # boolean index over the leading dims
        else:
            ok = _same(var.values, want[name].transpose(*var.dims).values)
        assert ok, f"{name}: values differ from the clean run at stored valid cells"
    return int(valid.sum())


def check_final(path: Path, group: str, clean) -> list[str]:
    """Check 4 after the rerun; returns leftover temporary files (reported, not failed)."""
    import xarray as xr

    import tame_xr

    final = tame_xr.Store(path).open(group).load()
    xr.testing.assert_equal(
        final.sortby("station").drop_attrs(), clean.sortby("station").drop_attrs()
    )
    base = Path(path).parent / f".{Path(path).name}.tame_xr"  # journal, staging, trash
    junk = [str(p.relative_to(path)) for p in Path(path).rglob("*.partial")]
    for sub in ("journal", "staging", "trash"):
        left = sorted((base / sub).iterdir()) if (base / sub).exists() else []
        # A journal's temporary file (killed before its rename) was never a journal.
        tmp = [p for p in left if sub == "journal" and p.name.endswith(".tmp")]
        junk += [f"{base.name}/{sub}/{p.name}" for p in tmp]
        left = [p.name for p in left if p not in tmp]
        assert not left, f"{sub} not empty after the rerun: {left}"
    plain = xr.open_zarr(path, group=group)
    assert plain.indexes["time"].equals(final.indexes["time"]), "plain open_zarr: other times"
    plain_valid = plain["valid"].transpose(*final["valid"].dims).values
    assert plain["station"].values.tolist() == final["station"].values.tolist() and (
        np.array_equal(plain_valid, final["valid"].values)
    ), "plain open_zarr: other stations or valid"
    return junk


# ------------------------------------------------------------------------------- the bench
def setup(ctx, work: Path, quick: bool) -> tuple[dict, dict[str, Path]]:
    """The sample, the configuration of the work and each phase's starting store."""
    import tame_xr
    from tame_xr.sample import write_sample

    size = 16 if quick else 64
    began = time.perf_counter()
    write_sample(work / "sample", seed=0, nights=1, image_size=size, oath_per_class=1)
    sample_s = time.perf_counter() - began
    chunk = 8 if quick else 16
    n_times = 16 if quick else 96
    cfg = {
        # --quick: 17-19 UT (360 images, 3 batches), else all 950 images (8 batches)
        "files": str(work / "sample" / "asim" / "*" / "5577" / "2014" / "20141201" / "*_1[789]*")
        if quick
        else str(work / "sample" / "asim"),
        "batch_bytes": size * size * 2 * 64,  # one chunk of rows (64 times, 2 stations)
        "chunk": chunk,
        "n_times": n_times,
    }
    images = work / "start-images" / "s.zarr"
    tame_xr.ingest("images", cfg["files"], images)
    store = tame_xr.Store(images)
    times = store.open(IMAGES).indexes["time"]
    cfg["end"] = str(times[n_times - 1])
    first = work / "start-first-half" / "s.zarr"
    shutil.copytree(images, first)
    # Half the times, in whole chunks: the network sees the same batches as in the full write.
    run_child(ctx, "features-create", first, {**cfg, "end": str(times[n_times // 2 - 1])}, None)
    print(
        f"setup: sample {sample_s:.1f} s, starting stores {time.perf_counter() - began - sample_s:.1f}"
        " s (waits for the forkserver's imports)"
    )
    starts = {
        "ingest": None,
        "features-create": images,
        "features-append": first,
        "features-steps": images,
    }
    return cfg, starts


def fresh(start: Path | None, dest: Path) -> Path:
    if dest.parent.exists():
        shutil.rmtree(dest.parent)
    dest.parent.mkdir(parents=True)
    if start is not None:
        shutil.copytree(start, dest)
    return dest


def trial(ctx, phase, cfg, start, dest, clean, delay) -> dict:
    """One kill, checks 1-4. Never raises: a failed check is in ``out["fail"]``."""
    group = group_of(phase)
    out = {"phase": phase, "delay": delay, "killed": None, "cells": None, "fail": None}
    out["clean"] = clean
    began = time.perf_counter()
    path = fresh(start, dest)
    stage = "kill"
    try:
        if clean is None:
            raise RuntimeError("no clean run to compare with")
        out["killed"], out["work_s"] = run_child(ctx, phase, path, cfg, delay)
        stage = "after kill"
        out["cells"] = check_partial(path, group, clean)
        stage = "rerun"
        _, out["rerun_s"] = run_child(ctx, phase, path, cfg, None)
        stage = "final"
        out["junk"] = check_final(path, group, clean)
    except Exception as err:  # noqa: BLE001 - every failure is reported, the bench goes on
        out["fail"] = f"{stage}: {short(err)}"
        out["traceback"] = traceback.format_exc()
    out["trial_s"] = time.perf_counter() - began
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="4 + 4 trials, tiny data (< 60 s)")
    parser.add_argument("--ingest-trials", type=int, default=None)
    parser.add_argument("--feature-trials", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill delays")
    parser.add_argument("--tracebacks", action="store_true", help="print failures' tracebacks")
    args = parser.parse_args()
    n_ingest = args.ingest_trials if args.ingest_trials is not None else (4 if args.quick else 32)
    n_feat = args.feature_trials if args.feature_trials is not None else (4 if args.quick else 36)
    seed = args.seed
    rng = np.random.default_rng(seed)
    _quiet()

    import tame_xr

    began = time.perf_counter()
    # Killed processes cannot release their semaphores (tqdm's and Blosc's locks); the
    # resource tracker removes them at the end, and need not warn about each one.
    warn = "ignore::UserWarning:multiprocessing.resource_tracker"
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), warn]))
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    from multiprocessing import forkserver

    forkserver.ensure_running()  # imports torch &c. while the sample is written
    work_dir = Path(tempfile.mkdtemp(prefix="tame_xr_bench_faults_"))
    results, clean_fails = [], {}
    try:
        cfg, starts = setup(ctx, work_dir, args.quick)
        feature_phases = PHASES[1:]
        plan = ["ingest"] * n_ingest + [feature_phases[i % 3] for i in range(n_feat)]
        from tame_xr.io.images import expand_files

        n_images = len(expand_files(cfg["files"]))
        print(
            f"seed {seed}; sample {cfg['n_times']} of 480 times for features "
            f"(dask chunks of {cfg['chunk']}), {n_images} images for ingest; "
            f"trials: {n_ingest} ingest, {n_feat} features"
        )
        # Clean runs. Every feature phase must end with the same group: features-create's.
        # Kill windows: the median duration of the phase's full runs so far (clean run, runs
        # that finished before their kill, feature reruns, which recompute everything); the
        # machine's speed drifts with its load.
        cleans, durations = {}, {}
        for phase in PHASES:
            if phase == "features-create" and n_feat:
                pass  # the reference of every feature phase
            elif phase not in plan or (args.quick and phase != "ingest"):
                continue  # --quick: features-create's window serves every feature phase
            path = fresh(starts[phase], work_dir / f"clean-{phase}" / "s.zarr")
            try:
                _, seconds = run_child(ctx, phase, path, cfg, None)
                durations[phase] = [seconds]
                cleans[phase] = tame_xr.Store(path).open(group_of(phase)).load()
                ref = cleans.get(reference_of(phase))
                if ref is not None and not ref.drop_attrs().equals(cleans[phase].drop_attrs()):
                    raise AssertionError("final group differs from features-create's")
                n_valid = int(cleans[phase]["valid"].sum())
                print(f"clean {phase:<16} work {seconds:6.2f} s, {n_valid} valid cells")
            except Exception as err:  # noqa: BLE001 - reported; its trials still run
                clean_fails[phase] = short(err)
                print(f"clean {phase:<16} FAILED: {clean_fails[phase]}")

        print(
            f"\n{'#':>3} {'phase':<16} {'kill at s':>9} {'window s':>8} {'killed':>6} "
            f"{'cells':>11} {'rerun s':>7}  result"
        )
        for i, phase in enumerate(plan):
            seen = durations.get(phase) or durations.get(reference_of(phase)) or [1.0]
            window = float(np.median(seen[-8:]))
            delay = float(rng.uniform(0, window))
            dest = work_dir / "trial" / "s.zarr"
            r = trial(ctx, phase, cfg, starts[phase], dest, cleans.get(reference_of(phase)), delay)
            total = "?" if r["clean"] is None else int(r["clean"]["valid"].sum())
            r["n"] = i
            results.append(r)
            full = [r.get("work_s")] + ([r.get("rerun_s")] if phase != "ingest" else [])
            durations.setdefault(phase, []).extend(x for x in full if x is not None)
            cells = "-" if r["cells"] is None else f"{r['cells']}/{total}"
            killed = {None: "-", True: "yes", False: "no"}[r["killed"]]
            rerun = f"{r['rerun_s']:.2f}" if "rerun_s" in r else "-"
            verdict = "ok" if r["fail"] is None else f"FAIL {r['fail']}"
            print(
                f"{i:>3} {phase:<16} {delay:9.3f} {window:8.2f} {killed:>6} "
                f"{cells:>11} {rerun:>7} {r['trial_s']:7.1f}  {verdict}",
                flush=True,
            )
            if r["fail"] and args.tracebacks:
                print(r["traceback"])
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)

    print(f"\n{'phase':<16} {'trials':>6} {'killed':>6} {'cells at kill (min/med/max)':>28} fails")
    for phase in PHASES:
        rs = [r for r in results if r["phase"] == phase]
        if not rs:
            continue
        cells = [r["cells"] for r in rs if r["cells"] is not None and r["killed"]]
        spread = f"{min(cells)}/{int(np.median(cells))}/{max(cells)}" if cells else "-"
        fails = sum(r["fail"] is not None for r in rs)
        killed = sum(bool(r["killed"]) for r in rs)
        print(f"{phase:<16} {len(rs):>6} {killed:>6} {spread:>28} {fails:>5}")
    failures = [r for r in results if r["fail"] is not None]
    for phase, reason in clean_fails.items():
        print(f"clean run of {phase} FAILED: {reason}")
    junk = [(r["n"], name) for r in results for name in r.get("junk", [])]
    print(f"leftover temporary files in final stores (not failures): {len(junk)}")
    for n, name in junk[:10]:
        print(f"  trial {n}: {name}")
    print(f"elapsed {time.perf_counter() - began:.1f} s")
    n_i = sum(r["phase"] == "ingest" for r in results)
    print(
        f"RESULT trials={len(results)} failures={len(failures)} ingest_trials={n_i} "
        f"feature_trials={len(results) - n_i} clean_failures={len(clean_fails)}"
    )


if __name__ == "__main__":
    main()
