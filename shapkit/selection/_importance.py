"""Held-out Shapley importance of a fitted model, and column bookkeeping for refits on
other column sets (probe columns added, features dropped)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_budget
from ..reports.summary import spearman_columns


@dataclass
class Importance:
    """Mean |Shapley value| of each column over the explained rows, and the Spearman
    correlation of each numeric column with its Shapley value (NaN otherwise).

    ``loss_gain`` (explained rows x columns, or None when ``y`` was not given): for each
    explained row, how much the loss grows when the column's Shapley value is taken out
    of the model output, to first order (:func:`loss_gain` with ``first_order=True``);
    ``rows``: the explained rows' positions in the validation data."""

    mean_abs: np.ndarray
    direction: np.ndarray
    method: str
    output: str
    loss_gain: np.ndarray | None = None
    rows: np.ndarray | None = None


def loss_gain(
    values: np.ndarray, pred: np.ndarray, target: np.ndarray, loss: str, first_order: bool = False
) -> np.ndarray:
    """``L(y, f - phi_j) - L(y, f)`` per row and column: the loss added by removing a
    column's Shapley value ``phi_j`` from the model output ``f`` (positive: the column's
    contribution helped on that row).

    ``first_order=True``: the gain to first order in ``phi_j``, taken at the output
    without the column, ``-phi_j L'(y, f - phi_j)`` (``2 phi_j (y - f + phi_j)`` for the
    squared error, ``phi_j (y - sigmoid(f - phi_j))`` for the logistic loss, summed over
    the classes with the softmax). It drops the curvature term ``-L'' phi_j^2 / 2`` that
    makes the exact gain of a noise column negative on average (see below), so a column
    whose values are noise independent of the target has a first-order gain of mean 0
    instead of a negative one: a test of its mean keeps its level and gains power.

    ``values`` is ``(rows, d)`` with ``pred`` and ``target`` ``(rows,)``, or
    ``(rows, d, k)`` with ``pred`` and the one-hot ``target`` ``(rows, k)``. ``loss``:
    ``"squared"`` (regression; probabilities, where it is the Brier score),
    ``"logistic"`` (a binary margin, ``target`` in {0, 1}) or ``"softmax"`` (class margins).
    For a column independent of the target and of the rest of the model output, whose
    values average to zero, the expected gain is at most 0 by Jensen's inequality (the
    loss is convex in ``f``); a column that helps predict held-out rows has a positive one.

    Examples
    --------
    >>> loss_gain(np.array([[1.0, -0.5]]), np.array([1.5]), np.array([2.0]), "squared")
    array([[ 2.  , -0.25]])
    """
    if first_order:
        return _first_order_gain(values, pred, target, loss)
    if loss == "squared":
        resid = target - pred
        if values.ndim == 3:
            return (values * (2 * resid[:, None, :] + values)).sum(axis=2)
        return values * (2 * resid[:, None] + values)
    if loss == "logistic":
        f = pred[:, None]
        y = target[:, None]
        base = np.logaddexp(0.0, f) - y * f
        return (np.logaddexp(0.0, f - values) - y * (f - values)) - base
    if loss == "softmax":
        from scipy.special import logsumexp

        f = pred[:, None, :] - values  # (rows, d, k)
        base = logsumexp(pred, axis=1) - (pred * target).sum(axis=1)
        removed = logsumexp(f, axis=2) - (f * target[:, None, :]).sum(axis=2)
        return removed - base[:, None]
    raise ValueError(f"unknown loss {loss!r}")


def _first_order_gain(values: np.ndarray, pred: np.ndarray, target: np.ndarray, loss: str):
    if values.ndim == 3:
        without = pred[:, None, :] - values  # (rows, d, k): the output without each column
        y = target[:, None, :]
    else:
        without = pred[:, None] - values
        y = target[:, None]
    if loss == "squared":
        slope = 2 * (y - without)  # -dL/df
    elif loss == "logistic":
        slope = y - 1.0 / (1.0 + np.exp(-without))
    elif loss == "softmax":
        from scipy.special import softmax

        slope = y - softmax(without, axis=2)
    else:
        raise ValueError(f"unknown loss {loss!r}")
    out = values * slope
    return out.sum(axis=2) if out.ndim == 3 else out


