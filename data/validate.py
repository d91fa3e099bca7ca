"""Validate a linked extract while loading it into DuckDB.

Every load, synthetic or real, goes through :func:`load_and_validate`. It reads
each table straight from its files (Parquet via ``read_parquet``; CSV as
all-VARCHAR so that an unparsable value is seen rather than guessed around),
creates the typed contract table in the connection, and runs every check of
``docs/linked-extract.md`` in DuckDB SQL. It returns *every* problem found;
the caller decides whether to raise :class:`ExtractValidationError`.

Checks, in the order they are reported: files present and readable, required
columns present (extra columns are ignored), values parse as their type,
non-nullable columns filled and ids not blank, codes in their vocabularies and
formats, practice and LSOA codes known to ``data/reference``, keys unique, event
rows pointing at a known patient, no count below zero, no date after the extract
date or before the patient's birth, no patient older than anyone has lived, and a
row's dates in order (``Table.not_before``: registration, hospital stay, cancer
pathway clock).

SQL is assembled only from schema names (``data.schema`` is the whitelist, every
identifier quoted); every value, pattern and vocabulary is a bound parameter, and
file paths reach DuckDB through the relation API, never through SQL text.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from data.schema import MAX_AGE_YEARS, PATTERNS, TABLES, Table

# The contract's dtypes and the DuckDB types the loaded tables use.
ISO_DATE = r"\d{4}-\d{2}-\d{2}"
# An empty or whitespace-only text value: not a missing value to DuckDB, but no more an id than one.
BLANK = r"\s*"
NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)
FLOAT_TYPES = ("FLOAT", "DOUBLE")  # the numeric types that can hold infinity or NaN
# Coded columns that must also name a row of a reference table (table, key column).
REFERENCE_CODES = {
    ("patients", "practice_code"): ("ref_practices", "practice_code"),
    ("patients", "lsoa21_code"): ("ref_lsoa21", "lsoa21_code"),
}
# How a loaded table is ordered on disk: DuckDB's per-row-group min/max then skips
# whole row groups when a query filters on these columns.
TABLE_ORDER = {"patients": ("practice_code", "patient_id")}
EXAMPLES = 3
EXAMPLE_CHARS = 80
# A file-level problem's example is a message (a file, a line, a reason), not a value: cut at 80 characters a
# message lost its reason. Still bounded, because a header line can be anything.
MESSAGE_CHARS = 300
# Part files whose names start so are not data, as Spark and Arrow treat them: "._part-0.parquet" is the
# AppleDouble shadow a Mac leaves on a shared or FAT drive, "_SUCCESS" or "_temporary" Spark's bookkeeping.
HIDDEN_PREFIXES = (".", "_")
# Longest header line read: a file with no line break in its first megabyte is not a CSV table.
HEADER_BYTES = 2**20

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an extract: where, which check, how many rows, a few examples."""

    table: str
    column: str | None
    check: str
    count: int
    examples: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = self.table if self.column is None else f"{self.table}.{self.column}"
        rows = f": {self.count:,} row{'s' if self.count != 1 else ''}" if self.count else ""
        limit = EXAMPLE_CHARS if self.count else MESSAGE_CHARS
        shown = f" (e.g. {'; '.join(_clipped(e, limit) for e in self.examples)})" if self.examples else ""
        return f"{where} [{self.check}]{rows}{shown}"


def _shown(value: object) -> object:
    """A value as an example shows it: empty text, or text with spaces at either end, is quoted to show them."""
    if isinstance(value, str) and (not value or value != value.strip()):
        return repr(value)
    return value


def _clipped(example: str, limit: int = EXAMPLE_CHARS) -> str:
    """An example cut to ``limit`` characters: one 2 MB value put 2 MB on the terminal."""
    return example if len(example) <= limit else f"{example[:limit]}… ({len(example):,} characters)"


