"""The asthma page's callbacks, called as functions on the small database.

What a user sees (map colours, chart points, KPI cards, table cells, CSV rows) equals the engine's
numbers (through :mod:`queries.asthma`, which only rescales or combines them): disclosed for a
commissioner or an anonymous visitor, unrounded for the analyst. The patient list is refused to
aggregate roles, limited to the user's scope and audited.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from plotly.io.json import to_json_plotly

from queries import asthma as aq
from queries.db import get_database
from queries.indicators import default_period, funnel_limits, indicator_values, inequality, periods, trend
from security import audit
from security.disclosure import current_disclosure
from security.roles import Principal, Role, Scope
from security.web import acting_as
from tests.integration.app_pages import app_pages, find, first_draw_problems, link_warning, text_of

ANALYST = Principal("analyst.test", Role.ANALYST)
COMMISSIONER = Principal("commissioner.test", Role.COMMISSIONER)
RESPONDER = Principal("campaign.test", Role.CAMPAIGN_RESPONDER, Scope.of(boroughs=["E09000012"]))
BARNET = "E09000003"


@pytest.fixture(scope="module")
def page(small_db, tmp_path_factory):
    """The asthma page module, with settings pointing at the small database and a fresh audit folder."""
    with app_pages(small_db, tmp_path_factory.mktemp("audit"), "asthma") as (module,):
        yield module


@pytest.fixture(scope="module")
def db(small_db):
    return get_database(small_db)


@pytest.fixture(scope="module")
def period(db):
    return default_period(db, "ast_saba_3plus")


def decoded(value):
    """Plotly's typed-array JSON (``{"dtype", "bdata"}``) as a list of floats; other values as they are."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"])).astype(float).tolist()
    return list(value) if value is not None else None


def map_values(figure) -> dict[str, float | None]:
    """Area code -> colour value of a map figure's area trace (NaN = not drawn)."""
    trace = figure.to_plotly_json()["data"][0]
    z = decoded(trace["z"])
    return {
        code: (None if v is None or (isinstance(v, float) and math.isnan(v)) else v)
        for code, v in zip(decoded(trace["locations"]), z, strict=True)
    }


def patch_value(patch, *location):
    for operation in patch.to_plotly_json()["operations"]:
        if operation["operation"] == "Assign" and operation["location"] == list(location):
            return decoded(operation["params"]["value"])
    raise AssertionError(f"the patch assigns nothing at {location}")


def plotted(figure, axis: str = "y") -> dict[str, float]:
    """Category -> value over every marker trace with a category axis (ranked, inequality charts)."""
    other = "x" if axis == "y" else "y"
    points = {}
    for trace in figure.to_plotly_json()["data"]:
        if trace.get("type") not in ("scatter", "bar") or trace.get(other) is None or trace.get(axis) is None:
            continue
        for category, value in zip(decoded(trace[other]), decoded(trace[axis]), strict=False):
            if isinstance(category, str) and value is not None and not (isinstance(value, float) and math.isnan(value)):
                points[category] = float(value)
    return points


def engine(db, indicator, period, by, *, disclose, filters=None):
    return indicator_values(db, indicator=indicator, period=period, by=by, filters=filters, disclose=disclose)


# ---------------------------------------------------------------- measures derived from the engine


def test_rates_and_age_groups_are_the_engines_numbers(db, period):
    per_1000 = aq.measure_values(db, measure_id="ast_admissions_per_1000", period=period, by="borough", disclose=False)
    raw = engine(db, "ast_emergency_admissions", period, "borough", disclose=False)
    assert np.allclose(per_1000["value"].astype(float), raw["value"].astype(float) * 10, equal_nan=True)
    per_100k = aq.measure_values(
        db, measure_id="ast_admissions_per_100k", period=period, by="borough", disclose=False
    ).set_index("area_code")
    population = engine(db, "ast_prevalence", period, "borough", disclose=False).set_index("area_code")
    admitted = raw.set_index("area_code")["numerator"].reindex(population.index).fillna(0)
    assert np.allclose(per_100k["value"].astype(float), (admitted / population["denominator"] * 1e5).astype(float))
    tolerance = 1e-6  # Wilson's lower bound at 0 events is 0 up to rounding
    assert (per_100k["ci_low"] <= per_100k["value"] + tolerance).all()
    assert (per_100k["value"] <= per_100k["ci_high"] + tolerance).all()
    children = aq.measure_values(db, measure_id="ast_prevalence_children", period=period, by="london", disclose=False)
    direct = engine(db, "ast_prevalence", period, "london", disclose=False, filters={"age_band": ["5-17"]})
    assert children["numerator"].iloc[0] == direct["numerator"].iloc[0] > 0
    adults = aq.measure_values(db, measure_id="ast_prevalence_adults", period=period, by="london", disclose=False)
    everyone = engine(db, "ast_prevalence", period, "london", disclose=False)
    # Nobody under 6 is on the register, so children + adults = everyone on it.
    assert children["numerator"].iloc[0] + adults["numerator"].iloc[0] == everyone["numerator"].iloc[0]


