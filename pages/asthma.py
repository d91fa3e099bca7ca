"""Asthma: diagnosis, prescribing safety (SABA over-reliance) and admissions by borough, practice and group.

One control bar (measure, period, borough; kept in the URL) drives six views:
areas (map at borough / practice / LSOA level with its table, ranked boroughs, KPI cards),
prescribing safety (patients at each SABA threshold, SABA without ICS by practice as a funnel,
children vs adults, deprivation, ethnicity), linked admissions (what the year before an emergency
admission held), inequality (SII by borough), practices and trend (ranked with CIs, SPC), and the
patient list (SABA over-reliance and no ICS; roles entitled to patient rows only, in their scope).

Callbacks are thin: parse the controls, ask :mod:`queries.asthma` (which reads the engine), hand the
frames to a figure builder. Each callback works out the user's disclosure level and row scope on the
server. Maps keep their geometry and are recoloured with ``dash.Patch``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import ALL, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from components.asthma_views import (
    linked_admissions_chart,
    linked_table,
    measure_map,
    patient_table,
)
from components.charts import (
    funnel_plot,
    inequality_chart,
    placeholder_figure,
    ranked_areas_chart,
    spc_chart,
    wrap_text,
)
from components.layout import (
    AREA_CSV_COLUMNS,
    area_table,
    csv_button,
    csv_download,
    data_table,
    error_message,
    graph,
    indicator_card,
    indicator_card_outputs,
    indicator_card_parts,
    kpi_cards,
    labelled_select,
    page_header,
    radio_group,
    scroll_hint,
    section,
    view_opened,
    view_switch,
    view_switch_value,
)
from components.maps import empty_area_values, indicator_traces, inequality_map, map_patch, traces_patch
from components.navigation import page_url_state_id
from components.style import formatted, whole_number
from pages._exports import DATA_ERRORS, data_problem, pressed_view_csv
from pages._links import LinkValues
from queries import asthma as aq
from queries.db import default_database
from queries.indicators import QueryError, trend_named_for_area
from security import audit
from security.disclosure import current_disclosure
from security.roles import RowScope, patient_row_scope
from security.web import current_user_principal

dash.register_page(__name__, path="/asthma", name="Asthma", title="Asthma")

P = "ast"
MEASURE, PERIOD, BOROUGH = f"{P}-measure", f"{P}-period", f"{P}-borough"
# The page's main views: the switch's key, and the id whose value says which view is shown.
VIEWS = f"{P}-tabs"
TABS = view_switch_value(VIEWS)
RULE = f"{P}-rule"
# The address-bar store: a pattern id, so the navigation rebuilds its links when the address changes.
URL_STATE = page_url_state_id("/asthma")
KPIS, AREA_MESSAGE, MAP_LEVEL, MAP, MAP_SHOWN = (
    f"{P}-kpis",
    f"{P}-area-message",
    f"{P}-map-level",
    f"{P}-map",
    f"{P}-map-shown",
)
MAP_TABLE, RANKED, SUMMARY_MESSAGE, SUMMARY_SHOWN = (
    f"{P}-map-table",
    f"{P}-ranked",
    f"{P}-summary-message",
    f"{P}-summary-shown",
)
SAFETY_MEASURE, SAFETY_MESSAGE, SAFETY_SHOWN = f"{P}-safety-measure", f"{P}-safety-message", f"{P}-safety-shown"
FUNNEL_LEVEL = f"{P}-funnel-level"
THRESHOLDS, FUNNEL, AGE_GROUPS, IMD, ETHNICITY = (
    f"{P}-thresholds",
    f"{P}-funnel",
    f"{P}-age-groups",
    f"{P}-imd",
    f"{P}-ethnicity",
)
LINKED_THRESHOLD, LINKED_GROUP, LINKED, LINKED_TABLE, LINKED_MESSAGE = (
    f"{P}-linked-threshold",
    f"{P}-linked-group",
    f"{P}-linked",
    f"{P}-linked-table",
    f"{P}-linked-message",
)
SII_MAP, SII_TABLE, SII_BUILT, INEQUALITY_MESSAGE = (
    f"{P}-sii-map",
    f"{P}-sii-table",
    f"{P}-sii-built",
    f"{P}-inequality-message",
)
PRACTICE, PRACTICE_RANKED, TREND_LEVEL, TREND, TREND_TITLE, PRACTICE_MESSAGE = (
    f"{P}-practice",
    f"{P}-practice-ranked",
    f"{P}-trend-level",
    f"{P}-trend",
    f"{P}-trend-title",
    f"{P}-practice-message",
)
LIST_PRACTICE, LIST_THRESHOLD, LIST_SHOW, LIST_EXPORT, LIST_TABLE, LIST_MESSAGE = (
    f"{P}-list-practice",
    f"{P}-list-threshold",
    f"{P}-list-show",
    f"{P}-list-export",
    f"{P}-list-table",
    f"{P}-list-message",
)
LIST_VIEW = f"{P}-list-view"
DOWNLOAD, DOWNLOAD_MESSAGE, CSV = f"{P}-download", f"{P}-download-message", f"{P}-csv"

TAB_IDS = ("areas", "safety", "linked", "inequality", "practices", "patients")
TAB_LABELS = {
    "areas": "Areas",
    "safety": "Prescribing safety",
    "linked": "Before admission",
    "inequality": "Inequality",
    "practices": "Practices and trend",
    "patients": "Patient list",
}
MAP_LEVELS = {"borough": "Boroughs", "practice": "Practice areas", "lsoa": "Neighbourhoods (LSOA)"}
SAFETY_MEASURES = aq.SABA_THRESHOLD_MEASURES
# The prescribing-safety panel's parts: patients at each SABA threshold, the practice (or borough) funnel, and the
# chosen measure by age, deprivation and ethnic group.
SAFETY_PARTS = frozenset({"thresholds", "funnel", "groups"})
# The part of the safety view (:data:`SAFETY_PARTS`) each of its CSVs is cut from: the CSV of one chart built the
# rows of all three (bench/results/2026-11-30-callbacks-exports.md).
SAFETY_CSV_PARTS = {
    "thresholds": "thresholds",
    "funnel": "funnel",
    "age_groups": "groups",
    "imd": "groups",
    "ethnicity": "groups",
}
# The areas view's summary beside the map: the ranked boroughs and the KPI cards.
SUMMARY_PARTS = frozenset({"ranked", "kpis"})
KPI_MEASURES = (
    "ast_prevalence",
    "ast_review_12m",
    "ast_action_plan",
    "ast_saba_3plus",
    "ast_saba_no_ics",
    "ast_admissions_per_1000",
)
LINKED_GROUP_LABELS = {
    "borough": "Borough",
    "age_group": "Children and adults",
    "imd_quintile_national": "Deprivation",
    "ethnicity_group": "Ethnic group",
}
# A real value for "no borough": dbc.Select's placeholder option already has the empty value.
ALL_BOROUGHS = {"value": "all", "label": "All London"}
NO_PRACTICE = {"value": "", "label": "Choose a practice"}
ETHNICITY_ORDER = ("White", "Mixed", "Asian", "Black", "Other", "Not stated", "Unknown")


# ---------------------------------------------------------------- request helpers


def patient_rows_scope() -> RowScope | None:
    """The patient rows this user may see (the same access function as the immunisation cohort finder);
    None = aggregates only. Asked inside every callback that would return rows."""
    return patient_row_scope(current_user_principal())


def _con():
    return default_database()


def _borough(value: str | None) -> str | None:
    """The chosen borough code, or None for all London (the select's "all", empty or anything unknown)."""
    return value if value and value.startswith("E09") else None


def _area_filters(borough: str | None) -> dict[str, list[str]] | None:
    borough = _borough(borough)
    return {"borough": [borough]} if borough else None


def _practice_name(code: str) -> str:
    """'Name (code)' of a practice with asthma patients; the code alone if it has none (the trend was titled
    'Practice F83019', which a commissioner cannot place)."""
    names = aq.practices(_con()).set_index("practice_code")["practice_name"]
    return f"{names[code]} ({code})" if code in names.index else f"Practice {code}"


def _area_name(borough: str | None) -> str:
    borough = _borough(borough)
    if not borough:
        return "London"
    names = aq.boroughs(_con()).set_index("borough_code")["borough_name"]
    return str(names.get(borough, borough))


def _period(period: str | None) -> str:
    periods = aq.period_choices(_con())
    if period in set(periods["period_id"]):
        return period
    return periods.loc[periods["period_type"] == "fy", "period_id"].iloc[0]


def _threshold(value) -> int:
    try:
        threshold = int(value)
    except (TypeError, ValueError):
        return aq.SABA_THRESHOLDS[0]
    return threshold if threshold in aq.SABA_THRESHOLDS else aq.SABA_THRESHOLDS[0]


# ---------------------------------------------------------------- view builders (called by callbacks and tests)


def _map_level(level: str | None) -> str:
    return level if level in MAP_LEVELS else "borough"


def area_map_view(
    *, measure_id: str, period: str | None, level: str, disclose: bool, map_as: str = "figure"
) -> dict[str, Any]:
    """The measure at the map's ``level``: its rows (also the map's table and CSV) and the map.

    ``map_as``: 'figure' (the whole map, under "map"), 'recolour' (only the traces a same-level recolour
    sends, under "map_traces": building the figure around them cost most of a click at LSOA level) or
    'none' (the rows alone, for a CSV or the map's table).
    """
    m = aq.measure(measure_id)
    level = _map_level(level)
    values = aq.measure_values(_con(), measure_id=m.id, period=period, by=level, disclose=disclose)
    drawn = {"level": level, "values": values, "value_label": m.label, "unit": m.unit, "polarity": m.polarity}
    return {
        "values": values,
        "map": measure_map(**drawn) if map_as == "figure" else None,
        "map_traces": indicator_traces(**drawn, recolour=True) if map_as == "recolour" else None,
        "level": level,
    }


def area_summary_view(
    *, measure_id: str, period: str | None, borough: str | None, disclose: bool, parts: frozenset[str] = SUMMARY_PARTS
) -> dict[str, Any]:
    """The summary beside the map: the boroughs ranked (the chosen one highlighted) and the KPI rows of London
    or the chosen borough.

    ``parts``: which of :data:`SUMMARY_PARTS` to build ("ranked": the borough rows and their chart, "kpis": the
    KPI rows); the others are None.
    """
    borough = _borough(borough)
    m = aq.measure(measure_id)
    con = _con()
    boroughs = ranked = kpis = None
    if "ranked" in parts:
        boroughs = aq.measure_values(con, measure_id=m.id, period=period, by="borough", disclose=disclose)
        ranked = ranked_areas_chart(
            values=boroughs,
            value_label=m.label,
            unit=m.unit,
            target=m.target,
            highlight_codes=[borough] if borough else [],
        )
    if "kpis" in parts:
        kpis = aq.measure_values_batch(
            con, measure_ids=KPI_MEASURES, period=period, by="london", filters=_area_filters(borough), disclose=disclose
        )
    return {"boroughs": boroughs, "ranked": ranked, "kpis": kpis}


def _map_table(view: dict[str, Any], m: aq.Measure, borough: str | None) -> html.Div:
    """The map's rows as a table: every borough; practices or LSOAs of the chosen borough (the CSV has all)."""
    borough = _borough(borough)
    level = view["level"]
    label = {"borough": "Borough", "practice": "Practice", "lsoa": "LSOA"}[level]
    values = view["values"]
    if level != "borough":
        if not borough:
            return html.P(
                f"Choose a borough above to list its {MAP_LEVELS[level].lower()} here; the map's CSV holds every area.",
                className="text-muted",
            )
        values = values[values["area_code"].isin(aq.areas_in_borough(_con(), level=level, borough_code=borough))]
    shown = area_table(values, unit=m.unit, area_label=label)
    return data_table(
        shown, columns={c: c for c in shown.columns}, caption=f"{m.title} by {label.lower()}", table_id=f"{P}-map-rows"
    )


def _kpi_cards(kpis: pd.DataFrame, area: str) -> list[dict]:
    cards = []
    for row in kpis.to_dict("records"):
        m = aq.measure(row["measure_id"])
        cards.append(
            {
                "label": m.title,
                "value": formatted(row["value"], unit=m.unit),
                "note": f"{area}; {whole_number(row['numerator'])} of {whole_number(row['denominator'])}",
            }
        )
    return cards


def safety_view(
    *,
    measure_id: str,
    period: str | None,
    borough: str | None,
    disclose: bool,
    funnel_level: str = "practice",
    figures: bool = True,
    parts: frozenset[str] = SAFETY_PARTS,
) -> dict[str, Any]:
    """Patients at each SABA threshold; SABA without ICS by practice (funnel); the chosen safety measure
    for children vs adults, by deprivation and by ethnic group, in London or the chosen borough.

    ``figures=False`` (a CSV): the rows only; the five charts (most of the work) are None. ``parts``: which
    of :data:`SAFETY_PARTS` to build ("thresholds", "funnel", "groups": ages, deprivation, ethnic group);
    the others' rows and charts are None.
    """
    borough = _borough(borough)
    m = aq.measure(measure_id if measure_id in SAFETY_MEASURES else SAFETY_MEASURES[0])
    con = _con()
    filters = _area_filters(borough)
    area = _area_name(borough)
    view: dict[str, Any] = dict.fromkeys(("thresholds", "funnel", "ages", "groups"))
    charts = dict.fromkeys(("threshold_chart", "funnel_figure", "age_chart", "imd_chart", "ethnicity_chart"))
    if "thresholds" in parts:
        thresholds = aq.saba_threshold_counts(con, period=period, filters=filters, disclose=disclose)
        view["thresholds"] = thresholds.assign(area_name=thresholds["label"], area_code=thresholds["measure_id"])
        if figures:
            charts["threshold_chart"] = inequality_chart(
                values=view["thresholds"],
                value_label="Share of patients (%)",  # whose patients: the section note (register, or SABA users)
                dimension_label=f"Prescribing safety measure, {area}",
                height=340,
            )
    if "funnel" in parts:
        view["funnel"] = funnel = aq.measure_funnel(
            con,
            measure_id="ast_saba_no_ics",
            period=period,
            by="borough" if funnel_level == "borough" else "practice",
            disclose=disclose,
        )
        if figures:
            charts["funnel_figure"] = funnel_plot(
                points=funnel["points"],
                limits=funnel["limits"],
                london_value=funnel["london_value"],
                value_label="SABA with no ICS (%)",
                unit="percent",
                polarity="low",
                height=440,
                points_are="boroughs" if funnel_level == "borough" else "practices",
            )
    if "groups" in parts:
        view["ages"], view["groups"], group_charts = _safety_groups(
            con, m, period=period, filters=filters, borough=borough, area=area, disclose=disclose, figures=figures
        )
        charts.update(group_charts)
    return {**view, "area": area, "measure": m, **charts}


def _safety_groups(
    con: Any,
    m: aq.Measure,
    *,
    period: str | None,
    filters: dict[str, list[str]] | None,
    borough: str | None,
    area: str,
    disclose: bool,
    figures: bool,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict[str, Any]]:
    """The safety measure by age group, deprivation and ethnic group: rows and (``figures``) charts."""
    # The rows' london_value and comparison (the CSVs') are London's; the charts' line is the area's own
    # overall value, named after it (a borough's was drawn as "London").
    ages = aq.by_age_group(
        con, measure_id=m.id, period=period, filters=filters, disclose=disclose, compare_with="london"
    )
    overall = pd.to_numeric(ages["area_value"], errors="coerce").dropna()
    line = float(overall.iloc[0]) if len(overall) else None
    lines = {"london_value": line} if not borough else {"area_value": line, "area_label": area}
    groups = {}
    for dimension in ("imd_quintile_national", "ethnicity_group"):
        frame = aq.measure_values(
            con,
            measure_id=m.id,
            period=period,
            by=dimension,
            filters=filters,
            disclose=disclose,
            compare_with="london",
        )
        if dimension == "ethnicity_group":
            rank = {name: i for i, name in enumerate(ETHNICITY_ORDER)}
            frame = frame.assign(_r=frame["area_name"].map(rank).fillna(99)).sort_values("_r").drop(columns="_r")
        else:
            frame = frame.sort_values("area_name")
        groups[dimension] = frame.reset_index(drop=True)
    charts = {}
    if figures:
        charts["age_chart"] = inequality_chart(
            values=ages, value_label=m.label, dimension_label=f"Age group, {area}", height=300, **lines
        )
        for key, dimension, label in (
            ("imd_chart", "imd_quintile_national", "IMD 2025 quintile of residence"),
            ("ethnicity_chart", "ethnicity_group", "Ethnic group"),
        ):
            charts[key] = inequality_chart(
                values=groups[dimension],
                value_label=m.label,
                dimension_label=f"{label}, {area}",
                height=340,
                **lines,
            )
    return ages, groups, charts


def linked_view(
    *, period: str | None, threshold: int, group: str, disclose: bool, figures: bool = True
) -> dict[str, Any]:
    """Among patients with an emergency asthma admission in the period: the share whose year before held
    SABA over-reliance, no review or no action plan, London and per ``group`` (``figures=False``: rows only)."""
    group = group if group in LINKED_GROUP_LABELS else "borough"
    values = aq.linked_admissions(_con(), period=_period(period), saba_threshold=threshold, by=group, disclose=disclose)
    if not figures:
        return {"values": values, "figure": None, "table": None}
    return {"values": values, "figure": linked_admissions_chart(values=values), "table": linked_table(values)}


def inequality_view(*, measure_id: str, period: str | None, disclose: bool, figures: bool = True) -> dict[str, Any]:
    """The slope index of inequality (and quintile gap) of the measure per borough, its map and table.

    ``figures=False`` returns the engine's frame only (for a CSV).
    """
    m = aq.measure(measure_id)
    sii = aq.measure_inequality(_con(), measure_id=m.id, period=period, disclose=disclose)
    if not figures:
        return {"sii": sii}
    boroughs = sii[sii["area_code"] != aq.LONDON_CODE].rename(
        columns={"sii": "value", "sii_low": "ci_low", "sii_high": "ci_high"}
    )
    boroughs = boroughs.assign(suppressed=pd.to_numeric(boroughs["value"], errors="coerce").isna())
    unit = "pp" if m.unit == "percent" else m.unit
    figure = inequality_map(
        values=boroughs,
        measure_label=f"SII ({'percentage points' if unit == 'pp' else unit})",
        unit=m.unit,
        polarity=m.polarity,
        height=520,
    )
    table = pd.DataFrame(
        {
            "Area": sii["area_name"],
            "SII": [formatted(v, unit=unit) for v in sii["sii"]],
            "Most deprived fifth": [formatted(v, unit=m.unit) for v in sii["q1_value"]],
            "Least deprived fifth": [formatted(v, unit=m.unit) for v in sii["q5_value"]],
            "Gap (least − most deprived)": [formatted(v, unit=unit) for v in sii["gap"]],
            "Patients": [whole_number(v) for v in sii["denominator"]],
        }
    )
    return {"sii": sii, "map": figure, "table": table}


def practices_view(
    *, measure_id: str, period: str | None, borough: str | None, disclose: bool, figures: bool = True
) -> dict[str, Any]:
    """Practices of the chosen borough ranked with 95 % CIs, compared with London (``figures=False``: no chart)."""
    borough = _borough(borough)
    m = aq.measure(measure_id)
    con = _con()
    everywhere = aq.measure_values(con, measure_id=m.id, period=period, by="practice", disclose=disclose)
    if borough:
        mine = set(aq.practices(con, borough_code=borough)["practice_code"])
        in_borough = everywhere[everywhere["area_code"].isin(mine)].reset_index(drop=True)
    else:
        in_borough = everywhere.iloc[0:0]
    # Compared with London: the London-wide call's comparison (a borough filter would change the benchmark).
    if not figures:
        return {"in_borough": in_borough}
    # No borough chosen: say so, as the message above the chart does ("none has patients" was wrong).
    figure = (
        ranked_areas_chart(values=in_borough, value_label=m.label, unit=m.unit, target=m.target)
        if borough
        else placeholder_figure(wrap_text("Choose a borough above to rank its practices."), height=260)
    )
    return {"in_borough": in_borough, "figure": figure}


def trend_view(
    *, measure_id: str, level: str, borough: str | None, practice: str | None, disclose: bool, figures: bool = True
) -> dict[str, Any]:
    """The SPC trend (rolling 12 months) for London, the borough or the practice (``figures=False``: no chart)."""
    borough = _borough(borough)
    m = aq.measure(measure_id)
    code = {"borough": borough, "practice": practice}.get(level)
    if level not in ("borough", "practice") or not code:
        level, code = "london", None
    series = aq.measure_trend(_con(), measure_id=m.id, filters={level: [code]} if code else None, disclose=disclose)
    shown = aq.MEASURES["ast_admissions_per_1000"] if m.per_population else m
    area = "London" if level == "london" else (_area_name(code) if level == "borough" else _practice_name(code))
    if code:
        series = trend_named_for_area(series, code=code, name=area)
    if not figures:
        return {"series": series, "area": area, "measure": shown}
    figure = spc_chart(series=series, value_label=shown.label, unit=shown.unit, target=m.target, height=380)
    return {"series": series, "figure": figure, "area": area, "measure": shown}


# ---------------------------------------------------------------- layout


def _csv(view: str) -> dbc.Button:
    return csv_button(view=view, button_id={"type": CSV, "view": view})


def _empty_map() -> Any:
    figure = measure_map(level="borough", values=empty_area_values(), value_label="", unit="percent", polarity="high")
    return figure


AGGREGATE_ONLY = (
    "Your role sees aggregate figures only: patient lists are for GP teams (their own practice) and campaign "
    "responders (their borough)."
)


def patient_list_view(scope: RowScope | None) -> html.Div:
    """The "Patient list" view: the practice picker, threshold, buttons and list for a user who may see patient
    rows, else the message alone (a picker and buttons that could only refuse read as a list that failed).

    The callbacks behind it still refuse on their own: the browser is never trusted.
    """
    if scope is None:
        return html.Div(dbc.Alert(AGGREGATE_ONLY, color="info", className="mb-0"), id=LIST_VIEW)
    return html.Div(
        id=LIST_VIEW,
        children=[
            html.P(
                "Patients on the asthma register with SABA over-reliance and no ICS issued in the period, for one "
                "practice. Only for roles entitled to patient rows (GP teams: their practice; campaign "
                "responders: their borough). Every view and export is written to the audit log.",
                className="small",
            ),
            dbc.Row(
                [
                    dbc.Col(labelled_select("Practice", LIST_PRACTICE, "", [NO_PRACTICE]), md=6),
                    dbc.Col(
                        radio_group(
                            "SABA inhalers", LIST_THRESHOLD, "3", {str(t): f"{t}+" for t in aq.SABA_THRESHOLDS}
                        ),
                        md=4,
                    ),
                    dbc.Col(dbc.Button("Show patients", id=LIST_SHOW, color="primary", className="mt-4"), md=2),
                ],
                className="g-2",
            ),
            html.Div(id=LIST_MESSAGE, className="mt-2"),
            html.Div(id=LIST_TABLE),
            dbc.Button(
                "Download patient list (CSV)",
                id=LIST_EXPORT,
                color="secondary",
                outline=True,
                size="sm",
                className="mt-2",
            ),
        ],
    )


def layout(
    measure: str = aq.DEFAULT_MEASURE,
    period: str | None = None,
    borough: str | None = None,
    tab: str = "areas",
    level: str = "borough",
    **_other,
) -> html.Div:
    """The page; URL query values (measure, period, borough, tab, level) set the controls."""
    header = page_header(
        "Asthma",
        "Diagnosis, reviews, action plans, reliever (SABA) over-reliance and emergency admissions by borough, "
        "practice and group, with 95% intervals and comparison with London.",
    )
    try:
        con = _con()
        periods = aq.period_choices(con)
        boroughs = aq.boroughs(con)
    except DATA_ERRORS as error:
        return html.Div([header, error_message(data_problem(error))])
    link = LinkValues()
    measure = link.pick("measure", measure, aq.MEASURES, aq.DEFAULT_MEASURE)
    default_period = periods.loc[periods["period_type"] == "fy", "period_id"].iloc[0] if len(periods) else None
    period = link.pick("period", period, set(periods["period_id"]), default_period)
    borough = link.pick("borough", borough, set(boroughs["borough_code"]), ALL_BOROUGHS["value"])
    tab = link.pick("view", tab, TAB_IDS, "areas")
    level = link.pick("map level", level, MAP_LEVELS, "borough")
    controls = dbc.Row(
        [
            dbc.Col(
                labelled_select(
                    "Measure", MEASURE, measure, [{"value": k, "label": m.title} for k, m in aq.MEASURES.items()]
                ),
                xs=12,
                lg=5,
            ),
            dbc.Col(
                labelled_select(
                    "Period",
                    PERIOD,
                    period,
                    [{"value": v, "label": lab} for v, lab in zip(periods["period_id"], periods["label"], strict=True)],
                ),
                xs=12,
                sm=6,
                lg=3,
            ),
            dbc.Col(
                labelled_select(
                    "Borough",
                    BOROUGH,
                    borough,
                    [
                        ALL_BOROUGHS,
                        *[
                            {"value": v, "label": lab}
                            for v, lab in zip(boroughs["borough_code"], boroughs["borough_name"], strict=True)
                        ],
                    ],
                ),
                xs=12,
                sm=6,
                lg=4,
            ),
        ],
        className="g-2 mb-3 filter-bar",
    )
    areas = html.Div(
        [
            html.Div(id=KPIS),
            html.Div(id=SUMMARY_MESSAGE),
            html.Div(id=AREA_MESSAGE),
            radio_group("Map level", MAP_LEVEL, level, MAP_LEVELS),
            dbc.Row(
                [
                    dbc.Col(
                        section(
                            "Map",
                            graph(MAP, _empty_map()),
                            _csv("map"),
                            note="Shaded by the value against London's: purple better, orange worse, deeper the "
                            "further away (prevalence has no better direction). Whether a gap is beyond chance: the "
                            "ranked chart's intervals. Grey: suppressed (fewer than 8 patients) or no patients.",
                        ),
                        lg=7,
                    ),
                    dbc.Col(section("Boroughs ranked, with 95% intervals", graph(RANKED), _csv("boroughs")), lg=5),
                ]
            ),
            section(
                "Map as a table",
                html.Div(id=MAP_TABLE),
                note="The same rows as the map, for screen readers and copying.",
            ),
        ]
    )
    safety = html.Div(
        [
            html.Div(id=SAFETY_MESSAGE),
            radio_group(
                "Safety measure",
                SAFETY_MEASURE,
                SAFETY_MEASURES[0],
                {k: aq.MEASURES[k].short_label for k in SAFETY_MEASURES},
            ),
            dbc.Row(
                [
                    dbc.Col(
                        section(
                            "Patients at each SABA threshold",
                            graph(THRESHOLDS),
                            _csv("thresholds"),
                            note="Share of the asthma register issued 3+, 6+, 12+ SABA inhalers in 12 months; "
                            "no ICS: share of SABA users issued no inhaled steroid.",
                        ),
                        lg=6,
                    ),
                    dbc.Col(
                        section(
                            "Children and adults",
                            graph(AGE_GROUPS),
                            _csv("age_groups"),
                            note="Core20PLUS5 for children names over-reliance on reliever inhalers.",
                        ),
                        lg=6,
                    ),
                ]
            ),
            section(
                "SABA:ICS balance: SABA with no ICS (funnel)",
                radio_group("Each point", FUNNEL_LEVEL, "practice", {"practice": "a practice", "borough": "a borough"}),
                graph(FUNNEL),
                _csv("funnel"),
                note="Share of SABA users issued no inhaled steroid, around London. Small practices vary more by "
                "chance: only points beyond the 99.8% limits stand out.",
            ),
            dbc.Row(
                [
                    dbc.Col(section("By deprivation", graph(IMD), _csv("imd")), lg=6),
                    dbc.Col(section("By ethnic group", graph(ETHNICITY), _csv("ethnicity")), lg=6),
                ]
            ),
        ]
    )
    linked = html.Div(
        [
            html.Div(id=LINKED_MESSAGE),
            html.P(
                "Only a linked extract can show this: for patients with an emergency asthma admission in the "
                "period, what their GP record held in the 12 months before the admission (prescriptions and "
                "codes on or after the admission day do not count).",
                className="small",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        radio_group(
                            "SABA over-reliance at",
                            LINKED_THRESHOLD,
                            "3",
                            {str(t): f"{t}+ inhalers" for t in aq.SABA_THRESHOLDS},
                        ),
                        md=6,
                    ),
                    dbc.Col(radio_group("Group by", LINKED_GROUP, "borough", LINKED_GROUP_LABELS), md=6),
                ]
            ),
            section("Before an emergency admission", graph(LINKED), _csv("linked")),
            section("Table", html.Div(id=LINKED_TABLE)),
        ]
    )
    inequality_tab = html.Div(
        [
            html.Div(id=INEQUALITY_MESSAGE),
            dbc.Row(
                [
                    dbc.Col(
                        section(
                            "Slope index of inequality by borough",
                            graph(SII_MAP, placeholder_figure()),
                            note="SII: the modelled gap between the least and most deprived ends of the IMD "
                            "scale (residence); 0 = no gradient.",
                        ),
                        lg=6,
                    ),
                    dbc.Col(section("SII and quintile gap", html.Div(id=SII_TABLE), _csv("sii")), lg=6),
                ]
            ),
        ]
    )
    practices_tab = html.Div(
        [
            html.Div(id=PRACTICE_MESSAGE),
            section(
                "Practices in the borough, ranked with 95% intervals",
                graph(PRACTICE_RANKED),
                _csv("practices"),
                note="Compared with London. Choose a borough above.",
            ),
            section(
                "Trend with statistical process control",
                dbc.Row(
                    [
                        dbc.Col(
                            radio_group(
                                "Trend for",
                                TREND_LEVEL,
                                "borough" if _borough(borough) else "london",
                                {"london": "London", "borough": "Borough", "practice": "Practice"},
                            ),
                            md=6,
                        ),
                        dbc.Col(
                            labelled_select("Practice (for the trend)", PRACTICE, "", practice_options(borough)), md=6
                        ),
                    ]
                ),
                html.P(id=TREND_TITLE, className="small mt-2 mb-0"),
                graph(TREND),
                _csv("trend"),
                note="Rolling 12 months to each quarter end. Special cause variation flagged (Making Data Count).",
            ),
        ]
    )
    patients_tab = patient_list_view(patient_rows_scope())
    bodies = (areas, safety, linked, inequality_tab, practices_tab, patients_tab)
    return html.Div(
        [
            header,
            controls,
            link.message(),
            html.Div(rule_card(measure), id=RULE),
            view_switch(
                key=VIEWS,
                views={t: (TAB_LABELS[t], body) for t, body in zip(TAB_IDS, bodies, strict=True)},
                initial=tab,
                look="page",
            ),
            html.Div(id=DOWNLOAD_MESSAGE),
            dcc.Download(id=DOWNLOAD),
            dcc.Store(id=URL_STATE),
            # The layout draws an empty borough map: a borough map can be recoloured; nothing else is shown.
            dcc.Store(id=MAP_SHOWN, data={"map": [None, None, "borough"]}),
            dcc.Store(id=SUMMARY_SHOWN, data=None),
            dcc.Store(id=SAFETY_SHOWN, data=None),
            dcc.Store(id=SII_BUILT, data=False),
            html.P(
                "Counts follow the NHS disclosure rule (1–7 suppressed, others rounded to 5) unless your role allows "
                "unrounded figures; percentages and intervals are computed from unrounded counts.",
                className="small text-muted mt-3",
            ),
        ]
    )


