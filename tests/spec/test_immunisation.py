"""COVER, timeliness and polio-booster rules on hand-written children at the rule boundaries.

Extract date 2026-10-31, so the default quarter is 2026-27 Q2 (1 Jul - 30 Sep 2026).
"""

from __future__ import annotations

import pytest

from tests.spec.helpers import build, facts, jab, patient

Q2 = "2026-27 Q2"
Q1 = "2026-27 Q1"


def course(patient_id: str, vaccine: str, *dates: str) -> list[dict]:
    return [jab(patient_id, date, vaccine) for date in dates]


PATIENTS = [
    # 12 months: cohort born 1 Jul - 30 Sep 2025 (1st birthday in Q2).
    patient("2025-08-15", patient_id="DAY_BEFORE"),
    patient("2025-08-15", patient_id="ON_BIRTHDAY"),
    patient("2025-08-15", patient_id="DAY_AFTER"),
    patient("2025-06-30", patient_id="Q1_BIRTHDAY"),
    patient("2025-07-01", patient_id="FIRST_DAY"),
    patient("2025-08-15", patient_id="LEFT", registration_end="2026-09-01"),
    patient("2025-08-15", patient_id="DIED", death_date="2026-09-15"),
    patient("2025-08-15", patient_id="MOVED_IN", registration_start="2026-09-10"),
    patient("2025-08-15", patient_id="DUPLICATE"),
    # 24 months: cohort born 1 Jul - 30 Sep 2024 (new schedule: no Hib/MenC); Q1 cohort born Apr-Jun 2024.
    patient("2024-08-20", patient_id="MMR_TOO_EARLY"),
    patient("2024-08-20", patient_id="MMR_ON_1ST"),
    # New-schedule Hib booster (born 15 Jul 2024: 1st birthday 15 Jul 2025, 2nd 15 Jul 2026 in Q2).
    patient("2024-07-15", patient_id="NEW_SCHED_6IN1_18M"),
    patient("2024-07-15", patient_id="NEW_SCHED_LATE_3RD"),
    patient("2024-07-15", patient_id="NEW_SCHED_ONLY_18M"),
    patient("2024-07-15", patient_id="NEW_SCHED_FOUR_INFANT"),
    patient("2024-07-15", patient_id="NEW_SCHED_4TH_DAY_BEFORE_2ND"),
    patient("2024-07-15", patient_id="NEW_SCHED_4TH_ON_2ND"),
    patient("2024-08-01", patient_id="NEW_SCHED_HIBMENC_ONLY"),
    patient("2024-05-10", patient_id="OLD_SCHED_HIBMENC"),
    # 5 years: cohort born 1 Jul - 30 Sep 2021.
    patient("2021-09-01", patient_id="FIVE_FULL"),
    patient("2021-09-01", patient_id="FIVE_MMR2_ON_BDAY"),
    patient("2021-09-01", patient_id="FIVE_MMRV"),
    # Timeliness: 18 months in Q2 (born 1 Jan - 31 Mar 2025); 8 months in Q2 (born 1 Nov 2025 - 31 Jan 2026).
    patient("2025-02-10", patient_id="MMR_AT_12M"),
    patient("2025-02-10", patient_id="MMR_AT_18M"),
    patient("2025-12-01", patient_id="SIX_BEFORE_8M"),
    patient("2025-12-01", patient_id="SIX_ON_8M"),
    patient("2025-12-01", patient_id="DTP_4IN1_THIRD_DOSE"),
    # Polio booster: aged 1-9 on 10 Aug 2022.
    patient("2015-03-01", patient_id="POLIO_BOOSTED"),
    patient("2021-08-11", patient_id="POLIO_TOO_YOUNG"),
    patient("2021-08-10", patient_id="POLIO_JUST_ONE"),
    patient("2012-08-11", patient_id="POLIO_NINE"),
    patient("2012-08-10", patient_id="POLIO_TEN"),
    patient("2017-05-01", patient_id="POLIO_NO_BOOSTER"),
]

