"""Native categorical features: LightGBM fitted on pandas 'category' columns and XGBoost's
categorical splits (enable_categorical=True) read exactly; a refused XGBoost model's
suggested fix works."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from test_trees import lgb, xgb

import shapkit
from shapkit.closed_form.tree_path import tree_path_shapley
from shapkit.trees import TreeNotSupportedError, read_tree_model

warnings.filterwarnings("ignore", message=".*feature names.*")


def category_frame(n: int = 700, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "a": rng.normal(size=n),
        "city": pd.Categorical(rng.choice(["paris", "rome", "oslo", "lima", "nyc"], n)),
        "b": rng.normal(size=n),
        "size": pd.Categorical(rng.choice(["S", "M", "L"], n)),
    })  # fmt: skip
    X.loc[::13, "city"] = np.nan
    y = 2 * X.a + 3 * (X.city == "rome") + (X["size"] == "L") * X.b + 0.1 * rng.normal(size=n)
    return X, y


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_lightgbm_on_category_columns_equals_enumeration(kind):
    X, y = category_frame()
    if kind == "regressor":
        model = lgb.LGBMRegressor(n_estimators=40, min_data_per_group=5, cat_smooth=1,
                                  verbose=-1).fit(X, y)  # fmt: skip
        output = "auto"
    else:
        model = lgb.LGBMClassifier(n_estimators=30, min_data_per_group=5, verbose=-1).fit(
            X, (y > 1).astype(int))  # fmt: skip
        output = "decision"
    Xe = X.iloc[:6].copy()
    # a category the model never saw, and a missing one: LightGBM reads both as missing
    Xe["city"] = Xe["city"].cat.add_categories(["tokyo"])
    Xe.iloc[0, 1] = "tokyo"
    Xe.iloc[1, 1] = np.nan
    bg = X.iloc[100:160].copy()
    bg["city"] = bg["city"].cat.add_categories(["tokyo"])  # shapkit wants one dtype
    tree = shapkit.explain(model, Xe, background=bg, output=output, method="tree")
    exact = shapkit.explain(model, Xe, background=bg, output=output, method="exact")
    assert np.allclose(tree.values, exact.values, rtol=0, atol=1e-9)
    assert np.allclose(tree.predictions, exact.predictions, rtol=0, atol=1e-9)
    # path-dependent values add up to the model's own output
    path = shapkit.explain(model, Xe, output=output)
    assert path.value_function == "tree_path_dependent"
    assert np.allclose(path.base_values + path.values.sum(1), exact.predictions, atol=1e-9)
    tm = read_tree_model(model)
    walked, _, _ = tree_path_shapley(tm, Xe, algorithm="path")
    assert np.allclose(walked[:, :, 0], path.values, rtol=0, atol=1e-12)


def test_lightgbm_category_columns_must_match():
    X, y = category_frame()
    model = lgb.LGBMRegressor(n_estimators=5, verbose=-1).fit(X, y)
    codes = X.assign(size=X["size"].cat.codes)  # one category column fewer
    with pytest.raises(TreeNotSupportedError, match="2 pandas 'category' columns"):
        read_tree_model(model).features(codes)


@pytest.mark.parametrize("one_hot", [False, True])
def test_xgboost_categorical_splits_equal_enumeration(one_hot):
    X, y = category_frame()
    model = xgb.XGBClassifier(n_estimators=25, max_depth=3, enable_categorical=True,
                              tree_method="hist", max_cat_to_onehot=8 if one_hot else 1,
                              ).fit(X, (y > 1).astype(int))  # fmt: skip
    Xe, bg = X.iloc[:6], X.iloc[50:90]
    tree = shapkit.explain(model, Xe, background=bg, method="tree", output="decision")
    called = shapkit.explain(lambda Z: model.predict(Z, output_margin=True), Xe,
                             background=bg, method="exact")  # fmt: skip
    assert np.allclose(tree.values, called.values, rtol=0, atol=1e-6)  # float32 sums
    # path-dependent: XGBoost's own TreeSHAP (pred_contribs) on the same trees
    path = shapkit.explain(model, Xe, output="decision")
    matrix = xgb.DMatrix(Xe, enable_categorical=True)
    contribs = model.get_booster().predict(matrix, pred_contribs=True)
    assert np.allclose(path.values, contribs[:, :-1], rtol=0, atol=1e-5)
    assert np.allclose(path.base_values, contribs[:, -1], rtol=0, atol=1e-5)


def test_a_refused_xgboost_classifier_is_explained_through_its_booster():
    X, y = category_frame()
    numeric = X[["a", "b"]]
    model = xgb.XGBClassifier(n_estimators=10, max_depth=3, booster="dart",
                              rate_drop=0.1).fit(numeric, (y > 1).astype(int))  # fmt: skip
    Xe, bg = numeric.iloc[:3], numeric.iloc[50:80]
    with pytest.raises(TreeNotSupportedError, match="DART"):
        shapkit.explain(model, Xe, background=bg, method="tree", output="decision")
    margin = shapkit.explain(model, Xe, background=bg, method="exact", output="decision")
    assert margin.output_names == [1]
    assert np.allclose(margin.predictions, model.predict(Xe, output_margin=True), atol=1e-6)
    assert np.allclose(margin.base_values + margin.values.sum(1), margin.predictions,
                       atol=1e-9)  # fmt: skip
