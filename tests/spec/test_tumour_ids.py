"""A registered tumour's id (``ind_patient.unit_id``) is a function of its own registration row.

So a build over part of London (docs/scaling.md partitions by ICB) or with other patients' tumours
added gives each tumour the same id, and the cancer page's tumour-group cut still joins every fact.
"""

from __future__ import annotations

import pytest

from tests.spec.helpers import build, d, patient

pytestmark = pytest.mark.slow

TUMOUR_INDICATORS = ("cancer_early_stage", "cancer_emergency_route")
ME = "PB"
OTHER = "PA"  # sorts before ME: a London-wide numbering would shift every one of ME's ids


def tumour(patient_id: str, date: str, icd10: str, stage: str, route: str = "emergency") -> dict:
    return {"patient_id": patient_id, "diagnosis_date": d(date), "icd10_code": icd10, "stage": stage, "route": route}


MY_TUMOURS = [
    tumour(ME, "2026-07-10", "C34.1", "1"),
    tumour(ME, "2026-07-10", "C34.1", "3", "gp_referral"),  # same patient, day and site: a second tumour
    tumour(ME, "2026-08-10", "C50.9", "2", "screening"),
    tumour(ME, "2026-08-12", "C44.3", "1"),  # non-melanoma skin: not a tumour here
]
OTHER_TUMOURS = [
    tumour(OTHER, "2026-07-01", "C18.7", "2"),
    tumour(OTHER, "2026-07-10", "C34.1", "1"),
    tumour(OTHER, "2026-09-01", "C61", "unknown"),
]


def facts_of(con, patient_id: str) -> dict[tuple[str, str, str], tuple[float, float]]:
    """(indicator, period, unit_id) -> (numerator, denominator) of one patient's tumour facts."""
    rows = con.execute(
        "SELECT indicator_id, period_id, unit_id, numerator, denominator FROM ind_patient "
        "WHERE patient_id = ? AND indicator_id IN (?, ?)",
        [patient_id, *TUMOUR_INDICATORS],
    ).fetchall()
    return {
        (indicator, period, unit): (numerator, denominator) for indicator, period, unit, numerator, denominator in rows
    }


def test_a_tumours_id_does_not_depend_on_other_patients_rows(tmp_path):
    alone = build(tmp_path / "alone", patients=[patient("1950-01-01", patient_id=ME)], cancer_registrations=MY_TUMOURS)
    among_others = build(
        tmp_path / "among_others",
        patients=[patient("1950-01-01", patient_id=ME), patient("1955-01-01", patient_id=OTHER)],
        cancer_registrations=OTHER_TUMOURS + MY_TUMOURS,
    )
    mine = facts_of(alone, ME)
    assert mine == facts_of(among_others, ME)

    ids = {unit for _, _, unit in mine}
    assert len(ids) == 3, "each tumour keeps its own id, the two on one day and site included; C44 has none"
    other_ids = {unit for _, _, unit in facts_of(among_others, OTHER)}
    assert len(other_ids) == 3 and not ids & other_ids
    # The first of the two same-day C34.1 tumours (stage 1) is the early-stage one, in both builds.
    early = {
        unit: numerator for (indicator, _, unit), (numerator, _) in mine.items() if indicator == TUMOUR_INDICATORS[0]
    }
    assert sorted(early.values()) == [0, 1, 1]
