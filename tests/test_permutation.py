"""Antithetic permutation sampling: exactness, efficiency, unbiasedness, error bars, budget."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import game_tables, table_game
from hypothesis import given, settings
from hypothesis import strategies as st

import shapkit
from shapkit.estimators import ESTIMATORS, PermutationEstimator, get_estimator
from shapkit.estimators.base import MIN_ERROR_DF
from shapkit.estimators.permutation import COALITIONS_PER_CALL, default_budget, min_budget


def unanimity_game(terms, coefs):
    """``v(S) = sum_t c_t [T_t subset of S]``; exact ``phi_i = sum_{t: i in T_t} c_t/|T_t|``."""

    def game(masks):
        return sum(c * masks[:, list(t)].all(axis=1) for c, t in zip(coefs, terms, strict=True))

    return game


def unanimity_values(terms, coefs, d):
    phi = np.zeros(d)
    for c, t in zip(coefs, terms, strict=True):
        phi[list(t)] += c / len(t)
    return phi


def random_unanimity(d, sizes, seed):
    rng = np.random.default_rng(seed)
    terms = [tuple(rng.choice(d, size=s, replace=False)) for s in sizes]
    coefs = rng.uniform(0.5, 2.0, size=len(sizes)) * rng.choice([-1, 1], size=len(sizes))
    return unanimity_game(terms, coefs), unanimity_values(terms, coefs, d)


def pairs_budget(d, n_pairs):
    return 2 + 2 * (d - 1) * n_pairs


def perm(game, d, **kwargs):
    return shapkit.shapley_values(game, d, method="permutation", **kwargs)


class CountingGame:
    """Wraps a game and records the size of every call."""

    def __init__(self, game):
        self.game = game
        self.calls: list[int] = []

    def __call__(self, masks):
        self.calls.append(masks.shape[0])
        return self.game(masks)


def test_registered_and_resolved():
    assert ESTIMATORS["permutation"] is PermutationEstimator
    assert isinstance(get_estimator("permutation", 10, None), PermutationEstimator)
    assert isinstance(get_estimator("permutation", 10, 1000), PermutationEstimator)
    assert default_budget(5) == 2048 and default_budget(100) == 10_000


@settings(max_examples=30, deadline=None)
@given(st.integers(3, 12), st.integers(0, 2**32 - 1))
def test_exact_on_additive_games_at_minimal_budget(d, seed):
    a = np.random.default_rng(seed).normal(size=d)
    result = perm(lambda m: 3.0 + m @ a, d, budget=min_budget(d), seed=seed)
    np.testing.assert_allclose(result.values, a, atol=1e-12)
    assert result.n_evals == min_budget(d) == pairs_budget(d, 2)
    # two pairs that agree say nothing of the spread: the errors are unknown
    assert np.isinf(result.std_errors).all()
    enough = perm(lambda m: 3.0 + m @ a, d, budget=pairs_budget(d, MIN_ERROR_DF + 1), seed=seed)
    np.testing.assert_allclose(enough.values, a, atol=1e-12)
    assert enough.std_errors.max() < 1e-12


@settings(max_examples=30, deadline=None)
@given(st.integers(3, 12), st.integers(0, 2**32 - 1), st.integers(MIN_ERROR_DF + 1, 20))
def test_exact_on_games_of_interaction_order_two(d, seed, n_pairs):
    """A permutation and its reverse give each pairwise term to each of its players once."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=d)
    b = np.triu(rng.normal(size=(d, d)), 1)

    def game(m):
        x = m.astype(float)
        return -1.0 + x @ a + np.einsum("mi,ij,mj->m", x, b, x)

    exact = a + (b.sum(axis=0) + b.sum(axis=1)) / 2
    result = perm(game, d, budget=pairs_budget(d, n_pairs), seed=seed)
    np.testing.assert_allclose(result.values, exact, atol=1e-10)
    assert result.std_errors.max() < 1e-10


def test_not_exact_on_a_three_way_interaction():
    """Control for the test above: order 3 is where antithetic pairs stop being exact."""
    game, exact = unanimity_game([(0, 1, 2)], [1.0]), np.array([1, 1, 1, 0, 0]) / 3
    errors = [
        np.abs(perm(game, 5, budget=pairs_budget(5, 2), seed=s).values - exact).max()
        for s in range(10)
    ]
    assert max(errors) > 0.1


