"""What the pathfinder pages share around their data: the errors a query may raise, and audited CSV exports.

The leading underscore keeps Dash's page discovery from treating this module as a page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import duckdb
import pandas as pd
from dash import ctx, no_update

from components.layout import csv_download, error_message
from queries.db import DataUnavailable, default_database, query_failure
from queries.indicators import QueryError
from security import audit
from security.disclosure import Disclosure, current_disclosure

# A missing or unreadable database, a query the engine refuses, or DuckDB failing: shown as a message.
DATA_ERRORS = (DataUnavailable, QueryError, duckdb.Error)


def data_problem(error: Exception) -> str:
    """What a user is told when a view's data cannot be read (one of :data:`DATA_ERRORS`).

    A DuckDB error is worded as the database handle words it (:func:`queries.db.query_failure`): a query
    stopped by the time limit says so and what to do, where pages showed DuckDB's own "INTERRUPT Error:
    Interrupted!" (most queries use a cursor, not the handle's own ``frame``).
    """
    if isinstance(error, duckdb.Error):
        return str(query_failure(error, default_database().query_timeout_s))
    return str(error)


class ExportFile(NamedTuple):
    """One CSV to hand over: its rows, file name, the filters to audit, and whether it holds unrounded
    figures although the user's aggregates are disclosed (a practice's own, see
    :meth:`security.disclosure.Disclosure.disclose_practice`)."""

    frame: pd.DataFrame
    filename: str
    filters: Mapping[str, Any]
    unrounded: bool = False


def audited_export(*, page: str, export: str, build: Callable[[Disclosure], ExportFile]) -> tuple[Any, Any]:
    """``(download, message)`` for one CSV export whose build needs the whole disclosure decision.

    As :func:`audited_download`, but ``build`` gets the signed-in user's :class:`Disclosure` (to ask
    about one practice) and says itself whether its file is unrounded; the audit records that.
    """
    disclosure = current_disclosure()
    try:
        file = build(disclosure)
        disclosure.audit_export(
            page=page, export=export, filters=file.filters, rows=len(file.frame), unrounded=file.unrounded
        )
    except (*DATA_ERRORS, audit.AuditUnavailable) as error:
        return no_update, error_message(str(error))
    return csv_download(file.frame, filename=file.filename), None


def audited_download(
    *, page: str, export: str, build: Callable[[bool], tuple[pd.DataFrame, str, Mapping[str, Any]]]
) -> tuple[Any, Any]:
    """``(download, message)`` for one CSV export, the way every page hands one over.

    ``build(disclose)`` makes the frame, its file name and the filters to audit, at the signed-in
    user's disclosure level. The export is written to the audit log before it leaves; a data error
    or an audit log that cannot be written becomes a message instead of a file (nothing leaves
    unaudited, and the user is told why nothing came).
    """
    return audited_export(page=page, export=export, build=lambda disclosure: ExportFile(*build(disclosure.disclose)))


def pressed_view_csv(
    clicks: list | None,
    *,
    page: str,
    view_csv: Callable[..., tuple[pd.DataFrame, str]],
    inputs: Mapping[str, Any],
) -> tuple[Any, Any]:
    """``(download, message)`` for the CSV button pressed among a page's ``{"type": CSV, "view": ...}`` buttons.

    ``view_csv(view=, disclose=, **inputs)`` builds the frame and file name of that view; see
    :func:`audited_download`. ``inputs`` (every control the callback reads) are also the filters audited:
    one mapping for both, so the log names every value the file was made from. Audited apart, pages
    recorded a few of them (the asthma page 3 of 10; the cancer inequality CSV under the wrong indicator).
    """
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not any(clicks or []):
        return no_update, no_update
    view = trigger["view"]
    return audited_download(
        page=page, export=view, build=lambda disclose: (*view_csv(view=view, disclose=disclose, **inputs), inputs)
    )
