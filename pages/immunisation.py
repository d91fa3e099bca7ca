"""Pre-school immunisation: COVER coverage, inequalities, trend and timeliness for London.

Thin callbacks: read the controls, ask the engine (``queries.indicators``) or
``queries.immunisation``, hand the frame to a figure builder. The map keeps its
geometry in the browser: changing the indicator or period recolours it with a
``dash.Patch``; only switching between borough, practice and LSOA sends a new map.
The controls are mirrored into the address bar client-side so a link reopens the view.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from components.charts import empty_message_figure, inequality_chart, placeholder_figure, spc_chart, uptake_curve
from components.geometry import geometry_url
from components.immunisation_views import headline_cards, inequality_summary, intersection_heatmap
from components.layout import (
    caption_row,
    error_message,
    figure_panel,
    indicator_card,
    indicator_card_outputs,
    indicator_card_parts,
    page_header,
    radio_tab,
    radio_tabs,
    sortable_table,
    view_switch_value,
)
from components.maps import area_figure, area_traces, inequality_traces, traces_patch
from components.navigation import page_url_state_id
from pages._exports import DATA_ERRORS, audited_download, data_problem
from pages._links import LinkValues
from queries import immunisation as imm
from queries.db import default_database
from queries.indicators import indicator_values, inequality, period_labels, periods
from queries.registry import get
from security.disclosure import current_disclosure
from security.web import current_user_principal

dash.register_page(__name__, path="/immunisation", name="Immunisation", title="Pre-school immunisation")

PREFIX = "imm"
INDICATOR_ID = f"{PREFIX}-indicator"
PERIOD_ID = f"{PREFIX}-period"
AREA_ID = f"{PREFIX}-area"
MAP_VIEW_ID = f"{PREFIX}-map-view"
MAP_SHOWN_ID = f"{PREFIX}-map-shown"
MAP_ID = f"{PREFIX}-map"
MAP_TABLE_ID = f"{PREFIX}-map-table"
MAP_TABLE_WRAP_ID = f"{PREFIX}-map-table-wrap"
MAP_SWITCH = "immunisation-map"  # the Map / Table panes
HEADLINE_ID = f"{PREFIX}-headline"
RULE_ID = f"{PREFIX}-rule"
IMD_ID = f"{PREFIX}-ineq-imd"
ETHNICITY_ID = f"{PREFIX}-ineq-ethnicity"
SEX_ID = f"{PREFIX}-ineq-sex"
INTERSECTION_ID = f"{PREFIX}-ineq-intersection"
SII_ID = f"{PREFIX}-ineq-sii"
TREND_ID = f"{PREFIX}-trend"
UPTAKE_ID = f"{PREFIX}-uptake"
PRACTICE_PICK_ID = f"{PREFIX}-practice-pick"
PRACTICE_LINK_ID = f"{PREFIX}-practice-link"
# The address-bar store: a pattern id, so the navigation rebuilds its links when the address changes.
URL_SYNC_ID = page_url_state_id("/immunisation")
DOWNLOAD_MESSAGE_ID = f"{PREFIX}-download-message"  # why a CSV did not come (data error, audit log down)
DOWNLOADS = {
    "map": f"{PREFIX}-download-map",
    "inequality": f"{PREFIX}-download-inequality",
    "trend": f"{PREFIX}-download-trend",
    "uptake": f"{PREFIX}-download-uptake",
}

LONDON = "london"
MAP_VIEWS = {
    "borough": "Coverage by borough",
    "practice": "Coverage by practice",
    "lsoa": "Coverage by LSOA (where children live)",
    "gap": "Deprivation gap by borough",
}
LEAD = (
    "Coverage of the routine childhood schedule (COVER) by borough, practice and small area: the gap to 95%, "
    "who is missed, and how late children are vaccinated."
)


def _db():
    return default_database()


def _area_filters(area: str | None) -> dict[str, str] | None:
    return {"borough": area} if area and area != LONDON else None


def _area_name(area: str | None) -> str:
    if not area or area == LONDON:
        return "London"
    boroughs = imm.borough_options(_db())
    names = dict(zip(boroughs["borough_code"], boroughs["borough_name"], strict=True))
    return names.get(area, area)


def _valid_period(indicator: str, period: str | None) -> str:
    """``period`` when the indicator has it, else the indicator's default period."""
    available = periods(_db(), indicator)
    if period in set(available["period_id"]):
        return period
    return _default_period(indicator)


