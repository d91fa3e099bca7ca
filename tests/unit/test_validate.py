"""The extract validator: every kind of bad input is reported with its table, column, count and examples.

Each case starts from the valid hand-made extract (``tiny_tables``), breaks one thing and
checks that exactly that is reported, for Parquet and for CSV (read as text, so a value that
does not parse is caught rather than guessed around).
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from data.build import load_reference_tables
from data.schema import TABLES
from data.validate import ExtractValidationError, Problem, load_and_validate

EXTRACT_DATE = date(2026, 10, 31)
FORMATS = ("parquet", "csv")


@pytest.fixture(scope="module")
def reference_con():
    con = duckdb.connect()
    load_reference_tables(con)
    yield con
    con.close()


@pytest.fixture
def validate(reference_con, make_extract):
    """Validate ``tables`` written in ``fmt``; returns the problems (a fresh set of contract tables each call)."""

    def run(tables, fmt="parquet", extract_date=EXTRACT_DATE) -> list[Problem]:
        for name in TABLES:
            reference_con.execute(f'DROP TABLE IF EXISTS "{name}"')
        return load_and_validate(reference_con, make_extract(tables, fmt), extract_date)

    return run


def checks(problems):
    """The problems as (table, column, check, count) for exact comparison."""
    return sorted(((p.table, p.column, p.check, p.count) for p in problems), key=str)


def with_value(frame: pd.DataFrame, row: int, column: str, value) -> pd.DataFrame:
    """A copy of ``frame`` with one cell replaced.

    Writing text into a date or number column turns the whole column into text, as a raw
    extract would hold it (Parquet string column, or CSV).
    """
    frame = frame.copy()
    frame[column] = frame[column].astype(object)
    if isinstance(value, str):
        frame[column] = [None if pd.isna(v) else str(v) for v in frame[column]]
    frame.loc[row, column] = value
    return frame


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_valid_extract_has_no_problems_and_loads_typed_tables(validate, tiny_tables, reference_con, fmt):
    assert validate(tiny_tables, fmt) == []
    columns = reference_con.execute("DESCRIBE clinical_events").fetchall()
    types = {name: dtype for name, dtype, *_ in columns}
    assert types == {"patient_id": "VARCHAR", "event_date": "DATE", "snomed_code": "VARCHAR", "value": "DOUBLE"}
    assert reference_con.execute("SELECT count(*) FROM patients").fetchall() == [(3,)]  # drained: no pending fetch


@pytest.mark.parametrize("fmt", FORMATS)
def test_extra_columns_are_ignored(validate, tiny_tables, reference_con, fmt):
    tiny_tables["patients"]["favourite_colour"] = ["red", "green", "blue"]
    assert validate(tiny_tables, fmt) == []
    columns = [r[0] for r in reference_con.execute("DESCRIBE patients").fetchall()]
    assert "favourite_colour" not in columns


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_table(validate, tiny_tables, fmt):
    del tiny_tables["medications"]
    assert checks(validate(tiny_tables, fmt)) == [("medications", None, "missing_table", 0)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_columns_are_each_named(validate, tiny_tables, fmt):
    tiny_tables["patients"] = tiny_tables["patients"].drop(columns=["sex", "death_date"])
    problems = validate(tiny_tables, fmt)
    assert checks(problems) == [
        ("patients", "death_date", "missing_column", 0),
        ("patients", "sex", "missing_column", 0),
    ]
    assert "columns found: patient_id, birth_date" in problems[0].examples[0]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("bad_date", ["2020-13-01", "01/02/2020", "yesterday", "2021-02-29"])
def test_unparsable_date(validate, tiny_tables, fmt, bad_date):
    tiny_tables["immunisations"] = with_value(tiny_tables["immunisations"], 1, "vaccination_date", bad_date)
    problems = validate(tiny_tables, fmt)
    assert checks(problems) == [("immunisations", "vaccination_date", "unparsable_date", 1)]
    assert problems[0].examples == (f"patient_id=P1, vaccination_date={bad_date}",)


@pytest.mark.parametrize("fmt", FORMATS)
def test_unparsable_and_infinite_numbers(validate, tiny_tables, fmt):
    tiny_tables["clinical_events"] = with_value(tiny_tables["clinical_events"], 1, "value", "high")
    tiny_tables["medications"] = with_value(tiny_tables["medications"], 0, "quantity", "inf")
    assert checks(validate(tiny_tables, fmt)) == [
        ("clinical_events", "value", "unparsable_double", 1),
        ("medications", "quantity", "unparsable_double", 1),
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_required_values_are_counted_per_column(validate, tiny_tables, fmt):
    tiny_tables["patients"] = with_value(tiny_tables["patients"], 0, "practice_code", None)
    tiny_tables["patients"] = with_value(tiny_tables["patients"], 2, "practice_code", None)
    tiny_tables["medications"] = with_value(tiny_tables["medications"], 0, "quantity", float("nan"))
    tiny_tables["clinical_events"] = with_value(tiny_tables["clinical_events"], 0, "event_date", None)
    problems = validate(tiny_tables, fmt)
    assert checks(problems) == [
        ("clinical_events", "event_date", "not_null", 1),
        ("medications", "quantity", "not_null", 1),
        ("patients", "practice_code", "not_null", 2),
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_codes_outside_their_vocabulary(validate, tiny_tables, fmt):
    tiny_tables["immunisations"] = with_value(tiny_tables["immunisations"], 0, "vaccine", "BCG")
    tiny_tables["patients"] = with_value(tiny_tables["patients"], 1, "sex", "X")
    tiny_tables["patients"] = with_value(tiny_tables["patients"], 2, "ethnicity", "I")  # no I in 16+1
    tiny_tables["cancer_registrations"] = with_value(tiny_tables["cancer_registrations"], 0, "stage", "5")
    problems = validate(tiny_tables, fmt)
    assert checks(problems) == [
        ("cancer_registrations", "stage", "vocabulary", 1),
        ("immunisations", "vaccine", "vocabulary", 1),
        ("patients", "ethnicity", "vocabulary", 1),
        ("patients", "sex", "vocabulary", 1),
    ]
    vaccine = next(p for p in problems if p.column == "vaccine")
    assert vaccine.examples == ("'BCG'",)


@pytest.mark.parametrize("fmt", FORMATS)
def test_practice_and_lsoa_must_be_in_the_reference_data(validate, tiny_tables, fmt):
    tiny_tables["patients"] = with_value(tiny_tables["patients"], 0, "practice_code", "A99999")  # well formed
    tiny_tables["patients"] = with_value(tiny_tables["patients"], 2, "lsoa21_code", "E01999999")
    problems = validate(tiny_tables, fmt)
    assert checks(problems) == [
        ("patients", "lsoa21_code", "unknown_code:ref_lsoa21", 1),
        ("patients", "practice_code", "unknown_code:ref_practices", 1),
    ]
    assert next(p for p in problems if p.column == "practice_code").examples == ("'A99999'",)


@pytest.mark.parametrize("fmt", FORMATS)
def test_badly_formed_codes_are_format_problems_not_also_unknown(validate, tiny_tables, fmt):
    tiny_tables["patients"] = with_value(tiny_tables["patients"], 0, "practice_code", "e83003")
    tiny_tables["clinical_events"] = with_value(tiny_tables["clinical_events"], 0, "snomed_code", "HYP1")
    tiny_tables["hospital_episodes"] = with_value(tiny_tables["hospital_episodes"], 0, "primary_diagnosis", "asthma")
    assert checks(validate(tiny_tables, fmt)) == [
        ("clinical_events", "snomed_code", "format:snomed", 1),
        ("hospital_episodes", "primary_diagnosis", "format:icd10", 1),
        ("patients", "practice_code", "format:ods_practice", 1),
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_orphan_patient_ids(validate, tiny_tables, fmt):
    tiny_tables["clinical_events"] = with_value(tiny_tables["clinical_events"], 1, "patient_id", "P404")
    problems = validate(tiny_tables, fmt)
    assert checks(problems) == [("clinical_events", "patient_id", "orphan_patient", 1)]
    assert problems[0].examples == ("patient_id=P404",)


@pytest.mark.parametrize("fmt", FORMATS)
def test_duplicate_keys(validate, tiny_tables, fmt):
    tiny_tables["patients"] = with_value(tiny_tables["patients"], 2, "patient_id", "P1")
    pathways = tiny_tables["cancer_pathways"]
    tiny_tables["cancer_pathways"] = pd.concat([pathways, pathways], ignore_index=True)
    problems = validate(tiny_tables, fmt)
    # P3's events now belong to nobody: reported too, each orphan row once.
    assert checks(problems) == [
        ("cancer_pathways", "pathway_id", "duplicate_key", 2),
        ("clinical_events", "patient_id", "orphan_patient", 1),
        ("hospital_episodes", "patient_id", "orphan_patient", 1),
        ("medications", "patient_id", "orphan_patient", 1),
        ("patients", "patient_id", "duplicate_key", 2),
    ]
    assert next(p for p in problems if p.table == "patients").examples == ("P1 (x2)",)


@pytest.mark.parametrize("fmt", FORMATS)
def test_dates_after_the_extract_date(validate, tiny_tables, fmt):
    tiny_tables["clinical_events"] = with_value(tiny_tables["clinical_events"], 0, "event_date", date(2026, 11, 1))
    tiny_tables["clinical_events"] = with_value(tiny_tables["clinical_events"], 1, "event_date", EXTRACT_DATE)
    problems = validate(tiny_tables, fmt)
    assert checks(problems) == [("clinical_events", "event_date", "after_extract_date", 1)]
    assert problems[0].examples == ("patient_id=P2, event_date=2026-11-01",)


@pytest.mark.parametrize("fmt", FORMATS)
def test_dates_before_birth(validate, tiny_tables, fmt):
    # P1 was born 2020-03-01: a dose that day is fine, the day before is not.
    tiny_tables["immunisations"] = with_value(tiny_tables["immunisations"], 0, "vaccination_date", date(2020, 2, 29))
    tiny_tables["immunisations"] = with_value(tiny_tables["immunisations"], 1, "vaccination_date", date(2020, 3, 1))
    tiny_tables["patients"] = with_value(tiny_tables["patients"], 2, "registration_start", date(1984, 12, 31))
    problems = validate(tiny_tables, fmt)
    assert checks(problems) == [
        ("immunisations", "vaccination_date", "before_birth", 1),
        ("patients", "registration_start", "before_birth", 1),
    ]
    jab = next(p for p in problems if p.table == "immunisations")
    assert jab.examples == ("patient_id=P1, birth_date=2020-03-01, vaccination_date=2020-02-29",)


@pytest.mark.parametrize("fmt", FORMATS)
def test_registration_end_before_start(validate, tiny_tables, fmt):
    tiny_tables["patients"] = with_value(tiny_tables["patients"], 1, "registration_end", date(2000, 12, 31))
    tiny_tables["patients"] = with_value(tiny_tables["patients"], 1, "death_date", None)
    assert checks(validate(tiny_tables, fmt)) == [("patients", "registration_end", "before_registration_start", 1)]
    tiny_tables["patients"] = with_value(tiny_tables["patients"], 1, "registration_end", date(2001, 1, 1))
    assert validate(tiny_tables, fmt) == []  # ending the day it starts is allowed


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_pathway_clock_that_stops_before_it_starts(validate, tiny_tables, fmt):
    """Told, decided or treated before the referral (or treated before the decision): the engine would count
    the negative wait as within the standard. The same day is allowed."""
    pathways = tiny_tables["cancer_pathways"]  # referred 1 Jan 2023; told 20 Jan, decided 1 Feb, treated 10 Feb
    pathways = with_value(pathways, 0, "diagnosis_told_date", date(2022, 12, 31))
    pathways = with_value(pathways, 0, "decision_to_treat_date", date(2023, 2, 11))
    tiny_tables["cancer_pathways"] = pathways
    assert checks(validate(tiny_tables, fmt)) == [
        ("cancer_pathways", "diagnosis_told_date", "before_referral_date", 1),
        ("cancer_pathways", "treatment_start_date", "before_decision_to_treat_date", 1),
    ]
    pathways = with_value(pathways, 0, "diagnosis_told_date", date(2023, 1, 1))
    tiny_tables["cancer_pathways"] = with_value(pathways, 0, "decision_to_treat_date", date(2023, 2, 10))
    assert validate(tiny_tables, fmt) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_hospital_stay_that_ends_before_it_starts(validate, tiny_tables, fmt):
    """P3 was admitted on 1 Mar 2025: discharged the day before is refused, the same day is a day case."""
    tiny_tables["hospital_episodes"] = with_value(
        tiny_tables["hospital_episodes"], 0, "discharge_date", date(2025, 2, 28)
    )
    problems = validate(tiny_tables, fmt)
    assert checks(problems) == [("hospital_episodes", "discharge_date", "before_admission_date", 1)]
    assert problems[0].examples == ("patient_id=P3, admission_date=2025-03-01, discharge_date=2025-02-28",)
    tiny_tables["hospital_episodes"] = with_value(
        tiny_tables["hospital_episodes"], 0, "discharge_date", date(2025, 3, 1)
    )
    assert validate(tiny_tables, fmt) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_problem_is_reported_not_just_the_first(validate, tiny_tables, fmt):
    del tiny_tables["cancer_registrations"]
    tiny_tables["patients"] = with_value(tiny_tables["patients"], 0, "sex", "Q")
    tiny_tables["immunisations"] = with_value(tiny_tables["immunisations"], 0, "vaccination_date", "soon")
    tiny_tables["medications"] = with_value(tiny_tables["medications"], 0, "patient_id", "P9")
    assert [p.check for p in validate(tiny_tables, fmt)] == [
        "missing_table",
        "unparsable_date",
        "vocabulary",
        "orphan_patient",
    ]


def test_missing_folder(reference_con, tmp_path):
    problems = load_and_validate(reference_con, tmp_path / "nowhere", EXTRACT_DATE)
    assert checks(problems) == [("(extract)", None, "missing_folder", 0)]


def test_empty_csv_file(validate, tiny_tables, make_extract, reference_con):
    folder = make_extract(tiny_tables, "csv")
    (folder / "medications.csv").write_text("")
    assert checks(load_and_validate(reference_con, folder, EXTRACT_DATE)) == [("medications", None, "empty_file", 0)]


def test_csv_with_a_semicolon_header_is_missing_its_columns(tiny_tables, make_extract, reference_con):
    folder = make_extract(tiny_tables, "csv")
    (folder / "medications.csv").write_text("patient_id;issue_date;dmd_code;bnf_code;quantity\nP3;2025-02-01;1;;1\n")
    problems = load_and_validate(reference_con, folder, EXTRACT_DATE)
    assert [(p.table, p.check) for p in problems] == [("medications", "missing_column")] * 5


def test_csv_with_a_short_row_is_unreadable_with_its_line(tiny_tables, make_extract, reference_con):
    folder = make_extract(tiny_tables, "csv")
    (folder / "medications.csv").write_text(
        "patient_id,issue_date,dmd_code,bnf_code,quantity\nP3,2025-02-01,39113611000001102,,1\nP3,2025-02-01\n"
    )
    problems = load_and_validate(reference_con, folder, EXTRACT_DATE)
    assert checks(problems) == [("medications", None, "unreadable", 0)]
    assert problems[0].examples == ("medications.csv, line 3: 2 values where the header names 5 columns",)


def test_corrupt_parquet_is_unreadable(tiny_tables, make_extract, reference_con):
    folder = make_extract(tiny_tables, "parquet")
    (folder / "medications.parquet").write_bytes(b"PAR1 this is not parquet")
    problems = load_and_validate(reference_con, folder, EXTRACT_DATE)
    assert checks(problems) == [("medications", None, "unreadable", 0)]
    # Named as the sender knows it, and the reason kept whole (it was cut at 80 characters).
    assert problems[0].examples == (
        "medications.parquet cannot be read as Parquet: Parquet magic bytes not found in footer. "
        "Either the file is corrupted or this is not a parquet file.",
    )


def test_a_table_in_two_formats_is_ambiguous(tiny_tables, make_extract, reference_con):
    folder = make_extract(tiny_tables, "parquet")
    tiny_tables["patients"].to_csv(folder / "patients.csv", index=False)
    assert checks(load_and_validate(reference_con, folder, EXTRACT_DATE)) == [("patients", None, "ambiguous_table", 0)]


# Spark writes patients.parquet/ as a folder of part files: it was reported as a missing table.
@pytest.mark.parametrize("folder_name", ["patients", "patients.parquet"])
def test_a_table_may_arrive_as_a_folder_of_parquet_chunks(tiny_tables, make_extract, reference_con, folder_name):
    folder = make_extract(tiny_tables, "parquet")
    (folder / "patients.parquet").unlink()
    (folder / folder_name).mkdir()
    for i, chunk in enumerate((tiny_tables["patients"].iloc[:2], tiny_tables["patients"].iloc[2:])):
        chunk.to_parquet(folder / folder_name / f"part-{i:05d}.snappy.parquet", index=False)
    assert load_and_validate(reference_con, folder, EXTRACT_DATE) == []
    assert reference_con.execute("SELECT count(*) FROM patients").fetchall() == [(3,)]  # drained: no pending fetch


def test_codes_stored_as_numbers_in_parquet_are_read_as_text(validate, tiny_tables, reference_con):
    tiny_tables["clinical_events"]["snomed_code"] = [38341003, 271649006]
    assert validate(tiny_tables, "parquet") == []
    assert reference_con.execute("SELECT list(snomed_code ORDER BY snomed_code) FROM clinical_events").fetchone() == (
        ["271649006", "38341003"],
    )


def test_error_message_lists_every_problem_readably():
    error = ExtractValidationError(
        [
            Problem("immunisations", "vaccine", "vocabulary", 12, ("'BCG'", "'Flu'")),
            Problem("medications", None, "missing_table", 0, ("no medications.parquet",)),
        ]
    )
    assert str(error).splitlines() == [
        "The extract failed validation with 2 problem(s):",
        "  - immunisations.vaccine [vocabulary]: 12 rows (e.g. 'BCG'; 'Flu')",
        "  - medications [missing_table] (e.g. no medications.parquet)",
    ]
    assert len(error.problems) == 2


# ----------------------------------------------------------------------------- from a review of messy extracts


def test_london_midnight_timestamps_load_as_their_london_day(validate, tiny_tables, reference_con):
    """pandas and Spark write dates as zoned timestamps: read in UTC, a summer date was a day early."""
    patients = tiny_tables["patients"].copy()
    patients["birth_date"] = pd.to_datetime(patients["birth_date"]).dt.tz_localize("Europe/London")
    tiny_tables["patients"] = patients
    assert validate(tiny_tables, "parquet") == []
    loaded = reference_con.execute("SELECT list(birth_date ORDER BY patient_id) FROM patients").fetchone()[0]
    assert loaded == [date(2020, 3, 1), date(1950, 6, 15), date(1985, 1, 1)]  # 15 Jun 1950: summer time


def test_infinity_in_a_parquet_number_column_is_reported_not_loaded_as_missing(validate, tiny_tables):
    events = tiny_tables["clinical_events"].copy()
    events["value"] = events["value"].astype(float)
    events.loc[0, "value"] = float("inf")
    tiny_tables["clinical_events"] = events
    assert checks(validate(tiny_tables, "parquet")) == [("clinical_events", "value", "unparsable_double", 1)]


def test_a_huge_bad_value_is_shown_cut_short():
    problem = Problem("patients", "sex", "vocabulary", 1, ("'" + "x" * 2_000_000 + "'",))
    text = str(problem)
    assert len(text) < 200 and "(2,000,002 characters)" in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_ids_are_missing_values_not_a_shared_key(validate, tiny_tables, fmt):
    patients = with_value(tiny_tables["patients"], 1, "patient_id", None)
    tiny_tables["patients"] = with_value(patients, 2, "patient_id", None)
    found = {(p.table, p.column, p.check) for p in validate(tiny_tables, fmt)}
    assert ("patients", "patient_id", "not_null") in found
    assert ("patients", "patient_id", "duplicate_key") not in found


# ----------------------------------------------------------------------------- contract gaps, from a loader review


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("blank", ["", "  ", "\t"])
def test_blank_ids_are_refused_once_each(validate, tiny_tables, fmt, blank):
    """An empty or whitespace-only id pseudonymises nobody, yet joined and counted like one. Each blank is
    reported once: not also as two patients sharing a key, nor as events of an unknown patient."""
    patients = pd.concat([tiny_tables["patients"], tiny_tables["patients"].iloc[[2]]], ignore_index=True)
    patients = with_value(patients, 2, "patient_id", blank)
    tiny_tables["patients"] = with_value(patients, 3, "patient_id", blank)  # P3 and a copy of P3
    for table in ("medications", "hospital_episodes"):  # P3's rows; the others are P1's and P2's
        tiny_tables[table] = with_value(tiny_tables[table], 0, "patient_id", blank)
    tiny_tables["clinical_events"] = with_value(tiny_tables["clinical_events"], 1, "patient_id", blank)
    tiny_tables["cancer_pathways"] = with_value(tiny_tables["cancer_pathways"], 0, "pathway_id", blank)
    # CSV has no empty text: an empty field is a missing value.
    check = "not_null" if fmt == "csv" and blank == "" else "blank"
    problems = validate(tiny_tables, fmt)
    assert checks(problems) == [
        ("cancer_pathways", "pathway_id", check, 1),
        ("clinical_events", "patient_id", check, 1),
        ("hospital_episodes", "patient_id", check, 1),
        ("medications", "patient_id", check, 1),
        ("patients", "patient_id", check, 2),
    ]
    if check == "blank":  # quoted, so that the example shows what is there
        assert next(p for p in problems if p.table == "medications").examples == (f"patient_id={blank!r}",)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_event_with_no_patient_id_is_a_missing_value_not_also_an_orphan(validate, tiny_tables, fmt):
    tiny_tables["clinical_events"] = with_value(tiny_tables["clinical_events"], 0, "patient_id", None)
    assert checks(validate(tiny_tables, fmt)) == [("clinical_events", "patient_id", "not_null", 1)]


def test_an_id_with_spaces_around_it_is_shown_quoted(validate, tiny_tables):
    """'P3 ' is not P3: the example shows the space that makes the row an orphan."""
    tiny_tables["medications"] = with_value(tiny_tables["medications"], 0, "patient_id", "P3 ")
    problems = validate(tiny_tables, "csv")
    assert checks(problems) == [("medications", "patient_id", "orphan_patient", 1)]
    assert problems[0].examples == ("patient_id='P3 '",)


MEDICATIONS_HEADER = b"patient_id,issue_date,dmd_code,bnf_code,quantity,note\n"
MEDICATIONS_ROW = b"P3,2025-02-01,39113611000001102,,1,ok\n"


def write_medications_csv(folder, lines: bytes, part: str | None = None):
    """Replace the extract's medications with the CSV bytes ``lines`` (as part file ``part`` if given)."""
    (folder / "medications.csv").unlink()
    if part is None:
        (folder / "medications.csv").write_bytes(lines)
    else:
        (folder / "medications").mkdir()
        (folder / "medications" / part).write_bytes(lines)


