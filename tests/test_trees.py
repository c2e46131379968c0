"""Tree readers: the flat ensemble's Numba predict equals every model's own output."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder, PolynomialFeatures, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from shapkit.trees import TreeNotSupportedError, read_tree_model

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")

warnings.filterwarnings("ignore", message=".*feature names.*")

N, D = 300, 5


def make_data(nan: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    X[:, 4] = rng.integers(0, 6, N)  # a small-integer column (categorical for some models)
    X[::7, 2] = 0.0
    y = X[:, 0] + X[:, 1] ** 2 + (X[:, 4] % 2) - 0.5 * X[:, 2] * X[:, 3]
    if nan:
        X[rng.random(X.shape) < 0.1] = np.nan
    yc = (y > 0.5).astype(int) + (y > 1.5)
    yb = (y > 1.0).astype(int)
    return X, y, yb, yc


def own_output(model, X):
    """The model's own output in the space the trees add up in."""
    if isinstance(model, (xgb.XGBModel,)):
        return model.predict(X, output_margin=True)
    if isinstance(model, lgb.LGBMModel):
        return model.predict(X, raw_score=True)
    if hasattr(model, "decision_function"):
        return model.decision_function(X)
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)
    return model.predict(X)


LGB = dict(n_estimators=25, num_leaves=8, min_child_samples=5, verbose=-1)
CASES = [
    # (id, factory, target, supports NaN, fit kwargs)
    ("dt_reg", lambda: DecisionTreeRegressor(max_depth=6), "y", True, {}),
    ("dt_clf", lambda: DecisionTreeClassifier(max_depth=6), "yc", True, {}),
    ("rf_reg", lambda: RandomForestRegressor(15, max_depth=6, random_state=0), "y", True, {}),
    ("rf_clf", lambda: RandomForestClassifier(15, max_depth=6, random_state=0), "yc", True, {}),
    ("rf_bin", lambda: RandomForestClassifier(15, random_state=0), "yb", True, {}),
    ("et_reg", lambda: ExtraTreesRegressor(15, max_depth=6, random_state=0), "y", True, {}),
    ("et_clf", lambda: ExtraTreesClassifier(15, max_depth=6, random_state=0), "yc", True, {}),
    ("gb_reg", lambda: GradientBoostingRegressor(n_estimators=25, random_state=0), "y", False,
     {}),
    ("gb_bin", lambda: GradientBoostingClassifier(n_estimators=25, random_state=0), "yb", False,
     {}),
    ("gb_multi", lambda: GradientBoostingClassifier(n_estimators=15, random_state=0), "yc",
     False, {}),
    ("gb_huber", lambda: GradientBoostingRegressor(n_estimators=15, loss="huber", init="zero"),
     "y", False, {}),
    ("hgb_reg", lambda: HistGradientBoostingRegressor(max_iter=25), "y", True, {}),
    ("hgb_bin", lambda: HistGradientBoostingClassifier(max_iter=25), "yb", True, {}),
    ("hgb_multi", lambda: HistGradientBoostingClassifier(max_iter=15), "yc", True, {}),
    ("hgb_cat", lambda: HistGradientBoostingClassifier(max_iter=25, categorical_features=[4]),
     "yb", True, {}),
    ("hgb_poisson", lambda: HistGradientBoostingRegressor(max_iter=25, loss="poisson"), "pos",
     True, {}),
    ("xgb_reg", lambda: xgb.XGBRegressor(n_estimators=25, max_depth=4), "y", True, {}),
    ("xgb_bin", lambda: xgb.XGBClassifier(n_estimators=25, max_depth=4), "yb", True, {}),
    ("xgb_multi", lambda: xgb.XGBClassifier(n_estimators=10, max_depth=3), "yc", True, {}),
    ("xgb_poisson", lambda: xgb.XGBRegressor(n_estimators=20, objective="count:poisson"), "pos",
     True, {}),
    ("xgb_rf", lambda: xgb.XGBRFRegressor(n_estimators=8, max_depth=4), "y", True, {}),
    ("lgb_reg", lambda: lgb.LGBMRegressor(**LGB), "y", True, {}),
    ("lgb_bin", lambda: lgb.LGBMClassifier(**LGB), "yb", True, {}),
    ("lgb_multi", lambda: lgb.LGBMClassifier(**{**LGB, "n_estimators": 10}), "yc", True, {}),
    ("lgb_cat", lambda: lgb.LGBMClassifier(**LGB), "yb", True, {"categorical_feature": [4]}),
    ("lgb_no_missing", lambda: lgb.LGBMRegressor(**LGB, use_missing=False), "y", True, {}),
    ("lgb_zero_missing", lambda: lgb.LGBMRegressor(**LGB, zero_as_missing=True), "y", True, {}),
    ("lgb_rf", lambda: lgb.LGBMRegressor(**LGB, boosting_type="rf", bagging_freq=1,
                                         bagging_fraction=0.5), "y", True, {}),
]  # fmt: skip


