"""Games of tree models whose output is a link of their trees (#20 item 5): evaluated on
the compiled trees, equal to the same games through the model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

import shapkit
from shapkit._kernels.exact import enumerate_masks
from shapkit.games import MarginalGame
from shapkit.models import as_model
from shapkit.tabular import RowMasker
from shapkit.trees import game as tree_game
from shapkit.trees.game import LinkedTreeGame, background_directions, node_players
from shapkit.trees.links import read_linked_trees


def _data(d: int = 6, classes: int = 2, n: int = 400, nan: bool = False):
    X, y = make_classification(n_samples=n, n_features=d, n_informative=4, n_redundant=0,
                               n_classes=classes, random_state=1)  # fmt: skip
    if nan:
        X[::7, 0] = np.nan
    return X, y


def _model(name: str, X, y):
    if name == "gb":
        return GradientBoostingClassifier(n_estimators=40, max_depth=3, random_state=0).fit(X, y)
    if name == "hgb":
        return HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(X, y)
    if name == "xgb":
        xgb = pytest.importorskip("xgboost")
        return xgb.XGBClassifier(n_estimators=40, max_depth=4, random_state=0).fit(X, y)
    lgb = pytest.importorskip("lightgbm")
    return lgb.LGBMClassifier(n_estimators=40, num_leaves=8, verbose=-1, random_state=0).fit(X, y)


def _both_games(model, X, background, row: int, column_player, output: str = "auto"):
    adapter = as_model(model, output)
    linked = read_linked_trees(model, adapter, output, background)
    assert linked is not None
    tm = linked.model
    bg = tm.features(background)
    n_players = int(column_player.max()) + 1
    ours = LinkedTreeGame(linked, tm.features(X)[row], bg, background_directions(linked, bg),
                          node_players(tm, column_player), n_players)  # fmt: skip
    masker = RowMasker(X, background, column_player)
    return ours, MarginalGame(adapter, masker, row, column_player), n_players


CASES = [("gb", 2, False), ("gb", 3, False), ("hgb", 2, True), ("hgb", 3, False),
         ("xgb", 2, True), ("xgb", 3, False), ("lgbm", 2, True), ("lgbm", 3, False)]  # fmt: skip


@pytest.mark.parametrize(("name", "classes", "nan"), CASES)
def test_game_equals_the_game_through_the_model(name, classes, nan):
    X, y = _data(classes=classes, nan=nan)
    model = _model(name, X, y)
    players = np.arange(X.shape[1])
    ours, reference, d = _both_games(model, X[200:203], X[:40], 1, players)
    tol = 2e-6 if name == "xgb" else 1e-12  # XGBoost's probabilities are float32
    every = enumerate_masks(d, 0, 2**d)  # many coalitions: each pair's table
    np.testing.assert_allclose(ours(every), reference(every), rtol=0, atol=tol)
    few = np.random.default_rng(0).random((5, d)) < 0.5  # few: each coalition sums entries
    np.testing.assert_allclose(ours(few), reference(few), rtol=0, atol=tol)


def test_directions_computed_per_pair_give_the_same_values(monkeypatch):
    X, y = _data(classes=3)
    model = _model("gb", X, y)
    ours, reference, d = _both_games(model, X[200:202], X[:30], 0, np.arange(X.shape[1]))
    masks = enumerate_masks(d, 0, 2**d)
    kept = ours(masks)
    assert ours.background_dirs.shape[0] == 30
    monkeypatch.setattr(tree_game, "DIRECTION_BYTES", 0)
    linked, bg = ours.linked, ours.background
    per_pair = background_directions(linked, bg)
    assert per_pair.shape[0] == 0
    again = LinkedTreeGame(linked, linked.model.features(X[200:202])[0], bg, per_pair,
                           ours.node_player, d)  # fmt: skip
    np.testing.assert_array_equal(again(masks), kept)
    np.testing.assert_allclose(kept, reference(masks), rtol=0, atol=1e-12)


def test_groups_are_players_of_the_compiled_game():
    X, y = _data(d=7)
    model = _model("gb", X, y)
    players = np.array([0, 0, 1, 2, 2, 2, 3])
    ours, reference, d = _both_games(model, X[200:202], X[:30], 1, players)
    masks = enumerate_masks(d, 0, 2**d)
    np.testing.assert_allclose(ours(masks), reference(masks), rtol=0, atol=1e-12)


def test_explainer_runs_the_estimators_on_the_compiled_trees():
    X, y = _data(classes=3)
    model = _model("gb", X, y)
    rows, background = X[200:204], X[:40]
    exact = shapkit.explain(model, rows, background, seed=0)
    assert exact.method == "exact"
    assert exact.settings["evaluated_on"] == "compiled trees: the softmax of the trees' margins"
    through = shapkit.explain(model.predict_proba, rows, background, seed=0)
    assert through.settings["evaluated_on"] == "model calls"
    np.testing.assert_allclose(exact.values, through.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(exact.predictions, model.predict_proba(rows), rtol=0, atol=1e-12)
    np.testing.assert_allclose(exact.base_values + exact.values.sum(1), exact.predictions,
                               atol=1e-12)  # fmt: skip
    # a sampling estimator with the same seed asks for the same coalitions
    kernel = shapkit.explain(model, rows, background, method="kernel", budget=40, seed=3)
    again = shapkit.explain(model.predict_proba, rows, background, method="kernel", budget=40,
                            seed=3)  # fmt: skip
    np.testing.assert_allclose(kernel.values, again.values, rtol=0, atol=1e-10)
    np.testing.assert_allclose(kernel.std_errors, again.std_errors, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(kernel.n_evals, again.n_evals)


def test_log_odds_outputs_of_boosting_and_forests():
    X, y = _data()
    for model in (
        _model("gb", X, y),
        RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X, y),
    ):
        rows, background = X[200:203], X[:30]
        ours = shapkit.explain(model, rows, background, output="log_odds", seed=0)
        assert ours.settings["evaluated_on"].endswith("then log-odds")
        reference = shapkit.explain(as_model(model, "log_odds").predict, rows, background, seed=0)
        np.testing.assert_allclose(ours.values, reference.values, rtol=0, atol=1e-10)


def test_exp_link_of_a_poisson_regressor():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1] * X[:, 2]))
    model = HistGradientBoostingRegressor(loss="poisson", max_iter=20, random_state=0).fit(X, y)
    ours = shapkit.explain(model, X[:3], X[100:140], seed=0)
    assert ours.settings["evaluated_on"] == "compiled trees: the exp of the trees' margin"
    reference = shapkit.explain(model.predict, X[:3], X[100:140], seed=0)
    np.testing.assert_allclose(ours.values, reference.values, rtol=0, atol=1e-10)


def test_one_hot_pipeline_players_are_input_columns():
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"city": rng.choice(["a", "b", "c", "d"], 300),
                      "x1": rng.normal(size=300), "x2": rng.normal(size=300)})  # fmt: skip
    y = ((X["city"].isin(["a", "c"])) ^ (X["x1"] > 0)).astype(int)
    pipe = Pipeline([
        ("enc", ColumnTransformer([("oh", OneHotEncoder(), ["city"])], remainder="passthrough")),
        ("gb", GradientBoostingClassifier(n_estimators=15, random_state=0)),
    ]).fit(X, y)  # fmt: skip
    ours = shapkit.explain(pipe, X.iloc[:4], X.iloc[100:140], seed=0)
    assert ours.settings["evaluated_on"].startswith("compiled trees")
    assert ours.values.shape == (4, 3, 2)
    reference = shapkit.explain(pipe.predict_proba, X.iloc[:4], X.iloc[100:140], seed=0)
    np.testing.assert_allclose(ours.values, reference.values, rtol=0, atol=1e-12)


def test_output_the_trees_do_not_reproduce_is_computed_through_the_model():
    X, y = _data()
    model = _model("gb", X, y)

    class Shifted:  # an adapter whose output is not a link of the trees
        output_names = [0, 1]

        def predict(self, data):
            return model.predict_proba(data) * 0.9

    assert read_linked_trees(model, Shifted(), "auto", X[:30]) is None
    assert read_linked_trees(model.predict_proba, as_model(model), "auto", X[:30]) is None


def test_more_than_62_players_call_the_model():
    X, y = make_classification(n_samples=300, n_features=64, random_state=0)
    model = GradientBoostingClassifier(n_estimators=5, max_depth=2, random_state=0).fit(X, y)
    wide = shapkit.explain(model, X[:1], X[:5], method="kernel", budget=200, seed=0)
    assert wide.settings["evaluated_on"] == "model calls"
    groups = {f"g{g}": list(range(g * 8, g * 8 + 8)) for g in range(8)}
    names = [f"x{j}" for j in range(64)]
    frame = pd.DataFrame(X, columns=names)
    named = {k: [names[j] for j in v] for k, v in groups.items()}
    grouped = shapkit.explain(model, frame.iloc[:1], frame.iloc[:5], seed=0, groups=named)
    assert grouped.settings["evaluated_on"].startswith("compiled trees")


def test_entries_kept_between_calls_or_walked_again(monkeypatch):
    X, y = _data()
    model = _model("hgb", X, y)
    ours, reference, d = _both_games(model, X[200:202], X[:30], 0, np.arange(X.shape[1]))
    rng = np.random.default_rng(1)
    first, second = rng.random((6, d)) < 0.5, rng.random((9, d)) < 0.5
    a = ours(first)
    assert ours._entries is not None  # kept: the second call walks no tree
    np.testing.assert_allclose(ours(second), reference(second), rtol=0, atol=1e-12)
    monkeypatch.setattr(tree_game, "ENTRY_BYTES", 0)
    fresh, _, _ = _both_games(model, X[200:202], X[:30], 0, np.arange(X.shape[1]))
    np.testing.assert_array_equal(fresh(first), a)
    assert fresh._entries is None
    np.testing.assert_allclose(fresh(second), reference(second), rtol=0, atol=1e-12)


def test_rows_the_trees_do_not_reproduce_raise_in_any_chunk():
    # a Dask or Spark partition reaches explain_rows with a job made from zero rows, so
    # the chunk itself is checked
    from dataclasses import replace

    from shapkit.rows import explain_rows
    from shapkit.trees import TreeNotSupportedError

    X, y = _data()
    model = _model("gb", X, y)
    explainer = shapkit.Explainer(model, X[:30], seed=0)
    job = explainer.row_job(X[:0])
    assert job.trees is not None
    np.testing.assert_allclose(explain_rows(job, X[200:202]).values,
                               explainer(X[200:202]).values, atol=0)  # fmt: skip

    class Shifted:  # the model's output no longer the trees' link
        output_names = [0, 1]

        def predict(self, data):
            return model.predict_proba(data) * 0.9

    with pytest.raises(TreeNotSupportedError, match="do not reproduce the model's own output"):
        explain_rows(replace(job, model=Shifted()), X[200:202])
