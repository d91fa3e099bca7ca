"""The cancer page's callbacks, called as functions on the small database.

What a user sees (KPI cards, map colours and trust points, ranked trusts, funnel, Sankey, waits,
inequality charts, SPC trend, CSV rows) equals the engine's numbers, disclosed for a commissioner
or an anonymous visitor and unrounded for the analyst; unrounded exports are audited.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from dash import Patch
from plotly.utils import PlotlyJSONEncoder

from components.maps import map_patch
from components.style import interval_text
from pages import _exports as exports
from queries import cancer as cq
from queries.db import get_database
from queries.indicators import default_period, indicator_values, inequality, period_labels
from queries.registry import get
from security import audit
from security.disclosure import current_disclosure
from security.roles import Principal, Role
from security.web import acting_as
from tests.integration.app_pages import app_pages, find, first_draw_problems, link_warning

ANALYST = Principal("analyst.test", Role.ANALYST)
COMMISSIONER = Principal("commissioner.test", Role.COMMISSIONER)


@pytest.fixture(scope="module")
def page(small_db, tmp_path_factory):
    """The cancer page module, with settings pointing at the small database and a fresh audit folder."""
    with app_pages(small_db, tmp_path_factory.mktemp("audit"), "cancer") as (module,):
        yield module


@pytest.fixture(scope="module")
def db(small_db):
    return get_database(small_db)


@pytest.fixture(scope="module")
def year(db):
    """The latest financial year: enough pathways at the small scale for unsuppressed trusts."""
    return default_period(db, "cwt_fds_28d", "fy")


def decoded(value):
    """Plotly's typed-array JSON as a list of floats; other values as they are."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"])).astype(float).tolist()
    return list(value) if value is not None else None


def same(left, right) -> bool:
    """Equal numbers to float32 precision (maps send float32), treating None/NaN as equal."""

    def norm(v):
        return math.nan if v is None or pd.isna(v) else float(v)

    a = np.array([norm(v) for v in left])
    b = np.array([norm(v) for v in right])
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-9, equal_nan=True))


def test_kpi_cards_show_the_engine_for_every_indicator(page, db):
    with acting_as(COMMISSIONER):
        cards = page.update_kpis("all", "all")
    text = str(cards)
    for indicator in cq.CANCER_INDICATORS:
        row = indicator_values(db, indicator=indicator, period=default_period(db, indicator), disclose=True).iloc[0]
        assert page.formatted(row["value"], unit="percent") in text, indicator


def test_kpi_cards_name_each_target_as_the_other_pages_do(page):
    """The cards said "standard 80%" where the overview and every other KPI card said "Target 80.0%"."""
    with acting_as(COMMISSIONER):
        text = str(page.update_kpis("all", "all"))
    assert "standard" not in text
    for indicator in cq.CANCER_INDICATORS:
        target = get(indicator).target
        if target is not None:
            assert re.search(rf"Target {target:.1f}%(: (not )?met)?'", text), indicator


def test_borough_map_and_trust_points_equal_the_engine(page, db, year):
    with acting_as(COMMISSIONER):
        figure, level, notice = page.update_map("cwt_fds_28d", year, "all", "all", "borough", "areas", None)
        ranked = page.update_ranked("cwt_fds_28d", year, "all", "all", "areas")
        funnel = page.update_funnel("cwt_fds_28d", year, "all", "all", "areas")
    assert level == "borough" and notice is None
    engine = indicator_values(db, indicator="cwt_fds_28d", period=year, by="borough", disclose=True)
    area = figure.data[0]
    expected = engine.set_index("area_code").reindex(list(area.locations))
    shown = pd.to_numeric(expected["value"], errors="coerce").where(~expected["suppressed"].fillna(False).astype(bool))
    assert same(decoded(area.z), shown.astype("float32").tolist())
    # Trust points: one trace after the suppressed markers, each trust where its value is the pathway cut's.
    trusts = cq.pathway_values(db, indicator="cwt_fds_28d", period=year, by="trust", disclose=True)
    points = figure.data[-1]
    assert points.type == "scattermap" and len(points.lat) == len(set(trusts["area_code"]) - {"unknown"})
    first = trusts[~trusts["suppressed"].astype(bool)].iloc[0]
    assert any(
        first["area_name"] in text or page.formatted(first["value"], unit="percent") in text for text in points.text
    )
    funnel_points = [v for trace in funnel.data if trace.y is not None for v in decoded(trace.y) if v is not None]
    for value in trusts.loc[~trusts["suppressed"].astype(bool), "value"]:
        assert any(abs(value - v) < 1e-6 for v in funnel_points)
    # Ranked trusts: the chart's values are the trusts' values.
    drawn = [v for trace in ranked.data if trace.x is not None for v in decoded(trace.x) if v is not None]
    for value in trusts.loc[~trusts["suppressed"].astype(bool), "value"]:
        assert any(abs(value - v) < 1e-6 for v in drawn)


