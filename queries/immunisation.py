"""Queries behind the pre-school immunisation page and its GP-team view.

Every coverage number comes from the engine (:mod:`queries.indicators`); this module
only assembles engine calls the page needs together (a practice against its PCN,
borough and London for every vaccine) and adds the one view the cubes cannot
answer: cumulative uptake by age in months (when children were vaccinated, not only
whether), read from the engine's per-child facts (``ind_patient``) and the
immunisation records of that cohort only.

All values are bound parameters; identifiers come from the whitelists below.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from queries import disclosure, stats
from queries.cache import PerConnection, cached_query
from queries.indicators import (
    QueryError,
    default_period,
    indicator_values,
    indicator_values_batch,
    periods,
    trend,
    trend_named_for_area,
)
from queries.materialise import (
    COVER_MEASURES,
    LONDON_CODE,
    UPTAKE_TABLE,
    CoverMeasure,
    completed_months_sql,
    cover_completion_sql,
    dose_read_from_sql,
)
from queries.registry import INDICATORS, Indicator, get

PATHFINDER = "immunisation"
# Immunisation indicators in registry order (COVER 12 m, 24 m, 5 y, then the polio booster and timeliness).
INDICATOR_IDS: tuple[str, ...] = tuple(i.id for i in INDICATORS if i.pathfinder == PATHFINDER)
DEFAULT_INDICATOR = "cover_24m_mmr1"

# Filters the uptake-by-age query accepts: dimension name -> patient_dim column (never user text).
_AREA_COLUMNS = {
    "icb": "icb_code",
    "borough": "borough_code",
    "pcn": "pcn_code",
    "practice": "practice_code",
}

# The scheduled age (months) of the dose each COVER measure counts, for the "due" line on uptake curves.
SCHEDULED_AGE_MONTHS = {
    "cover_12m_6in1": 4,
    "cover_12m_pcv": 3,
    "cover_12m_menb": 4,
    "cover_12m_rota": 3,
    "cover_24m_6in1": 4,
    "cover_24m_mmr1": 12,
    "cover_24m_pcv_booster": 12,
    "cover_24m_menb_booster": 12,
    "cover_24m_hibmenc": 12,
    "cover_5y_6in1": 4,
    "cover_5y_mmr1": 12,
    "cover_5y_mmr2": 40,
    "cover_5y_4in1": 40,
    "cover_5y_hibmenc": 12,
    "mmr1_on_time": 12,
    "6in1_on_time": 4,
}


def immunisation_indicators() -> list[Indicator]:
    """The registry entries of this page, in display order."""
    return [get(indicator_id) for indicator_id in INDICATOR_IDS]


def check_indicator(indicator: str) -> Indicator:
    """The registry entry for an immunisation indicator; :class:`QueryError` for any other id."""
    if indicator not in INDICATOR_IDS:
        raise QueryError(f"{indicator!r} is not an immunisation indicator")
    return get(indicator)


def previous_period(con: Any, *, indicator: str, period: str) -> str | None:
    """The period of the same type just before ``period`` (None when ``period`` is the oldest kept)."""
    available = periods(con, indicator)
    row = available[available["period_id"] == period]
    if row.empty:
        raise QueryError(f"Period {period!r} is not available for {indicator}")
    same_type = available[available["period_type"] == row["period_type"].iloc[0]].sort_values("end_date")
    earlier = same_type[same_type["end_date"] < row["end_date"].iloc[0]]
    return None if earlier.empty else str(earlier["period_id"].iloc[-1])


@dataclass(frozen=True)
class Headline:
    """London (or one area) for one indicator and period, and the change since the period before."""

    current: pd.Series  # one indicator_values row
    previous_period: str | None
    previous_value: float | None
    change: float | None  # percentage points (None when either value is hidden or missing)


@cached_query
def headline(
    con: Any, *, indicator: str, period: str, filters: dict[str, Any] | None = None, disclose: bool = True
) -> Headline:
    """Coverage, 95 % CI, children needed to reach the target and change on the previous period.

    ``filters`` restrict to an area (e.g. ``{"borough": "E09000012"}``); the row is the
    engine's London-level row under those filters. The change is computed from the two
    periods' values, and hidden when either is suppressed.
    """
    check_indicator(indicator)
    current = indicator_values(
        con, indicator=indicator, period=period, by="london", filters=filters, disclose=disclose
    ).iloc[0]
    before = previous_period(con, indicator=indicator, period=period)
    previous_value = None
    if before is not None:
        row = indicator_values(
            con, indicator=indicator, period=before, by="london", filters=filters, disclose=disclose
        ).iloc[0]
        previous_value = None if pd.isna(row["value"]) else float(row["value"])
    change = None
    if previous_value is not None and not pd.isna(current["value"]):
        change = float(current["value"]) - previous_value
    return Headline(current=current, previous_period=before, previous_value=previous_value, change=change)


def _measure_rows(indicator: str) -> list[CoverMeasure]:
    rows = [m for m in COVER_MEASURES if m.indicator_id == indicator]
    if not rows:
        raise QueryError(f"{indicator} has no dose-by-age rule (uptake by age covers COVER and timeliness measures)")
    return rows


def has_uptake_curve(indicator: str) -> bool:
    """Whether :func:`uptake_by_age` can draw ``indicator`` (COVER and timeliness measures; not the polio booster)."""
    return any(m.indicator_id == indicator for m in COVER_MEASURES)


def _area_sql(filters: dict[str, Any] | None, params: dict[str, Any]) -> str:
    clauses = []
    for index, (name, value) in enumerate((filters or {}).items()):
        if name == "london":
            continue
        if name not in _AREA_COLUMNS:
            raise QueryError(f"Uptake by age filters by {', '.join(_AREA_COLUMNS)}; got {name!r}")
        values = value if isinstance(value, list | tuple | set) else [value]
        params[f"area_{index}"] = [str(v) for v in values]
        clauses.append(f"list_contains($area_{index}, d.{_AREA_COLUMNS[name]})")
    return "".join(f" AND {clause}" for clause in clauses)


@cached_query
def uptake_by_age(
    con: Any,
    *,
    indicator: str,
    period: str,
    filters: dict[str, Any] | None = None,
    disclose: bool = True,
) -> pd.DataFrame:
    """Cumulative share of the indicator's cohort with the counted doses by each age in months.

    The cohort is the engine's denominator for ``indicator`` and ``period`` (its rows in
    ``ind_patient``), restricted by ``filters`` (icb / borough / pcn / practice of the
    registered practice). A child counts at age ``m`` once the dose completing the
    measure (e.g. the 1st valid MMR, the 3rd 6-in-1; doses counted by distinct date,
    valid from the rule's age) was given before the ``m``-th month-birthday. At the
    cohort age (24 for a 24-month measure) the share equals the indicator's value.

    Returns one row per month ``age`` 0..cohort age: ``age``, ``numerator``
    (cumulative), ``denominator`` (cohort), ``value`` (percent), ``suppressed``. With
    ``disclose`` the counts follow the disclosure rule and values resting on 1-7
    children are hidden.
    """
    check_indicator(indicator)
    return _uptake_by_age(con, indicator=indicator, period=period, filters=filters, disclose=disclose)


def _uptake_by_age(
    con: Any, *, indicator: str, period: str, filters: dict[str, Any] | None, disclose: bool
) -> pd.DataFrame:
    spec = check_indicator(indicator)
    cohort_age = _measure_rows(spec.id)[0].age_months
    rows = completion_counts(con, indicator=spec.id, period=period, filters=filters)
    cohort = float(next((n for months, n in rows if months == -1), 0))
    completed = {int(months): n for months, n in rows if months != -1}
    ages = list(range(cohort_age + 1))
    # Vaccinated before the m-th month-birthday = completed months at the dose date below m.
    cumulative, running = [], 0
    for age in ages:
        cumulative.append(float(running))
        running += completed.get(age, 0)
    frame = pd.DataFrame({"age": ages, "numerator": cumulative, "denominator": cohort})
    frame["value"] = stats.scaled_rate(frame["numerator"], frame["denominator"], spec.scale)
    frame["suppressed"] = False
    if disclose:
        frame = disclosure.apply(frame, derived=["value"], decimals=spec.decimals)
    return frame


def completion_counts(
    con: Any, *, indicator: str, period: str, filters: dict[str, Any] | None = None
) -> list[tuple[int, int]]:
    """(completed_months, children) of the cohort from the build's ``ind_uptake_age``; month -1 = cohort size.

    Sums the precomputed per-practice rows of one indicator and period over the area: milliseconds,
    where :func:`completion_counts_from_records` joins the cohort's immunisation records.
    """
    params: dict[str, Any] = {"indicator": indicator, "period": period}
    area_sql = _area_sql(filters, params)
    sql = (
        f"SELECT u.completed_months, sum(u.children) FROM {UPTAKE_TABLE} AS u "  # noqa: S608 (module constant)
        "LEFT JOIN ref_practices AS d USING (practice_code) "
        f"WHERE u.indicator_id = $indicator AND u.period_id = $period{area_sql} GROUP BY ALL"
    )
    return [(int(months), int(children)) for months, children in con.cursor().execute(sql, params).fetchall()]


def completion_counts_from_records(
    con: Any, *, indicator: str, period: str, filters: dict[str, Any] | None = None
) -> list[tuple[int, int]]:
    """The same counts as :func:`completion_counts`, read from ``ind_patient`` and the immunisation records.

    The definition the build's table is checked against (``tests/unit/test_uptake_table.py``).
    """
    measures = _measure_rows(indicator)
    cohort_age = measures[0].age_months
    params: dict[str, Any] = {"indicator": indicator, "period": period, "cohort_age": cohort_age}
    rule_rows = []
    for index, measure in enumerate(measures):
        params.update(
            {
                f"v{index}": list(measure.vaccines),
                f"n{index}": measure.min_doses,
                f"f{index}": measure.valid_from_months,
                f"c{index}": measure.course_doses,
                f"bf{index}": measure.born_from,
                f"bb{index}": measure.born_before,
            }
        )
        rule_rows.append(f"($v{index}, $n{index}, $f{index}, $c{index}, $bf{index}, $bb{index})")
    area_sql = _area_sql(filters, params)
    sql = f"""
    WITH given(vaccines, min_doses, valid_from_months, course_doses, born_from, born_before) AS (
        VALUES {", ".join(rule_rows)}
    ),
    rules AS (
        SELECT vaccines, CAST(min_doses AS INTEGER) AS min_doses,
               CAST(valid_from_months AS INTEGER) AS valid_from_months,
               CAST(course_doses AS INTEGER) AS course_doses, born_from, born_before
        FROM given
    ),
    cohort AS (
        SELECT f.patient_id, d.birth_date
        FROM ind_patient AS f JOIN patient_dim AS d USING (patient_id)
        WHERE f.indicator_id = $indicator AND f.period_id = $period AND f.denominator > 0{area_sql}
    ),
    doses AS (
        SELECT c.patient_id, c.birth_date, r.min_doses, r.course_doses,
               list_sort(list_distinct(list(i.vaccination_date) FILTER (
                   WHERE i.vaccination_date >= c.birth_date + to_months(r.valid_from_months)
               ))) AS valid,
               list_sort(list_distinct(list(i.vaccination_date))) AS course
        FROM cohort AS c
        JOIN rules AS r ON c.birth_date >= r.born_from AND c.birth_date < r.born_before
        JOIN immunisations AS i
          ON i.patient_id = c.patient_id AND list_contains(r.vaccines, i.vaccine)
         AND i.vaccination_date >= {dose_read_from_sql("c.birth_date", "r")}
         AND i.vaccination_date < c.birth_date + to_months(CAST($cohort_age AS INTEGER))
        GROUP BY ALL
    ),
    completion AS (SELECT birth_date, {cover_completion_sql("valid", "course", "doses")} AS completed_on FROM doses)
    SELECT {completed_months_sql("birth_date", "completed_on")} AS completed_months, count(*) AS children
    FROM completion WHERE completed_on IS NOT NULL
    GROUP BY ALL
    UNION ALL
    SELECT -1, count(*) FROM cohort
    """  # noqa: S608 (identifiers from module whitelists; values bound)
    return con.cursor().execute(sql, params).fetchall()


def uptake_curves(
    con: Any,
    *,
    indicator: str,
    period: str,
    area: dict[str, Any] | None = None,
    area_name: str = "",
    disclose: bool = True,
) -> pd.DataFrame:
    """Uptake by age for an area and for London, stacked with a ``series`` column (area first)."""
    frames = []
    if area:
        frames.append(
            uptake_by_age(con, indicator=indicator, period=period, filters=area, disclose=disclose).assign(
                series=area_name or "Selected area"
            )
        )
    frames.append(uptake_by_age(con, indicator=indicator, period=period, disclose=disclose).assign(series="London"))
    return pd.concat(frames, ignore_index=True)


# ----------------------------------------------------------------------------- GP-team view


def practice_details(con: Any, *, practice_code: str) -> dict[str, Any] | None:
    """The reference row of one practice (name, PCN, borough, ICB, list size) or None when the code is unknown.

    Every practice's row is read once per connection (about 1,150 rows): a GP-team page asks for its
    practice up to four times a click, and a query each cost about 1 ms.
    """
    cached = _per_connection.get(con)
    if "practices" not in cached:
        result = con.cursor().execute(
            "SELECT p.practice_code, p.practice_name, p.pcn_code, p.pcn_name, p.borough_code, b.borough_name, "
            "p.icb_code, p.list_size FROM ref_practices AS p JOIN ref_boroughs AS b USING (borough_code)"
        )
        columns = [column[0] for column in result.description]
        # Python values, None for a missing PCN (as the one-row frame gave).
        cached["practices"] = {row[0]: dict(zip(columns, row, strict=True)) for row in result.fetchall()}
    row = cached["practices"].get(practice_code)
    return None if row is None else dict(row)


_per_connection = PerConnection()


def practice_options(con: Any, *, borough_code: str | None = None) -> pd.DataFrame:
    """Practices (code, name, borough) for pickers, optionally in one borough, by name."""
    sql = (
        "SELECT practice_code, practice_name, borough_code FROM ref_practices "
        "WHERE ($borough IS NULL OR borough_code = $borough) ORDER BY practice_name, practice_code"
    )
    return con.cursor().execute(sql, {"borough": borough_code}).df()


def borough_options(con: Any) -> pd.DataFrame:
    """The 33 boroughs (code, name) by name."""
    return con.cursor().execute("SELECT borough_code, borough_name FROM ref_boroughs ORDER BY borough_name").df()


def period_for(con: Any, *, indicator: str, period_type: str) -> str:
    """The latest period of ``period_type`` for ``indicator``, or its default when it has no such type."""
    spec = get(indicator)
    return default_period(con, indicator, period_type if period_type in spec.period_types else None)


def area_trend(
    con: Any, *, indicator: str, level: str, code: str | None, name: str, disclose: bool = True
) -> pd.DataFrame:
    """:func:`queries.indicators.trend` for London, one borough or one practice, its rows named after that area.

    The engine's trend narrows London by filters, so a borough's or practice's rows came back as
    "London" (E12000007) with ``london_value`` equal to the area's own value; the CSV a GP team took
    away said London. Here they carry the area's code and name, and the comparison with "London"
    (the area against itself) is left out.
    """
    if level not in ("london", "borough", "practice"):
        raise QueryError(f"Unknown area level {level!r}")
    if level == "london" or not code:
        return trend(con, indicator=indicator, disclose=disclose)
    series = trend(con, indicator=indicator, filters={level: code}, disclose=disclose)
    return trend_named_for_area(series, code=code, name=name)


_LEVELS = ("Practice", "PCN", "Borough", "London")


@cached_query
def practice_comparison(
    con: Any,
    *,
    practice_code: str,
    period_type: str = "quarter",
    disclose: bool = True,
    disclose_practice: bool | None = None,
) -> pd.DataFrame:
    """Every immunisation indicator for one practice beside its PCN, borough and London.

    One row per indicator and level (``Practice``, ``PCN``, ``Borough``, ``London``) with
    the engine's columns (value, CIs, counts, ``patients_to_target`` = children short
    of the target, ``comparison`` with London: the practice's and the borough's rows are compared
    with London, the PCN's and London's are not compared, ``suppressed``), plus ``title``,
    ``period_id``, ``level`` and, on the practice rows, its ``rank`` among the borough's
    practices with a shown value (1 = highest) and ``ranked`` (how many were ranked).

    ``disclose`` applies to the PCN, borough and London rows and to the other practices the rank
    is taken among; ``disclose_practice`` to the practice's own rows (None: as ``disclose``). The
    caller decides both (a user who may list the practice's children sees its own figures unrounded).
    """
    disclose_practice = disclose if disclose_practice is None else disclose_practice
    return _practice_comparison(
        con,
        practice_code=practice_code,
        period_type=period_type,
        disclose=disclose,
        disclose_practice=disclose_practice,
    )


def _practice_comparison(
    con: Any, *, practice_code: str, period_type: str, disclose: bool, disclose_practice: bool
) -> pd.DataFrame:
    details = practice_details(con, practice_code=practice_code)
    if details is None:
        raise QueryError(f"No practice {practice_code!r} in the reference list")
    specs = immunisation_indicators()
    requests = [(spec.id, period_for(con, indicator=spec.id, period_type=period_type)) for spec in specs]

    # Three engine queries for every vaccine at once: one per vaccine and level cost 45 queries and as
    # many small frames, most of the view's time at scale 1.0. The practices are compared with London
    # (the filter would make the borough the benchmark; the table and CSV say London).
    def borough_practices(disclose_counts: bool) -> pd.DataFrame:
        return indicator_values_batch(
            con,
            requests=requests,
            by="practice",
            filters={"borough": details["borough_code"]},
            disclose=disclose_counts,
            compare_with="london",
        )

    practices = borough_practices(disclose)
    own = None
    if disclose_practice != disclose:
        # The practice's own rows at its own disclosure level, compared with London as in the other rows.
        own = _own_rows(
            practices,
            indicator_values_batch(
                con,
                requests=requests,
                by="practice",
                filters={"practice": practice_code},
                disclose=disclose_practice,
                compare_with="london",
            ),
            practice_code,
        )
    # Unfiltered, the borough rows carry London's value (same filters: none) in london_value.
    boroughs = indicator_values_batch(con, requests=requests, by="borough", disclose=disclose)
    pcn = indicator_values_batch(
        con, requests=requests, by="pcn", filters={"pcn": details["pcn_code"]}, disclose=disclose
    )
    parts = [
        _practice_rows(practices, requests, details, own=own).assign(level="Practice"),
        pcn[pcn["area_code"] == details["pcn_code"]].assign(level="PCN"),
        boroughs[boroughs["area_code"] == details["borough_code"]].assign(level="Borough"),
        _london_rows(boroughs, requests, disclose).assign(level="London"),
    ]
    result = pd.concat([part for part in parts if not part.empty], ignore_index=True)
    position = {spec.id: index for index, spec in enumerate(specs)}
    result["title"] = result["indicator_id"].map({spec.id: spec.title for spec in specs})
    result["level"] = pd.Categorical(result["level"], categories=_LEVELS, ordered=True)
    # Vaccines in registry order, each with its levels Practice, PCN, Borough, London.
    order = np.lexsort((result["level"].cat.codes.to_numpy(), result["indicator_id"].map(position).to_numpy()))
    return result.iloc[order].reset_index(drop=True)


def _with_own_rows(practices: pd.DataFrame, other_level: pd.DataFrame, practice_code: str) -> pd.DataFrame:
    """The borough's practice rows with ``practice_code``'s own rows taken from ``other_level`` (:func:`_own_rows`)."""
    rest = practices[practices["area_code"] != practice_code]
    return pd.concat([rest, _own_rows(practices, other_level, practice_code)], ignore_index=True)


def _own_rows(practices: pd.DataFrame, other_level: pd.DataFrame, practice_code: str) -> pd.DataFrame:
    """``practice_code``'s rows of ``other_level``, for showing among the rows of ``practices``.

    Both frames are the same engine call (or ``other_level`` narrowed to the practice) at two disclosure
    levels; the practice's rows (value, intervals, counts, comparison with the benchmark unless the
    benchmark's value is hidden in ``practices``) come from the other one, so its rank is taken among the
    others' shown values as they are.
    """
    own = other_level[other_level["area_code"] == practice_code].copy()
    # Where the benchmark's value is hidden (1-7 children in it), so is the comparison with it.
    hidden = own["indicator_id"].isin(practices.loc[practices["london_value"].isna(), "indicator_id"])
    own["london_value"] = own["london_value"].astype(object).where(~hidden, None)
    own["comparison"] = own["comparison"].where(~hidden, "not compared")
    return own


def _practice_rows(
    practices: pd.DataFrame,
    requests: list[tuple[str, str]],
    details: dict[str, Any],
    *,
    own: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The practice's row per vaccine with its ``rank`` among the borough's practices with a shown value.

    ``ranked`` counts those practices. A vaccine with no child of the practice in its cohort gets an
    empty row, not a missing one. ``own``: the practice's rows to show instead of its rows in
    ``practices`` (:func:`_own_rows`); its rank is then taken among the others' rows and these.
    """
    practice_code = details["practice_code"]
    is_own = (practices["area_code"] == practice_code).to_numpy(dtype=bool)
    if own is None:
        own = practices[is_own]
    # Ranked in arrays, not a groupby over the borough's frame: the rank is 1 + how many shown values of
    # the vaccine are higher (pandas' rank, method "min", highest first), and this runs on every click.
    values, shown, ids = _shown_values(practices)
    others = shown & ~is_own
    own_values, own_shown, own_ids = _shown_values(own)
    higher = np.array(
        [
            np.count_nonzero(others & (ids == indicator_id) & (values > value))
            for indicator_id, value in zip(own_ids, own_values, strict=True)
        ],
        dtype=float,
    )
    ranked = pd.Series(np.concatenate([ids[others], own_ids[own_shown]])).value_counts(sort=False)
    present = set(own_ids)
    missing = [
        {
            "indicator_id": indicator_id,
            "period_id": period,
            "area_code": practice_code,
            "area_name": details["practice_name"],
            "numerator": 0.0,
            "denominator": 0.0,
            "suppressed": False,
            "comparison": "not compared",
        }
        for indicator_id, period in requests
        if indicator_id not in present
    ]
    own = own.assign(rank=np.where(own_shown, 1 + higher, np.nan))
    if missing:
        own = pd.concat([own, pd.DataFrame(missing)], ignore_index=True)
    return own.assign(ranked=own["indicator_id"].map(ranked).fillna(0).astype(int))


def _shown_values(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values as floats, whether each is shown: not suppressed and not empty, indicator ids) of engine rows."""
    values = pd.to_numeric(rows["value"]).to_numpy(dtype=float)
    shown = ~rows["suppressed"].to_numpy(dtype=bool) & ~np.isnan(values)
    return values, shown, rows["indicator_id"].to_numpy(dtype=object)


def _london_rows(boroughs: pd.DataFrame, requests: list[tuple[str, str]], disclose: bool) -> pd.DataFrame:
    """London per vaccine from the unfiltered borough rows: their ``london_value`` and summed counts.

    With disclosure control the counts are left out (a sum of the boroughs' rounded counts is not a
    disclosed London count); a hidden London value marks the row suppressed.
    """
    london_values = boroughs["london_value"]
    present = london_values.notna()
    values = london_values[present].groupby(boroughs["indicator_id"][present], sort=False).first()
    counts = None
    if not disclose:
        counts = boroughs[["numerator", "denominator"]].groupby(boroughs["indicator_id"], sort=False).sum(min_count=1)
    rows = []
    for indicator_id, period in requests:
        shown = indicator_id in values.index
        rows.append(
            {
                "indicator_id": indicator_id,
                "period_id": period,
                "area_code": LONDON_CODE,
                "area_name": "London",
                "value": values[indicator_id] if shown else None,
                "numerator": None if disclose else counts["numerator"].get(indicator_id, np.nan),
                "denominator": None if disclose else counts["denominator"].get(indicator_id, np.nan),
                "suppressed": not shown,
                "comparison": "not compared",
            }
        )
    return pd.DataFrame(rows)


def practice_ranking(
    con: Any,
    *,
    indicator: str,
    period: str,
    borough_code: str,
    disclose: bool = True,
    unrounded_practice: str | None = None,
) -> pd.DataFrame:
    """Every practice of a borough for one indicator (the engine's rows), for a ranked chart with CIs.

    ``london_value`` and ``comparison`` are London's (the borough filter would otherwise make the
    borough the benchmark, while the chart says "compared with London"); ``borough_value`` is the
    borough's own value (None where disclosure control hides it).

    ``unrounded_practice``: one practice whose own row is unrounded while the others follow
    ``disclose`` (the caller has decided its user may see that practice's figures).
    """
    check_indicator(indicator)
    area = {"borough": borough_code}

    def practices(disclose_counts: bool) -> pd.DataFrame:
        return indicator_values(
            con,
            indicator=indicator,
            period=period,
            by="practice",
            filters=area,
            disclose=disclose_counts,
            compare_with="london",
        )

    rows = practices(disclose)
    if disclose and unrounded_practice is not None:
        # In the engine's order (by practice code), as the disclosed rows were.
        rows = _with_own_rows(rows, practices(False), unrounded_practice)
        rows = rows.sort_values("area_code", kind="stable").reset_index(drop=True)
    borough = indicator_values(con, indicator=indicator, period=period, filters=area, disclose=disclose).iloc[0]
    shown = not bool(borough["suppressed"]) and pd.notna(borough["value"])
    return rows.assign(borough_value=float(borough["value"]) if shown else None)


def extract_date(con: Any) -> dt.date:
    """The extract date recorded in ``meta``."""
    row = con.cursor().execute("SELECT value FROM meta WHERE key = 'extract_date'").fetchone()
    if row is None:
        raise QueryError("The database records no extract date")
    return dt.date.fromisoformat(row[0])


__all__ = [
    "DEFAULT_INDICATOR",
    "INDICATOR_IDS",
    "LONDON_CODE",
    "SCHEDULED_AGE_MONTHS",
    "Headline",
    "borough_options",
    "check_indicator",
    "extract_date",
    "has_uptake_curve",
    "headline",
    "immunisation_indicators",
    "period_for",
    "level_column",
    "practice_comparison",
    "practice_details",
    "practice_options",
    "practice_ranking",
    "previous_period",
    "uptake_by_age",
    "uptake_curves",
]


def level_column(frame: pd.DataFrame, *, level: str, column: str, order) -> np.ndarray:
    """``column`` of :func:`practice_comparison` rows at ``level`` ("PCN", "Borough"...) for each indicator of
    ``order``: its last row at the level (at most one in practice), NaN where it has none.

    Looked up in a dict: a frame filtered, deduplicated and indexed for each level cost more than the rest of
    the GP-team table, which is redrawn on every click.
    """
    levels, ids, values = (
        frame["level"].astype(str).to_numpy(),
        frame["indicator_id"].to_numpy(),
        frame[column].to_numpy(),
    )
    last = {ids[row]: values[row] for row in np.flatnonzero(levels == level)}
    return np.array([last.get(indicator_id, np.nan) for indicator_id in order], dtype=object)


def practice_comparison_wide(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`practice_comparison` as one row per indicator: the practice's figures, then PCN, borough, London.

    Columns: ``indicator_id``, ``title``, ``period_id``, ``practice_value``, ``ci_low``, ``ci_high``,
    ``vaccinated``, ``children``, ``children_short`` (to the target), ``children_short_suppressed`` (hidden by
    disclosure control), ``rank``, ``ranked``, ``comparison``, ``pcn_value``, ``borough_value``, ``london_value``,
    ``suppressed`` (the practice's row).
    """
    levels = frame["level"].astype(str)
    order = pd.unique(frame["indicator_id"])
    # One indexed lookup per level and column, not a dict per row: this table is redrawn on every click.
    practice = frame[levels == "Practice"].set_index("indicator_id")

    def column_of(rows: pd.DataFrame, column: str) -> np.ndarray:
        if column not in rows:
            return np.full(len(order), None, dtype=object)
        return rows[column].reindex(order).to_numpy()

    def level_value(level: str) -> np.ndarray:
        return level_column(frame, level=level, column="value", order=order)

    wide = pd.DataFrame(
        {
            "indicator_id": order,
            "title": column_of(practice, "title"),
            "period_id": column_of(practice, "period_id"),
            "practice_value": column_of(practice, "value"),
            "ci_low": column_of(practice, "ci_low"),
            "ci_high": column_of(practice, "ci_high"),
            "vaccinated": column_of(practice, "numerator"),
            "children": column_of(practice, "denominator"),
            "children_short": column_of(practice, "patients_to_target"),
            "children_short_suppressed": [
                bool(flag) for flag in pd.Series(column_of(practice, "patients_to_target_suppressed")).fillna(False)
            ],
            "rank": column_of(practice, "rank"),
            "ranked": column_of(practice, "ranked"),
            "comparison": column_of(practice, "comparison"),
            "pcn_value": level_value("PCN"),
            "borough_value": level_value("Borough"),
            "london_value": level_value("London"),
            "suppressed": [bool(flag) for flag in column_of(practice, "suppressed")],
        }
    )
    for column in (
        "practice_value",
        "ci_low",
        "ci_high",
        "vaccinated",
        "children",
        "children_short",
        "rank",
        "ranked",
        "pcn_value",
        "borough_value",
        "london_value",
    ):
        wide[column] = pd.to_numeric(wide[column], errors="coerce")
    return wide
