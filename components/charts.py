"""Statistical charts: funnel plot, inequality chart, ranked practices, SPC trend, uptake by age, patient flow.

Each builder takes the engine's frames (``queries.indicators``: ``indicator_values``,
``funnel_limits``, ``trend``) and plain parameters, and returns a Plotly figure.
Values are in the indicator's unit ('percent' = 0-100). Suppressed rows are never
plotted as numbers: they are listed as "suppressed" on the chart instead.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from components.style import (
    COMPARISON_COLOURS,
    COMPARISON_LABELS,
    LIMIT_95_COLOUR,
    LIMIT_998_COLOUR,
    LONDON_LINE_COLOUR,
    POINT_COLOUR,
    SUPPRESSED_COLOUR,
    TARGET_LINE_COLOUR,
    apply_base_layout,
    base_layout,
    json_safe,
    target_label,
    value_format,
)

# Making Data Count colours: blue improvement, orange concern, grey common cause.
VARIATION_COLOURS = {"improvement": "#005eb8", "concern": "#ed8b00", "special": "#330072", "common": "#a6a6a6"}
VARIATION_LABELS = {
    "improvement": "Special cause: improvement",
    "concern": "Special cause: concern",
    "special": "Special cause",
    "common": "Common cause variation",
}
# The same in a word or two, for a phone's legend (assets/narrow_charts.js): at full length each took a
# row of its own there. The axis says which are special causes.
PHONE_VARIATION_LABELS = {
    "improvement": "Improvement",
    "concern": "Concern",
    "special": "Special cause",
    "common": "Common cause",
}
FUNNEL_OUTSIDE = ("above 99.8", "below 99.8")
# The server cannot know the screen, so every chart is laid out to read on a 390 px phone too
# (about 330 px of chart): titles wrap at what fits across it at 15 px, and category labels
# (areas, vaccines) are kept short enough to leave the plot half the width.
TITLE_LINE_CHARS = 38
LABEL_CHARS = 24
_TITLE_LINE_PX = 20
_TITLE_TOP_PX = 8
_TITLE_BASELINE_PX = 12
_LEGEND_ROW_PX = 20
_SANKEY_NODE_PX = 26
# A legend line of 11 px text (SPC trends).
_SPC_LEGEND_ROW_PX = 19


def _shown(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into those with a value to plot and those the disclosure rule suppressed.

    Rows with no value but no suppression flag (nothing to compute) are in neither.
    """
    flag = (
        frame["suppressed"].astype("boolean").fillna(False).astype(bool)
        if "suppressed" in frame
        else pd.Series(False, index=frame.index)
    )
    has_value = pd.to_numeric(frame["value"], errors="coerce").notna()
    return frame[~flag & has_value], frame[flag]


def _ci_hover(fmt, *, value: str = "y") -> str:
    return (
        f"<b>%{{text}}</b><br>%{{{value}:{fmt.d3}}}{fmt.suffix} "
        f"(95% CI %{{customdata[0]:{fmt.d3}}}–%{{customdata[1]:{fmt.d3}}}{fmt.suffix})"
        "<br>%{customdata[2]:,.0f} of %{customdata[3]:,.0f}<extra></extra>"
    )


def _hover_numbers(frame: pd.DataFrame) -> np.ndarray:
    columns = ["ci_low", "ci_high", "numerator", "denominator"]
    return frame.reindex(columns=columns).apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)


# A message across a chart's middle, in lines that fit a phone (Plotly never wraps).
PHONE_MESSAGE_CHARS = 42


def wrap_text(text: str, width: int = TITLE_LINE_CHARS) -> str:
    """``text`` broken into lines of at most ``width`` characters with Plotly's ``<br>`` (Plotly never wraps)."""
    return "<br>".join(textwrap.wrap(str(text), width=width, break_long_words=False)) or str(text)


def short_label(text: str, width: int = LABEL_CHARS) -> str:
    """``text`` cut to ``width`` characters with an ellipsis: for category tick labels (hover has the full name).

    A code in brackets at the end ("Oakleigh Road Health Centre (E83003)") is kept whole and the name
    before it cut instead: the code is what tells two practices of a similar name apart.
    """
    text = str(text)
    if len(text) <= width:
        return text
    coded = _CODE_SUFFIX.search(text)
    if coded and len(coded.group(0)) < width - 4:
        return short_label(text[: coded.start()], width - len(coded.group(0))) + coded.group(0)
    return text[: width - 1].rstrip(" ,:(-") + "…"


# An organisation code in brackets at the end of a label (ODS codes are 3-10 capitals and digits).
_CODE_SUFFIX = re.compile(r" \([A-Z0-9]{3,10}\)$")


def chart_layout(figure: go.Figure, *, height: int, title: str | None = None, legend_rows: int = 0) -> go.Figure:
    """The base layout with the title wrapped at the top, a horizontal legend under it and the plot under both.

    Title and legend are placed on the figure's container (not the plot), so Plotly reserves their
    height above the plot: however many rows a narrow screen wraps the legend into, it never covers
    the title, the plot, or the labels on the plot's top edge. ``legend_rows``: legend entries to
    make room for on top of ``height`` (one a row, as on a phone) when ``height`` is only the plot's,
    as for ranked rows; otherwise a tall legend and title leave the plot no height at all.
    """
    # One update: every update_layout pass re-validates and deep-copies what it touches (the template too).
    figure.update_layout(chart_layout_settings(height=height, title=title, legend_rows=legend_rows))
    return figure


def chart_layout_settings(*, height: int, title: str | None = None, legend_rows: int = 0) -> dict:
    """The layout properties :func:`chart_layout` sets, as a plain dict (for figures built from dicts)."""
    wrapped = wrap_text(title) if title else None
    lines = wrapped.count("<br>") + 1 if wrapped else 0
    title_px = _TITLE_TOP_PX + _TITLE_LINE_PX * lines if lines else 0
    if legend_rows:
        height += _LEGEND_ROW_PX * legend_rows + title_px
    settings = base_layout(height=height, title=wrapped)
    if wrapped:
        # No title automargin: for a title of several lines it lifts every line by the extra lines'
        # height (cutting the first off); the top margin below already makes the room. Plotly
        # anchors a one-line title by its top but each line of a longer one by its baseline.
        settings["title"] |= {
            "yref": "container",
            "y": 1,
            "yanchor": "top",
            "pad": settings["title"]["pad"] | {"t": _TITLE_TOP_PX + (_TITLE_BASELINE_PX if lines > 1 else 0)},
        }
    settings["margin"]["t"] = title_px + 8
    settings["legend"] = {
        "orientation": "h",
        "xref": "container",
        "x": 0,
        "xanchor": "left",
        "yref": "container",
        "y": 1 - (title_px + 2) / height,
        "yanchor": "top",
    }
    return settings


# A chart narrower than this is a phone's (~330 px; a desktop's half-width card is ~550 px): there
# assets/narrow_charts.js draws a figure's phone variant (see :func:`phone_variant`).
NARROW_CHART_PX = 480


