"""Cohort finder: under-vaccinated children for polio-campaign responders and GP teams.

Everyone sees the cohort's size and where it is (aggregates, disclosure control unless
the role may see unrounded counts). The patient list and its CSV are shown only to roles
entitled to patient rows, limited to their scope (a GP team: its own practice), checked
server-side in every callback that returns rows, and written to the audit log first.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
from typing import Any

import dash
import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, Patch, State, callback, clientside_callback, dash_table, dcc, html, no_update

from components.charts import empty_message_figure, placeholder_figure
from components.geometry import bounds_view, geometry_url, london_view, widened
from components.immunisation_views import count_bar_chart
from components.layout import (
    csv_download,
    download_button,
    error_message,
    figure_panel,
    input_message,
    link_problems_note,
    page_header,
    radio_tab,
    radio_tabs,
    scroll_hint,
    stat_card,
)
from components.maps import AREA_TRACE, area_map, area_traces, moved_map, moved_patch, traces_patch
from pages._exports import DATA_ERRORS, ExportFile, audited_export, data_problem
from pages._links import shown
from queries import immunisation_cohort as cohort
from queries.db import default_database
from queries.immunisation import extract_date
from queries.indicators import area_names
from security import audit
from security.disclosure import Disclosure, current_disclosure
from security.roles import RowScope, patient_row_scope
from security.web import current_user_principal

dash.register_page(
    __name__, path="/immunisation/cohort", name="Immunisation: cohort finder", title="Immunisation: cohort finder"
)

PREFIX = "imm-cohort"
AS_AT_ID = f"{PREFIX}-as-at"
AGE_MIN_ID = f"{PREFIX}-age-min"
AGE_MAX_ID = f"{PREFIX}-age-max"
MISSING_ID = f"{PREFIX}-missing"
MATCH_ID = f"{PREFIX}-match"
BOROUGH_ID = f"{PREFIX}-borough"
PCN_ID = f"{PREFIX}-pcn"
PRACTICE_ID = f"{PREFIX}-practice"
IMD_ID = f"{PREFIX}-imd"
ETHNICITY_ID = f"{PREFIX}-ethnicity"
REGISTERED_AFTER_ID = f"{PREFIX}-registered-after"
FIND_ID = f"{PREFIX}-find"
PROBLEM_ID = f"{PREFIX}-problem"
SUMMARY_ID = f"{PREFIX}-summary"
LSOA_MAP_ID = f"{PREFIX}-lsoa-map"
PRACTICE_MAP_ID = f"{PREFIX}-practice-map"
MAPS_SHOWN_ID = f"{PREFIX}-maps-shown"
BOROUGH_CHART_ID = f"{PREFIX}-by-borough"
PRACTICE_CHART_ID = f"{PREFIX}-by-practice"
AGE_CHART_ID = f"{PREFIX}-by-age"
LIST_ID = f"{PREFIX}-list"
LIST_NOTE_ID = f"{PREFIX}-list-note"
URL_SYNC_ID = f"{PREFIX}-url-sync"
DOWNLOAD_SUMMARY_ID = f"{PREFIX}-download-summary"
DOWNLOAD_MESSAGE_ID = f"{PREFIX}-download-message"  # why the summary CSV did not come (data error, audit log down)
DOWNLOAD_LIST_ID = f"{PREFIX}-download-list"
DOWNLOAD_LIST_MESSAGE_ID = f"{PREFIX}-download-list-message"  # why the list export did not come
PAGE_SIZE = 50
TITLE = "Cohort finder: children missing routine doses"
LEAD = (
    "Children registered with a London practice on a chosen date, in an age range, who are missing doses: "
    "how many, and where they live and are registered. The list of children is for GP teams (their own "
    "practice) and campaign responders (their borough)."
)
QUINTILES = [("1", "1 (most deprived)"), ("2", "2"), ("3", "3"), ("4", "4"), ("5", "5 (least deprived)")]
_FAILURES = (*DATA_ERRORS, cohort.CohortError)
# What a caller needs first, first: on a phone the table scrolls sideways, and "Missing doses" sat
# behind the practice's name and code (the same on every row of a GP team's list).
_LIST_COLUMNS = {
    "patient_id": "Pseudonymised id",
    "age": "Age",
    "missing": "Missing doses",
    "last_contact": "Last contact",
    "practice_name": "Practice",
    "practice_code": "Practice code",
}


def patient_rows_scope() -> RowScope | None:
    """May this user see patient rows, and which: the one question this page asks of the security layer.

    None means no patient rows (aggregate-only roles, or nobody signed in). Called inside
    every callback that would return rows, never trusted from the browser.
    """
    return patient_row_scope(current_user_principal())


def _blank_map(db, level: str) -> dict:
    """The map of ``level`` with every area named and none coloured, drawn by the page itself.

    Geometry (by URL), area names and layers go once, with the page; every search then recolours
    it with a patch (:func:`find_cohort`), so no click builds or sends a whole map.
    """
    areas = cohort.map_areas(db, level)
    return _blank_map_of(level, tuple(areas["area_code"]), tuple(areas["area_name"]))


@functools.lru_cache(maxsize=4)
def _blank_map_of(level: str, codes: tuple[str, ...], names: tuple[str, ...]) -> dict:
    values = pd.DataFrame({"area_code": list(codes), "area_name": list(names), "children": float("nan")})
    return _map(level, values, drawn=False).to_plotly_json()


# ----------------------------------------------------------------------------- URL and controls -> criteria


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    items = [str(v) for v in value] if isinstance(value, list | tuple) else re.split(r"[,\s]+", str(value))
    return [item.strip() for item in items if item and item.strip()]


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def criteria_from_controls(
    *,
    as_at,
    ages,
    missing,
    match,
    boroughs,
    pcns,
    practices,
    quintiles,
    ethnicity,
    registered_after,
    default_date: dt.date,
    known: dict[str, set[str]] | None = None,
) -> cohort.CohortCriteria:
    """The criteria the controls describe; :class:`queries.immunisation_cohort.CohortError` when unusable."""
    # The controls send only values they offer; anything else came from a crafted request, and is refused
    # with a message rather than read as something near it (an unknown dose dropped widened the list).
    try:
        low, high = (int(a) for a in ages)
    except (TypeError, ValueError):
        raise cohort.CohortError("Give both ages as whole numbers of years.") from None
    if any(isinstance(a, float) and not a.is_integer() for a in ages):
        raise cohort.CohortError("Give both ages as whole numbers of years.")
    if not (0 <= low <= cohort.MAX_AGE and 0 <= high <= cohort.MAX_AGE):
        raise cohort.CohortError(f"Ages run from 0 to {cohort.MAX_AGE} years.")
    if low > high:
        raise cohort.CohortError(f"'Aged from' ({low}) is above 'to' ({high}): give the younger age first.")
    if _as_list(as_at) and _as_date(as_at) is None:
        raise cohort.CohortError("'On date' is not a date (YYYY-MM-DD).")
    chosen_date = _as_date(as_at) or default_date
    if chosen_date > default_date:
        raise cohort.CohortError(f"The chosen date is after the extract date ({default_date.isoformat()}).")
    registered = _as_date(registered_after)
    if registered is not None and registered >= chosen_date:
        raise cohort.CohortError(
            f"'Registered after' ({registered.isoformat()}) is not before 'On date' ({chosen_date.isoformat()}): "
            "no child can match."
        )
    try:
        quintile_values = tuple(sorted({int(q) for q in _as_list(quintiles)}))
    except ValueError:
        raise cohort.CohortError("IMD quintiles are 1 to 5") from None
    chosen = {
        "borough": [b.upper() for b in _as_list(boroughs)],
        "pcn": [p.upper() for p in _as_list(pcns)],
        "practice": [p.upper() for p in _as_list(practices)],
    }
    for kind, codes in chosen.items():
        unknown = [code for code in codes if known is not None and code not in known[kind]]
        if unknown:
            raise cohort.CohortError(f"Unknown {kind} code(s): {', '.join(unknown[:5])[:80]}")
    unknown_doses = [str(dose) for dose in _as_list(missing) if dose not in cohort.MISSING_DOSES]
    if unknown_doses:
        raise cohort.CohortError(f"Unknown dose(s): {', '.join(unknown_doses[:5])[:80]}")
    if match not in ("any", "all", None):
        raise cohort.CohortError("'Children missing' is 'any of the ticked doses' or 'all of them'.")
    return cohort.CohortCriteria(
        as_at=chosen_date,
        age_min=int(low),
        age_max=int(high),
        missing=tuple(m for m in cohort.MISSING_DOSES if m in set(_as_list(missing))),
        match=match if match in ("any", "all") else "any",
        boroughs=tuple(chosen["borough"]),
        pcns=tuple(chosen["pcn"]),
        practices=tuple(chosen["practice"]),
        imd_quintiles=quintile_values,
        ethnicity_groups=tuple(_as_list(ethnicity)),
        registered_after=registered,
    )


def _ages_from_url(value: Any) -> list[int]:
    text = _as_list(value)
    try:
        low, high = (int(x) for x in text[0].split("-", 1)) if text else (1, 9)
    except ValueError:
        return [1, 9]
    low, high = max(0, min(low, cohort.MAX_AGE)), max(0, min(high, cohort.MAX_AGE))
    return [min(low, high), max(low, high)]


@functools.lru_cache(maxsize=8)
def _code_suggestions(datalist_id: str, codes: tuple[str, ...], names: tuple[str, ...]) -> html.Datalist:
    """The datalist of codes and names, built once per process for the same reference list.

    1,141 practices as Dash components cost most of the page's render; the component is only
    serialised, never changed, so the same one serves every render.
    """
    return html.Datalist(
        id=datalist_id,
        children=[html.Option(value=code, label=name) for code, name in zip(codes, names, strict=True)],
    )


def layout(**query) -> html.Div:
    """The finder's controls (from the URL), its aggregate results and, where entitled, the list."""
    try:
        db = default_database()
        options = cohort.geography_options(db)
        latest = extract_date(db)
        maps = {level: _blank_map(db, level) for level in ("lsoa", "practice")}
    except _FAILURES as error:
        return html.Div([page_header(TITLE, LEAD), error_message(data_problem(error))])
    known = {kind: set(frame["code"]) for kind, frame in options.items()}
    # A user who may list children starts on their own (a campaign responder's borough, a GP team's practice)
    # unless the address names an area: London-wide counts above a list of their borough's children described
    # two different areas.
    scope = patient_rows_scope()
    own = {}
    if scope:
        in_icbs = options["borough"].loc[options["borough"]["icb_code"].isin(scope.icb_codes), "code"]
        own = {"borough": [*scope.borough_codes, *in_icbs], "practice": scope.practice_codes}
    starts_on_own = bool(own) and not any(query.get(key) for key in ("borough", "pcn", "practice"))

    def picked(key: str, kind: str) -> list[str]:
        chosen = own.get(kind, ()) if starts_on_own else _as_list(query.get(key))
        values = [x.upper() if kind == "practice" else x for x in chosen]
        return [v for v in values if v in known[kind]]

    chosen_boroughs = picked("borough", "borough")
    missing_from_url = query.get("missing")
    missing = [m for m in _as_list(missing_from_url) if m in cohort.MISSING_DOSES]
    if missing_from_url is None or (_as_list(missing_from_url) and not missing):
        # No doses named, or only unknown ones: the default doses, never "none ticked" (which lists every child).
        missing = list(cohort.DEFAULT_MISSING)
    as_at = _as_date(query.get("as_at"))
    as_at = as_at if as_at and cohort.EARLIEST_DATE <= as_at <= latest else latest
    match = query.get("match") if query.get("match") in ("any", "all") else "any"
    ages = _ages_from_url(query.get("age"))
    registered = _as_date(query.get("registered_after"))
    registered_after = registered.isoformat() if registered else None

    def codes_input(control_id: str, kind: str, value: list[str], placeholder: str) -> html.Div:
        # A text box of codes with suggestions (native input + datalist: keyboard and screen-reader friendly).
        frame = options[kind]
        suggestions = _code_suggestions(f"{control_id}-codes", tuple(frame["code"]), tuple(frame["name"]))
        return html.Div(
            [
                dbc.Input(
                    id=control_id,
                    type="text",
                    value=", ".join(value),
                    placeholder=placeholder,
                    list=f"{control_id}-codes",
                    autoComplete="off",
                ),
                suggestions,
            ]
        )

    form = dbc.Card(
        dbc.CardBody(
            [
                dbc.Row(
                    [
                        dbc.Col(
                            _labelled(
                                "Aged from (years)",
                                dbc.Input(
                                    id=AGE_MIN_ID, type="number", min=0, max=cohort.MAX_AGE, step=1, value=ages[0]
                                ),
                            ),
                            xs=6,
                            md=3,
                        ),
                        dbc.Col(
                            _labelled(
                                "to (years, inclusive)",
                                dbc.Input(
                                    id=AGE_MAX_ID, type="number", min=0, max=cohort.MAX_AGE, step=1, value=ages[1]
                                ),
                            ),
                            xs=6,
                            md=3,
                        ),
                        dbc.Col(
                            _labelled(
                                "On date",
                                dbc.Input(
                                    id=AS_AT_ID,
                                    type="date",
                                    value=as_at.isoformat(),
                                    max=latest.isoformat(),
                                    min=cohort.EARLIEST_DATE.isoformat(),
                                ),
                            ),
                            xs=6,
                            md=3,
                        ),
                        dbc.Col(
                            _labelled(
                                "Registered after (optional)",
                                dbc.Input(
                                    id=REGISTERED_AFTER_ID, type="date", value=registered_after, max=latest.isoformat()
                                ),
                            ),
                            xs=6,
                            md=3,
                        ),
                    ],
                    className="g-2",
                ),
                dbc.Row(
                    [
                        dbc.Col(
                            _labelled(
                                "Missing doses (due by their age on the date)",
                                dbc.Checklist(id=MISSING_ID, options=dose_options(), value=missing),
                            ),
                            md=8,
                        ),
                        dbc.Col(
                            _labelled(
                                "Children missing",
                                dbc.RadioItems(
                                    id=MATCH_ID,
                                    options=[
                                        {"label": "any of the ticked doses", "value": "any"},
                                        {"label": "all of them", "value": "all"},
                                    ],
                                    value=match,
                                ),
                            ),
                            md=4,
                        ),
                    ],
                    className="g-2",
                ),
                dbc.Row(
                    [
                        dbc.Col(
                            _labelled(
                                "Borough (practice's; none ticked = all)",
                                html.Div(
                                    dbc.Checklist(
                                        id=BOROUGH_ID,
                                        options=_ticked_first(options["borough"], chosen_boroughs),
                                        value=chosen_boroughs,
                                    ),
                                    style={"maxHeight": "9.5rem", "overflowY": "auto"},
                                ),
                            ),
                            md=4,
                        ),
                        dbc.Col(
                            _labelled(
                                "PCN codes (comma-separated; empty = all)",
                                codes_input(PCN_ID, "pcn", picked("pcn", "pcn"), "e.g. U33392"),
                            ),
                            md=4,
                        ),
                        dbc.Col(
                            _labelled(
                                "Practice codes (comma-separated; empty = all)",
                                codes_input(PRACTICE_ID, "practice", picked("practice", "practice"), "e.g. E83003"),
                            ),
                            md=4,
                        ),
                    ],
                    className="g-2",
                ),
                dbc.Row(
                    [
                        dbc.Col(
                            _labelled(
                                "Deprivation quintile (IMD 2025, where they live)",
                                dbc.Checklist(
                                    id=IMD_ID,
                                    options=[{"label": label, "value": code} for code, label in QUINTILES],
                                    value=[q for q in _as_list(query.get("imd")) if q in {"1", "2", "3", "4", "5"}],
                                    inline=True,
                                ),
                            ),
                            md=6,
                        ),
                        dbc.Col(
                            _labelled(
                                "Ethnic group",
                                dbc.Checklist(
                                    id=ETHNICITY_ID,
                                    options=[{"label": g, "value": g} for g in cohort.ETHNICITY_GROUPS],
                                    value=[g for g in _as_list(query.get("ethnicity")) if g in cohort.ETHNICITY_GROUPS],
                                    inline=True,
                                ),
                            ),
                            md=6,
                        ),
                    ],
                    className="g-2",
                ),
                link_problems_note(link_problems(query, known=known, latest=latest)),
                dbc.Button("Find children", id=FIND_ID, color="primary", className="mt-2"),
                html.Div(id=PROBLEM_ID, className="mt-2"),
            ]
        ),
        className="mb-3 filter-bar",
    )
    results = html.Div(
        [
            dcc.Loading(html.Div(id=SUMMARY_ID), type="circle", delay_show=300),
            dbc.Card(
                dbc.CardBody(
                    [
                        _card_heading("Where the cohort is", DOWNLOAD_SUMMARY_ID, "Download CSV"),
                        html.Div(id=DOWNLOAD_MESSAGE_ID, role="status"),
                        radio_tabs(
                            [
                                radio_tab(
                                    figure_panel(
                                        maps["lsoa"],
                                        graph_id=LSOA_MAP_ID,
                                        caption="Where they live (LSOA); grey: none, or 1–7 children (suppressed)",
                                    ),
                                    label="Where they live",
                                    value="lsoa",
                                ),
                                radio_tab(
                                    figure_panel(
                                        maps["practice"],
                                        graph_id=PRACTICE_MAP_ID,
                                        caption="Where they are registered (practice areas)",
                                    ),
                                    label="Where registered",
                                    value="practice-map",
                                ),
                                radio_tab(
                                    figure_panel(placeholder_figure(height=320), graph_id=BOROUGH_CHART_ID),
                                    label="By borough",
                                    value="borough",
                                ),
                                radio_tab(
                                    figure_panel(placeholder_figure(height=320), graph_id=PRACTICE_CHART_ID),
                                    label="By practice",
                                    value="practice",
                                ),
                                radio_tab(
                                    figure_panel(placeholder_figure(height=320), graph_id=AGE_CHART_ID),
                                    label="By age",
                                    value="age",
                                ),
                            ],
                            key="cohort-views",
                            value="lsoa",
                        ),
                        dcc.Store(id=MAPS_SHOWN_ID, data=True),  # the blank maps above: searches recolour them
                    ]
                ),
                className="mb-3",
            ),
            patient_list_card(scope),
        ]
    )
    return html.Div(
        [
            page_header(TITLE, LEAD),
            dcc.Link("Back to the London immunisation page", href="/immunisation", className="d-inline-block mb-2"),
            form,
            results,
            dcc.Store(id=URL_SYNC_ID),
        ]
    )


