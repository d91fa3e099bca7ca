"""Cancer pathways: waits against the standards, stage and route, and where pathways cross hospitals.

One control bar (indicator, period, tumour group, priority type; kept in the URL) drives four views:

- areas and trusts: KPI cards, a borough / practice / LSOA map with the trusts as points, trusts
  ranked with 95 % intervals and a trust funnel;
- pathway flow and waits: a Sankey from where patients live to the trust that first saw them to the
  treating trust, and the waiting-time distributions (referral to told, referral to treatment) with
  the 28 and 62-day lines, London or one trust;
- inequality: early-stage and emergency-presentation shares by deprivation, ethnic group, age band and
  sex, and the slope index of inequality per borough;
- trend: monthly SPC for each standard with the operational target path, London and one trust.

Numbers by area come from the engine (:mod:`queries.indicators`); cuts by trust, tumour group and
priority type, waits and flows from :mod:`queries.cancer`, which sums the engine's own per-pathway
facts. Callbacks are thin and check the user's disclosure level on the server.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import ALL, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from components.cancer_views import add_target_path, trust_points_trace, wait_histogram
from components.charts import (
    empty_message_figure,
    funnel_plot,
    inequality_chart,
    patient_flow_sankey,
    placeholder_figure,
    ranked_areas_chart,
    spc_chart,
)
from components.geometry import geometry_url
from components.layout import (
    AREA_CSV_COLUMNS,
    csv_button,
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
from components.maps import area_figure, indicator_traces, inequality_map, traces_patch
from components.style import formatted, interval_text, target_status, whole_number
from pages._exports import DATA_ERRORS, data_problem, pressed_view_csv
from pages._links import LinkValues
from queries import cancer as cq
from queries.db import default_database
from queries.indicators import QueryError, default_period, indicator_values, inequality, period_labels
from queries.registry import get
from security.disclosure import current_disclosure

dash.register_page(__name__, path="/cancer", name="Cancer pathways", title="Cancer pathways")

# Component ids: one prefix for the page.
INDICATOR = "cancer-indicator"
PERIOD = "cancer-period"
TUMOUR = "cancer-tumour"
PRIORITY = "cancer-priority"
MAP_LEVEL = "cancer-map-level"
TRUST = "cancer-trust"
# The page's main views: the switch's key, and the id whose value says which view is shown.
VIEWS = "cancer-tabs"
TABS = view_switch_value(VIEWS)
URL_STATE = "cancer-url-state"
RULE = "cancer-rule"
KPIS = "cancer-kpis"
GEO_MESSAGE = "cancer-geo-message"
MAP = "cancer-map"
MAP_SHOWN = "cancer-map-shown"
TRUST_RANKED = "cancer-trust-ranked"
TRUST_FUNNEL = "cancer-trust-funnel"
FLOW_MESSAGE = "cancer-flow-message"
FLOW_ORIGIN = "cancer-flow-origin"
SANKEY = "cancer-sankey"
CROSSING = "cancer-crossing"
TOLD_WAITS = "cancer-told-waits"
TREATED_WAITS = "cancer-treated-waits"
WAIT_TABLE = "cancer-wait-table"
INEQUALITY_MESSAGE = "cancer-ineq-message"
INEQUALITY_INDICATOR = "cancer-ineq-indicator"
INEQUALITY_GRAPHS = {
    "imd_quintile_national": "cancer-ineq-imd",
    "ethnicity_group": "cancer-ineq-ethnicity",
    "age_band": "cancer-ineq-age",
    "sex": "cancer-ineq-sex",
}
SII_MAP = "cancer-sii-map"
SII_TABLE = "cancer-sii-table"
TREND_MESSAGE = "cancer-trend-message"
TREND_LONDON = "cancer-trend-london"
TREND_TRUST = "cancer-trend-trust"
DOWNLOAD = "cancer-download"
DOWNLOAD_MESSAGE = "cancer-download-message"
CSV = "cancer-csv"  # pattern-matching button ids: {"type": CSV, "view": <view>}

DEFAULT_INDICATOR = "cwt_fds_28d"
TAB_IDS = ("areas", "flow", "inequality", "trend")
TAB_LABELS = {
    "areas": "Areas and trusts",
    "flow": "Pathway flow and waits",
    "inequality": "Inequality",
    "trend": "Trend",
}
MAP_LEVELS = {
    "borough": "Boroughs (patients' practice)",
    "practice": "Practice areas",
    "lsoa": "Neighbourhoods (LSOA of residence)",
}
INEQUALITY_LABELS = {
    "imd_quintile_national": "Deprivation (IMD 2025 national quintile of residence)",
    "ethnicity_group": "Ethnic group",
    "age_band": "Age band at diagnosis",
    "sex": "Sex",
}
SHORT_LABELS = {
    "cwt_fds_28d": "Told within 28 days (%)",
    "cwt_31d": "Treated within 31 days (%)",
    "cwt_62d": "Treated within 62 days (%)",
    "cancer_early_stage": "Stage 1-2 (%)",
    "cancer_emergency_route": "Emergency route (%)",
    "cancer_conversion_rate": "Conversion (%)",
}
# "all" rather than an empty value: a native select shows an empty value as a blank box.
EVERY = "all"
ALL_TUMOURS = {"value": EVERY, "label": "All tumour groups"}
ALL_PRIORITIES = {"value": EVERY, "label": "All priority types"}
ALL_TRUSTS = {"value": EVERY, "label": "London (all trusts)"}


# ---------------------------------------------------------------- request helpers


def _con():
    return default_database()


def _indicator(indicator: str | None) -> str:
    return indicator if indicator in cq.CANCER_INDICATORS else DEFAULT_INDICATOR


def _period_for(con, indicator: str, period: str | None) -> str:
    """``period`` if the indicator has it, else the indicator's default (latest complete) period."""
    if period:
        choices = cq.period_choices(con, indicator=indicator)
        if period in set(choices["period_id"]):
            return period
    return default_period(con, indicator)


def _chosen(value: str | None) -> str | None:
    """A select's value as a code, or None for "all" / empty."""
    return None if not value or value == EVERY else value


def _filters(indicator: str, tumour: str | None, priority: str | None) -> dict[str, list[str]]:
    return cq.pathway_filters(tumour_group=_chosen(tumour), priority_type=_chosen(priority), indicator=indicator)


