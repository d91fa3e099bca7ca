"""Helpers for tests that need a signed-in user (integration tests with Flask's test client, browser tests).

Integration tests (the app imported in-process with ``PATHFINDER_DEMO=true``)::

    from security.testing import sign_in
    client = app.server.test_client()
    sign_in(client, "demo.gp")            # the demo password is looked up; raises if sign-in fails
    client.post("/_dash-update-component", json=payload)

Browser tests: POST the same form (or fill ``#username`` / ``#password`` on ``/login``) and keep the
context's cookies. Calling a callback as a plain function: ``with security.web.acting_as(principal): ...``.
"""

from __future__ import annotations

import atexit
import base64
import csv
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any

from security.users import DEMO_ACCOUNTS

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
DEMO_PASSWORDS = {account.username: account.password for account in DEMO_ACCOUNTS}


def use_throwaway_audit_dir(prefix: str) -> None:
    """Point ``PATHFINDER_AUDIT_DIR`` at a new temporary folder, removed when the process ends, unless it is set.

    For test runs and benchmarks, so their audit logs never land in the working tree nor pile up in /tmp.
    """
    if "PATHFINDER_AUDIT_DIR" not in os.environ:
        os.environ["PATHFINDER_AUDIT_DIR"] = tempfile.mkdtemp(prefix=prefix)
        atexit.register(shutil.rmtree, os.environ["PATHFINDER_AUDIT_DIR"], ignore_errors=True)


def csrf_token(client: Any) -> str:
    """The sign-in form's CSRF token for this client's session."""
    page = client.get("/login")
    match = _CSRF.search(page.get_data(as_text=True))
    if match is None:
        raise AssertionError(f"/login did not serve the sign-in form (status {page.status_code})")
    return match.group(1)


def sign_in(client: Any, username: str, password: str | None = None) -> Any:
    """Sign ``client`` (a Flask test client) in; ``password`` defaults to the demo account's. Returns the response."""
    password = DEMO_PASSWORDS.get(username, "") if password is None else password
    form = {"username": username, "password": password, "csrf_token": csrf_token(client)}
    response = client.post("/login", data=form)
    if response.status_code != 302:
        raise AssertionError(f"sign-in as {username!r} failed with status {response.status_code}")
    return response


# ----------------------------------------------------------------------------- driving Dash callbacks over HTTP

UPDATE_COMPONENT = "/_dash-update-component"
# Dash's page router: renders a page's layout for a pathname and query string.
PAGES_ROUTER = ".._pages_content.children..._pages_store.data.."


def _id_key(component_id: Any) -> str:
    """The string Dash uses for an id (pattern-matching ids are dicts, serialised with sorted keys)."""
    if isinstance(component_id, dict):
        return json.dumps(component_id, sort_keys=True, separators=(",", ":"))
    return str(component_id)


def _matches(pattern: dict, component_id: dict) -> bool:
    """Whether a concrete dict id matches a wildcard id (ALL / MATCH / ALLSMALLER match any value)."""
    if set(pattern) != set(component_id):
        return False
    return all(isinstance(v, list) or component_id[k] == v for k, v in pattern.items())


