"""SAGE values from per-row games: exact enumeration over every row, or passes over the
rows in random order, each batch of rows estimated twice (independently) by a Shapley
estimator, combined into one value and one standard error for both sources of noise.

A SAGE value is the mean over the rows of X of each row's Shapley value of its loss.
Two things make an estimate noisy: which rows were visited (when not all of them), and
each visited row's own estimate. Rows are visited without replacement, so a full pass
leaves only the second. The two independent estimates of each batch give its
within-row noise; the spread of the visited rows' values gives the first, reduced by a
control variate (each row's loss without and with every feature is known for every
row).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..estimators import ExactEstimator, KernelEstimator, PermutationEstimator
from ..estimators.base import Estimator, has_converged, honest_errors

#: Batches in the first round: enough for finite, t-corrected standard errors.
FIRST_BATCHES = 20
#: Explained rows per batch: they share the batch's coalitions (or permutations).
BATCH_ROWS = 8


@dataclass(frozen=True)
class BatchValues:
    """One batch: its rows, the two independent estimates ``(d, K)`` of their values,
    their totals ``v_i(N) - v_i(empty)`` and the model rows spent."""

    rows: np.ndarray
    first: np.ndarray
    second: np.ndarray
    model_rows: int


@dataclass(frozen=True)
class SageEstimate:
    """Values and standard errors ``(d,)``, model rows used, rows visited, passes."""

    values: np.ndarray
    std_errors: np.ndarray
    n_model_rows: int
    n_row_visits: int
    n_passes: float
    converged: bool


def batch_estimator(method: str) -> Estimator:
    """The Shapley estimator of one batch's per-row games."""
    if method == "kernel":
        return KernelEstimator()
    if method == "permutation":
        return PermutationEstimator(min_pairs=1)
    raise ValueError(f"no batch estimator for method={method!r}")


def batch_budget(method: str, n_players: int) -> int:
    """Coalitions per estimate: one antithetic pair of permutations (``2 d``; the
    errors come from the two estimates, not from the pairs), or the kernel estimator's
    empty, full and ``4 d`` paired coalitions (fewer leave it visibly biased)."""
    if method == "permutation":
        return PermutationEstimator(min_pairs=1).min_budget(n_players)
    return max(KernelEstimator().min_budget(n_players), 2 + 4 * n_players)


def exact_sage(game: Callable[[np.ndarray], np.ndarray], n_players: int) -> np.ndarray:
    """Exact SAGE values ``(d,)`` of ``game``, the mean negative loss over every row."""
    result = ExactEstimator().estimate(game, n_players, None, None, np.random.default_rng(0))
    return result.values[:, 0]


