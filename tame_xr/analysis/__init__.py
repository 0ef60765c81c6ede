"""Analyses of a tame_xr store (TAME, Sado et al. 2022), returning xarray objects.

Submodules are imported lazily on first access of a name, so importing
:mod:`tame_xr.analysis` is cheap.
"""

from __future__ import annotations

from .._lazy import lazy_attributes

_LAZY = {
    "daily_cloud_coverage": "clouds",
    "cloud_roc": "clouds",
    "confidence_images": "confidence",
    "entropy": "confidence",
    "cluster_features": "clusters",
    "magnetic_regression": "magnetic",
    "keogram": "keograms",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
