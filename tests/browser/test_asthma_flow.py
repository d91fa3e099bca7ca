"""The asthma page in real headless Chromium: a commissioner's main flow, and a GP team's patient list.

Commissioner: open /asthma, read the KPI cards and the rule, switch the measure (the borough map is
recoloured in place and the address follows), switch the map to practice areas, open prescribing
safety (thresholds, children vs adults), open "Before admission" and download its CSV (the rows on the
chart), and find the patient list view holding only the message that the role sees aggregates. GP team:
the list offers their own practice only. Every step: no console errors, no request leaving the app, no
serious accessibility violations in the content.
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


def open_tab(page, recorder, label: str) -> None:
    page.get_by_role("group", name="Views").locator("label", has_text=label).click()  # the radio's button-styled label
    assert page.get_by_role("radio", name=label, exact=True).is_checked()
    harness.wait_until_settled(page, recorder)


def assert_clean(recorder) -> None:
    assert recorder.off_origin_requests() == []
    assert recorder.problems() == []


def test_commissioner_reads_areas_safety_and_the_year_before_admission(recorded_page, app_server):
    page, recorder = recorded_page(app_server, "desktop")
    harness.open_page(page, app_server.url("/asthma"), recorder)
    assert page.locator("h1").inner_text() == "Asthma"
    assert re.search(r"\d+\.\d%", page.locator("#ast-kpis").inner_text())
    # The definition is folded under its toggle (the figures first); the keyboard opens it.
    toggle = page.locator("#ast-rule summary")
    assert toggle.inner_text() == "How this is counted" and "Sources" not in page.locator("#ast-rule").inner_text()
    toggle.focus()
    page.keyboard.press("Enter")
    assert page.locator("#ast-rule details").evaluate("el => el.open")
    assert "NHS Scotland respiratory prescribing strategy" in page.locator("#ast-rule").inner_text()
    before = page.evaluate(TRACES, "#ast-map")[0]
    assert len(before["locations"]) == 33 and any(v is not None for v in before["z"])

    # Another measure: recoloured in place, the rule follows, the address bar keeps the choice.
    page.locator("#ast-measure").select_option(label="Asthma review in the last 12 months")
    harness.wait_until_settled(page, recorder)
    page.wait_for_function("() => window.location.search.includes('measure=ast_review_12m')")
    after = page.evaluate(TRACES, "#ast-map")[0]
    assert after["locations"] == before["locations"] and after["z"] != before["z"], "the map was not recoloured"
    # The definition the reader opened stays open: the card's text changes in place.
    page.wait_for_function("() => document.querySelector('#ast-rule').innerText.includes('REV_COD')")
    assert page.locator("#ast-rule details").evaluate("el => el.open"), "the opened definition closed itself"

    # Practice areas: every London practice is an area on the map.
    page.get_by_role("radio", name="Practice areas", exact=True).check()
    harness.wait_until_settled(page, recorder)
    assert len(page.evaluate(TRACES, "#ast-map")[0]["locations"]) > 1000
    assert parse_qs(urlsplit(page.url).query).get("level") == ["practice"]
    assert not content_violations(page)

    # Prescribing safety: the four measures on the threshold chart, children and adults side by side.
    open_tab(page, recorder, "Prescribing safety")
    categories = {x for t in page.evaluate(TRACES, "#ast-thresholds") for x in (t["x"] or [])}
    assert {"SABA 3+", "SABA 6+", "SABA 12+", "SABA, no ICS"} <= categories
    ages = {x for t in page.evaluate(TRACES, "#ast-age-groups") for x in (t["x"] or [])}
    assert {"Children (6-17)", "Adults (18+)"} <= ages
    harness.save_screenshot(page, "asthma-safety", "desktop")

    # Before admission: London on the chart; the CSV holds the chart's rows with the four measures.
    open_tab(page, recorder, "Before admission")
    on_chart = {y for t in page.evaluate(TRACES, "#ast-linked") for y in (t["y"] or [])}
    assert "London" in on_chart
    with page.expect_download() as download:
        page.locator('button[title="Download the linked as CSV"]').click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    london = [r for r in rows if r["area_name"] == "London"]
    assert {r["measure"] for r in london} == {"saba_over", "no_review", "no_plan", "any_gap"}
    assert {r["area_name"] for r in rows if r["suppressed"] == "False"} == on_chart
    table = page.locator("#ast-linked-rows").inner_text()
    assert "London" in table and "Patients admitted" in table
    assert not content_violations(page)
    harness.save_screenshot(page, "asthma-before-admission", "desktop")

    # The patient list is for GP teams and campaign responders only: the view says so and offers nothing that
    # could only refuse (a practice picker, a threshold, Show patients and a download did).
    open_tab(page, recorder, "Patient list")
    view = page.locator("#ast-list-view")
    assert "aggregate figures only" in view.inner_text()
    assert view.locator("select, input, button, table").count() == 0
    assert page.locator("#ast-list-practice, #ast-list-show, #ast-list-export, #ast-patient-rows").count() == 0
    assert not content_violations(page)
    harness.save_screenshot(page, "asthma-patient-list-aggregate-only", "desktop")
    assert_clean(recorder)


def test_gp_team_lists_its_own_practice(recorded_page, app_server):
    page, recorder = recorded_page(app_server, "phone", user="demo.gp")
    harness.open_page(page, app_server.url("/asthma?tab=patients"), recorder)
    harness.wait_until_settled(page, recorder)
    options = page.locator("#ast-list-practice option").evaluate_all("nodes => nodes.map(n => n.value)")
    assert [o for o in options if o] == ["E83003"]
    page.get_by_role("button", name="Show patients").click()
    harness.wait_until_settled(page, recorder)
    assert re.search(
        r"\d+ patients? with 3\+ SABA inhalers and no ICS at E83003, .* \(at most 500\)",
        page.locator("#ast-list-message").inner_text(),
    )
    # The list is wider than a phone: a line above it says so, or its last columns go unseen.
    assert page.locator("#ast-patient-rows").evaluate("el => el.scrollWidth > el.parentElement.clientWidth")
    assert page.locator("#ast-list-table .scroll-hint").is_visible()
    assert not content_violations(page)
    harness.save_screenshot(page, "asthma-patient-list", "phone")
    assert_clean(recorder)


SIZED_TO_THEIR_BOXES = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .filter(gd => gd.offsetParent !== null && gd._fullLayout)
    .every(gd => Math.abs(gd._fullLayout.width - gd.getBoundingClientRect().width) <= 2)"""


def test_every_view_reads_on_a_phone(recorded_page, app_server):
    # Chart text cut off or drawn over other text, in each view as a phone draws it (the safety view's
    # threshold axis title ran 14 px off its chart).
    page, recorder = recorded_page(app_server, "phone")
    harness.open_page(page, app_server.url("/asthma"), recorder)
    labels = page.get_by_role("group", name="Views").locator("label").all_inner_texts()
    for label in [text.strip() for text in labels if text.strip() != "Patient list"]:
        open_tab(page, recorder, label)
        # A chart drawn in a hidden pane is redrawn to the pane's width once shown (Plotly waits 100 ms first).
        page.wait_for_function(SIZED_TO_THEIR_BOXES)
        assert page.evaluate(harness.CHART_TEXT_PROBLEMS) == [], label
    assert_clean(recorder)
