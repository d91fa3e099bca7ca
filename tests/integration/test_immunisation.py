"""The immunisation pages' callbacks, called as functions on the small database.

Numbers on screen equal the engine's numbers (with disclosure control for restricted
roles, unrounded for the analyst); the cohort finder's list only ever holds children
of the user's scope, is audited, and is refused to aggregate-only roles.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pandas as pd
import pytest
from dash import no_update
from plotly.utils import PlotlyJSONEncoder

from components.charts import short_label
from queries import immunisation as imm
from queries import immunisation_cohort as cohort
from queries.db import Database, get_database
from queries.indicators import default_period, indicator_values, trend
from security import audit
from security.roles import Principal, Role, RowScope, Scope
from security.testing import sign_in
from security.web import acting_as
from tests.integration.app_pages import app_pages, find, link_warning

INDICATOR = "cover_24m_mmr1"
GP = Principal("gp.test", Role.GP_TEAM, Scope.of(practices=["E83003"]))
RESPONDER = Principal("campaign.test", Role.CAMPAIGN_RESPONDER, Scope.of(boroughs=["E09000012"]))
ANALYST = Principal("analyst.test", Role.ANALYST)
COMMISSIONER = Principal("commissioner.test", Role.COMMISSIONER)


@pytest.fixture(scope="module")
def pages(small_db, tmp_path_factory):
    """The app's page modules, with the settings pointing at the small database and a fresh audit folder."""
    audit_dir = tmp_path_factory.mktemp("audit")
    with app_pages(small_db, audit_dir, "immunisation", "immunisation_practice", "immunisation_cohort") as modules:
        yield modules


@pytest.fixture(scope="module")
def db(small_db):
    return get_database(small_db)


def text_of(component) -> str:
    return str(component.to_plotly_json()) if hasattr(component, "to_plotly_json") else str(component)


# ----------------------------------------------------------------------------- /immunisation


def test_the_chosen_measure_says_what_it_counts_and_its_rule_version(pages):
    page = pages[0]
    spec = imm.check_indicator("cover_5y_mmr2")
    (drawn,) = find(page.layout(indicator="cover_5y_mmr2"), lambda c: getattr(c, "id", None) == page.RULE_ID)
    for card in (text_of(drawn), text_of(page.update_rule("cover_5y_mmr2"))):
        for text in (spec.title, spec.rule_version, spec.numerator, spec.denominator, spec.target_text):
            assert text in card, text
        assert "UKHSA COVER quality and methodology information" in card
    with pytest.raises(page.PreventUpdate):
        page.update_rule("<script>")


def test_layout_reads_the_url_and_falls_back_on_bad_values(pages):
    page = pages[0]
    tree = page.layout(indicator="cover_5y_mmr2", period="not-a-period", area="E09000012", map="lsoa")
    values = {
        c.id: c.value
        for c in find(
            tree,
            lambda c: (
                isinstance(getattr(c, "id", None), str)
                and c.id in {page.INDICATOR_ID, page.PERIOD_ID, page.AREA_ID, page.MAP_VIEW_ID}
            ),
        )
    }
    assert values[page.INDICATOR_ID] == "cover_5y_mmr2"
    assert values[page.AREA_ID] == "E09000012"
    assert values[page.MAP_VIEW_ID] == "lsoa"
    assert values[page.PERIOD_ID] == default_period(get_database(page._db().path), "cover_5y_mmr2")
    bad = page.layout(indicator="<script>", area="nowhere", map="globe")
    values = {
        c.id: c.value
        for c in find(
            bad,
            lambda c: (
                isinstance(getattr(c, "id", None), str) and c.id in {page.INDICATOR_ID, page.AREA_ID, page.MAP_VIEW_ID}
            ),
        )
    }
    assert values == {page.INDICATOR_ID: imm.DEFAULT_INDICATOR, page.AREA_ID: "london", page.MAP_VIEW_ID: "borough"}
    # Each unusable part of the link is named (a period the indicator does not have too), a usable link has none.
    for named in ("indicator <script>", "area nowhere", "map globe"):
        assert named in link_warning(bad), named
    assert "period not-a-period" in link_warning(tree)
    assert link_warning(page.layout(indicator="cover_5y_mmr2", area="E09000012", map="lsoa")) is None


def test_headline_shows_the_engines_london_figures(pages, db):
    page = pages[0]
    period = default_period(db, INDICATOR)
    london = indicator_values(db, indicator=INDICATOR, period=period).iloc[0]
    shown = text_of(page.update_headline(INDICATOR, period))
    assert f"{london['value']:.1f}%" in shown
    assert f"{london['patients_to_target']:,.0f}" in shown  # children needed to reach 95 %
    assert f"{london['denominator']:,.0f}" in shown
    unit = "', Span(children=' points', className='stat-unit')"  # the unit after the big number
    assert f"{95 - london['value']:.1f}{unit}" in shown
    before = imm.previous_period(db, indicator=INDICATOR, period=period)
    earlier = indicator_values(db, indicator=INDICATOR, period=before).iloc[0]
    assert f"{abs(london['value'] - earlier['value']):.1f}{unit}" in shown


def _triggered_by(monkeypatch, page, ident) -> None:
    """Dash's callback context, as the server sets it: which input fired."""
    monkeypatch.setattr(page.ctx.__class__, "triggered_id", property(lambda self: ident))


def test_map_values_equal_the_engine_and_a_second_call_recolours(pages, db, monkeypatch):
    page = pages[0]
    _triggered_by(monkeypatch, page, page.INDICATOR_ID)
    period = default_period(db, INDICATOR)
    # An anonymous visitor's map (every borough of the small database suppressed: no colour at all) and the
    # analyst's unrounded one, where each borough's colour is its own value.
    for principal, disclose in ((None, True), (ANALYST, False)):
        with acting_as(principal):
            figure, shown, table = page.update_map(INDICATOR, period, "borough", "map", None)
        assert shown == "borough" and table is page.no_update, "the hidden table is not built"
        engine = indicator_values(db, indicator=INDICATOR, period=period, by="borough", disclose=disclose)
        expected = {row.area_code: (None if row.suppressed else row.value) for row in engine.itertuples()}
        on_map = dict(zip(figure.data[0].locations, figure.data[0].z, strict=True))
        assert set(expected) <= set(on_map)
        assert {code: None if pd.isna(value) else pytest.approx(value, rel=1e-6) for code, value in on_map.items()} == {
            code: expected.get(code) for code in on_map
        }
    assert sum(value is not None for value in expected.values()) >= 20, "the analyst's boroughs are coloured"
    patch, shown_again, _ = page.update_map(
        "cover_5y_mmr2", default_period(db, "cover_5y_mmr2"), "borough", "map", "borough"
    )
    assert type(patch).__name__ == "Patch" and shown_again is page.no_update
    assert "geojson" not in str(patch.to_plotly_json())


