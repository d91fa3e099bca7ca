"""Where the fixed cost of one ``indicator_values`` call goes, and what two candidate cuts would save.

For one indicator and case (``bench/queries.py`` cases; result cache off, disclosure on) times, as the
median of ``--repeat`` calls: the whole call; the engine's cube query with its fetch (``_aggregate``);
DuckDB's own planning and execution times for that query (its JSON profile); and the pieces after the
query rebuilt from the call's output: disclosure control on the arrays and making the DataFrame.
Candidate cuts, timed beside what they replace (nothing in the engine is changed):

- ``pd.DataFrame(..., copy=False)`` for the result (the arrays are fresh, a copy is wasted);
- the same call with ``SET threads = 1`` (alternating with the default in rounds, as load drifts);
- the engine's query fetched as rows or as Arrow instead of NumPy columns, and without its ORDER BY.

Statistics with disclosure, and the result frame, are also timed as they run in a call: each right after
the cube query, which leaves the CPU caches cold for them.

``--profile`` adds a pyinstrument profile (text) of ``--repeat`` calls.

    python bench/engine_overhead.py --db /tmp/final1/pathfinder.duckdb [--indicator hyp008] [--case practice]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.queries import CASES  # noqa: E402
from bench.timing import timed  # noqa: E402
from queries import cache, disclosure, indicators  # noqa: E402
from queries.indicators import OUTPUT_COLUMNS, default_period, indicator_values  # noqa: E402
from queries.registry import get  # noqa: E402


def _median_ms(call, repeat: int) -> tuple[float, float]:
    """Median wall and process-CPU milliseconds of ``repeat`` calls after 20 warm-up calls."""
    wall, cpu = timed(call, repeat, warm_ups=20)
    return statistics.median(wall), statistics.median(cpu)


def _median_after_query_ms(prepare, con, spec, period, dims, filters, repeat: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of a piece of a call, each time run right after the call's cube query.

    ``prepare()`` (untimed, before the query) returns the piece to time.
    """
    wall, cpu = [], []
    for index in range(repeat + 20):
        piece = prepare()
        indicators._aggregate(con, spec, period, dims, filters)
        started, started_cpu = time.perf_counter(), time.process_time()
        piece()
        if index >= 20:  # the first 20 warm up, as in _median_ms
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def _duckdb_profile(con, sql: str, params: dict) -> dict:
    """DuckDB's planner, optimiser and execution milliseconds for one run of ``sql``."""
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "profile.json"
        con.execute("PRAGMA enable_profiling = 'json'")
        con.execute(f"PRAGMA profiling_output = '{out}'")
        con.execute(sql, params).fetchall()
        con.execute("PRAGMA disable_profiling")
        profile = json.loads(out.read_text())
    return {
        "planner_ms": profile["planner"]["total_time"] * 1000,
        "optimizer_ms": profile["optimizer"]["total_time"] * 1000,
        "physical_planner_ms": profile["physical_planner"]["total_time"] * 1000,
        "query_total_ms": profile["query"]["total_time"] * 1000,
        "operator_cpu_ms": profile["query"]["cpu_time"] * 1000,
        "rows_scanned": profile["query"]["total_rows_scanned"],
        "row_groups_scanned": profile["query"]["total_row_groups_scanned"],
    }


def _captured_sql(con, spec, period: str, dims: list[str], filters) -> tuple[str, dict]:
    """The SQL and parameters :func:`indicators._aggregate` runs for this call."""
    seen: list[tuple[str, dict]] = []

    class Recorder:
        def __init__(self, cursor):
            self.cursor = cursor

        def execute(self, sql, params=None):
            seen.append((sql, params))
            return self.cursor.execute(sql, params)

    original = indicators._cursor
    indicators._cursor = lambda connection: Recorder(original(connection))
    try:
        indicators._aggregate(con, spec, period, dims, filters)
    finally:
        indicators._cursor = original
    return seen[-1]


