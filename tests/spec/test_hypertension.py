"""Hypertension rules (QOF v50 HYP001/HYP008/HYP009, CVDPREVENT-style measures) at their boundaries.

Period: financial year 2025-26 (1 Apr 2025 - 31 Mar 2026), the default for QOF indicators.
"""

from __future__ import annotations

import numpy as np
import pytest

from queries.materialise import EXPECTED_HYPERTENSION_RATE
from tests.spec.helpers import build, d, facts, patient, totals

FY = "2025-26"
HYP = "38341003"
RESOLVED = "162659009"
SYS, DIA = "271649006", "271650006"
HOME_SYS, HOME_DIA = "413606001", "413605002"


def event(patient_id: str, date: str, code: str, value: float | None = None) -> dict:
    return {"patient_id": patient_id, "event_date": d(date), "snomed_code": code, "value": value}


def bp(patient_id: str, date: str, systolic: float, diastolic: float, home: bool = False) -> list[dict]:
    return [
        event(patient_id, date, HOME_SYS if home else SYS, systolic),
        event(patient_id, date, HOME_DIA if home else DIA, diastolic),
    ]


ON_REGISTER = {
    # patient_id: (birth date, extra patient fields)
    "BP_140_90": ("1960-01-01", {}),
    "BP_141_90": ("1960-01-01", {}),
    "BP_140_91": ("1960-01-01", {}),
    "SAME_DAY_LOWEST": ("1960-01-01", {}),
    "SAME_DAY_LOWEST_OF_EACH": ("1960-01-01", {}),
    "LATEST_WINS": ("1960-01-01", {}),
    "TURNS_80_ON_31_MAR": ("1946-03-31", {}),
    "TURNS_80_ON_1_APR": ("1946-04-01", {}),
    "HOME_136_80": ("1960-01-01", {}),
    "HOME_135_85": ("1960-01-01", {}),
    "BP_OUTSIDE_YEAR": ("1960-01-01", {}),
    "NEW_REGISTRANT": ("1960-01-01", {"registration_start": "2025-09-01"}),
    "DIED": ("1960-01-01", {"death_date": "2026-02-01"}),
    "LEFT": ("1960-01-01", {"registration_end": "2026-01-01"}),
    "RESOLVED_BEFORE_DX": ("1960-01-01", {}),
    "RESOLVED_SAME_DAY": ("1960-01-01", {}),
}

PATIENTS = [
    patient(birth, patient_id=pid, **{"registration_start": "2000-01-01", **extra})
    for pid, (birth, extra) in ON_REGISTER.items()
] + [
    patient("1960-01-01", patient_id="NEW_DX_NO_BP", registration_start="2000-01-01"),
    patient("1960-01-01", patient_id="NEW_DX_CONTROLLED", registration_start="2000-01-01"),
    patient("1960-01-01", patient_id="RESOLVED", registration_start="2000-01-01"),
    patient("1985-01-01", patient_id="RAISED_EARLY", registration_start="2000-01-01"),
    patient("1985-01-01", patient_id="RAISED_LATE", registration_start="2000-01-01"),
    patient("1985-01-01", patient_id="RAISED_SYSTOLIC_ONLY", registration_start="2000-01-01"),
    patient("1985-01-01", patient_id="RAISED_3_MONTHS_BEFORE_END", registration_start="2000-01-01"),
    patient("1985-01-01", patient_id="RAISED_3_MONTHS_AND_A_DAY", registration_start="2000-01-01"),
    patient("1960-01-01", patient_id="RESOLVED_RAISED", registration_start="2000-01-01"),
    patient("2010-01-01", patient_id="CHILD", registration_start="2010-01-01"),
]

