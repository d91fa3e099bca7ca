"""The one way into the database: a read-only DuckDB connection, a fresh cursor per query.

Errors from DuckDB are translated here into :class:`DataUnavailable`, whose
message a user can act on; pages show that message, never a traceback. So is a database
built by another version of the build (:mod:`data.build_version`): its tables may mean
something else, so nothing is read from it until it is rebuilt.

The served database bounds every cursor's work (``PATHFINDER_QUERY_TIMEOUT_S``): a runaway query is
interrupted rather than holding a worker thread, and its page says so. Start-up cache building, which
legitimately takes minutes on the full-London database, runs inside :func:`without_query_timeout`.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from data.build_version import stale_build_problem


class DataUnavailable(RuntimeError):
    """The database is missing, unreadable, or a query against it failed."""


# A rule a file must pass before anything is read from it: the reason to refuse it, or None.
OpenCheck = Callable[[duckdb.DuckDBPyConnection], str | None]


_unlimited: ContextVar[bool] = ContextVar("pathfinder_unlimited_queries", default=False)


@contextmanager
def without_query_timeout() -> Iterator[None]:
    """Cursors made in this block may run as long as they need (start-up cache building, not requests)."""
    token = _unlimited.set(True)
    try:
        yield
    finally:
        _unlimited.reset(token)


class _Watchdog:
    """One thread per process that interrupts cursors still running past their deadline.

    A ``threading.Timer`` per query would start a thread (about 0.25 ms) for queries that mostly take
    2 ms; here a cursor is only pushed on a heap, and a cursor idle at its deadline is left alone
    (DuckDB's interrupt is a no-op when nothing runs). Cursors are held weakly: the watchdog never
    keeps one alive.
    """

    def __init__(self, tick_s: float = 0.2):
        self._tick_s = tick_s
        self._lock = threading.Lock()
        self._deadlines: list[tuple[float, int, weakref.ref]] = []
        self._order = itertools.count()
        self._pid: int | None = None
        # A fork (gunicorn's preloaded master) copies only the forking thread, and could copy the lock
        # held by the watchdog thread mid-tick: the child starts with a fresh lock, heap and thread.
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._deadlines = []
        self._pid = None

    def watch(self, cursor: duckdb.DuckDBPyConnection, seconds: float) -> None:
        """Interrupt ``cursor`` if it is still running a query ``seconds`` from now."""
        with self._lock:
            if self._pid != os.getpid():  # first use in this process
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="query watchdog", daemon=True).start()
            heapq.heappush(self._deadlines, (time.monotonic() + seconds, next(self._order), weakref.ref(cursor)))

    def watched(self) -> int:
        """How many cursors have a deadline still to come (for tests and diagnostics)."""
        with self._lock:
            return len(self._deadlines)

    def _run(self) -> None:
        while True:
            time.sleep(self._tick_s)
            now = time.monotonic()
            with self._lock:
                expired = []
                while self._deadlines and self._deadlines[0][0] <= now:
                    expired.append(heapq.heappop(self._deadlines)[2])
            for reference in expired:
                cursor = reference()
                if cursor is not None:
                    cursor.interrupt()


_watchdog = _Watchdog()


def query_failure(error: duckdb.Error, timeout_s: float | None) -> DataUnavailable:
    """A DuckDB error as a user may read it: a query stopped after ``timeout_s`` says so and what to do."""
    if isinstance(error, duckdb.InterruptException):
        return DataUnavailable(
            f"The query took longer than {timeout_s:g} s and was stopped. Narrow the filters, or try again shortly."
        )
    return DataUnavailable(f"A query failed: {error}")


class Database:
    """A read-only handle on one built database file.

    DuckDB connections are not safe to share between threads, but cursors made
    from one connection are; each call takes its own cursor.

    Opening checks the file's build stamp (``check_build``, on unless a test opens a hand-made
    file) and every rule added with :meth:`require` (demo mode refuses a real extract): a file that
    fails one raises :class:`DataUnavailable` on every use for the life of the handle, even once the
    file is rebuilt. The rules run whenever the file is opened, so a database that appears after
    start-up passes them too.
    """

    def __init__(self, path: str | Path, *, query_timeout_s: float | None = None, check_build: bool = True):
        self.path = Path(path)
        self.query_timeout_s = query_timeout_s
        self.check_build = check_build
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._refusal: str | None = None  # why this file is never served by this handle
        self._open_checks: list[OpenCheck] = []
        self._lock = threading.Lock()

    def require(self, check: OpenCheck) -> None:
        """Refuse the file, for the life of this handle, whenever ``check`` on it gives a reason.

        Runs on the open connection now if there is one, else when the file is opened.
        """
        with self._lock:
            if check in self._open_checks:
                return
            self._open_checks.append(check)
            if self._connection is not None and (problem := check(self._connection)) is not None:
                self._refuse(problem)

    def _refuse(self, problem: str) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._refusal = f"{problem} Then restart the app."
        raise DataUnavailable(self._refusal)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._refusal is not None:
                raise DataUnavailable(self._refusal)
            if self._connection is None:
                if not self.path.exists():
                    raise DataUnavailable(
                        f"No database at {self.path}. Build one with `make data` "
                        "(or `python -m data.build synthetic --out ...`)."
                    )
                try:
                    connection = duckdb.connect(str(self.path), read_only=True)
                except duckdb.Error as error:
                    raise DataUnavailable(f"Cannot open the database {self.path}: {error}") from None
                self._connection = connection
                try:
                    problem = stale_build_problem(connection, self.path) if self.check_build else None
                except duckdb.Error as error:
                    problem = f"Cannot read the build stamp of the database {self.path}: {error}"
                for check in self._open_checks:
                    problem = problem or check(connection)
                if problem is not None:
                    self._refuse(problem)
            return self._connection

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor on the shared read-only connection, interrupted after ``query_timeout_s`` if still busy."""
        cursor = self._connect().cursor()
        if self.query_timeout_s and not _unlimited.get():
            _watchdog.watch(cursor, self.query_timeout_s)
        return cursor

    def frame(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> pd.DataFrame:
        """Run ``sql`` with bound ``params`` and return the result as a DataFrame."""
        try:
            return self.cursor().execute(sql, params).df()
        except duckdb.Error as error:
            raise query_failure(error, self.query_timeout_s) from None

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        """Run ``sql`` with bound ``params`` and return the first column of the first row."""
        try:
            row = self.cursor().execute(sql, params).fetchone()
        except duckdb.Error as error:
            raise query_failure(error, self.query_timeout_s) from None
        return None if row is None else row[0]

    def limit_memory(self, limit: str, spill_folder: Path) -> None:
        """Bound DuckDB's memory in this process to ``limit`` (empty: DuckDB's default) and spill query state
        past it to ``spill_folder`` (the process's own: the database's folder may be read-only)."""
        cursor = self._connect().cursor()
        cursor.execute("SET temp_directory = ?", [str(spill_folder)])
        if limit:
            cursor.execute("SET memory_limit = ?", [limit])

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


_databases: dict[Path, Database] = {}
_registry_lock = threading.Lock()


def get_database(path: str | Path) -> Database:
    """The process-wide :class:`Database` for ``path`` (opened lazily, once)."""
    key = Path(path).resolve()
    with _registry_lock:
        if key not in _databases:
            _databases[key] = Database(key)
        return _databases[key]


def default_database() -> Database:
    """The database named by the ``PATHFINDER_DB`` setting."""
    from settings import load_settings  # read at call time so tests can point elsewhere

    settings = load_settings()
    database = get_database(settings.db)
    database.query_timeout_s = settings.query_timeout_s or None  # 0 turns the limit off
    return database
