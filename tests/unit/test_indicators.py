"""The aggregation API on a hand-written database: grouping, filters, periods, statistics, disclosure, CLI."""

from __future__ import annotations

import io
import math
from contextlib import redirect_stdout

import duckdb
import pandas as pd
import pytest

from queries import cli, indicators
from queries.indicators import QueryError, funnel_limits, indicator_values, inequality, trend
from tests.spec.helpers import build, d, jab, patient, vaccinated_at_12_months

BARNET_PRACTICE, BRENT_PRACTICE = "E83003", "E84002"
DEPRIVED_LSOA, AFFLUENT_LSOA = "E01000007", "E01000002"  # national IMD quintile 1 and 5


def _children() -> tuple[list[dict], list[dict]]:
    """Barnet: 20 children, 10 fully vaccinated (deprived LSOA). Brent: 30 children, 29 vaccinated (affluent)."""
    patients, jabs = vaccinated_at_12_months(
        ((BARNET_PRACTICE, 20, 10),), alternate_sex=True, lsoa21_code=DEPRIVED_LSOA
    )
    brent_patients, brent_jabs = vaccinated_at_12_months(
        ((BRENT_PRACTICE, 30, 29),), alternate_sex=True, lsoa21_code=AFFLUENT_LSOA
    )
    patients, jabs = patients + brent_patients, jabs + brent_jabs
    # One child of the same cohort, a year earlier (for the trend), at Barnet, unvaccinated.
    patients.append(patient("2024-08-15", practice_code=BARNET_PRACTICE, lsoa21_code=DEPRIVED_LSOA))
    return patients, jabs


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    patients, jabs = _children()
    return build(tmp_path_factory.mktemp("api"), patients=patients, immunisations=jabs)


def test_default_period_is_latest_complete_quarter(con):
    assert indicators.default_period(con, "cover_12m_6in1") == "2026-27 Q2"
    assert indicators.default_period(con, "hyp008") == "2025-26"
    assert indicators.default_period(con, "cwt_fds_28d") == "2026-10"


def test_period_labels_name_every_period_as_the_database_does(con):
    labels = indicators.period_labels(con)
    stored = dict(con.execute("SELECT period_id, label FROM ind_period").fetchall())
    assert labels == stored
    assert {"2026-10", "2026-27 Q2", "2025-26"} <= labels.keys()


def test_periods_are_the_indicators_newest_first_and_each_caller_gets_its_own_copy(con):
    types = list(indicators.get("cover_12m_6in1").period_types)
    stored = con.execute(
        "SELECT period_id FROM ind_period WHERE list_contains($types, period_type) ORDER BY end_date DESC, period_type",
        {"types": types},
    ).fetchall()
    first = indicators.periods(con, "cover_12m_6in1")
    assert first["period_id"].tolist() == [row[0] for row in stored] and len(stored) > 1
    first["label"] = "changed by a caller"
    assert "changed by a caller" not in set(indicators.periods(con, "cover_12m_6in1")["label"])


def test_values_by_practice(con):
    result = indicator_values(con, indicator="cover_12m_6in1", by="practice", disclose=False)
    result = result.set_index("area_code")
    assert result.loc[BARNET_PRACTICE, ["numerator", "denominator"]].tolist() == [10, 20]
    assert result.loc[BRENT_PRACTICE, ["numerator", "denominator"]].tolist() == [29, 30]
    assert result.loc[BARNET_PRACTICE, "value"] == pytest.approx(50.0)
    assert result.loc[BARNET_PRACTICE, "area_name"] == "Oakleigh Road Health Centre"
    assert result["london_value"].tolist() == pytest.approx([39 / 50 * 100] * 2)
    assert (result["ci_low"] < result["value"]).all() and (result["value"] < result["ci_high"]).all()
    assert (result["ci99_low"] <= result["ci_low"]).all() and (result["ci99_high"] >= result["ci_high"]).all()


def test_comparison_with_london_follows_polarity(con):
    result = indicator_values(con, indicator="cover_12m_6in1", by="practice", disclose=False).set_index("area_code")
    assert result.loc[BARNET_PRACTICE, "comparison"] == "worse"  # 50 % (CI 30-70) vs London 78 %
    assert result.loc[BRENT_PRACTICE, "comparison"] == "better"  # 96.7 % (CI 83-99) vs 78 %


