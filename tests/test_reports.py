"""``shapkit.summary`` against hand computation, and the self-contained HTML report."""

from __future__ import annotations

import html
import math
from html.parser import HTMLParser

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy.stats import t as student_t  # noqa: E402

import shapkit  # noqa: E402
from shapkit import Explanation  # noqa: E402
from shapkit.reports.html import SECTIONS  # noqa: E402

# Four rows, three players: "a" (numeric column), "b" (a string column), "g" (a group).
VALUES = np.array(
    [
        [1.0, -2.0, 0.5],
        [-3.0, 2.0, 0.5],
        [2.0, -2.0, -0.5],
        [-2.0, 1.0, -0.5],
    ]
)
ERRORS = np.array(
    [
        [0.1, 0.0, 0.2],
        [0.1, 0.0, 0.2],
        [0.1, 0.0, 0.2],
        [0.1, 0.0, 0.2],
    ]
)


def small_explanation(values=VALUES, errors=ERRORS, n_copies=1) -> Explanation:
    """A hand-made explanation; ``n_copies`` repeats its rows."""
    values = np.concatenate([values] * n_copies)
    errors = np.concatenate([errors] * n_copies)
    n = values.shape[0]
    data = pd.DataFrame(
        {
            "a": np.tile([10.0, 30.0, 20.0, 40.0], n_copies),
            "b": np.tile(["x", "y", "x", "z"], n_copies),
            "g1": np.tile([1, 2, 3, 4], n_copies),
            "g2": np.tile([0.5, 0.1, 0.2, 0.9], n_copies),
        }
    )
    multi = values.ndim == 3
    base = np.full((n, values.shape[2]) if multi else n, 0.25)
    return Explanation(
        values=values,
        base_values=base,
        std_errors=errors,
        data=data,
        feature_names=["a", "b", "g"],
        output_names=["low", "high"] if multi else ["prediction"],
        method="kernel",
        n_evals=np.full(n, 64),
        predictions=base + values.sum(axis=1),
        player_columns={"a": ["a"], "b": ["b"], "g": ["g1", "g2"]},
        settings={"method": "kernel", "budget": 64, "background_size": 50, "n_rows": n,
                  "seed": 3, "model": "MyModel", "output": "raw", "tol": None},
        background=data.iloc[:2].copy(),
    )  # fmt: skip


def test_summary_matches_hand_computation():
    table = shapkit.summary(small_explanation())
    assert list(table.index) == ["a", "b", "g"]  # sorted by mean |value|
    assert table.index.name == "feature"
    assert list(table.columns) == [
        "mean_abs", "std_abs", "ci_low", "ci_high", "share", "mean", "direction", "rank",
    ]  # fmt: skip
    # |a| = 1, 3, 2, 2: mean 2, sample variance ((-1)^2 + 1^2) / 3 = 2/3
    a = table.loc["a"]
    assert a["mean_abs"] == pytest.approx(2.0)
    assert a["std_abs"] == pytest.approx(math.sqrt(2 / 3))
    q = student_t.ppf(0.975, df=3)
    half = q * math.sqrt(2 / 3) / 2
    assert a["ci_high"] == pytest.approx(2.0 + half)
    assert a["ci_low"] == pytest.approx(2.0 - half - 0.1)  # minus the bias bound mean(se)
    assert a["mean"] == pytest.approx(-0.5)
    # ranks of a's values 10, 30, 20, 40 -> 1, 3, 2, 4; of its Shapley values 1, -3, 2, -2
    # -> 3, 1, 4, 2; d = -2, 2, -2, 2: rho = 1 - 6 * 16 / (4 * 15) = -0.6
    assert a["direction"] == pytest.approx(-0.6)
    b, g = table.loc["b"], table.loc["g"]
    assert b["mean_abs"] == pytest.approx(7 / 4)
    assert g["mean_abs"] == pytest.approx(0.5)
    assert g["std_abs"] == pytest.approx(0.0)
    assert g["ci_low"] == pytest.approx(0.5 - 0.2)  # no row-to-row spread, bias bound 0.2
    assert g["ci_high"] == pytest.approx(0.5)
    assert np.isnan(b["direction"]) and np.isnan(g["direction"])  # string column, group
    np.testing.assert_allclose(table["share"], [2 / 4.25, 1.75 / 4.25, 0.5 / 4.25])
    assert table["rank"].tolist() == [1, 2, 3]
    assert table.attrs["method"] == "kernel"
    assert table.attrs["budget"] == 64
    assert table.attrs["background_size"] == 50
    assert table.attrs["n_rows"] == 4
    assert table.attrs["level"] == 0.95


