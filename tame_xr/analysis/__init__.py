"""Analyses of a tame_xr store (TAME, Sado et al. 2022), returning xarray objects.

Submodules are imported lazily on first access of a name, so importing
:mod:`tame_xr.analysis` is cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
