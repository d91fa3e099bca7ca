"""The aggregate query cache: hits, misses, invalidation on rebuild, no patient rows, no cross-role mixing."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from data.build_version import BUILD_VERSION, META_KEY
from queries import cache
from queries.cache import cached_query
from queries.db import Database
from queries.indicators import indicator_values


@pytest.fixture
def fresh_cache():
    """A clean cache of 8 entries for the test; the configured size is restored afterwards."""
    previous = cache.current().size
    yield cache.configure(8)
    cache.configure(previous)


def _write_db(path: Path, *, rows: int, built_at: str) -> None:
    """A database file with ``rows`` rows in ``t`` and a meta row, written aside and moved into place
    (as data.build does), so a rebuild gives the path a new file."""
    staging = path.with_suffix(".staging")
    con = duckdb.connect(str(staging))
    con.execute("CREATE TABLE t AS SELECT range AS n FROM range(?)", [rows])
    con.execute("CREATE TABLE meta(key VARCHAR, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('built_at', ?)", [built_at])
    con.execute("INSERT INTO meta VALUES (?, ?)", [META_KEY, str(BUILD_VERSION)])  # as the build stamps it
    con.close()
    os.replace(staging, path)


calls: list[tuple] = []


@cached_query
def count_rows(con, *, at_least: int = 0, filters: dict | None = None, disclose: bool = True) -> pd.DataFrame:
    """A stand-in aggregate that records each time it really runs."""
    calls.append((at_least, filters, disclose))
    (count,) = con.cursor().execute("SELECT count(*) FROM t WHERE n >= ?", [at_least]).fetchone()
    return pd.DataFrame({"rows": [count]})


@cached_query
def patient_list(con) -> pd.DataFrame:
    """A function wrongly decorated that returns patient rows."""
    calls.append(("patients",))
    return pd.DataFrame({"patient_id": ["p1", "p2"]})


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    path = tmp_path / "t.duckdb"
    _write_db(path, rows=10, built_at="2026-11-01T00:00:00")
    calls.clear()
    return path


def test_repeated_call_is_a_hit_and_runs_once(fresh_cache, db_file):
    db = Database(db_file)
    first = count_rows(db, at_least=3)
    second = count_rows(db, at_least=3)
    assert first["rows"].tolist() == second["rows"].tolist() == [7]
    assert len(calls) == 1
    assert (cache.stats().hits, cache.stats().misses) == (1, 1)


def test_positional_keyword_and_dict_order_share_one_entry(fresh_cache, db_file):
    db = Database(db_file)
    count_rows(db, filters={"borough": ["A"], "sex": "F"})
    count_rows(db, filters={"sex": "F", "borough": ["A"]}, at_least=0)
    assert len(calls) == 1


@pytest.mark.parametrize(
    "other",
    [
        {"at_least": 4},
        {"filters": {"borough": ["B"]}},
        {"filters": {"borough": ["A", "B"]}},
        {"disclose": False},
        {"disclose": 1},  # same truth value, different type: still its own key
    ],
)
def test_any_different_argument_is_a_miss(fresh_cache, db_file, other):
    db = Database(db_file)
    count_rows(db, filters={"borough": ["A"]})
    count_rows(db, **{"filters": {"borough": ["A"]}, **other})
    assert len(calls) == 2


def test_rebuilt_database_is_not_answered_from_the_old_entries(fresh_cache, db_file):
    old = Database(db_file)
    assert count_rows(old)["rows"].item() == 10
    _write_db(db_file, rows=25, built_at="2026-11-02T00:00:00")
    # An open connection keeps reading the file it opened; a restarted worker opens the rebuilt one.
    old.close()
    new = Database(db_file)
    assert count_rows(new)["rows"].item() == 25
    assert count_rows(new)["rows"].item() == 25
    assert len(calls) == 2


def test_rebuild_with_the_same_file_but_new_built_at_invalidates(fresh_cache, tmp_path):
    path = tmp_path / "same.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t AS SELECT range AS n FROM range(5)")
    con.execute("CREATE TABLE meta AS SELECT 'built_at' AS key, 'first' AS value")
    con.close()
    calls.clear()
    count_rows(Database(path, check_build=False))  # a hand-made file without a build stamp
    con = duckdb.connect(str(path))  # rewritten in place: same inode, new build stamp
    con.execute("INSERT INTO t VALUES (99)")
    con.execute("UPDATE meta SET value = 'second'")
    con.close()
    assert count_rows(Database(path, check_build=False))["rows"].item() == 6
    assert len(calls) == 2


def test_changing_a_returned_frame_does_not_change_the_cache(fresh_cache, db_file):
    db = Database(db_file)
    frame = count_rows(db)
    frame.loc[0, "rows"] = -1
    frame["extra"] = 1
    again = count_rows(db)
    assert again.columns.tolist() == ["rows"] and again["rows"].item() == 10


def test_patient_rows_are_returned_but_never_stored(fresh_cache, db_file):
    db = Database(db_file)
    assert patient_list(db)["patient_id"].tolist() == ["p1", "p2"]
    patient_list(db)
    assert len(calls) == 2
    assert cache.stats().refused == 2 and len(cache.current()) == 0


def test_patient_row_query_functions_are_not_decorated():
    from queries import asthma, immunisation_cohort

    cached = {f"{f.__module__}.{f.__name__}" for f in cache.cached_functions()}
    patient_row_functions = [
        immunisation_cohort.cohort_patients,
        immunisation_cohort.count_children,
        immunisation_cohort.cohort_summary,
        asthma.saba_no_ics_patients,
    ]
    for function in patient_row_functions:
        assert not hasattr(function, "uncached")
        assert f"{function.__module__}.{function.__name__}" not in cached
    assert "queries.indicators.indicator_values" in cached


def test_size_zero_disables_and_lru_evicts_the_oldest(db_file):
    previous = cache.current().size
    try:
        cache.configure(0)
        db = Database(db_file)
        count_rows(db)
        count_rows(db)
        assert len(calls) == 2
        cache.configure(2)
        for at_least in (1, 2, 3):
            count_rows(db, at_least=at_least)
        count_rows(db, at_least=3)  # newest: still held
        count_rows(db, at_least=1)  # oldest: evicted, runs again
        assert [c[0] for c in calls[2:]] == [1, 2, 3, 1]
    finally:
        cache.configure(previous)


def test_in_memory_and_unhashable_arguments_run_uncached(fresh_cache, db_file):
    memory = duckdb.connect()
    memory.execute("CREATE TABLE t AS SELECT range AS n FROM range(3)")
    count_rows(memory)
    count_rows(memory)
    count_rows(Database(db_file), filters={"frame": pd.DataFrame({"a": [1]})})
    assert len(calls) == 3
    assert cache.stats().uncacheable == 3


def test_disclosed_and_unrounded_engine_results_never_mix(fresh_cache, small_db):
    """An analyst's unrounded practice counts must not reach a role that gets disclosure control."""
    db = Database(small_db)
    raw = indicator_values(db, indicator="hyp008", by="practice", disclose=False)
    disclosed = indicator_values(db, indicator="hyp008", by="practice", disclose=True)
    expected = indicator_values.uncached(db, indicator="hyp008", by="practice", disclose=True)
    pd.testing.assert_frame_equal(disclosed, expected)
    assert not raw["numerator"].equals(disclosed["numerator"])  # rounding/suppression did change something
    again_raw = indicator_values(db, indicator="hyp008", by="practice", disclose=False)
    pd.testing.assert_frame_equal(
        again_raw, indicator_values.uncached(db, indicator="hyp008", by="practice", disclose=False)
    )
    assert cache.stats().hits == 1