class ExtractValidationError(ValueError):
    """The extract broke the contract; ``problems`` lists every problem found."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = tuple(problems)
        lines = [f"The extract failed validation with {len(self.problems)} problem(s):"]
        lines += [f"  - {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class _Source:
    """A table's files as found in the extract folder."""

    table: str
    kind: str  # "parquet" or "csv"
    paths: tuple[Path, ...]
    root: Path  # the extract folder: files are named relative to it, as the person who sent them knows them

    def shown(self, path: Path | str) -> str:
        """A file of this table as a message names it, e.g. ``patients/part-00001.csv``."""
        return str(Path(path).relative_to(self.root))


class _UnreadableFile(Exception):
    """A file that cannot be read as its format; the message says which file, the line where known, and why."""


@dataclass(frozen=True)
class _Check:
    """A row-level check: ``condition`` is true for an offending row."""

    column: str | None
    name: str
    condition: str
    example_columns: tuple[str, ...]


# Single-row results are read with fetchall(): in DuckDB 2 a fetchone() leaves the result open,
# and the relation API (read_parquet, read_csv) then refuses to run on the connection.


def _quote(identifier: str) -> str:
    """Quote an identifier taken from the schema whitelist."""
    return '"' + identifier.replace('"', '""') + '"'


def _is_blank(column: str) -> str:
    """SQL true where the text ``column`` is empty or only whitespace (false where it is NULL); binds ``$blank``."""
    # ascii() first: a blank value starts with a space or is empty, and running the regex on every id of
    # 75 M event rows (scale 1.0) cost about 2 s a scan.
    return f"CASE WHEN ascii({column}) <= 32 THEN regexp_full_match({column}, $blank) ELSE false END"


def _first_lines(message: str, lines: int = 3) -> str:
    """A DuckDB error message cut to its informative first lines."""
    text = message.strip().splitlines()
    return " ".join(line.strip() for line in text[:lines] if line.strip())


def find_sources(extract_dir: Path) -> tuple[dict[str, _Source], list[Problem]]:
    """Locate each contract table's files: ``<t>.parquet``, ``<t>.csv``, ``<t>/*.parquet``, ``<t>/*.csv``, or a
    Spark-style folder ``<t>.parquet/*.parquet`` (``<t>.csv/*.csv``)."""
    problems: list[Problem] = []
    if not extract_dir.is_dir():
        return {}, [Problem("(extract)", None, "missing_folder", 0, (f"no folder at {extract_dir}",))]
    sources: dict[str, _Source] = {}
    for name in TABLES:
        found = []
        for kind in ("parquet", "csv"):
            single = extract_dir / f"{name}.{kind}"
            if single.is_file():
                found.append(_Source(name, kind, (single,), extract_dir))
            # <t>/ of part files, or <t>.parquet/ as Spark writes one (its parts are part-*.parquet).
            for folder in (extract_dir / name, single):
                if not folder.is_dir():
                    continue
                parts = tuple(sorted(p for p in folder.glob(f"*.{kind}") if not p.name.startswith(HIDDEN_PREFIXES)))
                if parts:
                    found.append(_Source(name, kind, parts, extract_dir))
        if not found:
            problems.append(
                Problem(name, None, "missing_table", 0, (f"no {name}.parquet, {name}.csv or {name}/*.parquet",))
            )
        elif len(found) > 1:
            shown = tuple(s.shown(s.paths[0]) for s in found)
            problems.append(Problem(name, None, "ambiguous_table", 0, shown))
        else:
            sources[name] = found[0]
    return sources, problems


def _csv_header(path: Path, shown: str) -> list[str] | None:
    """The header row of a CSV file (``None`` when the file is empty); raises :class:`_UnreadableFile`.

    Only the first line is decoded. Read as text, Python decoded the first 8 KB at once, so a bad byte in
    any column of the first rows was blamed on the header, at its offset in that buffer.
    """
    with open(path, "rb") as f:
        first = f.readline(HEADER_BYTES)
    if not first:
        return None
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _UnreadableFile(f"{shown} is UTF-16 text; save it as UTF-8")
    if len(first) == HEADER_BYTES and not first.endswith(b"\n"):
        raise _UnreadableFile(f"{shown}: no line break in its first {HEADER_BYTES:,} bytes; is it a CSV file?")
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _UnreadableFile(
            f"{shown}, line 1 (the header): byte 0x{first[error.start]:02X} is not UTF-8 text; save the file as UTF-8"
        ) from None
    return next(csv.reader([text.rstrip("\r\n")]), None)


