"""Figure payload sizes: what a map costs to send, and what a recolour costs instead.

Run: ``.venv/bin/python bench/figures.py``. Builds every map from made-up values
over the real reference geometry (no database needed) and prints, per map, the
size of ``plotly.io.to_json`` of the full figure and of the recolour ``Patch``,
raw and gzipped (what a server with compression sends), with the targets:
borough ≤ 150 kB, LSOA ≤ 1.5 MB, recolour ≤ 100 kB. Also times the builders, and a map
as the pages make it (``area_traces``, then ``area_figure`` or a ``traces_patch`` recolour).
"""

from __future__ import annotations

import gzip
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.io as pio
from plotly.io.json import to_json_plotly

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components import charts, maps  # noqa: E402
from components.geometry import area_codes, geojson_bytes, geometry_url, practices  # noqa: E402
from queries.stats import binomial_funnel_bounds, funnel_class, funnel_limits_table  # noqa: E402

KB = 1000
TARGETS = {"borough": 150 * KB, "lsoa": 1500 * KB, "recolour": 100 * KB}


def made_up_values(codes: list[str], *, seed: int, suppressed_share: float = 0.05) -> pd.DataFrame:
    """Engine-shaped values for ``codes``: percentages (0-100) with normal-approximation CIs, a few suppressed."""
    rng = np.random.default_rng(seed)
    n = len(codes)
    denominator = rng.integers(8, 400, n).astype(float)
    value = rng.beta(40, 8, n)
    half = 1.96 * np.sqrt(value * (1 - value) / denominator)
    frame = pd.DataFrame(
        {
            "area_code": codes,
            "area_name": [f"Area {c}" for c in codes],
            "numerator": np.round(value * denominator),
            "denominator": denominator,
            "value": 100 * value,
            "ci_low": 100 * (value - half),
            "ci_high": 100 * np.minimum(value + half, 1),
            "london_value": 84.0,
            "comparison": rng.choice(["better", "similar", "worse"], n),
            "suppressed": rng.random(n) < suppressed_share,
        }
    )
    frame.loc[frame["suppressed"], ["numerator", "denominator", "value", "ci_low", "ci_high"]] = np.nan
    return frame


def measure(name: str, build, target: int | None, *, recolour: bool = True) -> None:
    """Print the full figure's JSON size (and gzip), the recolour patch's, and the build time."""
    started = time.perf_counter()
    figure = build(seed=1)
    build_ms = (time.perf_counter() - started) * 1000
    full = pio.to_json(figure)
    verdict = "" if target is None else ("  OK" if len(full) <= target else "  OVER TARGET")
    line = (
        f"{name:30s} figure {len(full) / KB:8.1f} kB (gzip {len(gzip.compress(full.encode())) / KB:6.1f}){verdict:13s}"
    )
    if recolour:
        # Serialised as Dash sends a callback's output (dash._utils.to_json): compact, no spaces after separators.
        patch = to_json_plotly(maps.recolour_patch(build(seed=2)).to_plotly_json())
        patch_verdict = "OK" if len(patch) <= TARGETS["recolour"] else "OVER TARGET"
        line += f" | recolour {len(patch) / KB:6.1f} kB (gzip {len(gzip.compress(patch.encode())) / KB:5.1f}) "
        line += f"{patch_verdict:11s}"
    print(f"{line} | build {build_ms:5.0f} ms")


