"""What the cancer page's waits and trends show a restricted role: no hidden count can be worked back.

Hand-written FDS pathways (told within 28 days or not), counts chosen on the NHS rule's edges: 1-7 are
suppressed, the rest rounded to 5 (docs/clinical-indicators.md §6.2).
"""

from __future__ import annotations

import pytest

from queries import cancer as cq
from queries import stats
from queries.disclosure import disclose_count
from tests.spec.helpers import build, d, patient

MONTH = "2026-09"
BARTS, GUYS = "R1H", "RJ1"


def told(pathway_id: str, *, provider: str, referral: str, told_on: str) -> dict:
    return {
        "pathway_id": pathway_id,
        "patient_id": "PT",
        "referral_date": d(referral),
        "priority_type": "urgent_suspected_cancer",
        "suspected_site": "lung",
        "provider_code": provider,
        "diagnosis_told_date": d(told_on),
        "diagnosis_outcome": "cancer_ruled_out",
        "decision_to_treat_date": None,
        "treatment_start_date": None,
        "treatment_provider_code": None,
    }


def several(prefix: str, count: int, **kwargs) -> list[dict]:
    return [told(f"{prefix}_{i}", **kwargs) for i in range(count)]


# September 2026, referred 20 Aug: told on 9 Sep is day 20 (within 28), on 29 Sep day 40 (beyond).
WITHIN = {"referral": "2026-08-20", "told_on": "2026-09-09"}
BEYOND = {"referral": "2026-08-20", "told_on": "2026-09-29"}
# August 2026 (referred 20 Jul: day 20), 3 pathways at Barts: a month the trust's trend suppresses.
AUGUST = {"referral": "2026-07-20", "told_on": "2026-08-09"}
PATHWAYS = [
    # Barts: 10 within, 3 beyond (13 told: shown as 15). Guy's: 3 within (suppressed), 8 beyond (11: shown as 10).
    *several("BARTS_IN", 10, provider=BARTS, **WITHIN),
    *several("BARTS_OUT", 3, provider=BARTS, **BEYOND),
    *several("GUYS_IN", 3, provider=GUYS, **WITHIN),
    *several("GUYS_OUT", 8, provider=GUYS, **BEYOND),
    *several("BARTS_AUG", 3, provider=BARTS, **AUGUST),
]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    return build(
        tmp_path_factory.mktemp("cancer_disclosure"),
        patients=[patient("1950-01-01", patient_id="PT")],
        cancer_pathways=PATHWAYS,
    )


def test_the_share_within_the_standard_is_hidden_when_the_count_within_is_suppressed(con):
    summary = cq.wait_summary(con, measure="told", period=MONTH, disclose=True).set_index("trust_code")
    guys = summary.loc[GUYS]
    assert guys["pathways"] == 10 and guys["within_standard"] is None  # 11 told, 3 within
    assert guys["share_within"] is None  # 3 of 11 (27.3 %) gave the hidden 3 back
    assert guys["median_days"] == 40  # rests on the 11 pathways alone: still shown
    barts = summary.loc[BARTS]
    assert (barts["pathways"], barts["within_standard"]) == (15, 10)
    assert barts["share_within"] == round(100 * 10 / 13, 1)  # both counts shown: from the exact counts, as shown
    raw = cq.wait_summary(con, measure="told", period=MONTH, disclose=False).set_index("trust_code")
    assert raw.loc[GUYS, "share_within"] == pytest.approx(100 * 3 / 11)  # entitled roles see it


def test_wait_bin_shares_are_of_the_shown_counts_and_hidden_for_suppressed_bins(con):
    bins = cq.wait_distribution(con, measure="told", period=MONTH, trust=BARTS, disclose=True)
    shown_total = disclose_count(13)
    within = bins[bins["pathways"] == 10]
    assert len(within) == 1 and within["share"].iloc[0] == round(100 * 10 / shown_total, 1)
    beyond = bins[(bins["bin_start"] <= 40) & (bins["bin_end"] >= 40)].iloc[0]
    assert beyond["suppressed"] and beyond["share"] is None
    # The exact total (13) would have made 10 pathways 76.9 %, and the rest the hidden bins' 3.
    raw = cq.wait_distribution(con, measure="told", period=MONTH, trust=BARTS, disclose=False)
    assert raw.loc[raw["pathways"] == 10, "share"].iloc[0] == pytest.approx(100 * 10 / 13)


def test_a_trusts_spc_centre_leaves_out_the_months_it_suppresses(con):
    raw = cq.pathway_trend(con, indicator="cwt_fds_28d", trust=BARTS, disclose=False).set_index("period_id")
    assert raw.loc["2026-08", ["numerator", "denominator"]].tolist() == [3, 3]
    shown = cq.pathway_trend(con, indicator="cwt_fds_28d", trust=BARTS, disclose=True).set_index("period_id")
    assert shown.loc["2026-08", "suppressed"] and shown.loc["2026-08", "centre"] is None
    # Over every month the centre was (3 + 10) / (3 + 13): with September's counts, August's came back.
    september = raw.loc[MONTH]
    assert shown.loc[MONTH, "centre"] == round(100 * september["numerator"] / september["denominator"], 1)
    assert raw.loc[MONTH, "centre"] == pytest.approx(100 * 13 / 16)


def test_the_trust_funnel_limits_rest_on_shown_figures_only(con):
    """The limits are a function of London's proportion and the denominators they span: drawn from exact
    figures they gave both back (the grid ended at the largest trust's exact count)."""
    funnel = cq.trust_funnel(con, indicator="cwt_fds_28d", period=MONTH, disclose=True)
    limits = funnel["limits"]
    assert limits["denominator"].max() == disclose_count(13) == 15  # Barts' 13 told, shown as 15
    shown_centre = round(100 * 13 / 24, 1)  # 10 + 3 within of 13 + 11 told
    assert funnel["london_value"] == shown_centre
    expected = stats.funnel_limits_table(shown_centre / 100, 15)
    assert limits["upper_998"].to_numpy() == pytest.approx(100 * expected["upper_998"].to_numpy())
    raw = cq.trust_funnel(con, indicator="cwt_fds_28d", period=MONTH, disclose=False)["limits"]
    assert raw["denominator"].max() == 13  # entitled roles: the exact figures
    assert raw["upper_998"].to_numpy() == pytest.approx(
        100 * stats.funnel_limits_table(13 / 24, 13)["upper_998"].to_numpy()
    )


def test_the_trust_funnel_draws_no_limits_when_londons_counts_are_suppressed(con):
    funnel = cq.trust_funnel(con, indicator="cwt_fds_28d", period="2026-08", disclose=True)  # 3 of 3 in August
    assert funnel["points"]["suppressed"].all()
    assert funnel["limits"][["lower_95", "upper_95", "lower_998", "upper_998"]].isna().all().all()
