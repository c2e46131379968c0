"""Interaction indices of games (#22, exact part): closed forms on unanimity games, the
axioms, Faith-Shap's defining regression, and errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shapkit
from shapkit.interactions.indices import INDICES


def table_game(table: np.ndarray):
    """The game whose value on coalition bitmask u is ``table[u]`` (``(2^d,)`` or ``(2^d, k)``)."""

    def game(masks):
        idx = (masks * (1 << np.arange(masks.shape[1]))).sum(1)
        return table[idx]

    return game


def unanimity(members):
    members = list(members)
    return lambda masks: masks[:, members].all(axis=1).astype(float)


# order-1 and order-2 terms of the unanimity game of a coalition of size t, for a member
# (and a pair of members); non-members get 0
UNANIMITY = {
    "SII": lambda t: (1 / t, 1 / (t - 1)),
    "k-SII": lambda t: (1 / t - 1 / 2, 1 / (t - 1)),
    "STII": lambda t: (0.0, 1 / math.comb(t, 2)),
    "FSII": lambda t: (
        0.0 if t == 2 else -2 / 3 * math.comb(t - 1, 2) / math.comb(t + 1, 3),
        1.0 if t == 2 else 0.5 * math.comb(t - 1, 2) / math.comb(t + 1, 4),
    ),
}


@pytest.mark.parametrize("index", INDICES)
@pytest.mark.parametrize("members", [(1, 3), (0, 2, 4), (0, 1, 3, 5)])
def test_unanimity_games_have_closed_forms(index, members):
    d = 6
    result = shapkit.interaction_values(unanimity(members), d, index=index)
    main, pair = UNANIMITY[index](len(members))
    expected_main = np.array([main if p in members else 0.0 for p in range(d)])
    np.testing.assert_allclose(result.main, expected_main, atol=1e-12)
    expected = np.zeros((d, d))
    for i, j in itertools.combinations(members, 2):
        expected[i, j] = expected[j, i] = pair
    np.testing.assert_allclose(result.pairs, expected, atol=1e-12)
    assert result.method == "exact" and result.n_evals == 2**d


def test_faith_shap_of_a_three_player_unanimity_game():
    # FSII for t = 3: members -1/6 each, pairs 1/2 each: -1/2 + 3/2 = 1
    result = shapkit.interaction_values(unanimity([0, 1, 2]), 3, index="FSII")
    np.testing.assert_allclose(result.main, [-1 / 6] * 3, atol=1e-12)
    np.testing.assert_allclose(result.pairs[0, 1], 0.5, atol=1e-12)


@given(seed=st.integers(0, 2**31 - 1), d=st.integers(2, 6))
@settings(max_examples=25, deadline=None)
def test_efficiency_linearity_and_sii_main_terms_are_shapley_values(seed, d):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=2**d), rng.normal(size=2**d)
    shapley = shapkit.shapley_values(table_game(a), d, method="exact").values
    for index in INDICES:
        one = shapkit.interaction_values(table_game(a), d, index=index)
        two = shapkit.interaction_values(table_game(b), d, index=index)
        both = shapkit.interaction_values(table_game(2 * a - b), d, index=index)
        np.testing.assert_allclose(both.main, 2 * one.main - two.main, atol=1e-10)
        np.testing.assert_allclose(both.pairs, 2 * one.pairs - two.pairs, atol=1e-10)
        np.testing.assert_array_equal(one.pairs, one.pairs.T)
        assert np.all(np.diag(one.pairs) == 0)
        total = one.main.sum() + np.triu(one.pairs, 1).sum()
        if index == "SII":
            np.testing.assert_allclose(one.main, shapley, atol=1e-10)
            assert not one.efficient
        else:
            assert one.efficient
            np.testing.assert_allclose(total, a[-1] - a[0], atol=1e-10)
            np.testing.assert_allclose(one.to_matrix().sum(), a[-1] - a[0], atol=1e-10)
        if index == "k-SII":  # Bernoulli aggregation at k = 2: SV - 1/2 sum of SII pairs
            sii = shapkit.interaction_values(table_game(a), d, index="SII")
            np.testing.assert_allclose(one.main, shapley - sii.pairs.sum(1) / 2, atol=1e-10)
            np.testing.assert_allclose(one.pairs, sii.pairs, atol=1e-10)


def test_faith_shap_is_the_constrained_shapley_kernel_regression():
    d = 5
    rng = np.random.default_rng(4)
    v = rng.normal(size=2**d)
    result = shapkit.interaction_values(table_game(v), d, index="FSII")
    masks = ((np.arange(2**d)[:, None] >> np.arange(d)) & 1).astype(float)
    pairs = list(itertools.combinations(range(d), 2))
    features = np.column_stack([masks] + [masks[:, i] * masks[:, j] for i, j in pairs])
    size = masks.sum(1).astype(int)
    inner = (size > 0) & (size < d)
    weight = (d - 1) / (np.array([math.comb(d, s) for s in size[inner]]) * size[inner]
                        * (d - size[inner]))  # fmt: skip
    # v(empty) and v(N) exactly: solve for the coefficients with sum = v(N) - v(empty)
    # by eliminating the last one
    X, y = features[inner], v[inner] - v[0]
    total = v[-1] - v[0]
    Xr = X[:, :-1] - X[:, -1:]
    yr = y - X[:, -1] * total
    sw = np.sqrt(weight)
    coef = np.linalg.lstsq(Xr * sw[:, None], yr * sw, rcond=None)[0]
    coef = np.append(coef, total - coef.sum())
    np.testing.assert_allclose(result.main, coef[:d], atol=1e-10)
    np.testing.assert_allclose([result.pairs[i, j] for i, j in pairs], coef[d:], atol=1e-10)


def test_symmetry_and_dummy_players():
    def game(S):  # players 0 and 1 are symmetric, player 3 is a dummy
        pairs = 2.0 * (S[:, 0] & S[:, 2]) + 2.0 * (S[:, 1] & S[:, 2])
        return pairs + 0.5 * (S[:, 0] + S[:, 1]) - (S[:, 0] & S[:, 1] & S[:, 2])

    for index in INDICES:
        result = shapkit.interaction_values(game, 4, index=index)
        assert result.main[0] == pytest.approx(result.main[1], abs=1e-12)
        assert result.pairs[0, 2] == pytest.approx(result.pairs[1, 2], abs=1e-12)
        np.testing.assert_allclose(result.main[3], 0.0, atol=1e-12)
        np.testing.assert_allclose(result.pairs[3], 0.0, atol=1e-12)


def test_games_with_several_outputs_and_max_order_one():
    d = 4
    table = np.random.default_rng(2).normal(size=(2**d, 3))
    result = shapkit.interaction_values(table_game(table), d, index="STII")
    assert result.main.shape == (d, 3) and result.pairs.shape == (d, d, 3)
    assert result.to_matrix().shape == (d, d, 3)
    for c in range(3):
        alone = shapkit.interaction_values(table_game(table[:, c]), d, index="STII")
        np.testing.assert_allclose(result.main[:, c], alone.main, atol=1e-12)
        np.testing.assert_allclose(result.pairs[:, :, c], alone.pairs, atol=1e-12)
    np.testing.assert_allclose(result.full_value - result.empty_value, table[-1] - table[0])
    shapley = shapkit.shapley_values(table_game(table), d, method="exact").values
    for index in INDICES:
        first = shapkit.interaction_values(table_game(table), d, index=index, max_order=1)
        np.testing.assert_allclose(first.main, shapley, atol=1e-12)
        assert not first.pairs.any() and first.efficient


def test_bad_requests_name_the_parameter_and_what_works():
    game = unanimity([0, 1])
    with pytest.raises(ValueError, match="Unknown index='SV'"):
        shapkit.interaction_values(game, 3, index="SV")
    with pytest.raises(ValueError, match="max_order=3.*order 1 or 2"):
        shapkit.interaction_values(game, 3, max_order=3)
    with pytest.raises(ValueError, match="exceeds the number of players.*max_order=1"):
        shapkit.interaction_values(lambda S: S[:, 0] * 1.0, 1)
    with pytest.raises(ValueError, match="budget=7 is below the 2\\^3 = 8.*budget=8"):
        shapkit.interaction_values(game, 3, budget=7)
    with pytest.raises(ValueError, match="Unknown method='kernel'.*'auto', 'exact', 'proxy'"):
        shapkit.interaction_values(game, 3, method="kernel")
    with pytest.raises(shapkit.TooManyPlayersError, match="at most 20 players; got d=21"):
        shapkit.interaction_values(game, 21, method="exact")
    with pytest.raises(ValueError, match="proxy' needs at least 4 players.*method='exact'"):
        shapkit.interaction_values(game, 3, method="proxy")
    with pytest.raises(ValueError, match="budget=20 is below the 24 .*budget=24"):
        shapkit.interaction_values(game, 10, method="proxy", budget=20)
    with pytest.raises(ValueError, match="accepts at most 8,192; pass budget=8192"):
        shapkit.interaction_values(game, 30, budget=10_000)
    with pytest.raises(ValueError, match="max_order=1 asks for Shapley values"):
        shapkit.interaction_values(game, 30, max_order=1, method="proxy")
    with pytest.raises(shapkit.TooManyPlayersError, match="at most 100 players"):
        shapkit.interaction_values(game, 101)
    with pytest.raises(shapkit.GameOutputError):
        shapkit.interaction_values(lambda S: np.full(len(S), np.nan), 3)
    assert shapkit.interaction_values(lambda S: S[:, 0] * 1.0, 1, max_order=1).main.tolist() == [
        1.0
    ]


# --------------------------------------------------------------------------- models


def _classifier():
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    return GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X, y), X


def test_model_interactions_on_compiled_trees_equal_those_through_the_model():
    from sklearn.ensemble import RandomForestRegressor

    model, X = _classifier()
    rows, background = X[100:104], X[:40]
    ours = shapkit.Explainer(model, background).interactions(rows, index="STII")
    assert ours.settings["evaluated_on"].startswith("compiled trees: the sigmoid")
    calls = shapkit.Explainer(model.predict_proba, background).interactions(rows, index="STII")
    assert calls.settings["evaluated_on"] == "model calls"
    np.testing.assert_allclose(ours.main, calls.main, atol=1e-12)
    np.testing.assert_allclose(ours.pairs, calls.pairs, atol=1e-12)
    assert ours.main.shape == (4, 5, 2) and ours.pairs.shape == (4, 5, 5, 2)
    np.testing.assert_allclose(ours.predictions, model.predict_proba(rows), atol=1e-12)
    forest = RandomForestRegressor(n_estimators=8, max_depth=4, random_state=0)
    forest.fit(X, X[:, 0] * X[:, 1])
    trees = shapkit.Explainer(forest, background).interactions(rows, method="proxy")
    assert trees.settings["evaluated_on"] == "compiled trees: the trees' sum"
    again = shapkit.Explainer(forest.predict, background).interactions(rows, method="proxy")
    np.testing.assert_allclose(trees.pairs, again.pairs, atol=1e-12)


def test_model_interactions_add_up_and_sii_main_terms_are_the_shapley_values():
    model, X = _classifier()
    explainer = shapkit.Explainer(model, X[:40], method="exact")
    rows = X[100:103]
    for index in INDICES:
        inter = explainer.interactions(rows, index=index)
        if inter.efficient:
            gap = inter.predictions - inter.base_values
            np.testing.assert_allclose(inter.to_matrix().sum((1, 2)), gap, atol=1e-12)
    sii = explainer.interactions(rows, index="SII")
    np.testing.assert_allclose(sii.main, explainer(rows).values, atol=1e-12)


def test_model_interactions_of_groups_and_constant_players():
    X = np.random.default_rng(3).normal(size=(40, 4))

    def f(Z):
        Z = np.asarray(Z)
        return Z[:, 0] * Z[:, 1] + Z[:, 2] * Z[:, 3]

    rows = X[:3].copy()
    rows[0, 3] = X[5, 3]
    background = np.repeat(X[5:6], 10, axis=0)  # one background row, ten times
    inter = shapkit.Explainer(f, background).interactions(rows, index="k-SII")
    # one background row b: v(S) is the product game; pair (0, 1): (x0 - b0)(x1 - b1)
    b = X[5]
    np.testing.assert_allclose(inter.pairs[:, 0, 1], (rows[:, 0] - b[0]) * (rows[:, 1] - b[1]))
    assert np.all(inter.pairs[0, 3] == 0) and inter.main[0, 3] == 0  # x3 equals b3: dummy
    frame = pd.DataFrame(X, columns=list("abcd"))
    grouped = shapkit.Explainer(f, frame.iloc[:20], groups={"ab": ["a", "b"]}).interactions(
        frame.iloc[:2], index="SII"
    )
    assert grouped.feature_names == ["ab", "c", "d"] and grouped.pairs.shape == (2, 3, 3)
    np.testing.assert_allclose(grouped.pairs[:, 0, :], 0.0, atol=1e-12)  # ab acts alone


def test_to_frame_lists_every_term_once():
    model, X = _classifier()
    inter = shapkit.Explainer(model, X[:30]).interactions(X[100:102])
    frame = inter.to_frame()
    assert list(frame.columns) == ["row", "order", "feature_i", "feature_j", "output", "value",
                                   "std_error"]  # fmt: skip
    assert len(frame) == 2 * 5 * 2 + 2 * 10 * 2
    line = frame[(frame.row == 1) & (frame.order == 2) & (frame.feature_i == "x1")
                 & (frame.feature_j == "x3") & (frame.output == 1)]  # fmt: skip
    assert line.value.item() == inter.pairs[1, 1, 3, 1]
    first = frame[(frame.order == 1) & (frame.row == 0) & (frame.output == 0)]
    np.testing.assert_array_equal(first.value, inter.main[0, :, 0])


def test_model_interactions_refuse_what_they_cannot_do():
    model, X = _classifier()
    with pytest.raises(shapkit.BackgroundRequiredError):
        shapkit.Explainer(model, None).interactions(X[:2])
    wide = np.random.default_rng(0).normal(size=(10, 21))
    with pytest.raises(shapkit.TooManyPlayersError, match="at most 20 players"):
        shapkit.Explainer(lambda Z: Z.sum(1), wide).interactions(wide[:1], method="exact")
    with pytest.raises(ValueError, match="Unknown method='kernel'"):
        shapkit.Explainer(model, X[:10]).interactions(X[:1], method="kernel")
    with pytest.raises(ValueError, match="Unknown index"):
        shapkit.Explainer(model, X[:10]).interactions(X[:1], index="Shapley")


# --------------------------------------------------------------------------- proxy


def sum_of_unanimities(d: int, n_terms: int, seed: int):
    """A game with known sparse Moebius coefficients of orders 1 to 4."""
    rng = np.random.default_rng(seed)
    terms = [rng.choice(d, int(rng.integers(1, 5)), replace=False) for _ in range(n_terms)]
    coef = rng.normal(size=n_terms)

    def game(S):
        return sum(c * S[:, t].all(axis=1) for c, t in zip(coef, terms, strict=True)) * 1.0

    return game


def terms_of(result) -> tuple[np.ndarray, np.ndarray]:
    d = result.main.shape[0]
    i, j = np.triu_indices(d, 1)
    return (np.concatenate([result.main, result.pairs[i, j]]),
            np.concatenate([result.main_std_errors, result.pair_std_errors[i, j]]))  # fmt: skip


@pytest.mark.parametrize("index", INDICES)
def test_proxy_estimates_every_index_with_honest_standard_errors(index):
    d = 10
    game = sum_of_unanimities(d, 15, 0)
    exact, _ = terms_of(shapkit.interaction_values(game, d, index=index, method="exact"))
    result = shapkit.interaction_values(game, d, index=index, budget=30 * d, seed=1)
    assert (result.method, result.n_evals, result.converged) == ("proxy", 300, None)
    estimate, errors = terms_of(result)
    assert np.linalg.norm(estimate - exact) < 0.1 * np.linalg.norm(exact)
    assert np.isfinite(errors).all() and (errors > 0).all()
    assert np.mean(np.abs(estimate - exact) <= 1.96 * errors) >= 0.9
    if result.efficient:  # exactly, not to the kriging's jitter
        total = result.full_value - result.empty_value
        assert abs(result.to_matrix().sum() - total) < 1e-12 * max(1.0, abs(total))
    np.testing.assert_array_equal(result.pairs, result.pairs.T)
    np.testing.assert_array_equal(np.diag(result.pairs), 0.0)
    again = shapkit.interaction_values(game, d, index=index, budget=30 * d, seed=1)
    np.testing.assert_array_equal(again.pairs, result.pairs)


@pytest.mark.slow  # accuracy falling with the budget: a statistical claim, ~3 s
def test_proxy_gains_accuracy_with_budget_and_reads_a_pair_game_closely():
    d = 12
    game = sum_of_unanimities(d, 20, 3)
    exact, _ = terms_of(shapkit.interaction_values(game, d, method="exact"))
    errors = [
        np.linalg.norm(terms_of(shapkit.interaction_values(game, d, budget=b, seed=0))[0] - exact)
        for b in (10 * d, 30 * d, 80 * d)
    ]
    assert errors[0] > errors[1] > errors[2]
    # an additive game plus one pair: the pair stands out, within its standard errors
    pair_game = lambda S: S @ np.arange(1.0, d + 1) + 3.0 * (S[:, 2] & S[:, 7])  # noqa: E731
    expected_main = np.arange(1.0, d + 1) + 1.5 * np.isin(np.arange(d), [2, 7])
    expected = np.zeros((d, d))
    expected[2, 7] = expected[7, 2] = 3.0
    for budget, atol in ((10 * d, 0.3), (30 * d, 1e-3)):
        result = shapkit.interaction_values(pair_game, d, index="SII", budget=budget, seed=0)
        np.testing.assert_allclose(result.main, expected_main, atol=atol)
        np.testing.assert_allclose(result.pairs, expected, atol=atol)
        assert (np.abs(result.pairs - expected) <= 2 * result.pair_std_errors + 1e-12).mean() > 0.95


def test_proxy_tolerance_stops_early_and_says_when_it_could_not():
    d = 12
    game = sum_of_unanimities(d, 20, 4)
    loose = shapkit.interaction_values(game, d, tol=0.2, budget=4000, seed=0)
    assert loose.converged is True and loose.n_evals == 10 * d
    tight = shapkit.interaction_values(game, d, tol=1e-6, budget=500, seed=0)
    assert tight.converged is False and tight.n_evals == 500
    spread = np.ptp(terms_of(tight)[0])
    assert terms_of(tight)[1].max() > 1e-6 * spread


@pytest.mark.slow  # up to 2,048 evaluations in one kriging fit, ~4 s
def test_proxy_without_budget_or_tol_stops_at_tol_one_percent():
    d = 12
    game = sum_of_unanimities(d, 20, 4)
    default = shapkit.interaction_values(game, d, seed=0)
    assert default.method == "proxy" and default.n_evals <= max(2048, 100 * d)
    estimate, errors = terms_of(default)
    assert default.converged == bool(errors.max() <= 0.01 * np.ptp(estimate))


def test_proxy_of_games_with_several_outputs_is_per_output():
    d = 8
    one, two = sum_of_unanimities(d, 10, 5), sum_of_unanimities(d, 10, 6)
    both = shapkit.interaction_values(lambda S: np.stack([one(S), two(S)], axis=1), d,
                                      budget=100, seed=0)  # fmt: skip
    assert both.pairs.shape == (d, d, 2) and both.pair_std_errors.shape == (d, d, 2)
    exact = shapkit.interaction_values(lambda S: np.stack([one(S), two(S)], axis=1), d)
    np.testing.assert_allclose(both.to_matrix().sum((0, 1)), exact.to_matrix().sum((0, 1)),
                               rtol=1e-10)  # fmt: skip
    assert np.linalg.norm(both.pairs - exact.pairs) < 0.3 * np.linalg.norm(exact.pairs)


def test_model_interactions_by_the_proxy_have_standard_errors():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 8))
    f = lambda Z: Z[:, 0] * Z[:, 1] + np.sin(Z[:, 2]) * Z[:, 3] + Z[:, 4]  # noqa: E731
    explainer = shapkit.Explainer(f, X, seed=0)
    exact = explainer.interactions(X[:3], method="exact")
    proxy = explainer.interactions(X[:3], method="proxy", budget=120)
    assert proxy.method == "proxy" and proxy.n_evals.tolist() == [120, 120, 120]
    assert proxy.settings["method"] == "proxy" and proxy.converged is None
    assert (proxy.pair_std_errors[:, 0, 1] > 0).all()
    np.testing.assert_allclose(proxy.to_matrix().sum((1, 2)), exact.to_matrix().sum((1, 2)),
                               rtol=1e-10)  # fmt: skip
    assert np.abs(proxy.pairs - exact.pairs).max() < 0.05 * np.abs(exact.pairs).max()
    frame = proxy.to_frame()
    assert (frame[frame.order == 2].std_error > 0).any()
    again = explainer.interactions(X[:3], method="proxy", budget=120)
    np.testing.assert_array_equal(again.pairs, proxy.pairs)


def _path_models():
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + X[:, 3]
    models = [
        GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(X, y),
        RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(X, y > 0),
    ]
    try:
        import xgboost as xgb
    except ImportError:
        return X, models
    models.append(xgb.XGBRegressor(n_estimators=20, max_depth=4, random_state=0).fit(X, y))
    return X, models


def test_path_dependent_interactions_are_shaps_tree_interaction_values():
    shap = pytest.importorskip("shap")
    X, models = _path_models()
    rows = X[:4]
    for model in models:
        inter = shapkit.Explainer(model, None).interactions(rows, index="k-SII")
        assert inter.settings["value_function"] == "tree_path_dependent"
        assert inter.method == "tree"
        reference = np.asarray(shap.TreeExplainer(model).shap_interaction_values(rows))
        matrix = inter.to_matrix()
        if reference.ndim == 4 and reference.shape[0] != rows.shape[0]:  # (k, n, d, d)
            reference = np.moveaxis(reference, 0, -1)
        tol = 1e-6 * max(1.0, float(np.abs(reference).max()))
        np.testing.assert_allclose(matrix, reference.reshape(matrix.shape), rtol=0, atol=tol)


def test_path_dependent_sii_main_terms_are_the_path_dependent_shapley_values():
    X, models = _path_models()
    for model in models:
        explainer = shapkit.Explainer(model, None)
        sii = explainer.interactions(X[:3], index="SII")
        np.testing.assert_allclose(sii.main, explainer(X[:3]).values, atol=1e-6)
        np.testing.assert_allclose(sii.base_values, explainer(X[:3]).base_values, atol=1e-6)


# --------------------------------------------------------------------------- reports


def test_summary_of_the_strongest_pairs():
    model, X = _classifier()
    inter = shapkit.Explainer(model, X[:40]).interactions(X[100:120])
    table = shapkit.summary(inter)  # a binary classifier: the positive class only
    assert table.attrs["outputs"] == [1] and table.attrs["index"] == "k-SII"
    assert list(table.columns) == ["mean_abs", "std_abs", "ci_low", "ci_high", "share",
                                   "mean", "rank"]  # fmt: skip
    assert len(table) == 10 and table["rank"].tolist() == list(range(1, 11))
    (fi, fj), first = table.index[0], table.iloc[0]
    i, j = inter.feature_names.index(fi), inter.feature_names.index(fj)
    column = inter.pairs[:, i, j, 1]
    assert first.mean_abs == pytest.approx(np.abs(column).mean())
    assert first["mean"] == pytest.approx(column.mean())
    assert first.ci_low < first.mean_abs < first.ci_high
    assert table["share"].sum() == pytest.approx(1.0)
    assert (np.diff(table["mean_abs"]) <= 0).all()
    both = shapkit.reports.interactions.interaction_summary(inter, output=0, top=3)
    assert len(both) == 3 and both.attrs["outputs"] == [0]
    np.testing.assert_allclose(both["mean_abs"], table["mean_abs"][:3])  # mirrored outputs
    fixed = shapkit.summary(inter, rows="fixed")
    np.testing.assert_allclose(fixed.ci_low, fixed.mean_abs)  # exact: no noise
    with pytest.raises(KeyError, match="not one of the outputs"):
        shapkit.summary(inter, output="yes")
    with pytest.raises(ValueError, match="output=, level= and rows= only"):
        shapkit.summary(inter, aggregate=True)


def test_interaction_heatmap_shows_the_mean_pair_strengths():
    X = np.random.default_rng(0).normal(size=(40, 3))
    inter = shapkit.Explainer(lambda Z: Z[:, 0] * Z[:, 1], X).interactions(X[:6])
    ax = shapkit.plots.interaction_heatmap(inter)
    shown = ax.images[0].get_array()
    expected = np.abs(inter.pairs).mean(axis=0)
    assert np.ma.getmaskarray(shown)[np.diag_indices(3)].all()  # the diagonal is blank
    np.testing.assert_allclose(shown[0, 1], expected[0, 1])
    np.testing.assert_allclose(shown[0, 2], 0.0, atol=1e-12)  # x2 is a dummy
    three = np.random.default_rng(1).normal(size=(30, 2))
    multi = shapkit.Explainer(lambda Z: np.c_[Z[:, 0] * Z[:, 1], Z[:, 0]], three)
    with pytest.raises(ValueError, match="pick one with output="):
        shapkit.plots.interaction_heatmap(multi.interactions(three[:3]))


def test_interaction_dependence_plots_the_strongest_partner():
    """x: the feature's values; y: its pair terms with the strongest partner (chosen by
    mean |term|); colour: the partner's values, or its group's first column."""
    X = np.random.default_rng(0).normal(size=(40, 4))
    f = lambda Z: 3 * Z[:, 0] * Z[:, 2] + 0.5 * Z[:, 0] * Z[:, 1]  # noqa: E731
    inter = shapkit.Explainer(f, X).interactions(X[:12])
    ax = shapkit.plots.interaction_dependence(inter, "x0")
    assert ax.get_ylabel() == "k-SII pair term of x0 and x2"
    points = ax.collections[-1].get_offsets()
    np.testing.assert_allclose(points[:, 0], X[:12, 0])
    np.testing.assert_allclose(points[:, 1], inter.pairs[:, 0, 2])
    assert "x2" in [a.get_ylabel() for a in ax.figure.axes]  # the colourbar's label
    chosen = shapkit.plots.interaction_dependence(inter, "x0", partner="x1")
    np.testing.assert_allclose(chosen.collections[-1].get_offsets()[:, 1], inter.pairs[:, 0, 1])
    grouped = shapkit.Explainer(f, X, groups={"g": ["x2", "x3"]}).interactions(X[:12])
    ax = shapkit.plots.interaction_dependence(grouped, "x0")
    assert ax.get_ylabel() == "k-SII pair term of x0 and g"
    assert "x2" in [a.get_ylabel() for a in ax.figure.axes]
    with pytest.raises(KeyError, match="Unknown feature"):
        shapkit.plots.interaction_dependence(inter, "nope")
    with pytest.raises(ValueError, match="the feature itself"):
        shapkit.plots.interaction_dependence(inter, "x0", partner="x0")


@pytest.mark.slow
@pytest.mark.parametrize("index", ["k-SII", "SII"])
def test_proxy_intervals_cover_the_exact_terms_over_seeds(index):
    """95% intervals over 10 seeds, two games and two budgets: at least 90% coverage."""
    from sklearn.ensemble import RandomForestRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 10))
    y = X[:, 0] * X[:, 1] + np.abs(X[:, 2]) + X[:, 3] * (X[:, 4] > 0)
    forest = RandomForestRegressor(30, max_depth=6, random_state=0).fit(X, y)
    background, x = X[:20], X[25]

    def forest_game(S):
        rows = np.where(S[:, None, :], x, background[None])
        return forest.predict(rows.reshape(-1, 10)).reshape(len(S), -1).mean(axis=1)

    covered = []
    for game, d in ((forest_game, 10), (sum_of_unanimities(12, 20, 7), 12)):
        exact, _ = terms_of(shapkit.interaction_values(game, d, index=index, method="exact"))
        for budget in (10 * d, 30 * d):
            for seed in range(10):
                result = shapkit.interaction_values(game, d, index=index, budget=budget, seed=seed)
                estimate, errors = terms_of(result)
                covered.append(np.abs(estimate - exact) <= 1.96 * errors + 1e-12)
    assert np.mean(np.concatenate(covered)) >= 0.9
