"""Cohort finder rules on hand-written children, at the boundaries of age, due dates, doses and scope.

The chosen date is the extract date 2026-10-31 unless a test says otherwise. Practice A
(E83003) is in Barnet, practice B (F84003) in Hackney.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from queries import immunisation_cohort as cohort
from security.roles import RowScope
from tests.spec.helpers import build, d, facts, jab, patient

AS_AT = dt.date(2026, 10, 31)
PRACTICE_B = "F84003"
BARNET, HACKNEY = "E09000003", "E09000012"
LSOA_Q2 = "E01000196"  # Barnet 028A, national IMD quintile 2 (LSOA_A is quintile 3)


def primary(patient_id: str, born: str) -> list[dict]:
    """Three 6-in-1 doses at 2, 3 and 4 months (three polio-containing doses)."""
    birth = d(born)
    return [jab(patient_id, (birth + dt.timedelta(days=days)).isoformat(), "6in1") for days in (60, 90, 120)]


CHILDREN = [
    # Age boundaries on 2026-10-31.
    patient("2025-10-31", patient_id="TURNS_1_TODAY"),
    patient("2025-11-01", patient_id="AGED_0"),
    patient("2016-11-01", patient_id="AGED_9"),
    patient("2016-10-31", patient_id="TURNS_10_TODAY"),
    # MMR1: a dose the day before the 1st birthday is not valid; on the birthday it is.
    patient("2023-03-15", patient_id="MMR1_TOO_EARLY"),
    patient("2023-03-15", patient_id="MMR1_ON_BIRTHDAY"),
    patient("2023-03-15", patient_id="MMR1_AFTER_DATE"),
    # MMR2 (old schedule): due at 3 years 4 months.
    patient("2023-07-01", patient_id="OLD_3Y4M_TOMORROW"),  # + 40 months = 2026-11-01: not yet due
    patient("2023-06-30", patient_id="OLD_3Y4M_YESTERDAY"),  # + 40 months = 2026-10-30: due
    # MMR2 (new schedule, born from 1 Jul 2024): due at 18 months.
    patient("2024-07-01", patient_id="NEW_18M"),  # 18 months on 2026-01-01: due
    # 6-in-1: a duplicated record of one dose is one dose.
    patient("2022-01-10", patient_id="SIX_DUPLICATE"),
    # Polio booster: 3 doses at age 4 (old schedule, due) vs 4 doses; 3 doses at age 2 (not yet due).
    patient("2021-05-05", patient_id="POLIO_3_AGED_5"),
    patient("2021-05-05", patient_id="POLIO_4_AGED_5"),
    patient("2024-02-02", patient_id="POLIO_3_AGED_2"),
    # Registration and death on the chosen date.
    patient("2020-01-01", patient_id="LEFT", registration_end="2026-10-31"),
    patient("2020-01-01", patient_id="DIED", death_date="2026-10-01"),
    patient("2020-01-01", patient_id="NEW_REGISTRANT", registration_start="2026-09-01"),
    # Other practice, deprivation and ethnicity.
    patient("2020-01-01", patient_id="PRACTICE_B_CHILD", practice_code=PRACTICE_B, lsoa21_code=None),
    patient("2020-01-01", patient_id="DEPRIVED_Q2", lsoa21_code=LSOA_Q2, ethnicity="D"),
    patient("2020-01-01", patient_id="NO_ETHNICITY", ethnicity=None),
]

JABS = [
    jab("MMR1_TOO_EARLY", "2024-03-14", "MMR"),
    jab("MMR1_ON_BIRTHDAY", "2024-03-15", "MMR"),
    jab("MMR1_AFTER_DATE", "2026-10-01", "MMR"),
    jab("OLD_3Y4M_TOMORROW", "2024-07-05", "MMR"),
    jab("OLD_3Y4M_YESTERDAY", "2024-07-05", "MMR"),
    jab("NEW_18M", "2025-07-05", "MMRV"),
    *primary("SIX_DUPLICATE", "2022-01-10")[:2],
    jab("SIX_DUPLICATE", "2022-04-10", "6in1"),  # the second dose recorded twice
    *primary("POLIO_3_AGED_5", "2021-05-05"),
    *primary("POLIO_4_AGED_5", "2021-05-05"),
    jab("POLIO_4_AGED_5", "2024-09-10", "4in1"),
    *primary("POLIO_3_AGED_2", "2024-02-02"),
]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    connection = build(tmp_path_factory.mktemp("cohort"), patients=CHILDREN, immunisations=JABS)
    yield connection
    connection.close()


def found(con, as_at: dt.date = AS_AT, **criteria) -> set[str]:
    """Patient ids the finder returns for ``criteria`` with an all-London scope (every child visible)."""
    scope = RowScope(borough_codes=(BARNET, HACKNEY))
    rows, total = cohort.cohort_patients(
        con, criteria=cohort.CohortCriteria(as_at=as_at, **criteria), scope=scope, limit=1000
    )
    assert total == len(rows)
    return set(rows["patient_id"])


def flags(con, patient_id: str, **criteria) -> str:
    scope = RowScope(borough_codes=(BARNET, HACKNEY))
    rows, _ = cohort.cohort_patients(
        con, criteria=cohort.CohortCriteria(as_at=AS_AT, missing=(), **criteria), scope=scope, limit=1000
    )
    return rows.set_index("patient_id").loc[patient_id, "missing"]


def test_age_in_completed_years_on_the_date(con):
    everyone = found(con, age_min=0, age_max=18, missing=())
    aged_1_to_9 = found(con, age_min=1, age_max=9, missing=())
    assert {"TURNS_1_TODAY", "AGED_9"} <= aged_1_to_9
    assert not {"AGED_0", "TURNS_10_TODAY"} & aged_1_to_9
    assert {"AGED_0", "TURNS_10_TODAY"} <= everyone


def test_registered_and_alive_on_the_date(con):
    everyone = found(con, age_min=0, age_max=18, missing=())
    assert "NEW_REGISTRANT" in everyone
    assert not {"LEFT", "DIED"} & everyone
    before_registration = cohort.CohortCriteria(as_at=d("2026-08-31"), age_min=0, age_max=18, missing=())
    rows, _ = cohort.cohort_patients(con, criteria=before_registration, scope=RowScope(borough_codes=(BARNET,)))
    assert "NEW_REGISTRANT" not in set(rows["patient_id"]) and "LEFT" in set(rows["patient_id"])
    assert found(con, age_min=0, age_max=18, missing=(), registered_after=d("2026-08-31")) == {"NEW_REGISTRANT"}
    assert found(con, age_min=0, age_max=18, missing=(), registered_after=d("2026-09-01")) == set()


def test_mmr1_counts_doses_from_the_first_birthday_up_to_the_date(con):
    assert "MMR1" in flags(con, "MMR1_TOO_EARLY").split("; ")
    assert "MMR1" not in flags(con, "MMR1_ON_BIRTHDAY").split("; ")
    missing_mmr1 = found(con, missing=("mmr1",))
    assert "MMR1_TOO_EARLY" in missing_mmr1
    assert not {"MMR1_ON_BIRTHDAY", "MMR1_AFTER_DATE"} & missing_mmr1
    # A dose given after the chosen date does not count on that date.
    day_before = cohort.CohortCriteria(as_at=d("2026-09-30"), missing=("mmr1",))
    rows, _ = cohort.cohort_patients(con, criteria=day_before, scope=RowScope(borough_codes=(BARNET,)))
    assert "MMR1_AFTER_DATE" in set(rows["patient_id"])
    # MMR1 is not due before the 1st birthday.
    assert "AGED_0" not in found(con, age_min=0, missing=("mmr1",))


def test_mmr2_due_at_3y4m_or_18_months_on_the_new_schedule(con):
    missing_mmr2 = found(con, missing=("mmr2",))
    assert "OLD_3Y4M_YESTERDAY" in missing_mmr2
    assert "OLD_3Y4M_TOMORROW" not in missing_mmr2
    assert "NEW_18M" in missing_mmr2  # one MMRV at 12 months; second due at 18 months


def test_six_in_one_counts_distinct_dates(con):
    assert "6-in-1 primary" in flags(con, "SIX_DUPLICATE").split("; ")
    assert "6-in-1 primary" not in flags(con, "POLIO_3_AGED_5").split("; ")


def test_polio_booster_due_by_schedule_and_for_everyone_1_to_9_in_the_2022_campaign(con):
    missing_booster = found(con, missing=("polio_booster",))
    assert "POLIO_3_AGED_5" in missing_booster
    assert "POLIO_4_AGED_5" not in missing_booster
    assert "POLIO_3_AGED_2" not in missing_booster  # routine booster due at 3y4m
    in_campaign = cohort.CohortCriteria(as_at=dt.date(2022, 9, 1), age_min=1, age_max=9, missing=("polio_booster",))
    rows, _ = cohort.cohort_patients(con, criteria=in_campaign, scope=RowScope(borough_codes=(BARNET,)), limit=1000)
    # On 1 Sep 2022 POLIO_4_AGED_5 (aged 1) had 3 doses: due a booster in the campaign.
    assert "POLIO_4_AGED_5" in set(rows["patient_id"])


def test_any_versus_all_of_the_ticked_doses(con):
    any_of = found(con, missing=("mmr1", "6in1"), match="any")
    all_of = found(con, missing=("mmr1", "6in1"), match="all")
    assert all_of <= any_of
    # SIX_DUPLICATE misses both; POLIO_3_AGED_5 (complete 6-in-1, no MMR) misses MMR1 only.
    assert "SIX_DUPLICATE" in all_of
    assert "POLIO_3_AGED_5" in any_of and "POLIO_3_AGED_5" not in all_of


def test_geography_deprivation_and_ethnicity_filters(con):
    assert found(con, missing=(), practices=(PRACTICE_B,)) == {"PRACTICE_B_CHILD"}
    assert found(con, missing=(), boroughs=(HACKNEY,)) == {"PRACTICE_B_CHILD"}
    assert found(con, missing=(), imd_quintiles=(2,)) == {"DEPRIVED_Q2"}
    assert found(con, missing=(), ethnicity_groups=("Mixed",)) == {"DEPRIVED_Q2"}
    assert "NO_ETHNICITY" in found(con, missing=(), ethnicity_groups=("Not stated",))


def test_a_gp_team_scope_never_returns_another_practices_children(con):
    own_practice = RowScope(practice_codes=("E83003",))
    for criteria in (
        cohort.CohortCriteria(as_at=AS_AT, age_min=0, age_max=18, missing=()),
        cohort.CohortCriteria(as_at=AS_AT, missing=(), practices=(PRACTICE_B,)),
        cohort.CohortCriteria(as_at=AS_AT, missing=(), boroughs=(HACKNEY,)),
    ):
        rows, total = cohort.cohort_patients(con, criteria=criteria, scope=own_practice, limit=1000)
        assert set(rows["practice_code"]) <= {"E83003"}
        assert "PRACTICE_B_CHILD" not in set(rows["patient_id"])
        assert total == len(rows)
    rows, _ = cohort.cohort_patients(
        con, criteria=cohort.CohortCriteria(as_at=AS_AT, missing=()), scope=RowScope(), limit=1000
    )
    assert rows.empty  # an empty scope permits nothing


def test_a_list_needs_a_scope(con):
    with pytest.raises(cohort.CohortError):
        cohort.cohort_patients(con, criteria=cohort.CohortCriteria(as_at=AS_AT), scope=None)


def test_summary_counts_the_same_children_as_the_list(con):
    criteria = cohort.CohortCriteria(as_at=AS_AT, age_min=0, age_max=18)
    summary = cohort.cohort_summary(con, criteria=criteria, disclose=False)
    listed = found(con, age_min=0, age_max=18)
    assert summary.size == len(listed)
    assert dict(zip(summary.by_borough["area_code"], summary.by_borough["children"], strict=True)) == {
        BARNET: len(listed) - 1,
        HACKNEY: 1,
    }
    by_age = dict(zip(summary.by_age["age_years"], summary.by_age["children"], strict=True))
    assert sum(by_age.values()) == len(listed)
    missing = dict(zip(summary.missing_counts["dose"], summary.missing_counts["children"], strict=True))
    assert missing["mmr1"] == len(found(con, age_min=0, age_max=18, missing=("mmr1",)))
    # Each breakdown named and in the order shown: most children first, ages youngest first; the child with no
    # recorded residence under "Residence unknown".
    assert list(summary.by_borough["area_code"]) == [BARNET, HACKNEY]
    assert list(summary.by_borough["area_name"]) == ["Barnet", "Hackney"]
    assert list(summary.by_age["age_years"]) == sorted(by_age)
    for breakdown in (summary.by_practice, summary.by_lsoa):
        assert list(breakdown["children"]) == sorted(breakdown["children"], reverse=True)
    residence = summary.by_lsoa.set_index("area_code").loc["unknown"]
    assert residence["area_name"] == "Residence unknown" and residence["children"] == 1
    assert summary.by_practice.set_index("area_code").loc[PRACTICE_B, "borough_name"] == "Hackney"
    # Disclosed: Hackney's single child is suppressed, never shown as 0 or 1.
    safe = cohort.cohort_summary(con, criteria=criteria, disclose=True)
    hackney = safe.by_borough.set_index("area_code").loc[HACKNEY]
    assert hackney["children"] is None and bool(hackney["suppressed"])


def test_criteria_are_checked():
    with pytest.raises(cohort.CohortError):
        cohort.CohortCriteria(as_at=AS_AT, age_min=5, age_max=2)
    with pytest.raises(cohort.CohortError):
        cohort.CohortCriteria(as_at=AS_AT, missing=("hpv",))
    with pytest.raises(cohort.CohortError):
        cohort.CohortCriteria(as_at=AS_AT, imd_quintiles=(6,))


@pytest.mark.parametrize("as_at", [AS_AT, d("2022-09-01"), d("2024-07-15")])
@pytest.mark.parametrize("missing", [(), ("polio_booster",), ("mmr1", "mmr2"), ("6in1",)])
def test_the_cache_gives_the_same_children_as_the_tables(con, as_at, missing):
    """The same children with the same missing doses, though the cache holds a date that never came (a dose not
    given, a registration not ended, no death) as 'infinity' where the tables hold NULL."""
    criteria = cohort.CohortCriteria(as_at=as_at, age_min=0, age_max=9, missing=missing)

    def flags(window):
        sql, params = cohort._cohort_sql(con, criteria, None, window, flagged_doses=tuple(cohort.MISSING_DOSES))
        assert (cohort.CACHE_TABLE in sql) == (window is not None)
        columns = ", ".join(f"missing_{key}" for key in cohort.MISSING_DOSES)
        flags_sql = f"SELECT patient_id, {columns} FROM ({sql})"  # noqa: S608
        return {row[0]: row[1:] for row in con.cursor().execute(flags_sql, cohort._bound(flags_sql, params)).fetchall()}

    window = cohort.ensure_cache(con)
    by_cache = flags(window)
    assert by_cache == flags(None)
    assert by_cache or missing  # with no dose ticked, every registered child aged 0-9 is found


def test_the_cache_holds_dates_that_never_came_as_infinity(con):
    """A NULL left in these columns would bring back the "IS NULL OR" half of every test of them."""
    cohort.ensure_cache(con)
    columns = (*cohort.DOSE_DATE_COLUMNS, *cohort.OPEN_ENDED_COLUMNS)
    counts = ", ".join(f"count(*) FILTER (WHERE {c} IS NULL), count(*) FILTER (WHERE isinf({c}))" for c in columns)
    row = con.cursor().execute(f"SELECT {counts} FROM {cohort.CACHE_TABLE}").fetchone()  # noqa: S608
    nulls, infinite = dict(zip(columns, row[0::2], strict=True)), dict(zip(columns, row[1::2], strict=True))
    assert nulls == dict.fromkeys(columns, 0)
    # The fixture has children still registered, alive and without some doses: each column holds infinity.
    assert all(infinite.values()), infinite


@pytest.mark.parametrize("as_at", [AS_AT, d("2025-06-30")])
def test_last_contact_is_the_latest_record_on_or_before_the_date(con, as_at):
    criteria = cohort.CohortCriteria(as_at=as_at, age_min=0, age_max=18, missing=())
    rows, total = cohort.cohort_patients(
        con, criteria=criteria, scope=RowScope(borough_codes=(BARNET, HACKNEY)), limit=1000
    )
    expected = dict(
        con.execute(
            "SELECT patient_id, max(vaccination_date) FROM immunisations WHERE vaccination_date <= ? GROUP BY ALL",
            [as_at],
        ).fetchall()
    )
    shown = {
        pid: (None if pd.isna(day) else pd.Timestamp(day).date())
        for pid, day in zip(rows["patient_id"], rows["last_contact"], strict=True)
    }
    assert shown == {pid: expected.get(pid) for pid in shown}
    assert total == len(rows) > 0
    # Paging: the pages together are the whole list, in a stable order.
    first, total_1 = cohort.cohort_patients(
        con, criteria=criteria, scope=RowScope(borough_codes=(BARNET, HACKNEY)), limit=5
    )
    second, total_2 = cohort.cohort_patients(
        con, criteria=criteria, scope=RowScope(borough_codes=(BARNET, HACKNEY)), limit=5, offset=5
    )
    assert total_1 == total_2 == total
    assert list(first["patient_id"]) + list(second["patient_id"]) == list(rows["patient_id"])[:10]


# Children with no doses at all, born on every day of months around the due ages of the dates below (month
# ends, 29 Feb): each is missing exactly the doses due at their age, so the flags show where the due ages fall.
BIRTH_MONTHS = ("2016-10", "2017-02", "2022-02", "2022-11", "2023-02", "2023-06", "2024-02", "2024-06", "2025-06")
AGE_DATES = ("2026-10-31", "2026-02-28", "2025-02-28", "2026-06-30", "2024-07-15", "2022-09-01", "2025-03-31")


@pytest.fixture(scope="module")
def unvaccinated(tmp_path_factory):
    children = []
    for month in BIRTH_MONTHS:
        first = d(f"{month}-01")
        day = first
        while day.month == first.month:
            children.append(patient(day.isoformat(), patient_id=f"BORN_{day.isoformat()}"))
            day += dt.timedelta(days=1)
    connection = build(tmp_path_factory.mktemp("unvaccinated"), patients=children, immunisations=[])
    yield connection
    connection.close()


@pytest.mark.parametrize("as_at", AGE_DATES)
@pytest.mark.parametrize(("age_min", "age_max"), [(0, 18), (1, 9), (2, 3)])
def test_due_ages_and_age_range_agree_with_each_childs_own_age(unvaccinated, as_at, age_min, age_max):
    """The finder compares birth dates with the latest birth date of each age; the reference works out every
    child's age in years and months on its own (the same calendar rule) and applies the due ages to it."""
    criteria = cohort.CohortCriteria(as_at=d(as_at), age_min=age_min, age_max=age_max, missing=())
    sql, params = cohort._cohort_sql(
        unvaccinated, criteria, None, cohort.ensure_cache(unvaccinated), flagged_doses=tuple(cohort.MISSING_DOSES)
    )
    columns = ", ".join(f"missing_{key}" for key in cohort.MISSING_DOSES)
    flags_sql = f"SELECT patient_id, {columns} FROM ({sql})"  # noqa: S608
    shown = {
        row[0]: dict(zip(cohort.MISSING_DOSES, row[1:], strict=True))
        for row in unvaccinated.execute(flags_sql, cohort._bound(sql, params)).fetchall()
    }
    years, months = (cohort._age_sql("birth_date", "$day", unit) for unit in ("year", "month"))
    ages = unvaccinated.execute(
        f"SELECT patient_id, birth_date, {years}, {months} FROM patient_dim WHERE birth_date <= $day",  # noqa: S608
        {"day": d(as_at)},
    ).fetchall()
    in_campaign = cohort.POLIO_CAMPAIGN_START <= d(as_at) <= cohort.POLIO_CAMPAIGN_END
    expected = {}
    for patient_id, birth_date, years, months in ages:
        if not age_min <= years <= age_max:
            continue
        new_schedule = birth_date >= cohort.NEW_SCHEDULE_BORN_FROM
        expected[patient_id] = {
            "polio_booster": months >= (12 if in_campaign else 18 if new_schedule else 40),
            "mmr1": months >= 12,
            "mmr2": months >= (18 if new_schedule else 40),
            "6in1": months >= 4,
            "pcv": months >= 4,
            "menb": months >= 4,
            "rota": 4 <= months < 12,
            "pcv_booster": months >= 12,
            "menb_booster": months >= 12,
            "hibmenc": months >= (18 if new_schedule else 12),
            "4in1": months >= 40,
        }
    assert shown == expected
    assert any(any(due.values()) for due in expected.values()) or not expected


