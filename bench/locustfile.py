"""Locust users for the load test (``bench/load.py`` starts the server and runs this headless).

Three kinds of signed-in user do their flows through real HTTP on 127.0.0.1, as their browser would:

- commissioners (``demo.commissioner``): the hypertension borough comparison (period, ICB, tabs) and its
  board-paper CSV, now and then another pathway page;
- GP teams (``demo.gp``, practice E83003): their practice view (indicator, period type, CSV downloads)
  and their own practice's cohort list;
- campaign responders (``demo.campaign``, one borough): the cohort finder (criteria, Find, list pages)
  and the patient-list CSV export.

Nothing is invented: the callbacks come from the app's own ``/_dash-dependencies``, and each page is
driven by :class:`bench.callbacks.Tab` (the same browser-tab model the callback benchmark uses): the page
render, every initial callback in dependency order, then one control at a time set to a value from that
control's own options, firing what depends on it with the state the earlier responses left. Here the
tab's client is the locust HTTP session instead of Flask's test client, so every call is a real request
to gunicorn, timed and named by locust (``render /page`` or ``cb <first output>``).

A response other than 200/204, or a 200 carrying the app's "query failed" / "no database" message,
counts as a failure.
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path
from typing import Any

from locust import HttpUser, between, task
from locust.exception import StopUser
from locust.user.users import LOCUST_STATE_STOPPING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.callbacks import (  # noqa: E402  (after the path is set)
    GP_PRACTICE,
    PAGES_OUTPUT,
    Recorder,
    Tab,
    _arg_matches,
    server_callbacks,
)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = {"demo.commissioner": "demo-commissioner", "demo.gp": "demo-gp", "demo.campaign": "demo-campaign"}
# Messages the pages show when the database failed them (queries.db.DataUnavailable): a failed request
# for the load test even though the HTTP status is 200.
ERROR_MARKERS = (b"A query failed", b"No database at", b"Cannot open the database", b"Something went wrong")

HYP_EXPORT = "hyp-export-comparison"
COHORT_FIND = "imm-cohort-find"
COHORT_EXPORT = "imm-cohort-download-list-button"
GP_DOWNLOADS = ("imm-gp-download-comparison-button", "imm-gp-download-ranking-button")


def request_name(body: dict[str, Any] | None) -> str:
    """Locust's name for a Dash call: the page for a render, else the callback's first output."""
    if not body:
        return "post"
    if body.get("output") == PAGES_OUTPUT:
        path = body["inputs"][0]["value"]
        return "render " + re.sub(r"/practice/[A-Z0-9]+", "/practice/<ods>", path)
    output = body["output"]
    first = output[2:].split("...")[0] if output.startswith("..") else output
    first = first.split("@", 1)[0]  # allow_duplicate outputs carry a hash suffix
    return "cb " + re.sub(r"\{.*\}", "{pattern}", first)


class _Response:
    """The parts of a Flask test response that :class:`bench.callbacks.Tab` reads."""

    def __init__(self, response: Any):
        self.status_code = response.status_code
        self._content = response.content or b""
        # requests has already decoded gzip: the body is plain, whatever the header said.
        self.headers = {k: v for k, v in response.headers.items() if k.lower() != "content-encoding"}

    def get_data(self) -> bytes:
        return self._content

    def get_json(self) -> Any:
        import json

        return json.loads(self._content)


class HttpTabClient:
    """``get``/``post`` like Flask's test client, over the locust user's HTTP session (timed and named)."""

    def __init__(self, session: Any, stopping: Any = lambda: False):
        self.session = session
        self.stopping = stopping

    def _go_on(self) -> None:
        # At the end of the run a user finishes the request it has in flight but starts no new one, so
        # stopping never cuts a request off (which locust would count as a failure).
        if self.stopping():
            raise StopUser()

    def _check(self, response: Any) -> _Response:
        if response.status_code not in (200, 204, 302):
            detail = repr(response.error) if response.status_code == 0 else response.text[:200]
            response.failure(f"HTTP {response.status_code}: {detail}")
        elif any(marker in (response.content or b"") for marker in ERROR_MARKERS):
            response.failure("the page reported a data error")
        else:
            response.success()
        return _Response(response)

    def get(self, url: str, name: str | None = None) -> _Response:
        self._go_on()
        with self.session.get(url, name=name or url, catch_response=True, allow_redirects=False) as response:
            return self._check(response)

    def post(self, url: str, json: dict | None = None, headers: dict | None = None) -> _Response:
        self._go_on()
        with self.session.post(url, json=json, headers=headers, name=request_name(json), catch_response=True) as r:
            return self._check(r)


class PathfinderUser(HttpUser):
    """A signed-in user of one role; subclasses give the account and the flows."""

    abstract = True
    username = ""
    # Reading the page between one action and the next: between tasks and between the steps of a flow (a
    # step fires its callbacks back to back, as the browser does).
    wait_time = between(2, 5)

    def on_start(self) -> None:
        # One connection per request, as a reverse proxy in front of gunicorn (nginx's default) makes: each
        # request is accepted by whichever worker is free, and no request races a keep-alive timeout.
        self.client.headers["Connection"] = "close"
        self.rng = random.Random()
        self.tabs = HttpTabClient(self.client, stopping=lambda: self._state == LOCUST_STATE_STOPPING)
        self.sign_in()
        self.callbacks = self.callback_map()
        self.recorder = Recorder()

    def sign_in(self) -> None:
        page = self.client.get("/login", name="/login")
        match = CSRF.search(page.text)
        form = {"username": self.username, "password": PASSWORD[self.username], "csrf_token": match.group(1)}
        with self.client.post("/login", data=form, name="/login", allow_redirects=False, catch_response=True) as r:
            if r.status_code != 302:
                r.failure(f"sign-in as {self.username} answered {r.status_code}")

    def callback_map(self) -> list[Any]:
        """The app's callbacks, as the browser fetches them; a failed fetch is counted and tried again."""
        for _ in range(5):
            try:
                return server_callbacks(self.tabs)
            except SystemExit:  # bench.callbacks stops its own run on a bad answer; here it is one failure
                self.wait()
        raise StopUser()

    def load(self, path: str) -> Tab:
        """A full page load (HTML, layout, dependencies) then the page's render and initial callbacks."""
        name = re.sub(r"/practice/[A-Z0-9]+", "/practice/<ods>", path.partition("?")[0])
        self.tabs.get(path, name=name)
        self.tabs.get("/_dash-layout", name="/_dash-layout")
        self.tabs.get("/_dash-dependencies", name="/_dash-dependencies")
        tab = Tab(self.tabs, self.callbacks, self.recorder, self.rng, role=self.username, path=path, profile_dir=None)
        tab.open()
        self.wait()
        return tab

    def wander(self, tab: Tab, steps: int) -> None:
        """Change ``steps`` controls at random, each firing what depends on it (as bench/callbacks does)."""
        for _ in range(steps):
            candidates = [cb for cb in tab.active() if any(tab._pool(i, p) for i, p in cb.inputs)]
            candidates = [cb for cb in candidates if not _is_download(cb)]
            if not candidates:
                return
            tab.interact(self.rng.choice(candidates))
            self.wait()

    def click(self, tab: Tab, component_id: str) -> bool:
        """Press a button that is on the page and fire the callbacks it triggers."""
        component = tab.state.get(component_id)
        if component is None:
            return False
        component["n_clicks"] = (component.get("n_clicks") or 0) + 1
        changed = f"{component_id}.n_clicks"
        triggered = [cb for cb in tab.active() if any(_arg_matches(i, p, changed) for i, p in cb.inputs)]
        tab._fire(triggered, changed_by={cb.key: [changed] for cb in triggered})
        return bool(triggered)