def test_trust_totals_equal_the_engine_london(db, year):
    for indicator in ("cwt_fds_28d", "cwt_31d", "cwt_62d", "cancer_conversion_rate"):
        trusts = cq.pathway_values(db, indicator=indicator, period=year, by="trust", disclose=False)
        london = indicator_values(db, indicator=indicator, period=year, disclose=False).iloc[0]
        assert trusts["numerator"].sum() == london["numerator"]
        assert trusts["denominator"].sum() == london["denominator"]


def test_borough_cut_without_filters_equals_the_engine(db, year):
    for indicator in cq.CANCER_INDICATORS:
        period = year if indicator not in cq.TUMOUR_INDICATORS else default_period(db, indicator, "fy")
        mine = cq.pathway_values(db, indicator=indicator, period=period, by="borough", disclose=True)
        engine = indicator_values(db, indicator=indicator, period=period, by="borough", disclose=True)
        merged = mine.merge(engine, on="area_code", suffixes=("", "_engine"))
        assert len(merged) == len(engine)
        for column in ("numerator", "denominator", "value", "ci_low", "comparison", "suppressed"):
            assert merged[column].tolist() == merged[f"{column}_engine"].tolist() or same(
                merged[column], merged[f"{column}_engine"]
            ), (indicator, column)


def test_recolour_is_a_patch_when_the_level_is_unchanged(page, year):
    with acting_as(COMMISSIONER):
        first = page.update_map("cwt_62d", year, "lung", "all", "borough", "areas", None)
        again = page.update_map("cwt_62d", year, "breast", "all", "borough", "areas", "borough")
        finer = page.update_map("cwt_62d", year, "breast", "all", "practice", "areas", "borough")
    assert not isinstance(first[0], Patch) and isinstance(again[0], Patch)
    assert not isinstance(finer[0], Patch) and finer[1] == "practice"
    assert finer[2] is not None  # says the practice map is not cut by tumour group


@pytest.mark.parametrize(
    ("indicator", "level", "tumour"),
    [("cwt_62d", "borough", "breast"), ("cwt_fds_28d", "lsoa", "all"), ("cancer_early_stage", "practice", "all")],
)
def test_a_recolour_is_the_patch_of_the_full_figure(page, year, indicator, level, tumour):
    """The patch built from the traces alone equals map_patch of the full figure (what it used to send)."""
    with acting_as(COMMISSIONER):
        figure = page.update_map(indicator, year, tumour, "all", level, "areas", None)[0]
        patch = page.update_map(indicator, year, tumour, "all", level, "areas", level)[0]
    assert isinstance(patch, Patch) and not isinstance(figure, Patch)
    assert _operations(patch) == _operations(map_patch(figure))


def _operations(patch) -> list[str]:
    """A patch's assignments as JSON, in location order (each location is assigned once, so order is free)."""
    operations = patch.to_plotly_json()["operations"]
    assert len({json.dumps(op["location"]) for op in operations}) == len(operations)
    return sorted(json.dumps(op, cls=PlotlyJSONEncoder, sort_keys=True) for op in operations)


def test_tumour_group_filter_changes_the_borough_map(page, db, year):
    with acting_as(ANALYST):
        figure = page.update_map("cwt_fds_28d", year, "breast", "all", "borough", "areas", None)[0]
    breast = cq.pathway_values(
        db, indicator="cwt_fds_28d", period=year, by="borough", disclose=False, filters={"tumour_group": ["breast"]}
    ).set_index("area_code")
    z = decoded(figure.data[0].z)
    for code, value in zip(figure.data[0].locations, z, strict=True):
        if code in breast.index:
            assert value == pytest.approx(breast.loc[code, "value"], rel=1e-5)


