"""Figures and layout pieces of the immunisation pages that the shared components do not have.

Pure builders: keyword-only arguments, the engine's frames in, Plotly figures or Dash
components out, no SQL. Values are in the indicator's unit ('percent' = 0-100).
Suppressed rows (disclosure control) are never drawn as numbers.
"""

from __future__ import annotations

import math

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from components.charts import (
    chart_layout,
    chart_layout_settings,
    figure_from_dicts,
    short_label,
    with_axis_notes,
    wrap_text,
)
from components.layout import kpi_card, number_with_unit, stat_card
from components.style import (
    SEQUENTIAL_SCALE,
    SUPPRESSED_COLOUR,
    TARGET_LINE_COLOUR,
    base_layout,
    json_safe,
    value_format,
    whole_number,
)

# Colours of the four levels on the GP-team comparison chart (colour-blind safe, London dark).
LEVEL_COLOURS = {"Practice": "#005eb8", "PCN": "#00a499", "Borough": "#ed8b00", "London": "#212b32"}
LEVEL_SYMBOLS = {"Practice": "circle", "PCN": "square", "Borough": "diamond", "London": "line-ns"}


def _missing(value) -> bool:
    return json_safe(value) is None


def headline_cards(
    *,
    row: pd.Series,
    title: str,
    period_label: str,
    target: float | None,
    previous_value: float | None,
    previous_label: str | None,
    unit: str = "percent",
    polarity: str = "high",
    area_label: str = "London",
) -> dbc.Row:
    """The page's headline: coverage with CI, gap to the target, children needed, change, cohort size.

    ``row`` is one ``indicator_values`` row (London, or the selected area). A hidden
    value shows as suppressed, never as 0.
    """
    fmt = value_format(unit)
    value = json_safe(row.get("value"))
    gap = None if value is None or target is None else target - value
    needed = json_safe(row.get("patients_to_target"))
    if value is None:
        gap_text, gap_note = "suppressed", ""
    elif gap is not None and gap <= 0:
        gap_text, gap_note = "Target met", f"{-gap:.1f} points above {fmt.text(target)}"
    elif gap is not None:
        gap_text, gap_note = number_with_unit(f"{gap:.1f}", "points"), f"below the {fmt.text(target)} target"
    else:
        gap_text, gap_note = "no target", ""
    if needed is None:
        hidden = value is None or row.get("suppressed") or row.get("patients_to_target_suppressed")
        needed_text = "suppressed" if hidden else "n/a"
    else:
        needed_text = f"{needed:,.0f}"
    cards = [
        kpi_card(
            label=f"{area_label}: {title}",
            value=value,
            unit=unit,
            ci_low=json_safe(row.get("ci_low")),
            ci_high=json_safe(row.get("ci_high")),
            previous_value=previous_value,
            previous_label=previous_label or "last period",
            polarity=polarity,
            note=period_label,
        ),
        stat_card(f"Gap to {fmt.text(target) if target is not None else 'target'}", gap_text, gap_note),
        stat_card(
            f"Children needed to reach {fmt.text(target) if target is not None else 'target'}",
            needed_text,
            # A measure without a target (the 2022 campaign) read "n/a more children vaccinated".
            "more children vaccinated in this cohort" if target is not None else "this measure has no target",
        ),
        stat_card(
            "Change on last period",
            _change_text(value, previous_value),
            f"vs {previous_label}" if previous_label else "no earlier period",
        ),
        stat_card(
            "Children in the cohort",
            whole_number(row.get("denominator")),
            f"{whole_number(row.get('numerator'))} vaccinated",
        ),
    ]
    return dbc.Row([dbc.Col(card, xs=12, sm=6, lg=True, className="mb-2") for card in cards], className="g-2 mb-3")


def _change_text(value: float | None, previous: float | None) -> str | html.Span:
    if value is None or previous is None:
        return "n/a"
    delta = value - previous
    if abs(delta) < 0.05:
        return "no change"
    return number_with_unit(f"{'▲ up' if delta > 0 else '▼ down'} {abs(delta):.1f}", "points")