def test_codes_with_no_children_find_nobody(con):
    """Area and group codes are held as the values the cache has; a code it lacks matches nobody (no error)."""
    assert found(con, missing=(), practices=("Y99999",)) == set()
    assert found(con, missing=(), boroughs=("E09000033",), ethnicity_groups=("Other",)) == set()
    summary = cohort.cohort_summary(
        con, criteria=cohort.CohortCriteria(as_at=AS_AT, missing=(), pcns=("U00000",)), disclose=False
    )
    assert summary.size == 0 and summary.by_lsoa.empty


# The doses added for the GP page's every COVER measure, at their boundaries (chosen date 2026-10-31).
SCHEDULE_CHILDREN = [
    # Old schedule, aged 3 y 7 m: infant doses are those before the 1st birthday, boosters on or after it.
    *(patient("2023-03-15", patient_id=pid) for pid in ("PCV_DAY_BEFORE_1ST", "PCV_ON_1ST", "MENB_2_INFANT")),
    *(patient("2023-03-15", patient_id=pid) for pid in ("MENB_1_INFANT_1_ON_1ST", "HIBMENC_DAY_BEFORE_1ST")),
    patient("2023-03-15", patient_id="HIBMENC_ON_1ST"),
    patient("2023-03-15", patient_id="BOOSTER_AFTER_DATE"),
    # New schedule (born from 1 Jul 2024), aged 2 y 3 m: the Hib booster is the course's 4th 6-in-1, on or after
    # the 1st birthday (a late 3rd primary dose after it is not the booster).
    patient("2024-07-01", patient_id="NEW_HIBMENC_ONLY"),
    patient("2024-07-01", patient_id="NEW_6IN1_ON_1ST"),
    patient("2024-07-01", patient_id="NEW_6IN1_DAY_BEFORE_1ST"),
    patient("2024-07-01", patient_id="NEW_LATE_3RD_ON_1ST"),
    # Rotavirus: two distinct dates before the 1st birthday; never flagged from the 1st birthday.
    *(patient("2026-05-01", patient_id=pid) for pid in ("ROTA_1", "ROTA_DUPLICATE", "ROTA_2")),
    patient("2025-10-31", patient_id="ROTA_NONE_TURNS_1_TODAY"),
    patient("2025-11-01", patient_id="ROTA_NONE_AGED_11M"),
    # Pre-school booster, due at 3 y 4 m: reached on 2026-10-30 with the dose on 2026-10-31; due tomorrow.
    patient("2023-06-30", patient_id="PRESCHOOL_3Y4M_YESTERDAY"),
    patient("2023-07-01", patient_id="PRESCHOOL_NOT_YET_DUE"),
    # A 4-in-1 as an infant (a catch-up primary dose) is not the pre-school booster; one on the 3rd birthday is.
    patient("2022-03-15", patient_id="PRESCHOOL_4IN1_AS_INFANT"),
    patient("2022-03-15", patient_id="PRESCHOOL_4IN1_ON_3RD"),
    # MenB began in Sep 2015 for babies born from 1 May 2015 (catch-up): older children were never offered it.
    patient("2015-04-30", patient_id="MENB_NEVER_OFFERED"),
    patient("2015-05-01", patient_id="MENB_FIRST_OFFERED"),
]
NEW_INFANT_6IN1 = ("2024-09-01", "2024-10-01", "2024-11-01")
SCHEDULE_JABS = [
    jab("PCV_DAY_BEFORE_1ST", "2024-03-14", "PCV"),
    jab("PCV_ON_1ST", "2024-03-15", "PCV"),
    jab("MENB_2_INFANT", "2023-05-15", "MenB"),
    jab("MENB_2_INFANT", "2023-07-15", "MenB"),
    jab("MENB_1_INFANT_1_ON_1ST", "2023-05-15", "MenB"),
    jab("MENB_1_INFANT_1_ON_1ST", "2024-03-15", "MenB"),
    jab("HIBMENC_DAY_BEFORE_1ST", "2024-03-14", "HibMenC"),
    jab("HIBMENC_ON_1ST", "2024-03-15", "HibMenC"),
    jab("BOOSTER_AFTER_DATE", "2026-10-31", "PCV"),
    jab("NEW_HIBMENC_ONLY", "2025-07-01", "HibMenC"),
    *(jab(pid, day, "6in1") for pid in ("NEW_6IN1_ON_1ST", "NEW_6IN1_DAY_BEFORE_1ST") for day in NEW_INFANT_6IN1),
    jab("NEW_6IN1_ON_1ST", "2025-07-01", "6in1"),
    jab("NEW_6IN1_DAY_BEFORE_1ST", "2025-06-30", "6in1"),
    *(jab("NEW_LATE_3RD_ON_1ST", day, "6in1") for day in (*NEW_INFANT_6IN1[:2], "2025-07-01")),
    jab("ROTA_1", "2026-07-01", "Rotavirus"),
    jab("ROTA_DUPLICATE", "2026-07-01", "Rotavirus"),
    jab("ROTA_DUPLICATE", "2026-07-01", "Rotavirus"),
    jab("ROTA_2", "2026-07-01", "Rotavirus"),
    jab("ROTA_2", "2026-08-01", "Rotavirus"),
    jab("PRESCHOOL_3Y4M_YESTERDAY", "2026-10-31", "4in1"),
    jab("PRESCHOOL_4IN1_AS_INFANT", "2022-07-15", "4in1"),
    jab("PRESCHOOL_4IN1_ON_3RD", "2025-03-15", "4in1"),
]


