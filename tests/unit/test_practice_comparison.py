"""The GP-team comparison from three batched engine queries equals the per-vaccine path it replaced.

The reference below is the former implementation: three :func:`indicator_values` calls per vaccine
(the borough's practices, every borough, the PCN), the rank among the borough's practices with a shown
value, and London from the borough rows. On the synthetic small_db fixture, for practices with and
without children in each cohort, both period types, with and without disclosure control.
"""

from __future__ import annotations

import pandas as pd
import pytest

from queries import immunisation as imm
from queries import indicators
from queries.materialise import LONDON_CODE

indicator_values = indicators.indicator_values.uncached


def _per_vaccine_comparison(con, *, practice_code: str, period_type: str, disclose: bool) -> pd.DataFrame:
    """The former ``_practice_comparison``: 3 engine calls and a handful of small frames per vaccine."""
    details = imm.practice_details(con, practice_code=practice_code)

    def one_indicator(spec) -> pd.DataFrame:
        period = imm.period_for(con, indicator=spec.id, period_type=period_type)
        practices = indicator_values(
            con,
            indicator=spec.id,
            period=period,
            by="practice",
            filters={"borough": details["borough_code"]},
            disclose=disclose,
            compare_with="london",  # the practice is compared with London, as the page says
        )
        boroughs = indicator_values(con, indicator=spec.id, period=period, by="borough", disclose=disclose)
        pcn = indicator_values(
            con, indicator=spec.id, period=period, by="pcn", filters={"pcn": details["pcn_code"]}, disclose=disclose
        )
        ranked = practices[~practices["suppressed"].astype(bool) & practices["value"].notna()].copy()
        ranked["rank"] = pd.to_numeric(ranked["value"]).rank(ascending=False, method="min")
        own = practices[practices["area_code"] == practice_code].copy()
        if own.empty:
            own = pd.DataFrame(
                [
                    {
                        "indicator_id": spec.id,
                        "period_id": period,
                        "area_code": practice_code,
                        "area_name": details["practice_name"],
                        "numerator": 0.0,
                        "denominator": 0.0,
                        "suppressed": False,
                        "comparison": "not compared",
                    }
                ]
            )
        own["rank"] = own["area_code"].map(dict(zip(ranked["area_code"], ranked["rank"], strict=True)))
        own["ranked"] = len(ranked)
        london_value = boroughs["london_value"].dropna()
        london = pd.DataFrame(
            [
                {
                    "indicator_id": spec.id,
                    "period_id": period,
                    "area_code": LONDON_CODE,
                    "area_name": "London",
                    "value": london_value.iloc[0] if len(london_value) else None,
                    "numerator": boroughs["numerator"].sum(min_count=1) if not disclose else None,
                    "denominator": boroughs["denominator"].sum(min_count=1) if not disclose else None,
                    "suppressed": london_value.empty,
                    "comparison": "not compared",
                }
            ]
        )
        parts = [
            own.assign(level="Practice"),
            pcn[pcn["area_code"] == details["pcn_code"]].assign(level="PCN"),
            boroughs[boroughs["area_code"] == details["borough_code"]].assign(level="Borough"),
            london.assign(level="London"),
        ]
        block = pd.concat([p for p in parts if not p.empty], ignore_index=True)
        block["title"] = spec.title
        return block

    result = pd.concat([one_indicator(spec) for spec in imm.immunisation_indicators()], ignore_index=True)
    result["level"] = pd.Categorical(result["level"], categories=["Practice", "PCN", "Borough", "London"], ordered=True)
    return result


def _flag(value) -> bool:
    """A flag from a row that may lack it (None, or NaN from a reindex): missing is False."""
    return bool(value) if pd.notna(value) else False


def _wide_reference(frame: pd.DataFrame) -> pd.DataFrame:
    """The former ``practice_comparison_wide``: a dict of rows per vaccine."""
    practice = frame[frame["level"].astype(str) == "Practice"].set_index("indicator_id")
    rows = []
    for indicator_id, block in frame.groupby("indicator_id", sort=False):
        by_level = {str(level): row for level, row in zip(block["level"], block.to_dict("records"), strict=True)}
        own = practice.loc[indicator_id]
        rows.append(
            {
                "indicator_id": indicator_id,
                "title": own["title"],
                "period_id": own["period_id"],
                "practice_value": own.get("value"),
                "ci_low": own.get("ci_low"),
                "ci_high": own.get("ci_high"),
                "vaccinated": own.get("numerator"),
                "children": own.get("denominator"),
                "children_short": own.get("patients_to_target"),
                "children_short_suppressed": _flag(own.get("patients_to_target_suppressed")),
                "rank": own.get("rank"),
                "ranked": own.get("ranked"),
                "comparison": own.get("comparison"),
                "pcn_value": by_level.get("PCN", {}).get("value"),
                "borough_value": by_level.get("Borough", {}).get("value"),
                "london_value": by_level.get("London", {}).get("value"),
                "suppressed": bool(own.get("suppressed")),
            }
        )
    wide = pd.DataFrame(rows)
    numeric = ["practice_value", "ci_low", "ci_high", "vaccinated", "children", "children_short", "rank", "ranked"]
    for column in [*numeric, "pcn_value", "borough_value", "london_value"]:
        wide[column] = pd.to_numeric(wide[column], errors="coerce")
    return wide


