"""Figure builders and layout pieces for the hypertension page (no SQL: frames in, figures and components out).

Built on the shared builders (:mod:`components.maps`, :mod:`components.charts`); what is
here is what the shared set lacks: a borough map and ranked chart that pick out one ICB's
boroughs, the people-to-target bar chart, the indicator's rule card, KPI cards and the CSV
button and payload used by every table and chart on the page.
"""

from __future__ import annotations

import re

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Patch, dcc, html

from components.charts import ranked_chart
from components.layout import stat_card
from components.maps import AREA_TRACE, area_map, recolour_patch
from components.style import (
    COMPARISON_COLOURS,
    LONDON_LINE_COLOUR,
    POINT_COLOUR,
    SUPPRESSED_COLOUR,
    TARGET_LINE_COLOUR,
    apply_base_layout,
    json_safe,
    value_format,
)

HIGHLIGHT_LINE_COLOUR = "#212b32"
PLAIN_LINE_COLOUR = "#ffffff"
DETECTION_COLOUR = "#00a499"


def value_label(*, title: str, unit: str) -> str:
    """A short axis/colour-bar label for an indicator: its title without the code in brackets, and its unit."""
    short = re.sub(r"\s*\([^)]*\)\s*$", "", title)
    return f"{short} (ratio)" if unit == "ratio" else f"{short} (%)"


def borough_map(
    *,
    values: pd.DataFrame,
    value_label: str,
    unit: str,
    polarity: str,
    highlight_codes: list[str] | tuple[str, ...] = (),
    geometry_url: str | None = None,
    height: int = 520,
) -> go.Figure:
    """The borough choropleth of the engine's borough rows, with ``highlight_codes`` (an ICB) drawn in thick outline.

    ``geometry_url``: serve the boundaries by URL (see :func:`components.maps.area_map`).

    The colour scale diverges around London when the indicator has a polarity, so blue reads as
    better than London and orange as worse; with no polarity it is sequential.
    """
    london = values["london_value"].dropna() if "london_value" in values else pd.Series(dtype=float)
    centre = float(london.iloc[0]) if polarity != "none" and len(london) else None
    figure = area_map(
        level="borough",
        values=values,
        value_label=value_label,
        unit=unit,
        polarity="high" if polarity == "none" else polarity,
        diverge_around=centre,
        geometry_url=geometry_url,
        height=height,
    )
    codes = list(figure.data[AREA_TRACE].locations)
    chosen = set(highlight_codes)
    figure.data[AREA_TRACE].marker.line.width = [3.0 if code in chosen else 0.6 for code in codes]
    figure.data[AREA_TRACE].marker.line.color = [
        HIGHLIGHT_LINE_COLOUR if code in chosen else PLAIN_LINE_COLOUR for code in codes
    ]
    return figure


def ranked_areas_chart(
    *,
    values: pd.DataFrame,
    value_label: str,
    unit: str,
    target: float | None,
    highlight_codes: list[str] | tuple[str, ...] = (),
    title: str | None = None,
) -> go.Figure:
    """Areas ranked with 95 % CIs, coloured by significance against London, with ``highlight_codes`` in bold.

    The shared :func:`components.charts.ranked_chart` bolds one area; an ICB has several boroughs.
    """
    london = values["london_value"].dropna() if "london_value" in values else pd.Series(dtype=float)
    hidden = values["suppressed"].fillna(False).astype(bool) | pd.to_numeric(values["value"], errors="coerce").isna()
    # The shared chart adds one annotation per suppressed area, each re-validating all before it (seconds for
    # a borough's 40 small practices): it draws the shown areas, and the suppressed ones are added here at once.
    figure = ranked_chart(
        values=values[~hidden],
        value_label=value_label,
        unit=unit,
        london_value=float(london.iloc[0]) if len(london) else None,
        target=target,
        title=title,
    )
    suppressed_codes = values.loc[hidden, "area_code"].tolist()
    if suppressed_codes:
        figure.add_trace(
            go.Scatter(
                x=[None] * len(suppressed_codes),
                y=suppressed_codes,
                mode="markers",
                name="Suppressed (1–7 patients)",
                marker={"color": SUPPRESSED_COLOUR, "symbol": "x"},
                hoverinfo="skip",
            )
        )
        notes = [
            {
                "x": 0,
                "xref": "paper",
                "y": code,
                "yref": "y",
                "text": "suppressed",
                "showarrow": False,
                "xanchor": "left",
                "font": {"size": 11, "color": SUPPRESSED_COLOUR},
            }
            for code in suppressed_codes
        ]
        figure.update_layout(annotations=[*figure.layout.annotations, *notes], height=max(260, 90 + 22 * len(values)))
    names = dict(zip(values["area_code"], values["area_name"], strict=False))
    order = suppressed_codes + list(figure.layout.yaxis.categoryarray or [])
    figure.update_yaxes(categoryarray=order, tickvals=order)
    chosen = set(highlight_codes)
    figure.update_yaxes(ticktext=[f"<b>{names[c]} ◀</b>" if c in chosen else names[c] for c in order])
    # Legend at the very top, above the "London" and "Target" labels that sit on the plot's top edge.
    figure.update_layout(
        legend={"orientation": "h", "yref": "container", "y": 1, "yanchor": "top", "x": 0}, margin={"t": 120}
    )
    if not pd.to_numeric(values["value"], errors="coerce").notna().any():
        # Nothing to plot (every area suppressed): give the axis a range, or Plotly draws NaN-sized shapes.
        figure.update_xaxes(range=[0, 100] if unit == "percent" else [0, 1.5])
    return figure


