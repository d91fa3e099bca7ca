"""The analyst pandas baseline: each benchmarked indicator derived in pandas from the extract's tables in memory.

What an analyst without the engine does for one dashboard call: take the linked extract's patient-level
tables (already loaded), apply the indicator's rule for the period, then filter, group and sum. The rules
are those of :mod:`queries.materialise` (registered and alive on the period end, QOF registers, latest
same-day BP, SABA/ICS issues, reviews, admissions, CWT clock stops, tumours, COVER and campaign cohorts),
written in pandas; every indicator of the registry has one (a unit test holds that). The
bench checks numerator and denominator of every group against the engine, so a derivation that drifts
from the engine's rule fails the run instead of being timed.

Loading (:func:`load`) is not part of a call and is timed separately. It does what a careful analyst does
once per session and what makes every later pandas call faster, so the speed-ups stay on the low side:
patient ids factorised to integers (rows whose patient is not in ``patient_dim`` are dropped at load;
every rule joins to it anyway), dimension and code columns held as categoricals, clinical events limited
to the codelists these indicators use (hospital episodes to emergency asthma admissions), and children
limited to the birth years of any COVER or campaign cohort.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from data import codelists
from data.schema import EMERGENCY_ADMISSION_METHODS
from queries.materialise import AST012_DIAGNOSED_FROM, COVER_MEASURES, EXPECTED_HYPERTENSION_RATE

DIMENSION_COLUMNS = ["practice_code", "borough_code", "imd_quintile_national", "sex", "ethnicity_group"]

COVER_IDS = frozenset(measure.indicator_id for measure in COVER_MEASURES)
POLIO_ID = "polio_booster_1_9"
POLIO_VACCINES = ("6in1", "4in1", "IPV")  # polio-containing, as the engine's campaign rule counts them
HYPERTENSION_IDS = frozenset(
    {"hyp_prevalence", "hyp008", "hyp009", "hyp_bp_recorded_12m", "hyp_detection_ratio", "hyp_possible_undiagnosed"}
)
SABA_THRESHOLDS = {"ast_saba_3plus": 3, "ast_saba_6plus": 6, "ast_saba_12plus": 12}
ASTHMA_IDS = frozenset(
    {
        "ast_prevalence",
        "ast_saba_no_ics",
        "ast_review_12m",
        "ast_action_plan",
        "ast_objective_test",
        "ast_emergency_admissions",
        *SABA_THRESHOLDS,
    }
)
# CWT standards: (clock-stop date, clock-start date, days allowed, priority types counted or None for any).
_CWT_PRIORITIES = ("urgent_suspected_cancer", "breast_symptomatic", "screening")
PATHWAY_RULES = {
    "cwt_fds_28d": ("diagnosis_told_date", "referral_date", 28, _CWT_PRIORITIES),
    "cwt_31d": ("treatment_start_date", "decision_to_treat_date", 31, None),
    "cwt_62d": ("treatment_start_date", "referral_date", 62, (*_CWT_PRIORITIES, "consultant_upgrade")),
}
PATHWAY_IDS = frozenset({*PATHWAY_RULES, "cancer_conversion_rate"})
TUMOUR_IDS = frozenset({"cancer_early_stage", "cancer_emergency_route"})
CANCER_IDS = PATHWAY_IDS | TUMOUR_IDS
SUPPORTED = COVER_IDS | {POLIO_ID} | HYPERTENSION_IDS | ASTHMA_IDS | CANCER_IDS

# Blood-pressure codelists: (reading kind, setting), as materialise reads them from the codelist names.
_BP_LISTS = {
    "systolic_bp_clinic": ("systolic", "clinic"),
    "diastolic_bp_clinic": ("diastolic", "clinic"),
    "systolic_bp_home": ("systolic", "home"),
    "diastolic_bp_home": ("diastolic", "home"),
}
_EVENT_LISTS = (
    "hyp_cod",
    "hypres_cod",
    "ast_cod",
    "astres_cod",
    "rev_cod",
    "writpastp_cod",
    "asthma_objective_test",
    *_BP_LISTS,
)

# Patient ids as integers, one per patient_dim row (a temporary table of the read-only connection).
_IDS_SQL = (
    "CREATE OR REPLACE TEMP TABLE _bench_ids AS "
    "SELECT patient_id, CAST(row_number() OVER (ORDER BY patient_id) AS INTEGER) AS pid FROM patient_dim"
)


def _codes(name: str) -> list[str]:
    return list(codelists.codes(name))


_TABLES = ("patients", "immunisations", "events", "medications", "admissions", "pathways", "tumours")


@dataclass
class Extract:
    """The extract's tables as an analyst holds them in memory (see the module docstring)."""

    patients: pd.DataFrame | None = None
    dimensions: pd.DataFrame | None = None  # patients' dimension columns indexed by pid, for units to join to
    children: pd.DataFrame | None = None
    immunisations: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    medications: pd.DataFrame | None = None
    admissions: pd.DataFrame | None = None
    pathways: pd.DataFrame | None = None
    tumours: pd.DataFrame | None = None
    load_seconds: float = 0.0
    load_cpu_seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)

    def memory_mib(self) -> float:
        frames = [getattr(self, name) for name in _TABLES]
        return sum(frame.memory_usage(deep=True).sum() for frame in frames if frame is not None) / 2**20


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> pd.DataFrame:
    frame = con.execute(sql, params or {}).df()
    for column in frame.columns:
        if column in DIMENSION_COLUMNS or column in ("vaccine", "snomed_code", "dmd_code", "priority_type"):
            frame[column] = frame[column].astype("category")
    return frame


