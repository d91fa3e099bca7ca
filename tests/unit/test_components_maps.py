"""Map builders: right traces, every area listed, suppressed drawn as such (never 0), CIs in hover, cheap recolours."""

from __future__ import annotations

import base64
import json
import math
import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest
import shapely
from plotly.io.json import to_json_plotly
from plotly.utils import PlotlyJSONEncoder
from shapely.geometry import shape

from bench.figures import made_up_values
from components import geometry, maps

BOROUGHS = list(geometry.area_codes("borough"))
CAMDEN, HACKNEY, CITY = "E09000007", "E09000012", "E09000001"


def indicator_frame(codes: list[str], *, value: float = 80.0, denominator: float = 100.0) -> pd.DataFrame:
    """An engine-shaped frame: every area the same unless a test changes a row."""
    return pd.DataFrame(
        {
            "area_code": codes,
            "area_name": [f"Area {code}" for code in codes],
            "numerator": value / 100 * denominator,
            "denominator": denominator,
            "value": value,
            "ci_low": value - 5,
            "ci_high": value + 5,
            "london_value": 85.0,
            "comparison": "similar",
            "suppressed": False,
        }
    )


def suppress(frame: pd.DataFrame, code: str) -> pd.DataFrame:
    frame = frame.copy()
    row = frame["area_code"] == code
    frame.loc[row, ["numerator", "denominator", "value", "ci_low", "ci_high"]] = np.nan
    frame.loc[row, "suppressed"] = True
    return frame


def z_of(figure, code: str) -> float:
    trace = figure.data[maps.AREA_TRACE]
    return float(np.asarray(trace.z)[list(trace.locations).index(code)])


@pytest.fixture(scope="module")
def borough_map():
    frame = indicator_frame(BOROUGHS)
    frame.loc[frame["area_code"] == HACKNEY, ["value", "numerator", "ci_low", "ci_high"]] = [0.0, 0.0, 0.0, 4.0]
    frame.loc[frame["area_code"] == CAMDEN, ["ci_low", "ci_high", "numerator", "denominator"]] = [71.0, 88.0, 80, 100]
    return maps.area_map(level="borough", values=suppress(frame, CITY), value_label="Coverage")


def test_borough_map_is_an_offline_choropleth_of_every_borough(borough_map):
    area, suppressed = borough_map.data
    assert (area.type, suppressed.type) == ("choroplethmap", "scattermap")
    assert len(area.locations) == 33 and set(area.locations) == set(BOROUGHS)
    assert borough_map.layout.map.style == "white-bg"
    assert all(isinstance(layer.source, dict) for layer in borough_map.layout.map.layers)
    assert "http" not in pio.to_json(borough_map).replace("http://www.w3.org", "")


def test_suppressed_area_is_grey_and_labelled_never_zero(borough_map):
    assert math.isnan(z_of(borough_map, CITY))  # not drawn in colour: the grey underlay shows through
    assert z_of(borough_map, HACKNEY) == 0.0  # a true zero stays a zero
    marker_trace = borough_map.data[maps.SUPPRESSED_TRACE]
    assert list(marker_trace.text) == [f"Area {CITY}"]
    assert "Suppressed" in marker_trace.name and "suppressed" in marker_trace.hovertemplate
    underlay = borough_map.layout.map.layers[0]
    assert (underlay.type, underlay.below) == ("fill", "traces")


def test_hover_carries_the_95_percent_ci_and_counts(borough_map):
    area = borough_map.data[maps.AREA_TRACE]
    row = area.customdata[list(area.locations).index(CAMDEN)]
    assert row == (71, 88, 80, 100, "similar")  # the comparison with London after the numbers
    assert "vs London: %{customdata[4]}" in area.hovertemplate
    bare = maps.area_map(level="borough", values=indicator_frame(BOROUGHS).drop(columns="comparison"), value_label="x")
    assert "vs London" not in bare.data[0].hovertemplate
    for needle in ("95% CI", "%{customdata[0]:.1f}–", "%{customdata[1]:.1f}%)", "%{customdata[2]", "London: 85.0%"):
        assert needle in area.hovertemplate


