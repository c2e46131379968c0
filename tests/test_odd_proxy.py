"""Tests of the default proxy, proxy="odd": tree-picked odd interactions in a kernel regression."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import brute_force_shapley, game_tables, table_game
from conftest import random_unanimity as unanimity
from conftest import run_estimator as run
from hypothesis import given, settings
from hypothesis import strategies as st

from shapkit.estimators import ExactEstimator, KernelEstimator, ProxyEstimator
from shapkit.estimators.coalition_design import CoalitionSampler
from shapkit.estimators.kernel import _KernelState, solve_constrained
from shapkit.estimators.odd_proxy import _unpenalised_fit, additive_share
from shapkit.estimators.odd_regression import (
    default_n_terms,
    interaction_columns,
    shapley_map,
    solve_odd_regression,
)
from shapkit.estimators.proxy import shapley_coefficients
from shapkit.trees import read_tree_model
from shapkit.trees.fourier import odd_interactions, odd_spectrum


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


def sparse_game(d: int = 10, seed: int = 1):
    """Mostly additive, with interactions of three to five players."""
    w = np.random.default_rng(seed).normal(size=d)

    def game(m):
        z = m.astype(float)
        return (
            z @ w
            + 1.5 * z[:, 0] * z[:, 1] * z[:, 2]
            + 0.7 * z[:, 2] * z[:, 5] * z[:, 7] * z[:, 8]
            + 0.5 * z[:, 3] * z[:, 4] * z[:, 6] * z[:, 8] * z[:, 9]
        )

    return game


# ---------------------------------------------------------------------------------------
# The Fourier spectrum of trees
# ---------------------------------------------------------------------------------------


def _odd_part_from_spectrum(spectrum, x):
    out = np.zeros(len(x))
    for term, coef in spectrum.items():
        out += coef * np.prod(x[:, list(term)], axis=1)
    return out


@pytest.mark.parametrize("library", ["sklearn-gbr", "hgb", "lightgbm", "xgboost"])
def test_spectrum_reproduces_the_ensembles_odd_part(library):
    """Summing the odd characters with the spectrum's coefficients gives exactly
    ``(f(z) - f(1 - z)) / 2`` for any 0/1 row, whatever library grew the trees."""
    d = 9
    rng = np.random.default_rng(0)
    z = (rng.random((400, d)) < 0.5).astype(float)
    y = z @ rng.normal(size=d) + 2 * z[:, 0] * z[:, 4] * z[:, 7] + np.sin(z @ np.arange(d))
    if library == "sklearn-gbr":
        from sklearn.ensemble import GradientBoostingRegressor as Model

        model = Model(n_estimators=30, max_depth=4, random_state=0)
    elif library == "hgb":
        from sklearn.ensemble import HistGradientBoostingRegressor as Model

        model = Model(max_iter=30, max_depth=6, random_state=0)
    elif library == "lightgbm":
        Model = pytest.importorskip("lightgbm").LGBMRegressor
        model = Model(n_estimators=30, min_child_samples=5, verbose=-1, random_state=0)
    else:
        Model = pytest.importorskip("xgboost").XGBRegressor
        model = Model(n_estimators=30, max_depth=5, random_state=0, n_jobs=1)
    ensemble = read_tree_model(model.fit(z, y)).ensemble
    spectrum = odd_spectrum(ensemble, min_order=1)
    rows = (rng.random((64, d)) < 0.5).astype(float)
    odd = 0.5 * (ensemble.predict(rows)[:, 0] - ensemble.predict(1.0 - rows)[:, 0])
    np.testing.assert_allclose(_odd_part_from_spectrum(spectrum, 2 * rows - 1), odd, atol=1e-9)
    assert all(len(term) % 2 == 1 for term in spectrum)
    assert all(len(term) >= 3 for term in odd_spectrum(ensemble))


def test_spectrum_of_wide_trees():
    """With 8192 features an order-5 subset does not fit one int64 code: the row-wise
    path must give the same exact spectrum."""
    from sklearn.tree import DecisionTreeRegressor

    d = 8192
    rng = np.random.default_rng(3)
    z = (rng.random((300, d)) < 0.5).astype(float)
    cols = [5, 900, 4000, 7000, 8191]
    y = 2.0 * z[:, cols].prod(axis=1) + z[:, 17] + 0.1 * rng.normal(size=300)
    ensemble = read_tree_model(DecisionTreeRegressor(max_depth=7, random_state=0).fit(z, y))
    spectrum = odd_spectrum(ensemble.ensemble, min_order=1)
    assert max(len(t) for t in spectrum) >= 5
    rows = (rng.random((40, d)) < 0.5).astype(float)
    predict = ensemble.ensemble.predict
    odd = 0.5 * (predict(rows)[:, 0] - predict(1.0 - rows)[:, 0])
    np.testing.assert_allclose(_odd_part_from_spectrum(spectrum, 2 * rows - 1), odd, atol=1e-9)


def test_odd_interactions_rank_by_magnitude():
    from sklearn.tree import DecisionTreeRegressor

    z = np.array([[(r >> j) & 1 for j in range(6)] for r in range(64)], float)
    y = 3 * z[:, 0] * z[:, 1] * z[:, 2] + z[:, 3] * z[:, 4] * z[:, 5]
    ensemble = read_tree_model(DecisionTreeRegressor().fit(z, y)).ensemble
    spectrum = odd_spectrum(ensemble)
    assert spectrum[(0, 1, 2)] == pytest.approx(3 / 8)
    assert spectrum[(3, 4, 5)] == pytest.approx(1 / 8)
    assert odd_interactions(ensemble, 1) == [(0, 1, 2)]
    assert odd_interactions(ensemble, 2) == [(0, 1, 2), (3, 4, 5)]
    assert odd_interactions(ensemble, 0) == []


# ---------------------------------------------------------------------------------------
# The regression
# ---------------------------------------------------------------------------------------


def test_interaction_columns_are_products_of_signs():
    rng = np.random.default_rng(1)
    z = rng.random((50, 7)) < 0.5
    terms = [(0, 1, 2), (1, 3, 5, 6, 4), (6,)]
    x = 2.0 * z - 1.0
    expected = np.column_stack([np.prod(x[:, list(t)], axis=1) for t in terms])
    np.testing.assert_array_equal(interaction_columns(z, terms), expected)
    t = shapley_map(7, terms)
    np.testing.assert_allclose(t[:, 7], [2 / 3, 2 / 3, 2 / 3, 0, 0, 0, 0])
    np.testing.assert_allclose(t.sum(axis=0), np.concatenate([np.ones(7), [2.0, 2.0, 2.0]]))


def _sampled_units(game, d, budget, seed=0):
    sampler = CoalitionSampler(d, "leverage", np.random.default_rng(seed))
    masks, stratum, enumerated, expected = sampler.draw((budget - 2) // 2, np.random.default_rng(1))
    ends = np.array([np.zeros(d, bool), np.ones(d, bool)])
    values = np.asarray(game(np.concatenate([ends, masks])), float).reshape(-1, 1)
    state = _KernelState(d, values[0], values[1], sampler)
    state.add(masks, values[2:], stratum, enumerated, expected)
    w = state.unit_weights(stratum)
    y = 0.5 * (values[2:][0::2] - values[2:][1::2] + state.delta)
    return state, masks, stratum, w, y


def test_without_interactions_it_is_the_kernel_estimator():
    d = 20
    game, _ = three_way_game(d)
    state, masks, _, w, y = _sampled_units(game, d, 200)
    z = masks[0::2]
    phi, _, _, leverage = solve_odd_regression(z, w, y, state.delta, [], ridge=0.3)
    kernel_phi, _, rank, _ = solve_constrained(z.astype(float), w, y, state.delta)
    np.testing.assert_allclose(phi, kernel_phi, atol=1e-11)
    assert leverage.sum() == pytest.approx(rank)


@pytest.mark.parametrize("ridge", [0.0, 0.1])
def test_monte_carlo_correction_of_the_fit_vanishes(ridge):
    """The estimate is phi(f) plus the regression-adjusted correction of v - f, and with
    the kernel weights that correction is zero for every player."""
    d = 30
    game, _ = unanimity(d, 3, n_terms=40, max_size=6)
    state, masks, stratum, w, y = _sampled_units(game, d, 600)
    z = masks[0::2]
    terms = [(0, 1, 2), (3, 4, 5), (1, 7, 9, 11, 13), (2, 20, 21)]
    phi, _, residual, _ = solve_odd_regression(z, w, y, state.delta, terms, ridge)
    expand = np.where(
        state.enumerated,
        1.0,
        state.strata.n_units / np.maximum(state.expected, 1e-300),
    )[stratum]
    p_in, p_out = shapley_coefficients(d)
    s = z.sum(axis=1)
    coef = np.where(z, p_in[s][:, None], -p_out[s][:, None])
    correction = (coef * (2.0 * residual[:, 0] * expand)[:, None]).sum(axis=0)
    assert np.abs(correction).max() <= 1e-10 * np.abs(phi).max()


@settings(max_examples=40, deadline=None)
@given(game_tables(4, 7), st.randoms(use_true_random=False), st.sampled_from([0.0, 0.1, 3.0]))
def test_enumerated_regression_is_exact_for_any_interactions(table, random, ridge):
    """With every coalition enumerated, the odd regression returns the exact Shapley
    values whatever interactions it is given and whatever the ridge penalty: the
    correction of the fitted function vanishes, and with all units it is exact."""
    game = table_game(table)
    d = int(np.log2(len(table)))
    state, masks, _, w, y = _sampled_units(game, d, 2**d + 10)
    assert state.enumerated.all()
    odd_subsets = [
        tuple(j for j in range(d) if (r >> j) & 1)
        for r in range(2**d)
        if bin(r).count("1") >= 3 and bin(r).count("1") % 2 == 1
    ]
    terms = random.sample(odd_subsets, random.randint(0, len(odd_subsets)))
    phi, _, _, _ = solve_odd_regression(masks[0::2], w, y, state.delta, terms, ridge)
    np.testing.assert_allclose(phi[:, 0], brute_force_shapley(game, d), atol=1e-8)


def test_additive_share():
    d = 12
    z = np.random.default_rng(0).random((40, d)) < 0.5
    phi = np.arange(d, dtype=float)[:, None]
    delta = phi.sum(axis=0)
    y = z @ phi
    np.testing.assert_allclose(additive_share(z.astype(float), np.ones(40), y, phi, delta), 1.0)
    assert additive_share(z.astype(float), np.ones(40), y + 5.0, phi, delta)[0] < 0.9


def test_default_n_terms():
    assert default_n_terms(500, 50) == 100
    assert default_n_terms(5000, 10) == 100  # at most 10 d
    assert default_n_terms(10**6, 1000) == 1000  # at most 1000


# ---------------------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("booster", ["auto", "sklearn"])
@pytest.mark.parametrize("d, budget", [(20, 400), (30, 600)])
def test_exact_on_games_the_proxy_represents(booster, d, budget):
    """Additive plus three-player interactions: the trees find the interactions, the
    regression reproduces every unit, and the values are exact. (At 10 d the trees find
    both interactions in 1-2 of 10 samples at d = 20 and 30, with random or greedy
    units; at 20 d, in all 5 and 10 measured.)"""
    game, truth = three_way_game(d)
    result = run(ProxyEstimator(booster=booster), game, d, budget)
    assert result.method == "proxy"
    np.testing.assert_allclose(result.values[:, 0], truth, atol=1e-9)
    assert result.std_errors.max() < 1e-9
    assert result.n_evals <= budget


def test_exact_fit_needs_every_parameter_determined():
    """Units on which player 8 is in exactly when an even number of players 3-7 are out
    make the interactions {0,1,2} and {0,...,8} indistinguishable (their characters agree
    on every unit): a fit with both reproduces every unit of the game
    z . w + 4 z0 z1 z2, but its values are not determined, so it is not called exact;
    with {0,1,2} alone it is, and its values are the game's."""
    d = 9
    rng = np.random.default_rng(0)
    z = rng.random((60, d)) < 0.5
    z[:, 8] = (~z[:, 3:8]).sum(axis=1) % 2 == 0
    w = np.linspace(1.0, 2.0, d)
    game = lambda m: m.astype(float) @ w + 4.0 * m[:, 0] * m[:, 1] * m[:, 2]  # noqa: E731
    delta = np.array([w.sum() + 4.0])
    y = (0.5 * (game(z) - game(~z) + delta[0]))[:, None]
    weights = np.ones(len(z))
    fit, exact = _unpenalised_fit(z, weights, y, delta, [(0, 1, 2), tuple(range(d))])
    assert np.abs(fit[2]).max() < 1e-10  # every unit reproduced
    assert not exact
    fit, exact = _unpenalised_fit(z, weights, y, delta, [(0, 1, 2)])
    truth = w.copy()
    truth[:3] += 4.0 / 3.0
    assert exact
    np.testing.assert_allclose(fit[0][:, 0], truth, atol=1e-10)


