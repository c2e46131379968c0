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
from shapkit.diagnostics import convergence_trace  # noqa: E402

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
    ax = plots.bar(multi, output_position=1)
    assert len(_bars(ax)) == d and "output: output_1" in ax.get_title()
    ax = plots.bar(multi, output="output_1")
    assert len(_bars(ax)) == d and "output: output_1" in ax.get_title()
    with pytest.raises(KeyError, match=r"output_position=1"):
        plots.bar(multi, output=1)
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
    for output, position, name in ((None, None, "output_2"), ("output_0", None, "output_0"),
                                   (None, 1, "output_1")):  # fmt: skip
        ax = plots.beeswarm(multi, output=output, output_position=position)
        _png(ax)
        assert len(_labels(ax)) == len(multi.feature_names)
        assert ax.get_xlabel() == f"Shapley value (impact on {name})"
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


def test_plot_arguments_of_the_wrong_type_name_the_argument(single):
    message = r"^row='3' \(str\): pass the row's position, an int from 0 to 39 .*get_loc\('3'\)"
    with pytest.raises(TypeError, match=message):
        plots.waterfall(single, "3")
    for row, kind in ((2.0, "float"), (True, "bool"), (None, "NoneType")):
        with pytest.raises(TypeError, match=rf"^row={row!r} \({kind}\)"):
            plots.waterfall(single, row)
    with pytest.raises(IndexError, match=r"row=40 is out of range for an explanation of 40"):
        plots.waterfall(single, 40)
    assert plots.waterfall(single, np.int64(-1)) is not None
    for draw in (plots.bar, plots.beeswarm, plots.waterfall):
        with pytest.raises(TypeError, match=r"^max_features='5' \(str\): pass an int"):
            draw(single, max_features="5")
    with pytest.raises(TypeError, match=r"^level='high' \(str\)"):
        plots.bar(single, level="high")
    with pytest.raises(ValueError, match=r"^rows='all': choose 'sample' or 'fixed'"):
        plots.bar(single, rows="all")


def test_waterfall_of_a_feature_subset_shows_the_rest(single):
    names = list(shapkit.summary(single).index[:3])
    ax = plots.waterfall(single[:, names], 2)
    labels = _labels(ax)
    assert len(labels) == 4 and labels[0] == "not in this explanation"
    bars = sorted(_bars(ax), key=lambda p: p.get_y())
    end = bars[-1].get_x() + bars[-1].get_width()
    assert end == pytest.approx(single.predictions[2])


def test_waterfall_multi_output(multi):
    for position in (None, 0, 1):
        ax = plots.waterfall(multi, 0, output_position=position)
        _png(ax)
        assert len(_labels(ax)) == len(multi.feature_names)
        name = multi.output_names[-1 if position is None else position]
        assert ax.get_xlabel().startswith(f"model output (output {name}, ")
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
    ax = plots.dependence(multi, "first two", output_position=0)  # a group: its first column
    assert ax.get_xlabel() == "a rather long feature name 0"
    _png(ax)
    with pytest.raises(KeyError):
        plots.dependence(single, "nope")