AGGREGATE_ONLY = (
    "Your role sees aggregate figures only: the list of children is for GP teams "
    "(their own practice) and campaign responders (their borough)."
)


def patient_list_card(scope: RowScope | None) -> dbc.Card:
    """The "Children to contact" card: the list and its export for a user who may see children, else the
    message alone (an empty table's header row under it read as a list that failed to load)."""
    if scope is None:
        return dbc.Card(
            dbc.CardBody(
                [html.H2("Children to contact", className="h5 mb-2"), dbc.Alert(AGGREGATE_ONLY, color="info")]
            ),
            className="mb-3",
        )
    return dbc.Card(
        dbc.CardBody(
            [
                _card_heading("Children to contact", DOWNLOAD_LIST_ID, "Export the list (CSV)"),
                html.Div(id=DOWNLOAD_LIST_MESSAGE_ID, role="status"),
                html.Div(id=LIST_NOTE_ID),
                scroll_hint(),
                dash_table.DataTable(
                    id=LIST_ID,
                    columns=[{"name": label, "id": column} for column, label in _LIST_COLUMNS.items()],
                    data=[],
                    page_action="custom",
                    page_current=0,
                    page_size=PAGE_SIZE,
                    page_count=1,
                    style_table={"overflowX": "auto"},
                    style_cell={
                        "fontFamily": "var(--bs-body-font-family)",  # "inherit" picked up monospace
                        "fontSize": "0.9rem",
                        "padding": "4px 8px",
                        "textAlign": "left",
                    },
                    style_header={"fontWeight": "600", "backgroundColor": "#e8edee"},
                    # The doses wrap: on one line a child missing six pushed "Last contact" off screen.
                    style_cell_conditional=[
                        {
                            "if": {"column_id": "missing"},
                            "whiteSpace": "normal",
                            "minWidth": "14rem",
                            "maxWidth": "26rem",
                        }
                    ],
                ),
            ]
        ),
        className="mb-3",
    )


