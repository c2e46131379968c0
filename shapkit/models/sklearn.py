"""Adapter for scikit-learn estimators and Pipelines (and sklearn-API models)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._labels import label_positions, preview
from ..exceptions import ModelOutputError
from .base import as_matrix

#: Probabilities are clipped to [eps, 1 - eps] before taking log-odds, so a model that
#: is certain gives large finite log-odds (about +-34.5) instead of infinities.
LOG_ODDS_EPS = 1e-15

CLASSIFIER_OUTPUTS = ("auto", "probability", "log_odds", "decision")
REGRESSOR_OUTPUTS = ("auto", "raw")
#: Outlier detectors (IsolationForest, OneClassSVM, LocalOutlierFactor(novelty=True)):
#: "auto"/"raw" explain ``predict`` (the +1/-1 inlier/outlier labels), "decision" the
#: continuous ``decision_function`` (negative for outliers).
OUTLIER_OUTPUTS = ("auto", "raw", "decision")


def check_fitted(model: Any) -> None:
    """Raise a ValueError saying to call ``fit`` when a scikit-learn model is not fitted.

    Objects that are not scikit-learn estimators (no ``BaseEstimator`` in their class
    tree) pass: scikit-learn cannot tell whether they are fitted.
    """
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if not isinstance(model, BaseEstimator):
        return  # scikit-learn cannot tell for objects outside its class tree
    try:
        check_is_fitted(model)
    except NotFittedError as exc:
        name = type(model).__name__
        raise ValueError(
            f"The model {name} is not fitted; call .fit(X, y) first. scikit-learn calls "
            f"an estimator fitted when it has an attribute ending in '_' (set by fit); a "
            f"stateless estimator whose fit sets none should define "
            f"__sklearn_is_fitted__(self) returning True."
        ) from exc
    except TypeError:
        pass


def is_sklearn_model(obj: Any) -> bool:
    """True for scikit-learn estimators (``BaseEstimator`` subclasses: scikit-learn's
    own, Pipelines, XGBoost's and LightGBM's wrappers) with a prediction method, and for
    other classifiers that follow its API (``fit``, ``predict_proba``, ``classes_``).

    Other objects with ``fit``/``predict`` go to the callable adapter: scikit-learn's
    tag machinery (``is_classifier``, ``check_is_fitted``) fails on them."""
    from sklearn.base import BaseEstimator

    predicts = any(hasattr(obj, m) for m in ("predict", "predict_proba", "decision_function"))
    if isinstance(obj, BaseEstimator):
        return hasattr(obj, "fit") and predicts
    return all(hasattr(obj, m) for m in ("fit", "predict_proba", "classes_"))


def is_outlier_model(estimator: Any) -> bool:
    """scikit-learn's ``is_outlier_detector`` (False where its tags cannot be read)."""
    from sklearn.base import BaseEstimator, is_outlier_detector

    if not isinstance(estimator, BaseEstimator):
        return False
    try:
        return bool(is_outlier_detector(estimator))
    except (AttributeError, TypeError):
        return False


def is_classifier_model(estimator: Any) -> bool:
    """scikit-learn's ``is_classifier``, or for objects its tags cannot read, whether
    the estimator has ``predict_proba`` and ``classes_``."""
    from sklearn.base import BaseEstimator, is_classifier

    if isinstance(estimator, BaseEstimator):
        try:
            if is_classifier(estimator):
                return True
        except (AttributeError, TypeError):
            pass
    return hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_")


def describe_model(model: Any) -> str:
    """The model's class name, with the steps of a Pipeline and the transformers of a
    ColumnTransformer spelled out (``"passthrough"`` and ``"drop"`` as such); what the
    reports show in their "Model" row.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.linear_model import LogisticRegression
    >>> describe_model(make_pipeline(StandardScaler(), LogisticRegression()))
    'Pipeline(StandardScaler -> LogisticRegression)'
    """
    if isinstance(model, str):
        return model
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and all(isinstance(s, tuple) and len(s) == 2 for s in steps):
        shown = [describe_model(step) for _, step in steps if step is not None]
        return f"{type(model).__name__}({' -> '.join(shown)})"
    transformers = getattr(model, "transformers", None)
    if isinstance(transformers, list) and all(
        isinstance(t, tuple) and len(t) >= 2 for t in transformers
    ):
        shown = [f"{t[0]}: {describe_model(t[1])}" for t in transformers]
        remainder = getattr(model, "remainder", "drop")
        if remainder != "drop":
            shown.append(f"remainder: {describe_model(remainder)}")
        return f"{type(model).__name__}({', '.join(shown)})"
    return type(model).__name__


