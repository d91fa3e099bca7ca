"""Offline maps: area choropleths (borough, LSOA, practice area), practice points and the inequality map.

Maps use Plotly's MapLibre traces with the ``white-bg`` style: no tile server,
no CDN, no web fonts. A secure data environment has no internet, and geo traces
(``go.Choropleth``) fetch a world topojson from a CDN and render blank there.

Every area map has the same trace layout, which :func:`recolour_patch` relies on:

- ``data[0]`` the areas (``Choroplethmap``): *every* area of the level is listed, in
  the GeoJSON's order, so ``locations``/``text``/geometry never change; areas without
  a value (suppressed, or not in the data shown) have ``z = NaN``, which Plotly does
  not draw, so they show the grey London underlay instead of a colour - never 0.
- ``data[1]`` the suppressed areas (``Scattermap`` markers at a point inside each),
  named "Suppressed" in the legend and in hover.
- ``layout.map.layers``: the grey London underlay below the areas, outlines on top.

Hover text is a ``hovertemplate`` over ``customdata`` rows (95 % CI, numerator,
denominator, further columns, then the comparison with London): a recolour sends
numbers, not sentences. Each number is rounded to the decimals its format shows,
so the hover reads the same, and a row for an area that is not drawn is empty: at
LSOA level these rows are most of a recolour patch (:func:`_hover_rows`).
"""

from __future__ import annotations

import base64
import json
import re
from copy import deepcopy
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, lru_cache

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from _plotly_utils.utils import convert_to_base64
from dash import Patch

from components.geometry import (
    area_codes,
    boundaries,
    bounds_view,
    geometry_url,
    icb_outlines,
    label_points,
    london_outline,
    london_view,
    practices,
    reference_table,
)
from components.style import (
    ICB_OUTLINE_COLOUR,
    POINT_UNDERLAY_COLOUR,
    SEQUENTIAL_SCALE,
    SUPPRESSED_COLOUR,
    SUPPRESSED_NOTE,
    UNDERLAY_COLOUR,
    apply_base_layout,
    diverging_scale,
    json_safe,
    value_format,
)

AREA_TRACE = 0
SUPPRESSED_TRACE = 1
# Columns of customdata in area and practice traces, in order.
HOVER_NUMBERS = ("ci_low", "ci_high", "numerator", "denominator")
# Keys of a trace that stay the same when only values change: never resent by recolour_patch.
STATIC_TRACE_KEYS = frozenset({"geojson", "featureidkey", "locations", "text", "type", "legendgroup"})
# Above this many suppressed areas, markers would carpet the map (LSOA level on a small extract).
MAX_SUPPRESSED_MARKERS = 300


@cache
def _reference_names(level: str) -> dict[str, str]:
    """Every area's name at ``level`` from the reference data (empty for a level without one).

    Names go to the browser once, with the first figure, and a recolour never resends them, so the first
    figure must name every area, not only those its values cover: a map first drawn empty (filled in by a
    recolour) or from values for fewer areas would otherwise show an area's code in hover once it is filled.
    """
    sources = {
        "borough": lambda: reference_table("boroughs")[["borough_code", "borough_name"]],
        "lsoa": lambda: reference_table("lsoa21")[["lsoa21_code", "lsoa21_name"]],
        "practice": lambda: practices()[["practice_code", "practice_name"]],
    }
    if level not in sources:
        return {}
    table = sources[level]()
    return dict(zip(table.iloc[:, 0], table.iloc[:, 1], strict=True))


def _suppressed_mask(frame: pd.DataFrame) -> pd.Series:
    """Rows the disclosure rule hid. A missing value without the flag (e.g. an SII that cannot be fitted) is
    "no value": left undrawn like a suppressed one, but not labelled "suppressed"."""
    if "suppressed" not in frame:
        return pd.Series(False, index=frame.index)
    return frame["suppressed"].astype("boolean").fillna(False).astype(bool)


# A d3-format specifier ([[fill]align][sign][symbol][0][width][,][.precision][~][type]): the precision and
# type say what a number in hover is rounded to.
_D3_FORMAT = re.compile(r"^(?:.?[<>=^])?[-+( ]?[$#]?0?\d*,?(?:\.(?P<precision>\d+))?~?(?P<type>[a-z%])?$")
# What d3-format writes for a number that is not finite (hover never shows a missing number as 0).
_NOT_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _to_fixed(numbers: np.ndarray, decimals: int) -> np.ndarray:
    """``numbers`` rounded to ``decimals`` as JavaScript's ``toFixed`` (which d3-format uses) rounds them, in
    units of the last decimal (72.25, 1 -> 723).

    ``toFixed`` rounds the exact binary value, a tie away from zero (72.25 -> 72.3, where Python's
    ``round`` gives 72.2); the few values whose scaled float is too close to a tie to trust are rounded
    exactly with ``Decimal``.
    """
    magnitude = np.abs(numbers)
    scaled = magnitude * 10.0**decimals
    units = np.floor(scaled + 0.5)
    with np.errstate(invalid="ignore"):
        near_tie = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-7 * np.maximum(scaled, 1.0)
    for index in np.flatnonzero(near_tie & np.isfinite(scaled)):
        exact = Decimal(float(magnitude[index])).scaleb(decimals).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        units[index] = float(exact)
    return np.copysign(units, numbers)


