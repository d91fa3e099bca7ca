"""Offline choropleth maps.

Maps use Plotly's MapLibre traces with the ``white-bg`` style: no tile server,
no CDN, no web fonts. A secure data environment has no internet, and geo traces
(``go.Choropleth``) fetch a world topojson from a CDN and render blank there.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from components.geometry import LONDON_CENTRE, LONDON_ZOOM, boundaries

# Colour-blind-safe sequential scale (ColorBrewer YlGnBu).
SEQUENTIAL_SCALE = "YlGnBu"
ICB_OUTLINE_COLOUR = "#1f2d3d"


def borough_choropleth(
    *,
    values: pd.DataFrame,
    value_column: str,
    value_label: str,
    hover_columns: dict[str, str] | None = None,
    value_format: str = ",.0f",
    height: int = 560,
) -> go.Figure:
    """A borough choropleth of ``values[value_column]`` with ICB outlines on top.

    ``values`` has one row per borough with ``borough_code`` and ``borough_name``;
    ``hover_columns`` maps further columns to their hover labels.
    """
    hover_columns = hover_columns or {}
    custom = values[list(hover_columns)] if hover_columns else None
    extra = "".join(f"<br>{label}: %{{customdata[{i}]:,}}" for i, label in enumerate(hover_columns.values()))
    trace = go.Choroplethmap(
        geojson=boundaries("borough"),
        locations=values["borough_code"],
        z=values[value_column],
        featureidkey="id",
        text=values["borough_name"],
        customdata=custom,
        colorscale=SEQUENTIAL_SCALE,
        marker={"line": {"width": 0.8, "color": "white"}, "opacity": 0.9},
        colorbar={"title": {"text": value_label}, "thickness": 14, "tickformat": value_format},
        hovertemplate=f"<b>%{{text}}</b><br>{value_label}: %{{z:{value_format}}}{extra}<extra></extra>",
    )
    figure = go.Figure(trace)
    figure.update_layout(
        map={
            "style": "white-bg",
            "center": LONDON_CENTRE,
            "zoom": LONDON_ZOOM,
            "layers": [_icb_outline_layer()],
        },
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        height=height,
        uirevision="borough-map",  # keep the user's pan/zoom when values change
    )
    return figure


def _icb_outline_layer() -> dict:
    return {
        "sourcetype": "geojson",
        "source": boundaries("icb"),
        "type": "line",
        "color": ICB_OUTLINE_COLOUR,
        "line": {"width": 2},
    }


def finite_or_none(value: float) -> float | None:
    """JSON-safe number: NaN and infinities become None."""
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else value
