"""What compressing the app's largest response costs: gzip levels 1-6 and zstd 3 on a whole-borough export.

Run: ``.venv/bin/python bench/compression.py --db DB``. Builds the response body of the campaign responder's
widest export (every child 0-18 missing any dose in one borough, as the cohort finder's download sends it) and
times each encoding flask-compress can answer with, printing a Markdown table of time and size. The app's
``COMPRESS_LEVEL`` (gzip) is chosen from this table; zstd is what Chromium, Edge and Firefox are sent.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
from functools import partial
from pathlib import Path

from flask_compress.compat import compression  # zstd from Python 3.14 or its backport, as the app uses

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import timed  # noqa: E402
from components.layout import csv_text  # noqa: E402
from queries import immunisation, immunisation_cohort  # noqa: E402
from queries.db import get_database  # noqa: E402
from security.roles import RowScope  # noqa: E402

GZIP_LEVELS = (1, 2, 3, 4, 6)  # 6 is flask-compress's default
ENCODINGS = {f"gzip level {level}": partial(gzip.compress, compresslevel=level) for level in GZIP_LEVELS}
ENCODINGS["zstd level 3"] = partial(compression.zstd.compress, level=3)  # flask-compress's zstd default


def export_body(db_path: str, borough_code: str) -> tuple[bytes, int]:
    """The JSON body of the cohort finder's download of ``borough_code``'s widest list, and its number of children."""
    con = get_database(db_path)
    criteria = immunisation_cohort.CohortCriteria(
        as_at=immunisation.extract_date(con),
        age_min=0,
        age_max=immunisation_cohort.MAX_AGE,
        missing=tuple(immunisation_cohort.MISSING_DOSES),
    )
    rows, _ = immunisation_cohort.cohort_patients_table(
        con, criteria=criteria, scope=RowScope(borough_codes=(borough_code,))
    )
    # The shape Dash sends for a dcc.Download: the CSV text inside the callback's JSON response.
    response = {"response": {"download": {"data": {"content": csv_text(rows), "filename": "cohort.csv"}}}}
    return json.dumps(response).encode(), rows.num_rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="DuckDB database built by data.build")
    parser.add_argument("--borough", default="E09000012", help="borough code (default Hackney)")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args(argv)

    body, children = export_body(args.db, args.borough)
    print(f"Whole-borough export of {args.borough}: {children:,} children, {len(body):,} bytes of JSON.\n")
    print("| encoding | median ms | bytes | share of raw |")
    print("|---|---:|---:|---:|")
    for name, encode in ENCODINGS.items():
        wall, _ = timed(lambda encode=encode: encode(body), args.repeat)
        size = len(encode(body))
        print(f"| {name} | {statistics.median(wall):.1f} | {size:,} | {size / len(body):.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
