"""Pure pieces of the immunisation pages: figure builders, the wide comparison table, control parsing."""

from __future__ import annotations

import math

import pandas as pd

from components.immunisation_views import (
    count_bar_chart,
    headline_cards,
    inequality_summary,
    intersection_heatmap,
    practice_comparison_chart,
)
from components.layout import sortable_table
from queries.immunisation import practice_comparison_wide


def _text(component) -> str:
    return str(component.to_plotly_json())


def test_heatmap_leaves_suppressed_cells_empty_and_labels_them():
    values = pd.DataFrame(
        {
            "area_name": ["Asian", "Asian", "Black", "Black"],
            "subgroup_name": ["Q2", "Q1 (most deprived)", "Q1 (most deprived)", "Q2"],
            "value": [80.0, 70.0, None, 90.0],
            "denominator": [100.0, 50.0, None, 40.0],
            "suppressed": [False, False, True, False],
        }
    )
    figure = intersection_heatmap(values=values, value_label="Coverage")
    trace = figure.data[0]
    assert list(trace.x) == ["Q1 (most deprived)", "Q2"]  # quintiles in order, whatever the row order
    assert list(trace.y) == ["Asian", "Black"]
    assert trace.z[0][0] == 70.0 and trace.z[0][1] == 80.0 and trace.z[1][1] == 90.0
    assert math.isnan(trace.z[1][0]) and trace.text[1][0] == "supp."
    assert trace.text[0][0] == "70.0%"
    assert (trace.zmin, trace.zmax) == (70.0, 90.0)


def test_heatmap_of_one_value_keeps_its_colour_bar_within_0_to_100_and_marks_empty_pairs():
    """Camden's one shown cell (100 %) had a colour bar from 99.6 % to 100.4 %, and pairs with no children
    were blank, like missing data."""
    values = pd.DataFrame(
        {
            "area_name": ["Asian", "Black"],
            "subgroup_name": ["Q1 (most deprived)", "Q2"],
            "value": [100.0, None],
            "denominator": [12.0, None],
            "suppressed": [False, True],
        }
    )
    trace = intersection_heatmap(values=values, value_label="Coverage").data[0]
    assert (trace.zmin, trace.zmax) == (90.0, 100.0)
    assert trace.text[0][1] == "–" and trace.text[1][0] == "–"  # no children of that pair
    assert trace.text[1][1] == "supp."


def test_bar_chart_draws_largest_groups_and_never_a_suppressed_one():
    frame = pd.DataFrame(
        {"name": ["A", "B", "C", "D"], "children": [10.0, None, 30.0, 20.0], "suppressed": [False, True, False, False]}
    )
    figure = count_bar_chart(frame=frame, label_column="name", axis_label="Children", max_bars=2)
    assert list(figure.data[0].y) == ["D", "C"]  # the two largest, largest at the top
    # The notes are lines of the axis title (wrapped to fit under a phone's plot).
    note = figure.layout.xaxis.title.text.replace("<br>", " ")
    assert "1 smaller groups not drawn" in note and "1 groups suppressed" in note


def test_bar_chart_keeps_the_frames_order_when_not_ranked():
    ages = pd.DataFrame({"age": ["1 years", "2 years", "3 years"], "children": [30.0, 10.0, 20.0]})
    figure = count_bar_chart(frame=ages, label_column="age", axis_label="Children", ranked=False)
    assert list(figure.data[0].y) == ["3 years", "2 years", "1 years"]  # Plotly draws the first at the bottom
    ranked = count_bar_chart(frame=ages, label_column="age", axis_label="Children")
    assert list(ranked.data[0].y) == ["2 years", "3 years", "1 years"]


def _comparison_rows(practice_value, suppressed=False):
    rows = []
    for level, value in (("Practice", practice_value), ("PCN", 88.0), ("Borough", 85.0), ("London", 86.0)):
        rows.append(
            {
                "indicator_id": "cover_24m_mmr1",
                "title": "MMR1 by 24 months",
                "period_id": "2026-27 Q2",
                "level": level,
                "value": value,
                "ci_low": None if value is None else value - 5,
                "ci_high": None if value is None else value + 3,
                "numerator": 45.0,
                "denominator": 50.0,
                "patients_to_target": 3.0,
                "suppressed": suppressed and level == "Practice",
                "rank": 2.0 if level == "Practice" else None,
                "ranked": 10 if level == "Practice" else None,
                "comparison": "similar",
            }
        )
    return pd.DataFrame(rows)


def test_comparison_chart_marks_a_suppressed_practice_instead_of_plotting_it():
    figure = practice_comparison_chart(frame=_comparison_rows(None, suppressed=True))
    assert {trace.name for trace in figure.data} - {"PCN", "Borough", "London"} == {
        "Practice not shown (1 of 1):<br>1–7 (suppressed)"
    }
    # No children in a cohort is not a suppressed count: a user shown the practice's own counts sees only that.
    empty = practice_comparison_chart(frame=_comparison_rows(None))
    assert "Practice not shown (1 of 1):<br>no children" in {trace.name for trace in empty.data}
    both = pd.concat([_comparison_rows(None, suppressed=True), _comparison_rows(None).assign(title="MMR2")])
    names = {trace.name for trace in practice_comparison_chart(frame=both).data}
    assert "Practice not shown (2 of 2):<br>no children, or 1–7 (suppressed)" in names
    (cross,) = [trace for trace in figure.data if trace.name.startswith("Practice not shown")]
    assert list(cross.y) == ["MMR1 by 24 months"] and cross.x[0] < 80  # a mark at the axis start, not a value
    shown = practice_comparison_chart(frame=_comparison_rows(90.0))
    practice = next(t for t in shown.data if t.name == "Practice")
    assert list(practice.x) == [90.0] and list(practice.error_x.array) == [3.0]