def test_patients_to_target(con):
    result = indicator_values(con, indicator="cover_12m_6in1", by="practice", disclose=False).set_index("area_code")
    assert result.loc[BARNET_PRACTICE, "patients_to_target"] == 9  # 95 % of 20 = 19; 19 - 10
    assert result.loc[BRENT_PRACTICE, "patients_to_target"] == 0


def test_london_and_icb_levels_add_up(con):
    london = indicator_values(con, indicator="cover_12m_6in1", by="london", disclose=False)
    assert london[["area_code", "area_name", "numerator", "denominator"]].values.tolist() == [
        ["E12000007", "London", 39, 50]
    ]
    icb = indicator_values(con, indicator="cover_12m_6in1", by="icb", disclose=False)
    assert icb["numerator"].sum() == 39 and set(icb["area_name"]) == {"North Central London", "North West London"}


@pytest.fixture(scope="module")
def none_and_all(tmp_path_factory):
    """Barnet: 21 children, none vaccinated. Brent: 16 children, all vaccinated (counts where the unclipped
    Wilson bounds fell just outside 0-100 %)."""
    patients, jabs = vaccinated_at_12_months(((BARNET_PRACTICE, 21, 0), (BRENT_PRACTICE, 16, 16)))
    return build(tmp_path_factory.mktemp("none-and-all"), patients=patients, immunisations=jabs)


@pytest.mark.parametrize("disclose", [False, True])
def test_intervals_of_0_and_100_percent_stay_within_0_to_100(none_and_all, disclose):
    result = indicator_values(none_and_all, indicator="cover_12m_6in1", by="practice", disclose=disclose)
    rows = result.set_index("area_code")
    assert rows.loc[BARNET_PRACTICE, "value"] == 0 and rows.loc[BRENT_PRACTICE, "value"] == 100
    for column in ("ci_low", "ci99_low"):
        bound = float(rows.loc[BARNET_PRACTICE, column])
        assert bound == 0 and not math.copysign(1, bound) < 0, column  # 0, not -1e-17 (shown as -0.0)
    for column in ("ci_high", "ci99_high"):
        assert float(rows.loc[BRENT_PRACTICE, column]) == 100, column  # not 100.00000000000001


def test_pair_borough_by_imd_quintile(con):
    result = indicator_values(con, indicator="cover_12m_6in1", by=("borough", "imd_quintile"), disclose=False)
    rows = {(r.area_name, r.subgroup_name): (r.numerator, r.denominator) for r in result.itertuples()}
    assert rows == {("Barnet", "Q1 (most deprived)"): (10, 20), ("Brent", "Q5 (least deprived)"): (29, 30)}
    assert (
        indicator_values(con, indicator="cover_12m_6in1", by="borough,imd_quintile_london", disclose=False)[
            "subgroup_code"
        ]
        .notna()
        .all()
    )


def test_filters_bind_values_and_accept_lists(con):
    females = indicator_values(con, indicator="cover_12m_6in1", by="borough", filters={"sex": "F"}, disclose=False)
    assert females["denominator"].sum() == 25
    both = indicator_values(con, indicator="cover_12m_6in1", by="london", filters={"sex": ["F", "M"]}, disclose=False)
    assert both["denominator"].sum() == 50
    quintile = indicator_values(
        con, indicator="cover_12m_6in1", by="practice", filters={"imd_quintile": 1}, disclose=False
    )
    assert quintile["area_code"].tolist() == [BARNET_PRACTICE]


def test_hostile_values_are_data_not_sql(con):
    result = indicator_values(
        con, indicator="cover_12m_6in1", by="borough", filters={"sex": "F' OR '1'='1"}, disclose=False
    )
    assert result.empty
    with pytest.raises(QueryError):
        indicator_values(con, indicator="cover_12m_6in1", by="borough; DROP TABLE ind_period")
    with pytest.raises(QueryError):
        indicator_values(con, indicator="cover_12m_6in1", by="borough", filters={"1=1 OR sex": "F"})
    assert con.execute("SELECT count(*) FROM ind_period").fetchone()[0] > 0


