"""Benchmark the indicator API: p50/p95 latency of ``indicator_values`` against pandas on in-memory rows.

For every indicator, four calls: ``by=practice`` and ``by=borough x imd_quintile``, each without and with
filters (sex = F and ethnic group Asian or Black). Each call is timed ``--repeat`` times after one warm-up,
with disclosure control on (the restricted-role path, the slower one).

The pandas baseline does the same aggregation the way it would be done without the engine: the
indicator's per-patient rows for the period, already joined to their dimensions and held in memory
(loading is not timed), filtered, grouped, summed, with Wilson intervals. Whole-list indicators
(prevalence etc.) are rebuilt per patient from patient_dim and the registers for the baseline.

    python bench/queries.py --db /tmp/eng/s01.duckdb [--db other.duckdb] [--repeat 20] [--out report.md]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from queries import stats  # noqa: E402
from queries.indicators import default_period, indicator_values  # noqa: E402
from queries.registry import INDICATORS  # noqa: E402

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


def _time(call, repeat: int) -> list[float]:
    call()
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


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


def bench_database(path: str, repeat: int) -> pd.DataFrame:
    con = duckdb.connect(path, read_only=True)
    patients = con.execute("SELECT count(*) FROM patient_dim").fetchone()[0]
    rows = []
    for indicator in INDICATORS:
        period = default_period(con, indicator.id)
        frame = _patient_rows(con, indicator.id, period)
        for label, by, filters in CASES:
            engine = _time(
                lambda by=by, filters=filters, indicator_id=indicator.id, period=period: indicator_values(
                    con, indicator=indicator_id, period=period, by=by, filters=filters, disclose=True
                ),
                repeat,
            )
            row = {
                "db": Path(path).name,
                "patients": patients,
                "indicator_id": indicator.id,
                "case": label,
                "engine_p50_ms": statistics.median(engine),
                "engine_p95_ms": _percentile(engine, 95),
            }
            if frame is not None:
                keys = PANDAS_KEYS[by if isinstance(by, str) else tuple(by)]
                baseline = _time(
                    lambda keys=keys, filters=filters, frame=frame: _pandas_aggregate(frame, keys, filters), repeat
                )
                row.update(
                    pandas_rows=len(frame),
                    pandas_p50_ms=statistics.median(baseline),
                    pandas_p95_ms=_percentile(baseline, 95),
                )
            rows.append(row)
        print(f"  {indicator.id}: done", file=sys.stderr, flush=True)
    con.close()
    result = pd.DataFrame(rows)
    result["speedup_p50"] = result.get("pandas_p50_ms") / result["engine_p50_ms"]
    return result


def summarise(result: pd.DataFrame) -> str:
    lines = []
    for db, group in result.groupby("db", sort=False):
        compared = group.dropna(subset=["pandas_p50_ms"])
        lines += [
            f"### {db} ({int(group['patients'].iloc[0]):,} patients, {len(group)} calls x repeats)",
            "",
            "| case | engine p50 ms (median over indicators) | engine p95 ms (worst indicator) | "
            "pandas p50 ms (median) | speed-up p50 (median / min) |",
            "|---|---|---|---|---|",
        ]
        for case, rows in group.groupby("case", sort=False):
            cmp_rows = rows.dropna(subset=["pandas_p50_ms"])
            lines.append(
                f"| {case} | {rows['engine_p50_ms'].median():.1f} | {rows['engine_p95_ms'].max():.1f} | "
                f"{cmp_rows['pandas_p50_ms'].median():.1f} | {cmp_rows['speedup_p50'].median():.1f}x / "
                f"{cmp_rows['speedup_p50'].min():.1f}x |"
            )
        lines += [
            "",
            f"All calls: engine p95 over every call {group['engine_p95_ms'].max():.1f} ms (worst), "
            f"median p95 {group['engine_p95_ms'].median():.1f} ms; speed-up vs pandas median "
            f"{compared['speedup_p50'].median():.1f}x, minimum {compared['speedup_p50'].min():.1f}x.",
            "",
            "Slowest calls:",
            "",
            group.sort_values("engine_p95_ms", ascending=False)
            .head(5)[["indicator_id", "case", "engine_p50_ms", "engine_p95_ms", "pandas_p50_ms"]]
            .round(1)
            .to_markdown(index=False)
            if hasattr(pd.DataFrame, "to_markdown") and _has_tabulate()
            else group.sort_values("engine_p95_ms", ascending=False)
            .head(5)[["indicator_id", "case", "engine_p50_ms", "engine_p95_ms", "pandas_p50_ms"]]
            .round(1)
            .to_string(index=False),
            "",
        ]
    return "\n".join(lines)


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", action="append", required=True, help="database built by python -m data.build")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out", type=Path, help="also write the per-call table as CSV here")
    args = parser.parse_args(argv)
    results = []
    for path in args.db:
        print(f"benchmarking {path}", file=sys.stderr, flush=True)
        results.append(bench_database(path, args.repeat))
    result = pd.concat(results, ignore_index=True)
    if args.out:
        result.to_csv(args.out, index=False)
    print(summarise(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
