"""The append-only audit store: who saw or exported patient rows, when, with which filters and how many.

Kept apart from the read-only analytical DuckDB, in a SQLite file (``audit.sqlite3`` in the
``audit_dir`` setting) so it survives restarts and rebuilds of the data. Append-only is enforced
twice:

- triggers abort any UPDATE or DELETE, and an INSERT that does not continue the chain;
- every entry carries ``entry_hash = sha256(previous hash + its own fields)``, so an edit made
  outside SQLite's rules (a dropped trigger, a hand-edited file) shows up in :meth:`AuditLog.verify`.

Writes fail closed: when an entry cannot be written :class:`AuditUnavailable` is raised and the
caller must not show the rows it was about to show.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from security.roles import Principal
from security.sqlite_file import SqliteFile

AUDIT_FILE_NAME = "audit.sqlite3"
GENESIS_HASH = "0" * 64
MAX_FILTERS_CHARS = 8000
ACTION = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")

# The actions the app writes; pages may add their own names of the same shape.
VIEW_PATIENT_ROWS = "view_patient_rows"
EXPORT_PATIENT_ROWS = "export_patient_rows"
VIEW_UNROUNDED = "view_unrounded"
EXPORT_AGGREGATE = "export_aggregate"
ACCESS_DENIED = "access_denied"
SIGN_IN = "sign_in"
SIGN_IN_FAILED = "sign_in_failed"
SIGN_OUT = "sign_out"
VIEW_AUDIT_LOG = "view_audit_log"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq        INTEGER PRIMARY KEY,
    at         TEXT    NOT NULL,
    username   TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    filters    TEXT    NOT NULL,
    row_count  INTEGER,
    prev_hash  TEXT    NOT NULL,
    entry_hash TEXT    NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_chain BEFORE INSERT ON audit_log
WHEN NEW.prev_hash IS NOT COALESCE((SELECT entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1), '@GENESIS@')
  OR NEW.seq IS NOT COALESCE((SELECT max(seq) FROM audit_log), 0) + 1
BEGIN SELECT RAISE(ABORT, 'an audit entry must continue the chain'); END;
""".replace("@GENESIS@", GENESIS_HASH)
_TRIGGERS = {"audit_log_no_update", "audit_log_no_delete", "audit_log_chain"}


_log = logging.getLogger(__name__)


class AuditUnavailable(RuntimeError):
    """The audit store cannot be written or read; patient rows must not be shown."""


@dataclass(frozen=True)
class AuditEntry:
    """One audit record."""

    seq: int
    at: datetime
    username: str
    role: str
    action: str
    filters: dict[str, Any]
    row_count: int | None


def _filters_json(filters: Mapping[str, Any] | None) -> str:
    text = json.dumps(dict(filters or {}), sort_keys=True, default=str, ensure_ascii=False)
    if len(text) > MAX_FILTERS_CHARS:  # garbage input must not bloat the log; keep what fits, say so
        text = json.dumps({"truncated": True, "text": text[:MAX_FILTERS_CHARS]}, ensure_ascii=False)
    return text


