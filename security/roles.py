"""Roles, permissions and the one access policy every page and query asks.

Who a user is arrives as a :class:`Principal` (username, role, scope), whatever signed
them in: the local user store today, an identity provider (OIDC) later. Pages never look
at roles directly; they ask the policy functions here:

- :func:`patient_row_scope` — which patient rows (if any) this user may see, as a
  :class:`RowScope` the queries turn into bound-parameter filters;
- :func:`may_see_unrounded` — whether aggregates may skip disclosure control;
- :func:`may_see_unrounded_for_practice` — whether one practice's own figures may, because the
  principal may list that practice's patients anyway;
- :func:`has_permission` / :func:`require` — everything else (the audit log, users).

Every function fails closed: no principal, an unknown role or an empty scope means
no patient rows and disclosure control applied.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """The five roles of issue 10 ("Six Safes": safe people)."""

    COMMISSIONER = "commissioner"
    GP_TEAM = "gp_team"
    CAMPAIGN_RESPONDER = "campaign_responder"
    ANALYST = "analyst"
    ADMIN = "admin"


class Permission(StrEnum):
    """What a role may do; patient-row permissions are further limited by the principal's scope."""

    VIEW_AGGREGATES = "view_aggregates"
    VIEW_UNROUNDED = "view_unrounded"
    VIEW_PATIENT_ROWS = "view_patient_rows"
    EXPORT_PATIENT_ROWS = "export_patient_rows"
    VIEW_AUDIT_LOG = "view_audit_log"
    VIEW_USERS = "view_users"


PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.COMMISSIONER: frozenset({Permission.VIEW_AGGREGATES}),
    Role.GP_TEAM: frozenset({Permission.VIEW_AGGREGATES, Permission.VIEW_PATIENT_ROWS, Permission.EXPORT_PATIENT_ROWS}),
    Role.CAMPAIGN_RESPONDER: frozenset(
        {Permission.VIEW_AGGREGATES, Permission.VIEW_PATIENT_ROWS, Permission.EXPORT_PATIENT_ROWS}
    ),
    Role.ANALYST: frozenset({Permission.VIEW_AGGREGATES, Permission.VIEW_UNROUNDED}),
    # The admin manages people and reads the audit log; seeing patients is not part of that job.
    Role.ADMIN: frozenset({Permission.VIEW_AGGREGATES, Permission.VIEW_AUDIT_LOG, Permission.VIEW_USERS}),
}

ROLE_DESCRIPTIONS: Mapping[Role, str] = {
    Role.COMMISSIONER: "Aggregates only, with disclosure control applied",
    Role.GP_TEAM: "Aggregates with disclosure control; patient rows for their own practice only",
    Role.CAMPAIGN_RESPONDER: "Aggregates with disclosure control; patient rows within an assigned borough or ICB",
    Role.ANALYST: "Unrounded aggregates; no patient rows",
    Role.ADMIN: "Users and the audit log; aggregates with disclosure control",
}

# \Z, not $: $ also matches before a final newline, so "E83003\n" passed as a practice code.
PRACTICE_CODE = re.compile(r"^[A-Z][0-9A-Z]{5}\Z")
BOROUGH_CODE = re.compile(r"^E09[0-9]{6}\Z")
ICB_CODE = re.compile(r"^E54[0-9]{6}\Z")
# Column names handed to RowScope.sql_filter come from query code, never from users; checked anyway.
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?\Z")


class AccessDenied(PermissionError):
    """The signed-in user may not do this; the message is safe to show them."""


@dataclass(frozen=True)
class Scope:
    """Where a principal's patient-level entitlement applies: practices, boroughs, ICBs (ONS/ODS codes)."""

    practice_codes: frozenset[str] = frozenset()
    borough_codes: frozenset[str] = frozenset()
    icb_codes: frozenset[str] = frozenset()

    @classmethod
    def of(cls, practices: Iterable[str] = (), boroughs: Iterable[str] = (), icbs: Iterable[str] = ()) -> Scope:
        """A scope from any iterables of codes."""
        return cls(frozenset(practices), frozenset(boroughs), frozenset(icbs))

    def is_empty(self) -> bool:
        return not (self.practice_codes or self.borough_codes or self.icb_codes)

    @property
    def single_practice(self) -> str | None:
        """The practice code when the scope names exactly one practice (a GP team's own), else None."""
        return next(iter(self.practice_codes)) if len(self.practice_codes) == 1 else None

    def describe(self) -> str:
        """A short human-readable summary, e.g. ``practice E83003``."""
        parts = []
        for label, codes in (
            ("practice", self.practice_codes),
            ("borough", self.borough_codes),
            ("ICB", self.icb_codes),
        ):
            if codes:
                parts.append(f"{label} {', '.join(sorted(codes))}")
        return "; ".join(parts) or "none"