# Read as text, the header's 8 KB buffer was decoded at once: a bad byte in the first rows was refused with
# "can't decode byte 0xe9 in position 130", further down it was never looked at.
@pytest.mark.parametrize("line", [3, 400])
def test_a_byte_that_is_not_utf8_in_a_column_the_contract_ignores_is_ignored_wherever_it_is(
    tiny_tables, make_extract, reference_con, line
):
    folder = make_extract(tiny_tables, "csv")
    rows = [MEDICATIONS_ROW] * 500
    rows[line - 2] = b"P3,2025-02-01,39113611000001102,,1,caf\xe9\n"  # Latin-1 in the note column
    write_medications_csv(folder, MEDICATIONS_HEADER + b"".join(rows))
    assert load_and_validate(reference_con, folder, EXTRACT_DATE) == []


@pytest.mark.parametrize("line", [3, 400])
def test_a_byte_that_is_not_utf8_in_a_contract_column_is_named_by_file_and_line(
    tiny_tables, make_extract, reference_con, line
):
    folder = make_extract(tiny_tables, "csv")
    rows = [MEDICATIONS_ROW] * 500
    rows[line - 2] = b"P3,2025-02-01,39113611000001102,caf\xe9,1,x\n"  # Latin-1 in bnf_code
    write_medications_csv(folder, MEDICATIONS_HEADER + b"".join(rows), part="part-00001.csv")
    problems = load_and_validate(reference_con, folder, EXTRACT_DATE)
    assert checks(problems) == [("medications", None, "unreadable", 0)]
    assert problems[0].examples == (f"medications/part-00001.csv, line {line}: not UTF-8 text; save the file as UTF-8",)


