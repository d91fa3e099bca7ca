"""Disclosure control: the NHS rule, and a property test that no count 1-7 ever leaves for a restricted role."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queries import disclosure, stats


def test_zero_stays_zero():
    assert disclosure.disclose_count(0) == 0


def test_one_to_seven_are_suppressed_not_zero():
    for count in range(1, 8):
        assert disclosure.disclose_count(count) is None


def test_other_counts_round_to_nearest_five():
    assert [disclosure.disclose_count(c) for c in (8, 9, 12, 13, 17, 18, 1234)] == [10, 10, 10, 15, 15, 20, 1235]


def test_fractional_expected_counts_are_rounded_first():
    assert disclosure.disclose_count(7.4) is None
    assert disclosure.disclose_count(7.6) == 10
    assert disclosure.disclose_count(0.4) == 0


def test_derived_values_hidden_when_numerator_suppressed():
    frame = pd.DataFrame({"numerator": [3, 40], "denominator": [100, 100], "value": [3.0, 40.0]})
    safe = disclosure.apply(frame, derived=["value"], decimals=1)
    assert safe["suppressed"].tolist() == [True, False]
    assert safe["value"][0] is None and safe["value"][1] == 40.0
    assert safe["numerator"][0] is None and safe["denominator"][0] == 100


def test_a_hidden_count_of_its_own_is_flagged_in_a_row_that_is_shown():
    # Rows: shown with 4 to target (hidden, flagged); shown with 12 (rounded); shown with no target (missing,
    # not flagged); suppressed row with 20 to target (hidden with its row, flagged); shown and target met (0).
    frame = pd.DataFrame(
        {
            "numerator": [40, 40, 40, 3, 95],
            "denominator": [45, 60, 60, 100, 100],
            "patients_to_target": [4, 12, None, 20, 0],
        },
        dtype=object,
    )
    expected_flags = [True, False, False, True, False]
    safe = disclosure.apply(frame, other_counts=["patients_to_target"])
    assert safe["suppressed"].tolist() == [False, False, False, True, False]
    assert safe["patients_to_target"].tolist() == [None, 10, None, None, 0]
    assert safe["patients_to_target_suppressed"].tolist() == expected_flags
    columns = {name: frame[name].to_numpy() for name in frame}
    assert (
        disclosure.apply_arrays(columns, other_counts=["patients_to_target"])["patients_to_target_suppressed"].tolist()
        == expected_flags
    )


def test_values_use_unrounded_counts_and_leave_with_the_decimals_they_are_shown_with():
    frame = pd.DataFrame({"numerator": [12], "denominator": [23], "value": [12 / 23 * 100]})
    safe = disclosure.apply(frame, derived=["value"], decimals=1)
    assert safe["numerator"][0] == 10 and safe["denominator"][0] == 25
    assert safe["value"][0] == 52.2  # 12 of 23, not the rounded 10 of 25 (40.0), and not 52.17391304347826


def test_full_precision_gave_the_exact_counts_back():
    """Why derived values are rounded: with the counts rounded to 5, a full-precision percentage alone
    pinned the exact numerator and denominator (the privacy review's attack, here in miniature)."""
    numerator, denominator = 412, 1_109
    low, high = stats.wilson_interval(np.array([numerator]), np.array([denominator]))
    frame = pd.DataFrame(
        {"numerator": [numerator], "denominator": [denominator], "value": [100 * numerator / denominator]}
        | {"ci_low": 100 * low, "ci_high": 100 * high}
    )

    def candidates(row) -> list[tuple[int, int]]:
        shown_den = row["denominator"]
        found = []
        for den in range(int(shown_den) - 2, int(shown_den) + 3):
            for num in range(den + 1):
                if f"{100 * num / den:.{places}f}" == f"{row['value']:.{places}f}":
                    found.append((num, den))
        return found

    places = 12  # full precision: one answer, the exact counts
    raw = disclosure.apply(frame, derived=["value", "ci_low", "ci_high"], decimals=places).iloc[0]
    assert candidates(raw) == [(numerator, denominator)]
    places = 1  # as shown: several counts fit
    shown = disclosure.apply(frame, derived=["value", "ci_low", "ci_high"], decimals=places).iloc[0]
    assert len(candidates(shown)) > 1


def test_decimals_are_required_for_derived_columns_and_leave_words_alone():
    frame = pd.DataFrame(
        {"numerator": [40], "denominator": [60], "value": [200 / 3], "ratio": [0.7049], "comparison": ["better"]}
    )
    with pytest.raises(ValueError, match="decimals"):
        disclosure.apply(frame, derived=["value"])
    with pytest.raises(ValueError, match="ratio"):
        disclosure.apply(frame, derived=["value", "ratio"], decimals={"value": 1})
    safe = disclosure.apply(
        frame, derived=["value", "ratio", "comparison"], decimals={"value": 1} | {"ratio": 2, "comparison": 0}
    )
    assert (safe["value"][0], safe["ratio"][0], safe["comparison"][0]) == (66.7, 0.7, "better")
    columns = {name: frame[name].to_numpy() for name in frame}
    arrays = disclosure.apply_arrays(columns, derived=["value", "ratio"], decimals={"value": 1, "ratio": 2})
    assert (arrays["value"][0], arrays["ratio"][0]) == (66.7, 0.7)


counts = st.one_of(st.integers(min_value=0, max_value=30), st.integers(min_value=0, max_value=10**7))


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(counts, counts, counts), min_size=1, max_size=30))
def test_no_count_from_one_to_seven_ever_leaves(rows):
    frame = pd.DataFrame(rows, columns=["numerator", "denominator", "patients_to_target"])
    frame["value"] = frame["numerator"] / frame["denominator"].where(frame["denominator"] > 0)
    safe = disclosure.apply(frame, other_counts=["patients_to_target"], derived=["value"], decimals=3)
    for column in ("numerator", "denominator", "patients_to_target"):
        for value in safe[column]:
            assert value is None or value == 0 or (value >= 10 and value % 5 == 0)
    # Every count hidden from a row is said to be hidden: none reads as missing.
    assert (safe["patients_to_target"].isna() == safe["patients_to_target_suppressed"]).all()
    for original, (_, row) in zip(rows, safe.iterrows(), strict=True):
        if any(1 <= c <= 7 for c in original[:2]):
            assert row["suppressed"] and row["value"] is None
        else:
            assert not row["suppressed"]
            expected = float(np.round(original[0] / original[1], 3)) if original[1] else math.nan
            assert row["value"] == expected or (math.isnan(row["value"]) and math.isnan(expected))


