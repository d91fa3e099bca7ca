"""The hypertension page's callbacks, called as functions on the small database.

What a user sees (chart points, map colours, table cells, CSV rows) equals the engine's
numbers: disclosed for a commissioner or an anonymous visitor, unrounded for the analyst;
funnel limits and classes and the significance words are the engine's; people-to-target
counts agree with the engine's own ``patients_to_target`` at the 80 % ambition.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from components.layout import area_table
from pages import _exports as exports
from queries import disclosure
from queries.db import get_database
from queries.indicators import default_period, funnel_limits, indicator_values, inequality, trend
from security import audit
from security.disclosure import current_disclosure
from security.roles import Principal, Role
from security.web import acting_as
from tests.integration.app_pages import app_pages, find, first_draw_problems, link_warning

ANALYST = Principal("analyst.test", Role.ANALYST)
COMMISSIONER = Principal("commissioner.test", Role.COMMISSIONER)
NORTH_EAST_LONDON = "E54000029"
BARNET = "E09000003"


@pytest.fixture(scope="module")
def page(small_db, tmp_path_factory):
    """The hypertension page module, with settings pointing at the small database and a fresh audit folder."""
    with app_pages(small_db, tmp_path_factory.mktemp("audit"), "hypertension") as (module,):
        yield module


@pytest.fixture(scope="module")
def db(small_db):
    return get_database(small_db)


@pytest.fixture(scope="module")
def period(db):
    return default_period(db, "hyp008")


@pytest.fixture(scope="module")
def busiest_borough(db, period):
    """The borough with most HYP008 patients: the one whose practices are least often suppressed."""
    values = indicator_values(db, indicator="hyp008", period=period, by="borough", disclose=False)
    return values.sort_values("denominator").iloc[-1]["area_code"]


def decoded(value):
    """Plotly's typed-array JSON (``{"dtype", "bdata"}``) as a list of floats; other values as they are."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"])).astype(float).tolist()
    return value


def patch_value(patch, *location):
    """The value a ``dash.Patch`` assigns at ``location`` (e.g. 'data', 0, 'z')."""
    for operation in patch.to_plotly_json()["operations"]:
        if operation["operation"] == "Assign" and operation["location"] == list(location):
            return decoded(operation["params"]["value"])
    raise AssertionError(f"the patch assigns nothing at {location}")


def plotted(figure, axis: str = "x") -> dict[str, float | None]:
    """Category -> plotted value over every marker trace of a ranked chart (value axis ``axis``)."""
    other = "y" if axis == "x" else "x"
    points = {}
    for trace in figure.data:
        categories, values = getattr(trace, other), getattr(trace, axis)
        if categories is None or values is None:
            continue
        for category, value in zip(categories, values, strict=True):
            points[category] = value
    return points


def same(shown, expected) -> bool:
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return shown is None or (isinstance(shown, float) and math.isnan(shown))
    return shown is not None and math.isclose(float(shown), float(expected), rel_tol=1e-5)


def csv_rows(payload: dict) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(payload["content"]))


# ---------------------------------------------------------------- borough comparison


@pytest.mark.parametrize("indicator", ["hyp008", "hyp_detection_ratio", "hyp_prevalence"])
def test_borough_map_ranked_chart_and_icb_chart_show_the_engines_values(page, db, period, indicator):
    patch, ranked, icb_chart, cards, table, message = page.update_comparison(indicator, period, NORTH_EAST_LONDON)
    assert message is None
    expected = indicator_values(db, indicator=indicator, period=period, by="borough", disclose=True)
    by_code = expected.set_index("area_code")

    codes = patch_value(patch, "data", 0, "z")
    map_figure = page.comparison_view(indicator=indicator, period=period, icb=None, disclose=True)["map"]
    locations = list(map_figure.data[0].locations)
    assert len(codes) == len(locations) == 33
    for code, z in zip(locations, codes, strict=True):
        value = by_code["value"].get(code)
        assert same(z, None if by_code["suppressed"].get(code, True) else value), code

    points = plotted(ranked)
    assert set(points) == set(expected["area_code"]), "every borough is on the ranked chart once"
    for code, row in by_code.iterrows():
        assert same(points[code], None if row["suppressed"] else row["value"]), code

    icbs = indicator_values(db, indicator=indicator, period=period, by="icb", disclose=True).set_index("area_code")
    icb_points = plotted(icb_chart)
    assert set(icb_points) == set(icbs.index) and len(icbs) == 5
    for code, row in icbs.iterrows():
        assert same(icb_points[code], row["value"])