def problem_message(error: Exception) -> dbc.Alert:
    """Why no result: filters the finder cannot use (the user can fix them) or data it cannot read."""
    return input_message(str(error)) if isinstance(error, cohort.CohortError) else error_message(data_problem(error))


def link_problems(query: dict[str, Any], *, known: dict[str, set[str]], latest: dt.date) -> list[str]:
    """The values of a shared link (URL) the finder could not use and left out, each in words.

    A mistyped or stale link used to open quietly with other filters (an unknown dose even opened with
    none ticked, which lists every child): the user is told what was dropped before using the list.
    """
    problems: list[str] = []
    for key, kind in (("borough", "borough"), ("pcn", "PCN"), ("practice", "practice")):
        codes = [c.upper() if key == "practice" else c for c in _as_list(query.get(key))]
        problems += [f"{kind} {shown(c)}" for c in codes if c not in known[key]]
    problems += [f"dose {shown(m)}" for m in _as_list(query.get("missing")) if m not in cohort.MISSING_DOSES]
    problems += [f"IMD quintile {shown(q)}" for q in _as_list(query.get("imd")) if q not in {"1", "2", "3", "4", "5"}]
    groups = cohort.ETHNICITY_GROUPS
    problems += [f"ethnic group {shown(g)}" for g in _as_list(query.get("ethnicity")) if g not in groups]
    dates = (("as_at", "date", cohort.EARLIEST_DATE), ("registered_after", "registered-after date", None))
    for key, label, earliest in dates:
        text = query.get(key)
        day = _as_date(text)
        if not text:
            continue
        if day is None:
            problems.append(f"{label} {shown(text)}")
        elif day > latest:
            problems.append(f"{label} {shown(text)} (after the extract date)")
        elif earliest is not None and day < earliest:
            problems.append(f"{label} {shown(text)} (before {earliest.isoformat()}, the earliest the finder counts on)")
    age = query.get("age")
    if age:
        read = _ages_from_url(age)
        if not _whole_range(age) or [int(x) for x in str(age).split("-")] != read:
            problems.append(f"ages {shown(age)} (read as {read[0]}-{read[1]})")
    if query.get("match") not in (None, "any", "all"):
        problems.append(f"match {shown(query.get('match'))}")
    return problems


