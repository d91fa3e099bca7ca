"""The asthma page's linked views on hand-written patients: what the year before an emergency admission held,
and the SABA-over-reliance-without-ICS patient list within a row scope.

Period: financial year 2025-26 (1 Apr 2025 - 31 Mar 2026). "Before" = from the same calendar day a year
earlier up to the day before the admission; the first emergency asthma admission of the period is the index.
"""

from __future__ import annotations

import pytest

from queries import asthma as aq
from security.roles import RowScope
from tests.spec.helpers import PRACTICE_A, build, d, patient

FY = "2025-26"
ASTHMA, REVIEW, PLAN = "195967001", "394700004", "406162001"
SABA, ICS = "35936511000001108", "10618211000001109"
PRACTICE_B, LSOA_B = "F84003", "E01001795"  # Hackney
BARNET, HACKNEY = "E09000003", "E09000012"


def event(patient_id: str, date: str, code: str) -> dict:
    return {"patient_id": patient_id, "event_date": d(date), "snomed_code": code, "value": None}


def issue(patient_id: str, date: str, code: str, quantity: float) -> dict:
    return {"patient_id": patient_id, "issue_date": d(date), "dmd_code": code, "bnf_code": None, "quantity": quantity}


def admission(patient_id: str, date: str, method: str = "21", diagnosis: str = "J45.9") -> dict:
    return {
        "patient_id": patient_id,
        "admission_date": d(date),
        "discharge_date": d(date),
        "provider_code": "R1H",
        "admission_method": method,
        "primary_diagnosis": diagnosis,
    }


ADULT = "1990-01-01"
CHILD = "2015-01-01"
PATIENTS = [
    patient(ADULT, patient_id=pid, registration_start="2015-01-01")
    for pid in (
        "RX_BEFORE",
        "RX_AFTER",
        "RX_ON_ADMISSION_DAY",
        "RX_YEAR_AND_A_DAY_BEFORE",
        "RX_EXACTLY_A_YEAR_BEFORE",
        "CARED_FOR",
        "CARE_AFTER",
        "ELECTIVE",
        "NOT_ASTHMA",
        "TWO_ADMISSIONS",
        "REGISTERED_AFTER",
    )
] + [
    patient(CHILD, patient_id="CHILD_HACKNEY", practice_code=PRACTICE_B, lsoa21_code=LSOA_B),
    # Patient list: on the register (diagnosis + inhaler in the year), aged 6+.
    patient(ADULT, patient_id="LIST_SABA_4_NO_ICS", registration_start="2015-01-01"),
    patient(ADULT, patient_id="LIST_SABA_2_NO_ICS", registration_start="2015-01-01"),
    patient(ADULT, patient_id="LIST_SABA_4_WITH_ICS", registration_start="2015-01-01"),
    patient(
        ADULT,
        patient_id="LIST_OTHER_PRACTICE",
        practice_code=PRACTICE_B,
        lsoa21_code=LSOA_B,
        registration_start="2015-01-01",
    ),
]
# The registration start of REGISTERED_AFTER is after its admission.
PATIENTS[[p["patient_id"] for p in PATIENTS].index("REGISTERED_AFTER")]["registration_start"] = d("2025-10-01")

ADMISSIONS = [
    admission("RX_BEFORE", "2025-09-01"),
    admission("RX_AFTER", "2025-06-01"),
    admission("RX_ON_ADMISSION_DAY", "2025-06-01"),
    admission("RX_YEAR_AND_A_DAY_BEFORE", "2025-09-01"),
    admission("RX_EXACTLY_A_YEAR_BEFORE", "2025-09-01"),
    admission("CARED_FOR", "2025-06-01"),
    admission("CARE_AFTER", "2025-06-01"),
    admission("ELECTIVE", "2025-06-01", method="11"),
    admission("NOT_ASTHMA", "2025-06-01", diagnosis="J44.1"),
    admission("TWO_ADMISSIONS", "2025-05-01"),
    admission("TWO_ADMISSIONS", "2025-08-01"),
    admission("REGISTERED_AFTER", "2025-09-01"),
    admission("CHILD_HACKNEY", "2025-07-01", diagnosis="J46"),
]
MEDICATIONS = [
    issue("RX_BEFORE", "2025-05-01", SABA, 3),
    issue("RX_AFTER", "2025-07-01", SABA, 3),
    issue("RX_ON_ADMISSION_DAY", "2025-06-01", SABA, 3),
    issue("RX_YEAR_AND_A_DAY_BEFORE", "2024-08-31", SABA, 3),
    issue("RX_EXACTLY_A_YEAR_BEFORE", "2024-09-01", SABA, 3),
    issue("ELECTIVE", "2025-05-01", SABA, 12),
    issue("NOT_ASTHMA", "2025-05-01", SABA, 12),
    issue("TWO_ADMISSIONS", "2025-06-01", SABA, 6),
    issue("REGISTERED_AFTER", "2025-05-01", SABA, 6),
    issue("CHILD_HACKNEY", "2025-01-10", SABA, 4),
    issue("CHILD_HACKNEY", "2025-03-10", SABA, 2),
    issue("LIST_SABA_4_NO_ICS", "2025-06-01", SABA, 4),
    issue("LIST_SABA_2_NO_ICS", "2025-06-01", SABA, 2),
    issue("LIST_SABA_4_WITH_ICS", "2025-06-01", SABA, 4),
    issue("LIST_SABA_4_WITH_ICS", "2025-07-01", ICS, 1),
    issue("LIST_OTHER_PRACTICE", "2025-06-01", SABA, 5),
]
EVENTS = [
    event("CARED_FOR", "2025-03-01", REVIEW),
    event("CARED_FOR", "2025-03-01", PLAN),
    event("CARE_AFTER", "2025-06-02", REVIEW),
    event("CARE_AFTER", "2025-06-02", PLAN),
    event("CHILD_HACKNEY", "2025-02-01", REVIEW),  # reviewed, but no plan
    *(
        event(pid, "2020-01-01", ASTHMA)
        for pid in ("LIST_SABA_4_NO_ICS", "LIST_SABA_2_NO_ICS", "LIST_SABA_4_WITH_ICS", "LIST_OTHER_PRACTICE")
    ),
    event("LIST_SABA_4_NO_ICS", "2024-11-20", REVIEW),
]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    return build(
        tmp_path_factory.mktemp("ast-linked"),
        patients=PATIENTS,
        clinical_events=EVENTS,
        medications=MEDICATIONS,
        hospital_episodes=ADMISSIONS,
    )


