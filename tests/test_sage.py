"""SAGE values (shapkit.sage): exact against a brute-force reference, sampled values
against exact ones within their standard errors, losses, groups and bad input."""

from __future__ import annotations

import html
import itertools
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_diabetes, load_iris  # noqa: E402
from sklearn.ensemble import RandomForestRegressor  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402

import shapkit  # noqa: E402
from shapkit.global_importance.estimate import (  # noqa: E402
    BatchValues,
    combine,
    honest,
)


def brute_force_sage(predict, X, y, background, loss, groups=None):
    """SAGE by definition: every coalition, every row, the mean over the background
    inside the loss, and the Shapley formula (an implementation independent of shapkit)."""
    X, background = np.asarray(X, float), np.asarray(background, float)
    players = groups or [[j] for j in range(X.shape[1])]
    d = len(players)

    def value(S):
        columns = [c for p in S for c in players[p]]
        m = background.shape[0]
        rows = np.tile(background, (X.shape[0], 1))
        rows[:, columns] = np.repeat(X[:, columns], m, axis=0)
        pred = np.asarray(predict(rows)).reshape(X.shape[0], m, -1).mean(axis=1)
        pred = pred[:, 0] if pred.shape[1] == 1 else pred
        return -np.mean([loss(target, p) for target, p in zip(y, pred, strict=True)])

    v = {S: value(S) for r in range(d + 1) for S in itertools.combinations(range(d), r)}
    phi = np.zeros(d)
    for j in range(d):
        for S, vS in v.items():
            if j in S:
                continue
            with_j = tuple(sorted((*S, j)))
            weight = math.factorial(len(S)) * math.factorial(d - len(S) - 1) / math.factorial(d)
            phi[j] += weight * (v[with_j] - vS)
    return phi, -v[()], -v[tuple(range(d))]


def _frame_predict(model, columns):
    return lambda rows: model.predict(pd.DataFrame(rows, columns=columns))


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X = X[["age", "bmi", "bp", "s1", "s3", "s5"]]
    return X.iloc[:60], y.iloc[:60].to_numpy(), X.iloc[200:212]


def test_exact_equals_brute_force_for_squared_error(diabetes):
    X, y, bg = diabetes
    model = RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    g = shapkit.sage(model, X, y, background=bg, method="exact")
    want, empty, full = brute_force_sage(_frame_predict(model, X.columns), X, y, bg,
                                         lambda t, p: (p - t) ** 2)  # fmt: skip
    np.testing.assert_allclose(g.values, want, rtol=1e-10, atol=1e-8)
    assert g.loss_empty == pytest.approx(empty) and g.loss_full == pytest.approx(full)
    assert g.values.sum() == pytest.approx(g.loss_empty - g.loss_full)
    assert g.method == "exact" and np.all(g.std_errors == 0) and g.loss == "mse"
    assert g.n_evals == (2**6 + 2) * 60 * 12  # every coalition, every row, every bg row
    assert list(g.feature_names) == ["age", "bmi", "bp", "s1", "s3", "s5"]


def test_exact_cross_entropy_and_zero_one_multiclass():
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    model = LogisticRegression(max_iter=500).fit(X, labels)
    rows = np.r_[0:10, 50:60, 100:110]
    bg = X[::15]
    g = shapkit.sage(model, X[rows], labels[rows], background=bg)  # auto: cross-entropy
    positions = y[rows]

    def ce(t, p):
        return -np.log(max(p[t], 1e-12))

    want, empty, full = brute_force_sage(model.predict_proba, X[rows], positions, bg, ce)
    assert g.loss == "cross_entropy" and g.method == "exact"
    np.testing.assert_allclose(g.values, want, rtol=1e-9, atol=1e-12)
    z = shapkit.sage(model, X[rows], labels[rows], background=bg, loss="zero_one")
    want01, _, _ = brute_force_sage(model.predict_proba, X[rows], positions, bg,
                                    lambda t, p: float(np.argmax(p) != t))  # fmt: skip
    np.testing.assert_allclose(z.values, want01, atol=1e-12)