def test_the_map_notes_name_the_colour_the_maps_draw_better_than_london_in(page, period):
    """The borough map diverges on PuOr, better than London at the purple end; its note said 'Blue'."""
    colours = page.comparison_view(indicator="hyp008", period=period, icb=None, disclose=True)["map"].data[0]
    better_end = colours.colorscale[-1][1] if not colours.reversescale else colours.colorscale[0][1]
    red, green, blue = (int(part) for part in better_end[better_end.index("(") + 1 : -1].split(","))
    assert blue > green and red > green, f"the better end {better_end} is not purple"
    notes = " ".join(
        str(component.children)
        for component in find(page.layout(period=period), lambda c: isinstance(getattr(c, "children", None), str))
    )
    assert "purple better, orange worse" in notes and "Blue: better" not in notes


def test_the_chosen_icbs_boroughs_are_picked_out_on_map_and_chart(page, db, period):
    boroughs = db.frame("SELECT borough_code, borough_name FROM ref_boroughs WHERE icb_code = ?", [NORTH_EAST_LONDON])
    patch, ranked, *_ = page.update_comparison("hyp008", period, NORTH_EAST_LONDON)
    widths = decoded(patch_value(patch, "data", 0, "marker")["line"]["width"])
    map_figure = page.comparison_view(indicator="hyp008", period=period, icb=None, disclose=True)["map"]
    thick = {code for code, width in zip(map_figure.data[0].locations, widths, strict=True) if width > 1}
    assert thick == set(boroughs["borough_code"])
    bold = {
        text.removeprefix("<b>").removesuffix(" ◀</b>")
        for text in ranked.layout.yaxis.ticktext
        if text.startswith("<b>")
    }
    assert bold == set(boroughs["borough_name"])


def test_a_chosen_borough_is_what_the_cards_describe_and_is_picked_out(page, db, period):
    """Choosing Lewisham left the cards on "London" and nothing picked out (the asthma page follows it)."""
    patch, ranked, _, cards, *_ = page.update_comparison("hyp008", period, None, BARNET)
    assert "Barnet; " in str(cards) and "London; " not in str(cards)
    row = indicator_values(db, indicator="hyp008", period=period, filters={"borough": [BARNET]}).iloc[0]
    assert f"{row['value']:.1f}%" in str(cards)
    bold = [text for text in ranked.layout.yaxis.ticktext if text.startswith("<b>")]
    assert bold == ["<b>Barnet ◀</b>"]
    widths = decoded(patch_value(patch, "data", 0, "marker")["line"]["width"])
    locations = (
        page.comparison_view(indicator="hyp008", period=period, icb=None, disclose=True)["map"].data[0].locations
    )
    assert {code for code, width in zip(locations, widths, strict=True) if width > 1} == {BARNET}
    # With an ICB chosen too, the borough still wins (as on the other views).
    *_, icb_cards, _, _ = page.update_comparison("hyp008", period, NORTH_EAST_LONDON, BARNET)
    assert "Barnet; " in str(icb_cards)


def test_borough_table_numbers_and_significance_words_are_the_engines(page, db, period):
    *_, table, _ = page.update_comparison("hyp008", period, None)
    expected = indicator_values(db, indicator="hyp008", period=period, by="borough", disclose=True)
    shown = area_table(expected, unit="percent", area_label="Borough", codes=False)
    words = {
        "better": "Better than London",
        "worse": "Worse than London",
        "similar": "Similar to London",
        "not compared": "Not compared",
    }
    for (_, row), (_, engine) in zip(shown.iterrows(), expected.sort_values("area_name").iterrows(), strict=True):
        assert row["Compared with London"] == words[engine["comparison"]]
        assert row["Numerator"] == ("suppressed" if engine["numerator"] is None else f"{engine['numerator']:,.0f}")
    rendered = str(table)
    assert all(name in rendered for name in expected["area_name"]), "every borough is in the table"


