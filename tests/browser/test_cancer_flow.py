"""The cancer page in real headless Chromium: waits by area and trust, pathway flow, inequality and trend.

Main flow (an analyst, who sees unrounded counts: at the test database's small scale a commissioner's
Sankey would be almost all suppressed links): open /cancer for the latest financial year, read the KPI cards and the
CWT rule version; the map has 33 boroughs and the trusts as points; choose a tumour group (the map
is recoloured in place, the address follows); open the flow view (Sankey nodes and the 28-day
line on the told histogram), pick a trust, download the waits table; read the inequality charts
and the SII map; see the trend with the operational target path. Every step: no console errors,
no request leaving the app, no serious accessibility violations in the page content.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser import harness

pytestmark = pytest.mark.browser

TRACES = """selector => Array.from(document.querySelector(selector + ' .js-plotly-plot')._fullData, t => ({
    name: t.name, type: t.type,
    locations: t.locations ? Array.from(t.locations) : null,
    lat: t.lat ? Array.from(t.lat) : null,
    x: t.x ? Array.from(t.x, v => (v === null || v === undefined || Number.isNaN(v) ? null : v)) : null,
    y: t.y ? Array.from(t.y, v => (v === null || v === undefined || Number.isNaN(v) ? null : v)) : null,
    z: t.z ? Array.from(t.z, v => (Number.isFinite(v) ? v : null)) : null,
    labels: t.node && t.node.label ? Array.from(t.node.label) : null,
    nodes: t.node && t.node.customdata ? Array.from(t.node.customdata) : null,
}))"""


def choose(page, select_id: str, option: str) -> None:
    """Pick ``option`` (its visible label) in one of the page's native selects."""
    page.locator(f"#{select_id}").select_option(label=option)


def content_violations(page) -> list[dict]:
    """Serious or critical axe violations inside the page content (the shell is checked by test_pages)."""
    harness.run_axe(page)
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


def test_analyst_reads_waits_by_area_and_trust_flow_inequality_and_trend(recorded_page, app_server):
    page, recorder = recorded_page(app_server, "desktop", user="demo.analyst")
    harness.open_page(page, app_server.url("/cancer?period=2025-26"), recorder)
    assert page.locator("h1").inner_text() == "Cancer pathways"
    cards = page.locator("#cancer-kpis").inner_text()
    assert re.search(r"\d+\.\d%", cards) and "FASTER DIAGNOSIS" in cards.upper(), cards
    assert "CWT monitoring dataset guidance v12.1" in page.locator("#cancer-rule").inner_text()

    traces = page.evaluate(TRACES, "#cancer-map")
    assert len(traces[0]["locations"]) == 33 and any(v is not None for v in traces[0]["z"])
    trusts = [t for t in traces if t["name"] and t["name"].startswith("Trusts")]
    assert trusts and len(trusts[0]["lat"]) >= 10, "trusts are not drawn as points"
    ranked = [y for t in page.evaluate(TRACES, "#cancer-trust-ranked") for y in (t["y"] or [])]
    assert len(ranked) >= 10
    assert not content_violations(page)
    harness.save_screenshot(page, "cancer-areas", "desktop")

    # A tumour group: the borough map is recoloured in place and the address follows.
    choose(page, "cancer-tumour", "Breast")
    harness.wait_until_settled(page, recorder)
    page.wait_for_function("() => window.location.search.includes('tumour=breast')")
    after = page.evaluate(TRACES, "#cancer-map")[0]
    assert after["locations"] == traces[0]["locations"] and after["z"] != traces[0]["z"]
    choose(page, "cancer-tumour", "All tumour groups")
    harness.wait_until_settled(page, recorder)

    # Pathway flow: residence -> first seen -> treated; the told histogram with its 28-day line.
    open_tab(page, recorder, "Pathway flow and waits")
    sankey = page.evaluate(TRACES, "#cancer-sankey")[0]
    nodes, labels = sankey["nodes"], sankey["labels"]  # whole names (hover) and what is written beside each node
    assert any("(first seen)" in n for n in nodes) and any("(treated)" in n for n in nodes), nodes
    assert max(len(label) for label in labels) <= 24 and not any("(" in label for label in labels), labels
    assert "treated pathways" in page.locator("#cancer-crossing").inner_text()
    assert "28 days" in page.locator("#cancer-told-waits").inner_text()
    assert "62 days" in page.locator("#cancer-treated-waits").inner_text()
    london_bars = sum(v or 0 for t in page.evaluate(TRACES, "#cancer-told-waits") for v in (t["y"] or []))
    choose(page, "cancer-trust", "Barts Health")
    harness.wait_until_settled(page, recorder)
    assert parse_qs(urlsplit(page.url).query).get("trust") == ["R1H"]
    trust_bars = sum(v or 0 for t in page.evaluate(TRACES, "#cancer-told-waits") for v in (t["y"] or []))
    assert 0 < trust_bars < london_bars
    table = page.locator("#cancer-wait-rows tbody tr")
    shown = [table.nth(i).locator("td").first.inner_text() for i in range(table.count())]
    assert shown[0] == "London" and "Barts Health" in shown
    with page.expect_download() as download:
        page.locator("#cancer-wait-table").locator("xpath=..").get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert {"told", "treated"} == {r["measure"] for r in rows}
    assert not content_violations(page)
    harness.save_screenshot(page, "cancer-flow", "desktop")

    # Inequality: early stage by deprivation quintile; the SII map has every borough.
    open_tab(page, recorder, "Inequality")
    groups = [x for t in page.evaluate(TRACES, "#cancer-ineq-imd") for x in (t["x"] or [])]
    assert any("Q1" in str(x) for x in groups), groups
    assert len(page.evaluate(TRACES, "#cancer-sii-map")[0]["locations"]) == 33
    assert not content_violations(page)

    # Trend: monthly SPC with the operational target path, for London and the chosen trust.
    open_tab(page, recorder, "Trend")
    london = page.evaluate(TRACES, "#cancer-trend-london")
    assert any(t["name"] == "Operational target in force" for t in london)
    points = [y for t in london if t["name"] and "cause" in t["name"] for y in (t["y"] or []) if y is not None]
    assert len(points) >= 12
    assert any(t["name"] == "Operational target in force" for t in page.evaluate(TRACES, "#cancer-trend-trust"))
    harness.save_screenshot(page, "cancer-trend", "desktop")
    assert recorder.off_origin_requests() == []
    assert recorder.problems() == []


