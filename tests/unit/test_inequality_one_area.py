"""``inequality`` for one area (the immunisation page's SII panel) equals that area's row of the full call."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from queries.indicators import default_period, inequality

INDICATOR = "cover_24m_mmr1"


@pytest.fixture(scope="module")
def full(small_db):
    con = duckdb.connect(str(small_db), read_only=True)
    period = default_period(con, INDICATOR)
    yield con, period, inequality(con, indicator=INDICATOR, period=period, disclose=False)
    con.close()


def _same(left: pd.Series, right: pd.Series) -> None:
    pd.testing.assert_series_equal(left.reset_index(drop=True), right.reset_index(drop=True), check_names=False)


def test_london_only_equals_the_london_row(full):
    con, period, rows = full
    london = inequality(con, indicator=INDICATOR, period=period, disclose=False, by_borough=False)
    assert len(london) == 1 and len(rows) > 1
    _same(london.iloc[0], rows.iloc[0])


def test_a_borough_filter_gives_the_boroughs_row(full):
    con, period, rows = full
    busiest = rows.iloc[1:].sort_values("denominator").iloc[-1]
    filtered = inequality(
        con, indicator=INDICATOR, period=period, filters={"borough": busiest["area_code"]}, disclose=False
    )
    _same(filtered[filtered["area_code"] == busiest["area_code"]].iloc[0], busiest)
