"""Parallel explanation over chunks of rows (joblib / loky worker processes).

Each row's values depend only on the row and the seed (its random stream is keyed by the
row's content, see :func:`shapkit.explainer.row_streams`), so splitting the rows into
chunks and explaining them in any order on any worker gives bit-identical values.

The recipe (model, background, estimator) is pickled once in the parent and unpickled
once per worker process; each task then carries only its chunk of rows (and the
pickled bytes, which the worker recognises by their digest and does not unpickle again).
Numba kernels are compiled with ``cache=True``, so workers load them from the on-disk
cache instead of compiling again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

#: Chunks per worker when the caller does not choose a chunk size: a few, for load
#: balance and a moving progress bar, few enough that per-task overhead is negligible.
CHUNKS_PER_WORKER = 4
#: Rows per chunk for the progress bar of a run in this process.
SEQUENTIAL_CHUNK = 256


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
    """Rows per chunk: all rows in one go for a quiet sequential run, else a few chunks
    per worker (at most ``SEQUENTIAL_CHUNK`` rows each when a bar is drawn)."""
    if n_jobs == 1:
        return min(n_rows, SEQUENTIAL_CHUNK) if progress else max(n_rows, 1)
    size = -(-n_rows // (n_jobs * CHUNKS_PER_WORKER))
    if progress:
        size = min(size, SEQUENTIAL_CHUNK)
    return max(size, 1)


def take_rows(X: np.ndarray | pd.DataFrame, start: int, stop: int) -> np.ndarray | pd.DataFrame:
    """Rows ``start:stop`` of X by position."""
    return X.iloc[start:stop] if isinstance(X, pd.DataFrame) else X[start:stop]


_WORKER_PLAN: dict[str, Any] = {}


def _explain_chunk(payload: bytes, digest: str, index: int, X: Any) -> tuple[int, tuple]:
    """Worker side: unpickle the plan once per process, explain one chunk."""
    from .explainer import explain_rows

    plan = _WORKER_PLAN.get(digest)
    if plan is None:
        import pickle

        plan = pickle.loads(payload)  # cloudpickle output loads with plain pickle
        _WORKER_PLAN.clear()
        _WORKER_PLAN[digest] = plan
    return index, explain_rows(plan, X)


def iter_chunks(
    plan: Any,
    X: np.ndarray | pd.DataFrame,
    bounds: list[tuple[int, int]],
    n_jobs: int | None = 1,
    ordered: bool = True,
) -> Iterator[tuple[int, tuple]]:
    """``(chunk index, explain_rows result)`` for each ``bounds`` chunk, as they finish
    (in chunk order when ``ordered``)."""
    from .explainer import explain_rows

    workers = min(resolve_n_jobs(n_jobs), max(len(bounds), 1))
    if workers == 1:
        for index, (start, stop) in enumerate(bounds):
            yield index, explain_rows(plan, take_rows(X, start, stop))
        return
    from joblib import Parallel, delayed

    payload = _dumps(plan)
    digest = hashlib.sha256(payload).hexdigest()
    parallel = Parallel(
        n_jobs=workers,
        backend="loky",
        return_as="generator" if ordered else "generator_unordered",
        max_nbytes=None,  # the chunks are small; no memmapping round trip
    )
    yield from parallel(
        delayed(_explain_chunk)(payload, digest, index, take_rows(X, start, stop))
        for index, (start, stop) in enumerate(bounds)
    )


def _dumps(obj: Any) -> bytes:
    """Pickle with cloudpickle (lambdas, local classes) where installed (joblib >= 1.5
    depends on it), else plain pickle."""
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover
        import pickle

        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return cloudpickle.dumps(obj)


def stack_results(results: list[tuple]) -> tuple:
    """Concatenate per-chunk ``explain_rows`` results in order."""
    if len(results) == 1:  # one chunk: no copy
        return results[0]
    arrays = tuple(np.concatenate([r[i] for r in results]) for i in range(5))
    names = next((r[5] for r in results if len(r[5])), results[0][5])
    return (*arrays, names)


def explain_chunks(
    plan: Any,
    X: np.ndarray | pd.DataFrame,
    n_jobs: int | None = 1,
    progress: bool | None = None,
    chunk_size: int | None = None,
) -> tuple:
    """The stacked ``explain_rows`` result for all rows of X, explained in chunks on
    ``n_jobs`` processes with an optional progress bar."""
    from .progress import progress_bar, progress_enabled

    n_rows = X.shape[0]
    workers = resolve_n_jobs(n_jobs)
    show = progress_enabled(progress) and n_rows > 1
    size = chunk_size or default_chunk_size(n_rows, workers, show)
    bounds = chunk_bounds(n_rows, size) or [(0, 0)]
    results: list[tuple] = []
    with progress_bar(n_rows, progress if show else False) as bar:
        for index, result in iter_chunks(plan, X, bounds, workers):
            results.append(result)
            start, stop = bounds[index]
            bar.update(stop - start)
    return stack_results(results)


def value_columns(player_names: list[Any], output_names: list[Any], n_outputs: int) -> list[str]:
    """Column names of the flat (one row per explained row) table of values.

    One output: ``base_value``, ``shap_value:<feature>`` ..., ``std_error:<feature>`` ...,
    ``prediction``, ``n_evals``. Several outputs: ``base_value:<output>``,
    ``shap_value:<feature>:<output>`` (feature-major), ``std_error:<feature>:<output>``,
    ``prediction:<output>``, ``n_evals``.
    """
    if n_outputs == 1:
        outs = [""]
    else:
        names = list(output_names) if len(output_names) == n_outputs else range(n_outputs)
        outs = [f":{o}" for o in names]
    columns = [f"base_value{o}" for o in outs]
    columns += [f"shap_value:{p}{o}" for p in player_names for o in outs]
    columns += [f"std_error:{p}{o}" for p in player_names for o in outs]
    columns += [f"prediction{o}" for o in outs]
    return [*columns, "n_evals"]


def flat_frame(result: tuple, index: Any, player_names: list[Any]) -> pd.DataFrame:
    """The flat table (see :func:`value_columns`) of an ``explain_rows`` result."""
    values, errors, base, full, n_evals, output_names = result
    n, d = values.shape[:2]
    k = values.shape[2] if values.ndim == 3 else 1
    numbers = np.column_stack(
        [base.reshape(n, k), values.reshape(n, d * k), errors.reshape(n, d * k), full.reshape(n, k)]
    )
    columns = value_columns(player_names, output_names, k)
    frame = pd.DataFrame(numbers, index=index, columns=columns[:-1])
    frame["n_evals"] = np.asarray(n_evals, dtype=np.int64)
    return frame


def explanation_frame(expl: Any) -> pd.DataFrame:
    """The flat table of an :class:`~shapkit.Explanation` (same columns as the Dask and
    command-line outputs)."""
    result = (
        expl.values,
        expl.std_errors,
        expl.base_values,
        expl.predictions,
        expl.n_evals,
        list(expl.output_names),
    )
    return flat_frame(result, expl.data.index, list(expl.feature_names))