def test_convergence_from_a_game_reaches_the_exact_values():
    weights = np.array([3.0, -1.0, 0.5, 2.0, 0.0, 1.0])

    def game(masks):
        return masks @ weights + 2.0 * (masks[:, 0] & masks[:, 3])

    trace = convergence_trace(game, n_players=6, budgets=[8, 16, 32, 64])
    assert sorted(trace["budget"].unique()) == [8, 16, 32, 64]
    assert set(trace.columns) == {"budget", "n_evals", "feature", "output", "value", "std_error"}
    exact = np.array([4.0, -1.0, 0.5, 3.0, 0.0, 1.0])
    final = trace[trace["budget"] == 64].sort_values("feature")
    np.testing.assert_allclose(final["value"], exact, atol=1e-9)  # 2^6 = 64: enumerated
    assert trace.attrs["exact"][("x0", "value")] == pytest.approx(4.0)
    again = convergence_trace(game, n_players=6, budgets=[8, 16, 32, 64])
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
    ax = plots.convergence(
        convergence_trace(explainer, X.iloc[[0]], budgets=[64, 128, 256]), max_features=4
    )
    _png(ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 4 and set(labels) <= set(X.columns)
    assert ax.get_xscale() == "log"
    assert "permutation" in ax.get_title()
    multi_explainer = shapkit.Explainer(
        lambda Z: np.column_stack([_model(Z), -_model(Z)]), X.iloc[:10], seed=0
    )
    trace = convergence_trace(multi_explainer, X.iloc[[1]], budgets=[16, 32])
    assert set(trace["output"]) == {"output_0", "output_1"}
    assert trace.attrs["method"] == "kernel"  # "auto" enumerates, so the trace samples
    ax = plots.convergence(trace, output=trace["output"].iloc[0], features=[X.columns[0]])
    assert len(ax.get_legend().get_texts()) == 1
    with pytest.raises(TypeError, match="one-row DataFrame"):
        convergence_trace(explainer, X.iloc[0])
    with pytest.raises(TypeError, match="convergence draws a trace"):
        plots.convergence(explainer)  # reports draw; diagnostics run estimators


# --- names are drawn as they are, never as mathtext -----------------------------------------

TRICKY = ["cost_$\\frac$", "a$b$c", "50%_$", "x_{1}^2"]
GROUP = "g $\\frac{1}$"
OUTPUTS = ["out $1$", "$\\sqrt$"]
LEVELS = ["$x$", "y_$", "$\\alpha$"]


@pytest.fixture(scope="module")
def tricky():
    """An explanation whose columns, group, outputs, category levels and index are math."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(24, 3)), columns=TRICKY[:3],
                     index=pd.Index([f"row_$\\frac$ {i}" for i in range(24)]))  # fmt: skip
    X[TRICKY[3]] = pd.Categorical(rng.choice(LEVELS, size=24))

    def model(Z):
        s = Z[TRICKY[0]] + 2 * Z[TRICKY[1]] * Z[TRICKY[2]] + (Z[TRICKY[3]] == "$x$")
        return pd.DataFrame({OUTPUTS[0]: s, OUTPUTS[1]: -s})

    groups = {GROUP: TRICKY[1:3]}
    return shapkit.explain(model, X, background=X.iloc[:8], groups=groups, seed=0)


def _drawn_literally(ax, expected):
    """Draw the figure; every text is drawn as it is (no mathtext, no TeX), and each of
    ``expected`` is the whole text of some artist."""
    _png(ax)
    texts = ax.figure.findobj(matplotlib.text.Text)
    for text in texts:
        if any(mark in text.get_text() for mark in "$\\^_{"):
            assert text.get_parse_math() is False and text.get_usetex() is False, text
    drawn = [text.get_text() for text in texts]
    for name in expected:
        assert name in drawn, (name, drawn)
    return drawn


def test_every_plot_draws_names_as_they_are(tricky):
    assert tricky.feature_names == [TRICKY[0], GROUP, TRICKY[3]]
    assert tricky.output_names == OUTPUTS
    features = tricky.feature_names
    _drawn_literally(plots.bar(tricky, all_outputs=True), [*features, *OUTPUTS])
    drawn = _drawn_literally(plots.bar(tricky, output=OUTPUTS[0]), features)
    assert f"output: {OUTPUTS[0]}" in drawn
    drawn = _drawn_literally(plots.bar(tricky, aggregate=True), features)
    assert f"summed over outputs {OUTPUTS[0]}, {OUTPUTS[1]}" in drawn
    drawn = _drawn_literally(plots.beeswarm(tricky), features)
    assert f"Shapley value (impact on {OUTPUTS[1]})" in drawn
    ax = plots.waterfall(tricky, 0, output=OUTPUTS[0])
    cell = tricky.data[TRICKY[0]].iloc[0]
    level = tricky.data[TRICKY[3]].iloc[0]
    drawn = _drawn_literally(ax, [f"{TRICKY[0]} = {cell:.4g}", GROUP, f"{TRICKY[3]} = {level}"])
    assert f"model output (output {OUTPUTS[0]}, row row_$\\frac$ 0)" in drawn
    ax = plots.dependence(tricky, TRICKY[0], color=TRICKY[3])  # a legend of math levels
    drawn = _drawn_literally(ax, [TRICKY[0], *LEVELS])
    assert f"Shapley value of {TRICKY[0]} ({OUTPUTS[1]})" in drawn
    assert ax.get_legend().get_title().get_text() == TRICKY[3]
    ax = plots.dependence(tricky, TRICKY[3], color=TRICKY[0])  # levels on the x-axis
    _drawn_literally(ax, sorted(LEVELS))
    assert [t.get_text() for t in ax.get_xticklabels()] == sorted(LEVELS)
    colourbar = [a for a in ax.figure.axes if a is not ax][0]
    assert colourbar.get_ylabel() == TRICKY[0]
    ax = plots.dependence(tricky, GROUP, output_position=0, color=None)
    _drawn_literally(ax, [TRICKY[1], f"Shapley value of {GROUP} ({OUTPUTS[0]})"])


def test_convergence_draws_names_as_they_are():
    weights = np.array([1.0, -2.0, 0.5])

    def game(masks):
        total = masks @ weights
        return np.column_stack([total, 2 * total])

    trace = convergence_trace(game, n_players=3, budgets=[8, 16],
                                    feature_names=TRICKY[:3])  # fmt: skip
    trace["output"] = trace["output"].map({0: OUTPUTS[0], 1: OUTPUTS[1]})
    ax = plots.convergence(trace, output=OUTPUTS[0])
    drawn = _drawn_literally(ax, TRICKY[:3])
    assert f"Shapley value ({OUTPUTS[0]})" in drawn


def test_many_outputs_bar_shows_the_most_important():
    rng = np.random.default_rng(2)
    k = 40
    values = rng.normal(size=(6, 3, k)) * np.arange(1, k + 1)  # later outputs larger
    base = np.zeros((6, k))
    expl = shapkit.Explanation(
        values=values, base_values=base, std_errors=np.zeros_like(values),
        data=pd.DataFrame(rng.normal(size=(6, 3)), columns=["a", "b", "c"]),
        feature_names=["a", "b", "c"], output_names=[f"class {c}" for c in range(k)],
        method="kernel", n_evals=np.full(6, 8), predictions=base + values.sum(axis=1),
    )  # fmt: skip
    importance = np.abs(values).mean(axis=0).sum(axis=0)
    top = sorted(np.argsort(-importance)[:10])
    ax = plots.bar(expl)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"class {c}" for c in top]
    assert len(_bars(ax)) == 3 * 10
    assert ax.get_title().startswith("the 10 of 40 outputs with the largest mean |value|")
    ax = plots.bar(expl, max_outputs=3)
    assert len(ax.get_legend().get_texts()) == 3 and "the 3 of 40" in ax.get_title()
    ax = plots.bar(expl, max_outputs=40)
    assert len(_bars(ax)) == 3 * 40 and ax.get_title() == ""
    with pytest.raises(ValueError, match="max_outputs=0"):
        plots.bar(expl, max_outputs=0)


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


def _drawn_points(ax):
    return np.vstack([c.get_offsets() for c in ax.collections if len(c.get_offsets())])


def test_dependence_draws_missing_x_in_its_own_strip_and_numeric_colour_ticks():
    """Rows whose x is missing are drawn (not dropped) in a labelled strip left of the
    axis, at their Shapley values; the colour bar of a numeric colour column has the
    column's values as ticks."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=160), "b": rng.normal(size=160) * 10 + 50})
    X.loc[:14, "a"] = np.nan
    model = lambda Z: 2 * np.nan_to_num(Z["a"].to_numpy()) + 0.1 * Z["b"].to_numpy()  # noqa: E731
    expl = shapkit.explain(model, X.iloc[:80], background=X.iloc[80:], seed=0)
    ax = plots.dependence(expl, "a", color="b")
    points = _drawn_points(ax)
    assert len(points) == 80  # every row, the 15 with a missing x included
    missing = np.isnan(expl.data["a"].to_numpy())
    finite_lo = np.nanmin(expl.data["a"].to_numpy())
    strip = points[:, 0] < finite_lo
    assert strip.sum() == missing.sum() == 15
    np.testing.assert_allclose(np.sort(points[strip, 1]), np.sort(expl.values[missing, 0]))
    assert [t.get_text() for t in ax.texts] == ["missing\n(15)"]
    assert all(t > finite_lo - 1e-9 for t in ax.get_xticks())  # no value ticks on the strip
    colourbar = [a for a in ax.figure.axes if a is not ax][0]
    low, high = np.nanpercentile(expl.data["b"], [5, 95])
    np.testing.assert_allclose(colourbar.get_ylim(), (low, high))  # in the column's units
    shown = [t for t in colourbar.get_yticks() if low <= t <= high]
    assert len(shown) >= 2 and all(float(t) == round(float(t), 6) for t in shown)
    assert colourbar.get_ylabel() == "b"


def test_dependence_category_labels_are_cut_and_turned_when_long():
    rng = np.random.default_rng(1)
    names = ["a very long category name indeed", "another long level name", "short",
             "fourth level of the factor", "fifth level of the factor"]  # fmt: skip
    X = pd.DataFrame({"c": rng.choice(names, 90), "b": rng.normal(size=90)})
    model = lambda Z: (Z["c"] == "short").to_numpy() + Z["b"].to_numpy()  # noqa: E731
    expl = shapkit.explain(model, X.iloc[:40], background=X.iloc[40:], seed=0)
    ax = plots.dependence(expl, "c", color=None)
    labels = ax.get_xticklabels()
    texts = [t.get_text() for t in labels]
    cut = "\N{HORIZONTAL ELLIPSIS}"
    assert texts == [f"a very long categ{cut}", f"another long leve{cut}",
                     f"fifth level of th{cut}", f"fourth level of t{cut}", "short"]  # fmt: skip
    assert all(t.get_rotation() == 45 for t in labels)  # 5 long names do not fit flat
    few = shapkit.explain(
        lambda Z: (Z["c"] == "u").to_numpy() * 1.0,
        pd.DataFrame({"c": ["u", "v"] * 10}), seed=0,
    )  # fmt: skip
    assert all(t.get_rotation() == 0 for t in plots.dependence(few, "c").get_xticklabels())


@pytest.fixture(scope="module")
def additive():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(40, 5)), columns=list("abcde"))
    weights = np.array([3.0, -2.0, 1.0, 0.5, 0.1])
    return shapkit.explain(lambda Z: Z.to_numpy() @ weights, X, seed=0)