def people_to_target_chart(*, table: pd.DataFrame, ambition: str = "80", height_per_row: int = 24) -> go.Figure:
    """Per area, how many more people treated to target (HYP008 + HYP009) and diagnosed would meet the ambition.

    ``table`` is :func:`queries.hypertension.people_to_target` without its London row; areas
    whose counts are suppressed are listed with no bar and named as suppressed in hover.
    """
    frame = table.copy()
    control = pd.to_numeric(frame[f"control_to_{ambition}"], errors="coerce")
    detect = pd.to_numeric(frame["to_detect_80"], errors="coerce")
    frame = frame.assign(_control=control, _detect=detect).sort_values("_control", na_position="first")
    figure = go.Figure()
    for column, name, colour in (
        ("_control", f"More treated to target for {ambition} % (HYP008 + HYP009)", POINT_COLOUR),
        ("_detect", "More diagnosed for 80 % of expected", DETECTION_COLOUR),
    ):
        figure.add_trace(
            go.Bar(
                y=frame["area_name"],
                x=frame[column],
                name=name,
                orientation="h",
                marker={"color": colour},
                hovertemplate="<b>%{y}</b><br>%{x:,.0f} people<extra>" + name.split(" (")[0] + "</extra>",
            )
        )
    apply_base_layout(figure, height=max(300, 110 + height_per_row * len(frame)))
    figure.update_layout(barmode="group", legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0})
    figure.update_xaxes(title={"text": "People"}, tickformat=",", rangemode="tozero")
    figure.update_yaxes(type="category", automargin=True)
    return figure