def target_and_loss(
    model: Any, X_rows: Any, pred: np.ndarray, y_rows: np.ndarray, classifier: bool
) -> tuple[np.ndarray, str] | None:
    """The target in the explained space and the loss to score it with, or None when the
    rows' labels cannot be matched to the model's outputs."""
    if not classifier:
        return np.asarray(y_rows, dtype=float), "squared"
    classes = getattr(model, "classes_", None)
    if classes is None:
        return None
    classes = np.asarray(classes)
    index = np.minimum(np.searchsorted(classes, y_rows), classes.size - 1)
    if np.any(classes[index] != y_rows):
        return None
    probability = False
    if hasattr(model, "predict_proba"):
        try:
            proba = np.asarray(model.predict_proba(X_rows), dtype=float)
            want = proba[:, 1] if pred.ndim == 1 and proba.shape[1] == 2 else proba
            probability = want.shape == pred.shape and np.allclose(want, pred, atol=1e-6)
        except Exception:  # noqa: BLE001 - no usable probabilities: a margin then
            probability = False
    if pred.ndim == 1:
        return (index == 1).astype(float), "squared" if probability else "logistic"
    onehot = np.zeros(pred.shape)
    if pred.shape[1] != classes.size:
        return None
    onehot[np.arange(index.size), index] = 1.0
    return onehot, "squared" if probability else "softmax"


def take_rows(X: Any, rows: np.ndarray) -> Any:
    return X.iloc[rows] if isinstance(X, pd.DataFrame) else X[rows]


def take_columns(X: Any, columns: np.ndarray | list[int]) -> Any:
    columns = list(columns)
    return X.iloc[:, columns] if isinstance(X, pd.DataFrame) else X[:, columns]


def column_labels(X: Any) -> list[Any]:
    if isinstance(X, pd.DataFrame):
        return list(X.columns)
    return list(range(X.shape[1]))


def _column_dtypes(X: Any) -> list[Any]:
    """The dtype of each column (a NumPy array's for all of them)."""
    if isinstance(X, pd.DataFrame):
        return list(X.dtypes)
    return [getattr(X, "dtype", None)] * X.shape[1]


def choose_output(model: Any, classifier: bool, requested: str | None) -> str:
    """The output space to explain a fitted ``model`` in.

    A requested space is kept. Otherwise regressors get their raw output; a classifier
    gets the space in which shapkit has a closed form: probabilities for forests (exact
    TreeSHAP), the decision function / margin for boosted trees and linear models (exact
    TreeSHAP, linear closed form), probabilities for anything else (sampled values).
    """
    if requested is not None:
        return requested
    if not classifier:
        return "auto"
    from ..closed_form.tree import check_tree_output
    from ..trees import TreeNotSupportedError, read_tree_model

    try:
        tm = read_tree_model(model)
    except Exception:  # noqa: BLE001 - any reader failure means: no tree closed form
        tm = None
    if tm is not None:
        for space in ("auto", "decision"):
            try:
                check_tree_output(tm, space)
            except TreeNotSupportedError:
                continue
            return space
    try:
        from ..closed_form.linear import linear_coefficients

        linear_coefficients(model, "decision")
        return "decision"
    except Exception:  # noqa: BLE001
        return "auto"


