"""``ProxyEstimator(proxy="odd")``: a tree proxy picks odd interactions, and a Gaussian
process on the game's odd part (or a kernel regression) turns them and the sampled
units into Shapley values.

1. Sample paired units as the kernel estimator does (stratified, balanced over players).
2. Fit gradient-boosted trees (the proxy) to v less 80% of its additive least-squares
   fit on all sampled coalitions, and read the odd interactions of three or more
   players with the largest Fourier coefficients from them
   (:func:`shapkit.trees.fourier.odd_interactions`; Fumagalli et al. 2026).
3. Where the single players and those interactions reproduce every unit exactly, that
   fit's values are exact and returned.
4. ``solver="gp"`` (default, up to :data:`GP_MAX_UNITS` units): a Gaussian process on the
   units' odd parts, a prior on every interaction plus those the trees found, with
   variances chosen by restricted maximum likelihood (:mod:`~shapkit.estimators.odd_gp`).
   Its posterior mean interpolates every unit, so it is the fitted function's exact
   values plus a zero regression-adjusted correction; the standard errors are
   design-based, from each unit's weight in the estimate and its leave-one-out residual.
5. ``solver="regression"`` (and above :data:`GP_MAX_UNITS` units): regress the units'
   odd parts on the single players plus the trees' interactions, with the kernel
   estimator's weights, a ridge penalty and the efficiency constraint
   (:mod:`~shapkit.estimators.odd_regression`), whose correction these weights make
   vanish. Guard: the interactions are used only where the additive (kernel) fit
   explains at least ``min_additive_share`` (0.9) of the odd parts' kernel-weighted
   variance; elsewhere (sums of unanimity games over up to d/3 players: share 0.37 or
   less) they made the estimate 3-40% worse than the kernel estimate, which is returned
   then (``result.method == "kernel"``).

Measurements, defaults and their reasons: docs/proxy.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..trees import read_tree_model
from ..trees.fourier import odd_interactions
from ._boosters import boosted_trees
from .base import MIN_ERROR_DF, Game, ShapleyResult, first_round, has_converged, honest_errors
from .blas import one_blas_thread
from .coalition_design import CoalitionSampler
from .gp_design import DesignPrior, choose_units
from .kernel import _KernelState, draw_units
from .odd_gp import fit_odd_gp
from .odd_regression import (
    default_n_terms,
    design_errors,
    leave_one_out_residuals,
    odd_regression_errors,
    solve_odd_regression,
)

#: The proxy's tree shape (LightGBM's defaults; Fumagalli et al. use depth 10).
PROXY_LEAVES = 31
PROXY_MIN_LEAF = 20
#: ``solver="gp"`` runs up to this many sampled units (its solve is cubic in them: 8 s
#: and 1.3 GB per instance here at 4000, d = 30); beyond, the kernel-weighted regression
#: with the guard.
GP_MAX_UNITS = 4000
#: ``design="greedy"``: each sampled stratum draws this many times its units as
#: candidates, and half its units are the Gaussian process's most informative ones
#: (:mod:`~shapkit.estimators.gp_design`), up to ``DESIGN_MAX_UNITS`` units in all (at
#: 1000 units and d = 100 the picks and the first half's fit took an instance from 2.3
#: to 4.9 s, for 0.00-0.03 of the kernel's error) and ``DESIGN_MAX_SHARE`` of the
#: game's units (near full enumeration the picks decide which few units are left out,
#: with nothing random left: on games of independent noise, d = 10 at 1000 evaluations,
#: 1.32x the kernel's error and 95% intervals covering 0.85).
DESIGN_POOL = 4.0
DESIGN_MAX_UNITS = 1000
DESIGN_MAX_SHARE = 0.5
#: Share of each round's units drawn at random (and evaluated) before the others are
#: picked given them.
DESIGN_RANDOM_SHARE = 0.5
#: The picks use the Gaussian process's REML prior from the units drawn before where
#: there are at least this many per player (fewer gave noisier priors than the default:
#: diabetes MLP at 10 d 0.68 of the kernel's error instead of 0.63).
DESIGN_REML_UNITS = 4
#: ``gp_prior`` option -> the Gaussian process's priors (:mod:`~shapkit.estimators.odd_gp`).
GP_PRIORS = {"mobius": ("mobius",), "fourier": ("fourier",), "both": ("mobius", "fourier")}


def fit_interaction_trees(
    z: np.ndarray,
    y: np.ndarray,
    booster: str,
    n_trees: int,
    max_depth: int,
    rng: np.random.Generator,
) -> Any:
    """Gradient-boosted trees fitted to ``y`` (standardised) on 0/1 rows ``z``; returns
    shapkit's flat :class:`~shapkit.trees.TreeEnsemble`, or None for a constant ``y``.

    ``booster``: ``"auto"`` (LightGBM when importable, else scikit-learn's
    HistGradientBoostingRegressor, which grows the same trees here, measured: identical
    errors, 1.5-3x slower), ``"lightgbm"``, ``"sklearn"`` or ``"xgboost"``.
    """
    spread = float(y.std())
    if not np.isfinite(spread) or spread <= 1e-12 * (1.0 + float(np.abs(y).mean())):
        return None
    target = (y - y.mean()) / spread
    seed = int(rng.integers(0, 2**31 - 1))
    model = boosted_trees(
        booster, "lightgbm", n_trees, max_depth, 0.1, seed, PROXY_LEAVES, PROXY_MIN_LEAF
    )
    model.fit(z, target)
    return read_tree_model(model).ensemble


def estimate_odd(
    estimator: Any,
    game: Game,
    n_players: int,
    budget: int,
    tol: float | None,
    rng: np.random.Generator,
) -> ShapleyResult:
    """Run the odd-interaction proxy estimator (see the module docstring); ``estimator``
    is the :class:`~shapkit.estimators.proxy.ProxyEstimator` holding the options."""
    d = n_players
    sampler = CoalitionSampler(d, estimator.size_distribution, rng)
    total_units = (budget - 2) // 2
    n_strata = len(sampler.strata.sizes)
    first = first_round(total_units, estimator.first_round, max(d + MIN_ERROR_DF, n_strata), 2)
    target = total_units if tol is None else min(total_units, first)
    state: _KernelState | None = None
    coalitions: list[np.ndarray] = []
    evaluated: list[np.ndarray] = []
    used = 0
    design = estimator.design == "greedy" and estimator.solver == "gp" and d >= 3
    game_units = float(sampler.strata.n_units.sum())
    limit = min(DESIGN_MAX_UNITS, GP_MAX_UNITS, DESIGN_MAX_SHARE * game_units)
    while True:
        units = target - used
        if state is None or (units > 0 and sampler.remaining_units > 0):
            rounds = [(units, None)]
            # (below 2 d units the Gaussian process does not run: the kernel's random units)
            if design and 2 * d <= used + units <= limit:
                random = math.ceil(DESIGN_RANDOM_SHARE * units)
                rounds = [(random, None), (units - random, "greedy")]
            for count, how in rounds:
                if count <= 0 or (state is not None and sampler.remaining_units <= 0):
                    continue
                with one_blas_thread():
                    choose = None
                    if how == "greedy":
                        choose = _greedy_chooser(estimator, state, coalitions, evaluated, rng)
                    state, masks, values, drawn = draw_units(
                        game, sampler, state, count, rng, choose, DESIGN_POOL
                    )
                coalitions.append(masks)
                evaluated.append(values)
                used += drawn
        with one_blas_thread():
            phi, errors, kept = _solve(
                estimator, state, np.concatenate(coalitions), np.concatenate(evaluated), rng
            )
        done = used >= total_units or sampler.remaining_units == 0
        if done or has_converged(phi, errors, tol):
            break
        target = min(total_units, 2 * max(target, used))
    method = "proxy" if kept else "kernel"
    return ShapleyResult(phi, errors, 2 + 2 * used, method, state.empty, state.full)


def _greedy_chooser(
    estimator: Any,
    state: _KernelState,
    coalitions: list[np.ndarray],
    evaluated: list[np.ndarray],
    rng: np.random.Generator,
) -> Any:
    """The unit chooser of a greedy round, given the units evaluated so far: the
    Gaussian process (first output) fitted to them, its REML prior and the odd
    interactions its trees find, is the prior the design is chosen for
    (:class:`~shapkit.estimators.gp_design.DesignPrior`; the default prior plus the
    trees' interactions below :data:`DESIGN_REML_UNITS` units per player, or where no
    fit is possible). Without the interactions, picked
    units left their coefficients undetermined (a d = 10 game with three sparse
    interactions, 400 evaluations: values off by up to 0.005 with standard errors of
    1e-15); with the default prior's eta, sums of unanimity games over up to 16 players
    lost (d = 50, 20 d: 0.69 of the kernel's error against 0.67 with random units,
    0.65 with the REML prior); docs/proxy.md."""
    d = state.d
    masks, values = np.concatenate(coalitions), np.concatenate(evaluated)
    rows, targets = _proxy_rows(state, masks, values)
    n_terms = _n_terms(estimator, len(rows), d)
    terms = _interactions(estimator, rows, targets[:, 0], n_terms, rng)
    prior = DesignPrior.default(d, terms)
    earlier = masks[0::2]  # the units' first coalitions
    if estimator.gp_prior == "mobius" and len(earlier) >= DESIGN_REML_UNITS * d:
        phi, _ = state.solve()
        y = state.unit_targets(values)[:, 0]
        relevance = player_relevance(phi[:, 0])
        fitted = fit_odd_gp(earlier, y, float(state.delta[0]), terms, rng, ("mobius",), relevance)
        if fitted is not None:
            hyper = fitted[1]
            etas = hyper["eta_mobius"] * relevance ** hyper.get("gamma", 0.0)
            prior = DesignPrior(etas, tuple(terms), hyper.get("mu", 0.0))

    def choose(fixed, pool, stratum, counts):
        return choose_units(np.concatenate([earlier, fixed]), pool, stratum, counts, prior)

    return choose


def _proxy_rows(
    state: _KernelState, masks: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The trees' rows (every sampled coalition plus the empty and full ones, as floats)
    and their values."""
    d = state.d
    rows = np.concatenate([masks, [np.zeros(d, bool), np.ones(d, bool)]]).astype(np.float64)
    return rows, np.concatenate([values, state.empty[None, :], state.full[None, :]])


