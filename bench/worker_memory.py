"""What one serving process's memory is made of after a long run of the page callbacks.

Runs ``bench/callbacks.py``'s interaction mix in this process (``start_worker`` first, as every serving
worker does: the DuckDB memory cap, the warm caches, the query cache at its settings), sampling the
resident memory (RSS) every two seconds, then splits what is held at the end into:

- DuckDB's memory by tag (``duckdb_memory()``): the database file's cached blocks (``BASE_TABLE``) and the
  warm in-memory tables (``IN_MEMORY_TABLE``) live under ``PATHFINDER_DB_MEMORY_LIMIT``;
- the aggregate query cache (its own account, under ``PATHFINDER_QUERY_CACHE_MB``);
- the rest of the process (Python objects: the app, layouts, geometry, per-process caches).

So a growing RSS in the load test can be told apart: a cache filling to its cap, or a leak.

``--runs N`` runs the mix N times (seeds 7, 8, ...; the worker's start once) and splits the memory after each
run: the part that levels off and the part that keeps rising show run by run. At the end glibc's
``malloc_trim`` returns freed heap to the system, so memory freed but kept by the allocator (fragmentation)
shows as the drop it makes.

``--trace`` then runs the mix once more (another seed, the worker's start not repeated) under
``tracemalloc`` and reports what the second run allocated that is still alive after a full collection,
split into results the query cache stored (allocated beneath ``queries/cache.py``'s call of the cached
function) and everything else, with the largest other sites: a leak shows as growth outside the cache.

    python bench/worker_memory.py --db /tmp/final7/pathfinder.duckdb [--repeat 60] [--runs 1] [--trace]
        [--out memory.md]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import sys
import threading
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import callbacks  # noqa: E402
from bench.cache_memory import rss_mib  # noqa: E402

FIRST_SEED = 7  # bench/callbacks.py's default: the first run is the mix bench/callbacks.py times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--repeat", type=int, default=60, help="warm calls per callback (bench/callbacks.py)")
    parser.add_argument("--runs", type=int, default=1, help="runs of the mix, memory split after each")
    parser.add_argument("--trace", action="store_true", help="then trace what a second run leaves alive")
    parser.add_argument("--out", type=Path, help="also write the Markdown report here")
    args = parser.parse_args(argv)

    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        started = time.perf_counter()
        while not done.wait(2.0 if samples else 0.0):
            samples.append((time.perf_counter() - started, rss_mib()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    calls = run_mix(args, 0)
    done.set()
    sampler.join()

    after_runs = [(calls, memory_parts())]
    for run in range(1, args.runs):
        calls += run_mix(args, run)
        after_runs.append((calls, memory_parts()))
    end = after_runs[-1][1]
    from settings import load_settings

    settings = load_settings()
    lines: list[str] = []
    lines.append(f"# One serving process's memory after {calls:,} callback calls ({args.db})")
    lines.append("")
    lines.append(
        f"`python bench/worker_memory.py --repeat {args.repeat} --runs {args.runs}`; DuckDB memory limit "
        f"{settings.db_memory_limit}, query cache {settings.query_cache} entries / {settings.query_cache_mb} MB."
    )
    lines.append("")
    lines.append("| part | MB |")
    lines.append("|---|---:|")
    for tag, mb in end.duckdb_tags:
        lines.append(f"| DuckDB `{tag}` | {mb:,.1f} |")
    lines.append(f"| DuckDB, all tags | {end.duckdb_mb:,.1f} |")
    lines.append(f"| query cache ({end.cache_entries:,} entries) | {end.cache_mb:,.1f} |")
    lines.append(f"| RSS at the end | {end.rss_mb:,.1f} |")
    lines.append(f"| the rest (RSS minus DuckDB and the query cache) | {end.rest_mb:,.1f} |")
    if args.runs > 1:
        lines.append("")
        lines.append("After each run of the mix (MB):")
        lines.append("")
        lines.append("| after run | calls so far | RSS | DuckDB | query cache | the rest |")
        lines.append("|---:|---:|---:|---:|---:|---:|")
        for run, (calls_so_far, parts) in enumerate(after_runs, start=1):
            lines.append(
                f"| {run} | {calls_so_far:,} | {parts.rss_mb:,.1f} | {parts.duckdb_mb:,.1f} | {parts.cache_mb:,.1f} "
                f"| {parts.rest_mb:,.1f} |"
            )
    trimmed = malloc_trim_mb()
    if trimmed is not None:
        lines.append("")
        lines.append(
            f"glibc `malloc_trim` at the end returned {trimmed:,.1f} MB to the system (heap freed by Python or "
            "DuckDB but kept by the allocator)."
        )
    lines.append("")
    lines.append("RSS over the first run (MiB):" if args.runs > 1 else "RSS over the run (MiB):")
    lines.append("")
    step = max(1, len(samples) // 16)
    lines.append(" ".join(f"{t:.0f}s:{r:,.0f}" for t, r in samples[::step]))
    if args.trace:
        lines += trace_second_run(args)
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        args.out.write_text(text)
    return 0


@dataclass(frozen=True)
class MemoryParts:
    """A serving process's memory at one moment, in MB (10^6 bytes, as DuckDB and the query cache count)."""

    duckdb_tags: list[tuple[str, float]]
    cache_mb: float
    cache_entries: int
    rss_mb: float

    @property
    def duckdb_mb(self) -> float:
        return sum(mb for _, mb in self.duckdb_tags)

    @property
    def rest_mb(self) -> float:
        """RSS minus DuckDB and the query cache: the app's Python objects and everything else."""
        return self.rss_mb - self.duckdb_mb - self.cache_mb


