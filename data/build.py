"""Build the app's DuckDB database from a linked extract, synthetic or real.

Both routes go through the same validated load (:mod:`data.validate`)::

    python -m data.build synthetic --scale 0.02 --seed 1 --out data/generated/pathfinder.duckdb
    python -m data.build extract path/to/extract --out data/generated/pathfinder.duckdb --extract-date 2026-10-31

The database is built in ``<out>.tmp-<pid>`` and moved over ``out`` only when
every step has succeeded, so a failed or invalid build leaves any existing
database byte-for-byte as it was. A build that was killed leaves its temporary
files behind; the next build of ``out`` removes them (see :func:`remove_leftovers`).
Exit codes: 0 built, 2 invalid extract (every problem printed), 1 anything else.

Every database is stamped with :data:`data.build_version.BUILD_VERSION`; ``check``
says whether a database must be rebuilt before this code serves it (``make run``
uses it on the default database, with ``--generator``: also when another version
of the synthetic generator wrote its data)::

    python -m data.build check --db data/generated/pathfinder.duckdb   # 0 current, 1 rebuild needed
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import hashlib
import importlib
import importlib.util
import inspect
import json
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from data.build_version import BUILD_VERSION, META_KEY, stale_build_problem
from data.schema import SCHEMA_VERSION, TABLES
from data.validate import ExtractValidationError, load_and_validate

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = PROJECT_ROOT / "data" / "generated" / "pathfinder.duckdb"
REFERENCE_DIR = PROJECT_ROOT / "data" / "reference"
REFERENCE_TABLES = {
    "ref_practices": "practices.csv",
    "ref_lsoa21": "lsoa21.csv",
    "ref_boroughs": "boroughs.csv",
    "ref_icbs": "icbs.csv",
    "ref_trusts": "trusts.csv",
}
DEFAULT_SYNTHETIC_EXTRACT_DATE = date(2026, 10, 31)
DEFAULT_SCALE = 0.02
# NHS ETHNIC CATEGORY letters to the five census groups; Z (not stated) and NULL are "Not stated".
ETHNICITY_GROUPS = {
    **dict.fromkeys("ABC", "White"),
    **dict.fromkeys("DEFG", "Mixed"),
    **dict.fromkeys("HJKL", "Asian"),
    **dict.fromkeys("MNP", "Black"),
    **dict.fromkeys("RS", "Other"),
}
NOT_STATED = "Not stated"
ARROW_TYPES = {"string": pa.string(), "date": pa.date32(), "double": pa.float64()}
# Inputs to the generator: a cached synthetic extract is reused only while these are unchanged.
GENERATOR_SOURCES = ("data/synthetic.py", "data/synthetic/**/*.py", "data/schema.py", "data/codelists/*.csv")

Progress = Callable[[str], None]


class GeneratorUnavailable(RuntimeError):
    """``data.synthetic`` is not importable (the generator has not landed)."""


def _timed(progress: Progress) -> Progress:
    """Prefix each progress message with the seconds elapsed since the first."""
    started = time.monotonic()

    def report(message: str) -> None:
        progress(f"[{time.monotonic() - started:7.1f}s] {message}")

    return report


def _silent(message: str) -> None:
    """A progress callable that says nothing (tests)."""


def load_reference_tables(con: duckdb.DuckDBPyConnection, reference_dir: Path = REFERENCE_DIR) -> None:
    """Load ``ref_*`` tables from the committed reference CSVs, columns exactly as in the files.

    Columns ending ``_code`` are read as text so that an all-digit code keeps its leading zeros.
    """
    for table, filename in REFERENCE_TABLES.items():
        path = reference_dir / filename
        with open(path, newline="", encoding="utf-8") as f:
            header = next(csv.reader(f))
        types = {name: "VARCHAR" for name in header if name.endswith("_code")}
        con.execute(
            f'CREATE OR REPLACE TABLE "{table}" AS SELECT * FROM read_csv(?, header = true, types = ?)',  # noqa: S608
            [str(path), types],
        )


def build_patient_dim(con: duckdb.DuckDBPyConnection) -> None:
    """One row per patient with derived ethnicity group, residence IMD and the practice's geography.

    ``borough_code``/``icb_code`` are the practice's (COVER and QOF count the registered
    population); ``residence_borough_code`` and the IMD columns come from the home LSOA
    and are NULL where it is unknown.
    """
    con.execute("CREATE OR REPLACE TEMP TABLE ethnicity_groups (ethnicity VARCHAR, ethnicity_group VARCHAR)")
    # Keep patients' on-disk order (practice, patient) instead of sorting again: at scale 1.0 a
    # second sort of 13 M wide rows doubled this step; practice order already clusters boroughs.
    con.execute("SET preserve_insertion_order = true")
    con.executemany("INSERT INTO ethnicity_groups VALUES (?, ?)", list(ETHNICITY_GROUPS.items()))
    con.execute(
        """
        CREATE OR REPLACE TABLE patient_dim AS
        SELECT p.patient_id, p.birth_date, p.sex, p.ethnicity,
               coalesce(g.ethnicity_group, $not_stated) AS ethnicity_group,
               p.lsoa21_code,
               l.borough_code AS residence_borough_code,
               l.imd2025_decile_national AS imd_decile_national,
               l.imd2025_quintile_national AS imd_quintile_national,
               l.imd2025_decile_london AS imd_decile_london,
               l.imd2025_quintile_london AS imd_quintile_london,
               p.practice_code, pr.pcn_code, pr.borough_code, pr.icb_code,
               p.registration_start, p.registration_end, p.death_date
        FROM patients AS p
        LEFT JOIN ethnicity_groups AS g ON g.ethnicity = p.ethnicity
        LEFT JOIN ref_lsoa21 AS l ON l.lsoa21_code = p.lsoa21_code
        LEFT JOIN ref_practices AS pr ON pr.practice_code = p.practice_code
        """,
        {"not_stated": NOT_STATED},
    )
    con.execute("SET preserve_insertion_order = false")
    con.execute("DROP TABLE ethnicity_groups")


def write_meta(con: duckdb.DuckDBPyConnection, values: Mapping[str, object]) -> None:
    """Write the ``meta`` key/value table (values as text, NULL where unknown)."""
    con.execute("CREATE OR REPLACE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.executemany("INSERT INTO meta VALUES (?, ?)", [(k, None if v is None else str(v)) for k, v in values.items()])


def run_materialise(con: duckdb.DuckDBPyConnection, extract_date: date, progress: Progress) -> bool:
    """Call ``queries.materialise.materialise(con, extract_date)`` if that module exists.

    Imported lazily: the engine is optional for the build, but once present any
    error in it fails the build.
    """
    try:
        spec = importlib.util.find_spec("queries.materialise")
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        progress("indicator engine (queries.materialise) not present: no materialised tables")
        return False
    materialise = importlib.import_module("queries.materialise").materialise
    accepts_progress = "progress" in inspect.signature(materialise).parameters
    materialise(con, extract_date, **({"progress": progress} if accepts_progress else {}))
    return True


def _remove_quietly(*paths: Path) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _process_running(pid: int) -> bool:
    """Whether a process with this id is running on this machine."""
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only whether the process exists is checked
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _locked(path: Path) -> bool:
    """Whether some process holds a lock on the file ``path`` (DuckDB locks a database it has open to write)."""
    try:
        with open(path, "rb+") as handle:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return False


def remove_leftovers(directory: Path, pattern: str, progress: Progress = _silent) -> list[str]:
    """Remove what builds that died part way left in ``directory``; return the names removed.

    ``pattern`` matches a leftover's whole name, its first group the id of the process that made it
    (``pathfinder.duckdb.tmp-4242``). A leftover is removed only when that process is not running and
    no process holds the file (or, for a ``.wal``, its database) locked: the lock also keeps the files of
    a build running in another container, whose process ids this one cannot see.
    """
    removed: list[str] = []
    if not directory.is_dir():
        return removed
    for path in sorted(directory.iterdir()):
        match = re.fullmatch(pattern, path.name)
        if match is None:
            continue
        pid = int(match.group(1))
        database = path.with_suffix("") if path.suffix == ".wal" else path
        if pid == os.getpid() or _process_running(pid) or (database.is_file() and _locked(database)):
            continue
        _remove_quietly(path)
        removed.append(path.name)
        progress(f"removed {path.name}, left by a build that stopped part way (process {pid})")
    return removed


def build_from_directory(
    extract_dir: str | Path,
    out: str | Path,
    *,
    extract_date: date,
    source: str = "extract",
    scale: float | None = None,
    seed: int | None = None,
    generator: str | None = None,
    progress: Progress = print,
    memory_limit: str = "6GB",
    threads: int = 2,
    materialise: bool = True,
) -> dict[str, int]:
    """Validate and load the extract in ``extract_dir`` and atomically replace ``out`` with the new database.

    Raises :class:`data.validate.ExtractValidationError` (with ``.problems``) if the
    extract breaks the contract; on that or any other failure ``out`` is untouched
    and the temporary file is removed. Returns the row count of each contract table.
    ``materialise=False`` skips the indicator engine (to time the load alone); the app
    needs its tables, so such a database is for measurement only. ``generator``: the fingerprint of the
    synthetic generator that wrote the extract (kept in ``meta`` for ``check --generator``).
    """
    out = Path(out)
    say = _timed(progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    # A killed build's database, WAL and spill folder (this build's own are named by its process id).
    remove_leftovers(out.parent, rf"{re.escape(out.name)}\.tmp-(\d+)(?:\.wal)?", say)
    remove_leftovers(out.parent, rf"\.{re.escape(out.name)}\.spill-(\d+)-.*", say)
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    spill_dir = Path(tempfile.mkdtemp(prefix=f".{out.name}.spill-{os.getpid()}-", dir=out.parent))
    _remove_quietly(tmp, Path(f"{tmp}.wal"))
    try:
        con = duckdb.connect(
            str(tmp),
            config={
                "memory_limit": memory_limit,
                "threads": threads,
                # Row order only matters where a table is explicitly sorted.
                "preserve_insertion_order": False,
                "temp_directory": str(spill_dir),
            },
        )
    except BaseException:
        _remove_quietly(tmp, spill_dir)
        raise
    try:
        say("loading reference tables")
        load_reference_tables(con)
        problems = load_and_validate(con, Path(extract_dir), extract_date, say)
        if problems:
            raise ExtractValidationError(problems)
        counts = {name: con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0] for name in TABLES}  # noqa: S608
        say("building patient_dim")
        build_patient_dim(con)
        write_meta(
            con,
            {
                "extract_date": extract_date.isoformat(),
                "source": source,
                "schema_version": SCHEMA_VERSION,
                META_KEY: BUILD_VERSION,
                "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "scale": scale,
                "seed": seed,
                "generator": generator,
                "indicators_materialised": False,
                **{f"rows_{name}": n for name, n in counts.items()},
            },
        )
        materialised = False
        if materialise:
            say("materialising indicators")
            materialised = run_materialise(con, extract_date, say)
            if materialised:
                say("indicators materialised")
        con.execute("UPDATE meta SET value = ? WHERE key = 'indicators_materialised'", [str(materialised)])
        say("checkpoint")
        con.execute("CHECKPOINT")
        con.close()
        # A WAL beside ``out`` (left by a process killed with the old database open to write) belongs to the
        # old database: DuckDB would refuse the new one, "WAL does not match database file".
        Path(f"{out}.wal").unlink(missing_ok=True)
        os.replace(tmp, out)
        say(f"built {out} ({out.stat().st_size / 1e6:,.1f} MB)")
        return counts
    except BaseException:
        con.close()
        _remove_quietly(tmp, Path(f"{tmp}.wal"))
        raise
    finally:
        _remove_quietly(spill_dir)


def write_frames(
    directory: str | Path, tables: Mapping[str, pd.DataFrame], *, fmt: str = "parquet", fill_missing: bool = False
) -> Path:
    """Write DataFrames as an extract folder (``<table>.parquet`` or ``<table>.csv``); returns the folder.

    With ``fill_missing`` every contract table not given is written empty with its
    contract columns, so a test only spells out the tables it is about.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    frames = dict(tables)
    if fill_missing:
        for name, table in TABLES.items():
            if name not in frames:
                schema = pa.schema([(c.name, ARROW_TYPES[c.dtype]) for c in table.columns])
                frames[name] = schema.empty_table().to_pandas()
    for name, frame in frames.items():
        if fmt == "parquet":
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), directory / f"{name}.parquet")
        elif fmt == "csv":
            frame.to_csv(directory / f"{name}.csv", index=False)
        else:
            raise ValueError(f"unknown format {fmt!r}: expected 'parquet' or 'csv'")
    return directory


