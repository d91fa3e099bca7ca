"""Number formats follow the engine's units; missing values read "suppressed", never 0."""

from __future__ import annotations

import pytest

from components.style import (
    comparison_text,
    diverging_scale,
    formatted,
    interval_text,
    json_safe,
    target_label,
    target_status,
    value_format,
    whole_number,
)


@pytest.mark.parametrize(
    "unit, value, text, axis, suffix",
    [
        ("percent", 84.25, "84.2%", ".0f", "%"),  # the engine's 0-100 percentages
        ("proportion", 0.8425, "84.2%", ".0%", ""),
        ("ratio", 0.8123, "0.81", ".2f", ""),
        ("per 1,000", 1234.56, "1,234.6 per 1,000", ",.0f", ""),
        ("pp", -3.21, "-3.2 pp", ".0f", " pp"),
        ("count", 12345.0, "12,345", ",.0f", ""),
    ],
)
def test_value_formats(unit, value, text, axis, suffix):
    fmt = value_format(unit)
    assert (fmt.text(value), fmt.axis_format, fmt.axis_suffix) == (text, axis, suffix)


def test_missing_values_read_suppressed_and_json_safe_drops_nan():
    assert value_format("percent").text(float("nan")) == "suppressed"
    assert value_format("percent").text(None) == "suppressed"
    assert value_format("percent").text(0.0) == "0.0%"
    assert [json_safe(v) for v in (1, "2.5", float("inf"), float("nan"), None, "x")] == [
        1.0,
        2.5,
        None,
        None,
        None,
        None,
    ]


def test_diverging_scale_keeps_good_at_the_purple_end():
    assert diverging_scale("high") == "PuOr" and diverging_scale("low") == "PuOr_r"
    assert diverging_scale("none") == "BrBG"


def test_text_helpers_say_suppressed_and_compare_in_words():
    assert formatted(81.24, unit="percent") == "81.2%" and formatted(1.234, unit="ratio") == "1.23"
    assert formatted(None, unit="ratio") == "suppressed"
    assert whole_number(12345.0) == "12,345" and whole_number(float("nan")) == "suppressed"
    assert interval_text(70.0, 75.5, unit="percent") == "70.0% to 75.5%"
    assert interval_text(70.0, None, unit="percent") == "suppressed"
    assert [comparison_text(c) for c in ("better", "similar", "worse", "not compared", None)] == [
        "Better than London",
        "Similar to London",
        "Worse than London",
        "Not compared",
        "Not compared",
    ]


def test_a_target_reads_the_same_on_every_page():
    """The cancer cards said "standard 80%" where the overview and KPI cards said "Target 80.0%"."""
    assert target_label(80, unit="percent") == "Target 80.0%" and target_label(0.8, unit="ratio") == "Target 0.80"
    assert target_status(82.3, 80.0, unit="percent", polarity="high") == "Target 80.0%: met"
    assert target_status(76.0, 85.0, unit="percent", polarity="high") == "Target 85.0%: not met"
    assert target_status(12.0, 10.0, unit="percent", polarity="low") == "Target 10.0%: not met"
    assert target_status(None, 80.0, unit="percent", polarity="high") == "Target 80.0%", "nothing to judge"