@pytest.mark.parametrize("view", ["borough", "lsoa", "practice", "gap"])
def test_a_recolour_is_the_patch_of_the_full_figure(pages, db, monkeypatch, view):
    """The patch built from the traces alone equals the one the full figure gave (map_patch of it)."""
    from components.maps import map_patch

    page = pages[0]
    _triggered_by(monkeypatch, page, page.MAP_VIEW_ID)
    period = default_period(db, "cover_5y_mmr2")
    with acting_as(ANALYST):
        figure, _, _ = page.update_map("cover_5y_mmr2", period, view, "map", None)
        patch, _, _ = page.update_map("cover_5y_mmr2", period, view, "map", view)
    assert _operations(patch) == _operations(map_patch(figure))


def _operations(patch) -> list[str]:
    """A patch's assignments as JSON, in location order (each location is assigned once, so order is free)."""
    operations = patch.to_plotly_json()["operations"]
    assert len({json.dumps(op["location"]) for op in operations}) == len(operations)
    return sorted(json.dumps(op, cls=PlotlyJSONEncoder, sort_keys=True) for op in operations)


def test_the_map_table_is_built_when_its_pane_is_open(pages, db, monkeypatch):
    page = pages[0]
    period = default_period(db, INDICATOR)
    pane = page.view_switch_value(page.MAP_SWITCH)
    _triggered_by(monkeypatch, page, pane)
    figure, shown, table = page.update_map(INDICATOR, period, "borough", "table", "borough")
    assert figure is page.no_update and shown is page.no_update, "opening the table leaves the map alone"
    engine = indicator_values(db, indicator=INDICATOR, period=period, by="borough")
    assert table is not page.no_update and str(engine["area_name"].iloc[-1]) in str(table)
    with pytest.raises(page.PreventUpdate):
        page.update_map(INDICATOR, period, "borough", "map", "borough")  # back to the map: nothing to do
    _triggered_by(monkeypatch, page, page.INDICATOR_ID)
    _, _, table = page.update_map(INDICATOR, period, "borough", "table", "borough")
    assert table is not page.no_update, "with the table open, a new indicator rebuilds it"


def test_inequality_panel_numbers_come_from_the_engine(pages, db):
    page = pages[0]
    period = default_period(db, INDICATOR)
    with acting_as(ANALYST):  # unrounded, so every group has a value to compare
        imd, ethnicity, sex, heatmap, sii = page.update_inequalities(INDICATOR, period, "london")
    engine = indicator_values(db, indicator=INDICATOR, period=period, by="imd_quintile", disclose=False)
    plotted = dict(zip(imd.data[0].x, imd.data[0].y, strict=True))
    for row in engine.itertuples():
        assert plotted[row.area_name] == pytest.approx(row.value)
    by_sex = indicator_values(db, indicator=INDICATOR, period=period, by="sex", disclose=False)
    assert sorted(sex.data[0].y) == pytest.approx(sorted(by_sex["value"]))
    assert heatmap.data[0].type == "heatmap"
    assert "Slope index of inequality" in text_of(sii)


def test_trend_and_uptake_by_age_match_the_engine(pages, db):
    page = pages[0]
    period = default_period(db, INDICATOR)
    with acting_as(ANALYST):
        spc = page.update_trend(INDICATOR, "london")
        uptake = page.update_uptake(INDICATOR, period, "london")
    series = trend(db, indicator=INDICATOR, disclose=False)
    plotted = [y for t in spc.data if t.mode == "markers" for y in t.y]
    assert sorted(plotted) == pytest.approx(sorted(series["value"].dropna()))
    # The uptake curve at the cohort age (24 months) is the indicator's own value.
    london_curve = next(t for t in uptake.data if t.name == "London")
    value = indicator_values(db, indicator=INDICATOR, period=period, disclose=False).iloc[0]["value"]
    assert list(london_curve.x)[-1] == 24
    assert list(london_curve.y)[-1] == pytest.approx(value)


def test_csv_downloads_hold_what_is_shown(pages, db):
    page = pages[0]
    period = default_period(db, INDICATOR)
    # An anonymous visitor's CSV (every borough of the small database suppressed) and the analyst's unrounded one.
    for principal, disclose in ((None, True), (ANALYST, False)):
        with acting_as(principal):
            payload, message = page.download_map(1, INDICATOR, period, "borough")
        assert message is None
        frame = pd.read_csv(io.StringIO(payload["content"])).set_index("area_code")
        engine = indicator_values(db, indicator=INDICATOR, period=period, by="borough", disclose=disclose)
        engine = engine.set_index("area_code")
        assert sorted(frame.index) == sorted(engine.index)
        for column in ("numerator", "denominator", "value", "ci_low", "ci_high"):
            expected = pd.to_numeric(engine[column], errors="coerce").reindex(frame.index)
            assert frame[column].to_numpy() == pytest.approx(expected.to_numpy(), nan_ok=True), (principal, column)
    assert frame["numerator"].notna().sum() >= 20, "the analyst's CSV holds the boroughs' counts"


def test_every_csv_download_is_audited_with_its_filters(pages, db):
    page, practice_page = pages[0], pages[1]
    period = default_period(db, INDICATOR)
    last = audit.entries(limit=1)
    before = last[0].seq if last else 0
    with acting_as(COMMISSIONER):
        page.download_map(1, INDICATOR, period, "borough")
        practice_page.download_trend(1, INDICATOR, "E83003")
    with acting_as(ANALYST):
        page.download_trend(1, INDICATOR, "london")
    new = sorted((e for e in audit.entries(limit=100) if e.seq > before), key=lambda e: e.seq)
    assert [(e.username, e.action) for e in new] == [
        (COMMISSIONER.username, audit.EXPORT_AGGREGATE),
        (COMMISSIONER.username, audit.EXPORT_AGGREGATE),
        (ANALYST.username, audit.VIEW_UNROUNDED),
    ]
    map_entry, practice_entry, unrounded = new
    assert map_entry.filters == {"page": "immunisation", "export": "map", "indicator": INDICATOR,
                                 "period": period, "view": "borough"}  # fmt: skip
    assert map_entry.row_count == len(indicator_values(db, indicator=INDICATOR, period=period, by="borough"))
    assert practice_entry.filters["page"] == "immunisation_practice" and practice_entry.filters["practice"] == "E83003"
    assert unrounded.filters["export"] == "trend" and unrounded.row_count > 0


