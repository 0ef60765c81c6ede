"""Magnetic disturbance from image features (TAME's regression), with time-block validation.

:func:`magnetic_regression` follows TAME:

* **samples** — images predicted as aurora (classes 0–2: arc, diffuse, discrete) under a clear
  sky. With a ceilometer group, its nearest value within ``ceilometer_tolerance`` decides:
  clear = no cloud detected or cloud base ≥ ``min_cbh`` (2000 m); images without a
  ceilometer value in reach are left out. Without one, P(cloudy) < 0.5 from the classes.
* **targets** — the magnetometer's nearest value within ``tolerance`` (60 s) per station
  (:func:`tame_xr.join_nearest`). ``X``, ``Y``, ``Z`` have each station's mean over the
  selected samples removed. ``H`` is the horizontal intensity ``sqrt(X² + Y²)`` of the
  field as stored (full field, before any mean removal; the group's own ``H`` when the
  files carry full-field X, Y), and then has its station mean removed likewise. The means
  are taken over all selected samples, train and test, as in TAME: they define the target,
  and are not fitted by the model.
* **model** — for each polynomial degree, a scikit-learn pipeline: degree 1:
  ``StandardScaler → Ridge(alpha)`` on all features; degree > 1: ``StandardScaler →
  PCA(pca_components) → PolynomialFeatures(degree) → StandardScaler → Ridge(alpha)`` (the
  PCA keeps the polynomial expansion tractable: 10 components give 3002 terms at degree 5;
  the scaler and PCA are fitted once per fold on its training samples and shared by the
  degrees). All components are fitted at once (multi-output Ridge). The default
  ``alpha=100`` (not scikit-learn's 1.0): on standardized terms, ~1000 features and a few
  hundred samples per fold, ``alpha=1`` overfits badly (held-out R² < 0 on the sample).
* **memory** — only the features of the selected samples are loaded (``n_samples ×
  n_features`` float64), the magnetometer's X, Y, Z and the ceilometer's ``cbh`` and
  ``cloud_detected`` in full (small time series).
* **validation** — the sorted sample times are cut into ``n_blocks`` contiguous blocks of
  about equal size (images of all stations at one time stay together). By default each
  block is held out in turn (leave-one-block-out cross-validation); ``test_blocks=[-1]``
  holds out only the last block, etc. Nothing is fitted on a held-out block.
* **metrics** — MSE, MAE and R² of all held-out predictions together (each sample predicted
  by the model that did not see its block; the series the figure shows), and again after
  Savitzky–Golay smoothing (:func:`scipy.signal.savgol_filter`, ``smoothing_window``
  samples, order ``smoothing_order``) of both the predicted and the observed series, per
  station along the time-sorted samples of each held-out block (the samples are not
  regridded in time; runs shorter than the window use the longest odd window that fits,
  and are left as they are when shorter than ``smoothing_order + 2``). The R² of each fold
  on its own block is kept too (``r2_fold``; its ``.mean("fold")`` is the usual
  cross-validation mean, which quiet blocks with little variance drag far below zero).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from ..join import join_nearest

__all__ = ["magnetic_regression"]

AURORA = (0, 1, 2)


def _select(classes, magnetometer, ceilometer, features, tolerance, ceil_tol, min_cbh, stations):
    """Boolean mask (time, station) of the samples and the joined X, Y, Z."""
    cls = classes[["predicted", "proba"]].reindex(
        time=features["time"], station=features["station"]
    )
    cls = cls.compute()
    mask = cls["predicted"].fillna(-1).isin(AURORA)
    if "valid" in features:
        mask = mask & features["valid"].fillna(False).astype(bool).compute()
    left = xr.Dataset(coords={"time": features["time"], "station": features["station"]})
    if ceilometer is not None:
        keep = [v for v in ("cbh", "cloud_detected", "valid") if v in ceilometer]
        ceil = join_nearest(
            left, ceilometer[keep].compute(), ceil_tol, ["cbh", "cloud_detected"], stations=stations
        )
        seen = ceil["time_difference"].notnull()
        cloud = ceil["cloud_detected"].fillna(1).astype(bool)
        clear = seen & (~cloud | (ceil["cbh"] >= min_cbh))
    else:
        clear = cls["proba"].sel(label="cloudy") < 0.5
    mask = mask & clear
    keep = [v for v in ("X", "Y", "Z", "valid") if v in magnetometer]
    mag = join_nearest(
        left, magnetometer[keep].compute(), tolerance, ["X", "Y", "Z"], stations=stations
    )
    mask = mask & mag["X"].notnull() & mag["Y"].notnull() & mag["Z"].notnull()
    return mask.transpose("time", "station"), mag


def _blocks(times: np.ndarray, n_blocks: int) -> np.ndarray:
    """Block number of each sample: contiguous blocks of sorted unique times."""
    unique, inverse = np.unique(times, return_inverse=True)
    counts = np.bincount(inverse)
    cum = np.cumsum(counts) - counts / 2.0
    edges = cum / counts.sum() * n_blocks
    return np.minimum(edges.astype(int), n_blocks - 1)[inverse]


def _reduce(x: np.ndarray, pca_components: int, random_state: int):
    """StandardScaler → PCA, fitted once per fold and shared by the degrees > 1."""
    from sklearn.decomposition import PCA
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    k = min(pca_components, *x.shape)
    solver = "full" if x.shape[0] < 5 * x.shape[1] else "covariance_eigh"
    pca = PCA(n_components=k, svd_solver=solver, random_state=random_state)
    return Pipeline([("scale", StandardScaler()), ("pca", pca)]).fit(x)


def _head(degree: int, alpha: float):
    """The rest of the pipeline: PolynomialFeatures → StandardScaler → Ridge."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    steps = [("scale", StandardScaler()), ("ridge", Ridge(alpha=alpha))]
    if degree > 1:
        steps.insert(0, ("poly", PolynomialFeatures(degree, include_bias=False)))
    return Pipeline(steps)