def fitted(case_id: str, nan: bool = True):
    _, factory, target, supports_nan, kwargs = next(c for c in CASES if c[0] == case_id)
    X, y, yb, yc = make_data(nan and supports_nan)
    t = {"y": y, "yb": yb, "yc": yc, "pos": np.exp(y / 3)}[target]
    return factory().fit(X, t, **kwargs), X


def tolerance(model, own):
    # XGBoost sums its trees in float32: ~1e-7 relative per tree
    rel = 1e-6 if isinstance(model, xgb.XGBModel) else 1e-9
    return 1e-6 + rel * np.abs(own)


@pytest.mark.parametrize("case_id", [c[0] for c in CASES])
def test_predict_matches_model(case_id):
    model, X = fitted(case_id)
    tm = read_tree_model(model)
    ours = tm.ensemble.predict(tm.to_features(X))
    own = np.asarray(own_output(model, X), dtype=np.float64).reshape(X.shape[0], -1)
    if case_id == "hgb_poisson":  # predict is exp(margin); the margin is what the trees sum
        own = np.log(model.predict(X))[:, None]
    if case_id == "lgb_rf":
        own = own / 25  # LightGBM's raw_score of a forest is the sum; predictions average
    assert ours.shape == own.shape
    assert np.all(np.abs(ours - own) <= tolerance(model, own))
    assert np.allclose(tm.native(X), ours, rtol=1e-6, atol=1e-6)
    if np.isnan(X).any():
        rows = np.isnan(X).any(axis=1)
        assert np.all(np.abs(ours[rows] - own[rows]) <= tolerance(model, own[rows]))


@pytest.mark.parametrize(
    ("case_id", "space", "names"),
    [
        ("rf_clf", "probability", [0, 1, 2]),
        ("rf_reg", "raw", ["prediction"]),
        ("gb_bin", "margin", [1]),
        ("gb_multi", "margin", [0, 1, 2]),
        ("hgb_poisson", "margin", ["margin"]),
        ("xgb_bin", "margin", [1]),
        ("xgb_poisson", "margin", ["margin"]),
        ("xgb_reg", "raw", ["prediction"]),
        ("lgb_multi", "margin", [0, 1, 2]),
    ],
)
def test_space_and_output_names(case_id, space, names):
    tm = read_tree_model(fitted(case_id)[0])
    assert tm.space == space
    assert tm.output_names == names
    assert [type(name) for name in tm.output_names] == [type(name) for name in names]


def test_boosters():
    model, X = fitted("xgb_bin")
    tm = read_tree_model(model.get_booster())
    assert tm.space == "margin" and tm.output_names == ["margin"]
    own = model.predict(X, output_margin=True)[:, None]
    assert np.all(np.abs(tm.ensemble.predict(X) - own) <= tolerance(model, own))
    model, X = fitted("lgb_multi")
    tm = read_tree_model(model.booster_)
    assert np.allclose(tm.ensemble.predict(X), model.predict(X, raw_score=True), atol=1e-9)
    reg, X = fitted("lgb_reg")
    assert read_tree_model(reg.booster_).space == "raw"