def inequality_summary(*, row: pd.Series | None, unit: str = "percent") -> html.Div:
    """Slope and relative index of inequality (SII / RII) and the quintile gap, as sentences.

    The SII rests on the area's whole cohort, the gap on its two extreme quintiles: a quintile's
    suppressed count hides the gap alone (the row's ``suppressed`` flag is set for either).
    """
    if row is None or _missing(row.get("sii")):
        return html.Div(
            "Slope index of inequality: not shown (too few children, or deprivation unknown).",
            className="small text-muted",
        )
    points = "points" if unit == "percent" else ""
    sii, low, high = (float(row[c]) for c in ("sii", "sii_low", "sii_high"))
    parts = [
        html.Strong("Slope index of inequality (SII): "),
        f"{sii:+.1f} {points} (95% CI {low:+.1f} to {high:+.1f}). ",
        "A positive SII means coverage is higher in less deprived areas. ",
    ]
    if not _missing(row.get("rii")):
        parts += [
            html.Strong("Relative index (RII): "),
            f"{float(row['rii']):.2f} (95% CI {float(row['rii_low']):.2f} to {float(row['rii_high']):.2f}). ",
        ]
    if not _missing(row.get("gap")):
        parts += [
            html.Strong("Least minus most deprived quintile: "),
            f"{float(row['gap']):+.1f} {points}",
        ]
        if not (_missing(row.get("gap_low")) or _missing(row.get("gap_high"))):
            parts.append(f" (95% CI {float(row['gap_low']):+.1f} to {float(row['gap_high']):+.1f})")
        parts.append(".")
    elif row.get("suppressed"):
        parts += [html.Strong("Least minus most deprived quintile: "), "not shown (a quintile's count is 1–7)."]
    return html.P(parts, className="small mb-2")


def _share_range(values: np.ndarray) -> dict[str, float]:
    """``zmin``/``zmax`` for shares: the values' own range, within 0-100 %. With one value (or all alike) Plotly
    spread the colour bar round it, 99.6 % to 100.4 % for a lone 100 %: past what a share can be."""
    shown = values[~np.isnan(values)]
    if not shown.size:
        return {}
    low, high = float(shown.min()), float(shown.max())
    if high - low < 1:
        low, high = (high - 10, high) if high >= 50 else (low, low + 10)
    return {"zmin": max(0.0, low), "zmax": min(100.0, high)}


def intersection_heatmap(
    *,
    values: pd.DataFrame,
    value_label: str,
    unit: str = "percent",
    row_label: str = "Ethnic group",
    column_label: str = "IMD quintile",
    height: int = 380,
    title: str | None = None,
) -> go.Figure:
    """Coverage by two groupings at once (e.g. ethnic group x deprivation quintile) as a heat map.

    ``values``: the engine's rows by a pair (``area_name`` = row group, ``subgroup_name``
    = column group). Suppressed cells are left empty and labelled "supp."; the cell
    text gives the value so colour is never the only cue.
    """
    fmt = value_format(unit)
    frame = values.copy()
    frame["area_name"] = frame["area_name"].fillna("Unknown")
    frame["subgroup_name"] = frame["subgroup_name"].fillna("Unknown")
    rows = list(dict.fromkeys(frame["area_name"]))
    columns = sorted(dict.fromkeys(frame["subgroup_name"]), key=_quintile_order)
    hidden = frame["suppressed"].fillna(False).astype(bool) | pd.to_numeric(frame["value"], errors="coerce").isna()
    z = np.full((len(rows), len(columns)), np.nan)
    text = [["–" for _ in columns] for _ in rows]  # a pair with no children at all (blank read as missing data)
    denominators = np.full((len(rows), len(columns)), np.nan)
    for record, is_hidden in zip(frame.to_dict("records"), hidden, strict=True):
        i, j = rows.index(record["area_name"]), columns.index(record["subgroup_name"])
        if is_hidden:
            text[i][j] = "supp."
            continue
        z[i, j] = float(record["value"])
        text[i][j] = fmt.text(record["value"])
        denominators[i, j] = json_safe(record.get("denominator")) or np.nan
    colour_range = _share_range(z) if unit == "percent" else {}
    # Sized for a phone: rows and columns big enough for each cell's value at 11 px (Plotly shrinks
    # cell text to fit, and 6 x 6 cells in the ~130 px a vertical colour bar and long quintile names
    # left were unreadable). Quintiles are named short on the axis (its title says which end is
    # which; hover has the whole name) and the colour bar lies under the plot, not beside it.
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=columns,
            y=rows,
            text=text,
            texttemplate="%{text}",
            textfont={"size": 11},
            customdata=denominators,
            colorscale=SEQUENTIAL_SCALE,
            **colour_range,
            colorbar={
                "title": {"text": value_label, "side": "bottom"},
                "ticksuffix": fmt.axis_suffix,
                "orientation": "h",
                "thickness": 10,
                "yref": "container",
                "y": 0,
                "yanchor": "bottom",
                "ypad": 8,
            },
            hovertemplate=(
                f"<b>%{{y}} · %{{x}}</b><br>{value_label}: %{{z:{fmt.d3}}}{fmt.suffix}"
                "<br>%{customdata:,.0f} children<extra></extra>"
            ),
            hoverongaps=False,
            xgap=2,
            ygap=2,
        )
    )
    chart_layout(figure, height=max(height, _HEATMAP_FRAME_PX + _HEATMAP_ROW_PX * len(rows)), title=title)
    figure.update_xaxes(
        title={"text": _quintile_axis_title(column_label, columns)},
        type="category",
        side="bottom",
        tickvals=columns,
        ticktext=[_short_quintile(label) for label in columns],
    )
    figure.update_yaxes(title={"text": row_label}, type="category", autorange="reversed")
    figure.update_layout(plot_bgcolor="#f4f6f7")
    return figure