amounts = st.one_of(st.none(), st.floats(min_value=0, max_value=10**6, allow_nan=False), counts)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(counts, counts, amounts), min_size=1, max_size=30))
def test_the_array_path_the_api_uses_discloses_exactly_as_the_frame_path(rows):
    frame = pd.DataFrame(rows, columns=["numerator", "denominator", "patients_to_target"], dtype=object)
    frame["value"] = [n / d if d else None for n, d, _ in rows]
    expected = disclosure.apply(frame, other_counts=["patients_to_target"], derived=["value"], decimals=2)
    # The engine hands over float arrays (NaN for missing); other callers, objects with None.
    for dtype in (float, object):
        columns = {name: frame[name].to_numpy(dtype=dtype) for name in ("numerator", "denominator")}
        columns["patients_to_target"] = (
            frame["patients_to_target"].to_numpy(dtype=float, na_value=np.nan)
            if dtype is float
            else frame["patients_to_target"].to_numpy(dtype=object)
        )
        columns["value"] = frame["value"].to_numpy(dtype=object)
        safe = disclosure.apply_arrays(columns, other_counts=["patients_to_target"], derived=["value"], decimals=2)
        assert safe["suppressed"].tolist() == expected["suppressed"].tolist()
        assert safe["patients_to_target_suppressed"].tolist() == expected["patients_to_target_suppressed"].tolist()
        for name in ("numerator", "denominator", "patients_to_target", "value"):
            assert [None if pd.isna(v) else v for v in safe[name]] == [
                None if pd.isna(v) else v for v in expected[name]
            ], name


def test_disclose_array_reads_nan_and_none_alike():
    as_floats = disclosure.disclose_array(np.array([np.nan, 0.0, 3.0, 7.6, 12.0]))
    as_objects = disclosure.disclose_array(np.array([None, 0, 3, 7.6, 12], dtype=object))
    for a, b in zip(as_floats, as_objects, strict=True):
        assert np.array_equal(a, b, equal_nan=True)
    assert as_floats[1].tolist() == [False, False, True, False, False]
