"""GP team view: one practice's coverage for every vaccine beside its PCN, borough and London.

Ranked among its borough's practices with 95 % CIs, children short of 95 % per vaccine,
and the practice's trend. Aggregates only (disclosure control unless the role may see
unrounded counts); the practice's children are listed in the cohort finder, one link per vaccine with a
gap (this practice, that dose, the ages its children are now), which shows the list only to roles entitled to it;
a user whose scope does not cover the practice (a commissioner, an analyst, another practice's GP team) gets the
message that they see aggregates here instead of the links.
A user who may list the practice's children (a gp_team user on their own practice, a campaign responder
in its borough) sees the practice's OWN figures unrounded (its table row, its point in the ranking, its
trend, and the CSVs holding them, audited as unrounded); its PCN, borough, London and the other
practices stay under disclosure control, and a line above the table says so.
"""

from __future__ import annotations

from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, clientside_callback, dcc, html

from components.charts import empty_message_figure, placeholder_figure, ranked_chart, spc_chart
from components.immunisation_views import cohort_links, practice_comparison_chart
from components.layout import (
    error_message,
    figure_panel,
    input_message,
    page_header,
    radio_tab,
    radio_tabs,
    sortable_table,
)
from pages._exports import DATA_ERRORS, ExportFile, audited_export, data_problem
from pages._links import LinkValues
from queries import immunisation as imm
from queries.db import default_database
from queries.immunisation_cohort import COVER_MEASURE_DOSES
from queries.indicators import QueryError
from security.disclosure import Disclosure, current_disclosure
from security.roles import PRACTICE_CODE, patient_row_scope
from security.web import current_user_principal

dash.register_page(
    __name__,
    path_template="/immunisation/practice/<ods_code>",
    name="Immunisation: GP team view",
    title="Immunisation: GP team view",
)

PREFIX = "imm-gp"
PRACTICE_ID = f"{PREFIX}-practice"
PERIOD_TYPE_ID = f"{PREFIX}-period-type"
INDICATOR_ID = f"{PREFIX}-indicator"
COMPARISON_ID = f"{PREFIX}-comparison"
COMPARISON_TABLE_WRAP_ID = f"{PREFIX}-comparison-table-wrap"
COMPARISON_TABLE_ID = f"{PREFIX}-comparison-table"
UNROUNDED_NOTE_ID = f"{PREFIX}-unrounded-note"  # says when the practice's own figures are unrounded
UNROUNDED_NOTE = (
    "This practice's figures are shown unrounded because your role may see its patients; "
    "other practices and areas follow NHS disclosure control."
)
COHORT_LINKS_ID = f"{PREFIX}-cohort-links"
RANKING_ID = f"{PREFIX}-ranking"
TREND_ID = f"{PREFIX}-trend"
URL_SYNC_ID = f"{PREFIX}-url-sync"
DOWNLOAD_MESSAGE_ID = f"{PREFIX}-download-message"  # why a CSV did not come (data error, audit log down)
DOWNLOADS = {
    "comparison": f"{PREFIX}-download-comparison",
    "ranking": f"{PREFIX}-download-ranking",
    "trend": f"{PREFIX}-download-trend",
}
PERIOD_TYPES = {"quarter": "Latest quarter", "fy": "Latest financial year"}
TITLE = "GP team view: pre-school immunisation"
_TABLE_COLUMNS = {
    "title": "Vaccine",
    "practice_value": "Practice %",
    "ci_low": "95% CI low",
    "ci_high": "95% CI high",
    "vaccinated": "Vaccinated",
    "children": "Children",
    "children_short": "Children short of 95%",
    "rank_text": "Rank in borough",
    "pcn_value": "PCN %",
    "borough_value": "Borough %",
    "london_value": "London %",
    "period_id": "Period",
}


