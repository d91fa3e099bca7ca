"""Sign-in, the access gate, headers and error pages, on a bare Flask server with the security layer.

The real app (Dash routes, CSP hashes, start-up refusal) is covered by test_security_app.py.
"""

from __future__ import annotations

import re
import time

import pytest
from flask import Flask, jsonify

from security import audit
from security.web import SESSION_COOKIE_NAME, SESSION_LIFETIME, current_user_principal, init_app, safe_next
from settings import load_settings

PROTECTED = ["/", "/asthma", "/_dash-layout", "/_dash-dependencies"]


def make_server(tmp_path, **env) -> Flask:
    settings = load_settings({"PATHFINDER_DEMO": "true", "PATHFINDER_AUDIT_DIR": str(tmp_path / "audit"), **env})
    server = Flask("security-test")

    @server.route("/")
    @server.route("/asthma")
    def page():
        return "<html><body>page</body></html>"

    @server.route("/_dash-layout")
    @server.route("/_dash-dependencies")
    def dash_json():
        return jsonify({"layout": "ok"})

    @server.route("/_dash-update-component", methods=["POST"])
    def callback():
        principal = current_user_principal()
        return jsonify({"user": principal.username if principal else None})

    @server.route("/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    init_app(server, settings)
    return server


@pytest.fixture
def server(tmp_path):
    return make_server(tmp_path)


def csrf(client, path="/login") -> str:
    page = client.get(path)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def sign_in(client, username="demo.gp", password="demo-gp", **extra):
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf(client), **extra})


def sign_out(client):
    """Sign out as the sign-out button does: a POST with the token the signed-in page carries."""
    return client.post("/logout", data={"csrf_token": csrf(client, "/logout")})


@pytest.mark.parametrize("path", PROTECTED)
def test_nothing_is_served_before_sign_in(server, path):
    response = server.test_client().get(path)
    if path.startswith("/_dash"):
        assert response.status_code == 401 and response.json["error"] == "Sign-in required."
    else:
        assert response.status_code == 302 and response.location.startswith("/login?next=")


def test_crafted_callback_request_without_session_is_refused(server):
    response = server.test_client().post("/_dash-update-component", json={"output": "x", "inputs": []})
    assert response.status_code == 401
    assert b"user" not in response.data


def test_sign_in_then_pages_and_callbacks_see_the_principal(server):
    client = server.test_client()
    response = sign_in(client, next="/asthma?practice=E83003")
    assert response.status_code == 302 and response.location == "/asthma?practice=E83003"
    assert client.get("/asthma").status_code == 200
    assert client.post("/_dash-update-component", json={}).json == {"user": "demo.gp"}


def test_sign_in_and_out_are_audited(server, tmp_path):
    client = server.test_client()
    sign_in(client, password="wrong")
    sign_in(client)
    sign_out(client)
    log = audit.audit_log_at(tmp_path / "audit")
    assert [(e.action, e.username) for e in reversed(log.entries())] == [
        ("sign_in_failed", "(anonymous)"),
        ("sign_in", "demo.gp"),
        ("sign_out", "demo.gp"),
    ]
    assert log.entries(action="sign_in_failed")[0].filters == {"attempted_username": "demo.gp"}


def test_wrong_password_is_refused_with_a_message(server):
    client = server.test_client()
    response = sign_in(client, password="demo-gp-not")
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)
    assert client.get("/_dash-layout").status_code == 401


def test_missing_csrf_token_is_refused(server):
    client = server.test_client()
    response = client.post("/login", data={"username": "demo.gp", "password": "demo-gp"})
    assert response.status_code == 400
    assert client.get("/_dash-layout").status_code == 401


@pytest.mark.parametrize(
    "form",
    [
        {"username": "x" * 100_000, "password": "y" * 100_000},
        {"username": "' OR 1=1 --", "password": "' OR 1=1 --"},
        {"username": "<script>alert(1)</script>", "password": "\x00\x01"},
        {"username": ["a", "b"], "password": ""},
        {},
        {"next": "https://evil.example/"},
    ],
    ids=["huge", "sql", "html", "repeated", "empty", "evil-next"],
)
def test_garbage_sign_in_forms_get_a_clean_refusal(server, form):
    client = server.test_client()
    response = client.post("/login", data={"csrf_token": csrf(client), **form})
    assert response.status_code in (400, 401, 413)
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "<script>alert" not in text
    assert client.get("/_dash-layout").status_code == 401


def test_repeated_failures_are_throttled(server):
    client = server.test_client()
    statuses = [sign_in(client, password=f"wrong-{n}").status_code for n in range(6)]
    assert statuses == [401] * 5 + [429]
    assert sign_in(client).status_code == 429  # even the right password, until the window passes


def test_session_cookie_flags(server):
    client = server.test_client()
    response = sign_in(client)
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(SESSION_COOKIE_NAME + "=")]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP on localhost: a Secure cookie would never come back


def test_session_cookie_is_secure_over_https(server):
    client = server.test_client()
    token = csrf(client, "https://localhost/login")
    response = client.post(
        "https://localhost/login", data={"username": "demo.gp", "password": "demo-gp", "csrf_token": token}
    )
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(SESSION_COOKIE_NAME + "=")]
    assert cookies and all("Secure" in c for c in cookies)
    assert "max-age" in response.headers["Strict-Transport-Security"]


