"""How long each page keeps the browser's main thread busy after it opens, and on what.

Opens each page in Debian's Chromium (signed in as a demo user) and reports, per page, from the
navigation's start (the page's own clock, ``performance.now()``):

- **settled**: the last ``/_dash-update-component`` response's end (the page's callbacks are done);
- **long tasks**: the main thread's tasks over 50 ms (``PerformanceObserver('longtask')``, buffered):
  their total time, their count, and when the last one ends (the page is ready to answer a click);
- **payload**: the bytes of every ``figure`` the server sent (in the page's layout and in callback
  answers, Patches included; JSON as sent, before gzip), the callback answers' bytes in all, and
  the geometry files fetched by URL;
- **Plotly draws**: how often Plotly drew each chart (``Plotly.react``, ``newPlot``, and ``relayout``,
  which redraws a map whole), how many draws were of hidden charts (``display: none``: the view is not
  shown) and their synchronous time;
- **Dash's store**: the components in the page's layout, and the actions dispatched to the renderer's
  Redux store with their time (each dispatch re-runs the selector of every mounted component, so
  this grows with components x updates).

A run ends when every chart on screen has been drawn, and no request (callback, script or geometry) has
been pending and no long task has ended for ``--quiet`` seconds. The
first run of each page warms the server's caches and the browser's and is left out of the medians.

``--profile DIR`` adds one run per page under Chromium's performance tracing (CDP ``Tracing``, the
DevTools timeline categories) and JavaScript sampling profiler (CDP ``Profiler``), and prints where the
main thread's time went: trace events by self time (script, style, layout, paint, GC, parsing) and
JavaScript self time by script file. The trace of each page is kept in DIR for chrome://tracing or
Perfetto. (Profiled runs are slower; their times are not in the table.)

    python bench/main_thread.py --db /tmp/s01/pathfinder.duckdb [--server gunicorn|dev|http://host:port]
        [--pages /,/hypertension] [--runs 5] [--profile DIR] [--out bench/results/main-thread.md]

Serves the app as :mod:`bench.first_load` does (``--server gunicorn``: as ``make serve``). Needs
Playwright (requirements-dev.txt) and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.first_load import CHROMIUM, CHROMIUM_ARGS, UPDATE_URL, print_and_append, served, sign_in  # noqa: E402

PAGES = ("/", "/immunisation", "/hypertension", "/asthma", "/cancer")
TIMEOUT_S = 90.0
# Before the page's own scripts: record long tasks, and count Plotly's draws per chart (Plotly is
# wrapped the moment it is assigned to window, before Dash's graphs can call it).
PAGE_PROBE = """
window.__longTasks = [];
new PerformanceObserver(function (list) {
    for (const entry of list.getEntries()) { window.__longTasks.push([entry.startTime, entry.duration]); }
}).observe({type: 'longtask', buffered: true});
window.__draws = [];
window.__dispatches = [];
(function () {
    let plotly;
    function wrap(name) {
        const original = plotly[name];
        if (typeof original !== 'function' || original.__probed) { return; }
        const probed = function (gd) {
            const element = typeof gd === 'string' ? document.getElementById(gd) : gd;
            const named = element && element.closest ? element.closest('[id]') : null;
            const began = performance.now();
            const result = original.apply(this, arguments);
            window.__draws.push({
                call: name,
                id: (named && named.id) || '?',
                hidden: Boolean(element) && element.offsetParent === null,
                at: began,
                ms: performance.now() - began,
            });
            return result;
        };
        probed.__probed = true;
        plotly[name] = probed;
    }
    // Dash's store: every dispatch runs every mounted component's selector, so count them and their time.
    let store;
    Object.defineProperty(window, 'store', {
        configurable: true,
        get: function () { return store; },
        set: function (value) {
            store = value;
            const dispatch = value.dispatch;
            let depth = 0;  // a thunk dispatches actions of its own: time the outermost call only
            value.dispatch = function (action) {
                const began = performance.now();
                depth += 1;
                try {
                    return dispatch.apply(this, arguments);
                } finally {
                    depth -= 1;
                    window.__dispatches.push({
                        action: typeof action !== 'function',
                        ms: depth === 0 ? performance.now() - began : 0,
                    });
                }
            };
        },
    });
    Object.defineProperty(window, 'Plotly', {
        configurable: true,
        get: function () { return plotly; },
        set: function (value) { plotly = value; ['newPlot', 'react', 'relayout'].forEach(wrap); },
    });
})();
"""
STATE = """() => {
    const updates = performance.getEntriesByType('resource').filter(e => e.name.includes('/_dash-update-component'));
    return {
        now: performance.now(),
        longTasks: window.__longTasks,
        draws: window.__draws,
        settled: Math.max(0, ...updates.map(e => e.responseEnd)),
        // dcc.Graphs on screen that Plotly has not drawn yet (plotly.js may still be on its way).
        undrawn: [...document.querySelectorAll('.dash-graph')]
            .filter(g => g.getClientRects().length > 0 && !g.querySelector('.js-plotly-plot')).length,
        dispatches: window.__dispatches,
        components: (function () {
            if (!window.store) { return 0; }
            let count = 0;
            const stack = [window.store.getState().layout];
            while (stack.length) {
                const item = stack.pop();
                if (Array.isArray(item)) { stack.push(...item); continue; }
                if (!item || typeof item !== 'object') { continue; }
                if (item.namespace && item.type && item.props) {
                    count += 1;
                    for (const [key, value] of Object.entries(item.props)) {
                        if (key !== 'figure' && value && typeof value === 'object') { stack.push(value); }
                    }
                } else if (!('data' in item && 'layout' in item)) {
                    stack.push(...Object.values(item));
                }
            }
            return count;
        })(),
    };
}"""
TRACE_CATEGORIES = [
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "v8",
    "v8.execute",
    "blink",
    "blink.user_timing",
    "loading",
    "toplevel",
]


@dataclass
class PageRun:
    """One opening of a page (times in ms from its navigation's start)."""

    settled_ms: float
    long_task_ms: float
    long_tasks: int
    last_long_task_end_ms: float
    figure_bytes: int
    callback_bytes: int
    geometry_bytes: int
    callbacks: int
    components: int  # Dash components in the page's layout at the end
    dispatches: int  # actions dispatched to Dash's store (each one re-runs every mounted component's selector)
    dispatch_ms: float
    draws: list[dict] = field(default_factory=list)

    @property
    def drawn_hidden(self) -> int:
        return sum(1 for d in self.draws if d["hidden"])

    @property
    def draw_ms(self) -> float:
        return sum(d["ms"] for d in self.draws)


def figure_bytes(value) -> int:
    """The JSON bytes of every ``figure`` property inside a Dash answer (a layout or a callback's outputs)."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if key == "figure" and isinstance(inner, dict):
                    total += len(json.dumps(inner, separators=(",", ":")))
                else:
                    stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
    return total


def open_page(context, origin: str, path: str, *, quiet_s: float, browser=None, profile_dir: Path | None = None):
    """Open ``path`` in a fresh tab and wait until its callbacks and its main thread have been quiet."""
    page = context.new_page()
    page.add_init_script(PAGE_PROBE)
    pending: set = set()
    last_change = [time.monotonic()]
    sizes = {"figure": 0, "callback": 0, "geometry": 0, "callbacks": 0}

    def on_request(request):
        # Every request, not just callbacks: plotly.js and the geometry files come after the last callback.
        pending.add(request)
        last_change[0] = time.monotonic()

    def on_done(request):
        pending.discard(request)
        last_change[0] = time.monotonic()

    def on_response(response):
        url = response.url
        if UPDATE_URL not in url and "/geometry/" not in url:
            return
        try:
            body = response.body()
        except Exception:  # a response the page dropped (navigation): nothing to count
            return
        if "/geometry/" in url:
            sizes["geometry"] += len(body)
            return
        sizes["callback"] += len(body)
        sizes["callbacks"] += 1
        sizes["figure"] += figure_bytes(json.loads(body))

    page.on("request", on_request)
    page.on("requestfinished", on_done)
    page.on("requestfailed", on_done)
    page.on("response", on_response)
    cdp = None
    if profile_dir is not None:
        cdp = context.new_cdp_session(page)
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": 200})
        cdp.send("Profiler.start")
        browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
    page.goto(origin + path, wait_until="load")
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        page.wait_for_timeout(200)
        state = page.evaluate(STATE)
        last_task = max((start + length for start, length in state["longTasks"]), default=0.0)
        quiet_since = max(last_task, state["settled"])
        network_quiet = not pending and time.monotonic() - last_change[0] >= quiet_s
        drawn = state["undrawn"] == 0
        if state["settled"] and drawn and network_quiet and state["now"] - quiet_since >= quiet_s * 1000:
            break
        if time.monotonic() > deadline:
            print(f"  {path}: not quiet after {TIMEOUT_S:.0f} s", file=sys.stderr)
            break
    if profile_dir is not None:
        js_profile = cdp.send("Profiler.stop")["profile"]
        trace = browser.stop_tracing()
        name = path.strip("/").replace("/", "-") or "overview"
        (profile_dir / f"{name}.trace.json").write_bytes(trace)
        (profile_dir / f"{name}.cpuprofile").write_text(json.dumps(js_profile))
    page.close()
    tasks = state["longTasks"]
    return PageRun(
        settled_ms=state["settled"],
        long_task_ms=sum(length for _, length in tasks),
        long_tasks=len(tasks),
        last_long_task_end_ms=max((start + length for start, length in tasks), default=0.0),
        figure_bytes=sizes["figure"],
        callback_bytes=sizes["callback"],
        geometry_bytes=sizes["geometry"],
        callbacks=sizes["callbacks"],
        components=state["components"],
        dispatches=sum(1 for d in state["dispatches"] if d["action"]),
        dispatch_ms=sum(d["ms"] for d in state["dispatches"]),
        draws=state["draws"],
    )


# ---------------------------------------------------------------- where the time went (--profile)


def _renderer_main_events(trace: dict) -> list[dict]:
    """Complete ("X") events of the page's renderer main thread (the busiest renderer main thread)."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    mains = {
        (e["pid"], e["tid"]) for e in events if e.get("ph") == "M" and e.get("args", {}).get("name") == "CrRendererMain"
    }
    busy: Counter = Counter()
    for e in events:
        if e.get("ph") == "X" and (e["pid"], e["tid"]) in mains and e.get("name") == "RunTask":
            busy[(e["pid"], e["tid"])] += e.get("dur", 0)
    if not busy:
        return []
    main = busy.most_common(1)[0][0]
    return [e for e in events if e.get("ph") == "X" and (e["pid"], e["tid"]) == main and "dur" in e]


