"""Resumable runs: killed runs resume to the values of an uninterrupted run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyarrow")

from _runs_models import CountingModel, LockedModel  # noqa: E402

import shapkit.execution.resumable as resumable  # noqa: E402
from shapkit.cli import main  # noqa: E402
from shapkit.columns import explanation_frame  # noqa: E402
from shapkit.execution.local import UnpicklableModelError  # noqa: E402
from shapkit.execution.resumable import (  # noqa: E402
    LOCK,
    MANIFEST,
    ForeignFilesError,
    ManifestError,
    RunLock,
    RunLockedError,
    RunMismatchError,
    explain_to_dataset,
    read_dataset,
)
from shapkit.explainer import Explainer  # noqa: E402

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
    joblib.dump(SlowModel(0.003), tmp_path / "model.joblib")
    return tmp_path


def _args(files, out, *extra):
    return [
        "explain", "--model", str(files / "model.joblib"), "--data", str(files / "data.csv"),
        "--method", "kernel", "--budget", "20", "--chunk-size", "4", "--background-size", "8",
        "--seed", "7", "--out", str(out), *extra,
    ]  # fmt: skip


def _error(capsys):
    """stderr without the pickle notice line."""
    lines = capsys.readouterr().err.strip().splitlines()
    return "\n".join(line for line in lines if not line.startswith("shapkit: note: "))


def _reference(files):
    assert main(_args(files, files / "reference")) == 0
    return read_dataset(files / "reference")


@pytest.mark.slow  # a killed subprocess and a resumed run: ~4 s
def test_sigkill_then_resume_equals_uninterrupted_run(files, capsys):
    joblib.dump(SlowModel(0.015), files / "model.joblib")  # slow enough to kill half way
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
    real_write, calls = resumable.write_part, []

    def write_then_interrupt(path, frame, key, index):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(index)
        real_write(path, frame, key, index)

    monkeypatch.setattr(resumable, "write_part", write_then_interrupt)
    assert main(_args(files, out)) == 130
    assert "rerun the same command to resume" in capsys.readouterr().err
    assert len(list(out.glob("part-*.parquet"))) == 3
    monkeypatch.setattr(resumable, "write_part", real_write)
    assert main(_args(files, out)) == 0
    assert "3 reused" in capsys.readouterr().err
    pd.testing.assert_frame_equal(read_dataset(out), _reference(files), check_exact=True)


def test_other_arguments_are_not_mixed_in(files, capsys):
    out = files / "run"
    assert main(_args(files, out)) == 0
    capsys.readouterr()
    assert main(_args(files, out, "--tol", "0.5")) == 2
    err = _error(capsys)
    assert "other arguments or data" in err and len(err.splitlines()) == 1
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


# ---------------------------------------------------------------- locks, overwrite, checks


def _api_run(data, seed=3, **kwargs):
    return Explainer(SlowModel(0.0), data.iloc[:8], method="kernel", seed=seed, **kwargs)


def test_a_second_run_is_refused_while_the_first_holds_the_directory(files):
    data = pd.read_csv(files / "data.csv")
    out = files / "locked"
    out.mkdir()
    program = (
        "import sys, time\n"
        "from shapkit.execution.resumable import RunLock\n"
        "RunLock(sys.argv[1]).acquire()\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", program, str(out), "--marker-argument"],
        cwd=ROOT, stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout.readline() == b"locked\n"
        with pytest.raises(RunLockedError) as info:
            explain_to_dataset(_api_run(data), data, out, budget=20, chunk_size=24)
        message = str(info.value)
        assert f"{out} is in use by another shapkit run (pid {holder.pid} on " in message
        assert "started 20" in message and "--marker-argument" in message
        assert os.listdir(out) == [LOCK]  # nothing computed or written
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert (out / LOCK).exists()  # the killed holder left its file, but not its lock
    summary = explain_to_dataset(_api_run(data), data, out, budget=20, chunk_size=24)
    assert summary["written"] == 2
    assert not (out / LOCK).exists()  # released and removed on success


def test_cli_refuses_a_directory_in_use(files, capsys):
    out = files / "in_use"
    out.mkdir()
    with RunLock(out):  # another open file, so another lock, even in this process
        assert main(_args(files, out)) == 2
    err = _error(capsys)
    assert len(err.splitlines()) == 1 and err.startswith("shapkit explain: error: ")
    assert f"is in use by another shapkit run (pid {os.getpid()} on " in err
    assert sorted(os.listdir(out)) == []


def test_lock_where_fcntl_is_missing(tmp_path, monkeypatch):
    """The O_EXCL fallback: refuses while the holder lives, takes over a dead holder's
    file of this host, never one of another host."""
    monkeypatch.setattr(resumable, "fcntl", None)
    monkeypatch.setattr(resumable, "msvcrt", None)
    first = RunLock(tmp_path)
    first.acquire()
    with pytest.raises(RunLockedError, match=f"pid {os.getpid()} on "):
        RunLock(tmp_path).acquire()
    first.release()
    assert not (tmp_path / LOCK).exists()
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = {"pid": int(finished.stdout), "host": socket.gethostname(), "started": "then"}
    (tmp_path / LOCK).write_text(json.dumps(dead))
    with RunLock(tmp_path):
        assert json.loads((tmp_path / LOCK).read_text())["pid"] == os.getpid()
    (tmp_path / LOCK).write_text(json.dumps({**dead, "host": "elsewhere.example"}))
    with pytest.raises(RunLockedError, match="on elsewhere.example"):
        RunLock(tmp_path).acquire()


def test_overwrite_deletes_only_shapkit_files(files):
    data = pd.read_csv(files / "data.csv")
    out = files / "overwrite"
    explain_to_dataset(_api_run(data), data, out, budget=20, chunk_size=24)
    (out / "notes.txt").write_text("mine")
    (out / "part-000007.parquet").mkdir()  # named like a part, but a directory
    (out / "part-000007.parquet" / "keep.txt").write_text("mine")
    before = sorted(os.listdir(out))
    for overwrite in (False, True):
        with pytest.raises(ForeignFilesError, match=r"'notes.txt', 'part-000007.parquet/'"):
            explain_to_dataset(
                _api_run(data, seed=4), data, out, budget=20, chunk_size=24, overwrite=overwrite
            )
        assert sorted(os.listdir(out)) == before  # nothing deleted
    (out / "notes.txt").unlink()
    shutil.rmtree(out / "part-000007.parquet")
    (out / ".part-000001.parquet.tmp-12345").write_bytes(b"half")  # a killed run's
    summary = explain_to_dataset(
        _api_run(data, seed=4), data, out, budget=20, chunk_size=12, overwrite=True
    )
    assert summary["written"] == 4
    assert sorted(os.listdir(out)) == [MANIFEST] + [f"part-00000{i}.parquet" for i in range(4)]
    fresh = files / "fresh_with_other_files"
    fresh.mkdir()
    (fresh / "values.csv").write_text("a")
    with pytest.raises(ForeignFilesError, match="'values.csv'"):
        explain_to_dataset(_api_run(data), data, fresh, budget=20)


def _valid_manifest(files):
    out = files / "manifest_source"
    if not out.exists():
        data = pd.read_csv(files / "data.csv")
        explain_to_dataset(_api_run(data), data, out, budget=20, chunk_size=24)
    return json.loads((out / MANIFEST).read_text())


@pytest.mark.parametrize(
    ("damage", "what"),
    [
        (lambda m: json.dumps(m)[:50], "is not valid JSON"),  # truncated
        (lambda m: "[1, 2]", "a JSON list instead of an object"),
        (lambda m: json.dumps({k: v for k, v in m.items() if k != "chunks"}), "missing 'chunks'"),
        (lambda m: json.dumps({**m, "chunks": "0-48"}), "'chunks' is not a list"),
        (lambda m: json.dumps({**m, "n_rows": "48"}), "'n_rows' is not an integer"),
        (lambda m: json.dumps({**m, "chunks": [[0, 24]]}), "'chunks' does not cover rows 0..48"),
    ],
    ids=["truncated", "list", "missing-key", "chunks-type", "n_rows-type", "chunks-short"],
)
def test_a_damaged_manifest_is_an_error_naming_the_file(files, damage, what):
    data = pd.read_csv(files / "data.csv")
    out = files / f"damaged_{abs(hash(what))}"
    out.mkdir()
    (out / MANIFEST).write_text(damage(_valid_manifest(files)))
    for call in (
        lambda: explain_to_dataset(_api_run(data), data, out, budget=20, chunk_size=24),
        lambda: read_dataset(out),
    ):
        with pytest.raises(ManifestError) as info:
            call()
        message = str(info.value)
        assert str(out / MANIFEST) in message and what in message and "--overwrite" in message
    summary = explain_to_dataset(
        _api_run(data), data, out, budget=20, chunk_size=24, overwrite=True
    )
    assert summary["written"] == 2 and len(read_dataset(out)) == 48


def test_cli_damaged_manifest_and_out_that_is_a_file(files, capsys):
    out = files / "cli_damaged"
    out.mkdir()
    (out / MANIFEST).write_text('{"format": 1, "ke')
    assert main(_args(files, out)) == 2
    err = _error(capsys)
    assert len(err.splitlines()) == 1 and f"{out / MANIFEST} is not valid JSON" in err
    a_file = files / "a_file"
    a_file.write_text("not a directory")
    assert main(_args(files, a_file)) == 2
    assert f"--out {a_file} is an existing file" in _error(capsys)
    (files / "as_dir.csv").mkdir()
    assert main(_args(files, files / "as_dir.csv")) == 2
    assert "is an existing directory; a .csv output is a file" in _error(capsys)
    data = pd.read_csv(files / "data.csv")
    with pytest.raises(NotADirectoryError, match="is an existing file, not a directory"):
        explain_to_dataset(_api_run(data), data, a_file, budget=20)


@pytest.mark.parametrize(
    ("index", "what"),
    [
        (pd.MultiIndex.from_arrays([np.arange(48) // 2, np.arange(48) % 2]), "MultiIndex"),
        (pd.Index([(i, i) for i in range(48)], tupleize_cols=False), "of type tuple"),
        (pd.Index([i if i % 2 else str(i) for i in range(48)], dtype=object), "mixes labels"),
        (pd.to_timedelta(np.arange(48), unit="s"), "dtype timedelta64"),
        (pd.Index([None] + list(range(47)), dtype=object), "label None of type NoneType"),
    ],
    ids=["multiindex", "tuples", "mixed", "timedelta", "none"],
)
def test_an_index_that_cannot_be_stored_is_refused_before_any_work(files, index, what):
    data = pd.read_csv(files / "data.csv").set_axis(index)
    model = CountingModel()
    explainer = Explainer(model, data.iloc[:8].to_numpy(), method="kernel", seed=0)
    out = files / "never_written"
    with pytest.raises(ValueError, match="reset_index") as info:
        explain_to_dataset(explainer, data, out, budget=20)
    assert what in str(info.value)
    assert model.calls == 0 and not out.exists()


def test_index_labels_are_stored_in_the_row_column(files):
    data = pd.read_csv(files / "data.csv")
    stamps = pd.date_range("2024-01-01", periods=48, freq="h", tz="UTC")
    for labels in ([f"r{i}" for i in range(48)], stamps, np.linspace(0.5, 24, 48)):
        frame = data.set_axis(pd.Index(labels))
        out = files / f"labels_{type(labels[0]).__name__}"
        explain_to_dataset(_api_run(data), frame, out, budget=20, chunk_size=20)
        stored = read_dataset(out)["row"]
        assert list(stored) == list(labels)
        pd.testing.assert_series_equal(pd.read_parquet(out)["row"], stored)


def test_success_only_after_every_part_verifies(files, monkeypatch, capsys):
    real = resumable.write_part

    def write_then_damage(path, frame, key, index):  # a fault after the rename
        real(path, frame, key, index)
        if index == 5:
            path.write_bytes(path.read_bytes()[:300])

    monkeypatch.setattr(resumable, "write_part", write_then_damage)
    out = files / "verified.csv"
    parts = files / "verified.csv.parts"
    assert main(_args(files, out)) == 1
    err = _error(capsys)
    assert f"VerificationError: {parts / 'part-000005.parquet'} did not verify" in err
    assert not out.exists()  # no CSV from an unverified dataset
    assert not (parts / "part-000005.parquet").exists()  # deleted, to be redone
    monkeypatch.setattr(resumable, "write_part", real)
    assert main(_args(files, out)) == 0
    assert "(11 reused from an earlier run), verified ->" in _error(capsys)
    assert not parts.exists()  # the parts go once the CSV is written
    fresh = files / "verified_fresh"
    assert main(_args(files, fresh)) == 0  # the same run as a Parquet dataset
    expected = read_dataset(fresh)
    assert len(expected) == 48
    np.testing.assert_array_equal(pd.read_csv(out).to_numpy(), expected.to_numpy())


def test_remove_run_deletes_only_shapkits_files(files):
    data = pd.read_csv(files / "data.csv")
    out = files / "to_remove"
    explain_to_dataset(_api_run(data), data, out, budget=20, chunk_size=16)
    (out / "notes.txt").write_text("mine")
    assert resumable.remove_run(out) == ["notes.txt"]
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # parts and manifest gone
    (out / "notes.txt").unlink()
    assert resumable.remove_run(out) == [] and not out.exists()


def test_read_dataset_refuses_another_runs_key(files):
    data = pd.read_csv(files / "data.csv")
    out = files / "keyed"
    summary = explain_to_dataset(_api_run(data), data, out, budget=20, chunk_size=16)
    assert len(read_dataset(out, key=summary["key"])) == len(data)
    with pytest.raises(RunMismatchError, match="now holds another run"):
        read_dataset(out, key="0" * 64)


def test_n_jobs_with_an_unpicklable_model_fails_before_any_work(files, capsys):
    data = pd.read_csv(files / "data.csv")
    model = CountingModel()
    model.lock = threading.Lock()
    explainer = Explainer(model, data.iloc[:8], method="kernel", seed=0, n_jobs=2)
    expected = r"n_jobs=2: the model cannot be sent to worker processes \(TypeError: cannot pickle"
    with pytest.raises(UnpicklableModelError, match=expected):
        explainer(data, budget=20)
    out = files / "unpicklable"
    with pytest.raises(TypeError, match=expected):
        explain_to_dataset(explainer, data, out, budget=20, fingerprint={"model": "v1"})
    with pytest.raises(TypeError, match=r"fingerprint=\{'model'"):  # n_jobs=1: no digest
        explain_to_dataset(explainer, data, out, budget=20, n_jobs=1)
    assert model.calls == 0 and not out.exists()
    joblib.dump(LockedModel(), files / "locked.joblib")  # pickles, but not once loaded
    args = _args(files, files / "locked_out")
    args[2] = str(files / "locked.joblib")
    assert main([*args, "--n-jobs", "2"]) == 2
    err = _error(capsys)
    assert len(err.splitlines()) == 1
    assert "--n-jobs 2: the model cannot be sent to worker processes (TypeError" in err
    assert "use --n-jobs 1" in err
    assert main([*args, "--n-jobs", "1"]) == 0


@pytest.mark.slow  # two fresh interpreters: ~3 s
def test_groups_given_as_sets_resume_in_a_new_process(tmp_path):
    """A set's order depends on PYTHONHASHSEED: the run key must not."""
    program = (
        "import sys, numpy as np, pandas as pd, shapkit\n"
        "from shapkit.execution.resumable import explain_to_dataset\n"
        "df = pd.DataFrame(np.random.default_rng(0).normal(size=(6, 6)), columns=list('abcdef'))\n"
        "ex = shapkit.Explainer(lambda Z: Z.to_numpy().sum(axis=1), df, seed=0,\n"
        "                       groups={'g': {'a', 'b', 'c', 'd'}})\n"
        "print(explain_to_dataset(ex, df, sys.argv[1], chunk_size=2)['reused'])\n"
    )
    reused = []
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, PYTHONPATH=str(ROOT))
        result = subprocess.run(
            [sys.executable, "-c", program, str(tmp_path / "run")],
            capture_output=True, text=True, env=env, timeout=120, check=True,
        )  # fmt: skip
        reused.append(int(result.stdout.split()[-1]))
    assert reused == [0, 3]
