"""n_jobs: chunks of rows on worker processes give the sequential values bit for bit."""

from __future__ import annotations

import sys
import threading
import types

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression

import shapkit
from shapkit.columns import explanation_frame, value_columns
from shapkit.execution.local import (
    TaskSizer,
    UnpicklableModelError,
    chunk_bounds,
    default_chunk_size,
    iter_chunks,
    resolve_n_jobs,
    run,
    ship_job,
    sigint_ignored,
)
from shapkit.execution.progress import AUTO_DELAY, progress_bar, progress_enabled
from shapkit.explainer import Explainer


def _same(a, b):
    for name in ("values", "std_errors", "base_values", "predictions", "n_evals"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.output_names == b.output_names
    assert a.feature_names == b.feature_names
    pd.testing.assert_frame_equal(a.data, b.data)


def _nonlinear(Z):
    Z = np.asarray(Z)
    return np.sin(Z).sum(axis=1) + Z[:, 0] * Z[:, 1]


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :8]
    model = HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(X, y)
    return model, X


@pytest.mark.parametrize("method", ["kernel", "permutation"])
def test_n_jobs_matches_sequential_sampling(cancer, method):
    model, X = cancer
    rows, background = X.iloc[:16], X.iloc[100:110]
    kwargs = dict(method=method, seed=3)
    one = Explainer(model, background, n_jobs=1, **kwargs)(rows, budget=48)
    two = Explainer(model, background, n_jobs=2, **kwargs)(rows, budget=48)
    _same(one, two)
    assert one.values.shape == (16, 8, 2)  # classifier: both classes
    assert (one.std_errors > 0).any()


def test_n_jobs_with_a_lambda_and_ndarray():
    X = np.random.default_rng(0).normal(size=(25, 5))
    one = shapkit.explain(_nonlinear, X, method="kernel", budget=40, seed=1)
    two = shapkit.explain(lambda Z: _nonlinear(Z), X, method="kernel", budget=40, seed=1, n_jobs=2)
    np.testing.assert_array_equal(one.values, two.values)
    np.testing.assert_array_equal(one.std_errors, two.std_errors)


def test_n_jobs_matches_sequential_tree_and_linear():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    forest = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0).fit(X, y)
    linear = LinearRegression().fit(X, y)
    for model, method in ((forest, "tree"), (linear, "linear")):
        one = Explainer(model, X.iloc[:40], method=method)(X.iloc[50:90])
        two = Explainer(model, X.iloc[:40], method=method, n_jobs=2)(X.iloc[50:90])
        _same(one, two)
        assert one.method == method


def test_any_chunking_gives_the_same_values():
    X = pd.DataFrame(np.random.default_rng(4).normal(size=(23, 6)), columns=list("abcdef"))
    explainer = Explainer(_nonlinear, X.iloc[:10], method="kernel", seed=0)
    whole = explainer(X, budget=40)
    job = explainer.row_job(X, budget=40)
    for size in (1, 5, 23):
        rows = run(job, X, chunk_size=size)
        np.testing.assert_array_equal(rows.values[:, :, 0], whole.values)
        np.testing.assert_array_equal(rows.std_errors[:, :, 0], whole.std_errors)


def test_unseeded_parallel_run_shares_one_entropy():
    """seed=None: one entropy for the whole run, so equal rows in different chunks
    (different workers) still get equal values."""
    X = np.random.default_rng(1).normal(size=(6, 4))
    X = np.vstack([X, X])  # rows 6..11 repeat rows 0..5
    expl = shapkit.explain(_nonlinear, X, method="kernel", budget=24, n_jobs=2)
    np.testing.assert_array_equal(expl.values[:6], expl.values[6:])


def test_n_jobs_validation():
    assert resolve_n_jobs(None) == 1
    assert resolve_n_jobs(3) == 3
    assert resolve_n_jobs(-1) >= 1
    for bad in (0, 1.5, True, "2"):
        with pytest.raises(ValueError, match="n_jobs"):
            resolve_n_jobs(bad)
    with pytest.raises(ValueError, match="n_jobs"):
        Explainer(_nonlinear, np.zeros((1, 2)), n_jobs=0)
    with pytest.raises(ValueError, match="progress"):
        Explainer(_nonlinear, np.zeros((1, 2)), progress="yes")
    with pytest.raises(ValueError, match="backend"):
        Explainer(_nonlinear, np.zeros((1, 2)), backend="spark")


def test_chunk_bounds_and_sizes():
    assert chunk_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert default_chunk_size(10_000, 1, False) == 10_000  # quiet sequential: one chunk
    assert default_chunk_size(10_000, 1, True) == 256
    assert default_chunk_size(1_000, 2, False) == 125  # four chunks per worker


def test_progress_is_off_under_pytest_and_forced_on(capsys):
    assert progress_enabled(None) is False
    assert progress_enabled(False) is False
    X = np.random.default_rng(2).normal(size=(30, 3))
    shapkit.explain(_nonlinear, X, method="exact", progress=True)
    err = capsys.readouterr().err
    assert "30/30" in err and "row" in err
    shapkit.explain(_nonlinear, X, method="exact")  # auto: off here
    assert capsys.readouterr().err == ""