def trace_self_times(trace: dict) -> Counter:
    """Self time (ms) of each trace event name on the page's main thread (nested events subtracted)."""
    events = sorted(_renderer_main_events(trace), key=lambda e: (e["ts"], -e["dur"]))
    self_us: Counter = Counter()
    stack: list[list] = []  # [end, name, child time]
    for event in events:
        start, end = event["ts"], event["ts"] + event["dur"]
        while stack and stack[-1][0] <= start:
            done = stack.pop()
            self_us[done[1]] += done[3] - done[2]
        if stack:
            stack[-1][2] += min(end, stack[-1][0]) - start
        stack.append([end, event["name"], 0, event["dur"]])
    while stack:
        done = stack.pop()
        self_us[done[1]] += done[3] - done[2]
    return Counter({name: us / 1000 for name, us in self_us.items()})


def _script_name(url: str) -> str:
    if not url:
        return "(native, GC, idle or program)"
    return urlsplit(url).path.rsplit("/", 1)[-1] or url


def js_self_times(profile: dict) -> tuple[Counter, Counter]:
    """JavaScript self time (ms) by script file, and by function (name, file, line) from a CDP CPU profile."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    by_node: Counter = Counter()
    for node_id, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        by_node[node_id] += delta
    by_script: Counter = Counter()
    by_function: Counter = Counter()
    for node_id, us in by_node.items():
        frame = nodes[node_id]["callFrame"]
        if frame["functionName"] == "(idle)":
            continue
        script = _script_name(frame["url"]) if frame["url"] else frame["functionName"]
        by_script[script] += us / 1000
        by_function[(frame["functionName"] or "(anonymous)", script, frame["lineNumber"], frame["columnNumber"])] += (
            us / 1000
        )
    return by_script, by_function


DASH_SCRIPTS = (
    "dash_renderer",
    "react-dom@",
    "react@",
    "dash_core_components",
    "dash_bootstrap_components",
    "dash_html_components",
    "polyfill@",
    "prop-types@",
    "async-graph",
    "bundle.v",
)
APP_SCRIPTS = (
    "00_plotly_hooks.js",
    "chart_titles.js",
    "map_fit.js",
    "narrow_charts.js",
    "sankey_labels.js",
    "hidden_charts.js",
    "session_expiry.js",
)


def work_by_kind(trace: dict, events: Counter, by_script: Counter) -> dict[str, float]:
    """The main thread's time in a few kinds, from the trace's events and the JavaScript profile's scripts."""
    main = _renderer_main_events(trace)
    plotly_parse = sum(
        e["dur"] / 1000
        for e in main
        if e["name"] == "EvaluateScript" and "plotly.min.js" in (e.get("args", {}).get("data", {}).get("url") or "")
    )

    def scripts(names) -> float:
        return sum(ms for script, ms in by_script.items() if script.startswith(names))

    def traced(*words) -> float:
        return sum(ms for name, ms in events.items() if any(word in name for word in words))

    return {
        "plotly.js: parsing and running the 4.6 MB script": plotly_parse,
        "Plotly and MapLibre drawing (JavaScript)": max(by_script.get("plotly.min.js", 0.0) - plotly_parse, 0.0),
        "Dash's renderer, React and the component libraries": scripts(DASH_SCRIPTS),
        "the app's chart scripts (assets/*.js)": scripts(APP_SCRIPTS),
        "compositor commits (each map frame: the WebGL canvas, in software here)": traced("Commit"),
        "style, layout and paint": traced("recalcStyle", "Layout", "Paint", "UpdateStyle"),
        "garbage collection": by_script.get("(garbage collector)", 0.0),
    }