def test_callable_loss_and_groups(diabetes):
    X, y, bg = diabetes
    model = LinearRegression().fit(X, y)
    groups = {"size": ["bmi", "bp"], "age": "age", "s5": "s5", "s1": "s1", "s3": "s3"}
    g = shapkit.sage(model, X, y, background=bg, groups=groups,
                     loss=lambda t, p: np.abs(p - t))  # fmt: skip
    cols = {c: i for i, c in enumerate(X.columns)}
    members = {"size": [cols["bmi"], cols["bp"]], "age": [cols["age"]], "s5": [cols["s5"]],
               "s1": [cols["s1"]], "s3": [cols["s3"]]}
    assert g.feature_names == ["age", "size", "s1", "s3", "s5"]  # order of first columns
    want, _, _ = brute_force_sage(_frame_predict(model, X.columns), X, y, bg,
                                  lambda t, p: abs(p - t),
                                  [members[name] for name in g.feature_names])  # fmt: skip
    np.testing.assert_allclose(g.values, want, rtol=1e-10)


def test_sampled_values_within_their_errors_and_reproducible(diabetes):
    method = "permutation"
    X, y, bg = diabetes
    model = RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    exact = shapkit.sage(model, X, y, background=bg, method="exact")
    g = shapkit.sage(model, X, y, background=bg, method=method, seed=3, tol=0.05)
    assert g.method == method and g.converged
    assert np.all(np.isfinite(g.std_errors)) and np.all(g.std_errors > 0)
    assert np.all(np.abs(g.values - exact.values) <= 4 * g.std_errors)
    # the control variate keeps efficiency exact
    assert g.values.sum() == pytest.approx(exact.loss_empty - exact.loss_full, rel=1e-9)
    assert g.loss_empty == pytest.approx(exact.loss_empty)
    again = shapkit.sage(model, X, y, background=bg, method=method, seed=3, tol=0.05)
    np.testing.assert_array_equal(again.values, g.values)
    # tighter tol: more rows, smaller errors
    tight = shapkit.sage(model, X, y, background=bg, method=method, seed=3, tol=0.002)
    assert tight.n_evals > g.n_evals and tight.std_errors.max() < g.std_errors.max()
    # many passes over the same 60 rows: an unbiased estimator keeps its errors honest
    assert tight.n_rows >= 10 * 60
    assert np.all(np.abs(tight.values - exact.values) <= 4 * tight.std_errors)


@pytest.mark.slow  # two worker processes, ~3 s
def test_n_jobs_gives_the_same_values(diabetes):
    X, y, bg = diabetes
    model = LinearRegression().fit(X, y)
    one = shapkit.sage(model, X, y, background=bg, method="permutation", seed=1, tol=0.1)
    two = shapkit.sage(model, X, y, background=bg, method="permutation", seed=1, tol=0.1,
                       n_jobs=2)  # fmt: skip
    np.testing.assert_array_equal(one.values, two.values)
    np.testing.assert_array_equal(one.std_errors, two.std_errors)


def test_budget_caps_the_model_rows(diabetes):
    X, y, bg = diabetes
    model = LinearRegression().fit(X, y)
    g = shapkit.sage(model, X, y, background=bg, method="permutation", seed=0, tol=None,
                     budget=400_000)  # fmt: skip
    assert g.n_evals <= 400_000 and not g.converged
    with pytest.raises(ValueError, match=r"budget=1000 model rows is below one round: method="):
        shapkit.sage(model, X, y, background=bg, method="permutation", budget=1000)


def _batches(phi_a, phi_b, rows, size):
    return [BatchValues(rows[i : i + size], phi_a[:, i : i + size], phi_b[:, i : i + size], 0)
            for i in range(0, rows.size, size)]  # fmt: skip


