"""Charts built from plain dicts and validated once send the browser the same figure as Plotly's call-by-call API.

Each reference below builds the chart the way the builders did before (``add_trace``, ``add_hline``,
``add_annotation``, ``update_layout`` passes), so a change to either side that alters the figure fails.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from components import charts
from components import immunisation_views as views
from components.hypertension_views import people_to_target_chart
from components.immunisation_views import count_bar_chart, practice_comparison_chart
from components.style import SUPPRESSED_COLOUR, TARGET_LINE_COLOUR, TEMPLATE, value_format
from queries import stats


def sent(figure: go.Figure) -> dict:
    """The figure as Dash serialises it, without an empty title object (Plotly.js reads it as no title)."""
    payload = json.loads(pio.to_json(figure, validate=False))
    if payload["layout"].get("title") == {}:
        del payload["layout"]["title"]
    return payload


def engine_rows(values: list[float | None], names: list[str]) -> pd.DataFrame:
    value = pd.Series(values, dtype=float)
    return pd.DataFrame(
        {
            "area_name": names,
            "numerator": value * 3,
            "denominator": np.where(value.isna(), np.nan, 300.0),
            "value": value,
            "ci_low": value - 4,
            "ci_high": value + 6,
            "suppressed": value.isna(),
        }
    )


def base_layout_call_by_call(figure: go.Figure, *, height: int, title: str | None) -> None:
    """The three update_layout passes chart_layout made before it merged them into one."""
    wrapped = charts.wrap_text(title) if title else None
    lines = wrapped.count("<br>") + 1 if wrapped else 0
    title_px = 8 + 20 * lines if lines else 0
    figure.update_layout(
        template=TEMPLATE,
        height=height,
        margin={"l": 8, "r": 8, "t": 40 if wrapped else 8, "b": 8},
        title={"text": wrapped, "x": 0, "xanchor": "left", "font": {"size": 15}, "pad": {"l": 8}} if wrapped else None,
        hovermode="closest",
    )
    if wrapped:
        figure.update_layout(
            title={"yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 8 + (12 if lines > 1 else 0)}}
        )
    legend = {"orientation": "h", "xref": "container", "x": 0, "xanchor": "left", "yref": "container"}
    figure.update_layout(
        margin={"t": title_px + 8}, legend=legend | {"y": 1 - (title_px + 2) / height, "yanchor": "top"}
    )


@pytest.mark.parametrize("unit", ["percent", "ratio", "proportion"])
@pytest.mark.parametrize("title", [None, "Blood pressure controlled by deprivation quintile of the practice"])
def test_inequality_chart_matches_the_call_by_call_figure(unit, title):
    values = engine_rows([61.0, None, 58.5, 55.0], ["Q1 (most deprived)", "Q2", "Q3", "Q4"])
    figure = charts.inequality_chart(
        values=values, value_label="Controlled (%)", dimension_label="IMD quintile", unit=unit,
        london_value=59.0, target=80.0, height=360, title=title, area_value=57.5, area_label="Brent",
    )  # fmt: skip

    fmt = value_format(unit)
    shown = values[values["value"].notna()]
    reference = go.Figure()
    reference.add_trace(
        go.Scatter(
            x=shown["area_name"], y=shown["value"], mode="markers", name="Controlled (%)", showlegend=False,
            text=shown["area_name"], customdata=shown[["ci_low", "ci_high", "numerator", "denominator"]].to_numpy(),
            error_y={
                "type": "data", "symmetric": False, "array": (shown["ci_high"] - shown["value"]).to_numpy(),
                "arrayminus": (shown["value"] - shown["ci_low"]).to_numpy(), "thickness": 1.5, "width": 4,
            },
            marker={"size": 10, "symbol": "circle"}, hovertemplate=charts._ci_hover(fmt),
        )
    )  # fmt: skip
    reference.add_annotation(
        x="Q2", y=0, yref="paper", yanchor="bottom", text="suppressed", showarrow=False,
        font={"size": 11, "color": charts.SUPPRESSED_COLOUR}, textangle=-90,
    )  # fmt: skip
    # The 80 target is 13 above the values and intervals (51-67): named at the top edge, not drawn.
    reference.add_annotation(
        text=f"▲ Target {fmt.text(80.0)}<br>above this range", align="right", x=1, xref="paper", xanchor="right", y=1,
        yref="paper", yanchor="top", showarrow=False, font={"size": 11, "color": "#007f3b"},
    )  # fmt: skip
    for value, label, colour, dash in (
        (59.0, "London", "#212b32", "solid"),
        (57.5, "Brent", "#212b32", "solid"),  # the selected area: named in the legend like London
    ):
        line = {"color": colour, "width": 1.5, "dash": dash}
        reference.add_hline(y=value, line=line, name=f"{label} ({fmt.text(value)})", showlegend=True)
    base_layout_call_by_call(reference, height=360, title=title)
    reference.update_xaxes(
        title={"text": "IMD quintile"}, type="category", categoryorder="array", categoryarray=list(values["area_name"])
    )
    tick_format = "" if fmt.axis_format == ".0f" else fmt.axis_format
    reference.update_yaxes(
        title={"text": "Controlled (%)"}, tickformat=tick_format, ticksuffix=fmt.axis_suffix,
        range=[51.0 - 0.08 * 16.0, 67.0 + 0.3 * 16.0],  # the values, and room for the target's note
    )  # fmt: skip
    reference.update_layout(legend={"font": {"size": 11}})

    assert sent(figure) == sent(reference)


def test_intersection_chart_matches_the_call_by_call_figure():
    values = pd.concat(
        [
            engine_rows([60.0, 50.0, None], ["White", "Black", "Asian"]).assign(subgroup_name="Q1 (most deprived)"),
            engine_rows([65.0, 55.0, 52.0], ["White", "Black", "Asian"]).assign(subgroup_name="Q5 (least deprived)"),
        ],
        ignore_index=True,
    )
    figure = charts.intersection_chart(
        values=values, value_label="Controlled (%)", unit="percent", area_value=58.0, area_label="Brent", target=80.0
    )

    fmt = value_format("percent")
    reference = go.Figure()
    for quintile, rows in values.groupby("subgroup_name", sort=True):
        shown = rows[rows["value"].notna()]
        reference.add_trace(
            go.Scatter(
                x=shown["area_name"], y=shown["value"], mode="markers", name=quintile.split(" (")[0], meta=quintile,
                error_y={
                    "type": "data", "symmetric": False, "array": (shown["ci_high"] - shown["value"]).to_numpy(),
                    "arrayminus": (shown["value"] - shown["ci_low"]).to_numpy(), "thickness": 1.2, "width": 3,
                },
                customdata=shown[["ci_low", "ci_high", "numerator", "denominator"]].to_numpy(),
                hovertemplate=(
                    f"<b>%{{x}} · {quintile}</b><br>%{{y:{fmt.d3}}}{fmt.suffix} (95% CI %{{customdata[0]:{fmt.d3}}}–"
                    f"%{{customdata[1]:{fmt.d3}}}{fmt.suffix})<br>%{{customdata[2]:,.0f}} of "
                    "%{customdata[3]:,.0f}<extra></extra>"
                ),
                marker={"size": 9},
            )
        )  # fmt: skip
    # The lines are named under the axis, not labelled on the plot.
    for value, colour, dash in ((58.0, "#212b32", "solid"), (80.0, "#007f3b", "dot")):
        reference.add_shape(
            type="line", xref="paper", x0=0, x1=1, yref="y", y0=value, y1=value,
            line={"color": colour, "width": 1.5, "dash": dash},
        )  # fmt: skip
    base_layout_call_by_call(reference, height=440, title=None)
    reference.update_layout(legend={"tracegroupgap": 0, "font": {"size": 11}})
    notes = [
        "1 cell suppressed (1–7 patients), not shown",
        "Q1 most deprived, Q5 least",
        "Solid line: Brent 58.0%; Dotted line: target<br>80.0%",
    ]
    styled = "".join(f"<br><span style='font-size:11px;color:#425563'>{note}</span>" for note in notes)
    reference.update_xaxes(
        title={"text": f"Ethnic group{styled}"}, type="category", categoryorder="array",
        categoryarray=["White", "Asian", "Black"],
    )  # fmt: skip
    # Values and intervals 46-71 with the target near enough (80) to share the axis.
    reference.update_yaxes(
        title={"text": "Controlled (%)"},
        tickformat=".0f",
        ticksuffix="%",
        range=[46.0 - 0.08 * 34.0, 80.0 + 0.08 * 34.0],
    )
    reference.update_layout(scattermode="group")

    assert sent(figure) == sent(reference)


@pytest.mark.parametrize("axis", ["x", "y"])
def test_reference_lines_are_the_shapes_plotlys_hline_and_vline_add(axis):
    fmt = value_format("percent")
    added = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    charts._reference_line(added, value=80.0, label="Target", colour="#007f3b", dash="dot", fmt=fmt, axis=axis)
    reference = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    line = {"color": "#007f3b", "width": 1.5, "dash": "dot"}
    spanning = reference.add_hline if axis == "y" else reference.add_vline
    spanning(80.0, line=line, name="Target (80.0%)", showlegend=True)
    assert sent(added) == sent(reference)


def test_ranked_areas_chart_matches_the_call_by_call_figure():
    values = engine_rows([61.0, None, 58.5, 70.0], ["Brent", "Barnet", "Camden", "Ealing"]).assign(
        area_code=["B1", "B2", "B3", "B4"], comparison=["similar", None, "worse", "better"], london_value=60.0
    )
    figure = charts.ranked_areas_chart(
        values=values, value_label="Controlled (%)", unit="percent", target=80.0, highlight_codes=["B3"], title="Ranked"
    )

    fmt = value_format("percent")
    reference = go.Figure()
    for key, code in (("better", "B4"), ("similar", "B1"), ("worse", "B3")):
        row = values[values["area_code"] == code]
        reference.add_trace(
            go.Scatter(
                x=row["value"], y=row["area_code"], mode="markers", name=charts.COMPARISON_LABELS[key],
                text=row["area_name"], customdata=row[["ci_low", "ci_high", "numerator", "denominator"]].to_numpy(),
                error_x={
                    "type": "data", "symmetric": False, "array": (row["ci_high"] - row["value"]).to_numpy(),
                    "arrayminus": (row["value"] - row["ci_low"]).to_numpy(), "thickness": 1.2, "width": 0,
                    "color": "#768692",
                },
                marker={"color": charts.COMPARISON_COLOURS[key], "size": 9, "line": {"width": 1, "color": "white"}},
                hovertemplate=charts._ci_hover(fmt, value="x"),
            )
        )  # fmt: skip
    reference.add_trace(
        go.Scatter(
            x=[None], y=["B2"], mode="markers", name="Suppressed (1–7 patients)",
            marker={"color": charts.SUPPRESSED_COLOUR, "symbol": "x"}, hoverinfo="skip",
        )
    )  # fmt: skip
    reference.add_annotation(
        x=0, xref="paper", y="B2", yref="y", text="suppressed", showarrow=False, xanchor="left",
        font={"size": 11, "color": charts.SUPPRESSED_COLOUR},
    )  # fmt: skip
    for value, label, colour, dash in ((60.0, "London", "#212b32", "solid"), (80.0, "Target", "#007f3b", "dot")):
        line = {"color": colour, "width": 1.5, "dash": dash}
        reference.add_vline(x=value, line=line, name=f"{label} ({fmt.text(value)})", showlegend=True)
    # Four rows of 22 px, and room for the legend's six entries and the title above them.
    base_layout_call_by_call(reference, height=max(200, 90 + 22 * 4) + 20 * 6 + 28, title="Ranked")
    order = ["B2", "B3", "B1", "B4"]  # suppressed first (the bottom row), then by value
    reference.update_yaxes(
        type="category", categoryorder="array", categoryarray=order, tickvals=order, automargin=True,
        ticktext=["Barnet", "<b>Camden ◀</b>", "Brent", "Ealing"], range=[-0.6, 3.6],
    )  # fmt: skip
    # The values, intervals and both lines (54.5-80), padded: the target line is not on the plot's edge.
    reference.update_xaxes(
        title={"text": "Controlled (%)"}, tickformat="", ticksuffix="%", range=[54.5 - 0.08 * 25.5, 80.0 + 0.08 * 25.5]
    )
    # The phone variant (what assets/narrow_charts.js redraws) is judged in the browser: test_chart_text_check.py.
    reference.update_layout(meta=figure.layout.meta, showlegend=True)

    assert sent(figure) == sent(reference)


def funnel_call_by_call(points, limits, *, london_value, value_label, unit, polarity, title, benchmark="London"):
    """funnel_plot as it was built before figure_from_dicts: add_trace per trace, then layout passes."""
    fmt = value_format(unit)
    shown, hidden = charts._shown(points)
    figure = go.Figure()
    for column, name, colour, dash in (
        ("998", "99.8% limits", charts.LIMIT_998_COLOUR, "solid"),
        ("95", "95% limits", charts.LIMIT_95_COLOUR, "dash"),
    ):
        for side in ("upper", "lower"):
            figure.add_trace(
                go.Scatter(
                    x=limits["denominator"],
                    y=limits[f"{side}_{column}"],
                    mode="lines",
                    name=name,
                    line={"color": colour, "width": 1.2, "dash": dash, "shape": "spline"},
                    showlegend=False,
                    hoverinfo="skip",
                )
            )
    inside = ~shown["funnel"].isin(charts.FUNNEL_OUTSIDE)
    figure.add_trace(
        go.Scatter(
            x=shown.loc[inside, "denominator"],
            y=shown.loc[inside, "value"],
            mode="markers",
            name="Inside limits",
            text=shown.loc[inside, "area_name"],
            customdata=charts._hover_numbers(shown[inside]),
            marker={"color": charts.POINT_COLOUR, "size": 7, "opacity": 0.55, "line": {"width": 0}},
            hovertemplate=charts._ci_hover(fmt),
        )
    )
    centre = charts.json_safe(london_value)
    outliers = shown[~inside]
    distance = (outliers["value"] - (centre if centre is not None else outliers["value"].median())).abs()
    denominators = pd.concat([shown["denominator"], limits["denominator"]]).pipe(pd.to_numeric, errors="coerce")
    span_low, span_high = 0.0, float(denominators.max()) if denominators.notna().any() else 1.0
    span = pd.concat([shown["value"], pd.Series([centre], dtype=float)]).dropna()
    pad = max((span.max() - span.min()) * 0.08, 1e-9) if len(span) else 0.0
    value_range = (float(span.min() - pad), float(span.max() + pad)) if len(span) else None
    labelled = charts._spaced_labels(
        outliers.loc[distance.sort_values(ascending=False).index],
        denominator_span=(span_low, span_high),
        denominator_max=span_high,
        value_range=value_range,
        limit=5,
    )
    for side, label in (("above 99.8", "Above 99.8%"), ("below 99.8", "Below 99.8%")):
        rows = shown[shown["funnel"] == side]
        better = (side == "above 99.8") == (polarity != "low")
        figure.add_trace(
            go.Scatter(
                x=rows["denominator"],
                y=rows["value"],
                mode="markers+text",
                name=label,
                text=[
                    charts.short_label(name) if index in labelled else "" for index, name in rows["area_name"].items()
                ],
                hovertext=rows["area_name"],
                customdata=charts._hover_numbers(rows),
                textposition=charts._label_sides(rows["denominator"], span_low, span_high),
                textfont={"size": 10},
                marker={
                    "color": charts.COMPARISON_COLOURS["better" if better else "worse"],
                    "size": 9,
                    "line": {"width": 1, "color": "white"},
                },
                hovertemplate=charts._ci_hover(fmt).replace("%{text}", "%{hovertext}"),
            )
        )
    charts._reference_line(
        figure, value=london_value, label=benchmark, colour=charts.LONDON_LINE_COLOUR, dash="solid", fmt=fmt
    )
    charts.chart_layout(figure, height=480, title=title)
    figure.update_layout(legend={"tracegroupgap": 0, "font": {"size": 11}})
    charts._value_axis(figure, fmt, title=value_label)
    if value_range:
        figure.update_yaxes(range=list(value_range))
    figure.update_xaxes(
        title={"text": f"Denominator (patients)<br>{charts.FUNNEL_LIMITS_CAPTION}"}, rangemode="tozero", tickformat=","
    )
    charts._suppressed_note(figure, len(hidden))
    return figure


def funnel_inputs(*, hidden: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Practices around 80 % with two far outliers (labelled) and, when ``hidden``, two suppressed."""
    rng = np.random.default_rng(3)
    denominator = rng.integers(40, 900, 60).astype(float)
    value = 80 + rng.normal(0, 2, 60)
    value[[3, 7]] = [97.0, 55.0]
    if hidden:
        value[[10, 11]] = np.nan
    # Limits and classes as the engine makes them (queries.indicators.funnel_limits), around 80 %.
    funnel = stats.funnel_class(value / 100, denominator, stats.binomial_funnel_bounds(denominator, 0.8))
    points = engine_rows(list(value), [f"Practice {i} Surgery" for i in range(60)]).assign(
        denominator=denominator, funnel=funnel
    )
    limits = stats.funnel_limits_table(0.8, denominator.max())
    limits[["lower_95", "upper_95", "lower_998", "upper_998"]] *= 100
    return points, limits


