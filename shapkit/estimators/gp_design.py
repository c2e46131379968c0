"""Choose which sampled units to evaluate so that the Gaussian process on the odd part
learns the most about the Shapley values: half at random, half by a greedy A-optimal
design.

Under the Moebius prior of :mod:`~shapkit.estimators.odd_gp` (all players alike, every
dividend of two or more players with variance ``eta^|T|``, the single players with a
flat prior), the posterior covariance of phi depends on where the game is observed, not
on what it returns. So before any evaluation, units can be picked one at a time from a
pool of candidates, each time the one that most reduces ``trace Cov(phi | units)``:
``||Cov(phi, o_c | chosen)||^2 / Var(o_c | chosen)``, one pivoted-Cholesky step per pick.
Random units often repeat what others already tell about the interactions; the picked
ones spread over them.

Picking every unit that way was worse where the pool covered most of the game (the
d = 10 diabetes MLP at 50 d: 0.34 of the kernel's error, against 0.27 with random
units): a design that is best for prediction under a fixed prior is a poor one for
estimating the prior's parameters, which REML must do from the same units. Half the
units of each stratum are therefore kept at random (the pool's first ones: the
sampler's balanced stream) and the other half picked given them: 0.58 / 0.38 / 0.17 at
10 / 20 / 50 d there, against 0.77 / 0.55 / 0.27 with random units only and 0.61 / 0.35
/ 0.34 with picked units only (docs/proxy.md).

The candidates and the number taken from each stratum come from the random stratified
sampler (:class:`~shapkit.estimators.coalition_design.CoalitionSampler`), so the
strata's weights are those of the random design.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cholesky, solve_triangular

from .odd_gp import mobius_covariance_from_sums, mobius_norm, mobius_shares
from .odd_regression import interaction_columns, shapley_map

#: The design's prior on the dividends: ``eta = DESIGN_ETA / d`` (the dividends of all
#: coalitions of two or more players then add up to about ``e - 2`` times the constraint
#: row's linear variance). On the d = 10 MLP at 10 d, eta 0.02 / 0.1 / 0.3 gave 0.63 /
#: 0.58 / 0.57 of the kernel's error (every unit picked).
DESIGN_ETA = 1.0
#: The single players' prior variance, relative to the constraint row's interaction
#: variance per player: large, a stand-in for the Gaussian process's flat prior on them.
LINEAR_VARIANCE = 1e4
#: Prior variance of the odd interactions of the default design prior, all together,
#: relative to that of all dividends together.
TERM_VARIANCE = 1.0


def design_prior(n_players: int) -> np.ndarray:
    """The per-player ``eta`` of the design's default Moebius prior."""
    return np.full(n_players, DESIGN_ETA / n_players)


@dataclass(frozen=True)
class DesignPrior:
    """The prior a design is chosen for: the Moebius prior's per-player ``etas``, odd
    interactions ``terms`` and their common variance relative to all dividends together
    (``term_weight``, as ``mu`` in :class:`~shapkit.estimators.odd_gp.OddGaussianProcess`).
    """

    etas: np.ndarray
    terms: tuple[tuple[int, ...], ...] = ()
    term_weight: float = TERM_VARIANCE

    @classmethod
    def default(cls, n_players: int, terms=()) -> DesignPrior:
        """``eta = DESIGN_ETA / d`` for every player, ``terms`` at :data:`TERM_VARIANCE`."""
        return cls(design_prior(n_players), tuple(terms))


