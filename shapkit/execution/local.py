"""Local execution: the rows of a :class:`~shapkit.rows.RowJob` in this process or on
joblib/loky worker processes (``n_jobs``), with a progress bar.

Each row's values depend only on the row and the seed (its random stream is keyed by the
row's content, see :func:`shapkit.rows.row_streams`), so splitting the rows into
chunks and tasks and explaining them in any order on any worker gives bit-identical
values.

The job (model, background, estimator) is pickled once in the parent and unpickled
once per worker process; each task carries its rows and the pickled bytes, which the
worker recognises by their digest and does not unpickle again. Numba kernels are compiled
with ``cache=True``, so workers load them from the on-disk cache instead of compiling
again.

Tasks are sized by time: one row for each worker's first task, then about
``TASK_SECONDS`` of work once the rows' speed is known (at most a quarter of a worker's
share of the rows), so a slow model moves the progress bar within seconds and a fast one
runs in a few large tasks.

Workers never outlive the run: each one ignores Ctrl-C (the parent handles it and stops
them) and exits within ``WATCHDOG_INTERVAL`` seconds once its parent process is gone
(a watchdog thread compares ``os.getppid()`` with the parent it started under; POSIX).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Generator, Iterator
from typing import Any

import numpy as np
import pandas as pd

from ..rows import RowJob, RowValues, explain_rows
from .progress import progress_bar, progress_enabled

#: Tasks per worker at most, for load balance: no task holds more than
#: ``ceil(rows / (workers * CHUNKS_PER_WORKER))`` rows.
CHUNKS_PER_WORKER = 4
#: Rows per chunk of a sequential run with a progress bar (the closed-form paths, which
#: explain a chunk at once, move the bar once per chunk).
SEQUENTIAL_CHUNK = 256
#: Seconds of work a parallel task aims at once the speed of the rows is known.
TASK_SECONDS = 1.0
#: Each task carries the pickled recipe: tasks last at least ``len(payload) /
#: PAYLOAD_BYTES_PER_SECOND`` seconds, so shipping it costs a few percent at most.
PAYLOAD_BYTES_PER_SECOND = 20e6
#: Seconds between a worker's checks that its parent process is still alive.
WATCHDOG_INTERVAL = 0.25


class UnpicklableModelError(TypeError):
    """``n_jobs > 1`` but the model (with the background and settings) cannot be pickled
    to be sent to worker processes. ``n_jobs`` and ``reason`` (the pickling error) are
    attributes."""

    def __init__(self, n_jobs: Any, reason: str) -> None:
        self.n_jobs = n_jobs
        self.reason = reason
        super().__init__(
            f"n_jobs={n_jobs}: the model cannot be sent to worker processes ({reason}); "
            "use n_jobs=1, or a model that pickles (defined at module level, holding no "
            "open files, locks or connections)."
        )

    def __reduce__(self) -> tuple:
        return type(self), (self.n_jobs, self.reason)


class WorkerLoadError(RuntimeError):
    """A worker process could not unpickle the model the parent sent it."""


def resolve_n_jobs(n_jobs: int | None) -> int:
    """Worker count: None -> 1, -1 -> every core, -2 -> all but one, ..."""
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise ValueError(
            f"n_jobs must be a non-zero integer (or -1 for every core); got {n_jobs!r}."
        )
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + int(n_jobs))
    return int(n_jobs)


def chunk_bounds(n_rows: int, chunk_size: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(n_rows)`` in chunks of ``chunk_size``."""
    return [(start, min(start + chunk_size, n_rows)) for start in range(0, n_rows, chunk_size)]


