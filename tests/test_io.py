"""Explanation ergonomics (indexing, frames, shap export) and save/load round trips."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

import shapkit
from shapkit import Explanation


def _explanation(multi: bool = False, n: int = 6) -> Explanation:
    """A hand-made explanation whose data has many dtypes, a named string index, a
    group and settings of several types."""
    rng = np.random.default_rng(0)
    data = pd.DataFrame(
        {
            "age": rng.integers(20, 70, size=n),
            "income": rng.normal(50, 10, size=n),
            "city": pd.array(["Oslo", "Lima", None, "Pune", "Oslo", "Lima"][:n], dtype="str"),
            "grade": pd.Categorical(list("abcabc")[:n], categories=["c", "b", "a"], ordered=True),
            "visits": pd.array([1, None, 3, 4, None, 6][:n], dtype="Int64"),
            "member": [True, False, True, True, False, False][:n],
            "when": pd.date_range("2024-01-01", periods=n, freq="D"),
        },
        index=pd.Index([f"id{i}" for i in range(n)], name="customer"),
    )
    features = ["age", "income", "city", "profile"]
    player_columns = {"age": ["age"], "income": ["income"], "city": ["city"],
                      "profile": ["grade", "visits", "member", "when"]}  # fmt: skip
    shape = (n, len(features), 3) if multi else (n, len(features))
    values = rng.normal(size=shape)
    base = np.full((n, 3) if multi else n, 0.3)
    return Explanation(
        values=values,
        base_values=base,
        std_errors=np.abs(rng.normal(scale=0.01, size=shape)),
        data=data,
        feature_names=features,
        output_names=[0, 1, 2] if multi else ["prediction"],
        method="kernel",
        n_evals=rng.integers(100, 200, size=n),
        predictions=base + values.sum(axis=1),
        player_columns=player_columns,
        settings={
            "method": "kernel",
            "budget": 200,
            "tol": 0.01,
            "seed": None,
            "background_size": 2,
            "n_rows": n,
            "model": "Model",
            "output": "auto",
            "requested_method": "auto",
            "max_rows": 100_000,
        },  # fmt: skip
        background=data.iloc[:2].reset_index(drop=True),
    )


def assert_same(a: Explanation, b: Explanation) -> None:
    for name in ("values", "base_values", "std_errors", "n_evals", "predictions"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert getattr(a, name).shape == getattr(b, name).shape
    pd.testing.assert_frame_equal(a.data, b.data)
    if a.background is None:
        assert b.background is None
    else:
        pd.testing.assert_frame_equal(a.background, b.background)
    assert a.feature_names == b.feature_names
    assert a.output_names == b.output_names
    assert [type(o) for o in a.output_names] == [type(o) for o in b.output_names]
    assert a.method == b.method
    assert a.player_columns == b.player_columns
    assert a.settings == b.settings


# --- indexing ----------------------------------------------------------------------------


def test_index_one_row_keeps_the_row_axis():
    expl = _explanation()
    first = expl[0]
    assert isinstance(first, Explanation) and len(first) == 1
    np.testing.assert_array_equal(first.values, expl.values[:1])
    assert first.data.index.tolist() == ["id0"]
    assert first.n_evals.tolist() == expl.n_evals[:1].tolist()
    assert first.settings["n_rows"] == 1 and expl.settings["n_rows"] == 6
    last = expl[-1]
    assert last.data.index.tolist() == ["id5"]
    np.testing.assert_array_equal(last.predictions, expl.predictions[-1:])


def test_index_rows_by_slice_list_and_mask():
    expl = _explanation(multi=True)
    part = expl[2:5]
    assert part.data.index.tolist() == ["id2", "id3", "id4"]
    assert part.values.shape == (3, 4, 3) and part.base_values.shape == (3, 3)
    mask = expl.predictions[:, 0] > np.median(expl.predictions[:, 0])
    chosen = expl[mask]
    np.testing.assert_array_equal(chosen.values, expl.values[mask])
    np.testing.assert_array_equal(chosen.std_errors, expl.std_errors[mask])
    pd.testing.assert_frame_equal(chosen.data, expl.data[mask])
    np.testing.assert_array_equal(expl[pd.Series(mask)].n_evals, expl.n_evals[mask])
    np.testing.assert_array_equal(expl[[4, 0]].values, expl.values[[4, 0]])
    with pytest.raises(IndexError, match="length"):
        expl[mask[:-1]]
    with pytest.raises(IndexError, match="out of range"):
        expl[6]
    with pytest.raises(KeyError, match=r"expl\[:, name\]"):
        expl["age"]


def test_index_features_by_name():
    expl = _explanation()
    age = expl[:, "age"]
    assert age.feature_names == ["age"] and age.values.shape == (6, 1)
    np.testing.assert_array_equal(age.values[:, 0], expl.values[:, 0])
    assert list(age.data.columns) == ["age"]
    assert age.player_columns == {"age": ["age"]}
    assert list(age.background.columns) == ["age"]
    np.testing.assert_array_equal(age.predictions, expl.predictions)  # the model's output
    both = expl[1:3, ["profile", "age"]]
    assert both.feature_names == ["profile", "age"]
    np.testing.assert_array_equal(both.values, expl.values[1:3][:, [3, 0]])
    assert list(both.data.columns) == ["age", "grade", "visits", "member", "when"]
    masked = expl[:, np.array([True, False, True, False])]
    assert masked.feature_names == ["age", "city"]
    assert expl[:, 1].feature_names == ["income"] and expl[:, -1].feature_names == ["profile"]
    assert expl[:, 1:3].feature_names == ["income", "city"]
    with pytest.raises(KeyError, match="Unknown feature"):
        expl[:, "height"]
    with pytest.raises(IndexError, match="3 axes"):
        expl[0, 0, 0, 0]


def test_index_outputs():
    expl = _explanation(multi=True)
    one = expl[:, :, 2]  # the output named 2
    assert not one.is_multi_output and one.output_names == [2]
    np.testing.assert_array_equal(one.values, expl.values[:, :, 2])
    np.testing.assert_array_equal(one.base_values, expl.base_values[:, 2])
    np.testing.assert_array_equal(one.predictions, expl.predictions[:, 2])
    two = expl[:3, "age", [2, 0]]
    assert two.values.shape == (3, 1, 2) and two.output_names == [2, 0]
    with pytest.raises(KeyError, match="Unknown output"):
        expl[:, :, "three"]
    with pytest.raises(IndexError, match="one output"):
        _explanation()[:, :, 0]


# --- frames and shap -----------------------------------------------------------------------


def test_to_frame_wide_and_long():
    expl = _explanation()
    wide = expl.to_frame("wide")
    assert wide.index.equals(expl.data.index) and list(wide.columns) == expl.feature_names
    np.testing.assert_array_equal(wide.to_numpy(), expl.values)
    long = expl.to_frame(kind="long")
    assert len(long) == 6 * 4
    assert long.equals(expl.to_frame())
    np.testing.assert_array_equal(long["shap_value"], expl.values.reshape(-1))
    profile = long[long.feature == "profile"]["feature_value"].iloc[0]
    assert profile.startswith("grade=a; visits=1; member=True")
    multi = _explanation(multi=True)
    wide = multi.to_frame("wide")
    assert wide.columns.names == ["output", "feature"] and wide.shape == (6, 12)
    np.testing.assert_array_equal(wide[(1, "city")], multi.values[:, 2, 1])
    assert len(multi.to_frame()) == 6 * 4 * 3
    with pytest.raises(ValueError, match="kind="):
        expl.to_frame("tall")


@pytest.mark.filterwarnings("ignore:All-NaN slice")  # shap's beeswarm on NaN data columns
def test_to_shap():
    shap = pytest.importorskip("shap")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    expl = _explanation()
    exported = expl.to_shap()
    assert isinstance(exported, shap.Explanation)
    np.testing.assert_array_equal(exported.values, expl.values)
    np.testing.assert_array_equal(exported.base_values, expl.base_values)
    assert list(exported.feature_names) == expl.feature_names
    np.testing.assert_array_equal(exported.data[:, 0], expl.data["age"].to_numpy(dtype=float))
    assert np.isnan(exported.data[:, 2]).all() and np.isnan(exported.data[:, 3]).all()
    assert exported.display_data[3, 2] == "Pune"
    shap.plots.bar(exported, show=False)
    shap.plots.beeswarm(exported, show=False)
    plt.close("all")
    multi = _explanation(multi=True).to_shap()
    assert multi.values.shape == (6, 4, 3) and list(multi.output_names) == ["0", "1", "2"]


def test_to_shap_without_shap(monkeypatch):
    monkeypatch.setitem(sys.modules, "shap", None)
    with pytest.raises(ImportError, match="pip install shap"):
        _explanation().to_shap()


# --- save and load -------------------------------------------------------------------------


@pytest.mark.parametrize("multi", [False, True])
def test_npz_round_trip(tmp_path, multi):
    expl = _explanation(multi=multi)
    path = expl.save(tmp_path / "expl.npz")
    assert path.exists()
    back = Explanation.load(path)
    assert_same(expl, back)
    assert_same(expl, shapkit.load_explanation(str(path)))
    with np.load(path, allow_pickle=False) as archive:  # no pickles inside
        assert "values" in archive.files


def test_npz_keeps_object_columns_and_plain_frames(tmp_path):
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0], "label": np.array(["a", 2, None], dtype=object)})
    expl = shapkit.explain(lambda Z: Z["x"] * 2.0, X, seed=0)
    back = shapkit.load_explanation(expl.save(tmp_path / "plain.npz"))
    assert_same(expl, back)
    assert back.data["label"].tolist() == ["a", 2, None]


@pytest.mark.parametrize("multi", [False, True])
def test_parquet_round_trip(tmp_path, multi):
    pytest.importorskip("pyarrow")
    expl = _explanation(multi=multi)
    back = Explanation.load(expl.save(tmp_path / "expl.parquet"))
    assert_same(expl, back)
    table = pd.read_parquet(tmp_path / "expl.parquet")  # a plain table for other readers
    assert "data:age" in table.columns and "n_evals" in table.columns
    name = "shap_value:age:1" if multi else "shap_value:age"
    column = expl.values[:, 0, 1] if multi else expl.values[:, 0]
    np.testing.assert_array_equal(table[name], column)


def test_parquet_of_a_real_explanation(tmp_path):
    pytest.importorskip("pyarrow")
    X = pd.DataFrame({"a": [1.0, 2.0, 4.0], "b": [0.0, 1.0, 1.0]})
    expl = shapkit.explain(lambda Z: Z["a"] - Z["b"], X, seed=1)
    assert_same(expl, shapkit.load_explanation(expl.save(tmp_path / "e.pq")))


def test_save_and_load_errors(tmp_path, monkeypatch):
    expl = _explanation()
    with pytest.raises(ValueError, match=r"\.npz"):
        expl.save(tmp_path / "expl.csv")
    with pytest.raises(ValueError, match="suffix"):
        shapkit.load_explanation(tmp_path / "expl.json")
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="not a shapkit explanation"):
        shapkit.load_explanation(tmp_path / "other.npz")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match="pip install pyarrow"):
        expl.save(tmp_path / "expl.parquet")


def test_parquet_refuses_mixed_object_columns(tmp_path):
    pytest.importorskip("pyarrow")
    X = pd.DataFrame({"x": [1.0, 2.0], "mixed": np.array(["a", 2], dtype=object)})
    expl = shapkit.explain(lambda Z: Z["x"], X, seed=0)
    with pytest.raises(TypeError, match="npz"):
        expl.save(tmp_path / "mixed.parquet")
