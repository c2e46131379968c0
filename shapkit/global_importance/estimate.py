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
from ..estimators.permutation import VARIANCE_PRIOR_PAIRS

#: Batches in the first round: enough for finite, t-corrected standard errors.
FIRST_BATCHES = 20
#: Rows whose total lies this many robust standard deviations from the median are
#: counted exactly, not sampled (:func:`take_all_rows`).
TAKE_ALL_SPREAD = 6.0
#: After the first pass, each round adds 1 / PASS_GROWTH of the passes made (whole).
PASS_GROWTH = 4
#: Relative floor of a standard error: float rounding of sums over rows.
ROUNDING = 1e-12
#: Explained rows per batch, evaluated in one model call (players relabelled per row,
#: so the rows share permutations yet are sampled independently).
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
    n_batches = parts.shape[0]
    own = parts.sum(axis=0)
    # a feature whose two estimates agreed in every batch by chance (few players, a
    # discrete loss) is not noiseless: pool with the mean over features, as the
    # permutation estimator does (VARIANCE_PRIOR_PAIRS pseudo-batches)
    total = (n_batches * own + VARIANCE_PRIOR_PAIRS * own.mean()) / (
        n_batches + VARIANCE_PRIOR_PAIRS)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(own > 0, own**2 / ((parts**2).sum(axis=0) / 3.0), n_batches)
    return total, np.minimum(df, n_batches)


def take_all_rows(totals: np.ndarray, most: int) -> np.ndarray:
    """The rows the first pass visits before the others, counted exactly rather than
    sampled: those whose total lies more than :data:`TAKE_ALL_SPREAD` robust standard
    deviations (1.4826 x the median absolute deviation) from the median, the most
    extreme first, at most ``most`` of them. A sampled row with an extreme total would
    carry the regression estimator far from the value the other rows point to, and its
    standard error would not show it."""
    centre = np.median(totals)
    distance = np.abs(totals - centre)
    scale = 1.4826 * float(np.median(distance))
    extreme = np.flatnonzero(distance > TAKE_ALL_SPREAD * scale)
    extreme = extreme[np.argsort(-distance[extreme], kind="stable")]
    return extreme[:most]


