"""Model adapters end to end through ``shapkit.explain`` / ``shapkit.Explainer``.

Exact values are checked against a brute-force Shapley loop over the marginal game
``v(S) = mean_b f(x_S, b_notS)`` evaluated with the model directly, or against closed
forms for linear models.
"""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris, load_wine
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeRegressor

import shapkit
from shapkit.models.sklearn import SklearnModel

# --------------------------------------------------------------------------- helpers


def masked_data(X, i, background, present_columns):
    """Background rows with the cells of ``present_columns`` (positions) taken from row i."""
    n_bg = background.shape[0]
    if isinstance(X, pd.DataFrame):
        inst = X.iloc[[i] * n_bg].reset_index(drop=True)
        parts = [
            inst.iloc[:, [j]] if j in present_columns else background.iloc[:, [j]]
            for j in range(X.shape[1])
        ]
        return pd.concat(parts, axis=1)
    out = background.copy()
    cols = list(present_columns)
    out[:, cols] = X[i, cols]
    return out


def brute_force(f, X, background, players=None):
    """Exact Shapley values ``(n, d_players, k)`` of the marginal game, by the formula.

    ``f(data) -> (rows,) or (rows, k)``; ``players`` is a list of column-position lists.
    """
    n_cols = X.shape[1]
    players = players if players is not None else [[j] for j in range(n_cols)]
    d = len(players)
    out = []
    for i in range(X.shape[0]):

        def v(coalition, i=i):
            cols = {j for p in coalition for j in players[p]}
            pred = np.asarray(f(masked_data(X, i, background, cols)), dtype=float)
            return pred.reshape(pred.shape[0], -1).mean(axis=0)

        cache = {}
        for size in range(d + 1):
            for coalition in itertools.combinations(range(d), size):
                cache[frozenset(coalition)] = v(coalition)
        phi = np.zeros((d, cache[frozenset()].shape[0]))
        for p in range(d):
            others = [q for q in range(d) if q != p]
            for size in range(d):
                w = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
                for S in itertools.combinations(others, size):
                    S = frozenset(S)
                    phi[p] += w * (cache[S | {p}] - cache[S])
        out.append(phi)
    return np.stack(out)


def assert_efficiency(expl, atol=1e-9):
    np.testing.assert_allclose(
        expl.base_values + expl.values.sum(axis=1), expl.predictions, rtol=0, atol=atol
    )


def same_cell(a, b):
    return (pd.isna(a) and pd.isna(b)) if (pd.isna(a) or pd.isna(b)) else a == b


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    names = load_iris().target_names
    return X, names[y]


# --------------------------------------------------------------------------- sklearn


def test_multiclass_probability_matches_predict_proba_and_brute_force(iris):
    X, y = iris
    model = LogisticRegression(max_iter=1000).fit(X, y)
    rng = np.random.default_rng(0)
    background = X[rng.choice(len(X), 20, replace=False)]
    rows = X[[0, 60, 120, 7, 140]]
    expl = shapkit.explain(model, rows, background=background, seed=0)

    assert expl.values.shape == (5, 4, 3)
    assert expl.output_names == [str(c) for c in model.classes_]
    assert expl.output_names == ["setosa", "versicolor", "virginica"]
    assert expl.base_values.shape == (5, 3)
    assert expl.method == "exact"
    assert_efficiency(expl)
    np.testing.assert_allclose(expl.predictions, model.predict_proba(rows), atol=1e-12)
    np.testing.assert_allclose(
        expl.base_values, np.tile(model.predict_proba(background).mean(0), (5, 1)), atol=1e-12
    )
    np.testing.assert_allclose(
        expl.values, brute_force(model.predict_proba, rows, background), atol=1e-12
    )
    # probabilities sum to one, so the values of each feature sum to zero over classes
    np.testing.assert_allclose(expl.values.sum(axis=2), 0.0, atol=1e-12)


def test_multiclass_log_odds(iris):
    X, y = iris
    model = LogisticRegression(max_iter=1000).fit(X, y)
    background, rows = X[::8], X[[3, 70, 110]]
    expl = shapkit.explain(model, rows, background=background, output="log_odds")
    p = model.predict_proba(rows)
    assert expl.values.shape == (3, 4, 3)
    assert expl.output_names == [str(c) for c in model.classes_]
    np.testing.assert_allclose(expl.predictions, np.log(p / (1 - p)), rtol=1e-9, atol=1e-9)
    assert_efficiency(expl)

    def log_odds(Z):
        q = model.predict_proba(Z)
        return np.log(q) - np.log1p(-q)

    np.testing.assert_allclose(expl.values, brute_force(log_odds, rows, background), atol=1e-9)


