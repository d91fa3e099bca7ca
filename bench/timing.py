"""Timing helpers the benchmark scripts share: timed repeats of a call and a percentile of the samples."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable


def freeze_like_a_worker() -> None:
    """Freeze every object alive now out of the garbage collector's sight, as ``app.start_worker`` does.

    A serving worker freezes the app and its warm caches once its warm-up is done, so its full
    collections never walk them. A benchmark process that did not would time collections no worker
    pays: 380-410 ms inside 2 of 40 asthma LSOA-map views at scale 1.0 without it, 1-6 ms with it
    (``bench/gc_pauses.py`` measures the same for engine calls). Call it once, after the set-up a worker
    would have done and before the timed calls; objects made later stay collectable, as in a worker.
    """
    gc.freeze()


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
