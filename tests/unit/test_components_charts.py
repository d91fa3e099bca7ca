"""Chart builders: right traces, CIs in hover and error bars, reference lines, suppressed rows never plotted as 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components import charts


def rows(values: list[float | None], *, names: list[str] | None = None, denominator: float = 100.0) -> pd.DataFrame:
    """Engine-shaped rows in percent; a None value is a suppressed row."""
    names = names or [f"Area {i}" for i in range(len(values))]
    value = pd.Series(values, dtype=float)
    return pd.DataFrame(
        {
            "area_code": [f"A{i}" for i in range(len(values))],
            "area_name": names,
            "numerator": value / 100 * denominator,
            "denominator": np.where(value.isna(), np.nan, denominator),
            "value": value,
            "ci_low": value - 4,
            "ci_high": value + 6,
            "comparison": "similar",
            "suppressed": value.isna(),
        }
    )


def limits() -> pd.DataFrame:
    n = np.array([10.0, 100.0, 1000.0])
    return pd.DataFrame(
        {
            "denominator": n,
            "lower_95": [60, 75, 78],
            "upper_95": [95, 85, 82],
            "lower_998": [50, 70, 76],
            "upper_998": [99, 90, 84],
        }
    )


def test_funnel_draws_the_engines_classes_and_labels_outliers():
    points = rows([80.0, 95.0, 60.0, None], denominator=100.0).assign(
        funnel=["within", "above 99.8", "below 99.8", None]
    )
    figure = charts.funnel_plot(points=points, limits=limits(), london_value=80.0, value_label="Coverage")
    by_name = {trace.name: trace for trace in figure.data}
    assert list(by_name["Inside limits"].y) == [80.0]
    assert list(by_name["Above 99.8%"].text) == ["Area 1"]
    assert list(by_name["Below 99.8%"].text) == ["Area 2"]
    assert by_name["Above 99.8%"].marker.color == charts.COMPARISON_COLOURS["better"]
    assert {t.name for t in figure.data if t.mode == "lines"} == {"95% limits", "99.8% limits"}
    assert any(shape.y0 == 80.0 for shape in figure.layout.shapes)  # the London line
    assert "1 area suppressed" in figure.layout.xaxis.title.text  # under the ticks, never over them
    assert all(None not in list(t.y) and not np.isnan(np.asarray(t.y, dtype=float)).any() for t in figure.data)


def test_funnel_names_its_suppressed_points_as_what_they_are():
    points = rows([80.0, None, None]).assign(funnel=["within", None, None])
    figure = charts.funnel_plot(points=points, limits=limits(), london_value=80.0, value_label="x", points_are="trusts")
    assert "2 trusts suppressed" in figure.layout.xaxis.title.text


def test_funnel_draws_a_point_where_the_engine_put_it_even_if_the_curves_disagree():
    # 95 is beyond the 99.8 % curve at n=100 here, but the engine classes from exact counts: the
    # chart never re-classes a point from its drawn (interpolated) curves.
    points = rows([95.0]).assign(funnel=["within"])
    figure = charts.funnel_plot(points=points, limits=limits(), london_value=80.0, value_label="x")
    assert [list(t.y) for t in figure.data if t.name == "Inside limits"] == [[95.0]]
    assert all(len(t.y) == 0 for t in figure.data if t.name in ("Above 99.8%", "Below 99.8%"))


def test_funnel_without_the_engines_classes_is_refused():
    with pytest.raises(ValueError, match="funnel"):
        charts.funnel_plot(points=rows([80.0]), limits=limits(), london_value=80.0, value_label="x")


def test_funnel_trusts_the_engines_classes_and_polarity_flips_colours():
    points = rows([80.0, 95.0]).assign(funnel=["below 99.8", "within"])
    figure = charts.funnel_plot(points=points, limits=limits(), london_value=80.0, value_label="x", polarity="low")
    below = next(t for t in figure.data if t.name == "Below 99.8%")
    assert list(below.hovertext) == ["Area 0"] and below.marker.color == charts.COMPARISON_COLOURS["better"]


def test_funnel_labels_only_the_furthest_outliers():
    points = rows([99.5, 99.0, 98.0], denominator=1000.0).assign(funnel="above 99.8")
    figure = charts.funnel_plot(points=points, limits=limits(), london_value=80.0, value_label="x", label_outliers=1)
    above = next(t for t in figure.data if t.name == "Above 99.8%")
    assert list(above.text) == ["Area 0", "", ""] and len(above.hovertext) == 3


def test_inequality_chart_has_ci_error_bars_and_marks_suppressed_groups():
    values = rows([70.0, None, 90.0], names=["Q1 (most deprived)", "Q3", "Q5 (least deprived)"])
    figure = charts.inequality_chart(
        values=values, value_label="Coverage", dimension_label="IMD quintile", london_value=82.0, target=95.0
    )
    (trace,) = figure.data
    assert list(trace.x) == ["Q1 (most deprived)", "Q5 (least deprived)"]
    assert list(trace.error_y.array) == [6.0, 6.0] and list(trace.error_y.arrayminus) == [4.0, 4.0]
    assert "95% CI %{customdata[0]:.1f}–%{customdata[1]:.1f}%" in trace.hovertemplate
    assert [a.text for a in figure.layout.annotations if a.x == "Q3"] == ["suppressed"]
    assert list(figure.layout.xaxis.categoryarray) == ["Q1 (most deprived)", "Q3", "Q5 (least deprived)"]
    assert sorted(shape.y0 for shape in figure.layout.shapes) == [82.0, 95.0]


def test_inequality_chart_draws_one_series_per_area_for_a_pair():
    values = pd.concat([rows([70.0, 80.0]).assign(area_name="Camden"), rows([60.0, 75.0]).assign(area_name="Brent")])
    values["subgroup_name"] = ["Q1", "Q5", "Q1", "Q5"]
    figure = charts.inequality_chart(values=values, value_label="x", dimension_label="IMD quintile")
    assert [t.name for t in figure.data] == ["Camden", "Brent"] and list(figure.data[1].x) == ["Q1", "Q5"]


def test_inequality_charts_fit_their_axis_to_the_groups_not_to_zero():
    """Plotly's autorange of grouped markers (scattermode "group") ran the axis from 0: HYP008's groups,
    57-64 %, sat in the top fifth of the plot. The axis is now set from the values and intervals."""
    values = rows([57.3, 58.8, 60.6, 63.6])
    figure = charts.inequality_chart(
        values=values, value_label="HYP008 (%)", dimension_label="Quintile", london_value=59.9, target=80.0
    )
    low, high = figure.layout.yaxis.range
    assert 50 < low < values["ci_low"].min() and values["ci_high"].max() < high < 75
    assert figure.layout.scattermode is None, "one series: nothing to set side by side"
    assert [a.text for a in figure.layout.annotations] == ["▲ Target 80.0%<br>above this range"]
    assert [shape.y0 for shape in figure.layout.shapes] == [59.9], "London's line; the far target is not drawn"
    pair = pd.concat([values.assign(subgroup_name="Q1"), values.assign(subgroup_name="Q5")], ignore_index=True)
    grouped = charts.intersection_chart(
        values=pair, value_label="x", unit="percent", area_value=59.0, area_label="Brent", target=None
    )
    assert grouped.layout.scattermode == "group" and grouped.layout.yaxis.range[0] > 50


def test_ranked_chart_sorts_colours_by_comparison_and_lists_suppressed_last():
    values = rows([70.0, 90.0, None, 80.0]).assign(comparison=["worse", "better", None, "similar"])
    figure = charts.ranked_chart(values=values, value_label="Coverage", london_value=80.0, target=95.0, highlight="A1")
    assert list(figure.layout.yaxis.categoryarray) == ["A2", "A0", "A3", "A1"]  # bottom to top
    names = {t.name: t for t in figure.data}
    assert list(names["Better than London"].y) == ["A1"] and list(names["Worse than London"].x) == [70.0]
    assert names["Worse than London"].marker.color == charts.COMPARISON_COLOURS["worse"]
    assert "<b>Area 1</b>" in figure.layout.yaxis.ticktext
    assert [a.text for a in figure.layout.annotations if a.y == "A2"] == ["suppressed"]
    assert {shape.x0 for shape in figure.layout.shapes} == {80.0, 95.0}


def test_a_ranking_of_one_colour_keeps_its_legend_on_a_phone():
    """City of London's one practice: on a phone the lines leave the legend (named under the axis), and
    Plotly hid the one entry left, leaving the room kept for it blank over the chart."""
    figure = charts.ranked_areas_chart(values=rows([61.0]), value_label="x", unit="percent", target=70.0)
    narrow = figure.layout.meta["narrow"]
    assert narrow["data"]["showlegend"] == [None] and all(
        value is False for key, value in narrow["layout"].items() if key.endswith("showlegend")
    )
    assert figure.layout.showlegend is True
    low, high = figure.layout.xaxis.range
    assert low < 57 and high > 70, "the target line inside the axis, not on the plot's edge"


def test_a_ranking_keeps_its_axis_on_the_areas_and_names_a_far_target_at_the_edge():
    """Boroughs at 56-59 % and HYP008's 80 % target: the axis ran to 80 and squashed the rows into a strip."""
    values = rows([56.6, 57.0, 58.0, 59.0])
    for build in (charts.ranked_chart, charts.ranked_areas_chart):
        figure = build(values=values, value_label="HYP008 (%)", unit="percent", target=80.0)
        low, high = figure.layout.xaxis.range
        assert 50 < low < values["ci_low"].min() and values["ci_high"].max() < high < 72, "the axis spans the rows"
        assert not figure.layout.shapes, "no target line drawn, nor listed in the legend"
        (note,) = [a for a in figure.layout.annotations if "Target" in a.text]
        assert note.text == "▶ Target 80.0%<br>above this range"
        assert (note.x, note.xanchor, note.y, note.yanchor) == (1, "right", 0, "bottom"), "the empty corner"
        assert "target" not in figure.layout.meta["narrow"]["layout"]["xaxis.title.text"]
    with_london = charts.ranked_chart(values=values, value_label="x", london_value=60.0, target=80.0)
    assert [shape.x0 for shape in with_london.layout.shapes] == [60.0], "London's line is still drawn"
    below = charts.ranked_chart(values=rows([96.0, 97.0, 98.0]), value_label="x", target=80.0)
    (note,) = [a for a in below.layout.annotations if "Target" in a.text]
    assert note.text == "◀ Target 80.0%<br>below this range" and (note.x, note.y) == (0, 1)
    near = charts.ranked_chart(values=values, value_label="x", target=70.0)
    assert [shape.x0 for shape in near.layout.shapes] == [70.0] and near.layout.xaxis.range[1] > 70
    assert not [a for a in near.layout.annotations if "Target" in (a.text or "")]


