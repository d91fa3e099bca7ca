"""People-to-target arithmetic, its disclosure and its chart, on hand-written counts at the rule boundaries."""

from __future__ import annotations

import pandas as pd
import pytest

from components.hypertension_views import people_to_target_chart
from queries import hypertension as hq
from queries.indicators import QueryError


def _table(**overrides) -> pd.DataFrame:
    row = {
        "area_code": "E09000001",
        "area_name": "Test",
        "hyp008_numerator": 100.0,
        "hyp008_denominator": 200.0,
        "hyp008_value": 50.0,
        "hyp008_to_77": 54.0,
        "hyp008_to_80": 60.0,
        "hyp009_numerator": 3.0,
        "hyp009_denominator": 20.0,
        "hyp009_value": 15.0,
        "hyp009_to_77": 13.0,
        "hyp009_to_80": 13.0,
        "control_to_77": 67.0,
        "control_to_80": 73.0,
        "recorded": 250.0,
        "expected": 402.4,
        "estimated_undiagnosed": 152.4,
        "detection_ratio": 250 / 402.4,
        "to_detect_80": 72.0,
        "suppressed": False,
    }
    row.update(overrides)
    return pd.DataFrame([row])


def test_a_suppressed_count_hides_only_the_measures_resting_on_it():
    safe = hq.disclose_people_to_target(_table()).iloc[0]
    # HYP009's numerator is 3 (1-7): its value and people-to-target are hidden, not shown as 0 ...
    assert safe["hyp009_numerator"] is None and safe["hyp009_value"] is None and safe["hyp009_to_80"] is None
    # ... and so are the control totals, which include HYP009 ...
    assert safe["control_to_77"] is None and safe["control_to_80"] is None
    # ... while HYP008 and detection, resting on other counts, are shown with counts rounded to 5.
    assert safe["hyp008_numerator"] == 100 and safe["hyp008_value"] == 50.0 and safe["hyp008_to_80"] == 60
    assert safe["hyp008_to_77"] == 55  # 54 rounds to the nearest 5
    assert safe["expected"] == 400 and safe["estimated_undiagnosed"] == 150 and safe["to_detect_80"] == 70
    assert safe["suppressed"]


def test_control_totals_are_disclosed_from_the_exact_sum():
    table = _table(hyp009_numerator=12.0, hyp009_to_77=3.0, hyp009_to_80=4.0, control_to_77=57.0, control_to_80=64.0)
    safe = hq.disclose_people_to_target(table).iloc[0]
    # 54 + 3 = 57 -> 55 and 60 + 4 = 64 -> 65; summing the rounded parts would give 55 + None and 60 + None.
    assert safe["control_to_77"] == 55 and safe["control_to_80"] == 65
    assert safe["hyp009_to_77"] is None, "3 more people is a count of 1-7: suppressed"
    assert not safe["suppressed"]


def test_area_filters_name_one_area_and_refuse_unknown_levels():
    assert hq.area_filters(level="london", code="E09000001") is None
    assert hq.area_filters(level="borough", code=None) is None
    assert hq.area_filters(level="practice", code="E83003") == {"practice": ["E83003"]}
    with pytest.raises(QueryError):
        hq.area_filters(level="lsoa; DROP TABLE x", code="E01000001")


def test_groups_are_put_in_their_natural_order():
    ages = pd.DataFrame({"area_name": ["18-29", "5-17", "80+", "40-49", "0-4"]})
    assert hq.ordered(ages, dimension="age_band")["area_name"].tolist() == ["0-4", "5-17", "18-29", "40-49", "80+"]
    groups = pd.DataFrame({"area_name": ["Not stated", "Asian", "White", "Black", "Other", "Mixed"]})
    assert hq.ordered(groups, dimension="ethnicity_group")["area_name"].tolist() == [
        "White",
        "Mixed",
        "Asian",
        "Black",
        "Other",
        "Not stated",
    ]


def test_chart_names_a_suppressed_count_where_its_bar_would_be():
    table = pd.DataFrame({"area_name": ["A", "B"], "control_to_80": [None, 40.0], "to_detect_80": [15.0, None]})
    figure = people_to_target_chart(table=table, ambition="80")
    control, detect = figure.data
    shown = dict(zip(control.y, zip(control.x, control.text, strict=True), strict=True))
    assert shown == {"A": (0.0, "suppressed"), "B": (40.0, "")}
    shown = dict(zip(detect.y, zip(detect.x, detect.text, strict=True), strict=True))
    assert shown == {"A": (15.0, ""), "B": (0.0, "suppressed")}
    assert "suppressed" in detect.hovertext[list(detect.y).index("B")]
