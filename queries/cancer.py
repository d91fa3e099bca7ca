"""Queries for the cancer pathways page: trusts, tumour groups, priority types, waits and pathway flows.

The engine (:mod:`queries.indicators`) answers every cancer indicator by patient geography and
equity dimension. What it cannot cut by is the pathway itself: the trust that first saw the patient
or treated them, the tumour group (suspected site) and the priority type. This module adds those
cuts without re-deriving any rule: it reads the engine's own per-pathway facts (``ind_patient``,
whose ``unit_id`` is the pathway or tumour) and joins each fact to its pathway. So a number here
with no site/priority filter equals the engine's number for the same area and period.

Per process, two small tables are built once in an in-memory DuckDB database attached to the
read-only handle (every cursor sees it), as the immunisation cohort cache does:

- ``cancer_cache.fact_cube``: numerator and denominator by indicator, period, trust, tumour group,
  priority type, practice borough / ICB and residence borough (far fewer rows than pathways);
- ``cancer_cache.waits``: pathways by month of the clock stop, measure (``told`` = referral to
  FDS outcome; ``treated`` = referral to first treatment), first-seen and treating trust, tumour
  group, priority type, residence borough and days waited (capped at :data:`WAIT_CAP_DAYS`).

A click then only sums one of these. Trust results carry the engine's statistics (Wilson 95 % and
99.8 % intervals, comparison with London by polarity, funnel classes) and the same disclosure rule.
"""

from __future__ import annotations

import csv
import datetime as dt
import threading
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from queries import disclosure, stats
from queries.cache import cached_query
from queries.db import without_query_timeout
from queries.indicators import (
    QueryError,
    default_period,
    disclose_trend,
    indicator_statistics,
    rows_for_spc,
    scaled_funnel_limits,
    spc_columns,
)
from queries.materialise import LONDON_CODE, TUMOURS_SQL
from queries.registry import get

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "data" / "reference"
TRUST_SITES_FILE = REFERENCE_DIR / "london_acute_trust_sites.csv"

# The page's indicators in display order: the three waiting-time standards, then registry and referral measures.
CANCER_INDICATORS: tuple[str, ...] = (
    "cwt_fds_28d",
    "cwt_31d",
    "cwt_62d",
    "cancer_early_stage",
    "cancer_emergency_route",
    "cancer_conversion_rate",
)
TUMOUR_INDICATORS: tuple[str, ...] = ("cancer_early_stage", "cancer_emergency_route")
# Which trust a pathway standard is reported against (CWT: the FDS by the trust that first saw the patient,
# the 31 and 62-day standards by the treating trust).
TRUST_ROLE = {
    "cwt_fds_28d": "first_seen",
    "cancer_conversion_rate": "first_seen",
    "cwt_31d": "treating",
    "cwt_62d": "treating",
}

TUMOUR_GROUPS: tuple[tuple[str, str], ...] = (
    ("breast", "Breast"),
    ("lower_gi", "Lower GI"),
    ("upper_gi", "Upper GI"),
    ("lung", "Lung"),
    ("skin", "Skin"),
    ("urological", "Urological"),
    ("gynaecological", "Gynaecological"),
    ("head_and_neck", "Head and neck"),
    ("haematological", "Haematological"),
    ("other", "Other"),
)
PRIORITY_TYPES: tuple[tuple[str, str], ...] = (
    ("urgent_suspected_cancer", "Urgent suspected cancer"),
    ("breast_symptomatic", "Breast symptomatic"),
    ("screening", "Screening"),
    ("consultant_upgrade", "Consultant upgrade"),
)
_TUMOUR_CODES = {code for code, _ in TUMOUR_GROUPS}
_PRIORITY_CODES = {code for code, _ in PRIORITY_TYPES}
# Priority types a standard does not count (queries.materialise): the Faster Diagnosis Standard and the
# conversion rate start at a referral, and a consultant upgrade is not one (it joins the 62-day standard).
NOT_COUNTED_PRIORITIES = {
    "cwt_fds_28d": frozenset({"consultant_upgrade"}),
    "cancer_conversion_rate": frozenset({"consultant_upgrade"}),
}


def not_counted_text(indicator: str, priority_type: str) -> str | None:
    """Why ``indicator`` has nothing for ``priority_type`` pathways (it never counts them), or None if it does."""
    if priority_type not in NOT_COUNTED_PRIORITIES.get(indicator, ()):
        return None
    label = dict(PRIORITY_TYPES)[priority_type].lower()
    return f"{get(indicator).title} does not count {label} pathways: choose another priority type or standard."