class _Posterior:
    """Residual variances of the rows' odd parts and their residual covariances with
    phi, conditioned on the rows chosen so far (a pivoted Cholesky factor)."""

    def __init__(self, rows: np.ndarray, prior: DesignPrior, capacity: int) -> None:
        d = rows.shape[1]
        terms = list(prior.terms)
        self.etas = np.asarray(prior.etas, dtype=np.float64)
        self.linear = LINEAR_VARIANCE * mobius_norm(self.etas) / d
        self.inside = rows.astype(np.float64)
        self.x = 2.0 * self.inside - 1.0
        logs, etas = np.log1p(self.etas), self.etas
        self.weighted_log, self.weighted_lin = self.inside * logs, self.inside * etas
        self.row_log, self.row_lin = self.inside @ logs, self.inside @ etas
        size_log, size_lin = self.row_log, self.row_lin
        # 4 Var o(S) = k(S) + k(N - S), and 2 Cov(phi, o(S)), as in odd_gp
        self.variance = (
            np.expm1(size_log) - size_lin
            + np.expm1(logs.sum() - size_log) - (etas.sum() - size_lin)
            + self.linear * d
        )  # fmt: skip
        self.cross = mobius_shares(self.inside, etas) + self.linear * self.x
        # the odd interactions: together term_weight times the dividends' prior variance
        self.term_variance = prior.term_weight * mobius_norm(etas) / max(len(terms), 1)
        self.chi = interaction_columns(rows, terms)
        if terms:
            self.variance += self.term_variance * len(terms)
            share = shapley_map(d, terms)[:, d:] / 2.0  # 1 / |U| for U's players
            self.cross += self.term_variance * self.chi @ share.T
        self.floor = 1e-10 * float(self.variance.max())
        self.factor = np.zeros((len(rows), capacity), order="F")  # columns appended
        self.rank = 0

    def covariance(self, columns: np.ndarray) -> np.ndarray:
        """``4 Cov(o(S), o(S_c))`` of every row with rows ``columns``."""
        inside = self.inside[columns]
        both_log = self.weighted_log @ inside.T
        both_lin = self.weighted_lin @ inside.T
        sums = self.row_log, self.row_lin
        interactions = mobius_covariance_from_sums(
            both_log, both_lin, *sums, sums[0][columns], sums[1][columns], self.etas
        )
        terms = self.term_variance * (self.chi @ self.chi[columns].T)
        return interactions + terms + self.linear * (self.x @ self.x[columns].T)

    def condition_on(self, chosen: np.ndarray) -> None:
        """Condition on rows ``chosen`` at once (one blocked Cholesky step)."""
        if len(chosen) == 0:
            return
        r = self.rank
        block = self.covariance(chosen) - self.factor[:, :r] @ self.factor[chosen, :r].T
        inner = block[chosen]
        inner[np.diag_indices_from(inner)] += self.floor
        lower = cholesky(inner, lower=True)
        new = solve_triangular(lower, block.T, lower=True).T  # (rows, len(chosen))
        self.factor[:, r : r + len(chosen)] = new
        self.rank += len(chosen)
        self.variance -= (new**2).sum(axis=1)
        self.cross -= new @ solve_triangular(lower, self.cross[chosen], lower=True)
        self.variance[chosen] = 0.0

    def pick(self, p: int) -> None:
        """Condition on row p (one pivoted-Cholesky step)."""
        pivot = self.variance[p]
        if pivot > self.floor:  # else it repeats rows chosen before: nothing to learn
            r = self.rank
            column = self.covariance(np.array([p]))[:, 0] - self.factor[:, :r] @ self.factor[p, :r]
            column /= np.sqrt(pivot)
            self.factor[:, r] = column
            self.rank += 1
            self.variance -= column**2
            self.cross -= np.outer(column, self.cross[p] / np.sqrt(pivot))
        self.variance[p] = 0.0

    def gain(self) -> np.ndarray:
        """Reduction of ``trace Cov(phi)`` by each row (zero for exhausted rows)."""
        informative = self.variance > self.floor
        return np.where(
            informative, (self.cross**2).sum(axis=1) / np.maximum(self.variance, self.floor), 0.0
        )


def choose_units(
    fixed: np.ndarray,
    pool: np.ndarray,
    group: np.ndarray,
    quota: np.ndarray,
    prior: DesignPrior | None = None,
) -> np.ndarray:
    """Indices into ``pool`` of the units to evaluate, ``quota[g]`` from each group g, in
    the order picked.

    ``fixed`` bool ``(k, d)``: units already in the design (their first coalitions); the
    efficiency constraint (the full coalition) is always in it. ``pool`` bool ``(m, d)``:
    the candidates, ``group`` ``(m,)`` their group (stratum), ``quota`` the number to take
    per group (at most the candidates it has). ``prior``: the prior to design for
    (:meth:`DesignPrior.default` if None). Picks greedily by the largest reduction of
    ``trace Cov(phi)`` under it, given the units before (module docstring).
    """
    quota = np.asarray(quota, dtype=np.int64)
    d = pool.shape[1]
    rows = np.vstack([np.ones((1, d), bool), fixed, pool])
    offset = 1 + len(fixed)
    n_pick = int(quota.sum())
    if prior is None:
        prior = DesignPrior.default(d)
    posterior = _Posterior(rows, prior, offset + n_pick)
    posterior.condition_on(np.arange(offset))
    left = quota.copy()
    open_ = np.zeros(len(rows), bool)
    open_[offset:] = left[group] > 0
    picked = []
    for _ in range(n_pick):
        score = np.where(open_, posterior.gain(), -np.inf)
        p = int(np.argmax(score))
        picked.append(p - offset)
        g = group[p - offset]
        left[g] -= 1
        open_[p] = False
        if left[g] == 0:
            open_[offset:] &= group != g
        posterior.pick(p)
    return np.asarray(picked, dtype=np.int64)