def phone_variant(*, layout: dict[str, tuple] | None = None, data: dict[str, tuple[list, list]] | None = None) -> dict:
    """``layout.meta`` for a figure drawn differently on a phone's narrow chart, by assets/narrow_charts.js.

    The server cannot know the screen, and Plotly wraps a horizontal legend at the plot's width in
    columns as wide as its widest entry: names that read well across a desktop's chart left a phone's a
    legend of one entry a row over a squeezed plot. ``layout``: layout properties by their relayout name
    ("yaxis.ticktext") -> (wide value, narrow value); ``data``: trace properties -> (wide values, narrow
    values), one a trace as the builder made them. The figure itself must have the wide values; the script
    switches to the narrow ones where the chart is narrower than :data:`NARROW_CHART_PX`, and back.
    """
    variants = {"wide": {"layout": {}, "data": {}}, "narrow": {"layout": {}, "data": {}}}
    for group, values in (("layout", layout or {}), ("data", data or {})):
        for key, (wide, narrow) in values.items():
            variants["wide"][group][key] = wide
            variants["narrow"][group][key] = narrow
    return variants


def legend_entries(figure: go.Figure) -> int:
    """How many entries the figure's legend lists (traces and reference lines shown in it)."""
    traces = sum(1 for trace in figure.data if trace.showlegend is not False and trace.name)
    return traces + sum(1 for shape in figure.layout.shapes if shape.showlegend)


def _reference_line(figure: go.Figure, *, value, label: str, colour: str, dash: str, fmt, axis: str = "y") -> None:
    shape = _reference_shape(value=value, label=label, colour=colour, dash=dash, fmt=fmt, axis=axis)
    if shape:
        figure.add_shape(shape)


def _reference_shape(*, value, label: str, colour: str, dash: str, fmt, axis: str = "y") -> dict | None:
    """The line Plotly's ``add_hline``/``add_vline`` would add, as a dict (None without a value).

    Plotly's helpers deep-copy the whole figure on each call; the dict is added as a plain shape.
    """
    number = json_safe(value)
    if number is None:
        return None
    line = {"color": colour, "width": 1.5, "dash": dash}
    # Named in the legend with its value, not labelled on the plot: a label there lands on the data,
    # and London's and the target's run into each other when the two are close.
    name = f"{label} ({fmt.text(number)})"
    if axis == "y":
        span = {"xref": "x domain", "x0": 0, "x1": 1, "yref": "y", "y0": number, "y1": number}
    else:
        span = {"xref": "x", "x0": number, "x1": number, "yref": "y domain", "y0": 0, "y1": 1}
    return {"type": "line", **span, "line": line, "name": name, "showlegend": True}


def _suppressed_note(figure: go.Figure, hidden: int, *, what: str = "areas") -> None:
    """Say how many rows are suppressed, as a second line of the x-axis title.

    In the axis title, Plotly makes room for it under the tick labels; an annotation there
    would be drawn over them.
    """
    if hidden:
        figure.update_xaxes(title={"text": _with_suppressed_note(figure.layout.xaxis.title.text, hidden, what=what)})


def _with_suppressed_note(title: str | None, hidden: int, *, what: str) -> str | None:
    """An x-axis title with :func:`_suppressed_note`'s second line (``title`` itself when nothing is hidden)."""
    if not hidden:
        return title
    note = f"{hidden} {what.removesuffix('s') if hidden == 1 else what} suppressed (1–7 patients), not shown"
    styled = axis_note(note)
    return f"{title}<br>{styled}" if title else styled


def _glossed_title(text: str) -> str:
    """An axis title too long for a phone's line with its bracketed gloss as a note under it.

    "Deprivation quintile (IMD 2025, national)" wrapped at a phone's width broke inside the bracket
    ("… (IMD 2025," / "national)") on every screen, however wide the chart; as a title and a grey note
    it reads as meant on both. Other long titles are wrapped.
    """
    glossed = re.fullmatch(r"(.+?) \((.+)\)", text)
    if len(text) > TITLE_LINE_CHARS and glossed:
        return f"{glossed[1]}<br>{axis_note(glossed[2])}"
    return wrap_text(text)


def axis_note(text: str) -> str:
    """``text`` styled as a note in an axis title: smaller and grey under the title's own words."""
    return f"<span style='font-size:11px;color:#425563'>{text}</span>"


def with_axis_notes(title: str, notes: Iterable[str], *, width: int | None = None) -> str:
    """An axis title with each (non-empty) note on lines of its own under it, as :func:`axis_note`.

    ``width``: wrap each note at that many characters; None for notes already wrapped by the caller
    (who counts their lines to make room).
    """
    return title + "".join(
        f"<br>{axis_note(note if width is None else wrap_text(note, width))}" for note in notes if note
    )


def _value_axis(figure: go.Figure, fmt, *, title: str, axis: str = "y", wrap: int = TITLE_LINE_CHARS) -> None:
    settings = _value_axis_settings(fmt, title=title, wrap=wrap)
    figure.update_yaxes(**settings) if axis == "y" else figure.update_xaxes(**settings)


def _value_axis_settings(fmt, *, title: str, wrap: int = TITLE_LINE_CHARS) -> dict:
    # Whole-number ticks ('.0f') repeat themselves on a narrow range (95.2 and 95.4 both read "95%"):
    # Plotly's own format picks as many decimals as the tick spacing needs.
    tick_format = "" if fmt.axis_format == ".0f" else fmt.axis_format
    return {"title": {"text": wrap_text(title, wrap)}, "tickformat": tick_format, "ticksuffix": fmt.axis_suffix}


