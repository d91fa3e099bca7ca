"""Flask wiring: sign-in pages, the sign-in gate in front of Dash, security headers and safe errors.

``app.py`` calls :func:`init_app` once. After that:

- every request except ``/login``, ``/logout``, ``/healthz`` and static ``/assets/`` needs a signed-in
  user (when the ``auth_required`` setting is on, the default): pages redirect to ``/login``,
  Dash's endpoints (``/_dash-layout``, ``/_dash-update-component``, ...) answer 401;
- :func:`current_user_principal` gives callbacks the signed-in :class:`~security.roles.Principal`;
- every response carries a Content-Security-Policy allowing only the app's own origin (plus the
  hashes of Dash's own inline bootstrap script, ``blob:`` workers for MapLibre and ``data:`` images
  for Bootstrap's icons), ``frame-ancestors 'none'``, nosniff and a same-origin referrer policy;
- the session cookie is HttpOnly, SameSite=Lax, and Secure on HTTPS (or always with ``secure_cookies``);
- a session lasts while :mod:`security.sessions` holds it live: until sign-out, or 8 hours after sign-in;
- an unexpected exception becomes a short message; the traceback goes to the server log only.

Outside demo mode :func:`init_app` refuses to start without a secret key and a users file.
"""

from __future__ import annotations

import contextlib
import contextvars
import hmac
import logging
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import flask
from flask import Flask, Response, jsonify, redirect, render_template_string, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.exceptions import HTTPException

from security import audit
from security.roles import ROLE_DESCRIPTIONS, Permission, Principal, require
from security.sessions import SESSIONS_FILE_NAME, SessionStore, SessionsUnavailable
from security.users import DEMO_ACCOUNTS, MAX_PASSWORD_CHARS, UserStore, UserStoreError, build_user_store

log = logging.getLogger(__name__)

EXTENSION_KEY = "pathfinder_security"
SESSION_COOKIE_NAME = "pathfinder_session"
SESSION_LIFETIME = timedelta(hours=8)  # from sign-in, however busy the session (security.sessions)
# The session cookie's key for the id security.sessions knows it by.
SESSION_ID_KEY = "session_id"
MIN_SECRET_KEY_CHARS = 32
# Paths anyone may fetch: the sign-in pages, a liveness probe, and static CSS/images (no data in them).
PUBLIC_PATHS = frozenset({"/login", "/logout", "/healthz", "/_favicon.ico"})
PUBLIC_PREFIXES = ("/assets/",)
# Dash's machine endpoints get a 401 instead of a redirect to an HTML page they cannot use.
API_PREFIXES = ("/_dash-", "/_reload-hash")
CACHEABLE_PREFIXES = ("/assets/", "/_dash-component-suites/", "/geometry/")
CALLBACK_PATH = "/_dash-update-component"
# What Python raises for values of the wrong type or unknown codes (QueryError and CohortError are
# ValueErrors): on the callback endpoint these come from the request, so they answer 400, not 500.
BAD_INPUT_ERRORS = (TypeError, ValueError, LookupError, AttributeError)
BAD_INPUT_MESSAGE = "This request has values the app cannot use."
PAGE_ERROR_MESSAGE = "This address has values the page cannot use. Open the page from the menu to start again."
FAILED_SIGN_INS_ALLOWED = 5
FAILED_SIGN_IN_WINDOW_S = 15 * 60


class SecurityConfigError(RuntimeError):
    """The security settings are unusable; the app must not start (the message says what to set)."""


@dataclass
class SecurityState:
    """What :func:`init_app` set up, kept on ``server.extensions``."""

    store: UserStore
    audit_log: audit.AuditLog
    sessions: SessionStore
    demo: bool
    auth_required: bool
    secure_cookies: bool
    dash_app: Any = None


class SignedInUser(UserMixin):
    """Flask-Login's view of a principal (its id is the username; the role is reloaded every request)."""

    def __init__(self, principal: Principal):
        self.principal = principal

    def get_id(self) -> str:
        return self.principal.username


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, marking the cookie Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (flask.has_request_context() and request.is_secure)


