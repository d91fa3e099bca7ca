"""Statistics for indicator values: each area's value, intervals, comparison and people to target
(:func:`area_statistics`, the one implementation every page's numbers use), funnel limits, inequality, SPC.

Built on statsmodels and scipy; nothing here touches the database, so every
function is a pure function of counts and is unit-tested against known values.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats
from statsmodels.stats.proportion import confint_proportions_2indep

# Normal quantiles of the two interval levels every page shows, computed once: asking scipy for them on every
# call (as statsmodels' proportion_confint does) cost more than the interval arithmetic itself.
_Z = {level: float(scipy_stats.norm.isf((1 - level) / 2)) for level in (0.95, 0.998)}


def wilson_interval(numerator, denominator, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for proportions (arrays in, arrays out); NaN where the denominator is 0.

    The closed form (Newcombe 1998, method 3): statsmodels' ``proportion_confint(method="wilson")`` to
    rounding (a unit test holds the two equal), without its quantile lookup on every call. Clipped to
    [0, 1] as statsmodels clips it: rounding put 0 of 21 at -1e-17, shown as -0.0 %.
    """
    z = _Z[level] if level in _Z else float(scipy_stats.norm.isf((1 - level) / 2))
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = numerator / denominator
        z2n = z * z / denominator
        centre = (p + z2n / 2) / (1 + z2n)
        half = z * np.sqrt(p * (1 - p) / denominator + z2n / (4 * denominator)) / (1 + z2n)
    valid = denominator > 0
    return (
        np.where(valid, np.clip(centre - half, 0.0, 1.0), np.nan),
        np.where(valid, np.clip(centre + half, 0.0, 1.0), np.nan),
    )