def test_combine_partial_and_full_passes():
    rng = np.random.default_rng(0)
    n, d = 200, 3
    totals = rng.normal(2.0, 0.5, n)
    share = np.array([0.6, 0.3, 0.1])
    truth = np.outer(share, totals) + rng.normal(0, 0.05, (d, n))
    truth[2] = totals - truth[0] - truth[1]  # each row's values sum to its total
    noise = rng.normal(0, 0.01, (2, d, n))
    noise[:, 2] = -noise[:, 0] - noise[:, 1]  # the estimates stay efficient
    a, b = truth + noise[0], truth + noise[1]
    order = rng.permutation(n)
    # a partial pass: the regression on the totals keeps efficiency exact
    part = _batches(a[:, order[:80]], b[:, order[:80]], order[:80], 8)
    values, variance, df = combine(part, totals)
    assert values.sum() == pytest.approx(totals.mean(), abs=1e-12)
    assert np.all(variance > 0) and np.all(df > 15)
    # ... and the rows' spread (not only the within-row noise) is in its variance
    within = ((a[:, order[:80]] - b[:, order[:80]]) / 2 / 80).reshape(d, 10, 8).sum(axis=2)
    assert np.all(variance > 10 * (within**2).sum(axis=1))
    # a full pass: the mean over every row, with the within-row noise only
    full = _batches(a[:, order], b[:, order], order, 8)
    values, variance, df = combine(full, totals)
    np.testing.assert_allclose(values, ((a + b) / 2).mean(axis=1))
    # one term per batch: half the difference of its two estimates' weighted sums
    # (pooled with the mean over features by 4 pseudo-batches; df at most 25 batches)
    sums = ((a[:, order] - b[:, order]) / 2 / n).reshape(d, 25, 8).sum(axis=2)
    own = (sums**2).sum(axis=1)
    np.testing.assert_allclose(variance, (25 * own + 4 * own.mean()) / 29)
    assert np.all(df <= 25)
    # a second pass over half the rows: each row's mean over its visits, averaged
    again = _batches(b[:, order[:100]], a[:, order[:100]], order[:100], 8)
    values2, variance2, _ = combine(full + again, totals)
    per_row = (a + b) / 2
    np.testing.assert_allclose(values2, per_row.mean(axis=1))  # the same estimates twice
    assert np.all(variance2 < variance)
    # a feature whose two estimates always agree is not taken as noiseless
    same = b.copy()
    same[0] = a[0]
    same[1] = b[1] + (b[0] - a[0])  # keep each row's values summing to its total
    _, var_same, _ = combine(_batches(a[:, order], same[:, order], order, 8), totals)
    assert var_same[0] > 0
    # too few batches for 15 degrees of freedom: no finite error
    _, var_few, df_few = combine(_batches(a[:, :8], b[:, :8], np.arange(8), 4), totals)
    assert np.all(np.isinf(honest(var_few, df_few)))


def test_frame_plot_and_interval(diabetes):
    X, y, bg = diabetes
    model = RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    g = shapkit.sage(model, X, y, background=bg, method="permutation", seed=0, tol=0.1)
    frame = g.to_frame()
    assert list(frame.columns) == ["value", "std_error", "ci_low", "ci_high", "share"]
    assert frame["value"].is_monotonic_decreasing
    assert frame["share"].sum() == pytest.approx(1.0)
    low, high = g.interval(0.95)
    np.testing.assert_allclose(high - low, 2 * 1.959963984540054 * g.std_errors)
    ax = g.plot()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1] == frame.index[0]  # largest on top
    widths = sorted(p.get_width() for p in ax.patches)
    np.testing.assert_allclose(widths, np.sort(g.values))


