"""Explaining Spark DataFrames in local[2] mode: bit-identical to a local run whatever the
partitioning, the recipe shipped once, bad input refused on the driver.

In the slow tier (a JVM starts); skipped where pyspark or Java is missing."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:  # pragma: no cover - machines without a JVM
    pytest.skip("Spark needs Java", allow_module_level=True)

from sklearn.compose import make_column_transformer  # noqa: E402
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OrdinalEncoder  # noqa: E402

import shapkit  # noqa: E402
from shapkit.columns import explanation_frame  # noqa: E402
from shapkit.execution.spark import (  # noqa: E402
    UnpicklableSparkModelError,
    explain_spark,
    local_session,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::FutureWarning"),  # pyspark on pandas 3
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


@pytest.fixture(scope="module")
def spark():
    session = local_session(cores=2, name="shapkit-tests")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 200
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "city": rng.choice(["oslo", "rome", "lima"], n).astype(object),
            "c": rng.integers(0, 5, n).astype(np.int64),
        }
    )
    y = X["a"] * 2 + (X["city"] == "rome") + X["b"] * X["c"] + rng.normal(0, 0.1, n)
    encoder = make_column_transformer((OrdinalEncoder(), ["city"]), remainder="passthrough")
    model = make_pipeline(encoder, HistGradientBoostingRegressor(max_iter=20)).fit(X, y)
    return model, X, y


def _sorted(out, key):
    frame = out.toPandas().sort_values(key).set_index(key)
    frame.index.name = None
    return frame


def test_bit_identical_to_a_local_run_whatever_the_partitioning(spark, data):
    model, X, _ = data
    rows, background = X.iloc[:24], X.iloc[100:120].reset_index(drop=True)
    explainer = shapkit.Explainer(model, background, method="kernel", seed=3)
    local = explanation_frame(explainer(rows, budget=40))
    sdf = spark.createDataFrame(rows.reset_index(names="id"))
    for partitions in (1, 3, 7):
        out = explain_spark(explainer, sdf.repartition(partitions), budget=40, key="id")
        assert out.columns[:3] == ["id", "base_value", "shap_value:a"]
        got = _sorted(out, "id")
        np.testing.assert_array_equal(got.to_numpy(), local.to_numpy())
        assert list(got.columns) == list(local.columns)


def test_the_tree_path_and_the_explainer_call(spark, data):
    _, X, y = data
    numeric = X.drop(columns=["city"])
    forest = RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0).fit(numeric, y)
    explainer = shapkit.Explainer(forest, numeric.iloc[150:200])
    local = explanation_frame(explainer(numeric.iloc[:30]))
    out = explainer(spark.createDataFrame(numeric.iloc[:30]).repartition(2))  # the call
    assert isinstance(out, pyspark.sql.DataFrame) and out.columns[0] == "row"
    got = out.toPandas()
    assert got["row"].is_unique
    got = got.drop(columns="row")
    # rows come back in some order: match them by their (unique) predictions
    got = got.sort_values("prediction").reset_index(drop=True)
    want = local.sort_values("prediction").reset_index(drop=True)
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())


def test_bad_input_is_refused_on_the_driver(spark, data):
    model, X, _ = data
    explainer = shapkit.Explainer(model, X.iloc[100:120], method="kernel", seed=0)
    sdf = spark.createDataFrame(X.iloc[:5])
    with pytest.raises(ValueError, match=r"missing \['c'\]"):
        explain_spark(explainer, sdf.drop("c"))
    with pytest.raises(ValueError, match=r"extra \['id'\] \(pass key="):
        explain_spark(explainer, spark.createDataFrame(X.iloc[:5].reset_index(names="id")))
    with pytest.raises(ValueError, match=r"are also feature columns"):
        explain_spark(explainer, sdf, key="a")
    as_text = sdf.withColumn("c", sdf["c"].cast("string"))
    with pytest.raises(ValueError, match=r"'c'.*In Spark, cast the columns"):
        explain_spark(explainer, as_text)

    lock = threading.Lock()

    def locked(Z):
        with lock:
            return Z["a"].to_numpy()

    with pytest.raises(UnpicklableSparkModelError, match="shipped to the Spark executors"):
        explain_spark(shapkit.Explainer(locked, X.iloc[100:120], seed=0), sdf)


def test_written_parquet_is_reproduced_by_a_rerun(spark, data, tmp_path):
    model, X, _ = data
    explainer = shapkit.Explainer(model, X.iloc[100:120], method="permutation", seed=5)
    sdf = spark.createDataFrame(X.iloc[:16].reset_index(names="id")).repartition(2)
    path = str(tmp_path / "values")
    explain_spark(explainer, sdf, budget=200, key="id").write.parquet(path)
    first = pd.read_parquet(path).sort_values("id").reset_index(drop=True)
    explain_spark(explainer, sdf, budget=200, key="id").write.mode("overwrite").parquet(path)
    again = pd.read_parquet(path).sort_values("id").reset_index(drop=True)
    pd.testing.assert_frame_equal(first, again, check_exact=True)
    assert (first["n_evals"] > 0).all()


def test_the_job_is_broadcast_once_not_shipped_with_the_batches(spark, data, monkeypatch):
    """The function Spark ships with every task refers to the broadcast, not the job: its
    pickle stays small however large the background."""
    import cloudpickle

    model, X, _ = data
    big = pd.concat([X] * 25, ignore_index=True)  # a 5,000-row background
    explainer = shapkit.Explainer(model, big, method="kernel", seed=0)
    sdf = spark.createDataFrame(X.iloc[:4])
    shipped = {}
    original = type(sdf).mapInPandas

    def capture(self, function, schema, *args, **kwargs):
        shipped["function"] = function
        return original(self, function, schema, *args, **kwargs)

    monkeypatch.setattr(type(sdf), "mapInPandas", capture)
    explain_spark(explainer, sdf, budget=40)
    job_bytes = len(cloudpickle.dumps(explainer.row_job(X.iloc[:0], budget=40)))
    task_bytes = len(cloudpickle.dumps(shipped["function"]))
    assert job_bytes > 100_000 and task_bytes < 10_000, (job_bytes, task_bytes)
