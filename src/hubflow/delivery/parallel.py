"""Solve independent hub problems side by side, in worker processes.

PyVRP's search holds the GIL, so threads do not help; a hub's problem (points, jobs,
vehicles, travel pricing, not yet priced) pickles small, and its plan back smaller. The
parts are shared longest-first between this process and the workers, each part solved
with its own seed and iterations exactly as it would be here, so the plans are the same
however many workers there are.
"""

from __future__ import annotations

import atexit
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar, cast

from hubflow.delivery.problem import PlanningProblem

__all__ = ["share_out", "solve_parts"]

T = TypeVar("T")

_pools: dict[int, ProcessPoolExecutor] = {}
_lock = threading.Lock()


def _pool(workers: int) -> ProcessPoolExecutor:
    with _lock:
        pool = _pools.get(workers)
        if pool is None:
            # spawn, not fork: the caller may hold threads (a server, a database pool)
            ctx = multiprocessing.get_context("spawn")
            pool = _pools[workers] = ProcessPoolExecutor(workers, mp_context=ctx)
        return pool


@atexit.register
def _close() -> None:
    with _lock:
        for pool in _pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
        _pools.clear()


def _work(p: PlanningProblem) -> int:
    """What a part costs to solve, roughly: the search's moves grow with the jobs and,
    through the routes they are weighed against, with the jobs per vehicle."""
    n = len(p.jobs)
    return n * (1 + n // max(1, len(p.vehicles)))


def share_out(parts: Sequence[PlanningProblem], hands: int) -> list[int]:
    """Which hand (0 = this process) solves each part: longest first to the least busy."""
    load = [0] * hands
    hand = [0] * len(parts)
    for k in sorted(range(len(parts)), key=lambda k: -_work(parts[k])):
        h = min(range(hands), key=lambda i: (load[i], i))
        hand[k] = h
        load[h] += _work(parts[k])
    return hand


def solve_parts(
    solve: Callable[[PlanningProblem], T], parts: Sequence[PlanningProblem], workers: int
) -> list[T]:
    """``solve`` for every part, in order; with ``workers`` > 1, ``workers - 1`` of them in
    worker processes (``solve`` must then be picklable: a module-level function or a
    ``functools.partial`` of one). A broken pool falls back to solving here."""
    hand = share_out(parts, workers) if workers > 1 and len(parts) > 1 else [0] * len(parts)
    futures: dict[int, Future[T]] = {}
    if any(hand):
        pool = _pool(workers - 1)
        futures = {k: pool.submit(solve, p) for k, p in enumerate(parts) if hand[k]}
    out: list[T | None] = [None] * len(parts)
    for k, p in enumerate(parts):
        if not hand[k]:
            out[k] = solve(p)
    for k, f in futures.items():
        try:
            out[k] = f.result()
        except BrokenProcessPool:  # a worker died: a new pool next time
            with _lock:
                _pools.pop(workers - 1, None)
            out[k] = solve(parts[k])
        except Exception:  # e.g. a travel provider that does not pickle: solve it here
            out[k] = solve(parts[k])
    return cast(list[T], out)