def test_no_csv_leaves_unaudited_and_the_user_is_told_why(pages, db, monkeypatch):
    # Every immunisation download: when the audit log cannot be written, no file and a message (not silence).
    page, practice_page = pages[0], pages[1]
    period = default_period(db, INDICATOR)

    def refuse(*_args, **_kwargs):
        raise audit.AuditUnavailable("The audit log cannot be written (disk full).")

    monkeypatch.setattr(audit, "record", refuse)
    calls = [
        lambda: page.download_map(1, INDICATOR, period, "borough"),
        lambda: page.download_inequalities(1, INDICATOR, period, "london"),
        lambda: page.download_trend(1, INDICATOR, "london"),
        lambda: page.download_uptake(1, INDICATOR, period, "london"),
        lambda: practice_page.download_comparison(1, "quarter", "E83003"),
        lambda: practice_page.download_ranking(1, INDICATOR, "quarter", "E83003"),
        lambda: practice_page.download_trend(1, INDICATOR, "E83003"),
    ]
    with acting_as(COMMISSIONER):
        for call in calls:
            payload, message = call()
            assert payload is no_update and "disk full" in str(message)


def test_a_gp_teams_own_practice_is_already_picked(pages):
    page = pages[0]

    def picked() -> str | None:
        return find(page.layout(), lambda c: getattr(c, "id", None) == page.PRACTICE_PICK_ID)[0].value

    with acting_as(GP):
        assert picked() == "E83003"
    with acting_as(COMMISSIONER):
        assert picked() is None
    two_practices = Principal("gp.two", Role.GP_TEAM, Scope.of(practices=["E83003", "F84003"]))
    with acting_as(two_practices):
        assert picked() is None  # which one is theirs to open first is the user's choice


def test_practice_link_goes_to_the_gp_view(pages):
    href, disabled = pages[0].update_practice_link("E83003", INDICATOR)
    assert href.startswith("/immunisation/practice/E83003") and not disabled
    assert pages[0].update_practice_link(None, INDICATOR) == ("/immunisation", True)
    # Whichever measure the London page shows, the GP view it links to takes it without a warning.
    for indicator in imm.INDICATOR_IDS:
        href, _ = pages[0].update_practice_link("E83003", indicator)
        query = dict(pair.split("=") for pair in href.split("?", 1)[1].split("&"))
        tree = pages[1].layout(ods_code="E83003", **query)
        assert link_warning(tree) is None, indicator
        assert find(tree, lambda c: getattr(c, "id", None) == pages[1].INDICATOR_ID)[0].value == indicator


def test_the_gp_view_typed_without_a_code_opens_the_gp_teams_own_practice(pages):
    from app import server

    client = server.test_client()
    refused = client.get("/immunisation/practice")
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/login")
    sign_in(client, "demo.gp")  # practice E83003
    for typed in ("/immunisation/practice", "/immunisation/practice/"):
        response = client.get(typed)
        assert (response.status_code, response.headers["Location"]) == (302, "/immunisation/practice/E83003")
    commissioner = server.test_client()
    sign_in(commissioner, "demo.commissioner")  # no practice of their own: the picker on the immunisation page
    assert commissioner.get("/immunisation/practice").headers["Location"] == "/immunisation"


# ----------------------------------------------------------------------------- GP-team view


def test_gp_view_refuses_bad_and_unknown_codes(pages):
    practice_page = pages[1]
    warning = link_warning(practice_page.layout(ods_code="E83003", indicator="nope", period_type="decade"))
    assert "vaccine nope" in warning and "period decade" in warning
    assert link_warning(practice_page.layout(ods_code="e83003", indicator=INDICATOR, period_type="fy")) is None
    assert "not a GP practice code" in text_of(practice_page.layout(ods_code="../../etc"))
    assert "No London practice" in text_of(practice_page.layout(ods_code="Z99999"))
    # A code the user typed or followed, not data missing from the database.
    assert "Data unavailable" not in text_of(practice_page.layout(ods_code="Z99999"))


def test_gp_view_comparison_equals_the_engine(pages, db):
    practice_page = pages[1]
    with acting_as(ANALYST):
        figure, table, _, _ = practice_page.update_comparison("fy", "E83003")
    rows = {r["title"]: r for r in find(table, lambda c: type(c).__name__ == "DataTable")[0].data}
    details = imm.practice_details(db, practice_code="E83003")
    for indicator_id in ("cover_24m_mmr1", "cover_12m_6in1", "cover_5y_mmr2"):
        title = imm.get(indicator_id).title
        period = imm.period_for(db, indicator=indicator_id, period_type="fy")
        own = indicator_values(
            db, indicator=indicator_id, period=period, by="practice", filters={"practice": "E83003"}, disclose=False
        )
        borough = indicator_values(
            db,
            indicator=indicator_id,
            period=period,
            by="borough",
            filters={"borough": details["borough_code"]},
            disclose=False,
        )
        if len(own):
            assert rows[title]["practice_value"] == pytest.approx(own.iloc[0]["value"])
            assert rows[title]["children"] == own.iloc[0]["denominator"]
            assert rows[title]["children_short"] == own.iloc[0]["patients_to_target"]
        assert rows[title]["borough_value"] == pytest.approx(borough.iloc[0]["value"])
    assert {t.name for t in figure.data} >= {"Borough", "London"}


@pytest.fixture(scope="module")
def practice_with_gaps(pages, db) -> str:
    """A practice with vaccines short of 95 % for a user who may list its children (who sees its own figures
    unrounded: the small database's E83003 then has none, so no link to offer). Outside Barnet and Hackney, so
    the module's GP (E83003, in Barnet) and RESPONDER (Hackney) are users whose scope does not cover it."""
    practice_page = pages[1]
    largest = db.cursor().execute("SELECT practice_code FROM patient_dim GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 10")
    return next(
        code
        for (code,) in largest.fetchall()
        if imm.practice_details(db, practice_code=code)["borough_code"]
        not in ("E09000003", *RESPONDER.scope.borough_codes)
        and practice_page.gap_links(
            practice_page.comparison_values(db, practice_code=code, period_type="fy", disclose=False)[0], code
        )
    )