@pytest.mark.parametrize("disclose", [True, False])
@pytest.mark.parametrize("compare_with", ["filtered", "london"])
@pytest.mark.parametrize(
    ("by", "filters"),
    [("london", None), ("london", {"borough": ["E09000012"]}), ("borough", None), ("practice", {"sex": ["F"]})],
)
def test_a_batch_of_measures_is_each_measures_own_rows(db, period, by, filters, disclose, compare_with):
    # Every measure: engine-backed, per 1,000 (scaled), age groups (a filter of their own), per 100,000 (two
    # indicators); two share an indicator with different age bands.
    chosen = list(aq.MEASURES)
    arguments = {"period": period, "by": by, "filters": filters, "disclose": disclose, "compare_with": compare_with}
    batch = aq.measure_values_batch(db, measure_ids=chosen, **arguments)
    expected = pd.concat(
        [
            aq.measure_values(db, measure_id=measure_id, **arguments).assign(measure_id=measure_id)
            for measure_id in chosen
        ],
        ignore_index=True,
    )
    assert list(batch["measure_id"].unique()) == chosen and len(batch) > len(chosen) - 1
    pd.testing.assert_frame_equal(batch, expected)


@pytest.mark.parametrize("disclose", [True, False])
@pytest.mark.parametrize("filters", [None, {"borough": ["E09000012"]}])
def test_saba_thresholds_are_each_measure_against_london(db, period, filters, disclose):
    counts = aq.saba_threshold_counts(db, period=period, filters=filters, disclose=disclose)
    assert list(counts["measure_id"]) == list(aq.SABA_THRESHOLD_MEASURES)
    for row, measure_id in zip(counts.to_dict("records"), aq.SABA_THRESHOLD_MEASURES, strict=True):
        own = aq.measure_values(
            db,
            measure_id=measure_id,
            period=period,
            by="london",
            filters=filters,
            disclose=disclose,
            compare_with="london",
        ).iloc[0]
        assert row["label"] == aq.MEASURES[measure_id].label.removesuffix(" (%)")
        for column in ("numerator", "denominator", "value", "london_value", "comparison"):
            assert row[column] == own[column] or (pd.isna(row[column]) and pd.isna(own[column])), column
    if filters:  # a borough is compared with London, not with itself
        assert (counts["london_value"] != counts["value"]).any()


def test_per_population_rate_follows_disclosure(db, period):
    shown = aq.measure_values(db, measure_id="ast_admissions_per_100k", period=period, by="practice", disclose=True)
    raw = aq.measure_values(db, measure_id="ast_admissions_per_100k", period=period, by="practice", disclose=False)
    hidden = shown[shown["suppressed"].astype(bool)]
    assert len(hidden) and hidden["value"].isna().all() and hidden["ci_low"].isna().all()
    small = raw["numerator"].between(1, 7).to_numpy()
    assert shown.loc[small, "numerator"].isna().all() and shown.loc[small, "suppressed"].all()
    counts = pd.to_numeric(shown["numerator"], errors="coerce").dropna()
    assert ((counts % 5) == 0).all()


# ---------------------------------------------------------------- areas view


def test_map_ranked_chart_and_kpis_equal_the_engine(page, db, period):
    with acting_as(COMMISSIONER):
        figure, table, message, shown = page.update_map("ast_saba_3plus", period, "all", "borough", "areas", None)
        ranked, kpis, summary_message, summary = page.update_summary("ast_saba_3plus", period, "all", "areas", None)
    assert message is None and shown == page.map_shown("ast_saba_3plus", period, "all", "borough")
    assert summary_message is None and summary == page.summary_shown("ast_saba_3plus", period, "all")
    expected = engine(db, "ast_saba_3plus", period, "borough", disclose=True).set_index("area_code")
    colours = map_values(figure)
    for code, row in expected.iterrows():
        if row["suppressed"]:
            assert colours[code] is None
        else:
            assert colours[code] == pytest.approx(row["value"], rel=1e-5)
    on_chart = plotted(ranked, axis="x")  # the ranked chart keys its rows by area code
    shown = expected[~expected["suppressed"].astype(bool)]
    assert {code: pytest.approx(v) for code, v in shown["value"].items()} == on_chart
    london = engine(db, "ast_saba_3plus", period, "london", disclose=True).iloc[0]
    assert f"{london['value']:.1f}%" in text_of(kpis)
    assert f"{london['numerator']:,.0f} of {london['denominator']:,.0f}" in text_of(kpis)
    rows = text_of(table)
    assert "Compared with London" in rows and shown["area_name"].iloc[0] in rows


def test_map_recolours_with_a_patch_at_the_same_level(page, db, period):
    shown = page.map_shown("ast_saba_3plus", period, "all", "borough")
    with acting_as(ANALYST):
        patch, *_ = page.update_map("ast_review_12m", period, "all", "borough", "areas", shown)
    expected = engine(db, "ast_review_12m", period, "borough", disclose=False)
    z = patch_value(patch, "data", 0, "z")
    assert sorted(v for v in z if not math.isnan(v)) == pytest.approx(sorted(expected["value"].astype(float)))


