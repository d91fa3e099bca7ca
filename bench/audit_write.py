"""How long one audit entry takes to write: through the process's kept connection, and through one of its own.

Every export and every view of patient rows writes an entry inside its callback, before the rows leave
(``security.audit.AuditLog.record``). Entries used to open a connection each and close it; closing the only
connection to a WAL file checkpoints the log into the database file and syncs it again. This writes
``--entries`` entries each way into two fresh logs in ``--dir`` (the disk the audit folder would be on: a
sync's cost is the disk's), alternating the two so the machine's load falls on both alike:

- **kept connection**: ``AuditLog.record`` as the app calls it;
- **a connection each**: the same transaction through a connection opened and closed per entry, as
  ``record`` did before (``SqliteFile.connect``, then ``close``).

    python bench/audit_write.py [--dir /tmp] [--entries 200] [--out report.md]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from security import audit  # noqa: E402 (after the path is set)
from security.roles import Principal, Role  # noqa: E402

ANALYST = Principal("bench.analyst", Role.ANALYST)
FILTERS = {"page": "hypertension", "export": "borough_comparison", "period": "2025-26"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="folder for the throw-away log (default /tmp)")
    parser.add_argument("--entries", type=int, default=200, help="entries written each way (default 200)")
    parser.add_argument("--out", help="write the Markdown report here (also printed)")
    return parser.parse_args(argv)


def _one_connection_each(log: audit.AuditLog) -> None:
    """An entry through a connection of its own, opened and closed (what ``record`` did before)."""
    at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    fields = (at, ANALYST.username, ANALYST.role.value, audit.EXPORT_AGGREGATE, audit._filters_json(FILTERS), 34)
    with closing(log._file.connect()) as con:
        log._append(con, fields)


def run(folder: Path, entries: int) -> dict[str, list[tuple[float, float]]]:
    """(wall ms, CPU ms) of each entry, each way."""
    # A log file each: a connection closed while the kept one is open on the same file is not the last, and
    # does not checkpoint.
    kept, each = (audit.AuditLog(folder / way / audit.AUDIT_FILE_NAME) for way in ("kept", "each"))
    ways = {
        "kept connection": lambda: kept.record(ANALYST, audit.EXPORT_AGGREGATE, FILTERS, 34),
        "a connection each": lambda: _one_connection_each(each),
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    for write in ways.values():  # the file, its schema and the kept connection made before timing
        write()
    for _ in range(entries):
        for name, write in ways.items():
            cpu, wall = time.process_time(), time.perf_counter()
            write()
            times[name].append(((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000))
    for log in (kept, each):
        if log.verify():
            raise SystemExit(f"the log's chain is broken: {log.verify()}")
    return times


def report(times: dict[str, list[tuple[float, float]]], folder: Path, entries: int) -> str:
    load = os.getloadavg()
    lines = [
        f"Audit entries written into two fresh logs in `{folder}`, {entries} each way, alternating; "
        f"load average at the end {load[0]:.1f} / {load[1]:.1f}.",
        "",
        "| way | p50 ms | p95 ms | max ms | CPU p50 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, samples in times.items():
        walls = sorted(wall for wall, _ in samples)
        p95 = walls[min(len(walls) - 1, round(0.95 * (len(walls) - 1)))]
        cpu = statistics.median(c for _, c in samples)
        lines.append(f"| {name} | {statistics.median(walls):.1f} | {p95:.1f} | {walls[-1]:.1f} | {cpu:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-audit-", dir=args.dir) as folder:
        text = report(run(Path(folder), args.entries), Path(args.dir), args.entries)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
