"""How long a page takes to settle in a real browser, and where that time goes.

Opens a page in Debian's Chromium (signed in as a demo user) and times it from navigation to the
moment no ``/_dash-update-component`` request is pending (after a quiet second). For every callback
request it records when the browser queued it, how long it waited before it was sent (Chromium's own
queue: at most six connections to one host), how long the server took to answer (request sent to
first byte) and the download. Then it replays each of those requests alone, one after another, with
the same session: the server time of a callback with nothing else running. The gap between the two
is queueing in the server (worker threads, the GIL), not work.

    python bench/first_load.py --db /tmp/s01/pathfinder.duckdb [--server gunicorn|dev|http://host:port]
        [--page /hypertension] [--runs 5] [--out bench/results/first-load.md]

``--server gunicorn`` (default) serves the app as ``make serve`` does (``gunicorn.conf.py``:
PATHFINDER_WORKERS workers, default 2, of 4 threads); ``dev`` as ``python app.py`` (Flask's threaded
development server); a URL uses a server already running (``--user``/``--password`` sign in there).
Needs Playwright (requirements-dev.txt) and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
UPDATE_URL = "/_dash-update-component"
# True once no dcc.Graph on screen is left for Plotly to draw (bench/main_thread.py waits the same way).
UNDRAWN_CHARTS_ON_SCREEN = """() => ![...document.querySelectorAll('.dash-graph')]
    .some(g => g.getClientRects().length > 0 && !g.querySelector('.js-plotly-plot'))"""
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
QUIET_S = 1.0  # no callback pending for this long: the page has settled
TIMEOUT_S = 60.0
# Long tasks (over 50 ms on the main thread: drawing charts and maps) from the navigation's start.
LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver(function(list) {
    for (const entry of list.getEntries()) { window.__longTasks.push(entry.startTime + entry.duration); }
}).observe({type: 'longtask', buffered: true});
"""


@dataclass
class Call:
    """One callback request as the browser made it (times in ms from the navigation's start)."""

    output: str
    body: str
    queued_ms: float = 0.0  # when the page asked for it
    stalled_ms: float = 0.0  # queued in the browser before it was sent
    server_ms: float = 0.0  # sent to first byte: the server's time, its own queueing included
    download_ms: float = 0.0
    end_ms: float = 0.0


