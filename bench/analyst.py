"""The analyst pandas baseline: each benchmarked indicator derived in pandas from the extract's tables in memory.

What an analyst without the engine does for one dashboard call: take the linked extract's patient-level
tables (already loaded), apply the indicator's rule for the period, then filter, group and sum. The rules
are those of :mod:`queries.materialise` (registered and alive on the period end, QOF registers, latest
same-day BP, SABA/ICS issues, CWT clock stops, staged tumours, COVER cohorts), written in pandas; the
bench checks numerator and denominator of every group against the engine, so a derivation that drifts
from the engine's rule fails the run instead of being timed.

Loading (:func:`load`) is not part of a call and is timed separately. It does what a careful analyst does
once per session and what makes every later pandas call faster, so the speed-ups stay on the low side:
patient ids factorised to integers (rows whose patient is not in ``patient_dim`` are dropped at load;
every rule joins to it anyway), dimension and code columns held as categoricals, clinical events limited
to the codelists these indicators use, and COVER children limited to the birth years of any cohort.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from data import codelists
from queries.materialise import COVER_MEASURES

DIMENSION_COLUMNS = ["practice_code", "borough_code", "imd_quintile_national", "sex", "ethnicity_group"]

COVER_IDS = frozenset(measure[0] for measure in COVER_MEASURES)
HYPERTENSION_IDS = frozenset({"hyp_prevalence", "hyp008", "hyp009", "hyp_bp_recorded_12m"})
SABA_THRESHOLDS = {"ast_saba_3plus": 3, "ast_saba_6plus": 6, "ast_saba_12plus": 12}
ASTHMA_IDS = frozenset({"ast_prevalence", "ast_saba_no_ics", *SABA_THRESHOLDS})
# CWT standards: (clock-stop date, clock-start date, days allowed, priority types counted or None for any).
_CWT_PRIORITIES = ("urgent_suspected_cancer", "breast_symptomatic", "screening")
PATHWAY_RULES = {
    "cwt_fds_28d": ("diagnosis_told_date", "referral_date", 28, _CWT_PRIORITIES),
    "cwt_31d": ("treatment_start_date", "decision_to_treat_date", 31, None),
    "cwt_62d": ("treatment_start_date", "referral_date", 62, (*_CWT_PRIORITIES, "consultant_upgrade")),
}
CANCER_IDS = frozenset({*PATHWAY_RULES, "cancer_early_stage"})
SUPPORTED = COVER_IDS | HYPERTENSION_IDS | ASTHMA_IDS | CANCER_IDS

# Blood-pressure codelists: (reading kind, setting), as materialise reads them from the codelist names.
_BP_LISTS = {
    "systolic_bp_clinic": ("systolic", "clinic"),
    "diastolic_bp_clinic": ("diastolic", "clinic"),
    "systolic_bp_home": ("systolic", "home"),
    "diastolic_bp_home": ("diastolic", "home"),
}
_EVENT_LISTS = ("hyp_cod", "hypres_cod", "ast_cod", "astres_cod", *_BP_LISTS)

# Patient ids as integers, one per patient_dim row (a temporary table of the read-only connection).
_IDS_SQL = (
    "CREATE OR REPLACE TEMP TABLE _bench_ids AS "
    "SELECT patient_id, CAST(row_number() OVER (ORDER BY patient_id) AS INTEGER) AS pid FROM patient_dim"
)


def _codes(name: str) -> list[str]:
    return list(codelists.codes(name))


@dataclass
class Extract:
    """The extract's tables as an analyst holds them in memory (see the module docstring)."""

    patients: pd.DataFrame | None = None
    dimensions: pd.DataFrame | None = None  # patients' dimension columns indexed by pid, for units to join to
    children: pd.DataFrame | None = None
    immunisations: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    medications: pd.DataFrame | None = None
    pathways: pd.DataFrame | None = None
    tumours: pd.DataFrame | None = None
    load_seconds: float = 0.0
    load_cpu_seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)

    def memory_mib(self) -> float:
        frames = [getattr(self, name) for name in ("patients", "immunisations", "events", "medications", "pathways")]
        frames += [self.tumours]
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
    if indicator_ids & COVER_IDS:
        # Children young enough for some COVER cohort (the engine's own bound); their immunisations.
        born_from = (
            "(SELECT min(start_date) FROM ind_period WHERE period_type IN ('quarter', 'fy')) - INTERVAL 61 MONTH"
        )
        first_birth = con.execute(f"SELECT {born_from}").fetchone()[0]
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
    if indicator_ids & set(PATHWAY_RULES):
        extract.pathways = _frame(
            con,
            "SELECT i.pid, c.pathway_id, c.referral_date, c.priority_type, c.diagnosis_told_date, "
            "c.diagnosis_outcome, c.decision_to_treat_date, c.treatment_start_date "
            "FROM cancer_pathways AS c JOIN _bench_ids AS i USING (patient_id)",
        )
    if "cancer_early_stage" in indicator_ids:
        extract.tumours = _frame(
            con,
            "SELECT i.pid, r.diagnosis_date, r.icd10_code, r.stage, r.route "
            "FROM cancer_registrations AS r JOIN _bench_ids AS i USING (patient_id)",
        )
    con.execute("DROP TABLE IF EXISTS _bench_ids")
    extract.load_seconds = time.perf_counter() - started
    extract.load_cpu_seconds = time.process_time() - started_cpu
    extract.rows = {
        name: len(frame)
        for name in ("patients", "immunisations", "events", "medications", "pathways", "tumours")
        if (frame := getattr(extract, name)) is not None
    }
    return extract


