"""Cancer: urgent referral pathways (CWT v12.1 shape) and registrations (registry shape).

Referral rate, conversion and waiting-time performance follow North East London figures
(docs/clinical-indicators.md §4.4): ≈ 4.4 % of adults referred a year, ≈ 3.6 % of FDS pathways converting, FDS
≈ 80 %, 31-day ≈ 94 %, 62-day ≈ 76.5 %. Registrations add cancers diagnosed by other routes so that
emergency presentation is ≈ 23 % (§4.3) and early stage (1-2 of staged) ≈ 56 % (§4.2).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from data.schema import PRIORITY_TYPES, ROUTES, STAGES, SUSPECTED_SITES
from data.synthetic import hospital
from data.synthetic._common import (
    DAYS_PER_YEAR,
    choose,
    dates,
    hex_ids,
    logistic,
    mix40,
    poisson_dates,
    strings,
)
from data.synthetic.population import Cohort

HISTORY_YEARS = 3
REFERRAL_AGE_BANDS = np.array([18, 30, 40, 50, 60, 70, 80])
REFERRAL_RATE = np.array([0.015, 0.025, 0.04, 0.06, 0.08, 0.10, 0.10])  # per adult-year (≈ 4.4 % in London)
PRIORITY_WEIGHTS = (0.85, 0.06, 0.05, 0.04)  # PRIORITY_TYPES order
# Suspected-site mix of USC referrals (SUSPECTED_SITES order), by sex.
SITE_WEIGHTS_F = (0.04, 0.30, 0.20, 0.15, 0.04, 0.12, 0.07, 0.05, 0.01, 0.02)
SITE_WEIGHTS_M = (0.06, 0.01, 0.26, 0.18, 0.18, 0.00, 0.12, 0.10, 0.03, 0.06)
SCREENING_SITE_WEIGHTS_F = (0.05, 0.55, 0.30, 0, 0, 0.10, 0, 0, 0, 0)
SCREENING_SITE_WEIGHTS_M = (0.15, 0, 0.85, 0, 0, 0, 0, 0, 0, 0)
# Conversion to cancer by site, priority multipliers and an age gradient, scaled to ≈ 3.6 % of FDS pathways
# (urgent, breast symptomatic, screening) as the engine counts it; consultant upgrades are not FDS referrals,
# so their high conversion is set on its own (≈ 25 %) and does not count towards the 3.6 %.
SITE_CONVERSION = np.array([0.12, 0.035, 0.03, 0.05, 0.09, 0.03, 0.05, 0.025, 0.08, 0.05])
PRIORITY_CONVERSION = np.array([1.0, 0.2, 2.0, 6.4])
CONVERSION_AGE_SLOPE = 0.03  # log, per year from 60
CONVERSION_SCALE = 0.82
# Referral to being told (days): log-normal medians for ruled-out and confirmed, by site speed.
TOLD_MEDIAN_RULED_OUT = 13.5
TOLD_MEDIAN_CONFIRMED = 18.0
TOLD_SIGMA = 0.72
SITE_SPEED = np.array([1.1, 0.75, 1.25, 0.8, 1.2, 1.15, 1.1, 1.0, 1.1, 1.1])  # multiplies the median
TREATED_SHARE = 0.92  # confirmed cancers with a first definitive treatment
DTT_MEDIAN, DTT_SIGMA = 7.0, 0.8  # told → decision to treat
TREAT_MEDIAN, TREAT_SIGMA = 12.5, 0.55  # decision to treat → treatment (31-day ≈ 93 %)
# 62-day ≈ 76 % for treatments in a financial year (the engine's period); over the whole history it reads
# ≈ 0.5-1 pp higher, because the first and last months lack the long waits (left start, open pathways).
SPECIALIST_TREATMENT_SHARE = 0.3  # treated at the ICB's specialist centre

# Registrations from other routes, per adult-year (× exp(slope × (age − 60))), and their mix: set so about
# 23 % of all registrations are emergency presentations alongside the pathway cancers (§4.3).
OTHER_ROUTE_RATE_AT_60 = 0.00216
OTHER_ROUTE_AGE_SLOPE = 0.05
OTHER_ROUTE_WEIGHTS = {"emergency": 25, "gp_referral": 12, "other_outpatient": 10, "screening": 5,
                       "inpatient_elective": 3, "unknown": 2}  # fmt: skip
EMERGENCY_SITE_WEIGHTS = (0.22, 0.02, 0.18, 0.01, 0.06, 0.04, 0.14, 0.02, 0.14, 0.17)
OTHER_SITE_WEIGHTS = (0.10, 0.15, 0.14, 0.08, 0.18, 0.06, 0.07, 0.05, 0.08, 0.09)
UPGRADE_ROUTES = {"other_outpatient": 0.4, "gp_referral": 0.3, "emergency": 0.2, "inpatient_elective": 0.1}
# ICD-10 by site: (code, weight, sex restriction).
SITE_ICD10 = {
    "lung": (("C34.1", 0.5, None), ("C34.9", 0.5, None)),
    "breast": (("C50.9", 1.0, None),),
    "lower_gi": (("C18.7", 0.35, None), ("C18.9", 0.35, None), ("C20", 0.30, None)),
    "skin": (("C43.9", 1.0, None),),
    "urological": (("C61", 0.6, "M"), ("C67.9", 0.2, None), ("C64", 0.2, None)),
    "gynaecological": (("C56", 0.4, "F"), ("C54.1", 0.6, "F")),
    "upper_gi": (("C16.9", 0.3, None), ("C15.9", 0.25, None), ("C25.9", 0.3, None), ("C22.0", 0.15, None)),
    "head_and_neck": (("C32.9", 0.5, None), ("C01", 0.5, None)),
    "haematological": (("C91.1", 0.3, None), ("C85.9", 0.4, None), ("C90.0", 0.3, None)),
    "other": (("C71.9", 0.3, None), ("C73", 0.4, None), ("C80.9", 0.3, None)),
}
# Stage: probability of early stage (1-2) among staged, by route, shifted by site and deprivation.
EARLY_BY_ROUTE = {"screening": 0.82, "urgent_referral": 0.65, "gp_referral": 0.64, "other_outpatient": 0.58,
                  "inpatient_elective": 0.55, "emergency": 0.26, "unknown": 0.5}  # fmt: skip
EARLY_SITE_LOG_ODDS = np.array([-0.9, 0.9, -0.1, 1.4, 0.3, 0.1, -1.0, -0.3, 0.0, -0.3])
EARLY_DEPRIVATION = -0.2  # log-odds per step towards most deprived
UNKNOWN_STAGE_SHARE = 0.08
HAEMATOLOGICAL_UNKNOWN_STAGE_SHARE = 0.8


def generate(rng: np.random.Generator, cohort: Cohort, effects: dict[str, np.ndarray], chunk_index: int):
    """Return (cancer_pathways table, cancer_registrations table, admissions batch) for one chunk."""
    extract_day = cohort.extract_day
    window_start = extract_day - int(HISTORY_YEARS * DAYS_PER_YEAR)
    adult_from = cohort.birth + int(18 * DAYS_PER_YEAR)
    start = np.maximum.reduce([adult_from, cohort.reg_start, np.full(cohort.size, window_start)])
    age_now = cohort.age_at(extract_day)
    band = np.clip(np.searchsorted(REFERRAL_AGE_BANDS, age_now, side="right") - 1, 0, None)
    rate = REFERRAL_RATE[band] * np.exp(effects["cancer_referral"][cohort.practice])
    who, referral = poisson_dates(rng, start, cohort.end, rate)
    n = len(who)
    female = cohort.sex[who] == 0
    age = (referral - cohort.birth[who]) / DAYS_PER_YEAR

    priority = choose(rng, n, PRIORITY_WEIGHTS)
    site = np.where(female, choose(rng, n, SITE_WEIGHTS_F), choose(rng, n, SITE_WEIGHTS_M))
    screening = priority == PRIORITY_TYPES.index("screening")
    site = np.where(
        screening & female,
        choose(rng, n, SCREENING_SITE_WEIGHTS_F),
        np.where(screening, choose(rng, n, SCREENING_SITE_WEIGHTS_M), site),
    )
    site = np.where(priority == PRIORITY_TYPES.index("breast_symptomatic"), SUSPECTED_SITES.index("breast"), site)
    p_cancer = CONVERSION_SCALE * SITE_CONVERSION[site] * PRIORITY_CONVERSION[priority]
    p_cancer = np.minimum(p_cancer * np.exp(CONVERSION_AGE_SLOPE * (age - 60)), 0.7)
    cancer = rng.random(n) < p_cancer

    speed = SITE_SPEED[site] * np.exp(effects["fds_speed"][cohort.practice[who]] + 0.05 * cohort.deprivation[who])
    median = np.where(cancer, TOLD_MEDIAN_CONFIRMED, TOLD_MEDIAN_RULED_OUT) * speed
    told = referral + np.round(median * rng.lognormal(0, TOLD_SIGMA, n)).astype(np.int64)
    treated = cancer & (rng.random(n) < TREATED_SHARE)
    dtt = told + np.round(DTT_MEDIAN * rng.lognormal(0, DTT_SIGMA, n)).astype(np.int64)
    treatment = dtt + np.round(TREAT_MEDIAN * rng.lognormal(0, TREAT_SIGMA, n)).astype(np.int64)

    # Anything after the patient's last record date has not happened yet (open pathways).
    end = cohort.end[who]
    told_known = told <= end
    dtt_known = treated & told_known & (dtt <= end)
    treatment_known = dtt_known & (treatment <= end)
    outcome = np.where(cancer, 0, 1)

    trust = cohort.ref.borough_trust[cohort.residence_borough[who]]
    specialist = cohort.ref.icb_specialist_trust[cohort.ref.practice_icb[cohort.practice[who]]]
    treatment_trust = np.where(rng.random(n) < SPECIALIST_TREATMENT_SHARE, specialist, trust)
    order = np.lexsort((referral, who))
    pathway_ids = hex_ids("W", mix40((np.int64(chunk_index) << 24) + np.arange(n), 0x9E3779B97F, 0x5DEECE66D))
    pathways = pa.table(
        {
            "pathway_id": pathway_ids,
            "patient_id": pa.array(who),
            "referral_date": dates(referral),
            "priority_type": strings(PRIORITY_TYPES, priority),
            "suspected_site": strings(SUSPECTED_SITES, site),
            "provider_code": strings(cohort.ref.trusts, trust),
            "diagnosis_told_date": dates(told, ~told_known),
            "diagnosis_outcome": strings(("cancer_confirmed", "cancer_ruled_out"), outcome, ~told_known),
            "decision_to_treat_date": dates(dtt, ~dtt_known),
            "treatment_start_date": dates(treatment, ~treatment_known),
            "treatment_provider_code": strings(cohort.ref.trusts, treatment_trust, ~treatment_known),
        }
    ).take(pa.array(order))

    # Registrations: confirmed pathway cancers ...
    confirmed = cancer & told_known
    reg_patient = [who[confirmed]]
    reg_day = [np.maximum(told[confirmed] - rng.integers(0, 8, confirmed.sum()), referral[confirmed])]
    reg_site = [site[confirmed]]
    pathway_route = np.where(screening[confirmed], ROUTES.index("screening"), ROUTES.index("urgent_referral"))
    upgrade = priority[confirmed] == PRIORITY_TYPES.index("consultant_upgrade")
    upgrade_route = np.array([ROUTES.index(r) for r in UPGRADE_ROUTES])[
        choose(rng, confirmed.sum(), list(UPGRADE_ROUTES.values()))
    ]
    reg_route = [np.where(upgrade, upgrade_route, pathway_route)]

    # ... plus cancers found by other routes.
    adult_start = np.maximum(adult_from, window_start)
    other_rate = OTHER_ROUTE_RATE_AT_60 * np.exp(OTHER_ROUTE_AGE_SLOPE * (age_now - 60))
    other_who, other_day = poisson_dates(rng, adult_start, cohort.end, other_rate)
    m = len(other_who)
    route_names = list(OTHER_ROUTE_WEIGHTS)
    # Emergency presentation is commoner in deprived areas.
    dep = cohort.deprivation[other_who]
    base = np.array([OTHER_ROUTE_WEIGHTS[r] for r in route_names], dtype=np.float64)
    emergency_weight = base[0] * np.exp(0.25 * dep)
    total = emergency_weight + base[1:].sum()
    is_emergency = rng.random(m) < emergency_weight / total
    rest = np.array([ROUTES.index(r) for r in route_names[1:]])[choose(rng, m, base[1:])]
    other_route = np.where(is_emergency, ROUTES.index("emergency"), rest)
    other_female = cohort.sex[other_who] == 0
    other_site = np.where(
        is_emergency,
        np.where(
            other_female, choose(rng, m, EMERGENCY_SITE_WEIGHTS), choose(rng, m, _not_gynae(EMERGENCY_SITE_WEIGHTS))
        ),
        np.where(other_female, choose(rng, m, OTHER_SITE_WEIGHTS), choose(rng, m, _not_gynae(OTHER_SITE_WEIGHTS))),
    )
    scr = other_route == ROUTES.index("screening")
    other_site = np.where(
        scr,
        np.where(other_female, choose(rng, m, SCREENING_SITE_WEIGHTS_F), choose(rng, m, SCREENING_SITE_WEIGHTS_M)),
        other_site,
    )
    reg_patient.append(other_who)
    reg_day.append(other_day)
    reg_site.append(other_site)
    reg_route.append(other_route)

    patient = np.concatenate(reg_patient)
    day = np.concatenate(reg_day)
    site_all = np.concatenate(reg_site)
    route = np.concatenate(reg_route)
    female_all = cohort.sex[patient] == 0
    icd = _icd10(rng, site_all, female_all)
    stage = _stage(rng, route, site_all, cohort.deprivation[patient])
    order = np.lexsort((day, patient))
    registrations = pa.table(
        {
            "patient_id": pa.array(patient),
            "diagnosis_date": dates(day),
            "icd10_code": strings(hospital.DIAGNOSES, icd),
            "stage": strings(STAGES, stage),
            "route": strings(ROUTES, route),
        }
    ).take(pa.array(order))

    emergency = route == ROUTES.index("emergency")
    admissions = hospital.admission_rows(
        patient[emergency],
        day[emergency],
        np.full(emergency.sum(), hospital.ADMISSION_METHODS.index("21")),
        icd[emergency],
        stay_days=1 + rng.geometric(0.12, emergency.sum()),
        last_day=cohort.end[patient[emergency]],
        extract_day=extract_day,
    )
    return pathways, registrations, admissions


def _not_gynae(weights) -> tuple[float, ...]:
    """Site weights with gynaecological cancers removed (for patients not recorded as female)."""
    gynae = SUSPECTED_SITES.index("gynaecological")
    return tuple(0.0 if i == gynae else w for i, w in enumerate(weights))


def _icd10(rng: np.random.Generator, site: np.ndarray, female: np.ndarray) -> np.ndarray:
    """An ICD-10 code (index into hospital.DIAGNOSES) consistent with site and sex."""
    out = np.empty(len(site), dtype=np.int64)
    for s, name in enumerate(SUSPECTED_SITES):
        for is_female in (False, True):
            members = np.flatnonzero((site == s) & (female == is_female))
            if not len(members):
                continue
            options = [(c, w) for c, w, sex in SITE_ICD10[name] if sex is None or (sex == "F") == is_female]
            picked = choose(rng, len(members), [w for _, w in options])
            out[members] = np.array([hospital.DIAGNOSES.index(c) for c, _ in options])[picked]
    return out


def _stage(rng: np.random.Generator, route: np.ndarray, site: np.ndarray, deprivation: np.ndarray) -> np.ndarray:
    """Stage index into STAGES: early/late from route, site and deprivation; some unknown."""
    early_p = np.array([EARLY_BY_ROUTE[r] for r in ROUTES])[route]
    log_odds = np.log(early_p / (1 - early_p)) + EARLY_SITE_LOG_ODDS[site] + EARLY_DEPRIVATION * deprivation
    early = rng.random(len(route)) < logistic(log_odds)
    first_of_pair = rng.random(len(route)) < np.where(early, 0.55, 0.45)
    stage = np.where(early, np.where(first_of_pair, 0, 1), np.where(first_of_pair, 2, 3))
    haem = site == SUSPECTED_SITES.index("haematological")
    unknown = rng.random(len(route)) < np.where(haem, HAEMATOLOGICAL_UNKNOWN_STAGE_SHARE, UNKNOWN_STAGE_SHARE)
    return np.where(unknown, STAGES.index("unknown"), stage)