def test_heatmap_draws_the_values_in_the_chosen_row_order(additive):
    ax = plots.heatmap(additive, max_features=3, order="prediction")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "3 other features"]
    order = np.argsort(additive.predictions, kind="stable")
    drawn = ax.images[0].get_array()
    expected = np.column_stack(
        [additive.values[:, :2], additive.values[:, 2:].sum(axis=1)]
    )[order].T
    np.testing.assert_allclose(drawn, expected)
    low, high = ax.images[0].get_clim()
    assert low == -high and high > 0  # symmetric about 0
    line = ax.child_axes[0].lines[0]  # the output above the matrix
    np.testing.assert_allclose(line.get_ydata(), additive.predictions[order])
    similar = plots.heatmap(additive, order="similarity").images[0].get_array()
    assert sorted(map(tuple, np.asarray(similar).T.round(9))) == sorted(
        map(tuple, additive.values[:, [0, 1, 2, 3, 4]].round(9))
    )  # a permutation of the rows
    with pytest.raises(ValueError, match="order="):
        plots.heatmap(additive, order="random")


def test_decision_lines_climb_from_the_base_value_to_the_prediction(additive):
    ax = plots.decision(additive, rows=slice(0, 10))
    importance = np.abs(additive.values[:10]).mean(axis=0)
    bottom_up = [additive.feature_names[j] for j in np.argsort(-importance, kind="stable")][::-1]
    assert [t.get_text() for t in ax.get_yticklabels()] == bottom_up
    paths = [line for line in ax.lines if len(line.get_xdata()) == 6]  # not the grid lines
    assert len(paths) == 10
    ends = sorted(float(line.get_xdata()[-1]) for line in paths)
    starts = {round(float(line.get_xdata()[0]), 9) for line in paths}
    np.testing.assert_allclose(ends, np.sort(additive.predictions[:10]))
    assert starts == {round(float(additive.base_values[0]), 9)}
    one = plots.decision(additive, rows=3)
    assert len([line for line in one.lines if len(line.get_xdata()) == 6]) == 1
    many = additive[np.repeat(np.arange(40), 6)]
    with pytest.raises(ValueError, match="at most 200"):
        plots.decision(many)


def test_force_blocks_meet_at_the_prediction(additive):
    row = 7
    ax = plots.force(additive, row, max_labels=2)
    phi = additive.values[row]
    prediction = float(additive.predictions[row])
    blocks = [(p.get_x(), p.get_x() + p.get_width()) for p in ax.patches]
    assert len(blocks) == int((phi != 0).sum())
    ups = [b for b in blocks if b[1] <= prediction + 1e-9]
    downs = [b for b in blocks if b[0] >= prediction - 1e-9]
    assert max(b[1] for b in ups) == pytest.approx(prediction)
    assert min(b[0] for b in downs) == pytest.approx(prediction)
    widths = sorted(round(right - left, 9) for left, right in blocks)
    assert widths == sorted(np.abs(phi).round(9).tolist())
    labelled = [t.get_text() for t in ax.texts if " = " in t.get_text()]
    top_two = [additive.feature_names[j] for j in np.argsort(-np.abs(phi))[:2]]
    assert sorted(text.split(" = ")[0] for text in labelled) == sorted(top_two)
    assert any(t.get_text().startswith("prediction ") for t in ax.texts)
