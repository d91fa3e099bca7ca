"""Asthma rules (QOF v50 AST005 register, AST007/AST015 review, AST012; SABA thresholds; admissions) on both
sides of each boundary.

Period: financial year 2025-26 (1 Apr 2025 - 31 Mar 2026). Adults diagnosed in 2021, registered since 2020,
with one ICS inhaler in the year, unless the name says otherwise.
"""

from __future__ import annotations

import pytest

from tests.spec.helpers import MET, MISSED, NOT_COUNTED, boundary_test, build, own_practices, patient
from tests.spec.test_asthma import ASTHMA, FENO, ICS, PLAN, RESOLVED, REVIEW, SABA, admission, event, issue

FY = "2025-26"
R12 = "R12 to 2026-10-31"
R12_JUN = "R12 to 2026-06-30"
ADULT = "1995-01-01"

PATIENT_FIELDS = {
    # AST005: an asthma drug in the 12 months to the period end; aged 6 on the last day.
    "RX_31_MAR_2025_ONLY": (ADULT, {}),
    "RX_1_APR_2025_ONLY": (ADULT, {}),
    "RX_31_MAR_2026_ONLY": (ADULT, {}),
    "TURNS_6_ON_1_APR": ("2020-04-01", {"registration_start": "2020-04-01"}),
    "RESOLVED_SAME_DAY": (ADULT, {}),
    # Review in the 12 months; 3-month exclusions (the 3 months to 31 Mar start on 1 Jan).
    "REVIEW_1_APR_2025": (ADULT, {}),
    "REVIEW_31_MAR_2025": (ADULT, {}),
    # A written plan coded on the review's day, or the day before it.
    "PLAN_ON_REVIEW_DAY": (ADULT, {}),
    "PLAN_DAY_BEFORE_REVIEW": (ADULT, {}),
    "REGISTERED_31_DEC": (ADULT, {"registration_start": "2025-12-31"}),
    "REGISTERED_1_JAN": (ADULT, {"registration_start": "2026-01-01"}),
    "DX_31_DEC": (ADULT, {}),
    "DX_1_JAN": (ADULT, {}),
    "DX_1_JAN_TESTED": (ADULT, {}),
    # AST012: diagnosed on or after 1 Apr 2025; a test from 3 months before to 3 months after diagnosis.
    "DX_1_APR_2025": (ADULT, {}),
    "DX_TEST_3M_BEFORE": (ADULT, {}),
    "DX_TEST_3M_1D_BEFORE": (ADULT, {}),
    # AST012 from 1 Apr 2025, judged in the rolling 12 months to 30 Sep 2025 (from 1 Oct 2024), which holds both days.
    "AST012_DX_31_MAR_2025": (ADULT, {}),
    "AST012_DX_1_APR_2025": (ADULT, {}),
    # Diagnosed in the last 3 months (15 Feb 2026): tested by the year end, or only after it.
    "DX_15_FEB_TESTED_31_MAR": (ADULT, {}),
    "DX_15_FEB_TESTED_1_APR": (ADULT, {}),
    # Diagnosed in 2021 and coded again in the year: not a new diagnosis.
    "DX_2021_CODED_AGAIN": (ADULT, {}),
    # SABA counts (sum of inhalers issued in the 12 months).
    "SABA_TWO_ISSUES": (ADULT, {}),
    "SABA_THREE_ISSUES": (ADULT, {}),
    "SABA_5": (ADULT, {}),
    "SABA_6": (ADULT, {}),
    "SABA_11": (ADULT, {}),
    "SABA_12": (ADULT, {}),
    "SABA_ICS_BEFORE_YEAR": (ADULT, {}),
    # Emergency asthma admissions.
    "ADMITTED_2D": (ADULT, {}),
    "ADMITTED_31_MATERNITY": (ADULT, {}),
    "ADMITTED_31_MAR_2025": (ADULT, {}),
    "ADMITTED_31_MAR_2026": (ADULT, {}),
    "ADMITTED_J44": (ADULT, {}),
    # Registered and alive on the period's last day: died or left before it (or on it) is not counted.
    "DIED_15_MAR_2026": (ADULT, {"death_date": "2026-03-15"}),
    "LEFT_31_MAR_2026": (ADULT, {"registration_end": "2026-03-31"}),
    "LEFT_1_APR_2026": (ADULT, {"registration_end": "2026-04-01"}),
    # The rolling 12 months to 30 Jun 2026: the day 3 calendar months before their end is 30 Mar.
    "R12_JUN_DX_30_MAR": (ADULT, {}),
    "R12_JUN_DX_31_MAR": (ADULT, {}),
    "R12_JUN_REGISTERED_30_MAR": (ADULT, {"registration_start": "2026-03-30"}),
    "R12_JUN_REGISTERED_31_MAR": (ADULT, {"registration_start": "2026-03-31"}),
    # The rolling 12 months to the extract date (31 Oct 2026) start on 1 Nov 2025.
    "RX_31_OCT_2025_ONLY": (ADULT, {}),
    "RX_1_NOV_2025_ONLY": (ADULT, {}),
}
# AST005 prevalence has the whole list as its denominator and keeps no patient rows: each of these is alone at a
# practice of its own (tests.spec.helpers.fact), diagnosed in 2024 with an inhaler in the year.
PREVALENCE_BORN = {"PREV_TURNS_6_ON_31_MAR": "2020-03-31", "PREV_TURNS_6_ON_1_APR": "2020-04-01"}
PATIENTS = [
    patient(birth, patient_id=pid, **{"registration_start": "2020-01-01", **extra})
    for pid, (birth, extra) in PATIENT_FIELDS.items()
] + [
    patient(birth, patient_id=pid, practice_code=practice)
    for (pid, birth), practice in zip(PREVALENCE_BORN.items(), own_practices(len(PREVALENCE_BORN)), strict=True)
]
OWN_DIAGNOSIS = {
    "DX_31_DEC": "2025-12-31",
    "DX_1_JAN": "2026-01-01",
    "DX_1_JAN_TESTED": "2026-01-01",
    "DX_1_APR_2025": "2025-04-01",
    "DX_TEST_3M_BEFORE": "2025-09-01",
    "DX_TEST_3M_1D_BEFORE": "2025-09-01",
    "TURNS_6_ON_1_APR": "2024-01-01",
    "AST012_DX_31_MAR_2025": "2025-03-31",
    "AST012_DX_1_APR_2025": "2025-04-01",
    "DX_15_FEB_TESTED_31_MAR": "2026-02-15",
    "DX_15_FEB_TESTED_1_APR": "2026-02-15",
    "R12_JUN_DX_30_MAR": "2026-03-30",
    "R12_JUN_DX_31_MAR": "2026-03-31",
}
OWN_PRESCRIPTIONS = {
    "RX_31_MAR_2025_ONLY": [issue("RX_31_MAR_2025_ONLY", "2025-03-31", ICS, 1)],
    "RX_1_APR_2025_ONLY": [issue("RX_1_APR_2025_ONLY", "2025-04-01", ICS, 1)],
    "RX_31_MAR_2026_ONLY": [issue("RX_31_MAR_2026_ONLY", "2026-03-31", ICS, 1)],
    "RX_31_OCT_2025_ONLY": [issue("RX_31_OCT_2025_ONLY", "2025-10-31", ICS, 1)],
    "RX_1_NOV_2025_ONLY": [issue("RX_1_NOV_2025_ONLY", "2025-11-01", ICS, 1)],
    # An inhaler in both the financial year and the 12 months to 30 Sep 2025.
    "AST012_DX_31_MAR_2025": [issue("AST012_DX_31_MAR_2025", "2025-05-01", ICS, 1)],
    "AST012_DX_1_APR_2025": [issue("AST012_DX_1_APR_2025", "2025-05-01", ICS, 1)],
    # On the register in the 12 months to 30 Jun 2026.
    **{pid: [issue(pid, "2026-05-01", ICS, 1)] for pid in PATIENT_FIELDS if pid.startswith("R12_JUN_")},
    # On the register in the financial year and in the 12 months to 31 Oct 2026.
    **{pid: [issue(pid, "2026-02-15", ICS, 1)] for pid in ("DX_15_FEB_TESTED_31_MAR", "DX_15_FEB_TESTED_1_APR")},
    "SABA_TWO_ISSUES": [issue("SABA_TWO_ISSUES", day, SABA, 1) for day in ("2025-05-01", "2025-09-01")],
    "SABA_THREE_ISSUES": [
        issue("SABA_THREE_ISSUES", day, SABA, 1) for day in ("2025-05-01", "2025-09-01", "2026-01-05")
    ],
    "SABA_5": [issue("SABA_5", "2025-05-01", SABA, 5)],
    "SABA_6": [issue("SABA_6", "2025-05-01", SABA, 6)],
    "SABA_11": [issue("SABA_11", "2025-05-01", SABA, 11)],
    "SABA_12": [issue("SABA_12", "2025-05-01", SABA, 12)],
    "SABA_ICS_BEFORE_YEAR": [
        issue("SABA_ICS_BEFORE_YEAR", "2025-03-31", ICS, 1),
        issue("SABA_ICS_BEFORE_YEAR", "2025-05-01", SABA, 1),
    ],
}
EVENTS = [
    *(event(pid, OWN_DIAGNOSIS.get(pid, "2021-01-01"), ASTHMA) for pid in PATIENT_FIELDS),
    *(event(pid, "2024-01-01", ASTHMA) for pid in PREVALENCE_BORN),
    event("RESOLVED_SAME_DAY", "2021-01-01", RESOLVED),
    event("REVIEW_1_APR_2025", "2025-04-01", REVIEW),
    event("REVIEW_31_MAR_2025", "2025-03-31", REVIEW),
    event("PLAN_ON_REVIEW_DAY", "2025-11-03", REVIEW),
    event("PLAN_ON_REVIEW_DAY", "2025-11-03", PLAN),
    event("PLAN_DAY_BEFORE_REVIEW", "2025-11-03", REVIEW),
    event("PLAN_DAY_BEFORE_REVIEW", "2025-11-02", PLAN),
    event("DX_1_JAN_TESTED", "2026-01-10", FENO),
    event("DX_TEST_3M_BEFORE", "2025-06-01", FENO),
    event("DX_TEST_3M_1D_BEFORE", "2025-05-31", FENO),
    event("DX_15_FEB_TESTED_31_MAR", "2026-03-31", FENO),
    event("DX_15_FEB_TESTED_1_APR", "2026-04-01", FENO),
    event("DX_2021_CODED_AGAIN", "2025-09-01", ASTHMA),
    event("DX_2021_CODED_AGAIN", "2025-09-01", FENO),
]
MEDICATIONS = [
    *(rx for pid in PATIENT_FIELDS for rx in OWN_PRESCRIPTIONS.get(pid, [issue(pid, "2025-10-01", ICS, 1)])),
    *(issue(pid, "2025-10-01", ICS, 1) for pid in PREVALENCE_BORN),
]
ADMISSIONS = [
    admission("ADMITTED_2D", "2025-10-10", "2D", "J45.0"),
    admission("ADMITTED_31_MATERNITY", "2025-10-10", "31", "J45.9"),
    admission("ADMITTED_31_MAR_2025", "2025-03-31", "21", "J45.9"),
    admission("ADMITTED_31_MAR_2026", "2026-03-31", "21", "J46"),
    admission("ADMITTED_J44", "2025-10-10", "21", "J44.1"),
]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    return build(
        tmp_path_factory.mktemp("ast_boundaries"),
        patients=PATIENTS,
        clinical_events=EVENTS,
        medications=MEDICATIONS,
        hospital_episodes=ADMISSIONS,
    )


