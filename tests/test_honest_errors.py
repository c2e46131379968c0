"""Honest error bars: no estimator reports a finite, small standard error for a value the
evaluated coalitions do not determine (issue #18, docs/reliability.md)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import interaction_game

import shapkit
from shapkit.estimators.base import MIN_ERROR_DF, honest_errors
from shapkit.estimators.kernel import min_budget as kernel_min_budget
from shapkit.estimators.permutation import min_budget as permutation_min_budget

METHODS = ("auto", "exact", "kernel", "permutation", "proxy")


def smallest_budget(method: str, d: int) -> int:
    if method == "exact":
        return 2**d
    if method == "permutation":
        return permutation_min_budget(d)
    return kernel_min_budget(d)


def z_scores(result, phi: np.ndarray) -> np.ndarray:
    """|error| / standard error, rounding (1e-9 of the values' scale) forgiven; 0 where
    the standard error is inf."""
    error = np.maximum(np.abs(result.values - phi) - 1e-9 * np.abs(phi).max(), 0.0)
    finite = np.isfinite(result.std_errors)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(finite, error / result.std_errors, 0.0)
    return np.where(finite & (result.std_errors == 0), np.where(error > 0, np.inf, 0.0), z)


def test_the_issue_example_has_no_confident_wrong_number():
    """Four units of an additive game leave a direction undetermined: [2, 2, 2, 4] came
    back with standard errors of 4e-16."""
    game = lambda m: m @ np.array([1.0, 2, 3, 4])  # noqa: E731
    for method in ("auto", "kernel", "proxy"):
        result = shapkit.shapley_values(game, 4, method=method, budget=8, seed=0)
        wrong = np.abs(result.values - [1, 2, 3, 4]) > 1e-9
        assert np.isinf(result.std_errors[wrong]).all(), method
        assert not np.isnan(result.std_errors).any()


def test_permutation_errors_are_unknown_from_a_few_pairs():
    """Two antithetic pairs of a 3-player game repeat each other a third of the time:
    the spread they show (often 0) is no standard error."""
    game, phi = interaction_game(3, np.random.default_rng(5))
    for seed in range(10):
        result = shapkit.shapley_values(game, 3, method="permutation", budget=10, seed=seed)
        assert np.isinf(result.std_errors).all()


def test_enough_samples_give_finite_t_corrected_errors():
    raw = np.array([[1.0], [2.0]])
    assert np.isinf(honest_errors(raw, MIN_ERROR_DF - 1)).all()
    scaled = honest_errors(raw, MIN_ERROR_DF)
    assert np.all(scaled > raw) and np.all(scaled < 1.1 * raw)  # t_15(0.975)/1.96 = 1.088
    np.testing.assert_allclose(honest_errors(raw, 1e9), raw, rtol=1e-6)
    assert np.isinf(honest_errors(np.array([[np.inf]]), 100)).all()
    assert not np.isnan(honest_errors(np.array([[np.nan]]), 100)).any()


def test_budgets_below_the_smallest_are_refused_with_the_smallest():
    game, _ = interaction_game(6, np.random.default_rng(0))
    with pytest.raises(ValueError, match="8 game evaluations"):
        shapkit.shapley_values(game, 6, method="kernel", budget=7)
    with pytest.raises(ValueError, match="budget >= 22"):
        shapkit.shapley_values(game, 6, method="permutation", budget=21)


def _grid(methods, budgets, seeds):
    """z scores of every value over the grid, the share of finite errors, and whether
    any error was NaN."""
    scores, finite, nan = [], [], False
    for d in range(3, 13):
        for seed in range(seeds):
            game, phi = interaction_game(d, np.random.default_rng(1000 * d + seed))
            for method in methods:
                for budget in budgets(method, d):
                    result = shapkit.shapley_values(
                        game, d, method=method, budget=budget, seed=seed
                    )
                    nan |= bool(np.isnan(result.std_errors).any())
                    finite.append(np.isfinite(result.std_errors))
                    scores.append(z_scores(result, phi))
    return np.concatenate(scores), np.concatenate(finite).mean(), nan


@pytest.mark.slow
def test_no_value_lies_far_outside_its_error_bars_on_the_issue_grid():
    """d = 3..12, every budget from the smallest accepted to 4 d, 20 seeds, every method:
    never beyond 6 standard errors unless the error is inf, at most 1% beyond 4."""

    def budgets(method, d):
        return range(smallest_budget(method, d), 4 * d + 1)

    z, _, nan = _grid(METHODS, budgets, 20)
    assert not nan
    assert z.max() <= 6.0
    assert np.mean(z > 4) <= 0.01


@pytest.mark.slow
def test_finite_errors_cover_beyond_the_issue_grid():
    """Where budgets leave enough residual degrees of freedom the errors are finite, and
    just as honest (kernel to 12 d, permutation from 16 to 40 pairs)."""

    def budgets(method, d):
        if method == "permutation":
            return [2 + 2 * (d - 1) * pairs for pairs in (16, 24, 40)]
        return [b for b in (6 * d, 8 * d, 12 * d) if b < 2**d]

    z, finite_share, nan = _grid(("kernel", "permutation"), budgets, 10)
    assert not nan
    assert finite_share > 0.5
    assert z.max() <= 6.0
    assert np.mean(z > 4) <= 0.01


@pytest.mark.parametrize("method", ["kernel", "permutation", "proxy"])
def test_a_tolerance_the_budget_cannot_reach_is_reported(method):
    """tol=1e-6 with 200 evaluations: converged is False and achieved_tol says how far
    the standard errors got; a reachable tolerance is reported reached; without tol,
    converged is None; exact values reach any tolerance."""
    game, _ = interaction_game(8, np.random.default_rng(1))
    short = shapkit.shapley_values(game, 8, method=method, budget=200, tol=1e-6, seed=0)
    assert short.converged is False
    spread = np.ptp(short.values)
    assert short.achieved_tol == pytest.approx(float(short.std_errors.max()) / spread)
    assert short.achieved_tol > 1e-6
    loose = shapkit.shapley_values(game, 8, method=method, budget=240, tol=1e3, seed=0)
    assert loose.converged is True and loose.achieved_tol <= 1e3
    assert shapkit.shapley_values(game, 8, method=method, budget=200, seed=0).converged is None
    exact = shapkit.shapley_values(game, 8, method="exact", tol=1e-9)
    assert exact.converged is True and exact.achieved_tol == 0.0


def test_explanations_report_each_rows_tolerance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 10))

    def f(Z):
        return Z[:, :5].prod(axis=1) + np.tanh(Z[:, 5:].sum(axis=1))

    expl = shapkit.explain(f, X[:3], X, method="kernel", budget=64, tol=1e-6, seed=0)
    assert expl.converged.tolist() == [False, False, False]
    assert np.all(expl.achieved_tol > 1e-6) and np.all(np.isfinite(expl.achieved_tol))
    assert shapkit.explain(f, X[:3], X, method="kernel", budget=64, seed=0).converged is None
    exact = shapkit.explain(f, X[:2], X, method="exact", tol=0.01)
    assert exact.converged.tolist() == [True, True]


def test_dummy_players_do_not_make_a_row_look_converged():
    """Players constant in the row and the background are dummies the estimator never
    sees; their exact zeros must not widen the spread the stopping rule divides by."""
    from shapkit.estimators.base import achieved_tolerance

    rng = np.random.default_rng(0)
    background = rng.normal(size=(30, 16)) * 0.1
    background[:, 12:] = 0.0
    x = np.full((1, 16), 2.0)
    x[:, 12:] = 0.0
    w = np.linspace(1.0, 1.3, 12)

    def f(Z):
        return (np.exp(Z[:, :12]) * w).sum(1) + 0.3 * np.prod(np.tanh(Z[:, :12]), axis=1)

    expl = shapkit.Explainer(f, background, method="permutation", seed=1)(x, tol=0.004,
                                                                          budget=500)  # fmt: skip
    seen = achieved_tolerance(expl.values[0, :12, None], expl.std_errors[0, :12, None])
    assert expl.achieved_tol[0] == pytest.approx(seen)
    assert expl.converged.tolist() == [seen <= 0.004]


def test_rounds_grow_toward_the_samples_the_errors_predict():
    """With errors that shrink as 1 / sqrt(samples), each round after the first aims at
    1.2 times the samples predicted for tol (at least 1.25x, at most 2x the samples so
    far), so the last round overshoots by about 1.2x instead of up to 2x."""
    from shapkit.estimators.base import round_growth, sample_in_rounds

    spent: list[int] = []

    def draw(n: int) -> int:
        spent.append(n)
        return n

    def solve() -> tuple[np.ndarray, np.ndarray]:
        errors = np.full((3, 1), 2.0 / np.sqrt(sum(spent)))  # tol 0.01 at 10,000 samples
        return np.array([[0.0], [1.0], [2.0]]), errors  # spread 2

    _, errors, used = sample_in_rounds(1_000_000, 1000, draw, solve, tol=0.01)
    # 1,000 -> 2,000 (the errors ask for 12x) -> 4,000 -> 8,000 -> 12,000 (1.5x, aiming
    # at 1.2 x 10,000), converged
    assert np.cumsum(spent).tolist() == [1000, 2000, 4000, 8000, 12000]
    assert used == 12000 and errors.max() <= 0.01 * 2
    assert round_growth(0.0105, 0.01) == 1.323 and round_growth(0.0101, 0.01) == 1.25
    assert round_growth(float("inf"), 0.01) == 2.0 and round_growth(0.05, None) == 2.0
