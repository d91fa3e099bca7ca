"""The real app behind the security layer, served by gunicorn in a subprocess with its own settings.

A subprocess keeps these settings (demo mode, sign-in required) from leaking into other tests that
import ``app`` in-process. Covers what only the real Dash app shows: its endpoints refused before
sign-in, headers on Dash and asset responses, CSP hashes matching Dash's inline scripts, no
per-user layout in the page config, a crafted callback refused like a click, and start-up refusal
outside demo mode.
"""

from __future__ import annotations

import base64
import hashlib
import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from security.testing import DEMO_PASSWORDS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATHFINDER_")}
    env.update(settings)
    return env


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A cookie-keeping HTTP client that does not follow redirects (so tests see them)."""

    def __init__(self, origin: str):
        self.origin = origin
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect()
        )

    def request(self, path: str, data: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(self.origin + path, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def get(self, path: str):
        return self.request(path)

    def post_json(self, path: str, payload: object):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.request(path, body, {"Content-Type": "application/json"})

    def sign_in(self, username: str) -> int:
        _, _, page = self.get("/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        form = {"username": username, "password": DEMO_PASSWORDS[username], "csrf_token": token}
        status, _, _ = self.request("/login", urllib.parse.urlencode(form).encode())
        return status


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app in demo mode, sign-in required, no database (the security layer needs none)."""
    root = tmp_path_factory.mktemp("security-app")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = clean_env(
        PATHFINDER_DB=str(root / "missing.duckdb"),
        PATHFINDER_DEMO="true",
        PATHFINDER_AUDIT_DIR=str(root / "audit"),
    )
    log = (root / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "app:server", "-b", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "4", "--no-control-socket"],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    origin = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the app exited: {(root / 'server.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(origin + "/healthz", timeout=2) as response:
                if response.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("the app did not answer within 90 s")
    yield origin, root
    process.terminate()
    try:  # gunicorn waits for a worker still warming its caches (gunicorn.conf.py) before it exits
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    log.close()


@pytest.mark.parametrize("path", ["/_dash-layout", "/_dash-dependencies", "/_reload-hash"])
def test_dash_endpoints_refuse_before_sign_in(served, path):
    status, _, body = Browser(served[0]).get(path)
    assert status == 401 and b"Sign-in required" in body


def test_pages_redirect_to_sign_in(served):
    status, headers, _ = Browser(served[0]).get("/asthma?practice=E83003")
    assert status == 302 and headers["Location"].startswith("/login?next=")


def test_crafted_callback_without_a_session_is_refused(served):
    status, _, body = Browser(served[0]).post_json("/_dash-update-component", admin_callback_payload())
    assert status == 401 and b"audit" not in body


def test_the_navbar_sign_out_form_carries_each_session_its_own_token(served):
    origin, _ = served
    tokens = []
    for username in ("demo.gp", "demo.gp"):
        browser = Browser(origin)
        browser.sign_in(username)
        _, _, layout = browser.get("/_dash-layout")
        token = re.search(rb'"value": ?"([^"]*)"[^{}]*"id": ?"nav-sign-out-token"', layout) or re.search(
            rb'"id": ?"nav-sign-out-token"[^{}]*"value": ?"([^"]*)"', layout
        )
        assert token and token.group(1), "the served navbar has no sign-out token"
        tokens.append(token.group(1).decode())
        assert browser.request("/logout", b"")[0] == 400  # a POST without it signs no one out
        assert browser.get("/_dash-layout")[0] == 200
        form = urllib.parse.urlencode({"csrf_token": tokens[-1]}).encode()
        assert browser.request("/logout", form)[0] == 302
        assert browser.get("/_dash-layout")[0] == 401
    assert tokens[0] != tokens[1]


def admin_callback_payload(username=None, action=None) -> dict:
    return {
        "output": "admin-audit-entries.children",
        "outputs": {"id": "admin-audit-entries", "property": "children"},
        "inputs": [
            {"id": "admin-audit-username", "property": "value", "value": username},
            {"id": "admin-audit-action", "property": "value", "value": action},
        ],
        "changedPropIds": ["admin-audit-username.value"],
        "state": [],
    }


def test_a_gp_team_user_crafting_the_admin_callback_gets_the_refusal(served):
    browser = Browser(served[0])
    assert browser.sign_in("demo.gp") == 302
    status, _, body = browser.post_json("/_dash-update-component", admin_callback_payload())
    assert status == 200
    assert b"does not allow this" in body and b"sign_in" not in body and b"Signed in" not in body


def test_the_admin_sees_the_audit_log_and_the_view_is_itself_audited(served):
    browser = Browser(served[0])
    assert browser.sign_in("demo.admin") == 302
    status, _, body = browser.post_json("/_dash-update-component", admin_callback_payload(action="sign_in"))
    assert status == 200 and b"admin-audit-table" in body and b"demo.admin" in body
    assert b"Signed in" in body  # the action filtered on, in words
    from security.audit import audit_log_at

    log = audit_log_at(served[1] / "audit")
    assert log.entries(action="view_audit_log")[0].username == "demo.admin"
    assert log.verify() == []


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"[]",
        {"output": "admin-audit-entries.children"},
        {**admin_callback_payload(), "inputs": "'; DROP TABLE audit_log; --"},
        admin_callback_payload(username=["x"] * 5, action={"$ne": 1}),
        admin_callback_payload(username="' OR 1=1 --" + "x" * 200_000, action="sign_in"),
    ],
    ids=["bad-json", "list", "no-inputs", "string-inputs", "wrong-types", "huge-sql"],
)
def test_garbage_callback_payloads_get_no_traceback(served, payload):
    browser = Browser(served[0])
    assert browser.sign_in("demo.admin") == 302
    status, _, body = browser.post_json("/_dash-update-component", payload)
    assert status < 500 or b"The details are in the server log" in body
    assert b"Traceback" not in body and b'File "' not in body


