"""The per-request disclosure decision every page callback asks for, and its audit hook for unrounded exports."""

from __future__ import annotations

import pytest

from security import audit
from security.disclosure import current_disclosure, disclosure_for
from security.roles import Principal, Role, Scope
from security.web import acting_as

GP = Principal("gp", Role.GP_TEAM, Scope.of(practices=["E83003"]))
RESPONDER = Principal("campaign", Role.CAMPAIGN_RESPONDER, Scope.of(boroughs=["E09000012"]))
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


@pytest.mark.parametrize(
    ("principal", "practice", "borough", "disclose"),
    [
        (GP, "E83003", "E09000003", False),  # own practice: unrounded
        (GP, "F84003", "E09000012", True),
        (RESPONDER, "F84003", "E09000012", False),  # a practice of their borough
        (RESPONDER, "E83003", "E09000003", True),
        (COMMISSIONER, "E83003", "E09000003", True),
        (None, "E83003", "E09000003", True),
        (ANALYST, "E83003", "E09000003", False),
    ],
    ids=str,
)
def test_a_practices_own_figures_are_unrounded_for_whoever_may_list_its_patients(
    principal, practice, borough, disclose
):
    disclosure = disclosure_for(principal)
    assert disclosure.disclose_practice(practice, borough_code=borough) is disclose
    # Everything else (PCN, borough, London, other practices) keeps the request's level.
    assert disclosure.disclose is (principal is not ANALYST)


NEL = "E54000029"  # North East London ICB (Hackney's)
ICB_RESPONDER = Principal("campaign-icb", Role.CAMPAIGN_RESPONDER, Scope.of(icbs=[NEL]))
BARNET_GP = ("E83003", "E09000003", "E54000028")
HACKNEY_PRACTICE = ("F84003", "E09000012", NEL)


@pytest.mark.parametrize(
    ("principal", "practices", "boroughs", "disclose"),
    [
        (GP, [BARNET_GP], [], False),  # their own practice
        (GP, [BARNET_GP, HACKNEY_PRACTICE], [], True),  # and another: not every child is theirs
        (GP, [], [("E09000003", "E54000028")], True),  # their practice's borough holds others' patients
        (RESPONDER, [], [("E09000012", NEL)], False),  # their borough
        (RESPONDER, [HACKNEY_PRACTICE], [], False),  # a practice in it
        (RESPONDER, [], [("E09000012", NEL), ("E09000003", "E54000028")], True),
        (RESPONDER, [BARNET_GP], [("E09000012", NEL)], False),  # both limits apply: inside Hackney
        (ICB_RESPONDER, [], [("E09000012", NEL)], False),  # a borough of their ICB
        (RESPONDER, [], [], True),  # nothing named: all London
        (COMMISSIONER, [BARNET_GP], [("E09000003", "E54000028")], True),
        (None, [BARNET_GP], [], True),
        (ANALYST, [], [], False),
    ],
    ids=str,
)
def test_a_search_limited_to_the_users_own_patients_is_unrounded(principal, practices, boroughs, disclose):
    assert disclosure_for(principal).disclose_registered_at(practices=practices, boroughs=boroughs) is disclose


def test_an_export_holding_a_practices_unrounded_figures_is_audited_as_unrounded(tmp_path, monkeypatch):
    monkeypatch.setenv("PATHFINDER_AUDIT_DIR", str(tmp_path))
    gp = disclosure_for(GP)
    gp.audit_export(
        page="immunisation_practice", export="trend", filters={"practice": "E83003"}, rows=3, unrounded=True
    )
    gp.audit_export(page="immunisation_practice", export="trend", filters={"practice": "F84003"}, rows=3)
    own, other = sorted(audit.entries(), key=lambda e: e.seq)
    assert (own.action, own.username, own.filters["practice"]) == (audit.VIEW_UNROUNDED, "gp", "E83003")
    assert (other.action, other.filters["practice"]) == (audit.EXPORT_AGGREGATE, "F84003")
