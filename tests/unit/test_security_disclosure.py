"""The per-request disclosure decision every page callback asks for, and its audit hook for unrounded exports."""

from __future__ import annotations

import pytest

from security import audit
from security.disclosure import current_disclosure, disclosure_for
from security.roles import Principal, Role, Scope
from security.web import acting_as

GP = Principal("gp", Role.GP_TEAM, Scope.of(practices=["E83003"]))
COMMISSIONER = Principal("commissioner", Role.COMMISSIONER)
ANALYST = Principal("analyst", Role.ANALYST)


@pytest.mark.parametrize(
    ("principal", "disclose"), [(None, True), (COMMISSIONER, True), (GP, True), (ANALYST, False)], ids=str
)
def test_only_the_unrounded_role_escapes_disclosure_control(principal, disclose):
    assert disclosure_for(principal).disclose is disclose


def test_current_disclosure_follows_the_signed_in_user():
    assert current_disclosure().disclose is True, "nobody signed in: the most restricted view"
    with acting_as(ANALYST):
        assert current_disclosure() == disclosure_for(ANALYST)


def test_unrounded_exports_are_audited_with_page_export_and_filters(tmp_path, monkeypatch):
    monkeypatch.setenv("PATHFINDER_AUDIT_DIR", str(tmp_path))
    disclosure_for(ANALYST).audit_export(page="cancer", export="trend", filters={"indicator": "cwt_62d"}, rows=12)
    [entry] = audit.entries(action=audit.VIEW_UNROUNDED)
    assert (entry.username, entry.row_count) == ("analyst", 12)
    assert entry.filters == {"page": "cancer", "export": "trend", "indicator": "cwt_62d"}


def test_disclosed_exports_are_audited_as_aggregate_exports(tmp_path, monkeypatch):
    monkeypatch.setenv("PATHFINDER_AUDIT_DIR", str(tmp_path))
    disclosure_for(COMMISSIONER).audit_export(page="cancer", export="trend", filters={}, rows=12)
    [entry] = audit.entries()
    assert (entry.action, entry.username, entry.row_count) == (audit.EXPORT_AGGREGATE, "commissioner", 12)
    assert audit.entries(action=audit.VIEW_UNROUNDED) == []


def test_an_unwritable_audit_log_stops_an_unrounded_export(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the audit folder should be")
    monkeypatch.setenv("PATHFINDER_AUDIT_DIR", str(blocker / "audit"))
    with pytest.raises(audit.AuditUnavailable):
        disclosure_for(ANALYST).audit_export(page="asthma", export="areas", filters={}, rows=1)