def test_summary_fixed_rows_counts_only_estimation_noise():
    table = shapkit.summary(small_explanation(), rows="fixed")
    z = 1.959963984540054
    a = table.loc["a"]
    half = z * math.sqrt(4 * 0.1**2) / 4
    assert a["ci_high"] == pytest.approx(2.0 + half)
    assert a["ci_low"] == pytest.approx(2.0 - half - 0.1)
    b = table.loc["b"]  # exact values: an interval of zero width
    assert b["ci_low"] == b["ci_high"] == pytest.approx(1.75)


def test_interval_shrinks_with_rows_and_grows_with_standard_errors():
    def widths(expl):
        table = shapkit.summary(expl)
        return (table["ci_high"] - table["ci_low"]).loc[["a", "b"]].to_numpy()

    base = widths(small_explanation())
    assert np.all(widths(small_explanation(n_copies=4)) < base)
    assert np.all(widths(small_explanation(n_copies=16)) < widths(small_explanation(n_copies=4)))
    noisier = widths(small_explanation(errors=ERRORS * 3 + 0.05))
    assert np.all(noisier > base)
    assert (
        shapkit.summary(small_explanation(), level=0.99).loc["a", "ci_high"]
        > shapkit.summary(small_explanation()).loc["a", "ci_high"]
    )


def test_summary_of_one_row_has_no_sample_interval():
    table = shapkit.summary(small_explanation()[0])
    assert table["ci_low"].isna().all() and table["std_abs"].isna().all()
    fixed = shapkit.summary(small_explanation()[0], rows="fixed")
    assert fixed["ci_low"].notna().all()


def test_multi_output_blocks_and_aggregate():
    values = np.stack([VALUES, 2 * VALUES], axis=2)
    errors = np.stack([ERRORS, ERRORS], axis=2)
    expl = small_explanation(values, errors)
    table = shapkit.summary(expl)
    assert table.index.names == ["output", "feature"]
    assert list(table.index.get_level_values("output").unique()) == ["low", "high"]
    single = shapkit.summary(small_explanation())
    pd.testing.assert_frame_equal(table.xs("low", level="output"), single, check_names=False)
    high = table.xs("high", level="output")
    np.testing.assert_allclose(high["mean_abs"], 2 * single["mean_abs"])
    np.testing.assert_allclose(high["share"], single["share"])
    np.testing.assert_allclose(high["direction"], single["direction"])
    # one output, by label or by an explicit position; an int is never a position
    pd.testing.assert_frame_equal(shapkit.summary(expl, output="high"), high, check_names=False)
    by_position = shapkit.summary(expl, output_position=1)
    pd.testing.assert_frame_equal(by_position, high, check_names=False)
    with pytest.raises(KeyError, match=r"Unknown output 1; .*output_position=1"):
        shapkit.summary(expl, output=1)
    with pytest.raises(ValueError, match="not both"):
        shapkit.summary(expl, output="high", output_position=1)
    # aggregate: per row, sum of |value| over outputs = 3 |value of "low"|
    total = shapkit.summary(expl, aggregate=True)
    assert total.index.name == "feature"
    np.testing.assert_allclose(total["mean_abs"], 3 * single["mean_abs"])
    np.testing.assert_allclose(total["std_abs"], 3 * single["std_abs"])
    assert total["mean"].isna().all() and total["direction"].isna().all()
    q = student_t.ppf(0.975, df=3)
    a = total.loc["a"]
    assert a["ci_low"] == pytest.approx(6.0 - q * 3 * math.sqrt(2 / 3) / 2 - 0.2)
    assert total.attrs["aggregate"] is True and total.attrs["outputs"] == ["low", "high"]
    with pytest.raises(ValueError, match="either output"):
        shapkit.summary(expl, output="low", aggregate=True)
    with pytest.raises(KeyError, match="Unknown output"):
        shapkit.summary(expl, output="medium")