# ---------------------------------------------------------------- callbacks


def _measure_definition(measure_id: str) -> tuple[Any, dict[str, str]]:
    """The registry indicator behind a measure and the card's words for it (the measure's title, and how the page
    derives it ahead of the indicator's own note)."""
    m = aq.measure(measure_id)
    return m.spec, {"title": m.title, "notes": " ".join(n for n in (m.notes, m.spec.notes) if n)}


def rule_card(measure_id: str) -> dbc.Card:
    """The chosen measure's indicator definition and rule version, as the layout first draws it."""
    spec, words = _measure_definition(measure_id)
    return indicator_card(spec, card_id=RULE, **words)


def update_rule(measure_id: str) -> tuple:
    """Another measure's title, rule version and definition, into the card in place (an opened definition
    stays open)."""
    spec, words = _measure_definition(measure_id)
    return indicator_card_parts(spec, **words)


# Not on the first draw: the layout already holds the measure's card.
dash.callback(*indicator_card_outputs(RULE), Input(MEASURE, "value"), prevent_initial_call=True)(update_rule)


def _stale_parts(wanted: dict, shown: dict | None) -> frozenset[str]:
    """The parts whose key in ``wanted`` differs from the one on screen (``shown``, a store's data: None or not a
    dict for nothing shown); PreventUpdate when none does."""
    shown = shown if isinstance(shown, dict) else {}
    stale = frozenset(part for part, key in wanted.items() if shown.get(part) != key)
    if not stale:
        raise PreventUpdate
    return stale


