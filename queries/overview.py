"""Queries for the London overview page: who is registered where, and each pathfinder at a glance."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from queries import disclosure
from queries.db import Database
from queries.indicators import area_names, indicator_values_batch, period_labels
from queries.registry import get


def extract_metadata(db: Database) -> dict[str, str]:
    """The build's metadata (extract date, source, scale, seed, schema version)."""
    frame = db.frame("SELECT key, value FROM meta")
    return dict(zip(frame["key"], frame["value"], strict=True))


@dataclass(frozen=True)
class RegisteredPopulation:
    """Registered patients and practices on the extract date, per borough and for London."""

    boroughs: pd.DataFrame  # borough_code, borough_name, icb_code, icb_short_name, registered_patients, practices
    total_patients: float | None  # None only if suppressed
    total_practices: int


REGISTERED_TABLE = "overview_registered"

# Registered on the extract date and alive, per (practice's) borough: a full scan of patient_dim.
_REGISTERED_SQL = """
    WITH extract AS (SELECT CAST(value AS DATE) AS extract_date FROM meta WHERE key = 'extract_date')
    SELECT p.borough_code, count(p.practice_code) AS registered_patients,
           count(DISTINCT p.practice_code) AS practices
    FROM patient_dim AS p, extract AS e
    WHERE p.registration_start <= e.extract_date
      AND (p.registration_end IS NULL OR p.registration_end > e.extract_date)
      AND (p.death_date IS NULL OR p.death_date > e.extract_date)
      AND p.borough_code IS NOT NULL
    GROUP BY p.borough_code
"""

# Every borough (zero where nobody is registered), from the build's table (or, in its test, the count above).
_BY_BOROUGH_SQL = """
    SELECT b.borough_code, b.borough_name, b.icb_code, i.icb_short_name,
           coalesce(r.registered_patients, 0) AS registered_patients, coalesce(r.practices, 0) AS practices
    FROM ref_boroughs AS b
    JOIN ref_icbs AS i USING (icb_code)
    LEFT JOIN {source} AS r USING (borough_code)
    ORDER BY b.borough_name
"""


def write_registered_population(con) -> int:
    """Write ``overview_registered`` (a build step): registered patients and practices per borough.

    The overview page is the landing page; counting 11 M patient rows on every visit cost ~2 s at
    full London scale, so the build counts once. Returns the number of rows written.
    """
    con.execute(f"CREATE OR REPLACE TABLE {REGISTERED_TABLE} AS {_REGISTERED_SQL}")
    return con.execute(f"SELECT count(*) FROM {REGISTERED_TABLE}").fetchone()[0]  # noqa: S608 (module constant)


def registered_population_from_records(db: Database) -> pd.DataFrame:
    """The per-borough rows counted from ``patient_dim`` (what the build's table is held equal to)."""
    return db.frame(_BY_BOROUGH_SQL.format(source=f"({_REGISTERED_SQL})"))


def registered_population(db: Database, *, disclose: bool = True) -> RegisteredPopulation:
    """Patients registered on the extract date and practices with a registered patient, per borough.

    A patient counts if registered (no end date, or ending after the extract date) and
    alive on the extract date; the borough is the practice's, as in NHS list-size
    statistics. Every borough appears, with zero where nobody is registered. With
    ``disclose`` the patient counts follow the NHS disclosure rule (suppress 1-7,
    round to 5), London's total disclosed from the exact total rather than summed from
    rounded parts; practice counts describe no patient and stay exact.
    """
    frame = db.frame(_BY_BOROUGH_SQL.format(source=REGISTERED_TABLE))
    total: float | None = float(frame["registered_patients"].sum())
    if disclose:
        total = disclosure.disclose_count(total)
        frame = disclosure.apply(frame, counts=("registered_patients",), basis=("registered_patients",))
    return RegisteredPopulation(boroughs=frame, total_patients=total, total_practices=int(frame["practices"].sum()))