def layout(
    ods_code: str | None = None, indicator: str | None = None, period_type: str | None = None, **_query
) -> html.Div:
    """The practice's comparison, ranking and trend; a clear message for an unknown practice code."""
    code = (ods_code or "").strip().upper()
    if not PRACTICE_CODE.match(code):
        return html.Div([page_header(TITLE, ""), input_message("That is not a GP practice code (e.g. E83003).")])
    try:
        details = imm.practice_details(default_database(), practice_code=code)
    except DATA_ERRORS as error:
        return html.Div([page_header(TITLE, ""), error_message(data_problem(error))])
    if details is None:
        return html.Div([page_header(TITLE, ""), input_message(f"No London practice with code {code}.")])
    link = LinkValues()
    indicator = link.pick("vaccine", indicator, imm.INDICATOR_IDS, imm.DEFAULT_INDICATOR)
    period_type = link.pick("period", period_type, PERIOD_TYPES, "quarter")
    lead = (
        f"{details['practice_name']} ({code}), {details['pcn_name']}, {details['borough_name']}: coverage "
        "for every vaccine against the PCN, borough and London, the practice's place among the borough's "
        "practices, and its trend."
    )
    options = [{"label": spec.title, "value": spec.id} for spec in imm.immunisation_indicators()]
    cohort_link = "/immunisation/cohort?" + urlencode({"practice": code})
    return html.Div(
        [
            dcc.Store(id=PRACTICE_ID, data=code),
            dcc.Store(id=URL_SYNC_ID),
            page_header(f"{details['practice_name']}: pre-school immunisation", lead),
            link.message(),
            html.Div(id=DOWNLOAD_MESSAGE_ID, role="status"),
            html.Div(
                dbc.Row(
                    [
                        dbc.Col(
                            html.Div(
                                [
                                    html.Label("Period", htmlFor=PERIOD_TYPE_ID, className="small fw-semibold"),
                                    dbc.RadioItems(
                                        id=PERIOD_TYPE_ID,
                                        value=period_type,
                                        inline=True,
                                        options=[{"label": v, "value": k} for k, v in PERIOD_TYPES.items()],
                                    ),
                                ]
                            ),
                            md=5,
                        ),
                        dbc.Col(
                            dbc.Button(
                                "Children of this practice missing doses (cohort finder)",
                                href=cohort_link,
                                color="secondary",
                                outline=True,
                                className="mt-md-3",
                            ),
                            md="auto",
                        ),
                        dbc.Col(
                            dcc.Link(
                                "Back to the London immunisation page",
                                href="/immunisation",
                                className="d-inline-block mt-md-4",
                            ),
                            md="auto",
                        ),
                    ],
                    className="g-2",
                ),
                className="filter-bar mb-3",
                role="search",
                **{"aria-label": "Choose the period"},
            ),
            dbc.Card(
                dbc.CardBody(
                    [
                        html.H2("Every vaccine: practice, PCN, borough and London", className="h5"),
                        html.P(id=UNROUNDED_NOTE_ID, className="small text-muted mb-2"),
                        radio_tabs(
                            [
                                radio_tab(
                                    figure_panel(
                                        placeholder_figure(height=320),
                                        graph_id=COMPARISON_ID,
                                        download_id=DOWNLOADS["comparison"],
                                        caption="Practice with 95% CI; suppressed where 1–7 children",
                                    ),
                                    label="Chart",
                                    value="chart",
                                ),
                                radio_tab(
                                    html.Div(id=COMPARISON_TABLE_WRAP_ID, className="pt-2"),
                                    label="Table",
                                    value="table",
                                ),
                            ],
                            key="practice-comparison",
                            value="chart",
                        ),
                        html.Div(id=COHORT_LINKS_ID),
                    ]
                ),
                className="mb-3",
            ),
            dbc.Card(
                dbc.CardBody(
                    [
                        html.H2("One vaccine: rank in the borough and trend", className="h5"),
                        html.Label("Vaccine", htmlFor=INDICATOR_ID, className="small fw-semibold"),
                        dbc.Select(id=INDICATOR_ID, options=options, value=indicator, className="mb-2"),
                        dbc.Row(
                            [
                                dbc.Col(
                                    figure_panel(
                                        placeholder_figure(height=320),
                                        graph_id=RANKING_ID,
                                        download_id=DOWNLOADS["ranking"],
                                    ),
                                    lg=6,
                                ),
                                dbc.Col(
                                    figure_panel(
                                        placeholder_figure(height=320),
                                        graph_id=TREND_ID,
                                        download_id=DOWNLOADS["trend"],
                                    ),
                                    lg=6,
                                ),
                            ]
                        ),
                    ]
                ),
                className="mb-3",
            ),
        ]
    )


def _practice_code(value: object) -> str:
    # The code arrives from the browser (a dcc.Store): anything but an ODS code is refused before SQL.
    if not isinstance(value, str) or not PRACTICE_CODE.match(value):
        raise QueryError("That is not a GP practice code.")
    return value


def _known_practice(db, practice_code: object) -> dict:
    """The reference row of the practice the browser names: its code checked first, an unknown one refused."""
    details = imm.practice_details(db, practice_code=_practice_code(practice_code))
    if details is None:
        raise QueryError(f"No practice {practice_code!r}")
    return details


