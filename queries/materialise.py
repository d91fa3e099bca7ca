"""Build-time derivation of every indicator: per-unit facts, then small aggregate cubes.

``materialise(con, extract_date)`` is called by ``data.build`` once the contract
tables, reference tables, ``meta`` and ``patient_dim`` exist. It writes:

- ``ind_period(period_id, period_type, start_date, end_date, label)``: every
  complete period (end on or before the extract date) the indicators use;
- ``ind_patient(indicator_id, period_id, patient_id, unit_id, numerator, denominator)``:
  one row per patient (or pathway / tumour) in each denominator, for indicators
  whose denominator is not the whole registered list (``Indicator.patient_level``);
- ``ind_cube_practice``: counts by indicator, period, practice (with its PCN,
  borough and ICB), national and London IMD quintile, ethnic group, sex, age band;
- ``ind_cube_lsoa``: counts by indicator, period, residence LSOA (with its IMD
  deciles and quintiles), practice borough and ICB, ethnic group, sex, age band;
- ``ind_registry``: the registry as a table, for anyone reading the file directly;
- and, through the modules that read them, ``ind_uptake_age``, ``asthma_admission_history``,
  ``asthma_saba_list`` (the asthma page's patient list), ``overview_registered`` and
  ``child_contact_days`` (the cohort finder's list on an earlier date).

All rule logic is here, one SQL block per family; the API in
:mod:`queries.indicators` only sums the cubes. Constants (codes, dates,
thresholds) are bound parameters or come from small tables loaded from
``data/codelists``; nothing user-supplied is ever formatted into SQL.

Conventions shared by every rule (documented in the registry):
- registered on day d: ``registration_start <= d`` and (``registration_end`` is
  null or after d); alive on day d: ``death_date`` null or after d. A denominator
  counts patients registered and alive on the period's last day (QOF achievement
  date, COVER responsible population at the end of the quarter).
- age on day d: completed years, with ``birth_date + N years`` as the Nth birthday
  (so 29 Feb birthdays fall on 28 Feb in common years, as DuckDB date arithmetic does).
- "in the 12 months to the period end": from ``end - 12 months + 1 day`` to ``end``
  inclusive, which for a financial year is the year itself.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import duckdb
import pandas as pd

from data import codelists
from data.schema import EMERGENCY_ADMISSION_METHODS, SEX_CODES
from queries.registry import INDICATORS

INDICATOR_IDS = tuple(indicator.id for indicator in INDICATORS)

LONDON_CODE = "E12000007"

# How many complete periods of each type to derive (bounded so the cube stays small).
PERIODS_KEPT = {"month": 24, "quarter": 12, "fy": 4, "r12": 9}

# The 2022 London polio booster: JCVI advice date and the end of the window we count.
POLIO_CAMPAIGN_START = dt.date(2022, 8, 10)
POLIO_CAMPAIGN_END = dt.date(2023, 3, 31)

# Schedule change: children born on or after this date get no Hib/MenC [IMM-ANNEXA].
NEW_SCHEDULE_BORN_FROM = dt.date(2024, 7, 1)
# AST012 (QOF v50) applies to first diagnoses on or after this date [PCIT-AST012].
AST012_DIAGNOSED_FROM = dt.date(2025, 4, 1)

# Age bands used by every cube (QOF, CVDPREVENT and COVER boundaries all fall on a band edge).
AGE_BANDS = (
    (0, 4, "0-4"),
    (5, 17, "5-17"),
    (18, 29, "18-29"),
    (30, 39, "30-39"),
    (40, 49, "40-49"),
    (50, 59, "50-59"),
    (60, 69, "60-69"),
    (70, 79, "70-79"),
    (80, 200, "80+"),
)

# Expected hypertension prevalence (diagnosed + undiagnosed) by age and sex, for the detection ratio:
# the recorded prevalence of the age band divided by the diagnosed share of hypertensive adults of that
# age and sex, capped at 0.9. Adults 18+ only.
# Recorded prevalence by age band (both sexes), OpenSAFELY-TPP 2021/22 [OS-OPENHEART]; lower age bound -> rate.
RECORDED_HYPERTENSION_BY_AGE = (
    (18, 0.004),
    (30, 0.017),
    (40, 0.068),
    (50, 0.178),
    (60, 0.320),
    (70, 0.485),
    (80, 0.628),
)
# Diagnosed share of hypertensive adults, HSE 2015-19 [ONS-UNDIAG]: 29 % undiagnosed overall, and by sex
# where ONS publishes it (undiagnosed men 66 / 55 / 17 %, women 26 / 44 / 21 % at 16-24, 25-34 and 75+).
# Lower age bound -> (women, men); sex unknown (U) takes the overall share at every age.
DIAGNOSED_SHARE_OVERALL = 0.71
DIAGNOSED_SHARE_BY_AGE = (
    (16, (0.74, 0.34)),
    (25, (0.56, 0.45)),
    (35, (DIAGNOSED_SHARE_OVERALL, DIAGNOSED_SHARE_OVERALL)),
    (75, (0.79, 0.83)),
)
_EXPECTED_RATE_CAP = 0.9
# Each rate is kept to a whole number of 2**-20ths (a change under 1e-6). A sum of such numbers is exact in
# a double while it stays under 2**33 (8.6 bn expected patients), so an expected count comes out the same
# whatever order DuckDB's threads add it in: with rates like 0.017/0.71 the by-LSOA denominators differed in
# their last bits from one call to the next.
_EXPECTED_RATE_STEP = 2.0**-20


def _in_steps(rate: float) -> float:
    """``rate`` rounded to a whole number of :data:`_EXPECTED_RATE_STEP` (why: see there)."""
    return round(rate / _EXPECTED_RATE_STEP) * _EXPECTED_RATE_STEP


def _expected_hypertension_rates() -> tuple[tuple[int, str, float], ...]:
    """(lower age bound, sex, expected rate) rows, a band starting wherever either source starts one."""
    first_adult_age = RECORDED_HYPERTENSION_BY_AGE[0][0]
    starts = sorted({age for age, _ in RECORDED_HYPERTENSION_BY_AGE} | {age for age, _ in DIAGNOSED_SHARE_BY_AGE})

    def band(table: tuple, age: int):
        return next(value for start, value in reversed(table) if start <= age)

    rows = []
    for age in (start for start in starts if start >= first_adult_age):
        women, men = band(DIAGNOSED_SHARE_BY_AGE, age)
        shares = {"F": women, "M": men, "U": DIAGNOSED_SHARE_OVERALL}
        rows += [
            (age, sex, _in_steps(min(band(RECORDED_HYPERTENSION_BY_AGE, age) / shares[sex], _EXPECTED_RATE_CAP)))
            for sex in SEX_CODES
        ]
    return tuple(rows)


EXPECTED_HYPERTENSION_RATE = _expected_hypertension_rates()


class CoverMeasure(NamedTuple):
    """One COVER-style dose rule. Two rules with one indicator id = the rule by birth cohort.

    A child of the cohort (the ``age_months`` birthday in the period, born in [``born_from``, ``born_before``))
    counts when, before that birthday, it had ``min_doses`` distinct dates of ``vaccines`` on or after the
    ``valid_from_months`` month-birthday and, when ``course_doses`` is set, that many distinct dates of them at
    any age: the 18-month 6-in-1 is the 4th dose of the course, so a late 3rd primary dose is not it.
    """

    indicator_id: str
    age_months: int
    vaccines: tuple[str, ...]
    min_doses: int
    valid_from_months: int
    born_from: dt.date
    born_before: dt.date
    course_doses: int = 0


_FAR_PAST, _FAR_FUTURE = dt.date(1900, 1, 1), dt.date(2999, 1, 1)
COVER_MEASURES = (
    CoverMeasure("cover_12m_6in1", 12, ("6in1",), 3, 0, _FAR_PAST, _FAR_FUTURE),
    CoverMeasure("cover_12m_pcv", 12, ("PCV",), 1, 0, _FAR_PAST, _FAR_FUTURE),
    CoverMeasure("cover_12m_menb", 12, ("MenB",), 2, 0, _FAR_PAST, _FAR_FUTURE),
    CoverMeasure("cover_12m_rota", 12, ("Rotavirus",), 2, 0, _FAR_PAST, _FAR_FUTURE),
    CoverMeasure("cover_24m_6in1", 24, ("6in1",), 3, 0, _FAR_PAST, _FAR_FUTURE),
    CoverMeasure("cover_24m_mmr1", 24, ("MMR", "MMRV"), 1, 12, _FAR_PAST, _FAR_FUTURE),
    CoverMeasure("cover_24m_pcv_booster", 24, ("PCV",), 1, 12, _FAR_PAST, _FAR_FUTURE),
    CoverMeasure("cover_24m_menb_booster", 24, ("MenB",), 1, 12, _FAR_PAST, _FAR_FUTURE),
    # Born from 1 Jul 2024 (no Hib/MenC), the Hib booster is the 18-month 6-in-1: a dose from the 1st birthday
    # that is the course's 4th, so a late 3rd primary dose is not it (spec §1.1, "Changes from 1 January 2026").
    CoverMeasure("cover_24m_hibmenc", 24, ("HibMenC",), 1, 12, _FAR_PAST, NEW_SCHEDULE_BORN_FROM),
    CoverMeasure("cover_24m_hibmenc", 24, ("6in1",), 1, 12, NEW_SCHEDULE_BORN_FROM, _FAR_FUTURE, course_doses=4),
    CoverMeasure("cover_5y_6in1", 60, ("6in1",), 3, 0, _FAR_PAST, _FAR_FUTURE),
    CoverMeasure("cover_5y_mmr1", 60, ("MMR", "MMRV"), 1, 12, _FAR_PAST, _FAR_FUTURE),
    CoverMeasure("cover_5y_mmr2", 60, ("MMR", "MMRV"), 2, 12, _FAR_PAST, _FAR_FUTURE),
    # The Hib/MenC booster at 5 years follows the 24-month rule by birth cohort: children born from 1 Jul 2024
    # (first 5 in Jul 2029) have the 18-month 6-in-1 dose in its place.
    CoverMeasure("cover_5y_hibmenc", 60, ("HibMenC",), 1, 12, _FAR_PAST, NEW_SCHEDULE_BORN_FROM),
    CoverMeasure("cover_5y_hibmenc", 60, ("6in1",), 1, 12, NEW_SCHEDULE_BORN_FROM, _FAR_FUTURE, course_doses=4),
    # The pre-school booster is due at 3 y 4 m: a 4-in-1 before the 3rd birthday (a catch-up primary dose) is not it.
    CoverMeasure("cover_5y_4in1", 60, ("4in1",), 1, 36, _FAR_PAST, _FAR_FUTURE),
    CoverMeasure("mmr1_on_time", 18, ("MMR", "MMRV"), 1, 12, _FAR_PAST, _FAR_FUTURE),
    # QOF VI001 counts diphtheria/tetanus/pertussis-containing doses: the 6-in-1 and the 4-in-1 (dTaP/IPV).
    CoverMeasure("6in1_on_time", 8, ("6in1", "4in1"), 3, 0, _FAR_PAST, _FAR_FUTURE),
)
_COVER_MEASURE_COLUMNS = (
    "indicator_id VARCHAR, age_months INTEGER, vaccines VARCHAR[], min_doses INTEGER, valid_from_months INTEGER, "
    "born_from DATE, born_before DATE, course_doses INTEGER"
)


def _cover_measure_rows() -> list[tuple]:
    """:data:`COVER_MEASURES` as rows of a ``_COVER_MEASURE_COLUMNS`` table (the vaccines as a list)."""
    return [(*measure[:2], list(measure.vaccines), *measure[3:]) for measure in COVER_MEASURES]


def dose_read_from_sql(birth: str, rule: str) -> str:
    """SQL: the earliest dose date a rule reads: birth when it counts the whole course, else its valid-from age.

    Reading infant doses only for the rules that need them keeps the cohort-by-dose join small.
    """
    return f"{birth} + to_months(CASE WHEN {rule}.course_doses > 0 THEN 0 ELSE {rule}.valid_from_months END)"


def cover_completion_sql(valid_dates: str, course_dates: str, rule: str) -> str:
    """SQL: the date a child met a COVER rule (NULL if it has not), from sorted lists of distinct dose dates.

    ``valid_dates`` holds the doses from the rule's valid-from age, ``course_dates`` every dose the rule read
    (both before the cohort birthday); ``rule`` is the alias with ``min_doses`` and ``course_doses``. The
    valid dates are among the course's, so without a course rule ``course[1]`` never moves the date.
    """
    return (
        f"CASE WHEN len({valid_dates}) >= {rule}.min_doses AND len({course_dates}) >= {rule}.course_doses "
        f"THEN greatest({valid_dates}[{rule}.min_doses], {course_dates}[greatest({rule}.course_doses, 1)]) END"
    )


_CODELISTS_USED = (
    "hyp_cod",
    "hypres_cod",
    "systolic_bp_clinic",
    "diastolic_bp_clinic",
    "systolic_bp_home",
    "diastolic_bp_home",
    "ast_cod",
    "astres_cod",
    "rev_cod",
    "writpastp_cod",
    "asthma_objective_test",
    "saba",
    "ics",
    "asthma_admission",
)

OUTPUT_TABLES = (
    "ind_period",
    "ind_slice",
    "ind_patient",
    "ind_cube_practice",
    "ind_cube_lsoa",
    "ind_cube_area",
    "ind_cube_borough",
    "ind_cube_practice_equity",
    "ind_registry",
)


def _age(birth: str, day: str) -> str:
    """SQL for completed years between two date expressions (fixed column names only, never user input)."""
    return (
        f"(date_diff('year', {birth}, {day}) - "
        f"CASE WHEN {birth} + to_years(CAST(date_diff('year', {birth}, {day}) AS INTEGER)) > {day} THEN 1 ELSE 0 END)"
    )


def _registered_alive(alias: str, day: str) -> str:
    return (
        f"{alias}.registration_start <= {day} "
        f"AND ({alias}.registration_end IS NULL OR {alias}.registration_end > {day}) "
        f"AND ({alias}.death_date IS NULL OR {alias}.death_date > {day}) "
        f"AND {alias}.birth_date <= {day}"
    )


def _financial_year_start(day: dt.date) -> dt.date:
    return dt.date(day.year if day.month >= 4 else day.year - 1, 4, 1)


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.year * 12 + day.month - 1 + months
    return dt.date(month_index // 12, month_index % 12 + 1, 1)


def _twelve_months_before(day: dt.date) -> dt.date:
    """The same day a year earlier (28 Feb for 29 Feb), as DuckDB's ``day - INTERVAL 12 MONTH``."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def build_periods(extract_date: dt.date) -> pd.DataFrame:
    """Every complete period used by an indicator, newest first within each type.

    A period is complete when its last day is on or before the extract date.
    """
    rows: list[tuple[str, str, dt.date, dt.date, str]] = []
    day = dt.timedelta(days=1)
    # Months: the month containing the extract date counts only if the extract date is its last day.
    first_of_next = _add_months(extract_date.replace(day=1), 1)
    month_end = extract_date if first_of_next - day == extract_date else extract_date.replace(day=1) - day
    for _ in range(PERIODS_KEPT["month"]):
        start = month_end.replace(day=1)
        rows.append((f"{start:%Y-%m}", "month", start, month_end, f"{start:%b %Y}"))
        month_end = start - day
    # Financial-year quarters (Q1 = April to June).
    quarter_start = _add_months(extract_date.replace(day=1), -((extract_date.month - 4) % 3))
    quarter_end = _add_months(quarter_start, 3) - day
    if quarter_end > extract_date:
        quarter_start = _add_months(quarter_start, -3)
    for _ in range(PERIODS_KEPT["quarter"]):
        end = _add_months(quarter_start, 3) - day
        fy = _financial_year_start(quarter_start).year
        number = (quarter_start.month - 4) % 12 // 3 + 1
        label = f"{fy}-{(fy + 1) % 100:02d} Q{number}"
        rows.append((label, "quarter", quarter_start, end, label))
        quarter_start = _add_months(quarter_start, -3)
    # Financial years.
    fy_start = _financial_year_start(extract_date)
    if dt.date(fy_start.year + 1, 3, 31) > extract_date:
        fy_start = dt.date(fy_start.year - 1, 4, 1)
    for _ in range(PERIODS_KEPT["fy"]):
        label = f"{fy_start.year}-{(fy_start.year + 1) % 100:02d}"
        rows.append((label, "fy", fy_start, dt.date(fy_start.year + 1, 3, 31), label))
        fy_start = dt.date(fy_start.year - 1, 4, 1)
    # Rolling 12 months: to the extract date, then to each earlier quarter end (31 Mar, 30 Jun, ...).
    ends = [extract_date]
    month_start = extract_date.replace(day=1)
    while len(ends) < PERIODS_KEPT["r12"]:
        month_end = _add_months(month_start, 1) - day
        if month_end.month % 3 == 0 and month_end < extract_date:
            ends.append(month_end)
        month_start = _add_months(month_start, -1)
    for end in ends:
        rows.append(
            (f"R12 to {end.isoformat()}", "r12", _twelve_months_before(end) + day, end, f"12 months to {end:%d %b %Y}")
        )
    if extract_date >= POLIO_CAMPAIGN_END:
        rows.append(("polio-2022", "campaign", POLIO_CAMPAIGN_START, POLIO_CAMPAIGN_END, "Polio booster 2022-23"))
    return pd.DataFrame(rows, columns=["period_id", "period_type", "start_date", "end_date", "label"])


