"""The cancer page's own cuts (trust, tumour group, priority type, waits, flows) on hand-written pathways.

The standards' rules are the engine's (tests/spec/test_cancer.py); these check that the page's
queries (queries/cancer.py) keep them when cutting by trust or tumour group: told on day 28 vs 29,
treatment on day 62 vs 63, pathways with no treatment left out of the 62-day standard and of the
treatment waits, consultant upgrades counted in the 62-day standard but not in the FDS, each standard
reported by the right trust, and every total equal to the engine's.
"""

from __future__ import annotations

import pytest

from queries import cancer as cq
from queries.indicators import indicator_values
from tests.spec.helpers import build, d, patient

MONTH = "2026-09"
QUARTER = "2026-27 Q2"
FIRST = "R1H"  # Barts Health: first seen
SPECIALIST = "RRV"  # UCLH: treats some of Barts' patients
OTHER = "RJ1"


def pathway(
    pathway_id: str,
    referral: str,
    *,
    priority: str = "urgent_suspected_cancer",
    site: str = "lung",
    provider: str = FIRST,
    told: str | None = None,
    outcome: str | None = None,
    dtt: str | None = None,
    treated: str | None = None,
    treated_at: str | None = None,
) -> dict:
    return {
        "pathway_id": pathway_id,
        "patient_id": "PT",
        "referral_date": d(referral),
        "priority_type": priority,
        "suspected_site": site,
        "provider_code": provider,
        "diagnosis_told_date": d(told) if told else None,
        "diagnosis_outcome": outcome,
        "decision_to_treat_date": d(dtt) if dtt else None,
        "treatment_start_date": d(treated) if treated else None,
        "treatment_provider_code": (treated_at or provider) if treated else None,
    }


PATHWAYS = [
    # FDS in September 2026: day 28 at Barts meets, day 29 at Guy's breaches; a breast screening pathway on day 9.
    pathway("FDS_DAY_28", "2026-08-20", told="2026-09-17", outcome="cancer_ruled_out"),
    pathway("FDS_DAY_29", "2026-08-20", provider=OTHER, told="2026-09-18", outcome="cancer_ruled_out"),
    pathway(
        "FDS_SCREEN", "2026-09-01", priority="screening", site="breast", told="2026-09-10", outcome="cancer_ruled_out"
    ),
    # A consultant upgrade told in September: not an FDS pathway.
    pathway("UPGRADE_TOLD", "2026-08-20", priority="consultant_upgrade", told="2026-09-05", outcome="cancer_confirmed"),
    # 62-day, treated in September: day 62 at UCLH (first seen at Barts), day 63 at Barts.
    pathway(
        "D62_DAY_62",
        "2026-07-01",
        told="2026-07-20",
        outcome="cancer_confirmed",
        dtt="2026-08-20",
        treated="2026-09-01",
        treated_at=SPECIALIST,
    ),
    pathway(
        "D62_DAY_63",
        "2026-07-01",
        told="2026-07-20",
        outcome="cancer_confirmed",
        dtt="2026-08-20",
        treated="2026-09-02",
    ),
    # A consultant upgrade treated on day 40: counts in the 62-day standard.
    pathway(
        "D62_UPGRADE",
        "2026-08-01",
        priority="consultant_upgrade",
        site="breast",
        told="2026-08-10",
        outcome="cancer_confirmed",
        dtt="2026-09-01",
        treated="2026-09-10",
    ),
    # Confirmed, never treated: no 62-day clock stop, no treatment wait.
    pathway("NO_TREATMENT", "2026-07-01", told="2026-07-25", outcome="cancer_confirmed"),
]
TUMOURS = [
    {"patient_id": "PT", "diagnosis_date": d("2026-07-10"), "icd10_code": "C34.1", "stage": "1", "route": "emergency"},
    {"patient_id": "PT", "diagnosis_date": d("2026-08-10"), "icd10_code": "C50.9", "stage": "3", "route": "screening"},
    {
        "patient_id": "PT",
        "diagnosis_date": d("2026-08-12"),
        "icd10_code": "C34.9",
        "stage": "4",
        "route": "urgent_referral",
    },
]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    return build(
        tmp_path_factory.mktemp("cancer_pathways"),
        patients=[patient("1950-01-01", patient_id="PT")],
        cancer_pathways=PATHWAYS,
        cancer_registrations=TUMOURS,
    )


