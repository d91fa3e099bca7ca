"""Cancer waiting-time standards (CWT v12.1) and registry measures on both sides of each boundary.

Months 2026-09 and 2026-10 (the extract date, 31 Oct 2026, ends October) and quarter 2026-27 Q2.
"""

from __future__ import annotations

import pytest

from tests.spec.helpers import MET, MISSED, NOT_COUNTED, boundary_test, build, facts, patient
from tests.spec.test_cancer import MONTH, QUARTER, pathway, tumour

OCTOBER = "2026-10"

PATHWAYS = [
    # FDS: clock stop (told date) decides the month; breast symptomatic is an FDS route.
    pathway("TOLD_30_SEP", "2026-09-10", told="2026-09-30", outcome="cancer_ruled_out"),
    pathway("TOLD_1_OCT", "2026-09-10", told="2026-10-01", outcome="cancer_ruled_out"),
    pathway(
        "BREAST_SYMPTOMATIC", "2026-09-01", priority="breast_symptomatic", told="2026-09-20", outcome="cancer_ruled_out"
    ),
    pathway("TOLD_NO_OUTCOME", "2026-09-01", told="2026-09-15"),
    pathway("TOLD_CONFIRMED", "2026-09-01", told="2026-09-15", outcome="cancer_confirmed"),
    pathway(
        "UPGRADE_TOLD_CONFIRMED",
        "2026-09-01",
        priority="consultant_upgrade",
        told="2026-09-15",
        outcome="cancer_confirmed",
    ),
    # 62-day: breast symptomatic counts; a pathway with cancer ruled out is not a cancer treatment.
    pathway(
        "D62_BREAST",
        "2026-07-15",
        priority="breast_symptomatic",
        told="2026-08-01",
        outcome="cancer_confirmed",
        dtt="2026-08-20",
        treated="2026-09-10",
    ),
    pathway(
        "TREATED_RULED_OUT",
        "2026-08-01",
        told="2026-08-10",
        outcome="cancer_ruled_out",
        dtt="2026-08-20",
        treated="2026-09-10",
    ),
    # 31-day: the treatment date decides the month; no decision to treat, no 31-day clock.
    pathway(
        "TREATED_30_SEP",
        "2026-08-01",
        told="2026-08-10",
        outcome="cancer_confirmed",
        dtt="2026-09-01",
        treated="2026-09-30",
    ),
    pathway(
        "TREATED_1_OCT",
        "2026-08-01",
        told="2026-08-10",
        outcome="cancer_confirmed",
        dtt="2026-09-01",
        treated="2026-10-01",
    ),
    pathway("TREATED_NO_DTT", "2026-08-01", told="2026-08-10", outcome="cancer_confirmed", treated="2026-09-12"),
    # 62-day: a consultant upgrade's clock starts at its referral date (day 62 vs day 63).
    *(
        pathway(pid, "2026-07-01", priority="consultant_upgrade", told="2026-07-20", dtt="2026-08-20", treated=day)
        for pid, day in (("UPGRADE_D62_DAY_62", "2026-09-01"), ("UPGRADE_D62_DAY_63", "2026-09-02"))
    ),
    # Treated with no outcome recorded: counted for the 31- and 62-day standards.
    pathway("TREATED_NO_OUTCOME", "2026-08-01", told="2026-08-10", dtt="2026-09-01", treated="2026-09-10"),
]
TUMOURS = [
    tumour("2026-09-30", "C50.1", "1", "unknown"),  # last day of Q2
    tumour("2026-07-01", "C18.2", "unknown", "screening"),  # first day of Q2, stage unknown
    tumour("2026-06-30", "C34.1", "2", "emergency"),  # Q1
    # Malignant is C00-C97 (C44, non-melanoma skin, excepted): the first and last categories, and D00 just after.
    tumour("2026-08-01", "C00.1", "3", "emergency"),
    tumour("2026-08-01", "C97", "2", "gp_referral"),
    tumour("2026-08-01", "D00.0", "1", "emergency"),
    tumour("2026-08-01", "C44.9", "1", "emergency"),
]


def tumour_id(date: str, icd10: str) -> str:
    """The unit id of patient PT's first tumour of that day and code (queries.materialise.TUMOURS_SQL)."""
    return f"T:PT:{date}:{icd10}:1"


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    return build(
        tmp_path_factory.mktemp("cancer_boundaries"),
        patients=[patient("1950-01-01", patient_id="PT")],
        cancer_pathways=PATHWAYS,
        cancer_registrations=TUMOURS,
    )