def heldout_sage(
    model: Any,
    X_train: Any,
    X_val: Any,
    y_val: np.ndarray,
    *,
    background_size: int,
    max_rows: int,
    budget: int | str | None,
    seed: int,
) -> Importance:
    """SAGE value of each column of ``X_val`` (at most ``max_rows`` random rows with
    their labels ``y_val``): how much knowing the column lowers the model's held-out loss
    (:func:`shapkit.sage`, loss by model type, ``tol=0.01``), with a background of at
    most ``background_size`` random rows of ``X_train``. In ``mean_abs`` (it can be
    negative: a column that raises the loss); no direction, no per-row loss gains.
    ``budget="auto"``: SAGE's own default."""
    from ..global_importance import sage

    rng = np.random.default_rng(seed)
    n_train, n_val = X_train.shape[0], X_val.shape[0]
    bg = take_rows(X_train, np.sort(rng.choice(n_train, min(n_train, background_size), False)))
    rows = np.sort(rng.choice(n_val, min(n_val, max_rows), replace=False))
    budget = None if budget == "auto" else check_budget(budget)
    values = sage(model, take_rows(X_val, rows), np.asarray(y_val)[rows], background=bg,
                  budget=budget, seed=int(rng.integers(2**31)))  # fmt: skip
    d = X_val.shape[1]
    return Importance(np.asarray(values.values, dtype=float), np.full(d, np.nan),
                      values.method, values.loss, None, rows)  # fmt: skip


def heldout_importance(
    model: Any,
    X_train: Any,
    X_val: Any,
    *,
    classifier: bool,
    output: str | None,
    background_size: int,
    max_rows: int,
    budget: int | str | None,
    seed: int,
    y_val: np.ndarray | None = None,
) -> Importance:
    """Mean |value| of each column of ``X_val`` (at most ``max_rows`` random rows) with a
    background of at most ``background_size`` random rows of ``X_train``; with ``y_val``
    also the per-row first-order loss gains of the columns (:func:`loss_gain`).

    Multi-output explanations: a binary classifier explained per class has values of
    opposite signs for the two classes, so the positive class's values are used; for
    more classes ``|value|`` is summed over the classes (no direction then).
    """
    from ..explainer import Explainer

    rng = np.random.default_rng(seed)
    n_train, n_val = X_train.shape[0], X_val.shape[0]
    bg = take_rows(X_train, np.sort(rng.choice(n_train, min(n_train, background_size), False)))
    rows = np.sort(rng.choice(n_val, min(n_val, max_rows), replace=False))
    X_rows = take_rows(X_val, rows)
    space = choose_output(model, classifier, output)
    d = X_val.shape[1]
    if budget == "auto":
        budget = int(min(1024, max(256, 8 * (d + 1))))
    explainer = Explainer(model, bg, output=space, seed=int(rng.integers(2**31)))
    budget = check_budget(budget)  # another string: the ValueError the Explainer raises
    if explainer.resolved_method(X_rows, budget=budget) == "proxy":
        # refits explain cheap models many times: the proxy's own work (seconds per row)
        # would dominate; the kernel estimator's values rank features as well
        explainer = Explainer(
            model, bg, output=space, method="kernel", seed=int(rng.integers(2**31))
        )
    expl = explainer(X_rows, budget=budget)
    values = np.asarray(expl.values, dtype=float)
    pred = np.asarray(expl.base_values, dtype=float) + values.sum(axis=1)
    model_out = getattr(expl, "predictions", None)  # f(x) itself, when sampled values
    if model_out is not None and np.shape(model_out) == pred.shape:  # don't sum to it
        pred = np.asarray(model_out, dtype=float)
    if values.ndim == 3 and values.shape[2] == 2:
        values = values[:, :, 1]
        pred = pred[:, 1]
    gains = None
    if y_val is not None:
        matched = target_and_loss(model, X_rows, pred, np.asarray(y_val)[rows], classifier)
        if matched is not None:
            gains = loss_gain(values, pred, matched[0], matched[1], first_order=True)
    if values.ndim == 3:
        mean_abs = np.abs(values).sum(axis=2).mean(axis=0)
        direction = np.full(d, np.nan)
    else:
        mean_abs = np.abs(values).mean(axis=0)
        direction = np.full(d, np.nan)
        numeric = [j for j, dtype in enumerate(_column_dtypes(X_rows))
                   if pd.api.types.is_numeric_dtype(dtype)
                   and not pd.api.types.is_bool_dtype(dtype)]  # fmt: skip
        if numeric:
            x = (
                X_rows.iloc[:, numeric].to_numpy(dtype=float, na_value=np.nan)
                if isinstance(X_rows, pd.DataFrame)
                else np.asarray(X_rows[:, numeric], dtype=float)
            )
            direction[numeric] = spearman_columns(x, values[:, numeric])
    return Importance(mean_abs, direction, expl.method, space, gains, rows)


