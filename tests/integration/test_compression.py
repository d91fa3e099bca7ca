"""Responses are compressed as chosen: zstd for browsers that offer it, else gzip at level 1 (cheap on 2 cores)."""

from __future__ import annotations

import gzip

import pytest
from flask_compress.compat import compression

from security.testing import sign_in


@pytest.fixture
def client(small_db, monkeypatch):
    monkeypatch.setenv("PATHFINDER_DB", str(small_db))
    from app import app

    client = app.server.test_client()
    sign_in(client, "demo.commissioner")
    return client


def test_a_gzip_only_client_gets_gzip_at_level_1(client):
    plain = client.get("/_dash-layout", headers={"Accept-Encoding": "identity"})
    packed = client.get("/_dash-layout", headers={"Accept-Encoding": "gzip"})
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    # Level 1's stream, byte for byte apart from the header's timestamp; level 6 would be smaller.
    assert packed.data[10:] == gzip.compress(plain.data, compresslevel=1)[10:]
    assert len(gzip.compress(plain.data, compresslevel=6)) < len(packed.data)


def test_a_browser_offering_zstd_gets_zstd(client):
    plain = client.get("/_dash-layout", headers={"Accept-Encoding": "identity"})
    packed = client.get("/_dash-layout", headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert packed.headers["Content-Encoding"] == "zstd"
    assert compression.zstd.decompress(packed.data) == plain.data