def load(con: duckdb.DuckDBPyConnection, indicator_ids: set[str]) -> Extract:
    """The tables the chosen indicators need, read once from the database (not part of any timed call)."""
    started, started_cpu = time.perf_counter(), time.process_time()
    extract = Extract()
    con.execute(_IDS_SQL)
    dims = ", ".join(f"d.{column}" for column in DIMENSION_COLUMNS)
    extract.patients = _frame(
        con,
        f"SELECT i.pid, d.birth_date, d.registration_start, d.registration_end, d.death_date, {dims} "  # noqa: S608 (fixed columns)
        "FROM patient_dim AS d JOIN _bench_ids AS i USING (patient_id) ORDER BY i.pid",
    )
    extract.dimensions = extract.patients.set_index("pid")[DIMENSION_COLUMNS]
    births = []  # the earliest birth date each chosen rule can count, as SQL (the engine's own bounds)
    if indicator_ids & COVER_IDS:
        births.append(
            "(SELECT min(start_date) FROM ind_period WHERE period_type IN ('quarter', 'fy')) - INTERVAL 61 MONTH"
        )
    if POLIO_ID in indicator_ids:  # aged 1-9 on the campaign's first day
        births.append("(SELECT min(start_date) FROM ind_period WHERE period_type = 'campaign') - INTERVAL 10 YEAR")
    if births:
        # Children young enough for some chosen cohort, and their immunisations.
        born_from = f"least({', '.join(births)})"
        first_birth = con.execute(f"SELECT {born_from}").fetchone()[0]  # noqa: S608 (fixed SQL)
        extract.children = extract.patients[extract.patients["birth_date"] >= pd.Timestamp(first_birth)]
        extract.immunisations = _frame(
            con,
            "SELECT i.pid, m.vaccine, m.vaccination_date FROM immunisations AS m "  # noqa: S608 (fixed SQL)
            f"JOIN _bench_ids AS i USING (patient_id) JOIN patient_dim AS d USING (patient_id) "
            f"WHERE d.birth_date >= {born_from}",
        )
    if indicator_ids & (HYPERTENSION_IDS | ASTHMA_IDS):
        codes = sorted({code for name in _EVENT_LISTS for code in _codes(name)})
        extract.events = _frame(
            con,
            "SELECT i.pid, e.event_date, e.snomed_code, e.value FROM clinical_events AS e "
            "JOIN _bench_ids AS i USING (patient_id) WHERE list_contains($codes, e.snomed_code)",
            {"codes": codes},
        )
    if indicator_ids & ASTHMA_IDS:
        extract.medications = _frame(
            con,
            "SELECT i.pid, m.issue_date, m.dmd_code, m.quantity FROM medications AS m "
            "JOIN _bench_ids AS i USING (patient_id)",
        )
    if "ast_emergency_admissions" in indicator_ids:
        # Emergency admissions with an asthma diagnosis only (ICD-10 category, dot ignored), as events are
        # limited to the codelists used.
        extract.admissions = _frame(
            con,
            "SELECT i.pid, h.admission_date FROM hospital_episodes AS h JOIN _bench_ids AS i USING (patient_id) "
            "WHERE list_contains($methods, h.admission_method) "
            "AND list_contains($categories, left(replace(h.primary_diagnosis, '.', ''), 3))",
            {
                "methods": sorted(EMERGENCY_ADMISSION_METHODS),
                "categories": sorted({code.replace(".", "")[:3] for code in _codes("asthma_admission")}),
            },
        )
    if indicator_ids & PATHWAY_IDS:
        extract.pathways = _frame(
            con,
            "SELECT i.pid, c.pathway_id, c.referral_date, c.priority_type, c.diagnosis_told_date, "
            "c.diagnosis_outcome, c.decision_to_treat_date, c.treatment_start_date "
            "FROM cancer_pathways AS c JOIN _bench_ids AS i USING (patient_id)",
        )
    if indicator_ids & TUMOUR_IDS:
        extract.tumours = _frame(
            con,
            "SELECT i.pid, r.diagnosis_date, r.icd10_code, r.stage, r.route "
            "FROM cancer_registrations AS r JOIN _bench_ids AS i USING (patient_id)",
        )
    con.execute("DROP TABLE IF EXISTS _bench_ids")
    extract.load_seconds = time.perf_counter() - started
    extract.load_cpu_seconds = time.process_time() - started_cpu
    extract.rows = {name: len(frame) for name in _TABLES if (frame := getattr(extract, name)) is not None}
    return extract