def test_flow_view_sankey_and_waits(page, db, year):
    with acting_as(ANALYST):
        sankey, crossing, message = page.update_sankey("cwt_fds_28d", year, "all", "all", "residence_icb", "flow")
        told, treated, table = page.update_waits("cwt_fds_28d", year, "all", "all", "all", "flow")
    assert message is None and "London" in str(table)
    links = cq.pathway_flows(db, period=year, disclose=False)
    assert sum(sankey.data[0].link.value) == pytest.approx(links["patients"].sum())
    summary = cq.crossing_summary(db, period=year, disclose=False)
    assert f"{summary['crossing']:,.0f} of {summary['treated']:,.0f}" in crossing
    # The told histogram's bars add up to the FDS denominator for the year (the same pathways).
    fds = indicator_values(db, indicator="cwt_fds_28d", period=year, disclose=False).iloc[0]
    assert sum(sum(decoded(trace.y)) for trace in told.data) == fds["denominator"]
    within = sum(decoded(told.data[0].y))
    assert within == fds["numerator"]
    d62 = indicator_values(db, indicator="cwt_62d", period=year, disclose=False).iloc[0]
    assert sum(sum(decoded(trace.y)) for trace in treated.data) == d62["denominator"]


def test_flow_view_for_a_commissioner_is_disclosed(page, year):
    # From boroughs every link of the small database is suppressed; from ICBs a few are shown.
    shown = 0
    for origin in ("residence_borough", "residence_icb"):
        with acting_as(COMMISSIONER):
            view = page.flow_view(
                indicator="cwt_fds_28d",
                period=year,
                tumour="all",
                priority="all",
                origin=origin,
                trust="all",
                disclose=current_disclosure().disclose,
            )
        links = view["links"]
        patients = pd.to_numeric(links.loc[~links["suppressed"], "patients"], errors="coerce")
        assert ((patients >= 10) & (patients % 5 == 0)).all(), origin
        assert links["suppressed"].any() and links.loc[links["suppressed"], "patients"].isna().all(), origin
        shown += len(patients)
    assert shown > 0, "some link is shown, so its rounding is checked"


def test_inequality_view_equals_the_engine(page, db):
    with acting_as(COMMISSIONER):
        outputs = page.update_inequality("cancer_emergency_route", None, "inequality")
        sii_map, sii_table = page.update_sii("cancer_emergency_route", None, "inequality")
    period = default_period(db, "cancer_emergency_route", "fy")
    assert f"Period shown: {period_labels(db).get(period, period)}." in str(outputs[-1]) and "London" in str(sii_table)
    # Each borough's SII rests on a few dozen tumours: the table gives its interval, as hypertension's does.
    engine_sii = inequality(db, indicator="cancer_emergency_route", period=period, disclose=True).iloc[0]
    shown = page.sii_table(inequality(db, indicator="cancer_emergency_route", period=period, disclose=True))
    assert shown["SII 95% CI"].iloc[0] == interval_text(engine_sii["sii_low"], engine_sii["sii_high"], unit="pp")
    assert " to " in shown["SII 95% CI"].iloc[0]
    engine = indicator_values(db, indicator="cancer_emergency_route", period=period, by="sex", disclose=True)
    sex_figure = outputs[list(page.INEQUALITY_GRAPHS).index("sex")]
    drawn = [v for trace in sex_figure.data if trace.y is not None for v in decoded(trace.y) if v is not None]
    for value in engine.loc[~engine["suppressed"].astype(bool), "value"]:
        assert any(abs(value - v) < 1e-6 for v in drawn)
    sii = inequality(db, indicator="cancer_emergency_route", period=period, disclose=True)
    boroughs = sii[sii["area_code"] != cq.LONDON_CODE].set_index("area_code")
    for code, value in zip(sii_map.data[0].locations, decoded(sii_map.data[0].z), strict=True):
        expected = boroughs.loc[code, "sii"] if code in boroughs.index else None
        assert same([value], [expected])


def test_trend_london_and_trust_with_target_path(page, db):
    with acting_as(ANALYST):
        london_figure, message = page.update_trend("cwt_fds_28d", "all", "all", "trend")
        trust_figure = page.update_trust_trend("cwt_fds_28d", "all", "all", "R1H", "trend")
    assert message is None
    series = cq.pathway_trend(db, indicator="cwt_fds_28d", disclose=False)
    target = [t for t in london_figure.data if t.name == "Operational target in force"]
    assert target and list(target[0].y) == series["operational_target"].tolist()
    # The SPC line is the series' values, and its total equals the engine's monthly totals.
    for row in series.tail(3).itertuples():
        engine = indicator_values(db, indicator="cwt_fds_28d", period=row.period_id, disclose=False).iloc[0]
        assert (row.numerator, row.denominator) == (engine["numerator"], engine["denominator"])
    trust = cq.pathway_trend(db, indicator="cwt_fds_28d", trust="R1H", disclose=False)
    assert trust["denominator"].sum() > 0 and any(t.name == "Operational target in force" for t in trust_figure.data)


def _csv(payload) -> pd.DataFrame:
    content = payload["content"]
    text = base64.b64decode(content).decode() if payload.get("base64") else content
    return pd.read_csv(io.StringIO(text))


