"""Transpile the indicator engine's build SQL from DuckDB to Spark SQL with sqlglot, and say what needs hand work.

The statements are captured, not copied: ``queries.materialise.materialise`` runs on an
in-memory database holding empty copies of a built database's input tables (so it is fast
and touches no data), through a connection wrapper that records every statement it executes.
Each captured statement is then

1. transpiled with ``sqlglot.transpile(sql, read="duckdb", write="spark")`` with unsupported
   constructs raised as errors, not silently dropped;
2. re-parsed as Spark SQL (the output must at least be valid Spark syntax to sqlglot);
3. checked for constructs that transpile syntactically but do not mean the same on Spark, or
   have no Spark equivalent at all (``HAND_WORK`` below, each with its reason).

A statement is "clean" when all three pass. Clean is a statement about syntax and known
semantic traps, not a proof of equal results: running both engines on the same extract and
comparing the ``ind_*`` tables is the real test (docs/scaling.md).

    python bench/transpile.py [--db data/generated/pathfinder.duckdb] [--out report.md] [--sql-dir DIR]
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, UnsupportedError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from queries import materialise as engine  # noqa: E402

DEFAULT_DB = ROOT / "data" / "generated" / "pathfinder.duckdb"
EXTRACT_DATE = "2026-10-31"

# (pattern on the DuckDB statement, kind, why). "wrapper": a mechanical change made once in the Spark job
# that drives the statements (how temp results are held, how values are bound); "rewrite": a person must
# change or verify the SQL itself, because it fails on Spark or transpiles to valid Spark that may mean
# something else. Patterns look at the DuckDB source: some constructs transpile to silently different Spark.
WRAPPER, REWRITE = "wrapper", "rewrite"
HAND_WORK: tuple[tuple[str, str, str], ...] = (
    (
        r"\bTEMP(ORARY)?\s+TABLE\b",
        WRAPPER,
        "temp table: sqlglot emits TEMPORARY VIEW (recomputed on every read, no OR REPLACE) or a TEMPORARY "
        "TABLE Spark does not have; hold intermediates as cached/checkpointed DataFrames or scratch tables",
    ),
    (
        r"^\s*INSERT\s+INTO\s+_\w+",
        WRAPPER,
        "appends to a temp table: Spark cannot INSERT INTO a temporary view; the rule blocks become one "
        "UNION ALL or appends to a scratch Parquet/Delta table",
    ),
    (r"\bPRIMARY\s+KEY\b", WRAPPER, "primary key: Spark does not enforce keys (uniqueness becomes a data test)"),
    (r"^\s*SET\s+\w+\s*=", WRAPPER, "DuckDB session setting: no Spark meaning (Spark never guarantees row order)"),
    (r"\?", WRAPPER, "positional ? values: small tables are loaded as DataFrames (spark.createDataFrame)"),
    (r"\$\w+", WRAPPER, "$name parameters: spark.sql(text, args={...}) with :name markers"),
    (
        r"\bORDER\s+BY\b[^()]*$",
        WRAPPER,
        "ORDER BY for physical row order: Spark writes are unordered; sortWithinPartitions / clustering on write",
    ),
    (
        r"\bdate_diff\s*\(\s*'year'",
        REWRITE,
        "date_diff('year') counts year boundaries in DuckDB; Spark DATEDIFF(YEAR, ...) (3.3+) counts complete "
        "years. The engine's age expression corrects for either, except 29 Feb births (test them on Spark)",
    ),
)


@dataclass
class Statement:
    """One captured statement and what became of it: (kind, reason) problems, empty when clean."""

    index: int
    sql: str
    params: object = None
    spark: str = ""
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def kinds(self) -> set[str]:
        return {kind for kind, _ in self.problems}

    @property
    def first_line(self) -> str:
        text = " ".join(line.split("--")[0] for line in self.sql.splitlines()).split()
        joined = " ".join(text)
        return joined[:90] + ("…" if len(joined) > 90 else "")


class RecordingConnection:
    """A DuckDB connection that records every statement it is asked to execute (then executes it)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self.statements: list[tuple[str, object]] = []

    def execute(self, sql: str, params: object = None):
        self.statements.append((sql, params))
        return self._con.execute(sql, params) if params is not None else self._con.execute(sql)

    def executemany(self, sql: str, params: object = None):
        rows = list(params or [])
        self.statements.append((sql, f"{len(rows)} rows"))
        return self._con.executemany(sql, rows)

    def __getattr__(self, name: str):
        return getattr(self._con, name)


def capture(db: Path) -> list[tuple[str, object]]:
    """Run the engine on empty copies of ``db``'s input tables; return the statements it executed, in order."""
    con = duckdb.connect()
    con.execute("ATTACH ? AS source (READ_ONLY)", [str(db)])
    tables = [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() "
            "WHERE database_name = 'source' AND NOT starts_with(table_name, 'ind_')"
        ).fetchall()
    ]
    for table in tables:
        # Identifiers come from the attached database's own catalogue, not from input.
        con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM source."{table}" LIMIT 0')  # noqa: S608
    con.execute("DETACH source")
    recorder = RecordingConnection(con)
    engine.materialise(recorder, EXTRACT_DATE)
    con.close()
    return recorder.statements