class _SignInThrottle:
    """At most FAILED_SIGN_INS_ALLOWED wrong passwords per username per window, per process.

    Bounded: a username's entry goes when its failures fall out of the window, and past
    ``TRACKED_USERNAMES_MAX`` the oldest go first (an anonymous client posting random usernames grew the
    table without limit; a code review).
    """

    TRACKED_USERNAMES_MAX = 10_000

    def __init__(self) -> None:
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> int:
        """How many failures ``key`` has in the window (dropping older ones, and the entry once empty)."""
        failures = self._failures.get(key)
        if failures is None:
            return 0
        while failures and failures[0] < now - FAILED_SIGN_IN_WINDOW_S:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return len(failures)

    def blocked(self, key: str) -> bool:
        with self._lock:
            return self._recent(key, time.monotonic()) >= FAILED_SIGN_INS_ALLOWED

    def failed(self, key: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)
            while len(self._failures) > self.TRACKED_USERNAMES_MAX:
                del self._failures[next(iter(self._failures))]

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


_acting_as: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("acting_as", default=None)


@contextlib.contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    """Within the block, :func:`current_user_principal` returns ``principal`` (for tests calling callbacks
    directly as functions; requests through HTTP always use the signed-in user)."""
    token = _acting_as.set(principal)
    try:
        yield
    finally:
        _acting_as.reset(token)


def current_user_principal() -> Principal | None:
    """The signed-in user's principal, or None (not signed in, or outside a request).

    Works inside Dash callbacks: they run in the Flask request that carried the session cookie.
    """
    override = _acting_as.get()
    if override is not None:
        return override
    if not flask.has_request_context():
        return None
    user = current_user
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "principal", None)


def user_directory(principal: Principal | None) -> list[Principal]:
    """Every user of the running app (no password hashes), for a principal allowed to see users."""
    require(principal, Permission.VIEW_USERS)
    state = flask.current_app.extensions.get(EXTENSION_KEY) if flask.has_app_context() else None
    return state.store.principals() if state else []


