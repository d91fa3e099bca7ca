"""Every page callback's server time through the real ``/_dash-update-component`` endpoint.

The app is built in-process against ``--db`` (demo mode, signed in through Flask's test client
as a commissioner, a GP team, a campaign responder and an admin for their views). Callbacks are
enumerated from the app's own callback map (``/_dash-dependencies``), never listed by hand, so a
new callback is measured without touching this script.

Each page is driven like a browser tab would drive it: the page is rendered (the ``_pages_content``
callback), every initial callback fires in dependency order, and then the session changes one
control at a time (indicator, period, map level, borough, ICB, practice, filters, tabs, buttons)
to a random value from the control's own options, firing every callback that has the changed
property as an Input and then whatever those outputs feed, as Dash's renderer does. Responses are
applied to the session's state (new options, stores, children), so dependent dropdowns and
"already drawn" stores behave as in the browser. The per-process caches are warmed first, as a serving
worker does at start (``app.warm_caches``); the first call of each callback in the process (cold: file
pages, lazily built state) is still reported apart from the warm p50/p95/max.

    python bench/callbacks.py --db /tmp/s1/pathfinder.duckdb [--repeat 20] [--out report.md]
        [--seed 7] [--query-cache off|on|default] [--pages /asthma ...] [--profile DIR] [--json samples.json]

Server time = wall time of the POST in-process (routing, auth, callback, JSON encoding, compression);
CPU = process CPU time over the call (DuckDB worker threads included), a steadier figure than wall
time on a shared machine. Bytes = the encoded body a browser receives (raw JSON in brackets).

Requests accept gzip alone unless ``--accept-encoding`` says otherwise: the dearest encoding the server offers
(level 6). Chromium and Firefox send "gzip, deflate, br, zstd" and get zstd (level 3), much cheaper on a large
response: ``--accept-encoding "gzip, deflate, br, zstd"`` times what they get.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_MS = 150.0
UPDATE_URL = "/_dash-update-component"
PAGES_OUTPUT = ".._pages_content.children..._pages_store.data.."
GP_PRACTICE = "E83003"  # demo.gp's practice (docs/security.md)

# Controls without an options list (free inputs and dates): the values a user would type.
VALUE_POOLS: dict[str, list[Any]] = {
    "imm-cohort-age-min": [0, 1, 1, 2, 3],
    "imm-cohort-age-max": [4, 5, 5, 9, 9],
    "imm-cohort-registered-after": [None, None, "2024-04-01", "2025-09-01"],
    # Mostly the extract date (None: the page's default); some searches look back, to the 2022 polio campaign.
    "imm-cohort-as-at": [None, None, None, "2026-09-01", "2025-03-31", "2022-09-01"],
    # Codes typed into the finder: mostly none; a Hackney practice and PCN, a Barnet pair (with Hackney ticked, the
    # page says the practice is not in a ticked borough: a user's slip, timed too).
    "imm-cohort-practice": [None, None, "F84003", "E83003, F84003"],
    "imm-cohort-pcn": [None, None, "U05451", "U33392"],
    "admin-audit-username": ["", "", "demo.gp", "demo.campaign"],
    "imm-cohort-list.page_current": [0, 1, 2],
}
# A user with rows in a scope searches inside it: a campaign responder ticks their own borough (or none) and types
# its PCNs and practices; a GP team its own practice. Picked from every borough, every export of a run at 4838431
# found no child in scope: the largest list, the responder's, was never timed.
ROLE_VALUE_POOLS: dict[str, dict[str, list[Any]]] = {
    "demo.campaign": {
        "imm-cohort-borough": ["E09000012"],
        "imm-cohort-practice": [None, None, "F84003"],
        "imm-cohort-pcn": [None, None, "U05451"],
    },
    "demo.gp": {"imm-cohort-borough": ["E09000003"], "imm-cohort-practice": [None, None, GP_PRACTICE]},
}
WIDEST_LIST_PATH = "/immunisation/cohort?age=0-18&missing={missing}"
# Buttons pressed as a tab opens, before the mix changes any filter: the export of the widest list, each time it is
# opened (the mix's filters narrow a list before most of its exports).
OPENING_CLICKS = {WIDEST_LIST_PATH.split("?")[0] + "?age=0-18": ("imm-cohort-download-list-button",)}
MAX_FIRES_PER_STEP = 40
# Properties a person sets (buttons are clicked through n_clicks, always): an Input or State of one of these on
# the page that the mix cannot change (no options, no VALUE_POOLS entry) is listed in the report, so a new free
# input is not left at its default unnoticed (the finder's date was, until the ninth session).
USER_PROPS = frozenset({"value", "page_current"})


@dataclass
class Sample:
    wall_ms: float
    cpu_ms: float
    wire_bytes: int
    raw_bytes: int
    status: int
    cold: bool
    role: str
    path: str


@dataclass
class Recorder:
    """Samples per callback (keyed by the callback map's output string)."""

    samples: dict[str, list[Sample]] = field(default_factory=lambda: defaultdict(list))
    names: dict[str, str] = field(default_factory=dict)
    profiles: dict[str, tuple[float, str]] = field(default_factory=dict)
    unvaried: dict[str, set[str]] | None = field(default_factory=lambda: defaultdict(set))  # page -> "id.prop"

    def warm_count(self, key: str, path: str, role: str) -> tuple[int, int]:
        """(warm calls that updated the page, all warm calls) of a callback on a page for one role.

        Per role: a page two roles open (the asthma page for a commissioner and a GP team) does different
        work for each (only the GP team's patient list returns rows), and each role's session wants its
        own samples; counted per page alone, the second role's session found them taken and skipped them.
        """
        warm = [s for s in self.samples[key] if not s.cold and s.path == path and s.role == role]
        return sum(1 for s in warm if s.status != 204), len(warm)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", help="DuckDB database built by data.build")
    parser.add_argument("--repeat", type=int, default=20, help="warm calls wanted per callback per page (default 20)")
    parser.add_argument("--out", help="write the Markdown report here (also printed)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the random interaction mix")
    parser.add_argument(
        "--query-cache",
        choices=("off", "on", "default"),
        default="off",
        help="PATHFINDER_QUERY_CACHE for the run when the app knows that setting (default off: measure the work)",
    )
    parser.add_argument(
        "--accept-encoding",
        default="gzip",
        help='the requests\' Accept-Encoding (default gzip; Chromium sends "gzip, deflate, br, zstd")',
    )
    parser.add_argument("--pages", nargs="*", help="only these page paths (e.g. /asthma /hypertension)")
    parser.add_argument("--profile", help="folder for a pyinstrument profile of each callback's slowest warm call")
    parser.add_argument("--json", help="also write every sample as JSON here")
    parser.add_argument(
        "--compare", help="samples JSON of an earlier run: add before/after tables (percentiles, and call by call)"
    )
    parser.add_argument("--from-json", help="report from this samples JSON instead of running (with --compare)")
    parser.add_argument("--db-label", help="with --from-json: the database the samples came from, for the header")
    args = parser.parse_args(argv)
    if not args.db and not args.from_json:
        parser.error("--db is required (or --from-json)")
    return args


def configure_environment(args: argparse.Namespace) -> str:
    """Point the app at the database in demo mode; returns what was done with the query cache setting."""
    os.environ["PATHFINDER_DB"] = str(Path(args.db).resolve())
    os.environ["PATHFINDER_DEMO"] = "true"
    from security.testing import use_throwaway_audit_dir

    use_throwaway_audit_dir("bench-callbacks-audit-")
    import settings

    known = {s.env_var for s in settings.SETTINGS}
    if "PATHFINDER_QUERY_CACHE" not in known:
        os.environ.pop("PATHFINDER_QUERY_CACHE", None)  # unknown PATHFINDER_* variables stop the app
        return "not available in this version"
    if args.query_cache == "default":
        return f"default ({os.environ.get('PATHFINDER_QUERY_CACHE', 'unset')})"
    os.environ["PATHFINDER_QUERY_CACHE"] = "1" if args.query_cache == "on" else "0"
    return args.query_cache


# ----------------------------------------------------------------------------- the callback map


def _parse_id(text: str) -> str | dict:
    return json.loads(text) if text.startswith("{") else text


def _outputs_of(output: str) -> list[tuple[str, str]]:
    """(id, property) of each output in a callback map key (``..a.x...b.y..`` or ``a.x``)."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    result = []
    for part in parts:
        ident, prop = part.rsplit(".", 1)
        result.append((ident, prop))
    return result


@dataclass(eq=False)  # identity: a callback is one entry of the map
class Callback:
    key: str
    outputs: list[tuple[str, str]]
    inputs: list[tuple[str | dict, str]]
    states: list[tuple[str | dict, str]]
    prevent_initial_call: bool

    @property
    def multi(self) -> bool:
        return self.key.startswith("..")


def server_callbacks(client) -> list[Callback]:
    """The app's server-side callbacks, from the dependency list the browser receives."""
    response = client.get("/_dash-dependencies")
    if response.status_code != 200:
        raise SystemExit(f"/_dash-dependencies answered {response.status_code}")
    result = []
    for dep in response.get_json():
        if dep.get("clientside_function") or dep["output"] == PAGES_OUTPUT:
            continue
        result.append(
            Callback(
                key=dep["output"],
                outputs=_outputs_of(dep["output"]),
                inputs=[(_parse_id(i["id"]), i["property"]) for i in dep["inputs"]],
                states=[(_parse_id(s["id"]), s["property"]) for s in dep["state"]],
                prevent_initial_call=bool(dep.get("prevent_initial_call")),
            )
        )
    return result


def callback_names(app) -> dict[str, str]:
    """A readable name (page module and function) per callback map key."""
    names = {}
    for key, entry in app.callback_map.items():
        function = entry.get("callback")
        inner = getattr(function, "__wrapped__", function)
        module = getattr(inner, "__module__", "?").replace("pages.", "")
        names[key] = f"{module}.{getattr(inner, '__name__', '?')}"
    return names


# ----------------------------------------------------------------------------- a browser tab


def _stringify(ident: str | dict) -> str:
    from dash._utils import stringify_id

    return stringify_id(ident)


def _matches(pattern: dict, ident: Any) -> bool:
    if not isinstance(ident, dict) or set(ident) != set(pattern):
        return False
    return all(isinstance(v, list) or ident[k] == v for k, v in pattern.items())


def _walk(node: Any, found: dict[str, dict]) -> None:
    """Index every component with an id in a layout (JSON form) by its stringified id."""
    if isinstance(node, list):
        for item in node:
            _walk(item, found)
        return
    if not isinstance(node, dict):
        return
    props = node.get("props")
    if isinstance(props, dict) and "type" in node:
        if "id" in props:
            found[_stringify(props["id"])] = {"_id": props["id"], "_type": node["type"], **props}
        for value in props.values():
            if isinstance(value, list | dict):
                _walk(value, found)


def _option_values(options: Any) -> list[Any]:
    if isinstance(options, dict):
        return list(options)
    values = []
    for option in options or []:
        if isinstance(option, dict):
            if not option.get("disabled"):
                values.append(option.get("value"))
        else:
            values.append(option)
    return values


class Tab:
    """One signed-in browser tab on one page: component state plus Dash's firing rules."""

    def __init__(self, client, callbacks, recorder, rng, *, role, path, profile_dir, accept_encoding="gzip"):
        self.client = client
        self.accept_encoding = accept_encoding
        self.callbacks = callbacks
        self.recorder = recorder
        self.rng = rng
        self.role = role
        self.path = path
        self.profile_dir = profile_dir
        self.state: dict[str, dict] = {}

    # -- state

    def _present(self, ident) -> bool:
        if isinstance(ident, dict) and any(isinstance(v, list) for v in ident.values()):
            return any(_matches(ident, c["_id"]) for c in self.state.values())
        return _stringify(ident) in self.state

    def active(self) -> list[Callback]:
        """Callbacks whose outputs and plain inputs are all on the page."""
        return [
            cb
            for cb in self.callbacks
            if all(self._present(i) for i, _ in cb.inputs) and any(self._present(o) for o, _ in cb.outputs)
        ]

    def _value(self, ident, prop) -> Any:
        return self.state.get(_stringify(ident), {}).get(prop)

    def _arg(self, ident, prop) -> Any:
        if isinstance(ident, dict) and any(isinstance(v, list) for v in ident.values()):
            return [
                {"id": c["_id"], "property": prop, "value": c.get(prop)}
                for c in self.state.values()
                if _matches(ident, c["_id"])
            ]
        return {"id": ident, "property": prop, "value": self._value(ident, prop)}

    def _set(self, ident_str: str, prop: str, value: Any) -> None:
        self.state.setdefault(ident_str, {"_id": _parse_id(ident_str), "_type": "?"})[prop] = value
        if prop == "children":
            _walk(value, self.state)

    # -- the network

    def _post(self, cb: Callback, changed: list[str]) -> dict | None:
        outputs = [{"id": _parse_id(i) if i.startswith("{") else i, "property": p} for i, p in cb.outputs]
        body = {
            "output": cb.key,
            "outputs": outputs if cb.multi else outputs[0],
            "inputs": [self._arg(i, p) for i, p in cb.inputs],
            "state": [self._arg(i, p) for i, p in cb.states],
            "changedPropIds": changed,
        }
        return self._timed(cb.key, body)

    def _timed(self, key: str, body: dict) -> dict | None:
        cold = not self.recorder.samples[key]
        profiler = None
        if self.profile_dir and not cold:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.001)
            profiler.start()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        response = self.client.post(UPDATE_URL, json=body, headers={"Accept-Encoding": self.accept_encoding})
        wall, cpu = (time.perf_counter() - wall0) * 1000, (time.process_time() - cpu0) * 1000
        if profiler is not None:
            profiler.stop()
            best = self.recorder.profiles.get(key)
            if best is None or wall > best[0]:
                self.recorder.profiles[key] = (wall, profiler.output_text(unicode=False, color=False))
        wire = response.get_data()
        raw = _decoded(wire, response.headers.get("Content-Encoding"))
        self.recorder.samples[key].append(
            Sample(wall, cpu, len(wire), len(raw), response.status_code, cold, self.role, self.path)
        )
        if response.status_code == 200:
            return json.loads(raw).get("response", {})
        if response.status_code != 204:
            print(f"  ! {self.recorder.names.get(key, key)} answered {response.status_code}: {raw[:300]!r}")
        return None

    # -- Dash's firing rules

    def open(self) -> None:
        """Render the page and fire its initial callbacks in dependency order."""
        path, _, search = self.path.partition("?")
        body = {
            "output": PAGES_OUTPUT,
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [
                {"id": "_pages_location", "property": "pathname", "value": path},
                {"id": "_pages_location", "property": "search", "value": f"?{search}" if search else ""},
            ],
            "state": [],
            "changedPropIds": ["_pages_location.pathname", "_pages_location.search"],
        }
        shown = re.sub(r"/practice/[^/]+$", "/practice/<ods>", path)
        key = f"page {shown}"
        self.recorder.names.setdefault(key, f"render {shown}")
        response = self._timed(key, body)
        self.state = {}
        if response:
            _walk(response.get("_pages_content", {}).get("children"), self.state)
        initial = [cb for cb in self.active() if not cb.prevent_initial_call]
        self._fire(initial, changed_by={})

    def _fire(self, pending: list[Callback], changed_by: dict[str, list[str]]) -> None:
        pending = list(dict.fromkeys(pending, None))
        fired = 0
        while pending and fired < MAX_FIRES_PER_STEP:
            outputs_pending = {(_stringify_out(i), p) for cb in pending for i, p in cb.outputs}
            ready = [
                cb for cb in pending if not any((_stringify(i), p) in outputs_pending for i, p in cb.inputs)
            ] or pending[:1]
            cb = ready[0]
            pending.remove(cb)
            fired += 1
            response = self._post(cb, changed_by.get(cb.key, []))
            if not response:
                continue
            for ident_str, props in response.items():
                for prop, value in props.items():
                    if isinstance(value, dict) and "__dash_patch_update" in value:
                        continue  # a figure patch; nothing reads figures back
                    before = self.state.get(ident_str, {}).get(prop)
                    self._set(ident_str, prop, value)
                    if value == before and prop != "children":
                        continue
                    for other in self.active():
                        if any(_stringify(i) == ident_str and p == prop for i, p in other.inputs):
                            if other not in pending:
                                pending.append(other)
                            changed_by.setdefault(other.key, []).append(f"{ident_str}.{prop}")

    def _pool(self, ident, prop) -> list[Any] | None:
        """The values a user could give this input, or None when it is not a user control."""
        if prop == "n_clicks":
            return ["click"]
        if isinstance(ident, dict) and any(isinstance(v, list) for v in ident.values()):
            return None  # wildcard inputs other than buttons are not user controls here
        component = self.state.get(_stringify(ident), {})
        named = ROLE_VALUE_POOLS.get(self.role, {}).get(_stringify(ident)) if prop == "value" else None
        named = named or VALUE_POOLS.get(f"{_stringify(ident)}.{prop}")
        if not named and prop == "value":
            named = VALUE_POOLS.get(_stringify(ident))
        if named:
            return named
        if prop == "page_current":
            pages = component.get("page_count") or 1
            return list(range(min(int(pages), 3)))
        if prop == "value" and component.get("options") is not None:
            return _option_values(component["options"])
        return None

    def unvaried_controls(self) -> set[str]:
        """The controls (``id.prop``) read by this page's callbacks that the mix cannot change."""
        return {
            f"{_stringify(ident)}.{prop}"
            for cb in self.active()
            for ident, prop in (*cb.inputs, *cb.states)
            if prop in USER_PROPS and _stringify(ident) in self.state and not self._pool(ident, prop)
        }

    def _change(self, ident, prop) -> str | None:
        """Set one control to a new value as a user would; returns the changed prop id or None."""
        pool = self._pool(ident, prop)
        if not pool:
            return None
        if isinstance(ident, dict):  # a pattern-matched button: click one of them
            matching = [c for c in self.state.values() if _matches(ident, c["_id"])]
            if not matching:
                return None
            target = self.rng.choice(matching)
            target["n_clicks"] = (target.get("n_clicks") or 0) + 1
            return f"{_stringify(target['_id'])}.{prop}"
        component = self.state[_stringify(ident)]
        if pool == ["click"]:
            component["n_clicks"] = (component.get("n_clicks") or 0) + 1
        elif component.get("multi") or isinstance(component.get(prop), list):
            component[prop] = self.rng.sample(pool, k=min(len(pool), self.rng.choice([1, 1, 2])))
        else:
            others = [v for v in pool if v != component.get(prop)] or pool
            component[prop] = self.rng.choice(others)
        return f"{_stringify(ident)}.{prop}"

    def click(self, button_id: str) -> bool:
        """Press a button as it is (no filter changed) and fire what depends on it; False when not on the page."""
        if button_id not in self.state:
            return False
        changed = self._change(button_id, "n_clicks")
        triggered = [cb for cb in self.active() if any(_arg_matches(i, p, changed) for i, p in cb.inputs)]
        self._fire(triggered, changed_by={cb.key: [changed] for cb in triggered})
        return True

    def interact(self, target: Callback) -> bool:
        """Change one of ``target``'s inputs (after setting a few of its filters) and fire what depends on it."""
        choices = [(i, p) for i, p in target.inputs if self._pool(i, p)]
        if not choices:
            return False
        last = self.recorder.samples[target.key][-1:] if self.recorder.samples[target.key] else []
        if last and last[0].status == 204 and self._open_view(target):
            return True
        ident, prop = self.rng.choice(choices)
        if prop == "n_clicks":  # a user sets some filters, then presses the button
            settable = [(i, p) for i, p in target.states if p == "value" and self._pool(i, p)]
            for state_id, state_prop in self.rng.sample(settable, k=min(len(settable), self.rng.randint(0, 3))):
                self._change(state_id, state_prop)
        changed = self._change(ident, prop)
        if changed is None:
            return False
        triggered = [cb for cb in self.active() if any(_arg_matches(i, p, changed) for i, p in cb.inputs)]
        self._fire(triggered, changed_by={cb.key: [changed] for cb in triggered})
        return True

    def _open_view(self, target: Callback) -> bool:
        """Go to the view where ``target`` does work (a tab, a level), as a user would: True when found.

        Tries the values of the target's small choice inputs (tabs, levels: at most 8 options) until
        the target answers with an update instead of 204.
        """
        small = [(i, p) for i, p in target.inputs if p == "value" and 1 < len(self._pool(i, p) or []) <= 8]
        self.rng.shuffle(small)
        for ident, prop in small:
            for value in self.rng.sample(self._pool(ident, prop), k=len(self._pool(ident, prop))):
                component = self.state[_stringify(ident)]
                if component.get(prop) == value:
                    continue
                component[prop] = value
                changed = f"{_stringify(ident)}.{prop}"
                triggered = [cb for cb in self.active() if any(_arg_matches(i, p, changed) for i, p in cb.inputs)]
                self._fire(triggered, changed_by={cb.key: [changed] for cb in triggered})
                if self.recorder.samples[target.key][-1].status != 204:
                    return True
        return False


