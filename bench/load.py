"""Load test: simulated signed-in users through real HTTP against the production server, for a fixed time.

Starts the same gunicorn ``make serve`` runs (``gunicorn.conf.py``: preloaded app, gthread workers, each
opening the database read-only and warming its caches) on 127.0.0.1 and a free port, against ``--db``
(demo mode: synthetic data only, the audit log in a throw-away folder). When every worker has finished
its warm-up, locust runs ``bench/locustfile.py`` headless: ``--users`` commissioners, GP teams and campaign
responders (4:3:3) doing their flows for ``--duration`` seconds, reading 2-5 s after each page and
action. Meanwhile the resident memory (RSS) of the master and of every worker is sampled each second.

The Markdown report (``--out``, and printed) gives: requests, failures, requests/s, p50/p95/p99/max per
request type and per kind (page loads, page renders, callbacks, CSV exports, sign-in), RSS per worker at
the start of the load, its peak and its end, each worker's peak RSS in ten equal stretches of the run (whether
memory levels off or keeps growing over a long run), and each worker's query cache hits and misses.

    python bench/load.py --db /tmp/s1/pathfinder.duckdb --users 50 --duration 60 --out load.md
        [--workers 2] [--query-cache 256|0] [--spawn-rate 10]

Exit status 1 when any request failed, no request was made, or a worker's RSS passed ``--rss-limit-gb``
(2 by default), so ``make bench`` notices. Needs locust (``requirements-bench.txt``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = ROOT / "bench" / "locustfile.py"
HOST = "127.0.0.1"  # never anything but the loopback interface
GIB = 1024**3
READY = re.compile(r"\[(\d+)\] INFO pathfinder\.app: worker ready")
ACCESS_LINE = re.compile(r'<\d+> "(GET|POST) (\S+) HTTP/[\d.]+" (\d{3}) \S+ (\d+)ms')
CACHE_LINE = re.compile(
    r"\[(\d+)\] \[INFO\] query cache: (\d+) hits, (\d+) misses, (\d+) uncacheable, (\d+) entries of (\d+), "
    r"([\d.]+) MB of (\d+), (\d+) too large"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="/tmp/s1/pathfinder.duckdb", help="database to serve (read-only)")
    parser.add_argument("--users", type=int, default=50, help="simulated users")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load after the users are started")
    parser.add_argument("--spawn-rate", type=float, default=10, help="users started per second")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--query-cache", type=int, default=None, help="query cache entries per worker (0: off)")
    parser.add_argument("--query-cache-mb", type=int, default=None, help="query cache memory per worker, MB")
    parser.add_argument("--ready-timeout", type=int, default=1800, help="seconds to wait for the workers' warm-up")
    parser.add_argument("--rss-limit-gb", type=float, default=2.0, help="fail when a worker's RSS passes this")
    parser.add_argument("--out", type=Path, help="write the Markdown report here too")
    parser.add_argument("--keep", type=Path, help="keep the server log and locust CSVs in this folder")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def database_meta(db: Path) -> dict[str, str]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return dict(con.execute("SELECT key, value FROM meta").fetchall())
    finally:
        con.close()


def start_server(args: argparse.Namespace, port: int, work: Path) -> tuple[subprocess.Popen, Path]:
    """gunicorn with the project's config on 127.0.0.1:port; its output goes to work/server.log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATHFINDER_")}
    env.update(
        PATHFINDER_DB=str(Path(args.db).resolve()),
        PATHFINDER_DEMO="true",
        PATHFINDER_AUDIT_DIR=str(work / "audit"),
        PATHFINDER_HOST=HOST,
        PATHFINDER_PORT=str(port),
        PATHFINDER_WORKERS=str(args.workers),
    )
    if args.query_cache is not None:
        env["PATHFINDER_QUERY_CACHE"] = str(args.query_cache)
    if args.query_cache_mb is not None:
        env["PATHFINDER_QUERY_CACHE_MB"] = str(args.query_cache_mb)
    log_path = work / "server.log"
    command = [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"), "--chdir", str(ROOT)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return process, log_path


def wait_ready(process: subprocess.Popen, port: int, log_path: Path, workers: int, timeout: int) -> float:
    """Seconds until /healthz answers and every worker has logged the end of its warm-up."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise SystemExit(
                f"gunicorn exited with {process.returncode}; see {log_path}:\n{log_path.read_text()[-3000:]}"
            )
        ready = len(set(READY.findall(log_path.read_text(errors="replace"))))
        if ready >= workers:
            try:
                with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=5) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except OSError:
                pass
        time.sleep(1)
    raise SystemExit(f"the server was not ready within {timeout} s; see {log_path}")


class RssSampler(threading.Thread):
    """RSS of the gunicorn master and each worker, once a second, while the load runs."""

    def __init__(self, master_pid: int):
        super().__init__(daemon=True)
        self.master_pid = master_pid
        self.samples: dict[int, list[tuple[float, int]]] = {}
        self.stop = threading.Event()

    def sample(self) -> None:
        now = time.monotonic()
        master = psutil.Process(self.master_pid)
        for process in [master, *master.children()]:
            try:
                self.samples.setdefault(process.pid, []).append((now, process.memory_info().rss))
            except psutil.NoSuchProcess:
                continue

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.sample()
            except psutil.NoSuchProcess:
                return
            self.stop.wait(1.0)


def rss_timeline(
    samples: dict[int, list[tuple[float, int]]], pids: list[int], stretches: int = 10
) -> list[tuple[float, list[int | None]]]:
    """Each process's peak RSS in ``stretches`` equal stretches of the sampled time.

    One row per stretch: the seconds from the first sample to the stretch's end, and the peak bytes of each of
    ``pids`` in it (None when a process has no sample there, e.g. a worker started late). Peaks, not means: the
    question is whether the highest point keeps rising.
    """
    times = [t for pid in pids for t, _ in samples.get(pid, [])]
    if not times:
        return []
    start, end = min(times), max(times)
    width = (end - start) / stretches or 1.0
    rows: list[tuple[float, list[int | None]]] = []
    for index in range(stretches):
        low, high = start + index * width, start + (index + 1) * width
        last = index == stretches - 1
        peaks = []
        for pid in pids:
            inside = [rss for t, rss in samples.get(pid, []) if low <= t < high or (last and t == high)]
            peaks.append(max(inside) if inside else None)
        rows.append((high - start, peaks))
    return rows


def run_locust(args: argparse.Namespace, port: int, work: Path) -> tuple[int, Path]:
    prefix = work / "locust"
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.spawn_rate),
        "--run-time",
        f"{args.duration}s",
        "--stop-timeout",
        "120",  # users finish the request in flight (they start no new one); the slowest took ~30 s under load
        "--host",
        f"http://{HOST}:{port}",
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    with (work / "locust.log").open("wb") as log:
        result = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=False)
    return result.returncode, prefix


def stop_server(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)  # graceful: workers log their cache counts on the way out
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def read_stats(prefix: Path) -> list[dict[str, str]]:
    with Path(f"{prefix}_stats.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def server_times(log_text: str) -> dict[str, list[int]]:
    """Milliseconds gunicorn spent on each request (its access log), for Dash callbacks and for everything.

    The difference from locust's figures is time outside the worker: the listen queue and the load generator
    itself, which shares the machine.
    """
    times: dict[str, list[int]] = {"all requests": [], "Dash callbacks": []}
    for _method, path, _status, ms in ACCESS_LINE.findall(log_text):
        times["all requests"].append(int(ms))
        if path.startswith("/_dash-update-component"):
            times["Dash callbacks"].append(int(ms))
    return times


def _quantile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]) if ordered else float("nan")


def kind_of(name: str) -> str:
    """The report's grouping of locust request names."""
    if name.startswith("render "):
        return "page render (Dash page callback)"
    if "download" in name or "-csv" in name:
        return "CSV export (callback)"
    if name.startswith("cb "):
        return "other callbacks"
    if "login" in name:
        return "sign-in"
    return "page load (HTML, layout, dependencies)"


def _ms(value: str) -> str:
    return "–" if value in ("", "N/A") else f"{float(value):,.0f}"


def report(
    args: argparse.Namespace,
    meta: dict[str, str],
    stats: list[dict[str, str]],
    sampler: RssSampler,
    master_pid: int,
    cache_counts: list[tuple[int, ...]],
    server: dict[str, list[int]],
    timings: dict[str, float],
    exit_code: int,
) -> tuple[str, list[str]]:
    """The Markdown report and the list of problems (empty when the run met its targets)."""
    rows = [r for r in stats if r["Name"] != "Aggregated"]
    total = next((r for r in stats if r["Name"] == "Aggregated"), None)
    problems: list[str] = []
    requests = int(total["Request Count"]) if total else 0
    failures = int(total["Failure Count"]) if total else 0
    if requests == 0:
        problems.append("no request was made")
    if failures:
        problems.append(f"{failures} failed requests")
    lines = [
        f"# Load test ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, `bench/load.py`)",
        "",
        f"- database: `{args.db}` (scale {meta.get('scale', '?')}, seed {meta.get('seed', '?')}, "
        f"built {meta.get('built_at', '?')})",
        f"- server: gunicorn (`gunicorn.conf.py`), {args.workers} gthread workers x 4 threads, preloaded app, "
        f"query cache {args.query_cache if args.query_cache is not None else 'default'} entries and "
        f"{args.query_cache_mb if args.query_cache_mb is not None else 'default'} MB per worker; "
        f"ready (warm-up done) after {timings['ready']:.0f} s",
        f"- load: {args.users} users (commissioners : GP teams : campaign responders = 4 : 3 : 3), spawn "
        f"{args.spawn_rate:g}/s, {args.duration} s, 2-5 s reading time after each page and each action; locust on the "
        "same 2-core machine "
        "(it competes with the server for CPU)",
        f"- load average before / after: {timings['load_before']:.1f} / {timings['load_after']:.1f} "
        f"(other jobs on the machine make timings noisy)",
        "",
        f"**{requests:,} requests, {failures:,} failures, "
        f"{float(total['Requests/s']) if total else 0:.1f} requests/s; "
        f"p50 {_ms(total['50%']) if total else '–'} ms, p95 {_ms(total['95%']) if total else '–'} ms, "
        f"p99 {_ms(total['99%']) if total else '–'} ms over all requests.**",
        "",
        "## By kind",
        "",
        "| kind | requests | failures | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    by_kind: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_kind.setdefault(kind_of(row["Name"]), []).append(row)
    for kind, members in sorted(by_kind.items()):
        count = sum(int(r["Request Count"]) for r in members)
        failed = sum(int(r["Failure Count"]) for r in members)
        # Percentiles of a kind: the request-weighted worst member is a safe upper bound without raw samples.
        p = {
            q: max((float(r[q]) for r in members if r[q] not in ("", "N/A")), default=0.0)
            for q in ("50%", "95%", "99%")
        }
        worst = max(float(r["Max Response Time"]) for r in members)
        lines.append(
            f"| {kind} | {count:,} | {failed} | ≤ {p['50%']:,.0f} | ≤ {p['95%']:,.0f} | ≤ {p['99%']:,.0f} "
            f"| {worst:,.0f} |"
        )
    lines += [
        "",
        "(A kind's percentiles are the worst of its request types', an upper bound.)",
        "",
        "Time inside gunicorn (its access log; the rest is the listen queue and the load generator):",
        "",
        "| requests | count | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|",
        *[
            f"| {name} | {len(ms):,} | {_quantile(ms, 0.5):,.0f} | {_quantile(ms, 0.95):,.0f} | "
            f"{_quantile(ms, 0.99):,.0f} |"
            for name, ms in server.items()
        ],
        "",
        "## By request type",
        "",
        "| request | count | failures | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in sorted(rows, key=lambda r: -float(r["95%"] if r["95%"] not in ("", "N/A") else 0)):
        lines.append(
            f"| `{row['Type']} {row['Name']}` | {int(row['Request Count']):,} | {row['Failure Count']} | "
            f"{_ms(row['50%'])} | {_ms(row['95%'])} | {_ms(row['99%'])} | {_ms(row['Max Response Time'])} |"
        )
    lines += [
        "",
        "## Memory (RSS, sampled every second during the load)",
        "",
        "| process | start MiB | peak MiB | end MiB | second half growth MiB |",
        "|---|---|---|---|---|",
    ]
    for pid, series in sorted(sampler.samples.items(), key=lambda item: item[0] != master_pid):
        values = [rss for _, rss in series]
        half = values[len(values) // 2]
        role = "master" if pid == master_pid else f"worker {pid}"
        lines.append(
            f"| {role} | {values[0] / 2**20:,.0f} | {max(values) / 2**20:,.0f} | {values[-1] / 2**20:,.0f} | "
            f"{(values[-1] - half) / 2**20:+,.0f} |"
        )
        if pid != master_pid and max(values) > args.rss_limit_gb * GIB:
            problems.append(f"worker {pid} peaked at {max(values) / GIB:.2f} GiB (limit {args.rss_limit_gb} GiB)")
    workers = sorted(pid for pid in sampler.samples if pid != master_pid)
    timeline = rss_timeline(sampler.samples, workers)
    if timeline:
        lines += [
            "",
            "Peak RSS of each worker in ten equal stretches of the run (MiB; memory levels off when the last "
            "stretches stop rising):",
            "",
            "| until s | " + " | ".join(f"worker {pid}" for pid in workers) + " |",
            "|---|" + "---|" * len(workers),
        ]
        for until, peaks in timeline:
            cells = " | ".join("–" if peak is None else f"{peak / 2**20:,.0f}" for peak in peaks)
            lines.append(f"| {until:,.0f} | {cells} |")
    lines += ["", "## Query cache per worker (counted up to shutdown, warm-up included)", ""]
    if cache_counts:
        lines += [
            "| worker | hits | misses | uncacheable | entries held | MB held | too large | hit rate |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for pid, hits, misses, uncacheable, entries, size, held_mb, max_mb, too_large in cache_counts:
            rate = hits / (hits + misses) if hits + misses else 0.0
            lines.append(
                f"| {pid} | {hits:,} | {misses:,} | {uncacheable} | {entries} of {size} | {held_mb:.1f} of {max_mb} | "
                f"{too_large} | {rate:.0%} |"
            )
    else:
        lines.append("No counts logged (the workers did not exit gracefully).")
    if exit_code not in (0, 1):
        problems.append(f"locust exited with {exit_code}")
    lines += ["", "## Result", ""]
    lines += [f"- FAILED: {p}" for p in problems] or ["- passed: no failures, every worker under the RSS limit"]
    return "\n".join(lines) + "\n", problems


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    db = Path(args.db)
    if not db.exists():
        raise SystemExit(f"No database at {db}; build one with python -m data.build synthetic --out {db}")
    meta = database_meta(db)
    work = Path(tempfile.mkdtemp(prefix="pathfinder-load-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    timings = {"load_before": os.getloadavg()[0]}
    print(f"serving {db} on {HOST}:{port} with {args.workers} workers (log {work / 'server.log'})", flush=True)
    process, log_path = start_server(args, port, work)
    try:
        timings["ready"] = wait_ready(process, port, log_path, args.workers, args.ready_timeout)
        print(f"ready after {timings['ready']:.0f} s; {args.users} users for {args.duration} s", flush=True)
        sampler = RssSampler(process.pid)
        sampler.sample()
        sampler.start()
        code, prefix = run_locust(args, port, work)
        sampler.stop.set()
        sampler.join()
        sampler.sample()
        timings["load_after"] = os.getloadavg()[0]
    finally:
        stop_server(process)
    log_text = log_path.read_text(errors="replace")
    cache_counts = [tuple(float(g) if "." in g else int(g) for g in m) for m in CACHE_LINE.findall(log_text)]
    server = server_times(log_text)
    text, problems = report(args, meta, read_stats(prefix), sampler, process.pid, cache_counts, server, timings, code)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(f"server log, locust log and CSVs in {work}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