def check_configuration(settings: Any) -> list[str]:
    """Problems that must stop start-up: outside demo mode a strong secret key and a users file are required."""
    if settings.demo:
        return []
    problems = []
    if not settings.secret_key:
        problems.append(
            "PATHFINDER_SECRET_KEY is not set (make one with: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    elif len(settings.secret_key) < MIN_SECRET_KEY_CHARS:
        problems.append(f"PATHFINDER_SECRET_KEY is shorter than {MIN_SECRET_KEY_CHARS} characters")
    if not settings.users_file:
        problems.append("PATHFINDER_USERS_FILE is not set (a TOML/JSON users file; see docs/security.md)")
    if not settings.auth_required:
        problems.append("PATHFINDER_AUTH_REQUIRED=false is only allowed in demo mode")
    return problems


def _real_data_problem(con: Any) -> str | None:
    """Why demo mode must not open this database (it holds a non-synthetic extract), or None."""
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'source'").fetchone()
    except duckdb.Error:  # no meta: not a build of ours, which the build stamp check refuses
        return None
    source = None if row is None else row[0]
    if source is not None and source != "synthetic":
        return f"Demo mode is on but this database holds a {source!r} extract; demo mode is for synthetic data only."
    return None


def _refuse_demo_over_real_data(settings: Any) -> None:
    # Published demo passwords must never open a real extract: not at start-up (the app refuses to
    # start) and not later either, when a database that was missing at start-up appears.
    from queries.db import DataUnavailable, get_database

    database = get_database(settings.db)
    try:
        problem = _real_data_problem(database.cursor())
    except DataUnavailable:
        problem = None  # no database yet, or a stale one: the pages say so
    if problem is not None:
        raise SecurityConfigError(f"{settings.db}: {problem}")
    database.require(_real_data_problem)


def init_app(server: Flask, settings: Any, *, dash_app: Any = None) -> SecurityState:
    """Put sign-in, the access gate, security headers and safe error pages in front of ``server``.

    ``settings`` is :class:`settings.Settings`; ``dash_app`` (the :class:`dash.Dash`) lets the CSP allow
    exactly Dash's own inline scripts by hash. Raises :class:`SecurityConfigError` when the app must
    not start.
    """
    problems = check_configuration(settings)
    if problems:
        raise SecurityConfigError("; ".join(problems))
    try:
        store = build_user_store(settings.users_file, demo=settings.demo)
    except UserStoreError as error:
        raise SecurityConfigError(str(error)) from None
    if settings.demo:
        _refuse_demo_over_real_data(settings)
        log.warning(
            "DEMO MODE: %d published demo accounts are enabled. Synthetic data only; never deploy like this.",
            len(DEMO_ACCOUNTS),
        )
    state = SecurityState(
        store=store,
        audit_log=audit.audit_log_at(settings.audit_dir),
        sessions=SessionStore(
            Path(settings.audit_dir) / SESSIONS_FILE_NAME, lifetime_s=SESSION_LIFETIME.total_seconds()
        ),
        demo=settings.demo,
        auth_required=settings.auth_required,
        secure_cookies=settings.secure_cookies,
        dash_app=dash_app,
    )
    server.extensions[EXTENSION_KEY] = state
    if dash_app is not None:
        # Otherwise Dash renders every page's layout once, for whoever makes the first request, and
        # embeds the result ("validation_layout") in the page config sent to every later visitor:
        # one user's patient rows or user list would reach everyone.
        dash_app.config.suppress_callback_exceptions = True

    # In demo mode without a key, a random per-process key: sessions end when the process does.
    server.secret_key = settings.secret_key or secrets.token_hex(32)
    server.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
    )
    server.session_interface = _SessionInterface()

    login_manager = LoginManager()
    login_manager.init_app(server)

    @login_manager.user_loader
    def load_user(user_id: str) -> SignedInUser | None:
        # Reloaded from the store on every request, so a removed user or changed role takes effect at once;
        # and only while the session is live on the server (a cookie kept from before sign-out is not).
        principal = state.store.get(user_id)
        if principal is None or not state.sessions.is_live(session.get(SESSION_ID_KEY), principal.username):
            return None
        return SignedInUser(principal)

    @login_manager.unauthorized_handler
    def unauthorized() -> Response:
        return _refuse_unauthenticated()

    throttle = _SignInThrottle()
    server.add_url_rule("/login", "pathfinder_login", lambda: _login_view(state, throttle), methods=["GET", "POST"])
    server.add_url_rule("/logout", "pathfinder_logout", lambda: _logout_view(state), methods=["GET", "POST"])
    if dash_app is not None:
        _fill_sign_out_token()
    server.add_url_rule("/healthz", "pathfinder_healthz", lambda: Response("ok\n", mimetype="text/plain"))

    @server.before_request
    def require_sign_in() -> Response | None:
        if not state.auth_required or _is_public(request.path) or current_user.is_authenticated:
            return None
        return _refuse_unauthenticated()

    @server.before_request
    def refuse_malformed_callbacks() -> Response | None:
        # Only in front of a Dash app: the callback map says which outputs exist.
        if state.dash_app is None or request.path != CALLBACK_PATH or request.method != "POST":
            return None
        problem = callback_request_problem(request.get_json(silent=True), state.dash_app)
        if problem is None:
            return None
        log.warning("Refused a malformed callback request: %s", problem)
        return jsonify({"error": BAD_INPUT_MESSAGE}), 400

    @server.after_request
    def add_security_headers(response: Response) -> Response:
        return apply_security_headers(response, state)

    @server.errorhandler(Exception)
    def safe_error(error: Exception) -> Any:
        if isinstance(error, HTTPException):
            return error
        if request.path == CALLBACK_PATH and isinstance(error, BAD_INPUT_ERRORS):
            # A crafted or garbled callback request (a list where a code belongs, an unknown output):
            # the client's fault, answered as such; the traceback still goes to the log.
            log.warning("Refused a callback request it could not use", exc_info=error)
            return jsonify({"error": BAD_INPUT_MESSAGE}), 400
        log.exception("Unhandled error on %s %s", request.method, request.path)
        message = "Something went wrong on the server. The details are in the server log."
        if request.path.startswith(API_PREFIXES):
            return jsonify({"error": message}), 500
        return Response(message, status=500, mimetype="text/plain")

    if dash_app is not None and getattr(dash_app, "_on_error", None) is None:
        dash_app._on_error = _page_error_handler

    return state


