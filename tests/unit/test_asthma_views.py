"""The asthma page's figure builders: what the linked-admissions chart draws and says it leaves out."""

from __future__ import annotations

import pandas as pd

from components.asthma_views import linked_admissions_chart

MEASURES = (("saba_over", "SABA over-reliance"), ("no_review", "No review"), ("no_plan", "No action plan"))


def _rows(area: str, suppressed: tuple[bool, ...]) -> list[dict]:
    return [
        {
            "area_name": area,
            "measure": measure,
            "measure_label": label,
            "value": None if hidden else 40.0,
            "ci_low": None if hidden else 30.0,
            "ci_high": None if hidden else 50.0,
            "numerator": None if hidden else 20,
            "denominator": None if hidden else 50,
            "suppressed": hidden,
        }
        for (measure, label), hidden in zip(MEASURES, suppressed, strict=True)
    ]


def test_an_area_with_some_bars_suppressed_keeps_its_row_and_is_named_as_such():
    """Sutton, one measure of three suppressed, was listed as "not shown" while its bars were drawn, and
    fell to the bottom of the chart out of order (its row had left the axis's category list)."""
    values = pd.DataFrame(
        _rows("London", (False, False, False))
        + _rows("City of London", (True, True, True))
        + _rows("Sutton", (False, True, False))
        + _rows("Barnet", (False, False, False))
    )
    figure = linked_admissions_chart(values=values)
    assert list(figure.layout.yaxis.categoryarray) == ["London", "Sutton", "Barnet"]
    note = " ".join(annotation.text for annotation in figure.layout.annotations).replace("<br>", " ")
    assert "Not shown, suppressed (fewer than 8 patients): City of London" in note
    assert "Some bars suppressed (fewer than 8 patients): Sutton" in note
    drawn = {area for trace in figure.data for area in trace.y}
    assert drawn == {"London", "Sutton", "Barnet"}


def test_no_note_when_nothing_is_suppressed():
    values = pd.DataFrame(_rows("London", (False, False, False)) + _rows("Barnet", (False, False, False)))
    assert not figure_notes(linked_admissions_chart(values=values))


def figure_notes(figure) -> list[str]:
    return [annotation.text for annotation in figure.layout.annotations]


def test_the_legend_has_room_of_its_own_above_london():
    """Anchored to the plot's top under a fixed 60 px margin, the legend's two desktop rows were drawn over
    London's bars, the chart's first row. It now sits on the figure's container, with a row kept for each
    entry (as a phone lays it out), so Plotly keeps the plot below it."""
    values = pd.DataFrame(_rows("London", (False, False, False)) + _rows("Barnet", (False, False, False)))
    figure = linked_admissions_chart(values=values)
    legend = figure.layout.legend
    assert (legend.yref, legend.yanchor, legend.orientation) == ("container", "top", "h")
    assert figure.layout.height >= 260 + 20 * len(MEASURES), "room for a legend row an entry"
