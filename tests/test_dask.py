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
from shapkit.explainer import Explainer  # noqa: E402
from shapkit.parallel import explanation_frame  # noqa: E402


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
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


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


def test_plan_is_one_delayed_node_without_client():
    """Without a client the plan (model + background) is one delayed node: the graph
    holds the large background once, not once per partition."""
    small, large = _graph_bytes(2), _graph_bytes(8)
    assert small > 400_000  # the background is in the graph once
    assert large - small < 100_000  # ... and not once more per partition


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


def test_plan_is_scattered_with_a_client(client):
    """With a client the plan is scattered to the workers (broadcast) beforehand: the
    graph only refers to it."""
    assert _graph_bytes(8) < 100_000
