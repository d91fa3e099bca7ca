"""Where a slow repeat of one ``indicator_values`` call goes: its query, the rest, or a full garbage collection.

Times one call of ``bench/queries.py`` (an indicator and case) many times in one process, with the result
cache off and disclosure on, and for every call records wall and process CPU time, the time inside the
engine's cube query, and any generation-2 (full) garbage collection that ran inside it with its
milliseconds. ``--freeze`` calls ``gc.freeze()`` after the warm-up, as a server process can after start-up:
objects alive by then are left out of every later collection. ``--app`` imports the Dash app first, so
the process holds what a page worker holds; ``--threads N`` sets DuckDB's threads. ``--profile FILE``
writes a pyinstrument profile of the slowest call of a second, profiled pass.

    python bench/gc_pauses.py --db /tmp/final1/pathfinder.duckdb --repeat 1000 [--freeze] [--app]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

import duckdb  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.queries import CASES, FULL_GC  # noqa: E402
from bench.timing import percentile  # noqa: E402
from queries import cache, indicators  # noqa: E402
from queries.indicators import default_period, indicator_values  # noqa: E402


class _QueryTimer:
    """Wraps the engine's cube query to add up its milliseconds."""

    def __init__(self, aggregate):
        self.aggregate, self.ms = aggregate, 0.0

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.aggregate(*args, **kwargs)
        finally:
            self.ms += (time.perf_counter() - started) * 1000


def measure(con, indicator_id: str, case: str, repeat: int, *, freeze: bool) -> list[dict]:
    """Per-call wall, CPU, query and full-collection figures of ``repeat`` calls after one warm-up."""
    _label, by, filters = next(c for c in CASES if c[0] == case)
    period = default_period(con, indicator_id)

    def call():
        indicator_values(con, indicator=indicator_id, period=period, by=by, filters=filters, disclose=True)

    call()
    if freeze:
        gc.freeze()
    timer = _QueryTimer(indicators._aggregate)
    indicators._aggregate = timer
    rows = []
    try:
        for index in range(repeat):
            gc_count, gc_ms, query_ms = FULL_GC.count, FULL_GC.ms, timer.ms
            started, started_cpu = time.perf_counter(), time.process_time()
            call()
            rows.append(
                {
                    "call": index,
                    "wall_ms": (time.perf_counter() - started) * 1000,
                    "cpu_ms": (time.process_time() - started_cpu) * 1000,
                    "query_ms": timer.ms - query_ms,
                    "full_gc": FULL_GC.count - gc_count,
                    "full_gc_ms": FULL_GC.ms - gc_ms,
                }
            )
    finally:
        indicators._aggregate = timer.aggregate
        if freeze:
            gc.unfreeze()
    return rows


def profile_slowest(con, indicator_id: str, case: str, repeat: int, out: Path) -> float:
    """Profile ``repeat`` calls one by one and write the slowest call's profile; returns its milliseconds."""
    from pyinstrument import Profiler

    _label, by, filters = next(c for c in CASES if c[0] == case)
    period = default_period(con, indicator_id)
    slowest, slowest_ms = None, -1.0
    for _ in range(repeat):
        profiler = Profiler(interval=0.0005)
        started = time.perf_counter()
        profiler.start()
        indicator_values(con, indicator=indicator_id, period=period, by=by, filters=filters, disclose=True)
        profiler.stop()
        elapsed = (time.perf_counter() - started) * 1000
        if elapsed > slowest_ms:
            slowest, slowest_ms = profiler, elapsed
    out.write_text(slowest.output_text(unicode=True, show_all=False))
    return slowest_ms


def summarise(rows: list[dict], label: str) -> str:
    """Percentiles, the calls over 20 ms and what they had in common, the slowest calls."""
    wall = [row["wall_ms"] for row in rows]
    slow = [row for row in rows if row["wall_ms"] > 20]
    collected = [row for row in rows if row["full_gc"]]
    pauses = ", ".join(f"{row['full_gc_ms']:.0f}" for row in collected) or "-"
    lines = [
        f"{label}: {len(rows)} calls; wall p50 {statistics.median(wall):.1f} ms, p95 {percentile(wall, 95):.1f}, "
        f"p99 {percentile(wall, 99):.1f}, max {max(wall):.1f}; CPU p50 "
        f"{statistics.median(r['cpu_ms'] for r in rows):.1f} ms; query p50 "
        f"{statistics.median(r['query_ms'] for r in rows):.1f} ms",
        f"  calls with a full collection inside: {len(collected)} (collection ms: "
        f"{pauses}); calls over 20 ms: {len(slow)}, "
        f"of which with a full collection: {sum(1 for r in slow if r['full_gc'])}, with the query over 20 ms: "
        f"{sum(1 for r in slow if r['query_ms'] > 20)}",
        "  slowest calls (call, wall, CPU, query, full collections, their ms):",
    ]
    for row in sorted(rows, key=lambda r: -r["wall_ms"])[:5]:
        lines.append(
            f"    #{row['call']}: {row['wall_ms']:.1f} ms wall, {row['cpu_ms']:.1f} CPU, {row['query_ms']:.1f} query, "
            f"{row['full_gc']} full ({row['full_gc_ms']:.1f} ms)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--indicator", default="hyp_prevalence")
    parser.add_argument("--case", default="practice+filters", choices=[c[0] for c in CASES])
    parser.add_argument("--repeat", type=int, default=1000)
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() after the warm-up call")
    parser.add_argument("--app", action="store_true", help="import the Dash app first (a page worker's objects)")
    parser.add_argument("--threads", type=int, help="SET threads on the connection (default: DuckDB's, one per core)")
    parser.add_argument("--profile", type=Path, help="write the slowest profiled call's pyinstrument text here")
    args = parser.parse_args(argv)
    if args.app:
        from bench.callbacks import configure_environment

        configure_environment(argparse.Namespace(db=args.db, query_cache="off"))
        import app  # noqa: F401 (imported for the objects a worker holds)
    cache.configure(0)
    gc.callbacks.append(FULL_GC)
    con = duckdb.connect(args.db, read_only=True)
    if args.threads:
        con.execute(f"SET threads = {int(args.threads)}")
    started = time.perf_counter()
    gc.collect()
    print(
        f"process: {len(gc.get_objects()):,} objects tracked by the collector; one full collection "
        f"{(time.perf_counter() - started) * 1000:.0f} ms; thresholds {gc.get_threshold()}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    rows = measure(con, args.indicator, args.case, args.repeat, freeze=args.freeze)
    setting = (" (gc.freeze after warm-up)" if args.freeze else "") + (
        f" (threads {args.threads})" if args.threads else ""
    )
    print(summarise(rows, f"{args.indicator} {args.case}{setting}"))
    if args.profile:
        slowest = profile_slowest(con, args.indicator, args.case, min(args.repeat, 300), args.profile)
        print(f"  profile of the slowest of the profiled calls ({slowest:.1f} ms): {args.profile}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
