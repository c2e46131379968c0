"""The Gaussian process on the odd part (shapkit.estimators.proxy.gp): its Moebius prior
against explicit sums, the posterior's weights and leave-one-out residuals, REML."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import brute_force_shapley, proxy_variant, table_game
from conftest import random_unanimity as unanimity
from conftest import run_estimator as run

from shapkit.estimators import KernelEstimator, ProxyEstimator
from shapkit.estimators.coalition_design import CoalitionSampler
from shapkit.estimators.proxy.gp import (
    OddGaussianProcess,
    fit_odd_gp,
    mobius_eta_bounds,
    mobius_norm,
)


@pytest.mark.parametrize(
    "d, eta, gamma", [(2, 0.5, 0.0), (5, 0.01, 0.0), (7, 0.37, 0.0), (8, 1.9, 0.0),
                      (6, 0.4, 1.0), (8, 1.2, 0.3)]
)  # fmt: skip
def test_mobius_prior_matches_sums_over_coalitions(d, eta, gamma):
    """The Moebius prior's covariances of units' odd parts, and of the players' shares
    with them, against explicit sums over every coalition T of two or more players
    (dividend m_T with variance prod_{j in T} eta_j, eta_j = eta * relevance_j^gamma)."""
    coalitions = [t for k in range(2, d + 1) for t in itertools.combinations(range(d), k)]
    rng = np.random.default_rng(d)
    z = rng.random((7, d)) < 0.5
    relevance = rng.uniform(0.05, 1.0, size=d)
    etas = eta * relevance**gamma
    rows = np.vstack([z, np.ones(d, bool)])
    odd = np.array([[0.5 * (float(s[list(t)].all()) - float((~s[list(t)]).all()))
                     for t in coalitions] for s in rows])  # fmt: skip
    tau = np.array([np.prod(etas[list(t)]) for t in coalitions])
    share = np.array([[1 / len(t) if i in t else 0.0 for t in coalitions] for i in range(d)])
    gp = OddGaussianProcess(z, np.zeros(7), 1.0, [], relevance)
    hyper = {"eta_mobius": eta, "gamma": gamma}
    unit = mobius_norm(etas) / 4  # the constraint row's prior variance: the scale
    cov = gp.covariance(hyper) - np.diag(gp.jitter)
    np.testing.assert_allclose(cov * unit, (odd * tau) @ odd.T, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(gp.shares(hyper) * unit, (odd * tau) @ share.T,
                               rtol=1e-10, atol=1e-14)  # fmt: skip


@pytest.mark.parametrize("d, eta", [(10, 0.05), (30, 0.01), (30, 1.0), (100, 0.5)])
def test_one_exp_gram_equals_the_four_expm1_form(d, eta):
    """The kernel's fast branch (one exp per pair, three ratios) equals the four-expm1
    form to 1e-12 of k(N) wherever mobius_gram picks it."""
    from shapkit._kernels.odd_covariance import odd_mobius_gram
    from shapkit.estimators.proxy.gp import ONE_EXP_SHARE

    rng = np.random.default_rng(d)
    inside = (rng.random((40, d)) < 0.5).astype(float)
    etas = eta * rng.uniform(0.2, 1.0, size=d)
    logs = np.log1p(etas)
    assert mobius_norm(etas) >= ONE_EXP_SHARE * np.exp(logs.sum())
    args = ((inside * logs) @ inside.T, (inside * etas) @ inside.T, inside @ logs,
            inside @ etas, float(logs.sum()), float(etas.sum()))  # fmt: skip
    fast, slow = odd_mobius_gram(*args, True), odd_mobius_gram(*args, False)
    assert np.abs(fast - slow).max() <= 1e-12 * mobius_norm(etas)
    np.testing.assert_array_equal(fast, fast.T)


def test_kernel_stays_finite_for_many_players():
    d = 2000
    _, hi = mobius_eta_bounds(d)
    z = np.random.default_rng(0).random((20, d)) < 0.5
    gp = OddGaussianProcess(z, np.zeros(20), 1.0, [], np.linspace(0.1, 1.0, d))
    for gamma in (0.0, 1.0):
        assert np.isfinite(gp.covariance({"eta_mobius": hi, "gamma": gamma})).all()
        assert np.isfinite(gp.shares({"eta_mobius": hi, "gamma": gamma})).all()


def _all_units(d):
    units = []
    for k in range(1, d):
        for c in itertools.combinations(range(d), k):
            s = np.zeros(d, bool)
            s[list(c)] = True
            if 2 * k < d or (2 * k == d and s[0]):
                units.append(s)
    return np.array(units)


@pytest.mark.parametrize("d", [4, 5, 7])
def test_every_unit_observed_gives_the_exact_values(d):
    """The posterior mean interpolates the units: with all of them it is the game's
    Shapley value, whatever its interactions."""
    table = np.random.default_rng(d).normal(size=2**d)
    game = table_game(table)
    z = _all_units(d)
    ends = game(np.array([np.zeros(d, bool), np.ones(d, bool)]))
    delta = ends[1] - ends[0]
    y = 0.5 * (game(z) - game(~z) + delta)
    phi = fit_odd_gp(z, y, delta, [], np.random.default_rng(0))[0]
    np.testing.assert_allclose(phi, brute_force_shapley(game, d), atol=1e-6)


def test_additive_game_is_exact_with_zero_errors():
    d, w = 12, np.linspace(-1.0, 2.0, 12)
    sample = np.random.default_rng(1).random((60, d)) < 0.4
    delta = w.sum()
    y = sample @ w  # (v(S) - v(N-S) + delta) / 2 of an additive game
    phi, _, _, loo = fit_odd_gp(sample, y, delta, [], np.random.default_rng(0))
    np.testing.assert_allclose(phi, w, atol=1e-10)
    np.testing.assert_allclose(loo, 0.0, atol=1e-9)  # nothing left to predict


@pytest.mark.parametrize("terms, gamma", [([], 0.0), ([(0, 1, 2)], 0.0), ([(0, 1, 2)], 0.8)])
def test_unit_weights_and_leave_one_out_residuals(terms, gamma):
    """For fixed hyperparameters the estimate is linear in the units' odd parts with the
    returned weights, and the leave-one-out residuals are those of refits without each
    unit: the two ingredients of the standard errors."""
    d = 12
    rng = np.random.default_rng(3)
    z = rng.random((40, d)) < 0.5
    game, _ = unanimity(d, 1, n_terms=20, max_size=4)
    ends = game(np.array([np.zeros(d, bool), np.ones(d, bool)]))
    delta = ends[1] - ends[0]
    y = 0.5 * (game(z) - game(~z) + delta)
    hyper = {"eta_mobius": 0.2, "gamma": gamma, "mu": 1.3}
    relevance = np.linspace(0.1, 1.0, d)
    gp = OddGaussianProcess(z, y, delta, terms, relevance)
    phi, weights, loo = gp.posterior(hyper)
    cov, x, o = gp.covariance(hyper), gp.x, gp.o
    for u in (0, 17, 39):
        bumped = y.copy()
        bumped[u] += 0.5
        moved = OddGaussianProcess(z, bumped, delta, terms, relevance).posterior(hyper)[0]
        np.testing.assert_allclose(moved - phi, 0.5 * weights[u], rtol=1e-7, atol=1e-10)
        keep = np.arange(len(o)) != u  # predict unit u's odd part from the others
        inv = np.linalg.inv(cov[np.ix_(keep, keep)])
        a = np.linalg.solve(x[keep].T @ inv @ x[keep], x[keep].T @ inv @ o[keep])
        predicted = x[u] @ a + cov[u, keep] @ inv @ (o[keep] - x[keep] @ a)
        assert loo[u] == pytest.approx(o[u] - predicted, rel=1e-6, abs=1e-10)


def test_hyperparameters_follow_the_game():
    """REML puts more prior mass on large coalitions' dividends for a unanimity game
    than for an additive game with one small three-player interaction."""
    d = 30
    rng = np.random.default_rng(0)
    z = CoalitionSampler(d, "leverage", rng).draw(300, rng)[0][0::2]
    unan, _ = unanimity(d, 0, n_terms=60, max_size=10)
    w = np.linspace(1.0, 2.0, d)
    mild = lambda m: m @ w + 0.05 * m[:, 0] * m[:, 1] * m[:, 2]  # noqa: E731
    etas = []
    for game in (unan, mild):
        ends = game(np.array([np.zeros(d, bool), np.ones(d, bool)]))
        delta = ends[1] - ends[0]
        y = 0.5 * (game(z) - game(~z) + delta)
        etas.append(fit_odd_gp(z, y, delta, [], rng)[1]["eta_mobius"])
    assert etas[0] > 0.2 > 0.05 > etas[1]  # measured: 0.29 and 0.018


def test_too_few_units_for_the_likelihood():
    """With no more rows than players the restricted likelihood is undefined: -inf, never
    an arbitrary or infinite 'exact fit'."""
    d = 10
    z = np.random.default_rng(0).random((6, d)) < 0.5
    gp = OddGaussianProcess(z, np.arange(6.0), 1.0, [])
    assert gp.restricted_loglik({"eta_mobius": 0.1}) == -np.inf


def test_no_finite_likelihood_returns_none(monkeypatch):
    """If no hyperparameters give a positive definite covariance the solver says so
    (None) instead of solving a singular system; the estimator then keeps the kernel
    estimate."""
    d = 12
    game, _ = unanimity(d, 1, n_terms=20, max_size=4)
    z = np.random.default_rng(0).random((60, d)) < 0.5
    ends = game(np.array([np.zeros(d, bool), np.ones(d, bool)]))
    y = 0.5 * (game(z) - game(~z) + ends[1] - ends[0])
    monkeypatch.setattr(OddGaussianProcess, "restricted_loglik", lambda self, h: -np.inf)
    assert fit_odd_gp(z, y, ends[1] - ends[0], [], np.random.default_rng(0)) is None
    result = run(proxy_variant(greedy_design=False), game, d, 240, seed=0)
    kernel = run(KernelEstimator(), game, d, 240, seed=0)
    assert result.method == "kernel"
    np.testing.assert_array_equal(result.values, kernel.values)
    assert run(ProxyEstimator(), game, d, 240, seed=0).method == "kernel"