@pytest.fixture(scope="module")
def schedule(tmp_path_factory):
    connection = build(tmp_path_factory.mktemp("schedule"), patients=SCHEDULE_CHILDREN, immunisations=SCHEDULE_JABS)
    yield connection
    connection.close()


def missing_one(con, dose: str, as_at: dt.date = AS_AT) -> set[str]:
    return found(con, as_at=as_at, age_min=0, age_max=18, missing=(dose,))


@pytest.mark.parametrize(
    ("dose", "missing", "not_missing"),
    [
        ("pcv", {"PCV_ON_1ST", "HIBMENC_ON_1ST"}, {"PCV_DAY_BEFORE_1ST"}),
        ("pcv_booster", {"PCV_DAY_BEFORE_1ST"}, {"PCV_ON_1ST", "BOOSTER_AFTER_DATE"}),
        ("menb", {"MENB_1_INFANT_1_ON_1ST", "PCV_ON_1ST"}, {"MENB_2_INFANT"}),
        ("menb_booster", {"MENB_2_INFANT"}, {"MENB_1_INFANT_1_ON_1ST"}),
        ("menb", {"MENB_FIRST_OFFERED"}, {"MENB_NEVER_OFFERED"}),
        ("menb_booster", {"MENB_FIRST_OFFERED"}, {"MENB_NEVER_OFFERED"}),
        ("hibmenc", {"HIBMENC_DAY_BEFORE_1ST", "NEW_HIBMENC_ONLY", "NEW_6IN1_DAY_BEFORE_1ST"}, {"HIBMENC_ON_1ST"}),
        ("hibmenc", {"NEW_LATE_3RD_ON_1ST"}, set()),
        ("hibmenc", set(), {"NEW_6IN1_ON_1ST"}),
        ("rota", {"ROTA_1", "ROTA_DUPLICATE", "ROTA_NONE_AGED_11M"}, {"ROTA_2", "ROTA_NONE_TURNS_1_TODAY"}),
        ("4in1", {"HIBMENC_ON_1ST"}, {"PRESCHOOL_3Y4M_YESTERDAY", "PRESCHOOL_NOT_YET_DUE"}),
        ("4in1", {"PRESCHOOL_4IN1_AS_INFANT"}, {"PRESCHOOL_4IN1_ON_3RD"}),
    ],
)
def test_new_doses_at_their_boundaries(schedule, dose, missing, not_missing):
    found_missing = missing_one(schedule, dose)
    assert missing <= found_missing
    assert not not_missing & found_missing


