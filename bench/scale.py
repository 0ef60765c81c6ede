"""Peak memory and throughput of ingest + feature extraction at N and 10·N images.

Writes 10·N synthetic UiO-named PNGs once (two stations, one-minute cadence; a pool of
rendered skies, PNG-encoded once and written under every name, so generating is cheap and
every file is still decoded on its own), and hard-links the first N into a second folder.
Generation is not measured. Then, for each size, a fresh child process (so the two sizes do
not share a high-water mark) runs:

* ingest: ``tame_xr.ingest("images", folder, store)`` into a new store (``asim/5577``);
* features: ``store.open("asim/5577")`` → :func:`tame_xr.extract_features` →
  ``store.write(feats, "features/asim/5577")`` (dask's default threaded scheduler), timed after
  the backbone is loaded and has run one warm-up batch (both inside the measured phase).

The child reads its peak resident memory (``VmHWM``) after each phase, resetting it in
between (``/proc/self/clear_refs``), so the ingest and features peaks are separate; the
overall peak is the larger. ``mem_ratio`` = overall peak at 10·N / overall peak at N; the aim
is ≤ 1.2 (memory does not grow with N). The N run must already reach the steady state, or it
under-measures:

* ingest decodes batches of whole time rows (up to 128 MiB, one prefetched while the other is
  written) and its peak is the worst overlap of a decode with a write's copies, which takes
  about six batches to show up (512x512, 128 MiB batches: 878 MiB at 1024 images, 1183 at
  3072, 1232 at 10240). So both modes cut the batch to its minimum of 64 time rows (128
  images; ``--batch-mib``, set on ``tame_xr.ingest``'s ``BATCH_BYTES`` in the child) and the N
  run spans many batches; ``--batch-mib 128`` measures the library's default;
* features run dask chunks of 64 images through the backbone; their peak settles after a few
  hundred images (then creeps: glibc heap fragmentation, see bench/RESULTS.md).

Default: N = 1024 of 512x512 (8 ingest batches at N); ``--quick``: N = 128 of 128x128 (one
batch at N, and below the features' settling point: a smoke test that finishes in < 60 s, its
ratio errs high). Images/s are those of each phase (features: after the backbone is loaded and
warmed up), at both sizes.

Last line: ``RESULT mem_ratio=<r> n_small=<n> n_large=<n> rss_small_mib=<m> rss_large_mib=<m>
ingest_img_s_small=<r> ingest_img_s_large=<r> features_img_s_small=<r> features_img_s_large=<r>
mem_ratio_ingest=<r> mem_ratio_features=<r>``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GROUP, FEATURES = "asim/5577", "features/asim/5577"
POOL = 48  # distinct rendered skies


def write_files(folder: Path, n: int, size: int, seed: int = 0) -> list[Path]:
    """n UiO-named PNGs, two stations alternating at one-minute cadence (as bench/ingest.py)."""
    from PIL import Image

    from tame_xr.sample import render_sky

    rng = np.random.default_rng(seed)
    pool = []
    for i in range(min(POOL, n)):
        sky = render_sky(i % 6, rng, size)
        buf = io.BytesIO()
        Image.fromarray((np.clip(sky, 0, 1) * 255).astype(np.uint8)).save(buf, format="PNG")
        pool.append(buf.getvalue())
    folder.mkdir(parents=True, exist_ok=True)
    start = np.datetime64("2014-12-01T17:00", "s")
    seconds = rng.integers(0, 30, n)
    paths = []
    for i in range(n):
        station = ("nya6", "lyr6")[i % 2]
        stamp = str(start + np.timedelta64(60 * (i // 2) + int(seconds[i]), "s"))
        day, clock = stamp.replace("-", "").replace(":", "").split("T")
        path = folder / f"{station}_{day}_{clock}_5577_cal.png"
        path.write_bytes(pool[i % len(pool)])
        paths.append(path)
    return paths


def link_subset(paths: list[Path], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        try:
            os.link(path, folder / path.name)
        except OSError:
            shutil.copyfile(path, folder / path.name)


# ----------------------------------------------------------------- child process
def _peak_kib() -> int:
    """Peak resident memory of this process (VmHWM), KiB."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def child(folder: str, store_path: str, batch_mib: float | None) -> None:
    import importlib

    import tame_xr

    ingest_mod = importlib.import_module("tame_xr.ingest")
    if batch_mib:
        ingest_mod.BATCH_BYTES = int(batch_mib * 2**20)
    out: dict = {"rss_start_kib": _peak_kib()}

    started = time.perf_counter()
    report = tame_xr.ingest("images", folder, store_path)
    out["ingest_s"] = time.perf_counter() - started
    out["n"] = len(report.added)
    assert not report.skipped, report.summary()
    out["rss_ingest_kib"] = _peak_kib()
    out["reset"] = _reset_peak()

    store = tame_xr.Store(store_path)
    # Load the backbone and warm it up on the thread that runs torch (the first forwards in
    # a process are slow); this stays inside the features phase's memory peak.
    tame_xr.extract_features(store.open(GROUP).isel(time=slice(0, 8))).compute()
    started = time.perf_counter()
    feats = tame_xr.extract_features(store.open(GROUP))
    store.write(feats, FEATURES)
    out["features_s"] = time.perf_counter() - started
    out["rss_features_kib"] = _peak_kib()
    written = store.open(FEATURES)
    out["n_features"] = int(written["valid"].sum())
    print("CHILD " + json.dumps(out), flush=True)
    os._exit(0)  # skip the interpreter's teardown (torch, thread pools): ~2 s of nothing


