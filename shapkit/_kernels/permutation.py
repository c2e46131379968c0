"""Numba kernels for permutation sampling.

A permutation ``perm`` of ``d`` players has ``d - 1`` proper non-empty prefixes: prefix
``j`` (``j = 0 .. d-2``) holds players ``perm[0 .. j]``. For a batch ``perms`` of shape
``(n, d)``, prefix ``j`` of permutation ``p`` is row ``p * (d - 1) + j`` of the batch's
prefix array ``(n * (d - 1), d)``. The empty and full coalitions are shared by all
permutations and evaluated once, outside the batch.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def prefix_masks(perms: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows ``start..stop-1`` of the prefix array of ``perms`` as bool ``(stop - start, d)``.

    Passing ``start=0, stop=n * (d - 1)`` gives the whole array; a row range lets the
    caller bound the masks handed to the game per call whatever ``d`` is.
    """
    d = perms.shape[1]
    out = np.zeros((stop - start, d), dtype=np.bool_)
    for r in range(start, stop):
        p = r // (d - 1)
        j = r - p * (d - 1)
        for t in range(j + 1):
            out[r - start, perms[p, t]] = True
    return out


@njit(cache=True)
def permutation_contributions(
    perms: np.ndarray, prefix_values: np.ndarray, empty: np.ndarray, full: np.ndarray
) -> np.ndarray:
    """Marginal contributions ``(n, d, k)`` of every player in every permutation.

    ``prefix_values`` is ``(n * (d - 1), k)``, the game on the prefix array of ``perms``;
    ``empty`` and ``full`` are ``v(empty set)`` and ``v(all players)``, shape ``(k,)``.
    Player ``perm[j]`` contributes ``v(prefix j) - v(prefix j-1)``, with the empty set
    before prefix 0 and the full set after prefix d-2, so each permutation's
    contributions sum to ``full - empty`` (they telescope).
    """
    n, d = perms.shape
    k = empty.shape[0]
    out = np.empty((n, d, k))
    for p in range(n):
        base = p * (d - 1)
        for j in range(d):
            i = perms[p, j]
            for c in range(k):
                cur = prefix_values[base + j, c] if j < d - 1 else full[c]
                prev = prefix_values[base + j - 1, c] if j > 0 else empty[c]
                out[p, i, c] = cur - prev
    return out