def derive(extract: Extract, indicator_id: str, period: tuple) -> pd.DataFrame:
    """The units of ``indicator_id`` in ``period`` ((type, start, end, label)): dimensions, numerator, denominator."""
    _type, start, end, _label = period
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if indicator_id in COVER_IDS:
        return _cover(extract, indicator_id, start, end)
    if indicator_id in HYPERTENSION_IDS:
        return _hypertension(extract, indicator_id, start, end)
    if indicator_id in ASTHMA_IDS:
        return _asthma(extract, indicator_id, start, end)
    if indicator_id in PATHWAY_RULES:
        return _pathway(extract, indicator_id, start, end)
    if indicator_id == "cancer_early_stage":
        return _early_stage(extract, start, end)
    raise KeyError(f"no analyst derivation for {indicator_id}")


def _units(rows: pd.DataFrame, numerator) -> pd.DataFrame:
    """Dimension columns of ``rows`` with a 0/1 numerator and a denominator of 1 per unit."""
    units = rows[DIMENSION_COLUMNS].copy()
    units["numerator"] = np.asarray(numerator, dtype=float)
    units["denominator"] = 1.0
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


def _latest_bp(events: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Latest same-day BP in the period per patient (lowest of each reading that day; clinic before home)."""
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
    per_day = per_day.dropna(subset=["systolic", "diastolic"]).reset_index()
    latest = per_day.sort_values(["pid", "event_date", "clinic"]).drop_duplicates("pid", keep="last")
    return latest.set_index("pid")[["event_date", "clinic", "systolic", "diastolic"]]


def _hypertension(extract: Extract, indicator_id: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    population = _registered_alive(extract.patients, end)
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
    return _units(register, register["saba"] >= SABA_THRESHOLDS[indicator_id])


def _with_dimensions(extract: Extract, units: pd.DataFrame, numerator: pd.Series) -> pd.DataFrame:
    """Units (pathways, tumours) with their patient's dimensions (every unit's patient is in ``dimensions``).

    A look-up on the pid index, whose hash table pandas builds once and keeps: a merge would hash all
    12.9 M patients again on every call.
    """
    rows = extract.dimensions.loc[units["pid"].to_numpy()].reset_index(drop=True)
    rows["numerator"], rows["denominator"] = numerator.to_numpy(dtype=float), 1.0
    return rows


def _pathway(extract: Extract, indicator_id: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    stop, clock_start, days, priorities = PATHWAY_RULES[indicator_id]
    pathways = extract.pathways
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


def _early_stage(extract: Extract, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    tumours = extract.tumours
    site = tumours["icd10_code"]
    keep = (
        site.notna()
        & (site.str[:3] != "C44")
        & tumours["stage"].isin(["1", "2", "3", "4"])
        & (tumours["diagnosis_date"] >= start)
        & (tumours["diagnosis_date"] <= end)
    )
    chosen = tumours[keep]
    return _with_dimensions(extract, chosen, chosen["stage"].isin(["1", "2"]))


def _cover(extract: Extract, indicator_id: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """COVER cohort (birthday in the period, registered and alive at its end) and distinct valid dose dates."""
    children, doses = extract.children, extract.immunisations
    cohorts = []
    for measure, age_months, vaccines, min_doses, valid_from_months, born_from, born_before in COVER_MEASURES:
        if measure != indicator_id:
            continue
        birth = children["birth_date"]
        birthday = birth + pd.DateOffset(months=age_months)
        in_cohort = (
            birthday.between(start, end)
            & (birth >= pd.Timestamp(born_from))
            & (birth < pd.Timestamp(born_before))
            & (children["registration_start"] <= end)
            & (children["registration_end"].isna() | (children["registration_end"] > end))
            & (children["death_date"].isna() | (children["death_date"] > end))
            & (birth <= end)
        )
        cohort = children[in_cohort].assign(
            birthday=birthday[in_cohort], valid_from=birth[in_cohort] + pd.DateOffset(months=valid_from_months)
        )
        given = doses[doses["vaccine"].isin(vaccines)].merge(cohort[["pid", "birthday", "valid_from"]], on="pid")
        given = given[
            (given["vaccination_date"] < given["birthday"]) & (given["vaccination_date"] >= given["valid_from"])
        ]
        counted = given.groupby("pid")["vaccination_date"].nunique()
        cohorts.append(_units(cohort, cohort["pid"].map(counted).fillna(0) >= min_doses))
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
