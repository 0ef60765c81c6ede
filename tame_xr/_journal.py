"""Crash safety for :class:`tame_xr.Store`: a small journal per group.

Every key Zarr writes is replaced atomically (a local temporary file and a rename, or one PUT
on object storage), so what can go wrong when a process dies part-way is a group whose
arrays disagree with each other. Two kinds of change are journalled:

``inplace``
    Arrays are resized and regions written in place. Before anything changes, the journal
    records every metadata document (``zarr.json``) of the group and the root. Recovery puts
    them back and scrubs chunk data that lies beyond the restored shapes (each straddling
    chunk replaced in one atomic step, so recovery itself may be interrupted). An
    interrupted append is thus undone exactly. Cells that the write *replaced* inside the
    old shape may already hold their new values (each chunk is whole: old or new); the
    presence flag ``valid`` is written last, so a cell that had no data before still has
    none, and a rerun of the same write completes it.
``swap``
    A complete new version of the group was written to a staging directory first. Recovery
    finishes the swap (the staged copy is complete once the journal exists). Locally the
    swap is two renames; on object storage, which has no renames, the group's keys are
    deleted and the staged keys copied over, and the journal records when the copy is
    complete so that recovery redoes the copy or only removes the staged keys.

A journal file is written atomically and deleted last: its absence means "committed".
All paths go through :class:`tame_xr._files.StoreFiles`.
"""

from __future__ import annotations

import json
import uuid

import numpy as np

from ._files import StoreFiles


def journal_path(files: StoreFiles, group: str) -> str:
    """Where the journal of ``group`` lives."""
    return files.join(files.work, "journal", group.replace("/", "__") + ".json")


def journals(files: StoreFiles) -> dict[str, str]:
    """Group name → journal path of every unfinished change."""
    folder = files.join(files.work, "journal")
    names = {}
    for path in files.find(folder):
        rel = files.relative(path, folder)
        if rel.endswith(".json") and "/" not in rel and not rel.startswith("."):
            names[rel.removesuffix(".json").replace("__", "/")] = path
    return names


def staging_dir(files: StoreFiles) -> str:
    """A fresh directory for staging a new version of a group."""
    path = files.join(files.work, "staging", uuid.uuid4().hex)
    files.makedirs(files.join(files.work, "staging"))
    return path


def _metadata_docs(files: StoreFiles, group: str) -> dict[str, str]:
    docs = {"zarr.json": files.read_text(files.join(files.root, "zarr.json"))}
    for path in files.metadata(files.join(files.root, group)):
        docs[files.relative(path, files.root)] = files.read_text(path)
    return docs


def begin_inplace(files: StoreFiles, group: str) -> str:
    """Record the group's metadata before an in-place change; returns the journal path."""
    path = journal_path(files, group)
    payload = {"kind": "inplace", "group": group, "docs": _metadata_docs(files, group)}
    files.write_text(path, json.dumps(payload))
    return path


def begin_swap(files: StoreFiles, group: str, staged: str) -> tuple[str, dict]:
    """Record that ``staged`` (complete) is to replace ``group``; returns journal path, entry."""
    path = journal_path(files, group)
    payload = {
        "kind": "swap",
        "group": group,
        "staged": files.relative(staged, files.work),
        "trash": files.join("trash", uuid.uuid4().hex),
        "copied": False,
    }
    files.write_text(path, json.dumps(payload))
    return path, payload


def finish_swap(files: StoreFiles, journal: dict) -> None:
    """Put the staged copy in place (idempotent, so recovery can call it again)."""
    group_dir = files.join(files.root, journal["group"])
    staged = files.join(files.work, journal["staged"])
    trash = files.join(files.work, journal["trash"])
    if files.local:
        if files.exists(staged):
            if files.exists(group_dir):
                files.move_tree(group_dir, trash)
            files.move_tree(staged, group_dir)
        files.remove(trash)
        return
    if not journal.get("copied"):
        files.remove(group_dir)
        files.copy_tree(staged, group_dir)
        journal["copied"] = True
        files.write_text(journal_path(files, journal["group"]), json.dumps(journal))
    files.remove(staged)


def commit(files: StoreFiles, journal: str) -> None:
    """Mark a change as complete."""
    files.remove(journal)


