"""The kernel-weighted regression on single players and odd interactions
(shapkit.estimators.proxy.regression) and the proxy's exact-fit test."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (
    brute_force_shapley,
    game_tables,
    shapley_coefficients,
    table_game,
    three_way_game,
)
from conftest import random_unanimity as unanimity
from hypothesis import given, settings
from hypothesis import strategies as st

from shapkit.estimators.coalition_design import CoalitionSampler
from shapkit.estimators.paired import PairedSample, solve_constrained
from shapkit.estimators.proxy.estimator import additive_share, unpenalised_fit
from shapkit.estimators.proxy.regression import (
    default_n_terms,
    interaction_columns,
    shapley_map,
    solve_odd_regression,
)


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
    state = PairedSample(d, values[0], values[1], sampler)
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
    fit, exact = unpenalised_fit(z, weights, y, delta, [(0, 1, 2), tuple(range(d))])
    assert np.abs(fit[2]).max() < 1e-10  # every unit reproduced
    assert not exact
    fit, exact = unpenalised_fit(z, weights, y, delta, [(0, 1, 2)])
    truth = w.copy()
    truth[:3] += 4.0 / 3.0
    assert exact
    np.testing.assert_allclose(fit[0][:, 0], truth, atol=1e-10)
