"""The cancer page's figure builders and pure helpers: trust points, wait histograms, target path, bins."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from components.cancer_views import (
    SIMILAR_TRUST_COLOUR,
    add_target_path,
    add_trust_points,
    wait_histogram,
)
from components.charts import spc_chart
from components.style import COMPARISON_COLOURS, SUPPRESSED_COLOUR
from queries import cancer as cq

SITES = pd.DataFrame(
    {
        "trust_code": ["R1H", "RJ1", "RRV"],
        "trust_name": [
            "Barts Health NHS Trust",
            "Guy's and St Thomas' NHS Foundation Trust",
            "University College London Hospitals NHS Foundation Trust",
        ],
        "site_name": ["The Royal London Hospital", "Guy's Hospital", "University College Hospital"],
        "lat": [51.5186, 51.5034, 51.5246],
        "lon": [-0.0594, -0.0873, -0.1357],
    }
)


def trust_values(**overrides) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "area_code": ["R1H", "RJ1", "RRV"],
            "value": [82.0, 70.0, None],
            "ci_low": [78.0, 65.0, None],
            "ci_high": [86.0, 75.0, None],
            "denominator": [400.0, 100.0, None],
            "comparison": ["better", "similar", "not compared"],
            "suppressed": [False, False, True],
        }
    )
    return frame.assign(**overrides)


def test_trust_points_are_one_trace_coloured_by_comparison_and_sized_by_pathways():
    figure = add_trust_points(go.Figure(), values=trust_values(), sites=SITES, value_label="FDS (%)")
    assert len(figure.data) == 1
    points = figure.data[0]
    colours = list(points.marker.color)
    assert colours == [COMPARISON_COLOURS["better"], SIMILAR_TRUST_COLOUR, SUPPRESSED_COLOUR]
    sizes = list(points.marker.size)
    assert sizes[0] > sizes[1]  # 400 pathways drawn bigger than 100
    assert "82.0%" in points.text[0] and "95% CI 78.0% to 86.0%" in points.text[0]
    assert "suppressed" in points.text[2] and "None" not in points.text[2]


def test_trust_points_without_values_are_locations_only():
    figure = add_trust_points(go.Figure(), values=None, sites=SITES, value_label="Stage 1-2 (%)")
    assert len(figure.data[0].lat) == 3 and figure.data[0].name == "Trusts (main site)"
    assert all("%" not in text for text in figure.data[0].text)


def test_trust_points_keep_one_trace_when_no_trust_has_a_row():
    figure = add_trust_points(go.Figure(), values=trust_values().iloc[0:0], sites=SITES, value_label="FDS (%)")
    assert len(figure.data) == 1


def distribution(counts, *, standard=28, suppressed=None) -> pd.DataFrame:
    ends = cq.wait_bin_ends(standard=standard, bin_days=7)
    starts = np.concatenate([[0], ends[:-1] + 1])
    counts = np.array(counts + [0] * (len(ends) - len(counts)), dtype=float)
    hidden = (
        np.zeros(len(ends), dtype=bool)
        if suppressed is None
        else np.array(suppressed + [False] * (len(ends) - len(suppressed)))
    )
    return pd.DataFrame(
        {
            "bin_start": starts,
            "bin_end": ends,
            "open_ended": ends >= cq.WAIT_CAP_DAYS,
            "pathways": np.where(hidden, np.nan, counts),
            "share": counts / max(counts.sum(), 1) * 100,
            "within_standard": ends <= standard,
            "suppressed": hidden,
        }
    )


def test_wait_histogram_splits_bars_at_the_standard_and_draws_its_line():
    figure = wait_histogram(distribution=distribution([10, 20, 30, 40, 15, 5]), standard_days=28, measure_label="Days")
    within, beyond = figure.data[0], figure.data[1]
    assert list(within.x) == ["0–7", "8–14", "15–21", "22–28"] and list(within.y) == [10, 20, 30, 40]
    assert list(beyond.x)[:2] == ["29–35", "36–42"] and list(beyond.y)[:2] == [15, 5]
    line = figure.layout.shapes[0]
    assert line.x0 == pytest.approx(3.5)  # between the 22-28 and 29-35 bars
    # The last bin holds every wait from its first day on (waits are capped at 150 days).
    last_start = int(cq.wait_bin_ends(standard=28, bin_days=7)[-2]) + 1
    assert list(figure.layout.xaxis.categoryarray)[-1] == f"{last_start}+"


def test_wait_histogram_names_suppressed_bins_and_never_draws_them_as_counts():
    figure = wait_histogram(
        distribution=distribution([10, 3], suppressed=[False, True]), standard_days=28, measure_label="Days"
    )
    suppressed = [t for t in figure.data if t.name.startswith("Suppressed")]
    assert suppressed and list(suppressed[0].x) == ["8–14"] and "suppressed" in suppressed[0].hovertemplate
    assert "8–14" not in list(figure.data[0].x)
    # Visible, unlike an empty bin: a mark drawn on the axis line, not a bar of height 0.
    assert suppressed[0].type == "scatter" and "markers" in suppressed[0].mode and suppressed[0].cliponaxis is False


def test_wait_histogram_says_when_there_is_nothing_to_draw():
    figure = wait_histogram(distribution=distribution([0]), standard_days=62, measure_label="Days")
    assert any(a.text.startswith("No bars") for a in figure.layout.annotations)


def _drawn_trend() -> go.Figure:
    return go.Figure(go.Scatter(x=["Mar 2025", "Apr 2025"], y=[70.0, 72.0]))


def test_target_path_is_a_step_line_and_absent_without_targets():
    series = pd.DataFrame({"period_label": ["Mar 2025", "Apr 2025"], "operational_target": [77.0, 80.0]})
    figure = add_target_path(_drawn_trend(), series=series)
    assert list(figure.data[1].y) == [77.0, 80.0] and figure.data[1].line.shape == "hvh"
    none = pd.DataFrame({"period_label": ["Mar 2025"], "operational_target": [None]})
    assert len(add_target_path(_drawn_trend(), series=none).data) == 1


def test_no_target_line_on_a_trend_that_draws_nothing():
    """A trust whose every month was suppressed showed "no trend to draw" crossed by a lone target line."""
    series = pd.DataFrame(
        {
            "period_label": ["Mar 2025", "Apr 2025"],
            "value": [None, None],
            "suppressed": [True, True],
            "operational_target": [77.0, 80.0],
        }
    )
    chart = spc_chart(series=series, value_label="FDS (%)", title="Barts Health")
    figure = add_target_path(chart, series=series)
    assert len(figure.data) == 0
    assert figure.layout.annotations[0].text.startswith("Barts Health: no trend to draw")


@pytest.mark.parametrize(
    ("standard", "bin_days", "first_ends"),
    [
        (28, 7, [7, 14, 21, 28, 35]),
        (62, 7, [6, 13, 20, 27, 34]),
        (28, 1, [0, 1, 2, 3, 4]),
    ],
)
def test_wait_bins_end_on_the_standard(standard, bin_days, first_ends):
    ends = cq.wait_bin_ends(standard=standard, bin_days=bin_days)
    assert ends[:5].tolist() == first_ends and standard in ends and ends[-1] == cq.WAIT_CAP_DAYS


def test_target_in_force_changes_on_the_first_day_of_the_financial_year():
    assert cq.target_in_force("cwt_fds_28d", dt.date(2024, 3, 31)) == 75.0
    assert cq.target_in_force("cwt_fds_28d", dt.date(2024, 4, 1)) == 77.0
    assert cq.target_in_force("cwt_31d", dt.date(2026, 1, 1)) == 96.0
    assert cq.target_in_force("cancer_early_stage", dt.date(2026, 1, 1)) is None


def test_pathway_filters_refuse_unknown_codes_and_drop_priority_for_tumours():
    assert cq.pathway_filters(tumour_group="lung", priority_type="screening") == {
        "tumour_group": ["lung"],
        "priority_type": ["screening"],
    }
    assert cq.pathway_filters(tumour_group="lung", priority_type="screening", indicator="cancer_early_stage") == {
        "tumour_group": ["lung"]
    }
    with pytest.raises(cq.QueryError):
        cq.pathway_filters(tumour_group="lung'; DROP TABLE x; --")
    with pytest.raises(cq.QueryError):
        cq.pathway_filters(priority_type="routine")


def test_trust_sites_cover_every_reference_trust_with_london_coordinates():
    sites = cq.trust_sites()
    reference = pd.concat(
        [pd.read_csv(cq.REFERENCE_DIR / "trusts.csv"), pd.read_csv(cq.REFERENCE_DIR / "specialist_cancer_trusts.csv")]
    )
    assert set(reference["trust_code"]) <= set(sites["trust_code"])
    assert sites["lat"].between(51.28, 51.70).all() and sites["lon"].between(-0.52, 0.34).all()
    assert cq.short_trust_name("Barts Health NHS Trust") == "Barts Health"
