"""Path-dependent TreeSHAP: equals brute-force enumeration of the cover-weighted game, and
shap's TreeExplainer(model) where shap reads the same trees."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from test_trees import CASES, fitted, xgb

from shapkit._kernels.treeshap import LAST_NUMERIC, categorical_left, numeric_left
from shapkit.closed_form.tree_path import tree_path_shapley
from shapkit.trees import read_tree_model

warnings.filterwarnings("ignore", message=".*feature names.*")


def conditional_expectation(ens, x: np.ndarray, members: np.ndarray) -> np.ndarray:
    """v(S) of the path-dependent game, by recursion over every tree (``members[f]``:
    column f's player is in S)."""
    k = ens.values.shape[1]
    total = np.array(ens.base_offset, dtype=float)

    def walk(node: int) -> np.ndarray:
        f = ens.feature[node]
        if f < 0:
            return ens.values[node]
        left, right = ens.left[node], ens.right[node]
        if members[f]:
            kind = ens.decision[node]
            if kind <= LAST_NUMERIC:
                go = numeric_left(kind, x[f], ens.threshold[node], ens.default_left[node])
            else:
                go = categorical_left(kind, node, x[f], ens.default_left[node], ens.cat_left,
                                      ens.cat_known, ens.cat_nwords, ens.cat_words)  # fmt: skip
            return walk(left if go else right)
        c = ens.cover[node]
        return (ens.cover[left] * walk(left) + ens.cover[right] * walk(right)) / c

    for t, root in enumerate(ens.roots):
        out = walk(root)
        c = ens.tree_output[t]
        if c < 0:
            total += out
        else:
            total[c] += out[c]
    return total.reshape(k)


def brute_force(ens, x: np.ndarray, column_player: np.ndarray, n_players: int) -> np.ndarray:
    values = {}
    for size in range(n_players + 1):
        for S in itertools.combinations(range(n_players), size):
            members = np.isin(column_player, S)
            values[S] = conditional_expectation(ens, x, members)
    phi = np.zeros((n_players, ens.values.shape[1]))
    for j in range(n_players):
        others = [p for p in range(n_players) if p != j]
        for size in range(n_players):
            w = math.factorial(size) * math.factorial(n_players - size - 1)
            w /= math.factorial(n_players)
            for S in itertools.combinations(others, size):
                phi[j] += w * (values[tuple(sorted(S + (j,)))] - values[S])
    return phi


@pytest.mark.parametrize("case_id", [c[0] for c in CASES])
def test_equals_brute_force_enumeration(case_id):
    model, X = fitted(case_id)
    tm = read_tree_model(model)
    ens = tm.ensemble
    x = tm.features(X[:3])
    values, base, pred = tree_path_shapley(tm, X[:3])
    path, _, _ = tree_path_shapley(tm, X[:3], algorithm="path")
    d = ens.n_features
    for i in range(2):
        expected = brute_force(ens, x[i], np.arange(d), d)
        assert np.allclose(values[i], expected, rtol=0, atol=1e-9)
        assert np.allclose(path[i], expected, rtol=0, atol=1e-9)
        assert np.allclose(base[i], conditional_expectation(ens, x[i], np.zeros(d, bool)),
                           rtol=0, atol=1e-9)  # fmt: skip
    # efficiency: the trees' own sum (XGBoost's float32 sums differ by ~1e-7)
    atol = 1e-5 if isinstance(model, xgb.XGBModel) else 1e-9
    assert np.allclose(base + values.sum(1), pred, rtol=0, atol=atol)


def test_groups_are_players_of_the_game():
    model, X = fitted("gb_reg")
    tm = read_tree_model(model)
    groups = np.array([0, 0, 1, 2, 1])
    expected = brute_force(tm.ensemble, tm.features(X[:1])[0], groups, 3)
    for algorithm in ("table", "path"):
        values, _, _ = tree_path_shapley(tm, X[:2], groups, 3, algorithm=algorithm)
        assert np.allclose(values[0], expected, rtol=0, atol=1e-9)


def test_deep_leaves_take_the_path_algorithm_and_chunks_do_not_matter():
    from sklearn.tree import DecisionTreeRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 16))
    model = DecisionTreeRegressor(random_state=0).fit(X, X[:, :3].sum(1) + rng.normal(size=3000))
    tm = read_tree_model(model)
    with pytest.raises(ValueError, match="at most 12 distinct players"):
        tree_path_shapley(tm, X[:2], algorithm="table")
    auto, base, pred = tree_path_shapley(tm, X[:40])  # the path algorithm
    assert np.allclose(base + auto.sum(1), pred, rtol=0, atol=1e-9)
    shallow = read_tree_model(DecisionTreeRegressor(max_depth=8, random_state=0).fit(X, X[:, 0]))
    whole, _, _ = tree_path_shapley(shallow, X[:300])
    for i in (0, 171):
        one, _, _ = tree_path_shapley(shallow, X[i : i + 1])
        assert np.array_equal(one, whole[i : i + 1])
    path, _, _ = tree_path_shapley(shallow, X[:300], algorithm="path")
    assert np.allclose(path, whole, rtol=0, atol=1e-12)


