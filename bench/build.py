"""Benchmark the database build: wall time and peak memory of the whole build, as a user runs it.

Runs ``python -m data.build`` as a child process and measures it from outside:
peak RSS is the larger of (a) the sum over the process tree, polled every 50 ms
with psutil, and (b) the kernel's ``ru_maxrss`` for the child from ``wait4``.
Peak disk is the largest size of the work folder (extract, database and DuckDB's
spill files, which the build writes beside the database) seen by a poll every
second: what the build needs free on the disk it writes to.

    python bench/build.py --scale 0.02 0.1            # synthetic: generate + build, then build only
    python bench/build.py --extract path/to/extract   # an existing extract folder

For each synthetic scale it runs twice in a fresh work folder: first the synthetic
command (generator + build), then the extract command on the extract it just wrote
(the build alone).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psutil

ROOT = Path(__file__).resolve().parents[1]
POLL_SECONDS = 0.05
DISK_POLL_SECONDS = 1.0


@dataclass
class Run:
    """One measured build."""

    label: str
    seconds: float
    peak_rss_bytes: int
    exit_code: int
    log: str
    peak_disk_bytes: int = 0  # of the folder measure() watched; 0 when it watched none


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a child may exit between listing and reading
            total += member.memory_info().rss
    return total


def folder_bytes(folder: Path, *, allocated: bool = True) -> int:
    """Bytes of every file under ``folder`` now (files that vanish while it is read count as 0).

    ``allocated``: the disk the files take (what a build needs free); False for their apparent sizes
    (an extract's size as a listing gives it).
    """
    total = 0
    stack = [folder]
    while stack:
        with contextlib.suppress(OSError), os.scandir(stack.pop()) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):  # spill files come and go while they are listed
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False):
                        info = entry.stat(follow_symlinks=False)
                        total += info.st_blocks * 512 if allocated else info.st_size
    return total


def measure(label: str, command: list[str], log_path: Path, *, disk_folder: Path | None = None) -> Run:
    """Run ``command`` to completion; return its wall time, peak RSS (tree) and peak size of ``disk_folder``."""
    with open(log_path, "w") as log:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        process = psutil.Process(child.pid)
        peak = peak_disk = 0
        done = threading.Event()

        def poll() -> None:
            nonlocal peak, peak_disk
            next_disk_poll = 0.0
            while not done.is_set():
                try:
                    peak = max(peak, _tree_rss(process))
                except psutil.Error:
                    return
                if disk_folder is not None and time.perf_counter() >= next_disk_poll:
                    peak_disk = max(peak_disk, folder_bytes(disk_folder))
                    next_disk_poll = time.perf_counter() + DISK_POLL_SECONDS
                time.sleep(POLL_SECONDS)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        # wait4 gives this child's own rusage (ru_maxrss in KiB on Linux), not the sum of all children so far.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        poller.join()
    return Run(label, seconds, max(peak, usage.ru_maxrss * 1024), child.returncode, log_path.read_text(), peak_disk)


def database_summary(path: Path) -> dict[str, float]:
    """Row counts and file size of a built database."""
    with duckdb.connect(str(path), read_only=True) as con:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    rows = {k.removeprefix("rows_"): int(v) for k, v in meta.items() if k.startswith("rows_")}
    return {
        "patients": rows.get("patients", 0),
        "event_rows": sum(n for name, n in rows.items() if name != "patients"),
        "db_mb": path.stat().st_size / 1e6,
    }


def stage_seconds(log: str) -> tuple[float, float]:
    """(validated load incl. patient_dim, indicator engine) seconds, read from the build's progress lines."""
    stamps: dict[str, float] = {}
    for line in log.splitlines():
        match = re.match(r"\[\s*([\d.]+)s\] (materialising indicators|checkpoint)", line)
        if match:
            stamps[match.group(2)] = float(match.group(1))
    checkpoint = stamps.get("checkpoint", float("nan"))
    start = stamps.get("materialising indicators", checkpoint)
    return start, checkpoint - start


def folder_mb(folder: Path) -> float:
    return folder_bytes(folder, allocated=False) / 1e6


def _gb(n: int) -> str:
    return f"{n / 2**30:.2f}"


def bench_synthetic(scale: float, seed: int, extract_date: str, work_dir: Path, extra: list[str]) -> dict[str, object]:
    out = work_dir / "bench.duckdb"
    command = [sys.executable, "-m", "data.build", "synthetic", "--scale", str(scale), "--seed", str(seed),
               "--out", str(out), "--work-dir", str(work_dir), "--extract-date", extract_date, *extra]  # fmt: skip
    cold = measure("generate+build", command, work_dir / "cold.log", disk_folder=work_dir)
    if cold.exit_code != 0:
        raise SystemExit(f"build failed at scale {scale}:\n{cold.log[-4000:]}")
    extracts = [p for p in work_dir.iterdir() if p.is_dir() and p.name.startswith("extract-")]
    # The second run loads the extract just written, as `extract`: the synthetic command would
    # regenerate if the generator's source changed in between, which is not what is being timed.
    build_only = [sys.executable, "-m", "data.build", "extract", str(extracts[0]), "--out", str(out),
                  "--extract-date", extract_date, *extra]  # fmt: skip
    warm = measure("build only", build_only, work_dir / "warm.log", disk_folder=work_dir)
    if warm.exit_code != 0:
        raise SystemExit(f"build failed at scale {scale}:\n{warm.log[-4000:]}")
    return {
        "scale": scale,
        **database_summary(out),
        "extract_mb": sum(folder_mb(p) for p in extracts),
        "cold_s": cold.seconds,
        "cold_rss": cold.peak_rss_bytes,
        "warm_s": warm.seconds,
        "warm_rss": warm.peak_rss_bytes,
        "cold_disk": cold.peak_disk_bytes,
        "warm_disk": warm.peak_disk_bytes,
        "warm_log": warm.log,
        "stages": stage_seconds(warm.log),
    }


def bench_extract(folder: Path, extract_date: str, work_dir: Path, extra: list[str]) -> dict[str, object]:
    out = work_dir / "bench.duckdb"
    command = [sys.executable, "-m", "data.build", "extract", str(folder), "--out", str(out),
               "--extract-date", extract_date, *extra]  # fmt: skip
    run = measure("build", command, work_dir / "build.log", disk_folder=work_dir)
    if run.exit_code != 0:
        raise SystemExit(f"build failed:\n{run.log[-4000:]}")
    return {
        "scale": folder.name,
        **database_summary(out),
        "extract_mb": folder_mb(folder),
        "cold_s": float("nan"),
        "cold_rss": 0,
        "warm_s": run.seconds,
        "warm_rss": run.peak_rss_bytes,
        "cold_disk": 0,
        "warm_disk": run.peak_disk_bytes,
        "warm_log": run.log,
        "stages": stage_seconds(run.log),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, nargs="*", default=[0.02])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--extract", type=Path, help="benchmark this extract folder instead of the generator")
    parser.add_argument("--extract-date", default="2026-10-31")
    parser.add_argument("--work-dir", type=Path, help="default: a temporary folder under data/generated")
    parser.add_argument("--keep", action="store_true", help="keep the built database and extract")
    parser.add_argument("--show-log", action="store_true", help="print the stage timings of each build")
    parser.add_argument("--memory-limit", default="6GB")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-indicators", action="store_true", help="time generator + load without the engine")
    args = parser.parse_args(argv)
    extra = ["--memory-limit", args.memory_limit, "--threads", str(args.threads)]
    if args.skip_indicators:
        extra.append("--skip-indicators")

    base = args.work_dir or ROOT / "data" / "generated"
    base.mkdir(parents=True, exist_ok=True)
    results = []
    jobs = [("extract", args.extract)] if args.extract else [("scale", s) for s in args.scale]
    for kind, value in jobs:
        work_dir = Path(tempfile.mkdtemp(prefix="bench-build-", dir=base))
        try:
            if kind == "extract":
                result = bench_extract(value, args.extract_date, work_dir, extra)
            else:
                result = bench_synthetic(value, args.seed, args.extract_date, work_dir, extra)
            results.append(result)
            if args.show_log:
                print(result["warm_log"])
        finally:
            if not args.keep:
                shutil.rmtree(work_dir, ignore_errors=True)
            else:
                print(f"kept {work_dir}")

    engine = "without indicators" if args.skip_indicators else "with indicators"
    print(
        f"\nbuild benchmark ({engine}) on {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
        f"memory_limit {args.memory_limit}, threads {args.threads}"
    )
    header = (
        f"{'scale':>8} {'patients':>11} {'event rows':>12} {'extract MB':>11} {'db MB':>9} "
        f"{'gen+build s':>12} {'peak GiB':>9} {'disk GiB':>9} {'build s':>8} {'peak GiB':>9} {'disk GiB':>9} "
        f"{'load s':>7} {'engine s':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['scale']!s:>8} {r['patients']:>11,} {r['event_rows']:>12,} {r['extract_mb']:>11,.0f} "
            f"{r['db_mb']:>9,.0f} {r['cold_s']:>12.1f} {_gb(r['cold_rss']):>9} {_gb(r['cold_disk']):>9} "
            f"{r['warm_s']:>8.1f} {_gb(r['warm_rss']):>9} {_gb(r['warm_disk']):>9} "
            f"{r['stages'][0]:>7.1f} {r['stages'][1]:>9.1f}"
        )
    print("gen+build: generator and build from scratch; build: the same extract loaded again (no generator);")
    print("load: reference, validated load and patient_dim (of 'build'); engine: queries.materialise (of 'build')")
    print(
        "disk: peak size of the work folder, polled every second: database and DuckDB spill files, and for a "
        "synthetic scale the extract (the free disk the build needs there)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