class SklearnModel:
    """Calls a scikit-learn estimator or Pipeline in the requested output space.

    Classifiers give ``predict_proba`` for every class (``output="probability"``, the
    default), per-class log-odds ``log(p / (1 - p))`` (``"log_odds"``), or
    ``decision_function`` (``"decision"``); outputs are named by ``classes_``.
    Regressors give ``predict``. Outlier detectors give ``predict`` (their +1/-1
    inlier/outlier labels) for ``output="auto"``/``"raw"``, and ``decision_function``
    (one continuous score, negative for outliers; usually the more telling output) for
    ``output="decision"``.

    A ``predict_proba`` or ``decision_function`` that returns a DataFrame whose columns
    are the classes has its columns matched to ``classes_`` by label, whatever their
    order; columns that are not the classes raise :class:`~shapkit.ModelOutputError`.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> model = SklearnModel(LogisticRegression(max_iter=500).fit(X, y))
    >>> model.predict(X[:2]).shape, model.output_names
    ((2, 3), [0, 1, 2])
    """

    def __init__(self, estimator: Any, output: str = "auto") -> None:
        check_fitted(estimator)
        self.estimator = estimator
        self.is_classifier = is_classifier_model(estimator)
        self.is_outlier_detector = not self.is_classifier and is_outlier_model(estimator)
        allowed: tuple[str, ...]
        if self.is_classifier:
            allowed, kind = CLASSIFIER_OUTPUTS, "classifier"
        elif self.is_outlier_detector:
            allowed, kind = OUTLIER_OUTPUTS, "outlier detector"
        else:
            allowed, kind = REGRESSOR_OUTPUTS, "regressor"
        if output not in allowed:
            hint = (
                " ('auto'/'raw' explain predict, its +1/-1 inlier/outlier labels; 'decision' "
                "its decision_function, a continuous score that is negative for outliers)"
                if self.is_outlier_detector
                else ""
            )
            raise ValueError(
                f"Unknown output={output!r} for the {kind} {type(estimator).__name__}; "
                f"choose one of {list(allowed)}{hint}."
            )
        if self.is_classifier:
            self.output = "probability" if output == "auto" else output
        elif self.is_outlier_detector and output == "decision":
            self.output = "decision"
        else:
            self.output = "raw"
        if self.output in ("probability", "log_odds") and not hasattr(estimator, "predict_proba"):
            raise ValueError(
                f"{type(estimator).__name__} has no predict_proba; use output='decision'."
            )
        if self.output == "decision" and not hasattr(estimator, "decision_function"):
            raise ValueError(
                f"{type(estimator).__name__} has no decision_function; "
                f"use output='probability' or 'log_odds'."
            )
        # the classes as they are (numpy scalars as Python ones): ints stay ints
        classes = [
            c.item() if isinstance(c, np.generic) else c for c in getattr(estimator, "classes_", [])
        ]
        self.output_names: list[Any] = []
        self.classes = classes
        if self.is_classifier:
            if self.output == "decision" and len(classes) == 2:
                self.output_names = [classes[1]]
            else:
                self.output_names = classes
        elif self.output == "decision":
            self.output_names = ["decision"]

    def _per_class(self, raw: Any, source: str) -> Any:
        """``raw`` with a DataFrame's columns put in ``classes_`` order by label; raw
        unchanged when it has no column labels, or default positional ones."""
        columns = getattr(raw, "columns", None)
        classes = self.classes
        if columns is None or not self.is_classifier or len(classes) < 2:
            return raw
        if len(columns) != len(classes):
            return raw  # as_matrix names the width problem
        labels = list(columns)
        order = [label_positions(labels, c) for c in classes]
        if all(len(found) == 1 for found in order):
            return raw.iloc[:, [found[0] for found in order]]
        if isinstance(columns, pd.RangeIndex) and labels == list(range(len(labels))):
            return raw  # positional columns (a DataFrame built from an array)
        raise ModelOutputError(
            f"{source} returned a DataFrame with the columns {preview(labels)}, which are "
            f"not its classes_ {preview(classes)}; shapkit cannot tell which column is "
            f"which class. Return the classes as column labels (any order), or an array "
            f"with the columns in classes_ order."
        )

    def predict(self, data: Any) -> np.ndarray:
        est = self.estimator
        source = f"{type(est).__name__}"
        n = len(data)
        if self.output in ("probability", "log_odds"):
            where = f"{source}.predict_proba"
            out = as_matrix(self._per_class(est.predict_proba(data), where), n, where)
            if self.output == "log_odds":
                p = np.clip(out, LOG_ODDS_EPS, 1 - LOG_ODDS_EPS)
                out = np.log(p) - np.log1p(-p)
        elif self.output == "decision":
            where = f"{source}.decision_function"
            out = as_matrix(self._per_class(est.decision_function(data), where), n, where)
        else:
            out = as_matrix(est.predict(data), n, f"{source}.predict")
        if not self.output_names:
            k = out.shape[1]
            self.output_names = ["prediction"] if k == 1 else [f"output_{c}" for c in range(k)]
        return out
