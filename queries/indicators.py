"""The aggregation API: every number a page shows comes from here.

A call is a group-by over a materialised cube (see :mod:`queries.materialise`),
followed by statistics (:mod:`queries.stats`) and, for restricted roles,
disclosure control (:mod:`queries.disclosure`).

``con`` may be a DuckDB connection or cursor, or a :class:`queries.db.Database`;
each call takes its own cursor. Dimension names are whitelisted below and every
value is a bound parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.stats import poisson

from queries import disclosure, stats
from queries.cache import PerConnection, cached_query
from queries.materialise import CUBES, LONDON_CODE
from queries.registry import Indicator, get, list_indicators, registry

__all__ = [
    "AREA_DIMENSIONS",
    "COMPARE_WITH",
    "DIMENSIONS",
    "area_names",
    "funnel_limits",
    "indicator_statistics",
    "indicator_values",
    "indicator_values_batch",
    "inequality",
    "list_indicators",
    "london_filters",
    "periods",
    "separate_benchmark",
    "registry",
    "trend",
    "trend_named_for_area",
]


@dataclass(frozen=True)
class Dimension:
    """A dimension that results can be grouped or filtered by."""

    column: str | None  # cube column (None for London, the single group)
    in_practice_cube: bool
    in_lsoa_cube: bool
    names: str | None = None  # SQL giving (code, name) rows, from reference tables
    label: str = ""


_QUINTILE_NAMES = {"1": "Q1 (most deprived)", "2": "Q2", "3": "Q3", "4": "Q4", "5": "Q5 (least deprived)"}
_DECILE_NAMES = {"1": "D1 (most deprived)", **{str(i): f"D{i}" for i in range(2, 10)}, "10": "D10 (least deprived)"}
_SEX_NAMES = {"F": "Female", "M": "Male", "U": "Unknown"}

DIMENSIONS: dict[str, Dimension] = {
    "london": Dimension(None, True, True, label="London"),
    "icb": Dimension("icb_code", True, True, "SELECT icb_code, icb_short_name FROM ref_icbs", "ICB"),
    "borough": Dimension("borough_code", True, True, "SELECT borough_code, borough_name FROM ref_boroughs", "Borough"),
    "pcn": Dimension("pcn_code", True, False, "SELECT DISTINCT pcn_code, pcn_name FROM ref_practices", "PCN"),
    "practice": Dimension(
        "practice_code", True, False, "SELECT practice_code, practice_name FROM ref_practices", "Practice"
    ),
    "lsoa": Dimension("lsoa21_code", False, True, "SELECT lsoa21_code, lsoa21_name FROM ref_lsoa21", "LSOA"),
    "residence_borough": Dimension(
        "residence_borough_code",
        False,
        True,
        "SELECT borough_code, borough_name FROM ref_boroughs",
        "Borough of residence",
    ),
    "imd_quintile_national": Dimension("imd_quintile_national", True, True, label="IMD quintile (national)"),
    "imd_quintile_london": Dimension("imd_quintile_london", True, True, label="IMD quintile (London)"),
    "imd_decile_national": Dimension("imd_decile_national", False, True, label="IMD decile (national)"),
    "imd_decile_london": Dimension("imd_decile_london", False, True, label="IMD decile (London)"),
    "ethnicity_group": Dimension("ethnicity_group", True, True, label="Ethnic group"),
    "sex": Dimension("sex", True, True, label="Sex"),
    "age_band": Dimension("age_band", True, True, label="Age band"),
}
ALIASES = {"imd_quintile": "imd_quintile_national", "imd_decile": "imd_decile_national"}
# Dimensions that narrow the population to a place. ``compare_with="london"`` drops them from the filters
# for the benchmark, keeping the others (sex, age band, ethnic group, deprivation): London's same group.
AREA_DIMENSIONS = frozenset({"london", "icb", "borough", "pcn", "practice", "lsoa", "residence_borough"})
# What ``comparison`` and ``london_value`` are against: everything the filters kept, or London.
COMPARE_WITH = ("filtered", "london")
_FIXED_NAMES = {
    "imd_quintile_national": _QUINTILE_NAMES,
    "imd_quintile_london": _QUINTILE_NAMES,
    "imd_decile_national": _DECILE_NAMES,
    "imd_decile_london": _DECILE_NAMES,
    "sex": _SEX_NAMES,
}

OUTPUT_COLUMNS = [
    "indicator_id",
    "period_id",
    "area_code",
    "area_name",
    "subgroup_code",
    "subgroup_name",
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
    "patients_to_target_suppressed",
    "suppressed",
]
_DERIVED = ["value", "ci_low", "ci_high", "ci99_low", "ci99_high"]


class QueryError(ValueError):
    """A request the engine cannot answer (unknown dimension, period, or an impossible combination)."""


def _cursor(con: Any):
    return con.cursor()


def dimension_name(name: str) -> str:
    """The canonical name of a dimension (resolving aliases); raises :class:`QueryError` if unknown."""
    name = ALIASES.get(name, name)
    if name not in DIMENSIONS:
        raise QueryError(f"Unknown dimension {name!r}. Known: {', '.join([*DIMENSIONS, *ALIASES])}")
    return name


def _parse_by(by: str | tuple[str, ...] | list[str]) -> list[str]:
    if isinstance(by, str):
        parts = [part.strip() for part in by.replace("×", ",").replace("*", ",").split(",") if part.strip()]
    else:
        parts = list(by)
    if not 1 <= len(parts) <= 2:
        raise QueryError(f"'by' takes one dimension or a pair, got {by!r}")
    return [dimension_name(part) for part in parts]


def _choose_cube(dims: list[str]) -> str:
    """The smallest cube holding every column the request groups or filters by."""
    columns = {DIMENSIONS[d].column for d in dims} - {None}
    for cube, cube_columns in CUBES.items():
        if columns <= set(cube_columns):
            return cube
    practice_only = [d for d in dims if not DIMENSIONS[d].in_lsoa_cube]
    lsoa_only = [d for d in dims if not DIMENSIONS[d].in_practice_cube]
    raise QueryError(
        f"{', '.join(practice_only)} (practice geography) cannot be combined with {', '.join(lsoa_only)} "
        "(residence geography)"
    )


def periods(con: Any, indicator: str) -> pd.DataFrame:
    """The periods available for ``indicator``, newest first, with their type and dates.

    Read once per connection and indicator, then copied: the immunisation page checks a period
    against this list in every callback, and a query for it cost about 1 ms each time.
    """
    spec = get(indicator)
    cached = _cache.get(con).setdefault("periods_by_indicator", {})
    if spec.id not in cached:
        cached[spec.id] = (
            _cursor(con)
            .execute(
                "SELECT period_id, period_type, start_date, end_date, label FROM ind_period "
                "WHERE list_contains($types, period_type) ORDER BY end_date DESC, period_type",
                {"types": list(spec.period_types)},
            )
            .df()
        )
    return cached[spec.id].copy()


_cache = PerConnection()


def _period_table(con: Any) -> dict[str, tuple[str, Any, Any, str]]:
    """period_id -> (period_type, start_date, end_date, label), newest first (read once per connection)."""
    cached = _cache.get(con)
    if "periods" not in cached:
        rows = (
            _cursor(con)
            .execute(
                "SELECT period_id, period_type, start_date, end_date, label FROM ind_period ORDER BY end_date DESC"
            )
            .fetchall()
        )
        cached["periods"] = {row[0]: tuple(row[1:]) for row in rows}
    return cached["periods"]


def period_labels(con: Any) -> dict[str, str]:
    """period_id -> its label ("Oct 2026", "Q2 2026-27", ...), for every period (cached per connection)."""
    return {period_id: label for period_id, (*_dates, label) in _period_table(con).items()}


def _slice_numbers(con: Any) -> dict[tuple[str, str], int]:
    """(indicator_id, period_id) -> the cubes' integer ``slice`` (read once per connection).

    Every database this code serves has ``ind_slice``: the build writes it with the cubes, and a database
    of another build version is refused (:mod:`data.build_version`).
    """
    cached = _cache.get(con)
    if "slices" not in cached:
        rows = _cursor(con).execute("SELECT indicator_id, period_id, slice FROM ind_slice").fetchall()
        cached["slices"] = {(indicator_id, period_id): number for indicator_id, period_id, number in rows}
    return cached["slices"]


def default_period(con: Any, indicator: str, period_type: str | None = None) -> str:
    """The latest complete period of the indicator's default type (or ``period_type``)."""
    spec = get(indicator)
    wanted = period_type or spec.default_period_type
    for period_id, (kind, *_rest) in _period_table(con).items():
        if kind == wanted:
            return period_id
    raise QueryError(f"No complete {wanted} period for {indicator} on or before the extract date")


