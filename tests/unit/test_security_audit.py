"""The audit log keeps every entry, in order, across restarts, and refuses to be changed."""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from security import audit, sqlite_file
from security.audit import AuditLog, AuditUnavailable
from security.roles import Principal, Role, Scope

GP = Principal("demo.gp", Role.GP_TEAM, Scope.of(practices=["E83003"]))
ADMIN = Principal("demo.admin", Role.ADMIN)


@pytest.fixture
def log(tmp_path):
    return AuditLog(tmp_path / "audit" / "audit.sqlite3")


def test_entry_records_who_when_role_filters_and_count(log):
    before = datetime.now(UTC)
    entry = log.record(GP, audit.VIEW_PATIENT_ROWS, {"page": "asthma", "practice": "E83003"}, row_count=12)
    (stored,) = log.entries()
    assert stored == entry
    assert (stored.username, stored.role, stored.action, stored.row_count) == (
        "demo.gp",
        "gp_team",
        "view_patient_rows",
        12,
    )
    assert stored.filters == {"page": "asthma", "practice": "E83003"}
    assert before <= stored.at <= datetime.now(UTC)


def test_entries_survive_reopening(tmp_path):
    path = tmp_path / "audit.sqlite3"
    AuditLog(path).record(GP, audit.EXPORT_PATIENT_ROWS, {"format": "csv"}, 3)
    AuditLog(path).record(ADMIN, audit.VIEW_AUDIT_LOG)
    reopened = AuditLog(path)
    assert [e.action for e in reopened.entries()] == ["view_audit_log", "export_patient_rows"]
    assert reopened.verify() == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET row_count = 0",
        "UPDATE audit_log SET username = 'someone.else' WHERE seq = 1",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE seq = 1",
    ],
)
def test_update_and_delete_are_refused_by_the_database(log, statement):
    log.record(GP, audit.VIEW_PATIENT_ROWS, {}, 5)
    con = sqlite3.connect(log.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute(statement)
    con.close()
    assert [(e.username, e.row_count) for e in log.entries()] == [("demo.gp", 5)]


def test_a_forged_insert_that_breaks_the_chain_is_refused(log):
    log.record(GP, audit.VIEW_PATIENT_ROWS, {}, 5)
    con = sqlite3.connect(log.path)
    with pytest.raises(sqlite3.IntegrityError, match="chain"):
        con.execute(
            "INSERT INTO audit_log VALUES (2, '2026-01-01T00:00:00+00:00', 'x', 'admin', 'sign_in', '{}', NULL, "
            "'not-the-previous-hash', 'whatever')"
        )
    con.close()
    assert len(log.entries()) == 1


def test_tampering_outside_the_rules_is_detected(log):
    for count in (1, 2, 3):
        log.record(GP, audit.VIEW_PATIENT_ROWS, {}, count)
    con = sqlite3.connect(log.path)
    con.execute("DROP TRIGGER audit_log_no_update")
    con.execute("UPDATE audit_log SET row_count = 0 WHERE seq = 2")
    con.commit()
    con.close()
    problems = log.verify()
    assert "trigger audit_log_no_update is missing" in problems
    assert "entry 2: contents do not match its hash" in problems


def test_concurrent_writers_keep_one_unbroken_chain(log):
    def write(n):
        for _ in range(10):
            log.record(GP, audit.VIEW_PATIENT_ROWS, {"worker": n}, n)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [e.seq for e in log.entries(limit=100)] == list(range(40, 0, -1))
    assert log.verify() == []


def test_entries_filter_by_user_action_and_time(log):
    log.record(GP, audit.VIEW_PATIENT_ROWS, {}, 1)
    log.record(ADMIN, audit.VIEW_AUDIT_LOG)
    log.record(None, audit.SIGN_IN_FAILED, {"attempted_username": "mallory"})
    assert [e.action for e in log.entries(username="demo.gp")] == ["view_patient_rows"]
    assert [e.username for e in log.entries(action="sign_in_failed")] == ["(anonymous)"]
    assert log.entries(since=datetime.now(UTC) + timedelta(minutes=1)) == []
    assert len(log.entries(limit=2)) == 2
    # Filter values are bound parameters: a hostile one finds nothing and changes nothing.
    assert log.entries(username="x' OR '1'='1") == []
    assert len(log.entries()) == 3


def test_garbage_filters_are_stored_safely_and_capped(log):
    entry = log.record(GP, audit.VIEW_PATIENT_ROWS, {"q": "'; DROP TABLE audit_log; --" + "x" * 50_000, "n": {1, 2}})
    assert entry.filters["truncated"] is True
    assert len(entry.filters["text"]) == audit.MAX_FILTERS_CHARS
    assert log.entries()[0].filters == entry.filters
    assert log.verify() == []


@pytest.mark.parametrize(("action", "row_count"), [("DROP TABLE", None), ("", None), ("view", -1), ("view", True)])
def test_bad_action_or_count_is_refused(log, action, row_count):
    with pytest.raises(ValueError):
        log.record(GP, action, {}, row_count)
    assert log.entries() == []


def test_an_unwritable_log_raises_audit_unavailable(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the audit folder should be")
    with pytest.raises(AuditUnavailable, match="cannot be opened") as raised:
        AuditLog(blocker / "audit.sqlite3").record(GP, audit.VIEW_PATIENT_ROWS, {}, 1)
    assert str(tmp_path) not in str(raised.value)  # users see the message: it names no server path


def test_module_functions_use_the_audit_dir_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("PATHFINDER_AUDIT_DIR", str(tmp_path / "from-setting"))
    audit.record(GP, audit.EXPORT_PATIENT_ROWS, {"page": "cohort"}, 7)
    assert (tmp_path / "from-setting" / audit.AUDIT_FILE_NAME).exists()
    assert [e.row_count for e in audit.entries(username="demo.gp")] == [7]


def _counting_connects(monkeypatch) -> list[object]:
    """Every connection SQLite opens from now on (the list grows by one per open)."""
    opened, real = [], sqlite3.connect

    def connect(*args, **kwargs):
        opened.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
    return opened


def test_a_process_writes_its_entries_through_one_kept_connection(log, monkeypatch):
    # A connection opened and closed per entry checkpointed the log file at every close: most of an export's time.
    opened = _counting_connects(monkeypatch)
    for count in range(5):
        log.record(GP, audit.VIEW_PATIENT_ROWS, {}, count)
    assert len(opened) == 2  # the one that makes the file and its schema, then the kept one
    assert [e.row_count for e in log.entries()] == [4, 3, 2, 1, 0]
    assert log.verify() == []


def test_a_forked_process_opens_its_own_connection(log, monkeypatch):
    log.record(GP, audit.VIEW_PATIENT_ROWS, {}, 1)
    opened = _counting_connects(monkeypatch)
    monkeypatch.setattr(sqlite_file.os, "getpid", lambda: -1)  # as in a worker forked after the first entry
    log.record(GP, audit.VIEW_PATIENT_ROWS, {}, 2)
    log.record(GP, audit.VIEW_PATIENT_ROWS, {}, 3)
    assert len(opened) == 1
    assert [e.row_count for e in log.entries()] == [3, 2, 1]
    assert log.verify() == []


def test_no_entry_goes_to_a_log_file_moved_away_from_the_logs_path(log):
    log.record(GP, audit.VIEW_PATIENT_ROWS, {}, 1)
    moved = log.path.with_name("moved.sqlite3")
    for suffix in ("", "-wal", "-shm"):  # as a rotation moves a WAL database: its files together
        if Path(f"{log.path}{suffix}").exists():
            os.rename(f"{log.path}{suffix}", f"{moved}{suffix}")
    # The path holds no log now (an empty file is made there, without the table): the entry is refused, as when
    # each entry opened the path afresh, never written to the moved file through a connection kept open on it.
    with pytest.raises(AuditUnavailable):
        log.record(GP, audit.VIEW_PATIENT_ROWS, {}, 2)
    assert [e.row_count for e in AuditLog(moved).entries()] == [1]


def _write_entries(log: AuditLog, worker: int, count: int) -> None:
    for index in range(count):
        log.record(GP, audit.VIEW_PATIENT_ROWS, {"worker": worker, "index": index}, index)


def test_worker_processes_writing_at_once_keep_one_unbroken_chain(log):
    # As gunicorn's forked workers do: the parent wrote first (its kept connection is inherited, never used),
    # then three processes each write through their own kept connection at the same time.
    import multiprocessing

    log.record(GP, audit.VIEW_PATIENT_ROWS, {"worker": "parent"}, 0)
    forked = multiprocessing.get_context("fork")
    workers = [forked.Process(target=_write_entries, args=(log, worker, 30)) for worker in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    assert [entry.seq for entry in log.entries(limit=200)] == list(range(91, 0, -1))
    assert log.verify() == []
    log.record(GP, audit.VIEW_PATIENT_ROWS, {"worker": "parent"}, 0)  # the parent's own connection still writes
    assert log.entries(limit=1)[0].seq == 92 and log.verify() == []
