"""The indicator registry: the ids every page and the engine name, and the fields the COVER, QOF and cancer
factories fill in, written out by hand."""

from __future__ import annotations

import math
import re

import pytest

from components.style import value_format
from queries import asthma
from queries.registry import (
    COVER_RULE,
    COVER_SOURCE,
    INDICATORS,
    SOURCE_NAMES,
    SPECIFICATION,
    UnknownIndicator,
    get,
    list_indicators,
    registry,
)

IDS = [
    "cover_12m_6in1",
    "cover_12m_pcv",
    "cover_12m_menb",
    "cover_12m_rota",
    "cover_24m_6in1",
    "cover_24m_mmr1",
    "cover_24m_pcv_booster",
    "cover_24m_menb_booster",
    "cover_24m_hibmenc",
    "cover_5y_6in1",
    "cover_5y_mmr1",
    "cover_5y_mmr2",
    "cover_5y_4in1",
    "cover_5y_hibmenc",
    "polio_booster_1_9",
    "mmr1_on_time",
    "6in1_on_time",
    "hyp_prevalence",
    "hyp008",
    "hyp009",
    "hyp_bp_recorded_12m",
    "hyp_detection_ratio",
    "hyp_possible_undiagnosed",
    "ast_prevalence",
    "ast_review_12m",
    "ast_action_plan",
    "ast_objective_test",
    "ast_saba_3plus",
    "ast_saba_6plus",
    "ast_saba_12plus",
    "ast_saba_no_ics",
    "ast_emergency_admissions",
    "cwt_fds_28d",
    "cwt_31d",
    "cwt_62d",
    "cancer_early_stage",
    "cancer_emergency_route",
    "cancer_conversion_rate",
]
COVER_COHORTS = {"12m": "1st birthday", "24m": "2nd birthday", "5y": "5th birthday"}


def test_ids_in_order_and_unique():
    assert [indicator.id for indicator in INDICATORS] == IDS
    assert list(registry) == IDS


@pytest.mark.parametrize("indicator_id", [i for i in IDS if i.startswith("cover_")])
def test_cover_entries_count_their_age_cohort(indicator_id):
    indicator = get(indicator_id)
    cohort = COVER_COHORTS[indicator_id.split("_")[1]]
    assert indicator.denominator == (
        f"Children reaching their {cohort} in the period, registered with a London practice and alive "
        "on the last day of the period"
    )
    assert (indicator.pathfinder, indicator.family, indicator.polarity, indicator.unit) == (
        "immunisation",
        "cover",
        "high",
        "percent",
    )
    assert (indicator.period_types, indicator.trend_period_type) == (("quarter", "fy"), "quarter")
    assert (indicator.target, indicator.rule_version) == (95.0, COVER_RULE)
    assert indicator.target_source == "WHO Europe 95% coverage [COVER-QMI] [NHSD-COVER-2324]"
    assert indicator.source.startswith(COVER_SOURCE)
    assert indicator.unit_of_analysis == "patient" and indicator.patient_level


def test_only_the_hib_boosters_add_a_source_and_the_notes_are_where_decisions_were_made():
    extra = {i.id: i.source.removeprefix(COVER_SOURCE) for i in INDICATORS if i.id.startswith("cover_")}
    assert {k: v for k, v in extra.items() if v} == {
        "cover_24m_hibmenc": " [IMM-ANNEXA]",
        "cover_5y_hibmenc": " [IMM-ANNEXA]",
    }
    noted = {i.id for i in INDICATORS if i.id.startswith("cover_") and i.notes}
    assert noted == {"cover_12m_rota", "cover_24m_mmr1", "cover_24m_hibmenc", "cover_5y_hibmenc"}


@pytest.mark.parametrize(("indicator_id", "age"), [("mmr1_on_time", "18 months"), ("6in1_on_time", "8 months")])
def test_timeliness_measures_are_cover_family_with_their_own_age(indicator_id, age):
    indicator = get(indicator_id)
    assert indicator.denominator == f"Children reaching {age} in the period, registered and alive on its last day"
    assert (indicator.family, indicator.period_types, indicator.target) == ("cover", ("quarter", "fy"), 95.0)


