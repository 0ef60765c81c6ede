"""Safe, all-or-nothing extraction of (gzipped) tar archives.

Every member is checked before anything is written: absolute names, ``..`` traversal,
links whose target lies outside the destination, members below a symlink and device or
other special files are refused. The extraction itself then runs with the standard
library's ``"data"`` filter (a second line of defence) into a temporary folder next to
``dest``, which is renamed into place only when everything has been extracted.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import stat
import tarfile
import tempfile
from pathlib import Path

from .report import BadInputError

__all__ = ["extract_once", "safe_extract"]


def _check_data_filter() -> None:
    if not hasattr(tarfile, "data_filter"):
        raise RuntimeError(
            "safe tar extraction needs tarfile's 'data' extraction filter "
            "(Python >= 3.11.4); upgrade Python"
        )


def _outside(path: str) -> bool:
    """True when a normalised archive-relative POSIX path leaves the archive root."""
    return path == ".." or path.startswith("../") or posixpath.isabs(path)


def _check_member(member: tarfile.TarInfo, symlinks: set[str], tar_path: Path) -> None:
    name = member.name
    if not name or "\x00" in name:
        raise BadInputError(tar_path, f"member {name!r} has an invalid name")
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:[\\/]", name):
        raise BadInputError(tar_path, f"member {name!r} has an absolute path")
    norm = posixpath.normpath(name)
    if ".." in name.replace("\\", "/").split("/") or _outside(norm):
        raise BadInputError(tar_path, f"member {name!r} uses '..' path traversal")
    parents = Path(norm).parents
    for parent in parents:
        if parent.as_posix() in symlinks:
            raise BadInputError(
                tar_path, f"member {name!r} lies below the symlink member {parent.as_posix()!r}"
            )
    if member.issym():
        target = member.linkname
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(norm), target))
        if posixpath.isabs(target) or _outside(resolved):
            raise BadInputError(
                tar_path, f"member {name!r} is a symlink to {target!r}, outside the archive"
            )
        symlinks.add(norm)
    elif member.islnk():
        target = member.linkname
        resolved = posixpath.normpath(target)
        if posixpath.isabs(target) or _outside(resolved):
            raise BadInputError(
                tar_path, f"member {name!r} is a hard link to {target!r}, outside the archive"
            )
    elif member.ischr() or member.isblk():
        raise BadInputError(tar_path, f"member {name!r} is a device file")
    elif not (member.isfile() or member.isdir()):
        raise BadInputError(tar_path, f"member {name!r} is a special file (fifo or other)")


def _rmtree(path: Path) -> None:
    """Remove a tree even where the archive made folders read-only."""
    if not path.exists():
        return
    for root, dirs, _ in os.walk(path):
        for d in dirs:
            full = os.path.join(root, d)
            if not os.path.islink(full):
                os.chmod(full, stat.S_IRWXU)
    os.chmod(path, stat.S_IRWXU)
    shutil.rmtree(path)


def safe_extract(tar_path: str | Path, dest: str | Path) -> list[Path]:
    """Extract a tar archive (optionally gzip/bz2/xz compressed) safely into ``dest``.

    Parameters
    ----------
    tar_path
        The archive.
    dest
        The folder to create; it must not exist yet (or be an empty folder). The archive's
        members end up below it with their archive paths (a top-level folder is kept).

    Returns
    -------
    list of Path
        The extracted files and links (not folders), at their final place below ``dest``.

    Raises
    ------
    BadInputError
        If the archive cannot be read or any member is unsafe (absolute path, ``..``,
        link leaving the archive, device or other special file). Nothing is written then.
    FileExistsError
        If ``dest`` exists and is not empty (for example another process extracted first).
    RuntimeError
        If this Python has no ``tarfile.data_filter`` (before 3.11.4).
    """
    _check_data_filter()
    tar_path = Path(tar_path)
    dest = Path(dest).absolute()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(f"{dest} exists and is not empty; not extracting {tar_path} there")
    try:
        with tarfile.open(tar_path, "r:*") as tf:
            members = tf.getmembers()
            symlinks: set[str] = set()
            for member in members:
                _check_member(member, symlinks, tar_path)
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(
                tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
            )
            try:
                tf.extractall(tmp, members=members, filter="data")
            except BaseException:
                _rmtree(tmp)
                raise
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, tarfile.FilterError):
            raise BadInputError(
                tar_path, f"unsafe member refused by the data filter: {exc}"
            ) from exc
        if isinstance(exc, (tarfile.TarError, EOFError)):
            raise BadInputError(tar_path, f"cannot read tar archive ({exc})") from exc
        raise
    os.chmod(tmp, 0o755)
    try:
        if dest.exists():  # an empty folder: replace it
            dest.rmdir()
        os.rename(tmp, dest)
    except OSError:
        _rmtree(tmp)
        if dest.exists() and any(dest.iterdir()):
            raise FileExistsError(f"{dest} was filled by someone else during extraction") from None
        raise
    return [dest / posixpath.normpath(m.name) for m in members if not m.isdir()]


def extract_once(tar_path: str | Path, dest: str | Path) -> Path:
    """Extract ``tar_path`` into ``dest`` with :func:`safe_extract` unless already done.

    An existing non-empty ``dest`` is taken as a complete earlier extraction (extraction
    renames a finished temporary folder into place, so a partial one never sits at
    ``dest``). Returns ``dest``.
    """
    dest = Path(dest)
    if dest.is_dir() and any(dest.iterdir()):
        return dest
    try:
        safe_extract(tar_path, dest)
    except FileExistsError:
        if not (dest.is_dir() and any(dest.iterdir())):
            raise
    return dest
