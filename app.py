"""The London Pathfinder Dashboards: the Dash shell that serves every page.

Run ``make run`` (development server) or ``make serve`` (gunicorn, see ``gunicorn.conf.py``).
The shell only builds navigation and the page container from ``dash.page_registry``;
each page module registers itself, with its own layout and callbacks.

Each serving process calls :func:`start_worker` once (gunicorn's ``post_fork``, or ``__main__``):
it turns on the aggregate query cache and builds the per-process caches before the first visitor.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import duckdb
from dash import Dash, Input, Output, State, html
from flask import redirect
from werkzeug.wrappers import Response

from components.charts import warm_plotly
from components.geometry import LEVELS, boundaries, label_points, register_geometry_route
from components.layout import footer, navbar
from queries import asthma, cancer, immunisation_cohort
from queries import cache as query_cache
from queries.db import DataUnavailable, default_database, without_query_timeout
from queries.overview import extract_metadata
from security.roles import Permission, has_permission
from security.web import SecurityConfigError, current_user_principal, init_app
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
# gzip at level 1, not flask-compress's 6: on 2 cores the server's CPU is scarcer than the network inside a secure
# environment. A campaign's whole-borough export (6 MB) compresses in 22 ms instead of 69, 36 % larger on the wire;
# browsers that offer zstd (Chromium, Edge, Firefox) get zstd level 3 first (bench/results/2026-11-28-gzip-level.md).
server.config["COMPRESS_LEVEL"] = 1
# Boundaries are served once per session from our own origin and cached by the browser,
# so map figures carry values, not 1.4 MB of LSOA polygons.
register_geometry_route(server)
try:  # sign-in, roles, audit and security headers (docs/security.md); refuses to start if unsafe
    init_app(server, SETTINGS, dash_app=app)
except SecurityConfigError as error:
    sys.exit(f"Security configuration error: {error}")


@server.get("/immunisation/practice", strict_slashes=False)
def practice_view_without_a_code() -> Response:
    """The GP-team view names its practice in the address; typed without one, a GP team gets its own practice.

    Anyone else (or a GP team with several practices) goes to the immunisation page, whose practice
    picker opens the view. Signing in comes first, as for every page (security.web's before-request check).
    """
    principal = current_user_principal()
    practice = principal.scope.single_practice if principal is not None else None
    return redirect(f"/immunisation/practice/{practice}" if practice else "/immunisation")


def shell_layout() -> html.Div:
    """The shell around every page, made per page load: the audit log's link is in the navigation only for
    the roles that may read it (the page itself checks again on the server)."""
    admin = has_permission(current_user_principal(), Permission.VIEW_AUDIT_LOG)
    return html.Div(
        [
            html.A("Skip to main content", href="#main", className="visually-hidden-focusable"),
            navbar(demo=SETTINGS.demo, admin=admin),
            html.Main(dbc.Container(dash.page_container, fluid=True), id="main"),
            footer(_data_source()),
        ]
    )


def _data_source() -> str | None:
    """The served database's ``meta.source`` ('synthetic' or a real extract's kind), None if unreadable: the
    footer said "synthetic" over any database, a real extract's too."""
    try:
        return extract_metadata(default_database()).get("source", "unknown")
    except (DataUnavailable, duckdb.Error):
        return None


app.layout = shell_layout


@app.callback(
    Output("navbar-collapse", "is_open"),
    Input("navbar-toggler", "n_clicks"),
    State("navbar-collapse", "is_open"),
    prevent_initial_call=True,
)
def toggle_navbar(n_clicks: int, is_open: bool) -> bool:
    """Open and close the navigation on narrow screens."""
    return not is_open


log = logging.getLogger("pathfinder.app")


def warm_caches(progress: Callable[[], None] = lambda: None) -> dict[str, float]:
    """Build this process's own caches now rather than on the first visitor's request; seconds per step.

    The cohort finder's per-child dose table, the cancer fact cube and waits, the asthma admission
    history (each an in-memory table or frame per process and database), the cohort finder page's
    blank maps and pickers, the map boundaries and label points of every level (practice areas are
    Voronoi cells worked out on first use) and plotly's trace classes (made on first use).
    ``progress`` is called after each step (gunicorn's worker heartbeat, so a slow warm-up on a large
    database is not mistaken for a hung worker). A step that fails is logged and skipped: the page
    that needs it reports the same problem to its user.
    """
    db = default_database()
    steps: dict[str, Callable[[], object]] = {
        "immunisation cohort": lambda: immunisation_cohort.ensure_cache(db),
        # The finder notes a date before the extract holds every child (~30 ms to find at scale 1.0).
        "cohort finder coverage": lambda: immunisation_cohort.registered_from(db),
        "cancer cube": lambda: cancer.ensure_cache(db),
        "asthma admissions": lambda: asthma.admission_history(db),
        # The finder's page draws both maps blank with every area named and lists 1,141 practices:
        # ~0.5 s of CPU, built once per process and then reused by every render.
        "cohort finder page": lambda: dash.page_registry["pages.immunisation_cohort"]["layout"](),
        **{f"{level} boundaries": (lambda level=level: boundaries(level)) for level in LEVELS},
        **{f"{level} label points": (lambda level=level: label_points(level)) for level in LEVELS},
        "plotly trace classes": warm_plotly,
    }
    seconds: dict[str, float] = {}
    for name, step in steps.items():
        started = time.perf_counter()
        try:
            with without_query_timeout():  # minutes on the full-London database; requests keep their limit
                step()
        except Exception as error:  # start-up goes on; the page that needs it shows the same error
            log.warning("warm-up %s failed: %s", name, error)
        seconds[name] = round(time.perf_counter() - started, 2)
        progress()
    return seconds