def _waits_filters(tumour: str | None, priority: str | None) -> dict[str, list[str]]:
    return cq.pathway_filters(tumour_group=_chosen(tumour), priority_type=_chosen(priority))


def _label(indicator: str) -> str:
    return SHORT_LABELS.get(indicator, get(indicator).title)


def _chosen_names(tumour: str | None, priority: str | None) -> list[str]:
    parts = [dict(cq.TUMOUR_GROUPS).get(_chosen(tumour), ""), dict(cq.PRIORITY_TYPES).get(_chosen(priority), "")]
    return [p for p in parts if p]


def _choice_text(tumour: str | None, priority: str | None) -> str:
    chosen = _chosen_names(tumour, priority)
    return f" ({', '.join(chosen)})" if chosen else ""


def _benchmark(tumour: str | None, priority: str | None) -> str:
    """What trusts are compared with: London's pathways of the chosen tumour group and priority ("London, Lung")."""
    return ", ".join(["London", *_chosen_names(tumour, priority)])


def _values(con, *, indicator: str, period: str, by: str, filters: dict, disclose: bool) -> pd.DataFrame:
    """Area values: the engine when no pathway filter applies, else the engine's facts cut by the filters."""
    if not filters:
        return indicator_values(con, indicator=indicator, period=period, by=by, disclose=disclose)
    return cq.pathway_values(con, indicator=indicator, period=period, by=by, filters=filters, disclose=disclose)


# ---------------------------------------------------------------- view builders (called by callbacks and tests)


def kpi_values(*, tumour: str | None, priority: str | None, disclose: bool) -> pd.DataFrame:
    """London for every cancer indicator in its latest complete default period (month or quarter)."""
    con = _con()
    rows = []
    for indicator in cq.CANCER_INDICATORS:
        period = default_period(con, indicator)
        if not_counted := cq.not_counted_text(indicator, _chosen(priority)):
            rows.append(pd.DataFrame([{"indicator_id": indicator, "period_id": period, "not_counted": not_counted}]))
            continue
        rows.append(
            _values(
                con,
                indicator=indicator,
                period=period,
                by="london",
                filters=_filters(indicator, tumour, priority),
                disclose=disclose,
            )
        )
    return pd.concat(rows, ignore_index=True)


def _kpi_cards(frame: pd.DataFrame, periods: dict[str, str]) -> list[dict]:
    cards = []
    for row in frame.to_dict("records"):
        spec = get(row["indicator_id"])
        if isinstance(row.get("not_counted"), str):  # the card stays, saying why it has no figure
            cards.append({"label": spec.title, "value": "–", "note": row["not_counted"]})
            continue
        note = (
            f"{periods.get(spec.id, row['period_id'])}; {whole_number(row['numerator'])} of "
            f"{whole_number(row['denominator'])}"
        )
        value = formatted(row["value"], unit=spec.unit)
        if value == "suppressed":  # the word does not fit a KPI figure: a dash, and the reason in the note
            value, note = "–", f"Suppressed (1–7 in the count). {note}"
        if spec.target is not None:  # in the words every page uses, on its own line (the rule card says which)
            note = [note, html.Br(), target_status(row["value"], spec.target, unit=spec.unit, polarity=spec.polarity)]
        cards.append({"label": spec.title, "value": value, "note": note})
    return cards


AREA_PARTS = ("map", "ranked", "funnel")


def areas_view(
    *,
    indicator: str,
    period: str | None,
    tumour: str | None,
    priority: str | None,
    level: str,
    disclose: bool,
    parts: tuple[str, ...] = AREA_PARTS,
    figures: bool = True,
    recolour: bool = False,
) -> dict[str, Any]:
    """The map (areas at ``level`` plus trusts as points), trusts ranked with CIs, and the trust funnel.

    ``parts``: which of ``map``, ``ranked``, ``funnel`` to build (each is its own callback, so the
    browser asks for them in parallel); frames behind every built part are returned too.
    ``figures=False`` returns the frames only (a CSV needs no figure; building them was most of its time).
    ``recolour=True``: ``map`` is the recolour patch of the map on screen at the same level (built from
    its traces, no figure), not the figure.
    """
    indicator = _indicator(indicator)
    spec = get(indicator)
    con = _con()
    period = _period_for(con, indicator, period)
    level = level if level in MAP_LEVELS else "borough"
    filters = _filters(indicator, tumour, priority)
    notice, areas, figure_map = None, None, None
    label = _label(indicator)
    has_trusts = indicator not in cq.TUMOUR_INDICATORS
    trusts = (
        cq.pathway_values(con, indicator=indicator, period=period, by="trust", filters=filters, disclose=disclose)
        if has_trusts and {"map", "ranked"} & set(parts)
        else None
    )
    if "map" in parts and filters and level != "borough":
        # The pathway cube is by borough; finer maps come from the engine, which has no tumour group or priority.
        notice = (
            "Tumour group and priority type filter the borough map, the trusts, flows and waits; "
            "the practice and LSOA maps show every tumour group and priority type."
        )
        areas = indicator_values(con, indicator=indicator, period=period, by=level, disclose=disclose)
    elif "map" in parts:
        areas = _values(con, indicator=indicator, period=period, by=level, filters=filters, disclose=disclose)
    if "map" in parts and figures:
        traces = indicator_traces(
            level=level, values=areas, value_label=label, unit=spec.unit, polarity=spec.polarity, recolour=recolour
        )
        traces.append(trust_points_trace(values=trusts, sites=cq.trust_sites(), value_label=label, unit=spec.unit))
        # The browser fetches each level's boundaries once; the figure (and its recolour patch) carry values.
        figure_map = (
            traces_patch(traces)
            if recolour
            else area_figure(traces, level=level, height=520, geometry_url=geometry_url(level))
        )
    ranked, funnel, funnel_figure = None, None, None
    if has_trusts and "ranked" in parts and figures:
        shown = trusts[trusts["area_code"] != "unknown"]
        ranked = ranked_areas_chart(
            values=shown,
            value_label=label,
            unit=spec.unit,
            target=spec.target,
            benchmark=_benchmark(tumour, priority),
        )
    elif "ranked" in parts and figures:
        ranked = empty_message_figure("Registered tumours carry no trust: see the maps and inequality views.")
    if has_trusts and "funnel" in parts:
        funnel = cq.trust_funnel(con, indicator=indicator, period=period, filters=filters, disclose=disclose)
    if funnel is not None and figures:
        funnel_points = funnel["points"][funnel["points"]["area_code"] != "unknown"]
        funnel_figure = funnel_plot(
            points=funnel_points,
            limits=funnel["limits"],
            london_value=funnel["london_value"],
            value_label=label,
            unit=spec.unit,
            polarity=spec.polarity,
            benchmark=_benchmark(tumour, priority),
            points_are="trusts",
        )
    elif "funnel" in parts and figures:
        funnel_figure = empty_message_figure("No trust funnel for registry measures.")
    return {
        "indicator": indicator,
        "period": period,
        "level": level,
        "areas": areas,
        "trusts": trusts,
        "funnel": funnel,
        "map": figure_map,
        "ranked": ranked,
        "funnel_figure": funnel_figure,
        "notice": notice,
    }