@pytest.mark.parametrize(
    "path", ["/", "/_dash-layout", "/assets/app.css", "/assets/vendor/bootstrap.min.css", "/login"]
)
def test_headers_on_pages_dash_and_assets(served, path):
    browser = Browser(served[0])
    browser.sign_in("demo.commissioner")
    status, headers, _ = browser.get(path)
    assert status == 200
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_csp_allows_exactly_the_inline_scripts_dash_serves(served):
    browser = Browser(served[0])
    browser.sign_in("demo.commissioner")
    _, headers, body = browser.get("/")
    html = re.sub(r"<!--.*?-->", "", body.decode(), flags=re.S)  # Dash's IE-only script sits in a comment
    script_src = headers["Content-Security-Policy"].split("script-src ")[1].split(";")[0].split()
    inline = [
        m.group(2)
        for m in re.finditer(r"<script([^>]*)>(.*?)</script>", html, re.S)
        if "src=" not in m.group(1) and "application/json" not in m.group(1)
    ]
    assert inline, "expected Dash's inline renderer script"
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src


def test_no_page_layout_is_embedded_in_the_shared_page_config(served):
    # Dash would otherwise render every page once for the first visitor and send it to all the others.
    browser = Browser(served[0])
    browser.sign_in("demo.admin")
    _, _, index = browser.get("/admin/audit")
    assert b"_dash-config" in index
    assert b"validation_layout" not in index and b"demo.analyst" not in index


def start_up(**settings: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import app"],
        cwd=PROJECT_ROOT, env=clean_env(**settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_outside_demo_mode_the_app_refuses_to_start_without_key_and_users(tmp_path):
    result = start_up(PATHFINDER_DB=str(tmp_path / "missing.duckdb"))
    assert result.returncode != 0
    assert "PATHFINDER_SECRET_KEY" in result.stderr and "PATHFINDER_USERS_FILE" in result.stderr
    assert "Traceback" not in result.stderr


def test_outside_demo_mode_the_app_starts_with_key_and_users(tmp_path):
    from werkzeug.security import generate_password_hash

    users = tmp_path / "users.toml"
    users.write_text(
        f'[[users]]\nusername = "ops"\nrole = "admin"\npassword_hash = "{generate_password_hash("x" * 12)}"\n'
    )
    result = start_up(
        PATHFINDER_DB=str(tmp_path / "missing.duckdb"),
        PATHFINDER_SECRET_KEY="k" * 40,
        PATHFINDER_USERS_FILE=str(users),
        PATHFINDER_AUDIT_DIR=str(tmp_path / "audit"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
