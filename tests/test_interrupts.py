"""Nothing outlives a run: the real command line in a subprocess, killed or interrupted
at marked moments (the test models mark them, see ``tests/_runs_models.py``)."""

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
from _runs_models import MarkedModel

try:
    import psutil
except ImportError:  # read /proc instead
    psutil = None

pytest.importorskip("pyarrow")
pytestmark = pytest.mark.skipif(
    os.name != "posix" or (psutil is None and not Path("/proc/self/stat").exists()),
    reason="POSIX signals and sessions, and psutil or /proc to find the workers",
)

ROOT = Path(__file__).resolve().parents[1]
#: Generous: the processes start slowly on a loaded machine; only the clean-up bounds
#: below are part of the promise.
MARKER_TIMEOUT = 120.0
WORKERS_GONE_WITHIN = 10.0


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    path = tmp_path_factory.mktemp("interrupts")
    rng = np.random.default_rng(0)
    data = pd.DataFrame(rng.normal(size=(24, 4)), columns=["a", "b", "c", "d"])
    data.to_csv(path / "data.csv", index=False)
    data.assign(target=rng.normal(size=24)).to_csv(path / "labelled.csv", index=False)
    joblib.dump(MarkedModel(), path / "model.joblib")
    return path


def _explain(files, out, *extra):
    return [
        "explain", "--model", str(files / "model.joblib"), "--data", str(files / "data.csv"),
        "--method", "kernel", "--budget", "20", "--chunk-size", "4", "--background-size", "8",
        "--out", str(out), *extra,
    ]  # fmt: skip