def _stringify_out(ident: str) -> str:
    return ident


def _arg_matches(ident, prop, changed: str) -> bool:
    changed_id, changed_prop = changed.rsplit(".", 1)
    if prop != changed_prop:
        return False
    if isinstance(ident, dict):
        return _matches(ident, _parse_id(changed_id))
    return _stringify(ident) == changed_id


# ----------------------------------------------------------------------------- the run


def sessions(practices: list[str], rng: random.Random) -> list[tuple[str, str, int]]:
    """(user, page path, share of the warm calls) for each tab the run opens."""
    from queries.immunisation_cohort import MISSING_DOSES

    sample = rng.sample(practices, k=min(3, len(practices))) if practices else [GP_PRACTICE]
    plan = [
        ("demo.commissioner", "/", 1),
        ("demo.commissioner", "/immunisation", 1),
        *[("demo.commissioner", f"/immunisation/practice/{code}", len(sample) + 1) for code in sample],
        ("demo.commissioner", "/immunisation/cohort", 3),
        ("demo.commissioner", "/hypertension", 1),
        ("demo.commissioner", "/asthma", 2),
        ("demo.commissioner", "/cancer", 1),
        ("demo.gp", f"/immunisation/practice/{GP_PRACTICE}", len(sample) + 1),
        ("demo.gp", "/immunisation/cohort", 3),
        ("demo.gp", "/asthma", 2),
        ("demo.campaign", "/immunisation/cohort", 3),
        # The largest list the finder gives a campaign responder: every child aged 0-18 in the borough missing
        # any dose (Hackney: about 40,000 children at scale 1.0), found, paged and exported (OPENING_CLICKS).
        ("demo.campaign", WIDEST_LIST_PATH.format(missing=",".join(MISSING_DOSES)), 3),
        ("demo.admin", "/admin/audit", 1),
    ]
    return plan


