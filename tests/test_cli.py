"""The command line: explain / select / bench / demo, and one-line errors for bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression

import shapkit
from shapkit.cli import build_parser, main
from shapkit.columns import explanation_frame
from shapkit.explainer import Explainer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli")
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X = X.iloc[:30, :5]
    y = y.iloc[:30]
    model = LinearRegression().fit(X, y)
    joblib.dump(model, path / "model.joblib")
    X.to_csv(path / "data.csv", index=False)
    X.to_parquet(path / "data.parquet")
    X.assign(target=y).to_csv(path / "labelled.csv", index=False)
    X.iloc[:, :3].to_csv(path / "narrow.csv", index=False)
    (path / "broken.csv").write_bytes(b'a,b\n1,2,3,4\n"unterminated')
    (path / "empty.csv").write_text("")
    return path


def _one_line_error(capsys, command, *fragments):
    """The error is one line; the only other line allowed is the pickle notice."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    if lines and lines[0].startswith("shapkit: note: ") and "pickle" in lines[0]:
        lines = lines[1:]
    err = "\n".join(lines)
    assert err.startswith(f"shapkit {command}: error: "), err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return err


def test_help_documents_everything(capsys):
    text = build_parser().format_help()
    for word in ("demo", "explain", "select", "bench", "pickle", "trust"):
        assert word in text
    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    out = capsys.readouterr().out
    for option in ("--model", "--data", "--background", "--method", "--budget", "--tol",
                   "--output", "--n-jobs", "--out", "--chunk-size", "--seed", ".pt2",
                   "TorchScript", "trust", "resume", "--groups", "--report"):  # fmt: skip
        assert option in " ".join(out.split()), option


def test_explain_csv_and_parquet_match_the_api(files, capsys):
    base = ["explain", "--model", str(files / "model.joblib"), "--method", "kernel",
            "--budget", "16", "--seed", "2", "--chunk-size", "7"]  # fmt: skip
    assert main([*base, "--data", str(files / "data.csv"), "--out", str(files / "v.csv")]) == 0
    assert main([*base, "--data", str(files / "data.parquet"), "--n-jobs", "2",
                 "--out", str(files / "v_dir")]) == 0  # fmt: skip
    assert "30 rows, 5 chunks" in capsys.readouterr().err
    data = pd.read_csv(files / "data.csv")
    from shapkit.tabular import sample_background

    background = sample_background(data, 100, 2)
    model = joblib.load(files / "model.joblib")
    expected = explanation_frame(
        Explainer(model, background, method="kernel", seed=2)(data, budget=16)
    ).reset_index(names="row")
    from_csv = pd.read_csv(files / "v.csv")
    np.testing.assert_allclose(from_csv.to_numpy(float), expected.to_numpy(float), rtol=1e-12)
    pd.testing.assert_frame_equal(pd.read_parquet(files / "v_dir"), expected, check_exact=True)


def test_explain_groups_and_report_match_the_api(files, capsys):
    """--groups FILE.json makes players of column groups, as Explainer(groups=) does, and
    --report writes the HTML report of the run's values: the Explanation it is drawn
    from equals the API's, value for value."""
    import json

    groups = files / "groups.json"
    groups.write_text(json.dumps({"body": ["bmi", "bp"], "who": ["age", "sex"]}))
    out, page = files / "grouped.csv", files / "grouped.html"
    args = ["explain", "--model", str(files / "model.joblib"), "--data",
            str(files / "data.csv"), "--method", "kernel", "--budget", "16", "--seed", "2",
            "--groups", str(groups), "--report", str(page), "--out", str(out)]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    assert f"report -> {page}" in capsys.readouterr().err
    data = pd.read_csv(files / "data.csv")
    from shapkit.tabular import sample_background

    explainer = Explainer(
        joblib.load(files / "model.joblib"), sample_background(data, 100, 2), method="kernel",
        seed=2, groups={"body": ["bmi", "bp"], "who": ["age", "sex"]},
    )  # fmt: skip
    expected = explainer(data, budget=16)
    assert expected.feature_names == ["who", "body", "s1"]
    written = pd.read_csv(out)
    assert [c for c in written.columns if c.startswith("shap_value:")] == [
        "shap_value:who", "shap_value:body", "shap_value:s1"
    ]  # fmt: skip
    rebuilt = explainer.explanation_from_frame(data, written.drop(columns="row"), budget=16)
    np.testing.assert_allclose(rebuilt.values, expected.values, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rebuilt.std_errors, expected.std_errors, rtol=1e-12)
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "body" in text and "who" in text
    assert text.count("data:image/png;base64,") >= 3


