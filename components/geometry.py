"""Boundary geometry for maps, read once per process from ``data/reference``.

Pure file reading (no SQL): the GeoJSON was simplified at preparation time, so
it is sent to the browser as is.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "data" / "reference"

# London's centre and a zoom that fits all 33 boroughs in a ~600 px map.
LONDON_CENTRE = {"lat": 51.49, "lon": -0.11}
LONDON_ZOOM = 8.6


@cache
def boundaries(level: str) -> dict:
    """The GeoJSON FeatureCollection for ``level`` ('borough', 'icb' or 'lsoa'); feature ids are area codes."""
    files = {"borough": "boroughs.geojson", "icb": "icbs.geojson", "lsoa": "lsoa21.geojson"}
    if level not in files:
        raise ValueError(f"No boundaries for level {level!r}; choose one of {sorted(files)}")
    return json.loads((REFERENCE_DIR / files[level]).read_text())