@pytest.mark.parametrize("disclose", [True, False])
@pytest.mark.parametrize(
    ("icb", "borough"),
    [(None, None), (NORTH_EAST_LONDON, None), (NORTH_EAST_LONDON, BARNET), (None, "E09999999")],
    ids=["london", "icb", "borough", "an area without patients"],
)
def test_kpi_rows_are_each_indicators_own_london_row_for_the_area(page, db, period, icb, borough, disclose):
    """The KPI cards' rows, from one engine query, are the rows of one query an indicator: for an area without
    patients too (one of zeros each, where the batch alone gives none)."""
    level, code = page.selected_area(icb, borough)
    filters = page.hq.area_filters(level=level, code=code)
    expected = pd.concat(
        [
            indicator_values(db, indicator=indicator, period=period, by="london", filters=filters, disclose=disclose)
            for indicator in page.hq.HYPERTENSION_INDICATORS
        ],
        ignore_index=True,
    )
    rows = page.kpi_values(period=period, icb=icb, borough=borough, disclose=disclose)
    pd.testing.assert_frame_equal(rows, expected, check_exact=True)
    assert len(rows) == len(page.hq.HYPERTENSION_INDICATORS)


def test_commissioner_sees_rounded_counts_and_the_analyst_unrounded(page, db, period):
    raw = indicator_values(db, indicator="hyp008", period=period, by="london", disclose=False).iloc[0]
    with acting_as(COMMISSIONER):
        restricted = page.kpi_values(period=period, icb=None, disclose=current_disclosure().disclose)
    with acting_as(ANALYST):
        unrounded = page.kpi_values(period=period, icb=None, disclose=current_disclosure().disclose)
    assert current_disclosure().disclose is True, "an anonymous visitor gets the most restricted view"
    restricted = restricted.set_index("indicator_id").loc["hyp008"]
    unrounded = unrounded.set_index("indicator_id").loc["hyp008"]
    assert restricted["numerator"] == disclosure.disclose_count(raw["numerator"])
    assert unrounded["numerator"] == raw["numerator"]
    assert raw["numerator"] % 5 != 0 or raw["denominator"] % 5 != 0, "pick data whose rounding shows"


@pytest.mark.parametrize("level", ["borough", "practice"])
def test_funnel_limits_and_outlier_classes_are_the_engines(page, db, period, level):
    figure = page.update_funnel("hyp008", period, level)
    engine = funnel_limits(db, indicator="hyp008", period=period, by=level, disclose=True)
    limit_traces = [t for t in figure.data if t.mode == "lines"]
    upper_998 = next(t for t in limit_traces if t.name == "99.8% limits")
    assert np.allclose(np.asarray(upper_998.y, dtype=float), engine["limits"]["upper_998"].to_numpy(dtype=float))
    shown = engine["points"][~engine["points"]["suppressed"].astype(bool)]
    outside = set(shown.loc[shown["funnel"].isin(["above 99.8", "below 99.8"]), "area_name"])
    drawn_outside = {name for t in figure.data if t.name in ("Above 99.8%", "Below 99.8%") for name in t.hovertext}
    assert drawn_outside == outside
    points = sum(len(t.x) for t in figure.data if t.mode != "lines")
    assert points == len(shown)
    hidden = len(engine["points"]) - len(shown)
    if hidden:  # named as what the points are ("538 practices suppressed"), not "areas"
        assert f"{hidden} {level}{'s' if hidden > 1 else ''} suppressed" in figure.layout.xaxis.title.text
    else:
        assert "suppressed" not in (figure.layout.xaxis.title.text or "")


# ---------------------------------------------------------------- people to target


def test_people_to_target_at_80_percent_agrees_with_the_engine(page, db, period):
    figure, boroughs_table, practices_table, message = page.update_targets(period, None, None, "80")
    assert message is None
    view = page.targets_view(period=period, icb=None, borough=None, ambition="80", disclose=True)
    rows = view["boroughs"].set_index("area_code")
    for indicator in ("hyp008", "hyp009", "hyp_detection_ratio"):
        engine = indicator_values(db, indicator=indicator, period=period, by="borough", disclose=True)
        column = "to_detect_80" if indicator == "hyp_detection_ratio" else f"{indicator}_to_80"
        for _, row in engine.iterrows():
            assert rows.loc[row["area_code"], column] == row["patients_to_target"], (indicator, row["area_name"])
    london = indicator_values(db, indicator="hyp008", period=period, by="london", disclose=True).iloc[0]
    assert view["boroughs"].iloc[0]["hyp008_to_80"] == london["patients_to_target"]
    bars = {t.name: dict(zip(t.y, zip(t.x, t.text, strict=True), strict=True)) for t in figure.data}
    control = bars["More treated to 80% (HYP008 + HYP009)"]
    for _, row in view["boroughs"].iloc[1:].iterrows():
        length, label = control[row["area_name"]]
        if pd.isna(row["control_to_80"]):  # hidden: no bar, the word in its place
            assert (length, label) == (0, "suppressed")
        else:
            assert (length, label) == (row["control_to_80"], "")
    assert "Choose a borough" in str(practices_table)