def test_a_change_of_map_level_redraws_the_map_and_its_table_and_not_the_summary(page, db, period):
    with acting_as(ANALYST):
        everything = page.update_map("ast_saba_3plus", period, "E09000012", "lsoa", "areas", None)
        figure, table, message, shown = page.update_map(
            "ast_saba_3plus",
            period,
            "E09000012",
            "lsoa",
            "areas",
            page.map_shown("ast_saba_3plus", period, "E09000012", "borough"),
        )
    assert message is None and text_of(table) == text_of(everything[1])
    assert shown == everything[3] == page.map_shown("ast_saba_3plus", period, "E09000012", "lsoa")
    assert map_values(figure) == map_values(everything[0])  # the whole LSOA map, as the full answer draws it
    drawn = {code: value for code, value in map_values(figure).items() if value is not None}
    expected = engine(db, "ast_saba_3plus", period, "lsoa", disclose=False).set_index("area_code")["value"]
    assert len(drawn) > 100 and all(value == pytest.approx(expected[code], rel=1e-5) for code, value in drawn.items())
    # The summary is drawn from neither the level nor anything a level changes.
    assert page.summary_shown("ast_saba_3plus", period, "E09000012") == {
        "ranked": ["ast_saba_3plus", period, "E09000012"],
        "kpis": [period, "E09000012"],
    }


def test_a_new_measure_leaves_the_kpi_cards_and_a_new_borough_leaves_the_map(page, db, period):
    map_before = page.map_shown("ast_saba_3plus", period, "all", "borough")
    summary_before = page.summary_shown("ast_saba_3plus", period, "all")
    with acting_as(COMMISSIONER):
        new_measure_map = page.update_map("ast_review_12m", period, "all", "borough", "areas", map_before)
        new_measure_summary = page.update_summary("ast_review_12m", period, "all", "areas", summary_before)
        with pytest.raises(page.PreventUpdate):  # the borough map and its table of every borough stay as they are
            page.update_map("ast_saba_3plus", period, BARNET, "borough", "areas", map_before)
        new_borough_lsoa = page.update_map(
            "ast_saba_3plus", period, BARNET, "lsoa", "areas", page.map_shown("ast_saba_3plus", period, "all", "lsoa")
        )
        new_borough_summary = page.update_summary("ast_saba_3plus", period, BARNET, "areas", summary_before)
        everything = page.update_summary("ast_saba_3plus", period, BARNET, "areas", None)
    patch, table, message, _ = new_measure_map
    ranked, kpis, summary_message, _ = new_measure_summary
    assert kpis is page.no_update and message is None and summary_message is None
    assert type(patch).__name__ == "Patch" and ranked is not page.no_update and table is not page.no_update
    review = engine(db, "ast_review_12m", period, "borough", disclose=True)
    assert review["area_name"].iloc[0] in text_of(table) and f"{review['value'].dropna().iloc[0]:.1f}%" in text_of(
        table
    )
    figure, table, message, _ = new_borough_lsoa  # below borough level the table lists the borough's areas
    assert figure is page.no_update and message is None
    barnet_lsoas = aq.areas_in_borough(db, level="lsoa", borough_code=BARNET)
    assert any(code in text_of(table) for code in barnet_lsoas)
    ranked, kpis, _, _ = new_borough_summary
    assert text_of(kpis) == text_of(everything[1]) and "Barnet" in text_of(kpis)
    assert to_json_plotly(ranked) == to_json_plotly(everything[0])  # Barnet highlighted


def test_nothing_is_rebuilt_when_what_is_shown_is_what_is_asked_for(page, period):
    shown = page.map_shown("ast_saba_3plus", period, "all", "lsoa")
    summary = page.summary_shown("ast_saba_3plus", period, "all")
    with acting_as(COMMISSIONER), pytest.raises(page.PreventUpdate):
        page.update_map("ast_saba_3plus", period, "all", "lsoa", "areas", shown)
    with acting_as(COMMISSIONER), pytest.raises(page.PreventUpdate):
        page.update_summary("ast_saba_3plus", period, "all", "areas", summary)


@pytest.mark.parametrize(
    ("measure_id", "level"), [("ast_review_12m", "borough"), ("ast_prevalence", "lsoa"), ("ast_saba_3plus", "practice")]
)
@pytest.mark.parametrize("principal", [ANALYST, COMMISSIONER], ids=["unrounded", "disclosed"])
def test_a_recolour_is_the_patch_of_the_full_figure(page, period, measure_id, level, principal):
    """The patch built from the traces alone equals the one the whole figure gave (map_patch of it)."""
    import json

    from plotly.utils import PlotlyJSONEncoder

    from components.maps import map_patch

    def operations(patch) -> list[str]:
        return sorted(
            json.dumps(op, cls=PlotlyJSONEncoder, sort_keys=True) for op in patch.to_plotly_json()["operations"]
        )

    with acting_as(principal):
        figure, *_ = page.update_map(measure_id, period, "all", level, "areas", None)
        shown = page.map_shown("ast_saba_6plus", period, "all", level)  # another measure at the same level
        patch, *_ = page.update_map(measure_id, period, "all", level, "areas", shown)
    assert type(patch).__name__ == "Patch" and "geojson" not in str(patch.to_plotly_json())
    assert operations(patch) == operations(map_patch(figure))


