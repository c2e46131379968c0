"""Explanation ergonomics (indexing, frames, shap export) and save/load round trips."""

from __future__ import annotations

import json
import re
import sys
import zipfile

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
    np.testing.assert_array_equal(
        expl[pd.Series(mask, index=expl.data.index)].n_evals, expl.n_evals[mask]
    )
    np.testing.assert_array_equal(expl[[4, 0]].values, expl.values[[4, 0]])
    with pytest.raises(IndexError, match="length"):
        expl[mask[:-1]]
    with pytest.raises(IndexError, match="out of range"):
        expl[6]
    with pytest.raises(KeyError, match=r"expl\[:, name\]"):
        expl["age"]


def test_boolean_series_are_aligned_on_the_index_like_pandas():
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=[10, 20, 30])
    expl = shapkit.explain(lambda Z: Z["a"].to_numpy(), df, df, seed=0)
    mask = pd.Series([True, False, False], index=[30, 20, 10])  # selects the label 30
    assert expl[mask].data.index.tolist() == [30]
    np.testing.assert_array_equal(expl[mask].values, expl.values[[2]])
    np.testing.assert_array_equal(expl[mask.to_numpy()].values, expl.values[[0]])  # positions
    for other in ([0, 1, 2], [10, 20, 40], [10, 20]):
        with pytest.raises(IndexError, match=r"index does not match the explained rows' index"):
            expl[pd.Series([True] * len(other), index=other)]


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


def _with_outputs(names) -> Explanation:
    """``_explanation(multi=True)`` with its 3 outputs renamed."""
    expl = _explanation(multi=True)
    expl.output_names = list(names)
    return expl


def test_outputs_are_selected_by_label_never_by_position():
    expl = _with_outputs([1, 2, 3])
    np.testing.assert_array_equal(expl[:, :, 1].values, expl.values[:, :, 0])  # class 1
    np.testing.assert_array_equal(expl[:, :, [3, 1]].values, expl.values[:, :, [2, 0]])
    assert expl[:, :, np.int64(2)].output_names == [2]
    with pytest.raises(KeyError) as error:
        expl[:, :, 0]
    message = str(error.value)
    assert "Unknown output 0; the outputs are [1, 2, 3]" in message
    assert "expl.output_at(0)" in message and "output_position=0" in message
    with pytest.raises(KeyError, match=r"Unknown output 0"):
        expl[:, :, [0, 1]]
    with pytest.raises(IndexError, match=r"by label.*output_at\(slice\(0, 2, None\)\)"):
        expl[:, :, 0:2]
    # string labels: an int is not a position either
    names = _with_outputs(["setosa", "versicolor", "virginica"])
    with pytest.raises(KeyError, match=r"Unknown output 0; the outputs are \['setosa'.*output_at"):
        names[:, :, 0]
    assert names[:, :, "virginica"].output_names == ["virginica"]


def test_bool_float_and_tuple_labels_match_only_their_kind():
    flags = _with_outputs([False, True, "maybe"])
    np.testing.assert_array_equal(flags[:, :, True].values, flags.values[:, :, 1])
    np.testing.assert_array_equal(flags[:, :, np.True_].values, flags.values[:, :, 1])
    with pytest.raises(KeyError, match=r"1 \(number\) is not the label True \(bool\)"):
        flags[:, :, 1]  # True == 1 in Python, but 1 is not the class True
    with pytest.raises(KeyError, match=r"Unknown output 0"):
        flags[:, :, 0]
    ints = _with_outputs([0, 1, 2])
    with pytest.raises(KeyError, match=r"True \(bool\) is not the label 1 \(number\)"):
        ints[:, :, True]
    with pytest.raises(KeyError, match=r"'1' \(str\) is not the label 1 \(number\)"):
        ints[:, :, "1"]
    floats = _with_outputs([0.5, 1.0, 2.0])
    np.testing.assert_array_equal(floats[:, :, 1].values, floats.values[:, :, 1])  # 1 is 1.0
    np.testing.assert_array_equal(floats[:, :, 2.0].values, floats.values[:, :, 2])
    with pytest.raises(KeyError, match=r"Unknown output 0"):
        floats[:, :, 0]  # not a position: no label 0
    tuples = _with_outputs([("a", 1), ("a", 2), ("b", 1)])
    np.testing.assert_array_equal(tuples[:, :, ("a", 2)].values, tuples.values[:, :, 1])
    assert tuples[:, :, [("b", 1), ("a", 1)]].output_names == [("b", 1), ("a", 1)]
    twice = _with_outputs([1, 1.0, 2])
    with pytest.raises(KeyError, match=r"matches 2 outputs \(positions \[0, 1\]"):
        twice[:, :, 1]