game_tables = game_tables(3, 7)


@settings(max_examples=40, deadline=None)
@given(game_tables, st.integers(0, 2**32 - 1))
def test_efficiency_on_random_games(table, seed):
    d = int(np.log2(table.shape[0]))
    result = perm(table_game(table), d, budget=200, seed=seed)
    gap = result.values.sum() - (result.full_value - result.empty_value)
    assert abs(gap) <= 1e-9 * max(1.0, np.abs(table).max())
    assert result.empty_value == table[0] and result.full_value == table[-1]


def test_unbiased_on_a_small_unanimity_game():
    d = 6
    game, closed_form = random_unanimity(d, (3, 4, 6), seed=0)
    exact = shapkit.shapley_values(game, d, method="exact").values
    np.testing.assert_allclose(exact, closed_form, atol=1e-12)
    estimates = np.array(
        [perm(game, d, budget=pairs_budget(d, 2), seed=s).values for s in range(300)]
    )
    mean = estimates.mean(axis=0)
    se = estimates.std(axis=0, ddof=1) / np.sqrt(len(estimates))
    assert np.all(np.abs(mean - exact) <= 3 * se + 1e-12), (mean - exact) / se


def test_error_shrinks_with_budget():
    """Mean relative L2 error over 40 seeds at 8, 32 and 128 pairs (d = 10).

    Measured: 0.357, 0.182, 0.083 (halving per 4x budget, as 1/sqrt(budget) predicts).
    """
    d = 10
    game, exact = random_unanimity(d, (2, 3, 5, 8, 10), seed=1)
    errors = []
    for n_pairs in (8, 32, 128):
        err = [
            np.linalg.norm(perm(game, d, budget=pairs_budget(d, n_pairs), seed=s).values - exact)
            / np.linalg.norm(exact)
            for s in range(40)
        ]
        errors.append(np.mean(err))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.7 * errors[1] < 0.7**2 * errors[0]


def test_standard_errors_cover_the_exact_values():
    """phi +- 1.96 SE covers the exact value, pooled over players and 240 seeds (4 games).

    Measured coverage at d = 10: 0.935 with 40 pairs (722 evaluations); 0.873 with 10
    pairs and 0.953 with 100 pairs (the ddof=1 SE is itself noisy at few pairs).
    """
    d, n_pairs = 10, 40
    games = [random_unanimity(d, (2, 3, 4, 6, 9), seed=100 + g) for g in range(4)]
    hits = total = 0
    for s in range(240):
        game, exact = games[s % 4]
        result = perm(game, d, budget=pairs_budget(d, n_pairs), seed=s)
        hits += int(np.sum(np.abs(result.values - exact) <= 1.96 * result.std_errors))
        total += d
    assert hits / total >= 0.90, hits / total


def test_early_stopping_easy_game_stops_before_hard_game():
    """Rounds of 91, 182, 364, 728, 909 pairs: the easy game stops after the first (2004
    evaluations), the hard one after the fourth (16018 of 20000)."""
    d, budget, tol = 12, 20_000, 0.1
    rng = np.random.default_rng(3)
    a = rng.uniform(1, 2, size=d)

    def easy(m):  # additive plus a small 3-way interaction
        return m @ a + 0.05 * m[:, :3].all(axis=1)

    hard, _ = random_unanimity(d, (6, 9, 12), seed=3)
    easy_game, hard_game = CountingGame(easy), CountingGame(hard)
    r_easy = perm(easy_game, d, budget=budget, tol=tol, seed=0)
    r_hard = perm(hard_game, d, budget=budget, tol=tol, seed=0)
    assert r_easy.n_evals < r_hard.n_evals < budget
    assert sum(easy_game.calls) == r_easy.n_evals and sum(hard_game.calls) == r_hard.n_evals
    for r in (r_easy, r_hard):
        assert np.max(r.std_errors) <= tol * np.ptp(r.values)
    # tol only decides where to stop in the same stream of permutations
    r_full = perm(easy, d, budget=r_easy.n_evals, seed=0)
    np.testing.assert_allclose(r_easy.values, r_full.values, atol=1e-12)