def test_practice_and_lsoa_maps_and_borough_table(page, db, period):
    with acting_as(ANALYST):
        figure, table, _, shown = page.update_map("ast_prevalence", period, BARNET, "practice", "areas", None)
    assert shown["map"][-1] == "practice"
    expected = engine(db, "ast_prevalence", period, "practice", disclose=False).set_index("area_code")
    colours = map_values(figure)
    drawn = {code: v for code, v in colours.items() if v is not None}
    assert drawn and all(v == pytest.approx(expected.loc[code, "value"], rel=1e-5) for code, v in drawn.items())
    barnet = set(aq.practices(db, borough_code=BARNET)["practice_name"])
    assert any(name in text_of(table) for name in barnet)
    with acting_as(ANALYST):
        lsoa, *_ = page.update_map("ast_prevalence", period, "all", "lsoa", "areas", shown)
    assert len(map_values(lsoa)) > 4000


# ---------------------------------------------------------------- prescribing safety


@pytest.mark.parametrize(
    ("before", "redrawn"),
    [
        ((None, "ast_saba_6plus", "practice"), {0, 1, 3, 4}),  # another borough was shown
        ((BARNET, "ast_saba_3plus", "practice"), {1, 3, 4}),  # another measure
        ((BARNET, "ast_saba_6plus", "borough"), {2}),  # the funnel by borough
        ((BARNET, "ast_saba_6plus", "practice"), set()),  # the same: nothing is redrawn
    ],
)
def test_a_safety_control_redraws_only_the_charts_drawn_from_it(page, period, before, redrawn):
    # Outputs: thresholds, ages, funnel, deprivation, ethnic group (then the message and what is shown).
    shown = page.safety_shown(period, *before)
    with acting_as(COMMISSIONER):
        everything = page.update_safety(period, BARNET, "ast_saba_6plus", "safety", "practice", None)
        if not redrawn:
            with pytest.raises(page.PreventUpdate):
                page.update_safety(period, BARNET, "ast_saba_6plus", "safety", "practice", shown)
            return
        changed = page.update_safety(period, BARNET, "ast_saba_6plus", "safety", "practice", shown)
    assert changed[5] is None and changed[6] == everything[6] == page.safety_shown(
        period, BARNET, "ast_saba_6plus", "practice"
    )
    for index in range(5):
        if index in redrawn:
            assert to_json_plotly(changed[index]) == to_json_plotly(everything[index])
        else:
            assert changed[index] is page.no_update


def test_safety_panel_equals_the_engine(page, db, period):
    with acting_as(COMMISSIONER):
        thresholds, ages, funnel, imd, ethnicity, message, _ = page.update_safety(
            period, BARNET, "ast_saba_6plus", "safety", "practice"
        )
    assert message is None
    filters = {"borough": [BARNET]}
    points = plotted(thresholds)
    for measure_id, label in (
        ("ast_saba_3plus", "SABA 3+"),
        ("ast_saba_6plus", "SABA 6+"),
        ("ast_saba_12plus", "SABA 12+"),
        ("ast_saba_no_ics", "SABA, no ICS"),
    ):
        row = engine(db, measure_id, period, "london", disclose=True, filters=filters).iloc[0]
        if row["suppressed"]:
            assert label not in points
        else:
            assert points[label] == pytest.approx(row["value"])
    for bands, name in ((["5-17"], "Children (6-17)"), (list(aq.ADULT_BANDS), "Adults (18+)")):
        row = engine(
            db, "ast_saba_6plus", period, "london", disclose=True, filters={"borough": [BARNET], "age_band": bands}
        ).iloc[0]
        if not row["suppressed"]:
            assert plotted(ages)[name] == pytest.approx(row["value"])
    by_imd = engine(db, "ast_saba_6plus", period, "imd_quintile", disclose=True, filters=filters)
    shown = by_imd[~by_imd["suppressed"].astype(bool)]
    assert {k: pytest.approx(v) for k, v in zip(shown["area_name"], shown["value"], strict=True)} == plotted(imd)
    by_ethnicity = engine(db, "ast_saba_6plus", period, "ethnicity_group", disclose=True, filters=filters)
    shown = by_ethnicity[~by_ethnicity["suppressed"].astype(bool)]
    on_chart = plotted(ethnicity)
    assert {k: pytest.approx(v) for k, v in zip(shown["area_name"], shown["value"], strict=True)} == on_chart
    assert len(by_ethnicity) >= 4 and len(points) >= 3  # groups were compared (some may be suppressed at this scale)
    expected = funnel_limits(db, indicator="ast_saba_no_ics", period=period, by="practice", disclose=True)
    drawn = sum(
        len(decoded(t.get("x")) or [])
        for t in funnel.to_plotly_json()["data"]
        if t.get("mode") == "markers" or (t.get("mode") or "").startswith("markers")
    )
    assert drawn >= int((~expected["points"]["suppressed"].astype(bool)).sum())