def _read_error(error: Exception, source: _Source) -> str:
    """A DuckDB error reading ``source`` in words a data manager can act on: the file, the line, what is wrong."""
    text = str(error)
    for path in source.paths:  # DuckDB names files by the absolute path it was given
        text = text.replace(str(path), source.shown(path))
    line = re.search(r"CSV Error on Line: (\d+)", text)
    if line is None:  # a corrupt Parquet file, a file that vanished, ...
        return re.sub(r"^[A-Za-z ]+ Error: ", "", _first_lines(text))  # DuckDB's class of error
    file = re.search(r"^\s*file = (.+)$", text, re.MULTILINE)
    where = f"{file.group(1).strip() if file else source.shown(source.paths[0])}, line {line.group(1)}"
    fields = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if "Invalid unicode" in text:
        reason = "not UTF-8 text; save the file as UTF-8"
    elif fields:
        reason = f"{fields.group(2)} values where the header names {fields.group(1)} columns"
    elif "unterminated quote" in text:
        reason = 'a quoted value (") that is never closed'
    else:  # DuckDB's own reason: the first line after the row it quotes
        reasons = [r for r in text.split("\n\n")[0].splitlines()[2:] if r.strip()]
        reason = reasons[-1].strip() if reasons else _first_lines(text, 1)
    return f"{where}: {reason}"


def _column_names(source: _Source, path: Path) -> list[str]:
    """The column names of one file as written (a CSV header; a Parquet schema); raises :class:`_UnreadableFile`.

    Parquet names are read from the file, not from DuckDB, which renames a second ``sex`` to ``SEX_1``.
    """
    if source.kind == "csv":
        return _csv_header(path, source.shown(path)) or []
    try:
        return pq.read_schema(path).names
    except (pa.ArrowException, OSError) as error:
        raise _UnreadableFile(f"{source.shown(path)} cannot be read as Parquet: {error}") from None


def _column_problems(table: Table, source: _Source, names: Sequence[list[str]]) -> list[Problem]:
    """What is wrong with the files' columns: an empty CSV, CSV headers that differ, two columns that could
    each be one contract column (``sex`` and ``SEX``), a contract column missing from some or all files."""
    shown = [source.shown(p) for p in source.paths]
    if source.kind == "csv":
        empty = [file for file, file_names in zip(shown, names, strict=True) if not file_names]
        if empty:
            return [Problem(table.name, None, "empty_file", 0, tuple(empty[:EXAMPLES]))]
        # One header declares the columns of every part, so the parts must agree on it.
        differing = [file for file, file_names in zip(shown, names, strict=True) if file_names != names[0]]
        if differing:
            example = f"the header of {differing[0]} differs from that of {shown[0]}"
            return [Problem(table.name, None, "inconsistent_headers", 0, (example,))]
    problems = []
    for column in table.column_names:
        # Names match the contract whatever their case (DuckDB's identifiers do not see case either).
        found = [[n for n in file_names if n.lower() == column] for file_names in names]
        clash = next(((file, f) for file, f in zip(shown, found, strict=True) if len(f) > 1), None)
        lacking = [file for file, f in zip(shown, found, strict=True) if not f]
        if clash:
            example = f"{clash[0]} has {' and '.join(repr(n) for n in clash[1])}"
            problems.append(Problem(table.name, column, "duplicate_column_names", 0, (example,)))
        elif len(lacking) == len(shown):
            listed = ", ".join(str(_shown(n)) for n in names[0])
            problems.append(Problem(table.name, column, "missing_column", 0, (f"columns found: {listed}",)))
        elif lacking:
            # Parquet parts are read by name: a part without the column would load it as all missing.
            example = f"not in {lacking[0]} ({len(lacking)} of {len(shown)} files)"
            problems.append(Problem(table.name, column, "missing_column", 0, (example,)))
    return problems


