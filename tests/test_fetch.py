"""fetch_oath from a local HTTP server, and safe_extract against malicious tarballs."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tame_xr import safetar
from tame_xr.fetch import OATH_SHA256, OATH_URL, fetch_oath
from tame_xr.io.oath import read_oath
from tame_xr.report import BadInputError, IngestReport
from tame_xr.safetar import extract_once, safe_extract

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MINI = DATA / "oath_mini"
needs_mini = pytest.mark.skipif(
    not (MINI / "classifications" / "classifications.csv").is_file(),
    reason=f"real OATH mini set not found at {MINI} (../shared/data)",
)


def _normal_modes(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode = 0o755 if info.isdir() else 0o644
    return info


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def served(tmp_path: Path, monkeypatch) -> Iterator[tuple[str, Path, list[str]]]:
    """A tarball of the mini set (top folder oath_v1.1/) served on 127.0.0.1."""
    if not MINI.is_dir():
        pytest.skip(f"real OATH mini set not found at {MINI} (../shared/data)")
    site = tmp_path / "site"
    site.mkdir()
    tgz = site / "oath_v1.1_test.tgz"
    with tarfile.open(tgz, "w:gz") as tf:
        tf.add(MINI, arcname="oath_v1.1", filter=_normal_modes)
    requests_seen: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            requests_seen.append(self.path)

    handler = functools.partial(Handler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    try:
        yield f"http://127.0.0.1:{server.server_port}/{tgz.name}", tgz, requests_seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_defaults():
    assert OATH_URL == "http://tid.uio.no/plasma/oath/oath_v1.1_20181026.tgz"
    assert OATH_SHA256 is None  # not known; see tame_xr.fetch


@needs_mini
def test_fetch_and_read(served, tmp_path):
    url, tgz, seen = served
    cache = tmp_path / "cache"
    root = fetch_oath(cache, url=url, known_hash=f"sha256:{_sha256(tgz)}", progress=False)
    assert root.name == "oath_v1.1" and (root / "classifications").is_dir()
    assert (cache / tgz.name).is_file()
    report = IngestReport()
    ds = read_oath(root, report=report)
    assert ds["sample"].values.tolist() == [1, 2, 4, 5, 6, 7, 8, 11, 14, 53]
    assert ds.attrs["n_labels"] == 5824 and len(report.skipped) == 5814
    assert "CC BY 4.0" in ds.attrs["license"] and "NASA" in ds.attrs["acknowledgement"]
    # a second call re-uses download and extraction
    n_requests = len(seen)
    again = fetch_oath(cache, url=url, known_hash=_sha256(tgz).upper(), progress=False)
    assert again == root and len(seen) == n_requests


@needs_mini
def test_wrong_hash_leaves_nothing(served, tmp_path):
    url, _, seen = served
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="failed verification"):
        fetch_oath(cache, url=url, known_hash="sha256:" + "0" * 64, progress=False)
    assert seen, "the server was never asked"
    assert [p for p in cache.rglob("*") if not p.is_dir()] == []


@pytest.mark.parametrize("bad", [None, "", "sha256:abc", "sha512:" + "0" * 64, "zz" * 32])
def test_hash_required(bad, tmp_path):
    with pytest.raises(ValueError, match="known_hash"):
        fetch_oath(tmp_path, url="http://127.0.0.1:9/x.tgz", known_hash=bad, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_default_refuses_unverified(tmp_path):
    with pytest.raises(ValueError, match="cannot be verified"):
        fetch_oath(tmp_path)


# --- safe_extract -------------------------------------------------------------------


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"evil") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _special(name: str, kind: bytes, target: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


MALICIOUS: dict[str, Callable[[], list]] = {
    "dotdot": lambda: [_file("ok/a.txt"), _file("../evil.txt")],
    "nested-dotdot": lambda: [_file("ok/../../evil.txt")],
    "absolute": lambda: [_file("/tmp/tame_xr_evil_absolute.txt")],
    "symlink-abs": lambda: [_special("passwd", tarfile.SYMTYPE, "/etc/passwd")],
    "symlink-up": lambda: [_special("d/up", tarfile.SYMTYPE, "../../evil")],
    "hardlink-abs": lambda: [_special("passwd", tarfile.LNKTYPE, "/etc/passwd")],
    "hardlink-up": lambda: [_special("h", tarfile.LNKTYPE, "../outside.txt")],
    "below-symlink": lambda: [
        _file("sub/x.txt"),
        _special("link", tarfile.SYMTYPE, "sub"),
        _file("link/evil.txt"),
    ],
    "chardev": lambda: [_special("null", tarfile.CHRTYPE)],
    "blockdev": lambda: [_special("sda", tarfile.BLKTYPE)],
    "fifo": lambda: [_special("pipe", tarfile.FIFOTYPE)],
}


@pytest.mark.parametrize("case", list(MALICIOUS))
def test_malicious_tarball_refused(case, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    members = MALICIOUS[case]()
    tar_path = _tar(src / "evil.tgz", members)
    work = tmp_path / "work"
    with pytest.raises(BadInputError, match="member") as info:
        safe_extract(tar_path, work / "out")
    assert info.value.path == str(tar_path)
    assert repr(members[-1][0].name) in str(info.value)
    assert not work.exists()  # nothing at all was written
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["evil.tgz", "src"]
    assert not Path("/tmp/tame_xr_evil_absolute.txt").exists()
    # read_oath refuses the same tarball
    with pytest.raises(BadInputError, match="member"):
        read_oath(tar_path, extract_dir=work / "oath")
    assert not work.exists()


def test_benign_tarball(tmp_path):
    tar_path = _tar(
        tmp_path / "ok.tar.gz",
        [
            _special("top", tarfile.DIRTYPE),
            _file("top/a.txt", b"a"),
            _file("top/sub/b.txt", b"b"),
            _special("top/link", tarfile.SYMTYPE, "sub/b.txt"),
            _special("top/hard", tarfile.LNKTYPE, "top/a.txt"),
        ],
    )
    dest = tmp_path / "out"
    files = safe_extract(tar_path, dest)
    assert sorted(p.relative_to(dest).as_posix() for p in files) == [
        "top/a.txt",
        "top/hard",
        "top/link",
        "top/sub/b.txt",
    ]
    assert (dest / "top" / "link").read_bytes() == b"b"
    assert (dest / "top" / "hard").read_bytes() == b"a"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []
    with pytest.raises(FileExistsError):
        safe_extract(tar_path, dest)
    assert extract_once(tar_path, dest) == dest
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (empty / "top" / "a.txt") in safe_extract(tar_path, empty)


def test_not_a_tarball(tmp_path):
    junk = tmp_path / "junk.tgz"
    junk.write_bytes(b"this is not a tar archive" * 10)
    with pytest.raises(BadInputError, match="cannot read tar archive"):
        safe_extract(junk, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_needs_data_filter(tmp_path, monkeypatch):
    tar_path = _tar(tmp_path / "ok.tgz", [_file("a.txt", b"a")])
    monkeypatch.delattr(safetar.tarfile, "data_filter")
    with pytest.raises(RuntimeError, match="data"):
        safe_extract(tar_path, tmp_path / "out")
