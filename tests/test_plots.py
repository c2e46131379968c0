"""Every plot renders to PNG on single- and multi-output explanations, with the expected
number of features, on the Axes it was given, without plt.show()."""

from __future__ import annotations

import io
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

import shapkit  # noqa: E402
from shapkit import plots  # noqa: E402

N_ROWS = 40


@pytest.fixture(autouse=True)
def _no_show_and_close(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("plots must not call plt.show()")

    monkeypatch.setattr(plt, "show", refuse)
    yield
    plt.close("all")


def _data(n=N_ROWS, d=12):
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(n, d)), columns=[f"a rather long feature name {j}"
                                                       for j in range(d)])  # fmt: skip
    X["colour"] = pd.Categorical(rng.choice(["red", "green", "blue"], size=n))
    return X


def _model(X):
    weights = np.linspace(2.0, 0.1, X.shape[1] - 1)
    numeric = X.drop(columns="colour").to_numpy()
    return numeric @ weights + numeric[:, 0] * numeric[:, 1] + 0.5 * (X["colour"] == "red")


@pytest.fixture(scope="module")
def single():
    X = _data()
    return shapkit.explain(_model, X, background=X.iloc[:20], method="kernel", budget=120,
                           seed=0)  # fmt: skip


@pytest.fixture(scope="module")
def multi():
    X = _data(d=4)

    def model(Z):
        out = _model(Z).to_numpy()
        return np.column_stack([out, -2 * out, np.tanh(out)])

    groups = {"first two": ["a rather long feature name 0", "a rather long feature name 1"]}
    return shapkit.explain(model, X, background=X.iloc[:10], groups=groups, seed=0)


def _png(ax):
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")


def _labels(ax):
    return [t.get_text() for t in ax.get_yticklabels()]


def _bars(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle) and p.get_width() != 0]


def test_plot_module_does_not_import_matplotlib():
    code = "import sys, shapkit.reports.plots; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("max_features", [5, 13, 30])
def test_bar_single_output(single, max_features):
    ax = plots.bar(single, max_features=max_features)
    _png(ax)
    d = len(single.feature_names)
    shown = min(d, max_features)
    labels = _labels(ax)
    assert len(labels) == shown and len(_bars(ax)) == shown
    assert labels[0] == shapkit.summary(single).index[0]  # most important on top
    if d > max_features:
        assert labels[-1] == f"{d - max_features + 1} other features"
        # the "other" bar is the sum of the rest's mean |value|
        rest = shapkit.summary(single)["mean_abs"].iloc[max_features - 1 :].sum()
        bottom = min(_bars(ax), key=lambda p: p.get_y())
        assert bottom.get_width() == pytest.approx(rest)
    else:
        assert all("other" not in label for label in labels)
    # whiskers: the summary's intervals
    assert ax.collections, "expected interval whiskers"


def test_bar_multi_output(multi):
    d, k = len(multi.feature_names), len(multi.output_names)
    ax = plots.bar(multi)
    _png(ax)
    assert len(_labels(ax)) == d and len(_bars(ax)) == d * k
    assert [t.get_text() for t in ax.get_legend().get_texts()] == multi.output_names
    ax = plots.bar(multi, output=1)
    assert len(_bars(ax)) == d and "output: output_1" in ax.get_title()
    ax = plots.bar(multi, aggregate=True, max_features=3)
    assert _labels(ax)[-1] == f"{d - 2} other features" and len(_bars(ax)) == 3


def test_plots_draw_on_the_given_axes(single, multi):
    for draw in (
        lambda ax: plots.bar(single, ax=ax),
        lambda ax: plots.beeswarm(multi, ax=ax),
        lambda ax: plots.waterfall(single, 3, ax=ax),
        lambda ax: plots.dependence(single, "a rather long feature name 0", ax=ax),
    ):
        fig, ax = plt.subplots()
        assert draw(ax) is ax
        _png(ax)


@pytest.mark.parametrize("max_features", [4, 10, 20])
def test_beeswarm(single, max_features):
    ax = plots.beeswarm(single, max_features=max_features)
    _png(ax)
    d = len(single.feature_names)
    shown = min(d, max_features)
    assert len(_labels(ax)) == shown
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(points) == shown
    assert all(len(c.get_offsets()) == N_ROWS for c in points)
    # each row's point sits at its value (the "other" row: the sum of the rest)
    top = shapkit.summary(single).index[0]
    x = np.sort(points[0].get_offsets()[:, 0])
    np.testing.assert_allclose(x, np.sort(single[:, top].values[:, 0]))


def test_beeswarm_multi_output_and_groups(multi):
    for output in (None, "output_0", 2):
        ax = plots.beeswarm(multi, output=output)
        _png(ax)
        assert len(_labels(ax)) == len(multi.feature_names)
    assert "first two" in _labels(ax)
    with pytest.raises(KeyError, match="Unknown output"):
        plots.beeswarm(multi, output="missing")


