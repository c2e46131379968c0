"""Path-dependent TreeSHAP: the Shapley values of the trees' own conditional expectation,
read from node covers, with no background (the game of shap's ``TreeExplainer(model)``).

``v(S)`` follows the explained row's branch at a node whose player is in S and otherwise
averages both children weighted by the share of the node's cover (training rows, or
hessian sums for XGBoost) each received. It differs from the interventional game
(:mod:`shapkit.closed_form.tree`) wherever the features are dependent in the training
data: it is what the trees learned about the data, not what the model does when one
feature is changed. Two algorithms: per-leaf tables indexed by the row's pattern
(:func:`shapkit.closed_form.leaf_tables.path_table_shapley`, leaves of at most 12
players) and Lundberg et al.'s path algorithm (:mod:`shapkit._kernels.path_treeshap`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._kernels.path_treeshap import expected_values, path_dependent_treeshap
from ..trees import TreeModel, TreeNotSupportedError
from ..trees.ensemble import run_row_chunks
from .leaf_tables import MAX_PATH_TABLE_SLOTS, path_table_shapley
from .tree import check_columns, check_players, check_reproduces

__all__ = ["tree_path_shapley"]


def tree_path_shapley(
    tm: TreeModel,
    X: Any,
    column_player: Sequence[int] | np.ndarray | None = None,
    n_players: int | None = None,
    algorithm: str = "auto",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact path-dependent Shapley values of the trees of ``tm`` on the rows of X.

    ``algorithm``: ``"table"`` gives each leaf a table of its values per pattern of the
    row (which of the path's players' conditions it meets; leaves of at most 12 players),
    then a row costs one lookup per leaf and path player; ``"path"`` is Lundberg et al.'s
    Algorithm 2 (``O(leaves x depth^2)`` per tree and row); ``"auto"`` (default) takes
    the tables where every leaf fits them and their build (``sum of k^2 2^k`` over the
    leaves) is at most ``2e8``, else the path algorithm.

    Returns ``values (n, n_players, k)``, ``base_values (n, k)`` (the cover-weighted mean
    of the leaves: ``v(empty)``) and ``predictions (n, k)``, with
    ``base + values.sum(1) == predictions`` to rounding. Raises
    :class:`~shapkit.trees.TreeNotSupportedError` when the model's trees carry no covers.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from shapkit.trees import read_tree_model
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> tm = read_tree_model(DecisionTreeRegressor().fit(X, X[:, 0] * X[:, 1]))
    >>> values, base, pred = tree_path_shapley(tm, X[3:])
    >>> values[0, :, 0].tolist(), base.tolist(), pred.tolist()
    ([0.375, 0.375], [[0.25]], [[1.0]])
    """
    check_columns(tm, X)
    ens = tm.ensemble
    x = tm.features(X)
    players, n_players = check_players(tm, column_player, n_players)
    if not np.all(np.isfinite(ens.cover)) or np.any(ens.cover[ens.roots] <= 0):
        raise TreeNotSupportedError(
            f"{type(tm.estimator).__name__}'s trees carry no node covers, which the "
            f"path-dependent game needs; pass background rows for interventional values."
        )
    if algorithm not in ("auto", "table", "path"):
        raise ValueError(f"algorithm must be 'auto', 'table' or 'path'; got {algorithm!r}.")
    values = np.zeros((x.shape[0], n_players, ens.n_outputs))
    if algorithm != "path" and path_table_shapley(ens, x, players, n_players, values):
        return _with_base(tm, X, x, values)
    if algorithm == "table":
        raise ValueError(
            f"algorithm='table' needs leaves of at most {MAX_PATH_TABLE_SLOTS} distinct "
            f"players and a build of at most 2e8, and this model's leaves exceed them; "
            f"use algorithm='path' or 'auto'."
        )
    arrays = ens.kernel_arrays()
    node_arrays = (*arrays[:10], ens.values, ens.roots, ens.tree_output, ens.cover)
    depth = ens.max_depth
    run_row_chunks(
        lambda start, stop: path_dependent_treeshap(
            x, start, stop, values, players, depth, *node_arrays
        ),
        x.shape[0],
        work_per_row=float(ens.n_nodes) * (depth + 1),
    )
    return _with_base(tm, X, x, values)


def _with_base(
    tm: TreeModel, X: Any, x: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(values, base values, predictions)``: the base is the cover-weighted mean leaf;
    the trees' predictions are checked against the model's own on the first rows."""
    ens = tm.ensemble
    predictions = ens.predict(x, prepared=True)
    check_reproduces(tm, X, predictions)
    base = expected_values(ens.feature, ens.left, ens.right, ens.values, ens.roots,
                           ens.tree_output, ens.cover) + ens.base_offset  # fmt: skip
    return values, np.broadcast_to(base, predictions.shape).copy(), predictions
