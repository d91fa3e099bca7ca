"""A page's URL values: what the page offers is used, anything else falls back and is named for the user."""

from __future__ import annotations

from pages._links import SHOWN_CHARACTERS, LinkValues

PERIODS = {"2025-26", "2024-25"}


def test_an_offered_value_is_used_and_nothing_is_noted():
    link = LinkValues()
    assert link.pick("period", "2024-25", PERIODS, "2025-26") == "2024-25"
    assert link.problems == [] and link.message() is None


def test_an_absent_empty_or_default_value_is_not_a_problem():
    link = LinkValues()
    assert link.pick("period", None, PERIODS, "2025-26") == "2025-26"
    assert link.pick("period", "", PERIODS, "2025-26") == "2025-26"
    # "all" is the page's own default but no code in the offered set: a link the page wrote itself.
    assert link.pick("borough", "all", {"E09000012"}, "all") == "all"
    assert link.problems == []


def test_a_value_not_offered_falls_back_and_is_named():
    link = LinkValues()
    assert link.pick("period", "1999", PERIODS, "2025-26") == "2025-26"
    assert link.pick("borough", "'; DROP TABLE x", {"E09000012"}, None) is None
    assert link.problems == ["period 1999", "borough '; DROP TABLE x"]
    assert "period 1999; borough '; DROP TABLE x" in str(link.message())
    link.pick("practice", "E83003", {"F84003"}, None, why="not in the linked borough")
    assert link.problems[-1] == "practice E83003 (not in the linked borough)"


def test_a_repeated_key_uses_its_first_value_and_a_long_value_is_cut():
    link = LinkValues()
    assert link.pick("period", ["2024-25", "1999"], PERIODS, "2025-26") == "2024-25"
    assert link.pick("period", ["1999", "2024-25"], PERIODS, "2025-26") == "2025-26"
    link.pick("area", "x" * 500, {"E09000012"}, None)
    assert link.problems[-1] == "area " + "x" * SHOWN_CHARACTERS


def test_a_problem_pick_cannot_see_is_noted_beside_the_others():
    link = LinkValues()
    link.note("borough E09000003 (not in the linked ICB)")
    assert "E09000003 (not in the linked ICB)" in str(link.message())