def test_unknown_period_or_wrong_type_is_refused(con):
    with pytest.raises(QueryError):
        indicator_values(con, indicator="cover_12m_6in1", period="2026-10", by="london")
    with pytest.raises(QueryError):
        indicator_values(con, indicator="cover_12m_6in1", period="no such period", by="london")
    assert not indicator_values(con, indicator="cover_12m_6in1", period="2025-26", by="london").empty


def test_practice_and_lsoa_geographies_do_not_mix(con):
    with pytest.raises(QueryError):
        indicator_values(con, indicator="cover_12m_6in1", by=("practice", "lsoa"))


def test_lsoa_level_and_deciles(con):
    result = indicator_values(con, indicator="cover_12m_6in1", by="lsoa", disclose=False)
    assert set(result["area_code"]) == {DEPRIVED_LSOA, AFFLUENT_LSOA}
    deciles = indicator_values(con, indicator="cover_12m_6in1", by="imd_decile_national", disclose=False)
    assert deciles["denominator"].sum() == 50


def test_disclosure_for_restricted_roles(con):
    result = indicator_values(con, indicator="cover_12m_6in1", by="practice", disclose=True).set_index("area_code")
    assert result.loc[BARNET_PRACTICE, "numerator"] == 10 and result.loc[BARNET_PRACTICE, "denominator"] == 20
    assert result.loc[BRENT_PRACTICE, "numerator"] == 30  # 29 rounds to 30
    assert result.loc[BRENT_PRACTICE, "value"] == round(29 / 30 * 100, 1)  # from unrounded counts, as shown
    small = indicator_values(
        con, indicator="cover_12m_6in1", by="sex", filters={"practice": BARNET_PRACTICE}, disclose=True
    )
    # Barnet: 5 of 10 girls and 5 of 10 boys vaccinated: numerators 5 are suppressed, shown as None, not 0.
    assert small["suppressed"].all()
    assert small["numerator"].isna().all() and small["value"].isna().all()
    assert (small["comparison"] == "not compared").all()


def test_trend_has_spc_columns_and_is_oldest_first(con):
    series = trend(con, indicator="cover_12m_6in1", disclose=False)
    assert list(series["period_id"])[-1] == "2026-27 Q2"
    assert series["end_date"].is_monotonic_increasing
    assert {"centre", "upper_limit", "lower_limit", "special_cause", "variation"} <= set(series.columns)
    year_before = series.set_index("period_id").loc["2025-26 Q2"]
    assert (year_before["numerator"], year_before["denominator"]) == (0, 1)


def test_trend_hides_london_value_when_london_is_suppressed(con):
    # The year-earlier quarter has a single child: London itself is 0 of 1.
    series = trend(con, indicator="cover_12m_6in1", disclose=True).set_index("period_id")
    assert series.loc["2025-26 Q2", "london_value"] is None
    assert series.loc["2025-26 Q2", "denominator"] is None and bool(series.loc["2025-26 Q2", "suppressed"])
    assert series.loc["2025-26 Q2", "value"] is None
    assert series.loc["2026-27 Q2", "london_value"] == pytest.approx(78.0)


def test_funnel_limits_around_london(con):
    funnel = funnel_limits(con, indicator="cover_12m_6in1", by="practice", disclose=False)
    assert funnel["london_value"] == pytest.approx(78.0)
    limits = funnel["limits"]
    assert (limits["lower_998"] <= limits["lower_95"]).all() and (limits["upper_95"] <= limits["upper_998"]).all()
    points = funnel["points"].set_index("area_code")
    assert points.loc[BARNET_PRACTICE, "funnel"] in ("below 95", "below 99.8")


def test_a_funnel_with_no_points_still_carries_the_class_column(con):
    """The funnel chart draws the engine's classes and refuses rows without them: none is not missing."""
    camden = "E09000007"  # no child in the test data lives or is registered there
    funnel = funnel_limits(con, indicator="cover_12m_6in1", by="practice", filters={"borough": camden})
    assert funnel["points"].empty and "funnel" in funnel["points"]


