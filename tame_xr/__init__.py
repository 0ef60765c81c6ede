"""tame_xr: the TAME aurora-image method as an xarray/Zarr data layer."""

from . import accessor as _accessor  # noqa: F401  (registers ds.tame)
from ._version import __version__
from .catalog import open_entry, write_catalog
from .classify import OathClassifier
from .compare import compare_backbones
from .features import extract_features
from .fetch import fetch_oath
from .ingest import ingest
from .io.images import read_images
from .io.oath import read_oath
from .join import join_nearest
from .quick import classify_files
from .report import BadInputError, IngestReport, Skipped, SkippedInputWarning
from .store import Store, select

__all__ = [
    "__version__",
    "OathClassifier",
    "Store",
    "classify_files",
    "compare_backbones",
    "extract_features",
    "fetch_oath",
    "ingest",
    "join_nearest",
    "read_images",
    "read_oath",
    "select",
    "open_entry",
    "write_catalog",
    "BadInputError",
    "IngestReport",
    "Skipped",
    "SkippedInputWarning",
]