def _n_terms(estimator: Any, n_evaluations: int, n_players: int) -> int:
    """The trees' interaction count: ``n_terms``, or by default from the evaluations."""
    if estimator.n_terms is None:
        return default_n_terms(n_evaluations, n_players)
    return estimator.n_terms


def additive_share(
    z: np.ndarray, w: np.ndarray, y: np.ndarray, phi: np.ndarray, delta: np.ndarray
) -> np.ndarray:
    """Per output, the share ``1 - sum w r^2 / sum w o^2`` of the units' odd parts
    ``o = y - delta/2`` that the kernel (additive) fit ``z . phi`` explains."""
    residual = y - z @ phi
    odd = y - 0.5 * delta[None, :]
    total = (w[:, None] * odd**2).sum(axis=0)
    return 1.0 - (w[:, None] * residual**2).sum(axis=0) / np.maximum(total, 1e-300)


def _solve(
    estimator: Any,
    state: _KernelState,
    masks: np.ndarray,
    values: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Values and standard errors ``(d, k)`` from the units drawn so far, and whether any
    output kept interaction terms (the others keep the kernel estimate)."""
    phi, errors = state.solve()  # the kernel estimate of the same coalitions
    d = state.d
    stratum = np.concatenate(state.stratum)
    z = masks[0::2]
    w = state.unit_weights(stratum)
    delta = state.delta
    y = state.unit_targets(values)
    rows, targets = _proxy_rows(state, masks, values)
    n_terms = _n_terms(estimator, len(rows), d)
    # the Gaussian process needs some residual degrees of freedom beyond the d players
    use_gp = estimator.solver == "gp" and d >= 3 and 2 * d <= len(z) <= GP_MAX_UNITS
    priors = GP_PRIORS[estimator.gp_prior]
    sampled = ~state.enumerated[stratum]
    share = None
    additive_loo = None
    kept = False
    for c in range(delta.shape[0]):
        terms = _interactions(estimator, rows, targets[:, c], n_terms, rng)
        fit, exact = _unpenalised_fit(z, w, y[:, c : c + 1], delta[c : c + 1], terms)
        if not exact and use_gp:
            fitted = fit_odd_gp(
                z, y[:, c], float(delta[c]), terms, rng, priors, player_relevance(phi[:, c])
            )
            if fitted is None:
                continue  # no positive definite covariance: the kernel estimate
            phi_c, _, effect, loo = fitted
            if additive_loo is None:
                additive_loo = additive_loo_error(z, w, y, delta)
            if (w * loo**2).sum() >= additive_loo[c]:
                continue  # predicts held-out units no better than the kernel's fit
            phi[:, c] = phi_c
            # design-based errors from the leave-one-out residuals, as for the regression
            # (whose HC3 residuals are its leave-one-out ones); docs/proxy.md
            errors[:, c] = honest_errors(
                design_errors(effect, loo[:, None], stratum, sampled, state.strata.n_units),
                float(sampled.sum() - (d - 1)),
            )[:, 0]
            kept = True
            continue
        if not exact:
            if share is None:  # phi's column c and later ones still hold the kernel's
                share = additive_share(z.astype(np.float64), w, y, phi, delta)
            if not terms or share[c] < estimator.min_additive_share:
                continue  # interactions dense and of high order: they would add error
            if estimator.ridge > 0:
                fit = solve_odd_regression(
                    z, w, y[:, c : c + 1], delta[c : c + 1], terms, estimator.ridge
                )
        phi_c, effect, residual, leverage = fit
        phi[:, c] = phi_c[:, 0]
        errors[:, c] = odd_regression_errors(
            effect, residual, leverage, stratum, sampled, state.strata.n_units
        )[:, 0]
        kept = True
    return phi, errors, kept


def player_relevance(phi: np.ndarray) -> np.ndarray:
    """``|phi_j| / max |phi|`` (at least 1e-3) of the kernel estimate: the Moebius prior's
    per-player weights ``eta_j = eta * relevance_j^gamma`` (gamma by REML) let the
    dividends of coalitions of important players be larger (measured: breast_cancer 10 d
    0.69 / 0.65 of the kernel's error instead of 0.78 / 0.80; docs/proxy.md)."""
    size = np.abs(phi)
    top = float(size.max())
    return np.maximum(size / top, 1e-3) if top > 0 else np.ones_like(size)


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


def _unpenalised_fit(
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


def _interactions(
    estimator: Any, rows: np.ndarray, target: np.ndarray, n_terms: int, rng: np.random.Generator
) -> list[tuple[int, ...]]:
    """Odd interactions of the trees fitted to ``target`` less ``linear_share`` of its
    least-squares additive fit: trees that must also learn a strong additive part spend
    their splits on it and fill the spectrum with artefacts of that (measured: removing
    80% cut the errors by 5-25% on the benchmark's model games); removing all of it
    leaves every single split without gain (docs/proxy.md)."""
    design = np.column_stack([np.ones(len(rows)), rows])
    coefs, *_ = np.linalg.lstsq(design, target, rcond=None)
    target = target - estimator.linear_share * (design @ coefs)
    n_trees = estimator.n_trees or 100
    max_depth = estimator.max_depth or 10
    trees = fit_interaction_trees(rows, target, estimator.booster, n_trees, max_depth, rng)
    return [] if trees is None else odd_interactions(trees, n_terms)