# ----------------------------------------------------------------- parent
def measure(folder: Path, store: Path, batch_mib: float | None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(folder), str(store)]
    if batch_mib:
        cmd += ["--batch-mib", str(batch_mib)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"child failed for {folder}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("CHILD ")][-1]
    res = json.loads(line[len("CHILD ") :])
    res["peak_kib"] = max(res["rss_ingest_kib"], res["rss_features_kib"])
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small run (< 60 s)")
    parser.add_argument("--n", type=int, default=None, help="images in the small run (N)")
    parser.add_argument("--factor", type=int, default=10, help="large run = factor x N")
    parser.add_argument("--size", type=int, default=None, help="image side in pixels")
    parser.add_argument(
        "--batch-mib",
        type=float,
        default=None,
        help="ingest batch in MiB (default: 64 rows; 128 = the library's default)",
    )
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "STORE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.batch_mib)
        return
    n = args.n or (128 if args.quick else 1024)
    size = args.size or (128 if args.quick else 512)
    batch_mib = args.batch_mib or (1 if args.quick else 32)
    sizes = (n, args.factor * n)

    work = Path(tempfile.mkdtemp(prefix="tame_xr_bench_scale_"))
    results = {}
    try:
        started = time.perf_counter()
        paths = write_files(work / "large", sizes[1], size)
        link_subset(paths[: sizes[0]], work / "small")
        gen_s = time.perf_counter() - started
        for label, count in zip(("small", "large"), sizes, strict=True):
            res = measure(work / label, work / f"{label}.zarr", batch_mib)
            assert res["n"] == count and res["n_features"] == count, res
            results[label] = res
            shutil.rmtree(work / f"{label}.zarr", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    small, large = results["small"], results["large"]
    mib = 1 / 1024
    ratio = large["peak_kib"] / small["peak_kib"]
    print(
        f"images: {sizes[0]} and {sizes[1]} of {size}x{size} uint8 (2 stations), "
        f"ingest batch <= {batch_mib:g} MiB"
    )
    print(f"generation (not measured): {gen_s:.1f} s")
    if not small["reset"]:
        print("(could not reset the peak between phases: features peak includes ingest)")
    print(
        f"{'images':>8} {'start MiB':>10} {'ingest MiB':>11} {'features MiB':>13} "
        f"{'peak MiB':>9} {'ingest img/s':>13} {'features img/s':>15}"
    )
    for res in (small, large):
        print(
            f"{res['n']:>8} {res['rss_start_kib'] * mib:>10.0f} {res['rss_ingest_kib'] * mib:>11.0f} "
            f"{res['rss_features_kib'] * mib:>13.0f} {res['peak_kib'] * mib:>9.0f} "
            f"{res['n'] / res['ingest_s']:>13.1f} {res['n'] / res['features_s']:>15.1f}"
        )
    ingest_ratio = large["rss_ingest_kib"] / small["rss_ingest_kib"]
    feat_ratio = large["rss_features_kib"] / small["rss_features_kib"]
    print(
        f"peak {sizes[1]} / {sizes[0]}: {ratio:.2f} (ingest {ingest_ratio:.2f}, "
        f"features {feat_ratio:.2f}); aim <= 1.2"
    )
    print(
        f"RESULT mem_ratio={ratio:.3f} n_small={sizes[0]} n_large={sizes[1]} "
        f"rss_small_mib={small['peak_kib'] * mib:.0f} rss_large_mib={large['peak_kib'] * mib:.0f} "
        f"ingest_img_s_small={small['n'] / small['ingest_s']:.1f} "
        f"ingest_img_s_large={large['n'] / large['ingest_s']:.1f} "
        f"features_img_s_small={small['n'] / small['features_s']:.1f} "
        f"features_img_s_large={large['n'] / large['features_s']:.1f} "
        f"mem_ratio_ingest={ingest_ratio:.3f} mem_ratio_features={feat_ratio:.3f}"
    )


if __name__ == "__main__":
    main()
