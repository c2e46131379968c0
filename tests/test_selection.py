"""ShapSelector / select_features: selection on held-out Shapley values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

import shapkit
from shapkit.selection import (
    ShapSelector,
    bh_adjust,
    f1_cut,
    loss_tests,
    one_standard_error,
    paired_tests,
    probe_tail_tests,
    rank_cut,
    select_features,
    storey_pi0,
)
from shapkit.selection._importance import loss_gain, target_and_loss
from shapkit.selection._selector import REPORT_COLUMNS


def planted_regression(n=400, d=8, seed=0):
    """y depends on x0, x1, x2 only; the other columns are noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = 2.0 * X[:, 0] + 1.5 * X[:, 1] + 1.0 * X[:, 2] + 0.2 * rng.normal(size=n)
    return X, y


def planted_classification(n=400, d=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    logit = 2.5 * X[:, 0] - 2.0 * X[:, 1]
    y = (logit + 0.3 * rng.normal(size=n) > 0).astype(int)
    return X, y


FAST_TREE = DecisionTreeRegressor(max_depth=5, min_samples_leaf=10)
FAST_CLF = DecisionTreeClassifier(max_depth=4, min_samples_leaf=10)


# ----------------------------------------------------------------- planted problems


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_probe_finds_planted_regression_features(seed):
    X, y = planted_regression(seed=seed)
    sel = ShapSelector(FAST_TREE, seed=seed, n_repeats=3).fit(X, y)
    assert sel.get_support(indices=True).tolist() == [0, 1, 2]
    report = sel.report_
    assert set(report.loc[["x3", "x4", "x5", "x6", "x7"], "decision"]) == {"reject"}
    assert (report.loc[["x0", "x1", "x2"], "decision"] == "accept").all()


@pytest.mark.slow  # four probe fits, ~4 s
def test_probe_binary_and_multiclass_classification():
    X, y = planted_classification()
    sel = ShapSelector(FAST_CLF, seed=0, n_repeats=3).fit(X, y)
    assert sel.get_support(indices=True).tolist() == [0, 1]
    rng = np.random.default_rng(3)
    X3 = rng.normal(size=(450, 6))
    y3 = np.digitize(X3[:, 0] + X3[:, 3], [-0.7, 0.7])  # 3 classes
    sel3 = ShapSelector(FAST_CLF, seed=0, n_repeats=3).fit(X3, y3)
    assert sel3.get_support(indices=True).tolist() == [0, 3]
    assert sel3.report_["direction"].isna().all()  # no sign for a sum over classes


def test_linear_classifier_uses_closed_form():
    X, y = planted_classification(d=6)
    report = select_features(LogisticRegression(), X, y, seed=0, n_repeats=2)
    assert report.attrs["shap_method"] == ["linear"]
    assert report.attrs["output_space"] == ["decision"]
    assert report.index[report["selected"]].tolist() == ["x0", "x1"]
    assert report.loc["x0", "direction"] > 0.9 and report.loc["x1", "direction"] < -0.9


def test_null_data_selects_nothing():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 6))
    y = rng.normal(size=300)
    sel = ShapSelector(FAST_TREE, seed=0, n_repeats=3).fit(X, y)
    assert sel.get_support().sum() == 0
    with pytest.warns(UserWarning, match="No features were selected"):
        assert sel.transform(X).shape == (300, 0)


@pytest.mark.slow  # two full probe fits, ~5 s; CI runs it
def test_determinism_under_seed():
    X, y = planted_regression(n=250)
    est = DecisionTreeRegressor(max_depth=4)  # random_state None: seeded by the selector
    a = ShapSelector(est, seed=7, n_repeats=2).fit(X, y).report_
    b = ShapSelector(est, seed=7, n_repeats=2, n_jobs=2).fit(X, y).report_
    pd.testing.assert_frame_equal(a, b)  # parallel fits give the same numbers
    c = ShapSelector(est, seed=8, n_repeats=2).fit(X, y).report_
    assert not np.allclose(a["mean_abs_shap"], c.loc[a.index, "mean_abs_shap"])


# ----------------------------------------------------------------- report


