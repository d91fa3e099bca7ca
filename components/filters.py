"""One filter bar whose state lives in the URL query string.

A copied link reopens the same view: pages read ``layout(**query)`` with
:func:`state_from_query`, which never fails. An unknown or inconsistent value
(a borough outside the chosen ICB, a practice code that does not exist, a period
this page does not have) falls back to its default and yields a notice for the
page to show. :func:`query_from_state` writes the state back; the filter bar's
dropdowns are kept in the address bar by a small client-side callback (no round
trip, no page re-render, so figures are recoloured rather than rebuilt), and the
navigation links carry what the user chose to the next page where it means the same
there (:data:`CARRIED_BETWEEN_PAGES`).

Dimension names match the engine's filter dimensions (``imd_quintile`` = national
IMD quintile, ``1`` = most deprived).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, clientside_callback, dcc, html

from components.geometry import reference_table

DIMENSIONS = ("period", "icb", "borough", "pcn", "practice", "age_band", "sex", "ethnicity_group", "imd_quintile")
LABELS = {
    "period": "Period",
    "icb": "ICB",
    "borough": "Borough",
    "pcn": "PCN",
    "practice": "Practice",
    "age_band": "Age band",
    "sex": "Sex",
    "ethnicity_group": "Ethnic group",
    "imd_quintile": "Deprivation (IMD quintile)",
}
# What an empty filter means, for notices and placeholders.
ALL_LABELS = {
    "period": "the latest period",
    "icb": "all ICBs",
    "borough": "all boroughs",
    "pcn": "all PCNs",
    "practice": "all practices",
    "age_band": "all ages",
    "sex": "both sexes",
    "ethnicity_group": "all ethnic groups",
    "imd_quintile": "all quintiles",
}
# The engine's age bands (queries/materialise.py AGE_BANDS) and groups (patient_dim.ethnicity_group).
DEFAULT_AGE_BANDS = ("0-4", "5-17", "18-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+")
SEXES = (("F", "Female"), ("M", "Male"))
ETHNICITY_GROUPS = ("Asian", "Black", "Mixed", "White", "Other", "Not stated")
IMD_QUINTILES = (("1", "Q1 (most deprived)"), ("2", "Q2"), ("3", "Q3"), ("4", "Q4"), ("5", "Q5 (least deprived)"))

FILTER_TYPE = "filter"  # dropdown ids are {"type": FILTER_TYPE, "dimension": name}
URL_SYNC_ID = "filter-url-sync"  # a dcc.Store in the navbar; holds the current filter query string
NAV_LINK_TYPE = "nav-link"  # nav link ids are {"type": NAV_LINK_TYPE, "index": path}
_LONGEST_ECHO = 40  # a notice quotes at most this much of a bad value from the URL
PAGE_URL_STATE_TYPE = "page-url-state"  # a page's own address-bar store: {"type": ..., "page": path}
# What a navigation link carries from one page to another: the address keys both pages read with the same
# meaning and codes. Hypertension and asthma share the QOF periods (financial years and rolling 12 months,
# one ind_period table) and the borough codes; the ICB and practice are hypertension's own, carried when
# it links to itself. Cancer (months, trusts) and immunisation (quarters, campaigns, "area") are reached
# with nothing: a value a page does not offer is named as a problem with the link (pages/_links.py), so
# carrying one would warn about the app's own link.
CARRIED_BETWEEN_PAGES = {
    "/hypertension": ("period", "icb", "borough", "practice"),
    "/asthma": ("period", "borough"),
}


@dataclass(frozen=True)
class FilterState:
    """The filters in force; ``None`` means "all" (or, for period, the latest complete period)."""

    period: str | None = None
    icb: str | None = None
    borough: str | None = None
    pcn: str | None = None
    practice: str | None = None
    age_band: str | None = None
    sex: str | None = None
    ethnicity_group: str | None = None
    imd_quintile: str | None = None

    def engine_filters(self) -> dict[str, str]:
        """The filters for ``queries.indicators`` (every dimension set, except the period)."""
        return {name: value for name, value in dataclasses.asdict(self).items() if value and name != "period"}

    def replace(self, **changes: str | None) -> FilterState:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class FilterOptions:
    """The values each dimension accepts: (code, label) pairs, with the geography's hierarchy.

    Build with :meth:`from_reference`; pages pass the periods their indicator has.
    """

    periods: tuple[tuple[str, str], ...] = ()
    icbs: tuple[tuple[str, str], ...] = ()
    boroughs: tuple[tuple[str, str], ...] = ()
    pcns: tuple[tuple[str, str], ...] = ()
    practices: tuple[tuple[str, str], ...] = ()
    age_bands: tuple[tuple[str, str], ...] = tuple((band, band) for band in DEFAULT_AGE_BANDS)
    sexes: tuple[tuple[str, str], ...] = SEXES
    ethnicity_groups: tuple[tuple[str, str], ...] = tuple((group, group) for group in ETHNICITY_GROUPS)
    imd_quintiles: tuple[tuple[str, str], ...] = IMD_QUINTILES
    # child code -> parent code, for consistency checks and narrowing dropdowns
    borough_icb: Mapping[str, str] = field(default_factory=dict)
    practice_pcn: Mapping[str, str] = field(default_factory=dict)
    practice_borough: Mapping[str, str] = field(default_factory=dict)
    practice_icb: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_reference(
        cls, *, periods: list[tuple[str, str]] | tuple = (), age_bands: tuple[str, ...] = DEFAULT_AGE_BANDS
    ) -> FilterOptions:
        """Geography from the reference files (ICBs, boroughs, PCNs, practices); ``periods`` as (id, label)."""
        return dataclasses.replace(
            _reference_options(), periods=tuple(periods), age_bands=tuple((band, band) for band in age_bands)
        )

    def choices(self, dimension: str) -> tuple[tuple[str, str], ...]:
        """The (code, label) pairs for ``dimension``."""
        return {
            "period": self.periods,
            "icb": self.icbs,
            "borough": self.boroughs,
            "pcn": self.pcns,
            "practice": self.practices,
            "age_band": self.age_bands,
            "sex": self.sexes,
            "ethnicity_group": self.ethnicity_groups,
            "imd_quintile": self.imd_quintiles,
        }[dimension]


@cache
def _reference_options() -> FilterOptions:
    icbs = reference_table("icbs").sort_values("icb_short_name")
    boroughs = reference_table("boroughs").sort_values("borough_name")
    practices = reference_table("practices").sort_values("practice_name")
    pcns = practices.dropna(subset=["pcn_code"]).drop_duplicates("pcn_code").sort_values("pcn_name")
    return FilterOptions(
        icbs=tuple(zip(icbs["icb_code"], icbs["icb_short_name"], strict=True)),
        boroughs=tuple(zip(boroughs["borough_code"], boroughs["borough_name"], strict=True)),
        pcns=tuple(zip(pcns["pcn_code"], pcns["pcn_name"].str.title().str.replace(" Pcn", " PCN"), strict=True)),
        practices=tuple(
            (code, f"{name} ({code})")
            for code, name in zip(practices["practice_code"], practices["practice_name"], strict=True)
        ),
        borough_icb=dict(zip(boroughs["borough_code"], boroughs["icb_code"], strict=True)),
        practice_pcn={
            p: pcn
            for p, pcn in zip(practices["practice_code"], practices["pcn_code"], strict=True)
            if isinstance(pcn, str)
        },  # a few practices belong to no PCN
        practice_borough=dict(zip(practices["practice_code"], practices["borough_code"], strict=True)),
        practice_icb=dict(zip(practices["practice_code"], practices["icb_code"], strict=True)),
    )


def _echo(value: str) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= _LONGEST_ECHO else text[: _LONGEST_ECHO - 1] + "…"


def _first(value) -> str | None:
    """Dash gives a repeated query key as a list; the first value wins."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def state_from_query(
    query: Mapping[str, object], *, options: FilterOptions | None = None
) -> tuple[FilterState, list[str]]:
    """The filter state a URL asks for, and a notice for every value that was not usable.

    ``query`` is what Dash passes to ``layout(**query)`` (or ``parse_qs`` output).
    Keys that are not filters belong to the page and are ignored. A value that is
    not one of ``options`` (matched case-insensitively), or that contradicts a wider
    filter (a borough outside the ICB, a practice outside the borough or PCN), falls
    back to its default; never raises.
    """
    options = options or FilterOptions.from_reference()
    chosen: dict[str, str | None] = {}
    notices: list[str] = []
    for dimension in DIMENSIONS:
        raw = _first(query.get(dimension))
        if raw is None:
            continue
        known = {code.casefold(): code for code, _ in options.choices(dimension)}
        if raw.casefold() in known:
            chosen[dimension] = known[raw.casefold()]
        else:
            notices.append(
                f"{LABELS[dimension]} \u201c{_echo(raw)}\u201d in the link is not available here: "
                f"showing {ALL_LABELS[dimension]} instead."
            )
    notices += _drop_contradictions(chosen, options)
    return FilterState(**chosen), notices