def funnel_plot(
    *,
    points: pd.DataFrame,
    limits: pd.DataFrame,
    london_value: float | None,
    value_label: str,
    unit: str = "percent",
    polarity: str = "high",
    label_outliers: int = 5,
    height: int = 480,
    title: str | None = None,
    benchmark: str = "London",
    points_are: str = "areas",
) -> go.Figure:
    """Values against denominator with 95 % and 99.8 % limits around London; outliers beyond 99.8 % labelled.

    ``points``: the engine's rows (``area_name``, ``value``, ``denominator``, CIs,
    ``suppressed``, and ``funnel`` = 'above 99.8' … 'within', as
    ``queries.indicators.funnel_limits`` classes them from unrounded counts; the chart
    draws those classes and never classes a point itself).
    ``limits``: ``denominator``, ``lower_95``, ``upper_95``, ``lower_998``, ``upper_998``.
    ``label_outliers``: at most how many of the points beyond 99.8 % carry their name on
    the chart: the furthest from London first, skipping any whose name would be drawn
    over one already placed on a phone's plot; every outlier keeps its hover. The value
    axis is fitted to the points so the limits' flare at tiny denominators does not
    flatten the plot. ``benchmark`` names the centre line (e.g. "London, Lung" when the points are one
    tumour group's). ``points_are`` names the points, plural, in the count of those suppressed
    ("538 practices suppressed").
    """
    fmt = value_format(unit)
    if "funnel" not in points:
        raise ValueError("funnel_plot needs the engine's 'funnel' column (queries.indicators.funnel_limits)")
    shown, hidden = _shown(points)
    traces = [
        {
            "type": "scatter",
            "x": limits["denominator"],
            "y": limits[f"{side}_{column}"],
            "mode": "lines",
            "name": name,
            "line": {"color": colour, "width": 1.2, "dash": dash, "shape": "spline"},
            # Named in a caption under the axis instead (see below): two more legend entries
            # wrapped a phone's legend to four rows. No legend group either: one in the figure
            # makes Plotly give every legend entry a row of its own.
            "showlegend": False,
            "hoverinfo": "skip",
        }
        for column, name, colour, dash in (
            ("998", "99.8% limits", LIMIT_998_COLOUR, "solid"),
            ("95", "95% limits", LIMIT_95_COLOUR, "dash"),
        )
        for side in ("upper", "lower")
    ]
    inside = ~shown["funnel"].isin(FUNNEL_OUTSIDE)
    good_high = polarity != "low"
    traces.append(
        {
            "type": "scatter",
            "x": shown.loc[inside, "denominator"],
            "y": shown.loc[inside, "value"],
            "mode": "markers",
            "name": "Inside limits",
            "text": shown.loc[inside, "area_name"],
            "customdata": _hover_numbers(shown[inside]),
            "marker": {"color": POINT_COLOUR, "size": 7, "opacity": 0.55, "line": {"width": 0}},
            "hovertemplate": _ci_hover(fmt),
        }
    )
    centre = json_safe(london_value)
    outliers = shown[~inside]
    distance = (outliers["value"] - (centre if centre is not None else outliers["value"].median())).abs()
    # The denominator axis runs from 0 to the furthest point or limit: names are placed against it.
    denominators = pd.concat([shown["denominator"], limits["denominator"]]).pipe(pd.to_numeric, errors="coerce")
    span_low, span_high = 0.0, float(denominators.max()) if denominators.notna().any() else 1.0
    span = pd.concat([shown["value"], pd.Series([centre], dtype=float)]).dropna()
    pad = max((span.max() - span.min()) * 0.08, 1e-9) if len(span) else 0.0
    value_range = (float(span.min() - pad), float(span.max() + pad)) if len(span) else None
    labelled = _spaced_labels(
        outliers.loc[distance.sort_values(ascending=False).index],
        denominator_span=(span_low, span_high),
        denominator_max=span_high,
        value_range=value_range,
        limit=label_outliers,
    )
    for side, label in (("above 99.8", "Above 99.8%"), ("below 99.8", "Below 99.8%")):
        rows = shown[shown["funnel"] == side]
        better = (side == "above 99.8") == good_high
        traces.append(
            {
                "type": "scatter",
                "x": rows["denominator"],
                "y": rows["value"],
                "mode": "markers+text",
                "name": label,
                "text": [short_label(name) if index in labelled else "" for index, name in rows["area_name"].items()],
                "hovertext": rows["area_name"],
                "customdata": _hover_numbers(rows),
                "textposition": _label_sides(rows["denominator"], span_low, span_high),
                "textfont": {"size": 10},
                "marker": {
                    "color": COMPARISON_COLOURS["better" if better else "worse"],
                    "size": 9,
                    "line": {"width": 1, "color": "white"},
                },
                "hovertemplate": _ci_hover(fmt).replace("%{text}", "%{hovertext}"),
            }
        )
    layout = chart_layout_settings(height=height, title=title)
    # Six entries at the base 13 px wrapped to four rows on a phone and squeezed the funnel under them.
    # The limits are named in a caption under the axis; the points and London, with short names at
    # 11 px and no gaps between groups, take two rows on a phone and one on a desktop.
    layout["legend"] |= {"tracegroupgap": 0, "font": {"size": 11}}
    layout["yaxis"] = _value_axis_settings(fmt, title=value_label) | (
        {"range": list(value_range)} if value_range else {}
    )
    axis_title = f"Denominator (patients)<br>{FUNNEL_LIMITS_CAPTION}"
    layout["xaxis"] = {
        "title": {"text": _with_suppressed_note(axis_title, len(hidden), what=points_are)},
        "rangemode": "tozero",
        "tickformat": ",",
    }
    centre_line = _reference_shape(
        value=london_value, label=benchmark, colour=LONDON_LINE_COLOUR, dash="solid", fmt=fmt
    )
    return figure_from_dicts(traces, layout, shapes=[centre_line] if centre_line else [])


# What the funnel's two limit curves are, under its axis (one line on a 260 px phone plot).
FUNNEL_LIMITS_CAPTION = axis_note("Curves: 99.8% limits (solid), 95% (dashed)")
# A phone's funnel plot area (of a 330 px chart; the legend took four rows, now two) and a 10 px name on it.
_FUNNEL_PLOT_PX = (250, 260)
_LABEL_CHAR_PX = 6
_LABEL_LINE_PX = 14


def _spaced_labels(
    outliers: pd.DataFrame,
    *,
    denominator_span: tuple[float, float],
    denominator_max: float,
    value_range: tuple[float, float] | None,
    limit: int,
) -> set:
    """Which outliers (given furthest first) get their name: up to ``limit``, none drawn over another.

    Each name's box is estimated on a phone's plot, where the names are largest against the axes;
    a wider screen only moves them further apart. A name that would overlap one already placed
    is left to hover and the table, and the next outlier is tried.
    """
    if not limit or value_range is None or not denominator_max:
        return set()
    width_px, height_px = _FUNNEL_PLOT_PX
    low, high = value_range
    sides = _label_sides(outliers["denominator"], *denominator_span)
    placed: list[tuple[float, float, float, float]] = []
    labelled = set()
    for (index, row), side in zip(outliers.iterrows(), sides, strict=True):
        if len(labelled) >= limit:
            break
        x = float(row["denominator"]) / denominator_max * width_px
        y = (float(row["value"]) - low) / ((high - low) or 1.0) * height_px
        text_px = len(short_label(row["area_name"])) * _LABEL_CHAR_PX
        left = x - text_px if side == "top left" else x if side == "top right" else x - text_px / 2
        box = (left, left + text_px, y + 4, y + 4 + _LABEL_LINE_PX)
        # Plotly hides point text beyond the plot: a name may only reach into the axis range's top pad.
        if box[0] < 0 or box[1] > width_px or box[3] > height_px + _LABEL_LINE_PX / 2:
            continue
        if any(box[0] < b[1] and b[0] < box[1] and box[2] < b[3] and b[2] < box[3] for b in placed):
            continue
        placed.append(box)
        labelled.add(index)
    return labelled


def _label_sides(denominators: pd.Series, low: float, high: float) -> list[str]:
    """Where each outlier's name goes: away from the nearer side, so a name never runs off the plot."""
    middle, third = (low + high) / 2, (high - low) / 3
    sides = []
    for value in pd.to_numeric(denominators, errors="coerce"):
        if third and value > middle + third / 2:
            sides.append("top left")
        elif third and value < middle - third / 2:
            sides.append("top right")
        else:
            sides.append("top center")
    return sides


