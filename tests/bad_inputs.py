"""A corpus of broken inputs for every reader of :func:`tame_xr.ingest`, generated on demand.

The cases live in ``bad_inputs_images.py`` and ``bad_inputs_text.py`` (file helpers in
``bad_inputs_files.py``); this module holds the tables and the builder.

For each reader kind there is a small valid *baseline* (:data:`BASELINES`) that a test stores
first, and a table of named cases (:data:`CASES`; :func:`build` writes one). A case is the set
of files to ingest after the baseline: the broken ones, and the good ones that must still be
added (by default one new good file of the kind, :data:`GOOD`). Expected outcome:

``"error"``
    :func:`tame_xr.ingest` raises a :class:`ValueError` (often
    :class:`~tame_xr.report.BadInputError`) whose message names every bad file and contains
    ``reason``; nothing is written.
``"skipped"``
    Every bad file is in ``report.skipped`` with a reason containing ``reason``; the good
    files are added and nothing already stored changes.
``"ok"``
    Not an error but a documented correction or a correctness case (sentinels become NaN,
    unknown stations are kept with NaN positions, files and columns in any order land under
    their own station and time); the test checks each such case by name.

Everything is written here (no network, no shared data), deterministic and small.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# value generators are re-exported: tests/test_bad_input.py compares stored data with them
from bad_inputs_files import pixels  # noqa: F401
from bad_inputs_images import IMAGES, OATH, THEMIS, oath_image, oath_root, pgm, png  # noqa: F401
from bad_inputs_text import (  # noqa: F401
    CHM15K,
    IAGA,
    IMAGE,
    PANGAEA,
    cbh_texts,
    chm15k,
    chm_values,
    iaga,
    iaga_values,
    image_file,
    image_values,
    pangaea,
)

#: The store group each kind writes to by default.
GROUPS = {
    "images": "asim/5577",
    "themis": "asim/themis",
    "oath": "oath",
    "iaga2002": "magnetometer",
    "image_magnetometer": "magnetometer",
    "pangaea_ceilometer": "ceilometer",
    "chm15k": "ceilometer",
}
#: Valid cells (OATH: samples) that one good file of each kind adds.
CELLS = {"images": 1, "themis": 3, "oath": 1, "iaga2002": 30, "image_magnetometer": 80}
CELLS |= {"pangaea_ceilometer": 10, "chm15k": 5}


@dataclass
class Case:
    """One broken (or awkward) input set; see the module docstring."""

    kind: str
    name: str
    outcome: str
    reason: str
    files: list[Path] | Path
    bad: list[Path] = field(default_factory=list)
    good: list[Path] = field(default_factory=list)
    new_cells: int = 0
    kw: dict = field(default_factory=dict)


# ------------------------------------------------------------------------- the tables
#: kind -> case name -> (outcome, reason substring, builder(folder) -> bad path(s) or a dict)
CASES = {
    "images": IMAGES,
    "themis": THEMIS,
    "oath": OATH,
    "iaga2002": IAGA,
    "image_magnetometer": IMAGE,
    "pangaea_ceilometer": PANGAEA,
    "chm15k": CHM15K,
}
#: kind -> writer of the valid baseline (what the test stores first)
BASELINES: dict[str, Callable[[Path], list[Path] | Path]] = {
    "images": lambda d: [png(d, s, f"170{m}05") for s in ("nya6", "lyr6") for m in range(3)],
    "themis": lambda d: [pgm(d, "gill", f"2014-03-10 06:00:0{s}") for s in (0, 9)],
    "oath": oath_root,
    "iaga2002": lambda d: [iaga(d, "BOU"), iaga(d, "FRD")],
    "image_magnetometer": lambda d: [image_file(d)],
    "pangaea_ceilometer": lambda d: [pangaea(d, "nya"), pangaea(d, "lyr")],
    "chm15k": lambda d: [chm15k(d)],
}
#: kind -> writer of one new good file (later than the baseline) that a case adds
GOOD: dict[str, Callable[[Path], Path]] = {
    "images": lambda d: png(d / "good", "nya6", "171005"),
    "themis": lambda d: pgm(d / "good", "gill", "2014-03-10 06:00:18"),
    "iaga2002": lambda d: iaga(d / "good", "BOU", "2014-11-01 00:30"),
    "image_magnetometer": lambda d: image_file(d / "good", "2014-12-01 00:40"),
    "pangaea_ceilometer": lambda d: pangaea(d / "good", "nya", "2014-12-01 00:10"),
    "chm15k": lambda d: chm15k(d / "good", start="2020-10-22 00:05"),
}


def all_cases() -> list[tuple[str, str]]:
    """Every ``(kind, name)`` of the corpus."""
    return [(kind, name) for kind, table in CASES.items() for name in table]


def baseline(kind: str, folder: Path) -> list[Path] | Path:
    """Write the valid baseline of ``kind`` into ``folder``; returns what to ingest."""
    folder.mkdir(parents=True, exist_ok=True)
    return BASELINES[kind](folder)


def build(kind: str, name: str, folder: Path) -> Case:
    """Write the files of case ``name`` of ``kind`` into ``folder`` and describe them."""
    outcome, reason, fn = CASES[kind][name]
    folder.mkdir(parents=True, exist_ok=True)
    spec = fn(folder)
    if not isinstance(spec, dict):  # bad file(s) only: one new good file goes with them
        spec = {"bad": spec if isinstance(spec, list) else [spec], "good": [GOOD[kind](folder)]}
    bad, good = spec.pop("bad"), spec.pop("good")
    spec.setdefault("files", [*good, *bad])
    spec.setdefault("new_cells", len(good) * CELLS[kind])
    return Case(kind, name, outcome, reason, bad=bad, good=good, **spec)
