"""One ``indicator_values`` call's time under several commits of the engine, interleaved in one process.

Each commit is checked out (``git archive``) into a temporary folder and its packages (``queries``,
``data``) imported under a name of their own, so every version runs its own code in the same process,
against the same DuckDB connection. The versions then take turns, a batch of ``--batch`` calls each, for
``--rounds`` rounds: on a shared machine the load drifts within seconds, and small interleaved batches
put the same load on every version (separate processes timed one after another did not: a version's
median moved 50 % between runs). Result cache off, disclosure on, 30 untimed calls of each version
first. The table gives each version's median per-call wall and CPU milliseconds over its rounds.

    python bench/engine_versions.py --db /tmp/m26/db10/pathfinder.duckdb --commits 158690b HEAD \\
        --indicators cwt_fds_28d hyp008 [--case practice] [--rounds 60] [--batch 10]
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.queries import CASES  # noqa: E402

# The project's packages a version brings with it (every other import is shared).
PACKAGES = ("queries", "data")


def checkout(commit: str, into: Path) -> str:
    """Extract ``commit`` of this repository into ``into``; returns its short hash."""
    short = subprocess.run(
        ["git", "rev-parse", "--short", commit], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return short


def _is_project_module(name: str) -> bool:
    return any(name == package or name.startswith(f"{package}.") for package in PACKAGES)


def load_version(tree: Path, label: str) -> ModuleType:
    """``queries.indicators`` as the code in ``tree`` has it, its project modules then renamed out of the way.

    Renamed (``_version_<label>.queries...``) after the import, so the next version imports afresh; the
    functions keep the globals of the modules they were loaded with.
    """
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if _is_project_module(name)}
    sys.path.insert(0, str(tree))
    try:
        module = importlib.import_module("queries.indicators")
    finally:
        sys.path.remove(str(tree))
        for name in [name for name in sys.modules if _is_project_module(name)]:
            sys.modules[f"_version_{label}.{name}"] = sys.modules.pop(name)
        sys.modules.update(saved)
    if not Path(module.__file__).is_relative_to(tree):
        raise RuntimeError(f"{label}: imported {module.__file__}, not the checkout's")
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--commits", nargs="+", required=True, help="oldest first; any git revision")
    parser.add_argument("--indicators", nargs="+", default=["cwt_fds_28d"])
    parser.add_argument("--case", default="practice", choices=[c[0] for c in CASES])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--batch", type=int, default=10)
    args = parser.parse_args(argv)
    _label, by, filters = next(c for c in CASES if c[0] == args.case)
    con = duckdb.connect(args.db, read_only=True)
    versions: dict[str, ModuleType] = {}
    with tempfile.TemporaryDirectory() as folder:
        for index, commit in enumerate(args.commits):
            tree = Path(folder) / str(index)
            short = checkout(commit, tree)
            versions[short] = load_version(tree, short)
    loads = [os.getloadavg()[0]]
    rows = []
    for indicator in args.indicators:
        calls = {}
        for short, engine in versions.items():
            period = engine.default_period(con, indicator)

            def call(engine=engine, indicator=indicator, period=period):
                return engine.indicator_values(con, indicator=indicator, period=period, by=by, filters=filters)

            for _ in range(30):
                call()
            calls[short] = call
        per_call: dict[str, tuple[list[float], list[float]]] = {short: ([], []) for short in versions}
        for _round in range(args.rounds):
            for short, call in calls.items():
                started, started_cpu = time.perf_counter(), time.process_time()
                for _ in range(args.batch):
                    call()
                per_call[short][0].append((time.perf_counter() - started) * 1000 / args.batch)
                per_call[short][1].append((time.process_time() - started_cpu) * 1000 / args.batch)
        loads.append(os.getloadavg()[0])
        for short, (wall, cpu) in per_call.items():
            rows.append((indicator, short, statistics.median(wall), statistics.median(cpu)))
    con.close()
    print(
        f"`indicator_values` {args.case} on {args.db}; {len(versions)} versions interleaved in one process, "
        f"{args.rounds} rounds of {args.batch} calls each (disclosure on, result cache off); median per call "
        f"over the rounds; load average {min(loads):.1f}-{max(loads):.1f}\n"
    )
    print("| indicator | commit | wall ms | CPU ms |\n|---|---|---:|---:|")
    for indicator, short, wall, cpu in rows:
        print(f"| {indicator} | {short} | {wall:.3f} | {cpu:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
