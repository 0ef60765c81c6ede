"""The work behind each ``tame-xr`` subcommand (the parser and error handling are in
:mod:`tame_xr.cli`). Every function takes the parsed arguments and returns the exit status;
a :class:`CliError` (or any other exception) becomes one ``tame-xr <command>: error:`` line.

Heavy modules (torch, scikit-learn, dask) are imported inside the commands so that
``tame-xr --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import sys
import warnings
from pathlib import Path

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
#: Some inputs could not be used (they are listed); every good input was still processed.
EXIT_SKIPPED = 3
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A failure the user can fix; its message is printed as the one error line."""


# ----------------------------------------------------------------------------- helpers
def show_progress(args) -> bool:
    """Progress bars only on an interactive terminal, and not with ``--no-progress``."""
    return not getattr(args, "no_progress", False) and sys.stderr.isatty()


def progress_bar(args):
    """A dask progress bar on stderr (or nothing) for the computation in the ``with`` block."""
    if not show_progress(args):
        return contextlib.nullcontext()
    from dask.diagnostics import ProgressBar

    return ProgressBar(out=sys.stderr)


def make_store(args):
    """The store named by ``--store`` (and ``--storage-options``)."""
    import json

    from .store import Store

    options = None
    if getattr(args, "storage_options", None):
        try:
            options = json.loads(args.storage_options)
        except json.JSONDecodeError as exc:
            raise CliError(f"--storage-options is not JSON: {exc}") from None
        if not isinstance(options, dict):
            raise CliError("--storage-options must be a JSON object")
    return Store(args.store, options)


def existing_store(args):
    """The store named by the arguments; an error when there is none."""
    store = make_store(args)
    if not store.groups():
        raise CliError(
            f"no tame_xr store at {store.path} (pass --store PATH, or create one with "
            "`tame-xr ingest` or `tame-xr demo`)"
        )
    return store


def require_group(store, group: str) -> None:
    if not store.exists(group):
        have = ", ".join(store.groups()) or "none"
        raise CliError(f"{store.path} has no group {group!r} (groups: {have})")


def derived_group(prefix: str, group: str) -> str:
    """``asim/5577`` → ``features/5577``; ``features/5577`` → ``classes/5577``;
    other names → ``<prefix>/<name with / as _>``."""
    head, _, rest = group.partition("/")
    if rest and head in ("asim", "features", "classes"):
        return f"{prefix}/{rest}"
    return f"{prefix}/{group.replace('/', '_')}"


def load_classifier(path):
    from .classify import OathClassifier

    if not Path(path).is_file():
        raise CliError(f"classifier file {path} not found (write one with `tame-xr train`)")
    return OathClassifier.load(path)


def format_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """Left-aligned columns separated by two spaces (the last column right-aligned)."""
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]

    def line(row):
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=False)]
        return "  ".join([*cells, row[-1].rjust(widths[-1])])

    return "\n".join(line(r) for r in [header, *rows])


# ----------------------------------------------------------------------------- ingest
def cmd_ingest(args) -> int:
    from .ingest import IMAGE_KINDS, READERS, ingest
    from .io.images import expand_files

    options = {
        name: getattr(args, name)
        for name in ("pattern", "station", "product", "cadence")
        if getattr(args, name) is not None
    }
    if args.kind not in IMAGE_KINDS:
        module, function, _ = READERS[args.kind]
        reader = getattr(importlib.import_module(module, __package__), function)
        accepted = inspect.signature(reader).parameters
        refused = [f"--{name}" for name in options if name not in accepted]
        if refused:
            raise CliError(f"{', '.join(refused)} does not apply to kind {args.kind!r}")
    files = args.files
    if args.kind != "oath" and not expand_files(files):
        raise CliError(f"no files found in {' '.join(files)}")
    if args.kind == "oath":
        if len(files) != 1:
            raise CliError("kind 'oath' takes one path: the OATH folder or its tarball")
        files = files[0]
    from .report import SkippedInputWarning

    with warnings.catch_warnings():  # the summary below lists the skipped files
        warnings.simplefilter("ignore", SkippedInputWarning)
        report = ingest(
            args.kind, files, make_store(args), args.group, progress=show_progress(args), **options
        )
    print(report.summary(max_lines=args.max_skipped))
    return EXIT_SKIPPED if report.skipped else EXIT_OK


