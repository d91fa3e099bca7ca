"""The browser harness: serve the app, open pages in Debian's Chromium, record what a user's browser sees.

Kept apart from the fixtures (``conftest.py``) so the pieces read as plain functions:
start and stop the app, open a page while recording every request and console error,
run axe-core, save screenshots, and load the app's scripts into a blank page (``blank_page``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import plotly
from playwright.sync_api import Browser, Page, Playwright, Request
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium in a container: no sandbox, no GPU, and nothing that phones home on its own
# (component updates, sync, QUIC probes), so every request the offline check sees comes from the page.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
ASSETS = PROJECT_ROOT / "assets"
# Plotly's bundle by its file name, as a blank page's script (:func:`blank_page`): the one the plotly package ships.
PLOTLY_BUNDLE = "plotly.min.js"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
SERVER_LOGS = ARTIFACTS / "server-logs"

# Every page of the app by short name (screenshots and test ids use the name).
PAGES = {
    "overview": "/",
    "immunisation": "/immunisation",
    "hypertension": "/hypertension",
    "asthma": "/asthma",
    "cancer": "/cancer",
    # Not in the navigation: reached from the immunisation page.
    "immunisation-practice": "/immunisation/practice/E83003",
    "immunisation-cohort": "/immunisation/cohort",
}
# Text that only appears when a server error reaches the user.
ERROR_MARKERS = ("Traceback (most recent call last)", "Internal Server Error", "Callback error")
# The app's own words for a view whose data could not be read (components.layout.error_message, and the
# message queries.db.query_failure puts in a chart or an alert): right with no database (test_missing_data), a
# failure on a page served from one.
DATA_ERROR_MARKERS = ("Data unavailable", "A query failed", "The query took longer than")
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# Schemes that never leave the browser: MapLibre starts its worker from a blob: URL.
IN_BROWSER_SCHEMES = ("blob:", "data:", "about:")
BLOCKING_IMPACTS = ("serious", "critical")
# How long a page may take to load and settle before a test gives up on it.
BROWSER_TIMEOUT_S = 40


class BrowserUnavailable(RuntimeError):
    """Chromium cannot be found or started; the browser tests must fail, not skip."""


def launch_chromium(playwright: Playwright) -> Browser:
    """Launch Debian's Chromium (never a downloaded browser) with the flags this machine needs."""
    if not CHROMIUM.exists():
        raise BrowserUnavailable(
            f"{CHROMIUM} is missing. Install Debian's chromium and chromium-driver (`./scripts/ensure-chromium`, "
            "run by `make test`); the browser tests cannot run without it."
        )
    try:
        return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    except Exception as error:  # Playwright raises its own Error type with the browser's stderr
        raise BrowserUnavailable(f"Chromium at {CHROMIUM} would not start: {error}") from error