def _first_number(column: pd.Series) -> float | None:
    values = pd.to_numeric(column, errors="coerce").dropna()
    return float(values.iloc[0]) if len(values) else None


FLOW_PARTS = ("sankey", "waits")


def flow_view(
    *,
    indicator: str,
    period: str | None,
    tumour: str | None,
    priority: str | None,
    origin: str,
    trust: str | None,
    disclose: bool,
    parts: tuple[str, ...] = FLOW_PARTS,
    figures: bool = True,
) -> dict[str, Any]:
    """The Sankey of treated pathways and the two waiting-time distributions (London or one trust).

    ``parts``: ``sankey`` (links, crossing count) and/or ``waits`` (histograms and the per-trust table).
    ``figures=False`` returns the frames only (for a CSV).
    """
    con = _con()
    indicator = _indicator(indicator)
    period = _period_for(con, indicator, period)
    filters = _waits_filters(tumour, priority)
    origin = origin if origin in cq.FLOW_ORIGINS else "residence_icb"
    view: dict[str, Any] = {"period": period}
    if "sankey" in parts:
        view.update(
            _sankey_part(con, period=period, origin=origin, filters=filters, disclose=disclose, figures=figures)
        )
    if "waits" in parts:
        view.update(
            _waits_part(con, period=period, trust=_chosen(trust), filters=filters, disclose=disclose, figures=figures)
        )
    return view


def _sankey_part(con, *, period: str, origin: str, filters: dict, disclose: bool, figures: bool) -> dict[str, Any]:
    links = cq.pathway_flows(con, period=period, origin=origin, filters=filters, disclose=disclose)
    drawable = pd.to_numeric(links["patients"], errors="coerce").notna() & ~links["suppressed"].astype(bool)
    if not figures:
        sankey = None
    elif drawable.any():
        sankey = patient_flow_sankey(flows=links, height=560)
    elif len(links):
        sankey = empty_message_figure(
            "Every flow in this period has 1–7 pathways and is suppressed: choose a quarter or financial year.",
            height=200,
        )
    else:
        sankey = empty_message_figure("No treated pathways in this period for this choice.", height=200)
    crossing = cq.crossing_summary(con, period=period, filters=filters, disclose=disclose)
    return {"links": links, "sankey": sankey, "crossing": crossing}


def _waits_part(con, *, period: str, trust: str | None, filters: dict, disclose: bool, figures: bool) -> dict[str, Any]:
    told = cq.wait_distribution(con, measure="told", period=period, trust=trust, filters=filters, disclose=disclose)
    treated = cq.wait_distribution(
        con, measure="treated", period=period, trust=trust, filters=filters, disclose=disclose
    )
    told_figure, treated_figure = None, None
    if figures:
        told_figure = wait_histogram(
            distribution=told, standard_days=cq.FDS_DAYS, measure_label="Days from referral to being told"
        )
        treated_figure = wait_histogram(
            distribution=treated,
            standard_days=cq.TREATMENT_DAYS,
            measure_label="Days from referral to first treatment",
        )
    told_summary = cq.wait_summary(con, measure="told", period=period, filters=filters, disclose=disclose)
    treated_summary = cq.wait_summary(con, measure="treated", period=period, filters=filters, disclose=disclose)
    return {
        "told": told,
        "treated": treated,
        "told_figure": told_figure,
        "treated_figure": treated_figure,
        "told_summary": told_summary,
        "treated_summary": treated_summary,
    }


def crossing_text(summary: dict) -> str:
    """One sentence: how many treated pathways crossed to another trust (counts as disclosed)."""
    if not summary["treated"]:
        return "No treated pathways to show for this choice."
    share = "" if summary["share"] is None else f" ({formatted(summary['share'], unit='percent')})"
    if summary["crossing"] is None:
        return (
            f"Fewer than 8 of {whole_number(summary['treated'])} treated pathways (or an unknown number, when "
            "the total is suppressed) were treated at another trust than the one that first saw the patient."
        )
    return (
        f"{whole_number(summary['crossing'])} of {whole_number(summary['treated'])} treated pathways{share} "
        "were treated at another trust than the one that first saw the patient."
    )


def wait_table(told: pd.DataFrame, treated: pd.DataFrame) -> pd.DataFrame:
    """Per trust, the told and treated waits side by side, exactly as shown (and exported)."""

    def part(frame: pd.DataFrame, prefix: str, days: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "trust_code": frame["trust_code"],
                "Trust": frame["trust_name"],
                f"{prefix}: pathways": [whole_number(v) for v in frame["pathways"]],
                f"{prefix}: within {days} days": [formatted(v, unit="percent") for v in frame["share_within"]],
                f"{prefix}: median days": [whole_number(v) for v in frame["median_days"]],
                f"{prefix}: 90th centile days": [whole_number(v) for v in frame["p90_days"]],
            }
        )

    merged = part(told, "Told", cq.FDS_DAYS).merge(
        part(treated, "Treated", cq.TREATMENT_DAYS).drop(columns="Trust"), on="trust_code", how="outer"
    )
    merged["Trust"] = merged["Trust"].fillna(
        merged["trust_code"].map(lambda c: cq.short_trust_name(cq.trust_names().get(c, c)))
    )
    london = merged["trust_code"] == cq.LONDON_CODE
    merged = pd.concat([merged[london], merged[~london].sort_values("Trust")], ignore_index=True)
    counts = [c for c in merged.columns if c.endswith(": pathways")]
    merged[counts] = merged[counts].fillna("0")  # a trust missing from one measure had no such pathways
    return merged.drop(columns="trust_code").fillna("–")


INEQUALITY_PARTS = ("groups", "sii")


