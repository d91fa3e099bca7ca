"""Filter state <-> URL query string: round trips, and bad links fall back to defaults with a notice."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.filters import (
    DIMENSIONS,
    FilterOptions,
    FilterState,
    dropdown_options,
    query_from_state,
    state_from_controls,
    state_from_query,
)

CAMDEN, HACKNEY = "E09000007", "E09000012"
NORTH_CENTRAL, NORTH_WEST = "E54000028", "E54000027"
PERIODS = [("2025-26", "2025-26"), ("2024-25", "2024-25")]


@pytest.fixture(scope="module")
def options() -> FilterOptions:
    return FilterOptions.from_reference(periods=PERIODS)


def as_dash_query(search: str) -> dict[str, str]:
    """What Dash Pages passes to ``layout(**query)`` for a URL's search string."""
    return {key: values[0] for key, values in parse_qs(search.lstrip("?")).items()}


def camden_practice(options: FilterOptions) -> str:
    return next(code for code, borough in options.practice_borough.items() if borough == CAMDEN)


def test_a_full_state_survives_the_round_trip(options):
    practice = camden_practice(options)
    state = FilterState(
        period="2024-25",
        icb=NORTH_CENTRAL,
        borough=CAMDEN,
        pcn=options.practice_pcn[practice],
        practice=practice,
        age_band="80+",
        sex="F",
        ethnicity_group="Not stated",
        imd_quintile="1",
    )
    query = query_from_state(state)
    assert query.startswith("?period=2024-25&icb=")  # dimension order, so equal states give equal links
    assert "age_band=80%2B" in query and "ethnicity_group=Not+stated" in query
    assert state_from_query(as_dash_query(query), options=options) == (state, [])


def test_no_filters_is_no_query_and_back(options):
    assert query_from_state(FilterState()) == ""
    assert state_from_query({}, options=options) == (FilterState(), [])


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_valid_state_round_trips(options, data):
    chosen = {}
    for dimension in ("period", "age_band", "sex", "ethnicity_group", "imd_quintile", "borough"):
        codes = [code for code, _ in options.choices(dimension)]
        chosen[dimension] = data.draw(st.one_of(st.none(), st.sampled_from(codes)))
    state = FilterState(**chosen)
    assert state_from_query(as_dash_query(query_from_state(state)), options=options) == (state, [])


def test_unknown_values_fall_back_to_defaults_with_a_notice(options):
    state, notices = state_from_query(
        {"borough": "E09999999", "sex": "X", "period": "1999-00", "imd_quintile": "7", "age_band": "80+"},
        options=options,
    )
    assert state == FilterState(age_band="80+")
    assert len(notices) == 4
    assert any("Borough" in n and "E09999999" in n and "all boroughs" in n for n in notices)
    assert any("Period" in n and "latest period" in n for n in notices)


def test_codes_match_whatever_their_case_and_page_keys_are_left_alone(options):
    state, notices = state_from_query({"borough": CAMDEN.lower(), "sex": "m", "indicator": "hyp008"}, options=options)
    assert (state.borough, state.sex, notices) == (CAMDEN, "M", [])


def test_a_repeated_key_takes_its_first_value_and_blank_means_all(options):
    state, notices = state_from_query({"borough": [HACKNEY, CAMDEN], "sex": "  "}, options=options)
    assert (state.borough, state.sex, notices) == (HACKNEY, None, [])


def test_a_hostile_value_is_quoted_short_and_never_raises(options):
    state, notices = state_from_query({"practice": "<script>alert(1)</script>" * 20}, options=options)
    assert state == FilterState()
    assert len(notices) == 1 and len(notices[0]) < 160 and "…" in notices[0]


def test_a_borough_outside_the_chosen_icb_is_cleared(options):
    state, notices = state_from_query({"icb": NORTH_WEST, "borough": CAMDEN}, options=options)
    assert state == FilterState(icb=NORTH_WEST)
    assert notices == ["Borough \u201cCamden\u201d is not in the chosen ICB, so the Borough filter was cleared."]


def test_a_practice_outside_the_chosen_borough_is_cleared(options):
    practice = camden_practice(options)
    state, notices = state_from_query({"borough": HACKNEY, "practice": practice}, options=options)
    assert state == FilterState(borough=HACKNEY) and len(notices) == 1


def test_engine_filters_leave_out_the_period_and_empty_dimensions():
    state = FilterState(period="2025-26", borough=CAMDEN, imd_quintile="1")
    assert state.engine_filters() == {"borough": CAMDEN, "imd_quintile": "1"}


def test_controls_to_state_treat_empty_as_all():
    values = {"borough": CAMDEN, "sex": "", "period": None}
    assert state_from_controls(values) == FilterState(borough=CAMDEN)
    assert set(DIMENSIONS) == set(FilterState.__dataclass_fields__)


def test_dropdowns_narrow_to_the_chosen_geography(options):
    in_ncl = dropdown_options("borough", FilterState(icb=NORTH_CENTRAL), options)
    assert {o["value"] for o in in_ncl} == {b for b, icb in options.borough_icb.items() if icb == NORTH_CENTRAL}
    practices = dropdown_options("practice", FilterState(borough=CAMDEN), options)
    assert practices and all(options.practice_borough[o["value"]] == CAMDEN for o in practices)
    assert len(dropdown_options("practice", FilterState(), options)) == len(options.practices)
