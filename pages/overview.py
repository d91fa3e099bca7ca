"""London overview: each pathfinder's headline measures, and who is registered where across the 33 boroughs."""

from __future__ import annotations

from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.geometry import geometry_url
from components.layout import GRAPH_CONFIG, data_table, error_message, page_header, stat_card, view_switch
from components.maps import borough_choropleth
from components.overview_views import own_work_links, pathfinder_card
from pages._exports import DATA_ERRORS, data_problem
from queries.db import default_database
from queries.immunisation_cohort import geography_options
from queries.overview import extract_metadata, pathfinder_headlines, registered_population
from security.disclosure import current_disclosure
from security.roles import RowScope, patient_row_scope
from security.web import current_user_principal

dash.register_page(__name__, path="/", name="Overview", title="London overview")

MAP_ID = "overview-map"
TABLE_ID = "overview-table"
PATHFINDERS_ID = "overview-pathfinders"
PATHFINDER_PAGES = {
    "immunisation": ("Pre-school immunisation", "/immunisation"),
    "hypertension": ("Hypertension", "/hypertension"),
    "asthma": ("Asthma", "/asthma"),
    "cancer": ("Cancer pathways", "/cancer"),
}


def _pathfinder_cards() -> html.Div:
    """One card per pathfinder; a message instead when the indicator tables cannot be read."""
    try:
        headlines = pathfinder_headlines(default_database(), disclose=current_disclosure().disclose)
    except DATA_ERRORS as error:
        return error_message(data_problem(error))
    cards = [
        dbc.Col(
            pathfinder_card(title=title, href=href, rows=headlines[headlines["pathfinder"] == key].to_dict("records")),
            lg=3,
            md=6,
            className="mb-3",
        )
        for key, (title, href) in PATHFINDER_PAGES.items()
    ]
    return html.Div(dbc.Row(cards), id=PATHFINDERS_ID)


def own_links(db, scope: RowScope | None) -> list[tuple[str, str]]:
    """(text, href) to the pages of the user's own patients: a GP team's practice view and its children
    missing doses, a campaign responder's borough in the cohort finder. A GP team landed here with the
    way to its practice at the bottom of the immunisation page."""
    if scope is None:
        return []
    geography = geography_options(db)
    practice_names = dict(zip(geography["practice"]["code"], geography["practice"]["name"], strict=True))
    borough_names = dict(zip(geography["borough"]["code"], geography["borough"]["name"], strict=True))
    links = []
    for code in scope.practice_codes:
        name = practice_names.get(code, code)
        links.append((f"{name} ({code}): immunisation gaps by vaccine", f"/immunisation/practice/{code}"))
        links.append((f"{name}: children missing doses", "/immunisation/cohort?" + urlencode({"practice": code})))
    for code in scope.borough_codes:
        name = borough_names.get(code, code)
        links.append((f"{name}: children missing doses", "/immunisation/cohort?" + urlencode({"borough": code})))
    return links


def layout(**_query) -> html.Div:
    """The overview: each pathfinder's headline measures, then registered patients by borough (map and table)."""
    try:
        db = default_database()
        meta = extract_metadata(db)
        population = registered_population(db)
        own = own_work_links(own_links(db, patient_row_scope(current_user_principal())))
    except DATA_ERRORS as error:
        return html.Div([page_header("London overview", ""), error_message(data_problem(error))])

    boroughs = population.boroughs
    total = "suppressed" if population.total_patients is None else f"{population.total_patients:,.0f}"
    source = "synthetic extract" if meta.get("source") == "synthetic" else "linked extract"
    figure = borough_choropleth(
        values=boroughs,
        value_column="registered_patients",
        value_label="Registered patients",
        hover_columns={"practices": "Practices"},
        # By URL, as the pathfinder pages' maps: fetched once and cached for them all, not 139 kB inside every visit.
        geometry_url=geometry_url("borough"),
    )
    return html.Div(
        [
            page_header(
                "London overview",
                f"Each pathfinder's headline measures for London in its latest complete period, then registered "
                f"patients and GP practices by borough on {meta.get('extract_date')} ({source}).",
            ),
            own,
            html.H2("Pathfinders at a glance", className="h4"),
            _pathfinder_cards(),
            html.H2("Registered patients", className="h4 mt-2"),
            dbc.Row(
                [
                    dbc.Col(
                        stat_card("Registered patients", total, "rounded to the nearest 5"),
                        md=3,
                        sm=6,
                        className="mb-2",
                    ),
                    dbc.Col(stat_card("GP practices", f"{population.total_practices:,}"), md=3, sm=6, className="mb-2"),
                    dbc.Col(stat_card("Boroughs", f"{len(boroughs)}"), md=3, sm=6, className="mb-2"),
                    dbc.Col(
                        stat_card("Extract date", meta.get("extract_date", "unknown")), md=3, sm=6, className="mb-2"
                    ),
                ],
                className="mb-3",
            ),
            view_switch(
                key="overview",
                initial="map",
                views={
                    "map": (
                        "Map",
                        dbc.Card(
                            dbc.CardBody(dcc.Graph(id=MAP_ID, figure=figure, config=GRAPH_CONFIG)),
                            className="map-card",
                        ),
                    ),
                    "table": (
                        "Table",
                        data_table(
                            boroughs,
                            columns={
                                "borough_name": "Borough",
                                "icb_short_name": "ICB",
                                "registered_patients": "Registered patients",
                                "practices": "Practices",
                            },
                            caption="Registered patients and practices by borough",
                            table_id=TABLE_ID,
                        ),
                    ),
                },
            ),
        ]
    )