def _shown_numbers(values: pd.Series, d3: str) -> np.ndarray:
    """``values`` for hover with the d3 format ``d3``, as compact JSON numbers that display exactly the same.

    A format with a precision ('.1f', ',.0f', '.1%') shows only that many decimals, so only those are
    sent ('84.3', '120'); other formats get the number as it is. A number that is not finite is sent as
    the text d3 writes for it ('NaN'), never as 0; one that rounds to zero keeps its sign (d3 shows '-0.0'
    for it under a '+' format). An object array of Python numbers and strings.
    """
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    spec = _D3_FORMAT.match(d3)
    rounded = numbers
    if spec and spec["precision"] is not None and spec["type"] in ("f", "%"):
        decimals = int(spec["precision"])
        percent = spec["type"] == "%"  # d3 multiplies by 100, then rounds
        # One division of whole units: the nearest float to the shown decimal, so it is written that short.
        rounded = _to_fixed(numbers * 100 if percent else numbers, decimals) / 10.0 ** (decimals + 2 * percent)
    shown = rounded.astype(object)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(rounded) & (rounded == np.trunc(rounded)) & (np.abs(rounded) < 2**53)
    shown[whole] = rounded[whole].astype(np.int64).astype(object)  # '120', not '120.0'
    negative_zero = (rounded == 0) & (numbers < 0)
    shown[negative_zero] = numbers[negative_zero].astype(object)
    for index in np.flatnonzero(~np.isfinite(numbers)):
        shown[index] = _NOT_FINITE[str(numbers[index])]
    return shown


def _hover_number_columns(*, unit: str, has_numbers: bool, extra: dict) -> list[tuple[str, str]]:
    """The numeric ``customdata`` columns of an area or practice trace, in order, with the d3 format each is
    shown with: the 95 % CI and counts (:data:`HOVER_NUMBERS`) when ``has_numbers``, then ``extra``'s."""
    fmt = value_format(unit)
    numbers = list(zip(HOVER_NUMBERS, (fmt.d3, fmt.d3, ",.0f", ",.0f"), strict=True)) if has_numbers else []
    return numbers + [(column, ",") for column in extra]


def _hover_rows(frame: pd.DataFrame, columns: list[tuple[str, str]], *, comparison: bool, drawn=None):
    """``customdata`` for hover: per row of ``frame``, each of ``columns`` as hover shows it, then (``comparison``)
    the comparison with London. A row that is not ``drawn`` has no hover, so is empty. None without columns.

    Compact on purpose: at LSOA level these 5,000 rows are most of a recolour patch, and
    '[80.1,88.2,120,143,"similar"]' is about half what the same numbers cost as float32 typed arrays once
    Dash has escaped their base64; an undrawn row is '[]'. The rows are tuples in an object array, which
    plotly passes through as it is instead of walking (validating, then deep-copying) thousands of lists.
    """
    if not columns and not comparison:
        return None
    drawn = np.ones(len(frame), dtype=bool) if drawn is None else np.asarray(drawn, dtype=bool)
    picked = frame[drawn]
    shown = [_shown_numbers(picked[column], d3) for column, d3 in columns]
    if comparison:
        shown.append([word if isinstance(word, str) else "not compared" for word in picked["comparison"]])
    rows = np.empty(len(frame), dtype=object)
    rows.fill(())
    for index, row in zip(np.flatnonzero(drawn), zip(*shown, strict=True), strict=True):
        rows[index] = row
    return rows


def _hovertemplate(
    *,
    value_label: str,
    unit: str,
    has_ci: bool,
    has_counts: bool,
    london_value,
    extra: dict,
    has_comparison: bool = False,
) -> str:
    """The hover of an area or practice trace, over :func:`_hover_rows` of :func:`_hover_number_columns`."""
    fmt = value_format(unit)
    lines = ["<b>%{text}</b>", f"{value_label}: %{{z:{fmt.d3}}}{fmt.suffix}"]
    if has_ci:
        lines[-1] += f" (95% CI %{{customdata[0]:{fmt.d3}}}–%{{customdata[1]:{fmt.d3}}}{fmt.suffix})"
    if has_counts:
        lines.append("%{customdata[2]:,.0f} of %{customdata[3]:,.0f}")
    numbers = len(_hover_number_columns(unit=unit, has_numbers=has_ci or has_counts, extra=extra))
    offset = numbers - len(extra)
    lines += [f"{label}: %{{customdata[{offset + i}]:,}}" for i, label in enumerate(extra.values())]
    if json_safe(london_value) is not None:
        lines.append(f"London: {fmt.text(float(london_value))}")
    if has_comparison:
        lines.append(f"vs London: %{{customdata[{numbers}]}}")
    return "<br>".join(lines) + "<extra></extra>"


