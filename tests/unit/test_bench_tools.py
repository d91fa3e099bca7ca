"""The benchmark report's own logic: target checks, table parsing, the scaling fit, transpile verdicts."""

from __future__ import annotations

import sys

import pytest

from bench import build, report, scaling, transpile
from security import audit

CALLBACKS_OUTPUT = """Warm = every call after the callback's first in the process; target p95 ≤ 150 ms.

| callback | roles | warm calls | cold ms | p50 ms | p95 ms | max ms | CPU p95 ms | KB wire (raw) | errors |
|---|---|---|---|---|---|---|---|---|---|
| `imm-map.figure` | commissioner | 20 | 300 | 40 | 120 | 130 | 90 | 12 (40) | 0 |
| `hyp-table.data` | commissioner | 20 | 900 | 100 | 1,250 **✗** | 1,400 | 800 | 3 (9) | 0 |
"""

LOAD_OUTPUT = """**460 requests, 0 failures, 5.3 requests/s; p50 3,400 ms, p95 29,000 ms.**

| process | start MiB | peak MiB | end MiB | second half growth MiB |
|---|---|---|---|---|
| master | 283 | 3,000 | 274 | -3 |
| worker 7288 | 325 | 460 | 384 | +16 |
| worker 7298 | 329 | 2,100 | 365 | -4 |
"""

QUERIES_OUTPUT = (
    "All calls: engine p95 ...; analyst speed-up median 59x, minimum 2x; "
    "strict speed-up vs pandas median 12.5x, minimum 3.1x.\n"
)


def _section(name: str, output: str, status: str = "ok") -> report.Section:
    return report.Section(name, "Load test: 50 users for 60 s" if name == "load" else name, "x", "1", status, output)


def test_table_rows_reads_the_table_whose_header_has_the_word():
    rows = report.table_rows(CALLBACKS_OUTPUT, "p95")
    assert [r["callback"] for r in rows] == ["`imm-map.figure`", "`hyp-table.data`"]
    assert report._number(rows[1]["p95 ms"]) == 1250.0


def test_targets_read_from_section_output():
    sections = {
        "callbacks": _section("callbacks", CALLBACKS_OUTPUT),
        "queries": _section("queries", QUERIES_OUTPUT),
        "load": _section("load", LOAD_OUTPUT),
    }
    callbacks, callbacks_cpu, engine, rss, errors = report.check_targets(sections, "1")
    assert callbacks.met is False and "1 over" in callbacks.measured and "hyp-table.data" in callbacks.measured
    assert callbacks_cpu.met is False and "1 over" in callbacks_cpu.measured  # CPU p95 800 ms > 150 ms
    assert engine.met is True and "12.5" in engine.measured
    assert "analyst baseline median 59×, slowest call 2.0×" in engine.measured
    # The master process (3,000 MiB here) is not a worker; the largest worker is 2,100 MiB > 2 GiB.
    assert rss.met is False and "2,100 MiB" in rss.measured
    assert errors.met is True and "0 failures in 460 requests" in errors.measured


def test_a_failed_or_missing_section_is_never_a_met_target():
    sections = {"callbacks": _section("callbacks", CALLBACKS_OUTPUT, status="failed")}
    targets = report.check_targets(sections, "1")
    assert [t.met for t in targets] == [None, None, None, None]
    assert {t.mark for t in targets} == {"✗"}


def test_missing_script_is_loud(tmp_path):
    section = report.Section("load", "Load", "bench/does_not_exist.py", "1")
    report.run_section(section, ["true"], env=None, out_file=None, log_dir=tmp_path, timeout=10)
    assert section.status == "missing" and section.failed
    assert "MISSING" in section.detail[0]


def test_failing_script_is_loud(tmp_path):
    section = report.Section("figures", "Figures", "bench/report.py", "1")
    command = [sys.executable, "-c", "import sys; print('partial'); sys.exit(3)"]
    report.run_section(section, command, env=None, out_file=None, log_dir=tmp_path, timeout=30)
    assert section.status == "failed" and section.failed
    assert any("exit status 3" in line for line in section.detail)
    assert section.output.strip() == "partial"


def test_fit_recovers_a_line_and_its_exponent():
    slope, intercept, exponent = scaling._fit([1.0, 2.0, 4.0], [10.0, 20.0, 40.0])
    assert slope == pytest.approx(10.0) and intercept == pytest.approx(0.0, abs=1e-9)
    assert exponent == pytest.approx(1.0)
    assert scaling._fit([1.0], [3.0]) is None


def test_log_seconds_splits_generator_and_build_at_the_restart():
    log = "[    0.2s] generating\n[   30.2s] chunk 26/26\n[    0.0s] loading\n[ 1470.4s] built\n"
    assert scaling.log_seconds(log) == (30.2, 1470.4)
    assert scaling.log_seconds("[    5.0s] loading\n[   9.0s] built\n") == (None, 9.0)


def test_database_of_a_result_reads_the_path_without_how_it_was_built():
    assert scaling._database_of({"database": "/tmp/a b/x.duckdb", "source": "built elsewhere"}) == "/tmp/a b/x.duckdb"
    old_reused = {"source": "reused /tmp/s01/pathfinder.duckdb (build only, memory_limit 3GB)"}
    assert scaling._database_of(old_reused) == "/tmp/s01/pathfinder.duckdb"
    assert scaling._database_of({"source": "built /tmp/f/0.5/pathfinder.duckdb"}) == "/tmp/f/0.5/pathfinder.duckdb"


