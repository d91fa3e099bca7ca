"""Timing helpers the benchmark scripts share: timed repeats of a call and a percentile of the samples."""

from __future__ import annotations

import time
from collections.abc import Callable


def percentile(values: list[float], q: float) -> float:
    """The sample nearest the ``q``-th percentile (0-100) of ``values``: a measured time, never an interpolation."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))]


def timed(call: Callable[[], object], repeat: int, *, warm_ups: int = 1) -> tuple[list[float], list[float]]:
    """Wall and process-CPU milliseconds of ``repeat`` calls, after ``warm_ups`` untimed ones.

    The warm-up pays for first reads of the file and name caches. CPU time (this process, every thread:
    DuckDB's included) is what a call itself costs; on a shared, loaded machine wall time is mostly
    queueing for a core.
    """
    for _ in range(warm_ups):
        call()
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu
