"""Hypertension: ICB commissioners compare detection and control across boroughs and practices, fairly.

Four views share one control bar (indicator, period, ICB, borough; kept in the URL):
borough comparison (map, ranked chart with CIs, funnel, ICB comparison, the board-paper CSV),
people to target (80 % and 77 % ambitions, detection), inequality (deprivation, ethnicity,
age, sex, ethnicity × deprivation, SII by borough) and practices (ranked, map, SPC trend).

Callbacks are thin: parse the controls, ask :mod:`queries.indicators` /
:mod:`queries.hypertension`, hand the frames to a figure builder. Each callback works out
the user's disclosure level on the server (:func:`security.disclosure.current_disclosure`). Maps are built once
with their geometry and recoloured with ``dash.Patch`` afterwards.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import ALL, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from components.charts import (
    funnel_plot,
    inequality_chart,
    intersection_chart,
    placeholder_figure,
    ranked_areas_chart,
    spc_chart,
)
from components.geometry import bounds_view, geometry_url, london_view
from components.hypertension_views import people_to_target_chart, value_label
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
    section,
    view_opened,
    view_switch,
    view_switch_value,
)
from components.maps import (
    borough_map,
    empty_area_values,
    map_patch,
    moved_map,
    practice_area_choropleth,
    sii_map,
)
from components.navigation import page_url_state_id
from components.style import formatted, interval_text, whole_number
from pages._exports import DATA_ERRORS, data_problem, pressed_view_csv
from pages._links import LinkValues
from queries import hypertension as hq
from queries.db import default_database
from queries.indicators import QueryError, funnel_limits, indicator_values, inequality, trend, trend_named_for_area
from queries.registry import get
from security import audit
from security.disclosure import current_disclosure

dash.register_page(__name__, path="/hypertension", name="Hypertension", title="Hypertension")

# Component ids: one prefix for the page.
INDICATOR = "hyp-indicator"
PERIOD = "hyp-period"
ICB = "hyp-icb"
BOROUGH = "hyp-borough"
PRACTICE = "hyp-practice"
# The page's main views: the switch's key, and the id whose value says which view is shown.
VIEWS = "hyp-tabs"
TABS = view_switch_value(VIEWS)
# The address-bar store: a pattern id, so the navigation rebuilds its links when the address changes.
URL_STATE = page_url_state_id("/hypertension")
RULE = "hyp-rule"
KPIS = "hyp-kpis"
COMPARISON_MESSAGE = "hyp-comparison-message"
BOROUGH_MAP = "hyp-borough-map"
BOROUGH_RANKED = "hyp-borough-ranked"
ICB_RANKED = "hyp-icb-ranked"
FUNNEL = "hyp-funnel"
FUNNEL_LEVEL = "hyp-funnel-level"
BOROUGH_TABLE = "hyp-borough-table"
TARGET_MESSAGE = "hyp-target-message"
TARGET_AMBITION = "hyp-target-ambition"
TARGET_CHART = "hyp-target-chart"
TARGET_TABLE = "hyp-target-table"
PRACTICE_TARGET_TABLE = "hyp-practice-target-table"
INEQUALITY_MESSAGE = "hyp-inequality-message"
INEQUALITY_AREA = "hyp-inequality-area"
INEQUALITY_GRAPHS = {
    "imd_quintile_national": "hyp-ineq-imd",
    "ethnicity_group": "hyp-ineq-ethnicity",
    "age_band": "hyp-ineq-age",
    "sex": "hyp-ineq-sex",
}
INTERSECTION = "hyp-intersection"
SII_MAP = "hyp-sii-map"
SII_TABLE = "hyp-sii-table"
PRACTICE_MESSAGE = "hyp-practice-message"
PRACTICE_RANKED = "hyp-practice-ranked"
PRACTICE_MAP = "hyp-practice-map"
TREND_LEVEL = "hyp-trend-level"
TREND = "hyp-trend"
TREND_TITLE = "hyp-trend-title"
DOWNLOAD = "hyp-download"
DOWNLOAD_MESSAGE = "hyp-download-message"
CSV = "hyp-csv"  # pattern-matching button ids: {"type": CSV, "view": <view>}
EXPORT_COMPARISON = "hyp-export-comparison"

DEFAULT_INDICATOR = "hyp008"
# Empty selections (a native select has no "clear"): the empty value means "no filter".
ALL_LONDON = {"value": "", "label": "All London"}
ALL_BOROUGHS = {"value": "", "label": "All boroughs"}
NO_PRACTICE = {"value": "", "label": "Choose a practice"}
TAB_IDS = ("comparison", "targets", "inequality", "practices")
TAB_LABELS = {
    "comparison": "Borough comparison",
    "targets": "People to target",
    "inequality": "Inequality",
    "practices": "Practices and trend",
}
SII_MAP_BUILT = "hyp-sii-map-built"
PRACTICE_MAP_BUILT = "hyp-practice-map-built"
INEQUALITY_LABELS = {
    "imd_quintile_national": "Deprivation (IMD 2025 national quintile of residence)",
    "ethnicity_group": "Ethnic group",
    "age_band": "Age band",
    "sex": "Sex",
}
# Axis and colour-bar labels: the registry titles are too long for an axis.
SHORT_LABELS = {
    "hyp_prevalence": "Prevalence (%)",
    "hyp_detection_ratio": "Recorded ÷ expected",
    "hyp008": "HYP008 (%)",
    "hyp009": "HYP009 (%)",
    "hyp_bp_recorded_12m": "BP recorded (%)",
    "hyp_possible_undiagnosed": "Possible undiagnosed (%)",
}


# ---------------------------------------------------------------- request helpers


def _con():
    return default_database()


def _spec(indicator: str | None):
    return get(indicator if indicator in hq.HYPERTENSION_INDICATORS else DEFAULT_INDICATOR)


def _label(spec) -> str:
    return SHORT_LABELS.get(spec.id) or value_label(title=spec.title, unit=spec.unit)


def selected_area(icb: str | None, borough: str | None) -> tuple[str, str | None]:
    """The area the inequality and trend views describe: the borough if chosen, else the ICB, else London."""
    if borough:
        return "borough", borough
    if icb:
        return "icb", icb
    return "london", None


def _area_name(level: str, code: str | None) -> str:
    if level == "london" or not code:
        return "London"
    areas = hq.reference_areas(_con())
    if level == "icb":
        names = dict(zip(areas["icbs"]["icb_code"], areas["icbs"]["icb_short_name"], strict=True))
    elif level == "borough":
        names = dict(zip(areas["boroughs"]["borough_code"], areas["boroughs"]["borough_name"], strict=True))
    else:
        return code
    return names.get(code, code)


def _icb_boroughs(icb: str | None) -> list[str]:
    if not icb:
        return []
    boroughs = hq.reference_areas(_con())["boroughs"]
    return boroughs.loc[boroughs["icb_code"] == icb, "borough_code"].tolist()


# ---------------------------------------------------------------- view builders (called by callbacks and tests)


def comparison_view(
    *,
    indicator: str,
    period: str | None,
    icb: str | None,
    disclose: bool,
    figures: bool = True,
    borough: str | None = None,
) -> dict[str, Any]:
    """Frames and figures of the borough comparison: map, ranked boroughs, ICBs, KPI cards, table.

    The chosen borough is picked out on the map and ranked chart, else the chosen ICB's boroughs.
    ``figures=False`` returns the frames only (a CSV needs no figure), as every view here does.
    """
    spec = _spec(indicator)
    con = _con()
    label = _label(spec)
    boroughs = indicator_values(con, indicator=spec.id, period=period, by="borough", disclose=disclose)
    icbs = indicator_values(con, indicator=spec.id, period=period, by="icb", disclose=disclose)
    if not figures:
        return {"boroughs": boroughs, "icbs": icbs}
    highlight = [borough] if borough else _icb_boroughs(icb)
    figure_map = borough_map(
        values=boroughs,
        value_label=label,
        unit=spec.unit,
        polarity=spec.polarity,
        highlight_codes=highlight,
        geometry_url=geometry_url("borough"),
    )
    ranked = ranked_areas_chart(
        values=boroughs, value_label=label, unit=spec.unit, target=spec.target, highlight_codes=highlight
    )
    icb_chart = ranked_areas_chart(
        values=icbs, value_label=label, unit=spec.unit, target=spec.target, highlight_codes=[icb] if icb else []
    )
    return {"boroughs": boroughs, "icbs": icbs, "map": figure_map, "ranked": ranked, "icb_chart": icb_chart}


def kpi_values(*, period: str | None, icb: str | None, disclose: bool, borough: str | None = None) -> pd.DataFrame:
    """One row per hypertension indicator for the chosen borough, else ICB, else London (the KPI cards)."""
    level, code = selected_area(icb, borough)
    return hq.indicators_in_area(
        _con(), period=period, filters=hq.area_filters(level=level, code=code), disclose=disclose
    )


def _kpi_cards(frame: pd.DataFrame, area: str, undiagnosed: dict | None = None, *, disclose: bool = True) -> list[dict]:
    cards = []
    if undiagnosed is not None:
        # Adults only (the detection ratio's basis), so not the register of all ages on the prevalence card;
        # each figure is rounded from its exact value, so the difference may be 5 off the rounded ones'.
        rounded = " (each rounded to 5)" if disclose else ""
        cards.append(
            {
                "label": "Adults estimated undiagnosed",
                "value": whole_number(undiagnosed["estimated_undiagnosed"]),
                "note": f"{area}; expected {whole_number(undiagnosed['expected'])} minus "
                f"{whole_number(undiagnosed['recorded'])} adults on the register{rounded}",
            }
        )
    for row in frame.to_dict("records"):
        spec = get(row["indicator_id"])
        note = f"{area}; {whole_number(row['numerator'])} of {whole_number(row['denominator'])}"
        if spec.id == "hyp_detection_ratio":
            note = f"{area}; {whole_number(row['numerator'])} recorded of {whole_number(row['denominator'])} expected"
        cards.append({"label": spec.title, "value": formatted(row["value"], unit=spec.unit), "note": note})
    return cards


def funnel_view(
    *, indicator: str, period: str | None, level: str, disclose: bool, figures: bool = True
) -> dict[str, Any]:
    """The funnel of boroughs or practices around London (engine limits and classes)."""
    spec = _spec(indicator)
    by = "practice" if level == "practice" else "borough"
    funnel = funnel_limits(_con(), indicator=spec.id, period=period, by=by, disclose=disclose)
    if not figures:
        return {"funnel": funnel}
    figure = funnel_plot(
        points=funnel["points"],
        limits=funnel["limits"],
        london_value=funnel["london_value"],
        value_label=_label(spec),
        unit=spec.unit,
        polarity=spec.polarity,
        points_are=f"{by}s",
    )
    return {"funnel": funnel, "figure": figure}


def targets_view(
    *, period: str | None, icb: str | None, borough: str | None, ambition: str, disclose: bool, figures: bool = True
) -> dict[str, Any]:
    """People to target by borough (within the ICB if chosen) and by practice in the chosen borough."""
    con = _con()
    filters = hq.area_filters(level="icb", code=icb)
    boroughs = hq.people_to_target(con, period=period, by="borough", filters=filters, disclose=disclose)
    practices = (
        hq.people_to_target(con, period=period, by="practice", filters={"borough": [borough]}, disclose=disclose)
        if borough
        else None
    )
    if not figures:
        return {"boroughs": boroughs, "practices": practices}
    figure = people_to_target_chart(table=boroughs.iloc[1:], ambition=ambition)
    return {"boroughs": boroughs, "practices": practices, "figure": figure}


def targets_table(frame: pd.DataFrame, *, area_label: str) -> pd.DataFrame:
    """People-to-target rows exactly as shown (and exported)."""
    return pd.DataFrame(
        {
            area_label: frame["area_name"],
            "HYP008 %": [formatted(v, unit="percent") for v in frame["hyp008_value"]],
            "HYP008 more for 77%": [whole_number(v) for v in frame["hyp008_to_77"]],
            "HYP008 more for 80%": [whole_number(v) for v in frame["hyp008_to_80"]],
            "HYP009 %": [formatted(v, unit="percent") for v in frame["hyp009_value"]],
            "HYP009 more for 77%": [whole_number(v) for v in frame["hyp009_to_77"]],
            "HYP009 more for 80%": [whole_number(v) for v in frame["hyp009_to_80"]],
            "Controlled: more for 77%": [whole_number(v) for v in frame["control_to_77"]],
            "Controlled: more for 80%": [whole_number(v) for v in frame["control_to_80"]],
            "Adults on register": [whole_number(v) for v in frame["recorded"]],
            "Expected": [whole_number(v) for v in frame["expected"]],
            "Estimated undiagnosed": [whole_number(v) for v in frame["estimated_undiagnosed"]],
            "More diagnosed for 80% of expected": [whole_number(v) for v in frame["to_detect_80"]],
        }
    )


def inequality_view(
    *, indicator: str, period: str | None, icb: str | None, borough: str | None, disclose: bool, figures: bool = True
) -> dict[str, Any]:
    """Control (or the chosen indicator) by deprivation, ethnicity, age and sex for the selected area;
    ethnicity × deprivation; and the SII of every borough."""
    spec = _spec(indicator)
    con = _con()
    level, code = selected_area(icb, borough)
    filters = hq.area_filters(level=level, code=code)
    label = _label(spec)
    area = _area_name(level, code)
    area_value = indicator_values(
        con, indicator=spec.id, period=period, by="london", filters=filters, disclose=disclose
    )["value"].iloc[0]
    groups, charts = {}, {}
    # The groups' london_value and comparison (the CSV's) are London's; the chart's line is the area's own.
    for dimension in INEQUALITY_GRAPHS:
        values = indicator_values(
            con,
            indicator=spec.id,
            period=period,
            by=dimension,
            filters=filters,
            disclose=disclose,
            compare_with="london",
        )
        values = hq.ordered(values, dimension=dimension)
        groups[dimension] = values
        if not figures:
            continue
        # The line is the selected area's own value, named for it.
        charts[dimension] = inequality_chart(
            values=values,
            value_label=label,
            dimension_label=INEQUALITY_LABELS[dimension],
            unit=spec.unit,
            target=spec.target,
            height=360,
            area_value=area_value,
            area_label=area,
        )
    pair = indicator_values(
        con,
        indicator=spec.id,
        period=period,
        by=("ethnicity_group", "imd_quintile"),
        filters=filters,
        disclose=disclose,
        compare_with="london",
    )
    pair = hq.ordered(pair, dimension="ethnicity_group")
    frames = {"groups": groups, "pair": pair, "area": area, "area_value": area_value}
    if not figures:
        return frames
    intersection = intersection_chart(
        values=pair, value_label=label, unit=spec.unit, area_value=area_value, area_label=area, target=spec.target
    )
    return {**frames, "intersection": intersection, "figures": charts}


def sii_view(*, indicator: str, period: str | None, disclose: bool, figures: bool = True) -> dict[str, Any]:
    """The slope index of inequality of London and every borough (it does not depend on the area chosen)."""
    spec = _spec(indicator)
    sii = inequality(_con(), indicator=spec.id, period=period, disclose=disclose)
    if not figures:
        return {"sii": sii}
    boroughs = sii[sii["area_code"] != hq.LONDON_CODE].rename(
        columns={"sii": "value", "sii_low": "ci_low", "sii_high": "ci_high"}
    )
    # The engine's flag also covers the quintile gap; the map shows the SII, hidden only when the SII is.
    boroughs = boroughs.assign(suppressed=pd.to_numeric(boroughs["value"], errors="coerce").isna())
    label = "SII (percentage points)" if spec.unit == "percent" else "SII (ratio)"
    figure = sii_map(
        values=boroughs,
        measure_label=label,
        unit=spec.unit,
        polarity=spec.polarity,
        geometry_url=geometry_url("borough"),
    )
    return {"sii": sii, "map": figure}


def sii_table(sii: pd.DataFrame, *, unit: str) -> pd.DataFrame:
    """The SII / quintile-gap table exactly as shown (and exported)."""
    gap_unit = "pp" if unit == "percent" else unit
    return pd.DataFrame(
        {
            "Area": sii["area_name"],
            "SII": [formatted(v, unit=gap_unit) for v in sii["sii"]],
            "SII 95% CI": [
                interval_text(lo, hi, unit=gap_unit) for lo, hi in zip(sii["sii_low"], sii["sii_high"], strict=True)
            ],
            "Most deprived fifth": [formatted(v, unit=unit) for v in sii["q1_value"]],
            "Least deprived fifth": [formatted(v, unit=unit) for v in sii["q5_value"]],
            "Gap (least − most deprived)": [formatted(v, unit=gap_unit) for v in sii["gap"]],
            "Patients": [whole_number(v) for v in sii["denominator"]],
        }
    )


def practices_view(
    *, indicator: str, period: str | None, borough: str | None, disclose: bool, figures: bool = True
) -> dict[str, Any]:
    """Practices of the chosen borough ranked with CIs, and every London practice on the practice-area map."""
    spec = _spec(indicator)
    con = _con()
    label = _label(spec)
    everywhere = indicator_values(con, indicator=spec.id, period=period, by="practice", disclose=disclose)
    in_borough = (
        indicator_values(
            con, indicator=spec.id, period=period, by="practice", filters={"borough": [borough]}, disclose=disclose
        )
        if borough
        else everywhere.iloc[0:0]
    )
    # Within a borough the practices are compared with London, not with the borough.
    if borough and len(in_borough):
        in_borough = _compare_with_london(in_borough, everywhere)
    if not figures:
        return {"everywhere": everywhere, "in_borough": in_borough}
    ranked = (
        ranked_areas_chart(values=in_borough, value_label=label, unit=spec.unit, target=spec.target)
        if borough
        else placeholder_figure("Choose a borough above to rank its practices.", height=300)
    )
    centre = everywhere["london_value"].dropna()
    figure_map = practice_area_choropleth(
        values=everywhere,
        value_label=label,
        unit=spec.unit,
        polarity="high" if spec.polarity == "none" else spec.polarity,
        diverge_around=float(centre.iloc[0]) if spec.polarity != "none" and len(centre) else None,
        outlines=True,
        height=480,
        geometry_url=geometry_url("practice"),
    )
    view = bounds_view("borough", [borough]) if borough else None
    return {"everywhere": everywhere, "in_borough": in_borough, "ranked": ranked, "map": figure_map, "view": view}


def _compare_with_london(in_borough: pd.DataFrame, everywhere: pd.DataFrame) -> pd.DataFrame:
    """Take each practice's London comparison from the London-wide call (filters change the engine's benchmark)."""
    columns = ["area_code", "comparison", "london_value"]
    london = everywhere[columns].set_index("area_code")
    frame = in_borough.drop(columns=["comparison", "london_value"]).join(london, on="area_code")
    frame["comparison"] = frame["comparison"].fillna("not compared")
    return frame


def trend_view(
    *,
    indicator: str,
    level: str,
    icb: str | None,
    borough: str | None,
    practice: str | None,
    disclose: bool,
    figures: bool = True,
) -> dict[str, Any]:
    """The SPC trend (rolling 12 months) for London, the ICB, the borough or the practice."""
    spec = _spec(indicator)
    code = {"icb": icb, "borough": borough, "practice": practice}.get(level)
    if level != "london" and not code:
        level, code = "london", None
    series = trend(
        _con(), indicator=spec.id, by="london", filters=hq.area_filters(level=level, code=code), disclose=disclose
    )
    name = _area_name(level, code) if level != "practice" else code
    if level != "london":
        series = trend_named_for_area(series, code=code, name=name)
    if not figures:
        return {"series": series, "area": name}
    figure = spc_chart(series=series, value_label=_label(spec), unit=spec.unit, target=spec.target, height=380)
    return {"series": series, "figure": figure, "area": name}


# ---------------------------------------------------------------- layout


def _options(frame: pd.DataFrame, value: str, label: str) -> list[dict]:
    return [{"value": v, "label": lab} for v, lab in zip(frame[value], frame[label], strict=True)]


def _csv(view: str, text: str = "Download CSV") -> dbc.Button:
    return csv_button(view=view, label=text, button_id={"type": CSV, "view": view})


def layout(
    indicator: str = DEFAULT_INDICATOR,
    period: str | None = None,
    icb: str | None = None,
    borough: str | None = None,
    practice: str | None = None,
    tab: str = "comparison",
    **_other,
) -> html.Div:
    """The page; URL query values (indicator, period, icb, borough, practice, tab) set the controls."""
    header = page_header(
        "Hypertension",
        "Detection and blood-pressure control compared fairly across London's boroughs and practices: "
        "95% intervals, funnel limits and significance against London.",
    )
    try:
        con = _con()
        periods = hq.period_choices(con)
        areas = hq.reference_areas(con)
        default_period = periods.loc[periods["period_type"] == "fy", "period_id"].iloc[0] if len(periods) else None
    except DATA_ERRORS as error:
        return html.Div([header, error_message(data_problem(error))])
    link = LinkValues()
    indicator = link.pick("indicator", indicator, hq.HYPERTENSION_INDICATORS, DEFAULT_INDICATOR)
    period = link.pick("period", period, set(periods["period_id"]), default_period)
    icb = link.pick("ICB", icb, set(areas["icbs"]["icb_code"]), None)
    boroughs = areas["boroughs"]
    borough = link.pick("borough", borough, set(boroughs["borough_code"]), None)
    if icb and borough and boroughs.set_index("borough_code").loc[borough, "icb_code"] != icb:
        link.note(f"borough {borough} (not in the linked ICB)")
        borough = None
    try:
        # The trend lists only the chosen borough's practices (the options callback waits for a change).
        practices = hq.practices_in_borough(con, borough_code=borough) if borough else None
    except DATA_ERRORS as error:
        return html.Div([header, error_message(data_problem(error))])
    if practice:
        in_borough = set(practices["practice_code"]) if practices is not None else set()
        why = "not in the linked borough" if borough else "a practice needs its borough"
        practice = link.pick("practice", practice, in_borough, None, why=why)
    practice_options = _trend_practice_options(practices)
    tab = link.pick("view", tab, TAB_IDS, "comparison")

    controls = dbc.Row(
        [
            dbc.Col(
                labelled_select(
                    "Indicator",
                    INDICATOR,
                    indicator,
                    [{"value": i, "label": get(i).title} for i in hq.HYPERTENSION_INDICATORS],
                ),
                xs=12,
                lg=5,
            ),
            dbc.Col(
                labelled_select("Period", PERIOD, period, _options(periods, "period_id", "label")), xs=12, sm=6, lg=2
            ),
            dbc.Col(
                labelled_select(
                    "ICB", ICB, icb or "", [ALL_LONDON, *_options(areas["icbs"], "icb_code", "icb_short_name")]
                ),
                xs=12,
                sm=6,
                lg=2,
            ),
            dbc.Col(labelled_select("Borough", BOROUGH, borough or "", _borough_options(boroughs, icb)), xs=12, lg=3),
        ],
        className="g-2 mb-3 filter-bar",
    )
    comparison = html.Div(
        [
            html.Div(id=KPIS),
            html.Div(id=COMPARISON_MESSAGE),
            dbc.Row(
                [
                    dbc.Col(
                        section(
                            "Borough map",
                            graph(BOROUGH_MAP, _empty_map()),
                            note="Shaded by the value against London's: purple better, orange worse, deeper the "
                            "further away (prevalence has no better direction: darker is higher). Whether a gap is "
                            "beyond chance: the ranked chart's intervals. Grey: suppressed. The chosen borough is "
                            "outlined, else the chosen ICB's boroughs.",
                        ),
                        lg=6,
                    ),
                    dbc.Col(
                        section("Boroughs ranked, with 95% intervals", graph(BOROUGH_RANKED), _csv("boroughs")), lg=6
                    ),
                ]
            ),
            dbc.Row(
                [
                    dbc.Col(
                        section(
                            "Funnel plot",
                            radio_group(
                                "Points", FUNNEL_LEVEL, "borough", {"borough": "Boroughs", "practice": "Practices"}
                            ),
                            graph(FUNNEL),
                            _csv("funnel"),
                            note="Small areas vary more by chance: only points outside the 99.8% limits stand out.",
                        ),
                        lg=7,
                    ),
                    dbc.Col(section("The five ICBs", graph(ICB_RANKED), _csv("icbs")), lg=5),
                ]
            ),
            section(
                "Borough table",
                html.Div(id=BOROUGH_TABLE),
                dbc.Button(
                    "Download borough comparison (all hypertension indicators)",
                    id=EXPORT_COMPARISON,
                    color="primary",
                    size="sm",
                    className="mt-2",
                ),
                note="The one-click export puts every hypertension indicator side by side for the period.",
            ),
        ]
    )
    targets = html.Div(
        [
            html.Div(id=TARGET_MESSAGE),
            section(
                "How many more people would meet the ambitions",
                radio_group(
                    "Ambition",
                    TARGET_AMBITION,
                    "80",
                    {"80": "80% treated to target (2029 ambition)", "77": "77% (interim ambition)"},
                ),
                graph(TARGET_CHART),
                note=f"Control: more patients at or below the QOF BP target to bring HYP008 and HYP009 to the "
                f"ambition. Detection: more adults diagnosed to reach {hq.DETECTION_AMBITION:.0%} of the "
                "expected number (expected minus recorded is the estimated number undiagnosed).",
            ),
            section("Boroughs", html.Div(id=TARGET_TABLE), _csv("targets")),
            section("Practices in the chosen borough", html.Div(id=PRACTICE_TARGET_TABLE), _csv("practice_targets")),
        ]
    )
    inequality_tab = html.Div(
        [
            html.Div(id=INEQUALITY_MESSAGE),
            html.P(id=INEQUALITY_AREA, className="fw-semibold"),
            dbc.Row(
                [
                    dbc.Col(section(INEQUALITY_LABELS[d], graph(g), _csv(f"inequality_{d}")), lg=6)
                    for d, g in INEQUALITY_GRAPHS.items()
                ]
            ),
            section(
                "Ethnic group by deprivation",
                graph(INTERSECTION),
                _csv("intersection"),
                note="Each point is an ethnic group within one deprivation quintile of the selected area.",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        section(
                            "Slope index of inequality by borough",
                            graph(SII_MAP, placeholder_figure()),
                            note="SII: the modelled gap between the least and most deprived ends of the "
                            "IMD scale; 0 = no gradient.",
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
            dbc.Row(
                [
                    dbc.Col(
                        section(
                            "Practices in the borough, ranked",
                            graph(PRACTICE_RANKED),
                            _csv("practices"),
                            note="Each practice compared with London; practices with 1–7 patients are listed "
                            "as suppressed.",
                        ),
                        lg=6,
                    ),
                    dbc.Col(
                        section(
                            "Practice map",
                            graph(PRACTICE_MAP, placeholder_figure()),
                            note="Practice areas: the part of London nearest each practice. Coloured as the "
                            "borough map: purple better than London, orange worse, grey suppressed.",
                        ),
                        lg=6,
                    ),
                ]
            ),
            section(
                "Trend with statistical process control",
                dbc.Row(
                    [
                        dbc.Col(
                            radio_group(
                                "Level",
                                TREND_LEVEL,
                                follow_area(icb, borough, practice),
                                {"london": "London", "icb": "ICB", "borough": "Borough", "practice": "Practice"},
                            ),
                            md=6,
                        ),
                        dbc.Col(
                            labelled_select("Practice (for the trend)", PRACTICE, practice or "", practice_options),
                            md=6,
                        ),
                    ]
                ),
                html.P(id=TREND_TITLE, className="small mt-2 mb-0"),
                graph(TREND),
                _csv("trend"),
                note="Rolling 12 months to each quarter end. Making Data Count: blue special cause = improvement, "
                "orange = concern.",
            ),
        ]
    )
    return html.Div(
        [
            header,
            controls,
            link.message(),
            html.Div(indicator_card(get(indicator), card_id=RULE), id=RULE),
            view_switch(
                key=VIEWS,
                views={
                    t: (TAB_LABELS[t], body)
                    for t, body in zip(TAB_IDS, (comparison, targets, inequality_tab, practices_tab), strict=True)
                },
                initial=tab,
                look="page",
            ),
            html.Div(id=DOWNLOAD_MESSAGE),
            dcc.Download(id=DOWNLOAD),
            dcc.Store(id=URL_STATE),
            dcc.Store(id=SII_MAP_BUILT, data=False),
            dcc.Store(id=PRACTICE_MAP_BUILT, data=False),
            html.P(
                "Counts follow the NHS disclosure rule (1–7 suppressed, others rounded to 5) unless your role "
                "allows unrounded figures; percentages and intervals are computed from unrounded counts.",
                className="small text-muted mt-3",
            ),
        ]
    )


def _empty_map() -> Any:
    """The borough map with no values yet: the comparison callback recolours it with a Patch."""
    figure = borough_map(
        values=empty_area_values(),
        value_label="",
        unit="percent",
        polarity="high",
        geometry_url=geometry_url("borough"),
    )
    # With every value missing Plotly sizes the colour bar from NaN (console errors): give it a range.
    figure.update_traces(zmin=0, zmax=1, selector={"type": "choroplethmap"})
    return figure


def _borough_options(boroughs: pd.DataFrame, icb: str | None) -> list[dict]:
    rows = boroughs if not icb else boroughs[boroughs["icb_code"] == icb]
    return [ALL_BOROUGHS, *_options(rows, "borough_code", "borough_name")]


# ---------------------------------------------------------------- callbacks


def update_borough_options(icb: str | None, borough: str | None) -> tuple[list[dict], str | None]:
    """Boroughs of the chosen ICB (all when none); the borough is cleared when it leaves the list."""
    try:
        boroughs = hq.reference_areas(_con())["boroughs"]
    except DATA_ERRORS:
        return [ALL_BOROUGHS], ""
    options = _borough_options(boroughs, icb)
    return options, borough if borough in {o["value"] for o in options} else ""


# Not on the first draw: the layout already lists the ICB's boroughs (a round trip, and a step before the
# views' callbacks could start, saved).
dash.callback(
    Output(BOROUGH, "options"),
    Output(BOROUGH, "value"),
    Input(ICB, "value"),
    State(BOROUGH, "value"),
    prevent_initial_call=True,
)(update_borough_options)


def update_practice_options(borough: str | None, practice: str | None) -> tuple[list[dict], str | None]:
    """Practices of the chosen borough for the trend; the practice is cleared when it leaves the list."""
    if not borough:
        return [NO_PRACTICE], ""
    try:
        frame = hq.practices_in_borough(_con(), borough_code=borough)
    except DATA_ERRORS:
        return [NO_PRACTICE], ""
    return _trend_practice_options(frame), practice if practice in set(frame["practice_code"]) else ""


def _trend_practice_options(practices: pd.DataFrame | None) -> list[dict]:
    """The trend's practice list: "no practice" and then ``practices`` (a borough's; None without a borough).

    The layout and :func:`update_practice_options` both make it, the callback waiting for a change."""
    return [NO_PRACTICE, *(_options(practices, "practice_code", "practice_name") if practices is not None else [])]


# Not on the first draw: the layout already lists the borough's practices.
dash.callback(
    Output(PRACTICE, "options"),
    Output(PRACTICE, "value"),
    Input(BOROUGH, "value"),
    State(PRACTICE, "value"),
    prevent_initial_call=True,
)(update_practice_options)


def update_rule(indicator: str) -> tuple:
    """Another indicator's title, rule version and definition, into the card in place (an opened definition
    stays open)."""
    return indicator_card_parts(_spec(indicator))


# Not on the first draw: the layout already holds the indicator's card.
dash.callback(*indicator_card_outputs(RULE), Input(INDICATOR, "value"), prevent_initial_call=True)(update_rule)


def update_comparison(
    indicator: str, period: str | None, icb: str | None, borough: str | None = None, tab: str = "comparison", *_
):
    """Borough map (recoloured with a Patch), ranked boroughs, ICB comparison, KPI cards and table (while open).

    The cards describe the chosen borough, else the ICB, else London (as the other views do).
    """
    if tab != "comparison":
        raise PreventUpdate
    disclose = current_disclosure().disclose
    try:
        view = comparison_view(indicator=indicator, period=period, icb=icb, disclose=disclose, borough=borough)
        kpis = kpi_values(period=period, icb=icb, disclose=disclose, borough=borough)
        level, code = selected_area(icb, borough)
        undiagnosed = hq.estimated_undiagnosed(
            _con(), period=period, filters=hq.area_filters(level=level, code=code), disclose=disclose
        )
        area = _area_name(level, code)
    except DATA_ERRORS as error:
        return (no_update, no_update, no_update, no_update, no_update, error_message(data_problem(error)))
    spec = _spec(indicator)
    table = _html_table(
        area_table(view["boroughs"], unit=spec.unit, area_label="Borough", codes=False),
        caption=f"{spec.title} by borough",
        table_id="hyp-borough-rows",
    )
    cards = kpi_cards(cards=_kpi_cards(kpis, area, undiagnosed, disclose=disclose))
    return map_patch(view["map"]), view["ranked"], view["icb_chart"], cards, table, None


def _html_table(frame: pd.DataFrame, *, caption: str, table_id: str, compact: bool = False) -> html.Div:
    return data_table(frame, columns={c: c for c in frame.columns}, caption=caption, table_id=table_id, compact=compact)


dash.callback(
    Output(BOROUGH_MAP, "figure"),
    Output(BOROUGH_RANKED, "figure"),
    Output(ICB_RANKED, "figure"),
    Output(KPIS, "children"),
    Output(BOROUGH_TABLE, "children"),
    Output(COMPARISON_MESSAGE, "children"),
    Input(INDICATOR, "value"),
    Input(PERIOD, "value"),
    Input(ICB, "value"),
    Input(BOROUGH, "value"),
    State(TABS, "value"),
    Input(view_opened(VIEWS, "comparison"), "data"),
    prevent_initial_call=True,
)(update_comparison)


def update_funnel(indicator: str, period: str | None, level: str, tab: str = "comparison", *_):
    """The funnel of boroughs or practices around London (while its view is open)."""
    if tab != "comparison":
        raise PreventUpdate
    try:
        return funnel_view(indicator=indicator, period=period, level=level, disclose=current_disclosure().disclose)[
            "figure"
        ]
    except DATA_ERRORS:
        return no_update


dash.callback(
    Output(FUNNEL, "figure"),
    Input(INDICATOR, "value"),
    Input(PERIOD, "value"),
    Input(FUNNEL_LEVEL, "value"),
    State(TABS, "value"),
    Input(view_opened(VIEWS, "comparison"), "data"),
    prevent_initial_call=True,
)(update_funnel)


def update_targets(period: str | None, icb: str | None, borough: str | None, ambition: str, tab: str = "targets", *_):
    """People to target: chart and table by borough, table by practice of the chosen borough (while open)."""
    if tab != "targets":
        raise PreventUpdate
    try:
        view = targets_view(
            period=period, icb=icb, borough=borough, ambition=ambition, disclose=current_disclosure().disclose
        )
    except DATA_ERRORS as error:
        return no_update, no_update, no_update, error_message(data_problem(error))
    boroughs = _html_table(
        targets_table(view["boroughs"], area_label="Borough"),
        caption="People to target by borough",
        table_id="hyp-target-rows",
        compact=True,
    )
    if view["practices"] is None:
        practices = html.P("Choose a borough above to see its practices.", className="text-muted")
    else:
        practices = _html_table(
            targets_table(view["practices"], area_label="Practice"),
            caption="People to target by practice",
            table_id="hyp-practice-target-rows",
            compact=True,
        )
    return view["figure"], boroughs, practices, None


dash.callback(
    Output(TARGET_CHART, "figure"),
    Output(TARGET_TABLE, "children"),
    Output(PRACTICE_TARGET_TABLE, "children"),
    Output(TARGET_MESSAGE, "children"),
    Input(PERIOD, "value"),
    Input(ICB, "value"),
    Input(BOROUGH, "value"),
    Input(TARGET_AMBITION, "value"),
    State(TABS, "value"),
    Input(view_opened(VIEWS, "targets"), "data"),
    prevent_initial_call=True,
)(update_targets)


def update_inequality(
    indicator: str, period: str | None, icb: str | None, borough: str | None, tab: str = "inequality", *_
):
    """Inequality charts for the selected area and ethnicity × deprivation (computed only while open)."""
    if tab != "inequality":
        raise PreventUpdate
    try:
        view = inequality_view(
            indicator=indicator, period=period, icb=icb, borough=borough, disclose=current_disclosure().disclose
        )
    except DATA_ERRORS as error:
        return (*[no_update] * (len(INEQUALITY_GRAPHS) + 2), error_message(data_problem(error)))
    spec = _spec(indicator)
    figures = [view["figures"][d] for d in INEQUALITY_GRAPHS]
    area = f"Selected area: {view['area']} ({spec.title})"
    return (*figures, view["intersection"], area, None)


dash.callback(
    *[Output(graph_id, "figure") for graph_id in INEQUALITY_GRAPHS.values()],
    Output(INTERSECTION, "figure"),
    Output(INEQUALITY_AREA, "children"),
    Output(INEQUALITY_MESSAGE, "children"),
    Input(INDICATOR, "value"),
    Input(PERIOD, "value"),
    Input(ICB, "value"),
    Input(BOROUGH, "value"),
    State(TABS, "value"),
    Input(view_opened(VIEWS, "inequality"), "data"),
    prevent_initial_call=True,
)(update_inequality)


def update_sii(indicator: str, period: str | None, tab: str = "inequality", map_built: bool = True, *_):
    """The SII map and table (only indicator and period change them). The map is sent whole the first
    time (``map_built`` false) and recoloured with a Patch afterwards."""
    if tab != "inequality":
        raise PreventUpdate
    try:
        view = sii_view(indicator=indicator, period=period, disclose=current_disclosure().disclose)
    except DATA_ERRORS as error:
        return no_update, error_message(data_problem(error)), no_update
    table = _html_table(
        sii_table(view["sii"], unit=_spec(indicator).unit),
        caption="Slope index of inequality by borough",
        table_id="hyp-sii-rows",
    )
    return (map_patch(view["map"]) if map_built else view["map"]), table, True


dash.callback(
    Output(SII_MAP, "figure"),
    Output(SII_TABLE, "children"),
    Output(SII_MAP_BUILT, "data"),
    Input(INDICATOR, "value"),
    Input(PERIOD, "value"),
    State(TABS, "value"),
    State(SII_MAP_BUILT, "data"),
    Input(view_opened(VIEWS, "inequality"), "data"),
    prevent_initial_call=True,
)(update_sii)


def update_practices(
    indicator: str, period: str | None, borough: str | None, tab: str = "practices", map_built: bool = True, *_
):
    """Ranked practices of the borough; the practice map (geometry sent once) recoloured and moved to the borough."""
    if tab != "practices":
        raise PreventUpdate
    try:
        view = practices_view(
            indicator=indicator, period=period, borough=borough, disclose=current_disclosure().disclose
        )
    except DATA_ERRORS as error:
        return no_update, no_update, error_message(data_problem(error)), no_update
    camera = view["view"] or london_view()
    if map_built:
        practice_map = map_patch(view["map"], view=camera, uirevision=f"practice-map-{borough or 'london'}")
    else:
        practice_map = moved_map(view["map"], view=camera, uirevision=f"practice-map-{borough or 'london'}")
    message = None if borough else html.P("Choose a borough above to rank its practices.", className="text-muted")
    return view["ranked"], practice_map, message, True


dash.callback(
    Output(PRACTICE_RANKED, "figure"),
    Output(PRACTICE_MAP, "figure"),
    Output(PRACTICE_MESSAGE, "children"),
    Output(PRACTICE_MAP_BUILT, "data"),
    Input(INDICATOR, "value"),
    Input(PERIOD, "value"),
    Input(BOROUGH, "value"),
    State(TABS, "value"),
    State(PRACTICE_MAP_BUILT, "data"),
    Input(view_opened(VIEWS, "practices"), "data"),
    prevent_initial_call=True,
)(update_practices)


def follow_area(icb: str | None, borough: str | None, practice: str | None) -> str:
    """The trend follows the area just chosen: the practice, else the borough, else the ICB, else London."""
    return "practice" if practice and borough else selected_area(icb, borough)[0]


dash.callback(
    Output(TREND_LEVEL, "value"),
    Input(ICB, "value"),
    Input(BOROUGH, "value"),
    Input(PRACTICE, "value"),
    prevent_initial_call=True,
)(follow_area)


def update_trend(
    indicator: str,
    level: str,
    icb: str | None,
    borough: str | None,
    practice: str | None,
    tab: str = "practices",
    *_,
):
    """The SPC trend for the chosen level (while its view is open)."""
    if tab != "practices":
        raise PreventUpdate
    try:
        view = trend_view(
            indicator=indicator,
            level=level,
            icb=icb,
            borough=borough,
            practice=practice,
            disclose=current_disclosure().disclose,
        )
    except DATA_ERRORS as error:
        return no_update, error_message(data_problem(error))
    return view["figure"], f"Showing: {view['area']}"


dash.callback(
    Output(TREND, "figure"),
    Output(TREND_TITLE, "children"),
    Input(INDICATOR, "value"),
    Input(TREND_LEVEL, "value"),
    Input(ICB, "value"),
    Input(BOROUGH, "value"),
    Input(PRACTICE, "value"),
    State(TABS, "value"),
    Input(view_opened(VIEWS, "practices"), "data"),
    prevent_initial_call=True,
)(update_trend)


# ---------------------------------------------------------------- CSV downloads


def view_csv(
    *,
    view: str,
    indicator: str,
    period: str | None,
    icb: str | None,
    borough: str | None,
    practice: str | None,
    funnel_level: str,
    trend_level: str,
    disclose: bool,
) -> tuple[pd.DataFrame, str]:
    """The rows behind one view, as shown on the page (same calls, same disclosure), and a file name."""
    spec = _spec(indicator)
    columns = AREA_CSV_COLUMNS
    stem = f"hypertension_{spec.id}_{period or 'latest'}"
    if view in ("boroughs", "icbs"):
        frame = comparison_view(indicator=indicator, period=period, icb=icb, disclose=disclose, figures=False)[view]
        frame = frame[columns]
    elif view == "funnel":
        frame = funnel_view(indicator=indicator, period=period, level=funnel_level, disclose=disclose, figures=False)[
            "funnel"
        ]
        frame = frame["points"][[*columns, "funnel"]]
        view = f"funnel_{'practices' if funnel_level == 'practice' else 'boroughs'}"
    elif view in ("targets", "practice_targets"):
        targets = targets_view(period=period, icb=icb, borough=borough, ambition="80", disclose=disclose, figures=False)
        frame = targets["boroughs"] if view == "targets" else targets["practices"]
        if frame is None:
            frame = pd.DataFrame(columns=targets["boroughs"].columns)
        stem = f"hypertension_people_to_target_{period or 'latest'}"
    elif view == "sii":
        frame = sii_view(indicator=indicator, period=period, disclose=disclose, figures=False)["sii"]
    elif view.startswith("inequality_") or view == "intersection":
        ineq = inequality_view(
            indicator=indicator, period=period, icb=icb, borough=borough, disclose=disclose, figures=False
        )
        if view == "intersection":
            frame = ineq["pair"][["area_name", "subgroup_name", *columns[2:]]].rename(
                columns={"area_name": "ethnic_group", "subgroup_name": "imd_quintile"}
            )
        else:
            dimension = view.removeprefix("inequality_")
            if dimension not in INEQUALITY_GRAPHS:
                raise QueryError(f"Unknown view {view!r}")
            frame = ineq["groups"][dimension][columns[1:]].rename(columns={"area_name": dimension})
        frame = frame.assign(area=ineq["area"])
    elif view == "practices":
        frame = practices_view(indicator=indicator, period=period, borough=borough, disclose=disclose, figures=False)[
            "in_borough"
        ]
        frame = frame[columns]
    elif view == "trend":
        result = trend_view(
            indicator=indicator,
            level=trend_level,
            icb=icb,
            borough=borough,
            practice=practice,
            disclose=disclose,
            figures=False,
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
    else:
        raise QueryError(f"Unknown view {view!r}")
    frame = (
        frame.assign(indicator_id=spec.id)
        if "indicator_id" not in frame and view not in ("targets", "practice_targets")
        else frame
    )
    return frame.reset_index(drop=True), f"{stem}_{view}.csv"


def download_view(clicks, indicator, period, icb, borough, practice, funnel_level, trend_level):
    """The CSV of the view whose button was pressed, audited before it leaves."""
    return pressed_view_csv(
        clicks,
        page="hypertension",
        view_csv=view_csv,
        inputs={
            "indicator": indicator,
            "period": period,
            "icb": icb,
            "borough": borough,
            "practice": practice,
            "funnel_level": funnel_level,
            "trend_level": trend_level,
        },
    )


def export_comparison(clicks, period, icb):
    """The one-click board-paper CSV: every hypertension indicator side by side by borough for the period."""
    if not clicks:
        return no_update, no_update
    disclosure = current_disclosure()
    try:
        frame = hq.borough_comparison(_con(), period=period, disclose=disclosure.disclose)
        disclosure.audit_export(
            page="hypertension", export="borough_comparison", filters={"period": period}, rows=len(frame)
        )
    except (*DATA_ERRORS, audit.AuditUnavailable) as error:
        return no_update, error_message(data_problem(error))
    if icb:  # the ICB's boroughs first, after London, so a board paper for one ICB starts with its own
        mine = frame["area_code"].isin(_icb_boroughs(icb))
        frame = pd.concat([frame.iloc[:1], frame[mine], frame.iloc[1:][~mine.iloc[1:]]], ignore_index=True)
    return csv_download(frame, filename=f"hypertension_borough_comparison_{frame['period_id'].iloc[0]}.csv"), None


dash.callback(
    Output(DOWNLOAD, "data"),
    Output(DOWNLOAD_MESSAGE, "children"),
    Input({"type": CSV, "view": ALL}, "n_clicks"),
    State(INDICATOR, "value"),
    State(PERIOD, "value"),
    State(ICB, "value"),
    State(BOROUGH, "value"),
    State(PRACTICE, "value"),
    State(FUNNEL_LEVEL, "value"),
    State(TREND_LEVEL, "value"),
    prevent_initial_call=True,
)(download_view)

dash.callback(
    Output(DOWNLOAD, "data", allow_duplicate=True),
    Output(DOWNLOAD_MESSAGE, "children", allow_duplicate=True),
    Input(EXPORT_COMPARISON, "n_clicks"),
    State(PERIOD, "value"),
    State(ICB, "value"),
    prevent_initial_call=True,
)(export_comparison)


# The controls are kept in the URL (replaceState: no new history entry and no page reload), so a
# view can be bookmarked or shared; layout() reads them back.
dash.clientside_callback(
    """
    function(indicator, period, icb, borough, practice, tab) {
        const params = new URLSearchParams();
        const state = {indicator, period, icb, borough, practice, tab};
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
    Input(INDICATOR, "value"),
    Input(PERIOD, "value"),
    Input(ICB, "value"),
    Input(BOROUGH, "value"),
    Input(PRACTICE, "value"),
    Input(TABS, "value"),
)
