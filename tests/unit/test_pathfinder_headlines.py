"""The overview's pathfinder headlines agree with the engine's own London and borough values."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from components.overview_views import headline_lines, pathfinder_card
from queries.db import get_database
from queries.indicators import indicator_values
from queries.overview import HEADLINE_INDICATORS, pathfinder_headlines
from queries.registry import get


@pytest.fixture(scope="module")
def db(small_db):
    return get_database(small_db)


@pytest.fixture(scope="module")
def borough_names(db):
    frame = db.frame("SELECT borough_code, borough_name FROM ref_boroughs")
    return dict(zip(frame["borough_code"], frame["borough_name"], strict=True))


@pytest.mark.parametrize("disclose", [True, False])
def test_each_headline_is_the_engines_london_value_and_borough_spread(db, disclose, borough_names):
    headlines = pathfinder_headlines(db, disclose=disclose).set_index("indicator_id")
    expected_ids = [indicator for indicators in HEADLINE_INDICATORS.values() for indicator in indicators]
    assert list(headlines.index) == expected_ids
    for indicator in expected_ids:
        row = headlines.loc[indicator]
        spec = get(indicator)
        london = indicator_values(db, indicator=indicator, by="london", disclose=disclose).iloc[0]
        assert row["period_id"] == london["period_id"]
        if london["suppressed"]:
            assert pd.isna(row["london_value"])
        else:
            assert math.isclose(row["london_value"], london["value"])
        boroughs = indicator_values(db, indicator=indicator, by="borough", disclose=disclose)
        shown = boroughs[~boroughs["suppressed"].astype(bool) & boroughs["value"].notna()]
        assert row["boroughs_shown"] == len(shown)
        assert row["boroughs_suppressed"] == boroughs["suppressed"].astype(bool).sum()
        # Every borough is shown, suppressed or has nobody eligible: the card's counts add up to London's 33.
        hidden = boroughs[boroughs["suppressed"].astype(bool)]
        absent = set(borough_names) - set(shown["area_code"]) - set(hidden["area_code"])
        assert row["boroughs_without_patients"] == len(absent)
        assert row["boroughs_shown"] + row["boroughs_suppressed"] + row["boroughs_without_patients"] == 33
        if 0 < len(absent) <= 3:
            assert row["without_patients_names"] == ", ".join(sorted(borough_names[code] for code in absent))
        else:
            assert pd.isna(row["without_patients_names"])
        assert row["boroughs_worse"] == (shown["comparison"] == "worse").sum()
        assert row["boroughs_better"] == (shown["comparison"] == "better").sum()
        if spec.target is None:
            assert pd.isna(row["boroughs_meeting_target"])
        else:
            meets = shown["value"] <= spec.target if spec.polarity == "low" else shown["value"] >= spec.target
            assert row["boroughs_meeting_target"] == meets.sum()
        if len(shown):
            lowest = shown.loc[shown["value"].astype(float).idxmin()]
            assert math.isclose(row["lowest_value"], lowest["value"])
            assert math.isclose(row["highest_value"], shown["value"].astype(float).max())


def test_restricted_headlines_never_count_a_suppressed_borough(db):
    disclosed = pathfinder_headlines(db, disclose=True).set_index("indicator_id")
    unrounded = pathfinder_headlines(db, disclose=False).set_index("indicator_id")
    assert (disclosed["boroughs_shown"] <= unrounded["boroughs_shown"]).all()
    assert (unrounded["boroughs_shown"] > 0).all()
    assert (unrounded["boroughs_suppressed"] == 0).all()
    assert disclosed["boroughs_suppressed"].sum() > 0, "the test database should hide some borough somewhere"


ROW = {
    "pathfinder": "cancer",
    "indicator_id": "cwt_62d",
    "title": "62 days from referral to first treatment",
    "unit": "percent",
    "polarity": "high",
    "period_id": "2026-10",
    "period_label": "Oct 2026",
    "target": 85.0,
    "london_value": None,
    "boroughs_shown": 1,
    "boroughs_suppressed": 32,
    "boroughs_without_patients": 0,
    "without_patients_names": None,
    "boroughs_meeting_target": 1.0,
    "boroughs_worse": 0,
    "boroughs_better": 0,
    "lowest_borough": "Barnet",
    "lowest_value": 90.9,
    "highest_borough": "Barnet",
    "highest_value": 90.9,
}


def test_a_card_says_suppressed_never_0_and_counts_boroughs_in_words():
    card = str(pathfinder_card(title="Cancer pathways", href="/cancer", rows=[ROW]))
    assert "suppressed" in card and "0.0%" not in card
    assert headline_lines(ROW) == [
        "Target 85.0%: 1 of 1 borough meets it",
        "0 boroughs significantly worse than London, 0 better",
        "32 boroughs suppressed (1–7 patients), not counted above",
    ]  # one borough shown: no lowest/highest
    wider = {
        **ROW,
        "boroughs_shown": 32,
        "boroughs_suppressed": 0,
        "target": None,
        "boroughs_worse": 1,
        "lowest_borough": "Sutton",
    }
    assert headline_lines(wider) == [
        "1 borough significantly worse than London, 0 better",
        "Lowest Sutton 90.9%, highest Barnet 90.9%",
    ]
    one_without = {**wider, "boroughs_without_patients": 1, "without_patients_names": "City of London"}
    assert headline_lines(one_without)[-1] == "1 borough (City of London) with no eligible patients in the period"
    many_without = {**one_without, "boroughs_without_patients": 4, "without_patients_names": float("nan")}
    assert headline_lines(many_without)[-1] == "4 boroughs with no eligible patients in the period"
    none_shown = {
        **ROW,
        "boroughs_shown": 0,
        "boroughs_suppressed": 20,
        "boroughs_without_patients": 13,
        "boroughs_meeting_target": 0.0,
        "lowest_borough": None,
        "highest_borough": None,
    }
    assert headline_lines(none_shown) == [
        "Target 85.0%; no borough's value is shown",
        "20 boroughs suppressed (1–7 patients), not counted above",
        "13 boroughs with no eligible patients in the period",
    ]
    assert headline_lines({**none_shown, "target": None})[0] == "No borough's value is shown"