def run(args: argparse.Namespace) -> tuple[Recorder, dict[str, Any]]:
    cache_note = configure_environment(args)
    started = time.perf_counter()
    import app as app_module
    from security.testing import sign_in

    import_s = time.perf_counter() - started
    # As every serving process does at start: the DuckDB memory cap, the per-process caches built before the
    # first visitor and the start-up objects frozen out of the garbage collector, so a callback's timings
    # are of serving, not of a cache build no visitor waits for. The query cache keeps this run's setting.
    warm_up = app_module.start_worker()
    rng = random.Random(args.seed)
    recorder = Recorder()
    clients = {}

    def client_for(user: str):
        if user not in clients:
            client = app_module.server.test_client()
            sign_in(client, user)
            clients[user] = client
        return clients[user]

    callbacks = server_callbacks(client_for("demo.commissioner"))
    recorder.names.update(callback_names(app_module.app))  # pages' callbacks join the map on the first request
    practices = _practices(client_for("demo.commissioner"), callbacks, recorder, rng)
    profile_dir = Path(args.profile) if args.profile else None
    for user, path, share in sessions(practices, rng):
        if args.pages and path.split("?")[0] not in args.pages and not _under(path, args.pages):
            continue
        # Each tab's mix has a generator of its own: a change to one page's callbacks (what they update, so what
        # fires next) does not reshuffle every later page's mix, and --pages runs the same mix as a full run.
        tab_rng = random.Random(f"{args.seed}:{user}:{path}")
        tab = Tab(
            client_for(user),
            callbacks,
            recorder,
            tab_rng,
            role=user,
            path=path,
            profile_dir=profile_dir,
            accept_encoding=args.accept_encoding,
        )
        tab.open()
        wanted = max(2, math.ceil(args.repeat / share))
        opening = next((ids for prefix, ids in OPENING_CLICKS.items() if path.startswith(prefix)), ())
        for _ in range(wanted if opening else 0):
            for button_id in opening:
                tab.click(button_id)
        active = tab.active()
        stuck: set[str] = set()
        for _ in range(40 * wanted * max(1, len(active))):
            short = [
                cb for cb in active if cb.key not in stuck and _short(recorder.warm_count(cb.key, path, user), wanted)
            ]
            if not short:
                break
            target = tab_rng.choice(short)
            if not tab.interact(target):
                stuck.add(target.key)
        recorder.unvaried[re.sub(r"/practice/[^/?]+", "/practice/<ods>", path)] |= tab.unvaried_controls()
        for _ in range(max(1, wanted // 4)):  # reloads: the page render's warm figure
            tab.open()
        print(f"  {user:18s} {path:38s} {len(active)} callbacks, {time.perf_counter() - started:7.1f} s")
    meta = {
        "import_s": import_s,
        "warm_up_s": sum(warm_up.values()),
        "cache": cache_note,
        "db": str(Path(args.db).resolve()),
    }
    meta.update(_db_meta(args.db))
    if profile_dir:
        profile_dir.mkdir(parents=True, exist_ok=True)
        for key, (_, text) in recorder.profiles.items():
            name = recorder.names.get(key, key).replace("/", "_").replace(" ", "_")
            (profile_dir / f"{name}.txt").write_text(text)
    return recorder, meta


def _decoded(wire: bytes, encoding: str | None) -> bytes:
    """The body a response encoded with ``encoding`` (gzip, zstd, br or none) decodes to."""
    if encoding == "gzip":
        return gzip.decompress(wire)
    if encoding == "zstd":
        from backports import zstd  # what flask-compress uses before Python 3.14

        return zstd.decompress(wire)
    if encoding == "br":
        import brotli

        return brotli.decompress(wire)
    return wire


def _short(counts: tuple[int, int], wanted: int) -> bool:
    """Still wants samples: too few calls that did work, and not hopelessly many no-update calls."""
    working, every = counts
    return working < wanted and every < 5 * wanted


def _under(path: str, prefixes: list[str]) -> bool:
    return any(p.rstrip("/") and path.startswith(p.rstrip("/") + "/") for p in prefixes)


def _practices(client, callbacks, recorder, rng) -> list[str]:
    """Practice codes from the immunisation page's own practice picker (the realistic choice list)."""
    tab = Tab(client, [], recorder, rng, role="demo.commissioner", path="/immunisation", profile_dir=None)
    tab.open()
    picker = tab.state.get("imm-practice-pick", {})
    return [v for v in _option_values(picker.get("options")) if isinstance(v, str)]


def _db_meta(db: str) -> dict[str, Any]:
    import duckdb

    with duckdb.connect(db, read_only=True) as con:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        patients = con.execute("SELECT count(*) FROM patient_dim").fetchone()[0]
    return {"scale": meta.get("scale"), "seed": meta.get("seed"), "patients": patients}


# ----------------------------------------------------------------------------- the report


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def _page_of(name: str) -> str:
    """The page module a row belongs to (renders sort with their page's callbacks)."""
    if name.startswith("render "):
        parts = name.removeprefix("render /").split("/")
        return "_".join(p for p in parts if p in {"immunisation", "practice", "cohort"} or p == parts[0]) or "overview"
    return name.split(".", 1)[0]


def summarise(samples_by_name: dict[str, list[Sample]]) -> list[dict[str, Any]]:
    """One row of figures per callback (see the report's header for what each means)."""
    rows = []
    for name, samples in samples_by_name.items():
        if not samples:
            continue
        # Calls answered 204 (PreventUpdate: e.g. the view is on another tab) cost ~1 ms and are counted
        # apart, so the percentiles describe the calls that did work.
        warm_all = [s for s in samples if not s.cold]
        warm = [s for s in warm_all if s.status != 204] or warm_all or samples
        cold = [s for s in samples if s.cold]
        walls = [s.wall_ms for s in warm]
        rows.append(
            {
                "name": name,
                "roles": ", ".join(sorted({s.role.removeprefix("demo.") for s in samples})),
                "warm": len([s for s in warm_all if s.status != 204]),
                "skipped": len(warm_all) - len([s for s in warm_all if s.status != 204]),
                "cold": cold[0].wall_ms if cold else math.nan,
                "p50": statistics.median(walls),
                "p95": _pct(walls, 95),
                "max": max(walls),
                "cpu95": _pct([s.cpu_ms for s in warm], 95),
                "kb": statistics.median(s.wire_bytes for s in warm) / 1024,
                "kb_raw": statistics.median(s.raw_bytes for s in warm) / 1024,
                "errors": sum(1 for s in samples if s.status not in (200, 204)),
            }
        )
    return rows


def load_samples(path: str) -> dict[str, list[Sample]]:
    """Samples written by ``--json``."""
    return {name: [Sample(**s) for s in samples] for name, samples in json.loads(Path(path).read_text()).items()}


def comparison(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    """A Markdown table of p95 wall and CPU time and wire size, before and after, per callback."""
    earlier = {r["name"]: r for r in before}
    lines = [
        "| callback | p95 ms before | p95 ms after | CPU p95 ms before | CPU p95 ms after | KB wire before "
        "| KB after |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(after, key=lambda r: (_page_of(r["name"]), r["name"])):
        b = earlier.get(r["name"])
        if b is None:
            lines.append(f"| `{r['name']}` | – | {r['p95']:.0f} | – | {r['cpu95']:.0f} | – | {r['kb']:.1f} |")
            continue
        lines.append(
            f"| `{r['name']}` | {b['p95']:.0f} | {r['p95']:.0f} | {b['cpu95']:.0f} | {r['cpu95']:.0f} "
            f"| {b['kb']:.1f} | {r['kb']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def paired(before: dict[str, list[Sample]], after: dict[str, list[Sample]]) -> str:
    """A Markdown table of each callback's change call by call: the median of (after - before) over its warm calls.

    The mix is seeded, so two runs of the same pages whose callbacks answer alike make the same requests in the
    same order: a callback's i-th warm call is then one request timed in each run. Its difference leaves out how
    much the requests differ from each other (a search of all London beside one of a practice), which decides
    the p95 of 20-30 calls as much as the code does; the machine's load in each run is still in it. Callbacks
    whose warm calls differ in number, role, page or status between the runs (the mix went another way) are
    listed without figures.
    """
    lines = [
        "| callback | calls paired | median change ms | median change CPU ms | calls faster |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in sorted(after, key=lambda n: (_page_of(n), n)):
        warm_after = [s for s in after[name] if not s.cold]
        warm_before = [s for s in before.get(name, []) if not s.cold]
        same_calls = len(warm_before) == len(warm_after) and all(
            (b.role, b.path, b.status) == (a.role, a.path, a.status)
            for b, a in zip(warm_before, warm_after, strict=True)
        )
        pairs = [(b, a) for b, a in zip(warm_before, warm_after, strict=False) if a.status != 204]
        if not same_calls or not pairs:
            why = "the calls differ" if not same_calls else "no warm call updated the page"
            lines.append(f"| `{name}` | – ({why}) | – | – | – |")
            continue
        wall = statistics.median(a.wall_ms - b.wall_ms for b, a in pairs)
        cpu = statistics.median(a.cpu_ms - b.cpu_ms for b, a in pairs)
        faster = sum(1 for b, a in pairs if a.wall_ms < b.wall_ms)
        lines.append(f"| `{name}` | {len(pairs)} | {wall:+.0f} | {cpu:+.0f} | {faster} of {len(pairs)} |")
    return "\n".join(lines) + "\n"


def report(recorder: Recorder, meta: dict[str, Any], args: argparse.Namespace) -> str:
    load = os.getloadavg()
    lines = [
        f"# Page callbacks: server time through `/_dash-update-component` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",  # noqa: E501
        "",
        f"Database `{meta['db']}` (scale {meta['scale']}, seed {meta['seed']}, {meta['patients']:,} patients); "
        f"`python bench/callbacks.py --repeat {args.repeat} --seed {args.seed}`; query result cache: {meta['cache']}; "
        f"app import {meta['import_s']:.1f} s; cache warm-up as at server start "
        f"{meta.get('warm_up_s', math.nan):.1f} s; load average at the end {load[0]:.1f} / {load[1]:.1f} (2 cores).",
        "",
        f"Warm = every call after the callback's first in the process; target p95 ≤ {TARGET_MS:.0f} ms. "
        "Percentiles are over warm calls that updated the page; (+N) calls were answered 204 (no update, e.g. the "
        "view is on another tab, ≈ 1 ms). CPU = process CPU time per call (DuckDB threads included): steadier than "
        f"wall time when other jobs share the 2 cores. KB = body on the wire (raw JSON in brackets), p50; requests "
        f"accept `{args.accept_encoding}`.",
        "",
        "| callback | roles | warm calls (+204) | cold ms | p50 ms | p95 ms | max ms | CPU p95 ms | KB wire (raw) "
        "| errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = summarise({recorder.names.get(key, key): samples for key, samples in recorder.samples.items()})
    rows.sort(key=lambda r: (_page_of(r["name"]), r["name"]))
    for r in rows:
        flag = " **✗**" if r["p95"] > TARGET_MS else ""
        lines.append(
            f"| `{r['name']}` | {r['roles']} | {r['warm']} (+{r['skipped']}) | {r['cold']:.0f} | {r['p50']:.0f} "
            f"| {r['p95']:.0f}{flag} | "
            f"{r['max']:.0f} | {r['cpu95']:.0f} | {r['kb']:.1f} ({r['kb_raw']:.0f}) | {r['errors']} |"
        )
    over = [r for r in rows if r["p95"] > TARGET_MS]
    worst = sorted(over, key=lambda r: -r["p95"])
    lines += [
        "",
        f"{len(rows)} callbacks measured; {len(over)} over {TARGET_MS:.0f} ms p95"
        + (": " + ", ".join(f"`{r['name']}` {r['p95']:.0f} ms" for r in worst) if worst else "")
        + ".",
    ]
    if recorder.unvaried is not None:  # None: samples read back from JSON, the page states are gone
        lines += ["", unvaried_line(recorder.unvaried)]
    return "\n".join(lines) + "\n"


def unvaried_line(unvaried: dict[str, set[str]]) -> str:
    """The report's sentence on controls the mix could not change (none, or each by page)."""
    listed = [
        f"{page}: " + ", ".join(f"`{control}`" for control in sorted(controls))
        for page, controls in sorted(unvaried.items())
        if controls
    ]
    if not listed:
        return "Controls the mix could not change (no options and no `VALUE_POOLS` entry): none."
    return (
        "Controls the mix could not change (no options and no `VALUE_POOLS` entry), left at their defaults: "
        + "; ".join(listed)
        + "."
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json:
        recorder = Recorder(unvaried=None)
        recorder.samples.update(load_samples(args.from_json))
        meta = {"db": args.db_label or args.from_json, "scale": "?", "seed": "?", "patients": 0}
        meta.update({"import_s": math.nan, "cache": "as recorded"})
    else:
        recorder, meta = run(args)
    text = report(recorder, meta, args)
    if args.compare:
        before_samples = load_samples(args.compare)
        after_samples = {recorder.names.get(k, k): v for k, v in recorder.samples.items()}
        text += f"\n## Before ({args.compare}) and after\n\n" + comparison(
            summarise(before_samples), summarise(after_samples)
        )
        text += "\nThe same calls, paired (see `paired` in bench/callbacks.py):\n\n" + paired(
            before_samples, after_samples
        )
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {recorder.names.get(k, k): [s.__dict__ for s in v] for k, v in recorder.samples.items()}, indent=1
            )
        )
    errors = sum(1 for v in recorder.samples.values() for s in v if s.status not in (200, 204))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