def _drop_contradictions(chosen: dict[str, str | None], options: FilterOptions) -> list[str]:
    notices = []

    def drop(dimension: str, wider: str) -> None:
        label = dict(options.choices(dimension)).get(chosen[dimension], chosen[dimension])
        notices.append(
            f"{LABELS[dimension]} \u201c{label}\u201d is not in the chosen {LABELS[wider]}, "
            f"so the {LABELS[dimension]} filter was cleared."
        )
        chosen[dimension] = None

    if chosen.get("borough") and chosen.get("icb") and options.borough_icb.get(chosen["borough"]) != chosen["icb"]:
        drop("borough", "icb")
    if chosen.get("pcn"):
        members = [p for p, pcn in options.practice_pcn.items() if pcn == chosen["pcn"]]
        for wider, parents in (("icb", options.practice_icb), ("borough", options.practice_borough)):
            if chosen.get("pcn") and chosen.get(wider) and not any(parents.get(p) == chosen[wider] for p in members):
                drop("pcn", wider)
    if chosen.get("practice"):
        parents = {"icb": options.practice_icb, "borough": options.practice_borough, "pcn": options.practice_pcn}
        for wider, lookup in parents.items():
            if chosen.get("practice") and chosen.get(wider) and lookup.get(chosen["practice"]) != chosen[wider]:
                drop("practice", wider)
    return notices


