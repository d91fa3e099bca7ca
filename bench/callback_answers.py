"""What a callback answers, request by request: whether an answer grew because the code sends more or because
bench/callbacks.py asked other questions.

bench/callbacks.py reports a callback's answer size as the p50 over a random mix of control changes, and the mix
follows the page: a control added or taken away elsewhere on the page changes which callbacks are picked next,
so two commits are timed on different requests. This script keeps the requests apart from the code:

    # the requests (and raw answers) of a tree's own mix, for the named callbacks
    python bench/callback_answers.py record --tree /tmp/old --db DB --callbacks asthma.update_map \\
        --pages /asthma --out old.json [--repeat 20] [--seed 7]
    # the same requests put to another tree's app (each tree in a process of its own)
    python bench/callback_answers.py replay --tree . --db DB --requests old.json new.json --out replayed.json
    # answers compared request by request, and each mix's p50 and how it splits by one input's value
    python bench/callback_answers.py compare --answers old.json new.json --replayed a.json b.json \\
        [--group-by ast-map-level]

``--tree`` is a checkout of the code to run (``git archive REV | tar -x -C DIR``); its own bench/callbacks.py
drives the record, so its mix is the one its report measured. The database must carry the build version that
tree expects.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path

UPDATE_URL = "/_dash-update-component"


def _bench_module(tree: Path):
    """``tree``'s bench/callbacks.py, which puts ``tree`` first on the import path (its app is the one run)."""
    spec = importlib.util.spec_from_file_location("tree_callbacks_bench", tree / "bench" / "callbacks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def record(args: argparse.Namespace) -> None:
    """Run ``--tree``'s bench mix and keep every request to (and raw answer of) the ``--callbacks`` named."""
    bench = _bench_module(Path(args.tree).resolve())
    kept: list[dict] = []
    timed = bench.Tab._timed

    def keeping(tab, key: str, body: dict):
        name = tab.recorder.names.get(key, key)
        if name in args.callbacks:
            # Asked once more, untimed and uncompressed: the answer as the timed call's body decodes to.
            response = tab.client.post(UPDATE_URL, json=body)
            kept.append(
                {"callback": name, "role": tab.role, "path": tab.path, "request": body, "status": response.status_code}
                | {"raw": response.get_data(as_text=True)}
            )
        return timed(tab, key, body)

    bench.Tab._timed = keeping
    argv = ["--db", args.db, "--repeat", str(args.repeat), "--seed", str(args.seed), "--pages", *args.pages]
    bench.main(argv)
    Path(args.out).write_text(json.dumps(kept))
    print(f"{len(kept)} answers of {', '.join(args.callbacks)} written to {args.out}")


def replay(args: argparse.Namespace) -> None:
    """Put every recorded request of ``--requests`` to ``--tree``'s app, as the same user; keep the answers."""
    tree = Path(args.tree).resolve()
    sys.path.insert(0, str(tree))
    os.environ["PATHFINDER_DB"] = str(Path(args.db).resolve())
    os.environ["PATHFINDER_DEMO"] = "true"
    from security.testing import sign_in, use_throwaway_audit_dir

    use_throwaway_audit_dir("bench-callback-answers-")
    import app as app_module

    app_module.start_worker()
    clients: dict[str, object] = {}
    answers = []
    for path in args.requests:
        for entry in json.loads(Path(path).read_text()):
            if entry["role"] not in clients:
                client = app_module.server.test_client()
                sign_in(client, entry["role"])
                clients[entry["role"]] = client
            response = clients[entry["role"]].post(UPDATE_URL, json=entry["request"])
            answers.append({"status": response.status_code, "raw": response.get_data(as_text=True)})
    Path(args.out).write_text(json.dumps(answers))
    print(f"{len(answers)} answers from {tree} written to {args.out}")


def _input_value(entry: dict, ident: str):
    """The value of the input ``ident`` in ``entry``'s request; ``"role"``: the user who asked."""
    if ident == "role":
        return entry["role"]
    return next((i.get("value") for i in entry["request"]["inputs"] if i.get("id") == ident), None)


def _p50(sizes: list[int]) -> str:
    """The median of ``sizes`` (bytes) in kB of 1,024 bytes, as bench/callbacks.py gives them."""
    return f"{statistics.median(sizes) / 1024:,.1f}" if sizes else "-"


def compare(args: argparse.Namespace) -> None:
    """Markdown: per recorded mix and callback, the p50 raw answer of its warm calls as recorded and under each
    replayed tree, and (``--group-by``) those answers split by that input's value; then how many answers (cold
    ones too) are the same under each tree, and which outputs differ."""
    mixes = [(Path(p).stem, json.loads(Path(p).read_text())) for p in args.answers]
    replayed = [(Path(p).stem, json.loads(Path(p).read_text())) for p in args.replayed]
    recorded = [(mix, e) for mix, entries in mixes for e in entries]
    for name, answers in replayed:
        if len(answers) != len(recorded):
            raise SystemExit(f"{name}: {len(answers)} answers to {len(recorded)} requests; replay the same files")
    # (callback, mix) -> indexes into recorded of its warm calls: as bench/callbacks.py reports, the callback's
    # first call in the process (the first recorded: the file keeps them in order) is cold and left out.
    rows: dict[tuple[str, str], list[int]] = defaultdict(list)
    seen: set[tuple[str, str]] = set()
    for index, (mix, entry) in enumerate(recorded):
        key = (entry["callback"], mix)
        if key in seen:
            rows[key].append(index)
        seen.add(key)
    group = f" | answers by {args.group_by}: calls (p50 kB)" if args.group_by else ""
    print(
        "| callback | requests of | warm calls (+204) | p50 kB raw as recorded | "
        + " | ".join(f"p50 kB under {name}" for name, _ in replayed)
        + group
        + " |"
    )
    print("|---|---|---:|---:|" + "---:|" * len(replayed) + ("---|" if args.group_by else ""))
    for (callback, mix), indexes in sorted(rows.items()):
        entries = [recorded[i][1] for i in indexes]
        updated = [len(e["raw"]) for e in entries if e["status"] == 200]
        cells = [callback, mix, f"{len(updated)} (+{len(entries) - len(updated)})", _p50(updated)]
        for _, answers in replayed:
            cells.append(_p50([len(answers[i]["raw"]) for i in indexes if answers[i]["status"] == 200]))
        if args.group_by:
            groups: dict[str, list[int]] = defaultdict(list)
            for e in entries:
                value = _input_value(e, args.group_by)
                if e["status"] == 200 and value is not None:
                    groups[str(value)].append(len(e["raw"]))
            cells.append(", ".join(f"{k} {len(v)} ({_p50(v)})" for k, v in sorted(groups.items())) or "-")
        print("| " + " | ".join(cells) + " |")
    print()
    total = len(recorded)
    first_name, first = replayed[0]
    for name, answers in replayed[1:]:
        differing: dict[str, Counter] = defaultdict(Counter)
        for (_, entry), a, b in zip(recorded, first, answers, strict=True):
            for output in _differing_outputs(a, b):
                differing[entry["callback"]][output] += 1
        same = total - sum(1 for a, b in zip(first, answers, strict=True) if _differing_outputs(a, b))
        print(f"- {same} of {total} answers the same under {first_name} and {name} (status and parsed JSON).")
        for callback, outputs in sorted(differing.items()):
            print(f"  - {callback}: " + ", ".join(f"`{o}` in {n}" for o, n in outputs.most_common()))
    for name, answers in replayed:
        for mix, entries in mixes:
            indexes = [i for i, (m, _) in enumerate(recorded) if m == mix]
            same = sum(not _differing_outputs(recorded[i][1], answers[i]) for i in indexes)
            print(f"- {same} of {len(entries)} answers to the requests of {mix} under {name} the same as recorded.")


def _outputs(answer: dict) -> dict[str, object]:
    """An answer's outputs by ``id.property`` (none for a 204)."""
    if answer["status"] != 200:
        return {}
    response = json.loads(answer["raw"]).get("response", {})
    return {f"{ident}.{prop}": value for ident, props in response.items() for prop, value in props.items()}


def _differing_outputs(a: dict, b: dict) -> list[str]:
    """The outputs two answers give differently (["status"] when one updated the page and the other did not).
    Compared parsed: the same figure can come with its keys in another order."""
    if a["status"] != b["status"]:
        return ["status"]
    if a["raw"] == b["raw"]:
        return []
    first, second = _outputs(a), _outputs(b)
    return sorted(k for k in first.keys() | second.keys() if first.get(k) != second.get(k))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="a tree's own bench mix: requests and raw answers")
    rec.add_argument("--tree", required=True)
    rec.add_argument("--db", required=True)
    rec.add_argument("--callbacks", nargs="+", required=True, help="names as the report gives them (asthma.update_map)")
    rec.add_argument("--pages", nargs="+", required=True)
    rec.add_argument("--repeat", type=int, default=20)
    rec.add_argument("--seed", type=int, default=7)
    rec.add_argument("--out", required=True)
    rep = commands.add_parser("replay", help="recorded requests put to a tree's app")
    rep.add_argument("--tree", required=True)
    rep.add_argument("--db", required=True)
    rep.add_argument("--requests", nargs="+", required=True)
    rep.add_argument("--out", required=True)
    cmp = commands.add_parser("compare", help="answers request by request, and each mix's p50")
    cmp.add_argument("--answers", nargs="+", required=True, help="record outputs, in the order they were replayed")
    cmp.add_argument("--replayed", nargs="+", required=True)
    cmp.add_argument("--group-by", help="an input's component id to split each mix's answers by, or role")
    args = parser.parse_args(argv)
    {"record": record, "replay": replay, "compare": compare}[args.command](args)


if __name__ == "__main__":
    main()