def _load_small_tables(con: duckdb.DuckDBPyConnection, extract_date: dt.date) -> None:
    """Periods, codelists, COVER measures and expected rates as tables the rule SQL joins to."""
    periods = build_periods(extract_date)
    con.execute("DROP TABLE IF EXISTS ind_period")
    con.execute(
        "CREATE TABLE ind_period (period_id VARCHAR PRIMARY KEY, period_type VARCHAR, start_date DATE, "
        "end_date DATE, label VARCHAR)"
    )
    con.executemany("INSERT INTO ind_period VALUES (?, ?, ?, ?, ?)", periods.itertuples(index=False, name=None))

    con.execute("CREATE OR REPLACE TEMP TABLE _code (codelist VARCHAR, code VARCHAR)")
    code_rows = [(name, code) for name in _CODELISTS_USED for code in codelists.codes(name)]
    con.executemany("INSERT INTO _code VALUES (?, ?)", code_rows)
    # Admission diagnoses are matched on the ICD-10 category (first three characters, dot ignored).
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _asthma_icd AS SELECT DISTINCT left(replace(code, '.', ''), 3) AS category "
        "FROM _code WHERE codelist = 'asthma_admission'"
    )
    con.execute("CREATE OR REPLACE TEMP TABLE _emergency_method (method VARCHAR)")
    con.executemany("INSERT INTO _emergency_method VALUES (?)", [(m,) for m in EMERGENCY_ADMISSION_METHODS])

    con.execute(f"CREATE OR REPLACE TEMP TABLE _cover_measure ({_COVER_MEASURE_COLUMNS})")
    con.executemany("INSERT INTO _cover_measure VALUES (?, ?, ?, ?, ?, ?, ?, ?)", _cover_measure_rows())
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _expected_rate (age_from INTEGER, age_to INTEGER, sex VARCHAR, rate DOUBLE)"
    )
    starts = sorted({age for age, _sex, _rate in EXPECTED_HYPERTENSION_RATE})
    age_to = {age: upper - 1 for age, upper in zip(starts, [*starts[1:], 1000], strict=True)}
    con.executemany(
        "INSERT INTO _expected_rate VALUES (?, ?, ?, ?)",
        [(age, age_to[age], sex, rate) for age, sex, rate in EXPECTED_HYPERTENSION_RATE],
    )