def test_binary_decision_is_single_output_and_linear():
    X, y = load_wine(return_X_y=True)
    X, y = X[y < 2][:, [0, 1, 9, 12]], y[y < 2]
    X = StandardScaler().fit_transform(X)
    model = LogisticRegression().fit(X, np.where(y == 1, "b", "a"))
    background, rows = X[::7], X[[0, 50, 100]]
    expl = shapkit.explain(model, rows, background=background, output="decision")

    assert expl.output_names == [str(model.classes_[1])] == ["b"]
    assert expl.values.shape == (3, 4)
    assert expl.base_values.shape == (3,)
    np.testing.assert_allclose(expl.predictions, model.decision_function(rows), atol=1e-12)
    assert_efficiency(expl)
    expected = model.coef_[0] * (rows - background.mean(axis=0))
    np.testing.assert_allclose(expl.values, expected, atol=1e-9)


@pytest.mark.parametrize(
    "classes",
    [[1, 2, 3], [1.0, 2.0, 3.0], [False, True], ["a", "b", "c"], [np.int64(0), np.int64(1)]],
    ids=["int", "float", "bool", "str", "numpy-int"],
)
def test_class_labels_keep_their_type(classes):
    rng = np.random.default_rng(0)
    y = np.array(classes * 10)
    X = rng.normal(size=(len(y), 3)) + np.arange(len(y))[:, None] % len(classes)
    model = LogisticRegression().fit(X, y)
    names = SklearnModel(model).output_names
    expected = [c.item() if isinstance(c, np.generic) else c for c in classes]
    assert names == expected
    assert [type(n) for n in names] == [type(c) for c in expected]  # no numpy scalars
    if len(classes) == 2:  # binary decision: the positive class only
        assert SklearnModel(model, output="decision").output_names == [expected[1]]
        assert type(SklearnModel(model, output="decision").output_names[0]) is type(expected[1])


def test_integer_classes_are_selected_by_label():
    rng = np.random.default_rng(1)
    y = np.array([1, 2, 3] * 12)
    X = rng.normal(size=(36, 3)) + y[:, None]
    model = LogisticRegression().fit(X, y)
    expl = shapkit.explain(model, X[:4], background=X[::6])
    assert expl.output_names == [1, 2, 3]
    # class 1 is at position 0: expl[:, :, 1] and summary(output=1) act on class 1
    np.testing.assert_array_equal(expl[:, :, 1].values, expl.values[:, :, 0])
    np.testing.assert_allclose(expl[:, :, 1].predictions, model.predict_proba(X[:4])[:, 0])
    pd.testing.assert_frame_equal(
        shapkit.summary(expl, output=1), shapkit.summary(expl, output_position=0)
    )
    np.testing.assert_array_equal(expl.output_at(0).values, expl.values[:, :, 0])
    with pytest.raises(KeyError, match=r"Unknown output 0; the outputs are \[1, 2, 3\]\..*"
                                       r"expl\.output_at\(0\)"):  # fmt: skip
        expl[:, :, 0]
    with pytest.raises(KeyError, match=r"Unknown output 0"):
        shapkit.summary(expl, output=0)
    with pytest.raises(KeyError, match=r"True \(bool\) is not the label 1 \(number\)"):
        expl[:, :, True]


def test_linear_regression_on_dataframe_closed_form():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(60, 5)), columns=list("abcde"))
    y = X.to_numpy() @ np.array([1.0, -2.0, 0.5, 3.0, 0.0]) + 0.3
    model = LinearRegression().fit(X, y)
    background, rows = X.iloc[:20], X.iloc[40:46]
    expl = shapkit.Explainer(model, background)(rows)

    assert expl.values.shape == (6, 5)
    assert expl.base_values.shape == (6,)
    assert expl.output_names == ["prediction"]
    assert expl.feature_names == list("abcde")
    expected = model.coef_ * (rows.to_numpy() - background.to_numpy().mean(axis=0))
    np.testing.assert_allclose(expl.values, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(expl.predictions, model.predict(rows), atol=1e-12)
    assert_efficiency(expl)
    # the explained rows come back with their index labels in the long format
    frame = expl.to_frame()
    assert list(frame["row"].unique()) == list(rows.index)
    np.testing.assert_allclose(frame["shap_value"].to_numpy(), expected.reshape(-1), atol=1e-9)


def test_nonlinear_regressor_matches_brute_force():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 4))
    y = X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + (X[:, 3] > 0)
    model = DecisionTreeRegressor(max_depth=5, random_state=0).fit(X, y)
    background, rows = X[:15], X[70:74]
    expl = shapkit.explain(model, rows, background=background)
    assert expl.values.shape == (4, 4)
    np.testing.assert_allclose(
        expl.values, brute_force(model.predict, rows, background)[:, :, 0], atol=1e-12
    )
    assert_efficiency(expl)


def mixed_frame(n, seed):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=n)
    f[rng.random(n) < 0.25] = np.nan
    return pd.DataFrame(
        {
            "city": pd.Series(rng.choice(["paris", "lyon", "nice"], n), dtype="string"),
            "size": pd.Categorical(rng.choice(["S", "M", "L"], n), categories=["S", "M", "L"]),
            "owner": rng.random(n) < 0.5,
            "income": f,
            "age": rng.integers(18, 80, n).astype(np.int64),
        }
    )


