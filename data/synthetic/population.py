"""Reference data and the synthetic registered population (the ``patients`` table).

Patients are drawn practice by practice from each real practice's list size and age profile;
residence, ethnicity and deprivation come from the LSOAs around the practice. See data/README.md
for every parameter and its source.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from data.synthetic._common import DAYS_PER_YEAR, choose, choose_rows, years_to_days

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"

MAX_AGE = 104  # single years 0..MAX_AGE; the ONS profile stops at 89, so 90+ is a geometric tail
OLD_AGE_TAIL_RATIO = 0.80  # each year past 89 keeps 80 % of the year before (ONS 90+ ≈ 3.5 × age 89)

NEIGHBOUR_LSOAS = 40  # residence drawn among the nearest LSOA label points to the practice
DISTANCE_DECAY_M = 1500.0  # weight = population × exp(-distance / 1.5 km)
NULL_LSOA_SHARE = 0.01  # no fixed abode / address not geocoded

NOT_STATED_SHARE = 0.05  # ethnicity recorded as Z "not stated"
NOT_RECORDED_SHARE = 0.03  # ethnicity null
SEX_UNKNOWN_SHARE = 0.002

# Broad ethnic groups in lsoa21.csv order, and the detailed NHS letters inside each, with London
# Census 2021 (TS021) shares within the group. Chinese is Asian in the Census but 'R' in the NHS
# 16+1 category, so part of the Asian share becomes R.
ETHNIC_GROUPS = ("White", "Mixed", "Asian", "Black", "Other")
ETHNIC_SHARE_COLUMNS = ("eth_white", "eth_mixed", "eth_asian", "eth_black", "eth_other")
ETHNIC_LETTERS = (
    (("A", 0.684), ("B", 0.033), ("C", 0.283)),
    (("D", 0.26), ("E", 0.14), ("F", 0.21), ("G", 0.39)),
    (("H", 0.36), ("J", 0.16), ("K", 0.18), ("L", 0.22), ("R", 0.08)),
    (("M", 0.29), ("N", 0.58), ("P", 0.13)),
    (("S", 1.0),),
)
# Letter vocabulary used inside the generator: index 0..15 = letters, 16 = Z, 17 = null.
LETTERS = tuple("ABCDEFGHJKLMNPRS") + ("Z",)
LETTER_Z = 16
LETTER_NULL = 17
# Broad group of each letter index (5 = not stated / not recorded).
LETTER_GROUP = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 4, 5, 5])

# Registration turnover. Leavers and deaths in the last LEAVER_WINDOW_YEARS stay in the extract with
# registration_end / death_date set. Joiners (time since registration ~ exponential, capped by registration
# at birth) must balance leavers and deaths, or every trend inherits a growing list: with 4 % leaving and a
# mean of 8 years the list grew ~8 % a year and hypertension prevalence rose 0.5 pp a year by artefact.
# 6 % and 12 years keep the list growing ~1 % a year, about London's registered-list growth.
LEAVER_WINDOW_YEARS = 3.0
LEAVING_RATE_PER_YEAR = 0.06
MEAN_REGISTRATION_YEARS = 12.0
NEWBORN_REGISTRATION_MEDIAN_DAYS = 21.0  # babies registered a few weeks after birth


def annual_mortality(age: np.ndarray) -> np.ndarray:
    """Gompertz annual death probability (≈ England life tables: 0.3 % at 50, 5 % at 80, 15 % at 90)."""
    return np.minimum(np.exp(-10.5 + 0.095 * np.asarray(age, dtype=np.float64)), 0.5)


def female_share(age: np.ndarray) -> np.ndarray:
    """Share female by age: 48.8 % in children, 50 % adults, rising past 65 to ~65 % at 95."""
    age = np.asarray(age, dtype=np.float64)
    return np.where(age < 18, 0.488, 0.50 + 0.15 * np.clip((age - 65) / 30, 0, 1))


@dataclass(frozen=True)
class Reference:
    """Reference tables, indexed arrays derived from them, and lookups used by every module."""

    practices: pd.DataFrame
    lsoas: pd.DataFrame
    age_weights: np.ndarray  # (practices, MAX_AGE + 1), rows sum to 1
    neighbour_lsoa: np.ndarray  # (practices, NEIGHBOUR_LSOAS) LSOA row indices
    neighbour_cdf: np.ndarray  # (practices, NEIGHBOUR_LSOAS) cumulative weights
    practice_borough: np.ndarray  # borough index per practice
    practice_icb: np.ndarray  # ICB index per practice
    lsoa_borough: np.ndarray  # borough index per LSOA
    boroughs: tuple[str, ...]
    borough_trust: np.ndarray  # trust index per borough
    icb_specialist_trust: np.ndarray  # trust index per ICB
    trusts: tuple[str, ...]
    london_ethnic_shares: np.ndarray


def london_age_profile() -> np.ndarray:
    """London's single-year age shares 0..MAX_AGE (ONS mid-2020) with a geometric 90+ tail."""
    profile = pd.read_csv(REFERENCE_DIR / "london_age_profile_mid2020.csv").sort_values("age")
    counts = np.zeros(MAX_AGE + 1)
    counts[: len(profile)] = profile["population"].to_numpy(dtype=np.float64)
    last = len(profile) - 1
    counts[last + 1 :] = counts[last] * OLD_AGE_TAIL_RATIO ** np.arange(1, MAX_AGE - last + 1)
    return counts / counts.sum()


