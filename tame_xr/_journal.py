"""Crash safety for :class:`tame_xr.Store`: a small journal per group.

Every key Zarr writes to a local store is written atomically (temporary file + rename), so
what can go wrong when a process dies part-way is a group whose arrays disagree with each
other. Two kinds of change are journalled:

``inplace``
    Arrays are resized and regions written in place. Before anything changes, the journal
    records every metadata document (``zarr.json``) of the group and the root. Recovery puts
    them back and scrubs chunk data that lies beyond the restored shapes, so the group is
    exactly as it was before the interrupted write.
``swap``
    A complete new version of the group was written to a staging directory first. Recovery
    finishes the swap (the staged copy is complete once the journal exists).

A journal file is written atomically and deleted last: its absence means "committed".
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np


def work_dir(root: Path) -> Path:
    """Journal, staging and trash live beside the store (inside, Zarr would take them for
    unknown nodes): ``/data/demo.zarr`` → ``/data/.demo.zarr.tame_xr``. Same file system, so
    renames between them are atomic."""
    return root.parent / f".{root.name}.tame_xr"


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def journal_path(root: Path, group: str) -> Path:
    """Where the journal of ``group`` lives."""
    return work_dir(root) / "journal" / (group.replace("/", "__") + ".json")


def staging_dir(root: Path) -> Path:
    """A fresh directory name for staging a new version of a group."""
    return work_dir(root) / "staging" / uuid.uuid4().hex


def _metadata_docs(root: Path, group: str) -> dict[str, str]:
    docs = {"zarr.json": (root / "zarr.json").read_text(encoding="utf-8")}
    group_dir = root / group
    for path in group_dir.rglob("zarr.json"):
        docs[str(path.relative_to(root))] = path.read_text(encoding="utf-8")
    return docs


def begin_inplace(root: Path, group: str) -> Path:
    """Record the group's metadata before an in-place change; returns the journal path."""
    path = journal_path(root, group)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"kind": "inplace", "group": group, "docs": _metadata_docs(root, group)}
    _atomic_write_text(path, json.dumps(payload))
    return path


def begin_swap(root: Path, group: str, staged: Path) -> tuple[Path, dict]:
    """Record that ``staged`` (complete) is to replace ``group``; returns journal path, entry."""
    path = journal_path(root, group)
    path.parent.mkdir(parents=True, exist_ok=True)
    trash = work_dir(root) / "trash" / uuid.uuid4().hex
    payload = {"kind": "swap", "group": group, "staged": str(staged), "trash": str(trash)}
    _atomic_write_text(path, json.dumps(payload))
    return path, payload


def finish_swap(root: Path, journal: dict) -> None:
    """Move the staged copy into place (idempotent, so recovery can call it again)."""
    group_dir = root / journal["group"]
    staged, trash = Path(journal["staged"]), Path(journal["trash"])
    if staged.exists():
        if group_dir.exists():
            trash.parent.mkdir(parents=True, exist_ok=True)
            os.replace(group_dir, trash)
        group_dir.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, group_dir)
    shutil.rmtree(trash, ignore_errors=True)


def commit(journal: Path) -> None:
    """Mark a change as complete."""
    journal.unlink(missing_ok=True)


def _scrub_array(array_dir: Path, meta: dict) -> None:
    """Delete chunk data outside ``meta['shape']`` (left by an interrupted resize/write)."""
    shape = meta["shape"]
    chunk_shape = meta["chunk_grid"]["configuration"]["chunk_shape"]
    chunk_root = array_dir / "c"
    for tmp in array_dir.rglob("*.partial"):
        tmp.unlink(missing_ok=True)
    if not chunk_root.exists() or not shape:
        return
    n_chunks = [-(-s // c) if s else 0 for s, c in zip(shape, chunk_shape, strict=True)]
    straddling = []
    for path in chunk_root.rglob("*"):
        if not path.is_file():
            continue
        try:
            index = [int(p) for p in path.relative_to(chunk_root).parts]
        except ValueError:
            continue
        if any(i >= n for i, n in zip(index, n_chunks, strict=False)):
            path.unlink()
        elif any((i + 1) * c > s for i, c, s in zip(index, chunk_shape, shape, strict=False)):
            straddling.append(index)
    if straddling:
        import zarr

        arr = zarr.open_array(array_dir, mode="r+")
        for index in straddling:
            sel = tuple(
                slice(i * c, min((i + 1) * c, s))
                for i, c, s in zip(index, chunk_shape, shape, strict=False)
            )
            keep = np.asarray(arr[sel])
            (chunk_root.joinpath(*map(str, index))).unlink()
            arr[sel] = keep  # rewritten with the fill value outside the shape


def recover(root: Path, group: str) -> bool:
    """Undo or finish an interrupted change of ``group``. Returns True if there was one."""
    path = journal_path(root, group)
    if not path.exists():
        return False
    try:
        journal = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        # The journal is written atomically, so this is not ours to interpret: leave it.
        raise RuntimeError(f"{path}: unreadable tame_xr journal; inspect it by hand") from None
    if journal["kind"] == "swap":
        finish_swap(root, journal)
    else:
        docs: dict[str, str] = journal["docs"]
        group_dir = root / group
        # Arrays created by the interrupted write are not in the snapshot: remove them.
        for meta_path in list(group_dir.rglob("zarr.json")):
            rel = str(meta_path.relative_to(root))
            if rel not in docs:
                shutil.rmtree(meta_path.parent, ignore_errors=True)
        for rel, text in docs.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write_text(target, text)
            meta = json.loads(text)
            if meta.get("node_type") == "array":
                _scrub_array(target.parent, meta)
    commit(path)
    return True


def clean_orphans(root: Path) -> None:
    """Remove staging and trash directories that no journal refers to."""
    base = work_dir(root)
    referenced = set()
    jdir = base / "journal"
    if jdir.exists():
        for jpath in jdir.glob("*.json"):
            try:
                journal = json.loads(jpath.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                continue
            referenced.update({journal.get("staged"), journal.get("trash")})
    for sub in ("staging", "trash"):
        folder = base / sub
        if folder.exists():
            for child in folder.iterdir():
                if str(child) not in referenced:
                    shutil.rmtree(child, ignore_errors=True)
