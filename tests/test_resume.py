"""Resumable runs: killed runs resume to the values of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyarrow")

import shapkit.resumable as resumable  # noqa: E402
from shapkit.cli import main  # noqa: E402
from shapkit.explainer import Explainer  # noqa: E402
from shapkit.parallel import explanation_frame  # noqa: E402
from shapkit.resumable import explain_to_dataset, read_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = np.array([1.0, -2.0, 0.5, 3.0])


class SlowModel:
    """A picklable nonlinear model that takes a while per call (so a run can be killed
    half way)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def __call__(self, X):
        time.sleep(self.delay)
        Z = np.asarray(X, dtype=float)
        return Z @ WEIGHTS + np.sin(Z[:, 0] * Z[:, 1])


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(0)
    data = pd.DataFrame(rng.normal(size=(48, 4)), columns=["a", "b", "c", "d"])
    data.to_csv(tmp_path / "data.csv", index=False)
    joblib.dump(SlowModel(0.03), tmp_path / "model.joblib")
    return tmp_path


def _args(files, out, *extra):
    return [
        "explain", "--model", str(files / "model.joblib"), "--data", str(files / "data.csv"),
        "--method", "kernel", "--budget", "20", "--chunk-size", "4", "--background-size", "8",
        "--seed", "7", "--out", str(out), *extra,
    ]  # fmt: skip


def _reference(files):
    assert main(_args(files, files / "reference")) == 0
    return read_dataset(files / "reference")


def test_sigkill_then_resume_equals_uninterrupted_run(files, capsys):
    out = files / "killed"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    process = subprocess.Popen(
        [sys.executable, "-m", "shapkit.cli", *_args(files, out)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.time() + 40
    while time.time() < deadline and len(list(out.glob("part-*.parquet"))) < 3:
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()
    written = sorted(out.glob("part-*.parquet"))
    assert 3 <= len(written) < 12, "the run was not killed half way"
    # simulate the worst leftovers: a half-written temporary and a corrupt part
    (out / ".part-000011.parquet.tmp-999").write_bytes(b"PAR1 half")
    written[1].write_bytes(written[1].read_bytes()[:100])

    assert main(_args(files, out)) == 0
    err = capsys.readouterr().err
    assert "reused from an earlier run" in err
    assert not list(out.glob(".*.tmp-*"))
    pd.testing.assert_frame_equal(read_dataset(out), _reference(files), check_exact=True)


def test_interrupt_loses_at_most_the_chunk_in_flight(files, monkeypatch, capsys):
    out = files / "interrupted"
    real_write, calls = resumable._write_part, []

    def write_then_interrupt(path, frame, key, index):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(index)
        real_write(path, frame, key, index)

    monkeypatch.setattr(resumable, "_write_part", write_then_interrupt)
    assert main(_args(files, out)) == 130
    assert "rerun the same command to resume" in capsys.readouterr().err
    assert len(list(out.glob("part-*.parquet"))) == 3
    monkeypatch.setattr(resumable, "_write_part", real_write)
    assert main(_args(files, out)) == 0
    assert "3 reused" in capsys.readouterr().err
    pd.testing.assert_frame_equal(read_dataset(out), _reference(files), check_exact=True)


def test_other_arguments_are_not_mixed_in(files, capsys):
    out = files / "run"
    assert main(_args(files, out)) == 0
    capsys.readouterr()
    assert main(_args(files, out, "--tol", "0.5")) == 2
    err = capsys.readouterr().err
    assert "other arguments or data" in err and len(err.strip().splitlines()) == 1
    assert main(_args(files, out, "--tol", "0.5", "--overwrite")) == 0


def test_api_resumable_run_matches_explanation(files):
    data = pd.read_csv(files / "data.csv")
    explainer = Explainer(SlowModel(0.0), data.iloc[:8], method="kernel", seed=3, n_jobs=2)
    summary = explain_to_dataset(explainer, data, files / "api", budget=20, chunk_size=10)
    assert summary["n_chunks"] == 5 and summary["written"] == 5
    frame = read_dataset(files / "api")
    expected = explanation_frame(explainer(data, budget=20)).reset_index(names="row")
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(files / "api"), frame)  # a Parquet dataset
    again = explain_to_dataset(explainer, data, files / "api", budget=20, chunk_size=10)
    assert again["reused"] == 5 and again["written"] == 0
    with pytest.raises(ValueError, match="seed"):
        explain_to_dataset(Explainer(SlowModel(0.0), data.iloc[:8]), data, files / "x")
