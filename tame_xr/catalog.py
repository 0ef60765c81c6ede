"""Intake catalogs for stores: one entry per group, paths relative to the catalog.

``write_catalog(store)`` writes ``<name>.yaml`` beside ``<name>.zarr``; each entry uses
intake-xarray's ``zarr`` driver with ``urlpath: "{{ CATALOG_DIR }}/<name>.zarr"`` and the
group, so ``intake.open_catalog(path)[entry].to_dask()`` opens the same Dataset as
:meth:`tame_xr.Store.open`. The YAML is written with ``yaml.safe_dump`` and holds only plain
strings: no code, no Python tags. A store on object storage is written with its URL and its
storage options less anything that looks like a credential.

:func:`open_entry` is how tame_xr itself reads a catalog it is handed: ``yaml.safe_load``
(no Python tags), only the ``zarr`` driver, only the arguments ``urlpath``, ``group`` and
``storage_options``, and no template but ``{{ CATALOG_DIR }}`` — intake's own templates can
call ``shell()`` and ``env()``, and its drivers are dotted import paths, so a catalog from
elsewhere is never passed to intake by this package.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from .store import Store

_SECRET = re.compile(r"key|secret|token|password|credential", re.IGNORECASE)


def entry_name(group: str) -> str:
    """Catalog entry name of a group: ``asim/5577`` → ``asim_5577``."""
    return group.replace("/", "_")


def catalog_dict(store: Store, catalog_dir: str | os.PathLike) -> dict:
    """The catalog content for ``store`` as seen from ``catalog_dir``."""
    import xarray as xr

    args: dict = {}
    if isinstance(store.path, Path):
        rel = os.path.relpath(store.path.resolve(), Path(catalog_dir).resolve())
        args["urlpath"] = "{{ CATALOG_DIR }}/" + Path(rel).as_posix()
        name = store.path.name
    else:
        args["urlpath"] = store.path
        name = store.path.rstrip("/").rsplit("/", 1)[-1]
        options = {k: v for k, v in store.files.storage_options.items() if not _SECRET.search(k)}
        if options:
            args["storage_options"] = options
    sources = {}
    for group in store.groups():
        attrs = xr.open_zarr(store.zarr_store, group=group).attrs
        sources[entry_name(group)] = {
            "description": str(attrs.get("title", group)),
            "driver": "zarr",
            "args": {**args, "group": group},
            "metadata": {
                "group": group,
                "license": str(attrs.get("license", "")),
                "tame_xr_version": str(attrs.get("tame_xr_version", "")),
            },
        }
    return {
        "metadata": {"version": 1, "description": f"tame_xr store {name}"},
        "sources": sources,
    }


def write_catalog(store: Store | str | os.PathLike, path: str | os.PathLike | None = None) -> Path:
    """Write an intake catalog of ``store`` (default: ``<store without .zarr>.yaml`` beside it).

    Returns the catalog's path. Open it with ``intake.open_catalog(path)``. For a store on
    object storage, ``path`` (a local file) is required.
    """
    store = store if isinstance(store, Store) else Store(store)
    if path is None:
        if not isinstance(store.path, Path):
            raise ValueError(f"{store.path}: pass the catalog's (local) path for a remote store")
        stem = store.path.name.removesuffix(".zarr")
        path = store.path.parent / f"{stem}.yaml"
    path = Path(path)
    content = catalog_dict(store, path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_entry(catalog: str | os.PathLike, entry: str) -> tuple[Store, str]:
    """The store and group an entry of a tame_xr catalog names, checked strictly.

    Raises
    ------
    ValueError
        Naming the catalog and the problem: not plain YAML (Python tags), not a tame_xr
        entry (a driver other than ``zarr``, other arguments, templates other than
        ``{{ CATALOG_DIR }}``), or no such entry.
    """
    path = Path(catalog)
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not a plain YAML catalog ({exc.__class__.__name__})") from None
    sources = content.get("sources") if isinstance(content, dict) else None
    if not isinstance(sources, dict) or entry not in sources:
        known = sorted(sources) if isinstance(sources, dict) else []
        raise ValueError(f"{path}: no catalog entry {entry!r}; entries are {known}")
    source = sources[entry]
    if not isinstance(source, dict) or source.get("driver") != "zarr":
        raise ValueError(f"{path}: entry {entry!r} must use the 'zarr' driver")
    args = source.get("args")
    if not isinstance(args, dict) or set(args) - {"urlpath", "group", "storage_options"}:
        raise ValueError(f"{path}: entry {entry!r} may only have urlpath, group, storage_options")
    urlpath, group = args.get("urlpath"), args.get("group")
    options = args.get("storage_options") or {}
    if not isinstance(urlpath, str) or not isinstance(group, str) or not isinstance(options, dict):
        raise ValueError(f"{path}: entry {entry!r}: urlpath and group must be strings")
    for text in [urlpath, group, *map(str, options.values())]:
        rest = text.replace("{{ CATALOG_DIR }}", "")
        if "{{" in rest or "{%" in rest:
            raise ValueError(
                f"{path}: entry {entry!r}: templates other than {{{{ CATALOG_DIR }}}} are "
                f"not evaluated: {text!r}"
            )
    urlpath = urlpath.replace("{{ CATALOG_DIR }}", str(path.resolve().parent))
    return Store(urlpath, options or None), group


def open_entry(catalog: str | os.PathLike, entry: str, **kw):
    """Open an entry of a tame_xr catalog as :meth:`Store.open` would (``kw`` passed on),
    without intake and without evaluating anything in the file (see :func:`read_entry`)."""
    store, group = read_entry(catalog, entry)
    return store.open(group, **kw)