def test_a_funnel_of_one_boroughs_practices_is_still_around_london(con):
    """Limits centred on the borough's own total would hide a borough that is worse than London as a whole."""
    barnet = "E09000003"
    whole = funnel_limits(con, indicator="cover_12m_6in1", by="practice", disclose=False)
    in_barnet = funnel_limits(
        con, indicator="cover_12m_6in1", by="practice", filters={"borough": barnet}, disclose=False
    )
    assert in_barnet["london_value"] == pytest.approx(whole["london_value"]) == pytest.approx(78.0)
    barnet_only = indicator_values(
        con, indicator="cover_12m_6in1", by="borough", filters={"borough": barnet}, disclose=False
    )
    assert barnet_only["value"].iloc[0] != pytest.approx(78.0)  # the borough's own centre differs
    assert set(in_barnet["points"]["area_code"]) < set(whole["points"]["area_code"])
    assert (in_barnet["points"]["london_value"] == pytest.approx(78.0)).all()
    # Same centre, so each Barnet practice falls in the same band as on London's funnel.
    bands = whole["points"].set_index("area_code")["funnel"]
    assert all(bands[row.area_code] == row.funnel for row in in_barnet["points"].itertuples())


def test_inequality_rows_london_first(con):
    result = inequality(con, indicator="cover_12m_6in1", disclose=False)
    assert result["area_code"].iloc[0] == "E12000007"
    london = result.iloc[0]
    assert london["q1_value"] == pytest.approx(50.0) and london["q5_value"] == pytest.approx(29 / 30 * 100)
    assert london["gap"] == pytest.approx(29 / 30 * 100 - 50.0)
    assert london["gap_low"] < london["gap"] < london["gap_high"]
    assert math.isnan(london["sii"])  # two deciles only: no slope
    with pytest.raises(QueryError):
        inequality(con, indicator="cover_12m_6in1", filters={"practice": BARNET_PRACTICE})
    boroughs = inequality(con, indicator="cover_12m_6in1", filters={"borough": "E09000003"}, disclose=False)
    assert boroughs["denominator"].tolist() == [20, 20]  # London (filtered) and Barnet


def test_cli_values_prints_csv(con, tmp_path):
    path = con.execute("SELECT file FROM pragma_database_list WHERE name = current_database()").fetchone()[0]
    out = io.StringIO()
    with redirect_stdout(out):
        status = cli.main(
            [
                "values",
                "--db",
                path,
                "--indicator",
                "cover_12m_6in1",
                "--by",
                "practice",
                "--filter",
                "sex=F,M",
                "--disclose",
            ]
        )
    assert status == 0
    table = pd.read_csv(io.StringIO(out.getvalue()))
    assert list(table.columns[:8]) == [
        "indicator_id",
        "period_id",
        "area_code",
        "area_name",
        "subgroup_code",
        "subgroup_name",
        "numerator",
        "denominator",
    ]
    assert {"value", "ci_low", "ci_high", "suppressed"} <= set(table.columns)
    assert sorted(table["numerator"]) == [10, 30]


@pytest.mark.parametrize("compare_with", ["filtered", "london"])
def test_cli_values_compares_with_what_it_is_asked_to(con, compare_with):
    """A borough's practices from the command line: the benchmark is the borough, or London when asked."""
    path = con.execute("SELECT file FROM pragma_database_list WHERE name = current_database()").fetchone()[0]
    request = ["--indicator", "cover_12m_6in1", "--by", "practice", "--filter", "borough=E09000003"]
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["values", "--db", path, *request, "--compare-with", compare_with]) == 0
    table = pd.read_csv(io.StringIO(out.getvalue()))
    expected = indicators.indicator_values(
        con, indicator="cover_12m_6in1", by="practice", filters={"borough": "E09000003"}, compare_with=compare_with
    )
    assert table["london_value"].tolist() == pytest.approx(expected["london_value"].astype(float).tolist())
    assert table["comparison"].tolist() == expected["comparison"].tolist()
    london = indicators.indicator_values(con, indicator="cover_12m_6in1", by="london", disclose=False)
    borough = indicators.indicator_values(
        con, indicator="cover_12m_6in1", by="london", filters={"borough": "E09000003"}, disclose=False
    )
    assert london["value"].iloc[0] != pytest.approx(borough["value"].iloc[0])  # the two benchmarks differ here
    benchmark = london if compare_with == "london" else borough
    assert table["london_value"].tolist() == pytest.approx([benchmark["value"].iloc[0]] * len(table))