def map_shown(measure_id: str | None, period: str | None, borough: str | None, level: str | None) -> dict:
    """What the map and its table are drawn from: the map from the measure, period and level; its table from
    those and, below borough level (where it lists the chosen borough's areas), the borough. Kept in
    :data:`MAP_SHOWN` for what is on screen."""
    level = _map_level(level)
    listed = _borough(borough) if level != "borough" else None
    return {"map": [measure_id, period, level], "table": [measure_id, period, listed, level]}


def summary_shown(measure_id: str | None, period: str | None, borough: str | None) -> dict:
    """What the summary beside the map is drawn from: the ranked boroughs from the measure, period and borough
    (highlighted); the KPI cards from the period and borough. Kept in :data:`SUMMARY_SHOWN`."""
    borough = _borough(borough)
    return {"ranked": [measure_id, period, borough], "kpis": [period, borough]}


def update_map(
    measure_id: str,
    period: str | None,
    borough: str | None,
    level: str,
    tab: str = "areas",
    shown: dict | None = None,
    *_,
):
    """The map (recoloured with a Patch while the level is unchanged) and the map's table.

    Only what a changed control is drawn from is rebuilt (``shown``: :func:`map_shown` of what is on screen,
    None for nothing): a new borough redraws the table below borough level, and never the map. The summary
    beside the map is a callback of its own (:func:`update_summary`): a map drawn at a new level, with its
    table, took up to 150 ms at scale 1.0 on 2 cores, and the ranked boroughs and KPI cards, which no level
    changes, waited for it.
    """
    if tab != "areas":
        raise PreventUpdate
    wanted = map_shown(measure_id, period, borough, level)
    shown = shown if isinstance(shown, dict) else {}
    stale = _stale_parts(wanted, shown)
    shown_map = shown.get("map")
    recolour = isinstance(shown_map, list) and shown_map[-1:] == [_map_level(level)]
    try:
        view = area_map_view(
            measure_id=measure_id,
            period=period,
            level=level,
            disclose=current_disclosure().disclose,
            map_as=("recolour" if recolour else "figure") if "map" in stale else "none",
        )
    except DATA_ERRORS as error:
        return no_update, no_update, error_message(data_problem(error)), no_update
    figure = no_update
    if "map" in stale:
        figure = traces_patch(view["map_traces"]) if recolour else view["map"]
    table = _map_table(view, aq.measure(measure_id), borough) if "table" in stale else no_update
    return figure, table, None, wanted


