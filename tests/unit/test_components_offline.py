"""Every figure builder works offline (no external URL, no tile layer), and the layers keep to their imports."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest

from components import charts, geometry, maps

ROOT = Path(__file__).resolve().parents[2]
# Namespace URIs (SVG/XHTML) are identifiers, never fetched.
NAMESPACE = re.compile(r"https?://www\.w3\.org/[\w/.#-]*")
URL = re.compile(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}|https?://", re.IGNORECASE)
BOROUGHS = list(geometry.area_codes("borough"))


def engine_rows(codes: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    value = rng.uniform(60, 95, len(codes))
    frame = pd.DataFrame(
        {
            "area_code": codes,
            "area_name": codes,
            "numerator": np.round(value),
            "denominator": 100.0,
            "value": value,
            "ci_low": value - 5,
            "ci_high": value + 5,
            "london_value": 80.0,
            "comparison": "similar",
            "suppressed": False,
        }
    )
    frame.loc[0, ["numerator", "denominator", "value", "ci_low", "ci_high"]] = np.nan
    frame.loc[0, "suppressed"] = True
    return frame


def every_figure():
    practices = geometry.practices()
    practice_rows = engine_rows(practices["practice_code"].iloc[:40].tolist())
    limits = pd.DataFrame(
        {
            "denominator": [1.0, 1000.0],
            "lower_95": [50.0, 78.0],
            "upper_95": [99.0, 82.0],
            "lower_998": [40.0, 77.0],
            "upper_998": [100.0, 83.0],
        }
    )
    series = engine_rows([f"P{i}" for i in range(8)]).assign(
        period_label=[f"Q{i}" for i in range(8)], centre=80.0, lower_limit=70.0, upper_limit=90.0, variation="common"
    )
    return {
        "borough": maps.borough_choropleth(values=engine_rows(BOROUGHS), value_label="x", unit="percent"),
        # As the pages draw maps: geometry, underlay and outlines by same-origin URL (geometry.GEOMETRY_ROUTE).
        "served lsoa": maps.area_map(
            level="lsoa", values=engine_rows(["E01000001"]), value_label="x", geometry_url=geometry.geometry_url("lsoa")
        ),
        "practice areas": maps.practice_area_choropleth(values=practice_rows, value_label="x"),
        "practice points": maps.practice_points_map(values=practice_rows, practices=practices, value_label="x"),
        "inequality map": maps.inequality_map(values=engine_rows(BOROUGHS), measure_label="Gap"),
        "funnel": charts.funnel_plot(
            points=practice_rows.assign(funnel="within"), limits=limits, london_value=80.0, value_label="x"
        ),
        "inequality chart": charts.inequality_chart(
            values=engine_rows(["Q1", "Q2", "Q3"]), value_label="x", dimension_label="IMD quintile", london_value=80.0
        ),
        "ranked": charts.ranked_chart(values=practice_rows, value_label="x", london_value=80.0, target=95.0),
        "spc": charts.spc_chart(series=series, value_label="x", target=95.0),
        "uptake": charts.uptake_curve(curves=pd.DataFrame({"series": "A", "age": [8, 12], "value": [50.0, 90.0]})),
        "sankey": charts.patient_flow_sankey(
            flows=pd.DataFrame({"source": ["GP"], "target": ["Barts"], "patients": [10.0]})
        ),
    }


@pytest.fixture(scope="module")
def figures():
    return every_figure()


def test_no_figure_refers_to_anything_outside_the_page(figures):
    for name, figure in figures.items():
        text = NAMESPACE.sub("", pio.to_json(figure))
        assert URL.findall(text) == [], name
        assert "mapbox" not in text, name  # mapbox traces need a token and tiles


def same_origin_geometry(source) -> bool:
    """A layer source the app serves itself: inline GeoJSON, or a path on its own geometry route."""
    return isinstance(source, dict) or (isinstance(source, str) and re.fullmatch(r"/geometry/[\w-]+\.geojson", source))


def test_every_map_is_white_background_with_same_origin_sources(figures):
    for name, figure in figures.items():
        if "map" not in figure.layout or figure.layout.map.style is None:
            continue
        assert figure.layout.map.style == "white-bg", name
        for layer in figure.layout.map.layers:
            assert layer.sourcetype == "geojson" and same_origin_geometry(layer.source), name
            assert layer.type in {"fill", "line"}, name  # no raster/vector tile layers
        assert {trace.type for trace in figure.data} <= {"choroplethmap", "scattermap"}, name
        assert figure.data[0].type == "scattermap" or same_origin_geometry(figure.data[0].geojson), name
    assert sum(1 for f in figures.values() if f.layout.map.style == "white-bg") == 5
    assert not same_origin_geometry("//tiles.example.org/london.geojson")
    assert not same_origin_geometry("/geometry/../settings.geojson")


def test_the_scan_itself_catches_a_cdn_url(figures):
    leaked = json.dumps({"source": "https://tiles.example.org/{z}/{x}/{y}.png"})
    assert URL.findall(NAMESPACE.sub("", leaked))


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "layer, forbidden",
    [("components", {"queries", "data", "duckdb"}), ("queries", {"dash", "plotly"}), ("data", {"dash", "plotly"})],
)
def test_layers_import_only_downwards(layer, forbidden):
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in sorted((ROOT / layer).rglob("*.py"))
        for module in imported_modules(path)
        if module.split(".")[0] in forbidden
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "name", ["borough", "practice areas", "practice points", "funnel", "inequality chart", "ranked", "spc"]
)
def test_every_value_trace_carries_its_95_percent_ci_in_hover(figures, name):
    value_traces = [t for t in figures[name].data if t.hovertemplate and "suppressed" not in t.hovertemplate]
    assert value_traces, name
    for trace in value_traces:
        assert "95% CI %{customdata[0]" in trace.hovertemplate and "%{customdata[1]" in trace.hovertemplate, name
        if trace.customdata is not None and len(trace.customdata):
            # ci_low, ci_high, numerator, denominator in every row with a hover (a map's undrawn areas have none)
            rows = [row for row in trace.customdata if len(row)]
            assert rows and all(len(row) >= 4 for row in rows), name