def practice_age_weights(practices: pd.DataFrame, profile: np.ndarray) -> np.ndarray:
    """Reshape London's age profile to each practice's under-5 / 5-19 / 20-64 / 65+ shares."""
    ages = np.arange(MAX_AGE + 1)
    bands = np.select([ages < 5, ages < 20, ages < 65], [0, 1, 2], 3)
    band_totals = np.bincount(bands, weights=profile, minlength=4)
    within_band = profile / band_totals[bands]
    pct = practices[["pct_under_5", "pct_5_19", "pct_over_65"]].to_numpy(dtype=np.float64) / 100
    shares = np.column_stack([pct[:, 0], pct[:, 1], np.clip(1 - pct.sum(axis=1), 0, 1), pct[:, 2]])
    weights = shares[:, bands] * within_band[None, :]
    return weights / weights.sum(axis=1, keepdims=True)


@cache
def load_reference() -> Reference:
    """Read data/reference/*.csv once and derive the sampling tables."""
    practices = pd.read_csv(REFERENCE_DIR / "practices.csv", dtype={"pcn_code": "string"})
    lsoas = pd.read_csv(REFERENCE_DIR / "lsoa21.csv")
    boroughs = pd.read_csv(REFERENCE_DIR / "boroughs.csv")
    icbs = pd.read_csv(REFERENCE_DIR / "icbs.csv")
    trusts_by_borough = pd.read_csv(REFERENCE_DIR / "trusts.csv")
    specialist = pd.read_csv(REFERENCE_DIR / "specialist_cancer_trusts.csv")

    borough_codes = tuple(boroughs["borough_code"])
    borough_index = {code: i for i, code in enumerate(borough_codes)}
    icb_index = {code: i for i, code in enumerate(icbs["icb_code"])}
    trusts = tuple(sorted(set(trusts_by_borough["trust_code"]) | set(specialist["trust_code"])))
    trust_index = {code: i for i, code in enumerate(trusts)}
    borough_trust = np.array(
        [trust_index[trusts_by_borough.set_index("borough_code").loc[[b], "trust_code"].iloc[0]] for b in borough_codes]
    )
    icb_specialist = np.array(
        [trust_index[specialist.set_index("icb_code").loc[[c], "trust_code"].iloc[0]] for c in icbs["icb_code"]]
    )

    tree = cKDTree(lsoas[["easting", "northing"]].to_numpy())
    distance, neighbour = tree.query(practices[["easting", "northing"]].to_numpy(), k=NEIGHBOUR_LSOAS)
    weight = lsoas["population"].to_numpy(dtype=np.float64)[neighbour] * np.exp(-distance / DISTANCE_DECAY_M)
    cdf = np.cumsum(weight, axis=1)
    cdf /= cdf[:, -1:]

    shares = lsoas[list(ETHNIC_SHARE_COLUMNS)].to_numpy(dtype=np.float64)
    london_shares = (shares * lsoas["population"].to_numpy()[:, None]).sum(axis=0)

    return Reference(
        practices=practices,
        lsoas=lsoas,
        age_weights=practice_age_weights(practices, london_age_profile()),
        neighbour_lsoa=neighbour,
        neighbour_cdf=cdf,
        practice_borough=practices["borough_code"].map(borough_index).to_numpy(),
        practice_icb=practices["icb_code"].map(icb_index).to_numpy(),
        lsoa_borough=lsoas["borough_code"].map(borough_index).to_numpy(),
        boroughs=borough_codes,
        borough_trust=borough_trust,
        icb_specialist_trust=icb_specialist,
        trusts=trusts,
        london_ethnic_shares=london_shares / london_shares.sum(),
    )