def test_a_header_that_is_not_utf8_is_named_by_file_and_line(tiny_tables, make_extract, reference_con):
    folder = make_extract(tiny_tables, "csv")
    write_medications_csv(folder, MEDICATIONS_HEADER.replace(b"note", b"n\xf6te") + MEDICATIONS_ROW)
    problems = load_and_validate(reference_con, folder, EXTRACT_DATE)
    assert problems[0].examples == (
        "medications.csv, line 1 (the header): byte 0xF6 is not UTF-8 text; save the file as UTF-8",
    )


def test_a_utf16_csv_is_named_as_such(tiny_tables, make_extract, reference_con):
    folder = make_extract(tiny_tables, "csv")
    write_medications_csv(folder, (MEDICATIONS_HEADER + MEDICATIONS_ROW).decode().encode("utf-16"))
    problems = load_and_validate(reference_con, folder, EXTRACT_DATE)
    assert problems[0].examples == ("medications.csv is UTF-16 text; save it as UTF-8",)


def test_an_unclosed_quote_is_named_by_file_and_line(tiny_tables, make_extract, reference_con):
    folder = make_extract(tiny_tables, "csv")
    write_medications_csv(folder, MEDICATIONS_HEADER + b'P3,2025-02-01,39113611000001102,,1,"ab\n' + MEDICATIONS_ROW)
    problems = load_and_validate(reference_con, folder, EXTRACT_DATE)
    assert problems[0].examples == ('medications.csv, line 2: a quoted value (") that is never closed',)