def measure(path: str, indicator_id: str, case: str, repeat: int) -> list[tuple[str, float, float]]:
    """(step, wall ms, CPU ms) rows: the call, its parts and the candidate cuts."""
    cache.configure(0)
    con = duckdb.connect(path, read_only=True)
    _label, by, filters = next(c for c in CASES if c[0] == case)
    spec, period = get(indicator_id), default_period(con, indicator_id)
    dims = indicators._parse_by(by)

    def call():
        return indicator_values(con, indicator=indicator_id, period=period, by=by, filters=filters)

    raw = indicator_values(con, indicator=indicator_id, period=period, by=by, filters=filters, disclose=False)
    columns = {name: raw[name].to_numpy(dtype=object if raw[name].dtype != float else float) for name in raw}
    numerator = raw["numerator"].to_numpy(dtype=float)
    disclosed = {name: columns[name] for name in OUTPUT_COLUMNS}
    rows = [
        ("whole call (disclosure on)", *_median_ms(call, repeat)),
        (
            "  cube query + fetch (_aggregate)",
            *_median_ms(lambda: indicators._aggregate(con, spec, period, dims, filters), repeat),
        ),
        (
            "  disclosure on the arrays (apply_arrays)",
            *_median_ms(
                lambda: disclosure.apply_arrays(
                    columns,
                    other_counts=["patients_to_target"],
                    derived=indicators._DERIVED + ["comparison"],
                    decimals=spec.decimals,
                ),
                repeat,
            ),
        ),
        ("    disclose_array(numerator)", *_median_ms(lambda: disclosure.disclose_array(numerator), repeat)),
        ("  result DataFrame from the arrays", *_median_ms(lambda: pd.DataFrame(disclosed), repeat)),
        ("    cut: DataFrame(copy=False)", *_median_ms(lambda: pd.DataFrame(disclosed, copy=False), repeat)),
    ]
    # The rows above time each piece alone, over and over on the same arrays; in a call it runs right after
    # DuckDB's query has swept the CPU caches, and costs more. The same pieces, each timed after a query:
    counts = indicators._aggregate(con, spec, period, dims, filters)

    def value_columns():
        # As indicator_values by default (compare_with="filtered"): the call's own total is its benchmark.
        totals = indicators._benchmark_totals(counts)
        return indicators._request_columns(con, [(spec, period)], dims, [counts], [totals], True, separate=False)

    def result_frame():
        out = value_columns()
        out["indicator_id"] = indicators._constant_text(spec.id, len(out["numerator"]))
        out["period_id"] = indicators._constant_text(period, len(out["numerator"]))
        return lambda: pd.DataFrame({name: out[name] for name in OUTPUT_COLUMNS})

    rows += [
        (
            "  right after the query: statistics and disclosure (_request_columns)",
            *_median_after_query_ms(lambda: value_columns, con, spec, period, dims, filters, repeat),
        ),
        (
            "  right after the query: the result DataFrame, as the engine makes it",
            *_median_after_query_ms(result_frame, con, spec, period, dims, filters, repeat),
        ),
    ]
    # DuckDB's threads setting belongs to the database instance (every connection to the file in this
    # process), and the machine's load drifts: so the two settings alternate in rounds of 25 calls.
    default_threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    timings: dict[int, list[tuple[float, float]]] = {default_threads: [], 1: []}
    for _round in range(max(2, repeat // 25)):
        for threads in (default_threads, 1):
            con.execute(f"SET threads = {int(threads)}")
            timings[threads].append(_median_ms(call, 25))
    con.execute(f"SET threads = {int(default_threads)}")
    for threads, label in (
        (default_threads, f"whole call, threads = {default_threads} (DuckDB default)"),
        (1, "cut: whole call, threads = 1"),
    ):
        rows.append(
            (
                f"{label}, alternating rounds",
                statistics.median(t[0] for t in timings[threads]),
                statistics.median(t[1] for t in timings[threads]),
            )
        )
    sql, params = _captured_sql(con, spec, period, dims, filters)
    profile = _duckdb_profile(con.cursor(), sql, params)
    rows.append(
        (
            f"DuckDB profile of the query: {len(raw)} groups, {profile['rows_scanned']:,} rows in "
            f"{profile['row_groups_scanned']} row groups scanned; planner+optimiser+physical plan",
            profile["planner_ms"] + profile["optimizer_ms"] + profile["physical_planner_ms"],
            float("nan"),
        )
    )
    rows.append(("  DuckDB query total / operator CPU", profile["query_total_ms"], profile["operator_cpu_ms"]))
    # The engine's own query fetched three ways, and without its sort: what moving the ORDER BY out of
    # DuckDB (into NumPy, say) would have to beat.
    fetching = con.cursor()
    unsorted_sql = sql.replace(" ORDER BY ALL", "")
    if unsorted_sql == sql:
        raise RuntimeError("the engine's query has no ORDER BY ALL to leave out")

    def arrow_fetch():
        with warnings.catch_warnings():  # DuckDB warns that Arrow from a DB-API result copies: that is measured
            warnings.simplefilter("ignore")
            return fetching.execute(sql, params).to_arrow_table()

    rows += [
        (
            "  the engine's query fetched as NumPy columns (fetchnumpy, as the engine fetches)",
            *_median_ms(lambda: fetching.execute(sql, params).fetchnumpy(), repeat),
        ),
        ("    as rows (fetchall)", *_median_ms(lambda: fetching.execute(sql, params).fetchall(), repeat)),
        ("    as Arrow (to_arrow_table)", *_median_ms(arrow_fetch, repeat)),
        (
            "    fetchnumpy without ORDER BY ALL",
            *_median_ms(lambda: fetching.execute(unsorted_sql, params).fetchnumpy(), repeat),
        ),
    ]
    # The floor under any design that asks DuckDB once per call: a bound one-value round trip, and the
    # slice's sums with nothing the page needs beyond them (no order, text codes, names or statistics).
    cursor = con.cursor()
    cube = sql.split(" FROM ", 1)[1].split(" AS c ", 1)[0]
    column = indicators.DIMENSIONS[dims[0]].column
    group = f"c.{column}" if column else "NULL"
    bare_sql = (
        f"SELECT {group}, sum(c.numerator), sum(c.denominator) FROM {cube} AS c WHERE c.slice = $slice GROUP BY 1"  # noqa: S608 (whitelisted)
    )
    slice_number = indicators._slice_numbers(con)[(indicator_id, period)]
    rows += [
        (
            "floor: DuckDB round trip of `SELECT $x`",
            *_median_ms(lambda: cursor.execute("SELECT $x", {"x": 1}).fetchall(), repeat),
        ),
        (
            f"floor: the slice summed by {dims[0]} with nothing else (no filters)",
            *_median_ms(lambda: cursor.execute(bare_sql, {"slice": slice_number}).fetchall(), repeat),
        ),
    ]
    # Would planning once help? The Python API prepares every statement anew; SQL PREPARE keeps the plan,
    # but EXECUTE takes no bound parameters (DuckDB refuses `EXECUTE q(?)`), so this measures with the
    # slice number (an int from the build) written in.
    cursor.execute("PREPARE bare_slice AS " + bare_sql.replace("$slice", "$1"))
    rows.append(
        (
            "cut: the same floor query planned once (SQL PREPARE, then EXECUTE per call)",
            *_median_ms(lambda: cursor.execute(f"EXECUTE bare_slice({int(slice_number)})").fetchall(), repeat),
        )
    )
    con.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--indicator", default="hyp008")
    parser.add_argument("--case", default="practice", choices=[c[0] for c in CASES])
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--profile", type=Path, help="also write a pyinstrument text profile of --repeat calls here")
    args = parser.parse_args(argv)
    rows = measure(args.db, args.indicator, args.case, args.repeat)
    print(
        f"`{args.indicator}` {args.case} on {args.db}; median of {args.repeat} calls; load average "
        f"{os.getloadavg()[0]:.1f}\n"
    )
    print("| step | wall ms | CPU ms |\n|---|---:|---:|")
    for step, wall, cpu in rows:
        print(f"| {step} | {wall:.3f} | {'' if np.isnan(cpu) else f'{cpu:.3f}'} |")
    if args.profile:
        from pyinstrument import Profiler

        con = duckdb.connect(args.db, read_only=True)
        _label, by, filters = next(c for c in CASES if c[0] == args.case)
        period = default_period(con, args.indicator)
        profiler = Profiler(interval=0.0002)
        profiler.start()
        for _ in range(args.repeat):
            indicator_values(con, indicator=args.indicator, period=period, by=by, filters=filters)
        profiler.stop()
        args.profile.write_text(profiler.output_text(unicode=True, show_all=False))
        print(f"\npyinstrument profile of {args.repeat} calls: {args.profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
