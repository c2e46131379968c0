"""Choose which sampled units to evaluate so that the Gaussian process on the odd part
learns the most about the Shapley values (a greedy A-optimal design).

Under the Moebius prior of :mod:`~shapkit.estimators.proxy.gp` (every dividend of two or
more players with variance ``prod eta_j``, the odd interactions the trees found with a
common variance, the single players with a flat prior), the posterior covariance of phi
depends on where the game is observed, not on what it returns. So units can be picked
before they are evaluated, one at a time from a pool of candidates, each time the one
that most reduces ``trace Cov(phi | units)``: ``||Cov(phi, o_c | chosen)||^2 /
Var(o_c | chosen)``, one pivoted-Cholesky step per pick (the flat prior is stood in for
by a large variance). Random units often repeat what others already tell about the
interactions; the picked ones spread over them.

The proxy estimator evaluates half of each round's units
at random first, and picks the other half given them, under the prior the Gaussian
process fits to the first half (:class:`DesignPrior`). Picking every unit was worse
where the pool covered most of the game (the d = 10 diabetes MLP at 50 d: 0.34 of the
kernel's error, against 0.27 with random units): a design best for prediction under a
fixed prior is a poor one for estimating the prior, which REML must do from the same
units. Half and half measured 0.63 / 0.39 / 0.17 there at 10 / 20 / 50 d, against 0.77 /
0.55 / 0.27 with random units only (docs/proxy.md).

The candidates and the number taken from each stratum come from the random stratified
sampler (:class:`~shapkit.estimators.coalition_design.CoalitionSampler`), so the
strata's weights are those of the random design.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular
from scipy.linalg.lapack import dpstrf

from ..coalition_design import UnitChooser
from ..paired import PairedSample
from .gp import (
    fit_odd_gp,
    mobius_covariance_from_sums,
    mobius_norm,
    mobius_shares,
    player_relevance,
)
from .interactions import interactions, proxy_rows
from .regression import interaction_columns, shapley_map
from .tuning import DESIGN_ETA, DESIGN_REML_UNITS, MAX_TERM_WEIGHT, TERM_VARIANCE

#: The single players' prior variance, relative to the interactions' (dividends' and
#: terms') prior variance at the constraint row per player: large, a stand-in for the
#: Gaussian process's flat prior on them.
LINEAR_VARIANCE = 1e3
#: Residual variances below this share of the interactions' prior variance count as zero.
FLOOR = 1e-9


def design_prior(n_players: int) -> np.ndarray:
    """The per-player ``eta`` of the design's default Moebius prior."""
    return np.full(n_players, DESIGN_ETA / n_players)