_TEMP_TABLES = (
    "_fact",
    "_pop_measure",
    "_cube_key",
    "_practice_key_dims",
    "_lsoa_key_dims",
    "_agg_practice_key",
    "_agg_lsoa_key",
    "_sorted",
    "_slice",
    "_qof_pop",
    "_bp",
    "_bp_latest",
    "_bp_raised",
    "_hyp_coded",
    "_hyp_reg",
    "_ast_coded",
    "_ast_dx",
    "_ast_rx",
    "_ast_reg",
    "_ast_review",
    "_ast_tested",
    "_ast_admitted",
)
_FACT_COLUMNS = "indicator_id, period_id, patient_id, unit_id, age, numerator, denominator"


def _cover_sql() -> str:
    """COVER cohorts and timeliness: a child is in the cohort when the birthday falls in the period."""
    return f"""
    INSERT INTO _fact ({_FACT_COLUMNS})
    WITH children AS (
        -- Only children young enough for some cohort: keeps the range join small at full scale.
        SELECT * FROM patient_dim
        WHERE birth_date >= (SELECT min(start_date) FROM ind_period WHERE period_type IN ('quarter', 'fy'))
                            - INTERVAL 61 MONTH
    ),
    cohort AS (
        SELECT m.indicator_id, p.period_id, p.end_date, d.patient_id, d.birth_date, m.vaccines, m.min_doses,
               m.course_doses, d.birth_date + to_months(m.age_months) AS birthday,
               d.birth_date + to_months(m.valid_from_months) AS valid_from,
               {dose_read_from_sql("d.birth_date", "m")} AS read_from
        FROM _cover_measure AS m
        JOIN ind_period AS p ON p.period_type IN ('quarter', 'fy')
        JOIN children AS d
          ON d.birth_date + to_months(m.age_months) BETWEEN p.start_date AND p.end_date
         AND d.birth_date >= m.born_from AND d.birth_date < m.born_before
        WHERE {_registered_alive("d", "p.end_date")}
    ),
    doses AS (
        -- Doses are counted by distinct date: a duplicated record of one dose is one dose.
        SELECT c.indicator_id, c.period_id, c.patient_id,
               count(DISTINCT i.vaccination_date) FILTER (WHERE i.vaccination_date >= c.valid_from) AS doses,
               count(DISTINCT i.vaccination_date) AS course
        FROM cohort AS c
        JOIN immunisations AS i
          ON i.patient_id = c.patient_id AND list_contains(c.vaccines, i.vaccine)
         AND i.vaccination_date < c.birthday AND i.vaccination_date >= c.read_from
        GROUP BY ALL
    )
    SELECT c.indicator_id, c.period_id, c.patient_id, NULL, {_age("c.birth_date", "c.end_date")},
           CASE WHEN coalesce(d.doses, 0) >= c.min_doses AND coalesce(d.course, 0) >= c.course_doses
                THEN 1 ELSE 0 END, 1
    FROM cohort AS c
    LEFT JOIN doses AS d USING (indicator_id, period_id, patient_id)
    """  # noqa: S608 (identifiers are module constants)