def layout_props(tree: Any) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Every component with an id in a serialised Dash layout: ``{id key: (id, props)}``."""
    found: dict[str, tuple[Any, dict[str, Any]]] = {}
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list | tuple):
            stack.extend(node)
        elif isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and "type" in node:
                if props.get("id") is not None:
                    found[_id_key(props["id"])] = (props["id"], props)
                stack.extend(v for v in props.values() if isinstance(v, list | dict))
            else:
                stack.extend(v for v in node.values() if isinstance(v, list | dict))
    return found


class CallbackDriver:
    """Builds the JSON the browser posts to ``/_dash-update-component`` for any registered callback.

    ``dash_app`` is the app's :class:`dash.Dash`; its callbacks registered with ``dash.callback`` are
    merged into ``callback_map`` first (Dash does that, and adds its page router, on the first request).
    Input and state values
    come from a rendered layout (:meth:`render` through the real router callback, as a signed-in
    browser gets it) and can be overridden per call.
    """

    def __init__(self, dash_app: Any):
        # Dash merges ``dash.callback`` callbacks and adds the page router on the first request.
        dash_app.server.test_client().get("/healthz")
        self.dash_app = dash_app

    @property
    def callbacks(self) -> dict[str, dict[str, Any]]:
        """Every callback: ``{output key: callback_map entry}`` (clientside ones have no ``callback``)."""
        return dict(self.dash_app.callback_map)

    def clientside(self) -> dict[str, dict[str, Any]]:
        return {key: entry for key, entry in self.callbacks.items() if "callback" not in entry}

    @staticmethod
    def outputs(key: str) -> list[dict[str, str]]:
        """The outputs of a callback key, as Dash's renderer sends them."""
        parts = key[2:-2].split("...") if key.startswith("..") else [key]
        outputs = []
        for part in parts:
            component_id, prop = part.rsplit(".", 1)
            outputs.append({"id": json.loads(component_id) if component_id.startswith("{") else component_id,
                            "property": prop})  # fmt: skip
        return outputs

    def payload(
        self,
        key: str,
        components: Mapping[str, tuple[Any, dict[str, Any]]] | None = None,
        *,
        values: Mapping[tuple[str, str], Any] | None = None,
        trigger: str | None = None,
    ) -> dict[str, Any]:
        """The request body for callback ``key``.

        ``components`` (from :func:`layout_props`) supplies current property values; ``values``
        overrides them by ``(component id, property)``; ``trigger`` is the changed ``id.prop``
        (default: the first input). n_clicks of the trigger is set to 1 when the layout has none.
        """
        entry = self.callbacks[key]
        components = components or {}
        values = values or {}
        first = entry["inputs"][0]
        trigger = trigger or f"{first['id']}.{first['property']}"

        def item(component_id: Any, prop: str) -> dict[str, Any]:
            id_key = _id_key(component_id)
            if (id_key, prop) in values:
                value = values[(id_key, prop)]
            else:
                value = components.get(id_key, (None, {}))[1].get(prop)
                if value is None and prop == "n_clicks" and f"{id_key}.{prop}" == trigger:
                    value = 1
            return {"id": component_id, "property": prop, "value": value}

        def items(spec: dict[str, str]) -> Any:
            if spec["id"].startswith("{"):
                pattern = json.loads(spec["id"])
                if not any(isinstance(v, list) for v in pattern.values()):
                    return item(pattern, spec["property"])  # a dict id with no wildcard names one component
                return [
                    item(component_id, spec["property"])
                    for component_id, _ in components.values()
                    if isinstance(component_id, dict) and _matches(pattern, component_id)
                ]
            return item(spec["id"], spec["property"])

        outputs = self.outputs(key)
        return {
            "output": key,
            "outputs": outputs if key.startswith("..") else outputs[0],
            "inputs": [items(spec) for spec in entry["inputs"]],
            "state": [items(spec) for spec in entry["state"]],
            "changedPropIds": [trigger],
        }

    def render(self, client: Any, path: str) -> tuple[int, Any]:
        """A page's layout as ``client`` gets it: (status, serialised layout or the error body)."""
        pathname, _, search = path.partition("?")
        query = "?" + search if search else ""
        values = {("_pages_location", "pathname"): pathname, ("_pages_location", "search"): query}
        response = client.post(UPDATE_COMPONENT, json=self.payload(PAGES_ROUTER, values=values))
        if response.status_code != 200:
            return response.status_code, response.get_data(as_text=True)
        return 200, response.get_json()["response"]["_pages_content"]["children"]


# ----------------------------------------------------------------------------- finding counts in callback answers