def inequality_chart(
    *,
    values: pd.DataFrame,
    value_label: str,
    dimension_label: str,
    unit: str = "percent",
    london_value: float | None = None,
    target: float | None = None,
    height: int = 420,
    title: str | None = None,
    area_value: float | None = None,
    area_label: str = "",
) -> go.Figure:
    """The value by group (IMD quintile, ethnic group, sex, age band) with 95 % CIs and the London line.

    ``values``: the engine's rows by one dimension (``area_name`` = group label, in
    display order); for a pair (e.g. borough × IMD quintile) each ``area_name`` is a
    series and ``subgroup_name`` the x-axis group. Suppressed groups are marked
    "suppressed" on the axis, not drawn as 0. ``area_value``: a labelled line (``area_label``),
    e.g. the selected area's overall value.
    """
    fmt = value_format(unit)
    paired = bool("subgroup_name" in values and values["subgroup_name"].notna().any())
    traces = []
    series = list(values.groupby("area_name", sort=False)) if paired else [(None, values)]
    for name, rows in series:
        shown, _ = _shown(rows)
        traces.append(
            {
                "type": "scatter",
                "x": shown["subgroup_name"] if paired else shown["area_name"],
                "y": shown["value"],
                "mode": "markers",
                "name": name or value_label,
                "showlegend": paired,
                "text": (shown["area_name"] + " · " + shown["subgroup_name"]) if paired else shown["area_name"],
                "customdata": _hover_numbers(shown),
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": (shown["ci_high"] - shown["value"]).to_numpy(dtype=float),
                    "arrayminus": (shown["value"] - shown["ci_low"]).to_numpy(dtype=float),
                    "thickness": 1.5,
                    "width": 4,
                },
                "marker": {"size": 10, "symbol": "diamond" if paired else "circle"},
                "hovertemplate": _ci_hover(fmt),
            }
        )
    categories = list(dict.fromkeys((values["subgroup_name"] if paired else values["area_name"]).tolist()))
    _, hidden = _shown(values)
    annotations = [
        {
            "x": label,
            "y": 0,
            "yref": "paper",
            "yanchor": "bottom",
            "text": "suppressed",
            "showarrow": False,
            "font": {"size": 11, "color": SUPPRESSED_COLOUR},
            "textangle": -90,
        }
        for label in dict.fromkeys((hidden["subgroup_name"] if paired else hidden["area_name"]).tolist())
    ]
    # The axis is set from the values: a far target is named at the edge (target_side), and Plotly's
    # autorange of grouped markers ran from 0, squashing 57-64 % into the top fifth of the plot.
    drawn, _ = _shown(values)
    spread = _numbers(drawn["value"], drawn.get("ci_low"), drawn.get("ci_high"), london_value, area_value)
    side = target_side(spread, target)
    if side is not None:
        annotations.append(target_edge_note(float(target), side=side, fmt=fmt))
    shapes = [
        _reference_shape(value=london_value, label="London", colour=LONDON_LINE_COLOUR, dash="solid", fmt=fmt),
        _reference_shape(
            value=target if side is None else None, label="Target", colour=TARGET_LINE_COLOUR, dash="dot", fmt=fmt
        ),
    ]
    # The selected area's line is named in the legend with its value, as London's is: a label on the
    # plot sat on the first group's marker.
    shapes.append(
        _reference_shape(value=area_value, label=area_label, colour=LONDON_LINE_COLOUR, dash="solid", fmt=fmt)
    )
    layout = chart_layout_settings(height=height, title=title) | {
        "xaxis": {
            "title": {"text": _glossed_title(dimension_label)},
            "type": "category",
            "categoryorder": "array",
            "categoryarray": categories,
        },
        "yaxis": _value_axis_settings(fmt, title=value_label)
        | ({"range": fitted_range(spread, target=target, side=side)} if len(spread) else {}),
        **({"scattermode": "group"} if paired else {}),
    }
    # 11 px, as the other charts' legends: in 13 px "London (62.1%)" and "Target (80.0%)" did not fit
    # side by side across a phone's plot, and took a row each.
    layout["legend"] |= {"font": {"size": 11}}
    return figure_from_dicts(traces, layout, annotations=annotations, shapes=[shape for shape in shapes if shape])


def figure_from_dicts(
    traces: list[dict], layout: dict, *, annotations: list[dict] = (), shapes: list[dict] = ()
) -> go.Figure:
    """A figure from plain trace and layout dicts, without Plotly's property validation.

    Built up call by call (add_trace, update_layout, add_shape...), Plotly re-validated and deep-copied
    the parts each call touched; validating the finished figure once still cost ~2 ms a chart, 7x the
    unvalidated construction. Skipping it is safe here because every property name and structure is a
    literal in the builders that call it and every value comes from our own code (the engine's frames,
    registry labels, computed numbers): no request input reaches a figure unchecked. The JSON sent is
    the same (Plotly serialises pandas and numpy arrays alike), and tests/unit/test_components_charts_built_once.py
    runs each builder's figure back through Plotly's validation and compares it with the call-by-call build.
    Empty lists are left out, as a figure built call by call has no annotations or shapes key then.
    """
    if annotations:
        layout["annotations"] = annotations
    if shapes:
        layout["shapes"] = shapes
    return go.Figure(data=traces, layout=layout, _validate=False)


def ranked_chart(
    *,
    values: pd.DataFrame,
    value_label: str,
    unit: str = "percent",
    london_value: float | None = None,
    target: float | None = None,
    highlight: str | None = None,
    row_height: int = 22,
    title: str | None = None,
    benchmark: str = "London",
) -> go.Figure:
    """Practices (or any areas) ranked by value, each with its 95 % CI, coloured by comparison with London.

    ``values``: the engine's rows (``area_code``, ``area_name``, ``value``, CIs,
    ``comparison``, ``suppressed``). ``highlight``: an ``area_code`` drawn in bold.
    The target and London are vertical lines. Suppressed areas are listed at the
    bottom, labelled "suppressed". No rows at all: a message instead of bare axes.
    ``benchmark``: what ``comparison`` and ``london_value`` are against, as the legend and notes name it.
    """
    if values.empty:
        return _nothing_to_rank()
    shown, hidden = _shown(values)
    names = dict(zip(values["area_code"], values["area_name"], strict=False))

    def labels(width: int) -> dict[str, str]:
        text = {code: short_label(name, width) for code, name in names.items()}
        if highlight in text:
            text[highlight] = f"<b>{text[highlight]}</b>"
        return text

    return _ranked_figure(
        shown=shown,
        suppressed_codes=hidden["area_code"].tolist(),
        tick_text=labels(LABEL_CHARS),
        phone_tick_text=labels(PHONE_RANKED_LABEL_CHARS),
        value_label=value_label,
        unit=unit,
        london_value=london_value,
        target=target,
        row_height=row_height,
        title=title,
        benchmark=benchmark,
    )


def comparison_label(comparison: str, benchmark: str = "London") -> str:
    """A legend's words for a comparison ('Better than London'), naming ``benchmark``."""
    if benchmark == "London" or comparison == "not compared":
        return COMPARISON_LABELS[comparison]
    return f"{_PHONE_COMPARISON_LABELS[comparison]} {'to' if comparison == 'similar' else 'than'} {benchmark}"


# On a phone a ranked chart's names are cut harder and drawn in 11 px (assets/narrow_charts.js): at
# LABEL_CHARS in 13 px they took ~200 of a phone's 330 px and left the rows, and the legend wrapped at
# their width, ~110 px. The comparisons are named in one word there, the lines under the axis.
PHONE_RANKED_LABEL_CHARS = 16
_PHONE_COMPARISON_LABELS = {"better": "Better", "similar": "Similar", "worse": "Worse", "not compared": "Not compared"}
_PHONE_NOTE_CHARS = 32


def _nothing_to_rank() -> go.Figure:
    return placeholder_figure(wrap_text("No areas to rank: none has patients in this period."), height=260)


