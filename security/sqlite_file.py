"""One SQLite file the app writes itself (the audit log, the session record), made with its schema on first use."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
        self._kept_lock = threading.Lock()
        self._kept: sqlite3.Connection | None = None
        self._kept_for: tuple[int, tuple[int, int]] | None = None  # (process id, the file's device and inode)
        self._inherited: list[sqlite3.Connection] = []

    def connect(self, *, any_thread: bool = False) -> sqlite3.Connection:
        """A new connection (autocommit: callers open their own transactions), the file made first if need be.

        ``any_thread``: usable from threads other than the one that opened it (the caller serialises its use).
        """
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
        return sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=not any_thread)

    @contextmanager
    def kept_connection(self) -> Iterator[sqlite3.Connection]:
        """This process's one long-lived connection (autocommit, as :meth:`connect`'s), to one thread at a time.

        For a write on a request's path: closing the only connection to a WAL file checkpoints the log into
        the file and syncs it again, so a write through a connection of its own cost a few times the write
        (``bench/audit_write.py``). Durability is unchanged: each commit is synced to the log as before, and
        other connections and processes read it there.

        A new connection is opened in a forked process (a parent's is never used nor closed there), when the
        file at :attr:`path` is no longer the one open (removed or replaced: writes must reach the file that is
        read, as a connection per write's did), and after any error in the block (the error propagates).
        """
        with self._kept_lock:
            con = self._kept_current()
            try:
                yield con
            except BaseException:
                self._kept = self._kept_for = None
                con.close()
                raise

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None
        return stat.st_dev, stat.st_ino

    def _kept_current(self) -> sqlite3.Connection:
        identity = self._file_identity()
        if self._kept is not None and self._kept_for != (os.getpid(), identity):
            if self._kept_for is not None and self._kept_for[0] != os.getpid():
                self._inherited.append(self._kept)  # a parent's: closing it here could checkpoint the parent's log
            else:
                self._kept.close()
            self._kept = self._kept_for = None
        if self._kept is None:
            con = self.connect(any_thread=True)
            identity = self._file_identity()
            if identity is None:  # removed as it was opened: open again on the next write
                con.close()
                raise sqlite3.OperationalError(f"{self.path} was removed")
            self._kept, self._kept_for = con, (os.getpid(), identity)
        return self._kept