def _colour_settings(
    values: pd.Series, *, polarity: str, diverge_around: float | None, unit: str, value_label: str
) -> dict:
    fmt = value_format(unit)
    finite_values = values.dropna()
    span = float(finite_values.max() - finite_values.min()) if len(finite_values) else 0.0
    # Whole-number ticks read best on a wide range; on a narrow one (a few areas, or one) they repeat
    # ("89% 89% 89%"), so there Plotly picks the decimals its tick spacing needs.
    narrow = span < (0.05 if fmt.d3.endswith("%") else 5.0)
    settings = {
        # Across the foot of the map, not down its side: a side bar with its title and ticks took about
        # a quarter of a phone's width, and London (wider than tall) was fitted into what was left.
        # Plotly makes room for it under the map, so the map keeps the full width on every screen.
        "colorbar": {
            "orientation": "h",
            "title": {"text": value_label, "side": "top"},
            "thickness": 12,
            "tickformat": "" if narrow else fmt.axis_format,
            "ticksuffix": fmt.axis_suffix,
            "outlinewidth": 0,
            # A fixed length that fits a phone's map: a share of the width ran ~1,100 px across a wide screen.
            "lenmode": "pixels",
            "len": 300,
            "x": 0.5,
            "xanchor": "center",
            "y": -0.02,
            "yanchor": "top",
        },
    }
    centre = json_safe(diverge_around)
    if centre is None:
        # Sequential: darker = higher, whatever the polarity (readers expect more = darker); whether
        # that is good is the diverging scale's job, centred on the target or London.
        settings.update(colorscale=_colour_steps(SEQUENTIAL_SCALE))
        return settings
    finite = values.dropna()
    # The 95th centile of the distance from the centre, not the maximum: one tiny area with a wide CI
    # (City of London) would otherwise wash every other area out to near-white.
    half_range = float((finite - centre).abs().quantile(0.95)) if len(finite) else 1.0
    half_range = half_range or 1.0
    settings.update(
        colorscale=_colour_steps(diverging_scale(polarity)),
        zmid=centre,
        zmin=centre - half_range,
        zmax=centre + half_range,
    )
    return settings


@cache
def _colour_steps(name: str) -> tuple:
    """A named Plotly colour scale as the [position, colour] steps Plotly's validation sends (the area trace is
    built without validation, which would send the name: Plotly.js has scales of the same names, not all alike)."""
    return go.Choroplethmap(colorscale=name).colorscale


def area_traces(
    *,
    level: str,
    values: pd.DataFrame,
    value_label: str,
    unit: str = "percent",
    value_column: str = "value",
    polarity: str = "high",
    diverge_around: float | None = None,
    hover_columns: dict[str, str] | None = None,
    recolour: bool = False,
) -> list:
    """The traces of :func:`area_map` (areas, suppressed markers) without a figure or geometry.

    For a recolour (:func:`traces_patch`) nothing else is needed: building a figure around the
    traces copies and validates every one of them again and lays out the map, which at LSOA
    level (≈5,000 areas) cost more than the values themselves. ``recolour=True`` also leaves out
    the area codes and names a recolour never resends (:data:`STATIC_TRACE_KEYS`), whose
    validation and copying were most of what remained. Other arguments as :func:`area_map`.
    """
    extra_columns = hover_columns or {}
    # Tuples, as Plotly keeps a validated array: serialising the figure then shares them (_trace_json) rather
    # than copying 5,000 codes and names per LSOA map.
    codes = area_codes(level)
    frame = values.drop_duplicates("area_code").set_index("area_code").reindex(list(codes))
    frame.index.name = "area_code"
    suppressed = _suppressed_mask(frame) & frame["area_name"].notna()
    z = pd.to_numeric(frame[value_column], errors="coerce").where(~suppressed).to_numpy(dtype="float32")
    names = None
    if not recolour:  # the values' names, else the reference's (areas the values do not cover), else the code
        reference = _reference_names(level)
        names = tuple(
            name if isinstance(name, str) else reference.get(code, code)
            for code, name in zip(codes, frame["area_name"], strict=True)
        )

    has_ci = {"ci_low", "ci_high"} <= set(frame.columns)
    has_counts = {"numerator", "denominator"} <= set(frame.columns)
    columns = _hover_number_columns(unit=unit, has_numbers=has_ci or has_counts, extra=extra_columns)
    for column, _ in columns:
        if column not in frame:
            frame[column] = np.nan
    london_value = (
        frame["london_value"].dropna().iloc[0]
        if "london_value" in frame and frame["london_value"].notna().any()
        else None
    )

    static = {} if recolour else {"featureidkey": "id", "locations": codes, "text": names}
    area_trace = go.Choroplethmap(
        **static,
        z=z,
        customdata=_hover_rows(frame, columns, comparison="comparison" in frame, drawn=np.isfinite(z)),
        hovertemplate=_hovertemplate(
            value_label=value_label,
            unit=unit,
            has_ci=has_ci,
            has_counts=has_counts,
            london_value=london_value,
            extra=extra_columns,
            has_comparison="comparison" in frame,
        ),
        marker={"line": {"width": 0.6 if level == "borough" else 0.2, "color": "white"}, "opacity": 0.92},
        name=value_label,
        showlegend=False,
        **_colour_settings(
            pd.Series(z), polarity=polarity, diverge_around=diverge_around, unit=unit, value_label=value_label
        ),
        _validate=False,
    )
    # With every area suppressed there is no colour scale to draw (an empty one renders NaN-sized boxes in the
    # browser). Set either way, with a range: a recolour patch only sends the keys the new traces have.
    has_values = bool(np.isfinite(z).any())
    area_trace.showscale = has_values
    if not has_values and area_trace.zmin is None:
        area_trace.update(zmin=0, zmax=1)
    points = label_points(level).set_index("area_code")
    suppressed_codes = [code for code, flag in zip(codes, suppressed, strict=True) if flag]
    markers = _suppressed_markers(
        points.reindex(suppressed_codes), frame, suppressed_codes, marker_size=8 if level == "borough" else 4
    )
    return [area_trace, markers]