def _polio_sql() -> str:
    """The 2022 booster: aged 1-9 on the advice date; boosted in the window or fully up to date at its end."""
    return f"""
    INSERT INTO _fact ({_FACT_COLUMNS})
    WITH cohort AS (
        SELECT p.period_id, p.start_date, p.end_date, d.patient_id, d.birth_date
        FROM ind_period AS p
        JOIN patient_dim AS d
          ON {_age("d.birth_date", "p.start_date")} BETWEEN 1 AND 9
        WHERE p.period_type = 'campaign' AND {_registered_alive("d", "p.end_date")}
    ),
    doses AS (
        SELECT c.patient_id,
               count(*) FILTER (WHERE i.vaccination_date BETWEEN c.start_date AND c.end_date) AS in_window,
               count(DISTINCT i.vaccination_date) AS total
        FROM cohort AS c
        JOIN immunisations AS i
          ON i.patient_id = c.patient_id AND i.vaccine IN ('6in1', '4in1', 'IPV') AND i.vaccination_date <= c.end_date
        GROUP BY ALL
    )
    SELECT 'polio_booster_1_9', c.period_id, c.patient_id, NULL, {_age("c.birth_date", "c.end_date")},
           CASE WHEN coalesce(d.in_window, 0) > 0
                  OR coalesce(d.total, 0) >= CASE WHEN c.birth_date + to_months(40) <= c.end_date THEN 4 ELSE 3 END
                THEN 1 ELSE 0 END,
           1
    FROM cohort AS c LEFT JOIN doses AS d USING (patient_id)
    """  # noqa: S608 (identifiers are module constants)


def _qof_population_sql() -> str:
    """Registered, alive patients on each QOF period end, with age then and registration date."""
    return f"""
    CREATE OR REPLACE TEMP TABLE _qof_pop AS
    SELECT p.period_id, p.start_date, p.end_date, d.patient_id, d.registration_start, d.sex,
           {_age("d.birth_date", "p.end_date")} AS age
    FROM ind_period AS p
    JOIN patient_dim AS d ON {_registered_alive("d", "p.end_date")}
    WHERE p.period_type IN ('fy', 'r12')
    """  # noqa: S608 (identifiers are module constants)


def _coded_sql(name: str, diagnosis: str, resolved: str) -> str:
    """Per period, everyone with a diagnosis or resolved code on or before its end, and their key dates."""
    return f"""
    CREATE OR REPLACE TEMP TABLE {name} AS
    SELECT p.period_id, e.patient_id,
           max(e.event_date) FILTER (WHERE c.codelist = '{diagnosis}') AS last_diagnosis,
           min(e.event_date) FILTER (WHERE c.codelist = '{diagnosis}') AS first_diagnosis,
           max(e.event_date) FILTER (WHERE c.codelist = '{resolved}') AS last_resolved
    FROM ind_period AS p
    JOIN clinical_events AS e ON e.event_date <= p.end_date
    JOIN _code AS c ON c.code = e.snomed_code AND c.codelist IN ('{diagnosis}', '{resolved}')
    WHERE p.period_type IN ('fy', 'r12')
    GROUP BY ALL
    """  # noqa: S608 (identifiers are module constants)


def _register_sql(name: str, coded: str) -> str:
    """A QOF register per period: latest diagnosis on or before the end not followed by a later resolved code.

    A resolved code on or before the latest diagnosis does not remove anyone [OS-HYP001].
    """
    return f"""
    CREATE OR REPLACE TEMP TABLE {name} AS
    SELECT * FROM {coded}
    WHERE last_diagnosis IS NOT NULL AND (last_resolved IS NULL OR last_resolved <= last_diagnosis)
    """  # noqa: S608 (identifiers are module constants)


def _bp_sql() -> str:
    """Blood pressure readings: systolic and diastolic on the same day and setting, lowest of each that day."""
    return """
    CREATE OR REPLACE TEMP TABLE _bp AS
    WITH coded AS (
        SELECT e.patient_id, e.event_date, e.value,
               CASE WHEN c.codelist LIKE 'systolic%' THEN 'systolic' ELSE 'diastolic' END AS kind,
               CASE WHEN c.codelist LIKE '%clinic' THEN 'clinic' ELSE 'home' END AS setting
        FROM clinical_events AS e
        JOIN _code AS c ON c.code = e.snomed_code AND c.codelist LIKE '%_bp_%'
        WHERE e.value IS NOT NULL
    )
    SELECT patient_id, event_date, setting,
           min(value) FILTER (WHERE kind = 'systolic') AS systolic,
           min(value) FILTER (WHERE kind = 'diastolic') AS diastolic
    FROM coded
    GROUP BY ALL
    HAVING systolic IS NOT NULL AND diastolic IS NOT NULL
    """


def _hypertension_sql() -> list[str]:
    latest_bp = """
    CREATE OR REPLACE TEMP TABLE _bp_latest AS
    SELECT p.period_id, b.patient_id, b.event_date, b.setting, b.systolic, b.diastolic
    FROM ind_period AS p
    JOIN _bp AS b ON b.event_date BETWEEN p.start_date AND p.end_date
    WHERE p.period_type IN ('fy', 'r12')
    -- Latest day wins; on a day with clinic and home readings the clinic reading is used.
    QUALIFY row_number() OVER (PARTITION BY p.period_id, b.patient_id
                               ORDER BY b.event_date DESC, b.setting = 'clinic' DESC) = 1
    """
    # CVDP005HYP [CVDP-DEFS]: the raised reading is recorded *more than* 3 months before the end.
    raised = """
    CREATE OR REPLACE TEMP TABLE _bp_raised AS
    SELECT DISTINCT p.period_id, b.patient_id
    FROM ind_period AS p
    JOIN _bp AS b ON b.event_date >= p.start_date AND b.event_date < p.end_date - INTERVAL 3 MONTH
    WHERE p.period_type IN ('fy', 'r12') AND b.systolic >= 140 AND b.diastolic >= 90
    """
    control = f"""
    INSERT INTO _fact ({_FACT_COLUMNS})
    WITH reg AS (
        SELECT q.*, r.first_diagnosis, b.event_date AS bp_date, b.setting, b.systolic, b.diastolic,
               CASE WHEN q.age <= 79 THEN 'hyp008' ELSE 'hyp009' END AS indicator_id
        FROM _qof_pop AS q
        JOIN _hyp_reg AS r USING (period_id, patient_id)
        LEFT JOIN _bp_latest AS b USING (period_id, patient_id)
    ),
    judged AS (
        SELECT *,
               coalesce(CASE
                   WHEN indicator_id = 'hyp008' AND setting = 'clinic' THEN systolic <= 140 AND diastolic <= 90
                   WHEN indicator_id = 'hyp008' THEN systolic <= 135 AND diastolic <= 85
                   WHEN setting = 'clinic' THEN systolic <= 150 AND diastolic <= 90
                   ELSE systolic <= 145 AND diastolic <= 85 END, false) AS achieved
        FROM reg
    )
    SELECT indicator_id, period_id, patient_id, NULL, age,
           CASE WHEN achieved THEN 1 ELSE 0 END, 1
    FROM judged
    -- Achievers always count; others are excluded if newly diagnosed or newly registered (9 months).
    WHERE achieved OR NOT (first_diagnosis > end_date - INTERVAL 9 MONTH
                           OR registration_start > end_date - INTERVAL 9 MONTH)
    """  # noqa: S608 (identifiers are module constants)
    others = f"""
    INSERT INTO _fact ({_FACT_COLUMNS})
    SELECT 'hyp_bp_recorded_12m', q.period_id, q.patient_id, NULL, q.age,
           CASE WHEN b.patient_id IS NULL THEN 0 ELSE 1 END, 1
    FROM _qof_pop AS q
    JOIN _hyp_reg AS r USING (period_id, patient_id)
    LEFT JOIN _bp_latest AS b USING (period_id, patient_id)
    """  # noqa: S608 (identifiers are module constants)
    return [
        _coded_sql("_hyp_coded", "hyp_cod", "hypres_cod"),
        _register_sql("_hyp_reg", "_hyp_coded"),
        _bp_sql(),
        latest_bp,
        raised,
        control,
        others,
    ]


