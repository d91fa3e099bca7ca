"""Codelists: versioned CSV files under ``data/codelists/``.

``index.csv`` names each codelist, its coding system, source and version, and
whether the official cluster could be confirmed. Code lists are read from
here by the generator and by the indicator rules, never typed into code.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

CODELIST_DIR = Path(__file__).parent / "codelists"


@cache
def codelist_index() -> dict[str, dict[str, str]]:
    """Metadata for every codelist, keyed by name."""
    with open(CODELIST_DIR / "index.csv", newline="") as f:
        return {row["codelist"]: row for row in csv.DictReader(f)}


@cache
def codes(name: str) -> tuple[str, ...]:
    """The codes of one codelist, in file order."""
    meta = codelist_index()[name]
    with open(CODELIST_DIR / meta["file"], newline="") as f:
        return tuple(row["code"] for row in csv.DictReader(f))


@cache
def rows(name: str) -> tuple[dict[str, str], ...]:
    """Every row (code, term and any extra columns) of one codelist."""
    meta = codelist_index()[name]
    with open(CODELIST_DIR / meta["file"], newline="") as f:
        return tuple(csv.DictReader(f))