def test_wide_comparison_table_has_one_row_per_vaccine():
    wide = practice_comparison_wide(_comparison_rows(90.0))
    assert len(wide) == 1
    row = wide.iloc[0]
    assert (row["practice_value"], row["pcn_value"], row["borough_value"], row["london_value"]) == (90, 88, 85, 86)
    assert row["children_short"] == 3 and row["rank"] == 2 and row["ranked"] == 10


def test_comparison_table_says_suppressed_for_a_hidden_count_of_children_short():
    rows = _comparison_rows(90.0)
    rows["patients_to_target"] = None  # 3 short: hidden by disclosure control in a row that is shown
    rows["patients_to_target_suppressed"] = rows["level"] == "Practice"
    wide = practice_comparison_wide(rows)
    assert bool(wide.iloc[0]["children_short_suppressed"])
    table = sortable_table(
        wide, columns={"title": "Vaccine", "children_short": "Children short of 95%"}, caption="c", table_id="t"
    )
    (data_table,) = [c for c in table.children if type(c).__name__ == "DataTable"]
    assert data_table.data == [{"title": "MMR1 by 24 months", "children_short": "suppressed"}]
    # A column of counts with a cell in words ("no target") still sorts and formats as numbers.
    words = pd.DataFrame({"title": ["A", "B"], "children_short": pd.Series([12.0, "no target"], dtype=object)})
    table = sortable_table(words, columns={"children_short": "Short"}, caption="c", table_id="t")
    (data_table,) = [c for c in table.children if type(c).__name__ == "DataTable"]
    assert data_table.columns[0]["type"] == "numeric"


def test_headline_shows_gap_and_children_needed_and_never_zero_for_suppressed():
    row = pd.Series(
        {
            "value": 86.25,
            "ci_low": 81.6,
            "ci_high": 89.9,
            "numerator": 225.0,
            "denominator": 260.0,
            "patients_to_target": 23.0,
            "suppressed": False,
        }
    )
    text = _text(
        headline_cards(
            row=row,
            title="MMR1 by 24 months",
            period_label="2026-27 Q2",
            target=95.0,
            previous_value=83.0,
            previous_label="2026-27 Q1",
        )
    )
    assert "86.2%" in text and "'23'" in text
    # The unit in body-size text after the big number: "up 3.2 points" in the big font wrapped on a desktop.
    assert "'8.8', Span(children=' points', className='stat-unit')" in text
    assert "'▲ up 3.2', Span(children=' points', className='stat-unit')" in text
    hidden = pd.Series(
        {
            "value": None,
            "ci_low": None,
            "ci_high": None,
            "numerator": None,
            "denominator": None,
            "patients_to_target": None,
            "suppressed": True,
        }
    )
    text = _text(
        headline_cards(
            row=hidden,
            title="MMR1 by 24 months",
            period_label="2026-27 Q2",
            target=95.0,
            previous_value=None,
            previous_label=None,
        )
    )
    assert "Suppressed" in text and "'0'" not in text


def test_headline_says_suppressed_for_children_needed_hidden_in_a_shown_row():
    # A borough 5 children short of 95 %: the value is shown, the count of children needed is hidden.
    row = pd.Series(
        {
            "value": 93.0,
            "ci_low": 90.0,
            "ci_high": 95.0,
            "numerator": 280.0,
            "denominator": 300.0,
            "patients_to_target": None,
            "patients_to_target_suppressed": True,
            "suppressed": False,
        }
    )
    text = _text(
        headline_cards(row=row, title="MMR1", period_label="Q2", target=95.0, previous_value=None, previous_label=None)
    )
    # The children-needed card says so ("n/a" is left only to the change card: no earlier period given).
    assert "children='suppressed', className='stat-value'" in text and text.count("children='n/a'") == 1


def _inequality_row(**overrides) -> pd.Series:
    row = {"sii": 12.3, "sii_low": 8.0, "sii_high": 16.6, "rii": 1.18, "rii_low": 1.1, "rii_high": 1.26}
    row |= {"gap": 11.0, "gap_low": 6.0, "gap_high": 16.0, "suppressed": False}
    return pd.Series(row | overrides)


def test_inequality_sentence_keeps_the_sii_when_only_a_quintile_is_suppressed():
    """A suppressed extreme quintile hid the SII too ("too few children") over thousands of children."""
    row = _inequality_row(gap=None, gap_low=None, gap_high=None, suppressed=True)
    text = _text(inequality_summary(row=row))
    assert "+12.3 points" in text
    assert "Least minus most deprived quintile:" in text and "not shown (a quintile's count is 1–7)" in text
    shown = _text(inequality_summary(row=_inequality_row()))
    assert "+11.0 points" in shown and "not shown" not in shown


def test_inequality_sentence_without_an_sii_says_why():
    text = inequality_summary(row=_inequality_row(sii=None, suppressed=True)).children
    assert text.startswith("Slope index of inequality: not shown")


def test_the_children_needed_card_of_a_measure_without_a_target_says_so():
    row = pd.Series({"value": 73.5, "ci_low": 72.0, "ci_high": 75.0, "numerator": 8294.0, "denominator": 11273.0})
    text = _text(
        headline_cards(
            row=row, title="Polio", period_label="2022-23", target=None, previous_value=None, previous_label=None
        )
    )
    assert "this measure has no target" in text and "n/a more children" not in text