def test_a_missing_value_without_the_flag_is_not_called_suppressed():
    frame = indicator_frame([CAMDEN, HACKNEY])
    frame.loc[1, "value"] = np.nan
    figure = maps.area_map(level="borough", values=frame, value_label="x")
    assert math.isnan(z_of(figure, HACKNEY)) and figure.data[maps.SUPPRESSED_TRACE].name.endswith(": 0 grey areas")


def test_a_value_outside_the_geometry_is_ignored_and_missing_areas_have_no_colour():
    frame = indicator_frame([CAMDEN, "E09999999"])
    figure = maps.area_map(level="borough", values=frame, value_label="Coverage")
    z = np.asarray(figure.data[0].z)
    assert len(z) == 33 and np.isfinite(z).sum() == 1 and z_of(figure, CAMDEN) == pytest.approx(80.0)
    markers = figure.data[maps.SUPPRESSED_TRACE]
    assert list(markers.lat) == [None] and markers.name.endswith(": 0 grey areas")  # absent is not "suppressed"


def test_diverging_scale_is_centred_and_keeps_good_at_the_purple_end():
    frame = indicator_frame(BOROUGHS)
    frame["value"] = np.linspace(70, 99, 33)
    high = maps.area_map(level="borough", values=frame, value_label="x", diverge_around=95).data[0]
    low = maps.area_map(level="borough", values=frame, value_label="x", diverge_around=95, polarity="low").data[0]
    assert high.zmid == 95 and high.zmin == pytest.approx(95 - 23.55) and high.zmax == pytest.approx(95 + 23.55)
    assert high.colorscale[-1][1] != low.colorscale[-1][1]  # reversed when low is good


def test_one_extreme_area_does_not_wash_out_the_diverging_scale():
    frame = indicator_frame(BOROUGHS)
    frame["value"] = np.r_[np.linspace(80, 90, 32), 20.0]
    area = maps.area_map(level="borough", values=frame, value_label="x", diverge_around=85).data[0]
    assert area.zmax - area.zmid < 10  # the 95th centile of distances (5), not the outlier's 65


def test_many_suppressed_areas_keep_the_legend_but_not_a_carpet_of_markers():
    codes = list(geometry.area_codes("lsoa"))[: maps.MAX_SUPPRESSED_MARKERS + 1]
    frame = indicator_frame(codes)
    frame["suppressed"] = True
    frame["value"] = np.nan
    figure = maps.lsoa_choropleth(values=frame, value_label="x")
    markers = figure.data[maps.SUPPRESSED_TRACE]
    assert list(markers.lat) == [None] and markers.name == "Suppressed (1–7 patients): 301 grey areas"
    assert np.isnan(np.asarray(figure.data[0].z, dtype=float)).all()


def test_recolour_patch_sends_values_not_geometry(borough_map):
    frame = suppress(indicator_frame(BOROUGHS, value=60.0), CAMDEN)
    new = maps.area_map(level="borough", values=frame, value_label="Coverage")
    payload = json.dumps(maps.recolour_patch(new).to_plotly_json(), cls=PlotlyJSONEncoder)
    operations = maps.recolour_patch(new).to_plotly_json()["operations"]
    changed = {tuple(op["location"]) for op in operations}
    assert ("data", 0, "z") in changed and ("data", 0, "customdata") in changed
    assert ("data", 1, "text") in changed and ("data", 1, "lat") in changed
    assert not any("geojson" in op["location"] or "layers" in op["location"] for op in operations)
    assert "coordinates" not in payload and len(payload) < 10_000


def test_practice_points_sized_by_denominator_with_suppressed_apart():
    reference = geometry.practices()
    codes = reference["practice_code"].iloc[:3].tolist()
    frame = indicator_frame(codes)
    frame["denominator"] = [400.0, 100.0, 50.0]
    frame = suppress(frame, codes[2])
    figure = maps.practice_points_map(values=frame, practices=reference, value_label="Coverage")
    points, hidden = figure.data
    assert (points.type, hidden.type) == ("scattermap", "scattermap")
    assert list(points.marker.size) == [400.0, 100.0] and points.marker.sizemode == "area"
    assert list(hidden.text) == [f"Area {codes[2]}"] and hidden.name == "Suppressed (1–7 patients): 1 practice"
    assert "%{marker.color:.1f}%" in points.hovertemplate and "95% CI" in points.hovertemplate
    assert figure.layout.map.style == "white-bg"