# Words that make a number next to them a count of people (or of their pathways, admissions, tumours).
COUNT_NOUNS = r"(?:children|patients|people|pathways|admissions|admitted|tumours|adults|vaccinated)"
# CSV / DataTable columns holding counts of people: disclosure control applies to exactly these.
COUNT_COLUMN = re.compile(
    r"^(?:numerator|denominator|patients_to_target|children|children_short|vaccinated|pathways|within_standard"
    r"|patients|recorded|expected|estimated_undiagnosed|to_detect_80|registered_patients"
    r"|\w+_numerator|\w+_denominator|\w+_to_77|\w+_to_80)$"
)
# Header labels of HTML tables whose cells are counts (cells with a % sign are shares and are skipped).
COUNT_HEADER = re.compile(
    r"^(?:numerator|denominator|patients|patients admitted|children|vaccinated|children short of 95%"
    r"|adults on register|expected|estimated undiagnosed|tumours|registered patients|told: pathways"
    r"|treated: pathways|.*more for \d+%.*|more diagnosed for 80% of expected|rows)$",
    re.IGNORECASE,
)
COUNT_LABEL = re.compile(r"children|patients|people|registered|^missing|pathways|tumours|admissions", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"%\{(customdata(?:\[(\d+)\])?|x|y|z|text|value)(?::[^}]*)?\}")
_COUNT_AFTER = re.compile(rf"^\s*(?:of\b|{COUNT_NOUNS}\b)", re.IGNORECASE)
_COUNT_BEFORE = re.compile(rf"(?:\bof|{COUNT_NOUNS}:)\s*$", re.IGNORECASE)
# "fewer than 8 patients" and "1–7 children" state the rule, not a count.
_COUNT_IN_TEXT = re.compile(rf"(?<![\d.,\-–])(?<!than )(\d[\d,]*)(?:\.0+)? (?:more )?{COUNT_NOUNS}\b", re.IGNORECASE)
_INTEGER = re.compile(r"^\s*(\d{1,3}(?:,\d{3})*|\d+)(?:\.0+)?\s*$")


def _plotly_array(value: Any) -> Any:
    """A Plotly JSON array, decoding the typed-array form ``{"dtype", "bdata", "shape"}``."""
    if isinstance(value, dict) and "bdata" in value:
        import numpy as np

        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:
            array = array.reshape([int(n) for n in str(value["shape"]).split(",")])
        return array.tolist()
    return value


def _numbers(value: Any) -> list[float]:
    """Every number in a (nested) list / scalar, strings like "1,234" included."""
    value = _plotly_array(value)
    if isinstance(value, list | tuple):
        return [n for item in value for n in _numbers(item)]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return [] if value != value else [float(value)]  # NaN is "not shown"
    if isinstance(value, str):
        match = _INTEGER.match(value)
        return [float(match.group(1).replace(",", ""))] if match else []
    return []


def _trace_counts(trace: dict[str, Any], path: str) -> list[tuple[str, float]]:
    found: list[tuple[str, float]] = []
    if trace.get("type") == "sankey":
        link = trace.get("link") or {}
        found += [(f"{path}.link.value", n) for n in _numbers(link.get("value"))]
    templates: list[str] = []
    for key in ("hovertemplate", "texttemplate"):
        value = _plotly_array(trace.get(key))
        templates += [t for t in (value if isinstance(value, list) else [value]) if isinstance(t, str)]
    for template in templates:
        for line in re.split(r"<br\s*/?>", template):
            for match in _PLACEHOLDER.finditer(line):
                before, after = line[: match.start()], line[match.end() :]
                if not (_COUNT_AFTER.match(after) or _COUNT_BEFORE.search(before)):
                    continue
                name, index = match.group(1), match.group(2)
                if name.startswith("customdata"):
                    rows = _plotly_array(trace.get("customdata"))
                    if index is not None and isinstance(rows, list):
                        values = [row[int(index)] for row in rows if isinstance(row, list) and len(row) > int(index)]
                    else:
                        values = rows
                else:
                    values = trace.get(name)
                found += [(f"{path}.{name}", n) for n in _numbers(values)]
    for key in ("text", "hovertext"):
        texts = _plotly_array(trace.get(key))
        for text in texts if isinstance(texts, list) else [texts]:
            if isinstance(text, str):
                found += [(f"{path}.{key}", float(m.group(1).replace(",", ""))) for m in _COUNT_IN_TEXT.finditer(text)]
    return found


def _text_of(node: Any) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, int | float) and not isinstance(node, bool):
        return str(node)
    if isinstance(node, list):
        return "".join(_text_of(n) for n in node)
    if isinstance(node, dict) and isinstance(node.get("props"), dict):
        return _text_of(node["props"].get("children"))
    return ""