def test_summary_rejects_bad_arguments():
    with pytest.raises(ValueError, match="rows="):
        shapkit.summary(small_explanation(), rows="population")
    with pytest.raises(ValueError, match="level="):
        shapkit.summary(small_explanation(), level=95)
    with pytest.raises(TypeError, match=r"^level='high' \(str\): pass a coverage between 0 and 1"):
        shapkit.summary(small_explanation(), level="high")
    with pytest.raises(TypeError, match=r"^level=True \(bool\)"):
        shapkit.summary(small_explanation(), level=True)
    with pytest.raises(ValueError, match=r"^rows=\['sample'\]: choose 'sample' or 'fixed'"):
        shapkit.summary(small_explanation(), rows=["sample"])


def test_report_rejects_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match=r"^level='95%' \(str\)"):
        shapkit.report(small_explanation(), tmp_path / "r.html", level="95%")
    with pytest.raises(TypeError, match=r"^max_features='5' \(str\): pass an int"):
        shapkit.report(small_explanation(), tmp_path / "r.html", max_features="5")
    assert not (tmp_path / "r.html").exists()


def test_summary_of_a_real_explanation():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"up": rng.normal(size=60), "down": rng.normal(size=60),
                      "noise": rng.normal(size=60)})  # fmt: skip
    expl = shapkit.explain(lambda Z: 2 * Z["up"] - Z["down"], X, seed=0)
    table = shapkit.summary(expl)
    assert table.loc["up", "direction"] == pytest.approx(1.0)
    assert table.loc["down", "direction"] == pytest.approx(-1.0)
    assert np.isnan(table.loc["noise", "direction"])  # values all 0: constant
    assert table.index[0] == "up" and table.loc["noise", "mean_abs"] == 0


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.images, self.links, self.tags = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        for key in ("src", "href"):
            if key in attrs:
                self.links.append(attrs[key])


def _check_report(path, n_images):
    text = path.read_text(encoding="utf-8")
    parser = _Collector()
    parser.feed(text)
    parser.close()
    assert text.startswith("<!DOCTYPE html>") and "</html>" in text
    assert all(section in parser.ids for section in SECTIONS)
    assert len(parser.images) == n_images
    assert all(src.startswith("data:image/png;base64,") for src in parser.images)
    for link in parser.links:
        assert not link.startswith(("http:", "https:", "//")), link
        assert "//cdn" not in link
    assert "http://" not in text and "https://" not in text and "//cdn" not in text
    assert "script" not in parser.tags and "link" not in parser.tags
    return text


def test_report_single_output(tmp_path):
    path = shapkit.report(small_explanation(), tmp_path / "report.html")
    assert path == tmp_path / "report.html"
    # bar, beeswarm, waterfalls of the highest and lowest prediction
    text = _check_report(path, 6)  # bar, beeswarm, two waterfalls with their force plots
    for needle in ("MyModel", "kernel", "Largest standard error", "Efficiency gap",
                   "Background rows", "group", "g1, g2"):  # fmt: skip
        assert needle in text
    assert "0.2 (row 0, player g)" in text  # the largest standard error and where