CASES = [
    # FDS: counted in its clock-stop (told) month; breast symptomatic is an FDS route.
    ("cwt_fds_28d", MONTH, "TOLD_30_SEP", MET),
    ("cwt_fds_28d", MONTH, "TOLD_1_OCT", NOT_COUNTED),
    ("cwt_fds_28d", OCTOBER, "TOLD_1_OCT", MET),
    ("cwt_fds_28d", MONTH, "BREAST_SYMPTOMATIC", MET),
    ("cwt_fds_28d", MONTH, "TOLD_NO_OUTCOME", MET),
    # Conversion: FDS pathways told an outcome.
    ("cancer_conversion_rate", MONTH, "BREAST_SYMPTOMATIC", MISSED),
    ("cancer_conversion_rate", MONTH, "TOLD_NO_OUTCOME", NOT_COUNTED),
    ("cancer_conversion_rate", MONTH, "TOLD_CONFIRMED", MET),
    ("cancer_conversion_rate", MONTH, "UPGRADE_TOLD_CONFIRMED", NOT_COUNTED),  # not an FDS pathway
    # 62-day: breast symptomatic counts; cancer ruled out does not.
    ("cwt_62d", MONTH, "D62_BREAST", MET),
    ("cwt_62d", MONTH, "TREATED_RULED_OUT", NOT_COUNTED),
    # 31-day: counted in its treatment month; no decision to treat, no clock.
    ("cwt_31d", MONTH, "TREATED_30_SEP", MET),
    ("cwt_31d", MONTH, "TREATED_1_OCT", NOT_COUNTED),
    ("cwt_31d", OCTOBER, "TREATED_1_OCT", MET),
    ("cwt_31d", MONTH, "TREATED_NO_DTT", NOT_COUNTED),
    # Tumours count in their diagnosis quarter, from its first day to its last; early stage needs a known stage.
    ("cancer_early_stage", QUARTER, tumour_id("2026-09-30", "C50.1"), MET),
    ("cancer_early_stage", QUARTER, tumour_id("2026-07-01", "C18.2"), NOT_COUNTED),
    ("cancer_emergency_route", QUARTER, tumour_id("2026-07-01", "C18.2"), MISSED),
    ("cancer_emergency_route", QUARTER, tumour_id("2026-09-30", "C50.1"), MISSED),  # route unknown: not emergency
    ("cancer_emergency_route", QUARTER, tumour_id("2026-06-30", "C34.1"), NOT_COUNTED),
    ("cancer_emergency_route", "2026-27 Q1", tumour_id("2026-06-30", "C34.1"), MET),
    ("cancer_early_stage", QUARTER, tumour_id("2026-08-01", "C00.1"), MISSED),
    ("cancer_early_stage", QUARTER, tumour_id("2026-08-01", "C97"), MET),
    ("cancer_emergency_route", QUARTER, tumour_id("2026-08-01", "C00.1"), MET),
    ("cancer_emergency_route", QUARTER, tumour_id("2026-08-01", "D00.0"), NOT_COUNTED),
    ("cancer_emergency_route", QUARTER, tumour_id("2026-08-01", "C44.9"), NOT_COUNTED),
    # 62-day: a consultant upgrade counts, its clock from the referral date recorded.
    ("cwt_62d", MONTH, "UPGRADE_D62_DAY_62", MET),
    ("cwt_62d", MONTH, "UPGRADE_D62_DAY_63", MISSED),
    # No outcome recorded: counted for 31 and 62 days, not for the conversion rate.
    ("cwt_31d", MONTH, "TREATED_NO_OUTCOME", MET),
    ("cwt_62d", MONTH, "TREATED_NO_OUTCOME", MET),
]


test_each_side_of_each_boundary = boundary_test(CASES)


def test_31_day_counts_cancer_treatments_only(con):
    # CWT v12.1: the 31-day standard covers treatments of a cancer; a pathway with cancer ruled out has none.
    assert "TREATED_RULED_OUT" not in facts(con, "cwt_31d", MONTH)


def test_registry_quarter_holds_exactly_its_malignant_tumours(con):
    expected = {tumour_id(day, code) for day, code in (("2026-09-30", "C50.1"), ("2026-07-01", "C18.2"))}
    expected |= {tumour_id("2026-08-01", code) for code in ("C00.1", "C97")}
    assert set(facts(con, "cancer_emergency_route", QUARTER)) == expected