def test_bad_input_is_named(diabetes):
    X, y, bg = diabetes
    reg = LinearRegression().fit(X, y)
    with pytest.raises(ValueError, match="y has 59 values but X has 60 rows"):
        shapkit.sage(reg, X, y[:-1], background=bg)
    y_nan = y.astype(float).copy()
    y_nan[3] = np.nan
    with pytest.raises(ValueError, match=r"y's index differs from X's.*y.loc\[X.index\]"):
        shapkit.sage(reg, X, pd.Series(y, index=X.index[::-1]), background=bg)
    with pytest.raises(ValueError, match="y contains NaN"):
        shapkit.sage(reg, X, y_nan, background=bg)
    with pytest.raises(ValueError, match="loss='cross_entropy' needs class probabilities"):
        shapkit.sage(reg, X, y, background=bg, loss="cross_entropy")
    with pytest.raises(ValueError, match="Unknown loss='mae'"):
        shapkit.sage(reg, X, y, background=bg, loss="mae")
    with pytest.raises(ValueError, match="Unknown method='kernel'"):
        shapkit.sage(reg, X, y, background=bg, method="kernel")
    with pytest.raises(ValueError, match=r"returned shape \(\) for \d+ rows; it must return"):
        shapkit.sage(reg, X, y, background=bg, loss=lambda t, p: float(np.mean((p - t) ** 2)))
    Xi, yi = load_iris(return_X_y=True)
    clf = LogisticRegression(max_iter=300).fit(Xi, yi)
    with pytest.raises(ValueError, match="labels the model was not fitted on, e.g. 7"):
        shapkit.sage(clf, Xi[:5], np.array([0, 1, 2, 7, 0]), background=Xi[:5])
    with pytest.raises(ValueError, match="loss='mse' needs one model output per row"):
        shapkit.sage(clf, Xi[:5], yi[:5].astype(float), background=Xi[:5], loss="mse")
    with pytest.raises(ValueError, match="needs predict_proba"):
        from sklearn.svm import SVC

        svc = SVC().fit(Xi, yi)
        shapkit.sage(svc, Xi[:5], yi[:5], background=Xi[:5], loss="cross_entropy")
    with pytest.raises(ValueError, match="labels the model was not fitted on, e.g. '0'"):
        shapkit.sage(clf, Xi[:3], np.array(["0", "1", "2"]), background=Xi[:5])
    with pytest.raises(ValueError, match="y contains missing values"):
        shapkit.sage(clf, Xi[:3], pd.Series(["a", None, "b"], dtype="string"),
                     background=Xi[:5])  # fmt: skip
    with pytest.raises(ValueError, match="needs one probability per class"):
        shapkit.sage(lambda Z: Z[:, :1] * 0 + 0.3, Xi[:5], np.zeros(5, dtype=int),
                     background=Xi[:5], loss="zero_one")  # fmt: skip
    with pytest.raises(TypeError, match="sage must be a GlobalExplanation"):
        expl = shapkit.Explainer(reg, bg)(X.iloc[:3])
        shapkit.report(expl, "unused.html", sage={"bmi": 1.0})
    with pytest.raises(ValueError, match="background's columns do not match"):
        shapkit.sage(reg, X, y, background=bg.drop(columns="age"))
    with pytest.raises(ValueError, match="budget must be a positive number"):
        shapkit.sage(reg, X, y, background=bg, budget=0)


@pytest.mark.slow
def test_sampled_errors_cover_the_exact_values_over_seeds():
    method = "permutation"
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X, y, bg = X.iloc[:150], y.iloc[:150].to_numpy(), X.iloc[300:316]
    model = RandomForestRegressor(n_estimators=20, max_depth=5, random_state=0).fit(X, y)
    exact = shapkit.sage(model, X, y, background=bg, method="exact")
    z = []
    for seed in range(20):
        g = shapkit.sage(model, X, y, background=bg, method=method, seed=seed, tol=0.05)
        z.append((g.values - exact.values) / g.std_errors)
    z = np.abs(np.concatenate(z))
    assert np.mean(z <= 3) >= 0.95 and np.mean(z <= 2) >= 0.85


@pytest.mark.slow
def test_errors_cover_when_only_part_of_the_rows_is_visited():
    """2,000 rows and a loose tol: the first pass stops part-way, so the rows not
    visited are a source of error the standard errors must count."""
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(n_samples=2000, n_features=6, noise=1.0, random_state=0)
    model = RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0).fit(X, y)
    bg = X[:16]
    exact = shapkit.sage(model, X, y, background=bg, method="exact")
    z, visited = [], []
    for seed in range(20):
        g = shapkit.sage(model, X, y, background=bg, method="permutation", seed=seed, tol=0.05)
        z.append((g.values - exact.values) / g.std_errors)
        visited.append(g.n_rows)
    assert max(visited) < 2000  # partial passes
    z = np.abs(np.concatenate(z))
    assert np.mean(z <= 3) >= 0.95 and np.mean(z <= 2) >= 0.85


