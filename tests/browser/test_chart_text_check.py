"""The chart-text check itself, and the shared chart builders drawn at phone width with awkward data.

The page tests judge charts as the small test database happens to fill them; here the builders get
the long names, long titles, many legend entries, close reference lines and narrow ranges that
cut text off or stack it on a 390 px phone, so a layout regression fails whatever the data. Figures
are drawn by the app's own Plotly bundle in a blank page (no server, nothing leaves the machine).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from components import charts
from components.hypertension_views import people_to_target_chart
from components.immunisation_views import count_bar_chart, intersection_heatmap, practice_comparison_chart
from tests.browser import harness

pytestmark = pytest.mark.browser

# A phone's chart: 390 px screen less the page's and the card's padding.
PHONE_CHART_PX = 330
LONG_NAMES = [
    "Barking, Havering and Redbridge University Hospitals",
    "London North West University Healthcare",
    "Chelsea and Westminster Hospital",
    "Imperial College Healthcare",
    "Kingston and Richmond",
    "Barts Health",
]


@pytest.fixture(scope="module")
def draw(chromium):
    """``draw(figure, width) -> (chart text problems, repeated tick labels)`` for the figure drawn ``width`` px wide."""
    # The chart scripts a test adds (assets/chart_titles.js, ...) register with 00_plotly_hooks.js, as in the app.
    with harness.blank_page(
        chromium,
        '<body style="margin:30px"><div id="slot"></div></body>',
        harness.PLOTLY_BUNDLE,
        "00_plotly_hooks.js",
        viewport={"width": PHONE_CHART_PX + 60, "height": 900},
    ) as page:

        def draw_figure(figure: go.Figure, width: int = PHONE_CHART_PX) -> tuple[list[str], list[str]]:
            page.evaluate(
                """([spec, width]) => {
                    const slot = document.getElementById('slot');
                    slot.innerHTML = '';
                    const gd = document.createElement('div');
                    gd.id = 'chart';
                    gd.style.width = width + 'px';
                    slot.appendChild(gd);
                    const figure = JSON.parse(spec);
                    return Plotly.newPlot(gd, figure.data, figure.layout, {displaylogo: false});
                }""",
                [figure.to_json(), width],
            )
            return page.evaluate(harness.CHART_TEXT_PROBLEMS), page.evaluate(harness.REPEATED_TICK_LABELS)

        draw_figure.page = page  # for a test that measures the drawn chart itself
        yield draw_figure


def engine_rows(values: list[float | None], names: list[str]) -> pd.DataFrame:
    """Rows shaped like the engine's, in percent; None is a suppressed row."""
    value = pd.Series(values, dtype=float)
    return pd.DataFrame(
        {
            "area_code": [f"A{i}" for i in range(len(values))],
            "area_name": names,
            "numerator": value,
            "denominator": np.where(value.isna(), np.nan, 100.0 + 40 * np.arange(len(values))),
            "value": value,
            "ci_low": value - 6,
            "ci_high": value + 5,
            "comparison": ["better", "similar", "worse", "similar", "similar", "similar"][: len(values)],
            "suppressed": value.isna(),
            "london_value": 83.9,
        }
    )


def test_the_check_reports_cut_off_and_stacked_text(draw):
    figure = go.Figure(go.Scatter(x=[1, 2], y=[1, 2]))
    figure.update_layout(title={"text": "A title far too long to fit across a phone's chart unwrapped"}, height=300)
    figure.add_annotation(text="Target", x=1.5, y=1.5, showarrow=False)
    figure.add_annotation(text="London", x=1.5, y=1.5, showarrow=False)
    problems, _ = draw(figure)
    assert any(p.startswith('slot: "A title far too long') and "is cut off" in p for p in problems), problems
    assert any('"Target" and "London" overlap' in p for p in problems), problems


def test_the_check_reports_an_axis_repeating_a_tick_label(draw):
    figure = go.Figure(go.Scatter(x=[1, 2], y=[95.1, 95.3]))
    figure.update_yaxes(range=[94, 96], tickformat=".0f", ticksuffix="%")  # ticks every 0.5: 94.5 reads "94%"
    figure.update_layout(height=420)
    _, repeated = draw(figure)
    assert any('"95%"' in p for p in repeated), repeated