def test_report_columns_attrs_and_decisions():
    X, y = planted_regression()
    report = select_features(FAST_TREE, X, y, seed=0, n_repeats=3)
    assert list(report.columns) == REPORT_COLUMNS
    assert report.index.name == "feature"
    assert report["rank"].tolist() == list(range(1, 9))
    assert set(report["decision"]) <= {"accept", "reject", "tentative"}
    assert (report["selected"] == (report["decision"] == "accept")).all()
    assert np.isclose(report["share"].sum(), 1.0)
    assert (report["ci_low"] <= report["mean_abs_shap"]).all()
    assert (report["mean_abs_shap"] <= report["ci_high"]).all()
    accepted = report[report["selected"]]
    assert (accepted["q_value"] <= 0.05).all() and (accepted["hit_rate"] > 0.5).all()
    assert (accepted["mean_abs_shap"] > accepted["probe_threshold"]).all()
    rejected = report[report["decision"] == "reject"]
    assert (rejected["effect_size"] < 0).all()
    assert report["n_fits"].nunique() == 1 and report["n_fits"].iloc[0] % 5 == 0
    attrs = report.attrs
    assert attrs["strategy"] == "probe" and attrs["shap_method"] == ["tree"]
    assert attrs["n_selected"] == 3 and attrs["seed"] == 0
    assert attrs["select"] == "f1" and attrs["pi0"] is None  # < 50 features: no F1 cut
    assert attrs["n_fits"] == report["n_fits"].iloc[0]