def _default_period(indicator: str) -> str:
    """The indicator's latest period of its default kind (quarter, financial year or campaign)."""
    return imm.period_for(_db(), indicator=indicator, period_type=get(indicator).default_period_type)


def own_practice() -> str | None:
    """The signed-in GP team's practice when it has exactly one, for the practice picker to start on.

    A GP team otherwise looked for its own practice among 1,141 to open its view.
    """
    principal = current_user_principal()
    return principal.scope.single_practice if principal is not None else None


def layout(
    indicator: str | None = None, period: str | None = None, area: str | None = None, map: str | None = None, **_query
) -> html.Div:  # noqa: A002 (the URL key is "map")
    """Controls (from the URL, with defaults), headline cards, map, inequalities, trend and uptake by age."""
    link = LinkValues()
    try:
        db = _db()
        indicator = link.pick("indicator", indicator, imm.INDICATOR_IDS, imm.DEFAULT_INDICATOR)
        period_frame = periods(db, indicator)
        # The default period costs a query: looked up only when the link names no usable one.
        period = link.pick("period", period, set(period_frame["period_id"]), None) or _default_period(indicator)
        boroughs = imm.borough_options(db)
        practices = imm.practice_options(db)
    except DATA_ERRORS as error:
        return html.Div([page_header("Pre-school immunisation", LEAD), error_message(data_problem(error))])
    area = link.pick("area", area, set(boroughs["borough_code"]) | {LONDON}, LONDON)
    map_view = link.pick("map", map, MAP_VIEWS, "borough")

    indicator_options = [{"label": spec.title, "value": spec.id} for spec in imm.immunisation_indicators()]
    area_options = [{"label": "London (all boroughs)", "value": LONDON}] + [
        {"label": name, "value": code}
        for code, name in zip(boroughs["borough_code"], boroughs["borough_name"], strict=True)
    ]
    controls = dbc.Row(
        [
            dbc.Col(
                _labelled("Indicator", dbc.Select(id=INDICATOR_ID, options=indicator_options, value=indicator)),
                xs=12,
                lg=5,
            ),
            dbc.Col(
                _labelled("Period", dbc.Select(id=PERIOD_ID, options=_period_options(period_frame), value=period)),
                xs=6,
                lg=3,
            ),
            dbc.Col(
                _labelled(
                    "Area (inequalities, trend, uptake)", dbc.Select(id=AREA_ID, options=area_options, value=area)
                ),
                xs=6,
                lg=4,
            ),
        ],
        className="g-2",
    )
    controls = html.Div(
        controls, className="filter-bar mb-3", role="search", **{"aria-label": "Choose indicator, period and area"}
    )
    map_section = dbc.Card(
        dbc.CardBody(
            [
                html.H2("Where coverage is low", className="h5"),
                _labelled(
                    "Map",
                    dbc.RadioItems(
                        id=MAP_VIEW_ID,
                        options=[{"label": v, "value": k} for k, v in MAP_VIEWS.items()],
                        value=map_view,
                        inline=True,
                    ),
                ),
                radio_tabs(
                    [
                        radio_tab(
                            figure_panel(
                                placeholder_figure(height=520),
                                graph_id=MAP_ID,
                                download_id=DOWNLOADS["map"],
                                caption="Grey: suppressed (1–7 children) or no children in the cohort",
                            ),
                            label="Map",
                            value="map",
                        ),
                        radio_tab(html.Div(id=MAP_TABLE_WRAP_ID, className="pt-2"), label="Table", value="table"),
                    ],
                    key=MAP_SWITCH,
                    value="map",
                ),
                dcc.Store(id=MAP_SHOWN_ID),
            ]
        ),
        className="mb-3 map-card",
    )
    inequality_section = dbc.Card(
        dbc.CardBody(
            [
                html.H2("Who is missed: inequalities in the selected area", className="h5"),
                html.Div(id=SII_ID),
                # Above the tabs, not inside the first: the other three views had no text alternative in sight.
                caption_row("All four views in one CSV", DOWNLOADS["inequality"]),
                radio_tabs(
                    [
                        radio_tab(
                            figure_panel(placeholder_figure(height=320), graph_id=IMD_ID),
                            label="Deprivation",
                            value="imd",
                        ),
                        radio_tab(
                            figure_panel(placeholder_figure(height=320), graph_id=ETHNICITY_ID),
                            label="Ethnic group",
                            value="ethnicity",
                        ),
                        radio_tab(
                            figure_panel(placeholder_figure(height=320), graph_id=SEX_ID), label="Sex", value="sex"
                        ),
                        radio_tab(
                            figure_panel(placeholder_figure(height=320), graph_id=INTERSECTION_ID),
                            label="Ethnic group × deprivation",
                            value="intersection",
                        ),
                    ],
                    key="immunisation-inequality",
                    value="imd",
                ),
            ]
        ),
        className="mb-3",
    )
    time_section = dbc.Row(
        [
            dbc.Col(
                dbc.Card(
                    dbc.CardBody(
                        [
                            html.H2("Trend (statistical process control)", className="h5"),
                            figure_panel(
                                placeholder_figure(height=320), graph_id=TREND_ID, download_id=DOWNLOADS["trend"]
                            ),
                        ]
                    )
                ),
                lg=6,
                className="mb-3",
            ),
            dbc.Col(
                dbc.Card(
                    dbc.CardBody(
                        [
                            html.H2("How late: cumulative uptake by age", className="h5"),
                            figure_panel(
                                placeholder_figure(height=320), graph_id=UPTAKE_ID, download_id=DOWNLOADS["uptake"]
                            ),
                        ]
                    )
                ),
                lg=6,
                className="mb-3",
            ),
        ],
        className="g-3",
    )
    practice_options = [
        {"label": f"{name} ({code})", "value": code}
        for code, name in zip(practices["practice_code"], practices["practice_name"], strict=True)
    ]
    gp_section = dbc.Card(
        dbc.CardBody(
            [
                html.H2("GP team view and cohort finder", className="h5"),
                dbc.Row(
                    [
                        dbc.Col(
                            _labelled(
                                "Practice",
                                dbc.Select(
                                    id=PRACTICE_PICK_ID,
                                    options=practice_options,
                                    value=own_practice(),
                                    placeholder="Choose a practice (type to jump)",
                                ),
                            ),
                            md=6,
                        ),
                        dbc.Col(
                            dbc.Button(
                                "Open the practice's view",
                                id=PRACTICE_LINK_ID,
                                href="/immunisation",
                                color="primary",
                                disabled=True,
                                className="mt-md-4",
                            ),
                            md="auto",
                        ),
                        dbc.Col(
                            dbc.Button(
                                "Find under-vaccinated children (cohort finder)",
                                href="/immunisation/cohort",
                                color="secondary",
                                outline=True,
                                className="mt-md-4",
                            ),
                            md="auto",
                        ),
                    ],
                    className="g-2",
                ),
            ]
        ),
        className="mb-3",
    )
    return html.Div(
        [
            page_header("Pre-school immunisation", LEAD),
            controls,
            link.message(),
            html.Div(id=DOWNLOAD_MESSAGE_ID, role="status"),
            html.Div(rule_card(indicator), id=RULE_ID),
            dcc.Loading(html.Div(id=HEADLINE_ID), type="circle", delay_show=300),
            map_section,
            inequality_section,
            time_section,
            gp_section,
            dcc.Store(id=URL_SYNC_ID),
        ]
    )


