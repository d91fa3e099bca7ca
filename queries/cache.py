"""A per-process, bounded, least-recently-used cache of aggregate query results.

Pages ask the same aggregate questions again and again (every visitor to the hypertension page
loads the same borough comparison); each answer is a pure function of the call and the database
it was read from. :func:`cached_query` memoises such a function under a key made of

- the function (module and name),
- every argument, bound to the signature and normalised (defaults filled in, dicts sorted, lists
  as tuples, the type of each scalar kept, so ``disclose=True`` and ``disclose=1`` never share),
- the identity of the database the connection reads: its file path, ``meta.built_at`` and the
  file's inode, read once per connection. A rebuilt database (a new file moved into place) gives
  a new identity, so its answers never come from the old file's entries.

Rules it keeps:

- Only aggregates are decorated. Patient-row functions (cohort lists, patient exports) never are,
  and as a second guard a result holding a ``patient_id`` column is returned but never stored.
- Every hit returns a copy, so a caller that adds a column cannot change what the next caller sees.
- ``disclose`` (disclosure control on or off) is an argument like any other, so rounded and
  unrounded answers live under different keys.
- Connections whose database has no file (in-memory) are not cached.

The cache is bounded twice: by entries (``PATHFINDER_QUERY_CACHE``) and by the memory its results hold
(``PATHFINDER_QUERY_CACHE_MB``, each result charged :func:`result_bytes`). Results differ in size by two
orders of magnitude (a borough row set is kilobytes, a small-area one about 2 MB), so an entry count alone
bounds nothing: 256 small-area results held 398 MB in one worker (bench/results/2026-11-28-cache-budget.md).

The cache is off (size 0) until :func:`configure` turns it on: the app does so in each worker at start
(``app.start_worker``) with the ``PATHFINDER_QUERY_CACHE`` setting (0 keeps it off). Scripts, benchmarks
and tests that import the query functions therefore measure and check the engine itself, not the cache.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import functools
import inspect
import logging
import os
import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import duckdb
import numpy as np
import pandas as pd

from queries.db import Database

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

#: Column names that mark a result as patient rows: such results are never stored.
PATIENT_ROW_COLUMNS = frozenset({"patient_id", "nhs_number"})


class _Uncacheable(Exception):
    """An argument that has no stable, hashable form (the call then runs uncached)."""


@dataclasses.dataclass
class CacheStats:
    """Counters since the last :func:`clear` (per process)."""

    hits: int = 0
    misses: int = 0
    uncacheable: int = 0
    refused: int = 0  # results holding patient rows, returned but not stored
    too_large: int = 0  # results over a share of the byte budget, returned but not stored


class PerConnection:
    """Small per-connection cache of values read once per database handle (periods, area names, pickers).

    Holds a reference to each connection it caches for, so an id cannot be reused by another connection
    while its entry lives; the oldest entries are dropped."""

    def __init__(self, size: int = 16):
        self.size = size
        self.entries: OrderedDict[int, tuple[Any, dict[str, Any]]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, con: Any) -> dict[str, Any]:
        with self.lock:
            entry = self.entries.get(id(con))
            if entry is None or entry[0] is not con:
                entry = (con, {})
                self.entries[id(con)] = entry
                while len(self.entries) > self.size:
                    self.entries.popitem(last=False)
            self.entries.move_to_end(id(con))
            return entry[1]


# One result may hold at most this share of the byte budget: a larger one would push out most of the others.
LARGEST_SHARE = 8


class QueryCache:
    """A thread-safe LRU of ``key -> result`` with at most ``size`` entries holding at most ``max_bytes``.

    Each result is charged :func:`result_bytes` when stored; the least recently used go first when either
    bound is passed. A result over ``max_bytes / LARGEST_SHARE`` is not stored (counted as ``too_large``).
    """

    def __init__(self, size: int, max_bytes: int):
        self.size = size
        self.max_bytes = max_bytes
        self.bytes_held = 0
        self._entries: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def get(self, key: tuple) -> tuple[bool, Any]:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.stats.hits += 1
                return True, self._entries[key][0]
            self.stats.misses += 1
            return False, None

    def put(self, key: tuple, value: Any) -> None:
        charged = result_bytes(value)  # outside the lock: sizing a large frame takes a millisecond or two
        with self._lock:
            if charged > self.max_bytes // LARGEST_SHARE:
                self.stats.too_large += 1
                return
            replaced = self._entries.pop(key, None)
            if replaced is not None:
                self.bytes_held -= replaced[1]
            self._entries[key] = (value, charged)
            self.bytes_held += charged
            while len(self._entries) > self.size or self.bytes_held > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.bytes_held -= dropped

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes_held = 0
            self.stats = CacheStats()

    def __len__(self) -> int:
        return len(self._entries)


# Object columns longer than this are sized from an evenly spaced sample of their rows (see result_bytes).
_SAMPLED_ROWS = 256


def _frame_bytes(frame: pd.DataFrame | pd.Series) -> int:
    rows = len(frame)
    step = max(1, -(-rows // _SAMPLED_ROWS))
    total = int(frame.index.memory_usage())
    for _, column in frame.items() if isinstance(frame, pd.DataFrame) else [(frame.name, frame)]:
        if column.dtype == object:
            # As pandas' deep count: a pointer a row, and each object's own size (sampled, then scaled).
            sample = column.to_numpy()[::step]
            total += 8 * rows + round(sum(map(sys.getsizeof, sample)) * rows / max(1, len(sample)))
        else:
            total += int(column.array.nbytes)
    return total


def result_bytes(value: Any) -> int:
    """The memory ``value`` holds, as the cache charges it: exact for arrays, estimated for Python objects.

    A frame's arrays (numbers, Arrow-backed text) are counted exactly and the Python objects of its object
    columns (counts that may be None, labels) from an evenly spaced sample of :data:`_SAMPLED_ROWS` rows,
    scaled: pandas' deep ``memory_usage`` visits every object, 2.5-5 ms for a small-area frame, longer than
    many of the queries whose results it would size. Containers and dataclasses are the sum of what they hold.
    """
    if isinstance(value, pd.DataFrame | pd.Series):
        return _frame_bytes(value)
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(result_bytes(k) + result_bytes(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return sys.getsizeof(value) + sum(result_bytes(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sys.getsizeof(value) + sum(result_bytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    return sys.getsizeof(value)


_cache = QueryCache(0, 0)  # off until configure()
_cache_lock = threading.Lock()
_registry: list[Callable[..., Any]] = []


def configure(size: int | None = None, *, max_mb: int | None = None) -> QueryCache:
    """(Re)create the process's cache: ``size`` entries holding at most ``max_mb`` MB of results.

    Defaults: the ``query_cache`` and ``query_cache_mb`` settings. Size 0 disables the cache.
    """
    global _cache
    if size is None or max_mb is None:
        from settings import load_settings  # read when called, so tests and workers can point elsewhere

        settings = load_settings()
        size = settings.query_cache if size is None else size
        max_mb = settings.query_cache_mb if max_mb is None else max_mb
    if size < 0:
        raise ValueError(f"cache size must be 0 or more, got {size}")
    if max_mb < 1:
        raise ValueError(f"cache memory must be 1 MB or more, got {max_mb}")
    with _cache_lock:
        _cache = QueryCache(size, max_mb * 1_000_000)
        return _cache


def current() -> QueryCache:
    """The process's cache (size 0, i.e. off, until :func:`configure`)."""
    return _cache


