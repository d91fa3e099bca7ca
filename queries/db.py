"""The one way into the database: a read-only DuckDB connection, a fresh cursor per query.

Errors from DuckDB are translated here into :class:`DataUnavailable`, whose
message a user can act on; pages show that message, never a traceback.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd


class DataUnavailable(RuntimeError):
    """The database is missing, unreadable, or a query against it failed."""


class Database:
    """A read-only handle on one built database file.

    DuckDB connections are not safe to share between threads, but cursors made
    from one connection are; each call takes its own cursor.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._connection is None:
                if not self.path.exists():
                    raise DataUnavailable(
                        f"No database at {self.path}. Build one with `make data` "
                        "(or `python -m data.build synthetic --out ...`)."
                    )
                try:
                    self._connection = duckdb.connect(str(self.path), read_only=True)
                except duckdb.Error as error:
                    raise DataUnavailable(f"Cannot open the database {self.path}: {error}") from None
            return self._connection

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor on the shared read-only connection."""
        return self._connect().cursor()

    def frame(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> pd.DataFrame:
        """Run ``sql`` with bound ``params`` and return the result as a DataFrame."""
        try:
            return self.cursor().execute(sql, params).df()
        except duckdb.Error as error:
            raise DataUnavailable(f"A query failed: {error}") from None

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        """Run ``sql`` with bound ``params`` and return the first column of the first row."""
        try:
            row = self.cursor().execute(sql, params).fetchone()
        except duckdb.Error as error:
            raise DataUnavailable(f"A query failed: {error}") from None
        return None if row is None else row[0]

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

    return get_database(load_settings().db)
