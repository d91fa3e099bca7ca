"""Benchmark the indicator API: p50/p95 latency of ``indicator_values`` against pandas on in-memory rows.

For every indicator, four calls: ``by=practice`` and ``by=borough x imd_quintile``, each without and with
filters (sex = F and ethnic group Asian or Black). Each call is timed ``--repeat`` times after one warm-up,
with disclosure control on (the restricted-role path, the slower one) and the result cache off
(``PATHFINDER_QUERY_CACHE=0``): the engine's own speed is measured. ``engine_sql`` times the engine's
cube query alone (the rest of a call is names, statistics, disclosure and the DataFrame).

Two pandas baselines, both timed in the same run on DataFrames already in memory (loading is not timed):

- strict (``pandas``): the same aggregation over the same rows: the indicator's per-patient rows for the
  period, already derived by the engine and joined to their dimensions, filtered, grouped, summed, with
  Wilson intervals. Whole-list indicators (prevalence etc.) are rebuilt per patient from patient_dim and
  the registers. For small cohorts these rows are barely more than the cube's, so this is the hard one.
- analyst (``analyst``, COVER measures only): what an analyst without the engine does: derive the
  indicator from the extract's patient-level tables (children from patient_dim, their immunisations),
  by the engine's rule (cohort by birthday in the period, registered and alive at its end, distinct dose
  dates in the valid window), then aggregate the same way. Its London totals are checked against the
  engine's, so it computes the same thing.

    python bench/queries.py --db /tmp/eng/s01.duckdb [--db other.duckdb] [--repeat 20] [--out report.csv]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

# The engine's speed is what is measured here, so the per-process result cache stays off.
os.environ["PATHFINDER_QUERY_CACHE"] = "0"

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from queries import cache, indicators, stats  # noqa: E402
from queries.indicators import default_period, indicator_values  # noqa: E402
from queries.materialise import COVER_MEASURES  # noqa: E402
from queries.registry import INDICATORS, get  # noqa: E402

FILTERS = {"sex": "F", "ethnicity_group": ["Asian", "Black"]}
CASES = (
    ("practice", "practice", None),
    ("practice+filters", "practice", FILTERS),
    ("borough x imd", ("borough", "imd_quintile"), None),
    ("borough x imd+filters", ("borough", "imd_quintile"), FILTERS),
)
PANDAS_KEYS = {"practice": ["practice_code"], ("borough", "imd_quintile"): ["borough_code", "imd_quintile_national"]}
# Whole-list indicators: numerator flag = membership of a register read from another indicator's denominator.
REGISTER_OF = {"hyp_prevalence": "hyp_bp_recorded_12m", "ast_prevalence": "ast_saba_3plus"}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[index]


def _time(call, repeat: int) -> tuple[list[float], list[float]]:
    """Wall and process CPU milliseconds of ``repeat`` calls after one warm-up.

    CPU time (every thread of the process) is reported beside wall time because on the shared 2-core
    machine wall time is mostly waiting for a core.
    """
    call()
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu


def _patient_rows(con: duckdb.DuckDBPyConnection, indicator_id: str, period: str) -> pd.DataFrame | None:
    """The indicator's per-patient rows with their dimensions, as a pandas baseline would hold them."""
    dims = "d.practice_code, d.borough_code, d.imd_quintile_national, d.sex, d.ethnicity_group"
    if indicator_id in REGISTER_OF:
        return con.execute(
            f"""
            SELECT {dims}, CASE WHEN r.patient_id IS NULL THEN 0.0 ELSE 1.0 END AS numerator, 1.0 AS denominator
            FROM patient_dim AS d
            JOIN ind_period AS p ON p.period_id = $period
            LEFT JOIN ind_patient AS r
              ON r.patient_id = d.patient_id AND r.indicator_id = $register AND r.period_id = $period
            WHERE d.registration_start <= p.end_date
              AND (d.registration_end IS NULL OR d.registration_end > p.end_date)
              AND (d.death_date IS NULL OR d.death_date > p.end_date)
            """,  # noqa: S608 (fixed column list)
            {"period": period, "register": REGISTER_OF[indicator_id]},
        ).df()
    count = con.execute(
        "SELECT count(*) FROM ind_patient WHERE indicator_id = ? AND period_id = ?", [indicator_id, period]
    ).fetchone()[0]
    if count == 0:
        return None
    return con.execute(
        f"SELECT {dims}, f.numerator, f.denominator FROM ind_patient AS f JOIN patient_dim AS d USING (patient_id) "  # noqa: S608
        "WHERE f.indicator_id = ? AND f.period_id = ?",
        [indicator_id, period],
    ).df()


