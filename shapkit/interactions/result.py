"""The result of :func:`shapkit.interaction_values`: order-1 and order-2 terms of an index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .indices import EFFICIENT_INDICES


@dataclass(frozen=True)
class InteractionValues:
    """Interaction index of a game, up to order 2.

    Attributes
    ----------
    main : ndarray of shape (d,) or (d, k)
        The order-1 terms (for SII, the Shapley values).
    pairs : ndarray of shape (d, d) or (d, d, k)
        The order-2 terms, symmetric, zero diagonal (all zero with ``max_order=1``).
    main_std_errors, pair_std_errors : ndarray
        Standard errors of the terms, shaped likewise (zeros for exact enumeration).
    index : str
        ``"SII"``, ``"k-SII"``, ``"STII"`` or ``"FSII"``.
    max_order : int
        1 or 2.
    n_evals : int
        Game evaluations (coalitions).
    method : str
        What computed the terms (``"exact"``: every coalition enumerated; ``"proxy"``:
        kriging of sampled coalitions).
    empty_value, full_value : ndarray of shape () or (k,)
        ``v(empty set)`` and ``v(all players)``.
    converged : bool or None
        With ``tol``: whether the largest standard error reached ``tol`` times the spread
        of the terms within the budget (False: the budget ran out first). None without
        ``tol`` and for enumeration.
    """

    main: np.ndarray
    pairs: np.ndarray
    main_std_errors: np.ndarray
    pair_std_errors: np.ndarray
    index: str
    max_order: int
    n_evals: int
    method: str
    empty_value: np.ndarray
    full_value: np.ndarray
    converged: bool | None = None

    @property
    def efficient(self) -> bool:
        """Whether the terms sum to ``full_value - empty_value`` (k-SII, STII, FSII, and
        every index with ``max_order=1``)."""
        return self.max_order == 1 or self.index in EFFICIENT_INDICES

    def to_matrix(self) -> np.ndarray:
        """A ``(d, d)`` (or ``(d, d, k)``) matrix in shap's convention: the order-1 terms
        on the diagonal, each pair's term split equally over its two cells. For an
        efficient index its entries sum to ``full_value - empty_value``.

        Examples
        --------
        >>> import shapkit
        >>> result = shapkit.interaction_values(lambda S: S[:, 0] & S[:, 1], 2)
        >>> result.to_matrix().tolist()
        [[0.0, 0.5], [0.5, 0.0]]
        """
        matrix = self.pairs / 2.0
        d = self.main.shape[0]
        matrix[np.arange(d), np.arange(d)] = self.main
        return matrix

    def __repr__(self) -> str:
        return (
            f"InteractionValues(index={self.index!r}, max_order={self.max_order}, "
            f"method={self.method!r}, n_evals={self.n_evals}, players={self.main.shape[0]})"
        )
