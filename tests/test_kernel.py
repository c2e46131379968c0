"""The kernel estimator: exactness where it must be, accuracy, error bars, the design."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shapkit
from shapkit.estimators import KernelEstimator, get_estimator
from shapkit.estimators.base import MIN_ERROR_DF
from shapkit.estimators.coalition_design import (
    CoalitionSampler,
    Strata,
    allocate_units,
    systematic_round,
)


def unanimity(d, n_terms, max_size, seed):
    """Sum of unanimity games and its closed-form Shapley values."""
    rng = np.random.default_rng(seed)
    indicator = np.zeros((n_terms, d))
    for k in range(n_terms):
        indicator[k, rng.choice(d, size=rng.integers(1, max_size + 1), replace=False)] = 1
    sizes = indicator.sum(axis=1)
    coefs = rng.normal(size=n_terms)

    def game(masks):
        return ((masks.astype(float) @ indicator.T) == sizes) @ coefs

    return game, (indicator / sizes[:, None] * coefs[:, None]).sum(axis=0)


def kernel(game, d, **kwargs):
    return shapkit.shapley_values(game, d, method="kernel", **kwargs)


@pytest.mark.parametrize("d", [3, 10, 31, 200])
@pytest.mark.parametrize("sizes", ["leverage", "kernel"])
def test_exact_on_additive_games(d, sizes):
    """d units fit an additive game exactly, but say nothing of the spread: the errors
    are unknown (inf) until MIN_ERROR_DF more units show the residuals are zero."""
    w = np.random.default_rng(d).normal(size=d)
    game = lambda m: m @ w + 3.0  # noqa: E731
    few = shapkit.shapley_values(game, d, method=KernelEstimator(sizes), budget=2 * d + 2, seed=1)
    np.testing.assert_allclose(few.values, w, atol=1e-9)
    if few.method == "kernel":
        assert np.isinf(few.std_errors).all()
    budget = 4 * (d + MIN_ERROR_DF)  # exact enumeration where 2^d fits
    enough = shapkit.shapley_values(game, d, method=KernelEstimator(sizes), budget=budget, seed=1)
    np.testing.assert_allclose(enough.values, w, atol=1e-9)
    np.testing.assert_allclose(enough.std_errors, 0, atol=1e-7)


def test_stable_for_a_thousand_players():
    d = 1000
    w = np.random.default_rng(0).normal(size=d)
    result = kernel(lambda m: m @ w + 0.01 * m[:, 0] * m[:, 1], d, budget=2500, seed=0)
    assert np.isfinite(result.values).all() and np.isfinite(result.std_errors).all()
    np.testing.assert_allclose(result.values, w, atol=0.02)
    assert abs(result.values.sum() - (w.sum() + 0.01)) < 1e-9 * abs(w.sum())


@settings(max_examples=30, deadline=None)
@given(st.integers(4, 40), st.integers(0, 2**31 - 1), st.integers(0, 3))
def test_efficiency_holds_to_1e9(d, seed, extra):
    game, _ = unanimity(d, 2 * d, max(1, d // 2), seed)
    result = kernel(game, d, budget=d + 2 + 37 * extra, seed=seed)
    full = game(np.ones((1, d), bool))[0]
    assert abs(result.values.sum() - full) <= 1e-9 * max(
        1.0, abs(full), np.abs(result.values).max()
    )
    assert result.n_evals <= d + 2 + 37 * extra


def test_budget_covering_all_coalitions_is_exact():
    game, exact = unanimity(9, 20, 6, 3)
    result = kernel(game, 9, budget=512, seed=0)
    np.testing.assert_allclose(result.values, exact, atol=1e-12)
    assert result.n_evals == 512 and not result.std_errors.any()


def test_error_shrinks_with_budget():
    d = 24
    errors = []
    for budget in (100, 400, 1600):
        per_seed = []
        for seed in range(20):
            game, exact = unanimity(d, 2 * d, 8, seed)
            values = kernel(game, d, budget=budget, seed=seed).values
            per_seed.append(np.linalg.norm(values - exact) / np.linalg.norm(exact))
        errors.append(np.mean(per_seed))
    assert errors[0] > 1.5 * errors[1] > 1.5 * 1.5 * errors[2], errors


@pytest.mark.parametrize("sizes", ["leverage", "kernel"])
def test_standard_errors_cover_the_truth(sizes):
    """Over 240 seeds, the 95% intervals cover the exact values at least 90% of the time."""
    d, covered = 16, []
    estimator = KernelEstimator(sizes)
    for g in range(4):
        game, exact = unanimity(d, 2 * d, 8, g)
        for seed in range(60):
            result = shapkit.shapley_values(game, d, method=estimator, budget=400, seed=seed)
            covered.append(np.abs(result.values - exact) <= 1.96 * result.std_errors)
    rate = np.mean(covered)
    assert 0.90 <= rate <= 0.995, rate


def test_early_stopping_stops_earlier_on_easy_games_and_respects_budget():
    d = 30
    rng = np.random.default_rng(0)
    w = rng.normal(size=d)

    def easy(m):
        return m @ w + 0.02 * (m[:, 0] & m[:, 1])

    hard, _ = unanimity(d, 60, 20, 1)
    budget = 20_000
    easy_result = kernel(easy, d, budget=budget, tol=0.01, seed=0)
    hard_result = kernel(hard, d, budget=budget, tol=0.01, seed=0)
    assert easy_result.n_evals < hard_result.n_evals <= budget
    assert easy_result.n_evals <= budget // 4
    spread = np.ptp(easy_result.values)
    assert easy_result.std_errors.max() <= 0.01 * spread
    # without tol the whole budget is spent (an odd leftover evaluation cannot pair)
    assert kernel(easy, d, budget=1001, seed=0).n_evals == 1000


def test_default_budget_and_tolerance():
    """No budget and no tol: stop at 1% of the spread or at max(2048, 100 d) evaluations."""
    d = 30
    w = np.random.default_rng(1).normal(size=d)
    result = kernel(lambda m: m @ w + 0.05 * (m[:, 2] & m[:, 3]), d, seed=0)
    assert result.n_evals <= 3000
    assert result.std_errors.max() <= 0.01 * np.ptp(result.values)
    assert get_estimator("auto", 30, None).name == "kernel"
    assert get_estimator("auto", 11, None).name == "exact"
    assert get_estimator("auto", 12, None).name == "kernel"


def test_multi_output_games():
    d = 20
    game1, exact1 = unanimity(d, 30, 5, 0)
    game2, exact2 = unanimity(d, 30, 5, 1)
    result = kernel(lambda m: np.stack([game1(m), game2(m)], axis=1), d, budget=3000, seed=0)
    assert result.values.shape == result.std_errors.shape == (d, 2)
    single = kernel(game1, d, budget=3000, seed=0)
    np.testing.assert_allclose(result.values[:, 0], single.values, atol=1e-12)
    for c, exact in enumerate((exact1, exact2)):
        assert np.linalg.norm(result.values[:, c] - exact) < 0.2 * np.linalg.norm(exact)


def test_same_seed_same_values():
    game, _ = unanimity(25, 40, 6, 2)
    a, b = kernel(game, 25, budget=700, seed=5), kernel(game, 25, budget=700, seed=5)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.std_errors, b.std_errors)
    assert not np.array_equal(a.values, kernel(game, 25, budget=700, seed=6).values)


def test_budget_below_minimum_raises():
    with pytest.raises(ValueError, match=r"at least d \+ 2 = 12"):
        kernel(lambda m: m.sum(1), 10, budget=11)
    with pytest.raises(ValueError, match="size_distribution"):
        KernelEstimator("uniform")


# ---- the coalition design ------------------------------------------------------------


class Recorder:
    def __init__(self, game):
        self.game, self.masks = game, []

    def __call__(self, masks):
        self.masks.append(masks.copy())
        return self.game(masks)


@pytest.mark.parametrize("d", [7, 10, 25])
def test_coalitions_are_paired_distinct_and_within_budget(d):
    game, _ = unanimity(d, 10, 4, 0)
    recorder = Recorder(game)
    budget = min(300, 2**d - 20)
    result = kernel(recorder, d, budget=budget, tol=1e-9, seed=3)  # several rounds
    masks = np.concatenate(recorder.masks)
    assert len(masks) == result.n_evals <= budget
    assert len({m.tobytes() for m in masks}) == len(masks)  # without replacement
    sampled = masks[2:]  # after the empty and the full coalition
    np.testing.assert_array_equal(sampled[0::2], ~sampled[1::2])


def test_small_sizes_are_enumerated_first():
    """Leverage shares are equal per size; sizes whose share covers them are enumerated."""
    d = 12
    recorder = Recorder(lambda m: m.sum(axis=1).astype(float))
    kernel(recorder, d, budget=2 + 2 * 320, seed=0)  # 12 + 66 units, then 242 for 5 strata
    sizes = np.concatenate(recorder.masks).sum(axis=1)
    counts = np.bincount(sizes, minlength=d + 1)
    assert counts[1] == counts[11] == 12 and counts[2] == counts[10] == 66
    assert abs(counts[3] - 242 * 2 / 7) <= 1 and counts[3] == counts[9]
    assert abs(counts[6] - 2 * 242 / 7) <= 2  # middle units are pairs of size-6 sets


def test_allocation_and_rounding():
    strata = Strata.of(10)
    assert strata.sizes.tolist() == [1, 2, 3, 4, 5]
    assert strata.n_units.tolist() == [10, 45, 120, 210, 126]  # middle: C(10,5)/2
    np.testing.assert_allclose(strata.kernel_mass.sum(), 1.0)
    alloc = allocate_units(strata.n_units, strata.size_shares("leverage"), 100)
    assert alloc[0] == 10 and alloc.sum() == pytest.approx(100)
    assert alloc[1] == pytest.approx(alloc[2]) == pytest.approx(2 * alloc[4])
    rng = np.random.default_rng(0)
    expected = np.array([0.3, 1.7, 2.5, 0.5])
    draws = np.array([systematic_round(expected, rng) for _ in range(4000)])
    assert (draws.sum(axis=1) == 5).all()
    np.testing.assert_allclose(draws.mean(axis=0), expected, atol=0.05)


def test_sampler_draws_uniform_coalitions_of_a_size():
    sampler = CoalitionSampler(8, "leverage", np.random.default_rng(0))
    rng = np.random.default_rng(1)
    seen = []
    for _ in range(200):
        fresh = CoalitionSampler(8, "leverage", rng)
        masks, stratum, _, _ = fresh.draw(40, rng)
        seen.append(masks[0::2][stratum == 2])  # size-3 coalitions, 56 of them
    first = np.concatenate(seen)
    counts = np.bincount(first.astype(int) @ (1 << np.arange(8)), minlength=256)
    counts = counts[[i for i in range(256) if bin(i).count("1") == 3]]
    assert len(counts) == 56 and counts.min() > 0.5 * counts.mean()
    assert sampler.remaining_units == sum(math.comb(8, s) for s in (1, 2, 3)) + 35


@pytest.mark.parametrize("d", [6, 7, 10])
def test_weighted_regression_on_every_coalition_is_exact(d):
    """Enumerating every stratum through the kernel path recovers the exact values, which
    checks the per-coalition kernel weights of every stratum, the middle one included."""
    from shapkit.estimators.paired import PairedSample

    game, exact = unanimity(d, 3 * d, d, 7)
    rng = np.random.default_rng(0)
    sampler = CoalitionSampler(d, "leverage", rng)
    masks, stratum, enumerated, expected = sampler.draw(2 ** (d - 1), rng)
    assert enumerated.all() and len(masks) == 2**d - 2
    ends = game(np.array([np.zeros(d, bool), np.ones(d, bool)]))[:, None]
    state = PairedSample(d, ends[0], ends[1], sampler)
    state.add(masks, game(masks)[:, None], stratum, enumerated, expected)
    phi, errors = state.solve()
    np.testing.assert_allclose(phi[:, 0], exact, atol=1e-10)
    assert not errors.any()


def test_errors_are_unknown_not_zero_when_the_fit_interpolates():
    """With fewer sampled units than free parameters the least-squares fit passes through
    every unit, its residuals are zero and carry no information: the standard errors are
    inf, not 0. With enough units they are finite and positive."""
    d = 40
    game, exact = unanimity(d, 2 * d, 6, 3)
    few = shapkit.shapley_values(game, d, method="kernel", budget=d + 2, seed=0)
    assert np.isinf(few.std_errors).all()
    assert abs(few.values.sum() - exact.sum()) < 1e-9 * abs(exact).sum()
    many = shapkit.shapley_values(game, d, method="kernel", budget=20 * d, seed=0)
    assert np.isfinite(many.std_errors).all() and (many.std_errors > 0).all()


def test_balanced_strata_treat_every_unit_alike_and_balance_players():
    """Within a stratum the balanced sampler draws every unit equally often (so the
    weights 1 / expected count stay exact) and spreads the players evenly."""
    d, size, count, runs = 8, 3, 10, 3000
    t = size - 1  # stratum index of size 3
    hits = {}
    spreads = []
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        sampler = CoalitionSampler(d, "leverage", rng)
        units = sampler.sample_balanced(t, count, rng)
        assert units.shape == (count, d) and (units.sum(axis=1) == size).all()
        assert len({u.tobytes() for u in units}) == count  # without replacement
        per_player = units.sum(axis=0)
        spreads.append(int(per_player.max() - per_player.min()))
        for u in units:
            hits[u.tobytes()] = hits.get(u.tobytes(), 0) + 1
    n_units = math.comb(d, size)
    assert len(hits) == n_units
    expected = runs * count / n_units
    sd = math.sqrt(expected * (1 - count / n_units))
    assert max(abs(h - expected) for h in hits.values()) < 4.5 * sd
    # 30 player slots over 8 players: 3 or 4 each when perfectly balanced; skipping a
    # repeated block can add one. Uniform sampling gives a mean spread of ~4.3 here.
    assert max(spreads) <= 3 and np.mean(spreads) < 1.5


def test_first_unseen_keeps_first_new_rows_in_order():
    from shapkit._kernels.sampling import first_unseen

    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 12, size=200).astype(np.uint64)
    drawn = np.array([3, 5, 11], dtype=np.uint64)
    expected, seen = [], {3, 5, 11}
    for row, h in enumerate(hashes.tolist()):
        if h not in seen:
            seen.add(h)
            expected.append(row)
    np.testing.assert_array_equal(first_unseen(hashes, drawn, 200), expected)
    np.testing.assert_array_equal(first_unseen(hashes, drawn, 4), expected[:4])
    assert len(first_unseen(hashes, np.zeros(0, np.uint64), 0)) == 0


def test_regression_kernels_match_their_definitions():
    """The Helmert design equals the weighted masks times the zero-sum basis, and the
    stratified variance equals its textbook formula computed group by group."""
    from shapkit._kernels.regression import helmert_design, stratified_variance
    from shapkit.estimators.paired import zero_sum_basis

    rng = np.random.default_rng(1)
    n, d, k = 57, 9, 2
    z = (rng.random((n, d)) < 0.4).astype(float)
    root = rng.random(n) + 0.5
    np.testing.assert_allclose(
        helmert_design(z, root), (z * root[:, None]) @ zero_sum_basis(d), atol=1e-12
    )
    residual = rng.normal(size=(n, k))
    per_residual = rng.normal(size=(n, d))
    group = rng.integers(0, 4, size=n)
    group[7] = 4  # a group of one unit
    fpc = np.array([0.5, 0.9, 1.0, 0.0, 1.0])
    effect = residual[:, :, None] * per_residual[:, None, :]
    expected = np.zeros((k, d))
    for g in range(5):
        e = effect[group == g]
        if len(e) == 1:
            expected += e[0] ** 2
        elif len(e) > 1:
            expected += fpc[g] * len(e) / (len(e) - 1) * ((e - e.mean(axis=0)) ** 2).sum(axis=0)
    np.testing.assert_allclose(
        stratified_variance(effect.reshape(n, k * d), group, fpc).reshape(k, d),
        expected,
        rtol=1e-12,
    )


def test_constrained_solve_agrees_across_its_three_methods(monkeypatch):
    """Normal equations (well-conditioned designs), SVD and the pseudo-inverse of the
    normal matrix give the same solution and sensitivity on a well-posed problem."""
    from shapkit.estimators import paired as kernel_module

    rng = np.random.default_rng(2)
    n, d = 300, 12
    z = (rng.random((n, d)) < 0.5).astype(float)
    w = rng.random(n) + 0.1
    y = rng.normal(size=(n, 2))
    delta = np.array([1.5, -0.5])
    reference = kernel_module.solve_constrained(z, w, y, delta)
    monkeypatch.setattr(kernel_module, "NORMAL_EQUATIONS_RCOND", 2.0)  # never trusted
    by_svd = kernel_module.solve_constrained(z, w, y, delta)
    monkeypatch.setattr(kernel_module, "SVD_WORK_LIMIT", 0)
    by_pinv = kernel_module.solve_constrained(z, w, y, delta)
    for other in (by_svd, by_pinv):
        np.testing.assert_allclose(other[0], reference[0], atol=1e-12)
        np.testing.assert_allclose(other[1], reference[1], atol=1e-12)
        assert other[2] == reference[2] == d - 1
    np.testing.assert_allclose(reference[0].sum(axis=0), delta, atol=1e-12)


def test_strata_share_one_stream_and_stay_uniform():
    """Strata cut from one stream of permutations: after another stratum has used part
    of it, every unit of the next stratum is still equally likely, and the players are
    balanced over both strata together."""
    d, runs = 8, 3000
    hits = {}
    spreads = []
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        sampler = CoalitionSampler(d, "leverage", rng)
        pairs = sampler.sample_balanced(1, 5, rng)  # size 2: 10 player slots
        triples = sampler.sample_balanced(2, 10, rng)  # size 3: 30 slots
        per_player = pairs.sum(axis=0) + triples.sum(axis=0)  # 40 slots, 5 per player
        spreads.append(int(per_player.max() - per_player.min()))
        for u in triples:
            hits[u.tobytes()] = hits.get(u.tobytes(), 0) + 1
    n_units = math.comb(d, 3)
    assert len(hits) == n_units
    expected = runs * 10 / n_units
    sd = math.sqrt(expected * (1 - 10 / n_units))
    assert max(abs(h - expected) for h in hits.values()) < 4.5 * sd
    assert np.mean(spreads) < 1.5  # shared stream: 1.04; a stream per stratum: 2.06
