"""Asthma rules (QOF v50 AST005 register, AST007/AST015 review, AST012; SABA thresholds; admissions) on both
sides of each boundary.

Period: financial year 2025-26 (1 Apr 2025 - 31 Mar 2026). Adults diagnosed in 2021, registered since 2020,
with one ICS inhaler in the year, unless the name says otherwise.
"""

from __future__ import annotations

import pytest

from tests.spec.helpers import build, facts, patient
from tests.spec.test_asthma import ASTHMA, FENO, ICS, RESOLVED, REVIEW, SABA, admission, event, issue

FY = "2025-26"
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
    "REGISTERED_31_DEC": (ADULT, {"registration_start": "2025-12-31"}),
    "REGISTERED_1_JAN": (ADULT, {"registration_start": "2026-01-01"}),
    "DX_31_DEC": (ADULT, {}),
    "DX_1_JAN": (ADULT, {}),
    "DX_1_JAN_TESTED": (ADULT, {}),
    # AST012: diagnosed on or after 1 Apr 2025; a test from 3 months before to 3 months after diagnosis.
    "DX_1_APR_2025": (ADULT, {}),
    "DX_TEST_3M_BEFORE": (ADULT, {}),
    "DX_TEST_3M_1D_BEFORE": (ADULT, {}),
    # SABA counts (sum of inhalers issued in the 12 months).
    "SABA_TWO_ISSUES": (ADULT, {}),
    "SABA_THREE_ISSUES": (ADULT, {}),
    "SABA_5": (ADULT, {}),
    "SABA_6": (ADULT, {}),
    "SABA_11": (ADULT, {}),
    "SABA_ICS_BEFORE_YEAR": (ADULT, {}),
    # Emergency asthma admissions.
    "ADMITTED_2D": (ADULT, {}),
    "ADMITTED_31_MATERNITY": (ADULT, {}),
    "ADMITTED_31_MAR_2025": (ADULT, {}),
    "ADMITTED_31_MAR_2026": (ADULT, {}),
    "ADMITTED_J44": (ADULT, {}),
}
PATIENTS = [
    patient(birth, patient_id=pid, **{"registration_start": "2020-01-01", **extra})
    for pid, (birth, extra) in PATIENT_FIELDS.items()
]
OWN_DIAGNOSIS = {
    "DX_31_DEC": "2025-12-31",
    "DX_1_JAN": "2026-01-01",
    "DX_1_JAN_TESTED": "2026-01-01",
    "DX_1_APR_2025": "2025-04-01",
    "DX_TEST_3M_BEFORE": "2025-09-01",
    "DX_TEST_3M_1D_BEFORE": "2025-09-01",
    "TURNS_6_ON_1_APR": "2024-01-01",
}
OWN_PRESCRIPTIONS = {
    "RX_31_MAR_2025_ONLY": [issue("RX_31_MAR_2025_ONLY", "2025-03-31", ICS, 1)],
    "RX_1_APR_2025_ONLY": [issue("RX_1_APR_2025_ONLY", "2025-04-01", ICS, 1)],
    "RX_31_MAR_2026_ONLY": [issue("RX_31_MAR_2026_ONLY", "2026-03-31", ICS, 1)],
    "SABA_TWO_ISSUES": [issue("SABA_TWO_ISSUES", day, SABA, 1) for day in ("2025-05-01", "2025-09-01")],
    "SABA_THREE_ISSUES": [
        issue("SABA_THREE_ISSUES", day, SABA, 1) for day in ("2025-05-01", "2025-09-01", "2026-01-05")
    ],
    "SABA_5": [issue("SABA_5", "2025-05-01", SABA, 5)],
    "SABA_6": [issue("SABA_6", "2025-05-01", SABA, 6)],
    "SABA_11": [issue("SABA_11", "2025-05-01", SABA, 11)],
    "SABA_ICS_BEFORE_YEAR": [
        issue("SABA_ICS_BEFORE_YEAR", "2025-03-31", ICS, 1),
        issue("SABA_ICS_BEFORE_YEAR", "2025-05-01", SABA, 1),
    ],
}
EVENTS = [
    *(event(pid, OWN_DIAGNOSIS.get(pid, "2021-01-01"), ASTHMA) for pid in PATIENT_FIELDS),
    event("RESOLVED_SAME_DAY", "2021-01-01", RESOLVED),
    event("REVIEW_1_APR_2025", "2025-04-01", REVIEW),
    event("REVIEW_31_MAR_2025", "2025-03-31", REVIEW),
    event("DX_1_JAN_TESTED", "2026-01-10", FENO),
    event("DX_TEST_3M_BEFORE", "2025-06-01", FENO),
    event("DX_TEST_3M_1D_BEFORE", "2025-05-31", FENO),
]
MEDICATIONS = [
    *(rx for pid in PATIENT_FIELDS for rx in OWN_PRESCRIPTIONS.get(pid, [issue(pid, "2025-10-01", ICS, 1)])),
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


def register(con) -> set[str]:
    return set(facts(con, "ast_saba_3plus", FY))


def test_register_needs_an_asthma_drug_in_the_12_months_to_the_period_end(con):
    members = register(con)
    assert "RX_31_MAR_2025_ONLY" not in members
    assert {"RX_1_APR_2025_ONLY", "RX_31_MAR_2026_ONLY"} <= members


def test_register_age_is_6_on_the_last_day(con):
    assert "TURNS_6_ON_1_APR" not in register(con)  # 5 on 31 Mar 2026


def test_a_resolved_code_on_the_diagnosis_day_does_not_remove(con):
    assert "RESOLVED_SAME_DAY" in register(con)


def test_review_window_includes_its_first_day_only(con):
    review = facts(con, "ast_review_12m", FY)
    assert review["REVIEW_1_APR_2025"] == (1, 1)
    assert review["REVIEW_31_MAR_2025"] == (0, 1)


def test_three_month_exclusions_start_on_1_january(con):
    review = facts(con, "ast_review_12m", FY)
    assert review["REGISTERED_31_DEC"] == (0, 1)
    assert review["DX_31_DEC"] == (0, 1)
    assert "REGISTERED_1_JAN" not in review
    assert "DX_1_JAN" not in review
    assert "DX_1_JAN" not in facts(con, "ast_action_plan", FY)


def test_ast012_population_and_test_window(con):
    got = facts(con, "ast_objective_test", FY)
    assert got["DX_1_APR_2025"] == (0, 1)  # the first day of AST012
    assert got["DX_TEST_3M_BEFORE"] == (1, 1)
    assert got["DX_TEST_3M_1D_BEFORE"] == (0, 1)
    assert got["DX_31_DEC"] == (0, 1)  # untested, diagnosed more than 3 months before the end: counts
    assert "DX_1_JAN" not in got  # untested, diagnosed in the last 3 months: not yet
    assert got["DX_1_JAN_TESTED"] == (1, 1)  # tested already: counts


def test_saba_thresholds_on_both_sides(con):
    three, six, twelve = (facts(con, f"ast_saba_{n}plus", FY) for n in (3, 6, 12))
    assert three["SABA_TWO_ISSUES"] == (0, 1) and three["SABA_THREE_ISSUES"] == (1, 1)
    assert six["SABA_5"] == (0, 1) and six["SABA_6"] == (1, 1)
    assert twelve["SABA_11"] == (0, 1)


def test_saba_without_ics_looks_at_the_same_12_months(con):
    got = facts(con, "ast_saba_no_ics", FY)
    assert got["SABA_ICS_BEFORE_YEAR"] == (1, 1)
    assert "RX_1_APR_2025_ONLY" not in got  # no SABA: not in the denominator


def test_emergency_admission_methods_codes_and_window(con):
    got = facts(con, "ast_emergency_admissions", FY)
    assert got["ADMITTED_2D"] == (1, 1)
    assert got["ADMITTED_31_MAR_2026"] == (1, 1)
    assert got["ADMITTED_31_MATERNITY"] == (0, 1)
    assert got["ADMITTED_31_MAR_2025"] == (0, 1)
    assert got["ADMITTED_J44"] == (0, 1)