def test_the_analysts_deprivation_and_ethnicity_charts_are_the_engines_unrounded_groups(page, db, period):
    """The commissioner's Barnet ethnicity chart is empty on the small database (every group suppressed), so the
    test above compares nothing there: the analyst's charts hold each group's unrounded value."""
    with acting_as(ANALYST):
        *_, imd, ethnicity, message, _ = page.update_safety(period, BARNET, "ast_saba_6plus", "safety", "practice")
    assert message is None
    for chart, by in ((imd, "imd_quintile"), (ethnicity, "ethnicity_group")):
        rows = engine(db, "ast_saba_6plus", period, by, disclose=False, filters={"borough": [BARNET]})
        rows = rows[rows["value"].notna()]
        expected = dict(zip(rows["area_name"], rows["value"], strict=True))
        assert plotted(chart) == {name: pytest.approx(value) for name, value in expected.items()}
        assert len(rows) >= 4, by


# ---------------------------------------------------------------- before admission (linked)


def test_before_admission_table_and_csv_equal_the_query(page, db, period):
    with acting_as(ANALYST):
        figure, table, message = page.update_linked(period, "3", "borough", "linked")
        frame, filename = page.view_csv(
            view="linked",
            measure_id="ast_saba_3plus",
            period=period,
            borough=None,
            level="borough",
            safety_measure="ast_saba_3plus",
            linked_threshold="3",
            linked_group="borough",
            trend_level="london",
            practice=None,
            disclose=False,
        )
    assert message is None and filename.endswith("linked.csv")
    expected = aq.linked_admissions(db, period=period, saba_threshold=3, by="borough", disclose=False)
    pd.testing.assert_frame_equal(frame, expected)
    history = aq.admission_history(db)
    admitted = history[history["period_id"] == period]
    london = expected[(expected["area_code"] == aq.LONDON_CODE) & (expected["measure"] == "saba_over")].iloc[0]
    assert london["denominator"] == len(admitted) > 0
    assert london["numerator"] == int((admitted["saba_before"] >= 3).sum())
    assert f"{london['value']:.1f}% ({london['numerator']:,.0f})" in text_of(table)
    bars = {trace["name"] for trace in figure.to_plotly_json()["data"]}
    assert set(aq.LINKED_MEASURES.values()) <= bars


def test_before_admission_is_disclosed_for_commissioners(page, period):
    with acting_as(COMMISSIONER):
        frame, _ = page.view_csv(
            view="linked",
            measure_id="ast_saba_3plus",
            period=period,
            borough=None,
            level="borough",
            safety_measure="ast_saba_3plus",
            linked_threshold="12",
            linked_group="age_group",
            trend_level="london",
            practice=None,
            disclose=current_disclosure().disclose,
        )
    counts = pd.to_numeric(frame["numerator"], errors="coerce").dropna()
    assert ((counts % 5) == 0).all()
    assert frame.loc[frame["suppressed"].astype(bool), "value"].isna().all()


# ---------------------------------------------------------------- inequality, practices, trend


def test_sii_table_and_map_equal_the_engine(page, db, period):
    with acting_as(ANALYST):
        sii_map, table, message, built = page.update_inequality("ast_review_12m", period, "inequality", False)
    assert message is None and built is True
    expected = inequality(db, indicator="ast_review_12m", period=period, disclose=False)
    boroughs = expected[expected["area_code"] != aq.LONDON_CODE].set_index("area_code")
    colours = map_values(sii_map)
    for code, value in colours.items():
        if value is not None:
            assert value == pytest.approx(boroughs.loc[code, "sii"], rel=1e-5)
    london = expected.iloc[0]
    assert f"{london['sii']:+.1f} pp" in text_of(table)


def test_practices_ranked_and_trend_equal_the_engine(page, db, period):
    with acting_as(ANALYST):
        ranked, spc, title, message = page.update_practices(
            "ast_action_plan", period, BARNET, "borough", "", "practices"
        )
    assert message is None and "Barnet" in title
    barnet = set(aq.practices(db, borough_code=BARNET)["practice_code"])
    expected = engine(db, "ast_action_plan", period, "practice", disclose=False)
    expected = expected[expected["area_code"].isin(barnet)]
    on_chart = plotted(ranked, axis="x")
    shown = expected.dropna(subset=["value"])
    assert len(shown) and on_chart == {
        code: pytest.approx(v) for code, v in zip(shown["area_code"], shown["value"], strict=True)
    }
    series = trend(db, indicator="ast_action_plan", by="london", filters={"borough": [BARNET]}, disclose=False)
    values = [v for t in spc.to_plotly_json()["data"] for v in (decoded(t.get("y")) or [])]
    assert all(any(v == pytest.approx(s) for v in values) for s in series["value"].astype(float))


