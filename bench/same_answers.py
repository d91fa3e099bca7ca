"""Whether two commits of the engine give exactly the same answers: every value, dtype and Python type.

For a change meant to make the engine faster without changing what it says. Both commits are loaded
into one process (as bench/engine_versions.py does) and asked the same questions on one database:
every indicator alone and in one batch (its default period, and every third at its oldest), at 11
levels and filter sets, with and without disclosure control, compared with the filtered total and
with London; each indicator's trend by borough and for one practice; the GP-team comparison of 12
practices for both period types and three disclosure settings, and its table of one row a vaccine.
Frames are compared with ``check_exact=True`` and the type of every value in each object column.

    python bench/same_answers.py --db /tmp/m28/db01/pathfinder.duckdb --commits 1d5f655 HEAD
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import duckdb
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.engine_versions import checkout, load_version  # noqa: E402

CASES = (
    ("practice", {"borough": "E09000012"}),
    ("borough", None),
    ("pcn", None),
    ("icb", None),
    ("london", None),
    (("borough", "imd_quintile"), {"sex": "F"}),
    ("lsoa", {"imd_decile": [1, 2]}),
    ("imd_quintile", None),
    ("ethnicity_group", {"borough": "E09000003"}),
    ("age_band", None),
    ("sex", {"age_band": ["0-4", "5-9"]}),
)
GP_PRACTICE = "E83003"


def practices(con) -> list[str]:
    """demo.gp's practice and the first practice (by code) of every third borough."""
    firsts = con.execute(
        "SELECT min(practice_code) FROM ref_practices GROUP BY borough_code ORDER BY borough_code"
    ).fetchall()
    return [GP_PRACTICE, *[code for (code,) in firsts[::3]]]


def questions(con, modules: dict[str, ModuleType]) -> Iterator[tuple[str, Callable[[], object]]]:
    """(label, call) for every question asked of one version."""
    engine, immunisation = modules["indicators"], modules["immunisation"]
    values, batch, trend = (
        engine.indicator_values.uncached,
        engine.indicator_values_batch.uncached,
        engine.trend.uncached,
    )
    registry = list(engine.registry)
    requests = [(i, None) for i in registry] + [
        (i, str(engine.periods(con, i)["period_id"].iloc[-1])) for i in registry[::3]
    ]
    for by, filters in CASES:
        for disclose in (True, False):
            for compare_with in ("filtered", "london"):
                common = {"by": by, "filters": filters, "disclose": disclose, "compare_with": compare_with}
                yield f"batch {common}", lambda common=common: batch(con, requests=requests, **common)
                for indicator in registry:
                    yield f"{indicator} {common}", lambda i=indicator, common=common: values(con, indicator=i, **common)
    for indicator in registry:
        for disclose in (True, False):
            yield (
                f"trend {indicator} by borough {disclose}",
                lambda i=indicator, d=disclose: trend(con, indicator=i, by="borough", disclose=d),
            )
            yield (
                f"trend {indicator} practice {disclose}",
                lambda i=indicator, d=disclose: trend(con, indicator=i, filters={"practice": GP_PRACTICE}, disclose=d),
            )
    comparison, wide = immunisation.practice_comparison.uncached, immunisation.practice_comparison_wide
    for code in practices(con):
        for period_type in ("quarter", "fy"):
            for disclose, own in ((True, True), (True, False), (False, False)):
                label = f"practice comparison {code} {period_type} disclose={disclose} own rows disclosed={own}"

                def rows(c=code, p=period_type, d=disclose, o=own):
                    return comparison(con, practice_code=c, period_type=p, disclose=d, disclose_practice=o)

                yield label, rows
                yield f"{label}, one row a vaccine", lambda rows=rows: wide(rows())


def answer(call: Callable[[], object]) -> object:
    """The call's result, or the error it raised (as text: two versions may refuse alike)."""
    try:
        return call()
    except Exception as error:  # noqa: BLE001 (an error is an answer to compare)
        return f"{type(error).__name__}: {error}"


def difference(before: object, after: object) -> str | None:
    """None when the two answers are the same to the bit and the type; else what differs."""
    if not isinstance(before, pd.DataFrame) or not isinstance(after, pd.DataFrame):
        return None if repr(before) == repr(after) else f"{before!r} != {after!r}"
    try:
        pd.testing.assert_frame_equal(before, after, check_exact=True)
    except AssertionError as error:
        return str(error)
    for column in before.columns:
        if before[column].dtype == object:
            types = ([type(v).__name__ for v in before[column]], [type(v).__name__ for v in after[column]])
            if types[0] != types[1]:
                return f"{column}: value types {sorted(set(types[0]))} != {sorted(set(types[1]))}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--commits", nargs=2, required=True, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args(argv)
    con = duckdb.connect(args.db, read_only=True)
    with tempfile.TemporaryDirectory() as folder:
        versions = {}
        for index, commit in enumerate(args.commits):
            short = checkout(commit, Path(folder) / str(index))
            versions[short] = load_version(Path(folder) / str(index), short)
    (before_label, before), (after_label, after) = versions.items()
    asked, rows, refused, differing = 0, 0, 0, []
    for (label, call_before), (_label, call_after) in zip(questions(con, before), questions(con, after), strict=True):
        first, second = answer(call_before), answer(call_after)
        asked += 1
        rows += len(first) if isinstance(first, pd.DataFrame) else 0
        refused += isinstance(first, str)
        found = difference(first, second)
        if found:
            differing.append((label, found))
    con.close()
    print(
        f"{before_label} vs {after_label} on {args.db}: {asked} answers ({refused} of them errors in the first), "
        f"{rows:,} rows, {len(differing)} differ"
    )
    for label, found in differing[:20]:
        print(f"- {label}: {found[:400]}")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