# ----------------------------------------------------------------------------- fetch-oath
def cmd_fetch_oath(args) -> int:
    from .fetch import OATH_URL, fetch_oath

    if not args.hash:
        raise CliError(
            "--hash sha256:<hex> is required: the OATH download cannot be verified without it "
            "and tame_xr does not know the official checksum; compute it once from a tarball "
            "you trust (sha256sum oath_v1.1_20181026.tgz)"
        )
    root = fetch_oath(
        args.dir, url=args.url or OATH_URL, known_hash=args.hash, progress=show_progress(args)
    )
    print(root)
    return EXIT_OK


# ----------------------------------------------------------------------------- features
def cmd_features(args) -> int:
    from .features import extract_features

    store = existing_store(args)
    require_group(store, args.group)
    target = args.target or derived_group("features", args.group)
    feats = extract_features(
        store.open(args.group), args.backbone, batch_size=args.batch_size, device=args.device
    )
    with progress_bar(args):
        result = store.write(feats, target, history=f"features of {args.group} ({args.backbone})")
    valid = store.open(target)["valid"]
    print(
        f"{target}: features of {int(valid.sum())} images from {args.group} "
        f"(backbone {args.backbone}; group {result['mode']}) in {store.path}"
    )
    return EXIT_OK


# ----------------------------------------------------------------------------- train
def cmd_train(args) -> int:
    import numpy as np

    from .classify import fit_oath_classifier
    from .features import extract_features

    store = existing_store(args)
    if not store.exists(args.features_group):
        require_group(store, args.oath_group)
        backbone = args.backbone or "efficientnet_lite0"
        print(f"extracting {backbone} features of {args.oath_group} into {args.features_group}")
        feats = extract_features(
            store.open(args.oath_group), backbone, batch_size=args.batch_size, device=args.device
        )
        with progress_bar(args):
            store.write(feats, args.features_group, history=f"features of {args.oath_group}")
    feats = store.open(args.features_group).load()
    stored = str(feats.attrs.get("backbone", "?"))
    if args.backbone and stored != args.backbone:
        raise CliError(
            f"{args.features_group} holds {stored} features, not {args.backbone}: pass "
            "another --features-group to extract new ones"
        )
    if "split" not in feats.coords:
        raise CliError(f"{args.features_group} has no 'split' coordinate: not OATH features")
    gamma = args.gamma if args.gamma in ("scale", "auto") else float(args.gamma)
    clf = fit_oath_classifier(feats, C=args.C, kernel=args.kernel, gamma=gamma)
    split = np.asarray(feats["split"].values).astype(str)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    sha = clf.save(output)
    n_train, n_test = int((split == "train").sum()), int((split == "test").sum())
    print(
        f"fitted OathClassifier(kernel={args.kernel!r}, C={args.C}) on {n_train} "
        f"{stored} feature vectors of the train split"
    )
    if n_test:
        scores = clf.evaluate(feats.isel(sample=np.flatnonzero(split == "test")))
        print(
            f"test split ({int(scores['n_samples'])} images): six-class accuracy "
            f"{float(scores['accuracy6']):.3f}, aurora/no-aurora accuracy "
            f"{float(scores['accuracy2']):.3f}"
        )
    else:
        print("no test split: accuracy not evaluated")
    print(f"saved {output} (sha256 {sha})")
    return EXIT_OK


# ----------------------------------------------------------------------------- classify
def cmd_classify(args) -> int:
    if args.files:
        if args.features or args.target:
            raise CliError("give image FILES or --features/--target, not both")
        return _classify_files(args)
    if args.output:
        raise CliError("--output applies to FILES only; --target names the store group")
    return _classify_store(args)


def _classify_store(args) -> int:
    from .classify import CLASS_NAMES

    clf = load_classifier(args.classifier)
    store = existing_store(args)
    features = args.features or "features/5577"
    require_group(store, features)
    target = args.target or derived_group("classes", features)
    classes = clf.classify(store.open(features))
    with progress_bar(args):
        result = store.write(classes, target, history=f"classified with {args.classifier}")
    predicted = store.open(target)["predicted"].values
    counts = {name: int((predicted == i).sum()) for i, name in enumerate(CLASS_NAMES)}
    shown = ", ".join(f"{name} {n}" for name, n in counts.items())
    print(
        f"{target}: classes of {sum(counts.values())} images from {features} "
        f"(group {result['mode']}) in {store.path}\n  predicted: {shown}"
    )
    return EXIT_OK


