"""queries.hypertension.side_by_side: the table of successive merges on the area, from one join."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from queries import hypertension as hq

KEYS = ["area_code", "area_name"]
MEASURES = ["numerator", "value", "comparison", "suppressed"]


def _part(codes: list[str], names: list[str] | None = None, seed: int = 0) -> pd.DataFrame:
    """One indicator's rows: an area per row, a count, a rate (NaN when hidden), a comparison (None when none)."""
    rng = np.random.default_rng(seed)
    count = len(codes)
    return pd.DataFrame(
        {
            "area_code": pd.array(codes, dtype="str"),
            "area_name": pd.array(names or [f"Area {code[-2:]}" for code in codes], dtype="str"),
            "numerator": rng.integers(0, 100, count),
            "value": np.where(rng.random(count) < 0.3, np.nan, rng.random(count) * 100),
            "comparison": pd.array(rng.choice(["better", "similar", None], count), dtype="str"),
            "suppressed": rng.random(count) < 0.5,
        }
    )


def _merged(parts: list[pd.DataFrame], renamed: dict[str, dict[str, str]], how: str) -> pd.DataFrame:
    """What the borough comparison and people to target did: rename each part, merge them one after another."""
    frames = [part.rename(columns=names) for part, names in zip(parts, renamed.values(), strict=True)]
    table = frames[0]
    for frame in frames[1:]:
        table = table.merge(frame, on=KEYS, how=how)
    return table


CODES = ["E09000033", "E09000002", "E09000012", "E09000003", "E09000020"]
CASES = {
    "one query's areas": [CODES, CODES, CODES],
    "one area missing from a part": [CODES, CODES[:3] + CODES[4:], CODES],
    "an area of one part alone": [CODES, CODES + ["E09000099"], CODES],
    "the same areas in another order": [CODES, CODES[::-1], CODES],
    "no areas": [[], [], []],
    "one area": [CODES[:1], CODES[:1], CODES[:1]],
}


@pytest.mark.parametrize("how", ["outer", "inner"])
@pytest.mark.parametrize("case", list(CASES))
def test_side_by_side_is_the_table_of_successive_merges(case, how):
    parts = [_part(codes, seed=seed) for seed, codes in enumerate(CASES[case])]
    renamed = {f"ind{n}": {c: f"ind{n}_{c}" for c in MEASURES} for n in range(len(parts))}
    pd.testing.assert_frame_equal(hq.side_by_side(parts, renamed, how), _merged(parts, renamed, how))


def test_areas_of_one_name_keep_the_merges_order():
    # Two practices may share a name: an outer merge orders areas by code, then name.
    codes = ["F84003", "E83003", "F84001", "E83001"]
    names = ["Same Surgery", "Same Surgery", "Another", "Same Surgery"]
    parts = [_part(codes, names, seed=seed) for seed in range(2)]
    renamed = {part: {c: f"{part}_{c}" for c in MEASURES} for part in ("a", "b")}
    pd.testing.assert_frame_equal(hq.side_by_side(parts, renamed), _merged(parts, renamed, "outer"))
