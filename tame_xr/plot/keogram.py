"""Figure of :func:`tame_xr.analysis.keogram`: the keogram and a class strip."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ._common import CLASS_ORDER, class_color, new_figure

__all__ = ["plot_keogram"]


def plot_keogram(keo: xr.Dataset) -> Figure:
    """Keogram (time on x, north at the top) with the predicted class strip below.

    Parameters
    ----------
    keo
        Output of :func:`tame_xr.analysis.keogram`; a ``predicted(time)`` variable adds the
        class strip (white where there is no class).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.dates as mdates
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    strip = "predicted" in keo
    kw = {"sharex": True, "gridspec_kw": {"height_ratios": [6, 1]}} if strip else {}
    fig, axes = new_figure(2 if strip else 1, 1, figsize=(10.0, 4.5), squeeze=False, **kw)
    ax = axes[0, 0]
    times = keo["time"].values
    is_datetime = np.issubdtype(times.dtype, np.datetime64)
    x = mdates.date2num(times) if is_datetime else np.arange(len(times))
    step = np.median(np.diff(x)) if len(x) > 1 else 1.0
    edges, columns = _edges_with_gaps(x, step)
    ny = keo.sizes["y"]
    values = keo["keogram"].values.T
    data = np.where(columns >= 0, values[:, np.maximum(columns, 0)], np.nan)
    data = np.ma.masked_invalid(data)
    mesh = ax.pcolormesh(edges, np.arange(ny + 1) - 0.5, data, cmap="gray", shading="flat")
    ax.set_ylim(ny - 0.5, -0.5)  # row 0 (north) at the top
    ax.set_ylabel("north–south pixel (N at top … S)")
    units = keo["keogram"].attrs.get("units", "counts")
    units = "counts" if units in ("1", "") else units
    fig.colorbar(mesh, ax=ax, label=f"brightness ({units})", pad=0.01)
    station = keo.attrs.get("station", "")
    cols = list(np.atleast_1d(keo.attrs.get("columns", [])))
    where = f" (image columns {cols[0]}–{cols[-1]})" if cols else ""
    ax.set_title(f"Keogram {station}".strip() + where)
    bottom = ax
    if strip:
        sax = axes[1, 0]
        labels = list(keo["predicted"].attrs.get("labels", CLASS_ORDER))
        colors = ["#ffffff"] + [class_color(name) for name in labels]
        classes = keo["predicted"].values.astype(int)
        values = np.where(columns >= 0, classes[np.maximum(columns, 0)], -1) + 1  # none: white
        sax.pcolormesh(
            edges,
            [0, 1],
            values[None, :],
            cmap=ListedColormap(colors),
            vmin=-0.5,
            vmax=len(colors) - 0.5,
            shading="flat",
        )
        sax.set_yticks([])
        sax.set_ylabel("class", rotation=0, ha="right", va="center")
        present = sorted(set(values[values > 0]))
        handles = [Patch(color=colors[v], label=labels[v - 1]) for v in present]
        if handles:
            sax.legend(
                handles=handles,
                ncol=len(handles),
                fontsize="small",
                frameon=False,
                loc="upper center",
                bbox_to_anchor=(0.5, -0.9),
            )
        bottom = sax
    if is_datetime:
        locator = mdates.AutoDateLocator()
        bottom.xaxis.set_major_locator(locator)
        bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        bottom.set_xlabel("time (UTC)")
    else:
        bottom.set_xlabel("time")
    ax.set_xlim(edges[0], edges[-1])
    return fig


def _edges_with_gaps(x: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Cell edges along time, with an empty cell over every gap longer than three steps.

    Returns the edges and, per cell, the index of its time (-1 for a gap), so that images
    before a gap (e.g. the day between two nights) are not stretched across it.
    """
    if not len(x):
        return np.array([0.0, 1.0]), np.array([-1])
    edges, columns = [x[0] - step / 2], [0]
    for i in range(len(x) - 1):
        if x[i + 1] - x[i] > 3 * step:
            edges += [x[i] + step / 2, x[i + 1] - step / 2]
            columns += [-1, i + 1]
        else:
            edges.append((x[i] + x[i + 1]) / 2)
            columns.append(i + 1)
    edges.append(x[-1] + step / 2)
    return np.asarray(edges), np.asarray(columns)