def _ranked_figure(
    *,
    shown: pd.DataFrame,
    suppressed_codes: list[str],
    tick_text: dict[str, str],
    phone_tick_text: dict[str, str],
    value_label: str,
    unit: str,
    london_value: float | None,
    target: float | None,
    row_height: int,
    title: str | None,
    label_yref: str | None = None,
    benchmark: str = "London",
) -> go.Figure:
    """The ranked rows: ``shown`` by value (one trace per comparison), ``suppressed_codes`` at the bottom.

    ``tick_text``: each area code's label on the axis; ``phone_tick_text`` the shorter one for a phone's
    chart (see :func:`phone_variant`). ``label_yref``: the axis named on each "suppressed" label
    (left unset, Plotly takes the y axis).
    """
    fmt = value_format(unit)
    shown = shown.sort_values("value", ascending=True)  # Plotly draws the first row at the bottom
    # Rows are keyed by code (names can repeat) and labelled by name.
    order = suppressed_codes + shown["area_code"].tolist()
    traces = []
    comparison = shown["comparison"] if "comparison" in shown else pd.Series("not compared", index=shown.index)
    phone_names = []
    for key in ("better", "similar", "worse", "not compared"):
        rows = shown[comparison.fillna("not compared") == key]
        if rows.empty:
            continue
        phone_names.append(_PHONE_COMPARISON_LABELS[key])
        traces.append(
            {
                "type": "scatter",
                "x": rows["value"],
                "y": rows["area_code"],
                "mode": "markers",
                "name": comparison_label(key, benchmark),
                "text": rows["area_name"],
                "customdata": _hover_numbers(rows),
                "error_x": {
                    "type": "data",
                    "symmetric": False,
                    "array": (rows["ci_high"] - rows["value"]).to_numpy(dtype=float),
                    "arrayminus": (rows["value"] - rows["ci_low"]).to_numpy(dtype=float),
                    "thickness": 1.2,
                    "width": 0,
                    "color": "#768692",
                },
                "marker": {
                    "color": COMPARISON_COLOURS[key],
                    "size": 9,
                    "line": {"width": 1, "color": "#425563" if key == "not compared" else "white"},
                },
                "hovertemplate": _ci_hover(fmt, value="x"),
            }
        )
    annotations = []
    if suppressed_codes:
        traces.append(
            {
                "type": "scatter",
                "x": [None] * len(suppressed_codes),
                "y": suppressed_codes,
                "mode": "markers",
                "name": "Suppressed (1–7 patients)",
                "marker": {"color": SUPPRESSED_COLOUR, "symbol": "x"},
                "hoverinfo": "skip",
            }
        )
        annotations = [
            {
                "x": 0,
                "xref": "paper",
                "y": code,
                **({"yref": label_yref} if label_yref else {}),
                "text": "suppressed",
                "showarrow": False,
                "xanchor": "left",
                "font": {"size": 11, "color": SUPPRESSED_COLOUR},
            }
            for code in suppressed_codes
        ]
        if shown.empty:  # every row hidden: names and no points read as a broken chart unless it says why
            # At the right, clear of the "suppressed" labels at the left, and narrow enough for a phone's plot.
            annotations.append(
                {
                    "x": 1,
                    "xref": "paper",
                    "xanchor": "right",
                    "y": 0.5,
                    "yref": "paper",
                    "text": "All suppressed:<br>1–7 patients each",
                    "showarrow": False,
                    "align": "right",
                    "font": {"size": 12, "color": SUPPRESSED_COLOUR},
                }
            )
    # A far target is named at the plot's edge, not drawn (see target_side): a line at 80 % beside boroughs
    # at 56-66 % took the axis with it and squashed every interval into a strip at one side.
    drawn = _numbers(shown["value"], shown.get("ci_low"), shown.get("ci_high"))
    side = target_side(_numbers(drawn, london_value), target) if len(drawn) else None
    near_target = target if side is None else None
    if side is not None:
        annotations.append(target_edge_note(float(target), side=side, fmt=fmt, axis="x"))
    shapes = [
        shape
        for value, label, colour, dash in (
            (london_value, benchmark, LONDON_LINE_COLOUR, "solid"),
            (near_target, "Target", TARGET_LINE_COLOUR, "dot"),
        )
        if (shape := _reference_shape(value=value, label=label, colour=colour, dash=dash, fmt=fmt, axis="x"))
    ]
    # What legend_entries counts on the finished figure: named traces, and the reference lines.
    legend_rows = sum(1 for trace in traces if trace.get("showlegend") is not False and trace["name"]) + len(shapes)
    height = max(200, 90 + row_height * len(order))
    ticktext = [tick_text[code] for code in order]
    layout = chart_layout_settings(height=height, title=title, legend_rows=legend_rows) | {
        # Always: with one colour of point and the lines named under the axis (a phone's variant), Plotly
        # hid a one-entry legend, and the room kept for it was a blank band over the chart.
        "showlegend": True,
        "yaxis": {
            "type": "category",
            "categoryorder": "array",
            "categoryarray": order,
            "tickvals": order,
            "ticktext": ticktext,
            "automargin": True,
            # The rows only, as a category axis spans them: Plotly pads a marker trace's autorange by 5%
            # of the plot, which on a tall ranking left ~50 px of empty plot above the first row and below
            # the last.
            "range": [-0.6, len(order) - 0.4],
        },
        # Centred under a plot that names take half of: short lines, or the title runs off the right edge.
        "xaxis": _value_axis_settings(fmt, title=value_label, wrap=LABEL_CHARS - 6),
    }
    # Padded past a line beyond the rows: Plotly pads an axis for markers, not shapes, so a target line
    # further out than every interval sat on the plot's edge, read as its frame, with no tick to say where.
    # A far target's side keeps room for its note.
    lines = _numbers(london_value, near_target)
    if side is not None:
        layout["xaxis"]["range"] = fitted_range(_numbers(drawn, london_value), side=side)
    elif len(drawn) and len(lines) and (lines.min() < drawn.min() or lines.max() > drawn.max()):
        layout["xaxis"]["range"] = fitted_range(pd.concat([drawn, lines]))
    lines = [
        (value, label, dash)
        for value, label, dash in ((london_value, benchmark, "Solid"), (near_target, "target", "Dotted"))
        if json_safe(value) is not None
    ]
    notes = [
        "; ".join(f"{dash} line: {label} {fmt.text(value)}" for value, label, dash in lines),
        f"Colours: compared with {benchmark}",
        "Suppressed: 1–7 patients" if suppressed_codes else "",
    ]
    phone_title = with_axis_notes(layout["xaxis"]["title"]["text"], notes, width=_PHONE_NOTE_CHARS)
    layout["meta"] = phone_variant(
        layout={
            "yaxis.ticktext": (ticktext, [phone_tick_text[code] for code in order]),
            "yaxis.tickfont.size": (None, 11),
            "legend.font.size": (None, 11),
            "xaxis.title.text": (layout["xaxis"]["title"]["text"], phone_title),
            **{f"shapes[{i}].showlegend": (True, False) for i in range(len(shapes))},
        },
        data={
            "name": ([trace["name"] for trace in traces], phone_names + ["Suppressed"] * bool(suppressed_codes)),
            "showlegend": ([None] * len(traces), [None] * len(phone_names) + [False] * bool(suppressed_codes)),
        },
    )
    return figure_from_dicts(traces, layout, annotations=annotations, shapes=shapes)


