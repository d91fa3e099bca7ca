"""Production serving: the gunicorn config, the per-worker start (query cache, warm-up), and two real workers
sharing one read-only database and one signed-in session."""

from __future__ import annotations

import http.cookiejar
import logging
import os
import re
import runpy
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from queries import cache
from security.testing import DEMO_PASSWORDS

ROOT = Path(__file__).resolve().parents[2]


def test_gunicorn_config_takes_the_app_settings(monkeypatch):
    monkeypatch.setenv("PATHFINDER_WORKERS", "3")
    monkeypatch.setenv("PATHFINDER_PORT", "9123")
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert config["workers"] == 3
    assert config["bind"] == ["127.0.0.1:9123"]
    assert config["wsgi_app"] == "app:server"
    assert config["preload_app"] is True  # one session key and shared memory across workers
    assert callable(config["post_fork"]) and callable(config["pre_fork"])


def test_gunicorn_config_refuses_zero_workers(monkeypatch):
    monkeypatch.setenv("PATHFINDER_WORKERS", "0")
    with pytest.raises(ValueError, match="PATHFINDER_WORKERS"):
        runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_the_load_test_reads_what_a_worker_logs_of_its_cache():
    """bench/load.py parses the line gunicorn's ``worker_exit`` logs: the two must change together."""
    from bench.load import CACHE_LINE

    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    logged: list[str] = []
    log = SimpleNamespace(info=lambda message, *args: logged.append(message % args))
    previous = cache.current()
    try:
        held = cache.configure(4, max_mb=8)
        held.put(("key",), pd.DataFrame({"n": range(100_000)}))  # 0.8 MB, under an eighth of 8 MB
        config["worker_exit"](SimpleNamespace(log=log), None)
        held_mb = round(held.bytes_held / 1e6, 1)
    finally:
        cache.configure(previous.size, max_mb=max(1, previous.max_bytes // 1_000_000))
    (parsed,) = CACHE_LINE.findall(f"[4242] [INFO] {logged[0]}")
    pid, hits, misses, uncacheable, entries, size, mb, max_mb, too_large = parsed
    assert (pid, entries, size, max_mb, too_large) == ("4242", "1", "4", "8", "0")
    assert float(mb) == held_mb > 0


def test_start_worker_turns_the_cache_on_and_warms_every_cache(small_db, monkeypatch, caplog):
    monkeypatch.setenv("PATHFINDER_DB", str(small_db))
    import app as app_module
    from queries.db import default_database

    previous = cache.current().size
    try:
        with caplog.at_level(logging.INFO, logger="pathfinder.app"):
            app_module.start_worker()
        assert cache.current().size == app_module.SETTINGS.query_cache > 0
        assert cache.current().max_bytes == app_module.SETTINGS.query_cache_mb * 1_000_000 > 0
        assert not [r for r in caplog.records if "failed" in r.getMessage()]
        assert "'cohort finder coverage'" in caplog.text  # the finder's note reads it on the first search
        tables = {
            (database, table)
            for database, table in default_database()
            .cursor()
            .execute("SELECT database_name, table_name FROM duckdb_tables()")
            .fetchall()
        }
        assert ("imm_cohort_cache", "child_doses") in tables
        assert {("cancer_cache", "fact_cube"), ("cancer_cache", "waits")} <= tables
        app_module.before_fork()  # closes the handle; the next query opens a new one
        assert default_database().scalar("SELECT count(*) FROM ref_boroughs") == 33
    finally:
        cache.configure(previous)


def _serving_environment(small_db, tmp_path) -> dict[str, str]:
    """The environment of a serving process on the test database, with its own temporary folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATHFINDER_")}
    temporary = tmp_path / "tmp"
    temporary.mkdir(exist_ok=True)
    env.update(
        PATHFINDER_DB=str(small_db),
        PATHFINDER_DEMO="true",
        PATHFINDER_AUDIT_DIR=str(tmp_path / "audit"),
        TMPDIR=str(temporary),
    )
    return env


# A process that caps DuckDB's memory, makes it spill (a temporary table twice the cap), says where and how many
# files it spilled, and exits normally.
_SPILLING_PROCESS = """
import app
app.limit_database_memory("32MB")
app.default_database().cursor().execute("CREATE TEMP TABLE spilled AS SELECT range FROM range(8000000)")
folder = app.spill_folder()
print(folder, sum(1 for _ in folder.iterdir()) if folder.exists() else 0)
"""


def test_a_serving_process_removes_its_spill_folder_when_it_exits(small_db, tmp_path):
    env = _serving_environment(small_db, tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", _SPILLING_PROCESS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    folder, spilled_files = result.stdout.split()[-2:]
    assert Path(folder).parent == Path(env["TMPDIR"])
    assert int(spilled_files) > 0, "the sort did not spill, so the test shows nothing"
    assert not Path(folder).exists()


def test_orphaned_spill_folders_of_dead_processes_are_removed(small_db, tmp_path, monkeypatch):
    monkeypatch.setenv("PATHFINDER_DB", str(small_db))
    import app as app_module

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, alive = app_module.spill_folder(int(finished.stdout)), app_module.spill_folder()
    not_a_process = tmp_path / f"{app_module.SPILL_FOLDER_PREFIX}notes"
    for folder in (dead, alive, not_a_process):
        folder.mkdir()
        (folder / "duckdb_temp_storage.tmp").write_bytes(b"spilled")
    assert app_module.remove_orphaned_spill_folders() == [dead]
    assert not dead.exists() and alive.exists() and not_a_process.exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_workers_serve_one_session_from_one_read_only_database(small_db, tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATHFINDER_")}
    env.update(
        PATHFINDER_DB=str(small_db),
        PATHFINDER_DEMO="true",
        PATHFINDER_AUDIT_DIR=str(tmp_path / "audit"),
        PATHFINDER_PORT=str(port),
        PATHFINDER_WORKERS="2",
    )
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 240
        while len(set(re.findall(r"\[(\d+)\] INFO pathfinder.app: worker ready", log_path.read_text()))) < 2:
            assert server.poll() is None, log_path.read_text()[-2000:]
            assert time.monotonic() < deadline, "workers did not finish their warm-up"
            time.sleep(0.5)
        base = f"http://127.0.0.1:{port}"
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login = opener.open(f"{base}/login").read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
        form = {"username": "demo.commissioner", "password": DEMO_PASSWORDS["demo.commissioner"], "csrf_token": token}
        opener.open(f"{base}/login", data=urllib.parse.urlencode(form).encode())
        # Each request is a new connection, so both workers answer some; every one must know the session.
        for _ in range(30):
            response = opener.open(f"{base}/_dash-layout")
            assert response.status == 200 and response.geturl().endswith("/_dash-layout")
        time.sleep(0.5)  # the access log is written after the response
        workers = set(re.findall(r'<(\d+)> "GET /_dash-layout', log_path.read_text()))
        assert len(workers) == 2, log_path.read_text()[-2000:]
    finally:
        server.terminate()
        server.wait(timeout=60)
