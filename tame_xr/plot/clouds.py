"""Figures for the cloud analyses: daily cloud coverage heatmaps and the cloud ROC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from ._common import new_figure

__all__ = ["plot_cloud_roc", "plot_daily_cloud_coverage"]


def _season_start(season: str, months) -> pd.Timestamp:
    """First day of a season's first month (months ordered from July)."""
    first = sorted(int(m) for m in months)
    first = min(first, key=lambda m: (m - 7) % 12)
    year = int(season.split("/")[0])
    return pd.Timestamp(year=year if first >= 7 else year + 1, month=first, day=1)


def _rows(cov: xr.Dataset):
    """(row labels, day offsets per day, row index per (day, station)) of the heatmaps."""
    months = cov.attrs.get("months", [11, 12, 1, 2])
    days = pd.DatetimeIndex(cov["day"].values)
    seasons = [str(s) for s in cov["season"].values]
    unique = list(dict.fromkeys(seasons))
    stations = [str(s) for s in cov["station"].values] if "station" in cov.dims else [""]
    offsets = np.array(
        [(d - _season_start(s, months)).days for d, s in zip(days, seasons, strict=True)]
    )
    rows = [(s, st) for s in unique for st in stations]
    frac = cov.get("season_no_cloud_fraction")
    labels = []
    for s, st in rows:
        text = f"{s} {st}".strip()
        if frac is not None and "station" in frac.dims:
            value = float(frac.sel(season_label=s, station=st))
            text += f" ({value:.2f})"
        labels.append(text)
    return rows, labels, offsets, seasons, stations, months, unique


def _grid(cov: xr.Dataset, name: str, rows, offsets, seasons, stations) -> np.ndarray:
    width = int(offsets.max()) + 1 if offsets.size else 1
    grid = np.full((len(rows), max(width, 1)), np.nan)
    values = cov[name]
    values = values.transpose("day", "station") if "station" in values.dims else values
    arr = np.asarray(values.values, dtype="float64").reshape(len(offsets), -1)
    for i, (off, s) in enumerate(zip(offsets, seasons, strict=True)):
        for j, st in enumerate(stations):
            grid[rows.index((s, st)), off] = arr[i, j]
    return grid


def plot_daily_cloud_coverage(cov: xr.Dataset) -> Figure:
    """Heatmaps of the daily no-cloud fraction and mean cloud base height.

    Parameters
    ----------
    cov : xarray.Dataset
        The result of :func:`tame_xr.analysis.daily_cloud_coverage`.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels sharing the x axis (day of season): no-cloud fraction (0–1) and mean
        CBH (km); one row per season and station, labelled with the season's no-cloud
        fraction. Days without measurements are blank.
    """
    rows, labels, offsets, seasons, stations, months, _ = _rows(cov)
    fig, axes = new_figure(
        2, 1, figsize=(10.0, 2.2 + 0.9 * len(rows)), sharex=True, title="Daily cloud coverage"
    )
    start = _season_start(seasons[0], months) if seasons else pd.Timestamp("2000-11-01")
    panels = [
        ("no_cloud_fraction", 1.0, "Blues", "no-cloud fraction", (0.0, 1.0)),
        ("mean_cbh", 1e-3, "viridis", "mean cloud base height (km)", (None, None)),
    ]
    for ax, (name, scale, cmap, label, (vmin, vmax)) in zip(axes, panels, strict=True):
        grid = _grid(cov, name, rows, offsets, seasons, stations) * scale
        mesh = ax.imshow(
            np.ma.masked_invalid(grid),
            aspect="auto",
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
            interpolation="nearest",
            extent=(-0.5, grid.shape[1] - 0.5, len(rows) - 0.5, -0.5),
        )
        fig.colorbar(mesh, ax=ax, label=label)
        ax.set_yticks(range(len(rows)), labels)
        ax.set_ylabel("season, station")
        ax.set_title(label)
        ax.set_facecolor("#eeeeee")
        ax.set_xlabel(f"day of season (0 = {start:%d %b})")
    width = axes[0].get_xlim()[1]
    ticks = pd.date_range(start, start + pd.Timedelta(days=width), freq="MS")
    ticks = [t for t in ticks if 0 <= (t - start).days <= width]
    if len(ticks) > 1:
        axes[1].set_xticks([(t - start).days for t in ticks], [f"{t:%d %b}" for t in ticks])
    return fig


def plot_cloud_roc(roc: xr.Dataset) -> Figure:
    """ROC curve (clear sky as positive class) and accuracy versus threshold.

    Parameters
    ----------
    roc : xarray.Dataset
        The result of :func:`tame_xr.analysis.cloud_roc`.

    Returns
    -------
    matplotlib.figure.Figure
        Left: ROC with the AUC in the legend, the TPR 0.95 and FPR 0.05 points marked.
        Right: accuracy against the threshold on ``1 − P(cloudy)`` with the best point.
    """
    n_used = int(roc["n_used"]) if "n_used" in roc else None
    title = "Cloud ROC: classifier vs ceilometer"
    if n_used is not None:
        title += f" ({n_used} images)"
    fig, (ax, bx) = new_figure(1, 2, figsize=(10.0, 4.2), title=title)
    fpr, tpr = roc["fpr"].values, roc["tpr"].values
    ax.plot(fpr, tpr, color="#1f77b4", lw=2, label=f"ROC (AUC = {float(roc['auc']):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="0.6", lw=1, label="chance")
    f95, t95 = float(roc["fpr_at_tpr95"]), float(roc["threshold_at_tpr95"])
    t05, h05 = float(roc["tpr_at_fpr05"]), float(roc["threshold_at_fpr05"])
    thr = roc["threshold"].values
    i95, i05 = int(np.argmin(abs(thr - t95))), int(np.argmin(abs(thr - h05)))
    ax.plot(f95, tpr[i95], "o", color="#d62728", label=f"TPR 0.95: FPR {f95:.3f} (t = {t95:.2f})")
    ax.plot(fpr[i05], t05, "s", color="#2ca02c", label=f"FPR 0.05: TPR {t05:.3f} (t = {h05:.2f})")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate (cloudy called clear)")
    ax.set_ylabel("true positive rate (clear called clear)")
    ax.set_title("ROC, positive class: clear")
    ax.legend(loc="lower right", fontsize="small")
    acc = roc["accuracy"].values
    bx.plot(np.clip(thr, 0, 1), acc, color="#1f77b4", lw=2, drawstyle="steps-post")
    best, bt = float(roc["best_accuracy"]), float(roc["best_threshold"])
    bx.axvline(bt, ls=":", color="0.4")
    bx.plot(bt, best, "o", color="#d62728", label=f"best {best:.3f} at {bt:.2f}")
    bx.set_xlim(0, 1)
    bx.set_xlabel("threshold on 1 − P(cloudy)")
    bx.set_ylabel("accuracy")
    bx.set_title("accuracy vs threshold")
    bx.legend(loc="lower center", fontsize="small")
    return fig
