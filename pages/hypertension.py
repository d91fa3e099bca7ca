"""Hypertension: this pathfinder's page. Its views arrive with their own issue."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from components.layout import page_header

dash.register_page(__name__, path="/hypertension", name="Hypertension", title="Hypertension")


def layout(**_query) -> html.Div:
    """A page that says plainly what is coming here."""
    return html.Div(
        [
            page_header(
                "Hypertension",
                "Detection and blood-pressure control (QOF HYP008/HYP009, CVDPREVENT) compared fairly "
                "across boroughs and practices.",
            ),
            dbc.Alert("Coming soon: this page's views are being built.", color="info"),
        ]
    )
