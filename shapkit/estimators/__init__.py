"""Shapley estimators, all implementing :class:`Estimator.estimate`.

``get_estimator(method, n_players, budget)`` resolves a ``method=`` name, including
``"auto"``, to an estimator instance; ``resolve_tol`` supplies the default tolerance.
"""

from __future__ import annotations

from ..methods import ALL_METHODS, GAME_METHODS, MODEL_METHODS
from .base import DEFAULT_TOL, Estimator, Game, ShapleyResult, default_budget
from .exact import MAX_EXACT_PLAYERS, ExactEstimator
from .kernel import KernelEstimator
from .permutation import PermutationEstimator
from .proxy import ProxyEstimator
from .proxy.tuning import MIN_EVALS_PER_PLAYER as PROXY_AUTO_EVALS_PER_PLAYER

__all__ = [
    "ALL_METHODS",
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
    "default_budget",
    "get_estimator",
    "resolve_tol",
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

    ``"auto"`` picks exact enumeration when ``2^d`` coalitions fit the budget (``budget``
    or, when None, :func:`default_budget`) and ``d <= 20``; else the proxy estimator
    when an explicit ``budget`` allows at least 10 evaluations per player (where
    benchmarks/proxy.py measures it 0.17-0.68x the kernel estimator's error on every
    game, model games and sums of unanimity games; docs/proxy.md); else the kernel
    estimator.
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
        limit = budget if budget is not None else default_budget(n_players)
        fits = n_players <= MAX_EXACT_PLAYERS and 2**n_players <= limit
        proxy = budget is not None and budget >= PROXY_AUTO_EVALS_PER_PLAYER * n_players
        method = "exact" if fits else "proxy" if proxy else "kernel"
    estimator = ESTIMATORS[method]()
    estimator.check_budget(n_players, budget)
    return estimator


def resolve_tol(estimator: Estimator, budget: int | None, tol: float | None) -> float | None:
    """The stopping tolerance: ``tol``, or :data:`DEFAULT_TOL` for a sampling estimator
    given neither budget nor tol (so the default budget is a cap, not a target)."""
    if tol is None and budget is None and not estimator.exact:
        return DEFAULT_TOL
    return tol
