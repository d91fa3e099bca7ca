"""Calibration: the synthetic London against published headline figures.

Each headline names an indicator, the published figure (a value or a range, in
percent) and its source tag in docs/clinical-indicators.md. The synthetic value is
the London value for the latest 12 months (rolling to the extract date for QOF indicators,
else the latest financial year), raw counts (no disclosure).
``within`` is True when the synthetic value is no more than ``TOLERANCE_PP``
percentage points outside the published value or range. England figures for antigens where
London is known to be lowest are upper bounds: only exceeding them counts as off.

Deprivation gradients check the sign of the slope index of inequality (national
IMD deciles; positive = higher values in less deprived areas) against the
published direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from queries import indicators
from queries.registry import get

TOLERANCE_PP = 2.0


@dataclass(frozen=True)
class Headline:
    """A published figure to compare against."""

    indicator_id: str
    low: float  # percent
    high: float  # equal to low for a single figure
    geography: str
    period: str
    source: str
    note: str = ""
    upper_bound: bool = False  # an England figure London is known to fall below: only exceeding it is off


HEADLINES: tuple[Headline, ...] = (
    Headline("cover_12m_6in1", 86.2, 86.2, "London", "2023-24", "[COVER-VNATION]"),
    Headline("cover_24m_6in1", 87.7, 87.7, "London", "2023-24", "[COVER-VNATION]"),
    Headline(
        "cover_24m_mmr1",
        88.9,
        88.9,
        "England",
        "2024-25",
        "[COVER-PHARMNET] [COVER-PARTICLE]",
        "upper bound: no London figure in the spec; London is lowest for all antigens [COVER-Q-2024Q1]",
        upper_bound=True,
    ),
    Headline(
        "cover_12m_rota",
        88.9,
        88.9,
        "England",
        "Oct-Dec 2023",
        "[COVER-Q-2023Q3]",
        "upper bound: England figure; London is lowest for all antigens [COVER-Q-2024Q1]",
        upper_bound=True,
    ),
    Headline("cover_5y_mmr2", 69.6, 69.6, "London", "2024-25", "[COVER-PARTICLE]"),
    Headline(
        "cover_5y_4in1",
        63.8,
        63.8,
        "London",
        "2024-25",
        "[COVER-PARTICLE]",
        "London probably under-stated that year [COVER-A-2425]",
    ),
    Headline(
        "hyp_prevalence",
        float("nan"),
        float("nan"),
        "England rates on this list's ages",
        "2021/22",
        "[OS-OPENHEART]",
        "OpenSAFELY age-band prevalence applied to the synthetic registered ages (London is younger than "
        "England, so the England all-age 14.5 % does not apply)",
    ),
    Headline("hyp008", 60.3, 60.3, "England (OpenSAFELY-TPP)", "2021/22", "[OS-OPENHEART]", "as HYP003"),
    Headline("hyp009", 72.5, 72.5, "England (OpenSAFELY-TPP)", "2021/22", "[OS-OPENHEART]", "as HYP007"),
    Headline("ast_prevalence", 6.2, 6.5, "England", "2019/20-2022", "[PULSE-1920] [PULSE-AST-2022]"),
    Headline("cwt_fds_28d", 81.3, 81.3, "London", "Feb 2025", "[ESSEX-LDN]"),
    Headline("cwt_62d", 76.5, 76.5, "North East London", "2024/25", "[NEL-LEADS]"),
    Headline(
        "cancer_early_stage",
        55.0,
        58.0,
        "England",
        "recent",
        "[MYPRESS] [EFF-STAGE]",
        "'nearly three in five' for 13 common cancers",
    ),
    Headline("cancer_emergency_route", 23.0, 23.0, "London", "recent", "[LDN-POST]"),
    Headline(
        "cancer_conversion_rate", 3.6, 3.6, "North East London", "2024/25", "[NEL-LEADS]", "implied by 96.4 % ruled out"
    ),
)

# Published prevalence by age band [OS-OPENHEART], keyed by the cube's age bands.
OPENSAFELY_HYPERTENSION_BY_BAND = {
    "0-4": 0.04,
    "5-17": 0.04,
    "18-29": 0.4,
    "30-39": 1.7,
    "40-49": 6.8,
    "50-59": 17.8,
    "60-69": 32.0,
    "70-79": 48.5,
    "80+": 62.8,
}

# Expected sign of the SII (national deciles): +1 = higher in less deprived areas. Prevalence is compared
# within middle age bands, because crude prevalence mostly follows age (deprived London is younger).
GRADIENTS: tuple[tuple[str, int, dict | None, str], ...] = (
    ("cover_12m_6in1", +1, None, "Coverage lower in deprived areas [C20-CYP] [NHSE-DEPRIV]"),
    ("cover_5y_mmr2", +1, None, "Coverage lower in deprived areas [C20-CYP] [NHSE-DEPRIV]"),
    (
        "hyp_prevalence",
        -1,
        {"age_band": ["40-49", "50-59", "60-69"]},
        "Hypertension commoner with deprivation, ages 40-69 [C20-EVID]",
    ),
    ("ast_emergency_admissions", -1, None, "Asthma attacks commoner with deprivation [C20-CYP]"),
    ("cancer_early_stage", +1, None, "Later stage with deprivation [C20-EVID] [EFF-STAGE]"),
    ("cancer_emergency_route", -1, None, "More emergency presentations with deprivation [RTD-PHE-2015]"),
)


def _latest_year(con: Any, indicator_id: str) -> str:
    """The latest complete 12 months: rolling 12 months to the extract date where the indicator has it, else the
    latest financial year."""
    spec = get(indicator_id)
    period_type = next((t for t in ("r12", "fy") if t in spec.period_types), spec.default_period_type)
    return indicators.default_period(con, indicator_id, period_type)


def headline_table(con: Any) -> pd.DataFrame:
    """Published vs synthetic for every headline, with the difference in percentage points."""
    rows = []
    for headline in HEADLINES:
        period = _latest_year(con, headline.indicator_id)
        london = indicators.indicator_values(
            con, indicator=headline.indicator_id, period=period, by="london", disclose=False
        ).iloc[0]
        low, high = headline.low, headline.high
        if headline.indicator_id == "hyp_prevalence":
            by_age = indicators.indicator_values(
                con, indicator="hyp_prevalence", period=period, by="age_band", disclose=False
            )
            weights = by_age["denominator"].to_numpy(dtype=float)
            rates = by_age["area_code"].map(OPENSAFELY_HYPERTENSION_BY_BAND).to_numpy(dtype=float)
            low = high = float(np.nansum(weights * rates) / weights.sum()) if weights.sum() else float("nan")
        value = float(london["value"])
        half_width = (float(london["ci_high"]) - float(london["ci_low"])) / 2
        difference = (
            value - high if value > high else (value - low if value < low and not headline.upper_bound else 0.0)
        )
        rows.append(
            {
                "indicator_id": headline.indicator_id,
                "published": ("<= " if headline.upper_bound else "")
                + (f"{low:.1f}" if low == high else f"{low:.1f}-{high:.1f}"),
                "geography": headline.geography,
                "published_period": headline.period,
                "source": headline.source,
                "synthetic_period": period,
                "synthetic": round(value, 2),
                "denominator": float(london["denominator"]),
                "difference_pp": round(difference, 2),
                "within": bool(abs(difference) <= TOLERANCE_PP),
                "ci95_half_width": round(half_width, 2),
                "note": headline.note,
            }
        )
    return pd.DataFrame(rows)


def gradient_table(con: Any) -> pd.DataFrame:
    """SII (national deciles, London) for each gradient check, and whether its sign is as published."""
    rows = []
    for indicator_id, sign, filters, source in GRADIENTS:
        period = _latest_year(con, indicator_id)
        london = indicators.inequality(
            con, indicator=indicator_id, period=period, filters=filters, disclose=False
        ).iloc[0]
        sii = float(london["sii"])
        rows.append(
            {
                "indicator_id": indicator_id,
                "expected": "higher in less deprived" if sign > 0 else "higher in more deprived",
                "sii": round(sii, 2),
                "sii_low": round(float(london["sii_low"]), 2),
                "sii_high": round(float(london["sii_high"]), 2),
                "denominator": float(london["denominator"]),
                "direction_ok": bool(np.sign(sii) == sign),
                "significant": bool(london["sii_low"] > 0 or london["sii_high"] < 0),
                "source": source,
            }
        )
    return pd.DataFrame(rows)
