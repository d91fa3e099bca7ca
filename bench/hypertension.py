"""Hypertension page: how long each callback takes and how many bytes it sends.

Run: ``PATHFINDER_DB=/path/to/built.duckdb .venv/bin/python bench/hypertension.py [--runs 20]``.
Calls every callback of ``pages.hypertension`` as a function (as Dash would, minus HTTP), the
first time to warm caches and then ``--runs`` times, and prints p50 / p95 milliseconds and the
JSON size of what it returns, and the median CPU time of this process (wall time on a busy
machine mostly measures the queue for a core; CPU time does not). Target: every callback
p95 <= 150 ms at full London scale.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("PATHFINDER_DEMO", "true")  # synthetic data; the app refuses to start unconfigured otherwise

from dash._utils import to_json  # noqa: E402

from bench.timing import freeze_like_a_worker  # noqa: E402

TARGET_MS = 150


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    import app  # noqa: F401  (registers the pages)
    from pages import hypertension as page
    from queries.db import default_database
    from queries.hypertension import period_choices, reference_areas

    db = default_database()
    period = period_choices(db).query("period_type == 'fy'")["period_id"].iloc[0]
    boroughs = reference_areas(db)["boroughs"]
    icb = reference_areas(db)["icbs"]["icb_code"].iloc[0]
    borough = boroughs.loc[boroughs["icb_code"] == icb, "borough_code"].iloc[0]
    practice = page.hq.practices_in_borough(db, borough_code=borough)["practice_code"].iloc[0]
    calls = {
        "layout": lambda: page.layout(),
        "comparison (map patch, ranked, ICBs, KPIs, table)": lambda: page.update_comparison("hyp008", period, icb),
        "funnel: boroughs": lambda: page.update_funnel("hyp008", period, "borough"),
        "funnel: practices": lambda: page.update_funnel("hyp008", period, "practice"),
        "people to target (ICB + borough's practices)": lambda: page.update_targets(period, icb, borough, "80"),
        "inequality (borough: 4 breakdowns + ethnicity x IMD)": lambda: page.update_inequality(
            "hyp008", period, icb, borough
        ),
        "SII by borough (map patch + table)": lambda: page.update_sii("hyp008", period),
        "practices (ranked + practice map patch)": lambda: page.update_practices("hyp008", period, borough),
        "trend: borough": lambda: page.update_trend("hyp008", "borough", icb, borough, None),
        "trend: practice": lambda: page.update_trend("hyp008", "practice", icb, borough, practice),
        "borough options": lambda: page.update_borough_options(icb, None),
        "practice options": lambda: page.update_practice_options(borough, None),
        "board-paper CSV (all indicators)": lambda: page.export_comparison(1, period, icb),
    }
    meta = dict(db.frame("SELECT key, value FROM meta").itertuples(index=False, name=None))
    print(f"database {db.path} scale={meta.get('scale')} seed={meta.get('seed')} period={period} runs={args.runs}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'callback':52s} {'p50 ms':>8s} {'p95 ms':>8s} {'cpu ms':>8s} {'bytes':>10s}  target")
    freeze_like_a_worker()
    for name, call in calls.items():
        result = call()  # warm: name caches, practice areas, DuckDB's own caches
        size = len(to_json(result))
        times, cpu = [], []
        for _ in range(args.runs):
            start, start_cpu = time.perf_counter(), time.process_time()
            call()
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        times.sort()
        p50 = statistics.median(times)
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        verdict = "ok" if p95 <= TARGET_MS else "OVER"
        print(f"{name:52s} {p50:8.0f} {p95:8.0f} {statistics.median(cpu):8.0f} {size:10,d}  {verdict}")


if __name__ == "__main__":
    main()