@pytest.mark.parametrize("estimator", ["logistic", "hgb"])
def test_pipeline_with_mixed_dtypes(estimator):
    X = mixed_frame(120, 3)
    y = (
        (X["city"] == "paris").to_numpy()
        ^ (X["income"].fillna(0).to_numpy() > 0)
        ^ X["owner"].to_numpy()
    )
    encode = ColumnTransformer(
        [
            ("onehot", OneHotEncoder(handle_unknown="ignore"), ["city", "size"]),
            ("impute", SimpleImputer(), ["income"]),
        ],
        remainder="passthrough",
    )
    if estimator == "logistic":
        model = make_pipeline(encode, StandardScaler(with_mean=False), LogisticRegression())
    else:
        encode.set_params(impute="passthrough")  # HistGradientBoosting handles NaN itself
        model = make_pipeline(encode, HistGradientBoostingClassifier(max_iter=20, random_state=0))
    model.fit(X, y)
    background, rows = X.iloc[:12], X.iloc[100:104]
    assert rows["income"].isna().any() or background["income"].isna().any()

    expl = shapkit.explain(model, rows, background=background)
    assert expl.values.shape == (4, 5, 2)
    assert expl.output_names == [False, True]  # the classes, with their type
    assert all(type(name) is bool for name in expl.output_names)
    assert expl.feature_names == list(X.columns)
    assert_efficiency(expl)
    np.testing.assert_allclose(expl.predictions, model.predict_proba(rows), atol=1e-12)
    np.testing.assert_allclose(
        expl.values, brute_force(model.predict_proba, rows, background), atol=1e-12
    )
    pd.testing.assert_frame_equal(expl.data, rows)


# --------------------------------------------------------------------------- data types


def test_dataframe_dtypes_reach_the_model_unchanged():
    n = 10
    rng = np.random.default_rng(4)
    income = rng.normal(size=n)
    income[[1, 4, 7]] = np.nan
    X = pd.DataFrame(
        {
            "cat": pd.Categorical(rng.choice(["a", "b", "c"], n), categories=["c", "b", "a", "z"]),
            "s": pd.Series(rng.choice(["x", "y", "w"], n), dtype="string"),
            "obj": pd.Series([("t", k % 3) for k in range(n)], dtype=object),
            "flag": rng.random(n) < 0.5,
            "count": rng.integers(0, 100, n).astype(np.int64),
            "income": income,
            "nullable": pd.array([1, None, 3, 4, None, 6, 7, 8, 9, 10], dtype="Int64"),
        }
    )
    # non-default index: masking must not depend on index labels
    X.index = np.arange(100, 100 + n)[::-1]
    background, rows = X.iloc[:6], X.iloc[6:]
    calls = []

    def model(data):
        calls.append(data)
        return (
            data["cat"].cat.codes.to_numpy() * 1.0
            + (data["s"] == "x").to_numpy(dtype=float)
            + np.array([o[1] for o in data["obj"]], dtype=float)
            + data["flag"].to_numpy(dtype=float)
            + data["count"].to_numpy() / 10
            + np.nan_to_num(data["income"].to_numpy())
            + data["nullable"].fillna(0).to_numpy(dtype=float)
        )

    expl = shapkit.explain(model, rows, background=background)
    assert_efficiency(expl)
    assert len(calls) == len(rows)  # one call per explained row at the default max_rows
    for i, data in enumerate(calls):
        assert type(data) is pd.DataFrame
        assert list(data.columns) == list(X.columns)
        pd.testing.assert_series_equal(data.dtypes, X.dtypes)
        assert list(data["cat"].cat.categories) == ["c", "b", "a", "z"]
        for col in X.columns:
            allowed = [rows[col].iloc[i], *background[col]]
            for value in data[col]:
                assert any(same_cell(value, a) for a in allowed), (col, value)
    # additive model: each column's value is its own term, in closed form
    expected_income = (
        np.nan_to_num(rows["income"].to_numpy())
        - np.nan_to_num(background["income"].to_numpy()).mean()
    )
    np.testing.assert_allclose(expl.values[:, 5], expected_income, atol=1e-12)
    expected_flag = rows["flag"].to_numpy(float) - background["flag"].to_numpy(float).mean()
    np.testing.assert_allclose(expl.values[:, 3], expected_flag, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.bool_])
def test_single_dtype_dataframe_keeps_its_dtype(dtype):
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.integers(0, 2, size=(8, 3)).astype(dtype), columns=["p", "q", "r"])
    seen = []

    def model(data):
        seen.append(data.dtypes.copy())
        return data.to_numpy(dtype=float) @ np.array([1.0, 2.0, 4.0])

    expl = shapkit.explain(model, X.iloc[:3], background=X.iloc[3:])
    assert seen and all((s == X.dtypes).all() for s in seen)
    expected = (X.iloc[:3].to_numpy(float) - X.iloc[3:].to_numpy(float).mean(0)) * [1, 2, 4]
    np.testing.assert_allclose(expl.values, expected, atol=1e-12)