@pytest.fixture(scope="module")
def history(con):
    frame = aq.admission_history(con)
    return frame[frame["period_id"] == FY].set_index("patient_id")


def test_only_emergency_asthma_admissions_of_registered_patients_count(history):
    assert "ELECTIVE" not in history.index  # method 11 is elective
    assert "NOT_ASTHMA" not in history.index  # J44 is COPD
    assert "REGISTERED_AFTER" not in history.index  # no GP record on the day of admission
    assert "CHILD_HACKNEY" in history.index  # J46 (acute severe asthma) counts
    assert "LIST_SABA_4_NO_ICS" not in history.index  # never admitted


def test_prescriptions_count_only_before_the_admission(history):
    assert history.loc["RX_BEFORE", "saba_before"] == 3
    assert history.loc["RX_AFTER", "saba_before"] == 0  # issued a month after admission
    assert history.loc["RX_ON_ADMISSION_DAY", "saba_before"] == 0  # the admission day is not "before"


def test_the_year_before_starts_on_the_same_calendar_day(history):
    assert history.loc["RX_EXACTLY_A_YEAR_BEFORE", "saba_before"] == 3
    assert history.loc["RX_YEAR_AND_A_DAY_BEFORE", "saba_before"] == 0


def test_review_and_plan_count_only_before_the_admission(history):
    assert history.loc["CARED_FOR", "reviewed_before"] and history.loc["CARED_FOR", "plan_before"]
    assert not history.loc["CARE_AFTER", "reviewed_before"] and not history.loc["CARE_AFTER", "plan_before"]
    assert history.loc["CHILD_HACKNEY", "reviewed_before"] and not history.loc["CHILD_HACKNEY", "plan_before"]


def test_the_first_admission_of_the_period_is_the_index(history):
    assert str(history.loc["TWO_ADMISSIONS", "admitted"])[:10] == "2025-05-01"
    assert history.loc["TWO_ADMISSIONS", "saba_before"] == 0  # the SABA came between the two admissions


def test_age_on_admission_and_borough(history):
    assert history.loc["CHILD_HACKNEY", "age"] == 10
    assert history.loc["CHILD_HACKNEY", "borough_code"] == HACKNEY
    assert history.loc["RX_BEFORE", "borough_code"] == BARNET


def test_shares_by_borough_unrounded(con):
    """Admitted in 2025-26: 8 in Barnet (RX_*, CARED_FOR, CARE_AFTER, TWO_ADMISSIONS) and 1 in Hackney."""
    frame = aq.linked_admissions(con, period=FY, saba_threshold=3, by="borough", disclose=False)
    got = {(r["area_code"], r["measure"]): (r["numerator"], r["denominator"]) for r in frame.to_dict("records")}
    # SABA 3+ before: RX_BEFORE, RX_EXACTLY_A_YEAR_BEFORE (Barnet); CHILD_HACKNEY has 6.
    assert got[(BARNET, "saba_over")] == (2, 8)
    assert got[(HACKNEY, "saba_over")] == (1, 1)
    # Reviewed before: only CARED_FOR in Barnet; the Hackney child was reviewed but had no plan.
    assert got[(BARNET, "no_review")] == (7, 8)
    assert got[(BARNET, "no_plan")] == (7, 8)
    assert got[(HACKNEY, "no_review")] == (0, 1)
    assert got[(HACKNEY, "no_plan")] == (1, 1)
    assert got[(BARNET, "any_gap")] == (7, 8)
    assert got[("E12000007", "saba_over")] == (3, 9)
    london = frame[(frame["area_code"] == "E12000007") & (frame["measure"] == "saba_over")].iloc[0]
    assert london["value"] == pytest.approx(100 * 3 / 9)
    assert london["ci_low"] < london["value"] < london["ci_high"]


