"""Layout pieces: KPI cards, sortable tables, CSV downloads, loading panels, and the client-side URL callbacks."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from dash import html
from plotly.utils import PlotlyJSONEncoder

from components import layout
from components.navigation import CARRIED_BETWEEN_PAGES, NAV_LINK_TYPE, PAGE_URL_STATE_TYPE


def texts(component) -> list[str]:
    """Every string in a component tree, in order."""
    found = []
    children = getattr(component, "children", component)
    for child in children if isinstance(children, list | tuple) else [children]:
        if isinstance(child, str):
            found.append(child)
        elif hasattr(child, "to_plotly_json"):
            found.extend(texts(child))
    return found


def test_kpi_card_shows_value_ci_target_gap_and_direction():
    card = layout.kpi_card(
        label="MMR1",
        value=88.2,
        ci_low=86.0,
        ci_high=90.1,
        target=95.0,
        previous_value=90.0,
        comparison="worse",
    )
    words = " ".join(texts(card))
    assert "88.2%" in words and "95% CI 86.0% to 90.1%" in words
    assert "Target 95.0%: not met" in words
    assert "down 1.8 points since last period" in words and "Worse than London" in words
    assert "change-worse" in json.dumps(card, cls=PlotlyJSONEncoder)


def test_kpi_card_direction_follows_polarity_and_target_met():
    card = layout.kpi_card(label="SABA", value=10.0, target=12.0, previous_value=12.0, polarity="low")
    words = " ".join(texts(card))
    assert "Target 12.0%: met" in words and "down 2.0 points" in words
    assert "change-better" in json.dumps(card, cls=PlotlyJSONEncoder)


def test_kpi_card_says_suppressed_never_zero():
    words = " ".join(texts(layout.kpi_card(label="x", value=float("nan"), target=95.0)))
    assert "Suppressed" in words and "0" not in words.replace("Fewer than 8", "")


def test_sortable_table_marks_suppressed_cells_and_sorts_natively():
    frame = pd.DataFrame(
        {
            "area_name": ["A", "B"],
            "value": [80.25, np.nan],
            "denominator": [1200.0, np.nan],
            "suppressed": [False, True],
        }
    )
    panel = layout.sortable_table(
        frame,
        columns={"area_name": "Area", "value": "Coverage (%)", "denominator": "Children"},
        caption="By area",
        table_id="t",
    )
    table = panel.children[1]
    assert table.sort_action == "native" and table.data[1] == {
        "area_name": "B",
        "value": "suppressed",
        "denominator": "suppressed",
    }
    formats = {c["id"]: c.get("format", {}).get("specifier") for c in table.columns}
    assert formats == {"area_name": None, "value": ",.1f", "denominator": ",.0f"}
    # Names and headings wrap in the page's font (one line each pushed the GP table's last columns off a
    # 1280 px screen), with room kept for the naming column.
    assert table.style_cell["whiteSpace"] == "normal" and table.style_header["whiteSpace"] == "normal"
    assert "monospace" not in table.style_cell["fontFamily"] and table.style_cell["fontFamily"] != "inherit"
    assert table.style_cell_conditional == [{"if": {"column_id": "area_name"}, "minWidth": "9rem"}]


def test_sortable_table_gives_comparator_values_the_units_decimals():
    # The GP view's practice, PCN and borough columns were formatted as counts: 94.7 % read "95" beside
    # "children short of 95 %: suppressed".
    # The deprivation-gap table's SII (points) read "4" for 4.4.
    frame = pd.DataFrame(
        {"title": ["MMR1"], "practice_value": [94.737], "pcn_value": [88.4], "sii": [4.4], "children": [20.0]}
    )
    columns = {"title": "Vaccine", "practice_value": "Practice %", "pcn_value": "PCN %", "sii": "SII", "children": "N"}
    table = layout.sortable_table(frame, columns=columns, caption="Every vaccine", table_id="t").children[1]
    formats = {c["id"]: c.get("format", {}).get("specifier") for c in table.columns}
    assert formats == {"title": None, "practice_value": ",.1f", "pcn_value": ",.1f", "sii": ",.1f", "children": ",.0f"}


def test_csv_download_is_exactly_the_frame_shown_with_suppressed_blank():
    frame = pd.DataFrame({"area_name": ["A", "=HYPERLINK()"], "value": [80.0, np.nan], "suppressed": [False, True]})
    payload = layout.csv_download(frame, filename="MMR1 by borough", columns={"area_name": "Area", "value": "Value"})
    assert payload["filename"] == "MMR1-by-borough.csv"
    assert payload["base64"] is False
    assert payload["content"].splitlines() == [
        '"Area","Value","suppressed"',
        '"A",80,"False"',
        '"\'=HYPERLINK()",,"True"',
    ]


@pytest.mark.parametrize("dtype", ["str", object], ids=["string dtype", "object"])
def test_csv_download_quotes_every_cell_a_spreadsheet_would_run_as_a_formula(dtype):
    cells = ["=SUM(A1)", "+44 20", "-1", "@cmd", "plain", "a=b", None, "'=already"]
    frame = pd.DataFrame({"name": pd.Series(cells, dtype=dtype), "n": range(len(cells))})
    lines = layout.csv_download(frame, filename="list")["content"].splitlines()
    assert [line.rsplit(",", 1)[0] for line in lines[1:]] == [
        '"\'=SUM(A1)"',
        '"\'+44 20"',
        '"\'-1"',
        '"\'@cmd"',
        '"plain"',
        '"a=b"',
        "",
        '"\'=already"',
    ]


def test_csv_download_quotes_a_formula_behind_a_tab_or_carriage_return():
    """OWASP's list of formula starts has tab and carriage return too: a spreadsheet skips either and runs
    the formula behind it."""
    frame = pd.DataFrame({"name": ["\t=HYPERLINK()", "\r=1+1", "a\tb"]})
    content = layout.csv_download(frame, filename="list")["content"]
    assert [row[0] for row in csv.reader(io.StringIO(content, newline=""))][1:] == [
        "'\t=HYPERLINK()",
        "'\r=1+1",
        "a\tb",
    ]


def test_csv_text_reads_back_as_the_frame():
    frame = pd.DataFrame(
        {
            "name": pd.Series(['He said "no", twice', "line\nbreak", None], dtype="str"),
            "rate": [0.1 + 0.2, np.nan, 1e-7],
            "count": pd.array([5, None, 10], dtype="Int64"),
            "mixed": [1, "x", 2.5],  # an object column: numbers are written as text
        }
    )
    back = pd.read_csv(io.StringIO(layout.csv_text(frame)), keep_default_na=False, na_values=[""])
    assert back["name"].tolist()[:2] == ['He said "no", twice', "line\nbreak"] and pd.isna(back["name"][2])
    assert back["rate"].tolist()[0] == 0.1 + 0.2 and pd.isna(back["rate"][1]) and back["rate"][2] == 1e-7
    assert back["count"].tolist()[0] == 5 and pd.isna(back["count"][1])
    assert back["mixed"].astype(str).tolist() == ["1", "x", "2.5"]


def test_csv_text_writes_dates_as_dates_and_times_only_where_there_are_times():
    frame = pd.DataFrame(
        {
            "day": pd.to_datetime(["2026-10-31", None]),
            "moment": pd.to_datetime(["2026-10-31 09:30", "2026-11-01 00:00"]),
            "same": [1, 2],
        }
    )
    frame.columns = ["day", "moment", "day"]  # a repeated heading is kept, not merged
    assert layout.csv_text(frame).splitlines() == [
        '"day","moment","day"',
        "2026-10-31,2026-10-31 09:30:00,1",
        ",2026-11-01 00:00:00,2",
    ]


def test_figure_panel_wraps_the_graph_in_a_loading_state_with_a_download():
    panel = layout.figure_panel(go.Figure(), graph_id="g", download_id="g-csv", caption="Cap", description="Desc")
    dumped = json.dumps(panel, cls=PlotlyJSONEncoder)
    assert '"type": "Loading"' in dumped and '"g-csv-button"' in dumped and '"type": "Download"' in dumped
    assert '"aria-describedby": "g-description"' in dumped


def test_map_panel_has_the_table_one_click_away():
    frame = pd.DataFrame({"area_name": ["A"], "value": [1.0]})
    panel = layout.map_panel(go.Figure(), frame, map_id="m", table_id="t", columns={"area_name": "Area"}, caption="c")
    switch_group, map_pane, table_pane, *_opened = panel.children
    switch = switch_group.children
    assert [option["label"] for option in switch.options] == ["Map", "Table"]
    assert switch.value == "map"
    # The map shows first; the table is in the page, hidden until its radio is chosen.
    assert map_pane.style is None and table_pane.style == {"display": "none"}
    assert table_pane.id["view"] == "table"


def test_a_page_view_switch_exposes_its_value_and_keeps_the_page_look():
    views = {"areas": ("Areas", html.P("a")), "trend": ("Trend", html.P("t"))}
    page_switch = layout.view_switch(key="p-views", views=views, initial="trend", look="page")
    group, areas, trend, *opened = page_switch.children
    radios = group.children
    # The id a page's callbacks read to build only the view shown.
    assert radios.id == layout.view_switch_value("p-views") == {"type": layout.VIEW_SWITCH_TYPE, "index": "p-views"}
    assert radios.value == "trend" and areas.style == {"display": "none"} and trend.style is None
    assert (radios.className, radios.labelClassName) == ("btn-group flex-wrap", "btn btn-outline-secondary")
    assert group.role == "group" and group.className == "mb-2" and getattr(group, "aria-label") == "Views"
    panel = layout.view_switch(key="m", views=views, initial="areas")
    assert panel.children[0].children.labelClassName == "btn btn-outline-primary btn-sm"
    # One "opened" store a view, for callbacks that build a view only once it is shown.
    assert [store.id for store in opened] == [layout.view_opened("p-views", v) for v in ("areas", "trend")]


def test_only_the_shown_view_is_stamped_opened_so_hidden_views_cost_no_round_trip():
    from app import app
    from security.testing import sign_in

    client = app.server.test_client()
    sign_in(client, "demo.commissioner")
    switch = next(
        d
        for d in client.get("/_dash-dependencies").get_json()
        if layout.VIEW_PANE_TYPE in d["output"] and layout.VIEW_OPENED_TYPE in d["output"]
    )
    assert switch["clientside_function"] is not None, "switching views costs no round trip"
    script = json.dumps(app._inline_scripts)
    assert "no_update" in script and "Date.now()" in script


def test_url_and_navigation_callbacks_are_registered_client_side():
    # Module-level dash.clientside_callback registrations go to the first Dash app made in
    # the process, so check the real app (signed in) rather than a throw-away one.
    from app import app
    from security.testing import sign_in

    client = app.server.test_client()
    sign_in(client, "demo.commissioner")
    dependencies = client.get("/_dash-dependencies").get_json()
    outputs = {d["output"]: d for d in dependencies}
    syncs = [d for key, d in outputs.items() if PAGE_URL_STATE_TYPE in key]
    assert len(syncs) == len(CARRIED_BETWEEN_PAGES), "each page whose links carry a value writes its address there"
    assert all(d["clientside_function"] is not None for d in syncs)
    assert "replaceState" in json.dumps(app._inline_scripts)
    navigation = next(d for key, d in outputs.items() if NAV_LINK_TYPE in key and "href" in key and "active" in key)
    assert navigation["clientside_function"] is not None
    assert any(PAGE_URL_STATE_TYPE in json.dumps(i["id"]) for i in navigation["inputs"])


def test_area_table_is_sorted_text_with_suppressed_cells_named():
    values = pd.DataFrame(
        {
            "area_code": ["E2", "E1"],
            "area_name": ["Barnet", "Alpha"],
            "value": [71.25, None],
            "ci_low": [70.0, None],
            "ci_high": [72.5, None],
            "numerator": [1425.0, None],
            "denominator": [2000.0, None],
            "comparison": ["worse", "not compared"],
        }
    )
    table = layout.area_table(values, unit="percent", area_label="Borough")
    assert list(table.columns) == [
        "Borough",
        "Code",
        "Value",
        "95% CI",
        "Numerator",
        "Denominator",
        "Compared with London",
    ]
    assert table.iloc[0].tolist() == ["Alpha", "E1", *["suppressed"] * 4, "Not compared"]
    assert table.iloc[1, 2:].tolist() == ["71.2%", "70.0% to 72.5%", "1,425", "2,000", "Worse than London"]
    assert "Code" not in layout.area_table(values, unit="percent", codes=False)


def test_the_footer_says_synthetic_only_over_synthetic_data():
    """It said "All patient data shown is synthetic" over any database, a real extract's too (code review)."""
    from components.layout import EXTRACT_NOTE, SYNTHETIC_NOTE, footer

    def text(source):
        return str(footer(source).to_plotly_json())

    assert SYNTHETIC_NOTE in text("synthetic") and EXTRACT_NOTE not in text("synthetic")
    assert EXTRACT_NOTE in text("extract") and "synthetic" not in text("extract")
    assert "synthetic" not in text(None) and "Open Government Licence" in text(None)