def test_exact_on_additive_games():
    d = 30
    w = np.random.default_rng(0).normal(size=(d, 2))
    result = run(ProxyEstimator(), lambda m: m @ w + 3.0, d, 400)
    assert result.values.shape == (d, 2)
    np.testing.assert_allclose(result.values, w, atol=1e-10)
    assert result.std_errors.max() < 1e-10


def test_efficiency_to_1e9():
    d = 50
    game, _ = unanimity(d, 1, n_terms=60, max_size=10)
    two = lambda m: np.column_stack([game(m), -2 * game(m)])  # noqa: E731
    result = run(ProxyEstimator(min_additive_share=0.0), two, d, 10 * d)
    assert result.method == "proxy"
    gap = result.full_value - result.empty_value
    np.testing.assert_allclose(result.values.sum(0), gap, rtol=1e-9, atol=1e-12)


def test_guard_returns_the_kernel_estimate_on_high_order_games():
    """A sum of unanimity games over up to d/3 players: the additive fit explains little
    of the odd part, and the estimate is the kernel estimator's, bit for bit."""
    d = 30
    game, _ = unanimity(d, 2, n_terms=60, max_size=10)
    result = run(ProxyEstimator(solver="regression"), game, d, 600, seed=4)
    kernel = run(KernelEstimator(), game, d, 600, seed=4)
    assert result.method == "kernel"
    np.testing.assert_array_equal(result.values, kernel.values)
    np.testing.assert_array_equal(result.std_errors, kernel.std_errors)
    forced = run(ProxyEstimator(solver="regression", min_additive_share=0.0), game, d, 600, seed=4)
    assert forced.method == "proxy"
    assert not np.allclose(forced.values, kernel.values)


