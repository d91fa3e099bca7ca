"""Benchmark the cancer page: the per-process cache build, each query, and each callback's view (p50/p95).

Target: every callback p95 <= 150 ms at full London scale. The view timings include building the
Plotly figures (what a click costs on the server, before JSON encoding).

    python bench/cancer.py --db /tmp/cancer.duckdb [--repeat 10] [--out report.md]
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--out")
    args = parser.parse_args()
    os.environ["PATHFINDER_DB"] = args.db
    os.environ.setdefault("PATHFINDER_DEMO", "true")

    from queries import cancer as cq
    from queries.db import get_database
    from queries.indicators import default_period

    db = get_database(args.db)
    started = time.perf_counter()
    cq.ensure_cache(db)
    cache_ms = (time.perf_counter() - started) * 1000
    cursor = db.cursor()
    cube_rows = cursor.execute(f"SELECT count(*) FROM {cq.CACHE_DATABASE}.fact_cube").fetchone()[0]  # noqa: S608
    wait_rows = cursor.execute(f"SELECT count(*) FROM {cq.CACHE_DATABASE}.waits").fetchone()[0]  # noqa: S608
    pathways = cursor.execute("SELECT count(*) FROM cancer_pathways").fetchone()[0]
    scale = cursor.execute("SELECT value FROM meta WHERE key = 'scale'").fetchone()[0]

    import app  # noqa: F401  (registers the pages)
    from pages import cancer as page

    month = default_period(db, "cwt_fds_28d")
    year = default_period(db, "cwt_fds_28d", "fy")
    cases = [
        (
            "query: pathway_values by trust (month)",
            lambda: cq.pathway_values(db, indicator="cwt_62d", period=month, by="trust"),
        ),
        (
            "query: pathway_values by borough, lung (year)",
            lambda: cq.pathway_values(
                db, indicator="cwt_fds_28d", period=year, by="borough", filters={"tumour_group": ["lung"]}
            ),
        ),
        ("query: trust_funnel (year)", lambda: cq.trust_funnel(db, indicator="cwt_fds_28d", period=year)),
        ("query: pathway_trend London (24 months)", lambda: cq.pathway_trend(db, indicator="cwt_fds_28d")),
        ("query: wait_distribution told (year)", lambda: cq.wait_distribution(db, measure="told", period=year)),
        ("query: wait_summary treated (year)", lambda: cq.wait_summary(db, measure="treated", period=year)),
        (
            "query: pathway_flows by borough (year)",
            lambda: cq.pathway_flows(db, period=year, origin="residence_borough"),
        ),
        ("callback: KPI cards", lambda: page.update_kpis("all", "all")),
        (
            "callback: borough map recolour (Patch)",
            lambda: page.update_map("cwt_fds_28d", year, "all", "all", "borough", "areas", "borough"),
        ),
        (
            "callback: borough map, tumour group (Patch)",
            lambda: page.update_map("cwt_62d", year, "breast", "all", "borough", "areas", "borough"),
        ),
        (
            "callback: LSOA map first send",
            lambda: page.update_map("cwt_fds_28d", year, "all", "all", "lsoa", "areas", "borough"),
        ),
        ("callback: trusts ranked", lambda: page.update_ranked("cwt_fds_28d", year, "all", "all", "areas")),
        ("callback: trust funnel", lambda: page.update_funnel("cwt_fds_28d", year, "all", "all", "areas")),
        (
            "callback: Sankey (year)",
            lambda: page.update_sankey("cwt_fds_28d", year, "all", "all", "residence_icb", "flow"),
        ),
        (
            "callback: waits (year, one trust)",
            lambda: page.update_waits("cwt_fds_28d", year, "all", "all", "R1H", "flow"),
        ),
        (
            "callback: inequality charts (early stage, year)",
            lambda: page.update_inequality("cancer_early_stage", None, "inequality"),
        ),
        ("callback: SII map and table", lambda: page.update_sii("cancer_early_stage", None, "inequality")),
        ("callback: trend London", lambda: page.update_trend("cwt_fds_28d", "all", "all", "trend")),
        ("callback: trend one trust", lambda: page.update_trust_trend("cwt_fds_28d", "all", "all", "R1H", "trend")),
    ]
    lines = [
        f"# Cancer page benchmark: {args.db} (scale {scale}, {pathways:,} pathways)",
        "",
        f"Cache build (once per process): {cache_ms:,.0f} ms; fact cube {cube_rows:,} rows, waits {wait_rows:,} rows.",
        "",
        f"Load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.",
        "",
        f"| call | wall p50 ms | wall p95 ms | CPU p50 ms | CPU p95 ms | runs ({args.repeat}) |",
        "|---|---|---|---|---|---|",
    ]
    freeze_like_a_worker()
    for label, call in cases:
        wall, cpu = timed(call, args.repeat)
        lines.append(
            f"| {label} | {statistics.median(wall):.1f} | {percentile(wall, 95):.1f} | "
            f"{statistics.median(cpu):.1f} | {percentile(cpu, 95):.1f} | {len(wall)} |"
        )
    report = "\n".join(lines)
    print(report)
    if args.out:
        Path(args.out).write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
