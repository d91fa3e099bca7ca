"""The local user store: users, roles and scopes from a TOML or JSON file, never from the code.

A users file (``PATHFINDER_USERS_FILE``) looks like::

    [[users]]
    username = "a.patel"
    role = "gp_team"                 # commissioner | gp_team | campaign_responder | analyst | admin
    practices = ["E83003"]           # gp_team: their own practice(s)
    # boroughs = ["E09000012"]       # campaign_responder: borough(s) and/or
    # icbs = ["E54000029"]           #   ICB(s)
    password_hash = "scrypt:32768:8:1$..."   # from `python -m security.users hash`

(JSON: ``{"users": [{...}, ...]}``.) Passwords are only ever stored as werkzeug scrypt/pbkdf2
hashes. Scope codes are checked against ``data/reference`` so a typo cannot silently widen or
empty a scope. In demo mode the :data:`DEMO_ACCOUNTS` are added, with published passwords.

Anything else that can produce a :class:`~security.roles.Principal` for a username (an OIDC
provider, a directory) can replace this module: pages only ever see principals.
"""

from __future__ import annotations

import csv
import getpass
import json
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from security.roles import Principal, Role, Scope, validate_scope_for_role

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "data" / "reference"
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
MAX_PASSWORD_CHARS = 1024
MIN_PASSWORD_CHARS = 12
HASH_METHOD = "scrypt"
_FIELDS = {"username", "role", "password_hash", "practices", "boroughs", "icbs", "display_name"}


class UserStoreError(ValueError):
    """The user store cannot be loaded; the message names the file and the problem."""


@dataclass(frozen=True)
class DemoAccount:
    """A published demo sign-in (demo mode only)."""

    username: str
    password: str
    role: Role
    scope: Scope
    display_name: str


# Published in docs/security.md: synthetic data only, never enabled outside demo mode.
DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("demo.commissioner", "demo-commissioner", Role.COMMISSIONER, Scope(), "Demo commissioner"),
    DemoAccount(
        "demo.gp", "demo-gp", Role.GP_TEAM, Scope.of(practices=["E83003"]), "Demo GP team (Oakleigh Road, Barnet)"
    ),
    DemoAccount(
        "demo.campaign",
        "demo-campaign",
        Role.CAMPAIGN_RESPONDER,
        Scope.of(boroughs=["E09000012"]),
        "Demo campaign responder (Hackney)",
    ),
    DemoAccount("demo.analyst", "demo-analyst", Role.ANALYST, Scope(), "Demo analyst"),
    DemoAccount("demo.admin", "demo-admin", Role.ADMIN, Scope(), "Demo admin"),
)


@dataclass(frozen=True)
class UserRecord:
    """One user: who they are (principal) and their password hash."""

    principal: Principal
    password_hash: str


def hash_password(password: str) -> str:
    """A werkzeug scrypt hash of ``password`` for a users file."""
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise ValueError(f"a password needs {MIN_PASSWORD_CHARS}-{MAX_PASSWORD_CHARS} characters")
    return generate_password_hash(password, method=HASH_METHOD)


def normalise_username(username: object) -> str | None:
    """The canonical (lower-case) form of ``username``, or None if it cannot be a username."""
    if not isinstance(username, str) or len(username) > 64:
        return None
    candidate = username.strip().lower()
    return candidate if USERNAME.match(candidate) else None


@cache
def _dummy_hash() -> str:
    # Verified against when the username is unknown, so a wrong username costs as long as a wrong password.
    return generate_password_hash("not-a-real-password", method=HASH_METHOD)


class UserStore:
    """Users by username; :meth:`authenticate` checks a password, :meth:`get` reloads a signed-in user."""

    def __init__(self, records: Iterable[UserRecord], source: str):
        self.source = source
        self._records: dict[str, UserRecord] = {}
        for record in records:
            name = record.principal.username
            if name in self._records:
                raise UserStoreError(f"{source}: user {name!r} is defined twice")
            self._records[name] = record

    def __len__(self) -> int:
        return len(self._records)

    def get(self, username: object) -> Principal | None:
        """The principal for ``username``, or None (unknown or malformed)."""
        name = normalise_username(username)
        record = self._records.get(name) if name else None
        return record.principal if record else None

    def authenticate(self, username: object, password: object) -> Principal | None:
        """The principal when ``password`` is right for ``username``; None otherwise (constant-ish time)."""
        name = normalise_username(username)
        if not isinstance(password, str) or not password or len(password) > MAX_PASSWORD_CHARS:
            return None
        record = self._records.get(name) if name else None
        stored = record.password_hash if record else _dummy_hash()
        try:
            ok = check_password_hash(stored, password)
        except ValueError:  # a malformed hash in the file: treat as a wrong password, never a 500
            ok = False
        return record.principal if (ok and record is not None) else None

    def principals(self) -> list[Principal]:
        """Every user, sorted by username (for the admin page; no hashes)."""
        return [self._records[name].principal for name in sorted(self._records)]