def _is_download(cb: Any) -> bool:
    # Downloads are asked for by the flows themselves, at the rate a user would, not by random clicks.
    return any("download" in str(ident) or "export" in str(ident) or "csv" in str(ident) for ident, _ in cb.inputs)


class Commissioner(PathfinderUser):
    """Borough comparison for hypertension, the board-paper CSV; other pathways now and then."""

    weight = 4
    username = "demo.commissioner"

    @task(3)
    def hypertension_board_paper(self) -> None:
        tab = self.load("/hypertension")
        self.wander(tab, 2)
        self.click(tab, HYP_EXPORT)

    @task(1)
    def another_pathway(self) -> None:
        tab = self.load(self.rng.choice(["/immunisation", "/asthma", "/cancer", "/"]))
        self.wander(tab, 2)


class GPTeam(PathfinderUser):
    """The practice's own immunisation view and downloads, and its cohort list."""

    weight = 3
    username = "demo.gp"

    @task(3)
    def practice_view(self) -> None:
        tab = self.load(f"/immunisation/practice/{GP_PRACTICE}")
        self.wander(tab, 2)
        self.click(tab, self.rng.choice(GP_DOWNLOADS))

    @task(1)
    def practice_cohort(self) -> None:
        tab = self.load("/immunisation/cohort")
        self.wander(tab, 1)
        self.click(tab, COHORT_FIND)


class CampaignResponder(PathfinderUser):
    """The cohort finder for a campaign in one borough: criteria, Find, pages of the list, CSV export."""

    weight = 3
    username = "demo.campaign"

    @task
    def cohort_campaign(self) -> None:
        tab = self.load("/immunisation/cohort")
        self.wander(tab, 2)
        self.click(tab, COHORT_FIND)
        self.click(tab, COHORT_EXPORT)