@pytest.mark.parametrize("hidden", [False, True], ids=["all shown", "two suppressed"])
@pytest.mark.parametrize(("unit", "polarity", "title"), [("percent", "high", None), ("ratio", "low", "By practice")])
def test_funnel_plot_matches_the_call_by_call_figure(hidden, unit, polarity, title):
    points, limits = funnel_inputs(hidden=hidden)
    kwargs = {"london_value": 80.0, "value_label": "Coverage (%)", "unit": unit, "polarity": polarity, "title": title}
    figure = charts.funnel_plot(points=points, limits=limits, **kwargs)
    assert sent(figure) == sent(funnel_call_by_call(points, limits, **kwargs))
    assert any(text for trace in figure.data[5:] for text in trace.text)  # outliers are named


def gp_comparison_frame(*, practice_values: list[float | None], suppressed: list[bool]) -> pd.DataFrame:
    """practice_comparison rows for one vaccine per practice value: the practice, its PCN, borough and London."""
    rows = []
    for index, (value, hidden) in enumerate(zip(practice_values, suppressed, strict=True)):
        for level, level_value in (("Practice", value), ("PCN", 88.0 - index), ("Borough", 85.0), ("London", 86.5)):
            rows.append(
                {
                    "title": f"Vaccine {index} by 24 months with a long name",
                    "level": level,
                    "value": None if level == "Practice" and hidden else level_value,
                    "ci_low": None if level_value is None else level_value - 5,
                    "ci_high": None if level_value is None else min(level_value + 3, 100.0),
                    "suppressed": hidden and level == "Practice",
                }
            )
    return pd.DataFrame(rows)