def test_practice_areas_tile_london_one_cell_per_practice():
    areas = geometry.practice_areas()
    cells = {feature["id"]: shape(feature["geometry"]) for feature in areas["features"]}
    assert len(cells) == len(geometry.practices())
    assert all(cell.is_valid and not cell.is_empty for cell in cells.values())
    london = geometry.london_boundary()
    assert sum(cell.area for cell in cells.values()) == pytest.approx(london.area, rel=0.01)
    # A lone practice lies in its own cell (co-located ones are spread 25 m apart first).
    lone = geometry.practices().drop_duplicates(["lat", "lon"], keep=False).iloc[0]
    assert cells[lone["practice_code"]].buffer(1e-4).contains(shapely.Point(lone["lon"], lone["lat"]))


def test_voronoi_gives_colocated_points_separate_cells():
    square = shapely.box(0, 50, 1, 51)
    collection = geometry.voronoi_areas(
        ["a", "b", "c"], np.array([0.5, 0.5, 0.2]), np.array([50.5, 50.5, 50.2]), square
    )
    cells = [shape(f["geometry"]) for f in collection["features"]]
    assert [f["id"] for f in collection["features"]] == ["a", "b", "c"]
    assert all(cell.area > 0 for cell in cells) and sum(c.area for c in cells) == pytest.approx(1.0, rel=0.02)


def test_inequality_map_shows_percentage_points_around_no_gap():
    frame = indicator_frame(BOROUGHS, value=5.0)
    figure = maps.inequality_map(values=frame, measure_label="Gap")
    area = figure.data[0]
    assert z_of(figure, CAMDEN) == pytest.approx(5.0) and area.zmid == 0.0
    assert "%{z:+.1f} pp" in area.hovertemplate
    proportions = maps.inequality_map(
        values=indicator_frame(BOROUGHS, value=0.05), measure_label="Gap", unit="proportion"
    )
    assert z_of(proportions, CAMDEN) == pytest.approx(5.0)


def test_overview_style_frame_still_draws_counts():
    frame = pd.DataFrame({"borough_code": BOROUGHS, "borough_name": BOROUGHS, "patients": 10, "practices": 2})
    figure = maps.borough_choropleth(
        values=frame, value_column="patients", value_label="Patients", hover_columns={"practices": "Practices"}
    )
    assert "%{customdata[0]:,}" in figure.data[0].hovertemplate and "%{z:,.0f}" in figure.data[0].hovertemplate
    assert [row[0] for row in figure.data[0].customdata] == [2] * 33


def test_fit_to_data_zooms_in_on_the_areas_shown():
    figure = maps.area_map(level="borough", values=indicator_frame([CITY]), value_label="x", fit_to_data=True)
    assert figure.layout.map.zoom > geometry.LONDON_ZOOM + 2


def test_geometry_can_be_served_once_by_url_instead_of_inside_every_figure():
    import flask

    server = flask.Flask(__name__)
    geometry.register_geometry_route(server)
    client = server.test_client()
    response = client.get(geometry.geometry_url("borough"))
    assert response.status_code == 200 and "max-age" in response.headers["Cache-Control"]
    assert json.loads(response.data)["features"][0]["id"] in BOROUGHS
    assert client.get("/geometry/../../settings.geojson").status_code == 404
    assert client.get("/geometry/nowhere.geojson").status_code == 404
    figure = maps.area_map(
        level="lsoa", values=indicator_frame([CAMDEN]), value_label="x", geometry_url=geometry.geometry_url("lsoa")
    )
    assert figure.data[0].geojson == "/geometry/lsoa.geojson" and len(pio.to_json(figure)) < 500_000
    # The underlay and ICB outlines come from the same route: the figure names them, the browser caches them.
    underlay, outlines = figure.layout.map.layers
    assert (underlay.source, outlines.source) == ("/geometry/london-outline.geojson", "/geometry/icb-outlines.geojson")
    for layer, inline in ((underlay, geometry.london_outline()), (outlines, geometry.icb_outlines())):
        served = client.get(layer.source)
        assert served.status_code == 200 and json.loads(served.data) == json.loads(json.dumps(inline))
    inline_map = maps.area_map(level="lsoa", values=indicator_frame([CAMDEN]), value_label="x")
    assert [layer.source for layer in inline_map.layout.map.layers] == [
        geometry.london_outline(),
        geometry.icb_outlines(),
    ]


