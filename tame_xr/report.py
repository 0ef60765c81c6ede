"""What an ingest added and what it skipped, with the reason for every skipped input."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("tame_xr")


class SkippedInputWarning(UserWarning):
    """Some inputs could not be used; the message lists them (path and reason)."""


class BadInputError(ValueError):
    """An input file cannot be used. The message names the file and the problem."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class Skipped:
    """One input that was not used."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class IngestReport:
    """The outcome of reading or ingesting a set of inputs.

    Attributes
    ----------
    added
        Paths whose data were used.
    skipped
        Inputs that were not used, each with the reason.
    group
        The store group written to (``None`` for a read without a store).
    unchanged
        Inputs whose data were already in the store (nothing to write).
    """

    added: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    group: str | None = None
    unchanged: list[str] = field(default_factory=list)

    def skip(self, path: str | Path, reason: str) -> None:
        """Record a skipped input (logged at debug level; :meth:`summary` tells the total)."""
        entry = Skipped(str(path), reason)
        self.skipped.append(entry)
        log.debug("skipped %s", entry)

    def extend(self, other: IngestReport) -> None:
        """Merge another report into this one."""
        self.added.extend(other.added)
        self.skipped.extend(other.skipped)
        self.unchanged.extend(other.unchanged)

    @property
    def ok(self) -> bool:
        """True when nothing was skipped."""
        return not self.skipped

    def summary(self, max_lines: int = 10) -> str:
        """A short human-readable account of the report."""
        where = f" into {self.group}" if self.group else ""
        lines = [
            f"{len(self.added)} inputs added{where}, {len(self.unchanged)} already stored, "
            f"{len(self.skipped)} skipped"
        ]
        for entry in self.skipped[:max_lines]:
            lines.append(f"  skipped {entry}")
        if len(self.skipped) > max_lines:
            lines.append(f"  ... and {len(self.skipped) - max_lines} more")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def warn_skipped(skipped: list[Skipped], what: str, stacklevel: int = 3) -> None:
    """Emit one :class:`SkippedInputWarning` listing ``skipped`` (nothing when empty)."""
    if not skipped:
        return
    shown = "\n".join(f"  {s}" for s in skipped[:10])
    more = f"\n  ... and {len(skipped) - 10} more" if len(skipped) > 10 else ""
    warnings.warn(
        f"{len(skipped)} {what} skipped:\n{shown}{more}",
        SkippedInputWarning,
        stacklevel=stacklevel,
    )