def test_people_to_target_at_77_percent_from_unrounded_counts(page, db, period, busiest_borough):
    raw = indicator_values(
        db, indicator="hyp008", period=period, by="practice", filters={"borough": [busiest_borough]}, disclose=False
    ).set_index("area_code")
    with acting_as(ANALYST):
        _, _, practices_table, _ = page.update_targets(period, None, busiest_borough, "77")
    view = page.targets_view(period=period, icb=None, borough=busiest_borough, ambition="77", disclose=False)
    practices = view["practices"].set_index("area_code")
    for code, row in raw.iterrows():
        expected = max(math.ceil(round(0.77 * row["denominator"] - row["numerator"], 9)), 0)
        assert practices.loc[code, "hyp008_to_77"] == expected
    assert str(practices_table).count("Tr(") >= len(raw)


# ---------------------------------------------------------------- inequality


def test_inequality_charts_show_the_engines_groups_for_the_selected_borough(page, db, period, busiest_borough):
    outputs = page.update_inequality("hyp008", period, None, busiest_borough)
    assert outputs[-1] is None
    charts = dict(zip(page.INEQUALITY_GRAPHS, outputs[: len(page.INEQUALITY_GRAPHS)], strict=True))
    for dimension, figure in charts.items():
        engine = indicator_values(
            db, indicator="hyp008", period=period, by=dimension, filters={"borough": [busiest_borough]}, disclose=True
        )
        points = plotted(figure, axis="y")
        for _, row in engine.iterrows():
            if row["suppressed"]:
                assert row["area_name"] not in points
            else:
                assert same(points[row["area_name"]], row["value"]), (dimension, row["area_name"])
    age_axis = list(charts["age_band"].layout.xaxis.categoryarray)
    assert age_axis == sorted(age_axis, key=lambda band: int(band.split("-")[0].rstrip("+"))), "ages in age order"


def test_ethnicity_by_deprivation_and_sii_map_are_the_engines(page, db, period):
    intersection = page.update_inequality("hyp008", period, None, None)[len(page.INEQUALITY_GRAPHS)]
    sii_patch, sii_table, built = page.update_sii("hyp008", period)
    assert built is True
    pair = indicator_values(
        db, indicator="hyp008", period=period, by=("ethnicity_group", "imd_quintile"), disclose=True
    )
    for _, row in pair[~pair["suppressed"].astype(bool)].iterrows():
        label = "IMD unknown" if row["subgroup_name"] is None or pd.isna(row["subgroup_name"]) else row["subgroup_name"]
        trace = next(t for t in intersection.data if t.meta == label)  # the legend has short names
        values = dict(zip(trace.x, trace.y, strict=True))
        assert same(values[row["area_name"]], row["value"])
    sii = inequality(db, indicator="hyp008", period=period, disclose=True).set_index("area_code")
    z = patch_value(sii_patch, "data", 0, "z")
    locations = page.sii_view(indicator="hyp008", period=period, disclose=True)["map"].data[0].locations
    for code, value in zip(locations, z, strict=True):
        assert same(value, sii.loc[code, "sii"] if code in sii.index else None), code


# ---------------------------------------------------------------- practices and trend


def test_practices_ranked_in_the_borough_against_london(page, db, period, busiest_borough):
    ranked, map_patch, message, built = page.update_practices("hyp008", period, busiest_borough)
    assert message is None and built is True
    london_wide = indicator_values(db, indicator="hyp008", period=period, by="practice", disclose=True)
    in_borough = indicator_values(
        db, indicator="hyp008", period=period, by="practice", filters={"borough": [busiest_borough]}, disclose=True
    )
    points = plotted(ranked)
    assert set(points) == set(in_borough["area_code"])
    comparison = london_wide.set_index("area_code")["comparison"]
    for trace in ranked.data:
        if trace.name in ("Better than London", "Similar to London", "Worse than London"):
            word = trace.name.split()[0].lower()
            assert all(comparison[code] == word for code in trace.y)
    locations = (
        page.practices_view(indicator="hyp008", period=period, borough=busiest_borough, disclose=True)["map"]
        .data[0]
        .locations
    )
    shown_z = dict(zip(locations, patch_value(map_patch, "data", 0, "z"), strict=True))
    for _, row in london_wide.iterrows():
        if row["area_code"] in shown_z:
            assert same(shown_z[row["area_code"]], None if row["suppressed"] else row["value"])
    assert patch_value(map_patch, "layout", "map", "zoom") > 8.6, "the practice map zooms to the borough"


