"""Hand-written extracts for indicator spec tests, built through the real validated build path.

Each test spells out a few patients and their events; :func:`build` runs
``data.build.build_from_frames`` (validation, reference tables, patient_dim and
``queries.materialise``) and returns a read-only connection to the result.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from data.build import REFERENCE_DIR, REFERENCE_TABLES, build_from_frames
from data.schema import TABLES
from queries.registry import get

EXTRACT_DATE = dt.date(2026, 10, 31)
# Two real London practices in different boroughs, and an LSOA for each (from data/reference).
PRACTICE_A = "E83003"  # Barnet
LSOA_A = "E01000265"
_ids = itertools.count(1)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def patient(
    birth_date: str,
    *,
    patient_id: str | None = None,
    sex: str = "F",
    ethnicity: str | None = "A",
    lsoa21_code: str | None = LSOA_A,
    practice_code: str = PRACTICE_A,
    registration_start: str | None = None,
    registration_end: str | None = None,
    death_date: str | None = None,
) -> dict:
    """One patients row; registered from birth unless told otherwise."""
    return {
        "patient_id": patient_id or f"P{next(_ids):06d}",
        "birth_date": d(birth_date),
        "sex": sex,
        "ethnicity": ethnicity,
        "lsoa21_code": lsoa21_code,
        "practice_code": practice_code,
        "registration_start": d(registration_start or birth_date),
        "registration_end": d(registration_end) if registration_end else None,
        "death_date": d(death_date) if death_date else None,
    }


def jab(patient_id: str, date: str, vaccine: str) -> dict:
    """One immunisations row."""
    return {"patient_id": patient_id, "vaccination_date": d(date), "vaccine": vaccine, "snomed_code": None}


def vaccinated_at_12_months(
    groups: tuple[tuple[str, int, int], ...], *, alternate_sex: bool = False, **patient_options
) -> tuple[list[dict], list[dict]]:
    """Patients and immunisations rows: for each ``(practice, children, vaccinated)``, children born 2025-08-15
    (1st birthday in 2026-27 Q2), the first ``vaccinated`` with three 6-in-1 doses before it.

    ``alternate_sex``: odd-numbered children of each practice are girls, the others boys.
    ``patient_options`` go to :func:`patient` (an LSOA, say).
    """
    patients, jabs = [], []
    for practice, total, vaccinated in groups:
        for i in range(total):
            sex = ("F" if i % 2 else "M") if alternate_sex else "F"
            row = patient("2025-08-15", practice_code=practice, sex=sex, **patient_options)
            patients.append(row)
            if i < vaccinated:
                jabs += [jab(row["patient_id"], day, "6in1") for day in ("2025-10-10", "2025-11-10", "2025-12-10")]
    return patients, jabs


def frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """A contract table from row dicts, with every contract column in order and typed."""
    columns = TABLES[table].column_names
    data = pd.DataFrame(rows, columns=list(columns))
    for column in TABLES[table].columns:
        if column.dtype == "date":
            data[column.name] = pd.to_datetime(data[column.name]).dt.date
        elif column.dtype == "double":
            data[column.name] = data[column.name].astype("float64")
        else:
            data[column.name] = data[column.name].astype("object")
    return data


def build(tmp_path: Path, extract_date: dt.date = EXTRACT_DATE, **tables: list[dict]) -> duckdb.DuckDBPyConnection:
    """Build a database from row lists keyed by contract table name; returns a read-only connection."""
    out = Path(tmp_path) / "spec.duckdb"
    build_from_frames({name: frame(name, rows) for name, rows in tables.items()}, out, extract_date=extract_date)
    return duckdb.connect(str(out), read_only=True)


def facts(con: duckdb.DuckDBPyConnection, indicator_id: str, period_id: str) -> dict[str, tuple[float, float]]:
    """patient_id (or unit id) -> (numerator, denominator) for one indicator and period.

    Reads ``ind_patient`` where the indicator keeps patient rows, otherwise the
    practice cube cannot give per-patient answers, so list-denominator indicators
    are checked through :func:`totals`.
    """
    rows = con.execute(
        "SELECT coalesce(unit_id, patient_id), numerator, denominator FROM ind_patient "
        "WHERE indicator_id = ? AND period_id = ?",
        [indicator_id, period_id],
    ).fetchall()
    return {key: (numerator, denominator) for key, numerator, denominator in rows}


def totals(con: duckdb.DuckDBPyConnection, indicator_id: str, period_id: str) -> tuple[float, float]:
    """(numerator, denominator) summed over London from the practice cube."""
    row = con.execute(
        "SELECT coalesce(sum(numerator), 0), coalesce(sum(denominator), 0) FROM ind_cube_practice "
        "WHERE indicator_id = ? AND period_id = ?",
        [indicator_id, period_id],
    ).fetchone()
    return row[0], row[1]


# What a boundary table expects of one unit: in the numerator, in the denominator only, or not in the denominator.
MET, MISSED, NOT_COUNTED = (1, 1), (0, 1), None


def boundary_test(cases: list[tuple[str, str, str, tuple[int, int] | None]]):
    """A test over ``(indicator, period, unit, expected)`` rows: one pytest case per row, ``indicator-period-unit``.

    A module assigns it to a ``test_`` name and provides a ``con`` fixture; each row asserts :func:`fact`.
    """

    @pytest.mark.parametrize(
        ("indicator", "period", "unit", "expected"),
        [pytest.param(*case, id=f"{case[0]}-{case[1]}-{case[2]}") for case in cases],
    )
    def test_each_side_of_each_boundary(con, indicator, period, unit, expected):
        assert fact(con, indicator, period, unit) == expected

    return test_each_side_of_each_boundary


def fact(con: duckdb.DuckDBPyConnection, indicator_id: str, period_id: str, unit: str) -> tuple[float, float] | None:
    """One unit's (numerator, denominator) for an indicator and period; None when it is not in the denominator.

    An indicator whose denominator is the whole registered list keeps no patient rows, so its patient is read
    from the practice cube: such a patient must be the only one at its practice (see :func:`own_practices`).
    """
    if get(indicator_id).patient_level:
        return facts(con, indicator_id, period_id).get(unit)
    practice, sharing = con.execute(
        "SELECT any_value(practice_code), count(*) - 1 FROM patient_dim "
        "WHERE practice_code = (SELECT practice_code FROM patient_dim WHERE patient_id = ?)",
        [unit],
    ).fetchone()
    if practice is None:
        raise KeyError(f"no patient {unit}")
    if sharing:
        raise ValueError(f"{unit} shares its practice with {sharing} others, and {indicator_id} keeps no patient rows")
    row = con.execute(
        "SELECT sum(numerator), sum(denominator) FROM ind_cube_practice "
        "WHERE indicator_id = ? AND period_id = ? AND practice_code = ?",
        [indicator_id, period_id, practice],
    ).fetchone()
    return None if not row[1] else (row[0], row[1])


def own_practices(count: int) -> list[str]:
    """``count`` real London practices other than :data:`PRACTICE_A`, one for each patient a spec test judges
    on a whole-list indicator (see :func:`fact`)."""
    codes = pd.read_csv(REFERENCE_DIR / REFERENCE_TABLES["ref_practices"], usecols=["practice_code"])["practice_code"]
    return [code for code in codes if code != PRACTICE_A][:count]