def test_no_interactions_is_the_kernel_estimator():
    d = 20
    game, _ = three_way_game(d)
    result = run(ProxyEstimator(n_terms=0, solver="regression"), game, d, 300, seed=2)
    kernel = run(KernelEstimator(), game, d, 300, seed=2)
    assert result.method == "kernel"
    np.testing.assert_array_equal(result.values, kernel.values)


def test_more_accurate_than_kernel_with_covering_errors():
    """On a mostly additive game with interactions of three to five players (d = 10,
    200 of 1024 coalitions): smaller error than the kernel estimator over 120 seeds,
    95% intervals covering at least 90%, and no bias the 120 seeds can detect (it is a
    regression estimator: consistent, not exactly unbiased; docs/proxy.md)."""
    d = 10
    game = sparse_game(d)
    truth = run(ExactEstimator(), game, d, 1024).values[:, 0]
    runs = [run(ProxyEstimator(), game, d, 200, seed=s) for s in range(120)]
    assert {r.method for r in runs} == {"proxy"}
    est = np.array([r.values[:, 0] for r in runs])
    se = np.array([r.std_errors[:, 0] for r in runs])
    kernel = np.array([run(KernelEstimator(), game, d, 200, seed=s).values[:, 0]
                       for s in range(120)])  # fmt: skip
    rmse = np.sqrt(((est - truth) ** 2).mean())
    assert rmse < 0.5 * np.sqrt(((kernel - truth) ** 2).mean())
    assert np.mean(np.abs(est - truth) <= 1.96 * se) >= 0.90
    # the mean of the 120 estimates within 3 of its standard errors of the truth
    # (measured: the largest bias 0.17 of a standard deviation, 3 errors are 0.27)
    assert np.all(np.abs(est.mean(0) - truth) <= 3 * est.std(0, ddof=1) / np.sqrt(len(runs)))


def test_tol_stops_early_and_respects_the_budget():
    d = 30
    game, _ = three_way_game(d)
    noisy = lambda m: game(m) + 0.2 * np.sin(m @ np.arange(d))  # noqa: E731
    early = run(ProxyEstimator(), noisy, d, 6000, tol=0.05)
    full = run(ProxyEstimator(), noisy, d, 6000)
    assert early.n_evals < full.n_evals <= 6000


def test_options_are_checked():
    with pytest.raises(ValueError, match="proxy='odd'"):
        ProxyEstimator(fit="cross")
    with pytest.raises(ValueError, match="proxy='odd'"):
        ProxyEstimator(target="odd")
    with pytest.raises(ValueError, match="ridge"):
        ProxyEstimator(ridge=-1.0)
    with pytest.raises(ValueError, match="n_terms"):
        ProxyEstimator(n_terms=-2)
    with pytest.raises(ValueError, match="booster"):
        ProxyEstimator(booster="catboost")
    with pytest.raises(ValueError, match="solver"):
        ProxyEstimator(solver="exact")
    with pytest.raises(ValueError, match="gp_prior"):
        ProxyEstimator(gp_prior="normal")
    ProxyEstimator(proxy="tree", fit="cross")  # fine for the Monte Carlo proxies
