"""Childhood immunisations: the UK routine schedule with London's low coverage and late doses.

Each child has an engagement score (practice effect + deprivation + ethnicity + individual noise);
a dose is given when the score, plus a little vaccine-specific noise, clears a threshold chosen so
the dose's eventual uptake matches the target. Dates are the due date plus a log-normal lag that
is shared across a child's appointments, with a small share of children caught up much later.
Sources and figures: docs/clinical-indicators.md §1.1 (schedule), §1.4 (IPV campaign), §1.5
(London coverage), §1.3 (19 % of first doses late). Calibration is checked by tests/unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from scipy.special import ndtri

from data.schema import VACCINES
from data.synthetic._common import EventBatch, day_number, logistic, logit
from data.synthetic.population import LETTERS, Cohort

OLD_SCHEDULE_BEFORE = day_number(date(2024, 7, 1))  # born before: Hib/MenC at 1 y, MMR2 at 3y4m
NEW_INFANT_PATTERN_FROM = day_number(date(2025, 7, 1))  # 12-week visit on/after: MenB2 at 12 w, PCV at 16 w
MMRV_FROM = day_number(date(2026, 1, 1))  # MMRV replaces MMR for doses from 2026 ...
MMRV_BORN_FROM = day_number(date(2022, 9, 1))  # ... for children born on or after 1 Sep 2022
ROTA_DOSE1_BEFORE_DAYS = 15 * 7  # Rotarix: dose 1 before 15 weeks
ROTA_DOSE2_BEFORE_DAYS = 25 * 7  # dose 2 before 25 weeks
MIN_DOSE_INTERVAL_DAYS = 28

# Children whose records plausibly exist: born within the history window or aged < 10 at its start.
RECORDS_FROM_AGE_AT_HISTORY_START = 10

# Engagement score: practice effect (logit scale) + these gradients + N(0, 1).
DEPRIVATION_EFFECT = -0.25  # per step from least (-1) to most (+1) deprived: lower uptake
ETHNIC_LETTER_EFFECT = {  # lower uptake in Black, Mixed, White Other and not-stated groups (COVER/UKHSA)
    "A": 0.1, "B": 0.1, "C": -0.25, "D": -0.25, "E": -0.25, "F": 0.0, "G": -0.15, "H": 0.3, "J": 0.1,
    "K": 0.2, "L": 0.1, "M": -0.35, "N": -0.3, "P": -0.35, "R": 0.0, "S": -0.1, "Z": -0.3, None: -0.3,
}  # fmt: skip
# Approximate mean and variance of (practice effect + gradients) across London, used to turn a
# target uptake into a threshold on the engagement score; tuned so realised COVER lands on target.
ENGAGEMENT_MEAN = -0.12
ENGAGEMENT_VARIANCE = 0.20

# Eventual uptake (given at any age) per dose; the on-time share follows from the lags. The pre-school doses
# (MMR2 and 4-in-1 at 3y4m) are set so COVER at 5 years, children turning 5 in the financial year, lands on
# London 2024-25 (69.6 % and 63.8 %, §1.5 [COVER-PARTICLE]); realised sits ≈ 0.5 pp above eventual uptake.
UPTAKE = {
    "6in1_1": 0.945, "6in1_2": 0.93, "6in1_3": 0.9, "6in1_4": 0.86,
    "PCV_1": 0.93, "PCV_2": 0.875, "MenB_1": 0.935, "MenB_2": 0.9, "MenB_3": 0.87,
    "Rotavirus_1": 0.935, "Rotavirus_2": 0.925, "HibMenC_1": 0.87,
    "MMR_1": 0.882, "MMR_2_18m": 0.83, "MMR_2_3y4m": 0.693, "4in1_1": 0.633,
}  # fmt: skip
DOSE_NOISE_SD = 0.35  # vaccine-specific noise around the child's engagement score

# Appointment due ages (days after birth) and log-normal lag after the due date (median, sigma).
DUE_DAYS = {"8w": 56, "12w": 84, "16w": 112, "1y": 366, "18m": 549, "3y4m": 1219}
LAG = {"8w": (7, 1.2), "12w": (8, 1.2), "16w": (9, 1.2), "1y": (14, 1.4), "18m": (21, 1.4), "3y4m": (30, 1.4)}
LATENESS_SHARED = 0.75  # weight of the child's own lateness in every lag (late children stay late)
LATENESS_ENGAGEMENT_CORRELATION = -0.4  # less engaged families are also later
CATCH_UP_SHARE = 0.05  # children whose whole series starts months or years late (arrivals, catch-up)
CATCH_UP_DELAY_DAYS = (150, 1100)

# 2022 London polio booster campaign (docs §1.4): an extra IPV for children aged 1-9 on 15 Aug 2022.
IPV_CAMPAIGN_START = day_number(date(2022, 8, 15))
IPV_CAMPAIGN_END = day_number(date(2022, 12, 31))
IPV_CATCH_UP = (day_number(date(2023, 4, 17)), day_number(date(2023, 7, 21)))  # 2023 summer term
IPV_UPTAKE = 0.40
IPV_CATCH_UP_SHARE = 0.2

VACCINE_SNOMED = {  # procedure codes (docs §5.3; 6-in-1 doses 2-3 unverified), null otherwise
    ("6in1", 1): "1082441000000108", ("6in1", 2): "1082451000000106", ("6in1", 3): "1082461000000109",
    ("MMR", 0): "38598009", ("MMRV", 0): "432636005",
}  # fmt: skip
SNOMED_MISSING_SHARE = 0.05
SNOMED_CODES = ("",) + tuple(sorted(set(VACCINE_SNOMED.values())))


@dataclass(frozen=True)
class ImmunisationRows:
    """The immunisations table for one chunk (patient = local index)."""

    patient: np.ndarray
    day: np.ndarray
    vaccine: np.ndarray  # index into schema VACCINES
    snomed: np.ndarray  # index into SNOMED_CODES (0 = null)


def engagement(rng: np.random.Generator, cohort: Cohort, practice_effect: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Latent vaccination engagement of the given children (higher = more likely vaccinated)."""
    letter_effect = np.array([ETHNIC_LETTER_EFFECT[code] for code in LETTERS] + [ETHNIC_LETTER_EFFECT[None]])
    eta = (
        practice_effect[cohort.practice[rows]]
        + DEPRIVATION_EFFECT * cohort.deprivation[rows]
        + letter_effect[cohort.letter[rows]]
    )
    return eta + rng.standard_normal(len(rows))