def _whole_range(text: Any) -> bool:
    return isinstance(text, str) and re.fullmatch(r"\d{1,2}-\d{1,2}", text) is not None


def dose_options() -> list[dict]:
    """The dose checkboxes in the order they fall due, each led by its due age (a short list on a phone)."""
    return [
        {
            "label": html.Span(
                [html.Span(cohort.DUE_AGES[key], className="badge text-bg-light border me-1 dose-due"), label]
            ),
            "value": key,
        }
        for key, label in cohort.MISSING_DOSES.items()
    ]


def _card_heading(title: str, download_id: str, label: str) -> html.Div:
    """A card's heading with, at its right, the CSV button of ``download_id``."""
    return html.Div(
        [html.H2(title, className="h5 mb-0"), *download_button(download_id, label)],
        className="d-flex justify-content-between align-items-center mb-2",
    )


def _labelled(label: str, control) -> html.Div:
    return html.Div(
        [html.Label(label, htmlFor=getattr(control, "id", None), className="small fw-semibold"), control],
        className="mb-2",
    )


_CRITERIA_STATES = [
    State(AS_AT_ID, "value"),
    State(AGE_MIN_ID, "value"),
    State(AGE_MAX_ID, "value"),
    State(MISSING_ID, "value"),
    State(MATCH_ID, "value"),
    State(BOROUGH_ID, "value"),
    State(PCN_ID, "value"),
    State(PRACTICE_ID, "value"),
    State(IMD_ID, "value"),
    State(ETHNICITY_ID, "value"),
    State(REGISTERED_AFTER_ID, "value"),
]