def test_a_csv_builds_no_chart_and_gets_the_frames_the_page_shows(page, period):
    calls = {
        page.inequality_view: {"measure_id": "ast_review_12m", "period": period},
        page.practices_view: {"measure_id": "ast_action_plan", "period": period, "borough": BARNET},
        page.trend_view: {"measure_id": "ast_action_plan", "level": "borough", "borough": BARNET, "practice": None},
    }
    for view, arguments in calls.items():
        shown = view(**arguments, disclose=True)
        frames = view(**arguments, disclose=True, figures=False)
        assert not any(isinstance(v, go.Figure) for v in frames.values()), view.__name__
        assert set(frames) < set(shown), view.__name__
        for key, value in frames.items():
            if isinstance(value, pd.DataFrame):
                pd.testing.assert_frame_equal(value, shown[key], obj=f"{view.__name__} {key}")
            else:
                assert value == shown[key], (view.__name__, key)


def test_a_borough_or_practice_trend_is_named_after_its_area_not_london(page, db):
    # The engine sums a borough's or a practice's rows as "London", with london_value equal to their own.
    practice = aq.practices(db, borough_code=BARNET)["practice_code"].iloc[0]
    for level, code in (("borough", BARNET), ("practice", practice)):
        with acting_as(ANALYST):
            view = page.trend_view(
                measure_id="ast_action_plan", level=level, borough=BARNET, practice=practice, disclose=True,
                figures=False,
            )  # fmt: skip
        series = view["series"]
        assert set(series["area_code"]) == {code} and set(series["area_name"]) == {view["area"]} != {"London"}
        assert "london_value" not in series and "comparison" not in series
        if level == "practice":  # named as a commissioner knows it, not "Practice F83019"
            name = aq.practices(db).set_index("practice_code").loc[code, "practice_name"]
            assert view["area"] == f"{name} ({code})"


def test_trend_of_per_1000_rate_is_the_engines_times_ten(page, period):
    with acting_as(ANALYST):
        view = page.trend_view(
            measure_id="ast_admissions_per_100k", level="london", borough=None, practice=None, disclose=False
        )
    series = trend(
        get_database(page.default_database().path), indicator="ast_emergency_admissions", by="london", disclose=False
    )
    assert view["measure"].id == "ast_admissions_per_1000"
    assert np.allclose(view["series"]["value"].astype(float), series["value"].astype(float) * 10)


# ---------------------------------------------------------------- patient list


def test_aggregate_roles_and_anonymous_visitors_get_no_patient_rows(page, period):
    for principal in (None, COMMISSIONER, ANALYST):
        with acting_as(principal):
            options, value = page.list_practice_options("patients")
            table, note = page.show_patients(1, period, "E83003", "3")
            export, refusal = page.export_patients(1, period, "E83003", "3")
        assert options == [page.NO_PRACTICE] and value == ""
        assert table is None and "aggregate figures only" in text_of(note)
        assert export is page.no_update and "aggregate figures only" in text_of(refusal)


def test_an_aggregate_role_sees_the_message_alone_in_the_patient_list_view(page):
    """A commissioner was offered a practice picker, a threshold and two buttons that could only refuse."""
    controls = (page.LIST_PRACTICE, page.LIST_THRESHOLD, page.LIST_SHOW, page.LIST_EXPORT, page.LIST_TABLE)
    for principal in (None, COMMISSIONER, ANALYST):
        with acting_as(principal):
            tree = page.layout(tab="patients")
        assert not find(tree, lambda c: getattr(c, "id", None) in controls), "no picker, buttons or list"
        assert page.AGGREGATE_ONLY in text_of(tree)
    gp = Principal("gp.asthma.layout", Role.GP_TEAM, Scope.of(practices=["E83003"]))
    for principal in (gp, RESPONDER):
        with acting_as(principal):
            tree = page.layout(tab="patients")
        assert len(find(tree, lambda c: getattr(c, "id", None) in controls)) == len(controls)
        assert page.AGGREGATE_ONLY not in text_of(tree)


@pytest.fixture(scope="module")
def listed_practice(db, period) -> str:
    """The practice with most patients on the SABA 3+ without ICS list (the small database has few)."""
    row = (
        db.cursor()
        .execute(
            "SELECT d.practice_code, count(*) AS n FROM ind_patient AS a "
            "JOIN ind_patient AS b ON b.patient_id = a.patient_id AND b.period_id = a.period_id "
            "JOIN patient_dim AS d ON d.patient_id = a.patient_id "
            "WHERE a.indicator_id = 'ast_saba_3plus' AND a.numerator = 1 AND b.indicator_id = 'ast_saba_no_ics' "
            "AND b.numerator = 1 AND a.period_id = ? GROUP BY 1 ORDER BY n DESC, 1 LIMIT 1",
            [period],
        )
        .fetchone()
    )
    assert row is not None, "no patient on the list anywhere in the small database"
    return row[0]


