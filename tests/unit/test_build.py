"""The build: a bad extract never touches the existing database; a good one replaces it whole.

Every test here writes a real DuckDB file through ``data.build`` from a hand-made extract.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.machinery
import subprocess
import sys
import types
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from data import build
from data.build import build_from_directory, build_from_frames, main
from data.validate import ExtractValidationError

pytestmark = pytest.mark.slow

EXTRACT_DATE = date(2026, 10, 31)
ROOT = Path(__file__).resolve().parents[2]
PATIENT_DIM_COLUMNS = [
    "patient_id", "birth_date", "sex", "ethnicity", "ethnicity_group", "lsoa21_code", "residence_borough_code",
    "imd_decile_national", "imd_quintile_national", "imd_decile_london", "imd_quintile_london", "practice_code",
    "pcn_code", "borough_code", "icb_code", "registration_start", "registration_end", "death_date",
]  # fmt: skip


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def quiet(message: str) -> None:
    """Progress sink."""


def reference_row(filename: str, key: str, value: str) -> dict[str, str]:
    """One row of a committed reference CSV, read independently of the build."""
    with open(ROOT / "data" / "reference" / filename, newline="") as f:
        return next(row for row in csv.DictReader(f) if row[key] == value)


@pytest.fixture
def existing_db(tmp_path, tiny_tables, make_extract) -> tuple[Path, str]:
    """A good database already at the output path, and the hash of its bytes."""
    out = tmp_path / "out" / "pathfinder.duckdb"
    build_from_directory(make_extract(tiny_tables), out, extract_date=EXTRACT_DATE, progress=quiet)
    return out, sha256(out)


def set_cell(tables, table, row, column, value):
    frame = tables[table].copy()
    frame[column] = frame[column].astype(object)
    if isinstance(value, str):
        frame[column] = [None if pd.isna(v) else str(v) for v in frame[column]]
    frame.loc[row, column] = value
    tables[table] = frame


def drop_table(tables):
    del tables["cancer_pathways"]


def drop_column(tables):
    tables["clinical_events"] = tables["clinical_events"].drop(columns=["snomed_code"])


def duplicate_pathway(tables):
    tables["cancer_pathways"] = pd.concat([tables["cancer_pathways"]] * 2, ignore_index=True)


BREAKAGES = {
    "missing_table": drop_table,
    "missing_column": drop_column,
    "unparsable_date": lambda t: set_cell(t, "patients", 0, "birth_date", "1 March 2020"),
    "vocabulary_vaccine": lambda t: set_cell(t, "immunisations", 0, "vaccine", "BCG"),
    "vocabulary_sex": lambda t: set_cell(t, "patients", 0, "sex", "female"),
    "unknown_code:ref_practices": lambda t: set_cell(t, "patients", 1, "practice_code", "Z99999"),
    "orphan_patient": lambda t: set_cell(t, "hospital_episodes", 0, "patient_id", "NOBODY"),
    "duplicate_key": duplicate_pathway,
    "after_extract_date": lambda t: set_cell(t, "medications", 0, "issue_date", date(2026, 11, 1)),
    "before_birth": lambda t: set_cell(t, "cancer_registrations", 0, "diagnosis_date", date(1950, 6, 14)),
    "before_registration_start": lambda t: set_cell(t, "patients", 1, "registration_end", date(2000, 1, 1)),
    "not_null": lambda t: set_cell(t, "patients", 2, "registration_start", None),
}


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_bad_extract_raises_and_leaves_the_database_untouched(existing_db, tiny_tables, make_extract, breakage, fmt):
    out, before = existing_db
    BREAKAGES[breakage](tiny_tables)
    with pytest.raises(ExtractValidationError) as raised:
        build_from_directory(make_extract(tiny_tables, fmt), out, extract_date=EXTRACT_DATE, progress=quiet)
    expected = breakage.split("_", 1)[0] if breakage.startswith("vocabulary_") else breakage
    assert expected in [p.check for p in raised.value.problems]
    assert sha256(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temp or spill files left


def test_good_build_replaces_the_database_whole(existing_db, tiny_tables, make_extract):
    out, before = existing_db
    tiny_tables["patients"] = tiny_tables["patients"].iloc[:2]
    for name in ("clinical_events", "medications", "hospital_episodes"):
        tiny_tables[name] = tiny_tables[name][tiny_tables[name].patient_id != "P3"]
    counts = build_from_directory(make_extract(tiny_tables), out, extract_date=EXTRACT_DATE, progress=quiet)
    assert counts["patients"] == 2 and counts["medications"] == 0
    assert sha256(out) != before
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]
    with duckdb.connect(str(out), read_only=True) as con:
        assert con.execute("SELECT list(patient_id ORDER BY patient_id) FROM patient_dim").fetchone() == (["P1", "P2"],)


def test_tables_are_typed_and_meta_describes_the_build(existing_db):
    out, _ = existing_db
    with duckdb.connect(str(out), read_only=True) as con:
        patients = {name: dtype for name, dtype, *_ in con.execute("DESCRIBE patients").fetchall()}
        medications = {name: dtype for name, dtype, *_ in con.execute("DESCRIBE medications").fetchall()}
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        practices = [row[0] for row in con.execute("DESCRIBE ref_practices").fetchall()]
    assert patients["birth_date"] == "DATE" and patients["registration_end"] == "DATE"
    assert patients["practice_code"] == "VARCHAR"
    assert medications["quantity"] == "DOUBLE"
    assert meta["extract_date"] == "2026-10-31"
    assert meta["source"] == "extract"
    assert meta["schema_version"] == "linked-extract v1"
    assert meta["rows_patients"] == "3"
    assert {"built_at", "scale", "seed"} <= meta.keys()
    with open(ROOT / "data" / "reference" / "practices.csv", newline="") as f:
        assert practices == next(csv.reader(f))


def test_patient_dim_derives_ethnicity_group_imd_and_practice_geography(tmp_path, tiny_tables):
    letters = list("ABCDEFGHJKLMNPRSZ") + [None]
    expected_groups = ["White"] * 3 + ["Mixed"] * 4 + ["Asian"] * 4 + ["Black"] * 3 + ["Other"] * 2
    expected_groups += ["Not stated", "Not stated"]
    template = tiny_tables["patients"].iloc[0]
    patients = pd.DataFrame([{**template, "patient_id": f"E{i:02d}", "ethnicity": e} for i, e in enumerate(letters)])
    patients.loc[len(patients) - 1, "lsoa21_code"] = None  # the last one lives somewhere unknown
    out = tmp_path / "dim.duckdb"
    build_from_frames({"patients": patients}, out, extract_date=EXTRACT_DATE)
    with duckdb.connect(str(out), read_only=True) as con:
        dim = con.execute("SELECT * FROM patient_dim ORDER BY patient_id").df()
    assert list(dim.columns) == PATIENT_DIM_COLUMNS
    assert list(dim["ethnicity_group"]) == expected_groups

    lsoa = reference_row("lsoa21.csv", "lsoa21_code", "E01000001")
    practice = reference_row("practices.csv", "practice_code", "E83003")
    first, unknown_home = dim.iloc[0], dim.iloc[-1]
    assert first["residence_borough_code"] == lsoa["borough_code"]
    assert first["imd_decile_national"] == int(lsoa["imd2025_decile_national"])
    assert first["imd_quintile_national"] == int(lsoa["imd2025_quintile_national"])
    assert first["imd_decile_london"] == int(lsoa["imd2025_decile_london"])
    assert first["imd_quintile_london"] == int(lsoa["imd2025_quintile_london"])
    # The practice's borough, not the home's: this LSOA is in the City, the practice in Barnet.
    assert (first["pcn_code"], first["borough_code"], first["icb_code"]) == (
        practice["pcn_code"],
        practice["borough_code"],
        practice["icb_code"],
    )
    assert first["borough_code"] != first["residence_borough_code"]
    assert pd.isna(unknown_home["residence_borough_code"]) and pd.isna(unknown_home["imd_decile_national"])
    assert unknown_home["borough_code"] == practice["borough_code"]


def fake_materialise_module(monkeypatch, materialise):
    module = types.ModuleType("queries.materialise")
    module.__spec__ = importlib.machinery.ModuleSpec("queries.materialise", None)
    module.materialise = materialise
    monkeypatch.setitem(sys.modules, "queries.materialise", module)


def test_materialise_is_called_with_the_extract_date(monkeypatch, tmp_path, tiny_tables):
    def materialise(con, extract_date):
        con.execute("CREATE TABLE ind_probe AS SELECT ?::DATE AS extract_date, count(*) AS n FROM patient_dim",
                    [extract_date])  # fmt: skip

    fake_materialise_module(monkeypatch, materialise)
    out = tmp_path / "m.duckdb"
    build_from_frames(tiny_tables, out, extract_date=EXTRACT_DATE)
    with duckdb.connect(str(out), read_only=True) as con:
        assert con.execute("SELECT * FROM ind_probe").fetchall() == [(EXTRACT_DATE, 3)]
        assert con.execute("SELECT value FROM meta WHERE key = 'indicators_materialised'").fetchall() == [("True",)]


def test_a_failing_materialise_fails_the_build_and_keeps_the_old_database(monkeypatch, existing_db, tiny_tables):
    out, before = existing_db

    def materialise(con, extract_date):
        raise RuntimeError("indicator engine exploded")

    fake_materialise_module(monkeypatch, materialise)
    with pytest.raises(RuntimeError, match="exploded"):
        build_from_frames(tiny_tables, out, extract_date=EXTRACT_DATE)
    assert sha256(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]


def test_cli_exit_codes_and_problem_listing(existing_db, tiny_tables, make_extract, capsys):
    out, before = existing_db
    good = make_extract(tiny_tables, "csv")
    set_cell(tiny_tables, "immunisations", 1, "vaccine", "Flu")
    bad = make_extract(tiny_tables, "csv")

    assert main(["extract", str(bad), "--out", str(out), "--extract-date", "2026-10-31"]) == 2
    stderr = capsys.readouterr().err
    assert "immunisations.vaccine [vocabulary]: 1 row (e.g. 'Flu')" in stderr
    assert f"{out} is unchanged" in stderr
    assert sha256(out) == before

    assert main(["extract", str(good), "--out", str(out), "--extract-date", "2026-10-31"]) == 0
    assert sha256(out) != before


def test_cli_in_a_subprocess_reports_a_missing_folder_without_a_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "data.build", "extract", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.duckdb")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "missing_folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.duckdb").exists()


def test_cli_synthetic_without_a_generator_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "data.synthetic", None)
    assert main(["synthetic", "--scale", "0.001", "--out", str(tmp_path / "s.duckdb")]) == 1
    assert "generator not available" in capsys.readouterr().err


def test_cli_synthetic_caches_the_generated_extract(monkeypatch, tmp_path, tiny_tables):
    calls = []

    def write_extract(out_dir, *, scale, seed, extract_date, progress):
        calls.append((scale, seed, extract_date))
        build.write_frames(out_dir, tiny_tables)
        return {name: len(frame) for name, frame in tiny_tables.items()}

    generator = types.ModuleType("data.synthetic")
    generator.write_extract = write_extract
    monkeypatch.setitem(sys.modules, "data.synthetic", generator)
    out = tmp_path / "s.duckdb"
    args = ["synthetic", "--scale", "0.001", "--seed", "7", "--out", str(out), "--extract-date", "2026-10-31"]

    assert main(args) == 0
    assert main(args) == 0  # second build reuses the cached extract
    assert calls == [(0.001, 7, EXTRACT_DATE)]
    assert main([*args, "--regenerate"]) == 0
    assert len(calls) == 2
    assert (tmp_path / "extract-s0.001-seed7-2026-10-31" / "_complete.json").is_file()
    with duckdb.connect(str(out), read_only=True) as con:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    assert (meta["source"], meta["scale"], meta["seed"]) == ("synthetic", "0.001", "7")


def test_skipping_the_engine_is_recorded_in_meta(monkeypatch, tmp_path, tiny_tables, make_extract):
    def materialise(con, extract_date):
        raise AssertionError("the engine must not run")

    fake_materialise_module(monkeypatch, materialise)
    out = tmp_path / "load-only.duckdb"
    build_from_directory(make_extract(tiny_tables), out, extract_date=EXTRACT_DATE, progress=quiet, materialise=False)
    with duckdb.connect(str(out), read_only=True) as con:
        assert con.execute("SELECT value FROM meta WHERE key = 'indicators_materialised'").fetchall() == [("False",)]


# A build run as `python -m data.build`, killed in the middle: build_patient_dim ends the process on the spot
# (os._exit runs no `finally`, no `except`), which is what a kill or an out-of-memory kill leaves behind.
KILLED_BUILD = """
import os, sys
from datetime import date
from data import build
build.build_patient_dim = lambda con: os._exit(9)
build.build_from_directory(sys.argv[1], sys.argv[2], extract_date=date(2026, 10, 31), progress=lambda message: None)
"""


def test_a_build_killed_part_way_leaves_the_database_whole_and_the_next_build_removes_its_leftovers(
    existing_db, tiny_tables, make_extract
):
    out, before = existing_db
    extract = make_extract(tiny_tables)
    killed = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(extract), str(out)], cwd=ROOT)
    assert killed.wait(timeout=120) == 9
    leftovers = sorted(p.name for p in out.parent.iterdir() if p.name != out.name)
    assert leftovers[0].startswith(f".{out.name}.spill-{killed.pid}-")  # DuckDB's spill folder
    assert leftovers[1:] == [f"{out.name}.tmp-{killed.pid}"] or leftovers[1:] == [
        f"{out.name}.tmp-{killed.pid}",
        f"{out.name}.tmp-{killed.pid}.wal",
    ]
    assert sha256(out) == before  # never half-built: the new database was still in its temporary file

    said = []
    build_from_directory(extract, out, extract_date=EXTRACT_DATE, progress=said.append)
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]
    assert any(f"{out.name}.tmp-{killed.pid}, left by a build that stopped part way" in line for line in said)
    with duckdb.connect(str(out), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM patient_dim").fetchall() == [(3,)]


def test_a_build_interrupted_by_an_exception_keeps_the_old_database_and_leaves_nothing(
    monkeypatch, existing_db, tiny_tables, make_extract
):
    out, before = existing_db

    def interrupted(con):
        raise KeyboardInterrupt  # Ctrl-C half way through

    monkeypatch.setattr(build, "build_patient_dim", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_from_directory(make_extract(tiny_tables), out, extract_date=EXTRACT_DATE, progress=quiet)
    assert sha256(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]


def test_leftovers_of_a_running_build_are_kept(tmp_path):
    """Another build of the same file still at work (its process alive) keeps its temporary files."""
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / f"x.duckdb.tmp-{alive.pid}").write_bytes(b"")
        (tmp_path / f"x.duckdb.tmp-{dead_pid()}").write_bytes(b"")
        removed = build.remove_leftovers(tmp_path, r"x\.duckdb\.tmp-(\d+)")
    finally:
        alive.kill()
        alive.wait()
    assert [p.name for p in tmp_path.iterdir()] == [f"x.duckdb.tmp-{alive.pid}"]
    assert len(removed) == 1


def dead_pid() -> int:
    """The id of a process that has ended."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_wal_left_beside_the_old_database_does_not_break_the_new_one(existing_db, tiny_tables, make_extract):
    """Someone opened the database to write and was killed: its WAL stays beside it. DuckDB then refused the
    rebuilt database: "Failure while replaying WAL file ...: WAL does not match database file"."""
    out, _ = existing_db
    with duckdb.connect(str(out)) as con:
        con.execute("SET checkpoint_threshold = '1TB'")  # keep the change in the WAL
        con.execute("CREATE TABLE notes AS SELECT 'a change never checkpointed' AS note")
        wal = Path(f"{out}.wal").read_bytes()
    Path(f"{out}.wal").write_bytes(wal)  # as a kill would have left it
    build_from_directory(make_extract(tiny_tables), out, extract_date=EXTRACT_DATE, progress=quiet)
    with duckdb.connect(str(out), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM patient_dim").fetchall() == [(3,)]


def test_a_killed_generators_partial_extract_is_removed(monkeypatch, tmp_path, tiny_tables):
    def write_extract(out_dir, *, scale, seed, extract_date, progress):
        build.write_frames(out_dir, tiny_tables)
        return {name: len(frame) for name, frame in tiny_tables.items()}

    generator = types.ModuleType("data.synthetic")
    generator.write_extract = write_extract
    monkeypatch.setitem(sys.modules, "data.synthetic", generator)
    partial = tmp_path / f".extract-s0.001-seed7-2026-10-31.tmp-{dead_pid()}"
    partial.mkdir()
    (partial / "patients.parquet").write_bytes(b"half written")
    args = ["synthetic", "--scale", "0.001", "--seed", "7", "--extract-date", "2026-10-31"]
    assert main([*args, "--out", str(tmp_path / "s.duckdb")]) == 0
    assert not partial.exists()
