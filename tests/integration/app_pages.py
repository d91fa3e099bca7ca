"""Helpers shared by the page tests: the app's pages on the small database, and a search of a layout tree."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest


@contextmanager
def app_pages(small_db: Path, audit_dir: Path, *names: str) -> Iterator[tuple[ModuleType, ...]]:
    """The page modules ``pages.<name>``, with the app's settings pointing at ``small_db`` (demo mode) and an
    audit folder of the test's own; the settings are put back afterwards."""
    patch = pytest.MonkeyPatch()
    patch.setenv("PATHFINDER_DB", str(small_db))
    patch.setenv("PATHFINDER_DEMO", "true")
    patch.setenv("PATHFINDER_AUDIT_DIR", str(audit_dir))
    try:
        importlib.import_module("app")  # registers the pages
        yield tuple(importlib.import_module(f"pages.{name}") for name in names)
    finally:
        patch.undo()


def find(component, predicate: Callable) -> list:
    """Every component in a Dash layout tree satisfying ``predicate``."""
    found = [component] if predicate(component) else []
    children = getattr(component, "children", None)
    if children is None:
        return found
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "to_plotly_json"):
            found.extend(find(child, predicate))
    return found


def text_of(component) -> str:
    """All text inside a Dash component tree."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(text_of(c) for c in component)
    return text_of(getattr(component, "children", None))


def link_warning(tree) -> str | None:
    """The text of a page's "part of the link was not recognised" warning, or None when it shows none."""
    warnings = find(tree, lambda c: "link-problems" in (getattr(c, "className", None) or ""))
    assert len(warnings) <= 1, "one warning lists every unusable part of the link"
    return text_of(warnings[0]) if warnings else None


def server_callbacks(prefix: str) -> list[dict]:
    """The app's server-side callbacks (as ``/_dash-dependencies`` lists them) with an output id starting
    ``prefix``: what a page asks the server for. Read from the real app, signed in as a commissioner."""
    from app import app
    from security.testing import sign_in

    client = app.server.test_client()
    sign_in(client, "demo.commissioner")
    return [
        d
        for d in client.get("/_dash-dependencies").get_json()
        if prefix in d["output"] and d["clientside_function"] is None
    ]


def waits_for_view(callback: dict, opened_id: dict) -> bool:
    """True when ``callback`` takes the view switch's "opened" store ``opened_id`` as an Input."""
    opened = json.dumps(opened_id, separators=(",", ":"), sort_keys=True)
    return {"id": opened, "property": "data"} in callback["inputs"]