@pytest.mark.slow
def test_the_built_patient_list_is_the_list_from_the_raw_records(db):
    # Practices with someone on the build's list (the ten with most, and every 20th), and five without, in a
    # financial year and a rolling year, at every threshold, in the practice's own scope and in its
    # borough's: row for row the same. (Every listed practice takes most of a minute.)
    chosen = [
        default_period(db, "ast_saba_3plus"),
        str(periods(db, "ast_saba_3plus").query("period_type == 'r12'")["period_id"].iloc[0]),
    ]
    by_size = db.frame(
        "SELECT practice_code FROM asthma_saba_list WHERE period_id IN (?, ?) GROUP BY 1 ORDER BY count(*) DESC, 1",
        chosen,
    )["practice_code"].tolist()
    listed = list(dict.fromkeys(by_size[:10] + sorted(by_size)[::20]))
    others = db.frame(
        "SELECT practice_code FROM ref_practices WHERE NOT list_contains(?, practice_code) ORDER BY 1 LIMIT 5", [listed]
    )["practice_code"].tolist()
    boroughs = dict(db.frame("SELECT practice_code, borough_code FROM ref_practices").itertuples(index=False))
    compared = 0
    for period in chosen:
        for practice in listed + others:
            for scope in (aq.RowScope(practice_codes=(practice,)), aq.RowScope(borough_codes=(boroughs[practice],))):
                for threshold in aq.SABA_THRESHOLDS:
                    arguments = {
                        "period": period,
                        "practice_code": practice,
                        "scope": scope,
                        "saba_threshold": threshold,
                    }
                    built = aq.saba_no_ics_patients(db, **arguments)
                    derived = aq.saba_no_ics_patients(db, **arguments, from_records=True)
                    pd.testing.assert_frame_equal(built, derived, check_dtype=False, obj=f"{arguments}")
                    compared += len(built)
    assert len(listed) > 5 and compared > 100  # real lists were compared, not only empty ones


def test_gp_team_sees_its_own_practice_only_and_is_audited(page, db, period, listed_practice):
    gp = Principal("gp.asthma.test", Role.GP_TEAM, Scope.of(practices=[listed_practice]))
    other = "F84003" if listed_practice != "F84003" else "E83003"
    with acting_as(gp):
        options, value = page.list_practice_options("patients")
        table, note = page.show_patients(1, period, listed_practice, "3")
        elsewhere, refusal = page.show_patients(1, period, other, "3")
        export, _ = page.export_patients(1, period, listed_practice, "3")
    assert [o["value"] for o in options] == ["", listed_practice] and value == listed_practice
    expected = aq.saba_no_ics_patients(
        db,
        period=period,
        practice_code=listed_practice,
        scope=aq.RowScope(practice_codes=(listed_practice,)),
        saba_threshold=3,
    )
    assert len(expected) > 0
    shown = text_of(table)
    assert all(pid in shown for pid in expected["patient_id"])
    # The list says what it was made for: the controls (and so the CSV) may move on before it is remade.
    assert f"3+ SABA inhalers and no ICS at {listed_practice}" in shown + text_of(note)
    assert elsewhere is None and "outside your scope" in text_of(refusal)
    exported = pd.read_csv(io.StringIO(export["content"]))
    assert exported["Pseudonymised id"].tolist() == expected["patient_id"].tolist()
    entries = sorted(audit.entries(username=gp.username), key=lambda e: e.seq)
    assert [e.action for e in entries] == [audit.VIEW_PATIENT_ROWS, audit.ACCESS_DENIED, audit.EXPORT_PATIENT_ROWS]
    shown_entry, denied, exported_entry = entries
    assert shown_entry.row_count == exported_entry.row_count == len(expected)
    assert shown_entry.filters["scope_practices"] == [listed_practice]
    assert denied.filters["practice"] == other and denied.row_count is None


def test_campaign_responder_lists_practices_of_their_borough(page, db):
    with acting_as(RESPONDER):
        options, _ = page.list_practice_options("patients")
    codes = {o["value"] for o in options} - {""}
    assert codes and codes <= set(aq.practices(db, borough_code="E09000012")["practice_code"])


def test_an_icb_scoped_responder_lists_and_reads_the_practices_of_their_icb(page, db):
    """Scoped to an ICB (not a borough): was offered no practice and refused every list."""
    practices = aq.practices(db)
    icb = practices["icb_code"].iloc[0]
    responder = Principal("campaign.icb", Role.CAMPAIGN_RESPONDER, Scope.of(icbs=[icb]))
    with acting_as(responder):
        options, _ = page.list_practice_options("patients")
        codes = {o["value"] for o in options} - {""}
        assert codes and codes == set(practices.loc[practices["icb_code"] == icb, "practice_code"])
        rows, scope = page.patient_rows(period=None, practice=sorted(codes)[0], threshold=3)
    assert scope.icb_codes == (icb,)
    elsewhere = practices.loc[practices["icb_code"] != icb, "practice_code"].iloc[0]
    with acting_as(responder), pytest.raises(PermissionError, match="outside your scope"):
        page.patient_rows(period=None, practice=elsewhere, threshold=3)


# ---------------------------------------------------------------- CSV and URL state


def test_map_csv_is_exactly_the_map(page, db, period):
    with acting_as(COMMISSIONER):
        frame, filename = page.view_csv(
            view="map",
            measure_id="ast_saba_no_ics",
            period=period,
            borough=None,
            level="borough",
            safety_measure="ast_saba_3plus",
            linked_threshold="3",
            linked_group="borough",
            trend_level="london",
            practice=None,
            disclose=True,
        )
    expected = engine(db, "ast_saba_no_ics", period, "borough", disclose=True)
    assert filename == f"asthma_ast_saba_no_ics_{period}_map_borough.csv"
    assert frame["area_code"].tolist() == expected["area_code"].tolist()
    assert frame["numerator"].tolist() == expected["numerator"].tolist()


