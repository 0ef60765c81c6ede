"""The demo behind ``make demo``: synthetic sample → store → features → classes → summary.

Run as ``python -m tame_xr.demo --data data --output demo-output``. It generates the embedded
synthetic sample (:mod:`tame_xr.sample`), ingests its all-sky images and its OATH-layout
labelled set into ``data/demo.zarr``, extracts EfficientNet-Lite0 features of both, fits the
OATH classifier on the labelled set's train split, classifies the season, and prints what the
store holds with the accuracies (on the labelled test split, and on the season against the
sample's known truth).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .classify import fit_oath_classifier
from .features import extract_features
from .ingest import ingest
from .sample import write_sample
from .store import Store


def describe_group(store: Store, group: str) -> str:
    """One paragraph about a group: dimensions, variables, time span."""
    ds = xr.open_zarr(store.path, group=group)
    sizes = ", ".join(f"{k}={v}" for k, v in ds.sizes.items())
    lines = [f"[{group}] {ds.attrs.get('title', '')}", f"  dims: {sizes}"]
    lines.append(f"  variables: {', '.join(ds.data_vars)}")
    if "time" in ds.indexes:
        index = ds.indexes["time"]
        lines.append(f"  time: {index.min()} .. {index.max()}")
    if "valid" in ds:
        lines.append(f"  valid images: {int(ds['valid'].sum())} of {ds['valid'].size}")
    return "\n".join(lines)


def season_accuracy(classes: xr.Dataset, truth_csv: Path) -> float:
    """Share of the season's images whose predicted class equals the sample's truth."""
    truth = pd.read_csv(truth_csv, parse_dates=["time"])
    predicted = classes["predicted"].load()
    got = predicted.sel(
        time=xr.DataArray(truth["time"].values, dims="row"),
        station=xr.DataArray(truth["station"].values, dims="row"),
    ).values
    return float(np.mean(got == truth["class6"].values))


def run(data: Path, output: Path, seed: int = 0) -> Store:
    """Generate the sample, ingest it and print a summary; returns the store."""
    started = time.perf_counter()
    data.mkdir(parents=True, exist_ok=True)
    output.mkdir(parents=True, exist_ok=True)
    sample_dir = data / "sample"
    print(f"generating the synthetic sample in {sample_dir} ...", flush=True)
    paths = write_sample(sample_dir, seed=seed)
    store = Store(data / "demo.zarr")
    print(f"ingesting into {store.path} ...", flush=True)
    for kind, files in (("images", paths["asim"]), ("oath", paths["oath"][0])):
        report = ingest(kind, files, store, progress=True)
        print(report.summary(max_lines=5))
    print("extracting features (EfficientNet-Lite0) ...", flush=True)
    for source, target in (("oath", "features/oath"), ("asim/5577", "features/5577")):
        if not store.exists(target):
            store.write(extract_features(store.open(source)), target)
    oath_features = store.open("features/oath").load()
    classifier = fit_oath_classifier(oath_features)
    classifier.save(data / "oath_svm.skops")
    test = oath_features.isel(sample=np.flatnonzero(oath_features["split"].values == "test"))
    scores = classifier.evaluate(test)
    classes = classifier.classify(store.open("features/5577"))
    store.write(classes, "classes/5577")
    season = season_accuracy(store.open("classes/5577"), paths["truth"][0])
    print()
    for group in store.groups():
        print(describe_group(store, group))
    print(
        f"\nclassifier (linear SVM on the labelled set's train split, saved to "
        f"{data / 'oath_svm.skops'}):\n"
        f"  labelled test split: six-class accuracy {float(scores['accuracy6']):.3f}, "
        f"aurora/no-aurora {float(scores['accuracy2']):.3f} ({int(scores['n_samples'])} images)\n"
        f"  season vs the sample's truth: six-class accuracy {season:.3f}"
    )
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s; store: {store.path}")
    return store


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tame_xr.demo", description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("data"), help="where data go")
    parser.add_argument("--output", type=Path, default=Path("demo-output"), help="figures")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run(args.data, args.output, args.seed)


if __name__ == "__main__":
    main()