def test_early_stopping_uses_best_iteration():
    X, y, _, _ = make_data(False)
    model = xgb.XGBRegressor(n_estimators=200, max_depth=3, early_stopping_rounds=3,
                             learning_rate=0.5)  # fmt: skip
    model.fit(X[:200], y[:200], eval_set=[(X[200:], y[200:])], verbose=False)
    assert model.best_iteration < 199
    tm = read_tree_model(model)
    own = model.predict(X, output_margin=True)[:, None]
    assert np.all(np.abs(tm.ensemble.predict(X) - own) <= tolerance(model, own))


def test_base_offset_and_combination():
    model, X = fitted("rf_reg")
    tm = read_tree_model(model)
    assert tm.ensemble.combine == "average" and np.all(tm.ensemble.base_offset == 0)
    gb, X = fitted("gb_reg")
    ens = read_tree_model(gb).ensemble
    assert ens.combine == "sum"
    assert np.isclose(ens.base_offset[0], gb.init_.constant_[0, 0])
    assert ens.max_depth == 3


def test_hgb_categorical_from_pandas():
    X, _, yb, _ = make_data(True)
    df = pd.DataFrame(X, columns=list("abcde"))
    df["e"] = pd.Categorical(np.array(["u", "v", "w", "x", "y", "z"])[
        np.nan_to_num(X[:, 4], nan=0).astype(int)])  # fmt: skip
    df = df[["e", "a", "b", "c", "d"]].iloc[:, ::-1]  # the category not first
    model = HistGradientBoostingClassifier(max_iter=20, categorical_features="from_dtype")
    model.fit(df, yb)
    tm = read_tree_model(model)
    assert np.allclose(tm.ensemble.predict(tm.to_features(df))[:, 0],
                       model.decision_function(df), atol=1e-9)  # fmt: skip


def test_pipeline_with_column_maps():
    X, y, _, _ = make_data(True)
    frame = pd.DataFrame(X, columns=list("abcde"))
    frame["s"] = np.array(["lo", "mid", "hi"])[np.arange(N) % 3]
    pipe = make_pipeline(OrdinalEncoder(encoded_missing_value=np.nan),
                         HistGradientBoostingRegressor(max_iter=20))  # fmt: skip
    pipe.fit(frame, y + (frame["s"] == "hi"))
    tm = read_tree_model(pipe)
    assert np.allclose(tm.ensemble.predict(tm.to_features(frame))[:, 0], pipe.predict(frame))
    scaled = make_pipeline(StandardScaler(), RandomForestRegressor(5, random_state=0))
    scaled.fit(X, y)
    tm = read_tree_model(scaled)
    assert np.allclose(tm.ensemble.predict(tm.to_features(X))[:, 0], scaled.predict(X))


def _dart_booster(X, y, reload=False):
    """A DART Booster with dropout, trained by ``xgb.train`` (no sklearn wrapper); with
    ``reload``, saved and read back, so only the saved model tells that it is DART."""
    booster = xgb.train({"booster": "dart", "rate_drop": 0.5, "seed": 0}, xgb.DMatrix(X, y), 3)
    return xgb.Booster(model_file=bytearray(booster.save_raw("json"))) if reload else booster


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda X, y: LinearRegression().fit(X, y), "not supported"),
        (
            lambda X, y: GradientBoostingRegressor(n_estimators=3, init=LinearRegression()).fit(
                X, y
            ),
            "init",
        ),
        # XGBoost <= 3.2 saves DART as its own booster; 3.3+ trains it as "gbtree" (with
        # dropout, the tree weights in model.weight_drop): all of these must be refused.
        (lambda X, y: xgb.XGBRegressor(n_estimators=3, booster="dart").fit(X, y), "dart"),
        pytest.param(
            lambda X, y: xgb.XGBRegressor(n_estimators=3, booster="dart", rate_drop=0.5).fit(X, y),
            "dart",
            id="dart-dropout",
        ),
        pytest.param(lambda X, y: _dart_booster(X, y), "dart", id="dart-booster"),
        pytest.param(lambda X, y: _dart_booster(X, y, True), "dart", id="dart-booster-reloaded"),
        (lambda X, y: xgb.XGBRegressor(n_estimators=3, booster="gblinear").fit(X, y), "gblinear"),
        (
            lambda X, y: lgb.LGBMRegressor(n_estimators=3, linear_tree=True, verbose=-1).fit(X, y),
            "linear trees",
        ),
        (
            lambda X, y: make_pipeline(PolynomialFeatures(), DecisionTreeRegressor()).fit(X, y),
            "PolynomialFeatures",
        ),
        (lambda X, y: DecisionTreeClassifier().fit(X, np.c_[y > 0, y > 1]), "Multi-output"),
        (lambda X, y: lambda X, y: X, "not a tree model"),
    ],
)
@pytest.mark.filterwarnings("ignore:.*`booster=(dart|gblinear)` is deprecated:UserWarning")
def test_unsupported_raise_clearly(make, match):
    X, y, _, _ = make_data(False)
    model = make(X, y)
    with pytest.raises(TreeNotSupportedError, match=match):
        read_tree_model(model)
    assert issubclass(TreeNotSupportedError, ValueError)