@pytest.mark.parametrize(
    ("dose", "missing", "not_missing"),
    [
        # The dose on 2026-10-31 is after the chosen date 2026-10-30; the booster fell due that very day.
        ("pcv_booster", {"BOOSTER_AFTER_DATE"}, set()),
        ("4in1", {"PRESCHOOL_3Y4M_YESTERDAY"}, {"PRESCHOOL_NOT_YET_DUE"}),
    ],
)
def test_new_doses_the_day_before_the_dose(schedule, dose, missing, not_missing):
    found_missing = missing_one(schedule, dose, as_at=d("2026-10-30"))
    assert missing <= found_missing
    assert not not_missing & found_missing


@pytest.mark.parametrize("as_at", ["2026-10-30", "2025-06-30", "2022-09-01"])
def test_the_list_on_an_earlier_date_names_the_doses_the_rules_flag(schedule, as_at):
    """Off the extract date the list looks its page's dose dates up in the cache after the sort; each child's
    missing doses must be the ones the rules flag for that child, derived from the tables (no cache)."""
    criteria = cohort.CohortCriteria(as_at=d(as_at), age_min=0, age_max=18, missing=())
    rows, _ = cohort.cohort_patients(
        schedule, criteria=criteria, scope=RowScope(borough_codes=(BARNET, HACKNEY)), limit=1000
    )
    sql, params = cohort._cohort_sql(schedule, criteria, None, None, flagged_doses=tuple(cohort.MISSING_DOSES))
    columns = ", ".join(f"missing_{key}" for key in cohort.MISSING_DOSES)
    flags_sql = f"SELECT patient_id, {columns} FROM ({sql})"  # noqa: S608
    expected = {
        row[0]: "; ".join(
            cohort.SHORT_NAMES[key] for key, flag in zip(cohort.MISSING_DOSES, row[1:], strict=True) if flag
        )
        or "none due"
        for row in schedule.cursor().execute(flags_sql, cohort._bound(flags_sql, params)).fetchall()
    }
    assert dict(zip(rows["patient_id"], rows["missing"], strict=True)) == expected
    assert any(text != "none due" for text in expected.values())


