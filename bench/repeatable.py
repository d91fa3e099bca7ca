"""Whether the engine gives the same raw figures every time it is asked the same question.

For every registry indicator and each ``--by`` level, calls ``indicator_values`` ``--repeat`` times (result
cache off, disclosure off: the unrounded numerator and denominator, which disclosure control would hide)
and counts the distinct results. DuckDB adds a group's rows in whatever order its threads take them, so
a sum of fractions (the detection ratio's expected counts) can differ in its last bits from call to call;
sums of whole counts cannot. Prints a Markdown table of every case that gave more than one result.

    python bench/repeatable.py --db /tmp/s01/pathfinder.duckdb [--repeat 15] [--by lsoa practice]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.build_version import read_build_version  # noqa: E402
from queries import cache  # noqa: E402
from queries.indicators import indicator_values  # noqa: E402
from queries.registry import INDICATORS  # noqa: E402

DEFAULT_LEVELS = ("london", "icb", "borough", "practice", "lsoa", "borough,imd_quintile")


def distinct_results(con, indicator: str, by: str, repeat: int) -> int:
    """How many different (numerator, denominator) columns ``repeat`` identical calls returned."""
    seen = set()
    for _ in range(repeat):
        frame = indicator_values(con, indicator=indicator, by=by, disclose=False)
        seen.add((tuple(frame["numerator"].tolist()), tuple(frame["denominator"].tolist())))
    return len(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--by", nargs="+", default=list(DEFAULT_LEVELS))
    args = parser.parse_args()
    cache.configure(0)  # every call asks DuckDB
    con = duckdb.connect(args.db, read_only=True)
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    started = time.perf_counter()
    cases, varied = 0, []
    for indicator in (spec.id for spec in INDICATORS):
        for by in args.by:
            cases += 1
            count = distinct_results(con, indicator, by, args.repeat)
            if count > 1:
                varied.append((indicator, by, count))
    print(
        f"`{args.db}` (build version {read_build_version(con)}), DuckDB threads {threads}; {cases} cases "
        f"({len(INDICATORS)} indicators x {len(args.by)} levels: {', '.join(args.by)}), {args.repeat} calls each, "
        f"{time.perf_counter() - started:.0f} s\n"
    )
    if not varied:
        print(f"Every case gave one result in {args.repeat} calls.")
        return
    print("| indicator | by | distinct results |\n|---|---|---:|")
    for indicator, by, count in varied:
        print(f"| {indicator} | {by} | {count} |")


if __name__ == "__main__":
    main()