# ast_saba_3plus has the whole register as its denominator: it stands for "on the register" below.
CASES = [
    # AST005: an asthma drug in the 12 months to the period end, aged 6 on the last day, not resolved.
    ("ast_saba_3plus", FY, "RX_31_MAR_2025_ONLY", NOT_COUNTED),
    ("ast_saba_3plus", FY, "RX_1_APR_2025_ONLY", MISSED),
    ("ast_saba_3plus", FY, "RX_31_MAR_2026_ONLY", MISSED),
    ("ast_saba_3plus", FY, "TURNS_6_ON_1_APR", NOT_COUNTED),  # 5 on 31 Mar 2026
    ("ast_saba_3plus", FY, "RESOLVED_SAME_DAY", MISSED),  # a resolved code on the diagnosis day does not remove
    ("ast_prevalence", FY, "PREV_TURNS_6_ON_31_MAR", MET),
    ("ast_prevalence", FY, "PREV_TURNS_6_ON_1_APR", MISSED),  # on the list, not on the register
    # Review in the 12 months: the first day counts, the day before does not.
    ("ast_review_12m", FY, "REVIEW_1_APR_2025", MET),
    ("ast_review_12m", FY, "REVIEW_31_MAR_2025", MISSED),
    # The written plan is coded on the review's day.
    ("ast_action_plan", FY, "PLAN_ON_REVIEW_DAY", MET),
    ("ast_action_plan", FY, "PLAN_DAY_BEFORE_REVIEW", MISSED),
    # 3-month exclusions (non-achievers): 31 Dec kept, 1 Jan excluded.
    ("ast_review_12m", FY, "REGISTERED_31_DEC", MISSED),
    ("ast_review_12m", FY, "DX_31_DEC", MISSED),
    ("ast_review_12m", FY, "REGISTERED_1_JAN", NOT_COUNTED),
    ("ast_review_12m", FY, "DX_1_JAN", NOT_COUNTED),
    ("ast_action_plan", FY, "DX_1_JAN", NOT_COUNTED),
    # AST012: from 1 Apr 2025; a test from 3 months before diagnosis; the last 3 months count once tested.
    ("ast_objective_test", FY, "DX_1_APR_2025", MISSED),
    ("ast_objective_test", FY, "DX_TEST_3M_BEFORE", MET),
    ("ast_objective_test", FY, "DX_TEST_3M_1D_BEFORE", MISSED),
    ("ast_objective_test", FY, "DX_31_DEC", MISSED),
    ("ast_objective_test", FY, "DX_1_JAN", NOT_COUNTED),
    ("ast_objective_test", FY, "DX_1_JAN_TESTED", MET),
    ("ast_objective_test", "R12 to 2025-09-30", "AST012_DX_31_MAR_2025", NOT_COUNTED),
    ("ast_objective_test", "R12 to 2025-09-30", "AST012_DX_1_APR_2025", MISSED),
    ("ast_objective_test", FY, "DX_15_FEB_TESTED_31_MAR", MET),
    ("ast_objective_test", FY, "DX_15_FEB_TESTED_1_APR", NOT_COUNTED),  # not yet tested on 31 Mar
    ("ast_objective_test", R12, "DX_15_FEB_TESTED_1_APR", MET),  # tested by 31 Oct 2026
    ("ast_objective_test", FY, "DX_2021_CODED_AGAIN", NOT_COUNTED),
    # SABA inhalers issued in the 12 months: 2 vs 3 issues, 5 vs 6, 11 (below 12).
    ("ast_saba_3plus", FY, "SABA_TWO_ISSUES", MISSED),
    ("ast_saba_3plus", FY, "SABA_THREE_ISSUES", MET),
    ("ast_saba_6plus", FY, "SABA_5", MISSED),
    ("ast_saba_6plus", FY, "SABA_6", MET),
    ("ast_saba_12plus", FY, "SABA_11", MISSED),
    ("ast_saba_12plus", FY, "SABA_12", MET),
    # SABA without ICS: an ICS before the 12 months does not count; no SABA, not in the denominator.
    ("ast_saba_no_ics", FY, "SABA_ICS_BEFORE_YEAR", MET),
    ("ast_saba_no_ics", FY, "RX_1_APR_2025_ONLY", NOT_COUNTED),
    # Emergency (ADMIMETH 21-2D) asthma (J45/J46) admissions in the 12 months.
    ("ast_emergency_admissions", FY, "ADMITTED_2D", MET),
    ("ast_emergency_admissions", FY, "ADMITTED_31_MAR_2026", MET),
    ("ast_emergency_admissions", FY, "ADMITTED_31_MATERNITY", MISSED),
    ("ast_emergency_admissions", FY, "ADMITTED_31_MAR_2025", MISSED),
    ("ast_emergency_admissions", FY, "ADMITTED_J44", MISSED),
    # On the register only if registered and alive on the last day (a registration ending that day ends it).
    ("ast_saba_3plus", FY, "DIED_15_MAR_2026", NOT_COUNTED),
    ("ast_saba_3plus", FY, "LEFT_31_MAR_2026", NOT_COUNTED),
    ("ast_saba_3plus", FY, "LEFT_1_APR_2026", MISSED),
    # A rolling 12 months: the drug on its first day keeps the patient on the register, the day before does not.
    ("ast_saba_3plus", R12, "RX_1_NOV_2025_ONLY", MISSED),
    ("ast_saba_3plus", R12, "RX_31_OCT_2025_ONLY", NOT_COUNTED),
    ("ast_saba_3plus", FY, "RX_31_OCT_2025_ONLY", MISSED),
    # "In the last 3 months" is after the day 3 calendar months before the end (docs/clinical-indicators.md §9), so
    # for a period ending 30 Jun from 31 Mar: 3 months and a day, where OpenSAFELY counts whole months [OS-AST007].
    ("ast_review_12m", R12_JUN, "R12_JUN_DX_30_MAR", MISSED),
    ("ast_review_12m", R12_JUN, "R12_JUN_DX_31_MAR", NOT_COUNTED),
    ("ast_review_12m", R12_JUN, "R12_JUN_REGISTERED_30_MAR", MISSED),
    ("ast_review_12m", R12_JUN, "R12_JUN_REGISTERED_31_MAR", NOT_COUNTED),
    ("ast_objective_test", R12_JUN, "R12_JUN_DX_30_MAR", MISSED),
    ("ast_objective_test", R12_JUN, "R12_JUN_DX_31_MAR", NOT_COUNTED),
]


test_each_side_of_each_boundary = boundary_test(CASES)