def test_report_multi_output_and_output_choice(tmp_path):
    """Two mirrored outputs (a binary classifier's): the report shows the second one by
    default, both with all_outputs=True; outputs= picks any."""
    values = np.stack([VALUES, -VALUES], axis=2)
    expl = small_explanation(values, np.stack([ERRORS, ERRORS], axis=2))
    from shapkit.reports.summary import mirrored_outputs

    assert mirrored_outputs(expl)
    text = _check_report(shapkit.report(expl, tmp_path / "all.html", all_outputs=True), 1 + 2 + 8)
    assert "Output low" in text and "Output high" in text
    default = _check_report(shapkit.report(expl, tmp_path / "default.html"), 6)
    assert "Output low" not in default and "Output high" not in default  # one output
    assert "<td>Outputs</td><td>high" in default
    one = _check_report(shapkit.report(expl, tmp_path / "one.html", outputs=["low"]), 6)
    assert "<td>Outputs</td><td>low" in one


def test_report_of_an_exact_explanation_and_one_row(tmp_path):
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0, 5.0], "c": pd.Categorical(["u", "v", "u", "v"])})
    expl = shapkit.explain(lambda Z: Z["x"] * (Z["c"] == "u"), X, seed=0)
    text = _check_report(shapkit.report(expl, tmp_path / "exact.html", title="A & B"), 6)
    assert "A &amp; B" in text and "values are exact" in text
    _check_report(shapkit.report(expl[1], tmp_path / "row.html"), 4)  # one waterfall and force


def test_report_with_math_and_markup_in_names(tmp_path):
    names = ["cost_$\\frac$", "a$b$c", "50%_$ <b>&", "x_{1}^2"]
    values = np.stack([VALUES, -VALUES], axis=2)
    expl = small_explanation(values, np.stack([ERRORS, ERRORS], axis=2))
    expl.data.columns = names
    expl.background.columns = names
    expl.feature_names = [names[0], names[1], "g $\\frac{1}$"]
    expl.player_columns = {names[0]: [names[0]], names[1]: [names[1]],
                           "g $\\frac{1}$": names[2:]}  # fmt: skip
    expl.output_names = ["out $1$", "$\\sqrt$"]
    text = _check_report(
        shapkit.report(expl, tmp_path / "math.html", all_outputs=True), 1 + 2 + 8
    )
    for name in [*expl.feature_names, *expl.output_names, names[2]]:
        assert html.escape(name, quote=True) in text
    assert "50%_$ &lt;b&gt;&amp;" in text and "<b>&" not in text


def _many_outputs(k=1000, n=4):
    """A hand-made explanation with k outputs; output c has values of size c + 1."""
    rng = np.random.default_rng(4)
    values = rng.choice([-1.0, 1.0], size=(n, 3, 1)) * np.arange(1, k + 1)  # |value| = c + 1
    expl = small_explanation(VALUES[:n], ERRORS[:n])
    base = np.zeros((n, k))
    expl.values, expl.std_errors = values, np.zeros_like(values)
    expl.base_values, expl.predictions = base, base + values.sum(axis=1)
    expl.output_names = [f"item {c}" for c in range(k)]
    return expl


