"""Shared helpers for the synthetic generator: day arithmetic, seeded draws, event batches.

Dates are held as int32 days since 1970-01-01 (the Arrow ``date32`` representation) so every
date calculation is a vectorised integer operation and converts to Parquet without copying.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DAYS_PER_YEAR = 365.25
EPOCH = date(1970, 1, 1)


def day_number(d: date) -> int:
    """Days since 1970-01-01 of a calendar date."""
    return (d - EPOCH).days


def years_to_days(years) -> np.ndarray:
    """Whole days in a (possibly fractional) number of years."""
    return np.floor(np.asarray(years, dtype=np.float64) * DAYS_PER_YEAR).astype(np.int64)


def logistic(x):
    """The inverse logit."""
    return 1.0 / (1.0 + np.exp(-x))


def logit(p):
    """The log-odds of a probability."""
    p = np.asarray(p, dtype=np.float64)
    return np.log(p / (1.0 - p))


def uniform_dates(rng: np.random.Generator, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """One date drawn uniformly from each inclusive window [start, end] (end >= start)."""
    span = (end - start + 1).astype(np.float64)
    return start + np.floor(rng.random(len(start)) * span).astype(np.int64)


def poisson_dates(
    rng: np.random.Generator, start: np.ndarray, end: np.ndarray, rate_per_year: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """A Poisson process of dates within each row's window [start, end].

    Returns (row index repeated once per event, event date). Rows with end < start get no events.
    """
    span = np.maximum(end - start + 1, 0)
    counts = rng.poisson(np.asarray(rate_per_year, dtype=np.float64) * span / DAYS_PER_YEAR)
    rows = np.repeat(np.arange(len(start)), counts)
    return rows, uniform_dates(rng, start[rows], end[rows])


def choose(rng: np.random.Generator, n: int, weights) -> np.ndarray:
    """n indices drawn with the given (unnormalised) weights."""
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    return np.searchsorted(cdf / cdf[-1], rng.random(n), side="right").astype(np.int64)


def choose_rows(rng: np.random.Generator, cdf_rows: np.ndarray) -> np.ndarray:
    """One column index per row of a matrix of per-row cumulative probabilities (last column 1)."""
    u = rng.random(cdf_rows.shape[0])
    return np.minimum((cdf_rows < u[:, None]).sum(axis=1), cdf_rows.shape[1] - 1)


def mix40(values: np.ndarray, multiplier: int, offset: int) -> np.ndarray:
    """A keyed bijection on 40-bit integers: distinct inputs give distinct, scattered outputs."""
    mask = np.uint64((1 << 40) - 1)
    x = values.astype(np.uint64)
    for _ in range(2):
        x = (x * np.uint64(multiplier) + np.uint64(offset)) & mask  # multiplier is odd: invertible mod 2^40
        x ^= x >> np.uint64(19)  # xor-shift is invertible too
    return x


def hex_ids(prefix: str, values: np.ndarray, digits: int = 10) -> pa.StringArray:
    """Strings ``prefix`` + fixed-width upper-case hex, built straight into an Arrow buffer."""
    lut = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
    shifts = np.arange(digits - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    nibbles = (values.astype(np.uint64)[:, None] >> shifts) & np.uint64(0xF)
    width = len(prefix) + digits
    chars = np.empty((len(values), width), dtype=np.uint8)
    chars[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    chars[:, len(prefix) :] = lut[nibbles.astype(np.int64)]
    offsets = np.arange(0, width * len(values) + 1, width, dtype=np.int32)
    return pa.StringArray.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(chars.tobytes()))


def strings(vocabulary, index: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """Arrow strings from integer indices into a vocabulary (null where ``null`` is True)."""
    values = pc.take(pa.array(list(vocabulary), type=pa.string()), pa.array(index.astype(np.int32)))
    if null is not None and null.any():
        values = pc.if_else(pa.array(null), pa.scalar(None, pa.string()), values)
    return values


def dates(days: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """Arrow date32 from day numbers (null where ``null`` is True)."""
    return pa.array(days.astype(np.int32), type=pa.date32(), mask=null)


def doubles(values: np.ndarray) -> pa.Array:
    """Arrow float64 with NaN as null."""
    values = np.asarray(values, dtype=np.float64)
    return pa.array(values, type=pa.float64(), mask=np.isnan(values))


@dataclass
class EventBatch:
    """Rows for one event table, as parallel arrays, accumulated then concatenated."""

    parts: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, **columns: np.ndarray) -> None:
        """Append equal-length column arrays."""
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1:
            raise ValueError(f"columns of unequal length: {lengths}")
        for name, values in columns.items():
            self.parts.setdefault(name, []).append(np.asarray(values))

    def column(self, name: str) -> np.ndarray:
        """The concatenation of every array added under ``name``."""
        return np.concatenate(self.parts[name]) if name in self.parts else np.empty(0)


def _clinical_vocabulary() -> tuple[str, ...]:
    from data.codelists import codes

    names = (
        "hyp_cod", "hypres_cod", "systolic_bp_clinic", "diastolic_bp_clinic", "systolic_bp_home",
        "diastolic_bp_home", "ast_cod", "astres_cod", "rev_cod", "writpastp_cod", "asthma_objective_test",
    )  # fmt: skip
    seen: dict[str, None] = {}
    for name in names:
        seen.update(dict.fromkeys(codes(name)))
    return tuple(seen)


# Every SNOMED code the generator writes to clinical_events, read from data/codelists.
CLINICAL_CODES = _clinical_vocabulary()


def clinical_code(code: str) -> int:
    """Index of a SNOMED code in CLINICAL_CODES."""
    return CLINICAL_CODES.index(code)


def band_value(edges: np.ndarray, values: np.ndarray, x) -> np.ndarray:
    """Per-band value for each x, where band i covers [edges[i], edges[i + 1])."""
    return np.asarray(values)[np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(values) - 1)]
