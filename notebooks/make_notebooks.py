"""Writes the notebooks of this folder from the cell texts below (outputs empty).

Each notebook reads its inputs from environment variables, defaulting to what `make demo`
writes: TAME_XR_STORE (data/demo.zarr), TAME_XR_CLASSIFIER (data/oath_svm.skops),
TAME_XR_IMAGES (a folder of images to classify). Run: python notebooks/make_notebooks.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

SETUP = """import os
from pathlib import Path

import matplotlib.pyplot as plt

import tame_xr

ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
STORE = os.environ.get("TAME_XR_STORE", str(ROOT / "data" / "demo.zarr"))
CLASSIFIER = os.environ.get("TAME_XR_CLASSIFIER", str(ROOT / "data" / "oath_svm.skops"))
IMAGES = os.environ.get("TAME_XR_IMAGES", str(ROOT / "data" / "sample" / "asim" / "nya6"))
store = tame_xr.Store(STORE)
store"""

NOTEBOOKS = {
    "01_quickstart.ipynb": [
        (
            "md",
            "# Quickstart: classify all-sky images in six lines\n\nLike TAME's "
            "AsimClassifier: a classifier fitted on OATH-style labelled images gives every "
            "image six class probabilities. `make demo` writes the classifier used here.",
        ),
        ("code", SETUP),
        (
            "code",
            """clf = tame_xr.OathClassifier.load(CLASSIFIER)
result = tame_xr.classify_files(IMAGES, classifier=clf)
result["predicted_label"].to_series().value_counts()""",
        ),
        ("code", """result[["time", "predicted_label", "aurora_proba"]].to_dataframe().head()"""),
        (
            "code",
            """fig, ax = plt.subplots(figsize=(8, 3))
ax.plot(result["time"], result["aurora_proba"], ".", ms=3)
ax.set_xlabel("time (UTC)")
ax.set_ylabel("P(aurora)")
ax.set_title("Aurora probability per image")
plt.show()""",
        ),
    ],
    "02_data_layer.ipynb": [
        ("md", "# The data layer: one Zarr store, one group per instrument product"),
        ("code", SETUP),
        ("code", """store.groups()"""),
        (
            "code",
            """images = store.open("asim/5577")
images""",
        ),
        (
            "code",
            """night = tame_xr.select(images, start="2014-12-01T20:00", end="2014-12-01T20:30", station="nya")
night["image"].isel(time=[0, 10, 20], station=0).plot(col="time", cmap="gray")
plt.show()""",
        ),
        (
            "code",
            """classes = store.open("classes/5577")
joined = classes.tame.join_nearest(store.open("magnetometer"), "60s", ["X"])
joined = tame_xr.join_nearest(joined, store.open("ceilometer"), "60s", ["cbh"])
joined[["aurora_proba", "X", "cbh", "time_difference"]].sel(station="nya").to_dataframe().head()""",
        ),
        (
            "code",
            """import intake

catalog = tame_xr.write_catalog(store)
intake.open_catalog(catalog)["magnetometer"].to_dask()""",
        ),
    ],
    "03_clouds.ipynb": [
        ("md", "# Clouds: daily coverage from the ceilometer and the cloud ROC"),
        ("code", SETUP),
        (
            "code",
            """from tame_xr import analysis, plot

coverage = analysis.daily_cloud_coverage(store.open("ceilometer"))
plot.plot_daily_cloud_coverage(coverage)
plt.show()""",
        ),
        (
            "code",
            """roc = analysis.cloud_roc(store.open("classes/5577"), store.open("ceilometer"))
print(f"AUC {float(roc['auc']):.3f}")
plot.plot_cloud_roc(roc)
plt.show()""",
        ),
    ],
    "04_confidence_and_clusters.ipynb": [
        ("md", "# Confidence images and the cluster demonstration"),
        ("code", SETUP),
        (
            "code",
            """from tame_xr import analysis, plot

classes = store.open("classes/5577")
images = store.open("asim/5577")
conf = analysis.confidence_images(classes, images)
plot.plot_confidence_images(conf)
plt.show()""",
        ),
        (
            "code",
            """clusters = analysis.cluster_features(store.open("features/5577"), classes)
print(f"adjusted Rand index clusters vs classes: {float(clusters['ari']):.2f}")
plot.plot_clusters(clusters, images)
plt.show()""",
        ),
    ],
    "05_magnetic_and_keograms.ipynb": [
        ("md", "# Magnetic disturbance from image features, and keograms"),
        ("code", SETUP),
        (
            "code",
            """from tame_xr import analysis, plot

result = analysis.magnetic_regression(
    store.open("features/5577"), store.open("classes/5577"), store.open("magnetometer"),
    store.open("ceilometer"),
)
result[["r2", "r2_smoothed"]].to_dataframe()""",
        ),
        (
            "code",
            """plot.plot_magnetic_regression(result)
plt.show()""",
        ),
        (
            "code",
            """keo = analysis.keogram(store.open("asim/5577"), station="nya", classes=store.open("classes/5577"))
plot.plot_keogram(keo)
plt.show()""",
        ),
    ],
}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text)
            for kind, text in cells
        ]
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    main()