def intersection_chart(
    *,
    values: pd.DataFrame,
    value_label: str,
    unit: str,
    area_value: float | None,
    area_label: str,
    target: float | None,
    height: int = 440,
) -> go.Figure:
    """Ethnic group (x) by deprivation quintile (series) with 95 % CIs: who is least often controlled where.

    ``values`` is the engine's pair ``("ethnicity_group", "imd_quintile")``: ``area_name`` the
    ethnic group, ``subgroup_name`` the quintile. Suppressed cells are listed under the chart.
    """
    fmt = value_format(unit)
    figure = go.Figure()
    suppressed_cells = []
    for quintile, rows in values.groupby("subgroup_name", sort=True, dropna=False):
        label = "IMD unknown" if pd.isna(quintile) else str(quintile)
        hidden = rows["suppressed"].fillna(False).astype(bool) | pd.to_numeric(rows["value"], errors="coerce").isna()
        suppressed_cells += [f"{name} · {label}" for name in rows.loc[hidden, "area_name"]]
        shown = rows[~hidden]
        value = pd.to_numeric(shown["value"], errors="coerce")
        figure.add_trace(
            go.Scatter(
                x=shown["area_name"],
                y=value,
                mode="markers",
                name=label,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": (pd.to_numeric(shown["ci_high"]) - value).to_numpy(dtype=float),
                    "arrayminus": (value - pd.to_numeric(shown["ci_low"])).to_numpy(dtype=float),
                    "thickness": 1.2,
                    "width": 3,
                },
                customdata=shown[["ci_low", "ci_high", "numerator", "denominator"]]
                .apply(pd.to_numeric, errors="coerce")
                .to_numpy(dtype=float),
                hovertemplate=(
                    f"<b>%{{x}} · {label}</b><br>%{{y:{fmt.d3}}}{fmt.suffix} (95% CI %{{customdata[0]:{fmt.d3}}}–"
                    f"%{{customdata[1]:{fmt.d3}}}{fmt.suffix})<br>%{{customdata[2]:,.0f}} of "
                    "%{customdata[3]:,.0f}<extra></extra>"
                ),
                marker={"size": 9},
            )
        )
    add_area_line(figure, value=area_value, label=area_label)
    add_area_line(figure, value=target, label="Target", colour=TARGET_LINE_COLOUR, dash="dot")
    apply_base_layout(figure, height=height)
    order = [
        g
        for g in ("White", "Mixed", "Asian", "Black", "Other", "Not stated", "Unknown")
        if g in set(values["area_name"])
    ]
    figure.update_xaxes(title={"text": "Ethnic group"}, type="category", categoryorder="array", categoryarray=order)
    figure.update_yaxes(title={"text": value_label}, tickformat=fmt.axis_format, ticksuffix=fmt.axis_suffix)
    figure.update_layout(scattermode="group", legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"})
    if suppressed_cells:
        figure.add_annotation(
            text=f"{len(suppressed_cells)} cells suppressed (1–7 patients), not shown",
            xref="paper",
            yref="paper",
            x=1,
            y=-0.02,
            xanchor="right",
            yanchor="top",
            showarrow=False,
            font={"size": 11, "color": "#425563"},
        )
    return figure


def add_area_line(
    figure: go.Figure, *, value: float | None, label: str, colour: str = LONDON_LINE_COLOUR, dash: str = "solid"
) -> go.Figure:
    """A horizontal reference line at ``value`` (e.g. the selected area's overall value), labelled ``label``.

    Drawn as a plain shape and annotation: Plotly's ``add_hline`` deep-copies the figure each call
    (about 20 ms), which adds up in a callback.
    """
    number = json_safe(value)
    if number is None:
        return figure
    figure.add_shape(
        type="line",
        xref="paper",
        x0=0,
        x1=1,
        yref="y",
        y0=number,
        y1=number,
        line={"color": colour, "width": 1.5, "dash": dash},
    )
    figure.add_annotation(
        text=label,
        xref="paper",
        x=0,
        xanchor="left",
        yref="y",
        y=number,
        yanchor="bottom",
        showarrow=False,
        font={"size": 11},
    )
    return figure


def indicator_card(
    *,
    title: str,
    rule_version: str,
    source: str,
    numerator: str,
    denominator: str,
    target_source: str = "",
    notes: str = "",
) -> dbc.Card:
    """What the chosen indicator counts and which rule version it follows (the definition can be folded away)."""
    details = [
        html.P([html.Strong("Counts: "), numerator], className="small mb-1"),
        html.P([html.Strong("Out of: "), denominator], className="small mb-1"),
    ]
    if target_source:
        details.append(html.P([html.Strong("Ambition: "), target_source], className="small mb-1"))
    if notes:
        details.append(html.P([html.Strong("Note: "), notes], className="small mb-0 text-muted"))
    body = [
        html.H2(title, className="h6 mb-1"),
        html.P(
            [html.Strong("Rule: "), rule_version, " ", html.Span(source, className="text-muted")],
            className="small mb-1",
        ),
        html.Details([html.Summary("Definition", className="small"), *details], open=True),
    ]
    return dbc.Card(dbc.CardBody(body), className="mb-3")


def kpi_cards(*, cards: list[dict]) -> dbc.Row:
    """One stat card per indicator: ``cards`` items have ``label``, ``value`` (text) and ``note``."""
    return dbc.Row(
        [dbc.Col(stat_card(c["label"], c["value"], c.get("note", "")), xs=6, md=3, className="mb-2") for c in cards],
        className="g-2 mb-2",
    )


def formatted(value, *, unit: str) -> str:
    """An indicator value for text ('suppressed' when hidden); ratios with two decimals."""
    return value_format(unit).text(value)


def whole_number(value) -> str:
    """A count for text, with thousands separators; 'suppressed' when hidden."""
    number = json_safe(value)
    return "suppressed" if number is None else f"{number:,.0f}"


def comparison_badge(comparison: str | None) -> str:
    """The words for a comparison with London, for tables."""
    labels = {"better": "Better than London", "worse": "Worse than London", "similar": "Similar to London"}
    return labels.get(comparison or "", "Not compared")


def comparison_colour(comparison: str | None) -> str:
    return COMPARISON_COLOURS.get(comparison or "not compared", COMPARISON_COLOURS["not compared"])


def csv_button(*, view: str, label: str = "Download CSV", button_id: dict) -> dbc.Button:
    """A small download button for one view (the page wires ``button_id`` to its CSV callback)."""
    return dbc.Button(
        label,
        id=button_id,
        color="secondary",
        outline=True,
        size="sm",
        className="mt-2 me-2",
        title=f"Download the {view} as CSV",
    )


def csv_payload(frame: pd.DataFrame, *, filename: str) -> dict:
    """A ``dcc.Download`` payload holding ``frame`` as CSV: exactly the rows and columns given, no index."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object:
            safe[column] = safe[column].map(lambda v: None if isinstance(v, float) and np.isnan(v) else v)
    return dcc.send_data_frame(safe.to_csv, filename, index=False)


def graph(graph_id: str, figure: go.Figure | None = None) -> dcc.Loading:
    """A figure with a loading state (the section heading above it names it)."""
    return dcc.Loading(
        dcc.Graph(
            id=graph_id, figure=figure or placeholder_figure(), config={"displaylogo": False, "responsive": True}
        ),
        type="default",
        delay_show=300,
    )


# Colour keys a map trace may or may not carry (diverging vs sequential scale): a recolour must clear
# the ones the new figure lacks, or the old scale's midpoint and range stay on the client.
_OPTIONAL_COLOUR_KEYS = ("zmid", "zmin", "zmax", "reversescale")


def map_patch(figure: go.Figure, *, view: dict | None = None, uirevision: str | None = None) -> Patch:
    """:func:`components.maps.recolour_patch` plus clearing colour keys the new scale drops, and an optional
    new ``view`` (centre and zoom) with a ``uirevision`` that makes the map move to it."""
    patch = recolour_patch(figure)
    trace = figure.to_plotly_json()["data"][AREA_TRACE]
    for key in _OPTIONAL_COLOUR_KEYS:
        if key not in trace:
            patch["data"][AREA_TRACE][key] = None
    if view is not None:
        patch["layout"]["map"]["center"] = view["center"]
        patch["layout"]["map"]["zoom"] = view["zoom"]
    if uirevision is not None:
        patch["layout"]["uirevision"] = uirevision
    return patch


def empty_area_values() -> pd.DataFrame:
    """An engine-shaped frame with no rows: a map built from it carries the geometry and nothing else."""
    return pd.DataFrame(
        columns=[
            "area_code",
            "area_name",
            "value",
            "ci_low",
            "ci_high",
            "numerator",
            "denominator",
            "london_value",
            "comparison",
            "suppressed",
        ]
    )


def placeholder_figure(text: str = "Loading…", *, height: int = 420) -> go.Figure:
    """A figure that says what is coming (no bare axes) until a callback sends the real one."""
    figure = go.Figure()
    apply_base_layout(figure, height=height)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.add_annotation(
        text=text, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 14, "color": "#425563"}
    )
    return figure


def sii_map(
    *,
    values: pd.DataFrame,
    measure_label: str,
    unit: str,
    polarity: str,
    geometry_url: str | None = None,
    height: int = 520,
) -> go.Figure:
    """Slope index of inequality per borough, diverging around no gap (as :func:`components.maps.inequality_map`,
    which takes no ``geometry_url``): percentages are shown as percentage points, and the orange end is
    always the wider gap in favour of the least deprived."""
    return area_map(
        level="borough",
        values=values,
        value_label=measure_label,
        unit="pp" if unit == "percent" else unit,
        polarity="low" if polarity == "high" else "high",
        diverge_around=0.0,
        geometry_url=geometry_url,
        height=height,
    )