def test_gp_view_offers_lists_of_children_only_to_a_role_that_may_see_them(pages, db, practice_with_gaps):
    """A commissioner was offered a dozen "Children missing" links, each to a list that could only refuse; so
    was a GP team or campaign responder on a practice outside their scope."""
    practice_page = pages[1]
    code = practice_with_gaps

    def finder_links(tree) -> list:
        return find(tree, lambda c: str(getattr(c, "href", "")).startswith("/immunisation/cohort?"))

    borough = imm.practice_details(db, practice_code=code)["borough_code"]
    for principal in (
        Principal("gp.there", Role.GP_TEAM, Scope.of(practices=[code])),
        Principal("campaign.there", Role.CAMPAIGN_RESPONDER, Scope.of(boroughs=[borough])),
    ):
        with acting_as(principal):
            *_, own_links, _ = practice_page.update_comparison("fy", code)
        assert finder_links(own_links) and practice_page.AGGREGATE_ONLY not in text_of(own_links)
    for principal in (None, COMMISSIONER, ANALYST, GP, RESPONDER):  # GP and RESPONDER: outside their scope
        with acting_as(principal):
            *_, links, _ = practice_page.update_comparison("fy", code)
        assert not finder_links(links), "no link to a list this role may not see"
        assert practice_page.AGGREGATE_ONLY in text_of(links), "the message alone, under the section's heading"
        assert [type(c).__name__ for c in links.children] == ["H3", "Alert"]


def test_gp_view_table_says_which_children_short_counts_are_hidden(pages, db):
    """Disclosure on: a 1-7 count of children short reads "suppressed", a measure without a target "no target".

    (The fixture's practices are too small for a shown row with 1-7 short: the unit test
    test_comparison_table_says_suppressed_for_a_hidden_count_of_children_short holds that case.)
    """
    practice_page = pages[1]
    with acting_as(COMMISSIONER):
        _, table, _, _ = practice_page.update_comparison("quarter", "E83003")
    rows = {r["title"]: r for r in find(table, lambda c: type(c).__name__ == "DataTable")[0].data}
    for spec in imm.immunisation_indicators():
        cell = rows[spec.title]["children_short"]
        if spec.target is None:
            assert cell == "no target"
            continue
        period = imm.period_for(db, indicator=spec.id, period_type="quarter")
        raw = indicator_values(
            db, indicator=spec.id, period=period, by="practice", filters={"practice": "E83003"}, disclose=False
        )
        short = raw.iloc[0]["patients_to_target"] if len(raw) else None
        if short is not None and 1 <= short <= 7:
            assert cell == "suppressed", spec.id
        elif short is not None:  # (None: no child of the practice in this cohort)
            assert cell is not None, spec.id  # a number (0, or rounded to 5) or "suppressed" with its row


def test_gp_view_ranking_lists_only_the_borough_and_highlights_the_practice(pages, db):
    practice_page = pages[1]
    period = imm.period_for(db, indicator=INDICATOR, period_type="fy")
    practices = indicator_values(
        db, indicator=INDICATOR, period=period, by="practice", filters={"borough": "E09000003"}, disclose=False
    )
    largest = practices.sort_values("denominator").iloc[-1]
    with acting_as(ANALYST):
        figure = practice_page.update_ranking(INDICATOR, "fy", largest["area_code"])
    codes = {code for trace in figure.data for code in trace.y}
    assert codes == set(practices["area_code"])  # every Barnet practice with a cohort, and no other
    bold = [text for text in figure.layout.yaxis.ticktext if "<b>" in text]
    assert bold == [f"<b>{short_label(largest['area_name'])}</b>"]


def _ranked_points(figure) -> tuple[dict[str, tuple[float, float]], set[str]]:
    """A ranked chart's shown practices ({code: (vaccinated, children)} from the hover) and its suppressed ones."""
    shown, suppressed = {}, set()
    for trace in figure.data:
        if trace.name.startswith("Suppressed"):
            suppressed |= set(trace.y)
        else:
            shown |= {code: (row[2], row[3]) for code, row in zip(trace.y, trace.customdata, strict=True)}
    return shown, suppressed


def test_a_gp_team_sees_its_own_practice_unrounded_and_every_other_area_disclosed(pages, db):
    # E83003 (demo.gp's practice) has 1 child in the latest quarter's 12-month cohort: a count it may list.
    practice_page = pages[1]
    period = imm.period_for(db, indicator="cover_12m_6in1", period_type="quarter")
    raw = indicator_values(
        db, indicator="cover_12m_6in1", period=period, by="practice", filters={"borough": "E09000003"}, disclose=False
    ).set_index("area_code")
    assert 1 <= raw.loc["E83003", "denominator"] <= 7, "the fixture no longer has a small count to show"
    small_neighbours = raw.index[(raw["denominator"] >= 1) & (raw["denominator"] <= 7) & (raw.index != "E83003")]
    assert len(small_neighbours), "no other Barnet practice with 1-7 children to stay suppressed"
    title = imm.get("cover_12m_6in1").title

    with acting_as(GP):
        _, gp_table, _, gp_note = practice_page.update_comparison("quarter", "E83003")
        gp_ranking = practice_page.update_ranking("cover_12m_6in1", "quarter", "E83003")
    with acting_as(COMMISSIONER):
        _, table, _, note = practice_page.update_comparison("quarter", "E83003")
        ranking = practice_page.update_ranking("cover_12m_6in1", "quarter", "E83003")

    def rows(table_component) -> dict[str, dict]:
        return {r["title"]: r for r in find(table_component, lambda c: type(c).__name__ == "DataTable")[0].data}

    gp_rows, rows_disclosed = rows(gp_table), rows(table)
    # The practice's own row: the exact count, its value and interval.
    assert gp_rows[title]["children"] == raw.loc["E83003", "denominator"]
    assert gp_rows[title]["vaccinated"] == raw.loc["E83003", "numerator"]
    assert gp_rows[title]["practice_value"] == pytest.approx(raw.loc["E83003", "value"])
    assert gp_rows[title]["ci_low"] == pytest.approx(raw.loc["E83003", "ci_low"])
    assert rows_disclosed[title]["children"] == "suppressed"  # what the commissioner gets for the same cell
    # Its PCN, borough and London are those a commissioner sees.
    for row_title, row in gp_rows.items():
        for column in ("pcn_value", "borough_value", "london_value"):
            assert row[column] == rows_disclosed[row_title][column], (row_title, column)
    assert gp_note == practice_page.UNROUNDED_NOTE and note is None

    # The ranking: the practice's own point with its exact counts; the other small practices still suppressed.
    gp_shown, gp_suppressed = _ranked_points(gp_ranking)
    shown, suppressed = _ranked_points(ranking)
    assert gp_shown["E83003"] == (raw.loc["E83003", "numerator"], raw.loc["E83003", "denominator"])
    assert "E83003" in suppressed and "E83003" not in gp_suppressed
    assert set(small_neighbours) <= gp_suppressed
    assert {code: gp_shown[code] for code in shown} == shown  # everyone else as the commissioner sees them
    assert all(n % 5 == 0 for code, counts in gp_shown.items() if code != "E83003" for n in counts)

    # The trend is the practice's own: unrounded too.
    with acting_as(GP):
        gp_trend = practice_page.practice_trend(db, indicator="cover_12m_6in1", practice_code="E83003", disclose=False)
    engine = trend(db, indicator="cover_12m_6in1", filters={"practice": "E83003"}, disclose=False)
    assert gp_trend["denominator"].tolist() == engine["denominator"].tolist()