def test_output_at_selects_by_position():
    expl = _with_outputs([1, 2, 3])
    one = expl.output_at(0)
    assert not one.is_multi_output and one.output_names == [1]
    np.testing.assert_array_equal(one.values, expl.values[:, :, 0])
    np.testing.assert_array_equal(one.base_values, expl.base_values[:, 0])
    np.testing.assert_array_equal(one.predictions, expl.predictions[:, 0])
    assert expl.output_at(-1).output_names == [3]
    assert expl.output_at([2, 0]).output_names == [3, 1]
    assert expl.output_at(slice(1, None)).output_names == [2, 3]
    assert expl.output_at(np.array([True, False, True])).output_names == [1, 3]
    np.testing.assert_array_equal(expl.output_at([2, 0]).std_errors, expl.std_errors[:, :, [2, 0]])
    with pytest.raises(IndexError, match="output position 3 is out of range for 3 outputs"):
        expl.output_at(3)
    with pytest.raises(TypeError, match=r"output_at\(True\)"):
        expl.output_at(True)
    with pytest.raises(TypeError, match=r"by label with expl\[:, :, label\]"):
        expl.output_at("a")
    single = _explanation()
    assert single.output_at(0) is single and single.output_at(-1) is single
    with pytest.raises(IndexError, match="out of range for 1 outputs"):
        single.output_at(1)


def test_repr_of_many_outputs_is_short():
    expl = _explanation(multi=True)
    expl.values = np.zeros((6, 4, 1000))
    expl.output_names = list(range(1000))
    text = repr(expl)
    assert "outputs=[0, 1, 2, 3, 4, ...] (1000 in all)" in text and len(text) < 200


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


@pytest.mark.parametrize("tuples", [True, False], ids=["tuple-labels", "multiindex"])
def test_to_frame_with_tuple_row_labels(tuples):
    labels = [("u", 1), ("u", 2), ("v", 1)]
    index = pd.Index(labels, tupleize_cols=False) if tuples else pd.MultiIndex.from_tuples(labels)
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 1.0, 0.0]}, index=index)
    expl = shapkit.explain(lambda Z: Z.sum(axis=1).to_numpy(), df, df, seed=0)
    long = expl.to_frame()
    assert long["row"].tolist() == [label for label in labels for _ in range(2)]
    np.testing.assert_array_equal(long["shap_value"], expl.values.reshape(-1))
    assert long["feature"].tolist() == ["a", "b"] * 3


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


# --- labels keep their type ----------------------------------------------------------------

LABEL_CASES = {
    "int": ([10, 20, 30], [1, 2]),
    "float": ([0.5, 1.5, 2.0], [1.0, 2.5]),
    "bool": ([False, True, None], [False, True]),
    "str": (["a", "b", "c"], ["no", "yes"]),
    "tuple": ([("a", 1), ("a", 2), ("b", 1)], [("p", 0), ("q", 1)]),
    "numpy": ([np.int64(10), np.float64(0.5), np.str_("s")], [np.int64(1), np.bool_(True)]),
}


def _labelled(columns, outputs) -> Explanation:
    """An explanation whose data columns, players and outputs carry these labels."""
    rng = np.random.default_rng(3)
    n, k = 4, len(outputs)
    if all(isinstance(c, tuple) for c in columns):
        frame_columns = pd.MultiIndex.from_tuples(columns)
    else:
        frame_columns = pd.Index(columns, dtype=object)
    data = pd.DataFrame(rng.normal(size=(n, 3)), columns=frame_columns)
    values = rng.normal(size=(n, 2, k))
    base = np.zeros((n, k))
    return Explanation(
        values=values,
        base_values=base,
        std_errors=np.zeros_like(values),
        data=data,
        feature_names=[columns[0], "group"],
        output_names=list(outputs),
        method="kernel",
        n_evals=np.full(n, 8),
        predictions=base + values.sum(axis=1),
        player_columns={columns[0]: [columns[0]], "group": [columns[1], columns[2]]},
        settings={"n_rows": n},
        background=data.iloc[:2].reset_index(drop=True),
    )


def _types(labels):
    return [type(label) for label in labels]


@pytest.mark.parametrize("suffix", [".npz", ".parquet"])
@pytest.mark.parametrize("case", sorted(LABEL_CASES))
def test_label_types_survive_saving(tmp_path, suffix, case):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    columns, outputs = LABEL_CASES[case]
    expl = _labelled(columns, outputs)
    back = shapkit.load_explanation(expl.save(tmp_path / f"labels{suffix}"))
    assert back.output_names == expl.output_names
    assert _types(back.output_names) == _types(expl.output_names)
    assert back.feature_names == expl.feature_names
    assert _types(back.feature_names) == _types(expl.feature_names)
    assert back.player_columns == expl.player_columns
    assert [_types(c) for c in back.player_columns.values()] == [
        _types(c) for c in expl.player_columns.values()
    ]
    assert list(back.data.columns) == list(expl.data.columns)
    assert _types(back.data.columns) == _types(expl.data.columns)
    pd.testing.assert_frame_equal(back.data, expl.data)
    pd.testing.assert_frame_equal(back.background, expl.background)
    np.testing.assert_array_equal(back.values, expl.values)
    # the loaded labels select the same outputs
    label = outputs[-1]
    np.testing.assert_array_equal(back[:, :, label].values, expl[:, :, label].values)