def _criteria(db, values: tuple) -> cohort.CohortCriteria:
    as_at, age_min, age_max, missing, match, boroughs, pcns, practices, quintiles, ethnicity, registered_after = values
    geography = cohort.geography_options(db)
    known = {kind: set(frame["code"]) for kind, frame in geography.items()}
    criteria = criteria_from_controls(
        known=known,
        as_at=as_at,
        ages=[age_min, age_max],
        missing=missing,
        match=match,
        boroughs=boroughs,
        pcns=pcns,
        practices=practices,
        quintiles=quintiles,
        ethnicity=ethnicity,
        registered_after=registered_after,
        default_date=extract_date(db),
    )
    check_practices_in_boroughs(criteria, geography["practice"])
    return criteria


def check_practices_in_boroughs(criteria: cohort.CohortCriteria, practices: pd.DataFrame) -> None:
    """:class:`CohortError` when boroughs are ticked and no typed practice is in any of them.

    The filters combine, so such a pair can match no child: the page showed zeros and an empty
    list without saying why.
    """
    if not (criteria.boroughs and criteria.practices):
        return
    borough_of = dict(zip(practices["code"], practices["borough_code"], strict=True))
    if not any(borough_of.get(code) in criteria.boroughs for code in criteria.practices):
        typed = ", ".join(criteria.practices[:5]) + (" …" if len(criteria.practices) > 5 else "")
        raise cohort.CohortError(
            f"None of the practices ({typed}) is in a ticked borough, so no child can match: "
            "untick the borough or change the practices."
        )


# ----------------------------------------------------------------------------- aggregate results


def size_label(criteria: cohort.CohortCriteria) -> str:
    """What the cohort's size counts: the children missing the ticked doses, not every child of the ages.

    Called "Children in the cohort", 389,460 children aged 1-9 read as all London's children of those ages
    (about 1.1 million at scale 1.0) beside counts of those missing each dose.
    """
    if not criteria.missing:
        return "Children in the cohort"
    if len(criteria.missing) == 1:
        return "Children missing the ticked dose"
    return "Children missing any ticked dose" if criteria.match == "any" else "Children missing every ticked dose"