# Registered tumours have an ICD-10 code, not a suspected site: the ICD-10 3-character ranges of each CWT
# tumour group (NHS England CWT tumour-group mapping, simplified to the groups the extract uses).
ICD10_TUMOUR_GROUP_SQL = """
CASE
    WHEN left(icd10_code, 3) = 'C50' THEN 'breast'
    WHEN left(icd10_code, 3) BETWEEN 'C18' AND 'C21' THEN 'lower_gi'
    WHEN left(icd10_code, 3) BETWEEN 'C15' AND 'C17' OR left(icd10_code, 3) BETWEEN 'C22' AND 'C25' THEN 'upper_gi'
    WHEN left(icd10_code, 3) IN ('C33', 'C34', 'C45') THEN 'lung'
    WHEN left(icd10_code, 3) = 'C43' THEN 'skin'
    WHEN left(icd10_code, 3) IN ('C60', 'C61', 'C62', 'C64', 'C65', 'C66', 'C67', 'C68') THEN 'urological'
    WHEN left(icd10_code, 3) BETWEEN 'C51' AND 'C58' THEN 'gynaecological'
    WHEN left(icd10_code, 3) BETWEEN 'C00' AND 'C14' OR left(icd10_code, 3) BETWEEN 'C30' AND 'C32' THEN 'head_and_neck'
    WHEN left(icd10_code, 3) BETWEEN 'C81' AND 'C96' THEN 'haematological'
    ELSE 'other'
END
"""

# Operational targets on the way to the constitutional standards (docs/clinical-indicators.md section 4.1):
# (first day in force, target %). FDS 75 % from its introduction (Oct 2021), 77 % for March 2025, 80 % for March
# 2026; 62-day 70 % for March 2025, 75 % for March 2026 (85 % constitutional, by March 2029); 31-day 96 %.
# A target "for March 2025" is taken to apply through the financial year 2024/25.
OPERATIONAL_TARGETS: dict[str, tuple[tuple[dt.date, float], ...]] = {
    "cwt_fds_28d": ((dt.date(2021, 10, 1), 75.0), (dt.date(2024, 4, 1), 77.0), (dt.date(2025, 4, 1), 80.0)),
    "cwt_62d": ((dt.date(2024, 4, 1), 70.0), (dt.date(2025, 4, 1), 75.0)),
    "cwt_31d": ((dt.date(2021, 10, 1), 96.0),),
}


def target_in_force(indicator: str, day: dt.date) -> float | None:
    """The operational target (percent) in force on ``day`` for a waiting-time standard; None if none applies."""
    current = None
    for start, target in OPERATIONAL_TARGETS.get(indicator, ()):
        if day >= start:
            current = target
    return current


# Waits above this many days are counted in the last bin ("150 days or more").
WAIT_CAP_DAYS = 150
FDS_DAYS = 28
TREATMENT_DAYS = 62
WAIT_MEASURES = ("told", "treated")

CACHE_DATABASE = "cancer_cache"
_cache_lock = threading.Lock()

# Dimensions a trust/site/priority query may group or filter by: name -> fact_cube column.
CUBE_DIMENSIONS = {
    "london": None,
    "trust": "trust_code",
    "borough": "borough_code",
    "icb": "icb_code",
    "residence_borough": "residence_borough_code",
    "tumour_group": "tumour_group",
    "priority_type": "priority_type",
}
VALUE_COLUMNS = [
    "indicator_id",
    "period_id",
    "area_code",
    "area_name",
    "numerator",
    "denominator",
    "value",
    "ci_low",
    "ci_high",
    "ci99_low",
    "ci99_high",
    "london_value",
    "comparison",
    "patients_to_target",
    "suppressed",
]
_DERIVED = ["value", "ci_low", "ci_high", "ci99_low", "ci99_high"]
_DECIMALS = 1  # every cancer measure is a percentage (queries.registry: unit "percent")

# The pathway measures, and those reported against the treating trust, as SQL lists (module constants only).
_PATHWAY_MEASURES_SQL = ", ".join(f"'{indicator}'" for indicator in TRUST_ROLE)
_TREATED_AT_SQL = ", ".join(f"'{indicator}'" for indicator, role in TRUST_ROLE.items() if role == "treating")
_FACT_CUBE_SQL = f"""
CREATE TABLE {CACHE_DATABASE}.fact_cube AS
WITH pathway_facts AS (
    SELECT f.indicator_id, f.period_id, f.patient_id, f.numerator, f.denominator,
           CASE WHEN f.indicator_id IN ({_TREATED_AT_SQL}) THEN c.treatment_provider_code
                ELSE c.provider_code END AS trust_code,
           c.suspected_site AS tumour_group, c.priority_type
    FROM ind_patient AS f
    JOIN cancer_pathways AS c ON c.pathway_id = f.unit_id
    WHERE f.indicator_id IN ({_PATHWAY_MEASURES_SQL})
),
tumours AS (
    -- the engine's own tumours and ids (queries.materialise.TUMOURS_SQL), so every tumour fact finds its group
    SELECT t.unit_id, {ICD10_TUMOUR_GROUP_SQL} AS tumour_group
    FROM ({TUMOURS_SQL}) AS t
),
tumour_facts AS (
    SELECT f.indicator_id, f.period_id, f.patient_id, f.numerator, f.denominator,
           CAST(NULL AS VARCHAR) AS trust_code, t.tumour_group, CAST(NULL AS VARCHAR) AS priority_type
    FROM ind_patient AS f
    JOIN tumours AS t ON t.unit_id = f.unit_id
    WHERE f.indicator_id IN ('cancer_early_stage', 'cancer_emergency_route')
)
SELECT x.indicator_id, x.period_id, x.trust_code, x.tumour_group, x.priority_type,
       d.borough_code, d.icb_code, d.residence_borough_code,
       sum(x.numerator) AS numerator, sum(x.denominator) AS denominator
FROM (SELECT * FROM pathway_facts UNION ALL SELECT * FROM tumour_facts) AS x
JOIN patient_dim AS d USING (patient_id)
GROUP BY ALL
ORDER BY indicator_id, period_id
"""  # noqa: S608 (module constants only)

