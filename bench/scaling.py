"""Scaling curve: generator time, build time, peak memory, database size and query latency per scale.

Each scale is built (or reused) and measured once; results accumulate in a JSON file so the
scales can be run one at a time (builds are heavy on a shared 2-core machine) and the table
printed at the end:

    python bench/scaling.py --scales 0.5                 # generate + build /tmp/f-scale/0.5/, then time queries
    python bench/scaling.py --scales 0.1,1.0             # reuse /tmp/s01 and /tmp/s1 (never rebuilt here)
    python bench/scaling.py --scales 2.0 --nice 10       # only if enough memory is available (--min-free-gib)
    python bench/scaling.py --table                      # print the table and the fit from the JSON

A built scale runs the generator and the build as two child processes (``bench.build.measure``:
wall time and peak RSS of the process tree, polled every 50 ms, and ``ru_maxrss``). A reused
database (``--reuse SCALE=PATH``) reports what its ``build.log`` beside it recorded (generator and
build seconds from the progress time stamps); its peak memory is not measured here.

Query latency: a fixed set of ``indicator_values`` / ``trend`` / ``inequality`` calls (below),
each timed ``--repeat`` times after a warm-up, pooled into one p50/p95 per scale.

The fit: least squares of each time against millions of patients (seconds per million and a fixed
part), plus the log-log exponent (1 = linear growth), extrapolated to England (about 63 M
registered patients). An extrapolation from at most 22 M patients on one 2-core machine with a
6 GB DuckDB memory limit: the engine spills more as data outgrows memory, so read it as a floor.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.build import measure  # noqa: E402
from queries.indicators import default_period, indicator_values, inequality, trend  # noqa: E402

DEFAULT_REUSE = {"1.0": "/tmp/s1/pathfinder.duckdb", "0.1": "/tmp/s01/pathfinder.duckdb"}
DEFAULT_OUT_DIR = Path("/tmp/f-scale")
DEFAULT_RESULTS = ROOT / "bench" / "results" / "scaling.json"
ENGLAND_PATIENTS_M = 63.0
EXTRACT_DATE = "2026-10-31"
FILTERS = {"sex": "F", "ethnicity_group": ["Asian", "Black"]}
# One indicator per family (immunisation, QOF hypertension, asthma, cancer, whole-list), at the
# levels the pages ask for most: London, practice, borough x IMD with demographic filters.
QUERY_INDICATORS = ("cover_24m_mmr1", "hyp_bp_recorded_12m", "ast_saba_3plus", "cwt_fds_28d", "hyp_prevalence")

GENERATOR = """
import json, sys, time
from datetime import date
from pathlib import Path
from data.synthetic import write_extract
started = time.perf_counter()
rows = write_extract(Path(sys.argv[1]), scale=float(sys.argv[2]), seed=int(sys.argv[3]),
                     extract_date=date.fromisoformat(sys.argv[4]), progress=lambda message: None)
print(json.dumps({"seconds": time.perf_counter() - started, "rows": rows}))
"""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))]


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def query_calls(con: duckdb.DuckDBPyConnection) -> list[tuple[str, object]]:
    """The fixed set of engine calls timed at every scale: (label, zero-argument callable)."""
    known = {row[0] for row in con.execute("SELECT DISTINCT indicator_id FROM ind_cube_practice").fetchall()}
    calls: list[tuple[str, object]] = []
    for indicator in (i for i in QUERY_INDICATORS if i in known):
        period = default_period(con, indicator)
        calls += [
            (f"{indicator} london", lambda i=indicator, p=period: indicator_values(con, indicator=i, period=p)),
            (
                f"{indicator} practice",
                lambda i=indicator, p=period: indicator_values(
                    con, indicator=i, period=p, by="practice", disclose=True
                ),
            ),
            (
                f"{indicator} borough x imd + filters",
                lambda i=indicator, p=period: indicator_values(
                    con, indicator=i, period=p, by=("borough", "imd_quintile"), filters=FILTERS, disclose=True
                ),
            ),
            (f"{indicator} trend by borough", lambda i=indicator: trend(con, indicator=i, by="borough")),
            (f"{indicator} inequality", lambda i=indicator, p=period: inequality(con, indicator=i, period=p)),
        ]
    return calls


def time_queries(db: Path, repeat: int) -> dict[str, object]:
    """p50/p95 (ms) over every call of :func:`query_calls`, each run ``repeat`` times after one warm-up."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        timings: list[float] = []
        slowest = ("", 0.0)
        calls = query_calls(con)
        cpu_started = time.process_time()
        for label, call in calls:
            call()
            mine = []
            for _ in range(repeat):
                started = time.perf_counter()
                call()
                mine.append((time.perf_counter() - started) * 1000)
            timings += mine
            if _percentile(mine, 95) > slowest[1]:
                slowest = (label, _percentile(mine, 95))
        cpu_ms = (time.process_time() - cpu_started) * 1000
    finally:
        con.close()
    return {
        "calls": len(calls),
        "repeat": repeat,
        "query_p50_ms": statistics.median(timings),
        "query_p95_ms": _percentile(timings, 95),
        "query_cpu_ms_per_call": cpu_ms / max(1, len(calls) * (repeat + 1)),
        "slowest_call": slowest[0],
        "slowest_call_p95_ms": slowest[1],
    }


