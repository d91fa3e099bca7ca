"""Helpers for tests that need a signed-in user (integration tests with Flask's test client, browser tests).

Integration tests (the app imported in-process with ``PATHFINDER_DEMO=true``)::

    from security.testing import sign_in
    client = app.server.test_client()
    sign_in(client, "demo.gp")            # the demo password is looked up; raises if sign-in fails
    client.post("/_dash-update-component", json=payload)

Browser tests: POST the same form (or fill ``#username`` / ``#password`` on ``/login``) and keep the
context's cookies. Calling a callback as a plain function: ``with security.web.acting_as(principal): ...``.
"""

from __future__ import annotations

import re
from typing import Any

from security.users import DEMO_ACCOUNTS

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
DEMO_PASSWORDS = {account.username: account.password for account in DEMO_ACCOUNTS}
DEMO_USER_FOR_ROLE = {account.role.value: account.username for account in DEMO_ACCOUNTS}


def csrf_token(client: Any) -> str:
    """The sign-in form's CSRF token for this client's session."""
    page = client.get("/login")
    match = _CSRF.search(page.get_data(as_text=True))
    if match is None:
        raise AssertionError(f"/login did not serve the sign-in form (status {page.status_code})")
    return match.group(1)


def sign_in(client: Any, username: str, password: str | None = None) -> Any:
    """Sign ``client`` (a Flask test client) in; ``password`` defaults to the demo account's. Returns the response."""
    password = DEMO_PASSWORDS.get(username, "") if password is None else password
    form = {"username": username, "password": password, "csrf_token": csrf_token(client)}
    response = client.post("/login", data=form)
    if response.status_code != 302:
        raise AssertionError(f"sign-in as {username!r} failed with status {response.status_code}")
    return response