dash.callback(
    Output(MAP, "figure"),
    Output(MAP_TABLE, "children"),
    Output(AREA_MESSAGE, "children"),
    Output(MAP_SHOWN, "data"),
    Input(MEASURE, "value"),
    Input(PERIOD, "value"),
    Input(BOROUGH, "value"),
    Input(MAP_LEVEL, "value"),
    State(TABS, "value"),
    State(MAP_SHOWN, "data"),
    Input(view_opened(VIEWS, "areas"), "data"),
    prevent_initial_call=True,
)(update_map)


def update_summary(
    measure_id: str, period: str | None, borough: str | None, tab: str = "areas", shown: dict | None = None, *_
):
    """The boroughs ranked and the KPI cards of London or the chosen borough.

    Only what a changed control is drawn from is rebuilt (``shown``: :func:`summary_shown` of what is on
    screen): a new measure leaves the KPI cards.
    """
    if tab != "areas":
        raise PreventUpdate
    wanted = summary_shown(measure_id, period, borough)
    stale = _stale_parts(wanted, shown)
    try:
        view = area_summary_view(
            measure_id=measure_id,
            period=period,
            borough=borough,
            disclose=current_disclosure().disclose,
            parts=stale,
        )
        area = _area_name(borough) if "kpis" in stale else None
    except DATA_ERRORS as error:
        return no_update, no_update, error_message(data_problem(error)), no_update
    ranked = view["ranked"] if "ranked" in stale else no_update
    kpis = kpi_cards(cards=_kpi_cards(view["kpis"], area)) if "kpis" in stale else no_update
    return ranked, kpis, None, wanted


