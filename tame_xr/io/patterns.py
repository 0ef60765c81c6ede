"""File-name patterns: strftime-like time fields plus named fields.

A pattern is matched against a file's base name. Fields:

``{%Y%m%d}`` (any run of strftime directives)
    Parts of the exposure time. Supported directives: ``%Y %y %m %d %j %H %M %S %f %b``.
``{station}``, ``{wavelength}``, ``{camera}`` or any other ``{name}``
    A run of letters and digits, available as a named field.
``{*}``
    Anything (not kept).

Everything else matches literally. Examples::

    UIO_PATTERN  = "{station}_{%Y%m%d}_{%H%M%S}_{wavelength}_cal.png"  # nya6_20141018_174307_5577_cal.png
    KHO          = "{station}-Sony-{%y%m%d}_{%H%M%S}.jpg"               # LYR-Sony-211121_170751.jpg
    TREX_RGB     = "{%Y%m%d}_{%H%M%S}_{%f}_{station}_{*}.png"          # 20211030_060500_149606_gill_rgb-04_...
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

UIO_PATTERN = "{station}_{%Y%m%d}_{%H%M%S}_{wavelength}_cal.png"

_DIRECTIVES = {
    "Y": r"\d{4}",
    "y": r"\d{2}",
    "m": r"\d{2}",
    "d": r"\d{2}",
    "j": r"\d{3}",
    "H": r"\d{2}",
    "M": r"\d{2}",
    "S": r"\d{2}",
    "f": r"\d{1,6}",
    "b": r"[A-Za-z]{3}",
}
_FIELD = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class FilenamePattern:
    """A compiled file-name pattern (see the module docstring)."""

    pattern: str
    regex: re.Pattern
    time_formats: tuple[str, ...]
    names: tuple[str, ...]

    @classmethod
    def compile(cls, pattern: str) -> FilenamePattern:
        parts: list[str] = []
        formats: list[str] = []
        names: list[str] = []
        pos = 0
        for match in _FIELD.finditer(pattern):
            parts.append(re.escape(pattern[pos : match.start()]))
            body = match.group(1)
            if body.startswith("%"):
                regex = ""
                for directive in re.split(r"(%.)", body):
                    if not directive:
                        continue
                    if directive.startswith("%"):
                        if directive[1] not in _DIRECTIVES:
                            raise ValueError(
                                f"pattern {pattern!r}: unsupported directive {directive}"
                            )
                        regex += _DIRECTIVES[directive[1]]
                    else:
                        regex += re.escape(directive)
                parts.append(f"(?P<_t{len(formats)}>{regex})")
                formats.append(body)
            elif body == "*":
                parts.append(".*?")
            elif body.isidentifier():
                if body in names:
                    raise ValueError(f"pattern {pattern!r}: field {{{body}}} appears twice")
                parts.append(f"(?P<{body}>[A-Za-z0-9]+?)")
                names.append(body)
            else:
                raise ValueError(f"pattern {pattern!r}: cannot read field {{{body}}}")
            pos = match.end()
        parts.append(re.escape(pattern[pos:]))
        if not formats:
            raise ValueError(f"pattern {pattern!r} has no time field like {{%Y%m%d}}")
        return cls(pattern, re.compile("".join(parts)), tuple(formats), tuple(names))

    def parse(self, name: str) -> tuple[dt.datetime, dict[str, str]] | None:
        """Exposure time and named fields of a base name, or None when it does not match.

        Raises ValueError when the name matches but the time fields are not a valid time.
        """
        match = self.regex.fullmatch(name)
        if match is None:
            return None
        texts = [match.group(f"_t{i}") for i in range(len(self.time_formats))]
        fmt = "|".join(self.time_formats)
        when = dt.datetime.strptime("|".join(texts), fmt)
        return when, {n: match.group(n) for n in self.names}
