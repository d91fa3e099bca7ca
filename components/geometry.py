"""Boundary geometry for maps, read or derived once per process from ``data/reference``.

Pure file reading and geometry (no SQL). Borough, ICB and LSOA boundaries were
simplified at preparation time and are sent to the browser as they are. Practice
areas (Voronoi cells around practice locations, clipped to London) are derived
here on first use and cached for the life of the process: about a second once,
then free, and nothing generated needs committing.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import mapping, shape

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "data" / "reference"

# London's centre and a zoom that fits all 33 boroughs in a ~600 px map.
LONDON_CENTRE = {"lat": 51.49, "lon": -0.11}
LONDON_ZOOM = 8.6

LEVELS = ("borough", "icb", "lsoa", "practice")
_FILES = {"borough": "boroughs.geojson", "icb": "icbs.geojson", "lsoa": "lsoa21.geojson"}

# Voronoi cells are built in a plane where one unit east equals one unit north at
# London's latitude, so cells are not stretched east-west as they would be in raw degrees.
_LON_SCALE = math.cos(math.radians(51.5))
# Co-located practices (same building or postcode) are spread on a 25 m circle so each
# gets its own wedge of the shared cell instead of identical, overlapping polygons.
_SPREAD_DEGREES = 25 / 111_320
_PRACTICE_AREA_TOLERANCE = 0.0006  # ≈ 50 m: invisible at borough zoom, keeps the GeoJSON small
_OUTLINE_TOLERANCE = 0.0003  # ≈ 25 m: an outline drawn 2 px wide does not need more
_COORDINATE_DECIMALS = 4  # ≈ 10 m


@cache
def boundaries(level: str) -> dict:
    """The GeoJSON FeatureCollection for ``level`` ('borough', 'icb', 'lsoa' or 'practice'); ids are area codes.

    'practice' gives practice areas: Voronoi cells around practice locations clipped to London.
    """
    if level == "practice":
        return practice_areas()
    if level not in _FILES:
        raise ValueError(f"No boundaries for level {level!r}; choose one of {list(LEVELS)}")
    collection = json.loads((REFERENCE_DIR / _FILES[level]).read_text())
    if level == "borough":
        # Stored at 5 decimal places (1 m); 4 (10 m) looks the same on screen and saves 10 % of the borough
        # figure, room for an exact-enough grey underlay within the 150 kB budget. Rounding each vertex the
        # same way keeps shared edges shared.
        for feature in collection["features"]:
            feature["geometry"] = mapping(
                shapely.transform(shape(feature["geometry"]), lambda xy: np.round(xy, _COORDINATE_DECIMALS))
            )
    return collection


@cache
def area_codes(level: str) -> tuple[str, ...]:
    """Every area code with a boundary at ``level``, in the GeoJSON's order."""
    return tuple(feature["id"] for feature in boundaries(level)["features"])


@cache
def practices() -> pd.DataFrame:
    """The reference list of London GP practices (codes, names, PCN, borough, ICB, lat/lon, list size)."""
    return pd.read_csv(REFERENCE_DIR / "practices.csv", dtype={"practice_code": str})


@cache
def reference_table(name: str) -> pd.DataFrame:
    """A reference CSV by stem ('boroughs', 'icbs', 'lsoa21', 'practices'), read once."""
    if name not in {"boroughs", "icbs", "lsoa21", "practices"}:
        raise ValueError(f"Unknown reference table {name!r}")
    return pd.read_csv(REFERENCE_DIR / f"{name}.csv")


def _shapes(level: str) -> list:
    return [shape(feature["geometry"]) for feature in boundaries(level)["features"]]


@cache
def london_boundary():
    """London as one shapely polygon: the union of the 33 borough boundaries."""
    return shapely.coverage_union_all(_shapes("borough"))


@cache
def london_outline() -> dict:
    """London as a one-feature FeatureCollection, used as the map's grey underlay.

    Areas with no value drawn (suppressed, or outside the data shown) let this
    underlay show through, so they read as grey rather than vanishing.
    """
    # The underlay sits beneath the areas and under the ICB outline, so simplifying it by
    # ~40 m does not show (the outline line covers the edge) and costs 17 kB instead of 30 kB.
    coarse = london_boundary().simplify(0.0005)
    geometry = shapely.set_precision(coarse, 10**-_COORDINATE_DECIMALS)
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "id": "london", "geometry": mapping(geometry)}],
    }