def test_waterfall_goes_from_base_to_prediction(single):
    row = 5
    ax = plots.waterfall(single, row, max_features=6)
    _png(ax)
    bars = sorted(_bars(ax), key=lambda p: p.get_y())
    labels = _labels(ax)
    assert len(labels) == 6 and len(bars) == 6
    assert labels[0] == f"{len(single.feature_names) - 5} other features"  # at the bottom
    base, prediction = single.base_values[row], single.predictions[row]
    assert bars[0].get_x() == pytest.approx(base)
    end = bars[-1].get_x() + bars[-1].get_width()
    assert end == pytest.approx(prediction)
    top = int(np.argmax(np.abs(single.values[row])))
    column = single.feature_names[top]
    assert labels[-1].startswith(f"{column} = ")
    assert bars[-1].get_width() == pytest.approx(single.values[row, top])


def test_waterfall_of_a_feature_subset_shows_the_rest(single):
    names = list(shapkit.summary(single).index[:3])
    ax = plots.waterfall(single[:, names], 2)
    labels = _labels(ax)
    assert len(labels) == 4 and labels[0] == "not in this explanation"
    bars = sorted(_bars(ax), key=lambda p: p.get_y())
    end = bars[-1].get_x() + bars[-1].get_width()
    assert end == pytest.approx(single.predictions[2])


def test_waterfall_multi_output(multi):
    for output in (None, 0, 1):
        ax = plots.waterfall(multi, 0, output=output)
        _png(ax)
        assert len(_labels(ax)) == len(multi.feature_names)
    assert "first two" in _labels(ax)  # a group is labelled by its name
    with pytest.raises(IndexError):
        plots.waterfall(multi, N_ROWS)


def test_dependence(single, multi):
    name = "a rather long feature name 1"
    ax = plots.dependence(single, name)
    _png(ax)
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(points) == 1 and len(points[0].get_offsets()) == N_ROWS
    np.testing.assert_allclose(points[0].get_offsets()[:, 1], single[:, name].values[:, 0])
    # auto colour: the feature it interacts with (the model has x0 * x1)
    colourbar_labels = [a.get_ylabel() for a in ax.figure.axes if a is not ax]
    assert colourbar_labels == ["a rather long feature name 0"]
    ax = plots.dependence(single, name, color="colour")  # a categorical colour: a legend
    assert len(ax.get_legend().get_texts()) == 3
    ax = plots.dependence(single, "colour", color=None)  # categories on the x-axis
    assert [t.get_text() for t in ax.get_xticklabels()] == ["blue", "green", "red"]
    ax = plots.dependence(multi, "first two", output=0)  # a group: its first column
    assert ax.get_xlabel() == "a rather long feature name 0"
    _png(ax)
    with pytest.raises(KeyError):
        plots.dependence(single, "nope")


def test_convergence_from_a_game_reaches_the_exact_values():
    weights = np.array([3.0, -1.0, 0.5, 2.0, 0.0, 1.0])

    def game(masks):
        return masks @ weights + 2.0 * (masks[:, 0] & masks[:, 3])

    trace = plots.convergence_trace(game, n_players=6, budgets=[8, 16, 32, 64])
    assert sorted(trace["budget"].unique()) == [8, 16, 32, 64]
    assert set(trace.columns) == {"budget", "n_evals", "feature", "output", "value", "std_error"}
    exact = np.array([4.0, -1.0, 0.5, 3.0, 0.0, 1.0])
    final = trace[trace["budget"] == 64].sort_values("feature")
    np.testing.assert_allclose(final["value"], exact, atol=1e-9)  # 2^6 = 64: enumerated
    assert trace.attrs["exact"][("x0", "value")] == pytest.approx(4.0)
    again = plots.convergence_trace(game, n_players=6, budgets=[8, 16, 32, 64])
    pd.testing.assert_frame_equal(trace, again)  # same seed, same trace
    ax = plots.convergence(trace, max_features=3)
    _png(ax)
    assert len(ax.get_legend().get_texts()) == 3
    assert len([line for line in ax.lines if line.get_linestyle() == ":"]) == 3  # exact


def test_convergence_from_an_explainer(multi):
    X = multi.data
    explainer = shapkit.Explainer(
        lambda Z: _model(Z).to_numpy(), X.iloc[:10], seed=0, method="permutation"
    )
    ax = plots.convergence(explainer, X.iloc[[0]], budgets=[64, 128, 256], max_features=4)
    _png(ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 4 and set(labels) <= set(X.columns)
    assert ax.get_xscale() == "log"
    assert "permutation" in ax.get_title()
    multi_explainer = shapkit.Explainer(
        lambda Z: np.column_stack([_model(Z), -_model(Z)]), X.iloc[:10], seed=0
    )
    trace = plots.convergence_trace(multi_explainer, X.iloc[[1]], budgets=[16, 32])
    assert set(trace["output"]) == {"output_0", "output_1"}
    assert trace.attrs["method"] == "kernel"  # "auto" enumerates, so the trace samples
    ax = plots.convergence(trace, output=trace["output"].iloc[0], features=[X.columns[0]])
    assert len(ax.get_legend().get_texts()) == 1
    with pytest.raises(TypeError, match="one-row DataFrame"):
        plots.convergence_trace(explainer, X.iloc[0])


def test_plots_module_imports_by_name_without_matplotlib():
    import subprocess
    import sys

    code = (
        "import sys, shapkit, shapkit.plots; from shapkit.plots import beeswarm; "
        "import shapkit.reports.plots as inner; "
        "print(shapkit.plots.beeswarm is inner.beeswarm is beeswarm, "
        "'matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]
