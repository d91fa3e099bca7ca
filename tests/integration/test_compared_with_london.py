"""Every "compared with London" a page shows or exports is against London, or names what it is against.

The engine compares filtered rows with everything the filters kept (a borough's practices with the
borough); these tests hold the pages to what their labels say. Callbacks are called as functions.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest

from queries import immunisation as imm
from queries.db import get_database
from queries.indicators import indicator_values
from security.roles import Principal, Role
from security.web import acting_as
from tests.integration.app_pages import app_pages

INDICATOR = "cover_24m_mmr1"
PRACTICE = "E83003"  # Barnet
OTHER_PRACTICE = "E83010"  # Barnet: worse than London, similar to Barnet for MMR1 in the fixture
BARNET = "E09000003"
ANALYST = Principal("analyst.test", Role.ANALYST)


@pytest.fixture(scope="module")
def pages(small_db, tmp_path_factory):
    audit_dir = tmp_path_factory.mktemp("audit")
    with app_pages(small_db, audit_dir, "immunisation", "immunisation_practice") as modules:
        yield dict(zip(("immunisation", "immunisation_practice"), modules, strict=True))


@pytest.fixture(scope="module")
def db(small_db):
    return get_database(small_db)


def _london_and_borough(db, indicator: str, period: str) -> tuple[pd.DataFrame, float, float]:
    """Every London practice (compared with London), London's value and Barnet's, unrounded."""
    everywhere = indicator_values(db, indicator=indicator, period=period, by="practice", disclose=False)
    london = float(everywhere["london_value"].iloc[0])
    barnet = float(
        indicator_values(db, indicator=indicator, period=period, filters={"borough": BARNET}, disclose=False)[
            "value"
        ].iloc[0]
    )
    assert london != pytest.approx(barnet), "the fixture's Barnet should differ from London"
    return everywhere.set_index("area_code"), london, barnet


def test_gp_view_ranking_colours_each_practice_against_london(pages, db):
    page = pages["immunisation_practice"]
    period = imm.period_for(db, indicator=INDICATOR, period_type="fy")
    everywhere, london, barnet = _london_and_borough(db, INDICATOR, period)
    with acting_as(ANALYST):
        figure = page.update_ranking(INDICATOR, "fy", PRACTICE)
    labels = {"better": "Better than London", "similar": "Similar to London", "worse": "Worse than London"}
    coloured = 0
    for trace in figure.data:
        if trace.name.startswith("Suppressed"):
            continue
        for code in trace.y:
            expected = everywhere.loc[code, "comparison"]
            assert trace.name == labels.get(expected, "Not compared"), code
            coloured += 1
    assert coloured > 0
    # The London line is drawn at London's value (named in the legend, and under the axis on a phone);
    # the title gives the borough's.
    assert f"London ({london:.1f}%)" in [shape.name for shape in figure.layout.shapes]
    phone_notes = figure.layout.meta["narrow"]["layout"]["xaxis.title.text"].replace("<br>", " ")
    assert f"Solid line: London {london:.1f}%" in phone_notes
    assert "Colours: compared with London" in phone_notes
    assert f"(borough {barnet:.1f}%)" in figure.layout.title.text.replace("<br>", " ")


def test_gp_view_ranking_csv_holds_londons_value_and_comparison(pages, db):
    page = pages["immunisation_practice"]
    period = imm.period_for(db, indicator=INDICATOR, period_type="fy")
    everywhere, london, barnet = _london_and_borough(db, INDICATOR, period)
    with acting_as(ANALYST):
        payload, message = page.download_ranking(1, INDICATOR, "fy", PRACTICE)
    assert message is None
    frame = pd.read_csv(io.StringIO(payload["content"]), dtype={"area_code": str}).set_index("area_code")
    assert frame["london_value"].tolist() == pytest.approx([london] * len(frame))
    assert frame["borough_value"].tolist() == pytest.approx([barnet] * len(frame))
    assert frame["comparison"].to_dict() == everywhere.loc[frame.index, "comparison"].to_dict()


def test_gp_view_comparison_csv_compares_the_practice_with_london(pages, db):
    page = pages["immunisation_practice"]
    with acting_as(ANALYST):
        payload, message = page.download_comparison(1, "fy", OTHER_PRACTICE)
    assert message is None
    frame = pd.read_csv(io.StringIO(payload["content"])).set_index("indicator_id")
    checked = 0
    for spec in imm.immunisation_indicators():
        period = imm.period_for(db, indicator=spec.id, period_type="fy")
        everywhere = indicator_values(db, indicator=spec.id, period=period, by="practice", disclose=False)
        own = everywhere[everywhere["area_code"] == OTHER_PRACTICE]
        if own.empty:
            continue
        assert frame.loc[spec.id, "london_value"] == pytest.approx(own["london_value"].iloc[0]), spec.id
        assert frame.loc[spec.id, "comparison"] == own["comparison"].iloc[0], spec.id
        checked += 1
    assert checked > 0