def memory_parts() -> MemoryParts:
    """DuckDB's memory by tag, the query cache's account and the RSS, after a full garbage collection."""
    from queries import cache
    from queries.db import default_database

    gc.collect()
    duckdb_tags = (
        default_database()
        .cursor()
        .execute(
            "SELECT tag, memory_usage_bytes / 1e6 FROM duckdb_memory() WHERE memory_usage_bytes > 0 ORDER BY 2 DESC"
        )
        .fetchall()
    )
    held = cache.current()
    return MemoryParts(duckdb_tags, held.bytes_held / 1e6, len(held), rss_mib() * 1.048576)  # MiB -> MB


def malloc_trim_mb() -> float | None:
    """RSS released by glibc's ``malloc_trim(0)`` in MB, or None where the C library has none (not glibc)."""
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    before = rss_mib()
    trim(0)
    return (before - rss_mib()) * 1.048576


def run_mix(args: argparse.Namespace, run: int) -> int:
    """Run the callback mix once in this process, seed ``FIRST_SEED + run``, and return how many calls it made.

    Run 0 starts the worker as gunicorn's ``post_fork`` does; later runs reuse the started worker, as a
    serving worker does, so their memory is the serving's alone.
    """
    if run:
        import app as app_module

        app_module.start_worker = lambda *_, **__: {}  # this process is a started worker already
    mix = callbacks.parse_args(
        ["--db", args.db, "--repeat", str(args.repeat), "--query-cache", "default", "--seed", str(FIRST_SEED + run)]
    )
    recorder, _ = callbacks.run(mix)
    return sum(len(s) for s in recorder.samples.values())


def trace_second_run(args: argparse.Namespace, sites: int = 8) -> list[str]:
    """What a second run of the mix leaves alive, from the cache and from elsewhere (see the module doc)."""
    gc.collect()
    tracemalloc.start(16)
    run_mix(args, args.runs)
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    tracemalloc.stop()
    cache_file = str(Path(__file__).resolve().parents[1] / "queries" / "cache.py")
    cached, other = 0, {}
    for stat in snapshot.statistics("traceback"):
        frames = [frame for frame in stat.traceback if "/site-packages/" not in frame.filename]
        if any(frame.filename == cache_file for frame in frames):
            cached += stat.size
            continue
        site = f"{frames[0].filename}:{frames[0].lineno}" if frames else "(library code only)"
        other[site] = other.get(site, 0) + stat.size
    lines: list[str] = []
    lines.append("")
    lines.append(
        f"## Alive after one more run of the mix (`--trace`, seed {FIRST_SEED + args.runs}, `--repeat {args.repeat}`)"
    )
    lines.append("")
    lines.append("| allocated in the second run, alive at its end | MB |")
    lines.append("|---|---:|")
    lines.append(f"| results stored by the query cache | {cached / 1e6:,.1f} |")
    lines.append(f"| everything else | {sum(other.values()) / 1e6:,.1f} |")
    for site, size in sorted(other.items(), key=lambda item: -item[1])[:sites]:
        lines.append(
            f"| &nbsp;&nbsp;`{site.replace(str(Path(cache_file).parents[1]) + '/', '')}` | {size / 1e6:,.2f} |"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
