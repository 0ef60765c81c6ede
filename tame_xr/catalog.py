"""Intake catalogs for stores: one entry per group, paths relative to the catalog.

``write_catalog(store)`` writes ``<name>.yaml`` beside ``<name>.zarr``; each entry uses
intake-xarray's ``zarr`` driver with ``urlpath: "{{ CATALOG_DIR }}/<name>.zarr"`` and the
group, so ``intake.open_catalog(path)[entry].to_dask()`` opens the same Dataset as
:meth:`tame_xr.Store.open`. The YAML is written with ``yaml.safe_dump`` and holds only plain
strings: no code, no Python tags.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from .store import Store


def entry_name(group: str) -> str:
    """Catalog entry name of a group: ``asim/5577`` → ``asim_5577``."""
    return group.replace("/", "_")


def catalog_dict(store: Store, catalog_dir: str | os.PathLike) -> dict:
    """The catalog content for ``store`` as seen from ``catalog_dir``."""
    import xarray as xr

    relative = Path(os.path.relpath(store.path.resolve(), Path(catalog_dir).resolve())).as_posix()
    sources = {}
    for group in store.groups():
        attrs = xr.open_zarr(store.path, group=group).attrs
        sources[entry_name(group)] = {
            "description": str(attrs.get("title", group)),
            "driver": "zarr",
            "args": {"urlpath": "{{ CATALOG_DIR }}/" + relative, "group": group},
            "metadata": {
                "group": group,
                "license": str(attrs.get("license", "")),
                "tame_xr_version": str(attrs.get("tame_xr_version", "")),
            },
        }
    return {
        "metadata": {"version": 1, "description": f"tame_xr store {store.path.name}"},
        "sources": sources,
    }


def write_catalog(store: Store | str | os.PathLike, path: str | os.PathLike | None = None) -> Path:
    """Write an intake catalog of ``store`` (default: ``<store without .zarr>.yaml`` beside it).

    Returns the catalog's path. Open it with ``intake.open_catalog(path)``.
    """
    store = store if isinstance(store, Store) else Store(store)
    if path is None:
        stem = store.path.name.removesuffix(".zarr")
        path = store.path.parent / f"{stem}.yaml"
    path = Path(path)
    content = catalog_dict(store, path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)
    return path