def _components(node: Any):
    """Every serialised component in a tree (depth first)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict) and isinstance(item.get("props"), dict) and "type" in item:
            yield item
            children = item["props"].get("children")
            if children is not None:
                stack.append(children)


def _table_counts(table: dict[str, Any], path: str) -> list[tuple[str, float]]:
    rows = [c for c in _components(table) if c["type"] == "Tr"]
    if not rows:
        return []
    header = [_text_of(c["props"].get("children")) for c in _components(rows[0]) if c["type"] == "Th"]
    count_columns = {i for i, label in enumerate(header) if COUNT_HEADER.match(label.strip())}
    found = []
    for row in rows[1:]:
        cells = [c for c in _components(row) if c["type"] in ("Td", "Th")]
        for i in count_columns:
            if i < len(cells):
                found += [(f"{path}.{header[i]}", n) for n in _numbers(_text_of(cells[i]["props"].get("children")))]
    return found


def _tree_counts(tree: Any, path: str) -> list[tuple[str, float]]:
    found: list[tuple[str, float]] = []
    for component in _components(tree):
        props = component["props"]
        if component["type"] == "Table":
            found += _table_counts(component, path)
        elif component["type"] == "Graph" and isinstance(props.get("figure"), dict):
            found += _figure_counts(props["figure"], f"{path}.figure")
        elif component["type"] == "DataTable" and isinstance(props.get("data"), list):
            found += _records_counts(props["data"], path)
        elif "stat-card" in str(props.get("className", "")):
            parts = {str(c["props"].get("className", "")).split()[0]: _text_of(c["props"].get("children"))
                     for c in _components(props.get("children")) if c["props"].get("className")}  # fmt: skip
            if COUNT_LABEL.search(parts.get("stat-label", "")):
                found += [(f"{path}.stat:{parts['stat-label']}", n) for n in _numbers(parts.get("stat-value", ""))]
        children = props.get("children")
        for text in children if isinstance(children, list) else [children]:
            if isinstance(text, str):
                found += [(f"{path}.text", float(m.group(1).replace(",", ""))) for m in _COUNT_IN_TEXT.finditer(text)]
    return found


def _figure_counts(figure: dict[str, Any], path: str) -> list[tuple[str, float]]:
    found = []
    for i, trace in enumerate(figure.get("data") or []):
        if isinstance(trace, dict):
            found += _trace_counts(trace, f"{path}.data[{i}]")
    return found


def _records_counts(records: list[Any], path: str) -> list[tuple[str, float]]:
    return [
        (f"{path}.{column}", n)
        for record in records
        if isinstance(record, dict)
        for column, value in record.items()
        if COUNT_COLUMN.match(str(column))
        for n in _numbers(value)
    ]


def _download_counts(download: dict[str, Any], path: str) -> list[tuple[str, float]]:
    content = download.get("content")
    if not isinstance(content, str):
        return []
    if download.get("base64"):
        content = base64.b64decode(content).decode("utf-8", "replace")
    reader = csv.DictReader(io.StringIO(content))
    return _records_counts(list(reader), f"{path}[{download.get('filename')}]")


def count_fields(answer: Any) -> list[tuple[str, float]]:
    """Every number a callback answer shows as a count of people, as ``(where, value)``.

    Counts are: figure values a hover label calls children/patients/people/pathways/... or
    "N of M"; Sankey flows; HTML-table columns headed as counts (:data:`COUNT_HEADER`); DataTable
    and CSV columns named as counts (:data:`COUNT_COLUMN`); headline cards labelled as counts;
    and "N children/patients/..." in any text. Percentages, rates and intervals are not counts.
    """
    found: list[tuple[str, float]] = []
    response = answer.get("response", {}) if isinstance(answer, dict) else {}
    for component_id, props in response.items():
        for prop, value in props.items():
            path = f"{component_id}.{prop}"
            if prop == "figure" and isinstance(value, dict):
                found += _figure_counts(value, path)
            elif isinstance(value, dict) and "content" in value and "filename" in value:
                found += _download_counts(value, path)
            elif prop == "data" and isinstance(value, list):
                found += _records_counts(value, path)
            else:
                found += _tree_counts(value, path)
    return found