def test_spc_chart_colours_special_causes_and_gaps_suppressed_periods():
    series = rows([80.0, 81.0, None, 90.0]).assign(
        period_label=["Q1", "Q2", "Q3", "Q4"],
        centre=82.0,
        lower_limit=75.0,
        upper_limit=89.0,
        variation=["common", "common", None, "improvement"],
    )
    figure = charts.spc_chart(series=series, value_label="Coverage", target=95.0)
    names = {t.name: t for t in figure.data}
    assert list(names["Special cause: improvement"].x) == ["Q4"]
    assert names["Special cause: improvement"].marker.color == charts.VARIATION_COLOURS["improvement"]
    assert list(names["Common cause variation"].x) == ["Q1", "Q2"]
    line = next(t for t in figure.data if t.name is None and t.mode == "lines")
    assert np.isnan(line.y[2])  # the line breaks; it is not drawn to 0
    assert {"Process limits (3σ)", "Mean"} <= set(names)


def test_spc_chart_moves_the_words_every_period_label_shares_to_the_axis_title():
    labels = ["12 months to 31 Dec 2024", "12 months to 31 Mar 2025", "12 months to 30 Jun 2025"]
    series = rows([60.0, 61.0, 62.0]).assign(
        period_label=labels, centre=61.0, lower_limit=59.0, upper_limit=63.0, variation="common"
    )
    figure = charts.spc_chart(series=series, value_label="HYP008 (%)")
    points = next(t for t in figure.data if t.name == "Common cause variation")
    assert list(points.x) == ["31 Dec 2024", "31 Mar 2025", "30 Jun 2025"]
    assert list(points.text) == labels  # hover names the whole period
    # Whole words: an ellipsis at its end read as a title cut off at the chart's edge.
    assert figure.layout.xaxis.title.text == "Period: 12 months to the date shown"


