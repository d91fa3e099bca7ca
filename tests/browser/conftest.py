"""Fixtures for the browser tests: one Chromium, one app server per database, and cached page visits.

Under pytest-xdist each worker that runs browser tests serves the app on its own free port and
launches its own Chromium, but the work that matters is done once per run and shared through the
run's temporary folder: the small database (``small_db``, built by one worker while the others wait
on a lock) and each page visit (``VisitCache``: the first worker to need a page at a viewport opens
it, the others read what it saw). Grouping the tests on one worker with ``--dist loadgroup`` does not
work with pytest 9.2: pytest-xdist sets the group on ``item._nodeid``, which pytest 9.2 no longer
reads (``nodeid`` is now derived from ``item._id``), so ``xdist_group`` marks are silently ignored.

Set ``BROWSER_TEST_DB=/path/to/built.duckdb`` to serve an existing database instead of building the
small test database (quicker when iterating on a page).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from security.users import DEMO_ACCOUNTS
from tests.browser import harness
from tests.conftest import exclusive_lock, run_shared_dir


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium; a missing or broken browser fails the tests loudly, never skips them."""
    with sync_playwright() as playwright:
        try:
            browser = harness.launch_chromium(playwright)
        except harness.BrowserUnavailable as error:
            pytest.fail(str(error), pytrace=False)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def served_db(request) -> Path:
    """The database the app serves: the small synthetic test database (or BROWSER_TEST_DB when set)."""
    override = os.environ.get("BROWSER_TEST_DB")
    if override:
        path = Path(override)
        if not path.exists():
            pytest.fail(f"BROWSER_TEST_DB={override} does not exist", pytrace=False)
        return path
    return Path(request.getfixturevalue("small_db"))


# The demo commissioner sees all of London: the widest view, so every page has something to show.
TEST_USER = ("demo.commissioner", "demo-commissioner")
# The published demo accounts, for tests that act as another role.
DEMO_PASSWORDS = {account.username: account.password for account in DEMO_ACCOUNTS}


def _serve(db_path: Path, name: str, browser: Browser, tmp_path_factory) -> harness.AppServer:
    server = harness.AppServer(db_path, name, audit_dir=tmp_path_factory.mktemp(f"audit-{name}")).start()
    try:
        if server.requires_sign_in():
            server.sign_in(browser, *TEST_USER)
    except Exception:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def app_server(served_db, chromium, tmp_path_factory) -> Iterator[harness.AppServer]:
    """The app on the small database, served by gunicorn on a free port, with a signed-in test user."""
    server = _serve(served_db, "small-db", chromium, tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def app_without_data(chromium, tmp_path_factory) -> Iterator[harness.AppServer]:
    """The app pointed at a database file that does not exist (a deployment before the first build)."""
    missing = tmp_path_factory.mktemp("no-database") / "pathfinder.duckdb"
    server = _serve(missing, "no-db", chromium, tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture
def recorded_page(chromium) -> Iterator:
    """A factory ``(server, viewport, signed_in=True, user=None) -> (page, recorder)``; contexts closed afterwards.

    ``user`` names a demo account to act as (signed in on first use); the default is :data:`TEST_USER`.
    """
    pages: list[Page] = []

    def open_recorded(
        server: harness.AppServer, viewport: str = "desktop", *, signed_in: bool = True, user: str | None = None
    ):
        if user and user not in server.sessions:
            server.sign_in(chromium, user, DEMO_PASSWORDS[user], default=False)
        page, recorder = harness.new_recorded_page(chromium, server, viewport, signed_in=signed_in, user=user)
        pages.append(page)
        return page, recorder

    yield open_recorded
    for page in pages:
        page.context.close()


@dataclass
class Visit:
    """What one page looked like at one viewport: recorded events, axe violations, screenshot, text."""

    path: str
    viewport: str
    recorder: harness.Recorder
    violations: list[dict]
    screenshot: Path
    heading: str
    body_text: str
    horizontal_overflow_px: int
    keyboard_unreachable_tab_lists: list[str]
    chart_text_problems: list[str]
    repeated_tick_labels: list[str]
    empty_charts: list[str]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), default=str)

    @classmethod
    def from_json(cls, text: str) -> Visit:
        fields = json.loads(text)
        return cls(
            **{**fields, "recorder": harness.Recorder(**fields["recorder"]), "screenshot": Path(fields["screenshot"])}
        )