def both_ranked_charts(
    values: pd.DataFrame, *, value_label: str, targets: tuple[float, float], highlights: tuple[str, str], title: str
) -> tuple[go.Figure, go.Figure]:
    """``values`` ranked by both builders: :func:`charts.ranked_chart` (London at 83.9 %) and
    :func:`charts.ranked_areas_chart` (London from the rows), with their own target and highlighted row."""
    return (
        charts.ranked_chart(
            values=values,
            value_label=value_label,
            london_value=83.9,
            target=targets[0],
            highlight=highlights[0],
            title=f"{title}, with 95% intervals",
        ),
        charts.ranked_areas_chart(
            values=values,
            value_label=value_label,
            unit="percent",
            target=targets[1],
            highlight_codes=[highlights[1]],
            title=title,
        ),
    )


def test_ranked_charts_fit_a_phone(draw):
    for figure in both_ranked_charts(
        engine_rows([96.0, 85.5, 84.0, 82.0, None, None], LONG_NAMES),
        value_label="Told within 28 days (%)",
        targets=(80.0, 84.5),  # the second beside London: their labels used to collide
        highlights=("A1", "A0"),
        title="Trusts ranked by the Faster Diagnosis Standard",
    ):
        assert draw(figure) == ([], [])


def trust_funnel(values: list, funnel: list) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Six long-named trusts with these values (%) and funnel classes, and a funnel's limits around London (~84 %)."""
    points = engine_rows(values, LONG_NAMES).assign(funnel=funnel)
    points["denominator"] = [400.0, 20.0, 150.0, 200.0, 250.0, np.nan]
    limits = pd.DataFrame(
        {
            "denominator": [10.0, 100.0, 400.0],
            "lower_95": [60, 76, 80],
            "upper_95": [99, 90, 87],
            "lower_998": [50, 71, 78],
            "upper_998": [100, 94, 89],
        }
    )
    return points, limits


def test_funnel_plot_keeps_outlier_names_inside_a_phone_chart(draw):
    points, limits = trust_funnel(
        [99.0, 60.0, 84.0, 83.0, 85.0, None], ["above 99.8", "below 95", "within", "within", "within", None]
    )
    figure = charts.funnel_plot(
        points=points,
        limits=limits,
        london_value=83.9,
        value_label="Told within 28 days (%)",
        title="Trust funnel plot: told within 28 days",
    )
    assert draw(figure) == ([], [])


def test_inequality_trend_and_uptake_charts_fit_a_phone(draw):
    quintiles = engine_rows([70.0, 75.0, 80.0, None, 90.0], ["Q1 (most deprived)", "Q2", "Q3", "Q4", "Q5"])
    trend = pd.DataFrame(
        {
            "period_label": [f"2025-26 Q{q}" for q in (1, 2, 3, 4)] + [f"2026-27 Q{q}" for q in (1, 2)],
            "value": [95.1, 95.3, None, 95.2, 95.4, 95.3],  # a narrow range: whole-number ticks would repeat
            "suppressed": [False, False, True, False, False, False],
            "centre": 95.25,
            "lower_limit": 94.9,
            "upper_limit": 95.6,
            "variation": "common",
        }
    )
    curves = pd.DataFrame(
        {"series": ["Cohort of 2026-27 Q2"] * 4, "age": [0, 12, 14, 20], "value": [0.0, 40.0, 80.0, 88.0]}
    )
    for figure in (
        charts.inequality_chart(
            values=quintiles,
            value_label="Coverage",
            dimension_label="Deprivation quintile (IMD 2025, national)",
            london_value=88.2,
            target=95.0,
            title="London: by deprivation quintile (IMD 2025, national)",
        ),
        charts.spc_chart(series=trend, value_label="Coverage", target=95.0, title="London: MMR1 by 24 months"),
        charts.uptake_curve(
            curves=curves,
            scheduled_age=12,
            target=95.0,
            age_label="Age (months)",
            title="MMR1 by 24 months: cohort of 2026-27 Q2",
        ),
    ):
        assert draw(figure) == ([], [])


def test_gp_comparison_chart_fits_a_phone_when_the_practice_is_suppressed(draw):
    assert draw(practice_comparison_chart(frame=gp_comparison_rows(practice_shown=False), target=95.0)) == ([], [])


