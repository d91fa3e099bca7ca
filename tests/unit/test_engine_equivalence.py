"""The engine's fast paths give the same answers as the plain ones, on the synthetic small_db fixture.

- Per-patient indicators summed straight from ``ind_patient`` joined to ``patient_dim`` in pandas (no cube
  involved) against the engine's numerators and denominators, by practice, borough x IMD, ICB and residence LSOA.
- Each cube's ``slice`` (what a call filters on) lies in few row groups and agrees with ``ind_slice``.
"""

from __future__ import annotations

import numpy as np
import pytest

from queries import indicators
from queries.materialise import CUBES

# The engine itself, past any result cache a caller may wrap it in (a cache would hand both paths one answer).
indicator_values = getattr(indicators.indicator_values, "__wrapped__", indicators.indicator_values)

FILTERS = {"sex": "F", "ethnicity_group": ["Asian", "Black"]}


@pytest.fixture(scope="module")
def patient_rows(synthetic):
    """Every per-patient fact with the dimensions the pandas check groups and filters by."""
    return synthetic.execute(
        "SELECT f.indicator_id, f.period_id, f.numerator, f.denominator, d.practice_code, d.borough_code, "
        "d.icb_code, d.lsoa21_code, CAST(d.imd_quintile_national AS VARCHAR) AS imd_quintile, d.sex, "
        "d.ethnicity_group FROM ind_patient AS f JOIN patient_dim AS d USING (patient_id)"
    ).df()


@pytest.mark.slow
def test_engine_counts_match_pandas_on_patient_rows(synthetic, patient_rows):
    checked = 0
    for indicator_id in patient_rows["indicator_id"].unique():
        period = indicators.default_period(synthetic, indicator_id)
        rows = patient_rows[(patient_rows["indicator_id"] == indicator_id) & (patient_rows["period_id"] == period)]
        # Practices with filters, borough x IMD quintile, ICBs with filters, and the residence LSOA cube,
        # which is keyed apart from the practice-side cubes.
        for by, keys, filters in (
            ("practice", ["practice_code"], FILTERS),
            (("borough", "imd_quintile"), ["borough_code", "imd_quintile"], None),
            ("icb", ["icb_code"], FILTERS),
            ("lsoa", ["lsoa21_code"], None),
        ):
            data = rows
            if filters:
                data = data[data["sex"].eq("F") & data["ethnicity_group"].isin(["Asian", "Black"])]
            expected = data.groupby(keys, dropna=False)[["numerator", "denominator"]].sum()
            engine = indicator_values(
                synthetic, indicator=indicator_id, period=period, by=by, filters=filters, disclose=False
            )
            codes = ["area_code"] if len(keys) == 1 else ["area_code", "subgroup_code"]
            got = engine.set_index(codes)[["numerator", "denominator"]]
            got.index.names = keys
            got = got[got["denominator"] > 0].sort_index()
            expected = expected[expected["denominator"] > 0].sort_index()
            np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), err_msg=f"{indicator_id} by {by}")
            assert list(got.index) == list(expected.index), f"{indicator_id} by {by}"
            checked += 1
    assert checked >= 4 * 25  # every per-patient indicator, every case


@pytest.mark.slow
def test_each_slice_lies_in_few_row_groups_and_matches_ind_slice(synthetic):
    """The zone maps a call prunes with: a slice spans no more row groups than its rows need, plus two."""
    for cube in CUBES:
        groups = synthetic.execute(
            "SELECT row_group_id, min(CAST(stats['min'] AS INTEGER)), max(CAST(stats['max'] AS INTEGER)), "
            "max(count) FROM pragma_storage_info(?) WHERE column_name = 'slice' AND segment_type <> 'VALIDITY' "
            "GROUP BY row_group_id",
            [cube],
        ).fetchall()
        capacity = max(rows for *_, rows in groups)
        sizes = synthetic.execute(f"SELECT slice, count(*) FROM {cube} GROUP BY slice").fetchall()  # noqa: S608 (constant)
        for number, rows in sizes:
            spanned = sum(1 for _, low, high, _ in groups if low <= number <= high)
            assert spanned <= -(-rows // capacity) + 2, (cube, number, rows, spanned)
        mislabelled = synthetic.execute(
            f"SELECT count(*) FROM {cube} AS c JOIN ind_slice AS s USING (slice) "  # noqa: S608 (cube names are constants)
            "WHERE s.indicator_id <> c.indicator_id OR s.period_id <> c.period_id"
        ).fetchone()[0]
        assert mislabelled == 0, cube
