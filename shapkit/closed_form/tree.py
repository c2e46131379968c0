"""Exact interventional Shapley values of tree ensembles (interventional TreeSHAP).

The game is shapkit's usual ``v(S) = mean_b f(x_S, b_notS)`` over the background rows b,
in the output space where the trees add up, so the values are exact (no sampling) and
``base + values.sum(1) == predictions``:

* forest classifiers (RandomForest, ExtraTrees, DecisionTree): probabilities
  (``output="auto"``/``"probability"``);
* regressors with an identity link (forests, GradientBoosting, HGB, XGBoost, LightGBM):
  predictions (``output="auto"``/``"raw"``);
* boosted classifiers: the margin, ``output="decision"`` (``decision_function`` for
  scikit-learn and LightGBM; XGBoost's ``output_margin``); ``"margin"`` is an alias;
* boosted models whose predictions are a link of the margin (poisson, gamma, XGBoost and
  LightGBM Boosters with a non-identity objective): ``output="margin"``.

Groups of columns are players of the game (a group's value is not the sum of its columns'
values). Two algorithms compute them (docs/trees.md): leaf patterns
(:mod:`shapkit.closed_form.leaf_tables`, whose cost per row does not grow with the
background) and, for paths testing more than 62 players, the walk of Lundberg et al.
(``O(rows x background x visited nodes)``); both run in parallel over rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._kernels.treeshap import interventional_treeshap, shapley_weights
from ..trees import TreeModel, TreeNotSupportedError, read_tree_model
from ..trees.ensemble import run_row_chunks
from ..trees.readers import margin_names
from .leaf_tables import MAX_PATTERN_SLOTS, leaf_pattern_shapley

__all__ = ["TreeNotSupportedError", "as_tree_aware_model", "tree_model_for", "tree_shapley"]

_MARGIN_OUTPUTS = ("decision", "margin")
#: ``tree_shapley``'s algorithms.
ALGORITHMS = ("auto", "table", "leaf", "walk")


def check_tree_output(tm: TreeModel, output: str) -> None:
    """Raise :class:`TreeNotSupportedError` unless the trees add up in the ``output`` space."""
    name = type(tm.estimator).__name__
    if tm.space == "probability":
        if output in ("auto", "probability"):
            return
        raise TreeNotSupportedError(
            f"{name} averages class probabilities over its trees, so it is exact in "
            f"probability space only (output='auto' or 'probability'), not "
            f"output={output!r}; use method='exact' or 'kernel' for that output."
        )
    if tm.space == "raw":
        if output in ("auto", "raw", "margin"):
            return
        raise TreeNotSupportedError(
            f"output={output!r} does not apply to the regressor {name}; use output='auto'."
        )
    if tm.is_classifier:
        if output in _MARGIN_OUTPUTS:
            return
        raise TreeNotSupportedError(
            f"{name} is a boosted classifier: its trees add up in margin (log-odds) space, "
            f"not as {output!r} (a non-linear link of the margin). Use output='decision' for "
            f"the exact tree path, or method='exact'/'kernel' to explain {output!r}."
        )
    if output == "margin":
        return
    raise TreeNotSupportedError(
        f"{name}'s predictions are a non-linear link (e.g. exp) of its trees' sum, so the "
        f"tree path is exact for output='margin' only; use that, or method='exact'/'kernel'."
    )


def tree_model_for(
    model: Any, output: str, method: Any, tm: TreeModel | None = None
) -> TreeModel | None:
    """The :class:`TreeModel` when the exact tree path applies, else None (``tm``: the
    model as read already, if it was).

    ``method="tree"`` insists and raises :class:`TreeNotSupportedError` saying why it does
    not apply; ``method="auto"`` returns None then; other methods always get None.
    """
    if not (isinstance(method, str) and method in ("tree", "auto")):
        return None
    try:
        tm = read_tree_model(model) if tm is None else tm
        check_tree_output(tm, output)
    except TreeNotSupportedError:
        if method == "tree":
            raise
        return None
    return tm


def as_tree_aware_model(model: Any, output: str) -> Any:
    """``shapkit.models.as_model(model, output)``, except that boosted tree models also take
    ``output="decision"``/``"margin"`` (their margin) when they lack ``decision_function``
    (XGBoost) or are Boosters, so every method can explain the margin."""
    from ..models import as_model

    try:
        return as_model(model, output)
    except (ValueError, TypeError):
        if output not in _MARGIN_OUTPUTS:
            raise
        try:
            tm = read_tree_model(model)
            check_tree_output(tm, output)
        except (TreeNotSupportedError, ValueError):
            pass
        else:
            return tm
        if type(model).__module__.startswith("xgboost") and hasattr(model, "get_booster"):
            return _xgboost_margin(model)  # trees the reader refuses (categorical splits)
        raise


def _xgboost_margin(model: Any) -> Any:
    """An XGBoost scikit-learn model's margin through its Booster, named like the tree
    path's margin (binary classifiers: the positive class; multi-class: every class)."""
    from ..models.boosters import BoosterModel

    adapter = BoosterModel(model.get_booster(), "margin")
    n_classes = len(getattr(model, "classes_", []))
    if n_classes:
        adapter.output_names = margin_names(model, 1 if n_classes == 2 else n_classes)
    return adapter


