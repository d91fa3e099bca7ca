"""Cancer pathways: this pathfinder's page. Its views arrive with their own issue."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from components.layout import page_header

dash.register_page(__name__, path="/cancer", name="Cancer pathways", title="Cancer pathways")


def layout(**_query) -> html.Div:
    """A page that says plainly what is coming here."""
    return html.Div(
        [
            page_header(
                "Cancer pathways",
                "Waits against the Faster Diagnosis, 31-day and 62-day standards (CWT v12.1), stage at "
                "diagnosis and route.",
            ),
            dbc.Alert("Coming soon: this page's views are being built.", color="info"),
        ]
    )