JABS = [
    *course("DAY_BEFORE", "6in1", "2025-10-10", "2025-11-10", "2026-08-14"),
    *course("ON_BIRTHDAY", "6in1", "2025-10-10", "2025-11-10", "2026-08-15"),
    *course("DAY_AFTER", "6in1", "2025-10-10", "2025-11-10", "2026-08-16"),
    *course("Q1_BIRTHDAY", "6in1", "2025-08-25", "2025-09-22", "2025-10-20"),
    *course("FIRST_DAY", "6in1", "2025-08-26", "2025-09-23", "2025-10-21"),
    *course("FIRST_DAY", "MenB", "2025-08-26", "2025-10-21"),
    jab("ON_BIRTHDAY", "2025-10-10", "MenB"),  # one MenB dose
    *course("LEFT", "6in1", "2025-10-10", "2025-11-10", "2025-12-10"),
    *course("DIED", "6in1", "2025-10-10", "2025-11-10", "2025-12-10"),
    *course("MOVED_IN", "6in1", "2025-10-10", "2025-11-10", "2025-12-10"),
    *course("DUPLICATE", "6in1", "2025-10-10", "2025-11-10", "2025-11-10"),
    jab("MMR_TOO_EARLY", "2025-08-19", "MMR"),
    jab("MMR_ON_1ST", "2025-08-20", "MMR"),
    *course("NEW_SCHED_6IN1_18M", "6in1", "2024-09-10", "2024-10-08", "2024-11-05", "2026-01-15"),
    *course("NEW_SCHED_LATE_3RD", "6in1", "2024-09-10", "2024-10-08", "2025-08-01"),
    jab("NEW_SCHED_ONLY_18M", "2026-01-15", "6in1"),
    *course("NEW_SCHED_FOUR_INFANT", "6in1", "2024-09-10", "2024-10-08", "2024-11-05", "2025-07-14"),
    *course("NEW_SCHED_4TH_DAY_BEFORE_2ND", "6in1", "2024-09-10", "2024-10-08", "2024-11-05", "2026-07-14"),
    *course("NEW_SCHED_4TH_ON_2ND", "6in1", "2024-09-10", "2024-10-08", "2024-11-05", "2026-07-15"),
    jab("NEW_SCHED_HIBMENC_ONLY", "2025-08-05", "HibMenC"),
    jab("OLD_SCHED_HIBMENC", "2025-05-20", "HibMenC"),
    *course("FIVE_FULL", "MMR", "2022-09-05", "2025-01-10"),
    jab("FIVE_FULL", "2025-01-10", "4in1"),
    *course("FIVE_MMR2_ON_BDAY", "MMR", "2022-09-05"),
    jab("FIVE_MMR2_ON_BDAY", "2026-09-01", "MMRV"),
    jab("FIVE_MMRV", "2022-09-05", "MMR"),
    jab("FIVE_MMRV", "2025-02-01", "MMRV"),
    jab("MMR_AT_12M", "2026-02-10", "MMR"),
    jab("MMR_AT_18M", "2026-08-10", "MMR"),
    *course("SIX_BEFORE_8M", "6in1", "2026-01-26", "2026-02-23", "2026-07-31"),
    *course("SIX_ON_8M", "6in1", "2026-01-26", "2026-02-23", "2026-08-01"),
    *course("DTP_4IN1_THIRD_DOSE", "6in1", "2026-01-26", "2026-02-23"),
    jab("DTP_4IN1_THIRD_DOSE", "2026-07-31", "4in1"),
    jab("POLIO_BOOSTED", "2022-09-01", "IPV"),
    *course("POLIO_JUST_ONE", "6in1", "2021-10-05", "2021-11-02", "2021-11-30"),
    *course("POLIO_NINE", "6in1", "2012-10-05", "2012-11-02", "2012-11-30"),
    jab("POLIO_NINE", "2016-01-01", "4in1"),
    *course("POLIO_NO_BOOSTER", "6in1", "2017-07-01", "2017-08-01", "2017-09-01"),
]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    return build(tmp_path_factory.mktemp("imm"), patients=PATIENTS, immunisations=JABS)


def numerators(con, indicator, period):
    return {key: value[0] for key, value in facts(con, indicator, period).items()}


def test_twelve_month_cohort_counts_doses_strictly_before_the_birthday(con):
    got = numerators(con, "cover_12m_6in1", Q2)
    assert got["DAY_BEFORE"] == 1
    assert got["ON_BIRTHDAY"] == 0
    assert got["DAY_AFTER"] == 0
    assert got["FIRST_DAY"] == 1


def test_cohort_is_children_with_the_birthday_in_the_period(con):
    got = numerators(con, "cover_12m_6in1", Q2)
    assert "Q1_BIRTHDAY" not in got
    assert numerators(con, "cover_12m_6in1", Q1)["Q1_BIRTHDAY"] == 1


def test_children_who_left_or_died_are_not_counted_and_movers_in_are(con):
    got = numerators(con, "cover_12m_6in1", Q2)
    assert "LEFT" not in got and "DIED" not in got
    assert got["MOVED_IN"] == 1


