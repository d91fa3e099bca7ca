"""The serving settings: worker count, query cache size and DuckDB memory cap parse or stop start-up by name."""

from __future__ import annotations

import pytest

from settings import SettingsError, load_settings


def test_serving_defaults():
    settings = load_settings({})
    assert (settings.workers, settings.query_cache, settings.query_cache_mb, settings.db_memory_limit) == (
        2,
        1024,
        256,
        "1GB",
    )


def test_serving_values_parse():
    settings = load_settings(
        {
            "PATHFINDER_WORKERS": "4",
            "PATHFINDER_QUERY_CACHE": "0",
            "PATHFINDER_QUERY_CACHE_MB": "64",
            "PATHFINDER_DB_MEMORY_LIMIT": "800MiB",
        }
    )
    assert (settings.workers, settings.query_cache, settings.query_cache_mb, settings.db_memory_limit) == (
        4,
        0,
        64,
        "800MiB",
    )
    assert load_settings({"PATHFINDER_DB_MEMORY_LIMIT": ""}).db_memory_limit == ""  # DuckDB's own default


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("PATHFINDER_WORKERS", "0"),
        ("PATHFINDER_WORKERS", "two"),
        ("PATHFINDER_QUERY_CACHE", "-1"),
        ("PATHFINDER_QUERY_CACHE_MB", "0"),
        ("PATHFINDER_DB_MEMORY_LIMIT", "1 gig"),
        ("PATHFINDER_DB_MEMORY_LIMIT", "1GB'; DROP TABLE meta; --"),
    ],
)
def test_bad_serving_values_name_the_variable(var, value):
    with pytest.raises(SettingsError, match=var):
        load_settings({var: value})
