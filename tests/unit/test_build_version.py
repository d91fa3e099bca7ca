"""The build stamp: every database records its build version, and a stale one is refused with a message.

Refused by the app's database handle, the query CLI and ``python -m data.build check`` (which ``make run``
uses to rebuild the default database). Each test builds a real database from the hand-made extract and
then, where it needs an old one, rewrites its stamp as older code would have left it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import duckdb
import pytest

from data import build
from data.build_version import BUILD_VERSION, META_KEY, read_build_version
from queries import cli
from queries.db import Database, DataUnavailable

pytestmark = pytest.mark.slow

EXTRACT_DATE = date(2026, 10, 31)
ROOT = Path(__file__).resolve().parents[2]


def restamp(path: Path, version: int | None) -> None:
    """Give the database at ``path`` the stamp ``version`` (None: no stamp, as before stamps existed)."""
    con = duckdb.connect(str(path))
    try:
        con.execute("DELETE FROM meta WHERE key = ?", [META_KEY])
        if version is not None:
            con.execute("INSERT INTO meta VALUES (?, ?)", [META_KEY, str(version)])
    finally:
        con.close()


@pytest.fixture
def built_db(tmp_path, tiny_tables) -> Path:
    out = tmp_path / "pathfinder.duckdb"
    build.build_from_frames(tiny_tables, out, extract_date=EXTRACT_DATE)
    return out


def test_the_build_stamps_its_version_in_meta(built_db):
    con = duckdb.connect(str(built_db), read_only=True)
    try:
        assert con.execute("SELECT value FROM meta WHERE key = ?", [META_KEY]).fetchall() == [(str(BUILD_VERSION),)]
        assert read_build_version(con) == BUILD_VERSION
    finally:
        con.close()


def test_a_database_without_meta_has_no_build_version(tmp_path):
    con = duckdb.connect(str(tmp_path / "bare.duckdb"))
    try:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
        assert read_build_version(con) is None
    finally:
        con.close()


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        (
            BUILD_VERSION - 1,
            rf"older version of the build \(version {BUILD_VERSION - 1}, this code needs {BUILD_VERSION}\)",
        ),
        (
            BUILD_VERSION + 1,
            rf"newer version of the build \(version {BUILD_VERSION + 1}, this code needs {BUILD_VERSION}\)",
        ),
        (None, r"before build versions were recorded"),
    ],
)
def test_the_app_handle_refuses_a_stale_database_until_the_app_restarts(built_db, stamp, expected):
    restamp(built_db, stamp)
    database = Database(built_db)
    with pytest.raises(DataUnavailable, match=expected) as refused:
        database.scalar("SELECT count(*) FROM patients")
    assert "make data" in str(refused.value) and str(built_db) in str(refused.value)
    restamp(built_db, BUILD_VERSION)  # as a rebuild leaves it
    # Still refused: start-up checks (demo mode over a real extract) could not read the file either.
    for _ in range(2):
        with pytest.raises(DataUnavailable, match=expected):
            database.frame("SELECT * FROM meta")
    database.close()
    with pytest.raises(DataUnavailable, match="restart the app"):
        database.cursor()
    restarted = Database(built_db)
    try:
        assert restarted.scalar("SELECT count(*) FROM patients") == 3
    finally:
        restarted.close()


def test_a_database_built_without_the_indicator_tables_is_refused(tmp_path, tiny_tables):
    out = tmp_path / "load-only.duckdb"
    build.write_frames(tmp_path / "extract", tiny_tables)
    build.build_from_directory(tmp_path / "extract", out, extract_date=EXTRACT_DATE, materialise=False)
    database = Database(out)
    with pytest.raises(DataUnavailable, match=r"without the indicator tables \(--skip-indicators"):
        database.scalar("SELECT count(*) FROM patients")
    database.close()
    assert build.main(["check", "--db", str(out)]) == 1


def test_check_exit_codes(built_db, tmp_path, capsys):
    assert build.main(["check", "--db", str(built_db)]) == 0
    assert f"build version {BUILD_VERSION}" in capsys.readouterr().out

    restamp(built_db, BUILD_VERSION - 1)
    assert build.main(["check", "--db", str(built_db)]) == 1
    assert f"version {BUILD_VERSION - 1}, this code needs {BUILD_VERSION}" in capsys.readouterr().err

    restamp(built_db, None)
    assert build.main(["check", "--db", str(built_db)]) == 1
    assert "no build version" in capsys.readouterr().err

    assert build.main(["check", "--db", str(tmp_path / "missing.duckdb")]) == 1
    assert "No database at" in capsys.readouterr().err

    not_a_database = tmp_path / "notes.duckdb"
    not_a_database.write_text("not a database")
    assert build.main(["check", "--db", str(not_a_database)]) == 1
    assert "Cannot open the database" in capsys.readouterr().err


def test_check_generator_rebuilds_only_synthetic_data_of_another_generator(tmp_path, tiny_tables, capsys):
    # make run's default database follows the generator (its data change with it); a real extract's never does.
    current = build._generator_fingerprint()
    cases = {"synthetic": ("synthetic", current), "old": ("synthetic", "0" * 64), "unstamped": ("synthetic", None)}
    cases["extract"] = ("extract", None)
    for name, (source, generator) in cases.items():
        with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
            build.write_frames(folder, tiny_tables)
            build.build_from_directory(
                folder, tmp_path / f"{name}.duckdb", extract_date=EXTRACT_DATE, source=source, generator=generator
            )
    for name, expected in (("synthetic", 0), ("old", 1), ("unstamped", 1), ("extract", 0)):
        database = str(tmp_path / f"{name}.duckdb")
        assert build.main(["check", "--generator", "--db", database]) == expected, name
        assert build.main(["check", "--db", database]) == 0, name  # the build version alone is current
    assert "another version of the generator" in capsys.readouterr().err


def test_check_in_a_subprocess_exits_non_zero_without_a_traceback(built_db):
    restamp(built_db, BUILD_VERSION - 1)
    result = subprocess.run(
        [sys.executable, "-m", "data.build", "check", "--db", str(built_db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "older version of the build" in result.stderr and "Traceback" not in result.stderr


def test_the_query_cli_prints_the_same_message_and_fails(built_db, capsys):
    request = ["periods", "--db", str(built_db), "--indicator", "hyp008"]
    assert cli.main(request) == 0
    capsys.readouterr()

    restamp(built_db, BUILD_VERSION - 1)
    with pytest.raises(DataUnavailable) as refused:
        Database(built_db).scalar("SELECT 1")
    assert cli.main(request) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    message = captured.err.strip().removeprefix("error: ")
    assert "older version of the build" in message
    assert str(refused.value) == f"{message} Then restart the app.", "the app's message, less the restart"


def make_dry_run(*arguments: str, **environment: str) -> str:
    """The commands ``make -n run`` would execute (nothing is run), with ``environment`` added."""
    env = {key: value for key, value in os.environ.items() if key not in {"PATHFINDER_DB", "DB"}}
    result = subprocess.run(
        ["make", "-n", "run", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, **environment},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.skipif(subprocess.run(["which", "make"], capture_output=True).returncode != 0, reason="no make")
@pytest.mark.parametrize("default_exists", [True, False], ids=["default present", "fresh clone"])
def test_make_run_builds_only_the_default_database_when_its_check_fails(tmp_path, default_exists):
    # The same rule whether the default database exists (checked, rebuilt if stale) or not (a fresh clone).
    default = "data/generated/pathfinder.duckdb" if default_exists else str(tmp_path / "missing.duckdb")
    arguments = () if default_exists else (f"DEFAULT_DB={default}",)
    commands = make_dry_run(*arguments)
    check = re.search(
        r"-m data\.build check --generator --db (\S+) \|\|.*?-m data\.build synthetic .*?--out ([^\s;]+)",
        commands,
        re.S,
    )
    assert check is not None, commands
    assert check.group(1) == check.group(2) == default

    for elsewhere in (
        make_dry_run(*arguments, PATHFINDER_DB="/srv/real/extract.duckdb"),
        make_dry_run(*arguments, "DB=/srv/real/x.duckdb"),
    ):
        assert "data.build check" not in elsewhere and "data.build synthetic" not in elsewhere, elsewhere
