"""The build's ``asthma_admission_history`` equals the history derived from the raw records.

The linked admissions view reads the table (written once by the build) instead of joining every
admitted patient's medications and events in the web process; the rows must be the same.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from queries import asthma


@pytest.fixture(scope="module")
def con(small_db):
    connection = duckdb.connect(str(small_db), read_only=True)
    yield connection
    connection.close()


def test_table_rows_equal_the_records(con):
    table = con.execute(f"SELECT * FROM {asthma.ADMISSION_HISTORY_TABLE}").df()  # noqa: S608 (module constant)
    records = asthma.admission_history_from_records(con)
    assert len(records) > 0  # the small database has emergency asthma admissions to compare
    keys = ["period_id", "patient_id"]
    pd.testing.assert_frame_equal(
        table.sort_values(keys).reset_index(drop=True), records.sort_values(keys).reset_index(drop=True)
    )


def test_the_linked_view_reads_the_table(con):
    # A bare connection is not cached, so this reads the table every call.
    history = asthma.admission_history(con)
    assert set(history.columns) >= {"period_id", "patient_id", "saba_before", "reviewed_before", "plan_before"}
    period = history["period_id"].iloc[0]
    linked = asthma.linked_admissions(con, period=period, by="london", disclose=False)
    admitted = history[history["period_id"] == period]
    assert linked["denominator"].max() == len(admitted)