def _entry_hash(
    prev_hash: str, seq: int, at: str, username: str, role: str, action: str, filters: str, row_count: int | None
) -> str:
    canonical = json.dumps([prev_hash, seq, at, username, role, action, filters, row_count], ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class AuditLog:
    """The audit log in one SQLite file; safe across threads and worker processes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file = SqliteFile(self.path, _SCHEMA)

    def _unavailable(self, verb: str, error: Exception) -> AuditUnavailable:
        """The error users see: no server path, nor the system's message (which names one); the server's
        log says where and why."""
        _log.error("audit log %s cannot be %s: %s", self.path, verb, error)
        return AuditUnavailable(
            f"The audit log cannot be {verb}, so nothing is shown or exported: tell the service's administrators."
        )

    def _connect(self) -> sqlite3.Connection:
        try:
            return self._file.connect()
        except (OSError, sqlite3.Error) as error:
            raise self._unavailable("opened", error) from None

    def record(
        self,
        principal: Principal | None,
        action: str,
        filters: Mapping[str, Any] | None = None,
        row_count: int | None = None,
    ) -> AuditEntry:
        """Append one entry (who, when, role, action, filters, row count) and return it.

        Call it *before* returning patient rows: if it raises :class:`AuditUnavailable`, show a
        message instead of the rows.
        """
        if not ACTION.match(action):
            raise ValueError(f"not an audit action name: {action!r}")
        if row_count is not None and (isinstance(row_count, bool) or not isinstance(row_count, int) or row_count < 0):
            raise ValueError(f"row_count must be a non-negative int, got {row_count!r}")
        username = principal.username if principal else "(anonymous)"
        role = principal.role.value if principal else "(none)"
        filters_text = _filters_json(filters)
        now = datetime.now(UTC)
        at = now.isoformat(timespec="microseconds")
        opened = False
        try:
            # The process's kept connection: closing one of its own checkpointed the log (bench/audit_write.py).
            with self._file.kept_connection() as con:
                opened = True
                seq = self._append(con, (at, username, role, action, filters_text, row_count))
        except (OSError, sqlite3.Error) as error:
            raise self._unavailable("written" if opened else "opened", error) from None
        return AuditEntry(seq, now, username, role, action, json.loads(filters_text), row_count)

    @staticmethod
    def _append(con: sqlite3.Connection, fields: tuple[str, str, str, str, str, int | None]) -> int:
        """Append one entry continuing the chain (``fields``: at, username, role, action, filters, row_count);
        returns its sequence number."""
        try:
            # IMMEDIATE takes the write lock before reading the chain's end, so two workers cannot fork it.
            con.execute("BEGIN IMMEDIATE")
            last = con.execute("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
            entry_hash = _entry_hash(prev_hash, seq, *fields)
            con.execute(
                "INSERT INTO audit_log (seq, at, username, role, action, filters, row_count, prev_hash, entry_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, *fields, prev_hash, entry_hash),
            )
            con.execute("COMMIT")
        except sqlite3.Error:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        return seq

    def entries(
        self,
        *,
        limit: int = 500,
        username: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditEntry]:
        """Entries newest first, optionally for one username / action / since a time (all bound parameters)."""
        limit = max(1, min(int(limit), 10_000))
        clauses, params = [], []
        if username:
            clauses.append("username = ?")
            params.append(username)
        if action:
            clauses.append("action = ?")
            params.append(action)
        if since is not None:
            clauses.append("at >= ?")
            params.append(since.astimezone(UTC).isoformat(timespec="microseconds"))
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        con = self._connect()
        try:
            rows = con.execute(
                "SELECT seq, at, username, role, action, filters, row_count FROM audit_log "  # noqa: S608 (fixed clauses)
                f"{where} ORDER BY seq DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
        except sqlite3.Error as error:
            raise self._unavailable("read", error) from None
        finally:
            con.close()
        return [
            AuditEntry(seq, datetime.fromisoformat(at), user, role, act, json.loads(filters), count)
            for seq, at, user, role, act, filters, count in rows
        ]

    def verify(self) -> list[str]:
        """Problems with the log's integrity: a broken hash chain, a gap, or a missing trigger. Empty is good."""
        con = self._connect()
        try:
            triggers = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
            rows = con.execute(
                "SELECT seq, at, username, role, action, filters, row_count, prev_hash, entry_hash "
                "FROM audit_log ORDER BY seq"
            ).fetchall()
        except sqlite3.Error as error:
            raise self._unavailable("read", error) from None
        finally:
            con.close()
        problems = [f"trigger {name} is missing" for name in sorted(_TRIGGERS - triggers)]
        expected_prev, expected_seq = GENESIS_HASH, 1
        for seq, at, username, role, action, filters, row_count, prev_hash, entry_hash in rows:
            if seq != expected_seq:
                problems.append(f"entry {seq}: expected sequence number {expected_seq}")
            if prev_hash != expected_prev:
                problems.append(f"entry {seq}: does not follow the previous entry")
            if entry_hash != _entry_hash(prev_hash, seq, at, username, role, action, filters, row_count):
                problems.append(f"entry {seq}: contents do not match its hash")
            expected_prev, expected_seq = entry_hash, seq + 1
        return problems


_logs: dict[Path, AuditLog] = {}
_logs_lock = threading.Lock()


def audit_log_at(audit_dir: str | Path) -> AuditLog:
    """The process-wide :class:`AuditLog` in ``audit_dir``."""
    path = (Path(audit_dir) / AUDIT_FILE_NAME).resolve()
    with _logs_lock:
        if path not in _logs:
            _logs[path] = AuditLog(path)
        return _logs[path]


def default_log() -> AuditLog:
    """The audit log in the ``PATHFINDER_AUDIT_DIR`` setting (read at call time so tests can point elsewhere)."""
    from settings import load_settings

    return audit_log_at(load_settings().audit_dir)


def record(
    principal: Principal | None,
    action: str,
    filters: Mapping[str, Any] | None = None,
    row_count: int | None = None,
) -> AuditEntry:
    """Append an entry to the app's audit log (see :meth:`AuditLog.record`)."""
    return default_log().record(principal, action, filters, row_count)


def entries(**criteria: Any) -> list[AuditEntry]:
    """Entries of the app's audit log, newest first (see :meth:`AuditLog.entries`)."""
    return default_log().entries(**criteria)