def test_the_indicator_card_names_its_sources_in_words_with_the_tags_as_tooltips():
    from queries.registry import get

    card = layout.indicator_card(get("hyp008"), card_id="rule")
    text = str(card)
    spans = [c for c in _walk(card) if isinstance(c, html.Span) and getattr(c, "title", None)]
    visible = " ".join(str(c.children) for c in _walk(card) if isinstance(getattr(c, "children", None), str))
    assert "[PCIT-HP387]" not in visible and "[?]" not in text
    assert "Primary Care IT, HYP008/HYP009 searches (HP387)" in text
    assert spans[0].title == "[PCIT-HP387] in the specification's list of sources"
    assert "Described in §2.2 of the clinical indicator specification." in text
    assert "National ambition: 80% of those diagnosed treated to target by 2029" in text
    (target_line,) = [c for c in _walk(card) if isinstance(c, html.P) and "National ambition" in str(c.children)]
    assert target_line.children[0].children == "Target: ", "the word the KPI cards and charts use"


def test_the_indicator_cards_definition_is_folded_under_a_toggle_that_says_what_it_holds():
    """Open, the definition took most of a phone's first screen before any figure."""
    from queries.registry import get

    card = layout.indicator_card(get("hyp008"), card_id="rule")
    (definition,) = [c for c in _walk(card) if isinstance(c, html.Details)]
    assert not getattr(definition, "open", None), "folded until the reader asks"
    summary = definition.children[0]
    assert isinstance(summary, html.Summary) and summary.children == "How this is counted"
    assert "Out of: " in str(definition) and "QOF business rules" in str(card.children.children[1])


def test_another_indicator_replaces_the_cards_text_but_never_its_toggle():
    """A new card at each indicator change closed a definition the reader had opened."""
    from queries.registry import get

    card = layout.indicator_card(get("hyp008"), card_id="rule")
    outputs = layout.indicator_card_outputs("rule")
    by_id = {c.id: c for c in _walk(card) if getattr(c, "id", None)}
    assert [o.component_id for o in outputs] == ["rule-title", "rule-rule-version", "rule-definition"]
    assert all(o.component_id in by_id for o in outputs), "each output is a part of the card"
    (toggle,) = [c for c in _walk(card) if isinstance(c, html.Details)]
    assert by_id["rule-definition"] in toggle.children, "the definition is inside the toggle, which stays"
    assert not [o for o in outputs if o.component_id == getattr(toggle, "id", None)]
    title, rule, definition = layout.indicator_card_parts(get("hyp009"))
    assert "HYP009" in title and "150/90" in str(definition) and "QOF business rules" in str(rule)
    assert [str(p) for p in layout.indicator_card_parts(get("hyp008"))] == [
        str(by_id[o.component_id].children) for o in outputs
    ], "the layout and the callback draw the same text"


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from _walk(child)