def test_spc_chart_keeps_its_axis_on_the_trend_and_names_a_far_target_at_the_edge():
    """A trend near 58 % and its 80 % target: the axis was stretched to 80 and the trend squashed flat."""
    series = rows([57.0, 58.2, 57.5, 58.0]).assign(
        period_label=["Q1", "Q2", "Q3", "Q4"], centre=57.7, lower_limit=55.2, upper_limit=60.3, variation="common"
    )
    figure = charts.spc_chart(series=series, value_label="HYP008 (%)", target=80.0)
    low, high = figure.layout.yaxis.range
    assert 54 < low < 55.2 and 60.3 < high < 63, "the axis spans the trend (points and limits), not the target"
    assert not figure.layout.shapes, "no line drawn off the plot, nor listed in the legend"
    (note,) = [a for a in figure.layout.annotations if "Target" in a.text]
    assert note.text == "▲ Target 80.0%<br>above this range" and (note.y, note.yanchor) == (1, "top")
    phone_notes = figure.layout.meta["narrow"]["layout"]["xaxis.title.text"]
    assert "Green dotted line" not in phone_notes
    assert figure.layout.meta["narrow"]["layout"]["xaxis.tickangle"] == -90, "period labels upright on a phone"
    below = charts.spc_chart(
        series=series.assign(value=[96.0, 97.0, 96.5, 97.2]).drop(columns=["centre", "lower_limit", "upper_limit"]),
        value_label="x",
        target=80.0,
    )
    assert [a.text for a in below.layout.annotations if "Target" in a.text] == ["▼ Target 80.0%<br>below this range"]


