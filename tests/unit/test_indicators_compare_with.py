"""``compare_with``: what ``london_value`` and ``comparison`` are against when filters narrow the call.

Hand-written children (6-in-1 at 12 months), every figure worked out by hand below:

- Barnet practice A (E83003): 20 children, 19 vaccinated = 95 % (Wilson 95 % CI 76.4-99.1)
- Barnet practice B (E83005): 20 children, 10 vaccinated = 50 % (CI 29.9-70.1)
- Brent practice (E84002):    40 children, 40 vaccinated
- Barnet 29/40 = 72.5 % (CI 57.2-83.9); London 69/80 = 86.25 %.
- Girls (odd-numbered children of each practice): A 9/10, B 5/10, Brent 20/20, so Barnet's girls
  14/20 = 70 % and London's girls 34/40 = 85 %.
"""

from __future__ import annotations

import pytest

from queries.indicators import QueryError, indicator_values, indicator_values_batch
from tests.spec.helpers import build, vaccinated_at_12_months

PRACTICE_A, PRACTICE_B, BRENT_PRACTICE = "E83003", "E83005", "E84002"
BARNET = "E09000003"
INDICATOR = "cover_12m_6in1"


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    groups = ((PRACTICE_A, 20, 19), (PRACTICE_B, 20, 10), (BRENT_PRACTICE, 40, 40))
    patients, jabs = vaccinated_at_12_months(groups, alternate_sex=True)
    return build(tmp_path_factory.mktemp("compare_with"), patients=patients, immunisations=jabs)


def _practices(con, **kwargs):
    return indicator_values(
        con, indicator=INDICATOR, by="practice", filters={"borough": BARNET}, disclose=False, **kwargs
    ).set_index("area_code")


def test_default_compares_a_boroughs_practices_with_the_borough(con):
    rows = _practices(con)
    assert rows["london_value"].tolist() == pytest.approx([72.5, 72.5])
    assert rows.loc[PRACTICE_A, "comparison"] == "better"  # CI low 76.4 > Barnet 72.5
    assert rows.loc[PRACTICE_B, "comparison"] == "worse"  # CI high 70.1 < 72.5


def test_compare_with_london_compares_the_same_rows_with_london(con):
    rows = _practices(con, compare_with="london")
    assert rows.loc[PRACTICE_A, ["numerator", "denominator"]].tolist() == [19, 20]
    assert rows.loc[PRACTICE_A, "value"] == pytest.approx(95.0)
    assert rows["london_value"].tolist() == pytest.approx([86.25, 86.25])
    assert rows.loc[PRACTICE_A, "comparison"] == "similar"  # CI 76.4-99.1 holds London's 86.25
    assert rows.loc[PRACTICE_B, "comparison"] == "worse"  # CI high 70.1 < 86.25


def test_compare_with_london_keeps_demographic_filters(con):
    rows = indicator_values(
        con,
        indicator=INDICATOR,
        by="practice",
        filters={"borough": BARNET, "sex": "F"},
        disclose=False,
        compare_with="london",
    ).set_index("area_code")
    assert rows.loc[PRACTICE_A, ["numerator", "denominator"]].tolist() == [9, 10]
    assert rows["london_value"].tolist() == pytest.approx([85.0, 85.0])  # London's girls, not Barnet's (70)


def test_an_area_on_its_own_is_compared_with_london(con):
    own = indicator_values(con, indicator=INDICATOR, filters={"borough": BARNET}, disclose=False)
    assert own["comparison"].tolist() == ["not compared"]  # default: Barnet against itself
    row = indicator_values(
        con, indicator=INDICATOR, filters={"borough": BARNET}, disclose=False, compare_with="london"
    ).iloc[0]
    assert row["value"] == pytest.approx(72.5)
    assert row["london_value"] == pytest.approx(86.25)
    assert row["comparison"] == "worse"  # CI high 83.9 < 86.25


def test_without_area_filters_both_ways_agree(con):
    for filters in (None, {"sex": "F"}):
        default = indicator_values(con, indicator=INDICATOR, by="practice", filters=filters, disclose=False)
        london = indicator_values(
            con, indicator=INDICATOR, by="practice", filters=filters, disclose=False, compare_with="london"
        )
        assert default.equals(london)


def test_batch_gives_each_pair_the_single_calls_answer(con):
    requests = [(INDICATOR, None), ("cover_12m_pcv", None)]
    batch = indicator_values_batch(
        con, requests=requests, by="practice", filters={"borough": BARNET}, disclose=False, compare_with="london"
    )
    assert batch.loc[batch["indicator_id"] == INDICATOR, "london_value"].tolist() == pytest.approx([86.25, 86.25])
    for indicator, _ in requests:
        single = indicator_values(
            con, indicator=indicator, by="practice", filters={"borough": BARNET}, disclose=False, compare_with="london"
        )
        mine = batch[batch["indicator_id"] == indicator].reset_index(drop=True)
        assert mine.equals(single)


def test_london_benchmark_follows_disclosure_control(con):
    rows = indicator_values(
        con, indicator=INDICATOR, by="practice", filters={"borough": BARNET}, compare_with="london"
    ).set_index("area_code")
    # London's 69 and 80 are above 7: shown, to one decimal place as every disclosed value (86.25 to even).
    assert rows["london_value"].tolist() == [86.2, 86.2]


def test_unknown_compare_with_is_refused(con):
    with pytest.raises(QueryError, match="compare_with"):
        indicator_values(con, indicator=INDICATOR, filters={"borough": BARNET}, compare_with="england")
