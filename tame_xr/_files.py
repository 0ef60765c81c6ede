"""Where a :class:`tame_xr.Store` keeps its keys: a local directory or any fsspec URL.

:class:`StoreFiles` is the small set of file operations the store and its journal need,
over an fsspec file system. Paths are plain strings in the file system's own form (no
protocol); the journal's work directory lies beside the store. Two operations differ by
kind of storage, and the journal relies on the difference:

* :meth:`StoreFiles.write_text` replaces a key atomically: a local temporary file renamed
  over the target (with fsync), or a single PUT on object storage;
* :meth:`StoreFiles.move_tree` is one atomic rename on a local (or shared POSIX) file
  system; on object storage there are no renames, so it copies every key and then deletes
  the source, and the caller must make that sequence restartable (see
  :func:`tame_xr._journal.finish_swap`).
"""

from __future__ import annotations

import os
import posixpath
import uuid
from pathlib import Path

__all__ = ["StoreFiles", "is_url"]


def is_url(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an fsspec URL (``s3://...``) rather than a local path."""
    return isinstance(path, str) and "://" in path and not path.startswith("file://")


class StoreFiles:
    """File operations under the store at ``location`` (a local path or an fsspec URL).

    Parameters
    ----------
    location
        Local directory or URL such as ``"s3://bucket/season.zarr"``.
    storage_options
        Passed to :func:`fsspec.core.url_to_fs` (credentials, endpoint, ...).
    """

    def __init__(self, location: str | os.PathLike, storage_options: dict | None = None):
        import fsspec
        from fsspec.implementations.local import LocalFileSystem

        self.storage_options = dict(storage_options or {})
        if is_url(location):
            self.fs, root = fsspec.core.url_to_fs(str(location), **self.storage_options)
            self.local = isinstance(self.fs, LocalFileSystem)
        else:
            path = str(location).removeprefix("file://")
            self.fs, self.local = fsspec.filesystem("file"), True
            root = str(Path(path).absolute())
        self.root = root.rstrip("/")
        parent, name = posixpath.split(self.root)
        #: journal, staging and trash: beside the store (inside, Zarr would take them for
        #: unknown nodes), so that local renames between them are atomic
        self.work = posixpath.join(parent, f".{name}.tame_xr")

    # ------------------------------------------------------------------ paths
    def join(self, *parts: str) -> str:
        return posixpath.join(*parts)

    def relative(self, path: str, start: str) -> str:
        return posixpath.relpath(path, start)

    def url(self, path: str | None = None) -> str:
        """The path as a URL (local: the plain path)."""
        path = self.root if path is None else path
        return path if self.local else self.fs.unstrip_protocol(path)

    def zarr_store(self, path: str | None = None, *, read_only: bool = False):
        """What zarr and xarray should open for ``path`` (default: the store's root)."""
        path = self.root if path is None else path
        if self.local:
            return path
        from zarr.storage import FsspecStore

        return FsspecStore.from_url(
            self.url(path), storage_options=self.storage_options, read_only=read_only
        )

    # ------------------------------------------------------------------ reading
    def refresh(self) -> None:
        """Forget cached directory listings (object stores cache them)."""
        if not self.local:
            self.fs.invalidate_cache()

    def exists(self, path: str) -> bool:
        return self.fs.exists(path)

    def read_text(self, path: str) -> str:
        return self.fs.cat_file(path).decode("utf-8")

    def find(self, path: str, name: str | None = None) -> list[str]:
        """Files below ``path`` (recursively), optionally only those called ``name``."""
        self.refresh()
        if not self.fs.exists(path):
            return []
        found = self.fs.find(path)
        if name is not None:
            found = [f for f in found if posixpath.basename(f) == name]
        return sorted(found)

    def metadata(self, path: str) -> list[str]:
        """Every ``zarr.json`` at or below ``path``, without listing chunk keys: the walk
        does not descend into arrays (on object storage, listing a season's chunks would
        take thousands of requests) nor into hidden directories."""
        import json

        self.refresh()
        found, todo = [], [path]
        while todo:
            folder = todo.pop()
            try:
                entries = self.fs.ls(folder, detail=True)
            except FileNotFoundError:
                continue
            names = {posixpath.basename(e["name"].rstrip("/")): e for e in entries}
            meta = names.get("zarr.json")
            if meta is not None and meta["type"] == "file":
                found.append(posixpath.join(folder, "zarr.json"))
                try:
                    if json.loads(self.read_text(found[-1])).get("node_type") == "array":
                        continue
                except (OSError, ValueError):
                    pass
            todo.extend(
                e["name"].rstrip("/")
                for name, e in names.items()
                if e["type"] == "directory" and not name.startswith(".")
            )
        return sorted(found)

    def children(self, path: str) -> list[str]:
        """Direct children of the directory ``path`` (empty if there is none)."""
        self.refresh()
        try:
            return sorted(e.rstrip("/") for e in self.fs.ls(path, detail=False))
        except FileNotFoundError:
            return []

    # ------------------------------------------------------------------ writing
    def makedirs(self, path: str) -> None:
        if self.local:
            os.makedirs(path, exist_ok=True)
        # object stores have no directories: keys make them

    def write_text(self, path: str, text: str) -> None:
        """Replace ``path`` atomically with ``text``."""
        data = text.encode("utf-8")
        if not self.local:
            self.fs.pipe_file(path, data)  # one PUT: readers see the old or the new object
            return
        os.makedirs(posixpath.dirname(path), exist_ok=True)
        tmp = posixpath.join(
            posixpath.dirname(path), f".{posixpath.basename(path)}.{uuid.uuid4().hex}.tmp"
        )
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def remove(self, path: str) -> None:
        """Delete a file or a whole tree; nothing if it does not exist."""
        if self.local:
            if os.path.isdir(path):
                import shutil

                shutil.rmtree(path, ignore_errors=True)
            elif os.path.lexists(path):
                os.unlink(path)
            return
        self.refresh()
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)
        self.refresh()

    def move_tree(self, src: str, dst: str) -> None:
        """Move the tree ``src`` to ``dst`` (which must not exist)."""
        if self.local:
            os.makedirs(posixpath.dirname(dst), exist_ok=True)
            os.replace(src, dst)
            return
        self.copy_tree(src, dst)
        self.remove(src)

    def replace_file(self, src: str, dst: str) -> None:
        """Put the file ``src`` in place of ``dst`` atomically (a rename locally; on object
        storage one server-side copy, which readers see whole or not at all)."""
        if self.local:
            os.replace(src, dst)
            return
        self.fs.copy(src, dst)
        self.fs.rm(src)
        self.refresh()

    def copy_tree(self, src: str, dst: str) -> None:
        """Copy every key below ``src`` to the same place below ``dst``."""
        for path in self.find(src):
            self.fs.copy(path, posixpath.join(dst, posixpath.relpath(path, src)))
        self.refresh()