def free_port() -> int:
    """A TCP port nobody is listening on now (each xdist worker serves its own app)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class AppServer:
    """The app served by gunicorn in a subprocess, against one database file."""

    def __init__(self, db_path: Path, name: str, audit_dir: Path):
        self.db_path = Path(db_path)
        self.name = name
        self.audit_dir = Path(audit_dir)
        # Cookies of the default test user's session (Playwright storage state); None until :meth:`sign_in`.
        self.storage_state: dict | None = None
        self.sessions: dict[str, dict] = {}  # username -> storage state, for tests acting as other roles
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        SERVER_LOGS.mkdir(parents=True, exist_ok=True)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.log_path = SERVER_LOGS / f"{name}-{worker}.log"
        self._process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 60.0) -> AppServer:
        """Start gunicorn and wait until the Dash app answers; fail with the server's log if it does not."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PATHFINDER_")}
        env["PATHFINDER_DB"] = str(self.db_path)
        # Demo mode: the published demo accounts, synthetic data only. Audit records go to a temporary folder.
        env["PATHFINDER_DEMO"] = "true"
        env["PATHFINDER_AUDIT_DIR"] = str(self.audit_dir)
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "app:server",
            "-b",
            f"127.0.0.1:{self.port}",
            "--workers",
            "1",
            "--threads",
            "4",
            # gunicorn's control socket has one fixed default path: two servers at once would fight over it.
            "--no-control-socket",
        ]
        log = self.log_path.open("w")
        self._process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"The app exited with code {self._process.returncode}:\n{self.log_tail()}")
            if self._answers():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"The app did not answer within {timeout_s:.0f} s:\n{self.log_tail()}")

    def _answers(self) -> bool:
        # /_dash-dependencies needs no database: it answers (200, or 401 behind the sign-in gate)
        # as soon as the Dash app is loaded.
        try:
            with urllib.request.urlopen(self.origin + "/_dash-dependencies", timeout=2) as response:
                return response.status == 200
        except urllib.error.HTTPError as error:
            return error.code == 401
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def requires_sign_in(self) -> bool:
        """True when opening the app sends an anonymous visitor to the sign-in page."""
        try:
            with urllib.request.urlopen(self.origin + "/", timeout=10) as response:
                final_url = response.url
        except urllib.error.HTTPError as error:  # an error page still tells where the redirects ended
            final_url = error.url
        return urllib.parse.urlsplit(final_url).path == "/login"

    def sign_in(self, browser: Browser, username: str, password: str, *, default: bool = True) -> dict:
        """Sign in through the real form and keep the session cookie (for every later page when ``default``)."""
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(self.url("/login"))
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(lambda url: urllib.parse.urlsplit(url).path != "/login")
            state = context.storage_state()
        finally:
            context.close()
        self.sessions[username] = state
        if default:
            self.storage_state = state
        return state

    def stop(self) -> None:
        """Stop the server (politely, then firmly)."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def url(self, path: str) -> str:
        return self.origin + path


@dataclass
class Recorder:
    """Everything a page did that a test may object to."""

    origin: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)

    def off_origin_requests(self) -> list[str]:
        """Requests to anywhere but the app itself (tiles, CDNs, fonts, telemetry)."""
        own = self.origin + "/"
        return [url for url in self.requests if not (url.startswith(own) or url.startswith(IN_BROWSER_SCHEMES))]

    def describe_problems(self) -> str:
        """The problems as an indented list, for an assertion message."""
        return "\n".join(f"  {line[:400]}" for line in self.problems())

    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions and failed responses, one line each."""
        return (
            [f"console error: {text}" for text in self.console_errors]
            + [f"uncaught exception: {text}" for text in self.page_errors]
            + [f"HTTP error: {text}" for text in self.http_errors]
        )


def new_recorded_page(
    browser: Browser, server: AppServer, viewport: str, *, signed_in: bool = True, user: str | None = None
) -> tuple[Page, Recorder]:
    """A fresh context and page at ``viewport`` that records requests, console errors and failed responses.

    Signed in as the server's test user when there is one, or as ``user`` (signed in earlier with
    :meth:`AppServer.sign_in`); ``signed_in=False`` for an anonymous visitor.
    Requests leaving the server's origin are recorded and then aborted, so a test never waits on the
    internet and an offline failure is reported, not hidden behind a timeout.
    """
    origin = server.origin
    context = browser.new_context(
        viewport=VIEWPORTS[viewport],
        locale="en-GB",
        timezone_id="Europe/London",
        storage_state=(server.sessions[user] if user else server.storage_state) if signed_in else None,
        accept_downloads=True,
    )
    # Generous: on a shared 2-core machine a busy moment stretches a page's load past 15 s (seen in runs).
    context.set_default_timeout(BROWSER_TIMEOUT_S * 1000)
    recorder = Recorder(origin=origin)
    own = origin + "/"

    def route(route_, request: Request) -> None:
        if request.url.startswith(own) or request.url.startswith(IN_BROWSER_SCHEMES):
            route_.continue_()
        else:
            route_.abort("blockedbyclient")

    context.route("**/*", route)
    page = context.new_page()
    page.on("request", lambda request: recorder.requests.append(request.url))
    page.on("console", lambda message: message.type == "error" and recorder.console_errors.append(message.text))
    page.on("pageerror", lambda error: recorder.page_errors.append(str(error)))
    page.on(
        "response",
        lambda response: (
            response.status >= 400
            and recorder.http_errors.append(f"{response.status} {response.request.method} {response.url}")
        ),
    )
    return page, recorder