def inequality_view(
    *,
    indicator: str,
    period: str | None,
    disclose: bool,
    parts: tuple[str, ...] = INEQUALITY_PARTS,
    figures: bool = True,
) -> dict[str, Any]:
    """Early-stage or emergency-route share by deprivation, ethnic group, age band and sex; SII per borough.

    ``parts``: ``groups`` (the four charts) and/or ``sii`` (map and table). ``figures=False`` returns the
    frames only (for a CSV).
    """
    indicator = indicator if indicator in cq.TUMOUR_INDICATORS else "cancer_early_stage"
    spec = get(indicator)
    con = _con()
    if not period or period not in set(cq.period_choices(con, indicator=indicator)["period_id"]):
        period = default_period(con, indicator, "fy")  # a year: stage and route counts per quarter are thin
    label = _label(indicator)
    groups, charts = {}, {}
    for dimension in INEQUALITY_GRAPHS if "groups" in parts else ():
        values = indicator_values(con, indicator=indicator, period=period, by=dimension, disclose=disclose)
        values = _ordered(values, dimension)
        groups[dimension] = values
        if not figures:
            continue
        charts[dimension] = inequality_chart(
            values=values,
            value_label=label,
            dimension_label=INEQUALITY_LABELS[dimension],
            unit=spec.unit,
            london_value=_first_number(values["london_value"]),
            target=spec.target,
            height=340,
        )
    view = {"indicator": indicator, "period": period, "groups": groups, "figures": charts}
    if "sii" not in parts:
        return view
    sii = inequality(con, indicator=indicator, period=period, disclose=disclose)
    boroughs = sii[sii["area_code"] != cq.LONDON_CODE].rename(
        columns={"sii": "value", "sii_low": "ci_low", "sii_high": "ci_high"}
    )
    boroughs = boroughs.assign(suppressed=pd.to_numeric(boroughs["value"], errors="coerce").isna())
    if not figures:
        return {**view, "sii": sii, "sii_map": None}
    sii_map = inequality_map(
        values=boroughs,
        measure_label="SII (percentage points)",
        unit=spec.unit,
        polarity=spec.polarity,
        geometry_url=geometry_url("borough"),  # fetched once by the browser, not resent with every SII map
        height=480,
    )
    return {**view, "sii": sii, "sii_map": sii_map}


_ORDERS = {
    "ethnicity_group": ("White", "Mixed", "Asian", "Black", "Other", "Not stated", "Unknown"),
    "sex": ("Female", "Male", "Unknown"),
}


def _ordered(values: pd.DataFrame, dimension: str) -> pd.DataFrame:
    order = _ORDERS.get(dimension)
    if not order:
        return values.sort_values("area_code", key=lambda c: c.astype(str)).reset_index(drop=True)
    rank = {name: i for i, name in enumerate(order)}
    return values.sort_values("area_name", key=lambda c: c.map(lambda n: rank.get(n, len(rank)))).reset_index(drop=True)


def sii_table(sii: pd.DataFrame) -> pd.DataFrame:
    """The SII / quintile-gap rows exactly as shown (and exported)."""
    return pd.DataFrame(
        {
            "Area": sii["area_name"],
            "SII (points)": [formatted(v, unit="pp") for v in sii["sii"]],
            # A borough's SII rests on a few dozen tumours a year: its interval says how far to trust it.
            "SII 95% CI": [
                interval_text(low, high, unit="pp") for low, high in zip(sii["sii_low"], sii["sii_high"], strict=True)
            ],
            "Most deprived fifth": [formatted(v, unit="percent") for v in sii["q1_value"]],
            "Least deprived fifth": [formatted(v, unit="percent") for v in sii["q5_value"]],
            "Gap (least − most deprived)": [formatted(v, unit="pp") for v in sii["gap"]],
            "Tumours": [whole_number(v) for v in sii["denominator"]],
        }
    )


def trend_view(
    *,
    indicator: str,
    tumour: str | None,
    priority: str | None,
    trust: str | None,
    disclose: bool,
    parts: tuple[str, ...] = ("london", "trust"),
    figures: bool = True,
) -> dict[str, Any]:
    """Monthly (registry: quarterly) SPC for London and, for pathway standards, the chosen trust (``parts``).

    ``figures=False`` returns the series only (for a CSV).
    """
    indicator = _indicator(indicator)
    spec = get(indicator)
    con = _con()
    filters = _filters(indicator, tumour, priority)
    label = _label(indicator)
    london, london_figure = None, None
    if "london" in parts:
        london = cq.pathway_trend(con, indicator=indicator, filters=filters, disclose=disclose)
    if london is not None and figures:
        london_figure = add_target_path(
            spc_chart(series=london, value_label=label, unit=spec.unit, target=spec.target, height=380), series=london
        )
    trust = _chosen(trust) if "trust" in parts else None
    trust_series, trust_figure = None, None
    if trust and indicator not in cq.TUMOUR_INDICATORS:
        trust_series = cq.pathway_trend(con, indicator=indicator, trust=trust, filters=filters, disclose=disclose)
    if not figures or "trust" not in parts:
        pass
    elif trust_series is not None:
        chart = spc_chart(
            series=trust_series,
            value_label=label,
            unit=spec.unit,
            target=spec.target,
            height=380,
            title=str(trust_series["area_name"].iloc[0]) if len(trust_series) else None,
        )
        trust_figure = add_target_path(chart, series=trust_series)
    elif indicator in cq.TUMOUR_INDICATORS:
        trust_figure = empty_message_figure("Registered tumours carry no trust.")
    else:
        trust_figure = empty_message_figure("Choose a trust above to see its trend.")
    return {
        "indicator": indicator,
        "london": london,
        "london_figure": london_figure,
        "trust": trust_series,
        "trust_figure": trust_figure,
    }


# ---------------------------------------------------------------- layout


def _csv(view: str, text: str = "Download CSV") -> dbc.Button:
    return csv_button(view=view, label=text, button_id={"type": CSV, "view": view})


def _period_options(con, indicator: str) -> list[dict]:
    frame = cq.period_choices(con, indicator=indicator)
    kinds = {"month": "Month", "quarter": "Quarter", "fy": "Financial year"}
    return [
        {"value": p, "label": f"{label} ({kinds.get(k, k)})"}
        for p, label, k in zip(frame["period_id"], frame["label"], frame["period_type"], strict=True)
    ]


