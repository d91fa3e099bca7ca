"""Benchmark the asthma page: p50/p95 latency of each view's queries and of each whole view (queries + figures).

The project's target is a p95 of at most 150 ms per callback at full London scale. The linked
admission history is derived once per process (first call timed separately); later calls group it.

    python bench/asthma.py --db /tmp/asthma.duckdb [--repeat 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import freeze_like_a_worker, percentile, timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    os.environ["PATHFINDER_DB"] = str(Path(args.db).resolve())

    os.environ.setdefault("PATHFINDER_DEMO", "true")
    import app  # noqa: F401, PLC0415 (registers the pages; after the database is chosen)
    from pages import asthma as page  # noqa: PLC0415
    from queries import asthma as aq  # noqa: PLC0415
    from queries.db import get_database  # noqa: PLC0415
    from queries.indicators import default_period  # noqa: PLC0415
    from security.roles import RowScope  # noqa: PLC0415

    db = get_database(args.db)
    scale = db.scalar("SELECT value FROM meta WHERE key = 'scale'")
    period = default_period(db, "ast_saba_3plus")
    borough = "E09000003"
    start = time.perf_counter()
    aq.admission_history(db)
    first_history_ms = (time.perf_counter() - start) * 1000
    practice = aq.practices(db, borough_code=borough)["practice_code"].iloc[0]

    def safety_change(before: tuple, measure_id: str, area: str | None):
        """The safety panel's parts redrawn after ``before`` (borough, measure, funnel level) was shown."""
        wanted = page.safety_shown(period, area, measure_id, "practice")
        shown = page.safety_shown(period, *before)
        parts = frozenset(part for part, key in wanted.items() if shown[part] != key)
        return lambda: page.safety_view(measure_id=measure_id, period=period, borough=area, disclose=True, parts=parts)

    cases = {
        "query: measure_values borough": lambda: aq.measure_values(
            db, measure_id="ast_saba_3plus", period=period, by="borough"
        ),
        "query: measure_values practice": lambda: aq.measure_values(
            db, measure_id="ast_saba_3plus", period=period, by="practice"
        ),
        "query: measure_values lsoa": lambda: aq.measure_values(
            db, measure_id="ast_saba_3plus", period=period, by="lsoa"
        ),
        "query: per 100,000 by borough": lambda: aq.measure_values(
            db, measure_id="ast_admissions_per_100k", period=period, by="borough"
        ),
        # The areas view's KPI cards for a borough: the page's batched call, and one call per measure beside it.
        "query: KPI rows for a borough, batched": lambda: aq.measure_values_batch(
            db, measure_ids=page.KPI_MEASURES, period=period, by="london", filters={"borough": [borough]}
        ),
        "query: KPI rows for a borough, one call each": lambda: [
            aq.measure_values(db, measure_id=m, period=period, by="london", filters={"borough": [borough]})
            for m in page.KPI_MEASURES
        ],
        "query: linked admissions (cached)": lambda: aq.linked_admissions(db, period=period, by="borough"),
        "query: patient list, one practice": lambda: aq.saba_no_ics_patients(
            db, period=period, practice_code=practice, scope=RowScope(practice_codes=(practice,))
        ),
        # The same list derived from the raw records (what every request did before the build's table).
        "query: patient list, one practice, from the raw records": lambda: aq.saba_no_ics_patients(
            db, period=period, practice_code=practice, scope=RowScope(practice_codes=(practice,)), from_records=True
        ),
        "view: areas, borough map": lambda: page.area_map_view(
            measure_id="ast_saba_3plus", period=period, level="borough", disclose=True
        ),
        "view: areas, practice map": lambda: page.area_map_view(
            measure_id="ast_saba_3plus", period=period, level="practice", disclose=True
        ),
        "view: areas, LSOA map": lambda: page.area_map_view(
            measure_id="ast_saba_3plus", period=period, level="lsoa", disclose=True
        ),
        "view: areas, LSOA recolour": lambda: page.area_map_view(
            measure_id="ast_saba_3plus", period=period, level="lsoa", disclose=True, map_as="recolour"
        ),
        # Beside the map, a callback of its own: the ranked boroughs and a borough's KPI cards.
        "view: areas, ranked boroughs and KPIs": lambda: page.area_summary_view(
            measure_id="ast_saba_3plus", period=period, borough=borough, disclose=True
        ),
        "view: prescribing safety": lambda: page.safety_view(
            measure_id="ast_saba_3plus", period=period, borough=None, disclose=True
        ),
        # What a change of borough, or of the safety measure, alone redraws (the funnel and thresholds stay).
        "view: prescribing safety, borough changed": safety_change(
            (None, "ast_saba_3plus", "practice"), "ast_saba_3plus", borough
        ),
        "view: prescribing safety, measure changed": safety_change(
            (None, "ast_saba_3plus", "practice"), "ast_saba_6plus", None
        ),
        "view: before admission": lambda: page.linked_view(period=period, threshold=3, group="borough", disclose=True),
        "view: inequality": lambda: page.inequality_view(measure_id="ast_saba_3plus", period=period, disclose=True),
        "view: practices ranked": lambda: page.practices_view(
            measure_id="ast_saba_3plus", period=period, borough=borough, disclose=True
        ),
        "view: trend": lambda: page.trend_view(
            measure_id="ast_saba_3plus", level="borough", borough=borough, practice=None, disclose=True
        ),
    }
    print(f"# Asthma page benchmark: {args.db} (scale {scale}), period {period}, {args.repeat} runs each\n")
    print(f"Linked admission history, first call (derived once per process): {first_history_ms:,.0f} ms\n")
    print("| call | p50 ms | p95 ms |")
    print("|---|---|---|")
    freeze_like_a_worker()
    for name, call in cases.items():
        timings, _ = timed(call, args.repeat)
        print(f"| {name} | {statistics.median(timings):,.0f} | {percentile(timings, 95):,.0f} |")


if __name__ == "__main__":
    main()
