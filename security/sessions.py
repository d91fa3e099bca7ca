"""The server's record of live sign-in sessions, so that signing out (or 8 hours) ends a session everywhere.

Flask keeps a session in its signed cookie alone: signing out only sent the browser a new cookie, and a
copy of the old one went on working; re-signed on every request, a busy cookie never expired either.
Each sign-in now gets a random session id, kept in the cookie and in a small SQLite file beside the
audit log (``sessions.sqlite3`` in the ``audit_dir`` setting; shared by every worker process). A
request counts as signed in only while its session id is here, not ended, and under
:data:`~security.web.SESSION_LIFETIME` old, counted from sign-in.

Fails closed: when the file cannot be read, no session is live (everyone is asked to sign in again);
when it cannot be written, nobody can sign in.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from security.sqlite_file import SqliteFile

SESSIONS_FILE_NAME = "sessions.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    username   TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at   REAL
);
"""

_log = logging.getLogger(__name__)


class SessionsUnavailable(RuntimeError):
    """The session record cannot be written, so nobody can be signed in (the message is safe to show)."""


class SessionStore:
    """Live sessions in one SQLite file: :meth:`start` at sign-in, :meth:`is_live` on each request, :meth:`end`."""

    def __init__(self, path: str | Path, *, lifetime_s: float):
        self.path = Path(path)
        self.lifetime_s = lifetime_s
        self._file = SqliteFile(self.path, _SCHEMA)

    def start(self, username: str) -> str:
        """A new session id for ``username``; :class:`SessionsUnavailable` when it cannot be recorded.

        Sessions over their lifetime are removed here, so the file holds at most a day's sign-ins.
        """
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        try:
            with closing(self._file.connect()) as con:
                con.execute("DELETE FROM sessions WHERE started_at < ?", (now - self.lifetime_s,))
                con.execute(
                    "INSERT INTO sessions (session_id, username, started_at) VALUES (?, ?, ?)",
                    (session_id, username, now),
                )
        except (OSError, sqlite3.Error) as error:
            _log.error("session record %s cannot be written: %s", self.path, error)
            message = "Signing in is not possible just now: tell the service's administrators."
            raise SessionsUnavailable(message) from None
        return session_id

    def is_live(self, session_id: object, username: str) -> bool:
        """Whether ``session_id`` was started by ``username``, is not ended and is within its lifetime."""
        if not isinstance(session_id, str) or not session_id:
            return False
        try:
            with closing(self._file.connect()) as con:
                row = con.execute(
                    "SELECT username, started_at, ended_at FROM sessions WHERE session_id = ?", (session_id,)
                ).fetchone()
        except (OSError, sqlite3.Error) as error:
            _log.error("session record %s cannot be read: %s", self.path, error)
            return False
        if row is None:
            return False
        owner, started_at, ended_at = row
        return owner == username and ended_at is None and time.time() - started_at < self.lifetime_s

    def end(self, session_id: object) -> None:
        """End ``session_id`` (at sign-out); every copy of its cookie stops working. Logged, not raised, on failure:
        the browser's own cookie is cleared anyway."""
        if not isinstance(session_id, str) or not session_id:
            return
        try:
            with closing(self._file.connect()) as con:
                con.execute("UPDATE sessions SET ended_at = ? WHERE session_id = ?", (time.time(), session_id))
        except (OSError, sqlite3.Error) as error:
            _log.error("session record %s cannot be written: %s", self.path, error)
