"""Benchmark the indicator API: p50/p95 latency of ``indicator_values`` against pandas on in-memory rows.

For every indicator, four calls: ``by=practice`` and ``by=borough x imd_quintile``, each without and with
filters (sex = F and ethnic group Asian or Black). Each call is timed ``--repeat`` times after one warm-up,
with disclosure control on (the restricted-role path, the slower one) and the result cache off
(``PATHFINDER_QUERY_CACHE=0``): the engine's own speed is measured. ``engine_sql`` times the engine's
cube query alone (the rest of a call is names, statistics, disclosure and the DataFrame).

Two pandas baselines, both timed in the same run on DataFrames already in memory (loading is not timed):

- strict (``pandas``): the same aggregation over the same rows: the indicator's per-patient rows for the
  period, already derived by the engine and joined to their dimensions, filtered, grouped, summed, with
  Wilson intervals (Poisson for a ratio). Whole-list indicators (prevalence etc.) are rebuilt per patient
  from patient_dim and the registers. For small cohorts these rows are barely more than the cube's, so
  this is the hard one.
- analyst (``analyst``): what an analyst without the engine does for the call: derive the indicator
  from the extract's patient-level tables held in memory (:mod:`bench.analyst`: patients, immunisations,
  clinical events, medications, emergency asthma admissions, cancer pathways and registrations) by the
  indicator's rule, for every indicator of the registry, then aggregate
  the same way. Every group's numerator and denominator is checked against the engine's in the run (a
  baseline that counts something else is not the same aggregation). The tables are loaded once; the
  load is reported separately, never in a call's time.

Engine calls also record full (generation-2) garbage collections that ran inside the timed call, so a
slow repeat can be told apart from a slow query (see ``bench/gc_pauses.py`` for the long-run study).

``--indicators`` with no ids benchmarks :data:`BENCH_INDICATORS` (three per pathfinder); without
``--indicators`` every indicator is measured.

    python bench/queries.py --db /tmp/eng/s01.duckdb [--db other.duckdb] [--repeat 20] [--out report.csv]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import analyst  # noqa: E402
from bench.timing import freeze_like_a_worker, percentile  # noqa: E402
from queries import cache, indicators, stats  # noqa: E402
from queries.indicators import default_period, indicator_values  # noqa: E402
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
# The default set of ``--indicators``: three per pathfinder, a large and a small cohort each.
BENCH_INDICATORS = (
    "cover_12m_6in1",
    "cover_24m_mmr1",
    "cover_5y_mmr2",
    "hyp_prevalence",
    "hyp008",
    "hyp_bp_recorded_12m",
    "ast_prevalence",
    "ast_saba_3plus",
    "ast_saba_no_ics",
    "cwt_fds_28d",
    "cwt_62d",
    "cancer_early_stage",
)


class FullCollections:
    """Counts generation-2 garbage collections and their milliseconds (a ``gc.callbacks`` hook)."""

    def __init__(self):
        self.count, self.ms, self._started = 0, 0.0, 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.ms += (time.perf_counter() - self._started) * 1000


FULL_GC = FullCollections()


def _time(call, repeat: int, *, warm_up: bool = True) -> tuple[list[float], list[float], int]:
    """Wall and process CPU milliseconds of ``repeat`` calls (after one warm-up call unless told not to).

    CPU time (every thread of the process) is reported beside wall time because on the shared 2-core
    machine wall time is mostly waiting for a core. The third value: how many timed calls had a full
    (generation-2) garbage collection inside them.
    """
    if warm_up:
        call()
    wall, cpu, collected = [], [], 0
    for _ in range(repeat):
        before = FULL_GC.count
        started, started_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        collected += FULL_GC.count > before
    return wall, cpu, collected


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


def _pandas_aggregate(rows: pd.DataFrame, keys: list[str], filters: dict | None, unit: str = "percent") -> pd.DataFrame:
    """Filter, group and sum ``rows``; the value and its 95 % interval as the engine gives them for ``unit``."""
    data = rows
    if filters:
        mask = np.ones(len(data), dtype=bool)
        for column, value in filters.items():
            values = value if isinstance(value, list) else [value]
            mask &= data[column].isin(values).to_numpy()
        data = data[mask]
    grouped = data.groupby(keys, dropna=False)[["numerator", "denominator"]].sum().reset_index()
    interval = stats.poisson_ratio_interval if unit == "ratio" else stats.wilson_interval
    low, high = interval(grouped["numerator"], grouped["denominator"])
    grouped["value"] = grouped["numerator"] / grouped["denominator"]
    grouped["ci_low"], grouped["ci_high"] = low, high
    return grouped


def _engine_sql(con, indicator_id: str, period: str, by, filters) -> None:
    """The engine's cube query alone, as :func:`indicator_values` runs it."""
    indicators._aggregate(con, get(indicator_id), period, indicators._parse_by(by), filters)