def area_figure(
    traces: list,
    *,
    level: str,
    outlines: bool = True,
    view: dict | None = None,
    geometry_url: str | None = None,
    height: int = 560,
    title: str | None = None,
) -> go.Figure:
    """The map figure of :func:`area_traces` (plus any traces added after them): geometry, underlay, outlines.

    ``view``: centre and zoom (:func:`components.geometry.bounds_view`); London when None.
    """
    layout = _map_layout_json(
        height=height,
        title=title,
        outlines=outlines,
        view_json=json.dumps(view, sort_keys=True) if view else None,
        uirevision=f"{level}-map",
        overlays_by_url=geometry_url is not None,
    )
    figure = _figure_sharing_hover_rows(traces, layout=layout)
    # Set after the figure exists: go.Figure(...) deep-copies its traces, 0.5 s for the LSOA geometry,
    # while assigning keeps a reference to the cached collection (treat it as read-only).
    figure.data[AREA_TRACE].geojson = geometry_url or boundaries(level)
    return figure


@lru_cache(maxsize=512)
def _map_layout_json(
    *, height: int, title: str | None, outlines: bool, view_json: str | None, uirevision: str, overlays_by_url: bool
) -> dict:
    """The layout :func:`_map_layout` gives, as Plotly's validated JSON, built once per distinct map layout (a few
    per level and borough view). Validating it again for every map drawn was 7 of an LSOA figure's 8.5 ms
    (bench/results/2026-11-28-map-layout-once.md). The dict is shared: treat it as read-only (a figure built
    from it copies it)."""
    figure = go.Figure()
    view = json.loads(view_json) if view_json else None
    _map_layout(
        figure,
        height=height,
        title=title,
        outlines=outlines,
        view=view,
        uirevision=uirevision,
        overlays_by_url=overlays_by_url,
    )
    return figure.layout.to_plotly_json()


class _MapFigure(go.Figure):
    """A map's figure that, when serialised (Dash sends ``to_plotly_json()``), shares its traces' data arrays.

    ``go.Figure.to_dict`` deep-copies every trace: at LSOA level that walked the ≈5,000 hover-row tuples
    again on every first draw or change of level, for rows nothing can change (:func:`_trace_json`). The
    dict is otherwise what ``go.Figure`` gives (maps have no frames).
    """

    def to_dict(self) -> dict:
        serialised = {"data": [_trace_json(trace) for trace in self.data], "layout": self.layout.to_plotly_json()}
        _as_typed_arrays(serialised)
        return serialised


def _figure_sharing_hover_rows(traces: list, *, layout: dict | None = None) -> go.Figure:
    """``go.Figure(traces)`` with each trace's hover rows assigned after it is built, not deep-copied into it.

    The figure deep-copies what it is given; the hover rows (:func:`_hover_rows`, ≈5,000 tuples at LSOA
    level) were half of that copy, and assigning an object array keeps it as it is. The traces were validated
    when they were built, so their copies are not validated again (10 ms of an LSOA map's 22, bench/figures.py);
    what is set on the figure afterwards (geometry) is. ``layout``: Plotly's JSON of an already validated layout
    (:func:`_map_layout_json`), not validated again either.
    """
    without_rows = [{key: value for key, value in trace._props.items() if key != "customdata"} for trace in traces]
    figure = _MapFigure(without_rows, layout=layout, _validate=False)
    # Plotly's own switches, which the constructor's argument sets for good: validate what is set from here on.
    figure._validate = figure.layout._validate = True  # noqa: SLF001
    for built, trace in zip(figure.data, traces, strict=True):
        if trace.customdata is not None:
            built.customdata = trace.customdata
    return figure