# Two headline indicators per pathfinder for the landing page: the measures each programme is judged by.
HEADLINE_INDICATORS = {
    "immunisation": ("cover_12m_6in1", "cover_5y_mmr2"),
    "hypertension": ("hyp008", "hyp_detection_ratio"),
    "asthma": ("ast_review_12m", "ast_saba_6plus"),
    "cancer": ("cwt_fds_28d", "cwt_62d"),
}
HEADLINE_COLUMNS = (
    "pathfinder", "indicator_id", "title", "unit", "polarity", "period_id", "period_label", "target",
    "london_value", "boroughs_shown", "boroughs_suppressed", "boroughs_without_patients", "without_patients_names",
    "boroughs_meeting_target", "boroughs_worse", "boroughs_better",
    "lowest_borough", "lowest_value", "highest_borough", "highest_value",
)  # fmt: skip


def pathfinder_headlines(db: Database, *, disclose: bool = True) -> pd.DataFrame:
    """London's value of each pathfinder's headline indicators (:data:`HEADLINE_INDICATORS`) and its spread
    across the boroughs, in each indicator's latest complete period: one row per indicator.

    ``london_value`` is missing (NaN) when hidden by disclosure control. ``boroughs_suppressed`` counts the
    boroughs whose value disclosure control hides; the other borough columns count only the boroughs whose
    value is shown: ``boroughs_meeting_target`` (missing when the indicator has no target),
    ``boroughs_worse`` / ``boroughs_better`` (95 % interval against London, the indicator's polarity), and
    the lowest and highest shown values with their borough names. ``boroughs_without_patients`` counts the
    rest of London's boroughs, which have nobody in the indicator's denominator in the period (named in
    ``without_patients_names`` when there are at most three), so that every borough is accounted for. Two
    engine calls, by London and by borough.
    """
    requests = [(indicator, None) for indicators in HEADLINE_INDICATORS.values() for indicator in indicators]
    london = indicator_values_batch(db, requests=requests, by="london", disclose=disclose)
    boroughs = indicator_values_batch(db, requests=requests, by="borough", disclose=disclose)
    labels = period_labels(db)
    borough_names = area_names(db, "borough")
    rows = []
    for pathfinder, indicators in HEADLINE_INDICATORS.items():
        for indicator in indicators:
            spec = get(indicator)
            area = london[london["indicator_id"] == indicator].iloc[0]
            rows_of_indicator = boroughs[boroughs["indicator_id"] == indicator]
            hidden = rows_of_indicator["suppressed"].astype(bool)
            shown = rows_of_indicator[~hidden]
            shown = shown[shown["value"].notna()].sort_values(["value", "area_name"])
            values = shown["value"].astype(float)
            accounted = set(shown["area_code"]) | set(rows_of_indicator.loc[hidden, "area_code"])
            without = sorted(name for code, name in borough_names.items() if code not in accounted)
            meeting = None
            if spec.target is not None:
                meeting = int(
                    (values <= spec.target).sum() if spec.polarity == "low" else (values >= spec.target).sum()
                )
            rows.append(
                {
                    "pathfinder": pathfinder,
                    "indicator_id": indicator,
                    "title": spec.title,
                    "unit": spec.unit,
                    "polarity": spec.polarity,
                    "period_id": area["period_id"],
                    "period_label": labels.get(area["period_id"], area["period_id"]),
                    "target": spec.target,
                    "london_value": None if bool(area["suppressed"]) else area["value"],
                    "boroughs_shown": len(shown),
                    "boroughs_suppressed": int(hidden.sum()),
                    "boroughs_without_patients": len(without),
                    "without_patients_names": ", ".join(without) if 0 < len(without) <= 3 else None,
                    "boroughs_meeting_target": meeting,
                    "boroughs_worse": int((shown["comparison"] == "worse").sum()),
                    "boroughs_better": int((shown["comparison"] == "better").sum()),
                    "lowest_borough": shown["area_name"].iloc[0] if len(shown) else None,
                    "lowest_value": float(values.iloc[0]) if len(shown) else None,
                    "highest_borough": shown["area_name"].iloc[-1] if len(shown) else None,
                    "highest_value": float(values.iloc[-1]) if len(shown) else None,
                }
            )
    return pd.DataFrame(rows, columns=list(HEADLINE_COLUMNS))
