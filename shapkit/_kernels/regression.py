"""Numba kernels of the kernel estimator's regression: the zero-sum (Helmert) design and
the stratified variance of the solution's linearisation."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def helmert_design(z: np.ndarray, root: np.ndarray) -> np.ndarray:
    """``(root[:, None] * z) @ zero_sum_basis(d)`` in O(n d): Helmert column ``j - 1`` of a
    row is ``(a_0 + ... + a_{j-1} - j a_j) / sqrt(j (j + 1))`` for ``a = root * z``."""
    n, d = z.shape
    out = np.empty((n, d - 1))
    scale = np.empty(d)
    for j in range(1, d):
        scale[j] = 1.0 / np.sqrt(j * (j + 1.0))
    for r in range(n):
        running = root[r] * z[r, 0]
        for j in range(1, d):
            a = root[r] * z[r, j]
            out[r, j - 1] = (running - j * a) * scale[j]
            running += a
    return out


@njit(cache=True)
def stratified_variance(effect: np.ndarray, group: np.ndarray, fpc: np.ndarray) -> np.ndarray:
    """Variance ``(m,)`` of the column sums of ``effect`` ``(n, m)``, whose rows are units
    sampled by groups without replacement.

    ``group[r]`` is row r's sampling group and ``fpc[g]`` that group's finite-population
    correction ``1 - n_g / N_g`` (1 for a pooled group). Each group contributes
    ``fpc * n_g / (n_g - 1)`` times its sum of squared deviations from the group mean; a
    group of one unit contributes the unit's square (its spread is unknown: conservative).
    """
    n, m = effect.shape
    n_groups = fpc.shape[0]
    sizes = np.zeros(n_groups)
    sums = np.zeros((n_groups, m))
    for r in range(n):
        g = group[r]
        sizes[g] += 1.0
        for j in range(m):
            sums[g, j] += effect[r, j]
    spread = np.zeros((n_groups, m))
    for r in range(n):
        g = group[r]
        for j in range(m):
            deviation = effect[r, j] - sums[g, j] / sizes[g]
            spread[g, j] += deviation * deviation
    variance = np.zeros(m)
    for g in range(n_groups):
        if sizes[g] == 1.0:
            for j in range(m):
                variance[j] += sums[g, j] * sums[g, j]
        elif sizes[g] > 1.0:
            scale = max(fpc[g], 0.0) * sizes[g] / (sizes[g] - 1.0)
            for j in range(m):
                variance[j] += scale * spread[g, j]
    return variance