def profile_report(path: str, profile_dir: Path, top: int = 12) -> str:
    """Markdown tables of where one profiled run of ``path`` spent its main thread."""
    name = path.strip("/").replace("/", "-") or "overview"
    trace = json.loads((profile_dir / f"{name}.trace.json").read_text())
    events = trace_self_times(trace)
    by_script, by_function = js_self_times(json.loads((profile_dir / f"{name}.cpuprofile").read_text()))
    lines = [f"#### Where {path}'s main thread went (one profiled run)", ""]
    lines += ["| kind of work (approximate: summed from the tables below) | ms |", "|---|---:|"]
    lines += [f"| {kind} | {ms:.0f} |" for kind, ms in work_by_kind(trace, events, by_script).items()]
    lines += ["", "| trace event (self time) | ms |", "|---|---:|"]
    lines += [f"| {event} | {ms:.0f} |" for event, ms in events.most_common(top)]
    lines += ["", "| script (JavaScript self time) | ms |", "|---|---:|"]
    lines += [f"| {script} | {ms:.0f} |" for script, ms in by_script.most_common(top)]
    lines += ["", "| function (script:line:column) | ms |", "|---|---:|"]
    lines += [
        f"| `{function}` {script}:{line + 1}:{column + 1} | {ms:.0f} |"
        for (function, script, line, column), ms in by_function.most_common(top)
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- report


def _median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def report(runs: dict[str, list[PageRun]], *, server: str, note: str) -> str:
    """A Markdown table of medians per page (the first, cold, run of each left out) and each page's draws."""
    lines = [
        f"### Main thread after opening each page ({server}{note})",
        "",
        f"Medians of {min(len(r) for r in runs.values()) - 1} warm runs a page; machine load average (1 min) "
        f"after the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.",
        "",
        "| page | settled ms | long tasks ms (count) | last long task ends ms | Plotly draws (of hidden charts) "
        "| draw calls ms | Dash components | store dispatches (ms) | figure kB | callback answers kB | geometry kB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for path, page_runs in runs.items():
        warm = page_runs[1:] or page_runs
        lines.append(
            f"| {path} | {_median(r.settled_ms for r in warm):.0f} "
            f"| {_median(r.long_task_ms for r in warm):.0f} ({_median(r.long_tasks for r in warm):.0f}) "
            f"| {_median(r.last_long_task_end_ms for r in warm):.0f} "
            f"| {_median(len(r.draws) for r in warm):.0f} ({_median(r.drawn_hidden for r in warm):.0f}) "
            f"| {_median(r.draw_ms for r in warm):.0f} "
            f"| {_median(r.components for r in warm):.0f} "
            f"| {_median(r.dispatches for r in warm):.0f} ({_median(r.dispatch_ms for r in warm):.0f}) "
            f"| {_median(r.figure_bytes for r in warm) / 1000:.0f} "
            f"| {_median(r.callback_bytes for r in warm) / 1000:.0f} "
            f"| {_median(r.geometry_bytes for r in warm) / 1000:.0f} |"
        )
    lines += ["", "Plotly draws in the last run of each page (chart id: draws, hidden when drawn, sync ms):", ""]
    for path, page_runs in runs.items():
        counts: dict[str, list] = defaultdict(lambda: [0, 0, 0.0])
        for draw in page_runs[-1].draws:
            entry = counts[draw["id"] if draw["call"] != "relayout" else draw["id"] + " relayout"]
            entry[0] += 1
            entry[1] += draw["hidden"]
            entry[2] += draw["ms"]
        described = ", ".join(
            f"`{chart}` {n}{' (hidden ' + str(h) + ')' if h else ''} {ms:.0f}" for chart, (n, h, ms) in counts.items()
        )
        lines.append(f"- {path}: {described or 'none'}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, help="database to serve (not needed with a URL for --server)")
    parser.add_argument("--server", default="gunicorn", help="gunicorn, dev, or the URL of a running server")
    parser.add_argument("--pages", default=",".join(PAGES), help="comma-separated paths (query strings allowed)")
    parser.add_argument("--runs", type=int, default=5, help="runs a page, the first (cold) left out")
    parser.add_argument("--quiet", type=float, default=1.5, help="seconds with no callback and no long task")
    parser.add_argument("--user", default="demo.commissioner")
    parser.add_argument("--password", default="demo-commissioner")
    parser.add_argument("--profile", type=Path, help="also trace and profile one run a page, files kept here")
    parser.add_argument("--note", default="", help="added to the report's heading (e.g. the commit)")
    parser.add_argument("--out", type=Path, help="append the Markdown report to this file")
    args = parser.parse_args(argv)

    if not args.server.startswith("http") and not args.db:
        parser.error("--db is needed to start a server")
    pages = [p for p in args.pages.split(",") if p]
    runs: dict[str, list[PageRun]] = {}
    profiles: list[str] = []
    with served(args.server, args.db, prefix="main-thread-") as origin, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = sign_in(browser, origin, args.user, args.password)
        for path in pages:
            runs[path] = [open_page(context, origin, path, quiet_s=args.quiet) for _ in range(args.runs)]
            print(f"  {path}: done", file=sys.stderr)
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            for path in pages:
                open_page(context, origin, path, quiet_s=args.quiet, browser=browser, profile_dir=args.profile)
                profiles.append(profile_report(path, args.profile))
        browser.close()
    note = f", {args.note}" if args.note else ""
    print_and_append(report(runs, server=args.server, note=note) + "".join("\n" + p for p in profiles), args.out)


if __name__ == "__main__":
    main()
