"""The cohort finder: children registered on a chosen date who are missing routine doses.

One SQL builder (:func:`_cohort_sql`) turns :class:`CohortCriteria` into a query over
``patient_dim`` and ``immunisations`` with every value bound; the aggregates
(:func:`cohort_summary`) and the patient list (:func:`cohort_patients`) share it, so
the list is always exactly the children the counts describe. Patient rows are only
ever read through a :class:`security.roles.RowScope`: the practices, boroughs or ICBs
the signed-in user may see, applied inside the SQL.

Dose rules (doses counted by distinct date, up to and including the chosen date;
a dose is missing only once the child has reached the age it is due). Listed by the age they fall due;
the counting follows the COVER rules (``queries.materialise.COVER_MEASURES``):

- ``6in1``  incomplete 6-in-1: fewer than 3 doses, due from 4 months (the 16-week dose);
- ``pcv``  no infant PCV dose (a PCV dose before the 1st birthday, as COVER's 12-month "PCV1"), due from
  4 months (given at 12 weeks, or 16 weeks from Jul 2025: the later age, so neither schedule is flagged early);
- ``menb``  fewer than 2 infant MenB doses (before the 1st birthday, as COVER's "MenB2"), due from 4 months;
  MenB (infant doses and booster) is due only for children born on or after 1 May 2015: the programme began on
  1 Sep 2015 at 2 months, with a one-off catch-up at 3 and 4 months for babies born from 1 May 2015, and older
  children were never offered it [IMM-MENB-2015];
- ``rota``  fewer than 2 rotavirus doses, due from 4 months and flagged only before the 1st birthday: the
  vaccine cannot be given after 24 weeks, so an older child's gap cannot be closed, and COVER counts
  rotavirus only in the 12-month cohort [IMM-ROTA-NZ];
- ``mmr1``  no measles-containing dose (MMR or MMRV) on or after the 1st birthday, due from 12 months;
- ``pcv_booster``  no PCV dose on or after the 1st birthday, due from 12 months;
- ``menb_booster``  no MenB dose on or after the 1st birthday, due from 12 months;
- ``hibmenc``  no Hib-containing booster on or after the 1st birthday: Hib/MenC, due from 12 months, if born
  before 1 Jul 2024; the 18-month 6-in-1 dose (which replaced it: a 4th 6-in-1, one of them on or after the 1st
  birthday), due from 18 months, if born from then (COVER's 24-month Hib/MenC measure counts the same doses by
  birth cohort);
- ``mmr2``  fewer than 2 such doses, due from 18 months if born on or after 1 Jul 2024 (new schedule),
  else from 3 years 4 months [IMM-ANNEXA];
- ``polio_booster``  fewer than 4 polio-containing doses (6-in-1, 4-in-1, IPV): the routine 4th dose is due
  at 3 years 4 months (4-in-1), or 18 months if born on or after 1 Jul 2024 (6-in-1 dose 4); on a date in
  the 2022 London campaign window (10 Aug 2022 - 31 Mar 2023) every child from age 1 was due one [POLIO-PR];
- ``4in1``  no pre-school booster (a 4-in-1, dTaP/IPV, on or after the 3rd birthday: one given earlier was a
  catch-up primary dose), due from 3 years 4 months on both schedules (COVER's 5-year measure).

COVER counts a birthday cohort (children turning 1, 2 or 5 in a period, doses before that birthday); the
finder counts children by their age on one date, doses up to that date. The two agree child by child only
where the chosen date is the day before the COVER birthday (tested on hand-written children).

[IMM-MENB-2015] Public Health England, "Introduction of Meningococcal B (MenB) vaccination for infants" (letter
of 22 June 2015) and the Green Book chapter 22: routine at 2, 4 and 12 months from 1 September 2015; babies born
on or after 1 May 2015 offered the catch-up.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import threading
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data.schema import MEASLES_CONTAINING, POLIO_CONTAINING
from queries import disclosure
from queries.cache import PerConnection
from queries.db import without_query_timeout
from queries.materialise import NEW_SCHEDULE_BORN_FROM, POLIO_CAMPAIGN_END, POLIO_CAMPAIGN_START
from security.roles import RowScope

MENB_BORN_FROM = dt.date(2015, 5, 1)  # the first birth date offered MenB (module docstring, [IMM-MENB-2015])
# The earliest date the finder counts children on: the first day of the 2022 London polio booster campaign, the
# furthest back a campaign responder looks. Every child aged 0-18 on a date from then to the extract date is in
# the per-process cache (birth_window), so every search reads it: before, a search on an earlier date whose
# oldest children were born before the cache's window derived every dose from the tables (5.6 s at scale 1.0).
EARLIEST_DATE = POLIO_CAMPAIGN_START

# In the order the doses fall due (the page lists them so): infant doses, 1st-birthday doses, then boosters.
MISSING_DOSES = {
    "6in1": "Incomplete 6-in-1 (fewer than 3 doses)",
    "pcv": "PCV infant dose (none before the 1st birthday)",
    "menb": "MenB infant doses (fewer than 2 before the 1st birthday; born from May 2015)",
    "rota": "Rotavirus (fewer than 2 doses; shown only before the 1st birthday)",
    "mmr1": "MMR1 (no MMR/MMRV on or after the 1st birthday)",
    "pcv_booster": "PCV booster (none on or after the 1st birthday)",
    "menb_booster": "MenB booster (none on or after the 1st birthday; born from May 2015)",
    "hibmenc": "Hib/MenC booster (the 18-month 6-in-1 if born from Jul 2024)",
    "mmr2": "MMR2 (fewer than 2 MMR/MMRV doses; 18 m if born from Jul 2024)",
    "polio_booster": "Polio booster (fewer than 4 polio doses; 18 m if born from Jul 2024, age 1+ during the "
    "2022 campaign)",
    "4in1": "Pre-school booster (no 4-in-1 dTaP/IPV)",
}
# The age each dose falls due on the schedule for children born before Jul 2024 (the labels note the change).
DUE_AGES = {
    "6in1": "4 m",
    "pcv": "4 m",
    "menb": "4 m",
    "rota": "4 m",
    "mmr1": "1 y",
    "pcv_booster": "1 y",
    "menb_booster": "1 y",
    "hibmenc": "1 y",
    "mmr2": "3y4m",
    "polio_booster": "3y4m",
    "4in1": "3y4m",
}
# The finder's dose and ages (completed years on the extract date) for each COVER measure of the GP page: the
# children behind a 12-month gap are now about 1, a 24-month gap about 2, a 5-year gap 3-5 (its doses fall due
# at 3y4m). The 2022 polio campaign measure has no target, so no gap to list.
COVER_MEASURE_DOSES = {
    "cover_12m_6in1": ("6in1", 0, 1),
    "cover_12m_pcv": ("pcv", 0, 1),
    "cover_12m_menb": ("menb", 0, 1),
    "cover_12m_rota": ("rota", 0, 1),
    "cover_24m_6in1": ("6in1", 1, 2),
    "cover_24m_mmr1": ("mmr1", 1, 2),
    "cover_24m_pcv_booster": ("pcv_booster", 1, 2),
    "cover_24m_menb_booster": ("menb_booster", 1, 2),
    "cover_24m_hibmenc": ("hibmenc", 1, 2),
    "cover_5y_6in1": ("6in1", 3, 5),
    "cover_5y_mmr1": ("mmr1", 3, 5),
    "cover_5y_mmr2": ("mmr2", 3, 5),
    "cover_5y_4in1": ("4in1", 3, 5),
    "cover_5y_hibmenc": ("hibmenc", 3, 5),
    "mmr1_on_time": ("mmr1", 1, 2),
    "6in1_on_time": ("6in1", 0, 1),
}
# The finder's first view: the four doses it has always shown (eleven cards and a cohort of every gap is noise).
DEFAULT_MISSING = ("6in1", "mmr1", "mmr2", "polio_booster")
SHORT_NAMES = {
    "6in1": "6-in-1 primary",
    "pcv": "PCV",
    "menb": "MenB",
    "rota": "rotavirus",
    "mmr1": "MMR1",
    "pcv_booster": "PCV booster",
    "menb_booster": "MenB booster",
    "hibmenc": "Hib/MenC booster",
    "mmr2": "MMR2",
    "polio_booster": "polio booster",
    "4in1": "pre-school booster",
}
ETHNICITY_GROUPS = ("Asian", "Black", "Mixed", "White", "Other", "Not stated")
MAX_AGE = 18
DUE_MONTHS = (4, 12, 18, 40)  # the ages (months) at which the doses above fall due
EXPORT_LIMIT = 100_000


class CohortError(ValueError):
    """Criteria the cohort finder cannot use; the message says which and why."""


@dataclass(frozen=True)
class CohortCriteria:
    """Who to find. Empty tuples mean "any"; ``missing`` empty means no dose condition."""

    as_at: dt.date
    age_min: int = 1
    age_max: int = 9
    missing: tuple[str, ...] = tuple(MISSING_DOSES)
    match: str = "any"  # a child missing "any" of the selected doses, or "all" of them
    boroughs: tuple[str, ...] = ()
    pcns: tuple[str, ...] = ()
    practices: tuple[str, ...] = ()
    imd_quintiles: tuple[int, ...] = ()
    ethnicity_groups: tuple[str, ...] = ()
    registered_after: dt.date | None = None

    def __post_init__(self):
        problems = []
        if not (0 <= self.age_min <= self.age_max <= MAX_AGE):
            problems.append(f"ages must satisfy 0 <= from <= to <= {MAX_AGE}")
        unknown = [m for m in self.missing if m not in MISSING_DOSES]
        if unknown:
            problems.append(f"unknown doses {unknown}; choose from {list(MISSING_DOSES)}")
        if self.match not in ("any", "all"):
            problems.append("match must be 'any' or 'all'")
        if any(q not in (1, 2, 3, 4, 5) for q in self.imd_quintiles):
            problems.append("IMD quintiles are 1 (most deprived) to 5")
        if any(g not in ETHNICITY_GROUPS for g in self.ethnicity_groups):
            problems.append(f"ethnic groups are {', '.join(ETHNICITY_GROUPS)}")
        if self.as_at < EARLIEST_DATE:
            problems.append(
                f"the date must be on or after {EARLIEST_DATE.isoformat()} (the 2022 polio campaign's first day), "
                "the earliest the finder counts children on"
            )
        if problems:
            raise CohortError("; ".join(problems))

    def describe(self) -> dict[str, Any]:
        """The criteria as plain values (for the audit log and CSV names)."""
        return {
            k: (v.isoformat() if isinstance(v, dt.date) else list(v) if isinstance(v, tuple) else v)
            for k, v in asdict(self).items()
        }


def _age_sql(birth: str, day: str, unit: str) -> str:
    """Completed years or months from ``birth`` to ``day`` (``birth + N units`` as the Nth anniversary)."""
    add = "to_years" if unit == "year" else "to_months"
    return (
        f"(date_diff('{unit}', {birth}, {day}) - CASE WHEN {birth} + "
        f"{add}(CAST(date_diff('{unit}', {birth}, {day}) AS INTEGER)) > {day} THEN 1 ELSE 0 END)"
    )


def _minus_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 Feb
        return day.replace(year=day.year - years, day=28)


def _latest_birth_of_age(day: dt.date, years: int) -> dt.date:
    """The last birth date of a child aged at least ``years`` on ``day``: a 29 Feb birthday falls on 28 Feb
    in other years, so on 28 Feb of a common year a child born on 29 Feb of a leap year has had it."""
    birth = _minus_years(day, years)
    if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year) and calendar.isleap(birth.year):
        return birth.replace(day=29)
    return birth


# Per child: the date each counted dose was reached (the 4th distinct polio-containing dose date, the 3rd
# 6-in-1, the 1st and 2nd measles-containing doses on or after the 1st birthday, ...). "Fewer than n doses by
# day D" is then "the n-th dose date is missing or after D": plain date comparisons for any chosen date.
_CHILD_DOSES_SQL = """
    WITH children AS (
        SELECT patient_id, birth_date, practice_code, pcn_code, borough_code, icb_code, lsoa21_code,
               imd_quintile_national, ethnicity_group, registration_start, registration_end, death_date
        FROM patient_dim WHERE birth_date > $window_from AND birth_date < $window_to
    ),
    dated AS (
        SELECT i.patient_id, i.vaccine, i.vaccination_date,
               i.vaccination_date >= c.birth_date + INTERVAL 1 YEAR AS from_1st_birthday,
               i.vaccination_date >= c.birth_date + INTERVAL 3 YEAR AS from_3rd_birthday
        FROM immunisations AS i JOIN children AS c USING (patient_id)
    ),
    -- Two groupings, not one: with every list and date in one hash table the build ran out of memory at
    -- scale 1.0 under the app's 1 GB cap; the second reads only the vaccines it counts.
    dates AS (
        SELECT patient_id,
               list_sort(list_distinct(list(vaccination_date) FILTER (WHERE list_contains($polio, vaccine))))
                   AS polio,
               list_sort(list_distinct(list(vaccination_date) FILTER (WHERE vaccine = '6in1'))) AS six_in_one,
               list_sort(list_distinct(list(vaccination_date) FILTER (
                   WHERE list_contains($measles, vaccine) AND from_1st_birthday
               ))) AS measles
        FROM dated
        GROUP BY patient_id
    ),
    more_dates AS (
        SELECT patient_id,
               list_sort(list_distinct(list(vaccination_date) FILTER (
                   WHERE vaccine = 'MenB' AND NOT from_1st_birthday
               )))[2] AS menb_infant_2nd,
               list_sort(list_distinct(list(vaccination_date) FILTER (WHERE vaccine = 'Rotavirus')))[2] AS rota_2nd,
               min(vaccination_date) FILTER (WHERE vaccine = 'PCV' AND NOT from_1st_birthday) AS pcv_infant_1st,
               min(vaccination_date) FILTER (WHERE vaccine = 'PCV' AND from_1st_birthday) AS pcv_from_1st,
               min(vaccination_date) FILTER (WHERE vaccine = 'MenB' AND from_1st_birthday) AS menb_from_1st,
               min(vaccination_date) FILTER (WHERE vaccine = 'HibMenC' AND from_1st_birthday) AS hibmenc_from_1st,
               min(vaccination_date) FILTER (WHERE vaccine = '6in1' AND from_1st_birthday) AS six_in_one_from_1st,
               min(vaccination_date) FILTER (WHERE vaccine = '4in1' AND from_3rd_birthday) AS four_in_one_from_3rd
        FROM dated
        WHERE vaccine IN ('MenB', 'Rotavirus', 'PCV', 'HibMenC', '4in1') OR (vaccine = '6in1' AND from_1st_birthday)
        GROUP BY patient_id
    )
    SELECT c.*, d.polio[4] AS polio_4th, d.six_in_one[3] AS six_in_one_3rd, d.measles[1] AS measles_1st,
           d.measles[2] AS measles_2nd,
           -- The 18-month Hib booster is the course's 4th 6-in-1, given from the 1st birthday: met on the later
           -- of the two dates (a late 3rd primary dose after the birthday is not it).
           CASE WHEN m.six_in_one_from_1st IS NOT NULL AND len(d.six_in_one) >= 4
                THEN greatest(m.six_in_one_from_1st, d.six_in_one[4]) END AS six_in_one_booster,
           m.* EXCLUDE (patient_id, six_in_one_from_1st)
    FROM children AS c LEFT JOIN dates AS d USING (patient_id) LEFT JOIN more_dates AS m USING (patient_id)
