"""Injection and garbage in URL query strings and callback payloads: a clean answer, never a 500, no data changed.

SQL metacharacters, 10,000-character strings, wrong types (lists, dicts, numbers where strings are
expected) and unknown codes go into every page's query string and every server-side callback's
inputs and states, through the real endpoints. Each answer must be a 200 (the page or callback
with a message or its defaults) or a 4xx, never a 500 and never a traceback; afterwards the
contract tables hold exactly the rows they held before, and the app's connection is read-only.
"""

from __future__ import annotations

import inspect
import json
from typing import Any
from urllib.parse import quote, urlencode

import dash
import duckdb
import pytest

from security.testing import PAGES_ROUTER, UPDATE_COMPONENT, CallbackDriver, layout_props, sign_in
from tests.integration.test_security_matrix import ADMIN, CLIENTSIDE, EXPECTATIONS, ROUTER, callback_name, short_name

SQL = "'; DROP TABLE patients;--"
HUGE = "E" + "9" * 9_999  # 10,000 characters, shaped like a code
GARBAGE: dict[str, Any] = {
    "sql": SQL,
    "huge": HUGE,
    "list": [SQL, 1, None, {"a": 1}],
    "dict": {"$ne": 1, "id": SQL},
    "number": -1e308,
    # Python's JSON reader takes both; no browser sends either (a privacy review's 500s).
    "infinite": float("inf"),
    "integer-beyond-64-bits": 10**26,
    "unknown-code": "E09999999",
    "bool": True,
}
CONTRACT_TABLES = (
    "patients",
    "immunisations",
    "clinical_events",
    "medications",
    "hospital_episodes",
    "cancer_pathways",
    "cancer_registrations",
    "patient_dim",
    "meta",
)
# Query-string keys any page might read, besides each layout's own keyword parameters.
COMMON_KEYS = (
    "indicator", "period", "area", "map", "view", "level", "borough", "icb", "practice", "pcn", "tab",
    "measure", "tumour", "priority", "trust", "threshold", "group", "age", "missing", "as_at", "imd",
    "ethnicity", "registered_after", "match", "sex", "origin", "ambition",
)  # fmt: skip
PAGES = (
    "/",
    "/immunisation",
    "/immunisation/practice/E83003",
    "/immunisation/cohort",
    "/hypertension",
    "/asthma",
    "/cancer",
    "/admin/audit",
)


