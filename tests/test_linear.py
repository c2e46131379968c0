"""Closed-form Shapley values of linear models against exact enumeration and by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import (
    ARDRegression,
    BayesianRidge,
    ElasticNet,
    HuberRegressor,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Perceptron,
    PoissonRegressor,
    Ridge,
    RidgeClassifier,
    RidgeCV,
    SGDClassifier,
    SGDRegressor,
    TheilSenRegressor,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    PolynomialFeatures,
    RobustScaler,
    StandardScaler,
)
from sklearn.svm import SVC, LinearSVC, LinearSVR

import shapkit
from shapkit.closed_form.linear import (
    LinearForm,
    LinearNotApplicableError,
    linear_coefficients,
    linear_shapley,
)
from shapkit.tabular import resolve_players

D = 5
RNG = np.random.default_rng(7)
# columns on different scales and offsets, so scaler folding is exercised
X_TRAIN = RNG.normal(size=(60, D)) * [1.0, 3.0, 0.5, 10.0, 2.0] + [0.0, 5.0, -2.0, 50.0, 1.0]
W_TRUE = np.array([1.5, -0.4, 2.0, 0.05, 0.7])
Y_REG = X_TRAIN @ W_TRUE + 3.0 + RNG.normal(scale=0.3, size=60)
Y_MULTI = np.column_stack([Y_REG, X_TRAIN @ W_TRUE[::-1] - 1.0])
SCORE = (X_TRAIN - X_TRAIN.mean(0)) / X_TRAIN.std(0) @ [1.0, -1.0, 0.5, 0.3, 0.0]
Y_BIN = (SCORE > 0).astype(int)
Y_MULTICLASS = np.digitize(SCORE, [-0.6, 0.6])  # 3 classes
X_EXPLAIN = X_TRAIN[:6]
BACKGROUND = X_TRAIN[-10:]


def fit(model, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings are irrelevant here
        return model.fit(X_TRAIN, y)


def closed_form(model, output, X=X_EXPLAIN, background=BACKGROUND, groups=None):
    form = linear_coefficients(model, output)
    names = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else None
    names = names or [f"x{j}" for j in range(X.shape[1])]
    players, column_player = resolve_players(names, groups)
    return form, linear_shapley(form, X, background, column_player, len(players))


def exact(model, output, X=X_EXPLAIN, background=BACKGROUND, groups=None):
    """``(values (n, P, k), base (n, k), predictions (n, k))`` by exact enumeration."""
    expl = shapkit.explain(
        model, X, background=background, method="exact", output=output, groups=groups
    )
    values, base, pred = expl.values, expl.base_values, expl.predictions
    if values.ndim == 2:
        values, base, pred = values[:, :, None], base[:, None], pred[:, None]
    return values, base, pred, expl.output_names


def assert_matches_exact(model, output, **kwargs):
    form, (values, base, pred) = closed_form(model, output, **kwargs)
    e_values, e_base, e_pred, e_names = exact(model, output, **kwargs)
    assert form.output_names == e_names
    np.testing.assert_allclose(values, e_values, rtol=0, atol=1e-8)
    np.testing.assert_allclose(base, e_base, rtol=0, atol=1e-8)
    np.testing.assert_allclose(pred, e_pred, rtol=0, atol=1e-8)
    np.testing.assert_allclose(base + values.sum(axis=1), pred, rtol=0, atol=1e-9)
    return form, values, base, pred


# --------------------------------------------------------------------------- regressors

REGRESSORS = [
    LinearRegression(),
    LinearRegression(fit_intercept=False),
    Ridge(alpha=2.0),
    RidgeCV(),
    Lasso(alpha=0.05),
    ElasticNet(alpha=0.05),
    make_pipeline(StandardScaler(), SGDRegressor(random_state=0)),
    HuberRegressor(max_iter=500),
    BayesianRidge(),
    ARDRegression(),
    LinearSVR(random_state=0, max_iter=5000),
    TheilSenRegressor(random_state=0, max_subpopulation=200),
]


@pytest.mark.parametrize("model", REGRESSORS, ids=lambda m: repr(m))
def test_regressors_match_exact_enumeration_and_predict(model):
    model = fit(model, Y_REG)
    form, values, _, pred = assert_matches_exact(model, "auto")
    assert form.output_names == ["prediction"] and values.shape == (6, D, 1)
    np.testing.assert_allclose(pred[:, 0], model.predict(X_EXPLAIN), rtol=1e-12, atol=1e-10)


def test_plain_model_values_by_hand():
    model = fit(LinearRegression(), Y_REG)
    _, (values, base, pred) = closed_form(model, "raw")
    by_hand = model.coef_ * (X_EXPLAIN - BACKGROUND.mean(axis=0))
    np.testing.assert_allclose(values[:, :, 0], by_hand, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(base[:, 0], model.predict(BACKGROUND).mean(), rtol=1e-12)
    np.testing.assert_allclose(pred[:, 0], model.predict(X_EXPLAIN), rtol=1e-12)


@pytest.mark.parametrize("model", [LinearRegression(), Ridge(alpha=1.0)], ids=repr)
def test_multi_output_regressor(model):
    model = fit(model, Y_MULTI)
    form, values, _, pred = assert_matches_exact(model, "auto")
    assert form.output_names == ["output_0", "output_1"] and values.shape == (6, D, 2)
    np.testing.assert_allclose(pred, model.predict(X_EXPLAIN), rtol=1e-12)
    by_hand = (X_EXPLAIN - BACKGROUND.mean(0))[:, :, None] * model.coef_.T[None]
    np.testing.assert_allclose(values, by_hand, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- classifiers

BINARY_DECISION = [
    LogisticRegression(),
    RidgeClassifier(),
    LinearSVC(random_state=0),
    SGDClassifier(random_state=0),
    Perceptron(random_state=0),
    LinearDiscriminantAnalysis(),
    SVC(kernel="linear"),
]


@pytest.mark.parametrize("model", BINARY_DECISION, ids=repr)
def test_binary_classifiers_in_decision_space(model):
    model = fit(model, Y_BIN)
    form, values, _, pred = assert_matches_exact(model, "decision")
    assert form.output_names == [1] and values.shape == (6, D, 1)
    np.testing.assert_allclose(pred[:, 0], model.decision_function(X_EXPLAIN), rtol=1e-10)


@pytest.mark.parametrize(
    "model", [LogisticRegression(), RidgeClassifier(), LinearDiscriminantAnalysis()], ids=repr
)
def test_multiclass_classifiers_in_decision_space(model):
    model = fit(model, Y_MULTICLASS)
    form, values, _, pred = assert_matches_exact(model, "decision")
    assert form.output_names == [0, 1, 2] and values.shape == (6, D, 3)
    np.testing.assert_allclose(pred, model.decision_function(X_EXPLAIN), rtol=1e-10)


@pytest.mark.parametrize(
    "model",
    [
        LogisticRegression(),
        make_pipeline(StandardScaler(), SGDClassifier(loss="log_loss", alpha=0.05, random_state=0)),
    ],
    ids=repr,
)
def test_binary_log_odds_are_plus_minus_margin(model):
    model = fit(model, np.where(Y_BIN == 1, "yes", "no"))
    form, values, _, pred = assert_matches_exact(model, "log_odds")
    assert form.output_names == ["no", "yes"] and values.shape == (6, D, 2)
    margin = model.decision_function(X_EXPLAIN)
    np.testing.assert_allclose(pred, np.column_stack([-margin, margin]), rtol=1e-10)
    np.testing.assert_allclose(values[:, :, 0], -values[:, :, 1], rtol=0, atol=0)


# --------------------------------------------------------------------------- pipelines

PIPELINES = [
    (make_pipeline(StandardScaler(), Ridge(alpha=0.5)), Y_REG, "auto"),
    (make_pipeline(MinMaxScaler(feature_range=(-1, 2)), LinearRegression()), Y_REG, "raw"),
    (make_pipeline(RobustScaler(), Lasso(alpha=0.01)), Y_REG, "auto"),
    (make_pipeline(MaxAbsScaler(), LinearRegression()), Y_MULTI, "auto"),
    (
        make_pipeline(StandardScaler(), MinMaxScaler(), RobustScaler(), MaxAbsScaler(), Ridge()),
        Y_REG,
        "auto",
    ),
    (make_pipeline(StandardScaler(), LogisticRegression()), Y_BIN, "decision"),
    (make_pipeline(RobustScaler(), MinMaxScaler(), LogisticRegression()), Y_BIN, "log_odds"),
    (make_pipeline(MaxAbsScaler(), LogisticRegression()), Y_MULTICLASS, "decision"),
    (
        Pipeline(
            [
                ("none", None),
                ("skip", "passthrough"),
                ("identity", FunctionTransformer()),
                ("inner", make_pipeline(StandardScaler(with_mean=False), RobustScaler())),
                ("std", StandardScaler(with_std=False)),
                ("robust", RobustScaler(with_centering=False)),
                ("model", LinearSVR(random_state=0, max_iter=5000)),
            ]
        ),
        Y_REG,
        "auto",
    ),
]


@pytest.mark.parametrize("pipe,y,output", PIPELINES, ids=lambda p: repr(p).replace("\n", ""))
def test_pipelines_with_affine_steps_are_folded(pipe, y, output):
    pipe = fit(pipe, y)
    form, values, _, pred = assert_matches_exact(pipe, output)
    if output == "decision":
        own = pipe.decision_function(X_EXPLAIN)
    elif output == "log_odds":
        own = np.column_stack(
            [-pipe.decision_function(X_EXPLAIN), pipe.decision_function(X_EXPLAIN)]
        )
    else:
        own = pipe.predict(X_EXPLAIN)
    np.testing.assert_allclose(pred, own.reshape(pred.shape), rtol=1e-10, atol=1e-10)
    # coef is in original units: the closed form by hand with the folded coefficients
    by_hand = (X_EXPLAIN - BACKGROUND.mean(0))[:, :, None] * form.coef[None]
    np.testing.assert_allclose(values, by_hand, rtol=1e-12, atol=1e-12)


def test_dataframe_groups_sum_their_members():
    cols = ["age", "income", "debt", "score", "tenure"]
    X, bg = pd.DataFrame(X_EXPLAIN, columns=cols), pd.DataFrame(BACKGROUND, columns=cols)
    model = make_pipeline(StandardScaler(), Ridge()).fit(pd.DataFrame(X_TRAIN, columns=cols), Y_REG)
    groups = {"money": ["income", "debt"], "time": ["tenure", "age"]}
    form, (values, base, pred) = closed_form(model, "auto", X=X, background=bg, groups=groups)
    assert form.feature_names == tuple(cols)
    e_values, e_base, e_pred, _ = exact(model, "auto", X=X, background=bg, groups=groups)
    np.testing.assert_allclose(values, e_values, rtol=0, atol=1e-8)
    np.testing.assert_allclose(base, e_base, rtol=0, atol=1e-8)
    # players ordered by first column: time (age, tenure), money (income, debt), score
    _, (ungrouped, _, _) = closed_form(model, "auto", X=X, background=bg)
    np.testing.assert_allclose(values[:, 0], ungrouped[:, 0] + ungrouped[:, 4], atol=1e-12)
    np.testing.assert_allclose(values[:, 1], ungrouped[:, 1] + ungrouped[:, 2], atol=1e-12)
    np.testing.assert_allclose(values[:, 2], ungrouped[:, 3], atol=1e-12)
    np.testing.assert_allclose(base + values.sum(1), pred, rtol=0, atol=1e-9)


def test_column_equal_to_every_background_row_gets_exactly_zero():
    X = np.array([[0.1, 2.0, 3.0]])
    bg = np.array([[0.1, 0.0, 1.0], [0.1, 1.0, 1.0], [0.1, 5.0, 2.0]])
    form = LinearForm(np.array([[3.0], [1.0], [1.0]]), np.array([0.0]), ["prediction"])
    values, _, _ = linear_shapley(form, X, bg)
    assert values[0, 0, 0] == 0.0


def test_integer_and_bool_columns_are_numeric():
    X = np.array([[1, 0], [3, 1]])
    form = LinearForm(np.array([[2.0], [1.0]]), np.array([1.0]), ["prediction"])
    values, base, pred = linear_shapley(form, X, X.astype(bool))
    np.testing.assert_allclose(values[:, :, 0], [[0.0, -0.5], [4.0, 0.5]])
    np.testing.assert_allclose(base[:, 0], [3.5, 3.5])
    np.testing.assert_allclose(pred[:, 0], [3.0, 8.0])


# --------------------------------------------------------------------------- not applicable


def not_applicable(model, output, *words):
    with pytest.raises(LinearNotApplicableError) as info:
        linear_coefficients(model, output)
    message = str(info.value)
    for word in words:
        assert word in message, message
    return message


@pytest.mark.parametrize("output", ["probability", "auto"])
def test_classifier_probabilities_are_not_linear(output):
    model = fit(LogisticRegression(), Y_BIN)
    not_applicable(model, output, "not linear", "output='decision'", "kernel")


def test_multiclass_log_odds_are_not_linear():
    model = fit(LogisticRegression(), Y_MULTICLASS)
    not_applicable(model, "log_odds", "multi-class", "softmax", "output='decision'")


def test_non_logistic_probabilities_are_rejected_in_log_odds():
    model = fit(SGDClassifier(loss="modified_huber", random_state=0), Y_BIN)
    not_applicable(model, "log_odds", "not the logistic sigmoid")
    linear_coefficients(model, "decision")  # still fine in decision space


@pytest.mark.parametrize(
    "step,name",
    [
        (OneHotEncoder(handle_unknown="ignore"), "OneHotEncoder"),
        (PolynomialFeatures(degree=2), "PolynomialFeatures"),
        (FunctionTransformer(np.tanh), "FunctionTransformer"),
        (MinMaxScaler(clip=True), "clip=True"),
    ],
)
def test_non_affine_pipeline_step_is_named(step, name):
    pipe = fit(make_pipeline(StandardScaler(), step, LinearRegression()), Y_REG)
    message = not_applicable(pipe, "auto", name, "method='exact'")
    assert "'standardscaler'" not in message


def test_non_linear_final_estimator():
    model = fit(RandomForestRegressor(n_estimators=3, random_state=0), Y_REG)
    not_applicable(model, "auto", "RandomForestRegressor", "not a linear model")


def test_model_with_coef_but_non_linear_predict():
    model = fit(PoissonRegressor(), np.exp(0.1 * (Y_REG - Y_REG.mean())))
    not_applicable(model, "auto", "PoissonRegressor", "not X @ coef_.T + intercept_")


def test_one_vs_one_multiclass_svc_is_rejected():
    model = fit(SVC(kernel="linear"), Y_MULTICLASS)
    not_applicable(model, "decision", "one-vs-one")


def test_callable_is_not_applicable():
    not_applicable(lambda X: X @ W_TRUE, "auto", "function", "cannot read", "method='exact'")


def test_non_numeric_columns_are_not_applicable():
    model = fit(LinearRegression(), Y_REG)
    form = linear_coefficients(model)
    X = pd.DataFrame(X_EXPLAIN, columns=list("abcde")).assign(c=list("uvwxyz"))
    with pytest.raises(LinearNotApplicableError, match="non-numeric columns \\['c'\\]"):
        linear_shapley(form, X, X)
    with pytest.raises(LinearNotApplicableError, match="not numeric"):
        linear_shapley(form, X.to_numpy(), BACKGROUND)


def test_missing_values_raise_value_error():
    form = linear_coefficients(fit(LinearRegression(), Y_REG))
    X = X_EXPLAIN.copy()
    X[2, 3] = np.nan
    with pytest.raises(ValueError, match="X has 1 missing") as info:
        linear_shapley(form, X, BACKGROUND)
    assert not isinstance(info.value, LinearNotApplicableError)
    with pytest.raises(ValueError, match="background"):
        linear_shapley(form, X_EXPLAIN, X)


def test_shape_and_name_mismatches_raise():
    form = linear_coefficients(fit(LinearRegression(), Y_REG))
    with pytest.raises(ValueError, match="4 columns but the linear model has 5"):
        linear_shapley(form, X_EXPLAIN[:, :4], BACKGROUND[:, :4])
    cols = list("abcde")
    model = LinearRegression().fit(pd.DataFrame(X_TRAIN, columns=cols), Y_REG)
    form = linear_coefficients(model)
    X = pd.DataFrame(X_EXPLAIN, columns=cols[::-1])
    with pytest.raises(ValueError, match="differ from those the model was fitted with"):
        linear_shapley(form, X, X)


def test_unfitted_model_and_bad_output_are_value_errors():
    with pytest.raises(ValueError, match="not fitted") as info:
        linear_coefficients(LinearRegression())
    assert not isinstance(info.value, LinearNotApplicableError)
    with pytest.raises(ValueError, match="Unknown output='decision'"):
        linear_coefficients(fit(Ridge(), Y_REG), "decision")


def test_log_odds_are_exact_beyond_the_probability_clip():
    """shapkit's log_odds output clips probabilities at 1e-15 (|log-odds| <= ~34.5); the
    closed form gives the unclipped margin, as the model's decision_function does."""
    model = fit(LogisticRegression(C=1e6, max_iter=5000), Y_BIN)
    margin = model.decision_function(X_EXPLAIN)
    assert np.abs(margin).max() > 40
    _, (values, base, pred) = closed_form(model, "log_odds")
    np.testing.assert_allclose(pred, np.column_stack([-margin, margin]), rtol=1e-10)
    np.testing.assert_allclose(base + values.sum(1), pred, rtol=0, atol=1e-9)
