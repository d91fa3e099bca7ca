"""How often a map's typed arrays spell "NaN" in base64, and what that costs Plotly's JSON encoder.

Run: ``.venv/bin/python bench/response_encoding.py --db DB``. For every asthma measure and map level it builds
the map as the asthma page does (whole figure and recolour patch traces), serialises each as Plotly's
``convert_to_base64`` alone would and as the maps module does (``_as_typed_arrays``), and times
``to_json_plotly`` (what Dash encodes a response with) of both. Plotly's encoder decodes and re-encodes a whole
response whose text contains "NaN" or "Infinity", base64 included.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from copy import deepcopy
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _plotly_utils.utils import convert_to_base64  # noqa: E402
from plotly.io.json import to_json_plotly  # noqa: E402

from bench.timing import timed  # noqa: E402
from components import asthma_views, maps  # noqa: E402
from queries import asthma  # noqa: E402
from queries.db import get_database  # noqa: E402

LEVELS = ("borough", "practice", "lsoa")
WORDS = ("NaN", "Infinity")


def responses(con) -> list[tuple[str, dict]]:
    """(label, unconverted serialised map) for every measure and level: the figure and the recolour patch."""
    found = []
    for measure in asthma.MEASURES:
        m = asthma.measure(measure)
        for level in LEVELS:
            values = asthma.measure_values(con, measure_id=measure, period=None, by=level, disclose=True)
            figure = asthma_views.measure_map(
                level=level, values=values, value_label=m.label, unit=m.unit, polarity=m.polarity
            )
            recolour = maps.indicator_traces(
                level=level, values=values, value_label=m.label, unit=m.unit, polarity=m.polarity, recolour=True
            )
            unconverted = {"data": [maps._trace_json(t) for t in figure.data], "layout": figure.layout.to_plotly_json()}
            found.append((f"{measure} {level} figure", unconverted))
            found.append((f"{measure} {level} patch", {"data": [maps._trace_json(t) for t in recolour]}))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="DuckDB database built by data.build")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args(argv)
    found = responses(get_database(args.db))
    print(f"{len(found)} map responses (every asthma measure x {len(LEVELS)} levels, figure and patch)\n")
    print("| response | kB | plotly's arrays spell a word | encode ms, plotly's arrays | encode ms, _as_typed_arrays |")
    print("|---|---:|---|---:|---:|")
    spelled = 0
    for label, raw in found:
        plain, ours = deepcopy(raw), deepcopy(raw)
        convert_to_base64(plain)
        maps._as_typed_arrays(ours)
        text = to_json_plotly(plain)
        hit = any(word in text for word in WORDS)
        spelled += hit
        if hit or len(text) > 200_000:  # every hit, and the large responses for comparison
            before = statistics.median(timed(lambda plain=plain: to_json_plotly(plain), args.repeat)[0])
            after = statistics.median(timed(lambda ours=ours: to_json_plotly(ours), args.repeat)[0])
            print(f"| {label} | {len(text) / 1000:.0f} | {'yes' if hit else 'no'} | {before:.1f} | {after:.1f} |")
    print(f"\n{spelled} of {len(found)} responses spelled NaN or Infinity with Plotly's arrays.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
