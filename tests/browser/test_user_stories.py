"""The users' journeys, driven as they would drive them: download what a chart shows, the commissioner's
borough comparison and the polio responder's cohort export.

The immunisation filters, shared links, map levels and the GP team's practice view are driven in
test_immunisation_flow.py.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from security.audit import EXPORT_PATIENT_ROWS, audit_log_at
from tests.browser import harness

pytestmark = pytest.mark.browser

REFERENCE = harness.PROJECT_ROOT / "data" / "reference"
MAP_TRACES = """selector => document.querySelector(selector + ' .js-plotly-plot')._fullData.map(trace => ({
    type: trace.type,
    locations: trace.locations ? Array.from(trace.locations) : null,
    z: trace.z ? Array.from(trace.z, v => (Number.isFinite(v) ? v : null)) : null,
}))"""


def choose(page, control_id: str, option: str) -> None:
    """Pick ``option`` as a user does, in a native select or a Dash dropdown (open it, click the option)."""
    control = page.locator(f"#{control_id}")
    if control.evaluate("element => element.tagName") == "SELECT":
        control.select_option(label=option)
        return
    control.click()
    page.get_by_role("option", name=option, exact=True).click()


def downloaded_csv(page, button) -> tuple[str, list[dict]]:
    """Click ``button``, wait for the browser's download, and return its file name and rows."""
    with page.expect_download() as download:
        button.click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    return download.value.suggested_filename, list(csv.DictReader(io.StringIO(text)))


def assert_clean(*recorders: harness.Recorder) -> None:
    for recorder in recorders:
        assert not recorder.problems(), recorder.describe_problems()
        assert recorder.off_origin_requests() == []


def test_map_csv_holds_what_the_map_shows(recorded_page, app_server):
    page, recorder = recorded_page(app_server)
    harness.open_page(page, app_server.url("/immunisation"), recorder)
    name, rows = downloaded_csv(page, page.locator(".map-card").get_by_role("button", name="Download CSV"))
    assert name.endswith(".csv") and rows

    areas = page.evaluate(MAP_TRACES, "#imm-map")[0]
    shown = dict(zip(areas["locations"], areas["z"], strict=True))
    for row in rows:
        assert row["area_code"] in shown, f"{row['area_code']} is in the CSV but not on the map"
        if row["suppressed"] == "True":
            assert row["value"] == "" and shown[row["area_code"]] is None, f"suppressed {row} has a value"
        else:
            assert math.isclose(float(row["value"]), shown[row["area_code"]], rel_tol=1e-4), row
    coloured = {code for code, value in shown.items() if value is not None}
    assert coloured <= {row["area_code"] for row in rows}, "an area coloured on the map is missing from the CSV"
    assert_clean(recorder)


def test_polio_responder_finds_their_cohort_and_exports_it(recorded_page, app_server):
    """The campaign responder (Hackney) finds under-vaccinated children, exports the list, and it is audited."""
    practices = pd.read_csv(REFERENCE / "practices.csv").set_index("practice_code")["borough_code"]
    hackney = "E09000012"
    page, recorder = recorded_page(app_server, user="demo.campaign")
    harness.open_page(page, app_server.url("/immunisation/cohort"), recorder)
    page.get_by_role("button", name="Find children").click()
    page.locator("#imm-cohort-list-note").filter(has_text="children").wait_for()
    harness.wait_until_settled(page, recorder)

    note = page.locator("#imm-cohort-list-note").inner_text()
    assert hackney in note or "Hackney" in note, f"the list does not say whose scope it is: {note!r}"
    listed = page.locator("#imm-cohort-list tbody tr").count()
    assert listed > 1, "no children listed at all: the story cannot be checked"

    name, rows = downloaded_csv(page, page.get_by_role("button", name="Export the list (CSV)"))
    assert name.endswith(".csv") and rows
    outside = sorted({r["practice_code"] for r in rows if practices.get(r["practice_code"]) != hackney})
    assert not outside, f"the export holds children registered outside Hackney: {outside}"
    assert all(r["missing"] for r in rows), "every child exported should be missing a dose"

    exports = audit_log_at(app_server.audit_dir).entries(username="demo.campaign", action=EXPORT_PATIENT_ROWS)
    assert exports, "the export was not recorded in the audit log"
    assert exports[0].row_count == len(rows)
    harness.save_screenshot(page, "story-polio-cohort", "desktop")
    assert_clean(recorder)


def test_polio_responders_typed_filters_stay_in_the_link(recorded_page, app_server):
    """Typed practice codes and ages reach the address bar, so a reload or a shared link keeps them.

    The practice box gives text, not a list: the address-bar script failed on it ("v.join is not a
    function"), and from then on the link kept the old filters.
    """
    page, recorder = recorded_page(app_server, user="demo.campaign")
    harness.open_page(page, app_server.url("/immunisation/cohort?practice=F83053"), recorder)
    page.locator("#imm-cohort-age-min").fill("3")
    page.locator("#imm-cohort-age-max").fill("5")
    page.locator("#imm-cohort-practice").fill("F83053, F84003")
    page.wait_for_function("() => window.location.search.includes('age=3-5')")
    query = parse_qs(urlsplit(page.url).query)
    assert query["practice"] == ["F83053, F84003"] and query["age"] == ["3-5"]

    harness.open_page(page, page.url, recorder)  # a reload, or the link opened by a colleague
    assert page.locator("#imm-cohort-practice").input_value() == "F83053, F84003"
    ages = page.locator("#imm-cohort-age-min").input_value(), page.locator("#imm-cohort-age-max").input_value()
    assert ages == ("3", "5")
    assert_clean(recorder)


def test_commissioner_compares_boroughs_and_takes_the_board_paper_csv(recorded_page, app_server):
    """The commissioner's story: every borough ranked with intervals, then the ICB's own board-paper CSV."""
    boroughs = pd.read_csv(REFERENCE / "boroughs.csv")
    icbs = pd.read_csv(REFERENCE / "icbs.csv").set_index("icb_short_name")["icb_code"]
    page, recorder = recorded_page(app_server)
    harness.open_page(page, app_server.url("/hypertension"), recorder)

    ranked = page.evaluate(
        "() => document.querySelector('#hyp-borough-ranked .js-plotly-plot')._fullData.flatMap(t => Array.from(t.y))"
    )
    assert sorted(ranked) == sorted(boroughs["borough_code"]), "the ranked chart should place every borough once"

    choose(page, "hyp-icb", "North East London")
    harness.wait_until_settled(page, recorder)
    icb = icbs["North East London"]
    assert parse_qs(urlsplit(page.url).query).get("icb") == [icb]

    button = page.get_by_role("button", name="Download borough comparison (all hypertension indicators)")
    name, rows = downloaded_csv(page, button)
    assert name.endswith(".csv")
    codes = [row["area_code"] for row in rows]
    assert set(boroughs["borough_code"]) <= set(codes), "the board paper should cover every borough"
    own = set(boroughs.loc[boroughs["icb_code"] == icb, "borough_code"])
    assert rows[0]["area_name"] == "London"
    assert set(codes[1 : 1 + len(own)]) == own, "the chosen ICB's boroughs should come first, after London"
    harness.save_screenshot(page, "story-commissioner-hypertension", "desktop")
    assert_clean(recorder)