def derive(extract: Extract, indicator_id: str, period: tuple) -> pd.DataFrame:
    """The units of ``indicator_id`` in ``period`` ((type, start, end, label)): dimensions, numerator, denominator."""
    _type, start, end, _label = period
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if indicator_id in COVER_IDS:
        return _cover(extract, indicator_id, start, end)
    if indicator_id == POLIO_ID:
        return _polio_booster(extract, start, end)
    if indicator_id in HYPERTENSION_IDS:
        return _hypertension(extract, indicator_id, start, end)
    if indicator_id in ASTHMA_IDS:
        return _asthma(extract, indicator_id, start, end)
    if indicator_id in PATHWAY_IDS:
        return _pathway(extract, indicator_id, start, end)
    if indicator_id in TUMOUR_IDS:
        return _tumour(extract, indicator_id, start, end)
    raise KeyError(f"no analyst derivation for {indicator_id}")


def _units(rows: pd.DataFrame, numerator, denominator=1.0) -> pd.DataFrame:
    """Dimension columns of ``rows`` with a numerator (0/1) and a denominator (1 per unit unless given)."""
    units = rows[DIMENSION_COLUMNS].copy()
    units["numerator"] = np.asarray(numerator, dtype=float)
    units["denominator"] = np.asarray(denominator, dtype=float) if np.ndim(denominator) else float(denominator)
    return units


def _age_on(birth: pd.Series, day: pd.Timestamp) -> np.ndarray:
    """Completed years on ``day``, the Nth birthday being ``birth + N years`` (29 Feb -> 28 Feb in common years)."""
    month, day_of_month = birth.dt.month.to_numpy(), birth.dt.day.to_numpy()
    if not calendar.isleap(day.year):
        day_of_month = np.where((month == 2) & (day_of_month == 29), 28, day_of_month)
    before_birthday = month * 100 + day_of_month > day.month * 100 + day.day
    return day.year - birth.dt.year.to_numpy() - before_birthday


