"""bench/same_answers.py's comparison finds what it must: a changed value, dtype or value type, a changed error."""

from __future__ import annotations

import pandas as pd

from bench.same_answers import answer, difference


def _rows() -> pd.DataFrame:
    return pd.DataFrame({"value": [61.25, 58.0], "london_value": pd.Series([60.0, None], dtype=object)})


def test_the_same_answer_is_no_difference():
    assert difference(_rows(), _rows()) is None
    assert difference("QueryError: no such period", "QueryError: no such period") is None


def test_a_value_one_bit_away_differs():
    changed = _rows()
    changed.loc[0, "value"] = 61.25 + 1e-13  # within assert_frame_equal's default tolerance, not check_exact's
    assert difference(_rows(), changed)


def test_an_int_where_a_float_was_differs():
    changed = _rows().assign(london_value=pd.Series([60, None], dtype=object))
    assert "value types" in difference(_rows(), changed)


def test_an_error_in_place_of_rows_differs_and_errors_are_answers():
    assert difference(_rows(), "QueryError: no such period")
    assert answer(lambda: 1 / 0) == "ZeroDivisionError: division by zero"
