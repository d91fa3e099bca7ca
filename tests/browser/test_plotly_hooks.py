"""The four chart scripts share one watcher (assets/00_plotly_hooks.js) and still each do their work.

assets/chart_titles.js, map_fit.js, narrow_charts.js and sankey_labels.js each ran a MutationObserver
over every change to the page to find the charts they adjust after a draw. They now register with one
watcher: the page builds a single observer among the app's own scripts, and on real pages wide titles
take one line, maps are fitted to a phone, phone variants are drawn below 480 px and a phone's Sankey
numbers its trusts with a key.
"""

from __future__ import annotations

import pytest

from tests.browser import harness
from tests.browser.test_cancer_flow import open_tab
from tests.browser.test_overview_map import LONDON_BANDS

pytestmark = pytest.mark.browser

# Runs before any of the page's scripts: notes which of the app's assets (/assets/<name>.js) builds
# each MutationObserver. Libraries (Dash, Plotly, MapLibre) build their own; those are not counted.
COUNT_ASSET_OBSERVERS = """(() => {
    const Native = window.MutationObserver;
    window.__assetObservers = [];
    window.MutationObserver = class extends Native {
        constructor(callback) {
            super(callback);
            const asset = /\\/assets\\/([^?:\\s)]+\\.js)/.exec(new Error().stack || '');
            if (asset) window.__assetObservers.push(asset[1]);
        }
    };
})();"""

# Every chart that carries a phone variant (layout.meta.narrow, components.charts.phone_variant):
# whether it is narrower than 480 px and whether its layout has that width's values.
PHONE_VARIANTS = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .filter(gd => gd.offsetParent !== null && gd.layout.meta && gd.layout.meta.narrow)
    .map(gd => {
        const narrow = gd._fullLayout.width < 480;
        const wanted = (narrow ? gd.layout.meta.narrow : gd.layout.meta.wide).layout || {};
        const value = key => key.replace(/\\[(\\d+)\\]/g, '.$1').split('.')
            .reduce((v, part) => (v === undefined || v === null ? undefined : v[part]), gd.layout);
        // A property the figure never set reads undefined; the variant names it null (Plotly's default).
        const json = v => JSON.stringify(v === undefined ? null : v);
        const drawn = Object.keys(wanted).every(key => json(value(key)) === json(wanted[key]));
        return {id: gd.parentElement.id, narrow, drawn};
    })"""

# Each chart's title as it is now, by the id of its dcc.Graph.
TITLES = """() => Object.fromEntries([...document.querySelectorAll('.js-plotly-plot')]
    .filter(gd => gd.layout.title && typeof gd.layout.title.text === 'string')
    .map(gd => [gd.parentElement.id, gd.layout.title.text]))"""


def visit(recorded_page, app_server, path: str, viewport: str):
    """Open ``path`` as an analyst (who sees the cancer Sankey unrounded), counting the assets' observers."""
    page, recorder = recorded_page(app_server, viewport, user="demo.analyst")
    page.add_init_script(COUNT_ASSET_OBSERVERS)
    harness.open_page(page, app_server.url(path), recorder)
    return page, recorder


