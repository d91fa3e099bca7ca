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
ACTIVE_PREVALENCE = np.array([0.03, 0.085, 0.058, 0.055])  # treated asthma by age; <6 are not on the register
ONSET_AGE = 1.5  # no asthma before this age
PREVALENCE_DEPRIVATION = 0.12  # relative, per step towards most deprived
BLACK_CHILD_PREVALENCE = 1.3  # relative, Black children and young people
MEAN_ADULT_YEARS_SINCE_DIAGNOSIS = 12.0
# Asthma is treated in spells: each year a share of patients stops (no inhaler issued, so off the register), and
# patients start (new diagnoses, or returns after a lapse) so that each age keeps ACTIVE_PREVALENCE.
LAPSE_RATE = 0.06  # a year
RETURN_SHARE = 0.35  # of patients starting treatment, those diagnosed before (returning after a lapse)
RESOLVED_ON_LAPSE = 0.25  # lapses recorded with an asthma-resolved code (a return is then diagnosed again)

# SABA inhalers a year = round(exp(mu + patient + year noise)); see module docstring for targets.
SABA_LOG_MEAN = 0.17
SABA_PATIENT_SD = 1.10
SABA_YEAR_SD = 0.45
SABA_DEPRIVATION = 0.18  # per step towards most deprived, on the log scale before SD scaling
SABA_CHILD = 0.12
NO_ICS_SHARE = 0.14  # patients on SABA alone: ≈ 18 % of SABA users in a year, as §3.5 (15-20 %)
ICS_EXTRA_PER_YEAR = 3.0  # ICS inhalers a year = 1 + Poisson(adherence × this)
DOUBLE_QUANTITY_SHARE = 0.4  # issues of 2 inhalers (when the year's count is even)

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
ADMISSION_METHOD_WEIGHTS = {"21": 0.85, "22": 0.05, "28": 0.05, "2A": 0.05}
ADMISSION_DIAGNOSIS_WEIGHTS = {"J45.9": 0.68, "J45.0": 0.08, "J45.1": 0.04, "J45.8": 0.05, "J46": 0.15}

SABA = rows("saba")
ICS = rows("ics")
DMD_CODES = tuple(r["code"] for r in SABA + ICS)
BNF_CODES = tuple(r["bnf_code"] for r in SABA + ICS)
SABA_PRODUCT_WEIGHTS = (0.45, 0.35, 0.20)
ICS_PRODUCT_WEIGHTS = (0.65, 0.35)