class VisitCache:
    """Opens each (page, viewport) once per test run; the page tests each check one aspect of the visit.

    Visits are kept in memory and, when ``shared_dir`` is given, written there as JSON so that the
    other pytest-xdist workers reuse them instead of opening the page again (a per-page lock makes a
    second worker wait for a visit in progress rather than repeat it).
    """

    def __init__(self, browser: Browser, server: harness.AppServer, label: str, shared_dir: Path | None = None):
        self.browser = browser
        self.server = server
        self.label = label
        self.shared_dir = shared_dir
        self._visits: dict[tuple[str, str], Visit] = {}

    def get(self, name: str, path: str, viewport: str) -> Visit:
        key = (path, viewport)
        if key not in self._visits:
            self._visits[key] = self._shared_visit(name, path, viewport)
        return self._visits[key]

    def _shared_visit(self, name: str, path: str, viewport: str) -> Visit:
        if self.shared_dir is None:
            return self._visit(name, path, viewport)
        self.shared_dir.mkdir(exist_ok=True)
        stored = self.shared_dir / f"{self.label}-{name}-{viewport}.json"
        with exclusive_lock(stored.with_suffix(".lock")):
            if stored.exists():
                return Visit.from_json(stored.read_text())
            visit = self._visit(name, path, viewport)
            partial = stored.with_suffix(".partial")
            partial.write_text(visit.to_json())
            partial.replace(stored)  # whole or absent, never half-written
            return visit

    def _visit(self, name: str, path: str, viewport: str) -> Visit:
        page, recorder = harness.new_recorded_page(self.browser, self.server, viewport)
        try:
            harness.open_page(page, self.server.url(path), recorder)
            screenshot = harness.save_screenshot(page, f"{self.label}-{name}", viewport)
            heading = page.locator("h1").first.inner_text() if page.locator("h1").count() else ""
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            body_text = page.locator("body").inner_text()
            unreachable_tabs = page.evaluate(harness.KEYBOARD_UNREACHABLE_TAB_LISTS)
            chart_text = sorted(set(page.evaluate(harness.CHART_TEXT_PROBLEMS)))
            repeated_ticks = sorted(set(page.evaluate(harness.REPEATED_TICK_LABELS)))
            empty_charts = page.evaluate(harness.EMPTY_CHARTS)
            violations = harness.run_axe(page)
        finally:
            page.context.close()
        return Visit(
            path=path,
            viewport=viewport,
            recorder=recorder,
            violations=violations,
            screenshot=screenshot,
            heading=heading,
            body_text=body_text,
            horizontal_overflow_px=overflow,
            keyboard_unreachable_tab_lists=unreachable_tabs,
            chart_text_problems=chart_text,
            repeated_tick_labels=repeated_ticks,
            empty_charts=empty_charts,
        )


@pytest.fixture(scope="session")
def visits(chromium, app_server, tmp_path_factory) -> VisitCache:
    """Cached visits to the app on the small database, shared by the run's workers."""
    return VisitCache(chromium, app_server, "page", run_shared_dir(tmp_path_factory) / "browser-visits")


@pytest.fixture(scope="session")
def visits_without_data(chromium, app_without_data, tmp_path_factory) -> VisitCache:
    """Cached visits to the app with no database, shared by the run's workers."""
    return VisitCache(chromium, app_without_data, "no-data", run_shared_dir(tmp_path_factory) / "browser-visits")
