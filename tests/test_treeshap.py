"""Interventional TreeSHAP: equals exact enumeration of the same game, for every reader."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder, PolynomialFeatures, StandardScaler
from test_trees import CASES, fitted, xgb

import shapkit
from shapkit.closed_form.tree import tree_shapley
from shapkit.trees import TreeNotSupportedError, read_tree_model

warnings.filterwarnings("ignore", message=".*feature names.*")


def output_for(tm) -> str:
    if tm.space == "probability" or tm.space == "raw":
        return "auto"
    return "decision" if tm.is_classifier else "margin"


@pytest.mark.parametrize("case_id", [c[0] for c in CASES])
def test_equals_exact_enumeration(case_id):
    model, X = fitted(case_id)
    tm = read_tree_model(model)
    Xe, bg = X[:6], X[40:65]
    output = output_for(tm)
    tree = shapkit.explain(model, Xe, background=bg, method="tree", output=output)
    assert tree.method == "tree"
    # the same game, enumerated, on our float64 trees
    exact_ours = shapkit.explain(
        lambda Z: tm.ensemble.predict(Z), Xe, background=bg, method="exact"
    )
    vals = tree.values.reshape(exact_ours.values.shape)
    assert np.allclose(vals, exact_ours.values, rtol=0, atol=1e-9)
    # ... and on the model itself (XGBoost sums in float32)
    exact = shapkit.explain(model, Xe, background=bg, method="exact", output=output)
    atol = 2e-5 if isinstance(model, xgb.XGBModel) else 1e-9
    assert np.allclose(tree.values, exact.values, rtol=0, atol=atol)
    assert np.allclose(tree.base_values, exact.base_values, rtol=0, atol=atol)
    assert tree.output_names == exact.output_names
    # the walk (Lundberg et al.) gives the same values as leaf patterns (used by default);
    # pattern lists and tables are the same sums in the same order: bit-identical
    walk, _, _ = tree_shapley(tm, Xe, bg, algorithm="walk")
    leaf, _, _ = tree_shapley(tm, Xe, bg, algorithm="leaf")
    table, _, _ = tree_shapley(tm, Xe, bg, algorithm="table")
    assert np.allclose(walk, leaf, rtol=0, atol=1e-12)
    assert np.array_equal(leaf, table)
    assert np.array_equal(leaf.reshape(vals.shape), vals)
    # efficiency
    total = tree.base_values + tree.values.sum(axis=1)
    assert np.allclose(total, tree.predictions, rtol=0, atol=1e-9)
    assert np.isnan(Xe).any() or not case_id.startswith(("hgb", "xgb", "lgb"))


def test_groups_are_players_not_sums():
    model, X = fitted("rf_reg")
    Xe, bg = X[:5], X[50:80]
    groups = {"g": ["x0", "x1"], "h": ["x2", "x4"]}
    tree = shapkit.explain(model, Xe, background=bg, method="tree", groups=groups)
    exact = shapkit.explain(model, Xe, background=bg, method="exact", groups=groups)
    assert tree.values.shape == (5, 3)
    assert np.allclose(tree.values, exact.values, atol=1e-9)
    tm = read_tree_model(model)
    walk, _, _ = tree_shapley(tm, Xe, bg, [0, 0, 1, 2, 1], 3, algorithm="walk")
    assert np.allclose(walk[:, :, 0], tree.values, atol=1e-12)
    per_column = shapkit.explain(model, Xe, background=bg, method="tree")
    summed = per_column.values[:, [0, 1]].sum(1)
    assert not np.allclose(summed, tree.values[:, 0], atol=1e-6)  # interactions differ


def test_deeper_forest_more_features():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 8))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = np.nan_to_num(X[:, 0] * X[:, 1]) + np.nan_to_num(X[:, 2]) - np.sin(np.nan_to_num(X[:, 7]))
    model = RandomForestRegressor(20, max_depth=12, random_state=0).fit(X, y)
    Xe, bg = X[:4], X[100:112]
    tree = shapkit.explain(model, Xe, background=bg, method="tree")
    exact = shapkit.explain(model, Xe, background=bg, method="exact")
    assert np.allclose(tree.values, exact.values, atol=1e-9)


def test_rows_are_independent_of_chunking():
    model, X = fitted("lgb_multi")
    tm = read_tree_model(model)
    bg = X[:60]
    values, base, pred = tree_shapley(tm, X[:120], bg)
    one, base1, pred1 = tree_shapley(tm, X[7:8], bg)
    assert np.array_equal(values[7:8], one)
    assert np.array_equal(pred[7:8], pred1)


def test_auto_choices():
    model, X = fitted("rf_clf")
    assert shapkit.explain(model, X[:2], background=X[:10]).method == "tree"
    gb, X = fitted("gb_bin")
    assert shapkit.explain(gb, X[:2], background=X[:10], output="decision").method == "tree"
    # probabilities of a boosted model are not additive: auto goes model-agnostic
    assert shapkit.explain(gb, X[:2], background=X[:10]).method == "exact"
    xg, X = fitted("xgb_bin")
    assert shapkit.explain(xg, X[:2], background=X[:10], output="decision").method == "tree"
    assert shapkit.explain(xg, X[:2], background=X[:10], output="margin").method == "tree"
    lin = LinearRegression().fit(X[:, :2][~np.isnan(X[:, :2]).any(1)], np.arange(
        (~np.isnan(X[:, :2]).any(1)).sum()))  # fmt: skip
    Xl = np.nan_to_num(X[:3, :2])
    assert shapkit.explain(lin, Xl, background=Xl).method == "linear"


def test_method_tree_says_why_not():
    gb, X = fitted("gb_bin")
    with pytest.raises(TreeNotSupportedError, match="output='decision'"):
        shapkit.Explainer(gb, X[:10], method="tree")
    rf, X = fitted("rf_clf")
    with pytest.raises(TreeNotSupportedError, match="probability"):
        shapkit.Explainer(rf, X[:10], method="tree", output="log_odds")
    hp, X = fitted("hgb_poisson")
    with pytest.raises(TreeNotSupportedError, match="output='margin'"):
        shapkit.Explainer(hp, X[:10], method="tree")
    with pytest.raises(TreeNotSupportedError, match="not a tree model"):
        shapkit.Explainer(lambda Z: Z[:, 0], X[:10], method="tree")
    Xc = np.nan_to_num(X)
    lin = LinearRegression().fit(Xc, Xc[:, 0])
    with pytest.raises(TreeNotSupportedError, match="LinearRegression"):
        shapkit.Explainer(lin, Xc[:10], method="tree")


def test_booster_margin_with_every_method():
    xg, X = fitted("xgb_multi")
    booster = xg.get_booster()
    Xe, bg = X[:3], X[30:45]
    tree = shapkit.explain(booster, Xe, background=bg, method="tree", output="margin")
    exact = shapkit.explain(booster, Xe, background=bg, method="exact", output="margin")
    assert tree.values.shape == (3, 5, 3)
    assert np.allclose(tree.values, exact.values, atol=2e-5)


def test_pipeline_maps_values_to_original_columns():
    model, X = fitted("hgb_reg")
    frame = pd.DataFrame(X, columns=list("abcde"))
    frame["s"] = np.array(["lo", "mid", "hi"])[np.arange(len(frame)) % 3]
    y = np.nan_to_num(X[:, 0]) + 2.0 * (frame["s"] == "hi")
    pipe = make_pipeline(
        OrdinalEncoder(encoded_missing_value=np.nan), HistGradientBoostingRegressor(max_iter=20)
    ).fit(frame, y)
    Xe, bg = frame.iloc[:5], frame.iloc[40:60]
    tree = shapkit.explain(pipe, Xe, background=bg)
    exact = shapkit.explain(pipe, Xe, background=bg, method="exact")
    assert tree.method == "tree"
    assert tree.feature_names == list(frame.columns)
    assert np.allclose(tree.values, exact.values, atol=1e-9)
    imputed = make_pipeline(SimpleImputer(), StandardScaler(),
                            GradientBoostingClassifier(n_estimators=10)).fit(X, y > 1)  # fmt: skip
    tree = shapkit.explain(imputed, X[:4], background=X[40:55], output="decision")
    exact = shapkit.explain(imputed, X[:4], background=X[40:55], output="decision",
                            method="exact")  # fmt: skip
    assert tree.method == "tree" and np.allclose(tree.values, exact.values, atol=1e-9)
    bad = make_pipeline(PolynomialFeatures(), RandomForestRegressor(3)).fit(np.nan_to_num(X), y)
    assert shapkit.explain(bad, np.nan_to_num(X[:2]), background=np.nan_to_num(X[:4])
                           ).method == "exact"  # fmt: skip
    with pytest.raises(TreeNotSupportedError, match="not a known column map"):
        shapkit.Explainer(bad, np.nan_to_num(X[:4]), method="tree")


def test_dataframe_columns_checked():
    model, X = fitted("rf_reg")
    frame = pd.DataFrame(X, columns=list("abcde"))
    model = RandomForestRegressor(5, random_state=0).fit(frame, np.nan_to_num(X[:, 0]))
    explainer = shapkit.Explainer(model, frame.iloc[:10], method="tree")
    assert explainer(frame.iloc[:2]).values.shape == (2, 5)
    with pytest.raises(ValueError, match="differ"):
        shapkit.explain(model, frame.iloc[:2, ::-1], background=frame.iloc[:10, ::-1],
                        method="tree")  # fmt: skip


def test_matches_shap_reference():
    shap = pytest.importorskip("shap")
    model, X = fitted("xgb_reg", nan=False)
    Xe, bg = X[:10], X[100:150]
    ours = shapkit.explain(model, Xe, background=bg, method="tree")
    ref = shap.TreeExplainer(model, bg, feature_perturbation="interventional")
    theirs = ref.shap_values(Xe, check_additivity=False)
    scale = np.abs(theirs).max()
    assert np.abs(ours.values - theirs).max() <= 1e-5 * max(1.0, scale)


def test_single_leaf_and_constant_trees():
    X = np.random.default_rng(0).normal(size=(30, 3))
    clf = RandomForestClassifier(3, max_depth=1, random_state=0).fit(X, np.zeros(30, int) + (
        X[:, 0] > 5))  # one class: every tree is a single leaf  # fmt: skip
    expl = shapkit.explain(clf, X[:2], background=X[:5], method="tree")
    assert np.all(expl.values == 0) and np.allclose(expl.predictions, 1.0)
