"""Explaining Dask DataFrames: partitions of rows on Dask workers.

``Explainer(model, background)(ddf)`` (or ``backend="dask"``) returns a lazy Dask
DataFrame with one row per explained row, the index of X, and the columns of
:func:`shapkit.columns.value_columns`::

    base_value, shap_value:<feature>..., std_error:<feature>..., prediction, n_evals

(``<column>:<output>`` suffixes for multi-output models). Each partition's values are
bit-identical to the local result under the same seed, because each row's random stream
is keyed by its content.

The model, background and estimator (one pickled :class:`~shapkit.rows.RowJob`) go to
the workers once: with
a ``distributed.Client`` they are scattered with ``broadcast=True``; without one they are
a single ``dask.delayed`` node that every partition task depends on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_budget, check_tol
from ..columns import flat_frame
from ..rows import RowJob, RowValues, explain_rows
from ..tabular import check_tabular


def is_dask_frame(X: Any) -> bool:
    """Whether X is a ``dask.dataframe.DataFrame`` (without importing dask needlessly)."""
    module = type(X).__module__ or ""
    if not module.startswith("dask"):
        return False
    import dask.dataframe as dd

    return isinstance(X, dd.DataFrame)


def _client(client: Any) -> Any:
    """The given client, else the current ``distributed`` client, else None."""
    if client is not None:
        return client
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:  # no client
        return None


def _partition(part: pd.DataFrame, job: RowJob, array_dtype: Any = None) -> pd.DataFrame:
    """Worker side: the flat values table of one partition. ``array_dtype`` (X was an
    ndarray): the partition's cells go back into an ndarray of X's dtype, so the model
    receives what it receives locally."""
    rows = part if array_dtype is None else part.to_numpy(dtype=array_dtype)
    return _flat(explain_rows(job, rows), job, part.index)


def _flat(rows: RowValues, job: RowJob, index: Any) -> pd.DataFrame:
    return flat_frame(
        rows.values, rows.std_errors, rows.base_values, rows.predictions, rows.n_evals,
        rows.output_names, job.player_names, index,
    )  # fmt: skip


def _array_frame(array: np.ndarray) -> pd.DataFrame:
    """An ndarray as a DataFrame whose columns hold its cells unchanged: numeric columns
    keep the dtype, others are object columns (pandas would infer its str dtype)."""
    numeric = array.dtype.kind in "biufmM"
    return pd.DataFrame(
        {
            j: pd.Series(array[:, j], dtype=array.dtype if numeric else object, copy=False)
            for j in range(array.shape[1])
        }
    )


def _from_pandas(frame: pd.DataFrame, npartitions: int) -> Any:
    """``dd.from_pandas`` keeping the columns' dtypes: Dask would otherwise store object
    columns as pyarrow strings (``dataframe.convert-string``), turning numbers, None and
    pandas' ``str`` columns into other values or dtypes."""
    import dask
    import dask.dataframe as dd

    with dask.config.set({"dataframe.convert-string": False}):
        return dd.from_pandas(frame, npartitions=npartitions, sort=False)


def explain_dask(
    explainer: Any,
    X: Any,
    budget: int | None = None,
    tol: float | None = None,
    client: Any = None,
    npartitions: int | None = None,
) -> Any:
    """Lazy Dask DataFrame of the values of the rows of ``X`` (a Dask DataFrame, or a
    pandas DataFrame / ndarray split into ``npartitions``, default two per worker)."""
    try:
        import dask
        import dask.dataframe  # noqa: F401
    except ImportError as error:
        raise ImportError("The Dask backend needs dask: pip install 'shapkit[dask]'.") from error
    budget, tol = check_budget(budget), check_tol(tol)
    client = _client(client)
    array_dtype = None
    if is_dask_frame(X):
        meta_rows = X._meta
    else:
        X = check_tabular(X, "X")
        if isinstance(X, pd.DataFrame):
            frame = meta_rows = X
        else:  # an ndarray: partitions go back to ndarrays of its dtype on the workers
            frame, meta_rows, array_dtype = _array_frame(X), X, X.dtype
        if npartitions is None:
            workers = len(client.scheduler_info().get("workers", {})) if client else 2
            npartitions = max(1, min(len(frame), 2 * max(workers, 1)))
        X = _from_pandas(frame, npartitions)
    job = explainer.row_job(meta_rows[:0], budget=budget, tol=tol)
    # The output columns: explain one background row here (cheap) to learn the outputs
    # (path-dependent TreeSHAP has no background rows: its closed form learns them from 0)
    background = job.background
    probe = background.iloc[:1] if isinstance(background, pd.DataFrame) else background[:1]
    meta = _flat(explain_rows(job, probe), job, pd.RangeIndex(len(probe))).iloc[:0]
    meta.index = X._meta.index[:0]
    if client is not None:
        shipped = client.scatter(job, broadcast=True, hash=False)
    else:
        shipped = dask.delayed(job, pure=True, traverse=False)
    return X.map_partitions(_partition, shipped, array_dtype, meta=meta, align_dataframes=False)
