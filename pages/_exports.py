"""What the pathfinder pages share around their data: the errors a query may raise, and audited CSV exports.

The leading underscore keeps Dash's page discovery from treating this module as a page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import duckdb
import pandas as pd
from dash import ctx, no_update

from components.layout import csv_download, error_message
from queries.db import DataUnavailable
from queries.indicators import QueryError
from security import audit
from security.disclosure import current_disclosure

# A missing or unreadable database, a query the engine refuses, or DuckDB failing: shown as a message.
DATA_ERRORS = (DataUnavailable, QueryError, duckdb.Error)


def audited_download(
    *, page: str, export: str, build: Callable[[bool], tuple[pd.DataFrame, str, Mapping[str, Any]]]
) -> tuple[Any, Any]:
    """``(download, message)`` for one CSV export, the way every page hands one over.

    ``build(disclose)`` makes the frame, its file name and the filters to audit, at the signed-in
    user's disclosure level. The export is written to the audit log before it leaves; a data error
    or an audit log that cannot be written becomes a message instead of a file (nothing leaves
    unaudited, and the user is told why nothing came).
    """
    disclosure = current_disclosure()
    try:
        frame, filename, filters = build(disclosure.disclose)
        disclosure.audit_export(page=page, export=export, filters=filters, rows=len(frame))
    except (*DATA_ERRORS, audit.AuditUnavailable) as error:
        return no_update, error_message(str(error))
    return csv_download(frame, filename=filename), None


def pressed_view_csv(
    clicks: list | None,
    *,
    page: str,
    view_csv: Callable[..., tuple[pd.DataFrame, str]],
    filters: Mapping[str, Any],
) -> tuple[Any, Any]:
    """``(download, message)`` for the CSV button pressed among a page's ``{"type": CSV, "view": ...}`` buttons.

    ``view_csv(view=, disclose=)`` builds the frame and file name of that view; see :func:`audited_download`.
    """
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not any(clicks or []):
        return no_update, no_update
    view = trigger["view"]
    return audited_download(
        page=page, export=view, build=lambda disclose: (*view_csv(view=view, disclose=disclose), filters)
    )
