"""The cohort finder's maps: a recolour built from the traces alone is the patch of the whole figure."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from plotly.utils import PlotlyJSONEncoder

from components.maps import map_patch
from queries import immunisation_cohort as cohort
from queries.db import get_database
from tests.integration.app_pages import app_pages, find


@pytest.fixture(scope="module")
def finder(small_db, tmp_path_factory):
    with app_pages(small_db, tmp_path_factory.mktemp("audit"), "immunisation_cohort") as modules:
        yield modules[0]


def assignments(patch) -> dict:
    """What the patch sets, by location (the order of the assignments does not matter to the browser)."""
    operations = json.loads(json.dumps(patch.to_plotly_json(), cls=PlotlyJSONEncoder))["operations"]
    assert all(op["operation"] == "Assign" for op in operations)
    return {tuple(op["location"]): op["params"]["value"] for op in operations}


@pytest.mark.parametrize("disclose", [True, False])
@pytest.mark.parametrize("ages", [(1, 9), (0, 0)])
def test_recolour_equals_the_patch_of_the_whole_map(finder, small_db, disclose, ages):
    criteria = cohort.CohortCriteria(as_at=dt.date(2026, 10, 31), age_min=ages[0], age_max=ages[1])
    summary = cohort.cohort_summary(get_database(small_db), criteria=criteria, disclose=disclose)
    for level, frame in (
        ("lsoa", summary.by_lsoa[summary.by_lsoa["area_code"] != "unknown"]),
        ("practice", summary.by_practice),
    ):
        whole = finder._map(level, frame, drawn=False)
        assert whole.data[0].zmin == 0 and whole.data[0].geojson
        assert assignments(finder._map(level, frame, drawn=True)) == assignments(map_patch(whole))


def test_the_page_draws_the_maps_and_searches_recolour_them(finder, small_db):
    """Geometry, names and layers come with the page; the first search already sends only a patch."""
    tree = finder.layout()
    graphs = {c.id: c.figure for c in find(tree, lambda c: getattr(c, "id", None) in (finder.LSOA_MAP_ID,))}
    blank = graphs[finder.LSOA_MAP_ID]
    areas = cohort.map_areas(get_database(small_db), "lsoa").set_index("area_code")["area_name"]
    trace = blank["data"][0]
    named = dict(zip(trace["locations"], trace["text"], strict=True))
    assert {code: named[code] for code in areas.index if code in named} == {
        code: name for code, name in areas.items() if code in named
    }
    assert len(named) > 0 and trace["geojson"]
    (store,) = find(tree, lambda c: getattr(c, "id", None) == finder.MAPS_SHOWN_ID)
    assert store.data is True
    controls = ("2026-10-31", 1, 9, list(cohort.MISSING_DOSES), "any", None, None, None, [], [], None)
    _, lsoa_map, practice_map, shown, *_, problem = finder.find_cohort(1, *controls, store.data)
    assert problem is None and shown is True
    assert type(lsoa_map).__name__ == type(practice_map).__name__ == "Patch"


def test_disclosed_breakdowns_are_ordered_by_what_they_show(small_db):
    """Largest shown count first, then by name, suppressed areas last: the exact counts' order, kept in the
    summary CSV, told suppressed areas and areas rounded to the same count apart."""
    criteria = cohort.CohortCriteria(as_at=dt.date(2026, 10, 31), age_min=1, age_max=2)
    summary = cohort.cohort_summary(get_database(small_db), criteria=criteria, disclose=True)
    flags = []
    for frame in (summary.by_borough, summary.by_practice, summary.by_lsoa):
        shown = [(-(count or -1), name) for count, name in zip(frame["children"], frame["area_name"], strict=True)]
        assert shown == sorted(shown)
        flags += list(frame["suppressed"])
    assert any(flags) and not all(flags)  # both kinds of row were ordered


@pytest.mark.parametrize("disclose", [True, False])
def test_the_summary_csv_writes_counts_as_whole_numbers(finder, small_db, disclose):
    """Counts came out as "70.0"; a suppressed one is empty beside its flag, never 0."""
    criteria = cohort.CohortCriteria(as_at=dt.date(2026, 10, 31), age_min=1, age_max=9)
    summary = cohort.cohort_summary(get_database(small_db), criteria=criteria, disclose=disclose)
    text = finder.summary_frames(summary, criteria).to_csv(index=False)
    rows = [line.split(",") for line in text.splitlines()[1:]]
    counts = [row[-2] for row in rows]
    assert all(count.isdigit() for count, row in zip(counts, rows, strict=True) if row[-1] == "False")
    assert all(count == "" for count, row in zip(counts, rows, strict=True) if row[-1] == "True")
    assert any(row[-1] == "False" for row in rows)


def test_a_search_moves_the_maps_to_its_boroughs(finder):
    """Hackney's children were a speck on a map of all London; a GP's practice, a grey London with 3 dots."""
    from components.geometry import bounds_view, london_view, widened

    barnet = widened(bounds_view("borough", ["E09000003"]), 0.25)  # with a margin: children live beyond its edge
    for practices, boroughs, view, revision in (
        ("E83003", [], barnet, "cohort-maps-E09000003"),  # a practice: its borough
        (None, ["E09000003"], barnet, "cohort-maps-E09000003"),
        (None, [], london_view(), "cohort-maps-london"),
    ):
        controls = ("2026-10-31", 1, 9, list(cohort.MISSING_DOSES), "any", boroughs, None, practices, [], [], None)
        _, lsoa_map, practice_map, *_ = finder.find_cohort(1, *controls, True)
        for patch in (lsoa_map, practice_map):
            moved = assignments(patch)
            assert moved[("layout", "map", "center")] == view["center"]
            assert moved[("layout", "map", "zoom")] == view["zoom"]
            assert moved[("layout", "meta")] == {"fit_bounds": view["fit_bounds"]}
            assert moved[("layout", "uirevision")] == revision
