"""Cluster demonstration of image features (TAME's UMAP figure), chunk-wise with dask.

:func:`cluster_features` stacks the valid ``(time, station)`` cells of a features group into
one ``cell`` dimension and, without ever loading all features at once:

1. one pass over the chunks finds the usable cells (``valid`` and all features finite) and
   sums the features and their squares (float64) for the mean and the total variance;
2. a randomized truncated SVD of the centred features (:func:`dask.array.linalg.
   svd_compressed`, two power iterations, each intermediate persisted so that the features
   are re-read from the store rather than kept in memory) gives the principal components;
   signs are fixed so that the largest loading of each component is positive;
3. only the projections (``n_cells × n_components``) are computed in memory; k-means runs
   on them over dask chunks along ``cell``: k-means++ on a random sample of at most
   ``sample_size`` cells, then Lloyd passes, each a chunk-wise sum of per-cluster sums and
   counts, until the centroids stop moving or ``max_iter``; the best of ``n_init`` starts
   (lowest inertia) wins and clusters are numbered by decreasing size. Since every pass
   uses all cells, the result does not depend on the chunking beyond float rounding.

The 2-D embedding is the first two principal components, or UMAP of the projections with
``umap=True`` (needs ``pip install umap-learn``). With ``classes`` the predicted class of
each cell, the adjusted Rand index (ARI) between clusters and predicted classes (cells with
an image but no prediction, ``predicted == -1``, are left out) and the cluster × label
contingency table are added.
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import xarray as xr

__all__ = ["cluster_features"]


def _cells(features: xr.Dataset, variable: str) -> tuple[xr.DataArray, np.ndarray, da.Array]:
    """Stacked features, usable-cell mask and the masked feature sums (one pass)."""
    arr = features[variable].transpose("time", "station", ...)
    if arr.ndim != 3:
        raise ValueError(f"{variable} must have dims (time, station, feature); got {arr.dims}")
    arr = arr.chunk({"station": -1, arr.dims[-1]: -1})
    data = arr.data
    ok = da.isfinite(data).all(axis=-1)
    if "valid" in features:
        valid = features["valid"].transpose("time", "station").astype(bool)
        ok = ok & da.asarray(valid.chunk({"station": -1}).data).rechunk(ok.chunks)
    x = da.where(ok[..., None], data, 0).astype(np.float64)
    ok, total, squares = dask.compute(ok, x.sum(axis=(0, 1)), (x * x).sum(axis=(0, 1)))
    stacked = arr.stack(cell=("time", "station")).transpose("cell", ...)
    return stacked, ok.reshape(-1), (total, squares)


def _kmeans_pass(blocks, centroids: np.ndarray):
    """Chunk-wise per-cluster sums, counts and inertia for the current centroids."""

    def stats(block, c):
        d = ((block[:, None, :] - c[None]) ** 2).sum(-1)
        lab = d.argmin(1)
        k, n = c.shape
        sums = np.zeros((k, n))
        np.add.at(sums, lab, block)
        return sums, np.bincount(lab, minlength=k), float(d.min(1).sum())

    parts = dask.compute(*[dask.delayed(stats)(b, centroids) for b in blocks])
    sums = sum(p[0] for p in parts)
    counts = sum(p[1] for p in parts)
    return sums, counts, sum(p[2] for p in parts)


def _assign(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    out = np.empty(len(x), dtype=np.int64)
    for start in range(0, len(x), 65536):
        b = x[start : start + 65536]
        out[start : start + 65536] = ((b[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(1)
    return out


def _kmeans(x: da.Array, k: int, rng: np.random.Generator, n_init, max_iter, tol, sample_size):
    from sklearn.cluster import kmeans_plusplus

    n = x.shape[0]
    blocks = x.to_delayed().ravel().tolist()
    scale = float(np.mean(np.var(np.asarray(x), axis=0))) or 1.0
    best = None
    for _ in range(n_init):
        pick = np.sort(rng.choice(n, size=min(n, sample_size), replace=False))
        sample = np.asarray(x[pick])
        centroids, _ = kmeans_plusplus(sample, k, random_state=int(rng.integers(2**31)))
        inertia = np.inf
        for _ in range(max_iter):
            sums, counts, inertia = _kmeans_pass(blocks, centroids)
            new = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centroids)
            shift = float(((new - centroids) ** 2).sum())
            centroids = new
            if shift <= tol * scale:
                break
        _, _, inertia = _kmeans_pass(blocks, centroids)
        if best is None or inertia < best[1]:
            best = (centroids, inertia)
    centroids, inertia = best
    labels = _assign(np.asarray(x), centroids)
    sizes = np.bincount(labels, minlength=k)
    order = np.lexsort((centroids[:, 0], -sizes))  # largest cluster first
    relabel = np.empty(k, dtype=np.int64)
    relabel[order] = np.arange(k)
    return centroids[order], relabel[labels], inertia


def cluster_features(
    features: xr.Dataset,
    classes: xr.Dataset | None = None,
    *,
    n_components: int = 50,
    n_clusters: int = 6,
    random_state: int = 0,
    umap: bool = False,
    variable: str = "features",
    n_init: int = 10,
    max_iter: int = 100,
    tol: float = 1e-6,
    sample_size: int = 10000,
) -> xr.Dataset:
    """Cluster the features of every valid image: PCA, k-means and a 2-D embedding.

    Parameters
    ----------
    features
        A features group: ``features(time, station, feature)`` (lazy is fine; it is read
        chunk by chunk) and optionally ``valid(time, station)``.
    classes
        Optional classes group with ``predicted(time, station)`` and a ``label`` coordinate;
        adds ``predicted``, ``ari`` and ``contingency``.
    n_components
        Principal components kept (at most the number of cells and features).
    n_clusters
        Clusters of k-means (TAME's six classes by default).
    random_state
        Seed of the SVD's random projection, the k-means++ samples and UMAP.
    umap
        Embed with UMAP (``umap-learn``) instead of the first two principal components.
    variable
        Name of the features variable.
    n_init, max_iter, tol, sample_size
        k-means starts, largest number of Lloyd passes, stop when the squared centroid
        shift is below ``tol`` × the mean variance of the projections, and the size of the
        random sample the k-means++ initialisation runs on.

    Returns
    -------
    xarray.Dataset
        Dims ``cell`` (with coords ``time`` and ``station``), ``component``, ``cluster``,
        ``axis`` and, with ``classes``, ``label``. Variables: ``embedding(cell, axis)``,
        ``cell_cluster(cell)`` (the cluster of each cell; ``cluster`` itself is the
        dimension), ``pcs(cell, component)``, ``explained_variance(component)`` (descending)
        and ``explained_variance_ratio(component)``, ``centroids(cluster, component)``,
        ``cluster_size(cluster)``; with ``classes`` also ``predicted(cell)``, the scalar
        ``ari`` (also an attribute) and ``contingency(cluster, label)``.
    """
    if umap:
        try:
            import umap as umap_module
        except ImportError as err:
            raise ImportError(
                "cluster_features(umap=True) needs umap-learn: pip install umap-learn"
            ) from err
    stacked, ok, (total, squares) = _cells(features, variable)
    index = np.flatnonzero(ok)
    n = index.size
    if n < max(n_clusters, 3):
        raise ValueError(f"only {n} usable cells (valid with finite features); too few")
    mean = total / n
    total_variance = float((squares - n * mean**2).sum() / (n - 1))
    x = stacked.isel(cell=index).data.astype(np.float64) - mean
    k = int(min(n_components, n - 1, x.shape[1]))
    u, s, v = da.linalg.svd_compressed(
        x, k, n_power_iter=2, seed=random_state, compute=True, coerce_signs=False
    )
    u, s, v = dask.compute(u, s, v)
    sign = np.sign(v[np.arange(k), np.abs(v).argmax(axis=1)])
    sign[sign == 0] = 1
    pcs = u * (s * sign)
    chunks = x.chunks[0]
    rng = np.random.default_rng(random_state)
    centroids, labels, inertia = _kmeans(
        da.from_array(pcs, chunks=(chunks, -1)), n_clusters, rng, n_init, max_iter, tol, sample_size
    )
    if umap:
        reducer = umap_module.UMAP(n_components=2, random_state=random_state)
        embedding, axes = reducer.fit_transform(pcs), ["umap1", "umap2"]
    else:
        embedding, axes = pcs[:, :2], ["pc1", "pc2"]
    cells = stacked.isel(cell=index)
    coords = {
        "time": ("cell", cells["time"].values),
        "station": ("cell", cells["station"].values),
        "cell": np.arange(n),
        "component": np.arange(1, k + 1),
        "cluster": np.arange(n_clusters),
        "axis": axes,
    }
    variance = s**2 / (n - 1)
    out = xr.Dataset(
        {
            "embedding": (("cell", "axis"), embedding.astype(np.float32)),
            "cell_cluster": ("cell", labels.astype(np.int16), {"long_name": "k-means cluster"}),
            "pcs": (("cell", "component"), pcs.astype(np.float32)),
            "explained_variance": ("component", variance, {"long_name": "PC variance"}),
            "explained_variance_ratio": ("component", variance / total_variance),
            "centroids": (("cluster", "component"), centroids),
            "cluster_size": ("cluster", np.bincount(labels, minlength=n_clusters)),
        },
        coords=coords,
        attrs={
            "title": "Clusters of image features",
            "method": "randomized PCA (dask svd_compressed) + chunk-wise k-means (Lloyd)",
            "embedding": "UMAP of the PCs" if umap else "first two principal components",
            "inertia": float(inertia),
            "random_state": random_state,
        },
    )
    if classes is not None:
        out = _with_classes(out, classes)
    return out


def _with_classes(out: xr.Dataset, classes: xr.Dataset) -> xr.Dataset:
    from sklearn.metrics import adjusted_rand_score

    pred = classes["predicted"].reindex(
        time=np.unique(out["time"].values), station=np.unique(out["station"].values)
    )
    pred = pred.fillna(-1).astype(np.int8).compute()
    at = {d: xr.DataArray(out[d].values, dims="cell") for d in ("time", "station")}
    cell_pred = pred.sel(at).values.astype(np.int8)
    labels = (
        [str(v) for v in classes["label"].values]
        if "label" in classes.coords
        else ["arc", "diffuse", "discrete", "cloudy", "moon", "clear"]
    )
    keep = cell_pred >= 0
    clusters = out["cell_cluster"].values
    ari = float(adjusted_rand_score(cell_pred[keep], clusters[keep])) if keep.any() else np.nan
    table = np.zeros((out.sizes["cluster"], len(labels)), dtype=np.int64)
    np.add.at(table, (clusters[keep], cell_pred[keep].astype(int)), 1)
    out = out.assign(
        predicted=("cell", cell_pred, {"long_name": "predicted class", "missing": -1}),
        ari=((), ari, {"long_name": "adjusted Rand index, clusters vs predicted classes"}),
        contingency=(("cluster", "label"), table, {"long_name": "cells per cluster and class"}),
    ).assign_coords(label=labels)
    out.attrs["ari"] = ari
    return out