def test_report_has_a_sage_section(diabetes, tmp_path):
    X, y, bg = diabetes
    model = RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    g = shapkit.sage(model, X, y, background=bg, method="exact")
    expl = shapkit.Explainer(model, bg)(X.iloc[:10])
    plain = shapkit.report(expl, tmp_path / "plain.html").read_text()
    text = shapkit.report(expl, tmp_path / "sage.html", sage=g).read_text()
    assert 'id="sage"' not in plain and 'href="#sage"' not in plain
    assert text.count('id="sage"') == 1 and text.count('href="#sage"') == 1
    assert text.count("data:image/png") == plain.count("data:image/png") + 1
    section = text.split('id="sage"')[1].split("</section>")[0]
    top = g.to_frame().index[0]
    assert section.index(f"<td>{top}</td>") < min(
        section.index(f"<td>{name}</td>") for name in g.feature_names if name != top
    )
    assert f"{g.loss_empty:.4g}" in section and "exact: every coalition on every row" in section
    assert g.evaluated_on == "compiled trees (the trees' sum)"
    assert f"evaluated by {html.escape(g.evaluated_on)}" in section


def test_relabelled_row_games_give_each_rows_own_values(diabetes):
    """``w_i(S) = v_i(relabel_i(S))``: exact values of the relabelled games, mapped back
    by ``unrelabel``, equal the rows' own exact values."""
    from shapkit.estimators import ExactEstimator
    from shapkit.global_importance.game import RowLossGame, unrelabel
    from shapkit.global_importance.losses import resolve_loss
    from shapkit.models import as_model
    from shapkit.tabular import RowMasker

    X, y, bg = diabetes
    model = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0).fit(X, y)
    d, players = X.shape[1], np.arange(X.shape[1])
    masker = RowMasker(X, bg.reset_index(drop=True), players)
    loss, adapter = resolve_loss("mse", model, y, len(y)), as_model(model)
    rows = np.array([3, 10, 50])
    exact = ExactEstimator()
    plain = exact.estimate(RowLossGame(adapter, masker, rows, loss, players, 10**5), d, None, None,
                           np.random.default_rng(0)).values  # fmt: skip
    relabel = np.array([np.random.default_rng(i).permutation(d) for i in range(3)])
    game = RowLossGame(adapter, masker, rows, loss, players, 10**5, relabel=relabel)
    moved = exact.estimate(game, d, None, None, np.random.default_rng(0)).values
    assert not np.allclose(moved, plain)
    np.testing.assert_allclose(unrelabel(moved, relabel), plain, rtol=1e-10, atol=1e-8)


def test_rows_with_extreme_totals_are_counted_not_sampled():
    """One row whose loss total is 40 times the others' would, if sampled, pull the
    regression estimator far off with a small standard error; it is visited first and
    counted exactly, so a run stopped part-way through the first pass stays honest."""
    from shapkit.global_importance.estimate import take_all_rows

    rng = np.random.default_rng(0)
    n, d = 2000, 4
    X = rng.normal(size=(n, d))
    X[123, 2] = 40.0
    bg = rng.normal(size=(16, d))

    def f(A):
        return A.sum(axis=1) + A[:, 0] * A[:, 1] * A[:, 3]

    y = f(X) + 0.1 * rng.normal(size=n)
    exact = shapkit.sage(f, X, y, background=bg, method="exact")
    totals = np.full(50, 1.0)
    totals[[7, 9]] = [30.0, -25.0]
    assert take_all_rows(totals, 10).tolist() == [7, 9]
    z = []
    for seed in range(12):
        g = shapkit.sage(f, X, y, background=bg, method="permutation", seed=seed, tol=None,
                         budget=200_000)  # fmt: skip
        assert g.n_rows < n  # stopped inside the first pass
        z.append((g.values - exact.values) / g.std_errors)
    assert np.abs(np.concatenate(z)).max() < 4