def test_another_practices_page_stays_disclosed_for_a_gp_team_and_the_analyst_gets_no_note(pages):
    practice_page = pages[1]
    with acting_as(GP):
        _, table, _, note = practice_page.update_comparison("quarter", "E83007")  # a Barnet neighbour
        ranking = practice_page.update_ranking("cover_12m_6in1", "quarter", "E83007")
    with acting_as(COMMISSIONER):
        _, commissioner_table, *_ = practice_page.update_comparison("quarter", "E83007")
    assert note is None
    assert text_of(table) == text_of(commissioner_table)
    _, suppressed = _ranked_points(ranking)
    assert "E83003" in suppressed  # their own practice is not unrounded on another practice's page
    with acting_as(ANALYST):
        *_, analyst_note = practice_page.update_comparison("quarter", "E83003")
    assert analyst_note is None  # everything is unrounded for the analyst: nothing to single out


def test_gp_view_exports_with_the_practices_unrounded_figures_are_audited_as_unrounded(pages, db):
    practice_page = pages[1]
    quarter = imm.period_for(db, indicator="cover_12m_6in1", period_type="quarter")
    barnet = indicator_values(
        db, indicator="cover_12m_6in1", period=quarter, by="practice", filters={"borough": "E09000003"}, disclose=False
    )
    small = barnet["denominator"].between(1, 7) & (barnet["area_code"] != "E83003")
    other_code = barnet.loc[small, "area_code"].iloc[0]  # another Barnet practice with 1-7 children: suppressed
    last = audit.entries(limit=1)
    before = last[0].seq if last else 0
    with acting_as(GP):
        comparison, _ = practice_page.download_comparison(1, "quarter", "E83003")
        ranked, _ = practice_page.download_ranking(1, "cover_12m_6in1", "quarter", "E83003")
        trend_csv, _ = practice_page.download_trend(1, "cover_12m_6in1", "E83003")
        other, _ = practice_page.download_comparison(1, "quarter", other_code)
    new = sorted((e for e in audit.entries(limit=100) if e.seq > before), key=lambda e: e.seq)
    assert [(e.username, e.action, e.filters["export"], e.filters["practice"]) for e in new] == [
        (GP.username, audit.VIEW_UNROUNDED, "comparison", "E83003"),
        (GP.username, audit.VIEW_UNROUNDED, "ranking", "E83003"),
        (GP.username, audit.VIEW_UNROUNDED, "trend", "E83003"),
        (GP.username, audit.EXPORT_AGGREGATE, "comparison", other_code),
    ]
    # What the unrounded entries cover really is unrounded: the practice's own small counts.
    rows = pd.read_csv(io.StringIO(comparison["content"])).set_index("indicator_id")
    assert rows.loc["cover_12m_6in1", "children"] == 1
    ranked_rows = pd.read_csv(io.StringIO(ranked["content"])).set_index("area_code")
    assert ranked_rows.loc["E83003", "denominator"] == 1 and ranked_rows.loc[other_code, "suppressed"]
    assert pd.read_csv(io.StringIO(other["content"]))["children"].dropna().mod(5).eq(0).all()


# ----------------------------------------------------------------------------- cohort finder


def _controls(**changes):
    values = {
        "as_at": "2026-10-31",
        "age_min": 1,
        "age_max": 9,
        "missing": list(cohort.MISSING_DOSES),
        "match": "any",
        "boroughs": None,
        "pcns": None,
        "practices": None,
        "quintiles": [],
        "ethnicity": [],
        "registered_after": None,
    }
    values.update(changes)
    return tuple(values.values())


def test_cohort_summary_on_screen_equals_the_query(pages, db):
    finder = pages[2]
    summary_cards, lsoa_map, practice_map, shown, borough_chart, _, age_chart, problem = finder.find_cohort(
        1, *_controls(), None
    )
    expected = cohort.cohort_summary(db, criteria=cohort.CohortCriteria(as_at=dt.date(2026, 10, 31)))
    assert problem is None and shown is True
    assert f"{expected.size:,.0f}" in text_of(summary_cards)
    # The size counts children missing a ticked dose, and says so: "in the cohort" read as every child of the ages.
    assert "Children missing any ticked dose" in text_of(summary_cards)
    assert "Children in the cohort" not in text_of(summary_cards)
    bars = dict(zip(age_chart.data[0].y, age_chart.data[0].x, strict=True))
    for row in expected.by_age.itertuples():
        if not row.suppressed:
            assert bars[f"{row.age_years} years"] == row.children
    # A second search recolours the maps instead of resending LSOA geometry.
    _, lsoa_patch, _, _, _, _, _, _ = finder.find_cohort(2, *_controls(age_min=2, age_max=4), True)
    assert type(lsoa_patch).__name__ == "Patch"


def test_cohort_bad_criteria_show_a_message(pages):
    finder = pages[2]
    result = finder.find_cohort(1, *_controls(as_at="2030-01-01"), None)
    assert "after the extract date" in text_of(result[-1])
    result = finder.find_cohort(1, *_controls(practices="E83003, ZZ9999"), None)
    assert "Unknown practice code(s): ZZ9999" in text_of(result[-1])
    result = finder.find_cohort(1, *_controls(age_min=None), None)
    assert "whole numbers" in text_of(result[-1])


