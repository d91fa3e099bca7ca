"""Queries for the hypertension page: borough comparison, people to target, and the area lists it needs.

Every indicator number comes from :mod:`queries.indicators` (the engine's cubes); this
module only puts those numbers side by side (the commissioner's borough table) and
derives the "how many more people" counts at the 80 % ambition and the 77 % interim
ambition from the same unrounded counts, then applies the disclosure rule once at the
end, as the engine does. No dash or plotly here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from queries import disclosure, stats
from queries.cache import cached_query
from queries.indicators import QueryError, indicator_values, indicator_values_batch
from queries.materialise import AGE_BANDS, LONDON_CODE
from queries.registry import get

# The page's indicators, in the order the page lists them.
HYPERTENSION_INDICATORS: tuple[str, ...] = (
    "hyp_prevalence",
    "hyp_detection_ratio",
    "hyp008",
    "hyp009",
    "hyp_bp_recorded_12m",
    "hyp_possible_undiagnosed",
)
CONTROL_INDICATORS: tuple[str, ...] = ("hyp008", "hyp009")

# Treated-to-target ambitions (percent of the diagnosed). 80 % by 2029 is the national ambition in the
# registry [NICE-STP] [PHE-AMBITIONS]; 77 % was NHS England's interim ambition for March 2024 (2023/24
# priorities and operational planning guidance), which commissioners still report against.
CONTROL_AMBITION = 80.0
CONTROL_INTERIM_AMBITION = 77.0
# Detection ambition: 80 % of the expected number of adults with hypertension diagnosed (registry target 0.8).
DETECTION_AMBITION = 0.8

AREA_LEVELS = ("london", "icb", "borough", "practice")
# Display orders of the inequality dimensions (the engine returns them sorted as text).
ETHNICITY_ORDER = ("White", "Mixed", "Asian", "Black", "Other", "Not stated", "Unknown")
AGE_BAND_ORDER = tuple(label for _, _, label in AGE_BANDS)
SEX_ORDER = ("Female", "Male", "Unknown")


def area_filters(*, level: str, code: str | None) -> dict[str, list[str]] | None:
    """Engine ``filters`` selecting one area (``level`` 'icb', 'borough' or 'practice'); None for London.

    Raises :class:`QueryError` for an unknown level; a missing code means London.
    """
    if level not in AREA_LEVELS:
        raise QueryError(f"Unknown area level {level!r}. Known: {', '.join(AREA_LEVELS)}")
    if level == "london" or not code:
        return None
    return {level: [code]}


def reference_areas(con: Any) -> dict[str, pd.DataFrame]:
    """ICBs and boroughs (with their ICB) from the reference tables, for selectors and labels.

    Returns ``{"icbs": icb_code, icb_short_name, icb_name; "boroughs": borough_code, borough_name,
    icb_code}``, each sorted by name.
    """
    cursor = con.cursor()
    icbs = cursor.execute("SELECT icb_code, icb_short_name, icb_name FROM ref_icbs ORDER BY icb_short_name").df()
    boroughs = cursor.execute(
        "SELECT borough_code, borough_name, icb_code FROM ref_boroughs ORDER BY borough_name"
    ).df()
    return {"icbs": icbs, "boroughs": boroughs}


def practices_in_borough(con: Any, *, borough_code: str) -> pd.DataFrame:
    """Practices of a borough with patients on a hypertension indicator (code, name), by name.

    Read from the engine's smallest cube (one indicator), not from patient rows, so it stays fast at
    full London scale.
    """
    return (
        con.cursor()
        .execute(
            "SELECT r.practice_code, r.practice_name FROM ref_practices AS r "
            "WHERE r.practice_code IN (SELECT c.practice_code FROM ind_cube_area AS c "
            "WHERE c.indicator_id = 'hyp_prevalence' AND c.borough_code = ?) "
            "ORDER BY r.practice_name",
            [borough_code],
        )
        .df()
    )


def period_choices(con: Any) -> pd.DataFrame:
    """The periods every hypertension indicator has (financial years and rolling 12 months), newest first."""
    types = sorted({t for indicator in HYPERTENSION_INDICATORS for t in get(indicator).period_types})
    return (
        con.cursor()
        .execute(
            "SELECT period_id, period_type, end_date, label FROM ind_period WHERE list_contains($types, period_type) "
            "ORDER BY end_date DESC, period_type",
            {"types": types},
        )
        .df()
    )


def ordered(frame: pd.DataFrame, *, dimension: str, column: str = "area_name") -> pd.DataFrame:
    """``frame`` with the groups of ``dimension`` in their natural order (age bands by age, etc.)."""
    order = {
        "age_band": AGE_BAND_ORDER,
        "ethnicity_group": ETHNICITY_ORDER,
        "sex": SEX_ORDER,
    }.get(dimension)
    if order is None:  # IMD quintile names sort correctly as text ("Q1 (most deprived)" ... "Q5 ...")
        return frame.sort_values(column, kind="stable", na_position="last").reset_index(drop=True)
    rank = {name: i for i, name in enumerate(order)}
    keys = frame[column].map(lambda name: rank.get(name, len(order)))
    return frame.assign(_rank=keys).sort_values("_rank", kind="stable").drop(columns="_rank").reset_index(drop=True)


@cached_query
def people_to_target(
    con: Any,
    *,
    period: str | None = None,
    by: str = "borough",
    filters: dict[str, Any] | None = None,
    disclose: bool = True,
) -> pd.DataFrame:
    """Per area of ``by``: how many more people controlled (HYP008, HYP009) or diagnosed would meet the ambitions.

    Columns: ``area_code``, ``area_name``; for HYP008 and HYP009 ``<id>_numerator``,
    ``<id>_denominator``, ``<id>_value`` (percent), ``<id>_to_77`` and ``<id>_to_80`` (more
    patients treated to target to reach 77 % / 80 %); ``control_to_77``/``control_to_80`` (both
    together); for detection ``recorded`` (adults on the register), ``expected``,
    ``estimated_undiagnosed`` (expected minus recorded, never below 0), ``detection_ratio`` and
    ``to_detect_80`` (more diagnoses to reach 80 % of expected). A London row comes first.

    Counts are computed unrounded; with ``disclose`` each count follows the NHS rule and a
    measure resting on a suppressed count is hidden (None), as in the engine.
    """
    raw = _values_by_indicator(
        con, (*CONTROL_INDICATORS, "hyp_detection_ratio"), period=period, by=by, filters=filters, disclose=False
    )
    renamed = {
        **{i: {"numerator": f"{i}_numerator", "denominator": f"{i}_denominator"} for i in CONTROL_INDICATORS},
        "hyp_detection_ratio": {"numerator": "recorded", "denominator": "expected"},
    }
    table = side_by_side([raw[i][["area_code", "area_name", "numerator", "denominator"]] for i in renamed], renamed)
    count_columns = [c for c in table.columns if c not in ("area_code", "area_name")]
    table[count_columns] = table[count_columns].astype(float).fillna(0.0)
    table = table.sort_values("area_name", kind="stable").reset_index(drop=True)
    london = pd.DataFrame(
        [
            {
                "area_code": LONDON_CODE,
                "area_name": "London" if filters is None else "All selected",
                **table[count_columns].sum().to_dict(),
            }
        ]
    )
    table = pd.concat([london, table], ignore_index=True)

    for indicator in CONTROL_INDICATORS:
        numerator = table[f"{indicator}_numerator"].to_numpy()
        denominator = table[f"{indicator}_denominator"].to_numpy()
        table[f"{indicator}_value"] = stats.scaled_rate(numerator, denominator, get(indicator).scale)
        table[f"{indicator}_to_77"] = stats.shortfall_to_target(numerator, denominator, CONTROL_INTERIM_AMBITION / 100)
        table[f"{indicator}_to_80"] = stats.shortfall_to_target(numerator, denominator, CONTROL_AMBITION / 100)
    for ambition in ("77", "80"):
        table[f"control_to_{ambition}"] = table[[f"{i}_to_{ambition}" for i in CONTROL_INDICATORS]].sum(
            axis=1, min_count=1
        )
    recorded, expected = table["recorded"].to_numpy(), table["expected"].to_numpy()
    table["estimated_undiagnosed"] = np.where(expected > 0, np.maximum(expected - recorded, 0.0), np.nan)
    table["detection_ratio"] = stats.scaled_rate(recorded, expected, get("hyp_detection_ratio").scale)
    table["to_detect_80"] = stats.shortfall_to_target(recorded, expected, DETECTION_AMBITION)
    table["suppressed"] = False
    if disclose:
        table = disclose_people_to_target(table)
    return table


def indicators_in_area(con: Any, *, period: str | None, filters: dict[str, Any] | None, disclose: bool) -> pd.DataFrame:
    """One row per indicator of :data:`HYPERTENSION_INDICATORS`, in that order, for everything ``filters`` keep
    (London when None): each indicator's :func:`indicator_values` by "london" (the page's KPI cards).

    From one engine query, not one an indicator. For an area with no
    patients on an indicator, :func:`indicator_values_batch` gives no row where :func:`indicator_values` gives
    one of zeros (named London): the rows then come from the latter, so the cards are the same either way.
    """
    requests = [(indicator, period) for indicator in HYPERTENSION_INDICATORS]
    rows = indicator_values_batch(con, requests=requests, by="london", filters=filters, disclose=disclose)
    if rows["indicator_id"].tolist() == list(HYPERTENSION_INDICATORS):
        return rows
    each = [
        indicator_values(con, indicator=indicator, period=period, by="london", filters=filters, disclose=disclose)
        for indicator in HYPERTENSION_INDICATORS
    ]
    return pd.concat(each, ignore_index=True)


def _values_by_indicator(
    con: Any,
    indicators: tuple[str, ...],
    *,
    period: str | None,
    by: str,
    filters: dict[str, Any] | None,
    disclose: bool,
) -> dict[str, pd.DataFrame]:
    """:func:`indicator_values` of each of ``indicators``, by indicator, from one engine query
    (:func:`indicator_values_batch`)."""
    requests = [(indicator, period) for indicator in indicators]
    rows = indicator_values_batch(con, requests=requests, by=by, filters=filters, disclose=disclose)
    return {indicator: rows[rows["indicator_id"] == indicator] for indicator in indicators}


def side_by_side(parts: list[pd.DataFrame], renamed: dict[str, dict[str, str]], how: str = "outer") -> pd.DataFrame:
    """Frames of one row per area (``area_code``, ``area_name`` and measures) side by side, one row per area.

    ``renamed``: each part's new names for its measures, in the order of ``parts``. The rows and columns of
    renaming each part and merging them one after another on the area (``how``; an outer merge sorts the areas
    by code, then name). The parts of one engine query have the same areas in the same order: their columns are
    then put side by side as they are, where pandas' merges and renames cost the board-paper export more than
    the engine's queries behind it (bench/results/2026-11-30-callbacks-exports.md).
    """
    keys = ["area_code", "area_name"]
    codes, names = (parts[0][key].to_numpy(dtype=object) for key in keys)
    if all(
        np.array_equal(part["area_code"].to_numpy(dtype=object), codes)
        and np.array_equal(part["area_name"].to_numpy(dtype=object), names)
        for part in parts[1:]
    ):
        columns = {key: parts[0][key].array for key in keys}
        for part, new_names in zip(parts, renamed.values(), strict=True):
            columns |= {new_names.get(c, c): part[c].array for c in part.columns if c not in keys}
        table = pd.DataFrame(columns)
        if how == "outer" and len(table) > 1:
            table = table.take(np.lexsort((names, codes))).reset_index(drop=True)
        return table
    keyed = [
        part.set_index(keys).rename(columns=new_names) for part, new_names in zip(parts, renamed.values(), strict=True)
    ]
    joined = pd.concat(keyed, axis=1, join=how)
    return (joined.sort_index() if how == "outer" else joined).reset_index()


def disclose_people_to_target(table: pd.DataFrame) -> pd.DataFrame:
    """The NHS rule per measure: each group of columns is hidden when a count it rests on is suppressed."""
    safe = table.copy()
    any_hidden = np.zeros(len(safe), dtype=bool)
    # (counts, other counts, derived columns, the places those are shown with)
    groups = [
        (
            [f"{i}_numerator", f"{i}_denominator"],
            [f"{i}_to_77", f"{i}_to_80"],
            [f"{i}_value"],
            get(i).decimals,
        )
        for i in CONTROL_INDICATORS
    ] + [
        (
            ["recorded", "expected"],
            ["estimated_undiagnosed", "to_detect_80"],
            ["detection_ratio"],
            get("hyp_detection_ratio").decimals,
        )
    ]
    for counts, other_counts, derived, decimals in groups:
        part = disclosure.apply(
            safe[counts + other_counts + derived],
            counts=counts,
            basis=counts,
            other_counts=other_counts,
            derived=derived,
            decimals=decimals,
        )
        hidden = part["suppressed"].to_numpy(dtype=bool)
        any_hidden |= hidden
        safe[counts + other_counts + derived] = part[counts + other_counts + derived]
    # The totals rest on both control measures: hidden if either is, else disclosed from the exact sum.
    control_hidden = np.zeros(len(safe), dtype=bool)
    for indicator in CONTROL_INDICATORS:
        control_hidden |= (
            table[[f"{indicator}_numerator", f"{indicator}_denominator"]]
            .map(disclosure.is_suppressed)
            .any(axis=1)
            .to_numpy()
        )
    for ambition in ("77", "80"):
        column = f"control_to_{ambition}"
        safe[column] = [
            None if hidden else disclosure.disclose_count(value)
            for value, hidden in zip(table[column], control_hidden, strict=True)
        ]
    safe["suppressed"] = any_hidden | control_hidden
    return safe


@cached_query
def borough_comparison(
    con: Any,
    *,
    period: str | None = None,
    by: str = "borough",
    filters: dict[str, Any] | None = None,
    disclose: bool = True,
) -> pd.DataFrame:
    """Every hypertension indicator side by side, one row per area of ``by`` (London first): the board-paper table.

    For each indicator: value, 95 % CI, numerator, denominator and the comparison with London,
    as the engine returns them (disclosure applied when ``disclose``); plus the people-to-target
    counts of :func:`people_to_target`. Column names are ``<indicator>_<measure>``.
    """
    # Every indicator in one engine query per level (twelve queries took about 90 ms at scale 1.0).
    asked = {"period": period, "filters": filters, "disclose": disclose}
    by_area = _values_by_indicator(con, HYPERTENSION_INDICATORS, by=by, **asked)
    in_london = _values_by_indicator(con, HYPERTENSION_INDICATORS, by="london", **asked)
    columns = ["area_code", "area_name", "value", "ci_low", "ci_high", "numerator", "denominator", "comparison"]
    renamed = {i: {c: f"{i}_{c}" for c in columns[2:]} for i in HYPERTENSION_INDICATORS}
    merged = side_by_side([by_area[i][columns] for i in renamed], renamed).sort_values("area_name", kind="stable")
    london_name = "London" if filters is None else "All selected"
    london_row = side_by_side([in_london[i][columns].assign(area_name=london_name) for i in renamed], renamed, "inner")
    values = by_area[HYPERTENSION_INDICATORS[-1]]
    table = pd.concat([london_row, merged], ignore_index=True)
    targets = people_to_target(con, period=period, by=by, filters=filters, disclose=disclose)
    extra = targets[["area_code", "control_to_77", "control_to_80", "estimated_undiagnosed", "to_detect_80"]]
    table = table.merge(extra, on="area_code", how="left")
    period_id = values["period_id"].iloc[0] if len(values) else period
    table.insert(0, "period_id", period_id)
    return table


@cached_query
def estimated_undiagnosed(
    con: Any, *, period: str | None = None, filters: dict[str, Any] | None = None, disclose: bool = True
) -> dict[str, float | None]:
    """Adults estimated to have undiagnosed hypertension (expected minus recorded, not below 0) in the area.

    Returns ``{"estimated_undiagnosed", "recorded", "expected"}``; each disclosed from its exact value
    when ``disclose`` (never a difference of rounded numbers).
    """
    row = indicator_values(con, indicator="hyp_detection_ratio", period=period, filters=filters, disclose=False).iloc[0]
    exact = {
        "estimated_undiagnosed": max(float(row["denominator"]) - float(row["numerator"]), 0.0),
        "recorded": float(row["numerator"]),
        "expected": float(row["denominator"]),
    }
    if not disclose:
        return exact
    return {key: disclosure.disclose_count(value) for key, value in exact.items()}