def _labelled(label: str, control) -> html.Div:
    control_id = getattr(control, "id", None)
    return html.Div(
        [html.Label(label, htmlFor=control_id, className="filter-label small fw-semibold"), control], className="mb-2"
    )


def _period_options(frame: pd.DataFrame) -> list[dict[str, str]]:
    names = {"quarter": "quarter", "fy": "financial year", "campaign": "campaign"}
    return [
        {"label": f"{row.label} ({names.get(row.period_type, row.period_type)})", "value": row.period_id}
        for row in frame.itertuples(index=False)
    ]


# ----------------------------------------------------------------------------- callbacks


@callback(
    Output(PERIOD_ID, "options"),
    Output(PERIOD_ID, "value"),
    Input(INDICATOR_ID, "value"),
    State(PERIOD_ID, "value"),
    prevent_initial_call=True,
)
def update_periods(indicator: str, period: str | None):
    """The periods of the chosen indicator, keeping the chosen period when it has it."""
    try:
        imm.check_indicator(indicator)
        frame = periods(_db(), indicator)
        return _period_options(frame), _valid_period(indicator, period)
    except DATA_ERRORS:
        return no_update, no_update


def rule_card(indicator: str) -> dbc.Card:
    """What the chosen measure counts, out of whom, and the COVER rule version and sources it follows.

    The other pathfinder pages showed this; here a commissioner had the measure's name alone (what
    counts as a valid MMR1 dose, who is in the cohort, where the 95 % comes from went unsaid).
    """
    return indicator_card(imm.check_indicator(indicator), card_id=RULE_ID)