def _asthma_sql() -> list[str]:
    prescriptions = """
    CREATE OR REPLACE TEMP TABLE _ast_rx AS
    SELECT p.period_id, m.patient_id,
           sum(m.quantity) FILTER (WHERE c.codelist = 'saba') AS saba,
           sum(m.quantity) FILTER (WHERE c.codelist = 'ics') AS ics
    FROM ind_period AS p
    JOIN medications AS m ON m.issue_date BETWEEN p.start_date AND p.end_date
    JOIN _code AS c ON c.code = m.dmd_code AND c.codelist IN ('saba', 'ics')
    WHERE p.period_type IN ('fy', 'r12')
    GROUP BY ALL
    """
    register = """
    -- AST005: aged 6+, unresolved diagnosis, and an asthma inhaler issued in the 12 months.
    CREATE OR REPLACE TEMP TABLE _ast_reg AS
    SELECT q.period_id, q.patient_id, q.age, q.end_date, q.start_date, q.registration_start, d.first_diagnosis,
           coalesce(x.saba, 0) AS saba, coalesce(x.ics, 0) AS ics
    FROM _qof_pop AS q
    JOIN _ast_dx AS d USING (period_id, patient_id)
    JOIN _ast_rx AS x USING (period_id, patient_id)
    WHERE q.age >= 6 AND coalesce(x.saba, 0) + coalesce(x.ics, 0) > 0
    """
    review = """
    CREATE OR REPLACE TEMP TABLE _ast_review AS
    SELECT p.period_id, e.patient_id,
           true AS reviewed,
           bool_or(w.patient_id IS NOT NULL) AS with_plan
    FROM ind_period AS p
    JOIN clinical_events AS e ON e.event_date BETWEEN p.start_date AND p.end_date
    JOIN _code AS c ON c.code = e.snomed_code AND c.codelist = 'rev_cod'
    LEFT JOIN (SELECT e2.patient_id, e2.event_date FROM clinical_events AS e2
               JOIN _code AS c2 ON c2.code = e2.snomed_code AND c2.codelist = 'writpastp_cod') AS w
      ON w.patient_id = e.patient_id AND w.event_date = e.event_date
    WHERE p.period_type IN ('fy', 'r12')
    GROUP BY ALL
    """
    tested = """
    CREATE OR REPLACE TEMP TABLE _ast_tested AS
    SELECT DISTINCT r.period_id, r.patient_id
    FROM _ast_reg AS r
    JOIN clinical_events AS e
      ON e.patient_id = r.patient_id
     AND e.event_date BETWEEN r.first_diagnosis - INTERVAL 3 MONTH AND r.first_diagnosis + INTERVAL 3 MONTH
     AND e.event_date <= r.end_date
    JOIN _code AS c ON c.code = e.snomed_code AND c.codelist = 'asthma_objective_test'
    """
    admitted = """
    CREATE OR REPLACE TEMP TABLE _ast_admitted AS
    SELECT DISTINCT p.period_id, h.patient_id
    FROM ind_period AS p
    JOIN hospital_episodes AS h ON h.admission_date BETWEEN p.start_date AND p.end_date
    WHERE p.period_type IN ('fy', 'r12')
      AND h.admission_method IN (SELECT method FROM _emergency_method)
      AND left(replace(h.primary_diagnosis, '.', ''), 3) IN (SELECT category FROM _asthma_icd)
    """
    facts = f"""
    INSERT INTO _fact ({_FACT_COLUMNS})
    -- Review and plan: achievers always count; others excluded if diagnosed or registered in the last 3 months.
    SELECT i.indicator_id, r.period_id, r.patient_id, NULL, r.age, CASE WHEN i.achieved THEN 1 ELSE 0 END, 1
    FROM _ast_reg AS r
    LEFT JOIN _ast_review AS v USING (period_id, patient_id)
    CROSS JOIN LATERAL (VALUES ('ast_review_12m', coalesce(v.reviewed, false)),
                               ('ast_action_plan', coalesce(v.with_plan, false))) AS i(indicator_id, achieved)
    WHERE i.achieved OR NOT (r.first_diagnosis > r.end_date - INTERVAL 3 MONTH
                             OR r.registration_start > r.end_date - INTERVAL 3 MONTH)
    UNION ALL
    SELECT 'ast_objective_test', r.period_id, r.patient_id, NULL, r.age,
           CASE WHEN t.patient_id IS NULL THEN 0 ELSE 1 END, 1
    FROM _ast_reg AS r LEFT JOIN _ast_tested AS t USING (period_id, patient_id)
    WHERE r.first_diagnosis BETWEEN r.start_date AND r.end_date
      AND r.first_diagnosis >= $ast012_from
      AND (t.patient_id IS NOT NULL OR r.first_diagnosis <= r.end_date - INTERVAL 3 MONTH)
    UNION ALL
    SELECT 'ast_saba_' || t.threshold || 'plus', r.period_id, r.patient_id, NULL, r.age,
           CASE WHEN r.saba >= t.threshold THEN 1 ELSE 0 END, 1
    FROM _ast_reg AS r CROSS JOIN (VALUES (3), (6), (12)) AS t(threshold)
    UNION ALL
    SELECT 'ast_saba_no_ics', r.period_id, r.patient_id, NULL, r.age, CASE WHEN r.ics = 0 THEN 1 ELSE 0 END, 1
    FROM _ast_reg AS r WHERE r.saba > 0
    UNION ALL
    SELECT 'ast_emergency_admissions', r.period_id, r.patient_id, NULL, r.age,
           CASE WHEN a.patient_id IS NULL THEN 0 ELSE 1 END, 1
    FROM _ast_reg AS r LEFT JOIN _ast_admitted AS a USING (period_id, patient_id)
    """  # noqa: S608 (identifiers are module constants)
    return [
        _coded_sql("_ast_coded", "ast_cod", "astres_cod"),
        _register_sql("_ast_dx", "_ast_coded"),
        prescriptions,
        register,
        review,
        tested,
        admitted,
        facts,
    ]


# Every malignant cancer registration (ICD-10 C00-C97) except C44 (non-melanoma skin) is a tumour, the
# registry convention [RTD-APP]: in situ and benign (D) codes are not. A tumour's ``unit_id`` comes from its
# own row only: patient, diagnosis date and ICD-10 code, numbered among exact repeats of those three. An id
# numbered across all of London would change with every other patient's tumours, so a build partitioned
# by ICB (docs/scaling.md) or a later extract would give the same tumour another id. queries.cancer joins
# the engine's tumour facts back to their tumour group through this same definition.
TUMOURS_SQL = """
SELECT r.*,
       concat_ws(':', 'T', r.patient_id, CAST(r.diagnosis_date AS VARCHAR), r.icd10_code,
                 row_number() OVER (PARTITION BY r.patient_id, r.diagnosis_date, r.icd10_code
                                    ORDER BY r.stage, r.route)) AS unit_id
FROM cancer_registrations AS r
WHERE left(r.icd10_code, 3) BETWEEN 'C00' AND 'C97' AND left(r.icd10_code, 3) <> 'C44'
"""


