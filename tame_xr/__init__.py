"""tame_xr: the TAME aurora-image method as an xarray/Zarr data layer."""

from ._version import __version__
from .report import BadInputError, IngestReport, Skipped, SkippedInputWarning

__all__ = [
    "__version__",
    "BadInputError",
    "IngestReport",
    "Skipped",
    "SkippedInputWarning",
]