# Not on the first draw: the layout already holds the measure's card.
@callback(*indicator_card_outputs(RULE_ID), Input(INDICATOR_ID, "value"), prevent_initial_call=True)
def update_rule(indicator: str) -> tuple:
    """Another measure's title, rule version and definition, into the card in place (an opened definition
    stays open); nothing changes for an id that is no immunisation measure."""
    try:
        spec = imm.check_indicator(indicator)
    except DATA_ERRORS as error:
        raise PreventUpdate from error
    return indicator_card_parts(spec)


@callback(Output(HEADLINE_ID, "children"), Input(INDICATOR_ID, "value"), Input(PERIOD_ID, "value"))
def update_headline(indicator: str, period: str):
    """London's coverage, CI, gap to 95 %, children needed and change on the previous period."""
    try:
        spec = imm.check_indicator(indicator)
        period = _valid_period(indicator, period)
        result = imm.headline(_db(), indicator=indicator, period=period, disclose=current_disclosure().disclose)
        labels = dict(zip(*periods(_db(), indicator)[["period_id", "label"]].T.values, strict=True))
    except DATA_ERRORS as error:
        return error_message(data_problem(error))
    return headline_cards(
        row=result.current,
        title=spec.title,
        period_label=labels.get(period, period),
        target=spec.target,
        previous_value=result.previous_value,
        previous_label=labels.get(result.previous_period) if result.previous_period else None,
        unit=spec.unit,
        polarity=spec.polarity,
    )


def map_values(db, *, indicator: str, period: str, view: str, disclose: bool) -> pd.DataFrame:
    """What the map (and its table and CSV) shows: the engine's rows for the view."""
    if view == "gap":
        rows = inequality(db, indicator=indicator, period=period, disclose=disclose)
        rows = rows[rows["area_code"] != imm.LONDON_CODE]
        return pd.DataFrame(
            {
                "area_code": rows["area_code"],
                "area_name": rows["area_name"],
                "value": rows["gap"],
                "ci_low": rows["gap_low"],
                "ci_high": rows["gap_high"],
                "q1_value": rows["q1_value"],
                "q5_value": rows["q5_value"],
                "sii": rows["sii"],
                # Unrounded (analyst) rows carry no flag: nothing of theirs is hidden.
                "suppressed": rows.get("suppressed", False),
            }
        )
    return indicator_values(db, indicator=indicator, period=period, by=view, disclose=disclose)