def expected_gone_share(age_weights: np.ndarray) -> np.ndarray:
    """Per practice, the expected share of generated patients who died or left in the window."""
    ages = np.arange(age_weights.shape[1])
    p_gone = np.minimum(annual_mortality(ages) * LEAVER_WINDOW_YEARS + LEAVING_RATE_PER_YEAR * LEAVER_WINDOW_YEARS, 0.9)
    return age_weights @ p_gone


def patients_per_practice(rng: np.random.Generator, ref: Reference, scale: float) -> np.ndarray:
    """Patients generated per practice: the current list (list_size × scale, stochastically
    rounded) inflated so that, after deaths and leavers, the current registered count matches."""
    current = ref.practices["list_size"].to_numpy(dtype=np.float64) * scale
    return np.floor(current / (1 - expected_gone_share(ref.age_weights)) + rng.random(len(current))).astype(np.int64)


@dataclass
class Cohort:
    """One chunk's patients as parallel arrays (index = local patient number)."""

    practice: np.ndarray  # practice row index
    birth: np.ndarray  # day number
    sex: np.ndarray  # 0 F, 1 M, 2 U
    letter: np.ndarray  # index into LETTERS, LETTER_NULL for null
    lsoa: np.ndarray  # LSOA row index, -1 for null
    reg_start: np.ndarray
    reg_end: np.ndarray  # -1 for still registered
    death: np.ndarray  # -1 for alive
    end: np.ndarray  # last day records can carry: extract date, leaving date or death
    extract_day: int
    ref: Reference

    @property
    def size(self) -> int:
        return len(self.birth)

    @property
    def group(self) -> np.ndarray:
        """Broad ethnic group index (0 White, 1 Mixed, 2 Asian, 3 Black, 4 Other, 5 unknown)."""
        return LETTER_GROUP[self.letter]

    @property
    def imd_quintile(self) -> np.ndarray:
        """IMD 2025 national quintile (1 most deprived); 3 where residence is unknown."""
        q = self.ref.lsoas["imd2025_quintile_national"].to_numpy()
        return np.where(self.lsoa >= 0, q[np.maximum(self.lsoa, 0)], 3)

    @property
    def deprivation(self) -> np.ndarray:
        """+1 for the most deprived national quintile to -1 for the least (0 if unknown)."""
        return (3 - self.imd_quintile) / 2.0

    @property
    def residence_borough(self) -> np.ndarray:
        """Borough of residence, or of the practice where the LSOA is unknown."""
        return np.where(
            self.lsoa >= 0, self.ref.lsoa_borough[np.maximum(self.lsoa, 0)], self.ref.practice_borough[self.practice]
        )

    def age_at(self, day) -> np.ndarray:
        """Age in (fractional) years on a day number (scalar or per patient)."""
        return (np.asarray(day) - self.birth) / DAYS_PER_YEAR

    @property
    def current(self) -> np.ndarray:
        """Registered and alive on the extract date."""
        return self.reg_end < 0


