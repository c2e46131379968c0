"""Accuracy and cost metrics comparing estimated against exact Shapley values."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import spearmanr


def relative_l2_error(estimate: np.ndarray, exact: np.ndarray) -> float:
    """``||estimate - exact||_2 / ||exact||_2`` (``inf`` if ``exact`` is zero and they differ)."""
    estimate, exact = np.asarray(estimate, float), np.asarray(exact, float)
    err = float(np.linalg.norm(estimate - exact))
    norm = float(np.linalg.norm(exact))
    if norm == 0.0:
        return 0.0 if err == 0.0 else float("inf")
    return err / norm


def max_abs_error(estimate: np.ndarray, exact: np.ndarray) -> float:
    """``max_i |estimate_i - exact_i|``."""
    return float(np.max(np.abs(np.asarray(estimate, float) - np.asarray(exact, float))))


def spearman(estimate: np.ndarray, exact: np.ndarray) -> float:
    """Spearman rank correlation; ``nan`` when either vector is constant."""
    estimate, exact = np.asarray(estimate, float), np.asarray(exact, float)
    if np.ptp(estimate) == 0.0 or np.ptp(exact) == 0.0:
        return float("nan")
    return float(spearmanr(estimate, exact).statistic)


def timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """Call ``fn(*args)`` and return ``(result, wall seconds)``."""
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


@dataclass
class EvalCounter:
    """Wrap a game callable and count the coalitions it is asked to evaluate."""

    game: Callable[[np.ndarray], np.ndarray]
    n_evals: int = 0

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        self.n_evals += masks.shape[0]
        return self.game(masks)


def score(estimate: np.ndarray, exact: np.ndarray) -> dict[str, float]:
    """All accuracy metrics of one estimate, keyed by column name."""
    return {
        "rel_l2": relative_l2_error(estimate, exact),
        "max_abs": max_abs_error(estimate, exact),
        "spearman": spearman(estimate, exact),
    }


def mean_and_se(values: np.ndarray) -> tuple[float, float]:
    """Mean and its standard error (sample std with ddof=1 over sqrt(n); 0 for one value)."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    if values.size == 1:
        return float(values[0]), 0.0
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))


# --------------------------------------------------------------------------------------
# CPU contention: other processes on the machine distort wall times
# --------------------------------------------------------------------------------------


def _busy_seconds() -> float | None:
    """CPU seconds spent busy (all cores, incl. steal) since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class CpuMonitor:
    """Measures how many cores *other* processes kept busy during a timed block.

    ``others`` = (machine busy CPU seconds - this process's CPU seconds) / wall seconds,
    ``nan`` where /proc/stat is unavailable. Child processes' CPU counts as others'.
    """

    def __enter__(self) -> CpuMonitor:
        self._busy = _busy_seconds()
        self._own = time.process_time()
        self._wall = time.perf_counter()
        self.others = float("nan")
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._wall
        busy = _busy_seconds()
        if self._busy is None or busy is None or wall <= 0:
            return
        own = time.process_time() - self._own
        self.others = max(0.0, (busy - self._busy - own) / wall)


def wait_for_quiet(threshold: float = 0.2, window: float = 1.0, max_wait: float = 60.0) -> float:
    """Sleep until other processes use fewer than ``threshold`` cores over ``window``
    seconds (at most ``max_wait`` seconds); returns the seconds waited."""
    start = time.perf_counter()
    while time.perf_counter() - start < max_wait:
        with CpuMonitor() as monitor:
            time.sleep(window)
        if not monitor.others > threshold:  # nan (no /proc/stat) counts as quiet
            break
    return time.perf_counter() - start
