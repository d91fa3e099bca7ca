"""A trend's SPC columns are, group by group, exactly the Making Data Count chart of that group's series.

:func:`queries.indicators.trend` charts every group at once (no frame per group); here each group is
charted on its own with :func:`queries.stats.spc`, on the synthetic small_db fixture, for a p-chart and
an XmR indicator, by borough, practice and an intersectional pair.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from queries import indicators, stats
from queries.registry import get

trend = indicators.trend.uncached


@pytest.mark.parametrize("indicator_id", ["cover_12m_6in1", "hyp008", "hyp_detection_ratio", "cwt_fds_28d"])
@pytest.mark.parametrize("by", ["borough", "practice", ("sex", "imd_quintile")])
def test_each_groups_spc_is_its_own_chart(synthetic, indicator_id, by):
    spec = get(indicator_id)
    series = trend(synthetic, indicator=indicator_id, by=by, disclose=False)
    usable = series[series["denominator"] > 0]
    assert usable["area_code"].nunique() > 1, "a by-group trend with several groups"
    charted = 0
    for _, group in usable.groupby(["area_code", "subgroup_code"], dropna=False, sort=False):
        expected = stats.spc(
            group["value"].to_numpy(dtype=float) / spec.scale,
            group["denominator"].to_numpy(dtype=float),
            polarity=spec.polarity,
            chart="p" if spec.unit == "percent" else "xmr",
        )
        expected.index = group.index
        for column in ("centre", "lower_limit", "upper_limit"):
            expected[column] = expected[column] * spec.scale
        actual = group[list(indicators.SPC_COLUMNS)]
        pd.testing.assert_frame_equal(actual, expected[list(indicators.SPC_COLUMNS)], check_dtype=False)
        charted += len(group)
    assert charted == len(usable)


def test_a_period_with_no_denominator_is_left_out_of_its_groups_chart():
    """No trend of the small database holds such a period (a group with no cases in a period has no row), so
    the rule is checked here: group A's empty 2nd period is not charted, and its other periods are charted as
    the series without it; group B's chart is its own."""
    spec = get("cover_12m_6in1")
    denominators = [100, 0, 120, 110, 90, 80, 100, 100]
    values = [90.0, math.nan, 85.0, 88.0, 70.0, 75.0, 72.0, 71.0]
    series = pd.DataFrame(
        {"area_code": ["A"] * 4 + ["B"] * 4, "subgroup_code": None, "value": values, "denominator": denominators}
    )
    chart = indicators.spc_columns(spec, series, group_by=["area_code", "subgroup_code"])
    assert sorted(chart.index) == [0, 2, 3, 4, 5, 6, 7]
    for rows in ([0, 2, 3], [4, 5, 6, 7]):
        expected = stats.spc(
            np.array(values)[rows] / spec.scale, np.array(denominators, dtype=float)[rows], polarity=spec.polarity
        )
        assert chart.loc[rows, "centre"].to_numpy() == pytest.approx(expected["centre"].to_numpy() * spec.scale)
        assert chart.loc[rows, "upper_limit"].to_numpy() == pytest.approx(
            expected["upper_limit"].to_numpy() * spec.scale
        )


def test_spc_arrays_and_frame_agree():
    values = np.array([0.5, 0.52, 0.49, 0.6, 0.61, 0.62, 0.63, 0.64, 0.65])
    denominators = np.full(len(values), 300)
    arrays = stats.spc_arrays(values, denominators, polarity="high", chart="p")
    pd.testing.assert_frame_equal(stats.spc(values, denominators, polarity="high", chart="p"), pd.DataFrame(arrays))
    assert arrays["special_cause"].any() and set(arrays["variation"]) <= {"improvement", "concern", "common", "special"}


def test_a_rolling_trend_steps_a_quarter_at_a_time(synthetic):
    """Rolling 12 months are trended at quarter ends only: the period to the extract date (31 Oct here)
    sat one month after 30 Sep at a quarter's step on the chart, and overlapped it by 11 months."""
    series = trend(synthetic, indicator="hyp008", disclose=False)
    ends = pd.to_datetime(series["end_date"]).drop_duplicates().sort_values()
    assert len(ends) > 2
    assert all(end.is_quarter_end for end in ends), list(ends)
    months = [(b.year - a.year) * 12 + b.month - a.month for a, b in zip(ends, ends[1:], strict=False)]
    assert set(months) == {3}
