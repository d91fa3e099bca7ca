"""Fixtures shared by every kind of test.

- ``small_db``: a synthetic database (scale 0.005, seed 21), built once per test run through the
  same validated path as ``python -m data.build synthetic`` (pytest-xdist workers share it).
- ``tiny_tables``: a valid hand-made extract (three patients, a row or two per event table) as
  DataFrames, fresh for each test so a test may break it.
- ``make_extract``: writes such tables as an extract folder (Parquet or CSV) under ``tmp_path``.

To build a database from hand-written patients (spec tests)::

    from data.build import build_from_frames
    build_from_frames({"patients": patients, "immunisations": jabs}, tmp_path / "t.duckdb",
                      extract_date=EXTRACT_DATE)   # tables not given are empty
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import shutil
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from data.build import build_from_directory, write_frames
from security.testing import use_throwaway_audit_dir

# Before anything imports the app: demo users exist, and the audit log goes to a
# throw-away folder rather than the working tree, removed when the run ends (pytest-xdist
# workers inherit the folder from the process that made it, which outlives them).
os.environ.setdefault("PATHFINDER_DEMO", "true")
use_throwaway_audit_dir("pathfinder-audit-")

EXTRACT_DATE = date(2026, 10, 31)
SMALL_SCALE = 0.005
# The GP-team tests need demo.gp's practice (E83003, ~60 patients at this scale) to hold a child in the latest
# quarter's 12-month cohort: a seed whose draw gives it one (seed 1 stopped doing so when the generator changed).
SMALL_SEED = 21


def _quiet(message: str) -> None:
    """Progress sink for fixture builds."""


def run_shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary folder shared by every process of this test run.

    Under pytest-xdist each worker's base temp is ``<run folder>/popen-gwN``: the run folder is the
    shared one. Without xdist the base temp is the run folder itself.
    """
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def exclusive_lock(path: Path):
    """Hold an exclusive lock on ``path`` (created if missing) across processes; released on exit."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a synthetic database at scale 0.005, seed 21, extract date 2026-10-31 (read-only use).

    Built once per run: the first pytest-xdist worker to need it builds it while holding a lock,
    the others wait on the lock and reuse the file (every test opens it read-only).
    """
    from data.synthetic import write_extract  # a generator that fails to import fails every test here

    root = run_shared_dir(tmp_path_factory) / "small_db-shared"
    root.mkdir(exist_ok=True)
    out = root / "pathfinder.duckdb"
    with exclusive_lock(root / "build.lock"):
        if not out.exists():  # the build replaces ``out`` atomically: it exists only when complete
            shutil.rmtree(root / "extract", ignore_errors=True)  # left by a build that failed
            write_extract(
                root / "extract", scale=SMALL_SCALE, seed=SMALL_SEED, extract_date=EXTRACT_DATE, progress=_quiet
            )
            build_from_directory(
                root / "extract",
                out,
                extract_date=EXTRACT_DATE,
                source="synthetic",
                scale=SMALL_SCALE,
                seed=SMALL_SEED,
                progress=_quiet,
            )
    return out


@pytest.fixture(scope="module")
def synthetic(small_db: Path):
    """A read-only DuckDB connection to :func:`small_db`, one per test module."""
    connection = duckdb.connect(str(small_db), read_only=True)
    yield connection
    connection.close()


def _d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.fixture
def tiny_tables() -> dict[str, pd.DataFrame]:
    """A valid extract small enough to read: P1 a child, P2 died in 2024 after cancer, P3 with asthma care.

    Codes are real entries of ``data/reference`` (practices, LSOAs) and ``data/codelists``.
    """
    return {
        "patients": pd.DataFrame(
            {
                "patient_id": ["P1", "P2", "P3"],
                "birth_date": [_d("2020-03-01"), _d("1950-06-15"), _d("1985-01-01")],
                "sex": ["F", "M", "U"],
                "ethnicity": ["A", "M", None],
                "lsoa21_code": ["E01000001", None, "E01000196"],
                "practice_code": ["E83003", "F84003", "F84004"],
                "registration_start": [_d("2020-03-10"), _d("2001-01-01"), _d("1990-01-01")],
                "registration_end": [None, _d("2024-05-01"), None],
                "death_date": [None, _d("2024-05-01"), None],
            }
        ),
        "immunisations": pd.DataFrame(
            {
                "patient_id": ["P1", "P1"],
                "vaccination_date": [_d("2020-05-05"), _d("2021-03-05")],
                "vaccine": ["6in1", "MMR"],
                "snomed_code": [None, "38598009"],
            }
        ),
        "clinical_events": pd.DataFrame(
            {
                "patient_id": ["P2", "P3"],
                "event_date": [_d("2010-01-01"), _d("2025-01-01")],
                "snomed_code": ["38341003", "271649006"],
                "value": [None, 135.0],
            }
        ),
        "medications": pd.DataFrame(
            {
                "patient_id": ["P3"],
                "issue_date": [_d("2025-02-01")],
                "dmd_code": ["39113611000001102"],
                "bnf_code": ["0301011R0AAAPAP"],
                "quantity": [1.0],
            }
        ),
        "hospital_episodes": pd.DataFrame(
            {
                "patient_id": ["P3"],
                "admission_date": [_d("2025-03-01")],
                "discharge_date": [_d("2025-03-03")],
                "provider_code": ["R1H"],
                "admission_method": ["21"],
                "primary_diagnosis": ["J45.9"],
            }
        ),
        "cancer_pathways": pd.DataFrame(
            {
                "pathway_id": ["CP1"],
                "patient_id": ["P2"],
                "referral_date": [_d("2023-01-01")],
                "priority_type": ["urgent_suspected_cancer"],
                "suspected_site": ["lung"],
                "provider_code": ["R1H"],
                "diagnosis_told_date": [_d("2023-01-20")],
                "diagnosis_outcome": ["cancer_confirmed"],
                "decision_to_treat_date": [_d("2023-02-01")],
                "treatment_start_date": [_d("2023-02-10")],
                "treatment_provider_code": ["RRV"],
            }
        ),
        "cancer_registrations": pd.DataFrame(
            {
                "patient_id": ["P2"],
                "diagnosis_date": [_d("2023-01-20")],
                "icd10_code": ["C34.1"],
                "stage": ["2"],
                "route": ["urgent_referral"],
            }
        ),
    }


@pytest.fixture
def make_extract(tmp_path: Path) -> Callable[..., Path]:
    """A function writing ``{table: DataFrame}`` as a new extract folder under ``tmp_path``.

    ``make_extract(tables, fmt="csv")`` returns the folder; ``fill_missing=True`` adds empty
    contract tables for any not given.
    """
    numbers = itertools.count()

    def make(tables: Mapping[str, pd.DataFrame], fmt: str = "parquet", fill_missing: bool = False) -> Path:
        return write_frames(tmp_path / f"extract-{next(numbers)}", tables, fmt=fmt, fill_missing=fill_missing)

    return make
