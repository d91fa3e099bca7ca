"""With no database built yet, the app still serves every page and says so plainly: no traceback."""

from __future__ import annotations

import pytest

from tests.browser import harness
from tests.browser.harness import DATA_ERROR_MARKERS, ERROR_MARKERS, PAGES

pytestmark = pytest.mark.browser


def test_overview_says_data_unavailable(visits_without_data):
    visit = visits_without_data.get("overview", "/", "desktop")
    assert DATA_ERROR_MARKERS[0] in visit.body_text, f"server log:\n{visits_without_data.server.log_tail(20)}"
    assert "make data" in visit.body_text, "the message should tell the user how to build the database"
    assert not [m for m in ERROR_MARKERS if m in visit.body_text]
    assert not visit.recorder.problems(), visit.recorder.describe_problems()
    assert not harness.blocking(visit.violations), harness.describe_violations(harness.blocking(visit.violations))


@pytest.mark.parametrize(("name", "path"), [(n, p) for n, p in PAGES.items() if p != "/"])
def test_other_pages_open_without_errors(visits_without_data, name, path):
    visit = visits_without_data.get(name, path, "desktop")
    assert visit.heading.strip()
    assert not [m for m in ERROR_MARKERS if m in visit.body_text]
    assert not visit.recorder.problems(), (
        f"{visit.recorder.describe_problems()}\nserver log:\n{visits_without_data.server.log_tail(20)}"
    )
