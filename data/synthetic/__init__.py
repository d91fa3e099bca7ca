"""Seeded, vectorised synthetic linked extract for London (no real patient data).

``write_extract(out_dir, scale=, seed=, extract_date=)`` writes every table of the contract in
``data/schema.py`` as Parquet part files, ``out_dir/<table>/part-NNNNN.parquet``, one per chunk of
practices. Chunk i draws from its own child seed (``SeedSequence(seed).spawn``), and everything
shared across chunks (patients per practice, practice effects, the id key) from child 0, so the
same seed and scale give byte-identical files. Parameters and their sources: data/README.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from data.schema import TABLES
from data.synthetic import asthma, cancer, hospital, hypertension, immunisations
from data.synthetic._common import (
    CLINICAL_CODES,
    DAYS_PER_YEAR,
    EventBatch,
    dates,
    day_number,
    doubles,
    hex_ids,
    mix40,
    strings,
)
from data.synthetic.population import LETTER_NULL, LETTERS, draw_cohort, load_reference, patients_per_practice

__all__ = ["write_extract", "DEFAULT_EXTRACT_DATE", "DEFAULT_SCALE", "DEFAULT_SEED"]

DEFAULT_EXTRACT_DATE = date(2026, 10, 31)
DEFAULT_SCALE = 0.02
DEFAULT_SEED = 20261031
HISTORY_YEARS = 6  # recurring events (readings, reviews) are generated from this far back
CHUNK_PATIENTS = 500_000  # patients per chunk: bounds peak memory at any scale
PARQUET_COMPRESSION = "zstd"

# Practice-level random effects: standard deviation on the logit (or log) scale of each process.
PRACTICE_EFFECT_SD = {
    "immunisation": 0.35,
    "hypertension_detection": 0.35,
    "bp_recording": 0.45,
    "bp_control": 0.30,
    "asthma_review": 0.55,
    "action_plan": 0.60,
    "objective_test": 0.60,
    "saba_reliance": 0.20,
    "cancer_referral": 0.20,
    "fds_speed": 0.30,
}


def write_extract(
    out_dir: Path,
    *,
    scale: float = DEFAULT_SCALE,
    seed: int = DEFAULT_SEED,
    extract_date: date = DEFAULT_EXTRACT_DATE,
    progress: Callable[[str], object] = print,
) -> dict[str, int]:
    """Generate the synthetic extract and write it under ``out_dir``; return rows per table."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    out_dir = Path(out_dir)
    started = time.perf_counter()
    ref = load_reference()
    seeds = np.random.SeedSequence(seed)
    shared_rng = np.random.Generator(np.random.PCG64(seeds.spawn(1)[0]))

    counts = patients_per_practice(shared_rng, ref, scale)
    effects = {name: shared_rng.normal(0.0, sd, len(counts)) for name, sd in PRACTICE_EFFECT_SD.items()}
    id_key = (int(shared_rng.integers(1 << 38)) * 2 + 1, int(shared_rng.integers(1 << 40)))

    chunks = chunk_practices(counts, CHUNK_PATIENTS)
    chunk_seeds = np.random.SeedSequence(seed).spawn(len(chunks) + 1)[1:]
    _clear_parts(out_dir)
    extract_day = day_number(extract_date)
    history_start = extract_day - int(HISTORY_YEARS * DAYS_PER_YEAR)
    rows = dict.fromkeys(TABLES, 0)
    patient_offset = 0
    for index, practice_rows in enumerate(chunks):
        rng = np.random.Generator(np.random.PCG64(chunk_seeds[index]))
        cohort = draw_cohort(rng, ref, practice_rows, counts[practice_rows], extract_day)
        patient_ids = hex_ids("P", mix40(np.arange(cohort.size) + patient_offset, *id_key))
        tables = generate_chunk(rng, cohort, effects, history_start, index)
        tables["patients"] = patients_table(cohort, patient_ids)
        for name, table in tables.items():
            if name != "patients":
                at = table.schema.get_field_index("patient_id")
                table = table.set_column(at, "patient_id", patient_ids.take(table.column(at).combine_chunks()))
            table = table.select(list(TABLES[name].column_names))
            (out_dir / name).mkdir(parents=True, exist_ok=True)
            pq.write_table(table, out_dir / name / f"part-{index:05d}.parquet", compression=PARQUET_COMPRESSION)
            rows[name] += table.num_rows
        patient_offset += cohort.size
        progress(
            f"synthetic chunk {index + 1}/{len(chunks)}: {cohort.size:,} patients "
            f"({time.perf_counter() - started:.1f} s)"
        )
    return rows


def chunk_practices(counts: np.ndarray, target: int) -> list[np.ndarray]:
    """Contiguous runs of practice rows holding about ``target`` patients each."""
    bounds = np.searchsorted(np.cumsum(counts), np.arange(target, counts.sum(), target), side="right")
    edges = np.unique(np.concatenate([[0], bounds, [len(counts)]]))
    return [np.arange(lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True) if hi > lo]


