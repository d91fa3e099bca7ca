"""``inequality`` (all areas in one array operation) gives the numbers of a statsmodels fit per area.

The reference below is the per-area loop ``inequality`` ran before: a groupby per borough, a
statsmodels WLS per area (:func:`_statsmodels_sii`, the function the loop called) and Newcombe's
interval per area. The vectorised path must match it on the fixture database, for several
indicators (a percentage and the one ratio), both deprivation rankings and a borough filter.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from queries import stats
from queries.indicators import LONDON_CODE, _inequality_rows, _names, default_period, inequality
from queries.registry import get

CASES = [
    ("cover_24m_mmr1", "national", None),
    ("cover_12m_6in1", "london", None),
    ("hyp_detection_ratio", "national", None),
    ("cancer_early_stage", "national", None),
    ("ast_review_12m", "national", {"borough": "E09000003"}),
]


def _statsmodels_sii(values, populations) -> dict[str, float]:
    """SII/RII of one area by statsmodels' WLS on ridit scores: what ``inequality`` computed per area before."""
    values, populations = np.asarray(values, dtype=float), np.asarray(populations, dtype=float)
    keep = populations > 0
    values, populations = values[keep], populations[keep]
    if len(values) < 3:
        return dict.fromkeys(("sii", "sii_low", "sii_high", "rii", "rii_low", "rii_high"), np.nan) | {
            "groups": len(values)
        }
    model = sm.WLS(values, sm.add_constant(stats.ridit_scores(populations)), weights=populations).fit()
    slope = float(model.params[1])
    low, high = (float(x) for x in model.conf_int(alpha=0.05)[1])
    mean = float(np.average(values, weights=populations))
    rii = (slope / mean, low / mean, high / mean) if mean != 0 else (np.nan, np.nan, np.nan)
    return {"sii": slope, "sii_low": low, "sii_high": high, "groups": len(values)} | dict(
        zip(("rii", "rii_low", "rii_high"), rii, strict=True)
    )


def _reference_rows(data: pd.DataFrame, *, indicator: str, names: dict) -> pd.DataFrame:
    """The former per-area loop, verbatim in its arithmetic."""
    spec = get(indicator)
    areas = [(LONDON_CODE, "London", data)]
    areas += [(code, names.get(code, code), group) for code, group in data.groupby("borough_code", sort=True)]
    rows = []
    for code, name, group in areas:
        by_decile = group.groupby("decile")[["numerator", "denominator"]].sum().sort_index()
        by_decile = by_decile[by_decile["denominator"] > 0]
        values = (by_decile["numerator"] / by_decile["denominator"]).to_numpy()
        sii = _statsmodels_sii(values, by_decile["denominator"].to_numpy())
        by_quintile = group.groupby("quintile")[["numerator", "denominator"]].sum()
        empty = pd.Series({"numerator": 0.0, "denominator": 0.0})
        q1 = by_quintile.loc[1] if 1 in by_quintile.index else empty
        q5 = by_quintile.loc[5] if 5 in by_quintile.index else empty
        if spec.unit == "percent":
            gap, gap_low, gap_high = stats.difference_interval(
                q5["numerator"], q5["denominator"], q1["numerator"], q1["denominator"]
            )
        else:
            gap = (
                q5["numerator"] / q5["denominator"] - q1["numerator"] / q1["denominator"]
                if q1["denominator"] and q5["denominator"]
                else np.nan
            )
            gap_low = gap_high = np.nan
        rows.append(
            {
                "area_code": code,
                "area_name": name,
                "denominator": float(group["denominator"].sum()),
                "deciles_used": sii["groups"],
                "sii": sii["sii"] * spec.scale,
                "sii_low": sii["sii_low"] * spec.scale,
                "sii_high": sii["sii_high"] * spec.scale,
                "rii": sii["rii"],
                "rii_low": sii["rii_low"],
                "rii_high": sii["rii_high"],
                "q1_numerator": float(q1["numerator"]),
                "q1_denominator": float(q1["denominator"]),
                "q1_value": q1["numerator"] / q1["denominator"] * spec.scale if q1["denominator"] else np.nan,
                "q5_numerator": float(q5["numerator"]),
                "q5_denominator": float(q5["denominator"]),
                "q5_value": q5["numerator"] / q5["denominator"] * spec.scale if q5["denominator"] else np.nan,
                "gap": gap * spec.scale,
                "gap_low": gap_low * spec.scale,
                "gap_high": gap_high * spec.scale,
            }
        )
    return pd.DataFrame(rows)


