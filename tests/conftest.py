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


def proxy_variant(**settings):
    """A ProxyEstimator whose documented class attributes (``greedy_design``,
    ``gp_max_units``, ``n_terms``, ``ridge``, ``min_additive_share``) take ``settings``."""
    from shapkit.estimators import ProxyEstimator

    unknown = set(settings) - {
        "greedy_design",
        "gp_max_units",
        "n_terms",
        "ridge",
        "min_additive_share",
    }
    assert not unknown, unknown
    return type("ProxyVariant", (ProxyEstimator,), settings)()


def shapley_coefficients(d: int) -> tuple[np.ndarray, np.ndarray]:
    """``p_in[s] = (s-1)!(d-s)!/d!`` and ``p_out[s] = s!(d-s-1)!/d!``: a coalition of size
    s enters phi_i with weight p_in[s] when i is in it, -p_out[s] when i is not."""
    s = np.arange(d + 1)
    p_in = np.zeros(d + 1)
    p_out = np.zeros(d + 1)
    p_in[1:] = [1.0 / (d * math.comb(d - 1, k - 1)) for k in s[1:]]
    p_out[:d] = [1.0 / (d * math.comb(d - 1, k)) for k in s[:d]]
    return p_in, p_out


def three_way_game(d: int):
    """Additive part plus two three-player interactions, and its Shapley values."""
    w = np.linspace(1.0, 3.0, d)

    def game(m):
        z = m.astype(float)
        return z @ w + 4.0 * z[:, 0] * z[:, 1] * z[:, 2] - 3.0 * z[:, 3] * z[:, 4] * z[:, 5]

    truth = w.copy()
    truth[:3] += 4.0 / 3.0
    truth[3:6] -= 1.0
    return game, truth


def run_estimator(est, game, d: int, budget, seed: int = 0, tol=None):
    """``est.estimate`` on a game returning ``(m,)`` or ``(m, k)`` values."""

    def g(m):
        return np.asarray(game(m), float).reshape(len(m), -1)

    return est.estimate(g, d, budget, tol, np.random.default_rng(seed))


def interaction_game(n_players: int, rng: np.random.Generator):
    """A random sum of unanimity games: every player alone, d pairs, and d // k terms of
    each order k = 3..d, with normal coefficients (higher orders scaled by 0.3, 1 or 3).

    Returns ``(game, phi)``: the game on bool masks and its exact Shapley values
    (each term's coefficient shared equally by its players)."""
    d = n_players
    terms = [((j,), rng.normal()) for j in range(d)]
    terms += [(tuple(rng.choice(d, 2, replace=False)), rng.normal()) for _ in range(d)]
    for order in range(3, d + 1):
        for _ in range(max(1, d // order)):
            scale = rng.choice([0.3, 1.0, 3.0])
            terms.append((tuple(rng.choice(d, order, replace=False)), scale * rng.normal()))
    players = [np.array(t) for t, _ in terms]
    coefs = np.array([c for _, c in terms])
    phi = np.zeros(d)
    for t, c in zip(players, coefs, strict=True):
        phi[t] += c / len(t)

    def game(masks):
        out = np.zeros(masks.shape[0])
        for t, c in zip(players, coefs, strict=True):
            out += c * masks[:, t].all(axis=1)
        return out

    return game, phi