@pytest.mark.parametrize("level", ["london", "icb", "borough"])
def test_trend_is_the_engines_spc_series(page, db, level, busiest_borough):
    figure, title = page.update_trend("hyp008", level, NORTH_EAST_LONDON, busiest_borough, None)
    filters = {"london": None, "icb": {"icb": [NORTH_EAST_LONDON]}, "borough": {"borough": [busiest_borough]}}[level]
    series = trend(db, indicator="hyp008", filters=filters, disclose=True)
    points = {}
    for t in figure.data:
        if t.mode == "markers":
            points.update(zip(t.text, t.y, strict=True))  # the whole period label (the axis drops shared words)
    for _, row in series.iterrows():
        if not row["suppressed"]:
            assert same(points[row["period_label"]], row["value"])
    centre = next(t for t in figure.data if t.name == "Mean")
    assert same(centre.y[-1], series["centre"].iloc[-1])
    assert title.startswith("Showing: ")


def test_a_narrowed_trend_is_named_after_its_area_not_london(page, db, busiest_borough):
    # The engine sums a borough's or an ICB's rows as "London", with london_value equal to the area's own.
    for level, code in (("icb", NORTH_EAST_LONDON), ("borough", busiest_borough)):
        with acting_as(ANALYST):
            view = page.trend_view(
                indicator="hyp008", level=level, icb=NORTH_EAST_LONDON, borough=busiest_borough, practice=None,
                disclose=True, figures=False,
            )  # fmt: skip
        series = view["series"]
        assert set(series["area_code"]) == {code} and set(series["area_name"]) == {view["area"]} != {"London"}
        assert "london_value" not in series and "comparison" not in series
        engine = trend(db, indicator="hyp008", filters={level: [code]}, disclose=True)
        assert series["value"].tolist() == engine["value"].tolist()
    with acting_as(ANALYST):
        london = page.trend_view(indicator="hyp008", level="london", icb=None, borough=None, practice=None,
                                 disclose=True, figures=False)["series"]  # fmt: skip
    assert set(london["area_name"]) == {"London"} and "london_value" in london


# ---------------------------------------------------------------- exports


def test_every_view_csv_holds_the_numbers_shown(page, db, period, busiest_borough):
    views = [
        "boroughs",
        "icbs",
        "funnel",
        "targets",
        "practice_targets",
        "intersection",
        "sii",
        "practices",
        "trend",
        *[f"inequality_{d}" for d in page.INEQUALITY_GRAPHS],
    ]
    for view in views:
        frame, filename = page.view_csv(
            view=view,
            indicator="hyp008",
            period=period,
            icb=None,
            borough=busiest_borough,
            practice=None,
            funnel_level="borough",
            trend_level="borough",
            disclose=True,
        )
        assert filename.endswith(".csv") and len(frame), view
    boroughs, _ = page.view_csv(
        view="boroughs",
        indicator="hyp008",
        period=period,
        icb=None,
        borough=None,
        practice=None,
        funnel_level="borough",
        trend_level="london",
        disclose=True,
    )
    engine = indicator_values(db, indicator="hyp008", period=period, by="borough", disclose=True)
    assert boroughs["value"].tolist() == engine["value"].tolist()
    counts = pd.to_numeric(boroughs["numerator"], errors="coerce").dropna()
    assert (counts % 5 == 0).all(), "a restricted CSV holds rounded counts only"


