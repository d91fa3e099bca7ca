"""Statistics checked against published values (Newcombe 1998, Garwood) and hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.stats.proportion import proportion_confint

from queries import stats


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        # Newcombe (1998) Stat Med 17:857, table I, method 3 (Wilson score without continuity correction).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombe(successes, trials, low, high):
    got_low, got_high = stats.wilson_interval([successes], [trials])
    assert got_low[0] == pytest.approx(low, abs=5e-5)
    assert got_high[0] == pytest.approx(high, abs=5e-5)


def test_wilson_interval_is_nan_for_empty_denominator():
    low, high = stats.wilson_interval([0, 3], [0, 10])
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert 0 < low[1] < 0.3 < high[1] < 1


def test_wilson_998_is_wider_than_95():
    low95, high95 = stats.wilson_interval([30], [100], 0.95)
    low998, high998 = stats.wilson_interval([30], [100], 0.998)
    assert low998[0] < low95[0] and high998[0] > high95[0]


def test_wilson_interval_matches_statsmodels():
    generator = np.random.default_rng(7)
    denominator = np.concatenate([[0, 0, 1, 5, 10, 1_000_000], generator.integers(1, 5_000, 500)]).astype(float)
    numerator = np.floor(denominator * np.concatenate([[0, 0, 1, 0, 1, 0.5], generator.random(500)]))
    shown = denominator > 0
    for level in (0.95, 0.998, 0.9):  # the two cached quantiles, and one looked up
        low, high = stats.wilson_interval(numerator, denominator, level)
        expected_low, expected_high = proportion_confint(
            numerator[shown], denominator[shown], alpha=1 - level, method="wilson"
        )
        np.testing.assert_allclose(low[shown], expected_low, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(high[shown], expected_high, rtol=1e-12, atol=1e-15)
        assert np.isnan(low[~shown]).all() and np.isnan(high[~shown]).all()


def test_wilson_interval_stays_within_0_and_1():
    # Unclipped, rounding put 0 of 21 at -1e-17 (shown as -0.0 %), and 16 of 16 (95 %) and 30 of 30 (99.8 %)
    # at 1.0000000000000002.
    for level in (0.95, 0.998):
        low, high = stats.wilson_interval([0, 0, 16, 30], [21, 10, 16, 30], level)
        assert low[:2].tolist() == [0.0, 0.0] and not np.signbit(low[:2]).any()
        assert (high[2:] <= 1.0).all() and high[2:].max() == 1.0


def _one_row(numerator, denominator, **options) -> dict:
    """:func:`stats.area_statistics` of a single row, as scalars."""
    return {key: column[0] for key, column in stats.area_statistics([numerator], [denominator], **options).items()}


def test_area_statistics_of_a_percentage():
    row = _one_row(81, 263, scale=100, polarity="high", benchmark=20.0, target=95.0)
    low, high = stats.wilson_interval([81], [263], 0.95)
    low998, high998 = stats.wilson_interval([81], [263], 0.998)
    assert row["value"] == pytest.approx(100 * 81 / 263)
    assert (row["ci_low"], row["ci_high"]) == (low[0] * 100, high[0] * 100)
    assert (row["ci99_low"], row["ci99_high"]) == (low998[0] * 100, high998[0] * 100)
    assert row["ci99_low"] < row["ci_low"] < row["value"] < row["ci_high"] < row["ci99_high"]
    assert row["comparison"] == "better"  # 25.5-36.6 % is wholly above 20 %
    assert row["patients_to_target"] == 169  # 0.95 x 263 = 249.85, so 250 - 81


def test_area_statistics_without_a_denominator_has_no_value_and_is_not_compared():
    row = _one_row(0, 0, scale=100, polarity="high", benchmark=50.0, target=95.0)
    assert all(np.isnan(row[key]) for key in ("value", "ci_low", "ci_high", "ci99_low", "ci99_high"))
    assert row["comparison"] == "not compared"
    assert row["patients_to_target"] is None  # no answer, not 0


@pytest.mark.parametrize(
    ("polarity", "above", "below"),
    [("high", "better", "worse"), ("low", "worse", "better"), ("none", "not compared", "not compared")],
)
def test_comparison_follows_polarity(polarity, above, below):
    # 30 % (24.4-36.3) and 70 % of 200, against a London of 50 %; a row holding 50 % is similar.
    result = stats.area_statistics([60, 140, 100], [200, 200, 200], scale=100, polarity=polarity, benchmark=50.0)
    similar = "not compared" if polarity == "none" else "similar"
    assert list(result["comparison"]) == [below, above, similar]


def test_comparison_with_a_missing_benchmark_is_not_made():
    result = stats.area_statistics([60, 140], [200, 200], scale=100, polarity="high", benchmark=float("nan"))
    assert list(result["comparison"]) == ["not compared", "not compared"]
    assert list(stats.area_statistics([60], [200], scale=100, polarity="high")["comparison"]) == ["not compared"]


def test_comparison_with_a_benchmark_for_each_row():
    # Three rows of 30 % of 200 (24.4-36.3 %) against 20 %, 30 % and a missing benchmark, as a batch of
    # several periods or indicators compares each row with its own London.
    result = stats.area_statistics(
        [60, 60, 60], [200, 200, 200], scale=100, polarity="high", benchmark=[20.0, 30.0, np.nan]
    )
    assert list(result["comparison"]) == ["better", "similar", "not compared"]
    each = [
        stats.area_statistics([60], [200], scale=100, polarity="high", benchmark=benchmark)["comparison"][0]
        for benchmark in (20.0, 30.0, float("nan"))
    ]
    assert list(result["comparison"]) == each


def test_comparison_is_in_the_values_unit():
    # 30 admissions in 20,000 people: 150 per 100,000 (98-210); London 400 per 100,000 is above it: better.
    result = stats.area_statistics([30], [20_000], scale=100_000, polarity="low", benchmark=400.0)
    assert result["value"][0] == pytest.approx(150)
    assert 90 < result["ci_low"][0] < 150 < result["ci_high"][0] < 250
    assert list(result["comparison"]) == ["better"]


@pytest.mark.parametrize(
    ("numerator", "denominator", "share", "expected"),
    [
        (80, 100, 0.80, 0),  # exactly at the target: nobody more needed
        (79, 100, 0.80, 1),  # one short
        (81, 100, 0.80, 0),  # above: never negative
        (0, 7, 0.80, 6),  # 5.6 people round up to 6
        (76, 100, 0.77, 1),
        (77, 100, 0.77, 0),
        (231, 300, 0.77, 0),  # 0.77 * 300 = 231.00000000000003 in floating point: still met
        (0, 0, 0.80, math.nan),  # no denominator: no answer, not 0
    ],
)
def test_shortfall_to_target_at_the_boundaries(numerator, denominator, share, expected):
    result = stats.shortfall_to_target([float(numerator)], [float(denominator)], share)[0]
    assert (math.isnan(result) and math.isnan(expected)) or result == expected


@pytest.mark.parametrize(("numerator", "expected"), [(95, 0), (94, 1), (99, 0)])
def test_patients_to_target_is_the_shortfall_at_the_targets_share(numerator, expected):
    # 95.0 at scale 100 is 95 % of the denominator: met exactly, one short, above.
    assert _one_row(numerator, 100, scale=100, polarity="high", target=95.0)["patients_to_target"] == expected


def test_patients_to_target_only_for_a_high_is_good_measure_with_a_target():
    assert _one_row(10, 100, scale=100, polarity="high")["patients_to_target"] is None
    assert _one_row(10, 100, scale=100, polarity="low", target=5.0)["patients_to_target"] is None
    assert _one_row(10, 100, scale=100, polarity="none", target=95.0)["patients_to_target"] is None
    # A ratio's target is in its own unit: 0.8 of 100 expected is 80, 10 more than 70 recorded.
    assert _one_row(70, 100, scale=1, polarity="high", target=0.8, interval="poisson")["patients_to_target"] == 10


def test_a_ratio_takes_the_exact_poisson_interval():
    row = _one_row(10, 10, scale=1, polarity="high", benchmark=1.0, interval="poisson")
    low, high = stats.poisson_ratio_interval([10], [10], 0.95)
    assert (row["value"], row["ci_low"], row["ci_high"]) == (1.0, low[0], high[0])
    assert row["comparison"] == "similar"


def test_area_statistics_refuses_an_unknown_polarity_or_interval():
    with pytest.raises(ValueError, match="polarity"):
        stats.area_statistics([1], [2], scale=100, polarity="up", benchmark=10.0)
    with pytest.raises(ValueError, match="interval"):
        stats.area_statistics([1], [2], scale=100, polarity="high", interval="exact")


def test_scaled_rate_of_counts_and_of_nothing():
    assert stats.scaled_rate([1, 3, 0], [4, 0, 0], 100).tolist()[0] == 25.0
    assert np.isnan(stats.scaled_rate([1, 3, 0], [4, 0, 0], 100)[1:]).all()
    assert float(stats.scaled_rate(2.0, 8.0, 1.0)) == 0.25


def test_newcombe_hybrid_difference_matches_published_example():
    # Newcombe (1998) Stat Med 17:873, example (56/70 vs 48/80), method 10: 0.0524 to 0.3339.
    difference, low, high = stats.difference_interval(56, 70, 48, 80)
    assert difference == pytest.approx(0.2)
    assert low == pytest.approx(0.0524, abs=5e-5)
    assert high == pytest.approx(0.3339, abs=5e-5)


def test_poisson_ratio_interval_is_exact_garwood():
    # 10 observed: exact 95 % limits 4.795 and 18.390 (Garwood 1936).
    low, high = stats.poisson_ratio_interval([10], [10])
    assert low[0] == pytest.approx(0.4795, abs=5e-4)
    assert high[0] == pytest.approx(1.8390, abs=5e-4)


def test_ridit_scores_are_population_midpoints():
    assert stats.ridit_scores([100, 300, 100]).tolist() == pytest.approx([0.1, 0.5, 0.9])


def _one_area(values, populations) -> dict[str, float]:
    """:func:`stats.slope_indices_of_inequality` of a single area."""
    return {key: column[0] for key, column in stats.slope_indices_of_inequality([values], [populations]).items()}


def test_sii_of_a_straight_line_over_equal_quintiles():
    # Values rise by 10 points a quintile; ridits are 0.1..0.9, so the slope is 10 / 0.2 = 50.
    result = _one_area([10, 20, 30, 40, 50], [100] * 5)
    assert result["sii"] == pytest.approx(50)
    assert result["rii"] == pytest.approx(50 / 30)


def test_sii_matches_closed_form_weighted_least_squares():
    values = np.array([0.62, 0.70, 0.71, 0.78, 0.83])
    population = np.array([400.0, 250.0, 150.0, 120.0, 80.0])
    x = stats.ridit_scores(population)
    w = population
    x_bar = np.sum(w * x) / w.sum()
    y_bar = np.sum(w * values) / w.sum()
    slope = np.sum(w * (x - x_bar) * (values - y_bar)) / np.sum(w * (x - x_bar) ** 2)
    result = _one_area(values, population)
    assert result["sii"] == pytest.approx(slope)
    assert result["sii_low"] < slope < result["sii_high"]
    assert result["rii"] == pytest.approx(slope / y_bar)


def test_sii_and_its_interval_are_statsmodels_wls():
    values = np.array([0.62, 0.70, 0.71, 0.78, 0.83, 0.8])
    population = np.array([400.0, 250.0, 0.0, 120.0, 80.0, 30.0])  # an empty group is left out
    keep = population > 0
    model = sm.WLS(values[keep], sm.add_constant(stats.ridit_scores(population[keep])), weights=population[keep]).fit()
    result = _one_area(values, population)
    assert result["groups"] == 5
    assert result["sii"] == pytest.approx(model.params[1], rel=1e-12)
    assert (result["sii_low"], result["sii_high"]) == pytest.approx(tuple(model.conf_int(alpha=0.05)[1]), rel=1e-12)


def test_sii_needs_three_groups():
    assert np.isnan(_one_area([0.5, 0.6], [10, 10])["sii"])


def test_binomial_funnel_limits_converge_to_normal_approximation():
    n = 100_000
    upper = stats.binomial_funnel_limit([n], 0.5, 0.975)[0]
    assert upper == pytest.approx(0.5 + 1.959964 * np.sqrt(0.25 / n), abs=2e-4)
    lower998 = stats.binomial_funnel_limit([n], 0.5, 0.001)[0]
    assert lower998 == pytest.approx(0.5 - 3.090232 * np.sqrt(0.25 / n), abs=2e-4)


def test_funnel_limits_narrow_as_denominator_grows():
    table = stats.funnel_limits_table(0.8, 5000)
    widths = (table["upper_998"] - table["lower_998"]).to_numpy()
    assert (np.diff(widths[table["denominator"].to_numpy() > 20]) <= 1e-9).all()
    assert (table["lower_95"] >= table["lower_998"]).all() and (table["upper_95"] <= table["upper_998"]).all()


def test_funnel_class_takes_the_widest_limit_a_point_passes_and_a_limit_itself_is_within():
    # Limits at 0.001, 0.025, 0.975, 0.999 for three points of 1,000 around p0 = 0.5.
    bounds = {0.001: np.full(6, 0.45), 0.025: np.full(6, 0.47), 0.975: np.full(6, 0.53), 0.999: np.full(6, 0.55)}
    proportion = [0.56, 0.54, 0.53, 0.46, 0.44, 0.50]
    classes = stats.funnel_class(proportion, [1000] * 5 + [0], bounds)
    assert classes.tolist() == ["above 99.8", "above 95", "within", "below 95", "below 99.8", None]
    # The binomial bounds are the limits the funnel plot draws.
    bounds = stats.binomial_funnel_bounds([400], 0.8)
    assert bounds[0.975][0] == pytest.approx(stats.binomial_funnel_limit([400], 0.8, 0.975)[0])
    assert stats.funnel_class([bounds[0.999][0] + 1e-9], [400], bounds).tolist() == ["above 99.8"]


def test_spc_flags_a_point_outside_three_sigma():
    values = np.array([0.80] * 10 + [0.60] + [0.80] * 5)
    chart = stats.spc(values, np.full(16, 1000), polarity="high")
    assert chart["outside_limits"].tolist() == [False] * 10 + [True] + [False] * 5
    assert chart["variation"][10] == "concern"


def test_spc_flags_a_shift_of_seven_not_six():
    before = [0.52, 0.47, 0.51, 0.47, 0.52, 0.47, 0.51, 0.47]
    after = [0.47, 0.52, 0.47, 0.51, 0.47, 0.52, 0.47, 0.51]
    six_high = before + [0.53] * 6 + after
    seven_high = before + [0.53] * 7 + after
    assert not stats.spc(np.array(six_high), np.full(len(six_high), 100), chart="p")["shift"].any()
    flagged = stats.spc(np.array(seven_high), np.full(len(seven_high), 100), chart="p")["shift"]
    assert flagged.sum() == 7


def test_spc_flags_a_trend_of_six_increasing_points():
    values = np.array([0.50, 0.49, 0.51, 0.50, 0.505, 0.51, 0.515, 0.52, 0.525, 0.50, 0.49])
    chart = stats.spc(values, np.full(len(values), 100), polarity="low")
    assert chart["trend"].tolist()[3:9] == [True] * 6
    assert not chart["trend"][0]
    assert chart["variation"][5] == "concern"


def test_spc_common_cause_series_has_no_signal():
    values = np.array([0.50, 0.52, 0.48, 0.51, 0.49, 0.50, 0.52, 0.48, 0.51, 0.49])
    chart = stats.spc(values, np.full(len(values), 400))
    assert not chart["special_cause"].any()
    assert set(chart["variation"]) == {"common"}


def test_xmr_limits_use_mean_moving_range():
    values = np.array([10.0, 12.0, 11.0, 13.0, 12.0])
    chart = stats.spc(values, chart="xmr")
    mean_moving_range = np.mean(np.abs(np.diff(values)))
    assert chart["upper_limit"][0] == pytest.approx(values.mean() + 2.66 * mean_moving_range, rel=1e-3)