def test_the_finders_date_runs_from_the_polio_campaign_and_an_incomplete_one_is_noted(pages, db):
    finder = pages[2]
    tree = finder.layout(as_at="2021-06-01")
    assert "date 2021-06-01 (before 2022-08-10, the earliest the finder counts on)" in text_of(tree)
    as_at = find(tree, lambda c: getattr(c, "id", None) == finder.AS_AT_ID)[0]
    assert (as_at.value, as_at.min) == ("2026-10-31", "2022-08-10")
    problem = finder.find_cohort(1, *_controls(as_at="2022-08-09"), None)[-1]
    assert "Check your choice" in text_of(problem) and "on or after 2022-08-10" in text_of(problem)
    # Before the earliest registration end the extract may lack children who had left: said, not hidden.
    registered_from = cohort.registered_from(db)
    assert registered_from is not None
    day_before = (registered_from - dt.timedelta(days=1)).isoformat()
    note = finder.find_cohort(1, *_controls(as_at=day_before), None)[-1]
    assert "Children who left their London practice before then are not in it" in text_of(note)
    assert finder.find_cohort(1, *_controls(as_at=registered_from.isoformat()), None)[-1] is None


def test_aggregate_roles_and_anonymous_visitors_get_no_patient_rows(pages):
    finder = pages[2]
    for principal in (None, COMMISSIONER, ANALYST):
        with acting_as(principal):
            rows, _, note = finder.show_patients(1, 0, *_controls())
            assert rows == [] and "aggregate figures only" in text_of(note)
            payload, message = finder.export_patients(1, *_controls())
            assert payload is finder.no_update and "aggregate figures only" in text_of(message)


def test_an_aggregate_role_sees_the_message_alone_where_the_list_would_be(pages):
    """A commissioner saw the message above an empty table's header row, which read as a list that failed."""
    finder = pages[2]
    ids = (finder.LIST_ID, f"{finder.DOWNLOAD_LIST_ID}-button")
    for principal in (None, COMMISSIONER, ANALYST):
        with acting_as(principal):
            tree = finder.layout()
        assert not find(tree, lambda c: getattr(c, "id", None) in ids), "no table and no export for this role"
        assert "aggregate figures only" in text_of(tree)
    for principal in (GP, RESPONDER):
        with acting_as(principal):
            tree = finder.layout()
        assert len(find(tree, lambda c: getattr(c, "id", None) in ids)) == 2
        assert "aggregate figures only" not in text_of(tree)