def default_chunk_size(n_rows: int, n_jobs: int, progress: bool) -> int:
    """Rows per chunk: all rows in one go for a quiet sequential run, at most
    ``SEQUENTIAL_CHUNK`` with a bar; for ``n_jobs > 1`` the largest task (a few per
    worker)."""
    if n_jobs == 1:
        return min(n_rows, SEQUENTIAL_CHUNK) if progress else max(n_rows, 1)
    size = -(-n_rows // (n_jobs * CHUNKS_PER_WORKER))
    if progress:
        size = min(size, SEQUENTIAL_CHUNK)
    return max(size, 1)


def take_rows(X: np.ndarray | pd.DataFrame, start: int, stop: int) -> np.ndarray | pd.DataFrame:
    """Rows ``start:stop`` of X by position."""
    return X.iloc[start:stop] if isinstance(X, pd.DataFrame) else X[start:stop]


def ship_job(job: RowJob, n_jobs: int | None) -> bytes | None:
    """The pickled job for worker processes, or None when ``n_jobs`` resolves to 1.

    Raises :class:`UnpicklableModelError` (a ``TypeError``) naming ``n_jobs`` when the
    job cannot be pickled, before any work is done."""
    if resolve_n_jobs(n_jobs) == 1:
        return None
    try:
        return dumps(job)
    except Exception as error:  # noqa: BLE001 - pickling fails in many ways
        detail = " ".join(str(error).split())
        raise UnpicklableModelError(n_jobs, f"{type(error).__name__}: {detail}") from error


_WORKER_JOB: dict[str, Any] = {}
_WATCHDOG: list[threading.Thread] = []


def _init_worker() -> None:
    """Runs once in each worker process, before its first task: ignore Ctrl-C (the
    parent gets it too and stops the workers) and start the parent watchdog."""
    with contextlib.suppress(ValueError, OSError, AttributeError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    start_watchdog()


def start_watchdog(interval: float = WATCHDOG_INTERVAL) -> None:
    """Start (once per process) a daemon thread that ends this process with
    ``os._exit(1)`` as soon as its parent process is gone (``os.getppid()`` changes:
    the orphan is adopted by another process). No-op on Windows, where the parent id
    does not change."""
    if _WATCHDOG or os.name == "nt":
        return
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    thread = threading.Thread(target=watch, name="shapkit-parent-watchdog", daemon=True)
    thread.start()
    _WATCHDOG.append(thread)


def _worker_job(payload: bytes, digest: str) -> Any:
    """The unpickled job of ``digest`` (unpickled once per worker process)."""
    job = _WORKER_JOB.get(digest)
    if job is None:
        import pickle

        try:
            job = pickle.loads(payload)  # cloudpickle output loads with plain pickle
        except Exception as error:  # noqa: BLE001
            detail = " ".join(str(error).split())
            raise WorkerLoadError(
                f"a worker process could not load the model ({type(error).__name__}: "
                f"{detail}); use n_jobs=1, or a model importable in a fresh Python process."
            ) from None
        _WORKER_JOB.clear()
        _WORKER_JOB[digest] = job
    return job


def _explain_task(
    payload: bytes, digest: str, index: int, start: int, X: Any
) -> tuple[int, int, RowValues, float]:
    """Worker side: explain one task's rows; returns the chunk index, the first row, the
    values and the seconds it took."""
    job = _worker_job(payload, digest)
    began = time.perf_counter()
    result = explain_rows(job, X)
    return index, start, result, time.perf_counter() - began


class TaskSizer:
    """Rows per parallel task: about ``seconds`` of work once a task has reported its
    speed, at most ``limit`` rows. Until then, one row for each of the first
    ``workers`` tasks (the first progress comes after one row), then 2, 4, 8, ... rows
    (tasks handed out before the first report arrives stay few).

    Speed-ups are trusted at once (the first task of a worker also pays its start-up and
    a one-row task its fixed costs), slow-downs are averaged in."""

    def __init__(self, limit: int, seconds: float, workers: int = 1) -> None:
        self.limit = max(int(limit), 1)
        self.seconds = seconds
        self.workers = workers
        self.handed = 0
        self.row_seconds: float | None = None

    def record(self, n_rows: int, seconds: float) -> None:
        if n_rows <= 0:
            return
        per_row = max(seconds, 0.0) / n_rows
        if self.row_seconds is None or per_row < self.row_seconds:
            self.row_seconds = per_row
        else:
            self.row_seconds = 0.5 * (self.row_seconds + per_row)

    def size(self) -> int:
        if self.row_seconds is None:
            self.handed += 1
            extra = self.handed - self.workers
            return 1 if extra <= 0 else min(self.limit, 2 ** min(extra, 62))
        if self.row_seconds <= 0.0:
            return self.limit
        return max(1, min(self.limit, int(self.seconds / self.row_seconds)))


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes may be started: they inherit the ignored
    disposition from birth, so a terminal's Ctrl-C (sent to the whole process group)
    reaches only this process, which stops them. Only in the main thread; a Ctrl-C in
    this short window is lost (press it again)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def iter_chunks(
    job: RowJob,
    X: np.ndarray | pd.DataFrame,
    bounds: list[tuple[int, int]],
    n_jobs: int | None = 1,
    *,
    on_rows: Callable[[int], None] | None = None,
    payload: bytes | None = None,
) -> Generator[tuple[int, RowValues], None, None]:
    """``(chunk index, its values)`` for each chunk of ``bounds`` as it
    finishes: in order in this process, in any order on ``n_jobs`` worker processes
    (chunks split into tasks sized by time). ``on_rows(n)`` is called as rows finish
    (per row in this process, per task in parallel). ``payload``: the job already
    pickled by :func:`ship_job`.

    Close the iterator (``contextlib.closing``) when stopping early: that stops the
    workers."""
    total = sum(stop - start for start, stop in bounds)
    workers = min(resolve_n_jobs(n_jobs), max(total, 1))
    for index, (start, stop) in enumerate(bounds):
        if workers == 1 or stop == start:  # empty chunks need no worker
            yield index, _explain_counted(job, take_rows(X, start, stop), on_rows)
    if workers == 1:
        return
    if payload is None:
        payload = ship_job(job, n_jobs)
    assert payload is not None  # n_jobs resolves to workers > 1 or more: a pickled job
    busy = [(i, bound) for i, bound in enumerate(bounds) if bound[1] > bound[0]]
    yield from _parallel_chunks(payload, X, busy, workers, on_rows)


def _explain_counted(job: RowJob, X: Any, on_rows: Callable[[int], None] | None) -> RowValues:
    """:func:`explain_rows` with ``on_rows`` called for every row (the closed-form paths,
    which do all rows at once, report them at the end)."""
    if on_rows is None:
        return explain_rows(job, X)
    counted = 0

    def count(n: int) -> None:
        nonlocal counted
        counted += n
        on_rows(n)

    result = explain_rows(job, X, on_rows=count)
    if X.shape[0] > counted:
        on_rows(X.shape[0] - counted)
    return result


def _parallel_chunks(
    payload: bytes,
    X: Any,
    bounds: list[tuple[int, tuple[int, int]]],
    workers: int,
    on_rows: Callable[[int], None] | None,
) -> Iterator[tuple[int, RowValues]]:
    """The parallel side of :func:`iter_chunks` (``bounds``: ``(chunk index, (start,
    stop))`` of non-empty chunks)."""
    from joblib import Parallel, delayed, parallel_config

    digest = hashlib.sha256(payload).hexdigest()
    total = sum(stop - start for _, (start, stop) in bounds)
    sizer = TaskSizer(
        limit=default_chunk_size(total, workers, False),
        seconds=max(TASK_SECONDS, len(payload) / PAYLOAD_BYTES_PER_SECOND),
        workers=workers,
    )
    left = {index: stop - start for index, (start, stop) in bounds}
    pieces: dict[int, list[tuple[int, RowValues]]] = {index: [] for index in left}

    def tasks() -> Iterator[Any]:
        for index, (start, stop) in bounds:
            position = start
            while position < stop:
                end = min(stop, position + sizer.size())
                rows = take_rows(X, position, end)
                yield delayed(_explain_task)(payload, digest, index, position, rows)
                position = end

    with parallel_config(backend="loky", initializer=_init_worker):
        parallel = Parallel(
            n_jobs=workers,
            return_as="generator_unordered",
            batch_size=1,  # tasks are sized here, by time
            max_nbytes=None,  # tasks are small; no memmapping round trip
        )
    results = None
    try:
        with sigint_ignored():
            results = parallel(tasks())
        for index, start, result, seconds in results:
            n = len(result)
            sizer.record(n, seconds)
            if on_rows is not None:
                on_rows(n)
            pieces[index].append((start, result))
            left[index] -= n
            if left[index] == 0:
                parts = sorted(pieces.pop(index), key=lambda piece: piece[0])
                yield index, RowValues.concat([part for _, part in parts])
    finally:
        if results is not None:
            with warnings.catch_warnings():  # joblib warns about the cancelled tasks
                warnings.simplefilter("ignore")
                results.close()  # stops (kills) the workers when the run stops early


def dumps(obj: Any) -> bytes:
    """Pickle with cloudpickle (lambdas, local classes) where installed (joblib >= 1.5
    depends on it), else plain pickle."""
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover
        import pickle

        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return cloudpickle.dumps(obj)


def run(
    job: RowJob,
    X: np.ndarray | pd.DataFrame,
    *,
    n_jobs: int | None = 1,
    progress: bool | None = None,
    chunk_size: int | None = None,
    rows_done: int = 0,
    payload: bytes | None = None,
) -> RowValues:
    """The values of every row of X, explained in this process (in chunks of
    ``chunk_size`` rows) or on ``n_jobs`` worker processes, with an optional progress bar
    that moves per row (sequential) or per task (parallel). ``rows_done``: rows of the
    same call explained before X, which the bar counts as done. ``payload``: the job
    already pickled by :func:`ship_job`.

    Raises :class:`UnpicklableModelError` before any work when ``n_jobs > 1`` and the
    model cannot be pickled."""
    n_rows = X.shape[0]
    workers = resolve_n_jobs(n_jobs)
    if payload is None:
        payload = ship_job(job, n_jobs)
    show = progress_enabled(progress) and n_rows + rows_done > 1
    if chunk_size is None:
        chunk_size = default_chunk_size(n_rows, 1, show) if workers == 1 else max(n_rows, 1)
    bounds = chunk_bounds(n_rows, chunk_size) or [(0, 0)]
    results: list[Any] = [None] * len(bounds)
    with progress_bar(n_rows + rows_done, progress if show else False, initial=rows_done) as bar:
        chunks = iter_chunks(
            job, X, bounds, workers, on_rows=bar.update if show else None, payload=payload
        )
        with contextlib.closing(chunks):
            for index, result in chunks:
                results[index] = result
    return RowValues.concat(results)