def test_row_games_too_large_for_one_model_call_are_sliced():
    """A row whose masked rows exceed one model call goes through its marginal game in
    slices: the same losses, and every model row counted."""
    from shapkit.global_importance.game import RowLossGame
    from shapkit.global_importance.losses import resolve_loss
    from shapkit.models import as_model
    from shapkit.tabular import RowMasker

    rng = np.random.default_rng(0)
    X, bg = rng.normal(size=(5, 6)), rng.normal(size=(100, 6))
    y = X.sum(axis=1)
    model = LinearRegression().fit(X, y + 0.1 * rng.normal(size=5))
    players = np.arange(6)
    masker = RowMasker(X, bg, players)
    loss, adapter = resolve_loss("mse", model, y, 5), as_model(model)
    masks = rng.random((64, 6)) < 0.5  # 6,400 masked rows per explained row
    whole = RowLossGame(adapter, masker, np.arange(5), loss, players, 10**6)
    sliced = RowLossGame(adapter, masker, np.arange(5), loss, players, 5000)
    np.testing.assert_allclose(sliced(masks), whole(masks), rtol=1e-12)
    assert sliced.n_model_rows == whole.n_model_rows == 5 * 64 * 100


@pytest.mark.parametrize("kind", ["gbc-multiclass", "gbc-binary", "forest-classifier",
                                  "gbr", "pipeline"])  # fmt: skip