# A heat map row tall enough for 11 px cell text, and the title, axis and colour bar around the rows.
_HEATMAP_ROW_PX = 38
_HEATMAP_FRAME_PX = 190


def _short_quintile(label: str) -> str:
    """A quintile's axis name without its bracketed gloss ("Q1 (most deprived)" -> "Q1")."""
    if _quintile_order(label)[0] < 9:
        return label.split(" (")[0]
    return "Not<br>known" if label == "Unknown" else label


def _quintile_axis_title(title: str, columns: list[str]) -> str:
    """The axis title, with which end is most deprived when the short names dropped it."""
    glosses = [label for label in columns if _short_quintile(label) != label]
    return with_axis_notes(title, ["Q1 most deprived, Q5 least"]) if glosses else title


def _quintile_order(label: str) -> tuple[int, str]:
    for index, key in enumerate(("Q1", "Q2", "Q3", "Q4", "Q5")):
        if str(label).startswith(key):
            return index, label
    return 9, str(label)


def practice_comparison_chart(
    *,
    frame: pd.DataFrame,
    unit: str = "percent",
    target: float | None = 95.0,
    height: int | None = None,
    title: str | None = None,
) -> go.Figure:
    """One row per vaccine: the practice (with its 95 % CI) beside its PCN, borough and London.

    ``frame``: :func:`queries.immunisation.practice_comparison` rows (``title``,
    ``level``, ``value``, ``ci_low``, ``ci_high``, ``suppressed``). Suppressed or empty
    values are left out; a grey cross at the axis start marks each vaccine where the practice
    has no value, and the legend counts them.
    """
    fmt = value_format(unit)
    order = list(dict.fromkeys(frame["title"]))[::-1]  # Plotly draws the first category at the bottom
    floor = _axis_floor(frame)
    levels = frame["level"].astype(str).to_numpy()
    values = pd.to_numeric(frame["value"]).to_numpy(dtype=float)
    suppressed = frame["suppressed"].fillna(False).astype(bool).to_numpy()
    titles = frame["title"].to_numpy(dtype=object)
    has_ci = {"ci_low", "ci_high"} <= set(frame.columns)
    traces = []
    for level, colour in LEVEL_COLOURS.items():
        shown = (levels == level) & ~suppressed & ~np.isnan(values)
        if not shown.any():
            continue
        trace = {
            "type": "scatter",
            "x": values[shown],
            "y": titles[shown],
            "mode": "markers",
            "name": level,
            # A practice at 100% sits 1 point from the axis end: clipped, half its marker was cut off.
            "cliponaxis": False,
            "marker": {
                "color": colour,
                "symbol": LEVEL_SYMBOLS[level],
                "size": 11 if level == "Practice" else 9,
                "line": {"width": 2 if level == "London" else 1, "color": colour if level == "London" else "white"},
            },
            "hovertemplate": f"<b>%{{y}}</b><br>{level}: %{{x:{fmt.d3}}}{fmt.suffix}<extra></extra>",
        }
        if level == "Practice" and has_ci:
            trace["error_x"] = {
                "type": "data",
                "symmetric": False,
                "array": pd.to_numeric(frame["ci_high"]).to_numpy(dtype=float)[shown] - values[shown],
                "arrayminus": values[shown] - pd.to_numeric(frame["ci_low"]).to_numpy(dtype=float)[shown],
                "color": colour,
                "thickness": 1.2,
                "width": 3,
            }
        traces.append(trace)
    legend_rows = min(len(traces), _PHONE_LEGEND_ROWS)
    practice = levels == "Practice"
    hidden = practice & (suppressed | np.isnan(values))
    # Say which it is: a user who may see the practice's patients gets its 1-7 counts, so only "no children".
    reasons = [
        reason
        for reason, present in (
            ("no children", (hidden & ~suppressed).any()),
            ("1–7 (suppressed)", (practice & suppressed).any()),
        )
        if present
    ]
    # The legend names the four levels only, in 11 px: on a phone the vaccine names take half the chart,
    # Plotly wraps a legend at the plot's width in columns as wide as its widest entry, and with the
    # target and the not-shown cross in it too the legend took five rows, one entry each. The target
    # and the cross are named under the axis instead (as the funnel plot names its limits).
    notes = []
    # Text beside each row would run over the other levels' markers on a phone: a cross marks the rows
    # instead, and the note under the axis gives the count.
    if hidden.any():
        name = f"Practice not shown ({int(hidden.sum())} of {len(order)}):<br>{', or '.join(reasons)}"
        traces.append(
            {
                "type": "scatter",
                "x": [floor + (101 - floor) * 0.03] * int(hidden.sum()),  # clear of the axis line
                "y": titles[hidden],
                "mode": "markers",
                "name": name,
                "showlegend": False,
                "marker": {"color": SUPPRESSED_COLOUR, "symbol": "x-thin", "size": 9, "line": {"width": 2}},
                "hovertemplate": "<b>%{y}</b><br>Practice: no children or suppressed (1–7)<extra></extra>",
            }
        )
        notes.append(f"× {name.replace('<br>', ' ')}")
    shapes = []
    if target is not None:
        shapes.append(
            {
                "type": "line",
                "x0": target,
                "x1": target,
                "xref": "x",
                "y0": 0,
                "y1": 1,
                "yref": "y domain",
                "line": {"color": TARGET_LINE_COLOUR, "dash": "dot", "width": 1.5},
            }
        )
        notes.insert(0, f"Dotted line: target ({fmt.text(target)})")
    wrapped = [wrap_text(note, 30) for note in notes]
    if height:
        layout = chart_layout_settings(height=height, title=title)
    else:
        note_px = _NOTE_LINE_PX * sum(note.count("<br>") + 1 for note in wrapped)
        layout = chart_layout_settings(height=90 + 34 * len(order) + note_px, title=title, legend_rows=legend_rows)
    layout["legend"] |= {"tracegroupgap": 0, "font": {"size": 11}}
    # Vaccine names keep their ending ("by 24 months" vs "by 5 years"): wrapped onto two lines, not cut.
    layout["yaxis"] = {
        "type": "category",
        "categoryorder": "array",
        "categoryarray": order,
        "tickvals": order,
        "ticktext": [_two_lines(name) for name in order],
        "tickfont": {"size": 11},
        "automargin": True,
    }
    layout["xaxis"] = {
        "title": {"text": with_axis_notes("Coverage", wrapped)},
        "ticksuffix": fmt.axis_suffix,
        "range": [floor, 101],
    }
    # One construction without re-validation per call: see figure_from_dicts (literals and our own values only).
    return figure_from_dicts(traces, layout, shapes=shapes)


