"""Disclosure control rounds what a restricted role is shown, after the statistics: never before them.

London here is 28 of 42 (66.667 %, shown 66.7). Practice A's 12 of 13 has a 95 % interval from 66.686 %:
better than London. Compared with the London value as shown (66.7), it would be called similar.
"""

from __future__ import annotations

import pytest

from queries.indicators import indicator_values
from tests.spec.helpers import build, vaccinated_at_12_months

PRACTICE_A, PRACTICE_B = "E83003", "E84002"


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    patients, jabs = vaccinated_at_12_months(((PRACTICE_A, 13, 12), (PRACTICE_B, 29, 16)))
    return build(tmp_path_factory.mktemp("order"), patients=patients, immunisations=jabs)


@pytest.mark.parametrize("disclose", [False, True])
def test_the_comparison_is_made_on_unrounded_figures(con, disclose):
    rows = indicator_values(con, indicator="cover_12m_6in1", by="practice", disclose=disclose).set_index("area_code")
    assert rows.loc[PRACTICE_A, "comparison"] == "better"  # interval low 66.686 > London 66.667
    shown_london = rows.loc[PRACTICE_A, "london_value"]
    assert shown_london == (66.7 if disclose else pytest.approx(100 * 28 / 42))