def area_map(
    *,
    level: str,
    values: pd.DataFrame,
    value_label: str,
    unit: str = "percent",
    value_column: str = "value",
    polarity: str = "high",
    diverge_around: float | None = None,
    hover_columns: dict[str, str] | None = None,
    outlines: bool = True,
    fit_to_data: bool = False,
    geometry_url: str | None = None,
    height: int = 560,
    title: str | None = None,
) -> go.Figure:
    """A choropleth of ``values`` at ``level`` ('borough', 'lsoa' or 'practice' areas) with ICB outlines on top.

    ``values`` has ``area_code`` and ``area_name`` (the engine's frame) and
    ``value_column``; optional ``ci_low``/``ci_high``, ``numerator``/``denominator``,
    ``london_value``, ``comparison`` and ``suppressed`` feed the hover. A value of 0
    is drawn as 0; a suppressed or missing value is drawn grey and marked
    "Suppressed". ``diverge_around`` (the target or London value) switches to a
    diverging scale centred there; ``polarity`` ('high'/'low' is good) keeps the good
    end blue. ``hover_columns`` maps further numeric columns to hover labels.
    ``fit_to_data`` zooms to the areas present in ``values``.

    ``geometry_url``: a same-origin URL (e.g. '/assets/geo/lsoa21.geojson') serving
    ``boundaries(level)``; the browser then fetches and caches the geometry once
    instead of receiving it inside the figure (1.4 MB of the LSOA map's 1.9 MB).
    """
    traces = area_traces(
        level=level,
        values=values,
        value_label=value_label,
        unit=unit,
        value_column=value_column,
        polarity=polarity,
        diverge_around=diverge_around,
        hover_columns=hover_columns,
    )
    view = None
    if fit_to_data:
        first = values.drop_duplicates("area_code")
        view = bounds_view(level, set(first.loc[first["area_name"].notna(), "area_code"]))
    return area_figure(
        traces, level=level, outlines=outlines, view=view, geometry_url=geometry_url, height=height, title=title
    )


def _suppressed_markers(points: pd.DataFrame, frame: pd.DataFrame, codes: list[str], marker_size: int) -> go.Scattermap:
    """Grey markers naming each suppressed area; past a few hundred they would carpet the map, so only the legend
    entry (with the count) remains and the areas read as the grey underlay."""
    count = len(codes)
    if count > MAX_SUPPRESSED_MARKERS:
        points, codes = points.iloc[:0], []
    names = frame.loc[codes, "area_name"].tolist() if codes else []
    return go.Scattermap(
        lat=points["lat"].round(5).tolist() or [None],  # one empty point keeps the legend entry
        lon=points["lon"].round(5).tolist() or [None],
        text=names or [""],
        mode="markers",
        marker={"size": marker_size, "color": SUPPRESSED_COLOUR, "opacity": 0.9},
        name=f"Suppressed (1–7 patients): {count:,} grey area{'s' if count != 1 else ''}",
        hovertemplate=f"<b>%{{text}}</b><br>{SUPPRESSED_NOTE}<extra></extra>",
        showlegend=count > 0,
    )


def _map_layout(
    figure: go.Figure,
    *,
    height: int,
    title: str | None,
    outlines: bool,
    view: dict | None,
    uirevision: str,
    underlay_colour: str = UNDERLAY_COLOUR,
    overlays_by_url: bool = False,
) -> None:
    """Lay ``figure`` out as a map: London's grey underlay, ICB outlines on top (if ``outlines``), the view.

    ``overlays_by_url``: the underlay and outlines as same-origin URLs (:func:`geometry_url`), fetched and cached by
    the browser once, as the areas' geometry is when the figure has a geometry URL. Inline, their 54 kB of
    coordinates were validated and copied again with every map drawn: 7 of an LSOA map's ~11 ms of layout
    (bench/results/2026-11-28-overlays-by-url.md).
    """
    layers = [
        {
            "sourcetype": "geojson",
            "source": geometry_url("london-outline") if overlays_by_url else london_outline(),
            "type": "fill",
            "color": underlay_colour,
            "fill": {"outlinecolor": underlay_colour},  # no hairline round the underlay
            "below": "traces",
        },
    ]
    if outlines:
        layers.append(
            {
                "sourcetype": "geojson",
                "source": geometry_url("icb-outlines") if overlays_by_url else icb_outlines(),
                "type": "line",
                "color": ICB_OUTLINE_COLOUR,
                "line": {"width": 1.6},
            }
        )
    view = view or london_view()
    apply_base_layout(figure, height=height, title=title)
    figure.update_layout(
        map={"style": "white-bg", "center": view["center"], "zoom": view["zoom"], "layers": layers},
        legend={"x": 0.01, "y": 0.01, "xanchor": "left", "yanchor": "bottom", "bgcolor": "rgba(255,255,255,0.8)"},
        uirevision=uirevision,  # keep the user's pan/zoom when values change
        meta=_fit_meta(view),
    )


def _fit_meta(view: dict) -> dict:
    """``layout.meta`` naming what ``assets/map_fit.js`` keeps in sight on a screen narrower than the view's
    zoom was chosen for (None: keep the server's centre and zoom as they are)."""
    return {"fit_bounds": view.get("fit_bounds")}


def borough_choropleth(
    *,
    values: pd.DataFrame,
    value_column: str = "value",
    value_label: str,
    unit: str = "count",
    hover_columns: dict[str, str] | None = None,
    polarity: str = "high",
    diverge_around: float | None = None,
    height: int = 560,
    title: str | None = None,
    geometry_url: str | None = None,
) -> go.Figure:
    """A borough choropleth with ICB outlines on top (see :func:`area_map`).

    Accepts the engine's frame (``area_code``, ``area_name``) or one keyed by
    ``borough_code``/``borough_name``. ``geometry_url``: serve the boundaries by URL (see :func:`area_map`).
    """
    frame = values.rename(columns={"borough_code": "area_code", "borough_name": "area_name"})
    return area_map(
        level="borough",
        values=frame,
        value_column=value_column,
        value_label=value_label,
        unit=unit,
        hover_columns=hover_columns,
        polarity=polarity,
        diverge_around=diverge_around,
        height=height,
        title=title,
        geometry_url=geometry_url,
    )


