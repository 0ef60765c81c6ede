"""Matplotlib figures for the :mod:`tame_xr.analysis` results.

Every function returns a :class:`matplotlib.figure.Figure` drawn with the Agg
backend (nothing is shown); write it with :func:`save_figure`, which also
closes it. Submodules are imported lazily on first access of a name.
"""

from __future__ import annotations

from .._lazy import lazy_attributes
from ._common import CLASS_COLORS, CLASS_ORDER, new_figure, save_figure

_LAZY = {
    "plot_daily_cloud_coverage": "clouds",
    "plot_cloud_roc": "clouds",
    "plot_confidence_images": "confidence",
    "plot_clusters": "clusters",
    "plot_magnetic_regression": "magnetic",
    "plot_keogram": "keogram",
}

__all__ = ["CLASS_COLORS", "CLASS_ORDER", "new_figure", "save_figure", *_LAZY]

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