def test_transpile_flags_functions_spark_does_not_have():
    statement = transpile.transpile(1, "SELECT birth_date + to_months(12) AS d FROM patient_dim", None)
    assert transpile.REWRITE in statement.kinds
    assert any("to_months" in reason for _, reason in statement.problems)


def test_transpile_plain_select_is_clean_and_temp_table_is_wrapper_work():
    clean = transpile.transpile(1, "CREATE TABLE t AS SELECT a, count(*) AS n FROM s GROUP BY a", None)
    assert clean.problems == [] and "CREATE TABLE" in clean.spark
    temp = transpile.transpile(2, "CREATE OR REPLACE TEMP TABLE _x AS SELECT a FROM s", None)
    assert temp.kinds == {transpile.WRAPPER}


def test_folder_bytes_counts_nested_files_by_allocated_size(tmp_path):
    (tmp_path / "spill").mkdir()
    (tmp_path / "spill" / "a.tmp").write_bytes(b"x" * 100_000)
    (tmp_path / "db").write_bytes(b"y" * 50_000)
    # Allocated blocks: at least the bytes written, at most a block more per file.
    assert 150_000 <= build.folder_bytes(tmp_path) <= 150_000 + 2 * 64 * 1024
    assert build.folder_bytes(tmp_path, allocated=False) == 150_000  # apparent sizes, as a listing gives them
    assert build.folder_bytes(tmp_path / "missing") == 0


def test_measure_keeps_the_peak_of_a_file_written_then_deleted(tmp_path):
    """A spill file that is gone when the build ends still counts: the disk had to hold it."""
    script = (
        "import pathlib, sys, time; f = pathlib.Path(sys.argv[1]) / 'spill.tmp'; "
        "f.write_bytes(b'z' * 4_000_000); time.sleep(2.5); f.unlink()"
    )
    run = build.measure("spill", [sys.executable, "-c", script, str(tmp_path)], tmp_path / "log.txt",
                        disk_folder=tmp_path)  # fmt: skip
    assert run.exit_code == 0
    assert run.peak_disk_bytes >= 4_000_000
    assert build.folder_bytes(tmp_path) < 100_000  # only the log is left


def test_rss_timeline_takes_each_stretchs_peak_and_marks_a_missing_process():
    from bench.load import rss_timeline

    # Worker 1 rises then levels off; worker 2 starts in the second half.
    samples = {
        1: [(0.0, 100), (1.0, 300), (2.0, 200), (3.0, 400), (4.0, 400)],
        2: [(3.0, 50), (4.0, 70)],
    }
    rows = rss_timeline(samples, [1, 2], stretches=2)
    assert rows == [(2.0, [300, None]), (4.0, [400, 70])]
    assert rss_timeline({}, [1]) == []


def test_memory_parts_rest_is_rss_less_duckdb_tags_and_the_query_cache():
    from bench.worker_memory import MemoryParts

    parts = MemoryParts(
        [("BASE_TABLE", 500.0), ("IN_MEMORY_TABLE", 450.5)], cache_mb=40.0, cache_entries=9, rss_mb=1600.0
    )
    assert parts.duckdb_mb == 950.5
    assert parts.rest_mb == 609.5


def _samples(walls: list[float], *, role: str = "demo.commissioner", status: int = 200) -> list:
    from bench.callbacks import Sample

    cold = Sample(500.0, 500.0, 10, 10, status, True, role, "/hypertension")
    return [cold] + [Sample(wall, wall / 2, 10, 10, status, False, role, "/hypertension") for wall in walls]


def test_paired_table_gives_the_median_change_of_the_same_calls():
    from bench.callbacks import paired

    before = {"page.a": _samples([100, 50, 300, 20]), "page.b": _samples([10, 10]), "page.c": _samples([5], status=204)}
    after = {
        "page.a": _samples([80, 45, 240, 25]),
        "page.b": _samples([10, 10, 10]),
        "page.c": _samples([5], status=204),
    }
    rows = {line.split(" | ")[0].strip("| `"): line for line in paired(before, after).splitlines()[2:]}
    # Changes -20, -5, -60, +5: median -12.5 (printed -12), CPU half of it; three of four calls faster.
    assert rows["page.a"] == "| `page.a` | 4 | -12 | -6 | 3 of 4 |"
    assert "the calls differ" in rows["page.b"]  # one more call after: the mix went another way
    assert "no warm call updated the page" in rows["page.c"]


def test_paired_table_leaves_out_a_callback_whose_calls_were_made_by_another_role():
    from bench.callbacks import paired

    before = {"page.a": _samples([100, 50], role="demo.gp")}
    after = {"page.a": _samples([80, 45])}
    assert "the calls differ" in paired(before, after)


def test_audit_write_bench_writes_each_way_into_a_log_of_its_own(tmp_path, capsys):
    from bench import audit_write

    times = audit_write.run(tmp_path, 3)
    assert {name: len(samples) for name, samples in times.items()} == {"kept connection": 3, "a connection each": 3}
    for way in ("kept", "each"):  # one entry written before timing, then the timed ones; the chain unbroken
        log = audit.AuditLog(tmp_path / way / audit.AUDIT_FILE_NAME)
        assert len(log.entries()) == 4 and log.verify() == []
