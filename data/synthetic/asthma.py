"""Asthma: diagnoses, reviews, action plans, objective tests, inhaler prescriptions and admissions.

Register prevalence ≈ 6 % of all ages (docs/clinical-indicators.md §3.8), children higher; SABA
counts follow the over-reliance thresholds of §3.5 (≈ 28 % ≥ 3, 11 % ≥ 6, 3.5 % ≥ 12 a year);
reviews and same-day written plans follow §3.2/§3.6; objective tests §3.3; emergency admissions
(J45/J46, §3.7) are more likely with SABA over-reliance, no ICS, no review, no plan and deprivation.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from data.codelists import codes, rows
from data.synthetic import hospital
from data.synthetic._common import (
    DAYS_PER_YEAR,
    EventBatch,
    band_value,
    choose,
    clinical_code,
    day_number,
    logistic,
    logit,
)
from data.synthetic.population import Cohort

AGE_BANDS = np.array([0, 6, 20, 65])
ACTIVE_PREVALENCE = np.array([0.03, 0.085, 0.058, 0.055])  # diagnosed, unresolved; <6 are not on the register
PREVALENCE_DEPRIVATION = 0.12  # relative, per step towards most deprived
BLACK_CHILD_PREVALENCE = 1.3  # relative, Black children and young people
RESOLVED_SHARE = 0.04
MEAN_ADULT_YEARS_SINCE_DIAGNOSIS = 12.0

# SABA inhalers a year = round(exp(mu + patient + year noise)); see module docstring for targets.
SABA_LOG_MEAN = 0.17
SABA_PATIENT_SD = 1.10
SABA_YEAR_SD = 0.45
SABA_DEPRIVATION = 0.18  # per step towards most deprived, on the log scale before SD scaling
SABA_CHILD = 0.12
NO_ICS_SHARE = 0.18  # SABA users with no ICS in a year (§3.5: 15-20 %)
ICS_EXTRA_PER_YEAR = 3.0  # ICS inhalers a year = 1 + Poisson(adherence × this)
DOUBLE_QUANTITY_SHARE = 0.4  # issues of 2 inhalers (when the year's count is even)
MEDICATION_HISTORY_YEARS = 3

REVIEW_SHARE = 0.66  # §3.2 review in the last 12 months
ACTION_PLAN_SHARE = 0.73  # written plan on the review date
OBJECTIVE_TEST_FROM = day_number(date(2021, 4, 1))
OBJECTIVE_TEST_SHARE = 0.45  # diagnoses since April 2021 with a test within ±3 months
OBJECTIVE_TEST_SHARE_BEFORE = 0.15
FENO_SHARE = 0.6  # of tests; the rest spirometry (no value)

ADMISSION_BASE_RATE = 0.011  # per patient-year, before the multipliers below
ADMISSION_MULTIPLIERS = {"saba_3": 1.5, "saba_6": 2.5, "saba_12": 4.0, "no_ics": 1.5, "no_review": 1.5, "no_plan": 1.3}
ADMISSION_DEPRIVATION = 0.25  # log rate per step towards most deprived
ADMISSION_CHILD = 1.3
ADMISSION_HISTORY_YEARS = 3
ADMISSION_METHOD_WEIGHTS = {"21": 0.85, "22": 0.05, "28": 0.05, "2A": 0.05}
ADMISSION_DIAGNOSIS_WEIGHTS = {"J45.9": 0.68, "J45.0": 0.08, "J45.1": 0.04, "J45.8": 0.05, "J46": 0.15}

SABA = rows("saba")
ICS = rows("ics")
DMD_CODES = tuple(r["code"] for r in SABA + ICS)
BNF_CODES = tuple(r["bnf_code"] for r in SABA + ICS)
SABA_PRODUCT_WEIGHTS = (0.45, 0.35, 0.20)
ICS_PRODUCT_WEIGHTS = (0.65, 0.35)


def generate(rng: np.random.Generator, cohort: Cohort, effects: dict[str, np.ndarray], history_start: int):
    """Return (clinical events, medications, admissions) batches for one chunk."""
    n = cohort.size
    age = cohort.age_at(cohort.end)
    dep = cohort.deprivation
    black = np.isin(cohort.group, [3])
    p = band_value(AGE_BANDS, ACTIVE_PREVALENCE, age) * (1 + PREVALENCE_DEPRIVATION * dep)
    p = p * np.where(black & (age < 20), BLACK_CHILD_PREVALENCE, 1.0) / (1 - RESOLVED_SHARE)
    pts = np.flatnonzero(rng.random(n) < p)
    m = len(pts)
    age = age[pts]
    dep = dep[pts]
    practice = cohort.practice[pts]
    end = cohort.end[pts]
    child = age < 18

    # Diagnosis date: children any time after age 1.5; adults exponential years back.
    years_back = np.where(
        age < 20,
        rng.random(m) * np.maximum(age - 1.5, 0.1),
        np.minimum(rng.exponential(MEAN_ADULT_YEARS_SINCE_DIAGNOSIS, m), age - 2),
    )
    diag = np.maximum(end - (years_back * DAYS_PER_YEAR).astype(np.int64), cohort.birth[pts])
    events = EventBatch()
    ast_codes = codes("ast_cod")
    code_weights_child = [0.35, 0.45, 0.1, 0.02, 0.05, 0.02, 0.01]
    code_weights_adult = [0.60, 0.0, 0.12, 0.08, 0.10, 0.07, 0.03]
    code = np.where(child, choose(rng, m, code_weights_child), choose(rng, m, code_weights_adult))
    events.add(patient=pts, day=diag, code=np.array([clinical_code(c) for c in ast_codes])[code], value=_nan(m))

    resolved = (diag + 365 <= end) & (rng.random(m) < RESOLVED_SHARE)
    resolved_day = diag + ((end - diag - 365) * rng.random(m)).astype(np.int64) + 365
    events.add(
        patient=pts[resolved],
        day=resolved_day[resolved],
        code=np.full(resolved.sum(), clinical_code(codes("astres_cod")[0])),
        value=_nan(resolved.sum()),
    )
    care_end = np.where(resolved, resolved_day, end)
    care_start = np.maximum(diag, cohort.reg_start[pts])

    # Objective tests around diagnosis.
    recent_dx = diag >= OBJECTIVE_TEST_FROM
    share = np.where(recent_dx, OBJECTIVE_TEST_SHARE, OBJECTIVE_TEST_SHARE_BEFORE)
    tested = (diag >= history_start) & (
        rng.random(m) < logistic(logit(share) + effects["objective_test"][practice] - 0.15 * dep)
    )
    t = np.flatnonzero(tested)
    test_day = np.clip(diag[t] + rng.integers(-90, 91, len(t)), cohort.birth[pts[t]], end[t])
    feno = rng.random(len(t)) < FENO_SHARE
    feno_value = np.round(rng.lognormal(np.log(np.where(age[t] < 16, 32, 42)), 0.55))
    events.add(
        patient=pts[t],
        day=test_day,
        code=np.where(feno, clinical_code("1011321000000104"), clinical_code("127783003")),
        value=np.where(feno, feno_value, np.nan),
    )

    # Yearly windows counted back from each patient's last record date; year 0 = last 12 months.
    years = max(int(round((cohort.extract_day - history_start) / DAYS_PER_YEAR)), ADMISSION_HISTORY_YEARS)
    year_end = end[:, None] - 365 * np.arange(years)[None, :]
    year_start = np.maximum(year_end - 364, care_start[:, None])
    year_end = np.minimum(year_end, care_end[:, None])
    open_year = year_start <= year_end

    reviewed = open_year & (
        rng.random((m, years))
        < logistic(
            logit(REVIEW_SHARE) + effects["asthma_review"][practice] - 0.25 * dep - 0.3 * ((age >= 18) & (age < 40))
        )[:, None]
    )
    review_day = year_start + (rng.random((m, years)) * (year_end - year_start + 1)).astype(np.int64)
    planned = reviewed & (
        rng.random((m, years))
        < logistic(logit(ACTION_PLAN_SHARE) + effects["action_plan"][practice] - 0.15 * dep)[:, None]
    )
    for mask, code_name in ((reviewed, "rev_cod"), (planned, "writpastp_cod")):
        i, k = np.nonzero(mask)
        events.add(
            patient=pts[i],
            day=review_day[i, k],
            code=np.full(len(i), clinical_code(codes(code_name)[0])),
            value=_nan(len(i)),
        )

    # Inhalers per year.
    y = MEDICATION_HISTORY_YEARS
    patient_level = SABA_PATIENT_SD * rng.standard_normal(m) + SABA_DEPRIVATION * dep + SABA_CHILD * child
    patient_level += effects["saba_reliance"][practice]
    saba = np.round(np.exp(SABA_LOG_MEAN + patient_level[:, None] + SABA_YEAR_SD * rng.standard_normal((m, y))))
    saba = np.where(open_year[:, :y], np.minimum(saba, 40), 0).astype(np.int64)
    no_ics_p = logistic(logit(NO_ICS_SHARE) + 0.3 * dep)
    adherence = rng.beta(2, 2, m)
    ics = 1 + rng.poisson(adherence[:, None] * ICS_EXTRA_PER_YEAR, (m, y))
    ics = np.where((rng.random((m, y)) < no_ics_p[:, None]) & (saba > 0), 0, ics)
    ics = np.where(open_year[:, :y], ics, 0)
    medications = EventBatch()
    saba_product = choose(rng, m, SABA_PRODUCT_WEIGHTS)
    ics_product = len(SABA) + choose(rng, m, ICS_PRODUCT_WEIGHTS)
    double = (saba % 2 == 0) & (rng.random((m, y)) < DOUBLE_QUANTITY_SHARE)
    quantity = np.where(double, 2, 1)
    _issues(rng, medications, pts, saba // quantity, quantity, saba_product, year_start[:, :y], year_end[:, :y])
    _issues(rng, medications, pts, ics, np.ones_like(ics), ics_product, year_start[:, :y], year_end[:, :y])

    # Emergency admissions, more likely with poor control and poor care in the same year.
    h = ADMISSION_HISTORY_YEARS
    mult = ADMISSION_MULTIPLIERS
    rate = (
        ADMISSION_BASE_RATE
        * np.exp(ADMISSION_DEPRIVATION * dep)[:, None]
        * np.where(child, ADMISSION_CHILD, 1)[:, None]
    )
    rate = rate * np.select(
        [saba[:, :h] >= 12, saba[:, :h] >= 6, saba[:, :h] >= 3], [mult["saba_12"], mult["saba_6"], mult["saba_3"]], 1.0
    )
    rate = rate * np.where(ics[:, :h] == 0, mult["no_ics"], 1) * np.where(reviewed[:, :h], 1, mult["no_review"])
    rate = rate * np.where(planned[:, :h], 1, mult["no_plan"])
    span = np.maximum(year_end[:, :h] - year_start[:, :h] + 1, 0) / 365.0
    count = rng.poisson(rate * span)
    i, k = np.nonzero(count)
    i, k = np.repeat(i, count[i, k]), np.repeat(k, count[i, k])
    admit = year_start[i, k] + (rng.random(len(i)) * (year_end[i, k] - year_start[i, k] + 1)).astype(np.int64)
    admissions = hospital.admission_rows(
        pts[i],
        admit,
        hospital.weighted_codes(rng, len(i), ADMISSION_METHOD_WEIGHTS, hospital.ADMISSION_METHODS),
        hospital.weighted_codes(rng, len(i), ADMISSION_DIAGNOSIS_WEIGHTS, hospital.DIAGNOSES),
        stay_days=rng.poisson(1.5, len(i)),
        last_day=end[i],
        extract_day=cohort.extract_day,
    )
    return events, medications, admissions


def _issues(rng, medications: EventBatch, pts, issues, quantity, product, start, end) -> None:
    """Spread each patient-year's issues uniformly over that year's window."""
    i, k = np.nonzero(issues)
    count = issues[i, k]
    i, k = np.repeat(i, count), np.repeat(k, count)
    day = start[i, k] + (rng.random(len(i)) * (end[i, k] - start[i, k] + 1)).astype(np.int64)
    medications.add(patient=pts[i], day=day, product=product[i], quantity=quantity[i, k].astype(np.float64))


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)
