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

from ..estimators import ExactEstimator, PermutationEstimator
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
    """Values and standard errors ``(d,)``, model rows used, row visits and the passes
    they make."""

    values: np.ndarray
    std_errors: np.ndarray
    n_model_rows: int
    n_row_visits: int
    n_passes: float
    converged: bool


def batch_estimator(method: str) -> Estimator:
    """The Shapley estimator of one batch's per-row games: unbiased, since the mean
    over many rows and passes keeps any bias of one estimate."""
    if method == "permutation":
        return PermutationEstimator(min_pairs=1)
    raise ValueError(f"no batch estimator for method={method!r}")


def batch_budget(method: str, n_players: int) -> int:
    """Coalitions per estimate: one antithetic pair of permutations (``2 d``; the
    errors come from the two estimates, not from the pairs)."""
    return batch_estimator(method).min_budget(n_players)


def exact_sage(game: Callable[[np.ndarray], np.ndarray], n_players: int) -> np.ndarray:
    """Exact SAGE values ``(d,)`` of ``game``, the mean negative loss over every row."""
    result = ExactEstimator().estimate(game, n_players, None, None, np.random.default_rng(0))
    return result.values[:, 0]


def _within(batches: list[BatchValues], weights: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Variance ``(d,)`` of the within-row noise of ``sum_b sum_i w_bi phi_bi`` (the
    values of batch b's rows weighted by ``weights[b]``), and its Satterthwaite degrees
    of freedom.

    Each batch gives one degree of freedom: half the difference of its two weighted
    estimates, squared, estimates that weighted sum's variance ``sigma_b^2`` (valid
    whatever the correlation of its rows; relabelled players make them independent,
    :class:`~shapkit.global_importance.game.RowLossGame`). Summing over a batch's rows
    first tempers the heavy tails of single rows (a few confidently wrong rows dominate
    the noise of a cross-entropy). The degrees of freedom are
    ``(sum sigma_b^2)^2 / sum sigma_b^4`` with ``sigma_b^4`` estimated without bias by a
    third of the squared estimate (a one-degree chi-square has ``E[w^2] = 3 sigma^4``).
    """
    parts = np.array([((b.first - b.second) @ w / 2) ** 2
                      for b, w in zip(batches, weights, strict=True)])
    total = parts.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(total > 0, total**2 / ((parts**2).sum(axis=0) / 3.0), np.inf)
    return total, df


def combine(
    batches: list[BatchValues], totals: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values, variance and degrees of freedom ``(d,)`` from the batches so far.

    While some rows are unvisited (the first pass; its rows were drawn without
    replacement): the regression estimator on every row's total ``v_i(N) - v_i(empty)``
    (``totals``), which removes the part of the rows' spread the totals explain and
    makes the values add up to their mean exactly (each row's values add up to its
    total, so the slopes add up to 1); variance ``(1 - f) s^2 / n_s`` for the rows
    (``s^2`` the residual spread of the visited rows' values, ``f`` the share visited)
    plus the within-row noise; degrees of freedom by Welch-Satterthwaite.

    Once every row is visited: the mean over the rows of each row's mean over its
    visits, with the within-row noise as its only error.
    """
    n = totals.size
    rows = np.concatenate([b.rows for b in batches])
    visits = np.bincount(rows, minlength=n)
    if visits.min() > 0:
        weights = [1.0 / (n * visits[b.rows]) for b in batches]
        values = sum(((b.first + b.second) / 2) @ w for b, w in zip(batches, weights,
                                                                      strict=True))  # fmt: skip
        within, df = _within(batches, weights)
        return np.asarray(values), within, df
    n_s = rows.size
    phi = np.concatenate([(b.first + b.second) / 2 for b in batches], axis=1).T  # (n_s, d)
    within, within_df = _within(batches, [np.full(b.rows.size, 1.0 / n_s) for b in batches])
    t = totals[rows]
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


def honest(variance: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Standard errors from a variance and its degrees of freedom (t-corrected, ``inf``
    below ``MIN_ERROR_DF``)."""
    return honest_errors(np.sqrt(variance)[:, None], np.minimum(df, 1e12)[:, None])[:, 0]


def sampled_sage(
    run_batches: Callable[[list[tuple[int, np.ndarray]]], list[BatchValues]],
    totals: np.ndarray,
    order: Callable[[int], np.ndarray],
    row_cost: int,
    max_model_rows: int,
    tol: float | None,
) -> SageEstimate:
    """Visit the rows in rounds, pass after pass (``order(p)``: pass p's row order;
    a batch never spans two passes, so its rows differ), until the values converge
    (``tol``, Covert & Lee's rule) or the next round would pass ``max_model_rows``. The
    first round visits :data:`FIRST_BATCHES` batches and each later round of the first
    pass doubles the rows visited; after it, each round is one whole pass.

    ``run_batches([(index, rows), ...])`` returns each batch's :class:`BatchValues`;
    ``row_cost`` is the model rows one row of a batch costs.
    """
    n = totals.size
    batches: list[BatchValues] = []
    used = visits = 0
    converged = False
    take = min(n, FIRST_BATCHES * BATCH_ROWS)
    values = variance = df = None
    orders: dict[int, np.ndarray] = {}
    while True:
        # the first pass grows by doubling and ends a round; later passes are whole, so
        # that every row has the same number of visits (a partial pass would weight
        # rows unequally and leave few degrees of freedom)
        take = min(take, n - visits) if visits < n else n
        if take > (max_model_rows - used) // row_cost:
            break
        jobs: list[tuple[int, np.ndarray]] = []
        position = visits
        while position < visits + take:
            p, start = divmod(position, n)
            stop = min(start + BATCH_ROWS, n, start + visits + take - position)
            if p not in orders:
                orders[p] = order(p)
            jobs.append((len(batches) + len(jobs), orders[p][start:stop]))
            position += stop - start
        for batch in run_batches(jobs):
            batches.append(batch)
            used += batch.model_rows
            visits += batch.rows.size
        values, variance, df = combine(batches, totals)
        converged = has_converged(values[:, None], honest(variance, df)[:, None], tol)
        if converged:
            break
        take = visits
    if values is None or variance is None or df is None:
        raise ValueError("no batch fits in the model-row budget")  # the caller checks first
    return SageEstimate(values, honest(variance, df), used, visits, visits / n, converged)
