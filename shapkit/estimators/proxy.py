"""Regression-adjusted Monte Carlo: a tree proxy's exact values plus a sampled correction.

Witter, Liu & Musco (2025, "MSR" / "Tree MSR"). The Shapley value is linear in the game,
so for any proxy f

    phi(v) = phi(f) + phi(v - f).

The estimator fits a proxy f of v on the 0/1 vectors of sampled coalitions (a linear
least-squares fit plus a small gradient-boosted tree ensemble on its residuals), computes
``phi(f)`` exactly (the linear part's coefficients, and the trees' values by shapkit's
interventional TreeSHAP with explicand 1 and background 0), and estimates the residual
game's value ``phi(r)``, ``r = v - f``, from the sampled coalitions.

Writing ``phi_i(r) = sum_S c_i(S) r(S)`` with ``c_i(S) = p_{s-1}`` for ``i in S`` and
``-p_s`` for ``i not in S`` (``p_s = s! (d-s-1)! / d!``), and pairing each coalition S with
its complement (``c_i(N-S) = -c_i(S)``), one *unit* u = {S, N-S} with ``|S| = s <= d/2``
contributes

    t_i(u) = c_i(S) (r(S) - r(N-S)),

the empty and full coalitions contribute ``(r(N) - r(0)) / d`` to every player, and

    phi_i(r) = (r(N) - r(0)) / d + sum_t sum_{u in stratum t} t_i(u).

Units are drawn by :class:`~shapkit.estimators.coalition_design.CoalitionSampler`: stratum
t (the coalitions of size s and d - s) holds ``n_t`` units, of which a simple random
sample without replacement of ``m_t`` is drawn (all of them when the budget covers the
stratum). The stratified expansion estimator

    phi_hat_i(r) = (r(N) - r(0)) / d + sum_t (n_t / m_t) sum_{sampled u in t} t_i(u)

is unbiased for every fixed f (given ``m_t >= 1``, which the minimum budget guarantees),
and its variance is estimated by the stratified formula
``sum_t n_t^2 (1 - m_t/n_t) s_t^2 / m_t``. See docs/proxy.md for the derivation, the
cross-fitted variant (``fit="cross"``, exactly unbiased also for the fitted f) and
measurements.

Efficiency holds exactly: ``sum_i c_i(S) = s p_{s-1} - (d-s) p_s = 0`` for every proper
coalition, so the correction sums to ``r(N) - r(0)`` and the total to ``v(N) - v(0)``;
only round-off is spread equally over the players.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._boosters import BOOSTERS, boosted_trees
from .base import (
    MIN_ERROR_DF,
    Estimator,
    Game,
    ShapleyResult,
    default_budget,
    first_round,
    has_converged,
    honest_errors,
)
from .blas import one_blas_thread
from .coalition_design import SIZE_DISTRIBUTIONS, CoalitionSampler
from .exact import exact_if_affordable
from .kernel import KernelEstimator, _evaluate, kernel_state_bytes
from .kernel import min_budget as kernel_min_budget
from .odd_proxy import GP_MAX_UNITS, GP_PRIORS, estimate_odd
from .odd_regression import default_n_terms

PROXIES = ("odd", "tree", "linear")
FITS = ("same", "cross")
SOLVERS = ("gp", "regression")
#: Which sampled units to evaluate (``proxy="odd"`` with the Gaussian process only).
DESIGNS = ("greedy", "random")

#: Below ``MIN_EVALS_PER_PLAYER * d`` evaluations the estimator falls back to ``kernel``.
MIN_EVALS_PER_PLAYER = 10

#: ``method="auto"`` picks the proxy estimator for an explicit budget of at least this
#: many evaluations per player (when exact enumeration does not fit): from there on it
#: measured 0.17-0.68x the kernel estimator's error on every benchmark game, model games
#: and sums of unanimity games alike; docs/proxy.md.
PROXY_AUTO_EVALS_PER_PLAYER = MIN_EVALS_PER_PLAYER


def proxy_min_budget(n_players: int) -> int:
    """Fewest evaluations at which the proxy estimator runs instead of falling back."""
    return MIN_EVALS_PER_PLAYER * n_players


def shapley_coefficients(n_players: int) -> tuple[np.ndarray, np.ndarray]:
    """``(p_in, p_out)`` over sizes ``s = 0..d``: ``c_i(S) = p_in[s]`` when ``i in S``,
    ``-p_out[s]`` when not; ``p_in[s] = p_{s-1}``, ``p_out[s] = p_s``."""
    d = n_players
    p = np.array(
        [math.exp(math.lgamma(s + 1) + math.lgamma(d - s) - math.lgamma(d + 1)) for s in range(d)]
    )
    p_in = np.concatenate([[0.0], p])
    p_out = np.concatenate([p, [0.0]])
    return p_in, p_out


class ProxyEstimator(Estimator):
    """Regression-adjusted Monte Carlo with a proxy of the game: odd interactions found by
    trees (default), a tree ensemble, or a linear fit.

    Parameters
    ----------
    proxy : {"odd", "tree", "linear"}
        ``"odd"`` (default; :mod:`~shapkit.estimators.odd_proxy`): boosted trees fitted to
        v pick the odd interactions of three or more players with the largest Fourier
        coefficients, and ``solver`` turns them and the units into values.
        ``"tree"`` (Tree MSR): ``linear_share`` of a least-squares additive fit, then
        gradient-boosted trees on the rest (XGBoost when installed, else scikit-learn's
        HistGradientBoostingRegressor; the tree count grows with the budget), then a
        least-squares additive fit of what the trees leave.
        ``"linear"``: the additive fit alone (cheap; exact on additive games).
    fit : {"same", "cross"}
        ``"same"`` (default, as in the paper): fit the proxy and correct on the same
        coalitions. ``"cross"``: two-fold cross-fitting within strata, exactly unbiased
        (``"tree"`` and ``"linear"`` only).
    size_distribution : {"leverage", "kernel"}
        How sampled units are spread over coalition sizes (see
        :class:`~shapkit.estimators.coalition_design.CoalitionSampler`).
    n_trees, max_depth, learning_rate : optional
        Tree proxy size. ``"odd"``: 100 trees of depth 10 (31 leaves, 20 rows per leaf) by
        default. ``"tree"``: depth 3, and ``n_trees=None`` scales the count with the
        budget: ``clip(evaluations / 10, 30, 300)`` trees.
    solver : {"gp", "regression"}
        ``"odd"`` only. ``"gp"`` (default; :mod:`~shapkit.estimators.odd_gp`): a Gaussian
        process on the game's odd part, with a prior on every interaction (``gp_prior``)
        plus the trees' interactions, its variances chosen by restricted maximum
        likelihood; the values are the posterior mean (it interpolates every unit, so
        the proxy's Monte Carlo correction is zero), the errors design-based from each
        unit's weight in it and its leave-one-out residual. Where it predicts held-out
        units no better than the kernel estimator's additive fit (a game without
        structure), the kernel estimate is returned (``result.method == "kernel"``).
        From ``2 d`` to 4000 sampled units (its solve is cubic in them); outside,
        ``"regression"``.
        ``"regression"`` (:mod:`~shapkit.estimators.odd_regression`): a kernel-weighted
        ridge regression on the single players plus the trees' interactions. Where the
        additive fit explains less than ``min_additive_share`` of the game's odd part,
        the interactions are dense and of high order and would add error: the kernel
        estimate of the same coalitions is returned (``result.method == "kernel"``).
        Either way, where the single players and the trees' interactions reproduce
        every unit exactly, that fit's values are returned (exact).
    gp_prior : {"mobius", "fourier", "both"}
        ``solver="gp"``: the prior on every interaction. ``"mobius"`` (default): the
        game's Harsanyi dividends of two or more players, independent with variance
        ``eta^|T|``; ``"fourier"``: the odd Walsh coefficients, variance ``eta^|U|``;
        ``"both"``: their sum. The Moebius prior measured as accurate or more on every
        benchmark game, and up to 0.1 more accurate (relative to the kernel's error) on
        sums of unanimity games (docs/proxy.md).
    design : {"greedy", "random"}
        ``solver="gp"`` only: which units to evaluate. ``"greedy"`` (default;
        :mod:`~shapkit.estimators.gp_design`): half of each round's units are drawn at
        random as the kernel estimator draws them; the other half, from four times as
        many random candidates per stratum, are the ones that most reduce the Gaussian
        process's posterior variance of the values, under the Moebius prior REML fits to
        the first half (with at least 4 units per player, and ``gp_prior="mobius"``;
        else a default prior) plus the interactions the trees find in it; for games with
        several outputs, those of the first. From ``2 d`` up to 1000 units and half the
        game's units; beyond, ``"random"``. ``"random"``: every unit at random.
    n_terms : int, optional
        ``"odd"``: interactions the trees contribute; default ``budget / 5``, at most ``10 d``
        and 1000.
    ridge : float
        ``solver="regression"`` (and ``"gp"`` outside its range of units): ridge
        penalty on the interactions' coefficients, relative to the total unit weight
        (shrinks toward the kernel estimate).
    min_additive_share : float
        ``solver="regression"`` (and ``"gp"`` outside its range): the guard above
        (0.9; 0 always uses the interactions).
    first_round : float
        With ``tol``, the share of the budget spent before the first convergence check;
        later rounds double the evaluations (the proxy is refitted each round).
    booster : {"auto", "lightgbm", "xgboost", "sklearn"}
        The tree library. ``"auto"``: for ``"odd"`` LightGBM when importable, for
        ``"tree"`` XGBoost; else scikit-learn's HistGradientBoostingRegressor.
    linear_share : float
        Share of the additive fit removed before the trees (a full removal leaves every
        single split with zero gain, so greedy trees stall).
    target : {"value", "odd"}
        Fit the proxy to v, or to its odd part ``(v(S) - v(N-S)) / 2``.
    weighting : {"none", "variance"}
        Equal row weights, or each unit's share of the correction's variance.
        ``target`` and ``weighting`` (``"tree"`` and ``"linear"`` only) were measured no
        better than the defaults.

    Below ``10 d`` evaluations (:func:`proxy_min_budget`) it runs the kernel estimator
    and says so in ``result.method``; when ``2^d`` coalitions fit the budget (``d <= 20``)
    it enumerates them (``method="exact"``).

    Example
    -------
    >>> import numpy as np, shapkit
    >>> def game(masks):  # additive part plus a three-player interaction
    ...     z = masks.astype(float)
    ...     return z @ np.arange(1.0, 13.0) + 5.0 * z[:, 0] * z[:, 1] * z[:, 2]
    >>> result = shapkit.shapley_values(game, 12, method="proxy", budget=2000, seed=0)
    >>> np.round(result.values[:4], 6)
    array([2.666667, 3.666667, 4.666667, 4.      ])
    """

    name = "proxy"

    def __init__(
        self,
        proxy: str = "odd",
        fit: str = "same",
        size_distribution: str = "leverage",
        n_trees: int | None = None,
        max_depth: int | None = None,
        learning_rate: float = 0.1,
        first_round: float = 0.25,
        booster: str = "auto",
        linear_share: float = 0.8,
        target: str = "value",
        weighting: str = "none",
        n_terms: int | None = None,
        ridge: float = 0.1,
        min_additive_share: float = 0.9,
        solver: str = "gp",
        gp_prior: str = "mobius",
        design: str = "greedy",
    ) -> None:
        if proxy not in PROXIES:
            raise ValueError(f"Unknown proxy={proxy!r}; choose one of {list(PROXIES)}.")
        if fit not in FITS:
            raise ValueError(f"Unknown fit={fit!r}; choose one of {list(FITS)}.")
        if size_distribution not in SIZE_DISTRIBUTIONS:
            raise ValueError(
                f"Unknown size_distribution={size_distribution!r}; choose one of "
                f"{list(SIZE_DISTRIBUTIONS)}."
            )
        if booster not in BOOSTERS:
            raise ValueError(f"booster must be one of {list(BOOSTERS)}; got {booster!r}.")
        if proxy == "odd" and (fit != "same" or target != "value" or weighting != "none"):
            raise ValueError(
                "fit='cross', target='odd' and weighting='variance' apply to proxy='tree' "
                "and proxy='linear'; proxy='odd' fits and solves on all coalitions."
            )
        if n_terms is not None and n_terms < 0:
            raise ValueError(f"n_terms must be a non-negative integer or None; got {n_terms}.")
        if not ridge >= 0:
            raise ValueError(f"ridge must be >= 0; got {ridge}.")
        if solver not in SOLVERS:
            raise ValueError(f"Unknown solver={solver!r}; choose one of {list(SOLVERS)}.")
        if gp_prior not in GP_PRIORS:
            raise ValueError(f"Unknown gp_prior={gp_prior!r}; choose one of {list(GP_PRIORS)}.")
        if design not in DESIGNS:
            raise ValueError(f"Unknown design={design!r}; choose one of {list(DESIGNS)}.")
        self.design = design
        self.proxy = proxy
        self.fit = fit
        self.size_distribution = size_distribution
        self.n_trees = n_trees
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.first_round = first_round
        self.booster = booster
        self.linear_share = linear_share
        if target not in ("value", "odd"):
            raise ValueError(f"target must be 'value' or 'odd'; got {target!r}.")
        self.target = target
        if weighting not in ("none", "variance"):
            raise ValueError(f"weighting must be 'none' or 'variance'; got {weighting!r}.")
        self.weighting = weighting
        self.n_terms = n_terms
        self.ridge = ridge
        self.min_additive_share = min_additive_share
        self.solver = solver
        self.gp_prior = gp_prior

    def check_budget(self, n_players: int, budget: int | None) -> None:
        """The kernel estimator's rule (at least ``d + 2`` evaluations, or ``2^d``),
        refused in the proxy's name."""
        if budget is not None and budget < min(kernel_min_budget(n_players), 2**n_players):
            raise ValueError(
                f"method='proxy' needs at least d + 2 = {kernel_min_budget(n_players)} game "
                f"evaluations for d={n_players} players; got budget={budget}."
            )

    def max_evaluations(self, n_players: int, budget: int | None) -> int:
        return KernelEstimator().max_evaluations(n_players, budget)

    def state_bytes(self, n_players: int, budget: int | None, n_outputs: int) -> int:
        """The kernel estimator's state, plus the Gaussian process's dense matrices
        (about ten of units x units: 1.3 GB measured at its 4000-unit limit) or, beyond
        that limit, the regression's design on the players and interactions."""
        d = n_players
        evaluations = self.max_evaluations(d, budget)
        units = max(evaluations - 2, 0) // 2
        kernel = kernel_state_bytes(d, evaluations, n_outputs)
        if units <= GP_MAX_UNITS:
            return kernel + 80 * units * units
        return kernel + 24 * units * (d + default_n_terms(evaluations, d))

    def estimate(
        self,
        game: Game,
        n_players: int,
        budget: int | None,
        tol: float | None,
        rng: np.random.Generator,
    ) -> ShapleyResult:
        d = n_players
        budget = budget if budget is not None else default_budget(d)
        self.check_budget(d, budget)
        exact = exact_if_affordable(game, d, budget, rng)
        if exact is not None:
            return exact
        if budget < proxy_min_budget(d):
            kernel = KernelEstimator(size_distribution=self.size_distribution)
            return kernel.estimate(game, d, budget, tol, rng)
        if self.proxy == "odd":
            return estimate_odd(self, game, d, budget, tol, rng)

        sampler = CoalitionSampler(d, self.size_distribution, rng)
        total_units = (budget - 2) // 2
        n_strata = len(sampler.strata.sizes)
        first = first_round(total_units, self.first_round, max(d + MIN_ERROR_DF, n_strata), 2)
        target = total_units if tol is None else min(total_units, first)
        ends = np.array([np.zeros(d, bool), np.ones(d, bool)])
        masks_parts: list[np.ndarray] = []
        values_parts: list[np.ndarray] = []
        stratum_parts: list[np.ndarray] = []
        empty = full = None
        used = 0
        while True:
            units = target - used
            if units > 0 and sampler.remaining_units > 0:
                masks, stratum, _, _ = sampler.draw(units, rng)
                if empty is None:
                    values = _evaluate(game, np.concatenate([ends, masks]))
                    empty, full = values[0], values[1]
                    values = values[2:]
                else:
                    values = _evaluate(game, masks)
                masks_parts.append(masks)
                values_parts.append(values)
                stratum_parts.append(stratum)
                used += len(stratum)
            if empty is None:  # nothing left to draw (cannot happen past the exact branch)
                values = _evaluate(game, ends)
                empty, full = values[0], values[1]
            with one_blas_thread():
                phi, errors = self._solve(
                    np.concatenate(masks_parts),
                    np.concatenate(values_parts),
                    np.concatenate(stratum_parts),
                    empty,
                    full,
                    sampler,
                    rng,
                )
            done = used >= total_units or sampler.remaining_units == 0
            if done or has_converged(phi, errors, tol):
                break
            target = min(total_units, 2 * max(target, used))
        return ShapleyResult(phi, errors, 2 + 2 * used, self.name, empty, full)

    # ------------------------------------------------------------------------------------

    def _solve(
        self,
        masks: np.ndarray,
        values: np.ndarray,
        stratum: np.ndarray,
        empty: np.ndarray,
        full: np.ndarray,
        sampler: CoalitionSampler,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        d = masks.shape[1]
        n_units = len(stratum)
        strata = sampler.strata
        counts = np.bincount(stratum, minlength=len(strata.sizes)).astype(np.float64)
        delta = full - empty
        # fitting rows: every sampled coalition plus the empty and full ones
        z = np.concatenate([masks, [np.zeros(d, bool), np.ones(d, bool)]]).astype(np.float64)
        y = np.concatenate([values, [empty, full]])
        # per-unit coefficient rows: c_i(S) for the unit's first coalition S (row 2j)
        s_first = masks[0::2].sum(axis=1)
        p_in, p_out = shapley_coefficients(d)
        first = masks[0::2]
        coef = np.where(first, p_in[s_first][:, None], -p_out[s_first][:, None])  # (n, d)

        if self.fit == "same" or n_units < 4:
            rw = self._row_weights(s_first, stratum, counts, strata.n_units, d)
            f, phi_f = self._fit_proxy(z, self._targets(y), rng, weights=rw)
            weight = strata.n_units[stratum] / counts[stratum]
            phi, effect = _correct(f, y, phi_f, coef, weight, n_units)
            errors = _stratified_errors(effect, stratum, counts, strata.n_units)
            # in-sample residuals are smaller than out-of-sample ones: inflate by the
            # least-squares degrees-of-freedom factor of the additive part (d + 1 terms)
            rows = len(y)
            errors *= math.sqrt(rows / (rows - d - 1)) if rows > 2 * (d + 1) else math.sqrt(2.0)
        else:
            phi, errors = self._cross_fit(z, y, coef, s_first, stratum, counts, strata.n_units, rng)
        phi += (delta - phi.sum(axis=0)) / d  # round-off only: the correction keeps the sum
        return phi, honest_errors(errors, n_units - d - 1)

    def _row_weights(
        self,
        s_first: np.ndarray,
        stratum: np.ndarray,
        counts: np.ndarray,
        n_units: np.ndarray,
        d: int,
    ) -> np.ndarray | None:
        """Fitting weights of the rows (units' coalitions, then empty and full): with
        ``weighting="variance"`` each unit's share of the correction's variance per unit
        squared residual, ``sum_i (n_t/m_t)^2 c_i(S)^2 = (n_t / (m_t C(d,s)))^2 d/(s(d-s))``;
        the exact empty and full rows get the largest weight."""
        if self.weighting == "none":
            return None
        s = s_first.astype(np.float64)
        log_comb = np.array([math.lgamma(d + 1) - math.lgamma(k + 1) - math.lgamma(d - k + 1)
                             for k in range(d + 1)])  # fmt: skip
        ratio = np.exp(np.log(n_units[stratum]) - log_comb[s_first]) / counts[stratum]
        unit = ratio**2 * d / (s * (d - s))
        unit = unit / unit.mean()
        return np.concatenate([np.repeat(unit, 2), [unit.max(), unit.max()]])

    def _targets(self, y: np.ndarray) -> np.ndarray:
        """What the proxy is fitted to: v itself, or (``target="odd"``) its odd part
        ``(v(S) - v(N-S)) / 2``, the only part the Shapley values (and the correction)
        depend on. Rows: the units' coalitions in pairs, then the empty and full ones."""
        if self.target == "value":
            return y
        odd = np.empty_like(y)
        half = 0.5 * (y[0::2] - y[1::2])  # pairs (S, N-S), the last pair (empty, full)
        odd[0::2] = half
        odd[1::2] = -half
        return odd

    def _cross_fit(
        self,
        z: np.ndarray,
        y: np.ndarray,
        coef: np.ndarray,
        s_first: np.ndarray,
        stratum: np.ndarray,
        counts: np.ndarray,
        n_units_all: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Two folds split within strata; each fold's proxy is corrected on the other fold.

        Fitting on fold A, the units of A are known exactly (their residual terms are
        summed with weight 1) and fold B is a simple random sample of the stratum's other
        units, so ``(n_t - a_t) / b_t`` expands it: unbiased given A. The two directions
        are averaged. Strata with a single sampled unit put it in both folds' fitting data
        and expand it with ``n_t`` (slightly biased; the minimum budget avoids them).
        """
        n = len(stratum)
        d = z.shape[1]
        fold = np.zeros(n, dtype=np.int64)
        for t in np.unique(stratum):
            members = np.flatnonzero(stratum == t)
            perm = rng.permutation(members)
            fold[perm[len(perm) // 2 :]] = 1
        lone = counts[stratum] < 2
        phis, variances = [], []
        for a in (0, 1):
            in_a = (fold == a) & ~lone
            fit_rows = np.concatenate([np.repeat(in_a | lone, 2), [True, True]])
            rw = self._row_weights(s_first, stratum, counts, n_units_all, d)
            f_model, phi_f = self._fit_proxy(
                z[fit_rows],
                self._targets(y)[fit_rows],
                rng,
                predict_rows=z,
                weights=None if rw is None else rw[fit_rows],
            )
            a_count = np.bincount(stratum[in_a], minlength=len(counts)).astype(np.float64)
            b_count = counts - a_count
            rest = n_units_all - a_count  # units of the stratum outside fold A
            weight = np.where(
                lone,
                n_units_all[stratum],
                np.where(in_a, 1.0, rest[stratum] / np.maximum(b_count[stratum], 1.0)),
            )
            phi, effect = _correct(f_model, y, phi_f, coef, weight, n)
            phis.append(phi)
            random = ~in_a  # fold-B and lone units; fold A's terms are exact given A
            sub_counts = np.bincount(stratum[random], minlength=len(counts)).astype(np.float64)
            errors = _stratified_errors(effect[random], stratum[random], sub_counts, rest)
            variances.append(errors**2)
        phi = 0.5 * (phis[0] + phis[1])
        # the two directions' errors are correlated in an unknown way: the mean of their
        # standard errors bounds the standard error of their mean (Minkowski)
        return phi, 0.5 * (np.sqrt(variances[0]) + np.sqrt(variances[1]))

    def _fit_proxy(
        self,
        z: np.ndarray,
        y: np.ndarray,
        rng: np.random.Generator,
        predict_rows: np.ndarray | None = None,
        weights: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fit the proxy per output on ``(z, y)`` (row ``weights``, default equal); return
        its predictions ``(rows, k)`` on ``predict_rows`` (default ``z``) and its exact
        Shapley values ``(d, k)``."""
        root = np.ones(len(z)) if weights is None else np.sqrt(weights)
        d = z.shape[1]
        k = y.shape[1]
        rows = z if predict_rows is None else predict_rows
        pred = np.zeros((len(rows), k))
        phi = np.zeros((d, k))
        residual = y.copy()
        design = np.column_stack([np.ones(len(z)), z])
        if self.proxy == "tree":
            # An exactly additive game needs no trees (and the linear fit below is exact).
            coefs0, *_ = np.linalg.lstsq(design * root[:, None], y * root[:, None], rcond=None)
            left = y - design @ coefs0
            additive = np.abs(left).max(axis=0) <= 1e-10 * (np.abs(y).max(axis=0) + 1e-300)
            # Remove only part of the additive fit before the trees: after the full
            # least-squares fit every single split has zero gain (the residuals are
            # orthogonal to each z_j), so greedy trees would stall.
            lead = self.linear_share * (design @ coefs0)
            residual -= lead
            pred += self.linear_share * (np.column_stack([np.ones(len(rows)), rows]) @ coefs0)
            phi += self.linear_share * coefs0[1:]
            for c in range(k):
                if additive[c]:
                    continue
                fitted, tree_pred, tree_phi = self._fit_trees(z, residual[:, c], rows, rng, weights)
                residual[:, c] -= fitted
                pred[:, c] += tree_pred
                phi[:, c] += tree_phi
        coefs, *_ = np.linalg.lstsq(
            design * root[:, None], residual * root[:, None], rcond=None
        )  # (d+1, k)
        pred += np.column_stack([np.ones(len(rows)), rows]) @ coefs
        phi += coefs[1:]
        return pred, phi

    def _fit_trees(
        self,
        z: np.ndarray,
        target: np.ndarray,
        rows: np.ndarray,
        rng: np.random.Generator,
        weights: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boosted trees on ``(z, target)``: fitted values on z, predictions on rows and
        exact Shapley values (explicand all ones, background all zeros)."""
        from ..trees import TreeNotSupportedError, read_tree_model
        from .tree import tree_shapley

        d = z.shape[1]
        scale = float(np.abs(target).max())
        if not np.isfinite(scale) or scale <= 1e-12 * (1.0 + float(np.abs(target).mean())):
            return np.zeros(len(z)), np.zeros(len(rows)), np.zeros(d)
        n_trees = self.n_trees or int(np.clip(len(z) // 10, 30, 300))
        std = float(target.std()) or scale
        unit = target / std  # XGBoost sums in float32: keep its leaf values O(1)
        depth = self.max_depth or 3
        model = _tree_proxy(self.booster, n_trees, depth, self.learning_rate, rng)
        model.fit(z, unit, sample_weight=weights)
        try:
            tm = read_tree_model(model)
        except TreeNotSupportedError:  # float32 round-off beyond the reader's check
            model = _tree_proxy("sklearn", n_trees, depth, self.learning_rate, rng)
            tm = read_tree_model(model.fit(z, unit, sample_weight=weights))
        values, _, _ = tree_shapley(tm, np.ones((1, d)), np.zeros((1, d)))
        fitted = std * tm.ensemble.predict(z)[:, 0]
        pred = fitted if rows is z else std * tm.ensemble.predict(rows)[:, 0]
        return fitted, pred, std * values[0, :, 0]


def _tree_proxy(
    booster: str, n_trees: int, max_depth: int, learning_rate: float, rng: np.random.Generator
) -> Any:
    """Tree MSR's booster: XGBoost for ``"auto"`` when installed (``_boosters``)."""
    seed = int(rng.integers(0, 2**31 - 1))
    return boosted_trees(booster, "xgboost", n_trees, max_depth, learning_rate, seed)


def _correct(
    f: np.ndarray,
    y: np.ndarray,
    phi_f: np.ndarray,
    coef: np.ndarray,
    weight: np.ndarray,
    n_units: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``phi(f)`` plus the expansion estimate of ``phi(v - f)``.

    ``f`` and ``y`` hold the sampled coalitions (unit j in rows 2j, 2j+1) then the empty
    and full ones. Returns the estimate ``(d, k)`` and the weighted per-unit terms
    ``(n, d, k)`` (for the standard errors).
    """
    d = coef.shape[1]
    r = y - f
    odd = r[0 : 2 * n_units : 2] - r[1 : 2 * n_units : 2]  # (n, k): r(S) - r(N-S)
    ends = (r[-1] - r[-2]) / d  # (k,)
    effect = coef[:, :, None] * odd[:, None, :] * weight[:, None, None]  # (n, d, k)
    phi = phi_f + ends[None, :] + effect.sum(axis=0)
    return phi, effect


def _stratified_errors(
    effect: np.ndarray, stratum: np.ndarray, counts: np.ndarray, n_units: np.ndarray
) -> np.ndarray:
    """Standard errors of ``effect.sum(0)``, a stratified expansion estimator.

    ``effect`` rows are already multiplied by ``n_t / m_t``; the variance of a stratum's
    sum is ``m_t (1 - m_t / n_t) s_t^2`` in those units. Strata with one sampled unit are
    pooled (a lone unit adds its square, which is conservative).
    """
    d, k = effect.shape[1], effect.shape[2]
    variance = np.zeros((d, k))
    lone = []
    for t in np.unique(stratum):
        members = effect[stratum == t]
        m = len(members)
        if m < 2:
            lone.append(members[0])
            continue
        fpc = max(1.0 - m / n_units[t], 0.0)
        centred = members - members.mean(axis=0)
        variance += fpc * m / (m - 1) * (centred**2).sum(axis=0)
    if len(lone) >= 2:
        pooled = np.array(lone)
        centred = pooled - pooled.mean(axis=0)
        variance += len(lone) / (len(lone) - 1) * (centred**2).sum(axis=0)
    elif lone:
        variance += lone[0] ** 2
    return np.sqrt(variance)