def build_from_frames(
    tables: Mapping[str, pd.DataFrame],
    out: str | Path,
    *,
    extract_date: date,
    progress: Progress = _silent,
    fill_missing: bool = True,
) -> dict[str, int]:
    """Build ``out`` from in-memory tables through the same validated path as a real extract.

    Tables not given are empty (``fill_missing``), e.g.::

        build_from_frames({"patients": patients, "immunisations": jabs}, tmp_path / "t.duckdb",
                          extract_date=date(2026, 10, 31))
    """
    with tempfile.TemporaryDirectory(prefix="extract-frames-") as folder:
        write_frames(folder, tables, fill_missing=fill_missing)
        return build_from_directory(folder, out, extract_date=extract_date, progress=progress)


# A finished synthetic extract's record (generator fingerprint, scale, seed, extract date, row counts).
EXTRACT_MARKER = "_complete.json"


def _recorded_generator(folder: Path) -> str | None:
    """The fingerprint of the generator that wrote the finished extract in ``folder`` (None without one)."""
    marker = folder / EXTRACT_MARKER
    return json.loads(marker.read_text()).get("generator") if marker.is_file() else None


def _generator_fingerprint() -> str:
    digest = hashlib.sha256()
    for pattern in GENERATOR_SOURCES:
        for path in sorted(PROJECT_ROOT.glob(pattern)):
            digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def synthetic_extract(
    work_dir: Path,
    *,
    scale: float,
    seed: int,
    extract_date: date,
    progress: Progress = print,
    regenerate: bool = False,
) -> Path:
    """Write (or reuse) the synthetic extract for ``scale``/``seed``/``extract_date`` under ``work_dir``.

    A finished extract carries :data:`EXTRACT_MARKER`; it is reused while the generator's
    source is unchanged. A new one is written beside it and renamed into place.
    """
    try:
        synthetic = importlib.import_module("data.synthetic")
    except ModuleNotFoundError as error:
        if error.name != "data.synthetic":
            raise
        raise GeneratorUnavailable("generator not available: data/synthetic.py has not landed yet") from None
    if not hasattr(synthetic, "write_extract"):
        raise GeneratorUnavailable("generator not available: data.synthetic has no write_extract() yet")
    folder = work_dir / f"extract-s{scale:g}-seed{seed}-{extract_date.isoformat()}"
    fingerprint = _generator_fingerprint()
    if not regenerate and _recorded_generator(folder) == fingerprint:
        progress(f"reusing synthetic extract {folder}")
        return folder
    remove_leftovers(work_dir, rf"\.{re.escape(folder.name)}\.tmp-(\d+)", progress)  # a killed generator's
    partial = work_dir / f".{folder.name}.tmp-{os.getpid()}"
    _remove_quietly(partial)
    partial.mkdir(parents=True)
    try:
        progress(f"generating synthetic extract (scale {scale:g}, seed {seed})")
        counts = synthetic.write_extract(partial, scale=scale, seed=seed, extract_date=extract_date, progress=progress)
        (partial / EXTRACT_MARKER).write_text(
            json.dumps(
                {
                    "generator": fingerprint,
                    "scale": scale,
                    "seed": seed,
                    "extract_date": extract_date.isoformat(),
                    "rows": counts,
                },
                indent=1,
            )
        )
        _remove_quietly(folder)
        os.replace(partial, folder)
    except BaseException:
        _remove_quietly(partial)
        raise
    return folder


