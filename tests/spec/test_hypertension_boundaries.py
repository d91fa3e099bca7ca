"""Hypertension rules (QOF v50 HYP001/HYP008/HYP009, CVDPREVENT CVDP004HYP) on both sides of each boundary.

Period: financial year 2025-26 (1 Apr 2025 - 31 Mar 2026). Everyone is on the HYP001 register (diagnosed
2010) and registered since 2000 unless the name says otherwise; the UNDX_ patients (CVDP005HYP) have no diagnosis.
"""

from __future__ import annotations

import pytest

from tests.spec.helpers import MET, MISSED, NOT_COUNTED, boundary_test, build, own_practices, patient
from tests.spec.test_hypertension import HYP, RESOLVED, SYS, bp, event

FY = "2025-26"
R12 = "R12 to 2026-10-31"  # the rolling 12 months to the extract date: 1 Nov 2025 - 31 Oct 2026
R12_SEP = "R12 to 2026-09-30"
AGED_66, AGED_86 = "1960-01-01", "1940-01-01"

PATIENT_FIELDS = {
    # HYP009 (80+) thresholds: clinic 150/90, home 145/85.
    "H9_150_90": (AGED_86, {}),
    "H9_151_90": (AGED_86, {}),
    "H9_150_91": (AGED_86, {}),
    "H9_HOME_145_85": (AGED_86, {}),
    "H9_HOME_146_85": (AGED_86, {}),
    "H9_HOME_145_86": (AGED_86, {}),
    # HYP008 home diastolic.
    "H8_HOME_135_86": (AGED_66, {}),
    # The 12-month window, first and last day.
    "BP_ON_1_APR": (AGED_66, {}),
    "BP_ON_31_MAR_AFTER": (AGED_66, {}),
    # Systolic and diastolic on different days are not a reading.
    "SPLIT_DAYS": (AGED_66, {}),
    # A clinic and a home reading on the latest day: the clinic one is judged.
    "CLINIC_AND_HOME_SAME_DAY": (AGED_66, {}),
    # 9-month exclusions: the 9 months up to and including 31 Mar start on 1 Jul 2025.
    "FIRST_DX_30_JUN": (AGED_66, {}),
    "FIRST_DX_1_JUL": (AGED_66, {}),
    "REGISTERED_30_JUN": (AGED_66, {"registration_start": "2025-06-30"}),
    "REGISTERED_1_JUL": (AGED_66, {"registration_start": "2025-07-01"}),
    # The register on the period end.
    "DX_AFTER_YEAR_END": (AGED_66, {}),
    "RESOLVED_AFTER_YEAR_END": (AGED_66, {}),
    "CHILD_ON_REGISTER": ("2015-01-01", {"registration_start": "2015-01-01"}),
    # Registered and alive on the last day.
    "DIED_ON_31_MAR": (AGED_66, {"death_date": "2026-03-31"}),
    "DIED_ON_1_APR": (AGED_66, {"death_date": "2026-04-01"}),
    "LEFT_ON_31_MAR": (AGED_66, {"registration_end": "2026-03-31"}),
    "LEFT_ON_1_APR": (AGED_66, {"registration_end": "2026-04-01"}),
    # A rolling 12 months: its first day, and its 9 months (up to and including 31 Oct start on 1 Feb 2026).
    "R12_BP_ON_1_NOV": (AGED_66, {}),
    "R12_BP_ON_31_OCT_BEFORE": (AGED_66, {}),
    "R12_FIRST_DX_31_JAN": (AGED_66, {}),
    "R12_FIRST_DX_1_FEB": (AGED_66, {}),
    # The rolling 12 months to 30 Sep 2026: the day 9 calendar months before their end is 30 Dec 2025.
    "R12_SEP_FIRST_DX_30_DEC": (AGED_66, {}),
    "R12_SEP_FIRST_DX_31_DEC": (AGED_66, {}),
    "R12_SEP_REGISTERED_30_DEC": (AGED_66, {"registration_start": "2025-12-30"}),
    "R12_SEP_REGISTERED_31_DEC": (AGED_66, {"registration_start": "2025-12-31"}),
}
# CVDP005HYP, possible undiagnosed: a same-day reading of systolic >= 140 and diastolic >= 90 from the first day of
# the 12 months to more than 3 months before their end, aged 18+ on the last day, no diagnosis. Its denominator is
# every registered adult, so no patient rows are kept: each of these patients is alone at a practice of its own.
UNDIAGNOSED_FIELDS = {
    "UNDX_140_90": AGED_66,
    "UNDX_139_90": AGED_66,
    "UNDX_140_89": AGED_66,
    "UNDX_RAISED_ON_1_APR": AGED_66,
    "UNDX_RAISED_ON_31_MAR_BEFORE": AGED_66,
    "UNDX_TURNS_18_ON_31_MAR": "2008-03-31",
    "UNDX_TURNS_18_ON_1_APR": "2008-04-01",
    # HYP001 prevalence (the whole list its denominator): diagnosed on the year's last day, or the day after.
    "LIST_DX_ON_31_MAR": AGED_66,
    "LIST_DX_ON_1_APR": AGED_66,
}
PATIENTS = [
    patient(birth, patient_id=pid, **{"registration_start": "2000-01-01", **extra})
    for pid, (birth, extra) in PATIENT_FIELDS.items()
] + [
    patient(birth, patient_id=pid, practice_code=practice, registration_start=birth)
    for (pid, birth), practice in zip(UNDIAGNOSED_FIELDS.items(), own_practices(len(UNDIAGNOSED_FIELDS)), strict=True)
]
OWN_DIAGNOSIS = {
    "FIRST_DX_30_JUN": "2025-06-30",
    "FIRST_DX_1_JUL": "2025-07-01",
    "DX_AFTER_YEAR_END": "2026-04-01",
    "CHILD_ON_REGISTER": "2020-01-01",
    "R12_FIRST_DX_31_JAN": "2026-01-31",
    "R12_FIRST_DX_1_FEB": "2026-02-01",
    "R12_SEP_FIRST_DX_30_DEC": "2025-12-30",
    "R12_SEP_FIRST_DX_31_DEC": "2025-12-31",
}
EVENTS = [
    *(event(pid, OWN_DIAGNOSIS.get(pid, "2010-05-01"), HYP) for pid in PATIENT_FIELDS),
    *bp("H9_150_90", "2026-02-01", 150, 90),
    *bp("H9_151_90", "2026-02-01", 151, 90),
    *bp("H9_150_91", "2026-02-01", 150, 91),
    *bp("H9_HOME_145_85", "2026-02-01", 145, 85, home=True),
    *bp("H9_HOME_146_85", "2026-02-01", 146, 85, home=True),
    *bp("H9_HOME_145_86", "2026-02-01", 145, 86, home=True),
    *bp("H8_HOME_135_86", "2026-02-01", 135, 86, home=True),
    *bp("BP_ON_1_APR", "2025-04-01", 120, 80),
    *bp("BP_ON_31_MAR_AFTER", "2025-10-01", 120, 80),
    *bp("BP_ON_31_MAR_AFTER", "2026-03-31", 160, 100),
    event("SPLIT_DAYS", "2026-03-01", SYS, 120),
    *bp("SPLIT_DAYS", "2026-03-02", 120, 80)[1:],  # the diastolic half only, a day later
    *bp("CLINIC_AND_HOME_SAME_DAY", "2026-03-01", 120, 80),
    *bp("CLINIC_AND_HOME_SAME_DAY", "2026-03-01", 150, 95, home=True),
    event("RESOLVED_AFTER_YEAR_END", "2026-04-01", RESOLVED),
    *bp("CHILD_ON_REGISTER", "2026-02-01", 110, 70),
    *bp("R12_BP_ON_1_NOV", "2025-11-01", 120, 80),
    *bp("R12_BP_ON_31_OCT_BEFORE", "2025-10-31", 120, 80),
    *bp("UNDX_140_90", "2025-11-01", 140, 90),
    *bp("UNDX_139_90", "2025-11-01", 139, 90),
    *bp("UNDX_140_89", "2025-11-01", 140, 89),
    *bp("UNDX_RAISED_ON_1_APR", "2025-04-01", 150, 95),
    *bp("UNDX_RAISED_ON_31_MAR_BEFORE", "2025-03-31", 150, 95),
    *bp("UNDX_TURNS_18_ON_31_MAR", "2025-11-01", 150, 95),
    *bp("UNDX_TURNS_18_ON_1_APR", "2025-11-01", 150, 95),
    event("LIST_DX_ON_31_MAR", "2026-03-31", HYP),
    event("LIST_DX_ON_1_APR", "2026-04-01", HYP),
]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    return build(tmp_path_factory.mktemp("hyp_boundaries"), patients=PATIENTS, clinical_events=EVENTS)


