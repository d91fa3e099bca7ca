"""Where the GP-team comparison's time goes: the parts of ``immunisation_practice.update_comparison``, timed in-process.

Runs the callback's work for one practice as its GP team sees it (the practice's rows unrounded among disclosed
others) ``--repeat`` times after three untimed runs, with each part's function wrapped in a timer, and prints the
mean milliseconds per run of each part (parts nest: the comparison holds the engine's batch calls, which hold
their queries). No profiler: its overhead inflated the Python-heavy parts. Run it from a checkout of the code
to time (``PYTHONPATH`` at that checkout) to compare commits on the same database.

    python bench/practice_page_parts.py --db /tmp/m28/db10/pathfinder.duckdb [--practice E83003] [--repeat 40]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# (module, function) of each part timed: names every version of the page since 1d5f655 has.
PARTS = (
    ("pages.immunisation_practice", "comparison_values"),
    ("queries.immunisation", "practice_comparison"),
    ("queries.immunisation", "indicator_values_batch"),
    ("queries.indicators", "_aggregate_many"),
    ("queries.immunisation", "practice_details"),
    ("queries.immunisation", "practice_comparison_wide"),
    ("pages.immunisation_practice", "practice_comparison_chart"),
    ("pages.immunisation_practice", "sortable_table"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--practice", default="E83003", help="default: demo.gp's practice")
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args(argv)
    os.environ["PATHFINDER_DB"] = args.db
    os.environ.setdefault("PATHFINDER_DEMO", "true")
    os.environ["PATHFINDER_QUERY_CACHE"] = "0"
    import importlib

    import app  # noqa: F401 (registers the pages)
    from queries.db import default_database

    spent: dict[str, float] = collections.defaultdict(float)
    for module_name, name in PARTS:
        module = importlib.import_module(module_name)
        original = getattr(module, name)

        def timed(*call_args, _original=original, _label=f"{module_name}.{name}", **kwargs):
            started = time.perf_counter()
            try:
                return _original(*call_args, **kwargs)
            finally:
                spent[_label] += time.perf_counter() - started

        setattr(module, name, timed)
    page = importlib.import_module("pages.immunisation_practice")
    db = default_database()

    def one_run() -> None:
        wide, long = page.comparison_values(
            db, practice_code=args.practice, period_type="quarter", disclose=True, disclose_practice=False
        )
        page.practice_comparison_chart(frame=long, target=95.0)
        page.sortable_table(wide, columns=page._TABLE_COLUMNS, caption="", table_id=page.COMPARISON_TABLE_ID)  # noqa: SLF001

    for _ in range(3):
        one_run()
    spent.clear()
    started, started_cpu = time.perf_counter(), time.process_time()
    for _ in range(args.repeat):
        one_run()
    wall = (time.perf_counter() - started) * 1000 / args.repeat
    cpu = (time.process_time() - started_cpu) * 1000 / args.repeat
    print(
        f"GP-team comparison of {args.practice} on {args.db}: {args.repeat} runs, {wall:.1f} ms a run "
        f"({cpu:.1f} ms CPU); load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| part | ms a run |\n|---|---:|")
    for label, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"| `{label}` | {seconds * 1000 / args.repeat:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