def test_the_list_names_every_missing_dose_whatever_is_ticked(schedule):
    rows, _ = cohort.cohort_patients(
        schedule,
        criteria=cohort.CohortCriteria(as_at=AS_AT, age_min=0, age_max=18, missing=("pcv",)),
        scope=RowScope(borough_codes=(BARNET,)),
        limit=1000,
    )
    named = rows.set_index("patient_id").loc["PCV_ON_1ST", "missing"].split("; ")
    assert {"PCV", "MenB", "MenB booster", "Hib/MenC booster", "pre-school booster"} <= set(named)
    assert "PCV booster" not in named


def test_summary_counts_only_the_ticked_doses(schedule):
    criteria = cohort.CohortCriteria(as_at=AS_AT, age_min=0, age_max=18, missing=("rota", "4in1"))
    summary = cohort.cohort_summary(schedule, criteria=criteria, disclose=False)
    counts = dict(zip(summary.missing_counts["dose"], summary.missing_counts["children"], strict=True))
    assert counts == {"rota": len(missing_one(schedule, "rota")), "4in1": len(missing_one(schedule, "4in1"))}
    none_ticked = cohort.cohort_summary(schedule, criteria=cohort.CohortCriteria(as_at=AS_AT, missing=()))
    assert none_ticked.missing_counts.empty