def test_a_bom_and_windows_line_ends_are_read_as_the_same_table(tiny_tables, make_extract, reference_con):
    folder = make_extract(tiny_tables, "csv")
    write_medications_csv(folder, (b"\xef\xbb\xbf" + MEDICATIONS_HEADER + MEDICATIONS_ROW).replace(b"\n", b"\r\n"))
    assert load_and_validate(reference_con, folder, EXTRACT_DATE) == []
    assert reference_con.execute("SELECT patient_id, quantity FROM medications").fetchall() == [("P3", 1.0)]


# 'sex' and 'SEX' gave DuckDB's "Binder Error: Duplicate named argument" from a CSV; from Parquet, DuckDB
# renamed the second to SEX_1 and loaded the first without a word.
@pytest.mark.parametrize("fmt", FORMATS)
def test_two_columns_that_differ_only_in_case_are_refused_naming_both(validate, tiny_tables, fmt):
    tiny_tables["patients"]["SEX"] = ["M", "F", "U"]
    problems = validate(tiny_tables, fmt)
    assert checks(problems) == [("patients", "sex", "duplicate_column_names", 0)]
    assert problems[0].examples == (f"patients.{fmt} has 'sex' and 'SEX'",)


def test_a_contract_column_named_in_capitals_is_read(validate, tiny_tables, reference_con):
    tiny_tables["patients"] = tiny_tables["patients"].rename(columns={"sex": "SEX"})
    assert validate(tiny_tables, "csv") == []
    assert reference_con.execute("SELECT list(sex ORDER BY patient_id) FROM patients").fetchall() == [
        (["F", "M", "U"],)
    ]


