"""The hypertension page in real headless Chromium: the commissioner's comparison, targets, inequality and practices.

Main flow: open /hypertension, read the KPI cards and the rule version, switch the indicator (the
borough map is recoloured in place and the address follows), pick an ICB (its boroughs are picked
out), switch the funnel to practices, read the people-to-target table and download it, read the
inequality charts, then choose a borough and see its practices ranked and its SPC trend. Every
step: no console errors, no request leaving the app, no serious accessibility violations.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser import harness

pytestmark = pytest.mark.browser

TRACES = """selector => Array.from(document.querySelector(selector + ' .js-plotly-plot')._fullData, t => ({
    name: t.name, type: t.type,
    locations: t.locations ? Array.from(t.locations) : null,
    x: t.x ? Array.from(t.x, v => (v === null || v === undefined || Number.isNaN(v) ? null : v)) : null,
    y: t.y ? Array.from(t.y, v => (v === null || v === undefined || Number.isNaN(v) ? null : v)) : null,
    z: t.z ? Array.from(t.z, v => (Number.isFinite(v) ? v : null)) : null,
}))"""


def choose(page, select_id: str, option: str) -> None:
    """Pick ``option`` (its visible label) in one of the page's native selects."""
    page.locator(f"#{select_id}").select_option(label=option)


def content_violations(page) -> list[dict]:
    """Serious or critical axe violations inside the page content (the shell is checked by test_pages)."""
    harness.run_axe(page)  # injects axe
    found = page.evaluate(
        """async () => {
            const result = await axe.run('#_pages_content', {resultTypes: ['violations']});
            return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                                nodes: v.nodes.map(n => n.target.join(' '))}));
        }"""
    )
    return harness.blocking(found)


def assert_clean(recorder) -> None:
    assert recorder.off_origin_requests() == []
    assert recorder.problems() == []


def open_tab(page, recorder, label: str) -> None:
    page.get_by_role("group", name="Views").locator("label", has_text=label).click()  # the radio's button-styled label
    assert page.get_by_role("radio", name=label, exact=True).is_checked()
    harness.wait_until_settled(page, recorder)


