"""The overview's pathfinder cards: each programme's headline measures for London and their spread by borough.

Pure layout from the rows of :func:`queries.overview.pathfinder_headlines` (no SQL). A value hidden by
disclosure control reads "suppressed", never 0.
"""

from __future__ import annotations

from collections.abc import Mapping

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.style import formatted, json_safe, target_label


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def headline_lines(row: Mapping) -> list[str]:
    """What a card says of one headline indicator under its value: target, comparison with London, range.

    ``row``: one row of ``pathfinder_headlines``. Counts are of the boroughs whose value is shown; boroughs
    hidden by disclosure control, and boroughs with nobody eligible, are said in lines of their own, never
    folded into a count.
    """
    unit = row["unit"]
    shown = int(row["boroughs_shown"])
    hidden = int(row["boroughs_suppressed"])
    lines = []
    target = json_safe(row["target"])
    if shown == 0:  # "0 of 0 boroughs meet it" says nothing: say why there is nothing to count
        nothing_shown = "no borough's value is shown"
        if target is not None:
            lines.append(f"{target_label(target, unit=unit)}; {nothing_shown}")
        else:
            lines.append(nothing_shown.capitalize())
    else:
        if target is not None:
            meeting = json_safe(row["boroughs_meeting_target"])
            meeting = 0 if meeting is None else int(meeting)
            lines.append(
                f"{target_label(target, unit=unit)}: "
                f"{meeting} of {_plural(shown, 'borough')} {'meets' if meeting == 1 else 'meet'} it"
            )
        worse, better = int(row["boroughs_worse"]), int(row["boroughs_better"])
        lines.append(f"{_plural(worse, 'borough')} significantly worse than London, {better} better")
    if row["lowest_borough"] is not None and shown > 1:
        lines.append(
            f"Lowest {row['lowest_borough']} {formatted(row['lowest_value'], unit=unit)}, "
            f"highest {row['highest_borough']} {formatted(row['highest_value'], unit=unit)}"
        )
    if hidden:
        lines.append(f"{_plural(hidden, 'borough')} suppressed (1–7 patients), not counted above")
    without = int(json_safe(row.get("boroughs_without_patients")) or 0)
    if without:
        names = row.get("without_patients_names")
        named = f" ({names})" if isinstance(names, str) and names else ""  # missing names arrive as None or NaN
        lines.append(f"{_plural(without, 'borough')}{named} with no eligible patients in the period")
    return lines


def pathfinder_card(*, title: str, href: str, rows: list[Mapping]) -> dbc.Card:
    """A card for one pathfinder: for each headline indicator, London's value and period, then
    :func:`headline_lines`; the title links to the pathfinder's page."""
    body: list = [html.H3(dcc.Link(title, href=href), className="h5 pathfinder-title")]
    for row in rows:
        value = formatted(row["london_value"], unit=row["unit"])
        body.append(
            html.Div(
                [
                    html.Div(row["title"], className="headline-title"),
                    html.Div(
                        [
                            html.Span(value, className="headline-value"),
                            html.Span(f" London, {row['period_label']}", className="stat-note"),
                        ]
                    ),
                    *(html.Div(line, className="stat-note") for line in headline_lines(row)),
                ],
                className="pathfinder-headline",
            )
        )
    return dbc.Card(dbc.CardBody(body), className="stat-card pathfinder-card h-100")


def own_work_links(links: list[tuple[str, str]]) -> dbc.Card | None:
    """Shortcuts to a user's own patients' pages, one per (text, href); None when there are none."""
    if not links:
        return None
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2("Your patients", className="h5"),
                html.Ul([html.Li(dcc.Link(text, href=href)) for text, href in links], className="mb-0"),
            ]
        ),
        className="stat-card mb-3",
    )