def test_extra_csv_columns_with_no_name_or_clashing_names_are_ignored(tiny_tables, make_extract, reference_con):
    """A trailing comma on every line (an unnamed last column) and 'note' beside 'NOTE': DuckDB refused both,
    "Positional argument ''VARCHAR'' cannot follow named arguments"; the contract ignores extra columns."""
    folder = make_extract(tiny_tables, "csv")
    write_medications_csv(folder, b"patient_id,note,issue_date,dmd_code,bnf_code,NOTE,quantity,\n"
                                  b"P3,a,2025-02-01,39113611000001102,,b,1,\n")  # fmt: skip
    assert load_and_validate(reference_con, folder, EXTRACT_DATE) == []
    assert reference_con.execute("SELECT patient_id, quantity FROM medications").fetchall() == [("P3", 1.0)]


def test_a_column_name_with_spaces_around_it_is_shown_quoted(tiny_tables, make_extract, reference_con):
    folder = make_extract(tiny_tables, "csv")
    write_medications_csv(folder, MEDICATIONS_HEADER.replace(b",issue_date", b", issue_date") + MEDICATIONS_ROW)
    problems = load_and_validate(reference_con, folder, EXTRACT_DATE)
    assert checks(problems) == [("medications", "issue_date", "missing_column", 0)]
    assert problems[0].examples == ("columns found: patient_id, ' issue_date', dmd_code, bnf_code, quantity, note",)


