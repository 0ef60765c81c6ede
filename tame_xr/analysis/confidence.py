"""Confidence images (TAME): per class, the images the classifier is least and most sure of.

For each class ``c`` (``label``) four kinds of image are picked, ``n`` of each, among the
cells with an image (``valid`` and all probabilities present):

``lowest_probability``
    the lowest ``P(c)`` among **all** images — those the classifier is surest are not ``c``;
``lowest_confidence``
    the lowest ``P(c)`` among images **predicted as** ``c``;
``highest_confidence``
    the highest ``P(c)`` among images predicted as ``c``;
``highest_entropy``
    the highest entropy of the probability vector among images predicted as ``c``.

Rank 0 is the most extreme (lowest for the "lowest" kinds, highest for the others); ties go
to the earlier time, then the earlier station. The prediction is the classes group's
``predicted`` (−1: none) when present, else the arg-max of ``proba``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["KINDS", "confidence_images", "entropy"]

KINDS = ("lowest_probability", "lowest_confidence", "highest_confidence", "highest_entropy")


def entropy(proba, dim: str = "label"):
    """Shannon entropy of probability vectors, in **nats** (natural logarithm).

    ``0 · log 0`` counts as 0; vectors with a missing value give NaN. The maximum for six
    classes is ``log 6 ≈ 1.79``.

    Parameters
    ----------
    proba : xarray.DataArray or array-like
        Probabilities; summed over ``dim`` (DataArray) or the last axis (array).
    dim : str
        Dimension of the classes for a DataArray.

    Returns
    -------
    xarray.DataArray or numpy.ndarray
        The entropy, float64, without ``dim``.
    """
    if isinstance(proba, xr.DataArray):
        p = proba.astype("float64")
        terms = xr.where(p > 0, -p * np.log(p.where(p > 0, 1.0)), 0.0)
        out = terms.sum(dim).where(p.notnull().all(dim))
        return out.assign_attrs(units="nat", long_name="entropy of the class probabilities")
    p = np.asarray(proba, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    out = terms.sum(axis=-1)
    return np.where(np.isnan(p).any(axis=-1), np.nan, out)


def _pick(key: np.ndarray, mask: np.ndarray, n: int, highest: bool) -> np.ndarray:
    """Indices (into the flat cells) of the ``n`` most extreme keys among ``mask``, −1 padded."""
    idx = np.flatnonzero(mask)
    k = key[idx]
    order = np.lexsort((idx, -k if highest else k))  # stable: ties by cell order
    chosen = idx[order[:n]]
    return np.concatenate([chosen, np.full(n - chosen.size, -1, dtype=chosen.dtype)])


def _load_images(images: xr.Dataset, times, stations, found) -> tuple[xr.DataArray, np.ndarray]:
    """Images at the chosen (time, station) cells, zeros where the cell is missing."""
    image = images["image"].transpose("time", "station", ...)
    ti = images.indexes["time"].get_indexer(times)
    si = images.indexes["station"].get_indexer(stations)
    ok = found & (ti >= 0) & (si >= 0)
    cells = np.flatnonzero(ok)
    extra = image.dims[2:]
    shape = tuple(image.sizes[d] for d in extra)
    data = np.zeros((len(times),) + shape, dtype=image.dtype)
    if cells.size:
        sel = {
            "time": xr.DataArray(ti[cells], dims="cell"),
            "station": xr.DataArray(si[cells], dims="cell"),
        }
        loaded = image.isel(sel).drop_vars(["time", "station"], errors="ignore")
        data[cells] = np.asarray(loaded.values)
        if "valid" in images:
            valid = np.asarray(images["valid"].transpose("time", "station").isel(sel).values)
            ok[cells] = valid.astype(bool)
            data[cells[~valid.astype(bool)]] = 0
    coords = {d: image[d] for d in extra if d in image.coords}
    return xr.DataArray(data, dims=("cell",) + extra, coords=coords, attrs=image.attrs), ok


def confidence_images(
    classes: xr.Dataset, images: xr.Dataset | None = None, *, n: int = 3
) -> xr.Dataset:
    """Per class, the lowest-probability, lowest-/highest-confidence and highest-entropy images.

    See the module docstring for the precise definition of the four ``kind`` values.

    Parameters
    ----------
    classes : xarray.Dataset
        A classes group: ``proba(time, station, label)``, ``valid``, ``predicted``.
    images : xarray.Dataset, optional
        The matching image group (``image(time, station, y, x)``, ``valid``); only the
        chosen cells are read, by vectorised (pointwise) selection.
    n : int
        Images per class and kind.

    Returns
    -------
    xarray.Dataset
        Dims ``(label, kind, rank)``: ``time``, ``station``, ``probability`` (``P(c)``),
        ``entropy`` (nats), ``predicted`` (label name of the predicted class), ``found``
        (a cell was chosen — fewer than ``n`` candidates leave NaT/""/NaN — and, with
        ``images``, its image exists). With ``images``: ``image(label, kind, rank, y, x)``
        in the image dtype, zeros where not found.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    proba = classes["proba"].transpose("time", "station", "label")
    p = np.asarray(proba.values, dtype="float64")
    nt, ns, nl = p.shape
    flat = p.reshape(nt * ns, nl)
    ok = ~np.isnan(flat).any(axis=1)
    if "valid" in classes:
        ok &= np.asarray(classes["valid"].transpose("time", "station").values, bool).ravel()
    if "predicted" in classes:
        pred = np.asarray(classes["predicted"].transpose("time", "station").values).ravel()
        pred = pred.astype("int64")
    else:
        pred = np.where(ok, np.argmax(np.nan_to_num(flat, nan=-1.0), axis=1), -1)
    pred = np.where(ok, pred, -1)
    ent = entropy(flat)
    labels = proba["label"].values
    chosen = np.full((nl, len(KINDS), n), -1, dtype="int64")
    for c in range(nl):
        is_c = ok & (pred == c)
        chosen[c, 0] = _pick(flat[:, c], ok, n, highest=False)
        chosen[c, 1] = _pick(flat[:, c], is_c, n, highest=False)
        chosen[c, 2] = _pick(flat[:, c], is_c, n, highest=True)
        chosen[c, 3] = _pick(ent, is_c, n, highest=True)
    found = chosen >= 0
    cell = np.where(found, chosen, 0)
    ti, si = np.divmod(cell, ns)
    times = np.asarray(proba["time"].values)[ti]
    stations = np.asarray(proba["station"].values)[si].astype(object)
    stations[~found] = ""
    if times.dtype.kind == "M":
        times = np.where(found, times, np.datetime64("NaT"))
    else:
        times = np.where(found, times, None)
    prob = np.where(found, flat[cell, np.arange(nl)[:, None, None]], np.nan)
    ent_sel = np.where(found, ent[cell], np.nan)
    pred_sel = pred[cell]
    names = np.array([str(x) for x in labels] + [""], dtype=object)  # index -1 → ""
    pred_name = np.where(found & (pred_sel >= 0), names[pred_sel], "").astype(object)
    dims = ("label", "kind", "rank")
    ds = xr.Dataset(
        {
            "time": (dims, times, {"long_name": "time of the image"}),
            "station": (dims, stations, {"long_name": "station of the image"}),
            "probability": (dims, prob.astype("float32"), {"units": "1", "long_name": "P(c)"}),
            "entropy": (dims, ent_sel, {"units": "nat", "long_name": "entropy of proba"}),
            "predicted": (dims, pred_name, {"long_name": "predicted class"}),
        },
        coords={"label": labels, "kind": np.array(KINDS, dtype=object), "rank": np.arange(n)},
    )
    if images is not None:
        image, ok_img = _load_images(images, times.ravel(), stations.ravel(), found.ravel())
        shape = (nl, len(KINDS), n) + image.shape[1:]
        ds["image"] = (dims + image.dims[1:], image.values.reshape(shape), image.attrs)
        for d in image.dims[1:]:
            if d in image.coords:
                ds = ds.assign_coords({d: image[d]})
        found = ok_img.reshape(found.shape)
    ds["found"] = (dims, found, {"long_name": "a cell was chosen (and its image exists)"})
    ds.attrs.update(
        {
            "title": "Confidence images per class",
            "entropy_units": "nat",
            "kinds": "lowest_probability: lowest P(c) among all images; lowest_confidence / "
            "highest_confidence: lowest / highest P(c) among images predicted as c; "
            "highest_entropy: highest entropy among images predicted as c",
        }
    )
    return ds
