"""bench/callback_answers.py's comparison: which answers two trees give alike; each mix's p50 without its cold call."""

from __future__ import annotations

import argparse
import json

from bench import callback_answers


def answer(outputs: dict | None) -> dict:
    """An answer as recorded or replayed: 204 for None, else the JSON of ``outputs`` ({id: {prop: value}})."""
    if outputs is None:
        return {"status": 204, "raw": ""}
    return {"status": 200, "raw": json.dumps({"multi": True, "response": outputs})}


def entry(outputs: dict | None, *, level: str, role: str = "demo.commissioner") -> dict:
    request = {"inputs": [{"id": "ast-map-level", "property": "value", "value": level}], "state": []}
    return {"callback": "asthma.update_map", "role": role, "path": "/asthma", "request": request} | answer(outputs)


def test_differing_outputs_names_the_outputs_and_ignores_key_order():
    first = answer({"map": {"figure": {"a": 1, "b": 2}}, "table": {"children": "x"}})
    reordered = {
        "status": 200,
        "raw": json.dumps({"response": {"table": {"children": "x"}, "map": {"figure": {"b": 2, "a": 1}}}}),
    }
    assert callback_answers._differing_outputs(first, reordered) == []
    changed = answer({"map": {"figure": {"a": 1, "b": 3}}, "table": {"children": "x"}})
    assert callback_answers._differing_outputs(first, changed) == ["map.figure"]
    assert callback_answers._differing_outputs(first, answer(None)) == ["status"]


def test_compare_leaves_out_each_mix_s_cold_call_and_counts_answers_alike(tmp_path, capsys):
    small, large = {"map": {"figure": "s"}}, {"map": {"figure": "l" * 2047}}
    # The first call of each mix is its cold one: far larger, and left out of the p50 as bench/callbacks.py does.
    old_mix = [entry({"map": {"figure": "c" * 99_999}}, level="lsoa"), entry(small, level="borough")]
    new_mix = [entry(small, level="borough"), entry(large, level="lsoa"), entry(None, level="lsoa")]
    files = {}
    for name, entries in {
        "rec-old": old_mix,
        "rec-new": new_mix,
        "under-old": [answer(small), answer(small), answer(small), answer(large), answer(None)],
        "under-new": [answer(small), answer(small), answer(small), answer({"map": {"figure": "other"}}), answer(None)],
    }.items():
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(entries))
    callback_answers.compare(
        argparse.Namespace(
            answers=[str(files["rec-old"]), str(files["rec-new"])],
            replayed=[str(files["under-old"]), str(files["under-new"])],
            group_by="ast-map-level",
        )
    )
    out = capsys.readouterr().out
    large_kb = len(json.dumps({"multi": True, "response": large})) / 1024
    assert f"| asthma.update_map | rec-new | 1 (+1) | {large_kb:.1f} |" in out
    assert "| asthma.update_map | rec-old | 1 (+0) |" in out
    assert f"lsoa 1 ({large_kb:.1f})" in out
    assert "- 4 of 5 answers the same under under-old and under-new" in out
    assert "  - asthma.update_map: `map.figure` in 1" in out
