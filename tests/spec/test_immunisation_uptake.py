"""Cumulative uptake by age on hand-written children: the month a child counts from, and the end point.

Extract date 2026-10-31: the 24-month cohort of 2026-27 Q2 was born 1 Jul - 30 Sep 2024.
"""

from __future__ import annotations

import pytest

from queries import immunisation as imm
from queries.indicators import indicator_values
from tests.spec.helpers import build, jab, patient

Q2 = "2026-27 Q2"


CHILDREN = [
    patient("2024-08-10", patient_id="MMR_ON_1ST_BIRTHDAY"),  # counts from age 13 months (given at 12 m)
    patient("2024-08-10", patient_id="MMR_DAY_BEFORE_13M"),  # 2025-09-09: still 12 completed months
    patient("2024-08-10", patient_id="MMR_ON_13M"),  # 2025-09-10: 13 completed months, counts from 14
    patient("2024-08-10", patient_id="MMR_TOO_EARLY"),  # before the 1st birthday: never counts
    patient("2024-08-10", patient_id="MMR_AFTER_2ND"),  # after the 2nd birthday: not in the 24-month measure
    patient("2024-08-10", patient_id="NO_MMR"),
    patient("2024-08-10", patient_id="OTHER_PRACTICE", practice_code="F84003", lsoa21_code=None),
]
JABS = [
    jab("MMR_ON_1ST_BIRTHDAY", "2025-08-10", "MMR"),
    jab("MMR_DAY_BEFORE_13M", "2025-09-09", "MMR"),
    jab("MMR_ON_13M", "2025-09-10", "MMRV"),
    jab("MMR_TOO_EARLY", "2025-08-09", "MMR"),
    jab("MMR_AFTER_2ND", "2026-08-11", "MMR"),
    jab("OTHER_PRACTICE", "2025-10-01", "MMR"),
]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    connection = build(tmp_path_factory.mktemp("uptake"), patients=CHILDREN, immunisations=JABS)
    yield connection
    connection.close()


def test_children_count_from_the_month_after_the_dose(con):
    curve = imm.uptake_by_age(con, indicator="cover_24m_mmr1", period=Q2, disclose=False).set_index("age")
    assert curve["denominator"].eq(7).all()
    assert curve.loc[12, "numerator"] == 0  # nobody vaccinated before their 1st birthday counts
    assert curve.loc[13, "numerator"] == 2  # MMR on the 1st birthday, and the day before 13 months
    # + MMR on the 13-month birthday, and the other practice's child (dose at 13 months 21 days)
    assert curve.loc[14, "numerator"] == 4
    assert curve.loc[24, "numerator"] == 4  # the dose after the 2nd birthday never counts
    assert list(curve.index) == list(range(25))


def test_the_curve_ends_at_the_indicators_value(con):
    curve = imm.uptake_by_age(con, indicator="cover_24m_mmr1", period=Q2, disclose=False)
    engine = indicator_values(con, indicator="cover_24m_mmr1", period=Q2, disclose=False).iloc[0]
    assert curve.iloc[-1]["value"] == pytest.approx(engine["value"])
    assert curve.iloc[-1]["numerator"] == engine["numerator"]


def test_an_area_filter_keeps_only_its_registered_children(con):
    barnet = imm.uptake_by_age(
        con, indicator="cover_24m_mmr1", period=Q2, filters={"borough": "E09000003"}, disclose=False
    )
    assert barnet["denominator"].eq(6).all() and barnet.iloc[-1]["numerator"] == 3
    with pytest.raises(imm.QueryError):
        imm.uptake_by_age(con, indicator="cover_24m_mmr1", period=Q2, filters={"lsoa_name; DROP": "x"})


def test_disclosure_hides_points_resting_on_1_to_7_children(con):
    curve = imm.uptake_by_age(con, indicator="cover_24m_mmr1", period=Q2, disclose=True)
    # A cohort of 7 is itself 1-7: every point is suppressed, none shows a value or its count.
    assert curve["suppressed"].all() and curve["value"].isna().all() and curve["denominator"].isna().all()
    assert curve.iloc[0]["numerator"] == 0  # a true zero stays zero


def test_the_polio_booster_has_no_curve(con):
    assert not imm.has_uptake_curve("polio_booster_1_9")
    with pytest.raises(imm.QueryError):
        imm.uptake_by_age(con, indicator="polio_booster_1_9", period="polio-2022")