def test_higher_threshold_and_age_groups(con):
    six = aq.linked_admissions(con, period=FY, saba_threshold=6, by="age_group", disclose=False)
    got = {(r["area_code"], r["measure"]): (r["numerator"], r["denominator"]) for r in six.to_dict("records")}
    assert got[("Children (under 18)", "saba_over")] == (1, 1)  # 4 + 2 inhalers
    assert got[("Adults (18+)", "saba_over")] == (0, 8)


def test_small_counts_are_suppressed_for_restricted_roles(con):
    frame = aq.linked_admissions(con, period=FY, saba_threshold=3, by="borough", disclose=True)
    barnet = frame[(frame["area_code"] == BARNET) & (frame["measure"] == "saba_over")].iloc[0]
    assert barnet["suppressed"] and barnet["numerator"] is None and barnet["value"] is None


# Both ways to the list: the build's asthma_saba_list, and the raw records it is derived from.
BOTH_WAYS = pytest.mark.parametrize("from_records", [False, True], ids=["build table", "raw records"])


@BOTH_WAYS
def test_patient_list_saba_over_reliance_without_ics_in_scope(con, from_records):
    rows = aq.saba_no_ics_patients(
        con,
        period=FY,
        practice_code=PRACTICE_A,
        scope=RowScope(practice_codes=(PRACTICE_A,)),
        saba_threshold=3,
        from_records=from_records,
    )
    assert rows["patient_id"].tolist() == ["LIST_SABA_4_NO_ICS"]
    row = rows.iloc[0]
    assert row["saba_inhalers"] == 4 and str(row["last_review"])[:10] == "2024-11-20"


@BOTH_WAYS
def test_patient_list_respects_scope_and_threshold(con, from_records):
    outside = aq.saba_no_ics_patients(
        con,
        period=FY,
        practice_code=PRACTICE_B,
        scope=RowScope(practice_codes=(PRACTICE_A,)),
        from_records=from_records,
    )
    assert outside.empty
    by_borough = aq.saba_no_ics_patients(
        con, period=FY, practice_code=PRACTICE_B, scope=RowScope(borough_codes=(HACKNEY,)), from_records=from_records
    )
    assert by_borough["patient_id"].tolist() == ["LIST_OTHER_PRACTICE"]
    assert aq.saba_no_ics_patients(
        con, period=FY, practice_code=PRACTICE_A, scope=RowScope(), from_records=from_records
    ).empty
    assert aq.saba_no_ics_patients(
        con,
        period=FY,
        practice_code=PRACTICE_B,
        saba_threshold=6,
        scope=RowScope(borough_codes=(HACKNEY,)),
        from_records=from_records,
    ).empty
    with pytest.raises(aq.QueryError):
        aq.saba_no_ics_patients(con, period=FY, practice_code=PRACTICE_A, scope=None, from_records=from_records)


@pytest.mark.parametrize("by", list(aq.LINKED_GROUPS))
@pytest.mark.parametrize("saba_threshold", aq.SABA_THRESHOLDS)
def test_counts_are_the_histories_of_the_period(con, by, saba_threshold):
    """The per-period rows the view keeps give the counts worked out from the whole history, in every period
    (and none in a period without admissions)."""
    history = aq.admission_history(con)
    for period in [*sorted(set(history["period_id"])), "2015-16"]:
        frame = aq.linked_admissions(con, period=period, saba_threshold=saba_threshold, by=by, disclose=False)
        rows = history[history["period_id"] == period]
        flags = {
            "saba_over": rows["saba_before"] >= saba_threshold,
            "no_review": ~rows["reviewed_before"].astype(bool),
            "no_plan": ~rows["plan_before"].astype(bool),
        }
        flags["any_gap"] = flags["saba_over"] | flags["no_review"] | flags["no_plan"]
        london = frame[frame["area_code"] == aq.LONDON_CODE].set_index("measure")
        for measure, flag in flags.items():
            assert (london.loc[measure, "numerator"], london.loc[measure, "denominator"]) == (flag.sum(), len(rows))
        if by == "borough":
            barnet = frame[(frame["area_code"] == BARNET) & (frame["measure"] == "saba_over")]
            in_barnet = rows["borough_code"] == BARNET
            expected = (flags["saba_over"][in_barnet].sum(), in_barnet.sum())
            assert [tuple(r) for r in barnet[["numerator", "denominator"]].to_numpy()] == (
                [expected] if in_barnet.any() else []
            )
