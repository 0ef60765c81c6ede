"""Feature extraction throughput against the bare forward of the same model, measured in one run.

Writes N synthetic UiO-named PNGs (two stations, one-minute cadence) and ingests them into a
fresh store (not timed), loads the backbone and runs one warm-up batch, then measures, in
interleaved rounds (best of each kept, so slow phases of a shared machine hit all alike):

* end-to-end: ``store.open("asim/5577")`` → :func:`tame_xr.extract_features` →
  ``store.write(feats, "features/5577")`` (store read, preprocessing, forward, store write;
  dask's default threaded scheduler), from the open to the end of the write;
* bare forward: ``backbone.forward`` on one preprocessed ``(B, 3, 224, 224)`` float32 tensor
  already on the device, repeated over as many images with the same batch size;
* matmul roof: float32 (CUDA: bf16, as the forward's autocast) square matmul FLOP/s with the
  forward's torch threads;
* TAME-style: per-file Pillow decode and per-image numpy preprocessing in a torch
  ``Dataset`` feeding a ``DataLoader`` (batch B), the same forward, features collected in numpy.
  ``num_workers=0`` by default: with 2 worker processes it ran 2-3x slower on a 2-core machine
  (the workers share the cores with the forward, and forking a multi-GB process costs).

``--quick``: 128 images of 256x256 (one full 64-image chunk per station, so with B = 64 both
paths see the same batches); default: 1024 of 512x512. Minor page faults per image are printed
too: fresh memory touched by the forward's large activations is a cost of its own on CPU.

Prints ``pipeline_vs_forward`` (end-to-end / bare forward, aim ≥ 0.9), ``forward_vs_roof``
(bare forward × FLOPs per image / matmul FLOP/s) and ``vs_tame_style`` (end-to-end / TAME-style).
Last line: ``RESULT pipeline_vs_forward=<r> forward_vs_roof=<r> vs_tame_style=<r>
e2e_img_s=<r> forward_img_s=<r> device=<d>``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from ingest import write_files  # noqa: E402

GROUP, FEATURES = "asim/5577", "features/5577"
MEAN = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
STD = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def faults() -> int:
    """Minor page faults of this process so far (fresh memory being touched)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def end_to_end(store, n: int, batch_size: int, backbone: str) -> float:
    import tame_xr

    shutil.rmtree(store.path / "features", ignore_errors=True)  # a fresh group each run
    started = time.perf_counter()
    ds = store.open(GROUP)
    store.write(tame_xr.extract_features(ds, backbone, batch_size=batch_size), FEATURES)
    return n / (time.perf_counter() - started)


def bare_forward(model, x: torch.Tensor, n: int) -> float:
    sync(model.device)
    started = time.perf_counter()
    for start in range(0, n, len(x)):
        model.forward(x[: min(len(x), n - start)])
    sync(model.device)
    return n / (time.perf_counter() - started)


def matmul_flops(device: torch.device, reps: int = 5) -> float:
    size, dtype = (8192, torch.bfloat16) if device.type == "cuda" else (2048, torch.float32)
    a = torch.randn(size, size, device=device, dtype=dtype)
    best = 0.0
    for _ in range(reps):
        sync(device)
        started = time.perf_counter()
        a @ a
        sync(device)
        best = max(best, 2 * size**3 / (time.perf_counter() - started))
    return best


class TameStyle(torch.utils.data.Dataset):
    """TAME's preprocessing, one file at a time, in numpy and Pillow."""

    def __init__(self, paths: list[Path], size: int):
        self.paths = paths
        y, x = np.ogrid[:size, :size]
        c = (size - 1) / 2
        self.mask = (y - c) ** 2 + (x - c) ** 2 <= (size / 2) ** 2

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        with Image.open(self.paths[i]) as img:
            gray = np.asarray(img.convert("L"), dtype=np.float32)
        gray = np.where(self.mask, gray, 0)
        lo, hi = np.percentile(gray[self.mask], (0.5, 99.5))
        gray = np.clip(gray, lo, hi) * self.mask
        span = gray.max() - gray.min()
        gray = (gray - gray.min()) / span if span > 0 else np.zeros_like(gray)
        plane = Image.fromarray(gray.astype(np.float32)).resize((224, 224), Image.BILINEAR)
        out = np.zeros((3, 224, 224), np.float32)
        out[1] = np.asarray(plane)
        return torch.from_numpy((out - MEAN) / STD)


