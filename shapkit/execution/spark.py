"""Explaining Spark DataFrames: Arrow batches of rows on Spark executors (``mapInPandas``).

``Explainer(model, background)(spark_df)`` or :func:`explain_spark` returns a lazy Spark
DataFrame with one row per explained row and the columns of the Dask and command-line
outputs (:func:`shapkit.columns.value_columns`)::

    row, base_value, shap_value:<feature>..., std_error:<feature>..., prediction, n_evals

``row`` is the row key: the ``key`` column(s) of the input when given, else Spark's
``monotonically_increasing_id()`` of the input row (unique, not consecutive; stable for
the same input and partitioning). With several outputs the value columns get
``:<output>`` suffixes. Each row's values are bit-identical to a local run under the same
seed, whatever the partitioning: each row's random stream is keyed by its content, and
every batch is cast to the background's dtypes before it is explained.

The job (model, background, estimator) is pickled once on the driver and shipped as one
Spark broadcast variable, so it crosses to each executor once, and is unpickled once per
Python worker process; never per row or batch. Problems that a job would otherwise find
on an executor (missing or extra columns, dtypes that differ from the background's, a
model that cannot be pickled) raise on the driver before the job is planned.

``Spark retries failed tasks``: a retried task recomputes the same values, and rerunning a
job reproduces them, so ``result.write.parquet(path)`` after a failure is resumed by
rerunning it (``mode("overwrite")``), see docs/scale.md.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_budget, check_tol
from ..columns import flat_frame
from ..rows import RowJob, RowValues, explain_rows
from .local import dumps

#: The row-key column when no ``key`` is given.
ROW = "row"

_WORKER_JOB: dict[str, RowJob] = {}


class UnpicklableSparkModelError(TypeError):
    """The model (with the background and settings) cannot be pickled to be shipped to
    the Spark executors; raised on the driver before the job is planned."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"the model cannot be shipped to the Spark executors ({reason}): use a model "
            "that pickles (defined at module level or importable on the executors, holding "
            "no open files, locks or connections)."
        )

    def __reduce__(self) -> tuple:
        return type(self), (self.reason,)


def is_spark_frame(X: Any) -> bool:
    """Whether X is a Spark DataFrame (classic or Spark Connect), without importing
    pyspark needlessly."""
    module = type(X).__module__ or ""
    return module.startswith("pyspark.sql") and type(X).__name__ == "DataFrame"


def explain_spark(
    explainer: Any,
    sdf: Any,
    *,
    budget: int | None = None,
    tol: float | None = None,
    key: str | Sequence[str] | None = None,
) -> Any:
    """A lazy Spark DataFrame of the values of the rows of ``sdf`` (see the module
    docstring for its columns).

    Parameters
    ----------
    explainer : Explainer
        Its background names the feature columns and their dtypes.
    sdf : pyspark.sql.DataFrame
        The feature columns, and the ``key`` columns if any; nothing else.
    budget, tol
        As for ``Explainer.__call__``.
    key : str or list of str, optional
        Columns of ``sdf`` to carry into the output as the row key (not features).

    Raises
    ------
    ImportError
        pyspark is not installed (``pip install 'shapkit[spark]'``).
    ValueError
        Missing or extra columns, or dtypes that differ from the background's (with the
        Spark cast that fixes them); a key column that is also a feature.
    UnpicklableSparkModelError
        The model cannot be pickled to be shipped to the executors (a ``TypeError``).

    Examples
    --------
    >>> import numpy as np, pandas as pd, shapkit                      # doctest: +SKIP
    >>> from pyspark.sql import SparkSession                           # doctest: +SKIP
    >>> spark = SparkSession.builder.master("local[2]").getOrCreate()  # doctest: +SKIP
    >>> X = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})           # doctest: +SKIP
    >>> out = explain_spark(shapkit.Explainer(lambda Z: Z["a"] * Z["b"], X, seed=0),
    ...                     spark.createDataFrame(X))                  # doctest: +SKIP
    >>> out.columns[:3]                                                # doctest: +SKIP
    ['row', 'base_value', 'shap_value:a']
    """
    try:
        from pyspark.sql import functions
    except ImportError as error:
        raise ImportError(
            "Explaining a Spark DataFrame needs pyspark: pip install 'shapkit[spark]'."
        ) from error
    budget, tol = check_budget(budget), check_tol(tol)
    keys = [] if key is None else [key] if isinstance(key, str) else list(key)
    features = _feature_columns(explainer)
    _check_columns(sdf, features, keys)
    if not keys:
        sdf = sdf.withColumn(ROW, functions.monotonically_increasing_id())
        keys = [ROW]
    template = sdf.select(*features).limit(0).toPandas()
    try:
        job = explainer.row_job(template, budget=budget, tol=tol)
    except ValueError as error:
        raise ValueError(
            f"{error} In Spark, cast the columns of the DataFrame, e.g. "
            "sdf.withColumn(name, sdf[name].cast('double')), so that they arrive as the "
            "background's dtypes."
        ) from error
    try:
        payload = dumps(job)
    except Exception as error:  # noqa: BLE001 - pickling fails in many ways
        detail = " ".join(str(error).split())
        raise UnpicklableSparkModelError(f"{type(error).__name__}: {detail}") from error
    digest = hashlib.sha256(payload).hexdigest()
    shipped = sdf.sparkSession.sparkContext.broadcast(payload)
    probe = explain_rows(job, _first_row(job.background))
    schema = _schema(sdf, keys, job, probe)
    dtypes = {str(c): t for c, t in template.dtypes.items()}
    names = list(schema.fieldNames())

    def explain_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        worker_job = _worker_job(shipped, digest)
        for batch in batches:
            rows = batch[features].astype(dtypes)
            values = explain_rows(worker_job, rows)
            frame = flat_frame(
                values.values, values.std_errors, values.base_values, values.predictions,
                values.n_evals, values.output_names, worker_job.player_names,
                pd.RangeIndex(len(batch)),
            )  # fmt: skip
            for position, name in enumerate(keys):
                frame.insert(position, name, batch[name].to_numpy())
            frame.columns = names
            yield frame

    return sdf.mapInPandas(explain_batches, schema)