def _scrub_array(files: StoreFiles, array_dir: str, meta: dict) -> None:
    """Delete chunk data outside ``meta['shape']`` (left by an interrupted resize/write)."""
    shape = meta["shape"]
    chunk_shape = meta["chunk_grid"]["configuration"]["chunk_shape"]
    chunk_root = files.join(array_dir, "c")
    keys = files.find(array_dir)
    for path in keys:
        if path.endswith(".partial"):  # a local write that never finished
            files.remove(path)
    if not shape:
        return
    n_chunks = [-(-s // c) if s else 0 for s, c in zip(shape, chunk_shape, strict=True)]
    for path in keys:
        rel = files.relative(path, chunk_root)
        try:
            index = [int(p) for p in rel.split("/")]
        except ValueError:
            continue
        if any(i >= n for i, n in zip(index, n_chunks, strict=False)):
            files.remove(path)
        elif any((i + 1) * c > s for i, c, s in zip(index, chunk_shape, shape, strict=False)):
            _rewrite_chunk(files, array_dir, meta, index, path)


def _rewrite_chunk(files: StoreFiles, array_dir: str, meta: dict, index: list, path: str):
    """Rewrite a chunk that straddles the shape with the fill value beyond it.

    The new chunk is encoded in a scratch array beside the store and then replaces the live
    one in a single atomic step, so a process killed here (recovery can be interrupted
    too) leaves either the old chunk or the new one, and the next recovery repeats this.
    """
    import zarr

    shape, chunk_shape = meta["shape"], meta["chunk_grid"]["configuration"]["chunk_shape"]
    sel = tuple(
        slice(i * c, min((i + 1) * c, s))
        for i, c, s in zip(index, chunk_shape, shape, strict=False)
    )
    live = zarr.open_array(files.zarr_store(array_dir), mode="r")
    keep = np.asarray(live[sel])
    scratch = files.join(files.work, "scratch", uuid.uuid4().hex)
    files.write_text(files.join(scratch, "zarr.json"), json.dumps(meta))
    zarr.open_array(files.zarr_store(scratch), mode="r+")[sel] = keep
    new = files.join(scratch, files.relative(path, array_dir))
    if files.exists(new):
        files.replace_file(new, path)
    else:  # all fill value: Zarr stores no chunk, and none reads the same
        files.remove(path)
    files.remove(scratch)


def recover(files: StoreFiles, group: str) -> bool:
    """Undo or finish an interrupted change of ``group``. Returns True if there was one."""
    path = journal_path(files, group)
    if not files.exists(path):
        return False
    try:
        journal = json.loads(files.read_text(path))
    except json.JSONDecodeError:
        # The journal is written atomically, so this is not ours to interpret: leave it.
        raise RuntimeError(f"{path}: unreadable tame_xr journal; inspect it by hand") from None
    if journal["kind"] == "swap":
        finish_swap(files, journal)
    else:
        docs: dict[str, str] = journal["docs"]
        # Arrays created by the interrupted write are not in the snapshot: remove them.
        for meta_path in files.metadata(files.join(files.root, group)):
            if files.relative(meta_path, files.root) not in docs:
                files.remove(meta_path.rsplit("/", 1)[0])
        for rel, text in docs.items():
            target = files.join(files.root, rel)
            files.write_text(target, text)
            meta = json.loads(text)
            if meta.get("node_type") == "array":
                _scrub_array(files, target.rsplit("/", 1)[0], meta)
    commit(files, path)
    return True


def clean_orphans(files: StoreFiles) -> None:
    """Remove staging and trash directories that no journal refers to."""
    referenced = set()
    for jpath in journals(files).values():
        try:
            journal = json.loads(files.read_text(jpath))
        except (json.JSONDecodeError, FileNotFoundError):
            continue
        referenced.update({journal.get("staged"), journal.get("trash")})
    for sub in ("staging", "trash", "scratch"):
        for child in files.children(files.join(files.work, sub)):
            if files.relative(child, files.work) not in referenced:
                files.remove(child)
    for child in files.children(files.join(files.work, "journal")):
        name = child.rsplit("/", 1)[-1]
        if name.startswith(".") and name.endswith(".tmp"):  # a journal write that never finished
            files.remove(child)