CASES = [
    # HYP009 (80+): clinic at or below 150/90, home at or below 145/85.
    ("hyp009", FY, "H9_150_90", MET),
    ("hyp009", FY, "H9_151_90", MISSED),
    ("hyp009", FY, "H9_150_91", MISSED),
    ("hyp009", FY, "H9_HOME_145_85", MET),
    ("hyp009", FY, "H9_HOME_146_85", MISSED),
    ("hyp009", FY, "H9_HOME_145_86", MISSED),
    # HYP008: home diastolic above 85.
    ("hyp008", FY, "H8_HOME_135_86", MISSED),
    # The 12 months include their first day; a raised reading on the last day is the latest.
    ("hyp008", FY, "BP_ON_1_APR", MET),
    ("hyp_bp_recorded_12m", FY, "BP_ON_1_APR", MET),
    ("hyp008", FY, "BP_ON_31_MAR_AFTER", MISSED),
    # Systolic and diastolic on different days are no reading.
    ("hyp_bp_recorded_12m", FY, "SPLIT_DAYS", MISSED),
    ("hyp008", FY, "SPLIT_DAYS", MISSED),
    # A clinic and a home pair on the latest day: the clinic pair is judged.
    ("hyp008", FY, "CLINIC_AND_HOME_SAME_DAY", MET),
    # 9-month exclusions (non-achievers): 30 Jun kept, 1 Jul excluded; the register keeps both.
    ("hyp008", FY, "FIRST_DX_30_JUN", MISSED),
    ("hyp008", FY, "REGISTERED_30_JUN", MISSED),
    ("hyp008", FY, "FIRST_DX_1_JUL", NOT_COUNTED),
    ("hyp008", FY, "REGISTERED_1_JUL", NOT_COUNTED),
    ("hyp_bp_recorded_12m", FY, "FIRST_DX_1_JUL", MISSED),
    ("hyp_bp_recorded_12m", FY, "REGISTERED_1_JUL", MISSED),
    # The register is judged on codes up to the period end, at every age.
    ("hyp_bp_recorded_12m", FY, "DX_AFTER_YEAR_END", NOT_COUNTED),
    ("hyp_bp_recorded_12m", FY, "RESOLVED_AFTER_YEAR_END", MISSED),
    ("hyp_bp_recorded_12m", FY, "CHILD_ON_REGISTER", MET),
    ("hyp008", FY, "CHILD_ON_REGISTER", MET),
    # Registered and alive on the last day: a death or a registration end on 31 Mar takes the patient out.
    ("hyp_bp_recorded_12m", FY, "DIED_ON_1_APR", MISSED),
    ("hyp_bp_recorded_12m", FY, "LEFT_ON_1_APR", MISSED),
    ("hyp_bp_recorded_12m", FY, "DIED_ON_31_MAR", NOT_COUNTED),
    ("hyp_bp_recorded_12m", FY, "LEFT_ON_31_MAR", NOT_COUNTED),
    # A rolling 12 months to 31 Oct 2026: a reading on its first day counts, the day before does not; the
    # 9-month exclusion counts back from its own end (31 Jan kept, 1 Feb excluded), not from a year end.
    ("hyp_bp_recorded_12m", R12, "R12_BP_ON_1_NOV", MET),
    ("hyp008", R12, "R12_BP_ON_1_NOV", MET),
    ("hyp_bp_recorded_12m", R12, "R12_BP_ON_31_OCT_BEFORE", MISSED),
    ("hyp008", R12, "R12_FIRST_DX_31_JAN", MISSED),
    ("hyp008", R12, "R12_FIRST_DX_1_FEB", NOT_COUNTED),
    ("hyp008", FY, "R12_FIRST_DX_1_FEB", NOT_COUNTED),  # 1 Feb is in 2025-26's 9 months too
    # "In the last 9 months" is after the day 9 calendar months before the end (docs/clinical-indicators.md §9), so
    # for a period ending 30 Sep from 31 Dec: 9 months and a day (January to September as whole months).
    ("hyp008", R12_SEP, "R12_SEP_FIRST_DX_30_DEC", MISSED),
    ("hyp008", R12_SEP, "R12_SEP_FIRST_DX_31_DEC", NOT_COUNTED),
    ("hyp008", R12_SEP, "R12_SEP_REGISTERED_30_DEC", MISSED),
    ("hyp008", R12_SEP, "R12_SEP_REGISTERED_31_DEC", NOT_COUNTED),
    # CVDP005HYP: 140/90 is raised (>= both), 139/90 and 140/89 are not; the reading's 12 months start on 1 Apr;
    # an adult is 18 on the last day.
    ("hyp_possible_undiagnosed", FY, "UNDX_140_90", MET),
    ("hyp_possible_undiagnosed", FY, "UNDX_139_90", MISSED),
    ("hyp_possible_undiagnosed", FY, "UNDX_140_89", MISSED),
    ("hyp_possible_undiagnosed", FY, "UNDX_RAISED_ON_1_APR", MET),
    ("hyp_possible_undiagnosed", FY, "UNDX_RAISED_ON_31_MAR_BEFORE", MISSED),
    ("hyp_possible_undiagnosed", FY, "UNDX_TURNS_18_ON_31_MAR", MET),
    ("hyp_possible_undiagnosed", FY, "UNDX_TURNS_18_ON_1_APR", NOT_COUNTED),
    # HYP001 prevalence counts the whole registered list, on the register by its last day or not.
    ("hyp_prevalence", FY, "LIST_DX_ON_31_MAR", MET),
    ("hyp_prevalence", FY, "LIST_DX_ON_1_APR", MISSED),
    ("hyp_prevalence", FY, "UNDX_140_90", MISSED),
]


test_each_side_of_each_boundary = boundary_test(CASES)