@pytest.fixture(scope="module")
def practice_codes(synthetic) -> list[str]:
    """The four practices with the most children in a COVER cohort, and two with none in any."""
    busiest = synthetic.execute(
        "SELECT practice_code FROM ind_cube_area WHERE indicator_id LIKE 'cover%' "
        "GROUP BY practice_code ORDER BY max(denominator) DESC, practice_code LIMIT 4"
    ).fetchall()
    without = synthetic.execute(
        "SELECT practice_code FROM ref_practices WHERE practice_code NOT IN "
        "(SELECT practice_code FROM ind_cube_area WHERE denominator > 0 AND practice_code IS NOT NULL) "
        "ORDER BY practice_code LIMIT 2"
    ).fetchall()
    return [code for (code,) in busiest + without]


@pytest.mark.slow
@pytest.mark.parametrize("disclose", [True, False])
@pytest.mark.parametrize("period_type", ["quarter", "fy"])
def test_batched_comparison_equals_the_per_vaccine_path(synthetic, practice_codes, period_type, disclose):
    shown, empty = 0, 0
    for code in practice_codes:
        batched = imm.practice_comparison.uncached(
            synthetic, practice_code=code, period_type=period_type, disclose=disclose
        )
        reference = _per_vaccine_comparison(synthetic, practice_code=code, period_type=period_type, disclose=disclose)
        # Column order only: the former path put a missing practice row's few columns first when the
        # first vaccine had no child at the practice.
        pd.testing.assert_frame_equal(batched, reference, check_like=True, obj=f"{code} {period_type}")
        pd.testing.assert_frame_equal(imm.practice_comparison_wide(batched), _wide_reference(reference))
        practice = batched[batched["level"] == "Practice"]
        # The fixture's practices have 0-9 children per cohort: under disclosure control none is shown.
        shown += int(practice["value"].notna().sum()) if not disclose else int(batched["value"].notna().sum())
        empty += int((practice["denominator"] == 0).sum())
    assert shown > 0 and empty > 0  # shown values and empty practice rows were both compared


def test_wide_table_equals_the_former_row_by_row_build_on_sparse_rows():
    """Vaccines missing a level, columns missing altogether (no CIs, no rank), a suppressed practice."""
    rows = []
    for indicator_id, levels in (("a", ("Practice", "PCN", "Borough", "London")), ("b", ("Practice", "London"))):
        for level in levels:
            rows.append(
                {
                    "indicator_id": indicator_id,
                    "title": f"Vaccine {indicator_id}",
                    "period_id": "2026-27 Q2",
                    "level": level,
                    "value": None if indicator_id == "b" and level == "Practice" else 80.0 + len(level),
                    "numerator": 40.0,
                    "denominator": 50.0,
                    "suppressed": indicator_id == "b" and level == "Practice",
                    "comparison": "similar",
                }
            )
    frame = pd.DataFrame(rows)
    frame["level"] = pd.Categorical(frame["level"], categories=["Practice", "PCN", "Borough", "London"], ordered=True)
    wide = imm.practice_comparison_wide(frame)
    pd.testing.assert_frame_equal(wide, _wide_reference(frame))
    assert wide["pcn_value"].isna().tolist() == [False, True] and wide["suppressed"].tolist() == [False, True]


def test_a_practice_unrounded_among_disclosed_areas(synthetic):
    """``disclose_practice=False``: the practice's own rows are the unrounded ones, every other level the disclosed
    ones; its rank is taken among the other practices' shown values. The ranking likewise for one practice."""
    code, period_type = "E83003", "quarter"
    mixed = imm.practice_comparison.uncached(
        synthetic, practice_code=code, period_type=period_type, disclose=True, disclose_practice=False
    )
    raw = imm.practice_comparison.uncached(synthetic, practice_code=code, period_type=period_type, disclose=False)
    disclosed = imm.practice_comparison.uncached(synthetic, practice_code=code, period_type=period_type, disclose=True)
    own, others = mixed["level"] == "Practice", mixed["level"] != "Practice"
    counts = ["numerator", "denominator", "value", "ci_low", "ci_high", "patients_to_target"]
    pd.testing.assert_frame_equal(
        mixed.loc[own, counts], raw.loc[raw["level"] == "Practice", counts], check_dtype=False
    )  # disclosed frames hold counts as objects
    pd.testing.assert_frame_equal(mixed[others], disclosed[disclosed["level"] != "Practice"])
    small = mixed[own & mixed["denominator"].between(1, 7)]
    assert len(small) and not small["suppressed"].any(), "no 1-7 count of the practice to show unrounded"
    assert small["rank"].notna().all()  # ranked now that its value is shown

    period = imm.period_for(synthetic, indicator="cover_12m_6in1", period_type=period_type)
    ranking = imm.practice_ranking(
        synthetic, indicator="cover_12m_6in1", period=period, borough_code="E09000003", unrounded_practice=code
    ).set_index("area_code")
    assert ranking.loc[code, "denominator"] == raw.loc[raw["level"] == "Practice"].iloc[0]["denominator"]
    neighbours = ranking.drop(index=code)
    assert neighbours["suppressed"].all()  # every other practice here has 1-7 children: still hidden
    assert list(ranking.index) == sorted(ranking.index)