dash.callback(
    Output(RANKED, "figure"),
    Output(KPIS, "children"),
    Output(SUMMARY_MESSAGE, "children"),
    Output(SUMMARY_SHOWN, "data"),
    Input(MEASURE, "value"),
    Input(PERIOD, "value"),
    Input(BOROUGH, "value"),
    State(TABS, "value"),
    State(SUMMARY_SHOWN, "data"),
    Input(view_opened(VIEWS, "areas"), "data"),
    prevent_initial_call=True,
)(update_summary)


def safety_shown(period: str | None, borough: str | None, measure_id: str | None, funnel_level: str | None) -> dict:
    """What each of :data:`SAFETY_PARTS` is drawn from: the thresholds from the period and borough, the groups
    (ages, deprivation, ethnic group) from those and the measure, the London-wide funnel from the period and
    its level. Kept in :data:`SAFETY_SHOWN` for what is on screen."""
    measure = measure_id if measure_id in SAFETY_MEASURES else SAFETY_MEASURES[0]
    return {
        "thresholds": [period, _borough(borough)],
        "groups": [period, _borough(borough), measure],
        "funnel": [period, funnel_level],
    }


def update_safety(
    period: str | None,
    borough: str | None,
    measure_id: str,
    tab: str = "safety",
    funnel_level: str = "practice",
    shown: dict | None = None,
    *_,
):
    """The prescribing-safety panel for London or the chosen borough.

    Only the parts drawn from a changed control are redrawn (``shown``: :func:`safety_shown` of what is on
    screen, None for nothing): the London-wide practice funnel, the panel's largest chart, stays as it is when
    the borough or the measure changes, and returning to the view with nothing changed redraws nothing.
    """
    if tab != "safety":
        raise PreventUpdate
    wanted = safety_shown(period, borough, measure_id, funnel_level)
    stale = _stale_parts(wanted, shown)
    try:
        view = safety_view(
            measure_id=measure_id,
            period=period,
            borough=borough,
            disclose=current_disclosure().disclose,
            funnel_level=funnel_level,
            parts=stale,
        )
    except DATA_ERRORS as error:
        return (*[no_update] * 5, error_message(data_problem(error)), no_update)
    charts = ("threshold_chart", "age_chart", "funnel_figure", "imd_chart", "ethnicity_chart")
    return (*(no_update if view[chart] is None else view[chart] for chart in charts), None, wanted)