def before_fork() -> None:
    """Close the database handle this process opened while loading the app (the demo-mode check reads it).

    Called in gunicorn's master before each fork: a DuckDB connection must not be shared across a fork,
    so each worker opens its own, read-only, on first use.
    """
    default_database().close()


SPILL_FOLDER_PREFIX = "pathfinder-duckdb-"


def spill_folder(pid: int | None = None) -> Path:
    """The DuckDB spill folder of this serving process (or of process ``pid``), in the system temporary folder."""
    return Path(tempfile.gettempdir()) / f"{SPILL_FOLDER_PREFIX}{os.getpid() if pid is None else pid}"


def limit_database_memory(limit: str) -> None:
    """Bound this process's DuckDB memory (``db_memory_limit``; empty keeps DuckDB's default of 80 % of RAM).

    DuckDB otherwise keeps up to 80 % of the machine's memory of the file's pages cached in every worker; the
    cap keeps each worker's RSS near its size plus Python's. Pages of the read-only file are dropped and
    re-read as needed; query state past the cap spills to a temporary folder of this process's own (the
    default, next to the database, may be read-only, and two workers must not share spill files). The
    folder is removed when the process exits.
    """
    folder = spill_folder()
    default_database().limit_memory(limit, folder)
    if folder not in _spill_folders_to_remove:
        _spill_folders_to_remove.add(folder)
        atexit.register(_remove_spill_folder, folder)


_spill_folders_to_remove: set[Path] = set()


def _remove_spill_folder(folder: Path) -> None:
    """At exit: close the database (DuckDB deletes its own spill files then), then the folder and what is left."""
    try:
        default_database().close()
    except Exception as error:  # exiting anyway; the folder goes below
        log.warning("closing the database at exit: %s", error)
    shutil.rmtree(folder, ignore_errors=True)


def remove_orphaned_spill_folders() -> list[Path]:
    """Delete the spill folders of serving processes that no longer run; returns the folders deleted.

    A process that is killed rather than stopped (a worker past gunicorn's timeout, a development server
    sent SIGTERM) cannot remove its folder. At scale 1.0 a worker's holds about 250 MB: the cohort finder's
    per-process cache beyond the 1 GB memory cap. Twenty such folders had piled up on the development machine.
    """
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{SPILL_FOLDER_PREFIX}*"):
        pid = folder.name.removeprefix(SPILL_FOLDER_PREFIX)
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: no signal, only the check that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: running
        return True
    return True


def start_worker(progress: Callable[[], None] = lambda: None) -> dict[str, float]:
    """Once per serving process: spill folders of dead processes removed, the DuckDB memory cap, the query cache
    at its configured size, the warm caches.

    Returns the warm-up's seconds per step.
    """
    orphans = remove_orphaned_spill_folders()
    if orphans:
        log.info("removed %d spill folders of processes no longer running", len(orphans))
    try:
        limit_database_memory(SETTINGS.db_memory_limit)
    except DataUnavailable as error:  # missing, unreadable or stale (another build version): the pages say so
        log.error("the database cannot be served; every page shows why: %s", error)
    except Exception as error:
        log.warning("cannot set the database memory limit: %s", error)
    query_cache.configure(SETTINGS.query_cache, max_mb=SETTINGS.query_cache_mb)
    seconds = warm_caches(progress)
    # What exists now (app, layouts, warm caches) lives as long as the process: frozen out of the garbage
    # collector's sight, a full collection no longer walks it. Walking it took 116-177 ms at scale 1.0 and
    # landed inside about one request in a thousand (bench/gc_pauses.py).
    gc.freeze()
    log.info(
        "worker ready: query cache %d entries, %d MB; warm-up seconds %s",
        SETTINGS.query_cache,
        SETTINGS.query_cache_mb,
        seconds,
    )
    return seconds


if __name__ == "__main__":
    start_worker()
    app.run(host=SETTINGS.host, port=SETTINGS.port, debug=SETTINGS.debug)
