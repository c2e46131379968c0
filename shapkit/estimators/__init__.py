"""Shapley estimators, all implementing :class:`Estimator.estimate`.

``get_estimator(method, n_players, budget)`` resolves a ``method=`` name, including
``"auto"``, to an estimator instance; ``resolve_tol`` supplies the default tolerance.
"""

from __future__ import annotations

from ..methods import ALL_METHODS, GAME_METHODS, MODEL_METHODS
from .auto import AutoChoice, choose_estimator, needs_timing, seconds_per_evaluation
from .base import DEFAULT_TOL, Estimator, Game, ShapleyResult, default_budget
from .exact import MAX_EXACT_PLAYERS, ExactEstimator
from .kernel import KernelEstimator
from .permutation import PermutationEstimator
from .proxy import ProxyEstimator

__all__ = [
    "ALL_METHODS",
    "AutoChoice",
    "ESTIMATORS",
    "METHODS",
    "MODEL_METHODS",
    "Estimator",
    "ExactEstimator",
    "Game",
    "KernelEstimator",
    "MAX_EXACT_PLAYERS",
    "PermutationEstimator",
    "ProxyEstimator",
    "ShapleyResult",
    "choose_estimator",
    "default_budget",
    "get_estimator",
    "needs_timing",
    "resolve_tol",
    "seconds_per_evaluation",
]

#: Registered estimators by ``method=`` name.
ESTIMATORS: dict[str, type[Estimator]] = {
    "exact": ExactEstimator,
    "kernel": KernelEstimator,
    "permutation": PermutationEstimator,
    "proxy": ProxyEstimator,
}

#: The ``method=`` names of games (from :mod:`shapkit.methods`, the one list).
METHODS = GAME_METHODS
if set(METHODS) != {"auto", *ESTIMATORS}:  # pragma: no cover - a developer's mistake
    raise ImportError("shapkit.methods.GAME_METHODS and the ESTIMATORS registry disagree.")


def get_estimator(method: str | Estimator, n_players: int, budget: int | None) -> Estimator:
    """Resolve ``method`` (a registered name, ``"auto"`` or an Estimator) to an estimator.

    ``"auto"`` here is the choice for a game whose cost is unknown
    (:func:`~shapkit.estimators.auto.choose_estimator` without timing): exact enumeration
    when ``2^d`` coalitions fit the budget (``budget`` or, when None,
    :func:`default_budget`) and ``d <= 20``; else the proxy estimator when an explicit
    ``budget`` allows at least 10 evaluations per player (the most accurate per
    evaluation: docs/proxy.md); else the kernel estimator. ``shapley_values`` and
    ``Explainer`` time the game first and choose by wall time instead.
    """
    if isinstance(method, Estimator):
        method.check_budget(n_players, budget)
        return method
    if isinstance(method, str) and method in MODEL_METHODS:
        raise ValueError(
            f"method={method!r} reads a fitted model ({MODEL_METHODS[method]}), so it "
            f"applies to Explainer/explain, not to games; use one of {list(METHODS)}."
        )
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(
            f"Unknown method={method!r}; choose one of {list(METHODS)} (and, for "
            f"Explainer/explain on a fitted model, {list(MODEL_METHODS)}) or pass an "
            f"Estimator instance such as KernelEstimator(size_distribution='kernel')."
        )
    if method == "auto":
        method = choose_estimator(n_players, budget, None, None).method
    estimator = ESTIMATORS[method]()
    estimator.check_budget(n_players, budget)
    return estimator


def resolve_tol(estimator: Estimator, budget: int | None, tol: float | None) -> float | None:
    """The stopping tolerance: ``tol``, or :data:`DEFAULT_TOL` for a sampling estimator
    given neither budget nor tol (so the default budget is a cap, not a target)."""
    if tol is None and budget is None and not estimator.exact:
        return DEFAULT_TOL
    return tol