def test_commissioner_compares_boroughs_targets_inequality_and_practices(recorded_page, app_server):
    page, recorder = recorded_page(app_server, "desktop")
    harness.open_page(page, app_server.url("/hypertension"), recorder)
    assert page.locator("h1").inner_text() == "Hypertension"

    # KPI cards carry numbers; the rule card names the QOF rule version.
    cards = page.locator("#hyp-kpis").inner_text()
    assert re.search(r"\d+\.\d%", cards) and "HYP008" in cards, cards
    assert "QOF business rules v50" in page.locator("#hyp-rule").inner_text()
    before = page.evaluate(TRACES, "#hyp-borough-map")[0]
    assert len(before["locations"]) == 33 and any(v is not None for v in before["z"])

    # Another indicator: the map is recoloured in place and the address bar follows.
    choose(page, "hyp-indicator", "Hypertension aged 80 or over with BP at or below 150/90 (HYP009)")
    harness.wait_until_settled(page, recorder)
    page.wait_for_function("() => window.location.search.includes('indicator=hyp009')")
    after = page.evaluate(TRACES, "#hyp-borough-map")[0]
    assert after["locations"] == before["locations"] and after["z"] != before["z"], "the map was not recoloured"
    assert "HYP009" in page.locator("#hyp-rule").inner_text()

    # An ICB: its boroughs are outlined on the map and bold on the ranked chart.
    choose(page, "hyp-icb", "North East London")
    harness.wait_until_settled(page, recorder)
    assert parse_qs(urlsplit(page.url).query).get("icb") == ["E54000029"]
    bold = page.locator("#hyp-borough-ranked .ytick text").evaluate_all(
        "nodes => nodes.filter(n => n.innerHTML.includes('font-weight:bold') || n.querySelector('tspan[style*=bold]'))"
        ".map(n => n.textContent)"
    )
    assert "Newham ◀" in bold and "Hackney ◀" in bold, bold

    # The funnel of practices holds many more points than the funnel of boroughs (prevalence: every
    # registered patient counts, so practices are rarely suppressed even in a small test database).
    choose(page, "hyp-indicator", "Hypertension register prevalence (HYP001)")
    harness.wait_until_settled(page, recorder)
    boroughs_plotted = sum(
        len(t["x"] or [])
        for t in page.evaluate(TRACES, "#hyp-funnel")
        if t["name"] != "95% limits" and t["name"] != "99.8% limits"
    )
    page.get_by_role("radio", name="Practices", exact=True).check()
    harness.wait_until_settled(page, recorder)
    practices_plotted = sum(
        len(t["x"] or [])
        for t in page.evaluate(TRACES, "#hyp-funnel")
        if t["name"] not in ("95% limits", "99.8% limits")
    )
    assert practices_plotted > boroughs_plotted > 0
    assert not content_violations(page)

    # People to target: one row per borough of the ICB (and the ICB total), and its CSV holds the same areas.
    open_tab(page, recorder, "People to target")
    table = page.locator("#hyp-target-rows tbody tr")
    shown_names = [table.nth(i).locator("td").first.inner_text() for i in range(table.count())]
    assert shown_names[0] == "All selected" and "Newham" in shown_names
    # The ICB's table fits a desktop screen: its thirteen columns scrolled ~28 px sideways at 1280 px.
    overflowing = page.locator("#hyp-target-table").evaluate(
        "el => [el, ...el.querySelectorAll('*')]"
        ".filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible')"
        ".map(e => `${e.className}: ${e.scrollWidth} px in ${e.clientWidth}`)"
    )
    assert overflowing == []
    with page.expect_download() as download:
        page.locator("#hyp-target-table").locator("xpath=..").get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert [r["area_name"] for r in rows] == shown_names
    harness.save_screenshot(page, "hypertension-targets", "desktop")

    # Inequality for the ICB: control by ethnic group includes Black patients; the SII map has every borough.
    open_tab(page, recorder, "Inequality")
    assert "North East London" in page.locator("#hyp-inequality-area").inner_text()
    ethnic = [x for t in page.evaluate(TRACES, "#hyp-ineq-ethnicity") for x in (t["x"] or [])]
    assert "Black" in ethnic and "White" in ethnic
    assert len(page.evaluate(TRACES, "#hyp-sii-map")[0]["locations"]) == 33
    assert not content_violations(page)
    harness.save_screenshot(page, "hypertension-inequality", "desktop")

    # Practices: choose a borough, see its practices ranked and its trend.
    open_tab(page, recorder, "Practices and trend")
    choose(page, "hyp-borough", "Newham")
    harness.wait_until_settled(page, recorder)
    ranked = [y for t in page.evaluate(TRACES, "#hyp-practice-ranked") for y in (t["y"] or [])]
    assert len(ranked) > 1
    assert "Newham" in page.locator("#hyp-trend-title").inner_text()
    trend_points = [
        y
        for t in page.evaluate(TRACES, "#hyp-trend")
        if t["name"] and "cause" in t["name"]
        for y in (t["y"] or [])
        if y is not None
    ]
    assert len(trend_points) >= 4
    assert parse_qs(urlsplit(page.url).query).get("tab") == ["practices"]
    harness.save_screenshot(page, "hypertension-practices", "desktop")
    assert_clean(recorder)