def test_a_part_file_without_a_contract_column_is_refused_not_read_as_missing_values(
    tiny_tables, make_extract, reference_con
):
    """Parquet parts are brought together by name: a part without death_date loaded its patients as alive."""
    folder = make_extract(tiny_tables, "parquet")
    (folder / "patients.parquet").unlink()
    (folder / "patients").mkdir()
    tiny_tables["patients"].iloc[:2].to_parquet(folder / "patients" / "part-0.parquet", index=False)
    later = tiny_tables["patients"].iloc[2:].drop(columns=["death_date"])
    later.to_parquet(folder / "patients" / "part-1.parquet", index=False)
    problems = load_and_validate(reference_con, folder, EXTRACT_DATE)
    assert checks(problems) == [("patients", "death_date", "missing_column", 0)]
    assert problems[0].examples == ("not in patients/part-1.parquet (1 of 2 files)",)


def test_csv_parts_whose_headers_differ_name_the_part(tiny_tables, make_extract, reference_con):
    folder = make_extract(tiny_tables, "csv")
    write_medications_csv(folder, MEDICATIONS_HEADER + MEDICATIONS_ROW, part="part-0.csv")
    (folder / "medications" / "part-1.csv").write_bytes(
        MEDICATIONS_HEADER.replace(b",note", b"") + b"P3,2025-02-01,1,,1\n"
    )
    problems = load_and_validate(reference_con, folder, EXTRACT_DATE)
    assert checks(problems) == [("medications", None, "inconsistent_headers", 0)]
    assert problems[0].examples == ("the header of medications/part-1.csv differs from that of medications/part-0.csv",)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_patient_older_than_anyone_has_lived_is_refused(validate, tiny_tables, fmt):
    """A placeholder birth date (1900-01-01) made a 126-year-old. Age is taken at the last date the extract
    knows the patient: death (P2 died 1 May 2024), leaving, or else the extract date (P3)."""
    patients = with_value(tiny_tables["patients"], 1, "birth_date", date(1904, 5, 1))  # 120 on the day he died
    tiny_tables["patients"] = with_value(patients, 2, "birth_date", date(1906, 10, 30))  # 120 and a day
    problems = validate(tiny_tables, fmt)
    assert checks(problems) == [("patients", "birth_date", "over_120_years_old", 1)]
    assert problems[0].examples == ("patient_id=P3, birth_date=1906-10-30",)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_negative_quantity_is_refused(validate, tiny_tables, fmt):
    """Summed into a patient's inhalers in the year, -2 took two away; none (0) is allowed."""
    tiny_tables["medications"] = with_value(tiny_tables["medications"], 0, "quantity", -2.0)
    problems = validate(tiny_tables, fmt)
    assert checks(problems) == [("medications", "quantity", "negative", 1)]
    assert problems[0].examples == ("patient_id=P3, quantity=-2.0",)
    tiny_tables["medications"] = with_value(tiny_tables["medications"], 0, "quantity", 0.0)
    assert validate(tiny_tables, fmt) == []