def summary_frames(summary: cohort.CohortSummary, criteria: cohort.CohortCriteria) -> pd.DataFrame:
    """Every breakdown the page shows, stacked (the CSV of the summary), counts as disclosed."""
    parts = [
        summary.missing_counts.rename(columns={"dose": "code", "label": "name"}).assign(breakdown="missing dose"),
        summary.by_borough.rename(columns={"area_code": "code", "area_name": "name"}).assign(breakdown="borough"),
        summary.by_practice.rename(columns={"area_code": "code", "area_name": "name"}).assign(breakdown="practice"),
        summary.by_age.assign(
            code=summary.by_age["age_years"].astype(str), name=summary.by_age["age_years"].astype(str) + " years"
        ).assign(breakdown="age"),
        summary.by_lsoa.rename(columns={"area_code": "code", "area_name": "name"}).assign(breakdown="lsoa"),
    ]
    frame = pd.concat(parts, ignore_index=True)
    total = pd.DataFrame(
        [
            {
                "breakdown": "total",
                "code": "all",
                "name": size_label(criteria),
                "children": summary.size,
                "suppressed": summary.size is None,
            }
        ]
    )
    stacked = pd.concat([total, frame], ignore_index=True)[["breakdown", "code", "name", "children", "suppressed"]]
    # Whole numbers in the file (they came as floats: "70.0"); a suppressed count stays empty, flagged beside it.
    return stacked.assign(children=pd.to_numeric(stacked["children"]).astype("Int64"))


def _count_text(value) -> str:
    return "suppressed" if value is None or pd.isna(value) else f"{float(value):,.0f}"


def _summary_cards(summary: cohort.CohortSummary, criteria: cohort.CohortCriteria, disclose: bool) -> dbc.Row:
    note = "rounded to the nearest 5" if disclose else "exact count"
    cards = [
        stat_card(
            size_label(criteria),
            _count_text(summary.size),
            f"aged {criteria.age_min}–{criteria.age_max} on {criteria.as_at:%d %b %Y}; {note}",
        )
    ]
    for row in summary.missing_counts.itertuples(index=False):
        cards.append(stat_card(f"Missing {row.label}", _count_text(row.children), "due and not given"))
    return dbc.Row([dbc.Col(card, xs=12, sm=6, lg=True, className="mb-2") for card in cards], className="g-2 mb-3")


def _count_scale(values: pd.DataFrame) -> dict:
    """Counts run from 0; the range is always explicit, because a recolour patch only sends keys the new
    map has. With every area suppressed there is no scale to show (an empty one draws NaN-sized boxes)."""
    shown = values["value"].dropna()
    return {
        "zmin": 0,
        "zmax": float(shown.max()) if len(shown) and shown.max() > 0 else 1.0,
        "showscale": bool(len(shown)),
    }


def _map(level: str, frame: pd.DataFrame, *, drawn: bool, camera: tuple[dict, str] | None = None) -> go.Figure | Patch:
    """The map of ``frame``'s counts at ``level``: the whole figure the first time, then a recolour patch.

    A recolour builds only the traces' values (no figure, layout or area names): geometry, names and
    layers never change for a level and stay on the client. ``camera``: (view, uirevision) to move to
    (:func:`search_camera`).
    """
    values = frame.assign(value=pd.to_numeric(frame["children"], errors="coerce"))
    view, uirevision = camera or (None, None)
    if drawn:
        traces = area_traces(level=level, values=values, value_label="Children", unit="count", recolour=True)
        traces[AREA_TRACE].update(**_count_scale(values))
        return moved_patch(traces_patch(traces), view=view, uirevision=uirevision)
    # Geometry by URL (fetched once by the browser): inlined, the LSOA polygons made every response ~2 MB.
    figure = area_map(
        level=level, values=values, value_label="Children", unit="count", height=520, geometry_url=geometry_url(level)
    )
    figure.update_traces(**_count_scale(values), selector={"type": "choroplethmap"})
    return figure if view is None else moved_map(figure, view=view, uirevision=uirevision)


def _ticked_first(boroughs: pd.DataFrame, ticked: list[str]) -> list[dict]:
    """Checklist options, the ticked boroughs first: in the scrolled box a campaign responder's own borough,
    ticked for them, was out of sight below Barking to Camden."""
    options = [{"label": name, "value": code} for code, name in zip(boroughs["code"], boroughs["name"], strict=True)]
    return sorted(options, key=lambda option: option["value"] not in ticked)


def search_camera(criteria: cohort.CohortCriteria, practices: pd.DataFrame) -> tuple[dict, str]:
    """Where the maps look for a search, and the ``uirevision`` that moves them there: the boroughs of the
    chosen practices, else the chosen boroughs, else London. A borough, not a practice's own cell: its
    children live in the LSOAs around it. Hackney's children were a speck on a map of all London."""
    if criteria.practices:
        borough_of = dict(zip(practices["code"], practices["borough_code"], strict=True))
        boroughs = sorted({borough_of[code] for code in criteria.practices if code in borough_of})
    else:
        boroughs = sorted(criteria.boroughs)
    view = bounds_view("borough", boroughs) if boroughs else None
    if view is not None:  # with a margin: the children of a borough's practices live beyond its edge too
        view = widened(view, 0.25)
    return (view or london_view()), "cohort-maps-" + ("-".join(boroughs) if view else "london")


