"""Every figure of the paper's analyses for a store, as PNG files (``tame-xr figures``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .store import Store


def make_figures(
    store: Store | str | os.PathLike,
    output: str | os.PathLike,
    *,
    images_group: str = "asim/5577",
    classes_group: str = "classes/5577",
    features_group: str = "features/5577",
    progress: bool = False,
    numbers: dict | None = None,
) -> list[Path]:
    """Run the analyses on ``store`` and write their figures under ``output``.

    Figures whose groups are missing are skipped (and say so when ``progress``). When
    ``numbers`` is a dict, the headline numbers (ROC AUC, ARI, best R²) are put in it.

    Returns the written PNG paths.
    """
    from . import analysis, plot
    from .plot._common import save_figure

    store = store if isinstance(store, Store) else Store(store)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    numbers = {} if numbers is None else numbers
    have = set(store.groups())

    def classes():
        return store.open(classes_group)

    def cloud_coverage():
        return plot.plot_daily_cloud_coverage(
            analysis.daily_cloud_coverage(store.open("ceilometer"))
        )

    def cloud_roc():
        roc = analysis.cloud_roc(classes(), store.open("ceilometer"))
        numbers["roc_auc"] = float(roc["auc"])
        return plot.plot_cloud_roc(roc)

    def confidence():
        conf = analysis.confidence_images(classes(), store.open(images_group))
        return plot.plot_confidence_images(conf)

    def clusters():
        result = analysis.cluster_features(store.open(features_group), classes())
        numbers["cluster_ari"] = float(result["ari"])
        return plot.plot_clusters(result, store.open(images_group))

    def magnetic():
        result = analysis.magnetic_regression(
            store.open(features_group),
            classes(),
            store.open("magnetometer"),
            store.open("ceilometer") if "ceilometer" in have else None,
        )
        numbers["magnetic_r2"] = {
            str(c): float(result["r2"].sel(component=c).max()) for c in result["component"].values
        }
        return plot.plot_magnetic_regression(result)

    jobs: list[tuple[str, set[str], Callable]] = [
        ("cloud_coverage.png", {"ceilometer"}, cloud_coverage),
        ("cloud_roc.png", {"ceilometer", classes_group}, cloud_roc),
        ("confidence_images.png", {classes_group, images_group}, confidence),
        ("clusters.png", {features_group, classes_group}, clusters),
        ("magnetic_regression.png", {features_group, classes_group, "magnetometer"}, magnetic),
    ]
    if images_group in have:
        for station in store.open(images_group)["station"].values:

            def keogram(station=str(station)):
                keo = analysis.keogram(
                    store.open(images_group),
                    station=station,
                    classes=store.open(classes_group) if classes_group in have else None,
                )
                return plot.plot_keogram(keo)

            jobs.append((f"keogram_{station}.png", {images_group}, keogram))
    written = []
    for name, needs, build in jobs:
        missing = needs - have
        if missing:
            if progress:
                print(f"skipping {name}: no group {sorted(missing)} in {store.path}")
            continue
        if progress:
            print(f"writing {output / name}", flush=True)
        written.append(save_figure(build(), output / name))
    return written
