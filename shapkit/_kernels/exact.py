"""Numba kernels for exact enumeration of all 2^d coalitions.

Coalition number ``m`` (an integer in ``[0, 2^d)``) holds player ``i`` when bit ``i``
of ``m`` is set, so ``v[m | (1 << i)]`` is the value of ``S + i``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def enumerate_masks(n_players: int, start: int, stop: int) -> np.ndarray:
    """Masks of coalitions ``start..stop-1`` as a bool array ``(stop - start, n_players)``."""
    out = np.empty((stop - start, n_players), dtype=np.bool_)
    for m in range(start, stop):
        for i in range(n_players):
            out[m - start, i] = (m >> i) & 1
    return out


@njit(cache=True)
def exact_shapley_from_values(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Shapley values from the values of all coalitions.

    ``values`` is ``(2^d, k)`` indexed by coalition number; ``weights[s]`` is
    ``s! (d-s-1)! / d!``. Uses
    ``phi_i = sum_{T contains i} w(|T|-1) v(T) - sum_{S without i} w(|S|) v(S)``,
    summing per (player, size) first so each weight multiplies one partial sum.
    """
    n_coalitions, k = values.shape
    d = weights.shape[0]
    sum_with = np.zeros((d, d + 1, k))
    sum_without = np.zeros((d, d + 1, k))
    for m in range(n_coalitions):
        s = 0
        x = m
        while x:
            s += x & 1
            x >>= 1
        for i in range(d):
            if (m >> i) & 1:
                for c in range(k):
                    sum_with[i, s, c] += values[m, c]
            else:
                for c in range(k):
                    sum_without[i, s, c] += values[m, c]
    phi = np.zeros((d, k))
    for i in range(d):
        for s in range(d):
            for c in range(k):
                phi[i, c] += weights[s] * (sum_with[i, s + 1, c] - sum_without[i, s, c])
    return phi
