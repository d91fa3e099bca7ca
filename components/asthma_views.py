"""Figures and tables of the asthma page that the shared components lack (no SQL: frames in, figures out).

- :func:`measure_map`: the choropleth at any level (borough, practice area, LSOA) for a page measure,
  diverging around London when the measure has a better direction;
- :func:`linked_admissions_chart`: per area, the share of emergency-admitted patients whose year
  before admission held SABA over-reliance, no review or no action plan, with 95 % intervals;
- table builders that give exactly what a table shows and its CSV exports.

Suppressed rows (disclosure control) are never drawn as numbers.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from components.charts import chart_layout, wrap_text
from components.geometry import geometry_url
from components.maps import area_figure, indicator_traces
from components.style import SUPPRESSED_NOTE, formatted, whole_number

LINKED_COLOURS = {"saba_over": "#ae2573", "no_review": "#ed8b00", "no_plan": "#005eb8", "any_gap": "#212b32"}


def measure_map(
    *, level: str, values: pd.DataFrame, value_label: str, unit: str, polarity: str, height: int = 520
) -> go.Figure:
    """The page measure at ``level`` ('borough', 'practice' or 'lsoa'), diverging around London when it
    has a better direction (purple better), sequential otherwise (darker = higher)."""
    traces = indicator_traces(level=level, values=values, value_label=value_label, unit=unit, polarity=polarity)
    # Geometry by URL: the browser fetches and caches each level's boundaries once (the LSOA map's would
    # otherwise be ~1.4 MB inside every level change's figure, and most of that call's time to serialise).
    return area_figure(traces, level=level, outlines=True, height=height, geometry_url=geometry_url(level))


def linked_admissions_chart(*, values: pd.DataFrame, height_per_area: int = 46, title: str | None = None) -> go.Figure:
    """Horizontal bars per area (rows in the order given) and measure, each with its 95 % interval.

    ``values``: :func:`queries.asthma.linked_admissions` rows (area_name, measure, measure_label, value,
    ci_low, ci_high, numerator, denominator, suppressed). Areas with every measure suppressed are listed in a
    note, and those with some: an area keeps its row while any of its bars is drawn.
    """
    suppressed = values["suppressed"].astype(bool)
    shown = values[~suppressed]
    every_suppressed = suppressed.groupby(values["area_name"], sort=False).all()
    hidden = pd.Series(every_suppressed.index[every_suppressed.to_numpy()])
    partly = [name for name in values.loc[suppressed, "area_name"].drop_duplicates() if name not in set(hidden)]
    areas = list(dict.fromkeys(values["area_name"]))
    figure = go.Figure()
    for measure, rows in shown.groupby("measure", sort=False):
        value = pd.to_numeric(rows["value"], errors="coerce")
        low = pd.to_numeric(rows["ci_low"], errors="coerce")
        high = pd.to_numeric(rows["ci_high"], errors="coerce")
        figure.add_trace(
            go.Bar(
                x=value,
                y=rows["area_name"],
                orientation="h",
                name=rows["measure_label"].iloc[0],
                marker_color=LINKED_COLOURS.get(measure, "#768692"),
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": high - value,
                    "arrayminus": value - low,
                    "color": "#425563",
                    "thickness": 1,
                },
                customdata=list(zip(low, high, rows["numerator"], rows["denominator"], strict=True)),
                hovertemplate="%{y}<br>%{x:.1f}% (95% CI %{customdata[0]:.1f} to %{customdata[1]:.1f})"
                "<br>%{customdata[2]:,.0f} of %{customdata[3]:,.0f} admitted<extra>%{fullData.name}</extra>",
            )
        )
    height = max(260, 90 + height_per_area * max(1, len([a for a in areas if a not in set(hidden)])))
    # The legend on the figure's container with room kept for it (chart_layout), a row an entry as on a
    # phone: anchored to the plot's top with a fixed 60 px margin, its two rows on a desktop were drawn
    # over London's bars, the first row of the chart.
    chart_layout(figure, height=height, title=title, legend_rows=len(figure.data))
    figure.update_layout(barmode="group", legend={"traceorder": "normal"}, margin={"b": 30})
    figure.update_xaxes(title_text=None, range=[0, 100], ticksuffix="%")  # the section heading names it
    visible = [a for a in areas if a not in set(hidden)]
    # Reversed axis: the first area (London) on top.
    figure.update_yaxes(categoryorder="array", categoryarray=visible, autorange="reversed", title_text=None)
    if shown.empty:
        figure.update_xaxes(visible=False)
        figure.update_yaxes(visible=False)
        figure.add_annotation(
            text="No admitted patients to show (none, or all suppressed)",
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            showarrow=False,
        )
    elif len(hidden) or partly:
        lines = [f"Not shown, {SUPPRESSED_NOTE}: {_names(list(hidden))}"] if len(hidden) else []
        lines += [f"Some bars {SUPPRESSED_NOTE}: {_names(partly)}"] if partly else []
        # Wrapped to the plot area on a phone (Plotly never wraps; the note starts where the bars do, right of
        # the borough names): at 46 characters a line still ran off the chart.
        note = "<br>".join(wrap_text(line, 30) for line in lines)
        figure.add_annotation(
            text=note,
            x=0,
            y=0,
            xref="paper",
            yref="paper",
            yanchor="top",
            yshift=-26,
            showarrow=False,
            align="left",
            font={"size": 11, "color": "#425563"},
        )
        figure.update_layout(margin={"b": 58 + 14 * (note.count("<br>") + 1)})
    return figure


def _names(names: list) -> str:
    """Up to six names, then how many more."""
    return ", ".join(str(name) for name in names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def linked_table(values: pd.DataFrame) -> pd.DataFrame:
    """Linked-admission rows as a wide table: one row per area, a share and count per measure."""
    # One pass over the records (areas in order of first appearance): a to_dict per area cost ~1 ms each.
    rows: dict[str, dict] = {}
    for record in values.to_dict("records"):
        row = rows.setdefault(
            record["area_name"], {"Area": record["area_name"], "Patients admitted": whole_number(record["denominator"])}
        )
        row[record["measure_label"]] = (
            f"{formatted(record['value'], unit='percent')} ({whole_number(record['numerator'])})"
            if not record["suppressed"]
            else "suppressed"
        )
    return pd.DataFrame(list(rows.values()))


def patient_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The patient list as shown: dates as text, counts whole, missing reviews said in words."""

    def day(value) -> str:
        return "none recorded" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")

    return pd.DataFrame(
        {
            "Pseudonymised id": rows["patient_id"].to_numpy(),
            "Age": rows["age"].to_numpy(),
            "Sex": rows["sex"].to_numpy(),
            "Ethnic group": rows["ethnicity_group"].fillna("Not stated").to_numpy(),
            "SABA inhalers in period": [whole_number(v) for v in rows["saba_inhalers"]],
            "Last SABA issued": [day(v) for v in rows["last_saba"]],
            "Last asthma review": [day(v) for v in rows["last_review"]],
        }
    )
