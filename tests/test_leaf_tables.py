"""Leaf-pattern TreeSHAP (tables and pattern lists): exact, bit-identical however the work
is cut, and the walk where paths are too long for bit masks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.tree import DecisionTreeRegressor

import shapkit
import shapkit.closed_form.leaf_tables as leaf_tables
from shapkit.closed_form.tree import tree_shapley
from shapkit.trees import read_tree_model


def deep_tree(n_features: int, seed: int = 0, n_rows: int = 1500):
    """An unpruned tree on noise: long paths that test most features, with repeats."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features))
    X[rng.random(X.shape) < 0.05] = np.nan  # missing values take the default way
    y = np.nansum(X[:, :4], axis=1) + rng.normal(size=n_rows)
    model = DecisionTreeRegressor(random_state=seed).fit(X, y)
    return model, X


def test_long_paths_equal_exact_enumeration():
    model, X = deep_tree(9)
    tm = read_tree_model(model)
    assert tm.ensemble.max_depth > 12  # paths repeat features: k < depth
    Xe, bg = X[:4], X[100:160]
    tree = shapkit.explain(model, Xe, background=bg, method="tree")
    exact = shapkit.explain(model, Xe, background=bg, method="exact")
    assert np.allclose(tree.values, exact.values, rtol=0, atol=1e-9)
    for algorithm in ("leaf", "table", "walk"):
        values, _, _ = tree_shapley(tm, Xe, bg, algorithm=algorithm)
        assert np.allclose(values.reshape(exact.values.shape), exact.values, rtol=0, atol=1e-9)


def test_pattern_lists_of_wide_leaves_equal_the_walk(monkeypatch):
    # leaves of more than MAX_TABLE_SLOTS players keep sorted pattern lists
    monkeypatch.setattr(leaf_tables, "MAX_TABLE_SLOTS", 5)
    model, X = deep_tree(24, seed=1, n_rows=4000)
    tm = read_tree_model(model)
    paths = leaf_tables.leaf_paths(tm.ensemble.feature, tm.ensemble.left, tm.ensemble.right,
                                   tm.ensemble.roots, np.arange(24), 24)  # fmt: skip
    assert (np.diff(paths[6]) > 5).mean() > 0.5
    Xe, bg = X[:30], X[1000:1400]
    walk, _, _ = tree_shapley(tm, Xe, bg, algorithm="walk")
    auto, base, pred = tree_shapley(tm, Xe, bg)
    assert np.allclose(auto, walk, rtol=0, atol=1e-12)
    assert np.allclose(base + auto.sum(1), pred, rtol=0, atol=1e-12)


def test_values_do_not_depend_on_blocks_or_row_chunks(monkeypatch):
    model, X = deep_tree(10, seed=2)
    tm = read_tree_model(model)
    Xe, bg = X[:120], X[300:600]
    whole, _, _ = tree_shapley(tm, Xe, bg)
    monkeypatch.setattr(leaf_tables, "BLOCK_BYTES", 4096)  # many blocks, some of one leaf
    assert len(leaf_tables._blocks(np.full(50, 10), np.full(50, True), 300)) == 50
    blocked, _, _ = tree_shapley(tm, Xe, bg)
    assert np.array_equal(whole, blocked)
    # one row at a time (another table/list choice per leaf): the same bits
    for i in (0, 77, 119):
        one, _, _ = tree_shapley(tm, Xe[i : i + 1], bg)
        assert np.array_equal(one, whole[i : i + 1])


def test_blocks_bound_memory():
    n_slots = np.array([6] * 500 + [20] * 30 + [0] * 10 + [12] * 200)
    dense = n_slots <= leaf_tables.MAX_TABLE_SLOTS
    m = 50_000
    blocks = leaf_tables._blocks(n_slots, dense, m)
    assert blocks[0][0] == 0 and blocks[-1][1] == n_slots.size
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:], strict=False))
    per_leaf = np.where(dense, 2.0**n_slots * (n_slots + 4), 3.0 * m) * 8.0
    per_leaf[n_slots == 0] = 0
    for lo, hi in blocks:
        assert hi - lo == 1 or per_leaf[lo:hi].sum() <= leaf_tables.BLOCK_BYTES


def test_paths_beyond_bit_masks_take_the_walk(monkeypatch):
    model, X = deep_tree(8, seed=3)
    tm = read_tree_model(model)
    Xe, bg = X[:5], X[50:90]
    reference, _, _ = tree_shapley(tm, Xe, bg, algorithm="walk")
    monkeypatch.setattr(leaf_tables, "MAX_PATTERN_SLOTS", 3)
    monkeypatch.setattr("shapkit.closed_form.tree.MAX_PATTERN_SLOTS", 3)
    auto, _, _ = tree_shapley(tm, Xe, bg)  # falls back to the walk
    assert np.array_equal(auto, reference)
    with pytest.raises(ValueError, match="at most 3 distinct players.*algorithm='walk'"):
        tree_shapley(tm, Xe, bg, algorithm="table")


def test_unknown_algorithm_is_refused():
    model, X = deep_tree(4)
    with pytest.raises(ValueError, match="algorithm must be one of"):
        tree_shapley(read_tree_model(model), X[:2], X[:5], algorithm="fast")


@pytest.mark.parametrize("kind", ["forest-3-class", "boosting-3-class", "nan", "one-leaf"])
def test_the_base_value_read_from_the_patterns_is_the_backgrounds_mean_prediction(
    kind, monkeypatch
):
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

    rng = np.random.default_rng(5)
    X = rng.normal(size=(600, 6))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    if kind == "forest-3-class":
        model = RandomForestClassifier(n_estimators=8, max_depth=5, random_state=0).fit(X, y)
    elif kind == "boosting-3-class":
        model = GradientBoostingClassifier(n_estimators=6, random_state=0).fit(X, y)
    elif kind == "nan":  # missing values in the background take the default way
        X[rng.random(X.shape) < 0.1] = np.nan
        model = deep_tree(6, seed=3)[0]
    else:  # a tree of one leaf: no player, every background row reaches it
        model = DecisionTreeRegressor().fit(X, np.full(600, 2.5))
    tm = read_tree_model(model)
    Xe, bg = X[:5], X[100:400]
    expected = tm.ensemble.predict(bg).mean(axis=0)
    for tables in ("auto", "never"):  # histograms, and pattern lists
        monkeypatch.setattr(leaf_tables, "MAX_TABLE_SLOTS", 16 if tables == "auto" else 1)
        values, base, pred = tree_shapley(tm, Xe, bg)
        np.testing.assert_allclose(base, np.broadcast_to(expected, base.shape), rtol=0,
                                   atol=1e-12)  # fmt: skip
        np.testing.assert_allclose(base + values.sum(1), pred, rtol=0, atol=1e-12)
    _, walked, _ = tree_shapley(tm, Xe, bg, algorithm="walk")  # the walk predicts instead
    np.testing.assert_allclose(walked, base, rtol=0, atol=1e-12)