@dataclass
class Run:
    settle_ms: float
    calls: list[Call] = field(default_factory=list)
    busy_until_ms: float = 0.0  # the end of the page's last long task (>50 ms of script, layout or paint)

    @property
    def peak_in_flight(self) -> int:
        """The most callback requests open at once."""
        edges = sorted([(c.queued_ms, 1) for c in self.calls] + [(c.end_ms, -1) for c in self.calls])
        peak = now = 0
        for _, step in edges:
            now += step
            peak = max(peak, now)
        return peak


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(kind: str, db: Path, audit_dir: Path) -> tuple[subprocess.Popen, str]:
    """The app on a free port (gunicorn as ``make serve``, or the development server); returns it and its URL."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATHFINDER_")}
    env |= {
        "PATHFINDER_DB": str(db),
        "PATHFINDER_DEMO": "true",
        "PATHFINDER_AUDIT_DIR": str(audit_dir),
        "PATHFINDER_PORT": str(port),
        "PATHFINDER_HOST": "127.0.0.1",
    }
    if kind == "gunicorn":
        command = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"]
    else:
        command = [sys.executable, "app.py"]
    log = (audit_dir / "server.log").open("w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    origin = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"The app exited: see {audit_dir / 'server.log'}")
        try:
            urllib.request.urlopen(origin + "/_dash-dependencies", timeout=2)
            break
        except urllib.error.HTTPError:
            break  # 401 behind the sign-in gate: the app is up
        except OSError:
            time.sleep(0.3)
    return process, origin


@contextlib.contextmanager
def served(server: str, db: Path | None, *, prefix: str) -> Iterator[str]:
    """The origin to open: ``server`` itself when it is a URL, else the app :func:`start_server` starts on
    ``db`` (its audit log and server log in a new temporary folder named ``prefix...``), stopped on leaving."""
    if server.startswith("http"):
        yield server.rstrip("/")
        return
    process, origin = start_server(server, db.resolve(), Path(tempfile.mkdtemp(prefix=prefix)))
    try:
        yield origin
    finally:
        process.terminate()
        process.wait(timeout=20)


def _output_name(body: str) -> str:
    try:
        return json.loads(body).get("output", "?")
    except (ValueError, AttributeError):
        return "?"


def open_once(context, origin: str, page_path: str) -> Run:
    """Open ``page_path`` in a fresh tab and time its callbacks until none has been pending for a second."""
    page = context.new_page()
    page.add_init_script(LONG_TASKS)
    calls: dict[object, Call] = {}
    pending: set[object] = set()
    last_change = [time.perf_counter()]
    start = time.perf_counter()

    def ms() -> float:
        return (time.perf_counter() - start) * 1000

    def on_request(request):
        if UPDATE_URL in request.url:
            body = request.post_data or ""
            calls[request] = Call(output=_output_name(body), body=body, queued_ms=ms())
            pending.add(request)
            last_change[0] = time.perf_counter()

    def on_done(request):
        if request in pending:
            pending.discard(request)
            call = calls[request]
            call.end_ms = ms()
            timing = request.timing  # ms from the request's start; -1 when not applicable
            sent = max(timing["requestStart"], 0.0)
            first_byte = timing["responseStart"] if timing["responseStart"] > 0 else sent
            call.stalled_ms = sent
            call.server_ms = first_byte - sent
            call.download_ms = max(timing["responseEnd"] - first_byte, 0.0)
            last_change[0] = time.perf_counter()

    page.on("request", on_request)
    page.on("requestfinished", on_done)
    page.on("requestfailed", on_done)
    page.goto(origin + page_path, wait_until="load")
    deadline = time.perf_counter() + TIMEOUT_S
    while time.perf_counter() < deadline:
        page.wait_for_timeout(50)
        if calls and not pending and time.perf_counter() - last_change[0] >= QUIET_S:
            break
    # Plotly draws after the last answer (plotly.js may still be loading then): the main thread's last long
    # task is read once every chart on screen is drawn, or it could end before any chart was.
    page.wait_for_function(UNDRAWN_CHARTS_ON_SCREEN, timeout=TIMEOUT_S * 1000)
    page.wait_for_timeout(QUIET_S * 1000)
    busy = page.evaluate("Math.max(0, ...window.__longTasks)")
    page.close()
    settled = max((c.end_ms for c in calls.values()), default=0.0)
    return Run(settle_ms=settled, calls=list(calls.values()), busy_until_ms=busy)


def replay_alone(context, origin: str, calls: list[Call], repeat: int = 3) -> dict[str, float]:
    """Each callback request sent again on its own, one after another: the median server time by output."""
    times: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeat):
        for call in calls:
            began = time.perf_counter()
            response = context.request.post(
                origin + UPDATE_URL, data=call.body, headers={"Content-Type": "application/json"}
            )
            response.body()
            times[call.output].append((time.perf_counter() - began) * 1000)
    return {output: statistics.median(values) for output, values in times.items()}


def sign_in(browser, origin: str, user: str, password: str):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(origin + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)
    page.close()
    return context


def _short(output: str, width: int = 70) -> str:
    return output if len(output) <= width else output[: width - 1] + "…"


def report(page_path: str, server: str, runs: list[Run], alone: dict[str, float]) -> str:
    """A Markdown summary: settle times, then each callback's median times (the first run is cold and left out)."""
    warm = runs[1:] or runs
    settle = [r.settle_ms for r in warm]
    lines = [
        f"## First load of {page_path} ({server})",
        "",
        f"- runs: {len(runs)} (the first, cold, left out of the medians: {runs[0].settle_ms:.0f} ms)",
        f"- settled (navigation to the last callback response): median {statistics.median(settle):.0f} ms, "
        f"min {min(settle):.0f}, max {max(settle):.0f}",
        f"- main thread last busy (end of the last long task, from navigation): median "
        f"{statistics.median(r.busy_until_ms for r in warm):.0f} ms",
        f"- callback requests: {statistics.median(len(r.calls) for r in warm):.0f}; at most "
        f"{max(r.peak_in_flight for r in warm)} in flight at once",
        f"- sum of server times alone (each replayed on its own): {sum(alone.values()):.0f} ms",
        f"- machine load average (1 min) after the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        "",
        "| callback output | queued at ms | waited in browser ms | server ms (in the crowd) | server ms alone |",
        "|---|---:|---:|---:|---:|",
    ]
    by_output: dict[str, list[Call]] = defaultdict(list)
    for run in warm:
        for call in run.calls:
            by_output[call.output].append(call)
    for output, calls in sorted(by_output.items(), key=lambda item: statistics.median(c.queued_ms for c in item[1])):
        lines.append(
            f"| `{_short(output)}` | {statistics.median(c.queued_ms for c in calls):.0f} "
            f"| {statistics.median(c.stalled_ms for c in calls):.0f} "
            f"| {statistics.median(c.server_ms for c in calls):.0f} | {alone.get(output, float('nan')):.0f} |"
        )
    return "\n".join(lines) + "\n"


def print_and_append(text: str, out: Path | None) -> None:
    """Print a report and, with ``--out``, append it to that file (runs of a session collect in one file)."""
    print(text)
    if out:
        with out.open("a") as file:
            file.write(text + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, help="database to serve (not needed with a URL for --server)")
    parser.add_argument("--server", default="gunicorn", help="gunicorn, dev, or the URL of a running server")
    parser.add_argument("--page", default="/hypertension")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--user", default="demo.commissioner")
    parser.add_argument("--password", default="demo-commissioner")
    parser.add_argument("--out", type=Path, help="append the Markdown report to this file")
    args = parser.parse_args(argv)

    if not args.server.startswith("http") and not args.db:
        parser.error("--db is needed to start a server")
    with served(args.server, args.db, prefix="first-load-") as origin, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = sign_in(browser, origin, args.user, args.password)
        runs = [open_once(context, origin, args.page) for _ in range(args.runs)]
        alone = replay_alone(context, origin, runs[-1].calls)
        browser.close()
    print_and_append(report(args.page, args.server, runs, alone), args.out)


if __name__ == "__main__":
    main()
