"""Hypertension: true and recorded prevalence, diagnoses, resolutions and blood-pressure readings.

Recorded prevalence by age band follows OpenSAFELY-TPP 2021/22 (docs/clinical-indicators.md §2.6);
true prevalence is higher, with lower detection in younger men and deprived areas (§2.5), so the
"possible undiagnosed" measure has something to find. Every reading is at target with the patient's
control probability, so QOF-style HYP008/HYP009 achievement in any 12-month period follows §2.2/§2.6,
with the NEL ethnic gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.codelists import codes
from data.synthetic._common import (
    DAYS_PER_YEAR,
    EventBatch,
    band_value,
    choose,
    clinical_code,
    logistic,
    logit,
    poisson_dates,
    uniform_dates,
    years_to_days,
)
from data.synthetic.population import LETTERS, Cohort

AGE_BANDS = np.array([0, 20, 30, 40, 50, 60, 70, 80])
RECORDED_PREVALENCE = np.array([0.0004, 0.004, 0.017, 0.068, 0.178, 0.32, 0.485, 0.628])  # §2.6
# Share of true hypertension that is diagnosed, by age band and sex (lower in young men: §2.5, ONS).
DETECTION_FEMALE = np.array([0.45, 0.50, 0.58, 0.68, 0.74, 0.80, 0.85, 0.88])
DETECTION_MALE = np.array([0.35, 0.38, 0.45, 0.60, 0.70, 0.78, 0.84, 0.88])
DETECTION_DEPRIVATION = -0.25  # logit, per step towards most deprived: less detection
TRUE_PREVALENCE_DEPRIVATION = 0.20  # relative, per step towards most deprived
TRUE_PREVALENCE_ETHNIC = {"M": 1.25, "N": 1.25, "P": 1.25, "H": 1.15, "J": 1.15, "K": 1.15}  # relative
MAX_TRUE_PREVALENCE = 0.95
# Age at diagnosis follows the age-prevalence curve (§2.6, between band midpoints): a diagnosed patient of age
# a was already diagnosed at age x < a with probability p(x) / p(a). With a list whose age structure is
# steady, recorded prevalence then stays steady over calendar time, as registers do. Diagnoses dated
# exponentially back from the extract date (mean 9 years) made every earlier period read lower: prevalence
# rose 0.5 pp a year by artefact.
# RECORDED_PREVALENCE at its band midpoints (80+ at 85), from 0 at birth, rising on to 70 % at 110.
PREVALENCE_CURVE_AGES = np.concatenate([[0], (AGE_BANDS[:-1] + AGE_BANDS[1:]) / 2, [AGE_BANDS[-1] + 5, 110]])
PREVALENCE_CURVE = np.concatenate([[0], RECORDED_PREVALENCE, [0.70]])
RESOLVED_SHARE = 0.03  # diagnosed patients later coded HYPRES_COD
DIAGNOSIS_CODE_WEIGHTS = (0.40, 0.35, 0.05, 0.03, 0.10, 0.05, 0.02)  # hyp_cod.csv order
AMBULATORY_CONFIRMATION_SHARE = 0.30  # ABPM pair 1-4 weeks before diagnosis (NG136, §2.4)

# Diagnosed patients: chance of at least one reading in any 12 months (BP002 85.6 %).
BP_RECORDED_SHARE = 0.86
HOME_READING_SHARE = 0.08
# Probability that a reading is at target, by age band. QOF counts a register patient with no reading
# as not achieving, so these sit above the published achievement (HYP003/HYP008 60.3 %, HYP007/HYP009
# 72.5 %, §2.6) by about the 15 % without a reading: QOF-style rates come out at ≈ 60 % and ≈ 72 %.
CONTROL_BY_BAND = np.array([0.565, 0.565, 0.565, 0.635, 0.675, 0.73, 0.76, 0.845])
CONTROL_ETHNIC_LOG_ODDS = {"M": np.log(0.88), "N": np.log(0.88), "P": np.log(0.88)} | {
    letter: np.log(1.28) for letter in "HJKL"
}  # NEL equity (§2.6)
BOUNDARY_READING_SHARE = 0.05  # controlled last readings recorded exactly at the target
TERMINAL_DIGIT_ZERO_SHARE = 0.2  # clinic readings rounded to the nearest 10 mmHg
MAX_SYSTOLIC = 230  # mmHg: the physiological cap on every generated systolic reading

# Readings in undiagnosed adults (opportunistic checks).
SCREENING_READINGS_PER_YEAR_40_PLUS = 0.25
SCREENING_READINGS_PER_YEAR_18_39 = 0.10


@dataclass(frozen=True)
class HypertensionResult:
    """Clinical events plus who is on the register (for linked admissions)."""

    events: EventBatch
    hypertensive: np.ndarray  # bool per patient: diagnosed and not resolved


def diagnosis_age(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    """Age at diagnosis of diagnosed patients now aged ``age``: inverse of ``PREVALENCE_CURVE`` at a uniform
    share of the prevalence reached by their age."""
    reached = np.interp(age, PREVALENCE_CURVE_AGES, PREVALENCE_CURVE)
    return np.interp(rng.random(len(age)) * reached, PREVALENCE_CURVE, PREVALENCE_CURVE_AGES)


def by_age(table: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Look up a per-age-band table."""
    return band_value(AGE_BANDS, table, age)


