"""The indicator registry: one frozen record per indicator, as data.

Every page, chart and export names an indicator by its ``id`` and reads its
numbers through :mod:`queries.indicators`. The per-patient rule for each
indicator lives in :mod:`queries.materialise` under the same id (its ``family``
names the SQL block); nothing here or in a page computes an indicator.

Rule versions and source tags (``[PCIT-HP387]`` etc.) refer to
``docs/clinical-indicators.md`` (the clinical indicator specification); where that document marks a
rule as unconfirmed the ``notes`` field says so in words and what this project decided instead.
What a user reads is in words too: each tag's name is in :data:`SOURCE_NAMES`, and an indicator's
``sources`` and ``target_text`` give its citations and its ambition without the tags.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import pandas as pd

# Period types (see queries.materialise.build_periods):
#   quarter  - NHS financial-year quarter (Q1 = April-June)
#   fy       - financial year April-March
#   month    - calendar month
#   r12      - rolling 12 months ending on a quarter end or on the extract date
#   campaign - the 2022 London polio booster campaign window
PERIOD_TYPES = ("month", "quarter", "fy", "r12", "campaign")

PATHFINDERS = {
    "immunisation": "Pre-school immunisation",
    "hypertension": "Hypertension",
    "asthma": "Asthma",
    "cancer": "Cancer pathways",
}

COVER_RULE = "UKHSA COVER programme definitions (QMI 26 Jun 2025); schedule for children born before 1 Jul 2024"
COVER_SOURCE = "[COVER-Q-2023Q3] [COVER-QMI] [COVER-HPA] [HPR-2019] [LGINFORM-13665]"
QOF_HYP_RULE = "QOF business rules v50 (2025/26)"
QOF_AST_RULE = "QOF business rules v50 (2025/26)"
CWT_RULE = "NHS England CWT monitoring dataset guidance v12.1 (July 2025)"
# How notes and the indicator card name docs/clinical-indicators.md to a reader of the dashboard.
SPECIFICATION = "clinical indicator specification"

# Each source tag the registry cites, in words (the list with addresses is in the specification's §8).
SOURCE_NAMES = {
    "COVER-Q-2023Q3": "UKHSA COVER quarterly report, Oct-Dec 2023",
    "COVER-QMI": "UKHSA COVER quality and methodology information (Jun 2025)",
    "COVER-HPA": "Health Protection Agency, COVER methods",
    "HPR-2019": "Health Protection Report vol. 13 no. 34 (2019)",
    "LGINFORM-13665": "LG Inform metric 13665 (COVER)",
    "NHSD-COVER-2324": "NHS Digital, NHS Immunisation Statistics 2023-24",
    "IMM-ANNEXA": "UKHSA routine schedule letter, annex A (Apr 2025)",
    "QOF-VI-PULSE": "Pulse, QOF 2021-22 vaccination and immunisation domain",
    "QOF-VI-PCIT": "Primary Care IT, QOF vaccination searches",
    "POLIO-PR": "UKHSA/JCVI polio booster announcement (10 Aug 2022)",
    "POLIO-GUARDIAN": "The Guardian, London polio booster (10 Aug 2022)",
    "POLIO-ADPH-2023": "ADPH London, polio catch-up campaign (Mar 2023)",
    "OS-HYP001": "OpenSAFELY hypertension-sro, HYP001 definition",
    "OS-HYP003": "OpenSAFELY hypertension-sro, HYP003 definition (QOF v46)",
    "HIPPO-HYP": "Hippo Labs, QOF hypertension indicators",
    "OS-OPENHEART": "Wiedemann et al., Open Heart (OpenSAFELY, 2021-22)",
    "PCIT-HP387": "Primary Care IT, HYP008/HYP009 searches (HP387)",
    "NB-QOF2425": "NB Medical, KISS QOF 2024-25",
    "CVDP-DEFS": "CVDPREVENT indicator definitions",
    "PHE-HTN-EST": "PHE hypertension prevalence estimates (Mar 2020)",
    "ONS-UNDIAG": "ONS, undiagnosed high blood pressure in England, 2015-2019",
    "NICE-STP": "NICE support for CVD prevention: hypertension",
    "PHE-AMBITIONS": "PHE CVD prevention ambitions (2019)",
    "OS-AST-REG": "OpenSAFELY asthma_sro, register definition",
    "OS-AST-CONFIG": "OpenSAFELY asthma_sro, configuration (AST005)",
    "PCRS-2020": "PCRS, respiratory QOF indicators (2020)",
    "OS-AST007": "OpenSAFELY asthma_sro, AST007 definition",
    "PCIT-AST015": "Primary Care IT, AST015",
    "GIP-NRAD": "Guidelines in Practice, asthma update (National Review of Asthma Deaths)",
    "PCIT-AST012": "Primary Care IT, AST012",
    "PCIT-AST-DX": "Primary Care IT, asthma diagnosis",
    "MIP-AST2526": "Management in Practice, QOF asthma test guidance 2025-26",
    "SCOT-SABA": "NHS Scotland respiratory prescribing strategy: SABA",
    "NRAD-UMJ": "National Review of Asthma Deaths (Ulster Medical Journal)",
    "NRAD-PJ": "Pharmaceutical Journal, National Review of Asthma Deaths",
    "NG245-SUMMARY": "Summary of NICE NG245 (asthma, 2024)",
    "NHSH-SABA": "NHS Highland formulary: SABA",
    "C20-CYP": "NHS England Core20PLUS5: children and young people",
    "OS-AST-ADM": "OpenSAFELY asthma exacerbation (hospital) codelist",
    "LEVY-NWL": "Levy et al., asthma care in North West London",
    "CWT-V12": "NHS England cancer waiting times guidance v12.1 (Jul 2025)",
    "NHSE-CRS": "NHS England review of cancer access standards",
    "COWLING-PLAN": "T. Cowling, NHS planning guidance (cancer)",
    "NDRS-STAGE-2022": "NHS Digital, cancers diagnosed at stages 1 and 2, 2022",
    "NHSE-CANCER-STRAT": "NHS England cancer strategy",
    "LTP-CANCER": "NHS Long Term Plan: cancer",
    "RTD-PHE-2015": "PHE Routes to Diagnosis (2015)",
    "GM-RTD": "GM Journal, cancers diagnosed in A&E",
    "LDN-POST": "London Post, London cancer waiting times",
    "NEL-LEADS": "North East London Cancer Alliance, national standards",
}
_TAG = re.compile(r"\s*\[([A-Z0-9][A-Z0-9-]*)\]")


@dataclass(frozen=True)
class Indicator:
    """One indicator: what it counts, how to read it and where the rule comes from."""

    id: str
    title: str
    pathfinder: str  # key of PATHFINDERS
    numerator: str
    denominator: str
    polarity: str  # "high" (higher is better), "low" (lower is better) or "none" (no judgement)
    unit: str  # "percent" (value = 100 * numerator / denominator) or "ratio" (numerator / denominator)
    period_types: tuple[str, ...]  # the first is the default period type
    trend_period_type: str  # period type of the trend series
    rule_version: str
    source: str  # citation tags from docs/clinical-indicators.md
    family: str  # SQL block in queries.materialise that derives it
    unit_of_analysis: str = "patient"  # "patient", "pathway" or "tumour"
    target: float | None = None  # in the indicator's unit (95.0 = 95 %)
    target_source: str = ""
    patient_level: bool = True  # False when the denominator is the whole registered list (no per-patient rows kept)
    notes: str = ""
    shown_decimals: int | None = None  # when a page shows the value rescaled (see decimals)
    spec_section: str = ""  # where docs/clinical-indicators.md describes the rule (e.g. "2.2")

    @property
    def sources(self) -> tuple[tuple[str, str], ...]:
        """(tag, name in words) of every source cited for the rule and its ambition, each once."""
        tags = dict.fromkeys(_TAG.findall(self.source) + _TAG.findall(self.target_source))
        return tuple((tag, SOURCE_NAMES[tag]) for tag in tags)

    @property
    def target_text(self) -> str:
        """The ambition as a reader sees it: ``target_source`` without its source tags."""
        return _TAG.sub("", self.target_source).strip()

    @property
    def spec_reference(self) -> str:
        """Where the specification describes the rule, in words ("§2.2 of the clinical indicator specification")."""
        return f"§{self.spec_section} of the {SPECIFICATION}" if self.spec_section else ""

    @property
    def default_period_type(self) -> str:
        return self.period_types[0]

    @property
    def decimals(self) -> int:
        """Decimal places the value is shown with (1 for a percentage, 2 for a ratio): what disclosure
        control rounds values, intervals and limits to for restricted roles."""
        if self.shown_decimals is not None:
            return self.shown_decimals
        return 2 if self.unit == "ratio" else 1

    @property
    def scale(self) -> float:
        """Multiplier from a proportion to the displayed value."""
        return 100.0 if self.unit == "percent" else 1.0


def _cover(id: str, title: str, numerator: str, cohort: str, source: str = COVER_SOURCE, notes: str = "") -> Indicator:
    """A COVER indicator: children reaching ``cohort`` (a birthday) in a quarter or year, 95 % target."""
    return Indicator(
        id=id,
        title=title,
        pathfinder="immunisation",
        numerator=numerator,
        denominator=(
            f"Children reaching their {cohort} in the period, registered with a London practice and alive "
            "on the last day of the period"
        ),
        polarity="high",
        unit="percent",
        period_types=("quarter", "fy"),
        trend_period_type="quarter",
        rule_version=COVER_RULE,
        source=source,
        family="cover",
        target=95.0,
        target_source="WHO Europe 95% coverage [COVER-QMI] [NHSD-COVER-2324]",
        notes=notes,
        spec_section="1.2",
    )


def _cover_at(cohort: str):
    """The COVER factory for one age: every 12-month, 24-month or 5-year measure counts the same cohort."""

    def cover(id: str, title: str, numerator: str, *, source: str = COVER_SOURCE, notes: str = "") -> Indicator:
        return _cover(id, title, numerator, cohort, source=source, notes=notes)

    return cover


_cover_12m, _cover_24m, _cover_5y = _cover_at("1st birthday"), _cover_at("2nd birthday"), _cover_at("5th birthday")


def _on_time(*, id: str, title: str, numerator: str, age: str, rule_version: str, notes: str = "") -> Indicator:
    """A timeliness measure in the COVER family: a dose before ``age``, for children reaching that age."""
    return Indicator(
        id=id,
        title=title,
        pathfinder="immunisation",
        numerator=numerator,
        denominator=f"Children reaching {age} in the period, registered and alive on its last day",
        polarity="high",
        unit="percent",
        period_types=("quarter", "fy"),
        trend_period_type="quarter",
        rule_version=rule_version,
        source="[QOF-VI-PULSE] [QOF-VI-PCIT]",
        family="cover",
        target=95.0,
        target_source="WHO Europe 95% coverage [COVER-QMI]",
        notes=notes,
        spec_section="1.3",
    )


_QOF_PERIODS = ("fy", "r12")


def _qof(*, pathfinder: str, unit: str = "percent", **fields) -> Indicator:
    """A QOF-style indicator of ``pathfinder`` (its own SQL family): financial year or rolling 12 months,
    trended over rolling 12 months."""
    return Indicator(
        pathfinder=pathfinder,
        family=pathfinder,
        unit=unit,
        period_types=_QOF_PERIODS,
        trend_period_type="r12",
        **fields,
    )


def _cancer(*, unit_of_analysis: str, **fields) -> Indicator:
    """A cancer indicator: pathways (waiting-time standards) are monthly, registered tumours quarterly."""
    monthly = unit_of_analysis == "pathway"
    return Indicator(
        pathfinder="cancer",
        family="cancer",
        unit="percent",
        unit_of_analysis=unit_of_analysis,
        period_types=("month", "quarter", "fy") if monthly else ("quarter", "fy"),
        trend_period_type="month" if monthly else "quarter",
        **fields,
    )


_BP_AMBITION = "National ambition: 80% of those diagnosed treated to target by 2029 [NICE-STP] [PHE-AMBITIONS]"
_QOF_DENOMINATOR_NOTE = (
    "Personalised care adjustments coded with PCA clusters (HTMAX_COD, BPDEC_COD, ...) are not applied: those "
    "clusters are not in data/codelists. The registration and new-diagnosis exclusions are applied."
)

INDICATORS: tuple[Indicator, ...] = (
    # ---------------------------------------------------------------- immunisation (COVER)
    _cover_12m("cover_12m_6in1", "6-in-1 (3 doses) by 12 months", "3 or more 6-in-1 doses before the 1st birthday"),
    _cover_12m("cover_12m_pcv", "PCV (1 dose) by 12 months", "1 or more PCV doses before the 1st birthday"),
    _cover_12m("cover_12m_menb", "MenB (2 doses) by 12 months", "2 or more MenB doses before the 1st birthday"),
    _cover_12m(
        "cover_12m_rota",
        "Rotavirus (2 doses) by 12 months",
        "2 rotavirus doses before the 1st birthday",
        notes="COVER 'rotavirus' is taken as the completed 2-dose course: assumed, not confirmed in the published "
        f"COVER material ({SPECIFICATION} §1.2).",
    ),
    _cover_24m("cover_24m_6in1", "6-in-1 (3 doses) by 24 months", "3 or more 6-in-1 doses before the 2nd birthday"),
    _cover_24m(
        "cover_24m_mmr1",
        "MMR1 by 24 months",
        "A measles-containing dose (MMR or MMRV) on or after the 1st birthday and before the 2nd",
        notes="Doses before the 1st birthday are not valid schedule doses and are not counted.",
    ),
    _cover_24m(
        "cover_24m_pcv_booster",
        "PCV booster by 24 months",
        "A PCV dose on or after the 1st birthday and before the 2nd",
    ),
    _cover_24m(
        "cover_24m_menb_booster",
        "MenB booster by 24 months",
        "A MenB dose on or after the 1st birthday and before the 2nd",
    ),
    _cover_24m(
        "cover_24m_hibmenc",
        "Hib booster (Hib/MenC) by 24 months",
        "Born before 1 Jul 2024: a Hib/MenC dose on or after the 1st birthday and before the 2nd. Born on or "
        "after 1 Jul 2024 (no Hib/MenC): 4 or more 6-in-1 doses before the 2nd birthday, at least one on or after "
        "the 1st (the 18-month dose is the course's 4th and the Hib booster)",
        source=COVER_SOURCE + " [IMM-ANNEXA]",
        notes="UKHSA has not published its revised 24-month measures for the new schedule, an open question "
        f"({SPECIFICATION} §1.2); the 18-month 6-in-1 dose stands in for the withdrawn Hib/MenC booster.",
    ),
    _cover_5y("cover_5y_6in1", "6-in-1 primary (3 doses) by 5 years", "3 or more 6-in-1 doses before the 5th birthday"),
    _cover_5y(
        "cover_5y_mmr1", "MMR1 by 5 years", "A measles-containing dose on or after the 1st birthday and before the 5th"
    ),
    _cover_5y(
        "cover_5y_mmr2", "MMR2 by 5 years", "2 measles-containing doses on or after the 1st birthday and before the 5th"
    ),
    _cover_5y(
        "cover_5y_4in1",
        "Pre-school booster (dTaP/IPV) by 5 years",
        "A 4-in-1 (dTaP/IPV) dose from the 3rd birthday and before the 5th",
    ),
    _cover_5y(
        "cover_5y_hibmenc",
        "Hib booster (Hib/MenC) by 5 years",
        "Born before 1 Jul 2024: a Hib/MenC dose on or after the 1st birthday and before the 5th. Born on or "
        "after 1 Jul 2024 (no Hib/MenC): 4 or more 6-in-1 doses before the 5th birthday, at least one on or after "
        "the 1st (the 18-month dose is the course's 4th and the Hib booster)",
        source=COVER_SOURCE + " [IMM-ANNEXA]",
        notes=f"Listed among the 5-year COVER measures ({SPECIFICATION} §1.2); the new-schedule rule mirrors the "
        "24-month measure's, not yet confirmed by UKHSA, and first applies to children turning 5 in July 2029.",
    ),
    Indicator(
        id="polio_booster_1_9",
        title="2022 London polio booster: children 1-9 boosted or up to date",
        pathfinder="immunisation",
        numerator=(
            "A polio-containing dose (IPV, 6-in-1 or 4-in-1) during the campaign window (10 Aug 2022 - 31 Mar 2023), "
            "or fully up to date at its end: 3 polio-containing doses, and a 4th if aged 3 years 4 months or over"
        ),
        denominator=(
            "Children aged 1 to 9 on 10 Aug 2022 (JCVI advice date), registered with a London practice and alive on "
            "31 Mar 2023"
        ),
        polarity="high",
        unit="percent",
        period_types=("campaign",),
        trend_period_type="campaign",
        rule_version="JCVI advice 10 Aug 2022; campaign window and 'up to date' are this project's definition",
        source="[POLIO-PR] [POLIO-GUARDIAN] [POLIO-ADPH-2023]",
        family="polio",
        notes="The campaign's final uptake and coding guidance could not be found "
        f"({SPECIFICATION} §1.4); the window's end date is this project's choice.",
        spec_section="1.4",
    ),
    _on_time(
        id="mmr1_on_time",
        title="MMR1 on time (between 12 and 18 months)",
        numerator="A measles-containing dose on or after the 1st birthday and before the child is 18 months old",
        age="18 months",
        rule_version="QOF VI002 age window (2021/22 onwards); measured per quarter here",
    ),
    _on_time(
        id="6in1_on_time",
        title="6-in-1 (3 doses) on time (before 8 months)",
        numerator=(
            "3 or more diphtheria/tetanus/pertussis-containing doses (6-in-1 or 4-in-1 dTaP/IPV) before the child "
            "is 8 months old"
        ),
        age="8 months",
        rule_version="QOF VI001 age window (2021/22 onwards; 8 months taken as the 8-month birthday)",
        notes="PCIT gives the upper age as 247 days; the calendar 8-month date is used here.",
    ),
    # ---------------------------------------------------------------- hypertension (QOF / CVDPREVENT)
    _qof(
        id="hyp_prevalence",
        spec_section="2.1",
        title="Hypertension register prevalence (HYP001)",
        pathfinder="hypertension",
        numerator="Patients with a hypertension diagnosis (HYP_COD) not followed by a later resolved code (HYPRES_COD)",
        denominator="All registered patients (all ages) on the last day of the period",
        polarity="none",
        rule_version=QOF_HYP_RULE + " HYP001",
        source="[OS-HYP001] [HIPPO-HYP] [OS-OPENHEART]",
        patient_level=False,
    ),
    _qof(
        id="hyp008",
        spec_section="2.2",
        title="Hypertension aged 79 or under with BP at or below 140/90 (HYP008)",
        pathfinder="hypertension",
        numerator=(
            "Latest BP in the 12 months to the period end at or below 140/90 clinic (135/85 home/ambulatory); "
            "systolic and diastolic recorded on the same day, lowest of each on that day"
        ),
        denominator=(
            "HYP001 register aged 79 or under at the period end: achievers, plus non-achievers not first diagnosed "
            "or registered in the last 9 months"
        ),
        polarity="high",
        rule_version=QOF_HYP_RULE + " HYP008 (formerly HYP003)",
        source="[PCIT-HP387] [OS-HYP003] [HIPPO-HYP] [NB-QOF2425]",
        target=80.0,
        target_source=_BP_AMBITION,
        notes=_QOF_DENOMINATOR_NOTE,
    ),
    _qof(
        id="hyp009",
        spec_section="2.2",
        title="Hypertension aged 80 or over with BP at or below 150/90 (HYP009)",
        pathfinder="hypertension",
        numerator="Latest BP in the 12 months to the period end at or below 150/90 clinic (145/85 home/ambulatory)",
        denominator=(
            "HYP001 register aged 80 or over at the period end: achievers, plus non-achievers not first diagnosed "
            "or registered in the last 9 months"
        ),
        polarity="high",
        rule_version=QOF_HYP_RULE + " HYP009 (formerly HYP007)",
        source="[PCIT-HP387] [OS-HYP003] [HIPPO-HYP] [NB-QOF2425]",
        target=80.0,
        target_source=_BP_AMBITION,
        notes=_QOF_DENOMINATOR_NOTE,
    ),
    _qof(
        id="hyp_bp_recorded_12m",
        spec_section="2.3",
        title="Hypertension register with a BP recorded in the last 12 months",
        pathfinder="hypertension",
        numerator="A systolic and diastolic reading on the same day in the 12 months to the period end",
        denominator="HYP001 register (all ages) on the last day of the period",
        polarity="high",
        rule_version="CVDPREVENT CVDP004HYP (adapted: all ages on the QOF register)",
        source="[CVDP-DEFS]",
    ),
    _qof(
        id="hyp_detection_ratio",
        spec_section="2.5",
        title="Hypertension detection: recorded / expected prevalence (adults 18+)",
        pathfinder="hypertension",
        numerator="Adults (18+) on the HYP001 register",
        denominator=(
            "Expected number of adults with hypertension: the sum over registered adults of an age- and sex-specific "
            "expected rate (OpenSAFELY recorded rate by age band divided by the diagnosed share of hypertensive "
            "adults of that age and sex, ONS/HSE 2015-19)"
        ),
        polarity="high",
        unit="ratio",
        rule_version="PHE/OHID recorded-vs-expected method; expected rates derived here (see notes)",
        source="[PHE-HTN-EST] [ONS-UNDIAG] [OS-OPENHEART] [NICE-STP]",
        target=0.8,
        target_source="National ambition: 80% of expected hypertension diagnosed by 2029 [NICE-STP] [PHE-AMBITIONS]",
        patient_level=False,
        notes=(
            "Diagnosed shares by sex are published for 16-24, 25-34 and 75+ only (men 34 / 45 / 83%, women "
            "74 / 56 / 79%); 35-74, and sex unknown at every age, take the overall 71%. Recorded rates are by "
            "age band for both sexes together. So the expected rate falls with age where the diagnosed share rises: "
            "at 35 and 75 for both sexes, and at 25 for men."
        ),
    ),
    _qof(
        id="hyp_possible_undiagnosed",
        spec_section="2.3",
        title="Possible undiagnosed hypertension (raised reading, no diagnosis)",
        pathfinder="hypertension",
        numerator=(
            "A same-day reading with systolic >= 140 and diastolic >= 90 in the 12 months to the period end and more "
            "than 3 months before it, and no hypertension diagnosis (HYP_COD) nor resolution (HYPRES_COD) on record"
        ),
        denominator="Registered adults (18+) on the last day of the period",
        polarity="low",
        rule_version="CVDPREVENT CVDP005HYP (wording as given in the spec)",
        source="[CVDP-DEFS]",
        patient_level=False,
        notes=(
            "CVDP005HYP gives no look-back for the raised reading; the 12 months to the period end is this "
            "project's choice."
        ),
    ),
    # ---------------------------------------------------------------- asthma (QOF)
    _qof(
        id="ast_prevalence",
        title="Asthma register prevalence (AST005)",
        pathfinder="asthma",
        numerator=(
            "Patients aged 6+ with an unresolved asthma diagnosis (AST_COD not followed by ASTRES_COD) and an asthma "
            "inhaler (SABA or ICS codelists) issued in the 12 months to the period end"
        ),
        denominator="All registered patients (all ages) on the last day of the period",
        polarity="none",
        rule_version=QOF_AST_RULE + " register as AST005 (age 6+)",
        source="[OS-AST-REG] [OS-AST-CONFIG] [PCRS-2020]",
        patient_level=False,
        notes="ASTTRT_COD (asthma-related drugs) approximated by the SABA and ICS codelists; the 2025/26 "
        f"register's starting age (5 or 6) is not confirmed ({SPECIFICATION} §3.1).",
        spec_section="3.1",
    ),
    _qof(
        id="ast_review_12m",
        spec_section="3.2",
        title="Asthma review in the last 12 months",
        pathfinder="asthma",
        numerator="A review code (REV_COD) in the 12 months to the period end",
        denominator=(
            "Asthma register: achievers, plus non-achievers not first diagnosed or registered in the last 3 months"
        ),
        polarity="high",
        rule_version=QOF_AST_RULE + " AST015 / AST007 (review element)",
        source="[OS-AST007] [PCIT-AST015]",
        notes="PCA clusters (ASTPCAPU_COD etc.) not in data/codelists, so not applied.",
    ),
    _qof(
        id="ast_action_plan",
        spec_section="3.6",
        title="Asthma review with a written action plan (AST007-style)",
        pathfinder="asthma",
        numerator="A review code with a written asthma plan (WRITPASTP_COD) on the same day, in the 12 months",
        denominator=(
            "Asthma register: achievers, plus non-achievers not first diagnosed or registered in the last 3 months"
        ),
        polarity="high",
        rule_version=QOF_AST_RULE + " AST015 / AST007 (review + written plan same day)",
        source="[OS-AST007] [PCIT-AST015] [GIP-NRAD]",
        notes="Control assessment and exacerbation-count clusters are not in data/codelists, so not required.",
    ),
    _qof(
        id="ast_objective_test",
        title="New asthma diagnoses with an objective test (AST012)",
        pathfinder="asthma",
        numerator="An objective test (FeNO, spirometry, ...) from 3 months before to 3 months after first diagnosis",
        denominator=(
            "Asthma register first diagnosed in the 12 months to the period end and on or after 1 Apr 2025; those "
            "diagnosed in the last 3 months count only if already tested"
        ),
        polarity="high",
        rule_version=QOF_AST_RULE + " AST012",
        source="[PCIT-AST012] [PCIT-AST-DX] [MIP-AST2526]",
        notes=(
            "Test codes: data/codelists/asthma_objective_test (not confirmed against a QOF cluster): FeNO, and "
            f"spirometry read as a reversibility test; both qualify at every age ({SPECIFICATION} §9.2)."
        ),
        spec_section="3.3",
    ),
    *(
        _qof(
            id=f"ast_saba_{threshold}plus",
            spec_section="3.5",
            title=f"Asthma: {threshold} or more SABA inhalers in 12 months",
            pathfinder="asthma",
            numerator=f"{threshold} or more SABA inhalers (sum of quantity, SABA codelist) issued in the 12 months",
            denominator="Asthma register on the last day of the period",
            polarity="low",
            rule_version=f"Named analytic threshold {threshold}+ ({source_note})",
            source=tags,
        )
        for threshold, source_note, tags in (
            (3, "SABINA / Scottish strategy review trigger", "[SCOT-SABA]"),
            (6, "Scottish strategy priority review", "[SCOT-SABA]"),
            (12, "NRAD urgent review; NRAD itself says more than 12", "[NRAD-UMJ] [NRAD-PJ]"),
        )
    ),
    _qof(
        id="ast_saba_no_ics",
        spec_section="3.5",
        title="Asthma: SABA issued with no ICS in 12 months",
        pathfinder="asthma",
        numerator="No ICS (ICS codelist, including ICS/formoterol) issued in the 12 months",
        denominator="Asthma register with at least one SABA issued in the 12 months to the period end",
        polarity="low",
        rule_version="NICE NG245 (2024): no SABA without ICS",
        source="[NG245-SUMMARY] [NHSH-SABA] [C20-CYP]",
    ),
    _qof(
        id="ast_emergency_admissions",
        spec_section="3.7",
        title="Asthma register with an emergency asthma admission in 12 months",
        pathfinder="asthma",
        numerator=(
            "An emergency admission (ADMIMETH 21-2D) with primary diagnosis J45/J46 in the 12 months to the period end"
        ),
        denominator="Asthma register on the last day of the period",
        polarity="low",
        rule_version="HES emergency admissions, ICD-10 J45/J46 (WHO/UK 4-character)",
        source="[OS-AST-ADM] [C20-CYP] [LEVY-NWL]",
        shown_decimals=2,  # the asthma page shows it per 1,000 on the register (10 x the percentage), to 1 place
    ),
    # ---------------------------------------------------------------- cancer (CWT / registry)
    _cancer(
        id="cwt_fds_28d",
        spec_section="4.1",
        title="Faster Diagnosis Standard: told within 28 days",
        numerator="Told cancer confirmed or ruled out within 28 days of receipt of referral (day 28 counts)",
        denominator="Urgent suspected cancer, breast symptomatic and screening referrals whose FDS clock stopped "
        "(told date) in the period",
        polarity="high",
        rule_version=CWT_RULE + " 28-day FDS",
        source="[CWT-V12] [NHSE-CRS]",
        unit_of_analysis="pathway",
        target=80.0,
        target_source="80% by March 2026 (77% March 2025) [CWT-V12] [COWLING-PLAN]",
    ),
    _cancer(
        id="cwt_31d",
        spec_section="4.1",
        title="31 days from decision to treat to treatment",
        numerator="Treatment started within 31 days of the decision to treat",
        denominator=(
            "Pathways with a decision to treat whose treatment started in the period, cancer confirmed (or no "
            "outcome recorded)"
        ),
        polarity="high",
        rule_version=CWT_RULE + " 31-day standard",
        source="[CWT-V12]",
        unit_of_analysis="pathway",
        target=96.0,
        target_source="Constitutional standard 96% [CWT-V12]",
        notes="The extract records first definitive treatment only, so subsequent treatments are not counted.",
    ),
    _cancer(
        id="cwt_62d",
        spec_section="4.1",
        title="62 days from referral to first treatment",
        numerator="First definitive treatment within 62 days of receipt of referral",
        denominator="Urgent suspected cancer, breast symptomatic, screening and consultant-upgrade pathways with "
        "cancer confirmed (or no outcome recorded) whose first treatment started in the period",
        polarity="high",
        rule_version=CWT_RULE + " 62-day standard",
        source="[CWT-V12] [NHSE-CRS]",
        unit_of_analysis="pathway",
        target=85.0,
        target_source="Constitutional standard 85% (75% operational target March 2026) [CWT-V12]",
        notes="Consultant-upgrade clocks start at the referral date recorded in the extract.",
    ),
    _cancer(
        id="cancer_early_stage",
        spec_section="4.2",
        title="Cancers diagnosed at stage 1 or 2",
        numerator="Tumours at stage 1 or 2",
        denominator=(
            "Malignant tumours (ICD-10 C00-C97) diagnosed in the period with a known stage (1-4), excluding "
            "non-melanoma skin (C44)"
        ),
        polarity="high",
        rule_version="NDRS unadjusted stage 1-2 proportion (75% ambition indicator)",
        source="[NDRS-STAGE-2022] [NHSE-CANCER-STRAT] [LTP-CANCER]",
        unit_of_analysis="tumour",
        target=75.0,
        target_source="NHS Long Term Plan: 75% at stage 1-2 by 2028 [LTP-CANCER]",
        notes="All staged tumours are treated as stageable (the extract has no stageability flag).",
    ),
    _cancer(
        id="cancer_emergency_route",
        spec_section="4.3",
        title="Cancers diagnosed through an emergency presentation",
        numerator="Tumours with route 'emergency'",
        denominator="Malignant tumours (ICD-10 C00-C97) diagnosed in the period, excluding non-melanoma skin (C44)",
        polarity="low",
        rule_version="Routes to Diagnosis (NDRS) route assignment as recorded in the extract",
        source="[RTD-PHE-2015] [GM-RTD] [LDN-POST]",
        unit_of_analysis="tumour",
    ),
    _cancer(
        id="cancer_conversion_rate",
        spec_section="4.1",
        title="Urgent referrals converting to a cancer diagnosis",
        numerator="Pathways with outcome 'cancer confirmed'",
        denominator=(
            "FDS pathways (urgent suspected cancer, breast symptomatic, screening) told an outcome in the period"
        ),
        polarity="none",
        rule_version="Derived from CWT FDS outcomes (NEL Cancer Alliance published ~3.6%)",
        source="[NEL-LEADS] [CWT-V12]",
        unit_of_analysis="pathway",
    ),
)

registry: dict[str, Indicator] = {indicator.id: indicator for indicator in INDICATORS}


class UnknownIndicator(KeyError):
    """An indicator id that is not in the registry."""


def get(indicator_id: str) -> Indicator:
    """The registry entry for ``indicator_id``; raises :class:`UnknownIndicator` naming the known ids."""
    try:
        return registry[indicator_id]
    except KeyError:
        raise UnknownIndicator(f"Unknown indicator {indicator_id!r}. Known: {', '.join(registry)}") from None


def list_indicators(pathfinder: str | None = None) -> pd.DataFrame:
    """The registry as a table (one row per indicator), optionally for one pathfinder."""
    rows = [
        {**asdict(indicator), "period_types": ",".join(indicator.period_types)}
        for indicator in INDICATORS
        if pathfinder is None or indicator.pathfinder == pathfinder
    ]
    return pd.DataFrame(rows)