def _clear_parts(out_dir: Path) -> None:
    """Remove part files a previous run left behind (it may have had more chunks)."""
    for name in TABLES:
        for old in (out_dir / name).glob("part-*.parquet"):
            old.unlink()
        single = out_dir / f"{name}.parquet"
        if single.exists():
            single.unlink()


def generate_chunk(
    rng: np.random.Generator, cohort, effects: dict[str, np.ndarray], history_start: int, chunk_index: int
) -> dict[str, pa.Table]:
    """Every event table for one chunk; the first column holds local patient numbers.

    Each pathfinder draws from a random stream of its own, spawned from the chunk's: a change to how one of them
    is generated (how many numbers it draws) leaves every other table as it was, so its calibration, and the
    tests that read it, stand.
    """
    streams = dict(zip(("immunisation", "hypertension", "asthma", "cancer", "hospital"), rng.spawn(5), strict=True))
    vaccines = immunisations.generate(streams["immunisation"], cohort, effects["immunisation"], history_start)
    bp = hypertension.generate(streams["hypertension"], cohort, effects, history_start)
    asthma_events, asthma_medications, asthma_admissions = asthma.generate(
        streams["asthma"], cohort, effects, history_start
    )
    pathways, registrations, cancer_admissions = cancer.generate(streams["cancer"], cohort, effects, chunk_index)
    background = hospital.background_admissions(streams["hospital"], cohort, hypertensive=bp.hypertensive)

    events = EventBatch()
    for batch in (bp.events, asthma_events):
        events.add(**{k: batch.column(k) for k in ("patient", "day", "code", "value")})
    admissions = EventBatch()
    for batch in (asthma_admissions, cancer_admissions, background):
        admissions.add(**{k: batch.column(k) for k in ("patient", "day", "discharge", "method", "diagnosis")})

    return {
        "immunisations": _sorted(
            {
                "patient_id": vaccines.patient,
                "vaccination_date": dates(vaccines.day),
                "vaccine": strings(immunisations.VACCINES, vaccines.vaccine),
                "snomed_code": strings(immunisations.SNOMED_CODES, vaccines.snomed, vaccines.snomed == 0),
            },
            vaccines.patient,
            vaccines.day,
        ),
        "clinical_events": _sorted(
            {
                "patient_id": events.column("patient"),
                "event_date": dates(events.column("day")),
                "snomed_code": strings(CLINICAL_CODES, events.column("code")),
                "value": doubles(events.column("value")),
            },
            events.column("patient"),
            events.column("day"),
        ),
        "medications": _sorted(
            {
                "patient_id": asthma_medications.column("patient"),
                "issue_date": dates(asthma_medications.column("day")),
                "dmd_code": strings(asthma.DMD_CODES, asthma_medications.column("product")),
                "bnf_code": strings(asthma.BNF_CODES, asthma_medications.column("product")),
                "quantity": doubles(asthma_medications.column("quantity")),
            },
            asthma_medications.column("patient"),
            asthma_medications.column("day"),
        ),
        "hospital_episodes": _sorted(
            {
                "patient_id": admissions.column("patient"),
                "admission_date": dates(admissions.column("day")),
                "discharge_date": dates(admissions.column("discharge"), admissions.column("discharge") < 0),
                "provider_code": strings(
                    cohort.ref.trusts,
                    cohort.ref.borough_trust[cohort.residence_borough[admissions.column("patient").astype(np.int64)]],
                ),
                "admission_method": strings(hospital.ADMISSION_METHODS, admissions.column("method")),
                "primary_diagnosis": strings(hospital.DIAGNOSES, admissions.column("diagnosis")),
            },
            admissions.column("patient"),
            admissions.column("day"),
        ),
        "cancer_pathways": pathways,
        "cancer_registrations": registrations,
    }


def _sorted(columns: dict[str, object], patient: np.ndarray, day: np.ndarray) -> pa.Table:
    """A table of the columns, rows ordered by patient then date (stable, so deterministic)."""
    order = np.lexsort((day, patient))
    columns = dict(columns)
    columns[next(iter(columns))] = pa.array(np.asarray(patient, dtype=np.int64))
    return pa.table(columns).take(pa.array(order))


def patients_table(cohort, patient_ids: pa.Array) -> pa.Table:
    """The patients table for one chunk."""
    ref = cohort.ref
    return pa.table(
        {
            "patient_id": patient_ids,
            "birth_date": dates(cohort.birth),
            "sex": strings(("F", "M", "U"), cohort.sex),
            "ethnicity": strings(LETTERS + ("",), cohort.letter, cohort.letter == LETTER_NULL),
            "lsoa21_code": strings(tuple(ref.lsoas["lsoa21_code"]), np.maximum(cohort.lsoa, 0), cohort.lsoa < 0),
            "practice_code": strings(tuple(ref.practices["practice_code"]), cohort.practice),
            "registration_start": dates(cohort.reg_start),
            "registration_end": dates(cohort.reg_end, cohort.reg_end < 0),
            "death_date": dates(cohort.death, cohort.death < 0),
        }
    )
