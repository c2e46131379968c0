"""Exact Shapley values by enumerating all 2^d coalitions."""

from __future__ import annotations

import math

import numpy as np

from .._kernels.exact import enumerate_masks, exact_shapley_from_values
from ..exceptions import TooManyPlayersError
from .base import Estimator, Game, ShapleyResult

#: The largest number of players the exact estimator accepts (2^20 ~ 1M coalitions).
MAX_EXACT_PLAYERS = 20

#: Coalitions handed to the game per call, so memory stays bounded for large d.
COALITIONS_PER_CALL = 1 << 15


def shapley_weights(n_players: int) -> np.ndarray:
    """``w[s] = s! (d-s-1)! / d!`` for ``s = 0 .. d-1``, computed in log space."""
    d = n_players
    s = np.arange(d)
    log_w = np.array(
        [math.lgamma(k + 1) + math.lgamma(d - k) - math.lgamma(d + 1) for k in s], dtype=float
    )
    return np.exp(log_w)


class ExactEstimator(Estimator):
    """Enumerate every coalition; exact up to floating point, zero standard errors.

    Costs ``2^d`` game evaluations, so it refuses ``d > 20`` players.
    """

    name = "exact"
    exact = True

    def min_budget(self, n_players: int) -> int:
        return 2**n_players

    def check_budget(self, n_players: int, budget: int | None) -> None:
        if n_players > MAX_EXACT_PLAYERS:
            raise TooManyPlayersError(
                f"method='exact' enumerates all 2^d coalitions and accepts at most "
                f"{MAX_EXACT_PLAYERS} players; got d={n_players} (2^{n_players} = "
                f"{2**n_players:,} coalitions). Reduce d with feature groups "
                f"(groups={{'name': [columns, ...]}}) or use a sampling estimator "
                f"(method='kernel' or 'permutation')."
            )
        if budget is not None and budget < 2**n_players:
            raise ValueError(
                f"method='exact' needs 2^{n_players} = {2**n_players:,} game evaluations "
                f"but budget={budget:,}. Raise the budget, reduce d with feature groups, "
                f"or use a sampling estimator (method='kernel')."
            )

    def max_evaluations(self, n_players: int, budget: int | None) -> int:
        return 2**n_players

    def state_bytes(self, n_players: int, budget: int | None, n_outputs: int) -> int:
        """The values of every coalition (kept, then concatenated) and one call's masks."""
        return 2**n_players * n_outputs * 8 * 3 + COALITIONS_PER_CALL * n_players

    def estimate(
        self,
        game: Game,
        n_players: int,
        budget: int | None,
        tol: float | None,
        rng: np.random.Generator,
    ) -> ShapleyResult:
        self.check_budget(n_players, budget)
        n_coalitions = 1 << n_players
        chunks = []
        for start in range(0, n_coalitions, COALITIONS_PER_CALL):
            stop = min(start + COALITIONS_PER_CALL, n_coalitions)
            chunks.append(game(enumerate_masks(n_players, start, stop)))
        values = np.ascontiguousarray(np.concatenate(chunks, axis=0), dtype=np.float64)
        phi = exact_shapley_from_values(values, shapley_weights(n_players))
        return ShapleyResult(
            values=phi,
            std_errors=np.zeros_like(phi),
            n_evals=n_coalitions,
            method=self.name,
            empty_value=values[0].copy(),
            full_value=values[-1].copy(),
        )


def exact_if_affordable(
    game: Game, n_players: int, budget: int, rng: np.random.Generator
) -> ShapleyResult | None:
    """Exact values when all ``2^d`` coalitions fit the budget (or ``d = 1``), else None.

    Sampling estimators call this first: enumeration is exact and costs no more. The
    result says so (``method == "exact"``, with the reason).
    """
    if n_players == 1 or (n_players <= MAX_EXACT_PLAYERS and 2**n_players <= budget):
        result = ExactEstimator().estimate(game, n_players, None, None, rng)
        return result.with_reason(
            f"all 2^{n_players} = {2**n_players} coalitions fit the budget: enumerated"
        )
    return None