@pytest.mark.parametrize("indicator_id", [i for i in IDS if i.startswith(("hyp", "ast"))])
def test_qof_entries_use_year_and_rolling_periods_of_their_own_family(indicator_id):
    indicator = get(indicator_id)
    assert indicator.family == indicator.pathfinder == ("hypertension" if indicator_id.startswith("hyp") else "asthma")
    assert (indicator.period_types, indicator.trend_period_type) == (("fy", "r12"), "r12")
    assert indicator.unit == ("ratio" if indicator_id == "hyp_detection_ratio" else "percent")


@pytest.mark.parametrize(
    ("indicator_id", "unit_of_analysis", "period_types"),
    [
        ("cwt_fds_28d", "pathway", ("month", "quarter", "fy")),
        ("cwt_31d", "pathway", ("month", "quarter", "fy")),
        ("cwt_62d", "pathway", ("month", "quarter", "fy")),
        ("cancer_conversion_rate", "pathway", ("month", "quarter", "fy")),
        ("cancer_early_stage", "tumour", ("quarter", "fy")),
        ("cancer_emergency_route", "tumour", ("quarter", "fy")),
    ],
)
def test_cancer_pathways_are_monthly_and_tumours_quarterly(indicator_id, unit_of_analysis, period_types):
    indicator = get(indicator_id)
    assert (indicator.pathfinder, indicator.family, indicator.unit) == ("cancer", "cancer", "percent")
    assert (indicator.unit_of_analysis, indicator.period_types) == (unit_of_analysis, period_types)
    assert indicator.trend_period_type == period_types[0]


def test_targets_where_the_rules_set_them():
    targets = {i.id: i.target for i in INDICATORS if i.target is not None and not i.id.startswith("cover_")}
    assert targets == {
        "mmr1_on_time": 95.0,
        "6in1_on_time": 95.0,
        "hyp008": 80.0,
        "hyp009": 80.0,
        "hyp_detection_ratio": 0.8,
        "cwt_fds_28d": 80.0,
        "cwt_31d": 96.0,
        "cwt_62d": 85.0,
        "cancer_early_stage": 75.0,
    }


def test_unknown_id_names_the_known_ones():
    with pytest.raises(UnknownIndicator, match="hyp008"):
        get("hyp999")


def test_list_indicators_filters_by_pathfinder():
    assert list_indicators("cancer")["id"].tolist() == IDS[-6:]
    assert len(list_indicators()) == len(IDS)


def _places(unit: str) -> int:
    """Decimal places the pages show a value of ``unit`` with (components.style.value_format)."""
    return int(re.search(r"\.(\d)f", value_format(unit).d3).group(1))


def test_disclosed_values_keep_the_decimals_the_pages_show():
    """Disclosure control rounds values to Indicator.decimals: never fewer places than a page shows."""
    for spec in INDICATORS:
        if spec.shown_decimals is None:
            assert spec.decimals == _places(spec.unit), spec.id
    # The asthma page shows these rescaled (per 1,000 = 10 x the percentage): one more place in percent.
    for measure in asthma.MEASURES.values():
        if measure.factor != 1 and not measure.per_population:
            assert get(measure.indicator).decimals == _places(measure.unit) + round(math.log10(measure.factor))


def test_what_a_reader_sees_cites_its_sources_in_words():
    """The indicator card showed "[PCIT-HP387] [OS-HYP003]" and notes ended "([?] §1.2)": a bare section sign
    and an open-question tag that meant nothing to a user. Every tag now has a name, and the notes and the
    ambition a reader sees carry no tag; a section is always named with the document it is in."""
    cited = {tag for spec in INDICATORS for tag, _ in spec.sources}
    assert cited == set(SOURCE_NAMES), "every tag cited has a name, and every name is cited"
    for spec in INDICATORS:
        for text in (spec.notes, spec.target_text, spec.rule_version):
            assert "[" not in text, (spec.id, text)
            assert "§" not in re.sub(rf"{SPECIFICATION} §\d\.\d", "", text), (spec.id, text)
        assert re.fullmatch(r"\d\.\d", spec.spec_section), spec.id
    hyp008 = get("hyp008")
    assert hyp008.target_text == "National ambition: 80% of those diagnosed treated to target by 2029"
    assert hyp008.spec_reference == "§2.2 of the clinical indicator specification"
    assert [name for _, name in hyp008.sources][:2] == [
        "Primary Care IT, HYP008/HYP009 searches (HP387)",
        "OpenSAFELY hypertension-sro, HYP003 definition (QOF v46)",
    ]