def bench_database(
    path: str,
    repeat: int,
    *,
    pandas_repeat: int | None = None,
    analyst_repeat: int | None = None,
    only: list[str] | None = None,
    partial: Path | None = None,
) -> pd.DataFrame:
    """Every case for every indicator (or ``only`` these, in that order) on one database.

    ``partial``: rewrite the rows measured so far to this CSV after each indicator, so a long run at
    scale 1.0 on a busy machine leaves figures even if it is stopped.
    """
    pandas_repeat = pandas_repeat or repeat
    analyst_repeat = analyst_repeat or max(3, pandas_repeat // 4)
    if FULL_GC not in gc.callbacks:
        gc.callbacks.append(FULL_GC)
    cache.configure(0)
    con = duckdb.connect(path, read_only=True)
    patients = con.execute("SELECT count(*) FROM patient_dim").fetchone()[0]
    chosen = [get(indicator_id) for indicator_id in only] if only else list(INDICATORS)
    analyst_ids = analyst.SUPPORTED & {indicator.id for indicator in chosen}
    extract = analyst.load(con, analyst_ids) if analyst_ids else None
    if extract is not None:
        print(
            f"  analyst tables loaded in {extract.load_seconds:.1f} s ({extract.load_cpu_seconds:.1f} s CPU), "
            f"{extract.memory_mib():,.0f} MiB: {extract.rows}",
            file=sys.stderr,
            flush=True,
        )
    # What is loaded now (the baselines' tables too) lives for the whole run; timed calls that still hold a
    # full collection are counted.
    freeze_like_a_worker()
    rows = []
    for indicator in chosen:
        period = default_period(con, indicator.id)
        frame = _patient_rows(con, indicator.id, period)
        for label, by, filters in CASES:
            engine, engine_cpu, engine_full_gc = _time(
                lambda by=by, filters=filters, indicator_id=indicator.id, period=period: indicator_values(
                    con, indicator=indicator_id, period=period, by=by, filters=filters, disclose=True
                ),
                repeat,
            )
            sql, _sql_cpu, _sql_full_gc = _time(
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
                "engine_p95_ms": percentile(engine, 95),
                "engine_cpu_p50_ms": statistics.median(engine_cpu),
                "engine_cpu_p95_ms": percentile(engine_cpu, 95),
                "engine_max_ms": max(engine),
                "engine_calls_with_full_gc": engine_full_gc,
                "engine_sql_p50_ms": statistics.median(sql),
                "load_average": os.getloadavg()[0],
            }
            keys = PANDAS_KEYS[by if isinstance(by, str) else tuple(by)]
            if frame is not None:
                baseline, baseline_cpu, _baseline_full_gc = _time(
                    lambda keys=keys, filters=filters, frame=frame, unit=indicator.unit: _pandas_aggregate(
                        frame, keys, filters, unit
                    ),
                    pandas_repeat,
                )
                row.update(
                    pandas_rows=len(frame),
                    pandas_p50_ms=statistics.median(baseline),
                    pandas_p95_ms=percentile(baseline, 95),
                    pandas_cpu_p50_ms=statistics.median(baseline_cpu),
                )
            if indicator.id in analyst_ids:
                row.update(_analyst_row(con, extract, indicator.id, period, label, by, filters, analyst_repeat))
            rows.append(row)
        print(f"  {indicator.id}: done", file=sys.stderr, flush=True)
        if partial is not None:
            pd.DataFrame(rows).to_csv(partial, index=False)
    con.close()
    return _with_ratios(pd.DataFrame(rows))


def _analyst_row(
    con, extract: analyst.Extract, indicator_id: str, period_id: str, label: str, by, filters, repeat: int
) -> dict:
    """Time the analyst baseline of one call, after checking every group's counts against the engine's."""
    keys = PANDAS_KEYS[by if isinstance(by, str) else tuple(by)]
    period = indicators._period_table(con)[period_id]
    unit = get(indicator_id).unit

    def call() -> pd.DataFrame:
        return _pandas_aggregate(analyst.derive(extract, indicator_id, period), keys, filters, unit)

    # The checked call is also the warm-up of the timed ones.
    units = analyst.derive(extract, indicator_id, period)
    derived = _pandas_aggregate(units, keys, filters, unit)
    engine = indicator_values(con, indicator=indicator_id, period=period_id, by=by, filters=filters, disclose=False)
    differ = analyst.count_mismatches(derived, keys, engine)
    if differ:
        raise AssertionError(
            f"analyst baseline for {indicator_id} {label}: {len(differ)} of {len(engine)} groups differ from the "
            f"engine, e.g. (group, analyst, engine) {sorted(differ, key=str)[:3]}"
        )
    wall, cpu, _full_gc = _time(call, repeat, warm_up=False)
    return {
        "analyst_rows": len(units),
        "analyst_groups_checked": len(engine),
        "analyst_p50_ms": statistics.median(wall),
        "analyst_p95_ms": percentile(wall, 95),
        "analyst_cpu_p50_ms": statistics.median(cpu),
        "analyst_load_s": extract.load_seconds,
        "analyst_load_cpu_s": extract.load_cpu_seconds,
    }


def _with_ratios(result: pd.DataFrame) -> pd.DataFrame:
    """Speed-ups (baseline / engine) of a per-call table, also for tables read back from CSV."""
    result = result.copy()
    for column in (
        "pandas_p50_ms",
        "pandas_p95_ms",
        "pandas_cpu_p50_ms",
        "pandas_rows",
        "analyst_p50_ms",
        "analyst_cpu_p50_ms",
        "analyst_rows",
        "engine_cpu_p95_ms",
        "engine_calls_with_full_gc",
    ):
        if column not in result:
            result[column] = np.nan
    result["speedup_p50"] = result["pandas_p50_ms"] / result["engine_p50_ms"]
    result["speedup_p95"] = result["pandas_p95_ms"] / result["engine_p95_ms"]
    result["speedup_cpu_p50"] = result["pandas_cpu_p50_ms"] / result["engine_cpu_p50_ms"]
    result["analyst_speedup_p50"] = result["analyst_p50_ms"] / result["engine_p50_ms"]
    result["analyst_speedup_cpu_p50"] = result["analyst_cpu_p50_ms"] / result["engine_cpu_p50_ms"]
    return result


def _family(indicator_id: str) -> str:
    spec = get(indicator_id)
    return spec.pathfinder


def _ratio(values: pd.Series) -> str:
    values = values.dropna()
    if not len(values):
        return "-"
    digits = 0 if values.min() >= 100 else 1
    return f"{values.median():.{digits}f}x / {values.min():.{digits}f}x"


def _median(values: pd.Series, spec: str) -> str:
    """The median of ``values`` formatted by ``spec``, or "-" when there is none (no strict baseline for
    the whole-list indicators, whose rows are never per patient)."""
    values = values.dropna()
    return format(values.median(), spec) if len(values) else "-"


def summarise(result: pd.DataFrame) -> str:
    """Markdown tables of a per-call table: by case, by pathfinder, totals and the slowest calls."""
    result = _with_ratios(result)
    lines = []
    for db, group in result.groupby("db", sort=False):
        group = group.assign(family=group["indicator_id"].map(_family))
        lines += [
            f"### {db} ({int(group['patients'].iloc[0]):,} patients, {group['indicator_id'].nunique()} indicators)",
            "",
            "Speed-ups are baseline p50 / engine p50 per call, then the median and minimum over calls; "
            "strict = pandas on the engine's own per-patient rows, analyst = pandas deriving the indicator "
            "from the extract's tables (counts checked per group against the engine).",
            "",
            "| case | engine p50 ms (median) | engine p95 ms (median / worst) | engine SQL p50 ms | "
            "engine CPU p50 ms | strict pandas p50 ms (median) | strict speed-up p50 (median / min) | "
            "strict speed-up, CPU | analyst pandas p50 ms (median) | analyst speed-up p50 (median / min) | "
            "analyst speed-up, CPU |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for case, rows in group.groupby("case", sort=False):
            lines.append(
                f"| {case} | {rows['engine_p50_ms'].median():.1f} | {rows['engine_p95_ms'].median():.1f} / "
                f"{rows['engine_p95_ms'].max():.1f} | {rows['engine_sql_p50_ms'].median():.1f} | "
                f"{rows['engine_cpu_p50_ms'].median():.1f} | {_median(rows['pandas_p50_ms'], '.1f')} | "
                f"{_ratio(rows['speedup_p50'])} | {_ratio(rows['speedup_cpu_p50'])} | "
                f"{rows['analyst_p50_ms'].median():,.0f} | {_ratio(rows['analyst_speedup_p50'])} | "
                f"{_ratio(rows['analyst_speedup_cpu_p50'])} |"
            )
        lines += [
            "",
            "By pathfinder (all four cases of each indicator):",
            "",
            "| pathfinder | indicators | strict rows (median) | analyst units (median) | engine p50 ms (median) | "
            "engine p95 ms (median / worst) | engine CPU p50 ms | strict speed-up p50 (median / min) | "
            "analyst speed-up p50 (median / min) | analyst speed-up, CPU (median / min) | calls >= 10x: strict, "
            "analyst |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for family, rows in group.groupby("family", sort=False):
            strict, derived = rows["speedup_p50"].dropna(), rows["analyst_speedup_p50"].dropna()
            lines.append(
                f"| {family} | {rows['indicator_id'].nunique()} | {_median(rows['pandas_rows'], ',.0f')} | "
                f"{rows['analyst_rows'].median():,.0f} | {rows['engine_p50_ms'].median():.1f} | "
                f"{rows['engine_p95_ms'].median():.1f} / {rows['engine_p95_ms'].max():.1f} | "
                f"{rows['engine_cpu_p50_ms'].median():.1f} | {_ratio(rows['speedup_p50'])} | "
                f"{_ratio(rows['analyst_speedup_p50'])} | {_ratio(rows['analyst_speedup_cpu_p50'])} | "
                f"{(strict >= 10).sum()}/{len(strict)}, {(derived >= 10).sum()}/{len(derived)} |"
            )
        loaded = group["analyst_load_s"].dropna() if "analyst_load_s" in group else pd.Series(dtype=float)
        lines += [
            "",
            f"All calls: engine p95 worst {group['engine_p95_ms'].max():.1f} ms, median p95 "
            f"{group['engine_p95_ms'].median():.1f} ms, median p50 {group['engine_p50_ms'].median():.1f} ms, "
            f"engine CPU p95 worst {group['engine_cpu_p95_ms'].max():.1f} ms (load average during the run "
            f"{group['load_average'].min():.1f}-{group['load_average'].max():.1f}); timed engine calls with a full "
            f"garbage collection inside: {int(group['engine_calls_with_full_gc'].sum())}"
            + (
                f"; analyst speed-up median {group['analyst_speedup_p50'].median():.0f}x, "
                f"minimum {group['analyst_speedup_p50'].min():.0f}x"
                if group["analyst_speedup_p50"].notna().any()
                else ""
            )
            + (
                f"; strict speed-up vs pandas median {group['speedup_p50'].median():.1f}x, "
                f"minimum {group['speedup_p50'].min():.1f}x."
                if group["speedup_p50"].notna().any()
                else "; no strict baseline (whole-list indicators only)."
            ),
            "",
        ]
        if len(loaded):
            lines += [
                f"Analyst tables loaded once before the calls: {loaded.iloc[0]:.1f} s wall, "
                f"{group['analyst_load_cpu_s'].dropna().iloc[0]:.1f} s CPU (not in any call's time).",
                "",
            ]
        lines += [
            "Slowest calls:",
            "",
            group.sort_values("engine_p95_ms", ascending=False)
            .head(5)[
                [
                    "indicator_id",
                    "case",
                    "engine_p50_ms",
                    "engine_p95_ms",
                    "engine_max_ms",
                    "engine_cpu_p95_ms",
                    "engine_calls_with_full_gc",
                    "engine_sql_p50_ms",
                ]
            ]
            .round(1)
            .to_string(index=False),
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    # The engine's speed is what is measured here, so the per-process result cache stays off (set here,
    # not at import: tests import this module and must not switch the cache off for the rest of their run).
    os.environ["PATHFINDER_QUERY_CACHE"] = "0"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", action="append", default=[], help="database built by python -m data.build")
    parser.add_argument(
        "--from-csv", nargs="+", type=Path, default=[], help="summarise per-call CSVs of earlier runs (concatenated)"
    )
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--pandas-repeat", type=int, help="timed repeats of each pandas baseline (default --repeat; fewer at scale 1.0)"
    )
    parser.add_argument(
        "--analyst-repeat", type=int, help="timed repeats of each analyst baseline (default max(3, pandas-repeat / 4))"
    )
    parser.add_argument(
        "--indicators",
        nargs="*",
        help="only these indicator ids; with no ids, BENCH_INDICATORS (default without the option: every indicator)",
    )
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
                analyst_repeat=args.analyst_repeat,
                only=list(BENCH_INDICATORS) if args.indicators == [] else args.indicators,
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
