"""Shared test helpers: brute-force Shapley values straight from the definition."""

from __future__ import annotations

import itertools
import math

import numpy as np


def brute_force_shapley(game, n_players: int) -> np.ndarray:
    """phi_i = sum_{S without i} |S|!(d-|S|-1)!/d! (v(S+i) - v(S)), one coalition at a time."""
    d = n_players

    def v(coalition):
        mask = np.zeros((1, d), dtype=bool)
        mask[0, list(coalition)] = True
        return np.asarray(game(mask), dtype=float)[0]

    phi = None
    for i in range(d):
        others = [j for j in range(d) if j != i]
        total = 0.0
        for size in range(d):
            weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
            for subset in itertools.combinations(others, size):
                total = total + weight * (v(subset + (i,)) - v(subset))
        phi = [total] if phi is None else [*phi, total]
    return np.array(phi)
