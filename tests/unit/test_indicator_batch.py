"""The batched engine entry point gives, pair by pair, exactly what :func:`indicator_values` gives.

On the synthetic small_db fixture: every indicator in the registry at its default and at an older
period, several ``by`` levels and filters, with and without disclosure control; and one query for the whole batch.
"""

from __future__ import annotations

import pandas as pd
import pytest

from queries import indicators

# The engine itself, past any result cache a caller may wrap it in (a cache would hand both paths one answer).
indicator_values = indicators.indicator_values.uncached
indicator_values_batch = indicators.indicator_values_batch.uncached

CASES = (
    ("practice", {"borough": "E09000012"}),
    ("borough", None),
    ("pcn", None),
    (("borough", "imd_quintile"), {"sex": "F"}),
    ("lsoa", {"imd_decile": [1, 2]}),
    ("london", None),
)


def _requests(con) -> list[tuple[str, str | None]]:
    """Every indicator at its default period, and the first few also at their oldest period."""
    requests: list[tuple[str, str | None]] = [(indicator_id, None) for indicator_id in indicators.registry]
    for indicator_id in list(indicators.registry)[:5]:
        requests.append((indicator_id, str(indicators.periods(con, indicator_id)["period_id"].iloc[-1])))
    return requests


def _assert_blocks_equal(con, batch: pd.DataFrame, requests, by, filters, disclose) -> int:
    """Each request's rows of ``batch`` (in order) equal the single call's frame; returns the rows compared."""
    start, compared = 0, 0
    for indicator_id, period in requests:
        single = indicator_values(con, indicator=indicator_id, period=period, by=by, filters=filters, disclose=disclose)
        block = batch.iloc[start : start + len(single)].reset_index(drop=True)
        start += len(single)
        if single.empty:  # an empty frame has no rows to hold a dtype: nothing more to compare
            continue
        pd.testing.assert_frame_equal(block, single, obj=f"{indicator_id} {period} by {by} filters {filters}")
        compared += len(single)
    assert start == len(batch), "the batch holds rows no single call gives"
    return compared


@pytest.mark.slow
@pytest.mark.parametrize("disclose", [True, False])
def test_batch_equals_one_call_per_indicator(synthetic, disclose):
    requests = _requests(synthetic)
    compared = 0
    for by, filters in CASES:
        batch = indicator_values_batch(synthetic, requests=requests, by=by, filters=filters, disclose=disclose)
        compared += _assert_blocks_equal(synthetic, batch, requests, by, filters, disclose)
    assert compared > 5_000  # real rows were compared, not empty frames


class _CountingConnection:
    """A connection whose cursors count the statements run through them."""

    def __init__(self, con):
        self.con, self.statements = con, 0

    def cursor(self):
        counter, cursor = self, self.con.cursor()

        class _Cursor:
            def execute(self, *args, **kwargs):
                counter.statements += 1
                return cursor.execute(*args, **kwargs)

        return _Cursor()


def test_batch_runs_one_query_and_checks_every_period(synthetic):
    counting = _CountingConnection(synthetic)
    requests = [(indicator_id, None) for indicator_id in list(indicators.registry)[:10]]
    indicator_values_batch(counting, requests=requests, by="borough", disclose=True)  # warms the per-connection data
    counting.statements = 0
    indicator_values_batch(counting, requests=requests, by="borough", disclose=True)
    assert counting.statements == 1
    with pytest.raises(indicators.QueryError):
        indicator_values_batch(synthetic, requests=[(requests[0][0], "no such period")], by="borough")
    assert indicator_values_batch(synthetic, requests=[], by="borough").empty


def test_a_call_compared_with_london_under_an_area_filter_reads_londons_totals_once(synthetic):
    # London's unfiltered totals are read once per connection; each call then runs its own query only.
    counting = _CountingConnection(synthetic)
    area = {"borough": "E09000012"}
    requests = [(indicator_id, None) for indicator_id in list(indicators.registry)[:10]]
    indicator_values_batch(counting, requests=requests, by="practice", filters=area, compare_with="london")
    counting.statements = 0
    batch = indicator_values_batch(counting, requests=requests, by="practice", filters=area, compare_with="london")
    single = indicator_values(counting, indicator=requests[0][0], by="practice", filters=area, compare_with="london")
    assert counting.statements == 2
    # A demographic filter narrows London too: its totals are queried with it.
    indicator_values(
        counting, indicator=requests[0][0], by="practice", filters=area | {"sex": "F"}, compare_with="london"
    )
    assert counting.statements == 4
    # The same benchmark as London's own row, rounded as every disclosed value.
    for indicator_id, _period in requests[:3]:
        london = indicator_values(synthetic, indicator=indicator_id, by="london").iloc[0]
        mine = batch[batch["indicator_id"] == indicator_id]
        if len(mine) and london["value"] is not None:
            assert set(mine["london_value"]) == {london["value"]}
    assert len(single) and set(single["london_value"]) == set(
        batch.loc[batch["indicator_id"] == requests[0][0], "london_value"]
    )


@pytest.mark.parametrize(
    ("indicator_id", "by", "filters"),
    [("cover_12m_6in1", "borough", None), ("hyp008", "london", {"sex": "F"}), ("cwt_fds_28d", "icb", None)],
)
def test_a_trend_period_holds_what_indicator_values_gives_for_that_period(synthetic, indicator_id, by, filters):
    # trend() asks for all its periods in one batch; each period's rows must still be the single call's.
    series = indicators.trend.uncached(synthetic, indicator=indicator_id, by=by, filters=filters, disclose=False)
    assert series["period_id"].nunique() > 3
    for period_id, rows in series.groupby("period_id", sort=False):
        single = indicator_values(
            synthetic, indicator=indicator_id, period=period_id, by=by, filters=filters, disclose=False
        )
        pd.testing.assert_frame_equal(
            rows[single.columns].reset_index(drop=True), single, obj=f"{indicator_id} {period_id}"
        )
        assert rows["period_label"].notna().all() and (rows["start_date"] <= rows["end_date"]).all()