def _copied_files(source: _Source) -> list[Problem]:
    """Part files that are byte-for-byte copies of another part ("part-3 (1).parquet"): read as parts, every row
    in them would count twice (a patient's inhalers, admissions), and event tables have no key to catch it."""
    by_size: dict[int, list[Path]] = {}
    for path in source.paths:
        by_size.setdefault(path.stat().st_size, []).append(path)
    copies = []
    for same_size in (paths for paths in by_size.values() if len(paths) > 1):  # only these need reading
        first_seen: dict[str, Path] = {}
        for path in same_size:
            with open(path, "rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
            if digest in first_seen:
                copies.append(f"{source.shown(first_seen[digest])} and {source.shown(path)} are the same file")
            else:
                first_seen[digest] = path
    return [Problem(source.table, None, "copied_file", 0, tuple(copies[:EXAMPLES]))] if copies else []


def _stage(con: duckdb.DuckDBPyConnection, source: _Source) -> tuple[dict[str, str] | None, list[Problem]]:
    """Check the files' columns, then create the temp view ``src_<table>`` over the files; return its column
    types keyed by lower-case name (``None`` when the table cannot be read, with the problems why)."""
    table = TABLES[source.table]
    view = f"src_{source.table}"
    paths = [str(p) for p in source.paths]
    try:
        names = [_column_names(source, p) for p in source.paths]
        problems = _column_problems(table, source, names) + _copied_files(source)
        if problems:
            return None, problems
        # The relation API takes the paths as values, so no file name is ever spliced into SQL.
        if source.kind == "parquet":
            relation = con.read_parquet(paths, union_by_name=True)
        else:
            # The header is read here and every column declared VARCHAR, so the sniffer can neither drop a row
            # nor guess a type; a ragged row fails the scan with its line. Extra columns get names of their own
            # ("extra_7"): DuckDB refuses a blank name, or two that differ only in case, and neither is read.
            wanted = set(table.column_names)
            columns = {
                (h.lower() if h.lower() in wanted else f"extra_{i + 1}"): "VARCHAR" for i, h in enumerate(names[0])
            }
            relation = con.read_csv(
                paths,
                header=True,
                auto_detect=False,
                sep=",",
                quotechar='"',
                escapechar='"',
                strict_mode=True,
                columns=columns,
            )
        relation.create_view(view, replace=True)
        described = con.execute(f"DESCRIBE {_quote(view)}").fetchall()  # noqa: S608
    except _UnreadableFile as error:
        return None, [Problem(source.table, None, "unreadable", 0, (str(error),))]
    except (duckdb.Error, OSError, csv.Error) as error:
        return None, [Problem(source.table, None, "unreadable", 0, (_read_error(error, source),))]
    return {row[0].lower(): row[1] for row in described}, []


def _typed_expression(column: str, dtype: str, source_type: str) -> tuple[str, bool]:
    """SQL converting a source column to its contract type, and whether it parses text.

    Returns NULL where the value does not parse; NaN (pandas' missing value) becomes NULL.
    """
    raw = _quote(column)
    if dtype == "string":
        return (raw if source_type == "VARCHAR" else f"CAST({raw} AS VARCHAR)"), False
    if dtype == "date":
        if source_type == "DATE":
            return raw, False
        if source_type == "TIMESTAMP WITH TIME ZONE":
            # The London day, not the session's (UTC): a date written as London midnight in summer is
            # 23:00 UTC the day before, and was loaded a day early (83,729 birth dates in a review).
            return f"CAST(timezone('Europe/London', {raw}) AS DATE)", False
        if source_type.startswith("TIMESTAMP"):
            return f"CAST({raw} AS DATE)", False
        text = raw if source_type == "VARCHAR" else f"TRY_CAST({raw} AS VARCHAR)"
        return f"CASE WHEN regexp_full_match({text}, $iso_date) THEN TRY_CAST({text} AS DATE) END", True
    if source_type.split("(")[0] in NUMERIC_TYPES:
        # A float column can hold infinity, which is not a measurement: it is reported as unparsable (as
        # in a CSV), not loaded as NULL without a word.
        value, parses = f"CAST({raw} AS DOUBLE)", source_type in FLOAT_TYPES
    else:
        text = raw if source_type == "VARCHAR" else f"TRY_CAST({raw} AS VARCHAR)"
        value, parses = f"TRY_CAST({text} AS DOUBLE)", True
    # Infinity is not a measurement; NaN is how pandas writes "missing". The raw column is named
    # in the condition because DuckDB 2.0.1 otherwise pushes a bare TRY_CAST into the CSV reader
    # as a strict cast, which fails the whole scan on the first bad value.
    return f"CASE WHEN {raw} IS NOT NULL AND isfinite({value}) THEN {value} END", parses


def _run_row_checks(
    con: duckdb.DuckDBPyConnection,
    table: str,
    from_sql: str,
    checks: Sequence[_Check],
    params: dict[str, object],
) -> list[Problem]:
    """Count every check's offending rows in one scan; fetch a few examples of each failing check."""
    if not checks:
        return []

    def bound(sql: str) -> dict[str, object]:
        # DuckDB refuses named parameters a statement does not use.
        return {k: v for k, v in params.items() if f"${k}" in sql}

    sql = "SELECT " + ", ".join(f"count_if({c.condition})" for c in checks) + f" FROM {from_sql}"  # noqa: S608
    counts = con.execute(sql, bound(sql)).fetchall()[0]
    problems = []
    for check, count in zip(checks, counts, strict=True):
        if not count:
            continue
        select = ", ".join(check.example_columns)
        example_sql = f"SELECT DISTINCT {select} FROM {from_sql} WHERE {check.condition} LIMIT {EXAMPLES}"  # noqa: S608
        rows = con.execute(example_sql, bound(example_sql)).fetchall()
        names = [c.split(".")[-1].strip('"') for c in check.example_columns]
        examples = tuple(", ".join(f"{n}={_shown(v)}" for n, v in zip(names, row, strict=True)) for row in rows)
        problems.append(Problem(table, check.column, check.name, int(count), examples))
    return problems


def _source_checks(
    con: duckdb.DuckDBPyConnection, table: Table, types: dict[str, str]
) -> tuple[list[Problem], set[str]]:
    """Parse failures and missing values, counted on the raw source; returns the columns it null-checked."""
    checks: list[_Check] = []
    parsed = set()
    id_columns = tuple(_quote(c) for c in table.column_names if c in ("patient_id", "pathway_id"))
    for column in table.columns:
        expression, parses = _typed_expression(column.name, column.dtype, types[column.name])
        if not parses:
            continue
        parsed.add(column.name)
        raw = _quote(column.name)
        examples = tuple(dict.fromkeys((*id_columns, raw)))
        # A value that is present but does not parse; a "NaN" number counts as missing, as in pandas.
        missing = f"{raw} IS NULL"
        if column.dtype == "double":
            missing = f"({raw} IS NULL OR lower(trim(CAST({raw} AS VARCHAR))) = 'nan')"
        checks.append(
            _Check(column.name, f"unparsable_{column.dtype}", f"NOT {missing} AND ({expression}) IS NULL", examples)
        )
        if not column.nullable:
            checks.append(_Check(column.name, "not_null", missing, examples))
    view = _quote(f"src_{table.name}")
    return _run_row_checks(con, table.name, view, checks, {"iso_date": ISO_DATE}), parsed


def _load_typed(con: duckdb.DuckDBPyConnection, table: Table, types: dict[str, str]) -> None:
    """Create the contract table with contract types from its source view (unparsable values become NULL)."""
    select = ", ".join(
        f"{_typed_expression(c.name, c.dtype, types[c.name])[0]} AS {_quote(c.name)}" for c in table.columns
    )
    order = TABLE_ORDER.get(table.name)
    order_sql = f" ORDER BY {', '.join(_quote(c) for c in order)}" if order else ""
    sql = (
        f"CREATE OR REPLACE TABLE {_quote(table.name)} AS SELECT {select} FROM {_quote('src_' + table.name)}{order_sql}"  # noqa: S608
    )
    con.execute(sql, {"iso_date": ISO_DATE} if "$iso_date" in sql else {})


def _code_checks(con: duckdb.DuckDBPyConnection, table: Table, loaded: set[str]) -> list[Problem]:
    """Vocabulary, format and reference checks, run on each coded column's distinct values."""
    problems = []
    for column in table.columns:
        reference = REFERENCE_CODES.get((table.name, column.name))
        if column.vocabulary is None and column.pattern is None and reference is None:
            continue
        name = _quote(column.name)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE code_values AS SELECT {name} AS value, count(*) AS n "  # noqa: S608
            f"FROM {_quote(table.name)} WHERE {name} IS NOT NULL GROUP BY ALL"
        )
        tests: list[tuple[str, str, dict[str, object]]] = []
        if column.vocabulary is not None:
            tests.append(("vocabulary", "NOT list_contains($allowed, value)", {"allowed": list(column.vocabulary)}))
        if column.pattern is not None:
            tests.append(
                (
                    f"format:{column.pattern}",
                    "NOT regexp_full_match(value, $pattern)",
                    {"pattern": PATTERNS[column.pattern]},
                )
            )
        if reference is not None and reference[0] in loaded:
            ref_table, ref_column = (_quote(x) for x in reference)
            # Badly formed codes are reported as such, not again as unknown.
            well_formed = "regexp_full_match(value, $pattern) AND " if column.pattern else ""
            params = {"pattern": PATTERNS[column.pattern]} if column.pattern else {}
            tests.append(
                (
                    f"unknown_code:{reference[0]}",
                    f"{well_formed}value NOT IN (SELECT {ref_column} FROM {ref_table})",  # noqa: S608
                    params,
                )
            )
        for check, condition, params in tests:
            total, values = con.execute(
                f"SELECT sum(n), list(value ORDER BY n DESC, value)[1:{EXAMPLES}] FROM code_values WHERE {condition}",  # noqa: S608
                params,
            ).fetchall()[0]
            if total:
                problems.append(Problem(table.name, column.name, check, int(total), tuple(repr(v) for v in values)))
    con.execute("DROP TABLE IF EXISTS code_values")
    return problems