def _no_gap_note(frame: pd.DataFrame) -> str:
    """Why a shown borough has no gap: no children in its most or least deprived quintile (Brent and Hackney
    have no least deprived LSOA). Their cells were blank, beside others reading "suppressed"."""
    flags = frame["suppressed"] if "suppressed" in frame else pd.Series(False, index=frame.index)
    names = frame.loc[frame["value"].isna() & ~flags.fillna(False).astype(bool), "area_name"].tolist()
    if not names:
        return ""
    return f". No gap where a borough has no children in one of the two quintiles: {', '.join(map(str, names))}"


def _map_traces(frame: pd.DataFrame, *, indicator: str, view: str, recolour: bool = False) -> list:
    """The map's traces for the view, without the figure (``recolour``: only what a recolour patch sends)."""
    spec = get(indicator)
    if view == "gap":
        traces = inequality_traces(
            values=frame,
            measure_label="Least minus most deprived",
            unit=spec.unit,
            polarity=spec.polarity,
            recolour=recolour,
        )
    else:
        traces = area_traces(
            level=view, values=frame, value_label="Coverage", unit=spec.unit, polarity=spec.polarity, recolour=recolour
        )
    return traces


def _map_figure(frame: pd.DataFrame, *, indicator: str, view: str) -> go.Figure:
    traces = _map_traces(frame, indicator=indicator, view=view)
    # Geometry by URL: the browser fetches each level's boundaries once; the figure no longer carries
    # 1.4 MB of LSOA polygons.
    level = "borough" if view == "gap" else view
    return area_figure(traces, level=level, height=520, geometry_url=geometry_url(level))


_MAP_COLUMNS = {
    "gap": {
        "area_name": "Borough",
        "value": "Gap (points)",
        "ci_low": "95% CI low",
        "ci_high": "95% CI high",
        "q1_value": "Most deprived quintile",
        "q5_value": "Least deprived quintile",
        "sii": "SII",
    },
}
_VALUE_COLUMNS = {
    "area_name": "Area",
    "value": "Coverage %",
    "ci_low": "95% CI low",
    "ci_high": "95% CI high",
    "numerator": "Vaccinated",
    "denominator": "Children",
    "patients_to_target": "Children to 95%",
    "comparison": "vs London",
}


@callback(
    Output(MAP_ID, "figure"),
    Output(MAP_SHOWN_ID, "data"),
    Output(MAP_TABLE_WRAP_ID, "children"),
    Input(INDICATOR_ID, "value"),
    Input(PERIOD_ID, "value"),
    Input(MAP_VIEW_ID, "value"),
    Input(view_switch_value(MAP_SWITCH), "value"),
    State(MAP_SHOWN_ID, "data"),
)
def update_map(indicator: str, period: str, view: str, pane: str | None, shown: str | None):
    """The map for the view; a recolour patch when the same view is already on screen (geometry stays).

    Its table (≈5,000 rows at LSOA level, the larger part of the work and of the answer) is built only
    while the Table pane is shown, and when the user opens it; opening the Map pane changes nothing.
    """
    view = view if view in MAP_VIEWS else "borough"
    pane_only = ctx.triggered_id == view_switch_value(MAP_SWITCH)
    if pane_only and pane != "table":
        raise PreventUpdate
    try:
        imm.check_indicator(indicator)
        period = _valid_period(indicator, period)
        frame = map_values(_db(), indicator=indicator, period=period, view=view, disclose=current_disclosure().disclose)
    except DATA_ERRORS as error:
        return empty_message_figure(data_problem(error), height=520), None, error_message(data_problem(error))
    table = no_update
    if pane == "table":
        spec = get(indicator)
        columns = _MAP_COLUMNS.get(view, _VALUE_COLUMNS)
        if spec.target is None:  # the 2022 campaign: an empty "Children to 95%" column said nothing
            columns = {key: label for key, label in columns.items() if key != "patients_to_target"}
        caption = f"{MAP_VIEWS[view]}: {spec.title}, {period_labels(_db()).get(period, period)}"
        if view == "gap":
            caption += _no_gap_note(frame)
        table = sortable_table(
            frame,
            columns=columns,
            caption=caption,
            table_id=MAP_TABLE_ID,
            unit=spec.unit,
        )
    if pane_only:
        return no_update, no_update, table
    if shown == view:
        # Same level on screen: only the values change, so no figure is built (at LSOA level building and
        # serialising one cost more than the values).
        return traces_patch(_map_traces(frame, indicator=indicator, view=view, recolour=True)), no_update, table
    return _map_figure(frame, indicator=indicator, view=view), view, table