# Where the definitions coincide: the chosen date is the day before the COVER birthday (COVER counts doses
# strictly before it), the birthday is the quarter's last day (COVER checks registration then) and every child
# is registered throughout. Each finder dose then misses exactly the COVER measure's (denominator - numerator).
COVER_COHORTS = {
    # birth date: (COVER period, the finder's date, {finder dose: COVER measure})
    "2025-09-30": (
        "2026-27 Q2",
        "2026-09-29",
        {"6in1": "cover_12m_6in1", "pcv": "cover_12m_pcv", "menb": "cover_12m_menb", "rota": "cover_12m_rota"},
    ),
    "2024-09-30": (  # new schedule: the Hib booster is the 6-in-1 from the 1st birthday
        "2026-27 Q2",
        "2026-09-29",
        {
            "mmr1": "cover_24m_mmr1",
            "pcv_booster": "cover_24m_pcv_booster",
            "menb_booster": "cover_24m_menb_booster",
            "hibmenc": "cover_24m_hibmenc",
        },
    ),
    "2024-03-31": ("2025-26 Q4", "2026-03-30", {"hibmenc": "cover_24m_hibmenc", "mmr1": "cover_24m_mmr1"}),
    "2021-09-30": ("2026-27 Q2", "2026-09-29", {"mmr2": "cover_5y_mmr2", "4in1": "cover_5y_4in1"}),
}