SHAP_CASES = ["dt_reg", "rf_reg", "rf_clf", "et_reg", "gb_reg", "gb_bin", "hgb_reg",
              "xgb_reg", "xgb_bin", "xgb_multi", "lgb_reg", "lgb_bin", "lgb_multi"]  # fmt: skip


@pytest.mark.parametrize("case_id", SHAP_CASES)
def test_equals_shap_path_dependent_values(case_id):
    shap = pytest.importorskip("shap")
    model, X = fitted(case_id)
    tm = read_tree_model(model)
    values, base, _ = tree_path_shapley(tm, X[:20])
    explainer = shap.TreeExplainer(model)  # feature_perturbation="tree_path_dependent"
    theirs = np.asarray(explainer.shap_values(X[:20], check_additivity=False))
    if theirs.ndim == 3 and theirs.shape[0] != 20:  # (k, n, d), older layouts
        theirs = np.moveaxis(theirs, 0, -1)
    theirs = theirs.reshape(values.shape)
    assert np.allclose(values, theirs, rtol=0, atol=1e-6)
    assert np.allclose(base[0], np.ravel(explainer.expected_value), rtol=0, atol=1e-6)


# ------------------------------------------------------------------ through the explainer


def test_explain_without_background_is_path_dependent_for_trees():
    import shapkit

    model, X = fitted("xgb_reg")
    tm = read_tree_model(model)
    expl = shapkit.explain(model, X[:30])
    values, base, pred = tree_path_shapley(tm, X[:30])
    assert expl.method == "tree" and expl.value_function == "tree_path_dependent"
    assert expl.background is None and expl.settings["background_size"] is None
    assert np.array_equal(expl.values, values[:, :, 0])
    assert np.array_equal(expl.base_values, base[:, 0])
    # the same through Explainer(background=None), with worker processes
    parallel = shapkit.Explainer(model, None, method="tree", n_jobs=2)(X[:30])
    assert np.array_equal(parallel.values, expl.values)
    # a background makes it interventional again
    with_bg = shapkit.explain(model, X[:3], background=X[40:60])
    assert with_bg.value_function == "interventional"
    assert not np.allclose(with_bg.values, expl.values[:3])


def test_models_without_a_tree_path_still_need_or_sample_a_background():
    from sklearn.linear_model import LinearRegression

    import shapkit

    model, X = fitted("gb_bin")  # probabilities of a boosted model: no tree path
    expl = shapkit.explain(model, X[:4])
    assert expl.method == "exact" and expl.value_function == "interventional"
    assert expl.settings["background_size"] == 4  # sampled from X (at most 100 rows)
    lin = LinearRegression().fit(np.nan_to_num(X), np.arange(len(X)))
    with pytest.raises(shapkit.BackgroundRequiredError, match="needs background rows"):
        shapkit.Explainer(lin, None)
    with pytest.raises(shapkit.trees.TreeNotSupportedError, match="output='decision'"):
        shapkit.Explainer(model, None, method="tree")
    with pytest.raises(shapkit.BackgroundRequiredError):
        shapkit.Explainer(fitted("rf_reg")[0], None, method="kernel")


def test_value_function_survives_saving_and_shows_in_reports(tmp_path):
    import shapkit

    model, X = fitted("rf_reg")
    expl = shapkit.explain(model, X[:10])
    expl.save(tmp_path / "e.npz")
    again = shapkit.load_explanation(tmp_path / "e.npz")
    assert again.value_function == "tree_path_dependent" and again.background is None
    assert np.array_equal(again.values, expl.values)
    assert shapkit.summary(expl).attrs["value_function"] == "tree_path_dependent"
    page = shapkit.report(expl, tmp_path / "r.html").read_text()
    assert "tree_path_dependent" in page and "node covers" in page
    interventional = shapkit.explain(model, X[:10], background=X[20:40])
    assert interventional.value_function == "interventional"
    other = shapkit.report(interventional, tmp_path / "i.html").read_text()
    assert "tree_path_dependent" not in other


def test_cli_path_dependent(tmp_path):
    import joblib
    import pandas as pd

    from shapkit.cli import main

    model, X = fitted("gb_reg", nan=False)
    joblib.dump(model, tmp_path / "m.joblib")
    frame = pd.DataFrame(X[:12], columns=[f"x{j}" for j in range(X.shape[1])])
    frame.to_csv(tmp_path / "d.csv", index=False)
    args = ["explain", "--model", str(tmp_path / "m.joblib"), "--data", str(tmp_path / "d.csv")]
    assert main([*args, "--path-dependent", "--out", str(tmp_path / "v.csv")]) == 0
    written = pd.read_csv(tmp_path / "v.csv")
    values, _, _ = tree_path_shapley(read_tree_model(model), X[:12])
    got = written[[f"shap_value:x{j}" for j in range(X.shape[1])]].to_numpy()
    assert np.allclose(got, values[:, :, 0], rtol=0, atol=1e-12)
    assert main([*args, "--path-dependent", "--background", str(tmp_path / "d.csv"),
                 "--out", str(tmp_path / "w.csv")]) == 2  # fmt: skip
