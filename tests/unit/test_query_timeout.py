"""A served query that runs too long is interrupted with a message; start-up work is exempt."""

from __future__ import annotations

import time

import duckdb
import pytest

from queries import db as db_module
from queries.db import Database, DataUnavailable, without_query_timeout

# Counting ten billion rows takes minutes: long enough that only an interrupt ends it in a test.
ENDLESS = "SELECT count(*) FROM range(10000000000) a"


@pytest.fixture
def watchdog(monkeypatch):
    """A watchdog of the test's own, so deadlines left by other tests cannot change its count."""
    fresh = db_module._Watchdog()
    monkeypatch.setattr(db_module, "_watchdog", fresh)
    return fresh


@pytest.fixture(scope="module")
def db_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("timeout") / "tiny.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t AS SELECT 1 AS x")
    con.close()
    return path


def test_a_query_past_the_limit_is_interrupted_with_a_message(db_file):
    database = Database(db_file, query_timeout_s=0.3, check_build=False)
    started = time.monotonic()
    with pytest.raises(DataUnavailable, match=r"took longer than 0.3 s and was stopped"):
        database.frame(ENDLESS)
    assert time.monotonic() - started < 5
    database.close()


def test_a_query_within_the_limit_answers_and_the_cursor_is_not_kept(db_file):
    database = Database(db_file, query_timeout_s=0.3, check_build=False)
    assert database.scalar("SELECT x FROM t") == 1
    time.sleep(0.6)  # past the deadline: the idle cursor is left alone and a new query still answers
    assert database.scalar("SELECT x + 1 FROM t") == 2
    database.close()


def test_start_up_work_is_not_watched(db_file, watchdog):
    database = Database(db_file, query_timeout_s=60, check_build=False)
    with without_query_timeout():
        database.cursor()
    assert watchdog.watched() == 0
    database.cursor()
    assert watchdog.watched() == 1
    database.close()


def test_no_limit_watches_nothing(db_file, watchdog):
    database = Database(db_file, check_build=False)
    assert database.scalar("SELECT x FROM t") == 1
    assert watchdog.watched() == 0
    database.close()


def test_a_forked_worker_gets_its_own_watchdog(db_file, watchdog):
    import os

    database = Database(db_file, query_timeout_s=0.3, check_build=False)
    database.cursor()  # starts the parent's watchdog thread
    database.close()  # as gunicorn's pre_fork does: no DuckDB connection crosses the fork
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the worker: its own thread interrupts its own runaway query
        try:
            worker_db = Database(db_file, query_timeout_s=0.3, check_build=False)
            try:
                worker_db.frame(ENDLESS)
                verdict = b"not interrupted"
            except DataUnavailable as error:
                verdict = b"interrupted" if b"took longer" in str(error).encode() else b"other error"
            os.write(write_end, verdict)
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    assert os.read(read_end, 100) == b"interrupted"
