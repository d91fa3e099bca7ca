"""Every "compared with London" a page shows or exports is against London, or names what it is against.

The engine compares filtered rows with everything the filters kept (a borough's practices with the
borough); these tests hold the pages to what their labels say. Callbacks are called as functions.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest

from queries import asthma as aq
from queries import immunisation as imm
from queries.db import get_database
from queries.indicators import default_period, indicator_values
from queries.registry import INDICATORS, get
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
    names = ("immunisation", "immunisation_practice", "hypertension", "asthma", "cancer")
    with app_pages(small_db, audit_dir, *names) as modules:
        yield dict(zip(names, modules, strict=True))


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


def _compared_with(frame: pd.DataFrame, benchmark: float, polarity: str) -> None:
    """Every row's london_value is ``benchmark`` and its comparison the 95 % interval's against it."""
    assert len(frame)
    assert pd.to_numeric(frame["london_value"]).tolist() == pytest.approx([benchmark] * len(frame))
    good, bad = ("better", "worse") if polarity == "high" else ("worse", "better")
    for row in frame.itertuples():
        if not row.denominator > 0 or pd.isna(row.ci_low):
            assert row.comparison == "not compared"
        elif row.ci_low > benchmark:
            assert row.comparison == good, row
        elif row.ci_high < benchmark:
            assert row.comparison == bad, row
        else:
            assert row.comparison == "similar", row


def test_immunisation_inequality_csv_of_a_borough_compares_its_groups_with_london(pages, db):
    page = pages["immunisation"]
    period = imm.period_for(db, indicator=INDICATOR, period_type="fy")  # Barnet's latest quarter is empty here
    london = indicator_values(db, indicator=INDICATOR, period=period, disclose=False)["value"].iloc[0]
    with acting_as(ANALYST):
        payload, message = page.download_inequalities(1, INDICATOR, period, BARNET)
    assert message is None
    frame = pd.read_csv(io.StringIO(payload["content"]))
    assert set(frame["breakdown"]) == {"imd_quintile", "ethnicity_group", "sex", "intersection"}
    _compared_with(frame, london, get(INDICATOR).polarity)


def test_hypertension_inequality_csvs_of_a_borough_compare_its_groups_with_london(pages, db):
    page = pages["hypertension"]
    period = default_period(db, "hyp008")
    london = indicator_values(db, indicator="hyp008", period=period, disclose=False)["value"].iloc[0]
    for view in ("intersection", *[f"inequality_{d}" for d in page.INEQUALITY_GRAPHS]):
        frame, _ = page.view_csv(
            view=view,
            indicator="hyp008",
            period=period,
            icb=None,
            borough=BARNET,
            practice=None,
            funnel_level="borough",
            trend_level="borough",
            disclose=False,
        )
        assert set(frame["area"]) == {"Barnet"}, view
        _compared_with(frame, london, get("hyp008").polarity)


def _asthma_csv(page, view: str, period: str) -> pd.DataFrame:
    frame, _ = page.view_csv(
        view=view,
        measure_id="ast_saba_3plus",
        period=period,
        borough=BARNET,
        level="borough",
        safety_measure="ast_saba_3plus",
        linked_threshold="3",
        linked_group="all",
        trend_level="borough",
        practice=None,
        disclose=False,
    )
    return frame


def test_asthma_safety_view_of_a_borough_names_its_line_after_the_borough(pages, db):
    page = pages["asthma"]
    period = default_period(db, "ast_saba_3plus")
    barnet = aq.measure_values(
        db, measure_id="ast_saba_3plus", period=period, by="london", filters={"borough": [BARNET]}, disclose=False
    )["value"].iloc[0]
    view = page.safety_view(measure_id="ast_saba_3plus", period=period, borough=BARNET, disclose=False)
    for chart in ("age_chart", "imd_chart", "ethnicity_chart"):
        names = [shape.name for shape in view[chart].layout.shapes if shape.name]
        assert f"Barnet ({barnet:.1f}%)" in names, chart
        assert not any(name.startswith("London") for name in names), chart
    # London itself keeps its London line.
    london_view = page.safety_view(measure_id="ast_saba_3plus", period=period, borough=None, disclose=False)
    assert any(shape.name.startswith("London (") for shape in london_view["imd_chart"].layout.shapes if shape.name)


def test_asthma_safety_csvs_of_a_borough_hold_londons_value(pages, db):
    page = pages["asthma"]
    period = default_period(db, "ast_saba_3plus")

    def london(measure_id: str) -> float:
        return aq.measure_values(db, measure_id=measure_id, period=period, by="london", disclose=False)["value"].iloc[0]

    for view in ("imd", "ethnicity"):
        frame = _asthma_csv(page, view, period)
        assert set(frame["area"]) == {"Barnet"}
        _compared_with(frame, london("ast_saba_3plus"), aq.measure("ast_saba_3plus").polarity)
    ages = _asthma_csv(page, "age_groups", period)
    assert pd.to_numeric(ages["london_value"]).tolist() == pytest.approx([london("ast_saba_3plus")] * 2)
    thresholds = _asthma_csv(page, "thresholds", period)
    for row in thresholds.itertuples():
        assert row.london_value == pytest.approx(london(row.measure_id)), row.measure_id
    _compared_with(thresholds.iloc[:1], london(thresholds["measure_id"].iloc[0]), "low")


def test_cancer_trusts_of_one_tumour_group_are_compared_with_londons_pathways_of_that_group(pages, db):
    page = pages["cancer"]
    year = default_period(db, "cwt_fds_28d", "fy")
    with acting_as(ANALYST):
        ranked = page.update_ranked("cwt_fds_28d", year, "lung", "all", "areas")
        funnel = page.update_funnel("cwt_fds_28d", year, "lung", "all", "areas")
        every = page.update_ranked("cwt_fds_28d", year, "all", "all", "areas")
    names = {trace.name for trace in ranked.data}
    assert names & {"Better than London, Lung", "Similar to London, Lung", "Worse than London, Lung"}
    assert not any(name.endswith(("than London", "to London")) for name in names)
    assert any(shape.name.startswith("London, Lung (") for shape in funnel.layout.shapes if shape.name)
    assert {trace.name for trace in every.data} & {"Better than London", "Similar to London", "Worse than London"}


def test_a_shown_row_is_compared_the_same_with_and_without_disclosure_control(db):
    """Disclosure control rounds what is shown (each value to its indicator's places) and changes no
    comparison of a row it shows: every indicator, four levels (tests/unit/test_disclosure_order.py has
    the hand-made case of an interval ending between London and London as shown)."""
    compared = 0
    for spec, by in ((spec, by) for spec in INDICATORS for by in ("practice", "pcn", "borough", "lsoa")):
        raw = indicator_values(db, indicator=spec.id, by=by, disclose=False).set_index("area_code")
        shown = indicator_values(db, indicator=spec.id, by=by, disclose=True).set_index("area_code")
        kept = shown.index[~shown["suppressed"].astype(bool)]
        assert (shown.loc[kept, "comparison"] == raw.loc[kept, "comparison"]).all(), spec.id
        assert (shown.loc[kept, "value"].astype(float) == raw.loc[kept, "value"].round(spec.decimals)).all(), spec.id
        compared += len(kept)
    assert compared > 1000