# Pathways counted in each distribution follow the standard they illustrate: 'told' the FDS pathways
# (urgent suspected cancer, breast symptomatic, screening) by told date; 'treated' the 62-day pathways
# (those types and consultant upgrades, cancer confirmed or outcome not recorded) by treatment date.
_WAITS_SQL = f"""
CREATE TABLE {CACHE_DATABASE}.waits AS
WITH stops AS (
    SELECT 'told' AS measure, date_trunc('month', c.diagnosis_told_date) AS stop_month,
           least(date_diff('day', c.referral_date, c.diagnosis_told_date), {WAIT_CAP_DAYS}) AS days,
           c.patient_id, c.provider_code, c.treatment_provider_code, c.suspected_site, c.priority_type
    FROM cancer_pathways AS c
    WHERE c.diagnosis_told_date IS NOT NULL
      AND c.priority_type IN ('urgent_suspected_cancer', 'breast_symptomatic', 'screening')
    UNION ALL
    SELECT 'treated', date_trunc('month', c.treatment_start_date),
           least(date_diff('day', c.referral_date, c.treatment_start_date), {WAIT_CAP_DAYS}),
           c.patient_id, c.provider_code, c.treatment_provider_code, c.suspected_site, c.priority_type
    FROM cancer_pathways AS c
    WHERE c.treatment_start_date IS NOT NULL
      AND c.priority_type IN ('urgent_suspected_cancer', 'breast_symptomatic', 'screening', 'consultant_upgrade')
      AND coalesce(c.diagnosis_outcome, 'cancer_confirmed') = 'cancer_confirmed'
)
SELECT s.measure, CAST(s.stop_month AS DATE) AS stop_month, s.days,
       s.provider_code AS first_trust_code, s.treatment_provider_code AS treating_trust_code,
       s.suspected_site AS tumour_group, s.priority_type,
       d.residence_borough_code, b.icb_code AS residence_icb_code, d.borough_code, d.icb_code,
       count(*) AS pathways
FROM stops AS s
JOIN patient_dim AS d USING (patient_id)
LEFT JOIN ref_boroughs AS b ON b.borough_code = d.residence_borough_code
GROUP BY ALL
ORDER BY measure, stop_month
"""  # noqa: S608 (module constants only)


def ensure_cache(con: Any) -> None:
    """Build, once per database handle, the trust/site/priority fact cube and the waits table (see module doc).

    Built at start-up (``app.start_worker``); a process that was not warmed builds it on its first request,
    without the per-query time limit: on a loaded machine the build passed the limit, was interrupted, and
    every later request retried it and waited the full limit (10 s each in the scale-1.0 callback bench).
    """
    with _cache_lock, without_query_timeout():
        cursor = con.cursor()
        built = cursor.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name IN ('fact_cube', 'waits')",
            [CACHE_DATABASE],
        ).fetchone()[0]
        if built == 2:
            return
        cursor.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {CACHE_DATABASE} (READ_WRITE)")
        cursor.execute(f"DROP TABLE IF EXISTS {CACHE_DATABASE}.fact_cube")
        cursor.execute(f"DROP TABLE IF EXISTS {CACHE_DATABASE}.waits")
        cursor.execute(_FACT_CUBE_SQL)
        cursor.execute(_WAITS_SQL)


# ---------------------------------------------------------------- reference: trusts and their sites


@cache
def trust_sites() -> pd.DataFrame:
    """The London acute trusts' main sites: trust_code, trust_name, site_name, lat, lon (one row per trust).

    Read from ``data/reference/london_acute_trust_sites.csv`` (approximate coordinates; see SOURCES.md).
    """
    with TRUST_SITES_FILE.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    frame = pd.DataFrame(rows)
    frame["lat"] = frame["lat"].astype(float)
    frame["lon"] = frame["lon"].astype(float)
    return frame.drop_duplicates("trust_code").reset_index(drop=True)


def trust_names() -> dict[str, str]:
    """Trust ODS code -> trust name."""
    sites = trust_sites()
    return dict(zip(sites["trust_code"], sites["trust_name"], strict=True))