def tame_style(model, paths: list[Path], size: int, batch_size: int, workers: int) -> float:
    started = time.perf_counter()
    loader = torch.utils.data.DataLoader(
        TameStyle(paths, size), batch_size=batch_size, num_workers=workers
    )
    feats = np.concatenate([model.forward(x).cpu().numpy() for x in loader])
    assert feats.shape == (len(paths), model.n_features)
    return len(paths) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small run (< 60 s)")
    parser.add_argument("--n", type=int, default=None, help="number of images")
    parser.add_argument("--size", type=int, default=None, help="image side in pixels")
    parser.add_argument("--batch", type=int, default=64, help="batch size B")
    parser.add_argument("--rounds", type=int, default=2, help="timed runs of each (best kept)")
    parser.add_argument("--workers", type=int, default=0, help="TAME-style DataLoader workers")
    parser.add_argument("--backbone", default="efficientnet_lite0")
    args = parser.parse_args()
    n = args.n or (128 if args.quick else 1024)
    size = args.size or (256 if args.quick else 512)
    b = args.batch

    import tame_xr
    from tame_xr.backbones import count_flops, load_backbone
    from tame_xr.preprocess import preprocess

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        name = f"cpu ({cores} cores, {torch.get_num_threads()} torch threads)"
    work = Path(tempfile.mkdtemp(prefix="tame_xr_bench_features_"))
    rates: dict[str, list[float]] = {"e2e": [], "forward": [], "matmul": [], "tame": []}
    flt = {"e2e": 0, "forward": 0}
    try:
        paths = write_files(work / "files", n, size)
        store = tame_xr.Store(work / "store.zarr")
        report = tame_xr.ingest("images", work / "files", store)
        assert len(report.added) == n, report.summary()
        model = load_backbone(args.backbone, device=device)
        first = store.open(GROUP)["image"].isel(station=0, time=slice(0, b)).values
        x = preprocess(np.resize(first, (b, *first.shape[1:]))).to(device)
        bare_forward(model, x, b)  # warm-up: the first forwards in a process are slow
        flops = count_flops(model)
        for _ in range(args.rounds):
            f0 = faults()
            rates["e2e"].append(end_to_end(store, n, b, args.backbone))
            f1 = faults()
            rates["forward"].append(bare_forward(model, x, n))
            flt["e2e"] += f1 - f0
            flt["forward"] += faults() - f1
            rates["matmul"].append(matmul_flops(device))
            rates["tame"].append(tame_style(model, paths, size, b, args.workers))
        feats = store.open(FEATURES)
        assert (
            int(feats["valid"].sum()) == n
            and int(np.isfinite(feats["features"]).sum()) == n * model.n_features
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    e2e, fwd, mm, tame = (max(rates[k]) for k in ("e2e", "forward", "matmul", "tame"))
    pipeline_vs_forward = e2e / fwd
    forward_vs_roof = fwd * flops / mm
    vs_tame = e2e / tame
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"device: {name}   backbone: {args.backbone}, {flops / 1e9:.2f} GFLOP/image")
    print(f"images: {n} of {size}x{size} uint8, batch {b}, best of {args.rounds} rounds")
    print(f"{'measure':<44}{'best':>10}  rounds")
    for label, key, unit in (
        ("end-to-end store->features->store (img/s)", "e2e", 1),
        ("bare forward on ready tensors (img/s)", "forward", 1),
        ("matmul roof (GFLOP/s)", "matmul", 1e9),
        (f"TAME-style DataLoader, {args.workers} workers (img/s)", "tame", 1),
    ):
        runs = " ".join(f"{r / unit:.1f}" for r in rates[key])
        print(f"{label:<44}{max(rates[key]) / unit:>10.1f}  {runs}")
    print(f"pipeline / forward: {pipeline_vs_forward:.2f}   forward / roof: {forward_vs_roof:.3f}")
    print(f"end-to-end / TAME-style: {vs_tame:.2f}   peak RSS {peak_mb:.0f} MB")
    per_image = {k: v / (n * args.rounds) for k, v in flt.items()}
    print(
        f"minor page faults per image: end-to-end {per_image['e2e']:.0f}, forward {per_image['forward']:.0f}"
    )
    dev = "cpu" if device.type == "cpu" else name.replace(" ", "")
    print(
        f"RESULT pipeline_vs_forward={pipeline_vs_forward:.3f} forward_vs_roof={forward_vs_roof:.3f}"
        f" vs_tame_style={vs_tame:.3f} e2e_img_s={e2e:.1f} forward_img_s={fwd:.1f} device={dev}"
    )


if __name__ == "__main__":
    main()
