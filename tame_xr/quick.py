"""Six-line use, like TAME's AsimClassifier: classify a folder of image files.

>>> import tame_xr
>>> result = tame_xr.classify_files("asim/*.png", classifier="oath_svm.skops")  # doctest: +SKIP
>>> result["predicted"].to_series().value_counts()                           # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .classify import CLASS_NAMES, OathClassifier, fit_oath_classifier
from .io.decode import decode_image
from .io.images import expand_files
from .io.patterns import UIO_PATTERN, FilenamePattern
from .report import BadInputError, IngestReport, warn_skipped

#: Name patterns tried, in order, to find a time in a file name.
KNOWN_PATTERNS = (
    UIO_PATTERN,
    "{station}-Sony-{%y%m%d}_{%H%M%S}.jpg",
    "{%Y%m%d}_{%H%M%S}_{%f}_{station}_{*}.png",
    "{*}{%Y%m%d}_{%H%M%S}{*}",
)


def _time_of(name: str, patterns: tuple[str, ...]) -> pd.Timestamp:
    for pattern in patterns:
        try:
            parsed = FilenamePattern.compile(pattern).parse(name)
        except ValueError:
            continue
        if parsed is not None:
            return pd.Timestamp(parsed[0])
    return pd.NaT


def train_on_oath(oath, backbone: str = "efficientnet_lite0", **params) -> OathClassifier:
    """Fit a classifier on OATH's train split: ``oath`` is an OATH directory or tarball, a
    :class:`~tame_xr.Store` (group ``"oath"``) or an OATH Dataset."""
    from .features import extract_features
    from .io.oath import read_oath
    from .store import Store

    if isinstance(oath, Store):
        ds = oath.open("oath")
    elif isinstance(oath, xr.Dataset):
        ds = oath
    else:
        ds = read_oath(oath, report=IngestReport())
    feats = extract_features(ds, backbone).compute()
    return fit_oath_classifier(feats, **params)


def classify_files(
    files,
    classifier: OathClassifier | str | os.PathLike | None = None,
    *,
    oath=None,
    pattern: str | None = None,
    backbone: str = "efficientnet_lite0",
    channel: int | None = None,
    batch_size: int = 32,
) -> xr.Dataset:
    """Classify image files of any size and kind into TAME's six classes.

    Parameters
    ----------
    files
        Paths, a glob pattern or a directory.
    classifier
        An :class:`~tame_xr.OathClassifier` or the path of a saved one.
    oath
        Without ``classifier``: OATH data to train one on (see :func:`train_on_oath`).
    pattern
        File-name pattern giving the time; by default UiO, KHO and TREx names are tried.
    channel
        For RGB files: channel used as gray (None: luma).

    Returns
    -------
    xarray.Dataset
        Along ``file``: ``time`` (NaT where the name has none), ``proba(file, label)``,
        ``aurora_proba``, ``predicted`` and ``predicted_label``. Files that cannot be read are
        listed in one :class:`~tame_xr.SkippedInputWarning`.
    """
    from .features import extract_features

    if classifier is None:
        if oath is None:
            raise ValueError(
                "no classifier: pass classifier=<saved .skops file or OathClassifier> or "
                "oath=<OATH directory, tarball or store> to train one"
            )
        classifier = train_on_oath(oath, backbone)
    elif not isinstance(classifier, OathClassifier):
        classifier = OathClassifier.load(classifier)
    patterns = (pattern,) if pattern else KNOWN_PATTERNS
    report = IngestReport()
    by_shape: dict[tuple, list[tuple[str, np.ndarray]]] = defaultdict(list)
    for path in expand_files(files):
        try:
            array = decode_image(path)
        except BadInputError as exc:
            report.skip(exc.path, exc.reason)
            continue
        by_shape[array.shape].append((path, array))
    warn_skipped(report.skipped, "files")
    if not by_shape:
        raise ValueError("no readable image files" + "".join(f"\n  {s}" for s in report.skipped))
    parts = []
    for shape, items in by_shape.items():
        dims = ("file", "y", "x") + (("channel",) if len(shape) == 3 else ())
        images = xr.DataArray(
            np.stack([a for _, a in items]), dims=dims, coords={"file": [p for p, _ in items]}
        )
        feats = extract_features(images, backbone, batch_size=batch_size, channel=channel)
        parts.append(classifier.classify(feats))
    result = xr.concat(parts, dim="file") if len(parts) > 1 else parts[0]
    order = [str(p) for p in sorted(result["file"].values, key=str)]
    result = result.sel(file=order)
    names = np.array([*CLASS_NAMES, ""], dtype=object)[result["predicted"].values]
    times = [_time_of(Path(p).name, patterns) for p in order]
    return result.assign_coords(
        file=np.array(order, dtype=object),
        time=("file", pd.DatetimeIndex(times).values, {"long_name": "time from the file name"}),
    ).assign(predicted_label=("file", names, {"long_name": "predicted class name"}))