def _within(batches: list[BatchValues], n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Variance ``(d,)`` of the within-row noise of the mean over these batches' rows,
    and its Satterthwaite degrees of freedom.

    Each batch gives one degree of freedom: half the difference of its two estimates'
    means, squared, estimates that mean's variance ``sigma_b^2``. The degrees of
    freedom are ``(sum sigma_b^2)^2 / sum sigma_b^4`` with ``sigma_b^4`` estimated
    without bias by a third of the squared estimate (a one-degree chi-square has
    ``E[w^2] = 3 sigma^4``); the squared estimates themselves would count each batch's
    chance excess thrice."""
    parts = np.array([
        (b.rows.size / n_rows) ** 2 * ((b.first.mean(axis=1) - b.second.mean(axis=1)) / 2) ** 2
        for b in batches
    ])  # fmt: skip
    total = parts.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(total > 0, total**2 / ((parts**2).sum(axis=0) / 3.0), np.inf)
    return total, df


def pass_estimate(
    batches: list[BatchValues], totals: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values, variance and degrees of freedom ``(d,)`` of one pass over the rows,
    complete or not, whose rows were drawn without replacement.

    ``totals`` holds every row's ``v_i(N) - v_i(empty)``: the regression estimator on
    them removes the part of the rows' spread they explain, and makes the values add up
    to their mean exactly (each row's values add up to its total, so the slopes add up
    to 1). Variance: ``(1 - f) s^2 / n_s`` for the rows (``s^2`` the residual spread of
    the visited rows' values, ``f`` the share visited) plus the within-row noise of the
    batches; degrees of freedom by Welch-Satterthwaite.
    """
    n = totals.size
    rows = np.concatenate([b.rows for b in batches])
    phi = np.concatenate([(b.first + b.second) / 2 for b in batches], axis=1).T  # (n_s, d)
    t = totals[rows]
    n_s = rows.size
    within, within_df = _within(batches, n_s)
    if n_s == n:
        return phi.mean(axis=0), within, within_df
    t_c = t - t.mean()
    var_t = float(t_c @ t_c)
    mean = phi.mean(axis=0)
    if var_t > 0.0 and n_s > 2:
        slopes = (t_c @ (phi - mean)) / var_t
        values = mean - slopes * (t.mean() - totals.mean())
        residual = phi - mean - np.outer(t_c, slopes)
        between_df = n_s - 2
    else:
        values, residual, between_df = mean, phi - mean, n_s - 1
    between = (1.0 - n_s / n) * (residual**2).sum(axis=0) / max(between_df, 1) / n_s
    variance = between + within
    with np.errstate(invalid="ignore", divide="ignore"):
        df = variance**2 / (between**2 / max(between_df, 1) + within**2 / within_df)
    df = np.where(variance > 0, df, np.inf)
    return values, variance, df


def combine_passes(
    passes: list[list[BatchValues]], totals: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Values and honest standard errors from the passes: the first pass alone while it
    is incomplete, else the mean of the complete passes."""
    complete = [p for p in passes if sum(b.rows.size for b in p) == totals.size]
    use = complete or passes[:1]
    estimates = [pass_estimate(p, totals) for p in use]
    values = np.mean([e[0] for e in estimates], axis=0)
    variance = np.sum([e[1] for e in estimates], axis=0) / len(use) ** 2
    df = np.sum([e[2] for e in estimates], axis=0)
    errors = honest_errors(np.sqrt(variance)[:, None], np.minimum(df, 1e12)[:, None])[:, 0]
    return values, errors


def sampled_sage(
    run_batches: Callable[[list[tuple[int, np.ndarray]]], list[BatchValues]],
    totals: np.ndarray,
    order: Callable[[int], np.ndarray],
    row_cost: int,
    max_model_rows: int,
    tol: float | None,
) -> SageEstimate:
    """Visit the rows pass by pass (``order(p)``: pass p's row order) in rounds: the
    first round :data:`FIRST_BATCHES` batches, each later round doubling the rows of
    the first pass, then one whole pass per round, until the values converge (``tol``,
    Covert & Lee's rule) or the next round would pass ``max_model_rows``.

    ``run_batches([(index, rows), ...])`` returns each batch's :class:`BatchValues`;
    ``row_cost`` is the model rows one row of a batch costs.
    """
    n = totals.size
    passes: list[list[BatchValues]] = []
    used = visits = 0
    converged = False
    round_rows = min(n, FIRST_BATCHES * BATCH_ROWS)
    index = 0
    while True:
        if not passes or sum(b.rows.size for b in passes[-1]) == n:
            passes.append([])
        rows_order = order(len(passes) - 1)
        position = sum(b.rows.size for b in passes[-1])
        affordable = (max_model_rows - used) // row_cost
        take = min(round_rows, n - position, affordable)
        if passes[-1] == [] and len(passes) > 1 and take < n:
            passes.pop()  # a later pass counts only when complete: not affordable
            break
        if take <= 0:
            if not passes[-1]:
                passes.pop()
            break
        chunk = rows_order[position : position + take]
        jobs = [(index + k, chunk[s : s + BATCH_ROWS])
                for k, s in enumerate(range(0, take, BATCH_ROWS))]  # fmt: skip
        index += len(jobs)
        for batch in run_batches(jobs):
            passes[-1].append(batch)
            used += batch.model_rows
            visits += batch.rows.size
        values, errors = combine_passes(passes, totals)
        converged = has_converged(values[:, None], errors[:, None], tol)
        if converged:
            break
        done = sum(b.rows.size for b in passes[-1])
        round_rows = done if len(passes) == 1 else n  # double the rows visited
    values, errors = combine_passes(passes, totals)
    n_passes = sum(sum(b.rows.size for b in p) for p in passes) / n
    return SageEstimate(values, errors, used, visits, n_passes, converged)