EVENTS = [
    *(event(pid, "2010-05-01", HYP) for pid in ON_REGISTER if pid not in ("RESOLVED_BEFORE_DX", "RESOLVED_SAME_DAY")),
    *bp("BP_140_90", "2026-03-01", 140, 90),
    *bp("BP_141_90", "2026-03-01", 141, 90),
    *bp("BP_140_91", "2026-03-01", 140, 91),
    *bp("SAME_DAY_LOWEST", "2026-03-01", 150, 95),
    *bp("SAME_DAY_LOWEST", "2026-03-01", 138, 88),
    # Neither reading is controlled, but the lowest of each (138/85) is: not "the reading with the lowest systolic".
    *bp("SAME_DAY_LOWEST_OF_EACH", "2026-03-01", 150, 85),
    *bp("SAME_DAY_LOWEST_OF_EACH", "2026-03-01", 138, 95),
    *bp("LATEST_WINS", "2026-01-01", 130, 80),
    *bp("LATEST_WINS", "2026-03-01", 150, 95),
    *bp("TURNS_80_ON_31_MAR", "2026-02-01", 145, 85),
    *bp("TURNS_80_ON_1_APR", "2026-02-01", 145, 85),
    *bp("HOME_136_80", "2026-02-01", 136, 80, home=True),
    *bp("HOME_135_85", "2026-02-01", 135, 85, home=True),
    *bp("BP_OUTSIDE_YEAR", "2025-03-31", 120, 80),
    *bp("DIED", "2026-01-15", 120, 80),
    event("RESOLVED_BEFORE_DX", "2010-01-01", RESOLVED),
    event("RESOLVED_BEFORE_DX", "2015-01-01", HYP),
    event("RESOLVED_SAME_DAY", "2015-01-01", HYP),
    event("RESOLVED_SAME_DAY", "2015-01-01", RESOLVED),
    event("NEW_DX_NO_BP", "2025-10-01", HYP),
    event("NEW_DX_CONTROLLED", "2025-10-01", HYP),
    *bp("NEW_DX_CONTROLLED", "2025-11-01", 130, 80),
    event("RESOLVED", "2010-01-01", HYP),
    event("RESOLVED", "2020-01-01", RESOLVED),
    *bp("RAISED_EARLY", "2025-11-01", 145, 95),
    *bp("RAISED_LATE", "2026-02-01", 145, 95),
    *bp("RAISED_SYSTOLIC_ONLY", "2025-11-01", 145, 85),
    *bp("RAISED_3_MONTHS_BEFORE_END", "2025-12-31", 145, 95),  # exactly 3 months before 31 Mar: not "more than"
    *bp("RAISED_3_MONTHS_AND_A_DAY", "2025-12-30", 145, 95),
    event("RESOLVED_RAISED", "2010-01-01", HYP),
    event("RESOLVED_RAISED", "2020-01-01", RESOLVED),
    *bp("RESOLVED_RAISED", "2025-11-01", 145, 95),
]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    return build(tmp_path_factory.mktemp("hyp"), patients=PATIENTS, clinical_events=EVENTS)


def test_hyp008_threshold_is_at_or_below_140_90(con):
    got = facts(con, "hyp008", FY)
    assert got["BP_140_90"] == (1, 1)
    assert got["BP_141_90"] == (0, 1)
    assert got["BP_140_91"] == (0, 1)


def test_same_day_readings_use_lowest_of_each_and_latest_day_wins(con):
    got = facts(con, "hyp008", FY)
    assert got["SAME_DAY_LOWEST"] == (1, 1)
    assert got["SAME_DAY_LOWEST_OF_EACH"] == (1, 1)
    assert got["LATEST_WINS"] == (0, 1)


def test_age_80_on_the_last_day_of_the_year_moves_to_hyp009(con):
    assert facts(con, "hyp009", FY)["TURNS_80_ON_31_MAR"] == (1, 1)  # 145/85 <= 150/90
    assert facts(con, "hyp008", FY)["TURNS_80_ON_1_APR"] == (0, 1)  # still 79: 145/85 > 140/90
    assert "TURNS_80_ON_31_MAR" not in facts(con, "hyp008", FY)


