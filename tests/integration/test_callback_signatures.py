"""Every server callback takes the arguments its registration sends (Inputs and States, in order).

A callback that gained an Input (a view's "opened" store) without a parameter for it fails only in the
browser, as a 400 and a console error on the page's first draw; here it fails at once, for every page.
"""

from __future__ import annotations

import inspect


def test_every_callback_takes_what_its_registration_sends(tmp_path, monkeypatch, small_db):
    monkeypatch.setenv("PATHFINDER_DB", str(small_db))
    monkeypatch.setenv("PATHFINDER_DEMO", "true")
    monkeypatch.setenv("PATHFINDER_AUDIT_DIR", str(tmp_path))
    from app import app
    from security.testing import sign_in

    client = app.server.test_client()
    sign_in(client, "demo.commissioner")
    assert client.get("/_dash-dependencies").status_code == 200  # Dash gathers every page's callbacks
    checked, wrong = 0, []
    for entry in app.callback_map.values():
        function = getattr(entry.get("callback"), "__wrapped__", None)
        if function is None:
            continue
        checked += 1
        try:
            inspect.signature(function).bind(*range(len(entry["inputs"]) + len(entry["state"])))
        except TypeError as error:
            wrong.append(f"{function.__module__}.{function.__name__}: {error}")
    assert checked > 50 and wrong == []