# True once Dash has rendered the page and finished its callbacks (Dash titles the document
# "Updating..." while any are in flight) and every visible Plotly map has its style, sources and
# tiles loaded, in MapLibre's own sense. A map in a hidden tab has no size to draw into and is skipped.
SETTLED = """() => {
    const content = document.getElementById('_pages_content');
    if (!content || content.children.length === 0 || document.title === 'Updating...') return false;
    // A graph Dash has mounted but Plotly has not drawn yet has no .js-plotly-plot inside it to wait on.
    const undrawn = [...document.querySelectorAll('.dash-graph')].some(
        graph => graph.offsetParent !== null && !graph.querySelector('.js-plotly-plot'));
    if (undrawn) return false;
    return [...document.querySelectorAll('.js-plotly-plot')].every(gd => {
        if (gd.offsetParent === null) return true;
        if (!gd._fullLayout) return false;
        const ids = (gd._fullLayout._subplots && gd._fullLayout._subplots.map) || [];
        return ids.every(id => {
            const subplot = gd._fullLayout[id] && gd._fullLayout[id]._subplot;
            return subplot && subplot.map && subplot.map.loaded();
        });
    });
}"""


def wait_until_settled(page: Page, recorder: Recorder | None = None, timeout_s: float = BROWSER_TIMEOUT_S) -> None:
    """Wait until the network is idle and the page is :data:`SETTLED`.

    Stops waiting early once ``recorder`` has seen a failed response or an uncaught exception:
    a page whose callback failed never settles, and the test should report the failure, not a timeout.
    """
    page.wait_for_load_state("networkidle")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            page.wait_for_function(SETTLED, timeout=500)
            break
        except PlaywrightTimeoutError:
            if recorder is not None and (recorder.http_errors or recorder.page_errors):
                return
            if time.monotonic() > deadline:
                raise
    page.wait_for_load_state("networkidle")


def open_page(page: Page, url: str, recorder: Recorder | None = None) -> None:
    """Navigate to ``url`` and wait until Dash has settled (or failed visibly, when ``recorder`` is given).

    A server error page is left as it is (the recorder has its status): there is no Dash app to wait for.
    """
    response = page.goto(url)
    if response is not None and response.status >= 400:
        return
    landed = urllib.parse.urlsplit(page.url).path
    if landed == "/login" and urllib.parse.urlsplit(url).path != "/login":
        raise AssertionError(f"{url} sent the browser to the sign-in page: the test user is not signed in")
    wait_until_settled(page, recorder)


# The share of London's bounding box (from the boundaries a map draws, inline or fetched by URL) inside the
# visible bounds of the map at ``selector``: below 1 when outer boroughs are cut off.
LONDON_SHOWN = """(selector) => {
    const gd = document.querySelector(selector);
    const source = gd._fullData[0].geojson;
    const geojson = typeof source === 'string' ? window.PlotlyGeoAssets[source] : source;
    const map = gd._fullLayout.map._subplot.map;
    let west = 180, east = -180, south = 90, north = -90;
    const visit = c => {
        if (typeof c[0] === 'number') {
            west = Math.min(west, c[0]); east = Math.max(east, c[0]);
            south = Math.min(south, c[1]); north = Math.max(north, c[1]);
        } else c.forEach(visit);
    };
    geojson.features.forEach(f => visit(f.geometry.coordinates));
    const view = map.getBounds();
    const shownWidth = Math.min(east, view.getEast()) - Math.max(west, view.getWest());
    const shownHeight = Math.min(north, view.getNorth()) - Math.max(south, view.getSouth());
    return Math.max(0, shownWidth) * Math.max(0, shownHeight) / ((east - west) * (north - south));
}"""


def london_shown(page: Page, selector: str, timeout_s: float = 10.0) -> float:
    """:data:`LONDON_SHOWN` for the map at ``selector``, once the map has had up to ``timeout_s`` to show it all.

    Boundaries fetched by URL arrive after Dash has settled, and the map is fitted to the screen when
    Plotly has drawn them: measured at once, a map can still be unloaded (no boundaries yet) or
    unfitted. The measure after the wait is returned as it is, for the caller's assertion.
    """
    fitted = f"(selector) => {{ try {{ return ({LONDON_SHOWN})(selector) > 0.99; }} catch (e) {{ return false; }} }}"
    # On a timeout the caller's assertion reports how much of London shows.
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(fitted, arg=selector, timeout=timeout_s * 1000)
    return page.evaluate(LONDON_SHOWN, selector)