def _feature_columns(explainer: Any) -> list[str]:
    """The feature column names: the background's columns (a DataFrame background), or
    ``feature_names``/``x0, x1, ...`` for an array background."""
    background = explainer.background
    if isinstance(background, pd.DataFrame):
        return [str(c) for c in background.columns]
    names = explainer.feature_names
    if names is not None:
        return [str(n) for n in names]
    return [f"x{j}" for j in range(background.shape[1])]


def _check_columns(sdf: Any, features: list[str], keys: list[str]) -> None:
    """Missing feature columns, extra columns and keys that are features raise here, on
    the driver, naming them."""
    columns = list(sdf.columns)
    shared = [k for k in keys if k in features]
    if shared:
        raise ValueError(f"key columns {shared} are also feature columns; a key is not a feature.")
    missing = [c for c in [*features, *keys] if c not in columns]
    extra = [c for c in columns if c not in features and c not in keys]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"extra {extra} (pass key=[...] to carry them into the output)")
        raise ValueError(
            "the Spark DataFrame's columns do not match the background's: " + "; ".join(parts) + "."
        )
    if ROW in features and not keys:
        raise ValueError(
            f"a feature is named {ROW!r}, the row key's default name; pass key=<a column>."
        )


def _first_row(background: np.ndarray | pd.DataFrame) -> np.ndarray | pd.DataFrame:
    return background.iloc[:1] if isinstance(background, pd.DataFrame) else background[:1]


def _schema(sdf: Any, keys: list[str], job: RowJob, probe: RowValues) -> Any:
    """The output's Spark schema: the key columns' types, doubles, and a long n_evals."""
    from pyspark.sql import types

    from ..columns import value_columns

    k = probe.values.shape[2]
    columns = value_columns(job.player_names, probe.output_names, k)
    by_name = {field.name: field for field in sdf.schema.fields}
    fields = [
        types.StructField(name, by_name[name].dataType, by_name[name].nullable) for name in keys
    ]
    fields += [types.StructField(c, types.DoubleType(), False) for c in columns[:-1]]
    fields.append(types.StructField(columns[-1], types.LongType(), False))
    return types.StructType(fields)


def _worker_job(shipped: Any, digest: str) -> RowJob:
    """The job of the broadcast ``shipped`` (unpickled once per Python worker)."""
    job = _WORKER_JOB.get(digest)
    if job is None:
        import pickle

        job = pickle.loads(shipped.value)
        _WORKER_JOB.clear()
        _WORKER_JOB[digest] = job
    return job


def local_session(
    cores: int = 2,
    name: str = "shapkit",
    memory: str = "2g",
    config: dict[str, str] | None = None,
) -> Any:
    """A Spark session in local mode on ``cores`` cores whose Python workers run this
    interpreter (so they import the same shapkit and packages); for tests, benchmarks
    and notebooks. Needs Java (17 or newer) and pyspark.

    ``memory`` is the JVM's heap (``spark.driver.memory``: in local mode the executors
    live in the driver), which must hold the Arrow batches of a collected result
    (``toPandas`` of a million rows of 30 players' values and errors is about 1 GB: give
    it several GB); ``config`` adds other Spark settings. Both apply only when this call
    starts the JVM."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(name)
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", memory)
        .config("spark.sql.shuffle.partitions", str(cores))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    for key, value in (config or {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