def _cancer_sql() -> list[str]:
    """CWT standards by clock-stop date; registry measures by diagnosis date."""
    pathways = f"""
    INSERT INTO _fact ({_FACT_COLUMNS})
    WITH periods AS (SELECT * FROM ind_period WHERE period_type IN ('month', 'quarter', 'fy'))
    SELECT 'cwt_fds_28d', p.period_id, c.patient_id, c.pathway_id, {_age("d.birth_date", "c.diagnosis_told_date")},
           CASE WHEN date_diff('day', c.referral_date, c.diagnosis_told_date) <= 28 THEN 1 ELSE 0 END, 1
    FROM cancer_pathways AS c
    JOIN patient_dim AS d USING (patient_id)
    JOIN periods AS p ON c.diagnosis_told_date BETWEEN p.start_date AND p.end_date
    WHERE c.priority_type IN ('urgent_suspected_cancer', 'breast_symptomatic', 'screening')
    UNION ALL
    SELECT 'cancer_conversion_rate', p.period_id, c.patient_id, c.pathway_id,
           {_age("d.birth_date", "c.diagnosis_told_date")},
           CASE WHEN c.diagnosis_outcome = 'cancer_confirmed' THEN 1 ELSE 0 END, 1
    FROM cancer_pathways AS c
    JOIN patient_dim AS d USING (patient_id)
    JOIN periods AS p ON c.diagnosis_told_date BETWEEN p.start_date AND p.end_date
    WHERE c.priority_type IN ('urgent_suspected_cancer', 'breast_symptomatic', 'screening')
      AND c.diagnosis_outcome IS NOT NULL
    UNION ALL
    SELECT 'cwt_31d', p.period_id, c.patient_id, c.pathway_id, {_age("d.birth_date", "c.treatment_start_date")},
           CASE WHEN date_diff('day', c.decision_to_treat_date, c.treatment_start_date) <= 31 THEN 1 ELSE 0 END, 1
    FROM cancer_pathways AS c
    JOIN patient_dim AS d USING (patient_id)
    JOIN periods AS p ON c.treatment_start_date BETWEEN p.start_date AND p.end_date
    -- Cancer treatments only: a pathway whose outcome is 'cancer ruled out' has none (as for the 62-day).
    WHERE c.decision_to_treat_date IS NOT NULL
      AND coalesce(c.diagnosis_outcome, 'cancer_confirmed') = 'cancer_confirmed'
    UNION ALL
    SELECT 'cwt_62d', p.period_id, c.patient_id, c.pathway_id, {_age("d.birth_date", "c.treatment_start_date")},
           CASE WHEN date_diff('day', c.referral_date, c.treatment_start_date) <= 62 THEN 1 ELSE 0 END, 1
    FROM cancer_pathways AS c
    JOIN patient_dim AS d USING (patient_id)
    JOIN periods AS p ON c.treatment_start_date BETWEEN p.start_date AND p.end_date
    WHERE c.priority_type IN ('urgent_suspected_cancer', 'breast_symptomatic', 'screening', 'consultant_upgrade')
      AND coalesce(c.diagnosis_outcome, 'cancer_confirmed') = 'cancer_confirmed'
    """  # noqa: S608 (identifiers are module constants)
    tumours = f"""
    INSERT INTO _fact ({_FACT_COLUMNS})
    WITH tumour AS ({TUMOURS_SQL})
    SELECT 'cancer_early_stage', p.period_id, t.patient_id, t.unit_id, {_age("d.birth_date", "t.diagnosis_date")},
           CASE WHEN t.stage IN ('1', '2') THEN 1 ELSE 0 END, 1
    FROM tumour AS t
    JOIN patient_dim AS d USING (patient_id)
    JOIN ind_period AS p ON t.diagnosis_date BETWEEN p.start_date AND p.end_date AND p.period_type IN ('quarter', 'fy')
    WHERE t.stage IN ('1', '2', '3', '4')
    UNION ALL
    SELECT 'cancer_emergency_route', p.period_id, t.patient_id, t.unit_id,
           {_age("d.birth_date", "t.diagnosis_date")}, CASE WHEN t.route = 'emergency' THEN 1 ELSE 0 END, 1
    FROM tumour AS t
    JOIN patient_dim AS d USING (patient_id)
    JOIN ind_period AS p ON t.diagnosis_date BETWEEN p.start_date AND p.end_date AND p.period_type IN ('quarter', 'fy')
    """  # noqa: S608 (identifiers are module constants)
    return [pathways, tumours]


_PRACTICE_DIMS = (
    "practice_code",
    "pcn_code",
    "borough_code",
    "icb_code",
    "imd_quintile_national",
    "imd_quintile_london",
    "ethnicity_group",
    "sex",
)
_LSOA_DIMS = (
    "lsoa21_code",
    "residence_borough_code",
    "borough_code",
    "icb_code",
    "imd_decile_national",
    "imd_decile_london",
    "imd_quintile_national",
    "imd_quintile_london",
    "ethnicity_group",
    "sex",
)
# Coarser cubes summed from the practice cube, so the commonest calls scan far fewer rows.
_AREA_DIMS = ("practice_code", "pcn_code", "borough_code", "icb_code")
_BOROUGH_KEY_DIMS = (
    "borough_code",
    "icb_code",
    "imd_quintile_national",
    "imd_quintile_london",
    "ethnicity_group",
    "sex",
)
_BOROUGH_DIMS = (*_BOROUGH_KEY_DIMS, "age_band")
_PRACTICE_EQUITY_DIMS = _PRACTICE_DIMS  # the practice cube without age bands
CUBES = {
    # name: dimensions it can answer (besides indicator and period); smallest first.
    "ind_cube_area": _AREA_DIMS,
    "ind_cube_borough": _BOROUGH_DIMS,
    "ind_cube_practice_equity": _PRACTICE_EQUITY_DIMS,
    "ind_cube_practice": (*_PRACTICE_DIMS, "age_band"),
    "ind_cube_lsoa": (*_LSOA_DIMS, "age_band"),
}


def _population_sql() -> str:
    """Per period and registered patient, the flags behind the whole-list indicators (prevalence etc.).

    These indicators have the whole registered list as denominator, so they are summed
    straight into the cubes instead of being written as one fact row per patient each.
    """
    return """
    CREATE OR REPLACE TEMP TABLE _pop_measure AS
    SELECT q.period_id, q.patient_id, q.age,
           CASE WHEN h.patient_id IS NULL THEN 0 ELSE 1 END AS hyp_register,
           -- Any hypertension diagnosis or resolution in the record, even off the register (CVDP005HYP).
           CASE WHEN c.patient_id IS NULL THEN 0 ELSE 1 END AS hyp_coded,
           CASE WHEN a.patient_id IS NULL THEN 0 ELSE 1 END AS ast_register,
           CASE WHEN q.age >= 18 THEN 1 ELSE 0 END AS adult,
           coalesce(x.rate, 0) AS expected,
           CASE WHEN r.patient_id IS NULL THEN 0 ELSE 1 END AS raised
    FROM _qof_pop AS q
    LEFT JOIN _hyp_reg AS h USING (period_id, patient_id)
    LEFT JOIN _hyp_coded AS c USING (period_id, patient_id)
    LEFT JOIN _ast_reg AS a USING (period_id, patient_id)
    LEFT JOIN _bp_raised AS r USING (period_id, patient_id)
    LEFT JOIN _expected_rate AS x ON q.age BETWEEN x.age_from AND x.age_to AND x.sex = q.sex
    """


# Whole-list indicators summed from the population aggregate: indicator, numerator, denominator, units, condition.
_WHOLE_LIST = (
    ("hyp_prevalence", "hyp_register", "listed", "listed", "true"),
    ("ast_prevalence", "ast_register", "listed", "listed", "true"),
    ("hyp_detection_ratio", "adult_register", "expected", "adults", "adults > 0"),
    ("hyp_possible_undiagnosed", "uncoded_raised", "adults", "adults", "adults > 0"),
)