def counts(frame, code):
    row = frame.set_index("area_code").loc[code]
    return row["numerator"], row["denominator"]


def test_fds_by_first_seen_trust_day_28_meets_day_29_breaches(con):
    trusts = cq.pathway_values(con, indicator="cwt_fds_28d", period=MONTH, by="trust", disclose=False)
    assert counts(trusts, FIRST) == (2, 2)  # day 28 and the screening pathway; the upgrade is not an FDS pathway
    assert counts(trusts, OTHER) == (0, 1)


def test_62_day_by_treating_trust_day_62_meets_day_63_breaches_upgrade_counts(con):
    trusts = cq.pathway_values(con, indicator="cwt_62d", period=MONTH, by="trust", disclose=False)
    assert counts(trusts, SPECIALIST) == (1, 1)  # day 62, reported by the treating trust
    assert counts(trusts, FIRST) == (1, 2)  # day 63 breaches; the consultant upgrade on day 40 meets
    assert trusts["denominator"].sum() == 3  # the untreated pathway has no 62-day clock stop


def test_priority_type_cut(con):
    upgrades = cq.pathway_values(
        con,
        indicator="cwt_62d",
        period=MONTH,
        by="london",
        disclose=False,
        filters=cq.pathway_filters(priority_type="consultant_upgrade"),
    )
    assert (upgrades["numerator"].iloc[0], upgrades["denominator"].iloc[0]) == (1, 1)
    screening = cq.pathway_values(
        con,
        indicator="cwt_fds_28d",
        period=MONTH,
        by="london",
        disclose=False,
        filters=cq.pathway_filters(priority_type="screening"),
    )
    assert (screening["numerator"].iloc[0], screening["denominator"].iloc[0]) == (1, 1)


def test_tumour_group_cut_for_pathways_and_registered_tumours(con):
    breast = cq.pathway_values(
        con,
        indicator="cwt_62d",
        period=MONTH,
        by="london",
        disclose=False,
        filters=cq.pathway_filters(tumour_group="breast"),
    )
    assert (breast["numerator"].iloc[0], breast["denominator"].iloc[0]) == (1, 1)
    stage = cq.pathway_values(con, indicator="cancer_early_stage", period=QUARTER, by="tumour_group", disclose=False)
    assert counts(stage, "lung") == (1, 2)  # C34.1 stage 1, C34.9 stage 4
    assert counts(stage, "breast") == (0, 1)


def test_totals_equal_the_engine(con):
    for indicator, period in (
        ("cwt_fds_28d", MONTH),
        ("cwt_62d", MONTH),
        ("cwt_31d", MONTH),
        ("cancer_conversion_rate", MONTH),
        ("cancer_early_stage", QUARTER),
        ("cancer_emergency_route", QUARTER),
    ):
        mine = cq.pathway_values(con, indicator=indicator, period=period, by="london", disclose=False)
        engine = indicator_values(con, indicator=indicator, period=period, by="london", disclose=False)
        assert (
            mine[["numerator", "denominator", "value"]].to_numpy().tolist()
            == engine[["numerator", "denominator", "value"]].to_numpy().tolist()
        ), indicator


def test_told_waits_put_day_28_within_and_day_29_beyond(con):
    waits = cq.wait_distribution(con, measure="told", period=MONTH, disclose=False)
    shown = waits[waits["pathways"] > 0].set_index("bin_end")
    assert shown.loc[28, "pathways"] == 1 and shown.loc[28, "within_standard"]  # day 28: bin 22-28
    assert shown.loc[35, "pathways"] == 1 and not shown.loc[35, "within_standard"]  # day 29: bin 29-35
    assert shown.loc[14, "pathways"] == 1  # screening, day 9
    assert waits["pathways"].sum() == 3  # the consultant upgrade has no FDS clock


