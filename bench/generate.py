"""Benchmark the synthetic generator: wall time and peak RSS of write_extract per scale.

Each scale runs in a fresh child process, so its peak RSS (ru_maxrss of the child) is its own.

    .venv/bin/python -m bench.generate --scale 0.02 --scale 0.1 --scale 1.0
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, sys, time
from datetime import date
from pathlib import Path
from data.synthetic import write_extract
start = time.perf_counter()
rows = write_extract(Path(sys.argv[1]), scale=float(sys.argv[2]), seed=int(sys.argv[3]),
                     extract_date=date.fromisoformat(sys.argv[4]), progress=lambda message: None)
print(json.dumps({"seconds": time.perf_counter() - start, "rows": rows}))
"""


def run_scale(scale: float, seed: int, extract_date: str) -> dict:
    """Generate one extract in a child process; return seconds, rows, peak RSS and bytes written."""
    project_root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="synthetic-bench-") as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        completed = subprocess.run(
            [sys.executable, "-c", CHILD, out, str(scale), str(seed), extract_date],
            cwd=project_root,
            capture_output=True,
            text=True,
            check=True,
        )
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        result["bytes"] = sum(f.stat().st_size for f in Path(out).rglob("*.parquet"))
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: only trust it if it grew.
    result["peak_rss_mib"] = peak_kib / 1024 if peak_kib > before else float("nan")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, action="append", help="repeatable; default 0.02 and 0.1")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--extract-date", default="2026-10-31")
    args = parser.parse_args(argv)
    scales = sorted(args.scale or [0.02, 0.1])  # ascending, so each child's peak exceeds the last
    print(f"{'scale':>6} {'patients':>11} {'event rows':>12} {'seconds':>8} {'peak RSS MiB':>13} {'MiB on disk':>12}")
    for scale in scales:
        r = run_scale(scale, args.seed, args.extract_date)
        events = sum(v for k, v in r["rows"].items() if k != "patients")
        print(
            f"{scale:>6g} {r['rows']['patients']:>11,} {events:>12,} {r['seconds']:>8.1f} "
            f"{r['peak_rss_mib']:>13.0f} {r['bytes'] / 2**20:>12.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
