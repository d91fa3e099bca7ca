"""The immunisation page's heaviest views, remembered by the query cache, follow the database file, not its path.

A database rebuilt in place (a new file moved onto the path) and read by a new connection must not be
answered from the old file's entries: the cache is keyed on the file's identity.
"""

from __future__ import annotations

import os

from queries import immunisation as imm
from queries.db import Database
from tests.spec.helpers import build, jab, patient

PRACTICE = "E83003"


def _children(tmp_path, name: str, vaccinated: int):
    """Ten children at one practice turning 1 in 2026-27 Q2, ``vaccinated`` of them with three 6-in-1 doses."""
    children = [patient("2025-08-15", practice_code=PRACTICE) for _ in range(10)]
    doses = [
        jab(child["patient_id"], day, "6in1")
        for child in children[:vaccinated]
        for day in ("2025-10-10", "2025-11-10", "2025-12-10")
    ]
    build(tmp_path / name, patients=children, immunisations=doses).close()
    return tmp_path / name / "spec.duckdb"


def _practice_value(path) -> float:
    database = Database(path)
    try:
        rows = imm.practice_comparison(database, practice_code=PRACTICE, disclose=False)
        row = rows[(rows["indicator_id"] == "cover_12m_6in1") & (rows["level"] == "Practice")]
        return float(row["value"].iloc[0])
    finally:
        database.close()


def test_a_database_rebuilt_in_place_is_not_answered_from_the_old_files_memo(tmp_path):
    served = _children(tmp_path, "first", vaccinated=9)
    assert _practice_value(served) == 90.0
    os.replace(_children(tmp_path, "rebuilt", vaccinated=4), served)
    assert _practice_value(served) == 40.0
