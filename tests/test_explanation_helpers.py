"""Explanation helpers for daily use: .abs, .mean(axis) and cohorts with a summary each."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shapkit


@pytest.fixture(scope="module")
def planted():
    """f = 2 b where a > 0, else 0: b matters in one half of the rows only."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"a": rng.normal(size=120), "b": rng.normal(size=120), "c": rng.choice(["u", "v"], 120)}
    )

    def model(Z):
        return 2.0 * Z["b"].to_numpy() * (Z["a"].to_numpy() > 0)

    return shapkit.explain(model, X.iloc[:60], background=X.iloc[60:], seed=0)


@pytest.fixture(scope="module")
def multi():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    return shapkit.explain(
        lambda Z: np.column_stack([Z @ [1.0, 2.0, 0.0], Z @ [0.0, -1.0, 3.0]]), X[:5],
        background=X, seed=0,
    )  # fmt: skip


def test_abs_keeps_everything_but_the_sign(planted):
    magnitude = planted.abs
    np.testing.assert_array_equal(magnitude.values, np.abs(planted.values))
    np.testing.assert_array_equal(magnitude.std_errors, planted.std_errors)
    np.testing.assert_array_equal(magnitude.predictions, planted.predictions)
    assert magnitude.feature_names == planted.feature_names
    assert (planted.values < 0).any()  # the original is untouched


def test_mean_over_each_axis(planted, multi):
    by_player = planted.abs.mean(0)
    assert list(by_player.index) == ["a", "b", "c"]
    np.testing.assert_allclose(by_player.to_numpy(), np.abs(planted.values).mean(0))
    by_row = planted.mean(1)
    assert by_row.index.equals(planted.data.index)
    np.testing.assert_allclose(by_row.to_numpy(), planted.values.mean(1))
    table = multi.mean(0)
    assert table.shape == (3, 2) and list(table.columns) == multi.output_names
    np.testing.assert_allclose(table.to_numpy(), multi.values.mean(0))
    np.testing.assert_allclose(multi.mean(1).to_numpy(), multi.values.mean(1))
    np.testing.assert_allclose(multi.mean(2).to_numpy(), multi.values.mean(2))
    for bad in (3, -1, True):
        with pytest.raises(ValueError, match="axis"):
            planted.mean(bad)
    with pytest.raises(ValueError, match="one output"):
        planted.mean(2)


def test_cohorts_by_a_column_are_the_rows_of_each_value(planted):
    cohorts = planted.cohorts("c")
    assert list(cohorts) == ["c = u", "c = v"]
    for label, value in (("c = u", "u"), ("c = v", "v")):
        rows = np.flatnonzero(planted.data["c"].to_numpy() == value)
        np.testing.assert_array_equal(cohorts[label].values, planted.values[rows])
    assert cohorts.sizes().sum() == len(planted)
    table = shapkit.summary(cohorts, rows="fixed")
    assert table.index.names == ["cohort", "feature"]
    expected = shapkit.summary(cohorts["c = v"], rows="fixed")
    pd.testing.assert_frame_equal(
        table.loc["c = v"].drop(columns="rows"), expected, check_names=False
    )
    assert set(table["rows"]) == set(cohorts.sizes())
    with pytest.raises(KeyError, match="No cohort"):
        cohorts["c = w"]


def test_numeric_columns_are_cut_into_quartiles_and_missing_cells_kept(planted):
    quartiles = planted.cohorts("a")
    assert len(quartiles) == 4 and all(label.startswith("a in (") for label in quartiles)
    assert sorted(quartiles.sizes()) == [15, 15, 15, 15]
    data = planted.data.copy()
    data.loc[data.index[:5], "a"] = np.nan
    holed = shapkit.Explanation(**{**planted.__dict__, "data": data})
    labels = list(holed.cohorts("a"))
    assert labels[-1] == "missing" and holed.cohorts("a").sizes()["missing"] == 5


def test_tree_cohorts_find_the_planted_split():
    """f = 3 [a > 0] + 0.1 b: a's value is one number on each side of a = 0, so two
    cohorts split on a near 0, with a's values positive in one and negative in the
    other."""
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    expl = shapkit.explain(
        lambda Z: 3.0 * (Z["a"].to_numpy() > 0) + 0.1 * Z["b"].to_numpy(),
        X.iloc[:80], background=X.iloc[80:], seed=0,
    )  # fmt: skip
    cohorts = expl.cohorts(2)
    assert len(cohorts) == 2
    low, high = sorted(cohorts, key=lambda label: "<=" not in label)
    assert low.startswith("a <= ") and high.startswith("a > ")
    threshold = float(low.split("<= ")[1])
    assert abs(threshold) < 0.3
    assert np.all(cohorts[low].data["a"] <= threshold)
    assert np.all(cohorts[high].data["a"] > threshold)
    assert cohorts[low].mean(0)["a"] < 0 < cohorts[high].mean(0)["a"]
    assert list(expl.cohorts(1)) == ["all rows"]


def test_cohorts_from_labels_and_bad_requests(planted):
    labels = np.where(np.arange(len(planted)) < 20, "first", "rest")
    cohorts = planted.cohorts(labels)
    assert cohorts.sizes().to_dict() == {"first": 20, "rest": 40}
    with pytest.raises(ValueError, match="one per row"):
        planted.cohorts(labels[:5])
    with pytest.raises(KeyError, match="not a column"):
        planted.cohorts("nope")
    with pytest.raises(ValueError, match="at least 1"):
        planted.cohorts(0)
    with pytest.raises(TypeError, match="column name"):
        planted.cohorts(True)
