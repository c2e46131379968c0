"""Adapter for scikit-learn estimators and Pipelines (and sklearn-API models)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import as_matrix

#: Probabilities are clipped to [eps, 1 - eps] before taking log-odds, so a model that
#: is certain gives large finite log-odds (about +-34.5) instead of infinities.
LOG_ODDS_EPS = 1e-15

CLASSIFIER_OUTPUTS = ("auto", "probability", "log_odds", "decision")
REGRESSOR_OUTPUTS = ("auto", "raw")


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
        raise ValueError(
            f"The model {type(model).__name__} is not fitted; call .fit(X, y) first."
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


class SklearnModel:
    """Calls a scikit-learn estimator or Pipeline in the requested output space.

    Classifiers give ``predict_proba`` for every class (``output="probability"``, the
    default), per-class log-odds ``log(p / (1 - p))`` (``"log_odds"``), or
    ``decision_function`` (``"decision"``); outputs are named by ``classes_``.
    Regressors give ``predict``.

    Example
    -------
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
        allowed = CLASSIFIER_OUTPUTS if self.is_classifier else REGRESSOR_OUTPUTS
        if output not in allowed:
            kind = "classifier" if self.is_classifier else "regressor"
            raise ValueError(
                f"Unknown output={output!r} for the {kind} {type(estimator).__name__}; "
                f"choose one of {list(allowed)}."
            )
        if self.is_classifier:
            self.output = "probability" if output == "auto" else output
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
        if self.is_classifier:
            if self.output == "decision" and len(classes) == 2:
                self.output_names = [classes[1]]
            else:
                self.output_names = classes

    def predict(self, data: Any) -> np.ndarray:
        est = self.estimator
        source = f"{type(est).__name__}"
        if self.output == "probability":
            out = as_matrix(est.predict_proba(data), len(data), f"{source}.predict_proba")
        elif self.output == "log_odds":
            p = np.clip(
                as_matrix(est.predict_proba(data), len(data), f"{source}.predict_proba"),
                LOG_ODDS_EPS,
                1 - LOG_ODDS_EPS,
            )
            out = np.log(p) - np.log1p(-p)
        elif self.output == "decision":
            out = as_matrix(est.decision_function(data), len(data), f"{source}.decision_function")
        else:
            out = as_matrix(est.predict(data), len(data), f"{source}.predict")
        if not self.output_names:
            k = out.shape[1]
            self.output_names = ["prediction"] if k == 1 else [f"output_{c}" for c in range(k)]
        return out
