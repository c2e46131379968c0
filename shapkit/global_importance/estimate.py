"""SAGE values from per-row games: exact enumeration over every row, or batches of
sampled rows, each batch's values estimated by a Shapley estimator, combined with a
control variate and one standard error for both sources of noise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..estimators import ExactEstimator, KernelEstimator, PermutationEstimator
from ..estimators.base import Estimator, has_converged, honest_errors

#: Batches in the first round: the standard errors come from the spread of the batch
#: estimates and need at least 15 degrees of freedom (``MIN_ERROR_DF``) to be finite.
FIRST_BATCHES = 20
#: Explained rows per batch: they share the batch's coalitions (or permutations).
BATCH_ROWS = 8


@dataclass(frozen=True)
class SageEstimate:
    """Values and standard errors ``(d,)``, model rows used, batches and rows drawn."""

    values: np.ndarray
    std_errors: np.ndarray
    n_model_rows: int
    n_batches: int
    n_rows_drawn: int
    converged: bool


def batch_estimator(method: str) -> Estimator:
    """The Shapley estimator of one batch's per-row games."""
    if method == "kernel":
        return KernelEstimator()
    if method == "permutation":
        return PermutationEstimator()
    raise ValueError(f"no batch estimator for method={method!r}")


def batch_budget(method: str, n_players: int) -> int:
    """Coalitions per batch: the permutation estimator's two antithetic pairs, the
    kernel estimator's empty, full and ``2 d`` paired coalitions (``4 d`` in all)."""
    if method == "permutation":
        return PermutationEstimator().min_budget(n_players)
    return max(KernelEstimator().min_budget(n_players), 2 + 4 * n_players)


def exact_sage(game: Callable[[np.ndarray], np.ndarray], n_players: int) -> np.ndarray:
    """Exact SAGE values ``(d,)`` of ``game``, the mean negative loss over every row."""
    result = ExactEstimator().estimate(game, n_players, None, None, np.random.default_rng(0))
    return result.values[:, 0]


def combine_batches(
    psi: np.ndarray, totals: np.ndarray, population_total: float
) -> tuple[np.ndarray, np.ndarray]:
    """Values and honest standard errors from batch estimates ``psi (B, d)`` whose sums
    over players are ``totals (B,)``, with the exact mean total ``population_total``.

    The batch totals are a control variate: their exact mean is known, and the values
    are adjusted by the regression of each player's batch values on them. The adjusted
    values sum to ``population_total`` (each batch's values sum to its total, so the
    slopes sum to 1). The standard error is the residual spread over ``B - 2`` degrees
    of freedom, t-corrected (:func:`~shapkit.estimators.base.honest_errors`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> t = rng.normal(1.0, 0.3, 40)
    >>> psi = np.column_stack([0.7 * t + rng.normal(0, 0.01, 40), 0.3 * t])
    >>> psi[:, 1] = t - psi[:, 0]
    >>> values, errors = combine_batches(psi, t, 1.0)
    >>> round(float(values.sum()), 12), bool(errors.max() < 0.01)
    (1.0, True)
    """
    n_batches = psi.shape[0]
    mean = psi.mean(axis=0)
    t_mean = float(totals.mean())
    t_centred = totals - t_mean
    t_var = float(t_centred @ t_centred)
    if t_var > 0.0 and n_batches > 2:
        slopes = (t_centred @ (psi - mean)) / t_var
        values = mean - slopes * (t_mean - population_total)
        residuals = psi - mean - np.outer(t_centred, slopes)
        df = n_batches - 2
    else:
        values = mean
        residuals = psi - mean
        df = n_batches - 1
    variance = (residuals**2).sum(axis=0) / max(df, 1) / n_batches
    errors = honest_errors(np.sqrt(variance)[:, None], df)[:, 0]
    return values, errors


def sampled_sage(
    run_batches: Callable[[list[int]], list[tuple[np.ndarray, np.ndarray, int]]],
    n_players: int,
    population_total: float,
    batch_cost: int,
    max_model_rows: int,
    tol: float | None,
    fixed_batches: int | None,
) -> SageEstimate:
    """Draw batches in rounds (:data:`FIRST_BATCHES`, then doubling) until the values
    converge (``tol``, Covert & Lee's rule), the model-row cap is reached or, with
    ``fixed_batches``, that many are drawn.

    ``run_batches(indices)`` evaluates the batches with those indices (each seeded by
    its index) and returns per batch the per-row values ``(d, K)``, the per-row totals
    ``(K,)`` and the model rows it used.
    """
    most = fixed_batches if fixed_batches is not None else max(1, max_model_rows // batch_cost)
    psi: list[np.ndarray] = []
    totals: list[float] = []
    used = 0
    rows = 0
    want = min(FIRST_BATCHES, most)
    converged = False
    while True:
        out = run_batches(list(range(len(psi), want)))
        for values, row_totals, model_rows in out:
            psi.append(values.mean(axis=1))
            totals.append(float(row_totals.mean()))
            used += model_rows
            rows += values.shape[1]
        estimate, errors = combine_batches(np.asarray(psi), np.asarray(totals), population_total)
        converged = has_converged(estimate[:, None], errors[:, None], tol)
        if converged or len(psi) >= most:
            break
        want = min(2 * len(psi), most)
    return SageEstimate(estimate, errors, used, len(psi), rows, converged)
