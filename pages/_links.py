"""Reading a page's address: each URL query value checked against what the page offers.

A shared or bookmarked link may carry a value the page does not have (a typo, a measure, period or
area that is no longer there). The page opens on its default for that control and tells the user
which part of the link it left out (:func:`components.layout.link_problems_note`), rather than quietly
showing something other than what the link asked for.

The leading underscore keeps Dash's page discovery from treating this module as a page.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

import dash_bootstrap_components as dbc

from components.layout import link_problems_note

T = TypeVar("T")
SHOWN_CHARACTERS = 40  # enough of a mistyped value to recognise it; a long crafted one is cut


def shown(value: Any) -> str:
    """A URL value quoted back to the user, cut to a readable length."""
    return str(value)[:SHOWN_CHARACTERS]


class LinkValues:
    """The URL query values a page read, and in words those it could not use."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def pick(self, label: str, value: Any, allowed: Collection, default: T, *, why: str = "") -> T:
        """``value`` when the page offers it, else ``default``; a value given but not offered is noted
        (with ``why``, when the reason is not plain from the value itself).

        A key given twice (``?period=a&period=b``) reaches the page as a list: its first value is read.
        An absent or empty value is not a problem: the page simply opens on its default.
        """
        value = value[0] if isinstance(value, list | tuple) and value else value
        if value is None or value == "" or value == default:
            return default
        if isinstance(value, str) and value in allowed:
            return value  # type: ignore[return-value]
        self.problems.append(f"{label} {shown(value)}" + (f" ({why})" if why else ""))
        return default

    def note(self, problem: str) -> None:
        """Record a problem :meth:`pick` cannot see (e.g. a borough outside the linked ICB)."""
        self.problems.append(problem)

    def message(self) -> dbc.Alert | None:
        """The warning listing what was left out, or None when the whole link was used."""
        return link_problems_note(self.problems, instead="The page shows its default for each.", spacing="mb-3")
