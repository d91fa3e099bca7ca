"""Every benchmark script imports: a helper moved or renamed elsewhere must not leave a script that fails to start.

`make bench` runs most of them only at scale 1.0, long after the change that broke one (bench/gc_pauses.py once
imported a helper removed from bench/queries.py). Importing runs each script's module level, not its ``main``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
# Benchmark-only packages (requirements-bench.txt), not installed in CI: a script needing them is skipped here.
BENCH_ONLY_PACKAGES = {"locust", "pyinstrument"}
# locustfile is loaded by locust in its own process (bench/load.py): importing locust here would monkey-patch
# this test process with gevent.
SCRIPTS = sorted(path.stem for path in BENCH.glob("*.py") if path.stem != "locustfile")


def test_the_bench_folder_has_scripts():
    assert len(SCRIPTS) >= 15


@pytest.mark.parametrize("script", SCRIPTS)
def test_bench_script_imports(script):
    try:
        module = importlib.import_module(f"bench.{script}")
    except ModuleNotFoundError as error:
        if error.name in BENCH_ONLY_PACKAGES:
            pytest.skip(f"needs {error.name} (requirements-bench.txt)")
        raise
    assert module.__doc__, f"bench/{script}.py says what it measures in its docstring"


def test_every_immunisation_bench_call_runs_on_a_small_database(small_db):
    """The immunisation bench calls page queries by their private names; a changed signature stopped the
    whole section of `make bench` (it once lacked ``disclose_practice``). One run of each call here."""
    from bench import immunisation
    from queries.db import get_database

    calls = immunisation.cases(get_database(small_db))
    assert len(calls) >= 15
    for label, call in calls:
        assert call() is not None, label


def test_engine_overhead_measures_every_step_on_a_small_database(small_db):
    """bench/engine_overhead.py rebuilds the engine's steps by their private names; a new required argument
    (disclosure's ``decimals=``) once stopped it before its first row."""
    from bench import engine_overhead

    rows = engine_overhead.measure(str(small_db), "cwt_fds_28d", "practice", repeat=2)
    steps = [step for step, _wall, _cpu in rows]
    assert steps[0] == "whole call (disclosure on)"
    assert any(step.startswith("DuckDB profile of the query") for step in steps)
    assert all(wall > 0 for _step, wall, _cpu in rows), rows
