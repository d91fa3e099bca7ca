"""COVER, QOF VI timeliness and polio-booster rules on both sides of each boundary.

Extract date 2026-10-31: the newest quarter is 2026-27 Q2 (1 Jul - 30 Sep 2026). Cohorts with a birthday in
Q2: 1st birthday - born 1 Jul - 30 Sep 2025; 2nd - born Jul-Sep 2024; 5th - born Jul-Sep 2021.
"""

from __future__ import annotations

import pytest

from tests.spec.helpers import MET, MISSED, NOT_COUNTED, boundary_test, build, patient
from tests.spec.test_immunisation import Q1, Q2, course, jab

BORN_12M, BORN_24M, BORN_5Y = "2025-08-15", "2024-08-15", "2021-08-15"
THREE_6IN1_12M = ("2025-10-10", "2025-11-10", "2025-12-10")

PATIENTS = [
    # A financial year's cohort: 1st birthday from 1 Apr 2025 to 31 Mar 2026 (2025-26).
    patient("2024-03-31", patient_id="FY_BORN_31_MAR_2024"),
    patient("2024-04-01", patient_id="FY_BORN_1_APR_2024"),
    patient("2025-03-31", patient_id="FY_BORN_31_MAR_2025"),
    # The cohort's last birthday of the quarter, and the first day after it.
    patient("2025-09-30", patient_id="BORN_30_SEP"),
    patient("2025-10-01", patient_id="BORN_1_OCT"),
    # Registered and alive on the quarter's last day.
    patient(BORN_12M, patient_id="DIED_30_SEP", death_date="2026-09-30"),
    patient(BORN_12M, patient_id="DIED_1_OCT", death_date="2026-10-01"),
    patient(BORN_12M, patient_id="LEFT_30_SEP", registration_end="2026-09-30"),
    patient(BORN_12M, patient_id="LEFT_1_OCT", registration_end="2026-10-01"),
    # 12 months: PCV 1 dose, rotavirus 2 doses, before the 1st birthday.
    patient(BORN_12M, patient_id="PCV_DAY_BEFORE"),
    patient(BORN_12M, patient_id="PCV_ON_BIRTHDAY"),
    patient(BORN_12M, patient_id="ROTA_ONE"),
    patient(BORN_12M, patient_id="ROTA_TWO"),
    patient(BORN_12M, patient_id="ROTA_2ND_ON_BIRTHDAY"),
    # 12 months: the 2nd MenB dose the day before the 1st birthday, or on it.
    patient(BORN_12M, patient_id="MENB_2ND_DAY_BEFORE"),
    patient(BORN_12M, patient_id="MENB_2ND_ON_BIRTHDAY"),
    # 24 months: boosters on or after the 1st birthday and before the 2nd.
    patient(BORN_24M, patient_id="BOOSTERS_DAY_BEFORE_1ST"),
    patient(BORN_24M, patient_id="BOOSTERS_ON_1ST"),
    patient(BORN_24M, patient_id="MMR_DAY_BEFORE_2ND"),
    patient(BORN_24M, patient_id="MMR_ON_2ND"),
    patient(BORN_24M, patient_id="BOOSTERS_DAY_BEFORE_2ND"),
    patient(BORN_24M, patient_id="BOOSTERS_ON_2ND"),
    # An MMRV dose is a measles-containing dose.
    patient(BORN_24M, patient_id="MMRV_ON_1ST"),
    # 24 months: the 3rd 6-in-1 before the 2nd birthday; a 4-in-1 (no Hib, no HepB) is not a 6-in-1 dose.
    patient(BORN_24M, patient_id="SIX_24M_DAY_BEFORE_2ND"),
    patient(BORN_24M, patient_id="SIX_24M_ON_2ND"),
    patient(BORN_24M, patient_id="SIX_24M_4IN1_THIRD"),
    # The schedule change: born 30 Jun 2024 (Hib/MenC) vs 1 Jul 2024 (no Hib/MenC).
    patient("2024-06-30", patient_id="BORN_30_JUN_2024_HIBMENC"),
    patient("2024-07-01", patient_id="BORN_1_JUL_2024_HIBMENC"),
    patient("2024-07-01", patient_id="BORN_1_JUL_2024_6IN1_AT_1"),
    # The old schedule's Hib/MenC from the 1st birthday (born 10 May 2024: 2nd birthday in 2026-27 Q1).
    patient("2024-05-10", patient_id="HIB_24M_DAY_BEFORE_1ST"),
    patient("2024-05-10", patient_id="HIB_24M_ON_1ST"),
    # A 29 Feb birth: the 1st birthday is 28 Feb in a common year; 2nd birthday 28 Feb 2026 (2025-26 Q4).
    patient("2024-02-29", patient_id="LEAP_MMR_28_FEB"),
    patient("2024-02-29", patient_id="LEAP_MMR_27_FEB"),
    # 5 years.
    patient(BORN_5Y, patient_id="FOUR_IN_ONE_DAY_BEFORE_5TH"),
    patient(BORN_5Y, patient_id="FOUR_IN_ONE_ON_5TH"),
    # The booster counts from the 3rd birthday: an infant 4-in-1 (a catch-up primary dose) is not the booster.
    patient(BORN_5Y, patient_id="FOUR_IN_ONE_DAY_BEFORE_3RD"),
    patient(BORN_5Y, patient_id="FOUR_IN_ONE_ON_3RD"),
    patient(BORN_5Y, patient_id="FOUR_IN_ONE_AS_INFANT"),
    patient(BORN_5Y, patient_id="MMR2_DAY_BEFORE_5TH"),
    # 5 years: an MMR dose the day before the 1st birthday is no dose of the course.
    patient(BORN_5Y, patient_id="MMR_DAY_BEFORE_1ST_ONLY"),
    patient(BORN_5Y, patient_id="MMR_DAY_BEFORE_1ST_AND_AT_3"),
    # 5 years: the 6-in-1 primary course before the 5th birthday; a 2022 campaign IPV dose does not complete it.
    patient(BORN_5Y, patient_id="SIX_5Y_DAY_BEFORE_5TH"),
    patient(BORN_5Y, patient_id="SIX_5Y_ON_5TH"),
    patient(BORN_5Y, patient_id="SIX_5Y_CAMPAIGN_IPV_THIRD"),
    *(
        patient(BORN_5Y, patient_id=child)
        for child in ("HIB_5Y_DAY_BEFORE_1ST", "HIB_5Y_ON_1ST", "HIB_5Y_DAY_BEFORE_5TH", "HIB_5Y_ON_5TH", "HIB_5Y_6IN1")
    ),
    # QOF VI001 cohort: 8 months old in Q2. Born 31 Jan 2026, the 8-month birthday is 30 Sep (no 31 Sep); born
    # 1 Feb, it is 1 Oct.
    patient("2026-01-31", patient_id="EIGHT_MONTHS_ON_30_SEP"),
    patient("2026-02-01", patient_id="EIGHT_MONTHS_ON_1_OCT"),
    # QOF VI002: MMR between the 1st birthday and 18 months (born Jan-Mar 2025 reach 18 months in Q2).
    patient("2025-02-10", patient_id="MMR_DAY_BEFORE_18M"),
    patient("2025-02-10", patient_id="MMR_DAY_BEFORE_1ST"),
    # Polio booster: 3 doses up to date below 3 years 4 months on 31 Mar 2023, 4 at or above.
    patient("2019-11-30", patient_id="POLIO_3Y4M_ON_30_MAR_3_DOSES"),
    patient("2019-12-01", patient_id="POLIO_3Y4M_ON_1_APR_3_DOSES"),
    patient("2017-05-01", patient_id="POLIO_DOSE_9_AUG"),
    patient("2017-05-01", patient_id="POLIO_DOSE_10_AUG"),
    patient("2017-05-01", patient_id="POLIO_DOSE_31_MAR"),
    patient("2017-05-01", patient_id="POLIO_DOSE_1_APR"),
    patient("2017-05-01", patient_id="POLIO_DIED_31_MAR", death_date="2023-03-31"),
]
JABS = [
    *course("FY_BORN_31_MAR_2024", "6in1", "2024-06-01", "2024-07-01", "2024-08-01"),
    *course("FY_BORN_1_APR_2024", "6in1", "2024-06-01", "2024-07-01", "2024-08-01"),
    *course("FY_BORN_31_MAR_2025", "6in1", "2025-06-01", "2025-07-01"),  # two doses: missed
    *course("BORN_30_SEP", "6in1", "2025-12-01", "2026-01-01", "2026-02-01"),
    *course("BORN_1_OCT", "6in1", "2025-12-01", "2026-01-01", "2026-02-01"),
    *(
        jab(pid, day, "6in1")
        for pid in ("DIED_30_SEP", "DIED_1_OCT", "LEFT_30_SEP", "LEFT_1_OCT")
        for day in THREE_6IN1_12M
    ),
    jab("PCV_DAY_BEFORE", "2026-08-14", "PCV"),
    jab("PCV_ON_BIRTHDAY", "2026-08-15", "PCV"),
    jab("ROTA_ONE", "2025-10-10", "Rotavirus"),
    *course("ROTA_TWO", "Rotavirus", "2025-10-10", "2025-11-10"),
    *course("ROTA_2ND_ON_BIRTHDAY", "Rotavirus", "2025-10-10", "2026-08-15"),
    *course("MENB_2ND_DAY_BEFORE", "MenB", "2025-10-10", "2026-08-14"),
    *course("MENB_2ND_ON_BIRTHDAY", "MenB", "2025-10-10", "2026-08-15"),
    *(jab("BOOSTERS_DAY_BEFORE_1ST", "2025-08-14", vaccine) for vaccine in ("PCV", "MenB", "MMR")),
    *(jab("BOOSTERS_ON_1ST", "2025-08-15", vaccine) for vaccine in ("PCV", "MenB", "MMR")),
    jab("MMR_DAY_BEFORE_2ND", "2026-08-14", "MMR"),
    jab("MMR_ON_2ND", "2026-08-15", "MMR"),
    *(jab("BOOSTERS_DAY_BEFORE_2ND", "2026-08-14", vaccine) for vaccine in ("PCV", "MenB")),
    *(jab("BOOSTERS_ON_2ND", "2026-08-15", vaccine) for vaccine in ("PCV", "MenB")),
    jab("MMRV_ON_1ST", "2025-08-15", "MMRV"),
    jab("HIB_24M_DAY_BEFORE_1ST", "2025-05-09", "HibMenC"),
    jab("HIB_24M_ON_1ST", "2025-05-10", "HibMenC"),
    *course("SIX_24M_DAY_BEFORE_2ND", "6in1", "2024-10-10", "2024-11-10", "2026-08-14"),
    *course("SIX_24M_ON_2ND", "6in1", "2024-10-10", "2024-11-10", "2026-08-15"),
    *course("SIX_24M_4IN1_THIRD", "6in1", "2024-10-10", "2024-11-10"),
    jab("SIX_24M_4IN1_THIRD", "2024-12-10", "4in1"),
    *course("SIX_5Y_DAY_BEFORE_5TH", "6in1", "2021-10-10", "2021-11-10", "2026-08-14"),
    *course("SIX_5Y_ON_5TH", "6in1", "2021-10-10", "2021-11-10", "2026-08-15"),
    *course("SIX_5Y_CAMPAIGN_IPV_THIRD", "6in1", "2021-10-10", "2021-11-10"),
    jab("SIX_5Y_CAMPAIGN_IPV_THIRD", "2022-09-01", "IPV"),
    jab("BORN_30_JUN_2024_HIBMENC", "2025-07-01", "HibMenC"),
    jab("BORN_1_JUL_2024_HIBMENC", "2025-07-01", "HibMenC"),
    # The new schedule's Hib booster is the course's 4th 6-in-1: three infant doses, the 4th on the 1st birthday.
    *(jab("BORN_1_JUL_2024_6IN1_AT_1", day, "6in1") for day in ("2024-09-01", "2024-10-01", "2024-11-01")),
    jab("BORN_1_JUL_2024_6IN1_AT_1", "2025-07-01", "6in1"),
    jab("LEAP_MMR_28_FEB", "2025-02-28", "MMR"),
    jab("LEAP_MMR_27_FEB", "2025-02-27", "MMR"),
    jab("FOUR_IN_ONE_DAY_BEFORE_5TH", "2026-08-14", "4in1"),
    jab("FOUR_IN_ONE_ON_5TH", "2026-08-15", "4in1"),
    jab("FOUR_IN_ONE_DAY_BEFORE_3RD", "2024-08-14", "4in1"),
    jab("FOUR_IN_ONE_ON_3RD", "2024-08-15", "4in1"),
    jab("FOUR_IN_ONE_AS_INFANT", "2021-12-10", "4in1"),
    *course("MMR2_DAY_BEFORE_5TH", "MMR", "2022-08-15", "2026-08-14"),
    jab("MMR_DAY_BEFORE_1ST_ONLY", "2022-08-14", "MMR"),
    *course("MMR_DAY_BEFORE_1ST_AND_AT_3", "MMR", "2022-08-14", "2024-12-15"),
    jab("HIB_5Y_DAY_BEFORE_1ST", "2022-08-14", "HibMenC"),
    jab("HIB_5Y_ON_1ST", "2022-08-15", "HibMenC"),
    jab("HIB_5Y_DAY_BEFORE_5TH", "2026-08-14", "HibMenC"),
    jab("HIB_5Y_ON_5TH", "2026-08-15", "HibMenC"),
    jab("HIB_5Y_6IN1", "2022-08-15", "6in1"),  # born before 1 Jul 2024: a 6-in-1 is not the Hib booster
    *(
        jab(child, day, "6in1")
        for child in ("EIGHT_MONTHS_ON_30_SEP", "EIGHT_MONTHS_ON_1_OCT")
        for day in ("2026-03-28", "2026-04-25", "2026-05-23")
    ),
    jab("MMR_DAY_BEFORE_18M", "2026-08-09", "MMR"),
    jab("MMR_DAY_BEFORE_1ST", "2026-02-09", "MMR"),
    *course("POLIO_3Y4M_ON_30_MAR_3_DOSES", "6in1", "2020-01-30", "2020-02-27", "2020-03-26"),
    *course("POLIO_3Y4M_ON_1_APR_3_DOSES", "6in1", "2020-01-30", "2020-02-27", "2020-03-26"),
    *(
        jab(pid, "2017-07-01", "6in1")
        for pid in ("POLIO_DOSE_9_AUG", "POLIO_DOSE_10_AUG", "POLIO_DOSE_31_MAR", "POLIO_DOSE_1_APR")
    ),
    jab("POLIO_DOSE_9_AUG", "2022-08-09", "IPV"),
    jab("POLIO_DOSE_10_AUG", "2022-08-10", "IPV"),
    jab("POLIO_DOSE_31_MAR", "2023-03-31", "IPV"),
    jab("POLIO_DOSE_1_APR", "2023-04-01", "IPV"),
    jab("POLIO_DIED_31_MAR", "2022-09-01", "IPV"),
]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    return build(tmp_path_factory.mktemp("imm_boundaries"), patients=PATIENTS, immunisations=JABS)