dash.callback(
    Output(THRESHOLDS, "figure"),
    Output(AGE_GROUPS, "figure"),
    Output(FUNNEL, "figure"),
    Output(IMD, "figure"),
    Output(ETHNICITY, "figure"),
    Output(SAFETY_MESSAGE, "children"),
    Output(SAFETY_SHOWN, "data"),
    Input(PERIOD, "value"),
    Input(BOROUGH, "value"),
    Input(SAFETY_MEASURE, "value"),
    State(TABS, "value"),
    Input(FUNNEL_LEVEL, "value"),
    State(SAFETY_SHOWN, "data"),
    Input(view_opened(VIEWS, "safety"), "data"),
    prevent_initial_call=True,
)(update_safety)


def update_linked(period: str | None, threshold: str, group: str, tab: str = "linked", *_):
    """The before-admission view: chart and table."""
    if tab != "linked":
        raise PreventUpdate
    try:
        view = linked_view(
            period=period, threshold=_threshold(threshold), group=group, disclose=current_disclosure().disclose
        )
    except DATA_ERRORS as error:
        return no_update, no_update, error_message(data_problem(error))
    table = data_table(
        view["table"],
        columns={c: c for c in view["table"].columns},
        caption="Patients admitted as an emergency for asthma: their year before admission",
        table_id=f"{P}-linked-rows",
    )
    return view["figure"], table, None


dash.callback(
    Output(LINKED, "figure"),
    Output(LINKED_TABLE, "children"),
    Output(LINKED_MESSAGE, "children"),
    Input(PERIOD, "value"),
    Input(LINKED_THRESHOLD, "value"),
    Input(LINKED_GROUP, "value"),
    State(TABS, "value"),
    Input(view_opened(VIEWS, "linked"), "data"),
    prevent_initial_call=True,
)(update_linked)


def update_inequality(measure_id: str, period: str | None, tab: str = "inequality", built: bool = True, *_):
    """The SII map (geometry sent the first time, a Patch afterwards) and its table."""
    if tab != "inequality":
        raise PreventUpdate
    try:
        view = inequality_view(measure_id=measure_id, period=period, disclose=current_disclosure().disclose)
    except DATA_ERRORS as error:
        return no_update, no_update, error_message(data_problem(error)), no_update
    table = data_table(
        view["table"],
        columns={c: c for c in view["table"].columns},
        caption="Slope index of inequality by borough",
        table_id=f"{P}-sii-rows",
    )
    return (map_patch(view["map"]) if built else view["map"]), table, None, True


dash.callback(
    Output(SII_MAP, "figure"),
    Output(SII_TABLE, "children"),
    Output(INEQUALITY_MESSAGE, "children"),
    Output(SII_BUILT, "data"),
    Input(MEASURE, "value"),
    Input(PERIOD, "value"),
    State(TABS, "value"),
    State(SII_BUILT, "data"),
    Input(view_opened(VIEWS, "inequality"), "data"),
    prevent_initial_call=True,
)(update_inequality)


