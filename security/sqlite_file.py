"""One SQLite file the app writes itself (the audit log, the session record), made with its schema on first use."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class SqliteFile:
    """A SQLite file in WAL mode (readers never wait for the one writer), shared by threads and worker processes.

    :meth:`connect` gives a new autocommit connection per call; the folder, file and ``schema`` (idempotent
    SQL: ``CREATE ... IF NOT EXISTS``) are made by the first call. Raises ``OSError`` or ``sqlite3.Error``:
    each owner says in its own words what cannot then be done.
    """

    def __init__(self, path: str | Path, schema: str):
        self.path = Path(path)
        self._schema = schema
        self._lock = threading.Lock()
        self._ready = False

    def connect(self) -> sqlite3.Connection:
        """A new connection (autocommit: callers open their own transactions), the file made first if need be."""
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    con = sqlite3.connect(self.path, timeout=10, isolation_level=None)
                    try:
                        con.execute("PRAGMA journal_mode=WAL")
                        con.executescript(self._schema)
                    finally:
                        con.close()
                    self._ready = True
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)
