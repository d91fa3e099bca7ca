"""Admin: the audit log (every patient-level view, export and sign-in) and the users, admin role only.

In the navigation for admins only (app.shell_layout). Access is checked server-side in the layout and
again in the callback, so a crafted callback request from another role gets the refusal, not rows.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, callback, dcc, html

from components.layout import data_table, labelled_select, page_header
from security import audit
from security.roles import AccessDenied, Permission, require
from security.web import current_user_principal, user_directory

dash.register_page(__name__, path="/admin/audit", name="Audit log", title="Audit log")

USERNAME_ID = "admin-audit-username"
ACTION_ID = "admin-audit-action"
ENTRIES_ID = "admin-audit-entries"
SHOWN_ENTRIES = 500
# Each action the log stores, in words (the filter sends the stored code; the table shows the words).
ACTION_LABELS = {
    audit.VIEW_PATIENT_ROWS: "Viewed patient rows",
    audit.EXPORT_PATIENT_ROWS: "Exported patient rows",
    audit.VIEW_UNROUNDED: "Exported unrounded figures",
    audit.EXPORT_AGGREGATE: "Exported figures (disclosure control)",
    audit.ACCESS_DENIED: "Refused patient rows",
    audit.SIGN_IN: "Signed in",
    audit.SIGN_IN_FAILED: "Sign-in failed",
    audit.SIGN_OUT: "Signed out",
    audit.VIEW_AUDIT_LOG: "Read the audit log",
}
LEAD = "Who viewed or exported patient-level rows, and who signed in, newest first. The log is append-only."


def _alert(message: str, kind: str) -> html.Div:
    # dbc.Alert takes no ``role``; a plain Bootstrap alert div announces itself to screen readers.
    return html.Div(message, className=f"alert alert-{kind}", role="alert")


def _refusal(message: str) -> html.Div:
    return html.Div([page_header("Audit log", LEAD), _alert(message, "danger")])


def layout(**_query) -> html.Div:
    """Filters, the latest audit entries and the user list, for admins; a refusal for anyone else."""
    principal = current_user_principal()
    try:
        require(principal, Permission.VIEW_AUDIT_LOG)
    except AccessDenied as denied:
        return _refusal(str(denied))
    users = pd.DataFrame(
        [
            {"username": p.username, "name": p.label, "role": p.role.value, "scope": p.scope.describe()}
            for p in user_directory(principal)
        ],
        columns=["username", "name", "role", "scope"],
    )
    return html.Div(
        [
            page_header("Audit log", LEAD),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Label("Username", html_for=USERNAME_ID),
                            dbc.Input(id=USERNAME_ID, type="text", maxLength=64, debounce=True),
                        ],
                        md=4,
                    ),
                    dbc.Col(
                        # A native select (Dash 4's dropdown has a hidden focus target that fails axe), whose
                        # empty value reads "Any action" rather than a blank box.
                        labelled_select(
                            "Action",
                            ACTION_ID,
                            "",
                            [{"label": "Any action", "value": ""}]
                            + [{"label": label, "value": action} for action, label in ACTION_LABELS.items()],
                        ),
                        md=4,
                    ),
                ],
                className="mb-3",
            ),
            dcc.Loading(html.Div(id=ENTRIES_ID)),
            html.H2("Users", className="h5 mt-4"),
            data_table(
                users,
                columns={"username": "Username", "name": "Name", "role": "Role", "scope": "Patient-level scope"},
                caption="Users who may sign in, with their role and scope",
                table_id="admin-users-table",
            ),
        ]
    )


@callback(Output(ENTRIES_ID, "children"), Input(USERNAME_ID, "value"), Input(ACTION_ID, "value"))
def show_entries(username: object, action: object) -> html.Div:
    """The latest entries matching the filters; re-checks the admin role on every call."""
    principal = current_user_principal()
    try:
        require(principal, Permission.VIEW_AUDIT_LOG)
    except AccessDenied as denied:
        return _alert(str(denied), "danger")
    # Filters arrive from the browser: keep only a short string and a known action.
    username = username.strip().lower()[:64] if isinstance(username, str) and username.strip() else None
    action = action if action in ACTION_LABELS else None
    try:
        audit.record(principal, audit.VIEW_AUDIT_LOG, {"username": username, "action": action})
        entries = audit.entries(limit=SHOWN_ENTRIES, username=username, action=action)
    except audit.AuditUnavailable as error:
        return _alert(str(error), "warning")
    frame = pd.DataFrame(
        [
            {
                "seq": str(e.seq),
                "at": e.at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                "username": e.username,
                "role": e.role,
                "action": ACTION_LABELS.get(e.action, e.action),
                "filters": ", ".join(f"{k}={v}" for k, v in e.filters.items() if v not in (None, [], "")),
                "row_count": "" if e.row_count is None else f"{e.row_count:,}",
            }
            for e in entries
        ],
        columns=["seq", "at", "username", "role", "action", "filters", "row_count"],
    )
    if frame.empty:
        return _alert("No audit entries match.", "info")
    return data_table(
        frame,
        columns={
            "seq": "#",
            "at": "When",
            "username": "User",
            "role": "Role",
            "action": "Action",
            "filters": "Filters",
            "row_count": "Rows",
        },
        caption=f"Latest {len(frame)} audit entries",
        table_id="admin-audit-table",
    )
