"""Tests of the benchmark harness: game closed forms and metric functions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import brute_force_shapley

import shapkit
from benchmarks.games import (
    interventional_game,
    unanimity_game,
    unanimity_shapley,
    unanimity_worth,
)
from benchmarks.metrics import (
    EvalCounter,
    max_abs_error,
    relative_l2_error,
    spearman,
)
from shapkit._kernels.exact import enumerate_masks


@pytest.mark.parametrize("n_players", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("seed", [0, 1])
def test_unanimity_closed_form_matches_brute_force(n_players: int, seed: int) -> None:
    game = unanimity_game(n_players, seed=seed, max_size=max(1, n_players // 2))
    expected = brute_force_shapley(game.game, n_players)
    np.testing.assert_allclose(game.exact_values, expected, rtol=1e-12, atol=1e-12)


def test_unanimity_worth_by_hand() -> None:
    # T_0 = {0}, T_1 = {1, 2}; v(S) = 2 [0 in S] - 3 [{1,2} in S]
    indicator = np.array([[True, False], [False, True], [False, True]])
    coefs = np.array([2.0, -3.0])
    masks = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 1], [1, 1, 1]], dtype=bool)
    np.testing.assert_allclose(unanimity_worth(masks, indicator, coefs), [0, 2, 0, -3, -1])
    np.testing.assert_allclose(unanimity_shapley(indicator, coefs), [2.0, -1.5, -1.5])


def test_interventional_game_matches_loop() -> None:
    rng = np.random.default_rng(0)
    x, background = rng.normal(size=4), rng.normal(size=(3, 4))
    weights = rng.normal(size=4)

    def predict(inputs: np.ndarray) -> np.ndarray:
        return np.tanh(inputs @ weights)

    game = interventional_game(predict, x, background)
    masks = enumerate_masks(4, 0, 16)
    expected = [np.mean([predict(np.where(m, x, b)[None])[0] for b in background]) for m in masks]
    np.testing.assert_allclose(game(masks), expected, rtol=1e-12)


def test_relative_l2_error() -> None:
    assert relative_l2_error(np.array([3.0, 4.0]), np.array([3.0, 4.0])) == 0.0
    assert relative_l2_error(np.array([3.0, 9.0]), np.array([3.0, 4.0])) == pytest.approx(1.0)
    assert relative_l2_error(np.zeros(2), np.zeros(2)) == 0.0
    assert relative_l2_error(np.ones(2), np.zeros(2)) == math.inf


def test_max_abs_error() -> None:
    assert max_abs_error(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.5])) == 2.0


def test_spearman() -> None:
    exact = np.array([10.0, 20.0, 30.0, 40.0])
    assert spearman(np.array([1.0, 2.0, 3.0, 4.0]), exact) == pytest.approx(1.0)
    assert spearman(np.array([4.0, 3.0, 2.0, 1.0]), exact) == pytest.approx(-1.0)
    assert spearman(np.array([1.0, 2.0, 4.0, 3.0]), exact) == pytest.approx(0.8)
    assert math.isnan(spearman(np.ones(4), exact))


def test_eval_counter_counts_rows() -> None:
    counter = EvalCounter(lambda masks: masks.sum(axis=1).astype(float))
    counter(np.ones((5, 3), dtype=bool))
    counter(np.zeros(3, dtype=bool))
    assert counter.n_evals == 6


def test_shapkit_exact_matches_closed_form() -> None:
    game = unanimity_game(7, seed=3)
    result = shapkit.shapley_values(game.game, game.n_players, method="exact")
    np.testing.assert_allclose(result.values, game.exact_values, rtol=1e-12, atol=1e-12)
