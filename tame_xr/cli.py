"""The ``tame-xr`` command: ingest, features, train, classify, join, figures, catalog, demo.

Run ``tame-xr --help`` or ``tame-xr COMMAND --help`` (``python -m tame_xr`` is the same).

Exit status: 0 success; 1 an error (one line on stderr: ``tame-xr COMMAND: error: REASON``;
``--debug`` shows the traceback instead); 2 a usage error (bad or missing arguments); 3 some
inputs were skipped (``ingest``, ``classify FILES``: they are listed; every good input was still
used); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Sequence

from . import _cli_commands as commands
from ._cli_commands import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE

PROG = "tame-xr"
DEFAULT_STORE = "data/demo.zarr"

DESCRIPTION = f"""\
TAME aurora image classification as an xarray/Zarr data layer.

Instrument files go into one Zarr store (--store, default {DEFAULT_STORE}); features,
classes and joins are written back to it as groups.

exit status:
  0    success
  1    error (one line on stderr: tame-xr COMMAND: error: REASON; --debug for a traceback)
  2    usage error (bad or missing arguments)
  3    some inputs were skipped and listed (ingest, classify FILES); the good ones were used
  130  interrupted
"""

EPILOG = """\
examples:
  tame-xr demo                                       # synthetic sample -> data/demo.zarr
  tame-xr --store my.zarr ingest images "asim/nya/5577/2014/"
  tame-xr --store my.zarr features --group asim/5577
  tame-xr --store my.zarr train --output oath_svm.skops
  tame-xr --store my.zarr classify --features features/5577 --classifier oath_svm.skops
  tame-xr classify my_images/*.png --classifier oath_svm.skops
"""

EPILOGS = {
    "ingest": """\
kinds:
  images (alias asim)   all-sky image files (UiO names by default; --pattern for others)
  themis                raw THEMIS *.pgm.gz files
  oath                  the OATH folder or its .tgz (one path)
  iaga2002              IAGA-2002 magnetometer files
  image_magnetometer    IMAGE network magnetometer text files
  pangaea_ceilometer    PANGAEA ceilometer .tab files
  chm15k                Lufft CHM15k ceilometer netCDF files

exit status 3: some files were skipped (the summary lists them with the reason); every good
file was still ingested.

examples:
  tame-xr --store my.zarr ingest images asim/nya/5577/2014/
  tame-xr --store my.zarr ingest images kho/*.jpg \\
      --pattern "{station}-Sony-{%y%m%d}_{%H%M%S}.jpg" --product kho_sony
  tame-xr --store my.zarr ingest iaga2002 magn/*.min
  tame-xr --store my.zarr ingest oath oath_v1.1_20181026.tgz
""",
    "fetch-oath": """\
The download is verified against --hash (no unverified downloads; tame_xr does not know the
official checksum: compute it once from a download you trust, e.g. with sha256sum).

example:
  tame-xr fetch-oath --hash sha256:<64 hex digits> --dir ~/data/oath
  tame-xr --store my.zarr ingest oath "$(tame-xr fetch-oath --hash sha256:<hex>)"
""",
    "features": """\
example:
  tame-xr --store my.zarr features --group asim/5577 --target features/5577 --device cuda
""",
    "train": """\
Extracts the OATH features first when --features-group does not exist yet.

example:
  tame-xr --store my.zarr ingest oath oath_v1.1_20181026.tgz
  tame-xr --store my.zarr train --output oath_svm.skops --C 1.0 --kernel linear
""",
    "classify": """\
Either classify a features group of the store into a classes group, or image FILES directly
(any size; UiO, KHO and TREx names give the time) into a table.

examples:
  tame-xr --store my.zarr classify --features features/5577 --classifier oath_svm.skops
  tame-xr classify my_images/*.png --classifier oath_svm.skops --output table.csv
""",
    "join": """\
Puts on each LEFT time the nearest RIGHT value within --tolerance (NaN beyond), per station,
with the signed time_difference.

examples:
  tame-xr --store my.zarr join classes/5577 magnetometer --tolerance 60s --variables X Y Z
  tame-xr --store my.zarr join classes/5577 ceilometer --tolerance 60s --variables cbh \\
      --stations nya=nya,lyr=nya --target joined/ceilometer
""",
    "figures": """\
example:
  tame-xr --store data/demo.zarr figures --output demo-output
""",
    "catalog": """\
example:
  tame-xr --store data/demo.zarr catalog              # writes data/demo.yaml
  python -c 'import intake; print(list(intake.open_catalog("data/demo.yaml")))'
""",
    "demo": """\
Generates the synthetic sample, ingests it into DATA/demo.zarr, extracts features, trains
the classifier (DATA/oath_svm.skops), classifies the season and prints a summary.

example:
  tame-xr demo --data data --output demo-output
""",
}


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr (exit status 2), like every other error."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _tolerance(text: str) -> str:
    import pandas as pd

    try:
        pd.Timedelta(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid tolerance {text!r} (examples: 60s, 5min, 1h)"
        ) from None
    return text


def _stations(text: str) -> dict[str, str]:
    out = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        left, sep, right = item.partition("=")
        if not sep or not left.strip() or not right.strip():
            raise argparse.ArgumentTypeError(
                f"invalid station mapping {item!r} (expected LEFT=RIGHT, e.g. nya=nya,lyr=nya)"
            )
        out[left.strip().lower()] = right.strip().lower()
    if not out:
        raise argparse.ArgumentTypeError("empty station mapping")
    return out


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``tame-xr`` argument parser."""
    from ._version import __version__
    from .ingest import IMAGE_KINDS, READERS

    parser = _Parser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--store",
        default=DEFAULT_STORE,
        help=f"the Zarr store: a path or an fsspec URL such as s3://bucket/x.zarr (default {DEFAULT_STORE})",
    )
    options_help = 'JSON options for an fsspec URL store, e.g. \'{"endpoint_url": "https://..."}\''
    parser.add_argument("--storage-options", default=None, metavar="JSON", help=options_help)
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the work on a dask.distributed scheduler, e.g. tcp://host:8786",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # The same options after the command name (`tame-xr ingest ... --store x.zarr`); SUPPRESS
    # keeps a value given before the command.
    common = _Parser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks of errors"
    )
    common.add_argument(
        "--no-progress", action="store_true", default=argparse.SUPPRESS, help="no progress bars"
    )
    with_store = _Parser(add_help=False, parents=[common])
    with_store.add_argument(
        "--store", default=argparse.SUPPRESS, help=f"the Zarr store (default {DEFAULT_STORE})"
    )
    with_store.add_argument(
        "--storage-options", default=argparse.SUPPRESS, metavar="JSON", help=options_help
    )
    with_store.add_argument(
        "--scheduler", default=argparse.SUPPRESS, metavar="ADDRESS", help="dask scheduler address"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    def command(name: str, help: str, store: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            prog=f"{PROG} {name}",
            help=help,
            description=help[0].upper() + help[1:] + ".",
            epilog=EPILOGS[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[with_store if store else common],
        )
        p.set_defaults(func=getattr(commands, "cmd_" + name.replace("-", "_")))
        return p

    kinds = IMAGE_KINDS + tuple(READERS)
    p = command("ingest", "read instrument files into a store group")
    p.add_argument("kind", choices=kinds, metavar="KIND", help=f"one of: {', '.join(kinds)}")
    p.add_argument("files", nargs="+", metavar="FILES", help="files, folders or quoted globs")
    p.add_argument("--group", help="target group (default: asim/<product> or the kind's group)")
    p.add_argument("--pattern", help="image file-name pattern (default: UiO names)")
    p.add_argument("--station", help="station code when the names carry none")
    p.add_argument("--product", help="image product name (default: the wavelength in the name)")
    p.add_argument("--cadence", help="time grid of images (default 1min; THEMIS 3s)")
    p.add_argument(
        "--max-skipped", type=_positive_int, default=20, help="skipped files listed (default 20)"
    )

    p = command("fetch-oath", "download and verify the OATH labelled set", store=False)
    p.add_argument("--hash", help="sha256:<hex> of the tarball (required to download)")
    p.add_argument("--dir", help="cache folder (default: the user cache of tame_xr)")
    p.add_argument("--url", help="download from a mirror instead of the official address")

    def model_options(p, backbone_default: str | None) -> None:
        p.add_argument(
            "--backbone",
            default=backbone_default,
            help="CNN backbone (default efficientnet_lite0)",
        )
        p.add_argument(
            "--batch-size", type=_positive_int, default=64, help="images per batch (default 64)"
        )
        p.add_argument(
            "--device", choices=("cpu", "cuda"), help="default: cuda when available, else cpu"
        )

    p = command("features", "extract CNN features of an image group")
    p.add_argument("--group", default="asim/5577", help="image group (default asim/5577)")
    p.add_argument("--target", help="features group (default features/<product>)")
    model_options(p, "efficientnet_lite0")

    p = command("train", "fit TAME's SVM on the OATH train split and save it")
    p.add_argument("--oath-group", default="oath", help="OATH images group (default oath)")
    p.add_argument(
        "--features-group", default="features/oath", help="OATH features (default features/oath)"
    )
    p.add_argument(
        "--output", default="oath_svm.skops", help="classifier file (default oath_svm.skops)"
    )
    p.add_argument("--C", type=float, default=1.0, help="SVM C (default 1.0)")
    p.add_argument("--kernel", choices=("linear", "rbf"), default="linear", help="default linear")
    p.add_argument("--gamma", default="scale", help="RBF gamma: scale, auto or a number")
    model_options(p, None)

    p = command("classify", "classify a features group, or image files, into TAME's classes")
    p.add_argument("files", nargs="*", metavar="FILES", help="image files (instead of --features)")
    p.add_argument("--classifier", required=True, help="classifier file written by `train`")
    p.add_argument("--features", help="features group (default features/5577)")
    p.add_argument("--target", help="classes group (default classes/<product>)")
    p.add_argument("--output", help="FILES: also write the table as CSV")
    p.add_argument("--pattern", help="FILES: file-name pattern giving the time")
    model_options(p, "efficientnet_lite0")

    p = command("join", "join two groups on nearest times within a tolerance")
    p.add_argument("left", metavar="LEFT", help="group whose times are kept")
    p.add_argument("right", metavar="RIGHT", help="group whose nearest values are joined")
    p.add_argument("--tolerance", type=_tolerance, required=True, help="e.g. 60s")
    p.add_argument("--variables", nargs="+", metavar="VAR", help="RIGHT variables (default all)")
    p.add_argument("--target", help="result group (default joined/<LEFT>_<RIGHT>)")
    p.add_argument("--stations", type=_stations, help="LEFT=RIGHT station pairs, comma-separated")
    p.add_argument("--no-write", action="store_true", help="print the summary only")

    p = command("figures", "write the paper's figures of a store as PNG files")
    p.add_argument("--output", default="demo-output", help="folder (default demo-output)")
    p.add_argument("--images-group", default="asim/5577", help="default asim/5577")
    p.add_argument("--classes-group", help="default classes/5577")
    p.add_argument("--features-group", help="default features/5577")

    p = command("catalog", "write an intake catalog of a store")
    p.add_argument("--output", help="catalog path (default: <store name>.yaml beside the store)")

    p = command("demo", "run the demo on the synthetic sample", store=False)
    p.add_argument("--data", default="data", help="where the sample and store go (default data)")
    p.add_argument("--output", default="demo-output", help="figures folder (default demo-output)")
    p.add_argument("--seed", type=int, default=0, help="sample seed (default 0)")
    return parser


def _reason(exc: BaseException) -> str:
    """The exception as one line."""
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return "; ".join(lines) or type(exc).__name__


@contextlib.contextmanager
def _scheduler(address: str | None):
    """A dask.distributed client for ``address`` while a command runs (none without one)."""
    if not address:
        yield
        return
    from distributed import Client

    try:
        client = Client(address, timeout="20s")
    except OSError as exc:
        raise commands.CliError(f"cannot reach the dask scheduler at {address}: {exc}") from None
    with client:
        yield


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tame-xr`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    if args.command is None:
        print(f"{PROG}: error: a command is required (see `{PROG} --help`)", file=sys.stderr)
        return EXIT_USAGE
    prog = f"{PROG} {args.command}"

    def show(message, category, filename, lineno, file=None, line=None):
        first = str(message).strip().splitlines()
        print(f"{prog}: warning: {first[0] if first else category.__name__}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            if not args.debug:
                warnings.showwarning = show
            with _scheduler(getattr(args, "scheduler", None)):
                return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            raise
        print(f"{prog}: error: {_reason(exc)}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