def test_spc_chart_draws_a_target_near_the_trend_as_a_line():
    series = rows([74.0, 76.0, 75.0, 77.0]).assign(
        period_label=["Q1", "Q2", "Q3", "Q4"], centre=75.5, lower_limit=72.0, upper_limit=79.0, variation="common"
    )
    figure = charts.spc_chart(series=series, value_label="x", target=80.0)
    assert [shape.y0 for shape in figure.layout.shapes] == [80.0] and figure.layout.yaxis.range is None
    assert not [a for a in figure.layout.annotations if "Target" in (a.text or "")]


def test_uptake_curve_is_a_step_line_per_series_with_due_age():
    curves = pd.DataFrame({"series": ["A", "A", "B", "B"], "age": [8, 12, 8, 12], "value": [40.0, 90.0, 30.0, 80.0]})
    figure = charts.uptake_curve(curves=curves, scheduled_age=8, target=95.0)
    assert [t.name for t in figure.data] == ["A", "B"] and figure.data[0].line.shape == "hv"
    assert {shape.x0 for shape in figure.layout.shapes if shape.x0 is not None} >= {8.0}


def test_sankey_leaves_suppressed_flows_out_and_says_so():
    flows = pd.DataFrame(
        {
            "source": ["GP", "GP", "Screening"],
            "target": ["Barts", "UCLH", "Barts"],
            "patients": [120.0, None, 40.0],
            "suppressed": [False, True, False],
        }
    )
    figure = charts.patient_flow_sankey(flows=flows)
    (sankey,) = figure.data
    assert sankey.type == "sankey" and list(sankey.node.label) == ["GP", "Screening", "Barts"]
    assert list(sankey.link.value) == [120.0, 40.0] and list(sankey.link.target) == [2, 2]
    assert "1 flows suppressed" in figure.layout.annotations[0].text


def test_sankey_writes_short_names_beside_its_nodes_and_the_whole_name_in_hover():
    flows = pd.DataFrame(
        {
            "source": ["North East London", "Barking, Havering and Redbridge University Hospitals (first seen)"],
            "target": [
                "Barking, Havering and Redbridge University Hospitals (first seen)",
                "Barking, Havering and Redbridge University Hospitals (treated)",
            ],
            "patients": [120.0, 100.0],
        }
    )
    (sankey,) = charts.patient_flow_sankey(flows=flows).data
    assert list(sankey.node.label) == ["North East London", "Barking, Havering and R…", "Barking, Havering and R…"]
    assert list(sankey.node.customdata) == list(dict.fromkeys(flows["source"].tolist() + flows["target"].tolist()))
    assert "%{customdata}" in sankey.node.hovertemplate and "%{customdata}" in sankey.link.hovertemplate
    assert sankey.link.customdata[1].endswith(
        "(first seen) → Barking, Havering and Redbridge University Hospitals (treated)"
    )


@pytest.mark.parametrize("unit, needle", [("percent", ".1f}%"), ("ratio", ".2f}"), ("proportion", ".1%}")])
def test_hover_format_follows_the_unit(unit, needle):
    figure = charts.ranked_chart(values=rows([0.5]), value_label="x", unit=unit)
    assert needle in figure.data[0].hovertemplate
