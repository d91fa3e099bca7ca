"""Queries for the London overview page: who is registered where."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from queries import disclosure
from queries.db import Database


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


def registered_population(db: Database, *, disclose: bool = True) -> RegisteredPopulation:
    """Patients registered on the extract date and practices with a registered patient, per borough.

    A patient counts if registered (no end date, or ending after the extract date) and
    alive on the extract date; the borough is the practice's, as in NHS list-size
    statistics. Every borough appears, with zero where nobody is registered. With
    ``disclose`` the patient counts follow the NHS disclosure rule (suppress 1-7,
    round to 5), London's total disclosed from the exact total rather than summed from
    rounded parts; practice counts describe no patient and stay exact.
    """
    frame = db.frame(
        """
        WITH extract AS (SELECT CAST(value AS DATE) AS extract_date FROM meta WHERE key = 'extract_date'),
        registered AS (
            SELECT p.borough_code, p.practice_code
            FROM patient_dim AS p, extract AS e
            WHERE p.registration_start <= e.extract_date
              AND (p.registration_end IS NULL OR p.registration_end > e.extract_date)
              AND (p.death_date IS NULL OR p.death_date > e.extract_date)
        )
        SELECT b.borough_code, b.borough_name, b.icb_code, i.icb_short_name,
               count(r.practice_code) AS registered_patients,
               count(DISTINCT r.practice_code) AS practices
        FROM ref_boroughs AS b
        JOIN ref_icbs AS i USING (icb_code)
        LEFT JOIN registered AS r USING (borough_code)
        GROUP BY ALL
        ORDER BY b.borough_name
        """
    )
    total: float | None = float(frame["registered_patients"].sum())
    if disclose:
        total = disclosure.disclose_count(total)
        frame = disclosure.apply(frame, counts=("registered_patients",), basis=("registered_patients",))
    return RegisteredPopulation(boroughs=frame, total_patients=total, total_practices=int(frame["practices"].sum()))
