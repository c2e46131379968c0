"""The proxy estimator: a Gaussian process on the game's odd part, with the odd
interactions a tree proxy finds, turns paired samples into Shapley values.

1. Sample paired units as the kernel estimator does (stratified, balanced over players);
   half of each round's units (from ``2 d`` to 1000) are picked by a greedy design that
   most reduces the process's posterior variance of the values (:mod:`.design`).
2. Fit gradient-boosted trees to v less 80% of its additive least-squares fit, and read
   the odd interactions of three or more players with the largest Fourier coefficients
   from them (:mod:`.interactions`; Fumagalli et al. 2026).
3. Where the single players and those interactions reproduce every unit exactly (with
   every parameter determined), that fit's values are exact and returned.
4. From ``2 d`` to :data:`~.tuning.GP_MAX_UNITS` units: a Gaussian process on the units'
   odd parts, a Moebius prior on every interaction plus the trees' ones, variances by
   restricted maximum likelihood (:mod:`.gp`). Its posterior mean interpolates every
   unit; the standard errors are design-based, from each unit's weight in the estimate
   and its leave-one-out residual. Where it predicts held-out units no better than the
   kernel estimator's additive fit, the kernel estimate is kept.
5. Beyond: a kernel-weighted ridge regression on the single players plus the trees'
   interactions with the efficiency constraint (:mod:`.regression`), where the additive
   fit explains at least :data:`~.tuning.MIN_ADDITIVE_SHARE` of the odd parts'
   variance; else the kernel estimate.

Measurements, defaults and their reasons: docs/proxy.md.
"""

from __future__ import annotations

import math

import numpy as np

from ..base import (
    MIN_ERROR_DF,
    Estimator,
    Game,
    ShapleyResult,
    default_budget,
    first_round,
    honest_errors,
    sample_in_rounds,
)
from ..blas import one_blas_thread
from ..coalition_design import SIZE_DISTRIBUTIONS, CoalitionSampler
from ..exact import exact_if_affordable
from ..kernel import KernelEstimator
from ..kernel import min_budget as kernel_min_budget
from ..paired import PairedSample, draw_units, kernel_state_bytes, leave_one_out_residuals
from .design import greedy_chooser
from .gp import fit_odd_gp, player_relevance
from .interactions import BOOSTERS, interactions, proxy_rows
from .regression import (
    default_n_terms,
    design_errors,
    odd_regression_errors,
    solve_odd_regression,
)
from .tuning import (
    DESIGN_MAX_SHARE,
    DESIGN_MAX_UNITS,
    DESIGN_POOL,
    DESIGN_RANDOM_SHARE,
    FIRST_ROUND,
    GP_MAX_UNITS,
    MIN_ADDITIVE_SHARE,
    MIN_EVALS_PER_PLAYER,
    RIDGE,
)


def proxy_min_budget(n_players: int) -> int:
    """Fewest evaluations at which the proxy estimator runs instead of returning the
    kernel estimate: :data:`~.tuning.MIN_EVALS_PER_PLAYER` per player."""
    return MIN_EVALS_PER_PLAYER * n_players