def _trust_options() -> list[dict]:
    sites = cq.trust_sites().sort_values("trust_name")
    return [
        ALL_TRUSTS,
        *(
            {"value": c, "label": cq.short_trust_name(n)}
            for c, n in zip(sites["trust_code"], sites["trust_name"], strict=True)
        ),
    ]


def layout(
    indicator: str = DEFAULT_INDICATOR,
    period: str | None = None,
    tumour: str | None = None,
    priority: str | None = None,
    level: str = "borough",
    trust: str | None = None,
    tab: str = "areas",
    **_other,
) -> html.Div:
    """The page; URL query values (indicator, period, tumour, priority, level, trust, tab) set the controls."""
    header = page_header(
        "Cancer pathways",
        "Waits against the Faster Diagnosis Standard (FDS) and the 31-day and 62-day standards (NHS England's "
        "cancer waiting times guidance, CWT v12.1), stage at diagnosis and route, by where patients live and by "
        "trust, and where pathways cross hospitals.",
    )
    link = LinkValues()
    indicator = link.pick("indicator", indicator, cq.CANCER_INDICATORS, DEFAULT_INDICATOR)
    try:
        con = _con()
        period_options = _period_options(con, indicator)
        offered = {option["value"] for option in period_options}
        # The default period costs a query: looked up only when the link names no usable one.
        period = link.pick("period", period, offered, None) or default_period(con, indicator)
    except DATA_ERRORS as error:
        return html.Div([header, error_message(data_problem(error))])
    tumour = link.pick("tumour group", tumour, dict(cq.TUMOUR_GROUPS), EVERY)
    priority = link.pick("priority type", priority, dict(cq.PRIORITY_TYPES), EVERY)
    level = link.pick("map level", level, MAP_LEVELS, "borough")
    trust = link.pick("trust", trust, set(cq.trust_sites()["trust_code"]), EVERY)
    tab = link.pick("view", tab, TAB_IDS, "areas")

    controls = dbc.Row(
        [
            dbc.Col(
                labelled_select(
                    "Indicator",
                    INDICATOR,
                    indicator,
                    [{"value": i, "label": get(i).title} for i in cq.CANCER_INDICATORS],
                ),
                xs=12,
                lg=4,
            ),
            dbc.Col(labelled_select("Period", PERIOD, period, period_options), xs=12, sm=6, lg=2),
            dbc.Col(
                labelled_select(
                    "Tumour group",
                    TUMOUR,
                    tumour,
                    [ALL_TUMOURS, *({"value": c, "label": n} for c, n in cq.TUMOUR_GROUPS)],
                ),
                xs=12,
                sm=6,
                lg=2,
            ),
            dbc.Col(
                labelled_select(
                    "Priority type",
                    PRIORITY,
                    priority,
                    [ALL_PRIORITIES, *({"value": c, "label": n} for c, n in cq.PRIORITY_TYPES)],
                ),
                xs=12,
                sm=6,
                lg=2,
            ),
            dbc.Col(labelled_select("Trust (waits and trend)", TRUST, trust, _trust_options()), xs=12, sm=6, lg=2),
        ],
        className="g-2 mb-3 filter-bar",
    )
    areas = html.Div(
        [
            html.Div(id=KPIS),
            html.Div(id=GEO_MESSAGE),
            section(
                "Map: areas and trusts",
                radio_group("Show", MAP_LEVEL, level, MAP_LEVELS),
                graph(MAP, placeholder_figure(height=520)),
                _csv("areas", "Download map areas CSV"),
                _csv("trusts", "Download trusts CSV"),
                note="Areas coloured against London (purple better, orange worse; grey suppressed). Points: each "
                "trust's main hospital, sized by pathways, blue better / orange worse than London. The FDS "
                "and conversion rate are reported by the trust that first saw the patient, the 31 and "
                "62-day standards by the treating trust.",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        section("Trusts ranked, with 95% intervals", graph(TRUST_RANKED), _csv("trusts_ranked")), lg=6
                    ),
                    dbc.Col(
                        section(
                            "Trust funnel plot",
                            graph(TRUST_FUNNEL),
                            _csv("funnel"),
                            note="Only trusts outside the 99.8% limits differ by more than chance.",
                        ),
                        lg=6,
                    ),
                ]
            ),
        ]
    )
    flow = html.Div(
        [
            html.Div(id=FLOW_MESSAGE),
            section(
                "Pathway flow: where patients live or are referred → first seen → treated",
                radio_group(
                    "Start the flow",
                    FLOW_ORIGIN,
                    "residence_icb",
                    {
                        "residence_icb": "From ICB of residence",
                        "residence_borough": "From borough of residence",
                        "referring_icb": "From referring practice's ICB",
                        "referring_borough": "From referring practice's borough",
                    },
                ),
                html.P(id=CROSSING, className="fw-semibold mb-1"),
                graph(SANKEY, placeholder_figure(height=560)),
                _csv("flows"),
                note="Treated 62-day pathways whose first treatment fell in the period. Links of 1–7 pathways are "
                "suppressed for roles without unrounded access and left out of the drawing.",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        section(
                            "Referral to being told (FDS)",
                            graph(TOLD_WAITS),
                            _csv("waits_told"),
                            note="Pathways whose FDS clock stopped in the period; day 28 is within.",
                        ),
                        lg=6,
                    ),
                    dbc.Col(
                        section(
                            "Referral to first treatment (62-day)",
                            graph(TREATED_WAITS),
                            _csv("waits_treated"),
                            note="Treated 62-day pathways; day 62 is within. Trust choice: the treating "
                            "trust here, the first-seen trust for the FDS.",
                        ),
                        lg=6,
                    ),
                ]
            ),
            section("Waits by trust", html.Div(id=WAIT_TABLE), _csv("wait_summary")),
        ]
    )
    inequality_tab = html.Div(
        [
            html.Div(id=INEQUALITY_MESSAGE),
            radio_group(
                "Measure", INEQUALITY_INDICATOR, "cancer_early_stage", {i: get(i).title for i in cq.TUMOUR_INDICATORS}
            ),
            html.P(
                "Period: the chosen period when it is a quarter or year, else the latest financial year. "
                "All tumour groups together: this view does not follow the tumour group filter (nor the "
                "priority, which registered tumours do not carry).",
                className="small text-muted",
            ),
            dbc.Row(
                [
                    dbc.Col(section(INEQUALITY_LABELS[d], graph(g), _csv(f"inequality_{d}")), lg=6)
                    for d, g in INEQUALITY_GRAPHS.items()
                ]
            ),
            dbc.Row(
                [
                    dbc.Col(
                        section(
                            "Slope index of inequality by borough",
                            graph(SII_MAP, placeholder_figure()),
                            note="SII: the modelled gap between the least and most deprived ends of the "
                            "IMD scale (percentage points); 0 = no gradient.",
                        ),
                        lg=6,
                    ),
                    dbc.Col(section("SII and quintile gap", html.Div(id=SII_TABLE), _csv("sii")), lg=6),
                ]
            ),
        ]
    )
    trend_tab = html.Div(
        [
            html.Div(id=TREND_MESSAGE),
            section(
                "London",
                graph(TREND_LONDON),
                _csv("trend_london"),
                note="Monthly for the waiting-time standards (quarterly for stage and route). Making Data "
                "Count: blue special cause = improvement, orange = concern. Green dashed step: the "
                "operational target in force; dotted line: the indicator's target ('How this is counted' "
                "above says which standard or ambition it is).",
            ),
            section("Chosen trust", graph(TREND_TRUST), _csv("trend_trust")),
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
                    for t, body in zip(TAB_IDS, (areas, flow, inequality_tab, trend_tab), strict=True)
                },
                initial=tab,
                look="page",
            ),
            html.Div(id=DOWNLOAD_MESSAGE),
            dcc.Download(id=DOWNLOAD),
            dcc.Store(id=URL_STATE),
            dcc.Store(id=MAP_SHOWN, data=None),
            html.P(
                "Counts follow the NHS disclosure rule (1–7 suppressed, others rounded to 5) unless your role "
                "allows unrounded figures; percentages and intervals are computed from unrounded counts. Synthetic "
                "data: no real patients.",
                className="small text-muted mt-3",
            ),
        ]
    )