POLIO = "polio-2022"
CASES = [
    # A financial year's cohort (COVER's annual figures): 1st birthdays from 1 Apr to 31 Mar.
    ("cover_12m_6in1", "2025-26", "FY_BORN_1_APR_2024", MET),
    ("cover_12m_6in1", "2025-26", "FY_BORN_31_MAR_2025", MISSED),
    ("cover_12m_6in1", "2025-26", "FY_BORN_31_MAR_2024", NOT_COUNTED),
    ("cover_12m_6in1", "2024-25", "FY_BORN_31_MAR_2024", MET),
    # The cohort: the 1st birthday on the quarter's last day is in it, the day after is not.
    ("cover_12m_6in1", Q2, "BORN_30_SEP", MET),
    ("cover_12m_6in1", Q2, "BORN_1_OCT", NOT_COUNTED),
    # Registered and alive on the quarter's last day.
    ("cover_12m_6in1", Q2, "DIED_1_OCT", MET),
    ("cover_12m_6in1", Q2, "LEFT_1_OCT", MET),
    ("cover_12m_6in1", Q2, "DIED_30_SEP", NOT_COUNTED),
    ("cover_12m_6in1", Q2, "LEFT_30_SEP", NOT_COUNTED),
    # 12 months: PCV1 before the 1st birthday; rotavirus is the 2-dose course.
    ("cover_12m_pcv", Q2, "PCV_DAY_BEFORE", MET),
    ("cover_12m_pcv", Q2, "PCV_ON_BIRTHDAY", MISSED),
    ("cover_12m_rota", Q2, "ROTA_ONE", MISSED),
    ("cover_12m_rota", Q2, "ROTA_TWO", MET),
    ("cover_12m_rota", Q2, "ROTA_2ND_ON_BIRTHDAY", MISSED),
    ("cover_12m_menb", Q2, "MENB_2ND_DAY_BEFORE", MET),
    ("cover_12m_menb", Q2, "MENB_2ND_ON_BIRTHDAY", MISSED),
    # 24 months: boosters and MMR1 from the 1st birthday, before the 2nd.
    *(
        (indicator, Q2, child, expected)
        for indicator in ("cover_24m_pcv_booster", "cover_24m_menb_booster", "cover_24m_mmr1")
        for child, expected in (("BOOSTERS_DAY_BEFORE_1ST", MISSED), ("BOOSTERS_ON_1ST", MET))
    ),
    ("cover_24m_mmr1", Q2, "MMR_DAY_BEFORE_2ND", MET),
    ("cover_24m_mmr1", Q2, "MMR_ON_2ND", MISSED),
    *(
        (indicator, Q2, child, expected)
        for indicator in ("cover_24m_pcv_booster", "cover_24m_menb_booster")
        for child, expected in (("BOOSTERS_DAY_BEFORE_2ND", MET), ("BOOSTERS_ON_2ND", MISSED))
    ),
    ("cover_24m_mmr1", Q2, "MMRV_ON_1ST", MET),
    # 24 months: three 6-in-1 doses before the 2nd birthday; other DTaP-containing vaccines are not 6-in-1 doses.
    ("cover_24m_6in1", Q2, "SIX_24M_DAY_BEFORE_2ND", MET),
    ("cover_24m_6in1", Q2, "SIX_24M_ON_2ND", MISSED),
    ("cover_24m_6in1", Q2, "SIX_24M_4IN1_THIRD", MISSED),
    # The Hib booster rule switches for births from 1 Jul 2024.
    ("cover_24m_hibmenc", Q1, "BORN_30_JUN_2024_HIBMENC", MET),
    ("cover_24m_hibmenc", Q2, "BORN_1_JUL_2024_HIBMENC", MISSED),
    ("cover_24m_hibmenc", Q2, "BORN_1_JUL_2024_6IN1_AT_1", MET),
    ("cover_24m_hibmenc", Q1, "HIB_24M_DAY_BEFORE_1ST", MISSED),
    ("cover_24m_hibmenc", Q1, "HIB_24M_ON_1ST", MET),
    # A 29 Feb birthday falls on 28 Feb.
    ("cover_24m_mmr1", "2025-26 Q4", "LEAP_MMR_28_FEB", MET),
    ("cover_24m_mmr1", "2025-26 Q4", "LEAP_MMR_27_FEB", MISSED),
    # 5 years: doses before the 5th birthday.
    ("cover_5y_4in1", Q2, "FOUR_IN_ONE_DAY_BEFORE_5TH", MET),
    ("cover_5y_4in1", Q2, "FOUR_IN_ONE_ON_5TH", MISSED),
    ("cover_5y_4in1", Q2, "FOUR_IN_ONE_DAY_BEFORE_3RD", MISSED),
    ("cover_5y_4in1", Q2, "FOUR_IN_ONE_ON_3RD", MET),
    ("cover_5y_4in1", Q2, "FOUR_IN_ONE_AS_INFANT", MISSED),
    ("cover_5y_mmr2", Q2, "MMR2_DAY_BEFORE_5TH", MET),
    ("cover_5y_mmr1", Q2, "MMR_DAY_BEFORE_1ST_ONLY", MISSED),
    ("cover_5y_mmr1", Q2, "MMR_DAY_BEFORE_1ST_AND_AT_3", MET),
    ("cover_5y_mmr2", Q2, "MMR_DAY_BEFORE_1ST_AND_AT_3", MISSED),
    ("cover_5y_6in1", Q2, "SIX_5Y_DAY_BEFORE_5TH", MET),
    ("cover_5y_6in1", Q2, "SIX_5Y_ON_5TH", MISSED),
    ("cover_5y_6in1", Q2, "SIX_5Y_CAMPAIGN_IPV_THIRD", MISSED),
    # The Hib/MenC booster at 5 years: from the 1st birthday, before the 5th; old schedule counts Hib/MenC only.
    ("cover_5y_hibmenc", Q2, "HIB_5Y_DAY_BEFORE_1ST", MISSED),
    ("cover_5y_hibmenc", Q2, "HIB_5Y_ON_1ST", MET),
    ("cover_5y_hibmenc", Q2, "HIB_5Y_DAY_BEFORE_5TH", MET),
    ("cover_5y_hibmenc", Q2, "HIB_5Y_ON_5TH", MISSED),
    ("cover_5y_hibmenc", Q2, "HIB_5Y_6IN1", MISSED),
    # VI001: the cohort's 8-month birthday falls in the quarter (a 31 Jan birth's on 30 Sep).
    ("6in1_on_time", Q2, "EIGHT_MONTHS_ON_30_SEP", MET),
    ("6in1_on_time", Q2, "EIGHT_MONTHS_ON_1_OCT", NOT_COUNTED),
    # VI002: from the 1st birthday to the day before 18 months.
    ("mmr1_on_time", Q2, "MMR_DAY_BEFORE_18M", MET),
    ("mmr1_on_time", Q2, "MMR_DAY_BEFORE_1ST", MISSED),
    # Polio booster: a 4th dose to be up to date from 3 years 4 months; the window's ends; alive on 31 Mar 2023.
    ("polio_booster_1_9", POLIO, "POLIO_3Y4M_ON_30_MAR_3_DOSES", MISSED),
    ("polio_booster_1_9", POLIO, "POLIO_3Y4M_ON_1_APR_3_DOSES", MET),
    ("polio_booster_1_9", POLIO, "POLIO_DOSE_9_AUG", MISSED),
    ("polio_booster_1_9", POLIO, "POLIO_DOSE_10_AUG", MET),
    ("polio_booster_1_9", POLIO, "POLIO_DOSE_31_MAR", MET),
    ("polio_booster_1_9", POLIO, "POLIO_DOSE_1_APR", MISSED),
    ("polio_booster_1_9", POLIO, "POLIO_DIED_31_MAR", NOT_COUNTED),
]


test_each_side_of_each_boundary = boundary_test(CASES)