def _letter_table(mapping: dict[str, float], default: float) -> np.ndarray:
    return np.array([mapping.get(letter, default) for letter in LETTERS] + [default])


def diastolic_for(rng: np.random.Generator, systolic: np.ndarray) -> np.ndarray:
    """Diastolic pressure loosely tracking systolic."""
    return np.clip(0.45 * systolic + 16 + rng.normal(0, 7, len(systolic)), 45, systolic - 15)


def round_readings(rng: np.random.Generator, systolic: np.ndarray, diastolic: np.ndarray):
    """Whole mmHg, with the terminal-digit preference of manual clinic readings."""
    tens = rng.random(len(systolic)) < TERMINAL_DIGIT_ZERO_SHARE
    systolic = np.where(tens, np.round(systolic / 10) * 10, np.round(systolic))
    diastolic = np.where(tens, np.round(diastolic / 10) * 10, np.round(diastolic))
    return systolic, diastolic


def generate(
    rng: np.random.Generator, cohort: Cohort, effects: dict[str, np.ndarray], history_start: int
) -> HypertensionResult:
    """Diagnoses, resolutions and blood-pressure readings for one chunk."""
    n = cohort.size
    age = cohort.age_at(cohort.end)
    dep = cohort.deprivation
    practice = cohort.practice
    male = cohort.sex == 1

    detection_base = np.where(male, by_age(DETECTION_MALE, age), by_age(DETECTION_FEMALE, age))
    detected = rng.random(n) < logistic(
        logit(detection_base) + effects["hypertension_detection"][practice] + DETECTION_DEPRIVATION * dep
    )
    ethnic = _letter_table(TRUE_PREVALENCE_ETHNIC, 1.0)[cohort.letter]
    target = by_age(RECORDED_PREVALENCE, age) / (1 - RESOLVED_SHARE)
    p_true = np.minimum(
        target / detection_base * ethnic / 1.055 * (1 + TRUE_PREVALENCE_DEPRIVATION * dep), MAX_TRUE_PREVALENCE
    )
    hypertensive_true = rng.random(n) < p_true
    diagnosed = hypertensive_true & detected

    events = EventBatch()
    dx = np.flatnonzero(diagnosed)
    years_back = age[dx] - diagnosis_age(rng, age[dx])
    diag_day = np.maximum(cohort.end[dx] - years_to_days(years_back), cohort.birth[dx])
    code_index = np.array([clinical_code(c) for c in codes("hyp_cod")])
    events.add(
        patient=dx,
        day=diag_day,
        code=code_index[choose(rng, len(dx), DIAGNOSIS_CODE_WEIGHTS)],
        value=np.full(len(dx), np.nan),
    )

    resolvable = diag_day + 365 <= cohort.end[dx]
    resolved = resolvable & (rng.random(len(dx)) < RESOLVED_SHARE)
    res = dx[resolved]
    resolved_day = uniform_dates(rng, diag_day[resolved] + 365, cohort.end[res])
    events.add(
        patient=res,
        day=resolved_day,
        code=np.full(len(res), clinical_code(codes("hypres_cod")[0])),
        value=np.full(len(res), np.nan),
    )
    active = np.zeros(n, dtype=bool)
    active[dx[~resolved]] = True

    # Raised reading on the diagnosis date, and sometimes an ambulatory confirmation before it.
    seen = diag_day >= history_start
    # Capped as every other reading is: the uncapped tail put about 1 diagnosis in 1,500 over 230 mmHg (262 once).
    raised = np.minimum(142 + rng.exponential(12, seen.sum()), MAX_SYSTOLIC)
    _add_pair(events, dx[seen], diag_day[seen], raised, None, rng, clinic=True)
    abpm = seen & (rng.random(len(dx)) < AMBULATORY_CONFIRMATION_SHARE)
    abpm_day = np.maximum(diag_day[abpm] - rng.integers(7, 29, abpm.sum()), cohort.birth[dx[abpm]])
    abpm_sys = np.round(np.minimum(135 + rng.exponential(10, abpm.sum()), MAX_SYSTOLIC))
    abpm_dia = np.round(np.maximum(85 + rng.exponential(4, abpm.sum()), 0.45 * abpm_sys + 16))
    events.add(
        patient=dx[abpm], day=abpm_day, code=np.full(abpm.sum(), clinical_code("198081000000101")), value=abpm_sys
    )
    events.add(
        patient=dx[abpm], day=abpm_day, code=np.full(abpm.sum(), clinical_code("198091000000104")), value=abpm_dia
    )

    _register_readings(rng, cohort, effects, history_start, dx[~resolved], diag_day[~resolved], events)
    ever_diagnosed = np.zeros(n, dtype=bool)
    ever_diagnosed[dx] = True
    _screening_readings(rng, cohort, history_start, ~ever_diagnosed, hypertensive_true, events)
    return HypertensionResult(events, active)


