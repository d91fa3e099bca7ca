"""bench/callbacks.py, the callback benchmark behind #11's "every callback p95", on the test database.

It drives every page like a browser tab through the real endpoint with random changes of every control.
Here it must finish without one error answer, reach every page's callbacks, and find no control a person
sets that it cannot change (a free input left at its default hides whole code paths from the benchmark).
Run as a separate process: the script points the app at its database through the environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RENDERED = (
    "/",
    "/immunisation",
    "/immunisation/practice/<ods>",
    "/immunisation/cohort",
    "/hypertension",
    "/asthma",
    "/cancer",
    "/admin/audit",
)
PAGES_WITH_CALLBACKS = (  # the overview has none of its own
    "immunisation",
    "immunisation_practice",
    "immunisation_cohort",
    "hypertension",
    "asthma",
    "cancer",
    "admin_audit",
)


def test_the_callback_benchmark_reaches_every_page_and_control(small_db, tmp_path):
    out = tmp_path / "callbacks.md"
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PATHFINDER_")}
    environment["PATHFINDER_AUDIT_DIR"] = str(tmp_path / "audit")
    result = subprocess.run(
        [sys.executable, "bench/callbacks.py", "--db", str(small_db), "--repeat", "2", "--out", str(out)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    report = out.read_text()
    assert "Controls the mix could not change (no options and no `VALUE_POOLS` entry): none." in report, report
    names = [line.split("`")[1] for line in report.splitlines() if line.startswith("| `")]
    assert {f"render {path}" for path in RENDERED} <= set(names), names
    assert set(PAGES_WITH_CALLBACKS) <= {name.split(".")[0] for name in names}, names
    # The last column counts answers other than 200 and 204; timings vary by machine, errors must not.
    errors_column = [line.rsplit("|", 2)[-2].strip() for line in report.splitlines() if line.startswith("| `")]
    assert errors_column and set(errors_column) == {"0"}, errors_column
