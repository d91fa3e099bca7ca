"""Asthma rules (QOF v50 register, review, plan, AST012; SABA thresholds; admissions) at their boundaries.

Period: financial year 2025-26 (1 Apr 2025 - 31 Mar 2026).
"""

from __future__ import annotations

import pytest

from tests.spec.helpers import build, d, facts, patient, totals

FY = "2025-26"
ASTHMA, RESOLVED, EXACERBATION = "195967001", "162660004", "708038006"
REVIEW, PLAN = "394700004", "406162001"
FENO = "1011321000000104"
SABA, ICS = "35936511000001108", "10618211000001109"


def event(patient_id: str, date: str, code: str) -> dict:
    return {"patient_id": patient_id, "event_date": d(date), "snomed_code": code, "value": None}


def issue(patient_id: str, date: str, code: str, quantity: float) -> dict:
    return {"patient_id": patient_id, "issue_date": d(date), "dmd_code": code, "bnf_code": None, "quantity": quantity}


def admission(patient_id: str, date: str, method: str, diagnosis: str) -> dict:
    return {
        "patient_id": patient_id,
        "admission_date": d(date),
        "discharge_date": d(date),
        "provider_code": "R1H",
        "admission_method": method,
        "primary_diagnosis": diagnosis,
    }


BORN = {
    "SABA_3": "1995-01-01",
    "SABA_2": "1995-01-01",
    "SABA_12": "1995-01-01",
    "NO_INHALER": "1995-01-01",
    "AGE_5": "2020-06-01",
    "TURNS_6_ON_31_MAR": "2020-03-31",
    "PLAN_OTHER_DAY": "1995-01-01",
    "NEW_DX_TESTED_BEFORE": "1995-01-01",
    "DX_TEST_3M_AFTER": "1995-01-01",
    "DX_TEST_3M_1D_AFTER": "1995-01-01",
    "DX_BEFORE_AST012": "1995-01-01",
    "RESOLVED": "1995-01-01",
    "RESOLVED_THEN_EXACERBATION": "1995-01-01",
    "NEW_REGISTRANT": "1995-01-01",
    "NEW_REGISTRANT_REVIEWED": "1995-01-01",
}
PATIENTS = [
    patient(born, patient_id=pid, registration_start="2020-06-01" if pid == "AGE_5" else "2020-01-01")
    for pid, born in BORN.items()
]
PATIENTS[[p["patient_id"] for p in PATIENTS].index("TURNS_6_ON_31_MAR")]["registration_start"] = d("2020-03-31")
for _new in ("NEW_REGISTRANT", "NEW_REGISTRANT_REVIEWED"):  # joined 1 Feb 2026: within 3 months of year end
    PATIENTS[[p["patient_id"] for p in PATIENTS].index(_new)]["registration_start"] = d("2026-02-01")

DIAGNOSIS_DATES = {
    "NEW_DX_TESTED_BEFORE": "2026-02-01",
    "DX_TEST_3M_AFTER": "2025-06-01",
    "DX_TEST_3M_1D_AFTER": "2025-06-01",
    "DX_BEFORE_AST012": "2025-03-15",
}
EVENTS = [
    *(event(pid, DIAGNOSIS_DATES.get(pid, "2021-01-01"), ASTHMA) for pid in BORN),
    event("RESOLVED", "2022-01-01", RESOLVED),
    # An exacerbation code is an AST_COD code (clinical-indicators.md §5.2): asthma again after the resolution.
    event("RESOLVED_THEN_EXACERBATION", "2022-01-01", RESOLVED),
    event("RESOLVED_THEN_EXACERBATION", "2025-06-01", EXACERBATION),
    event("SABA_3", "2025-06-01", REVIEW),
    event("SABA_3", "2025-06-01", PLAN),
    event("SABA_2", "2025-06-01", REVIEW),
    event("NEW_REGISTRANT_REVIEWED", "2026-02-15", REVIEW),
    event("PLAN_OTHER_DAY", "2025-06-01", REVIEW),
    event("PLAN_OTHER_DAY", "2025-06-02", PLAN),
    event("NEW_DX_TESTED_BEFORE", "2025-11-05", FENO),
    event("DX_TEST_3M_AFTER", "2025-09-01", FENO),
    event("DX_TEST_3M_1D_AFTER", "2025-09-02", FENO),
    event("DX_BEFORE_AST012", "2025-03-20", FENO),
]
MEDICATIONS = [
    issue("SABA_3", "2025-05-01", SABA, 1),
    issue("SABA_3", "2025-09-01", SABA, 2),
    issue("SABA_3", "2025-09-01", ICS, 1),
    issue("SABA_2", "2025-05-01", SABA, 2),
    issue("SABA_2", "2025-03-31", SABA, 5),  # the day before the year: not counted
    issue("SABA_12", "2025-05-01", SABA, 6),
    issue("SABA_12", "2026-03-31", SABA, 6),
    *(issue(pid, "2025-10-01", ICS, 1) for pid in BORN if pid not in ("SABA_3", "SABA_2", "SABA_12", "NO_INHALER")),
]
ADMISSIONS = [
    admission("SABA_3", "2025-10-10", "21", "J45.9"),
    admission("SABA_2", "2025-10-10", "11", "J45.9"),  # elective
    admission("SABA_12", "2025-10-10", "2A", "J46"),
    admission("PLAN_OTHER_DAY", "2025-10-10", "21", "I10"),  # not asthma
]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    return build(
        tmp_path_factory.mktemp("ast"),
        patients=PATIENTS,
        clinical_events=EVENTS,
        medications=MEDICATIONS,
        hospital_episodes=ADMISSIONS,
    )


