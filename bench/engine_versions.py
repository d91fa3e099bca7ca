"""One ``indicator_values`` call's time under several commits of the engine, timed in turn in one sitting.

Each commit is checked out (``git archive``) into a temporary folder and timed in a process of its own,
so every version imports its own ``queries`` package; the versions take turns for ``--rounds`` rounds, so
a drift in the machine's load falls on all of them alike. A round times ``--repeat`` calls (after 30
untimed ones; result cache off, disclosure on) for each indicator and case; the table gives, per commit,
the median over rounds of each round's median wall and CPU milliseconds.

    python bench/engine_versions.py --db /tmp/m26/db10/pathfinder.duckdb --commits 158690b HEAD \\
        --indicators cwt_fds_28d hyp008 [--case practice] [--rounds 6] [--repeat 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run inside each checkout: prints "wall_ms cpu_ms", the medians of ``repeat`` calls.
CHILD = """
import statistics, sys, time
sys.path.insert(0, ".")
import duckdb
from bench.queries import CASES
from queries import cache, indicators
db, indicator, case, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
cache.configure(0)
con = duckdb.connect(db, read_only=True)
_label, by, filters = next(c for c in CASES if c[0] == case)
period = indicators.default_period(con, indicator)
def call():
    return indicators.indicator_values(con, indicator=indicator, period=period, by=by, filters=filters)
for _ in range(30):
    call()
wall, cpu = [], []
for _ in range(repeat):
    started, started_cpu = time.perf_counter(), time.process_time()
    call()
    wall.append((time.perf_counter() - started) * 1000)
    cpu.append((time.process_time() - started_cpu) * 1000)
print(statistics.median(wall), statistics.median(cpu))
"""


def checkout(commit: str, into: Path) -> str:
    """Extract ``commit`` of this repository into ``into``; returns its short hash."""
    short = subprocess.run(
        ["git", "rev-parse", "--short", commit], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return short


def time_once(tree: Path, db: str, indicator: str, case: str, repeat: int) -> tuple[float, float]:
    """(median wall ms, median CPU ms) of ``repeat`` calls in a fresh process running the code in ``tree``."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, db, indicator, case, str(repeat)],
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--commits", nargs="+", required=True, help="oldest first; any git revision")
    parser.add_argument("--indicators", nargs="+", default=["cwt_fds_28d"])
    parser.add_argument("--case", default="practice")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        trees = {}
        for index, commit in enumerate(args.commits):
            tree = Path(folder) / str(index)
            trees[checkout(commit, tree)] = tree
        samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
        loads = []
        for _round in range(args.rounds):
            loads.append(os.getloadavg()[0])
            for indicator in args.indicators:
                for short, tree in trees.items():
                    samples.setdefault((indicator, short), []).append(
                        time_once(tree, args.db, indicator, args.case, args.repeat)
                    )
    print(
        f"`indicator_values` {args.case} on {args.db}; per commit the median over {args.rounds} alternating rounds "
        f"of each round's median of {args.repeat} calls (disclosure on, result cache off); load average "
        f"{min(loads):.1f}-{max(loads):.1f}\n"
    )
    print("| indicator | commit | wall ms | CPU ms |\n|---|---|---:|---:|")
    for (indicator, short), runs in samples.items():
        wall = statistics.median(run[0] for run in runs)
        cpu = statistics.median(run[1] for run in runs)
        print(f"| {indicator} | {short} | {wall:.3f} | {cpu:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