def _key_check(con: duckdb.DuckDBPyConnection, table: Table) -> list[Problem]:
    """Rows whose key is shared with another row."""
    if not table.key:
        return []
    key = ", ".join(_quote(c) for c in table.key)
    present = " AND ".join(f"{_quote(c)} IS NOT NULL AND NOT {_is_blank(_quote(c))}" for c in table.key)
    total, examples = con.execute(
        f"SELECT sum(n), list(concat_ws(', ', {key}) || ' (x' || n || ')' ORDER BY n DESC)[1:{EXAMPLES}] "  # noqa: S608
        # A missing or blank key is reported as such (not_null, blank), not as many rows sharing one blank key.
        f"FROM (SELECT {key}, count(*) AS n FROM {_quote(table.name)} WHERE {present} "
        "GROUP BY ALL HAVING count(*) > 1)",
        {"blank": BLANK},
    ).fetchall()[0]
    if not total:
        return []
    return [Problem(table.name, ", ".join(table.key), "duplicate_key", int(total), tuple(examples))]


def _loaded_checks(
    con: duckdb.DuckDBPyConnection, table: Table, null_checked: set[str], extract_date: date
) -> list[Problem]:
    """Row checks on one typed table: missing values, dates after the extract, patients' own dates, and dates
    of a row in the wrong order (``Table.not_before``)."""
    checks: list[_Check] = []
    ids = tuple(f"t.{_quote(c)}" for c in table.column_names if c in ("patient_id", "pathway_id"))
    for column in table.columns:
        col = f"t.{_quote(column.name)}"
        examples = tuple(dict.fromkeys((*ids, col)))
        if not column.nullable and column.name not in null_checked:
            checks.append(_Check(column.name, "not_null", f"{col} IS NULL", examples))
        if column.dtype == "string" and not column.nullable and column.vocabulary is None and column.pattern is None:
            # An id ('' or spaces) that every check above would pass; a coded column's blank fails its format.
            checks.append(_Check(column.name, "blank", _is_blank(col), examples))
        if column.dtype == "date":
            checks.append(_Check(column.name, "after_extract_date", f"{col} > $extract_date", examples))
        if column.non_negative:
            # A negative quantity would be subtracted from a patient's inhalers in the year.
            checks.append(_Check(column.name, "negative", f"{col} < 0", examples))
    if table.name == "patients":
        # Older than anyone has lived at the last date the extract knows the patient: death, leaving, or the
        # extract date. The engine would count a placeholder 1900-01-01 birth date in its oldest age band.
        last_known = "coalesce(t.death_date, t.registration_end, $extract_date)"
        checks.append(
            _Check(
                "birth_date",
                f"over_{MAX_AGE_YEARS}_years_old",
                f"t.birth_date < {last_known} - to_years($max_age)",
                (*ids, "t.birth_date"),
            )
        )
        for name in table.after_birth:
            col = f"t.{_quote(name)}"
            checks.append(_Check(name, "before_birth", f"{col} < t.birth_date", (*ids, "t.birth_date", col)))
    for later, earlier in table.not_before:
        later_col, earlier_col = f"t.{_quote(later)}", f"t.{_quote(earlier)}"
        checks.append(
            _Check(later, f"before_{earlier}", f"{later_col} < {earlier_col}", (*ids, earlier_col, later_col))
        )
    params = {"extract_date": extract_date, "blank": BLANK, "max_age": MAX_AGE_YEARS}
    return _run_row_checks(con, table.name, f"{_quote(table.name)} AS t", checks, params)


