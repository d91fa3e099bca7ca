"""Scaling curve: generator time, build time, peak memory, database size and query latency per scale.

Each scale is built (or reused) and measured once; results accumulate in a JSON file so the
scales can be run one at a time (builds are heavy on a shared 2-core machine) and the table
printed at the end:

    python bench/scaling.py --scales 0.5                 # generate + build /tmp/f-scale/0.5/, then time queries
    python bench/scaling.py --scales 1.0 --reuse 1.0=/tmp/s1/pathfinder.duckdb   # measure a database built elsewhere
    python bench/scaling.py --scales 2.0 --nice 10       # only if enough memory is available (--min-free-gib)
    python bench/scaling.py --table                      # print the table and the fit from the JSON
    python bench/scaling.py --queries-only --scales 0.1,0.5,1.0,2.0   # re-time queries only, quietly

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
import resource
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

from bench.build import folder_bytes, measure  # noqa: E402
from bench.timing import freeze_like_a_worker, percentile  # noqa: E402
from data.schema import TABLES  # noqa: E402
from queries.indicators import default_period, indicator_values, inequality, trend  # noqa: E402

DEFAULT_OUT_DIR = Path("/tmp/f-scale")
DEFAULT_RESULTS = ROOT / "bench" / "results" / "scaling.json"
ENGLAND_PATIENTS_M = 63.0
CUBE_TABLES = ("ind_cube_practice", "ind_cube_lsoa", "ind_cube_area", "ind_cube_borough", "ind_cube_practice_equity")
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


def _children_cpu_seconds() -> float:
    """User + system CPU seconds of every child reaped so far (``measure`` reaps with wait4)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
    """p50/p95 (ms) over every call of :func:`query_calls`, each run ``repeat`` times after one warm-up.

    Pooled over the calls, and per call (``per_call_ms``: its own p50 and p95), so a slow kind of call
    (a trend by borough) can be followed across scales.
    """
    con = duckdb.connect(str(db), read_only=True)
    try:
        timings: list[float] = []
        per_call: dict[str, dict[str, float]] = {}
        slowest = ("", 0.0)
        calls = query_calls(con)
        freeze_like_a_worker()
        cpu_started = time.process_time()
        for label, call in calls:
            call()
            mine = []
            for _ in range(repeat):
                started = time.perf_counter()
                call()
                mine.append((time.perf_counter() - started) * 1000)
            timings += mine
            per_call[label] = {"p50": statistics.median(mine), "p95": percentile(mine, 95)}
            if percentile(mine, 95) > slowest[1]:
                slowest = (label, percentile(mine, 95))
        cpu_ms = (time.process_time() - cpu_started) * 1000
    finally:
        con.close()
    return {
        "calls": len(calls),
        "repeat": repeat,
        "query_p50_ms": statistics.median(timings),
        "query_p95_ms": percentile(timings, 95),
        "query_cpu_ms_per_call": cpu_ms / max(1, len(calls) * (repeat + 1)),
        "slowest_call": slowest[0],
        "slowest_call_p95_ms": slowest[1],
        "per_call_ms": per_call,
    }