def test_report_of_1000_outputs_shows_the_most_important(tmp_path, monkeypatch):
    from shapkit.reports import html as report_module
    from shapkit.reports import plots as plot_module

    made = []
    axes = plot_module.new_axes

    def counting_axes(*args, **kwargs):
        made.append(1)
        return axes(*args, **kwargs)

    monkeypatch.setattr(plot_module, "new_axes", counting_axes)
    # count the figures, skip their PNG encoding (the slow part, not what is tested)
    monkeypatch.setattr(
        report_module, "figure_html",
        lambda ax, caption: '<figure><img src="data:image/png;base64,"></figure>',
    )  # fmt: skip
    expl = _many_outputs()
    text = _check_report(shapkit.report(expl, tmp_path / "many.html"), 1 + 10 + 40)
    # bar, a beeswarm and two waterfalls per output shown (force plots: their own module)
    assert len(made) == 1 + 10 + 20
    shown = [f"item {c}" for c in range(990, 1000)]  # the largest values
    for name in shown:
        assert f"<h3>Output {name}</h3>" in text
    assert "<h3>Output item 989</h3>" not in text
    assert "This explanation has 1000 outputs; this report shows the 10 with the largest" in text
    assert "<summary>990 outputs left out</summary>" in text
    assert "item 0, item 1, item 2" in text and "item 989</p>" in text
    assert "<code>outputs=[...]</code>" in text and "<code>max_outputs=</code> (now 10)" in text
    assert "(the 10 shown of 1000 outputs)" in text
    made.clear()
    three = shapkit.report(expl, tmp_path / "three.html", max_outputs=3)
    text = _check_report(three, 1 + 3 + 6 + 6)  # bar, beeswarms, waterfalls, force plots
    assert len(made) == 10 and "<summary>997 outputs left out</summary>" in text
    with pytest.raises(ValueError, match="max_outputs=0"):
        shapkit.report(expl, tmp_path / "none.html", max_outputs=0)


def test_report_outputs_are_labels(tmp_path, monkeypatch):
    from shapkit.reports import html as report_module

    monkeypatch.setattr(
        report_module, "figure_html",
        lambda ax, caption: '<figure><img src="data:image/png;base64,"></figure>',
    )  # fmt: skip
    values = np.stack([VALUES, -VALUES, 2 * VALUES], axis=2)
    expl = small_explanation(values, np.stack([ERRORS] * 3, axis=2))
    expl.output_names = [1, 2, 3]
    text = shapkit.report(expl, tmp_path / "one.html", outputs=[1]).read_text()
    assert "<h3>Output 1</h3>" in text and "<h3>Output 2</h3>" not in text
    assert "left out" not in text  # outputs= is honoured as given
    with pytest.raises(KeyError, match=r"Unknown output 0.*output_at\(0\)"):
        shapkit.report(expl, tmp_path / "zero.html", outputs=[0])
    by_position = shapkit.report(expl.output_at([0, 2]), tmp_path / "pos.html").read_text()
    assert "<h3>Output 1</h3>" in by_position and "<h3>Output 3</h3>" in by_position


