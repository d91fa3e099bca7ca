"""Layers only reach down: the data and query layers never import the UI, components never run SQL."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "queries": {"dash", "plotly", "dash_bootstrap_components", "components", "pages"},
    "data": {"dash", "plotly", "dash_bootstrap_components", "components", "pages", "queries.db"},
    "components": {"duckdb", "queries", "pages"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def violates(module: str, forbidden: set[str]) -> bool:
    return any(module == f or module.startswith(f + ".") for f in forbidden)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_reach_down(layer):
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / layer).rglob("*.py"))
        for module in sorted(imported_modules(path))
        if violates(module, FORBIDDEN[layer])
    ]
    assert offenders == []


def test_the_check_itself_catches_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import plotly.express as px\nfrom dash import html\n")
    assert {m for m in imported_modules(bad) if violates(m, FORBIDDEN["queries"])} == {"plotly.express", "dash"}


def sql_calls(path: Path) -> list[int]:
    """Lines calling ``.execute(...)`` or ``.sql(...)`` on anything (a DuckDB connection, cursor or relation)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in {"execute", "sql"}
    ]


@pytest.mark.parametrize("layer", ["pages", "components"])
def test_pages_and_components_run_no_sql_of_their_own(layer):
    """SQL lives in queries/ (bound parameters, whitelisted identifiers, tested); pages only call it."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line}" for path in sorted((ROOT / layer).rglob("*.py")) for line in sql_calls(path)
    ]
    assert offenders == []


def test_the_sql_check_catches_a_query(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def labels(con):\n    return con.cursor().execute('SELECT 1').fetchall()\n")
    assert sql_calls(bad) == [2]
