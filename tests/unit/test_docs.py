"""The documentation a newcomer reads first stays true to the code: commands, links, settings, result files."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from settings import PROJECT_ROOT, SETTINGS, Setting

ROOT = Path(__file__).resolve().parents[2]
DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "components/README.md",
    ROOT / "data/README.md",
    ROOT / "tests/README.md",
]
# A Markdown link's target, without its #anchor: [text](target#anchor)
LINK = re.compile(r"\]\(([^)#\s]*)(?:#[^)\s]*)?\)")


def doc_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_readme_starts_with_make_run_and_make_test():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block, "README.md has no sh code block"
    assert text.index("```sh") < text.index("\n## "), "the two commands come before any section"
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands[:2] == ["make run", "make test"]


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_relative_links_resolve(doc):
    targets = [t for t in LINK.findall(doc.read_text()) if t and not re.match(r"[a-z]+:", t)]
    missing = [t for t in targets if not (doc.parent / t).exists()]
    assert not missing, f"{doc_id(doc)} links to missing files: {missing}"


def test_make_targets_named_in_docs_exist():
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M))
    named = {(doc_id(doc), name) for doc in DOCS for name in re.findall(r"`make ([a-z][a-z-]*)", doc.read_text())}
    assert named, "no make target found in the docs: the pattern is wrong"
    assert not [pair for pair in named if pair[1] not in targets]


def test_python_modules_named_in_docs_exist():
    named = {m for doc in DOCS for m in re.findall(r"python -m ([a-z_][a-z_.]*[a-z_])", doc.read_text())}
    assert "data.build" in named
    assert not [m for m in sorted(named) if importlib.util.find_spec(m) is None]


def test_bench_results_cited_in_docs_exist():
    cited = {f for doc in DOCS for f in re.findall(r"bench/results/([\w.-]+\.(?:md|json))", doc.read_text())}
    assert cited
    assert not [f for f in sorted(cited) if not (ROOT / "bench/results" / f).exists()]


def shown_default(setting: Setting) -> str:
    """How docs/settings.md writes a setting's default."""
    value = setting.default
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "":
        return "empty"
    if isinstance(value, str) and value.startswith(str(PROJECT_ROOT)):
        return f"`{Path(value).relative_to(PROJECT_ROOT)}`"
    return f"`{value}`"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env_var)
def test_every_setting_documented_once_with_its_default(setting):
    rows = [line for line in (ROOT / "docs/settings.md").read_text().splitlines() if f"| `{setting.env_var}` |" in line]
    assert len(rows) == 1, f"{setting.env_var}: {len(rows)} rows in docs/settings.md"
    assert rows[0].split("|")[2].strip().startswith(shown_default(setting))


def test_docs_name_only_settings_that_exist():
    known = {s.env_var for s in SETTINGS}
    named = {(doc_id(doc), v) for doc in DOCS for v in re.findall(r"PATHFINDER_[A-Z][A-Z0-9_]*", doc.read_text())}
    assert not [pair for pair in named if pair[1] not in known]
