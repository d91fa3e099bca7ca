"""The cohort finder's dose rules name every dose date they read: a cohort carries only those columns."""

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
