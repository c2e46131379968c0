"""The odd Fourier spectrum of tree ensembles and the interactions the proxy reads from
it (shapkit.estimators.proxy.interactions)."""

from __future__ import annotations

import numpy as np
import pytest

from shapkit.estimators.proxy.interactions import interactions, odd_interactions, odd_spectrum
from shapkit.trees import read_tree_model


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


@pytest.mark.parametrize("booster", ["sklearn", "lightgbm"])
def test_interactions_found_on_a_game_with_two_triples(booster):
    """On the coalitions of a game with an additive part and two three-player
    interactions, the trees' largest odd terms are those two triples."""
    if booster == "lightgbm":
        pytest.importorskip("lightgbm")
    d = 12
    rng = np.random.default_rng(0)
    rows = (rng.random((400, d)) < 0.5).astype(float)
    target = (
        rows @ np.linspace(1.0, 2.0, d) + 4.0 * rows[:, :3].prod(1) - 3.0 * rows[:, 3:6].prod(1)
    )
    found = interactions(rows, target, 2, booster, np.random.default_rng(1))
    assert sorted(found) == [(0, 1, 2), (3, 4, 5)]
    assert interactions(rows, np.full(400, 2.0), 5, booster, rng) == []  # constant: none


def test_greedy_coalitions_tell_more_about_the_terms_than_drawn_ones():
    """The coalitions the greedy design picks leave a smaller summed posterior variance
    of the index terms (under the prior they were picked for) than the same number of
    drawn pairs, and are new, distinct coalitions."""
    from scipy.linalg import cho_factor, cho_solve

    from shapkit.interactions import design as D
    from shapkit.interactions.indices import index_weights

    d, eta = 9, np.linspace(0.05, 0.6, 9)
    single_w, pair_w = index_weights("k-SII", 2, d)

    def leftover(inside: np.ndarray) -> float:
        K = D._prior(inside, inside, eta)
        K[np.diag_indices_from(K)] += 1e-12 * K.diagonal().max()
        C = D._term_prior(inside, eta, single_w, pair_w)
        full = np.ones((1, d), dtype=bool)
        s2, p2 = D.interaction_covariances(full, eta, single_w**2, pair_w**2)
        flat_part = D.FLAT_VARIANCE * single_w[1] ** 2 * np.r_[np.ones(d), np.zeros(p2.shape[1])]
        prior = np.r_[s2[0], p2[0]] + flat_part
        return float((prior - (C * cho_solve(cho_factor(K), C)).sum(axis=0)).sum())

    sampler = D.CoalitionSampler(d, np.random.default_rng(0))
    start = np.concatenate([sampler.borders(), sampler.draw(10)])
    chosen = sampler.choose(30, start, eta, single_w, pair_w)
    drawn = D.CoalitionSampler(d, np.random.default_rng(0))
    drawn.borders(), drawn.draw(10)
    assert len({r.tobytes() for r in np.concatenate([start, chosen])}) == start.shape[0] + 30
    greedy_left = leftover(np.concatenate([start, chosen]))
    drawn_left = leftover(np.concatenate([start, drawn.draw(30)]))
    assert greedy_left < 0.8 * drawn_left