def test_a_csv_builds_no_figure_and_gets_the_frames_the_page_shows(page, period, busiest_borough):
    area = {"icb": None, "borough": busiest_borough}
    calls = {
        page.comparison_view: {"indicator": "hyp008", "period": period, "icb": None},
        page.funnel_view: {"indicator": "hyp008", "period": period, "level": "practice"},
        page.targets_view: {"period": period, **area, "ambition": "80"},
        page.inequality_view: {"indicator": "hyp008", "period": period, **area},
        page.practices_view: {"indicator": "hyp008", "period": period, "borough": busiest_borough},
        page.trend_view: {"indicator": "hyp008", "level": "borough", **area, "practice": None},
        page.sii_view: {"indicator": "hyp008", "period": period},
    }
    for view, arguments in calls.items():
        shown = view(**arguments, disclose=True)
        frames = view(**arguments, disclose=True, figures=False)
        assert not any(isinstance(v, go.Figure) for v in frames.values()), view.__name__
        for key, value in frames.items():
            if isinstance(value, pd.DataFrame):
                pd.testing.assert_frame_equal(value, shown[key], obj=f"{view.__name__} {key}")
            elif isinstance(value, dict):
                for name, part in value.items():
                    if isinstance(part, pd.DataFrame):
                        pd.testing.assert_frame_equal(part, shown[key][name], obj=f"{view.__name__} {key} {name}")
            else:
                assert value == shown[key] or (pd.isna(value) and pd.isna(shown[key])), (view.__name__, key)


def test_download_button_sends_the_csv_and_unrounded_exports_are_audited(page, db, period, monkeypatch):
    monkeypatch.setattr(exports, "ctx", type("Ctx", (), {"triggered_id": {"type": page.CSV, "view": "boroughs"}})())
    payload, message = page.download_view([1], "hyp008", period, None, None, None, "borough", "london")
    assert message is None and payload["filename"].endswith("_boroughs.csv")
    rows = csv_rows(payload)
    assert len(rows) == 33
    log = audit.default_log()
    before = len(log.entries(action=audit.VIEW_UNROUNDED))
    with acting_as(ANALYST):
        payload, _ = page.download_view([1], "hyp008", period, None, None, None, "borough", "london")
    raw = indicator_values(db, indicator="hyp008", period=period, by="borough", disclose=False)
    assert csv_rows(payload)["numerator"].tolist() == raw["numerator"].tolist()
    entries = log.entries(action=audit.VIEW_UNROUNDED)
    assert len(entries) == before + 1 and entries[0].username == "analyst.test" and entries[0].row_count == 33


def test_board_paper_csv_has_every_indicator_side_by_side_with_the_icb_first(page, db, period):
    payload, message = page.export_comparison(1, period, NORTH_EAST_LONDON)
    assert message is None
    rows = csv_rows(payload)
    assert rows.iloc[0]["area_name"] == "London" and len(rows) == 34
    own = set(db.frame("SELECT borough_code FROM ref_boroughs WHERE icb_code = ?", [NORTH_EAST_LONDON])["borough_code"])
    assert set(rows.iloc[1 : 1 + len(own)]["area_code"]) == own
    for indicator in page.hq.HYPERTENSION_INDICATORS:
        engine = indicator_values(db, indicator=indicator, period=period, by="borough", disclose=True)
        shown = rows.set_index("area_code")[f"{indicator}_value"]
        for _, row in engine.iterrows():
            assert same(None if pd.isna(shown[row["area_code"]]) else shown[row["area_code"]], row["value"])
    assert (rows["period_id"] == period).all()


# ---------------------------------------------------------------- layout


def test_layout_reads_the_url_and_ignores_garbage(page, period):
    tree = page.layout(indicator="hyp009", icb=NORTH_EAST_LONDON, borough="E09000002", tab="inequality")
    text = str(tree)
    assert "'hyp009'" in text and "'inequality'" in text
    assert link_warning(tree) is None
    garbage = page.layout(indicator="'; DROP TABLE x", period="nope", icb="E99", borough="x", practice="F84003")
    chosen = {c.id: c.value for c in find(garbage, lambda c: getattr(c, "id", None) in (page.INDICATOR, page.PERIOD))}
    assert chosen == {page.INDICATOR: "hyp008", page.PERIOD: period}
    warning = link_warning(garbage)
    for named in ("indicator '; DROP TABLE x", "period nope", "ICB E99", "borough x", "practice F84003 (a practice"):
        assert named in warning, named
    # A borough of another ICB than the one linked, and a practice of another borough, are named too.
    elsewhere = page.layout(icb=NORTH_EAST_LONDON, borough=BARNET, tab="practices")
    assert f"borough {BARNET} (not in the linked ICB)" in link_warning(elsewhere)
    assert "practice E83003 (not in the linked borough)" in link_warning(
        page.layout(borough="E09000002", practice="E83003")
    )
    assert link_warning(page.layout(borough=BARNET, practice="E83003")) is None