def database_facts(db: Path) -> dict[str, object]:
    """Rows and size of a built database, from its ``meta`` table."""
    with duckdb.connect(str(db), read_only=True) as con:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    rows = {k.removeprefix("rows_"): int(v) for k, v in meta.items() if k.startswith("rows_")}
    return {
        "meta_scale": meta.get("scale"),
        "meta_seed": meta.get("seed"),
        "built_at": meta.get("built_at"),
        "patients": rows.get("patients", 0),
        "event_rows": sum(n for name, n in rows.items() if name != "patients"),
        "db_bytes": db.stat().st_size,
    }


def log_seconds(log: str) -> tuple[float | None, float | None]:
    """(generator, build) seconds from a ``data.build synthetic`` log: its progress stamps restart at the build."""
    stamps = [float(m.group(1)) for m in re.finditer(r"^\[\s*([\d.]+)s\]", log, flags=re.MULTILINE)]
    if not stamps:
        return None, None
    restart = next((i for i in range(1, len(stamps)) if stamps[i] < stamps[i - 1]), None)
    if restart is None:
        return None, stamps[-1]
    return stamps[restart - 1], stamps[-1]


def reuse(scale: str, db: Path, repeat: int) -> dict[str, object]:
    """Measure a database built elsewhere: facts, what its build log says, and query latency."""
    result: dict[str, object] = {"scale": float(scale), "source": f"reused {db}", **database_facts(db)}
    log = db.parent / "build.log"
    generator_s, build_s = log_seconds(log.read_text()) if log.is_file() else (None, None)
    extracts = [p for p in db.parent.iterdir() if p.is_dir() and p.name.startswith("extract-")]
    result.update(
        generator_s=generator_s,
        build_s=build_s,
        generator_peak_bytes=None,
        build_peak_bytes=None,
        extract_bytes=_folder_bytes(extracts[0]) if extracts else None,
        note="times from build.log beside the database (not re-run here); peak memory not measured",
    )
    return result


def build(scale: str, seed: int, out_dir: Path, nice: int, memory_limit: str, repeat: int) -> dict[str, object]:
    """Generate and build ``scale`` under ``out_dir/scale`` as two measured child processes."""
    folder = out_dir / scale
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    extract = folder / "extract"
    db = folder / "pathfinder.duckdb"
    prefix = ["nice", "-n", str(nice)] if nice else []
    load_before = os.getloadavg()[0]
    generator = measure(
        "generator",
        [*prefix, sys.executable, "-c", GENERATOR, str(extract), scale, str(seed), EXTRACT_DATE],
        folder / "generator.log",
    )
    if generator.exit_code != 0:
        raise SystemExit(f"generator failed at scale {scale}:\n{generator.log[-3000:]}")
    command = [*prefix, sys.executable, "-m", "data.build", "extract", str(extract), "--out", str(db),
               "--extract-date", EXTRACT_DATE, "--memory-limit", memory_limit, "--threads", "2"]  # fmt: skip
    built = measure("build", command, folder / "build.log")
    if built.exit_code != 0:
        raise SystemExit(f"build failed at scale {scale}:\n{built.log[-3000:]}")
    return {
        "scale": float(scale),
        "source": f"built {db}",
        **database_facts(db),
        "generator_s": generator.seconds,
        "generator_peak_bytes": generator.peak_rss_bytes,
        "build_s": built.seconds,
        "build_peak_bytes": built.peak_rss_bytes,
        "extract_bytes": _folder_bytes(extract),
        "memory_limit": memory_limit,
        "nice": nice,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
    }


def _fit(xs: list[float], ys: list[float]) -> tuple[float, float, float] | None:
    """(slope, intercept, log-log exponent) of ys against xs, or None with fewer than two points."""
    if len(xs) < 2:
        return None
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    logs = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    exponent = float("nan")
    if len(logs) >= 2:
        lx, ly = [a for a, _ in logs], [b for _, b in logs]
        mlx, mly = statistics.fmean(lx), statistics.fmean(ly)
        exponent = sum((a - mlx) * (b - mly) for a, b in zip(lx, ly, strict=True)) / sum((a - mlx) ** 2 for a in lx)
    return slope, mean_y - slope * mean_x, exponent