def inequality_values(db, *, indicator: str, period: str, area: str | None, disclose: bool) -> dict[str, Any]:
    """The four inequality views and the SII row for the area (borough or London).

    Each group's ``london_value`` and ``comparison`` are London's (a borough's groups would otherwise be
    compared with the borough, in a CSV column named London).
    """
    filters = _area_filters(area)
    values = {
        by: indicator_values(
            db, indicator=indicator, period=period, by=by, filters=filters, disclose=disclose, compare_with="london"
        )
        for by in ("imd_quintile", "ethnicity_group", "sex")
    }
    values["intersection"] = indicator_values(
        db,
        indicator=indicator,
        period=period,
        by=("ethnicity_group", "imd_quintile"),
        filters=filters,
        disclose=disclose,
        compare_with="london",
    )
    # Only the chosen area's SII is shown: the borough's own rows, or London without the 33 borough regressions.
    if filters:
        sii = inequality(db, indicator=indicator, period=period, filters=filters, disclose=disclose)
    else:
        sii = inequality(db, indicator=indicator, period=period, disclose=disclose, by_borough=False)
    code = area if area and area != LONDON else imm.LONDON_CODE
    match = sii[sii["area_code"] == code]
    values["sii"] = match.iloc[0] if len(match) else None
    return values


@callback(
    Output(IMD_ID, "figure"),
    Output(ETHNICITY_ID, "figure"),
    Output(SEX_ID, "figure"),
    Output(INTERSECTION_ID, "figure"),
    Output(SII_ID, "children"),
    Input(INDICATOR_ID, "value"),
    Input(PERIOD_ID, "value"),
    Input(AREA_ID, "value"),
)
def update_inequalities(indicator: str, period: str, area: str):
    """Coverage by deprivation quintile, ethnic group, sex and ethnic group x deprivation, with SII/RII."""
    try:
        spec = imm.check_indicator(indicator)
        period = _valid_period(indicator, period)
        values = inequality_values(
            _db(), indicator=indicator, period=period, area=area, disclose=current_disclosure().disclose
        )
    except DATA_ERRORS as error:
        figure = empty_message_figure(data_problem(error), height=320)
        return figure, figure, figure, figure, error_message(data_problem(error))
    name = _area_name(area)
    charts = [
        inequality_chart(
            values=values[by],
            value_label="Coverage",
            dimension_label=label,
            unit=spec.unit,
            london_value=None if area and area != LONDON else _london(values[by]),
            target=spec.target,
            title=f"{name}: by {grouping}",
        )
        # The title names the grouping without the axis title's gloss: "(IMD 2025, national)" wrapped a
        # phone's title inside its bracket, and the axis under the chart says it.
        for by, label, grouping in (
            ("imd_quintile", "Deprivation quintile (IMD 2025, national)", "deprivation quintile"),
            ("ethnicity_group", "Ethnic group", "ethnic group"),
            ("sex", "Sex", "sex"),
        )
    ]
    heatmap = intersection_heatmap(
        values=values["intersection"],
        value_label="Coverage",
        unit=spec.unit,
        title=f"{name}: ethnic group × deprivation quintile",
    )
    return (*charts, heatmap, inequality_summary(row=values["sii"], unit=spec.unit))


def _london(frame: pd.DataFrame):
    value = frame["london_value"].dropna() if "london_value" in frame else pd.Series(dtype=float)
    return float(value.iloc[0]) if len(value) else None