def test_home_readings_use_135_85(con):
    got = facts(con, "hyp008", FY)
    assert got["HOME_136_80"] == (0, 1)
    assert got["HOME_135_85"] == (1, 1)


def test_reading_before_the_year_does_not_count(con):
    assert facts(con, "hyp008", FY)["BP_OUTSIDE_YEAR"] == (0, 1)
    assert facts(con, "hyp_bp_recorded_12m", FY)["BP_OUTSIDE_YEAR"] == (0, 1)


def test_new_diagnosis_or_registration_excluded_unless_achieved(con):
    got = facts(con, "hyp008", FY)
    assert "NEW_DX_NO_BP" not in got
    assert "NEW_REGISTRANT" not in got
    assert got["NEW_DX_CONTROLLED"] == (1, 1)


def test_died_or_left_before_year_end_not_counted(con):
    for indicator in ("hyp008", "hyp_bp_recorded_12m"):
        got = facts(con, indicator, FY)
        assert "DIED" not in got and "LEFT" not in got


def test_register_resolution_rule(con):
    register = facts(con, "hyp_bp_recorded_12m", FY)  # denominator = the register
    assert "RESOLVED" not in register
    assert "RESOLVED_BEFORE_DX" in register
    assert "RESOLVED_SAME_DAY" in register


def test_prevalence_counts_register_over_whole_list(con):
    numerator, denominator = totals(con, "hyp_prevalence", FY)
    registered = len(PATIENTS) - 2  # DIED and LEFT
    on_register = len(ON_REGISTER) - 2 + 2  # minus DIED/LEFT, plus the two new diagnoses
    assert (numerator, denominator) == (on_register, registered)


def test_possible_undiagnosed_is_a_share_of_all_registered_adults(con):
    """CVDP005HYP [CVDP-DEFS]: registered adults with a reading >= 140/90 recorded more than 3 months before the
    end, and no hypertension diagnosis (nor a resolution) anywhere in the record."""
    numerator, denominator = totals(con, "hyp_possible_undiagnosed", FY)
    adults = [p for p in PATIENTS if p["patient_id"] not in ("DIED", "LEFT", "CHILD")]
    # RAISED_LATE (1 Feb) and RAISED_3_MONTHS_BEFORE_END (31 Dec) are too recent; RAISED_SYSTOLIC_ONLY is not
    # raised; RESOLVED_RAISED has a (resolved) diagnosis.
    assert (numerator, denominator) == (2, len(adults))  # RAISED_EARLY and RAISED_3_MONTHS_AND_A_DAY


def expected_rate(age: int, sex: str) -> float:
    """The engine's expected rate for one age and sex, read from its (lower bound, sex, rate) table."""
    band = max(low for low, _sex, _rate in EXPECTED_HYPERTENSION_RATE if low <= age)
    return next(rate for low, row_sex, rate in EXPECTED_HYPERTENSION_RATE if (low, row_sex) == (band, sex))


def test_detection_ratio_is_register_over_expected(con):
    numerator, expected = totals(con, "hyp_detection_ratio", FY)
    # Ages on 31 Mar 2026: the 1960 births are 66 (band 60), 1946-03-31 is 80, 1946-04-01 is 79, 1985 births 41.
    # Every patient here is a woman (the helper's default).
    register_ages = [66] * 14 + [80, 79]
    off_register_ages = [66, 66, 41, 41, 41, 41, 41]  # RESOLVED, RESOLVED_RAISED and RAISED_*; CHILD is under 18
    assert numerator == len(register_ages)
    assert expected == pytest.approx(sum(expected_rate(age, "F") for age in register_ages + off_register_ages))


