"""Number formats follow the engine's units; missing values read "suppressed", never 0."""

from __future__ import annotations

import pytest

from components.style import diverging_scale, json_safe, value_format


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