def _cube_key_sql() -> list[str]:
    """Integer codes the cubes are grouped and sorted on, instead of many text columns.

    ``_cube_key``: per patient, one key per combination of practice-cube dims and one per LSOA-cube
    dims (the coarse cubes' dims are all practice-cube dims, so their keys come from the small
    practice key table). ``_slice``: one number per indicator and period, in the cubes' sort order.
    """
    practice = ", ".join(_PRACTICE_DIMS)
    lsoa = ", ".join(_LSOA_DIMS)
    keys = f"""
    CREATE OR REPLACE TEMP TABLE _cube_key AS
    SELECT patient_id,
           CAST(dense_rank() OVER (ORDER BY {practice}) AS INTEGER) AS practice_key,
           CAST(dense_rank() OVER (ORDER BY {lsoa}) AS INTEGER) AS lsoa_key
    FROM patient_dim
    """  # noqa: S608 (identifiers are module constants)
    practice_dims = f"""
    CREATE OR REPLACE TEMP TABLE _practice_key_dims AS
    SELECT *,
           CAST(dense_rank() OVER (ORDER BY {", ".join(_AREA_DIMS)}) AS INTEGER) AS area_key,
           CAST(dense_rank() OVER (ORDER BY {", ".join(_BOROUGH_KEY_DIMS)}) AS INTEGER) AS borough_key
    FROM (SELECT k.practice_key, {", ".join(f"any_value(d.{dim}) AS {dim}" for dim in _PRACTICE_DIMS)}
          FROM _cube_key AS k JOIN patient_dim AS d USING (patient_id) GROUP BY k.practice_key)
    """  # noqa: S608 (identifiers are module constants)
    lsoa_dims = f"""
    CREATE OR REPLACE TEMP TABLE _lsoa_key_dims AS
    SELECT k.lsoa_key, {", ".join(f"any_value(d.{dim}) AS {dim}" for dim in _LSOA_DIMS)}
    FROM _cube_key AS k JOIN patient_dim AS d USING (patient_id) GROUP BY k.lsoa_key
    """  # noqa: S608 (identifiers are module constants)
    whole_list = ", ".join(f"('{indicator}')" for indicator, *_ in _WHOLE_LIST)
    slices = f"""
    CREATE OR REPLACE TEMP TABLE _slice AS
    SELECT i.indicator_id, p.period_id,
           CAST(row_number() OVER (ORDER BY i.indicator_id, p.period_id) AS SMALLINT) AS slice
    FROM (SELECT DISTINCT indicator_id FROM _fact UNION SELECT * FROM (VALUES {whole_list})) AS i(indicator_id)
    CROSS JOIN ind_period AS p
    """  # noqa: S608 (identifiers are module constants)
    # The engine looks a call's slice number up here (once per connection) and filters the cubes on it.
    slice_table = "CREATE TABLE ind_slice AS SELECT indicator_id, period_id, slice FROM _slice ORDER BY slice"
    return [keys, practice_dims, lsoa_dims, slices, slice_table]


def _age_band_index_sql(column: str) -> str:
    """The age band as a small integer (its position in ``AGE_BANDS``), cheaper to group and sort than text."""
    cases = " ".join(
        f"WHEN {column} BETWEEN {low} AND {high} THEN {index}" for index, (low, high, _) in enumerate(AGE_BANDS)
    )
    return f"CAST(CASE {cases} END AS TINYINT)"


def _age_band_label_sql(column: str) -> str:
    cases = " ".join(f"WHEN {index} THEN '{label}'" for index, (_, _, label) in enumerate(AGE_BANDS))
    return f"CASE {column} {cases} END"


def _aggregate_sql(key: str) -> str:
    """Facts and whole-list measures summed by slice (indicator and period), one cube key and age band.

    Every grouping column is an integer, so the rows are narrow and the hash aggregates cheap.
    """
    band_fact = _age_band_index_sql("f.age")
    band_pop = _age_band_index_sql("m.age")
    unions = "\n".join(
        f"UNION ALL SELECT s.slice, p.cube_key, p.age_band, CAST(p.{num} AS DOUBLE), "  # noqa: S608
        f"CAST(p.{den} AS DOUBLE), CAST(p.{units} AS BIGINT) FROM population AS p "
        f"JOIN _slice AS s ON s.indicator_id = '{ind}' AND s.period_id = p.period_id WHERE {cond}"
        for ind, num, den, units, cond in _WHOLE_LIST
    )
    return f"""
    CREATE OR REPLACE TEMP TABLE _agg_{key} AS
    WITH facts AS (
        SELECT s.slice, k.{key} AS cube_key, {band_fact} AS age_band,
               sum(f.numerator) AS numerator, sum(f.denominator) AS denominator, count(*) AS units
        FROM _fact AS f
        JOIN _cube_key AS k USING (patient_id)
        JOIN _slice AS s USING (indicator_id, period_id)
        GROUP BY ALL
    ),
    population AS MATERIALIZED (
        SELECT m.period_id, k.{key} AS cube_key, {band_pop} AS age_band,
               count(*) AS listed,
               sum(m.hyp_register) AS hyp_register,
               sum(m.ast_register) AS ast_register,
               sum(m.adult) AS adults,
               sum(m.adult * m.hyp_register) AS adult_register,
               sum(m.expected) AS expected,
               sum(m.adult * (1 - m.hyp_coded) * m.raised) AS uncoded_raised
        FROM _pop_measure AS m JOIN _cube_key AS k USING (patient_id)
        GROUP BY ALL
    )
    SELECT slice, cube_key, age_band, CAST(numerator AS DOUBLE) AS numerator,
           CAST(denominator AS DOUBLE) AS denominator, CAST(units AS BIGINT) AS units
    FROM facts
    {unions}
    """  # noqa: S608 (identifiers are module constants)


def _write_cube_sql(name: str, dims: tuple[str, ...], fine_key: str, key: str, *, age_band: bool) -> tuple[str, str]:
    """One cube table from the narrow aggregate of ``fine_key``: (sum by ``key`` and sort, attach the text).

    Stored sorted by ``slice`` (indicator and period, see ``ind_slice``) so a query reads only that slice:
    an integer column gives exact zone maps, where text ids sharing a long prefix (``cover_12m_...``) do
    not. The sort runs on narrow integer rows; the joins that add the text columns keep that order
    within each row group (insertion order is preserved; parallel writers may append whole row groups
    out of turn, which zone maps do not mind: a slice still spans one or two row groups).
    """
    key_dims = f"_{fine_key}_dims"
    band = ", a.age_band" if age_band else ""
    if key == fine_key and age_band:
        summed = f"SELECT a.slice, a.cube_key{band}, a.numerator, a.denominator, a.units FROM _agg_{fine_key} AS a"  # noqa: S608 (identifiers are module constants)
    else:
        summed = f"""SELECT a.slice, k.{key} AS cube_key{band},
               sum(a.numerator) AS numerator, sum(a.denominator) AS denominator, CAST(sum(a.units) AS BIGINT) AS units
        FROM _agg_{fine_key} AS a JOIN {key_dims} AS k ON k.{fine_key} = a.cube_key
        GROUP BY ALL"""  # noqa: S608 (identifiers are module constants)
    label = f", {_age_band_label_sql('c.age_band')} AS age_band" if age_band else ""
    sort = f"CREATE OR REPLACE TEMP TABLE _sorted AS {summed} ORDER BY slice"
    write = f"""
    CREATE TABLE {name} AS
    WITH dims AS (SELECT {key} AS cube_key, {", ".join(f"any_value({dim}) AS {dim}" for dim in dims)}
                  FROM {key_dims} GROUP BY {key})
    SELECT c.slice, s.indicator_id, s.period_id, {", ".join(f"d.{dim}" for dim in dims)}{label},
           c.numerator, c.denominator, c.units
    FROM _sorted AS c JOIN _slice AS s USING (slice) JOIN dims AS d USING (cube_key)
    """  # noqa: S608 (identifiers are module constants)
    return sort, write


def _cube_sql() -> list[tuple[str, str]]:
    """(progress label, SQL) for every step of the cube build, in order."""
    cubes = (
        ("ind_cube_practice", _PRACTICE_DIMS, "practice_key", "practice_key", True),
        ("ind_cube_lsoa", _LSOA_DIMS, "lsoa_key", "lsoa_key", True),
        ("ind_cube_practice_equity", _PRACTICE_EQUITY_DIMS, "practice_key", "practice_key", False),
        ("ind_cube_borough", _BOROUGH_KEY_DIMS, "practice_key", "borough_key", True),
        ("ind_cube_area", _AREA_DIMS, "practice_key", "area_key", False),
    )
    steps = [
        *(("cube keys", sql) for sql in _cube_key_sql()),
        ("cubes: practice aggregate", _aggregate_sql("practice_key")),
        ("cubes: LSOA aggregate", _aggregate_sql("lsoa_key")),
    ]
    for name, dims, fine_key, key, age_band in cubes:
        sort, write = _write_cube_sql(name, dims, fine_key, key, age_band=age_band)
        steps += [(f"cubes: {name} (sort)", sort), (f"cubes: {name}", write)]
    return steps


