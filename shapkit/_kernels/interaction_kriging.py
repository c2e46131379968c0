"""Numba kernels of the interaction proxy: the prior covariances between the game's
values at coalitions and the order-1 and order-2 terms of an interaction index.

Under the prior of :mod:`shapkit.interactions.proxy` the Moebius coefficients ``m_T`` of
two or more players are independent with variance ``prod_{j in T} eta_j``. A term is
``sum_{T >= P} w[|T|] m_T`` over the supersets T of its player or pair P, and
``v(S) = sum_{T <= S} m_T``, so their covariance is ``prod_{j in P} eta_j`` times
``sum_t w[t + |P|] e_t(S - P)`` when ``P <= S`` (0 otherwise), where ``e_t(A)`` is the
t-th elementary symmetric polynomial of the ``eta_j`` over A: the coefficients of
``prod_{j in A} (1 + eta_j x)``. They are built once per coalition and deflated by one
factor ``(1 + eta_i x)`` per left-out player.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _deflate(coef: np.ndarray, degree: int, eta: float, out: np.ndarray) -> None:
    """``out[:degree]``: the coefficients of ``coef / (1 + eta x)`` (``coef`` of degree
    ``degree``, divisible). Forward for ``eta <= 1``, backward above, so that rounding
    errors shrink by ``eta`` (or ``1 / eta``) per step instead of growing."""
    if degree == 0:
        return
    if eta <= 1.0:
        out[0] = coef[0]
        for t in range(1, degree):
            out[t] = coef[t] - eta * out[t - 1]
    else:
        out[degree - 1] = coef[degree] / eta
        for t in range(degree - 1, 0, -1):
            out[t - 1] = (coef[t] - out[t]) / eta


@njit(cache=True)
def interaction_covariances(
    inside: np.ndarray, eta: np.ndarray, single_w: np.ndarray, pair_w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Prior covariances ``(m, d)`` of each coalition's value (rows of ``inside``, bool
    ``(m, d)``) with each player's order-1 term, its interaction part only (Moebius
    coefficients of two or more players), and ``(m, d (d - 1) / 2)`` with each pair's
    order-2 term (pairs ``i < j`` in row-major order). ``single_w`` and ``pair_w`` are
    the index's weights by ``|T|`` (length d + 1)."""
    m, d = inside.shape
    n_pairs = d * (d - 1) // 2
    singles = np.zeros((m, d))
    pairs = np.zeros((m, n_pairs))
    coef = np.zeros(d + 1)
    less_i = np.zeros(d + 1)
    less_ij = np.zeros(d + 1)
    members = np.zeros(d, dtype=np.int64)
    for r in range(m):
        coef[:] = 0.0
        coef[0] = 1.0
        s = 0
        for k in range(d):
            if inside[r, k]:
                for t in range(s + 1, 0, -1):
                    coef[t] += eta[k] * coef[t - 1]
                members[s] = k
                s += 1
        for a in range(s):
            i = members[a]
            _deflate(coef, s, eta[i], less_i)
            total = 0.0
            for t in range(1, s):
                total += single_w[t + 1] * less_i[t]
            singles[r, i] = eta[i] * total
            for b in range(a + 1, s):
                j = members[b]
                _deflate(less_i, s - 1, eta[j], less_ij)
                total = 0.0
                for t in range(0, s - 1):
                    total += pair_w[t + 2] * less_ij[t]
                pairs[r, i * (2 * d - i - 1) // 2 + j - i - 1] = eta[i] * eta[j] * total
    return singles, pairs
