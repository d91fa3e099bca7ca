"""Chart builders name what the rows are compared with: London by default, or the benchmark given."""

from __future__ import annotations

import pandas as pd

from components import charts


def _rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "area_code": ["A", "B", "C"],
            "area_name": ["Trust A", "Trust B", "Trust C"],
            "numerator": [70.0, 80.0, 90.0],
            "denominator": [100.0, 100.0, 100.0],
            "value": [70.0, 80.0, 90.0],
            "ci_low": [65.0, 75.0, 85.0],
            "ci_high": [75.0, 85.0, 95.0],
            "london_value": [80.0, 80.0, 80.0],
            "comparison": ["worse", "similar", "better"],
            "suppressed": [False, False, False],
        }
    )


def _phone_notes(figure) -> str:
    return figure.layout.meta["narrow"]["layout"]["xaxis.title.text"].replace("<br>", " ")


def test_ranked_charts_say_london_by_default():
    figure = charts.ranked_areas_chart(values=_rows(), value_label="Within 28 days", unit="percent", target=None)
    assert [trace.name for trace in figure.data] == ["Better than London", "Similar to London", "Worse than London"]
    assert [shape.name for shape in figure.layout.shapes] == ["London (80.0%)"]
    assert "Colours: compared with London" in _phone_notes(figure)


def test_ranked_charts_name_the_benchmark_given():
    for figure in (
        charts.ranked_areas_chart(
            values=_rows(), value_label="Within 28 days", unit="percent", target=None, benchmark="London, Lung"
        ),
        charts.ranked_chart(values=_rows(), value_label="x", london_value=80.0, benchmark="London, Lung"),
    ):
        assert [trace.name for trace in figure.data] == [
            "Better than London, Lung",
            "Similar to London, Lung",
            "Worse than London, Lung",
        ]
        assert [shape.name for shape in figure.layout.shapes] == ["London, Lung (80.0%)"]
        notes = _phone_notes(figure)
        assert "Colours: compared with London, Lung" in notes and "Solid line: London, Lung 80.0%" in notes


def test_funnel_names_its_centre_line_after_the_benchmark():
    limits = pd.DataFrame(
        {"denominator": [1.0, 100.0], "lower_95": [0.0, 70.0], "upper_95": [100.0, 90.0]}
        | {"lower_998": [0.0, 65.0], "upper_998": [100.0, 95.0]}
    )
    points = _rows().assign(funnel="within")
    default = charts.funnel_plot(points=points, limits=limits, london_value=80.0, value_label="x")
    named = charts.funnel_plot(
        points=points, limits=limits, london_value=80.0, value_label="x", benchmark="London, Lung"
    )
    assert [shape.name for shape in default.layout.shapes if shape.name] == ["London (80.0%)"]
    assert [shape.name for shape in named.layout.shapes if shape.name] == ["London, Lung (80.0%)"]