def test_numpy_object_array_with_strings():
    X = np.array(
        [
            ["red", 1.0, "small"],
            ["blue", 2.5, "big"],
            ["green", -1.0, "big"],
            ["red", 0.0, "small"],
        ],
        dtype=object,
    )
    score = {"red": 1.0, "blue": -2.0, "green": 0.5}
    seen = []

    def model(Z):
        seen.append(Z.dtype)
        return (
            np.array([score[c] for c in Z[:, 0]])
            + Z[:, 1].astype(float) ** 2
            + (Z[:, 2] == "big") * 3.0
        )

    background, rows = X[1:], X[[0, 2]]
    expl = shapkit.explain(model, rows, background=background)
    assert set(seen) == {np.dtype(object)}
    assert expl.feature_names == ["x0", "x1", "x2"]
    term0 = np.array([score[c] for c in rows[:, 0]]) - np.mean([score[c] for c in background[:, 0]])
    term1 = rows[:, 1].astype(float) ** 2 - np.mean(background[:, 1].astype(float) ** 2)
    term2 = (rows[:, 2] == "big") * 3.0 - np.mean(background[:, 2] == "big") * 3.0
    np.testing.assert_allclose(expl.values, np.stack([term0, term1, term2], 1), atol=1e-12)
    assert_efficiency(expl)


def test_non_string_column_labels():
    rng = np.random.default_rng(6)
    X = pd.DataFrame(rng.normal(size=(6, 3)))  # integer column labels 0, 1, 2
    expl = shapkit.explain(lambda d: d[0] * 2.0 + d[1] * d[2], X.iloc[:2], background=X.iloc[2:])
    assert expl.feature_names == ["0", "1", "2"]
    np.testing.assert_allclose(
        expl.values[:, 0],
        2.0 * (X[0].iloc[:2].to_numpy() - X[0].iloc[2:].mean()),
        atol=1e-12,
    )
    frame = expl.to_frame()
    assert frame.shape[0] == 6
    np.testing.assert_allclose(
        frame["feature_value"].to_numpy(float), X.iloc[:2].to_numpy().ravel()
    )


# --------------------------------------------------------------------------- torch


def _mlp(torch, d_in, d_out, dtype=None, dropout=False):
    torch.manual_seed(0)
    layers = [torch.nn.Linear(d_in, 8), torch.nn.ReLU()]
    if dropout:
        layers.append(torch.nn.Dropout(0.5))
    layers.append(torch.nn.Linear(8, d_out))
    module = torch.nn.Sequential(*layers)
    return module.double() if dtype == "double" else module


def _torch_fn(torch, module, dtype):
    def f(Z):
        with torch.no_grad():
            was = module.training
            module.eval()
            try:
                return (
                    module(torch.as_tensor(np.asarray(Z, dtype=float), dtype=dtype))
                    .double()
                    .numpy()
                )
            finally:
                module.train(was)

    return f


def _torch_data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(20, 4))
    return X[:15], X[15:18]


def test_torch_mlp_matches_brute_force_and_restores_training_flag():
    torch = pytest.importorskip("torch")
    module = _mlp(torch, 4, 1, dropout=True)
    module.train()
    background, rows = _torch_data()
    expl = shapkit.explain(module, rows, background=background)
    assert module.training  # flag restored
    assert expl.values.shape == (3, 4)
    assert expl.output_names == ["prediction"]
    # dropout must be off during explanation, else these would not match eval-mode outputs
    expected = brute_force(_torch_fn(torch, module, torch.float32), rows, background)[:, :, 0]
    np.testing.assert_allclose(expl.values, expected, atol=1e-5)
    assert_efficiency(expl, atol=1e-9)

    module.eval()
    shapkit.explain(module, rows, background=background)
    assert not module.training


def test_torch_float64_module_exact():
    torch = pytest.importorskip("torch")
    module = _mlp(torch, 4, 1, dtype="double")
    background, rows = _torch_data()
    expl = shapkit.explain(module, rows, background=background)
    expected = brute_force(_torch_fn(torch, module, torch.float64), rows, background)[:, :, 0]
    np.testing.assert_allclose(expl.values, expected, atol=1e-12)
    with torch.no_grad():
        full = module(torch.as_tensor(rows)).numpy()[:, 0]
    np.testing.assert_allclose(expl.predictions, full, atol=1e-12)
    assert_efficiency(expl)