def test_tree_models_are_evaluated_on_their_trees_with_the_models_values(kind):
    """Compiled trees give the values that calling the model gives (the same seed draws
    the same rows and coalitions), exact and sampled, for every link the loss reads."""
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_wine
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        RandomForestClassifier,
    )
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    X, y = load_wine(return_X_y=True, as_frame=True)
    X = X.iloc[:, :6]
    if kind == "gbc-binary":
        y = (y == 1).astype(int)
    if kind == "gbr":
        y = X.pop("alcohol")
        model = GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0)
    elif kind == "forest-classifier":
        model = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0)
    elif kind == "pipeline":
        X = X.assign(band=pd.cut(X["alcohol"], 3, labels=["low", "mid", "high"]).astype(str))
        encode = ColumnTransformer([("band", OneHotEncoder(), ["band"])],
                                   remainder="passthrough")  # fmt: skip
        model = make_pipeline(encode, GradientBoostingClassifier(n_estimators=20,
                                                                 random_state=0))  # fmt: skip
    else:
        model = GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0)
    model.fit(X, y)
    rows, bg = X.iloc[::3], X.iloc[1::9]
    target = y.iloc[::3].to_numpy()
    # the model (read as compiled trees) and its output method as a plain callable,
    # which shapkit can only call
    trees = model
    called = model.predict_proba if hasattr(model, "predict_proba") else model.predict
    loss = "mse" if kind == "gbr" else "cross_entropy"  # labels 0..k-1: positions too
    for method, kwargs in (("exact", {}), ("permutation", {"tol": 0.05, "seed": 4})):
        a = shapkit.sage(trees, rows, target, background=bg, loss=loss, method=method, **kwargs)
        b = shapkit.sage(called, rows, target, background=bg, loss=loss, method=method,
                         **kwargs)  # fmt: skip
        assert a.evaluated_on.startswith("compiled trees (") and b.evaluated_on == "model calls"
        np.testing.assert_allclose(a.values, b.values, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(a.std_errors, b.std_errors, rtol=1e-9, atol=1e-12)
        assert a.n_evals == b.n_evals and a.n_rows == b.n_rows
        assert a.loss_empty == pytest.approx(b.loss_empty, rel=1e-12)
        assert a.loss_full == pytest.approx(b.loss_full, rel=1e-12)


def test_auto_enumerates_on_trees_where_model_calls_would_sample(diabetes, monkeypatch):
    """Compiled trees make a masked row cheap, so ``auto`` enumerates up to a larger
    cost: here above the model-call limit and below the trees' one."""
    from shapkit.global_importance import api

    X, y, bg = diabetes
    model = RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    cost = (2**6 + 2) * 60 * 12
    monkeypatch.setattr(api, "EXACT_MAX_MODEL_ROWS", cost - 1)
    monkeypatch.setattr(api, "EXACT_MAX_TREE_ROWS", cost)
    on_trees = shapkit.sage(model, X, y, background=bg, seed=0)
    called = shapkit.sage(model.predict, X, y, background=bg, seed=0)
    assert on_trees.method == "exact" and called.method == "permutation"
    np.testing.assert_allclose(called.values, on_trees.values,
                               atol=4 * float(called.std_errors.max()))  # fmt: skip
    monkeypatch.setattr(api, "EXACT_MAX_TREE_ROWS", cost - 1)
    assert shapkit.sage(model, X, y, background=bg, seed=0).method == "permutation"


@pytest.mark.slow  # two worker processes
def test_n_jobs_on_compiled_trees_gives_the_same_values(diabetes):
    X, y, bg = diabetes
    model = RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    one = shapkit.sage(model, X, y, background=bg, method="permutation", seed=1, tol=0.1)
    two = shapkit.sage(model, X, y, background=bg, method="permutation", seed=1, tol=0.1,
                       n_jobs=2)  # fmt: skip
    assert two.evaluated_on.startswith("compiled trees")
    np.testing.assert_array_equal(one.values, two.values)
    np.testing.assert_array_equal(one.std_errors, two.std_errors)


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_boosting_libraries_with_groups_on_their_trees(library):
    """XGBoost and LightGBM classifiers (softmax of their margins), players made of
    several columns: the compiled trees give the model calls' values."""
    lib = pytest.importorskip(library)
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True, as_frame=True)
    X = X.iloc[:, :7]
    if library == "xgboost":
        model = lib.XGBClassifier(n_estimators=20, max_depth=3, random_state=0, n_jobs=1)
    else:
        model = lib.LGBMClassifier(n_estimators=20, num_leaves=7, random_state=0, n_jobs=1,
                                   verbose=-1)  # fmt: skip
    model.fit(X, y)
    groups = {"acids": ["malic_acid", "ash", "alcalinity_of_ash"], "alcohol": "alcohol",
              "magnesium": "magnesium", "phenols": ["total_phenols", "flavanoids"]}  # fmt: skip
    rows, bg, target = X.iloc[::4], X.iloc[2::10], y.iloc[::4].to_numpy()
    a = shapkit.sage(model, rows, target, background=bg, groups=groups)
    b = shapkit.sage(model.predict_proba, rows, target, background=bg, groups=groups,
                     loss="cross_entropy")  # fmt: skip
    assert a.method == b.method == "exact" and a.feature_names == b.feature_names
    assert a.evaluated_on == "compiled trees (the softmax of the trees' margins)"
    # XGBoost predicts in float32: its trees and its predict_proba agree to ~1e-7
    np.testing.assert_allclose(a.values, b.values, rtol=1e-6, atol=1e-7)
    assert a.values.sum() == pytest.approx(a.loss_empty - a.loss_full, rel=1e-9)


def test_trees_that_do_not_reproduce_the_rows_of_X_are_not_used(diabetes, monkeypatch):
    """The trees are checked on X's rows too, not only the background's: where they
    differ from the model there (here: made to), the model is called."""
    from shapkit.trees.links import LinkedTrees

    X, y, bg = diabetes
    model = RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    checked = LinkedTrees.reproduces

    def only_the_background(self, adapter, rows):
        return len(rows) == len(bg) and checked(self, adapter, rows)

    monkeypatch.setattr(LinkedTrees, "reproduces", only_the_background)
    g = shapkit.sage(model, X, y, background=bg, method="exact")
    assert g.evaluated_on == "model calls"
    monkeypatch.setattr(LinkedTrees, "reproduces", checked)
    on_trees = shapkit.sage(model, X, y, background=bg, method="exact")
    assert on_trees.evaluated_on.startswith("compiled trees")
    np.testing.assert_allclose(g.values, on_trees.values, rtol=1e-9, atol=1e-9)
