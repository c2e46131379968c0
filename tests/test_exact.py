"""Exact enumeration against the definition and the Shapley axioms."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import brute_force_shapley, game_tables, table_game
from hypothesis import given, settings
from hypothesis import strategies as st

import shapkit
from shapkit.estimators.exact import shapley_weights

game_tables = game_tables(1, 6)


@settings(max_examples=60, deadline=None)
@given(game_tables)
def test_exact_equals_brute_force_on_random_games(table):
    game = table_game(table)
    d = int(np.log2(table.shape[0]))
    result = shapkit.shapley_values(game, d, method="exact")
    np.testing.assert_allclose(result.values, brute_force_shapley(game, d), atol=1e-9, rtol=1e-9)
    assert result.method == "exact"
    assert result.n_evals == 2**d
    np.testing.assert_array_equal(result.std_errors, np.zeros(d))


@settings(max_examples=60, deadline=None)
@given(game_tables)
def test_efficiency(table):
    d = int(np.log2(table.shape[0]))
    result = shapkit.shapley_values(table_game(table), d)
    gap = result.values.sum() - (table[-1] - table[0])
    assert abs(gap) <= 1e-9 * max(1.0, np.abs(table).max())
    assert result.full_value == table[-1] and result.empty_value == table[0]


@settings(max_examples=40, deadline=None)
@given(game_tables, game_tables, st.floats(-3, 3), st.floats(-3, 3))
def test_linearity(t1, t2, a, b):
    if t1.shape != t2.shape:
        return
    d = int(np.log2(t1.shape[0]))
    phi1 = shapkit.shapley_values(table_game(t1), d).values
    phi2 = shapkit.shapley_values(table_game(t2), d).values
    phi = shapkit.shapley_values(table_game(a * t1 + b * t2), d).values
    np.testing.assert_allclose(phi, a * phi1 + b * phi2, atol=1e-8)


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 8), st.integers(0, 2**31 - 1))
def test_symmetry_and_dummy(d, seed):
    """Players 0 and 1 are interchangeable and player d-1 is a dummy."""
    rng = np.random.default_rng(seed)
    size_values = rng.normal(size=(d + 1, d + 1))  # depends on (both-of-0/1 count, others count)

    def game(masks):
        pair = masks[:, 0].astype(int) + masks[:, 1]
        rest = masks[:, 2 : d - 1].sum(axis=1)
        return size_values[pair, rest]

    phi = shapkit.shapley_values(game, d).values
    assert phi[0] == pytest.approx(phi[1], abs=1e-12)
    assert phi[d - 1] == pytest.approx(0.0, abs=1e-12)


def test_unanimity_game_closed_form():
    rng = np.random.default_rng(0)
    d = 12
    coalitions = [rng.choice(d, size=s, replace=False) for s in (1, 2, 3, 5, 8)]
    coefs = rng.normal(size=len(coalitions))

    def game(masks):
        return sum(c * masks[:, t].all(axis=1) for c, t in zip(coefs, coalitions, strict=True))

    expected = np.zeros(d)
    for c, t in zip(coefs, coalitions, strict=True):
        expected[t] += c / len(t)
    np.testing.assert_allclose(
        shapkit.shapley_values(game, d, method="exact").values, expected, atol=1e-12
    )


def test_multi_output_game_gives_one_column_per_output():
    d = 5

    def game(masks):
        return np.stack([masks.sum(axis=1), masks[:, 0] * masks[:, 1]], axis=1)

    result = shapkit.shapley_values(game, d)
    assert result.values.shape == (d, 2)
    np.testing.assert_allclose(result.values[:, 0], np.ones(d))
    np.testing.assert_allclose(result.values[:, 1], [0.5, 0.5, 0, 0, 0])
    np.testing.assert_allclose(result.full_value, [5.0, 1.0])


def test_twenty_players_efficiency_and_chunked_calls():
    """d = 20 runs over several game calls and keeps efficiency to 1e-9 relative."""
    d = 20
    rng = np.random.default_rng(1)
    w = rng.normal(size=d)
    calls = []

    def game(masks):
        calls.append(masks.shape[0])
        z = masks @ w
        return np.sin(z) + z**2

    result = shapkit.shapley_values(game, d, method="exact")
    assert sum(calls) == 2**d and max(calls) < 2**d
    full, empty = np.sin(w.sum()) + w.sum() ** 2, 0.0
    assert abs(result.values.sum() - (full - empty)) <= 1e-9 * abs(full - empty)


def test_shapley_weights_sum_to_one_over_coalitions():
    from math import comb

    for d in (1, 2, 7, 20, 60):
        w = shapley_weights(d)
        # sum over S without i of w(|S|) = 1
        assert sum(comb(d - 1, s) * w[s] for s in range(d)) == pytest.approx(1.0, rel=1e-12)


def test_same_seed_same_values():
    def game(masks):
        return masks.sum(axis=1) ** 2

    a = shapkit.shapley_values(game, 6, seed=3)
    b = shapkit.shapley_values(game, 6, seed=3)
    np.testing.assert_array_equal(a.values, b.values)
