"""Reader for OATH, the Oslo Auroral THEMIS labelled image set (Clausen & Nickisch 2018).

Layout of an OATH root folder::

    classifications/classifications.csv    preamble (licence, acknowledgement), then
                                           class2,class6,picNum,picType,rotAng
    classifications/train_test_split.csv   5 rows, each a permutation of 0..N-1 (as floats)
    images/cropped_scaled/NNNNN.png        256x256 RGB PNG, signal in the green channel
"""

from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import xarray as xr

from ..attrs import group_attrs
from ..report import BadInputError, IngestReport, Skipped, warn_skipped
from ..safetar import extract_once
from .decode import decode_image, lazy_image_stack, read_header

__all__ = ["CLASS_NAMES", "find_oath_root", "oath_split", "read_labels", "read_oath"]

#: OATH's six classes in ``class6`` order (OATH's picType "noaurora" is called "clear").
CLASS_NAMES = ("arc", "diffuse", "discrete", "cloudy", "moon", "clear")
_PIC_TYPES = ("arc", "diffuse", "discrete", "cloudy", "moon", "noaurora")
_COLUMNS = ("class2", "class6", "picNum", "picType", "rotAng")
_LABELS_CSV = Path("classifications", "classifications.csv")
_SPLIT_CSV = Path("classifications", "train_test_split.csv")
_IMAGE_DIR = Path("images", "cropped_scaled")
_SHAPE = (256, 256)
_TAR_SUFFIXES = (".tgz", ".tar.gz", ".tar", ".tar.bz2", ".tar.xz")
_ACK_START = re.compile(r"^(we thank|we acknowledge|acknowledg)", re.IGNORECASE)
_ANCHOR = re.compile(r"<a\s[^>]*href\s*=\s*\"([^\"]*)\"[^>]*>(.*?)</a\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")
_NO_PREAMBLE = "not stated in classifications.csv (OATH v1.1 is published under CC BY 4.0)"


@dataclass(frozen=True)
class OathLabels:
    """The parsed label table (one entry per CSV row, in file order)."""

    class2: np.ndarray
    class6: np.ndarray
    pic_num: np.ndarray
    rot_ang: np.ndarray
    license: str
    acknowledgement: str


def _clean_paragraph(lines: list[str]) -> str:
    text = " ".join(line.strip() for line in lines)
    text = _ANCHOR.sub(lambda m: f"{m.group(2).strip()} ({m.group(1)})", text)
    return re.sub(r"\s+", " ", _TAG.sub("", text)).strip()


def _split_preamble(lines: list[str]) -> tuple[str, str]:
    """Licence and acknowledgement text from the preamble lines (dash lines dropped)."""
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if re.fullmatch(r"\s*-{3,}\s*", line) or not line.strip():
            if paragraphs[-1]:
                paragraphs.append([])
        else:
            paragraphs[-1].append(line)
    texts = [_clean_paragraph(p) for p in paragraphs if p]
    ack = [t for t in texts if _ACK_START.match(t)]
    lic = [t for t in texts if not _ACK_START.match(t)]
    return "\n\n".join(lic) or _NO_PREAMBLE, "\n\n".join(ack)


def _bad_line(csv_path: Path, lineno: int, problem: str) -> BadInputError:
    return BadInputError(csv_path, f"line {lineno}: {problem}")


