"""The app starts against a small database and the overview shows its map and real figures."""

from __future__ import annotations

import duckdb
import pytest

from components.geometry import geometry_url
from queries.disclosure import disclose_count
from security.testing import sign_in
from tests.integration.app_pages import find


@pytest.fixture
def app_on_small_db(small_db, monkeypatch):
    monkeypatch.setenv("PATHFINDER_DB", str(small_db))
    from app import app

    return app


def test_server_serves_the_shell(app_on_small_db):
    client = app_on_small_db.server.test_client()
    sign_in(client, "demo.commissioner")
    page = client.get("/")
    assert page.status_code == 200
    assert b"_dash-config" in page.data
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200
    assert b"London Pathfinder Dashboards" in layout.data


def test_overview_map_and_figures_come_from_the_database(app_on_small_db, small_db):
    from pages import overview

    tree = overview.layout()
    graphs = find(tree, lambda c: getattr(c, "id", None) == overview.MAP_ID)
    assert len(graphs) == 1
    trace = graphs[0].figure.data[0]
    assert trace.type == "choroplethmap"
    assert graphs[0].figure.layout.map.style == "white-bg"
    assert len(trace.locations) == 33
    # The boundaries come by URL, fetched once and cached, as on the pathfinder pages: not inside the figure.
    assert trace.geojson == geometry_url("borough")
    assert {layer.source for layer in graphs[0].figure.layout.map.layers} == {
        geometry_url("london-outline"),
        geometry_url("icb-outlines"),
    }

    with duckdb.connect(str(small_db), read_only=True) as con:
        expected = dict(
            con.execute(
                """
                SELECT borough_code, count(*) FROM patient_dim, (SELECT CAST(value AS DATE) d FROM meta
                  WHERE key = 'extract_date')
                WHERE registration_start <= d AND (registration_end IS NULL OR registration_end > d)
                  AND (death_date IS NULL OR death_date > d)
                GROUP BY ALL
                """
            ).fetchall()
        )
    shown = dict(zip(trace.locations, trace.z, strict=True))
    assert sum(expected.values()) > 10_000
    # Aggregates follow the NHS disclosure rule: each borough's exact count, rounded to 5.
    assert {code: shown[code] for code in expected} == {c: disclose_count(n) for c, n in expected.items()}
    assert all(shown[code] == 0 for code in shown if code not in expected)
    assert all(value % 5 == 0 for value in shown.values())


def test_overview_without_database_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("PATHFINDER_DB", str(tmp_path / "missing.duckdb"))
    from app import app  # noqa: F401  (registers the pages)
    from pages import overview

    tree = overview.layout()
    alerts = find(tree, lambda c: type(c).__name__ == "Alert")
    assert alerts and "make data" in str(alerts[0].children)


def test_overview_has_a_card_per_pathfinder_linking_to_its_page(app_on_small_db):
    from dash import dcc

    from pages import overview

    tree = overview.layout()
    cards = find(tree, lambda c: "pathfinder-card" in (getattr(c, "className", None) or ""))
    assert len(cards) == 4
    links = [link.href for link in find(tree, lambda c: isinstance(c, dcc.Link))]
    assert links == ["/immunisation", "/hypertension", "/asthma", "/cancer"]
    text = str(tree)
    assert "London, " in text and "significantly worse than London" in text


def test_overview_headlines_follow_the_users_disclosure(app_on_small_db):
    from pages import overview
    from security.roles import Principal, Role
    from security.web import acting_as

    def cards_text(role: Role) -> str:
        with acting_as(Principal(username="someone", role=role)):
            return str(find(overview.layout(), lambda c: getattr(c, "id", None) == overview.PATHFINDERS_ID))

    # On the small database some borough values are 1-7 based: fewer boroughs are shown to a commissioner.
    assert cards_text(Role.ANALYST) != cards_text(Role.COMMISSIONER)


def test_a_user_with_patients_gets_links_to_them_first(app_on_small_db):
    """A GP team landed on London's figures, with its practice at the bottom of the immunisation page."""
    from pages import overview
    from security.roles import Principal, Role, Scope
    from security.web import acting_as

    def links(principal) -> list[tuple[str, str]]:
        with acting_as(principal):
            tree = overview.layout()
        return [(str(c.children), c.href) for c in find(tree, lambda c: getattr(c, "href", None) is not None)]

    gp = links(Principal("gp.test", Role.GP_TEAM, Scope.of(practices=["E83003"])))
    assert ("Oakleigh Road Health Centre (E83003): immunisation gaps by vaccine", "/immunisation/practice/E83003") in gp
    assert ("Oakleigh Road Health Centre: children missing doses", "/immunisation/cohort?practice=E83003") in gp
    campaign = links(Principal("campaign.test", Role.CAMPAIGN_RESPONDER, Scope.of(boroughs=["E09000012"])))
    assert ("Hackney: children missing doses", "/immunisation/cohort?borough=E09000012") in campaign
    commissioner = links(Principal("commissioner.test", Role.COMMISSIONER))
    assert not any(href.startswith("/immunisation/cohort") for _, href in commissioner)


def test_the_shell_names_the_served_databases_kind_of_data(app_on_small_db):
    import app as app_module
    from components.layout import SYNTHETIC_NOTE

    assert app_module._data_source() == "synthetic"
    assert SYNTHETIC_NOTE in str(app_module.shell_layout().to_plotly_json())
