"""Bad inputs raise the documented exception type with a message that names the problem."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

import shapkit
from shapkit import (
    GameOutputError,
    ModelCallError,
    ModelOutputError,
    TooManyPlayersError,
)


def linear(Z):
    return np.asarray(Z, dtype=float).sum(axis=1)


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.normal(size=(12, 3)), columns=["a", "b", "c"])


@pytest.fixture
def array():
    return np.random.default_rng(1).normal(size=(12, 3))


# --------------------------------------------------------------------------- shapes and columns


def test_ndarray_background_with_wrong_number_of_columns(array):
    with pytest.raises(ValueError, match=r"background has 4 columns but X has 3"):
        shapkit.explain(linear, array, background=np.zeros((5, 4)))
    explainer = shapkit.Explainer(linear, np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"background has 2 columns but X has 3"):
        explainer(array)


def test_ndarray_background_for_dataframe_with_wrong_number_of_columns(frame):
    with pytest.raises(ValueError, match=r"background has 2 columns but X has 3"):
        shapkit.explain(linear, frame, background=np.zeros((5, 2)))


def test_dataframe_background_missing_column(frame):
    with pytest.raises(ValueError, match=r"missing \['c'\]"):
        shapkit.explain(linear, frame, background=frame[["a", "b"]])


def test_dataframe_background_extra_column(frame):
    background = frame.assign(zz=1.0)
    with pytest.raises(ValueError, match=r"extra \['zz'\]") as info:
        shapkit.explain(linear, frame, background=background)
    assert "missing" not in str(info.value)


def test_dataframe_background_missing_and_extra(frame):
    background = frame.rename(columns={"b": "B"})
    with pytest.raises(ValueError, match=r"missing \['b'\]; extra \['B'\]"):
        shapkit.explain(linear, frame, background=background)


def test_dataframe_background_dtype_mismatch(frame):
    X = frame.assign(n=np.arange(12, dtype=np.int64))
    background = X.astype({"n": np.float64})
    with pytest.raises(ValueError, match=re.escape("'n': X int64 vs background float64")):
        shapkit.explain(linear, X, background=background)
    X = frame.assign(s=pd.Categorical(["u", "v"] * 6))
    background = X.assign(s=X["s"].astype(str))
    with pytest.raises(ValueError, match=r"'s': X category vs background"):
        shapkit.explain(linear, X, background=background)


def test_ndarray_background_dtype_does_not_fit(array):
    X = (array * 10).astype(np.int64)
    with pytest.raises(
        ValueError, match=r"background's dtype float64 does not fit X's dtype int64"
    ):
        shapkit.explain(linear, X, background=array)


def test_empty_x_and_empty_background(array, frame):
    with pytest.raises(ValueError, match=r"X is empty \(0 rows\)"):
        shapkit.explain(linear, array[:0], background=array)
    with pytest.raises(ValueError, match=r"X is empty"):
        shapkit.Explainer(linear, frame)(frame.iloc[:0])
    with pytest.raises(ValueError, match=r"background is empty \(0 rows\)"):
        shapkit.Explainer(linear, array[:0])
    with pytest.raises(ValueError, match=r"background is empty"):
        shapkit.explain(linear, frame, background=frame.iloc[:0])
    with pytest.raises(ValueError, match=r"X has no columns"):
        shapkit.explain(linear, np.zeros((3, 0)), background=np.zeros((3, 0)))


def test_background_none_for_explainer(array):
    with pytest.raises(ValueError, match=r"Explainer needs background rows"):
        shapkit.Explainer(linear, None)


def test_one_dimensional_x(array):
    with pytest.raises(ValueError, match=r"X is 1-D with shape \(3,\).*reshape\(1, -1\)"):
        shapkit.explain(linear, array[0], background=array)
    with pytest.raises(ValueError, match=r"must be 2-D"):
        shapkit.explain(linear, array[None], background=array)


def test_series_x(frame):
    with pytest.raises(TypeError, match=r"X is a pandas Series.*iloc\[\[i\]\]"):
        shapkit.explain(linear, frame.iloc[0], background=frame)
    with pytest.raises(TypeError, match=r"background is a pandas Series"):
        shapkit.Explainer(linear, frame["a"])


def test_duplicate_dataframe_column_names(frame):
    X = frame.set_axis(["a", "b", "a"], axis=1)
    with pytest.raises(ValueError, match=r"duplicated column names \['a'\]"):
        shapkit.explain(linear, X, background=X)


def test_feature_names_wrong_length_or_duplicated(array):
    with pytest.raises(ValueError, match=r"feature_names has 2 names but X has 3 columns"):
        shapkit.explain(linear, array, background=array, feature_names=["p", "q"])
    with pytest.raises(ValueError, match=r"feature_names contains duplicates"):
        shapkit.explain(linear, array, background=array, feature_names=["p", "q", "p"])
    with pytest.raises(TypeError, match=r"feature_names='pqr' is one string; pass a list of 3"):
        shapkit.explain(linear, array, background=array, feature_names="pqr")


# --------------------------------------------------------------------------- model outputs


def test_non_finite_model_outputs(array):
    def model(Z):
        out = Z.sum(axis=1)
        out[Z[:, 0] > 0.5] = np.nan
        return out

    with pytest.raises(ModelOutputError, match=r"non-finite values \(NaN or inf\)"):
        shapkit.explain(model, array[:2], background=array)
    with pytest.raises(ModelOutputError, match=r"non-finite"):
        shapkit.explain(lambda Z: np.full(len(Z), np.inf), array[:2], background=array)
    assert issubclass(ModelOutputError, ValueError)


def test_model_returning_wrong_number_of_rows(array):
    with pytest.raises(ModelOutputError, match=r"returned shape \(1,\) for \d+ input rows"):
        shapkit.explain(lambda Z: np.zeros(1), array[:2], background=array)
    with pytest.raises(ModelOutputError, match=r"returned shape \(\d+, 2, 2\)"):
        shapkit.explain(lambda Z: np.zeros((len(Z), 2, 2)), array[:2], background=array)


def test_model_returning_non_numeric(array):
    with pytest.raises(ModelOutputError, match=r"not numeric"):
        shapkit.explain(lambda Z: np.array(["x"] * len(Z)), array[:2], background=array)


def test_model_changing_output_width_between_calls(array):
    calls = []

    def model(Z):
        calls.append(len(Z))
        return np.zeros((len(Z), 1 if len(calls) == 1 else 2))

    with pytest.raises(ModelOutputError, match=r"returned 2 outputs per row after returning 1"):
        shapkit.explain(model, array[:1], background=array, max_rows=10)


def test_game_wrong_shape_and_non_finite():
    with pytest.raises(GameOutputError, match=r"returned shape \(3,\) for masks of shape"):
        shapkit.shapley_values(lambda masks: np.zeros(3), 2)
    with pytest.raises(GameOutputError, match=r"returned shape \(4, 2, 1\)"):
        shapkit.shapley_values(lambda masks: np.zeros((len(masks), 2, 1)), 2)
    with pytest.raises(GameOutputError, match=r"NaN or inf"):
        shapkit.shapley_values(lambda masks: np.where(masks[:, 0], np.nan, 1.0), 2)
    with pytest.raises(GameOutputError, match=r"not numeric"):
        shapkit.shapley_values(lambda masks: ["a"] * len(masks), 2)
    with pytest.raises(TypeError, match=r"game must be callable"):
        shapkit.shapley_values(np.zeros(4), 2)


# --------------------------------------------------------------------------- model calls


def test_string_column_to_numeric_model():
    rng = np.random.default_rng(2)
    colour = rng.choice(["red", "blue"], 20)
    encoded = pd.DataFrame({"colour": (colour == "red").astype(float), "x": rng.normal(size=20)})
    model = LinearRegression().fit(encoded, encoded["colour"] * 2 + encoded["x"])
    raw = encoded.assign(colour=pd.Series(colour, dtype="string"))
    with pytest.raises(ModelCallError, match=r"The model raised ValueError") as info:
        shapkit.explain(model, raw.iloc[:2], background=raw.iloc[2:10])
    message = str(info.value)
    assert "colour: string" in message and "x: float64" in message
    assert "Pipeline" in message  # says what to do
    cause = info.value.__cause__
    assert isinstance(cause, ValueError) and not isinstance(cause, ModelCallError)
    assert "could not convert" in str(cause) or "string" in str(cause).lower()
    assert issubclass(ModelCallError, RuntimeError)


def test_callable_raising_is_chained():
    class Boom(Exception):
        pass

    def model(Z):
        raise Boom("kaput")

    with pytest.raises(ModelCallError, match=r"Boom: kaput[\s\S]*of dtype float64") as info:
        shapkit.explain(model, np.ones((1, 2)), background=np.zeros((3, 2)))
    assert isinstance(info.value.__cause__, Boom)


def test_torch_module_given_strings():
    torch = pytest.importorskip("torch")
    X = pd.DataFrame({"s": pd.Series(["a", "b", "c"], dtype="string"), "x": [1.0, 2.0, 3.0]})
    with pytest.raises(ModelCallError, match=r"columns \['s'\] are not numeric") as info:
        shapkit.explain(torch.nn.Linear(2, 1), X.iloc[:1], background=X)
    assert isinstance(info.value.__cause__, TypeError)


def test_torch_module_on_nullable_columns_and_with_several_outputs():
    torch = pytest.importorskip("torch")

    class Imputing(torch.nn.Module):  # NaN (a missing cell) counts as -1
        def forward(self, x):
            return torch.nan_to_num(x, nan=-1.0) @ torch.tensor([1.0, 2.0, 4.0])

    module = Imputing()
    X = pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64"),
                      "b": pd.array([0.5, 1.5, None], dtype="Float64"),
                      "c": pd.array([True, None, False], dtype="boolean")})  # fmt: skip
    expl = shapkit.explain(module, X, background=X, seed=0)
    np.testing.assert_array_equal(expl.predictions, [1.0 + 1.0 + 4.0, -1.0 + 3.0 - 4.0, 3.0 - 2.0])

    class Pair(torch.nn.Module):
        def forward(self, x):
            return x[:, 0], x[:, 1]

    class Named(torch.nn.Module):
        def forward(self, x):
            return {"score": x[:, 0]}

    for module, kind in ((Pair(), "tuple"), (Named(), "dict")):
        with pytest.raises(ModelOutputError, match=rf"returned a {kind}, not a tensor.*Return one"):
            shapkit.explain(module, np.ones((1, 3)), background=np.zeros((2, 3)))


def test_multi_target_classifiers_are_refused(array):
    from sklearn.multioutput import MultiOutputClassifier

    y = np.column_stack([array[:, 0] > 0, array[:, 1] > 0]).astype(int)
    model = MultiOutputClassifier(LogisticRegression()).fit(array, y)
    with pytest.raises(
        ModelOutputError, match=r"multi-target classifiers are not supported.*estimators_\[i\]"
    ):
        shapkit.explain(model, array[:2], background=array)


# --------------------------------------------------------------------------- options


def test_unknown_method(array):
    with pytest.raises(ValueError, match=r"Unknown method='sampling'.*\['auto', 'exact'"):
        shapkit.Explainer(linear, array, method="sampling")
    with pytest.raises(ValueError, match=r"Unknown method='Exact'"):
        shapkit.shapley_values(lambda m: m.sum(1), 3, method="Exact")


@pytest.mark.parametrize("method", ["tree", "linear"])
def test_model_methods_for_games_say_they_read_a_fitted_model(method):
    message = (
        rf"^method='{method}' reads a fitted model .*applies to Explainer/explain, not to "
        r"games; use one of \['auto', 'exact', 'kernel', 'permutation', 'proxy'\]\.$"
    )
    with pytest.raises(ValueError, match=message):
        shapkit.shapley_values(lambda m: m.sum(1), 3, method=method)


def test_budget_errors_name_the_method_asked_for():
    for method in ("proxy", "kernel"):
        with pytest.raises(
            ValueError,
            match=rf"^method='{method}' needs at least (d \+ 2 = )?12 game evaluations for d=10 "
            r"players; got budget=5\. Raise the budget\.$",
        ):
            shapkit.shapley_values(lambda m: m.sum(1), 10, method=method, budget=5)


def test_unknown_output(array):
    X, y = array, (array[:, 0] > 0).astype(int)
    regressor = LinearRegression().fit(X, y)
    with pytest.raises(ValueError, match=r"Unknown output='log_odds' for the regressor"):
        shapkit.explain(regressor, X, background=X, output="log_odds")
    classifier = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match=r"Unknown output='proba' for the classifier"):
        shapkit.explain(classifier, X, background=X, output="proba")
    with pytest.raises(ValueError, match=r"output='log_odds' applies to scikit-learn classifiers"):
        shapkit.explain(linear, X, background=X, output="log_odds")
    with pytest.raises(ValueError, match=r"output='decision' applies to scikit-learn classifiers"):
        shapkit.Explainer(classifier.predict_proba, X, output="decision")
    with pytest.raises(ValueError, match=r"^Unknown output='foo'; choose one of \['auto', 'raw'\]"):
        shapkit.explain(linear, X, background=X, output="foo")


def test_outlier_detectors_are_not_regressors(array):
    from sklearn.ensemble import IsolationForest

    detector = IsolationForest(n_estimators=3, random_state=0).fit(array)
    with pytest.raises(
        ValueError,
        match=r"output='proba' for the outlier detector IsolationForest; choose one of "
        r"\['auto', 'raw', 'decision'\] \('auto'/'raw' explain predict, its \+1/-1",
    ):
        shapkit.explain(detector, array[:2], background=array, output="proba")


def test_classifier_without_decision_function(array):
    from sklearn.tree import DecisionTreeClassifier

    X, y = array, (array[:, 0] > 0).astype(int)
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"DecisionTreeClassifier has no decision_function"):
        shapkit.Explainer(tree, X, output="decision")


def test_unfitted_sklearn_model(array):
    with pytest.raises(ValueError, match=r"LinearRegression is not fitted; call \.fit"):
        shapkit.explain(LinearRegression(), array, background=array)
    from sklearn.base import BaseEstimator, RegressorMixin

    class Stateless(RegressorMixin, BaseEstimator):  # fit sets no attribute ending in _
        def fit(self, X, y):
            return self

        def predict(self, X):
            return np.asarray(X)[:, 0]

    with pytest.raises(ValueError, match=r"stateless estimator.*__sklearn_is_fitted__"):
        shapkit.explain(Stateless().fit(array, None), array, background=array)


def test_not_a_model(array):
    with pytest.raises(TypeError, match=r"Cannot explain a int"):
        shapkit.explain(3, array, background=array)


def test_too_many_players_for_exact(monkeypatch):
    assert issubclass(TooManyPlayersError, ValueError)
    with pytest.raises(TooManyPlayersError, match=r"accepts at most 20 players; got d=21"):
        shapkit.shapley_values(lambda m: m.sum(1), 21, method="exact")
    # auto falls back to the kernel estimator below 10 d (the proxy above, for a game
    # timed as expensive), both exact on additive games
    monkeypatch.setattr("shapkit.estimators.auto.seconds_per_evaluation", lambda *args: 1.0)
    for budget, method in ((209, "kernel"), (420, "proxy")):
        result = shapkit.shapley_values(lambda m: m.sum(1), 21, budget=budget, seed=0)
        assert result.method == method
        np.testing.assert_allclose(result.values, 1.0)
    X = np.zeros((2, 21))
    calls = []

    def model(Z):
        calls.append(1)
        return Z.sum(1)

    with pytest.raises(TooManyPlayersError, match=r"got d=21"):
        shapkit.explain(model, X, background=np.ones((3, 21)), method="exact")
    assert not calls  # refused before any model call
    expl = shapkit.Explainer(model, np.ones((3, 21)), method="auto", seed=0)(X, budget=200)
    assert expl.method == "kernel"
    np.testing.assert_allclose(expl.values, -1.0)
    # grouping brings d down to something exact can do
    groups = {"g": [f"x{j}" for j in range(6)]}
    expl = shapkit.explain(model, X, background=np.ones((3, 21)), groups=groups)
    assert expl.values.shape == (2, 16)
    np.testing.assert_allclose(expl.values[:, 0], -6.0)


def test_budget_below_two_to_the_d():
    with pytest.raises(ValueError, match=r"needs 2\^3 = 8 game evaluations but budget=7"):
        shapkit.shapley_values(lambda m: m.sum(1), 3, method="exact", budget=7)
    with pytest.raises(ValueError, match=r"needs at least d \+ 2 = 5 game evaluations"):
        shapkit.shapley_values(lambda m: m.sum(1), 3, method="kernel", budget=4)
    assert shapkit.shapley_values(lambda m: m.sum(1), 3, budget=7, seed=0).method == "kernel"
    X = np.zeros((1, 3))
    with pytest.raises(ValueError, match=r"budget=4"):
        shapkit.explain(linear, X, background=np.ones((2, 3)), method="exact", budget=4)
    # exactly 2^d is enough
    result = shapkit.shapley_values(lambda m: m.sum(1), 3, method="exact", budget=8)
    np.testing.assert_allclose(result.values, 1.0)


@pytest.mark.parametrize("budget", [0, -5, 2.5, 16.0, True, "100"])
def test_bad_budget(budget):
    with pytest.raises(ValueError, match=r"budget must be a positive integer"):
        shapkit.shapley_values(lambda m: m.sum(1), 3, budget=budget)
    explainer = shapkit.Explainer(linear, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"budget must be a positive integer"):
        explainer(np.ones((1, 3)), budget=budget)


@pytest.mark.parametrize("tol", [0, -1.0, float("inf"), float("nan"), "0.1"])
def test_bad_tol(tol):
    with pytest.raises(ValueError, match=r"tol must be a positive number"):
        shapkit.shapley_values(lambda m: m.sum(1), 3, tol=tol)


@pytest.mark.parametrize("value", [0, -1, 1.5])
def test_bad_max_rows_background_size_and_n_players(array, value):
    with pytest.raises(ValueError, match=r"max_rows must be a positive integer"):
        shapkit.Explainer(linear, array, max_rows=value)
    with pytest.raises(ValueError, match=r"background_size must be a positive integer"):
        shapkit.explain(linear, array, background_size=value)
    with pytest.raises(ValueError, match=r"n_players must be a positive integer"):
        shapkit.shapley_values(lambda m: m.sum(1), value)


def test_groups_errors(frame):
    with pytest.raises(ValueError, match=r"group 'g' names column 'zz', which is not a column"):
        shapkit.explain(linear, frame, background=frame, groups={"g": ["a", "zz"]})
    with pytest.raises(ValueError, match=r"column 'b' is in two groups \('g1' and 'g2'\)"):
        shapkit.explain(
            linear, frame, background=frame, groups={"g1": ["a", "b"], "g2": ["b", "c"]}
        )
    with pytest.raises(ValueError, match=r"group 'g' is empty"):
        shapkit.explain(linear, frame, background=frame, groups={"g": []})
    with pytest.raises(ValueError, match=r"group name 'c' is also the name of an ungrouped"):
        shapkit.explain(linear, frame, background=frame, groups={"c": ["a", "b"]})
    with pytest.raises(TypeError, match=r"groups must be a mapping"):
        shapkit.explain(linear, frame, background=frame, groups=[["a", "b"]])


def test_ndarray_background_for_frame_x_must_cast_losslessly():
    X = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]})
    with pytest.raises(ValueError, match=r"changes values when cast.*\['a'\]"):
        shapkit.explain(lambda Z: Z["a"] + Z["b"], X, background=np.array([[1.5, 0.0]]))
    expl = shapkit.explain(lambda Z: Z["a"] + Z["b"], X, background=np.array([[1.0, 0.0]]))
    assert expl.background.dtypes.tolist() == X.dtypes.tolist()
    np.testing.assert_allclose(expl.values, [[0.0, 0.5], [1.0, 1.5]])


# ------------------------------------------------------------------- callee writes, odd models


def test_a_game_cannot_write_into_its_masks():
    def writer(masks):
        masks[:, 0] = True  # would corrupt the coalitions the estimator keeps
        return masks.sum(axis=1)

    with pytest.raises(GameOutputError, match=r"write into its masks.*copy it first"):
        shapkit.shapley_values(writer, 5, method="kernel", budget=20, seed=0)


def test_a_model_that_writes_into_its_input_cannot_change_the_values(frame):
    def clean(Z):
        return np.asarray(Z, dtype=float) @ np.array([1.0, -2.0, 0.5]) + Z.iloc[:, 0] * Z.iloc[:, 1]

    def vandal(Z):
        out = clean(Z)
        Z.iloc[:, :] = 1e6  # scribbles over the rows it was handed
        return out

    for method in ("exact", "kernel"):
        kwargs = dict(background=frame.iloc[6:], method=method, seed=0)
        one = shapkit.explain(clean, frame.iloc[:4], budget=8 if method == "exact" else 6, **kwargs)
        two = shapkit.explain(
            vandal, frame.iloc[:4], budget=8 if method == "exact" else 6, **kwargs
        )
        np.testing.assert_array_equal(one.values, two.values)
        np.testing.assert_array_equal(one.predictions, two.predictions)
    assert frame.abs().max().max() < 1e6  # and never wrote into X or the background


def test_fit_predict_objects_outside_sklearn_work_through_the_callable_adapter(array):
    class Affine:  # no BaseEstimator: scikit-learn's tags fail on it
        def fit(self, X, y):
            self.w = np.array([1.0, 2.0, -1.0])
            return self

        def predict(self, X):
            return np.asarray(X) @ self.w + 3.0

    expl = shapkit.explain(Affine().fit(array, None), array[:3], background=array[3:], seed=0)
    expected = (array[:3] - array[3:].mean(axis=0)) * np.array([1.0, 2.0, -1.0])
    np.testing.assert_allclose(expl.values, expected, atol=1e-12)

    class Classifier:  # sklearn's API without its class tree: probabilities per class
        classes_ = np.array(["no", "yes"])

        def fit(self, X, y):
            return self

        def predict_proba(self, X):
            p = 1.0 / (1.0 + np.exp(-np.asarray(X).sum(axis=1)))
            return np.column_stack([1.0 - p, p])

        def predict(self, X):
            return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]

    expl = shapkit.explain(Classifier(), array[:3], background=array[3:], seed=0)
    assert expl.values.shape == (3, 3, 2)
    np.testing.assert_allclose(expl.values.sum(axis=2), 0.0, atol=1e-12)  # p and 1 - p


def test_complex_outputs_are_refused(array):
    with pytest.raises(ModelOutputError, match="complex numbers"):
        shapkit.explain(lambda Z: Z[:, 0] + 1j * Z[:, 1], array[:2], background=array[2:])
    with pytest.raises(GameOutputError, match="complex numbers"):
        shapkit.shapley_values(lambda m: m.sum(axis=1) * (1 + 1j), 3)


def test_outputs_near_the_float64_maximum_raise_instead_of_overflowing():
    X = np.random.default_rng(0).normal(size=(300, 3))
    with pytest.raises(ModelOutputError, match="too large to average over the 300 background"):
        shapkit.explain(lambda Z: 1.7e308 * (Z[:, 1] > 0), X[:2], background=X)
    with pytest.raises(GameOutputError, match="overflowed float64"):
        shapkit.shapley_values(lambda m: np.where(m[:, 0], 1.7e308, -1.7e308), 3)


# ------------------------------------------------------------------------------------ seeds


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_seed_is_checked_by_one_rule_everywhere(array, seed):
    kind = ValueError if seed == -1 else TypeError
    with pytest.raises(kind, match=r"^seed must be"):
        shapkit.explain(linear, array[:2], seed=seed)
    with pytest.raises(kind, match=r"^seed must be"):
        shapkit.Explainer(linear, array, seed=seed)
    with pytest.raises(kind, match=r"^seed must be"):
        shapkit.shapley_values(lambda m: m.sum(axis=1), 3, seed=seed)
    with pytest.raises(kind, match=r"^seed must be"):
        shapkit.ShapSelector(LinearRegression(), seed=seed).fit(array, array[:, 0])


def test_generators_and_seed_sequences_where_accepted(array):
    game = lambda m: m[:, 0] * m[:, 1] * m[:, 2] + m.sum(axis=1)  # noqa: E731
    a = shapkit.shapley_values(game, 6, method="kernel", budget=40, seed=np.random.default_rng(4))
    b = shapkit.shapley_values(game, 6, method="kernel", budget=40, seed=np.random.default_rng(4))
    np.testing.assert_array_equal(a.values, b.values)
    with pytest.raises(TypeError, match="Generator cannot give each row"):
        shapkit.Explainer(linear, array, seed=np.random.default_rng(0))
    sequence = np.random.SeedSequence(7)
    kwargs = dict(background=array[4:], method="kernel", budget=6, seed=sequence)
    one = shapkit.explain(lambda Z: np.sin(Z).sum(axis=1), array[:4], **kwargs)
    two = shapkit.explain(lambda Z: np.sin(Z).sum(axis=1), array[:4], **kwargs)
    np.testing.assert_array_equal(one.values, two.values)  # the sequence is not consumed


# ------------------------------------------------------------------------- data types and cells


@pytest.mark.parametrize(
    "bad, match",
    [
        (
            lambda: __import__("scipy.sparse").sparse.csr_matrix(np.eye(3)),
            r"sparse matrix.*toarray",
        ),
        (lambda: np.zeros(3, dtype=[("a", float), ("b", int)]), r"structured .*DataFrame\(X\)"),
        (
            lambda: pd.DataFrame({"a": [[1, 2], [3]], "b": [1, 2]}),
            r"column 'a' holds a list in row 0",
        ),
        (
            lambda: np.array([[1, {"k": 2}], [3, 4]], dtype=object),
            r"column 1 holds a dict in row 0",
        ),
        (
            lambda: np.ma.array([[1.0, 2.0]], mask=[[False, True]]),
            r"X is a numpy masked array; .*Fill the masked cells first, e\.g\. X\.filled\(np",
        ),
        (lambda: {"a": [1, 2], "b": [3, 4]}, r"X is a dict \(columns by key\); pass pandas\.Data"),
        (
            lambda: [{"a": 1, "b": 2}, {"a": 3, "b": 4}],
            r"X is a list of dicts \(one record per row\); pass pandas\.DataFrame\(X\)",
        ),
    ],
)
def test_data_shapkit_cannot_mask_is_refused_with_what_to_do(bad, match):
    with pytest.raises(TypeError, match=match):
        shapkit.explain(lambda Z: np.zeros(len(Z)), bad())


def test_masked_arrays_and_dask_backgrounds_are_refused_with_what_to_do(array):
    masked = np.ma.array(array, mask=array > 1.5)
    with pytest.raises(TypeError, match=r"background is a numpy masked array.*filled\(np\.nan\)"):
        shapkit.explain(linear, array[:2], background=masked)
    dd = pytest.importorskip("dask.dataframe")
    frame = pd.DataFrame(array, columns=list("abc"))
    lazy = dd.from_pandas(frame, npartitions=2)
    message = r"background is a Dask DataFrame \(dask\.DataFrame\); .*background\.compute\(\)"
    with pytest.raises(TypeError, match=message) as info:
        shapkit.explain(linear, lazy, background=lazy)
    assert "background.head(100)" in str(info.value) and "to_pandas" not in str(info.value)
    with pytest.raises(TypeError, match=r"X is a Dask DataFrame.*X\.compute\(\)"):
        shapkit.tabular.check_tabular(lazy)


def test_dtype_advice_casts_x_and_names_unseen_levels():
    background = pd.DataFrame({"a": np.arange(6.0), "c": pd.Categorical(list("xyzxyz"))})
    X = pd.DataFrame({"a": [1.0, 2.0], "c": pd.Categorical(["x", "w"])})
    with pytest.raises(ValueError) as info:
        shapkit.explain(lambda Z: np.zeros(len(Z)), X, background=background)
    message = str(info.value)
    assert "X = X.astype(background.dtypes.to_dict())" in message
    assert "'c' holds levels ['w']" in message and "categories" in message
    # the advice works when no level is unseen
    X = pd.DataFrame({"a": [1.0, 2.0], "c": pd.Categorical(["x", "y"])})
    with pytest.raises(ValueError, match="X's categories"):
        shapkit.explain(lambda Z: np.zeros(len(Z)), X, background=background)
    cast = X.astype(background.dtypes.to_dict())
    expl = shapkit.explain(lambda Z: Z["a"].to_numpy(), cast, background=background)
    np.testing.assert_allclose(expl.values[:, 0], [1.0 - 2.5, 2.0 - 2.5])


def test_string_columns_stored_differently_just_work():
    """dd.from_pandas turns object strings into pandas' string dtype: the model still
    receives the strings the way it was fitted on them (the background's dtype)."""
    seen = []

    def model(Z):
        seen.append(Z["c"].dtype)
        return (Z["c"] == "x").to_numpy(float) + Z["a"].to_numpy()

    background = pd.DataFrame({"a": np.arange(4.0), "c": ["x", "y", "x", None]})
    background["c"] = background["c"].astype(object)
    X = background.iloc[:2].astype({"c": "string"})
    expl = shapkit.explain(model, X, background=background, seed=0)
    assert X["c"].dtype != background["c"].dtype
    assert all(dtype == background["c"].dtype for dtype in seen)
    reference = shapkit.explain(model, background.iloc[:2], background=background, seed=0)
    np.testing.assert_array_equal(expl.values, reference.values)


def test_explaining_one_row_without_a_background_is_refused(array):
    with pytest.raises(ValueError, match="X has one row.*background="):
        shapkit.explain(linear, array[:1])
    expl = shapkit.explain(linear, array[:1], background=array[1:])
    np.testing.assert_allclose(expl.values[0], array[0] - array[1:].mean(axis=0))