def test_a_duplicated_dose_record_counts_once(con):
    assert numerators(con, "cover_12m_6in1", Q2)["DUPLICATE"] == 0


def test_menb_needs_two_doses(con):
    got = numerators(con, "cover_12m_menb", Q2)
    assert (got["FIRST_DAY"], got["ON_BIRTHDAY"], got["DAY_BEFORE"]) == (1, 0, 0)  # two doses, one, none


def test_mmr1_before_the_first_birthday_is_not_a_valid_dose(con):
    got = numerators(con, "cover_24m_mmr1", Q2)
    assert got["MMR_TOO_EARLY"] == 0
    assert got["MMR_ON_1ST"] == 1


def test_hib_booster_depends_on_birth_cohort(con):
    got = numerators(con, "cover_24m_hibmenc", Q2)
    assert got["NEW_SCHED_6IN1_18M"] == 1
    assert got["NEW_SCHED_HIBMENC_ONLY"] == 0
    assert numerators(con, "cover_24m_hibmenc", Q1)["OLD_SCHED_HIBMENC"] == 1


def test_new_schedule_hib_booster_is_the_4th_6in1_from_the_1st_birthday(con):
    # Spec §1.1 (changes from 1 Jan 2026): the 18-month appointment gives "a 4th dose of the 6-in-1".
    got = numerators(con, "cover_24m_hibmenc", Q2)
    assert got["NEW_SCHED_LATE_3RD"] == 0  # a late 3rd primary dose after the 1st birthday is not the booster
    assert got["NEW_SCHED_ONLY_18M"] == 0  # one 6-in-1 in all: no course, no booster
    assert got["NEW_SCHED_FOUR_INFANT"] == 0  # four doses, none from the 1st birthday
    assert got["NEW_SCHED_4TH_DAY_BEFORE_2ND"] == 1
    assert got["NEW_SCHED_4TH_ON_2ND"] == 0
    # The 6-in-1 primary measure is unchanged: 3 doses at any age before the 2nd birthday.
    primary = numerators(con, "cover_24m_6in1", Q2)
    assert (primary["NEW_SCHED_LATE_3RD"], primary["NEW_SCHED_ONLY_18M"]) == (1, 0)


def test_five_year_mmr2_counts_mmrv_and_not_a_dose_on_the_birthday(con):
    five = ("FIVE_FULL", "FIVE_MMR2_ON_BDAY", "FIVE_MMRV")
    mmr2 = numerators(con, "cover_5y_mmr2", Q2)
    assert [mmr2[key] for key in five] == [1, 0, 1]
    assert numerators(con, "cover_5y_mmr1", Q2)["FIVE_MMR2_ON_BDAY"] == 1
    booster = numerators(con, "cover_5y_4in1", Q2)
    assert [booster[key] for key in five] == [1, 0, 0]
    # The polio-campaign children born in Aug 2021 are also in this cohort, without MMR.
    assert mmr2["POLIO_JUST_ONE"] == 0


def test_mmr1_on_time_window_is_first_birthday_to_18_months(con):
    assert numerators(con, "mmr1_on_time", Q2) == {"MMR_AT_12M": 1, "MMR_AT_18M": 0}


def test_6in1_on_time_needs_three_dtp_containing_doses_before_8_months(con):
    # QOF VI001 counts diphtheria/tetanus/pertussis-containing doses: a dTaP/IPV (4-in-1) dose is one.
    assert numerators(con, "6in1_on_time", Q2) == {"SIX_BEFORE_8M": 1, "SIX_ON_8M": 0, "DTP_4IN1_THIRD_DOSE": 1}


def test_polio_booster_cohort_and_numerator(con):
    got = numerators(con, "polio_booster_1_9", "polio-2022")
    assert got == {
        "POLIO_BOOSTED": 1,  # IPV during the campaign
        "POLIO_JUST_ONE": 1,  # turned 1 on the advice date; 3 infant doses = up to date
        "POLIO_NINE": 1,  # 9 on the advice date; 4 polio-containing doses = up to date
        "POLIO_NO_BOOSTER": 0,  # aged 5, three doses only, nothing in the window
    }


def test_every_fact_has_a_denominator_of_one(con):
    rows = con.execute(
        "SELECT DISTINCT denominator FROM ind_patient WHERE indicator_id LIKE 'cover_%' OR indicator_id LIKE '%on_time'"
    ).fetchall()
    assert rows == [(1.0,)]
