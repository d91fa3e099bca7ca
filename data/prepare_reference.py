"""Copy and slim the open reference data the project uses into ``data/reference/``.

Run once by a maintainer when the shared reference set changes::

    python -m data.prepare_reference ../shared/data/reference

The outputs are committed, so the app and the generator run from this repository
alone. Geometry is simplified here, once, with shapely's coverage simplification
(neighbouring polygons keep shared edges, so no slivers or gaps appear), because
every byte of geometry is sent to each browser session.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

OUT = Path(__file__).parent / "reference"

# Simplification tolerances in metres (British National Grid). Chosen so the
# borough figure stays well under 150 kB and the LSOA figure under 1.5 MB
# while boundaries still look right at the zoom a user reads them.
BOROUGH_TOLERANCE_M = 60
LSOA_TOLERANCE_M = 100
COORD_DECIMALS = 5  # about 1 m at London's latitude
LSOA_COORD_DECIMALS = 4  # about 10 m: below the simplification tolerance

ETHNIC_GROUP_COLUMNS = {
    "Asian, Asian British or Asian Welsh": "eth_asian",
    "Black, Black British, Black Welsh, Caribbean or African": "eth_black",
    "Mixed or Multiple ethnic groups": "eth_mixed",
    "White": "eth_white",
    "Other ethnic group": "eth_other",
}


def _write_geojson(gdf: gpd.GeoDataFrame, path: Path, id_column: str, decimals: int = COORD_DECIMALS) -> None:
    """Write features with only an ``id`` (the area code): properties would be
    sent to every browser and the app never reads them from the geometry."""
    gdf = gdf.to_crs(4326)
    geoms = shapely.set_precision(gdf.geometry.values, 10**-decimals)
    features = [
        {"type": "Feature", "id": code, "geometry": json.loads(shapely.to_geojson(geom))}
        for code, geom in zip(gdf[id_column], geoms, strict=True)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":")))


def _simplified(gdf: gpd.GeoDataFrame, tolerance: float) -> gpd.GeoDataFrame:
    gdf = gdf.copy()
    gdf["geometry"] = shapely.coverage_simplify(gdf.geometry.values, tolerance)
    gdf["geometry"] = gdf.geometry.make_valid()
    return gdf


def prepare_boroughs(src: Path) -> pd.DataFrame:
    lookup = pd.read_csv(src / "lookups/london_borough_to_icb.csv")
    boroughs = gpd.read_file(src / "boundaries/london_boroughs_gla_bng.gpkg", layer="Boroughs")
    boroughs = boroughs.rename(columns={"GSS_CODE": "borough_code", "NAME": "borough_name"})
    boroughs = boroughs.merge(lookup[["borough_code", "icb24_code"]], on="borough_code")
    boroughs = boroughs.rename(columns={"icb24_code": "icb_code"})
    boroughs["inner_london"] = boroughs["ONS_INNER"].eq("T")
    geo = _simplified(boroughs[["borough_code", "borough_name", "icb_code", "geometry"]], BOROUGH_TOLERANCE_M)
    _write_geojson(geo, OUT / "boroughs.geojson", "borough_code")

    icbs = boroughs.dissolve(by="icb_code").reset_index()[["icb_code", "geometry"]]
    icbs = _simplified(icbs, BOROUGH_TOLERANCE_M)
    _write_geojson(icbs, OUT / "icbs.geojson", "icb_code")

    table = boroughs[["borough_code", "borough_name", "icb_code", "inner_london"]].copy()
    centroids = boroughs.geometry.representative_point().to_crs(4326)
    table["lat"], table["lon"] = centroids.y.round(5), centroids.x.round(5)
    table.sort_values("borough_code").to_csv(OUT / "boroughs.csv", index=False)

    icb_table = (
        lookup[["icb24_code", "icb24_ods_code", "icb24_name", "icb_short_name"]]
        .drop_duplicates()
        .rename(
            columns={
                "icb24_code": "icb_code",
                "icb24_ods_code": "icb_ods_code",
                "icb24_name": "icb_name",
            }
        )
        .sort_values("icb_code")
    )
    icb_table.to_csv(OUT / "icbs.csv", index=False)
    return table


def prepare_lsoas(src: Path) -> pd.DataFrame:
    lsoa = gpd.read_file(src / "boundaries/lsoa21_bgc_bng/london-2021-lsoa-gen20.shp")
    lsoa = lsoa.rename(columns={"LSOA21CD": "lsoa21_code", "LSOA21NM": "lsoa21_name", "LAD22CD": "borough_code"})
    geo = _simplified(lsoa[["lsoa21_code", "geometry"]], LSOA_TOLERANCE_M)
    _write_geojson(geo, OUT / "lsoa21.geojson", "lsoa21_code", LSOA_COORD_DECIMALS)

    table = lsoa[["lsoa21_code", "lsoa21_name", "borough_code"]].copy()
    centre = lsoa.geometry.representative_point()
    table["easting"], table["northing"] = centre.x.round(0), centre.y.round(0)
    wgs = centre.to_crs(4326)
    table["lat"], table["lon"] = wgs.y.round(5), wgs.x.round(5)

    imd = pd.read_csv(src / "imd/imd2025_lsoa21_london.csv")
    imd = imd.rename(columns={"lsoa21cd": "lsoa21_code"})[
        ["lsoa21_code", "imd_score", "imd_rank", "imd_decile", "imd_quintile"]
    ]
    imd = imd.rename(
        columns={
            "imd_score": "imd2025_score",
            "imd_rank": "imd2025_rank",
            "imd_decile": "imd2025_decile_national",
            "imd_quintile": "imd2025_quintile_national",
        }
    )
    # London-relative quantiles from the national rank (1 = most deprived);
    # the rank, not the rounded score, orders LSOAs without ties.
    pct = imd["imd2025_rank"].rank(method="first") / len(imd)
    imd["imd2025_decile_london"] = np.ceil(pct * 10).astype(int)
    imd["imd2025_quintile_london"] = np.ceil(pct * 5).astype(int)
    table = table.merge(imd, on="lsoa21_code", how="left")

    eth = pd.read_csv(src / "population/census2021_ethnicity_broad_lsoa21_london.csv")
    eth = eth.pivot_table(index="lsoa21_code", columns="ethnic_group", values="prop").rename(
        columns=ETHNIC_GROUP_COLUMNS
    )
    eth = eth[list(ETHNIC_GROUP_COLUMNS.values())].round(4).reset_index()
    table = table.merge(eth, on="lsoa21_code", how="left")

    table = table.merge(_population_lsoa21(src), on="lsoa21_code", how="left")
    table.sort_values("lsoa21_code").to_csv(OUT / "lsoa21.csv", index=False)
    return table


def _population_lsoa21(src: Path) -> pd.DataFrame:
    """Mid-2020 population by broad age, moved from LSOA 2011 to LSOA 2021.

    Splits share an LSOA 2011's people equally among its 2021 children, and
    merges add them up: the ONS lookup carries no weights, and an equal split
    is accurate enough to weight where synthetic patients live.
    """
    pop = pd.read_csv(src / "population/population_mid2020_lsoa11_single_year_london.csv")
    ages = [str(a) for a in range(90)] + ["90"]
    bands = {"pop_0_4": ages[0:5], "pop_5_19": ages[5:20], "pop_20_64": ages[20:65], "pop_65_plus": ages[65:]}
    ages_present = [c for c in pop.columns if c.isdigit() or c == "90"]
    slim = pd.DataFrame({"lsoa11_code": pop["lsoa11_code"]})
    for band, cols in bands.items():
        slim[band] = pop[[c for c in cols if c in ages_present]].sum(axis=1)
    lookup = pd.read_csv(src / "lookups/lsoa11_to_lsoa21_london.csv")[["lsoa11_code", "lsoa21_code"]]
    lookup["share"] = 1 / lookup.groupby("lsoa11_code")["lsoa21_code"].transform("count")
    moved = lookup.merge(slim, on="lsoa11_code")
    for band in bands:
        moved[band] = moved[band] * moved["share"]
    out = moved.groupby("lsoa21_code")[list(bands)].sum().round(0).astype(int).reset_index()
    out["population"] = out[list(bands)].sum(axis=1)
    return out


def prepare_practices(src: Path, boroughs: pd.DataFrame) -> pd.DataFrame:
    gp = pd.read_csv(src / "gp/london_gp_practices.csv", dtype={"open_date": str})
    gp = gp[gp["has_registered_list"] & gp["list_size"].gt(0)].copy()
    # NHS reporting uses the commissioner's ICB; three practices commissioned
    # outside London fall back to the ICB of the borough they stand in.
    borough_icb = boroughs.set_index("borough_code")["icb_code"]
    gp["icb_code"] = gp["icb_code"].fillna(gp["borough_code"].map(borough_icb))
    keep = [
        "practice_code",
        "practice_name",
        "postcode",
        "pcn_code",
        "pcn_name",
        "borough_code",
        "icb_code",
        "lsoa21cd_pip",
        "lat",
        "lon",
        "easting",
        "northing",
        "list_size",
        "pct_under_5",
        "pct_5_19",
        "pct_over_65",
    ]
    gp = gp[keep].rename(columns={"lsoa21cd_pip": "lsoa21_code"})
    # Title case, but not after an apostrophe: str.title() wrote "Gray'S Inn" and "Dr Me Silver'S Practice".
    gp["practice_name"] = gp["practice_name"].str.title().str.replace(r"(?<=\w)'S\b", "'s", regex=True)
    gp["list_size"] = gp["list_size"].astype(int)
    for col in ("pct_under_5", "pct_5_19", "pct_over_65"):
        gp[col] = gp[col].round(3)
    gp.sort_values("practice_code").to_csv(OUT / "practices.csv", index=False)
    return gp


def prepare_age_profile(src: Path) -> None:
    """London's single-year age profile (mid-2020), the shape practices' lists start from."""
    pop = pd.read_csv(src / "population/population_mid2020_lad_single_year_london.csv")
    cols = [c for c in pop.columns if c.isdigit()]
    profile = pop[cols].sum().rename_axis("age").reset_index(name="population")
    profile["age"] = profile["age"].astype(int)
    profile.to_csv(OUT / "london_age_profile_mid2020.csv", index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the shared reference folder")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    boroughs = prepare_boroughs(args.source)
    prepare_lsoas(args.source)
    prepare_practices(args.source, boroughs)
    prepare_age_profile(args.source)
    for path in sorted(OUT.iterdir()):
        print(f"{path.name:40s} {path.stat().st_size / 1024:8.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