@cache
def reference_codes() -> dict[str, frozenset[str]]:
    """Known practice, borough and ICB codes from ``data/reference`` (scopes are checked against these)."""

    def column(file: str, name: str) -> frozenset[str]:
        with (REFERENCE_DIR / file).open(newline="", encoding="utf-8") as handle:
            return frozenset(row[name] for row in csv.DictReader(handle))

    return {
        "practices": column("practices.csv", "practice_code"),
        "boroughs": column("boroughs.csv", "borough_code"),
        "icbs": column("icbs.csv", "icb_code"),
    }


def _codes(entry: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = entry.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserStoreError(f"{where}: {key} must be a list of codes")
    return [v.strip().upper() for v in value]


def parse_user(entry: object, where: str) -> UserRecord:
    """One user entry from a users file, checked; :class:`UserStoreError` names what is wrong."""
    if not isinstance(entry, Mapping):
        raise UserStoreError(f"{where}: each user must be a table/object")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise UserStoreError(f"{where}: unknown field(s) {', '.join(unknown)}")
    username = normalise_username(entry.get("username"))
    if username is None:
        raise UserStoreError(f"{where}: username missing or not of the form {USERNAME.pattern}")
    where = f"{where} ({username})"
    try:
        role = Role(entry.get("role"))
    except ValueError:
        raise UserStoreError(f"{where}: role must be one of {', '.join(r.value for r in Role)}") from None
    password_hash = entry.get("password_hash")
    if not isinstance(password_hash, str) or not password_hash.startswith(("scrypt:", "pbkdf2:")):
        raise UserStoreError(f"{where}: password_hash must be a scrypt or pbkdf2 hash (python -m security.users hash)")
    scope = Scope.of(_codes(entry, "practices", where), _codes(entry, "boroughs", where), _codes(entry, "icbs", where))
    problems = validate_scope_for_role(role, scope)
    known = reference_codes()
    problems += [f"unknown practice {c}" for c in sorted(scope.practice_codes - known["practices"])]
    problems += [f"unknown borough {c}" for c in sorted(scope.borough_codes - known["boroughs"])]
    problems += [f"unknown ICB {c}" for c in sorted(scope.icb_codes - known["icbs"])]
    if problems:
        raise UserStoreError(f"{where}: {'; '.join(problems)}")
    display_name = entry.get("display_name", "")
    if not isinstance(display_name, str) or len(display_name) > 120:
        raise UserStoreError(f"{where}: display_name must be a short string")
    return UserRecord(Principal(username, role, scope, display_name), password_hash)


def load_users_file(path: str | Path) -> list[UserRecord]:
    """Every user in a ``.toml`` or ``.json`` users file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UserStoreError(f"cannot read users file {path}: {error.strerror or error}") from None
    try:
        document = json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise UserStoreError(
            f"users file {path} is not valid {path.suffix.lstrip('.').upper() or 'TOML'}: {error}"
        ) from None
    users = document.get("users") if isinstance(document, dict) else None
    if not isinstance(users, list) or not users:
        raise UserStoreError(f"users file {path} has no [[users]] entries")
    return [parse_user(entry, f"{path} user #{n}") for n, entry in enumerate(users, start=1)]


@cache
def demo_records() -> tuple[UserRecord, ...]:
    """The demo accounts as user records (hashed once per process)."""
    return tuple(
        UserRecord(
            Principal(a.username, a.role, a.scope, a.display_name),
            generate_password_hash(a.password, method=HASH_METHOD),
        )
        for a in DEMO_ACCOUNTS
    )


def build_user_store(users_file: str, *, demo: bool) -> UserStore:
    """The store for these settings: the users file (if any) plus, in demo mode, the demo accounts."""
    records: list[UserRecord] = []
    sources = []
    if users_file:
        records.extend(load_users_file(users_file))
        sources.append(str(users_file))
    if demo:
        records.extend(demo_records())
        sources.append("demo accounts")
    if not records:
        raise UserStoreError("no users: set PATHFINDER_USERS_FILE (or PATHFINDER_DEMO=true for the demo accounts)")
    return UserStore(records, " + ".join(sources))


def main(argv: list[str] | None = None) -> int:
    """``python -m security.users hash`` prints a password hash; ``check FILE`` validates a users file."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["hash"]:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            print("The passwords differ.", file=sys.stderr)
            return 1
        try:
            print(hash_password(password))
        except ValueError as error:
            print(str(error), file=sys.stderr)
            return 1
        return 0
    if args[:1] == ["check"] and len(args) == 2:
        try:
            records = load_users_file(args[1])
        except UserStoreError as error:
            print(str(error), file=sys.stderr)
            return 1
        for record in records:
            p = record.principal
            print(f"{p.username:24s} {p.role.value:20s} {p.scope.describe()}")
        return 0
    print("usage: python -m security.users hash | check USERS_FILE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
