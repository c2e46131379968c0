"""The tabular layer: masked rows, players and groups, dummy players, marginal games."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import brute_force_shapley

import shapkit
from shapkit.games import MarginalGame
from shapkit.models import as_model
from shapkit.tabular import RowMasker, column_names_of, resolve_players, sample_background


def marginal_game_by_hand(f, x, background):
    """v(S) = mean_b f(x_S, b_notS), one coalition at a time with plain numpy."""

    def game(masks):
        out = []
        for mask in masks:
            rows = np.where(mask[None, :], x[None, :], background)
            out.append(np.mean(f(rows)))
        return np.array(out)

    return game


def test_masked_rows_copy_cells_in_coalition_then_background_order():
    X = np.array([[1.0, 2.0, 3.0]])
    background = np.array([[10.0, 20.0, 30.0], [40.0, 50.0, np.nan]])
    masker = RowMasker(X, background, np.array([0, 1, 1]))
    masks = np.array([[True, False], [False, True]])
    rows = masker.masked_rows(0, masks, np.array([0, 1, 1]), 0, 4)
    expected = np.array(
        [[1.0, 20.0, 30.0], [1.0, 50.0, np.nan], [10.0, 2.0, 3.0], [40.0, 2.0, 3.0]]
    )
    np.testing.assert_array_equal(rows, expected)
    # a slice starting mid-coalition
    np.testing.assert_array_equal(
        masker.masked_rows(0, masks, np.array([0, 1, 1]), 1, 3), expected[1:3]
    )


def test_masked_rows_keep_frame_dtypes_and_exact_cells():
    X = pd.DataFrame(
        {
            "cat": pd.Categorical(["a", "b"], categories=["a", "b", "c"]),
            "s": pd.array(["x", "y"], dtype="string"),
            "n": pd.array([1, None], dtype="Int64"),
            "f": [0.1, np.nan],
            "flag": [True, False],
        }
    )
    background = X.iloc[::-1].reset_index(drop=True)
    masker = RowMasker(X, background, np.arange(5))
    masks = np.array([[True, False, True, False, True]])
    rows = masker.masked_rows(0, masks, np.arange(5), 0, 2)
    assert list(rows.columns) == list(X.columns)
    assert (rows.dtypes == X.dtypes).all()
    assert list(rows["cat"]) == ["a", "a"] and list(rows["s"]) == ["y", "x"]
    assert list(rows["n"].astype(object)) == [1, 1]
    assert rows["f"].isna().tolist() == [True, False] and rows["f"][1] == 0.1


def test_constant_players_are_dummies_and_skipped():
    """A feature equal in x and every background row has value 0; others are unchanged."""
    rng = np.random.default_rng(0)
    background = rng.normal(size=(15, 5))
    background[:, 2] = 7.0
    X = rng.normal(size=(3, 5))
    X[:, 2] = 7.0

    def f(Z):
        return np.tanh(Z[:, 0] * Z[:, 1]) + Z[:, 2] * Z[:, 3] + Z[:, 4] ** 2

    expl = shapkit.explain(f, X, background=background)
    assert (expl.values[:, 2] == 0).all()
    assert (expl.n_evals == 2**4).all()
    for i in range(3):
        expected = brute_force_shapley(marginal_game_by_hand(f, X[i], background), 5)
        np.testing.assert_allclose(expl.values[i], expected, atol=1e-10)


def test_all_players_constant_gives_zeros_and_prediction():
    X = np.array([[1.0, 2.0]])
    expl = shapkit.explain(lambda Z: Z.sum(axis=1), X, background=X.copy())
    np.testing.assert_array_equal(expl.values, np.zeros((1, 2)))
    assert expl.base_values[0] == 3.0 and expl.predictions[0] == 3.0


def test_marginal_game_matches_hand_computation_with_small_slices():
    rng = np.random.default_rng(2)
    X, background = rng.normal(size=(2, 4)), rng.normal(size=(9, 4))

    def f(Z):
        return np.exp(Z[:, 0]) * Z[:, 1] - Z[:, 2] * Z[:, 3]

    masker = RowMasker(X, background, np.arange(4))
    masks = rng.random((11, 4)) < 0.5
    for max_rows in (1, 4, 9, 50, 1000):
        game = MarginalGame(as_model(f), masker, 1, np.arange(4), max_rows=max_rows)
        np.testing.assert_allclose(
            game(masks), marginal_game_by_hand(f, X[1], background)(masks)[:, None]
        )


def test_resolve_players_orders_by_first_column_and_keeps_singletons():
    names, column_player = resolve_players(["a", "b", "c", "d"], {"g": ["d", "b"]})
    assert names == ["a", "g", "c"]
    assert column_player.tolist() == [0, 1, 2, 1]


def test_names_that_collide_after_str_are_refused():
    X = pd.DataFrame([[1.0, 2.0, 3.0]], columns=pd.Index([1, "1", "b"], dtype=object))
    with pytest.raises(ValueError, match=r"X's columns has 1 and '1', which both read '1'"):
        column_names_of(X, None)
    with pytest.raises(ValueError, match=r"X's columns has 1 and '1'"):
        shapkit.explain(lambda Z: Z.iloc[:, 0], X, background=X)
    ok = column_names_of(X, ["one", "one as text", "b"])  # names given: the labels are free
    assert ok == ["one", "one as text", "b"]
    with pytest.raises(ValueError, match=r"feature_names has 2 and '2', which both read '2'"):
        column_names_of(np.zeros((1, 3)), [2, "2", "c"])
    with pytest.raises(ValueError, match=r"feature_names contains duplicates: 'c' twice"):
        column_names_of(np.zeros((1, 3)), ["c", "d", "c"])
    with pytest.raises(ValueError, match=r"has 0.5 and '0.5'"):
        column_names_of(pd.DataFrame([[1, 2]], columns=pd.Index([0.5, "0.5"], dtype=object)), None)
    assert column_names_of(pd.DataFrame([[1, 2]], columns=[0, 1]), None) == ["0", "1"]


def test_group_names_that_collide_are_refused():
    columns = ["a", "b", "c", "1"]
    with pytest.raises(ValueError, match=r"group names 1 and '1' both read '1'"):
        resolve_players(columns, {1: ["a"], "1": ["b"]})
    with pytest.raises(ValueError, match=r"group name 1 is also the name of an ungrouped column "
                                         r"\('1'\): both would read '1'"):  # fmt: skip
        resolve_players(columns, {1: ["a", "b"]})
    names, _ = resolve_players(columns, {1: ["a", "1"]})  # the column "1" is in the group
    assert names == ["1", "b", "c"]


def test_grouped_players_equal_the_game_on_groups():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(2, 4)), columns=["a", "b", "c", "d"])
    background = pd.DataFrame(rng.normal(size=(6, 4)), columns=["a", "b", "c", "d"])

    def f(Z):
        return Z["a"] * Z["d"] + np.sin(Z["b"]) + Z["c"]

    expl = shapkit.explain(f, X, background=background, groups={"ad": ["a", "d"]})
    assert expl.feature_names == ["ad", "b", "c"]
    assert expl.player_columns == {"ad": ["a", "d"], "b": ["b"], "c": ["c"]}
    x = X.to_numpy()[0]
    bg = background.to_numpy()

    def grouped_game(masks):  # players: ad, b, c
        columns = masks[:, [0, 1, 2, 0]]
        return marginal_game_by_hand(
            lambda Z: Z[:, 0] * Z[:, 3] + np.sin(Z[:, 1]) + Z[:, 2], x, bg
        )(columns)

    np.testing.assert_allclose(expl.values[0], brute_force_shapley(grouped_game, 3), atol=1e-10)


def test_background_sample_is_seeded_and_bounded():
    X = np.arange(500.0).reshape(250, 2)
    a, b = sample_background(X, 100, seed=5), sample_background(X, 100, seed=5)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (100, 2) and len(np.unique(a[:, 0])) == 100
    assert not np.array_equal(a, sample_background(X, 100, seed=6))
    np.testing.assert_array_equal(sample_background(X[:50], 100, seed=5), X[:50])


def test_explain_default_background_is_seeded():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 3))

    def f(Z):
        return Z[:, 0] * Z[:, 1] + Z[:, 2]

    a = shapkit.explain(f, X[:4], seed=1)
    b = shapkit.explain(f, X[:4], seed=1)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.base_values, b.base_values)


def test_to_frame_long_format_with_groups_and_outputs():
    X = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0], "c": ["u", "v"]})
    background = pd.DataFrame({"a": [0.0], "b": [0.0], "c": ["u"]})

    def f(Z):
        return np.stack([Z["a"] + Z["b"], (Z["c"] == "v") * 1.0], axis=1)

    expl = shapkit.explain(f, X, background=background, groups={"ab": ["a", "b"]})
    frame = expl.to_frame()
    assert list(frame.columns) == [
        "row",
        "feature",
        "output",
        "feature_value",
        "shap_value",
        "std_error",
    ]
    assert len(frame) == 2 * 2 * 2
    first = frame[(frame.row == 1) & (frame.feature == "ab") & (frame.output == "output_0")]
    assert (
        first.feature_value.item() == "a=2.0; b=4.0"
        and first.shap_value.item() == pytest.approx(6.0)
    )
    second = frame[(frame.row == 1) & (frame.feature == "c") & (frame.output == "output_1")]
    assert second.feature_value.item() == "v" and second.shap_value.item() == pytest.approx(1.0)


@pytest.mark.parametrize("start, stop", [(0, 60), (0, 1), (3, 4), (5, 27), (14, 15), (13, 60)])
def test_masked_row_kernels_match_a_direct_construction(start, stop):
    from shapkit._kernels.masking import fill_masked_index, fill_masked_rows

    rng = np.random.default_rng(3)
    masks = rng.random((12, 3)) < 0.5
    column_player = np.array([0, 2, 1, 2, 0], dtype=np.int64)  # 5 columns, 3 players
    instance = rng.normal(size=5)
    background = rng.normal(size=(5, 5))
    flat = np.arange(start, stop)
    coalition, b = flat // 5, flat % 5
    held = masks[coalition][:, column_player]
    expected = np.where(held, instance[None, :], background[b])
    out = np.full((stop - start, 5), np.nan)
    fill_masked_rows(masks, column_player, instance, background, start, out)
    np.testing.assert_array_equal(out, expected)
    background_index = np.array([10, 11, 12, 13, 14], dtype=np.int64)
    index = np.full((stop - start, 5), -1, dtype=np.int64)
    fill_masked_index(masks, column_player, 99, background_index, start, index)
    np.testing.assert_array_equal(index, np.where(held, 99, background_index[b][:, None]))


def test_group_members_must_be_a_column_name_or_a_list_of_them():
    columns = ["a", "b", "1"]
    for members in (2, None, 0.5):
        with pytest.raises(
            ValueError,
            match=rf"group 'g' has members {members!r} \(\w+\); members must be a column name "
            r"or a list of them",
        ):
            resolve_players(columns, {"g": members})
    assert resolve_players(columns, {"g": "b"})[1].tolist() == [0, 1, 2]
    assert resolve_players(columns, {"g": 1})[0] == ["a", "b", "g"]  # the column labelled 1
    assert resolve_players(columns, {"g": ("a", "1")})[0] == ["g", "b"]


@pytest.mark.parametrize("as_frame", [False, True])
def test_float16_cells_are_copied_exactly_and_reach_the_model_as_float16(as_frame):
    """Numba has no float16: the masking kernels copy the cells' bits as uint16."""
    rng = np.random.default_rng(9)
    X = rng.normal(size=(3, 4)).astype(np.float16)
    background = rng.normal(size=(5, 4)).astype(np.float16)
    X[1, 2] = np.nan
    seen = set()

    def model(Z):
        Z = Z.to_numpy() if as_frame else Z
        seen.add(Z.dtype)
        cells = np.nan_to_num(Z.astype(np.float64), nan=-1.0)
        return cells[:, 0] * cells[:, 1] + cells[:, 2] - cells[:, 3] ** 2

    def data(array):
        return pd.DataFrame(array, columns=list("abcd")) if as_frame else array

    half = shapkit.explain(model, data(X), background=data(background), seed=0)
    single = shapkit.explain(
        model, data(X.astype(np.float32)), background=data(background.astype(np.float32)), seed=0
    )
    assert np.dtype(np.float16) in seen
    np.testing.assert_array_equal(half.values, single.values)  # float16 -> float32 is exact
    np.testing.assert_array_equal(half.predictions, single.predictions)
    # the masker's rows hold the very cells of X and the background
    masker = RowMasker(X, background, np.arange(4))
    masks = np.array([[True, False, True, False]])
    rows = masker.masked_rows(1, masks, np.arange(4), 0, 5)
    expected = np.where(masks[0], X[1], background)
    assert rows.dtype == np.float16
    np.testing.assert_array_equal(rows.view(np.uint16), expected.view(np.uint16))
