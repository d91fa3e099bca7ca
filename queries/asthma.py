"""Queries for the asthma page: the page's measures, the linked admission history and the patient list.

Indicator numbers come from :mod:`queries.indicators`. This module adds what the page needs on top:

- :data:`MEASURES`: the page's choices, each an engine indicator, optionally restricted to children or
  adults (an age-band filter) or shown as a rate (emergency admissions per 1,000 on the register, and
  per 100,000 registered population from the admissions numerator over the prevalence denominator);
- :func:`admission_history`: the linked view no practice or hospital dataset gives alone: for each
  patient with an emergency asthma admission in a period, whether the 12 months *before* the admission
  held SABA over-reliance, no asthma review or no written action plan. Derived once per database file
  and process, then grouped per request (it reads the raw medications and events tables);
- :func:`saba_no_ics_patients`: the patient list (SABA over-reliance and no ICS) for one practice,
  only within a :class:`security.roles.RowScope`, from the build's ``asthma_saba_list``
  (:func:`write_saba_list`).

No dash or plotly here. All values are bound parameters; identifiers come from whitelists.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from data import codelists
from data.schema import EMERGENCY_ADMISSION_METHODS
from queries import disclosure, stats
from queries.cache import cached_query
from queries.indicators import (
    QueryError,
    funnel_limits,
    indicator_values,
    indicator_values_batch,
    inequality,
    london_filters,
    separate_benchmark,
    trend,
)
from queries.materialise import AGE_BANDS, LONDON_CODE
from queries.registry import get
from security.roles import RowScope

SABA_THRESHOLDS: tuple[int, ...] = (3, 6, 12)
# The prescribing-safety bars: a share of the register at each SABA threshold, and SABA with no ICS.
SABA_THRESHOLD_MEASURES: tuple[str, ...] = ("ast_saba_3plus", "ast_saba_6plus", "ast_saba_12plus", "ast_saba_no_ics")
# Children and adults by the engine's age bands: the register starts at 6, so "5-17" holds the children
# on it (its population denominator also counts the 5-year-olds, who cannot be on the register yet).
CHILD_BANDS: tuple[str, ...] = ("5-17",)
ADULT_BANDS: tuple[str, ...] = tuple(label for low, _, label in AGE_BANDS if low >= 18)
AGE_GROUPS: dict[str, tuple[str, ...]] = {"Children (6-17)": CHILD_BANDS, "Adults (18+)": ADULT_BANDS}


@dataclass(frozen=True)
class Measure:
    """One choice on the page: an engine indicator, maybe for one age group, maybe shown as a rate."""

    id: str
    indicator: str
    title: str
    label: str  # short axis / colour-bar label
    unit: str = "percent"
    age_bands: tuple[str, ...] = ()
    per_population: bool = False  # admissions per 100,000 registered population (needs two indicators)
    factor: float = 1.0  # value multiplier from the engine's percent (10 = per 1,000)
    notes: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def spec(self):
        return get(self.indicator)

    @property
    def polarity(self) -> str:
        return self.spec.polarity

    @property
    def target(self) -> float | None:
        return self.spec.target

    @property
    def short_label(self) -> str:
        """The label without its unit ("SABA 3+"), for a bar or an option among measures of one unit."""
        return self.label.removesuffix(" (%)")


MEASURES: dict[str, Measure] = {
    m.id: m
    for m in (
        Measure("ast_prevalence", "ast_prevalence", "Asthma register prevalence, all ages (AST005)", "Prevalence (%)"),
        Measure(
            "ast_prevalence_children",
            "ast_prevalence",
            # Named by its denominator: a title of "6-17" over a 5-17 list read as about 1/13 too low.
            "Asthma register prevalence, children 5-17",
            "Prevalence, children (%)",
            age_bands=CHILD_BANDS,
            notes="Out of registered patients aged 5-17 (the engine's age band); the register starts at 6.",
        ),
        Measure(
            "ast_prevalence_adults",
            "ast_prevalence",
            "Asthma register prevalence, adults 18+",
            "Prevalence, adults (%)",
            age_bands=ADULT_BANDS,
        ),
        Measure("ast_review_12m", "ast_review_12m", "Asthma review in the last 12 months", "Reviewed (%)"),
        Measure("ast_action_plan", "ast_action_plan", "Review with a written asthma action plan", "Action plan (%)"),
        Measure(
            "ast_objective_test",
            "ast_objective_test",
            "New diagnoses with an objective test (AST012)",
            "Objective test (%)",
        ),
        Measure("ast_saba_3plus", "ast_saba_3plus", "3 or more SABA inhalers in 12 months", "SABA 3+ (%)"),
        Measure("ast_saba_6plus", "ast_saba_6plus", "6 or more SABA inhalers in 12 months", "SABA 6+ (%)"),
        Measure("ast_saba_12plus", "ast_saba_12plus", "12 or more SABA inhalers in 12 months", "SABA 12+ (%)"),
        Measure("ast_saba_no_ics", "ast_saba_no_ics", "SABA issued with no ICS in 12 months", "SABA, no ICS (%)"),
        Measure(
            "ast_admissions_per_1000",
            "ast_emergency_admissions",
            "Emergency asthma admissions per 1,000 on the register",
            "Admitted per 1,000 on register",
            unit="per 1,000",
            factor=10.0,
            notes="People on the register with at least one emergency asthma admission in the 12 months.",
        ),
        Measure(
            "ast_admissions_per_100k",
            "ast_emergency_admissions",
            "Emergency asthma admissions per 100,000 population",
            "Admitted per 100,000 registered",
            unit="per 100,000",
            per_population=True,
            notes="People on the register with an emergency asthma admission, per 100,000 registered patients "
            "(all ages). Trend, funnel and inequality views show the per-1,000-on-register rate.",
        ),
    )
}
DEFAULT_MEASURE = "ast_saba_3plus"
_SCALED = ("value", "ci_low", "ci_high", "ci99_low", "ci99_high", "london_value")
PER_POPULATION = 100_000.0  # admissions per this many registered patients
PER_POPULATION_DECIMALS = 1  # admissions per 100,000 registered, as the page shows them
_DERIVED = ["value", "ci_low", "ci_high", "ci99_low", "ci99_high", "london_value", "comparison"]


def measure(measure_id: str | None) -> Measure:
    """The page measure ``measure_id`` (the default one when unknown)."""
    return MEASURES.get(measure_id or "", MEASURES[DEFAULT_MEASURE])


def _filters(m: Measure, filters: dict[str, Any] | None) -> dict[str, Any] | None:
    merged = dict(filters or {})
    if m.age_bands:
        merged["age_band"] = list(m.age_bands)
    return merged or None


def _scale(frame: pd.DataFrame, factor: float, columns=_SCALED) -> pd.DataFrame:
    if factor == 1.0:
        return frame
    frame = frame.copy()
    for column in columns:
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce") * factor
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def measure_values(
    con: Any,
    *,
    measure_id: str,
    period: str | None = None,
    by: str | tuple[str, ...] = "borough",
    filters: dict[str, Any] | None = None,
    disclose: bool = True,
    compare_with: str = "filtered",
) -> pd.DataFrame:
    """The engine's :func:`indicator_values` frame for a page measure (same columns, values in its unit).

    Per-population admissions: numerator from ``ast_emergency_admissions``, denominator the registered
    population (``ast_prevalence``'s denominator) of each area, Wilson 95 % intervals and comparison with
    London computed on unrounded counts, then the disclosure rule applied, as the engine does.
    ``compare_with`` as the engine's: ``"london"`` compares with London (area filters dropped), not
    with everything the filters kept.
    """
    m = measure(measure_id)
    merged = _filters(m, filters)
    separate = separate_benchmark(compare_with, merged)  # checks compare_with too
    if not m.per_population:
        values = indicator_values(
            con,
            indicator=m.indicator,
            period=period,
            by=by,
            filters=merged,
            disclose=disclose,
            compare_with=compare_with,
        )
        return _scale(values, m.factor)
    admitted = indicator_values(con, indicator=m.indicator, period=period, by=by, filters=merged, disclose=False)
    population = indicator_values(con, indicator="ast_prevalence", period=period, by=by, filters=merged, disclose=False)
    keys = ["area_code", "subgroup_code"]
    frame = population.drop(columns=["numerator"]).merge(admitted[[*keys, "numerator"]], on=keys, how="left")
    frame["numerator"] = frame["numerator"].fillna(0.0).astype(float)
    frame["denominator"] = frame["denominator"].astype(float)
    frame["indicator_id"] = m.id
    numerator, denominator = frame["numerator"].to_numpy(), frame["denominator"].to_numpy()
    london_num, london_den = float(numerator.sum()), float(denominator.sum())
    if separate:  # London's admissions and population, with only the area filters dropped
        benchmark = london_filters(merged)
        london_num = float(
            indicator_values(con, indicator=m.indicator, period=period, filters=benchmark, disclose=False)[
                "numerator"
            ].sum()
        )
        london_den = float(
            indicator_values(con, indicator="ast_prevalence", period=period, filters=benchmark, disclose=False)[
                "denominator"
            ].sum()
        )
    london_value = float(stats.scaled_rate(london_num, london_den, PER_POPULATION))
    # The registry's target is a percentage of the register, not a rate per 100,000: none here.
    rates = stats.area_statistics(
        numerator,
        denominator,
        scale=PER_POPULATION,
        polarity=m.polarity,
        # One London row with no separate benchmark is everything the filters kept: not compared with itself.
        benchmark=london_value if by != "london" or separate else float("nan"),
    )
    for column, values in rates.items():
        frame[column] = values
    frame["london_value"] = london_value
    frame["suppressed"] = False
    frame = frame[list(population.columns)]
    if disclose:
        london_hidden = disclosure.is_suppressed(london_num) or disclosure.is_suppressed(london_den)
        frame = disclosure.apply(frame, derived=_DERIVED, decimals=PER_POPULATION_DECIMALS)
        frame.loc[frame["suppressed"], "comparison"] = "not compared"
        if london_hidden:
            frame["london_value"] = None
    return frame.reset_index(drop=True)


def measure_values_batch(
    con: Any,
    *,
    measure_ids: tuple[str, ...] | list[str],
    period: str | None = None,
    by: str | tuple[str, ...] = "london",
    filters: dict[str, Any] | None = None,
    disclose: bool = True,
    compare_with: str = "filtered",
) -> pd.DataFrame:
    """:func:`measure_values` of several measures sharing ``by``, ``period``, ``filters`` and ``compare_with``,
    stacked in the order asked, with a ``measure_id`` column (the KPI cards: one row per measure at
    ``by="london"``).

    The measures an engine indicator answers alone go to the engine in one query per age group
    (:func:`indicator_values_batch`, the same rows as one call each; London's totals for ``compare_with="london"``
    in one more); a per-population rate takes its own calls, as in :func:`measure_values`.
    """
    chosen = [measure(measure_id) for measure_id in measure_ids]
    batched: dict[str, pd.DataFrame] = {}
    engine_measures = [m for m in chosen if not m.per_population]
    for bands in dict.fromkeys(m.age_bands for m in engine_measures):
        group = [m for m in engine_measures if m.age_bands == bands]
        indicators = list(dict.fromkeys(m.indicator for m in group))
        rows = indicator_values_batch(
            con,
            requests=[(indicator, period) for indicator in indicators],
            by=by,
            filters=_filters(group[0], filters),
            disclose=disclose,
            compare_with=compare_with,
        )
        for m in group:
            own = rows[rows["indicator_id"] == m.indicator].reset_index(drop=True)
            batched[m.id] = _scale(own, m.factor)
    frames = [
        (
            batched[m.id]
            if m.id in batched
            else measure_values(
                con,
                measure_id=m.id,
                period=period,
                by=by,
                filters=filters,
                disclose=disclose,
                compare_with=compare_with,
            )
        ).assign(measure_id=m.id)
        for m in chosen
    ]
    return pd.concat(frames, ignore_index=True)


def _base_measure(m: Measure) -> Measure:
    """The measure the trend, funnel and inequality views use (per 100,000 falls back to per 1,000)."""
    return MEASURES["ast_admissions_per_1000"] if m.per_population else m


def measure_trend(
    con: Any, *, measure_id: str, filters: dict[str, Any] | None = None, disclose: bool = True
) -> pd.DataFrame:
    """The engine's SPC trend (rolling 12 months) for a page measure, in the measure's unit."""
    m = _base_measure(measure(measure_id))
    series = trend(con, indicator=m.indicator, by="london", filters=_filters(m, filters), disclose=disclose)
    return _scale(series, m.factor, (*_SCALED, "centre", "lower_limit", "upper_limit", "mean"))


def measure_funnel(
    con: Any,
    *,
    measure_id: str,
    period: str | None = None,
    by: str = "practice",
    filters: dict[str, Any] | None = None,
    disclose: bool = True,
) -> dict[str, Any]:
    """The engine's funnel (points and limits) for a page measure, in the measure's unit."""
    m = _base_measure(measure(measure_id))
    funnel = funnel_limits(
        con, indicator=m.indicator, period=period, by=by, filters=_filters(m, filters), disclose=disclose
    )
    limit_columns = [c for c in funnel["limits"].columns if c != "denominator"]
    london = funnel["london_value"]
    return {
        "points": _scale(funnel["points"], m.factor),
        "limits": _scale(funnel["limits"], m.factor, limit_columns),
        "london_value": None if london is None else float(london) * m.factor,
    }


def measure_inequality(con: Any, *, measure_id: str, period: str | None = None, disclose: bool = True) -> pd.DataFrame:
    """The engine's SII / quintile gap per borough for a page measure, in the measure's unit."""
    m = _base_measure(measure(measure_id))
    frame = inequality(con, indicator=m.indicator, period=period, filters=_filters(m, None), disclose=disclose)
    scaled = [c for c in frame.columns if c.startswith(("sii", "q1_value", "q5_value", "gap"))]
    return _scale(frame, m.factor, scaled)


def period_choices(con: Any) -> pd.DataFrame:
    """Financial years and rolling 12-month periods (the asthma indicators' periods), newest first."""
    return (
        con.cursor()
        .execute(
            "SELECT period_id, period_type, start_date, end_date, label FROM ind_period "
            "WHERE period_type IN ('fy', 'r12') ORDER BY end_date DESC, period_type"
        )
        .df()
    )


def boroughs(con: Any) -> pd.DataFrame:
    """Boroughs (code, name, ICB) by name."""
    return (
        con.cursor().execute("SELECT borough_code, borough_name, icb_code FROM ref_boroughs ORDER BY borough_name").df()
    )


def practices(con: Any, *, borough_code: str | None = None) -> pd.DataFrame:
    """Practices with anyone on an asthma indicator (code, name, borough, ICB), optionally of one borough, by name."""
    sql = (
        "SELECT r.practice_code, r.practice_name, r.borough_code, r.icb_code FROM ref_practices AS r "
        "WHERE r.practice_code IN (SELECT c.practice_code FROM ind_cube_area AS c "
        "WHERE c.indicator_id = 'ast_prevalence')"
    )
    params: list[Any] = []
    if borough_code:
        sql += " AND r.borough_code = ?"
        params.append(borough_code)
    return con.cursor().execute(sql + " ORDER BY r.practice_name", params).df()


def areas_in_borough(con: Any, *, level: str, borough_code: str) -> set[str]:
    """Codes of the practices (by their borough) or LSOAs (by where they are) in one borough."""
    if level == "practice":
        return set(practices(con, borough_code=borough_code)["practice_code"])
    if level == "lsoa":
        rows = (
            con.cursor().execute("SELECT lsoa21_code FROM ref_lsoa21 WHERE borough_code = ?", [borough_code]).fetchall()
        )
        return {row[0] for row in rows}
    if level == "borough":
        return {borough_code}
    raise QueryError(f"Unknown level {level!r}")


# ---------------------------------------------------------------- SABA thresholds


def saba_threshold_counts(
    con: Any, *, period: str | None = None, filters: dict[str, Any] | None = None, disclose: bool = True
) -> pd.DataFrame:
    """Patients on the register at each SABA threshold (3+, 6+, 12+) and SABA without ICS, for one area.

    One engine row (``by='london'`` with ``filters``) per measure, with a ``measure_id`` and ``label``;
    an area's row is compared with London (``london_value``), not with itself. One batch: two queries for a
    borough (its rows, London's totals), one for London, where a call per measure took twice four.
    """
    frame = measure_values_batch(
        con,
        measure_ids=SABA_THRESHOLD_MEASURES,
        period=period,
        by="london",
        filters=filters,
        disclose=disclose,
        compare_with="london",
    )
    return frame.assign(label=[MEASURES[m].short_label for m in frame["measure_id"]])


def by_age_group(
    con: Any,
    *,
    measure_id: str,
    period: str | None = None,
    filters: dict[str, Any] | None = None,
    disclose: bool = True,
    compare_with: str = "filtered",
) -> pd.DataFrame:
    """A measure for children (6-17) and adults (18+): one engine row each, ``area_name`` the group.

    ``area_value``: everyone on the measure in the area ``filters`` keep; ``london_value`` the same, or
    with ``compare_with="london"`` everyone on the measure in London (area filters dropped).
    """
    m = measure(measure_id)
    rows = []
    for name, bands in AGE_GROUPS.items():
        merged = dict(filters or {})
        merged["age_band"] = list(bands)
        frame = indicator_values(
            con, indicator=m.indicator, period=period, by="london", filters=merged, disclose=disclose
        )
        rows.append(_scale(frame, m.factor).assign(area_code=name, area_name=name))
    frame = pd.concat(rows, ignore_index=True)

    # Both groups are set beside everyone on the measure (the engine compared each with itself).
    def overall(chosen: dict[str, Any] | None):
        return measure_values(
            con,
            measure_id=m.id if not m.age_bands else m.indicator,
            period=period,
            by="london",
            filters=chosen,
            disclose=disclose,
        )["value"].iloc[0]

    separate = separate_benchmark(compare_with, filters)  # checks compare_with too
    frame["area_value"] = overall(filters)
    frame["london_value"] = overall(london_filters(filters)) if separate else frame["area_value"]
    return frame


# ---------------------------------------------------------------- linked admission history


def _admission_categories() -> list[str]:
    return sorted({code.replace(".", "")[:3] for code in codelists.codes("asthma_admission")})


_HISTORY_SQL = """
WITH periods AS (
    SELECT period_id, start_date, end_date FROM ind_period WHERE period_type IN ('fy', 'r12')
),
saba AS (SELECT DISTINCT unnest($saba) AS code),
ics AS (SELECT DISTINCT unnest($ics) AS code),
index_admission AS (
    -- The first emergency asthma admission of each patient in each period.
    SELECT p.period_id, h.patient_id, min(h.admission_date) AS admitted
    FROM periods AS p
    JOIN hospital_episodes AS h ON h.admission_date BETWEEN p.start_date AND p.end_date
    WHERE list_contains($methods, h.admission_method)
      AND list_contains($categories, left(replace(h.primary_diagnosis, '.', ''), 3))
    GROUP BY ALL
),
admitted AS (
    SELECT a.period_id, a.patient_id, a.admitted, d.practice_code, d.borough_code, d.icb_code,
           d.imd_quintile_national, d.ethnicity_group,
           date_diff('year', d.birth_date, a.admitted)
             - CASE WHEN a.admitted < d.birth_date + to_years(date_diff('year', d.birth_date, a.admitted))
                    THEN 1 ELSE 0 END AS age
    FROM index_admission AS a
    JOIN patient_dim AS d USING (patient_id)
    -- Registered with a London practice on the day of admission: their GP record covers the year before.
    WHERE d.practice_code IS NOT NULL AND d.registration_start <= a.admitted
      AND (d.registration_end IS NULL OR d.registration_end > a.admitted)
),
inhalers AS (
    SELECT a.period_id, a.patient_id,
           sum(m.quantity) FILTER (WHERE m.dmd_code IN (SELECT code FROM saba)) AS saba,
           sum(m.quantity) FILTER (WHERE m.dmd_code IN (SELECT code FROM ics)) AS ics
    FROM admitted AS a
    JOIN medications AS m ON m.patient_id = a.patient_id
     AND m.issue_date >= a.admitted - INTERVAL 12 MONTH AND m.issue_date < a.admitted
    WHERE m.dmd_code IN (SELECT code FROM saba) OR m.dmd_code IN (SELECT code FROM ics)
    GROUP BY ALL
),
care AS (
    SELECT a.period_id, a.patient_id,
           bool_or(list_contains($review, e.snomed_code)) AS reviewed,
           bool_or(list_contains($plan, e.snomed_code)) AS planned
    FROM admitted AS a
    JOIN clinical_events AS e ON e.patient_id = a.patient_id
     AND e.event_date >= a.admitted - INTERVAL 12 MONTH AND e.event_date < a.admitted
    WHERE list_contains($review, e.snomed_code) OR list_contains($plan, e.snomed_code)
    GROUP BY ALL
)
SELECT a.*, coalesce(i.saba, 0) AS saba_before, coalesce(i.ics, 0) AS ics_before,
       coalesce(c.reviewed, false) AS reviewed_before, coalesce(c.planned, false) AS plan_before
FROM admitted AS a
LEFT JOIN inhalers AS i USING (period_id, patient_id)
LEFT JOIN care AS c USING (period_id, patient_id)
ORDER BY a.period_id, a.patient_id
"""

_history_cache: dict[tuple, pd.DataFrame] = {}
_history_lock = threading.Lock()


def _cursor(con: Any):
    return con.cursor() if hasattr(con, "cursor") else con


def _cache_key(con: Any) -> tuple | None:
    """Per database file and build (a rebuilt file gets a new key); None for a bare connection (no caching)."""
    path = getattr(con, "path", None)
    if path is None:
        return None
    built = _cursor(con).execute("SELECT value FROM meta WHERE key = 'built_at'").fetchone()
    return (str(path), built[0] if built else None)


ADMISSION_HISTORY_TABLE = "asthma_admission_history"


def _history_params() -> dict[str, Any]:
    return {
        "saba": sorted(codelists.codes("saba")),
        "ics": sorted(codelists.codes("ics")),
        "review": sorted(codelists.codes("rev_cod")),
        "plan": sorted(codelists.codes("writpastp_cod")),
        "methods": sorted(EMERGENCY_ADMISSION_METHODS),
        "categories": _admission_categories(),
    }


def write_admission_history(con: Any) -> int:
    """Write :func:`admission_history`'s rows as the table ``asthma_admission_history`` (a build step).

    The history joins raw medications and events of every admitted patient: at full London scale its
    first read in a process took seconds, so the build derives it once and pages read the small table.
    Returns the number of rows written.
    """
    cursor = _cursor(con)
    cursor.execute(f"CREATE OR REPLACE TABLE {ADMISSION_HISTORY_TABLE} AS {_HISTORY_SQL}", _history_params())
    return cursor.execute(f"SELECT count(*) FROM {ADMISSION_HISTORY_TABLE}").fetchone()[0]  # noqa: S608 (constant)


def admission_history_from_records(con: Any) -> pd.DataFrame:
    """:func:`admission_history` derived from the raw records (the definition the build's table is held to)."""
    return _cursor(con).execute(_HISTORY_SQL, _history_params()).df()


def admission_history(con: Any) -> pd.DataFrame:
    """Per period (financial years, rolling 12 months) and patient with an emergency asthma admission in it:
    the first such admission and what the GP record held in the 12 months before it.

    Admission: admission method in the emergency set (21-2D, 28) and primary diagnosis J45/J46
    (``asthma_admission`` codelist, 3-character category). Patients must be registered with a London
    practice on the admission day. "Before" is from the same calendar day a year earlier up to the day
    before admission, so prescriptions or reviews on or after the admission day never count.
    Columns: period_id, patient_id, admitted, practice_code, borough_code, icb_code,
    imd_quintile_national, ethnicity_group, age (on admission), saba_before (SABA inhalers issued),
    ics_before, reviewed_before (a REV_COD code), plan_before (a WRITPASTP_COD code).

    Read from the build's ``asthma_admission_history``, once per database build and process.
    """
    key = _cache_key(con)
    if key is not None and key in _history_cache:
        return _history_cache[key]
    with _history_lock:
        if key is not None and key in _history_cache:
            return _history_cache[key]
        frame = _cursor(con).execute(f"SELECT * FROM {ADMISSION_HISTORY_TABLE}").df()  # noqa: S608 (constant)
        if key is not None:
            _history_cache[key] = frame
        return frame


LINKED_MEASURES: dict[str, str] = {
    "saba_over": "SABA over-reliance before admission",
    "no_review": "No asthma review in the 12 months before",
    "no_plan": "No written action plan in the 12 months before",
    "any_gap": "Any of the three",
}
# Grouping -> column of :func:`admission_history` (plus the derived age group).
LINKED_GROUPS = {
    "london": None,
    "borough": "borough_code",
    "age_group": "age_group",
    "imd_quintile_national": "imd_quintile_national",
    "ethnicity_group": "ethnicity_group",
}


@cached_query
def linked_admissions(
    con: Any,
    *,
    period: str,
    saba_threshold: int = 3,
    by: str = "borough",
    disclose: bool = True,
) -> pd.DataFrame:
    """Among patients with an emergency asthma admission in ``period``: the share whose 12 months before
    admission held SABA over-reliance (``saba_threshold`` or more inhalers), no review, no written action
    plan, or any of these.

    Long frame, London first: area_code, area_name, measure, measure_label, numerator, denominator
    (patients admitted), value (percent), ci_low, ci_high (Wilson 95 %), suppressed. With ``disclose``
    counts follow the NHS rule and a share resting on a suppressed count is hidden.
    """
    if saba_threshold not in SABA_THRESHOLDS:
        raise QueryError(f"Unknown SABA threshold {saba_threshold!r}. Known: {SABA_THRESHOLDS}")
    if by not in LINKED_GROUPS:
        raise QueryError(f"Unknown grouping {by!r}. Known: {', '.join(LINKED_GROUPS)}")
    rows = _linked_rows(con, period)
    saba_over = (rows["saba_before"] >= saba_threshold).to_numpy()
    rows = rows.assign(saba_over=saba_over, any_gap=saba_over | rows["review_or_plan_missing"].to_numpy())
    names = _group_names(con, by)
    parts = [_linked_counts(rows, None, {}).assign(area_code=LONDON_CODE, area_name="London")]
    if by != "london":
        parts.append(_linked_counts(rows, LINKED_GROUPS[by], names))
    frame = pd.concat(parts, ignore_index=True)
    shares = stats.area_statistics(
        frame["numerator"].to_numpy(float), frame["denominator"].to_numpy(float), scale=100.0, polarity="none"
    )
    frame["value"], frame["ci_low"], frame["ci_high"] = shares["value"], shares["ci_low"], shares["ci_high"]
    frame["measure_label"] = frame["measure"].map(LINKED_MEASURES)
    frame["period_id"] = period
    frame["saba_threshold"] = saba_threshold
    frame["suppressed"] = False
    if disclose:
        frame = disclosure.apply(frame, derived=["value", "ci_low", "ci_high"], decimals=1)  # percentages
    columns = [
        "period_id",
        "area_code",
        "area_name",
        "measure",
        "measure_label",
        "saba_threshold",
        "numerator",
        "denominator",
        "value",
        "ci_low",
        "ci_high",
        "suppressed",
    ]
    return frame[columns]


_linked_cache: dict[tuple, dict[str, pd.DataFrame]] = {}


def _linked_rows(con: Any, period: str) -> pd.DataFrame:
    """:func:`admission_history`'s patients of one period with the threshold-free flags (no review, no plan,
    either, age group) already set: kept per period, database build and process, so a click groups one
    period's few thousand rows instead of filtering and flagging the whole history. Shared: callers must
    not change it."""
    key = _cache_key(con)
    periods = _linked_cache.setdefault(key, {}) if key is not None else {}
    if period not in periods:
        history = admission_history(con)
        rows = history[history["period_id"] == period]
        no_review = ~rows["reviewed_before"].astype(bool).to_numpy()
        no_plan = ~rows["plan_before"].astype(bool).to_numpy()
        periods[period] = rows.assign(
            no_review=no_review,
            no_plan=no_plan,
            review_or_plan_missing=no_review | no_plan,
            age_group=np.where(rows["age"] < 18, "Children (under 18)", "Adults (18+)"),
        ).reset_index(drop=True)
    return periods[period]


def _linked_counts(rows: pd.DataFrame, by: str | None, names: dict[str, str]) -> pd.DataFrame:
    flags = list(LINKED_MEASURES)
    if by is None:
        grouped = pd.DataFrame({f: [int(rows[f].sum())] for f in flags}).assign(denominator=len(rows))
    else:
        keys = rows[by].astype(object).where(rows[by].notna(), None).fillna("Unknown")
        grouped = (
            rows.assign(_key=keys)
            .groupby("_key", sort=True)
            .agg(**{f: (f, "sum") for f in flags}, denominator=("patient_id", "size"))
            .reset_index()
        )
        grouped["area_code"] = grouped["_key"]
        # Quintiles arrive as numbers and their names are keyed by text: "1" to "5" reached the chart bare.
        grouped["area_name"] = grouped["_key"].map(lambda code: names.get(str(code), str(code)))
        grouped = grouped.drop(columns="_key")
    id_columns = [c for c in ("area_code", "area_name") if c in grouped]
    long = grouped.melt(
        id_vars=[*id_columns, "denominator"], value_vars=flags, var_name="measure", value_name="numerator"
    )
    long["numerator"] = long["numerator"].astype(float)
    long["denominator"] = long["denominator"].astype(float)
    order = {m: i for i, m in enumerate(flags)}
    return long.assign(_o=long["measure"].map(order)).sort_values([*id_columns[1:], "_o"]).drop(columns="_o")


def _group_names(con: Any, by: str) -> dict[str, str]:
    if by == "borough":
        frame = boroughs(con)
        return dict(zip(frame["borough_code"], frame["borough_name"], strict=True))
    if by == "imd_quintile_national":
        return {"1": "Q1 (most deprived)", "2": "Q2", "3": "Q3", "4": "Q4", "5": "Q5 (least deprived)"}
    return {}


# ---------------------------------------------------------------- patient list


PATIENT_LIST_LIMIT = 500
SABA_LIST_TABLE = "asthma_saba_list"

# Every period's and practice's list at once, from the raw records (the build step).
_SABA_LIST_SQL = """
WITH flags AS (
    SELECT period_id, patient_id,
           bool_or(indicator_id = 'ast_saba_no_ics') AS no_ics,
           list_sort(list(DISTINCT CASE indicator_id WHEN 'ast_saba_3plus' THEN 3 WHEN 'ast_saba_6plus' THEN 6
                                   WHEN 'ast_saba_12plus' THEN 12 END) FILTER (indicator_id <> 'ast_saba_no_ics'))
             AS thresholds_met
    FROM ind_patient
    WHERE indicator_id IN ('ast_saba_no_ics', 'ast_saba_3plus', 'ast_saba_6plus', 'ast_saba_12plus')
      AND numerator = 1
    GROUP BY ALL
),
listed AS (
    SELECT f.period_id, f.patient_id, f.thresholds_met, p.start_date, p.end_date
    FROM flags AS f JOIN ind_period AS p USING (period_id)
    WHERE f.no_ics AND len(f.thresholds_met) > 0
),
inhalers AS (
    SELECT l.period_id, l.patient_id, sum(m.quantity) AS saba_inhalers, max(m.issue_date) AS last_saba
    FROM listed AS l JOIN medications AS m USING (patient_id)
    WHERE m.issue_date BETWEEN l.start_date AND l.end_date AND list_contains($saba, m.dmd_code)
    GROUP BY ALL
),
reviews AS (
    SELECT l.period_id, l.patient_id, max(e.event_date) AS last_review
    FROM listed AS l JOIN clinical_events AS e USING (patient_id)
    WHERE e.event_date <= l.end_date AND list_contains($review, e.snomed_code)
    GROUP BY ALL
)
SELECT l.period_id, d.practice_code, l.patient_id, l.thresholds_met, i.saba_inhalers, i.last_saba, r.last_review
FROM listed AS l
JOIN patient_dim AS d USING (patient_id)
LEFT JOIN inhalers AS i USING (period_id, patient_id)
LEFT JOIN reviews AS r USING (period_id, patient_id)
ORDER BY l.period_id, d.practice_code, l.patient_id
"""

_PATIENTS_SQL = """
WITH p AS (SELECT end_date FROM ind_period WHERE period_id = $period)
SELECT l.patient_id,
       date_diff('year', d.birth_date, p.end_date)
         - CASE WHEN p.end_date < d.birth_date + to_years(date_diff('year', d.birth_date, p.end_date))
                THEN 1 ELSE 0 END AS age,
       d.sex, d.ethnicity_group, d.practice_code, l.saba_inhalers, l.last_saba, l.last_review
FROM asthma_saba_list AS l
JOIN patient_dim AS d USING (patient_id)
CROSS JOIN p
WHERE l.period_id = $period AND l.practice_code = $practice AND d.practice_code = $practice
  AND list_contains(l.thresholds_met, $threshold) {scope}
ORDER BY l.saba_inhalers DESC NULLS LAST, l.patient_id
LIMIT $limit
"""


# The same list for one practice straight from the raw records (every prescription and clinical event of
# London scanned: ~200 ms at full scale): the definition the build's table is checked against.
_PATIENTS_FROM_RECORDS_SQL = """
WITH p AS (SELECT start_date, end_date FROM ind_period WHERE period_id = $period),
over AS (
    SELECT patient_id FROM ind_patient WHERE indicator_id = $over_indicator AND period_id = $period
      AND numerator = 1
),
no_ics AS (
    SELECT patient_id FROM ind_patient WHERE indicator_id = 'ast_saba_no_ics' AND period_id = $period
      AND numerator = 1
),
listed AS (
    SELECT d.patient_id, d.birth_date, d.sex, d.ethnicity_group, d.practice_code, d.borough_code
    FROM patient_dim AS d JOIN over USING (patient_id) JOIN no_ics USING (patient_id)
    WHERE d.practice_code = $practice {scope}
),
inhalers AS (
    SELECT m.patient_id, sum(m.quantity) AS saba, max(m.issue_date) AS last_saba
    FROM listed AS l JOIN medications AS m USING (patient_id), p
    WHERE m.issue_date BETWEEN p.start_date AND p.end_date AND list_contains($saba, m.dmd_code)
    GROUP BY ALL
),
reviews AS (
    SELECT e.patient_id, max(e.event_date) AS last_review
    FROM listed AS l JOIN clinical_events AS e USING (patient_id), p
    WHERE e.event_date <= p.end_date AND list_contains($review, e.snomed_code)
    GROUP BY ALL
)
SELECT l.patient_id,
       date_diff('year', l.birth_date, p.end_date)
         - CASE WHEN p.end_date < l.birth_date + to_years(date_diff('year', l.birth_date, p.end_date))
                THEN 1 ELSE 0 END AS age,
       l.sex, l.ethnicity_group, l.practice_code, i.saba AS saba_inhalers, i.last_saba, r.last_review
FROM listed AS l CROSS JOIN p
LEFT JOIN inhalers AS i USING (patient_id)
LEFT JOIN reviews AS r USING (patient_id)
ORDER BY i.saba DESC NULLS LAST, l.patient_id
LIMIT $limit
"""


def _saba_list_params() -> dict[str, Any]:
    return {"saba": sorted(codelists.codes("saba")), "review": sorted(codelists.codes("rev_cod"))}


def write_saba_list(con: Any) -> int:
    """Write ``asthma_saba_list`` (a build step): every patient who can be on the SABA patient list.

    One row per period and patient with SABA over-reliance and no ICS in it (``ind_patient``): the
    patient's practice, the thresholds met (3, 6, 12 inhalers), SABA inhalers and the last SABA issue
    in the period, and the last asthma review up to its end. Sorted by period and practice, so a
    practice's list reads a few rows instead of every prescription and clinical event in London
    (about 200 ms at full scale). Returns the number of rows written.
    """
    cursor = _cursor(con)
    cursor.execute(f"CREATE OR REPLACE TABLE {SABA_LIST_TABLE} AS {_SABA_LIST_SQL}", _saba_list_params())
    return cursor.execute(f"SELECT count(*) FROM {SABA_LIST_TABLE}").fetchone()[0]  # noqa: S608 (constant)


def saba_no_ics_patients(
    con: Any,
    *,
    period: str,
    practice_code: str,
    scope: RowScope,
    saba_threshold: int = 3,
    limit: int = PATIENT_LIST_LIMIT,
    from_records: bool = False,
) -> pd.DataFrame:
    """Patients of one practice on the asthma register in ``period`` with SABA over-reliance
    (``saba_threshold``+ inhalers in the period) and no ICS issued in it, within ``scope`` only.

    ``scope`` is the caller's :func:`security.roles.patient_row_scope` (never None here: a role without
    patient rows gets nothing). Rows: patient_id (pseudonymised), age at the period end, sex,
    ethnicity_group, practice_code, saba_inhalers, last_saba, last_review (any date up to the period end),
    most SABA first, at most ``limit``. Read from the build's ``asthma_saba_list``; ``from_records``
    derives the same rows from the raw records instead (the definition that table is held to).
    """
    if not isinstance(scope, RowScope):
        raise QueryError("Patient rows need a row scope.")
    if saba_threshold not in SABA_THRESHOLDS:
        raise QueryError(f"Unknown SABA threshold {saba_threshold!r}. Known: {SABA_THRESHOLDS}")
    params: dict[str, Any] = {
        "period": period,
        "practice": practice_code,
        "limit": int(min(max(limit, 1), PATIENT_LIST_LIMIT)),
    }
    if from_records:
        params.update(_saba_list_params(), over_indicator=f"ast_saba_{saba_threshold}plus")
        sql = _PATIENTS_FROM_RECORDS_SQL
    else:
        params["threshold"] = saba_threshold
        sql = _PATIENTS_SQL
    # scope: fixed column names, bound codes
    return _cursor(con).execute(sql.format(scope=" AND " + scope.bound_filter(params)), params).df()