def combine(
    batches: list[BatchValues], totals: np.ndarray, take_all: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values, variance and degrees of freedom ``(d,)`` from the batches so far.

    While some rows are unvisited (the first pass): the rows of ``take_all`` (visited
    first, :func:`take_all_rows`) count exactly; the others were drawn without
    replacement, and the regression estimator on their totals ``v_i(N) - v_i(empty)``
    (``totals``, known for every row) removes the part of their spread the totals
    explain and makes the values add up to the mean total exactly (each row's values
    add up to its total, so the slopes add up to 1). Variance: ``(1 - f) s^2 / n_s`` for
    the sampled rows (``s^2`` the residual spread of their values, ``f`` the share of
    them visited), scaled by their share of the rows, plus the within-row noise;
    degrees of freedom by Welch-Satterthwaite, at most the number of batches behind
    each part.

    Once every row is visited: the mean over the rows of each row's mean over its
    visits, with the within-row noise as its only error.
    """
    n = totals.size
    d = batches[0].first.shape[0]
    rows = np.concatenate([b.rows for b in batches])
    visits = np.bincount(rows, minlength=n)
    if visits.min() > 0:
        weights = [1.0 / (n * visits[b.rows]) for b in batches]
        values = sum(((b.first + b.second) / 2) @ w for b, w in zip(batches, weights,
                                                                      strict=True))  # fmt: skip
        within, df = _within(batches, weights)
        return np.asarray(values), within, df
    fixed = np.zeros(n, dtype=bool)
    if take_all is not None:
        fixed[take_all] = True
    n_rest = n - int(fixed.sum())
    phi = np.concatenate([(b.first + b.second) / 2 for b in batches], axis=1).T  # (visits, d)
    in_rest = ~fixed[rows]
    n_s = int(in_rest.sum())
    if n_s < 3:  # nothing yet to say about the rows not counted exactly
        return phi.mean(axis=0), np.full(d, np.inf), np.zeros(d)
    sampled, t = phi[in_rest], totals[rows[in_rest]]
    rest_mean_total = float(totals[~fixed].mean())
    t_c = t - t.mean()
    var_t = float(t_c @ t_c)
    mean = sampled.mean(axis=0)
    if var_t > 0.0:
        slopes = (t_c @ (sampled - mean)) / var_t
        rest_values = mean - slopes * (t.mean() - rest_mean_total)
        residual = sampled - mean - np.outer(t_c, slopes)
        between_df = n_s - 2
    else:
        rest_values, residual, between_df = mean, sampled - mean, n_s - 1
    share = n_rest / n
    values = (phi[~in_rest].sum(axis=0) + n_rest * rest_values) / n
    between = share**2 * (1.0 - n_s / n_rest) * (residual**2).sum(axis=0) / between_df / n_s
    weights = [np.where(fixed[b.rows], 1.0 / n, share / n_s) for b in batches]
    within, within_df = _within(batches, weights)
    variance = between + within
    with np.errstate(invalid="ignore", divide="ignore"):
        df = variance**2 / (between**2 / between_df + within**2 / within_df)
    df = np.where(variance > 0, df, within_df)
    return values, variance, df


def honest(variance: np.ndarray, df: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
    """Standard errors from a variance and its degrees of freedom (t-corrected, ``inf``
    below ``MIN_ERROR_DF``), at least ``1e-12`` times the largest |value| (when every
    row's estimate is exact, e.g. an additive model, the variance is rounding noise)."""
    errors = honest_errors(np.sqrt(variance)[:, None], np.minimum(df, 1e12)[:, None])[:, 0]
    if values is None:
        return errors
    return np.maximum(errors, ROUNDING * float(np.max(np.abs(values), initial=0.0)))


def sampled_sage(
    run_batches: Callable[[list[tuple[int, np.ndarray]]], list[BatchValues]],
    totals: np.ndarray,
    order: Callable[[int], np.ndarray],
    row_cost: int,
    max_model_rows: int,
    tol: float | None,
    take_all: np.ndarray | None = None,
) -> SageEstimate:
    """Visit the rows in rounds, pass after pass (``order(p)``: pass p's row order;
    a batch never spans two passes, so its rows differ), until the values converge
    (``tol``, Covert & Lee's rule) or the next round would pass ``max_model_rows``. The
    first round visits :data:`FIRST_BATCHES` batches and each later round of the first
    pass doubles the rows visited, up to its end; after it, each round adds whole
    passes, a quarter of those made (:data:`PASS_GROWTH`).

    ``run_batches([(index, rows), ...])`` returns each batch's :class:`BatchValues`;
    ``row_cost`` is the model rows one row of a batch costs; ``take_all``: the rows that
    ``order(0)`` puts first and :func:`combine` counts exactly.
    """
    n = totals.size
    batches: list[BatchValues] = []
    used = visits = 0
    converged = False
    take = min(n, FIRST_BATCHES * BATCH_ROWS)
    values = variance = df = None
    orders: dict[int, np.ndarray] = {}
    while True:
        # the first pass grows by doubling and ends a round; later rounds are whole
        # passes (a partial pass would weight rows unequally and leave few degrees of
        # freedom), a quarter more each round: few rounds, little overshoot
        affordable = (max_model_rows - used) // row_cost
        if visits < n:
            take = min(take, n - visits, affordable)
        else:
            take = min(-(-visits // n // PASS_GROWTH), affordable // n) * n
        if take <= 0:
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
        values, variance, df = combine(batches, totals, take_all)
        converged = has_converged(values[:, None], honest(variance, df, values)[:, None], tol)
        if converged:
            break
        take = visits
    if values is None or variance is None or df is None:
        raise ValueError("no batch fits in the model-row budget")  # the caller checks first
    return SageEstimate(values, honest(variance, df, values), used, visits, visits / n,
                        converged)
