"""How much memory the aggregate query cache can hold in one worker, and what sizing its entries costs.

The serving cache (``queries/cache.py``) keeps up to ``PATHFINDER_QUERY_CACHE`` results per worker. Results
differ in size by two orders of magnitude: a borough row set is kilobytes, a small-area (LSOA) one about
2 MB. This fills a cache the way a commissioner clicking through small-area maps would: every indicator's
values by LSOA, for each of its recent periods, disclosed and unrounded, until ``--calls`` calls have been
made.

Written to run against the cache before its byte budget too (``--max-mb`` then refused), which is how the
"before" rows of ``bench/results/2026-11-28-cache-budget.md`` were measured. It reports:

- entries held, and the bytes they hold (pandas' deep ``memory_usage`` of every stored frame, the exact
  figure, and the cache's own account where it keeps one);
- the process's resident memory (RSS) before and after, after a full garbage collection;
- what sizing one result costs: deep ``memory_usage`` against ``queries.cache.result_bytes`` (the
  estimate the cache charges each entry, where the code has it), median over the LSOA-sized results.

    python bench/cache_memory.py --db /tmp/final7/pathfinder.duckdb --entries 256 [--max-mb 256] [--calls 600]
"""

from __future__ import annotations

import argparse
import gc
import inspect
import statistics
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from queries import cache  # noqa: E402
from queries.indicators import indicator_values, periods  # noqa: E402
from queries.registry import INDICATORS  # noqa: E402


def rss_mib() -> float:
    """This process's resident memory in MiB (psutil, as ``bench/load.py`` samples the workers')."""
    return psutil.Process().memory_info().rss / 2**20


def deep_bytes(value) -> int:
    """Exact bytes of the frames in ``value`` (pandas' deep ``memory_usage``)."""
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(deep=True).sum())
    if isinstance(value, dict):
        return sum(deep_bytes(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(deep_bytes(v) for v in value)
    return 0


def _calls(con, limit: int):
    """(indicator, period, disclose) for LSOA-level calls: every indicator, newest periods first, both roles."""
    per_indicator = {spec.id: periods(con, spec.id)["period_id"].tolist() for spec in INDICATORS}
    made = 0
    for depth in range(max(len(p) for p in per_indicator.values())):
        for indicator, ids in per_indicator.items():
            if depth < len(ids):
                for disclose in (True, False):
                    yield indicator, ids[depth], disclose
                    made += 1
                    if made >= limit:
                        return


def _configure(entries: int, max_mb: int | None):
    if max_mb is None:
        return cache.configure(entries)
    if "max_mb" not in inspect.signature(cache.configure).parameters:
        raise SystemExit("--max-mb needs a cache with a byte budget (queries.cache.configure(max_mb=...))")
    return cache.configure(entries, max_mb=max_mb)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--entries", type=int, default=256, help="cache entries (PATHFINDER_QUERY_CACHE)")
    parser.add_argument("--max-mb", type=int, default=None, help="byte budget in MB, where the cache has one")
    parser.add_argument("--calls", type=int, default=600, help="LSOA-level calls to make")
    args = parser.parse_args(argv)

    con = duckdb.connect(args.db, read_only=True)
    held = _configure(args.entries, args.max_mb)
    estimate = getattr(cache, "result_bytes", None)
    gc.collect()
    rss_before = rss_mib()
    started = time.perf_counter()
    deep_ms, estimate_ms, errors = [], [], []
    for indicator, period, disclose in _calls(con, args.calls):
        frame = indicator_values(con, indicator=indicator, period=period, by="lsoa", disclose=disclose)
        if len(frame) < 1000:
            continue
        t0 = time.perf_counter()
        exact = deep_bytes(frame)
        deep_ms.append((time.perf_counter() - t0) * 1000)
        if estimate is not None:
            t0 = time.perf_counter()
            guess = estimate(frame)
            estimate_ms.append((time.perf_counter() - t0) * 1000)
            errors.append(guess / exact - 1)
    took = time.perf_counter() - started
    gc.collect()
    rss_after = rss_mib()
    # deep_bytes walks tuples, so an entry stored as (value, bytes) counts its value alone.
    held_mb = sum(deep_bytes(v) for v in held._entries.values()) / 1e6
    # The budget the cache really had: without --max-mb, a cache that has one takes it from the settings.
    budget = f", {held.max_bytes // 1_000_000} MB budget" if hasattr(held, "max_bytes") else ", no byte budget"
    print(f"# Query cache memory: {held.size} entries{budget}")
    print()
    print(f"Database `{args.db}`; {args.calls} LSOA-level calls (`indicator_values(by='lsoa')`) in {took:.1f} s.")
    print()
    print("| measure | value |")
    print("|---|---:|")
    print(f"| entries held | {len(held):,} of {held.size:,} |")
    print(f"| bytes held (deep memory_usage of the stored frames) | {held_mb:,.1f} MB |")
    if hasattr(held, "bytes_held"):
        print(f"| bytes held (the cache's own account) | {held.bytes_held / 1e6:,.1f} MB |")
        print(f"| results too large to store | {held.stats.too_large:,} |")
    print(f"| RSS before / after (after a full collection) | {rss_before:,.0f} / {rss_after:,.0f} MiB |")
    print(f"| RSS growth | {rss_after - rss_before:+,.0f} MiB |")
    print(f"| sizing one LSOA result: deep memory_usage, median | {statistics.median(deep_ms):.2f} ms |")
    if estimate_ms:
        print(f"| sizing one LSOA result: result_bytes, median | {statistics.median(estimate_ms):.2f} ms |")
        low, middle, high = min(errors), statistics.median(errors), max(errors)
        print(f"| result_bytes against deep, min / median / max | {low:+.1%} / {middle:+.1%} / {high:+.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