def _period_or_default(con: Any, spec: Indicator, period: str | None) -> str:
    """``period`` after checking the indicator has it, or the indicator's default period when None."""
    if period is None:
        return default_period(con, spec.id)
    _check_period(con, spec, period)
    return period


def _check_period(con: Any, spec: Indicator, period: str) -> None:
    found = _period_table(con).get(period)
    if found is None or found[0] not in spec.period_types:
        raise QueryError(
            f"Period {period!r} is not available for {spec.id} (types {', '.join(spec.period_types)}); "
            "see queries.indicators.periods()"
        )


def _filter_sql(filters: dict[str, Any] | None, params: dict[str, Any]) -> tuple[str, list[str]]:
    """SQL conditions for ``filters`` with values bound into ``params``; returns (sql, dimensions)."""
    if not filters:
        return "", []
    clauses, dims = [], []
    for index, (raw_name, raw_values) in enumerate(filters.items()):
        name = dimension_name(raw_name)
        column = DIMENSIONS[name].column
        if column is None:
            continue  # "london" filters nothing
        values = raw_values if isinstance(raw_values, list | tuple | set) else [raw_values]
        text_values = [str(v) for v in values if v is not None]
        key = f"filter_{index}"
        params[key] = text_values
        clause = f"list_contains(${key}, CAST(c.{column} AS VARCHAR))"
        if any(v is None for v in values):
            clause = f"({clause} OR c.{column} IS NULL)"
        clauses.append(clause)
        dims.append(name)
    return "".join(f" AND {clause}" for clause in clauses), dims


def london_filters(filters: dict[str, Any] | None) -> dict[str, Any] | None:
    """``filters`` without the area ones (:data:`AREA_DIMENSIONS`): the same group of London's patients."""
    kept = {name: values for name, values in (filters or {}).items() if dimension_name(name) not in AREA_DIMENSIONS}
    return kept or None


def separate_benchmark(compare_with: str, filters: dict[str, Any] | None) -> bool:
    """Whether the benchmark needs its own (one-row) query: London asked for, and an area filter narrowed the call.

    Raises :class:`QueryError` for a ``compare_with`` not in :data:`COMPARE_WITH`.
    """
    if compare_with not in COMPARE_WITH:
        raise QueryError(f"compare_with must be one of {', '.join(COMPARE_WITH)}, got {compare_with!r}")
    return compare_with == "london" and london_filters(filters) != (filters or None)


def _benchmarks(con: Any, resolved: list[tuple[Indicator, str]], filters) -> list[tuple[float, float]]:
    """London's (numerator, denominator) for each (indicator, period), under the non-area ``filters``.

    Under no other filter (a borough's practices compared with London, a practice's trend) these are
    read from :func:`_london_totals`, not summed again by a query of their own.
    """
    kept = london_filters(filters)
    if kept is None:
        totals, slices = _london_totals(con), _slice_numbers(con)
        return [totals.get(slices.get((spec.id, period), -1), (0.0, 0.0)) for spec, period in resolved]
    return [_benchmark_totals(counts) for counts in _aggregate_many(con, resolved, ["london"], kept)]