_SCALAR = (str, int, float, bool, type(None))
# Properties a browser only ever sends as a count (clicks, a table's page number).
_COUNT_PROPS = frozenset({"n_clicks", "n_submit", "n_blur", "page_current"})
# Python's JSON reader takes Infinity, NaN, 1e999 and integers of any length. A browser never sends a
# non-finite number (JSON.stringify writes null), and no control here has a use for an integer beyond 64 bits.
# Deep in a callback they overflowed (int(inf); a text column compared with a 26-digit "code"): 500s.
_LARGEST_SENT_INTEGER = 2**63


def _unsendable_number(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _LARGEST_SENT_INTEGER


def _value_problem(item: object) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str | dict):
        return "an input without an id"
    prop, value = item.get("property"), item.get("value")
    if not isinstance(prop, str):
        return "an input without a property"
    if prop in _COUNT_PROPS and value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        return f"{prop} is not a whole number"
    # A control's value is a scalar, or a list of scalars (checklists, multi-selects); never an object.
    if prop == "value" and not (
        isinstance(value, _SCALAR) or (isinstance(value, list) and all(isinstance(v, _SCALAR) for v in value))
    ):
        return "a value that no control sends"
    if any(_unsendable_number(v) for v in (value if isinstance(value, list) else [value])):
        return "a number no browser sends"
    return None


def callback_request_problem(body: object, dash_app: Any) -> str | None:
    """Why a ``/_dash-update-component`` body is not one Dash's renderer would send, or None if it could be.

    Checks the envelope (output, inputs, state) and the shape of values controls send; what a value
    means (a known code, a valid period) is each callback's own business.
    """
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or (dash_app is not None and output not in dash_app.callback_map):
        return "an unknown output"
    for part in ("inputs", "state", "changedPropIds"):
        if not isinstance(body.get(part, []), list):
            return f"{part} is not a list"
    if dash_app is not None:
        entry = dash_app.callback_map[output]
        if len(body.get("inputs", [])) != len(entry["inputs"]) or len(body.get("state", [])) != len(entry["state"]):
            return "not the inputs and states this callback takes"
    if not all(isinstance(p, str) for p in body.get("changedPropIds", [])):
        return "changedPropIds holds something other than names"
    for item in [*body.get("inputs", []), *body.get("state", [])]:
        for element in item if isinstance(item, list) else [item]:  # pattern-matching inputs are lists
            problem = _value_problem(element)
            if problem:
                return problem
    return None


def _page_error_handler(error: Exception) -> Any:
    """Dash's ``on_error``: a page whose URL it cannot use says so; any other failure goes on to
    :func:`init_app`'s error handler (400 for bad input, 500 otherwise)."""
    from dash import ctx, html, no_update

    outputs = ctx.outputs_list if isinstance(ctx.outputs_list, list) else [ctx.outputs_list]
    if isinstance(error, BAD_INPUT_ERRORS) and any(
        isinstance(o, dict) and o.get("id") == "_pages_content" for o in outputs
    ):
        log.warning("A page could not use its URL %s", request.full_path, exc_info=error)
        return [html.Div(PAGE_ERROR_MESSAGE, className="alert alert-warning mt-3", role="alert"), no_update]
    raise error


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _refuse_unauthenticated() -> Response:
    if request.path.startswith(API_PREFIXES) or request.method != "GET":
        response = jsonify({"error": "Sign-in required.", "login": "/login"})
        response.status_code = 401
        return response
    target = request.full_path if request.query_string else request.path
    return redirect(flask.url_for("pathfinder_login", next=target))


def safe_next(target: object) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirect to another origin)."""
    if not isinstance(target, str) or not target.startswith("/") or len(target) > 1000:
        return "/"
    if target.startswith("//") or "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout"):
        return "/"
    return target


def content_security_policy(state: SecurityState | None) -> str:
    """The CSP: only this origin, plus Dash's own inline scripts by hash (no 'unsafe-inline' scripts)."""
    script_hashes: list[str] = []
    if state is not None and state.dash_app is not None:
        script_hashes = state.dash_app.csp_hashes()
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *script_hashes],
        # Plotly and Dash components set style attributes and inject <style> rules at run time.
        "style-src": ["'self'", "'unsafe-inline'"],
        # Bootstrap's form and navbar icons are data: SVGs; Plotly's image export makes blob:/data: images.
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        # MapLibre (Plotly's map traces) starts its web worker from a blob: URL.
        "worker-src": ["'self'", "blob:"],
        "child-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def apply_security_headers(response: Response, state: SecurityState | None) -> Response:
    """Add the hardening headers to ``response`` (every response, errors and static files included)."""
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(state)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
    if (state is not None and state.secure_cookies) or request.is_secure:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    if not request.path.startswith(CACHEABLE_PREFIXES):
        # Pages and callback answers may hold patient rows: never keep them in a shared or browser cache.
        headers["Cache-Control"] = "no-store"
    return response


