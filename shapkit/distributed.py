"""Explaining Dask DataFrames: partitions of rows on Dask workers.

``Explainer(model, background)(ddf)`` (or ``backend="dask"``) returns a lazy Dask
DataFrame with one row per explained row, the index of X, and the columns of
:func:`shapkit.parallel.value_columns`::

    base_value, shap_value:<feature>..., std_error:<feature>..., prediction, n_evals

(``<column>:<output>`` suffixes for multi-output models). Each partition's values are
bit-identical to the local result under the same seed, because each row's random stream
is keyed by its content.

The model, background and estimator (one pickled "plan") go to the workers once: with
a ``distributed.Client`` they are scattered with ``broadcast=True``; without one they are
a single ``dask.delayed`` node that every partition task depends on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


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


def _partition(part: pd.DataFrame, plan: Any) -> pd.DataFrame:
    """Worker side: the flat values table of one partition."""
    from .explainer import explain_rows
    from .parallel import flat_frame

    return flat_frame(explain_rows(plan, part), part.index, plan.player_names)


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
        import dask.dataframe as dd
    except ImportError as error:
        raise ImportError("The Dask backend needs dask: pip install 'shapkit[dask]'.") from error
    from ._validation import check_budget, check_tol
    from .explainer import explain_rows
    from .parallel import flat_frame
    from .tabular import column_names_of

    budget, tol = check_budget(budget), check_tol(tol)
    client = _client(client)
    if not is_dask_frame(X):
        frame = (
            X
            if isinstance(X, pd.DataFrame)
            else pd.DataFrame(
                np.asarray(X), columns=column_names_of(np.asarray(X), explainer.feature_names)
            )
        )
        if npartitions is None:
            workers = len(client.scheduler_info().get("workers", {})) if client else 2
            npartitions = max(1, min(len(frame), 2 * max(workers, 1)))
        X = dd.from_pandas(frame, npartitions=npartitions, sort=False)
    meta_rows = X._meta
    plan = explainer._plan(meta_rows, budget, tol)
    # The output columns: explain one background row here (cheap) to learn the outputs.
    probe = (
        pd.DataFrame(plan.background).iloc[:1]
        if not isinstance(plan.background, pd.DataFrame)
        else plan.background.iloc[:1]
    )
    if not isinstance(plan.background, pd.DataFrame):
        probe = probe.to_numpy()
    meta = flat_frame(explain_rows(plan, probe), pd.RangeIndex(1), plan.player_names).iloc[:0]
    meta.index = meta_rows.index[:0]
    if client is not None:
        shipped = client.scatter(plan, broadcast=True, hash=False)
    else:
        shipped = dask.delayed(plan, pure=True, traverse=False)
    return X.map_partitions(_partition, shipped, meta=meta, align_dataframes=False)