def practice_comparison_call_by_call(
    *,
    frame: pd.DataFrame,
    unit: str = "percent",
    target: float | None = 95.0,
    height: int | None = None,
    title: str | None = None,
) -> go.Figure:
    """The GP comparison chart as practice_comparison_chart built it before, call by call."""
    fmt = value_format(unit)
    order = list(dict.fromkeys(frame["title"]))[::-1]  # Plotly draws the first category at the bottom
    floor = views._axis_floor(frame)
    figure = go.Figure()
    for level, colour in views.LEVEL_COLOURS.items():
        rows = frame[(frame["level"].astype(str) == level)]
        shown = rows[~rows["suppressed"].fillna(False).astype(bool) & pd.to_numeric(rows["value"]).notna()]
        if shown.empty:
            continue
        with_ci = level == "Practice" and {"ci_low", "ci_high"} <= set(shown.columns)
        values = pd.to_numeric(shown["value"]).to_numpy(dtype=float)
        figure.add_trace(
            go.Scatter(
                x=values,
                y=shown["title"],
                mode="markers",
                name=level,
                # A practice at 100% sits 1 point from the axis end: clipped, half its marker was cut off.
                cliponaxis=False,
                marker={
                    "color": colour,
                    "symbol": views.LEVEL_SYMBOLS[level],
                    "size": 11 if level == "Practice" else 9,
                    "line": {"width": 2 if level == "London" else 1, "color": colour if level == "London" else "white"},
                },
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": (pd.to_numeric(shown["ci_high"]) - values).to_numpy(dtype=float),
                    "arrayminus": (values - pd.to_numeric(shown["ci_low"])).to_numpy(dtype=float),
                    "color": colour,
                    "thickness": 1.2,
                    "width": 3,
                }
                if with_ci
                else None,
                hovertemplate=f"<b>%{{y}}</b><br>{level}: %{{x:{fmt.d3}}}{fmt.suffix}<extra></extra>",
            )
        )
    practice = frame[frame["level"].astype(str) == "Practice"]
    suppressed = practice["suppressed"].fillna(False).astype(bool)
    hidden = practice[suppressed | pd.to_numeric(practice["value"]).isna()]
    # Say which it is: a user who may see the practice's patients gets its 1-7 counts, so only "no children".
    reasons = [
        reason
        for reason, present in (
            ("no children", (~suppressed[hidden.index]).any()),
            ("1–7 (suppressed)", suppressed.any()),
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
    if len(hidden):
        name = f"Practice not shown ({len(hidden)} of {len(order)}):<br>{', or '.join(reasons)}"
        figure.add_trace(
            go.Scatter(
                x=[floor + (101 - floor) * 0.03] * len(hidden),  # clear of the axis line
                y=hidden["title"],
                mode="markers",
                name=name,
                showlegend=False,
                marker={"color": SUPPRESSED_COLOUR, "symbol": "x-thin", "size": 9, "line": {"width": 2}},
                hovertemplate="<b>%{y}</b><br>Practice: no children or suppressed (1–7)<extra></extra>",
            )
        )
        notes.append(f"× {name.replace('<br>', ' ')}")
    if target is not None:
        figure.add_vline(x=target, line={"color": TARGET_LINE_COLOUR, "dash": "dot", "width": 1.5})
        notes.insert(0, f"Dotted line: target ({fmt.text(target)})")
    wrapped = [charts.wrap_text(note, 30) for note in notes]
    if height:
        charts.chart_layout(figure, height=height, title=title)
    else:
        note_px = views._NOTE_LINE_PX * sum(note.count("<br>") + 1 for note in wrapped)
        legend_rows = min(charts.legend_entries(figure), views._PHONE_LEGEND_ROWS)
        charts.chart_layout(figure, height=90 + 34 * len(order) + note_px, title=title, legend_rows=legend_rows)
    figure.update_layout(legend={"tracegroupgap": 0, "font": {"size": 11}})
    # Vaccine names keep their ending ("by 24 months" vs "by 5 years"): wrapped onto two lines, not cut.
    figure.update_yaxes(
        type="category",
        categoryorder="array",
        categoryarray=order,
        tickvals=order,
        ticktext=[views._two_lines(name) for name in order],
        tickfont={"size": 11},
        automargin=True,
    )
    figure.update_xaxes(
        title={"text": charts.with_axis_notes("Coverage", wrapped)}, ticksuffix=fmt.axis_suffix, range=[floor, 101]
    )
    return figure


@pytest.mark.parametrize(
    ("practice_values", "suppressed"),
    [([91.0, 62.5, 100.0], [False] * 3), ([91.0, None, None, 70.0], [False, True, False, False]), ([None], [True])],
    ids=["all shown", "suppressed and empty", "nothing shown"],
)
@pytest.mark.parametrize(("target", "height", "title"), [(95.0, None, None), (None, 400, "Every vaccine")])
def test_gp_comparison_chart_matches_the_call_by_call_figure(practice_values, suppressed, target, height, title):
    frame = gp_comparison_frame(practice_values=practice_values, suppressed=suppressed)
    kwargs = {"target": target, "height": height, "title": title}
    figure = practice_comparison_chart(frame=frame, **kwargs)
    assert sent(figure) == sent(practice_comparison_call_by_call(frame=frame, **kwargs))


def _unvalidated_builds() -> dict[str, go.Figure]:
    values = engine_rows([61.0, None, 58.5], ["Brent", "Barnet", "Camden"]).assign(
        area_code=["B1", "B2", "B3"], comparison=["similar", None, "not compared"], london_value=60.0
    )
    everything_hidden = values.assign(value=np.nan, suppressed=True)
    pair = pd.concat(
        [values.assign(subgroup_name="Q1"), values.assign(area_name="Ealing", subgroup_name=[None, "Q2", "Q3"])]
    )
    counts = pd.DataFrame({"practice": ["P1", "P2", "P3", "P4"], "children": [40.0, None, 15.0, 90.0]})
    points, limits = funnel_inputs(hidden=True)
    return {
        "placeholder": charts.placeholder_figure("Choose a borough above.", height=300),
        "funnel": charts.funnel_plot(points=points, limits=limits, london_value=80.0, value_label="v", title="T"),
        "funnel, no centre": charts.funnel_plot(points=points, limits=limits, london_value=None, value_label="v"),
        "people to target": people_to_target_chart(
            table=pd.DataFrame({"area_name": ["A", "B"], "control_to_80": [5.0, None], "to_detect_80": [3.0, 9.0]})
        ),
        "gp comparison": practice_comparison_chart(
            frame=gp_comparison_frame(practice_values=[91.0, None], suppressed=[False, True])
        ),
        "count bars": count_bar_chart(frame=counts, label_column="practice", axis_label="Children", max_bars=2),
        "ranked": charts.ranked_chart(values=values, value_label="v", london_value=60.0, target=80.0, highlight="B3"),
        "ranked areas": charts.ranked_areas_chart(values=values, value_label="v", unit="ratio", target=None),
        "ranked, all suppressed": charts.ranked_areas_chart(
            values=everything_hidden, value_label="v", unit="percent", target=80.0
        ),
        "inequality pair": charts.inequality_chart(values=pair, value_label="v", dimension_label="IMD", title="T"),
        "intersection": charts.intersection_chart(
            values=pair.rename(columns={"area_name": "x"}).assign(area_name=["White", "Black", "Unknown"] * 2),
            value_label="v",
            unit="proportion",
            area_value=None,
            area_label="London",
            target=0.8,
        ),
    }


@pytest.mark.parametrize("name", list(_unvalidated_builds()))
def test_figures_built_without_validation_pass_plotlys_validation_unchanged(name):
    """Plotly's validators accept every property the dict builders set, and change none of their values."""
    figure = _unvalidated_builds()[name]
    validated = go.Figure(
        data=[trace.to_plotly_json() for trace in figure.data], layout=figure.layout.to_plotly_json()
    )  # raises on an unknown property or an invalid value
    assert sent(validated) == sent(figure)