def register(con) -> set[str]:
    return set(facts(con, "ast_saba_3plus", FY))


def test_register_needs_age_6_an_inhaler_and_no_resolution(con):
    members = register(con)
    assert "NO_INHALER" not in members
    assert "AGE_5" not in members
    assert "TURNS_6_ON_31_MAR" in members
    assert "RESOLVED" not in members
    assert "RESOLVED_THEN_EXACERBATION" in members
    assert {"SABA_3", "SABA_2", "SABA_12"} <= members


def test_prevalence_is_register_over_list(con):
    assert totals(con, "ast_prevalence", FY) == (len(register(con)), len(PATIENTS))


def test_saba_thresholds(con):
    three = facts(con, "ast_saba_3plus", FY)
    assert three["SABA_2"] == (0, 1)
    assert three["SABA_3"] == (1, 1)
    assert facts(con, "ast_saba_6plus", FY)["SABA_3"] == (0, 1)
    twelve = facts(con, "ast_saba_12plus", FY)
    assert twelve["SABA_12"] == (1, 1)
    assert twelve["SABA_3"] == (0, 1)


def test_saba_without_ics(con):
    got = facts(con, "ast_saba_no_ics", FY)
    assert got == {"SABA_2": (1, 1), "SABA_3": (0, 1), "SABA_12": (1, 1)}


def test_review_and_plan_on_the_same_day(con):
    review = facts(con, "ast_review_12m", FY)
    plan = facts(con, "ast_action_plan", FY)
    assert review["SABA_3"] == (1, 1) and plan["SABA_3"] == (1, 1)
    assert review["SABA_2"] == (1, 1) and plan["SABA_2"] == (0, 1)
    assert review["PLAN_OTHER_DAY"] == (1, 1) and plan["PLAN_OTHER_DAY"] == (0, 1)
    assert review["SABA_12"] == (0, 1)


def test_diagnosis_in_last_three_months_excluded_from_review_unless_achieved(con):
    assert "NEW_DX_TESTED_BEFORE" not in facts(con, "ast_review_12m", FY)


def test_registration_in_last_three_months_excluded_from_review_unless_achieved(con):
    review = facts(con, "ast_review_12m", FY)
    assert "NEW_REGISTRANT" not in review
    assert review["NEW_REGISTRANT_REVIEWED"] == (1, 1)
    assert "NEW_REGISTRANT" in facts(con, "ast_saba_3plus", FY)  # still on the register


def test_objective_test_window_is_three_months_either_side_of_diagnosis(con):
    got = facts(con, "ast_objective_test", FY)
    assert got["NEW_DX_TESTED_BEFORE"] == (1, 1)
    assert got["DX_TEST_3M_AFTER"] == (1, 1)
    assert got["DX_TEST_3M_1D_AFTER"] == (0, 1)
    assert "DX_BEFORE_AST012" not in got
    assert "SABA_3" not in got  # diagnosed years ago


def test_emergency_asthma_admissions(con):
    got = facts(con, "ast_emergency_admissions", FY)
    assert got["SABA_3"] == (1, 1)
    assert got["SABA_2"] == (0, 1)
    assert got["SABA_12"] == (1, 1)
    assert got["PLAN_OTHER_DAY"] == (0, 1)