def lsoa_choropleth(*, values: pd.DataFrame, value_label: str, unit: str = "percent", **options) -> go.Figure:
    """An LSOA (≈5,000 small areas, where patients live) choropleth; see :func:`area_map` for ``options``."""
    return area_map(level="lsoa", values=values, value_label=value_label, unit=unit, **options)


def practice_area_choropleth(*, values: pd.DataFrame, value_label: str, unit: str = "percent", **options) -> go.Figure:
    """Practice values drawn on practice areas (Voronoi cells around practices, clipped to London).

    ``values`` is the engine's practice-level frame (``area_code`` = practice code).
    """
    return area_map(level="practice", values=values, value_label=value_label, unit=unit, **options)


def practice_points_map(
    *,
    values: pd.DataFrame,
    practices: pd.DataFrame,
    value_label: str,
    unit: str = "percent",
    polarity: str = "high",
    diverge_around: float | None = None,
    max_marker_px: int = 22,
    height: int = 560,
    title: str | None = None,
) -> go.Figure:
    """Every practice as a point sized by its denominator and coloured by its value.

    ``practices`` gives locations (``practice_code``, ``lat``, ``lon``; e.g. the
    reference practices.csv). ``values`` is the engine's practice-level frame. Marker
    area is proportional to the denominator. Suppressed practices are grey markers
    of a fixed size in their own trace (``data[1]``), named "Suppressed".
    """
    located = values.merge(
        practices[["practice_code", "lat", "lon"]], left_on="area_code", right_on="practice_code", how="inner"
    )
    suppressed = _suppressed_mask(located)
    has_value = pd.to_numeric(located["value"], errors="coerce").notna()
    shown = located[~suppressed & has_value].sort_values("denominator", ascending=False)  # small ones on top
    hidden = located[suppressed]
    denominators = pd.to_numeric(shown["denominator"], errors="coerce").fillna(0)
    largest = float(denominators.max()) if len(shown) and denominators.max() > 0 else 1.0
    london_value = (
        located["london_value"].dropna().iloc[0]
        if "london_value" in located and located["london_value"].notna().any()
        else None
    )
    for column in HOVER_NUMBERS:
        if column not in shown:
            shown = shown.assign(**{column: np.nan})
    colour = _colour_settings(
        shown["value"], polarity=polarity, diverge_around=diverge_around, unit=unit, value_label=value_label
    )
    marker = {
        "color": shown["value"].to_numpy(dtype="float32"),
        "size": denominators.to_numpy(dtype="float32"),
        "sizemode": "area",
        "sizeref": float(2.0 * largest / max_marker_px**2),
        "sizemin": 3,
        "opacity": 0.85,
        "colorscale": colour["colorscale"],
        "colorbar": colour["colorbar"],
        "showscale": True,
    }
    if "zmid" in colour:
        marker.update(cmid=colour["zmid"], cmin=colour["zmin"], cmax=colour["zmax"])
    template = _hovertemplate(
        value_label=value_label,
        unit=unit,
        has_ci=True,
        has_counts=True,
        london_value=london_value,
        extra={},
        has_comparison="comparison" in shown,
    ).replace("%{z:", "%{marker.color:")
    points = go.Scattermap(
        lat=shown["lat"].round(5).tolist(),
        lon=shown["lon"].round(5).tolist(),
        text=shown["area_name"].tolist(),
        customdata=_hover_rows(
            shown, _hover_number_columns(unit=unit, has_numbers=True, extra={}), comparison="comparison" in shown
        ),
        hovertemplate=template,
        mode="markers",
        marker=marker,
        name=value_label,
        showlegend=False,
    )
    hidden_trace = go.Scattermap(
        lat=hidden["lat"].round(5).tolist(),
        lon=hidden["lon"].round(5).tolist(),
        text=hidden["area_name"].tolist(),
        mode="markers",
        marker={"size": 7, "color": SUPPRESSED_COLOUR, "opacity": 0.9},
        name=f"Suppressed (1–7 patients): {len(hidden):,} practice{'s' if len(hidden) != 1 else ''}",
        hovertemplate=f"<b>%{{text}}</b><br>{SUPPRESSED_NOTE}<extra></extra>",
        showlegend=len(hidden) > 0,
    )
    figure = go.Figure([points, hidden_trace])
    _map_layout(
        figure,
        height=height,
        title=title,
        outlines=True,
        view=None,
        uirevision="practice-points",
        underlay_colour=POINT_UNDERLAY_COLOUR,
    )
    return figure


