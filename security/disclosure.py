"""Disclosure control for the signed-in user, decided on the server inside every callback.

A page callback asks :func:`current_disclosure` once: ``disclose`` says whether its numbers
must pass the NHS disclosure rule (1-7 suppressed, others rounded to 5),
:meth:`Disclosure.disclose_practice` whether one practice's own figures must (not when the user
may list that practice's patients), and :meth:`Disclosure.audit_export` records every export that
leaves the app (unrounded ones under their own action, so an admin can pick them out). Anonymous
visitors and roles without the unrounded permission always get disclosure control.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from security import audit
from security.roles import Principal, may_see_unrounded, may_see_unrounded_for_practice, patient_row_scope
from security.web import current_user_principal


@dataclass(frozen=True)
class Disclosure:
    """What one request may see: the principal, and whether its figures pass disclosure control."""

    principal: Principal | None
    disclose: bool

    def disclose_practice(
        self, practice_code: str, *, borough_code: str | None = None, icb_code: str | None = None
    ) -> bool:
        """Whether one practice's OWN figures must pass disclosure control (True) or may be shown unrounded.

        Unrounded when this request is unrounded anyway, or when the principal's patient-row scope
        covers the practice (:func:`security.roles.may_see_unrounded_for_practice`; give the
        practice's borough and ICB so a borough or ICB scope can cover it). Only the practice's own
        rows: its PCN, borough and London, and other practices, still follow :attr:`disclose`.
        """
        if not self.disclose:
            return False
        return not may_see_unrounded_for_practice(self.principal, practice_code, borough_code, icb_code)

    def disclose_registered_at(
        self,
        *,
        practices: Iterable[tuple[str, str | None, str | None]] = (),
        boroughs: Iterable[tuple[str, str | None]] = (),
    ) -> bool:
        """Whether figures counting only patients registered at all of ``practices`` (code, borough, ICB) and
        ``boroughs`` (code, ICB) -- a search limited by both, so inside each -- must pass disclosure control.

        :meth:`disclose_practice`'s rule for a search: unrounded when the request is unrounded anyway, or
        when every practice named, or every borough named, is inside the principal's patient-row scope
        (practice, borough or ICB): rounding a count of patients they may list one by one protects nobody.
        Fails closed: with nothing named, or no patient-row scope, as :attr:`disclose`.
        """
        if not self.disclose:
            return False
        scope = patient_row_scope(self.principal)
        if scope is None:
            return True
        practices, boroughs = list(practices), list(boroughs)
        if practices and all(scope.permits(code, borough, icb) for code, borough, icb in practices):
            return False
        return not (boroughs and all(scope.permits(None, code, icb) for code, icb in boroughs))

    def audit_export(
        self, *, page: str, export: str, filters: Mapping[str, Any], rows: int, unrounded: bool = False
    ) -> None:
        """Record an export in the audit log: who, what, with which filters, how many rows.

        Every export is recorded (issue 10: "every export audited"); one that leaves unrounded is
        recorded as ``view_unrounded``, a disclosed one as ``export_aggregate``. ``unrounded``: the
        export holds unrounded figures although this request is disclosed (a practice's own figures,
        :meth:`disclose_practice`). Raises :class:`security.audit.AuditUnavailable` when the log
        cannot be written: the caller must then not hand the export over.
        """
        action = audit.VIEW_UNROUNDED if unrounded or not self.disclose else audit.EXPORT_AGGREGATE
        audit.record(self.principal, action, {"page": page, "export": export, **filters}, rows)


def disclosure_for(principal: Principal | None) -> Disclosure:
    """The disclosure level for ``principal``: unrounded only for roles allowed to see unrounded counts."""
    return Disclosure(principal=principal, disclose=not may_see_unrounded(principal))


def current_disclosure() -> Disclosure:
    """The disclosure level of the signed-in user (the most restricted one when nobody is signed in)."""
    return disclosure_for(current_user_principal())