def test_the_rule_cards_definition_stays_as_the_reader_left_it_when_the_indicator_changes(recorded_page, app_server):
    """Each indicator drew a new card, so a definition the reader had opened closed again at every change."""
    page, recorder = recorded_page(app_server, "phone")
    harness.open_page(page, app_server.url("/hypertension"), recorder)
    details, summary = page.locator("#hyp-rule details"), page.locator("#hyp-rule summary")
    rule_posts = []  # the callback requests that fill the card
    page.on(
        "request",
        lambda r: (
            rule_posts.append(r) if "_dash-update-component" in r.url and "hyp-rule" in (r.post_data or "") else 0
        ),
    )

    # From the indicator select, Tab reaches the toggle and Space opens it.
    page.locator("#hyp-indicator").focus()
    for _ in range(12):
        if page.evaluate("() => document.activeElement.matches('#hyp-rule summary')"):
            break
        page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.matches('#hyp-rule summary')"), "Tab never reached the toggle"
    page.keyboard.press("Space")
    assert details.evaluate("el => el.open")
    assert "140/90 clinic" in page.locator("#hyp-rule-definition").inner_text()

    # Another indicator: the card says what it counts, and the definition is still open.
    choose(page, "hyp-indicator", "Hypertension aged 80 or over with BP at or below 150/90 (HYP009)")
    harness.wait_until_settled(page, recorder)
    page.wait_for_function("() => document.querySelector('#hyp-rule-definition').textContent.includes('150/90 clinic')")
    assert details.evaluate("el => el.open"), "the definition the reader opened closed itself"
    assert "HYP009" in page.locator("#hyp-rule-title").inner_text()
    assert len(rule_posts) == 1, "one request fills the card, as before"
    harness.save_screenshot(page, "hypertension-rule-open-after-change", "phone")

    # Closed with Enter, it stays closed on the next change.
    summary.focus()
    page.keyboard.press("Enter")
    assert details.evaluate("el => !el.open")
    choose(page, "hyp-indicator", "Hypertension aged 79 or under with BP at or below 140/90 (HYP008)")
    harness.wait_until_settled(page, recorder)
    page.wait_for_function("() => document.querySelector('#hyp-rule-definition').textContent.includes('140/90 clinic')")
    assert details.evaluate("el => !el.open")
    assert_clean(recorder)


def test_a_shared_link_opens_the_same_view_and_fits_a_phone(recorded_page, app_server):
    link = "/hypertension?indicator=hyp_detection_ratio&icb=E54000029&borough=E09000025&tab=inequality"
    page, recorder = recorded_page(app_server, "phone")
    harness.open_page(page, app_server.url(link), recorder)
    assert "Hypertension detection" in page.locator("#hyp-indicator").inner_text()
    assert page.locator("#hyp-inequality-area").inner_text().startswith("Selected area: Newham")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a phone"
    # The rule card's definition is folded: open, it took most of the first screen before any figure.
    assert page.locator("#hyp-rule details").evaluate("el => !el.open")
    rule = page.locator("#hyp-rule").bounding_box()
    assert rule["height"] < 200, f"the rule card is {rule['height']}px tall on a phone"
    harness.save_screenshot(page, "hypertension-shared-link", "phone")
    assert_clean(recorder)


# Visible graphs whose box is not as tall as their figure: Plotly's resize drops a figure's height and,
# on a graph redrawn while shown, sized the paper to 100% of a container only as tall as the paper,
# so the graph collapsed to 0 px and its chart spilled over the tables and footer below it.
COLLAPSED_GRAPHS = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .filter(gd => gd.offsetParent !== null && gd._fullLayout)
    .filter(gd => Math.abs(gd.getBoundingClientRect().height - gd._fullLayout.height) > 2)
    .map(gd => `${gd.parentElement.id}: ${Math.round(gd.getBoundingClientRect().height)}px box, `
        + `${gd._fullLayout.height}px figure`)"""


def test_charts_keep_their_height_when_a_view_opens_and_the_window_resizes(recorded_page, app_server):
    page, recorder = recorded_page(app_server, "desktop")
    harness.open_page(page, app_server.url("/hypertension"), recorder)
    open_tab(page, recorder, "People to target")  # the chart is redrawn while shown, then resized
    assert page.evaluate(COLLAPSED_GRAPHS) == []
    page.set_viewport_size(harness.VIEWPORTS["phone"])  # every shown graph is resized to the new width
    page.wait_for_timeout(1000)  # Plotly debounces a resize by 100 ms; the redraw follows
    harness.wait_until_settled(page, recorder)
    assert page.evaluate(COLLAPSED_GRAPHS) == []
    open_tab(page, recorder, "Borough comparison")
    assert page.evaluate(COLLAPSED_GRAPHS) == []
    assert_clean(recorder)
