"""The London Pathfinder Dashboards: the Dash shell that serves every page.

Run ``make run`` (development server) or ``gunicorn app:server`` (production).
The shell only builds navigation and the page container from ``dash.page_registry``;
each page module registers itself, with its own layout and callbacks.
"""

from __future__ import annotations

import sys

import dash
import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, html

from components.geometry import register_geometry_route
from components.layout import footer, navbar
from security.web import SecurityConfigError, init_app
from settings import SettingsError, load_settings

try:
    SETTINGS = load_settings()
except SettingsError as error:  # a clear message instead of a traceback at start-up
    sys.exit(f"Configuration error: {error}")

app = Dash(
    __name__,
    use_pages=True,
    title="London Pathfinder Dashboards",
    # Bootstrap is vendored under assets/vendor: no CDN at run time.
    external_stylesheets=[],
    serve_locally=True,
    # gzip responses (flask-compress): map recolours and LSOA figures shrink about 3x on the wire.
    compress=True,
    meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
)
# Screen readers need the page language (WCAG 3.1.1); Dash's default template has none.
app.index_string = app.index_string.replace("<html>", '<html lang="en-GB">', 1)
server = app.server  # for gunicorn
# Boundaries are served once per session from our own origin and cached by the browser,
# so map figures carry values, not 1.4 MB of LSOA polygons.
register_geometry_route(server)
try:  # sign-in, roles, audit and security headers (docs/security.md); refuses to start if unsafe
    init_app(server, SETTINGS, dash_app=app)
except SecurityConfigError as error:
    sys.exit(f"Security configuration error: {error}")

app.layout = html.Div(
    [
        html.A("Skip to main content", href="#main", className="visually-hidden-focusable"),
        navbar(demo=SETTINGS.demo),
        html.Main(dbc.Container(dash.page_container, fluid=True), id="main"),
        footer(),
    ]
)


@app.callback(
    Output("navbar-collapse", "is_open"),
    Input("navbar-toggler", "n_clicks"),
    State("navbar-collapse", "is_open"),
    prevent_initial_call=True,
)
def toggle_navbar(n_clicks: int, is_open: bool) -> bool:
    """Open and close the navigation on narrow screens."""
    return not is_open


if __name__ == "__main__":
    app.run(host=SETTINGS.host, port=SETTINGS.port, debug=SETTINGS.debug)
