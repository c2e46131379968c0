"""n_jobs: chunks of rows on worker processes give the sequential values bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression

import shapkit
from shapkit.explainer import Explainer
from shapkit.parallel import (
    chunk_bounds,
    default_chunk_size,
    explain_chunks,
    explanation_frame,
    resolve_n_jobs,
    value_columns,
)
from shapkit.progress import progress_enabled


def _same(a, b):
    for name in ("values", "std_errors", "base_values", "predictions", "n_evals"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.output_names == b.output_names
    assert a.feature_names == b.feature_names
    pd.testing.assert_frame_equal(a.data, b.data)


def _nonlinear(Z):
    Z = np.asarray(Z)
    return np.sin(Z).sum(axis=1) + Z[:, 0] * Z[:, 1]


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :8]
    model = HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(X, y)
    return model, X


@pytest.mark.parametrize("method", ["kernel", "permutation"])
def test_n_jobs_matches_sequential_sampling(cancer, method):
    model, X = cancer
    rows, background = X.iloc[:16], X.iloc[100:110]
    kwargs = dict(method=method, seed=3)
    one = Explainer(model, background, n_jobs=1, **kwargs)(rows, budget=48)
    two = Explainer(model, background, n_jobs=2, **kwargs)(rows, budget=48)
    _same(one, two)
    assert one.values.shape == (16, 8, 2)  # classifier: both classes
    assert (one.std_errors > 0).any()


def test_n_jobs_with_a_lambda_and_ndarray():
    X = np.random.default_rng(0).normal(size=(25, 5))
    one = shapkit.explain(_nonlinear, X, method="kernel", budget=40, seed=1)
    two = shapkit.explain(lambda Z: _nonlinear(Z), X, method="kernel", budget=40, seed=1, n_jobs=2)
    np.testing.assert_array_equal(one.values, two.values)
    np.testing.assert_array_equal(one.std_errors, two.std_errors)


def test_n_jobs_matches_sequential_tree_and_linear():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    forest = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0).fit(X, y)
    linear = LinearRegression().fit(X, y)
    for model, method in ((forest, "tree"), (linear, "linear")):
        one = Explainer(model, X.iloc[:40], method=method)(X.iloc[50:90])
        two = Explainer(model, X.iloc[:40], method=method, n_jobs=2)(X.iloc[50:90])
        _same(one, two)
        assert one.method == method


def test_any_chunking_gives_the_same_values():
    X = pd.DataFrame(np.random.default_rng(4).normal(size=(23, 6)), columns=list("abcdef"))
    explainer = Explainer(_nonlinear, X.iloc[:10], method="kernel", seed=0)
    whole = explainer(X, budget=40)
    plan = explainer._plan(X, 40, None)
    for size in (1, 5, 23):
        values, errors, *_ = explain_chunks(plan, X, chunk_size=size)
        np.testing.assert_array_equal(values[:, :, 0], whole.values)
        np.testing.assert_array_equal(errors[:, :, 0], whole.std_errors)


def test_unseeded_parallel_run_shares_one_entropy():
    """seed=None: one entropy for the whole run, so equal rows in different chunks
    (different workers) still get equal values."""
    X = np.random.default_rng(1).normal(size=(6, 4))
    X = np.vstack([X, X])  # rows 6..11 repeat rows 0..5
    expl = shapkit.explain(_nonlinear, X, method="kernel", budget=24, n_jobs=2)
    np.testing.assert_array_equal(expl.values[:6], expl.values[6:])


def test_n_jobs_validation():
    assert resolve_n_jobs(None) == 1
    assert resolve_n_jobs(3) == 3
    assert resolve_n_jobs(-1) >= 1
    for bad in (0, 1.5, True, "2"):
        with pytest.raises(ValueError, match="n_jobs"):
            resolve_n_jobs(bad)
    with pytest.raises(ValueError, match="n_jobs"):
        Explainer(_nonlinear, np.zeros((1, 2)), n_jobs=0)
    with pytest.raises(ValueError, match="progress"):
        Explainer(_nonlinear, np.zeros((1, 2)), progress="yes")
    with pytest.raises(ValueError, match="backend"):
        Explainer(_nonlinear, np.zeros((1, 2)), backend="spark")


def test_chunk_plan():
    assert chunk_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert default_chunk_size(10_000, 1, False) == 10_000  # quiet sequential: one chunk
    assert default_chunk_size(10_000, 1, True) == 256
    assert default_chunk_size(1_000, 2, False) == 125  # four chunks per worker


def test_progress_is_off_under_pytest_and_forced_on(capsys):
    assert progress_enabled(None) is False
    assert progress_enabled(False) is False
    X = np.random.default_rng(2).normal(size=(30, 3))
    shapkit.explain(_nonlinear, X, method="exact", progress=True)
    err = capsys.readouterr().err
    assert "30/30" in err and "row" in err
    shapkit.explain(_nonlinear, X, method="exact")  # auto: off here
    assert capsys.readouterr().err == ""


def test_flat_columns(cancer):
    model, X = cancer
    expl = Explainer(model, X.iloc[:10], method="exact")(X.iloc[:3])
    frame = explanation_frame(expl)
    assert list(frame.columns) == value_columns(expl.feature_names, expl.output_names, 2)
    assert frame.columns[0] == "base_value:0"
    assert f"shap_value:{expl.feature_names[0]}:1" in frame.columns
    np.testing.assert_array_equal(
        frame[f"shap_value:{expl.feature_names[2]}:1"].to_numpy(), expl.values[:, 2, 1]
    )
    assert value_columns(["a"], ["y"], 1) == [
        "base_value", "shap_value:a", "std_error:a", "prediction", "n_evals"
    ]  # fmt: skip