@callback(Output(TREND_ID, "figure"), Input(INDICATOR_ID, "value"), Input(AREA_ID, "value"))
def update_trend(indicator: str, area: str):
    """The indicator over its trend periods for the area, with Making Data Count SPC limits."""
    try:
        spec = imm.check_indicator(indicator)
        series = area_trend_values(_db(), indicator=indicator, area=area, disclose=current_disclosure().disclose)
    except DATA_ERRORS as error:
        return empty_message_figure(data_problem(error), height=320)
    if len(series) < 2:
        return empty_message_figure("One period only (the 2022 campaign): no trend to draw.", height=320)
    return spc_chart(
        series=series,
        value_label="Coverage",
        unit=spec.unit,
        target=spec.target,
        title=f"{_area_name(area)}: {spec.title}",
    )


def area_trend_values(db, *, indicator: str, area: str | None, disclose: bool) -> pd.DataFrame:
    """The trend of London or the chosen borough (the chart's and CSV's rows), named after the area."""
    level = "borough" if _area_filters(area) else "london"
    return imm.area_trend(db, indicator=indicator, level=level, code=area, name=_area_name(area), disclose=disclose)


def uptake_values(db, *, indicator: str, period: str, area: str | None, disclose: bool) -> pd.DataFrame:
    """Cumulative uptake by age for the area and London (the figure's and CSV's rows)."""
    filters = _area_filters(area)
    return imm.uptake_curves(
        db,
        indicator=indicator,
        period=period,
        area=filters,
        area_name=_area_name(area) if filters else "",
        disclose=disclose,
    )


@callback(Output(UPTAKE_ID, "figure"), Input(INDICATOR_ID, "value"), Input(PERIOD_ID, "value"), Input(AREA_ID, "value"))
def update_uptake(indicator: str, period: str, area: str):
    """Share of the cohort vaccinated by each month of age, for the area against London."""
    try:
        spec = imm.check_indicator(indicator)
        if not imm.has_uptake_curve(indicator):
            return empty_message_figure("Uptake by age is drawn for the COVER and timeliness measures.", height=320)
        period = _valid_period(indicator, period)
        curves = uptake_values(
            _db(), indicator=indicator, period=period, area=area, disclose=current_disclosure().disclose
        )
    except DATA_ERRORS as error:
        return empty_message_figure(data_problem(error), height=320)
    return uptake_curve(
        curves=curves,
        age_label="Age (months)",
        value_label="Vaccinated",
        unit=spec.unit,
        scheduled_age=imm.SCHEDULED_AGE_MONTHS.get(indicator),
        target=spec.target,
        title=f"{spec.title}: cohort of {period}",
    )


@callback(
    Output(PRACTICE_LINK_ID, "href"),
    Output(PRACTICE_LINK_ID, "disabled"),
    Input(PRACTICE_PICK_ID, "value"),
    Input(INDICATOR_ID, "value"),
)
def update_practice_link(practice: str | None, indicator: str):
    """The link to the chosen practice's GP-team view (carrying the indicator)."""
    if not practice:
        return "/immunisation", True
    return f"/immunisation/practice/{practice}?{urlencode({'indicator': indicator})}", False


# ----------------------------------------------------------------------------- CSV downloads


@callback(
    Output(DOWNLOADS["map"], "data"),
    Output(DOWNLOAD_MESSAGE_ID, "children", allow_duplicate=True),
    Input(f"{DOWNLOADS['map']}-button", "n_clicks"),
    State(INDICATOR_ID, "value"),
    State(PERIOD_ID, "value"),
    State(MAP_VIEW_ID, "value"),
    prevent_initial_call=True,
)
def download_map(_clicks, indicator: str, period: str, view: str):
    """The map's values as CSV (disclosure applied as on screen)."""
    imm.check_indicator(indicator)
    view = view if view in MAP_VIEWS else "borough"

    def build(disclose: bool):
        shown = _valid_period(indicator, period)
        frame = map_values(_db(), indicator=indicator, period=shown, view=view, disclose=disclose)
        filters = {"indicator": indicator, "period": shown, "view": view}
        return frame, f"immunisation-{indicator}-{shown}-{view}", filters

    return audited_download(page="immunisation", export="map", build=build)