def test_native_categoricals_with_integer_categories_are_read():
    X, _, yb, _ = make_data(False)
    df = pd.DataFrame(X, columns=list("abcde"))
    df["e"] = df["e"].astype(int).astype("category")
    xgb_model = xgb.XGBClassifier(n_estimators=3, enable_categorical=True, tree_method="hist")
    lgb_model = lgb.LGBMClassifier(n_estimators=3, verbose=-1, min_data_per_group=5)
    for model in (xgb_model.fit(df, yb), lgb_model.fit(df, yb)):
        tm = read_tree_model(model)
        assert (tm.ensemble.decision >= 4).any()  # categorical splits were read
        ours = tm.ensemble.predict(tm.features(df))[:, 0]
        if isinstance(model, xgb.XGBModel):
            own = model.predict(df, output_margin=True)
        else:
            own = model.predict(df, raw_score=True)
        assert np.allclose(ours, own, rtol=0, atol=1e-5)


def test_float32_rounding_matches_sklearn_near_thresholds():
    model, X = fitted("rf_reg", nan=False)
    tm = read_tree_model(model)
    ens = tm.ensemble
    internal = ens.feature >= 0
    # rows sitting exactly on (float64) thresholds and one float64 ulp around them
    rng = np.random.default_rng(1)
    rows = np.tile(X[:1], (300, 1))
    nodes = rng.choice(np.flatnonzero(internal), 300)
    rows[np.arange(300), ens.feature[nodes]] = ens.threshold[nodes] + rng.choice(
        [-1e-12, 0.0, 1e-12], 300
    )
    assert np.allclose(ens.predict(rows)[:, 0], model.predict(rows), atol=1e-12)


def test_row_chunks_cover_every_row_once_on_a_pool_kept_between_calls():
    import numba

    from shapkit.trees import ensemble

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two Numba threads")
    seen = np.zeros(1000, dtype=int)

    def mark(start, stop):
        seen[start:stop] += 1

    before = numba.get_num_threads()
    try:
        numba.set_num_threads(2)
        ensemble.run_row_chunks(mark, 1000, work_per_row=100.0)
        pool = ensemble._POOL[2]
        ensemble.run_row_chunks(mark, 1000, work_per_row=100.0, chunks_per_thread=1)
        assert ensemble._POOL[2] is pool  # kept
        numba.set_num_threads(1)
        ensemble.run_row_chunks(mark, 1000, work_per_row=100.0)  # no threads: inline
        assert ensemble._POOL[2] is pool
    finally:
        numba.set_num_threads(before)
    assert (seen == 3).all()

    def fail(start, stop):
        raise RuntimeError(f"rows {start}-{stop}")

    numba.set_num_threads(2)
    try:
        with pytest.raises(RuntimeError, match="rows"):
            ensemble.run_row_chunks(fail, 1000, work_per_row=100.0)
    finally:
        numba.set_num_threads(before)
