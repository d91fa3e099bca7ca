"""Hospital episodes (HES APC shape): vocabularies, row building and background admissions.

Asthma and cancer admissions come from their own modules; this adds the background of other
elective and emergency admissions at modest age-dependent rates, so asthma admissions sit among
ordinary hospital activity. Provider = main acute trust of the residence borough (trusts.csv).
"""

from __future__ import annotations

import numpy as np

from data.codelists import codes
from data.synthetic._common import DAYS_PER_YEAR, EventBatch, choose, poisson_dates

ADMISSION_METHODS = ("11", "12", "13", "21", "22", "23", "24", "28", "2A", "2B", "2D", "31", "81")
CANCER_ICD10 = (
    "C34.1", "C34.9", "C50.9", "C18.7", "C18.9", "C20", "C43.9", "C61", "C67.9", "C64", "C56", "C54.1", "C16.9",
    "C15.9", "C25.9", "C32.9", "C01", "C91.1", "C85.9", "C90.0", "C71.9", "C73", "C22.0", "C80.9",
)  # fmt: skip
# Background primary diagnoses: (code, weight, min age, max age, sex restriction or None).
BACKGROUND_DIAGNOSES = (
    ("R07.4", 6, 18, 120, None), ("R10.4", 6, 5, 120, None), ("K35.8", 3, 5, 60, None), ("J18.9", 5, 0, 120, None),
    ("N39.0", 4, 0, 120, None), ("I48.9", 3, 50, 120, None), ("I21.9", 2, 40, 120, None), ("I10", 1, 30, 120, None),
    ("J44.1", 3, 45, 120, None), ("S72.0", 2, 65, 120, None), ("K80.2", 3, 20, 120, None), ("A09.9", 4, 0, 120, None),
    ("J06.9", 5, 0, 18, None), ("R50.9", 3, 0, 18, None), ("O80", 12, 18, 45, "F"), ("K57.3", 2, 50, 120, None),
    ("H26.9", 4, 60, 120, None), ("M17.1", 3, 55, 120, None), ("E11.9", 2, 30, 120, None), ("F10.2", 1, 18, 70, None),
)  # fmt: skip
DIAGNOSES = tuple(dict.fromkeys(codes("asthma_admission") + CANCER_ICD10 + tuple(d[0] for d in BACKGROUND_DIAGNOSES)))

# Background admissions per person-year by age band.
RATE_AGE_BANDS = np.array([0, 5, 18, 40, 65, 80])
RATE_PER_YEAR = np.array([0.08, 0.03, 0.06, 0.08, 0.18, 0.35])
BACKGROUND_HISTORY_YEARS = 3
EMERGENCY_SHARE = 0.6
EMERGENCY_METHOD_WEIGHTS = {"21": 0.75, "22": 0.08, "23": 0.03, "28": 0.08, "2A": 0.04, "2B": 0.02}
ELECTIVE_METHOD_WEIGHTS = {"11": 0.55, "12": 0.25, "13": 0.2}
HYPERTENSIVE_I10_SHARE = 0.05  # hypertensive patients' background admissions coded I10


def weighted_codes(rng: np.random.Generator, n: int, weights: dict[str, float], vocabulary) -> np.ndarray:
    """n indices into ``vocabulary`` drawn with the given per-code weights."""
    names = list(weights)
    index = np.array([vocabulary.index(code) for code in names])
    return index[choose(rng, n, [weights[c] for c in names])]


def admission_rows(patients, admit_day, method, diagnosis, *, stay_days, last_day, extract_day) -> EventBatch:
    """Admission rows. A stay running past the patient's last record date ends then (death or
    leaving), or, past the extract date, is still going on (null discharge, held as -1)."""
    discharge = np.minimum(admit_day + np.asarray(stay_days, dtype=np.int64), last_day)
    batch = EventBatch()
    batch.add(
        patient=np.asarray(patients, dtype=np.int64),
        day=admit_day,
        discharge=np.where(admit_day + np.asarray(stay_days) > extract_day, -1, discharge),
        method=method,
        diagnosis=diagnosis,
    )
    return batch


def background_admissions(rng: np.random.Generator, cohort, *, hypertensive: np.ndarray) -> EventBatch:
    """Other elective and emergency admissions in the last few years."""
    start = np.maximum(cohort.birth, cohort.extract_day - int(BACKGROUND_HISTORY_YEARS * DAYS_PER_YEAR))
    age = cohort.age_at(cohort.extract_day)
    rate = RATE_PER_YEAR[np.searchsorted(RATE_AGE_BANDS, age, side="right") - 1]
    rows, admit = poisson_dates(rng, start, cohort.end, rate)
    age_at = (admit - cohort.birth[rows]) / DAYS_PER_YEAR
    female = cohort.sex[rows] == 0
    diagnosis = np.empty(len(rows), dtype=np.int64)
    # Draw within broad age/sex strata so each code respects its age and sex limits.
    strata = np.searchsorted(np.array([5, 18, 20, 30, 40, 45, 50, 55, 60, 65, 70]), age_at, side="right") * 2 + female
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        a, f = age_at[members[0]], bool(female[members[0]])
        allowed = [
            (code, weight)
            for code, weight, lo, hi, sex in BACKGROUND_DIAGNOSES
            if lo <= a < hi and (sex is None or (sex == "F") == f)
        ]
        picked = choose(rng, len(members), [w for _, w in allowed])
        diagnosis[members] = np.array([DIAGNOSES.index(c) for c, _ in allowed])[picked]
    i10 = hypertensive[rows] & (rng.random(len(rows)) < HYPERTENSIVE_I10_SHARE)
    diagnosis = np.where(i10, DIAGNOSES.index("I10"), diagnosis)
    emergency = rng.random(len(rows)) < EMERGENCY_SHARE
    method = np.where(
        emergency,
        weighted_codes(rng, len(rows), EMERGENCY_METHOD_WEIGHTS, ADMISSION_METHODS),
        weighted_codes(rng, len(rows), ELECTIVE_METHOD_WEIGHTS, ADMISSION_METHODS),
    )
    stay = np.where(emergency, 1 + rng.geometric(0.3, len(rows)), rng.poisson(0.7, len(rows)))
    return admission_rows(
        rows, admit, method, diagnosis, stay_days=stay, last_day=cohort.end[rows], extract_day=cohort.extract_day
    )
