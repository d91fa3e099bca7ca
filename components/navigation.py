"""The navigation bar's links: what a link to another page carries from the address, and the current page.

Each page keeps its controls in its address (``history.replaceState`` from a client-side callback) and reads
them back in ``layout(**query)``, so a view can be bookmarked or shared. A link to another page carries only
what means the same there (:data:`CARRIED_BETWEEN_PAGES`): a value the next page does not offer would be
named there as a problem with the link (``pages/_links.py``), which the app's own links must never cause.
"""

from __future__ import annotations

import json

from dash import ALL, Input, Output, State, clientside_callback

NAV_LINK_TYPE = "nav-link"  # nav link ids are {"type": NAV_LINK_TYPE, "index": path}
PAGE_URL_STATE_TYPE = "page-url-state"  # a page's own address-bar store: {"type": ..., "page": path}
# What a navigation link carries from one page to another: what both pages read with the same meaning and
# codes, each page naming it by its own address key. Hypertension and asthma share the QOF periods (financial
# years and rolling 12 months, one ind_period table); a borough is the same ONS code on hypertension, asthma
# and immunisation (its "area"); the ICB and practice are hypertension's own, carried when it links to itself.
# Cancer (months, trusts, tumour groups) shares nothing and is reached with nothing, as is the overview.
CARRIED_BETWEEN_PAGES: dict[str, dict[str, str]] = {
    "/hypertension": {"qof_period": "period", "borough": "borough", "icb": "icb", "practice": "practice"},
    "/asthma": {"qof_period": "period", "borough": "borough"},
    "/immunisation": {"borough": "area"},
}
# A page's own "everything" value, which is no choice to carry (asthma's borough, immunisation's area).
NOT_CARRIED_VALUES = ("all", "london")


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
    function(pageStates, pathname, ids) {
        const carried = CARRIED_BETWEEN_PAGES;
        const skipped = NOT_CARRIED_VALUES;
        const here = carried[window.location.pathname] || {};
        const current = new URLSearchParams(window.location.search);
        return [
            ids.map(function(id) {
                const params = new URLSearchParams();
                const there = carried[id.index] || {};
                Object.keys(there).forEach(function(shared) {
                    const value = here[shared] ? current.get(here[shared]) : null;
                    if (value && !skipped.includes(value)) { params.set(there[shared], value); }
                });
                const query = params.toString();
                return id.index + (query ? '?' + query : '');
            }),
            ids.map(function(id) { return id.index === pathname; })
        ];
    }
    """.replace("CARRIED_BETWEEN_PAGES", json.dumps(CARRIED_BETWEEN_PAGES)).replace(
        "NOT_CARRIED_VALUES", json.dumps(NOT_CARRIED_VALUES)
    ),
    Output({"type": NAV_LINK_TYPE, "index": ALL}, "href"),
    Output({"type": NAV_LINK_TYPE, "index": ALL}, "active"),
    Input({"type": PAGE_URL_STATE_TYPE, "page": ALL}, "data"),
    Input("_pages_location", "pathname"),  # Dash Pages' own location component
    State({"type": NAV_LINK_TYPE, "index": ALL}, "id"),
)
