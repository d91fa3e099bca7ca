"""The access policy: each role gets exactly what issue 10 allows, and nothing when in doubt."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from security.roles import (
    PERMISSIONS,
    AccessDenied,
    Permission,
    Principal,
    Role,
    RowScope,
    Scope,
    has_permission,
    may_see_unrounded,
    may_see_unrounded_for_practice,
    patient_row_scope,
    require,
    require_patient_rows,
    validate_scope_for_role,
)

GP = Principal("gp", Role.GP_TEAM, Scope.of(practices=["E83003"]))
CAMPAIGN = Principal("campaign", Role.CAMPAIGN_RESPONDER, Scope.of(boroughs=["E09000012"]))
CAMPAIGN_ICB = Principal("campaign-icb", Role.CAMPAIGN_RESPONDER, Scope.of(icbs=["E54000028"]))
COMMISSIONER = Principal("commissioner", Role.COMMISSIONER)
ANALYST = Principal("analyst", Role.ANALYST)
ADMIN = Principal("admin", Role.ADMIN)

# The role matrix of issue 10, written out by hand: (patient rows?, unrounded?, audit log?).
EXPECTED = {
    COMMISSIONER: (False, False, False),
    GP: (True, False, False),
    CAMPAIGN: (True, False, False),
    ANALYST: (False, True, False),
    ADMIN: (False, False, True),
}


@pytest.mark.parametrize("principal", list(EXPECTED), ids=lambda p: p.role.value)
def test_role_matrix(principal):
    rows, unrounded, audit_log = EXPECTED[principal]
    assert (patient_row_scope(principal) is not None) is rows
    assert may_see_unrounded(principal) is unrounded
    assert has_permission(principal, Permission.VIEW_AUDIT_LOG) is audit_log
    assert has_permission(principal, Permission.VIEW_AGGREGATES)


def test_every_role_has_a_permission_set():
    assert set(PERMISSIONS) == set(Role)


def test_nobody_signed_in_gets_nothing():
    assert patient_row_scope(None) is None
    assert not may_see_unrounded(None)
    assert not any(has_permission(None, p) for p in Permission)
    with pytest.raises(AccessDenied, match="sign in"):
        require_patient_rows(None)


def test_gp_team_scope_is_their_practice_only():
    assert patient_row_scope(GP) == RowScope(practice_codes=("E83003",))


def test_campaign_responder_scope_is_their_borough_or_icb():
    assert patient_row_scope(CAMPAIGN) == RowScope(borough_codes=("E09000012",))
    assert patient_row_scope(CAMPAIGN_ICB) == RowScope(icb_codes=("E54000028",))


def test_patient_roles_without_a_scope_get_no_rows():
    assert patient_row_scope(Principal("gp2", Role.GP_TEAM)) is None
    assert patient_row_scope(Principal("c2", Role.CAMPAIGN_RESPONDER)) is None


def test_a_gp_given_a_borough_scope_still_sees_only_practices():
    # A misconfigured principal (a gp_team with a borough) must not widen to the borough.
    odd = Principal("gp3", Role.GP_TEAM, Scope.of(practices=["E83003"], boroughs=["E09000012"]))
    assert patient_row_scope(odd) == RowScope(practice_codes=("E83003",))


def test_require_names_the_role_when_refusing():
    assert require(ADMIN, Permission.VIEW_AUDIT_LOG) is ADMIN
    with pytest.raises(AccessDenied, match="analyst"):
        require(ANALYST, Permission.VIEW_AUDIT_LOG)
    with pytest.raises(AccessDenied, match="commissioner"):
        require_patient_rows(COMMISSIONER)


@pytest.fixture(scope="module")
def patients():
    con = duckdb.connect()
    con.execute(
        """
        CREATE TABLE patient_dim AS SELECT * FROM (VALUES
          ('P1', 'E83003', 'E09000003', 'E54000028'),
          ('P2', 'E83005', 'E09000003', 'E54000028'),
          ('P3', 'F84003', 'E09000012', 'E54000029'),
          ('P4', 'F84004', 'E09000012', 'E54000029'),
          ('P5', 'H81001', 'E09000029', 'E54000031')
        ) t(patient_id, practice_code, borough_code, icb_code)
        """
    )
    yield con
    con.close()


def visible(con, scope: RowScope) -> list[str]:
    where, params = scope.sql_filter()
    sql = "SELECT patient_id FROM patient_dim WHERE " + where + " ORDER BY 1"  # noqa: S608 (the clause under test)
    return [r[0] for r in con.execute(sql, params).fetchall()]


@pytest.mark.parametrize(
    ("principal", "expected"),
    [(GP, ["P1"]), (CAMPAIGN, ["P3", "P4"]), (CAMPAIGN_ICB, ["P1", "P2"])],
    ids=["gp", "campaign-borough", "campaign-icb"],
)
def test_row_scope_filters_rows_in_sql(patients, principal, expected):
    assert visible(patients, patient_row_scope(principal)) == expected


def test_empty_row_scope_matches_nothing(patients):
    assert RowScope().sql_filter() == ("FALSE", [])
    assert visible(patients, RowScope()) == []


def test_scope_codes_are_bound_never_spliced(patients):
    hostile = RowScope(practice_codes=("E83003' OR '1'='1", "x'); DROP TABLE patient_dim; --"))
    where, params = hostile.sql_filter()
    assert "'" not in where and len(params) == 2
    assert visible(patients, hostile) == []
    assert patients.execute("SELECT count(*) FROM patient_dim").fetchone()[0] == 5


def test_row_scope_refuses_odd_column_names():
    with pytest.raises(ValueError, match="column"):
        RowScope(practice_codes=("E83003",)).sql_filter(practice_column="practice_code) OR (1=1")


def visible_by_name(con, scope: RowScope) -> list[str]:
    params: dict = {}
    where = scope.bound_filter(params)
    sql = "SELECT d.patient_id FROM patient_dim AS d WHERE " + where + " ORDER BY 1"  # noqa: S608 (the clause under test)
    return [r[0] for r in con.execute(sql, params).fetchall()]


@pytest.mark.parametrize("principal", [GP, CAMPAIGN, CAMPAIGN_ICB], ids=["gp", "campaign-borough", "campaign-icb"])
def test_the_named_parameter_filter_sees_the_same_rows(patients, principal):
    scope = patient_row_scope(principal)
    assert visible_by_name(patients, scope) == visible(patients, scope)


def test_the_named_parameter_filter_binds_codes_and_refuses_odd_table_names(patients):
    params: dict = {}
    hostile = RowScope(borough_codes=("E09000012' OR '1'='1",))
    assert "'" not in hostile.bound_filter(params) and params == {"scope_boroughs": ["E09000012' OR '1'='1"]}
    assert visible_by_name(patients, hostile) == []
    assert RowScope().bound_filter({}) == "(FALSE)"
    with pytest.raises(ValueError, match="table"):
        RowScope(practice_codes=("E83003",)).bound_filter({}, table="d) OR (1=1")


def test_row_scope_permits_matches_sql():
    scope = patient_row_scope(CAMPAIGN)
    assert scope.permits("F84003", "E09000012", "E54000029")
    assert not scope.permits("E83003", "E09000003", "E54000028")
    assert not scope.permits(None, None, None)


@pytest.mark.parametrize(
    ("role", "scope", "problem"),
    [
        (Role.GP_TEAM, Scope(), "at least one practice"),
        (Role.GP_TEAM, Scope.of(practices=["E83003"], boroughs=["E09000012"]), "practices only"),
        (Role.CAMPAIGN_RESPONDER, Scope(), "borough or ICB"),
        (Role.CAMPAIGN_RESPONDER, Scope.of(boroughs=["E09000012"], practices=["E83003"]), "not practices"),
        (Role.ANALYST, Scope.of(boroughs=["E09000012"]), "takes no scope"),
        (Role.GP_TEAM, Scope.of(practices=["E83003;--"]), "not an ODS practice code"),
        (Role.CAMPAIGN_RESPONDER, Scope.of(boroughs=["E0900001"]), "not an E09 code"),
        (Role.CAMPAIGN_RESPONDER, Scope.of(icbs=["Q1"]), "not an E54 code"),
        # `$` in the patterns matched before a final newline: these passed as codes.
        (Role.GP_TEAM, Scope.of(practices=["E83003\n"]), "not an ODS practice code"),
        (Role.CAMPAIGN_RESPONDER, Scope.of(boroughs=["E09000012\n"]), "not an E09 code"),
        (Role.CAMPAIGN_RESPONDER, Scope.of(icbs=["E54000029\n"]), "not an E54 code"),
    ],
)
def test_scope_validation_names_the_problem(role, scope, problem):
    assert any(problem in p for p in validate_scope_for_role(role, scope))


def test_good_scopes_validate_cleanly():
    for principal in (GP, CAMPAIGN, CAMPAIGN_ICB, COMMISSIONER, ANALYST, ADMIN):
        assert validate_scope_for_role(principal.role, principal.scope) == []


codes = st.lists(st.text(min_size=1, max_size=12), max_size=4)


@given(role=st.sampled_from(list(Role)), practices=codes, boroughs=codes, icbs=codes)
def test_patient_rows_never_exceed_the_principal_scope(role, practices, boroughs, icbs):
    principal = Principal("p", role, Scope.of(practices, boroughs, icbs))
    scope = patient_row_scope(principal)
    if role not in (Role.GP_TEAM, Role.CAMPAIGN_RESPONDER):
        assert scope is None
        return
    if scope is None:
        return
    assert set(scope.practice_codes) <= set(practices)
    assert set(scope.borough_codes) <= set(boroughs)
    assert set(scope.icb_codes) <= set(icbs)
    if role is Role.GP_TEAM:
        assert not scope.borough_codes and not scope.icb_codes
    else:
        assert not scope.practice_codes


# ----------------------------------------------------------------------------- one practice's own figures

BARNET, BARNET_ICB, HACKNEY = "E09000003", "E54000028", "E09000012"  # E83003 is in Barnet, North Central London


@pytest.mark.parametrize(
    ("principal", "practice", "borough", "icb", "unrounded"),
    [
        (GP, "E83003", BARNET, BARNET_ICB, True),  # their own practice: they may list its children
        (GP, "E83003", None, None, True),
        (GP, "F84003", HACKNEY, None, False),  # another practice
        (
            Principal("gp-odd", Role.GP_TEAM, Scope.of(practices=["E83003"], boroughs=[BARNET])),
            "E83007",
            BARNET,
            None,
            False,
        ),  # a gp_team scope is practices only, whatever else it carries
        (CAMPAIGN, "F84003", HACKNEY, None, True),  # a practice in their borough
        (CAMPAIGN, "E83003", BARNET, BARNET_ICB, False),  # outside it
        (CAMPAIGN, "F84003", None, None, False),  # the practice's borough not given: not covered
        (CAMPAIGN_ICB, "E83003", BARNET, BARNET_ICB, True),
        (CAMPAIGN_ICB, "F84003", HACKNEY, "E54000027", False),
        (ANALYST, "E83003", BARNET, BARNET_ICB, True),  # every aggregate unrounded anyway
        (COMMISSIONER, "E83003", BARNET, BARNET_ICB, False),
        (ADMIN, "E83003", BARNET, BARNET_ICB, False),
        (None, "E83003", BARNET, BARNET_ICB, False),
        (Principal("gp-empty", Role.GP_TEAM), "E83003", BARNET, None, False),
        (Principal("gp-lower", Role.GP_TEAM, Scope.of(practices=["e83003"])), "e83003", None, None, False),
    ],
    ids=lambda v: getattr(v, "username", v),
)
def test_unrounded_for_a_practice_only_where_its_patients_may_be_listed(principal, practice, borough, icb, unrounded):
    assert may_see_unrounded_for_practice(principal, practice, borough, icb) is unrounded
    if unrounded and principal is not ANALYST:  # consistent with the rows: the scope lets them list its patients
        assert patient_row_scope(principal).permits(practice, borough, icb)