def is_engine_statement(sql: str) -> bool:
    """Build statements, not the engine's own read-backs (row counts, settings lookups)."""
    text = sql.lstrip().upper()
    return not (text.startswith("SELECT COUNT(*)") or text.startswith("SELECT CURRENT_SETTING"))


def transpile(index: int, sql: str, params: object) -> Statement:
    """Transpile one statement to Spark SQL and list what needs a person, if anything."""
    statement = Statement(index, sql, params)
    try:
        outputs = sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE, pretty=True)
        statement.spark = ";\n".join(outputs)
    except (UnsupportedError, ParseError) as error:
        statement.problems.append((REWRITE, f"sqlglot cannot express it in Spark: {str(error).splitlines()[0][:160]}"))
    if statement.spark:
        try:
            sqlglot.parse(statement.spark, read="spark", error_level=ErrorLevel.RAISE)
        except ParseError as error:
            statement.problems.append((REWRITE, f"output is not valid Spark SQL: {str(error).splitlines()[0][:160]}"))
        # Functions sqlglot does not know are copied verbatim: valid syntax, but Spark has no such function.
        unknown = sorted(
            {node.name.lower() for tree in sqlglot.parse(sql, read="duckdb") for node in tree.find_all(exp.Anonymous)}
        )
        if unknown:
            statement.problems.append(
                (REWRITE, f"DuckDB functions copied verbatim, unknown to Spark: {', '.join(unknown)} (use add_months)")
            )
    for pattern, kind, reason in HAND_WORK:
        if re.search(pattern, sql, flags=re.IGNORECASE | re.MULTILINE):
            statement.problems.append((kind, reason))
    return statement


def _is_housekeeping(sql: str) -> bool:
    """DROP / SET / plain DDL / INSERT ... VALUES: the driver's business, not the rules' SQL."""
    text = " ".join(line.split("--")[0] for line in sql.splitlines()).strip().upper()
    return (
        text.startswith(("DROP ", "SET "))
        or " VALUES " in f" {text} "
        or (text.startswith("CREATE") and " AS " not in text and " SELECT " not in text)
    )


def report(statements: list[Statement]) -> str:
    """Markdown: the summary counts, the reasons, then one row per statement."""
    rules = [s for s in statements if not _is_housekeeping(s.sql)]
    housekeeping = [s for s in statements if _is_housekeeping(s.sql)]

    def counts(group: list[Statement]) -> tuple[int, int, int]:
        clean = sum(1 for s in group if not s.problems)
        rewrite = sum(1 for s in group if REWRITE in s.kinds)
        return clean, len(group) - clean - rewrite, rewrite

    reasons: dict[tuple[str, str], int] = {}
    for s in statements:
        for kind, reason in s.problems:
            reasons[(kind, reason)] = reasons.get((kind, reason), 0) + 1
    lines = [
        f"sqlglot {sqlglot.__version__}, DuckDB -> Spark SQL, {len(statements)} statements captured from "
        "`queries.materialise.materialise` (run on empty tables through a recording connection).",
        "",
        "| statements | count | transpile cleanly | clean but for wrapper changes | need a person (rewrite) |",
        "|---|---|---|---|---|",
        "| rule and cube SQL (CREATE ... AS SELECT, INSERT ... SELECT) | {} | {} | {} | {} |".format(
            len(rules), *counts(rules)
        ),
        "| housekeeping (DROP, SET, DDL, INSERT ... VALUES) | {} | {} | {} | {} |".format(
            len(housekeeping), *counts(housekeeping)
        ),
        "",
        "| kind | why | statements |",
        "|---|---|---|",
        *(
            f"| {kind} | {reason} | {count} |"
            for (kind, reason), count in sorted(reasons.items(), key=lambda kv: (kv[0][0] != REWRITE, -kv[1]))
        ),
        "",
        "| # | statement (DuckDB, first words) | result |",
        "|---|---|---|",
    ]
    for s in statements:
        if not s.problems:
            verdict = "clean"
        else:
            verdict = ("REWRITE: " if REWRITE in s.kinds else "wrapper: ") + "; ".join(
                reason.split(":")[0][:48] for _, reason in s.problems
            )
        lines.append(f"| {s.index} | `{s.first_line.replace('|', '/')}` | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help="any built database (only its schema is read)")
    parser.add_argument("--out", type=Path, help="write the Markdown report here too")
    parser.add_argument("--sql-dir", type=Path, help="write each statement and its Spark SQL here")
    args = parser.parse_args(argv)
    if not args.db.is_file():
        print(f"no database at {args.db}: build one with `make data`", file=sys.stderr)
        return 2
    captured = [(sql, params) for sql, params in capture(args.db) if is_engine_statement(sql)]
    statements = [transpile(i, sql, params) for i, (sql, params) in enumerate(captured, start=1)]
    if args.sql_dir:
        args.sql_dir.mkdir(parents=True, exist_ok=True)
        for s in statements:
            (args.sql_dir / f"{s.index:03d}.duckdb.sql").write_text(s.sql.strip() + "\n")
            (args.sql_dir / f"{s.index:03d}.spark.sql").write_text((s.spark or "-- did not transpile") + "\n")
    text = report(statements)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
