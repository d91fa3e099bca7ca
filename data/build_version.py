"""Which build of the code made a database, so that a database built by other code is never read silently.

The build writes :data:`BUILD_VERSION` into the ``meta`` table; the app (``queries.db.Database``), the
query CLI and ``python -m data.build check`` refuse a database whose stamp is missing or different,
with :func:`stale_build_problem`'s message. The extract's own contract has its separate ``SCHEMA_VERSION``
(data.schema); this number versions the tables the build derives from an extract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Bump this whenever a build-time table's meaning or layout changes (patient_dim, ind_patient, the cubes
# and their slices, tumour unit ids, ...): every database built before then must be rebuilt, because
# code reading it would otherwise get wrong or missing numbers without an error.
# 2: tumour unit_ids come from the tumour's own row (queries.materialise.TUMOURS_SQL), not its London-wide rank.
# 3: rules corrected by the indicator audit (CVDP005HYP denominator and 3-month reading, malignant-only tumours,
#    VI001 counting every DTaP-containing dose, the 31-day standard counting cancer treatments only) and the new
#    cover_5y_hibmenc slices.
# 4: child_contact_days, each child's days with a record, for the cohort finder's list on an earlier date.
# 5: hyp_detection_ratio's expected rates by age and sex (they were by age only).
# 6: asthma_saba_list, the asthma page's patient list per period and practice.
# 7: the pre-school booster counts a 4-in-1 from the 3rd birthday (COVER and the cohort finder); the asthma
#    register reads 708038006 (acute exacerbation of asthma) as an AST_COD code.
# 8: the new schedule's Hib booster (born from 1 Jul 2024) is a 4th 6-in-1 with one from the 1st birthday, not any
#    6-in-1 from then (COVER at 24 months and 5 years, their uptake-by-age rows, and the cohort finder).
# 9: hyp_detection_ratio's expected rates rounded to whole 2**-20ths, so expected counts sum exactly (the same
#    figures whatever order the threads add them in).
BUILD_VERSION = 9

META_KEY = "build_version"
REBUILD_HINT = "Rebuild it with `make data` (or `python -m data.build synthetic|extract ... --out <file>`)."


def read_build_version(con: Any) -> int | None:
    """The build version stamped in ``con``'s ``meta`` table; None when there is no stamp (or no ``meta``).

    ``con`` is a DuckDB connection or cursor. A stamp that is not an integer counts as none.
    """
    has_meta = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND table_name = 'meta'"
    ).fetchone()[0]
    if not has_meta:
        return None
    row = con.execute("SELECT value FROM meta WHERE key = ?", [META_KEY]).fetchone()
    try:
        return None if row is None or row[0] is None else int(row[0])
    except ValueError:
        return None


def stale_build_problem(con: Any, path: str | Path) -> str | None:
    """A message a user can act on when the database at ``path`` (open as ``con``) is not this code's build.

    None when its stamp equals :data:`BUILD_VERSION` and the build made the indicator tables.
    """
    found = read_build_version(con)
    if found == BUILD_VERSION:
        # `--skip-indicators` (timing the load alone) stamps the version but writes none of the engine's
        # tables: served, every page failed on its first query instead of saying why.
        materialised = con.execute("SELECT value FROM meta WHERE key = 'indicators_materialised'").fetchone()
        if materialised is not None and materialised[0] == "False":
            return (
                f"The database {path} was built without the indicator tables (--skip-indicators, for timing "
                f"the load only), so no page can read it. {REBUILD_HINT}"
            )
        return None
    if found is None:
        made_by = "was built before build versions were recorded (it has no build version)"
    elif found < BUILD_VERSION:
        made_by = f"was built by an older version of the build (version {found}, this code needs {BUILD_VERSION})"
    else:
        made_by = f"was built by a newer version of the build (version {found}, this code needs {BUILD_VERSION})"
    return f"The database {path} {made_by}, so its numbers cannot be trusted. {REBUILD_HINT}"