@pytest.fixture(scope="module")
def dash_app(small_db, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("PATHFINDER_DB", str(small_db))
    patch.setenv("PATHFINDER_DEMO", "true")
    patch.setenv("PATHFINDER_AUDIT_DIR", str(tmp_path_factory.mktemp("garbage-audit")))
    import app

    yield app.app
    patch.undo()


@pytest.fixture(scope="module")
def driver(dash_app) -> CallbackDriver:
    return CallbackDriver(dash_app)


def row_counts(path) -> dict[str, int]:
    from queries.db import get_database

    db = get_database(path)  # the app's own read-only handle
    return {table: int(db.scalar(f"SELECT count(*) FROM {table}")) for table in CONTRACT_TABLES}  # noqa: S608


@pytest.fixture(scope="module")
def unchanged_database(small_db, dash_app):
    """The contract tables' row counts before the module's requests, checked again after them all."""
    before = row_counts(small_db)
    yield
    assert row_counts(small_db) == before


@pytest.fixture(scope="module")
def client(dash_app, driver, unchanged_database):
    client = dash_app.server.test_client()
    sign_in(client, "demo.campaign")  # a patient-row role: the most code runs for it
    return client


@pytest.fixture(scope="module")
def admin_client(dash_app, unchanged_database):
    client = dash_app.server.test_client()
    sign_in(client, "demo.admin")
    return client


@pytest.fixture(scope="module")
def components(driver, client):
    """Every page's components as the campaign responder gets them (the values garbage replaces)."""
    found: dict[str, Any] = {}
    for path in PAGES:
        status, layout = driver.render(client, path)
        assert status == 200
        found.update(layout_props(layout))
    return found


def assert_clean(response, what: str) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code < 500, f"{what}: HTTP {response.status_code}: {body[:300]}"
    assert "Traceback" not in body and 'File "' not in body, f"{what}: traceback in the answer"


def query_keys(path: str) -> list[str]:
    page = next(p for p in dash.page_registry.values() if p["path"] == path or p.get("path_template") == path)
    own = [
        name
        for name, parameter in inspect.signature(page["layout"]).parameters.items()
        if parameter.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    return sorted(set(own) | set(COMMON_KEYS))


# ----------------------------------------------------------------------------- URLs


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("kind", ["sql", "huge", "unknown-code", "repeated", "unicode"])
def test_garbage_query_strings_render_the_page(driver, client, admin_client, path, kind):
    template = "/immunisation/practice/<ods_code>" if path.startswith("/immunisation/practice/") else path
    keys = query_keys(template)
    values = {"sql": SQL, "huge": HUGE, "unknown-code": "E09999999", "unicode": "\x00\u202e<script>\ud7ff"}
    if kind == "repeated":
        search = "&".join(f"{key}=E09000012&{key}={quote(SQL)}&{key}[]=1" for key in keys)
    else:
        search = urlencode({key: values[kind] for key in keys})
    user = admin_client if path == "/admin/audit" else client
    response = user.post(UPDATE_COMPONENT, json=_router_payload(driver, path, "?" + search))
    assert_clean(response, f"{path}?{kind}")
    assert response.status_code == 200


def _router_payload(driver: CallbackDriver, pathname: str, search: str) -> dict:
    values = {("_pages_location", "pathname"): pathname, ("_pages_location", "search"): search}
    return driver.payload(PAGES_ROUTER, values=values)


@pytest.mark.parametrize(
    "pathname",
    [
        "/immunisation/practice/" + quote(SQL),
        "/immunisation/practice/" + HUGE,
        "/immunisation/practice/e83003",
        "/" + "x" * 10_000,
        "/asthma/../../etc/passwd",
    ],
    ids=["sql", "huge", "lower-case", "huge-path", "dots"],
)
def test_garbage_paths_render_a_page_or_not_found(driver, client, pathname):
    response = client.post(UPDATE_COMPONENT, json=_router_payload(driver, pathname, ""))
    assert_clean(response, pathname[:40])
    assert response.status_code == 200


def test_an_unknown_address_says_so_and_links_every_page(driver, client):
    status, layout = driver.render(client, "/no-such-page")
    assert status == 200
    text = json.dumps(layout)
    assert "Page not found" in text
    for href in ("/", "/immunisation", "/hypertension", "/asthma", "/cancer"):
        assert f'"href": "{href}"' in text, href


# ----------------------------------------------------------------------------- callback payloads


SERVER_SIDE = sorted(name for name, expect in EXPECTATIONS.items() if expect.kind not in (CLIENTSIDE, ROUTER))


@pytest.mark.parametrize("name", SERVER_SIDE, ids=short_name)
def test_garbage_in_every_input_and_state(driver, client, admin_client, components, name):
    expect = EXPECTATIONS[name]
    key = next(k for k, entry in driver.callbacks.items() if callback_name(k, entry) == name)
    entry = driver.callbacks[key]
    user = admin_client if expect.kind == ADMIN else client
    fields = [
        (spec["id"], spec["property"])
        for spec in entry["inputs"] + entry["state"]
        if not spec["id"].startswith("{") and spec["property"] != "n_clicks"
    ]
    for kind, garbage in GARBAGE.items():
        values = {field: garbage for field in fields}
        if expect.tab:
            values[(expect.tab[0], "value")] = expect.tab[1]  # the section must be on show for the callback to run
        trigger = None
        if expect.csv_type:
            button = next(
                json.dumps(cid, sort_keys=True, separators=(",", ":"))
                for cid, _ in components.values()
                if isinstance(cid, dict) and cid.get("type") == expect.csv_type
            )
            values[(button, "n_clicks")] = 1
            trigger = f"{button}.n_clicks"
        response = user.post(UPDATE_COMPONENT, json=driver.payload(key, components, values=values, trigger=trigger))
        assert_clean(response, f"{name} with {kind} in every field")


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"[]",
        b"null",
        {"output": "no-such-component.children", "inputs": [], "state": [], "changedPropIds": []},
        {"output": "imm-trend.figure"},
        {"output": "imm-trend.figure", "inputs": "'; DROP TABLE patients;--", "state": [], "changedPropIds": []},
        {"output": ["imm-trend.figure"], "inputs": [], "changedPropIds": []},
        {"output": "imm-trend.figure", "inputs": [{"id": "imm-indicator"}], "changedPropIds": [SQL]},
    ],
    ids=["bad-json", "list", "null", "unknown-output", "no-inputs", "string-inputs", "list-output", "half-inputs"],
)
def test_malformed_callback_requests_get_a_client_error(client, payload):
    if isinstance(payload, bytes):
        response = client.post(UPDATE_COMPONENT, data=payload, content_type="application/json")
    else:
        response = client.post(UPDATE_COMPONENT, json=payload)
    assert_clean(response, str(payload)[:60])
    assert response.status_code == 400
    assert response.get_json() == {"error": "This request has values the app cannot use."}


# ----------------------------------------------------------------------------- the database


def test_the_app_opens_the_database_read_only(small_db, dash_app, client):
    from queries.db import DataUnavailable, get_database

    db = get_database(small_db)
    for statement in (
        "DELETE FROM patients",
        "DROP TABLE patients",
        "CREATE TABLE injected (x INTEGER)",
        "UPDATE meta SET value = 'x'",
    ):
        with pytest.raises(DataUnavailable, match="read-only"):
            db.frame(statement)
    with pytest.raises(duckdb.Error, match="read-only"):
        db.cursor().execute("INSERT INTO meta VALUES ('injected', 'x')")