# Visible tab lists (WAI-ARIA role=tablist, or dcc.Tabs' .tab-container) in which no tab can take
# keyboard focus: a keyboard user can never switch tabs there. axe does not check this.
KEYBOARD_UNREACHABLE_TAB_LISTS = """() => [...document.querySelectorAll('[role=tablist], .tab-container')]
    .filter(list => list.offsetParent !== null)
    .filter(list => ![...list.querySelectorAll('[role=tab], .tab')].some(tab => tab.tabIndex >= 0))
    .map(list => list.innerText.replace(/\\s+/g, ' ').trim().slice(0, 80))"""


# Chart text a reader cannot read, in every visible Plotly chart (maps included):
# - any SVG text (titles, axis titles, tick labels, legend entries, annotations, point labels,
#   colour-bar labels) sticking out of its chart's box: Plotly clips it, so it is cut off;
# - two labels drawn over each other (legend over the title or a reference line's label, "Target"
#   over "London", a note over the tick labels); tick labels of one axis are only compared with
#   other text, as Plotly itself spaces them;
# The hover layer is skipped: it is empty until a pointer rests on a point.
CHART_TEXT_PROBLEMS = """() => {
    const problems = [];
    const kindOf = t => {
        if (t.closest('.legend')) return 'legend';
        if (t.closest('.xtick, .ytick, .x2tick, .y2tick, .cbaxis')) return 'ticks';
        if (t.closest('.infolayer .g-gtitle, .gtitle') || t.classList.contains('gtitle')) return 'title';
        return 'label';
    };
    const overlap = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 2
        && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 2;
    for (const gd of document.querySelectorAll('.js-plotly-plot')) {
        if (gd.offsetParent === null) continue;
        const box = gd.getBoundingClientRect();
        const name = (gd.parentElement && gd.parentElement.id) || gd.id || 'a chart';
        const texts = [];
        for (const t of gd.querySelectorAll('svg text')) {
            if (t.closest('.hoverlayer')) continue;
            const text = t.textContent.trim();
            const r = t.getBoundingClientRect();
            if (!text || r.width === 0 || r.height === 0) continue;
            const style = getComputedStyle(t);
            if (style.visibility === 'hidden' || style.display === 'none' || Number(style.opacity) === 0) continue;
            texts.push({el: t, text, r, kind: kindOf(t), short: text.slice(0, 50)});
        }
        for (const t of texts) {
            const out = Math.max(
                box.left - t.r.left, t.r.right - box.right, box.top - t.r.top, t.r.bottom - box.bottom);
            if (out > 2) problems.push(`${name}: "${t.short}" is cut off by ${Math.round(out)}px`);
        }
        for (let i = 0; i < texts.length; i++) {
            for (let j = i + 1; j < texts.length; j++) {
                const a = texts[i], b = texts[j];
                if (a.kind === 'ticks' && b.kind === 'ticks') continue;
                if (a.kind === 'legend' && b.kind === 'legend') continue;
                if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
                if (overlap(a.r, b.r)) problems.push(`${name}: "${a.short}" and "${b.short}" overlap`);
            }
        }
        const legend = gd.querySelector('.legend');
        if (legend) {
            const l = legend.querySelector('.bg') ? legend.querySelector('.bg').getBoundingClientRect()
                : legend.getBoundingClientRect();
            for (const t of texts) {
                if (t.kind === 'legend' || t.kind === 'ticks') continue;
                if (overlap(l, t.r)) problems.push(`${name}: the legend covers "${t.short}"`);
            }
        }
    }
    return problems;
}"""