def weak_linear_problem(n=300, d=60, n_relevant=30, seed=0):
    """Many relevant columns of decreasing strength, most of them weak."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = np.zeros(d)
    w[:n_relevant] = np.linspace(0.4, 0.04, n_relevant)
    return X, X @ w + rng.normal(size=n)


def test_select_f1_extends_the_accepted_set_with_weak_features():
    from sklearn.linear_model import LinearRegression

    found_fdr, found_f1, false_f1, added_rejected = 0, 0, 0, 0
    for seed in range(3):
        X, y = weak_linear_problem(seed=seed)
        rep = select_features(LinearRegression(), X, y, seed=seed, select="f1")
        fdr = select_features(LinearRegression(), X, y, seed=seed, select="fdr")
        assert fdr.attrs["select"] == "fdr" and rep.attrs["select"] == "f1"
        assert fdr.attrs["pi0"] is None and 0.3 < rep.attrs["pi0"] < 0.9  # truth: 0.5
        # the same fits and tests: only the selection differs
        pd.testing.assert_series_equal(rep["q_value"], fdr["q_value"].loc[rep.index])
        assert (fdr["selected"] == (fdr["decision"] == "accept")).all()
        sel_f1, sel_fdr = rep["selected"], fdr["selected"].loc[rep.index]
        assert (sel_f1 | ~sel_fdr).all()  # f1 keeps every feature fdr keeps
        relevant = rep.index.isin([f"x{j}" for j in range(30)])
        found_fdr += int((sel_fdr & relevant).sum())
        found_f1 += int((sel_f1 & relevant).sum())
        false_f1 += int((sel_f1 & ~relevant).sum())
        # half the features look relevant (pi0 < 0.8): the cut may also add features
        # the reverse test rejected (weak relevant ones below the strongest probe)
        added_rejected += int((sel_f1 & (rep["q_value_reject"] <= 0.05)).sum())
    # 90 relevant in all: F1 keeps 69 of them and 4 noise columns, FDR 53 and none
    assert found_f1 >= found_fdr + 10
    assert false_f1 <= 4  # about one noise column per data set
    assert added_rejected > 0
    assert 2 * found_f1 / (found_f1 + false_f1 + 90) > 2 * found_fdr / (found_fdr + 90)


def f1_score(keep: np.ndarray, relevant: np.ndarray) -> float:
    return 2 * (keep & relevant).sum() / (keep.sum() + relevant.sum())


def test_f1_cut_against_the_oracle_on_a_known_mixture():
    relevant = np.arange(100) >= 60

    def f1(keep):
        return f1_score(keep, relevant)

    f1_rule, f1_bh, f1_oracle = [], [], []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        p = np.concatenate([rng.uniform(size=60), rng.beta(0.2, 4.0, size=40)])
        f1_rule.append(f1(f1_cut(p)))
        f1_bh.append(f1(bh_adjust(p) <= 0.05))
        f1_oracle.append(max(f1(p <= t) for t in p))
    assert np.mean(f1_rule) > np.mean(f1_bh) + 0.05
    assert np.mean(f1_rule) > 0.9 * np.mean(f1_oracle)
    # nothing relevant: pi0 = 1, and at most the odd smallest p-value is kept
    p0 = np.random.default_rng(0).uniform(size=100)
    assert f1_cut(p0).sum() <= 2


def test_f1_cut_uses_a_known_number_of_relevant_features():
    # slightly conservative null p-values push Storey's pi0 to about 1: the cut alone
    # then assumes almost no relevant feature and keeps fewer than BH already found
    relevant = np.arange(250) >= 225
    plain, bounded, pi0 = [], [], []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        p = np.concatenate([rng.beta(1.3, 1.0, size=225), 1e-8 * rng.uniform(size=15),
                            10 ** rng.uniform(-4, -1.5, size=10)])  # fmt: skip
        found = 0.95 * int((bh_adjust(p) <= 0.05).sum())
        pi0.append(storey_pi0(p))
        assert storey_pi0(p, min_relevant=found) == min(pi0[-1], 1 - found / 250)
        assert (f1_cut(p, min_relevant=0.0) == f1_cut(p)).all()
        plain.append(f1_score(f1_cut(p), relevant))
        bounded.append(f1_score(f1_cut(p, min_relevant=found), relevant))
    # measured: pi0 0.98 (truth 0.9); F1 0.42 without the bound, 0.92 with it
    assert np.mean(pi0) > 0.95
    assert np.mean(plain) < 0.6 and np.mean(bounded) > 0.85
    with pytest.raises(ValueError, match="min_relevant"):
        f1_cut(np.array([0.1, 0.5]), min_relevant=-1.0)


def test_max_features_caps_probe_selection():
    X, y = planted_regression()
    sel = ShapSelector(FAST_TREE, seed=0, max_features=2, n_repeats=2).fit(X, y)
    assert sel.get_support(indices=True).tolist() == [0, 1]  # x2 is the weakest
    assert sel.report_.loc["x2", "decision"] == "accept"


# ----------------------------------------------------------------- rank and rfe


def test_rank_cut_max_features_and_share():
    imp = np.array([0.05, 0.5, 0.3, 0.15, 0.0])
    assert rank_cut(imp, 2, None).tolist() == [False, True, True, False, False]
    assert rank_cut(imp, None, 0.8).tolist() == [False, True, True, False, False]
    assert rank_cut(imp, None, 0.81).tolist() == [False, True, True, True, False]
    assert rank_cut(imp, None, 1.0).tolist() == [True, True, True, True, False]
    assert rank_cut(imp, 1, 0.95).tolist() == [False, True, False, False, False]
    assert rank_cut(imp, None, None).sum() == 3  # share 0.9 by default
    assert not rank_cut(np.zeros(3), None, 0.9).any()


def test_rank_method():
    X, y = planted_regression()
    sel = ShapSelector(FAST_TREE, strategy="rank", max_features=2, seed=0).fit(X, y)
    assert sel.get_support(indices=True).tolist() == [0, 1]
    report = sel.report_
    assert report["p_value"].isna().all() and report["probe_threshold"].isna().all()
    assert report.index[:2].tolist() == ["x0", "x1"]
    shares = ShapSelector(FAST_TREE, strategy="rank", share=0.99, seed=0).fit(X, y)
    assert {0, 1, 2} <= set(shares.get_support(indices=True))


def test_sage_importance_ranks_and_tests_by_loss_reduction():
    """importance="sage": the report's importance is the held-out SAGE value (mean over
    fits), the probe test finds the planted features, the rank cut keeps them."""
    X, y = planted_regression()
    sel = ShapSelector(FAST_TREE, importance="sage", n_repeats=2, cv=3, seed=0).fit(X, y)
    report = sel.report_
    assert "mean_sage" in report.columns and "mean_abs_shap" not in report.columns
    assert report.attrs["importance"] == "sage" and report.attrs["output_space"] == ["mse"]
    assert report["loss_gain"].isna().all()  # SAGE is the loss gain: no separate test
    assert {0, 1} <= set(sel.get_support(indices=True))
    assert report.loc["x0", "mean_sage"] > report.loc["x1", "mean_sage"] > 0
    ranked = shapkit.select_features(FAST_TREE, X, y, strategy="rank", importance="sage",
                                     max_features=2, seed=0)  # fmt: skip
    assert ranked.index[:2].tolist() == ["x0", "x1"] and ranked["selected"].sum() == 2
    with pytest.raises(ValueError, match="importance='loss'"):
        ShapSelector(FAST_TREE, importance="loss").fit(X, y)


def test_one_standard_error_rule_on_constructed_curve():
    sizes = np.array([1, 2, 3, 4, 5, 6])
    means = np.array([0.60, 0.80, 0.86, 0.90, 0.89, 0.88])
    ses = np.array([0.02, 0.02, 0.02, 0.05, 0.02, 0.02])
    assert one_standard_error(sizes, means, ses) == (2, 3)  # 0.86 >= 0.90 - 0.05
    assert one_standard_error(sizes, means, np.zeros(6)) == (3, 3)
    # order of sizes does not matter (elimination goes from large to small)
    assert one_standard_error(sizes[::-1], means[::-1], ses[::-1]) == (3, 2)
    # NaN scores are ignored, NaN standard errors count as 0
    means_nan = np.array([np.nan, 0.80, 0.86, 0.90, 0.89, 0.88])
    assert one_standard_error(sizes, means_nan, np.full(6, np.nan)) == (3, 3)
    with pytest.raises(ValueError, match="one length"):
        one_standard_error(sizes, means[:3], ses)


def test_rfe_method_curve_and_plot():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    X, y = planted_regression(n=300, d=6)
    sel = ShapSelector(FAST_TREE, strategy="rfe", step=1, seed=0).fit(X, y)
    curve = sel.rfe_scores_
    assert curve["n_features"].tolist() == [6, 5, 4, 3, 2, 1]
    assert list(curve.columns) == ["n_features", "mean_score", "std_error", "features",
                                   "chosen", "best"]  # fmt: skip
    chosen = curve[curve["chosen"]].iloc[0]
    i, _ = one_standard_error(curve["n_features"].to_numpy(), curve["mean_score"].to_numpy(),
                              curve["std_error"].to_numpy())  # fmt: skip
    assert chosen["n_features"] == curve["n_features"].iloc[i]
    assert {0, 1} <= set(sel.get_support(indices=True))
    assert sel.report_["rank"].is_monotonic_increasing
    assert set(sel.report_.index[:3]) == {"x0", "x1", "x2"}
    ax = sel.plot_rfe()
    assert ax.get_xlabel() == "number of features"
    with pytest.raises(ValueError, match="strategy='rfe'"):
        ShapSelector(FAST_TREE, strategy="rank", seed=0).fit(X, y).plot_rfe()


# ----------------------------------------------------------------- sklearn integration


def test_pipeline_and_grid_search():
    X, y = planted_classification(n=300, d=6)
    pipe = Pipeline(
        [
            ("select", ShapSelector(FAST_CLF, seed=0, n_repeats=2, cv=4)),
            ("model", LogisticRegression()),
        ]
    )
    pipe.fit(X, y)
    assert pipe.named_steps["select"].get_support(indices=True).tolist() == [0, 1]
    assert pipe.score(X, y) > 0.85
    grid = GridSearchCV(pipe, {"select__strategy": ["probe", "rank"]}, cv=2)
    grid.fit(X, y)
    assert grid.best_params_["select__strategy"] in ("probe", "rank")
    params = ShapSelector(FAST_CLF, alpha=0.1).get_params()
    assert params["alpha"] == 0.1 and "estimator__max_depth" in params
    assert clone(ShapSelector(FAST_CLF, alpha=0.1)).alpha == 0.1


def test_dataframe_names_kept():
    X, y = planted_regression()
    names = ["age", "income", "score", "n1", "n2", "n3", "n4", "n5"]
    df = pd.DataFrame(X, columns=names, index=np.arange(1000, 1400))  # odd index on purpose
    sel = ShapSelector(FAST_TREE, seed=0, n_repeats=2).fit(df, pd.Series(y, index=df.index))
    assert sel.get_feature_names_out().tolist() == ["age", "income", "score"]
    out = sel.transform(df)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["age", "income", "score"]
    assert sel.report_.index[:3].tolist() == ["age", "income", "score"]
    assert sel.report_.loc["age", "direction"] > 0.9


def test_string_and_categorical_columns_through_a_pipeline():
    rng = np.random.default_rng(0)
    n = 500
    city = rng.choice(["paris", "rome", "oslo", "lima"], n)
    colour = pd.Categorical(rng.choice(["red", "blue", "green"], n))
    noise_city = rng.choice([f"c{i}" for i in range(30)], n)  # high cardinality, noise
    num = rng.normal(size=n)
    noise = rng.normal(size=n)
    y = (np.where(city == "rome", 2.0, 0.0) + np.where(colour == "red", -1.5, 0.0) + num
         + 0.2 * rng.normal(size=n))  # fmt: skip
    df = pd.DataFrame({"city": city, "colour": colour, "noise_city": noise_city,
                       "num": num, "noise": noise})  # fmt: skip
    encoder = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "colour", "noise_city"])],
        remainder="passthrough",
    )
    model = make_pipeline(encoder, DecisionTreeRegressor(max_depth=5, min_samples_leaf=10))
    # the one-hot Pipeline has no closed form: values are sampled, so keep the rows few
    kw = dict(seed=0, n_repeats=2, n_probes=3, max_rows=40, background_size=15)
    sel = ShapSelector(model, **kw).fit(df, y)
    assert sel.get_feature_names_out().tolist() == ["city", "colour", "num"]
    report = sel.report_
    assert report.loc["noise_city", "decision"] == "reject"
    assert np.isnan(report.loc["city", "direction"])  # strings: no direction
    # the selected columns feed a downstream pipeline that encodes by dtype
    from sklearn.compose import make_column_selector

    down = make_pipeline(
        ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"),
              make_column_selector(dtype_exclude="number"))],
            remainder="passthrough",
        ),
        DecisionTreeRegressor(max_depth=5),
    )  # fmt: skip
    small = sel.transform(df)
    assert list(small.dtypes) == list(df[["city", "colour", "num"]].dtypes)
    assert down.fit(small, y).score(small, y) > 0.8


def test_positional_column_transformers_get_their_probes_and_survive_rfe():
    """A ColumnTransformer that selects columns by position must encode the probes too
    (with remainder="drop" they were dropped: every probe 0, noise "beat" them)."""
    from shapkit.selection._importance import adapt_columns

    labels = ["f0", "f1", "f2", "f3"]
    for cols in ([0, 1, 2, 3], slice(0, 4), np.ones(4, bool)):
        ct = ColumnTransformer([("s", StandardScaler(), cols)])
        extra = {"probe0": "f1", "probe1": "f3"}
        rewired = adapt_columns(make_pipeline(ct, LinearRegression()), labels, extra, labels)
        assert rewired.steps[0][1].transformers[0][2] == [0, 1, 2, 3, 4, 5]
        kept = adapt_columns(
            ColumnTransformer([("s", StandardScaler(), cols)]), ["f0", "f2", "f3"], {}, labels
        )
        assert kept.transformers[0][2] == [0, 1, 2]
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(90, 4)), columns=labels)
    y = 2 * X.f0 + rng.normal(size=90)
    kw = dict(seed=0, cv=3, n_repeats=2, max_rows=15, n_probes=2, background_size=10)
    reports = []
    for cols in ([0, 1, 2, 3], labels):
        est = make_pipeline(ColumnTransformer([("s", StandardScaler(), cols)]), LinearRegression())
        reports.append(ShapSelector(est, strategy="probe", select="fdr", **kw).fit(X, y).report_)
        ShapSelector(est, strategy="rfe", **kw).fit(X, y)  # dropping a column kept working
    pd.testing.assert_frame_equal(reports[0], reports[1])
    assert (reports[0]["probe_threshold"] > 0).all()


# ----------------------------------------------------------------- errors


def test_too_few_fits_warns():
    X, y = planted_regression(n=120)
    with pytest.warns(UserWarning, match="too few fits"):
        ShapSelector(FAST_TREE, seed=0, n_repeats=1, cv=3).fit(X, y)


def test_errors_for_bad_input():
    X, y = planted_regression(n=60)
    with pytest.raises(ValueError, match="inconsistent numbers of samples|one target per row"):
        ShapSelector(FAST_TREE).fit(X, y[:-1])
    with pytest.raises(ValueError, match="only 1 class"):
        ShapSelector(FAST_CLF).fit(X, np.zeros(60, dtype=int))
    with pytest.raises(ValueError, match="y is constant"):
        ShapSelector(FAST_TREE).fit(X, np.full(60, 3.0))
    with pytest.raises(ValueError, match="requires y to be passed"):
        ShapSelector(FAST_TREE).fit(X, None)
    with pytest.raises(ValueError, match="strategy=.lasso."):
        ShapSelector(FAST_TREE, strategy="lasso").fit(X, y)
    with pytest.raises(ValueError, match="select='all'"):
        ShapSelector(FAST_TREE, select="all").fit(X, y)
    with pytest.raises(ValueError, match="alpha"):
        ShapSelector(FAST_TREE, alpha=1.5).fit(X, y)
    with pytest.raises(ValueError, match="max_features"):
        ShapSelector(FAST_TREE, max_features=0).fit(X, y)
    with pytest.raises(ValueError, match="step"):
        ShapSelector(FAST_TREE, step=0).fit(X, y)
    with pytest.raises(ValueError, match="1-D"):
        ShapSelector(FAST_TREE).fit(X, np.c_[y, y])
    with pytest.raises(ValueError, match=r"DecisionTreeRegressor is a regressor, but y holds "
                                         r"values that are not numbers, e\.g\. 'a'"):  # fmt: skip
        ShapSelector(FAST_TREE).fit(X, np.array(["a", "b"] * 30))
    df = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    with pytest.warns(UserWarning, match="too few fits for the Wilcoxon test"):
        sel = ShapSelector(FAST_TREE, seed=0, n_repeats=1, cv=2).fit(df, y)
    with pytest.raises(ValueError, match="expecting 3 features|feature names"):
        sel.transform(df[["a", "b"]])


def test_estimators_and_columns_the_selector_cannot_use_are_named():
    X, y = planted_regression(n=60)

    class Duck:  # fit/predict without get_params: cannot be cloned per fold
        def fit(self, X, y):
            return self

        def predict(self, X):
            return np.zeros(len(X))

    for estimator, got in ((None, "got None"), (lambda Z: Z.sum(1), "got a function"),
                           (Duck(), "got a Duck without get_params")):  # fmt: skip
        message = rf"needs a scikit-learn estimator \(fit/predict\).*{got}"
        with pytest.raises(TypeError, match=message):
            shapkit.select_features(estimator, X, y)
    df = pd.DataFrame(X[:, :3], columns=["a", "b", "c"]).assign(s=["u", "v"] * 30)
    message = r"X has string columns \['s'\], which DecisionTreeRegressor cannot take.*Pipeline"
    with pytest.raises(ValueError, match=message):
        ShapSelector(FAST_TREE).fit(df, y)
    with pytest.raises(ValueError, match=r"string columns \[3\], which DecisionTreeRegressor"):
        ShapSelector(FAST_TREE).fit(df.to_numpy(), y)
    dd = pytest.importorskip("dask.dataframe")
    with pytest.raises(TypeError, match=r"X is a Dask DataFrame.*X\.compute\(\)"):
        ShapSelector(FAST_TREE).fit(dd.from_pandas(df, npartitions=2), y)


# ----------------------------------------------------------------- statistics


@pytest.mark.slow  # ~3 s of scipy tests; CI runs it
def test_paired_tests_and_bh():
    real = np.array([[2.0, 0.0, 1.0], [3.0, 0.1, 1.0], [2.5, 0.0, 1.0], [2.2, 0.05, 1.0]] * 3)
    threshold = np.ones(12)
    p_gt, p_lt, hit, effect = paired_tests(real, threshold)
    assert p_gt[0] < 0.001 and p_lt[1] < 0.001
    assert p_gt[2] == 1.0 and p_lt[2] == 1.0  # all ties
    assert hit.tolist() == [1.0, 0.0, 0.0] and effect.tolist() == [1.0, -1.0, 0.0]
    q = bh_adjust(np.array([0.01, 0.04, 0.03, 0.5]))
    assert np.allclose(q, [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    assert np.isnan(bh_adjust(np.array([np.nan, 0.2])))[0]


@pytest.mark.parametrize("n_fits", [4, 10, 14, 25])
def test_paired_tests_equal_one_scipy_test_per_feature(n_fits):
    """The columns are tested in groups; each p-value and effect must be the one a test
    of that column alone gives, whichever method scipy picks for it (exact without ties
    or zeros, permutations up to 13 fits, the normal approximation beyond)."""
    from scipy.stats import rankdata, wilcoxon

    rng = np.random.default_rng(n_fits)
    real = np.round(np.abs(rng.normal(size=(n_fits, 12))), 1)  # ties
    real[:, :4] = np.abs(rng.normal(size=(n_fits, 4)))  # no ties
    real[rng.random(real.shape) < 0.2] = 0.0
    real[:, 4] = 0.0  # never used: both zero where the probe is zero
    real[:, 5] = 1.0  # every difference the same where the probe is 0
    threshold = np.abs(rng.normal(size=n_fits)) * (rng.random(n_fits) < 0.8)
    p_gt, p_lt, hit, effect = paired_tests(real, threshold)
    diff = real - threshold[:, None]
    diff = np.where((real == 0) & (threshold[:, None] == 0), -1e-12 * real.max(), diff)
    for j in range(real.shape[1]):
        dj = diff[:, j]
        want_gt = wilcoxon(dj, alternative="greater", zero_method="zsplit").pvalue
        want_lt = wilcoxon(dj, alternative="less", zero_method="zsplit").pvalue
        ranks = rankdata(np.abs(dj))
        want_effect = (ranks[dj > 0].sum() - ranks[dj < 0].sum()) / ranks.sum()
        assert (p_gt[j], p_lt[j], effect[j]) == (want_gt, want_lt, want_effect), j
        assert hit[j] == np.mean(dj > 0)


def test_loss_gain_per_loss():
    # logistic: margin f = 2, label 1; removing +1 costs, removing -1 helps
    g = loss_gain(np.array([[1.0, -1.0, 0.0]]), np.array([2.0]), np.array([1.0]), "logistic")
    expected = [np.log1p(np.exp(-1.0)) - np.log1p(np.exp(-2.0)),
                np.log1p(np.exp(-3.0)) - np.log1p(np.exp(-2.0)), 0.0]  # fmt: skip
    assert np.allclose(g, [expected])
    assert np.allclose(g, [[0.18633368, -0.07834066, 0.0]])
    # softmax over 3 class margins (2, 0, 0), true class 0; feature 0 adds 1 to class 0
    values = np.array([[[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    onehot = np.array([[1.0, 0.0, 0.0]])
    g = loss_gain(values, np.array([[2.0, 0.0, 0.0]]), onehot, "softmax")
    assert np.allclose(g, [[np.log(np.e + 2) - 1 - (np.log(np.e**2 + 2) - 2), 0.0]])
    # squared on class probabilities (Brier): 1.2^2 + 0.1^2 + 0.1^2 - (0.2^2 + 0.1^2 + 0.1^2)
    g = loss_gain(values, np.array([[0.8, 0.1, 0.1]]), onehot, "squared")
    assert np.allclose(g, [[1.4, 0.0]])
    with pytest.raises(ValueError, match="unknown loss"):
        loss_gain(values, onehot, onehot, "hinge")


def test_first_order_loss_gain():
    values = np.array([[1.0, -0.5, 0.0]])
    # squared: -phi L'(f - phi) = 2 phi (y - f + phi) = exact gain + phi^2
    exact = loss_gain(values, np.array([1.5]), np.array([2.0]), "squared")
    first = loss_gain(values, np.array([1.5]), np.array([2.0]), "squared", first_order=True)
    assert np.allclose(first, exact + values**2)
    # logistic: phi (y - sigmoid(f - phi)); margin 2, label 1
    first = loss_gain(values, np.array([2.0]), np.array([1.0]), "logistic", first_order=True)
    assert np.allclose(first, values * (1 - 1 / (1 + np.exp(-(2.0 - values)))))
    # softmax over class margins: sum over classes of phi_k (y_k - softmax(f - phi)_k)
    v3 = np.array([[[1.0, 0.0, 0.0]]])
    first = loss_gain(v3, np.array([[2.0, 0.0, 0.0]]), np.array([[1.0, 0.0, 0.0]]), "softmax",
                      first_order=True)  # fmt: skip
    assert np.allclose(first, [[1.0 - np.e / (np.e + 2)]])


def test_probe_tail_tests():
    rng = np.random.default_rng(1)
    probes = rng.exponential(size=(25, 20))
    noise = rng.exponential(size=(25, 200))
    strong = np.column_stack([np.full(25, 8.0), np.full(25, 15.0)])
    p = probe_tail_tests(np.column_stack([strong, noise]), probes)
    assert p[1] < p[0] < 1e-3  # beyond the largest draw: the exponential tail
    assert (p[2:] > 0.01).all() and 0.0 < p.min() and p.max() <= 1.0
    assert probe_tail_tests(np.zeros((3, 2)), np.zeros((3, 4))).tolist() == [1.0, 1.0]


def test_target_and_loss_follow_the_output_space():
    X, y = planted_classification(n=200)
    labels = np.where(y == 1, "yes", "no")
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, labels)
    proba = tree.predict_proba(X[:4])[:, 1]
    target, loss = target_and_loss(tree, X[:4], proba, labels[:4], True)
    assert loss == "squared" and target.tolist() == (labels[:4] == "yes").astype(float).tolist()
    logit = LogisticRegression().fit(X, labels)
    margin = logit.decision_function(X[:4])
    assert target_and_loss(logit, X[:4], margin, labels[:4], True)[1] == "logistic"
    three = np.digitize(X[:, 0], [-0.5, 0.5])
    multi = LogisticRegression().fit(X, three)
    onehot, loss = target_and_loss(multi, X[:4], multi.decision_function(X[:4]), three[:4], True)
    assert loss == "softmax" and onehot.argmax(axis=1).tolist() == three[:4].tolist()
    assert target_and_loss(tree, X[:2], proba[:2], np.array(["yes", "maybe"]), True) is None
    target, loss = target_and_loss(None, X[:2], np.zeros(2), np.array([1.5, 2.0]), False)
    assert loss == "squared" and target.tolist() == [1.5, 2.0]


def test_loss_tests_over_rows():
    gains = np.array([[0.2, -0.1], [0.4, -0.3], [0.0, 0.0], [0.3, -0.2]])
    counts = np.array([2.0, 1.0, 0.0, 1.0])  # row 0 explained twice, row 2 never
    mean, p = loss_tests(gains, counts)
    assert np.allclose(mean, [0.8 / 3, -0.55 / 3])
    assert np.isclose(p[0], 0.04708919) and p[1] > 0.9
    mean, p = loss_tests(np.zeros((5, 1)), np.ones(5))  # a feature no model used
    assert mean.tolist() == [0.0] and p.tolist() == [1.0]


@pytest.mark.slow  # four cross-validated selector fits: ~4 s
def test_probe_report_combines_probe_and_loss_tests():
    X, y = planted_regression()
    report = select_features(FAST_TREE, X, y, seed=0, n_repeats=3)
    both = np.minimum(1.0, 2 * np.minimum(report["p_value_probe"], report["p_value_loss"]))
    assert np.allclose(report["p_value"], both)
    assert np.allclose(report["q_value"], bh_adjust(report["p_value"].to_numpy()))
    relevant = report.loc[["x0", "x1", "x2"]]
    assert (relevant["loss_gain"] > 0.1).all() and (relevant["p_value_loss"] < 1e-6).all()
    noise = report.loc[["x3", "x4", "x5", "x6", "x7"]]
    assert (noise["loss_gain"] < 0.01).all() and (noise["p_value_loss"] > 0.05).all()
    # classifiers: a probability space (Brier score) and class margins (softmax loss)
    Xc, yc = planted_classification()
    rep_c = select_features(FAST_CLF, Xc, yc, seed=0, n_repeats=2)
    assert rep_c.attrs["output_space"] == ["auto"]
    assert (rep_c.loc[["x0", "x1"], "p_value_loss"] < 1e-6).all()
    rep_l = select_features(LogisticRegression(), Xc, np.digitize(Xc[:, 0], [-0.5, 0.5]),
                            seed=0, n_repeats=2)  # fmt: skip
    assert rep_l.attrs["output_space"] == ["decision"]
    assert rep_l.loc["x0", "loss_gain"] > 0.1 and rep_l.loc["x0", "p_value_loss"] < 1e-6
    assert rep_l.index[rep_l["selected"]].tolist() == ["x0"]


def test_lazy_exports():
    assert shapkit.ShapSelector is ShapSelector
    assert shapkit.select_features is select_features
    assert {"ShapSelector", "select_features"} <= set(shapkit.__all__)


# ----------------------------------------------------------------- estimator checks


@parametrize_with_checks(
    [
        ShapSelector(
            DecisionTreeClassifier(max_depth=3, random_state=0),
            cv=2,
            n_repeats=1,
            max_rows=20,
            background_size=10,
            seed=0,
        ),  # fmt: skip
        ShapSelector(
            DecisionTreeRegressor(max_depth=3, random_state=0),
            strategy="rank",
            cv=2,
            max_rows=20,
            background_size=10,
            seed=0,
        ),  # fmt: skip
    ]
)
@pytest.mark.filterwarnings("ignore:n_repeats x cv")  # 2 fits: fast, enough for the API
@pytest.mark.filterwarnings("ignore:No features were selected")
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
