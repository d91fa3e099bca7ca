"""The page for an address no page answers (a mistyped or outdated link): says so and offers every page.

Dash's pages router shows this module's layout for any unknown path (it looks for ``not_found_404``).
"""

from __future__ import annotations

import dash
from dash import dcc, html

from components.layout import NAV_ITEMS, page_header

dash.register_page(__name__, path="/404", name="Page not found", title="Page not found")

LEAD = "No page has this address. It may be mistyped, or a link from an older version of the dashboards."


def layout(**_query) -> html.Div:
    """The message and a link to each pathfinder page and the overview."""
    return html.Div(
        [
            page_header("Page not found", LEAD),
            html.P("Go to:", className="mb-1"),
            html.Ul([html.Li(dcc.Link(name, href=href)) for name, href in NAV_ITEMS]),
        ]
    )
