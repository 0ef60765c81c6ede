"""Ingest throughput against the bare decode rate of the same files, measured in one run.

Writes N synthetic UiO-named PNGs (two stations, one-minute cadence), then measures

* bare decode: one thread, Pillow open + ``numpy.asarray`` of every file (images/s per core);
* ingest: ``tame_xr.ingest("images", ...)`` into a fresh store (scan, threaded decode, Zarr
  write), images/s with all cores.

Prints ``ingest_vs_decode`` = ingest rate / (bare decode rate × cores used); the aim is ≥ 0.8.
Last line: ``RESULT ingest_vs_decode=<r> ingest_img_s=<r> decode_img_s=<r> cores=<n>``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def write_files(folder: Path, n: int, size: int, seed: int = 0) -> list[Path]:
    from tame_xr.sample import render_sky

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    start = np.datetime64("2014-12-01T17:00")
    for i in range(n):
        station = ("nya6", "lyr6")[i % 2]
        minute = start + np.timedelta64(i // 2, "m")
        stamp = str(minute.astype("datetime64[s]")).replace("-", "").replace(":", "")
        day, clock = stamp.split("T")
        clock = clock[:4] + f"{int(rng.integers(0, 30)):02d}"
        sky = render_sky(int(rng.integers(0, 6)), rng, size)
        path = folder / f"{station}_{day}_{clock}_5577_cal.png"
        Image.fromarray((np.clip(sky, 0, 1) * 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def bare_decode(paths: list[Path]) -> float:
    started = time.perf_counter()
    for path in paths:
        with Image.open(path) as img:
            np.asarray(img)
    return len(paths) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small run (< 30 s)")
    parser.add_argument("--n", type=int, default=None, help="number of images")
    parser.add_argument("--size", type=int, default=None, help="image side in pixels")
    args = parser.parse_args()
    n = args.n or (600 if args.quick else 4000)
    size = args.size or (256 if args.quick else 512)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    import tame_xr

    work = Path(tempfile.mkdtemp(prefix="tame_xr_bench_ingest_"))
    try:
        paths = write_files(work / "files", n, size)
        bare_decode(paths[:20])  # warm the file cache and Pillow
        decode_rate = max(bare_decode(paths) for _ in range(2))
        started = time.perf_counter()
        report = tame_xr.ingest("images", work / "files", work / "store.zarr", threads=cores)
        ingest_rate = len(report.added) / (time.perf_counter() - started)
        assert len(report.added) == n, report.summary()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = ingest_rate / (decode_rate * cores)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"images: {n} of {size}x{size} uint8, cores: {cores}")
    print(f"bare decode (1 thread): {decode_rate:8.1f} images/s")
    print(f"ingest ({cores} threads): {ingest_rate:8.1f} images/s")
    print(f"ingest / (decode x cores): {ratio:.2f}   peak RSS {peak_mb:.0f} MB")
    print(
        f"RESULT ingest_vs_decode={ratio:.3f} ingest_img_s={ingest_rate:.1f} "
        f"decode_img_s={decode_rate:.1f} cores={cores}"
    )


if __name__ == "__main__":
    main()
