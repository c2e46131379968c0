"""``interaction_values``: pairwise interaction indices of any cooperative game."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._kernels.exact import enumerate_masks
from .._kernels.moebius import moebius_transform, superset_sums
from .._validation import check_budget, check_positive_int, check_seed, check_tol
from ..estimators.exact import COALITIONS_PER_CALL, MAX_EXACT_PLAYERS
from ..exceptions import GameOutputError, TooManyPlayersError
from ..games import CheckedGame
from .indices import check_index, index_weights
from .result import InteractionValues

#: The methods of :func:`interaction_values`.
METHODS = ("auto", "exact")


def interaction_values(
    game: Callable[[np.ndarray], Any],
    n_players: int,
    *,
    index: str = "k-SII",
    max_order: int = 2,
    method: str = "auto",
    budget: int | None = None,
    tol: float | None = None,
    seed: int | np.random.SeedSequence | np.random.Generator | None = None,
) -> InteractionValues:
    """Interaction index of a cooperative game: order-1 and order-2 terms.

    Parameters
    ----------
    game : callable
        ``game(masks)`` takes a bool array ``(m, n_players)`` (row ``r`` is a coalition,
        ``True`` = player present) and returns values of shape ``(m,)`` or ``(m, k)``.
    n_players : int
        Number of players d.
    index : {"k-SII", "SII", "STII", "FSII"}
        k-SII (default; efficient, its order-1 terms are the Shapley values minus half of
        each player's SII pairs), SII (its order-1 terms are the Shapley values; not
        efficient), STII (Shapley-Taylor) or FSII (Faith-Shap); docs/interactions.md.
    max_order : {1, 2}
        2: order-1 and order-2 terms; 1: the Shapley values (every index).
    method : {"auto", "exact"}
        ``"exact"`` enumerates all ``2^d`` coalitions (``d <= 20``) and reads the index
        from the game's Moebius transform. ``"auto"`` does the same when ``2^d`` fits
        the budget; sampling estimators of interactions are not part of shapkit (yet),
        so a larger game raises.
    budget : int, optional
        Most game evaluations; enumeration needs ``2^d``.
    tol : float, optional
        Accepted for the sampling estimators' signature; enumeration has no error.
    seed : int, SeedSequence or Generator, optional
        Likewise (enumeration draws nothing).

    Returns
    -------
    InteractionValues
        ``.main`` ``(d,)``/``(d, k)``, ``.pairs`` ``(d, d)``/``(d, d, k)``, their standard
        errors (zeros for enumeration), ``.index``, ``.max_order``, ``.n_evals``,
        ``.method``, ``.to_matrix()``.

    Raises
    ------
    ValueError
        An unknown index or method, ``max_order`` not 1 or 2 or above ``n_players``, a
        budget below ``2^d`` (the message names the smallest that works).
    TooManyPlayersError
        More than 20 players (a ``ValueError``).
    GameOutputError
        The game returned the wrong shape or non-finite values.

    Examples
    --------
    Players 0 and 1 are needed together, player 2 adds 1 alone:

    >>> import shapkit
    >>> game = lambda S: 1.0 * (S[:, 0] & S[:, 1]) + S[:, 2]
    >>> result = shapkit.interaction_values(game, 3, index="k-SII")
    >>> result.main.round(12).tolist(), float(result.pairs[0, 1].round(12))
    ([0.0, 0.0, 1.0], 1.0)
    """
    n_players = check_positive_int(n_players, "n_players")
    check_index(index, max_order, n_players)
    budget = check_budget(budget)
    check_tol(tol)
    check_seed(seed)
    if method not in METHODS:
        raise ValueError(f"Unknown method={method!r} for interaction_values; choose one of "
                         f"{list(METHODS)}.")  # fmt: skip
    n_coalitions = 1 << n_players
    if n_players > MAX_EXACT_PLAYERS:
        raise TooManyPlayersError(
            f"interaction_values enumerates all 2^d coalitions and accepts at most "
            f"{MAX_EXACT_PLAYERS} players; got d={n_players}. Reduce d with feature groups; "
            f"shapkit has no sampling estimator of interaction indices yet."
        )
    if budget is not None and budget < n_coalitions:
        raise ValueError(
            f"budget={budget:,} is below the 2^{n_players} = {n_coalitions:,} game "
            f"evaluations that exact interaction indices need; pass budget={n_coalitions} "
            f"or more (or None), or reduce d with feature groups."
        )
    checked = CheckedGame(game, n_players)
    chunks = [
        checked(enumerate_masks(n_players, start, min(start + COALITIONS_PER_CALL, n_coalitions)))
        for start in range(0, n_coalitions, COALITIONS_PER_CALL)
    ]
    values = np.ascontiguousarray(np.concatenate(chunks, axis=0))
    main, pairs = superset_sums(
        moebius_transform(values), n_players, *index_weights(index, max_order, n_players)
    )
    if not (np.isfinite(main).all() and np.isfinite(pairs).all()):
        raise GameOutputError(
            "The game's values are finite but too large for their Moebius transform (its "
            "alternating sums overflow float64); rescale the game."
        )
    empty, full = values[0].copy(), values[-1].copy()
    if checked.squeeze:
        main, pairs, empty, full = main[:, 0], pairs[:, :, 0], empty[0], full[0]
    return InteractionValues(
        main=main, pairs=pairs, main_std_errors=np.zeros_like(main),
        pair_std_errors=np.zeros_like(pairs), index=index, max_order=max_order,
        n_evals=n_coalitions, method="exact", empty_value=empty, full_value=full,
    )  # fmt: skip