def _csrf_token() -> str:
    token = session.get("csrf_token")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf_token"] = token
    return token


def _csrf_ok() -> bool:
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf_token")
    return isinstance(expected, str) and isinstance(sent, str) and hmac.compare_digest(sent, expected)


def _login_view(state: SecurityState, throttle: _SignInThrottle) -> Any:
    next_target = safe_next(request.values.get("next", "/"))
    if request.method == "GET":
        return _login_page(state, next_target=next_target)
    if not _csrf_ok():
        return _login_page(state, next_target=next_target, error="The form expired. Please try again.", status=400)
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    if not isinstance(username, str) or not isinstance(password, str):
        username, password = "", ""
    throttle_key = username.strip().lower()[:64]
    if throttle.blocked(throttle_key):
        return _login_page(
            state, next_target=next_target, error="Too many failed sign-ins. Please wait 15 minutes.", status=429
        )
    principal = state.store.authenticate(username, password[: MAX_PASSWORD_CHARS + 1])
    if principal is None:
        throttle.failed(throttle_key)
        _audit_quietly(state, None, audit.SIGN_IN_FAILED, {"attempted_username": username[:64]})
        return _login_page(state, next_target=next_target, error="Wrong username or password.", status=401)
    throttle.succeeded(throttle_key)
    try:
        session_id = state.sessions.start(principal.username)
    except SessionsUnavailable as error:
        return _login_page(state, next_target=next_target, error=str(error), status=503)
    session.clear()  # a fresh session at sign-in: nothing chosen before it survives (session fixation)
    session.permanent = True
    session[SESSION_ID_KEY] = session_id
    login_user(SignedInUser(principal))
    # A new CSRF token now, in the sign-in response's cookie. Made later, by the first layout request (the
    # navbar's sign-out form), it was lost: the page's callback requests run at the same moment and write
    # back the session as they read it, without the token, so sign-out was refused with 400.
    _csrf_token()
    _audit_quietly(state, principal, audit.SIGN_IN, {})
    return redirect(next_target)


def _logout_view(state: SecurityState) -> Any:
    # Signing out is a POST carrying the session's CSRF token: as a GET (or a bare POST) any other
    # site could sign the user out. Those get the sign-in page, whose "Signed in as" box has a
    # sign-out button with the token.
    if request.method != "POST" or not _csrf_ok():
        return _login_page(state, next_target="/", status=200 if request.method == "GET" else 400)
    principal = current_user_principal()
    if principal is not None:
        _audit_quietly(state, principal, audit.SIGN_OUT, {})
    state.sessions.end(session.get(SESSION_ID_KEY))
    logout_user()
    session.clear()
    return redirect(flask.url_for("pathfinder_login", signed_out=1))


_SIGN_OUT_TOKEN_HOOK: list[Any] = []


def _fill_sign_out_token() -> None:
    """Put the session's CSRF token in the navbar's sign-out form of each layout Dash serves.

    A layout can be one object shared by every user, so each request gets a copy with its own
    token. Dash's layout hooks are process-wide: one hook, registered once, which leaves alone the
    layout of any app this module does not guard (or one without the form).
    """
    if _SIGN_OUT_TOKEN_HOOK:
        return
    import copy

    from dash import hooks
    from dash.development.base_component import Component

    from components.layout import SIGN_OUT_TOKEN_ID

    def with_token(layout: Any) -> Any:
        guarded = flask.has_app_context() and EXTENSION_KEY in flask.current_app.extensions
        if not guarded or not flask.has_request_context() or not isinstance(layout, Component):
            return layout
        if not any(getattr(c, "id", None) == SIGN_OUT_TOKEN_ID for c in layout._traverse()):
            return layout
        filled = copy.deepcopy(layout)
        for component in filled._traverse():
            if getattr(component, "id", None) == SIGN_OUT_TOKEN_ID:
                component.value = _csrf_token()
        return filled

    hooks.layout()(with_token)
    _SIGN_OUT_TOKEN_HOOK.append(with_token)


