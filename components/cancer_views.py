"""Figure builders for the cancer pathways page (no SQL: frames in, figures out).

What the shared builders lack: trusts drawn as points on an area map, a waiting-time
distribution with the 28 / 62-day lines, and the operational target path on an SPC chart.
All keyword-only; suppressed rows are never drawn as 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from components.charts import PHONE_MESSAGE_CHARS, wrap_text
from components.style import (
    COMPARISON_COLOURS,
    COMPARISON_LABELS,
    SUPPRESSED_COLOUR,
    SUPPRESSED_NOTE,
    TARGET_LINE_COLOUR,
    apply_base_layout,
    json_safe,
    value_format,
)

TRUST_MARKER_COLOUR = "#330072"
SIMILAR_TRUST_COLOUR = "#425563"
WITHIN_COLOUR = "#005eb8"
BEYOND_COLOUR = "#ed8b00"
STANDARD_LINE_COLOUR = "#212b32"


def _number(value) -> float | None:
    number = json_safe(value)
    return None if number is None else float(number)


def add_trust_points(
    figure: go.Figure,
    *,
    values: pd.DataFrame | None,
    sites: pd.DataFrame,
    value_label: str,
    unit: str = "percent",
    max_marker_px: int = 24,
) -> go.Figure:
    """Add :func:`trust_points_trace` to an area map (always exactly one trace, so recolour patches line up)."""
    figure.add_trace(
        trust_points_trace(values=values, sites=sites, value_label=value_label, unit=unit, max_marker_px=max_marker_px)
    )
    return figure


def trust_points_trace(
    *,
    values: pd.DataFrame | None,
    sites: pd.DataFrame,
    value_label: str,
    unit: str = "percent",
    max_marker_px: int = 24,
) -> go.Scattermap:
    """One point trace of trust sites for an area map (or its recolour patch: :func:`components.maps.traces_patch`).

    ``sites``: ``trust_code``, ``trust_name``, ``site_name``, ``lat``, ``lon``. ``values``: the
    trust rows (``area_code`` = trust code, ``value``, CIs, ``denominator``, ``comparison``,
    ``suppressed``) or None when the indicator has no trust (then sites are drawn plain, as
    locations). Points are sized by denominator and coloured by comparison with London;
    suppressed trusts are grey and say so in hover.
    """
    fmt = value_format(unit)
    frame = sites.copy()
    if values is not None and len(values):
        keep = [
            c
            for c in ("area_code", "value", "ci_low", "ci_high", "denominator", "comparison", "suppressed")
            if c in values
        ]
        frame = frame.merge(values[keep], left_on="trust_code", right_on="area_code", how="inner")
    else:
        frame = frame.assign(value=None, ci_low=None, ci_high=None, denominator=None, comparison=None, suppressed=False)
    suppressed = frame["suppressed"].fillna(False).astype(bool).to_numpy() if len(frame) else np.array([], bool)
    denominators = pd.to_numeric(frame["denominator"], errors="coerce").fillna(0).to_numpy(dtype=float)
    largest = denominators.max() if len(denominators) and denominators.max() > 0 else 1.0
    sizes = np.where(denominators > 0, 8 + (max_marker_px - 8) * np.sqrt(denominators / largest), 10)
    colours, hover = [], []
    for row, hidden in zip(frame.to_dict("records"), suppressed, strict=True):
        head = f"<b>{row['trust_name']}</b><br>{row['site_name']}"
        if values is None or not len(values):
            colours.append(TRUST_MARKER_COLOUR)
            hover.append(head)
        elif hidden or _number(row.get("value")) is None:
            colours.append(SUPPRESSED_COLOUR)
            hover.append(f"{head}<br>{value_label}: {SUPPRESSED_NOTE}")
        else:
            comparison = row.get("comparison") or "not compared"
            # "Similar" in the shared palette is light grey, which would read as suppressed on a map.
            colours.append(
                COMPARISON_COLOURS[comparison] if comparison in ("better", "worse") else SIMILAR_TRUST_COLOUR
            )
            interval = ""
            if _number(row.get("ci_low")) is not None and _number(row.get("ci_high")) is not None:
                interval = f" (95% CI {fmt.text(row['ci_low'])} to {fmt.text(row['ci_high'])})"
            pathways = _number(row.get("denominator"))
            hover.append(
                f"{head}<br>{value_label}: {fmt.text(row['value'])}{interval}"
                + (f"<br>{pathways:,.0f} pathways" if pathways is not None else "")
                + f"<br>{COMPARISON_LABELS.get(comparison, comparison)}"
            )
    return go.Scattermap(
        lat=frame["lat"].round(5).tolist() or [None],
        lon=frame["lon"].round(5).tolist() or [None],
        text=hover or [""],
        mode="markers",
        marker={
            "size": [float(s) for s in sizes] or [1],
            "color": colours or [TRUST_MARKER_COLOUR],
            "opacity": 0.95,
        },
        name="Trusts (main site; size = pathways)" if values is not None and len(values) else "Trusts (main site)",
        hovertemplate="%{text}<extra></extra>",
        showlegend=bool(len(frame)),
    )


def wait_histogram(
    *,
    distribution: pd.DataFrame,
    standard_days: int,
    measure_label: str,
    height: int = 360,
    title: str | None = None,
) -> go.Figure:
    """Pathways by days waited (the bins of :func:`queries.cancer.wait_distribution`) with the standard's line.

    Bars within the standard are blue, beyond it orange; a suppressed bin has no bar but a grey
    square on the axis line (named in the legend and hover), so it never reads as an empty bin;
    the last bin is open-ended ("150+").
    """
    frame = distribution.copy()
    labels = [
        f"{int(start)}+" if open_ended else f"{int(start)}–{int(end)}"
        for start, end, open_ended in zip(frame["bin_start"], frame["bin_end"], frame["open_ended"], strict=True)
    ]
    counts = pd.to_numeric(frame["pathways"], errors="coerce")
    hidden = frame["suppressed"].fillna(False).astype(bool) | counts.isna()
    shares = pd.to_numeric(frame["share"], errors="coerce")
    colours = [WITHIN_COLOUR if within else BEYOND_COLOUR for within in frame["within_standard"]]
    figure = go.Figure()
    for within, name in ((True, f"Within {standard_days} days"), (False, f"Over {standard_days} days")):
        mask = (frame["within_standard"] == within) & ~hidden
        figure.add_trace(
            go.Bar(
                x=[label for label, keep in zip(labels, mask, strict=True) if keep],
                y=counts[mask].astype(float).tolist(),
                customdata=shares[mask].astype(float).round(1).tolist(),
                marker={"color": colours[0] if within else BEYOND_COLOUR},
                name=name,
                hovertemplate="%{x} days: %{y:,.0f} pathways (%{customdata:.1f}%)<extra></extra>",
            )
        )
    if hidden.any():
        # A grey mark on the axis line, not a bar of height 0: an empty bin and a suppressed one
        # would otherwise look the same (both blank), and a suppressed bin is not a count of 0.
        figure.add_trace(
            go.Scatter(
                x=[label for label, keep in zip(labels, hidden, strict=True) if keep],
                y=[0] * int(hidden.sum()),
                mode="markers",
                marker={"color": SUPPRESSED_COLOUR, "symbol": "square", "size": 9},
                cliponaxis=False,
                name=f"Suppressed bins, 1–7 pathways ({int(hidden.sum())})",
                hovertemplate=f"%{{x}} days: {SUPPRESSED_NOTE}<extra></extra>",
            )
        )
    apply_base_layout(figure, height=height, title=title)
    # The standard falls between the bin ending on it and the next: draw the line on that boundary.
    boundary = next((i for i, end in enumerate(frame["bin_end"]) if int(end) >= standard_days), len(labels) - 1)
    figure.update_xaxes(
        type="category", categoryorder="array", categoryarray=labels, title=measure_label, tickangle=-45
    )
    figure.update_yaxes(title="Pathways", rangemode="tozero")
    figure.add_vline(x=boundary + 0.5, line={"color": STANDARD_LINE_COLOUR, "dash": "dash", "width": 2})
    figure.add_annotation(
        x=boundary + 0.5,
        y=1,
        yref="paper",
        text=f"{standard_days} days",
        showarrow=False,
        xanchor="left",
        yanchor="top",
        font={"size": 12},
    )
    figure.update_layout(
        barmode="overlay",
        bargap=0.1,
        legend={"orientation": "h", "yref": "container", "y": 1, "yanchor": "top", "x": 0},
        margin={"t": 60},
    )
    if not (counts[~hidden] > 0).any():
        figure.add_annotation(
            text=wrap_text(
                "No bars to draw: no pathways, or every bin has 1–7 pathways (suppressed)", PHONE_MESSAGE_CHARS
            ),
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            showarrow=False,
        )
    return figure


def add_target_path(figure: go.Figure, *, series: pd.DataFrame, column: str = "operational_target") -> go.Figure:
    """Add the operational target in force each period (a step line) to an SPC chart of ``series``.

    ``series`` has ``period_label`` and ``column`` (percent, None where no target applies), as
    :func:`queries.cancer.pathway_trend` returns; nothing is added without any target, nor to a figure
    that draws nothing (a chart's "no trend to draw" message: a target line alone there looked broken).
    """
    if not figure.data or column not in series or not pd.to_numeric(series[column], errors="coerce").notna().any():
        return figure
    targets = pd.to_numeric(series[column], errors="coerce")
    figure.add_trace(
        go.Scatter(
            x=series["period_label"].tolist(),
            y=targets.tolist(),
            mode="lines",
            line={"color": TARGET_LINE_COLOUR, "shape": "hvh", "width": 2, "dash": "longdash"},
            name="Operational target in force",
            hovertemplate="%{x}: target %{y:.1f}%<extra></extra>",  # as target_label writes it
        )
    )
    fitted = figure.layout.yaxis.range  # set when the chart fits its axis to the trend (its target off it)
    if fitted:
        low, high = fitted
        pad = 0.05 * (high - low)
        figure.update_yaxes(range=[min(low, targets.min() - pad), max(high, targets.max() + pad)])
    return figure