def _add_pair(events, patients, days, systolic, diastolic, rng, *, clinic: bool, home: np.ndarray | None = None):
    """Systolic and diastolic rows on the same date (clinic or home codes)."""
    if diastolic is None:
        diastolic = diastolic_for(rng, systolic)
    if clinic:
        systolic, diastolic = round_readings(rng, systolic, diastolic)
    sys_code = np.full(len(patients), clinical_code("271649006"))
    dia_code = np.full(len(patients), clinical_code("271650006"))
    if home is not None:
        sys_code = np.where(home, clinical_code("413606001"), sys_code)
        dia_code = np.where(home, clinical_code("413605002"), dia_code)
    events.add(patient=patients, day=days, code=sys_code, value=np.asarray(systolic, dtype=np.float64))
    events.add(patient=patients, day=days, code=dia_code, value=np.asarray(diastolic, dtype=np.float64))


def _register_readings(rng, cohort: Cohort, effects, history_start, patients, diag_day, events) -> None:
    """Readings for the diagnosed (about two a year), each at target with the patient's control
    probability, so the latest reading of any 12-month period is controlled at the calibrated rate."""
    m = len(patients)
    end = cohort.end[patients]
    start = np.maximum.reduce([diag_day + 1, cohort.reg_start[patients], np.full(m, history_start)])
    age = cohort.age_at(cohort.extract_day)[patients]
    dep = cohort.deprivation[patients]
    practice = cohort.practice[patients]
    p_recorded = logistic(logit(BP_RECORDED_SHARE) + effects["bp_recording"][practice] - 0.3 * (age < 50) - 0.15 * dep)
    letter_odds = _letter_table(CONTROL_ETHNIC_LOG_ODDS, 0.0)[cohort.letter[patients]]
    p_control = logistic(
        logit(by_age(CONTROL_BY_BAND, age)) + letter_odds + effects["bp_control"][practice] - 0.1 * dep
    )
    patient_mean = rng.normal(138, 8, m)

    # A steady Poisson process per patient, with the rate that leaves a 12-month window empty with
    # probability 1 - p_recorded: every window (financial year or the 12 months to the extract date)
    # then has the same chance of a reading.
    i, days = poisson_dates(rng, start, end, -np.log(1 - p_recorded))
    home = rng.random(len(i)) < HOME_READING_SHARE
    in_target = rng.random(len(i)) < p_control[i]
    systolic, diastolic = forced_readings(rng, patient_mean[i], in_target, np.where(age[i] >= 80, 150, 140), home)
    _add_pair(events, patients[i], days, systolic, diastolic, rng, clinic=False, home=home)