def test_gp_team_sees_only_its_own_practice_and_is_audited(pages, db):
    finder = pages[2]
    before = len(audit.entries(username=GP.username))
    with acting_as(GP):
        rows, page_count, _ = finder.show_patients(1, 0, *_controls(age_min=0, age_max=18, missing=[]))
        # Asking for another borough's practice gives nothing, never its children.
        other, _, _ = finder.show_patients(1, 0, *_controls(practices="F84003", missing=[]))
        export, export_message = finder.export_patients(1, *_controls(age_min=0, age_max=18, missing=[]))
    assert rows and {row["practice_code"] for row in rows} == {"E83003"}
    assert other == [] and export_message is None
    exported = pd.read_csv(io.StringIO(export["content"]))
    assert set(exported["practice_code"]) == {"E83003"}
    expected_total = cohort.count_children(
        db,
        criteria=cohort.CohortCriteria(as_at=dt.date(2026, 10, 31), age_min=0, age_max=18, missing=()),
        scope=cohort.RowScope(practice_codes=("E83003",)),
    )
    assert len(exported) == expected_total
    assert page_count == max(1, -(-expected_total // finder.PAGE_SIZE))
    entries = audit.entries(username=GP.username)
    assert len(entries) == before + 3
    assert {e.action for e in entries[:3]} == {audit.VIEW_PATIENT_ROWS, audit.EXPORT_PATIENT_ROWS}
    assert entries[0].row_count == expected_total and entries[0].filters["scope_practices"] == ["E83003"]


def test_campaign_responder_sees_only_their_borough(pages):
    finder = pages[2]
    with acting_as(RESPONDER):
        rows, _, _ = finder.show_patients(1, 0, *_controls())
    assert rows
    hackney = set(
        imm.practice_options(get_database(pages[2].default_database().path), borough_code="E09000012")["practice_code"]
    )
    assert {row["practice_code"] for row in rows} <= hackney


def test_cohort_controls_are_parsed_and_checked(pages):
    criteria_from_controls = pages[2].criteria_from_controls
    CohortError = cohort.CohortError  # noqa: N806

    known = {"borough": {"E09000012"}, "pcn": {"U33392"}, "practice": {"E83003", "F84003"}}
    latest = dt.date(2026, 10, 31)
    criteria = criteria_from_controls(
        as_at="2026-06-30",
        ages=["2", 5],
        missing=["mmr2"],
        match="all",
        boroughs=["E09000012"],
        pcns="",
        practices="e83003, F84003",
        quintiles=["1", "5"],
        ethnicity=["Black"],
        registered_after=None,
        default_date=latest,
        known=known,
    )
    assert (criteria.as_at, criteria.age_min, criteria.age_max) == (dt.date(2026, 6, 30), 2, 5)
    assert criteria.missing == ("mmr2",) and criteria.match == "all"
    assert criteria.practices == ("E83003", "F84003") and criteria.imd_quintiles == (1, 5)
    # Each refused request: the usual controls with one change.
    usual = {"as_at": None, "ages": [1, 9], "missing": ["mmr2"], "match": "any", "boroughs": None, "pcns": None}
    usual |= {"practices": None, "quintiles": None, "ethnicity": None, "registered_after": None}
    for change, message in (
        ({"as_at": "2027-01-01"}, "after the extract date"),
        ({"practices": "X'; DROP TABLE patients"}, "Unknown practice"),
        # Values no control offers (a crafted request) are refused with a message, never read as something
        # near: an unknown dose dropped left no dose ticked, and the list widened to every child in scope.
        ({"missing": ["mmr2", "nonsense"]}, "Unknown dose"),
        ({"match": "most"}, "any of the ticked doses"),
        ({"ages": [1.5, 9]}, "whole numbers"),
        ({"as_at": "last tuesday"}, "not a date"),
    ):
        with pytest.raises(CohortError, match=message):
            criteria_from_controls(**(usual | change), default_date=latest, known=known)


def test_every_export_that_gives_no_file_says_why(pages, monkeypatch):
    # The export button used to do nothing at all for bad filters, and gave a header-only file when no child matched.
    finder = pages[2]
    with acting_as(RESPONDER):
        before = len(audit.entries(username=RESPONDER.username, action=audit.EXPORT_PATIENT_ROWS))
        inverted = finder.export_patients(1, *_controls(age_min=9, age_max=1))
        elsewhere = finder.export_patients(1, *_controls(practices="E83003"))  # a Barnet practice: none in Hackney
        after = len(audit.entries(username=RESPONDER.username, action=audit.EXPORT_PATIENT_ROWS))

        def refuse(*_args, **_kwargs):
            raise audit.AuditUnavailable("The audit log cannot be written (disk full).")

        monkeypatch.setattr(audit, "record", refuse)
        unaudited = finder.export_patients(1, *_controls())
    assert inverted[0] is no_update and "give the younger age first" in text_of(inverted[1])
    assert elsewhere[0] is no_update and "nothing to export" in text_of(elsewhere[1])
    # The scope by name: a responder knows their borough as Hackney, not E09000012.
    assert "Your scope: borough Hackney (E09000012)." in text_of(elsewhere[1])
    assert after == before + 1, "the attempt that found no child is not in the audit log"
    assert unaudited[0] is no_update and "audit log cannot be written" in text_of(unaudited[1])


def test_bad_filters_are_named_as_such_not_as_missing_data(pages):
    finder = pages[2]
    problem = finder.find_cohort(1, *_controls(age_min=9, age_max=1), None)[-1]
    assert "Check your choice" in text_of(problem) and "Data unavailable" not in text_of(problem)
    assert "'Aged from' (9) is above 'to' (1)" in text_of(problem)
    with acting_as(RESPONDER):
        _, _, note = finder.show_patients(1, 0, *_controls(age_min=3, age_max=30))
    assert "Ages run from 0 to 18" in text_of(note)
    # Registered after the date the children are counted on: an impossible pair, named rather than an empty list.
    problem = finder.find_cohort(1, *_controls(as_at="2020-01-01", registered_after="2026-10-31"), None)[-1]
    assert "no child can match" in text_of(problem)
    # Hackney ticked and a Barnet practice typed: the same.
    problem = finder.find_cohort(1, *_controls(boroughs=["E09000012"], practices="E83003"), None)[-1]
    assert "None of the practices (E83003) is in a ticked borough" in text_of(problem)
    assert finder.find_cohort(1, *_controls(boroughs=["E09000003"], practices="E83003"), None)[-1] is None


def test_a_link_with_unusable_values_opens_with_them_named(pages):
    finder = pages[2]
    garbage = {"borough": "XYZ", "practice": "<script>", "imd": "9", "missing": "foo", "match": "zzz", "age": "abc"}
    tree = finder.layout(**garbage)
    text = text_of(tree)
    assert "was not recognised and was left out" in text
    for named in ("borough XYZ", "practice <SCRIPT>", "IMD quintile 9", "dose foo", "match zzz", "ages abc"):
        assert named in text, named
    # Only an unknown dose in the link: the default doses stay ticked (none ticked would list every child).
    missing = find(tree, lambda c: getattr(c, "id", None) == finder.MISSING_ID)[0]
    assert missing.value == list(cohort.DEFAULT_MISSING)
    clean = text_of(finder.layout(borough="E09000012", age="2-5", missing="mmr1,mmr2", imd="1,2"))
    assert "was not recognised" not in clean


def test_trend_csvs_name_the_area_they_hold(pages, db):
    # A borough's or a practice's trend CSV said "London" (E12000007), with london_value equal to its own value.
    page, practice_page = pages[0], pages[1]
    by_practice = indicator_values(db, indicator=INDICATOR, period=default_period(db, INDICATOR), by="practice")
    largest_first = by_practice.sort_values("denominator", ascending=False)["area_code"]
    code = next(c for c in largest_first if len(trend(db, indicator=INDICATOR, filters={"practice": c})) > 1)
    with acting_as(COMMISSIONER):
        practice_csv, _ = practice_page.download_trend(1, INDICATOR, code)
        borough_csv, _ = page.download_trend(1, INDICATOR, "E09000012")
        london_csv, _ = page.download_trend(1, INDICATOR, "london")
    practice = pd.read_csv(io.StringIO(practice_csv["content"]))
    borough = pd.read_csv(io.StringIO(borough_csv["content"]))
    london = pd.read_csv(io.StringIO(london_csv["content"]))
    name = imm.practice_details(db, practice_code=code)["practice_name"]
    assert len(practice) > 1 and set(practice["area_code"]) == {code} and set(practice["area_name"]) == {name}
    assert set(borough["area_code"]) == {"E09000012"} and set(borough["area_name"]) == {"Hackney"}
    assert "london_value" not in practice and "london_value" not in borough
    assert set(london["area_name"]) == {"London"}
    engine = trend(db, indicator=INDICATOR, filters={"practice": code})
    assert practice["value"].tolist() == pytest.approx(engine["value"].astype(float).tolist(), nan_ok=True)


# ----------------------------------------------------------------------------- every COVER dose, GP page to finder


def test_every_dose_can_be_ticked_from_the_link_in_order_of_age_due(pages):
    finder = pages[2]
    tree = finder.layout(missing="pcv_booster,4in1,rota")
    checklist = find(tree, lambda c: getattr(c, "id", None) == finder.MISSING_ID)[0]
    assert set(checklist.value) == {"rota", "pcv_booster", "4in1"}
    assert [option["value"] for option in checklist.options] == list(cohort.MISSING_DOSES)
    assert "was not recognised" not in text_of(tree)


def test_summary_cards_show_only_the_ticked_doses(pages, db):
    finder = pages[2]
    cards = text_of(finder.find_cohort(1, *_controls(missing=["pcv_booster", "4in1"]), None)[0])
    assert "Missing PCV booster" in cards and "Missing pre-school booster" in cards
    for untouched in ("Missing MMR1", "Missing MMR2", "Missing 6-in-1 primary", "Missing rotavirus"):
        assert untouched not in cards
    expected = cohort.cohort_summary(
        db, criteria=cohort.CohortCriteria(as_at=dt.date(2026, 10, 31), missing=("pcv_booster", "4in1"))
    )
    assert list(expected.missing_counts["dose"]) == ["pcv_booster", "4in1"]


def _gp_page_links(pages, practice_code):
    """The finder links on a practice's page, as its GP team gets them (a role without the practice gets none)."""
    with acting_as(Principal("gp.there", Role.GP_TEAM, Scope.of(practices=[practice_code]))):
        _, _, links, _ = pages[1].update_comparison("fy", practice_code)
    return [c.href for c in find(links, lambda c: getattr(c, "href", None) is not None)]


def test_each_gp_page_gap_links_to_its_children_in_the_finder(pages, db, practice_with_gaps):
    practice_page, finder = pages[1], pages[2]
    code = practice_with_gaps
    # As its GP team sees the page: disclosure control, but the practice's own figures unrounded.
    wide, _ = practice_page.comparison_values(
        db, practice_code=code, period_type="fy", disclose=True, disclose_practice=False
    )
    hrefs = _gp_page_links(pages, code)
    gaps = [
        row.indicator_id
        for row in wide.itertuples()
        if row.indicator_id in cohort.COVER_MEASURE_DOSES
        and (row.children_short_suppressed or (isinstance(row.children_short, float) and row.children_short > 0))
    ]
    assert gaps and len(hrefs) == len(gaps)
    for indicator_id, href in zip(gaps, hrefs, strict=True):
        dose, age_min, age_max = cohort.COVER_MEASURE_DOSES[indicator_id]
        query = dict(pair.split("=") for pair in href.split("?", 1)[1].split("&"))
        assert href.startswith("/immunisation/cohort?")
        assert query == {"practice": code, "missing": dose, "age": f"{age_min}-{age_max}"}
        # The finder opens with exactly that practice, dose and ages.
        tree = finder.layout(**query)
        ticked = find(tree, lambda c: getattr(c, "id", None) == finder.MISSING_ID)[0].value
        ages = [c.value for c in find(tree, lambda c: getattr(c, "id", None) in (finder.AGE_MIN_ID, finder.AGE_MAX_ID))]
        assert ticked == [dose] and ages == [age_min, age_max]
        assert "was not recognised" not in text_of(tree)


def test_the_gp_pages_links_say_which_children_the_finder_lists(pages, practice_with_gaps):
    """1 child short in the period's cohort and 3 in the finder's list, with nothing saying why."""
    code = practice_with_gaps
    with acting_as(Principal("gp.there", Role.GP_TEAM, Scope.of(practices=[code]))):
        _, _, links, _ = pages[1].update_comparison("fy", code)
    text = text_of(links)
    assert "missing the dose today" in text and "so the two numbers differ" in text
    labels = [c.children for c in find(links, lambda c: getattr(c, "href", None) is not None)]
    assert labels and all(re.search(r"\(aged \d+–\d+ today\)$", label) for label in labels)


def test_a_gp_page_link_gives_an_aggregate_role_no_children(pages, db):
    finder = pages[2]
    # E83003 has no child aged 1-2 missing the PCV booster in the small database: ages 1-9 list two.
    controls = _controls(age_min=1, age_max=9, missing=["pcv_booster"], practices="E83003")
    with acting_as(COMMISSIONER):
        rows, _, note = finder.show_patients(1, 0, *controls)
    assert rows == [] and "aggregate figures only" in text_of(note)
    with acting_as(GP):
        rows, _, _ = finder.show_patients(1, 0, *controls)
    expected, _ = cohort.cohort_patients(
        db,
        criteria=cohort.CohortCriteria(as_at=dt.date(2026, 10, 31), age_min=1, age_max=9, missing=("pcv_booster",)),
        scope=RowScope(practice_codes=("E83003",)),
    )
    assert len(rows) >= 2 and sorted(row["patient_id"] for row in rows) == sorted(expected["patient_id"])
    assert {row["practice_code"] for row in rows} == {"E83003"}
    assert all("PCV booster" in row["missing"] for row in rows)


def test_the_scope_is_named_with_its_codes(pages, db):
    finder = pages[2]
    text = finder.scope_text(db, RowScope(borough_codes=("E09000012", "E09000019"), practice_codes=("Z99999",)))
    # A code the extract cannot name is shown alone rather than dropped.
    assert text == "practice Z99999; boroughs Hackney (E09000012), Islington (E09000019)"


def test_the_finder_rebuilds_its_cache_when_the_handle_reopens(small_db):
    """The cache lives in the connection (an attached in-memory database): a handle closed and opened again, as
    gunicorn's master closes its own before each fork, must build it again rather than trust a remembered one."""
    handle = Database(small_db)  # its own handle: closing the shared one would slow other tests
    criteria = cohort.CohortCriteria(as_at=imm.extract_date(handle), age_min=0, age_max=18)
    before = cohort.cohort_summary(handle, criteria=criteria, disclose=False).size
    handle.close()
    assert cohort.cohort_summary(handle, criteria=criteria, disclose=False).size == before > 0
    handle.close()


def test_a_measure_without_a_target_has_no_children_to_target_column(pages, db, monkeypatch):
    """The 2022 polio campaign has no 95 % target: its table kept an empty "Children to 95%" column."""
    page = pages[0]
    _triggered_by(monkeypatch, page, page.INDICATOR_ID)
    *_, polio = page.update_map("polio_booster_1_9", "polio-2022", "borough", "table", None)
    *_, mmr = page.update_map(INDICATOR, default_period(db, INDICATOR), "borough", "table", None)
    assert "Children to 95%" not in text_of(polio) and "Children to 95%" in text_of(mmr)
    assert "polio-2022" not in text_of(polio)  # the caption names the period as the page does


def test_the_gap_table_says_why_a_borough_has_no_gap(pages):
    """Brent's and Hackney's gap cells were blank: neither has a child in the least deprived quintile."""
    frame = pd.DataFrame(
        {
            "area_name": ["Brent", "Camden", "Hackney", "City of London"],
            "value": [None, 12.5, None, None],
            "suppressed": [False, False, False, True],  # the City's gap is hidden: it says so itself
        }
    )
    note = pages[0]._no_gap_note(frame)
    assert note == ". No gap where a borough has no children in one of the two quintiles: Brent, Hackney"
    assert pages[0]._no_gap_note(frame.iloc[[1, 3]]) == ""