@pytest.mark.parametrize("view", ["thresholds", "funnel", "age_groups", "imd", "ethnicity"])
@pytest.mark.parametrize("borough", [None, BARNET])
def test_a_safety_csv_builds_its_own_part_alone_and_holds_the_rows_of_the_whole_view(page, period, view, borough):
    """Each prescribing-safety CSV reads the one part of the safety view it is cut from, and its file is the one
    cut from the whole view (every part built, as before the CSVs asked for their part alone)."""
    whole_view, asked = page.safety_view, []

    def every_part(**arguments):
        return whole_view(**{**arguments, "parts": page.SAFETY_PARTS})

    def recording(**arguments):
        asked.append(arguments["parts"])
        return whole_view(**arguments)

    arguments = {
        "view": view,
        "measure_id": "ast_saba_no_ics",
        "period": period,
        "borough": borough,
        "level": "borough",
        "safety_measure": "ast_saba_6plus",
        "linked_threshold": "3",
        "linked_group": "borough",
        "trend_level": "london",
        "practice": None,
        "disclose": True,
        "funnel_level": "borough",
    }
    patch = pytest.MonkeyPatch()
    try:
        with acting_as(COMMISSIONER):
            patch.setattr(page, "safety_view", every_part)
            expected, expected_name = page.view_csv(**arguments)
            patch.setattr(page, "safety_view", recording)
            frame, filename = page.view_csv(**arguments)
    finally:
        patch.undo()
    assert len(asked) == 1 and len(asked[0]) == 1, asked
    assert filename == expected_name
    assert len(expected) > 0
    pd.testing.assert_frame_equal(frame, expected)


def test_layout_reads_url_state_and_ignores_unknown_values(page, period):
    chosen = page.layout(measure="ast_admissions_per_100k", period=period, borough=BARNET, tab="linked", level="lsoa")
    unknown = page.layout(measure="nonsense", period="1999", borough="'; DROP TABLE x", tab="nope", level="x")

    def find(component, component_id):
        if getattr(component, "id", None) == component_id:
            return component
        children = getattr(component, "children", None)
        for child in children if isinstance(children, list | tuple) else [children]:
            if child is not None and not isinstance(child, str):
                found = find(child, component_id)
                if found is not None:
                    return found
        return None

    assert find(chosen, page.MEASURE).value == "ast_admissions_per_100k"
    assert find(chosen, page.BOROUGH).value == BARNET
    assert find(chosen, page.TABS).value == "linked" and find(chosen, page.MAP_LEVEL).value == "lsoa"
    assert find(unknown, page.MEASURE).value == aq.DEFAULT_MEASURE
    assert find(unknown, page.BOROUGH).value == "all" and find(unknown, page.TABS).value == "areas"
    assert find(unknown, page.PERIOD).value == period
    # What the link asked for and did not get is named, not silently replaced.
    assert link_warning(chosen) is None
    warning = link_warning(unknown)
    for named in ("measure nonsense", "period 1999", "borough '; DROP TABLE x", "view nope", "map level x"):
        assert named in warning, named


def test_practice_ranking_without_a_borough_asks_for_one(page, period):
    # It said "none has patients in this period" under a message asking for a borough.
    shown = page.practices_view(measure_id="ast_action_plan", period=period, borough=None, disclose=True)
    texts = [annotation.text for annotation in shown["figure"].layout.annotations]
    assert any("Choose a borough" in text for text in texts), texts


def test_linked_admissions_by_deprivation_name_their_quintiles(db, period):
    """Quintiles came back as the numbers 1-5, unexplained (and a numeric axis dropped London's bar)."""
    frame = aq.linked_admissions(db, period=period, by="imd_quintile_national", disclose=True)
    names = list(dict.fromkeys(frame["area_name"]))
    assert names[:2] == ["London", "Q1 (most deprived)"] and "Q5 (least deprived)" in names
    assert all(isinstance(name, str) for name in names)


def test_first_load_asks_the_server_for_the_shown_view_alone(page):
    """Nine callbacks fired on the first draw: five views hidden behind the view switch (answering nothing),
    the rule card and practice list the layout could hold, and the patient list's practices. Each now waits
    for a change or for its view to be opened."""
    waits = {page.LINKED: "linked", page.SII_MAP: "inequality", page.MAP: "areas"}
    assert first_draw_problems("ast-", {o: page.view_opened(page.VIEWS, v) for o, v in waits.items()}) == []
    tree = page.layout(borough="E09000012", tab="practices")
    practices = find(tree, lambda c: getattr(c, "id", None) == page.PRACTICE)[0]
    assert len(practices.options) > 2, "the borough's practices come with the page"
    assert find(tree, lambda c: getattr(c, "id", None) == page.RULE)[0].children is not None