def _children_and_doses(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """patient_dim rows of children young enough for a COVER cohort, and their immunisations (not timed).

    Restricting both to those children at load time keeps the analyst baseline's timed work smaller
    than a full extract would make it, so its speed-up is on the low side.
    """
    born_from = "(SELECT min(start_date) FROM ind_period WHERE period_type IN ('quarter', 'fy')) - INTERVAL 61 MONTH"
    children = con.execute(
        "SELECT patient_id, birth_date, registration_start, registration_end, death_date, practice_code, "  # noqa: S608 (fixed SQL)
        f"borough_code, imd_quintile_national, sex, ethnicity_group FROM patient_dim WHERE birth_date >= {born_from}"
    ).df()
    doses = con.execute(
        "SELECT i.patient_id, i.vaccine, i.vaccination_date FROM immunisations AS i "  # noqa: S608 (fixed SQL)
        f"SEMI JOIN (SELECT patient_id FROM patient_dim WHERE birth_date >= {born_from}) USING (patient_id)"
    ).df()
    for frame in (children, doses):
        for column in frame.columns:
            if column.endswith("_date") or column == "registration_start" or column == "registration_end":
                frame[column] = pd.to_datetime(frame[column])
    doses["vaccine"] = doses["vaccine"].astype("category")  # as an analyst would hold a short vocabulary
    return children, doses


def _analyst_cover(
    children: pd.DataFrame,
    doses: pd.DataFrame,
    indicator_id: str,
    period: tuple,
    keys: list[str],
    filters: dict | None,
) -> pd.DataFrame:
    """COVER measure derived from the patient-level frames by the engine's rule, then aggregated."""
    _type, start, end, _label = period
    start, end = pd.Timestamp(start), pd.Timestamp(end)
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
        given = doses[doses["vaccine"].isin(vaccines)].merge(
            cohort[["patient_id", "birthday", "valid_from"]], on="patient_id"
        )
        given = given[
            (given["vaccination_date"] < given["birthday"]) & (given["vaccination_date"] >= given["valid_from"])
        ]
        counted = given.groupby("patient_id")["vaccination_date"].nunique()
        cohort["numerator"] = (cohort["patient_id"].map(counted).fillna(0) >= min_doses).astype(float)
        cohort["denominator"] = 1.0
        cohorts.append(cohort)
    rows = pd.concat(cohorts, ignore_index=True)
    return _pandas_aggregate(rows, keys, filters)


def _pandas_aggregate(rows: pd.DataFrame, keys: list[str], filters: dict | None) -> pd.DataFrame:
    data = rows
    if filters:
        mask = np.ones(len(data), dtype=bool)
        for column, value in filters.items():
            values = value if isinstance(value, list) else [value]
            mask &= data[column].isin(values).to_numpy()
        data = data[mask]
    grouped = data.groupby(keys, dropna=False)[["numerator", "denominator"]].sum().reset_index()
    low, high = stats.wilson_interval(grouped["numerator"], grouped["denominator"])
    grouped["value"] = grouped["numerator"] / grouped["denominator"]
    grouped["ci_low"], grouped["ci_high"] = low, high
    return grouped


def _engine_sql(con, indicator_id: str, period: str, by, filters) -> None:
    """The engine's cube query alone, as :func:`indicator_values` runs it."""
    indicators._aggregate(con, get(indicator_id), period, indicators._parse_by(by), filters)


def _text_filter_call(con, indicator_id: str, period: str, by, filters) -> None:
    """The same call forced onto the text ``indicator_id``/``period_id`` filter (the layout before ``slice``)."""
    slice_numbers = indicators._slice_numbers
    indicators._slice_numbers = lambda con: None
    try:
        indicator_values(con, indicator=indicator_id, period=period, by=by, filters=filters, disclose=True)
    finally:
        indicators._slice_numbers = slice_numbers


def bench_database(
    path: str,
    repeat: int,
    *,
    pandas_repeat: int | None = None,
    only: list[str] | None = None,
    partial: Path | None = None,
) -> pd.DataFrame:
    """Every case for every indicator (or ``only`` these, in that order) on one database.

    ``partial``: rewrite the rows measured so far to this CSV after each indicator, so a long run at
    scale 1.0 on a busy machine leaves figures even if it is stopped.
    """
    pandas_repeat = pandas_repeat or repeat
    cache.configure(0)
    con = duckdb.connect(path, read_only=True)
    patients = con.execute("SELECT count(*) FROM patient_dim").fetchone()[0]
    chosen = [get(indicator_id) for indicator_id in only] if only else list(INDICATORS)
    cover_ids = {measure[0] for measure in COVER_MEASURES} & {indicator.id for indicator in chosen}
    children, doses = _children_and_doses(con) if cover_ids else (None, None)
    period_table = indicators._period_table(con)
    has_slices = indicators._slice_numbers(con) is not None
    rows = []
    for indicator in chosen:
        period = default_period(con, indicator.id)
        frame = _patient_rows(con, indicator.id, period)
        for label, by, filters in CASES:
            engine, engine_cpu = _time(
                lambda by=by, filters=filters, indicator_id=indicator.id, period=period: indicator_values(
                    con, indicator=indicator_id, period=period, by=by, filters=filters, disclose=True
                ),
                repeat,
            )
            sql, _sql_cpu = _time(
                lambda by=by, filters=filters, indicator_id=indicator.id, period=period: _engine_sql(
                    con, indicator_id, period, by, filters
                ),
                repeat,
            )
            row = {
                "db": Path(path).name if Path(path).name != "pathfinder.duckdb" else str(Path(path).parent.name),
                "patients": patients,
                "indicator_id": indicator.id,
                "case": label,
                "engine_p50_ms": statistics.median(engine),
                "engine_p95_ms": _percentile(engine, 95),
                "engine_cpu_p50_ms": statistics.median(engine_cpu),
                "engine_sql_p50_ms": statistics.median(sql),
                "load_average": os.getloadavg()[0],
            }
            if has_slices:
                text, _text_cpu = _time(
                    lambda by=by, filters=filters, indicator_id=indicator.id, period=period: _text_filter_call(
                        con, indicator_id, period, by, filters
                    ),
                    repeat,
                )
                row["engine_text_filter_p50_ms"] = statistics.median(text)
            keys = PANDAS_KEYS[by if isinstance(by, str) else tuple(by)]
            if frame is not None:
                baseline, baseline_cpu = _time(
                    lambda keys=keys, filters=filters, frame=frame: _pandas_aggregate(frame, keys, filters),
                    pandas_repeat,
                )
                row.update(
                    pandas_rows=len(frame),
                    pandas_p50_ms=statistics.median(baseline),
                    pandas_p95_ms=_percentile(baseline, 95),
                    pandas_cpu_p50_ms=statistics.median(baseline_cpu),
                )
            if indicator.id in cover_ids:
                call = (  # noqa: E731 (a closure timed below)
                    lambda keys=keys, filters=filters, indicator_id=indicator.id, period=period: _analyst_cover(
                        children, doses, indicator_id, period_table[period], keys, filters
                    )
                )
                derived = call()
                expected = indicator_values(
                    con, indicator=indicator.id, period=period, by=by, filters=filters, disclose=False
                )
                if not np.allclose(
                    derived[["numerator", "denominator"]].sum().to_numpy(),
                    expected[["numerator", "denominator"]].sum().to_numpy(),
                ):
                    raise AssertionError(f"analyst baseline for {indicator.id} {label} disagrees with the engine")
                analyst, _analyst_cpu = _time(call, max(3, pandas_repeat // 4))
                row.update(analyst_p50_ms=statistics.median(analyst), analyst_p95_ms=_percentile(analyst, 95))
            rows.append(row)
        print(f"  {indicator.id}: done", file=sys.stderr, flush=True)
        if partial is not None:
            pd.DataFrame(rows).to_csv(partial, index=False)
    con.close()
    return _with_ratios(pd.DataFrame(rows))


def _with_ratios(result: pd.DataFrame) -> pd.DataFrame:
    """Speed-ups (baseline / engine) of a per-call table, also for tables read back from CSV."""
    result = result.copy()
    for column in ("pandas_p50_ms", "pandas_p95_ms", "pandas_cpu_p50_ms", "analyst_p50_ms"):
        if column not in result:
            result[column] = np.nan
    result["speedup_p50"] = result["pandas_p50_ms"] / result["engine_p50_ms"]
    result["speedup_p95"] = result["pandas_p95_ms"] / result["engine_p95_ms"]
    result["speedup_cpu_p50"] = result["pandas_cpu_p50_ms"] / result["engine_cpu_p50_ms"]
    result["analyst_speedup_p50"] = result["analyst_p50_ms"] / result["engine_p50_ms"]
    return result


def _family(indicator_id: str) -> str:
    spec = get(indicator_id)
    return spec.pathfinder


def _ratio(values: pd.Series) -> str:
    values = values.dropna()
    return f"{values.median():.1f}x / {values.min():.1f}x" if len(values) else "-"


def summarise(result: pd.DataFrame) -> str:
    """Markdown tables of a per-call table: by case, by pathfinder, totals and the slowest calls."""
    result = _with_ratios(result)
    lines = []
    for db, group in result.groupby("db", sort=False):
        group = group.assign(family=group["indicator_id"].map(_family))
        analyst = "analyst_speedup_p50" in group and group["analyst_speedup_p50"].notna().any()
        lines += [
            f"### {db} ({int(group['patients'].iloc[0]):,} patients, {group['indicator_id'].nunique()} indicators)",
            "",
            "| case | engine p50 ms (median) | engine p95 ms (median / worst) | engine SQL p50 ms | "
            "engine CPU p50 ms | "
            "pandas p50 ms (median) | pandas p95 ms (median) | strict speed-up p50 (median / min) | "
            "strict speed-up, CPU time | analyst speed-up p50, COVER (median / min) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for case, rows in group.groupby("case", sort=False):
            lines.append(
                f"| {case} | {rows['engine_p50_ms'].median():.1f} | {rows['engine_p95_ms'].median():.1f} / "
                f"{rows['engine_p95_ms'].max():.1f} | {rows['engine_sql_p50_ms'].median():.1f} | "
                f"{rows['engine_cpu_p50_ms'].median():.1f} | "
                f"{rows['pandas_p50_ms'].median():.1f} | {rows['pandas_p95_ms'].median():.1f} | "
                f"{_ratio(rows['speedup_p50'])} | {_ratio(rows['speedup_cpu_p50'])} | "
                f"{_ratio(rows['analyst_speedup_p50']) if analyst else '-'} |"
            )
        if "engine_text_filter_p50_ms" in group and group["engine_text_filter_p50_ms"].notna().any():
            lines += [
                "",
                "Design change on this file: the same calls through the text-id filter (the layout before `slice`):",
                "",
            ]
            for case, rows in group.groupby("case", sort=False):
                ratio = rows["engine_text_filter_p50_ms"] / rows["engine_p50_ms"]
                lines.append(
                    f"- {case}: p50 median {rows['engine_text_filter_p50_ms'].median():.2f} ms with text ids, "
                    f"{rows['engine_p50_ms'].median():.2f} ms with `slice` (text / slice per call: median "
                    f"{ratio.median():.2f}, max {ratio.max():.2f})"
                )
        lines += [
            "",
            "By pathfinder (all four cases):",
            "",
            "| pathfinder | indicators | pandas rows (median) | engine p50 ms | engine p95 ms (worst) | "
            "pandas p50 ms | strict speed-up p50 (median / min) | share of calls >= 10x |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for family, rows in group.groupby("family", sort=False):
            compared = rows["speedup_p50"].dropna()
            lines.append(
                f"| {family} | {rows['indicator_id'].nunique()} | {rows['pandas_rows'].median():,.0f} | "
                f"{rows['engine_p50_ms'].median():.1f} | {rows['engine_p95_ms'].max():.1f} | "
                f"{rows['pandas_p50_ms'].median():.1f} | {_ratio(rows['speedup_p50'])} | "
                f"{(compared >= 10).mean():.0%} |"
            )
        lines += [
            "",
            f"All calls: engine p95 worst {group['engine_p95_ms'].max():.1f} ms, median p95 "
            f"{group['engine_p95_ms'].median():.1f} ms, median p50 {group['engine_p50_ms'].median():.1f} ms "
            f"(load average during the run {group['load_average'].min():.1f}-{group['load_average'].max():.1f}); "
            f"strict speed-up median {group['speedup_p50'].median():.1f}x, minimum {group['speedup_p50'].min():.1f}x"
            + (
                f"; analyst speed-up (COVER) median {group['analyst_speedup_p50'].median():.0f}x, "
                f"minimum {group['analyst_speedup_p50'].min():.0f}x."
                if analyst
                else "."
            ),
            "",
            "Slowest calls:",
            "",
            group.sort_values("engine_p95_ms", ascending=False)
            .head(5)[["indicator_id", "case", "engine_p50_ms", "engine_p95_ms", "engine_sql_p50_ms", "pandas_p50_ms"]]
            .round(1)
            .to_string(index=False),
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", action="append", default=[], help="database built by python -m data.build")
    parser.add_argument(
        "--from-csv", nargs="+", type=Path, default=[], help="summarise per-call CSVs of earlier runs (concatenated)"
    )
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--pandas-repeat", type=int, help="timed repeats of each pandas baseline (default --repeat; fewer at scale 1.0)"
    )
    parser.add_argument("--indicators", nargs="+", help="only these indicator ids (default: every indicator)")
    parser.add_argument("--out", type=Path, help="also write the per-call table as CSV here")
    args = parser.parse_args(argv)
    if not args.db and not args.from_csv:
        parser.error("give --db (to measure) or --from-csv (to summarise earlier runs)")
    results = [pd.read_csv(path) for path in args.from_csv]
    for path in args.db:
        print(f"benchmarking {path}", file=sys.stderr, flush=True)
        results.append(
            bench_database(
                path,
                args.repeat,
                pandas_repeat=args.pandas_repeat,
                only=args.indicators,
                partial=args.out.with_suffix(f".partial{len(results)}.csv") if args.out else None,
            )
        )
    result = pd.concat(results, ignore_index=True)
    if args.out:
        result.to_csv(args.out, index=False)
    print(summarise(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