def _fmt(value: object, spec: str, scale_by: float = 1.0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/m"
    return format(float(value) / scale_by, spec)


def render(results: dict[str, dict], skipped: dict[str, str]) -> str:
    """The scaling table, the growth fit and the England extrapolation, as Markdown."""
    rows = sorted(results.values(), key=lambda r: r["scale"])
    lines = [
        "| scale | patients | event rows | generator s | generator peak GiB | build s | build peak GiB | "
        "DB GiB | query p50 ms | query p95 ms | source |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scale']:g} | {r['patients']:,} | {r['event_rows']:,} | {_fmt(r.get('generator_s'), '.0f')} | "
            f"{_fmt(r.get('generator_peak_bytes'), '.2f', 2**30)} | {_fmt(r.get('build_s'), '.0f')} | "
            f"{_fmt(r.get('build_peak_bytes'), '.2f', 2**30)} | {_fmt(r['db_bytes'], '.2f', 2**30)} | "
            f"{_fmt(r.get('query_p50_ms'), '.1f')} | {_fmt(r.get('query_p95_ms'), '.1f')} | {r['source']} |"
        )
    for scale, reason in sorted(skipped.items()):
        lines.append(f"| {scale} | — | — | — | — | — | — | — | — | — | NOT RUN: {reason} |")
    lines += ["", "n/m = not measured in this run (see source).", ""]
    lines += ["Growth (least squares against millions of patients; exponent from log-log, 1 = linear):", ""]
    lines += ["| measure | per million patients | fixed part | exponent | England (63 M) |", "|---|---|---|---|---|"]
    for key, label, unit in (
        ("generator_s", "generator", "s"),
        ("build_s", "build", "s"),
        ("db_bytes", "database size", "GiB"),
        ("build_peak_bytes", "build peak RSS", "GiB"),
        ("query_p95_ms", "query p95", "ms"),
    ):
        points = [(r["patients"] / 1e6, r[key]) for r in rows if r.get(key) is not None]
        fit = _fit([p for p, _ in points], [float(v) for _, v in points])
        if fit is None:
            lines.append(f"| {label} | fewer than two measured scales | | | |")
            continue
        slope, intercept, exponent = fit
        divisor = 2**30 if unit == "GiB" else 1.0
        england = slope * ENGLAND_PATIENTS_M + intercept
        lines.append(
            f"| {label} ({unit}) | {slope / divisor:.3g} | {intercept / divisor:.3g} | {exponent:.2f} | "
            f"{england / divisor:,.1f} |"
        )
    lines += [
        "",
        "Caveat: extrapolated from a few scales of synthetic London on one shared 2-core machine (timings under "
        "load are noisy); past the DuckDB memory limit the build spills to disk, so growth above the measured "
        "range is likely faster than linear on one machine. The England figure is what one such machine would "
        "take, which is why docs/scaling.md partitions the build instead.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="0.1,0.5,1.0,2.0", help="comma-separated scales")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="built scales go to OUT_DIR/<scale>/")
    parser.add_argument("--reuse", action="append", default=[], help="SCALE=PATH of a database to measure, not build")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="JSON file the results accumulate in")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--nice", type=int, default=10)
    parser.add_argument("--memory-limit", default="6GB", help="DuckDB memory_limit for the build")
    parser.add_argument("--min-free-gib", type=float, default=16.0, help="needed available memory for scale >= 2")
    parser.add_argument("--table", action="store_true", help="only print the table from --results")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args(argv)

    stored = json.loads(args.results.read_text()) if args.results.is_file() else {"results": {}, "skipped": {}}
    reused = {**DEFAULT_REUSE, **dict(item.split("=", 1) for item in args.reuse)}
    reused = {f"{float(k):g}": v for k, v in reused.items()}
    if not args.table:
        for scale in (f"{float(s):g}" for s in args.scales.split(",") if s.strip()):
            print(f"scale {scale}: {datetime.now(UTC):%H:%M:%S} UTC", file=sys.stderr, flush=True)
            if scale in reused and Path(reused[scale]).is_file():
                result = reuse(scale, Path(reused[scale]), args.repeat)
            else:
                available = psutil.virtual_memory().available / 2**30
                if float(scale) >= 2 and available < args.min_free_gib:
                    reason = f"{available:.1f} GiB available < {args.min_free_gib:g} GiB needed"
                    print(f"  skipped: {reason}", file=sys.stderr)
                    stored["skipped"][scale] = reason
                    continue
                result = build(scale, args.seed, args.out_dir, args.nice, args.memory_limit, args.repeat)
            result.update(time_queries(Path(result["source"].split(" ", 1)[1]), args.repeat))
            result["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            result["machine"] = {"cores": os.cpu_count(), "ram_gib": round(psutil.virtual_memory().total / 2**30, 1)}
            result["load_average_end"] = os.getloadavg()[0]
            stored["results"][scale] = result
            stored["skipped"].pop(scale, None)
            args.results.parent.mkdir(parents=True, exist_ok=True)
            args.results.write_text(json.dumps(stored, indent=1, sort_keys=True))
            print(json.dumps(result, indent=1), file=sys.stderr, flush=True)
    table = render(stored["results"], stored["skipped"])
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