def _patient_link_checks(
    con: duckdb.DuckDBPyConnection, tables: Sequence[Table], patients_source: str
) -> list[Problem]:
    """Event rows whose patient is not in ``patients``, or dated before that patient's birth.

    All event tables are counted in one join: joining each separately would build the
    patients hash table (13 M rows at scale 1.0) once per table. Examples are fetched
    per table only for the checks that fail.
    """
    branches = []
    for index, table in enumerate(tables):
        for position, name in enumerate(table.after_birth or (None,)):
            event_date = f"t.{_quote(name)}" if name else "CAST(NULL AS DATE)"
            branches.append(
                f"SELECT {index} AS table_index, {position} AS date_index, t.patient_id, {event_date} AS event_date "  # noqa: S608
                f"FROM {_quote(table.name)} AS t"
            )
    if not branches:
        return []

    # A missing or blank patient_id is reported by its own table's checks (not_null, blank), not again here.
    def orphan(alias: str) -> str:
        return f"p.patient_id IS NULL AND {alias}.patient_id IS NOT NULL AND NOT {_is_blank(f'{alias}.patient_id')}"

    counts = con.execute(
        f"SELECT table_index, date_index, count_if({orphan('e')}), count_if(e.event_date < p.birth_date) "  # noqa: S608
        f"FROM ({' UNION ALL '.join(branches)}) AS e LEFT JOIN {patients_source} AS p ON e.patient_id = p.patient_id "
        "GROUP BY ALL ORDER BY ALL",
        {"blank": BLANK},
    ).fetchall()
    failing: dict[int, list[_Check]] = {}
    for index, position, orphans, before_birth in counts:
        table = tables[index]
        ids = tuple(f"t.{_quote(c)}" for c in table.column_names if c in ("patient_id", "pathway_id"))
        if position == 0 and orphans:
            failing.setdefault(index, []).append(_Check("patient_id", "orphan_patient", orphan("t"), ids))
        if before_birth:
            name = table.after_birth[position]
            col = f"t.{_quote(name)}"
            failing.setdefault(index, []).append(
                _Check(name, "before_birth", f"{col} < p.birth_date", (*ids, "p.birth_date", col))
            )
    problems = []
    for index, checks in failing.items():
        table = tables[index]
        from_sql = f"{_quote(table.name)} AS t LEFT JOIN {patients_source} AS p ON t.patient_id = p.patient_id"
        problems += _run_row_checks(con, table.name, from_sql, checks, {"blank": BLANK})
    return problems


