"""TAME's network comparison: speed, memory and ridge-classifier accuracy per backbone."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import xarray as xr

from .classify import AURORA_CLASSES


class _PeakRSS:
    """Samples the process's resident memory in a thread; ``peak`` is the maximum seen."""

    def __init__(self, interval: float = 0.02):
        import psutil

        self._proc = psutil.Process()
        self._interval = interval
        self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __enter__(self) -> _PeakRSS:
        self.start = self._proc.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def ridge_accuracy(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    n_splits: int = 10,
    test_size: float = 0.3,
    alpha: float = 0.03,
    seed: int = 0,
) -> dict:
    """TAME's RidgeClassifier(alpha=0.03) accuracy over repeated stratified 70/30 splits.

    Returns mean and std of six-class and aurora/no-aurora (two-class) accuracy.
    """
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import StratifiedShuffleSplit

    labels = np.asarray(labels).astype(int)
    binary = np.isin(labels, AURORA_CLASSES).astype(int)
    splits = StratifiedShuffleSplit(n_splits=n_splits, test_size=test_size, random_state=seed)
    acc6, acc2 = [], []
    for train, test in splits.split(features, labels):
        six = RidgeClassifier(alpha=alpha).fit(features[train], labels[train])
        two = RidgeClassifier(alpha=alpha).fit(features[train], binary[train])
        acc6.append(np.mean(six.predict(features[test]) == labels[test]))
        acc2.append(np.mean(two.predict(features[test]) == binary[test]))
    return {
        "acc6_mean": np.mean(acc6),
        "acc6_std": np.std(acc6),
        "acc2_mean": np.mean(acc2),
        "acc2_std": np.std(acc2),
    }


def compare_backbones(
    names: Sequence[str],
    oath: xr.Dataset,
    *,
    batch_size: int = 64,
    device: str | None = None,
    n_splits: int = 10,
) -> xr.Dataset:
    """Compare backbones as TAME did: images/s, peak memory, ridge accuracy ± std.

    Parameters
    ----------
    names
        Backbone names (see :func:`tame_xr.backbones.available_backbones`).
    oath
        A labelled image Dataset (``image(sample, y, x)`` with ``class6``), e.g. the ``oath``
        group of a store.
    n_splits
        Repeated 70/30 splits for the accuracy.

    Returns
    -------
    xarray.Dataset
        Along ``backbone``: ``images_per_s``, ``peak_memory_mb`` (resident memory above the
        level before extraction, model load included), ``n_features``, ``acc6_mean``,
        ``acc6_std``, ``acc2_mean``, ``acc2_std``.
    """
    from .backbones import clear_cache, load_backbone
    from .features import extract_features

    images = oath[["image"]].load()
    labels = oath["class6"].values
    rows = []
    for name in names:
        clear_cache()
        with _PeakRSS() as mem:
            model = load_backbone(name, device=device)
            started = time.perf_counter()
            feats = extract_features(images, name, batch_size=batch_size, device=device).compute()
            elapsed = time.perf_counter() - started
        matrix = feats["features"].transpose("sample", "feature").values
        scores = ridge_accuracy(matrix, labels, n_splits=n_splits)
        rows.append(
            {
                "images_per_s": images.sizes["sample"] / elapsed,
                "peak_memory_mb": (mem.peak - mem.start) / 2**20,
                "n_features": model.n_features,
                **scores,
            }
        )
    data = {key: ("backbone", np.array([row[key] for row in rows])) for key in rows[0]}
    ds = xr.Dataset(data, coords={"backbone": np.array(list(names), dtype=object)})
    units = {"images_per_s": "1/s", "peak_memory_mb": "MiB"}
    for key in ds.data_vars:
        ds[key].attrs["units"] = units.get(key, "1")
    ds.attrs = {
        "title": "TAME backbone comparison",
        "n_samples": int(images.sizes["sample"]),
        "n_splits": n_splits,
        "classifier": "RidgeClassifier(alpha=0.03)",
        "device": str(model.device),
    }
    return ds
