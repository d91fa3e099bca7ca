"""Settings are declared once; bad or unknown values stop start-up with a clear message."""

from __future__ import annotations

import pytest

from settings import SETTINGS, SettingsError, load_settings


def test_defaults_apply_without_environment():
    settings = load_settings({})
    assert settings.port == 8050
    assert settings.host == "127.0.0.1"
    assert settings.db.endswith("data/generated/pathfinder.duckdb")


def test_environment_overrides_and_parses():
    settings = load_settings({"PATHFINDER_DB": "/tmp/x.duckdb", "PATHFINDER_PORT": "9000", "PATHFINDER_DEBUG": "yes"})
    assert (settings.db, settings.port, settings.debug) == ("/tmp/x.duckdb", 9000, True)


def test_unknown_setting_is_refused_by_name():
    with pytest.raises(SettingsError, match="PATHFINDER_DATABASE"):
        load_settings({"PATHFINDER_DATABASE": "/tmp/x.duckdb"})


@pytest.mark.parametrize(
    ("var", "value"), [("PATHFINDER_PORT", "eighty"), ("PATHFINDER_PORT", "70000"), ("PATHFINDER_DEBUG", "maybe")]
)
def test_bad_value_names_the_variable(var, value):
    with pytest.raises(SettingsError, match=var):
        load_settings({var: value})


def test_every_setting_has_help():
    assert all(s.help for s in SETTINGS)