def read_labels(csv_path: str | Path) -> OathLabels:
    """Parse OATH's ``classifications.csv`` (preamble, header, one row per picture).

    Raises
    ------
    BadInputError
        No header line, wrong columns, a short or long row, a non-integer number, a class
        out of range, class2/class6/picType that contradict each other, or a duplicate
        picNum -- naming the file and the line.
    """
    csv_path = Path(csv_path)
    try:
        lines = csv_path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(csv_path, f"cannot read label file ({exc})") from None
    header_at = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("class2,")), None)
    if header_at is None:
        raise BadInputError(csv_path, "no header line starting with 'class2,' found")
    columns = [c.strip() for c in lines[header_at].split(",")]
    if sorted(columns) != sorted(_COLUMNS):
        raise BadInputError(
            csv_path, f"line {header_at + 1}: columns {columns}, expected {list(_COLUMNS)}"
        )
    rows: list[tuple[int, int, int, int]] = []
    first_line: dict[int, int] = {}
    for lineno, fields in enumerate(csv.reader(lines[header_at + 1 :]), start=header_at + 2):
        bad = partial(_bad_line, csv_path, lineno)
        if all(not f.strip() for f in fields):
            continue
        if len(fields) != len(_COLUMNS):
            raise bad(f"expected {len(_COLUMNS)} fields, got {len(fields)}")
        row = dict(zip(columns, (f.strip() for f in fields), strict=True))
        try:
            c2, c6, num, rot = (int(row[k]) for k in ("class2", "class6", "picNum", "rotAng"))
        except ValueError:
            raise bad(f"non-integer value in {row}") from None
        if not 0 <= c6 < len(CLASS_NAMES):
            raise bad(f"class6 {c6} is not in 0..5")
        if c2 != (0 if c6 <= 2 else 1) or row["picType"] != _PIC_TYPES[c6]:
            raise bad(f"class2 {c2}, class6 {c6} and picType {row['picType']!r} disagree")
        if not 0 <= rot <= 360:
            raise bad(f"rotAng {rot} is not in 0..360")
        if num in first_line:
            raise bad(f"duplicate picNum {num} (first on line {first_line[num]})")
        first_line[num] = lineno
        rows.append((c2, c6, num, rot))
    if not rows:
        raise BadInputError(csv_path, "no label rows after the header")
    table = np.array(rows, dtype=np.int64)
    license_text, ack = _split_preamble(lines[:header_at])
    return OathLabels(
        class2=table[:, 0].astype(np.int8),
        class6=table[:, 1].astype(np.int8),
        pic_num=table[:, 2],
        rot_ang=table[:, 3].astype(np.int16),
        license=license_text,
        acknowledgement=ack,
    )


def oath_split(
    path_or_csv: str | Path, permutation: int = 0, train_fraction: float = 0.7
) -> np.ndarray:
    """Train/test assignment of every row of OATH's label table.

    Row ``permutation`` of ``train_test_split.csv`` is a permutation of the 0-based row
    indices of ``classifications.csv``; the first ``round(train_fraction * N)`` of them are
    ``"train"``, the rest ``"test"``.

    Parameters
    ----------
    path_or_csv
        An OATH root folder or the ``train_test_split.csv`` file itself.
    permutation
        Which row (0..4 in OATH v1.1) of the split file to use.
    train_fraction
        Fraction of the rows that go to training, in [0, 1].

    Returns
    -------
    numpy.ndarray
        Object array of ``"train"``/``"test"`` (Python ``str``), one per label row.
    """
    path = Path(path_or_csv)
    csv_path = path / _SPLIT_CSV if path.is_dir() else path
    if not 0.0 <= train_fraction <= 1.0:
        raise ValueError(f"train_fraction must be in [0, 1], got {train_fraction}")
    try:
        with warnings.catch_warnings():  # an empty file: reported below, not warned about
            warnings.filterwarnings("ignore", "loadtxt: input contained no data")
            table = np.atleast_2d(np.loadtxt(csv_path, delimiter=",", ndmin=2))
    except (OSError, ValueError) as exc:
        raise BadInputError(csv_path, f"cannot read split file ({exc})") from None
    if table.size == 0:
        raise BadInputError(csv_path, "empty split file (no rows of indices)")
    if not 0 <= permutation < table.shape[0]:
        raise ValueError(f"permutation must be in 0..{table.shape[0] - 1}, got {permutation}")
    row = table[permutation]
    n = row.size
    order = row.astype(np.int64)
    if not (np.array_equal(order, row) and np.array_equal(np.sort(order), np.arange(n))):
        raise BadInputError(csv_path, f"line {permutation + 1}: not a permutation of 0..{n - 1}")
    split = np.empty(n, dtype=object)
    n_train = int(round(train_fraction * n))
    split[order[:n_train]] = "train"
    split[order[n_train:]] = "test"
    return split