# Adults off the register, one per side of each age boundary where the expected rate's diagnosed share
# changes, for each sex: (patient id, birth date, sex). Ages are on 31 Mar 2026, the end of FY 2025-26.
EXPECTED_RATE_PATIENTS = (
    ("MAN_17", "2008-04-01", "M"),  # 17: not an adult, no expected rate
    ("MAN_18", "2008-03-31", "M"),  # 18 on the last day
    ("MAN_24", "2001-04-01", "M"),
    ("MAN_25", "2001-03-31", "M"),
    ("WOMAN_24", "2001-04-01", "F"),
    ("WOMAN_25", "2001-03-31", "F"),
    ("MAN_74", "1951-04-01", "M"),
    ("MAN_75", "1951-03-31", "M"),
    ("WOMAN_75", "1951-03-31", "F"),
    ("UNKNOWN_SEX_75", "1951-03-31", "U"),
)


def test_expected_rate_is_the_recorded_rate_over_the_diagnosed_share_of_that_age_and_sex(tmp_path):
    """OpenSAFELY recorded rate by age band over the ONS/HSE 2015-19 diagnosed share: men 34 % at 16-24 and
    45 % at 25-34, women 74 % and 56 %, 71 % at 35-74 and for sex unknown, men 83 % and women 79 % at 75+."""
    one_each = build(
        tmp_path,
        patients=[patient(birth, patient_id=pid, sex=sex) for pid, birth, sex in EXPECTED_RATE_PATIENTS],
        clinical_events=[],
    )
    published = {  # patient -> the rate the sources give
        "MAN_18": 0.004 / 0.34,
        "MAN_24": 0.004 / 0.34,
        "MAN_25": 0.004 / 0.45,
        "WOMAN_24": 0.004 / 0.74,
        "WOMAN_25": 0.004 / 0.56,
        "MAN_74": 0.485 / 0.71,
        "MAN_75": 0.485 / 0.83,
        "WOMAN_75": 0.485 / 0.79,
        "UNKNOWN_SEX_75": 0.485 / 0.71,
    }
    # Summed by sex and (10-year) age band, so a rate given to the wrong sex or age shows; MAN_17 (5-17) has none.
    got = one_each.execute(
        "SELECT sex, age_band, sum(numerator), sum(denominator) FROM ind_cube_practice "
        "WHERE indicator_id = 'hyp_detection_ratio' AND period_id = ? GROUP BY ALL",
        [FY],
    ).fetchall()
    want = {
        ("M", "18-29"): published["MAN_18"] + published["MAN_24"] + published["MAN_25"],
        ("F", "18-29"): published["WOMAN_24"] + published["WOMAN_25"],
        ("M", "70-79"): published["MAN_74"] + published["MAN_75"],
        ("F", "70-79"): published["WOMAN_75"],
        ("U", "70-79"): published["UNKNOWN_SEX_75"],
    }
    # Each rate is the published one rounded to a whole 2**-20th (half a step off at most); a band sums three.
    within = 3 * 2.0**-21
    assert {(sex, band): expected for sex, band, _numerator, expected in got if expected} == pytest.approx(
        want, rel=0, abs=within
    )
    assert all(numerator == 0 for *_, numerator, _expected in got)


def test_expected_counts_are_the_same_whatever_order_they_are_added_in():
    """The detection ratio's denominator is a sum of expected rates that DuckDB's threads add in any order: with
    rates such as 0.004/0.34 the same query gave by-LSOA denominators differing in their last bits from call to
    call. Rates in whole 2**-20ths sum exactly, so every order gives the same double."""
    rates = np.array([rate for _age, _sex, rate in EXPECTED_HYPERTENSION_RATE])
    assert np.array_equal(rates * 2**20, np.round(rates * 2**20)), "a rate is not a whole number of 2**-20ths"
    # A borough's adults: 300,000 rates, summed in ten orders as a thread's chunks might be.
    generator = np.random.default_rng(7)
    patients = generator.choice(rates, size=300_000)
    sums = set()
    for _ in range(10):
        shuffled = generator.permutation(patients)
        sums.add(float(sum(chunk.sum() for chunk in np.array_split(shuffled, 7))))
    assert len(sums) == 1
