"""The estimator contract: one ``estimate(game, n_players, budget, tol, rng)`` for all methods."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: An internal game: bool masks ``(m, n_players)`` -> float64 values ``(m, k)``.
Game = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ShapleyResult:
    """Shapley values of one game.

    Attributes
    ----------
    values : ndarray of shape (n_players,) or (n_players, k)
        The estimated (or exact) Shapley values.
    std_errors : ndarray, same shape as ``values``
        Standard errors of ``values``; zeros for exact methods.
    n_evals : int
        Number of coalitions the game was evaluated on.
    method : str
        The estimator that produced the values.
    empty_value, full_value : ndarray of shape () or (k,)
        ``v(empty set)`` and ``v(all players)``; by efficiency
        ``values.sum(0) == full_value - empty_value``.
    """

    values: np.ndarray
    std_errors: np.ndarray
    n_evals: int
    method: str
    empty_value: np.ndarray
    full_value: np.ndarray

    def __repr__(self) -> str:
        return (
            f"ShapleyResult(method={self.method!r}, n_evals={self.n_evals}, "
            f"values={np.array2string(self.values, precision=4, threshold=20)})"
        )


class Estimator(ABC):
    """Base class of Shapley estimators.

    Subclasses implement :meth:`estimate` on an internal game, which takes bool masks
    ``(m, n_players)`` and returns float64 values ``(m, k)``, and know nothing about
    models or data.
    """

    #: The ``method=`` name that selects this estimator.
    name: str = ""
    #: True for estimators without sampling error (standard errors are zero).
    exact: bool = False

    @abstractmethod
    def estimate(
        self,
        game: Game,
        n_players: int,
        budget: int | None,
        tol: float | None,
        rng: np.random.Generator,
    ) -> ShapleyResult:
        """Shapley values of ``game``; values have shape ``(n_players, k)``."""

    def check_budget(self, n_players: int, budget: int | None) -> None:  # noqa: B027
        """Raise if this estimator cannot run ``n_players`` players within ``budget``."""


#: Relative accuracy targeted when neither budget nor tol is given (Covert & Lee 2021).
DEFAULT_TOL = 0.01


def default_budget(n_players: int) -> int:
    """Game evaluations a sampling estimator may use when ``budget=None``: ``max(2048, 100 d)``."""
    return max(2048, 100 * n_players)


def has_converged(values: np.ndarray, std_errors: np.ndarray, tol: float | None) -> bool:
    """Covert & Lee's stopping rule: the largest standard error is below ``tol`` times
    the spread of the values (``max - min`` over players), for every output.

    ``values`` and ``std_errors`` have shape ``(n_players, k)``. ``tol=None`` never stops.
    """
    if tol is None:
        return False
    spread = values.max(axis=0) - values.min(axis=0)
    return bool(np.all(std_errors.max(axis=0) <= tol * np.maximum(spread, 1e-300)))