@pytest.mark.parametrize("diverge_around", [None, 85.0], ids=["sequential", "diverging"])
def test_an_all_suppressed_map_draws_no_colour_scale_but_keeps_a_range(diverge_around):
    frame = indicator_frame(BOROUGHS)
    for code in BOROUGHS:
        frame = suppress(frame, code)
    empty = maps.area_traces(level="borough", values=frame, value_label="Coverage", diverge_around=diverge_around)
    areas = empty[maps.AREA_TRACE]
    assert areas.showscale is False
    assert areas.zmin is not None and areas.zmax is not None and areas.zmin < areas.zmax
    # The recolour patch sends the keys too, so a map that had a scale loses it.
    patch = maps.traces_patch(maps.area_traces(level="borough", values=frame, value_label="Coverage", recolour=True))
    assigned = {tuple(op["location"]): op["params"]["value"] for op in patch.to_plotly_json()["operations"]}
    assert assigned[("data", maps.AREA_TRACE, "showscale")] is False
    assert assigned[("data", maps.AREA_TRACE, "zmin")] < assigned[("data", maps.AREA_TRACE, "zmax")]
    shown = maps.area_traces(level="borough", values=indicator_frame(BOROUGHS), value_label="Coverage")
    assert shown[maps.AREA_TRACE].showscale is True


def test_a_map_names_the_bounds_a_narrow_screen_must_keep_in_sight():
    # The zoom is chosen for a desktop-width map; assets/map_fit.js zooms a phone's map out to these bounds.
    london = maps.area_map(level="borough", values=indicator_frame([CAMDEN]), value_label="x")
    (west, south), (east, north) = london.layout.meta["fit_bounds"]
    every_borough = shapely.total_bounds([shape(f["geometry"]) for f in geometry.boundaries("borough")["features"]])
    assert np.allclose([west, south, east, north], every_borough, atol=1e-4)
    assert london.layout.map.bounds.west is None, "fit_bounds must not become Plotly's pan limit (map.bounds)"

    camden = geometry.bounds_view("borough", [CAMDEN])
    (c_west, c_south), (c_east, c_north) = camden["fit_bounds"]
    assert west < c_west < c_east < east and south < c_south < c_north < north
    moved = maps.moved_map(london, view=camden, uirevision="camden")
    assert moved.layout.meta["fit_bounds"] == camden["fit_bounds"] and moved.layout.map.zoom == camden["zoom"]
    operations = maps.map_patch(london, view=camden).to_plotly_json()["operations"]
    assigned = {tuple(o["location"]): o["params"]["value"] for o in operations if o["operation"] == "Assign"}
    assert assigned[("layout", "meta")] == {"fit_bounds": camden["fit_bounds"]}
    assert assigned[("layout", "map", "zoom")] == camden["zoom"]


def made_up_lsoa_values(*, seed: int = 2, suppressed_share: float = 0.3) -> pd.DataFrame:
    """Every LSOA with a percentage, Wald CI, counts and comparison, some suppressed (bench/figures.py's values)."""
    return made_up_values(list(geometry.area_codes("lsoa")), seed=seed, suppressed_share=suppressed_share)


def sent(patch) -> dict:
    """A patch's assignments by location, as the browser receives them (Dash serialises with to_json_plotly)."""
    operations = json.loads(to_json_plotly(patch.to_plotly_json()))["operations"]
    return {tuple(op["location"]): op["params"]["value"] for op in operations}


def test_an_lsoa_recolour_patch_stays_within_its_budget_as_dash_sends_it():
    # 4,994 LSOAs, 30 % suppressed: float32 typed arrays (whose base64 '/' Dash escapes to six bytes) and a
    # list of comparison words made this 188 kB; rounded numbers and empty rows for undrawn areas, ~135 kB.
    values = made_up_lsoa_values()
    patch = maps.traces_patch(maps.area_traces(level="lsoa", values=values, value_label="Coverage", recolour=True))
    assert len(to_json_plotly(patch.to_plotly_json())) < 140_000
    rows = sent(patch)[("data", maps.AREA_TRACE, "customdata")]
    hidden = values["suppressed"].to_numpy()
    assert len(rows) == len(values) and all(row == [] for row in np.array(rows, dtype=object)[hidden])
    drawn = [row for row in rows if row]
    assert len(drawn) == (~hidden).sum() and {len(row) for row in drawn} == {5}
    assert all(isinstance(number, int) for row in drawn for number in row[2:4])  # counts: '120', not '120.0'
    assert all(round(number, 1) == number for row in drawn for number in row[:2])  # CI to the decimal shown