def rebuild_reason(path: str | Path, *, generator: bool = False) -> str | None:
    """Why the database at ``path`` must be (re)built before this code serves it; None when it is current.

    Missing, unreadable, or stamped with another build version (or none): see :mod:`data.build_version`.
    ``generator``: also when it was built from a synthetic extract that another version of the generator wrote
    (or one that left no fingerprint), so the default database follows the generator. A real extract's
    database never needs a rebuild for that.
    """
    path = Path(path)
    if not path.is_file():
        return f"No database at {path}."
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        return f"Cannot open the database {path}: {error}"
    try:
        problem = stale_build_problem(con, path)
        if problem is None and generator:
            meta = dict(con.execute("SELECT key, value FROM meta WHERE key IN ('source', 'generator')").fetchall())
            if meta.get("source") == "synthetic" and meta.get("generator") != _generator_fingerprint():
                problem = f"{path} holds synthetic data from another version of the generator (data/synthetic)."
        return problem
    finally:
        con.close()


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data.build", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    synthetic = commands.add_parser("synthetic", help="generate a synthetic extract and build from it")
    synthetic.add_argument("--scale", type=float, default=DEFAULT_SCALE, help="fraction of London (1.0 = 11 M)")
    synthetic.add_argument("--seed", type=int, default=1)
    synthetic.add_argument("--extract-date", type=_iso_date, default=DEFAULT_SYNTHETIC_EXTRACT_DATE)
    synthetic.add_argument("--work-dir", type=Path, help="where the extract is cached (default: beside --out)")
    synthetic.add_argument("--regenerate", action="store_true", help="ignore a cached extract")
    extract = commands.add_parser("extract", help="build from an extract folder (Parquet or CSV tables)")
    extract.add_argument("directory", type=Path)
    extract.add_argument("--extract-date", type=_iso_date, default=None, help="default: today")
    check = commands.add_parser(
        "check", help="exit 0 if the database was built by this code's build version, 1 if it must be rebuilt"
    )
    check.add_argument("--db", type=Path, default=DEFAULT_OUT)
    check.add_argument(
        "--generator",
        action="store_true",
        help="also 1 for synthetic data another version of the generator wrote (the default database)",
    )
    for command in (synthetic, extract):
        command.add_argument("--out", type=Path, default=DEFAULT_OUT)
        command.add_argument("--memory-limit", default="6GB", help="DuckDB memory_limit")
        command.add_argument("--threads", type=int, default=2)
        command.add_argument(
            "--skip-indicators", action="store_true", help="do not run queries.materialise (timing the load only)"
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    args = _parser().parse_args(argv)

    def to_stderr(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.command == "check":
        reason = rebuild_reason(args.db, generator=args.generator)
        if reason is not None:
            to_stderr(reason)
            return 1
        print(f"{args.db} is current (build version {BUILD_VERSION})")
        return 0
    progress = _timed(to_stderr)
    tuning = {"memory_limit": args.memory_limit, "threads": args.threads, "materialise": not args.skip_indicators}
    try:
        if args.command == "synthetic":
            work_dir = args.work_dir or args.out.parent
            folder = synthetic_extract(
                work_dir,
                scale=args.scale,
                seed=args.seed,
                extract_date=args.extract_date,
                progress=progress,
                regenerate=args.regenerate,
            )
            counts = build_from_directory(
                folder,
                args.out,
                extract_date=args.extract_date,
                source="synthetic",
                scale=args.scale,
                seed=args.seed,
                generator=_recorded_generator(folder),
                progress=to_stderr,
                **tuning,
            )
        else:
            extract_date = args.extract_date or date.today()
            counts = build_from_directory(
                args.directory, args.out, extract_date=extract_date, source="extract", progress=to_stderr, **tuning
            )
    except ExtractValidationError as error:
        to_stderr(str(error))
        to_stderr(f"Nothing was written; {args.out} is unchanged.")
        return 2
    except GeneratorUnavailable as error:
        to_stderr(str(error))
        return 1
    except OSError as error:
        to_stderr(f"Build failed: {error}")
        return 1
    except Exception:
        to_stderr(traceback.format_exc())
        to_stderr(f"Build failed; {args.out} is unchanged.")
        return 1
    to_stderr("rows: " + ", ".join(f"{name} {n:,}" for name, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
