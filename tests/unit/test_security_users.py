"""The user store: users come from a file with hashed passwords, scopes are checked against real codes."""

from __future__ import annotations

import json

import pytest
from werkzeug.security import generate_password_hash

from security.roles import Role, Scope
from security.users import (
    DEMO_ACCOUNTS,
    UserStore,
    UserStoreError,
    build_user_store,
    hash_password,
    load_users_file,
    main,
    normalise_username,
)

# A cheap hash keeps these tests fast; the app's own hashes use scrypt.
FAST = "pbkdf2:sha256:1000"
HASH = generate_password_hash("correct horse battery", method=FAST)


def write_toml(tmp_path, body: str):
    path = tmp_path / "users.toml"
    path.write_text(body, encoding="utf-8")
    return path


def gp_entry(**overrides) -> str:
    fields = {"username": '"A.Patel"', "role": '"gp_team"', "practices": '["e83003"]', "password_hash": f'"{HASH}"'}
    fields.update(overrides)
    return "[[users]]\n" + "\n".join(f"{k} = {v}" for k, v in fields.items() if v is not None) + "\n"


def test_users_file_loads_roles_and_scopes(tmp_path):
    path = write_toml(
        tmp_path,
        gp_entry() + f'[[users]]\nusername = "c.jones"\nrole = "campaign_responder"\nboroughs = ["E09000012"]\n'
        f'icbs = ["E54000029"]\npassword_hash = "{HASH}"\ndisplay_name = "C Jones"\n',
    )
    records = {r.principal.username: r.principal for r in load_users_file(path)}
    assert records["a.patel"].role is Role.GP_TEAM
    assert records["a.patel"].scope == Scope.of(practices=["E83003"])  # codes upper-cased
    assert records["c.jones"].scope == Scope.of(boroughs=["E09000012"], icbs=["E54000029"])
    assert records["c.jones"].label == "C Jones"


def test_json_users_file(tmp_path):
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"users": [{"username": "ana", "role": "analyst", "password_hash": HASH}]}))
    (record,) = load_users_file(path)
    assert (record.principal.username, record.principal.role) == ("ana", Role.ANALYST)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (gp_entry(practices='["Z99999"]'), "unknown practice Z99999"),
        (gp_entry(practices=None), "at least one practice"),
        (gp_entry(role='"superuser"'), "role must be one of"),
        (gp_entry(password_hash='"hunter2"'), "password_hash must be"),
        (gp_entry(password_hash=None, password='"plain text"'), "unknown field"),
        (gp_entry(username='"bad name; drop"'), "username missing"),
        (gp_entry(practices="42"), "list of codes"),
        (gp_entry() + gp_entry(), "defined twice"),
        (
            '[[users]]\nusername = "c"\nrole = "campaign_responder"\nboroughs = ["E09000099"]\n'
            f'password_hash = "{HASH}"\n',
            "unknown borough E09000099",
        ),
        ("users = 3\n", "no [[users]]"),
        ("this is [not toml\n", "not valid TOML"),
    ],
)
def test_bad_users_files_are_refused_with_a_reason(tmp_path, entry, message):
    path = write_toml(tmp_path, entry)
    with pytest.raises(UserStoreError, match=message.replace("[", r"\[")):
        UserStore(load_users_file(path), str(path))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(UserStoreError, match="missing.toml"):
        load_users_file(tmp_path / "missing.toml")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = write_toml(tmp_path_factory.mktemp("users"), gp_entry())
    return UserStore(load_users_file(path), str(path))


def test_right_password_signs_in_case_insensitively(store):
    principal = store.authenticate("  A.PATEL ", "correct horse battery")
    assert principal is not None and principal.username == "a.patel"


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("a.patel", "wrong"),
        ("a.patel", ""),
        ("nobody", "correct horse battery"),
        (None, None),
        (42, ["x"]),
        ("a.patel", "x" * 100_000),
        ("' OR 1=1 --", "' OR 1=1 --"),
        ("a.patel\x00", "correct horse battery"),
        ("é" * 500, "correct horse battery"),
    ],
)
def test_anything_else_is_refused_without_error(store, username, password):
    assert store.authenticate(username, password) is None


def test_get_reloads_by_username_only(store):
    assert store.get("a.patel").role is Role.GP_TEAM
    assert store.get("A.Patel") == store.get("a.patel")
    assert store.get("nobody") is None and store.get(None) is None


def test_demo_accounts_exist_only_in_demo_mode(tmp_path):
    demo = build_user_store("", demo=True)
    assert {p.role for p in demo.principals()} == set(Role)
    for account in DEMO_ACCOUNTS:
        assert demo.authenticate(account.username, account.password).role is account.role
    with pytest.raises(UserStoreError, match="PATHFINDER_USERS_FILE"):
        build_user_store("", demo=False)
    file_only = build_user_store(str(write_toml(tmp_path, gp_entry())), demo=False)
    assert file_only.get("demo.admin") is None and len(file_only) == 1


def test_demo_gp_practice_and_campaign_borough_are_real_codes():
    from security.users import reference_codes

    known = reference_codes()
    for account in DEMO_ACCOUNTS:
        assert account.scope.practice_codes <= known["practices"]
        assert account.scope.borough_codes <= known["boroughs"]


def test_hash_password_uses_scrypt_and_refuses_short_passwords():
    assert hash_password("a long enough password").startswith("scrypt:")
    with pytest.raises(ValueError, match="12"):
        hash_password("short")


@pytest.mark.parametrize(
    ("raw", "expected"), [(" Bob ", "bob"), ("a@b.nhs.uk", "a@b.nhs.uk"), ("", None), ("a b", None)]
)
def test_normalise_username(raw, expected):
    assert normalise_username(raw) == expected


def test_check_command_lists_users(tmp_path, capsys):
    path = write_toml(tmp_path, gp_entry())
    assert main(["check", str(path)]) == 0
    assert "a.patel" in capsys.readouterr().out
    assert main(["check", str(tmp_path / "nope.toml")]) == 1
    assert main([]) == 2


def test_the_sign_in_throttle_forgets_old_failures_and_stays_bounded(monkeypatch):
    """Random usernames from an anonymous client each left an entry for good (a code review)."""
    from security import web

    clock = [1000.0]
    monkeypatch.setattr(web.time, "monotonic", lambda: clock[0])
    throttle = web._SignInThrottle()
    for _ in range(web.FAILED_SIGN_INS_ALLOWED):
        throttle.failed("demo.gp")
    assert throttle.blocked("demo.gp") and not throttle.blocked("never.seen")
    assert set(throttle._failures) == {"demo.gp"}  # asking about a username stores nothing
    clock[0] += web.FAILED_SIGN_IN_WINDOW_S + 1
    assert not throttle.blocked("demo.gp") and throttle._failures == {}  # out of the window: gone
    monkeypatch.setattr(web._SignInThrottle, "TRACKED_USERNAMES_MAX", 3)
    for name in ("a", "b", "c", "d"):
        throttle.failed(name)
    assert list(throttle._failures) == ["b", "c", "d"]  # the oldest goes first
