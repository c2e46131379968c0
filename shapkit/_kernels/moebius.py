"""Numba kernels of the Moebius transform and of size-weighted superset sums.

Coalitions are indexed by their bitmask ``u`` (bit ``p``: player ``p`` is in), as
:func:`shapkit._kernels.exact.enumerate_masks` lists them. The Moebius transform (the
Harsanyi dividends) of a game ``v`` is ``m(T) = sum_{L <= T} (-1)^{|T| - |L|} v(L)``; every
interaction index of order at most 2 is a sum over supersets ``T`` of a player or a pair
of ``m(T)`` times a weight depending on ``|T|`` only (:mod:`shapkit.interactions.indices`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def moebius_transform(values: np.ndarray) -> np.ndarray:
    """``m(T)`` for every coalition, from ``v`` of every coalition: ``(2^d, k) -> (2^d, k)``,
    ``O(d 2^d)`` per output (the inverse of the subset-sum transform)."""
    m = values.copy()
    size = m.shape[0]
    step = 1
    while step < size:
        for u in range(size):
            if u & step:
                for c in range(m.shape[1]):
                    m[u, c] -= m[u ^ step, c]
        step <<= 1
    return m


@njit(cache=True)
def superset_sums(
    m: np.ndarray, n_players: int, single_weight: np.ndarray, pair_weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``main[i] = sum_{T containing i} single_weight[|T|] m(T)`` ``(d, k)`` and
    ``pairs[i, j] = sum_{T containing i, j} pair_weight[|T|] m(T)`` ``(d, d, k)``
    (symmetric, zero diagonal); ``O(d^2 2^d)``."""
    k = m.shape[1]
    main = np.zeros((n_players, k))
    pairs = np.zeros((n_players, n_players, k))
    members = np.empty(n_players, dtype=np.int64)
    for u in range(1, m.shape[0]):
        t = 0
        for p in range(n_players):
            if (u >> p) & 1:
                members[t] = p
                t += 1
        w1 = single_weight[t]
        w2 = pair_weight[t]
        for a in range(t):
            i = members[a]
            for c in range(k):
                main[i, c] += w1 * m[u, c]
            if w2 == 0.0:
                continue
            for b in range(a + 1, t):
                j = members[b]
                for c in range(k):
                    pairs[i, j, c] += w2 * m[u, c]
    for i in range(n_players):
        for j in range(i + 1, n_players):
            for c in range(k):
                pairs[j, i, c] = pairs[i, j, c]
    return main, pairs