def spc_chart(
    *,
    series: pd.DataFrame,
    value_label: str,
    unit: str = "percent",
    target: float | None = None,
    height: int = 420,
    title: str | None = None,
) -> go.Figure:
    """A trend with Making Data Count SPC limits and special-cause points.

    ``series``: the engine's ``trend`` rows for one area, oldest first, with
    ``period_label`` (or ``end_date``), ``value``, ``centre``, ``lower_limit``,
    ``upper_limit``, ``variation`` ('improvement'/'concern'/'special'/'common') and
    optionally CIs and ``suppressed``. Suppressed periods leave a gap in the line.
    """
    fmt = value_format(unit)
    frame = series.copy()
    labels = frame["period_label"] if "period_label" in frame else frame["end_date"].astype(str)
    frame["label"] = labels.astype(str)
    shared, frame["x"] = _common_words(frame["label"].tolist())
    shown, hidden = _shown(frame)
    if shown.empty:
        reason = "every period is suppressed (1–7 patients)" if len(hidden) else "no period has patients"
        about = f"{title}: no" if title else "No"
        return placeholder_figure(wrap_text(f"{about} trend to draw: {reason}."), height=height)
    values = pd.to_numeric(frame["value"], errors="coerce").where(~frame.index.isin(hidden.index))
    figure = go.Figure()
    for column, name, dash in (
        ("upper_limit", "Process limits (3σ)", "dot"),
        ("lower_limit", "Process limits (3σ)", "dot"),
        ("centre", "Mean", "dash"),
    ):
        if column in frame:
            figure.add_trace(
                go.Scatter(
                    x=frame["x"],
                    y=frame[column],
                    mode="lines",
                    name=name,
                    hoverinfo="skip",
                    line={
                        "color": LIMIT_998_COLOUR if column == "centre" else LIMIT_95_COLOUR,
                        "dash": dash,
                        "width": 1.3,
                        "shape": "hv" if column != "centre" else "linear",
                    },
                    legendgroup="limits",
                    showlegend=column != "lower_limit",
                )
            )
    lines = len(figure.data)
    figure.add_trace(
        go.Scatter(
            x=frame["x"],
            y=values,
            mode="lines",
            line={"color": "#aeb7bd", "width": 1.5},
            hoverinfo="skip",
            showlegend=False,
            connectgaps=False,
        )
    )
    variation = shown["variation"].fillna("common") if "variation" in shown else pd.Series("common", index=shown.index)
    drawn = []
    for key in ("common", "improvement", "concern", "special"):
        rows = shown[variation == key]
        if rows.empty:
            continue
        drawn.append(key)
        figure.add_trace(
            go.Scatter(
                x=rows["x"],
                y=rows["value"],
                mode="markers",
                name=VARIATION_LABELS[key],
                text=rows["label"],  # the whole period label, shared words and all
                customdata=_hover_numbers(rows),
                marker={
                    "color": VARIATION_COLOURS[key],
                    "size": 8 if key == "common" else 10,
                    "line": {"width": 1, "color": "white"},
                },
                hovertemplate=_ci_hover(fmt),
            )
        )
    spread = _trend_spread(frame, shown)
    side = target_side(spread, target)
    if side is None:
        _reference_line(figure, value=target, label="Target", colour=TARGET_LINE_COLOUR, dash="dot", fmt=fmt)
    # On a phone the legend lists one entry a line (six or seven lines) and left the trend a strip
    # ~100 px tall. The figure grows by the legend's lines as a phone draws them (one spare for a
    # line a page adds, e.g. the cancer operational target), so the plot keeps its height, and the
    # lines are packed (no gap between legend groups, 11 px text).
    rows = legend_entries(figure) + 1
    chart_layout(figure, height=height + _SPC_LEGEND_ROW_PX * rows, title=title)
    figure.update_layout(legend={"tracegroupgap": 0, "font": {"size": 11}})
    _value_axis(figure, fmt, title=value_label)
    # "Period: 12 months to …" read as a title cut off at the chart's edge; it is not, so it says so in words.
    figure.update_xaxes(type="category", title={"text": f"Period: {shared} the date shown" if shared else "Period"})
    _suppressed_note(figure, len(hidden), what="periods")
    if side is not None:
        figure.update_yaxes(range=fitted_range(spread, side=side))
        figure.add_annotation(target_edge_note(float(target), side=side, fmt=fmt))
    figure.layout.meta = _spc_phone_variant(
        figure, lines=lines, drawn=drawn, target=target if side is None else None, fmt=fmt
    )
    return figure


# A target further from the values than this share of their own spread (an SPC chart's points, mean and
# limits; a group chart's values and intervals) is not drawn as a line: an axis stretched to it squashed
# the values into a strip (hypertension's 58 % against its 80 % ambition used a fifth of the plot),
# hiding the variation or the gaps the chart is for. It is named at the plot's edge on its side instead.
# A nearer target is drawn, the values keeping at least two thirds of the plot.
TARGET_REACH = 0.5
_AXIS_PAD = 0.08  # of the spread, either side
_TARGET_ROOM = 0.3  # of the spread, on a far target's side: a line of text clear of the values


def _numbers(*columns) -> pd.Series:
    """Every finite number among ``columns`` (Series, lists or single values), as one Series."""
    parts = [pd.to_numeric(pd.Series(column, dtype=object), errors="coerce") for column in columns]
    values = pd.concat(parts, ignore_index=True) if parts else pd.Series(dtype=float)
    return values[np.isfinite(values.astype(float))].astype(float)


def _spread_span(spread: pd.Series) -> tuple[float, float, float]:
    low, high = float(spread.min()), float(spread.max())
    return low, high, max(high - low, abs(high) * 0.02, 1e-9)


def target_side(spread: pd.Series, target) -> str | None:
    """ "above" or "below" when ``target`` is too far from ``spread`` to share its axis (:data:`TARGET_REACH`)."""
    value = json_safe(target)
    if value is None or spread.empty:
        return None
    low, high, span = _spread_span(spread)
    distance = value - high if value > high else low - value
    if distance <= TARGET_REACH * span:
        return None
    return "above" if value > high else "below"


def fitted_range(spread: pd.Series, *, target=None, side: str | None = None) -> list[float]:
    """A value axis over ``spread`` (and a near ``target``), padded; room kept on a far target's ``side``."""
    near = json_safe(target) if side is None else None
    low, high, span = _spread_span(_numbers(spread, near))
    below = _TARGET_ROOM if side == "below" else _AXIS_PAD
    above = _TARGET_ROOM if side == "above" else _AXIS_PAD
    return [low - below * span, high + above * span]


def target_edge_note(target: float, *, side: str, fmt, axis: str = "y") -> dict:
    """The annotation naming a target off the plot, at the edge on its side (see :func:`target_side`).

    ``axis``: the value axis. "y" (a trend or groups): at the top or bottom right. "x" (a ranking, highest
    row at the top): a target above the range at the bottom right, below it at the top left, the corners
    the rows leave empty (the lowest rows' values sit at the left, the highest rows' at the right).
    """
    above = side == "above"
    arrow = ("▲" if above else "▼") if axis == "y" else ("▶" if above else "◀")
    right = above or axis == "y"
    top = above == (axis == "y")
    return {
        # Two short lines: in one, as wide as a phone's plot, it ran into the value axis's top tick label.
        "text": f"{arrow} {target_label(target, unit=fmt.unit)}<br>{side} this range",
        "align": "right" if right else "left",
        "x": 1 if right else 0,
        "xref": "paper",
        "xanchor": "right" if right else "left",
        "y": 1 if top else 0,
        "yref": "paper",
        "yanchor": "top" if top else "bottom",
        "showarrow": False,
        "font": {"size": 11, "color": TARGET_LINE_COLOUR},
    }


def _trend_spread(frame: pd.DataFrame, shown: pd.DataFrame) -> pd.Series:
    """Every value an SPC chart draws: its points, and its mean and limits where a period has them."""
    return _numbers(shown["value"], *(frame[c] for c in ("centre", "lower_limit", "upper_limit") if c in frame))