"""
# Every day with a record of a child (immunisation, GP event, prescription, admission), for the list's "last
# contact on or before the chosen date". Written at build time (write_contact_days) sorted by patient id, so
# the list's page of children reads a few row groups rather than scanning four event tables (with the dose
# look-up below, a list in the 2022 campaign went from 374 to 122 ms at scale 1.0:
# bench/results/2026-11-27-cohort-dates.md).
CONTACT_DAYS_TABLE = "child_contact_days"
_CONTACT_DAYS_SQL = """
    SELECT DISTINCT patient_id, day FROM (
        SELECT patient_id, vaccination_date AS day FROM immunisations
        UNION ALL SELECT patient_id, event_date FROM clinical_events
        UNION ALL SELECT patient_id, issue_date FROM medications
        UNION ALL SELECT patient_id, admission_date FROM hospital_episodes
    ) WHERE patient_id IN (SELECT patient_id FROM patients WHERE birth_date > $born_after)
    ORDER BY patient_id, day
"""
# The cache adds each child's last recorded contact: every record is on or before the extract date, so on that
# date the list reads it instead of looking the page's children up.
_CACHE_SQL = f"""
    WITH doses AS ({_CHILD_DOSES_SQL}),
    contacts AS (
        SELECT patient_id, max(day) AS last_contact FROM {CONTACT_DAYS_TABLE}
        WHERE patient_id IN (SELECT patient_id FROM doses) GROUP BY patient_id
    )
    SELECT d.*, c.last_contact FROM doses AS d LEFT JOIN contacts AS c USING (patient_id)