def draw_cohort(
    rng: np.random.Generator, ref: Reference, practice_rows: np.ndarray, counts: np.ndarray, extract_day: int
) -> Cohort:
    """Draw every patient of the given practices (counts[i] for practice_rows[i])."""
    n_ages = ref.age_weights.shape[1]
    age_counts = rng.multinomial(counts, ref.age_weights[practice_rows])
    practice = np.repeat(practice_rows, counts)
    age = np.repeat(np.tile(np.arange(n_ages), len(practice_rows)), age_counts.ravel())
    n = len(age)
    birth = extract_day - years_to_days(age + rng.random(n))

    # Who died or left during the window (kept in the extract), and when.
    window_start = extract_day - int(LEAVER_WINDOW_YEARS * DAYS_PER_YEAR)
    u = rng.random(n)
    p_dead = np.minimum(annual_mortality(age) * LEAVER_WINDOW_YEARS, 0.9)
    dead = u < p_dead
    left = ~dead & (u < p_dead + LEAVING_RATE_PER_YEAR * LEAVER_WINDOW_YEARS)
    gone = dead | left
    lo = np.maximum(birth, window_start)
    gone_day = lo + np.floor(rng.random(n) * (extract_day - lo + 1)).astype(np.int64)
    end = np.where(gone, gone_day, extract_day)

    # Registration: time since registering ~ exponential; babies register a few weeks after birth.
    newborn_lag = np.round(NEWBORN_REGISTRATION_MEDIAN_DAYS * rng.lognormal(0, 0.5, n)).astype(np.int64)
    since = years_to_days(rng.exponential(MEAN_REGISTRATION_YEARS, n))
    reg_start = np.minimum(np.maximum(end - since, birth + newborn_lag), end)
    reg_end = np.where(gone, end, -1)
    death = np.where(dead, end, -1)

    p_female = female_share(age)
    u = rng.random(n)
    sex = np.where(u < SEX_UNKNOWN_SHARE, 2, np.where(u < SEX_UNKNOWN_SHARE + (1 - SEX_UNKNOWN_SHARE) * p_female, 0, 1))

    # Residence near the practice; 1 % unknown.
    local = np.repeat(np.arange(len(practice_rows)), counts)
    slot = choose_rows(rng, ref.neighbour_cdf[practice_rows][local])
    lsoa = ref.neighbour_lsoa[practice, slot]
    lsoa = np.where(rng.random(n) < NULL_LSOA_SHARE, -1, lsoa)

    letter = draw_ethnicity(rng, ref, lsoa)
    return Cohort(practice, birth, sex, letter, lsoa, reg_start, reg_end, death, end, extract_day, ref)


def draw_ethnicity(rng: np.random.Generator, ref: Reference, lsoa: np.ndarray) -> np.ndarray:
    """Broad group from the residence LSOA's Census shares, then a detailed letter within it."""
    shares = ref.lsoas[list(ETHNIC_SHARE_COLUMNS)].to_numpy(dtype=np.float64)
    rows = np.where(lsoa[:, None] >= 0, shares[np.maximum(lsoa, 0)], ref.london_ethnic_shares[None, :])
    cdf = np.cumsum(rows, axis=1)
    cdf /= cdf[:, -1:]
    group = choose_rows(rng, cdf)
    letter = np.empty(len(lsoa), dtype=np.int64)
    for g, letters in enumerate(ETHNIC_LETTERS):  # five groups, not a per-patient loop
        members = np.flatnonzero(group == g)
        picked = choose(rng, len(members), [share for _, share in letters])
        codes = np.array([LETTERS.index(code) for code, _ in letters])
        letter[members] = codes[picked]
    u = rng.random(len(lsoa))
    letter = np.where(u < NOT_STATED_SHARE, LETTER_Z, letter)
    return np.where((u >= NOT_STATED_SHARE) & (u < NOT_STATED_SHARE + NOT_RECORDED_SHARE), LETTER_NULL, letter)