def disclose_practice(db, disclosure: Disclosure, practice_code: str) -> bool:
    """Whether the practice's own figures pass disclosure control for this user (not when they may list its
    children: :meth:`security.disclosure.Disclosure.disclose_practice`, with the practice's borough and ICB)."""
    details = _known_practice(db, practice_code)
    return disclosure.disclose_practice(
        practice_code, borough_code=details["borough_code"], icb_code=details["icb_code"]
    )


def comparison_values(
    db, *, practice_code: str, period_type: str, disclose: bool, disclose_practice: bool | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The comparison table's rows (one per vaccine, rank as text) and the long rows behind the chart.

    ``disclose_practice``: the practice's own row (None: as ``disclose``, which the PCN, borough and London follow).
    """
    practice_code = _practice_code(practice_code)
    long = imm.practice_comparison(
        db,
        practice_code=practice_code,
        period_type=period_type,
        disclose=disclose,
        disclose_practice=disclose_practice,
    )
    wide = imm.practice_comparison_wide(long)
    wide["rank_text"] = [
        f"{int(rank)} of {int(ranked)}" if pd.notna(rank) else "not ranked"
        for rank, ranked in zip(wide["rank"], wide["ranked"], strict=True)
    ]
    # A hidden PCN, borough or London value reads "suppressed" even where the practice's own row is
    # shown (unrounded for a user who may list its children), not as an empty cell.
    for level, column in (("PCN", "pcn_value"), ("Borough", "borough_value"), ("London", "london_value")):
        hidden = imm.level_column(long, level=level, column="suppressed", order=wide["indicator_id"])
        # eq(True): an indicator with no row at the level (NaN) is not suppressed.
        wide[f"{column}_suppressed"] = pd.Series(hidden, index=wide.index).eq(True)
    # A campaign measure has no 95 % target: say so rather than leave the cell empty.
    has_target = [imm.get(indicator_id).target is not None for indicator_id in wide["indicator_id"]]
    wide["children_short"] = wide["children_short"].astype(object).where(has_target, "no target")
    return wide, long


def gap_links(wide: pd.DataFrame, practice_code: str) -> list[tuple[str, str]]:
    """(vaccine title, cohort-finder URL) for every measure with children short of 95 % (or a hidden count).

    The finder opens on this practice, the measure's dose and the ages its children are now. It
    decides itself whether this user may see the list; a role without patient access gets aggregates.
    """
    # "no target" (the polio campaign) reads as NaN: no gap.
    short = pd.to_numeric(wide["children_short"], errors="coerce")
    gaps = wide[(wide["children_short_suppressed"] | (short > 0)) & wide["indicator_id"].isin(COVER_MEASURE_DOSES)]
    links = []
    for indicator_id, title in zip(gaps["indicator_id"], gaps["title"], strict=True):
        dose, age_min, age_max = COVER_MEASURE_DOSES[indicator_id]
        query = urlencode({"practice": practice_code, "missing": dose, "age": f"{age_min}-{age_max}"})
        links.append((f"{title} (aged {age_min}–{age_max} today)", f"/immunisation/cohort?{query}"))
    return links


@callback(
    Output(COMPARISON_ID, "figure"),
    Output(COMPARISON_TABLE_WRAP_ID, "children"),
    Output(COHORT_LINKS_ID, "children"),
    Output(UNROUNDED_NOTE_ID, "children"),
    Input(PERIOD_TYPE_ID, "value"),
    State(PRACTICE_ID, "data"),
)
def update_comparison(period_type: str, practice_code: str):
    """Every vaccine for the practice beside its PCN, borough and London (and whether its own are unrounded)."""
    period_type = period_type if period_type in PERIOD_TYPES else "quarter"
    disclosure = current_disclosure()
    try:
        db = default_database()
        own = disclose_practice(db, disclosure, practice_code)
        wide, long = comparison_values(
            db,
            practice_code=practice_code,
            period_type=period_type,
            disclose=disclosure.disclose,
            disclose_practice=own,
        )
        may_list = may_list_children(db, practice_code)
    except DATA_ERRORS as error:
        return empty_message_figure(data_problem(error), height=320), error_message(data_problem(error)), None, None
    figure = practice_comparison_chart(frame=long, target=95.0)
    table = sortable_table(
        wide,
        columns=_TABLE_COLUMNS,
        caption=f"{PERIOD_TYPES[period_type]}: every vaccine",
        table_id=COMPARISON_TABLE_ID,
    )
    # Said only where it is so: not for the analyst (everything unrounded) nor for a user without the practice.
    note = UNROUNDED_NOTE if disclosure.disclose and not own else None
    links = cohort_links(links=gap_links(wide, practice_code), aggregate_only=None if may_list else AGGREGATE_ONLY)
    return figure, table, links, note


AGGREGATE_ONLY = (
    "You see aggregate figures only for this practice: the lists of its children are for its GP team and for "
    "campaign responders covering its borough. The cohort finder above counts them."
)


def may_list_children(db, practice_code: str) -> bool:
    """Whether this user's patient-row scope covers the practice, so the per-vaccine links lead to lists it may
    see; otherwise (a commissioner, an analyst, another practice's GP team) the page says so instead of offering
    links to a list that could only refuse. The cohort finder still checks every list itself."""
    details = _known_practice(db, practice_code)
    scope = patient_row_scope(current_user_principal())
    return scope is not None and scope.permits(practice_code, details["borough_code"], details["icb_code"])


def practice_trend(db, *, indicator: str, practice_code: str, disclose: bool) -> pd.DataFrame:
    """The practice's trend for one vaccine (the chart's and CSV's rows), named after the practice."""
    details = _known_practice(db, practice_code)
    return imm.area_trend(
        db, indicator=indicator, level="practice", code=practice_code, name=details["practice_name"], disclose=disclose
    )


def ranking_values(
    db, *, practice_code: str, indicator: str, period_type: str, disclose: bool, disclose_practice: bool | None = None
) -> pd.DataFrame:
    """Every practice of the practice's borough for one vaccine (the ranked chart's rows).

    ``disclose_practice`` False: this practice's own row unrounded, the others still follow ``disclose``.
    """
    details = _known_practice(db, practice_code)
    period = imm.period_for(db, indicator=indicator, period_type=period_type)
    return imm.practice_ranking(
        db,
        indicator=indicator,
        period=period,
        borough_code=details["borough_code"],
        disclose=disclose,
        unrounded_practice=practice_code if disclose_practice is False else None,
    )


@callback(
    Output(RANKING_ID, "figure"),
    Input(INDICATOR_ID, "value"),
    Input(PERIOD_TYPE_ID, "value"),
    State(PRACTICE_ID, "data"),
)
def update_ranking(indicator: str, period_type: str, practice_code: str):
    """The borough's practices ranked for one vaccine, this practice in bold."""
    disclosure = current_disclosure()
    try:
        spec = imm.check_indicator(indicator)
        db = default_database()
        frame = ranking_values(
            db,
            practice_code=practice_code,
            indicator=indicator,
            period_type=period_type if period_type in PERIOD_TYPES else "quarter",
            disclose=disclosure.disclose,
            disclose_practice=disclose_practice(db, disclosure, practice_code),
        )
    except DATA_ERRORS as error:
        return empty_message_figure(data_problem(error), height=320)
    if frame.empty:
        return empty_message_figure(
            f"No children in this cohort at any practice in the borough: {spec.title}.", height=320
        )
    # Coloured against London (the rows' london_value, a line of its own); the borough's value is in the title.
    london = pd.to_numeric(frame["london_value"], errors="coerce").dropna()
    borough = pd.to_numeric(frame["borough_value"], errors="coerce").dropna()
    return ranked_chart(
        values=frame,
        value_label="Coverage",
        unit=spec.unit,
        london_value=float(london.iloc[0]) if len(london) else None,
        target=spec.target,
        highlight=practice_code,
        title=f"Practices in the borough: {spec.title}"
        + ("" if borough.empty else f" (borough {borough.iloc[0]:.1f}%)"),
    )


@callback(
    Output(TREND_ID, "figure"),
    Input(INDICATOR_ID, "value"),
    State(PRACTICE_ID, "data"),
)
def update_trend(indicator: str, practice_code: str):
    """The practice's trend for one vaccine with SPC limits."""
    disclosure = current_disclosure()
    try:
        spec = imm.check_indicator(indicator)
        db = default_database()
        # The whole trend is the practice's own.
        series = practice_trend(
            db,
            indicator=indicator,
            practice_code=practice_code,
            disclose=disclose_practice(db, disclosure, practice_code),
        )
    except DATA_ERRORS as error:
        return empty_message_figure(data_problem(error), height=320)
    suppressed = series["suppressed"].astype("boolean").fillna(False) if "suppressed" in series else None
    children = pd.to_numeric(series["denominator"], errors="coerce").fillna(0).gt(0)
    if not children.any() and (suppressed is None or not suppressed.any()):
        return empty_message_figure(
            "No children in this cohort for this practice in any period: no trend to draw.", height=320
        )
    if len(series) < 2:
        return empty_message_figure("One period only: no trend to draw.", height=320)
    return spc_chart(
        series=series, value_label="Coverage", unit=spec.unit, target=spec.target, title=f"This practice: {spec.title}"
    )


@callback(
    Output(DOWNLOADS["comparison"], "data"),
    Output(DOWNLOAD_MESSAGE_ID, "children", allow_duplicate=True),
    Input(f"{DOWNLOADS['comparison']}-button", "n_clicks"),
    State(PERIOD_TYPE_ID, "value"),
    State(PRACTICE_ID, "data"),
    prevent_initial_call=True,
)
def download_comparison(_clicks, period_type: str, practice_code: str):
    """The comparison table as CSV (as shown; audited as unrounded when the practice's own row is)."""
    period_type = period_type if period_type in PERIOD_TYPES else "quarter"

    def build(disclosure: Disclosure) -> ExportFile:
        db = default_database()
        own = disclose_practice(db, disclosure, practice_code)
        wide, _ = comparison_values(
            db,
            practice_code=practice_code,
            period_type=period_type,
            disclose=disclosure.disclose,
            disclose_practice=own,
        )
        filters = {"practice": practice_code, "period_type": period_type}
        return ExportFile(wide, f"immunisation-{practice_code}-{period_type}", filters, unrounded=not own)

    return audited_export(page="immunisation_practice", export="comparison", build=build)


@callback(
    Output(DOWNLOADS["ranking"], "data"),
    Output(DOWNLOAD_MESSAGE_ID, "children", allow_duplicate=True),
    Input(f"{DOWNLOADS['ranking']}-button", "n_clicks"),
    State(INDICATOR_ID, "value"),
    State(PERIOD_TYPE_ID, "value"),
    State(PRACTICE_ID, "data"),
    prevent_initial_call=True,
)
def download_ranking(_clicks, indicator: str, period_type: str, practice_code: str):
    """The borough's practices for one vaccine as CSV (audited as unrounded when this practice's row is)."""
    imm.check_indicator(indicator)
    period_type = period_type if period_type in PERIOD_TYPES else "quarter"

    def build(disclosure: Disclosure) -> ExportFile:
        db = default_database()
        own = disclose_practice(db, disclosure, practice_code)
        frame = ranking_values(
            db,
            practice_code=practice_code,
            indicator=indicator,
            period_type=period_type,
            disclose=disclosure.disclose,
            disclose_practice=own,
        )
        filters = {"practice": practice_code, "indicator": indicator, "period_type": period_type}
        return ExportFile(frame, f"immunisation-{practice_code}-{indicator}-borough-practices", filters, not own)

    return audited_export(page="immunisation_practice", export="ranking", build=build)


@callback(
    Output(DOWNLOADS["trend"], "data"),
    Output(DOWNLOAD_MESSAGE_ID, "children", allow_duplicate=True),
    Input(f"{DOWNLOADS['trend']}-button", "n_clicks"),
    State(INDICATOR_ID, "value"),
    State(PRACTICE_ID, "data"),
    prevent_initial_call=True,
)
def download_trend(_clicks, indicator: str, practice_code: str):
    """The practice's trend as CSV (the practice's own figures: unrounded, and audited so, when the user may
    list its children)."""
    imm.check_indicator(indicator)

    def build(disclosure: Disclosure) -> ExportFile:
        db = default_database()
        own = disclose_practice(db, disclosure, practice_code)
        frame = practice_trend(db, indicator=indicator, practice_code=practice_code, disclose=own)
        filters = {"practice": practice_code, "indicator": indicator}
        return ExportFile(frame, f"immunisation-{practice_code}-{indicator}-trend", filters, unrounded=not own)

    return audited_export(page="immunisation_practice", export="trend", build=build)


# The period and vaccine live in the address bar (history.replaceState: no navigation, no re-render).
clientside_callback(
    """
    function(periodType, indicator) {
        const params = new URLSearchParams(window.location.search);
        if (periodType) { params.set('period_type', periodType); }
        if (indicator) { params.set('indicator', indicator); }
        const search = params.toString();
        window.history.replaceState(window.history.state, '', window.location.pathname + '?' + search);
        return search;
    }
    """,
    Output(URL_SYNC_ID, "data"),
    Input(PERIOD_TYPE_ID, "value"),
    Input(INDICATOR_ID, "value"),
)