def clear() -> None:
    """Drop every entry and reset the counters."""
    current().clear()


def stats() -> CacheStats:
    """Hits, misses, uncacheable calls and refused results since the last :func:`clear`."""
    return dataclasses.replace(current().stats)


def cached_functions() -> list[Callable[..., Any]]:
    """Every function decorated with :func:`cached_query` (imported so far)."""
    return list(_registry)


# --- database identity ---------------------------------------------------------------------------

_identities: OrderedDict[int, tuple[weakref.ref, tuple | None]] = OrderedDict()
_identities_lock = threading.Lock()
_IDENTITY_SLOTS = 64


def _connection_of(con: Any) -> Any:
    # A Database hands out a fresh cursor per call; its one underlying connection is what stays put,
    # so the identity is remembered against that (opened lazily, as any query would).
    if isinstance(con, Database):
        return con._connect()
    return con


def _read_identity(con: Any) -> tuple | None:
    cursor = con.cursor()
    path = cursor.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    if path is None or not path[0]:
        return None  # in-memory: no file whose rebuild could be detected
    try:
        built_at = cursor.execute("SELECT value FROM meta WHERE key = 'built_at'").fetchone()
    except duckdb.Error:  # a database without meta is still identified by its file
        built_at = None
    try:
        inode = os.stat(path[0]).st_ino
    except OSError:
        inode = None
    return (os.path.realpath(path[0]), built_at[0] if built_at else None, inode)