def find_oath_root(directory: str | Path) -> Path:
    """The folder holding ``classifications/`` -- ``directory`` itself or one child of it."""
    directory = Path(directory)
    if (directory / _LABELS_CSV).is_file():
        return directory
    found = [d for d in sorted(directory.iterdir()) if d.is_dir() and (d / _LABELS_CSV).is_file()]
    if len(found) != 1:
        raise BadInputError(
            directory,
            f"no single OATH root below it (looked for {_LABELS_CSV.as_posix()}; "
            f"found {len(found)} candidates)",
        )
    return found[0]


def _root_from(path: Path, extract_dir: str | Path | None) -> Path:
    if path.is_dir():
        return find_oath_root(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such OATH folder or tarball")
    if not path.name.lower().endswith(_TAR_SUFFIXES):
        raise BadInputError(path, "not an OATH folder or a .tgz/.tar.gz tarball")
    dest = Path(extract_dir) if extract_dir is not None else path.with_name(path.name + ".untar")
    return find_oath_root(extract_once(path, dest))


def _variable_attrs() -> dict[str, dict]:
    """CF-style attributes of every variable (fresh dicts)."""
    return {
        "image": {
            "long_name": "OATH all-sky image, green channel (THEMIS ASI, cropped and scaled)",
            "units": "1",
            "comment": "channel 1 of images/cropped_scaled/NNNNN.png; 16-bit PNG samples are "
            "reduced to 8 bit by Pillow (high byte)",
        },
        "sample": {"long_name": "OATH picture number (picNum)", "units": "1"},
        "class6": {
            "long_name": "OATH six-class label",
            "units": "1",
            "flag_values": np.arange(6, dtype=np.int8),
            "flag_meanings": " ".join(CLASS_NAMES),
        },
        "class2": {
            "long_name": "OATH two-class label (0 aurora: class6 0-2, 1 no aurora: 3-5)",
            "units": "1",
            "flag_values": np.arange(2, dtype=np.int8),
            "flag_meanings": "aurora no_aurora",
        },
        "label_name": {"long_name": "OATH class name (picType, with noaurora called clear)"},
        "rot_ang": {"long_name": "rotation angle of the image (OATH rotAng)", "units": "degree"},
        "split": {"long_name": "OATH train/test split"},
    }


def _check_image(path: Path) -> str | None:
    """Why ``path`` cannot be used (``None`` when it can): header checks only."""
    if not path.is_file():
        return "image file missing (partial download?)"
    try:
        header = read_header(path)
    except BadInputError as exc:
        return exc.reason
    height, width = header.shape[:2]
    if (height, width) != _SHAPE:
        return f"image size {width}x{height}, expected {_SHAPE[1]}x{_SHAPE[0]}"
    if len(header.shape) != 3 or header.dtype != np.uint8:
        return f"image mode {header.mode!r} has no 8-bit green channel (expected RGB)"
    return None


def read_oath(
    path: str | Path,
    *,
    permutation: int = 0,
    train_fraction: float = 0.7,
    report: IngestReport | None = None,
    chunks: int = 64,
    extract_dir: str | Path | None = None,
) -> xr.Dataset:
    """Read OATH (folder or tarball) as a lazy, labelled ``xarray.Dataset``.

    Parameters
    ----------
    path
        The OATH root folder (holding ``classifications/`` and ``images/``), its parent
        with a single OATH folder inside, or a ``.tgz``/``.tar.gz`` of it. A tarball is
        extracted safely (:func:`tame_xr.safetar.safe_extract`) once, into ``extract_dir``
        or ``<tarball>.untar`` next to it, and an existing extraction is re-used.
    permutation, train_fraction
        Choose the train/test split (see :func:`oath_split`): row ``permutation`` of
        ``train_test_split.csv`` permutes the 0-based row indices of the label table; the
        first ``round(train_fraction * N)`` indices are ``"train"``, the rest ``"test"``.
        The split is computed on the full label table, before absent images are dropped.
    report
        Receives every skipped picture (path and reason) and every image used. Without it,
        one :class:`~tame_xr.report.SkippedInputWarning` lists the skipped pictures.
    chunks
        Samples per dask chunk of ``image``.
    extract_dir
        Where to extract a tarball (default ``<tarball>.untar``).

    Returns
    -------
    xarray.Dataset
        Dimensions ``sample, y, x``; ``image(sample, y, x)`` uint8 is channel 1 (green) of
        each PNG, decoded lazily by dask (16-bit PNGs are reduced to 8 bit by Pillow, which
        keeps the high byte). Index ``sample`` is OATH's ``picNum``. Coordinates along
        ``sample`` (so they travel with ``ds.image``): ``class6`` (int8, 0 arc, 1 diffuse,
        2 discrete, 3 cloudy, 4 moon, 5 clear), ``class2`` (int8, 0 aurora = class6 0-2,
        1 no aurora = class6 3-5; a row where they disagree is an error), ``label_name``
        (``CLASS_NAMES``; OATH's picType "noaurora" becomes "clear"), ``rot_ang`` (int16,
        degree) and ``split`` (``"train"``/``"test"``). Strings are object arrays of
        ``str``. Group attrs: ``title``, ``source``, ``history``, ``tame_xr_version``,
        ``license`` and ``acknowledgement`` (the CSV preamble with dash lines dropped and
        HTML links written as ``text (url)``; paragraphs starting "We thank"/"We
        acknowledge" are the acknowledgement, the rest the licence), ``n_labels`` (rows in
        the CSV) and ``n_images_missing`` / ``n_images_bad`` (pictures dropped).

    Raises
    ------
    BadInputError
        For an unusable label or split file, or an unsafe tarball (naming file and line).
    """
    root = _root_from(Path(path), extract_dir)
    labels = read_labels(root / _LABELS_CSV)
    n = labels.pic_num.size
    split = oath_split(root, permutation, train_fraction)
    if split.size != n:
        raise BadInputError(
            root / _SPLIT_CSV, f"has {split.size} indices per row but the label table {n} rows"
        )
    skipped: list[Skipped] = []
    keep: list[int] = []
    paths: list[str] = []
    n_missing = 0
    for i, num in enumerate(labels.pic_num):
        image_path = root / _IMAGE_DIR / f"{num:05d}.png"
        reason = _check_image(image_path)
        if reason is None:
            keep.append(i)
            paths.append(str(image_path))
        else:
            n_missing += not image_path.is_file()
            skipped.append(Skipped(str(image_path), reason))
    if report is not None:
        for entry in skipped:
            report.skip(entry.path, entry.reason)
        report.added.extend(paths)
    else:
        warn_skipped(skipped, "OATH pictures", stacklevel=3)

    idx = np.asarray(keep, dtype=np.int64)
    path_array = np.empty(len(paths), dtype=object)
    path_array[:] = paths
    image = lazy_image_stack(
        path_array,
        _SHAPE,
        np.dtype(np.uint8),
        (max(1, int(chunks)),),
        decode=partial(decode_image, channel=1),
    )
    names = np.empty(idx.size, dtype=object)
    names[:] = [CLASS_NAMES[c] for c in labels.class6[idx]]
    values = {
        "sample": labels.pic_num[idx],
        "class6": labels.class6[idx],
        "class2": labels.class2[idx],
        "label_name": names,
        "rot_ang": labels.rot_ang[idx],
        "split": split[idx],
    }
    attrs = _variable_attrs()
    attrs["split"].update(
        permutation=int(permutation),
        train_fraction=float(train_fraction),
        comment=f"row {permutation} of train_test_split.csv permutes the 0-based label rows; "
        f"the first round({train_fraction} * {n}) are train, the rest test",
    )
    coords = {k: (("sample",), v, attrs[k]) for k, v in values.items()}
    image_var = (("sample", "y", "x"), image, attrs["image"])
    ds = xr.Dataset({"image": image_var}, coords=coords)
    ds.attrs = group_attrs(
        title="OATH: Oslo Auroral THEMIS labelled all-sky images",
        source="OATH v1.1, Clausen & Nickisch (2018), doi:10.1029/2018JA025274, "
        "http://tid.uio.no/plasma/oath/; images from the THEMIS all-sky imagers (NASA)",
        license=labels.license,
    )
    ds.attrs.update(
        acknowledgement=labels.acknowledgement,
        n_labels=int(n),
        n_images_missing=int(n_missing),
        n_images_bad=int(len(skipped) - n_missing),
        split_permutation=int(permutation),
        split_train_fraction=float(train_fraction),
    )
    return ds
