"""One engine call's time under several commits of the engine, interleaved in one process.

Each commit is checked out (``git archive``) into a temporary folder and its packages (``queries``,
``data``) imported under a name of their own, so every version runs its own code in the same process,
against the same DuckDB connection. The versions then take turns, a batch of ``--batch`` calls each, for
``--rounds`` rounds: on a shared machine the load drifts within seconds, and small interleaved batches
put the same load on every version (separate processes timed one after another did not: a version's
median moved 50 % between runs). Result cache off, disclosure on, 30 untimed calls of each version
first. The table gives each version's median per-call wall and CPU milliseconds over its rounds.

``--call``: ``indicator_values`` (default) for each of ``--indicators`` at ``--case``; ``trend`` (every
period of each indicator for ``--practice``, as the GP-team page draws it); ``practice_comparison``
(every vaccine for ``--practice`` beside its PCN, borough and London, the practice's own rows
unrounded among disclosed others, as its GP team sees it; ``--indicators`` is not used).

    python bench/engine_versions.py --db /tmp/m26/db10/pathfinder.duckdb --commits 158690b HEAD \\
        --indicators cwt_fds_28d hyp008 [--case practice] [--rounds 60] [--batch 10]
    python bench/engine_versions.py --db ... --commits 1d5f655 HEAD --call practice_comparison --practice E83003
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
# The engine calls the script can time.
CALLS = ("indicator_values", "trend", "practice_comparison")


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


def load_version(tree: Path, label: str) -> dict[str, ModuleType]:
    """``queries.indicators`` and ``queries.immunisation`` as the code in ``tree`` has them (by their last name),
    their project modules then renamed out of the way.

    Renamed (``_version_<label>.queries...``) after the import, so the next version imports afresh; the
    functions keep the globals of the modules they were loaded with.
    """
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if _is_project_module(name)}
    sys.path.insert(0, str(tree))
    try:
        modules = {name: importlib.import_module(f"queries.{name}") for name in ("indicators", "immunisation")}
    finally:
        sys.path.remove(str(tree))
        for name in [name for name in sys.modules if _is_project_module(name)]:
            sys.modules[f"_version_{label}.{name}"] = sys.modules.pop(name)
        sys.modules.update(saved)
    for module in modules.values():
        if not Path(module.__file__).is_relative_to(tree):
            raise RuntimeError(f"{label}: imported {module.__file__}, not the checkout's")
    return modules


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--commits", nargs="+", required=True, help="oldest first; any git revision")
    parser.add_argument("--indicators", nargs="+", default=["cwt_fds_28d"])
    parser.add_argument("--case", default="practice", choices=[c[0] for c in CASES])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--call", default="indicator_values", choices=CALLS)
    parser.add_argument("--practice", default="E83003", help="with --call practice_comparison (default: demo.gp's)")
    args = parser.parse_args(argv)
    _label, by, filters = next(c for c in CASES if c[0] == args.case)
    con = duckdb.connect(args.db, read_only=True)
    versions: dict[str, dict[str, ModuleType]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for index, commit in enumerate(args.commits):
            tree = Path(folder) / str(index)
            short = checkout(commit, tree)
            versions[short] = load_version(tree, short)
    loads = [os.getloadavg()[0]]
    rows = []
    subjects = [f"{args.practice}, every vaccine"] if args.call == "practice_comparison" else args.indicators
    for subject in subjects:
        calls = {}
        for short, modules in versions.items():
            call = _call(args.call, modules, con, subject=subject, by=by, filters=filters, practice=args.practice)
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
            rows.append((subject, short, statistics.median(wall), statistics.median(cpu)))
    con.close()
    print(
        f"`{args.call}` {_case_words(args)} on {args.db}; {len(versions)} versions interleaved in one process, "
        f"{args.rounds} rounds of {args.batch} calls each (disclosure on, result cache off); median per call "
        f"over the rounds; load average {min(loads):.1f}-{max(loads):.1f}\n"
    )
    print("| subject | commit | wall ms | CPU ms |\n|---|---|---:|---:|")
    for subject, short, wall, cpu in rows:
        print(f"| {subject} | {short} | {wall:.3f} | {cpu:.3f} |")
    return 0


def _case_words(args: argparse.Namespace) -> str:
    if args.call == "indicator_values":
        return args.case
    return f"for {args.practice}" + (" (GP team: own rows unrounded)" if args.call == "practice_comparison" else "")


def _call(kind: str, modules: dict[str, ModuleType], con, *, subject: str, by, filters, practice: str):
    """The timed call of one version: a function of no arguments."""
    engine = modules["indicators"]
    if kind == "practice_comparison":
        comparison = modules["immunisation"].practice_comparison.uncached
        return lambda: comparison(
            con, practice_code=practice, period_type="quarter", disclose=True, disclose_practice=False
        )
    if kind == "trend":
        trend = engine.trend.uncached
        return lambda: trend(con, indicator=subject, filters={"practice": practice})
    period = engine.default_period(con, subject)
    return lambda: engine.indicator_values(con, indicator=subject, period=period, by=by, filters=filters)


if __name__ == "__main__":
    sys.exit(main())
