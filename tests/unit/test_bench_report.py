"""bench/report.py reuses a database only when this code built it for the asked scale and seed."""

from __future__ import annotations

from bench.report import _matches
from data.build_version import BUILD_VERSION, META_KEY


def meta(**values) -> dict[str, str]:
    return {"scale": "0.1", "seed": "42", META_KEY: str(BUILD_VERSION)} | {k: str(v) for k, v in values.items()}


def test_a_current_build_of_the_same_scale_and_seed_is_reused():
    assert _matches(meta(), "0.1", 42)


def test_a_stale_or_unstamped_build_is_rebuilt_not_reused():
    assert not _matches(meta(**{META_KEY: BUILD_VERSION - 1}), "0.1", 42)
    assert not _matches({k: v for k, v in meta().items() if k != META_KEY}, "0.1", 42)


def test_another_scale_or_seed_is_not_reused():
    assert not _matches(meta(), "1.0", 42)
    assert not _matches(meta(), "0.1", 7)
    assert not _matches(meta(seed="x"), "0.1", 42)