@pytest.mark.parametrize("path", ["/login", "/", "/_dash-layout", "/nope", "/boom", "/healthz"])
def test_security_headers_on_every_response(server, path):
    client = server.test_client()
    sign_in(client)
    headers = client.get(path).headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"


def test_errors_show_a_message_never_a_traceback(server):
    client = server.test_client()
    sign_in(client)
    response = client.get("/boom")
    assert response.status_code == 500
    assert b"secret internal detail" not in response.data and b"Traceback" not in response.data
    assert client.get("/no-such-page").status_code == 404


def test_signing_out_ends_the_session(server):
    client = server.test_client()
    sign_in(client)
    assert client.get("/_dash-layout").status_code == 200
    assert sign_out(client).status_code == 302
    assert client.get("/_dash-layout").status_code == 401


def test_a_copy_of_the_cookie_is_refused_after_sign_out(server):
    """The session lived only in its signed cookie: a copy kept from before sign-out (another tab, a shared
    computer's profile, a proxy log) still opened patient rows afterwards, for up to 8 hours."""
    client = server.test_client()
    sign_in(client)
    kept = client.get_cookie(SESSION_COOKIE_NAME).value
    sign_out(client)
    replay = server.test_client()
    replay.set_cookie(SESSION_COOKIE_NAME, kept)
    assert replay.get("/_dash-layout").status_code == 401
    assert replay.post("/_dash-update-component", json={}).status_code == 401


def test_a_session_ends_8_hours_after_sign_in_however_busy(server, monkeypatch):
    """Flask re-signs the cookie on every request, so its 8 hours ran from the last request, not from sign-in:
    a session kept busy (or a copied cookie kept in use) never ended."""
    client = server.test_client()
    sign_in(client)
    started, hours = time.time(), SESSION_LIFETIME.total_seconds() / 8
    for elapsed in (4, 7):  # busy: each request re-signs the cookie, which Flask then counts 8 hours from
        monkeypatch.setattr(time, "time", lambda elapsed=elapsed: started + elapsed * hours)
        assert client.get("/_dash-layout").status_code == 200
    monkeypatch.setattr(time, "time", lambda: started + 8 * hours + 1)
    assert client.get("/_dash-layout").status_code == 401


def test_the_sign_out_token_is_in_the_session_from_sign_in(server):
    """The page's callbacks write the session back as they read it: a token made later, by the layout request
    that fills the navbar's sign-out form, was overwritten by them and the sign-out button got a 400."""
    client = server.test_client()
    sign_in(client)
    with client.session_transaction() as session:
        token = session.get("csrf_token")
    assert isinstance(token, str) and token


def test_another_site_cannot_sign_the_user_out(server):
    # A link or an image pointing at /logout, or a form posted from elsewhere (no token), leaves the
    # session alone; the GET answers with the sign-in page's own sign-out button.
    client = server.test_client()
    sign_in(client)
    page = client.get("/logout")
    assert page.status_code == 200 and b'action="/logout"' in page.data
    assert client.post("/logout").status_code == 400
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert client.get("/_dash-layout").status_code == 200


def test_auth_can_be_switched_off_only_in_demo_mode(tmp_path):
    open_server = make_server(tmp_path, PATHFINDER_AUTH_REQUIRED="false")
    client = open_server.test_client()
    assert client.get("/_dash-layout").status_code == 200
    assert client.post("/_dash-update-component", json={}).json == {"user": None}  # anonymous: no principal


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/asthma?x=1", "/asthma?x=1"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/login", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        (None, "/"),
    ],
)
def test_next_only_goes_to_this_site(target, expected):
    assert safe_next(target) == expected


def stamped_database(path, *, source: str):
    """A database file with only the ``meta`` a build writes: this code's build version and ``source``."""
    import duckdb

    from data.build import write_meta
    from data.build_version import BUILD_VERSION, META_KEY

    with duckdb.connect(str(path)) as con:
        write_meta(con, {META_KEY: BUILD_VERSION, "source": source})
    return path


def test_demo_mode_refuses_to_start_over_a_real_extract(tmp_path):
    from security.web import SecurityConfigError

    database = stamped_database(tmp_path / "real.duckdb", source="extract")
    with pytest.raises(SecurityConfigError, match="demo mode is for synthetic data only"):
        make_server(tmp_path, PATHFINDER_DB=str(database))


def test_demo_mode_never_opens_a_real_extract_that_appears_after_start_up(tmp_path):
    from queries.db import DataUnavailable, get_database

    path = tmp_path / "later.duckdb"
    make_server(tmp_path, PATHFINDER_DB=str(path))  # no database yet: the app starts, pages say so
    stamped_database(path, source="extract")
    with pytest.raises(DataUnavailable, match="demo mode is for synthetic data only"):
        get_database(path).scalar("SELECT count(*) FROM meta")


def test_demo_mode_opens_a_synthetic_database_that_appears_after_start_up(tmp_path):
    from queries.db import get_database

    path = tmp_path / "later.duckdb"
    make_server(tmp_path, PATHFINDER_DB=str(path))
    stamped_database(path, source="synthetic")
    assert get_database(path).scalar("SELECT value FROM meta WHERE key = 'source'") == "synthetic"
