"""Roles × every callback and download of the app, through the real ``/_dash-update-component`` endpoint.

The list of callbacks comes from the running app (``callback_map`` after the pages are imported), so
a new callback without an entry in :data:`EXPECTATIONS` fails :func:`test_every_callback_has_an_expectation`.
Each server-side callback is posted as the browser would post it (inputs and states from the page
layout the same user gets) for commissioner, gp_team, campaign_responder, analyst and admin, and
signed out. What each kind of callback must give:

- ``UI``: controls and text with no counts; the same answer for every role.
- ``AGGREGATE``: figures, tables, headline cards and CSVs of counts. The four disclosure-controlled
  roles get the same answer, every count in it 0 or a multiple of 5 above 7; the analyst gets the
  unrounded counts (a different answer).
- ``OWN_PRACTICE``: aggregates of one practice's page, asked about demo.gp's own practice. As
  ``AGGREGATE``, except that gp_team may list that practice's children and so sees its own figures
  unrounded: any count of theirs that disclosure control would not show is one the analyst gets too,
  and their CSVs are audited as unrounded (the others' as aggregate exports, the analyst's unrounded).
- ``PATIENT_ROWS``: lists and exports of patients. Only gp_team (own practice) and campaign_responder
  (own borough) get rows, each checked against the database; each view/export is audited with its
  row count first; every other role gets a message and no rows.
- ``PATIENT_OPTIONS``: the practices a user may list patients for (their scope, or none).
- ``ADMIN``: the audit log, for the admin only.
- ``CLIENTSIDE``: runs in the browser only (no server function to call).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from components.layout import view_switch_value
from security import audit
from security.testing import (
    PAGES_ROUTER,
    UPDATE_COMPONENT,
    CallbackDriver,
    count_fields,
    layout_props,
    sign_in,
)

ROLES = ("commissioner", "gp_team", "campaign_responder", "analyst", "admin")
DISCLOSED_ROLES = ("commissioner", "gp_team", "campaign_responder", "admin")
USERS = {
    "commissioner": "demo.commissioner",
    "gp_team": "demo.gp",
    "campaign_responder": "demo.campaign",
    "analyst": "demo.analyst",
    "admin": "demo.admin",
}
GP_PRACTICE = "E83003"  # demo.gp's practice (Barnet)
CAMPAIGN_BOROUGH = "E09000012"  # demo.campaign's borough (Hackney)
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

CLIENTSIDE, UI, AGGREGATE, OWN_PRACTICE, PATIENT_ROWS, PATIENT_OPTIONS, ADMIN, ROUTER = (
    "clientside",
    "ui",
    "aggregate",
    "own_practice",
    "patient_rows",
    "patient_options",
    "admin",
    "router",
)


@dataclass(frozen=True)
class Expect:
    """What a callback may return, and how to drive it (tab to show, CSV buttons to click)."""

    kind: str
    tab: tuple[str, str] | None = None  # (tabs component id, value) that makes the callback run
    csv_type: str | None = None  # pattern-matching CSV buttons: each view's button is clicked in turn
    values: dict[tuple[str, str], Any] = field(default_factory=dict)


# The pages' main view switches (components.layout.view_switch): their radios' ids as the payload keys them.
AST_TAB, HYP_TAB, CANCER_TAB = (
    json.dumps(view_switch_value(key), sort_keys=True, separators=(",", ":"))
    for key in ("ast-tabs", "hyp-tabs", "cancer-tabs")
)

# The cohort finder's list export (its message says why no file came).
COHORT_EXPORT = (
    "imm-cohort-download-list.data imm-cohort-download-list-message.children <- imm-cohort-download-list-button"
)
COHORT_SUMMARY = (
    "imm-cohort-summary.children imm-cohort-lsoa-map.figure imm-cohort-practice-map.figure "
    "imm-cohort-maps-shown.data imm-cohort-by-borough.figure imm-cohort-by-practice.figure "
    "imm-cohort-by-age.figure imm-cohort-problem.children <- imm-cohort-find"
)
COHORT_SUMMARY_CSV = (
    "imm-cohort-download-summary.data imm-cohort-download-message.children <- imm-cohort-download-summary-button"
)
COHORT_ON_GP_PRACTICE = {("imm-cohort-practice", "value"): "E83003", ("imm-cohort-borough", "value"): []}
# A measure whose latest quarter ranks demo.gp's practice (1 child): the page's default has no child of E83003's.
GP_PRACTICE_RANKED = {("imm-gp-indicator", "value"): "cover_12m_6in1", ("imm-gp-period-type", "value"): "quarter"}
# Keyed by callback_name(): the outputs (ids.props, duplicates' @hash dropped) and the first input's id.
EXPECTATIONS: dict[str, Expect] = {
    # the shell and shared components
    "navbar-collapse.is_open <- navbar-toggler": Expect(UI),
    "{nav-link}.href {nav-link}.active <- {page-url-state}": Expect(CLIENTSIDE),
    "{view-pane}.style {view-opened}.data <- {view-switch}": Expect(CLIENTSIDE),
    "_pages_content.children _pages_store.data <- _pages_location": Expect(ROUTER),
    "_pages_dummy.children <- _pages_store": Expect(CLIENTSIDE),
    # /admin/audit
    "admin-audit-entries.children <- admin-audit-username": Expect(ADMIN),
    # /immunisation
    "imm-period.options imm-period.value <- imm-indicator": Expect(UI),
    "imm-rule-title.children imm-rule-rule-version.children imm-rule-definition.children <- imm-indicator": Expect(UI),
    "imm-headline.children <- imm-indicator": Expect(AGGREGATE),
    "imm-map.figure imm-map-shown.data imm-map-table-wrap.children <- imm-indicator": Expect(AGGREGATE),
    "imm-ineq-imd.figure imm-ineq-ethnicity.figure imm-ineq-sex.figure imm-ineq-intersection.figure "
    "imm-ineq-sii.children <- imm-indicator": Expect(AGGREGATE),
    "imm-trend.figure <- imm-indicator": Expect(AGGREGATE),
    "imm-uptake.figure <- imm-indicator": Expect(AGGREGATE),
    # A GP team's layout starts on its own practice: every role is asked about the same one here.
    "imm-practice-link.href imm-practice-link.disabled <- imm-practice-pick": Expect(
        UI, values={("imm-practice-pick", "value"): "E83003"}
    ),
    "imm-download-map.data imm-download-message.children <- imm-download-map-button": Expect(AGGREGATE),
    "imm-download-inequality.data imm-download-message.children <- imm-download-inequality-button": Expect(AGGREGATE),
    "imm-download-trend.data imm-download-message.children <- imm-download-trend-button": Expect(AGGREGATE),
    "imm-download-uptake.data imm-download-message.children <- imm-download-uptake-button": Expect(AGGREGATE),
    "{page-url-state}.data <- imm-indicator": Expect(CLIENTSIDE),
    # /immunisation/practice/<ods> (GP team view: aggregates of one practice, here demo.gp's own)
    "imm-gp-comparison.figure imm-gp-comparison-table-wrap.children imm-gp-cohort-links.children "
    "imm-gp-unrounded-note.children <- imm-gp-period-type": Expect(OWN_PRACTICE),
    "imm-gp-ranking.figure <- imm-gp-indicator": Expect(OWN_PRACTICE, values=GP_PRACTICE_RANKED),
    "imm-gp-trend.figure <- imm-gp-indicator": Expect(OWN_PRACTICE),
    "imm-gp-download-comparison.data imm-gp-download-message.children <- imm-gp-download-comparison-button": Expect(
        OWN_PRACTICE
    ),
    "imm-gp-download-ranking.data imm-gp-download-message.children <- imm-gp-download-ranking-button": Expect(
        OWN_PRACTICE, values=GP_PRACTICE_RANKED
    ),
    "imm-gp-download-trend.data imm-gp-download-message.children <- imm-gp-download-trend-button": Expect(OWN_PRACTICE),
    "imm-gp-url-sync.data <- imm-gp-period-type": Expect(CLIENTSIDE),
    # /immunisation/cohort
    # Every role asks about demo.gp's practice (each user's page starts on their own scope): a summary of
    # children a user may list is unrounded for them (test_a_summary_within_the_users_scope_is_unrounded).
    COHORT_SUMMARY: Expect(OWN_PRACTICE, values=COHORT_ON_GP_PRACTICE),
    COHORT_SUMMARY_CSV: Expect(OWN_PRACTICE, values=COHORT_ON_GP_PRACTICE),
    "imm-cohort-list.data imm-cohort-list.page_count imm-cohort-list-note.children <- imm-cohort-find": Expect(
        PATIENT_ROWS
    ),
    COHORT_EXPORT: Expect(PATIENT_ROWS),
    "imm-cohort-url-sync.data <- imm-cohort-as-at": Expect(CLIENTSIDE),
    # /hypertension
    "hyp-borough.options hyp-borough.value <- hyp-icb": Expect(UI),
    "hyp-practice.options hyp-practice.value <- hyp-borough": Expect(UI),
    "hyp-rule-title.children hyp-rule-rule-version.children hyp-rule-definition.children <- hyp-indicator": Expect(UI),
    "hyp-borough-map.figure hyp-borough-ranked.figure hyp-icb-ranked.figure hyp-kpis.children "
    "hyp-borough-table.children hyp-comparison-message.children <- hyp-indicator": Expect(AGGREGATE),
    "hyp-funnel.figure <- hyp-indicator": Expect(AGGREGATE),
    "hyp-target-chart.figure hyp-target-table.children hyp-practice-target-table.children "
    "hyp-target-message.children <- hyp-period": Expect(AGGREGATE, tab=(HYP_TAB, "targets")),
    "hyp-ineq-imd.figure hyp-ineq-ethnicity.figure hyp-ineq-age.figure hyp-ineq-sex.figure "
    "hyp-intersection.figure hyp-inequality-area.children hyp-inequality-message.children <- hyp-indicator": Expect(
        AGGREGATE, tab=(HYP_TAB, "inequality")
    ),
    "hyp-sii-map.figure hyp-sii-table.children hyp-sii-map-built.data <- hyp-indicator": Expect(
        AGGREGATE, tab=(HYP_TAB, "inequality")
    ),
    "hyp-practice-ranked.figure hyp-practice-map.figure hyp-practice-message.children "
    "hyp-practice-map-built.data <- hyp-indicator": Expect(AGGREGATE, tab=(HYP_TAB, "practices")),
    "hyp-trend-level.value <- hyp-icb": Expect(UI),
    "hyp-trend.figure hyp-trend-title.children <- hyp-indicator": Expect(AGGREGATE, tab=(HYP_TAB, "practices")),
    "hyp-download.data hyp-download-message.children <- {hyp-csv}": Expect(AGGREGATE, csv_type="hyp-csv"),
    "hyp-download.data hyp-download-message.children <- hyp-export-comparison": Expect(AGGREGATE),
    "{page-url-state}.data <- hyp-indicator": Expect(CLIENTSIDE),
    # /asthma
    "ast-rule-title.children ast-rule-rule-version.children ast-rule-definition.children <- ast-measure": Expect(UI),
    "ast-map.figure ast-map-table.children ast-area-message.children ast-map-shown.data <- ast-measure": Expect(
        AGGREGATE, tab=(AST_TAB, "areas")
    ),
    "ast-ranked.figure ast-kpis.children ast-summary-message.children ast-summary-shown.data <- ast-measure": Expect(
        AGGREGATE, tab=(AST_TAB, "areas")
    ),
    "ast-thresholds.figure ast-age-groups.figure ast-funnel.figure ast-imd.figure ast-ethnicity.figure "
    "ast-safety-message.children ast-safety-shown.data <- ast-period": Expect(AGGREGATE, tab=(AST_TAB, "safety")),
    "ast-linked.figure ast-linked-table.children ast-linked-message.children <- ast-period": Expect(
        AGGREGATE, tab=(AST_TAB, "linked")
    ),
    "ast-sii-map.figure ast-sii-table.children ast-inequality-message.children ast-sii-built.data "
    "<- ast-measure": Expect(AGGREGATE, tab=(AST_TAB, "inequality")),
    "ast-practice.options ast-practice.value <- ast-borough": Expect(UI),
    "ast-practice-ranked.figure ast-trend.figure ast-trend-title.children ast-practice-message.children "
    "<- ast-measure": Expect(AGGREGATE, tab=(AST_TAB, "practices")),
    "ast-list-practice.options ast-list-practice.value <- {view-opened}": Expect(
        PATIENT_OPTIONS, tab=(AST_TAB, "patients")
    ),
    "ast-list-table.children ast-list-message.children <- ast-list-show": Expect(PATIENT_ROWS),
    "ast-download.data ast-list-message.children <- ast-list-export": Expect(PATIENT_ROWS),
    "ast-download.data ast-download-message.children <- {ast-csv}": Expect(AGGREGATE, csv_type="ast-csv"),
    "{page-url-state}.data <- ast-measure": Expect(CLIENTSIDE),
    # /cancer
    "cancer-period.options cancer-period.value <- cancer-indicator": Expect(UI),
    "cancer-rule-title.children cancer-rule-rule-version.children cancer-rule-definition.children "
    "<- cancer-indicator": Expect(UI),
    "cancer-kpis.children <- cancer-tumour": Expect(AGGREGATE),
    "cancer-map.figure cancer-map-shown.data cancer-geo-message.children <- cancer-indicator": Expect(
        AGGREGATE, tab=(CANCER_TAB, "areas")
    ),
    "cancer-trust-ranked.figure <- cancer-indicator": Expect(AGGREGATE, tab=(CANCER_TAB, "areas")),
    "cancer-trust-funnel.figure <- cancer-indicator": Expect(AGGREGATE, tab=(CANCER_TAB, "areas")),
    "cancer-sankey.figure cancer-crossing.children cancer-flow-message.children <- cancer-indicator": Expect(
        AGGREGATE, tab=(CANCER_TAB, "flow")
    ),
    "cancer-told-waits.figure cancer-treated-waits.figure cancer-wait-table.children <- cancer-indicator": Expect(
        AGGREGATE, tab=(CANCER_TAB, "flow")
    ),
    "cancer-ineq-imd.figure cancer-ineq-ethnicity.figure cancer-ineq-age.figure cancer-ineq-sex.figure "
    "cancer-ineq-message.children <- cancer-ineq-indicator": Expect(AGGREGATE, tab=(CANCER_TAB, "inequality")),
    "cancer-sii-map.figure cancer-sii-table.children <- cancer-ineq-indicator": Expect(
        AGGREGATE, tab=(CANCER_TAB, "inequality")
    ),
    "cancer-trend-london.figure cancer-trend-message.children <- cancer-indicator": Expect(
        AGGREGATE, tab=(CANCER_TAB, "trend")
    ),
    "cancer-trend-trust.figure <- cancer-indicator": Expect(AGGREGATE, tab=(CANCER_TAB, "trend")),
    "cancer-download.data cancer-download-message.children <- {cancer-csv}": Expect(AGGREGATE, csv_type="cancer-csv"),
    "cancer-url-state.data <- cancer-indicator": Expect(CLIENTSIDE),
}


def _short_id(component_id: str) -> str:
    # Pattern-matching ids read as {type}, e.g. {"index": ["ALL"], "type": "nav-link"} -> {nav-link}.
    if component_id.startswith("{"):
        return "{" + str(json.loads(component_id).get("type")) + "}"
    return component_id


def callback_name(key: str, entry: dict[str, Any]) -> str:
    """A readable, stable name for a callback: its outputs and its first input's id."""
    outputs = " ".join(
        f"{_short_id(o['id'] if isinstance(o['id'], str) else json.dumps(o['id']))}.{o['property'].split('@')[0]}"
        for o in CallbackDriver.outputs(key)
    )
    return f"{outputs} <- {_short_id(entry['inputs'][0]['id'])}"


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def dash_app(small_db, tmp_path_factory):
    """The real app on the small database, with its own audit folder."""
    patch = pytest.MonkeyPatch()
    patch.setenv("PATHFINDER_DB", str(small_db))
    patch.setenv("PATHFINDER_DEMO", "true")
    patch.setenv("PATHFINDER_AUDIT_DIR", str(tmp_path_factory.mktemp("matrix-audit")))
    import app

    yield app.app
    patch.undo()