def query_from_state(state: FilterState) -> str:
    """The query string (with its leading '?', or '' when nothing is filtered) for ``state``.

    Keys appear in :data:`DIMENSIONS` order so equal states give equal links.
    """
    pairs = [(name, value) for name in DIMENSIONS if (value := getattr(state, name))]
    return "?" + urlencode(pairs) if pairs else ""


def state_from_controls(values: Mapping[str, str | None]) -> FilterState:
    """The state from the filter bar's dropdown values (dimension -> value or None)."""
    return FilterState(**{name: _first(values.get(name)) for name in DIMENSIONS})


def dropdown_options(dimension: str, state: FilterState, options: FilterOptions) -> list[dict[str, str]]:
    """The dropdown options for ``dimension``, narrowed by the wider geography already chosen."""
    pairs = options.choices(dimension)
    if dimension == "borough" and state.icb:
        pairs = tuple(p for p in pairs if options.borough_icb.get(p[0]) == state.icb)
    if dimension in {"pcn", "practice"}:
        practices = set(options.practice_borough)  # every practice; some have no PCN
        for wider, lookup in (("icb", options.practice_icb), ("borough", options.practice_borough)):
            if getattr(state, wider):
                practices = {p for p in practices if lookup.get(p) == getattr(state, wider)}
        if dimension == "practice" and state.pcn:
            practices = {p for p in practices if options.practice_pcn.get(p) == state.pcn}
        allowed = practices if dimension == "practice" else {options.practice_pcn.get(p) for p in practices}
        pairs = tuple(p for p in pairs if p[0] in allowed)
    return [{"label": label, "value": code} for code, label in pairs]