@cache
def icb_outlines() -> dict:
    """ICB boundaries as lines (not polygons), rounded to ~10 m, for an outline layer on top of a map."""
    features = []
    for feature in boundaries("icb")["features"]:
        line = shapely.simplify(shape(feature["geometry"]).boundary, _OUTLINE_TOLERANCE)
        line = shapely.set_precision(line, 10**-_COORDINATE_DECIMALS)
        features.append({"type": "Feature", "id": feature["id"], "geometry": mapping(line)})
    return {"type": "FeatureCollection", "features": features}


@cache
def label_points(level: str) -> pd.DataFrame:
    """A point inside each area (area_code, lat, lon): where a marker for the area is drawn."""
    geometries = _shapes(level)
    points = shapely.point_on_surface(geometries)
    return pd.DataFrame(
        {"area_code": list(area_codes(level)), "lat": shapely.get_y(points), "lon": shapely.get_x(points)}
    )


def _spread_colocated(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = lon.copy(), lat.copy()
    keys = pd.Series(list(zip(lon.round(6), lat.round(6), strict=True)))
    for _, index in keys.groupby(keys).groups.items():
        if len(index) < 2:
            continue
        angles = 2 * np.pi * np.arange(len(index)) / len(index)
        lon[index] += _SPREAD_DEGREES * np.cos(angles) / _LON_SCALE
        lat[index] += _SPREAD_DEGREES * np.sin(angles)
    return lon, lat


def voronoi_areas(codes: list[str], lon: np.ndarray, lat: np.ndarray, clip) -> dict:
    """Voronoi cells around points (lon/lat degrees), clipped to ``clip``, simplified as one coverage.

    Returns a FeatureCollection whose feature ids are ``codes``; points whose cell
    falls wholly outside ``clip`` get no feature.
    """
    lon, lat = _spread_colocated(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    points = shapely.points(lon * _LON_SCALE, lat)
    clip_plane = shapely.transform(clip, lambda xy: xy * [_LON_SCALE, 1.0])
    cells = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=clip_plane.envelope.buffer(0.1))
    cells = np.asarray(shapely.get_parts(cells))
    # Cells come back in no guaranteed order: match each point to the cell that contains it.
    tree = shapely.STRtree(cells)
    point_index, cell_index = tree.query(points, predicate="within")
    owner = np.full(len(points), -1)
    owner[point_index] = cell_index
    clipped = shapely.intersection(cells[owner], clip_plane)
    keep = ~shapely.is_empty(clipped) & (owner >= 0)
    simplified = shapely.coverage_simplify(clipped[keep], _PRACTICE_AREA_TOLERANCE)
    back = shapely.transform(simplified, lambda xy: xy / [_LON_SCALE, 1.0])
    back = shapely.set_precision(back, 10**-_COORDINATE_DECIMALS)
    kept_codes = np.asarray(codes)[keep]
    features = [
        {"type": "Feature", "id": str(code), "geometry": mapping(geometry)}
        for code, geometry in zip(kept_codes, back, strict=True)
        if not geometry.is_empty
    ]
    return {"type": "FeatureCollection", "features": features}


@cache
def practice_areas() -> dict:
    """Practice areas: a Voronoi cell per reference practice, clipped to London (feature id = practice code).

    A cell is the part of London nearer that practice than any other: a stand-in for a
    catchment that lets a practice's value read as an area. It is not the practice's
    registered population, which overlaps with its neighbours'.
    """
    frame = practices()
    codes = frame["practice_code"].tolist()
    return voronoi_areas(codes, frame["lon"].to_numpy(), frame["lat"].to_numpy(), london_boundary())


def bounds_view(level: str, codes: list[str] | set[str]) -> dict | None:
    """Centre and zoom that fit the areas ``codes`` at ``level``, and their ``fit_bounds``; None when no code has
    a boundary.

    ``fit_bounds`` ([[west, south], [east, north]]) tells the browser what must stay in sight: the zoom is
    for a desktop-width map, and ``assets/map_fit.js`` zooms out to the bounds on a narrower screen.
    """
    wanted = set(codes)
    geometries = [shape(f["geometry"]) for f in boundaries(level)["features"] if f["id"] in wanted]
    if not geometries:
        return None
    west, south, east, north = shapely.total_bounds(geometries)
    span = max((east - west) * _LON_SCALE, north - south, 1e-4)
    # Web-Mercator: each zoom step halves the span visible in a ~600 px high map (≈ 0.5 degree at zoom 9).
    zoom = max(min(math.log2(0.55 / span) + 9.0, 14.0), LONDON_ZOOM)
    return {
        "center": {"lat": (south + north) / 2, "lon": (west + east) / 2},
        "zoom": round(zoom, 2),
        "fit_bounds": _rounded_bounds(west, south, east, north),
    }


def widened(view: dict, share: float) -> dict:
    """``view`` with ``share`` of its span added on every side: its ``fit_bounds`` (what the browser keeps in
    sight) widened, and its zoom out to match."""
    (west, south), (east, north) = view["fit_bounds"]
    dx, dy = (east - west) * share, (north - south) * share
    return {
        **view,
        "zoom": round(view["zoom"] - math.log2(1 + 2 * share), 2),
        "fit_bounds": _rounded_bounds(west - dx, south - dy, east + dx, north + dy),
    }


@cache
def london_view() -> dict:
    """The view of all London: :data:`LONDON_CENTRE` and :data:`LONDON_ZOOM`, with ``fit_bounds`` as
    :func:`bounds_view` gives them (London's outline)."""
    west, south, east, north = london_boundary().bounds
    return {"center": LONDON_CENTRE, "zoom": LONDON_ZOOM, "fit_bounds": _rounded_bounds(west, south, east, north)}


def _rounded_bounds(west: float, south: float, east: float, north: float) -> list[list[float]]:
    return [
        [round(float(west), _COORDINATE_DECIMALS), round(float(south), _COORDINATE_DECIMALS)],
        [round(float(east), _COORDINATE_DECIMALS), round(float(north), _COORDINATE_DECIMALS)],
    ]


# Layers drawn over or under every map, served like the areas' boundaries (names are not area levels).
OVERLAYS = {"london-outline": london_outline, "icb-outlines": icb_outlines}


@cache
def geojson_bytes(name: str) -> bytes:
    """The GeoJSON of a level's boundaries or of an overlay (:data:`OVERLAYS`) as compact JSON bytes, for
    serving it by URL (see :func:`register_geometry_route`)."""
    collection = OVERLAYS[name]() if name in OVERLAYS else boundaries(name)
    return json.dumps(collection, separators=(",", ":")).encode()


GEOMETRY_ROUTE = "/geometry/<level>.geojson"


def geometry_url(name: str, *, prefix: str = "") -> str:
    """The same-origin URL :func:`register_geometry_route` serves a level's boundaries or an overlay at (for
    ``area_map(geometry_url=)``)."""
    if name not in LEVELS and name not in OVERLAYS:
        raise ValueError(f"No geometry named {name!r}; choose one of {[*LEVELS, *OVERLAYS]}")
    return prefix.rstrip("/") + GEOMETRY_ROUTE.replace("<level>", name)


def register_geometry_route(server) -> None:
    """Serve every level's boundaries and every overlay at :data:`GEOMETRY_ROUTE` on a Flask ``server``,
    cacheable for a day.

    With it, maps can pass ``geometry_url=geometry_url(level)``: the browser fetches each
    level's geometry (and the London underlay and ICB outlines) once and caches it, instead of
    receiving it inside every figure (the LSOA figure falls from ~1.8 MB to ~0.35 MB). Same
    origin, so still offline.
    """
    from flask import Response, abort  # only where a server exists: the module stays importable without Flask

    def serve(level: str):
        if level not in LEVELS and level not in OVERLAYS:
            abort(404)
        response = Response(geojson_bytes(level), mimetype="application/geo+json")
        response.headers["Cache-Control"] = "private, max-age=86400"
        return response

    server.add_url_rule(GEOMETRY_ROUTE, endpoint="area_geometry", view_func=serve, methods=["GET"])