def _spc_phone_variant(figure: go.Figure, *, lines: int, drawn: list[str], target, fmt) -> dict:
    """The SPC chart on a phone (:func:`phone_variant`): a legend of the points' variation in a word or two.

    Six entries one a line took four to six rows of a phone's chart. There the limits, mean and target
    are named under the axis instead, and no legend group is left: one makes Plotly give every group a
    column of its own.
    """
    notes = ["Grey lines: mean (dashed), process limits (3σ, dotted)"]
    if json_safe(target) is not None:
        notes.append(f"Green dotted line: target {fmt.text(target)}")
    if {"improvement", "concern"} & set(drawn):
        notes.append("Improvement, concern: special cause variation")
    title = figure.layout.xaxis.title.text
    traces = figure.data[: lines + 1 + len(drawn)]  # the limits and mean, the line through the points, the points
    return phone_variant(
        layout={
            "xaxis.title.text": (title, with_axis_notes(title, notes, width=44)),
            # Upright: at Plotly's own slant a phone's eight "31 Dec 2024" labels ran into each other.
            "xaxis.tickangle": (None, -90),
            **{f"shapes[{i}].showlegend": (True, False) for i in range(len(figure.layout.shapes))},
        },
        data={
            "name": (
                [t.name for t in traces],
                [t.name for t in traces[: lines + 1]] + [PHONE_VARIATION_LABELS[k] for k in drawn],
            ),
            "legendgroup": ([t.legendgroup for t in traces], [None] * len(traces)),
            "showlegend": ([t.showlegend for t in traces], [False] * (lines + 1) + [None] * len(drawn)),
        },
    )


def _common_words(labels: list[str]) -> tuple[str, list[str]]:
    """The words every label starts with, and the labels without them (at least one word left in each).

    Rolling periods are labelled "12 months to 31 Dec 2024", ...: set on end on a phone's narrow trend
    they took most of the chart's height and were still cut off, while the words they share say nothing
    about any one period. The shared words go to the axis title instead.
    """
    words = [label.split(" ") for label in labels]
    if len(words) < 2:
        return "", labels
    shared = 0
    while all(len(w) > shared + 1 and w[shared] == words[0][shared] for w in words):
        shared += 1
    return " ".join(words[0][:shared]), [" ".join(w[shared:]) for w in words]


def uptake_curve(
    *,
    curves: pd.DataFrame,
    age_label: str = "Age (weeks)",
    value_label: str = "Vaccinated",
    unit: str = "percent",
    scheduled_age: float | None = None,
    target: float | None = None,
    height: int = 420,
    title: str | None = None,
) -> go.Figure:
    """Cumulative uptake by age (timeliness): one step line per series, with the scheduled age and the target.

    ``curves``: ``series`` (e.g. a borough or birth cohort), ``age`` and ``value``
    (cumulative share vaccinated by that age); rows with ``suppressed`` are left out.
    """
    fmt = value_format(unit)
    shown, hidden = _shown(curves)
    figure = go.Figure()
    for name, rows in shown.sort_values("age").groupby("series", sort=False):
        figure.add_trace(
            go.Scatter(
                x=rows["age"],
                y=rows["value"],
                mode="lines",
                name=str(name),
                line={"shape": "hv", "width": 2},
                hovertemplate=f"<b>{name}</b><br>{age_label}: %{{x}}<br>%{{y:{fmt.d3}}}{fmt.suffix}<extra></extra>",
            )
        )
    if json_safe(scheduled_age) is not None:
        figure.add_vline(
            x=float(scheduled_age),
            line={"color": LIMIT_998_COLOUR, "dash": "dash", "width": 1},
            annotation_text="Due",
            annotation_position="top right",
        )
    _reference_line(figure, value=target, label="Target", colour=TARGET_LINE_COLOUR, dash="dot", fmt=fmt)
    chart_layout(figure, height=height, title=title)
    _value_axis(figure, fmt, title=value_label)
    figure.update_xaxes(title={"text": age_label}, rangemode="tozero")
    figure.update_layout(hovermode="x unified")
    _suppressed_note(figure, len(hidden), what="points")
    return figure


def patient_flow_sankey(
    *,
    flows: pd.DataFrame,
    height: int = 480,
    title: str | None = None,
) -> go.Figure:
    """Patient flow between stages or trusts (e.g. referring trust -> treating trust) as a Sankey diagram.

    ``flows``: ``source``, ``target``, ``patients`` (and optionally ``suppressed``).
    Suppressed flows cannot be drawn with a width, so they are left out and counted
    in a note under the diagram.
    """
    flag = flows["suppressed"].fillna(False).astype(bool) if "suppressed" in flows else False
    hidden_mask = flag | pd.to_numeric(flows["patients"], errors="coerce").isna()
    shown, hidden = flows[~hidden_mask], flows[hidden_mask]
    nodes = list(dict.fromkeys(shown["source"].tolist() + shown["target"].tolist()))
    index = {name: i for i, name in enumerate(nodes)}
    # Room for a name beside every node of the fullest column (first seen, treated: ~20 trusts):
    # at a fixed height their names were drawn over each other. assets/sankey_labels.js hides the
    # names that still collide on a narrow screen.
    sources, targets = set(shown["source"]), set(shown["target"])
    columns = (sources - targets, sources & targets, targets - sources)
    height = max(height, _SANKEY_NODE_PX * max(len(column) for column in columns) + 80)
    figure = go.Figure(
        go.Sankey(
            arrangement="snap",
            textfont={"size": 11},
            node={
                # Short labels: whole trust names with their stage ("… University Hospitals (first seen)")
                # ran across the next column's labels, and off a phone's chart. The column already says
                # the stage; hover has the whole name.
                "label": [short_label(re.sub(r"\s*\([^)]*\)$", "", name)) for name in nodes],
                "customdata": nodes,
                "pad": 14,
                "thickness": 14,
                "color": "#005eb8",
                "hovertemplate": "<b>%{customdata}</b><br>%{value:,.0f} patients<extra></extra>",
            },
            link={
                "source": [index[s] for s in shown["source"]],
                "target": [index[t] for t in shown["target"]],
                "value": shown["patients"].astype(float).tolist(),
                "customdata": [f"{s} → {t}" for s, t in zip(shown["source"], shown["target"], strict=True)],
                "color": "rgba(0, 94, 184, 0.25)",
                "hovertemplate": "%{customdata}<br>%{value:,.0f} patients<extra></extra>",
            },
        )
    )
    chart_layout(figure, height=height, title=title)
    if len(hidden):
        figure.add_annotation(
            text=f"{len(hidden)} flows suppressed (1–7 patients), not shown",
            xref="paper",
            yref="paper",
            x=1,
            y=0,
            xanchor="right",
            yanchor="top",
            # Clear of the name of a thin node at the plot's foot, which reaches below the plot.
            yshift=-8,
            showarrow=False,
            font={"size": 11, "color": "#425563"},
        )
        figure.update_layout(margin={"b": 32})
    return figure


