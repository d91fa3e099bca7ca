"""The analyst pandas baseline of bench/queries.py counts what the engine counts, group by group."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from bench import analyst
from bench.queries import CASES, PANDAS_KEYS, _pandas_aggregate
from queries import materialise
from queries.indicators import _period_table, default_period, indicator_values
from queries.registry import INDICATORS, get

# Every indicator of the registry: the bench times each against an analyst's pandas derivation.
DERIVED = sorted(indicator.id for indicator in INDICATORS)


def test_every_registry_indicator_has_a_derivation():
    assert set(DERIVED) <= analyst.SUPPORTED


@pytest.fixture(scope="module")
def loaded(small_db):
    connection = duckdb.connect(str(small_db), read_only=True)
    yield connection, analyst.load(connection, set(DERIVED))
    connection.close()


@pytest.mark.parametrize("indicator_id", DERIVED)
def test_every_group_matches_the_engine(loaded, indicator_id):
    con, extract = loaded
    period_id = default_period(con, indicator_id)
    units = analyst.derive(extract, indicator_id, _period_table(con)[period_id])
    assert len(units) > 0, "a derivation with no units checks nothing"
    assert units["numerator"].sum() > 0, "a derivation with no numerator checks half of the rule"
    for _label, by, filters in CASES:
        keys = PANDAS_KEYS[by if isinstance(by, str) else tuple(by)]
        engine = indicator_values(con, indicator=indicator_id, period=period_id, by=by, filters=filters, disclose=False)
        derived = _pandas_aggregate(units, keys, filters, get(indicator_id).unit)
        assert analyst.count_mismatches(derived, keys, engine) == []


def test_a_changed_count_is_reported(loaded):
    con, extract = loaded
    period_id = default_period(con, "hyp008")
    derived = _pandas_aggregate(analyst.derive(extract, "hyp008", _period_table(con)[period_id]), ["practice_code"], {})
    engine = indicator_values(con, indicator="hyp008", period=period_id, by="practice", disclose=False)
    derived.loc[derived.index[0], "numerator"] += 1
    differ = analyst.count_mismatches(derived, ["practice_code"], engine)
    assert [key for key, _ours, _theirs in differ] == [(str(derived["practice_code"].iloc[0]),)]


def test_age_matches_the_engine_sql_on_leap_days():
    births = [dt.date(2000, 2, 29), dt.date(2000, 3, 1), dt.date(1999, 12, 31), dt.date(2004, 2, 28)]
    days = [dt.date(2026, 2, 28), dt.date(2026, 3, 1), dt.date(2028, 2, 28), dt.date(2028, 2, 29)]
    con = duckdb.connect()
    for day in days:
        expected = [
            con.execute(
                f"SELECT {materialise._age('CAST($birth AS DATE)', 'CAST($day AS DATE)')}", {"birth": b, "day": day}
            ).fetchone()[0]
            for b in births
        ]
        ours = analyst._age_on(pd.Series(pd.to_datetime(births)), pd.Timestamp(day))
        assert np.array_equal(ours, expected), day


def test_summary_of_whole_list_indicators_alone_says_there_is_no_strict_baseline():
    """The whole-list indicators (prevalence, detection ratio...) have no per-patient rows for the strict
    pandas baseline: a run of only those prints "-" and says so, never "nan"."""
    from bench.queries import summarise

    calls = pd.DataFrame(
        {
            "db": "small",
            "patients": 1000,
            "indicator_id": "hyp_detection_ratio",
            "case": ["practice", "borough x imd"],
            "engine_p50_ms": [2.0, 3.0],
            "engine_p95_ms": [2.5, 3.5],
            "engine_max_ms": [3.0, 4.0],
            "engine_sql_p50_ms": [1.0, 1.5],
            "engine_cpu_p50_ms": [2.0, 3.0],
            "engine_cpu_p95_ms": [2.5, 3.5],
            "engine_calls_with_full_gc": [0, 0],
            "load_average": [1.0, 1.0],
            "analyst_p50_ms": [200.0, 300.0],
            "analyst_cpu_p50_ms": [200.0, 300.0],
            "analyst_rows": [900, 900],
        }
    )
    text = summarise(calls)
    assert "nan" not in text.lower()
    assert "no strict baseline" in text
    assert "| hypertension | 1 | - | 900 |" in text
    assert "analyst speed-up median 100x, minimum 100x" in text