# ---------------------------------------------------------------- callbacks


def update_periods(indicator: str, period: str | None) -> tuple[list[dict], str]:
    """The chosen indicator's periods; the period is kept when the indicator has it, else its default."""
    indicator = _indicator(indicator)
    try:
        con = _con()
        return _period_options(con, indicator), _period_for(con, indicator, period)
    except DATA_ERRORS:
        return no_update, no_update


# Not on the first draw: the layout already lists the indicator's periods (a round trip saved, and a step
# before the views' callbacks could start).
dash.callback(
    Output(PERIOD, "options"),
    Output(PERIOD, "value"),
    Input(INDICATOR, "value"),
    State(PERIOD, "value"),
    prevent_initial_call=True,
)(update_periods)


def update_rule(indicator: str) -> tuple:
    """Another indicator's title, rule version and definition, into the card in place (an opened definition
    stays open)."""
    return indicator_card_parts(get(_indicator(indicator)))


# Not on the first draw: the layout already holds the indicator's card.
dash.callback(*indicator_card_outputs(RULE), Input(INDICATOR, "value"), prevent_initial_call=True)(update_rule)


def update_kpis(tumour: str | None, priority: str | None, tab: str = "areas", *_):
    """KPI cards: London for every cancer indicator, latest period, with the tumour group / priority chosen
    (while the areas view, which shows them, is open)."""
    if tab != "areas":
        raise PreventUpdate
    try:
        frame = kpi_values(tumour=tumour, priority=priority, disclose=current_disclosure().disclose)
        labels = period_labels(_con())
    except DATA_ERRORS as error:
        return error_message(data_problem(error))
    return kpi_cards(
        cards=_kpi_cards(
            frame, {r: labels.get(p, p) for r, p in zip(frame["indicator_id"], frame["period_id"], strict=True)}
        )
    )


dash.callback(
    Output(KPIS, "children"),
    Input(TUMOUR, "value"),
    Input(PRIORITY, "value"),
    State(TABS, "value"),
    Input(view_opened(VIEWS, "areas"), "data"),
    prevent_initial_call=True,
)(update_kpis)


def update_map(indicator, period, tumour, priority, level, tab="areas", shown_level=None, *_):
    """The map: geometry sent when the level changes, else recoloured with a Patch; a notice when filters skip it."""
    if tab != "areas":
        raise PreventUpdate
    try:
        view = areas_view(
            indicator=indicator,
            period=period,
            tumour=tumour,
            priority=priority,
            level=level,
            disclose=current_disclosure().disclose,
            parts=("map",),
            # The level on screen already has its geometry: send the new values only, built without a figure.
            recolour=shown_level == (level if level in MAP_LEVELS else "borough"),
        )
    except DATA_ERRORS as error:
        return no_update, no_update, error_message(data_problem(error))
    figure = view["map"]
    notice = dbc.Alert(view["notice"], color="info", className="py-2") if view["notice"] else None
    return figure, view["level"], notice


dash.callback(
    Output(MAP, "figure"),
    Output(MAP_SHOWN, "data"),
    Output(GEO_MESSAGE, "children"),
    Input(INDICATOR, "value"),
    Input(PERIOD, "value"),
    Input(TUMOUR, "value"),
    Input(PRIORITY, "value"),
    Input(MAP_LEVEL, "value"),
    State(TABS, "value"),
    State(MAP_SHOWN, "data"),
    Input(view_opened(VIEWS, "areas"), "data"),
    prevent_initial_call=True,
)(update_map)


def _trust_figure(indicator, period, tumour, priority, tab: str, *, part: str, key: str):
    """One trust figure of the areas view, built only while that view is shown; an error is drawn in its place."""
    if tab != "areas":
        raise PreventUpdate
    try:
        return areas_view(
            indicator=indicator,
            period=period,
            tumour=tumour,
            priority=priority,
            level="borough",
            disclose=current_disclosure().disclose,
            parts=(part,),
        )[key]
    except DATA_ERRORS as error:
        return empty_message_figure(data_problem(error))


def update_ranked(indicator, period, tumour, priority, tab="areas", *_):
    """Trusts ranked with their 95 % intervals."""
    return _trust_figure(indicator, period, tumour, priority, tab, part="ranked", key="ranked")


def update_funnel(indicator, period, tumour, priority, tab="areas", *_):
    """The trust funnel around London."""
    return _trust_figure(indicator, period, tumour, priority, tab, part="funnel", key="funnel_figure")