@pytest.mark.parametrize("tol", [None, 1e-6, 0.1])
@pytest.mark.parametrize("d,budget", [(3, 10), (3, 13), (4, 99), (7, 1001), (25, 5000)])
def test_never_exceeds_the_budget(d, budget, tol):
    game = CountingGame(random_unanimity(d, (2, 3), seed=d)[0])
    result = perm(game, d, budget=budget, tol=tol, seed=0)
    assert sum(game.calls) == result.n_evals <= budget
    if tol is None or tol == 1e-6:  # unreachable tol spends what fits, as tol=None does
        assert result.n_evals > budget - 2 * (d - 1)


def test_game_calls_are_bounded():
    game = CountingGame(lambda m: m.sum(axis=1).astype(float))
    result = perm(game, 3, budget=200_000, seed=0)
    assert result.n_evals == 200_000 - 2 and sum(game.calls) == result.n_evals
    assert max(game.calls) <= COALITIONS_PER_CALL


def test_default_budget():
    game = CountingGame(random_unanimity(40, (5, 20), seed=0)[0])
    result = perm(game, 40, tol=1e-9)  # no budget: the default budget caps the run
    assert default_budget(40) - 2 * 39 < result.n_evals <= default_budget(40) == 4000


def test_same_seed_same_values():
    game, _ = random_unanimity(9, (3, 5, 9), seed=4)
    r1, r2 = perm(game, 9, budget=500, seed=7), perm(game, 9, budget=500, seed=7)
    np.testing.assert_array_equal(r1.values, r2.values)
    np.testing.assert_array_equal(r1.std_errors, r2.std_errors)
    r3 = perm(game, 9, budget=500, seed=np.random.SeedSequence(7))
    np.testing.assert_array_equal(r1.values, r3.values)
    assert not np.array_equal(r1.values, perm(game, 9, budget=500, seed=8).values)


def test_multi_output_games():
    d = 8
    g1, e1 = random_unanimity(d, (2, 5), seed=5)
    g2, e2 = random_unanimity(d, (3, 8), seed=6)
    a = np.arange(d, dtype=float)

    def game(m):
        return np.stack([g1(m), g2(m), m @ a], axis=1)

    result = perm(game, d, budget=1000, seed=1)
    assert result.values.shape == result.std_errors.shape == (d, 3)
    assert result.empty_value.shape == result.full_value.shape == (3,)
    np.testing.assert_allclose(result.values.sum(0), result.full_value - result.empty_value)
    np.testing.assert_allclose(result.values[:, 2], a, atol=1e-12)
    # every output sees the same permutations as a single-output run
    single = perm(g2, d, budget=1000, seed=1)
    np.testing.assert_allclose(result.values[:, 1], single.values, atol=1e-12)
    assert single.values.shape == (d,)


def test_one_and_two_players_are_exact():
    r1 = perm(lambda m: 2.0 + 3.0 * m[:, 0], 1, budget=2)
    assert r1.values.tolist() == [3.0] and r1.n_evals == 2 and r1.std_errors.tolist() == [0.0]
    table = np.array([1.0, 2.0, 5.0, 10.0])  # v({}), v({0}), v({1}), v({0,1})
    r2 = perm(lambda m: table[m[:, 0] + 2 * m[:, 1]], 2, budget=4, seed=0)
    np.testing.assert_allclose(r2.values, [(1 + 5) / 2, (4 + 8) / 2])
    assert r2.n_evals == 4 and r2.std_errors.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("d,budget,needed", [(1, 1, 2), (2, 3, 4), (3, 9, 10), (10, 37, 38)])
def test_budget_too_small_raises(d, budget, needed):
    with pytest.raises(ValueError, match=f"needs budget >= {needed}"):
        perm(lambda m: m.sum(axis=1), d, budget=budget)
    with pytest.raises(ValueError, match=f"needs budget >= {needed}"):
        get_estimator("permutation", d, budget)
    assert perm(lambda m: m.sum(axis=1), d, budget=needed).n_evals == needed