def _london_totals(con: Any) -> dict[int, tuple[float, float]]:
    """Slice -> London's unfiltered (numerator, denominator): read once per connection, a few thousand slices.

    A call compared with London under an area filter asked for them with a query of its own, about as
    costly as the call's own query (~3 ms at scale 1.0). They are the same sums: every count in the cubes
    is whole, or (the detection ratio's expected) a whole number of 2**-20ths, so DuckDB adds them exactly
    in any order (queries.materialise._in_steps). A slice with no rows is absent, and totals (0, 0).
    """
    cached = _cache.get(con)
    if "london_totals" not in cached:
        rows = (
            _cursor(con)
            .execute(
                f"SELECT c.slice, coalesce(sum(c.numerator), 0), coalesce(sum(c.denominator), 0) "  # noqa: S608
                f"FROM {_choose_cube([])} AS c "
                "GROUP BY c.slice"
            )
            .fetchall()
        )
        cached["london_totals"] = {
            number: (float(numerator), float(denominator)) for number, numerator, denominator in rows
        }
    return cached["london_totals"]


def _benchmark_totals(counts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> tuple[float, float]:
    """(numerator, denominator) summed over one call's groups."""
    return float(counts[2].sum()), float(counts[3].sum())


def _aggregate(
    con: Any, spec: Indicator, period: str, dims: list[str], filters
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    params: dict[str, Any] = {"slice": _slice_numbers(con).get((spec.id, period), -1)}  # -1: no such slice, no rows
    filter_sql, filter_dims = _filter_sql(filters, params)
    cube = _choose_cube(dims + filter_dims)
    sql = (
        f"SELECT {_group_selects(dims)}, coalesce(sum(c.numerator), 0) AS numerator, "  # noqa: S608 (whitelisted)
        "coalesce(sum(c.denominator), 0) AS denominator "
        f"FROM {cube} AS c WHERE c.slice = $slice{filter_sql} GROUP BY ALL ORDER BY ALL"
    )
    return _count_arrays(_cursor(con).execute(sql, params).fetchnumpy())


def _group_selects(dims: list[str]) -> str:
    """SQL select list ``code1, code2`` for the grouping dimensions (code2 NULL for a single dimension)."""
    selects = []
    for i, name in enumerate(dims, start=1):
        column = DIMENSIONS[name].column
        expr = f"'{LONDON_CODE}'" if column is None else f"CAST(c.{column} AS VARCHAR)"
        selects.append(f"{expr} AS code{i}")
    while len(selects) < 2:
        selects.append("CAST(NULL AS VARCHAR) AS code2")
    return ", ".join(selects)


def _count_arrays(result: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(code1, code2, numerator, denominator) arrays from a cube query's ``fetchnumpy()`` columns.

    Fetched as columns, not rows: ``fetchall()`` then an array per column made a Python tuple per
    group, about 0.5 ms of CPU more in a call by practice at scale 1.0
    (bench/results/2026-11-30-engine-overhead-after.md). A code column with a NULL comes back
    masked; here it is a plain object array with None there, as the rows gave.
    """
    return (
        _codes(result["code1"]),
        _codes(result["code2"]),
        np.asarray(result["numerator"], dtype=float),
        np.asarray(result["denominator"], dtype=float),
    )


def _codes(column: np.ndarray) -> np.ndarray:
    """A fetched code column as an object array, None where the code is NULL."""
    if not isinstance(column, np.ma.MaskedArray):
        return np.asarray(column, dtype=object)
    codes = np.ma.getdata(column).astype(object)
    codes[np.ma.getmaskarray(column)] = None
    return codes


def _aggregate_many(
    con: Any, requests: list[tuple[Indicator, str]], dims: list[str], filters
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`_aggregate` for several (indicator, period) slices with one query; one result per request."""
    slices = _slice_numbers(con)
    numbers = [slices.get((spec.id, period), -1) for spec, period in requests]  # -1: no such slice, no rows
    params: dict[str, Any] = {"slices": sorted(set(numbers))}
    filter_sql, filter_dims = _filter_sql(filters, params)
    cube = _choose_cube(dims + filter_dims)
    # IN (SELECT unnest(...)) is a semi-join DuckDB pushes into the scan: measured 3x cheaper at scale 1.0
    # than list_contains over the slice column, which reads every row.
    sql = (
        f"SELECT c.slice AS slice, {_group_selects(dims)}, "  # noqa: S608 (whitelisted)
        "coalesce(sum(c.numerator), 0) AS numerator, coalesce(sum(c.denominator), 0) AS denominator "
        f"FROM {cube} AS c WHERE c.slice IN (SELECT unnest($slices)){filter_sql} GROUP BY ALL ORDER BY ALL"
    )
    result = _cursor(con).execute(sql, params).fetchnumpy()
    # ORDER BY ALL puts each slice's rows together, in slice order: one cut per slice.
    slice_column = np.asarray(result.pop("slice"))
    counts = _count_arrays(result)
    starts = np.searchsorted(slice_column, numbers, side="left")
    stops = np.searchsorted(slice_column, numbers, side="right")
    return [tuple(column[start:stop] for column in counts) for start, stop in zip(starts, stops, strict=True)]


def area_names(con: Any, dimension: str) -> dict[str, str]:
    """Code -> name of every area of ``dimension`` (e.g. all 33 boroughs), as the engine names its rows.

    Read once per connection (the engine's own name cache); the caller gets its own copy.
    """
    return dict(_names(con, dimension_name(dimension)))


def _names(con: Any, dim: str) -> dict[str, str]:
    if dim == "london":
        return {LONDON_CODE: "London"}
    if dim in _FIXED_NAMES:
        return _FIXED_NAMES[dim]
    sql = DIMENSIONS[dim].names
    if sql is None:
        return {}
    cached = _cache.get(con)
    key = f"names:{dim}"
    if key not in cached:
        rows = _cursor(con).execute(sql).fetchall()
        cached[key] = {str(code): name for code, name in rows}
    return cached[key]


# The interval each unit of indicator is read with: a ratio is observed over expected (Poisson), a percentage a
# proportion (Wilson).
_INTERVALS = {"percent": "wilson", "ratio": "poisson"}


def indicator_statistics(
    spec: Indicator, numerator: np.ndarray, denominator: np.ndarray, *, benchmark: float | np.ndarray
) -> dict[str, np.ndarray]:
    """:func:`queries.stats.area_statistics` of an indicator's counts: its scale, polarity, target and interval.

    ``benchmark``: London's value (or whatever the rows are compared with) in the indicator's unit, for
    every row or one a row; NaN leaves a row not compared. Modules that sum the engine's facts their own
    way (cancer trusts) give their rows these same statistics.
    """
    return stats.area_statistics(
        numerator,
        denominator,
        scale=spec.scale,
        polarity=spec.polarity,
        benchmark=benchmark,
        target=spec.target,
        interval=_INTERVALS[spec.unit],
    )


@cached_query
def indicator_values(
    con: Any,
    *,
    indicator: str,
    period: str | None = None,
    by: str | tuple[str, ...] | list[str] = "london",
    filters: dict[str, Any] | None = None,
    disclose: bool = True,
    compare_with: str = "filtered",
) -> pd.DataFrame:
    """Numerator, denominator, value and statistics for ``indicator`` per group of ``by``.

    ``by``: one dimension of :data:`DIMENSIONS` (``imd_quintile`` = national) or a pair
    (``("borough", "imd_quintile")`` or ``"borough,imd_quintile"``); the second goes in
    ``subgroup_code``/``subgroup_name``. ``filters``: dimension -> value or list of values
    (``None`` in the list matches unknown). ``period``: a period id (default: the latest
    complete period of the indicator's default type). ``disclose``: apply disclosure control
    (for roles without patient access); pass False only for roles entitled to raw counts.

    Values are in the indicator's unit (percent 0-100, or a ratio). ``london_value`` is the
    benchmark and ``comparison`` uses the 95 % Wilson interval against it. ``compare_with``:

    - ``"filtered"`` (default): everything the filters kept, so with ``{"borough": ...}`` the
      benchmark is that borough, not London (and a ``by="london"`` row is not compared with itself);
    - ``"london"``: London, with only the area filters (:data:`AREA_DIMENSIONS`) dropped, so with
      ``{"borough": ..., "sex": "F"}`` it is London's girls. With an area filter and no other, London's
      totals are read once per connection; with a demographic filter too, one extra one-row query.
      Without an area filter the two are the same.
    """
    spec = get(indicator)
    period = _period_or_default(con, spec, period)
    return _values(con, spec, period, _parse_by(by), filters, disclose, compare_with)[0]


def _values(
    con: Any, spec: Indicator, period: str, dims: list[str], filters, disclose: bool, compare_with: str
) -> tuple[pd.DataFrame, tuple[float, float]]:
    """:func:`indicator_values`' rows for a checked period, and the (numerator, denominator) they are compared with."""
    counts = _aggregate(con, spec, period, dims, filters)
    separate = separate_benchmark(compare_with, filters)
    (benchmark,) = _benchmarks(con, [(spec, period)], filters) if separate else [_benchmark_totals(counts)]
    columns = _request_columns(con, [(spec, period)], dims, [counts], [benchmark], disclose, separate=separate)
    count = len(columns["numerator"])
    columns["indicator_id"] = _constant_text(spec.id, count)
    columns["period_id"] = _constant_text(period, count)
    frame = pd.DataFrame({name: columns[name] for name in OUTPUT_COLUMNS})
    return frame, benchmark


@cached_query
def indicator_values_batch(
    con: Any,
    *,
    requests: list[tuple[str, str | None]],
    by: str | tuple[str, ...] | list[str] = "london",
    filters: dict[str, Any] | None = None,
    disclose: bool = True,
    compare_with: str = "filtered",
) -> pd.DataFrame:
    """:func:`indicator_values` for several ``(indicator, period)`` pairs sharing ``by`` and ``filters``, in one query.

    The rows of each pair, in the order asked, stacked: for each pair exactly the rows, values and
    disclosure control :func:`indicator_values` gives (``london_value`` and ``comparison`` are each
    pair's own, against ``compare_with`` as there: where London's totals need a query, one more query
    gives every pair's). ``period`` None means the indicator's default. For views that show many indicators
    side by side: one query instead of one per indicator.

    One difference: by ``"london"``, a pair whose filters keep no patient has no row here, where
    :func:`indicator_values` gives a row of zeros (its query groups by a constant alone). A trend relies on
    it: the periods in which a practice had no one are left out of the series, not drawn as empty points.
    """
    resolved = []
    for indicator, period in requests:
        spec = get(indicator)
        period = _period_or_default(con, spec, period)
        resolved.append((spec, period))
    if not resolved:
        return pd.DataFrame(columns=OUTPUT_COLUMNS)
    dims = _parse_by(by)
    counts = _aggregate_many(con, resolved, dims, filters)
    sizes = [len(request_counts[2]) for request_counts in counts]
    separate = separate_benchmark(compare_with, filters)
    if separate:
        london = _benchmarks(con, resolved, filters)
    else:
        london = [_benchmark_totals(request_counts) for request_counts in counts]
    columns = _request_columns(con, resolved, dims, counts, london, disclose, separate=separate)
    labels = {
        "indicator_id": np.repeat(np.array([spec.id for spec, _period in resolved], dtype=object), sizes),
        "period_id": np.repeat(np.array([period for _spec, period in resolved], dtype=object), sizes),
    }
    return pd.DataFrame({name: labels[name] if name in labels else columns[name] for name in OUTPUT_COLUMNS})


def _constant_text(value: str, count: int) -> Any:
    """A column of ``count`` copies of ``value`` as the DataFrame would hold it (pandas' ``str`` dtype).

    Made in Arrow: an object array of the copies, which the DataFrame then converted to ``str`` one
    element at a time, cost about 0.3 ms of CPU more in a call by practice at scale 1.0 (same file). No
    rows stay an (empty) object array, as the DataFrame made of one.
    """
    if not count:
        return np.full(0, value, dtype=object)
    return pd.array(pa.repeat(pa.scalar(value, pa.large_string()), count), dtype="str")


def _request_columns(
    con: Any,
    resolved: list[tuple[Indicator, str]],
    dims: list[str],
    counts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    london: list[tuple[float, float]],
    disclose: bool,
    *,
    separate: bool,
) -> dict[str, np.ndarray]:
    """The :data:`OUTPUT_COLUMNS` arrays of (indicator, period) requests from their grouped counts, each request's
    rows together and in the order asked: all but ``indicator_id`` and ``period_id`` (each caller makes those).

    ``london``: each request's benchmark (numerator, denominator); ``separate``: whether it came from a query of
    its own, else it is the request's own total and the one row of everything the filters kept by "london" is
    not compared with itself. Indicators whose statistics follow the same rules are worked out together, their
    rows side by side with each row's own benchmark: one pass of the statistics and disclosure control instead
    of one per indicator and period (a trend asks for every period of its indicator, the GP-team view for 17
    vaccines).
    """
    sizes = [len(request_counts[2]) for request_counts in counts]
    groups: dict[tuple, list[int]] = {}
    for index, (spec, _period) in enumerate(resolved):
        groups.setdefault(_statistics_rules(spec), []).append(index)
    blocks = []
    for indices in groups.values():
        repeats = [sizes[index] for index in indices]
        blocks.append(
            _rows_value_columns(
                con,
                resolved[indices[0]][0],
                dims,
                counts[indices[0]]
                if len(indices) == 1
                else tuple(np.concatenate([counts[index][part] for index in indices]) for part in range(4)),
                disclose,
                london_counts=(
                    np.repeat([london[index][0] for index in indices], repeats).astype(float),
                    np.repeat([london[index][1] for index in indices], repeats).astype(float),
                ),
                compared=not (dims == ["london"] and not separate),
            )
        )
    if len(blocks) == 1:  # one set of rules: the rows are already in the order asked
        return blocks[0]
    # Back in the order asked: each request's rows together, requests in order.
    starts = np.concatenate([[0], np.cumsum(sizes)])
    positions = [np.arange(starts[index], starts[index + 1]) for indices in groups.values() for index in indices]
    order = np.argsort(np.concatenate(positions), kind="stable")
    return {name: np.concatenate([block[name] for block in blocks])[order] for name in blocks[0]}


def _statistics_rules(spec: Indicator) -> tuple:
    """Every field of an indicator :func:`_rows_value_columns` reads: indicators equal in these may share one pass."""
    return (spec.scale, spec.polarity, spec.target, spec.unit, spec.decimals)


def _rows_value_columns(
    con: Any,
    spec: Indicator,
    dims: list[str],
    counts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    disclose: bool,
    *,
    london_counts: tuple[np.ndarray, np.ndarray],
    compared: bool,
) -> dict[str, np.ndarray]:
    """The :data:`OUTPUT_COLUMNS` arrays but the ids, for rows that may come from several periods or indicators
    of the same :func:`_statistics_rules`, each row with its own benchmark (numerator, denominator) in
    ``london_counts``.

    ``compared``: False leaves every row not compared (the one row of everything the filters kept).
    """
    codes1, codes2, numerator, denominator = counts
    london_num, london_den = london_counts
    london_value = stats.scaled_rate(london_num, london_den, spec.scale)
    # Compared unrounded; shown, to a restricted role, with the indicator's places.
    shown_london = disclosure.shown_figures(london_value, spec.decimals) if disclose else london_value
    count = len(numerator)
    # Columns are built as arrays and made into one DataFrame at the end: per-column pandas work would
    # cost more than the query itself.
    columns: dict[str, Any] = {
        "area_code": codes1,
        "area_name": _name_array(_names(con, dims[0]), codes1),
        "subgroup_code": codes2,
        "subgroup_name": _name_array(_names(con, dims[1]), codes2) if len(dims) > 1 else np.full(count, None),
        "numerator": numerator,
        "denominator": denominator,
    }
    compared_with = london_value if compared else np.full(count, np.nan)
    columns.update(indicator_statistics(spec, numerator, denominator, benchmark=compared_with))
    columns["london_value"] = np.asarray(shown_london, dtype=float).astype(object)
    if disclose:
        london_hidden = disclosure.disclose_array(london_num)[1] | disclosure.disclose_array(london_den)[1]
        columns["london_value"][london_hidden] = None
    # Set by disclosure control where a count is hidden (a row shown can still hide its own 1-7).
    columns["patients_to_target_suppressed"] = np.zeros(count, dtype=bool)
    columns["suppressed"] = np.zeros(count, dtype=bool)
    if disclose:
        columns = disclosure.apply_arrays(
            columns, other_counts=["patients_to_target"], derived=_DERIVED + ["comparison"], decimals=spec.decimals
        )
        columns["comparison"][columns["suppressed"]] = "not compared"
    return columns


def _name_array(names: dict[str, str], codes: np.ndarray) -> np.ndarray:
    return np.array([names.get(code, code) if code is not None else "Unknown" for code in codes], dtype=object)


# The Making Data Count columns :func:`spc_columns` adds to a trend.
SPC_COLUMNS = (
    "centre",
    "lower_limit",
    "upper_limit",
    "outside_limits",
    "shift",
    "trend",
    "two_of_three",
    "special_cause",
    "variation",
)


def spc_columns(spec: Indicator, series: pd.DataFrame, *, group_by: list[str] | None = None) -> pd.DataFrame | None:
    """Making Data Count SPC columns (:data:`SPC_COLUMNS`) for ``series``, indexed like it.

    One chart per group of ``group_by`` columns (default: the whole series is one area's),
    each over its rows in their order. A p-chart for percentages, XmR for ratios; centre and
    limits in the indicator's unit. Pass the unrounded series (before disclosure control):
    periods with no denominator are left out, and None comes back when no period has one.
    """
    usable = series[series["denominator"] > 0]
    if usable.empty:
        return None
    if group_by:
        groups = usable.groupby(group_by, dropna=False, sort=False).ngroup().to_numpy()
        order = np.argsort(groups, kind="stable")  # stable: each group keeps its rows' order (oldest first)
        starts = np.flatnonzero(np.diff(groups[order])) + 1
    else:
        order, starts = np.arange(len(usable)), np.array([], dtype=int)
    values = usable["value"].to_numpy(dtype=float)[order] / spec.scale
    denominators = usable["denominator"].to_numpy(dtype=float)[order]
    chart_type = "p" if spec.unit == "percent" else "xmr"
    # Every group's chart is written into whole-series arrays: no frame per group (see stats.spc_arrays).
    columns: dict[str, np.ndarray] = {}
    for start, stop in zip([0, *starts], [*starts, len(order)], strict=True):
        chart = stats.spc_arrays(values[start:stop], denominators[start:stop], polarity=spec.polarity, chart=chart_type)
        for name, column in chart.items():
            if name not in columns:  # words (variation) as Python strings, as a frame per group held them
                columns[name] = np.empty(len(order), dtype=object if column.dtype.kind == "U" else column.dtype)
            columns[name][start:stop] = column
    frame = pd.DataFrame(columns, index=usable.index[order])
    for column in ("centre", "lower_limit", "upper_limit"):
        frame[column] = frame[column] * spec.scale
    return frame


def rows_for_spc(series: pd.DataFrame, *, disclose: bool) -> pd.DataFrame:
    """The rows of a trend its SPC chart is drawn over: for a restricted role, only those disclosure
    control will show. A centre line over every row (sum of numerators over sum of denominators) gave the
    suppressed periods' hidden counts back by subtraction."""
    if not disclose:
        return series
    hidden = disclosure.disclose_array(series["numerator"])[1] | disclosure.disclose_array(series["denominator"])[1]
    return series[~hidden]


def disclose_trend(series: pd.DataFrame, *, decimals: int) -> pd.DataFrame:
    """Disclosure control on a trend: counts rounded or suppressed, and on suppressed rows the value,
    intervals and SPC columns hidden and the comparison 'not compared'. Values, intervals and SPC
    limits are rounded to ``decimals`` (the indicator's)."""
    hidden = _DERIVED + ["comparison", *(c for c in SPC_COLUMNS if c in series)]
    series = disclosure.apply(series, other_counts=["patients_to_target"], derived=hidden, decimals=decimals)
    series["comparison"] = series["comparison"].where(series["comparison"].notna(), "not compared")
    return series


@cached_query
def trend(
    con: Any,
    *,
    indicator: str,
    period_type: str | None = None,
    by: str = "london",
    filters: dict[str, Any] | None = None,
    disclose: bool = True,
) -> pd.DataFrame:
    """The indicator over every period of ``period_type`` (default: its trend type), oldest first.

    One row per period and group with :func:`indicator_values` columns, plus period dates
    and Making Data Count SPC columns (p-chart for percentages, XmR for ratios) computed
    per group from unrounded counts. SPC columns are hidden on suppressed rows.

    Rolling 12 months are trended at quarter ends only, so the points are a quarter apart: the period
    to the extract date (a month past the last quarter end, say) overlaps that quarter's by all but a
    month, and an SPC chart spaces its points evenly, so it stood at a quarter's step for a month's
    change. It stays a period of its own for the views of one period.
    """
    spec = get(indicator)
    wanted = period_type or spec.trend_period_type
    if wanted not in spec.period_types:
        raise QueryError(f"{indicator} has no {wanted} periods (types {', '.join(spec.period_types)})")
    period_rows = (
        _cursor(con)
        .execute(
            "SELECT period_id, start_date, end_date, label FROM ind_period WHERE period_type = ? "
            "AND (period_type <> 'r12' OR (month(end_date) % 3 = 0 AND end_date = last_day(end_date))) "
            "ORDER BY end_date",
            [wanted],
        )
        .df()
    )
    if period_rows.empty:
        return pd.DataFrame()
    # Every period in one cube query (a query per period made a 20-quarter trend 20 round trips).
    series = indicator_values_batch(
        con,
        requests=[(indicator, period) for period in period_rows["period_id"]],
        by=by,
        filters=filters,
        disclose=False,
    )
    dates = period_rows.set_index("period_id")
    series["start_date"] = series["period_id"].map(dates["start_date"])
    series["end_date"] = series["period_id"].map(dates["end_date"])
    series["period_label"] = series["period_id"].map(dates["label"])
    chart = spc_columns(spec, rows_for_spc(series, disclose=disclose), group_by=["area_code", "subgroup_code"])
    if chart is not None:
        series = series.join(chart)
    if disclose:
        totals = series.groupby("period_id")[["numerator", "denominator"]].sum()
        london_suppressed = totals.index[
            disclosure.disclose_array(totals["numerator"])[1] | disclosure.disclose_array(totals["denominator"])[1]
        ]
        series = disclose_trend(series, decimals=spec.decimals)
        series["london_value"] = disclosure.shown_figures(series["london_value"].to_numpy(dtype=object), spec.decimals)
        series.loc[series["period_id"].isin(london_suppressed), "london_value"] = None
    return series


def trend_named_for_area(series: pd.DataFrame, *, code: str, name: str) -> pd.DataFrame:
    """A :func:`trend` narrowed by filters to one area (a borough, an ICB, a practice), named after it.

    ``trend(by="london", filters=...)`` sums the filtered rows as "London" (E12000007) with
    ``london_value`` equal to the area's own value, so a CSV of a borough's trend said London and
    compared the borough with itself. Here the rows carry the area's ``code`` and ``name``, and that
    self-comparison (``london_value``, ``comparison``) is left out.
    """
    return series.assign(area_code=code, area_name=name).drop(columns=["london_value", "comparison"], errors="ignore")


@cached_query
def funnel_limits(
    con: Any,
    *,
    indicator: str,
    period: str | None = None,
    by: str = "practice",
    filters: dict[str, Any] | None = None,
    disclose: bool = True,
) -> dict[str, Any]:
    """Funnel plot around London: ``{"london_value", "limits", "points"}``.

    ``limits``: exact binomial 95 % and 99.8 % limits (Spiegelhalter interpolation) by
    denominator, in the indicator's unit (Poisson limits for ratios). ``points``: the
    :func:`indicator_values` rows with ``funnel`` = ``above 99.8``, ``above 95``, ``within``,
    ``below 95`` or ``below 99.8``. The funnel is always around London: with an area filter
    (a borough's practices, say) the points are that area's and London is everyone the other
    filters keep, as ``compare_with="london"`` (one more one-row query).
    """
    spec = get(indicator)
    period = _period_or_default(con, spec, period)
    raw, (london_num, london_den) = _values(con, spec, period, _parse_by(by), filters, False, "london")
    p0 = london_num / london_den if london_den else float("nan")
    limits_p0, limits_top = p0, float(raw["denominator"].max()) if len(raw) else 1.0
    points = raw.assign(funnel=pd.Series(dtype=object))
    if len(points):
        den = points["denominator"].to_numpy()
        proportion = points["value"].to_numpy() / spec.scale
        if spec.unit == "ratio":
            bounds = {q: poisson.ppf(q, den * p0) / np.where(den > 0, den, np.nan) for q in stats.FUNNEL_PROBABILITIES}
        else:
            bounds = stats.binomial_funnel_bounds(den, p0)
        points["funnel"] = stats.funnel_class(proportion, den, bounds)
    if disclose:
        points = disclosure.apply(
            points,
            other_counts=["patients_to_target"],
            derived=_DERIVED + ["comparison", "funnel"],
            decimals=spec.decimals,
        )
        points["comparison"] = points["comparison"].where(points["comparison"].notna(), "not compared")
        points["london_value"] = disclosure.shown_figures(points["london_value"].to_numpy(dtype=object), spec.decimals)
        london_suppressed = disclosure.is_suppressed(london_num) or disclosure.is_suppressed(london_den)
        limits_p0, limits_top = disclosure.funnel_basis(
            p0,
            points["denominator"],
            london_suppressed=london_suppressed,
            scale=spec.scale,
            decimals=spec.decimals,
        )
        if london_suppressed:
            p0 = float("nan")
            points["london_value"] = None
    limits = scaled_funnel_limits(spec, limits_p0, limits_top)
    london_value = p0 * spec.scale
    return {
        "london_value": float(disclosure.shown_figures(london_value, spec.decimals)) if disclose else london_value,
        "limits": limits,
        "points": points,
    }


def scaled_funnel_limits(spec: Indicator, p0: float, max_denominator: float) -> pd.DataFrame:
    """Funnel limits around ``p0`` (a proportion) in the indicator's unit: binomial, or Poisson for a ratio."""
    if spec.unit == "ratio":
        grid = np.unique(np.round(np.geomspace(1, max(max_denominator, 2), 200)).astype(int))
        limits = pd.DataFrame({"denominator": grid})
        for name, q in (("lower_95", 0.025), ("upper_95", 0.975), ("lower_998", 0.001), ("upper_998", 0.999)):
            limits[name] = poisson.ppf(q, grid * p0) / grid
    else:
        limits = stats.funnel_limits_table(p0, max_denominator)
    for column in ("lower_95", "upper_95", "lower_998", "upper_998"):
        limits[column] = limits[column] * spec.scale
    return limits


def _area_sums(data: pd.DataFrame, column: str, area_index: np.ndarray, areas: int) -> tuple[np.ndarray, ...]:
    """(levels, numerators, denominators): sums per area (rows) and level of ``column`` (sorted columns).

    ``area_index`` gives each row's area (-1 for none); every row also counts towards area 0 (London,
    or everything the filters kept).
    """
    levels, level_index = np.unique(data[column].to_numpy(), return_inverse=True)
    sums = []
    for measure in ("numerator", "denominator"):
        values = data[measure].to_numpy(dtype=float)
        total = np.bincount(level_index, weights=values, minlength=len(levels))
        inside = area_index >= 0
        per_area = np.bincount(
            area_index[inside] * len(levels) + level_index[inside],
            weights=values[inside],
            minlength=(areas - 1) * len(levels),
        ).reshape(areas - 1, len(levels))
        sums.append(np.vstack([total, per_area]))
    return levels, *sums


def _inequality_rows(data: pd.DataFrame, *, spec: Indicator, names: dict, by_borough: bool) -> pd.DataFrame:
    """SII/RII over deciles and the quintile gap for London (all of ``data``) and, with ``by_borough``, each
    borough: one array operation over all areas (a closed-form weighted regression per row) rather than
    a groupby and a statsmodels fit per borough, which were most of the call's time."""
    codes = data["borough_code"]
    borough_codes = np.unique(codes[codes.notna()].to_numpy(dtype=object)) if by_borough else np.array([], object)
    area_index = pd.Index(borough_codes).get_indexer(codes) if by_borough else np.full(len(data), -1, dtype=np.intp)
    areas = 1 + len(borough_codes)
    _, decile_num, decile_den = _area_sums(data, "decile", area_index, areas)
    with np.errstate(divide="ignore", invalid="ignore"):
        sii = stats.slope_indices_of_inequality(decile_num / decile_den, decile_den)
    quintiles, quintile_num, quintile_den = _area_sums(data, "quintile", area_index, areas)

    def extreme(level: int) -> tuple[np.ndarray, np.ndarray]:
        where = np.flatnonzero(quintiles == level)
        if not len(where):
            return np.zeros(areas), np.zeros(areas)
        return quintile_num[:, where[0]], quintile_den[:, where[0]]

    (q1_num, q1_den), (q5_num, q5_den) = extreme(1), extreme(5)
    with np.errstate(divide="ignore", invalid="ignore"):
        q1_value = np.where(q1_den != 0, q1_num / q1_den, np.nan)
        q5_value = np.where(q5_den != 0, q5_num / q5_den, np.nan)
    if spec.unit == "percent":
        gap, gap_low, gap_high = stats.difference_interval(q5_num, q5_den, q1_num, q1_den)
    else:
        gap = q5_value - q1_value
        gap_low = gap_high = np.full(areas, np.nan)
    scale = spec.scale
    return pd.DataFrame(
        {
            "area_code": [LONDON_CODE, *borough_codes],
            "area_name": ["London", *(names.get(code, code) for code in borough_codes)],
            "denominator": decile_den.sum(axis=1),
            "deciles_used": sii["groups"].astype(int),
            "sii": sii["sii"] * scale,
            "sii_low": sii["sii_low"] * scale,
            "sii_high": sii["sii_high"] * scale,
            "rii": sii["rii"],
            "rii_low": sii["rii_low"],
            "rii_high": sii["rii_high"],
            "q1_numerator": q1_num,
            "q1_denominator": q1_den,
            "q1_value": q1_value * scale,
            "q5_numerator": q5_num,
            "q5_denominator": q5_den,
            "q5_value": q5_value * scale,
            "gap": gap * scale,
            "gap_low": gap_low * scale,
            "gap_high": gap_high * scale,
        }
    )


@cached_query
def inequality(
    con: Any,
    *,
    indicator: str,
    period: str | None = None,
    deprivation: str = "national",
    filters: dict[str, Any] | None = None,
    disclose: bool = True,
    by_borough: bool = True,
) -> pd.DataFrame:
    """Slope and relative index of inequality across IMD deciles, London-wide and per borough.

    ``deprivation``: ``national`` or ``london`` deciles/quintiles. Rows: London first, then
    each (practice) borough, with ``sii``/``rii`` and 95 % CIs (WLS on ridit scores,
    :func:`queries.stats.slope_indices_of_inequality`; positive SII = higher value in less
    deprived areas), and the quintile gap ``q5 - q1`` (least minus most deprived) with
    Newcombe's interval. Patients with an unknown residence LSOA are left out. ``by_borough=False``
    returns the first row only (London, or everything ``filters`` keeps), for a view of one area: the
    per-borough regressions are most of the call's time.
    """
    spec = get(indicator)
    if deprivation not in ("national", "london"):
        raise QueryError("deprivation must be 'national' or 'london'")
    period = _period_or_default(con, spec, period)
    decile = DIMENSIONS[f"imd_decile_{deprivation}"].column
    quintile = DIMENSIONS[f"imd_quintile_{deprivation}"].column
    params: dict[str, Any] = {"indicator": spec.id, "period": period}
    filter_sql, filter_dims = _filter_sql(filters, params)
    outside = [d for d in filter_dims if not DIMENSIONS[d].in_lsoa_cube]
    if outside:
        raise QueryError(f"inequality works on residence deciles and cannot be filtered by {', '.join(outside)}")
    data = (
        _cursor(con)
        .execute(
            f"SELECT c.borough_code, c.{decile} AS decile, c.{quintile} AS quintile, "  # noqa: S608 (whitelisted)
            "sum(c.numerator) AS numerator, sum(c.denominator) AS denominator "
            f"FROM ind_cube_lsoa AS c WHERE c.indicator_id = $indicator AND c.period_id = $period "
            f"AND c.{decile} IS NOT NULL{filter_sql} GROUP BY ALL",
            params,
        )
        .df()
    )
    result = _inequality_rows(data, spec=spec, names=_names(con, "borough"), by_borough=by_borough)
    result.insert(0, "period_id", period)
    result.insert(0, "indicator_id", spec.id)
    if disclose and len(result):
        # The SII rests on the area's whole denominator; the gap on the two extreme quintiles.
        result = disclosure.apply(
            result,
            counts=["denominator"],
            basis=["denominator"],
            derived=["sii", "sii_low", "sii_high", "rii", "rii_low", "rii_high"],
            # The slope in the indicator's unit; the relative index is a ratio.
            decimals={"sii": spec.decimals, "sii_low": spec.decimals, "sii_high": spec.decimals}
            | {"rii": 2, "rii_low": 2, "rii_high": 2},
        )
        sii_suppressed = result["suppressed"].to_numpy(dtype=bool)
        result = result.drop(columns="suppressed")
        quintile_counts = ["q1_numerator", "q1_denominator", "q5_numerator", "q5_denominator"]
        result = disclosure.apply(
            result,
            counts=quintile_counts,
            basis=quintile_counts,
            derived=["q1_value", "q5_value", "gap", "gap_low", "gap_high"],
            decimals=spec.decimals,
        )
        result["suppressed"] = result["suppressed"].to_numpy(dtype=bool) | sii_suppressed
    return result
