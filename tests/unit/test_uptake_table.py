"""The build's precomputed uptake-by-age table equals the on-the-fly count from the immunisation records.

``ind_uptake_age`` (queries.materialise.write_uptake_by_age) replaces a join of a cohort's immunisation
records on every click; these tests hold its sums equal to that join for London, a borough, a PCN and
a practice, for every measure with a dose-by-age rule, on the small synthetic database.
"""

from __future__ import annotations

import duckdb
import pytest

from queries import immunisation as imm
from queries.indicators import periods
from queries.materialise import COVER_MEASURES, UPTAKE_TABLE


@pytest.fixture(scope="module")
def con(small_db):
    connection = duckdb.connect(str(small_db), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def areas(con):
    """A busy borough, one of its PCNs and its largest practice (by children in the uptake table)."""
    borough, pcn, practice = con.execute(
        f"SELECT p.borough_code, p.pcn_code, u.practice_code FROM {UPTAKE_TABLE} AS u "  # noqa: S608
        "JOIN ref_practices AS p USING (practice_code) WHERE u.completed_months = -1 "
        "GROUP BY ALL ORDER BY sum(u.children) DESC LIMIT 1"
    ).fetchone()
    return [None, {"borough": borough}, {"pcn": pcn}, {"practice": practice}, {"borough": [borough, "E09000001"]}]


def _sorted(rows):
    """Rows as sorted pairs; an empty cohort is the same with or without its (-1, 0) row."""
    return sorted((int(months), int(children)) for months, children in rows if children)


@pytest.mark.parametrize("indicator", sorted({m.indicator_id for m in COVER_MEASURES}))
def test_table_counts_equal_the_records_for_every_area(con, areas, indicator):
    frame = periods(con, indicator)
    chosen = list(frame["period_id"].iloc[:: max(1, len(frame) // 3)])
    compared = 0
    for period in chosen:
        for filters in areas:
            table = imm.completion_counts(con, indicator=indicator, period=period, filters=filters)
            records = imm.completion_counts_from_records(con, indicator=indicator, period=period, filters=filters)
            assert _sorted(table) == _sorted(records), (indicator, period, filters)
            compared += sum(n for months, n in records if months == -1)
    assert compared > 0  # some cohort was compared, not only empty areas


def test_the_curve_ends_at_the_indicator_value(con):
    period = periods(con, "cover_24m_mmr1")["period_id"].iloc[0]
    curve = imm.uptake_by_age(con, indicator="cover_24m_mmr1", period=period, disclose=False)
    from queries.indicators import indicator_values

    london = indicator_values(con, indicator="cover_24m_mmr1", period=period, disclose=False).iloc[0]
    assert curve["denominator"].iloc[-1] == london["denominator"]
    assert curve["numerator"].iloc[-1] == london["numerator"]
    assert curve["numerator"].is_monotonic_increasing
