"""Exact interaction values of tree ensembles from their leaves
(shapkit.closed_form.tree_interactions): against enumeration of the interventional and
path-dependent games, for every index, with groups, wide data and the fallbacks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import shapkit
from shapkit.closed_form import tree_interactions as tree_module
from shapkit.closed_form.tree_interactions import leaf_coefficients, tree_interactions
from shapkit.interactions.indices import INDICES, index_weight
from shapkit.trees import TreeNotSupportedError, read_tree_model


def _data(d=6, n=300, seed=0, nan=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + (X[:, 3] > 0) * X[:, 4]
    if nan:
        X[rng.random(X.shape) < 0.1] = np.nan
    return X, y


def _models():
    from sklearn.ensemble import (
        GradientBoostingRegressor,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
    )

    X, y = _data()
    Xn, yn = _data(nan=True, seed=1)
    out = [
        ("gbr", GradientBoostingRegressor(n_estimators=15, max_depth=4, random_state=0)
         .fit(X, y), X),
        ("rf-proba", RandomForestClassifier(n_estimators=4, max_depth=5, random_state=0)
         .fit(X, np.digitize(y, [-0.5, 0.5])), X),
        ("hgb-nan", HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(Xn, yn), Xn),
    ]  # fmt: skip
    try:
        import lightgbm as lgb
        import xgboost as xgb
    except ImportError:
        return out
    out.append(("xgb", xgb.XGBRegressor(n_estimators=10, max_depth=4, random_state=0).fit(X, y), X))
    out.append(("lgb", lgb.LGBMRegressor(n_estimators=10, num_leaves=15, verbose=-1,
                                         random_state=0).fit(X, y), X))  # fmt: skip
    return out


def _marginal_game(predict, x, background):
    d = x.shape[0]

    def game(S):
        rows = np.where(S[:, None, :], x[None, None, :], background[None, :, :])
        out = np.asarray(predict(rows.reshape(-1, d)), dtype=np.float64)
        return out.reshape(len(S), len(background), -1).mean(axis=1)

    return game


def _additive(model):
    if hasattr(model, "predict_proba"):
        return model.predict_proba
    return lambda Z: read_tree_model(model).ensemble.predict(Z)


@pytest.mark.parametrize("name, model, X", _models(), ids=lambda v: v if isinstance(v, str) else "")
def test_interventional_equals_enumeration_for_every_index(name, model, X):
    """Every index's order-1 and order-2 terms from the leaves equal those of the
    enumerated marginal game (the trees' own output averaged over the background)."""
    tm = read_tree_model(model)
    background, rows = X[:20], X[100:103]
    tol = 1e-6 if name == "xgb" else 1e-9  # XGBoost sums in float32
    for index in INDICES:
        main, pairs, base, full = tree_interactions(tm, rows, background, index=index)
        for r in range(rows.shape[0]):
            game = _marginal_game(_additive(model), rows[r], background)
            exact = shapkit.interaction_values(game, X.shape[1], index=index, method="exact")
            want_main = exact.main if exact.main.ndim == 2 else exact.main[:, None]
            want_pairs = exact.pairs if exact.pairs.ndim == 3 else exact.pairs[..., None]
            np.testing.assert_allclose(main[r], want_main, rtol=0, atol=tol)
            np.testing.assert_allclose(pairs[r], want_pairs, rtol=0, atol=tol)
        if index != "SII":
            total = main.sum(axis=1) + pairs.sum(axis=(1, 2)) / 2
            np.testing.assert_allclose(total, full - base, rtol=0, atol=tol)


def _path_game(model, x):
    """The path-dependent game by its definition: at a node of a player in S follow x,
    else average both children by their share of the node's training rows."""
    trees = [e.tree_ for e in np.ravel(model.estimators_)]
    scale = getattr(model, "learning_rate", 1.0)

    def value(t, node, S):
        if t.children_left[node] < 0:
            return t.value[node].ravel()[0]
        f, left, right = t.feature[node], t.children_left[node], t.children_right[node]
        if S[f]:
            return value(t, left if x[f] <= t.threshold[node] else right, S)
        w = t.weighted_n_node_samples
        return (w[left] * value(t, left, S) + w[right] * value(t, right, S)) / w[node]

    def game(masks):
        return np.array([scale * sum(value(t, 0, S) for t in trees) for S in masks])

    return game


def test_path_dependent_equals_the_enumerated_game_by_its_definition():
    from sklearn.ensemble import GradientBoostingRegressor

    X, y = _data(d=5)
    model = GradientBoostingRegressor(n_estimators=6, max_depth=3, random_state=0).fit(X, y)
    tm = read_tree_model(model)
    for index in INDICES:
        main, pairs, base, _ = tree_interactions(tm, X[:2], None, index=index)
        for r in range(2):
            exact = shapkit.interaction_values(_path_game(model, X[r]), 5, index=index,
                                               method="exact")  # fmt: skip
            np.testing.assert_allclose(main[r, :, 0], exact.main, rtol=0, atol=1e-10)
            np.testing.assert_allclose(pairs[r, :, :, 0], exact.pairs, rtol=0, atol=1e-10)


def test_path_dependent_equals_the_compiled_path_game_enumerated(monkeypatch):
    """The leaves' values equal the enumeration of the compiled path-dependent game,
    which Explainer.interactions falls back to when a path has too many players."""
    X, y = _data()
    from sklearn.ensemble import RandomForestRegressor

    model = RandomForestRegressor(n_estimators=5, max_depth=5, random_state=0).fit(X, y)
    rows = X[:3]
    leaves = shapkit.Explainer(model, None).interactions(rows, index="FSII")
    monkeypatch.setattr(tree_module, "MAX_PATTERN_SLOTS", 2)  # every path has more
    enumerated = shapkit.Explainer(model, None).interactions(rows, index="FSII")
    assert (leaves.method, enumerated.method) == ("tree", "exact")
    np.testing.assert_allclose(leaves.main, enumerated.main, rtol=0, atol=1e-12)
    np.testing.assert_allclose(leaves.pairs, enumerated.pairs, rtol=0, atol=1e-12)
    with pytest.raises(TreeNotSupportedError, match="at most 2"):
        shapkit.Explainer(model, None).interactions(rows, method="tree")


def test_groups_are_players():
    from sklearn.ensemble import GradientBoostingRegressor

    X, y = _data()
    model = GradientBoostingRegressor(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    groups = {"a": ["x0", "x3"], "b": ["x1"], "c": ["x2", "x4", "x5"]}
    explainer = shapkit.Explainer(model, X[:15], groups=groups)
    inter = explainer.interactions(X[200:202], index="STII")
    assert inter.method == "tree" and inter.pairs.shape == (2, 3, 3)
    members = [[0, 3], [1], [2, 4, 5]]
    for r in range(2):
        x = X[200 + r]

        def game(S, x=x):
            cols = np.zeros((S.shape[0], 6), dtype=bool)
            for g, cs in enumerate(members):
                cols[:, cs] = S[:, [g]]
            return _marginal_game(model.predict, x, X[:15])(cols)[:, 0]

        exact = shapkit.interaction_values(game, 3, index="STII", method="exact")
        np.testing.assert_allclose(inter.main[r], exact.main, rtol=0, atol=1e-10)
        np.testing.assert_allclose(inter.pairs[r], exact.pairs, rtol=0, atol=1e-10)


def test_wide_data_needs_no_enumeration():
    """60 players, far beyond enumeration: k-SII adds up to the prediction, SII's main
    terms are the interventional Shapley values, the pairs are symmetric and the
    strongest is the product's."""
    from sklearn.ensemble import GradientBoostingRegressor

    rng = np.random.default_rng(2)
    X = rng.normal(size=(600, 60))
    y = 2 * X[:, 0] * X[:, 1] + X[:, 10]
    model = GradientBoostingRegressor(n_estimators=60, max_depth=5, random_state=0).fit(X, y)
    explainer = shapkit.Explainer(model, X[:30])
    inter = explainer.interactions(X[300:310])
    assert inter.method == "tree" and inter.n_evals.tolist() == [0] * 10
    np.testing.assert_allclose(inter.to_matrix().sum((1, 2)),
                               inter.predictions - inter.base_values, atol=1e-10)  # fmt: skip
    np.testing.assert_array_equal(inter.pairs, np.swapaxes(inter.pairs, 1, 2))
    sii = explainer.interactions(X[300:303], index="SII")
    np.testing.assert_allclose(sii.main, explainer(X[300:303]).values, rtol=0, atol=1e-10)
    strength = np.abs(inter.pairs).mean(axis=0)
    assert set(np.unravel_index(strength.argmax(), (60, 60))) == {0, 1}


def test_coefficients_are_the_moebius_sums():
    """The five tables against the direct sums over B' in B of (-1)^|B'| w(|A u B'|)."""
    for index, a, b in itertools.product(INDICES, range(5), range(5)):
        tables = leaf_coefficients(index, 2, 8)
        ws = {o: [float(index_weight(index, 2, o, t)) if t >= o else 0.0 for t in range(12)]
              for o in (1, 2)}  # fmt: skip
        subsets = [s for n in range(b + 1) for s in itertools.combinations(range(b), n)]
        # slot 0 of A (or B), slot 1 of A (or B): count the coalitions T = A u B' holding them
        want = [
            sum((-1) ** len(s) * ws[1][a + len(s)] for s in subsets) if a >= 1 else 0.0,
            sum((-1) ** len(s) * ws[1][a + len(s)] for s in subsets if 0 in s),
            sum((-1) ** len(s) * ws[2][a + len(s)] for s in subsets) if a >= 2 else 0.0,
            sum((-1) ** len(s) * ws[2][a + len(s)] for s in subsets if 0 in s) if a >= 1 else 0.0,
            sum((-1) ** len(s) * ws[2][a + len(s)] for s in subsets if {0, 1} <= set(s)),
        ]
        got = [float(t[a, b]) for t in tables]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_tree_method_needs_a_tree_closed_form():
    X, y = _data()
    with pytest.raises(TreeNotSupportedError, match="no tree closed form"):
        shapkit.Explainer(lambda Z: Z[:, 0] * Z[:, 1], X[:10]).interactions(X[:2], method="tree")
    with pytest.raises(ValueError, match="Unknown method"):
        shapkit.Explainer(lambda Z: Z[:, 0], X[:10]).interactions(X[:2], method="kernel")


def test_strongest_pairs_are_the_dense_results_top(monkeypatch):
    """The sparse form keeps every order-1 term and, per row and output, the pairs of
    largest |term| in order, with the dense result's values, whatever the chunks."""
    import pandas.testing as pd_testing

    import shapkit.explainer as explainer_module

    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 5))

    def f(Z):
        return np.c_[Z[:, 0] * Z[:, 1] + 0.3 * Z[:, 2] * Z[:, 3], Z[:, 4] * Z[:, 0]]

    explainer = shapkit.Explainer(f, X)
    dense = explainer.interactions(X[:6]).to_frame()
    sparse = explainer.strongest_pairs(X[:6], top=2)
    main = sparse.query("order == 1").drop(columns="rank").reset_index(drop=True)
    pd_testing.assert_frame_equal(main, dense.query("order == 1").reset_index(drop=True))
    for (row, output), block in dense.query("order == 2").groupby(["row", "output"]):
        want = block.assign(size=block.value.abs()).sort_values("size", ascending=False,
                                                                kind="stable").head(2)  # fmt: skip
        got = sparse[(sparse.order == 2) & (sparse.row == row) & (sparse.output == output)]
        assert got["rank"].tolist() == [1, 2]
        np.testing.assert_array_equal(got.value.to_numpy(), want.value.to_numpy())
        assert got.feature_i.tolist() == want.feature_i.tolist()
    monkeypatch.setattr(explainer_module, "PAIR_CHUNK_BYTES", 1)  # one row per chunk
    pd_testing.assert_frame_equal(explainer.strongest_pairs(X[:6], top=2), sparse)
    assert len(explainer.strongest_pairs(X[:2], top=50).query("order == 2")) == 2 * 10 * 2