@dataclass(frozen=True)
class Principal:
    """Who is asking: what any sign-in method (local users, OIDC) must produce."""

    username: str
    role: Role
    scope: Scope = field(default_factory=Scope)
    display_name: str = ""

    @property
    def label(self) -> str:
        return self.display_name or self.username


@dataclass(frozen=True)
class RowScope:
    """The patient rows a principal may see: rows matching ANY listed practice, borough or ICB.

    Queries apply it with :meth:`sql_filter` (bound parameters only) or, on a frame already
    fetched, with :meth:`permits`. An empty RowScope permits nothing.
    """

    practice_codes: tuple[str, ...] = ()
    borough_codes: tuple[str, ...] = ()
    icb_codes: tuple[str, ...] = ()

    def sql_filter(
        self,
        practice_column: str = "practice_code",
        borough_column: str = "borough_code",
        icb_column: str = "icb_code",
    ) -> tuple[str, list[str]]:
        """A SQL boolean expression and its parameters restricting rows to this scope.

        ``patient_dim`` names the practice's borough ``borough_code`` and its ICB ``icb_code``
        (registered population, as COVER and QOF count it), which are the defaults.
        """
        clauses: list[str] = []
        params: list[str] = []
        columns = {"practice": practice_column, "borough": borough_column, "icb": icb_column}
        for level, codes in self.levels():
            column = columns[level]
            if not _IDENTIFIER.match(column):
                raise ValueError(f"not a plain column name: {column!r}")
            clauses.append(f"{column} IN ({', '.join('?' for _ in codes)})")
            params.extend(codes)
        if not clauses:
            return "FALSE", []
        return "(" + " OR ".join(clauses) + ")", params

    def bound_filter(self, params: dict[str, Any], table: str = "d") -> str:
        """:meth:`sql_filter` for a query with named parameters: a boolean expression over ``table``'s
        ``practice_code``, ``borough_code`` and ``icb_code``, whose code lists it adds to ``params`` as
        ``$scope_practices``, ``$scope_boroughs`` and ``$scope_icbs``."""
        if not _IDENTIFIER.match(table):
            raise ValueError(f"not a plain table name: {table!r}")
        clauses = []
        for level, codes in self.levels():
            key = f"scope_{level}s"
            params[key] = list(codes)
            clauses.append(f"list_contains(${key}, {table}.{level}_code)")
        return "(" + (" OR ".join(clauses) if clauses else "FALSE") + ")"

    def levels(self) -> list[tuple[str, tuple[str, ...]]]:
        """``(level, codes)`` for each level the scope lists: ``practice``, then ``borough``, then ``icb``."""
        listed = (("practice", self.practice_codes), ("borough", self.borough_codes), ("icb", self.icb_codes))
        return [(level, codes) for level, codes in listed if codes]

    def permits(self, practice_code: str | None, borough_code: str | None = None, icb_code: str | None = None) -> bool:
        """Whether a row registered at this practice / borough / ICB is inside the scope."""
        return (
            (practice_code is not None and practice_code in self.practice_codes)
            or (borough_code is not None and borough_code in self.borough_codes)
            or (icb_code is not None and icb_code in self.icb_codes)
        )

    def as_filters(self) -> dict[str, list[str]]:
        """The scope as plain lists, for the audit record."""
        return {
            "scope_practices": list(self.practice_codes),
            "scope_boroughs": list(self.borough_codes),
            "scope_icbs": list(self.icb_codes),
        }


def has_permission(principal: Principal | None, permission: Permission) -> bool:
    """Whether ``principal``'s role grants ``permission`` (never for an anonymous visitor)."""
    if principal is None:
        return False
    return permission in PERMISSIONS.get(principal.role, frozenset())


