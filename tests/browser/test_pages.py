"""Every page, as a user's browser sees it at desktop and phone sizes: clean console, offline, accessible.

Each (page, viewport) is opened once (see ``VisitCache``); the tests below each judge one aspect,
so one failure does not hide another. Screenshots land in test-artifacts/screenshots/.
"""

from __future__ import annotations

import pytest

from tests.browser import harness
from tests.browser.harness import DATA_ERROR_MARKERS, ERROR_MARKERS, PAGES

pytestmark = pytest.mark.browser

CASES = [
    pytest.param(name, path, viewport, id=f"{name}-{viewport}")
    for name, path in PAGES.items()
    for viewport in harness.VIEWPORTS
]


def test_every_page_in_the_navigation_is_covered(recorded_page, app_server):
    page, _ = recorded_page(app_server)
    harness.open_page(page, app_server.url("/"))
    hrefs = page.locator("nav a.nav-link").evaluate_all("links => links.map(a => new URL(a.href).pathname)")
    assert hrefs, "the navigation has no links"
    # Sign-in is an action, not a page (sign-out is a form button, not a link).
    missing = sorted(set(hrefs) - set(PAGES.values()) - {"/login"})
    assert not missing, f"add {missing} to harness.PAGES so the browser suite opens them"


@pytest.mark.parametrize(("name", "path", "viewport"), CASES)
def test_page_has_no_console_errors(visits, name, path, viewport):
    visit = visits.get(name, path, viewport)
    problems = visit.recorder.problems()
    assert not problems, (
        f"{path} at {viewport}:\n{visit.recorder.describe_problems()}\nserver log:\n{visits.server.log_tail(15)}"
    )


@pytest.mark.parametrize(("name", "path", "viewport"), CASES)
def test_page_makes_no_request_outside_the_app(visits, name, path, viewport):
    visit = visits.get(name, path, viewport)
    assert visit.recorder.requests, "the recorder saw no requests at all: the check would pass vacuously"
    assert visit.recorder.off_origin_requests() == []


@pytest.mark.parametrize(("name", "path", "viewport"), CASES)
def test_page_has_no_serious_accessibility_violations(visits, name, path, viewport):
    visit = visits.get(name, path, viewport)
    serious = harness.blocking(visit.violations)
    assert not serious, f"axe-core on {path} at {viewport}:\n{harness.describe_violations(serious)}"


@pytest.mark.parametrize(("name", "path", "viewport"), CASES)
def test_page_shows_its_content_and_fits_the_screen(visits, name, path, viewport):
    visit = visits.get(name, path, viewport)
    assert visit.screenshot.stat().st_size > 0
    assert visit.heading.strip(), f"{path} has no visible h1"
    assert not [m for m in ERROR_MARKERS if m in visit.body_text]
    # A query error is shown as a friendly message, with no console error: the page is still broken.
    unread = [m for m in DATA_ERROR_MARKERS if m in visit.body_text]
    assert not unread, f"{path} at {viewport} could not read its data ({unread}):\n{visit.body_text}"
    # A page wider than the screen scrolls sideways: the phone layout is broken.
    assert visit.horizontal_overflow_px <= 0, f"{path} is {visit.horizontal_overflow_px}px wider than {viewport}"


@pytest.mark.parametrize(("name", "path", "viewport"), [case for case in CASES if case.values[2] == "desktop"])
def test_every_tab_list_can_be_used_from_the_keyboard(visits, name, path, viewport):
    visit = visits.get(name, path, viewport)
    assert visit.keyboard_unreachable_tab_lists == [], "no tab in these tab lists takes keyboard focus"


@pytest.mark.parametrize(("name", "path", "viewport"), CASES)
def test_chart_text_is_not_cut_off_or_drawn_over_other_text(visits, name, path, viewport):
    """No title, label, tick, legend entry or note sticks out of its chart (cut off) or sits on other text."""
    visit = visits.get(name, path, viewport)
    assert visit.chart_text_problems == [], f"{path} at {viewport}:\n" + "\n".join(visit.chart_text_problems)


@pytest.mark.parametrize(("name", "path", "viewport"), CASES)
def test_no_axis_repeats_a_tick_label(visits, name, path, viewport):
    visit = visits.get(name, path, viewport)
    assert visit.repeated_tick_labels == [], f"{path} at {viewport}:\n" + "\n".join(visit.repeated_tick_labels)


@pytest.mark.parametrize(("name", "path", "viewport"), CASES)
def test_no_chart_is_left_empty_without_a_word(visits, name, path, viewport):
    """A chart with nothing to draw (all suppressed, no rows) should say so, not show bare axes."""
    visit = visits.get(name, path, viewport)
    assert visit.empty_charts == [], f"{path}: charts with axes but no data and no message"
