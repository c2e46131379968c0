"""Accuracy and cost metrics comparing estimated against exact Shapley values."""

from __future__ import annotations

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