@callback(
    Output(SUMMARY_ID, "children"),
    Output(LSOA_MAP_ID, "figure"),
    Output(PRACTICE_MAP_ID, "figure"),
    Output(MAPS_SHOWN_ID, "data"),
    Output(BOROUGH_CHART_ID, "figure"),
    Output(PRACTICE_CHART_ID, "figure"),
    Output(AGE_CHART_ID, "figure"),
    Output(PROBLEM_ID, "children"),
    Input(FIND_ID, "n_clicks"),
    *_CRITERIA_STATES,
    State(MAPS_SHOWN_ID, "data"),
)
def find_cohort(_clicks, *values):
    """The cohort's size, missing doses and breakdowns; the maps are recoloured once drawn."""
    *criteria_values, maps_shown = values
    db = default_database()
    try:
        criteria = _criteria(db, tuple(criteria_values))
        disclose = summary_discloses(criteria, cohort.geography_options(db), current_disclosure())
        summary = cohort.cohort_summary(db, criteria=criteria, disclose=disclose)
    except _FAILURES as error:
        message = empty_message_figure(data_problem(error), height=320)
        return (no_update, message, message, None, message, message, message, problem_message(error))
    camera = search_camera(criteria, cohort.geography_options(db)["practice"])
    lsoa_frame = summary.by_lsoa[summary.by_lsoa["area_code"] != "unknown"]
    lsoa_map = _map("lsoa", lsoa_frame, drawn=bool(maps_shown), camera=camera)
    practice_map = _map("practice", summary.by_practice, drawn=bool(maps_shown), camera=camera)
    return (
        _summary_cards(summary, criteria, disclose),
        lsoa_map,
        practice_map,
        True,
        count_bar_chart(
            frame=summary.by_borough,
            label_column="area_name",
            axis_label="Children",
            title="Children by borough (practice's)",
            max_bars=len(summary.by_borough),  # every borough: 25 of 33 left eight out
        ),
        count_bar_chart(
            frame=summary.by_practice.assign(
                label=summary.by_practice["area_name"] + " (" + summary.by_practice["area_code"] + ")"
            ),
            label_column="label",
            axis_label="Children",
            title="Practices with the most children",
        ),
        count_bar_chart(
            frame=summary.by_age.assign(label=summary.by_age["age_years"].astype(str) + " years"),
            label_column="label",
            axis_label="Children",
            title="Children by age",
            max_bars=30,
            ranked=False,  # in age order, youngest at the top: the query's order
        ),
        incomplete_date_note(criteria.as_at, cohort.registered_from(db)),
    )


def incomplete_date_note(as_at: dt.date, registered_from: dt.date | None) -> dbc.Alert | None:
    """A note when the chosen date is before the extract holds every registered child (None otherwise)."""
    if registered_from is None or as_at >= registered_from:
        return None
    return dbc.Alert(
        f"This extract holds the children registered at any time from {registered_from:%-d %B %Y}. Children who "
        f"left their London practice before then are not in it, so the counts on {as_at:%-d %B %Y} may be low.",
        color="info",
        className="mt-2 mb-0",
    )


@callback(
    Output(DOWNLOAD_SUMMARY_ID, "data"),
    Output(DOWNLOAD_MESSAGE_ID, "children"),
    Input(f"{DOWNLOAD_SUMMARY_ID}-button", "n_clicks"),
    *_CRITERIA_STATES,
    prevent_initial_call=True,
)
def download_summary(_clicks, *values):
    """Every aggregate breakdown on screen as one CSV (disclosure applied as shown)."""
    db = default_database()
    try:
        criteria = _criteria(db, values)
    except _FAILURES:
        return no_update, None  # unusable criteria: the results panel already says why (find_cohort)

    def build(disclosure: Disclosure) -> ExportFile:
        disclose = summary_discloses(criteria, cohort.geography_options(db), disclosure)
        summary = cohort.cohort_summary(db, criteria=criteria, disclose=disclose)
        return ExportFile(
            summary_frames(summary, criteria),
            f"cohort-summary-{criteria.as_at.isoformat()}",
            criteria.describe(),
            unrounded=disclosure.disclose and not disclose,
        )

    return audited_export(page="immunisation_cohort", export="summary", build=build)


def summary_discloses(criteria: cohort.CohortCriteria, geography: dict, disclosure: Disclosure) -> bool:
    """Whether the summary's counts pass disclosure control for this user
    (:meth:`Disclosure.disclose_registered_at` for the practices and boroughs the search is limited to).

    A GP team's search of its own practice, or a campaign responder's of its borough, counts children
    they may list one by one: the finder showed "suppressed" above the three children it listed.
    ``geography``: :func:`queries.immunisation_cohort.geography_options`.
    """
    practices = geography["practice"].set_index("code")
    boroughs = geography["borough"].set_index("code")

    def parent(frame: pd.DataFrame, code: str, column: str) -> str | None:
        return frame.at[code, column] if code in frame.index else None

    return disclosure.disclose_registered_at(
        practices=[
            (code, parent(practices, code, "borough_code"), parent(practices, code, "icb_code"))
            for code in criteria.practices
        ],
        boroughs=[(code, parent(boroughs, code, "icb_code")) for code in criteria.boroughs],
    )


# ----------------------------------------------------------------------------- patient rows


def _audit_filters(criteria: cohort.CohortCriteria, scope: RowScope, **extra) -> dict[str, Any]:
    return {"page": "immunisation_cohort", **criteria.describe(), **scope.as_filters(), **extra}