def ranked_areas_chart(
    *,
    values: pd.DataFrame,
    value_label: str,
    unit: str,
    target: float | None,
    highlight_codes: list[str] | tuple[str, ...] = (),
    title: str | None = None,
    benchmark: str = "London",
) -> go.Figure:
    """Areas ranked with 95 % CIs, coloured by significance against London, with ``highlight_codes`` in bold.

    The shared :func:`components.charts.ranked_chart` bolds one area; an ICB has several boroughs.
    ``benchmark``: what the rows are compared with, as the legend and notes name it.
    """
    london = values["london_value"].dropna() if "london_value" in values else pd.Series(dtype=float)
    if values.empty:
        return _nothing_to_rank()
    hidden = values["suppressed"].fillna(False).astype(bool) | pd.to_numeric(values["value"], errors="coerce").isna()
    names = dict(zip(values["area_code"], values["area_name"], strict=False))
    chosen = set(highlight_codes)

    def labels(width: int) -> dict[str, str]:
        return {
            code: f"<b>{short_label(name, width)} ◀</b>" if code in chosen else short_label(name, width)
            for code, name in names.items()
        }

    figure = _ranked_figure(
        shown=values[~hidden],
        suppressed_codes=values.loc[hidden, "area_code"].tolist(),
        tick_text=labels(LABEL_CHARS),
        phone_tick_text=labels(PHONE_RANKED_LABEL_CHARS),
        value_label=value_label,
        unit=unit,
        london_value=float(london.iloc[0]) if len(london) else None,
        target=target,
        row_height=22,
        title=title,
        label_yref="y",
        benchmark=benchmark,
    )
    if not pd.to_numeric(values["value"], errors="coerce").notna().any():
        # Nothing to plot (every area suppressed): give the axis a range, or Plotly draws NaN-sized shapes.
        figure.update_xaxes(range=[0, 100] if unit == "percent" else [0, 1.5])
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
    traces = []
    suppressed_cells = []
    for quintile, rows in values.groupby("subgroup_name", sort=True, dropna=False):
        label = "IMD unknown" if pd.isna(quintile) else str(quintile)
        hidden = rows["suppressed"].fillna(False).astype(bool) | pd.to_numeric(rows["value"], errors="coerce").isna()
        suppressed_cells += [f"{name} · {label}" for name in rows.loc[hidden, "area_name"]]
        shown = rows[~hidden]
        value = pd.to_numeric(shown["value"], errors="coerce")
        traces.append(
            {
                "type": "scatter",
                "x": shown["area_name"],
                "y": value,
                "mode": "markers",
                "name": _legend_quintile(label),
                "meta": label,  # the whole quintile name, for whoever reads the figure
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": (pd.to_numeric(shown["ci_high"]) - value).to_numpy(dtype=float),
                    "arrayminus": (value - pd.to_numeric(shown["ci_low"])).to_numpy(dtype=float),
                    "thickness": 1.2,
                    "width": 3,
                },
                "customdata": shown[["ci_low", "ci_high", "numerator", "denominator"]]
                .apply(pd.to_numeric, errors="coerce")
                .to_numpy(dtype=float),
                "hovertemplate": (
                    f"<b>%{{x}} · {label}</b><br>%{{y:{fmt.d3}}}{fmt.suffix} (95% CI %{{customdata[0]:{fmt.d3}}}–"
                    f"%{{customdata[1]:{fmt.d3}}}{fmt.suffix})<br>%{{customdata[2]:,.0f}} of "
                    "%{customdata[3]:,.0f}<extra></extra>"
                ),
                "marker": {"size": 9},
            }
        )
    # The area's and the target's lines are named under the axis, not on the plot (a label there sat on
    # the first ethnic group's markers) nor in the legend (eight entries took four rows on a phone).
    drawn, _ = _shown(values)
    spread = _numbers(drawn["value"], drawn["ci_low"], drawn["ci_high"], area_value)
    side = target_side(spread, target)
    lines = [
        (value, text, colour, dash)
        for value, text, colour, dash in (
            (area_value, area_label, LONDON_LINE_COLOUR, "solid"),
            (target if side is None else None, "target", TARGET_LINE_COLOUR, "dot"),
        )
        if json_safe(value) is not None
    ]
    shapes = [
        {
            "type": "line",
            "xref": "paper",
            "x0": 0,
            "x1": 1,
            "yref": "y",
            "y0": json_safe(value),
            "y1": json_safe(value),
            "line": {"color": colour, "width": 1.5, "dash": dash},
        }
        for value, _, colour, dash in lines
    ]
    named = [
        f"{'Solid' if dash == 'solid' else 'Dotted'} line: {name} {fmt.text(value)}" for value, name, _, dash in lines
    ]
    notes = ["Q1 most deprived, Q5 least", *(["; ".join(named)] if named else [])]
    order = [
        g
        for g in ("White", "Mixed", "Asian", "Black", "Other", "Not stated", "Unknown")
        if g in set(values["area_name"])
    ]
    axis_title = _with_suppressed_note("Ethnic group", len(suppressed_cells), what="cells")
    layout = chart_layout_settings(height=height) | {
        "xaxis": {
            "title": {"text": with_axis_notes(axis_title, notes, width=44)},
            "type": "category",
            "categoryorder": "array",
            "categoryarray": order,
        },
        # Set from the values: Plotly's autorange of grouped markers runs from 0 (see inequality_chart).
        "yaxis": {"title": {"text": value_label}, "tickformat": fmt.axis_format, "ticksuffix": fmt.axis_suffix}
        | ({"range": fitted_range(spread, target=target, side=side)} if len(spread) else {}),
        "scattermode": "group",
    }
    # Short names in 11 px, no gaps: Plotly wraps a legend at the plot's width in columns as wide as its
    # widest entry, and "Q5 (least deprived)" made that one entry a row (six rows) on a phone.
    layout["legend"] |= {"tracegroupgap": 0, "font": {"size": 11}}
    notes_on_plot = [target_edge_note(float(target), side=side, fmt=fmt)] if side else []
    return figure_from_dicts(traces, layout, shapes=shapes, annotations=notes_on_plot)


def _legend_quintile(label: str) -> str:
    """A quintile's legend name without its gloss: "Q1 (most deprived)" -> "Q1" (the axis note says which end)."""
    # Anything but a quintile is an unknown IMD (the engine says "Unknown", a missing value "IMD unknown").
    return label.split(" (")[0] if re.match(r"Q\d", label) else "No IMD"


def empty_message_figure(text: str, *, height: int = 360) -> go.Figure:
    """A figure that says why nothing is drawn (no bare axes), the message wrapped to fit a phone."""
    return placeholder_figure(wrap_text(text, PHONE_MESSAGE_CHARS), height=height)


def placeholder_figure(text: str = "Loading…", *, height: int = 420) -> go.Figure:
    """A figure that says what is coming (no bare axes) until a callback sends the real one."""
    # A page render draws one for each of its charts: built once from dicts, not validated (figure_from_dicts).
    layout = base_layout(height=height) | {"xaxis": {"visible": False}, "yaxis": {"visible": False}}
    message = {
        "text": text,
        "x": 0.5,
        "y": 0.5,
        "xref": "paper",
        "yref": "paper",
        "showarrow": False,
        "font": {"size": 14, "color": "#425563"},
    }
    return figure_from_dicts([], layout, annotations=[message])


def warm_plotly() -> None:
    """Build and serialise one tiny figure of every trace type the pages draw.

    plotly makes its trace and layout classes on first use (0.1-0.25 s in all); a serving process
    does it at start so the first visitor's chart does not pay for it.
    """
    traces = [
        go.Scatter(x=[0], y=[0]),
        go.Bar(x=[0], y=[0]),
        go.Heatmap(z=[[0]]),
        go.Sankey(node={"label": ["a", "b"]}, link={"source": [0], "target": [1], "value": [1]}),
        go.Scattermap(lat=[51.5], lon=[-0.1]),
        go.Choroplethmap(geojson={"type": "FeatureCollection", "features": []}, locations=[], z=[]),
    ]
    apply_base_layout(go.Figure(traces), height=300).to_plotly_json()