def materialise(
    con: duckdb.DuckDBPyConnection, extract_date: dt.date | str, *, progress=lambda message: None
) -> dict[str, int]:
    """Derive every indicator into the ``ind_*`` tables of ``con`` (replacing any earlier ones).

    Returns row counts of the tables written.
    """
    if isinstance(extract_date, str):
        extract_date = dt.date.fromisoformat(extract_date)
    elif isinstance(extract_date, dt.datetime):
        extract_date = extract_date.date()
    for table in OUTPUT_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    _load_small_tables(con, extract_date)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _fact (indicator_id VARCHAR, period_id VARCHAR, patient_id VARCHAR, "
        "unit_id VARCHAR, age INTEGER, numerator DOUBLE, denominator DOUBLE)"
    )
    steps: list[tuple[str, str, dict]] = [
        ("immunisation: COVER cohorts", _cover_sql(), {}),
        ("immunisation: polio booster", _polio_sql(), {}),
        ("QOF population", _qof_population_sql(), {}),
    ]
    steps += [("hypertension", sql, {}) for sql in _hypertension_sql()]
    steps += [
        ("asthma", sql, {"ast012_from": AST012_DIAGNOSED_FROM} if "$ast012_from" in sql else {})
        for sql in _asthma_sql()
    ]
    steps += [("cancer", sql, {}) for sql in _cancer_sql()]
    steps.append(("whole-list measures", _population_sql(), {}))
    for label, sql, params in steps:
        progress(f"indicators: {label}")
        con.execute(sql, params) if params else con.execute(sql)

    con.execute(
        "CREATE TABLE ind_patient AS SELECT indicator_id, period_id, patient_id, unit_id, numerator, denominator "
        "FROM _fact ORDER BY indicator_id, period_id"
    )
    preserve_order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("SET preserve_insertion_order = true")
    try:
        for label, sql in _cube_sql():
            progress(f"indicators: {label}")
            con.execute(sql)
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if preserve_order else 'false'}")
    _write_registry(con)
    for temp in _TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    progress("indicators: uptake by age")
    write_uptake_by_age(con)
    from queries.asthma import write_admission_history  # imported here: queries.asthma imports this module

    progress("indicators: asthma admission history")
    write_admission_history(con)
    from queries.asthma import write_saba_list

    progress("asthma: SABA patient list")
    write_saba_list(con)
    from queries.overview import write_registered_population

    progress("overview: registered population")
    write_registered_population(con)
    from queries.immunisation_cohort import write_contact_days

    progress("cohort finder: children's contact days")
    write_contact_days(con, extract_date)
    return {table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in OUTPUT_TABLES}  # noqa: S608 (identifiers are module constants)


UPTAKE_TABLE = "ind_uptake_age"


def write_uptake_by_age(con: duckdb.DuckDBPyConnection) -> int:
    """Write ``ind_uptake_age``: for every COVER / timeliness cohort, children by the age their course completed.

    One row per (indicator_id, period_id, practice_code, completed_months) with ``children``: how many
    children of that cohort (the engine's denominator in ``ind_patient``) registered at the practice had
    the dose completing the measure (:func:`cover_completion_sql`) at ``completed_months`` whole months of
    age; ``completed_months = -1`` rows hold the cohort size. PCN, borough and ICB come
    from ``ref_practices`` when read (``patient_dim`` carries the practice's). The uptake-by-age curve of
    any area is then a sum over these rows instead of a join of the cohort's immunisation records on
    every click (seconds at full London scale). The age a course completed does not depend on the
    period, so each child's dates are read once per indicator, not per period. Sorted by indicator and
    period (a curve reads one slice). Returns the number of rows written.
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE _uptake_rule ({_COVER_MEASURE_COLUMNS})")
    con.executemany("INSERT INTO _uptake_rule VALUES (?, ?, ?, ?, ?, ?, ?, ?)", _cover_measure_rows())
    completed = completed_months_sql("c.birth_date", "c.completed_on")
    con.execute(
        f"""
    CREATE OR REPLACE TABLE {UPTAKE_TABLE} AS
    WITH cohort AS (
        SELECT f.indicator_id, f.period_id, f.patient_id, d.birth_date, d.practice_code
        FROM ind_patient AS f JOIN patient_dim AS d USING (patient_id)
        WHERE f.denominator > 0 AND f.indicator_id IN (SELECT indicator_id FROM _uptake_rule)
    ),
    children AS (SELECT DISTINCT indicator_id, patient_id, birth_date FROM cohort),
    doses AS (
        SELECT c.indicator_id, c.patient_id, c.birth_date, r.min_doses, r.course_doses,
               list_sort(list_distinct(list(i.vaccination_date) FILTER (
                   WHERE i.vaccination_date >= c.birth_date + to_months(r.valid_from_months)
               ))) AS valid,
               list_sort(list_distinct(list(i.vaccination_date))) AS course
        FROM children AS c
        JOIN (SELECT *, unnest(vaccines) AS vaccine FROM _uptake_rule) AS r
          ON r.indicator_id = c.indicator_id AND c.birth_date >= r.born_from AND c.birth_date < r.born_before
        -- An equi-join on (patient, vaccine): joining on the patient alone paired every child with all its doses.
        JOIN immunisations AS i ON i.patient_id = c.patient_id AND i.vaccine = r.vaccine
        WHERE i.vaccination_date >= {dose_read_from_sql("c.birth_date", "r")}
          AND i.vaccination_date < c.birth_date + to_months(r.age_months)
        GROUP BY c.indicator_id, c.patient_id, c.birth_date, r.min_doses, r.course_doses
    ),
    completion AS (
        SELECT indicator_id, patient_id, birth_date, {cover_completion_sql("valid", "course", "doses")} AS completed_on
        FROM doses
    ),
    completed AS (
        SELECT c.indicator_id, c.patient_id, {completed} AS completed_months
        FROM completion AS c WHERE c.completed_on IS NOT NULL
    )
    SELECT c.indicator_id, c.period_id, c.practice_code, m.completed_months, count(*) AS children
    FROM cohort AS c JOIN completed AS m USING (indicator_id, patient_id)
    GROUP BY ALL
    UNION ALL
    SELECT indicator_id, period_id, practice_code, -1, count(*) FROM cohort GROUP BY ALL
    ORDER BY indicator_id, period_id
    """  # noqa: S608 (identifiers are module constants)
    )
    con.execute("DROP TABLE IF EXISTS _uptake_rule")
    return con.execute(f"SELECT count(*) FROM {UPTAKE_TABLE}").fetchone()[0]  # noqa: S608 (module constant)


def completed_months_sql(birth: str, day: str) -> str:
    """SQL: whole months from ``birth`` to ``day``, with ``birth + N months`` as the Nth month-birthday."""
    return (
        f"(date_diff('month', {birth}, {day}) - "
        f"CASE WHEN {birth} + to_months(CAST(date_diff('month', {birth}, {day}) AS INTEGER)) > {day} "
        "THEN 1 ELSE 0 END)"
    )


def _write_registry(con: duckdb.DuckDBPyConnection) -> None:
    from queries.registry import list_indicators

    frame = list_indicators().astype(object).where(lambda f: f.notna(), None)
    columns = list(frame.columns)
    con.execute(f"CREATE TABLE ind_registry ({', '.join(f'{c} VARCHAR' for c in columns)})")
    con.executemany(
        f"INSERT INTO ind_registry VALUES ({', '.join('?' for _ in columns)})",  # noqa: S608 (identifiers are module constants)
        [tuple(None if v is None else str(v) for v in row) for row in frame.itertuples(index=False, name=None)],
    )
