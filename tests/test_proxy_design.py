"""The greedy design of the proxy estimator (shapkit.estimators.proxy.design) and the
sampler's hook for it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import proxy_variant, table_game
from conftest import run_estimator as run

from shapkit.estimators import KernelEstimator, ProxyEstimator
from shapkit.estimators.coalition_design import CoalitionSampler
from shapkit.estimators.proxy import design, tuning
from shapkit.estimators.proxy.design import DesignPrior, choose_units
from shapkit.estimators.proxy.gp import mobius_norm


def _explained_trace(units: np.ndarray, prior: DesignPrior) -> float:
    """``trace Cov(phi) - trace Cov(phi | units and the constraint)`` under a design
    prior, written over every coalition's Harsanyi dividend (single players included,
    with the design's large variance) plus the prior's Walsh terms."""
    etas, terms = prior.etas, prior.terms
    d = len(etas)
    coalitions = [t for k in range(1, d + 1) for t in itertools.combinations(range(d), k)]
    weight = min(prior.term_weight, tuning.MAX_TERM_WEIGHT)
    linear = design.LINEAR_VARIANCE * mobius_norm(etas) * (1 + weight) / d
    variance = np.array([linear if len(t) == 1 else np.prod(etas[list(t)]) for t in coalitions])
    share = np.array([[1 / len(t) if i in t else 0.0 for t in coalitions] for i in range(d)])
    rows = np.vstack([np.ones(d, bool), units])
    # 2 o(S) = sum_T m_T (1[T in S] - 1[T in N - S]) + sum_U 2 b_U chi_U(2 z - 1)
    odd = np.array([[float(r[list(t)].all()) - float((~r[list(t)]).all()) for t in coalitions]
                    for r in rows])  # fmt: skip
    if terms:  # b_U with variance weight * mobius_norm / (4 K); phi_i gets 2 b_U / |U|
        chi = np.array([[(-1.0) ** (~r[list(u)]).sum() for u in terms] for r in rows])
        odd = np.hstack([odd, 2.0 * chi])
        each = weight * mobius_norm(etas) / (4 * len(terms))
        variance = np.concatenate([variance, np.full(len(terms), each)])
        share = np.hstack(
            [share, [[2 / len(u) if i in u else 0.0 for u in terms] for i in range(d)]]
        )
    cov = odd @ (variance[:, None] * odd.T)
    cross = share @ (variance[:, None] * odd.T)
    return float(np.trace(cross @ np.linalg.pinv(cov, rcond=1e-13) @ cross.T))


@pytest.mark.parametrize(
    "d, seed, terms, eta, linear",
    [(6, 0, (), 0.5, 3.0), (8, 1, (), 0.5, 3.0), (8, 2, ((0, 1, 2), (2, 4, 5, 6, 7)), 0.5, 3.0),
     (8, 3, ((1, 2, 3),), 0.05, None)],
)  # fmt: skip
def test_greedy_matches_a_brute_force_search(d, seed, terms, eta, linear, monkeypatch):
    """Every pick is the candidate that most reduces the posterior variance of phi given
    the units before, found here by recomputing the posterior from scratch for every
    candidate; quotas and fixed units are respected. (Players' prior weights differ, so
    that no two candidates tie; the single players' variance is moderate in three cases,
    so that the brute force is well conditioned, and the package's in one.)"""
    rng = np.random.default_rng(seed)
    prior = DesignPrior(rng.uniform(0.1 * eta, eta, d), terms, 2.5)
    if linear is not None:  # else the package's large variance (small eta: ill-conditioned)
        monkeypatch.setattr(design, "LINEAR_VARIANCE", linear)
    pool = rng.permutation(np.unique(rng.random((40, d)) < 0.45, axis=0))
    size = pool.sum(1)  # units as the sampler draws them: no coalition with its complement
    pool = pool[(size > 0) & ((2 * size < d) | ((2 * size == d) & pool[:, 0]))]
    group = (pool.sum(1) > d // 3).astype(np.int64)
    fixed = rng.random((2, d)) < 0.5
    quota = np.array([3, 4])
    got = choose_units(fixed, pool, group, quota, prior)
    chosen, left, expected = list(fixed), quota.copy(), []
    for _ in range(quota.sum()):
        open_ = [c for c in range(len(pool)) if left[group[c]] > 0 and c not in expected]
        gains = [_explained_trace(np.array([*chosen, pool[c]]), prior) for c in open_]
        best = open_[int(np.argmax(gains))]
        expected.append(best)
        chosen.append(pool[best])
        left[group[best]] -= 1
    np.testing.assert_array_equal(got, expected)
    assert np.bincount(group[got], minlength=2).tolist() == quota.tolist()


@pytest.mark.parametrize("terms", [(), ((0, 1), (2, 3, 4))])
def test_conditioning_on_the_fixed_units_at_once_equals_one_at_a_time(terms):
    """The fixed units enter the posterior in one pivoted Cholesky; it equals picking
    them one at a time (repeated units skipped either way): the same rank, residual
    variances and covariances with phi, hence the same gains."""
    rng = np.random.default_rng(1)
    d = 12
    rows = rng.random((300, d)) < 0.5
    rows[50:60] = rows[0:10]  # ten repeats among the fixed rows
    prior = DesignPrior(rng.uniform(0.02, 0.2, d), terms)
    one, block = design._Posterior(rows, prior, 300), design._Posterior(rows, prior, 300)
    for p in range(120):
        one.pick(p)
    block.pick_all(np.arange(120))
    assert one.rank == block.rank <= 110
    scale = np.abs(one.variance).max()
    np.testing.assert_allclose(block.variance, one.variance, rtol=0, atol=1e-8 * scale)
    np.testing.assert_allclose(block.cross, one.cross, rtol=0,
                               atol=1e-8 * np.abs(one.cross).max())  # fmt: skip
    np.testing.assert_allclose(block.gain(), one.gain(), rtol=0, atol=1e-8 * one.gain().max())


def test_sampler_marks_only_the_chosen_units_drawn():
    """With a chooser, every stratum keeps its random count, the candidates not chosen can
    be drawn later, and no unit is drawn twice."""
    d = 10
    rng = np.random.default_rng(0)
    plain = CoalitionSampler(d, "leverage", np.random.default_rng(0))
    _, plain_stratum, _, _ = plain.draw(40, np.random.default_rng(1))
    sampler = CoalitionSampler(d, "leverage", rng)
    seen_pools = []

    def first(fixed, pool, stratum, counts):
        seen_pools.append((len(pool), counts.sum()))
        return np.concatenate([np.flatnonzero(stratum == t)[:c] for t, c in enumerate(counts)])

    masks, stratum, _, _ = sampler.draw(40, np.random.default_rng(1), first, pool=3.0)
    assert np.bincount(stratum).tolist() == np.bincount(plain_stratum).tolist()
    assert seen_pools[0][0] > seen_pools[0][1]  # more candidates than units
    assert sampler.remaining_units == plain.remaining_units
    more, _, _, _ = sampler.draw(300, np.random.default_rng(2))
    units = np.concatenate([masks[0::2], more[0::2]])
    assert len(np.unique(units, axis=0)) == len(units)


def test_chooser_sees_enumerated_strata_and_skipped_candidates_stay_drawable():
    """Strata the draw enumerates (here the 10 single players) reach the chooser as fixed
    units; drawing the rest of the game afterwards yields every unit exactly once, so
    candidates that were not picked were not marked drawn."""
    d = 10
    rng = np.random.default_rng(4)
    sampler = CoalitionSampler(d, "leverage", rng)
    sizes = []

    def last(fixed, pool, stratum, counts):
        sizes.append(len(fixed))
        return np.concatenate(
            [np.flatnonzero(stratum == t)[::-1][:c] for t, c in enumerate(counts)]
        )

    first, _, _, _ = sampler.draw(60, rng, last, pool=4.0)
    rest, _, _, _ = sampler.draw(2**d, rng)
    units = np.concatenate([first[0::2], rest[0::2]])
    assert sizes == [d]
    assert len(units) == 2 ** (d - 1) - 1 == len(np.unique(units, axis=0))


def test_design_prior_comes_from_the_first_half_with_enough_units(monkeypatch):
    """With at least 4 units per player in the random half the picks use the Gaussian
    process's REML prior (per-player etas, the trees' interactions' weight); with fewer,
    the default prior."""
    d = 10
    game, _ = _prior_game(d, 0.2, 1)
    priors = []

    def spy(fixed, pool, stratum, counts, prior=None):
        priors.append(prior)
        return choose_units(fixed, pool, stratum, counts, prior)

    monkeypatch.setattr(design, "choose_units", spy)
    run(ProxyEstimator(), game, d, 100, seed=0)  # 49 units: 25 random first
    run(ProxyEstimator(), game, d, 200, seed=0)  # 99 units: 50 random first
    default, fitted = priors
    np.testing.assert_array_equal(default.etas, design.design_prior(d))
    assert default.term_weight == tuning.TERM_VARIANCE
    assert not np.allclose(fitted.etas, default.etas)
    assert np.all(fitted.etas > 0)


def test_a_chooser_that_breaks_the_counts_is_an_error():
    rng = np.random.default_rng(0)
    sampler = CoalitionSampler(10, "leverage", rng)
    with pytest.raises(RuntimeError, match="requested counts"):
        sampler.draw(40, rng, lambda fixed, pool, stratum, counts: np.arange(3), pool=2.0)


def _prior_game(d: int, eta: float, seed: int):
    """A game drawn from the Moebius prior: dividends m_T ~ N(0, eta^|T|) for |T| >= 2,
    N(0, 1) for single players; v as a table over all 2^d coalitions, exact phi."""
    rng = np.random.default_rng(seed)
    codes = np.arange(2**d)
    size = np.array([bin(c).count("1") for c in codes])
    dividend = rng.normal(size=2**d) * np.where(size >= 2, eta ** (size / 2), 1.0)
    dividend[0] = 0.0
    value = dividend.copy()
    for i in range(d):  # v(S) = sum over T in S of m_T
        bit = 1 << i
        has = (codes & bit) > 0
        value[has] += value[codes[has] ^ bit]
    truth = np.array([(dividend / np.maximum(size, 1))[(codes >> i) & 1 == 1].sum()
                      for i in range(d)])  # fmt: skip
    return table_game(value), truth


@pytest.mark.slow  # statistical, ~2 s
def test_greedy_design_beats_random_units():
    """On games drawn from a prior like the design's (d = 10, 20 d evaluations), the
    Gaussian process's error with half its units picked is well below its error with
    random units only, and the kernel's; efficiency holds."""
    d, budget = 10, 200
    greedy, random, kernel = [], [], []
    for seed in range(10):
        game, truth = _prior_game(d, 0.2, seed)
        for errors, est in ((greedy, ProxyEstimator()),
                            (random, proxy_variant(greedy_design=False)),
                            (kernel, KernelEstimator())):  # fmt: skip
            result = run(est, game, d, budget, seed=seed)
            np.testing.assert_allclose(
                result.values.sum(), result.full_value - result.empty_value, rtol=1e-9
            )
            errors.append(np.linalg.norm(result.values[:, 0] - truth))
    assert np.mean(greedy) < 0.75 * np.mean(random)  # measured: 0.58
    assert np.mean(greedy) < 0.5 * np.mean(kernel)  # measured: 0.33


@pytest.mark.slow  # ~2 s
def test_near_full_enumeration_draws_every_unit_at_random():
    """Beyond half the game's units (d = 10, 1000 evaluations: 499 of 511 units) the picks
    would only decide which few units are left out: every unit is drawn at random, and
    the estimate is that of random units (``greedy_design = False``)."""
    d = 10
    game, _ = _prior_game(d, 0.2, 0)
    greedy = run(ProxyEstimator(), game, d, 1000, seed=3)
    random = run(proxy_variant(greedy_design=False), game, d, 1000, seed=3)
    np.testing.assert_array_equal(greedy.values, random.values)
    assert not np.array_equal(
        run(ProxyEstimator(), game, d, 400, seed=3).values,
        run(proxy_variant(greedy_design=False), game, d, 400, seed=3).values,
    )


def test_too_few_candidates_for_a_quota_is_an_error():
    pool = np.array([[True, False, False, False], [False, True, False, False]])
    with pytest.raises(ValueError, match="at least quota"):
        choose_units(np.zeros((0, 4), bool), pool, np.array([0, 0]), np.array([1, 1]))
