"""Queries for the London overview page: who is registered where."""

from __future__ import annotations

import pandas as pd

from queries.db import Database


def extract_metadata(db: Database) -> dict[str, str]:
    """The build's metadata (extract date, source, scale, seed, schema version)."""
    frame = db.frame("SELECT key, value FROM meta")
    return dict(zip(frame["key"], frame["value"], strict=True))


def registered_population_by_borough(db: Database) -> pd.DataFrame:
    """Patients registered on the extract date and practices with a registered patient, per borough.

    A patient counts if registered (no end date, or ending after the extract date) and
    alive on the extract date; the borough is the practice's, as in NHS list-size
    statistics. Every borough appears, with zero where nobody is registered.
    """
    return db.frame(
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
