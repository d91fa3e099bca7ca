"""The overview's borough map draws every borough, offline, and its table alternative works by keyboard."""

from __future__ import annotations

import base64
import contextlib

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser import harness

pytestmark = pytest.mark.browser

BOROUGHS = 33
MAP_GRAPH = "#overview-map .js-plotly-plot"

# MapLibre's own view of what it drew. The area trace (data[0]) lists every borough; a suppressed
# borough has no value (not drawn, the grey underlay shows) and a marker in the scattermap trace
# instead (a marker without a position only holds the legend entry). Plotly names its layers
# 'plotly-trace-layer-<uid>-fill|circle' and gives each rendered fill feature its borough's
# centroid ('ct') and fill colour ('fc') as properties.
RENDERED_BOROUGHS = """() => {
    const gd = document.querySelector('#overview-map .js-plotly-plot');
    const map = gd._fullLayout.map._subplot.map;
    const areas = gd._fullData[0];
    const markers = gd._fullData.filter(t => t.type === 'scattermap');
    const features = map.queryRenderedFeatures();
    const fills = features.filter(f => f.layer.id === `plotly-trace-layer-${areas.uid}-fill`);
    const circles = features.filter(f => markers.some(t => f.layer.id === `plotly-trace-layer-${t.uid}-circle`));
    return {
        areas: areas.locations.length,
        valued: Array.from(areas.z).filter(Number.isFinite).length,
        suppressed: markers.reduce((n, t) => n + Array.from(t.lat).filter(Number.isFinite).length, 0),
        filled: new Set(fills.map(f => JSON.stringify(f.properties.ct))).size,
        marked: circles.length,
        colours: new Set(fills.map(f => f.properties.fc)).size,
    };
}"""

# Decode a PNG in the page and count its distinct colours (no imaging library needed in Python).
DISTINCT_COLOURS = """async (dataUrl) => {
    const image = new Image();
    image.src = dataUrl;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const pixels = context.getImageData(0, 0, image.width, image.height).data;
    const colours = new Set();
    for (let i = 0; i < pixels.length; i += 4) colours.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
    return colours.size;
}"""


@pytest.fixture
def overview(recorded_page, app_server):
    page, recorder = recorded_page(app_server, "desktop")
    harness.open_page(page, app_server.url("/"), recorder)
    return page, recorder


def test_borough_map_draws_every_borough_offline(overview):
    page, recorder = overview
    canvas = page.locator(f"{MAP_GRAPH} canvas.maplibregl-canvas")
    assert canvas.count() == 1
    box = canvas.bounding_box()
    assert box["width"] > 300 and box["height"] > 300

    # The boundaries come by URL after Dash has settled, and assets/map_fit.js moves the camera once they are
    # drawn: until MapLibre renders the fitted view, outer boroughs are off screen (29 of 33 filled, once in
    # CI). Waited for up to 10 s; on a timeout the assertions below say what was drawn.
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(
            f"() => {{ const d = ({RENDERED_BOROUGHS})(); "
            "return d.filled === d.valued && d.marked === d.suppressed; }",
            timeout=10_000,
        )
    drawn = page.evaluate(RENDERED_BOROUGHS)
    assert drawn["areas"] == BOROUGHS
    assert drawn["valued"] + drawn["suppressed"] == BOROUGHS, f"every borough has a value or a marker: {drawn}"
    assert drawn["filled"] == drawn["valued"], f"MapLibre did not fill every borough with a value: {drawn}"
    assert drawn["marked"] == drawn["suppressed"], f"MapLibre did not mark every suppressed borough: {drawn}"
    assert drawn["colours"] > 1, "every borough has the same colour: the values did not reach the map"

    # The pixels themselves: a blank or single-colour canvas has a handful of colours, a choropleth hundreds.
    png = base64.b64encode(page.locator(MAP_GRAPH).screenshot()).decode()
    assert page.evaluate(DISTINCT_COLOURS, f"data:image/png;base64,{png}") > 50

    assert recorder.off_origin_requests() == []
    assert not recorder.problems(), recorder.describe_problems()


# The focused element's role (ARIA role, or 'radio' for a native radio button) and accessible name.
FOCUSED = """() => {
    const element = document.activeElement;
    if (!element || element === document.body) return {role: null, name: null};
    const role = element.getAttribute('role') || (element.type === 'radio' ? 'radio' : element.tagName.toLowerCase());
    const label = element.labels && element.labels.length ? element.labels[0] : element;
    return {role, name: label.textContent.trim()};
}"""
SWITCH_ROLES = ("tab", "radio")