def test_hidden_files_among_part_files_are_not_read_as_data(tiny_tables, make_extract, reference_con):
    """A Mac copying to a shared or FAT drive leaves '._part-0.parquet' beside each part (an AppleDouble shadow,
    not Parquet): the table was refused as unreadable. Names starting '.' or '_' are not data, as in Spark."""
    folder = make_extract(tiny_tables, "parquet")
    (folder / "patients.parquet").unlink()
    (folder / "patients").mkdir()
    tiny_tables["patients"].to_parquet(folder / "patients" / "part-0.parquet", index=False)
    (folder / "patients" / "._part-0.parquet").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (folder / "patients" / "_temporary.parquet").write_bytes(b"")
    assert load_and_validate(reference_con, folder, EXTRACT_DATE) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_part_file_copied_twice_is_refused(tiny_tables, make_extract, reference_con, fmt):
    """'part-1 (1).parquet' beside 'part-1.parquet' (a copy made by hand, or a download run twice) loaded every
    row twice: event tables have no key, so P3's inhaler counted as two."""
    folder = make_extract(tiny_tables, fmt)
    (folder / f"medications.{fmt}").rename(folder / "part-1")
    (folder / "medications").mkdir()
    (folder / "part-1").rename(folder / "medications" / f"part-1.{fmt}")
    copy = folder / "medications" / f"part-1 (1).{fmt}"
    copy.write_bytes((folder / "medications" / f"part-1.{fmt}").read_bytes())
    problems = load_and_validate(reference_con, folder, EXTRACT_DATE)
    assert checks(problems) == [("medications", None, "copied_file", 0)]
    assert problems[0].examples == (f"medications/part-1 (1).{fmt} and medications/part-1.{fmt} are the same file",)
