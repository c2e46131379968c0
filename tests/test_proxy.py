"""Tests of method="proxy" with the Monte Carlo proxies: Tree MSR (proxy="tree") and the
linear proxy. The default odd-interaction proxy is tested in test_odd_proxy.py."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_unanimity as unanimity
from conftest import run_estimator as run

import shapkit
from shapkit.estimators import ESTIMATORS, ProxyEstimator, get_estimator
from shapkit.estimators.proxy import _correct, proxy_min_budget, shapley_coefficients


@pytest.mark.parametrize("proxy", ["tree", "linear"])
@pytest.mark.parametrize("fit", ["same", "cross"])
def test_exact_on_additive_games(proxy, fit):
    d = 30
    w = np.random.default_rng(0).normal(size=(d, 2))
    result = run(ProxyEstimator(proxy=proxy, fit=fit), lambda m: m @ w + 3.0, d, 400)
    assert result.method == "proxy"
    assert result.values.shape == (d, 2)
    np.testing.assert_allclose(result.values, w, atol=1e-10)
    assert result.std_errors.max() < 1e-10
    assert result.n_evals <= 400


@pytest.mark.parametrize("booster", ["sklearn", "xgboost"])
def test_exact_on_a_tree_game(booster):
    """A game that is itself a small tree over the coalition bits: one boosting round at
    learning rate 1 represents it (XGBoost's leaf L2 penalty is tiny at 600 rows, so the
    correction removes the rest), and the estimate is exact."""
    d = 24

    def game(m):
        return 2.0 * (m[:, 0] & m[:, 1]) + 0.5 * m[:, 0]

    exact = np.zeros(d)
    exact[0], exact[1] = 1.5, 1.0
    est = ProxyEstimator(proxy="tree", n_trees=3, learning_rate=1.0, max_depth=2,
                         linear_share=0.0, booster=booster)  # fmt: skip
    result = run(est, game, d, 600)
    np.testing.assert_allclose(result.values[:, 0], exact, atol=1e-6)
    assert result.std_errors.max() < 1e-5


@pytest.mark.parametrize("fit", ["same", "cross"])
def test_efficiency_to_1e9(fit):
    d = 50
    game, _ = unanimity(d, 1, n_terms=60, max_size=10)
    result = run(ProxyEstimator(proxy="tree", fit=fit),
                 lambda m: np.column_stack([game(m), -2 * game(m)]), d, 10 * d)  # fmt: skip
    gap = result.full_value - result.empty_value
    np.testing.assert_allclose(result.values.sum(0), gap, rtol=1e-9, atol=1e-12)


def test_shapley_coefficients_sum_to_zero():
    d = 9
    p_in, p_out = shapley_coefficients(d)
    s = np.arange(1, d)
    np.testing.assert_allclose(s * p_in[s] - (d - s) * p_out[s], 0.0, atol=1e-15)
    assert p_in[d] == pytest.approx(1 / d) and p_out[0] == pytest.approx(1 / d)


class _FixedProxy(ProxyEstimator):
    """The proxy is a fixed additive function: the estimate is phi(f) + correction."""

    def __init__(self, w, **kw):
        super().__init__(proxy="linear", **kw)
        self.w = w

    def _fit_proxy(self, z, y, rng, predict_rows=None, weights=None):
        rows = z if predict_rows is None else predict_rows
        return (rows @ self.w)[:, None], self.w[:, None].copy()


def _mean_within_3_se(estimates, truth):
    mean = estimates.mean(0)
    se = estimates.std(0, ddof=1) / np.sqrt(len(estimates))
    assert np.all(np.abs(mean - truth) <= 3 * se + 1e-12), (mean - truth) / se


def test_correction_is_unbiased_for_a_fixed_proxy():
    d = 10
    game, truth = unanimity(d, 3, n_terms=8, max_size=5)
    w = np.linspace(-1, 1, d)  # a deliberately poor proxy
    estimates = np.array(
        [run(_FixedProxy(w), game, d, 120, seed=s).values[:, 0] for s in range(300)]
    )
    _mean_within_3_se(estimates, truth)


def test_cross_fitting_is_unbiased():
    d = 10
    game, truth = unanimity(d, 4, n_terms=8, max_size=5)
    est = ProxyEstimator(proxy="linear", fit="cross")
    estimates = np.array([run(est, game, d, 120, seed=s).values[:, 0] for s in range(300)])
    _mean_within_3_se(estimates, truth)


@pytest.mark.parametrize("fit, budget", [("same", 400), ("cross", 200)])
def test_standard_errors_cover(fit, budget):
    d = 12
    game, truth = unanimity(d, 5, n_terms=10, max_size=6)
    est = ProxyEstimator(proxy="linear", fit=fit)
    hits, total = 0, 0
    for s in range(250):
        r = run(est, game, d, budget, seed=s)
        inside = np.abs(r.values[:, 0] - truth) <= 1.96 * r.std_errors[:, 0]
        hits += int(inside.sum())
        total += d
    assert hits / total >= 0.90, hits / total


def test_tree_proxy_standard_errors_cover():
    d = 12
    game, truth = unanimity(d, 5, n_terms=10, max_size=6)
    est = ProxyEstimator(proxy="tree")
    hits = sum(
        int((np.abs(r.values[:, 0] - truth) <= 1.96 * r.std_errors[:, 0]).sum())
        for r in (run(est, game, d, 600, seed=s) for s in range(200))
    )
    assert hits / (200 * d) >= 0.90, hits / (200 * d)


def test_fixed_proxy_standard_errors_cover():
    d = 12
    game, truth = unanimity(d, 6, n_terms=10, max_size=6)
    est = _FixedProxy(np.zeros(d))
    hits = sum(
        int((np.abs(r.values[:, 0] - truth) <= 1.96 * r.std_errors[:, 0]).sum())
        for r in (run(est, game, d, 200, seed=s) for s in range(200))
    )
    assert hits / (200 * d) >= 0.90


def test_registry_and_auto():
    assert ESTIMATORS["proxy"] is ProxyEstimator
    assert isinstance(get_estimator("proxy", 30, 600), ProxyEstimator)
    assert get_estimator("auto", 30, 300).name == "proxy"  # explicit budget >= 10 d
    assert get_estimator("auto", 30, 299).name == "kernel"
    assert get_estimator("auto", 30, None).name == "kernel"  # default budget + tol path
    assert get_estimator("auto", 10, 1024).name == "exact"
    assert get_estimator("auto", 12, 1000).name == "proxy"
    w = np.arange(30.0)
    result = shapkit.shapley_values(lambda m: m @ w, 30, method="proxy", budget=600, seed=0)
    assert result.method == "proxy"
    np.testing.assert_allclose(result.values.ravel(), w, atol=1e-9)


def test_fallback_below_minimum_budget_and_exact():
    d = 30
    game, _ = unanimity(d, 7)
    assert proxy_min_budget(d) == 300
    for proxy in ("odd", "tree"):
        r = run(ProxyEstimator(proxy=proxy), game, d, 299)
        assert r.method == "kernel" and r.n_evals <= 299
    r = run(ProxyEstimator(proxy="tree"), game, d, 300)
    assert r.method == "proxy" and r.n_evals <= 300
    small, truth = unanimity(8, 8)
    r = run(ProxyEstimator(), small, 8, 256)
    assert r.method == "exact" and r.n_evals == 256
    np.testing.assert_allclose(r.values[:, 0], truth, atol=1e-12)
    with pytest.raises(ValueError):
        run(ProxyEstimator(), game, d, 10)
    with pytest.raises(ValueError):
        ProxyEstimator(proxy="forest")


def test_tol_stops_early_and_respects_the_budget():
    d = 40
    w = np.random.default_rng(2).normal(size=d)

    def game(m):
        return m @ w + 0.01 * (m[:, 0] & m[:, 1])

    r = run(ProxyEstimator(proxy="linear"), game, d, 4000, tol=0.05)
    assert r.method == "proxy" and r.n_evals < 4000
    r2 = run(ProxyEstimator(proxy="linear"), game, d, 4000)
    assert r2.n_evals <= 4000 and r2.n_evals > r.n_evals


def test_correct_formula_on_full_enumeration():
    """With every unit sampled once (weights 1), the correction is phi(v - f) exactly."""
    from shapkit.estimators.coalition_design import CoalitionSampler

    d = 7
    game, truth = unanimity(d, 9)
    sampler = CoalitionSampler(d, "leverage", np.random.default_rng(0))
    masks, stratum, _, _ = sampler.draw(10**6, np.random.default_rng(0))
    y = np.concatenate([game(masks), game(np.array([np.zeros(d, bool), np.ones(d, bool)]))])
    p_in, p_out = shapley_coefficients(d)
    first = masks[0::2]
    s = first.sum(1)
    coef = np.where(first, p_in[s][:, None], -p_out[s][:, None])
    f = np.zeros((len(y), 1))
    phi, _ = _correct(f, y[:, None], np.zeros((d, 1)), coef, np.ones(len(stratum)), len(stratum))
    np.testing.assert_allclose(phi[:, 0], truth, atol=1e-12)