@pytest.fixture(scope="module")
def driver(dash_app) -> CallbackDriver:
    return CallbackDriver(dash_app)


@pytest.fixture(scope="module")
def named_callbacks(driver) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{callback_name: (callback key, callback_map entry)}`` for every callback the app registers."""
    return {callback_name(key, entry): (key, entry) for key, entry in driver.callbacks.items()}


@pytest.fixture(scope="module")
def sessions(dash_app, driver):
    """Per role: a signed-in test client and the components of every page as that user gets them."""
    out = {}
    for role in ROLES:
        client = dash_app.server.test_client()
        sign_in(client, USERS[role])
        components: dict[str, Any] = {}
        for path in PAGES:
            status, layout = driver.render(client, path)
            assert status == 200, f"{path} as {role}: {status}"
            components.update(layout_props(layout))
        out[role] = (client, components)
    return out


@pytest.fixture(scope="module")
def registry(small_db):
    """patient_id -> (practice_code, practice's borough), and the practices of the campaign borough."""
    from queries.db import get_database

    db = get_database(small_db)
    frame = db.frame("SELECT patient_id, practice_code, borough_code FROM patient_dim")
    where = dict(zip(frame["patient_id"], zip(frame["practice_code"], frame["borough_code"], strict=True), strict=True))
    return where


def post(client, driver, key, components, *, values=None, trigger=None):
    """POST a callback; returns (status, JSON answer or None for 204/no JSON)."""
    response = client.post(UPDATE_COMPONENT, json=driver.payload(key, components, values=values, trigger=trigger))
    body = response.get_data(as_text=True)
    assert "Traceback" not in body
    return response.status_code, (response.get_json(silent=True) if response.status_code == 200 else None)


def runs(expect: Expect, components: dict[str, Any]) -> list[tuple[dict, str | None]]:
    """The (values, trigger) pairs one matrix cell posts: one per CSV view button, else one."""
    values = dict(expect.values)
    if expect.tab:
        values[(expect.tab[0], "value")] = expect.tab[1]
    if not expect.csv_type:
        return [(values, None)]
    buttons = [
        component_id
        for component_id, _ in components.values()
        if isinstance(component_id, dict) and component_id.get("type") == expect.csv_type
    ]
    assert buttons, f"no {expect.csv_type} buttons on the page"
    out = []
    for button in sorted(buttons, key=lambda b: json.dumps(b, sort_keys=True)):
        id_key = json.dumps(button, sort_keys=True, separators=(",", ":"))
        out.append(({**values, (id_key, "n_clicks"): 1}, f"{id_key}.n_clicks"))
    return out


# ----------------------------------------------------------------------------- the list of callbacks


def test_every_callback_has_an_expectation(driver, named_callbacks):
    assert len(named_callbacks) == len(driver.callbacks), "two callbacks share a name: make callback_name finer"
    unknown = sorted(set(named_callbacks) - set(EXPECTATIONS))
    stale = sorted(set(EXPECTATIONS) - set(named_callbacks))
    assert not unknown, (
        "callbacks without an entry in EXPECTATIONS (say what each role may get from them): " + "; ".join(unknown)
    )
    assert not stale, "EXPECTATIONS entries for callbacks the app no longer has: " + "; ".join(stale)


def test_clientside_entries_are_really_clientside(named_callbacks):
    for name, (_, entry) in named_callbacks.items():
        expect = EXPECTATIONS.get(name)
        if expect is None:
            continue
        assert (expect.kind == CLIENTSIDE) == ("callback" not in entry), name


SERVER_SIDE = sorted(name for name, expect in EXPECTATIONS.items() if expect.kind != CLIENTSIDE)


def short_name(name: str) -> str:
    """A test id: the first output and the first input (the full name is too long to read in a report)."""
    outputs, _, first_input = name.partition(" <- ")
    return f"{outputs.split()[0]} <- {first_input}"


@pytest.mark.parametrize("name", SERVER_SIDE, ids=short_name)
def test_signed_out_requests_are_refused(dash_app, driver, named_callbacks, name):
    key, _ = named_callbacks[name]
    response = dash_app.server.test_client().post(UPDATE_COMPONENT, json=driver.payload(key))
    assert response.status_code == 401
    assert response.get_json() == {"error": "Sign-in required.", "login": "/login"}


# ----------------------------------------------------------------------------- roles × callbacks


def _patient_rows(answer: dict[str, Any] | None) -> list[str]:
    """Every patient id in an answer: DataTable records, HTML tables and CSV downloads."""
    if not answer:
        return []
    ids: list[str] = []
    for props in answer.get("response", {}).values():
        for prop, value in props.items():
            if isinstance(value, dict) and "content" in value and "filename" in value:
                text = value["content"]
                text = base64.b64decode(text).decode() if value.get("base64") else text
                for record in csv.DictReader(io.StringIO(text)):
                    ids.append(record.get("patient_id") or record.get("Pseudonymised id"))
            elif prop == "data" and isinstance(value, list):
                ids += [r["patient_id"] for r in value if isinstance(r, dict) and "patient_id" in r]
            else:
                text = json.dumps(value)
                if "Pseudonymised id" in text:
                    ids += _table_column(value, "Pseudonymised id")
    return ids


def _table_column(tree: Any, header: str) -> list[str]:
    """The cells under ``header`` in the serialised HTML table(s) of ``tree``."""
    from security.testing import _components, _text_of

    out: list[str] = []
    for table in (c for c in _components(tree) if c["type"] == "Table"):
        rows = [c for c in _components(table) if c["type"] == "Tr"]
        labels = [_text_of(c["props"].get("children")) for c in _components(rows[0]) if c["type"] == "Th"]
        if header not in labels:
            continue
        column = labels.index(header)
        for row in rows[1:]:
            cells = [c for c in _components(row) if c["type"] in ("Td", "Th")]
            out.append(_text_of(cells[column]["props"].get("children")))
    return out


def _scope_check(role: str, ids: list[str], registry) -> None:
    outside = [
        patient
        for patient in ids
        if (role == "gp_team" and registry[patient][0] != GP_PRACTICE)
        or (role == "campaign_responder" and registry[patient][1] != CAMPAIGN_BOROUGH)
    ]
    assert not outside, f"{role} got {len(outside)} patients outside their scope, e.g. {outside[:3]}"


def _campaign_practices(registry) -> list[str]:
    return sorted({practice for practice, borough in registry.values() if borough == CAMPAIGN_BOROUGH})


ASTHMA_LIST = "ast-list-table.children ast-list-message.children <- ast-list-show"
ASTHMA_EXPORT = "ast-download.data ast-list-message.children <- ast-list-export"


def _asthma_practice_with_rows(client, driver, named_callbacks, components, registry) -> str:
    """A campaign-borough practice whose SABA list is not empty (so the scope checks can fail)."""
    key, _ = named_callbacks[ASTHMA_LIST]
    for practice in _campaign_practices(registry):
        _, answer = post(client, driver, key, components, values={("ast-list-practice", "value"): practice})
        if _patient_rows(answer):
            return practice
    pytest.fail("no practice in the campaign borough has a SABA patient list on the small database")


def _audit_entries_since(seq: int) -> list[audit.AuditEntry]:
    return [e for e in audit.entries(limit=1000) if e.seq > seq]


def _last_seq() -> int:
    entries = audit.entries(limit=1)
    return entries[0].seq if entries else 0


@pytest.mark.parametrize("name", [n for n in SERVER_SIDE if EXPECTATIONS[n].kind != ROUTER], ids=short_name)
def test_each_role_gets_exactly_what_it_may(driver, named_callbacks, sessions, registry, name):
    expect = EXPECTATIONS[name]
    key, _ = named_callbacks[name]
    answers: dict[str, list[tuple[int, Any]]] = {}
    exports: dict[str, list[str]] = {}  # role -> audit actions of the aggregate exports it made
    for role in ROLES:
        client, components = sessions[role]
        cell = []
        for values, trigger in runs(expect, components):
            if expect.kind == PATIENT_ROWS and name.startswith("ast-"):
                practice = {"gp_team": GP_PRACTICE, "campaign_responder": None}.get(role, GP_PRACTICE)
                if practice is None:
                    practice = _asthma_practice_with_rows(client, driver, named_callbacks, components, registry)
                values = {**values, ("ast-list-practice", "value"): practice}
            before = _last_seq()
            status, answer = post(client, driver, key, components, values=values, trigger=trigger)
            assert status in (200, 204), f"{name} as {role}: HTTP {status}"
            cell.append((status, answer))
            if expect.kind == PATIENT_ROWS:
                check_patient_rows(name, role, answer, registry, _audit_entries_since(before))
            exported = (audit.EXPORT_AGGREGATE, audit.VIEW_UNROUNDED)
            exports.setdefault(role, []).extend(e.action for e in _audit_entries_since(before) if e.action in exported)
        answers[role] = cell

    if expect.kind == UI:
        for role in ROLES:
            assert answers[role] == answers["commissioner"], f"{name}: {role} gets a different answer"
            assert not any(count_fields(a) for _, a in answers[role] if a)
    elif expect.kind == AGGREGATE:
        check_aggregate(name, answers)
    elif expect.kind == OWN_PRACTICE:
        check_own_practice(name, answers, exports)
    elif expect.kind == PATIENT_OPTIONS:
        check_patient_options(answers, registry)
    elif expect.kind == ADMIN:
        for role in ROLES:
            text = json.dumps(answers[role])
            if role == "admin":
                assert "admin-audit-table" in text and "demo.admin" in text
            else:
                assert "does not allow this" in text and "admin-audit-table" not in text
                assert "sign_in" not in text and "Signed in" not in text


def check_own_practice(name: str, answers: dict[str, list[tuple[int, Any]]], exports: dict[str, list[str]]) -> None:
    """:data:`OWN_PRACTICE`: gp_team sees its practice's own figures unrounded, everyone else as for aggregates."""
    others = {role: cell for role, cell in answers.items() if role != "gp_team"}
    check_aggregate(name, others)
    gp = [n for _, answer in answers["gp_team"] if answer for _, n in count_fields(answer)]
    analyst = [n for _, answer in answers["analyst"] if answer for _, n in count_fields(answer)]
    # Counts disclosure control would not show are the practice's real ones (the analyst has each of them).
    undisclosed = [n for n in gp if 1 <= n <= 7 or n % 5]
    assert undisclosed, f"{name}: gp_team sees no count of its own that disclosure control would hide: nothing checked"
    assert all(n in analyst for n in undisclosed), f"{name}: gp_team shows counts the analyst does not: {undisclosed}"
    if "download" in name:
        assert exports["gp_team"] == [audit.VIEW_UNROUNDED], f"{name}: gp_team's unrounded CSV audited as {exports}"
        assert exports["analyst"] == [audit.VIEW_UNROUNDED]
        for role in ("commissioner", "campaign_responder", "admin"):
            assert exports[role] == [audit.EXPORT_AGGREGATE], f"{name} as {role}: audited as {exports[role]}"


def check_aggregate(name: str, answers: dict[str, list[tuple[int, Any]]]) -> None:
    for role in DISCLOSED_ROLES:
        if role not in answers:
            continue
        assert answers[role] == answers["commissioner"], f"{name}: {role} gets a different aggregate answer"
    disclosed = [n for _, answer in answers["commissioner"] if answer for _, n in count_fields(answer)]
    small = [n for n in disclosed if 1 <= n <= 7]
    unrounded = [n for n in disclosed if n % 5]
    assert not small, f"{name}: counts 1-7 shown to disclosure-controlled roles: {small[:5]}"
    assert not unrounded, f"{name}: unrounded counts shown to disclosure-controlled roles: {unrounded[:5]}"
    analyst = [n for _, answer in answers["analyst"] if answer for _, n in count_fields(answer)]
    assert all(status == 200 for status, _ in answers["analyst"]) or not disclosed
    if any(disclosed):
        assert sorted(analyst) != sorted(disclosed), f"{name}: the analyst gets the rounded counts"


def check_patient_rows(name: str, role: str, answer: Any, registry, new_entries: list[audit.AuditEntry]) -> None:
    ids = _patient_rows(answer)
    rows_audited = [e for e in new_entries if e.action in (audit.VIEW_PATIENT_ROWS, audit.EXPORT_PATIENT_ROWS)]
    if role in ("gp_team", "campaign_responder"):
        _scope_check(role, ids, registry)
        if role == "campaign_responder":
            assert ids, f"{name}: the campaign responder got no rows in their borough (nothing was checked)"
        assert len(rows_audited) == 1, f"{name} as {role}: expected one audit entry, got {rows_audited}"
        entry = rows_audited[0]
        assert entry.username == USERS[role] and entry.role == role
        assert entry.row_count == len(ids)
        export = "download" in name or "export" in name
        assert entry.action == (audit.EXPORT_PATIENT_ROWS if export else audit.VIEW_PATIENT_ROWS)
    else:
        assert ids == [], f"{name}: {role} got {len(ids)} patient rows"
        assert rows_audited == []
        if answer and answer.get("response"):  # a refused export may also just not download anything
            assert re.search(r"aggregate figures only|does not give access", json.dumps(answer)), answer


def check_patient_options(answers, registry) -> None:
    def offered(role: str) -> set[str]:
        (status, answer), *_ = answers[role]
        assert status == 200
        options = answer["response"]["ast-list-practice"]["options"]
        return {o["value"] for o in options if o["value"]}

    assert offered("gp_team") == {GP_PRACTICE}
    assert offered("campaign_responder"), "the campaign responder is offered no practice"
    assert _boroughs_of(offered("campaign_responder"), registry) == {CAMPAIGN_BOROUGH}
    for role in ("commissioner", "analyst", "admin"):
        assert offered(role) == set()


def _boroughs_of(practices: set[str], registry) -> set[str]:
    boroughs = {practice: borough for practice, borough in registry.values()}
    return {boroughs.get(p, "unknown practice") for p in practices}


# ----------------------------------------------------------------------------- page layouts by role


@pytest.mark.parametrize("path", PAGES)
def test_page_layouts_by_role(dash_app, driver, path):
    for role in ROLES:
        client = dash_app.server.test_client()
        sign_in(client, USERS[role])
        status, layout = driver.render(client, path)
        assert status == 200
        text = json.dumps(layout)
        if path == "/admin/audit":
            assert ("admin-users-table" in text) == (role == "admin"), role
        counts = [n for _, n in count_fields({"response": {"page": {"children": layout}}})]
        if role != "analyst":
            assert not [n for n in counts if 1 <= n <= 7], f"{path} as {role}"
    response = dash_app.server.test_client().post(UPDATE_COMPONENT, json=driver.payload(PAGES_ROUTER))
    assert response.status_code == 401


def test_only_the_admin_navigation_links_to_the_audit_log(dash_app):
    """The shell is made per page load: the audit log's link reaches the admin's navbar and no other role's."""
    from security.testing import _components

    for role in ROLES:
        client = dash_app.server.test_client()
        sign_in(client, USERS[role])
        response = client.get("/_dash-layout")
        assert response.status_code == 200
        hrefs = [component["props"].get("href") for component in _components(response.get_json())]
        assert "/hypertension" in hrefs, role  # the pathfinder links are there for everyone
        assert ("/admin/audit" in hrefs) == (role == "admin"), role


# ----------------------------------------------------------------------------- another practice's children


def test_gp_team_asking_for_another_practices_children_gets_nothing(driver, named_callbacks, sessions, registry):
    client, components = sessions["campaign_responder"]
    other = _asthma_practice_with_rows(client, driver, named_callbacks, components, registry)
    assert other != GP_PRACTICE
    gp_client, gp_components = sessions["gp_team"]

    # The asthma list and export, asked for the other practice through the raw endpoint.
    for name in (ASTHMA_LIST, ASTHMA_EXPORT):
        key, _ = named_callbacks[name]
        before = _last_seq()
        status, answer = post(gp_client, driver, key, gp_components, values={("ast-list-practice", "value"): other})
        assert status == 200 and _patient_rows(answer) == []
        assert "outside your scope" in json.dumps(answer)
        (denied,) = _audit_entries_since(before)
        assert (denied.action, denied.row_count, denied.filters["practice"]) == (audit.ACCESS_DENIED, None, other)

    # The cohort finder's list and export, filtered to the other practice: no rows; the view is audited.
    for name in (
        "imm-cohort-list.data imm-cohort-list.page_count imm-cohort-list-note.children <- imm-cohort-find",
        COHORT_EXPORT,
    ):
        key, _ = named_callbacks[name]
        values = {("imm-cohort-practice", "value"): other, ("imm-cohort-age-min", "value"): 0,
                  ("imm-cohort-age-max", "value"): 18}  # fmt: skip
        status, answer = post(client, driver, key, components, values=values)
        assert _patient_rows(answer), f"{name}: the practice's own borough sees its children"
        before = _last_seq()
        status, answer = post(gp_client, driver, key, gp_components, values=values)
        assert status in (200, 204) and _patient_rows(answer) == []
        (entry,) = _audit_entries_since(before)
        assert entry.username == "demo.gp" and entry.row_count == 0
        assert other in json.dumps(entry.filters) and GP_PRACTICE in json.dumps(entry.filters)


def test_a_summary_within_the_users_scope_is_unrounded(driver, named_callbacks, sessions):
    """The campaign responder's own borough, like a GP team's own practice: children they may list one by
    one are counted exactly (and the CSV audited as unrounded); the same search is disclosed for others."""
    hackney = {("imm-cohort-borough", "value"): [CAMPAIGN_BOROUGH], ("imm-cohort-practice", "value"): ""}
    answers = {}
    for role in ("campaign_responder", "commissioner", "analyst"):
        client, components = sessions[role]
        key, _ = named_callbacks[COHORT_SUMMARY]
        status, answer = post(client, driver, key, components, values=hackney)
        assert status == 200
        answers[role] = sorted(n for _, n in count_fields(answer))
    assert answers["campaign_responder"] == answers["analyst"]
    assert any(n % 5 for n in answers["analyst"])  # the exact counts differ from the rounded ones
    assert all(n % 5 == 0 and not 1 <= n <= 7 for n in answers["commissioner"])
    client, components = sessions["campaign_responder"]
    key, _ = named_callbacks[COHORT_SUMMARY_CSV]
    before = _last_seq()
    status, _ = post(client, driver, key, components, values=hackney)
    (entry,) = _audit_entries_since(before)
    assert status == 200 and entry.action == audit.VIEW_UNROUNDED


def test_the_finder_starts_on_the_users_own_scope(dash_app, driver, sessions):
    """Its London-wide counts sat above a list of the user's borough's children: two areas on one screen."""
    expected = {
        "campaign_responder": ([CAMPAIGN_BOROUGH], ""),
        "gp_team": ([], GP_PRACTICE),
        "commissioner": ([], ""),
        "analyst": ([], ""),
    }
    for role, (boroughs, practice) in expected.items():
        client, _ = sessions[role]
        _, layout = driver.render(client, "/immunisation/cohort")
        props = layout_props(layout)
        assert props["imm-cohort-borough"][1]["value"] == boroughs, role
        assert props["imm-cohort-practice"][1]["value"] == practice, role
    client, _ = sessions["campaign_responder"]
    _, layout = driver.render(client, "/immunisation/cohort?practice=E83003")
    props = layout_props(layout)  # an address naming an area opens on it
    assert props["imm-cohort-borough"][1]["value"] == [] and props["imm-cohort-practice"][1]["value"] == "E83003"


# ----------------------------------------------------------------------------- the audit log through the app


def test_patient_rows_fail_closed_when_the_audit_log_cannot_be_written(
    driver, named_callbacks, sessions, registry, monkeypatch
):
    def refuse(*_args, **_kwargs):
        raise audit.AuditUnavailable("disk full")

    monkeypatch.setattr(audit.AuditLog, "record", refuse)
    client, components = sessions["campaign_responder"]
    for name in ("imm-cohort-list.data imm-cohort-list.page_count imm-cohort-list-note.children <- imm-cohort-find",
                 COHORT_EXPORT):  # fmt: skip
        key, _ = named_callbacks[name]
        status, answer = post(client, driver, key, components)
        assert status in (200, 204) and _patient_rows(answer) == []
    monkeypatch.undo()
    practice = _asthma_practice_with_rows(client, driver, named_callbacks, components, registry)
    monkeypatch.setattr(audit.AuditLog, "record", refuse)
    for name in (ASTHMA_LIST, ASTHMA_EXPORT):
        key, _ = named_callbacks[name]
        status, answer = post(client, driver, key, components, values={("ast-list-practice", "value"): practice})
        assert status == 200 and _patient_rows(answer) == []


VIEW_CSVS = sorted(name for name, expect in EXPECTATIONS.items() if expect.csv_type)


@pytest.mark.parametrize("name", VIEW_CSVS, ids=short_name)
def test_a_view_csv_is_audited_with_every_value_it_was_made_from(driver, named_callbacks, sessions, name):
    """The log must say what left: the cancer inequality CSV was audited under the page's indicator, not the
    one it held, and the asthma page recorded 3 of the 10 controls its files depend on (a practice's trend
    was exported without the practice)."""
    key, _ = named_callbacks[name]
    client, components = sessions["analyst"]
    for values, trigger in runs(EXPECTATIONS[name], components):
        sent = driver.payload(key, components, values=values, trigger=trigger)["state"]
        before = _last_seq()
        status, _ = post(client, driver, key, components, values=values, trigger=trigger)
        assert status == 200
        (entry,) = _audit_entries_since(before)
        recorded = [value for field, value in entry.filters.items() if field not in ("page", "export")]
        assert sorted(map(json.dumps, recorded)) == sorted(json.dumps(state["value"]) for state in sent), trigger


def test_no_request_through_the_app_alters_the_audit_log(dash_app, driver, named_callbacks, sessions):
    # Runs after the matrix in this module: every entry it wrote is still there, in one unbroken chain.
    log = audit.default_log()
    before = log.entries(limit=10_000)
    client, components = sessions["admin"]
    key, _ = named_callbacks["admin-audit-entries.children <- admin-audit-username"]
    for username in ("'; DELETE FROM audit_log; --", "x' OR '1'='1", "demo.gp"):
        status, _ = post(client, driver, key, components, values={("admin-audit-username", "value"): username})
        assert status == 200
    for method, path in (("POST", "/admin/audit"), ("DELETE", "/admin/audit"), ("PUT", "/_dash-update-component")):
        assert client.open(path, method=method).status_code in (400, 404, 405)
    after = log.entries(limit=10_000)
    assert after[-len(before) :] == before if before else True
    assert len(after) == len(before) + 3  # the three views of the log, themselves audited
    assert log.verify() == []
