"""The cohort finder's maps: a recolour built from the traces alone is the patch of the whole figure."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from plotly.utils import PlotlyJSONEncoder

from components.maps import map_patch
from queries import immunisation_cohort as cohort
from queries.db import get_database
from tests.integration.app_pages import app_pages


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