@pytest.mark.parametrize(
    "content, fragment",
    [("not json", "is not valid JSON"), ("[1, 2]", "must hold a non-empty JSON object"),
     ('{"g": []}', "group 'g' must be a column name or a non-empty list"),
     ('{"g": ["nope"]}', "nope")],
)  # fmt: skip
def test_explain_bad_groups_file(files, capsys, content, fragment):
    groups = files / "bad_groups.json"
    groups.write_text(content)
    args = ["explain", "--model", str(files / "model.joblib"), "--data",
            str(files / "data.csv"), "--groups", str(groups),
            "--out", str(files / "bad_groups_out")]  # fmt: skip
    assert main(args) != 0
    _one_line_error(capsys, "explain", fragment)


def test_explain_background_file(files):
    out = files / "bg.csv"
    args = ["explain", "--model", str(files / "model.joblib"), "--data", str(files / "data.csv"),
            "--background", str(files / "data.parquet"), "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    frame = pd.read_csv(out)
    shap = frame.filter(like="shap_value:").sum(axis=1)
    np.testing.assert_allclose(frame["base_value"] + shap, frame["prediction"], atol=1e-8)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
@pytest.mark.parametrize(
    "kind", [pytest.param("pt2", marks=pytest.mark.slow), "pt"]  # torch.export: ~3 s
)
def test_explain_torch_models(files, kind, capsys):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    path = files / f"net.{kind}"
    if kind == "pt2":
        program = torch.export.export(module, (torch.zeros(3, 5),), dynamic_shapes=(
            {0: torch.export.Dim("rows")},))  # fmt: skip
        torch.export.save(program, str(path))
    else:
        torch.jit.script(module).save(str(path))
    out = files / f"torch_{kind}.csv"
    args = ["explain", "--model", str(path), "--data", str(files / "data.csv"),
            "--method", "exact", "--out", str(out)]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    frame = pd.read_csv(out)
    shap = frame.filter(like="shap_value:").sum(axis=1)
    np.testing.assert_allclose(frame["base_value"] + shap, frame["prediction"], atol=1e-5)


def test_select_passes_its_options_and_prints_the_selection(files, monkeypatch, capsys):
    """--strategy, --importance, --select, --alpha, --cv, --n-repeats, --n-jobs and --seed
    reach select_features; stdout is the selected features and a compact table, --out the
    full report."""
    calls = []

    def fake_select(model, X, y, **kwargs):
        calls.append((list(X.columns), y.name, kwargs))
        report = pd.DataFrame(
            {"rank": [1, 2, 3, 4, 5], "mean_abs_shap": [5.0, 4.0, 3.0, 2.0, 1.0],
             "ci_low": 0.5, "ci_high": 6.0, "p_value_probe": 0.01, "q_value": 0.02,
             "decision": "accept", "selected": [True, True, False, False, False]},
            index=list(X.columns),
        )  # fmt: skip
        return report

    monkeypatch.setattr(shapkit, "select_features", fake_select)
    out = files / "report.csv"
    args = ["select", "--model", str(files / "model.joblib"), "--data",
            str(files / "labelled.csv"), "--target", "target", "--strategy", "rfe",
            "--importance", "sage",
            "--select", "fdr", "--alpha", "0.1", "--cv", "3", "--n-repeats", "2",
            "--n-jobs", "2", "--seed", "7", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    assert calls == [(["age", "sex", "bmi", "bp", "s1"], "target",
                      {"strategy": "rfe", "importance": "sage", "select": "fdr", "alpha": 0.1,
                       "cv": 3,
                       "n_repeats": 2, "n_jobs": 2, "seed": 7})]  # fmt: skip
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "shapkit select: 2 of 5 features selected (rfe): age, sex"
    assert printed[1].split() == [
        "rank", "mean_abs_shap", "ci_low", "ci_high", "q_value", "decision", "selected"
    ]  # fmt: skip
    assert "p_value_probe" not in "\n".join(printed)  # in the full report only
    full = pd.read_csv(out, index_col=0)
    assert "p_value_probe" in full.columns and full["selected"].sum() == 2


def test_select_with_the_library(files, capsys):
    out = files / "real_report.parquet"
    args = ["select", "--model", str(files / "model.joblib"), "--data",
            str(files / "labelled.csv"), "--target", "target", "--strategy", "rank",
            "--cv", "2", "--n-repeats", "1", "--out", str(out)]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    report = pd.read_parquet(out)
    assert len(report) == 5 and list(report["rank"]) == [1, 2, 3, 4, 5]
    selected = report.index[report["selected"]].tolist()
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        f"shapkit select: {len(selected)} of 5 features selected (rank): "
        + (", ".join(selected) or "none")
    )


@pytest.mark.parametrize(
    "option, value, fragment",
    [("--cv", "1", "--cv must be at least 2"), ("--n-repeats", "0", "--n-repeats"),
     ("--n-jobs", "0", "--n-jobs"), ("--alpha", "1.5", "--alpha")],
)  # fmt: skip
def test_select_bad_options_are_one_line_errors(files, capsys, option, value, fragment):
    args = ["select", "--model", str(files / "model.joblib"), "--data",
            str(files / "labelled.csv"), "--target", "target", option, value]  # fmt: skip
    assert main(args) == 2
    _one_line_error(capsys, "select", fragment)
    with pytest.raises(SystemExit) as exit_info:  # argparse: the usage, then the error
        main([*args[:-2], "--strategy", "nonsense"])
    assert exit_info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("shapkit select: error: argument --strategy: invalid choice")


def test_bench(monkeypatch, capsys):
    import importlib.util
    import subprocess as sp

    commands = []
    monkeypatch.setattr(sp, "call", lambda command: commands.append(command) or 0)
    assert main(["bench", "--quick"]) == 0
    assert commands == [[sys.executable, "-m", "benchmarks.run", "--quick"]]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert main(["bench"]) == 2
    _one_line_error(capsys, "bench", "benchmarks package is not importable")


def test_demo_bad_rows(capsys):
    assert main(["demo", "--rows", "500"]) == 2
    _one_line_error(capsys, "demo", "--rows")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--model", "{d}/missing.joblib", "--data", "{d}/data.csv"], "model file not found"),
        (["--model", "{d}/model.joblib", "--data", "{d}/missing.csv"], "data file not found"),
        (["--model", "{d}/model.joblib", "--data", "{d}/broken.csv"], "cannot read data file"),
        (["--model", "{d}/model.joblib", "--data", "{d}/empty.csv"], "cannot read data file"),
        (["--model", "{d}/data.csv", "--data", "{d}/data.csv"], "cannot load model"),
        (["--model", "{d}/model.joblib", "--data", "{d}/labelled.csv"], "unexpected 'target'"),
        (["--model", "{d}/model.joblib", "--data", "{d}/narrow.csv"], "missing 'bp', 's1'"),
        (["--model", "{d}/model.joblib", "--data", "{d}/data.csv", "--budget", "0"], "--budget"),
        (
            ["--model", "{d}/model.joblib", "--data", "{d}/data.csv", "--chunk-size", "0"],
            "--chunk-size",
        ),  # fmt: skip
        (["--model", "{d}/model.joblib", "--data", "{d}/data.csv", "--n-jobs", "0"], "--n-jobs"),
    ],
)
def test_explain_bad_input(files, capsys, args, fragment):
    args = [a.format(d=files) for a in args]
    assert main(["explain", *args, "--out", str(files / "never")]) == 2
    _one_line_error(capsys, "explain", fragment)