def test_a_shared_link_opens_the_same_view_for_a_commissioner_and_fits_a_phone(recorded_page, app_server):
    link = "/cancer?indicator=cwt_62d&period=2025-26&tumour=lung&trust=RJ1&tab=flow"
    page, recorder = recorded_page(app_server, "phone")
    harness.open_page(page, app_server.url(link), recorder)
    assert page.locator("#cancer-indicator").input_value() == "cwt_62d"
    assert page.locator("#cancer-tumour").input_value() == "lung"
    assert page.get_by_role("radio", name="Pathway flow and waits", exact=True).is_checked()
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a phone"
    harness.save_screenshot(page, "cancer-shared-link", "phone")
    assert recorder.off_origin_requests() == []
    assert recorder.problems() == []


# The map's legend and London's fitted box on screen, in page px; whether the two overlap.
LEGEND_AND_LONDON = """(selector) => {
    const gd = document.querySelector(selector);
    const map = gd._fullLayout.map._subplot.map;
    const [southWest, northEast] = gd.layout.meta.fit_bounds.map(corner => map.project(corner));
    const origin = map.getContainer().getBoundingClientRect();
    const london = {left: origin.left + southWest.x, right: origin.left + northEast.x,
                    top: origin.top + northEast.y, bottom: origin.top + southWest.y};
    const legend = gd.querySelector('.legend').getBoundingClientRect();
    const overlap = legend.left < london.right && legend.right > london.left
        && legend.top < london.bottom && legend.bottom > london.top;
    return {overlap, london, legend: {left: legend.left, right: legend.right, top: legend.top, bottom: legend.bottom},
            height: gd._fullLayout.height};
}"""


@pytest.mark.parametrize("viewport", list(harness.VIEWPORTS))
def test_the_map_legend_never_covers_london(recorded_page, app_server, viewport):
    """The trusts' legend sits over the map's bottom-left corner. On a phone London fills the map's width and the
    legend covered the southern boroughs: there London is now fitted above it. A desktop map keeps its height."""
    page, recorder = recorded_page(app_server, viewport)
    harness.open_page(page, app_server.url("/cancer"), recorder)
    selector = "#cancer-map .js-plotly-plot"
    assert harness.london_shown(page, selector) > 0.99
    # The fit follows the map's drawing; on a timeout the assertion below says where the two are.
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(f"() => !({LEGEND_AND_LONDON})('{selector}').overlap", timeout=10_000)
    placed = page.evaluate(LEGEND_AND_LONDON, selector)
    assert not placed["overlap"], placed
    if viewport == "desktop":
        assert placed["height"] == 520, f"the desktop map is {placed['height']} px tall, not the server's 520"
    assert recorder.problems() == []
