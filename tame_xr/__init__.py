"""tame_xr: the TAME aurora-image method as an xarray/Zarr data layer."""

from ._version import __version__
from .fetch import fetch_oath
from .ingest import ingest
from .io.images import read_images
from .io.oath import read_oath
from .report import BadInputError, IngestReport, Skipped, SkippedInputWarning
from .store import Store

__all__ = [
    "__version__",
    "Store",
    "fetch_oath",
    "ingest",
    "read_images",
    "read_oath",
    "BadInputError",
    "IngestReport",
    "Skipped",
    "SkippedInputWarning",
]
