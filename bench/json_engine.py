"""What Dash's JSON encoding of the callbacks' answers costs with Python's json module and with orjson.

Dash writes every callback answer with ``plotly.io.json.to_json_plotly``, which uses orjson when it is
installed (engine "auto") and Python's json module with Plotly's encoder otherwise. This script runs
bench/callbacks.py's mix of control changes in this process (the same pages, roles and seed) with Dash's
encoder wrapped: every answer is encoded with both engines, each timed, and the two texts are checked to
parse to the same value. The report gives the answers' total and percentile encoding times per engine, the
largest answers, and how many answers differed (none may).

    python bench/json_engine.py --db /tmp/m28/db10/pathfinder.duckdb [--repeat 5] [--seed 7] [--pages /asthma ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import dash._callback as dash_callback
from plotly.io.json import to_json_plotly

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import callbacks  # noqa: E402

ENGINES = ("json", "orjson")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--repeat", type=int, default=5, help="warm calls wanted per callback per page (default 5)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pages", nargs="*", help="only these page paths")
    args = parser.parse_args(argv)
    samples: list[tuple[int, float, float]] = []  # (bytes, json ms, orjson ms)
    differing: list[int] = []

    def encode_with_both(value):
        texts, times = {}, {}
        for engine in ENGINES:
            started = time.perf_counter()
            texts[engine] = to_json_plotly(value, engine=engine)
            times[engine] = (time.perf_counter() - started) * 1000
        if json.loads(texts["json"]) != json.loads(texts["orjson"]):
            differing.append(len(texts["json"]))
        samples.append((len(texts["json"]), times["json"], times["orjson"]))
        return texts["json"]

    dash_callback.to_json = encode_with_both
    with tempfile.TemporaryDirectory() as folder:
        mix = ["--db", args.db, "--repeat", str(args.repeat), "--seed", str(args.seed), "--out", f"{folder}/mix.md"]
        callbacks.main(mix + (["--pages", *args.pages] if args.pages else []))
    print(report(samples, differing, args))
    return 1 if differing or not samples else 0


def report(samples: list[tuple[int, float, float]], differing: list[int], args: argparse.Namespace) -> str:
    """The Markdown report of the encoded answers."""
    lines = [
        f"# Callback answers encoded by Python's json and by orjson (`bench/json_engine.py`, --repeat {args.repeat}, "
        f"--seed {args.seed}{', pages ' + ' '.join(args.pages) if args.pages else ''})",
        "",
        f"{len(samples):,} answers ({sum(size for size, *_ in samples) / 1e6:.1f} MB of JSON); "
        f"{len(differing)} parsed differently.",
        "",
        "| engine | total ms | p50 ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for index, engine in enumerate(ENGINES, start=1):
        times = sorted(sample[index] for sample in samples)
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        lines.append(f"| {engine} | {sum(times):,.0f} | {statistics.median(times):.2f} | {p95:.2f} | {times[-1]:.1f} |")
    lines += ["", "The ten largest answers:", "", "| KB | json ms | orjson ms |", "|---:|---:|---:|"]
    for size, json_ms, orjson_ms in sorted(samples, reverse=True)[:10]:
        lines.append(f"| {size / 1000:,.0f} | {json_ms:.1f} | {orjson_ms:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