def test_a_recolour_patch_sends_what_plotlys_own_copy_of_the_traces_would():
    # traces_patch shares the hover rows instead of deep-copying them: what Dash sends must not change.
    values = made_up_lsoa_values()
    traces = maps.area_traces(level="lsoa", values=values, value_label="Coverage", recolour=True)
    serialised = {"data": [trace.to_plotly_json() for trace in traces]}
    maps.convert_to_base64(serialised)
    expected = maps._recolour_traces(serialised["data"])
    for key in maps._OPTIONAL_COLOUR_KEYS:
        if key not in serialised["data"][maps.AREA_TRACE]:
            expected["data"][maps.AREA_TRACE][key] = None
    shared = maps.traces_patch(traces)
    assert to_json_plotly(shared.to_plotly_json()) == to_json_plotly(expected.to_plotly_json())
    assert traces[maps.AREA_TRACE].customdata is not None  # the traces themselves are left as they were


def test_a_map_figure_holds_what_plotly_would_build_from_its_traces():
    # area_figure assigns the hover rows after building the figure instead of letting go.Figure deep-copy them,
    # and does not validate the traces' copies again.
    values = made_up_lsoa_values()
    traces = maps.area_traces(level="lsoa", values=values, value_label="Coverage")
    rows = traces[maps.AREA_TRACE].customdata
    built = maps.area_figure(traces, level="lsoa", geometry_url="/geometry/lsoa.geojson")
    expected = go.Figure(traces)
    expected.data[maps.AREA_TRACE].geojson = "/geometry/lsoa.geojson"
    maps._map_layout(
        expected, height=560, title=None, outlines=True, view=None, uirevision="lsoa-map", overlays_by_url=True
    )
    assert json.loads(to_json_plotly(built)) == json.loads(to_json_plotly(expected))
    assert traces[maps.AREA_TRACE].customdata is rows  # the traces themselves are left as they were


def hover_text(template: str, *, text: str, z: float, row) -> str:
    """The hover Plotly writes from ``template`` for one point, for the d3 formats maps use ('.1f', ',.0f', none)."""

    def fill(match: re.Match) -> str:
        name, _, spec = match.group(1).partition(":")
        value = {"text": text, "z": z}.get(name)
        if name.startswith("customdata["):
            value = row[int(name[len("customdata[") : -1])]
        return format(float(value), spec) if spec else str(value)

    return re.sub(r"%\{([^}]+)\}", fill, template).removesuffix("<extra></extra>")


def test_hover_of_a_drawn_and_a_suppressed_area_reads_the_same_after_a_recolour():
    frame = indicator_frame(BOROUGHS)
    camden = frame["area_code"] == CAMDEN
    columns = ["ci_low", "ci_high", "numerator", "denominator", "comparison"]
    frame.loc[camden, columns] = [71.04, 88.26, 80, 100, "worse"]
    frame = suppress(frame, CITY)
    expected = (
        "<b>Area E09000007</b><br>Coverage: 80.0% (95% CI 71.0–88.3%)<br>80 of 100<br>London: 85.0%<br>vs London: worse"
    )

    figure = maps.area_map(level="borough", values=frame, value_label="Coverage")
    area, markers = figure.data
    at = list(area.locations).index(CAMDEN)
    assert hover_text(area.hovertemplate, text=area.text[at], z=area.z[at], row=area.customdata[at]) == expected
    city = list(area.locations).index(CITY)
    assert math.isnan(area.z[city]) and area.customdata[city] == ()  # not drawn, no numbers: never a 0
    assert hover_text(markers.hovertemplate, text=markers.text[0], z=None, row=None) == (
        f"<b>Area {CITY}</b><br>suppressed (fewer than 8 patients)"
    )

    # The same values sent as a recolour onto a map drawn from other values: names stay, the rest is patched.
    other = maps.area_map(level="borough", values=indicator_frame(BOROUGHS, value=60.0), value_label="Coverage")
    on_screen = json.loads(pio.to_json(other))["data"]
    patch = maps.traces_patch(maps.area_traces(level="borough", values=frame, value_label="Coverage", recolour=True))
    for (_, trace, key), value in sent(patch).items():
        on_screen[trace][key] = value
    area, markers = on_screen
    assert hover_text(area["hovertemplate"], text=area["text"][at], z=80.0, row=area["customdata"][at]) == expected
    assert area["customdata"][city] == [] and markers["text"] == [f"Area {CITY}"]


