"""Shapley estimators, all implementing :class:`Estimator.estimate`.

``get_estimator(method, n_players, budget)`` resolves a ``method=`` name, including
``"auto"``, to an estimator instance.
"""

from __future__ import annotations

from ..exceptions import TooManyPlayersError
from .base import Estimator, Game, ShapleyResult
from .exact import MAX_EXACT_PLAYERS, ExactEstimator
from .permutation import PermutationEstimator

__all__ = [
    "ESTIMATORS",
    "Estimator",
    "ExactEstimator",
    "Game",
    "MAX_EXACT_PLAYERS",
    "PermutationEstimator",
    "ShapleyResult",
    "get_estimator",
]

#: Registered estimators by ``method=`` name.
ESTIMATORS: dict[str, type[Estimator]] = {
    "exact": ExactEstimator,
    "permutation": PermutationEstimator,
}

METHODS = ("auto", *ESTIMATORS)


def get_estimator(method: str, n_players: int, budget: int | None) -> Estimator:
    """Resolve ``method`` (a registered name or ``"auto"``) to an estimator.

    ``"auto"`` picks exact enumeration when ``2^d`` coalitions fit the budget (and
    ``d <= 20``); sampling estimators are not available yet, so otherwise it raises.
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"Unknown method={method!r}; choose one of {list(METHODS)}.")
    if method != "auto":
        estimator = ESTIMATORS[method]()
        estimator.check_budget(n_players, budget)
        return estimator
    fits = n_players <= MAX_EXACT_PLAYERS and (budget is None or 2**n_players <= budget)
    if fits:
        return ExactEstimator()
    raise TooManyPlayersError(
        f"method='auto' found no estimator for d={n_players} players"
        + (f" within budget={budget:,}" if budget is not None else "")
        + f": exact enumeration needs 2^d = {2**n_players:,} evaluations and accepts at most "
        f"d={MAX_EXACT_PLAYERS}. Larger d needs the sampling estimators (kernel, permutation), "
        f"which this version does not have yet; meanwhile reduce d with feature groups "
        f"(groups={{'name': [columns, ...]}})"
        + (
            " or raise the budget."
            if budget is not None and n_players <= MAX_EXACT_PLAYERS
            else "."
        )
    )