def threshold(uptake: float) -> float:
    """Threshold on engagement + dose noise that gives the target eventual uptake across London."""
    sd = np.sqrt(1 + ENGAGEMENT_VARIANCE + DOSE_NOISE_SD**2)
    return ENGAGEMENT_MEAN - float(ndtri(uptake)) * sd


def generate(
    rng: np.random.Generator, cohort: Cohort, practice_effect: np.ndarray, history_start: int
) -> ImmunisationRows:
    """Every routine and campaign dose for the children whose records exist."""
    born_from = history_start - int(RECORDS_FROM_AGE_AT_HISTORY_START * 365.25)
    kids = np.flatnonzero(cohort.birth >= born_from)
    n = len(kids)
    birth = cohort.birth[kids]
    score = engagement(rng, cohort, practice_effect, kids)
    z_score = (score - ENGAGEMENT_MEAN) / np.sqrt(1 + ENGAGEMENT_VARIANCE)  # fixed scaling: chunk-independent
    lateness = LATENESS_ENGAGEMENT_CORRELATION * z_score + np.sqrt(
        1 - LATENESS_ENGAGEMENT_CORRELATION**2
    ) * rng.standard_normal(n)
    catch_up = np.where(rng.random(n) < CATCH_UP_SHARE, rng.integers(*CATCH_UP_DELAY_DAYS, n), 0)

    def visit_day(name: str) -> np.ndarray:
        median, sigma = LAG[name]
        own = np.sqrt(1 - LATENESS_SHARED**2) * rng.standard_normal(n)
        lag = np.round(median * np.exp(sigma * (LATENESS_SHARED * lateness + own))).astype(np.int64)
        return birth + DUE_DAYS[name] + lag + (catch_up if name != "3y4m" else 0)

    v8 = visit_day("8w")
    v12 = np.maximum(visit_day("12w"), v8 + MIN_DOSE_INTERVAL_DAYS)
    v16 = np.maximum(visit_day("16w"), v12 + MIN_DOSE_INTERVAL_DAYS)
    v1y = np.maximum(visit_day("1y"), v16 + MIN_DOSE_INTERVAL_DAYS)
    v18 = np.maximum(visit_day("18m"), v1y + MIN_DOSE_INTERVAL_DAYS)
    v3y = np.maximum(visit_day("3y4m"), v1y + MIN_DOSE_INTERVAL_DAYS)

    def series(*doses: str) -> list[np.ndarray]:
        """Given-flags for a dose series: one shared noise, so dose k implies dose k-1."""
        noisy = score + DOSE_NOISE_SD * rng.standard_normal(n)
        return [noisy > threshold(UPTAKE[d]) for d in doses]

    six1, six2, six3 = series("6in1_1", "6in1_2", "6in1_3")
    (six4,) = series("6in1_4")
    menb1, menb2 = series("MenB_1", "MenB_2")
    (menb3,) = series("MenB_3")
    (pcv1,) = series("PCV_1")
    (pcv2,) = series("PCV_2")
    rota1, rota2 = series("Rotavirus_1", "Rotavirus_2")
    (hibmenc,) = series("HibMenC_1")
    mmr1, mmr2_18m, mmr2_3y = series("MMR_1", "MMR_2_18m", "MMR_2_3y4m")
    preschool_noise = score + DOSE_NOISE_SD * rng.standard_normal(n)
    booster = preschool_noise > threshold(UPTAKE["4in1_1"])

    old_schedule = birth < OLD_SCHEDULE_BEFORE
    new_infant = birth + DUE_DAYS["12w"] >= NEW_INFANT_PATTERN_FROM
    rota1 &= v8 < birth + ROTA_DOSE1_BEFORE_DAYS
    rota2 &= rota1 & (v12 < birth + ROTA_DOSE2_BEFORE_DAYS)
    mmrv_1 = (v1y >= MMRV_FROM) & (birth >= MMRV_BORN_FROM)
    mmrv_18m = v18 >= MMRV_FROM
    mmrv_3y = (v3y >= MMRV_FROM) & (birth >= MMRV_BORN_FROM)

    doses: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = [
        (vaccine_index("6in1", n), 1, v8, six1),
        (vaccine_index("6in1", n), 2, v12, six2),
        (vaccine_index("6in1", n), 3, v16, six3),
        (vaccine_index("6in1", n), 4, v18, six4 & ~old_schedule),
        (vaccine_index("MenB", n), 1, v8, menb1),
        (vaccine_index("MenB", n), 2, np.where(new_infant, v12, v16), menb2),
        (vaccine_index("MenB", n), 3, v1y, menb3),
        (vaccine_index("PCV", n), 1, np.where(new_infant, v16, v12), pcv1),
        (vaccine_index("PCV", n), 2, v1y, pcv2),
        (vaccine_index("Rotavirus", n), 1, v8, rota1),
        (vaccine_index("Rotavirus", n), 2, v12, rota2),
        (vaccine_index("HibMenC", n), 1, v1y, hibmenc & old_schedule),
        (measles_index(mmrv_1), 1, v1y, mmr1),
        (measles_index(mmrv_18m), 2, v18, mmr1 & mmr2_18m & ~old_schedule),
        (measles_index(mmrv_3y), 2, v3y, mmr1 & mmr2_3y & old_schedule),
        (vaccine_index("4in1", n), 1, v3y, booster),
    ]

    # 2022 London IPV booster: more likely in engaged, less deprived families.
    age_on_campaign = (IPV_CAMPAIGN_START - birth) / 365.25
    ipv_eligible = (age_on_campaign >= 1) & (age_on_campaign < 10)
    ipv_p = logistic(logit(IPV_UPTAKE) + 0.8 * z_score - 0.3 * cohort.deprivation[kids])
    in_catch_up = rng.random(n) < IPV_CATCH_UP_SHARE
    ipv_day = np.where(
        in_catch_up,
        rng.integers(IPV_CATCH_UP[0], IPV_CATCH_UP[1] + 1, n),
        rng.integers(IPV_CAMPAIGN_START, IPV_CAMPAIGN_END + 1, n),
    )
    doses.append((vaccine_index("IPV", n), 1, ipv_day, ipv_eligible & (rng.random(n) < ipv_p)))

    end = cohort.end[kids]
    batch = EventBatch()
    for vaccine, dose_number, day, given in doses:
        keep = given & (day <= end)
        vaccine = vaccine[keep]
        snomed = np.zeros(len(vaccine), dtype=np.int64)
        for (name, dose), code in VACCINE_SNOMED.items():
            if dose in (0, dose_number):
                snomed[vaccine == VACCINES.index(name)] = SNOMED_CODES.index(code)
        batch.add(patient=kids[keep], day=day[keep], vaccine=vaccine, snomed=snomed)
    snomed = batch.column("snomed")
    snomed[rng.random(len(snomed)) < SNOMED_MISSING_SHARE] = 0
    return ImmunisationRows(batch.column("patient"), batch.column("day"), batch.column("vaccine"), snomed)


def vaccine_index(name: str, n: int) -> np.ndarray:
    """n copies of a vaccine's index in the schema vocabulary."""
    return np.full(n, VACCINES.index(name), dtype=np.int64)


def measles_index(is_mmrv: np.ndarray) -> np.ndarray:
    """MMRV or MMR index per child."""
    return np.where(is_mmrv, VACCINES.index("MMRV"), VACCINES.index("MMR"))