# --- damaged, foreign and missing files -------------------------------------------------------


def _raises_file_error(path, match):
    """Loading ``path`` raises an ExplanationFileError naming the file and matching."""
    with pytest.raises(shapkit.ExplanationFileError) as error:
        shapkit.load_explanation(path)
    message = str(error.value)
    assert str(path) in message, message
    assert re.search(match, message), message
    assert isinstance(error.value, ValueError)
    return error.value


def _rewrite_npz(source, target, change):
    """Copy an .npz explanation with ``change(meta, arrays)`` applied."""
    with np.load(source, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(str(arrays["meta"]))
    change(meta, arrays)
    arrays["meta"] = np.array(json.dumps(meta))
    with open(target, "wb") as handle:
        np.savez(handle, **arrays)
    return target


def test_damaged_npz_files_name_the_file_and_the_problem(tmp_path):
    good = _explanation().save(tmp_path / "good.npz")
    raw = good.read_bytes()
    random_bytes = tmp_path / "random.npz"
    random_bytes.write_bytes(np.random.default_rng(0).bytes(700))
    _raises_file_error(random_bytes, "not a .npz archive")
    cut = tmp_path / "cut.npz"
    cut.write_bytes(raw[: len(raw) // 2])
    _raises_file_error(cut, r"damaged, cut off.*BadZipFile")
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    _raises_file_error(empty, "it is empty")
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(2))
    _raises_file_error(other, r"no shapkit metadata \(its arrays: \['a'\]\)")
    text = tmp_path / "text.npz"
    with zipfile.ZipFile(text, "w") as archive:
        archive.writestr("notes.txt", "hello")
    _raises_file_error(text, "no shapkit metadata")
    single = tmp_path / "single.npz"
    with open(single, "wb") as handle:
        np.save(handle, np.zeros(3))
    _raises_file_error(single, r"single numpy array \(\.npy\)")
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, meta=np.array([{"format": "x"}], dtype=object))
    _raises_file_error(pickled, "pickled")
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, meta=np.array(json.dumps({"format": "someone else", "version": 1})))
    _raises_file_error(foreign, "metadata.*is not shapkit's|'meta' array is not shapkit's")
    not_json = tmp_path / "not_json.npz"
    np.savez(not_json, meta=np.array("{not json"))
    _raises_file_error(not_json, "is not JSON")
    newer = _rewrite_npz(good, tmp_path / "newer.npz", lambda m, a: m.update(version=99))
    _raises_file_error(newer, "newer shapkit")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda m, a: m.update(feature_names=m["feature_names"][:3]),
         r"values have shape \(6, 4\) \(4 players\) but there are 3 feature names"),
        (lambda m, a: m.update(output_names=["a", "b"]),
         r"\(one output\) but there are 2 output names"),
        (lambda m, a: a.update(values=a["values"][:, :3]),
         r"values have shape \(6, 3\) but its metadata says \(6, 4\)"),
        (lambda m, a: a.update(std_errors=a["std_errors"][:5]), r"std_errors have shape \(5, 4\)"),
        (lambda m, a: a.update(n_evals=a["n_evals"][:2]), r"n_evals have shape \(2,\)"),
        (lambda m, a: a.pop("predictions"), r"the arrays \['predictions'\] are missing"),
        (lambda m, a: a.update(values=np.array(["x"] * 24).reshape(6, 4)), "not numbers"),
        (lambda m, a: m.update(shape=[6, "four"]), "shape of the values"),
        (lambda m, a: m.pop("feature_names"), r"no list 'feature_names'"),
        (lambda m, a: m["data"].update(n_rows=5), r"data column 0 has 6 rows but the table has 5"),
        (lambda m, a: a.update({"data/1": a["data/1"][:5]}), r"column 1 has 5 rows"),
        (lambda m, a: m.update(output_names=[{"what": 1}]), "not one shapkit writes"),
    ],
    ids=["features", "outputs", "values", "errors", "n_evals", "missing", "text", "shape",
         "no-names", "rows", "column", "label"],
)  # fmt: skip
def test_npz_whose_arrays_disagree_with_the_metadata(tmp_path, change, match):
    good = _explanation().save(tmp_path / "good.npz")
    _raises_file_error(_rewrite_npz(good, tmp_path / "changed.npz", change), match)


