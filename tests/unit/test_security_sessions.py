"""The server's record of live sessions (security.sessions): started, ended, timed out, and failing closed."""

from __future__ import annotations

import pytest

from security.sessions import SessionStore, SessionsUnavailable


def test_a_session_is_live_for_its_user_until_it_ends(tmp_path):
    store = SessionStore(tmp_path / "sessions.sqlite3", lifetime_s=60)
    session_id = store.start("demo.gp")
    assert store.is_live(session_id, "demo.gp")
    assert not store.is_live(session_id, "demo.campaign")  # an id is no use under another user's name
    assert not store.is_live("made-up", "demo.gp") and not store.is_live(None, "demo.gp")
    store.end(session_id)
    assert not store.is_live(session_id, "demo.gp")


def test_an_unusable_record_fails_closed(tmp_path):
    (tmp_path / "sessions.sqlite3").mkdir()  # a folder where the file should be: neither readable nor writable
    store = SessionStore(tmp_path / "sessions.sqlite3", lifetime_s=60)
    with pytest.raises(SessionsUnavailable):
        store.start("demo.gp")
    assert not store.is_live("any", "demo.gp")
    store.end("any")  # logged, not raised: sign-out still clears the browser's cookie
