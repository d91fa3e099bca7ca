"""Statistical disclosure control: the one place aggregates are made safe for restricted roles.

The NHS England secondary-care rule (HES/ECDS from Sept 2018, docs/clinical-indicators.md
§6.2, [NHSD-HES-SDC]): 0 stays 0; counts 1-7 are suppressed; every other count is
rounded to the nearest 5. Derived statistics (percentages, intervals, comparisons)
are computed from unrounded counts but hidden when a count they rest on is
suppressed. Suppression is explicit (``None`` plus a ``suppressed`` flag), never 0:
a row's flag when its numerator or denominator is hidden, and ``<column>_suppressed``
for a count of its own (e.g. patients to target) hidden in a row that is shown.

Derived numbers leave rounded to the decimals the product shows them with (``decimals``:
1 for a percentage, 2 for a ratio): at full precision a percentage and its interval, with the
rounded counts beside them, gave the exact numerator and denominator back (a privacy review
recovered 1,154 of 1,155 practices' hypertension register counts that way). The statistics
themselves (intervals, comparisons, funnels, SPC) are computed before, from unrounded counts.

Applied at every level, London included (London is sub-national). Roles entitled
to raw values skip this module; the caller decides which applies.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

SUPPRESS_UP_TO = 7
ROUND_TO = 5


def disclose_count(count: float | None) -> float | None:
    """One count under the rule: None (suppressed) for 1-7, else rounded half-up to the nearest 5.

    Non-integer counts (an expected number of cases) are rounded to a whole number first.
    """
    if count is None or (isinstance(count, float) and math.isnan(count)):
        return None
    whole = math.floor(float(count) + 0.5)
    if whole == 0:
        return 0
    if 1 <= whole <= SUPPRESS_UP_TO:
        return None
    return float(ROUND_TO * math.floor(whole / ROUND_TO + 0.5))


def is_suppressed(count: float | None) -> bool:
    """Whether ``count`` would be suppressed (it is 1-7 after rounding to a whole number)."""
    if count is None or (isinstance(count, float) and math.isnan(count)):
        return False
    return 1 <= math.floor(float(count) + 0.5) <= SUPPRESS_UP_TO


def disclose_array(counts) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`disclose_count`: (disclosed values as float with NaN where hidden, suppressed mask)."""
    values = _as_float(counts)
    whole = np.floor(values + 0.5)
    suppressed = (whole >= 1) & (whole <= SUPPRESS_UP_TO)
    rounded = np.where(whole == 0, 0.0, ROUND_TO * np.floor(whole / ROUND_TO + 0.5))
    rounded[suppressed | np.isnan(values)] = np.nan
    return rounded, suppressed


def _as_float(counts) -> np.ndarray:
    values = np.asarray(counts)
    if values.dtype == object:  # None for a missing count: NaN
        # Compared with None in one array operation: a Python loop over the rows cost more than the rule.
        missing = np.equal(values, None)
        if missing.any():
            values = np.where(missing, np.nan, values)
    return values.astype(float)


def _hidden_flags(disclosed: np.ndarray, own_suppressed: np.ndarray, row_suppressed: np.ndarray) -> np.ndarray:
    """Where a count that had a value is hidden: suppressed itself (1-7), or shown on its own but in a
    suppressed row (``disclosed``: :func:`disclose_array`'s values, NaN where missing or suppressed)."""
    return own_suppressed | (row_suppressed & ~np.isnan(disclosed))


def _as_object(values: np.ndarray) -> np.ndarray:
    out = values.astype(object)
    out[np.isnan(values)] = None
    return out


def shown_figures(values, decimals: int) -> np.ndarray:
    """``values`` as shown: numbers rounded to ``decimals`` places; None, NaN and words (a comparison,
    a funnel class) unchanged. A float array stays float; anything else comes back as objects."""
    array = np.asarray(values)
    if array.dtype.kind == "f":
        return np.round(array, decimals)
    if array.dtype.kind in "iub" or array.dtype != object:
        return array
    if pd.api.types.infer_dtype(array, skipna=True) not in ("floating", "integer", "mixed-integer-float"):
        return array
    numbers = pd.to_numeric(pd.Series(array), errors="coerce").to_numpy(dtype=float)
    rounded = array.copy()
    finite = np.isfinite(numbers)
    rounded[finite] = np.round(numbers[finite], decimals)
    return rounded


def _decimals_of(decimals: int | Mapping[str, int] | None, derived: list[str]) -> dict[str, int]:
    """Each derived column's decimals; refusing none, so that no new caller sends full precision by default."""
    if not derived:
        return {}
    if decimals is None:
        raise ValueError("disclosure: say how many decimals the derived columns are shown with (decimals=)")
    if isinstance(decimals, int):
        return dict.fromkeys(derived, decimals)
    missing = [column for column in derived if column not in decimals]
    if missing:
        raise ValueError(f"disclosure: no decimals for {', '.join(missing)}")
    return dict(decimals)