def test_hover_numbers_are_rounded_as_plotly_shows_them_and_a_missing_one_is_not_zero():
    frame = indicator_frame([CAMDEN, HACKNEY])
    # d3-format rounds with JavaScript's toFixed: an exact tie goes up (72.25 -> '72.3'; Python's round gives 72.2).
    frame.loc[0, ["ci_low", "ci_high", "numerator"]] = [72.25, 0.15 + 88, 79.0]
    frame.loc[1, "ci_low"] = np.nan  # a drawn area without a CI end: d3 writes 'NaN', as before
    area = maps.area_map(level="borough", values=frame, value_label="x").data[maps.AREA_TRACE]
    rows = {code: row for code, row in zip(area.locations, area.customdata, strict=True) if row}
    assert rows[CAMDEN][:3] == (72.3, 88.2, 79) and rows[HACKNEY][0] == "NaN"
    proportions = frame.assign(value=0.8, ci_low=0.84312, ci_high=0.9, numerator=80, denominator=100)
    area = maps.area_map(level="borough", values=proportions, value_label="x", unit="proportion").data[0]
    assert [row[:2] for row in area.customdata if row] == [(0.843, 0.9)] * 2  # '.1%': 84.3%, 90.0%


@pytest.mark.parametrize(
    ("level", "code", "name"),
    [
        ("borough", CAMDEN, "Camden"),
        ("lsoa", "E01000001", "City of London 001A"),
        ("practice", "E83003", "Oakleigh Road Health Centre"),
    ],
)
def test_a_map_drawn_before_its_values_names_every_area_for_the_recolours_to_come(level, code, name):
    # Names go once, with the first figure; a recolour never resends them. Hypertension and asthma draw
    # their borough map empty and fill it with a patch: every hover named a borough by its code.
    empty = maps.area_map(level=level, values=maps.empty_area_values(), value_label="")
    area = empty.data[maps.AREA_TRACE]
    assert area.text[list(area.locations).index(code)] == name
    assert not set(area.text) & set(area.locations)  # no area is left named by its code
    named = maps.area_map(level="borough", values=indicator_frame([CAMDEN]), value_label="x").data[0]
    assert named.text[list(named.locations).index(CAMDEN)] == f"Area {CAMDEN}"  # the values' own name first


@pytest.mark.parametrize("diverge_around", [None, 80.0], ids=["sequential", "diverging"])
@pytest.mark.parametrize("everything_suppressed", [False, True], ids=["values", "all suppressed"])
@pytest.mark.parametrize("recolour", [False, True], ids=["figure", "recolour"])
def test_the_area_trace_built_without_validation_passes_plotlys_validation_unchanged(
    diverge_around, everything_suppressed, recolour
):
    frame = indicator_frame(BOROUGHS)
    if everything_suppressed:
        for code in BOROUGHS:
            frame = suppress(frame, code)
    trace = maps.area_traces(
        level="borough", values=frame, value_label="Coverage", diverge_around=diverge_around, recolour=recolour
    )[maps.AREA_TRACE]
    validated = go.Choroplethmap(trace.to_plotly_json())  # raises on an unknown property or an invalid value
    assert json.loads(to_json_plotly(validated)) == json.loads(to_json_plotly(trace))
    assert isinstance(trace.colorscale[0][1], str)  # the scale's steps, not a name Plotly.js would read its own way


# A float32 whose first three bytes are 'NaNA' in base64 (bytes 35 a3 40 42, little-endian): 48.159...
SPELLS_NAN = float(np.frombuffer(bytes([0x35, 0xA3, 0x40, 0x42]), dtype="float32")[0])


def decoded(array) -> np.ndarray:
    """The numbers a typed-array spec (or a plain list, null for missing) carries, as the browser reads them."""
    if isinstance(array, list):
        return np.array([np.nan if number is None else number for number in array], dtype="float64")
    return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).astype("float64")