def inequality_map(
    *,
    values: pd.DataFrame,
    measure_label: str,
    unit: str = "percent",
    polarity: str = "high",
    geometry_url: str | None = None,
    height: int = 560,
    title: str | None = None,
) -> go.Figure:
    """Per borough, the gap between most and least deprived (quintile gap or SII), diverging around no gap.

    ``values`` has ``area_code``, ``area_name``, ``value`` (the gap, least minus most
    deprived, in the indicator's unit: 8.0 = 8 percentage points for 'percent'), and
    optionally ``ci_low``/``ci_high`` and ``suppressed``. Percentages are shown as
    percentage points. A positive gap means the least deprived do better when
    ``polarity`` is 'high'; the scale's orange end is always "bigger inequality". ``geometry_url``: serve
    the boundaries by URL (see :func:`area_map`).
    """
    return area_map(
        level="borough",
        **_gap_arguments(values, measure_label, unit, polarity),
        geometry_url=geometry_url,
        height=height,
        title=title,
    )


def inequality_traces(
    *, values: pd.DataFrame, measure_label: str, unit: str = "percent", polarity: str = "high", recolour: bool = False
) -> list:
    """The traces of :func:`inequality_map` without a figure (``recolour``: see :func:`area_traces`)."""
    return area_traces(level="borough", **_gap_arguments(values, measure_label, unit, polarity), recolour=recolour)


def _gap_arguments(values: pd.DataFrame, measure_label: str, unit: str, polarity: str) -> dict:
    """:func:`area_traces` arguments for a gap map: percentages as points, diverging around no gap."""
    frame = values.copy()
    shown_unit = unit
    if unit in {"%", "proportion"}:  # 0..1 proportions: a gap of 0.08 is 8 percentage points
        for column in ("value", "ci_low", "ci_high"):
            if column in frame:
                frame[column] = pd.to_numeric(frame[column], errors="coerce") * 100
        shown_unit = "pp"
    elif unit == "percent":  # the engine's 0-100 percentages: the gap is already in points
        shown_unit = "pp"
    # Inequality is bad whichever way it points for the indicator, so colour runs from
    # no gap (purple) to a wide gap favouring the least deprived (orange).
    gap_polarity = "low" if polarity == "high" else "high"
    return {
        "values": frame,
        "value_label": measure_label,
        "unit": shown_unit,
        "polarity": gap_polarity,
        "diverge_around": 0.0,
    }


def _strip_static(trace: dict) -> dict:
    return {key: value for key, value in trace.items() if key not in STATIC_TRACE_KEYS}


def recolour_patch(figure: go.Figure) -> Patch:
    """A Dash ``Patch`` that turns the figure on screen into ``figure`` without resending geometry.

    ``figure`` is the newly built map (same builder, same level, new values): its
    traces' values, colours, hover numbers and colour bar are copied into the patch;
    GeoJSON, area codes and names (which never change for a level) and the map's
    layers and view are left as they are on the client.
    """
    return _recolour_traces(figure.to_plotly_json()["data"])


def _recolour_traces(traces: list[dict]) -> Patch:
    """:func:`recolour_patch` of a figure's serialised traces (serialising copies the whole figure: once is enough)."""
    patch = Patch()
    for index, trace in enumerate(traces):
        for key, value in _strip_static(trace).items():
            patch["data"][index][key] = value
        # Which points are drawn (suppressed areas, practices) changes with the values: names go with them.
        if trace["type"] == "scattermap":
            patch["data"][index]["text"] = list(trace.get("text") or [])
    return patch


HIGHLIGHT_LINE_COLOUR = "#212b32"

PLAIN_LINE_COLOUR = "#ffffff"


def _indicator_colours(values: pd.DataFrame, polarity: str) -> dict:
    """Colour arguments of an indicator map: diverging around London when the indicator has a better direction."""
    london = (
        pd.to_numeric(values["london_value"], errors="coerce").dropna()
        if "london_value" in values
        else pd.Series(dtype=float)
    )
    return {
        "polarity": "high" if polarity == "none" else polarity,
        "diverge_around": float(london.iloc[0]) if polarity != "none" and len(london) else None,
    }


def indicator_map(
    *, level: str, values: pd.DataFrame, value_label: str, unit: str, polarity: str, **options
) -> go.Figure:
    """An indicator's :func:`area_map` of the engine's rows: diverging around London's value when the indicator
    has a better direction (purple better), sequential when it has none (darker = higher).

    ``options`` (height, outlines, geometry_url, ...) go to :func:`area_map`.
    """
    return area_map(
        level=level,
        values=values,
        value_label=value_label,
        unit=unit,
        **_indicator_colours(values, polarity),
        **options,
    )


