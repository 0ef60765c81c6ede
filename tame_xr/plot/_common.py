"""Shared matplotlib helpers for :mod:`tame_xr.plot`.

All plotting in tame_xr uses the non-interactive Agg backend: figures are
created with :class:`matplotlib.figure.Figure` directly (no pyplot state), so
nothing is ever shown and no global figure registry keeps them alive.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "CLASS_COLORS",
    "CLASS_ORDER",
    "DPI",
    "class_color",
    "close_figure",
    "new_figure",
    "save_figure",
]

#: Resolution used by :func:`save_figure`.
DPI = 120

#: The six TAME classes, in the order used by the classes group.
CLASS_ORDER: tuple[str, ...] = ("arc", "diffuse", "discrete", "cloudy", "moon", "clear")

#: One fixed colour per class (hex strings, usable by matplotlib).
CLASS_COLORS: dict[str, str] = {
    "arc": "#2ca02c",  # green
    "diffuse": "#17becf",  # cyan
    "discrete": "#9467bd",  # purple
    "cloudy": "#7f7f7f",  # grey
    "moon": "#ff7f0e",  # orange
    "clear": "#1f1f7a",  # dark blue
}


def class_color(label: str, default: str = "#000000") -> str:
    """Colour of a class label (``default`` for unknown labels)."""
    return CLASS_COLORS.get(str(label), default)


def new_figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    figsize: tuple[float, float] | None = None,
    squeeze: bool = True,
    title: str | None = None,
    **subplot_kw: Any,
) -> tuple[Figure, Any]:
    """Create an Agg-backed figure and its axes without touching pyplot.

    Parameters
    ----------
    nrows, ncols : int
        Grid of axes.
    figsize : (float, float), optional
        Figure size in inches; default ``(5 * ncols, 3.5 * nrows)``.
    squeeze : bool
        As in :func:`matplotlib.pyplot.subplots`: a single Axes (or 1-D array)
        when possible, else always a 2-D array of axes.
    title : str, optional
        Figure title (``suptitle``).
    **subplot_kw
        Passed to :meth:`matplotlib.figure.Figure.subplots` (e.g.
        ``gridspec_kw``, ``sharex``).

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : Axes or numpy.ndarray of Axes
    """
    if figsize is None:
        figsize = (5.0 * ncols, 3.5 * nrows)
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=squeeze, **subplot_kw)
    if title:
        fig.suptitle(title)
    return fig, axes


def save_figure(fig: Figure, path: str | Path, *, close: bool = True) -> Path:
    """Write ``fig`` as PNG (120 dpi, tight bounding box) and return the path.

    Parent directories are created. A ``.png`` suffix is added when the path
    has none. When ``close`` is true the figure is also removed from pyplot's
    registry (if it was created there) so it does not stay open.
    """
    path = Path(path)
    if path.suffix == "":
        path = path.with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fig.canvas is None or not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.savefig(path, format="png", dpi=DPI, bbox_inches="tight")
    if close:
        close_figure(fig)
    return path


def close_figure(fig: Figure) -> None:
    """Close ``fig`` in pyplot if pyplot knows it; otherwise a no-op."""
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close(fig)


def label_list(values: Sequence[Any]) -> list[str]:
    """Values as plain strings (for tick labels)."""
    return [str(v) for v in values]
