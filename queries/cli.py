"""Command line for analysts and tests: indicator values, registry, periods, trends, inequality, calibration.

    python -m queries.cli values --db DB --indicator cover_12m_6in1 --by borough [--period P]
                                 [--filter imd_quintile=1 --filter sex=F] [--disclose]
    python -m queries.cli list
    python -m queries.cli periods --db DB --indicator hyp008
    python -m queries.cli trend --db DB --indicator cwt_fds_28d [--by borough]
    python -m queries.cli inequality --db DB --indicator hyp008 [--deprivation london]
    python -m queries.cli calibrate --db DB

Every table is printed as CSV on standard output. ``--disclose`` applies the
disclosure rule for roles without patient access (suppress 1-7, round to 5).
A database built by another version of the build (:mod:`data.build_version`) is
refused with the app's message and exit status 1.
"""

from __future__ import annotations

import argparse
import sys

import duckdb
import pandas as pd

from data.build_version import stale_build_problem
from queries import calibrate, indicators
from queries.db import DataUnavailable
from queries.registry import UnknownIndicator, list_indicators


def _filters(items: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in items:
        if "=" not in item:
            raise argparse.ArgumentTypeError(f"--filter takes dim=value, got {item!r}")
        name, value = item.split("=", 1)
        filters.setdefault(name.strip(), []).extend(v.strip() for v in value.split(","))
    return filters


def _connect(path: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(path, read_only=True)
    problem = stale_build_problem(con, path)
    if problem is not None:
        con.close()
        raise DataUnavailable(problem)
    return con


def _print(frame: pd.DataFrame) -> None:
    frame.to_csv(sys.stdout, index=False, float_format="%.6g")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m queries.cli", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="print the indicator registry")
    values = commands.add_parser("values", help="indicator values per group")
    values.add_argument("--by", default="london", help="dimension or pair, e.g. borough or borough,imd_quintile")
    values.add_argument("--period")
    values.add_argument("--filter", action="append", default=[], metavar="DIM=VALUE[,VALUE]")
    values.add_argument("--disclose", action="store_true", help="apply disclosure control (restricted roles)")
    values.add_argument(
        "--compare-with",
        choices=("filtered", "london"),
        default="filtered",
        help="benchmark of london_value and comparison: what the filters kept (default), or London with the "
        "area filters dropped (e.g. a borough's practices against London)",
    )
    periods = commands.add_parser("periods", help="periods available for an indicator")
    trend = commands.add_parser("trend", help="trend series with SPC flags")
    trend.add_argument("--by", default="london")
    trend.add_argument("--period-type")
    trend.add_argument("--filter", action="append", default=[], metavar="DIM=VALUE[,VALUE]")
    trend.add_argument("--disclose", action="store_true")
    inequality = commands.add_parser("inequality", help="SII/RII and quintile gap, London and per borough")
    inequality.add_argument("--period")
    inequality.add_argument("--deprivation", choices=("national", "london"), default="national")
    inequality.add_argument("--disclose", action="store_true")
    calibration = commands.add_parser("calibrate", help="synthetic vs published headline figures")
    for command in (values, periods, trend, inequality, calibration):
        command.add_argument("--db", required=True, help="DuckDB file built by python -m data.build")
    for command in (values, periods, trend, inequality):
        command.add_argument("--indicator", required=True)
    return parser


def _run(con: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> None:
    """Print what ``args.command`` asks for, from ``con``."""
    if args.command == "values":
        _print(
            indicators.indicator_values(
                con,
                indicator=args.indicator,
                period=args.period,
                by=args.by,
                filters=_filters(args.filter) or None,
                disclose=args.disclose,
                compare_with=args.compare_with,
            )
        )
    elif args.command == "periods":
        _print(indicators.periods(con, args.indicator))
    elif args.command == "trend":
        _print(
            indicators.trend(
                con,
                indicator=args.indicator,
                period_type=args.period_type,
                by=args.by,
                filters=_filters(args.filter) or None,
                disclose=args.disclose,
            )
        )
    elif args.command == "inequality":
        _print(
            indicators.inequality(
                con,
                indicator=args.indicator,
                period=args.period,
                deprivation=args.deprivation,
                disclose=args.disclose,
            )
        )
    elif args.command == "calibrate":
        headlines = calibrate.headline_table(con)
        _print(headlines)
        print()
        _print(calibrate.gradient_table(con))
        off = headlines[~headlines["within"]]
        print(
            f"\n{len(headlines) - len(off)} of {len(headlines)} headlines within ±{calibrate.TOLERANCE_PP:g} pp",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for a bad request, 1 for a stale database)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            _print(list_indicators())
            return 0
        # Closed when done: the engine's per-connection caches hold a reference to it, and a read-only
        # handle left open keeps others (a rebuild, a read-write open in the same process) out.
        with _connect(args.db) as con:
            _run(con, args)
        return 0
    except (indicators.QueryError, UnknownIndicator, argparse.ArgumentTypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except DataUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except duckdb.Error as error:
        print(f"error: database {getattr(args, 'db', '')}: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head and closed early: not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