def test_dense_pairs_too_large_are_refused_with_the_sparse_form_named(monkeypatch):
    import shapkit.interaction_explanation as module

    X, y = _data()
    from sklearn.ensemble import GradientBoostingRegressor

    model = GradientBoostingRegressor(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    explainer = shapkit.Explainer(model, X[:10])
    monkeypatch.setattr(module, "DENSE_PAIR_SHARE", 1e-12)
    with pytest.raises(shapkit.InfeasibleRequestError, match="strongest_pairs"):
        explainer.interactions(X[:5])


def test_strongest_pairs_of_a_wide_tree_model():
    """300 players (a dense result of 1,000 rows would take 1.4 GB): the product's pair
    is the one most often strongest in a row."""
    from sklearn.ensemble import GradientBoostingRegressor

    rng = np.random.default_rng(5)
    X = rng.normal(size=(600, 300))
    y = 2 * X[:, 7] * X[:, 200]
    model = GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0).fit(X, y)
    pairs = shapkit.Explainer(model, X[:20]).strongest_pairs(X[500:520], top=3)
    assert len(pairs.query("order == 1")) == 20 * 300
    first = pairs.query("order == 2 and rank == 1")
    counts = first.groupby(["feature_i", "feature_j"]).size()
    assert counts.idxmax() == ("x7", "x200")


