"""Cancer waiting-time standards (CWT v12.1) and registry measures at their boundaries.

Month 2026-09 for the CWT standards (clock-stop month); quarter 2026-27 Q2 for the registry.
"""

from __future__ import annotations

import pytest

from tests.spec.helpers import build, d, facts, patient

MONTH = "2026-09"
QUARTER = "2026-27 Q2"


def pathway(
    pathway_id: str,
    referral: str,
    *,
    priority: str = "urgent_suspected_cancer",
    told: str | None = None,
    outcome: str | None = None,
    dtt: str | None = None,
    treated: str | None = None,
) -> dict:
    return {
        "pathway_id": pathway_id,
        "patient_id": "PT",
        "referral_date": d(referral),
        "priority_type": priority,
        "suspected_site": "lung",
        "provider_code": "R1H",
        "diagnosis_told_date": d(told) if told else None,
        "diagnosis_outcome": outcome,
        "decision_to_treat_date": d(dtt) if dtt else None,
        "treatment_start_date": d(treated) if treated else None,
        "treatment_provider_code": "R1H" if treated else None,
    }


def tumour(date: str, icd10: str, stage: str, route: str) -> dict:
    return {"patient_id": "PT", "diagnosis_date": d(date), "icd10_code": icd10, "stage": stage, "route": route}


PATHWAYS = [
    pathway("FDS_DAY_28", "2026-08-20", told="2026-09-17", outcome="cancer_confirmed"),
    pathway("FDS_DAY_29", "2026-08-20", told="2026-09-18", outcome="cancer_ruled_out"),
    pathway("FDS_SCREENING", "2026-09-01", priority="screening", told="2026-09-10", outcome="cancer_ruled_out"),
    pathway(
        "UPGRADE_NOT_FDS", "2026-08-20", priority="consultant_upgrade", told="2026-09-05", outcome="cancer_confirmed"
    ),
    pathway("FDS_OPEN", "2026-09-20"),
    pathway(
        "D62_DAY_62",
        "2026-07-01",
        outcome="cancer_confirmed",
        told="2026-07-20",
        dtt="2026-08-20",
        treated="2026-09-01",
    ),
    pathway(
        "D62_DAY_63",
        "2026-07-01",
        outcome="cancer_confirmed",
        told="2026-07-20",
        dtt="2026-08-20",
        treated="2026-09-02",
    ),
    pathway(
        "D31_DAY_31",
        "2026-07-20",
        priority="consultant_upgrade",
        outcome="cancer_confirmed",
        told="2026-08-01",
        dtt="2026-08-15",
        treated="2026-09-15",
    ),
    pathway(
        "D31_DAY_32",
        "2026-07-20",
        priority="consultant_upgrade",
        outcome="cancer_confirmed",
        told="2026-08-01",
        dtt="2026-08-15",
        treated="2026-09-16",
    ),
]
TUMOURS = [
    tumour("2026-07-10", "C34.1", "1", "emergency"),
    tumour("2026-08-10", "C50.9", "2", "screening"),
    tumour("2026-08-11", "C18.7", "3", "urgent_referral"),
    tumour("2026-09-30", "C61", "unknown", "emergency"),
    tumour("2026-09-12", "C44.3", "1", "gp_referral"),  # non-melanoma skin: excluded
    tumour("2026-09-13", "D05.1", "1", "screening"),  # in situ, not malignant (outside C00-C97): excluded
    tumour("2026-09-14", "C97", "4", "emergency"),  # the last malignant category: counted
    tumour("2026-10-01", "C34.1", "4", "emergency"),  # next quarter
]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    return build(
        tmp_path_factory.mktemp("cancer"),
        patients=[patient("1950-01-01", patient_id="PT")],
        cancer_pathways=PATHWAYS,
        cancer_registrations=TUMOURS,
    )


def test_fds_day_28_meets_and_day_29_breaches(con):
    got = facts(con, "cwt_fds_28d", MONTH)
    assert got == {"FDS_DAY_28": (1, 1), "FDS_DAY_29": (0, 1), "FDS_SCREENING": (1, 1)}


def test_conversion_rate_over_fds_pathways_told(con):
    got = facts(con, "cancer_conversion_rate", MONTH)
    assert got == {"FDS_DAY_28": (1, 1), "FDS_DAY_29": (0, 1), "FDS_SCREENING": (0, 1)}


def test_62_day_boundary(con):
    got = facts(con, "cwt_62d", MONTH)
    assert got["D62_DAY_62"] == (1, 1)
    assert got["D62_DAY_63"] == (0, 1)


def test_31_day_boundary(con):
    got = facts(con, "cwt_31d", MONTH)
    assert got["D31_DAY_31"] == (1, 1)
    assert got["D31_DAY_32"] == (0, 1)


def test_pathways_count_in_their_clock_stop_quarter_too(con):
    # The two 62-day pathways were told on 20 Jul 2026 (day 19): in the quarter, not in September.
    assert facts(con, "cwt_fds_28d", QUARTER) == {
        "FDS_DAY_28": (1, 1),
        "FDS_DAY_29": (0, 1),
        "FDS_SCREENING": (1, 1),
        "D62_DAY_62": (1, 1),
        "D62_DAY_63": (1, 1),
    }


def test_early_stage_among_staged_malignant_tumours_excluding_c44(con):
    # Malignant = ICD-10 C00-C97 excluding C44 [RTD-APP]: the D05.1 in-situ registration is not a tumour here.
    got = sorted(facts(con, "cancer_early_stage", QUARTER).values())
    assert got == [(0, 1), (0, 1), (1, 1), (1, 1)]  # stage 3 C18, stage 4 C97, stage 1 C34, stage 2 C50


def test_emergency_route_over_all_malignant_tumours_excluding_c44(con):
    got = sorted(facts(con, "cancer_emergency_route", QUARTER).values())
    assert got == [(0, 1), (0, 1), (1, 1), (1, 1), (1, 1)]
