"""Dask: partitions on workers give a lazy frame equal to the local values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402

import shapkit  # noqa: E402
from shapkit.columns import explanation_frame  # noqa: E402
from shapkit.explainer import Explainer  # noqa: E402


def _nonlinear(Z):
    Z = np.asarray(Z)
    return np.sin(Z).sum(axis=1) + Z[:, 0] * Z[:, 1]


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :6]
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, y)
    return model, X.iloc[:40], X.iloc[300:320]


@pytest.fixture(scope="module")
def cluster():
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    )
    yield cluster
    cluster.close()


@pytest.fixture
def client(cluster):
    """A client for one test only: a client left open stays the default one and changes
    what the tests "without client" test, whatever order they run in."""
    with distributed.Client(cluster) as client:
        yield client


def test_dask_frame_without_client_matches_local(data):
    model, X, background = data
    local = Explainer(model, background, method="kernel", seed=5)(X, budget=40)
    lazy = Explainer(model, background, method="kernel", seed=5)(
        dd.from_pandas(X, npartitions=3), budget=40
    )
    assert isinstance(lazy, dd.DataFrame)
    result = lazy.compute(scheduler="sync")
    pd.testing.assert_frame_equal(result, explanation_frame(local), check_exact=True)
    assert result.columns[0] == "base_value:0" and result.columns[-1] == "n_evals"


def _graph_bytes(npartitions):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(64, 3)), columns=list("abc"))
    background = pd.DataFrame(rng.normal(size=(20_000, 3)), columns=list("abc"))  # ~0.5 MB
    lazy = Explainer(_nonlinear, background, method="exact", seed=0)(
        dd.from_pandas(X, npartitions=npartitions)
    )
    return len(_cloudpickle(dict(lazy.__dask_graph__())))


def test_job_is_one_delayed_node_without_client():
    """Without a client the plan (model + background) is one delayed node: the graph
    holds the large background once, not once per partition."""
    small, large = _graph_bytes(2), _graph_bytes(8)
    assert small > 400_000  # the background is in the graph once
    assert large - small < 100_000  # ... and not once more per partition


def _local_and_dask(model, X, background, budget=None, **kwargs):
    """The local explanation's flat frame and the Dask one (backend="dask", computed with
    the synchronous scheduler: no client exists before the cluster tests below)."""
    local = Explainer(model, background, seed=3, **kwargs)(X, budget=budget)
    lazy = Explainer(model, background, seed=3, backend="dask", **kwargs)(X, budget=budget)
    return explanation_frame(local), lazy.compute(scheduler="sync")


def test_ndarray_x_reaches_the_model_as_an_ndarray_of_its_dtype():
    rng = np.random.default_rng(1)
    X, background = rng.normal(size=(6, 3)), rng.normal(size=(5, 3))
    seen = set()

    def model(Z):
        seen.add((type(Z).__name__, Z.dtype))
        return Z[:, 0] * 2 + np.sin(Z[:, 1]) * Z[:, 2]  # positional: fails on a frame

    local, remote = _local_and_dask(model, X, background, method="kernel", budget=12)
    pd.testing.assert_frame_equal(remote, local, check_exact=True)
    assert seen == {("ndarray", np.dtype(np.float64))}
    # float32 and object arrays (mixed cells, None) keep their dtype and cells
    local, remote = _local_and_dask(model, X.astype(np.float32), background.astype(np.float32))
    pd.testing.assert_frame_equal(remote, local, check_exact=True)
    assert ("ndarray", np.dtype(np.float32)) in seen
    cells = np.array([["u", None, 1.5], ["v", "w", 2], ["u", "w", 2]], dtype=object)
    cells_seen = []

    def on_objects(Z):
        cells_seen.extend(Z[:, 1].tolist() + Z[:, 2].tolist())
        return (Z[:, 0] == "u") + (Z[:, 1] == "w") * 2.0 + Z[:, 2].astype(float)

    local, remote = _local_and_dask(on_objects, cells, cells)
    pd.testing.assert_frame_equal(remote, local, check_exact=True)
    assert {type(v) for v in cells_seen} == {str, type(None), float, int}


def test_string_and_categorical_columns_equal_the_local_run():
    """Dask stores object and str columns as pyarrow strings unless told not to: the
    frames shapkit splits keep X's dtypes, so the model sees what it sees locally."""
    X = pd.DataFrame(
        {
            "a": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "s": pd.array(["u", "v", None, "u", "w", "v"], dtype="str"),
            "o": pd.Series(["x", 1, None, "x", 2.5, "y"], dtype=object),
            "c": pd.Categorical(["p", "q", "p", None, "q", "p"], categories=["q", "p"]),
        }
    )
    seen = []

    def model(Z):
        seen.append(tuple(Z.dtypes))
        return (
            Z["a"].to_numpy()
            + (Z["s"] == "u").to_numpy(float)
            + Z["o"].map(lambda v: isinstance(v, (int, float)) and v == v).to_numpy(float) * 3
            + (Z["c"] == "p").to_numpy(float) * 0.5
        )

    local, remote = _local_and_dask(model, X, X.iloc[[1, 3, 5]], method="exact")
    pd.testing.assert_frame_equal(remote, local, check_exact=True)
    assert set(seen) == {tuple(X.dtypes)}
    # a Dask frame the user made (object/str columns became pyarrow strings): still equal
    # for string and categorical columns
    text = X.drop(columns="o")
    lazy = shapkit.explain(
        _no_object_model, dd.from_pandas(text, npartitions=2), text.iloc[[1, 3, 5]], seed=3
    )
    local = shapkit.explain(_no_object_model, text, text.iloc[[1, 3, 5]], seed=3)
    pd.testing.assert_frame_equal(
        lazy.compute(scheduler="sync"), explanation_frame(local), check_exact=True
    )


def _no_object_model(Z):
    return Z["a"].to_numpy() + (Z["s"] == "u").to_numpy(float) + (Z["c"] == "p").to_numpy(float)


@pytest.mark.slow  # a LocalCluster of two worker processes
def test_local_cluster_matches_local(data, client):
    model, X, background = data
    local = Explainer(model, background, method="kernel", seed=5)(X, budget=40)
    lazy = shapkit.explain(
        model, dd.from_pandas(X, npartitions=4), background, method="kernel", budget=40, seed=5
    )
    pd.testing.assert_frame_equal(lazy.compute(), explanation_frame(local), check_exact=True)
    # backend="dask" on a pandas frame: split into partitions on the cluster's workers
    lazy = Explainer(model, background, method="kernel", seed=5, backend="dask")(X, budget=40)
    assert isinstance(lazy, dd.DataFrame) and lazy.npartitions > 1
    pd.testing.assert_frame_equal(lazy.compute(), explanation_frame(local), check_exact=True)


def _cloudpickle(obj):
    import cloudpickle

    return cloudpickle.dumps(obj)


def test_explain_needs_background_for_dask(data):
    model, X, _ = data
    with pytest.raises(ValueError, match="background"):
        shapkit.explain(model, dd.from_pandas(X, npartitions=2))


@pytest.mark.slow  # a LocalCluster of two worker processes
def test_job_is_scattered_with_a_client(client):
    """With a client the plan is scattered to the workers (broadcast) beforehand: the
    graph only refers to it."""
    assert _graph_bytes(8) < 100_000