_AREA_INPUTS = (
    Input(INDICATOR, "value"),
    Input(PERIOD, "value"),
    Input(TUMOUR, "value"),
    Input(PRIORITY, "value"),
    State(TABS, "value"),
    Input(view_opened(VIEWS, "areas"), "data"),
)
dash.callback(Output(TRUST_RANKED, "figure"), *_AREA_INPUTS, prevent_initial_call=True)(update_ranked)
dash.callback(Output(TRUST_FUNNEL, "figure"), *_AREA_INPUTS, prevent_initial_call=True)(update_funnel)


def update_sankey(indicator, period, tumour, priority, origin, tab="flow", *_):
    """The Sankey of treated pathways and the count crossing to another trust."""
    if tab != "flow":
        raise PreventUpdate
    try:
        view = flow_view(
            indicator=indicator,
            period=period,
            tumour=tumour,
            priority=priority,
            origin=origin,
            trust=None,
            disclose=current_disclosure().disclose,
            parts=("sankey",),
        )
    except DATA_ERRORS as error:
        return no_update, no_update, error_message(data_problem(error))
    return view["sankey"], crossing_text(view["crossing"]), None


dash.callback(
    Output(SANKEY, "figure"),
    Output(CROSSING, "children"),
    Output(FLOW_MESSAGE, "children"),
    Input(INDICATOR, "value"),
    Input(PERIOD, "value"),
    Input(TUMOUR, "value"),
    Input(PRIORITY, "value"),
    Input(FLOW_ORIGIN, "value"),
    State(TABS, "value"),
    Input(view_opened(VIEWS, "flow"), "data"),
    prevent_initial_call=True,
)(update_sankey)


def update_waits(indicator, period, tumour, priority, trust, tab="flow", *_):
    """The two wait distributions (London or the chosen trust) and the per-trust wait table."""
    if tab != "flow":
        raise PreventUpdate
    try:
        view = flow_view(
            indicator=indicator,
            period=period,
            tumour=tumour,
            priority=priority,
            origin="",
            trust=trust,
            disclose=current_disclosure().disclose,
            parts=("waits",),
        )
    except DATA_ERRORS as error:
        return no_update, no_update, error_message(data_problem(error))
    table = wait_table(view["told_summary"], view["treated_summary"])
    caption = f"Pathways, share within the standard and days waited{_choice_text(tumour, priority)}"
    table_div = data_table(table, columns={c: c for c in table.columns}, caption=caption, table_id="cancer-wait-rows")
    return view["told_figure"], view["treated_figure"], table_div


dash.callback(
    Output(TOLD_WAITS, "figure"),
    Output(TREATED_WAITS, "figure"),
    Output(WAIT_TABLE, "children"),
    Input(INDICATOR, "value"),
    Input(PERIOD, "value"),
    Input(TUMOUR, "value"),
    Input(PRIORITY, "value"),
    Input(TRUST, "value"),
    State(TABS, "value"),
    Input(view_opened(VIEWS, "flow"), "data"),
    prevent_initial_call=True,
)(update_waits)


def update_inequality(indicator, period, tab="inequality", *_):
    """Inequality charts by deprivation, ethnic group, age band and sex for early stage or emergency route."""
    if tab != "inequality":
        raise PreventUpdate
    try:
        view = inequality_view(
            indicator=indicator, period=period, disclose=current_disclosure().disclose, parts=("groups",)
        )
    except DATA_ERRORS as error:
        return (*[no_update] * len(INEQUALITY_GRAPHS), error_message(data_problem(error)))
    # The tab may show another period than the page's (a year, when a month is chosen): it says which, or its
    # London line (56.0 % in 2025-26) sat beside a card of another period (54.1 %) unexplained.
    label = period_labels(_con()).get(view["period"], view["period"])
    shown = html.P(
        [html.Strong(f"Period shown: {label}."), f" {get(view['indicator']).title}, all tumour groups."],
        className="small mb-2",
    )
    return (*[view["figures"][d] for d in INEQUALITY_GRAPHS], shown)


dash.callback(
    *[Output(graph_id, "figure") for graph_id in INEQUALITY_GRAPHS.values()],
    Output(INEQUALITY_MESSAGE, "children"),
    Input(INEQUALITY_INDICATOR, "value"),
    Input(PERIOD, "value"),
    State(TABS, "value"),
    Input(view_opened(VIEWS, "inequality"), "data"),
    prevent_initial_call=True,
)(update_inequality)


def update_sii(indicator, period, tab="inequality", *_):
    """The slope index of inequality per borough: map and table."""
    if tab != "inequality":
        raise PreventUpdate
    try:
        view = inequality_view(
            indicator=indicator, period=period, disclose=current_disclosure().disclose, parts=("sii",)
        )
    except DATA_ERRORS as error:
        return no_update, error_message(data_problem(error))
    table = sii_table(view["sii"])
    table_div = data_table(
        table,
        columns={c: c for c in table.columns},
        caption=f"{get(view['indicator']).title}: slope index of inequality",
        table_id="cancer-sii-rows",
    )
    return view["sii_map"], table_div


dash.callback(
    Output(SII_MAP, "figure"),
    Output(SII_TABLE, "children"),
    Input(INEQUALITY_INDICATOR, "value"),
    Input(PERIOD, "value"),
    State(TABS, "value"),
    Input(view_opened(VIEWS, "inequality"), "data"),
    prevent_initial_call=True,
)(update_sii)


def update_trend(indicator, tumour, priority, tab="trend", *_):
    """SPC trend for London with the operational target path."""
    if tab != "trend":
        raise PreventUpdate
    try:
        view = trend_view(
            indicator=indicator,
            tumour=tumour,
            priority=priority,
            trust=None,
            disclose=current_disclosure().disclose,
            parts=("london",),
        )
    except DATA_ERRORS as error:
        return no_update, error_message(data_problem(error))
    return view["london_figure"], None


dash.callback(
    Output(TREND_LONDON, "figure"),
    Output(TREND_MESSAGE, "children"),
    Input(INDICATOR, "value"),
    Input(TUMOUR, "value"),
    Input(PRIORITY, "value"),
    State(TABS, "value"),
    Input(view_opened(VIEWS, "trend"), "data"),
    prevent_initial_call=True,
)(update_trend)