def _cover_children() -> tuple[list[dict], list[dict]]:
    """Per cohort: no doses, infant doses only, everything, everything but one dose late (on the birthday)."""
    children, jabs = [], []
    for born, (_, as_at, _) in COVER_COHORTS.items():
        birth, first = d(born), d(born).replace(year=d(born).year + 1)
        infant = [(days, vaccine) for days in (60, 90, 120) for vaccine in ("6in1", "MenB", "Rotavirus", "PCV")]
        toddler = [(first - birth).days + 10, ("MMR", "PCV", "MenB", "HibMenC", "6in1")]
        for variant in ("NONE", "INFANT", "ALL", "LATE"):
            pid = f"COVER_{born}_{variant}"
            children.append(patient(born, patient_id=pid))
            doses = [] if variant == "NONE" else [(birth + dt.timedelta(days=days), v) for days, v in infant]
            if variant in ("ALL", "LATE"):
                doses += [(birth + dt.timedelta(days=toddler[0]), v) for v in toddler[1]]
                doses += [(birth + dt.timedelta(days=1230), v) for v in ("MMR", "4in1")]
            doses = [(day, v) for day, v in doses if day <= d(as_at)]  # none after the extract date
            if variant == "LATE":  # the last dose before the chosen date moves to the birthday itself
                last = max(day for day, _ in doses)
                doses = [(d(as_at) + dt.timedelta(days=1) if day == last else day, v) for day, v in doses]
            jabs += [jab(pid, day.isoformat(), vaccine) for day, vaccine in doses]
    return children, jabs


@pytest.fixture(scope="module")
def cover_cohorts(tmp_path_factory):
    children, jabs = _cover_children()
    connection = build(tmp_path_factory.mktemp("cover"), patients=children, immunisations=jabs)
    yield connection
    connection.close()


@pytest.mark.parametrize(
    ("born", "dose"), [(born, dose) for born, (_, _, doses) in COVER_COHORTS.items() for dose in doses]
)
def test_missing_children_agree_with_cover_where_the_definitions_coincide(cover_cohorts, born, dose):
    period, as_at, measures = COVER_COHORTS[born]
    cover = {
        pid: values
        for pid, values in facts(cover_cohorts, measures[dose], period).items()
        if pid.startswith(f"COVER_{born}_")
    }
    assert len(cover) == 4, "every child of the cohort is in the COVER denominator"
    rows, _ = cohort.cohort_patients(
        cover_cohorts,
        criteria=cohort.CohortCriteria(as_at=d(as_at), age_min=0, age_max=18, missing=(dose,)),
        scope=RowScope(borough_codes=(BARNET,)),
        limit=1000,
    )
    finder = {pid for pid in rows["patient_id"] if pid.startswith(f"COVER_{born}_")}
    assert finder == {pid for pid, (numerator, _) in cover.items() if numerator == 0}
    assert len(finder) == sum(denominator - numerator for numerator, denominator in cover.values())
    assert 0 < len(finder) < 4, "the cohort has children on both sides of the rule"


@pytest.mark.parametrize("fixture", ["con", "schedule"])
@pytest.mark.parametrize(
    ("missing", "match"),
    [
        *(((dose,), "any") for dose in cohort.MISSING_DOSES),
        (tuple(cohort.MISSING_DOSES), "any"),
        (("pcv", "mmr1"), "all"),
    ],
)
def test_the_extract_dates_bits_find_the_children_the_rules_find(request, fixture, missing, match):
    """On the extract date the cache answers from one bit per dose; the rules themselves (inline, no cache) must
    find the same children with the same missing doses."""
    con = request.getfixturevalue(fixture)
    criteria = cohort.CohortCriteria(as_at=AS_AT, age_min=0, age_max=18, missing=missing, match=match)
    window = cohort.ensure_cache(con)
    assert cohort.reads_extract_mask(criteria, window)
    assert not cohort.reads_extract_mask(cohort.CohortCriteria(as_at=d("2026-10-30")), window)

    def flags(cached):
        sql, params = cohort._cohort_sql(con, criteria, None, cached, flagged_doses=tuple(cohort.MISSING_DOSES))
        columns = ", ".join(f"missing_{key}" for key in cohort.MISSING_DOSES)
        flags_sql = f"SELECT patient_id, {columns} FROM ({sql})"  # noqa: S608
        return {row[0]: row[1:] for row in con.cursor().execute(flags_sql, cohort._bound(flags_sql, params)).fetchall()}

    by_bits = flags(window)
    assert by_bits == flags(None)
    assert by_bits  # every fixture has children missing something at 0-18


