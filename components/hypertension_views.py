"""Figure builders for the hypertension page only (no SQL: frames in, figures out).

The short value label of an indicator and the people-to-target bar chart. The builders every
pathfinder page shares (ranked areas, borough and SII maps, KPI and rule cards, CSV buttons)
live in :mod:`components.charts`, :mod:`components.maps` and :mod:`components.layout`.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from components.charts import chart_layout_settings, figure_from_dicts
from components.style import POINT_COLOUR, SUPPRESSED_COLOUR

DETECTION_COLOUR = "#00a499"


def value_label(*, title: str, unit: str) -> str:
    """A short axis/colour-bar label for an indicator: its title without the code in brackets, and its unit."""
    short = re.sub(r"\s*\([^)]*\)\s*$", "", title)
    return f"{short} (ratio)" if unit == "ratio" else f"{short} (%)"


def people_to_target_chart(*, table: pd.DataFrame, ambition: str = "80", height_per_row: int = 24) -> go.Figure:
    """Per area, how many more people treated to target (HYP008 + HYP009) and diagnosed would meet the ambition.

    ``table`` is :func:`queries.hypertension.people_to_target` without its London row. A count
    hidden by disclosure control has no bar: the word "suppressed" stands where its bar would start
    (and in its hover), so it never reads as none.
    """
    frame = table.copy()
    control = pd.to_numeric(frame[f"control_to_{ambition}"], errors="coerce")
    detect = pd.to_numeric(frame["to_detect_80"], errors="coerce")
    frame = frame.assign(_control=control, _detect=detect).sort_values("_control", na_position="first")

    def bar(column: str, name: str, colour: str) -> dict:
        hidden = frame[column].isna()
        # A zero-length bar carries the label outside its base, where the bar would have started.
        lengths = frame[column].fillna(0.0)
        return {
            "type": "bar",
            "y": frame["area_name"],
            "x": lengths,
            "text": np.where(hidden, "suppressed", ""),
            "textposition": "outside",
            "textfont": {"size": 11, "color": SUPPRESSED_COLOUR},
            "cliponaxis": False,
            "hovertext": [
                "suppressed (1–7, or resting on a count of 1–7)" if gone else f"{value:,.0f} people"
                for value, gone in zip(lengths, hidden, strict=True)
            ],
            "name": name,
            "orientation": "h",
            "marker": {"color": colour},
            "hovertemplate": "<b>%{y}</b><br>%{hovertext}<extra>" + name.split(" (")[0] + "</extra>",
        }

    bars = [
        bar(column, name, colour)
        for column, name, colour in (
            ("_control", f"More treated to {ambition}% (HYP008 + HYP009)", POINT_COLOUR),
            ("_detect", "More diagnosed to 80% of expected", DETECTION_COLOUR),
        )
    ]
    # The legend above the plot with room made for it (a row per entry, as on a phone): placed on the plot's
    # top edge with no margin for it, it was drawn over the first area's bars.
    height = max(300, 60 + height_per_row * len(frame))
    layout = chart_layout_settings(height=height, legend_rows=len(bars)) | {
        "barmode": "group",
        "xaxis": {"title": {"text": "People"}, "tickformat": ",", "rangemode": "tozero"},
        "yaxis": {"type": "category", "automargin": True},
    }
    # One construction without re-validation per call: see figure_from_dicts (literals and our own values only).
    return figure_from_dicts(bars, layout)