def test_first_load_asks_the_server_for_the_shown_view_alone(page):
    """Every hypertension callback waits for a change or for its view to be opened: on the first draw the
    layout already holds the lists, the rule card and the trend's level, and hidden views send nothing.

    Eleven callbacks fired at once on the first draw (five of them for hidden views, which answered
    nothing, and three that re-sent what the layout held and then set off the trend a step later).
    """
    waits = {page.TREND: "practices", page.FUNNEL: "comparison", page.TARGET_CHART: "targets"}
    assert first_draw_problems("hyp-", {o: page.view_opened(page.VIEWS, v) for o, v in waits.items()}) == []


def test_the_layout_holds_what_the_first_draw_shows_without_a_callback(page):
    """The rule card, the borough's practices and the trend's level come with the page (no callback fires)."""
    tree = page.layout(icb=NORTH_EAST_LONDON, tab="practices")
    values = {c.id: c.value for c in find(tree, lambda c: getattr(c, "id", None) == page.TREND_LEVEL)}
    assert values == {page.TREND_LEVEL: "icb"}, "an ICB chosen: its trend, as when the ICB is picked"
    rule = find(tree, lambda c: getattr(c, "id", None) == page.RULE)[0]
    assert "HYP008" in str(rule.children)
    chosen = page.layout(borough=BARNET, practice="E83003", tab="practices")
    practice = find(chosen, lambda c: getattr(c, "id", None) == page.PRACTICE)[0]
    assert practice.value == "E83003" and len(practice.options) > 2
    assert {c.value for c in find(chosen, lambda c: getattr(c, "id", None) == page.TREND_LEVEL)} == {"practice"}


def test_layout_without_a_database_says_so(page, monkeypatch, tmp_path):
    monkeypatch.setenv("PATHFINDER_DB", str(tmp_path / "missing.duckdb"))
    tree = page.layout()
    assert "Data unavailable" in str(tree) and "make data" in str(tree)
    assert page.update_comparison("hyp008", None, None)[-1] is not None


def test_hidden_views_wait_and_maps_send_their_geometry_once(page, period):
    from dash.exceptions import PreventUpdate

    with pytest.raises(PreventUpdate):
        page.update_inequality("hyp008", period, None, None, "comparison")
    with pytest.raises(PreventUpdate):
        page.update_targets(period, None, None, "80", "inequality")
    first = page.update_sii("hyp008", period, "inequality", False)[0]
    assert first.data[0].geojson == "/geometry/borough.geojson", "the first answer points at the boundaries"
    later = page.update_sii("hyp008", period, "inequality", True)[0]
    assert "geojson" not in str(later.to_plotly_json()), "a recolour never resends the geometry"
    practice_first = page.update_practices("hyp008", period, None, "practices", False)[1]
    assert practice_first.data[0].geojson == "/geometry/practice.geojson"
    assert len(practice_first.data[0].locations) > 1000


def test_kpi_cards_show_the_estimated_number_undiagnosed_disclosed_from_the_exact_difference(page, db, period):
    *_, cards, _, _ = page.update_comparison("hyp_detection_ratio", period, NORTH_EAST_LONDON)
    raw = indicator_values(
        db, indicator="hyp_detection_ratio", period=period, filters={"icb": [NORTH_EAST_LONDON]}, disclose=False
    ).iloc[0]
    expected = disclosure.disclose_count(max(raw["denominator"] - raw["numerator"], 0))
    assert "Adults estimated undiagnosed" in str(cards)
    assert f"{expected:,.0f}" in str(cards)
    with acting_as(ANALYST):
        exact = page.hq.estimated_undiagnosed(db, period=period, filters={"icb": [NORTH_EAST_LONDON]}, disclose=False)
    assert exact["estimated_undiagnosed"] == raw["denominator"] - raw["numerator"]


def test_a_stopped_query_says_why_instead_of_duckdbs_words(page, period, monkeypatch):
    """Most queries run on a cursor: a timeout reached the page as "INTERRUPT Error: Interrupted!"."""
    import duckdb

    def interrupted(*_args, **_kwargs):
        raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")

    monkeypatch.setattr(page, "indicator_values", interrupted)
    *_, message = page.update_comparison("hyp008", period, None)
    text = str(message)
    assert "took longer than" in text and "was stopped" in text and "INTERRUPT" not in text
