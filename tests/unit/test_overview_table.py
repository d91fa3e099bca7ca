"""The build's ``overview_registered`` gives the landing page the same numbers as counting patient_dim."""

from __future__ import annotations

import pandas as pd

from queries import overview
from queries.db import get_database


def test_table_rows_equal_the_count_from_patient_rows(small_db):
    db = get_database(small_db)
    shown = overview.registered_population(db, disclose=False).boroughs
    counted = overview.registered_population_from_records(db)
    assert counted["registered_patients"].sum() > 0
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), counted.reset_index(drop=True))