def short_trust_name(name: str) -> str:
    """A trust name without 'NHS Foundation Trust' / 'NHS Trust' (for axes and Sankey nodes)."""
    for suffix in (" NHS Foundation Trust", " NHS Trust"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def reference_names(con: Any) -> dict[str, dict[str, str]]:
    """Code -> name for boroughs and ICBs (short names) from the database's reference tables."""
    cursor = con.cursor()
    boroughs = dict(cursor.execute("SELECT borough_code, borough_name FROM ref_boroughs").fetchall())
    icbs = dict(cursor.execute("SELECT icb_code, icb_short_name FROM ref_icbs").fetchall())
    return {"borough": boroughs, "icb": icbs, "residence_borough": boroughs}


def period_choices(con: Any, *, indicator: str) -> pd.DataFrame:
    """The indicator's periods, newest first, with ``period_type`` and ``label`` (month, quarter, financial year)."""
    spec = get(indicator)
    return (
        con.cursor()
        .execute(
            "SELECT period_id, period_type, start_date, end_date, label FROM ind_period "
            "WHERE list_contains($types, period_type) ORDER BY end_date DESC, period_type",
            {"types": list(spec.period_types)},
        )
        .df()
    )


def period_bounds(con: Any, period: str) -> tuple[Any, Any, str]:
    """(start_date, end_date, period_type) of a period id; raises :class:`QueryError` if unknown."""
    row = (
        con.cursor()
        .execute("SELECT start_date, end_date, period_type FROM ind_period WHERE period_id = ?", [period])
        .fetchone()
    )
    if row is None:
        raise QueryError(f"Unknown period {period!r}")
    return row[0], row[1], row[2]


# ---------------------------------------------------------------- indicator values by trust / site / priority


def pathway_filters(
    *, tumour_group: str | None = None, priority_type: str | None = None, indicator: str | None = None
) -> dict[str, list[str]]:
    """Cube filters for a tumour group and priority type; unknown codes raise :class:`QueryError`.

    Tumour indicators (stage, route) have no priority type: the priority filter is dropped for them.
    """
    filters: dict[str, list[str]] = {}
    if tumour_group:
        if tumour_group not in _TUMOUR_CODES:
            raise QueryError(f"Unknown tumour group {tumour_group!r}")
        filters["tumour_group"] = [tumour_group]
    if priority_type and indicator not in TUMOUR_INDICATORS:
        if priority_type not in _PRIORITY_CODES:
            raise QueryError(f"Unknown priority type {priority_type!r}")
        if indicator and (reason := not_counted_text(indicator, priority_type)):
            # Not "no patients in this period": an empty map and funnel read as missing data.
            raise QueryError(reason)
        filters["priority_type"] = [priority_type]
    return filters


def _where(filters: dict[str, Any] | None, params: dict[str, Any]) -> str:
    clauses = []
    for index, (name, values) in enumerate((filters or {}).items()):
        if name not in CUBE_DIMENSIONS or CUBE_DIMENSIONS[name] is None:
            raise QueryError(f"Cannot filter cancer pathways by {name!r}")
        key = f"f{index}"
        params[key] = [str(v) for v in (values if isinstance(values, list | tuple | set) else [values])]
        clauses.append(f"list_contains(${key}, {CUBE_DIMENSIONS[name]})")
    return "".join(f" AND {clause}" for clause in clauses)


def _sum_cube(con: Any, *, indicator: str, periods: list[str], by: str, filters: dict[str, Any] | None) -> pd.DataFrame:
    if by not in CUBE_DIMENSIONS:
        raise QueryError(f"Unknown dimension {by!r} for cancer pathways. Known: {', '.join(CUBE_DIMENSIONS)}")
    ensure_cache(con)
    params: dict[str, Any] = {"indicator": indicator, "periods": periods}
    where = _where(filters, params)
    column = CUBE_DIMENSIONS[by]
    code = f"'{LONDON_CODE}'" if column is None else f"coalesce({column}, 'unknown')"
    sql = (
        f"SELECT period_id, {code} AS area_code, sum(numerator) AS numerator, "  # noqa: S608 (whitelisted)
        f"sum(denominator) AS denominator FROM {CACHE_DATABASE}.fact_cube "
        f"WHERE indicator_id = $indicator AND list_contains($periods, period_id){where} GROUP BY ALL ORDER BY ALL"
    )
    return con.cursor().execute(sql, params).df()


def _area_names(con: Any, by: str, codes) -> list[str]:
    if by == "london":
        return ["London"] * len(codes)
    if by == "trust":
        names = {code: short_trust_name(name) for code, name in trust_names().items()}
    elif by == "tumour_group":
        names = dict(TUMOUR_GROUPS)
    elif by == "priority_type":
        names = dict(PRIORITY_TYPES)
    else:
        names = reference_names(con)[by]
    return [names.get(code, "Unknown" if code == "unknown" else code) for code in codes]


def _with_statistics(spec, frame: pd.DataFrame, *, london_num: float, london_den: float) -> pd.DataFrame:
    """The engine's statistics on summed counts (:func:`queries.indicators.indicator_statistics`): value, Wilson
    intervals, comparison with London (``london_num`` of ``london_den``), people to target."""
    numerator = frame["numerator"].to_numpy(dtype=float)
    denominator = frame["denominator"].to_numpy(dtype=float)
    london = float(stats.scaled_rate(london_num, london_den, spec.scale))
    statistics = indicator_statistics(spec, numerator, denominator, benchmark=london)
    out = frame.copy()
    for column in ("value", "ci_low", "ci_high", "ci99_low", "ci99_high"):
        out[column] = statistics[column]
    out["london_value"] = london
    out["comparison"] = statistics["comparison"]
    out["patients_to_target"] = statistics["patients_to_target"]
    out["suppressed"] = False
    return out


def _disclose(frame: pd.DataFrame, *, london_num: float, london_den: float, extra: list[str] = ()) -> pd.DataFrame:
    # Every cancer measure is a percentage, shown to one decimal place.
    safe = disclosure.apply(
        frame, other_counts=["patients_to_target"], derived=_DERIVED + ["comparison", *extra], decimals=_DECIMALS
    )
    safe["london_value"] = disclosure.shown_figures(safe["london_value"].to_numpy(dtype=object), _DECIMALS)
    safe["comparison"] = safe["comparison"].where(safe["comparison"].notna(), "not compared")
    if disclosure.is_suppressed(london_num) or disclosure.is_suppressed(london_den):
        safe["london_value"] = None
    return safe


@cached_query
def pathway_values(
    con: Any,
    *,
    indicator: str,
    period: str | None = None,
    by: str = "trust",
    filters: dict[str, Any] | None = None,
    disclose: bool = True,
) -> pd.DataFrame:
    """One cancer indicator per trust, tumour group, priority type or area, with the engine's columns.

    ``by``: a key of :data:`CUBE_DIMENSIONS` (``trust`` = the first-seen trust for the FDS and
    conversion rate, the treating trust for the 31 and 62-day standards; tumour indicators have no
    trust). ``filters``: the same keys -> values (e.g. from :func:`pathway_filters`). London is
    every pathway matching the filters. Counts go through the disclosure rule unless ``disclose``
    is False.
    """
    spec = get(indicator)
    if indicator not in CANCER_INDICATORS:
        raise QueryError(f"{indicator} is not a cancer indicator")
    if by == "trust" and indicator in TUMOUR_INDICATORS:
        raise QueryError(f"{spec.title}: registered tumours carry no trust")
    period = period or default_period(con, indicator)
    summed = _sum_cube(con, indicator=indicator, periods=[period], by=by, filters=filters)
    london_num, london_den = float(summed["numerator"].sum()), float(summed["denominator"].sum())
    frame = pd.DataFrame(
        {
            "indicator_id": indicator,
            "period_id": period,
            "area_code": summed["area_code"].astype(object),
            "area_name": _area_names(con, by, summed["area_code"]),
            "numerator": summed["numerator"].astype(float),
            "denominator": summed["denominator"].astype(float),
        }
    )
    frame = _with_statistics(spec, frame, london_num=london_num, london_den=london_den)[VALUE_COLUMNS]
    if disclose:
        frame = _disclose(frame, london_num=london_num, london_den=london_den)
    return frame.reset_index(drop=True)


@cached_query
def trust_funnel(
    con: Any,
    *,
    indicator: str,
    period: str | None = None,
    filters: dict[str, Any] | None = None,
    disclose: bool = True,
) -> dict[str, Any]:
    """Trusts around London as :func:`queries.indicators.funnel_limits` returns areas.

    ``{"london_value", "limits", "points"}``: exact binomial 95 % / 99.8 % limits by denominator
    and each trust's ``funnel`` class, computed from unrounded counts, then disclosed.
    """
    raw = pathway_values(con, indicator=indicator, period=period, by="trust", filters=filters, disclose=False)
    london_num, london_den = float(raw["numerator"].sum()), float(raw["denominator"].sum())
    p0 = london_num / london_den if london_den else float("nan")
    limits_p0, limits_top = p0, float(raw["denominator"].max()) if len(raw) else 1.0
    points = raw.copy()
    if len(points):
        den = points["denominator"].to_numpy()
        proportion = points["value"].to_numpy(dtype=float) / 100
        points["funnel"] = stats.funnel_class(proportion, den, stats.binomial_funnel_bounds(den, p0))
    else:
        points["funnel"] = pd.Series(dtype=object)
    if disclose:
        points = _disclose(points, london_num=london_num, london_den=london_den, extra=["funnel"])
        london_suppressed = disclosure.is_suppressed(london_num) or disclosure.is_suppressed(london_den)
        limits_p0, limits_top = disclosure.funnel_basis(
            p0, points["denominator"], london_suppressed=london_suppressed, scale=100, decimals=_DECIMALS
        )
        if london_suppressed:
            p0 = float("nan")
    limits = scaled_funnel_limits(get(indicator), limits_p0, limits_top)
    london_value = p0 * 100
    return {
        "london_value": float(disclosure.shown_figures(london_value, _DECIMALS)) if disclose else london_value,
        "limits": limits,
        "points": points,
    }


@cached_query
def pathway_trend(
    con: Any,
    *,
    indicator: str,
    trust: str | None = None,
    filters: dict[str, Any] | None = None,
    disclose: bool = True,
) -> pd.DataFrame:
    """The indicator over every period of its trend type (monthly for the standards), London or one trust.

    Rows as :func:`queries.indicators.trend`: values, intervals, period dates and labels, and the
    Making Data Count p-chart columns (centre, limits, ``variation``) computed from unrounded counts.
    """
    spec = get(indicator)
    period_rows = (
        con.cursor()
        .execute(
            "SELECT period_id, start_date, end_date, label AS period_label FROM ind_period WHERE period_type = ? "
            "ORDER BY end_date",
            [spec.trend_period_type],
        )
        .df()
    )
    chosen = dict(filters or {})
    if trust:
        if indicator in TUMOUR_INDICATORS:
            raise QueryError(f"{spec.title}: registered tumours carry no trust")
        chosen["trust"] = [trust]
    summed = _sum_cube(con, indicator=indicator, periods=period_rows["period_id"].tolist(), by="london", filters=chosen)
    series = period_rows.merge(summed[["period_id", "numerator", "denominator"]], on="period_id", how="left")
    series[["numerator", "denominator"]] = series[["numerator", "denominator"]].fillna(0.0).astype(float)
    series.insert(0, "indicator_id", indicator)
    series["area_code"] = trust or LONDON_CODE
    series["area_name"] = short_trust_name(trust_names().get(trust, trust)) if trust else "London"
    total_num, total_den = series["numerator"].sum(), series["denominator"].sum()
    series = _with_statistics(spec, series, london_num=total_num, london_den=total_den)
    series["london_value"] = None  # a trend has no single benchmark; the SPC centre line plays that part
    series["operational_target"] = [target_in_force(indicator, pd.Timestamp(day).date()) for day in series["end_date"]]
    chart = spc_columns(spec, rows_for_spc(series, disclose=disclose))
    if chart is not None:
        series = series.join(chart)
    if disclose:
        series = disclose_trend(series, decimals=_DECIMALS)
    return series.reset_index(drop=True)


# ---------------------------------------------------------------- waits and flows


def _waits_filters(filters: dict[str, Any] | None, params: dict[str, Any]) -> str:
    columns = {
        "tumour_group": "tumour_group",
        "priority_type": "priority_type",
        "first_trust": "first_trust_code",
        "treating_trust": "treating_trust_code",
        "residence_borough": "residence_borough_code",
        "borough": "borough_code",
        "icb": "icb_code",
    }
    clauses = []
    for index, (name, values) in enumerate((filters or {}).items()):
        if name not in columns:
            raise QueryError(f"Cannot filter waits by {name!r}")
        key = f"w{index}"
        params[key] = [str(v) for v in (values if isinstance(values, list | tuple | set) else [values])]
        clauses.append(f"list_contains(${key}, {columns[name]})")
    return "".join(f" AND {clause}" for clause in clauses)


def wait_bin_ends(*, standard: int, bin_days: int) -> np.ndarray:
    """Last day of each wait bin: ``standard`` is a bin end, bins are ``bin_days`` wide, the last ends at the cap.

    The first bin starts at day 0 and may be up to ``bin_days`` + 1 wide (when the standard is a
    multiple of the bin width, e.g. 0-7 for 7-day bins around 28 days).
    """
    first = standard % bin_days
    if first == 0 and bin_days > 1:
        first = bin_days  # no bin of day 0 alone
    ends = np.arange(first, WAIT_CAP_DAYS, bin_days)
    return np.append(ends, WAIT_CAP_DAYS)


@cached_query
def wait_distribution(
    con: Any,
    *,
    measure: str,
    period: str,
    trust: str | None = None,
    filters: dict[str, Any] | None = None,
    bin_days: int = 7,
    disclose: bool = True,
) -> pd.DataFrame:
    """Pathways by days waited, in bins of ``bin_days``, for pathways whose clock stopped in ``period``.

    ``measure``: ``told`` (referral to being told the FDS outcome; the first-seen trust) or
    ``treated`` (referral to first treatment on 62-day pathways; the treating trust). ``trust``
    limits to one trust in that role. Columns: ``bin_start``, ``bin_end`` (days, inclusive; the
    last bin is open-ended at :data:`WAIT_CAP_DAYS`), ``pathways``, ``share`` (percent of
    pathways), ``within_standard`` (the bin ends on or before 28 / 62 days) and ``suppressed``.
    Bins are anchored on the standard so that it is always a bin edge: with 7-day bins the
    told bins end on days 7 (0-7), 14, 21, 28, 35, ... and the treated bins on 6, 13, ..., 55, 62,
    69, ...; so day 28 (or 62) is inside the standard's last bin and day 29 (63) starts the next.
    """
    if measure not in WAIT_MEASURES:
        raise QueryError(f"measure must be one of {', '.join(WAIT_MEASURES)}")
    if not 1 <= int(bin_days) <= 31:
        raise QueryError("bin_days must be between 1 and 31")
    ensure_cache(con)
    start, end, _kind = period_bounds(con, period)
    params: dict[str, Any] = {"measure": measure, "start": start, "end": end}
    chosen = dict(filters or {})
    if trust:
        chosen["first_trust" if measure == "told" else "treating_trust"] = [trust]
    where = _waits_filters(chosen, params)
    rows = (
        con.cursor()
        .execute(
            f"SELECT days, sum(pathways) AS pathways FROM {CACHE_DATABASE}.waits "  # noqa: S608 (whitelisted)
            f"WHERE measure = $measure AND stop_month BETWEEN $start AND $end{where} GROUP BY days ORDER BY days",
            params,
        )
        .df()
    )
    standard = FDS_DAYS if measure == "told" else TREATMENT_DAYS
    ends = wait_bin_ends(standard=standard, bin_days=int(bin_days))
    starts = np.concatenate([[0], ends[:-1] + 1])
    days = rows["days"].to_numpy(dtype=int) if len(rows) else np.array([], dtype=int)
    counts = np.zeros(len(ends), dtype=float)
    np.add.at(
        counts,
        np.searchsorted(ends, days),
        rows["pathways"].to_numpy(dtype=float) if len(rows) else np.array([], dtype=float),
    )
    total = counts.sum()
    frame = pd.DataFrame(
        {
            "measure": measure,
            "period_id": period,
            "trust_code": trust,
            "bin_start": starts,
            "bin_end": ends,
            "open_ended": ends >= WAIT_CAP_DAYS,
            "pathways": counts,
            "share": counts / total * 100 if total else np.nan,
            "within_standard": ends <= standard,
            "suppressed": False,
        }
    )
    if disclose:
        frame = disclosure.apply(frame, counts=["pathways"], basis=["pathways"])
        # Shares of the rounded counts over their rounded total (None where a bin's count is hidden): shares of
        # the exact total gave each shown bin's exact count back (10 pathways at 22.7 % of 44), and the
        # suppressed bins' sum as the remainder.
        shown = pd.to_numeric(frame["pathways"], errors="coerce")
        shown_total = disclosure.disclose_count(total)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = shown / shown_total * 100 if shown_total else shown * np.nan
        frame["share"] = share.round(_DECIMALS).astype(object).where(share.notna(), None)
    return frame


@cached_query
def wait_summary(
    con: Any,
    *,
    measure: str,
    period: str,
    filters: dict[str, Any] | None = None,
    disclose: bool = True,
) -> pd.DataFrame:
    """Per trust (and London first): pathways, median and 90th-centile days, and the share within 28 / 62 days.

    Centiles come from the day counts (waits over :data:`WAIT_CAP_DAYS` count as that many days, so a
    90th centile of 150 reads "150 or more"). Restricted roles: trusts with 1-7 pathways show no
    numbers; pathway counts are rounded to 5.
    """
    if measure not in WAIT_MEASURES:
        raise QueryError(f"measure must be one of {', '.join(WAIT_MEASURES)}")
    ensure_cache(con)
    start, end, _kind = period_bounds(con, period)
    params: dict[str, Any] = {"measure": measure, "start": start, "end": end}
    where = _waits_filters(filters, params)
    trust_column = "first_trust_code" if measure == "told" else "treating_trust_code"
    params.update({"london": LONDON_CODE, "standard": FDS_DAYS if measure == "told" else TREATMENT_DAYS})
    # One pass in SQL (a per-trust pandas loop cost ~10x more): pathways by trust and day, London as a grouping
    # set, then the centiles as the first day whose cumulative share reaches 50 % / 90 %.
    frame = (
        con.cursor()
        .execute(
            f"""
        WITH days AS (
            SELECT coalesce(CASE WHEN GROUPING({trust_column}) = 1 THEN $london END,
                            {trust_column}, 'unknown') AS trust_code,
                   days, sum(pathways) AS pathways
            FROM {CACHE_DATABASE}.waits
            WHERE measure = $measure AND stop_month BETWEEN $start AND $end{where}
            GROUP BY GROUPING SETS (({trust_column}, days), (days))
        ),
        running AS (
            SELECT *, sum(pathways) OVER (PARTITION BY trust_code ORDER BY days) AS cumulative,
                   sum(pathways) OVER (PARTITION BY trust_code) AS total
            FROM days
        )
        SELECT trust_code, CAST(any_value(total) AS DOUBLE) AS pathways,
               CAST(coalesce(sum(pathways) FILTER (WHERE days <= $standard), 0) AS DOUBLE) AS within_standard,
               CAST(min(days) FILTER (WHERE cumulative >= 0.5 * total - 1e-9) AS DOUBLE) AS median_days,
               CAST(min(days) FILTER (WHERE cumulative >= 0.9 * total - 1e-9) AS DOUBLE) AS p90_days
        FROM running GROUP BY trust_code
        ORDER BY trust_code <> $london, trust_code
        """,  # noqa: S608 (whitelisted identifiers, bound values)
            params,
        )
        .df()
    )
    names = {code: short_trust_name(name) for code, name in trust_names().items()}
    if not len(frame):
        frame = pd.DataFrame(
            {
                "trust_code": [LONDON_CODE],
                "pathways": [0.0],
                "within_standard": [0.0],
                "median_days": [np.nan],
                "p90_days": [np.nan],
            }
        )
    frame.insert(0, "period_id", period)
    frame.insert(0, "measure", measure)
    frame.insert(3, "trust_name", [("London" if c == LONDON_CODE else names.get(c, c)) for c in frame["trust_code"]])
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["share_within"] = np.where(
            frame["pathways"] > 0, frame["within_standard"] / frame["pathways"] * 100, np.nan
        )
    frame["suppressed"] = False
    frame = frame[
        [
            "measure",
            "period_id",
            "trust_code",
            "trust_name",
            "pathways",
            "within_standard",
            "share_within",
            "median_days",
            "p90_days",
            "suppressed",
        ]
    ]
    if disclose and len(frame):
        # The share within the standard rests on both counts: hidden when either is 1-7 (a trust's
        # "10 pathways, 87.5 % within" was 7 of 8). Its median and 90th centile rest on the pathways alone.
        few_within = disclosure.disclose_array(frame["within_standard"])[1]
        frame = disclosure.apply(
            frame,
            counts=["pathways", "within_standard"],
            basis=["pathways"],
            derived=["share_within", "median_days", "p90_days"],
            decimals=_DECIMALS,
        )
        frame["share_within"] = frame["share_within"].where(~few_within, None)
    return frame


# Where a flow starts: where the patient lives, or where the referring GP practice is (borough or ICB).
FLOW_ORIGINS = {
    "residence_icb": "residence_icb_code",
    "residence_borough": "residence_borough_code",
    "referring_icb": "icb_code",
    "referring_borough": "borough_code",
}


@cached_query
def pathway_flows(
    con: Any,
    *,
    period: str,
    origin: str = "residence_icb",
    filters: dict[str, Any] | None = None,
    disclose: bool = True,
) -> pd.DataFrame:
    """Treated 62-day pathways from where patients live or are referred, to the first-seen trust, to the treating one.

    Two stages of links for a Sankey: ``stage`` 1 = origin -> first-seen trust, 2 = first-seen ->
    treating trust, each with ``source``, ``target`` (display names, trusts marked "(first seen)" /
    "(treated)" so one trust appears once per column), ``source_code``, ``target_code``, ``patients``
    (pathways), ``crosses`` (treated at another trust than first seen) and ``suppressed``.
    ``origin``: a key of :data:`FLOW_ORIGINS` (ICB or borough of residence, or of the referring GP
    practice). Counts of 1-7 are suppressed per link.
    """
    if origin not in FLOW_ORIGINS:
        raise QueryError(f"origin must be one of {', '.join(FLOW_ORIGINS)}")
    ensure_cache(con)
    start, end, _kind = period_bounds(con, period)
    params: dict[str, Any] = {"start": start, "end": end}
    where = _waits_filters(filters, params)
    origin_column = FLOW_ORIGINS[origin]
    rows = (
        con.cursor()
        .execute(
            f"SELECT coalesce({origin_column}, 'unknown') AS origin, "  # noqa: S608 (whitelisted)
            "coalesce(first_trust_code, 'unknown') AS first_trust, coalesce(treating_trust_code, 'unknown') AS "
            f"treating_trust, sum(pathways) AS pathways FROM {CACHE_DATABASE}.waits "
            f"WHERE measure = 'treated' AND stop_month BETWEEN $start AND $end{where} GROUP BY ALL",
            params,
        )
        .df()
    )
    names = reference_names(con)["icb" if origin.endswith("_icb") else "borough"]
    trusts = {code: short_trust_name(name) for code, name in trust_names().items()}
    first = rows.groupby(["origin", "first_trust"], as_index=False)["pathways"].sum()
    second = rows.groupby(["first_trust", "treating_trust"], as_index=False)["pathways"].sum()
    links = pd.concat(
        [
            pd.DataFrame(
                {
                    "stage": 1,
                    "source_code": first["origin"],
                    "target_code": first["first_trust"],
                    "source": [names.get(c, "Residence unknown") for c in first["origin"]],
                    "target": [f"{trusts.get(c, c)} (first seen)" for c in first["first_trust"]],
                    "patients": first["pathways"].astype(float),
                    "crosses": False,
                }
            ),
            pd.DataFrame(
                {
                    "stage": 2,
                    "source_code": second["first_trust"],
                    "target_code": second["treating_trust"],
                    "source": [f"{trusts.get(c, c)} (first seen)" for c in second["first_trust"]],
                    "target": [f"{trusts.get(c, c)} (treated)" for c in second["treating_trust"]],
                    "patients": second["pathways"].astype(float),
                    "crosses": second["first_trust"] != second["treating_trust"],
                }
            ),
        ],
        ignore_index=True,
    ).sort_values(["stage", "patients"], ascending=[True, False], ignore_index=True)
    links.insert(0, "period_id", period)
    links["suppressed"] = False
    if disclose:
        links = disclosure.apply(links, counts=["patients"], basis=["patients"])
    return links


@cached_query
def crossing_summary(
    con: Any,
    *,
    period: str,
    filters: dict[str, Any] | None = None,
    disclose: bool = True,
) -> dict[str, float | None]:
    """Treated 62-day pathways in ``period`` and how many were treated at another trust than first seen.

    Counted from unrounded pathways, then each count disclosed on its own (summing the Sankey's
    disclosed links would lose every suppressed link). ``share`` (percent) is None when either count is.
    """
    ensure_cache(con)
    start, end, _kind = period_bounds(con, period)
    params: dict[str, Any] = {"start": start, "end": end}
    where = _waits_filters(filters, params)
    total, crossing = (
        con.cursor()
        .execute(
            "SELECT coalesce(sum(pathways), 0), coalesce(sum(pathways) FILTER (WHERE "  # noqa: S608 (whitelisted)
            "first_trust_code IS DISTINCT FROM treating_trust_code), 0) "
            f"FROM {CACHE_DATABASE}.waits WHERE measure = 'treated' AND stop_month BETWEEN $start AND $end{where}",
            params,
        )
        .fetchone()
    )
    total, crossing = float(total), float(crossing)
    share = crossing / total * 100 if total else None
    if disclose:
        hidden = disclosure.is_suppressed(total) or disclosure.is_suppressed(crossing)
        total, crossing = disclosure.disclose_count(total), disclosure.disclose_count(crossing)
        share = None if hidden else share
    return {"treated": total, "crossing": crossing, "share": share}
