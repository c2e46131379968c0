"""``shapley_values``: Shapley values of any cooperative game."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from ._validation import check_budget, check_positive_int, check_seed, check_tol
from .cost import check_feasible, estimate_cost
from .estimators import (
    Estimator,
    ShapleyResult,
    get_estimator,
    needs_timing,
    resolve_tol,
)
from .estimators.auto import choose_for_game
from .estimators.base import achieved_tolerance, check_finite, has_converged
from .games import CheckedGame


def shapley_values(
    game: Callable[[np.ndarray], Any],
    n_players: int,
    *,
    method: str | Estimator = "auto",
    budget: int | None = None,
    tol: float | None = None,
    seed: int | np.random.SeedSequence | np.random.Generator | None = None,
) -> ShapleyResult:
    """Shapley values of a cooperative game.

    Parameters
    ----------
    game : callable
        ``game(masks)`` takes a bool array ``(m, n_players)`` (row ``r`` is a coalition,
        ``True`` = player present) and returns values of shape ``(m,)`` or ``(m, k)``.
    n_players : int
        Number of players d.
    method : {"auto", "exact", "kernel", "permutation", "proxy"} or Estimator
        ``"exact"`` enumerates all ``2^d`` coalitions (``d <= 20``). ``"kernel"``
        (KernelSHAP on paired, leverage-sampled coalitions), ``"permutation"``
        (antithetic permutations) and ``"proxy"`` (a Gaussian process on the game's odd
        spectrum plus odd interactions that a tree proxy picks; docs/proxy.md) sample
        and report standard errors. ``"auto"``: exact when ``2^d`` fits the budget; else,
        from ``10 d`` evaluations, the game is timed on a few coalitions (evaluations
        not counted in ``n_evals``) and the faster to the same accuracy of the kernel
        estimator and the proxy runs (:func:`shapkit.estimators.choose_estimator`); below,
        kernel. ``result.method`` and ``result.reason`` say which ran and why. An
        Estimator instance, e.g. ``KernelEstimator(size_distribution="kernel")``, is used
        as given.
    budget : int, optional
        Maximum number of game evaluations (coalitions), empty and full included.
        Default: ``max(2048, 100 d)`` for sampling estimators, used as a cap together
        with ``tol=0.01``.
    tol : float, optional
        Stop sampling once the largest standard error is below ``tol`` times the spread
        of the values (``max - min``); exact methods ignore it.
    seed : int, SeedSequence or Generator, optional
        Seed of the random stream (unused by exact methods); same seed, same values.

    Returns
    -------
    ShapleyResult
        ``.values`` of shape ``(n_players,)`` or ``(n_players, k)``, ``.std_errors``
        (zeros for exact; ``inf`` where the evaluated coalitions do not determine a
        value or leave fewer than 15 degrees of freedom for its error, see
        docs/reliability.md), ``.n_evals``, ``.method``, ``.empty_value``,
        ``.full_value``, ``.achieved_tol`` (the largest standard error over the values'
        spread) and ``.converged`` (with ``tol``: whether it was reached within the
        budget; False says the budget ran out first).

    Raises
    ------
    ValueError
        Bad arguments, or a budget below the estimator's smallest (the message names it).
    InfeasibleRequestError
        Before any work, for a request that cannot fit in memory (naming the largest
        budget that fits) or that asks for more than 1e9 evaluations without ``tol``.
    GameOutputError
        The game returned the wrong shape, non-finite or complex values, wrote into its
        (read-only) masks, or its values overflowed the estimator's sums.

    Examples
    --------
    A unanimity game on players {0, 1} splits its value equally:

    >>> import shapkit
    >>> result = shapkit.shapley_values(lambda masks: masks[:, 0] & masks[:, 1], 3)
    >>> result.values.round(12).tolist()
    [0.5, 0.5, 0.0]
    """
    n_players = check_positive_int(n_players, "n_players")
    seed = check_seed(seed)
    budget = check_budget(budget)
    tol = check_tol(tol)
    checked = CheckedGame(game, n_players)
    why = ""
    if method == "auto" and needs_timing(n_players, budget):
        # the game's cost decides between sampling estimators (all resolve tol alike)
        tol = resolve_tol(get_estimator("kernel", n_players, budget), budget, tol)
        choice = choose_for_game(checked, n_players, budget, tol)
        method, why = choice.estimator(), f"auto chose {choice.method}: {choice.reason}"
        budget = choice.budget(budget, n_players)
    estimator = get_estimator(method, n_players, budget)
    tol = resolve_tol(estimator, budget, tol)
    check_feasible(estimate_cost(estimator, n_players, budget, tol), estimator)
    result = check_finite(
        estimator.estimate(checked, n_players, budget, tol, np.random.default_rng(seed))
    )
    if why:
        result = result.with_reason(f"{why}; {result.reason}" if result.reason else why)
    achieved = achieved_tolerance(result.values, result.std_errors)
    converged = None if tol is None else has_converged(result.values, result.std_errors, tol)
    if not checked.squeeze:
        return replace(result, achieved_tol=achieved, converged=converged)
    return ShapleyResult(
        values=result.values[:, 0],
        std_errors=result.std_errors[:, 0],
        n_evals=result.n_evals,
        method=result.method,
        empty_value=result.empty_value[0],
        full_value=result.full_value[0],
        reason=result.reason,
        achieved_tol=achieved,
        converged=converged,
    )