class ProxyEstimator(Estimator):
    """Shapley values from paired samples through a Gaussian process on the game's odd
    part, with the odd interactions a tree proxy finds (see the module docstring).

    Parameters
    ----------
    size_distribution : {"leverage", "kernel"}
        How sampled units are spread over coalition sizes, as for
        :class:`~shapkit.estimators.KernelEstimator`.
    first_round : float
        With ``tol``, the share of the budget spent before the first convergence check;
        later rounds grow the evaluations 1.25 to 2 times, toward what the errors
        predict for ``tol`` (the proxy is refitted each round).
    booster : {"auto", "lightgbm", "xgboost", "sklearn"}
        The library of the interaction trees. ``"auto"``: LightGBM when importable,
        else scikit-learn's HistGradientBoostingRegressor (the same trees here).

    Notes
    -----
    Variants measured in docs/proxy.md are class attributes, for subclasses that
    reproduce them: ``greedy_design`` (False: every unit at random), ``gp_max_units``
    (0: the regression at every budget), ``n_terms`` (None: ``budget / 5``, at most
    ``10 d`` and 1000), ``ridge`` and ``min_additive_share`` (the regression's).

    Fallbacks are visible on the result: ``result.method`` is ``"exact"`` where every
    coalition fits the budget, and ``"kernel"`` below ``10 d`` evaluations or where
    neither the process nor the regression is used for any output; ``result.reason``
    says why.

    Examples
    --------
    >>> import numpy as np, shapkit
    >>> def game(masks):  # additive part plus a three-player interaction
    ...     z = masks.astype(float)
    ...     return z @ np.arange(1.0, 13.0) + 5.0 * z[:, 0] * z[:, 1] * z[:, 2]
    >>> result = shapkit.shapley_values(game, 12, method="proxy", budget=2000, seed=0)
    >>> np.round(result.values[:4], 6)
    array([2.666667, 3.666667, 4.666667, 4.      ])
    """

    name = "proxy"
    greedy_design: bool = True
    gp_max_units: int = GP_MAX_UNITS
    n_terms: int | None = None
    ridge: float = RIDGE
    min_additive_share: float = MIN_ADDITIVE_SHARE

    def __init__(
        self,
        size_distribution: str = "leverage",
        first_round: float = FIRST_ROUND,
        booster: str = "auto",
    ) -> None:
        if size_distribution not in SIZE_DISTRIBUTIONS:
            raise ValueError(
                f"Unknown size_distribution={size_distribution!r}; choose one of "
                f"{list(SIZE_DISTRIBUTIONS)}."
            )
        if booster not in BOOSTERS:
            raise ValueError(f"booster must be one of {list(BOOSTERS)}; got {booster!r}.")
        self.size_distribution = size_distribution
        self.first_round = first_round
        self.booster = booster

    def min_budget(self, n_players: int) -> int:
        return min(kernel_min_budget(n_players), 2**n_players) if n_players < 63 else (
            kernel_min_budget(n_players)
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
        if units <= self.gp_max_units:
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
            result = kernel.estimate(game, d, budget, tol, rng)
            return result.with_reason(
                f"the proxy needs at least {MIN_EVALS_PER_PLAYER} d = {proxy_min_budget(d)} "
                f"evaluations; the kernel estimate of budget={budget} is returned"
            )
        return self._estimate(game, d, budget, tol, rng)

    def _estimate(
        self, game: Game, d: int, budget: int, tol: float | None, rng: np.random.Generator
    ) -> ShapleyResult:
        sampler = CoalitionSampler(d, self.size_distribution, rng)
        total_units = (budget - 2) // 2
        n_strata = len(sampler.strata.sizes)
        first = first_round(total_units, self.first_round, max(d + MIN_ERROR_DF, n_strata), 2)
        state: PairedSample | None = None
        coalitions: list[np.ndarray] = []
        evaluated: list[np.ndarray] = []
        design = self.greedy_design and d >= 3 and self.gp_max_units > 0
        game_units = float(sampler.strata.n_units.sum())
        limit = min(DESIGN_MAX_UNITS, self.gp_max_units, DESIGN_MAX_SHARE * game_units)
        used = 0
        kept = False
        hint: dict[str, float] = {}  # the first output's REML choice, where the next starts

        def draw(units: int) -> int:
            """A round: half at random, then (from 2 d units: the process runs from
            there) half picked by the greedy design given them."""
            nonlocal state, used
            rounds: list[tuple[int, str | None]] = [(units, None)]
            if design and 2 * d <= used + units <= limit:
                random = math.ceil(DESIGN_RANDOM_SHARE * units)
                rounds = [(random, None), (units - random, "greedy")]
            before = used
            for count, how in rounds:
                if count <= 0 or (state is not None and sampler.remaining_units <= 0):
                    continue
                with one_blas_thread():
                    choose = None
                    if how == "greedy":
                        assert state is not None  # the random half came first
                        choose = greedy_chooser(
                            state, coalitions, evaluated, self._n_terms, self.booster, rng,
                            hint,
                        )  # fmt: skip
                    state, masks, values, drawn = draw_units(
                        game, sampler, state, count, rng, choose, DESIGN_POOL
                    )
                coalitions.append(masks)
                evaluated.append(values)
                used += drawn
            return used - before

        def solve() -> tuple[np.ndarray, np.ndarray]:
            nonlocal kept
            assert state is not None
            with one_blas_thread():
                phi, errors, kept = self._solve(
                    state, np.concatenate(coalitions), np.concatenate(evaluated), rng, hint
                )
            return phi, errors

        phi, errors, used = sample_in_rounds(
            total_units, first, draw, solve, tol,
            exhausted=lambda: sampler.remaining_units == 0,
        )  # fmt: skip
        assert state is not None
        result = ShapleyResult(phi, errors, 2 + 2 * used, "proxy", state.empty, state.full)
        if kept:
            return result
        return result.with_method(
            "kernel",
            "neither the Gaussian process (it predicted held-out coalitions no better than "
            "the additive fit) nor the interactions (the additive fit explains too little "
            "of the game) improved on the kernel estimate",
        )

    def _n_terms(self, n_evaluations: int, n_players: int) -> int:
        """The trees' interaction count: ``n_terms``, or by default from the evaluations."""
        if self.n_terms is None:
            return default_n_terms(n_evaluations, n_players)
        return self.n_terms

    def _solve(
        self,
        state: PairedSample,
        masks: np.ndarray,
        values: np.ndarray,
        rng: np.random.Generator,
        hint: dict[str, float],
    ) -> tuple[np.ndarray, np.ndarray, bool]:
        """Values and standard errors ``(d, k)`` from the units drawn so far, and whether
        any output kept interaction terms (the others keep the kernel estimate).
        ``hint``: the first output's hyperparameters from an earlier fit (the design's,
        or an earlier round's), where its REML starts; replaced by this fit's."""
        phi, errors = state.solve()  # the kernel estimate of the same coalitions
        d = state.d
        stratum = np.concatenate(state.stratum)
        z = masks[0::2]
        w = state.unit_weights(stratum)
        delta = state.delta
        y = state.unit_targets(values)
        rows, targets = proxy_rows(state, masks, values)
        n_terms = self._n_terms(len(rows), d)
        # the Gaussian process needs some residual degrees of freedom beyond the d players
        use_gp = d >= 3 and 2 * d <= len(z) <= self.gp_max_units
        sampled = ~state.enumerated[stratum]
        share = None
        additive_loo = None
        kept = False
        for c in range(delta.shape[0]):
            terms = interactions(rows, targets[:, c], n_terms, self.booster, rng)
            fit, exact = unpenalised_fit(z, w, y[:, c : c + 1], delta[c : c + 1], terms)
            if not exact and use_gp:
                fitted = fit_odd_gp(
                    z, y[:, c], float(delta[c]), terms, rng, player_relevance(phi[:, c]),
                    (hint or None) if c == 0 else None,
                )  # fmt: skip
                if fitted is None:
                    continue  # no positive definite covariance: the kernel estimate
                phi_c, hyper, effect, loo = fitted
                if c == 0:
                    hint.clear()
                    hint.update(hyper)
                if additive_loo is None:
                    additive_loo = additive_loo_error(z, w, y, delta)
                if (w * loo**2).sum() >= additive_loo[c]:
                    continue  # predicts held-out units no better than the kernel's fit
                phi[:, c] = phi_c
                # design-based errors from the leave-one-out residuals, as for the
                # regression (whose HC3 residuals are its leave-one-out ones)
                errors[:, c] = honest_errors(
                    design_errors(effect, loo[:, None], stratum, sampled, state.strata.n_units),
                    float(sampled.sum() - (d - 1)),
                )[:, 0]
                kept = True
                continue
            if not exact:
                if share is None:  # phi's column c and later ones still hold the kernel's
                    share = additive_share(z.astype(np.float64), w, y, phi, delta)
                if not terms or share[c] < self.min_additive_share:
                    continue  # interactions dense and of high order: they would add error
                if self.ridge > 0:
                    fit = solve_odd_regression(
                        z, w, y[:, c : c + 1], delta[c : c + 1], terms, self.ridge
                    )
            assert fit is not None  # terms exist: without them, exact is False and c skipped
            phi_c, effect, residual, leverage = fit
            phi[:, c] = phi_c[:, 0]
            errors[:, c] = odd_regression_errors(
                effect, residual, leverage, stratum, sampled, state.strata.n_units
            )[:, 0]
            kept = True
        return phi, errors, kept


def additive_share(
    z: np.ndarray, w: np.ndarray, y: np.ndarray, phi: np.ndarray, delta: np.ndarray
) -> np.ndarray:
    """Per output, the share ``1 - sum w r^2 / sum w o^2`` of the units' odd parts
    ``o = y - delta/2`` that the kernel (additive) fit ``z . phi`` explains."""
    residual = y - z @ phi
    odd = y - 0.5 * delta[None, :]
    total = (w[:, None] * odd**2).sum(axis=0)
    return 1.0 - (w[:, None] * residual**2).sum(axis=0) / np.maximum(total, 1e-300)


def additive_loo_error(
    z: np.ndarray, w: np.ndarray, y: np.ndarray, delta: np.ndarray
) -> np.ndarray:
    """Per output, ``sum_u w_u e_u^2`` over the units' leave-one-out residuals ``e_u`` of
    the kernel estimator's (additive) fit: the Gaussian process is used only where its own
    leave-one-out residuals are smaller. On games with no structure (independent noise
    per coalition) it was 1.1-3x the kernel's error otherwise (docs/proxy.md)."""
    _, _, residual, leverage = solve_odd_regression(z, w, y, delta, [], 0.0)
    loo = leave_one_out_residuals(residual, leverage)
    return (w[:, None] * loo**2).sum(axis=0)


def unpenalised_fit(
    z: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    delta: np.ndarray,
    terms: list[tuple[int, ...]],
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None, bool]:
    """The unpenalised regression on the single players and ``terms`` (None without
    terms), and whether it reproduces every unit (to 1e-10 relative) with fewer
    parameters than units, all of them determined: then the game is one the model
    represents, and its values are exact. (Where the units leave some parameters free,
    a fit that reproduces them all can still have the wrong values: measured with the
    greedy design, d = 10, 86 of 90 parameters determined, values off by 0.28.)"""
    if not terms:
        return None, False
    fit = solve_odd_regression(z, w, y, delta, terms, 0.0)
    scale = float(np.abs(y).max()) + 1e-300
    determined = float(fit[3].sum())  # the rank of the constrained design
    n_free = z.shape[1] + len(terms) - 1
    exact = (
        n_free - 0.5 < determined < len(z) - 0.5 and float(np.abs(fit[2]).max()) <= 1e-10 * scale
    )
    return fit, exact
