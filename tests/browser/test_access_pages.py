"""The pages around the dashboards: sign-in (what everyone sees first) and the admin's audit log."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.browser import harness

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", list(harness.VIEWPORTS))
def test_sign_in_page_is_offline_clean_and_accessible(recorded_page, app_server, viewport):
    page, recorder = recorded_page(app_server, viewport, signed_in=False)
    page.goto(app_server.url("/login"))  # a plain Flask page, not Dash: nothing to wait for but the network
    page.wait_for_load_state("networkidle")
    assert page.get_by_label("Username").is_visible() and page.get_by_label("Password").is_visible()
    harness.save_screenshot(page, "sign-in", viewport)
    serious = harness.blocking(harness.run_axe(page))
    assert not serious, harness.describe_violations(serious)
    assert not recorder.problems(), recorder.describe_problems()
    assert recorder.requests and recorder.off_origin_requests() == []


def test_anonymous_visitor_is_sent_to_sign_in(recorded_page, app_server):
    page, recorder = recorded_page(app_server, signed_in=False)
    page.goto(app_server.url("/immunisation"))
    assert page.url.startswith(app_server.url("/login")), "an anonymous visitor reached a dashboard page"
    assert recorder.off_origin_requests() == []


def test_admin_audit_log_page_is_clean(recorded_page, app_server):
    page, recorder = recorded_page(app_server, user="demo.admin")
    harness.open_page(page, app_server.url("/admin/audit"), recorder)
    assert "Audit log" in page.locator("h1").inner_text()
    harness.save_screenshot(page, "admin-audit", "desktop")
    serious = harness.blocking(harness.run_axe(page))
    assert not serious, harness.describe_violations(serious)
    assert not recorder.problems(), recorder.describe_problems()
    assert recorder.off_origin_requests() == []


def test_a_session_that_ends_while_a_page_is_open_sends_the_user_to_sign_in(recorded_page, app_server):
    # The server answers 401 once the session has ended; Dash only logged it, so the page kept London's figures
    # under a newly chosen ICB, and a navigation link changed the address but not the page.
    page, recorder = recorded_page(app_server)
    harness.open_page(page, app_server.url("/hypertension"), recorder)
    page.context.clear_cookies()  # the session ends (8 hours, or a sign-out in another tab)
    page.locator("#hyp-icb").select_option(label="North East London")
    page.wait_for_url(lambda url: urllib.parse.urlsplit(url).path == "/login")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
    assert query["next"][0].startswith("/hypertension"), query
    assert "Your session has ended" in page.locator("main").inner_text()
    assert recorder.off_origin_requests() == []


def test_sign_out_is_a_navbar_button_that_looks_like_the_links_and_signs_out(recorded_page, app_server, chromium):
    # Sign-out is a POST with the session's CSRF token (a GET link let any other site sign the user out).
    # It ends the session on the server for every copy of its cookie, so this test signs out a session of
    # its own: the shared one, ended, sent every later test to the sign-in page.
    user = "demo.commissioner"
    app_server.sign_in(chromium, user, "demo-commissioner", default=False)
    try:
        page, recorder = recorded_page(app_server, user=user)
        harness.open_page(page, app_server.url("/hypertension"), recorder)
        button = page.locator("#nav-sign-out")
        link = page.locator("nav a.nav-link").first
        style = (
            "e => {const s = getComputedStyle(e); return [s.color, s.fontSize, s.fontFamily, s.paddingTop, s.border]}"
        )
        assert button.evaluate(style) == link.evaluate(style)
        button_box, link_box = button.bounding_box(), link.bounding_box()
        assert abs(button_box["y"] - link_box["y"]) < 1 and abs(button_box["height"] - link_box["height"]) < 1
        button.click()
        page.wait_for_url(lambda url: urllib.parse.urlsplit(url).path == "/login")
        assert "You have signed out" in page.locator("main").inner_text()
        page.goto(app_server.url("/asthma"))
        assert urllib.parse.urlsplit(page.url).path == "/login", "still signed in after signing out"
    finally:
        app_server.sessions.pop(user, None)  # ended: the next test acting as this user signs in anew