def require(principal: Principal | None, permission: Permission) -> Principal:
    """Return ``principal`` if it holds ``permission``; else raise :class:`AccessDenied` with a message."""
    if principal is None:
        raise AccessDenied("Please sign in to see this.")
    if not has_permission(principal, permission):
        raise AccessDenied(f"Your role ({principal.role.value}) does not allow this.")
    return principal


def patient_row_scope(principal: Principal | None) -> RowScope | None:
    """The patient rows ``principal`` may see, or None for no patient rows at all.

    gp_team: their own practice(s) only; campaign_responder: their borough(s) and/or ICB(s).
    Every other role, an anonymous visitor, or a patient-level role with an empty scope: None.
    """
    if not has_permission(principal, Permission.VIEW_PATIENT_ROWS):
        return None
    assert principal is not None  # has_permission is False for None
    scope = principal.scope
    if principal.role is Role.GP_TEAM:
        row_scope = RowScope(practice_codes=tuple(sorted(scope.practice_codes)))
    elif principal.role is Role.CAMPAIGN_RESPONDER:
        row_scope = RowScope(borough_codes=tuple(sorted(scope.borough_codes)), icb_codes=tuple(sorted(scope.icb_codes)))
    else:  # a role granted patient rows without a scope rule: refuse rather than guess
        return None
    if not (row_scope.practice_codes or row_scope.borough_codes or row_scope.icb_codes):
        return None
    return row_scope


def require_patient_rows(principal: Principal | None) -> RowScope:
    """The principal's :class:`RowScope`, or :class:`AccessDenied` with a message a user can read."""
    scope = patient_row_scope(principal)
    if scope is None:
        if principal is None:
            raise AccessDenied("Please sign in to see patient-level rows.")
        raise AccessDenied(
            f"Your role ({principal.role.value}) does not give access to patient-level rows; "
            "aggregate figures are on the dashboards."
        )
    return scope


def may_see_unrounded(principal: Principal | None) -> bool:
    """Whether aggregates may be shown without disclosure control (only the analyst role)."""
    return has_permission(principal, Permission.VIEW_UNROUNDED)


def may_see_unrounded_for_practice(
    principal: Principal | None, practice_code: str, borough_code: str | None = None, icb_code: str | None = None
) -> bool:
    """Whether one practice's OWN figures (its counts, value, interval) may be shown without disclosure control.

    True for a role that sees every aggregate unrounded (:func:`may_see_unrounded`), and for one whose
    patient-row scope covers the whole practice: a gp_team user for their own practice, a
    campaign_responder for a practice registered in their borough or ICB. Rounding a count of
    children they may list one by one protects nobody. Pass the practice's ``borough_code`` and
    ``icb_code`` (its registered borough and ICB, as ``patient_dim`` holds them): without them a
    borough or ICB scope cannot cover it. Figures of areas holding other practices' patients (PCN,
    borough, London) stay under disclosure control: this answers for the one practice only.

    Fails closed: no principal, no patient-row scope or a code that is not a practice code: False.
    """
    if may_see_unrounded(principal):
        return True
    if not isinstance(practice_code, str) or not PRACTICE_CODE.match(practice_code):
        return False
    scope = patient_row_scope(principal)
    return scope is not None and scope.permits(practice_code, borough_code, icb_code)


def validate_scope_for_role(role: Role, scope: Scope) -> list[str]:
    """Problems with giving ``scope`` to ``role`` (wrong code shapes, scope missing or not allowed)."""
    problems = [
        f"practice code {c!r} is not an ODS practice code" for c in scope.practice_codes if not PRACTICE_CODE.match(c)
    ]
    problems += [f"borough code {c!r} is not an E09 code" for c in scope.borough_codes if not BOROUGH_CODE.match(c)]
    problems += [f"ICB code {c!r} is not an E54 code" for c in scope.icb_codes if not ICB_CODE.match(c)]
    if role is Role.GP_TEAM:
        if not scope.practice_codes:
            problems.append("a gp_team user needs at least one practice")
        if scope.borough_codes or scope.icb_codes:
            problems.append("a gp_team user is scoped to practices only")
    elif role is Role.CAMPAIGN_RESPONDER:
        if not (scope.borough_codes or scope.icb_codes):
            problems.append("a campaign_responder needs a borough or ICB scope")
        if scope.practice_codes:
            problems.append("a campaign_responder is scoped to boroughs or ICBs, not practices")
    elif not scope.is_empty():
        problems.append(f"role {role.value} takes no scope")
    return problems