def poisson_ratio_interval(observed, expected, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) Poisson interval for observed / expected, as for a standardised ratio."""
    observed = np.asarray(observed, dtype=float)
    expected = np.asarray(expected, dtype=float)
    alpha = 1 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        low_count = np.where(observed > 0, scipy_stats.chi2.ppf(alpha / 2, 2 * observed) / 2, 0.0)
        high_count = scipy_stats.chi2.ppf(1 - alpha / 2, 2 * (observed + 1)) / 2
        low = np.where(expected > 0, low_count / expected, np.nan)
        high = np.where(expected > 0, high_count / expected, np.nan)
    return low, high


def scaled_rate(numerator, denominator, scale: float) -> np.ndarray:
    """``numerator / denominator`` times ``scale`` (100 for a percentage, 1 for a ratio, 100,000 for a rate
    per 100,000); NaN where the denominator is not positive. Scalars in give a 0-d array."""
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan) * scale


POLARITIES = ("high", "low", "none")


def compare_with_benchmark(low, high, benchmark, denominator, *, polarity: str) -> np.ndarray:
    """``better`` / ``similar`` / ``worse`` than ``benchmark`` by each interval (``low``, ``high``) and the polarity.

    An interval wholly above the benchmark is better when high is good (``polarity="high"``) and worse
    when low is; one wholly below, the other way round; one that holds it, similar. ``not compared``
    for every row when the polarity is ``none``, and for each row whose benchmark is NaN or that has no
    denominator or interval. ``benchmark``: one value for every row, or an array of one a row.
    """
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {', '.join(POLARITIES)}, got {polarity!r}")
    low = np.asarray(low, dtype=float)
    high = np.asarray(high, dtype=float)
    benchmark = np.asarray(benchmark, dtype=float)
    if polarity == "none" or np.isnan(benchmark).all():
        return np.full(len(low), "not compared", dtype=object)
    high_good = polarity == "high"
    # Words set straight into an object array: np.select made a fixed-width text array, and converting
    # it to objects cost as much as the comparison. Above is set last, so it wins as np.select's first case.
    result = np.full(len(low), "similar", dtype=object)
    result[high < benchmark] = "worse" if high_good else "better"
    result[low > benchmark] = "better" if high_good else "worse"
    result[~(np.asarray(denominator, dtype=float) > 0) | np.isnan(low) | np.isnan(high) | np.isnan(benchmark)] = (
        "not compared"
    )
    return result


def shortfall_to_target(numerator, denominator, target_share: float) -> np.ndarray:
    """How many more in each numerator would lift it to ``target_share`` (0.95 for 95 %) of its denominator:
    0 where the target is met, NaN where there is no denominator.

    The gap is rounded to 9 places before it is rounded up: 0.77 x 300 is 231.00000000000003 in floating
    point, and 231 of 300 meets 77 %.
    """
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    gap = np.ceil(np.round(target_share * denominator - numerator, 9))
    return np.where(denominator > 0, np.maximum(gap, 0.0), np.nan)


# The intervals :func:`area_statistics` can give: a proportion's, and an observed / expected ratio's.
INTERVALS = {"wilson": wilson_interval, "poisson": poisson_ratio_interval}


def area_statistics(
    numerator,
    denominator,
    *,
    scale: float,
    polarity: str,
    benchmark=math.nan,
    target: float | None = None,
    interval: str = "wilson",
) -> dict[str, np.ndarray]:
    """The statistics every area's row carries, from its unrounded counts: one array per column.

    - ``value``: numerator / denominator x ``scale`` (:func:`scaled_rate`); NaN without a denominator;
    - ``ci_low``/``ci_high`` and ``ci99_low``/``ci99_high``: the 95 % and 99.8 % intervals, in the same
      unit: ``interval="wilson"`` for a proportion, ``"poisson"`` for an observed / expected ratio;
    - ``comparison``: against ``benchmark`` (London's value in the same unit, one for all rows or one a
      row; NaN: not compared) by the
      95 % interval and ``polarity`` (:func:`compare_with_benchmark`);
    - ``patients_to_target``: more people in the numerator to reach ``target`` (in the value's unit, 95.0
      = 95 % at scale 100) as :func:`shortfall_to_target`, for a high-is-good measure with a target;
      None otherwise, and None where there is no denominator.
    """
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, got {interval!r}")
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    low95, high95 = INTERVALS[interval](numerator, denominator, 0.95)
    low998, high998 = INTERVALS[interval](numerator, denominator, 0.998)
    columns = {
        "value": scaled_rate(numerator, denominator, scale),
        "ci_low": low95 * scale,
        "ci_high": high95 * scale,
        "ci99_low": low998 * scale,
        "ci99_high": high998 * scale,
    }
    columns["comparison"] = compare_with_benchmark(
        columns["ci_low"], columns["ci_high"], benchmark, denominator, polarity=polarity
    )
    if target is None or polarity != "high":
        columns["patients_to_target"] = np.full(len(numerator), None, dtype=object)
    else:
        needed = shortfall_to_target(numerator, denominator, target / scale).astype(object)
        needed[~(denominator > 0)] = None
        columns["patients_to_target"] = needed
    return columns


def binomial_funnel_limit(denominator, p0: float, probability: float) -> np.ndarray:
    """Exact binomial control limit at ``probability`` around ``p0``, interpolated (Spiegelhalter 2005).

    For a lower 99.8 % limit pass probability 0.001, for the upper 0.999.
    """
    n = np.asarray(denominator, dtype=float)
    r = scipy_stats.binom.ppf(probability, n, p0)
    cdf_r = scipy_stats.binom.cdf(r, n, p0)
    cdf_below = scipy_stats.binom.cdf(r - 1, n, p0)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(cdf_r > cdf_below, (cdf_r - probability) / (cdf_r - cdf_below), 0.0)
        limit = np.where(n > 0, (r - alpha) / n, np.nan)
    return np.clip(limit, 0.0, 1.0)


# The tail probabilities of a funnel's limits: lower 99.8 %, lower 95 %, upper 95 %, upper 99.8 %.
FUNNEL_PROBABILITIES = (0.001, 0.025, 0.975, 0.999)


def binomial_funnel_bounds(denominator, p0: float) -> dict[float, np.ndarray]:
    """Each denominator's binomial limits around ``p0`` at every :data:`FUNNEL_PROBABILITIES` (as proportions)."""
    return {q: binomial_funnel_limit(denominator, p0, q) for q in FUNNEL_PROBABILITIES}


def funnel_class(proportion, denominator, bounds: dict[float, np.ndarray]) -> np.ndarray:
    """Where each point falls in a funnel plot: ``above 99.8``, ``above 95``, ``within``, ``below 95`` or
    ``below 99.8``; None where it has no denominator.

    ``bounds``: the limits for each point's denominator at :data:`FUNNEL_PROBABILITIES`, in the unit of
    ``proportion`` (:func:`binomial_funnel_bounds`, or Poisson limits for a ratio). A point beyond its
    99.8 % limit is classed by that, not by the 95 % one it also passes.
    """
    proportion = np.asarray(proportion, dtype=float)
    classes = np.select(
        [
            proportion > bounds[0.999],
            proportion > bounds[0.975],
            proportion < bounds[0.001],
            proportion < bounds[0.025],
        ],
        ["above 99.8", "above 95", "below 99.8", "below 95"],
        default="within",
    ).astype(object)
    classes[np.asarray(denominator, dtype=float) <= 0] = None
    return classes


