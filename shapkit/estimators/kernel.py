"""KernelSHAP with leverage-score sampling: paired coalitions without replacement.

Shapley values solve a weighted least-squares problem with an exact constraint:

    phi = argmin_{<phi, 1> = v(N) - v(0)}  sum_S mu(|S|) (v(S) - v(0) - <phi, 1_S>)^2

over all coalitions, mu the Shapley kernel. The estimator evaluates a paired, stratified
sample of coalitions drawn without replacement (see :mod:`coalition_design`), weights
each by ``mu / (expected inclusion)``, and solves the constrained problem exactly on a
basis of the zero-sum vectors (no large penalty weight). Standard errors come from
linearising the solution in the sampled units' contributions, with the
without-replacement variance of each stratum (strata enumerated in full contribute none).
"""

from __future__ import annotations

import numpy as np

from .base import (
    MIN_ERROR_DF,
    Estimator,
    Game,
    ShapleyResult,
    default_budget,
    first_round,
    sample_in_rounds,
)
from .blas import one_blas_thread
from .coalition_design import SIZE_DISTRIBUTIONS, CoalitionSampler
from .exact import exact_if_affordable
from .paired import PairedSample, draw_units, kernel_state_bytes


def min_budget(n_players: int) -> int:
    """Fewest evaluations the kernel estimator accepts: empty, full and d coalitions."""
    return n_players + 2


class KernelEstimator(Estimator):
    """Constrained weighted least squares on paired, leverage-sampled coalitions.

    Parameters
    ----------
    size_distribution : {"leverage", "kernel"}
        How units are spread over coalition sizes: uniformly over sizes (leverage
        scores, the default) or by the Shapley kernel's mass per size.
    first_round : float
        With ``tol``, the share of the budget spent before the first convergence check;
        later rounds grow toward the evaluations the errors predict for ``tol``
        (1.25 to 2 times, :func:`~shapkit.estimators.base.round_growth`).
    balanced : bool
        Balance each size stratum's sample over players (default; see
        :mod:`~shapkit.estimators.coalition_design`), or sample strata uniformly.

    Examples
    --------
    >>> import numpy as np, shapkit
    >>> from shapkit.estimators import KernelEstimator
    >>> w = np.arange(30.0)
    >>> result = shapkit.shapley_values(lambda m: m @ w, 30, method="kernel", budget=300)
    >>> bool(np.allclose(result.values, w))
    True
    """

    name = "kernel"

    def __init__(
        self, size_distribution: str = "leverage", first_round: float = 0.125, balanced: bool = True
    ) -> None:
        if size_distribution not in SIZE_DISTRIBUTIONS:
            raise ValueError(
                f"Unknown size_distribution={size_distribution!r}; choose one of "
                f"{list(SIZE_DISTRIBUTIONS)}."
            )
        self.size_distribution = size_distribution
        self.first_round = first_round
        self.balanced = balanced

    def min_budget(self, n_players: int) -> int:
        return min(min_budget(n_players), 2**n_players) if n_players < 63 else n_players + 2

    def check_budget(self, n_players: int, budget: int | None) -> None:
        if budget is not None and budget < self.min_budget(n_players):
            raise ValueError(
                f"method='kernel' needs at least d + 2 = {min_budget(n_players)} game "
                f"evaluations for d={n_players} players; got budget={budget}. Raise the budget."
            )

    def max_evaluations(self, n_players: int, budget: int | None) -> int:
        budget = budget if budget is not None else default_budget(n_players)
        return min(budget, 2**n_players) if n_players < 63 else budget

    def state_bytes(self, n_players: int, budget: int | None, n_outputs: int) -> int:
        return kernel_state_bytes(n_players, self.max_evaluations(n_players, budget), n_outputs)

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
        sampler = CoalitionSampler(d, self.size_distribution, rng, balanced=self.balanced)
        total_units = (budget - 2) // 2
        smallest = d + MIN_ERROR_DF  # fewer units leave the errors unknown
        state: PairedSample | None = None

        def draw(units: int) -> int:
            nonlocal state
            state, _, _, drawn = draw_units(game, sampler, state, units, rng)
            return drawn

        def solve() -> tuple[np.ndarray, np.ndarray]:
            assert state is not None
            with one_blas_thread():
                return state.solve()

        phi, errors, used = sample_in_rounds(
            total_units, first_round(total_units, self.first_round, smallest, 2), draw, solve,
            tol, exhausted=lambda: sampler.remaining_units == 0,
        )  # fmt: skip
        assert state is not None
        return ShapleyResult(phi, errors, 2 + 2 * used, self.name, state.empty, state.full)
