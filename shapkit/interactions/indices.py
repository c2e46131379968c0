"""Interaction indices of order at most 2 as weights on the Moebius transform.

Every index below is linear in the game, and its order-1 and order-2 terms are sums of
the game's Moebius coefficients ``m(T)`` (Harsanyi dividends) over the supersets ``T`` of
the player or pair, weighted by a function of ``t = |T|`` (docs/interactions.md):

======  ==========================================  =========================================
index   order-1 terms (``max_order=2``)              order-2 terms
======  ==========================================  =========================================
SII     ``1 / t`` (the Shapley values)               ``1 / (t - 1)`` (Grabisch & Roubens 1999)
k-SII   ``1`` at ``t = 1``, else ``1/t - 1/2``       ``1 / (t - 1)`` (Bordt & von Luxburg 2023)
STII    ``1`` at ``t = 1``, else 0                   ``1 / C(t, 2)`` (Sundararajan et al. 2020)
FSII    ``1`` at ``t = 1``, 0 at ``t = 2``, else     ``1`` at ``t = 2``, else
        ``-2/3 C(t-1, 2) / C(t+1, 3)``               ``1/2 C(t-1, 2) / C(t+1, 4)`` (Tsai et al.
                                                     2023, Faith-Shap)
======  ==========================================  =========================================

k-SII adds to each player's Shapley value ``-1/2`` of its SII pairs (the Bernoulli-number
aggregation at k = 2), so k-SII, STII and FSII are efficient: their order-1 terms plus
their order-2 terms over pairs ``i < j`` sum to ``v(N) - v(empty)``; SII is not. With
``max_order=1`` every index is the Shapley value.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb

import numpy as np

__all__ = [
    "EFFICIENT_INDICES", "INDICES", "MAX_ORDER", "check_index", "index_weight", "index_weights",
]  # fmt: skip

#: The indices :func:`shapkit.interaction_values` computes.
INDICES = ("SII", "k-SII", "STII", "FSII")
#: Those whose terms up to ``max_order`` sum to ``v(N) - v(empty)``.
EFFICIENT_INDICES = ("k-SII", "STII", "FSII")
#: The highest order computed.
MAX_ORDER = 2


def check_index(index: str, max_order: int, n_players: int) -> None:
    """Raise ``ValueError`` naming the parameter for an unknown index or an order above
    :data:`MAX_ORDER` or the number of players."""
    if index not in INDICES:
        raise ValueError(f"Unknown index={index!r}; choose one of {list(INDICES)}.")
    if isinstance(max_order, bool) or not isinstance(max_order, int | np.integer):
        raise TypeError(f"max_order must be an int (1 or 2); got {max_order!r}.")
    if not 1 <= max_order <= MAX_ORDER:
        raise ValueError(
            f"max_order={max_order}: shapkit computes interaction indices of order 1 or "
            f"{MAX_ORDER}; use max_order=2 for pairs."
        )
    if max_order > n_players:
        raise ValueError(
            f"max_order={max_order} exceeds the number of players ({n_players}); use "
            f"max_order={n_players}."
        )


def index_weight(index: str, max_order: int, order: int, t: int) -> Fraction:
    """The exact weight of ``m(T)``, ``|T| = t >= order``, in the order-``order`` terms
    of ``index`` computed up to ``max_order`` (module docstring).

    Examples
    --------
    >>> index_weight("k-SII", 2, 1, 3), index_weight("STII", 2, 2, 4)
    (Fraction(-1, 6), Fraction(1, 6))
    """
    if order == 1:
        if max_order == 1 or index == "SII" or t == 1:
            return Fraction(1, t)  # the Shapley value's
        if index == "k-SII":
            return Fraction(1, t) - Fraction(1, 2)
        if index == "STII" or t == 2:
            return Fraction(0)
        return Fraction(-2, 3) * comb(t - 1, 2) / comb(t + 1, 3)  # FSII
    if max_order == 1:
        return Fraction(0)
    if index in ("SII", "k-SII"):
        return Fraction(1, t - 1)
    if index == "STII":
        return Fraction(1, comb(t, 2))
    return Fraction(1) if t == 2 else Fraction(comb(t - 1, 2), 2 * comb(t + 1, 4))  # FSII


def index_weights(index: str, max_order: int, n_players: int) -> tuple[np.ndarray, np.ndarray]:
    """The weights ``(single, pair)`` of ``m(T)`` by ``t = |T|`` (arrays of length d + 1,
    entry 0 unused) for the order-1 and order-2 terms of ``index`` (module docstring;
    :func:`index_weight`, rounded).

    Examples
    --------
    >>> single, pair = index_weights("STII", 2, 3)
    >>> single.tolist(), pair.round(4).tolist()
    ([0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.3333])
    """
    d = n_players
    single = np.zeros(d + 1)
    pair = np.zeros(d + 1)
    for t in range(1, d + 1):
        single[t] = float(index_weight(index, max_order, 1, t))
        if t >= 2:
            pair[t] = float(index_weight(index, max_order, 2, t))
    return single, pair