def test_flat_columns(cancer):
    model, X = cancer
    expl = Explainer(model, X.iloc[:10], method="exact")(X.iloc[:3])
    frame = explanation_frame(expl)
    assert list(frame.columns) == value_columns(expl.feature_names, expl.output_names, 2)
    assert frame.columns[0] == "base_value:0"
    assert f"shap_value:{expl.feature_names[0]}:1" in frame.columns
    np.testing.assert_array_equal(
        frame[f"shap_value:{expl.feature_names[2]}:1"].to_numpy(), expl.values[:, 2, 1]
    )
    assert value_columns(["a"], ["y"], 1) == [
        "base_value", "shap_value:a", "std_error:a", "prediction", "n_evals"
    ]  # fmt: skip


def test_sequential_progress_moves_per_row_and_closed_forms_per_chunk():
    X = pd.DataFrame(np.random.default_rng(4).normal(size=(23, 6)), columns=list("abcdef"))
    job = Explainer(_nonlinear, X.iloc[:10], method="kernel", seed=0).row_job(X, budget=40)
    calls = []
    chunks = dict(iter_chunks(job, X, chunk_bounds(23, 10), 1, on_rows=calls.append))
    assert calls == [1] * 23 and sorted(chunks) == [0, 1, 2]
    linear = LinearRegression().fit(X, X["a"] * 2 - X["b"])
    job = Explainer(linear, X.iloc[:10], method="linear").row_job(X)
    calls.clear()
    list(iter_chunks(job, X, chunk_bounds(23, 10), 1, on_rows=calls.append))
    assert calls == [10, 10, 3]


def test_parallel_progress_per_task_with_unchanged_values():
    X = pd.DataFrame(np.random.default_rng(5).normal(size=(40, 5)), columns=list("abcde"))
    explainer = Explainer(_nonlinear, X.iloc[:10], method="kernel", seed=2)
    job = explainer.row_job(X, budget=32)
    calls = []
    results = dict(iter_chunks(job, X, [(0, 25), (25, 40)], 2, on_rows=calls.append))
    assert sum(calls) == 40 and len(calls) > 2
    assert 1 in calls  # the first task explains one row, to learn the speed
    values = np.concatenate([results[0].values, results[1].values])[:, :, 0]
    np.testing.assert_array_equal(values, explainer(X, budget=32).values)


def test_task_sizes_follow_the_speed_of_the_rows():
    sizer = TaskSizer(limit=100, seconds=1.0, workers=2)
    # speed unknown: one row per worker, then doubling while no task has reported
    assert [sizer.size() for _ in range(10)] == [1, 1, 2, 4, 8, 16, 32, 64, 100, 100]
    sizer.record(1, 2.0)  # a first task with the worker's start-up
    assert sizer.size() == 1
    sizer.record(1, 0.02)  # speed-ups are trusted at once
    assert sizer.size() == 50
    sizer.record(10, 1.0)  # slow-downs are averaged in: (0.02 + 0.1) / 2 s per row
    assert sizer.size() == 16
    sizer.record(50, 0.0)
    assert sizer.size() == 100  # capped for load balance


def test_unpicklable_model_with_n_jobs_is_refused_before_any_work():
    calls = []

    def model(Z):
        calls.append(len(Z))
        return _nonlinear(Z)

    model.lock = threading.Lock()
    X = np.random.default_rng(6).normal(size=(8, 3))
    with pytest.raises(TypeError, match=r"n_jobs=2: the model cannot be sent to worker proc"):
        shapkit.explain(model, X, method="kernel", budget=20, seed=0, n_jobs=2)
    assert calls == []
    with pytest.raises(UnpicklableModelError, match="use n_jobs=1"):
        ship_job(Explainer(model, X).row_job(X, budget=20), 2)
    assert ship_job(Explainer(model, X).row_job(X, budget=20), 1) is None


def test_auto_progress_in_a_notebook(monkeypatch):
    from tqdm.auto import tqdm

    kernel = types.SimpleNamespace(config={"IPKernelApp": {}})
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: kernel))
    assert progress_enabled(None) is False  # never under pytest
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    assert progress_enabled(None) is True
    kernel.config = {}  # IPython in a terminal: stderr decides (not a TTY here)
    assert progress_enabled(None) is False
    with progress_bar(5, True) as bar:
        assert isinstance(bar, tqdm) and bar.delay == 0
    with progress_bar(5, None) as bar:
        assert bar.update(1) is None  # no bar: a no-op
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    with progress_bar(5, None) as bar:
        assert isinstance(bar, tqdm) and bar.delay == AUTO_DELAY  # auto: after 2 s only


def _ignores_sigint(Z):
    """1.0 where this process ignores Ctrl-C."""
    import signal

    return np.full(len(Z), float(signal.getsignal(signal.SIGINT) == signal.SIG_IGN))


def test_workers_ignore_ctrl_c_from_birth():
    """Workers start with SIGINT ignored (inherited while they are spawned, so even
    their start-up ignores it) and keep it so; the parent gets its handler back."""
    import signal
    import subprocess



    before = signal.getsignal(signal.SIGINT)
    with sigint_ignored():
        child = subprocess.run(
            [sys.executable, "-c", "import signal as s; print(s.getsignal(s.SIGINT) == s.SIG_IGN)"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    assert child.stdout.strip() == "True"
    assert signal.getsignal(signal.SIGINT) is before
    X = np.random.default_rng(7).normal(size=(6, 2))
    expl = shapkit.explain(_ignores_sigint, X, method="exact", n_jobs=2, seed=0)
    np.testing.assert_array_equal(expl.predictions, np.ones(6))  # computed in workers
    assert _ignores_sigint(X[:1])[0] == 0.0  # not in this process
