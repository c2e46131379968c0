"""One scored run of a method on a game, its untimed warm-up, and the one-thread context
the accuracy and time-to-accuracy sections run in."""

from __future__ import annotations

import contextlib
import dataclasses
import time

import numpy as np

from benchmarks.games import BenchmarkGame
from benchmarks.methods import Method
from benchmarks.metrics import EvalCounter, score, timed

METRIC_COLUMNS = ["rel_l2", "max_abs", "spearman", "time_ms", "cpu_ms", "n_evals"]


def run_once(
    method: Method, game: BenchmarkGame, budget: int, seed: int, explicand: int = 0
) -> dict:
    """Run one method once and return its metrics (``note`` holds an error, if any)."""
    counter = EvalCounter(game.game)
    counted = dataclasses.replace(game, game=counter)
    row: dict = {
        "game": game.name,
        "d": game.n_players,
        "budget": budget,
        "method": method.name,
        "explicand": explicand,
        "seed": seed,
        "note": "",
    }
    cpu_start = time.process_time()
    try:
        estimate, seconds = timed(method.fn, counted, budget, seed)
    except Exception as exc:  # noqa: BLE001 - a failing method must not stop the run
        row.update(dict.fromkeys(METRIC_COLUMNS, np.nan))
        row["note"] = f"{type(exc).__name__}: {exc}"[:120]
        return row
    row.update(score(estimate, game.exact_values))
    row["time_ms"] = 1e3 * seconds
    row["cpu_ms"] = 1e3 * (time.process_time() - cpu_start)
    row["n_evals"] = counter.n_evals
    return row


def warm_up(method: Method, game: BenchmarkGame, budget: int) -> None:
    """One untimed call (imports, JIT compilation, caches); errors surface in timed runs."""
    try:
        method.fn(game, budget, 0)
    except Exception:  # noqa: BLE001
        pass


def single_threaded() -> contextlib.AbstractContextManager:
    """Limit the BLAS and OpenMP pools already loaded to one thread (no-op without
    threadpoolctl). On a small shared machine, multi-threaded BLAS in tiny solves stalls
    for hundreds of milliseconds whenever another process holds a core."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)
