"""Benchmark the immunisation page's queries and the cohort finder: p50/p95 latency per call.

The cohort finder's target (issue 6): a London-wide query over all children aged 1-9 returns
counts in <= 1 s and the first page of the list in <= 1 s at scale 1.0. The page's other
calls (headline, maps, inequalities, trend, uptake by age, GP-team comparison) aim at the
project's 150 ms p95 per callback.

    python bench/immunisation.py --db /tmp/immunisation_s01.duckdb [--repeat 10] [--out report.md]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import freeze_like_a_worker, percentile, timed  # noqa: E402
from components.layout import csv_download  # noqa: E402
from queries import immunisation as imm  # noqa: E402
from queries import immunisation_cohort as cohort  # noqa: E402
from queries.db import get_database  # noqa: E402
from queries.indicators import default_period, indicator_values, inequality, trend  # noqa: E402
from security.roles import RowScope  # noqa: E402

ALL_LONDON = RowScope(icb_codes=("E54000027", "E54000028", "E54000029", "E54000030", "E54000031"))
HACKNEY = RowScope(borough_codes=("E09000012",))
ONE_PRACTICE = RowScope(practice_codes=("E83003",))
INDICATOR = "cover_24m_mmr1"
CAMPAIGN_DAY = dt.date(2022, 9, 1)


def cases(db) -> list[tuple[str, object]]:
    """(label, zero-argument call) for every benchmarked call."""
    as_at = imm.extract_date(db)
    london_1_9 = cohort.CohortCriteria(as_at=as_at)
    # The widest search the finder allows: every age and every dose ticked (the most flags, the most children).
    widest = cohort.CohortCriteria(as_at=as_at, age_min=0, age_max=cohort.MAX_AGE, missing=tuple(cohort.MISSING_DOSES))
    # Looking back: a month before the extract date, and a day in the 2022 polio campaign (the earliest dates).
    month_before = as_at - dt.timedelta(days=30)
    campaign_1_9 = cohort.CohortCriteria(as_at=CAMPAIGN_DAY)
    widest_month_before = dataclasses.replace(widest, as_at=month_before)
    has_cubes = bool(db.scalar("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'ind_period'"))
    period = default_period(db, INDICATOR) if has_cubes else None
    fy = imm.period_for(db, indicator=INDICATOR, period_type="fy") if has_cubes else None
    hackney_list, _ = cohort.cohort_patients_table(db, criteria=widest, scope=HACKNEY)
    return [
        ("cohort: London 1-9 counts + breakdowns (summary)", lambda: cohort.cohort_summary(db, criteria=london_1_9)),
        ("cohort: London 1-9 count only", lambda: cohort.count_children(db, criteria=london_1_9)),
        ("cohort: London 0-18, every dose ticked (summary)", lambda: cohort.cohort_summary(db, criteria=widest)),
        (
            "cohort: list page 1, all London scope",
            lambda: cohort.cohort_patients(db, criteria=london_1_9, scope=ALL_LONDON, limit=50),
        ),
        (
            "cohort: list page 1, borough scope (Hackney)",
            lambda: cohort.cohort_patients(db, criteria=london_1_9, scope=HACKNEY, limit=50),
        ),
        (
            "cohort: list page 1, GP practice scope",
            lambda: cohort.cohort_patients(db, criteria=london_1_9, scope=ONE_PRACTICE, limit=50),
        ),
        ("cohort: London 1-9 summary, in the 2022 campaign", lambda: cohort.cohort_summary(db, criteria=campaign_1_9)),
        (
            "cohort: London 0-18, every dose, a month back (summary)",
            lambda: cohort.cohort_summary(db, criteria=widest_month_before),
        ),
        (
            "cohort: London 1-9 summary, a month back",
            lambda: cohort.cohort_summary(db, criteria=dataclasses.replace(london_1_9, as_at=month_before)),
        ),
        (
            "cohort: list page 1, all London, 0-18, every dose, a month back",
            lambda: cohort.cohort_patients(db, criteria=widest_month_before, scope=ALL_LONDON, limit=50),
        ),
        (
            "cohort: list page 1, all London, in the 2022 campaign",
            lambda: cohort.cohort_patients(db, criteria=campaign_1_9, scope=ALL_LONDON, limit=50),
        ),
        # A campaign responder's export: Hackney's whole list (ages 0-18, every dose), then the CSV file made of it.
        (
            "cohort: export, Hackney 0-18 every dose, whole list",
            lambda: cohort.cohort_patients_table(db, criteria=widest, scope=HACKNEY),
        ),
        ("cohort: export, Hackney 0-18 every dose, CSV file of it", lambda: csv_download(hackney_list, filename="x")),
        ("page: headline (London + previous period)", lambda: imm.headline(db, indicator=INDICATOR, period=period)),
        ("page: map by borough", lambda: indicator_values(db, indicator=INDICATOR, period=period, by="borough")),
        ("page: map by practice", lambda: indicator_values(db, indicator=INDICATOR, period=period, by="practice")),
        ("page: map by LSOA", lambda: indicator_values(db, indicator=INDICATOR, period=period, by="lsoa")),
        ("page: deprivation gap map (inequality)", lambda: inequality(db, indicator=INDICATOR, period=period)),
        (
            "page: ethnic group x IMD quintile",
            lambda: indicator_values(db, indicator=INDICATOR, period=period, by=("ethnicity_group", "imd_quintile")),
        ),
        ("page: trend (12 quarters, SPC)", lambda: trend(db, indicator=INDICATOR)),
        # The next three are remembered per process by the page; timed here uncached (the first request).
        (
            "page: uptake by age, London (quarter), uncached",
            lambda: imm._uptake_by_age(db, indicator=INDICATOR, period=period, filters=None, disclose=True),
        ),
        (
            "page: uptake by age, one borough (year), uncached",
            lambda: imm._uptake_by_age(
                db, indicator=INDICATOR, period=fy, filters={"borough": "E09000012"}, disclose=True
            ),
        ),
        (
            "gp view: every vaccine vs PCN/borough/London, uncached",
            lambda: imm._practice_comparison(
                db, practice_code="E83003", period_type="quarter", disclose=True, disclose_practice=True
            ),
        ),
        (
            "gp view, the practice's own team (its figures unrounded), uncached",
            lambda: imm._practice_comparison(
                db, practice_code="E83003", period_type="quarter", disclose=True, disclose_practice=False
            ),
        ),
        (
            "gp view: borough ranking",
            lambda: imm.practice_ranking(db, indicator=INDICATOR, period=period, borough_code="E09000003"),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--cohort-only",
        action="store_true",
        help="only the cohort finder (for a database holding patient_dim and the event tables only)",
    )
    args = parser.parse_args(argv)
    db = get_database(args.db)
    scale = db.scalar("SELECT value FROM meta WHERE key = 'scale'")
    started = time.perf_counter()
    cohort.ensure_cache(db)  # once per process: the per-child dose dates behind every cohort query
    cache_ms = (time.perf_counter() - started) * 1000
    cache_rows = db.scalar(f"SELECT count(*) FROM {cohort.CACHE_TABLE}")  # noqa: S608 (module constant)
    children = cohort.count_children(db, criteria=cohort.CohortCriteria(as_at=imm.extract_date(db), missing=()))
    lines = [
        f"# Immunisation benchmark: {args.db.name} (scale {scale}), {args.repeat} timed runs after a warm-up",
        "",
        f"Children aged 1-9 registered on the extract date: {children:,}",
        f"Cohort cache (once per process): {cache_rows:,} children aged 0-18 on some date from "
        f"{cohort.EARLIEST_DATE.isoformat()}, built in {cache_ms:,.0f} ms",
        "",
        "| call | p50 ms | p95 ms | max ms |",
        "|---|---:|---:|---:|",
    ]
    freeze_like_a_worker()
    for label, call in cases(db):
        if args.cohort_only and not label.startswith("cohort"):
            continue
        timings, _ = timed(call, args.repeat)
        lines.append(
            f"| {label} | {statistics.median(timings):.0f} | {percentile(timings, 95):.0f} | {max(timings):.0f} |"
        )
        print(lines[-1], flush=True)
    report = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