def test_torch_multi_output_module():
    torch = pytest.importorskip("torch")
    module = _mlp(torch, 4, 3, dtype="double")
    background, rows = _torch_data()
    expl = shapkit.explain(module, rows, background=background)
    assert expl.values.shape == (3, 4, 3)
    assert expl.base_values.shape == (3, 3)
    assert expl.output_names == ["output_0", "output_1", "output_2"]
    expected = brute_force(_torch_fn(torch, module, torch.float64), rows, background)
    np.testing.assert_allclose(expl.values, expected, atol=1e-12)
    assert_efficiency(expl)


def test_torch_gets_writable_contiguous_arrays_from_a_dataframe(monkeypatch):
    """pandas hands out read-only views of a DataFrame's data (copy-on-write), and torch
    warns about every read-only array it wraps: the adapter passes writable, contiguous
    copies, and the values equal those of the same rows as an ndarray."""
    torch = pytest.importorskip("torch")
    module = _mlp(torch, 4, 1, dtype="double")
    background, rows = _torch_data()
    columns = [f"x{j}" for j in range(rows.shape[1])]
    seen = []
    real = torch.as_tensor

    def spy(data, *args, **kwargs):
        if isinstance(data, np.ndarray):
            seen.append((data.flags.writeable, data.flags.c_contiguous))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(torch, "as_tensor", spy)
    frame = shapkit.explain(
        module, pd.DataFrame(rows, columns=columns),
        background=pd.DataFrame(background, columns=columns), seed=0,
    )  # fmt: skip
    assert seen and all(writable and contiguous for writable, contiguous in seen)
    array = shapkit.explain(module, rows, background=background, seed=0)
    np.testing.assert_array_equal(frame.values, array.values)


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize("max_rows", [1, 7, 19, 20, 21, 50])
def test_max_rows_is_honoured(max_rows):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(23, 3))
    background, rows = X[:20], X[20:]
    sizes = []

    def model(Z):
        sizes.append(Z.shape[0])
        return np.stack([Z[:, 0] * Z[:, 1] + Z[:, 2], np.tanh(Z).sum(1)], axis=1)

    expl = shapkit.explain(model, rows, background=background, max_rows=max_rows)
    assert max(sizes) <= max_rows
    assert sum(sizes) == len(rows) * 2**3 * len(background)  # every masked row once
    assert expl.settings["max_rows"] == max_rows
    sizes.clear()
    reference = shapkit.explain(model, rows, background=background, max_rows=10**6)
    assert max(sizes) == 2**3 * len(background)
    np.testing.assert_allclose(expl.values, reference.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(expl.base_values, reference.base_values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(expl.values, brute_force(model, rows, background), atol=1e-12)


def test_same_seed_same_background_and_values():
    rng = np.random.default_rng(9)
    X = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    runs = []

    def run(seed):
        seen = []

        def model(d):
            seen.append(d.copy())
            return d["a"] * d["b"] + d["c"] ** 2

        expl = shapkit.explain(model, X, seed=seed, background_size=15)
        runs.append(seen)
        return expl, seen

    e1, seen1 = run(0)
    e2, seen2 = run(0)
    e3, _ = run(1)
    assert e1.settings["background_size"] == 15
    np.testing.assert_array_equal(e1.values, e2.values)
    np.testing.assert_array_equal(e1.base_values, e2.base_values)
    assert len(seen1) == len(seen2)
    for a, b in zip(seen1, seen2, strict=True):
        pd.testing.assert_frame_equal(a, b)
    # the background is a sample of X: another seed gives another sample
    assert not np.allclose(e1.base_values, e3.base_values)


def test_groups_linear_closed_form():
    rng = np.random.default_rng(10)
    X = pd.DataFrame(rng.normal(size=(40, 4)), columns=["a", "b", "c", "d"])
    w = np.array([1.5, -2.0, 0.7, 3.0])
    model = LinearRegression().fit(X, X.to_numpy() @ w + 1.0)
    background, rows = X.iloc[:15], X.iloc[30:34]
    terms = model.coef_ * (rows.to_numpy() - background.to_numpy().mean(0))

    expl = shapkit.explain(
        model, rows, background=background, groups={"g": ["a", "b"]}, method="exact"
    )
    closed = shapkit.explain(model, rows, background=background, groups={"g": ["a", "b"]})
    assert closed.method == "linear" and (closed.n_evals == 0).all()
    np.testing.assert_allclose(closed.values, expl.values, atol=1e-9)
    np.testing.assert_allclose(closed.base_values, expl.base_values, atol=1e-9)
    assert expl.feature_names == ["g", "c", "d"]
    assert expl.player_columns == {"g": ["a", "b"], "c": ["c"], "d": ["d"]}
    assert expl.values.shape == (4, 3)
    np.testing.assert_allclose(expl.values[:, 0], terms[:, 0] + terms[:, 1], atol=1e-9)
    np.testing.assert_allclose(expl.values[:, 1:], terms[:, 2:], atol=1e-9)
    assert (expl.n_evals == 2**3).all()
    assert_efficiency(expl)

    # non-adjacent members: the group sits at its first column's position
    expl = shapkit.explain(model, rows, background=background, groups={"g": ["b", "d"]})
    assert expl.feature_names == ["a", "g", "c"]
    np.testing.assert_allclose(expl.values[:, 1], terms[:, 1] + terms[:, 3], atol=1e-9)


def test_groups_with_interactions_match_brute_force():
    rng = np.random.default_rng(11)
    X = pd.DataFrame(rng.normal(size=(20, 5)), columns=list("abcde"))

    def model(d):
        return d["a"] * d["c"] + np.maximum(d["b"], d["e"]) + d["d"] * d["a"] * d["b"]

    background, rows = X.iloc[:12], X.iloc[17:]
    groups = {"ab": ["a", "b"], "de": ["e", "d"]}
    expl = shapkit.explain(model, rows, background=background, groups=groups)
    assert expl.feature_names == ["ab", "c", "de"]
    expected = brute_force(lambda d: model(d).to_numpy(), rows, background, [[0, 1], [2], [3, 4]])
    np.testing.assert_allclose(expl.values, expected[:, :, 0], atol=1e-12)
    assert_efficiency(expl)
    frame = expl.to_frame()
    assert frame.loc[0, "feature_value"].startswith("a=")


def test_float_background_is_rounded_to_x_precision_and_exposed():
    X = np.array([[1.0, 2.0]], dtype=np.float32)
    seen = []

    def f(Z):
        seen.append(Z.dtype)
        return Z.sum(axis=1)

    expl = shapkit.explain(f, X, background=np.array([[0.1, 0.2]]))
    assert set(seen) == {np.dtype(np.float32)}
    np.testing.assert_allclose(expl.values, [[1.0 - np.float32(0.1), 2.0 - np.float32(0.2)]])
    np.testing.assert_array_equal(expl.background.to_numpy(), np.float32([[0.1, 0.2]]))


def test_dataframe_outputs_name_the_outputs():
    X = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})

    def f(Z):
        return pd.DataFrame({"low": Z["a"], "high": Z["a"] + Z["b"]})

    expl = shapkit.explain(f, X, background=X.iloc[[0]])
    assert expl.output_names == ["low", "high"]
    np.testing.assert_allclose(expl.values[1, :, 1], [1.0, 1.0])


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_torch_module_on_cuda_matches_cpu(dtype_name):
    """On a GPU the adapter feeds the module tensors on its own device and dtype."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    dtype = getattr(torch, dtype_name)
    torch.manual_seed(0)
    cpu = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)).to(
        dtype
    )
    gpu = copy.deepcopy(cpu).to("cuda")
    seen = []
    gpu.register_forward_pre_hook(lambda _, args: seen.append((args[0].device, args[0].dtype)))
    rng = np.random.default_rng(0)
    X, background = rng.normal(size=(4, 5)), rng.normal(size=(12, 5))
    on_gpu = shapkit.explain(gpu, X, background=background, max_rows=100)
    on_cpu = shapkit.explain(cpu, X, background=background, max_rows=100)
    assert seen and all(dev.type == "cuda" and dt == dtype for dev, dt in seen)
    assert next(gpu.parameters()).device.type == "cuda"
    tol = 1e-4 if dtype_name == "float32" else 1e-10
    np.testing.assert_allclose(on_gpu.values, on_cpu.values, atol=tol)
    np.testing.assert_allclose(on_gpu.predictions, on_cpu.predictions, atol=tol)
    gap = on_gpu.base_values + on_gpu.values.sum(axis=1) - on_gpu.predictions
    assert np.abs(gap).max() < 1e-9


def test_calls_stay_near_call_bytes_and_at_least_min_rows():
    from shapkit.games import CALL_BYTES, MIN_ROWS_PER_CALL

    rng = np.random.default_rng(10)
    X = rng.normal(size=(201, 400))
    sizes = []

    def model(Z):
        sizes.append(Z.shape[0])
        return Z[:, :3].sum(1)

    shapkit.explain(model, X[:1], background=X[1:], method="kernel", budget=600, seed=0)
    per_call = max(MIN_ROWS_PER_CALL, CALL_BYTES // (8 * 400))
    assert max(sizes) == per_call  # 600 coalitions x 200 rows split into such calls
    assert sum(sizes) == 600 * 200


@pytest.mark.parametrize("as_frame", [False, True])
def test_reused_row_buffer_never_overwrites_what_a_model_kept(as_frame):
    """Masked rows go into one reused buffer; a model that keeps its inputs (no copy)
    must still find them intact afterwards, and a model that keeps nothing gets the same
    memory every call."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(41, 6))
    data = pd.DataFrame(X, columns=list("abcdef")) if as_frame else X
    background, rows = data[:40], data[40:]
    kept, snapshots, addresses = [], [], []

    def hoarder(Z):
        kept.append(Z)  # no copy
        snapshots.append(np.array(Z, copy=True))
        return np.asarray(Z)[:, 0] * np.asarray(Z)[:, 1]

    shapkit.explain(hoarder, rows, background=background, method="kernel", budget=200,
                    seed=0, max_rows=300)  # fmt: skip
    assert len(kept) > 3
    for stored, snapshot in zip(kept, snapshots, strict=True):
        np.testing.assert_array_equal(np.asarray(stored), snapshot)

    def tidy(Z):
        addresses.append(np.asarray(Z).__array_interface__["data"][0])
        return np.asarray(Z)[:, 0] * np.asarray(Z)[:, 1]

    shapkit.explain(tidy, X[40:], background=X[:40], method="kernel", budget=200, seed=0,
                    max_rows=300)  # fmt: skip
    assert len(addresses) > 3 and len(set(addresses)) == 1