# --- keeping a Pipeline's column lists in step with added / dropped columns -----------


def adapt_columns(
    estimator: Any, keep: list[Any], extra: dict[Any, Any], original: list[Any] | None = None
) -> Any:
    """``estimator`` (unfitted clone) rewired for data whose columns are ``keep`` (a
    subset of the original, by label) followed by the ``extra`` columns (``{new label:
    original label it copies}``).

    A ColumnTransformer (on its own or as a Pipeline's first step) that names its columns
    in lists of labels gets the dropped labels removed and each probe label added next
    to the label it copies, so probes are encoded like the column they copy. Columns
    selected by position (ints, a slice, a boolean mask) are read against ``original``
    (the labels of the data the estimator was configured for) and rewritten as the
    positions of the same columns and probes in the new data. Column selectors given by
    dtype or callables need no change and are left alone.
    """
    from sklearn.base import clone
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline) and estimator.steps:
        name, first = estimator.steps[0]
        new_first = adapt_columns(first, keep, extra, original)
        if new_first is first:
            return estimator
        steps = [(name, new_first)] + list(estimator.steps[1:])
        return estimator.set_params(steps=steps)
    if not isinstance(estimator, ColumnTransformer):
        return estimator
    keep_set = set(keep)
    new_columns = [*keep, *extra]
    changed = False
    transformers = []
    for tname, trans, cols in estimator.transformers:
        by_position = original is not None and _positional(cols, len(original))
        if by_position:
            assert original is not None  # by_position implies it
            labels = [original[j] for j in np.arange(len(original))[_as_index(cols)]]
        elif isinstance(cols, (list, tuple, np.ndarray, pd.Index)) and all(
            isinstance(c, str) for c in cols
        ):
            labels = list(cols)
        else:  # a single label, a dtype selector or a callable: left as it is
            transformers.append((tname, trans, cols))
            continue
        new_labels = [c for c in labels if c in keep_set]
        new_labels += [probe for probe, source in extra.items() if source in labels]
        new_cols: Any = [new_columns.index(c) for c in new_labels] if by_position else new_labels
        if new_labels != labels or by_position and list(new_cols) != list(_as_list(cols)):
            changed = True
        if not new_cols:
            trans, new_cols = "drop", []
        transformers.append((tname, trans, new_cols))
    if not changed:
        return estimator
    new = clone(estimator)
    new.set_params(transformers=transformers)
    return new


def _positional(cols: Any, n_columns: int) -> bool:
    """Whether a ColumnTransformer column selection is by position: an int, a slice, a
    list or array of ints, or a boolean mask of the columns."""
    if isinstance(cols, slice):
        return cols.start is None or isinstance(cols.start, (int, np.integer))
    if isinstance(cols, (int, np.integer)) and not isinstance(cols, (bool, np.bool_)):
        return True
    if not isinstance(cols, (list, tuple, np.ndarray, pd.Index)) or len(cols) == 0:
        return False
    array = np.asarray(cols)
    if array.dtype == bool:
        return array.shape == (n_columns,)
    return array.dtype.kind in "iu"


def _as_index(cols: Any) -> Any:
    """A positional selection as a numpy index (1-D for a single int)."""
    if isinstance(cols, slice):
        return cols
    return np.atleast_1d(np.asarray(cols))


def _as_list(cols: Any) -> list[Any]:
    return [cols] if isinstance(cols, (int, np.integer)) else list(np.atleast_1d(cols))