def funnel_limits_table(p0: float, max_denominator: float, points: int = 200) -> pd.DataFrame:
    """Funnel-plot limits (95 % and 99.8 %) around ``p0`` for denominators from 1 to ``max_denominator``."""
    top = max(int(math.ceil(max_denominator)), 2)
    grid = np.unique(np.round(np.geomspace(1, top, num=points)).astype(int))
    bounds = binomial_funnel_bounds(grid, p0)
    return pd.DataFrame(
        {
            "denominator": grid,
            "lower_95": bounds[0.025],
            "upper_95": bounds[0.975],
            "lower_998": bounds[0.001],
            "upper_998": bounds[0.999],
        }
    )


def ridit_scores(populations) -> np.ndarray:
    """Mid-point cumulative population share of each ordered group (0 = first group's start, 1 = last's end).

    Along the last axis: a 2-D array gives each row's scores.
    """
    populations = np.asarray(populations, dtype=float)
    total = populations.sum(axis=-1, keepdims=True)
    return (np.cumsum(populations, axis=-1) - populations / 2) / total


def slope_indices_of_inequality(values, populations) -> dict[str, np.ndarray]:
    """SII and RII of ``values`` over groups ordered from most to least deprived, for many areas at once.

    ``values`` and ``populations`` are 2-D (one row per area, columns the groups ordered from
    most to least deprived). Each row is a population-weighted least squares of value on ridit
    score, solved in closed form (slope = weighted covariance / weighted variance; its 95 %
    interval from the residual variance on n - 2 degrees of freedom, Student's t): the numbers
    of statsmodels' WLS fit (tests hold them equal) without a fit per area, which at one per
    borough was most of an inequality call. SII is the fitted difference between the least
    (ridit 1) and most (ridit 0) deprived ends; RII is SII over the population-weighted mean
    (PHE convention), its interval scaled the same way. Groups with no population are left out
    of their row; a row with fewer than three groups gets NaN. Keys ``sii``, ``sii_low``,
    ``sii_high``, ``rii``, ``rii_low``, ``rii_high`` and ``groups``, each one entry per row.
    """
    values = np.asarray(values, dtype=float)
    populations = np.asarray(populations, dtype=float)
    keep = populations > 0
    weights = np.where(keep, populations, 0.0)
    groups = keep.sum(axis=1)
    fitted = groups >= 3
    with np.errstate(divide="ignore", invalid="ignore"):
        total = weights.sum(axis=1, keepdims=True)
        # Of the kept groups: an empty group adds nothing to the cumulative share.
        ridit = ridit_scores(weights)
        y = np.where(keep, values, 0.0)
        x_mean = (weights * ridit).sum(axis=1, keepdims=True) / total
        y_mean = (weights * y).sum(axis=1, keepdims=True) / total
        x_spread = (weights * (ridit - x_mean) ** 2).sum(axis=1)
        slope = (weights * (ridit - x_mean) * (y - y_mean)).sum(axis=1) / x_spread
        residuals = y - y_mean - slope[:, None] * (ridit - x_mean)
        residual_variance = (weights * residuals**2).sum(axis=1) / (groups - 2)
        half_width = scipy_stats.t.ppf(0.975, np.maximum(groups - 2, 1)) * np.sqrt(residual_variance / x_spread)
        sii = np.where(fitted, slope, np.nan)
        low = np.where(fitted, slope - half_width, np.nan)
        high = np.where(fitted, slope + half_width, np.nan)
        # RII: the SII over the population-weighted mean (PHE convention), none where that mean is 0.
        mean = np.where(y_mean[:, 0] != 0, y_mean[:, 0], np.nan)
        return {
            "sii": sii,
            "sii_low": low,
            "sii_high": high,
            "rii": sii / mean,
            "rii_low": low / mean,
            "rii_high": high / mean,
            "groups": groups,
        }


def difference_interval(num1, den1, num2, den2, level: float = 0.95):
    """Difference p1 - p2 with Newcombe's hybrid score interval (statsmodels); NaN where a denominator is 0.

    Scalars give a tuple of floats; arrays give a tuple of arrays, one entry per element.
    """
    arrays = np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, dtype=float)) for x in (num1, den1, num2, den2)))
    num1_, den1_, num2_, den2_ = arrays
    valid = (den1_ > 0) & (den2_ > 0)
    difference, low, high = (np.full(num1_.shape, np.nan) for _ in range(3))
    if valid.any():
        low[valid], high[valid] = confint_proportions_2indep(
            num1_[valid], den1_[valid], num2_[valid], den2_[valid], method="newcomb", compare="diff", alpha=1 - level
        )
        difference[valid] = num1_[valid] / den1_[valid] - num2_[valid] / den2_[valid]
    if np.ndim(num1) == np.ndim(den1) == np.ndim(num2) == np.ndim(den2) == 0:
        return (float(difference[0]), float(low[0]), float(high[0]))
    return difference, low, high


