"""Application settings, declared once: name, default, help and environment variable.

Every setting is read from a ``PATHFINDER_*`` environment variable or takes its
default. An unknown ``PATHFINDER_*`` variable stops start-up with a clear message,
so a typo in a deployment cannot silently fall back to a default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent
ENV_PREFIX = "PATHFINDER_"


class SettingsError(ValueError):
    """A setting has a value the app cannot use."""


@dataclass(frozen=True)
class Setting:
    """One declared setting."""

    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name.upper()


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true/false, got {text!r}")


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        number = int(text)
        if number < minimum:
            raise ValueError(f"must be {minimum} or more, got {number}")
        return number

    return parse


def _memory(text: str) -> str:
    # Passed to DuckDB's memory_limit; checked here so a typo stops start-up rather than the first query.
    if text and not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", text.strip()):
        raise ValueError(f"expected a size such as 1GB or 800MiB (or empty for DuckDB's default), got {text!r}")
    return text.strip()


def _port(text: str) -> int:
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be 1-65535, got {port}")
    return port


SETTINGS: tuple[Setting, ...] = (
    Setting("db", str(PROJECT_ROOT / "data/generated/pathfinder.duckdb"), "Path of the DuckDB database to serve"),
    Setting("host", "127.0.0.1", "Address the development server listens on"),
    Setting("port", 8050, "Port the development server listens on", _port),
    Setting("debug", False, "Run Dash in debug mode (never in production)", _bool),
    Setting(
        "query_timeout_s",
        10,
        "Longest a request's query may run before it is interrupted (0: no limit; start-up warm-up is exempt)",
        _at_least(0),
    ),
    Setting("audit_dir", str(PROJECT_ROOT / "audit"), "Folder for the append-only export audit log"),
    Setting("secret_key", "", "Flask session secret (32+ chars); required unless demo, where empty means random"),
    Setting("demo", False, "Demo mode: published demo accounts, one per role (synthetic data only)", _bool),
    Setting("users_file", "", "TOML/JSON file of users, roles and scopes (required unless demo)"),
    Setting("auth_required", True, "Require sign-in for every page and callback (false only in demo mode)", _bool),
    Setting("secure_cookies", False, "Always mark cookies Secure and send HSTS (set when behind a TLS proxy)", _bool),
    Setting("workers", 2, "Gunicorn worker processes for `make serve` (each opens the database)", _at_least(1)),
    Setting("query_cache", 1024, "Aggregate query results cached per worker (LRU; 0 disables)", _at_least(0)),
    Setting(
        "query_cache_mb",
        256,
        "Memory the cached query results may hold per worker, in MB (the least recently used go first)",
        _at_least(1),
    ),
    Setting(
        "db_memory_limit",
        "1GB",
        "DuckDB memory per serving process (cached pages, in-memory caches, queries; more spills to disk)",
        _memory,
    ),
)


@dataclass(frozen=True)
class Settings:
    """Resolved settings; build with :func:`load_settings`."""

    db: str
    host: str
    port: int
    debug: bool
    query_timeout_s: int
    audit_dir: str
    secret_key: str
    demo: bool
    users_file: str
    auth_required: bool
    secure_cookies: bool
    workers: int
    query_cache: int
    query_cache_mb: int
    db_memory_limit: str


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve every setting from ``environ`` (default: the process environment).

    Raises :class:`SettingsError` naming the variable for an unknown variable or
    a value that does not parse.
    """
    environ = os.environ if environ is None else environ
    known = {s.env_var: s for s in SETTINGS}
    unknown = sorted(k for k in environ if k.startswith(ENV_PREFIX) and k not in known)
    if unknown:
        raise SettingsError(f"Unknown setting(s) {', '.join(unknown)}. Known: {', '.join(sorted(known))}.")
    values = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env_var)
        if raw is None:
            values[setting.name] = setting.default
            continue
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as error:
            raise SettingsError(f"{setting.env_var}={raw!r} is not valid: {error}") from None
    return Settings(**values)


def describe() -> str:
    """A table of every setting, its variable, default and help (docs/settings.md is the prose version)."""
    lines = [f"{s.env_var:28s} default {s.default!s:10.50s}  {s.help}" for s in SETTINGS]
    return "\n".join(lines)