def test_cli_list_prints_every_indicator():
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["list"]) == 0
    table = pd.read_csv(io.StringIO(out.getvalue()))
    assert len(table) == len(indicators.registry) and "rule_version" in table.columns


def test_cli_reports_bad_requests(con, capsys):
    path = con.execute("SELECT file FROM pragma_database_list WHERE name = current_database()").fetchone()[0]
    assert cli.main(["values", "--db", path, "--indicator", "nope", "--by", "practice"]) == 2
    assert "Unknown indicator" in capsys.readouterr().err


def test_accepts_a_database_handle(con):
    path = con.execute("SELECT file FROM pragma_database_list WHERE name = current_database()").fetchone()[0]
    from queries.db import Database

    database = Database(path)
    try:
        assert indicator_values(database, indicator="cover_12m_6in1", by="london")["denominator"].tolist() == [50]
    finally:
        database.close()
    assert isinstance(con, duckdb.DuckDBPyConnection)


@pytest.mark.parametrize(
    ("extract", "month", "quarter", "fy", "r12_start"),
    [
        ("2026-10-31", "2026-10", "2026-27 Q2", "2025-26", "2025-11-01"),
        ("2026-10-30", "2026-09", "2026-27 Q2", "2025-26", "2025-10-31"),
        ("2026-09-30", "2026-09", "2026-27 Q2", "2025-26", "2025-10-01"),
        ("2026-03-31", "2026-03", "2025-26 Q4", "2025-26", "2025-04-01"),
        ("2026-03-30", "2026-02", "2025-26 Q3", "2024-25", "2025-03-31"),
    ],
)
def test_latest_complete_periods(extract, month, quarter, fy, r12_start):
    from queries.materialise import build_periods

    periods = build_periods(d(extract))
    latest = {kind: group.iloc[0] for kind, group in periods.groupby("period_type", sort=False)}
    assert latest["month"]["period_id"] == month
    assert latest["quarter"]["period_id"] == quarter
    assert latest["fy"]["period_id"] == fy
    assert latest["r12"]["end_date"] == d(extract) and latest["r12"]["start_date"] == d(r12_start)
    assert (periods["end_date"] <= d(extract)).all()
    quarter_ends = periods[periods["period_type"] == "r12"]["end_date"].iloc[1:]
    assert all(end.month in (3, 6, 9, 12) for end in quarter_ends)


# ---------------------------------------------------------------- on the synthetic small_db fixture


@pytest.mark.slow
def test_every_cube_gives_the_same_london_total(synthetic):
    totals = synthetic.execute(
        """
        SELECT cube, indicator_id, period_id, sum(numerator) AS numerator, sum(denominator) AS denominator FROM (
            SELECT 'practice' AS cube, indicator_id, period_id, numerator, denominator FROM ind_cube_practice
            UNION ALL SELECT 'lsoa', indicator_id, period_id, numerator, denominator FROM ind_cube_lsoa
            UNION ALL SELECT 'area', indicator_id, period_id, numerator, denominator FROM ind_cube_area
            UNION ALL SELECT 'borough', indicator_id, period_id, numerator, denominator FROM ind_cube_borough
            UNION ALL SELECT 'equity', indicator_id, period_id, numerator, denominator FROM ind_cube_practice_equity
        ) GROUP BY ALL
        """
    ).df()
    spread = totals.groupby(["indicator_id", "period_id"]).agg(
        cubes=("cube", "nunique"),
        num_range=("numerator", lambda s: s.max() - s.min()),
        den_range=("denominator", lambda s: s.max() - s.min()),
    )
    assert (spread["cubes"] == 5).all()
    assert (spread["num_range"] < 1e-6).all() and (spread["den_range"] < 1e-6).all()


