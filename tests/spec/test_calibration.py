"""The synthetic London against published headline figures (runs on the shared small_db fixture).

The calibration target is every headline within ±2 percentage points of the published
figure at the default scale and seed (``python -m queries.cli calibrate``; see
docs/calibration.md). small_db is a quarter of that scale, so its London values carry
sampling noise; here a headline passes when it is within 2 pp plus the half-width of
its own 95 % interval. A generator that is off target still fails, by name.
"""

from __future__ import annotations

import duckdb
import pytest

from queries import calibrate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def con(small_db):
    connection = duckdb.connect(str(small_db), read_only=True)
    yield connection
    connection.close()


def test_at_least_twelve_headlines_across_four_pathfinders():
    from queries.registry import get

    assert len(calibrate.HEADLINES) >= 12
    assert {get(h.indicator_id).pathfinder for h in calibrate.HEADLINES} == {
        "immunisation",
        "hypertension",
        "asthma",
        "cancer",
    }


def test_headlines_within_tolerance(con):
    table = calibrate.headline_table(con)
    allowed = calibrate.TOLERANCE_PP + table["ci95_half_width"]
    off = table[table["difference_pp"].abs() > allowed]
    assert off.empty, "off target:\n" + off[
        ["indicator_id", "published", "synthetic", "difference_pp", "ci95_half_width"]
    ].to_string(index=False)


def test_deprivation_gradients_have_the_published_direction(con):
    # A wrong sign fails unless the data are too few to tell (small_db has ~100 staged tumours a year):
    # below 1,000 in the denominator only a significantly wrong slope fails.
    table = calibrate.gradient_table(con)
    wrong = table[~table["direction_ok"] & (table["significant"] | (table["denominator"] >= 1000))]
    assert wrong.empty, "wrong direction:\n" + wrong.to_string(index=False)