def test_model_row_shows_the_pipeline_steps(tmp_path):
    """The report's "Model" row spells out a Pipeline's steps and a ColumnTransformer's
    transformers, not just "Pipeline"."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=60), "c": rng.choice(["x", "y"], size=60)})
    y = (X["a"] + (X["c"] == "x") > 0.5).astype(int)
    columns = ColumnTransformer(
        [("cat", OneHotEncoder(), ["c"]), ("num", StandardScaler(), ["a"])]
    )
    model = make_pipeline(columns, LogisticRegression()).fit(X, y)
    expl = shapkit.explain(model, X.iloc[:3], background=X.iloc[:20], seed=0)
    described = (
        "Pipeline(ColumnTransformer(cat: OneHotEncoder, num: StandardScaler) "
        "-> LogisticRegression)"
    )
    assert expl.settings["model"] == described
    path = shapkit.report(expl[:, :, 1], tmp_path / "pipeline.html")
    assert f"<tr><td>Model</td><td>{html.escape(described)}</td></tr>" in path.read_text()


def test_binary_classifiers_default_to_the_positive_class():
    """A binary classifier's probabilities mirror each other: summary and bar show
    classes_[1] by default (all_outputs=True: both); the Explanation keeps both;
    multi-class and unmirrored two-output models keep every output."""
    from sklearn.linear_model import LinearRegression, LogisticRegression

    from shapkit.reports.summary import mirrored_outputs

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"])
    labels = np.where(X["a"] + 0.5 * X["b"] > 0, "yes", "no")
    expl = shapkit.explain(LogisticRegression().fit(X, labels), X.iloc[:6], background=X)
    assert expl.output_names == ["no", "yes"] and mirrored_outputs(expl)
    table = shapkit.summary(expl)
    assert table.index.nlevels == 1 and table.attrs["outputs"] == ["yes"]
    pd.testing.assert_frame_equal(table, shapkit.summary(expl, output="yes"))
    both = shapkit.summary(expl, all_outputs=True)
    assert both.index.get_level_values("output").unique().tolist() == ["no", "yes"]
    drawn = [t.get_text() for t in shapkit.plots.bar(expl).get_legend_handles_labels()[1]]
    assert drawn == []  # one output: no legend of outputs
    drawn = shapkit.plots.bar(expl, all_outputs=True).get_legend_handles_labels()[1]
    assert [str(t) for t in drawn] == ["no", "yes"]

    three = np.digitize(X["a"], [-0.5, 0.5])
    multi = shapkit.explain(LogisticRegression().fit(X, three), X.iloc[:6], background=X)
    assert not mirrored_outputs(multi)
    assert shapkit.summary(multi).attrs["outputs"] == [0, 1, 2]
    targets = np.column_stack([X["a"] + X["b"], 1.0 - X["a"]])
    two = shapkit.explain(LinearRegression().fit(X, targets), X.iloc[:6], background=X)
    assert not mirrored_outputs(two)  # values not mirrored: both stay
    assert len(shapkit.summary(two).attrs["outputs"]) == 2


def test_spearman_columns_equal_spearman_bit_for_bit():
    """Columns without NaN are ranked together, the others one at a time: every
    correlation must equal :func:`spearman` of that column exactly (ties, constant
    columns, missing values, a single row)."""
    from scipy.stats import spearmanr

    from shapkit.reports.summary import spearman, spearman_columns

    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 100):
        x = np.round(rng.normal(size=(n, 6)), 1)
        y = rng.normal(size=(n, 6)) * (rng.random((n, 6)) < 0.7)
        x[:, 1] = 3.0
        x[: n // 2, 2] = np.nan
        y[-1, 3] = np.nan
        got = spearman_columns(x, y)
        want = [spearman(x[:, j], y[:, j]) for j in range(6)]
        np.testing.assert_array_equal(got, want)
        if n == 100:
            assert np.isnan(got[1]) and not np.isnan(got[0])
            assert got[0] == pytest.approx(spearmanr(x[:, 0], y[:, 0]).statistic, abs=1e-12)


def test_report_with_an_interactions_section(tmp_path):
    """The section lists the strongest pairs (the product's first), draws the heatmap
    and two partner-coloured dependence plots, and sits in the navigation."""
    from sklearn.ensemble import GradientBoostingClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] * X[:, 1] + 0.3 * X[:, 2] > 0).astype(int)
    model = GradientBoostingClassifier(n_estimators=30, random_state=0).fit(X, y)
    explainer = shapkit.Explainer(model, X[:40], output="decision")
    expl, inter = explainer(X[100:130]), explainer.interactions(X[100:130])
    plain = shapkit.report(expl, tmp_path / "plain.html").read_text()
    text = shapkit.report(expl, tmp_path / "inter.html", interactions=inter).read_text()
    assert 'id="interactions"' in text and 'href="#interactions"' in text
    assert 'id="interactions"' not in plain
    assert text.count("data:image/png;base64,") == plain.count("data:image/png;base64,") + 3
    section = text.split('id="interactions"')[1].split("</section>")[0]
    first = section.split("<tbody>")[1].split("</tr>")[0]
    assert "<td>x0</td><td>x1</td>" in first  # the strongest pair
    assert "exact, from the trees' leaves" in section
    with pytest.raises(TypeError, match="InteractionExplanation"):
        shapkit.report(expl, tmp_path / "bad.html", interactions=expl)