def _classify_files(args) -> int:
    import pandas as pd

    from .quick import classify_files
    from .report import SkippedInputWarning

    clf = load_classifier(args.classifier)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedInputWarning)
        result = classify_files(
            args.files,
            clf,
            pattern=args.pattern,
            backbone=args.backbone,
            batch_size=args.batch_size,
        )
    skipped = [w for w in caught if issubclass(w.category, SkippedInputWarning)]
    for w in caught:
        if w not in skipped:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    table = pd.DataFrame(
        {
            "file": result["file"].values,
            "time": pd.DatetimeIndex(result["time"].values),
            "label": result["predicted_label"].values,
            "aurora_proba": result["aurora_proba"].values,
        }
    )
    rows = [
        (str(f), "" if pd.isna(t) else str(t), str(label), f"{p:.3f}")
        for f, t, label, p in table.itertuples(index=False)
    ]
    print(format_table(("file", "time", "label", "aurora_proba"), rows))
    if args.output:
        proba = result["proba"].transpose("file", "label").values
        for k, name in enumerate(result["label"].values):
            table[f"proba_{name}"] = proba[:, k]
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(output, index=False)
        print(f"wrote {output}")
    for w in skipped:
        for line in str(w.message).splitlines():
            print(f"  {line.strip()}" if line.startswith(" ") else line)
    return EXIT_SKIPPED if skipped else EXIT_OK


# ----------------------------------------------------------------------------- join
def cmd_join(args) -> int:
    from .join import join_nearest

    store = existing_store(args)
    for group in (args.left, args.right):
        require_group(store, group)
    left = store.open(args.left)
    joined = join_nearest(
        left, store.open(args.right), args.tolerance, args.variables, stations=args.stations
    )
    names = [n for n in joined.data_vars if n not in left.data_vars and n != "time_difference"]
    target = args.target or (f"joined/{args.left.replace('/', '_')}_{args.right.replace('/', '_')}")
    if not args.no_write:
        with progress_bar(args):
            result = store.write(
                joined, target, history=f"{args.left} joined with {args.right} ({args.tolerance})"
            )
        joined = store.open(target)
    matched = joined["time_difference"].notnull()
    of = "cells"
    if "valid" in joined and set(joined["valid"].dims) == set(matched.dims):
        matched = matched & joined["valid"]
        total, of = int(joined["valid"].sum()), "valid cells"
    else:
        total = int(matched.size)
    print(
        f"{args.left} joined with {args.right} within {args.tolerance}: {', '.join(names)} for "
        f"{int(matched.sum())} of {total} {of}"
    )
    if args.no_write:
        print("(not written: --no-write)")
    else:
        print(f"{target}: group {result['mode']} in {store.path}")
    return EXIT_OK


# ----------------------------------------------------------------------------- figures
def cmd_figures(args) -> int:
    try:
        from .figures import make_figures
    except ImportError as exc:
        raise CliError(f"figures are not available in this installation ({exc})") from exc

    store = existing_store(args)
    extra = {
        name: getattr(args, name)
        for name in ("classes_group", "features_group")
        if getattr(args, name) is not None
    }
    paths = make_figures(
        store,
        Path(args.output),
        images_group=args.images_group,
        progress=show_progress(args),
        **extra,
    )
    for path in paths:
        print(path)
    if not paths:
        print(f"no figures written: {store.path} lacks the groups they need")
    return EXIT_OK


# ----------------------------------------------------------------------------- catalog
def cmd_catalog(args) -> int:
    from .catalog import write_catalog

    store = existing_store(args)
    path = write_catalog(store, args.output)
    print(path)
    return EXIT_OK


# ----------------------------------------------------------------------------- demo
def cmd_demo(args) -> int:
    from .demo import run

    run(Path(args.data), Path(args.output), seed=args.seed)
    return EXIT_OK