@pytest.mark.parametrize("path", [False, True])
def test_values_do_not_depend_on_how_rows_are_split(path):
    """Each leaf's sums are cached per explicand pattern within a call: rows explained
    together or apart, on any number of threads, get bit-identical values."""
    import numba
    from sklearn.ensemble import GradientBoostingRegressor

    X, y = _data(d=8, n=400)
    model = GradientBoostingRegressor(n_estimators=20, max_depth=5, random_state=0).fit(X, y)
    tm = read_tree_model(model)
    background = None if path else X[:30]
    rows = X[100:160]
    together = tree_interactions(tm, rows, background, index="FSII")
    apart = [tree_interactions(tm, part, background, index="FSII")
             for part in (rows[:7], rows[7:41], rows[41:])]  # fmt: skip
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        one_thread = tree_interactions(tm, rows, background, index="FSII")
    finally:
        numba.set_num_threads(threads)
    for position in (0, 1):
        stacked = np.concatenate([a[position] for a in apart])
        np.testing.assert_array_equal(together[position], stacked)
        np.testing.assert_array_equal(together[position], one_thread[position])


def test_the_dense_check_counts_the_outputs_of_a_callable_before_its_first_call(monkeypatch):
    """A callable's adapter learns its outputs on a first call: the size check asks it
    (three outputs need three times the memory of one)."""
    import shapkit.interaction_explanation as module

    X = np.random.default_rng(0).normal(size=(40, 5))

    def three(Z):
        return np.c_[Z[:, 0] * Z[:, 1], Z[:, 4] * Z[:, 0], Z[:, 2]]

    from shapkit.cost import available_memory

    per_row_one_output = module.DENSE_PAIR_BYTES * 5 * 5
    # room for the pairs of 8 rows of one output
    monkeypatch.setattr(module, "DENSE_PAIR_SHARE", 8 * per_row_one_output / available_memory())
    shapkit.Explainer(lambda Z: Z[:, 0] * Z[:, 1], X).interactions(X[:4])  # fits: 4 rows
    with pytest.raises(shapkit.InfeasibleRequestError, match="strongest_pairs"):
        shapkit.Explainer(three, X).interactions(X[:4])  # 3 outputs: 12 rows' worth


def test_tree_interactions_with_a_tolerance_say_they_converged():
    from sklearn.ensemble import GradientBoostingRegressor

    X, y = _data()
    model = GradientBoostingRegressor(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    inter = shapkit.Explainer(model, X[:10]).interactions(X[:3], tol=0.01)
    assert inter.method == "tree" and inter.converged.tolist() == [True] * 3
