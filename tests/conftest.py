"""Shared test helpers: brute-force Shapley values straight from the definition."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import strategies as st


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


def table_game(table: np.ndarray):
    """A game given by its value on every coalition number (bit i = player i)."""
    d = int(np.log2(table.shape[0]))
    powers = 1 << np.arange(d)

    def game(masks):
        return table[masks.astype(np.int64) @ powers]

    return game


def game_tables(min_players: int, max_players: int):
    """Hypothesis strategy: value tables of random games with 2^d entries."""
    return st.integers(min_players, max_players).flatmap(
        lambda d: st.lists(
            st.floats(-100, 100, allow_nan=False, allow_infinity=False),
            min_size=2**d,
            max_size=2**d,
        ).map(np.array)
    )


def random_unanimity(d: int, seed: int, n_terms: int = 12, max_size: int = 4):
    """A seeded sum of unanimity games over 1..max_size players: ``(game, exact values)``."""
    rng = np.random.default_rng(seed)
    ind = np.zeros((d, n_terms), bool)
    for t in range(n_terms):
        ind[rng.choice(d, size=int(rng.integers(1, max_size + 1)), replace=False), t] = True
    coefs = rng.normal(size=n_terms)

    def game(masks):
        present = (masks.astype(np.int64) @ ind) == ind.sum(0)
        return (present * coefs).sum(1)

    return game, ind.astype(float) @ (coefs / ind.sum(0))


def run_estimator(est, game, d: int, budget, seed: int = 0, tol=None):
    """``est.estimate`` on a game returning ``(m,)`` or ``(m, k)`` values."""

    def g(m):
        return np.asarray(game(m), float).reshape(len(m), -1)

    return est.estimate(g, d, budget, tol, np.random.default_rng(seed))
