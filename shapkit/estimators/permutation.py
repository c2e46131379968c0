"""Permutation sampling with antithetic pairs (a permutation and its reverse)."""

from __future__ import annotations

import numpy as np

from .._kernels.permutation import permutation_contributions, prefix_masks
from .base import (
    MIN_ERROR_DF,
    Estimator,
    Game,
    ShapleyResult,
    default_budget,
    first_round,
    honest_errors,
    sample_in_rounds,
)

#: Most coalitions handed to the game per call.
COALITIONS_PER_CALL = 1 << 15

#: Most bytes of masks built per game call (bounds memory when d is large).
MASK_BYTES_PER_CALL = 1 << 25

#: With ``tol``, the first round spends this fraction of the budget's pairs (at least 2);
#: each later round grows the pairs drawn so far 1.25 to 2 times (``round_growth``).
FIRST_ROUND_FRACTION = 0.1

#: Pseudo-pairs of the mean variance over players added to each player's own sample
#: variance (see :meth:`_RunningMoments.std_errors`): on random games with interactions
#: up to order d (d = 3-12, 16-100 pairs, 20 seeds), 4 kept every value within 5
#: standard errors, where a player's own variance alone let some lie 15 away.
VARIANCE_PRIOR_PAIRS = 4


def min_budget(n_players: int) -> int:
    """Fewest game evaluations the estimator accepts for ``n_players`` players.

    ``d = 1``: 2 (exact); ``d = 2``: 4 (exact, all coalitions); otherwise ``v(empty)``,
    ``v(full)`` and 2 antithetic pairs of ``2 (d - 1)`` evaluations each.
    """
    if n_players <= 2:
        return 2**n_players
    return 2 + 4 * (n_players - 1)