@pytest.mark.slow
def test_patient_facts_match_the_cube(synthetic):
    mismatched = synthetic.execute(
        """
        SELECT f.indicator_id, f.period_id FROM
            (SELECT indicator_id, period_id, sum(numerator) AS n, sum(denominator) AS d FROM ind_patient GROUP BY ALL) f
        JOIN (SELECT indicator_id, period_id, sum(numerator) AS n, sum(denominator) AS d
              FROM ind_cube_practice GROUP BY ALL) c USING (indicator_id, period_id)
        WHERE abs(f.n - c.n) > 1e-9 OR abs(f.d - c.d) > 1e-9
        """
    ).fetchall()
    assert mismatched == []


@pytest.mark.slow
def test_every_indicator_answers_at_every_level(synthetic):
    for indicator_id in indicators.registry:
        london = indicator_values(synthetic, indicator=indicator_id, by="london", disclose=False)
        assert len(london) == 1
        by_borough = indicator_values(synthetic, indicator=indicator_id, by=("borough", "imd_quintile"), disclose=True)
        raw = indicator_values(synthetic, indicator=indicator_id, by="practice", disclose=False)
        assert raw["numerator"].sum() == pytest.approx(london["numerator"].iloc[0])
        counts = by_borough[["numerator", "denominator", "patients_to_target"]].to_numpy().ravel()
        assert not any(c is not None and 1 <= c <= 7 for c in counts)


@pytest.mark.slow
def test_synthetic_extract_fills_every_indicator(synthetic):
    empty = [
        indicator_id
        for indicator_id in indicators.registry
        if indicator_values(synthetic, indicator=indicator_id, by="london", disclose=False)["denominator"].iloc[0] == 0
    ]
    assert empty == []


@pytest.fixture(scope="module")
def uneven(tmp_path_factory):
    """Barnet: 23 children, 13 vaccinated; Brent: 31, all vaccinated; Camden: 5, none (a suppressed practice)."""
    patients, jabs = [], []
    for practice, total, vaccinated in ((BARNET_PRACTICE, 23, 13), (BRENT_PRACTICE, 31, 31), ("F83004", 5, 0)):
        for i in range(total):
            row = patient("2025-08-15", practice_code=practice, lsoa21_code=DEPRIVED_LSOA)
            patients.append(row)
            if i < vaccinated:
                jabs += [jab(row["patient_id"], day, "6in1") for day in ("2025-10-10", "2025-11-10", "2025-12-10")]
    connection = build(tmp_path_factory.mktemp("uneven"), patients=patients, immunisations=jabs)
    yield connection
    connection.close()


def test_funnel_limits_for_a_restricted_role_rest_on_shown_figures_only(uneven):
    """The grid ended at the largest practice's exact denominator and the curves carried London's exact
    proportion at full precision (both read off the chart's JSON in a privacy review)."""
    from queries import stats

    funnel = funnel_limits(uneven, indicator="cover_12m_6in1", by="practice", disclose=True)
    limits = funnel["limits"]
    assert limits["denominator"].max() == 30  # Brent's 31, shown rounded
    shown_centre = round(100 * 44 / 59, 1)
    assert funnel["london_value"] == shown_centre
    expected = stats.funnel_limits_table(shown_centre / 100, 30)
    assert limits["lower_998"].to_numpy() == pytest.approx(100 * expected["lower_998"].to_numpy())
    raw = funnel_limits(uneven, indicator="cover_12m_6in1", by="practice", disclose=False)["limits"]
    assert raw["denominator"].max() == 31
    assert raw["lower_998"].to_numpy() == pytest.approx(
        100 * stats.funnel_limits_table(44 / 59, 31)["lower_998"].to_numpy()
    )


def test_a_funnel_whose_points_are_all_suppressed_draws_no_limits(uneven):
    camden = funnel_limits(uneven, indicator="cover_12m_6in1", by="practice", filters={"practice": "F83004"})
    assert camden["points"]["suppressed"].all()
    assert camden["london_value"] is not None  # London itself is shown; the grid would be Camden's count
    assert camden["limits"][["lower_95", "upper_95", "lower_998", "upper_998"]].isna().all().all()