def _smooth(values: np.ndarray, groups: np.ndarray, window: int, order: int) -> np.ndarray:
    from scipy.signal import savgol_filter

    out = values.copy()
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        w = min(window, idx.size if idx.size % 2 else idx.size - 1)
        if w >= order + 2:
            out[idx] = savgol_filter(values[idx], w, order, axis=0)
    return out


def _metrics(obs: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(3, component): MSE, MAE, R² of each column."""
    err = pred - obs
    ss = ((obs - obs.mean(0)) ** 2).sum(0)
    r2 = 1 - (err**2).sum(0) / np.where(ss > 0, ss, np.nan)
    return np.stack([(err**2).mean(0), np.abs(err).mean(0), r2])


def magnetic_regression(
    features: xr.Dataset,
    classes: xr.Dataset,
    magnetometer: xr.Dataset,
    ceilometer: xr.Dataset | None = None,
    *,
    tolerance: str = "60s",
    ceilometer_tolerance: str | None = None,
    components: Sequence[str] = ("X", "Y", "Z", "H"),
    degrees: Sequence[int] = (1, 2, 3, 4, 5),
    alpha: float = 100.0,
    pca_components: int = 10,
    n_blocks: int = 5,
    test_blocks: Sequence[int] | None = None,
    smoothing_window: int = 11,
    smoothing_order: int = 3,
    min_cbh: float = 2000.0,
    stations: Mapping[str, str] | None = None,
    random_state: int = 0,
) -> xr.Dataset:
    """Regress magnetic disturbance on the features of clear-sky aurora images.

    Parameters
    ----------
    features, classes, magnetometer
        Groups ``features(time, station, feature)``, ``predicted``/``proba`` and ``X, Y,
        Z (time, station)`` in nT.
    ceilometer
        Optional ``cbh``/``cloud_detected`` group deciding "clear sky" (else P(cloudy) <
        0.5).
    tolerance, ceilometer_tolerance
        Largest time difference of the magnetometer (60 s) and ceilometer (default: the
        same) joins.
    components
        Targets among ``X``, ``Y``, ``Z``, ``H`` (see the module docstring).
    degrees, alpha, pca_components
        Polynomial degrees, Ridge penalty, PCA components used for degrees > 1.
    n_blocks, test_blocks
        Number of contiguous time blocks; held-out block indices (default: each block in
        turn; the metrics pool all held-out predictions).
    smoothing_window, smoothing_order
        Savitzky–Golay window (samples, odd) and polynomial order.
    min_cbh
        Cloud base height (m) at or above which the sky counts as clear.
    stations
        Imager → magnetometer/ceilometer station mapping for the joins.
    random_state
        Seed of the PCA.

    Returns
    -------
    xarray.Dataset
        ``mse``, ``mae``, ``r2`` and ``*_smoothed`` (component, degree); ``r2_fold`` and
        ``r2_smoothed_fold`` (component, degree, fold); ``best_degree``
        (component, by R²); ``observed``, ``predicted`` and their ``*_smoothed`` versions
        (sample, component) at each component's best degree over all held-out samples,
        with ``time``, ``station`` and ``block`` along ``sample``. Attrs ``n_samples``,
        ``n_train`` (mean per fold), ``n_test`` (held-out predictions in all folds),
        ``n_folds``.
    """
    unknown = set(components) - {"X", "Y", "Z", "H"}
    if unknown:
        raise ValueError(f"unknown components {sorted(unknown)}; use X, Y, Z, H")
    ceil_tol = ceilometer_tolerance or tolerance
    mask, mag = _select(
        classes, magnetometer, ceilometer, features, tolerance, ceil_tol, min_cbh, stations
    )
    flat = mask.stack(cell=("time", "station")).values
    index = np.flatnonzero(flat)
    if index.size < 2 * n_blocks:
        raise ValueError(f"only {index.size} clear-sky aurora samples with magnetometer data")
    cells = mag[["X", "Y", "Z"]].stack(cell=("time", "station")).isel(cell=index)
    times, stns = cells["time"].values, cells["station"].values
    field = {c: cells[c].values.astype(np.float64) for c in ("X", "Y", "Z")}
    field["H"] = np.hypot(field["X"], field["Y"])
    y = np.stack([field[c] for c in components], axis=1)
    for code in np.unique(stns):
        y[stns == code] -= y[stns == code].mean(0)
    arr = features["features"].transpose("time", "station", ...)
    x = arr.stack(cell=("time", "station")).transpose("cell", ...).isel(cell=index)
    x = np.asarray(x.values, dtype=np.float64)
    order = np.lexsort((stns, times))
    x, y, times, stns = x[order], y[order], times[order], stns[order]
    block = _blocks(times, n_blocks)
    runs = np.char.add(block.astype(str), np.asarray(stns, dtype=str))  # smoothing runs
    folds = [[b] for b in range(n_blocks)] if test_blocks is None else [list(test_blocks)]
    folds = [sorted({b % n_blocks for b in f}) for f in folds]
    tested = np.zeros(len(y), bool)
    preds = np.full((len(degrees), len(y), len(components)), np.nan)
    r2_fold = np.full((len(degrees), len(folds), 2, len(components)), np.nan)
    n_train = []
    for j, fold in enumerate(folds):
        test = np.isin(block, fold)
        tested |= test
        n_train.append(int((~test).sum()))
        obs_s = _smooth(y[test], runs[test], smoothing_window, smoothing_order)
        reduce = _reduce(x[~test], pca_components, random_state)
        reduced = reduce.transform(x[~test]), reduce.transform(x[test])
        for i, degree in enumerate(degrees):
            train_x, test_x = (x[~test], x[test]) if degree == 1 else reduced
            p = _head(degree, alpha).fit(train_x, y[~test]).predict(test_x)
            p = p.reshape(len(test_x), -1)  # one component: sklearn may return 1-D
            preds[i, test] = p
            r2_fold[i, j, 0] = _metrics(y[test], p)[2]
            p_s = _smooth(p, runs[test], smoothing_window, smoothing_order)
            r2_fold[i, j, 1] = _metrics(obs_s, p_s)[2]
    sel = np.flatnonzero(tested)
    sel = sel[np.lexsort((times[sel], stns[sel]))]  # output: by station, then time
    observed, groups = y[sel], runs[sel]
    observed_s = _smooth(observed, groups, smoothing_window, smoothing_order)
    scores = np.empty((len(degrees), 2, 3, len(components)))
    for i in range(len(degrees)):
        scores[i, 0] = _metrics(observed, preds[i, sel])
        smoothed = _smooth(preds[i, sel], groups, smoothing_window, smoothing_order)
        scores[i, 1] = _metrics(observed_s, smoothed)
    best = np.argmax(np.nan_to_num(scores[:, 0, 2], nan=-np.inf), axis=0)
    predicted = np.stack([preds[best[k], sel, k] for k in range(len(components))], axis=1)
    dims = ("component", "degree")
    data = {}
    for s, suffix in enumerate(("", "_smoothed")):
        for m, name in enumerate(("mse", "mae", "r2")):
            units = {"mse": "nT2", "mae": "nT", "r2": "1"}[name]
            data[name + suffix] = (dims, scores[:, s, m].T, {"units": units})
        fold_r2 = r2_fold[:, :, s].transpose(2, 0, 1)
        data[f"r2{suffix}_fold"] = ((*dims, "fold"), fold_r2, {"long_name": "R² per fold"})
    sample = ("sample", "component")
    data.update(
        best_degree=("component", np.asarray(degrees)[best]),
        observed=(sample, observed, {"units": "nT", "long_name": "observed, mean removed"}),
        predicted=(sample, predicted, {"units": "nT", "long_name": "predicted (best degree)"}),
        observed_smoothed=(sample, observed_s),
        predicted_smoothed=(sample, _smooth(predicted, groups, smoothing_window, smoothing_order)),
    )
    return xr.Dataset(
        data,
        coords={
            "component": list(components),
            "degree": list(degrees),
            "time": ("sample", times[sel]),
            "station": ("sample", stns[sel]),
            "block": ("sample", block[sel]),
            "fold": np.arange(len(folds)),
        },
        attrs={
            "title": "Magnetic disturbance regressed on image features",
            "n_samples": int(len(y)),
            "n_train": int(np.mean(n_train)),
            "n_test": int(tested.sum()),
            "n_folds": len(folds),
            "validation": "leave-one-block-out" if test_blocks is None else f"blocks {folds[0]}",
            "alpha": alpha,
            "pca_components": pca_components,
            "smoothing": f"savgol window {smoothing_window}, order {smoothing_order}",
        },
    )
