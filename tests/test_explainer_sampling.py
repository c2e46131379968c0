"""Sampling estimators through Explainer: determinism, chunking, auto choices, accuracy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import shapkit


@pytest.fixture(scope="module")
def wide_data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(40, 14)), columns=[f"f{j}" for j in range(14)])
    X["cat"] = pd.Categorical(rng.choice(["a", "b", "c"], size=40))
    return X


def interacting_model(Z):
    codes = Z["cat"].cat.codes.to_numpy()
    return np.tanh(Z["f0"] * Z["f1"]) + Z["f2"] * (codes == 1) + 0.5 * Z.iloc[:, 3:14].sum(axis=1)


@pytest.mark.parametrize("method", ["kernel", "permutation"])
def test_identical_for_any_chunking_and_row_order(wide_data, method):
    X, background = wide_data.iloc[:9], wide_data.iloc[20:]
    explainer = shapkit.Explainer(interacting_model, background, method=method, seed=3)
    whole = explainer(X, budget=600)
    for size in (1, 7):
        parts = [explainer(X.iloc[i : i + size], budget=600) for i in range(0, len(X), size)]
        np.testing.assert_array_equal(np.concatenate([p.values for p in parts]), whole.values)
        np.testing.assert_array_equal(
            np.concatenate([p.std_errors for p in parts]), whole.std_errors
        )
    order = np.random.default_rng(0).permutation(len(X))
    shuffled = explainer(X.iloc[order], budget=600)
    np.testing.assert_array_equal(shuffled.values, whole.values[order])


def test_sampling_values_are_close_to_exact_and_add_up(wide_data):
    X, background = wide_data.iloc[:4], wide_data.iloc[20:30]
    exact = shapkit.explain(interacting_model, X, background=background, method="exact")
    sampled = shapkit.explain(
        interacting_model, X, background=background, method="kernel", budget=3000, seed=0
    )
    assert sampled.method == "kernel" and (sampled.n_evals <= 3000).all()
    assert (sampled.std_errors > 0).any()
    gap = sampled.base_values + sampled.values.sum(axis=1) - sampled.predictions
    assert np.abs(gap).max() < 1e-9
    np.testing.assert_allclose(sampled.predictions, exact.predictions)
    error = np.linalg.norm(sampled.values - exact.values) / np.linalg.norm(exact.values)
    assert error < 0.05, error
    # the reported errors are honest: no deviation beyond 5 standard errors
    assert (np.abs(sampled.values - exact.values) <= 5 * sampled.std_errors + 1e-9).all()


def test_auto_picks_linear_exact_or_a_sampler(monkeypatch):
    from shapkit.estimators import auto

    # a fixed cost per evaluation (1 ms) instead of the clock, so the choice is the same
    # on every machine
    monkeypatch.setattr(auto, "seconds_per_evaluation", lambda *args, **kwargs: 1e-3)
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    background = X.iloc[:30]
    linear = shapkit.explain(LinearRegression().fit(X, y), X.iloc[:3], background=background)
    assert linear.method == "linear"
    boosted = GradientBoostingRegressor(n_estimators=20, random_state=0).fit(X, y)
    assert shapkit.explain(boosted, X.iloc[:2], background=background).method == "tree"
    neighbours = KNeighborsRegressor().fit(X, y)
    assert shapkit.explain(neighbours, X.iloc[:2], background=background).method == "exact"
    wide = pd.concat([X, X.add_suffix("_copy")], axis=1)
    wide_model = KNeighborsRegressor().fit(wide, y)
    expl = shapkit.explain(wide_model, wide.iloc[:2], background=wide.iloc[:30], seed=0)
    # the pilot decides here: the kernel estimator would need ~5,600 evaluations, 5.6 s
    # at 1 ms each, the proxy ~1,054 and 1.5 s with its own work
    assert expl.method == "proxy" and expl.values.shape == (2, 20)
    assert "more than the budget of 2,048; the proxy about 1,054" in expl.settings[
        "method_reason"
    ]
    # no budget, no tol: stop at 1% of the spread, or at the default budget
    assert (expl.n_evals <= 2048).all()
    spread = np.ptp(expl.values, axis=1)
    converged = expl.std_errors.max(axis=1) <= 0.01 * spread
    assert converged.all() or (expl.n_evals >= 2000).all()


def test_linear_method_says_why_it_does_not_apply():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    classifier = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y > 140)
    with pytest.raises(ValueError, match="output='decision'"):
        shapkit.explain(classifier, X.iloc[:2], background=X.iloc[:20], method="linear")
    expl = shapkit.explain(
        classifier, X.iloc[:2], background=X.iloc[:20], method="linear", output="decision"
    )
    exact = shapkit.explain(
        classifier, X.iloc[:2], background=X.iloc[:20], method="exact", output="decision"
    )
    np.testing.assert_allclose(expl.values, exact.values, atol=1e-9)
    with pytest.raises(ValueError, match="applies to Explainer"):
        shapkit.shapley_values(lambda m: m.sum(1), 3, method="linear")


def test_row_hashes_depend_on_the_row_content_only():
    from shapkit.rows import row_hashes

    rng = np.random.default_rng(4)
    X = rng.normal(size=(6, 4))
    X[1, 2] = np.nan
    X[3] = X[0]  # a repeated row
    hashes = row_hashes(X)
    assert hashes.dtype == np.uint64
    assert hashes[3] == hashes[0] and len(set(hashes.tolist())) == 5
    np.testing.assert_array_equal(row_hashes(X[::-1]), hashes[::-1])  # position-free
    np.testing.assert_array_equal(row_hashes(pd.DataFrame(X, columns=list("abcd"))), hashes)
    signed, other_nan = X.copy(), X.copy()
    signed[2, 0], X[2, 0] = -0.0, 0.0
    other_nan[1, 2] = -np.nan
    assert row_hashes(signed)[2] == row_hashes(X)[2]
    assert row_hashes(other_nan)[1] == hashes[1]
    assert row_hashes(X[:, ::-1])[0] != row_hashes(X)[0]  # column order matters
    mixed = pd.DataFrame({"city": ["a", "b", "a"], "n": [1, 2, 1]})
    mixed_hashes = row_hashes(mixed)
    assert mixed_hashes[0] == mixed_hashes[2] != mixed_hashes[1]


def test_solves_run_on_one_blas_thread_and_restore_the_pool():
    from threadpoolctl import threadpool_info

    from shapkit.estimators.blas import one_blas_thread

    before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    with one_blas_thread():
        inside = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    after = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    assert inside and all(n == 1 for n in inside)
    assert after == before
