"""A database built by another version of the build is never served: pages and warm-up say why instead.

The database is a real build of the hand-made extract whose stamp is then rewound, as a file built by
older code would be (``data.build_version``).
"""

from __future__ import annotations

import logging
from datetime import date

import duckdb
import pytest

from data.build import build_from_frames
from data.build_version import BUILD_VERSION, META_KEY
from tests.integration.app_pages import app_pages, find

pytestmark = pytest.mark.slow

STALE = f"older version of the build (version {BUILD_VERSION - 1}, this code needs {BUILD_VERSION})"


@pytest.fixture
def stale_db(tmp_path, tiny_tables):
    out = tmp_path / "stale.duckdb"
    build_from_frames(tiny_tables, out, extract_date=date(2026, 10, 31))
    con = duckdb.connect(str(out))
    con.execute("UPDATE meta SET value = ? WHERE key = ?", [str(BUILD_VERSION - 1), META_KEY])
    con.close()
    return out


def test_pages_show_the_rebuild_message(stale_db, tmp_path):
    with app_pages(stale_db, tmp_path / "audit", "overview", "hypertension") as (overview, hypertension):
        alerts = find(overview.layout(), lambda c: type(c).__name__ == "Alert")
        assert alerts and STALE in str(alerts[0].children) and "make data" in str(alerts[0].children)

        layout = str(hypertension.layout())
        assert "Data unavailable" in layout and STALE in layout
        # A callback's answer is the same alert, in the slot each page keeps for it.
        assert STALE in str(hypertension.update_comparison("hyp008", None, None)[-1])


def test_warm_up_logs_the_message_and_carries_on(stale_db, tmp_path, caplog):
    with app_pages(stale_db, tmp_path / "audit"):
        import app

        with caplog.at_level(logging.WARNING, logger="pathfinder.app"):
            seconds = app.warm_caches()
    assert "plotly trace classes" in seconds, "every step ran"
    failed = [r.getMessage() for r in caplog.records if STALE in r.getMessage()]
    assert any("warm-up cancer cube failed" in message for message in failed)
