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


def first_draw_problems(prefix: str, waits: dict[str, dict]) -> list[str]:
    """What a page whose ids start ``prefix`` asks the server for on its first draw, beyond its shown view.

    Every server callback of the page must wait (``prevent_initial_call``), and each figure of ``waits``
    (output id -> the view switch's "opened" store id) must take its view's store as an Input, so it is
    asked for when its view is shown. Returns the callbacks that do not, as text (empty when none).
    """
    from app import app
    from security.testing import sign_in

    client = app.server.test_client()
    sign_in(client, "demo.commissioner")
    server_side = [
        d
        for d in client.get("/_dash-dependencies").get_json()
        if prefix in d["output"] and d["clientside_function"] is None
    ]
    problems = [f"fires on the first draw: {d['output']}" for d in server_side if not d["prevent_initial_call"]]
    for output, opened_id in waits.items():
        opened = {"id": json.dumps(opened_id, separators=(",", ":"), sort_keys=True), "property": "data"}
        callback = next(d for d in server_side if f"{output}.figure" in d["output"])
        if opened not in callback["inputs"]:
            problems.append(f"does not wait for its view: {output}")
    return problems if len(server_side) > len(waits) else [f"only {len(server_side)} callbacks for {prefix}"]