def database_facts(db: Path) -> dict[str, object]:
    """Rows and size of a built database, from its ``meta`` table."""
    with duckdb.connect(str(db), read_only=True) as con:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        # The app's queries read cube slices, so their cost follows the cube's size, not the patient count.
        cube_rows = con.execute("SELECT count(*) FROM ind_cube_practice").fetchone()[0]
    rows = {k.removeprefix("rows_"): int(v) for k, v in meta.items() if k.startswith("rows_")}
    return {
        "practice_cube_rows": cube_rows,
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
    result: dict[str, object] = {
        "scale": float(scale),
        "source": f"reused {db}",
        "database": str(db),
        **database_facts(db),
    }
    log = db.parent / "build.log"
    generator_s, build_s = log_seconds(log.read_text()) if log.is_file() else (None, None)
    extracts = [p for p in db.parent.iterdir() if p.is_dir() and p.name.startswith("extract-")]
    # A log written under `/usr/bin/time -v` also has the peak RSS of the one process (generator and build).
    text = log.read_text() if log.is_file() else ""
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    cpu = [float(v) for v in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", text)]
    command = re.search(r'Command being timed: "([^"]*)"', text)
    if command:
        # How it was built matters for the comparison: generator or not, and the DuckDB memory limit.
        limit = re.search(r"--memory-limit (\S+)", command.group(1))
        kind = "generator + build" if " synthetic " in f" {command.group(1)} " else "build only"
        result["source"] += f" ({kind}, memory_limit {limit.group(1) if limit else '6GB'})"
    result.update(
        generator_s=generator_s,
        build_s=build_s,
        generator_peak_bytes=None,
        build_peak_bytes=int(peak.group(1)) * 1024 if peak else None,
        generator_build_cpu_s=sum(cpu) if len(cpu) == 2 else None,
        extract_bytes=folder_bytes(extracts[0], allocated=False) if extracts else None,
        note="times and peak from build.log beside the database (not re-run here); the peak is of one process "
        "that ran the generator and then the build",
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
    cpu_before = _children_cpu_seconds()
    generator = measure(
        "generator",
        [*prefix, sys.executable, "-c", GENERATOR, str(extract), scale, str(seed), EXTRACT_DATE],
        folder / "generator.log",
    )
    if generator.exit_code != 0:
        raise SystemExit(f"generator failed at scale {scale}:\n{generator.log[-3000:]}")
    command = [*prefix, sys.executable, "-m", "data.build", "extract", str(extract), "--out", str(db),
               "--extract-date", EXTRACT_DATE, "--memory-limit", memory_limit, "--threads", "2"]  # fmt: skip
    cpu_generator = _children_cpu_seconds()
    # The folder holds the extract, the database and DuckDB's spill files: its peak is the disk the build needs.
    built = measure("build", command, folder / "build.log", disk_folder=folder)
    cpu_build = _children_cpu_seconds()
    if built.exit_code != 0:
        raise SystemExit(f"build failed at scale {scale}:\n{built.log[-3000:]}")
    return {
        "scale": float(scale),
        "source": f"built {db}",
        "database": str(db),
        **database_facts(db),
        "generator_s": generator.seconds,
        "generator_peak_bytes": generator.peak_rss_bytes,
        "generator_cpu_s": cpu_generator - cpu_before,
        "build_cpu_s": cpu_build - cpu_generator,
        "build_s": built.seconds,
        "build_peak_bytes": built.peak_rss_bytes,
        "build_peak_disk_bytes": built.peak_disk_bytes,
        "extract_bytes": folder_bytes(extract, allocated=False),
        "memory_limit": memory_limit,
        "nice": nice,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
    }


def _table_source(extract: Path, table: str) -> str:
    """A read_parquet() argument for a contract table written as one file or as a folder of parts."""
    single = extract / f"{table}.parquet"
    return str(single) if single.is_file() else str(extract / table / "*.parquet")


def split_by_icb(extract: Path, out_dir: Path) -> list[Path]:
    """Write one extract per ICB of the patient's practice: hive-style folders ``icb=<code>``.

    Every event table follows its patient (semi-join on patient_id), so each partition is a
    complete, valid extract of its own, as an ICB's data would be in a partitioned lake.
    """
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE practice_icb AS SELECT practice_code, icb_code FROM read_csv(?, header = true)",
        [str(ROOT / "data" / "reference" / "practices.csv")],
    )
    con.execute(
        "CREATE TABLE patient_icb AS SELECT p.patient_id, r.icb_code FROM read_parquet(?) AS p "
        "JOIN practice_icb AS r USING (practice_code)",
        [_table_source(extract, "patients")],
    )
    folders = []
    for (icb,) in con.execute("SELECT DISTINCT icb_code FROM patient_icb ORDER BY 1").fetchall():
        folder = out_dir / f"icb={icb}"
        folder.mkdir(parents=True, exist_ok=True)
        for table in TABLES:
            # read_parquet and COPY take the file names as constants: paths are ours, never user input.
            con.execute(
                f"COPY (SELECT t.* FROM read_parquet('{_table_source(extract, table)}') AS t "  # noqa: S608
                "WHERE t.patient_id IN (SELECT patient_id FROM patient_icb WHERE icb_code = ?)) "
                f"TO '{folder / (table + '.parquet')}' (FORMAT parquet)",
                [icb],
            )
        folders.append(folder)
    con.close()
    return folders


def partition_check(scale: float, seed: int, work: Path, *, compare_only: bool = False) -> str:
    """Build London whole and per ICB from one extract; compare the ICB cubes summed with the whole-London cubes.

    Evidence for docs/scaling.md: every rule is per patient and every cube cell a sum, so the build
    partitions by ICB and merges with UNION ALL + SUM. ``compare_only`` re-reads the databases of an
    earlier run under ``work``. Returns Markdown.
    """
    from data.build import build_from_directory
    from data.synthetic import write_extract

    header = f"Partition check at scale {scale:g}, seed {seed}"
    if not compare_only:
        shutil.rmtree(work, ignore_errors=True)
        extract = work / "extract"
        extract_date = datetime.fromisoformat(EXTRACT_DATE).date()
        write_extract(extract, scale=scale, seed=seed, extract_date=extract_date, progress=lambda message: None)
        quiet = {"extract_date": extract_date, "source": "synthetic", "progress": lambda message: None}
        started = time.perf_counter()
        build_from_directory(extract, work / "whole.duckdb", scale=scale, seed=seed, **quiet)
        whole_s = time.perf_counter() - started
        part_s = []
        for folder in split_by_icb(extract, work / "partitions"):
            started = time.perf_counter()
            build_from_directory(folder, work / f"{folder.name}.duckdb", scale=scale, seed=seed, **quiet)
            part_s.append(time.perf_counter() - started)
        header += (
            f": whole London built in {whole_s:.0f} s; {len(part_s)} ICB partitions built in {sum(part_s):.0f} s "
            f"in total (largest {max(part_s):.0f} s; load average {os.getloadavg()[0]:.1f}, timings not quiet)"
        )
    return header + ".\n\n" + compare_partitions(work / "whole.duckdb", sorted(work.glob("icb=*.duckdb")))


def compare_partitions(whole: Path, parts: list[Path]) -> str:
    """Markdown table: per cube, cells where the summed partitions differ from the whole (beyond float rounding)."""
    con = duckdb.connect(str(whole), read_only=True)
    for i, db in enumerate(parts):
        con.execute(f"ATTACH '{db}' AS part{i} (READ_ONLY)")  # our own file names
    lines = ["| table | rows (whole) | rows (ICBs summed) | cells that differ |", "|---|---|---|---|"]
    sums = ("numerator", "denominator", "units")
    for table in CUBE_TABLES:
        columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        keys = [c for c in columns if c not in sums]
        # Identifiers here are the module's table names and the database's own column names.
        union = " UNION ALL ".join(f"SELECT * FROM part{i}.{table}" for i in range(len(parts)))  # noqa: S608
        totals = ", ".join(f"sum({c}) AS {c}" for c in sums)
        merged = f"SELECT {', '.join(keys)}, {totals} FROM ({union}) GROUP BY ALL"  # noqa: S608
        on = " AND ".join(f"w.{k} IS NOT DISTINCT FROM m.{k}" for k in keys)
        # Sums of fractional expected counts (detection ratio) differ in the last bits with summation order.
        differ = " OR ".join(
            f"(w.{c} IS NULL) <> (m.{c} IS NULL) OR abs(w.{c} - m.{c}) > 1e-9 * greatest(1, abs(w.{c}))" for c in sums
        )
        whole_rows, merged_rows, bad = con.execute(
            f"SELECT (SELECT count(*) FROM {table}), (SELECT count(*) FROM ({merged})), "  # noqa: S608 (our table names)
            f"(SELECT count(*) FROM {table} AS w FULL JOIN ({merged}) AS m ON {on} WHERE {differ})"
        ).fetchone()
        lines.append(f"| {table} | {whole_rows:,} | {merged_rows:,} | {bad:,} |")
    for label, columns in (
        ("ind_patient, row for row", "*"),
        ("ind_patient without unit_id", "indicator_id, period_id, patient_id, numerator, denominator"),
    ):
        union = " UNION ALL ".join(f"SELECT {columns} FROM part{i}.ind_patient" for i in range(len(parts)))  # noqa: S608
        whole_rows, missing, extra = con.execute(
            f"SELECT (SELECT count(*) FROM ind_patient), "  # noqa: S608 (fixed column lists)
            f"(SELECT count(*) FROM (SELECT {columns} FROM ind_patient EXCEPT ALL ({union}))), "
            f"(SELECT count(*) FROM (({union}) EXCEPT ALL SELECT {columns} FROM ind_patient))"
        ).fetchone()
        lines.append(f"| {label} | {whole_rows:,} | | {missing:,} missing, {extra:,} extra |")
    con.close()
    return "\n".join(lines)


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


def _cpu_seconds(result: dict) -> float | None:
    """Generator + build CPU seconds (user + system, all threads): steadier than wall time on a shared machine."""
    if result.get("generator_build_cpu_s") is not None:
        return result["generator_build_cpu_s"]
    if result.get("build_cpu_s") is not None:
        return result["build_cpu_s"] + (result.get("generator_cpu_s") or 0.0)
    return None


def render(results: dict[str, dict], skipped: dict[str, str]) -> str:
    """The scaling table, the growth fit and the England extrapolation, as Markdown."""
    rows = sorted(results.values(), key=lambda r: r["scale"])
    for r in rows:
        r["cpu_s"] = _cpu_seconds(r)
    lines = [
        "| scale | patients | event rows | generator s | build s | gen+build CPU s | build peak GiB | DuckDB memory "
        "limit | build peak disk GiB | DB GiB | practice cube rows | query p50 ms | query p95 ms | query CPU ms/call | "
        "load avg build / queries | source |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        build_load, query_load = r.get("load_average_after"), r.get("load_average_end")
        load = f"{_fmt(build_load, '.1f')} / {_fmt(query_load, '.1f')}"
        lines.append(
            f"| {r['scale']:g} | {r['patients']:,} | {r['event_rows']:,} | {_fmt(r.get('generator_s'), '.0f')} | "
            f"{_fmt(r.get('build_s'), '.0f')} | {_fmt(r.get('cpu_s'), '.0f')} | "
            f"{_fmt(r.get('build_peak_bytes'), '.2f', 2**30)} | {r.get('memory_limit') or 'n/m'} | "
            f"{_fmt(r.get('build_peak_disk_bytes'), '.1f', 2**30)} | {_fmt(r['db_bytes'], '.2f', 2**30)} | "
            f"{_fmt(r.get('practice_cube_rows'), ',.0f')} | {_fmt(r.get('query_p50_ms'), '.1f')} | "
            f"{_fmt(r.get('query_p95_ms'), '.1f')} | "
            f"{_fmt(r.get('query_cpu_ms_per_call'), '.1f')} | {load} | {_source(r)} |"
        )
    for scale, reason in sorted(skipped.items()):
        lines.append(f"| {scale} | | | | | | | | | | | | | | | **NOT RUN: {reason}** |")
    lines += [
        "",
        "n/m = not measured in this run (see source). build s and generator s are wall time; on this shared "
        "machine they are mostly queueing for a core (load avg = 1-minute load average at the end of the build and of "
        "the query timing), so the CPU columns are the figures to compare across scales. build peak disk = the largest "
        "size of the scale's folder during the build (extract, database and DuckDB spill files), polled every second.",
        "",
        "Growth (least squares against millions of patients; exponent from log-log, 1 = linear):",
        "",
        "| measure | per million patients | fixed part | exponent | England (63 M), one machine |",
        "|---|---|---|---|---|",
    ]
    for key, label, unit in (
        ("cpu_s", "generator + build CPU", "s"),
        ("build_s", "build wall time (noisy)", "s"),
        ("db_bytes", "database size", "GiB"),
        ("practice_cube_rows", "practice cube rows", "rows"),
        ("query_p95_ms", "query p95 (noisy)", "ms"),
        ("query_cpu_ms_per_call", "query CPU per call", "ms"),
    ):
        points = [(r["patients"] / 1e6, r[key]) for r in rows if r.get(key) is not None]
        fit = _fit([p for p, _ in points], [float(v) for _, v in points])
        if fit is None:
            lines.append(f"| {label} | fewer than two measured scales | | | |")
            continue
        slope, intercept, exponent = fit
        divisor = 2**30 if unit == "GiB" else 1.0
        if slope <= 0 or abs(exponent) < 0.1:
            # No growth measured: a straight line would extrapolate noise (or a negative time).
            lines.append(f"| {label} ({unit}) | no growth measured | | {exponent:.2f} | ≈ as measured |")
            continue
        england = (slope * ENGLAND_PATIENTS_M + intercept) / divisor
        lines.append(
            f"| {label} ({unit}) | {slope / divisor:,.3g} | {intercept / divisor:,.3g} | {exponent:.2f} | "
            f"{england:,.0f} |"
        )
    peaks = [(r["scale"], r["build_peak_bytes"]) for r in rows if r.get("build_peak_bytes")]
    if peaks:
        lines.append(
            "| build peak RSS (GiB) | not extrapolated: capped by the DuckDB memory_limit (spills beyond it) | | | "
            + ", ".join(f"{peak / 2**30:.1f} at {scale:g}" for scale, peak in peaks)
            + " |"
        )
    limits = sorted({r["memory_limit"] for r in rows if r.get("memory_limit")})
    if len(limits) == 1:
        limit_text = (
            f"The DuckDB memory limit ({limits[0]}) is the same at every scale, so the larger the data the more "
            "the build spills to disk"
        )
    else:
        limit_text = (
            f"The DuckDB memory limit differs between scales ({', '.join(limits)}; see the table), so the fit "
            "mixes builds that spilled more and less; the larger the data the more a fixed limit spills"
        )
    lines += [
        "",
        "Caveat: a straight line through a few scales of synthetic London measured on one shared 2-core machine. "
        f"{limit_text}: above the measured range growth on one machine is likely faster than linear, and the "
        "peak RSS is capped by the limit rather than growing with the data. The England column is what one "
        "such machine would need, which is why docs/scaling.md partitions the build by ICB instead.",
    ]
    return "\n".join(lines)


def _source(result: dict) -> str:
    """How the scale was built, and where its queries were last timed when that was another copy."""
    queried = result.get("queries_database")
    if queried and queried != _database_of(result):
        return f"{result['source']}; queries re-timed on {queried} (the same build)"
    return result["source"]


def _database_of(result: dict) -> str:
    """The database a stored result was measured on (results stored before "database" was kept: from "source")."""
    if "database" in result:
        return result["database"]
    # "built PATH" or "reused PATH (how it was built)"
    return result.get("source", " ").split(" ", 1)[1].split(" (", 1)[0]


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
    parser.add_argument(
        "--queries-only",
        action="store_true",
        help="re-time the queries of scales already in --results on their databases (at a quiet moment); "
        "their build figures are kept",
    )
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument(
        "--partition-check", type=float, metavar="SCALE", help="build whole and per-ICB at SCALE; compare the cubes"
    )
    parser.add_argument("--compare-only", action="store_true", help="partition check: reuse the earlier builds")
    args = parser.parse_args(argv)
    if args.partition_check:
        work = args.out_dir / "partition-check"
        text = partition_check(args.partition_check, args.seed, work, compare_only=args.compare_only)
        print(text)
        if args.markdown:
            args.markdown.write_text(text + "\n")
        return 0

    stored = json.loads(args.results.read_text()) if args.results.is_file() else {"results": {}, "skipped": {}}
    # Every scale is built unless named here: a database built by another version of the build would
    # make the curve mix two builds.
    reused = {f"{float(k):g}": v for k, v in (item.split("=", 1) for item in args.reuse)}
    if args.queries_only:
        for scale in (f"{float(s):g}" for s in args.scales.split(",") if s.strip()):
            result = stored["results"].get(scale)
            database = Path(reused.get(scale) or _database_of(result or {}))
            if result is None or not database.is_file():
                print(f"scale {scale}: no earlier result or no database at {database}; skipped", file=sys.stderr)
                continue
            print(f"scale {scale}: queries on {database}", file=sys.stderr, flush=True)
            result["queries_load_average_before"] = os.getloadavg()[0]
            result["queries_database"] = str(database)
            result.update(time_queries(database, args.repeat))
            result["queries_measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            result["load_average_end"] = os.getloadavg()[0]
        args.results.write_text(json.dumps(stored, indent=1, sort_keys=True))
    elif not args.table:
        for scale in (f"{float(s):g}" for s in args.scales.split(",") if s.strip()):
            print(f"scale {scale}: {datetime.now(UTC):%H:%M:%S} UTC", file=sys.stderr, flush=True)
            if scale in reused and Path(reused[scale]).is_file():
                result = reuse(scale, Path(reused[scale]), args.repeat)
            else:
                available = psutil.virtual_memory().available / 2**30
                if float(scale) >= 2 and available < args.min_free_gib:
                    reason = (
                        f"{available:.1f} GiB available < {args.min_free_gib:g} GiB needed "
                        f"(checked {datetime.now(UTC):%Y-%m-%d %H:%M} UTC)"
                    )
                    print(f"  skipped: {reason}", file=sys.stderr)
                    stored["skipped"][scale] = reason
                    args.results.parent.mkdir(parents=True, exist_ok=True)
                    args.results.write_text(json.dumps(stored, indent=1, sort_keys=True))
                    continue
                result = build(scale, args.seed, args.out_dir, args.nice, args.memory_limit, args.repeat)
            result.update(time_queries(Path(result["database"]), args.repeat))
            result["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            result["machine"] = {"cores": os.cpu_count(), "ram_gib": round(psutil.virtual_memory().total / 2**30, 1)}
            result["load_average_end"] = os.getloadavg()[0]
            # Re-read first: another scale may have been run meanwhile in a second process.
            if args.results.is_file():
                stored = json.loads(args.results.read_text())
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
