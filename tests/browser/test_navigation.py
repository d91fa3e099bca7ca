"""The navigation in real headless Chromium: what a link to another page carries, and that it never warns.

A commissioner who picks a borough and period on the hypertension page and opens asthma finds the same
borough and period there, and immunisation opens on that borough (its "area"); the links follow each change
of the controls (not the address the page opened with). What a page reads differently (immunisation's
periods, everything on the cancer page) is not carried, so the app's own links never trip the "part of the
link was not recognised" warning.
"""

from __future__ import annotations

import pytest

from tests.browser import harness

pytestmark = pytest.mark.browser

BARNET, CAMDEN = "E09000003", "E09000007"


def nav_hrefs(page) -> dict[str, str]:
    links = page.locator("nav a.nav-link").evaluate_all(
        "links => links.map(a => [new URL(a.href).pathname, a.getAttribute('href')])"
    )
    return dict(links)


def warning(page) -> str | None:
    shown = page.locator(".link-problems")
    return shown.inner_text() if shown.count() else None


def test_links_carry_the_borough_and_period_to_asthma_and_nothing_to_other_pathfinders(recorded_page, app_server):
    page, recorder = recorded_page(app_server, "desktop")
    harness.open_page(page, app_server.url(f"/hypertension?borough={BARNET}"), recorder)
    assert warning(page) is None
    page.locator("#hyp-borough").select_option(value=CAMDEN)
    harness.wait_until_settled(page, recorder)
    period = page.locator("#hyp-period").input_value()
    # The links follow the change (the page opened with Barnet in its address).
    page.wait_for_function(
        "camden => Array.from(document.querySelectorAll('nav a.nav-link'))"
        ".some(a => (a.getAttribute('href') || '').startsWith('/asthma?') && a.getAttribute('href').includes(camden))",
        arg=CAMDEN,
    )
    hrefs = nav_hrefs(page)
    assert hrefs["/asthma"] == f"/asthma?period={period}&borough={CAMDEN}"
    assert hrefs["/hypertension"].startswith("/hypertension?") and f"borough={CAMDEN}" in hrefs["/hypertension"]
    assert hrefs["/immunisation"] == f"/immunisation?area={CAMDEN}", "immunisation's periods are its own"
    assert (hrefs["/cancer"], hrefs["/"]) == ("/cancer", "/")

    page.locator("nav a.nav-link", has_text="Asthma").click()
    page.wait_for_url("**/asthma?**")
    harness.wait_until_settled(page, recorder)
    assert page.locator("#ast-borough").input_value() == CAMDEN
    assert page.locator("#ast-period").input_value() == period
    assert warning(page) is None
    # Asthma's "All London" is its default, not a borough: it is not carried back.
    page.locator("#ast-borough").select_option(value="all")
    harness.wait_until_settled(page, recorder)
    page.wait_for_function(
        "() => document.querySelector('nav a.nav-link[href^=\"/hypertension\"]').getAttribute('href')"
        ".indexOf('borough') < 0"
    )
    assert nav_hrefs(page)["/hypertension"] == f"/hypertension?period={period}"

    page.locator("nav a.nav-link", has_text="Immunisation").click()
    page.wait_for_url("**/immunisation?**")
    harness.wait_until_settled(page, recorder)
    assert page.locator("#imm-area").input_value() == "london" and warning(page) is None
    # Camden chosen here is carried back to hypertension as its borough; London is no borough to carry.
    page.locator("#imm-area").select_option(value=CAMDEN)
    harness.wait_until_settled(page, recorder)
    page.wait_for_function(
        "() => (document.querySelector('nav a.nav-link[href^=\"/hypertension\"]').getAttribute('href') || '')"
        ".includes('borough=')"
    )
    assert nav_hrefs(page)["/hypertension"] == f"/hypertension?borough={CAMDEN}"

    page.locator("nav a.nav-link", has_text="Cancer pathways").click()
    page.wait_for_url("**/cancer**")
    harness.wait_until_settled(page, recorder)
    assert warning(page) is None
    assert nav_hrefs(page)["/asthma"] == "/asthma", "a cancer period means nothing on the asthma page"
    assert recorder.problems() == [] and recorder.off_origin_requests() == []