def test_one_observer_finds_the_charts_for_titles_maps_phone_variants_and_sankey_labels(recorded_page, app_server):
    # A phone: the map is fitted (all London, no white band), the ranked chart gets its phone variant.
    page, recorder = visit(recorded_page, app_server, "/cancer", "phone")
    assert page.evaluate("() => window.__assetObservers") == ["00_plotly_hooks.js"]
    map_graph = "#cancer-map .js-plotly-plot"
    assert harness.london_shown(page, map_graph) > 0.99, "the map was not fitted to the phone"
    page.wait_for_function(
        f"() => {{ const b = ({LONDON_BANDS})('{map_graph}'); return Math.max(b.above, b.below - b.legend) < 30; }}",
        timeout=10_000,
    )
    page.wait_for_function(f"() => ({PHONE_VARIANTS})().every(chart => chart.drawn)", timeout=10_000)
    variants = page.evaluate(PHONE_VARIANTS)
    assert any(chart["narrow"] for chart in variants), f"no chart with a phone variant below 480 px: {variants}"

    # The Sankey on the same phone: trusts numbered, with a key giving their names.
    open_tab(page, recorder, "Pathway flow and waits")
    page.wait_for_function("() => document.querySelectorAll('.sankey-key li').length > 0", timeout=10_000)
    numbers = page.evaluate(
        "() => [...document.querySelectorAll('#cancer-sankey text.node-label')].map(t => t.textContent)"
        ".filter(text => /^\\d+$/.test(text))"
    )
    key = page.evaluate("() => [...document.querySelectorAll('.sankey-key li')].map(item => String(item.value))")
    assert numbers and set(numbers) <= set(key), (numbers, key)
    assert page.evaluate("() => window.__assetObservers") == ["00_plotly_hooks.js"], "switching views added one"
    assert recorder.problems() == []

    # Titles: the server wraps them for a phone (where they stay wrapped); a desktop's wide chart joins them.
    page, recorder = visit(recorded_page, app_server, "/immunisation", "phone")
    wrapped = {chart for chart, title in page.evaluate(TITLES).items() if "<br>" in title}
    assert wrapped, "no chart title is wrapped on a phone: nothing here shows the join"
    page, recorder = visit(recorded_page, app_server, "/immunisation", "desktop")
    page.wait_for_function(
        "(wrapped) => { const titles = (" + TITLES + ")(); return wrapped.some(c => !titles[c].includes('<br>')); }",
        arg=sorted(wrapped),
        timeout=10_000,
    )
    assert page.evaluate(harness.CHART_TEXT_PROBLEMS) == []
    assert page.evaluate("() => window.__assetObservers") == ["00_plotly_hooks.js"]
    assert recorder.problems() == []


# In a blank page: a hook that counts its runs per chart, and Plotly's afterplot listeners on a chart.
REDRAWS = """async () => {
    const runs = new Map();
    window.plotlyHooks.register({afterDraw: gd => runs.set(gd, (runs.get(gd) || 0) + 1)});
    const settle = () => new Promise(resolve => setTimeout(resolve, 50));  // the observer's turn
    const listeners = gd => gd._ev.listeners('plotly_afterplot').length;
    const slot = document.getElementById('slot');
    const draw = (gd, y) => Plotly.react(gd, [{type: 'bar', y}], {width: 300, height: 200});
    const seen = [];

    const first = document.createElement('div');
    slot.appendChild(first);
    await draw(first, [1, 2]);
    await settle();
    for (const y of [[2, 1], [3, 1], [1, 3]]) await draw(first, y);  // Plotly.react on the same div
    await settle();
    seen.push({runs: runs.get(first), listeners: listeners(first)});

    Plotly.purge(first);  // drawn afresh: Plotly drops the div's listeners
    await draw(first, [1, 2]);
    await settle();
    seen.push({runs: runs.get(first), listeners: listeners(first)});

    const second = document.createElement('div');  // Dash replacing the graph's div
    slot.replaceChildren(second);
    await draw(second, [1, 2]);
    await settle();
    seen.push({runs: runs.get(second), listeners: listeners(second)});
    return seen;
}"""


def test_a_redrawn_chart_runs_each_hook_once_per_draw(chromium):
    with harness.blank_page(chromium, '<div id="slot"></div>', harness.PLOTLY_BUNDLE, "00_plotly_hooks.js") as page:
        first, purged, replaced = page.evaluate(REDRAWS)
    # Found once (1 run), then each of its draws: the first plot and three reacts.
    assert first == {"runs": 1 + 4, "listeners": 1}
    # After Plotly.purge the div is found again: one more run on discovery, one for its draw.
    assert purged == {"runs": 5 + 2, "listeners": 1}
    assert replaced == {"runs": 1 + 1, "listeners": 1}
