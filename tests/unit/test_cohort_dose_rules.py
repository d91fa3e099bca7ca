"""The cohort finder's dose rules name every dose date they read (a cohort carries only those columns); the list
writes ages and missing doses as text."""

from __future__ import annotations

import re

import pytest

from queries import immunisation_cohort as cohort


@pytest.mark.parametrize("dose", list(cohort.MISSING_DOSES))
def test_each_rule_reads_exactly_the_dose_dates_it_names(dose):
    rule = cohort.DOSE_RULES[dose]
    read = {column for column in re.findall(r"\bc\.([a-z0-9_]+)", rule.sql) if column != "birth_date"}
    assert read == set(rule.dose_dates)


def test_every_dose_has_a_rule_and_every_dose_date_is_in_the_cache():
    assert list(cohort.DOSE_RULES) == list(cohort.MISSING_DOSES)
    cached = set(re.findall(r"\bAS ([a-z0-9_]+)", cohort._CHILD_DOSES_SQL))
    assert set(cohort.DOSE_DATE_COLUMNS) <= cached


@pytest.mark.parametrize(
    ("months", "text"), [(0, "0 y 0 m"), (11, "0 y 11 m"), (12, "1 y 0 m"), (50, "4 y 2 m"), (227, "18 y 11 m")]
)
def test_the_list_writes_an_age_in_completed_years_and_months(months, text):
    assert cohort.age_text(months) == text


def test_the_list_names_the_missing_doses_of_a_mask_in_schedule_order():
    bits = cohort.DOSE_BITS
    assert cohort.missing_text(0) == "none due"
    assert cohort.missing_text(bits["polio_booster"] | bits["mmr2"]) == "MMR2; polio booster"
    assert cohort.missing_text(sum(bits.values())) == "; ".join(cohort.SHORT_NAMES[key] for key in cohort.MISSING_DOSES)


def test_age_bounds_survive_another_thread_clearing_the_cache(monkeypatch):
    """The value was stored, then read back from the shared cache: a clear in between raised KeyError."""
    import datetime as dt

    import duckdb

    from queries import immunisation_cohort as cohort

    class ClearedAtOnce(dict):
        def __setitem__(self, key, value):
            super().__setitem__(key, value)
            self.clear()  # as another request's thread would, past the cache's limit

    monkeypatch.setattr(cohort, "_bounds_cache", ClearedAtOnce())
    as_at = dt.date(2026, 10, 31)
    bounds = cohort._age_bounds(duckdb.connect(), as_at, dt.date(2016, 10, 30), dt.date(2025, 11, 1), 1, 9)
    assert bounds["oldest_age_min"] == dt.date(2025, 10, 31)  # the last birth date of a 1-year-old that day
