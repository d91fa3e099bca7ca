"""Asthma: this pathfinder's page. Its views arrive with their own issue."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from components.layout import page_header

dash.register_page(__name__, path="/asthma", name="Asthma", title="Asthma")


def layout(**_query) -> html.Div:
    """A page that says plainly what is coming here."""
    return html.Div(
        [
            page_header(
                "Asthma",
                "Diagnosis, reviews, action plans, reliever over-reliance and emergency admissions by "
                "borough, practice and group.",
            ),
            dbc.Alert("Coming soon: this page's views are being built.", color="info"),
        ]
    )
