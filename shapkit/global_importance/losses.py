"""Losses of a model's predictions against targets, one value per row, for SAGE."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._labels import plain

#: The loss names ``sage(loss=...)`` takes besides a callable.
LOSSES = ("mse", "cross_entropy", "zero_one")
#: Probabilities are clipped to this before the log of cross-entropy.
PROBABILITY_FLOOR = 1e-12


@dataclass(frozen=True)
class Loss:
    """A per-row loss ``fn(target, prediction (n, k)) -> (n,)`` and the model output it
    reads (``"probability"`` for cross-entropy and zero-one on classifiers, else
    ``"auto"``); ``target`` is the encoded y (class positions for classifiers)."""

    name: str
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray]
    output: str
    target: np.ndarray


def squared_error(target: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """``(prediction - target)^2`` per row (one output).

    Examples
    --------
    >>> squared_error(np.array([1.0, 2.0]), np.array([[1.5], [0.0]])).tolist()
    [0.25, 4.0]
    """
    return (prediction[:, 0] - target) ** 2


def cross_entropy(target: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """``-log p[target]`` per row, probabilities clipped at :data:`PROBABILITY_FLOOR`.

    Examples
    --------
    >>> cross_entropy(np.array([1, 0]), np.array([[0.5, 0.5], [0.9, 0.1]])).round(4).tolist()
    [0.6931, 0.1054]
    """
    chosen = prediction[np.arange(prediction.shape[0]), target]
    return -np.log(np.maximum(chosen, PROBABILITY_FLOOR)) + 0.0


def zero_one(target: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """1 where the most probable class is not the target, else 0.

    Examples
    --------
    >>> zero_one(np.array([1, 0]), np.array([[0.2, 0.8], [0.3, 0.7]])).tolist()
    [0.0, 1.0]
    """
    return (np.argmax(prediction, axis=1) != target).astype(np.float64)


def _callable_loss(fn: Callable[..., Any]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def per_row(target: np.ndarray, prediction: np.ndarray) -> np.ndarray:
        pred = prediction[:, 0] if prediction.shape[1] == 1 else prediction
        out = np.asarray(fn(target, pred), dtype=np.float64)
        if out.shape != (prediction.shape[0],):
            raise ValueError(
                f"loss(y_true, prediction) returned shape {out.shape} for "
                f"{prediction.shape[0]} rows; it must return one loss per row, shape "
                f"({prediction.shape[0]},) (no mean over the rows)."
            )
        if not np.all(np.isfinite(out)):
            raise ValueError("loss(y_true, prediction) returned NaN or infinity.")
        return out

    return per_row


def is_classifier(model: Any) -> bool:
    """A scikit-learn classifier (or Pipeline ending in one): it has ``classes_`` and
    ``predict_proba``, or says so in its estimator type."""
    from sklearn.base import is_classifier as sk_is_classifier

    try:
        if sk_is_classifier(model):
            return True
    except Exception:  # noqa: BLE001 - objects scikit-learn cannot inspect
        pass
    return hasattr(model, "classes_") and hasattr(model, "predict_proba")


def resolve_loss(loss: Any, model: Any, y: Any, n_rows: int) -> Loss:
    """The :class:`Loss` for ``loss`` ("auto", a name of :data:`LOSSES` or a callable)
    and ``model``, with ``y`` checked and encoded.

    Raises
    ------
    ValueError
        y of the wrong length, with NaN, labels the classifier does not know, an unknown
        loss name, or a loss that needs a classifier's probabilities for a model without
        ``predict_proba``.
    """
    y_arr = np.asarray(y)
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        y_arr = y_arr[:, 0]
    if y_arr.ndim != 1:
        raise ValueError(
            f"y must be one target per row of X, shape ({n_rows},); got {y_arr.shape}."
        )
    if y_arr.shape[0] != n_rows:
        raise ValueError(
            f"y has {y_arr.shape[0]} values but X has {n_rows} rows; pass one target per row."
        )
    if y_arr.dtype.kind in "fc" and not np.all(np.isfinite(y_arr)):
        raise ValueError("y contains NaN or infinity; drop those rows of X and y first.")
    if y_arr.dtype.kind not in "biufc" and bool(pd.isna(y_arr).any()):
        raise ValueError("y contains missing values; drop those rows of X and y first.")
    classifier = is_classifier(model)
    if callable(loss) and not isinstance(loss, str):
        return Loss(getattr(loss, "__name__", "loss"), _callable_loss(loss),
                    "probability" if classifier else "auto", y_arr)  # fmt: skip
    if loss == "auto":
        loss = "cross_entropy" if classifier else "mse"
    if loss not in LOSSES:
        raise ValueError(
            f"Unknown loss={loss!r}; choose 'auto', one of {list(LOSSES)}, or pass a "
            f"callable loss(y_true, prediction) -> one loss per row."
        )
    if loss == "mse":
        if y_arr.dtype.kind not in "biuf":
            raise ValueError(
                f"loss='mse' needs a numeric y; got dtype {y_arr.dtype}. For class labels "
                f"use loss='cross_entropy' or 'zero_one' with a classifier."
            )
        return Loss("mse", squared_error, "auto", y_arr.astype(np.float64))
    fn = cross_entropy if loss == "cross_entropy" else zero_one
    output = "probability" if classifier else "auto"
    return Loss(loss, fn, output, _class_positions(model, y_arr, loss))


def _class_positions(model: Any, y: np.ndarray, loss: str) -> np.ndarray:
    """y as positions in the model's ``classes_`` (or as given, for integer labels
    0..k-1 of a callable that returns class probabilities)."""
    classes = getattr(model, "classes_", None)
    if classes is None:
        if not callable(model) or hasattr(model, "predict"):
            raise ValueError(
                f"loss={loss!r} needs class probabilities, but {type(model).__name__} has "
                f"no classes_ / predict_proba; use loss='mse' for a regressor, or pass a "
                f"classifier."
            )
        if y.dtype.kind not in "iu" or (y.size and y.min() < 0):
            raise ValueError(
                f"loss={loss!r} with a callable model needs y as class positions 0..k-1 "
                f"(the columns of its probabilities); got dtype {y.dtype}."
            )
        return y.astype(np.int64)
    if not hasattr(model, "predict_proba"):
        raise ValueError(
            f"loss={loss!r} needs predict_proba, which {type(model).__name__} lacks; use "
            f"loss='zero_one' with a callable returning one-hot predictions, or a "
            f"callable loss."
        )
    position = {plain(c): i for i, c in enumerate(np.asarray(classes).tolist())}
    positions = np.array([position.get(plain(v), -1) for v in y], dtype=np.int64)
    unknown = positions < 0
    classes = np.asarray(classes)
    if np.any(unknown):
        raise ValueError(
            f"y holds labels the model was not fitted on, e.g. {plain(y[unknown][0])!r}; its "
            f"classes_ are {classes.tolist()}."
        )
    return positions


def check_prediction(loss: Loss, prediction: np.ndarray) -> None:
    """Raise a ValueError when the model's outputs do not fit the loss (checked once,
    on the first predictions)."""
    k = prediction.shape[1]
    if loss.name == "mse" and k != 1:
        raise ValueError(
            f"loss='mse' needs one model output per row; the model returns {k}. For a "
            f"classifier use loss='cross_entropy' or 'zero_one'."
        )
    if loss.name in ("cross_entropy", "zero_one"):
        if k < 2:
            raise ValueError(
                f"loss={loss.name!r} needs one probability per class (at least 2 outputs); "
                f"the model returns 1 per row. Return both classes' probabilities, e.g. "
                f"np.column_stack([1 - p, p]), or use a callable loss."
            )
        if int(loss.target.max(initial=0)) >= k:
            raise ValueError(
                f"loss={loss.name!r}: y has class position {int(loss.target.max())} but the "
                f"model returns {k} outputs per row."
            )
        if loss.name == "cross_entropy" and (
            np.any(prediction < -1e-9) or not np.allclose(prediction.sum(axis=1), 1.0, atol=1e-6)
        ):
            raise ValueError(
                "loss='cross_entropy' needs class probabilities (non-negative, summing to 1 "
                "per row); the model's outputs are not. Pass a model whose outputs are "
                "probabilities, or a callable loss."
            )