def test_damaged_parquet_files_name_the_file_and_the_problem(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    good = _explanation().save(tmp_path / "good.parquet")
    raw = good.read_bytes()
    random_bytes = tmp_path / "random.parquet"
    random_bytes.write_bytes(np.random.default_rng(1).bytes(500))
    _raises_file_error(random_bytes, r"damaged, cut off.*ArrowInvalid")
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(raw[: len(raw) // 2])
    _raises_file_error(cut, "damaged, cut off")
    plain = tmp_path / "plain.parquet"
    pd.DataFrame({"a": [1.0]}).to_parquet(plain)
    _raises_file_error(plain, "no shapkit metadata")
    table = pq.read_table(good)
    meta = json.loads(table.schema.metadata[b"shapkit"])

    def write(name, new_meta, arrow=table):
        path = tmp_path / name
        metadata = {**arrow.schema.metadata, b"shapkit": new_meta}
        pq.write_table(arrow.replace_schema_metadata(metadata), path)
        return path

    _raises_file_error(write("foreign.parquet", b'{"format": "other"}'), "is not shapkit's")
    _raises_file_error(write("not_json.parquet", b"\xff{"), "is not JSON")
    short = {**meta, "feature_names": meta["feature_names"][:2]}
    _raises_file_error(
        write("names.parquet", json.dumps(short).encode()),
        r"\(4 players\) but there are 2 feature names",
    )
    dropped = table.drop_columns(["shap_value:age"])
    _raises_file_error(
        write("dropped.parquet", json.dumps(meta).encode(), dropped),
        r"columns \['shap_value:age'\] are missing",
    )
    wide = {**meta, "shape": [6, 5]}
    _raises_file_error(
        write("shape.parquet", json.dumps(wide).encode()), r"metadata gives the values the shape"
    )
    assert pa is not None


def test_missing_files_directories_and_folders_say_so(tmp_path):
    missing = tmp_path / "nowhere" / "expl.npz"
    with pytest.raises(FileNotFoundError) as error:
        shapkit.load_explanation(missing)
    assert isinstance(error.value, shapkit.ExplanationFileError)
    assert f"No explanation file at {str(missing)!r}" in str(error.value)
    folder = tmp_path / "folder.npz"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="is a directory, not an explanation file"):
        shapkit.load_explanation(folder)
    with pytest.raises(shapkit.ExplanationFileError, match=re.escape(str(folder))):
        shapkit.load_explanation(folder)
    expl = _explanation()
    with pytest.raises(FileNotFoundError) as error:
        expl.save(missing)
    assert isinstance(error.value, shapkit.ExplanationFileError)
    assert f"the folder {str(missing.parent)!r} does not exist" in str(error.value)
    assert "mkdir(parents=True)" in str(error.value)
    with pytest.raises(IsADirectoryError, match="it is a directory"):
        expl.save(folder)
    assert not missing.parent.exists()


def test_save_refuses_an_inconsistent_explanation(tmp_path):
    expl = _explanation()
    expl.feature_names = expl.feature_names[:3]
    with pytest.raises(shapkit.ExplanationFileError, match=r"Cannot save .*3 feature names"):
        expl.save(tmp_path / "bad.npz")
    assert not (tmp_path / "bad.npz").exists()


@pytest.mark.parametrize(
    "column",
    [
        pd.Categorical([3, 5, 3, 5]),
        pd.Categorical([1.5, 2.5, np.nan, 1.5], categories=[2.5, 1.5, 9.0], ordered=True),
        pd.Categorical([7, 7, 2, 2], categories=[7, 2, 4], ordered=True),
        pd.Categorical(["u", "v", "u", None], categories=["v", "u", "w"]),
    ],
    ids=["int", "float-ordered-unused", "int-ordered", "str-unused"],
)
def test_parquet_keeps_numeric_categories(tmp_path, column):
    """Parquet stores only string categories as dictionaries: int and float categories
    (ordered or not, unused levels too) came back as plain int64/float64 columns."""
    pytest.importorskip("pyarrow")
    X = pd.DataFrame({"n": [1.0, 2.0, 3.0, 4.0], "c": column})
    expl = shapkit.explain(lambda Z: Z["n"].to_numpy(), X, X, seed=0)
    back = shapkit.load_explanation(expl.save(tmp_path / "cat.parquet"))
    assert_same(expl, back)
    assert back.data["c"].dtype == X["c"].dtype
    assert back.background["c"].dtype == X["c"].dtype
    # the loaded background still explains the same X
    again = shapkit.explain(lambda Z: Z["n"].to_numpy(), X, back.background, seed=0)
    np.testing.assert_array_equal(again.values, expl.values)