def test_the_earliest_date_the_finder_counts_on_is_the_polio_campaigns_first_day():
    assert dt.date(2022, 8, 10) == cohort.EARLIEST_DATE
    assert cohort.CohortCriteria(as_at=cohort.EARLIEST_DATE).as_at == cohort.EARLIEST_DATE
    with pytest.raises(cohort.CohortError, match="on or after 2022-08-10"):
        cohort.CohortCriteria(as_at=dt.date(2022, 8, 9))


@pytest.fixture(scope="module")
def oldest_children(tmp_path_factory):
    """Children either side of 19 on the earliest date, with records in every event table."""
    children = [
        patient("2003-08-11", patient_id="AGED_18_ON_EARLIEST"),  # 19 on 2022-08-11: still 18 on 2022-08-10
        patient("2003-08-10", patient_id="TURNS_19_ON_EARLIEST"),
        patient("2012-01-01", patient_id="CONTACTS"),
    ]
    connection = build(
        tmp_path_factory.mktemp("oldest"),
        patients=children,
        immunisations=[jab("CONTACTS", "2012-03-01", "6in1")],
        clinical_events=[
            {"patient_id": "CONTACTS", "event_date": d("2024-05-01"), "snomed_code": "195967001", "value": None}
        ],
        medications=[
            {
                "patient_id": "CONTACTS",
                "issue_date": d("2025-01-10"),
                "dmd_code": "320178003",
                "bnf_code": None,
                "quantity": 1.0,
            }
        ],
        hospital_episodes=[
            {
                "patient_id": "CONTACTS",
                "admission_date": d("2026-02-02"),
                "discharge_date": d("2026-02-03"),
                "provider_code": "R1H",
                "admission_method": "21",
                "primary_diagnosis": "J45.9",
            }
        ],
    )
    yield connection
    connection.close()


def test_every_child_aged_0_to_18_on_the_earliest_date_is_read_from_the_cache(oldest_children):
    """Before, a search whose oldest children were born before the cache's window derived every dose from the
    tables (seconds at full scale); the window now reaches 18-year-olds on the earliest date."""
    criteria = cohort.CohortCriteria(as_at=cohort.EARLIEST_DATE, age_min=0, age_max=18, missing=())
    window = cohort.ensure_cache(oldest_children)
    sql, _ = cohort._cohort_sql(oldest_children, criteria, None, window)
    assert cohort.CACHE_TABLE in sql
    rows, _ = cohort.cohort_patients(oldest_children, criteria=criteria, scope=RowScope(borough_codes=(BARNET,)))
    assert set(rows["patient_id"]) == {"AGED_18_ON_EARLIEST", "CONTACTS"}


@pytest.mark.parametrize(
    ("as_at", "last_contact"),
    [
        ("2024-04-30", "2012-03-01"),  # the day before the GP event: the infant dose
        ("2024-05-01", "2024-05-01"),  # a GP event on the date counts
        ("2025-06-30", "2025-01-10"),  # a prescription
        ("2026-02-01", "2025-01-10"),  # the admission is the next day
        ("2026-02-02", "2026-02-02"),  # an admission
        ("2026-10-30", "2026-02-02"),  # the day before the extract date (build-time contact days)
        ("2026-10-31", "2026-02-02"),  # the extract date (the cache's last contact)
    ],
)
def test_last_contact_reads_every_record_table_up_to_the_date(oldest_children, as_at, last_contact):
    criteria = cohort.CohortCriteria(as_at=d(as_at), age_min=0, age_max=18, missing=())
    rows, _ = cohort.cohort_patients(oldest_children, criteria=criteria, scope=RowScope(borough_codes=(BARNET,)))
    shown = rows.set_index("patient_id").loc["CONTACTS", "last_contact"]
    assert pd.Timestamp(shown).date() == d(last_contact)


def test_registered_from_is_the_earliest_registration_end(con, oldest_children):
    """The fixture's child who left is the earliest end; with nobody gone there is no such date."""
    ends = con.execute("SELECT min(registration_end) FROM patients").fetchone()[0]
    assert ends is not None and cohort.registered_from(con) == ends
    assert cohort.registered_from(oldest_children) is None


@pytest.mark.parametrize("as_at", ["2026-10-31", "2026-10-30", "2022-09-01"])
def test_the_export_table_holds_the_lists_rows(schedule, as_at):
    """An export reads the list as an Arrow table (no DataFrame): the same children, columns and text."""
    criteria = cohort.CohortCriteria(as_at=d(as_at), age_min=0, age_max=18, missing=tuple(cohort.MISSING_DOSES))
    scope = RowScope(borough_codes=(BARNET, HACKNEY))
    frame, frame_total = cohort.cohort_patients(schedule, criteria=criteria, scope=scope, limit=cohort.EXPORT_LIMIT)
    table, table_total = cohort.cohort_patients_table(schedule, criteria=criteria, scope=scope)
    assert table.column_names == list(cohort.LIST_COLUMNS) and table_total == frame_total == len(frame) > 0
    for column in ("patient_id", "age", "practice_code", "practice_name", "missing"):
        assert table[column].to_pylist() == frame[column].tolist(), column
    contacts = [None if pd.isna(day) else day.date() for day in frame["last_contact"]]
    assert table["last_contact"].to_pylist() == contacts
