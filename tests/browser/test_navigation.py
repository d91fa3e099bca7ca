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


def choose(page, recorder, select_id: str, value: str, *, link: str, becomes: str) -> None:
    """Pick ``value`` in a page's select, then wait until the navigation's link to ``link`` reads ``becomes``."""
    page.locator(f"#{select_id}").select_option(value=value)
    harness.wait_until_settled(page, recorder)
    page.wait_for_function(
        "([path, href]) => Array.from(document.querySelectorAll('nav a.nav-link'))"
        ".some(a => new URL(a.href).pathname === path && a.getAttribute('href') === href)",
        arg=[link, becomes],
    )


def follow(page, recorder, label: str, path: str) -> None:
    """Click the navigation's link named ``label`` and wait for the page at ``path`` to settle."""
    page.locator("nav a.nav-link", has_text=label).click()
    page.wait_for_url(f"**{path}**")
    harness.wait_until_settled(page, recorder)


def test_links_carry_the_borough_and_period_where_the_next_page_reads_them_the_same_way(recorded_page, app_server):
    page, recorder = recorded_page(app_server, "desktop")
    harness.open_page(page, app_server.url(f"/hypertension?borough={BARNET}"), recorder)
    assert warning(page) is None
    period = page.locator("#hyp-period").input_value()
    # The links follow the change (the page opened with Barnet in its address).
    choose(page, recorder, "hyp-borough", CAMDEN, link="/asthma", becomes=f"/asthma?period={period}&borough={CAMDEN}")
    hrefs = nav_hrefs(page)
    assert hrefs["/hypertension"].startswith("/hypertension?") and f"borough={CAMDEN}" in hrefs["/hypertension"]
    assert hrefs["/immunisation"] == f"/immunisation?area={CAMDEN}", "immunisation's periods are its own"
    assert (hrefs["/cancer"], hrefs["/"]) == ("/cancer", "/")

    follow(page, recorder, "Asthma", "/asthma?")
    assert page.locator("#ast-borough").input_value() == CAMDEN
    assert page.locator("#ast-period").input_value() == period
    assert warning(page) is None
    # Asthma's "All London" is its default, not a borough: it is not carried back.
    choose(page, recorder, "ast-borough", "all", link="/hypertension", becomes=f"/hypertension?period={period}")

    follow(page, recorder, "Immunisation", "/immunisation?")
    assert page.locator("#imm-area").input_value() == "london" and warning(page) is None
    # Camden chosen here is carried back to hypertension as its borough; London is no borough to carry.
    choose(page, recorder, "imm-area", CAMDEN, link="/hypertension", becomes=f"/hypertension?borough={CAMDEN}")

    follow(page, recorder, "Cancer pathways", "/cancer")
    assert warning(page) is None
    assert nav_hrefs(page)["/asthma"] == "/asthma", "a cancer period means nothing on the asthma page"
    assert recorder.problems() == [] and recorder.off_origin_requests() == []