def tree_shapley(
    tm: TreeModel,
    X: Any,
    background: Any,
    column_player: Sequence[int] | np.ndarray | None = None,
    n_players: int | None = None,
    algorithm: str = "auto",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact interventional Shapley values of the trees of ``tm`` on the rows of X.

    ``algorithm``: ``"walk"`` walks every tree for every (row, background row) pair
    (Lundberg et al. 2020), ``O(background x visited nodes)`` per row. The others read the
    background once per leaf, as patterns (which of the path's players' conditions a row
    meets), and need paths of at most 62 distinct players: ``"leaf"`` keeps each leaf's
    distinct background patterns, ``O(leaves x distinct patterns)`` per row; ``"table"``
    turns each leaf's pattern histogram into a table indexed by the explained row's
    pattern (leaves of up to 16 players), ``O(path players)`` per leaf and row whatever
    the background's size. ``"auto"`` (default) picks table or list per leaf by cost, and
    the walk where a path has more than 62 players. All are exact.

    Returns ``values (n, n_players, k)``, ``base_values (n, k)`` (the mean prediction over
    the background) and ``predictions (n, k)`` (the trees' own, so that
    ``base + values.sum(1) == predictions`` to rounding; XGBoost, which sums in float32,
    differs from them by ~1e-7 relative).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from shapkit.trees import read_tree_model
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> tm = read_tree_model(DecisionTreeRegressor().fit(X, X[:, 0] * X[:, 1]))
    >>> values, base, pred = tree_shapley(tm, X[3:], X[:1])  # v(S) = 1 iff S = {0, 1}
    >>> values[0, :, 0].tolist(), base.tolist(), pred.tolist()
    ([0.5, 0.5], [[0.0]], [[1.0]])
    """
    check_columns(tm, X)
    ens = tm.ensemble
    x = tm.features(X)
    b = tm.features(background)
    players, n_players = check_players(tm, column_player, n_players)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}; got {algorithm!r}.")
    values = np.zeros((x.shape[0], n_players, ens.n_outputs))
    base = ens.base_offset.astype(np.float64)  # a copy: the patterns' mean is added to it
    done = False
    if algorithm != "walk":
        tables = {"auto": "auto", "table": "always", "leaf": "never"}[algorithm]
        done = leaf_pattern_shapley(ens, x, b, players, n_players, values, tables, base)
        if not done and algorithm != "auto":
            raise ValueError(
                f"algorithm={algorithm!r} reads at most {MAX_PATTERN_SLOTS} distinct "
                f"players on a path, and a path of this model tests more; use "
                f"algorithm='walk' (or 'auto')."
            )
    if not done:
        depth = ens.max_depth
        arrays = ens.kernel_arrays()
        weights = shapley_weights(n_players)
        run_row_chunks(
            lambda start, stop: interventional_treeshap(
                x, start, stop, values, b, players, n_players, weights, depth, *arrays
            ),
            x.shape[0],
            work_per_row=float(b.shape[0]) * ens.n_trees * (depth + 1),
        )
    predictions = ens.predict(x, prepared=True)
    check_reproduces(tm, X, predictions)
    if not done:
        base = ens.predict(b, prepared=True).mean(axis=0)
    return values, np.broadcast_to(base, predictions.shape).copy(), predictions


#: Rows on which :func:`check_reproduces` compares the trees with the model.
CHECKED_ROWS = 64


def check_reproduces(tm: TreeModel, X: Any, predictions: np.ndarray) -> None:
    """Raise :class:`TreeNotSupportedError` when the trees as read do not give the model's
    own output on the first rows of X (a reader or Pipeline step read wrongly would
    otherwise give confident wrong values). XGBoost sums in float32: the tolerance is
    ``1e-6 + 1e-5 x`` the largest output."""
    n = min(CHECKED_ROWS, predictions.shape[0])
    if n == 0:
        return
    own = np.asarray(tm.native(_first_rows(X, n)), dtype=np.float64).reshape(n, -1)
    gap = float(np.max(np.abs(own - predictions[:n])))
    if not gap <= 1e-6 + 1e-5 * float(np.max(np.abs(own), initial=0.0)):
        raise TreeNotSupportedError(
            f"The trees read from {type(tm.estimator).__name__} do not reproduce its own "
            f"outputs on these rows (largest difference {gap:.3g}), so their Shapley values "
            f"would be wrong; use method='exact' or 'kernel', and please report the model."
        )


def _first_rows(X: Any, n: int) -> Any:
    return X.iloc[:n] if hasattr(X, "iloc") else X[:n]


def check_players(
    tm: TreeModel, column_player: Sequence[int] | np.ndarray | None, n_players: int | None
) -> tuple[np.ndarray, int]:
    """The player of each of the trees' columns as int64 (default: one player per input
    column; a one-hot encoded column's tree columns all belong to its player) and the
    number of players; raises ``ValueError`` when ``column_player`` (one entry per input
    column) does not fit the model."""
    n_columns = tm.n_columns
    if column_player is None:
        players = np.arange(n_columns, dtype=np.int64)
    else:
        players = np.ascontiguousarray(column_player, dtype=np.int64).reshape(-1)
        if players.shape[0] != n_columns:
            raise ValueError(f"column_player has {players.shape[0]} entries but the model reads "
                             f"{n_columns} columns.")  # fmt: skip
    if n_players is None:
        n_players = int(players.max()) + 1
    if players.min() < 0 or players.max() >= n_players:
        raise ValueError(f"column_player must hold player indices in [0, {n_players}).")
    if tm.feature_column is not None:
        players = np.ascontiguousarray(players[tm.feature_column])
    return players, int(n_players)


def check_columns(tm: TreeModel, X: Any) -> None:
    """Raise ``ValueError`` when DataFrame X's columns are not the model's, in order."""
    import pandas as pd

    fitted = getattr(tm.estimator, "feature_names_in_", None)
    if isinstance(X, pd.DataFrame) and fitted is not None:
        columns = [str(c) for c in X.columns]
        if columns != [str(c) for c in fitted]:
            raise ValueError(
                f"X's columns {columns} differ from those the model was fitted with "
                f"{[str(c) for c in fitted]}; pass X with the model's columns, in order."
            )