def _start(tmp_path, args, prefix=("-m", "shapkit.cli"), **env):
    """The command in a new session (its own process group, as in a terminal), with the
    markers directory set; returns the process and the markers directory."""
    markers = tmp_path / "markers"
    markers.mkdir(exist_ok=True)
    environment = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
        PYTHONUNBUFFERED="1",
        SHAPKIT_TEST_MARKERS=str(markers),
        SHAPKIT_TEST_PARENT=str(os.getpid()),
        **env,
    )
    environment.pop("SHAPKIT_TRACEBACK", None)
    process = subprocess.Popen(
        [sys.executable, *prefix, *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    return process, markers


def _wait_for(process, condition, what):
    deadline = time.monotonic() + MARKER_TIMEOUT
    while not condition():
        if process.poll() is not None:
            out, err = process.communicate(timeout=30)
            pytest.fail(f"the process ended before {what}: {err.decode()}{out.decode()}")
        assert time.monotonic() < deadline, f"no {what} within {MARKER_TIMEOUT} s"
        time.sleep(0.02)


def _marked(markers, moment, count=1):
    return lambda: len(list(markers.glob(f"{moment}-*"))) >= count


def _proc_stat(pid):
    """``(state, parent pid)`` from /proc, None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def _descendants(pid):
    """The pids of every process below ``pid``."""
    if psutil is not None:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(entry.name)) is not None:
            parents[int(entry.name)] = stat[1]
    found, frontier = [], [pid]
    while frontier:
        below = [p for p, parent in parents.items() if parent in frontier]
        found += below
        frontier = below
    return found


def _alive(pid):
    if psutil is not None:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False
    stat = _proc_stat(pid)
    return stat is not None and stat[0] != "Z"


def _assert_gone(pids):
    deadline = time.monotonic() + WORKERS_GONE_WITHIN
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in pids if _alive(pid)]
    for pid in left:  # do not leave them behind if the assertion fails
        os.kill(pid, signal.SIGKILL)
    assert not left, f"still running {WORKERS_GONE_WITHIN} s later: {left}"


def _interrupt(process, children=()):
    """Ctrl-C as a terminal sends it: SIGINT to the whole process group. Returns the exit
    code and stderr, once ``children`` are gone (they hold the pipes)."""
    os.killpg(process.pid, signal.SIGINT)
    rc = process.wait(timeout=60)
    _assert_gone(children)
    err = process.stderr.read().decode()
    process.stdout.close()
    process.stderr.close()
    return rc, err


def _assert_one_line_interrupt(rc, err, command):
    assert rc == 130, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    expected = f"shapkit {command}: interrupted"
    assert lines[-1].startswith(expected), err
    assert all(line.startswith("shapkit: note: ") for line in lines[:-1]), err


@pytest.fixture(scope="module")
def parallel_runs(files, tmp_path_factory):
    """Two ``--n-jobs 2`` runs started together (their start-ups overlap), one for each
    test below; whatever a failed test leaves is killed at the end."""
    runs = {}
    for name in ("sigkill", "sigint"):
        path = tmp_path_factory.mktemp(name)
        runs[name] = (*_start(path, _explain(files, path / "out", "--n-jobs", "2")), path)
    yield runs
    for process, _, _ in runs.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        process.stdout.close()
        process.stderr.close()


@pytest.mark.slow  # two --n-jobs 2 runs in fresh interpreters
def test_sigkill_of_the_parent_ends_every_worker(parallel_runs):
    process, markers, _ = parallel_runs["sigkill"]
    try:
        _wait_for(process, _marked(markers, "call", 2), "two busy workers")
        children = _descendants(process.pid)
        workers = {int(path.name.split("-")[1]) for path in markers.glob("call-*")}
        assert workers <= set(children)
    finally:
        process.kill()
        process.wait()
    _assert_gone(children)  # the workers were in a 60 s call when their parent died


@pytest.mark.parametrize(
    ("moment", "env"),
    [
        ("import", {"SHAPKIT_TEST_SLOW_IMPORT": "1"}),  # the model's module is imported
        ("load", {"SHAPKIT_TEST_SLOW_LOAD": "1"}),  # the model is unpickled
    ],
)
def test_ctrl_c_while_loading_the_model(files, tmp_path, moment, env):
    process, markers = _start(tmp_path, _explain(files, tmp_path / "out"), **env)
    _wait_for(process, _marked(markers, moment), f"the {moment} marker")
    rc, err = _interrupt(process)
    _assert_one_line_interrupt(rc, err, "explain")


@pytest.mark.slow  # two --n-jobs 2 runs in fresh interpreters
def test_ctrl_c_while_workers_compute(parallel_runs):
    process, markers, path = parallel_runs["sigint"]
    _wait_for(process, _marked(markers, "call", 2), "two busy workers")
    children = _descendants(process.pid)
    assert len(children) >= 2
    rc, err = _interrupt(process, children)
    _assert_one_line_interrupt(rc, err, "explain")
    assert "rerun the same command to resume" in err
    assert not (path / "out" / "_shapkit.lock").exists()  # released on the way out


@pytest.mark.slow  # a real subprocess, ~2.5 s
def test_ctrl_c_while_writing_a_part(files, tmp_path):
    """SIGINT lands between writing a part's bytes and renaming it into place."""
    out = tmp_path / "out"
    program = (
        "import sys, time\n"
        "import pyarrow.parquet as pq\n"
        "from _runs_models import mark\n"
        "real = pq.write_table\n"
        "def write_table(*args, **kwargs):\n"
        "    real(*args, **kwargs)\n"
        "    mark('write')\n"
        "    time.sleep(60)\n"
        "pq.write_table = write_table\n"
        "from shapkit.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    process, markers = _start(tmp_path, _explain(files, out), prefix=("-c", program))
    _wait_for(process, _marked(markers, "write"), "the write marker")
    assert list(out.glob(".part-*.tmp-*")), "not in the middle of writing a part"
    rc, err = _interrupt(process)
    _assert_one_line_interrupt(rc, err, "explain")
    assert not list(out.glob(".part-*.tmp-*"))  # the temporary was removed
    assert not list(out.glob("part-*.parquet"))
    assert not (out / "_shapkit.lock").exists()


@pytest.mark.slow  # two fresh interpreters
def test_ctrl_c_in_select_and_demo(files, tmp_path):
    select = [
        "select", "--model", str(files / "model.joblib"), "--data",
        str(files / "labelled.csv"), "--target", "target",
    ]  # fmt: skip
    process, markers = _start(tmp_path, select, SHAPKIT_TEST_SLOW_LOAD="1")
    _wait_for(process, _marked(markers, "load"), "the load marker")
    rc, err = _interrupt(process)
    _assert_one_line_interrupt(rc, err, "select")

    process, _ = _start(tmp_path, ["demo", "--rows", "171", "--out", str(tmp_path / "demo")])
    stdout = []

    def explaining():  # the demo prints its players line just before explaining
        stdout.append(process.stdout.readline().decode())
        return stdout[-1].startswith("Players:")

    _wait_for(process, explaining, "the demo's players line")
    rc, err = _interrupt(process)
    _assert_one_line_interrupt(rc, err, "demo")
    assert not (tmp_path / "demo" / "values.csv").exists()


def test_ctrl_c_while_the_console_script_starts():
    """The console script arms its handler in its first statement: a Ctrl-C before
    shapkit.cli.main takes over is one line and exit code 130, no traceback."""
    program = (
        "import os, signal, time\n"
        "import shapkit._console\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "time.sleep(30)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 130
    assert result.stderr.strip() == "shapkit: interrupted."


def test_python_dash_m_shapkit_runs_the_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "shapkit", "--version"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0 and result.stdout.startswith("shapkit ")


def test_ctrl_c_swallowed_by_a_c_callback_is_raised_again():
    """A KeyboardInterrupt raised inside a ctypes callback (where Numba's compiler calls
    back into Python) is printed as "Exception ignored" and lost; under the command
    line's guard it reaches the code after the callback, and the previous hook is back
    afterwards."""
    import ctypes

    from shapkit.cli import interrupts_not_swallowed

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("needs Python's own SIGINT handler")

    def callback():
        raise KeyboardInterrupt

    call = ctypes.CFUNCTYPE(None)(callback)
    before = sys.unraisablehook
    with pytest.raises(KeyboardInterrupt):
        with interrupts_not_swallowed():
            call()
            deadline = time.monotonic() + 30.0  # the signal comes 50 ms later
            while time.monotonic() < deadline:
                time.sleep(0.01)
    assert sys.unraisablehook is before
