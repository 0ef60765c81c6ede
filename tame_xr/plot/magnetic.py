"""Figure of :func:`tame_xr.analysis.magnetic_regression`."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ._common import new_figure

__all__ = ["plot_magnetic_regression"]


def plot_magnetic_regression(result: xr.Dataset) -> Figure:
    """Held-out predicted vs observed series per component, and R² against degree.

    One panel per component shows the observed (mean removed) and predicted values of the
    held-out samples at the component's best degree against sample number (the samples are
    irregular in time: clear-sky aurora only), thin for the raw and thick for the
    Savitzky–Golay smoothed series, with the raw and smoothed R² in the panel title. The
    last panel shows R² (solid) and smoothed R² (dashed) against polynomial degree.

    Parameters
    ----------
    result
        Output of :func:`tame_xr.analysis.magnetic_regression`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    components = [str(c) for c in result["component"].values]
    n = len(components)
    fig, axes = new_figure(n + 1, 1, figsize=(10.0, 2.4 * (n + 1)), squeeze=False)
    axes = axes[:, 0]
    sample = np.arange(result.sizes["sample"])
    stations = result["station"].values
    for ax, comp in zip(axes[:n], components, strict=False):
        r = result.sel(component=comp)
        degree = int(r["best_degree"])
        ax.plot(sample, r["observed"], color="0.6", lw=0.6, label="observed")
        ax.plot(sample, r["predicted"], color="tab:red", lw=0.6, alpha=0.6, label="predicted")
        ax.plot(sample, r["observed_smoothed"], color="black", lw=1.4, label="observed, smoothed")
        ax.plot(
            sample, r["predicted_smoothed"], color="tab:red", lw=1.4, label="predicted, smoothed"
        )
        r2 = float(r["r2"].sel(degree=degree))
        r2s = float(r["r2_smoothed"].sel(degree=degree))
        ax.set_title(f"{comp} (degree {degree}): R² = {r2:.3f}, smoothed R² = {r2s:.3f}")
        ax.set_ylabel(f"Δ{comp} (nT)")
        ax.set_xlabel("held-out sample (by station, in time order)")
        starts = np.flatnonzero(np.r_[True, stations[1:] != stations[:-1]])
        for s in starts:
            if s:
                ax.axvline(s - 0.5, color="0.5", lw=0.8, ls=":")
            ax.annotate(
                str(stations[s]),
                (s, 1),
                xycoords=("data", "axes fraction"),
                xytext=(3, -3),
                textcoords="offset points",
                va="top",
                fontsize="small",
            )
    axes[0].legend(fontsize="small", ncol=4, loc="lower left")
    ax = axes[n]
    degrees = result["degree"].values
    for i, comp in enumerate(components):
        color = f"C{i}"
        ax.plot(degrees, result["r2"].sel(component=comp), "o-", color=color, label=comp)
        ax.plot(degrees, result["r2_smoothed"].sel(component=comp), "s--", color=color)
    ax.axhline(0, color="0.5", lw=0.5)
    ax.set_xticks(degrees)
    ax.set_xlabel("polynomial degree")
    ax.set_ylabel("R² (held out; dashed: smoothed)")
    ax.set_title("R² against polynomial degree")
    ax.legend(fontsize="small", ncol=len(components))
    fig.suptitle(
        f"Magnetic disturbance from image features ({result.attrs.get('n_test', '?')} held-out "
        f"samples, {result.attrs.get('validation', '')})"
    )
    return fig