def test_map_table_alternative_is_reachable_by_keyboard(overview):
    """A keyboard user reaches the Map/Table switch with Tab, moves to "Table" with the arrow keys, opens it,
    and tabs on into the table, whose scrolling region takes focus.

    The switch may be WAI-ARIA tabs (arrows move, Enter opens) or native radio buttons (arrows select).
    """
    page, _ = overview
    for _ in range(40):  # skip link, brand, nav links, filters, then the switch
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused["role"] in SWITCH_ROLES and focused["name"] in ("Map", "Table"):
            break
    else:
        raise AssertionError("the Map/Table switch cannot be reached with the Tab key")

    for _ in range(3):
        if page.evaluate(FOCUSED)["name"] == "Table":
            break
        page.keyboard.press("ArrowRight")
    focused = page.evaluate(FOCUSED)
    assert focused["name"] == "Table", f"the arrow keys do not move along the Map/Table switch (at {focused})"
    page.keyboard.press("Enter" if focused["role"] == "tab" else "Space")

    table = page.locator("#overview-table")
    table.wait_for(state="visible")
    assert table.locator("tbody tr").count() == BOROUGHS

    region = page.get_by_role("region", name="Registered patients and practices by borough")
    for _ in range(5):
        page.keyboard.press("Tab")
        if region.evaluate("element => element === document.activeElement"):
            break
    assert region.evaluate("element => element === document.activeElement"), "the table region never takes focus"


@pytest.mark.parametrize("viewport", list(harness.VIEWPORTS))
def test_borough_map_shows_all_of_london(recorded_page, app_server, viewport):
    page, recorder = recorded_page(app_server, viewport)
    harness.open_page(page, app_server.url("/"), recorder)
    shown = harness.london_shown(page, "#overview-map .js-plotly-plot")
    assert shown > 0.99, f"only {shown:.0%} of London fits in the map at {viewport}: outer boroughs are cut off"
    # The colour bar runs under the map: down its side it took about a quarter of a phone's width.
    map_width, chart_width = page.evaluate(
        """() => { const gd = document.querySelector('#overview-map .js-plotly-plot');
                   return [gd.querySelector('.maplibregl-map').getBoundingClientRect().width,
                           gd.getBoundingClientRect().width]; }"""
    )
    assert map_width >= 0.9 * chart_width, f"the map is {map_width:.0f} of {chart_width:.0f} px at {viewport}"


# London's drawn box inside the map at ``selector``, in px: how much map shows above and below it, and how
# much of the band below is the legend's (assets/map_fit.js keeps London clear of it on a phone).
LONDON_BANDS = """(selector) => {
    const gd = document.querySelector(selector);
    const map = gd._fullLayout.map._subplot.map;
    const [southWest, northEast] = gd.layout.meta.fit_bounds.map(corner => map.project(corner));
    const container = map.getContainer();
    const legend = gd._fullLayout.showlegend && gd.querySelector('.legend');
    const legendBox = legend ? legend.getBoundingClientRect() : null;
    const underLondon = legendBox && legendBox.top >= container.getBoundingClientRect().top + southWest.y - 1;
    return {above: northEast.y, below: container.clientHeight - southWest.y,
            legend: underLondon ? legendBox.height : 0};
}"""


@pytest.mark.parametrize("viewport", list(harness.VIEWPORTS))
def test_borough_map_has_no_empty_band_on_a_narrow_screen(recorded_page, app_server, viewport):
    """On a phone London (wider than tall) fills the map's width: the map is only as tall as that needs,
    with no white band between London and the colour bar; on a desktop it keeps the server's height."""
    page, recorder = recorded_page(app_server, viewport)
    harness.open_page(page, app_server.url("/"), recorder)
    selector = "#overview-map .js-plotly-plot"
    assert harness.london_shown(page, selector) > 0.99
    # The height is fitted once the map has drawn; on a timeout the assertion below says what shows.
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(
            f"() => {{ const b = ({LONDON_BANDS})('{selector}'); return b.above < 30 || b.below - b.legend < 30; }}",
            timeout=10_000,
        )

    bands = page.evaluate(LONDON_BANDS, selector)
    if viewport == "phone":
        empty_below = bands["below"] - bands["legend"]
        assert max(bands["above"], empty_below) < 30, f"white bands above and below London on a phone: {bands}"
    else:
        figure_height = page.evaluate(f"() => document.querySelector('{selector}')._fullLayout.height")
        assert figure_height == 560, f"the desktop map is {figure_height} px tall, not the server's 560"