def filter_bar(
    state: FilterState,
    options: FilterOptions,
    *,
    dimensions: tuple[str, ...] = DIMENSIONS,
    notices: list[str] | None = None,
) -> html.Div:
    """The filter bar: one labelled dropdown per dimension, and any notices from :func:`state_from_query`.

    Dropdown ids are ``{"type": "filter", "dimension": name}`` so one pattern-matching
    callback can read them all; their values are kept in the URL client-side.
    """
    controls = []
    for dimension in dimensions:
        control_id = {"type": FILTER_TYPE, "dimension": dimension}
        dropdown = dcc.Dropdown(
            id=control_id,
            options=dropdown_options(dimension, state, options),
            value=getattr(state, dimension),
            placeholder=ALL_LABELS[dimension][0].upper() + ALL_LABELS[dimension][1:],
            clearable=True,
            searchable=True,
            persistence=False,
        )
        controls.append(
            dbc.Col(
                html.Div([html.Label(LABELS[dimension], className="filter-label"), dropdown]),
                xs=12,
                sm=6,
                md=4,
                lg=3,
                xl=True,
                className="mb-2",
            )
        )
    body = [dbc.Row(controls, className="g-2")]
    if notices:
        body.insert(0, notices_alert(notices))
    return html.Div(body, className="filter-bar mb-3", role="search", **{"aria-label": "Filters"})


def notices_alert(notices: list[str]) -> dbc.Alert:
    """The notices about values in the link that could not be used (a visible message, never an error page)."""
    return dbc.Alert(
        [
            html.Strong("Some filters in the link were reset. "),
            html.Ul([html.Li(n) for n in notices], className="mb-0"),
        ],
        color="info",
        dismissable=True,
        className="filter-notices",
    )


# Client side: keep the address bar in step with the dropdowns without a server round trip or a page
# re-render (history.replaceState fires no navigation), keeping query keys that belong to the page.
clientside_callback(
    """
    function(values, ids) {
        const params = new URLSearchParams(window.location.search);
        ids.forEach(function(id, i) {
            const value = values[i];
            if (value === null || value === undefined || value === '') { params.delete(id.dimension); }
            else { params.set(id.dimension, value); }
        });
        const search = params.toString();
        window.history.replaceState(window.history.state, '', window.location.pathname + (search ? '?' + search : ''));
        return search;
    }
    """,
    Output(URL_SYNC_ID, "data"),
    Input({"type": FILTER_TYPE, "dimension": ALL}, "value"),
    State({"type": FILTER_TYPE, "dimension": ALL}, "id"),
)


def page_url_state_id(path: str) -> dict[str, str]:
    """The id of the store a page's address-bar callback writes its query string to.

    The navigation listens to every such store, so its links are rebuilt from the address as soon as a
    page changes it (a link worked out when the page opened would carry the filters the user has since
    changed).
    """
    return {"type": PAGE_URL_STATE_TYPE, "page": path}


# Navigation links carry what the user chose to the next page, where it means the same there, and show the
# current page. The links are rebuilt whenever a page writes the address (page_url_state_id).
clientside_callback(
    """
    function(search, pageStates, pathname, ids) {
        const carried = CARRIED_BETWEEN_PAGES;
        const here = carried[window.location.pathname] || [];
        const current = new URLSearchParams(window.location.search);
        return [
            ids.map(function(id) {
                const params = new URLSearchParams();
                (carried[id.index] || []).forEach(function(key) {
                    const value = current.get(key);
                    if (here.includes(key) && value && value !== 'all') { params.set(key, value); }
                });
                const query = params.toString();
                return id.index + (query ? '?' + query : '');
            }),
            ids.map(function(id) { return id.index === pathname; })
        ];
    }
    """.replace(
        "CARRIED_BETWEEN_PAGES", json.dumps({path: list(keys) for path, keys in CARRIED_BETWEEN_PAGES.items()})
    ),
    Output({"type": NAV_LINK_TYPE, "index": ALL}, "href"),
    Output({"type": NAV_LINK_TYPE, "index": ALL}, "active"),
    Input(URL_SYNC_ID, "data"),
    Input({"type": PAGE_URL_STATE_TYPE, "page": ALL}, "data"),
    Input("_pages_location", "pathname"),  # Dash Pages' own location component
    State({"type": NAV_LINK_TYPE, "index": ALL}, "id"),
)