def indicator_traces(
    *, level: str, values: pd.DataFrame, value_label: str, unit: str, polarity: str, recolour: bool = False
) -> list:
    """The traces of :func:`indicator_map` without a figure (``recolour``: see :func:`area_traces`)."""
    return area_traces(
        level=level,
        values=values,
        value_label=value_label,
        unit=unit,
        **_indicator_colours(values, polarity),
        recolour=recolour,
    )


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
    figure = indicator_map(
        level="borough",
        values=values,
        value_label=value_label,
        unit=unit,
        polarity=polarity,
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


def sii_map(
    *,
    values: pd.DataFrame,
    measure_label: str,
    unit: str,
    polarity: str,
    geometry_url: str | None = None,
    height: int = 520,
) -> go.Figure:
    """Slope index of inequality per borough, diverging around no gap (as :func:`components.maps.inequality_map`):
    percentages are shown as percentage points, and the orange end is
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


# Colour keys a map trace may or may not carry (diverging vs sequential scale): a recolour must clear
# the ones the new figure lacks, or the old scale's midpoint and range stay on the client.
_OPTIONAL_COLOUR_KEYS = ("zmid", "zmin", "zmax", "reversescale")


def map_patch(figure: go.Figure, *, view: dict | None = None, uirevision: str | None = None) -> Patch:
    """:func:`components.maps.recolour_patch` plus clearing colour keys the new scale drops, and an optional
    new ``view`` (centre and zoom) with a ``uirevision`` that makes the map move to it."""
    traces = figure.to_plotly_json()["data"]
    patch = _recolour_traces(traces)
    trace = traces[AREA_TRACE]
    for key in _OPTIONAL_COLOUR_KEYS:
        if key not in trace:
            patch["data"][AREA_TRACE][key] = None
    return moved_patch(patch, view=view, uirevision=uirevision)


def moved_patch(patch: Patch, *, view: dict | None, uirevision: str | None) -> Patch:
    """``patch`` also moving a drawn map to ``view`` (centre and zoom; None: where it is), with a ``uirevision``
    that makes it move (the same one again keeps the user's own pan and zoom)."""
    if view is not None:
        patch["layout"]["map"]["center"] = view["center"]
        patch["layout"]["map"]["zoom"] = view["zoom"]
        patch["layout"]["meta"] = _fit_meta(view)
    if uirevision is not None:
        patch["layout"]["uirevision"] = uirevision
    return patch


def moved_map(figure: go.Figure, *, view: dict, uirevision: str) -> go.Figure:
    """``figure`` showing ``view`` (:func:`components.geometry.bounds_view` or ``london_view``), with a
    ``uirevision`` that makes a drawn map move to it: the whole-figure counterpart of ``map_patch(view=)``."""
    return figure.update_layout(
        map={"center": view["center"], "zoom": view["zoom"]}, meta=_fit_meta(view), uirevision=uirevision
    )


def traces_patch(traces: list) -> Patch:
    """:func:`map_patch` of a map made of ``traces`` (e.g. :func:`area_traces`), built from the traces alone.

    The same patch as ``map_patch(area_figure(traces, ...))`` without building the figure: only
    the traces are serialised (with plotly's compact typed arrays, as a figure would send them).
    """
    serialised = {"data": [_trace_json(trace) for trace in traces]}
    _as_typed_arrays(serialised)
    patch = _recolour_traces(serialised["data"])
    for key in _OPTIONAL_COLOUR_KEYS:
        if key not in serialised["data"][AREA_TRACE]:
            patch["data"][AREA_TRACE][key] = None
    return patch


# What Plotly's JSON encoder searches a whole response for, to turn non-JSON numbers into null.
_NUMBER_WORDS = ("NaN", "Infinity")


def _as_typed_arrays(serialised: dict) -> None:
    """Numbers as typed arrays, not decimal lists, as ``Figure.to_dict`` sends them (``convert_to_base64``), with
    no array's base64 text containing "NaN" or "Infinity".

    Plotly's encoder (``PlotlyJSONEncoder.encode``, which Dash's responses go through) looks for those words
    anywhere in the response, and on finding one decodes the whole response and encodes it again: three passes
    over an LSOA map's 350 kB instead of one, 12 ms, for the one LSOA map in nine whose values happen to spell
    "NaN" in base64 (bench/results/2026-11-28-nan-lookalikes.md). Such an array is sent as float64, which spells
    something else, or failing that as a list with null for a missing value; the browser reads the same numbers.
    """
    convert_to_base64(serialised)
    for trace in serialised.get("data", []):
        for key, value in trace.items():
            if _spells_a_number_word(value) and "shape" not in value:
                numbers = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).astype("float64")
                wider = {"dtype": "f8", "bdata": base64.b64encode(numbers).decode("ascii")}
                trace[key] = (
                    wider
                    if not _spells_a_number_word(wider)
                    else [float(number) if np.isfinite(number) else None for number in numbers]
                )


def _spells_a_number_word(value) -> bool:
    """Whether ``value`` is a typed array whose base64 text contains one of :data:`_NUMBER_WORDS`."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("bdata"), str)
        and any(w in value["bdata"] for w in _NUMBER_WORDS)
    )


def _trace_json(trace) -> dict:
    """``trace.to_plotly_json()`` that shares the trace's data arrays instead of deep-copying them.

    Plotly keeps a validated data array (values, area codes, names, hover rows) as a tuple or a read-only
    numpy array: nothing can change it, yet its copy walked every element. At LSOA level the ≈5,000 hover
    rows alone were about a third of a recolour's server time. The rest is copied as plotly copies it, so
    the JSON is the same.
    """
    arrays = {id(value): value for value in trace._props.values() if isinstance(value, tuple | np.ndarray)}
    return deepcopy(trace._props, arrays)


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
