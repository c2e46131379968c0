"""Held-out Shapley importance of a fitted model, and column bookkeeping for refits on
other column sets (probe columns added, features dropped)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..reports.summary import spearman


@dataclass
class Importance:
    """Mean |Shapley value| of each column over the explained rows, and the Spearman
    correlation of each numeric column with its Shapley value (NaN otherwise)."""

    mean_abs: np.ndarray
    direction: np.ndarray
    method: str
    output: str


def take_rows(X: Any, rows: np.ndarray) -> Any:
    return X.iloc[rows] if isinstance(X, pd.DataFrame) else X[rows]


def take_columns(X: Any, columns: np.ndarray | list[int]) -> Any:
    columns = list(columns)
    return X.iloc[:, columns] if isinstance(X, pd.DataFrame) else X[:, columns]


def column_labels(X: Any) -> list[Any]:
    if isinstance(X, pd.DataFrame):
        return list(X.columns)
    return list(range(X.shape[1]))


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
    from ..estimators.tree import tree_model_for

    if tree_model_for(model, "auto", "auto") is not None:
        return "auto"
    try:
        if tree_model_for(model, "decision", "auto") is not None:
            return "decision"
    except Exception:  # noqa: BLE001 - any reader failure means: no closed form
        pass
    try:
        from ..estimators.linear import linear_coefficients

        linear_coefficients(model, "decision")
        return "decision"
    except Exception:  # noqa: BLE001
        return "auto"


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
) -> Importance:
    """Mean |value| of each column of ``X_val`` (at most ``max_rows`` random rows) with a
    background of at most ``background_size`` random rows of ``X_train``.

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
    expl = explainer(X_rows, budget=budget)
    values = np.asarray(expl.values, dtype=float)
    if values.ndim == 3 and values.shape[2] == 2:
        values = values[:, :, 1]
    if values.ndim == 3:
        mean_abs = np.abs(values).sum(axis=2).mean(axis=0)
        direction = np.full(d, np.nan)
    else:
        mean_abs = np.abs(values).mean(axis=0)
        direction = np.full(d, np.nan)
        for j in range(d):
            col = X_rows.iloc[:, j] if isinstance(X_rows, pd.DataFrame) else X_rows[:, j]
            dtype = getattr(col, "dtype", None)
            if dtype is None or not (
                pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
            ):
                continue
            x = (
                col.to_numpy(dtype=float, na_value=np.nan)
                if isinstance(col, pd.Series)
                else np.asarray(col, dtype=float)
            )
            direction[j] = spearman(x, values[:, j])
    return Importance(mean_abs, direction, expl.method, space)


# --- keeping a Pipeline's column lists in step with added / dropped columns -----------


def adapt_columns(estimator: Any, keep: list[Any], extra: dict[Any, Any]) -> Any:
    """``estimator`` (unfitted clone) rewired for data whose columns are ``keep`` (a
    subset of the original, by label) followed by the ``extra`` columns (``{new label:
    original label it copies}``).

    A ColumnTransformer (on its own or as a Pipeline's first step) that names its columns
    in lists of labels gets the dropped labels removed and each probe label added next
    to the label it copies, so probes are encoded like the column they copy. Column
    selectors given by dtype or callables need no change and are left alone.
    """
    from sklearn.base import clone
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline) and estimator.steps:
        name, first = estimator.steps[0]
        new_first = adapt_columns(first, keep, extra)
        if new_first is first:
            return estimator
        steps = [(name, new_first)] + list(estimator.steps[1:])
        return estimator.set_params(steps=steps)
    if not isinstance(estimator, ColumnTransformer):
        return estimator
    keep_set = set(keep)
    changed = False
    transformers = []
    for tname, trans, cols in estimator.transformers:
        if isinstance(cols, (list, tuple, np.ndarray, pd.Index)) and all(
            isinstance(c, str) for c in cols
        ):
            new_cols = [c for c in cols if c in keep_set]
            for probe, source in extra.items():
                if source in cols:
                    new_cols.append(probe)
            if list(new_cols) != list(cols):
                changed = True
            if not new_cols:
                trans = "drop"
                new_cols = []
            transformers.append((tname, trans, new_cols))
        elif isinstance(cols, str) and cols in keep_set | set(extra.values()):
            # a single label: a 1-D selection that a probe cannot join; keep it as it is
            transformers.append((tname, trans, cols))
        else:
            transformers.append((tname, trans, cols))
    if not changed:
        return estimator
    new = clone(estimator)
    new.set_params(transformers=transformers)
    return new