def _audit_quietly(state: SecurityState, principal: Principal | None, action: str, filters: dict) -> None:
    # Sign-in events are audited too, but an unwritable log must not lock everyone out; patient rows
    # (the pages) fail closed on their own audit write.
    try:
        state.audit_log.record(principal, action, filters)
    except audit.AuditUnavailable:
        log.exception("Could not audit %s", action)


_LOGIN_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Sign in · London Pathfinder Dashboards</title>
  <link rel="stylesheet" href="/assets/vendor/bootstrap.min.css">
</head>
<body class="bg-light">
<main class="container py-4" style="max-width: 40rem">
  <h1 class="h3 mb-3">London Pathfinder Dashboards</h1>
  {% if demo %}
  <div class="alert alert-warning" role="note">
    <strong>Demo mode.</strong> All data is synthetic. These published demo accounts exist only in demo mode:
    <div class="table-responsive" tabindex="0" role="region" aria-label="Demo accounts">
      <table class="table table-sm mt-2 mb-0">
      <caption class="visually-hidden">Demo accounts</caption>
      <thead><tr><th scope="col">Username</th><th scope="col">Password</th><th scope="col">Role</th>
        <th scope="col">Scope</th></tr></thead>
      <tbody>
      {% for account in accounts %}
        <tr><td><code>{{ account.username }}</code></td><td><code>{{ account.password }}</code></td>
          <td>{{ account.role.value }}</td><td>{{ account.scope.describe() }}</td></tr>
      {% endfor %}
      </tbody>
    </table></div>
  </div>
  {% endif %}
  {% if signed_in %}
  <div class="alert alert-info" role="status">
    Signed in as <strong>{{ signed_in.label }}</strong> ({{ signed_in.role.value }}: {{ role_description }}).
    <a class="alert-link" href="/">Open the dashboards</a>.
    <form method="post" action="/logout" class="mt-2">
      <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
      <button type="submit" class="btn btn-outline-secondary btn-sm">Sign out</button>
    </form>
  </div>
  {% endif %}
  {% if signed_out %}<div class="alert alert-success" role="status">You have signed out.</div>{% endif %}
  {% if expired %}<div class="alert alert-warning" role="status">Your session has ended. Sign in again to carry
    on where you were.</div>{% endif %}
  {% if error %}<div class="alert alert-danger" role="alert">{{ error }}</div>{% endif %}
  <form method="post" action="/login" class="card card-body">
    <h2 class="h5">Sign in</h2>
    <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
    <input type="hidden" name="next" value="{{ next_target }}">
    <div class="mb-3">
      <label for="username" class="form-label">Username</label>
      <input id="username" name="username" class="form-control" autocomplete="username" maxlength="64" required
        autofocus>
    </div>
    <div class="mb-3">
      <label for="password" class="form-label">Password</label>
      <input id="password" name="password" type="password" class="form-control" autocomplete="current-password"
        maxlength="1024" required>
    </div>
    <button type="submit" class="btn btn-primary">Sign in</button>
  </form>
  <p class="small text-muted mt-3">{% if demo %}All patient data shown is synthetic. {% endif %}Every
    patient-level view and export is recorded in an audit log.</p>
</main>
</body>
</html>
"""


def _login_page(state: SecurityState, *, next_target: str, error: str = "", status: int = 200) -> Response:
    signed_in = current_user_principal()
    html = render_template_string(
        _LOGIN_TEMPLATE,
        demo=state.demo,
        accounts=DEMO_ACCOUNTS,
        signed_in=signed_in,
        role_description=ROLE_DESCRIPTIONS.get(signed_in.role, "") if signed_in else "",
        signed_out=request.args.get("signed_out") == "1" and signed_in is None,
        expired=request.args.get("expired") == "1" and signed_in is None,  # sent by assets/session_expiry.js
        error=error,
        csrf_token=_csrf_token(),
        next_target=next_target,
    )
    return Response(html, status=status, mimetype="text/html")