def update_trust_trend(indicator, tumour, priority, trust, tab="trend", *_):
    """SPC trend for the chosen trust with the operational target path."""
    if tab != "trend":
        raise PreventUpdate
    try:
        return trend_view(
            indicator=indicator,
            tumour=tumour,
            priority=priority,
            trust=trust,
            disclose=current_disclosure().disclose,
            parts=("trust",),
        )["trust_figure"]
    except DATA_ERRORS as error:
        return empty_message_figure(data_problem(error))


dash.callback(
    Output(TREND_TRUST, "figure"),
    Input(INDICATOR, "value"),
    Input(TUMOUR, "value"),
    Input(PRIORITY, "value"),
    Input(TRUST, "value"),
    State(TABS, "value"),
    Input(view_opened(VIEWS, "trend"), "data"),
    prevent_initial_call=True,
)(update_trust_trend)


# ---------------------------------------------------------------- CSV downloads

CSV_VIEWS = (
    "areas",
    "trusts",
    "trusts_ranked",
    "funnel",
    "flows",
    "waits_told",
    "waits_treated",
    "wait_summary",
    *(f"inequality_{d}" for d in INEQUALITY_GRAPHS),
    "sii",
    "trend_london",
    "trend_trust",
)
_TREND_COLUMNS = [
    "period_id",
    "period_label",
    "area_code",
    "area_name",
    "numerator",
    "denominator",
    "value",
    "ci_low",
    "ci_high",
    "centre",
    "lower_limit",
    "upper_limit",
    "variation",
    "operational_target",
    "suppressed",
]


def view_csv(
    *,
    view: str,
    indicator: str,
    period: str | None,
    tumour: str | None,
    priority: str | None,
    level: str,
    origin: str,
    trust: str | None,
    inequality_indicator: str,
    disclose: bool,
) -> tuple[pd.DataFrame, str]:
    """The rows behind one view, as shown on the page (same calls, same disclosure), and a file name."""
    if view not in CSV_VIEWS:
        raise QueryError(f"Unknown view {view!r}")
    indicator = _indicator(indicator)
    if view in ("areas", "trusts", "trusts_ranked", "funnel"):
        result = areas_view(
            indicator=indicator,
            period=period,
            tumour=tumour,
            priority=priority,
            level=level,
            disclose=disclose,
            figures=False,
        )
        if view == "areas":
            frame = result["areas"][AREA_CSV_COLUMNS]
        elif result["trusts"] is None:
            frame = pd.DataFrame(columns=AREA_CSV_COLUMNS)
        elif view == "funnel":
            frame = result["funnel"]["points"][[*AREA_CSV_COLUMNS, "funnel"]]
        else:
            frame = result["trusts"][AREA_CSV_COLUMNS]
        frame = frame.assign(indicator_id=indicator, period_id=result["period"])
        stem = f"cancer_{indicator}_{result['period']}"
    elif view in ("flows", "waits_told", "waits_treated", "wait_summary"):
        result = flow_view(
            indicator=indicator,
            period=period,
            tumour=tumour,
            priority=priority,
            origin=origin,
            trust=trust,
            disclose=disclose,
            parts=("sankey",) if view == "flows" else ("waits",),
            figures=False,
        )
        if view == "flows":
            frame = result["links"]
        elif view == "wait_summary":
            frame = pd.concat([result["told_summary"], result["treated_summary"]], ignore_index=True)
        else:
            frame = result["told" if view == "waits_told" else "treated"]
        stem = f"cancer_{result['period']}"
    elif view.startswith("inequality_") or view == "sii":
        result = inequality_view(
            indicator=inequality_indicator,
            period=period,
            disclose=disclose,
            parts=("sii",) if view == "sii" else ("groups",),
            figures=False,
        )
        if view == "sii":
            frame = result["sii"]
        else:
            dimension = view.removeprefix("inequality_")
            frame = result["groups"][dimension][AREA_CSV_COLUMNS[1:]].rename(columns={"area_name": dimension})
            frame = frame.assign(indicator_id=result["indicator"], period_id=result["period"])
        stem = f"cancer_{result['indicator']}_{result['period']}"
    else:
        result = trend_view(
            indicator=indicator,
            tumour=tumour,
            priority=priority,
            trust=trust,
            disclose=disclose,
            parts=("london",) if view == "trend_london" else ("trust",),
            figures=False,
        )
        series = result["london"] if view == "trend_london" else result["trust"]
        if series is None:
            series = pd.DataFrame(columns=_TREND_COLUMNS)
        frame = series[[c for c in _TREND_COLUMNS if c in series]].assign(indicator_id=indicator)
        stem = f"cancer_{indicator}"
    if _chosen(tumour) or _chosen(priority):
        frame = frame.assign(tumour_group=_chosen(tumour) or EVERY, priority_type=_chosen(priority) or EVERY)
    return frame.reset_index(drop=True), f"{stem}_{view}.csv"


def download_view(clicks, indicator, period, tumour, priority, level, origin, trust, inequality_indicator):
    """The CSV of the view whose button was pressed, audited before it leaves."""
    return pressed_view_csv(
        clicks,
        page="cancer",
        view_csv=view_csv,
        inputs={
            "indicator": indicator,
            "period": period,
            "tumour": tumour,
            "priority": priority,
            "level": level,
            "origin": origin,
            "trust": trust,
            "inequality_indicator": inequality_indicator,
        },
    )


dash.callback(
    Output(DOWNLOAD, "data"),
    Output(DOWNLOAD_MESSAGE, "children"),
    Input({"type": CSV, "view": ALL}, "n_clicks"),
    State(INDICATOR, "value"),
    State(PERIOD, "value"),
    State(TUMOUR, "value"),
    State(PRIORITY, "value"),
    State(MAP_LEVEL, "value"),
    State(FLOW_ORIGIN, "value"),
    State(TRUST, "value"),
    State(INEQUALITY_INDICATOR, "value"),
    prevent_initial_call=True,
)(download_view)


# The controls are kept in the URL (replaceState: no new history entry, no reload), so a view can be
# bookmarked or shared; layout() reads them back.
dash.clientside_callback(
    """
    function(indicator, period, tumour, priority, level, trust, tab) {
        const params = new URLSearchParams();
        const state = {indicator, period, tumour, priority, level, trust, tab};
        for (const [key, value] of Object.entries(state)) { if (value && value !== 'all') { params.set(key, value); } }
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
    Input(TUMOUR, "value"),
    Input(PRIORITY, "value"),
    Input(MAP_LEVEL, "value"),
    Input(TRUST, "value"),
    Input(TABS, "value"),
)