"""  # noqa: S608 (module constants)
CACHE_DATABASE = "imm_cohort_cache"
CACHE_TABLE = f"{CACHE_DATABASE}.child_doses"
CACHE_YEARS = MAX_AGE + 1  # the cache holds every child aged 0-18 on any date the finder counts on
_cache_lock = threading.Lock()


def _dose_params() -> dict[str, Any]:
    return {"polio": list(POLIO_CONTAINING), "measles": list(MEASLES_CONTAINING)}


def cache_window(con: Any) -> tuple[dt.date, dt.date]:
    """Birth dates (exclusive bounds) of the children held by the per-process cache."""
    latest = dt.date.fromisoformat(
        con.cursor().execute("SELECT value FROM meta WHERE key = 'extract_date'").fetchone()[0]
    )
    return birth_window(latest)


def birth_window(extract_date: dt.date) -> tuple[dt.date, dt.date]:
    """Birth dates (exclusive bounds) of every child aged 0-18 on some date from :data:`EARLIEST_DATE` to
    ``extract_date``: the children the finder can count."""
    return _minus_years(EARLIEST_DATE, CACHE_YEARS) - dt.timedelta(days=1), extract_date + dt.timedelta(days=1)


def write_contact_days(con: Any, extract_date: dt.date) -> int:
    """Write :data:`CONTACT_DAYS_TABLE` (a build step): each day with a record of every child of
    :func:`birth_window`, sorted by patient id. Returns the number of rows written."""
    params = {"born_after": birth_window(extract_date)[0]}
    con.execute(f"CREATE OR REPLACE TABLE {CONTACT_DAYS_TABLE} AS {_CONTACT_DAYS_SQL}", params)  # noqa: S608
    return con.execute(f"SELECT count(*) FROM {CONTACT_DAYS_TABLE}").fetchone()[0]  # noqa: S608 (module constant)


def ensure_cache(con: Any) -> tuple[dt.date, dt.date]:
    """Build, once per database handle, the per-child dose dates of every child of :func:`birth_window`.

    Kept in an in-memory DuckDB database attached to the read-only handle (every cursor
    sees it), so a London-wide query scans one small table instead of joining the
    patient and immunisation tables. Returns the cached birth-date window.

    Built at start-up (``app.start_worker``); a process that was not warmed builds it on its first
    request, without the per-query time limit: interrupted, the build would be retried (and
    interrupted) by every later request, each waiting the full limit.
    """
    with _cache_lock, without_query_timeout():
        window = cache_window(con)
        cursor = con.cursor()
        attached = cursor.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?",
            [CACHE_DATABASE, "child_doses"],
        ).fetchone()[0]
        if not attached:
            cursor.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {CACHE_DATABASE} (READ_WRITE)")
            _build_cache(cursor, window)
    return window


# Area and group codes held as ENUMs (small integers; the same text when read): grouping 2.6 M children by
# them costs about half of grouping by text. Results are cast back to text before they leave this module.
ENUM_COLUMNS = ("practice_code", "pcn_code", "borough_code", "icb_code", "lsoa21_code", "ethnicity_group")
# Dates that may never come (a dose not given, a registration not ended, no death) held as DATE 'infinity', not
# NULL. Every test of them is "NULL or after the chosen date"; with no NULL in the column DuckDB drops the NULL
# half, and a search on a date other than the extract date took a quarter less at scale 1.0
# (bench/results/2026-11-27-cohort-open-dates.md). The rules read NULL and infinity alike (inline, no cache).
OPEN_ENDED_COLUMNS = ("registration_end", "death_date")


def _build_cache(cursor: Any, window: tuple[dt.date, dt.date]) -> None:
    staging = f"{CACHE_DATABASE}.child_doses_text"
    cursor.execute(
        f"CREATE OR REPLACE TABLE {staging} AS {_CACHE_SQL}",  # noqa: S608 (module constants)
        {"window_from": window[0], "window_to": window[1], **_dose_params()},
    )
    for column in ENUM_COLUMNS:
        cursor.execute(f"DROP TYPE IF EXISTS {CACHE_DATABASE}.{column}_values")
        cursor.execute(
            f"CREATE TYPE {CACHE_DATABASE}.{column}_values AS ENUM "  # noqa: S608 (module constants)
            f"(SELECT DISTINCT {column} FROM {staging} WHERE {column} IS NOT NULL ORDER BY {column})"
        )
    as_enums = ", ".join(f"CAST({column} AS {CACHE_DATABASE}.{column}_values) AS {column}" for column in ENUM_COLUMNS)
    never = ", ".join(
        f"coalesce({column}, DATE 'infinity') AS {column}" for column in (*DOSE_DATE_COLUMNS, *OPEN_ENDED_COLUMNS)
    )
    # Every dose's rule on the extract date, once, as one bit per dose (MISSING_ON_EXTRACT): most searches ask
    # about that date, and testing eleven rules on 2.6 M children cost about as much as the rest of a search.
    extract_day = _extract_day(window)
    mask = " | ".join(f"(CASE WHEN {rule.sql} THEN {DOSE_BITS[key]} ELSE 0 END)" for key, rule in DOSE_RULES.items())
    mask_sql = (
        f"SELECT c.* REPLACE ({as_enums}, {never}), CAST({mask} AS USMALLINT) AS {MISSING_ON_EXTRACT} "  # noqa: S608
        f"FROM {staging} AS c ORDER BY c.birth_date"
    )
    bounds = _age_bounds(cursor, extract_day, window[0], window[1], 0, CACHE_YEARS)
    params = {**_rule_params(extract_day), **bounds}
    # Sorted by birth date: every query filters on an age window, so whole row groups are skipped.
    cursor.execute(f"CREATE TABLE {CACHE_TABLE} AS {mask_sql}", _bound(mask_sql, params))  # noqa: S608
    cursor.execute(f"DROP TABLE {staging}")


@dataclass(frozen=True)
class DoseRule:
    """One dose's "due and missing on ``$as_at``" test over a cohort row ``c``, and the dose dates it reads.

    ``sql`` reads ``c.birth_date``, the age bounds ``$months_<n>`` (see :func:`_age_bounds`) and the
    per-child ``dose_dates`` columns of the cache; a cohort carries only the dose dates its flags read.
    """

    sql: str
    dose_dates: tuple[str, ...]


def _dose_rules() -> dict[str, DoseRule]:
    """The rule of every dose in :data:`MISSING_DOSES` (the module docstring gives them in words)."""

    def lacks(dose_date: str) -> str:
        return f"(c.{dose_date} IS NULL OR c.{dose_date} > $as_at)"

    def aged(months: int) -> str:
        return f"c.birth_date <= $months_{months}"

    menb_offered = "c.birth_date >= $menb_born_from"
    return {
        "6in1": DoseRule(f"({aged(4)} AND {lacks('six_in_one_3rd')})", ("six_in_one_3rd",)),
        "pcv": DoseRule(f"({aged(4)} AND {lacks('pcv_infant_1st')})", ("pcv_infant_1st",)),
        "menb": DoseRule(f"({aged(4)} AND {menb_offered} AND {lacks('menb_infant_2nd')})", ("menb_infant_2nd",)),
        # Only before the 1st birthday: the course cannot be given later (see the module docstring).
        "rota": DoseRule(f"({aged(4)} AND NOT {aged(12)} AND {lacks('rota_2nd')})", ("rota_2nd",)),
        "mmr1": DoseRule(f"({aged(12)} AND {lacks('measles_1st')})", ("measles_1st",)),
        "pcv_booster": DoseRule(f"({aged(12)} AND {lacks('pcv_from_1st')})", ("pcv_from_1st",)),
        "menb_booster": DoseRule(f"({aged(12)} AND {menb_offered} AND {lacks('menb_from_1st')})", ("menb_from_1st",)),
        "hibmenc": DoseRule(
            f"(CASE WHEN c.birth_date >= $new_schedule THEN {aged(18)} AND {lacks('six_in_one_booster')} "
            f"ELSE {aged(12)} AND {lacks('hibmenc_from_1st')} END)",
            ("six_in_one_booster", "hibmenc_from_1st"),
        ),
        "mmr2": DoseRule(
            f"(CASE WHEN c.birth_date >= $new_schedule THEN {aged(18)} ELSE {aged(40)} END AND {lacks('measles_2nd')})",
            ("measles_2nd",),
        ),
        "polio_booster": DoseRule(
            f"(CASE WHEN $as_at BETWEEN $campaign_start AND $campaign_end THEN {aged(12)} "
            f"WHEN c.birth_date >= $new_schedule THEN {aged(18)} ELSE {aged(40)} END AND {lacks('polio_4th')})",
            ("polio_4th",),
        ),
        "4in1": DoseRule(f"({aged(40)} AND {lacks('four_in_one_from_3rd')})", ("four_in_one_from_3rd",)),
    }


DOSE_RULES = _dose_rules()
# Every per-child dose date a rule reads, in the order the rules fall due.
DOSE_DATE_COLUMNS = tuple(dict.fromkeys(column for rule in DOSE_RULES.values() for column in rule.dose_dates))
# The cache's column of each child's rules on the extract date, one bit per dose (see _build_cache).
MISSING_ON_EXTRACT = "missing_on_extract"
DOSE_BITS = {key: 1 << index for index, key in enumerate(DOSE_RULES)}


def _rule_params(as_at: dt.date) -> dict[str, Any]:
    """The schedule dates every rule reads, for the chosen date ``as_at`` (the age bounds are apart)."""
    return {
        "as_at": as_at,
        "new_schedule": NEW_SCHEDULE_BORN_FROM,
        "menb_born_from": MENB_BORN_FROM,
        "campaign_start": POLIO_CAMPAIGN_START,
        "campaign_end": POLIO_CAMPAIGN_END,
    }


def flag_sql(*, on_extract_date: bool) -> dict[str, str]:
    """Each dose's "missing on the chosen date" test over a cohort row ``c``: its bit of the cache's
    :data:`MISSING_ON_EXTRACT` when the date is the extract date (the row then carries that column), else
    its rule (:data:`DOSE_RULES`; the row carries the rule's dose dates)."""
    if on_extract_date:
        return {key: f"((c.{MISSING_ON_EXTRACT} & {bit}) <> 0)" for key, bit in DOSE_BITS.items()}
    return {key: rule.sql for key, rule in DOSE_RULES.items()}


def _age_bounds(
    con: Any, as_at: dt.date, born_after: dt.date, born_by: dt.date, age_min: int, age_max: int
) -> dict[str, dt.date]:
    """The latest birth date of each age that matters on ``as_at``: ``oldest_age_min`` (aged ``age_min`` years),
    ``past_age_max`` (aged ``age_max + 1``) and ``months_<n>`` for each due age in :data:`DUE_MONTHS`.

    "Aged at least n" is "born on or before the latest date of that age" (age never falls as the birth date
    moves earlier), so ages are worked out once per candidate birth date with :func:`_age_sql`, not per child.
    Pure calendar arithmetic, remembered per arguments.
    """
    key = (as_at, born_after, born_by, age_min, age_max)
    # Read once, and returned from the local: another request's thread may clear the cache meanwhile.
    bounds = _bounds_cache.get(key)
    if bounds is None:
        thresholds = "".join(
            f", coalesce(max(day) FILTER (WHERE age_months >= {months}), DATE '0001-01-01') AS months_{months}"
            for months in DUE_MONTHS
        )
        cursor = con.cursor()
        cursor.execute(
            f"""
            WITH candidate_ages AS (
                SELECT day, {_age_sql("day", "$as_at", "year")} AS age_years,
                       {_age_sql("day", "$as_at", "month")} AS age_months
                FROM (SELECT CAST(unnest(range($born_after, $born_by + INTERVAL 1 DAY, INTERVAL 1 DAY)) AS DATE) AS day)
            )
            SELECT coalesce(max(day) FILTER (WHERE age_years >= $age_min), DATE '0001-01-01') AS oldest_age_min,
                   coalesce(max(day) FILTER (WHERE age_years >= $age_max + 1), DATE '0001-01-01') AS past_age_max
                   {thresholds}
            FROM candidate_ages
            """,  # noqa: S608 (module constants)
            {"as_at": as_at, "born_after": born_after, "born_by": born_by, "age_min": age_min, "age_max": age_max},
        )
        names = [column[0] for column in cursor.description]
        bounds = dict(zip(names, cursor.fetchone(), strict=True))
        if len(_bounds_cache) > 256:
            _bounds_cache.clear()
        _bounds_cache[key] = bounds
    return bounds


_bounds_cache: dict[tuple, dict[str, dt.date]] = {}


def _birth_window(criteria: CohortCriteria) -> tuple[dt.date, dt.date]:
    """A coarse birth-date window of the criteria's ages (exclusive, a day wider each side); the exact age test
    follows in the SQL."""
    born_after = _minus_years(criteria.as_at, criteria.age_max + 1) - dt.timedelta(days=1)
    return born_after, _latest_birth_of_age(criteria.as_at, criteria.age_min) + dt.timedelta(days=1)


def _extract_day(cached: tuple[dt.date, dt.date]) -> dt.date:
    """The extract date of the cache's birth-date window (which ends the day after it)."""
    return cached[1] - dt.timedelta(days=1)


def _reads_cache(criteria: CohortCriteria, cached: tuple[dt.date, dt.date] | None) -> bool:
    """Whether every child of the criteria's ages is in the cache (else the dose dates are derived inline)."""
    born_after, born_by = _birth_window(criteria)
    return cached is not None and cached[0] <= born_after and born_by <= cached[1]


def reads_extract_mask(criteria: CohortCriteria, cached: tuple[dt.date, dt.date] | None) -> bool:
    """Whether a search reads the cache's extract-date bits: it reads the cache, on the extract date."""
    return _reads_cache(criteria, cached) and criteria.as_at == _extract_day(cached)


def _cohort_sql(
    con: Any,
    criteria: CohortCriteria,
    scope: RowScope | None,
    cached: tuple[dt.date, dt.date] | None = None,
    flagged_doses: tuple[str, ...] | None = None,
    carried_doses: tuple[str, ...] = (),
) -> tuple[str, dict[str, Any]]:
    """SQL selecting one row per matching child (with missing flags), and its parameters.

    Each row also carries ``cache_row``, the child's row number in the cache (NULL when derived inline), so a
    page of rows can be looked up there after a sort.

    ``cached``: the birth-date window of :func:`ensure_cache`; when the criteria's children fall
    inside it the cache is read, otherwise the per-child dose dates are derived inline.
    ``con``: any DuckDB handle, for the age bounds (:func:`_age_bounds`).
    ``flagged_doses``: the doses given a ``missing_<dose>`` column (default: the ticked ones, all the
    summary needs): eleven flags on 2.6 M rows are not free.
    ``carried_doses``: doses whose dose dates the rows also carry, so a caller can test their
    :data:`DOSE_RULES` on fewer rows later (the list, on its one page).
    The parameters cover every rule; pass them through :func:`_bound` with the final SQL.
    """
    flagged_doses = criteria.missing if flagged_doses is None else flagged_doses
    as_at = criteria.as_at
    born_after, born_by = _birth_window(criteria)
    params: dict[str, Any] = {
        **_rule_params(as_at),
        "age_min": criteria.age_min,
        "age_max": criteria.age_max,
        "born_after": born_after,
        "born_by": born_by,
    }
    on_extract_date = reads_extract_mask(criteria, cached)
    if _reads_cache(criteria, cached):
        source = f"SELECT *, rowid AS cache_row FROM {CACHE_TABLE}"  # noqa: S608 (module constant)
    else:
        derived = _CHILD_DOSES_SQL.replace("$window_from", "$born_after").replace("$window_to", "$born_by")
        not_cached = "CAST(NULL AS DATE) AS last_contact, CAST(NULL AS BIGINT) AS cache_row"
        source = f"SELECT *, {not_cached} FROM ({derived})"  # noqa: S608 (module constants)
        params.update(_dose_params())
    where = []
    for key, column, values in (
        ("boroughs", "borough_code", criteria.boroughs),
        ("pcns", "pcn_code", criteria.pcns),
        ("practices", "practice_code", criteria.practices),
        ("ethnicity", "ethnicity_group", criteria.ethnicity_groups),
    ):
        if values:
            params[key] = list(values)
            if key == "ethnicity" and "Not stated" in values:
                where.append(f"(list_contains(${key}, d.{column}) OR d.{column} IS NULL)")
            else:
                where.append(f"list_contains(${key}, d.{column})")
    if criteria.imd_quintiles:
        params["imd"] = [int(q) for q in criteria.imd_quintiles]
        where.append("list_contains($imd, CAST(d.imd_quintile_national AS INTEGER))")
    if criteria.registered_after is not None:
        params["registered_after"] = criteria.registered_after
        where.append("d.registration_start > $registered_after")
    if scope is not None:  # the rows a user may see; aggregate-only views pass None
        where.append(scope.bound_filter(params))
    filters = "".join(f" AND {clause}" for clause in where)

    tests = flag_sql(on_extract_date=on_extract_date)
    flags = {key: tests[key] for key in MISSING_DOSES if key in set(flagged_doses) | set(criteria.missing)}
    # Only the dose dates wanted (none when the extract date's bits answer): the summary materialises the
    # cohort, every column of every child.
    carried = {column for key in set(flags) | set(carried_doses) for column in DOSE_RULES[key].dose_dates}
    dose_columns = [MISSING_ON_EXTRACT] if on_extract_date else [c for c in DOSE_DATE_COLUMNS if c in carried]
    joiner = " OR " if criteria.match == "any" else " AND "
    selected = joiner.join(f"missing_{key}" for key in criteria.missing) if criteria.missing else "TRUE"
    if on_extract_date and criteria.missing:  # one test of the ticked bits instead of one per dose
        ticked = sum(DOSE_BITS[key] for key in set(criteria.missing))
        selected = f"({MISSING_ON_EXTRACT} & {ticked}) " + ("<> 0" if criteria.match == "any" else f"= {ticked}")
    # The age bounds as values: compared with constants, each child costs a few date comparisons and the
    # cache's row groups outside the ages are skipped (joined to a one-row bounds table, every flag was
    # evaluated twice per child: in the join's condition and again in its projection).
    params.update(_age_bounds(con, as_at, born_after, born_by, criteria.age_min, criteria.age_max))
    sql = f"""
    WITH child_doses AS ({source}),
    cohort AS (
        SELECT d.patient_id, d.birth_date, d.practice_code, d.pcn_code, d.borough_code, d.icb_code,
               d.lsoa21_code, d.imd_quintile_national, d.ethnicity_group, d.registration_start,
               {"".join(f"d.{column}, " for column in dose_columns)}d.last_contact AS cached_last_contact,
               d.cache_row
        FROM child_doses AS d
        WHERE d.birth_date > $born_after AND d.birth_date < $born_by
          AND d.registration_start <= $as_at AND (d.registration_end IS NULL OR d.registration_end > $as_at)
          AND d.birth_date <= $oldest_age_min AND d.birth_date > $past_age_max
          AND (d.death_date IS NULL OR d.death_date > $as_at){filters}
    ),
    flagged AS (
        SELECT c.*{"".join(f", {sql_flag} AS missing_{key}" for key, sql_flag in flags.items())}
        FROM cohort AS c
    )
    SELECT * FROM flagged WHERE {selected}
    """  # noqa: S608 (identifiers and flag SQL are module constants; every value is bound)
    return sql, params


def _bound(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters ``sql`` uses: DuckDB refuses one it does not (the schedule dates, with no dose ticked)."""
    return {key: value for key, value in params.items() if re.search(rf"\${key}\b", sql)}


@dataclass(frozen=True)
class CohortSummary:
    """The cohort's size and its breakdowns (aggregate; disclosure applied when asked)."""

    size: float | None  # None only when suppressed (1-7 children)
    missing_counts: pd.DataFrame  # dose, label, children, suppressed: the ticked doses only
    by_borough: pd.DataFrame  # area_code, area_name, children, suppressed
    by_practice: pd.DataFrame  # area_code, area_name, borough_name, children, suppressed
    by_age: pd.DataFrame  # age_years, children, suppressed
    by_lsoa: pd.DataFrame  # area_code, area_name, children, suppressed (where the children live)


# The practices of a London borough, named, with their borough's name: the summary's and the maps' names.
_PRACTICE_NAMES_SQL = (
    "SELECT p.practice_code, p.practice_name, b.borough_name FROM ref_practices AS p "
    "JOIN ref_boroughs AS b USING (borough_code)"
)


def _disclosed(frame: pd.DataFrame, disclose: bool) -> pd.DataFrame:
    frame = frame.assign(suppressed=False)
    if disclose and len(frame):
        frame = disclosure.apply(frame, counts=["children"], basis=["children"])
        if "area_name" in frame:
            # Re-ordered by what is shown: the exact counts' order (largest first) told suppressed areas
            # and areas rounded to the same count apart.
            frame = (
                frame.assign(_shown=pd.to_numeric(frame["children"], errors="coerce"))
                .sort_values(["_shown", "area_name"], ascending=[False, True], na_position="last", kind="stable")
                .drop(columns="_shown")
                .reset_index(drop=True)
            )
    return frame


def cohort_summary(
    con: Any, *, criteria: CohortCriteria, scope: RowScope | None = None, disclose: bool = True
) -> CohortSummary:
    """How many children match, which doses they miss, and where: by borough, practice, age and LSOA.

    One grouping-sets query over the cohort, in one pass. ``scope`` (optional) restricts to the rows a
    user may see; aggregate-only views pass None. With ``disclose`` each count follows
    the NHS rule (1-7 suppressed, others rounded to 5), the total from the exact total.
    """
    window = ensure_cache(con)
    sql, params = _cohort_sql(con, criteria, scope, window)
    # Only the ticked doses are flagged and summed (a card each); with none ticked there are no dose counts.
    ticked = [key for key in MISSING_DOSES if key in criteria.missing]
    # The doses' flags as grouped: on the extract date the cache's bits (one small integer a child), else a flag
    # per ticked dose. Each flag's test then reads one row of those counts (``c``).
    on_extract_date = reads_extract_mask(criteria, window)
    flags = [MISSING_ON_EXTRACT] if on_extract_date else [f"missing_{key}" for key in ticked]
    tests = flag_sql(on_extract_date=True) if on_extract_date else {key: f"c.missing_{key}" for key in ticked}
    missing_sums = "".join(
        f", coalesce(sum(c.children) FILTER (WHERE {tests[key]}), 0) AS missing_{key}" for key in ticked
    )
    flag_selects = "".join(f", {flag}" for flag in flags)
    summary_sql = f"""
        -- One pass over the cohort: every grouping set's table is filled from the same scan. The totals come from
        -- the counts per combination of missing doses (the last set; with no dose ticked, the grand total) and the
        -- boroughs from their practices (a practice is in one borough). With the cohort materialised as a CTE and
        -- read five times (four grouping sets and the totals), London's 1-9 summary took 62-67 ms at scale 1.0;
        -- 50-54 ms in one pass (bench/results/2026-11-29-cohort-one-pass.md).
        WITH grouped AS MATERIALIZED (
            SELECT GROUPING(practice_code) AS g_practice, GROUPING(birth_date) AS g_age,
                   GROUPING(lsoa21_code) AS g_lsoa, CAST(borough_code AS VARCHAR) AS borough_code,
                   CAST(practice_code AS VARCHAR) AS practice_code, birth_date,
                   CAST(lsoa21_code AS VARCHAR) AS lsoa21_code{flag_selects}, count(*) AS children
            FROM ({sql})
            GROUP BY GROUPING SETS ((borough_code, practice_code), (birth_date), (lsoa21_code), ({", ".join(flags)}))
        ),
        practice_names AS ({_PRACTICE_NAMES_SQL}),
        practices AS (SELECT borough_code, practice_code, children FROM grouped WHERE g_practice = 0)
        -- One row per area of each breakdown, named and in the order shown: most children first, equal counts by
        -- code (so the order never depends on the grouping's); ages youngest first. Named, summed and sorted in
        -- pandas, the London 1-9 summary took 66 ms at scale 1.0, 58 ms in SQL (bench/results/2026-11-27-cohort-
        -- summary-sql.md).
        SELECT 'borough' AS part, p.borough_code AS area_code, coalesce(b.borough_name, 'Unknown') AS area_name,
               NULL AS borough_name, NULL AS age_years, CAST(sum(p.children) AS BIGINT) AS children
        FROM practices AS p LEFT JOIN ref_boroughs AS b USING (borough_code) GROUP BY ALL
        UNION ALL
        SELECT 'practice', p.practice_code, coalesce(n.practice_name, p.practice_code), n.borough_name, NULL,
               p.children
        FROM practices AS p LEFT JOIN practice_names AS n USING (practice_code)
        UNION ALL
        SELECT 'lsoa', coalesce(g.lsoa21_code, 'unknown'), coalesce(l.lsoa21_name, 'Residence unknown'), NULL, NULL,
               g.children
        FROM grouped AS g LEFT JOIN ref_lsoa21 AS l USING (lsoa21_code) WHERE g.g_lsoa = 0
        UNION ALL
        SELECT 'age', NULL, NULL, NULL, {_age_sql("birth_date", "$as_at", "year")} AS age_years,
               CAST(sum(children) AS BIGINT)
        FROM grouped WHERE g_age = 0 GROUP BY ALL
        UNION ALL BY NAME
        SELECT 'total' AS part, CAST(coalesce(sum(c.children), 0) AS BIGINT) AS children{missing_sums}
        FROM grouped AS c WHERE c.g_practice = 1 AND c.g_age = 1 AND c.g_lsoa = 1
        ORDER BY part, age_years, children DESC, area_code
        """  # noqa: S608 (built from module constants)
    rows = con.cursor().execute(summary_sql, _bound(summary_sql, params)).df()
    part = rows["part"].to_numpy()
    total_row = rows[part == "total"].iloc[0]
    total = float(total_row["children"])
    missing = pd.DataFrame(
        {
            "dose": ticked,
            "label": [SHORT_NAMES[k] for k in ticked],
            "children": [float(0 if pd.isna(total_row[f"missing_{k}"]) else total_row[f"missing_{k}"]) for k in ticked],
        }
    )

    def breakdown(name: str, columns: list[str]) -> pd.DataFrame:
        return rows.loc[part == name, columns].reset_index(drop=True)

    by_age = breakdown("age", ["age_years", "children"]).astype({"age_years": int})
    return CohortSummary(
        size=disclosure.disclose_count(total) if disclose else total,
        missing_counts=_disclosed(missing, disclose),
        by_borough=_disclosed(breakdown("borough", ["area_code", "children", "area_name"]), disclose),
        by_practice=_disclosed(breakdown("practice", ["area_code", "children", "area_name", "borough_name"]), disclose),
        by_age=_disclosed(by_age, disclose),
        by_lsoa=_disclosed(breakdown("lsoa", ["area_code", "children", "area_name"]), disclose),
    )


def registered_from(con: Any) -> dt.date | None:
    """The first date on which the extract holds every child registered in London: its earliest registration end.

    An extract holds the patients registered at any time in its window (the synthetic one, from three years
    before the extract date), so a child who left before the window is not in it: a cohort on an earlier date
    (the 2022 polio campaign, say) misses them. None when no registration has ended (nothing to say).
    """
    cached = _per_connection.get(con)
    if "registered_from" not in cached:
        cached["registered_from"] = con.cursor().execute("SELECT min(registration_end) FROM patient_dim").fetchone()[0]
    return cached["registered_from"]


# Values read once per database handle: names, the pickers' geography, registered_from.
_per_connection = PerConnection()


def _names(con: Any) -> dict[str, dict[str, str]]:
    """Code -> name of every practice (of a London borough) and every LSOA, read once per handle."""
    cached = _per_connection.get(con)
    if "names" not in cached:
        cursor = con.cursor()
        practices = cursor.execute(_PRACTICE_NAMES_SQL).fetchall()
        cached["names"] = {
            "practice": {code: name for code, name, _ in practices},
            "lsoa": dict(cursor.execute("SELECT lsoa21_code, lsoa21_name FROM ref_lsoa21").fetchall()),
        }
    return cached["names"]


def map_areas(con: Any, level: str) -> pd.DataFrame:
    """Code and name (area_code, area_name) of every LSOA ('lsoa') or practice ('practice'), for the maps."""
    if level not in ("lsoa", "practice"):
        raise CohortError(f"no map of {level!r}; choose 'lsoa' or 'practice'")
    names = _names(con)[level]
    return pd.DataFrame({"area_code": list(names), "area_name": list(names.values())})


LIST_COLUMNS = ("patient_id", "age", "practice_code", "practice_name", "missing", "last_contact")


def cohort_patients(
    con: Any, *, criteria: CohortCriteria, scope: RowScope, limit: int = 50, offset: int = 0
) -> tuple[pd.DataFrame, int]:
    """One page of the children matching ``criteria`` inside ``scope``, and how many there are in all.

    ``scope`` is required: the caller has already decided which rows this user may see
    (:func:`security.roles.patient_row_scope`); an empty scope returns nothing. Rows:
    pseudonymised ``patient_id``, ``age`` ("4 y 2 m"), ``practice_code``/``practice_name``,
    ``missing`` (the due doses missing, e.g. "MMR2; polio booster"), ``last_contact`` (latest
    recorded immunisation, GP event, prescription or admission on or before the chosen date).
    Ordered by practice, then oldest first, then id, so pages are stable.
    """
    limit, offset = max(1, min(int(limit), EXPORT_LIMIT)), max(0, int(offset))
    rows, total = _patient_rows(con, criteria, scope, limit, offset)
    # A DATE reaches pandas from Arrow as Python dates: the frame keeps the datetime column DuckDB's own gives.
    contacts = rows.column_names.index("last_contact")
    return rows.set_column(contacts, "last_contact", rows["last_contact"].cast(pa.timestamp("us"))).to_pandas(), total


def cohort_patients_table(con: Any, *, criteria: CohortCriteria, scope: RowScope) -> tuple[pa.Table, int]:
    """The whole list of :func:`cohort_patients` (up to :data:`EXPORT_LIMIT` children) as an Arrow table, for an
    export: the same rows and columns, with no DataFrame between the query and the file (for Hackney's 40,000
    children the frame and its text columns were half of the export; bench/results/2026-11-28-cohort-export.md).
    """
    return _patient_rows(con, criteria, scope, EXPORT_LIMIT, 0)


def _patient_rows(con: Any, criteria: CohortCriteria, scope: RowScope, limit: int, offset: int) -> tuple[pa.Table, int]:
    """A page of the list (:data:`LIST_COLUMNS`) and how many children there are in all."""
    sql, params = _patients_sql(con, criteria, scope, limit, offset)
    rows = con.cursor().sql(sql, params=params).to_arrow_table()
    # The total is counted on its own: a window count over the whole cohort would defeat the top-N sort.
    short_page = 0 < rows.num_rows < limit or (rows.num_rows == 0 and offset == 0)
    total = rows.num_rows + offset if short_page else _count(con, criteria, scope)
    texts = {
        "age": _text_by_value(rows["age_months"], age_text),
        "missing": _text_by_value(rows["missing_mask"], missing_text),
    }
    return pa.table({name: texts[name] if name in texts else rows[name] for name in LIST_COLUMNS}), total


def _text_by_value(column: pa.ChunkedArray, to_text: Any) -> pa.ChunkedArray:
    """``to_text`` of every value of ``column``, called once per distinct value: a few hundred ages and a few
    dozen sets of missing doses, not one text per child (for Hackney's whole list of 40,000 children, text built
    per child in SQL took 45 ms of the query; bench/results/2026-11-28-cohort-export.md)."""
    distinct = pc.unique(column)
    texts = pa.array([to_text(value) for value in distinct.to_pylist()], type=pa.string())
    return pc.take(texts, pc.index_in(column, value_set=distinct))


def _patients_sql(
    con: Any, criteria: CohortCriteria, scope: RowScope, limit: int, offset: int
) -> tuple[str, dict[str, Any]]:
    """The SQL and bound values of a page of the list: the age in months and a bit mask of the missing doses
    (:data:`DOSE_BITS`), which the callers write as text."""
    if not isinstance(scope, RowScope):
        raise CohortError("a patient list needs the user's row scope")
    window = ensure_cache(con)
    # Only the ticked doses are tested on every matching child; each missing dose is named on the page's rows
    # alone. On the extract date the rows carry the cache's bits; on another date the page's children are looked
    # up in the cache for every dose date, by row number. Carried through the sort for every matching child the
    # dates cost 7-16 ms at scale 1.0; looked up by patient id they cost a scan of the cache (the list of every
    # gap a month back, all London: 158 ms by patient id, 145 ms by row number; bench/results/2026-11-27-cohort-
    # open-dates.md).
    on_extract_date = reads_extract_mask(criteria, window)
    look_up_doses = _reads_cache(criteria, window) and not on_extract_date
    carried = () if look_up_doses else tuple(MISSING_DOSES)
    sql, params = _cohort_sql(con, criteria, scope, window, carried_doses=carried)
    params.update({"limit": limit, "offset": offset})
    tests = flag_sql(on_extract_date=on_extract_date)
    missing_mask = " | ".join(f"CASE WHEN {tests[key]} THEN {DOSE_BITS[key]} ELSE 0 END" for key in MISSING_DOSES)
    # The cache's last contact holds every record, so it is right only on (or after) the extract date; then it is
    # read off the page's own rows (a join of the page to itself sorted the page twice).
    cached_contacts = CACHE_TABLE in sql and criteria.as_at >= _extract_day(window)
    page_rows = "SELECT * FROM sorted_page"
    if look_up_doses:
        page_rows = (
            f"SELECT p.patient_id, p.birth_date, p.practice_code, "  # noqa: S608 (module constants)
            f"{''.join(f'd.{column}, ' for column in DOSE_DATE_COLUMNS)}p.cached_last_contact "
            f"FROM sorted_page AS p JOIN {CACHE_TABLE} AS d ON d.rowid = p.cache_row"
        )
    if cached_contacts:
        contacts_cte, last_contact, contacts_join = "", "c.cached_last_contact", ""
    else:
        contacts_cte = f""",
        contacts AS (
            SELECT patient_id, max(day) AS last_contact FROM {CONTACT_DAYS_TABLE}
            WHERE patient_id IN (SELECT patient_id FROM page) AND day <= $as_at GROUP BY patient_id
        )"""  # noqa: S608 (module constants)
        last_contact, contacts_join = "k.last_contact", "LEFT JOIN contacts AS k USING (patient_id)"
    page_sql = f"""
        WITH found AS ({sql}),
        sorted_page AS (
            SELECT * REPLACE (CAST(practice_code AS VARCHAR) AS practice_code) FROM found
            ORDER BY practice_code, birth_date, patient_id LIMIT $limit OFFSET $offset
        ),
        page AS ({page_rows}){contacts_cte}
        SELECT c.patient_id, {_age_sql("c.birth_date", "$as_at", "month")} AS age_months, c.practice_code,
               r.practice_name, CAST({missing_mask} AS USMALLINT) AS missing_mask, {last_contact} AS last_contact
        FROM page AS c
        {contacts_join}
        LEFT JOIN ref_practices AS r USING (practice_code)
        ORDER BY c.practice_code, c.birth_date, c.patient_id
        """  # noqa: S608 (built from module constants)
    return page_sql, _bound(page_sql, params)


def age_text(months: int) -> str:
    """An age in completed months as the list shows it: 50 -> "4 y 2 m"."""
    return f"{int(months) // 12} y {int(months) % 12} m"


def missing_text(mask: int) -> str:
    """The doses whose :data:`DOSE_BITS` are set in ``mask``, by short name in schedule order ("MMR2; polio
    booster"), or "none due"."""
    return "; ".join(SHORT_NAMES[key] for key in MISSING_DOSES if int(mask) & DOSE_BITS[key]) or "none due"


def _count(con: Any, criteria: CohortCriteria, scope: RowScope | None) -> int:
    sql, params = _cohort_sql(con, criteria, scope, ensure_cache(con))
    return int(con.cursor().execute(f"SELECT count(*) FROM ({sql})", _bound(sql, params)).fetchone()[0])  # noqa: S608


def count_children(con: Any, *, criteria: CohortCriteria, scope: RowScope | None = None) -> int:
    """The exact number of matching children (inside ``scope`` when given); for tests and the benchmark."""
    return _count(con, criteria, scope)


def geography_options(con: Any) -> dict[str, pd.DataFrame]:
    """Boroughs, PCNs and practices (code, name, and parents) for the finder's pickers, by name.

    Read once per database handle (every render and every click checks the chosen codes against
    them); the frames are shared, so callers must not change them.
    """
    cached = _per_connection.get(con)
    if "geography" not in cached:
        cached["geography"] = _read_geography(con.cursor())
    return cached["geography"]


def _read_geography(cursor: Any) -> dict[str, pd.DataFrame]:
    return {
        "borough": cursor.execute(
            "SELECT borough_code AS code, borough_name AS name, icb_code FROM ref_boroughs ORDER BY borough_name"
        ).df(),
        "pcn": cursor.execute(
            "SELECT pcn_code AS code, any_value(pcn_name) AS name, any_value(borough_code) "
            "AS borough_code FROM ref_practices GROUP BY pcn_code ORDER BY name"
        ).df(),
        "practice": cursor.execute(
            "SELECT practice_code AS code, practice_name AS name, pcn_code, borough_code, icb_code "
            "FROM ref_practices ORDER BY practice_name, practice_code"
        ).df(),
    }