def test_row_buffer_is_reused_across_calls_unless_still_referenced():
    from shapkit.tabular import row_buffer

    first = row_buffer(100, 3, np.float64)
    second = row_buffer(100, 3, np.float64)  # `first` is still referenced: a new one
    assert second is not first
    spare = id(second)  # the newest buffer is the spare
    del first, second
    assert id(row_buffer(80, 3, np.float64)) == spare  # free and large enough: reused
    assert id(row_buffer(200, 3, np.float64)) != spare  # too small: replaced
    wide = row_buffer(10, 4, np.float64)  # another width: its own buffer
    assert wide.shape[1] == 4 and wide.shape[0] >= 10

    rng = np.random.default_rng(12)
    X = rng.normal(size=(42, 5))
    addresses = []

    def tidy(Z):
        addresses.append(Z.__array_interface__["data"][0])
        return Z[:, 0] * Z[:, 1]

    for i in (40, 41):  # two explain calls, one row each: the same memory
        shapkit.explain(tidy, X[i : i + 1], background=X[:40], method="kernel", budget=200,
                        seed=0, max_rows=300)  # fmt: skip
    assert len(set(addresses)) == 1


# --------------------------------------------------------------------------- output containers


def _logistic_proba(X):
    return 1.0 / (1.0 + np.exp(-np.asarray(X, dtype=float)[:, 0]))