# Making Data Count (NHS England) SPC rules.
SHIFT_RUN = 7  # consecutive points on one side of the mean
TREND_RUN = 6  # consecutive increases or decreases


def _run_flags(condition: np.ndarray, length: int) -> np.ndarray:
    """True for every point belonging to a run of ``length`` or more consecutive True values."""
    flags = np.zeros(len(condition), dtype=bool)
    run_start = 0
    for i in range(len(condition) + 1):
        if i == len(condition) or not condition[i]:
            if i - run_start >= length:
                flags[run_start:i] = True
            run_start = i + 1
    return flags


def spc(values, denominators=None, *, polarity: str = "high", chart: str = "p") -> pd.DataFrame:
    """SPC limits and special-cause flags for a series (Making Data Count rules), as a frame.

    The columns of :func:`spc_arrays`, one row per point.
    """
    return pd.DataFrame(spc_arrays(values, denominators, polarity=polarity, chart=chart))


def spc_arrays(values, denominators=None, *, polarity: str = "high", chart: str = "p") -> dict[str, np.ndarray]:
    """SPC limits and special-cause flags for a series (Making Data Count rules), one array per column.

    Arrays rather than a frame: a trend by practice charts a thousand short series, and making a
    frame for each cost more than the chart itself.

    ``chart="p"``: values are proportions with ``denominators``; limits are
    p-bar +/- 3 sigma per point. ``chart="xmr"``: individuals chart with limits at
    mean +/- 2.66 x mean moving range. Flags: a point outside the limits; a shift
    (7 points on one side of the mean); a trend (6 points rising or falling); two of
    three points beyond 2 sigma on the same side. ``variation`` is
    ``improvement``/``concern`` by polarity for special causes, ``common`` otherwise.
    """
    values = np.asarray(values, dtype=float)
    count = len(values)
    if chart == "p":
        denominators = np.asarray(denominators, dtype=float)
        total = denominators.sum()
        centre = float((values * denominators).sum() / total) if total > 0 else np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            sigma = np.sqrt(centre * (1 - centre) / denominators)
    else:
        centre = float(np.nanmean(values)) if count else np.nan
        moving_range = np.abs(np.diff(values))
        sigma = np.full(count, (np.nanmean(moving_range) / 1.128) if count > 1 else np.nan)
    upper = centre + 3 * sigma
    lower = centre - 3 * sigma
    if chart == "p":
        upper, lower = np.minimum(upper, 1.0), np.maximum(lower, 0.0)
    above_limit = values > upper
    below_limit = values < lower
    above_mean = values > centre
    below_mean = values < centre
    shift_high = _run_flags(above_mean, SHIFT_RUN)
    shift_low = _run_flags(below_mean, SHIFT_RUN)
    diffs = np.diff(values)
    rising = _run_flags(diffs > 0, TREND_RUN - 1)
    falling = _run_flags(diffs < 0, TREND_RUN - 1)
    trend_up = np.zeros(count, dtype=bool)
    trend_down = np.zeros(count, dtype=bool)
    trend_up[1:] |= rising
    trend_up[:-1] |= rising
    trend_down[1:] |= falling
    trend_down[:-1] |= falling
    near_high = values > centre + 2 * sigma
    near_low = values < centre - 2 * sigma
    two_of_three_high = np.zeros(count, dtype=bool)
    two_of_three_low = np.zeros(count, dtype=bool)
    for i in range(count - 2):
        if near_high[i : i + 3].sum() >= 2:
            two_of_three_high[i : i + 3] |= near_high[i : i + 3]
        if near_low[i : i + 3].sum() >= 2:
            two_of_three_low[i : i + 3] |= near_low[i : i + 3]
    high_signal = above_limit | shift_high | trend_up | two_of_three_high
    low_signal = below_limit | shift_low | trend_down | two_of_three_low
    good_high = polarity == "high"
    variation = np.where(
        high_signal & ~low_signal,
        "improvement" if good_high else ("concern" if polarity == "low" else "special"),
        np.where(
            low_signal & ~high_signal,
            "concern" if good_high else ("improvement" if polarity == "low" else "special"),
            np.where(high_signal & low_signal, "special", "common"),
        ),
    )
    return {
        "centre": np.full(count, centre),
        "lower_limit": np.broadcast_to(lower, (count,)).astype(float),
        "upper_limit": np.broadcast_to(upper, (count,)).astype(float),
        "outside_limits": above_limit | below_limit,
        "shift": shift_high | shift_low,
        "trend": trend_up | trend_down,
        "two_of_three": two_of_three_high | two_of_three_low,
        "special_cause": high_signal | low_signal,
        "variation": variation,
    }