def _registered_alive(patients: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """Patients registered, alive and born on ``day`` (the QOF population of a period ending then)."""
    end = patients["registration_end"]
    death = patients["death_date"]
    keep = (
        (patients["registration_start"] <= day)
        & (end.isna() | (end > day))
        & (death.isna() | (death > day))
        & (patients["birth_date"] <= day)
    )
    return patients[keep]


def _register(events: pd.DataFrame, diagnosis: str, resolved: str, end: pd.Timestamp) -> pd.Series:
    """QOF register on ``end``: first diagnosis date by patient, for a latest diagnosis not followed by a resolution."""
    diagnosis_codes, resolved_codes = _codes(diagnosis), _codes(resolved)
    coded = events[events["snomed_code"].isin(diagnosis_codes + resolved_codes)]
    coded = coded[coded["event_date"] <= end]
    diagnosed = coded[coded["snomed_code"].isin(diagnosis_codes)].groupby("pid")["event_date"].agg(["min", "max"])
    last_resolved = coded[coded["snomed_code"].isin(resolved_codes)].groupby("pid")["event_date"].max()
    diagnosed["last_resolved"] = last_resolved.reindex(diagnosed.index)
    keep = diagnosed["last_resolved"].isna() | (diagnosed["last_resolved"] <= diagnosed["max"])
    return diagnosed.loc[keep, "min"].rename("first_diagnosis")


def _bp_days(events: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Same-day BP readings from ``start`` to ``end``: per patient, day and setting the lowest systolic and
    the lowest diastolic, where both were recorded."""
    window = events[(events["event_date"] >= start) & (events["event_date"] <= end) & events["value"].notna()]
    kinds = {code: kind for name, (kind, _setting) in _BP_LISTS.items() for code in _codes(name)}
    clinic = {code: setting == "clinic" for name, (_kind, setting) in _BP_LISTS.items() for code in _codes(name)}
    window = window[window["snomed_code"].isin(list(kinds))]
    # Mapping a categorical maps its few categories, not every row.
    readings = pd.DataFrame(
        {
            "pid": window["pid"].to_numpy(),
            "event_date": window["event_date"].to_numpy(),
            "clinic": window["snomed_code"].map(clinic).astype(bool).to_numpy(),
            "kind": window["snomed_code"].map(kinds).to_numpy(),
            "value": window["value"].to_numpy(),
        }
    )
    per_day = readings.groupby(["pid", "event_date", "clinic", "kind"])["value"].min().unstack("kind")
    return per_day.dropna(subset=["systolic", "diastolic"]).reset_index()


def _latest_bp(events: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Latest same-day BP in the period per patient (lowest of each reading that day; clinic before home)."""
    per_day = _bp_days(events, start, end)
    latest = per_day.sort_values(["pid", "event_date", "clinic"]).drop_duplicates("pid", keep="last")
    return latest.set_index("pid")[["event_date", "clinic", "systolic", "diastolic"]]


def _expected_rate(age: np.ndarray, sex: pd.Series) -> np.ndarray:
    """The expected hypertension prevalence of each age and sex (0 under the first band), as the engine reads it."""
    rates = pd.DataFrame(EXPECTED_HYPERTENSION_RATE, columns=["age_from", "sex", "rate"])
    starts = np.sort(rates["age_from"].unique())
    band = np.searchsorted(starts, age, side="right") - 1
    by_band_and_sex = rates.set_index(["age_from", "sex"])["rate"]
    keys = pd.MultiIndex.from_arrays([starts[np.maximum(band, 0)], sex.astype(str).to_numpy()])
    return np.where(band >= 0, by_band_and_sex.reindex(keys).to_numpy(), 0.0)


def _hypertension_whole_list(
    extract: Extract, indicator_id: str, population: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """The detection ratio (adults on the register over the expected number) and possible undiagnosed
    hypertension (adults with a raised same-day reading more than 3 months before the end and no
    hypertension code at all), over every registered patient."""
    events = extract.events
    age = _age_on(population["birth_date"], end)
    adult = age >= 18
    if indicator_id == "hyp_detection_ratio":
        on_register = population["pid"].isin(_register(events, "hyp_cod", "hypres_cod", end).index).to_numpy()
        return _units(population, adult & on_register, _expected_rate(age, population["sex"]))
    coded_codes = _codes("hyp_cod") + _codes("hypres_cod")
    coded = events.loc[events["snomed_code"].isin(coded_codes) & (events["event_date"] <= end), "pid"]
    days = _bp_days(events, start, end - pd.DateOffset(months=3) - pd.Timedelta(days=1))
    raised = days.loc[(days["systolic"] >= 140) & (days["diastolic"] >= 90), "pid"]
    pid = population["pid"]
    uncoded_raised = adult & pid.isin(raised).to_numpy() & ~pid.isin(coded).to_numpy()
    return _units(population, uncoded_raised, adult)


def _hypertension(extract: Extract, indicator_id: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    population = _registered_alive(extract.patients, end)
    if indicator_id in ("hyp_detection_ratio", "hyp_possible_undiagnosed"):
        return _hypertension_whole_list(extract, indicator_id, population, start, end)
    register = _register(extract.events, "hyp_cod", "hypres_cod", end)
    if indicator_id == "hyp_prevalence":
        return _units(population, population["pid"].isin(register.index))
    on_register = population.join(register, on="pid", how="inner")
    bp = _latest_bp(extract.events, start, end)
    on_register = on_register.join(bp, on="pid", how="left")
    if indicator_id == "hyp_bp_recorded_12m":
        return _units(on_register, on_register["event_date"].notna())
    older = _age_on(on_register["birth_date"], end) > 79
    on_register = on_register[older] if indicator_id == "hyp009" else on_register[~older]
    clinic = on_register["clinic"].fillna(False).astype(bool)
    systolic_limit, diastolic_limit = (150, 90) if indicator_id == "hyp009" else (140, 90)
    home_systolic, home_diastolic = (145, 85) if indicator_id == "hyp009" else (135, 85)
    systolic, diastolic = on_register["systolic"], on_register["diastolic"]
    achieved = (
        np.where(
            clinic,
            (systolic <= systolic_limit) & (diastolic <= diastolic_limit),
            (systolic <= home_systolic) & (diastolic <= home_diastolic),
        )
        & systolic.notna().to_numpy()
    )
    recent = end - pd.DateOffset(months=9)
    excluded = (on_register["first_diagnosis"] > recent) | (on_register["registration_start"] > recent)
    kept = achieved | ~excluded.to_numpy()
    return _units(on_register[kept], achieved[kept])


def _asthma(extract: Extract, indicator_id: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    population = _registered_alive(extract.patients, end)
    diagnosed = _register(extract.events, "ast_cod", "astres_cod", end)
    meds = extract.medications
    issued = meds[(meds["issue_date"] >= start) & (meds["issue_date"] <= end)]
    saba_codes, ics_codes = _codes("saba"), _codes("ics")
    issued = issued[issued["dmd_code"].isin(saba_codes + ics_codes)]
    inhalers = (
        pd.DataFrame(
            {
                "saba": issued["quantity"].where(issued["dmd_code"].isin(saba_codes)),
                "ics": issued["quantity"].where(issued["dmd_code"].isin(ics_codes)),
                "pid": issued["pid"],
            }
        )
        .groupby("pid")[["saba", "ics"]]
        .sum()
    )
    adults = population[_age_on(population["birth_date"], end) >= 6]
    register = adults.join(diagnosed, on="pid", how="inner").join(inhalers, on="pid", how="inner")
    register = register[register["saba"] + register["ics"] > 0]
    if indicator_id == "ast_prevalence":
        return _units(population, population["pid"].isin(register["pid"]))
    if indicator_id == "ast_saba_no_ics":
        with_saba = register[register["saba"] > 0]
        return _units(with_saba, with_saba["ics"] == 0)
    if indicator_id in SABA_THRESHOLDS:
        return _units(register, register["saba"] >= SABA_THRESHOLDS[indicator_id])
    if indicator_id in ("ast_review_12m", "ast_action_plan"):
        return _asthma_review(extract.events, indicator_id, register, start, end)
    if indicator_id == "ast_objective_test":
        return _asthma_objective_test(extract.events, register, start, end)
    admitted = extract.admissions
    admitted = admitted.loc[(admitted["admission_date"] >= start) & (admitted["admission_date"] <= end), "pid"]
    return _units(register, register["pid"].isin(admitted))


def _asthma_review(
    events: pd.DataFrame, indicator_id: str, register: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """AST015 / AST007: an asthma review in the period (with a written plan recorded on a review's day);
    those who fail it are left out when diagnosed or registered in the last 3 months."""
    reviews = events[
        events["snomed_code"].isin(_codes("rev_cod")) & (events["event_date"] >= start) & (events["event_date"] <= end)
    ]
    if indicator_id == "ast_action_plan":
        plans = events[events["snomed_code"].isin(_codes("writpastp_cod"))][["pid", "event_date"]].drop_duplicates()
        reviews = reviews[["pid", "event_date"]].merge(plans, on=["pid", "event_date"])
    achieved = register["pid"].isin(reviews["pid"]).to_numpy()
    recent = end - pd.DateOffset(months=3)
    excluded = ((register["first_diagnosis"] > recent) | (register["registration_start"] > recent)).to_numpy()
    kept = achieved | ~excluded
    return _units(register[kept], achieved[kept])


def _asthma_objective_test(
    events: pd.DataFrame, register: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """AST012: diagnosed in the period (and from its start in QOF v50), with an objective test from 3 months
    before to 3 months after the diagnosis (and by the period end); those untested are left out while
    the 3 months after the diagnosis are not over."""
    diagnosed = register[
        (register["first_diagnosis"] >= start)
        & (register["first_diagnosis"] <= end)
        & (register["first_diagnosis"] >= pd.Timestamp(AST012_DIAGNOSED_FROM))
    ]
    tests = events[events["snomed_code"].isin(_codes("asthma_objective_test")) & (events["event_date"] <= end)]
    paired = tests[["pid", "event_date"]].merge(diagnosed[["pid", "first_diagnosis"]], on="pid")
    in_window = (paired["event_date"] >= paired["first_diagnosis"] - pd.DateOffset(months=3)) & (
        paired["event_date"] <= paired["first_diagnosis"] + pd.DateOffset(months=3)
    )
    tested = diagnosed["pid"].isin(paired.loc[in_window, "pid"]).to_numpy()
    kept = tested | (diagnosed["first_diagnosis"] <= end - pd.DateOffset(months=3)).to_numpy()
    return _units(diagnosed[kept], tested[kept])


def _with_dimensions(extract: Extract, units: pd.DataFrame, numerator: pd.Series) -> pd.DataFrame:
    """Units (pathways, tumours) with their patient's dimensions (every unit's patient is in ``dimensions``).

    A look-up on the pid index, whose hash table pandas builds once and keeps: a merge would hash all
    12.9 M patients again on every call.
    """
    rows = extract.dimensions.loc[units["pid"].to_numpy()].reset_index(drop=True)
    rows["numerator"], rows["denominator"] = numerator.to_numpy(dtype=float), 1.0
    return rows


def _pathway(extract: Extract, indicator_id: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    pathways = extract.pathways
    if indicator_id == "cancer_conversion_rate":
        # Of the FDS pathways told in the period with an outcome recorded, those with cancer confirmed.
        told = pathways["diagnosis_told_date"]
        chosen = pathways[
            (told >= start)
            & (told <= end)
            & pathways["priority_type"].isin(_CWT_PRIORITIES)
            & pathways["diagnosis_outcome"].notna()
        ]
        return _with_dimensions(extract, chosen, chosen["diagnosis_outcome"] == "cancer_confirmed")
    stop, clock_start, days, priorities = PATHWAY_RULES[indicator_id]
    keep = (pathways[stop] >= start) & (pathways[stop] <= end)
    if priorities is not None:
        keep &= pathways["priority_type"].isin(priorities)
    if indicator_id == "cwt_31d":
        keep &= pathways["decision_to_treat_date"].notna()
    if indicator_id == "cwt_62d":
        keep &= pathways["diagnosis_outcome"].isna() | (pathways["diagnosis_outcome"] == "cancer_confirmed")
    chosen = pathways[keep]
    waited = (chosen[stop] - chosen[clock_start]).dt.days
    return _with_dimensions(extract, chosen, waited <= days)


def _tumour(extract: Extract, indicator_id: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Registry measures over tumours (ICD-10 C00-C97 but C44) diagnosed in the period: stage 1-2 of the
    staged ones, or presented as an emergency."""
    tumours = extract.tumours
    category = tumours["icd10_code"].str[:3]
    keep = (
        category.between("C00", "C97")
        & (category != "C44")
        & (tumours["diagnosis_date"] >= start)
        & (tumours["diagnosis_date"] <= end)
    )
    if indicator_id == "cancer_emergency_route":
        chosen = tumours[keep]
        return _with_dimensions(extract, chosen, chosen["route"] == "emergency")
    chosen = tumours[keep & tumours["stage"].isin(["1", "2", "3", "4"])]
    return _with_dimensions(extract, chosen, chosen["stage"].isin(["1", "2"]))


def _polio_booster(extract: Extract, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """The 2022 polio booster: children aged 1-9 on the campaign's first day, registered and alive at its end,
    with a polio-containing dose in the campaign or up to date by its end (4 doses from 40 months, else 3)."""
    children = _registered_alive(extract.children, end)
    age = _age_on(children["birth_date"], start)
    cohort = children[(age >= 1) & (age <= 9)]
    doses = extract.immunisations
    doses = doses[doses["vaccine"].isin(POLIO_VACCINES) & (doses["vaccination_date"] <= end)]
    doses = doses[doses["pid"].isin(cohort["pid"])]
    in_campaign = doses.loc[doses["vaccination_date"] >= start, "pid"].unique()
    dose_days = doses.groupby("pid")["vaccination_date"].nunique()
    needed = np.where(cohort["birth_date"] + pd.DateOffset(months=40) <= end, 4, 3)
    up_to_date = cohort["pid"].map(dose_days).fillna(0).to_numpy() >= needed
    return _units(cohort, cohort["pid"].isin(in_campaign).to_numpy() | up_to_date)


def _cover(extract: Extract, indicator_id: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """COVER cohort (birthday in the period, registered and alive at its end) and distinct valid dose dates."""
    children, doses = extract.children, extract.immunisations
    cohorts = []
    for measure in COVER_MEASURES:
        if measure.indicator_id != indicator_id:
            continue
        birth = children["birth_date"]
        birthday = birth + pd.DateOffset(months=measure.age_months)
        in_cohort = (
            birthday.between(start, end)
            & (birth >= pd.Timestamp(measure.born_from))
            & (birth < pd.Timestamp(measure.born_before))
            & (children["registration_start"] <= end)
            & (children["registration_end"].isna() | (children["registration_end"] > end))
            & (children["death_date"].isna() | (children["death_date"] > end))
            & (birth <= end)
        )
        cohort = children[in_cohort].assign(
            birthday=birthday[in_cohort],
            valid_from=birth[in_cohort] + pd.DateOffset(months=measure.valid_from_months),
        )
        given = doses[doses["vaccine"].isin(measure.vaccines)].merge(
            cohort[["pid", "birthday", "valid_from"]], on="pid"
        )
        given = given[given["vaccination_date"] < given["birthday"]]
        valid = given[given["vaccination_date"] >= given["valid_from"]].groupby("pid")["vaccination_date"].nunique()
        course = given.groupby("pid")["vaccination_date"].nunique()
        met = (cohort["pid"].map(valid).fillna(0) >= measure.min_doses) & (
            cohort["pid"].map(course).fillna(0) >= measure.course_doses
        )
        cohorts.append(_units(cohort, met))
    return pd.concat(cohorts, ignore_index=True)


def _code_text(values: pd.Series | np.ndarray) -> np.ndarray:
    """Group codes as the engine returns them: text (integers without a decimal point), None when missing."""
    series = pd.Series(values).astype(object)
    return np.array(
        [None if pd.isna(v) else str(int(v)) if isinstance(v, float | np.floating) else str(v) for v in series],
        dtype=object,
    )


def count_mismatches(derived: pd.DataFrame, keys: list[str], engine: pd.DataFrame) -> list[tuple]:
    """Groups whose numerator or denominator differ between an aggregated baseline and the engine's result.

    ``derived``: the baseline grouped by ``keys`` with ``numerator``/``denominator``; ``engine``:
    :func:`queries.indicators.indicator_values` with ``disclose=False``. Returns (group, baseline, engine) rows.
    """

    def counts(codes: list[np.ndarray], numerator, denominator) -> dict:
        return {
            tuple(key): (float(n), float(d))
            for *key, n, d in zip(*codes, np.asarray(numerator), np.asarray(denominator), strict=True)
        }

    ours = counts([_code_text(derived[key]) for key in keys], derived["numerator"], derived["denominator"])
    engine_codes = [_code_text(engine["area_code"])]
    if len(keys) > 1:
        engine_codes.append(_code_text(engine["subgroup_code"]))
    theirs = counts(engine_codes, engine["numerator"], engine["denominator"])
    differ = []
    for key in ours.keys() | theirs.keys():
        mine, engine_counts = ours.get(key, (0.0, 0.0)), theirs.get(key, (0.0, 0.0))
        if not np.allclose(mine, engine_counts, rtol=0, atol=1e-6):
            differ.append((key, mine, engine_counts))
    return differ