def time_page_builds(name: str, level: str, values, *, repeat: int = 30) -> None:
    """Median milliseconds of a map as the pages make it: the traces, then the whole figure around them
    (``area_figure``, a first draw or a change of level, and its JSON as Dash makes it) or their recolour
    patch (``traces_patch``)."""
    traces_ms, figure_ms, sent_ms, patch_ms = [], [], [], []
    for _ in range(repeat + 3):  # 3 warm-up calls
        started = time.perf_counter()
        traces = maps.area_traces(level=level, values=values, value_label="Coverage")
        built = time.perf_counter()
        figure = maps.area_figure(traces, level=level, geometry_url=geometry_url(level))
        drawn = time.perf_counter()
        to_json_plotly(figure)  # as Dash serialises a callback's figure
        sent = time.perf_counter()
        recolour = maps.area_traces(level=level, values=values, value_label="Coverage", recolour=True)
        patch_started = time.perf_counter()
        maps.traces_patch(recolour)
        traces_ms.append((built - started) * 1000)
        figure_ms.append((drawn - built) * 1000)
        sent_ms.append((sent - drawn) * 1000)
        patch_ms.append((time.perf_counter() - patch_started) * 1000)
    print(
        f"{name:30s} as the pages make it: traces {statistics.median(traces_ms[3:]):5.1f} ms,"
        f" then figure {statistics.median(figure_ms[3:]):5.1f} ms (+ {statistics.median(sent_ms[3:]):4.1f} ms to"
        " serialise it)\n"
        f"{'':30s} or recolour patch"
        f" {statistics.median(patch_ms[3:]):5.1f} ms (median of {repeat})"
    )


def main() -> None:
    boroughs, lsoas = list(area_codes("borough")), list(area_codes("lsoa"))
    reference = practices()
    practice_codes = reference["practice_code"].tolist()
    # First use derives the practice areas (Voronoi); time it apart from the figure builds.
    started = time.perf_counter()
    area_codes("practice")
    print(f"practice areas derived once in {(time.perf_counter() - started) * 1000:.0f} ms")

    def borough(seed):
        return maps.area_map(level="borough", values=made_up_values(boroughs, seed=seed), value_label="Coverage")

    def lsoa(seed):
        return maps.lsoa_choropleth(
            values=made_up_values(lsoas, seed=seed, suppressed_share=0.3), value_label="Coverage"
        )

    def lsoa_by_url(seed):
        return maps.lsoa_choropleth(
            values=made_up_values(lsoas, seed=seed, suppressed_share=0.3),
            value_label="Coverage",
            geometry_url=geometry_url("lsoa"),
        )

    def practice_area(seed):
        return maps.practice_area_choropleth(values=made_up_values(practice_codes, seed=seed), value_label="Coverage")

    def practice_points(seed):
        return maps.practice_points_map(
            values=made_up_values(practice_codes, seed=seed), practices=reference, value_label="Coverage"
        )

    def inequality(seed):
        gaps = made_up_values(boroughs, seed=seed).assign(value=lambda f: f["value"] - 84.0)
        return maps.inequality_map(values=gaps, measure_label="Gap, least minus most deprived")

    def funnel(seed):
        # Limits and classes as queries.indicators.funnel_limits makes them, around London's 84 %.
        values = made_up_values(practice_codes, seed=seed)
        p0, denominator = 0.84, values["denominator"].to_numpy()
        limits = funnel_limits_table(p0, np.nanmax(denominator))
        limits[["lower_95", "upper_95", "lower_998", "upper_998"]] *= 100
        values["funnel"] = funnel_class(values["value"] / 100, denominator, binomial_funnel_bounds(denominator, p0))
        return charts.funnel_plot(points=values, limits=limits, london_value=100 * p0, value_label="Coverage")

    measure("borough choropleth", borough, TARGETS["borough"])
    measure("LSOA choropleth (30% supp.)", lsoa, TARGETS["lsoa"])
    measure("LSOA, geometry by URL", lsoa_by_url, TARGETS["lsoa"])
    print(f"{'  (geometry fetched once)':30s} {len(geojson_bytes('lsoa')) / KB:13.1f} kB")
    measure("practice-area choropleth", practice_area, None)
    measure("practice points", practice_points, None)
    measure("inequality map (borough)", inequality, TARGETS["borough"])
    measure("funnel plot (1,141 practices)", funnel, None, recolour=False)
    time_page_builds("borough choropleth", "borough", made_up_values(boroughs, seed=3))
    time_page_builds("LSOA choropleth (30% supp.)", "lsoa", made_up_values(lsoas, seed=3, suppressed_share=0.3))


if __name__ == "__main__":
    main()