def test_values_spelling_nan_in_base64_are_sent_so_plotly_encodes_the_response_once():
    # Plotly's encoder decodes and re-encodes a whole response whose text contains "NaN" or "Infinity"
    # anywhere, base64 included: such a map array is sent as float64 instead, with the same numbers.
    codes = list(geometry.area_codes("borough"))
    frame = indicator_frame(codes)
    frame.loc[frame["area_code"] == codes[0], "value"] = SPELLS_NAN
    frame = suppress(frame, codes[1])
    as_float32 = np.array([SPELLS_NAN, np.nan] + [80.0] * (len(codes) - 2), dtype="float32")
    assert "NaN" in base64.b64encode(as_float32.tobytes()).decode()

    figure = maps.area_map(level="borough", values=frame, value_label="Coverage")
    patch = maps.traces_patch(maps.area_traces(level="borough", values=frame, value_label="Coverage", recolour=True))
    for z in (figure.to_plotly_json()["data"][maps.AREA_TRACE]["z"], sent(patch)[("data", maps.AREA_TRACE, "z")]):
        assert z["dtype"] == "f8"
        np.testing.assert_array_equal(decoded(z), as_float32.astype("float64"))  # NaN where suppressed
    one_pass = json.JSONEncoder.encode(PlotlyJSONEncoder(), figure.to_plotly_json())
    assert "NaN" not in one_pass and "Infinity" not in one_pass


def test_an_array_spelling_nan_both_ways_is_sent_as_numbers_with_null_for_missing():
    rng = np.random.default_rng(0)
    for _ in range(200):  # random float32 arrays until their float64 base64 also spells "NaN"
        numbers = np.concatenate([[SPELLS_NAN, np.nan], rng.uniform(0, 100, 3000)]).astype("float32")
        if "NaN" in base64.b64encode(numbers.astype("float64").tobytes()).decode():
            break
    else:
        pytest.fail("no array spelling NaN as float64 found")
    serialised = {"data": [{"z": numbers, "name": "x"}]}
    maps._as_typed_arrays(serialised)
    z = serialised["data"][0]["z"]
    assert isinstance(z, list) and z[1] is None
    np.testing.assert_array_equal(decoded(z), numbers.astype("float64"))
    untouched = {"data": [{"z": np.array([1.5, 2.5], dtype="float32")}]}
    maps._as_typed_arrays(untouched)
    assert untouched["data"][0]["z"]["dtype"] == "f4"  # arrays that spell nothing stay float32


def test_a_map_moved_or_retitled_leaves_the_next_maps_layout_as_it_was():
    # Map layouts are validated once and shared (_map_layout_json): what one figure changes stays in that figure.
    codes = list(geometry.area_codes("borough"))
    first = maps.area_map(level="borough", values=indicator_frame(codes), value_label="x", geometry_url="/g")
    untouched = json.loads(to_json_plotly(first.layout))
    maps.moved_map(first, view=geometry.bounds_view("borough", {HACKNEY}), uirevision="moved")
    first.update_layout(title="Changed", margin={"t": 40})
    first.layout.map.layers[0].color = "red"
    with pytest.raises(ValueError):  # the shared layout's copy is still validated when changed
        first.update_layout(map={"zoom": "near"})
    second = maps.area_map(level="borough", values=indicator_frame(codes), value_label="x", geometry_url="/g")
    assert json.loads(to_json_plotly(second.layout)) == untouched
    assert first.layout.map.zoom > second.layout.map.zoom and first.layout.title.text == "Changed"


def test_a_widened_view_keeps_its_centre_and_shows_the_margin_on_every_side():
    from components.geometry import bounds_view, widened

    hackney = bounds_view("borough", ["E09000012"])
    wide = widened(hackney, 0.25)
    (west, south), (east, north) = hackney["fit_bounds"]
    (wide_west, wide_south), (wide_east, wide_north) = wide["fit_bounds"]
    assert wide_east - wide_west == pytest.approx(1.5 * (east - west), rel=1e-3)
    assert wide_north - wide_south == pytest.approx(1.5 * (north - south), rel=1e-3)
    assert (wide_west + wide_east) / 2 == pytest.approx((west + east) / 2, abs=1e-5)
    assert wide["center"] == hackney["center"]
    assert wide["zoom"] == pytest.approx(hackney["zoom"] - math.log2(1.5), abs=0.01)