def generate(rng: np.random.Generator, cohort: Cohort, effects: dict[str, np.ndarray], history_start: int):
    """Return (clinical events, medications, admissions) batches for one chunk.

    Yearly windows are counted back from each patient's last record date (year 0 = its last 12 months), and a
    patient is treated for asthma or not in each (:func:`_treated_years`), with the share treated at each age
    the same in every year: the register and its measures are steady over time, as London's are, instead of
    growing with the history the generator dated back from the extract.
    """
    years = max(int(round((cohort.extract_day - history_start) / DAYS_PER_YEAR)), 1)
    treated_all = _treated_years(rng, cohort, years)
    pts = np.flatnonzero(treated_all.any(axis=1))
    treated = treated_all[pts]
    m = len(pts)
    age = cohort.age_at(cohort.end)[pts]
    dep = cohort.deprivation[pts]
    practice = cohort.practice[pts]
    end = cohort.end[pts]
    birth = cohort.birth[pts]
    child = age < 18
    year_end = end[:, None] - 365 * np.arange(years)[None, :]
    window_start = year_end[:, -1] - 364

    # Diagnosis: within the first treated year for a new patient; before the history for one treated from its
    # start or returning after a lapse (children any time after ONSET_AGE, adults exponential years back).
    first = years - 1 - np.argmax(treated[:, ::-1], axis=1)  # the oldest treated year
    first_start = year_end[np.arange(m), first] - 364
    new = (first < years - 1) & (rng.random(m) >= RETURN_SHARE)
    age_then = (window_start - birth) / DAYS_PER_YEAR
    years_back = np.where(
        age_then < 20,
        rng.random(m) * np.maximum(age_then - ONSET_AGE, 0.0),
        np.minimum(rng.exponential(MEAN_ADULT_YEARS_SINCE_DIAGNOSIS, m), age_then - 2),
    )
    onset = birth + int(ONSET_AGE * DAYS_PER_YEAR)
    earlier = np.maximum(window_start - (years_back * DAYS_PER_YEAR).astype(np.int64), onset)
    within = np.maximum(first_start + (rng.random(m) * 365).astype(np.int64), onset)
    diag = np.where(new, within, np.minimum(earlier, first_start))
    events = EventBatch()
    ast_codes = codes("ast_cod")
    code_weights_child = [0.35, 0.45, 0.1, 0.02, 0.05, 0.02, 0.01]
    code_weights_adult = [0.60, 0.0, 0.12, 0.08, 0.10, 0.07, 0.03]
    code = np.where(child, choose(rng, m, code_weights_child), choose(rng, m, code_weights_adult))
    diagnosis_codes = np.array([clinical_code(c) for c in ast_codes])
    events.add(patient=pts, day=diag, code=diagnosis_codes[code], value=_nan(m))

    # A lapse is sometimes coded as resolved; treatment after one starts with a new diagnosis on its first day.
    resolved_code = clinical_code(codes("astres_cod")[0])
    resolved = np.zeros(m, dtype=bool)
    for k in range(years - 2, -1, -1):
        start = year_end[:, k] - 364
        lapsing = treated[:, k + 1] & ~treated[:, k]
        coded = lapsing & (rng.random(m) < RESOLVED_ON_LAPSE)
        events.add(
            patient=pts[coded],
            day=np.minimum(start[coded] + rng.integers(0, 90, coded.sum()), end[coded]),
            code=np.full(coded.sum(), resolved_code),
            value=_nan(coded.sum()),
        )
        returning = resolved & ~treated[:, k + 1] & treated[:, k]
        events.add(
            patient=pts[returning],
            day=start[returning],
            code=diagnosis_codes[code[returning]],
            value=_nan(returning.sum()),
        )
        resolved = (resolved | coded) & ~returning
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

    # The treated years' windows (from the diagnosis and registration on).
    year_start = np.maximum(year_end - 364, care_start[:, None])
    open_year = treated & (year_start <= year_end)

    reviewed = open_year & (
        rng.random((m, years))
        < logistic(
            logit(REVIEW_SHARE) + effects["asthma_review"][practice] - 0.25 * dep - 0.3 * ((age >= 18) & (age < 40))
        )[:, None]
    )
    # Recalled at the same point of every year (a patient's review month), so any 12 months hold one year's review.
    review_day = year_start + (rng.random(m)[:, None] * (year_end - year_start + 1)).astype(np.int64)
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

    # Inhalers per year, over the whole history (every period offered has its 12 months of prescribing).
    patient_level = SABA_PATIENT_SD * rng.standard_normal(m) + SABA_DEPRIVATION * dep + SABA_CHILD * child
    patient_level += effects["saba_reliance"][practice]
    saba = np.round(np.exp(SABA_LOG_MEAN + patient_level[:, None] + SABA_YEAR_SD * rng.standard_normal((m, years))))
    saba = np.minimum(saba, 40).astype(np.int64)
    # SABA with no ICS is a patient's way of being treated, not a year's: a patient on SABA alone stays so
    # (with at least one SABA a year), so a rolling 12 months across two years finds it as often as a year does.
    no_ics = rng.random(m) < logistic(logit(NO_ICS_SHARE) + 0.3 * dep)
    saba = np.where(no_ics[:, None], np.maximum(saba, 1), saba)
    adherence = rng.beta(2, 2, m)
    ics = np.where(no_ics[:, None], 0, 1 + rng.poisson(adherence[:, None] * ICS_EXTRA_PER_YEAR, (m, years)))
    saba, ics = np.where(open_year, saba, 0), np.where(open_year, ics, 0)
    medications = EventBatch()
    saba_product = choose(rng, m, SABA_PRODUCT_WEIGHTS)
    ics_product = len(SABA) + choose(rng, m, ICS_PRODUCT_WEIGHTS)
    double = (saba % 2 == 0) & (rng.random((m, years)) < DOUBLE_QUANTITY_SHARE)
    quantity = np.where(double, 2, 1)
    _issues(rng, medications, pts, saba // quantity, quantity, saba_product, year_start, year_end)
    _issues(rng, medications, pts, ics, np.ones_like(ics), ics_product, year_start, year_end)

    # Emergency admissions in treated years, more likely with poor control and poor care in the same year.
    mult = ADMISSION_MULTIPLIERS
    rate = (
        ADMISSION_BASE_RATE
        * np.exp(ADMISSION_DEPRIVATION * dep)[:, None]
        * np.where(child, ADMISSION_CHILD, 1)[:, None]
    )
    rate = rate * np.select([saba >= 12, saba >= 6, saba >= 3], [mult["saba_12"], mult["saba_6"], mult["saba_3"]], 1.0)
    rate = rate * np.where(ics == 0, mult["no_ics"], 1) * np.where(reviewed, 1, mult["no_review"])
    rate = rate * np.where(planned, 1, mult["no_plan"])
    span = np.where(open_year, year_end - year_start + 1, 0) / 365.0
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


def _treated_years(rng: np.random.Generator, cohort: Cohort, years: int) -> np.ndarray:
    """Whether each patient is treated for asthma in each yearly window (n × years; column 0 = the last 12 months).

    A two-state chain from the oldest year on, at the age in each year's middle: treated with the age's share
    (:func:`_treated_share`) in the oldest; then a treated patient stops with LAPSE_RATE (more where the
    share falls with age, as childhood asthma remits), and an untreated one starts with the chance that keeps
    the share at the new age. Every year therefore has each age's share treated: no trend of the generator's
    own making.
    """
    age_mid = cohort.age_at(cohort.end)[:, None] - np.arange(years)[None, :] - 0.5
    share = _treated_share(cohort, age_mid)
    treated = np.empty(share.shape, dtype=bool)
    treated[:, -1] = rng.random(cohort.size) < share[:, -1]
    for k in range(years - 2, -1, -1):
        before, now = share[:, k + 1], share[:, k]
        with np.errstate(divide="ignore", invalid="ignore"):
            keep = np.where(before > 0, np.minimum(1 - LAPSE_RATE, now / before), 0.0)
            start = np.where(before < 1, (now - before * keep) / (1 - before), 0.0)
        chance = np.where(treated[:, k + 1], keep, start)
        treated[:, k] = rng.random(cohort.size) < chance
    return treated


def _treated_share(cohort: Cohort, age: np.ndarray) -> np.ndarray:
    """The share of patients treated for asthma at ``age`` (per patient and year): by age band, higher with
    deprivation and for Black children and young people, none before ONSET_AGE."""
    dep = cohort.deprivation[:, None]
    black = np.isin(cohort.group, [3])[:, None]
    share = band_value(AGE_BANDS, ACTIVE_PREVALENCE, age) * (1 + PREVALENCE_DEPRIVATION * dep)
    share = share * np.where(black & (age < 20), BLACK_CHILD_PREVALENCE, 1.0)
    return np.where(age >= ONSET_AGE, share, 0.0)


def _issues(rng, medications: EventBatch, pts, issues, quantity, product, start, end) -> None:
    """Spread each patient-year's issues evenly over that year's window, at the same point of the interval every
    year (a patient's own repeat-prescribing rhythm).

    A patient issued n a year then has about n in any 12 months, not only in the yearly windows: issues drawn
    anywhere in each window left a rolling year that straddles two windows without the one inhaler of either
    for about one patient in six, which dipped the register between the anniversaries of the extract date.
    """
    phase = rng.random(len(pts))
    i, k = np.nonzero(issues)
    count = issues[i, k]
    # Each issue's place among its patient-year's: 0, 1, ... n - 1.
    j = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    i, k, count = np.repeat(i, count), np.repeat(k, count), np.repeat(count, count)
    span = end[i, k] - start[i, k] + 1
    day = start[i, k] + ((j + phase[i]) * span / count).astype(np.int64)
    medications.add(patient=pts[i], day=day, product=product[i], quantity=quantity[i, k].astype(np.float64))


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)