def test_rolling_period_trend_fits_a_phone(draw):
    ends = ["31 Dec 2024", "31 Mar 2025", "30 Jun 2025", "30 Sep 2025", "31 Dec 2025", "31 Mar 2026", "30 Jun 2026"]
    values = [59.5, 59.4, 59.6, 59.8, 60.0, 60.2, 60.4]
    trend = pd.DataFrame(
        {
            "period_label": [f"12 months to {end}" for end in ends],
            "value": values,
            "numerator": 600.0,
            "denominator": 1000.0,
            "centre": 59.9,
            "lower_limit": 58.5,
            "upper_limit": 61.3,
            "variation": ["concern", "special", "special", "common", "common", "improvement", "improvement"],
        }
    )
    figure = charts.spc_chart(series=trend, value_label="HYP008 (%)", target=80.0, height=380)
    assert draw(figure) == ([], [])
    # And across a desktop's page (1280 px): the axis title is drawn whole, inside the chart, with no ellipsis.
    assert draw(figure, width=1256) == ([], [])
    title, title_bottom, chart_bottom = draw.page.evaluate(
        """() => [document.querySelector('#chart .xtitle').textContent,
                  document.querySelector('#chart .xtitle').getBoundingClientRect().bottom,
                  document.querySelector('#chart .main-svg').getBoundingClientRect().bottom]"""
    )
    assert title == "Period: 12 months to the date shown" and title_bottom <= chart_bottom, (title, title_bottom)


def test_people_to_target_chart_keeps_its_legend_off_the_bars_on_a_phone(draw):
    names = ["Barking and Dagenham", "Kensington and Chelsea", "Hammersmith and Fulham", "City of London"]
    table = pd.DataFrame(
        {"area_name": names, "control_to_80": [9000.0, 4000.0, None, 20.0], "to_detect_80": [6800.0, 5000.0, None, 5.0]}
    )
    figure = people_to_target_chart(table=table, ambition="80")
    assert draw(figure) == ([], [])
    # The legend sits in the room made above the plot: it was drawn on the plot's top edge, over the first bars.
    legend_bottom, plot_top = draw.page.evaluate(
        """() => [document.querySelector('#chart .legend').getBoundingClientRect().bottom,
                  document.querySelector('#chart .nsewdrag').getBoundingClientRect().top]"""
    )
    assert legend_bottom <= plot_top + 1, f"the legend ends at {legend_bottom:.0f}px, the plot starts at {plot_top:.0f}"