def _frame_proba_classifier(columns):
    """A classifier whose predict_proba returns a DataFrame with ``columns``: the first
    column labelled like ``columns[0]`` holds P(classes_[1])."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    class FrameProba(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            self.classes_ = np.array(["n", "p"])
            return self

        def predict_proba(self, X):
            p = _logistic_proba(X)
            return pd.DataFrame({columns[0]: p, columns[1]: 1 - p})

        def decision_function(self, X):
            return pd.DataFrame({columns[0]: np.asarray(X)[:, 0], columns[1]: 0.0})

    return FrameProba


def test_frame_probabilities_are_matched_to_classes_by_label():
    X = pd.DataFrame({"a": [2.0, -1.0, 0.5], "b": [0.0, 1.0, 0.0]})
    model = _frame_proba_classifier(["p", "n"])().fit(X, None)  # columns in another order
    expl = shapkit.explain(model, X, background=X, seed=0)
    assert expl.output_names == ["n", "p"]
    np.testing.assert_allclose(expl.predictions[:, 1], _logistic_proba(X), rtol=1e-15)
    np.testing.assert_allclose(expl.predictions[:, 0], 1 - _logistic_proba(X), rtol=1e-15)
    reference = shapkit.explain(
        lambda Z: np.column_stack([1 - _logistic_proba(Z), _logistic_proba(Z)]), X, X, seed=0
    )
    np.testing.assert_array_equal(expl.values, reference.values)
    # positional columns (a DataFrame built from an array) keep classes_ order
    positional = _frame_proba_classifier([0, 1])().fit(X, None)
    expl = shapkit.explain(positional, X, background=X, seed=0)
    np.testing.assert_allclose(expl.predictions[:, 0], _logistic_proba(X), rtol=1e-15)


def test_frame_outputs_whose_labels_are_not_the_classes_raise():
    X = pd.DataFrame({"a": [2.0, -1.0], "b": [0.0, 1.0]})
    model = _frame_proba_classifier(["yes", "no"])().fit(X, None)
    with pytest.raises(shapkit.ModelOutputError, match=r"columns \['yes', 'no'\], which are not"):
        shapkit.explain(model, X, background=X)
    with pytest.raises(shapkit.ModelOutputError, match=r"decision_function returned a DataFrame"):
        shapkit.explain(model, X, background=X, output="decision")


def test_sparse_predictions_are_densified():
    import scipy.sparse
    from sklearn.base import BaseEstimator, RegressorMixin

    class SparseOut(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            self.n_features_in_ = 2
            return self

        def predict(self, X):
            X = np.asarray(X)
            return scipy.sparse.csr_matrix((X[:, 0] * 2 + X[:, 1])[:, None])

    X = np.random.default_rng(3).normal(size=(6, 2))
    expl = shapkit.explain(SparseOut().fit(X, None), X[:2], background=X[2:], seed=0)
    reference = shapkit.explain(lambda Z: Z[:, 0] * 2 + Z[:, 1], X[:2], X[2:], seed=0)
    np.testing.assert_array_equal(expl.values, reference.values)


def test_tensors_that_require_grad_are_detached():
    torch = pytest.importorskip("torch")
    X = np.random.default_rng(4).normal(size=(6, 3))
    weight = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)

    def model(Z):
        return torch.as_tensor(Z) @ weight  # requires grad

    expl = shapkit.explain(model, X[:2], background=X[2:], seed=0)
    expected = (X[:2] - X[2:].mean(axis=0)) * np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(expl.values, expected, rtol=0, atol=1e-12)
    game = shapkit.shapley_values(lambda m: torch.as_tensor(m * 1.0) @ weight, 3)
    np.testing.assert_allclose(game.values, [1.0, -2.0, 0.5], rtol=0, atol=1e-12)


def test_outlier_detectors_explain_their_decision_function():
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import LocalOutlierFactor
    from sklearn.svm import OneClassSVM

    X = np.random.default_rng(5).normal(size=(12, 3))  # LOF warns about names on frames
    for detector in (
        IsolationForest(n_estimators=5, random_state=0),
        OneClassSVM(gamma=0.5),
        LocalOutlierFactor(n_neighbors=4, novelty=True),
    ):
        detector.fit(X)
        expl = shapkit.explain(detector, X[:2], background=X, output="decision", seed=0)
        assert expl.output_names == ["decision"]
        score = lambda Z, d=detector: d.decision_function(Z)  # noqa: E731
        reference = shapkit.explain(score, X[:2], background=X, seed=0)
        np.testing.assert_array_equal(expl.values, reference.values)
        np.testing.assert_allclose(expl.predictions, detector.decision_function(X[:2]))
        labels = shapkit.explain(detector, X[:2], background=X, seed=0)  # auto: predict
        np.testing.assert_array_equal(labels.predictions, detector.predict(X[:2]))


# --------------------------------------------------------------------------- boosters


def _booster_data():
    rng = np.random.default_rng(6)
    X = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    y = (X["a"] + X["b"] * X["c"] > 0).astype(int)
    return X, y


def test_xgboost_booster_with_every_method():
    xgb = pytest.importorskip("xgboost")
    X, y = _booster_data()
    params = {"objective": "binary:logistic", "max_depth": 2, "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=4)
    rows, background = X.iloc[:3], X.iloc[:30]
    tree = shapkit.explain(booster, rows, background, method="tree", output="margin")
    for output in ("margin", "decision"):
        exact = shapkit.explain(booster, rows, background, method="exact", output=output)
        np.testing.assert_allclose(exact.values, tree.values, rtol=0, atol=1e-5)
        assert exact.output_names == ["margin"]
    # the default output is the booster's own prediction (probabilities here)
    exact = shapkit.explain(booster, rows, background, method="exact")
    np.testing.assert_allclose(exact.predictions, booster.predict(xgb.DMatrix(rows)), rtol=1e-6)
    reference = shapkit.explain(
        lambda Z: booster.predict(xgb.DMatrix(Z)), rows, background, method="exact"
    )
    # the booster's games run on its compiled trees (sigmoid of the float32 margin)
    assert exact.settings["evaluated_on"].startswith("compiled trees: the sigmoid")
    assert reference.settings["evaluated_on"] == "model calls"
    np.testing.assert_allclose(exact.values, reference.values, rtol=0, atol=1e-6)
    kernel = shapkit.explain(booster, rows, background, method="kernel", budget=10, seed=0)
    np.testing.assert_allclose(kernel.values, exact.values, rtol=0, atol=1e-6)  # d = 3
    # an ndarray X: the booster's feature names are passed along
    array = shapkit.explain(booster, rows.to_numpy(), background.to_numpy(), method="exact")
    np.testing.assert_array_equal(array.values, exact.values)
    with pytest.raises(ValueError, match=r"Unknown output='proba' for a xgboost Booster"):
        shapkit.explain(booster, rows, background, method="exact", output="proba")


def test_lightgbm_booster_margin_with_every_method():
    lgb = pytest.importorskip("lightgbm")
    X, y = _booster_data()
    params = {"objective": "binary", "num_leaves": 4, "verbose": -1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=4)
    rows, background = X.iloc[:3], X.iloc[:30]
    tree = shapkit.explain(booster, rows, background, method="tree", output="margin")
    for output in ("margin", "decision"):
        exact = shapkit.explain(booster, rows, background, method="exact", output=output)
        np.testing.assert_allclose(exact.values, tree.values, rtol=0, atol=1e-9)
    exact = shapkit.explain(booster, rows, background, method="exact")
    np.testing.assert_allclose(exact.predictions, booster.predict(rows), rtol=1e-12)