# The GP comparison legend's rows on a phone (its four levels two a row), and a line of a note under its axis.
_PHONE_LEGEND_ROWS = 2
_NOTE_LINE_PX = 14


def _two_lines(name: str, width: int = 22) -> str:
    """A vaccine name on at most two lines of ``width`` characters (the second cut with an ellipsis)."""
    lines = wrap_text(name, width).split("<br>")
    if len(lines) > 2:
        lines = [lines[0], short_label(" ".join(lines[1:]), width)]
    return "<br>".join(lines)


def _axis_floor(frame: pd.DataFrame) -> float:
    values = pd.to_numeric(frame.get("ci_low", frame["value"]), errors="coerce").dropna()
    values = pd.concat([values, pd.to_numeric(frame["value"], errors="coerce").dropna()])
    low = float(values.min()) if len(values) else 0.0
    return max(0.0, math.floor((low - 5) / 10) * 10)


def count_bar_chart(
    *,
    frame: pd.DataFrame,
    label_column: str,
    count_column: str = "children",
    axis_label: str,
    max_bars: int = 25,
    ranked: bool = True,
    height: int | None = None,
    title: str | None = None,
) -> go.Figure:
    """Counts per group as horizontal bars, largest first; suppressed groups listed, not drawn as 0.

    ``frame`` has ``label_column``, ``count_column`` and optionally ``suppressed``.
    Only the ``max_bars`` largest groups are drawn; the caption says how many more exist.
    ``ranked=False`` keeps the frame's order instead (top to bottom; e.g. ages, youngest first)
    and draws its first ``max_bars`` groups.
    """
    data = frame.copy()
    counts = pd.to_numeric(data[count_column], errors="coerce")
    hidden = (data["suppressed"].fillna(False).astype(bool) if "suppressed" in data else False) | counts.isna()
    # Ties (common once counts are rounded to 5) go by label, so the same request draws the same chart.
    shown = data[~hidden].assign(_count=counts[~hidden], _label=data[label_column].astype(str))
    if ranked:
        shown = shown.sort_values(["_count", "_label"], ascending=[False, True], kind="stable")
    extra = max(len(shown) - max_bars, 0)
    shown = shown.head(max_bars).iloc[::-1]
    bar = {
        "type": "bar",
        "x": shown["_count"],
        "y": shown[label_column].astype(str),
        "orientation": "h",
        "marker": {"color": "#005eb8"},
        "hovertemplate": "<b>%{y}</b><br>%{x:,.0f} children<extra></extra>",
    }
    notes = []
    if extra:
        notes.append(f"{extra} smaller groups not drawn (see the CSV)")
    if int(np.sum(hidden)):
        notes.append(f"{int(np.sum(hidden))} groups suppressed (1–7 children)")
    # The notes as lines of the axis title, where Plotly makes room for them (an annotation under
    # the plot ran off both sides of a phone's chart), in short lines: the title is centred under a
    # plot that the names take half of.
    wrapped = [wrap_text(note, 24) for note in notes]
    note_rows = sum(note.count("<br>") + 1 for note in wrapped)
    labels = shown[label_column].astype(str)
    layout = base_layout(height=height or max(220, 60 + 22 * len(shown) + 14 * note_rows), title=title) | {
        # Names cut short on the axis (hover has the whole name): whole practice names took a phone
        # chart's width, ran off its left edge and left the bars a sliver.
        "yaxis": {
            "type": "category",
            "automargin": True,
            "tickvals": labels.tolist(),
            "ticktext": [short_label(label) for label in labels],
        },
        # SI-short ticks ("15k"): "15,000" and its neighbours were set on end across a phone's narrow plot.
        "xaxis": {"title": {"text": with_axis_notes(axis_label, wrapped)}, "tickformat": "~s", "rangemode": "tozero"},
    }
    # One construction without re-validation per call: see figure_from_dicts (literals and our own values only).
    return figure_from_dicts([bar], layout)


def cohort_links(*, links: list[tuple[str, str]], aggregate_only: str | None = None) -> html.Div:
    """ "Which children?" links, one per (vaccine title, cohort-finder URL); a line saying so when there are none.

    ``aggregate_only``: for a role that may list no children, this message alone under the heading instead
    (a dozen links promising lists led to a card that could only refuse).
    """
    if aggregate_only:
        return html.Div(
            [
                html.H3("Which children?", className="h6 mt-3"),
                dbc.Alert(aggregate_only, color="info", className="small mb-0"),
            ]
        )
    if not links:
        return html.P("No vaccine is short of 95% at this practice: no children to list.", className="small mb-0")
    return html.Div(
        [
            html.H3("Which children? Each gap in the cohort finder", className="h6 mt-3"),
            # The two count different children; a GP team saw 1 short above and 3 in the list, unexplained.
            html.P(
                "The finder lists the practice's children of those ages who are missing the dose today. The "
                "figures above count the period's cohort (children who reached the birthday in it) and the doses "
                "given before that birthday, so the two numbers differ.",
                className="small text-muted mb-1",
            ),
            html.Ul(
                [html.Li(dcc.Link(f"Children missing: {title}", href=href)) for title, href in links],
                className="small mb-0",
            ),
        ]
    )
