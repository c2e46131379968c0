"""Numba kernel of the Gaussian-process solver: the Moebius prior's covariance of units'
odd parts (:mod:`shapkit.estimators.odd_gp`)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def mobius_covariance(
    shared: np.ndarray, size: np.ndarray, n_players: int, table: np.ndarray
) -> np.ndarray:
    """``(n, n)``: ``k(a) - k(b) - k(c) + k(e)`` for every pair of rows (four times the
    covariance of their odd parts), ``k`` given by ``table`` over ``0..d``:
    ``a = shared[r, s]`` players both coalitions hold, ``b = size[r] - a`` and
    ``c = size[s] - a`` those of one coalition and the other's complement, and
    ``e = d - size[r] - size[s] + a`` those of both complements."""
    n = shared.shape[0]
    out = np.empty((n, n))
    for r in range(n):
        for s in range(r + 1):
            a = shared[r, s]
            value = (
                table[a]
                - table[size[r] - a]
                - table[size[s] - a]
                + table[n_players - size[r] - size[s] + a]
            )
            out[r, s] = value
            out[s, r] = value
    return out