def test_select_bad_target(files, capsys):
    args = ["select", "--model", str(files / "model.joblib"), "--data",
            str(files / "labelled.csv"), "--target", "price"]  # fmt: skip
    assert main(args) == 2
    _one_line_error(capsys, "select", "target column 'price'")


@pytest.mark.slow  # real subprocesses, ~2.5 s
def test_real_subprocess_one_line_error_and_success(files):
    env_cmd = [sys.executable, "-m", "shapkit.cli", "explain", "--model",
               str(files / "model.joblib"), "--data", str(files / "missing.csv")]  # fmt: skip
    result = subprocess.run(env_cmd, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"shapkit explain: error: data file not found: {files / 'missing.csv'}"
    ]
    out = files / "sub.csv"
    ok = [*env_cmd[:-1], str(files / "data.csv"), "--out", str(out)]
    result = subprocess.run(ok, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(pd.read_csv(out)) == 30


@pytest.mark.parametrize("command", ["explain", "select", "demo"])
def test_seed_follows_the_one_rule(files, capsys, command):
    args = {
        "explain": ["--model", str(files / "model.joblib"), "--data", str(files / "data.csv")],
        "select": ["--model", str(files / "model.joblib"), "--data",
                   str(files / "labelled.csv"), "--target", "target"],
        "demo": ["--out", str(files / "never_demo")],
    }[command]  # fmt: skip
    assert main([command, *args, "--seed", "-1"]) == 2
    err = _one_line_error(capsys, command, "--seed must be a non-negative integer; got -1")
    assert "note" not in err  # refused before the model file is opened


def test_pickle_notice_once_at_run_time(files, capsys):
    out = files / "notice.csv"
    args = ["explain", "--model", str(files / "model.joblib"), "--data", str(files / "data.csv"),
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    notices = [line for line in lines if line.startswith("shapkit: note: ")]
    assert notices == [
        f"shapkit: note: {files / 'model.joblib'} is loaded with joblib/pickle, which runs "
        "code from the file; load only model files from sources you trust."
    ]
    assert lines[-1] == f"shapkit explain: 30 rows, 1 chunks, verified -> {out}"


def test_columns_in_another_order_and_int_vs_float_files(files, tmp_path):
    """A CSV's column order means nothing: data and background are put in the model's
    order; an int column that holds floats in the other file is read as floats."""
    X = pd.read_csv(files / "data.csv")
    reordered = X[list(reversed(X.columns))]
    reordered.to_csv(tmp_path / "reordered.csv", index=False)
    background = X.iloc[10:20].copy()
    ints = X.iloc[:10].copy()
    ints["age"] = (ints["age"] * 100).round().astype("int64")
    background["age"] = (background["age"] * 100).round() + 0.5  # floats: read as float64
    ints.to_csv(tmp_path / "ints.csv", index=False)
    background.to_csv(tmp_path / "bg.csv", index=False)
    model = files / "model.joblib"
    for data, out in (("data.csv", "a.csv"), (tmp_path / "reordered.csv", "b.csv")):
        assert main(["explain", "--model", str(model), "--data", str(files / data),
                     "--out", str(tmp_path / out), "--no-progress"]) == 0  # fmt: skip
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv"))
    assert main(["explain", "--model", str(model), "--data", str(tmp_path / "ints.csv"),
                 "--background", str(tmp_path / "reordered.csv"), "--out",
                 str(tmp_path / "c.csv"), "--no-progress"]) == 0  # fmt: skip
    assert main(["explain", "--model", str(model), "--data", str(tmp_path / "ints.csv"),
                 "--background", str(tmp_path / "bg.csv"), "--method", "proxy", "--budget",
                 "60", "--out", str(tmp_path / "d.csv"), "--no-progress"]) == 0  # fmt: skip
    assert pd.read_csv(tmp_path / "d.csv").shape[0] == 10
