"""Figure for :func:`tame_xr.analysis.confidence_images`: a grid of example images."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from ._common import class_color, new_figure

__all__ = ["plot_confidence_images"]


def _tile_title(conf: xr.Dataset, **where) -> str:
    cell = conf.isel(**where)
    if not bool(cell["found"]):
        return "—"
    t = cell["time"].values
    try:
        when = f"{pd.Timestamp(t):%Y-%m-%d %H:%M:%S}"
    except (TypeError, ValueError):
        when = str(t)
    return f"{when}\n{cell['station'].values} P={float(cell['probability']):.2f}"


def plot_confidence_images(
    conf: xr.Dataset,
    *,
    labels: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    tile_size: float = 1.7,
    cmap: str = "gray",
) -> Figure:
    """Image grid: rows are class × kind, columns are ranks.

    Parameters
    ----------
    conf : xarray.Dataset
        The result of :func:`tame_xr.analysis.confidence_images` (with ``image`` for
        pictures; without it the tiles show only their text).
    labels, kinds : sequence of str, optional
        Subsets of the ``label`` and ``kind`` coordinates (default: all).
    tile_size : float
        Size of one tile in inches.
    cmap : str
        Colour map of gray images (RGB images are shown as they are).

    Returns
    -------
    matplotlib.figure.Figure
        Each tile titled with time, station and ``P(class)``; tile axes are off, rows are
        labelled ``class / kind`` in the class colour; missing cells are blank.
    """
    if labels is not None:
        conf = conf.sel(label=list(labels))
    if kinds is not None:
        conf = conf.sel(kind=list(kinds))
    nl, nk, nr = conf.sizes["label"], conf.sizes["kind"], conf.sizes["rank"]
    rows = nl * nk
    fig, axes = new_figure(
        rows,
        nr,
        figsize=(1.6 + tile_size * nr, 0.6 + (tile_size + 0.35) * rows),
        squeeze=False,
        title="Confidence images per class (rows: class / kind, columns: rank)",
    )
    has_image = "image" in conf
    for i in range(nl):
        label = str(conf["label"].values[i])
        for k in range(nk):
            kind = str(conf["kind"].values[k])
            r = i * nk + k
            for j in range(nr):
                ax = axes[r, j]
                ax.set_axis_off()
                ax.set_title(_tile_title(conf, label=i, kind=k, rank=j), fontsize=6)
                found = bool(conf["found"].isel(label=i, kind=k, rank=j))
                if has_image and found:
                    img = np.asarray(conf["image"].isel(label=i, kind=k, rank=j).values)
                    ax.imshow(img, cmap=None if img.ndim == 3 else cmap, interpolation="nearest")
                elif not found:
                    ax.text(0.5, 0.5, "no image", ha="center", va="center", fontsize=7)
            axes[r, 0].text(
                -0.08,
                0.5,
                f"{label}\n{kind.replace('_', ' ')}",
                transform=axes[r, 0].transAxes,
                ha="right",
                va="center",
                fontsize=8,
                color=class_color(label),
                fontweight="bold",
            )
    return fig