def load_and_validate(
    con: duckdb.DuckDBPyConnection,
    extract_dir: Path,
    extract_date: date,
    progress: Progress = lambda message: None,
) -> list[Problem]:
    """Load every contract table from ``extract_dir`` into ``con`` (typed) and return every problem found.

    The reference tables ``ref_practices`` and ``ref_lsoa21`` must already be in ``con``
    for practice and LSOA codes to be checked against them. An empty list means
    the extract honours the contract and the typed tables are ready to use.
    """
    sources, problems = find_sources(Path(extract_dir))
    loaded: set[str] = set()
    null_checked: dict[str, set[str]] = {}
    for name, source in sources.items():
        table = TABLES[name]
        progress(f"reading {name} ({len(source.paths)} {source.kind} file{'s' if len(source.paths) > 1 else ''})")
        types, staged_problems = _stage(con, source)
        problems += staged_problems
        if types is None:
            continue
        missing = [c for c in table.column_names if c not in types]
        if missing:  # each file has them (_column_problems), so DuckDB did not bring them together
            problems += [Problem(name, c, "missing_column", 0, (f"columns read: {', '.join(types)}",)) for c in missing]
            continue
        types = {c: types[c] for c in table.column_names}
        try:
            source_problems, null_checked[name] = _source_checks(con, table, types)
            problems += source_problems
            _load_typed(con, table, types)
        except duckdb.Error as error:
            # A CSV row with the wrong number of fields, a corrupt Parquet page, ...
            problems.append(Problem(name, None, "unreadable", 0, (_read_error(error, source),)))
            continue
        loaded.add(name)
        rows = con.execute(f"SELECT count(*) FROM {_quote(name)}").fetchall()[0][0]  # noqa: S608
        progress(f"loaded {name}: {rows:,} rows")

    if "patients" in loaded and not con.execute("SELECT count(*) FROM patients").fetchall()[0][0]:
        problems.append(Problem("patients", None, "empty_table", 0, ("the extract has no patients",)))

    patients_source = None
    patients_problems: list[Problem] = []
    if "patients" in loaded:
        patients_problems = _key_check(con, TABLES["patients"])
        # With duplicate patient ids a join would count event rows twice; join to one row per id.
        patients_source = (
            "(SELECT patient_id, min(birth_date) AS birth_date FROM patients GROUP BY patient_id)"
            if patients_problems
            else "patients"
        )
    reference_tables = {r[0] for r in REFERENCE_CODES.values()}
    present = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    for name in TABLES:
        if name not in loaded:
            continue
        progress(f"checking {name}")
        table = TABLES[name]
        problems += _code_checks(con, table, present & reference_tables)
        problems += patients_problems if name == "patients" else _key_check(con, table)
        problems += _loaded_checks(con, table, null_checked[name], extract_date)
    if patients_source is not None:
        progress("checking event tables against patients")
        linked = [TABLES[name] for name in TABLES if name in loaded and name != "patients"]
        problems += _patient_link_checks(con, linked, patients_source)
    for name in sources:
        con.execute(f"DROP VIEW IF EXISTS {_quote('src_' + name)}")
    return problems