# --- the byte budget ---------------------------------------------------------------------------------


def _lsoa_like(rows: int) -> pd.DataFrame:
    """A result shaped like ``indicator_values(by="lsoa")``: text codes and names, counts that may be None."""
    codes = [f"E0100{i:04d}" for i in range(rows)]
    return pd.DataFrame(
        {
            "area_code": codes,
            "area_name": [f"Somewhere {i:04d}{'x' * (i % 17)}" for i in range(rows)],
            "numerator": pd.array([None if i % 7 == 0 else float(i) for i in range(rows)], dtype=object),
            "value": [i / 3 for i in range(rows)],
            "suppressed": [i % 7 == 0 for i in range(rows)],
        }
    )


@pytest.mark.parametrize("rows", [0, 3, 256, 257, 5000])
def test_result_bytes_of_a_frame_is_near_pandas_deep_count(rows):
    frame = _lsoa_like(rows)
    exact = int(frame.memory_usage(deep=True).sum())
    charged = cache.result_bytes(frame)
    if rows <= 256:
        assert charged == exact  # counted outright
    else:
        assert abs(charged / exact - 1) < 0.05, (charged, exact)


def test_result_bytes_sums_what_containers_hold():
    frame, array = _lsoa_like(10), np.arange(1000, dtype=float)
    parts = cache.result_bytes(frame) + cache.result_bytes(array)
    assert cache.result_bytes(array) == 8000
    assert cache.result_bytes({"rows": frame, "values": array}) > parts
    assert cache.result_bytes((frame, array)) > parts
    assert cache.result_bytes([frame, frame]) > 2 * cache.result_bytes(frame)


def test_the_oldest_go_when_the_byte_budget_is_passed():
    frame = _lsoa_like(100)
    charge = cache.result_bytes(frame)
    held = cache.QueryCache(size=100, max_bytes=charge * 10 + charge // 2)  # room for ten, far under 100 entries
    for key in range(12):
        held.put(("k", key), frame.copy())
    assert len(held) == 10
    assert held.bytes_held == 10 * charge <= held.max_bytes
    assert not held.get(("k", 0))[0] and not held.get(("k", 1))[0]  # the two oldest went
    assert held.get(("k", 11))[0]


def test_storing_a_key_again_does_not_count_its_bytes_twice():
    frame = _lsoa_like(50)
    held = cache.QueryCache(size=8, max_bytes=10**9)
    held.put(("k",), frame)
    held.put(("k",), frame.copy())
    assert len(held) == 1 and held.bytes_held == cache.result_bytes(frame)
    held.clear()
    assert held.bytes_held == 0 and len(held) == 0


def test_a_result_over_an_eighth_of_the_budget_is_returned_but_not_stored():
    small, large = _lsoa_like(10), _lsoa_like(2000)
    held = cache.QueryCache(size=8, max_bytes=cache.result_bytes(large) * cache.LARGEST_SHARE - 1)
    held.put(("small",), small)
    held.put(("large",), large)
    assert held.stats.too_large == 1
    assert not held.get(("large",))[0]
    assert held.get(("small",))[0]  # the large one did not push it out


def test_configure_takes_the_budget_from_the_settings(monkeypatch):
    previous = cache.current()
    monkeypatch.setenv("PATHFINDER_QUERY_CACHE_MB", "3")
    try:
        configured = cache.configure(5)
        assert (configured.size, configured.max_bytes) == (5, 3_000_000)
        assert cache.configure(5, max_mb=7).max_bytes == 7_000_000
        with pytest.raises(ValueError, match="1 MB or more"):
            cache.configure(5, max_mb=0)
    finally:
        cache.configure(previous.size, max_mb=max(1, previous.max_bytes // 1_000_000))