def apply(
    frame: pd.DataFrame,
    *,
    counts: Iterable[str] = ("numerator", "denominator"),
    basis: Iterable[str] = ("numerator", "denominator"),
    other_counts: Iterable[str] = (),
    derived: Iterable[str] = (),
    decimals: int | Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Return a copy of ``frame`` safe for a restricted role.

    ``counts`` and ``other_counts`` are disclosed with :func:`disclose_count`;
    a row is ``suppressed`` when any ``basis`` count is 1-7, and then every
    ``derived`` column (value, intervals, comparison, ...) and every
    ``other_counts`` column is set to None for that row. Hidden values are None, never 0.
    Each ``other_counts`` column gets a ``<column>_suppressed`` flag: True where a value
    it had is hidden (its own 1-7, or its row's suppression); a missing value stays unflagged.
    Numbers in ``derived`` columns are rounded to ``decimals`` (one for all, or per column;
    required when there are derived columns): see :func:`shown_figures`.
    """
    counts, basis, other_counts, derived = list(counts), list(basis), list(other_counts), list(derived)
    places = _decimals_of(decimals, derived)
    safe = frame.copy()
    suppressed = np.zeros(len(safe), dtype=bool)
    for column in basis:
        suppressed |= disclose_array(safe[column])[1]
    for column in counts + other_counts:
        disclosed, own = disclose_array(safe[column])
        if column in other_counts:
            safe[f"{column}_suppressed"] = _hidden_flags(disclosed, own, suppressed)
            disclosed[suppressed] = np.nan
        safe[column] = pd.Series(_as_object(disclosed), index=safe.index, dtype=object)
    for column in derived:
        hidden = np.asarray(shown_figures(safe[column].to_numpy(), places[column]), dtype=object).copy()
        hidden[suppressed] = None
        safe[column] = pd.Series(hidden, index=safe.index, dtype=object)
    previous = safe["suppressed"].fillna(False).to_numpy(dtype=bool) if "suppressed" in safe else False
    safe["suppressed"] = suppressed | previous
    return safe


def apply_arrays(
    columns: dict[str, np.ndarray],
    *,
    counts: Iterable[str] = ("numerator", "denominator"),
    basis: Iterable[str] = ("numerator", "denominator"),
    other_counts: Iterable[str] = (),
    derived: Iterable[str] = (),
    decimals: int | Mapping[str, int] | None = None,
) -> dict[str, np.ndarray]:
    """:func:`apply` on a dict of equal-length arrays (the fast path used by the API); returns a new dict."""
    counts, basis, other_counts, derived = list(counts), list(basis), list(other_counts), list(derived)
    places = _decimals_of(decimals, derived)
    safe = dict(columns)
    length = len(next(iter(columns.values())))
    disclosed_counts = {
        column: disclose_array(columns[column]) for column in dict.fromkeys(basis + counts + other_counts)
    }
    suppressed = np.zeros(length, dtype=bool)
    for column in basis:
        suppressed |= disclosed_counts[column][1]
    for column in counts + other_counts:
        disclosed, own = disclosed_counts[column]
        if column in other_counts:
            safe[f"{column}_suppressed"] = _hidden_flags(disclosed, own, suppressed)
            disclosed = np.where(suppressed, np.nan, disclosed)
        safe[column] = _as_object(disclosed)
    for column in derived:
        hidden = np.array(shown_figures(columns[column], places[column]), dtype=object)  # a copy: set below
        hidden[suppressed] = None
        safe[column] = hidden
    previous = np.asarray(columns.get("suppressed", np.zeros(length, dtype=bool)), dtype=bool)
    safe["suppressed"] = suppressed | previous
    return safe


def funnel_basis(
    p0: float, shown_denominators, *, london_suppressed: bool, scale: float, decimals: int
) -> tuple[float, float]:
    """(centre, largest denominator) a restricted role's funnel limits may be drawn from.

    The limits are a function of their centre and of the denominators they span, so drawn from exact
    figures they give them back: the grid ended at the largest area's exact count, and the curves at full
    precision gave London's exact proportion (a privacy review read both off a chart's JSON). The centre is
    London's value as shown (rounded to ``decimals`` in the indicator's unit, ``scale`` per proportion) and
    the grid ends at the largest denominator shown (``shown_denominators``, already disclosed). NaN centre,
    nothing to draw, when London's counts are suppressed or no area's denominator is shown.
    """
    shown = pd.to_numeric(pd.Series(shown_denominators, dtype=object), errors="coerce")
    top = float(shown.max()) if shown.notna().any() else math.nan
    if london_suppressed or not math.isfinite(p0) or not top > 0:
        return math.nan, 1.0
    return round(p0 * scale, decimals) / scale, top
