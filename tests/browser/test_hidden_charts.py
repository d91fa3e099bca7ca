"""A chart in a hidden view is drawn when its view is opened, not as the page opens (assets/hidden_charts.js).

Every view of a page's view switch is in its layout, the views not shown hidden (display: none), and
dcc.Graph used to draw every chart of every view as the page opened: on /hypertension ten charts nobody
could see, each drawn again at its real size when its view was opened.
"""

from __future__ import annotations

import pytest

from tests.browser import harness
from tests.browser.test_hypertension_flow import TRACES, open_tab

pytestmark = pytest.mark.browser


def drawn(page, graph_id: str) -> bool:
    """Whether Plotly has drawn the dcc.Graph ``graph_id`` (it marks the div it draws in)."""
    return page.locator(f"#{graph_id} .js-plotly-plot").count() > 0


def test_a_hidden_views_charts_wait_until_the_view_is_opened(recorded_page, app_server):
    page, recorder = recorded_page(app_server, "desktop")
    harness.open_page(page, app_server.url("/hypertension"), recorder)
    shown = ["hyp-borough-map", "hyp-borough-ranked", "hyp-funnel", "hyp-icb-ranked"]
    assert all(drawn(page, graph) for graph in shown), "the comparison view's charts were not drawn"
    hidden = ["hyp-ineq-imd", "hyp-intersection", "hyp-sii-map", "hyp-practice-map", "hyp-trend", "hyp-target-chart"]
    assert [graph for graph in hidden if drawn(page, graph)] == [], "charts in hidden views were drawn"

    # Opening the inequality view draws its charts (with the view's data), and only its charts.
    open_tab(page, recorder, "Inequality")
    page.wait_for_function(
        """() => { const gd = document.querySelector('#hyp-ineq-imd .js-plotly-plot');
                   return Boolean(gd && gd._fullData && gd._fullData.some(t => t.y && t.y.length >= 5)); }""",
        timeout=10_000,
    )
    assert drawn(page, "hyp-sii-map") and drawn(page, "hyp-intersection")
    groups = [y for trace in page.evaluate(TRACES, "#hyp-ineq-imd") for y in (trace["y"] or [])]
    assert len(groups) >= 5, "the deprivation chart was drawn without its quintiles"
    assert not drawn(page, "hyp-trend") and not drawn(page, "hyp-target-chart")
    assert recorder.problems() == []


# In a blank page with the script loaded before Plotly (as the app's assets are): a chart in a hidden
# div is drawn, with its latest figure, once the div is shown; a chart in sight is drawn at once.
WAITING = """async () => {
    const settle = () => new Promise(resolve => setTimeout(resolve, 100));
    const hidden = document.getElementById('hidden');
    const chart = hidden.querySelector('div');
    const first = Plotly.react(chart, [{type: 'bar', y: [1, 2]}], {width: 300, height: 200});
    const second = Plotly.react(chart, [{type: 'bar', y: [3, 4]}], {width: 300, height: 200});
    await settle();
    const beforeShown = {classed: chart.classList.contains('js-plotly-plot'), data: chart.data || null};
    hidden.style.display = '';
    const resolved = await Promise.all([first, second]);
    const visible = document.getElementById('visible');
    await Plotly.react(visible, [{type: 'bar', y: [5]}], {width: 300, height: 200});
    return {
        beforeShown,
        afterShown: chart.data.map(trace => Array.from(trace.y)),
        resolvedWith: resolved.map(gd => gd === chart),
        visibleDrawn: visible.classList.contains('js-plotly-plot'),
    };
}"""


def test_a_hidden_chart_is_drawn_once_shown_with_its_latest_figure(chromium):
    body = '<div id="hidden" style="display: none"><div></div></div><div id="visible"></div>'
    with harness.blank_page(chromium, body, "hidden_charts.js", harness.PLOTLY_BUNDLE) as page:
        seen = page.evaluate(WAITING)
    assert seen["beforeShown"] == {"classed": False, "data": None}, "the hidden chart was drawn"
    assert seen["afterShown"] == [[3, 4]], "not drawn with the latest figure once shown"
    assert seen["resolvedWith"] == [True, True], "a draw that waited did not resolve with its chart"
    assert seen["visibleDrawn"]
