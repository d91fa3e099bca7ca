"""Pre-school immunisation: this pathfinder's page. Its views arrive with their own issue."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from components.layout import page_header

dash.register_page(__name__, path="/immunisation", name="Immunisation", title="Pre-school immunisation")


def layout(**_query) -> html.Div:
    """A page that says plainly what is coming here."""
    return html.Div(
        [
            page_header(
                "Pre-school immunisation",
                "Coverage of the routine childhood schedule (COVER) by borough, practice and small area, "
                "the gaps to 95 %, and under-vaccinated cohorts for the polio campaign.",
            ),
            dbc.Alert("Coming soon: this page's views are being built.", color="info"),
        ]
    )