def _cube_rows(con, indicator: str, deprivation: str, filters: dict | None) -> pd.DataFrame:
    """The decile/quintile sums ``inequality`` reads, by way of the function itself (no copied SQL)."""
    period = default_period(con, indicator)
    decile, quintile = f"imd_decile_{deprivation}", f"imd_quintile_{deprivation}"
    where = " AND borough_code = $borough" if filters else ""
    return con.execute(
        f"SELECT borough_code, {decile} AS decile, {quintile} AS quintile, "  # noqa: S608 (test constants)
        "sum(numerator) AS numerator, sum(denominator) AS denominator FROM ind_cube_lsoa "
        f"WHERE indicator_id = $indicator AND period_id = $period AND {decile} IS NOT NULL{where} GROUP BY ALL",
        {"indicator": indicator, "period": period, **(filters or {})},
    ).df()


@pytest.fixture(scope="module")
def con(small_db):
    connection = duckdb.connect(str(small_db), read_only=True)
    yield connection
    connection.close()


@pytest.mark.parametrize(("indicator", "deprivation", "filters"), CASES)
def test_vectorised_rows_equal_the_per_area_fits(con, indicator, deprivation, filters):
    data = _cube_rows(con, indicator, deprivation, filters)
    assert len(data) > 0
    names = _names(con, "borough")
    expected = _reference_rows(data, indicator=indicator, names=names)
    actual = _inequality_rows(data, spec=get(indicator), names=names, by_borough=True)
    assert len(actual) == len(expected) > 1
    assert actual["sii"].notna().any()
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(("indicator", "deprivation", "filters"), CASES[:3])
def test_the_engine_call_uses_the_same_rows(con, indicator, deprivation, filters):
    """``inequality`` itself (SQL, rows, disclosure off) agrees with the reference on its own input."""
    data = _cube_rows(con, indicator, deprivation, filters)
    expected = _reference_rows(data, indicator=indicator, names=_names(con, "borough"))
    actual = inequality(con, indicator=indicator, deprivation=deprivation, filters=filters, disclose=False)
    columns = list(expected.columns)
    pd.testing.assert_frame_equal(
        actual[columns].reset_index(drop=True), expected, check_dtype=False, rtol=1e-9, atol=1e-9
    )


def test_areas_with_too_few_deciles_get_no_sii():
    data = pd.DataFrame(
        {
            "borough_code": ["A", "A", "B", "B", "B", "B"],
            "decile": [1, 2, 1, 2, 3, 4],
            "quintile": [1, 1, 1, 1, 2, 2],
            "numerator": [5.0, 6.0, 10.0, 12.0, 14.0, 0.0],
            "denominator": [10.0, 10.0, 20.0, 20.0, 20.0, 0.0],
        }
    )
    rows = _inequality_rows(data, spec=get("cover_24m_mmr1"), names={}, by_borough=True)
    expected = _reference_rows(data, indicator="cover_24m_mmr1", names={})
    pd.testing.assert_frame_equal(rows, expected, check_dtype=False, rtol=1e-9, atol=1e-9)
    assert np.isnan(rows.loc[rows["area_code"] == "A", "sii"].iloc[0])  # two deciles only
    assert rows.loc[rows["area_code"] == "B", "deciles_used"].iloc[0] == 3  # the empty decile is left out