@callback(
    Output(DOWNLOADS["inequality"], "data"),
    Output(DOWNLOAD_MESSAGE_ID, "children", allow_duplicate=True),
    Input(f"{DOWNLOADS['inequality']}-button", "n_clicks"),
    State(INDICATOR_ID, "value"),
    State(PERIOD_ID, "value"),
    State(AREA_ID, "value"),
    prevent_initial_call=True,
)
def download_inequalities(_clicks, indicator: str, period: str, area: str):
    """Every inequality view (quintile, ethnic group, sex, ethnic group x quintile) in one CSV."""
    imm.check_indicator(indicator)

    def build(disclose: bool):
        shown = _valid_period(indicator, period)
        values = inequality_values(_db(), indicator=indicator, period=shown, area=area, disclose=disclose)
        frame = pd.concat(
            [values[k].assign(breakdown=k) for k in ("imd_quintile", "ethnicity_group", "sex", "intersection")],
            ignore_index=True,
        )
        filters = {"indicator": indicator, "period": shown, "area": area}
        return frame, f"immunisation-{indicator}-{shown}-inequalities", filters

    return audited_download(page="immunisation", export="inequalities", build=build)


@callback(
    Output(DOWNLOADS["trend"], "data"),
    Output(DOWNLOAD_MESSAGE_ID, "children", allow_duplicate=True),
    Input(f"{DOWNLOADS['trend']}-button", "n_clicks"),
    State(INDICATOR_ID, "value"),
    State(AREA_ID, "value"),
    prevent_initial_call=True,
)
def download_trend(_clicks, indicator: str, area: str):
    """The trend series with its SPC columns as CSV."""
    imm.check_indicator(indicator)

    def build(disclose: bool):
        frame = area_trend_values(_db(), indicator=indicator, area=area, disclose=disclose)
        return frame, f"immunisation-{indicator}-trend", {"indicator": indicator, "area": area}

    return audited_download(page="immunisation", export="trend", build=build)


@callback(
    Output(DOWNLOADS["uptake"], "data"),
    Output(DOWNLOAD_MESSAGE_ID, "children", allow_duplicate=True),
    Input(f"{DOWNLOADS['uptake']}-button", "n_clicks"),
    State(INDICATOR_ID, "value"),
    State(PERIOD_ID, "value"),
    State(AREA_ID, "value"),
    prevent_initial_call=True,
)
def download_uptake(_clicks, indicator: str, period: str, area: str):
    """The uptake-by-age curves as CSV."""
    imm.check_indicator(indicator)
    if not imm.has_uptake_curve(indicator):
        return no_update, no_update

    def build(disclose: bool):
        shown = _valid_period(indicator, period)
        frame = uptake_values(_db(), indicator=indicator, period=shown, area=area, disclose=disclose)
        filters = {"indicator": indicator, "period": shown, "area": area}
        return frame, f"immunisation-{indicator}-{shown}-uptake-by-age", filters

    return audited_download(page="immunisation", export="uptake", build=build)


# The controls live in the address bar (history.replaceState: no navigation, no re-render).
clientside_callback(
    """
    function(indicator, period, area, view) {
        const params = new URLSearchParams(window.location.search);
        const values = {indicator: indicator, period: period, area: area, map: view};
        Object.keys(values).forEach(function(key) {
            if (values[key]) { params.set(key, values[key]); } else { params.delete(key); }
        });
        const search = params.toString();
        window.history.replaceState(window.history.state, '', window.location.pathname + (search ? '?' + search : ''));
        return search;
    }
    """,
    Output(URL_SYNC_ID, "data"),
    Input(INDICATOR_ID, "value"),
    Input(PERIOD_ID, "value"),
    Input(AREA_ID, "value"),
    Input(MAP_VIEW_ID, "value"),
)