def test_funnel_plot_names_crowded_outliers_without_stacking_them_on_a_phone(draw):
    # Practices: many outliers close together (as at scale 1.0): their names were drawn over each other.
    count = 40
    rng = np.random.default_rng(7)
    names = [f"{LONG_NAMES[i % len(LONG_NAMES)]} practice {i}" for i in range(count)]
    value = np.r_[rng.uniform(40, 45, count // 2), rng.uniform(75, 80, count - count // 2)]
    points = pd.DataFrame(
        {
            "area_name": names,
            "value": value,
            "denominator": rng.uniform(300, 1500, count),
            "ci_low": value - 3,
            "ci_high": value + 3,
            "suppressed": False,
            "funnel": np.where(value < 60, "below 99.8", "above 99.8"),
        }
    )
    points["numerator"] = points["value"] * points["denominator"] / 100
    limits = pd.DataFrame(
        {
            "denominator": [50.0, 500.0, 7000.0],
            "lower_95": [45, 55, 58],
            "upper_95": [75, 65, 62],
            "lower_998": [40, 52, 57],
            "upper_998": [80, 68, 63],
        }
    )
    figure = charts.funnel_plot(points=points, limits=limits, london_value=60.0, value_label="HYP008 (%)")
    named = [text for trace in figure.data if trace.mode == "markers+text" for text in trace.text if text]
    assert 0 < len(named) <= 5, named
    assert draw(figure) == ([], [])


def monthly_trend_with_special_causes() -> pd.DataFrame:
    """Twelve months of an SPC trend with one improvement and one concern beyond the limits."""
    return pd.DataFrame(
        {
            "period_label": [f"2025-{m:02d}" for m in range(1, 13)],
            "value": [81.0, 82.0, 81.5, 90.0, 82.0, 81.0, 80.0, 70.0, 81.0, 82.0, 81.0, 81.5],
            "centre": 81.0,
            "lower_limit": 76.0,
            "upper_limit": 86.0,
            "variation": ["common"] * 3 + ["improvement"] + ["common"] * 3 + ["concern"] + ["common"] * 4,
        }
    )


def test_spc_trend_keeps_its_plot_under_a_long_legend_on_a_phone(draw):
    trend = monthly_trend_with_special_causes()
    figure = charts.spc_chart(series=trend, value_label="Told within 28 days (%)", target=80.0, height=380)
    assert draw(figure) == ([], [])
    legend_height, plot_height = draw.page.evaluate(
        """() => [document.querySelector('#chart .legend').getBoundingClientRect().height,
                  document.querySelector('#chart .nsewdrag').getBoundingClientRect().height]"""
    )
    # Six entries one a line took ~150 px and left the trend ~100 px.
    assert plot_height >= 180 and legend_height < plot_height, (legend_height, plot_height)


CROWDED_TRUSTS = [f"{name} {i}" for i in range(3) for name in LONG_NAMES]


def crowded_trust_flows() -> pd.DataFrame:
    """Flows from five regions through fifteen long-named trusts, too many names for a phone's Sankey."""
    return pd.DataFrame(
        [
            {"source": f"Region {i % 5}", "target": f"{trust} (first seen)", "patients": 100.0 + 10 * i}
            for i, trust in enumerate(CROWDED_TRUSTS)
        ]
        + [
            {
                "source": f"{trust} (first seen)",
                "target": f"{CROWDED_TRUSTS[-1 - i]} (treated)",
                "patients": 100.0 + 10 * i,
            }
            for i, trust in enumerate(CROWDED_TRUSTS)
        ]
    )


def test_sankey_hides_the_names_that_would_collide_on_a_phone(draw):
    flows = crowded_trust_flows()
    harness.add_scripts(draw.page, "sankey_labels.js")
    problems, _ = draw(charts.patient_flow_sankey(flows=flows, title="Where patients were first seen and treated"))
    assert problems == []
    shown = draw.page.evaluate(
        "() => [...document.querySelectorAll('#chart text.node-label')].filter(t => t.style.visibility !== 'hidden')"
        ".length"
    )
    assert shown >= 5, "the busiest nodes keep their names"


def legend_rows(page) -> int:
    """How many rows the drawn chart's legend takes (entries sharing a top edge are one row)."""
    return page.evaluate(
        """() => new Set([...document.querySelectorAll('#chart .legend .traces')]
            .map(entry => Math.round(entry.getBoundingClientRect().top))).size"""
    )


def test_funnel_plot_legend_takes_two_rows_on_a_phone_and_one_on_a_desktop(draw):
    # Six entries wrapped to four rows on a phone and squeezed the funnel under them. A below-99.8%
    # point too, so every entry is drawn.
    points, limits = trust_funnel(
        [99.0, 60.0, 84.0, 83.0, 70.0, None], ["above 99.8", "below 95", "within", "within", "below 99.8", None]
    )
    figure = charts.funnel_plot(
        points=points, limits=limits, london_value=83.9, value_label="Told within 28 days (%)", height=480
    )
    # The points and London in the legend; the limit curves named under the axis.
    assert charts.legend_entries(figure) == 4
    assert "99.8% limits" in figure.layout.xaxis.title.text and "95%" in figure.layout.xaxis.title.text
    assert draw(figure) == ([], [])
    assert legend_rows(draw.page) <= 2
    draw(figure, width=1180)
    assert legend_rows(draw.page) == 1


def test_sankey_numbers_every_trust_with_a_key_when_names_would_collide_on_a_phone(draw):
    # Collision hiding left about half the trusts without a name on a phone: nobody could tell which
    # trust was which. The trust columns then show numbers, the same for a trust in both, and a key.
    flows = crowded_trust_flows()
    harness.add_scripts(draw.page, "sankey_labels.js")
    problems, _ = draw(charts.patient_flow_sankey(flows=flows))
    assert problems == []
    labels = draw.page.evaluate(
        """() => [...document.querySelectorAll('#chart .sankey-node')].map(node => {
            const text = node.querySelector('text.node-label');
            return [node.querySelector('.node-rect').getBoundingClientRect().left, text.textContent,
                    text.style.visibility !== 'hidden'];
        })"""
    )
    first_column = min(left for left, _, _ in labels)
    trust_labels = [(text, shown) for left, text, shown in labels if left > first_column + 1]
    assert len(trust_labels) == 2 * len(CROWDED_TRUSTS)
    assert all(shown for _, shown in trust_labels), "every trust node keeps a label"
    key = draw.page.evaluate(
        "() => [...document.querySelectorAll('.sankey-key li')].map(item => [String(item.value), item.textContent])"
    )
    named = dict(key)
    assert sorted(named.values()) == sorted(CROWDED_TRUSTS), "the key gives whole names"
    assert {text for text, _ in trust_labels} == set(named), "each number on the chart is in the key"
    # A wide chart has room for the names: no numbers, no key.
    draw(charts.patient_flow_sankey(flows=flows), width=1180)
    assert draw.page.evaluate("() => document.querySelectorAll('.sankey-key').length") == 0


def test_count_bar_chart_keeps_long_names_and_its_notes_inside_a_phone_chart(draw):
    # Cohort "practices with the most children": whole practice names took the chart's width, ran off
    # its left edge and left the bars ~60 px; the note under the plot ran off both sides.
    names = [f"{LONG_NAMES[i % len(LONG_NAMES)]} practice ({i:05d})" for i in range(30)]
    frame = pd.DataFrame(
        {"label": names, "children": np.arange(30) * 50.0 + 100, "suppressed": [False] * 27 + [True] * 3}
    )
    figure = count_bar_chart(
        frame=frame, label_column="label", axis_label="Children", title="Practices with the most children"
    )
    assert draw(figure)[0] == []
    plot_width = draw.page.evaluate("() => document.querySelector('#chart .nsewdrag').getBoundingClientRect().width")
    assert plot_width >= PHONE_CHART_PX / 3, plot_width
    # The practice code is kept whole on the axis (the name before it is cut): it was cut off with the name.
    drawn = draw.page.evaluate("() => [...document.querySelectorAll('#chart .ytick text')].map(t => t.textContent)")
    assert drawn and all(re.search(r"\(\d{5}\)$", label) for label in drawn), drawn


def gp_comparison_rows(*, practice_shown: bool) -> pd.DataFrame:
    """Four vaccines with long names at every level; the practice's values shown or suppressed."""
    vaccines = [
        "6-in-1 (3 doses) by 12 months",
        "Hib booster (Hib/MenC) by 24 months",
        "2022 London polio booster: children 1-9 boosted or up to date",
        "MMR1 on time (between 12 and 18 months)",
    ]
    levels = (("Practice", 90.0 if practice_shown else None), ("PCN", 88.0), ("Borough", 87.0), ("London", 86.0))
    return pd.DataFrame(
        [
            {
                "title": title,
                "level": level,
                "value": value,
                "ci_low": None if value is None else value - 5,
                "ci_high": None if value is None else value + 3,
                "suppressed": value is None,
            }
            for title in vaccines
            for level, value in levels
        ]
    )


def ethnicity_by_quintile(*, suppressed: bool = False) -> pd.DataFrame:
    """The engine's ethnic group x IMD quintile rows (values near 60 %, the first group's Q1 at the area line)."""
    groups = ["White", "Mixed", "Asian", "Black", "Other", "Not stated"]
    quintiles = ["Q1 (most deprived)", "Q2", "Q3", "Q4", "Q5 (least deprived)", "Unknown"]  # as the engine names it
    rows = [
        {
            "area_name": group,
            "subgroup_name": quintile,
            "value": 60.0 + i + j,
            "ci_low": 58.0 + i + j,
            "ci_high": 62.0 + i + j,
            "numerator": 500.0,
            "denominator": 900.0,
            "suppressed": suppressed and i == j == 1,
        }
        for i, group in enumerate(groups)
        for j, quintile in enumerate(quintiles)
    ]
    return pd.DataFrame(rows)


def ethnicity_by_deprivation_chart(*, suppressed: bool = False) -> go.Figure:
    """The hypertension page's ethnic group x deprivation chart of :func:`ethnicity_by_quintile`, London at 60 %."""
    return charts.intersection_chart(
        values=ethnicity_by_quintile(suppressed=suppressed),
        value_label="HYP008 (%)",
        unit="percent",
        area_value=60.0,
        area_label="London",
        target=80.0,
    )


def five_quintiles() -> pd.DataFrame:
    """Engine rows for the five deprivation quintiles, 70-90 %."""
    return engine_rows([70.0, 75.0, 80.0, 85.0, 90.0], ["Q1 (most deprived)", "Q2", "Q3", "Q4", "Q5"])


def test_gp_comparison_legend_takes_two_rows_on_a_phone_and_one_on_a_desktop(draw):
    # Plotly wraps a horizontal legend at the plot's width in columns as wide as its widest entry: with
    # the vaccine names taking half a phone's chart, the five entries were listed one a row.
    for practice_shown in (True, False):
        figure = practice_comparison_chart(frame=gp_comparison_rows(practice_shown=practice_shown), target=95.0)
        assert draw(figure) == ([], [])
        assert legend_rows(draw.page) <= 2
        draw(figure, width=1180)
        assert legend_rows(draw.page) == 1


def test_ethnicity_by_deprivation_legend_is_compact_on_a_phone_and_one_row_on_a_desktop(draw):
    # "Q5 (least deprived)" made every quintile's entry a row of its own: six rows on a phone.
    figure = ethnicity_by_deprivation_chart(suppressed=True)
    assert draw(figure) == ([], [])
    assert legend_rows(draw.page) <= 3
    assert draw(figure, width=366) == ([], [])  # the hypertension page's chart on a 390 px phone
    assert legend_rows(draw.page) <= 2
    draw(figure, width=1180)
    assert legend_rows(draw.page) == 1


# Text on the plot (not ticks, legend or titles) drawn over a data marker of the chart in #chart.
TEXT_ON_MARKERS = """() => {
    const gd = document.getElementById('chart');
    const markers = [...gd.querySelectorAll('.scatterlayer .point')].map(p => p.getBoundingClientRect());
    const texts = [...gd.querySelectorAll('.annotation-text, .scatterlayer .textpoint text')]
        .filter(t => t.textContent.trim()).map(t => [t.textContent.trim(), t.getBoundingClientRect()]);
    const hit = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1
        && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
    return texts.filter(([, r]) => markers.some(m => hit(m, r))).map(([text]) => text);
}"""


def test_area_lines_are_named_clear_of_the_markers(draw):
    # The selected area's line was labelled "London" at the plot's left edge, on the first group's markers.
    ethnic_groups = engine_rows([60.0, 59.5, 63.0, 56.0, 59.0], ["White", "Mixed", "Asian", "Black", "Other"])
    for figure in (
        ethnicity_by_deprivation_chart(),
        charts.inequality_chart(
            values=ethnic_groups,
            value_label="HYP008 (%)",
            dimension_label="Ethnic group",
            target=80.0,
            height=360,
            area_value=60.0,
            area_label="London",
        ),
    ):
        assert draw(figure) == ([], [])
        assert draw.page.evaluate(TEXT_ON_MARKERS) == []


def test_heatmap_cells_are_readable_on_a_phone(draw):
    # Six quintiles beside a vertical colour bar left ~130 px of plot: Plotly shrank the cell values to ~6 px.
    figure = intersection_heatmap(
        values=ethnicity_by_quintile(suppressed=True),
        value_label="Coverage",
        title="London: ethnic group × deprivation quintile",
    )
    assert draw(figure) == ([], [])
    plot_width, sizes = draw.page.evaluate(
        """() => [document.querySelector('#chart .nsewdrag').getBoundingClientRect().width,
                  [...document.querySelectorAll('#chart .heatmaplayer text')]
                      .map(t => parseFloat(getComputedStyle(t).fontSize))]"""
    )
    assert plot_width >= PHONE_CHART_PX / 2, plot_width
    assert sizes and min(sizes) >= 10, sizes


def test_chart_titles_are_inset_from_the_chart_edge(draw):
    # Titles were drawn from the chart's very left edge: on a phone, where the chart and its card are
    # the same white, they sat on the edge, out of line with the plot's text.
    for figure in (
        charts.inequality_chart(
            values=five_quintiles(), value_label="Coverage", dimension_label="IMD quintile", title="London: by quintile"
        ),
        intersection_heatmap(values=ethnicity_by_quintile(), value_label="Coverage", title="London: ethnic group"),
    ):
        assert draw(figure) == ([], [])
        inset = draw.page.evaluate(
            """() => document.querySelector('#chart .gtitle').getBoundingClientRect().left
                - document.getElementById('chart').getBoundingClientRect().left"""
        )
        assert inset >= 6, inset


def test_a_long_axis_title_keeps_its_words_on_one_line_and_its_gloss_as_a_note(draw):
    # "Deprivation quintile (IMD 2025, national)" was wrapped for a phone inside its bracket, and so
    # drawn on two lines of title even across a desktop's full-width chart.
    figure = charts.inequality_chart(
        values=five_quintiles(), value_label="Coverage", dimension_label="Deprivation quintile (IMD 2025, national)"
    )
    for width in (PHONE_CHART_PX, 1180):
        assert draw(figure, width=width) == ([], [])
        lines = draw.page.evaluate(
            """() => [...document.querySelectorAll('#chart .xtitle tspan.line')].map(line =>
                [line.textContent, [...line.querySelectorAll('tspan')].some(t => /font-size: ?11px/.test(
                    t.getAttribute('style') || ''))])"""
        )
        assert lines[0] == ["Deprivation quintile", False], lines
        assert all(note for _, note in lines[1:]), lines


def test_a_wrapped_title_takes_one_line_where_the_chart_is_wide_enough(draw):
    # Titles are wrapped for a phone on the server: across a desktop's full-width chart "London: by
    # deprivation quintile (IMD 2025, national)" still took two lines. assets/chart_titles.js joins them.
    harness.add_scripts(draw.page, "chart_titles.js")
    figure = charts.inequality_chart(
        values=five_quintiles(),
        value_label="Coverage",
        dimension_label="IMD quintile",
        london_value=80.0,
        title="London: by deprivation quintile (IMD 2025, national)",
    )
    title_lines = """() => document.querySelectorAll('#chart .gtitle tspan.line').length || 1"""
    legend_to_plot = """() => document.querySelector('#chart .nsewdrag').getBoundingClientRect().top
        - document.querySelector('#chart .legend').getBoundingClientRect().bottom"""
    draw(figure, width=1180)
    draw.page.wait_for_timeout(300)  # the script relayouts after Plotly's draw
    assert draw.page.evaluate(title_lines) == 1
    assert draw.page.evaluate(harness.CHART_TEXT_PROBLEMS) == []
    assert 0 <= draw.page.evaluate(legend_to_plot) < 20, "the legend moved up with the title"
    # On a phone the server's lines stay, and a chart narrowed after the join gets them back.
    assert draw(figure) == ([], [])
    draw.page.wait_for_timeout(300)
    assert draw.page.evaluate(title_lines) == 2
    draw(figure, width=1180)
    draw.page.wait_for_timeout(300)
    draw.page.evaluate("() => Plotly.relayout('chart', {width: 330})")
    draw.page.wait_for_timeout(300)
    assert draw.page.evaluate(title_lines) == 2
    assert draw.page.evaluate(harness.CHART_TEXT_PROBLEMS) == []


def test_ranked_chart_rows_fill_its_plot(draw):
    # Plotly padded the rows' axis by 5% of the plot: ~40 px of empty plot above the first row of a
    # borough's practices and below the last.
    rows = 30
    value = 60.0 + 0.5 * np.arange(rows)
    values = pd.DataFrame(
        {"area_code": [f"P{i}" for i in range(rows)], "area_name": [f"Practice {i}" for i in range(rows)]}
    ).assign(value=value, ci_low=value - 4, ci_high=value + 4, numerator=50.0, denominator=100.0)
    figure = charts.ranked_chart(
        values=values.assign(comparison="similar", suppressed=False),
        value_label="Coverage",
        london_value=80.0,
        target=95.0,
    )
    assert draw(figure) == ([], [])
    gaps, row_px = draw.page.evaluate(
        """(rows) => {
            const plot = document.querySelector('#chart .nsewdrag').getBoundingClientRect();
            const points = [...document.querySelectorAll('#chart .scatterlayer .point')]
                .map(p => p.getBoundingClientRect());
            const top = Math.min(...points.map(p => p.top)), bottom = Math.max(...points.map(p => p.bottom));
            return [[top - plot.top, plot.bottom - bottom], plot.height / rows];
        }""",
        rows,
    )
    assert max(gaps) < row_px, (gaps, row_px)


def draw_with_phone_variant(draw, figure: go.Figure, width: int = PHONE_CHART_PX) -> tuple[list[str], list[str]]:
    """``draw`` with assets/narrow_charts.js on the page, once it has redrawn a narrow chart's phone variant."""
    if not draw.page.evaluate("() => Boolean(window.__narrowChartsLoaded)"):
        harness.add_scripts(draw.page, "narrow_charts.js")
        draw.page.evaluate("() => { window.__narrowChartsLoaded = true; }")
    draw(figure, width=width)
    draw.page.wait_for_timeout(300)  # the script redraws after Plotly's draw
    return draw.page.evaluate(harness.CHART_TEXT_PROBLEMS), draw.page.evaluate(harness.REPEATED_TICK_LABELS)


def legend_texts(page) -> list[str]:
    """The drawn legend's entries' text."""
    return page.evaluate("() => [...document.querySelectorAll('#chart .legend .legendtext')].map(t => t.textContent)")


def plot_width(page) -> float:
    return page.evaluate("() => document.querySelector('#chart .nsewdrag').getBoundingClientRect().width")


def borough_practices() -> pd.DataFrame:
    """A borough's 24 practices with long names, every comparison, two suppressed (as on the GP page)."""
    rows = 24
    value = 60.0 + 1.2 * np.arange(rows)
    names = [f"Practice {i:02d} at {LONG_NAMES[i % len(LONG_NAMES)]}" for i in range(rows)]
    return pd.DataFrame(
        {
            "area_code": [f"P{i}" for i in range(rows)],
            "area_name": names,
            "value": np.where(np.arange(rows) < 2, np.nan, value),
            "ci_low": value - 4,
            "ci_high": value + 4,
            "numerator": 50.0,
            "denominator": 100.0,
            "comparison": np.select([value < 70, value > 85], ["worse", "better"], "similar"),
            "suppressed": np.arange(rows) < 2,
        }
    )


def test_ranked_chart_on_a_phone_has_a_compact_legend_and_room_for_its_rows(draw):
    # The GP page's "Practices in the borough" on a phone: names took most of the width, the plot was
    # ~110 px, and the legend (which Plotly wraps at the plot's width) took five rows.
    for figure in both_ranked_charts(
        borough_practices(),
        value_label="Coverage",
        targets=(95.0, 80.0),
        highlights=("P20", "P5"),
        title="Practices in the borough: MMR1 by 24 months",
    ):
        assert draw_with_phone_variant(draw, figure) == ([], [])
        assert legend_rows(draw.page) <= 2
        assert plot_width(draw.page) >= PHONE_CHART_PX / 2
        # A desktop keeps the whole names and legend.
        draw_with_phone_variant(draw, figure, width=1180)
        assert "Better than London" in legend_texts(draw.page)
        assert draw.page.evaluate(
            "() => [...document.querySelectorAll('#chart .ytick text')].map(t => t.textContent)"
        ) == [re.sub("<[^>]+>", "", text) for text in figure.layout.yaxis.ticktext]


def test_spc_trend_legend_is_compact_on_a_phone(draw):
    # The trend's legend listed one entry a row on a phone: limits, mean, each kind of point, target.
    figure = charts.spc_chart(
        series=monthly_trend_with_special_causes(), value_label="Coverage", target=95.0, title="This practice: MMR1"
    )
    assert draw_with_phone_variant(draw, figure) == ([], [])
    assert legend_rows(draw.page) <= 2
    draw_with_phone_variant(draw, figure, width=1180)
    assert "Special cause: improvement" in legend_texts(draw.page)
    assert "Process limits (3σ)" in legend_texts(draw.page)


def test_inequality_chart_names_london_and_the_target_in_one_legend_row_on_a_phone(draw):
    # Two legend rows for two lines on the hypertension page; a long borough name wraps the title.
    figure = charts.inequality_chart(
        values=five_quintiles(),
        value_label="HYP008 (%)",
        dimension_label="Deprivation quintile (IMD 2025, national)",
        london_value=62.1,
        target=80.0,
        height=360,
        title="Barking and Dagenham: by deprivation quintile",
    )
    for width in (PHONE_CHART_PX, 366):
        assert draw(figure, width=width) == ([], [])
        assert legend_rows(draw.page) == 1