class _RunningMoments:
    """Count, mean and sum of squared deviations of pair samples ``(d, k)``, merged by
    batches (Chan et al.), so no sample is kept."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.count = 0
        self.mean = np.zeros(shape)
        self.m2 = np.zeros(shape)

    def update(self, samples: np.ndarray) -> None:
        n_b = samples.shape[0]
        mean_b = samples.mean(axis=0)
        m2_b = ((samples - mean_b) ** 2).sum(axis=0)
        n = self.count + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / n)
        self.m2 = self.m2 + m2_b + delta**2 * (self.count * n_b / n)
        self.count = n

    def std_errors(self) -> np.ndarray:
        """Standard errors of the means ``(d, k)``.

        Each player's sample variance is pooled with :data:`VARIANCE_PRIOR_PAIRS`
        pseudo-pairs of the mean variance over players (per output): a player whose
        large contributions are rare shows a small spread exactly when the sample
        missed them, and its own variance alone put values up to 15 standard errors
        away (docs/reliability.md). ``inf`` (not 0) below
        :data:`~shapkit.estimators.base.MIN_ERROR_DF` + 1 pairs, t-corrected above
        (:func:`~shapkit.estimators.base.honest_errors`)."""
        n = self.count
        if n < 2:
            return np.full_like(self.mean, np.inf)
        own = self.m2 / (n - 1)
        pooled = ((n - 1) * own + VARIANCE_PRIOR_PAIRS * own.mean(axis=0)) / (
            n - 1 + VARIANCE_PRIOR_PAIRS
        )
        return honest_errors(np.sqrt(pooled / n), n - 1)


class PermutationEstimator(Estimator):
    """Monte Carlo over random permutations, drawn in antithetic pairs.

    Each pair is a uniform random permutation and its reverse. ``v(empty)`` and ``v(full)``
    are evaluated once; each permutation costs its ``d - 1`` proper non-empty prefixes, so
    a pair costs ``2 (d - 1)`` evaluations and ``budget`` buys
    ``(budget - 2) // (2 (d - 1))`` pairs (``budget=None``: :func:`default_budget`).
    A pair's sample is the mean of its two marginal-contribution vectors; the estimate is
    the mean over pairs and the standard error the sample std over pairs (ddof=1) over
    ``sqrt(pairs)``, t-corrected, and ``inf`` below 16 pairs
    (:func:`~shapkit.estimators.base.honest_errors`). Unbiased; efficiency holds exactly
    (each permutation telescopes to ``v(full) - v(empty)``); exact for games whose
    interactions have order <= 2 (additive plus pairwise terms), where the reverse gives
    each pair term to each player once.

    With ``tol``, pairs are drawn in rounds (10% of the budget's pairs, then growing the
    total toward what the errors predict, at most doubling it) and sampling stops once
    :func:`has_converged` holds; ``n_evals`` reports what was spent. ``d = 1`` and
    ``d = 2`` are solved exactly from all ``2^d`` coalitions.

    Parameters
    ----------
    min_pairs : int
        Fewest pairs a budget must buy (default 2). ``1`` lets a caller that gets its
        errors elsewhere (from independent repeats, as :func:`shapkit.sage` does) spend
        a single pair, ``2 d`` evaluations; the standard errors of such a run are
        ``inf``.

    Examples
    --------
    >>> import numpy as np
    >>> game = lambda m: (m @ np.arange(4.0) + m[:, 0] * m[:, 1])[:, None]  # order <= 2
    >>> r = PermutationEstimator(min_pairs=1).estimate(game, 4, 8, None,
    ...                                                np.random.default_rng(0))
    >>> r.values[:, 0].tolist(), r.n_evals
    ([0.5, 1.5, 2.0, 3.0], 8)
    """

    name = "permutation"

    def __init__(self, min_pairs: int = 2) -> None:
        if isinstance(min_pairs, bool) or not isinstance(min_pairs, int) or min_pairs < 1:
            raise ValueError(f"min_pairs must be a positive int; got {min_pairs!r}.")
        self.min_pairs = min_pairs

    def min_budget(self, n_players: int) -> int:
        if n_players <= 2:
            return 2**n_players
        return 2 + 2 * self.min_pairs * (n_players - 1)

    def check_budget(self, n_players: int, budget: int | None) -> None:
        if budget is None:
            return
        needed = self.min_budget(n_players)
        if budget < needed:
            if n_players <= 2:
                why = f"all 2^{n_players} coalitions"
            else:
                pairs = "1 antithetic pair" if self.min_pairs == 1 else (
                    f"{self.min_pairs} antithetic pairs")
                why = (
                    f"v(empty), v(full) and {pairs} of permutations at "
                    f"2(d-1) = {2 * (n_players - 1)} evaluations each"
                )
            raise ValueError(
                f"method='permutation' with d={n_players} players needs budget >= {needed} "
                f"({why}); got budget={budget}. Raise the budget."
            )

    def max_evaluations(self, n_players: int, budget: int | None) -> int:
        d = n_players
        budget = budget if budget is not None else default_budget(d)
        if d <= 2:
            return 2**d
        return 2 + 2 * (d - 1) * ((budget - 2) // (2 * (d - 1)))

    def state_bytes(self, n_players: int, budget: int | None, n_outputs: int) -> int:
        """One chunk of pairs at a time: its masks, values and permutations, and the
        running moments."""
        d, k = n_players, n_outputs
        rows = max(1, min(COALITIONS_PER_CALL, MASK_BYTES_PER_CALL // max(d, 1)))
        return 3 * rows * d + rows * k * 8 * 3 + 2 * rows * 8 + 48 * d * k

    def estimate(
        self,
        game: Game,
        n_players: int,
        budget: int | None,
        tol: float | None,
        rng: np.random.Generator,
    ) -> ShapleyResult:
        d = n_players
        if budget is None:
            budget = default_budget(d)
        self.check_budget(d, budget)
        if d <= 2:
            return self._exact_small(game, d)

        ends = np.zeros((2, d), dtype=bool)
        ends[1] = True
        ends_values = np.asarray(game(ends), dtype=np.float64)
        empty = np.ascontiguousarray(ends_values[0])
        full = np.ascontiguousarray(ends_values[1])
        moments = _RunningMoments((d, empty.shape[0]))

        max_pairs = (budget - 2) // (2 * (d - 1))
        smallest = MIN_ERROR_DF + 1  # fewer pairs leave the errors unknown

        def draw(pairs: int) -> int:
            self._add_pairs(game, pairs, rng, empty, full, moments)
            return pairs

        values, errors, pairs = sample_in_rounds(
            max_pairs, first_round(max_pairs, FIRST_ROUND_FRACTION, smallest, 2 * (d - 1)),
            draw, lambda: (moments.mean, moments.std_errors()), tol,
        )  # fmt: skip
        return ShapleyResult(
            values=values,
            std_errors=errors,
            n_evals=2 + 2 * (d - 1) * pairs,
            method=self.name,
            empty_value=empty,
            full_value=full,
        )

    @staticmethod
    def _add_pairs(
        game: Game,
        n_pairs: int,
        rng: np.random.Generator,
        empty: np.ndarray,
        full: np.ndarray,
        moments: _RunningMoments,
    ) -> None:
        """Draw ``n_pairs`` antithetic pairs, evaluate them, and fold them into ``moments``.

        Pairs are processed in chunks so the game sees at most ``COALITIONS_PER_CALL``
        masks per call; the permutations drawn do not depend on the chunking.
        """
        d, k = moments.mean.shape
        rows_per_pair = 2 * (d - 1)
        rows_per_call = max(1, min(COALITIONS_PER_CALL, MASK_BYTES_PER_CALL // d))
        pairs_per_chunk = max(1, rows_per_call // rows_per_pair)
        done = 0
        while done < n_pairs:
            b = min(pairs_per_chunk, n_pairs - done)
            forward = rng.permuted(np.tile(np.arange(d, dtype=np.int64), (b, 1)), axis=1)
            perms = np.empty((2 * b, d), dtype=np.int64)
            perms[0::2] = forward
            perms[1::2] = forward[:, ::-1]
            n_rows = b * rows_per_pair
            values = np.empty((n_rows, k))
            for start in range(0, n_rows, rows_per_call):
                stop = min(start + rows_per_call, n_rows)
                values[start:stop] = game(prefix_masks(perms, start, stop))
            contributions = permutation_contributions(perms, values, empty, full)
            moments.update(contributions.reshape(b, 2, d, k).mean(axis=1))
            done += b

    def _exact_small(self, game: Game, d: int) -> ShapleyResult:
        """``d <= 2``: evaluate all ``2^d`` coalitions; both orders give exact values."""
        if d == 1:
            masks = np.array([[False], [True]])
            values = np.asarray(game(masks), dtype=np.float64)
            phi = values[1:2] - values[0:1]
        else:
            masks = np.array([[False, False], [True, False], [False, True], [True, True]])
            values = np.asarray(game(masks), dtype=np.float64)
            v0, v1, v2, v3 = values
            phi = np.stack([((v1 - v0) + (v3 - v2)) / 2, ((v2 - v0) + (v3 - v1)) / 2])
        return ShapleyResult(
            values=phi,
            std_errors=np.zeros_like(phi),
            n_evals=2**d,
            method=self.name,
            empty_value=values[0].copy(),
            full_value=values[-1].copy(),
        )
