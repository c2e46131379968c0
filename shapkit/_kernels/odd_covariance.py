"""Numba kernel of the Moebius prior's covariance of the game's odd part at coalitions.

With ``k(A) = prod_{j in A} (1 + eta_j) - 1 - sum_{j in A} eta_j`` (the prior variance of
the dividends of two or more players inside A), four times the covariance of the odd
parts at ``S`` and ``S'`` is ``k(S n S') - k(S - S') - k(S' - S) + k(N - S - S')``
(:mod:`shapkit.estimators.proxy.gp`). Every set's ``log prod (1 + eta_j)`` and
``sum eta_j`` follow from the sums over ``S n S'``, ``S``, ``S'`` and ``N``, which the
caller computes with two matrix products.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def odd_mobius_gram(
    both_log: np.ndarray,
    both_lin: np.ndarray,
    row_log: np.ndarray,
    row_lin: np.ndarray,
    total_log: float,
    total_lin: float,
    one_exp: bool,
) -> np.ndarray:
    """``4 Cov(o(S_a), o(S_b))`` ``(n, n)`` (symmetric) of n coalitions from the sums of
    ``log(1 + eta_j)`` (``*_log``) and ``eta_j`` (``*_lin``) over ``S_a n S_b``
    (``both_*``, ``(n, n)``), over each ``S_a`` (``row_*``, ``(n,)``) and over all players
    (``total_*``).

    ``one_exp=False`` evaluates the four ``expm1`` per pair; ``one_exp=True`` one ``exp``,
    writing the other three products as ratios of it and per-row exponentials: about
    three times faster, with an absolute error of a few ulps of ``prod_N (1 + eta_j)``,
    so the caller uses it only where that is negligible against ``k(N)``.
    """
    n = both_log.shape[0]
    out = np.empty((n, n))
    if one_exp:
        # the constants -1 cancel over the four sets and the linear parts add up to
        # 2 lin_a + 2 lin_b - 4 lin_both - lin_N
        grow = np.exp(row_log)  # prod over S_a
        rest = np.exp(total_log - row_log)  # prod over N - S_a
        for a in range(n):
            for b in range(a, n):
                both = np.exp(both_log[a, b])
                value = (
                    both
                    - (grow[a] + grow[b]) / both
                    + rest[a] * (both / grow[b])
                    + 2.0 * (row_lin[a] + row_lin[b])
                    - 4.0 * both_lin[a, b]
                    - total_lin
                )
                out[a, b] = value
                out[b, a] = value
        return out
    for a in range(n):
        for b in range(a, n):
            bl = both_log[a, b]
            bn = both_lin[a, b]
            value = (
                (np.expm1(bl) - bn)
                - (np.expm1(row_log[a] - bl) - (row_lin[a] - bn))
                - (np.expm1(row_log[b] - bl) - (row_lin[b] - bn))
                + (
                    np.expm1(total_log - row_log[a] - row_log[b] + bl)
                    - (total_lin - row_lin[a] - row_lin[b] + bn)
                )
            )
            out[a, b] = value
            out[b, a] = value
    return out