def test_every_csv_is_what_the_view_shows(page, db, year):
    for view in page.CSV_VIEWS:
        with acting_as(COMMISSIONER):
            frame, filename = page.view_csv(
                view=view,
                indicator="cwt_62d",
                period=year,
                tumour="all",
                priority="all",
                level="borough",
                origin="residence_icb",
                trust="R1H",
                inequality_indicator="cancer_early_stage",
                disclose=True,
            )
        assert filename.endswith(f"{view}.csv") and len(frame.columns), view
    trusts, _ = page.view_csv(
        view="trusts",
        indicator="cwt_62d",
        period=year,
        tumour="all",
        priority="all",
        level="borough",
        origin="residence_icb",
        trust="all",
        inequality_indicator="cancer_early_stage",
        disclose=True,
    )
    expected = cq.pathway_values(db, indicator="cwt_62d", period=year, by="trust", disclose=True)
    assert trusts["numerator"].tolist() == expected["numerator"].tolist()


def test_downloads_are_audited_as_aggregate_for_a_commissioner_and_unrounded_for_the_analyst(page, year, monkeypatch):
    recorded = []
    monkeypatch.setattr(audit, "record", lambda *args, **kwargs: recorded.append(args))
    pressed = {"type": page.CSV, "view": "trusts"}
    monkeypatch.setattr(exports.ctx.__class__, "triggered_id", property(lambda self: pressed))
    with acting_as(COMMISSIONER):
        payload, message = page.download_view(
            [1], "cwt_fds_28d", year, "all", "all", "borough", "residence_icb", "all", "cancer_early_stage"
        )
    assert message is None and [args[1] for args in recorded] == [audit.EXPORT_AGGREGATE]
    rounded = _csv(payload)["numerator"].dropna()
    assert (rounded % 5 == 0).all()
    with acting_as(ANALYST):
        page.download_view(
            [1], "cwt_fds_28d", year, "all", "all", "borough", "residence_icb", "all", "cancer_early_stage"
        )
    assert [args[1] for args in recorded] == [audit.EXPORT_AGGREGATE, audit.VIEW_UNROUNDED]


def test_unknown_inputs_fall_back_or_say_so(page):
    layout = page.layout(
        indicator="nonsense", period="1999-01", tumour="<script>", priority="z", level="x", trust="Q", tab="y"
    )
    assert "Cancer pathways" in str(layout)
    warning = link_warning(layout)
    for named in ("indicator nonsense", "period 1999-01", "tumour group <script>", "priority type z", "map level x"):
        assert named in warning, named
    assert "trust Q" in warning and "view y" in warning
    assert link_warning(page.layout(indicator="cwt_62d", tumour="all", level="borough")) is None
    with acting_as(None):
        outputs = page.update_map("cwt_fds_28d", "1999-01", "all", "all", "borough", "areas", None)
    assert outputs[1] == "borough"  # unknown period: the default one, for an anonymous (restricted) visitor


def test_a_priority_a_standard_does_not_count_says_so(page):
    """Consultant upgrade with the Faster Diagnosis Standard emptied the card, map and funnel without a word
    (the ranked chart said 'none has patients in this period'): upgrades join only the 62-day standard."""
    with acting_as(COMMISSIONER):
        cards = str(page.update_kpis(None, "consultant_upgrade"))
        ranked = page.update_ranked("cwt_fds_28d", None, None, "consultant_upgrade")
        upgrades_62 = page.update_ranked("cwt_62d", None, None, "consultant_upgrade")
    reason = "does not count consultant upgrade pathways"
    assert "Faster Diagnosis" in cards and reason in cards
    assert reason in str(ranked.to_plotly_json()).replace("<br>", " ")
    assert reason not in str(upgrades_62.to_plotly_json()).replace("<br>", " ")


def test_first_load_asks_the_server_for_the_shown_view_alone(page):
    """Twelve callbacks fired on the first draw: the period list and rule card re-sent what the layout held,
    and the flow, inequality and trend views (hidden) answered nothing. Each now waits for a change or for
    its view to be opened."""
    waits = {page.TREND_LONDON: "trend", page.SANKEY: "flow", page.TRUST_RANKED: "areas"}
    assert first_draw_problems("cancer-", {o: page.view_opened(page.VIEWS, v) for o, v in waits.items()}) == []
    rule = find(page.layout(indicator="cwt_62d"), lambda c: getattr(c, "id", None) == page.RULE)[0]
    assert "62 days from referral to first treatment" in str(rule.children), "the card comes with the page"