# Axes and colour bars of visible charts and maps that repeat a tick label (e.g. "89%" four times:
# too few decimals to tell the ticks apart on a narrow range).
REPEATED_TICK_LABELS = """() => {
    const problems = [];
    for (const gd of document.querySelectorAll('.js-plotly-plot')) {
        if (gd.offsetParent === null) continue;
        const name = (gd.parentElement && gd.parentElement.id) || gd.id || 'a chart';
        const axes = gd.querySelectorAll('.xaxislayer-above, .yaxislayer-above, .cbaxis');
        for (const axis of axes) {
            const seen = new Map();
            for (const t of axis.querySelectorAll('text')) {
                const text = t.textContent.trim();
                if (text && t.getBoundingClientRect().width > 0) seen.set(text, (seen.get(text) || 0) + 1);
            }
            for (const [text, count] of seen) {
                if (count > 1) problems.push(`${name}: an axis shows the tick label "${text}" ${count} times`);
            }
        }
    }
    return problems;
}"""


# Visible charts (not maps: a grey map is explained by its caption) that draw axes but no data and
# say nothing about why: no trace has a finite value and no annotation longer than a label explains.
EMPTY_CHARTS = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .filter(gd => gd.offsetParent !== null && gd._fullLayout && !(gd._fullLayout._subplots.map || []).length)
    .filter(gd => !gd._fullData.some(trace => ['x', 'y', 'z', 'values'].some(key =>
        trace[key] && typeof trace[key] !== 'string'
        && Array.from(trace[key]).some(v => v !== null && v !== '' && Number.isFinite(Number(v))))))
    .filter(gd => !(gd._fullLayout.annotations || []).some(a => (a.text || '').length > 20))
    .map(gd => (gd.parentElement && gd.parentElement.id) || gd.id || 'a chart')"""


def run_axe(page: Page) -> list[dict]:
    """Run axe-core (vendored, injected from disk) on the whole page; every violation, summarised.

    The app's Content-Security-Policy rightly refuses inline scripts, so axe is not added as a
    script tag: it is evaluated through the DevTools protocol, which CSP does not govern. The page
    itself keeps its real CSP (no ``bypass_csp``), so a CSP violation still shows as a console error.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    return page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ['violations']});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ')),
            }));
        }"""
    )


@functools.cache
def _axe_source() -> str:
    return AXE_JS.read_text()


def blocking(violations: list[dict]) -> list[dict]:
    """The violations that fail a test: serious or critical."""
    return [v for v in violations if v["impact"] in BLOCKING_IMPACTS]


def describe_violations(violations: list[dict]) -> str:
    return "\n".join(f"  [{v['impact']}] {v['id']}: {v['help']} -> {', '.join(v['nodes'][:6])}" for v in violations)


def save_screenshot(page: Page, name: str, viewport: str) -> Path:
    """Save a full-page screenshot as test-artifacts/screenshots/<name>-<viewport>.png for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
    path = SCREENSHOTS / f"{safe}-{viewport}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# ----------------------------------------------------------------------------- the app's scripts in a blank page


def script_path(name: str) -> Path:
    """The file of a script by name: :data:`PLOTLY_BUNDLE` (the plotly package's own) or one of the app's assets
    (``"hidden_charts.js"``). A name that is neither fails here, not as a page that silently lacks the script."""
    path = Path(plotly.__file__).parent / "package_data" / name if name == PLOTLY_BUNDLE else ASSETS / name
    if not path.is_file():
        raise FileNotFoundError(f"no script {name!r} at {path}")
    return path


def add_scripts(page: Page, *names: str) -> None:
    """Load the scripts ``names`` (:func:`script_path`) into ``page``, one after another in that order."""
    for name in names:
        page.add_script_tag(path=str(script_path(name)))


@contextlib.contextmanager
def blank_page(browser: Browser, body: str, *scripts: str, viewport: dict | None = None) -> Iterator[Page]:
    """A page in a context of its own, holding the HTML ``body`` and then ``scripts`` (:func:`add_scripts`) in
    order; the context is closed on leaving. For a test of the app's scripts or chart builders on their own:
    no server, and nothing leaves the machine. ``viewport``: width and height in px (Playwright's default
    when None)."""
    context = browser.new_context(viewport=viewport)
    try:
        page = context.new_page()
        page.set_content(body)
        add_scripts(page, *scripts)
        yield page
    finally:
        context.close()