def forced_readings(rng, mean, in_target, target_systolic, home):
    """Whole-mmHg readings around ``mean``, moved just inside or outside the QOF target as required.

    Home readings use the home targets (5 mmHg lower, diastolic 85); 5 % of in-target clinic readings
    sit exactly on the target, and clinic readings show terminal-digit preference.
    """
    n = len(mean)
    systolic = mean + rng.normal(0, 9, n)
    systolic, diastolic = round_readings(rng, systolic, diastolic_for(rng, systolic))
    systolic = np.where(home, np.round(mean - 5 + rng.normal(0, 7, n)), systolic)
    diastolic = np.where(home, np.round(diastolic_for(rng, systolic)), diastolic)
    t_sys = target_systolic - 5 * home
    t_dia = 90 - 5 * home
    boundary = in_target & ~home & (rng.random(n) < BOUNDARY_READING_SHARE)
    systolic = np.where(
        in_target & (systolic > t_sys), t_sys - np.floor(np.minimum(rng.exponential(8, n), 40)), systolic
    )
    diastolic = np.where(
        in_target & (diastolic > t_dia), t_dia - np.floor(np.minimum(rng.exponential(6, n), 30)), diastolic
    )
    systolic = np.where(boundary, t_sys, systolic)
    diastolic = np.where(boundary & (rng.random(n) < 0.5), t_dia, diastolic)
    meets = (systolic <= t_sys) & (diastolic <= t_dia)
    raise_sys = ~in_target & meets & (rng.random(n) < 0.8)
    raise_dia = ~in_target & meets & ~raise_sys
    systolic = np.where(raise_sys, t_sys + 1 + np.floor(rng.exponential(10, n)), systolic)
    diastolic = np.where(raise_dia, t_dia + 1 + np.floor(rng.exponential(5, n)), diastolic)
    # A raised diastolic needs a systolic at least 20 above it (still within target, so still not at target).
    systolic = np.where(raise_dia, np.maximum(systolic, np.minimum(diastolic + 20, t_sys)), systolic)
    # Physiological bounds; clipping never moves a reading across its target.
    systolic = np.clip(systolic, 85, MAX_SYSTOLIC)
    diastolic = np.clip(diastolic, 45, np.minimum(130, systolic - 15))
    return systolic, diastolic


def _screening_readings(rng, cohort: Cohort, history_start, undiagnosed, hypertensive_true, events) -> None:
    """Opportunistic readings in adults without a diagnosis; true hypertensives read high."""
    age = cohort.age_at(cohort.extract_day)
    eligible = np.flatnonzero(undiagnosed & (age >= 18))
    rate = np.where(age[eligible] >= 40, SCREENING_READINGS_PER_YEAR_40_PLUS, SCREENING_READINGS_PER_YEAR_18_39)
    start = np.maximum.reduce(
        [
            cohort.reg_start[eligible],
            np.full(len(eligible), history_start),
            cohort.birth[eligible] + int(18 * DAYS_PER_YEAR),
        ]
    )
    rows, days = poisson_dates(rng, start, cohort.end[eligible], rate)
    patients = eligible[rows]
    high = hypertensive_true[patients]
    mean = np.where(high, 146, 121) + rng.normal(0, np.where(high, 6, 9))
    systolic = np.clip(mean + rng.normal(0, 8, len(rows)), 85, MAX_SYSTOLIC)
    _add_pair(events, patients, days, systolic, None, rng, clinic=True)