def practice_options(borough: str | None) -> list[dict]:
    """The trend's practice list: the chosen borough's practices (none without a borough, or when unreadable)."""
    borough = _borough(borough)
    if not borough:
        return [NO_PRACTICE]
    try:
        frame = aq.practices(_con(), borough_code=borough)
    except DATA_ERRORS:
        return [NO_PRACTICE]
    names = zip(frame["practice_code"], frame["practice_name"], strict=True)
    return [NO_PRACTICE, *[{"value": c, "label": n} for c, n in names]]


def update_practice_options(borough: str | None, practice: str | None):
    """Practices of the chosen borough for the trend; cleared when it leaves the list."""
    options = practice_options(borough)
    return options, practice if practice and practice in {o["value"] for o in options} else ""


# Not on the first draw: the layout already lists the borough's practices.
dash.callback(
    Output(PRACTICE, "options"),
    Output(PRACTICE, "value"),
    Input(BOROUGH, "value"),
    State(PRACTICE, "value"),
    prevent_initial_call=True,
)(update_practice_options)


def update_practices(
    measure_id: str,
    period: str | None,
    borough: str | None,
    trend_level: str,
    practice: str | None,
    tab: str = "practices",
    *_,
):
    """Ranked practices of the borough and the SPC trend of the chosen level."""
    if tab != "practices":
        raise PreventUpdate
    disclose = current_disclosure().disclose
    try:
        ranked = practices_view(measure_id=measure_id, period=period, borough=borough, disclose=disclose)
        series = trend_view(
            measure_id=measure_id, level=trend_level, borough=borough, practice=practice, disclose=disclose
        )
    except DATA_ERRORS as error:
        return no_update, no_update, no_update, error_message(data_problem(error))
    message = (
        None if _borough(borough) else html.P("Choose a borough above to rank its practices.", className="text-muted")
    )
    title = f"Showing: {series['area']} ({series['measure'].title})"
    return ranked["figure"], series["figure"], title, message


dash.callback(
    Output(PRACTICE_RANKED, "figure"),
    Output(TREND, "figure"),
    Output(TREND_TITLE, "children"),
    Output(PRACTICE_MESSAGE, "children"),
    Input(MEASURE, "value"),
    Input(PERIOD, "value"),
    Input(BOROUGH, "value"),
    Input(TREND_LEVEL, "value"),
    Input(PRACTICE, "value"),
    State(TABS, "value"),
    Input(view_opened(VIEWS, "practices"), "data"),
    prevent_initial_call=True,
)(update_practices)


# ---------------------------------------------------------------- patient list (patient rows: server-side checks)


def list_practice_options(tab: str = "patients", *_):
    """Practices the user may list patients for: none for aggregate-only roles (checked here, on the server)."""
    if tab != "patients":
        raise PreventUpdate
    scope = patient_rows_scope()
    if scope is None:
        return [NO_PRACTICE], ""
    try:
        frame = aq.practices(_con())
    except DATA_ERRORS:
        return [NO_PRACTICE], ""
    # With the ICB: a responder scoped to an ICB was offered no practice (and refused every list).
    allowed = frame[
        [
            scope.permits(c, b, i)
            for c, b, i in zip(frame["practice_code"], frame["borough_code"], frame["icb_code"], strict=True)
        ]
    ]
    options = [
        {"value": c, "label": f"{n} ({c})"}
        for c, n in zip(allowed["practice_code"], allowed["practice_name"], strict=True)
    ]
    return [NO_PRACTICE, *options], options[0]["value"] if len(options) == 1 else ""


dash.callback(
    Output(LIST_PRACTICE, "options"),
    Output(LIST_PRACTICE, "value"),
    State(TABS, "value"),
    Input(view_opened(VIEWS, "patients"), "data"),
    prevent_initial_call=True,
)(list_practice_options)


def patient_rows(*, period: str | None, practice: str | None, threshold: int) -> tuple[pd.DataFrame, RowScope]:
    """The list for ``practice`` if the user's scope permits it; raises PermissionError otherwise."""
    scope = patient_rows_scope()
    if scope is None:
        raise PermissionError(AGGREGATE_ONLY)
    if not practice:
        raise PermissionError("Choose a practice.")
    practices = aq.practices(_con()).set_index("practice_code")
    borough, icb = practices["borough_code"].get(practice), practices["icb_code"].get(practice)
    if not scope.permits(practice, borough, icb):
        raise PermissionError("That practice is outside your scope.")
    rows = aq.saba_no_ics_patients(
        _con(), period=_period(period), practice_code=practice, scope=scope, saba_threshold=threshold
    )
    return rows, scope


def _audit_filters(period, practice, threshold, scope: RowScope) -> dict[str, Any]:
    return {
        "page": "asthma",
        "list": "saba_over_reliance_no_ics",
        "period": period,
        "practice": practice,
        "saba_threshold": threshold,
        **scope.as_filters(),
    }


def audited_patient_rows(period: str | None, practice: str | None, threshold: str, *, action: str, withheld: str):
    """The patient rows, recorded in the audit log under ``action`` before they leave the server.

    Returns ``(rows, None)``, or ``(None, message)`` to show instead: a refusal (the denial is audited
    when the role may see no patient rows at all), an audit log that cannot be written (``withheld``
    says what is then not done) or a data error.
    """
    threshold_value = _threshold(threshold)
    try:
        rows, scope = patient_rows(period=period, practice=practice, threshold=threshold_value)
        audit.record(
            current_user_principal(),
            action,
            _audit_filters(_period(period), practice, threshold_value, scope),
            row_count=len(rows),
        )
    except PermissionError as refusal:
        with contextlib.suppress(audit.AuditUnavailable):
            # A role without patient rows, or a practice outside the user's scope, is a denial worth a
            # record (a crafted request lands here too); an empty practice choice is not.
            if patient_rows_scope() is None or practice:
                denied = {"page": "asthma", "action": action, "practice": practice}
                audit.record(current_user_principal(), audit.ACCESS_DENIED, denied)
        return None, dbc.Alert(str(refusal), color="info")
    except audit.AuditUnavailable:
        return None, error_message(f"The audit log cannot be written, so {withheld}.")
    except DATA_ERRORS as error:
        return None, error_message(data_problem(error))
    return rows, None


def show_patients(_clicks, period: str | None, practice: str | None, threshold: str):
    """The patient list for one practice, audited before it is shown; refused for aggregate-only roles."""
    if not _clicks:
        raise PreventUpdate
    rows, problem = audited_patient_rows(
        period, practice, threshold, action=audit.VIEW_PATIENT_ROWS, withheld="the list is not shown"
    )
    if problem is not None:
        return None, problem
    shown = patient_table(rows)
    chosen = f"{_threshold(threshold)}+ SABA inhalers and no ICS at {practice}, {_period(period)}"
    # The list stays as made until Show patients is pressed again: it says what it was made for, since the
    # controls above (and so the CSV) may have moved on.
    note = html.P(
        f"{len(rows):,} {'patient' if len(rows) == 1 else 'patients'} with {chosen} (at most "
        f"{aq.PATIENT_LIST_LIMIT}), most SABA first. Changed the controls? Press Show patients again. This view "
        "is recorded in the audit log.",
        className="small text-muted",
    )
    table = data_table(
        shown,
        columns={c: c for c in shown.columns},
        caption=f"Patients with {chosen}",
        table_id=f"{P}-patient-rows",
    )
    return html.Div([scroll_hint(), table]), note