def database_identity(con: Any) -> tuple | None:
    """``(path, built_at, inode)`` of the database ``con`` reads, or None when it has no file.

    Read once per connection object: an open connection keeps reading the file it opened even after
    a rebuild replaces the path, so its identity must not change under it; a new connection (after a
    restart or :meth:`Database.close`) reads the new file and gets the new identity.
    """
    connection = _connection_of(con)
    key = id(connection)
    with _identities_lock:
        entry = _identities.get(key)
        # A weak reference: the entry does not keep a closed-over connection open, and an id reused by a
        # new connection does not match the dead one.
        if entry is not None and entry[0]() is connection:
            _identities.move_to_end(key)
            return entry[1]
    identity = _read_identity(connection)
    with _identities_lock:
        _identities[key] = (weakref.ref(connection), identity)
        while len(_identities) > _IDENTITY_SLOTS:
            _identities.popitem(last=False)
    return identity


# --- keys and copies ---------------------------------------------------------------------------------

_SCALARS = (str, int, float, bool, bytes, type(None), dt.date, dt.datetime, dt.time, dt.timedelta, np.generic)


def normalise(value: Any) -> Any:
    """A hashable form of an argument that equal arguments share (raises ``_Uncacheable`` otherwise)."""
    if isinstance(value, _SCALARS):
        return (type(value).__name__, value)
    if isinstance(value, dict):
        return ("dict", tuple(sorted(((normalise(k), normalise(v)) for k, v in value.items()), key=repr)))
    if isinstance(value, list | tuple):
        return ("seq", tuple(normalise(item) for item in value))
    if isinstance(value, set | frozenset):
        return ("set", tuple(sorted((normalise(item) for item in value), key=repr)))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = tuple((f.name, normalise(getattr(value, f.name))) for f in dataclasses.fields(value))
        return (type(value).__qualname__, fields)
    raise _Uncacheable(type(value).__name__)


def _detach(value: Any) -> Any:
    """A copy the caller may change without touching the stored entry."""
    if isinstance(value, pd.DataFrame | pd.Series | np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _detach(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_detach(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_detach(v) for v in value)
    if isinstance(value, _SCALARS):
        return value
    return copy.deepcopy(value)


def holds_patient_rows(value: Any) -> bool:
    """True when ``value`` is, or contains, a frame with a patient identifier column."""
    if isinstance(value, pd.DataFrame):
        return not PATIENT_ROW_COLUMNS.isdisjoint(map(str, value.columns))
    if isinstance(value, dict):
        return any(holds_patient_rows(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(holds_patient_rows(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(holds_patient_rows(getattr(value, f.name)) for f in dataclasses.fields(value))
    return False


def cached_query(function: F) -> F:
    """Memoise an aggregate query ``function(con, ...)`` in the process's cache.

    The first parameter must be the connection (a :class:`queries.db.Database`, DuckDB connection or
    cursor); every other argument becomes part of the key. Never use it on a function that returns
    patient rows.
    """
    signature = inspect.signature(function)
    name = f"{function.__module__}.{function.__qualname__}"

    @functools.wraps(function)
    def wrapper(con: Any, *args: Any, **kwargs: Any) -> Any:
        cache = current()
        if cache.size == 0:
            return function(con, *args, **kwargs)
        try:
            bound = signature.bind(con, *args, **kwargs)
            bound.apply_defaults()
            arguments = tuple((k, normalise(v)) for k, v in list(bound.arguments.items())[1:])
            identity = database_identity(con)
        except _Uncacheable:
            identity = None
        if identity is None:
            cache.stats.uncacheable += 1
            return function(con, *args, **kwargs)
        key = (name, identity, arguments)
        found, value = cache.get(key)
        if found:
            return _detach(value)
        value = function(con, *args, **kwargs)
        if holds_patient_rows(value):
            cache.stats.refused += 1
            log.warning("%s returned patient rows: not cached", name)
            return value
        cache.put(key, value)
        return _detach(value)

    wrapper.uncached = function  # type: ignore[attr-defined]
    _registry.append(wrapper)
    return wrapper  # type: ignore[return-value]