def test_treatment_waits_put_day_62_within_and_day_63_beyond_and_skip_untreated(con):
    waits = cq.wait_distribution(con, measure="treated", period=MONTH, disclose=False)
    shown = waits[waits["pathways"] > 0].set_index("bin_end")
    assert shown.loc[62, "pathways"] == 1 and shown.loc[62, "within_standard"]  # day 62: bin 56-62
    assert shown.loc[69, "pathways"] == 1 and not shown.loc[69, "within_standard"]  # day 63: bin 63-69
    assert shown.loc[41, "pathways"] == 1  # the upgrade, day 40
    assert waits["pathways"].sum() == 3
    # Quarter: the untreated pathway still adds nothing to the treatment waits.
    assert cq.wait_distribution(con, measure="treated", period=QUARTER, disclose=False)["pathways"].sum() == 3


def test_wait_summary_share_within_matches_the_standard(con):
    summary = cq.wait_summary(con, measure="treated", period=MONTH, disclose=False).set_index("trust_code")
    london = summary.loc[cq.LONDON_CODE]
    engine = indicator_values(con, indicator="cwt_62d", period=MONTH, disclose=False)
    assert london["pathways"] == engine["denominator"].iloc[0]
    assert london["share_within"] == pytest.approx(engine["value"].iloc[0])
    assert london["median_days"] == 62  # 40, 62, 63


def test_flows_and_crossing(con):
    links = cq.pathway_flows(con, period=MONTH, disclose=False)
    second = links[links["stage"] == 2].set_index(["source_code", "target_code"])
    assert second.loc[(FIRST, SPECIALIST), "patients"] == 1 and second.loc[(FIRST, SPECIALIST), "crosses"]
    assert second.loc[(FIRST, FIRST), "patients"] == 2 and not second.loc[(FIRST, FIRST), "crosses"]
    assert cq.crossing_summary(con, period=MONTH, disclose=False) == {
        "treated": 3,
        "crossing": 1,
        "share": pytest.approx(100 / 3),
    }


def test_small_counts_are_suppressed_for_restricted_roles(con):
    trusts = cq.pathway_values(con, indicator="cwt_62d", period=MONTH, by="trust", disclose=True)
    assert trusts["suppressed"].all()
    assert trusts["value"].isna().all() and trusts["numerator"].isna().all()
    waits = cq.wait_distribution(con, measure="treated", period=MONTH, disclose=True)
    assert waits.loc[waits["suppressed"], "share"].isna().all() and waits["suppressed"].sum() == 3
    assert cq.crossing_summary(con, period=MONTH, disclose=True) == {"treated": None, "crossing": None, "share": None}


def test_operational_target_path():
    assert cq.target_in_force("cwt_fds_28d", d("2025-03-31")) == 77.0
    assert cq.target_in_force("cwt_fds_28d", d("2025-04-01")) == 80.0
    assert cq.target_in_force("cwt_62d", d("2024-03-31")) is None
    assert cq.target_in_force("cwt_62d", d("2026-03-31")) == 75.0


def test_flows_start_where_patients_live_or_where_they_were_referred(con):
    for origin in cq.FLOW_ORIGINS:
        links = cq.pathway_flows(con, period=MONTH, origin=origin, disclose=False)
        first = links[links["stage"] == 1]
        # One patient: registered in Barnet (North Central London), living in the same LSOA's borough.
        assert first["source"].tolist() == (["North Central London"] if origin.endswith("_icb") else ["Barnet"])
        assert first["patients"].sum() == 3
    with pytest.raises(cq.QueryError):
        cq.pathway_flows(con, period=MONTH, origin="lsoa21_code")
