"""One player per input column through Pipelines that one-hot encode: exact tree values
equal enumeration through the Pipeline."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)
from test_trees import lgb, xgb

import shapkit
from shapkit.closed_form.tree import tree_shapley
from shapkit.closed_form.tree_path import tree_path_shapley
from shapkit.trees import TreeNotSupportedError, read_tree_model

warnings.filterwarnings("ignore", message=".*feature names.*")


def frame(n: int = 500, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "a": rng.normal(size=n),
        "city": rng.choice(["paris", "rome", "oslo", "lima"], n, p=[0.4, 0.3, 0.2, 0.1]),
        "b": rng.normal(size=n),
        "size": rng.choice(["S", "M", "L"], n),
        "c": rng.integers(0, 5, n).astype(float),
    })  # fmt: skip
    y = (2 * X.a + 3 * (X.city == "rome") + (X["size"] == "L") * X.b + 0.5 * X.c
         + 0.1 * rng.normal(size=n))  # fmt: skip
    return X, y.to_numpy()


PIPELINES = {
    "onehot_and_scaler_gbr": lambda: Pipeline([
        ("ct", ColumnTransformer([("oh", OneHotEncoder(), ["city", "size"]),
                                  ("num", StandardScaler(), ["a", "b"])],
                                 remainder="passthrough")),
        ("model", GradientBoostingRegressor(n_estimators=30, random_state=0))]),
    "drop_first_sparse_xgb": lambda: Pipeline([
        ("ct", ColumnTransformer([("oh", OneHotEncoder(drop="first"), ["city", "size"])],
                                 remainder="passthrough", sparse_threshold=1.0)),
        ("model", xgb.XGBRegressor(n_estimators=30, max_depth=3))]),
    "infrequent_ordinal_dropped_lgb": lambda: Pipeline([
        ("ct", ColumnTransformer([
            ("oh", OneHotEncoder(min_frequency=80, handle_unknown="infrequent_if_exist"),
             ["city"]),
            ("ord", OrdinalEncoder(), [3]),
            ("gone", "drop", ["c"])], remainder="passthrough")),
        ("model", lgb.LGBMRegressor(n_estimators=30, verbose=-1))]),
    "onehot_step_then_identity_hgb": lambda: Pipeline([
        ("oh", OneHotEncoder(sparse_output=False, handle_unknown="ignore")),
        ("same", FunctionTransformer()),
        ("model", HistGradientBoostingRegressor(max_iter=30))]),
}  # fmt: skip


@pytest.mark.parametrize("name", list(PIPELINES))
def test_one_player_per_input_column_equals_enumeration(name):
    X, y = frame()
    if name == "onehot_step_then_identity_hgb":
        X = X[["city", "size", "c"]]
    pipe = PIPELINES[name]().fit(X, y)
    Xe, bg = X.iloc[:5], X.iloc[100:150]
    tree = shapkit.explain(pipe, Xe, background=bg)
    assert tree.method == "tree" and tree.feature_names == list(X.columns)
    exact = shapkit.explain(pipe, Xe, background=bg, method="exact")
    atol = 1e-6 if "xgb" in name else 1e-9  # XGBoost sums in float32
    assert np.allclose(tree.values, exact.values, rtol=0, atol=atol)
    assert np.allclose(tree.base_values, exact.base_values, rtol=0, atol=atol)
    if name == "infrequent_ordinal_dropped_lgb":
        assert np.all(tree.values[:, list(X.columns).index("c")] == 0)  # dropped: a dummy
    # groups of input columns, and the other algorithms, on the same trees
    tm = read_tree_model(pipe)
    walk, _, _ = tree_shapley(tm, Xe, bg, algorithm="walk")
    assert np.allclose(walk[:, :, 0], tree.values, rtol=0, atol=1e-12)
    grouped = shapkit.explain(pipe, Xe, background=bg, groups={"g": list(X.columns[:2])})
    grouped_exact = shapkit.explain(pipe, Xe, background=bg, method="exact",
                                    groups={"g": list(X.columns[:2])})  # fmt: skip
    assert np.allclose(grouped.values, grouped_exact.values, rtol=0, atol=atol)


def test_path_dependent_through_one_hot_adds_up():
    X, y = frame()
    pipe = PIPELINES["onehot_and_scaler_gbr"]().fit(X, y)
    expl = shapkit.explain(pipe, X.iloc[:20])
    assert expl.value_function == "tree_path_dependent" and expl.values.shape == (20, 5)
    assert np.allclose(expl.base_values + expl.values.sum(1), pipe.predict(X.iloc[:20]),
                       rtol=0, atol=1e-9)  # fmt: skip
    table, _, _ = tree_path_shapley(read_tree_model(pipe), X.iloc[:20], algorithm="path")
    assert np.allclose(table[:, :, 0], expl.values, rtol=0, atol=1e-12)


def test_unsupported_column_maps_are_refused_with_a_working_fix():
    X, y = frame()
    two = Pipeline([("oh", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ("ct", ColumnTransformer([("s", StandardScaler(with_mean=False), [0])],
                                             remainder="passthrough")),
                    ("model", GradientBoostingRegressor(n_estimators=5))]).fit(
        X[["city", "size"]], y)  # fmt: skip
    with pytest.raises(TreeNotSupportedError, match="2 steps that change the columns"):
        read_tree_model(two)
    # the suggested fix works
    fixed = shapkit.explain(two, X[["city", "size"]].iloc[:2],
                            background=X[["city", "size"]].iloc[:10], method="exact")  # fmt: skip
    assert fixed.values.shape == (2, 2)
    # columns chosen by a callable are resolved when the ColumnTransformer is fitted
    chooser = Pipeline([
        ("ct", ColumnTransformer([("oh", OneHotEncoder(), lambda df: ["city"])],
                                 remainder="drop")),
        ("model", GradientBoostingRegressor(n_estimators=5))]).fit(X, y)  # fmt: skip
    tree = shapkit.explain(chooser, X.iloc[:2], background=X.iloc[:10], method="tree")
    exact = shapkit.explain(chooser, X.iloc[:2], background=X.iloc[:10], method="exact")
    assert np.allclose(tree.values, exact.values, rtol=0, atol=1e-9)


def test_trees_that_do_not_reproduce_the_model_are_refused(monkeypatch):
    X, y = frame()
    pipe = PIPELINES["onehot_and_scaler_gbr"]().fit(X, y)
    tm = read_tree_model(pipe)
    wrong = tm.native
    monkeypatch.setattr(tm, "native", lambda Z: wrong(Z) + 0.5)
    with pytest.raises(TreeNotSupportedError, match="do not reproduce its own outputs"):
        tree_shapley(tm, X.iloc[:3], X.iloc[10:20])
    with pytest.raises(TreeNotSupportedError, match="do not reproduce"):
        tree_path_shapley(tm, X.iloc[:3])


def test_one_hot_blocks_are_checked_per_input_column():
    from shapkit.trees.readers import _blocks_hold

    X, _ = frame()
    encoder = OneHotEncoder().fit(X[["city", "size"]])  # 4 and 3 categories
    assert _blocks_hold(encoder, [4, 3])
    assert not _blocks_hold(encoder, [3, 4])  # right total, wrong blocks: refused
    dropped = OneHotEncoder(drop="first").fit(X[["city", "size"]].to_numpy())
    assert _blocks_hold(dropped, [3, 2]) and not _blocks_hold(dropped, [2, 3])
