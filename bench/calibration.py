"""Calibration across seeds: the engine's headline table for several synthetic builds, and its mean.

One seed at a small scale is mostly sampling noise for the cancer figures (≈ 250-600 pathways or
tumours a year at scale 0.02); the mean over seeds at a larger scale is what the generator's
parameters actually produce. Each build goes through the same path as ``python -m data.build
synthetic`` and is then read by ``queries.calibrate`` (the ``calibrate`` CLI's tables).

    .venv/bin/python -m bench.calibration --scale 0.05 --seed 1 --seed 2
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from data.build import build_from_directory
from data.synthetic import DEFAULT_EXTRACT_DATE, write_extract
from queries import calibrate


def headline_values(scale: float, seed: int, extract_date: date, work: Path) -> pd.DataFrame:
    """Build one synthetic database under ``work`` and return its calibration headline table."""
    extract = work / f"extract-{scale}-{seed}"
    out = work / f"calibration-{scale}-{seed}.duckdb"
    write_extract(extract, scale=scale, seed=seed, extract_date=extract_date, progress=lambda message: None)
    build_from_directory(
        extract,
        out,
        extract_date=extract_date,
        source="synthetic",
        scale=scale,
        seed=seed,
        progress=lambda message: None,
    )
    con = duckdb.connect(str(out), read_only=True)
    try:
        return calibrate.headline_table(con)
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    """Print each seed's synthetic value per headline, their mean and the published figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--seed", type=int, action="append", help="repeatable; default 1 and 2")
    parser.add_argument("--extract-date", type=date.fromisoformat, default=DEFAULT_EXTRACT_DATE)
    args = parser.parse_args(argv)
    seeds = args.seed or [1, 2]
    columns = {}
    with tempfile.TemporaryDirectory(prefix="calibration-bench-") as work:
        for seed in seeds:
            table = headline_values(args.scale, seed, args.extract_date, Path(work))
            columns[f"seed {seed}"] = table.set_index("indicator_id")["synthetic"]
            published = table.set_index("indicator_id")["published"]
            print(f"seed {seed} done", flush=True)
    result = pd.DataFrame(columns)
    result.insert(0, "published", published)
    result["mean"] = result[[f"seed {seed}" for seed in seeds]].mean(axis=1).round(2)
    print(f"scale {args.scale}, extract date {args.extract_date}")
    print(result.to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
