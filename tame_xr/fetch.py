"""Download public data sets (verified by hash) into a local cache."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

from .io.oath import find_oath_root
from .safetar import extract_once

__all__ = ["OATH_SHA256", "OATH_URL", "fetch_oath"]

#: The official OATH v1.1 tarball (about 0.6 GB).
OATH_URL = "http://tid.uio.no/plasma/oath/oath_v1.1_20181026.tgz"

#: The official sha256 of :data:`OATH_URL` is not known to tame_xr: it was written without
#: network access, and OATH publishes no checksum. Until it is filled in, callers must pass
#: ``known_hash="sha256:<hex>"`` (a hash they computed themselves from a trusted download).
OATH_SHA256: str | None = None

_HASH = re.compile(r"^(?:(?P<alg>[a-z0-9]+):)?(?P<hex>[0-9a-fA-F]+)$")
_HEX_LENGTH = {"sha256": 64, "sha1": 40, "md5": 32}


def _check_hash(known_hash: str | None) -> str:
    if not known_hash:
        raise ValueError(
            "fetch_oath needs known_hash: the OATH download cannot be verified without it, "
            "and tame_xr does not know the official checksum. Download the tarball once from "
            "a trusted source, compute its hash (e.g. `sha256sum oath_v1.1_20181026.tgz`) and "
            'pass known_hash="sha256:<hex>".'
        )
    match = _HASH.match(known_hash.strip())
    alg = (match.group("alg") or "sha256") if match else None
    if match is None or len(match.group("hex")) != _HEX_LENGTH.get(alg or "", -1):
        raise ValueError(
            f"known_hash {known_hash!r} is not of the form 'sha256:<64 hex digits>' "
            "(sha1: and md5: are accepted too)"
        )
    return f"{alg}:{match.group('hex').lower()}"


def fetch_oath(
    directory: str | Path | None = None,
    *,
    url: str = OATH_URL,
    known_hash: str | None = OATH_SHA256,
    progress: bool = True,
) -> Path:
    """Download OATH, verify it, extract it once and return its root folder.

    Parameters
    ----------
    directory
        Cache folder (default ``pooch.os_cache("tame_xr")``). The tarball is kept there
        under its own name and extracted next to it into ``<tarball>.<hash>.untar``; both are
        re-used by later calls (a cached tarball is re-checked against ``known_hash``).
    url
        Where to download from.
    known_hash
        ``"sha256:<hex>"`` of the tarball. Required: there are no unverified downloads.
    progress
        Show a download progress bar (tqdm).

    Returns
    -------
    pathlib.Path
        The OATH root, the folder holding ``classifications/`` and ``images/``; pass it to
        :func:`tame_xr.io.oath.read_oath`.

    Raises
    ------
    ValueError
        Without ``known_hash``, with a malformed one, or when the downloaded file does not
        match it (the file is then not kept).
    tame_xr.report.BadInputError
        When the tarball is unsafe to extract or holds no OATH folder.
    """
    import pooch

    checked = _check_hash(known_hash)
    cache = Path(directory) if directory is not None else Path(pooch.os_cache("tame_xr"))
    fname = Path(urlparse(url).path).name or None
    try:
        tarball = pooch.retrieve(
            url, known_hash=checked, fname=fname, path=cache, progressbar=progress
        )
    except ValueError as exc:
        raise ValueError(
            f"download of {url} failed verification against {checked}; nothing was kept "
            f"in {cache}. {exc}"
        ) from exc
    tarball = Path(tarball)
    # The hash in the folder name ties the extraction to this exact tarball.
    dest = tarball.with_name(f"{tarball.name}.{checked.split(':')[1][:16]}.untar")
    return find_oath_root(extract_once(tarball, dest))