@dataclass(frozen=True)
class DesignPrior:
    """The prior a design is chosen for: the Moebius prior's per-player ``etas``, odd
    interactions ``terms`` and their common variance relative to all dividends together
    (``term_weight``, as ``mu`` in :class:`~shapkit.estimators.proxy.gp.OddGaussianProcess`).
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
        # the interactions' prior variance at the constraint row: the scale of the problem
        term_weight = min(prior.term_weight, MAX_TERM_WEIGHT)
        scale = mobius_norm(self.etas) * (1.0 + term_weight)
        self.linear = LINEAR_VARIANCE * scale / d
        self.inside = rows.astype(np.float64)
        self.x = 2.0 * self.inside - 1.0
        logs, etas = np.log1p(self.etas), self.etas
        self.weighted_log, self.weighted_lin = self.inside * logs, self.inside * etas
        self.row_log, self.row_lin = self.inside @ logs, self.inside @ etas
        size_log, size_lin = self.row_log, self.row_lin
        # 4 Var o(S) = k(S) + k(N - S), and 2 Cov(phi, o(S)), as in gp.py
        self.variance = (
            np.expm1(size_log) - size_lin
            + np.expm1(logs.sum() - size_log) - (etas.sum() - size_lin)
            + self.linear * d
        )  # fmt: skip
        self.cross = mobius_shares(self.inside, etas) + self.linear * self.x
        # the odd interactions: together term_weight times the dividends' prior variance
        self.term_variance = term_weight * mobius_norm(etas) / max(len(terms), 1)
        self.chi = interaction_columns(rows, terms)
        if terms:
            self.variance += self.term_variance * len(terms)
            share = shapley_map(d, terms)[:, d:] / 2.0  # 1 / |U| for U's players
            self.cross += self.term_variance * self.chi @ share.T
        # residual variances below this are round-off (of the linear part's, mostly)
        self.floor = FLOOR * scale
        self.factor = np.zeros((len(rows), capacity), order="F")  # columns appended
        self.rank = 0

    def covariance_with(self, p: np.ndarray) -> np.ndarray:
        """``4 Cov(o(S), o(S_q))`` ``(n, k)`` of every row with the rows ``q`` in ``p``."""
        inside = self.inside[p]
        interactions = mobius_covariance_from_sums(
            self.weighted_log @ inside.T, self.weighted_lin @ inside.T,
            self.row_log, self.row_lin, self.row_log[p], self.row_lin[p], self.etas,
        )  # fmt: skip
        terms = self.term_variance * (self.chi @ self.chi[p].T)
        return interactions + terms + self.linear * (self.x @ self.x[p].T)

    def pick(self, p: int) -> None:
        """Condition on row p (one pivoted-Cholesky step)."""
        pivot = self.variance[p]
        if pivot > self.floor:  # else it repeats rows chosen before: nothing to learn
            r = self.rank
            column = self.covariance_with(np.array([p]))[:, 0]
            column -= self.factor[:, :r] @ self.factor[p, :r]
            column /= np.sqrt(pivot)
            self.factor[:, r] = column
            self.rank += 1
            self.variance -= column**2
            self.cross -= np.outer(column, self.cross[p] / np.sqrt(pivot))
        self.variance[p] = 0.0

    def pick_all(self, rows: np.ndarray) -> None:
        """Condition on every row in ``rows`` at once: the same posterior as picking them
        one at a time, rows whose residual variance is round-off skipped alike (LAPACK's
        pivoted Cholesky of their residual covariance, stopped at the floor)."""
        r = self.rank
        cov = self.covariance_with(rows) - self.factor[:, :r] @ self.factor[rows, :r].T
        lower, piv, rank, info = dpstrf(cov[rows], lower=1, tol=self.floor)
        if info < 0:
            raise np.linalg.LinAlgError(f"dpstrf: argument {-info} is illegal")
        if rank > 0:
            chosen = piv[:rank] - 1  # LAPACK's pivots count from 1
            factor = solve_triangular(
                lower[:rank, :rank], cov[:, chosen].T, lower=True, check_finite=False
            ).T  # (n, rank): each row's covariances with the chosen, whitened
            self.factor[:, r : r + rank] = factor
            self.rank += rank
            self.variance -= (factor**2).sum(axis=1)
            self.cross -= factor @ solve_triangular(
                lower[:rank, :rank], self.cross[rows[chosen]], lower=True, check_finite=False
            )  # fmt: skip
        self.variance[rows] = 0.0

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
    efficiency constraint (the full coalition) is added to them. ``pool`` bool ``(m, d)``:
    the candidates, ``group`` ``(m,)`` their group (stratum), ``quota`` the number to take
    per group (at most the candidates it has). ``prior``: the prior to design for
    (:meth:`DesignPrior.default` if None). Picks greedily by the largest reduction of
    ``trace Cov(phi)`` under it, given the units before (module docstring).
    """
    quota = np.asarray(quota, dtype=np.int64)
    available = np.bincount(group, minlength=len(quota))
    if np.any(available[: len(quota)] < quota):
        raise ValueError(
            f"choose_units needs at least quota[g] candidates in every group g; got "
            f"{available[: len(quota)].tolist()} candidates for quotas {quota.tolist()}."
        )
    d = pool.shape[1]
    rows = np.vstack([np.ones((1, d), bool), fixed, pool])
    offset = 1 + len(fixed)
    n_pick = int(quota.sum())
    if prior is None:
        prior = DesignPrior.default(d)
    posterior = _Posterior(rows, prior, offset + n_pick)
    posterior.pick_all(np.arange(offset))
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


def greedy_chooser(
    state: PairedSample,
    coalitions: list[np.ndarray],
    evaluated: list[np.ndarray],
    n_terms: Callable[[int, int], int],
    booster: str,
    rng: np.random.Generator,
    hint: dict[str, float] | None = None,
) -> UnitChooser:
    """The unit chooser of a greedy round, given the units evaluated so far: the
    Gaussian process (first output) fitted to them, its REML prior and the odd
    interactions its trees find, is the prior the design is chosen for
    (:class:`DesignPrior`; the default prior plus the trees' interactions below
    :data:`~.tuning.DESIGN_REML_UNITS` units per player, or where no fit is possible).
    ``n_terms(evaluations, d)`` is the trees' interaction count. Without the
    interactions picked units left their coefficients undetermined; with the default
    prior's eta sums of unanimity games lost (docs/proxy.md). ``hint``: the
    hyperparameters an earlier fit of the first output chose, where REML starts
    (:func:`~.gp.fit_odd_gp`); the ones this fit chooses replace them."""
    d = state.d
    masks, values = np.concatenate(coalitions), np.concatenate(evaluated)
    rows, targets = proxy_rows(state, masks, values)
    terms = interactions(rows, targets[:, 0], n_terms(len(rows), d), booster, rng)
    prior = DesignPrior.default(d, terms)
    earlier = masks[0::2]  # the units' first coalitions
    if len(earlier) >= DESIGN_REML_UNITS * d:
        phi, _ = state.solve()
        y = state.unit_targets(values)[:, 0]
        relevance = player_relevance(phi[:, 0])
        fitted = fit_odd_gp(
            earlier, y, float(state.delta[0]), terms, rng, relevance, hint or None
        )
        if fitted is not None:
            hyper = fitted[1]
            if hint is not None:
                hint.clear()
                hint.update(hyper)
            etas = hyper["eta_mobius"] * relevance ** hyper.get("gamma", 0.0)
            prior = DesignPrior(etas, tuple(terms), hyper.get("mu", 0.0))

    def choose(
        fixed: np.ndarray, pool: np.ndarray, stratum: np.ndarray, counts: np.ndarray
    ) -> np.ndarray:
        return choose_units(np.concatenate([earlier, fixed]), pool, stratum, counts, prior)

    return choose