@callback(
    Output(LIST_ID, "data"),
    Output(LIST_ID, "page_count"),
    Output(LIST_NOTE_ID, "children"),
    Input(FIND_ID, "n_clicks"),
    Input(LIST_ID, "page_current"),
    *_CRITERIA_STATES,
)
def show_patients(_clicks, page_current, *values):
    """One page of the children in the user's scope; nothing at all for a role without patient rows."""
    scope = patient_rows_scope()
    if scope is None:
        return (
            [],
            1,
            dbc.Alert(AGGREGATE_ONLY, color="info"),
        )
    db = default_database()
    try:
        criteria = _criteria(db, values)
        page = max(0, int(page_current or 0))
        rows, total = cohort.cohort_patients(
            db, criteria=criteria, scope=scope, limit=PAGE_SIZE, offset=page * PAGE_SIZE
        )
        audit.record(
            current_user_principal(),
            audit.VIEW_PATIENT_ROWS,
            _audit_filters(criteria, scope, list_page=page),
            row_count=len(rows),
        )
    except audit.AuditUnavailable:
        return [], 1, error_message("The audit log cannot be written, so the list is not shown.")
    except _FAILURES as error:
        return [], 1, problem_message(error)
    rows["last_contact"] = pd.to_datetime(rows["last_contact"]).dt.strftime("%Y-%m-%d").fillna("none recorded")
    note = html.P(
        f"{total:,} {'child' if total == 1 else 'children'} in your scope: {scope_text(db, scope)}. "
        f"Showing {PAGE_SIZE} a page. "
        "Every view and export is recorded in the audit log.",
        className="small text-muted",
    )
    return rows.to_dict("records"), max(1, -(-total // PAGE_SIZE)), note


def scope_text(db: Any, scope: RowScope) -> str:
    """The scope in words, names first: 'borough Hackney (E09000012)', 'practice Oakleigh Road Health Centre
    (E83003)'. A code without a name in the extract is shown alone."""
    parts = []
    for level, codes in scope.levels():
        names = area_names(db, level)
        named = [f"{names[code]} ({code})" if code in names else code for code in codes]
        label = "ICB" if level == "icb" else level
        parts.append(f"{label}{'s' if len(codes) > 1 else ''} {', '.join(named)}")
    return "; ".join(parts)


def _export_note(message: str, color: str = "warning") -> dbc.Alert:
    # Beside the export button: why no file came (a message far up the page, or none, reads as a broken button).
    return dbc.Alert(message, color=color, className="small py-2 mb-2")


@callback(
    Output(DOWNLOAD_LIST_ID, "data"),
    Output(DOWNLOAD_LIST_MESSAGE_ID, "children"),
    Input(f"{DOWNLOAD_LIST_ID}-button", "n_clicks"),
    *_CRITERIA_STATES,
    prevent_initial_call=True,
)
def export_patients(_clicks, *values):
    """The whole list in the user's scope as CSV, audited first; otherwise a message saying why no file came.

    Nothing for a role without patient rows (the refusal is logged), for filters that cannot be used,
    when no child matches (no empty file; the attempt is logged), or when the audit log cannot be
    written (fail closed).
    """
    scope = patient_rows_scope()
    if scope is None:
        with contextlib.suppress(audit.AuditUnavailable):  # a refusal is logged when possible, never required
            audit.record(
                current_user_principal(),
                audit.ACCESS_DENIED,
                {"page": "immunisation_cohort", "action": "export_patient_rows"},
            )
        return no_update, _export_note(
            "Your role sees aggregate figures only: exporting the list of children is for GP teams "
            "(their own practice) and campaign responders (their borough).",
            color="info",
        )
    db = default_database()
    try:
        criteria = _criteria(db, values)
        rows, total = cohort.cohort_patients_table(db, criteria=criteria, scope=scope)
    except _FAILURES as error:
        return no_update, _export_note(f"Nothing exported: {error}")
    try:  # every attempt is recorded, one that finds no child too (with 0 rows): who asked for what is the point
        audit.record(
            current_user_principal(),
            audit.EXPORT_PATIENT_ROWS,
            _audit_filters(criteria, scope),
            row_count=rows.num_rows,
        )
    except audit.AuditUnavailable:
        return no_update, _export_note("The audit log cannot be written, so the list is not exported.")
    if rows.num_rows == 0:
        return no_update, _export_note(
            f"No children in your scope match these filters: nothing to export. Your scope: {scope_text(db, scope)}.",
            color="info",
        )
    note = None
    if total > rows.num_rows:
        note = _export_note(
            f"The file holds the first {rows.num_rows:,} of {total:,} children: narrow the filters to export the rest."
        )
    return csv_download(rows, filename=f"cohort-children-{criteria.as_at.isoformat()}"), note


clientside_callback(
    """
    function(asAt, ageMin, ageMax, missing, match, boroughs, pcns, practices, imd, ethnicity, registeredAfter) {
        const params = new URLSearchParams();
        // Checklists give arrays; the PCN and practice boxes give the typed text (a string, comma-separated).
        const join = function(v) { return Array.isArray(v) ? v.join(',') : (v || '').trim(); };
        // A cleared number box gives null or NaN: leave the age out rather than write "NaN-1".
        const age = function(v) { return (v === null || v === undefined || v === '' || isNaN(v)) ? null : v; };
        const values = {as_at: asAt,
                        age: (age(ageMin) !== null && age(ageMax) !== null) ? ageMin + '-' + ageMax : '',
                        missing: (missing || []).join(','),
                        match: match, borough: join(boroughs), pcn: join(pcns), practice: join(practices),
                        imd: join(imd), ethnicity: join(ethnicity), registered_after: registeredAfter};
        Object.keys(values).forEach(function(key) {
            if (values[key] || key === 'missing') { params.set(key, values[key] || ''); }
        });
        const search = params.toString();
        window.history.replaceState(window.history.state, '', window.location.pathname + '?' + search);
        return search;
    }
    """,
    Output(URL_SYNC_ID, "data"),
    *[Input(state.component_id, state.component_property) for state in _CRITERIA_STATES],
)