dash.callback(
    Output(LIST_TABLE, "children"),
    Output(LIST_MESSAGE, "children"),
    Input(LIST_SHOW, "n_clicks"),
    State(PERIOD, "value"),
    State(LIST_PRACTICE, "value"),
    State(LIST_THRESHOLD, "value"),
    prevent_initial_call=True,
)(show_patients)


def export_patients(_clicks, period: str | None, practice: str | None, threshold: str):
    """The patient list as CSV, audited first (no record, no file); nothing for aggregate-only roles."""
    if not _clicks:
        raise PreventUpdate
    rows, problem = audited_patient_rows(
        period, practice, threshold, action=audit.EXPORT_PATIENT_ROWS, withheld="nothing is exported"
    )
    if problem is not None:
        return no_update, problem
    return csv_download(patient_table(rows), filename=f"asthma_saba_no_ics_{practice}_{_period(period)}.csv"), None


dash.callback(
    Output(DOWNLOAD, "data", allow_duplicate=True),
    Output(LIST_MESSAGE, "children", allow_duplicate=True),
    Input(LIST_EXPORT, "n_clicks"),
    State(PERIOD, "value"),
    State(LIST_PRACTICE, "value"),
    State(LIST_THRESHOLD, "value"),
    prevent_initial_call=True,
)(export_patients)


# ---------------------------------------------------------------- CSV downloads of the aggregate views


def view_csv(
    *,
    view: str,
    measure_id: str,
    period: str | None,
    borough: str | None,
    level: str,
    safety_measure: str,
    linked_threshold: str,
    linked_group: str,
    trend_level: str,
    practice: str | None,
    disclose: bool,
    funnel_level: str = "practice",
) -> tuple[pd.DataFrame, str]:
    """The rows behind one view, exactly as shown (same calls, same disclosure), and a file name."""
    m = aq.measure(measure_id)
    stem = f"asthma_{m.id}_{period or 'latest'}"
    if view == "map":
        result = area_map_view(measure_id=m.id, period=period, level=level, disclose=disclose, map_as="none")
        frame = result["values"][AREA_CSV_COLUMNS]
        view = f"map_{result['level']}"
    elif view == "boroughs":
        result = area_summary_view(
            measure_id=m.id, period=period, borough=borough, disclose=disclose, parts=frozenset({"ranked"})
        )
        frame = result["boroughs"][AREA_CSV_COLUMNS]
    elif view in SAFETY_CSV_PARTS:
        result = safety_view(
            measure_id=safety_measure,
            period=period,
            borough=borough,
            disclose=disclose,
            funnel_level=funnel_level,
            figures=False,
            parts=frozenset({SAFETY_CSV_PARTS[view]}),  # a CSV of one chart reads that chart's rows alone
        )
        stem = f"asthma_{result['measure'].id}_{period or 'latest'}"
        if view == "thresholds":
            frame = result["thresholds"][["measure_id", *AREA_CSV_COLUMNS[1:]]].assign(area=result["area"])
            stem = f"asthma_saba_thresholds_{period or 'latest'}"
        elif view == "age_groups":
            frame = result["ages"][AREA_CSV_COLUMNS[1:]].assign(area=result["area"])
        elif view == "funnel":
            frame = result["funnel"]["points"][[*AREA_CSV_COLUMNS, "funnel"]]
            stem = f"asthma_ast_saba_no_ics_{period or 'latest'}"
        else:
            key = "imd_quintile_national" if view == "imd" else "ethnicity_group"
            frame = result["groups"][key][AREA_CSV_COLUMNS[1:]].assign(area=result["area"])
    elif view == "linked":
        frame = linked_view(
            period=period, threshold=_threshold(linked_threshold), group=linked_group, disclose=disclose, figures=False
        )["values"]
        stem = f"asthma_before_admission_{_period(period)}"
    elif view == "sii":
        frame = inequality_view(measure_id=m.id, period=period, disclose=disclose, figures=False)["sii"]
    elif view == "practices":
        frame = practices_view(measure_id=m.id, period=period, borough=borough, disclose=disclose, figures=False)[
            "in_borough"
        ]
        frame = frame[AREA_CSV_COLUMNS]
    elif view == "trend":
        result = trend_view(
            measure_id=m.id, level=trend_level, borough=borough, practice=practice, disclose=disclose, figures=False
        )
        keep = [
            "period_id",
            "period_label",
            "numerator",
            "denominator",
            "value",
            "ci_low",
            "ci_high",
            "centre",
            "lower_limit",
            "upper_limit",
            "variation",
            "suppressed",
        ]
        frame = result["series"][[c for c in keep if c in result["series"]]].assign(area=result["area"])
        stem = f"asthma_{result['measure'].id}_trend"
    else:
        raise QueryError(f"Unknown view {view!r}")
    return frame.reset_index(drop=True), f"{stem}_{view}.csv"


def download_view(
    clicks,
    measure_id,
    period,
    borough,
    level,
    safety_measure,
    linked_threshold,
    linked_group,
    trend_level,
    practice,
    funnel_level="practice",
):
    """The CSV of the view whose button was pressed, audited before it leaves."""
    return pressed_view_csv(
        clicks,
        page="asthma",
        view_csv=view_csv,
        inputs={
            "measure_id": measure_id,
            "period": period,
            "borough": borough,
            "level": level,
            "safety_measure": safety_measure,
            "linked_threshold": linked_threshold,
            "linked_group": linked_group,
            "trend_level": trend_level,
            "practice": practice,
            "funnel_level": funnel_level,
        },
    )


dash.callback(
    Output(DOWNLOAD, "data"),
    Output(DOWNLOAD_MESSAGE, "children"),
    Input({"type": CSV, "view": ALL}, "n_clicks"),
    State(MEASURE, "value"),
    State(PERIOD, "value"),
    State(BOROUGH, "value"),
    State(MAP_LEVEL, "value"),
    State(SAFETY_MEASURE, "value"),
    State(LINKED_THRESHOLD, "value"),
    State(LINKED_GROUP, "value"),
    State(TREND_LEVEL, "value"),
    State(PRACTICE, "value"),
    State(FUNNEL_LEVEL, "value"),
    prevent_initial_call=True,
)(download_view)


# The controls are kept in the URL (replaceState: no reload, no new history entry) so a view can be shared.
dash.clientside_callback(
    """
    function(measure, period, borough, tab, level) {
        const params = new URLSearchParams();
        const state = {measure, period, borough, tab, level};
        for (const [key, value] of Object.entries(state)) { if (value) { params.set(key, value); } }
        const query = params.toString();
        const target = window.location.pathname + (query ? '?' + query : '');
        if (target !== window.location.pathname + window.location.search) {
            window.history.replaceState(window.history.state, '', target);
        }
        return query;
    }
    """,
    Output(URL_STATE, "data"),
    Input(MEASURE, "value"),
    Input(PERIOD, "value"),
    Input(BOROUGH, "value"),
    Input(TABS, "value"),
    Input(MAP_LEVEL, "value"),
)
